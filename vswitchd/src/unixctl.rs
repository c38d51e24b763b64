//! The unixctl server that `ovs-appctl -t SOCKET COMMAND ARGS...` talks
//! to: JSON-RPC 1.0 over a unix stream socket, one request
//! `{"method": COMMAND, "params": [ARG...], "id": N}` answered by
//! `{"result": TEXT, "error": null, "id": N}` or an error text.
//!
//! Every command lives in one table (`COMMANDS`) with its usage and
//! argument counts; `list-commands` prints that table, so what is listed is
//! exactly what runs. Handlers are short and synchronous: they lock the
//! switch briefly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferrovs_datapath::packet::DpPacket;
use ovsdb::jsonrpc::Framer;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::dummy_packet;
use crate::iface::Backing;
use crate::switch::Switch;
use crate::unixctl_ct;
use crate::unixctl_dpctl;
use crate::unixctl_fdb;
use crate::unixctl_memory;
use crate::unixctl_pmd;
use crate::unixctl_tnl;
use crate::unixctl_upcall;
use crate::unixctl_xlate;
use crate::vlog::Vlog;
use ferrovs_datapath::netdev::Netdev;

pub const VERSION: &str = concat!(
    "ferrovs-vswitchd (ferrovs) ",
    env!("CARGO_PKG_VERSION"),
    ", compatible with Open vSwitch 3.1"
);

/// What commands act on.
pub struct Ctx {
    pub switch: Arc<Mutex<Switch>>,
    pub vlog: Arc<Vlog>,
    /// Notified by `exit`.
    pub exit: Arc<Notify>,
}

type Handler = fn(&Ctx, &[String]) -> Result<String, String>;

