//! The `dpctl/*` conntrack commands of the unixctl server, printing what
//! OVS's dpctl prints: `dump-conntrack`, `flush-conntrack`,
//! `ct-stats-show`, `ct-{set,get}-maxconns`, `ct-get-nconns`,
//! `ct-{set,get,del}-limits`, `ct-bkts` and the TCP sequence check
//! switches.
//!
//! Every command accepts (and ignores) a leading datapath name, as OVS's
//! do (`ovs-netdev`, `netdev@ovs-netdev`): ferrovs has one datapath.

use std::fmt::Write as _;
use std::sync::Arc;

use ferrovs_datapath::conntrack::fmt as ctfmt;
use ferrovs_datapath::conntrack::tcp::TcpState;
use ferrovs_datapath::conntrack::{ConnKey, Conntrack, Endpoint, ProtoState};
use ferrovs_datapath::Datapath;

use crate::unixctl::Ctx;

fn datapath(ctx: &Ctx) -> Arc<Datapath> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    sw.shared.dp.clone()
}

/// Arguments without a leading datapath name.
pub(crate) fn args_after_dp(args: &[String]) -> &[String] {
    match args.first() {
        Some(a) if a.contains("ovs-") || a.starts_with("netdev@") || a.starts_with("system@") => {
            &args[1..]
        }
        _ => args,
    }
}

fn parse_zone(a: &str) -> Option<u16> {
    a.strip_prefix("zone=")?.parse().ok()
}

/// `dpctl/dump-conntrack [dp] [-m] [-s] [zone=N]`.
pub fn cmd_dump_conntrack(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let (mut zone, mut stats) = (None, false);
    for a in args_after_dp(args) {
        match a.as_str() {
            "-m" | "--more" => {}
            "-s" | "--statistics" => stats = true,
            _ => match parse_zone(a) {
                Some(z) => zone = Some(z),
                None => return Err(format!("invalid argument \"{a}\"")),
            },
        }
    }
    let dp = datapath(ctx);
    let now = dp.now_ms();
    let mut lines = Vec::new();
    dp.conntrack().table().for_each(|c| {
        if zone.is_none_or(|z| c.fwd.zone == z) && !c.expired(now) {
            lines.push(ctfmt::entry(c, now, stats));
        }
    });
    lines.sort();
    Ok(lines.into_iter().map(|l| l + "\n").collect())
}

fn parse_addr(v: &str) -> Option<(u128, bool)> {
    if let Ok(a) = v.parse::<std::net::Ipv4Addr>() {
        return Some((u32::from(a) as u128, false));
    }
    v.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|a| (u128::from(a), true))
}

/// An original-direction tuple in OVS's flush syntax:
/// `ct_nw_src=..,ct_nw_dst=..,ct_nw_proto=..,ct_tp_src=..,ct_tp_dst=..`
/// (`ct_ipv6_*` for IPv6; `icmp_id`, `icmp_type`, `icmp_code` for ICMP).
fn parse_tuple(s: &str, zone: u16) -> Result<ConnKey, String> {
    let mut k = ConnKey {
        zone,
        ..ConnKey::default()
    };
    let (mut src, mut dst) = (Endpoint::default(), Endpoint::default());
    for kv in s.split(',') {
        let (f, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("invalid conntrack tuple field: {kv}"))?;
        let num = || v.parse::<u16>().map_err(|_| format!("invalid value: {kv}"));
        match f {
            "ct_nw_src" | "ct_ipv6_src" => {
                let (a, v6) = parse_addr(v).ok_or_else(|| format!("invalid address: {kv}"))?;
                src.addr = a;
                k.v6 = v6;
            }
            "ct_nw_dst" | "ct_ipv6_dst" => {
                let (a, v6) = parse_addr(v).ok_or_else(|| format!("invalid address: {kv}"))?;
                dst.addr = a;
                k.v6 = v6;
            }
            "ct_nw_proto" => k.proto = num()? as u8,
            "ct_tp_src" => src.port = num()?,
            "ct_tp_dst" => dst.port = num()?,
            "icmp_id" => {
                src.port = num()?;
                dst.port = src.port;
            }
            "icmp_type" => src.icmp_type = num()? as u8,
            "icmp_code" => src.icmp_code = num()? as u8,
            _ => return Err(format!("invalid conntrack tuple field: {f}")),
        }
    }
    if k.is_icmp() {
        dst.icmp_type = if k.v6 {
            ferrovs_datapath::conntrack::key::reverse_icmp6_type(src.icmp_type)
        } else {
            ferrovs_datapath::conntrack::key::reverse_icmp_type(src.icmp_type)
        };
    }
    k.src = src;
    k.dst = dst;
    Ok(k)
}

