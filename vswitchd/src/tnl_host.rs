//! The host's side of native tunnelling: the kernel's routes and the
//! addresses of its devices, copied into the tunnel state (OVS reads them
//! over rtnetlink; ferrovs re-reads `/proc/net/route`,
//! `/proc/net/ipv6_route` and `getifaddrs` each main-loop tick, and
//! before the `ovs/route/*` commands, so a change is seen within 100 ms),
//! and the sending of the neighbour requests translation queued.
//!
//! Routes become "Cached" entries with the source address of their
//! device in their subnet, as OVS's route table keeps them; each IPv4
//! address adds its own /32 local route (what OVS reads from the kernel's
//! local table). Rejected, multicast and loopback routes are left out.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::packet::{DpPacket, PacketPool};
use ferrovs_datapath::Datapath;
use ferrovs_ofproto::tunnel::route::{source_address, Route};
use ferrovs_ofproto::tunnel::{DevAddr, DevInfo, TnlState};
use ferrovs_ofproto::upcall::OfprotoUpcall;

const RTF_GATEWAY: u32 = 0x2;
const RTF_REJECT: u32 = 0x200;
const RTF_LOCAL: u32 = 0x8000_0000;

/// Every device's addresses, from `getifaddrs` (loopback left out).
pub fn device_addrs() -> BTreeMap<String, Vec<DevAddr>> {
    let mut out: BTreeMap<String, Vec<DevAddr>> = BTreeMap::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut p = head;
    while !p.is_null() {
        // SAFETY: p is a node of the list getifaddrs returned.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string of the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        if name == "lo" {
            continue;
        }
        // SAFETY: ifa_addr/ifa_netmask point to sockaddrs of the family
        // sa_family says.
        let a = unsafe { sockaddr_ip(ifa.ifa_addr) };
        let m = unsafe { sockaddr_ip(ifa.ifa_netmask) };
        let (Some(ip), Some(mask)) = (a, m) else {
            continue;
        };
        let plen = match mask {
            IpAddr::V4(m) => u32::from(m).count_ones(),
            IpAddr::V6(m) => u128::from(m).count_ones(),
        } as u8;
        out.entry(name).or_default().push(DevAddr { ip, plen });
    }
    // SAFETY: head came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// # Safety
/// `sa` is null or points to a sockaddr of its `sa_family`.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    match (*sa).sa_family as i32 {
        libc::AF_INET => {
            let s = &*(sa as *const libc::sockaddr_in);
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            let s = &*(sa as *const libc::sockaddr_in6);
            Some(IpAddr::V6(Ipv6Addr::from(s.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// The kernel's IPv4 routes from `/proc/net/route` text: (dev, prefix,
/// plen, gateway).
pub fn parse_proc_route(text: &str) -> Vec<(String, IpAddr, u8, Option<IpAddr>)> {
    let mut v = Vec::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dst), Some(gw), Some(flags), Some(mask)) =
            (hex(f[1]), hex(f[2]), hex(f[3]), hex(f[7]))
        else {
            continue;
        };
        if flags & RTF_REJECT != 0 || f[0] == "lo" {
            continue;
        }
        // The words are the addresses' bytes read in host order.
        let ip = |w: u32| IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes()));
        let gw = (flags & RTF_GATEWAY != 0 && gw != 0).then(|| ip(gw));
        v.push((f[0].to_string(), ip(dst), mask.count_ones() as u8, gw));
    }
    v
}

/// The kernel's IPv6 routes from `/proc/net/ipv6_route` text.
pub fn parse_proc_ipv6_route(text: &str) -> Vec<(String, IpAddr, u8, Option<IpAddr>)> {
    let mut v = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Ok(dst), Ok(plen), Ok(nh), Ok(flags)) = (
            u128::from_str_radix(f[0], 16),
            u8::from_str_radix(f[1], 16),
            u128::from_str_radix(f[4], 16),
            u32::from_str_radix(f[8], 16),
        ) else {
            continue;
        };
        if flags & (RTF_REJECT | RTF_LOCAL) != 0 || f[9] == "lo" || dst >> 120 == 0xff {
            continue;
        }
        let gw = (flags & RTF_GATEWAY != 0 && nh != 0).then(|| IpAddr::V6(Ipv6Addr::from(nh)));
        v.push((f[9].to_string(), IpAddr::V6(Ipv6Addr::from(dst)), plen, gw));
    }
    v
}

