//! Image pull progress on stderr for the headless commands.

use std::sync::Arc;

use super::out;
use crate::runtime::docker::engine::{PullProgress, PullReporter};

/// A progress bar on stderr: redrawn in place on a terminal, a line per finished layer
/// elsewhere (logs, CI).
pub fn pull_bar() -> Arc<PullReporter> {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let last_done = std::sync::Mutex::new(usize::MAX);
    Arc::new(move |p: &PullProgress| {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let line = format!(
            "pulling {} {} {}/{} layers {:.1}/{:.1} MiB",
            p.image,
            bar(p.bytes_done, p.bytes_total.max(1), 20),
            p.layers_done,
            p.layers,
            mib(p.bytes_done),
            mib(p.bytes_total)
        );
        if tty {
            out::err_text(&format!("\r  {line}\x1b[K"));
            if p.layers > 0 && p.layers_done == p.layers {
                out::err_text("\n");
            }
        } else if let Ok(mut last) = last_done.lock() {
            if *last != p.layers_done {
                *last = p.layers_done;
                out::errln!("  {line}");
            }
        }
    })
}

fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = usize::try_from(done.min(total) * width as u64 / total).unwrap_or(width);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_progress() {
        assert_eq!(bar(0, 100, 10), "[..........]");
        assert_eq!(bar(50, 100, 10), "[#####.....]");
        assert_eq!(bar(200, 100, 10), "[##########]");
    }
}