/// `dpctl/flush-conntrack [dp] [zone=N] [ct-orig-tuple]`.
pub fn cmd_flush_conntrack(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let mut zone = None;
    let mut tuple = None;
    for a in args_after_dp(args) {
        if let Some(z) = parse_zone(a) {
            zone = Some(z);
        } else if tuple.is_none() {
            tuple = Some(a.clone());
        } else {
            return Err(format!("invalid argument \"{a}\""));
        }
    }
    let dp = datapath(ctx);
    let key = tuple
        .map(|t| parse_tuple(&t, zone.unwrap_or(0)))
        .transpose()?;
    dp.conntrack().flush(zone, key.as_ref());
    Ok(String::new())
}

/// `dpctl/ct-stats-show [dp] [zone=N] [-m]`.
pub fn cmd_ct_stats_show(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let (mut zone, mut verbose) = (None, false);
    for a in args_after_dp(args) {
        match a.as_str() {
            "-m" | "--more" => verbose = true,
            _ => zone = Some(parse_zone(a).ok_or_else(|| format!("invalid argument \"{a}\""))?),
        }
    }
    let dp = datapath(ctx);
    let now = dp.now_ms();
    let (mut total, mut tcp, mut udp, mut sctp, mut icmp, mut other) = (0, 0, 0, 0, 0, 0);
    let (mut udplite, mut dccp, mut igmp) = (0, 0, 0);
    let mut per_state = [0u32; 11];
    dp.conntrack().table().for_each(|c| {
        if zone.is_some_and(|z| c.fwd.zone != z) || c.expired(now) {
            return;
        }
        total += 1;
        match c.fwd.proto {
            6 => {
                tcp += 1;
                if let ProtoState::Tcp(t) = c.lock().proto {
                    per_state[t.peer[0].state.max(t.peer[1].state) as usize] += 1;
                }
            }
            17 => udp += 1,
            132 => sctp += 1,
            1 | 58 => icmp += 1,
            136 => udplite += 1,
            33 => dccp += 1,
            2 => igmp += 1,
            _ => other += 1,
        }
    });
    let mut s = format!("Connections Stats:\n    Total: {total}\n");
    if tcp > 0 {
        let _ = writeln!(s, "  TCP: {tcp}");
        if verbose {
            s.push_str("    Conn per TCP states:\n");
            for (i, n) in per_state.iter().enumerate() {
                if *n > 0 {
                    let st = tcp_state(i);
                    let _ = writeln!(s, "\t  [{}]={n}", st.name());
                }
            }
        }
    }
    for (n, name) in [
        (udp, "UDP"),
        (udplite, "UDPLITE"),
        (sctp, "SCTP"),
        (icmp, "ICMP"),
        (dccp, "DCCP"),
        (igmp, "IGMP"),
        (other, "Other"),
    ] {
        if n > 0 {
            let _ = writeln!(s, "  {name}: {n}");
        }
    }
    Ok(s)
}

fn tcp_state(i: usize) -> TcpState {
    use TcpState::*;
    [
        Closed,
        Listen,
        SynSent,
        SynRecv,
        Established,
        CloseWait,
        FinWait1,
        Closing,
        LastAck,
        FinWait2,
        TimeWait,
    ][i.min(10)]
}

