//! unixctl commands over the PMD threads, in OVS 3.1's formats:
//! `dpif-netdev/pmd-rxq-show`, `dpif-netdev/pmd-rxq-rebalance`,
//! `dpif-netdev/pmd-stats-show`, `dpif-netdev/pmd-stats-clear`.
//!
//! Each PMD is shown as OVS shows a PMD thread: `numa_id 0` (ferrovs does
//! not place PMDs by NUMA node) and `core_id` the CPU it is pinned to, or
//! its PMD number when unpinned. Counters are the datapath's per-PMD
//! counters less those at the last `pmd-stats-clear`.
//!
//! Known differences with OVS, kept with their reason: the "pmd usage" of
//! a queue is its share of the PMD's polling cycles since the last clear
//! (OVS keeps a 60-second window; the header line is OVS's, so scripts
//! that skip it still work); ferrovs counts neither subtable lookups nor
//! output batches, so those two averages print 0.00; every port is polled
//! by a PMD, so the "main thread" block (which OVS prints for ports of
//! its non-PMD thread) is all zeros, and the bridge's internal ports
//! (polled by OVS's main thread, absent from its `pmd-rxq-show`) are
//! listed under a PMD and take part in the queue assignment.
//!
//! PMDs are listed by core id, each one's queues by port name and queue
//! id, as OVS does; `isolated : true` marks a PMD that a
//! `pmd-rxq-affinity` pin keeps to itself.

use std::fmt::Write;
use std::sync::Arc;

use ferrovs_datapath::dpif::PmdInfo;
use ferrovs_datapath::Datapath;

use crate::unixctl::Ctx;

fn dp_of(ctx: &Ctx) -> Arc<Datapath> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    sw.shared.dp.clone()
}

/// The `-pmd CORE` filter of OVS's commands (an unparsable core shows
/// every PMD, as OVS does).
fn pmd_filter(args: &[String]) -> Option<usize> {
    let i = args.iter().position(|a| a == "-pmd")?;
    args.get(i + 1)?.parse().ok()
}

fn core_id(p: &PmdInfo) -> usize {
    p.cpu.unwrap_or(p.id)
}

/// The PMDs in OVS's order: by core id.
fn pmds_by_core(dp: &Datapath) -> Vec<PmdInfo> {
    let mut v = dp.pmd_info();
    v.sort_by_key(core_id);
    v
}

fn pct(part: u64, total: u64) -> String {
    match part.saturating_mul(100).checked_div(total) {
        Some(p) => format!("{p:2} %"),
        None => "NOT AVAIL".to_string(),
    }
}

/// `dpif-netdev/pmd-rxq-show [-pmd CORE] [DP]`.
pub fn cmd_pmd_rxq_show(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let dp = dp_of(ctx);
    let only = pmd_filter(args);
    let names = port_names(&dp);
    let mut s = String::from("Displaying last 60 seconds pmd usage %\n");
    for p in pmds_by_core(&dp) {
        if only.is_some_and(|c| c != core_id(&p)) {
            continue;
        }
        let total = p.stats.busy_cycles + p.stats.idle_cycles;
        let _ = writeln!(s, "pmd thread numa_id 0 core_id {}:", core_id(&p));
        let _ = writeln!(s, "  isolated : {}", p.isolated);
        let mut on_queues = 0u64;
        let name_of = |port_no: u32| {
            names
                .iter()
                .find(|(n, _)| *n == port_no)
                .map_or("?", |(_, s)| s.as_str())
        };
        // By port name, then queue (OVS's order).
        let mut rxqs: Vec<_> = p.rxqs.iter().map(|q| (name_of(q.port_no), q)).collect();
        rxqs.sort_by_key(|(name, q)| (*name, q.qid));
        for (name, q) in rxqs {
            on_queues += q.cycles;
            let _ = writeln!(
                s,
                "  port: {name:<16}  queue-id: {:2} (enabled)   pmd usage: {}",
                q.qid,
                pct(q.cycles, total)
            );
        }
        let _ = writeln!(
            s,
            "  overhead: {}",
            pct(p.stats.busy_cycles.saturating_sub(on_queues), total)
        );
    }
    Ok(s)
}

