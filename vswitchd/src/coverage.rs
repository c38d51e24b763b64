//! `coverage/show`: event counters in OVS's layout, each with its average
//! rate over the last 5 seconds, minute and hour and its total, then the
//! number of known events never hit.
//!
//! The events are those ferrovs counts, under OVS's names where the
//! meaning is the same: `dpif_flow_put` (megaflows installed by upcalls),
//! `upcall_flow_limit_hit` (misses not installed at the flow limit),
//! `datapath_drop_upcall_error` (upcalls that failed), `upcall` (misses
//! sent to translation; `dpif_netdev`'s miss count), and the revalidator's
//! `revalidate_idle_flow` / `revalidate_stale_flow` (megaflows removed
//! for idleness or changed translation) and `revalidate_rounds`, and
//! `xlate_actions` (translations of datapath flows: upcalls and revalidation;
//! a round with nothing changed adds none); and, of ferrovs's own,
//! `netdev_rx_ring_full` (frames the kernel dropped because a port's
//! receive ring was full: AF_PACKET's `PACKET_STATISTICS`) and
//! `netdev_tx_dropped` (frames a port could not send), summed over the
//! datapath's ports.
//!
//! `coverage/read-counter` reads one total; an event OVS has and ferrovs
//! does not count is "No such counter" (rather than a made-up 0).
//!
//! Totals come from the datapath's counters and the revalidation rounds;
//! [`Coverage::sample`] keeps one snapshot of them a second for an hour
//! (3,600 small arrays), from which the rates are differences over the
//! window (over what history exists while the switch is younger).

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrovs_datapath::Datapath;
use ferrovs_ofproto::revalidate::RevalidateStats;

const NAMES: [&str; 10] = [
    "datapath_drop_upcall_error",
    "dpif_flow_put",
    "netdev_rx_ring_full",
    "netdev_tx_dropped",
    "revalidate_idle_flow",
    "revalidate_rounds",
    "revalidate_stale_flow",
    "upcall",
    "upcall_flow_limit_hit",
    "xlate_actions",
];
const N: usize = NAMES.len();

#[derive(Default)]
struct Inner {
    /// Revalidation totals: idle, stale, rounds, then translations.
    reval: [u64; 4],
    /// One snapshot of the totals a second, oldest first.
    samples: VecDeque<(Instant, [u64; N])>,
}

#[derive(Default)]
pub struct Coverage {
    inner: Mutex<Inner>,
}

fn totals(dp: &Datapath, reval: &[u64; 4]) -> [u64; N] {
    let st = dp.stats();
    let (mut ring_full, mut tx_dropped) = (0, 0);
    for p in dp.ports() {
        let d = p.netdev.drops();
        ring_full += d.rx_ring_full;
        tx_dropped += d.tx_dropped;
    }
    [
        st.upcall_errors,
        st.flows_installed,
        ring_full,
        tx_dropped,
        reval[0],
        reval[2],
        reval[1],
        st.upcalls,
        st.flow_limit_hits,
        reval[3],
    ]
}

impl Coverage {
    /// Counts one revalidation round; `translations` is the upcall
    /// handler's total of translations so far.
    pub fn round(&self, st: &RevalidateStats, translations: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.reval[0] += st.deleted_idle as u64;
        g.reval[1] += st.deleted_stale as u64;
        g.reval[2] += 1;
        g.reval[3] = translations;
    }

    /// Takes a snapshot if the last one is a second old (called every
    /// tick).
    pub fn sample(&self, dp: &Datapath) {
        let now = Instant::now();
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.samples
            .back()
            .is_some_and(|(t, _)| now.duration_since(*t) < Duration::from_secs(1))
        {
            return;
        }
        let t = totals(dp, &g.reval);
        g.samples.push_back((now, t));
        while g.samples.len() > 3601 {
            g.samples.pop_front();
        }
    }

    /// Event `name`'s total (None: not an event ferrovs counts).
    pub fn read(&self, name: &str, dp: &Datapath) -> Option<u64> {
        let i = NAMES.iter().position(|n| *n == name)?;
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Some(totals(dp, &g.reval)[i])
    }

    /// The `coverage/show` text.
    pub fn show(&self, dp: &Datapath) -> String {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let cur = totals(dp, &g.reval);
        // Per-second rate of event `i` over the last `secs` seconds.
        let rate = |i: usize, secs: u64| -> f64 {
            let old = g
                .samples
                .iter()
                .find(|(t, _)| now.duration_since(*t) <= Duration::from_secs(secs))
                .map_or(0, |(_, v)| v[i]);
            cur[i].saturating_sub(old) as f64 / secs as f64
        };
        // A hash of the names of the events hit (OVS's tells whether the
        // set changed; this one is FNV-1a over the same names).
        let mut hash: u32 = 0x811c_9dc5;
        for (i, n) in NAMES.iter().enumerate() {
            if cur[i] > 0 {
                for b in n.bytes() {
                    hash = (hash ^ b as u32).wrapping_mul(0x0100_0193);
                }
            }
        }
        let mut s = format!(
            "Event coverage, avg rate over last: 5 seconds, last minute, last hour,  hash={hash:08x}:\n"
        );
        let mut never = 0;
        for (i, n) in NAMES.iter().enumerate() {
            if cur[i] == 0 {
                never += 1;
                continue;
            }
            let _ = writeln!(
                s,
                "{n:<24} {:5.1}/sec {:9.3}/sec {:13.4}/sec   total: {}",
                rate(i, 5),
                rate(i, 60),
                rate(i, 3600),
                cur[i]
            );
        }
        let _ = writeln!(s, "{never} events never hit");
        s
    }
}

/// `coverage/show`.
pub fn cmd_coverage_show(ctx: &crate::unixctl::Ctx, _: &[String]) -> Result<String, String> {
    let (cov, dp) = {
        let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
        (sw.coverage.clone(), sw.shared.dp.clone())
    };
    Ok(cov.show(&dp))
}

/// `coverage/read-counter COUNTER`: the event's total, as OVS's.
pub fn cmd_coverage_read_counter(
    ctx: &crate::unixctl::Ctx,
    args: &[String],
) -> Result<String, String> {
    let (cov, dp) = {
        let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
        (sw.coverage.clone(), sw.shared.dp.clone())
    };
    cov.read(&args[0], &dp)
        .map(|n| format!("{n}\n"))
        .ok_or_else(|| "No such counter".to_string())
}
