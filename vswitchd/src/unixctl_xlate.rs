//! unixctl commands over translation and the megaflow cache, in OVS's
//! formats: `ofproto/trace`, `revalidator/wait`,
//! `revalidator/purge`, `upcall/show`, `dpif/show`, `dpif/dump-dps`. Each takes what it needs out of the
//! switch under its lock and works after releasing it, since a trace or a
//! revalidation round locks every bridge's `Ofproto`.

use std::sync::Arc;

use ferrovs_datapath::Datapath;
use ferrovs_ofproto::upcall::OfprotoUpcall;

use crate::unixctl::{with_wiring, Ctx};
use crate::xlate_glue;

/// The upcall handler and the datapath, taken out of the switch.
pub(crate) fn upcall_of(ctx: &Ctx) -> Result<(Arc<OfprotoUpcall>, Arc<Datapath>), String> {
    with_wiring(ctx, |sw, w| Ok((w.upcall.clone(), sw.shared.dp.clone())))
}

/// `ofproto/trace BRIDGE FLOW [-generate] [--format=json]` (JSON: see
/// `trace_json`).
pub fn cmd_trace(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let mut json = false;
    let mut generate = false;
    let mut rest: Vec<&String> = Vec::new();
    let mut ct_next = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-generate" | "--generate" => generate = true,
            "--format=json" => json = true,
            "--format=text" => json = false,
            f if f.starts_with("--format=") => {
                return Err(format!("{f}: the formats are text (the default) and json"));
            }
            "--ct-next" => {
                let v = it
                    .next()
                    .ok_or_else(|| "missing argument to --ct-next option".to_string())?;
                ct_next.push(ferrovs_ofproto::trace_ct::parse_ct_state(v)?);
            }
            _ => rest.push(a),
        }
    }
    let [bridge, flow] = rest[..] else {
        return Err(
            "usage: ofproto/trace BRIDGE FLOW [-generate] [--ct-next FLAGS] [--format=json]"
                .to_string(),
        );
    };
    let (up, _) = upcall_of(ctx)?;
    let text = up
        .trace_ct_next(bridge, flow, &ct_next, generate)
        .map_err(|e| e.to_string())?;
    if json {
        Ok(format!("{}\n", crate::trace_json::trace_to_json(&text)))
    } else {
        Ok(text)
    }
}

/// `ofproto/trace-packet-out [-consistent] BRIDGE FLOW ACTIONS`.
pub fn cmd_trace_packet_out(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let rest: Vec<&String> = args
        .iter()
        .filter(|a| *a != "-consistent" && *a != "-generate")
        .collect();
    let [bridge, flow, actions] = rest[..] else {
        return Err(
            "usage: ofproto/trace-packet-out [-consistent] BRIDGE FLOW ACTIONS".to_string(),
        );
    };
    let (up, _) = upcall_of(ctx)?;
    up.trace_packet_out(bridge, flow, actions)
        .map_err(|e| e.to_string())
}

/// `revalidator/wait`: returns after one full revalidation round (and the
/// statistics and packet-ins it owes), run here; while the revalidator is
/// paused, after it is resumed (OVS's waits for a dump, which paused
/// revalidators do not make).
pub fn cmd_revalidator_wait(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let reval = ctx
        .switch
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reval
        .clone();
    reval.wait_resumed();
    let (work, dp) = {
        let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
        (xlate_glue::tick_work(&sw), sw.shared.dp.clone())
    };
    let work = work.ok_or_else(|| "packet translation is not running".to_string())?;
    xlate_glue::tick(&work, &dp);
    Ok(String::new())
}

/// `revalidator/purge`: deletes every megaflow.
pub fn cmd_revalidator_purge(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let (up, dp) = upcall_of(ctx)?;
    up.flush_stats();
    dp.flow_flush();
    Ok(String::new())
}

/// `upcall/show`, in OVS's layout (one datapath, one revalidator: the
/// main loop's round).
pub fn cmd_upcall_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    with_wiring(ctx, |sw, w| {
        let n = sw.shared.dp.flow_count();
        let limit = sw.flow_limits.limit();
        let ufid = sw.reval.ufid();
        let max = w.max_flows.max(n);
        let (keys, ms) = w
            .last_round
            .map(|(st, d)| (st.checked, d.as_millis()))
            .unwrap_or((0, 0));
        Ok(format!(
            "netdev@ovs-netdev:\n  flows         : (current {n}) (avg {n}) (max {max}) (limit {limit})\n  dump duration : {ms}ms\n  ufid enabled : {ufid}\n\n  0: (keys {keys})\n"
        ))
    })
}

/// `dpif/show`: the datapath's hit and miss counts, then each bridge's
/// ports as `NAME OFPORT/DPPORT: (TYPE)`, in name order.
pub fn cmd_dpif_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let st = sw.shared.dp.stats();
    let mut s = format!(
        "netdev@ovs-netdev: hit:{} missed:{}\n",
        st.emc_hits + st.megaflow_hits,
        st.misses
    );
    for (bn, b) in &sw.bridges {
        s.push_str(&format!("  {bn}:\n"));
        for (n, i) in &b.ifaces {
            let Some(of) = i.ofport else { continue };
            let dp = match &i.backing {
                Some(crate::iface::Backing::Tunnel(c)) => c.dp_port.to_string(),
                _ => i.dp_port.map_or("none".to_string(), |d| d.to_string()),
            };
            let kind = match &i.backing {
                Some(crate::iface::Backing::Patch { peer }) => format!("patch: peer={peer}"),
                Some(crate::iface::Backing::Tunnel(c)) => c.describe(),
                _ if i.cfg.kind.is_empty() => "system".to_string(),
                _ => i.cfg.kind.clone(),
            };
            s.push_str(&format!("    {n} {of}/{dp}: ({kind})\n"));
        }
    }
    Ok(s)
}

/// `dpif/dump-dps`: `TYPE@BRIDGE` per running bridge (OVS's
/// `ofproto->up.type`, the datapath type, `system` when unset), in name
/// order (OVS's is its hash order).
pub fn cmd_dpif_dump_dps(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    Ok(sw
        .bridges
        .iter()
        .map(|(n, b)| {
            let t = match b.settings.datapath_type.as_str() {
                "" => "system",
                t => t,
            };
            format!("{t}@{n}\n")
        })
        .collect())
}
