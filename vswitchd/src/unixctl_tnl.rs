//! The native tunnelling commands, in OVS's forms and wording:
//! `ovs/route/{add,del,show,lookup}`, `tnl/arp/{show,set,flush}` and
//! their `tnl/neigh/*` twins, `tnl/ports/show`, `tnl/drops/show`,
//! `ofproto/list-tunnels`. Each takes the tunnel
//! state out of the switch and works on it alone.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use ferrovs_ofproto::tunnel::neigh::parse_mac;
use ferrovs_ofproto::tunnel::route::parse_prefix;
use ferrovs_ofproto::tunnel::TnlState;

use crate::unixctl::Ctx;

fn tnl(ctx: &Ctx) -> Result<Arc<TnlState>, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    sw.shared
        .wiring
        .as_ref()
        .map(|w| w.upcall.tnl.clone())
        .ok_or_else(|| "native tunnelling is not running".to_string())
}

fn mark(arg: Option<&String>) -> Result<u32, String> {
    match arg {
        None => Ok(0),
        Some(a) => a
            .strip_prefix("pkt_mark=")
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| "Invalid pkt_mark".to_string()),
    }
}

/// `ovs/route/add IP/PLEN BRIDGE [GW] [pkt_mark=MARK]`.
pub fn cmd_route_add(ctx: &Ctx, a: &[String]) -> Result<String, String> {
    let t = tnl(ctx)?;
    crate::tnl_host::refresh(&t);
    let (ip, plen) = parse_prefix(&a[0]).ok_or("Invalid parameters")?;
    let mut gw = None;
    let mut m = 0;
    if let Some(x) = a.get(2) {
        if let Some(v) = x.strip_prefix("pkt_mark=") {
            m = v.parse().map_err(|_| "Invalid pkt_mark or gateway")?;
        } else {
            let g: IpAddr = x.parse().map_err(|_| {
                if ip.is_ipv4() {
                    "Invalid pkt_mark or gateway"
                } else {
                    "Invalid pkt_mark or IPv6 gateway"
                }
            })?;
            if g.is_ipv4() != ip.is_ipv4() {
                return Err("Invalid pkt_mark or gateway".into());
            }
            gw = Some(g);
        }
    }
    if a.len() > 3 {
        m = mark(a.get(3))?;
    }
    let addrs = t.dev_addrs(&a[1]);
    t.routes
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .add_user(ip, plen, &a[1], gw, m, &addrs)
        .ok_or("Error while inserting route.")?;
    Ok("OK\n".into())
}

/// `ovs/route/del IP/PLEN [pkt_mark=MARK]`.
pub fn cmd_route_del(ctx: &Ctx, a: &[String]) -> Result<String, String> {
    let t = tnl(ctx)?;
    let (ip, plen) = parse_prefix(&a[0]).ok_or("Invalid parameters")?;
    let m = mark(a.get(1))?;
    if t.routes
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .del_user(ip, plen, m)
    {
        Ok("OK\n".into())
    } else {
        Err("Not found".into())
    }
}

/// `ovs/route/show`.
pub fn cmd_route_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let t = tnl(ctx)?;
    crate::tnl_host::refresh(&t);
    let s = t.routes.read().unwrap_or_else(|e| e.into_inner()).show();
    Ok(s)
}

/// `ovs/route/lookup IP [pkt_mark=MARK]`.
pub fn cmd_route_lookup(ctx: &Ctx, a: &[String]) -> Result<String, String> {
    let t = tnl(ctx)?;
    crate::tnl_host::refresh(&t);
    let ip: IpAddr = match parse_prefix(&a[0]) {
        Some((ip, p)) if p == if ip.is_ipv4() { 32 } else { 128 } => ip,
        _ => return Err("Invalid parameters".into()),
    };
    let m = mark(a.get(1))?;
    let hit = t
        .routes
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .lookup(m, ip, None)
        .ok_or("Not found")?;
    let gw = hit.gw.map_or("::".to_string(), |g| g.to_string());
    Ok(format!("src {}\ngateway {gw}\ndev {}\n", hit.src, hit.dev))
}