/// Cached routes from kernel routes and device addresses.
pub fn cached_routes(
    kernel: &[(String, IpAddr, u8, Option<IpAddr>)],
    addrs: &BTreeMap<String, Vec<DevAddr>>,
) -> Vec<Route> {
    let mut v = Vec::new();
    for (dev, a) in addrs {
        for x in a.iter().filter(|x| x.ip.is_ipv4()) {
            v.push(Route {
                prefix: x.ip,
                plen: 32,
                mark: 0,
                dev: dev.clone(),
                gw: None,
                src: x.ip,
                user: false,
                local: true,
            });
        }
    }
    for (dev, prefix, plen, gw) in kernel {
        let da = addrs.get(dev).map(Vec::as_slice).unwrap_or(&[]);
        let src = source_address(da, *prefix).or_else(|| gw.and_then(|g| source_address(da, g)));
        let Some(src) = src else { continue };
        v.push(Route {
            prefix: *prefix,
            plen: *plen,
            mark: 0,
            dev: dev.clone(),
            gw: *gw,
            src,
            user: false,
            local: false,
        });
    }
    v
}

/// Re-reads the host's addresses and routes into `tnl`.
pub fn refresh(tnl: &TnlState) {
    let addrs = device_addrs();
    let mut kernel =
        parse_proc_route(&std::fs::read_to_string("/proc/net/route").unwrap_or_default());
    kernel.extend(parse_proc_ipv6_route(
        &std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default(),
    ));
    let cached = cached_routes(&kernel, &addrs);
    let devs: BTreeMap<String, DevInfo> = addrs
        .iter()
        .map(|(n, a)| {
            let mac = crate::hostdev::mac(n).unwrap_or_default();
            (
                n.clone(),
                DevInfo {
                    mac,
                    addrs: a.clone(),
                },
            )
        })
        .collect();
    {
        let mut d = tnl.devs.write().unwrap_or_else(|e| e.into_inner());
        if *d != devs {
            *d = devs;
        }
    }
    if tnl
        .routes
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .set_cached(cached)
    {
        tracing::debug!("tunnel routes refreshed from the kernel");
    }
}

/// Sends the ARP requests and neighbour solicitations translation asked
/// for: each frame is translated in its underlay bridge as if it entered
/// from the bridge's port, and sent on the ports its outputs name.
pub fn send_requests(up: &Arc<OfprotoUpcall>, dp: &Datapath) {
    let reqs = up.tnl.take_requests();
    if reqs.is_empty() {
        return;
    }
    let ports = dp.ports();
    let mut pool = PacketPool::new(8);
    for r in reqs {
        let Some(actions) = up.translate_frame(&r.bridge, r.in_port, &r.frame) else {
            continue;
        };
        for a in actions {
            let DpAction::Output(no) = a else { continue };
            let Some(p) = ports.iter().find(|p| p.port_no == no) else {
                continue;
            };
            let q = p.netdev.n_txq().saturating_sub(1);
            let mut v = vec![DpPacket::from_bytes(&r.frame)];
            if let Err(e) = p.netdev.send(q, &mut v, &mut pool) {
                tracing::warn!("neighbour request on {}: {e}", p.netdev.name());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_routes() {
        let v4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  br0\t000212C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                  br0\t00000000\t010212C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        let r = parse_proc_route(v4);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            r,
            vec![
                ("br0".to_string(), ip("198.18.2.0"), 24, None),
                ("br0".to_string(), ip("0.0.0.0"), 0, Some(ip("198.18.2.1"))),
            ]
        );
        let v6 = "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     br0\n\
                  20010db8000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       br0\n\
                  ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     br0\n";
        assert_eq!(
            parse_proc_ipv6_route(v6),
            vec![("br0".to_string(), ip("2001:db8::"), 64, None)]
        );
        let addrs: BTreeMap<String, Vec<DevAddr>> = [(
            "br0".to_string(),
            vec![DevAddr {
                ip: ip("198.18.2.88"),
                plen: 24,
            }],
        )]
        .into();
        let c = cached_routes(&r, &addrs);
        let shown: Vec<String> = c.iter().map(Route::show).collect();
        assert_eq!(
            shown,
            [
                "Cached: 198.18.2.88/32 dev br0 SRC 198.18.2.88 local",
                "Cached: 198.18.2.0/24 dev br0 SRC 198.18.2.88",
                "Cached: 0.0.0.0/0 dev br0 GW 198.18.2.1 SRC 198.18.2.88",
            ]
        );
    }
}