pub(crate) fn ct(ctx: &Ctx) -> Arc<Conntrack> {
    datapath(ctx).conntrack().clone()
}

/// `dpctl/ct-set-maxconns [dp] maxconns`.
pub fn cmd_ct_set_maxconns(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let n = args_after_dp(args)
        .first()
        .and_then(|a| a.parse::<u32>().ok())
        .ok_or_else(|| "maxconns missing or malformed".to_string())?;
    ct(ctx).limits().set_max_conns(n as usize);
    Ok("setting maxconns successful".into())
}

/// `dpctl/ct-get-maxconns [dp]`.
pub fn cmd_ct_get_maxconns(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    Ok(format!("{}\n", ct(ctx).limits().max_conns()))
}

/// `dpctl/ct-get-nconns [dp]`.
pub fn cmd_ct_get_nconns(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    Ok(format!("{}\n", ct(ctx).n_conns()))
}

/// `dpctl/ct-enable-tcp-seq-chk [dp]`.
pub fn cmd_ct_enable_tcp_seq_chk(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    ct(ctx).set_tcp_seq_chk(true);
    Ok("enabling TCP sequence checking successful".into())
}

/// `dpctl/ct-disable-tcp-seq-chk [dp]`: the liberal mode.
pub fn cmd_ct_disable_tcp_seq_chk(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    ct(ctx).set_tcp_seq_chk(false);
    Ok("disabling TCP sequence checking successful".into())
}

/// `dpctl/ct-get-tcp-seq-chk [dp]`.
pub fn cmd_ct_get_tcp_seq_chk(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let on = ct(ctx).tcp_seq_chk();
    Ok(format!(
        "TCP sequence checking: {}\n",
        if on { "enabled" } else { "disabled" }
    ))
}

/// `dpctl/ct-set-limits [dp] [default=L] [zone=N,limit=L]...`.
pub fn cmd_ct_set_limits(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let ct = ct(ctx);
    let mut sets = Vec::new();
    let mut default = None;
    for a in args_after_dp(args) {
        if let Some(v) = a.strip_prefix("default=") {
            default = Some(
                v.parse::<u32>()
                    .map_err(|_| "invalid default limit".to_string())?,
            );
            continue;
        }
        let mut z = None;
        let mut l = None;
        for kv in a.split(',') {
            match kv.split_once('=') {
                Some(("zone", v)) => z = v.parse::<u16>().ok(),
                Some(("limit", v)) => l = v.parse::<u32>().ok(),
                _ => return Err(format!("failed to parse zone limit: {a}")),
            }
        }
        match (z, l) {
            (Some(z), Some(l)) => sets.push((z, l)),
            _ => return Err(format!("failed to parse zone limit: {a}")),
        }
    }
    if let Some(d) = default {
        ct.limits().set_default_zone_limit(d);
    }
    for (z, l) in sets {
        ct.limits().set_zone_limit(z, Some(l));
    }
    Ok(String::new())
}

/// `dpctl/ct-get-limits [dp] [zone=N[,N]...]`.
pub fn cmd_ct_get_limits(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let ct = ct(ctx);
    let lim = ct.limits();
    let zones: Vec<u16> = match args_after_dp(args).first() {
        Some(a) => a
            .strip_prefix("zone=")
            .ok_or_else(|| format!("invalid argument \"{a}\""))?
            .split(',')
            .map(|z| z.parse::<u16>().map_err(|_| format!("invalid zone {z}")))
            .collect::<Result<_, _>>()?,
        None => lim
            .zones_with_limits()
            .into_iter()
            .map(|(z, _)| z)
            .collect(),
    };
    let mut s = format!("default limit={}", lim.default_zone_limit());
    for z in zones {
        let _ = write!(
            s,
            "\nzone={z},limit={},count={}",
            lim.zone_limit_of(z),
            lim.zone_count(z)
        );
    }
    s.push('\n');
    Ok(s)
}

