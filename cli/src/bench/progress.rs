//! The progress line: the current step and its seconds, rewritten in place
//! twice a second on a terminal (stderr); elsewhere one line per step.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Progress {
    state: Arc<Mutex<Option<(String, Instant)>>>,
    tty: bool,
}

impl Progress {
    pub fn start() -> Progress {
        let tty = std::io::stderr().is_terminal();
        let state: Arc<Mutex<Option<(String, Instant)>>> = Arc::new(Mutex::new(None));
        if tty {
            let s = Arc::downgrade(&state);
            std::thread::spawn(move || {
                while let Some(s) = s.upgrade() {
                    if let Some((step, t)) = s.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                        eprint!("\r\x1b[K{step} {}s", t.elapsed().as_secs());
                        let _ = std::io::stderr().flush();
                    }
                    drop(s);
                    std::thread::sleep(Duration::from_millis(500));
                }
            });
        }
        Progress { state, tty }
    }

    pub fn step(&self, s: impl Into<String>) {
        let s = s.into();
        if !self.tty {
            eprintln!("{s}");
        }
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some((s, Instant::now()));
    }

    /// Clears the line (before printing results).
    pub fn done(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}
