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
                        let mut e = std::io::stderr().lock();
                        let _ = write!(e, "\r\x1b[K{step} {}s", t.elapsed().as_secs());
                        let _ = e.flush();
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
            // A closed stderr must not stop the bench (nor its cleanup).
            let _ = writeln!(std::io::stderr(), "{s}");
        }
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some((s, Instant::now()));
    }

    /// Clears the line (before printing results).
    pub fn done(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if self.tty {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