/// `tnl/arp/set` and `tnl/neigh/set BRIDGE IP MAC`.
pub fn cmd_neigh_set(ctx: &Ctx, a: &[String]) -> Result<String, String> {
    let t = tnl(ctx)?;
    let ip: IpAddr = a[1].parse().map_err(|_| "bad IP address")?;
    let mac = parse_mac(&a[2]).ok_or("bad MAC address")?;
    t.neigh
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .set(&a[0], ip, mac, Instant::now());
    Ok("OK\n".into())
}

/// `tnl/arp/show` and `tnl/neigh/show`.
pub fn cmd_neigh_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let t = tnl(ctx)?;
    let s = t
        .neigh
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .show(Instant::now());
    Ok(s)
}

/// `tnl/arp/flush` and `tnl/neigh/flush`.
pub fn cmd_neigh_flush(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let t = tnl(ctx)?;
    t.neigh.lock().unwrap_or_else(|e| e.into_inner()).flush();
    Ok("OK\n".into())
}

/// `tnl/ports/show`: the shared tunnel datapath ports and how many tunnel
/// ports use each.
pub fn cmd_ports_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = String::from("Listening ports:\n");
    for (name, no, users) in sw.shared.tnl_ports() {
        s.push_str(&format!("{name} ({no}) ref_cnt={users}\n"));
    }
    Ok(s)
}

/// `tnl/drops/show`: tunnel packets dropped since start, one counter a
/// line as `NAME total: N` (the form of OVS's `coverage/show` totals; the
/// two sums carry OVS's coverage names): decapsulation failures by
/// reason, encapsulation failures, and packets dropped on a neighbour
/// cache miss.
pub fn cmd_drops_show(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    use std::sync::atomic::Ordering::Relaxed;
    let d = &ferrovs_datapath::tunnel::TNL_DROPS;
    let pop = [
        ("tunnel_pop_malformed", d.malformed.load(Relaxed)),
        ("tunnel_pop_bad_checksum", d.bad_checksum.load(Relaxed)),
        ("tunnel_pop_not_tunnel", d.not_tunnel.load(Relaxed)),
        ("tunnel_pop_fragment", d.fragment.load(Relaxed)),
        ("tunnel_pop_unsupported", d.unsupported.load(Relaxed)),
    ];
    let misses = tnl(ctx).map(|t| t.neigh_misses.load(Relaxed)).unwrap_or(0);
    let mut rows: Vec<(&str, u64)> = pop.to_vec();
    rows.push((
        "datapath_drop_tunnel_pop_error",
        pop.iter().map(|(_, n)| n).sum(),
    ));
    rows.push((
        "datapath_drop_tunnel_push_error",
        d.push_failed.load(Relaxed),
    ));
    rows.push(("tunnel_neighbor_miss", misses));
    let w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    Ok(rows
        .iter()
        .map(|(n, v)| format!("{n:<w$} total: {v}\n"))
        .collect())
}

/// `ofproto/list-tunnels`: every tunnel port of every bridge, one line
/// each (see `TnlConfig::list_line`), in OVS's match map order, then by
/// datapath port and name (OVS's is its hash order within a map).
pub fn cmd_list_tunnels(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    let mut ports: Vec<(u8, u32, &str, &ferrovs_ofproto::tunnel::config::TnlConfig)> = Vec::new();
    for b in sw.bridges.values() {
        for (n, i) in &b.ifaces {
            if let Some(crate::iface::Backing::Tunnel(c)) = &i.backing {
                if i.ofport.is_some() {
                    ports.push((c.list_rank(), c.dp_port, n.as_str(), c));
                }
            }
        }
    }
    ports.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    Ok(ports.iter().map(|(_, _, n, c)| c.list_line(n)).collect())
}