struct Command {
    name: &'static str,
    /// None: not listed by `list-commands` (OVS's commands registered
    /// without usage, as `revalidator/pause`).
    usage: Option<&'static str>,
    min_args: usize,
    max_args: usize,
    run: Handler,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "bridge/dump-flows",
        usage: Some("[--offload-stats] bridge"),
        min_args: 1,
        max_args: 2,
        run: cmd_dump_flows,
    },
    Command {
        name: "bridge/reconnect",
        usage: Some("[bridge]"),
        min_args: 0,
        max_args: 1,
        run: cmd_reconnect,
    },
    Command {
        name: "coverage/read-counter",
        usage: Some("COUNTER"),
        min_args: 1,
        max_args: 1,
        run: crate::coverage::cmd_coverage_read_counter,
    },
    Command {
        name: "coverage/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: crate::coverage::cmd_coverage_show,
    },
    Command {
        name: "dpctl/ct-bkts",
        usage: Some("[dp] [gt=N]"),
        min_args: 0,
        max_args: 2,
        run: unixctl_ct::cmd_ct_bkts,
    },
    Command {
        name: "dpctl/ct-del-limits",
        usage: Some("[dp] zone=N1[,N2]..."),
        min_args: 1,
        max_args: 2,
        run: unixctl_ct::cmd_ct_del_limits,
    },
    Command {
        name: "dpctl/ct-disable-tcp-seq-chk",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_ct::cmd_ct_disable_tcp_seq_chk,
    },
    Command {
        name: "dpctl/ct-enable-tcp-seq-chk",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_ct::cmd_ct_enable_tcp_seq_chk,
    },
    Command {
        name: "dpctl/ct-get-limits",
        usage: Some("[dp] [zone=N1[,N2]...]"),
        min_args: 0,
        max_args: 2,
        run: unixctl_ct::cmd_ct_get_limits,
    },
    Command {
        name: "dpctl/ct-get-maxconns",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_ct::cmd_ct_get_maxconns,
    },
    Command {
        name: "dpctl/ct-get-nconns",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_ct::cmd_ct_get_nconns,
    },
    Command {
        name: "dpctl/ct-get-tcp-seq-chk",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_ct::cmd_ct_get_tcp_seq_chk,
    },
    Command {
        name: "dpctl/ct-set-limits",
        usage: Some("[dp] [default=L] [zone=N,limit=L]..."),
        min_args: 0,
        max_args: usize::MAX,
        run: unixctl_ct::cmd_ct_set_limits,
    },
    Command {
        name: "dpctl/ct-set-maxconns",
        usage: Some("[dp] maxconns"),
        min_args: 1,
        max_args: 2,
        run: unixctl_ct::cmd_ct_set_maxconns,
    },
    Command {
        name: "dpctl/ct-stats-show",
        usage: Some("[dp] [zone=N]"),
        min_args: 0,
        max_args: 3,
        run: unixctl_ct::cmd_ct_stats_show,
    },
    Command {
        name: "dpctl/del-flows",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_dpctl::cmd_del_flows,
    },
    Command {
        name: "dpctl/dump-conntrack",
        usage: Some("[-m] [-s] [dp] [zone=N]"),
        min_args: 0,
        max_args: 4,
        run: unixctl_ct::cmd_dump_conntrack,
    },
    Command {
        name: "dpctl/dump-dps",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_dpctl::cmd_dump_dps,
    },
    Command {
        name: "dpctl/dump-flows",
        usage: Some("[-m] [--names] [dp]"),
        min_args: 0,
        max_args: 6,
        run: unixctl_dpctl::cmd_dump_flows,
    },
    Command {
        name: "dpctl/flush-conntrack",
        usage: Some("[dp] [zone=N] [ct-orig-tuple]"),
        min_args: 0,
        max_args: 3,
        run: unixctl_ct::cmd_flush_conntrack,
    },
    Command {
        name: "dpctl/ipf-get-status",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 2,
        run: crate::unixctl_ipf::cmd_ipf_get_status,
    },
    Command {
        name: "dpctl/ipf-set-disabled",
        usage: Some("[dp] v4|v6"),
        min_args: 1,
        max_args: 2,
        run: crate::unixctl_ipf::cmd_ipf_set_disabled,
    },
    Command {
        name: "dpctl/ipf-set-enabled",
        usage: Some("[dp] v4|v6"),
        min_args: 1,
        max_args: 2,
        run: crate::unixctl_ipf::cmd_ipf_set_enabled,
    },
    Command {
        name: "dpctl/ipf-set-max-nfrags",
        usage: Some("[dp] maxfrags"),
        min_args: 1,
        max_args: 2,
        run: crate::unixctl_ipf::cmd_ipf_set_max_nfrags,
    },
    Command {
        name: "dpctl/ipf-set-min-frag",
        usage: Some("[dp] v4|v6 minfragment"),
        min_args: 2,
        max_args: 3,
        run: crate::unixctl_ipf::cmd_ipf_set_min_frag,
    },
    Command {
        name: "dpctl/show",
        usage: Some("[dp...]"),
        min_args: 0,
        max_args: 8,
        run: unixctl_dpctl::cmd_show,
    },
    Command {
        name: "dpif-netdev/pmd-rxq-rebalance",
        usage: Some("[dp]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_pmd::cmd_pmd_rxq_rebalance,
    },
    Command {
        name: "dpif-netdev/pmd-rxq-show",
        usage: Some("[-pmd core] [dp]"),
        min_args: 0,
        max_args: 3,
        run: unixctl_pmd::cmd_pmd_rxq_show,
    },
    Command {
        name: "dpif-netdev/pmd-stats-clear",
        usage: Some("[-pmd core] [dp]"),
        min_args: 0,
        max_args: 3,
        run: unixctl_pmd::cmd_pmd_stats_clear,
    },
    Command {
        name: "dpif-netdev/pmd-stats-show",
        usage: Some("[-pmd core] [dp]"),
        min_args: 0,
        max_args: 3,
        run: unixctl_pmd::cmd_pmd_stats_show,
    },
    Command {
        name: "dpif/dump-dps",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_xlate::cmd_dpif_dump_dps,
    },
    Command {
        name: "dpif/dump-flows",
        usage: Some("[-m] [--names | --no-names] bridge"),
        min_args: 1,
        max_args: 4,
        run: unixctl_dpctl::cmd_dpif_dump_flows,
    },
    Command {
        name: "dpif/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_xlate::cmd_dpif_show,
    },
    Command {
        name: "exit",
        usage: Some("[--cleanup]"),
        min_args: 0,
        max_args: 1,
        run: cmd_exit,
    },
    Command {
        name: "fdb/add",
        usage: Some("bridge port vlan mac"),
        min_args: 4,
        max_args: 4,
        run: unixctl_fdb::cmd_fdb_add,
    },
    Command {
        name: "fdb/del",
        usage: Some("bridge vlan mac"),
        min_args: 3,
        max_args: 3,
        run: unixctl_fdb::cmd_fdb_del,
    },
    Command {
        name: "fdb/flush",
        usage: Some("[bridge]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_fdb::cmd_fdb_flush,
    },
    Command {
        name: "fdb/show",
        usage: Some("bridge"),
        min_args: 1,
        max_args: 1,
        run: unixctl_fdb::cmd_fdb_show,
    },
    Command {
        name: "fdb/stats-clear",
        usage: Some("[bridge]"),
        min_args: 0,
        max_args: 1,
        run: unixctl_fdb::cmd_fdb_stats_clear,
    },
    Command {
        name: "fdb/stats-show",
        usage: Some("bridge"),
        min_args: 1,
        max_args: 1,
        run: unixctl_fdb::cmd_fdb_stats_show,
    },
    Command {
        name: "list-commands",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: cmd_list,
    },
    Command {
        name: "memory/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_memory::cmd_memory_show,
    },
    Command {
        name: "netdev-dummy/receive",
        usage: Some("name [--qid queue_id] packet|flow [--len packet_len]"),
        min_args: 2,
        max_args: usize::MAX,
        run: cmd_receive,
    },
    Command {
        name: "ofproto/list",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: cmd_ofproto_list,
    },
    Command {
        name: "ofproto/list-tunnels",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_tnl::cmd_list_tunnels,
    },
    Command {
        name: "ofproto/trace",
        usage: Some("{[dp_name] odp_flow | bridge br_flow} [OPTIONS...] [-generate|packet] [--format=json]"),
        min_args: 1,
        max_args: usize::MAX,
        run: unixctl_xlate::cmd_trace,
    },
    Command {
        name: "ofproto/trace-packet-out",
        usage: Some("[-consistent] {[dp_name] odp_flow | bridge br_flow} [OPTIONS...] [-generate|packet] actions"),
        min_args: 2,
        max_args: usize::MAX,
        run: unixctl_xlate::cmd_trace_packet_out,
    },
    Command {
        name: "ovs/route/add",
        usage: Some("ip_addr/prefix_len out_br_name [gw] [pkt_mark=mark]"),
        min_args: 2,
        max_args: 4,
        run: unixctl_tnl::cmd_route_add,
    },
    Command {
        name: "ovs/route/del",
        usage: Some("ip_addr/prefix_len [pkt_mark=mark]"),
        min_args: 1,
        max_args: 2,
        run: unixctl_tnl::cmd_route_del,
    },
    Command {
        name: "ovs/route/lookup",
        usage: Some("ip_addr [pkt_mark=mark]"),
        min_args: 1,
        max_args: 2,
        run: unixctl_tnl::cmd_route_lookup,
    },
    Command {
        name: "ovs/route/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_tnl::cmd_route_show,
    },
    Command {
        name: "revalidator/pause",
        usage: None,
        min_args: 0,
        max_args: 0,
        run: unixctl_upcall::cmd_revalidator_pause,
    },
    Command {
        name: "revalidator/purge",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_xlate::cmd_revalidator_purge,
    },
    Command {
        name: "revalidator/resume",
        usage: None,
        min_args: 0,
        max_args: 0,
        run: unixctl_upcall::cmd_revalidator_resume,
    },
    Command {
        name: "revalidator/wait",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_xlate::cmd_revalidator_wait,
    },
    Command {
        name: "tnl/arp/flush",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_tnl::cmd_neigh_flush,
    },
    Command {
        name: "tnl/arp/set",
        usage: Some("BRIDGE IP MAC"),
        min_args: 3,
        max_args: 3,
        run: unixctl_tnl::cmd_neigh_set,
    },
    Command {
        name: "tnl/arp/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_tnl::cmd_neigh_show,
    },
    Command {
        name: "tnl/drops/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_tnl::cmd_drops_show,
    },
    Command {
        name: "tnl/neigh/flush",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_tnl::cmd_neigh_flush,
    },
    Command {
        name: "tnl/neigh/set",
        usage: Some("BRIDGE IP MAC"),
        min_args: 3,
        max_args: 3,
        run: unixctl_tnl::cmd_neigh_set,
    },
    Command {
        name: "tnl/neigh/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_tnl::cmd_neigh_show,
    },
    Command {
        name: "tnl/ports/show",
        usage: Some("-v"),
        min_args: 0,
        max_args: 1,
        run: unixctl_tnl::cmd_ports_show,
    },
    Command {
        name: "upcall/disable-megaflows",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_upcall::cmd_disable_megaflows,
    },
    Command {
        name: "upcall/disable-ufid",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_upcall::cmd_disable_ufid,
    },
    Command {
        name: "upcall/enable-megaflows",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_upcall::cmd_enable_megaflows,
    },
    Command {
        name: "upcall/enable-ufid",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_upcall::cmd_enable_ufid,
    },
    Command {
        name: "upcall/set-flow-limit",
        usage: Some("flow-limit-number"),
        min_args: 1,
        max_args: 1,
        run: unixctl_upcall::cmd_set_flow_limit,
    },
    Command {
        name: "upcall/show",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: unixctl_xlate::cmd_upcall_show,
    },
    Command {
        name: "version",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: cmd_version,
    },
    Command {
        name: "vlog/close",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: cmd_vlog_close,
    },
    Command {
        name: "vlog/list",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: cmd_vlog_list,
    },
    Command {
        name: "vlog/reopen",
        usage: Some(""),
        min_args: 0,
        max_args: 0,
        run: cmd_vlog_reopen,
    },
    Command {
        name: "vlog/set",
        usage: Some("{spec | PATTERN:destination:pattern}"),
        min_args: 0,
        max_args: usize::MAX,
        run: cmd_vlog_set,
    },
];

/// The switch stops a moment after the reply (as OVS's, which replies and
/// exits on its next main loop turn), so the reply reaches `ovs-appctl`.
fn cmd_exit(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let exit = ctx.exit.clone();
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                exit.notify_one();
            });
        }
        Err(_) => exit.notify_one(),
    }
    Ok(String::new())
}

