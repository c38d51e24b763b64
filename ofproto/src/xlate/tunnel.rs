//! Native tunnelling in translation, as OVS's netdev datapath does it.
//!
//! Output to a tunnel port ([`Ctx::tunnel_output`]): the tunnel's
//! destination (configured or from `tun_dst`) is routed through the route
//! table, the route's device names the underlay port (a bridge's own port
//! holding the source address), the next hop's MAC comes from the
//! neighbour cache, and a `tnl_push` with the whole outer header is
//! emitted; translation then continues in the underlay bridge with the
//! encapsulated packet entering from that port, so its tables decide
//! where the packet goes. A route or neighbour miss drops the packet (and
//! a miss queues an ARP request / neighbour solicitation).
//!
//! Input: output to a port that holds addresses of a packet addressed to
//! one of them on a tunnel's protocol and port becomes `tnl_pop(port)`
//! ([`Ctx::terminate_tunnel`]); ARP replies and neighbour advertisements
//! going there teach the neighbour cache. The popped packet comes back
//! from the datapath on the shared tunnel port and
//! [`tunnel_receive`] finds the OpenFlow tunnel port it belongs to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout::{self as dp, Field};
use ferrovs_datapath::tunnel::header::{Encap, OuterIp, TnlHeaderRepr};
use ferrovs_datapath::tunnel::{TnlPop, TnlPush};
use ferrovs_datapath::wire::gre::{GreRepr, GRE_PROTO_TEB};
use ferrovs_datapath::wire::vxlan::VxlanRepr;

use super::{BridgePorts, Ctx};
use crate::flow::OfFlow;
use crate::tunnel::neigh::fmt_mac;
use crate::tunnel::{FromFlow, Inherit, NeighRequest, TnlConfig, TnlKind};

const ETH_TYPE_IP: u64 = 0x0800;
const ETH_TYPE_IPV6: u64 = 0x86dd;
const ETH_TYPE_ARP: u64 = 0x0806;
const PROTO_UDP: u64 = 17;
const PROTO_GRE: u64 = 47;
const PROTO_ICMPV6: u64 = 58;

pub(crate) fn get(f: &OfFlow, x: Field) -> u64 {
    (f.0[x.word as usize] & x.word_mask()) >> x.shift
}
pub(crate) fn put(f: &mut OfFlow, x: Field, v: u64) {
    let w = &mut f.0[x.word as usize];
    *w = (*w & !x.word_mask()) | x.place(v);
}
fn unwild(wc: &mut OfFlow, x: Field) {
    wc.0[x.word as usize] |= x.word_mask();
}
fn mac_u64(m: [u8; 6]) -> u64 {
    m.iter().fold(0, |a, b| a << 8 | *b as u64)
}
fn u64_mac(v: u64) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn get128(f: &OfFlow, hi: Field, lo: Field) -> u128 {
    (get(f, hi) as u128) << 64 | get(f, lo) as u128
}

