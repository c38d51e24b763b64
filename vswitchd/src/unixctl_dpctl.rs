//! The datapath's flow table and ports as OVS's `dpctl/*` and
//! `dpif/dump-flows` print them: each megaflow's key and mask in ODP
//! syntax (`ferrovs_datapath::flow::odp_text`), its counters, then its
//! datapath actions. Read from the datapath's flow table; nothing on the
//! packet path changes.
//!
//! Known differences with OVS 3.1, kept with their reason: the verbose
//! form (`-m`) prints the stored (masked) key, so wildcarded fields show
//! 0 where OVS shows the first packet's value; OVS's
//! `dp-extra-info:miniflow_bits(..)` is left out (ferrovs's keys are not
//! OVS's miniflows); flows are grouped under their PMD thread's header
//! (every ferrovs port is polled by a PMD, where OVS puts dummy ports on
//! its main thread); `dpctl/show -s` has no per-port counters.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use ferrovs_datapath::dpif::FlowInfo;
use ferrovs_datapath::flow::odp_text::{format_odp_flow, OdpFormat};
use ferrovs_datapath::flow::Flow;
use ferrovs_datapath::Datapath;
use ferrovs_ofproto::port::{PortCounters, UNKNOWN};
use ferrovs_ofproto::xlate::odp_text::format_dp_actions;

use crate::unixctl::Ctx;

/// The one datapath's name, as OVS names its userspace datapath.
const DP_NAME: &str = "netdev@ovs-netdev";

/// Datapath port number to name, and to the port's type as `dpctl/show`
/// prints it.
struct DpPorts {
    names: BTreeMap<u32, String>,
    kinds: BTreeMap<u32, String>,
    /// Each interface's counters (the same as its OpenFlow port stats).
    stats: BTreeMap<u32, ferrovs_ofproto::port::PortStatsSource>,
}

fn dp_ports(ctx: &Ctx) -> (Arc<Datapath>, DpPorts) {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let dp = sw.shared.dp.clone();
    let mut kinds = BTreeMap::new();
    let mut stats = BTreeMap::new();
    for b in sw.bridges.values() {
        for i in b.ifaces.values() {
            let Some(n) = i.dp_port else { continue };
            stats.insert(n, i.stats_source());
            let k = match i.cfg.kind.as_str() {
                // OVS's userspace datapath backs internal ports with taps.
                "internal" => "tap",
                "" | "system" => "system",
                k => k,
            };
            kinds.insert(n, k.to_string());
        }
    }
    let names = dp
        .ports()
        .iter()
        .map(|p| (p.port_no, p.netdev.name().to_string()))
        .collect();
    (
        dp,
        DpPorts {
            names,
            kinds,
            stats,
        },
    )
}

/// Flow lines in OVS's layout. `dpctl`: `ufid:U, ` and `, dp:ovs` in the
/// verbose form (dpif/dump-flows has `ufid:U ` and no `dp:`).
fn format_flow(f: &FlowInfo, now: u64, verbose: bool, dpctl: bool, ports: &DpPorts) -> String {
    let mut key = Flow::default();
    f.key.expand(&mut key);
    let mut mask = Flow::default();
    f.mask.expand(&mut mask);
    let name = |p: u32| ports.names.get(&p).cloned();
    let opt = OdpFormat {
        verbose,
        port_name: verbose.then_some(&name as &dyn Fn(u32) -> Option<String>),
    };
    let mut s = String::new();
    if verbose {
        let _ = write!(
            s,
            "ufid:{}{}",
            ufid_text(f.ufid.0),
            if dpctl { ", " } else { " " }
        );
    }
    s.push_str(&format_odp_flow(&key, &mask, &opt));
    let used = if f.stats.used_ms == 0 {
        "never".to_string()
    } else {
        format!(
            "{:.3}s",
            now.saturating_sub(f.stats.used_ms) as f64 / 1000.0
        )
    };
    let _ = write!(
        s,
        ", packets:{}, bytes:{}, used:{used}",
        f.stats.packets, f.stats.bytes
    );
    if f.stats.tcp_flags != 0 {
        let _ = write!(s, ", flags:{}", tcp_flags_text(f.stats.tcp_flags));
    }
    if verbose && dpctl {
        s.push_str(", dp:ovs");
    }
    let actions = if verbose {
        format_dp_actions(&f.actions, &|p| {
            ports
                .names
                .get(&p)
                .cloned()
                .unwrap_or_else(|| p.to_string())
        })
    } else {
        format_dp_actions(&f.actions, &|p| p.to_string())
    };
    let _ = writeln!(s, ", actions:{actions}");
    s
}

