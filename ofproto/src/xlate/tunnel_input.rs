//! Native tunnelling in translation, the input side.
//!
//! Output to a port that holds addresses of a packet addressed to one of
//! them on a tunnel's protocol and port becomes `tnl_pop(port)`
//! ([`Ctx::terminate_tunnel`], OVS's terminate_native_tunnel); ARP
//! replies and neighbour advertisements going there for this bridge's
//! addresses teach the neighbour cache. The popped packet comes back from
//! the datapath on the shared tunnel port and [`tunnel_receive`] finds the
//! OpenFlow tunnel port it belongs to (OVS's tnl_port_receive).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::tunnel::TnlPop;

use super::tunnel::{
    get, get128, mac_u64, tun_dst, tun_src, u64_mac, unwild, ETH_TYPE_ARP, ETH_TYPE_IP,
    ETH_TYPE_IPV6, PROTO_GRE, PROTO_ICMPV6, PROTO_UDP,
};
use super::{BridgePorts, Ctx};
use crate::flow::OfFlow;
use crate::tunnel::neigh::fmt_mac;
use crate::tunnel::{FromFlow, TnlKind};

impl Ctx<'_, '_> {
    /// OVS's terminate_native_tunnel, for output to port `p` (not a tunnel
    /// nor a patch port): true if the packet became a `tnl_pop`.
    pub(crate) fn terminate_tunnel(&mut self, p: u16) -> bool {
        let Some(tnl) = self.tnl else {
            return false;
        };
        let br = self.br();
        let Some(xp) = br.ports.get(p) else {
            return false;
        };
        let has_ip = tnl
            .devs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&xp.name)
            .is_some_and(|d| !d.addrs.is_empty());
        if !has_ip {
            return false;
        }
        let dl_type = get(&self.flow, dp::DL_TYPE);
        unwild(&mut self.wc, dp::DL_TYPE);
        if dl_type == ETH_TYPE_IP || dl_type == ETH_TYPE_IPV6 {
            if let Some(pop) = self.tnl_port_lookup(tnl) {
                self.commit();
                self.out.actions.push(DpAction::TunnelPop(pop));
                self.note(|| format!("-> output to native tunnel port {}", pop.port));
                return true;
            }
        }
        self.snoop_neighbor(tnl);
        false
    }

    /// OVS's tnl_port_map_lookup: the listening tunnel datapath port the
    /// packet is addressed to.
    fn tnl_port_lookup(&mut self, tnl: &crate::tunnel::TnlState) -> Option<TnlPop> {
        let f = self.flow;
        let v4 = get(&f, dp::DL_TYPE) == ETH_TYPE_IP;
        unwild(&mut self.wc, dp::DL_DST);
        let dst = if v4 {
            unwild(&mut self.wc, dp::NW_DST);
            IpAddr::V4(Ipv4Addr::from(get(&f, dp::NW_DST) as u32))
        } else {
            unwild(&mut self.wc, dp::IPV6_DST_HI);
            unwild(&mut self.wc, dp::IPV6_DST_LO);
            IpAddr::V6(Ipv6Addr::from(get128(&f, dp::IPV6_DST_HI, dp::IPV6_DST_LO)))
        };
        let mac = tnl.local_mac(dst)?;
        if mac_u64(mac) != get(&f, dp::DL_DST) {
            return None;
        }
        unwild(&mut self.wc, dp::NW_PROTO);
        unwild(&mut self.wc, dp::NW_FRAG);
        if get(&f, dp::NW_FRAG) != 0 {
            return None;
        }
        let proto = get(&f, dp::NW_PROTO);
        let tp_dst = if proto == PROTO_UDP {
            unwild(&mut self.wc, dp::TP_DST);
            Some(get(&f, dp::TP_DST) as u16)
        } else {
            None
        };
        for b in self.bridges {
            for (_, x) in b.ports.iter() {
                let Some(c) = &x.tunnel else { continue };
                let ok = match c.kind {
                    TnlKind::Gre => proto == PROTO_GRE,
                    _ => proto == PROTO_UDP && tp_dst == Some(c.dst_port),
                };
                if ok {
                    return Some(TnlPop {
                        port: c.dp_port,
                        kind: c.kind,
                    });
                }
            }
        }
        None
    }

    /// Whether a device behind one of this bridge's ports has an address
    /// `pred` accepts.
    fn bridge_has_addr(
        &self,
        tnl: &crate::tunnel::TnlState,
        pred: impl Fn(IpAddr) -> bool,
    ) -> bool {
        let devs = tnl.devs.read().unwrap_or_else(|e| e.into_inner());
        self.br().ports.iter().any(|(_, x)| {
            devs.get(&x.name)
                .is_some_and(|d| d.addrs.iter().any(|a| pred(a.ip)))
        })
    }

    /// Learns the sender of an ARP reply (or gratuitous ARP) or the target
    /// of a neighbour advertisement into the neighbour cache.
    fn snoop_neighbor(&mut self, tnl: &crate::tunnel::TnlState) {
        let f = self.flow;
        let (ip, mac) = match get(&f, dp::DL_TYPE) {
            ETH_TYPE_ARP => {
                unwild(&mut self.wc, dp::NW_PROTO);
                let op = get(&f, dp::NW_PROTO);
                let spa = get(&f, dp::NW_SRC) as u32;
                let tpa = get(&f, dp::NW_DST) as u32;
                unwild(&mut self.wc, dp::NW_SRC);
                unwild(&mut self.wc, dp::NW_DST);
                let garp = spa == tpa && get(&f, dp::DL_DST) == 0xffff_ffff_ffff;
                if garp {
                    unwild(&mut self.wc, dp::DL_DST);
                }
                // A reply to one of this bridge's addresses, or a
                // gratuitous ARP (OVS's is_neighbor_reply_correct).
                if !(op == 2 && self.bridge_has_addr(tnl, |a| a == IpAddr::V4(Ipv4Addr::from(tpa))))
                    && !(garp && (op == 1 || op == 2))
                {
                    return;
                }
                unwild(&mut self.wc, dp::ARP_SHA);
                (
                    IpAddr::V4(Ipv4Addr::from(spa)),
                    u64_mac(get(&f, dp::ARP_SHA)),
                )
            }
            ETH_TYPE_IPV6 => {
                unwild(&mut self.wc, dp::NW_PROTO);
                if get(&f, dp::NW_PROTO) != PROTO_ICMPV6 {
                    return;
                }
                unwild(&mut self.wc, dp::TP_SRC);
                if get(&f, dp::TP_SRC) != 136 {
                    return;
                }
                unwild(&mut self.wc, dp::IPV6_DST_HI);
                unwild(&mut self.wc, dp::IPV6_DST_LO);
                let d = get128(&f, dp::IPV6_DST_HI, dp::IPV6_DST_LO).to_be_bytes();
                // Sent to one of this bridge's addresses or its
                // solicited-node group.
                let ours = self.bridge_has_addr(tnl, |a| match a {
                    IpAddr::V6(a) => {
                        let o = a.octets();
                        o == d
                            || (d[..13] == [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
                                && d[13..] == o[13..])
                    }
                    IpAddr::V4(_) => false,
                });
                if !ours {
                    return;
                }
                unwild(&mut self.wc, dp::ND_TARGET_HI);
                unwild(&mut self.wc, dp::ND_TARGET_LO);
                unwild(&mut self.wc, dp::ARP_THA);
                let t = get128(&f, dp::ND_TARGET_HI, dp::ND_TARGET_LO);
                (IpAddr::V6(Ipv6Addr::from(t)), u64_mac(get(&f, dp::ARP_THA)))
            }
            _ => return,
        };
        if mac == [0; 6] {
            return;
        }
        let bridge = self.br().name().to_string();
        self.note(|| format!("snooping {ip} is at {} on {bridge}", fmt_mac(&mac)));
        self.out.uncacheable = true;
        if self.may_learn {
            tnl.neigh
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .set(&bridge, ip, mac, self.now);
        }
    }
}

