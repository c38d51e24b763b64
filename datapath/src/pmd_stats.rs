//! Per-PMD statistics: plain counters in the PMD, published to atomics once
//! per poll iteration, summed across PMDs only when someone reads them.
//!
//! Each PMD is the only writer of its [`PmdCounters`], so publishing is a
//! relaxed store per counter, never a shared read-modify-write on the fast
//! path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of one PMD's counters (or the sum over PMDs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PmdStats {
    /// Packets received from ports.
    pub rx_packets: u64,
    /// Packets (including recirculated passes) that hit the EMC.
    pub emc_hits: u64,
    /// ... that missed the EMC and hit the megaflow classifier.
    pub megaflow_hits: u64,
    /// ... that missed both.
    pub misses: u64,
    /// Successful upcalls (actions obtained).
    pub upcalls: u64,
    /// Failed upcalls (packet dropped).
    pub upcall_errors: u64,
    /// Megaflows installed by upcalls.
    pub flows_installed: u64,
    /// Upcalls not installed because the flow limit was reached.
    pub flow_limit_hits: u64,
    /// Recirculated passes.
    pub recirculations: u64,
    /// Packets handed to ports.
    pub tx_packets: u64,
    /// Packets dropped (by actions, meters, full queues, lost upcalls).
    pub dropped: u64,
    /// Time stamp counter cycles spent on iterations that did work.
    pub busy_cycles: u64,
    /// ... on iterations that found nothing.
    pub idle_cycles: u64,
    /// Poll iterations.
    pub iterations: u64,
    /// Idle pauses spent asleep on the queues' descriptors.
    pub sleeps: u64,
    /// Empty polls after which the PMD found it had lost its CPU for a
    /// while (see `pmd::PREEMPTED`).
    pub preemptions: u64,
    /// Windows of spinning that lost so much of it to preemption that the
    /// spin was held short (see `pmd_idle`).
    pub contended: u64,
}

impl PmdStats {
    /// Counts since `base` (an earlier reading of the same counters).
    pub fn since(&self, base: &PmdStats) -> PmdStats {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        PmdStats {
            rx_packets: d(self.rx_packets, base.rx_packets),
            emc_hits: d(self.emc_hits, base.emc_hits),
            megaflow_hits: d(self.megaflow_hits, base.megaflow_hits),
            misses: d(self.misses, base.misses),
            upcalls: d(self.upcalls, base.upcalls),
            upcall_errors: d(self.upcall_errors, base.upcall_errors),
            flows_installed: d(self.flows_installed, base.flows_installed),
            flow_limit_hits: d(self.flow_limit_hits, base.flow_limit_hits),
            recirculations: d(self.recirculations, base.recirculations),
            tx_packets: d(self.tx_packets, base.tx_packets),
            dropped: d(self.dropped, base.dropped),
            busy_cycles: d(self.busy_cycles, base.busy_cycles),
            idle_cycles: d(self.idle_cycles, base.idle_cycles),
            iterations: d(self.iterations, base.iterations),
            sleeps: d(self.sleeps, base.sleeps),
            preemptions: d(self.preemptions, base.preemptions),
            contended: d(self.contended, base.contended),
        }
    }

    pub fn add(&mut self, o: &PmdStats) {
        self.rx_packets += o.rx_packets;
        self.emc_hits += o.emc_hits;
        self.megaflow_hits += o.megaflow_hits;
        self.misses += o.misses;
        self.upcalls += o.upcalls;
        self.upcall_errors += o.upcall_errors;
        self.flows_installed += o.flows_installed;
        self.flow_limit_hits += o.flow_limit_hits;
        self.recirculations += o.recirculations;
        self.tx_packets += o.tx_packets;
        self.dropped += o.dropped;
        self.busy_cycles += o.busy_cycles;
        self.idle_cycles += o.idle_cycles;
        self.iterations += o.iterations;
        self.sleeps += o.sleeps;
        self.preemptions += o.preemptions;
        self.contended += o.contended;
    }
}

macro_rules! counters {
    ($($f:ident),*) => {
        /// The published (atomic) form of [`PmdStats`].
        #[derive(Debug, Default)]
        pub struct PmdCounters { $($f: AtomicU64,)* }
        impl PmdCounters {
            /// Publishes a PMD's local counters (single writer).
            #[inline]
            pub fn publish(&self, s: &PmdStats) {
                $(self.$f.store(s.$f, Relaxed);)*
            }
            pub fn read(&self) -> PmdStats {
                PmdStats { $($f: self.$f.load(Relaxed),)* }
            }
        }
    };
}

counters!(
    rx_packets,
    emc_hits,
    megaflow_hits,
    misses,
    upcalls,
    upcall_errors,
    flows_installed,
    flow_limit_hits,
    recirculations,
    tx_packets,
    dropped,
    busy_cycles,
    idle_cycles,
    iterations,
    sleeps,
    preemptions,
    contended
);

/// The CPU's time stamp counter (or nanoseconds where there is none).
#[inline(always)]
pub fn cycles() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no memory effects and exists on every x86_64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        use std::sync::OnceLock;
        static T0: OnceLock<std::time::Instant> = OnceLock::new();
        T0.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
    }
}