/// The tunnel destination of a flow (IPv4 first, as OVS).
fn tun_dst(f: &OfFlow) -> Option<IpAddr> {
    let v4 = get(f, dp::TUN_DST) as u32;
    if v4 != 0 {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = get128(f, dp::TUN_IPV6_DST_HI, dp::TUN_IPV6_DST_LO);
    (v6 != 0).then(|| IpAddr::V6(Ipv6Addr::from(v6)))
}
fn tun_src(f: &OfFlow) -> Option<IpAddr> {
    let v4 = get(f, dp::TUN_SRC) as u32;
    if v4 != 0 {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = get128(f, dp::TUN_IPV6_SRC_HI, dp::TUN_IPV6_SRC_LO);
    (v6 != 0).then(|| IpAddr::V6(Ipv6Addr::from(v6)))
}

/// The datapath words of the tunnel metadata (cleared for the underlay).
const TUN_WORDS: std::ops::RangeInclusive<usize> = dp::W_TUN_ID..=dp::W_TUN_MISC;

impl Ctx<'_, '_> {
    /// Output to tunnel port `p` (see the module comment).
    pub(crate) fn tunnel_output(&mut self, p: u16, c: &TnlConfig) {
        let Some(tnl) = self.tnl else {
            self.note(|| "native tunnelling is not configured, dropping".to_string());
            return;
        };
        let _ = p;
        // OVS's tnl_port_send: the tunnel's parameters.
        let dst = match c.remote {
            FromFlow::Fixed(ip) => Some(ip),
            FromFlow::Flow => {
                for x in [dp::TUN_DST, dp::TUN_IPV6_DST_HI, dp::TUN_IPV6_DST_LO] {
                    unwild(&mut self.wc, x);
                }
                tun_dst(&self.flow)
            }
        };
        let Some(dst) = dst else {
            self.note(|| "Tunneling decided against output".to_string());
            return;
        };
        let src = match c.local {
            None => None,
            Some(FromFlow::Fixed(ip)) => Some(ip),
            Some(FromFlow::Flow) => {
                for x in [dp::TUN_SRC, dp::TUN_IPV6_SRC_HI, dp::TUN_IPV6_SRC_LO] {
                    unwild(&mut self.wc, x);
                }
                tun_src(&self.flow)
            }
        };
        let key = match c.out_key {
            None => None,
            Some(FromFlow::Fixed(k)) => Some(k),
            Some(FromFlow::Flow) => {
                unwild(&mut self.wc, dp::TUN_ID);
                Some(get(&self.flow, dp::TUN_ID))
            }
        };
        let tos = match c.tos {
            Inherit::Fixed(t) => t,
            Inherit::Inherit if super::is_ip_any(&self.flow) => {
                unwild(&mut self.wc, dp::NW_TOS);
                get(&self.flow, dp::NW_TOS) as u8
            }
            Inherit::Inherit => 0,
        };
        let ttl = match c.ttl {
            Inherit::Fixed(t) => t,
            Inherit::Inherit if super::is_ip_any(&self.flow) => {
                unwild(&mut self.wc, dp::NW_TTL);
                get(&self.flow, dp::NW_TTL) as u8
            }
            Inherit::Inherit => 64,
        };
        self.note(|| "output to native tunnel".to_string());
        let mark = get(&self.flow, dp::PKT_MARK) as u32;
        let hit = tnl
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(mark, dst, src);
        let Some(hit) = hit else {
            self.note(|| "native tunnel routing failed".to_string());
            return;
        };
        let nh = hit.gw.unwrap_or(dst);
        // The underlay port: a bridge of that name's port of that name,
        // else any port so named.
        let found = self
            .bridges
            .iter()
            .enumerate()
            .filter(|(_, b)| b.name() == hit.dev)
            .chain(self.bridges.iter().enumerate())
            .find_map(|(i, b)| b.ports.by_name(&hit.dev).map(|p| (i, p)));
        let Some((ub, up)) = found else {
            self.note(|| "native tunnel routing failed".to_string());
            return;
        };
        let ubr = self.bridges[ub];
        let Some(out_dp) = ubr.ports.get(up).and_then(|x| x.dp_port) else {
            self.note(|| "native tunnel routing failed".to_string());
            return;
        };
        let dev = hit.dev.clone();
        self.note(|| format!("tunneling to {nh} via {dev}"));
        let Some(smac) = ubr.ofproto.port(up).map(|d| d.hw_addr) else {
            self.note(|| "tunnel output device lacks Ethernet address".to_string());
            return;
        };
        let ubname = ubr.name().to_string();
        let dmac = tnl
            .neigh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(&ubname, nh, self.now);
        let Some(dmac) = dmac else {
            let what = if nh.is_ipv4() { "ARP" } else { "ND" };
            self.note(|| {
                format!("neighbor cache miss for {nh} on bridge {ubname}, sending {what} request")
            });
            // Asked for on every miss (revalidation included, so that a
            // lost request is asked again); the queue keeps one per
            // neighbour and round.
            let s = crate::tunnel::route::source_address(&tnl.dev_addrs(&hit.dev), nh)
                .unwrap_or(hit.src);
            if let Some(frame) = neigh_request(smac, s, nh) {
                tnl.request(
                    NeighRequest {
                        bridge: ubname,
                        in_port: up,
                        frame,
                    },
                    self.may_learn,
                );
            }
            return;
        };
        let src_ip = hit.src;
        self.note(|| {
            format!(
                "tunneling from {} {src_ip} to {} {nh}",
                fmt_mac(&smac),
                fmt_mac(&dmac)
            )
        });
        let Some(repr) = header(c, smac, dmac, src_ip, dst, tos, ttl, key) else {
            self.note(|| "native tunnel header build failed".to_string());
            return;
        };
        let push = match TnlPush::new(c.dp_port, out_dp, &repr) {
            Ok(p) => p,
            Err(_) => {
                self.note(|| "native tunnel header build failed".to_string());
                return;
            }
        };
        self.commit();
        let (saved_flow, saved_base, saved_wc) = (self.flow, self.base, self.wc);
        let last = self.last;
        let saved_actions = if last {
            None
        } else {
            Some(std::mem::take(&mut self.out.actions))
        };
        let mark = self.out.actions.len();
        self.out.actions.push(DpAction::TunnelPush(Arc::new(push)));
        // The encapsulated packet, as OVS's propagate_tunnel_data_to_flow.
        let f = &mut self.flow;
        for w in TUN_WORDS {
            f.0[w] = 0;
        }
        put(f, dp::DL_DST, mac_u64(dmac));
        put(f, dp::DL_SRC, mac_u64(smac));
        f.0[dp::W_VLAN] = 0;
        match (src_ip, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                put(f, dp::DL_TYPE, ETH_TYPE_IP);
                put(f, dp::NW_SRC, u32::from(s) as u64);
                put(f, dp::NW_DST, u32::from(d) as u64);
            }
            (s, d) => {
                put(f, dp::DL_TYPE, ETH_TYPE_IPV6);
                let (s, d) = (v6(s), v6(d));
                put(f, dp::IPV6_SRC_HI, (s >> 64) as u64);
                put(f, dp::IPV6_SRC_LO, s as u64);
                put(f, dp::IPV6_DST_HI, (d >> 64) as u64);
                put(f, dp::IPV6_DST_LO, d as u64);
            }
        }
        put(f, dp::NW_FRAG, 0);
        put(f, dp::NW_TOS, tos as u64);
        put(f, dp::NW_TTL, ttl as u64);
        put(
            f,
            dp::NW_PROTO,
            if c.kind == TnlKind::Gre {
                PROTO_GRE
            } else {
                PROTO_UDP
            },
        );
        put(f, dp::TP_SRC, 0);
        put(
            f,
            dp::TP_DST,
            if c.kind == TnlKind::Gre {
                0
            } else {
                c.dst_port as u64
            },
        );
        self.base = self.flow;
        let ubname = ubr.name().to_string();
        self.patch_output(&ubname, up);
        self.wc = saved_wc;
        self.flow = saved_flow;
        self.base = saved_base;
        let added = self.out.actions.len() > mark + 1;
        match saved_actions {
            None if !added => self.out.actions.truncate(mark),
            None => {}
            Some(mut before) => {
                let inner = std::mem::take(&mut self.out.actions);
                if added {
                    before.push(DpAction::Clone(inner.into_boxed_slice()));
                }
                self.out.actions = before;
            }
        }
    }

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
        if self.may_learn {
            tnl.neigh
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .set(&bridge, ip, mac, self.now);
        }
    }
}

