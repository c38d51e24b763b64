//! `dpif/dump-flows`: the installed megaflows of the userspace datapath
//! with their statistics and actions, read from the datapath's flow table
//! (nothing on the packet path changes). The PMD views are in
//! `unixctl_pmd`.
//!
//! Difference from OVS, on purpose for now: a megaflow's key is printed in
//! OpenFlow match syntax, as the `Megaflow:` line of `ofproto/trace`, not
//! in OVS's datapath (ODP) key syntax.

use crate::unixctl::Ctx;
use ferrovs_ofproto::flow::OfFlow;
use ferrovs_ofproto::trace::format_megaflow;
use ferrovs_ofproto::xlate::odp_text::format_dp_actions;

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