/// `dpctl/ct-del-limits [dp] zone=N1[,N2]...`: zones go back to the
/// default limit. (OVS 3.1 takes a zone over 65535 modulo 65536; this
/// refuses it.)
pub fn cmd_ct_del_limits(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let a = match args_after_dp(args) {
        [a] => a,
        [] => return Err(dpctl_error("too few arguments", EINVAL)),
        // Two arguments: the first names a datapath that is not ours.
        _ => return Err(dpctl_error("datapath not found", EINVAL)),
    };
    let zones = a
        .strip_prefix("zone=")
        .ok_or_else(|| dpctl_error(&format!("invalid argument {a}"), EINVAL))?
        .split(',')
        .filter(|z| !z.is_empty())
        .map(|z| {
            z.parse::<u16>()
                .map_err(|_| dpctl_error("invalid zone", EINVAL))
        })
        .collect::<Result<Vec<u16>, _>>()?;
    let ct = ct(ctx);
    for z in zones {
        ct.limits().set_zone_limit(z, None);
    }
    Ok(String::new())
}

/// `dpctl/ct-bkts [dp] [gt=N]`: connections per shard of the connection
/// table, eight shards a row, counts of at most N shown as `.`. (OVS's
/// userspace tracker has one table, so it prints one bucket; ferrovs
/// prints its shards, which is what the command is for: how evenly the
/// connections spread.)
pub fn cmd_ct_bkts(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let mut args = args_after_dp(args);
    let mut gt = 0usize;
    if let Some(n) = args.last().and_then(|a| a.strip_prefix("gt=")) {
        if let Ok(n) = n.parse::<u16>() {
            gt = n as usize;
            args = &args[..args.len() - 1];
        }
    }
    if !args.is_empty() {
        return Err(dpctl_error("datapath not found", EINVAL));
    }
    let dp = datapath(ctx);
    let per = dp.conntrack().table().conns_per_shard(dp.now_ms());
    let total: usize = per.iter().sum();
    let mut s = format!(
        "Total Buckets: {}\nCurrent Connections: {total}\n\n",
        per.len()
    );
    if total > 0 {
        let rule = "+-----------+-----------------------------------------+";
        let _ = write!(
            s,
            "{rule}\n|  Buckets  |         Connections per Buckets         |\n{rule}"
        );
        for (i, n) in per.iter().enumerate() {
            if i % 8 == 0 {
                let _ = write!(s, "\n {:3}..{:3}   | ", i, i + 7);
            }
            if *n > gt {
                let _ = write!(s, "{n:5}");
            } else {
                s.push_str("    .");
            }
        }
        s.push_str("\n\n");
    }
    Ok(s)
}

pub(crate) const EINVAL: &str = "Invalid argument";

/// An error as OVS's dpctl words it: the message and errno's text.
pub(crate) fn dpctl_error(msg: &str, errno: &str) -> String {
    format!("ovs-vswitchd: {msg} ({errno})\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_syntax() {
        let k = parse_tuple(
            "ct_nw_src=198.18.0.1,ct_nw_dst=198.19.0.2,ct_nw_proto=6,ct_tp_src=1,ct_tp_dst=80",
            3,
        )
        .unwrap();
        assert_eq!({ k.src.addr }, 0xc612_0001);
        assert_eq!((k.src.port, k.dst.port, k.proto, k.zone), (1, 80, 6, 3));
        let k = parse_tuple(
            "ct_ipv6_src=2001:db8::1,ct_ipv6_dst=2001:db8::2,ct_nw_proto=58,icmp_id=5,icmp_type=128,icmp_code=0",
            0,
        )
        .unwrap();
        assert!(k.v6);
        assert_eq!((k.src.icmp_type, k.dst.icmp_type), (128, 129));
        assert!(parse_tuple("bogus=1", 0).is_err());
    }
}