fn v6(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The outer header of a tunnel packet.
#[allow(clippy::too_many_arguments)]
fn header(
    c: &TnlConfig,
    smac: [u8; 6],
    dmac: [u8; 6],
    src: IpAddr,
    dst: IpAddr,
    tos: u8,
    ttl: u8,
    key: Option<u64>,
) -> Option<TnlHeaderRepr> {
    let ip = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => OuterIp::V4 {
            src: s,
            dst: d,
            tos,
            ttl,
            df: c.df,
        },
        (IpAddr::V6(s), IpAddr::V6(d)) => OuterIp::V6 {
            src: s,
            dst: d,
            tclass: tos,
            label: 0,
            hlimit: ttl,
        },
        _ => return None,
    };
    let vni = (key.unwrap_or(0) & 0xff_ffff) as u32;
    // UDP over IPv6 always carries a checksum (as OVS's header builder).
    let udp_csum = c.csum || dst.is_ipv6();
    let encap = match c.kind {
        TnlKind::Vxlan => Encap::Vxlan {
            dst_port: c.dst_port,
            csum: udp_csum,
            vxlan: VxlanRepr { vni, gbp: None },
        },
        TnlKind::Geneve => Encap::Geneve {
            dst_port: c.dst_port,
            csum: udp_csum,
            oam: false,
            critical: false,
            vni,
            options: Vec::new(),
        },
        TnlKind::Gre => Encap::Gre(GreRepr {
            protocol: if c.l3 {
                if src.is_ipv4() {
                    0x0800
                } else {
                    0x86dd
                }
            } else {
                GRE_PROTO_TEB
            },
            csum: c.csum,
            key: key.map(|k| k as u32),
            seq: None,
        }),
    };
    Some(TnlHeaderRepr {
        eth_dst: dmac,
        eth_src: smac,
        ip,
        encap,
    })
}

