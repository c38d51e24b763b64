//! Receive queues whose empty poll costs a system call ([`RxPace`]).
//!
//! A tap device (a VM port, or an internal port such as a bridge's LOCAL
//! port) shares no ring with the kernel: finding it empty is a `readv`
//! that fails, about the cost of forwarding a packet. Read on every PMD
//! iteration, the LOCAL port alone took 18% of a PMD forwarding 64-byte
//! packets between two AF_XDP ports (perf, `ferrovs bench`), time the
//! packets' own senders and receivers needed on a small machine. (OVS
//! polls such ports from its main thread, not from its PMDs.)
//!
//! So these queues are read only when their descriptor ([`Netdev::rx_fd`])
//! is readable: one `epoll_wait` with no timeout over all of them says
//! which, however many there are (a queue that just filled a batch is
//! read again without asking). While the PMD is busy with its other
//! queues (it received packets in the last [`BUSY_WINDOW`]), that check is
//! paced: after a check that found nothing, the next waits [`GAP_MIN`],
//! doubling on each empty check up to [`GAP_MAX`], and comes on every
//! iteration again as soon as a queue is ready. A PMD that is not busy
//! checks on every iteration (its CPU has nothing else to do), and one
//! that sleeps waits on these descriptors too, so a packet reaching an
//! idle PMD is not delayed; under load, at most by [`GAP_MAX`].
//!
//! All state is the PMD thread's own; the cost per iteration for a PMD
//! without such queues is one branch.
//!
//! [`Netdev::rx_fd`]: crate::netdev::Netdev::rx_fd

use std::time::{Duration, Instant};

use crate::dpif::Rxq;
use crate::netdev::wait::ReadySet;

/// The first pause after an empty check while busy.
pub const GAP_MIN: Duration = Duration::from_micros(2);
/// The longest pause between checks while busy.
pub const GAP_MAX: Duration = Duration::from_micros(50);
/// A PMD that received packets this recently is busy.
pub const BUSY_WINDOW: Duration = Duration::from_micros(100);

/// When the next readiness check is due (timing only, no I/O).
#[derive(Debug, Clone)]
pub struct Pace {
    gap: Duration,
    next: Instant,
    last_busy: Option<Instant>,
}

impl Pace {
    pub fn new(now: Instant) -> Pace {
        Pace {
            gap: Duration::ZERO,
            next: now,
            last_busy: None,
        }
    }

    fn busy(&self, now: Instant) -> bool {
        self.last_busy
            .is_some_and(|t| now.saturating_duration_since(t) < BUSY_WINDOW)
    }

    /// Whether to check the queues at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next || !self.busy(now)
    }

    /// A check at `now` found `ready` queues with packets.
    pub fn checked(&mut self, now: Instant, ready: usize) {
        self.gap = if ready > 0 {
            Duration::ZERO
        } else {
            (self.gap * 2).clamp(GAP_MIN, GAP_MAX)
        };
        self.next = now + self.gap;
    }

    /// The iteration at `now` received packets.
    pub fn received(&mut self, now: Instant) {
        self.last_busy = Some(now);
    }
}

/// The PMD's view of its costly queues (see the module comment).
pub(crate) struct RxPace {
    set: Option<ReadySet>,
    /// The `rxq_gen` the set was built for.
    gen: u64,
    /// Per queue (by position in the PMD's list): read only when ready.
    gated: Vec<bool>,
    /// Per queue: read it in this iteration.
    poll: Vec<bool>,
    any: bool,
    pace: Pace,
}

impl RxPace {
    pub fn new() -> RxPace {
        RxPace {
            set: None,
            gen: u64::MAX,
            gated: Vec::new(),
            poll: Vec::new(),
            any: false,
            pace: Pace::new(Instant::now()),
        }
    }

