//! The expiry thread: sweeps the tracker every interval, off the packet
//! path (as OVS's `ct_clean` thread).
//!
//! The clock is a closure so that the thread uses the datapath's own
//! millisecond clock (the one packets are stamped with). Stopping sets a
//! flag and unparks the thread, so `stop` returns within one sweep, never
//! a whole interval.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Conntrack;

/// How often the expiry thread sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

pub struct Sweeper {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Sweeper {
    /// Starts a thread that calls `ct.sweep(clock())` every `interval`.
    pub fn spawn(
        ct: Arc<Conntrack>,
        clock: impl Fn() -> u64 + Send + 'static,
        interval: Duration,
    ) -> std::io::Result<Sweeper> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("ct_clean".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    let n = ct.sweep(clock());
                    if n > 0 {
                        tracing::debug!(expired = n, "conntrack sweep");
                    }
                    std::thread::park_timeout(interval);
                }
            })?;
        Ok(Sweeper {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::frame::Pkt;
    use crate::conntrack::CtAction;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn thread_sweeps_on_its_clock_and_stops() {
        let ct = Arc::new(Conntrack::with_basis(1));
        let mut p = crate::packet::DpPacket::from_bytes(&Pkt::udp4(1, 2, 3, 4).emit());
        let mut k = crate::flow::FlowKey::default();
        crate::flow::extract(&mut p, &mut k);
        let a = CtAction {
            commit: true,
            ..CtAction::default()
        };
        ct.execute(&mut p, true, false, &a, 0, &mut crate::random::Rng::new(1));
        assert_eq!(ct.n_conns(), 1);
        let clock = Arc::new(AtomicU64::new(0));
        let c2 = clock.clone();
        let s = Sweeper::spawn(
            ct.clone(),
            move || c2.load(Ordering::Relaxed),
            Duration::from_millis(5),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(ct.n_conns(), 1, "not expired at t=0");
        clock.store(60_000, Ordering::Relaxed);
        let t0 = std::time::Instant::now();
        while ct.n_conns() != 0 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(ct.n_conns(), 0);
        drop(s);
    }
}
