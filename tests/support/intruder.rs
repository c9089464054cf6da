//! A curious local user: an unprivileged OS account of its own, the PostgreSQL client run as
//! that account, and a bare protocol client that can pick its source address (as any local
//! account may on loopback).
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The account's name: made once, kept between runs (a killed run leaves it too).
pub const NAME: &str = "rl-intruder";

pub struct Intruder {
    pub uid: u32,
    pub gid: u32,
    bindir: std::path::PathBuf,
}

impl Intruder {
    /// The account, made if missing. Needs root.
    pub fn ensure(bindir: &Path) -> Intruder {
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                NAME,
            ])
            .output()
            .expect("run useradd");
        // 9: the account exists already.
        let code = made.status.code();
        assert!(
            code == Some(0) || code == Some(9),
            "useradd {NAME} failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let user = nix::unistd::User::from_name(NAME)
            .expect("look up the account")
            .expect("the account exists");
        Intruder {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            bindir: bindir.to_path_buf(),
        }
    }

    /// `program` as the intruder, with no libpq settings and no password anywhere.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.uid(self.uid)
            .gid(self.gid)
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("PGPASSFILE", "/dev/null")
            .env("PGCONNECT_TIMEOUT", "3");
        c
    }

    /// `psql -w` (never asks for a password) as the intruder: `host` is a socket folder or an
    /// address.
    pub fn psql(&self, host: &str, port: u16, user: &str, db: &str, sql: &str) -> Output {
        self.command(self.bindir.join("psql"))
            .args(["-X", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", host, "-p", &port.to_string(), "-U", user, "-d", db])
            .args(["-c", sql])
            .output()
            .expect("run psql")
    }

    /// Files under `dir` the intruder can open for reading.
    pub fn readable_files(&self, dir: &Path) -> Vec<String> {
        let out = self
            .command("find")
            .arg(dir)
            .args(["-type", "f", "-readable"])
            .output()
            .expect("run find");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }
}

/// A session opened with a bare StartupMessage, as HAProxy's check opens one.
pub struct RawSession {
    stream: TcpStream,
}

const TIMEOUT: Duration = Duration::from_secs(5);

impl RawSession {
    /// Logs in as `user` to `db` at `to`, connecting from `from`; the error is the server's
    /// message, or says it asked for a password.
    pub async fn login(from: IpAddr, to: SocketAddr, user: &str, db: &str) -> Result<Self, String> {
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket
            .bind(SocketAddr::new(from, 0))
            .map_err(|e| format!("bind {from}: {e}"))?;
        let stream = tokio::time::timeout(TIMEOUT, socket.connect(to))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect {to}: {e}"))?;
        let mut s = RawSession { stream };
        let mut body = 196_608u32.to_be_bytes().to_vec();
        for (k, v) in [("user", user), ("database", db)] {
            for part in [k, v] {
                body.extend_from_slice(part.as_bytes());
                body.push(0);
            }
        }
        body.push(0);
        let mut msg = u32::try_from(body.len() + 4)
            .expect("short")
            .to_be_bytes()
            .to_vec();
        msg.extend_from_slice(&body);
        s.write(&msg).await?;
        loop {
            let (tag, body) = s.read_message().await?;
            match tag {
                b'R' if body.get(..4) == Some(&[0, 0, 0, 0]) => {}
                b'R' => return Err("the server asks for a password".into()),
                b'E' => return Err(error_text(&body)),
                b'Z' => return Ok(s),
                _ => {}
            }
        }
    }

    /// Runs `sql`; the error is the server's message.
    pub async fn query(&mut self, sql: &str) -> Result<(), String> {
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&u32::try_from(sql.len() + 5).expect("short").to_be_bytes());
        msg.extend_from_slice(sql.as_bytes());
        msg.push(0);
        self.write(&msg).await?;
        let mut failed = None;
        loop {
            let (tag, body) = self.read_message().await?;
            match tag {
                b'E' => failed = Some(error_text(&body)),
                b'Z' => return failed.map_or(Ok(()), Err),
                _ => {}
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        tokio::time::timeout(TIMEOUT, self.stream.write_all(bytes))
            .await
            .map_err(|_| "write timed out".to_string())?
            .map_err(|e| e.to_string())
    }

    async fn read_message(&mut self) -> Result<(u8, Vec<u8>), String> {
        let read = async {
            let tag = self.stream.read_u8().await?;
            let len = self.stream.read_u32().await?;
            let mut body = vec![0; usize::try_from(len.saturating_sub(4)).unwrap_or(0)];
            self.stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>((tag, body))
        };
        tokio::time::timeout(TIMEOUT, read)
            .await
            .map_err(|_| "no answer within 5 s".to_string())?
            .map_err(|e| format!("connection ended: {e}"))
    }
}

/// The `M` (message) field of an ErrorResponse.
fn error_text(body: &[u8]) -> String {
    body.split(|b| *b == 0)
        .find_map(|f| f.strip_prefix(b"M"))
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_else(|| "an error without a message".into())
}

/// Processes whose command line holds any of `secrets`: pid and command line.
pub fn argv_holding(secrets: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if secrets.iter().any(|s| line.contains(s)) {
            found.push((pid, line));
        }
    }
    found
}

/// Command lines of running processes that contain `word`.
pub fn argv_with(word: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        if let Ok(raw) = std::fs::read(entry.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            if line.contains(word) {
                found.push(line);
            }
        }
    }
    found
}
