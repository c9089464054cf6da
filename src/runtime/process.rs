//! What the OS knows about local processes: liveness, SIGSTOP state, and which processes
//! belong to a cluster folder (for sweeping what a crashed run left behind).

use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cluster::status::ProcState;

/// The state of a live process, or `None` when there is none with that pid.
pub fn pid_state(pid: i32) -> Option<ProcState> {
    let pid_t = Pid::from_raw(pid);
    if pid <= 0 || kill(pid_t, None).is_err() {
        return None;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name, which may contain spaces.
        Ok(stat) => match stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
        {
            Some('T') | Some('t') => Some(ProcState::Paused),
            Some('Z') | Some('X') => None,
            _ => Some(ProcState::Running),
        },
        Err(_) => ps_state(pid),
    }
}

/// Without /proc (macOS), ask ps.
fn ps_state(pid: i32) -> Option<ProcState> {
    let out = std::process::Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let stat = String::from_utf8_lossy(&out.stdout);
    match stat.trim().chars().next()? {
        'T' => Some(ProcState::Paused),
        'Z' => None,
        _ => Some(ProcState::Running),
    }
}

/// Whether any process, a zombie included, still holds `pid`. PostgreSQL refuses to start
/// while the pid in its lock file exists, so after a kill this is what to wait for.
pub fn pid_exists(pid: i32) -> bool {
    pid > 0 && kill(Pid::from_raw(pid), None).is_ok()
}

/// Waits up to `limit` for `pid` to be gone entirely; returns whether it is.
pub async fn wait_gone(pid: i32, limit: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while pid_exists(pid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    true
}

/// The pid `postmaster.pid` names, alive or not.
pub fn recorded_postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// The postmaster's pid from `postmaster.pid`, if that file exists and names a live process.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    recorded_postmaster_pid(data_dir).filter(|pid| pid_state(*pid).is_some())
}

/// Sends `signal` to a server and every process it forked. PostgreSQL's children each start
/// a session of their own, so a process-group signal would reach the postmaster alone; a
/// container-like kill or freeze has to reach them all.
pub fn signal_tree(pid: i32, signal: Signal) -> nix::Result<()> {
    // Listed first: once the parent dies its children belong to someone else.
    let kids = children(pid);
    let result = kill(Pid::from_raw(pid), signal);
    for child in kids {
        let _ = kill(Pid::from_raw(child), signal);
    }
    result
}

/// Direct children of `pid`, from /proc, or from `pgrep -P` where there is no /proc.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        let out = std::process::Command::new("pgrep")
            .args(["-P", &pid.to_string()])
            .output();
        return out
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|child| parent_of(*child) == Some(pid))
        .collect()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name: state, ppid, …
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Pids of processes whose command line mentions `dir` or whose working directory lies
/// inside it: servers started from a cluster folder, also after their parent died.
pub fn processes_under(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            cmdline.contains(&needle) || cwd.starts_with(dir)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_stopped_and_missing_processes_are_told_apart() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        assert_eq!(pid_state(pid), Some(ProcState::Running));
        kill(Pid::from_raw(pid), Signal::SIGSTOP).expect("stop");
        // The state changes asynchronously; wait for the kernel to report it.
        let mut seen = None;
        for _ in 0..100 {
            seen = pid_state(pid);
            if seen == Some(ProcState::Paused) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(seen, Some(ProcState::Paused));
        kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill");
        child.wait().expect("reap");
        assert_eq!(pid_state(pid), None);
        assert_eq!(pid_state(-1), None);
    }

    #[test]
    fn children_are_found_by_parent() {
        let mut parent = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .expect("spawn sh");
        let pid = parent.id() as i32;
        let mut kids = Vec::new();
        for _ in 0..200 {
            kids = children(pid);
            if kids.len() == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(kids.len(), 2, "{kids:?}");
        signal_tree(pid, Signal::SIGKILL).expect("kill tree");
        parent.wait().expect("reap");
        for _ in 0..200 {
            if kids.iter().all(|k| pid_state(*k).is_none()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            kids.iter().all(|k| pid_state(*k).is_none()),
            "children survived"
        );
    }

    #[test]
    fn a_stale_pid_file_is_no_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(postmaster_pid(dir.path()), None);
        std::fs::write(dir.path().join("postmaster.pid"), "999999999\n/x\n").expect("write");
        assert_eq!(postmaster_pid(dir.path()), None);
        std::fs::write(dir.path().join("postmaster.pid"), "garbage").expect("write");
        assert_eq!(postmaster_pid(dir.path()), None);
    }
}