/// Runs `f` on the switch and its packet-translation wiring, under the
/// switch's lock (an error when translation is not running).
pub(crate) fn with_wiring<T>(
    ctx: &Ctx,
    f: impl FnOnce(&Switch, &crate::xlate_glue::Wiring) -> Result<T, String>,
) -> Result<T, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let w = sw
        .shared
        .wiring
        .as_ref()
        .ok_or_else(|| "packet translation is not running".to_string())?;
    f(&sw, w)
}

fn cmd_list(_: &Ctx, _: &[String]) -> Result<String, String> {
    let mut s = String::from("The available commands are:\n");
    // The table is sorted by name (`table_is_sorted`), as OVS lists.
    for c in COMMANDS {
        if let Some(usage) = c.usage {
            s.push_str(&format!("  {:<23} {}\n", c.name, usage));
        }
    }
    Ok(s)
}

fn cmd_version(_: &Ctx, _: &[String]) -> Result<String, String> {
    Ok(format!("{VERSION}\n"))
}

fn cmd_vlog_list(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    Ok(ctx.vlog.list())
}

fn cmd_vlog_close(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    ctx.vlog.close();
    Ok(String::new())
}

fn cmd_vlog_reopen(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    ctx.vlog.reopen().map(|_| String::new())
}

fn cmd_vlog_set(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    ctx.vlog.set(args).map(|_| String::new())
}

