//! `cargo bench --bench render`: what drawing a frame costs.
//!
//! Renders a full frame of the busiest main screen of the UI snapshot tests — 4 nodes with
//! lag history, HAProxy rows, served-by counts, events, a 3-line query, a result holding
//! 10,000 of 1,000,000 rows, and the lesson — at 200×60 into ratatui's `TestBackend`, `FRAMES` times (default 2000), after a
//! warm-up. Frames alternate between two states (the result scrolled by a row and the
//! selected node moved) so every frame has changed cells to diff and write, as a live screen
//! does. Prints mean, median, p99 and worst per frame beside the 2 ms target: wall-clock
//! time, and this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which leaves out the time a busy machine
//! gives to other processes in the middle of a frame.
//!
//! A report, not a test: nothing is asserted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "../tests/fixtures/ui.rs"]
mod fixtures;

use replica_lab::tui::ui::draw;

const TARGET: Duration = Duration::from_millis(2);
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time this thread has used, to the nanosecond.
fn thread_cpu() -> Duration {
    let mut ts = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    if unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

struct Stats {
    mean: Duration,
    median: Duration,
    p99: Duration,
    worst: Duration,
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    let n = times.len().max(1);
    let total: Duration = times.iter().sum();
    let at = |i: usize| times.get(i.min(n - 1)).copied().unwrap_or_default();
    Stats {
        mean: total / u32::try_from(n).unwrap_or(u32::MAX),
        median: at(n / 2),
        p99: at(n * 99 / 100),
        worst: at(n - 1),
    }
}

fn report(what: &str, s: &Stats) {
    let verdict = |d: Duration| if d <= TARGET { "under" } else { "OVER" };
    println!("  {what}");
    for (name, d) in [("mean", s.mean), ("median", s.median), ("p99", s.p99)] {
        println!(
            "    {name:<6} {:7.3} ms   ({} the {} ms target)",
            ms(d),
            verdict(d),
            ms(TARGET)
        );
    }
    println!("    worst  {:7.3} ms", ms(s.worst));
}

fn main() {
    let frames: usize = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // The busiest screen the snapshot tests draw: a 10,000-of-1,000,000-row result.
    let a = fixtures::big_result();
    let mut b = a.clone();
    b.console.output.scroll_row = 1;
    b.dash.selected = 3;
    let states = [a, b];

    let mut term = match Terminal::new(TestBackend::new(200, 60)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("no test terminal: {e}");
            return;
        }
    };
    let mut frame = |i: usize| {
        let state = black_box(&states[i % 2]);
        let cpu = thread_cpu();
        let started = Instant::now();
        let _ = term.draw(|f| draw(f, state));
        (started.elapsed(), thread_cpu().saturating_sub(cpu))
    };
    for i in 0..200 {
        frame(i);
    }
    let (wall, cpu): (Vec<Duration>, Vec<Duration>) = (0..frames).map(&mut frame).unzip();
    println!("render: busy main screen at 200×60, TestBackend, {frames} frames");
    report("wall clock per frame", &stats(wall));
    report("thread CPU time per frame", &stats(cpu));
}