/// The OpenFlow tunnel port a packet decapsulated on datapath port
/// `dp_in` belongs to, with its tunnel metadata (OVS's tnl_port_receive:
/// a port with more fixed settings that match wins over one taking them
/// from the flow). Unwildcards what was looked at.
pub fn tunnel_receive(ports: &BridgePorts, dp_in: u32, f: &OfFlow, wc: &mut OfFlow) -> Option<u16> {
    tunnel_receive_scored(ports, dp_in, f, wc).map(|(_, no)| no)
}

/// As [`tunnel_receive`], with how specific the port found is (to choose
/// among several bridges' tunnel ports).
pub fn tunnel_receive_scored(
    ports: &BridgePorts,
    dp_in: u32,
    f: &OfFlow,
    wc: &mut OfFlow,
) -> Option<(u32, u16)> {
    let mut best: Option<(u32, u16)> = None;
    let id = get(f, dp::TUN_ID);
    let src = tun_src(f);
    let dst = tun_dst(f);
    // An L3 packet belongs to a legacy_l3 port, an Ethernet one to the
    // others (OVS's tnl_find matches the packet type's mode).
    let l3 = get(f, dp::PACKET_TYPE_NS) != 0;
    for (no, x) in ports.iter() {
        let Some(c) = &x.tunnel else { continue };
        if c.dp_port != dp_in || c.l3 != l3 {
            continue;
        }
        let mut score = 0;
        match c.in_key {
            Some(FromFlow::Fixed(k)) if k != id => continue,
            None if id != 0 && c.kind != TnlKind::Gre => continue,
            Some(FromFlow::Fixed(_)) | None => score += 4,
            Some(FromFlow::Flow) => {}
        }
        match c.remote {
            FromFlow::Fixed(ip) if Some(ip) != src => continue,
            FromFlow::Fixed(_) => score += 2,
            FromFlow::Flow => {}
        }
        match c.local {
            Some(FromFlow::Fixed(ip)) if Some(ip) != dst => continue,
            Some(FromFlow::Fixed(_)) => score += 1,
            _ => {}
        }
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, no));
        }
    }
    for x in [
        dp::PACKET_TYPE_NS,
        dp::TUN_ID,
        dp::TUN_SRC,
        dp::TUN_DST,
        dp::TUN_IPV6_SRC_HI,
        dp::TUN_IPV6_SRC_LO,
        dp::TUN_IPV6_DST_HI,
        dp::TUN_IPV6_DST_LO,
    ] {
        unwild(wc, x);
    }
    best
}