/// A UFID as OVS prints it (a UUID's text form).
fn ufid_text(u: u128) -> String {
    let h = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The TCP flags seen, as OVS's `flags:` (S F P R U . E C N).
fn tcp_flags_text(f: u16) -> String {
    const ORDER: [(u16, char); 9] = [
        (0x002, 'S'),
        (0x001, 'F'),
        (0x008, 'P'),
        (0x004, 'R'),
        (0x020, 'U'),
        (0x010, '.'),
        (0x040, 'E'),
        (0x080, 'C'),
        (0x100, 'N'),
    ];
    ORDER
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// `-m`/`--more` among `args`; the rest are the positional arguments.
fn split_verbose(args: &[String]) -> (bool, Vec<&String>) {
    let verbose = args.iter().any(|a| a == "-m" || a == "--more");
    let rest = args.iter().filter(|a| !a.starts_with('-')).collect();
    (verbose, rest)
}

/// A datapath name argument must be ours.
fn check_dp(name: Option<&&String>) -> Result<(), String> {
    match name {
        Some(n) if n.as_str() != DP_NAME && n.as_str() != "ovs-netdev" => {
            Err(format!("datapath not found ({n})"))
        }
        _ => Ok(()),
    }
}

/// `dpctl/dump-flows [-m] [DP]`: every megaflow, under a header per PMD
/// thread.
pub fn cmd_dump_flows(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let (verbose, rest) = split_verbose(args);
    check_dp(rest.first())?;
    let (dp, ports) = dp_ports(ctx);
    let now = dp.now_ms();
    let cores: BTreeMap<usize, usize> = dp
        .pmd_info()
        .iter()
        .map(|p| (p.id, p.cpu.unwrap_or(p.id)))
        .collect();
    let mut flows = dp.flow_dump();
    flows.sort_by_key(|f| f.pmd);
    let mut out = String::new();
    let mut last = None;
    for f in &flows {
        if last != Some(f.pmd) {
            let core = cores.get(&f.pmd).copied().unwrap_or(f.pmd);
            let _ = writeln!(out, "flow-dump from pmd on cpu core: {core}");
            last = Some(f.pmd);
        }
        out.push_str(&format_flow(f, now, verbose, true, &ports));
    }
    Ok(out)
}

/// `dpif/dump-flows [-m] BRIDGE`: the megaflows whose input port belongs
/// to BRIDGE.
pub fn cmd_dpif_dump_flows(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let (verbose, rest) = split_verbose(args);
    let Some(bridge) = rest.first() else {
        return Err("usage: dpif/dump-flows [-m] [--names | --no-names] bridge".to_string());
    };
    let own: Vec<u32> = {
        let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
        let b = sw
            .bridges
            .get(bridge.as_str())
            .ok_or_else(|| "no such bridge".to_string())?;
        b.ifaces
            .values()
            .filter_map(|i| match &i.backing {
                Some(crate::iface::Backing::Tunnel(c)) => Some(c.dp_port),
                _ => i.dp_port,
            })
            .collect()
    };
    let (dp, ports) = dp_ports(ctx);
    let now = dp.now_ms();
    let mut out = String::new();
    for f in dp.flow_dump() {
        let port = f.key.get(ferrovs_datapath::flow::layout::IN_PORT) as u32;
        if own.contains(&port) {
            out.push_str(&format_flow(&f, now, verbose, false, &ports));
        }
    }
    Ok(out)
}

/// `dpctl/del-flows [DP]`: deletes every megaflow.
pub fn cmd_del_flows(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let rest: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    check_dp(rest.first())?;
    let (up, dp) = {
        let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
        (
            sw.shared.wiring.as_ref().map(|w| w.upcall.clone()),
            sw.shared.dp.clone(),
        )
    };
    // Counters since the last push go to the rules first, as a purge.
    if let Some(up) = up {
        up.flush_stats();
    }
    dp.flow_flush();
    Ok(String::new())
}

/// `dpctl/dump-dps`: the datapaths, one a line.
pub fn cmd_dump_dps(_: &Ctx, _: &[String]) -> Result<String, String> {
    Ok(format!("{DP_NAME}\n"))
}

/// `dpctl/show [DP]`: lookups, flow count and ports, in port order.
pub fn cmd_show(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let with_stats = args.iter().any(|a| a == "-s" || a == "--statistics");
    let rest: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    check_dp(rest.first())?;
    let (dp, ports) = dp_ports(ctx);
    let st = dp.stats();
    let mut s = format!(
        "{DP_NAME}:\n  lookups: hit:{} missed:{} lost:{}\n  flows: {}\n",
        st.emc_hits + st.megaflow_hits,
        st.misses,
        st.upcall_errors,
        dp.flow_count()
    );
    for (n, name) in &ports.names {
        let kind = ports.kinds.get(n).map_or("system", String::as_str);
        let _ = writeln!(s, "  port {n}: {name} ({kind})");
        if with_stats {
            let c = ports
                .stats
                .get(n)
                .map_or_else(|| PortCounters::packets_bytes(0, 0, 0, 0), |src| src());
            show_counters(&mut s, &c);
        }
    }
    Ok(s)
}

/// A port's counters as `dpctl/show -s` prints them (`?` for what the
/// device does not count, sizes from 1 KiB on in binary units too).
fn show_counters(s: &mut String, c: &PortCounters) {
    let v = |x: u64| {
        if x == UNKNOWN {
            "?".to_string()
        } else {
            x.to_string()
        }
    };
    let human = |x: u64| {
        const K: f64 = 1024.0;
        let f = x as f64;
        match x {
            UNKNOWN => String::new(),
            x if x >= 1 << 40 => format!(" ({:.1} TiB)", f / (K * K * K * K)),
            x if x >= 1 << 30 => format!(" ({:.1} GiB)", f / (K * K * K)),
            x if x >= 1 << 20 => format!(" ({:.1} MiB)", f / (K * K)),
            x if x >= 1 << 10 => format!(" ({:.1} KiB)", f / K),
            _ => String::new(),
        }
    };
    let _ = writeln!(
        s,
        "    RX packets:{} errors:{} dropped:{} overruns:{} frame:{}",
        v(c.rx_packets),
        v(c.rx_errors),
        v(c.rx_dropped),
        v(c.rx_over_err),
        v(c.rx_frame_err)
    );
    let _ = writeln!(
        s,
        "    TX packets:{} errors:{} dropped:{} aborted:{} carrier:{}",
        v(c.tx_packets),
        v(c.tx_errors),
        v(c.tx_dropped),
        v(c.tx_aborted_err),
        v(c.tx_carrier_err)
    );
    let _ = writeln!(s, "    collisions:{}", v(c.collisions));
    let _ = writeln!(
        s,
        "    RX bytes:{}{}  TX bytes:{}{}",
        v(c.rx_bytes),
        human(c.rx_bytes),
        v(c.tx_bytes),
        human(c.tx_bytes)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_ufid_as_ovs() {
        assert_eq!(tcp_flags_text(0x012), "S.");
        assert_eq!(tcp_flags_text(0x019), "FP.");
        assert_eq!(
            ufid_text(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
            "01234567-89ab-cdef-0011-223344556677"
        );
    }
}
