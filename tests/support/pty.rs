//! A program in a pseudo-terminal, its screen kept up to date by a reader thread: keys in,
//! screen text out.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

pub struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Pty {
    /// Runs `cmd` on a `rows` × `cols` terminal (TERM is set to xterm-256color).
    pub fn spawn(mut cmd: CommandBuilder, rows: u16, cols: u16) -> Pty {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        cmd.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(cmd).expect("spawn in the pty");
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    return;
                }
                if let Ok(mut p) = sink.lock() {
                    p.process(&buf[..n]);
                }
            }
        });
        Pty {
            screen,
            writer,
            child,
        }
    }

    pub fn text(&self) -> String {
        self.screen
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }

    /// The screen once `cond` holds for it; fails the test with the screen after `limit`.
    pub fn wait_for(&self, limit: Duration, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.text();
            if cond(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the box whose top border begins with `title` holds inside its border; `None`
    /// while no such box is on screen.
    pub fn pane(&self, title: &str) -> Option<String> {
        let p = self.screen.lock().ok()?;
        let screen = p.screen();
        let (rows, cols) = screen.size();
        let at = |r: u16, c: u16| {
            screen
                .cell(r, c)
                .map(|cell| cell.contents().to_string())
                .unwrap_or_default()
        };
        let line = |r: u16, from: u16, to: u16| (from..to).map(|c| at(r, c)).collect::<String>();
        let heading = format!(" {title}");
        for r in 0..rows {
            for c in 0..cols {
                if !matches!(at(r, c).as_str(), "╭" | "┏")
                    || !line(r, c + 1, cols).starts_with(&heading)
                {
                    continue;
                }
                let Some(right) = (c + 1..cols).find(|&x| matches!(at(r, x).as_str(), "╮" | "┓"))
                else {
                    continue;
                };
                let inside = (r + 1..rows)
                    .take_while(|&y| matches!(at(y, c).as_str(), "│" | "┃"))
                    .map(|y| line(y, c + 1, right))
                    .collect::<Vec<_>>();
                return Some(inside.join("\n"));
            }
        }
        None
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(150));
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
