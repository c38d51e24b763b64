//! `memory/show`: what the switch holds, as OVS's one line of `KEY:N`
//! pairs in key order: `handlers` (the threads that handle upcalls: the
//! PMD threads, which translate misses themselves), `ports` (OpenFlow
//! ports of every bridge, local ports included), `revalidators` (one: the
//! main loop's round), `rules` (OpenFlow rules of every bridge; OVS also
//! counts its hidden internal rules, which ferrovs does not have) and
//! `udpif keys` (installed megaflows). OVS's `idl-cells-*` (database cells
//! held) are not reported.

use crate::ofconn::lock;
use crate::unixctl::Ctx;

/// `memory/show`.
pub fn cmd_memory_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let ports: usize = sw
        .bridges
        .values()
        .map(|b| b.ifaces.values().filter(|i| i.ofport.is_some()).count())
        .sum();
    let rules: usize = sw
        .bridges
        .values()
        .map(|b| lock(&b.ofproto).n_rules())
        .sum();
    let dp = &sw.shared.dp;
    Ok(format!(
        "handlers:{} ports:{ports} revalidators:1 rules:{rules} udpif keys:{}\n",
        dp.n_pmds(),
        dp.flow_count()
    ))
}
