//! The host's side of native tunnelling: the kernel's routes (an
//! rtnetlink dump, [`crate::rtnetlink`]) and the addresses of its devices
//! (`getifaddrs`), copied into the tunnel state each main-loop tick and
//! before the `ovs/route/*` commands, so a change is seen within 100 ms;
//! and the sending of the neighbour requests translation queued.
//!
//! Routes become "Cached" entries with the source address of their
//! device in their subnet, as OVS's route table keeps them (a route whose
//! device has no such address is left out, as OVS does).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::packet::{DpPacket, PacketPool};
use ferrovs_datapath::Datapath;
use ferrovs_ofproto::tunnel::route::{source_address, Route};
use ferrovs_ofproto::tunnel::{DevAddr, DevInfo, FromFlow, TnlConfig, TnlState};
use ferrovs_ofproto::upcall::OfprotoUpcall;

use crate::rtnetlink::KernelRoute;

/// Every device's addresses, from `getifaddrs`.
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

/// Cached routes from kernel routes (with their device's name) and
/// device addresses.
pub fn cached_routes(
    kernel: &[(String, KernelRoute)],
    addrs: &BTreeMap<String, Vec<DevAddr>>,
) -> Vec<Route> {
    let mut v = Vec::new();
    for (dev, k) in kernel {
        let da = addrs.get(dev).map(Vec::as_slice).unwrap_or(&[]);
        let src = source_address(da, k.prefix).or_else(|| k.gw.and_then(|g| source_address(da, g)));
        let Some(src) = src else { continue };
        v.push(Route {
            prefix: k.prefix,
            plen: k.plen,
            mark: k.mark,
            dev: dev.clone(),
            gw: k.gw,
            src,
            user: false,
            local: k.local,
        });
    }
    v
}

/// Re-reads the host's addresses and routes into `tnl` when `watch` saw
/// the kernel change something (every call without a watch).
pub fn refresh_if_changed(tnl: &TnlState, watch: Option<&crate::rtnetlink::Watch>) {
    if watch.is_none_or(|w| w.changed()) {
        refresh(tnl);
    }
}

/// Re-reads the host's addresses and routes into `tnl`.
pub fn refresh(tnl: &TnlState) {
    let addrs = device_addrs();
    let kernel: Vec<(String, KernelRoute)> = match crate::rtnetlink::dump_routes() {
        Ok(v) => v
            .into_iter()
            .filter_map(|k| Some((crate::rtnetlink::ifname(k.ifindex)?, k)))
            .collect(),
        Err(e) => {
            tracing::warn!("kernel routes: {e}");
            return;
        }
    };
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
            tnl.changed();
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

/// A tunnel port's `status` entries, as OVS's: the device its fixed
/// remote is routed through and that device's carrier (nothing for a
/// remote taken from the flow, or without a route).
pub fn egress_status(tnl: &TnlState, c: &TnlConfig) -> Vec<(&'static str, String)> {
    let FromFlow::Fixed(dst) = c.remote else {
        return Vec::new();
    };
    let src = match c.local {
        Some(FromFlow::Fixed(s)) => Some(s),
        _ => None,
    };
    let hit = tnl
        .routes
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .lookup(0, dst, src);
    match hit {
        Some(h) => {
            let carrier = crate::hostdev::link_state(&h.dev);
            vec![
                ("tunnel_egress_iface", h.dev),
                ("tunnel_egress_iface_carrier", carrier.to_string()),
            ]
        }
        None => Vec::new(),
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
    fn cached_routes_need_a_source() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let k = |p: &str, plen, gw: Option<&str>, local| KernelRoute {
            ifindex: 1,
            prefix: ip(p),
            plen,
            gw: gw.map(ip),
            mark: 0,
            local,
        };
        let kernel = vec![
            ("br0".to_string(), k("198.18.2.0", 24, None, false)),
            ("br0".to_string(), k("198.18.2.88", 32, None, true)),
            (
                "br0".to_string(),
                k("0.0.0.0", 0, Some("198.18.2.1"), false),
            ),
            ("eth9".to_string(), k("198.18.9.0", 24, None, false)),
        ];
        let addrs: BTreeMap<String, Vec<DevAddr>> = [(
            "br0".to_string(),
            vec![DevAddr {
                ip: ip("198.18.2.88"),
                plen: 24,
            }],
        )]
        .into();
        let shown: Vec<String> = cached_routes(&kernel, &addrs)
            .iter()
            .map(Route::show)
            .collect();
        assert_eq!(
            shown,
            [
                "Cached: 198.18.2.0/24 dev br0 SRC 198.18.2.88",
                "Cached: 198.18.2.88/32 dev br0 SRC 198.18.2.88 local",
                "Cached: 0.0.0.0/0 dev br0 GW 198.18.2.1 SRC 198.18.2.88",
            ]
        );
    }

    #[test]
    fn device_addresses_are_read() {
        // Whatever this namespace has, reading never fails; loopback,
        // when up, has 127.0.0.1/8.
        let a = device_addrs();
        if let Some(lo) = a.get("lo") {
            assert!(lo.iter().all(|x| x.plen <= 128));
        }
    }
}
