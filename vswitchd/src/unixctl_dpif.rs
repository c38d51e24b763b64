//! unixctl views of the userspace datapath: `dpif-netdev/pmd-stats-show`
//! (per PMD thread, OVS's lines for the counters the datapath keeps) and
//! `dpif/dump-flows` (the installed megaflows with their statistics and
//! actions). Both read the datapath's summed-on-read counters and flow
//! table; nothing on the packet path changes.
//!
//! Differences from OVS, on purpose: `core_id` is the PMD's index (PMDs
//! are not pinned unless configured), counters the datapath does not keep
//! (SMC, subtable lookups, output batches) are not printed; a megaflow's
//! key is printed in OpenFlow match syntax, as the `Megaflow:` line of
//! `ofproto/trace`, not in OVS's datapath (ODP) key syntax.

use crate::unixctl::Ctx;
use ferrovs_datapath::pmd_stats::PmdStats;
use ferrovs_ofproto::flow::OfFlow;
use ferrovs_ofproto::trace::format_megaflow;
use ferrovs_ofproto::xlate::odp_text::format_dp_actions;

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn pmd_block(title: &str, s: &PmdStats) -> String {
    let passes = s.rx_packets + s.recirculations;
    let cycles = s.busy_cycles + s.idle_cycles;
    let pct = |c: u64| 100.0 * ratio(c, cycles);
    let mut o = format!("{title}:\n");
    o.push_str(&format!("  packets received: {}\n", s.rx_packets));
    o.push_str(&format!("  packet recirculations: {}\n", s.recirculations));
    o.push_str(&format!(
        "  avg. datapath passes per packet: {:.2}\n",
        ratio(passes, s.rx_packets)
    ));
    o.push_str(&format!("  emc hits: {}\n", s.emc_hits));
    o.push_str(&format!("  megaflow hits: {}\n", s.megaflow_hits));
    o.push_str(&format!("  miss with success upcall: {}\n", s.upcalls));
    o.push_str(&format!("  miss with failed upcall: {}\n", s.upcall_errors));
    o.push_str(&format!(
        "  idle cycles: {} ({:.2}%)\n",
        s.idle_cycles,
        pct(s.idle_cycles)
    ));
    o.push_str(&format!(
        "  processing cycles: {} ({:.2}%)\n",
        s.busy_cycles,
        pct(s.busy_cycles)
    ));
    if passes > 0 {
        o.push_str(&format!(
            "  avg cycles per packet: {:.2} ({}/{})\n",
            ratio(cycles, passes),
            cycles,
            passes
        ));
        o.push_str(&format!(
            "  avg processing cycles per packet: {:.2} ({}/{})\n",
            ratio(s.busy_cycles, passes),
            s.busy_cycles,
            passes
        ));
    }
    o
}

/// `dpif-netdev/pmd-stats-show`: one block per PMD thread.
pub fn cmd_pmd_stats_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    for (i, s) in sw.shared.dp.pmd_stats().iter().enumerate() {
        out.push_str(&pmd_block(&format!("pmd thread numa_id 0 core_id {i}"), s));
    }
    Ok(out)
}

/// `dpif/dump-flows [BRIDGE]`: every megaflow of the datapath (one
/// datapath serves every bridge), `KEY, packets:N, bytes:N, used:Ts,
/// actions:A`.
pub fn cmd_dump_flows(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let dp = &sw.shared.dp;
    let now = dp.now_ms();
    let mut out = String::new();
    for f in dp.flow_dump() {
        let mut key = ferrovs_datapath::flow::Flow::default();
        f.key.expand(&mut key);
        let mut mask = ferrovs_datapath::flow::Flow::default();
        f.mask.expand(&mut mask);
        let text = format_megaflow(&OfFlow::from_dp(&key), &OfFlow::from_dp(&mask));
        let used = if f.stats.used_ms == 0 {
            "never".to_string()
        } else {
            format!(
                "{:.3}s",
                now.saturating_sub(f.stats.used_ms) as f64 / 1000.0
            )
        };
        out.push_str(&format!(
            "{text}, packets:{}, bytes:{}, used:{used}, actions:{}\n",
            f.stats.packets,
            f.stats.bytes,
            format_dp_actions(&f.actions, &|p| p.to_string())
        ));
    }
    Ok(out)
}
