//! Run-time switches of the revalidator that operators set through
//! unixctl: `revalidator/pause` / `revalidator/resume`, and
//! `upcall/disable-ufid` / `upcall/enable-ufid`.
//!
//! A pause is a flag under a mutex with a condition variable: the
//! revalidation tick checks the flag (and skips the round: no dump, no
//! deletion, no idle expiry, no flow-limit change), and
//! `revalidator/wait` blocks on the condition variable until resumed,
//! then runs its round, as OVS's waits for the next dump that the paused
//! revalidators do not make. Pausing twice or resuming a running
//! revalidator changes nothing (OVS's main thread would block on its
//! barrier there).
//!
//! The UFID setting only changes what `upcall/show` reports: ferrovs's
//! dump always hands out whole flows from memory, so there is no terse
//! dump to turn off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

#[derive(Debug)]
pub struct RevalControl {
    paused: Mutex<bool>,
    resumed: Condvar,
    ufid: AtomicBool,
}

impl Default for RevalControl {
    fn default() -> Self {
        RevalControl {
            paused: Mutex::new(false),
            resumed: Condvar::new(),
            ufid: AtomicBool::new(true),
        }
    }
}

impl RevalControl {
    pub fn pause(&self) {
        *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    pub fn resume(&self) {
        *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.resumed.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once the revalidator is not paused.
    pub fn wait_resumed(&self) {
        let g = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let _g = self
            .resumed
            .wait_while(g, |paused| *paused)
            .unwrap_or_else(|e| e.into_inner());
    }

    pub fn set_ufid(&self, on: bool) {
        self.ufid.store(on, Ordering::Relaxed);
    }

    pub fn ufid(&self) -> bool {
        self.ufid.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn wait_returns_on_resume() {
        let c = Arc::new(RevalControl::default());
        assert!(!c.is_paused());
        c.wait_resumed();
        c.pause();
        c.pause();
        let c2 = c.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            c2.wait_resumed();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        c.resume();
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
        c.resume();
        assert!(!c.is_paused());
        assert!(c.ufid());
        c.set_ufid(false);
        assert!(!c.ufid());
    }
}