/// An ARP request (IPv4) or neighbour solicitation (IPv6) for `target`
/// from `smac`/`sip`.
fn neigh_request(smac: [u8; 6], sip: IpAddr, target: IpAddr) -> Option<Vec<u8>> {
    match (sip, target) {
        (IpAddr::V4(s), IpAddr::V4(t)) => {
            let mut b = Vec::with_capacity(42);
            b.extend_from_slice(&[0xff; 6]);
            b.extend_from_slice(&smac);
            b.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
            b.extend_from_slice(&smac);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&[0; 6]);
            b.extend_from_slice(&t.octets());
            Some(b)
        }
        (IpAddr::V6(s), IpAddr::V6(t)) => {
            let t8 = t.octets();
            // Solicited-node multicast address and its MAC.
            let mut mc = [0u8; 16];
            mc[0] = 0xff;
            mc[1] = 0x02;
            mc[11] = 1;
            mc[12] = 0xff;
            mc[13..].copy_from_slice(&t8[13..]);
            let mut b = Vec::with_capacity(86);
            b.extend_from_slice(&[0x33, 0x33, 0xff, t8[13], t8[14], t8[15]]);
            b.extend_from_slice(&smac);
            b.extend_from_slice(&[0x86, 0xdd]);
            let plen: u16 = 32;
            b.extend_from_slice(&[0x60, 0, 0, 0]);
            b.extend_from_slice(&plen.to_be_bytes());
            b.extend_from_slice(&[58, 255]);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&mc);
            let l4 = b.len();
            b.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
            b.extend_from_slice(&t8);
            b.extend_from_slice(&[1, 1]);
            b.extend_from_slice(&smac);
            // ICMPv6 checksum over the pseudo-header.
            let mut sum: u32 = 0;
            let mut add = |d: &[u8]| {
                for c in d.chunks(2) {
                    sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
                }
            };
            add(&s.octets());
            add(&mc);
            add(&(plen as u32).to_be_bytes());
            add(&[0, 0, 0, 58]);
            add(&b[l4..]);
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            let c = !(sum as u16);
            b[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
            Some(b)
        }
        _ => None,
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
    for (no, x) in ports.iter() {
        let Some(c) = &x.tunnel else { continue };
        if c.dp_port != dp_in {
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

#[cfg(test)]
#[path = "tunnel_tests.rs"]
mod tests;
