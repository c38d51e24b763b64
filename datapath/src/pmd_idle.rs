//! How long an idle PMD spins before it sleeps ([`IdleSpin`]).
//!
//! A PMD that found nothing keeps polling for `spin`, then sleeps on its
//! queues' descriptors. A wakeup costs tens of microseconds on a VM (an
//! inter-processor interrupt to a halted virtual CPU), a poll about one,
//! so steady traffic should be polled through its gaps: when packets wake
//! the PMD `gap` after the last ones, the spin grows to one and a half
//! gaps (up to `idle_spin_max`, 4 ms: a ping every 2 ms is polled, not
//! woken up for); a longer gap shrinks it by a quarter, down to
//! `idle_spin` (150 µs), so an idle PMD, or one seeing sparse packets,
//! soon sleeps after 150 µs again, while one late packet of steady
//! traffic does not cost the next ones a wakeup each.
//!
//! On a CPU shared with other busy work it is the other way round: a
//! spinner that lost its CPU waits for its turn when a packet comes, a
//! sleeper is woken at once. An empty poll that took longer than
//! [`PREEMPTED`] means the PMD lost its CPU meanwhile. One such poll says
//! little (a kernel worker, a timer, the host stealing the virtual CPU a
//! moment); what counts is the share of the spinning time lost that way.
//! The spin time and the time lost are summed over windows of
//! [`WINDOW`]; a window that spun at least [`MIN_SPUN`] and lost more than
//! a tenth of it marks the CPU contended: the spin goes back to
//! `idle_spin` and may not grow for [`CONTENDED_HOLD`]. (One preemption
//! used to do that; on a quiet two-CPU VM, a few preemptions a second kept
//! the PMD sleeping between the pings of a 2 ms ping, paying a wakeup
//! each: 54 µs median where polling gives about 15.)
//!
//! All state is plain numbers on the PMD thread; the cost per empty poll
//! is a few comparisons and additions.

use std::time::{Duration, Instant};

use crate::dpif::DpConfig;

/// An empty poll that took this long means the PMD was preempted.
pub const PREEMPTED: Duration = Duration::from_micros(200);
/// The span over which the share of spinning time lost to preemption is
/// judged.
pub const WINDOW: Duration = Duration::from_millis(250);
/// A window that spun less than this is not judged. A PMD held to short
/// spins spins little (150 µs per packet of a 2 ms ping is 19 ms a
/// window), so that one preemption would make a large share of it and
/// hold it there for good; it is judged again once the hold is over and
/// the spin has grown.
pub const MIN_SPUN: Duration = Duration::from_millis(50);
/// How long a contended PMD keeps its spin short.
pub const CONTENDED_HOLD: Duration = Duration::from_secs(1);

/// The spin state of one PMD thread (see the module comment).
#[derive(Debug, Clone)]
pub struct IdleSpin {
    idle_spin: Duration,
    idle_spin_max: Duration,
    /// The spin before the next sleep.
    spin: Duration,
    /// The spin may grow only from then on.
    calm_from: Instant,
    window_start: Instant,
    spun: Duration,
    lost: Duration,
}

/// What one empty poll tells the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmptyPoll {
    /// The PMD lost its CPU during this poll.
    pub preempted: bool,
    /// The window just closed found the CPU contended.
    pub contended: bool,
}

impl IdleSpin {
    pub fn new(cfg: &DpConfig, now: Instant) -> IdleSpin {
        IdleSpin {
            idle_spin: cfg.idle_spin,
            idle_spin_max: cfg.idle_spin_max.max(cfg.idle_spin),
            spin: cfg.idle_spin,
            calm_from: now,
            window_start: now,
            spun: Duration::ZERO,
            lost: Duration::ZERO,
        }
    }

    /// The spin before the next sleep.
    pub fn spin(&self) -> Duration {
        self.spin
    }

    /// Whether the spin is held short (the CPU was found contended).
    pub fn is_contended(&self, now: Instant) -> bool {
        now < self.calm_from
    }

    /// An empty poll of a spinning PMD that took `took` (from the end of
    /// the previous empty poll to `now`).
    pub fn empty_poll(&mut self, now: Instant, took: Duration) -> EmptyPoll {
        let preempted = took > PREEMPTED;
        self.spun += took;
        if preempted {
            self.lost += took;
        }
        let mut contended = false;
        if now.saturating_duration_since(self.window_start) >= WINDOW {
            if self.spun >= MIN_SPUN && self.lost * 10 > self.spun {
                contended = true;
                self.spin = self.idle_spin;
                self.calm_from = now + CONTENDED_HOLD;
            }
            self.window_start = now;
            self.spun = Duration::ZERO;
            self.lost = Duration::ZERO;
        }
        EmptyPoll {
            preempted,
            contended,
        }
    }