fn cmd_ofproto_list(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    Ok(sw.bridges.keys().map(|n| format!("{n}\n")).collect())
}

/// `bridge/dump-flows [--offload-stats] BRIDGE`: every rule of every
/// table, hidden ones included, as OVS's `flow_stats_ds` prints them
/// (`table_id=N, ` unless table 0, duration, counters, match with
/// priority, actions). `--offload-stats` is accepted; ferrovs offloads
/// nothing, so there is nothing more to print.
fn cmd_dump_flows(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let name = args.last().map(String::as_str).unwrap_or("");
    if args.len() == 2 && args[0] != "--offload-stats" {
        return Err(format!("invalid option {}", args[0]));
    }
    let of = {
        let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
        sw.bridges
            .get(name)
            .map(|b| b.ofproto.clone())
            .ok_or_else(|| "Unknown bridge".to_string())?
    };
    let of = crate::ofconn::lock(&of);
    let now = of.now();
    let mut out = String::new();
    for r in of.rules() {
        crate::flow_dump::format_rule(r, now, &mut out);
    }
    Ok(out)
}

/// `bridge/reconnect [BRIDGE]`: every OpenFlow connection of the bridge
/// (of every bridge without one) is closed once its queued output is
/// written; active controllers connect again after their backoff, as
/// OVS's `connmgr_reconnect`.
fn cmd_reconnect(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let ofprotos: Vec<_> = match args.first() {
        Some(n) => vec![sw
            .bridges
            .get(n.as_str())
            .map(|b| b.ofproto.clone())
            .ok_or_else(|| "Unknown bridge".to_string())?],
        None => sw.bridges.values().map(|b| b.ofproto.clone()).collect(),
    };
    drop(sw);
    for of in ofprotos {
        let n = crate::ofconn::lock(&of).reconnect_all();
        tracing::info!("bridge/reconnect: {n} connections closed");
    }
    Ok(String::new())
}