fn port_names(dp: &Datapath) -> Vec<(u32, String)> {
    dp.ports()
        .iter()
        .map(|p| (p.port_no, p.netdev.name().to_string()))
        .collect()
}

/// `dpif-netdev/pmd-rxq-rebalance [DP]`.
pub fn cmd_pmd_rxq_rebalance(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    dp_of(ctx).rebalance_rxqs();
    Ok("pmd rxq rebalance requested.\n".to_string())
}

/// `dpif-netdev/pmd-stats-clear [-pmd CORE] [DP]`.
pub fn cmd_pmd_stats_clear(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    dp_of(ctx).clear_pmd_stats();
    Ok(String::new())
}

fn avg(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The lines every thread block has (OVS's order).
fn common_lines(s: &mut String, st: &ferrovs_datapath::pmd_stats::PmdStats) {
    let passes = st.rx_packets + st.recirculations;
    let _ = writeln!(s, "  packets received: {}", st.rx_packets);
    let _ = writeln!(s, "  packet recirculations: {}", st.recirculations);
    let _ = writeln!(
        s,
        "  avg. datapath passes per packet: {:.2}",
        avg(passes, st.rx_packets)
    );
    s.push_str("  phwol hits: 0\n  mfex opt hits: 0\n  simple match hits: 0\n");
    let _ = writeln!(s, "  emc hits: {}", st.emc_hits);
    s.push_str("  smc hits: 0\n");
    let _ = writeln!(s, "  megaflow hits: {}", st.megaflow_hits);
    s.push_str("  avg. subtable lookups per megaflow hit: 0.00\n");
    let _ = writeln!(s, "  miss with success upcall: {}", st.upcalls);
    let _ = writeln!(s, "  miss with failed upcall: {}", st.upcall_errors);
    s.push_str("  avg. packets per output batch: 0.00\n");
}

/// `dpif-netdev/pmd-stats-show [-pmd CORE] [DP]`.
pub fn cmd_pmd_stats_show(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let dp = dp_of(ctx);
    let only = pmd_filter(args);
    let mut s = String::new();
    for p in pmds_by_core(&dp) {
        if only.is_some_and(|c| c != core_id(&p)) {
            continue;
        }
        let st = &p.stats;
        let _ = writeln!(s, "pmd thread numa_id 0 core_id {}:", core_id(&p));
        common_lines(&mut s, st);
        let total = st.busy_cycles + st.idle_cycles;
        let share = |c: u64| 100.0 * avg(c, total);
        let _ = writeln!(
            s,
            "  idle cycles: {} ({:.2}%)",
            st.idle_cycles,
            share(st.idle_cycles)
        );
        let _ = writeln!(
            s,
            "  processing cycles: {} ({:.2}%)",
            st.busy_cycles,
            share(st.busy_cycles)
        );
        if st.rx_packets > 0 {
            let _ = writeln!(
                s,
                "  avg cycles per packet: {:.2} ({}/{})",
                avg(total, st.rx_packets),
                total,
                st.rx_packets
            );
            let _ = writeln!(
                s,
                "  avg processing cycles per packet: {:.2} ({}/{})",
                avg(st.busy_cycles, st.rx_packets),
                st.busy_cycles,
                st.rx_packets
            );
        }
        let _ = writeln!(s, "  sleep iterations: {}", st.sleeps);
        let _ = writeln!(s, "  preempted spins: {}", st.preemptions);
        let _ = writeln!(s, "  contended spin windows: {}", st.contended);
    }
    if only.is_none() {
        s.push_str("main thread:\n");
        common_lines(&mut s, &Default::default());
    }
    Ok(s)
}