    /// Packets woke the sleeping PMD `gap` after the last packets it saw:
    /// the spin covers one and a half gaps when the gap is at most
    /// `idle_spin_max` (steady traffic), else it shrinks by a quarter
    /// (down to `idle_spin`): one late packet of steady traffic (a ping
    /// whose sender was scheduled late) leaves the next gaps covered,
    /// while sparse traffic is back to short spins after about a dozen
    /// packets. It is `idle_spin` while the CPU is held contended.
    pub fn woken(&mut self, now: Instant, gap: Duration) {
        self.spin = if self.is_contended(now) {
            self.idle_spin
        } else if gap > self.idle_spin_max {
            (self.spin - self.spin / 4).max(self.idle_spin)
        } else {
            (gap + gap / 2).clamp(self.idle_spin, self.idle_spin_max)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn spin_covers_short_gaps_and_shrinks_after_long_ones() {
        let cfg = DpConfig::default();
        let t = Instant::now();
        let mut s = IdleSpin::new(&cfg, t);
        assert_eq!(s.spin(), cfg.idle_spin);
        s.woken(t, us(2000));
        assert_eq!(s.spin(), us(3000));
        s.woken(t, us(3500));
        assert_eq!(s.spin(), cfg.idle_spin_max);
        // A late packet: a quarter less, still covering a 2 ms gap.
        s.woken(t, us(6000));
        assert_eq!(s.spin(), us(3000));
        s.woken(t, us(2000));
        assert_eq!(s.spin(), us(3000));
        // Sparse traffic: back to the short spin within a dozen packets.
        for _ in 0..12 {
            s.woken(t, us(50_000));
        }
        assert_eq!(s.spin(), cfg.idle_spin);
        s.woken(t, us(20));
        assert_eq!(s.spin(), cfg.idle_spin);
    }

    /// Spins `n` empty polls of `each`, one in `every` of them taking
    /// `slow` instead; returns the time reached and whether any window
    /// found contention.
    fn spin_for(
        s: &mut IdleSpin,
        mut t: Instant,
        n: usize,
        each: Duration,
        every: usize,
        slow: Duration,
    ) -> (Instant, bool) {
        let mut contended = false;
        for i in 0..n {
            let took = if every > 0 && i % every == every - 1 {
                slow
            } else {
                each
            };
            t += took;
            contended |= s.empty_poll(t, took).contended;
        }
        (t, contended)
    }

    /// A few preemptions a second (a 2 ms one every ~100 ms of spinning)
    /// leave the spin free to grow: a 2 ms ping is still polled.
    #[test]
    fn rare_preemptions_do_not_hold_the_spin_short() {
        let cfg = DpConfig::default();
        let t0 = Instant::now();
        let mut s = IdleSpin::new(&cfg, t0);
        let (t, contended) = spin_for(&mut s, t0, 1_000_000, us(1), 100_000, us(2000));
        assert!(!contended);
        assert!(!s.is_contended(t));
        s.woken(t, us(2000));
        assert_eq!(s.spin(), us(3000));
    }

    /// Losing the CPU for a large share of the spin (a 1 ms preemption
    /// every 2 ms) marks the CPU contended: the spin stays short for
    /// `CONTENDED_HOLD`, then may grow again.
    #[test]
    fn frequent_preemptions_hold_the_spin_short_for_a_while() {
        let cfg = DpConfig::default();
        let t0 = Instant::now();
        let mut s = IdleSpin::new(&cfg, t0);
        s.woken(t0, us(2000));
        assert_eq!(s.spin(), us(3000));
        let (t, contended) = spin_for(&mut s, t0, 300_000, us(1), 1000, us(1000));
        assert!(contended);
        assert_eq!(s.spin(), cfg.idle_spin);
        assert!(s.is_contended(t));
        s.woken(t, us(2000));
        assert_eq!(s.spin(), cfg.idle_spin, "held short");
        let later = t + CONTENDED_HOLD;
        assert!(!s.is_contended(later));
        s.woken(later, us(2000));
        assert_eq!(s.spin(), us(3000));
    }

    /// A window that barely spun (a PMD that sleeps most of the time) is
    /// not judged, even if its few polls were slow.
    #[test]
    fn a_window_with_little_spinning_is_not_judged() {
        let cfg = DpConfig::default();
        let t0 = Instant::now();
        let mut s = IdleSpin::new(&cfg, t0);
        // 20 slow polls of 1 ms, then the window closes after a sleep.
        let mut t = t0;
        for _ in 0..20 {
            t += us(1000);
            assert!(s.empty_poll(t, us(1000)).preempted);
        }
        t += WINDOW;
        assert!(!s.empty_poll(t, us(1)).contended);
    }
}