/// `netdev-dummy/receive NAME [--qid N] PACKET|FLOW [--len N]...`: each
/// packet (hex, or a datapath flow to compose one from) enters the dummy
/// interface's receive queue as if it arrived on the wire; with
/// `options:rxq_pcap=FILE` on the interface it is also appended there.
fn cmd_receive(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let iface = sw
        .iface(&args[0])
        .filter(|i| i.backing == Some(Backing::Dummy))
        .ok_or_else(|| "no such dummy netdev".to_string())?;
    let nd = iface
        .netdev
        .clone()
        .ok_or_else(|| "no such dummy netdev".to_string())?;
    let pcap = iface.cfg.options.get("rxq_pcap").cloned();
    drop(sw);
    let (qid, packets) = dummy_packet::parse_receive(&args[1..], nd.n_rxq())?;
    if let Some(f) = pcap {
        if let Err(e) = crate::pcap::append(std::path::Path::new(&f), &packets) {
            tracing::warn!("{}: rxq_pcap {f}: {e}", args[0]);
        }
    }
    for p in packets {
        if !nd.inject(qid, DpPacket::from_bytes(&p)) {
            return Err(format!("{}: receive queue full", args[0]));
        }
    }
    Ok(String::new())
}

/// C's `atoi` on glibc, as OVS reads many numeric arguments: blanks, a
/// sign, decimal digits up to the first other character (none: 0);
/// `strtol` saturates at the 64-bit `long` bounds, the `int` keeps the
/// low 32 bits.
pub fn c_atoi(s: &str) -> i32 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut mag: u128 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        mag = (mag * 10 + (b - b'0') as u128).min(1 << 64);
    }
    let long = if neg {
        (-(mag as i128)).max(i64::MIN as i128) as i64
    } else {
        mag.min(i64::MAX as u128) as i64
    };
    long as i32
}