    fn rebuild(&mut self, gen: u64, rxqs: &[Rxq]) {
        self.gen = gen;
        let costly: Vec<(usize, i32)> = rxqs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.costly)
            .filter_map(|(i, r)| Some((i, r.netdev.rx_fd(r.qid)?)))
            .collect();
        self.gated = vec![false; rxqs.len()];
        self.poll = vec![true; rxqs.len()];
        self.any = false;
        if costly.is_empty() {
            return;
        }
        if self.set.is_none() {
            self.set = ReadySet::new().ok();
        }
        let Some(set) = self.set.as_mut() else {
            return;
        };
        // A descriptor epoll refuses leaves every queue read each time.
        if set.set_fds(costly.iter().copied()) {
            for &(i, _) in &costly {
                self.gated[i] = true;
                self.poll[i] = false;
            }
            self.any = true;
        }
    }

    /// Before an iteration over `rxqs` (whose list has generation `gen`):
    /// decides which queues to read. Returns the time it read, if it had
    /// to (only when some queue is gated).
    #[inline]
    pub fn before(&mut self, gen: u64, rxqs: &[Rxq]) -> Option<Instant> {
        if gen != self.gen || self.gated.len() != rxqs.len() {
            self.rebuild(gen, rxqs);
        }
        if !self.any {
            return None;
        }
        let now = Instant::now();
        if self.pace.due(now) {
            if let Some(set) = self.set.as_mut() {
                let poll = &mut self.poll;
                let n = set.ready(|i| {
                    if let Some(p) = poll.get_mut(i) {
                        *p = true;
                    }
                });
                self.pace.checked(now, n);
            }
        }
        Some(now)
    }

    /// Whether to read queue `i` in this iteration.
    #[inline]
    pub fn should_poll(&self, i: usize) -> bool {
        self.poll.get(i).copied().unwrap_or(true)
    }

    /// Queue `i` was read: a gated one waits for its next readiness,
    /// unless it filled the batch (`full`: it likely holds more, and is
    /// read again without asking).
    #[inline]
    pub fn polled(&mut self, i: usize, full: bool) {
        if !full && self.gated.get(i).copied().unwrap_or(false) {
            self.poll[i] = false;
        }
    }

    /// After the iteration that started at `now`, which received `total`
    /// packets.
    #[inline]
    pub fn after(&mut self, now: Option<Instant>, total: usize) {
        if let (Some(now), true) = (now, total > 0) {
            self.pace.received(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::PacketBatch;
    use crate::netdev::{Netdev, NetdevError};
    use crate::packet::{DpPacket, PacketPool};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::sync::Arc;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn pace_backs_off_while_busy_and_not_when_idle() {
        let t0 = Instant::now();
        let mut p = Pace::new(t0);
        assert!(p.due(t0));
        // Not busy: every iteration checks, whatever the gap.
        p.checked(t0, 0);
        assert!(p.due(t0 + US));
        // Busy: empty checks double the gap up to GAP_MAX.
        p.checked(t0, 1);
        let mut now = t0;
        let mut gaps = Vec::new();
        for _ in 0..8 {
            p.received(now);
            p.checked(now, 0);
            assert!(!p.due(now + p.gap - US));
            assert!(p.due(now + p.gap));
            gaps.push(p.gap.as_micros());
            now += p.gap;
        }
        assert_eq!(gaps, [2, 4, 8, 16, 32, 50, 50, 50]);
        // A ready queue: back to every iteration.
        p.checked(now, 1);
        assert!(p.due(now));
        // Busy ends BUSY_WINDOW after the last packets.
        p.received(now);
        p.checked(now, 0);
        p.checked(now, 0);
        assert!(!p.due(now + US));
        assert!(p.due(now + BUSY_WINDOW));
    }

    /// A queue whose readiness is a pipe's read end.
    struct PipeDev(OwnedFd);

    impl Netdev for PipeDev {
        fn name(&self) -> &str {
            "pipe"
        }
        fn n_rxq(&self) -> usize {
            1
        }
        fn n_txq(&self) -> usize {
            1
        }
        fn recv(
            &self,
            _: usize,
            _: u32,
            _: &mut PacketBatch,
            _: &mut PacketPool,
        ) -> Result<usize, NetdevError> {
            Ok(0)
        }
        fn send(
            &self,
            _: usize,
            _: &mut Vec<DpPacket>,
            _: &mut PacketPool,
        ) -> Result<usize, NetdevError> {
            Ok(0)
        }
        fn rx_fd(&self, _: usize) -> Option<RawFd> {
            Some(self.0.as_raw_fd())
        }
        fn rx_costly(&self) -> bool {
            true
        }
    }

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        // SAFETY: fresh descriptors, owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn rxq(netdev: Arc<dyn Netdev>) -> Rxq {
        Rxq {
            port_no: 1,
            qid: 0,
            costly: netdev.rx_costly(),
            netdev,
            cycles: Arc::default(),
        }
    }

    #[test]
    fn gated_queue_is_read_only_when_ready() {
        let (r, w) = pipe();
        let ring = rxq(Arc::new(PipeDev(pipe().0)));
        let ring = Rxq {
            costly: false,
            ..ring
        };
        let rxqs = vec![ring, rxq(Arc::new(PipeDev(r)))];
        let mut pace = RxPace::new();
        let now = pace.before(0, &rxqs);
        assert!(now.is_some(), "a gated queue reads the clock");
        assert!(pace.should_poll(0), "a ring queue is always read");
        assert!(!pace.should_poll(1), "nothing to read yet");
        // SAFETY: writes one byte from a live buffer to our pipe.
        assert_eq!(
            unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) },
            1
        );
        pace.before(0, &rxqs);
        assert!(pace.should_poll(1), "ready now");
        pace.polled(1, true);
        assert!(pace.should_poll(1), "a full batch: read again");
        pace.polled(1, false);
        assert!(!pace.should_poll(1), "until the next check");
        // Only ring queues: no clock read, everything read.
        let mut pace = RxPace::new();
        assert!(pace.before(0, &rxqs[..1]).is_none());
        assert!(pace.should_poll(0));
    }
}