/// Runs one request; returns the reply and whether it was `exit`.
pub fn dispatch(ctx: &Ctx, method: &str, params: &[String]) -> Result<String, String> {
    let Some(c) = COMMANDS.iter().find(|c| c.name == method) else {
        return Err(format!("\"{method}\" is not a valid command (use \"list-commands\" to see a list of valid commands)"));
    };
    if params.len() < c.min_args {
        return Err(format!(
            "\"{method}\" command requires at least {} arguments",
            c.min_args
        ));
    }
    if params.len() > c.max_args {
        return Err(format!(
            "\"{method}\" command takes at most {} arguments",
            c.max_args
        ));
    }
    (c.run)(ctx, params)
}

/// The unixctl socket; its file is removed on drop.
pub struct Server {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Server {
    pub fn start(path: &Path, ctx: Arc<Ctx>) -> std::io::Result<Server> {
        let _ = std::fs::remove_file(path);
        let l = tokio::net::UnixListener::bind(path)?;
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    a = l.accept() => match a {
                        Ok((s, _)) => {
                            let ctx = ctx.clone();
                            conns.spawn(async move {
                                if let Err(e) = serve(s, ctx).await {
                                    tracing::debug!("unixctl connection: {e}");
                                }
                            });
                        }
                        Err(e) => {
                            tracing::warn!("unixctl accept: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    },
                    Some(_) = conns.join_next() => {}
                }
            }
        });
        Ok(Server {
            path: path.to_path_buf(),
            task,
        })
    }
}

/// A non-empty reply ends with a newline, as OVS's unixctl server makes
/// it (ovs-appctl prints the text as it is).
fn with_newline(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Requests larger than this close the connection.
const MAX_REQUEST: usize = 1 << 20;

/// Each request runs on the blocking pool: a handler may wait (as
/// `revalidator/wait` while the revalidator is paused) without holding a
/// runtime thread that other connections (`revalidator/resume`) need.
async fn serve(mut s: tokio::net::UnixStream, ctx: Arc<Ctx>) -> anyhow::Result<()> {
    let mut framer = Framer::with_limit(MAX_REQUEST);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        framer.push(&buf[..n]);
        while let Some(text) = framer.next_message()? {
            let c = ctx.clone();
            let reply = tokio::task::spawn_blocking(move || handle_request(&c, &text))
                .await?
                .map_err(anyhow::Error::msg)?;
            s.write_all(&reply).await?;
        }
    }
}

/// Runs one framed JSON-RPC request and returns the reply's bytes. A text
/// that is not a JSON object is a protocol error (Err: the connection
/// closes, as OVS's does); a bad command or bad arguments get an error
/// reply.
pub fn handle_request(ctx: &Ctx, text: &[u8]) -> Result<Vec<u8>, String> {
    let v: Value =
        serde_json::from_slice(text).map_err(|e| format!("bad JSON-RPC message: {e}"))?;
    if !v.is_object() {
        return Err("JSON-RPC message must be an object".into());
    }
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let method = v.get("method").and_then(Value::as_str).unwrap_or("");
    let reply = match v.get("params").and_then(Value::as_array) {
        Some(ps) if ps.iter().all(Value::is_string) => {
            let params: Vec<String> = ps
                .iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect();
            tracing::debug!("unixctl: {method} {params:?}");
            dispatch(ctx, method, &params)
        }
        _ => Err("command arguments must be strings".to_string()),
    };
    let msg = match reply.map(with_newline).map_err(with_newline) {
        Ok(r) => json!({"id": id, "result": r, "error": null}),
        Err(e) => json!({"id": id, "result": null, "error": e}),
    };
    serde_json::to_vec(&msg).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted() {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    /// The values Debian's OVS 3.1 replied `set flow_limit to N` with.
    #[test]
    fn atoi_as_ovs() {
        for (s, want) in [
            ("5000", 5000u32),
            ("x", 0),
            ("", 0),
            ("-5", 4294967291),
            (" 12abc", 12),
            ("+7", 7),
            ("0x10", 0),
            ("99999999999", 1215752191),
            ("-99999999999", 3079215105),
            ("999999999999999999999", 4294967295),
            ("-999999999999999999999", 0),
        ] {
            assert_eq!(c_atoi(s) as u32, want, "{s:?}");
        }
    }
}
