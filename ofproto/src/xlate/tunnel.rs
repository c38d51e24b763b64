//! Native tunnelling in translation, the output side, as OVS's netdev
//! datapath does it ([`Ctx::tunnel_output`]): the tunnel's destination
//! (configured or from `tun_dst`) is routed through the route table, the
//! route's device names the underlay port (a bridge's own port holding
//! the source address), the next hop's MAC comes from the neighbour
//! cache, and a `tnl_push` with the whole outer header is emitted;
//! translation then continues in the underlay bridge with the
//! encapsulated packet entering from that port, so its tables decide
//! where the packet goes. A route or neighbour miss drops the packet (and
//! a miss queues an ARP request / neighbour solicitation). Not the last
//! action: the push and what follows sit in a `clone`, as OVS's.
//!
//! The input side is in [`super::tunnel_input`]. The small flow accessors
//! here are shared by both.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout::{self as dp, Field};
use ferrovs_datapath::tunnel::header::{Encap, OuterIp, TnlHeaderRepr};
use ferrovs_datapath::tunnel::TnlPush;
use ferrovs_datapath::wire::gre::{GreRepr, GRE_PROTO_TEB};
use ferrovs_datapath::wire::vxlan::VxlanRepr;

use super::packet_type::{become_ethernet, become_l3, is_l3};
use super::Ctx;
use crate::flow::{OfFlow, W_PACKET_TYPE};
use crate::tunnel::neigh::fmt_mac;
use crate::tunnel::solicit::neigh_request;
use crate::tunnel::{FromFlow, Inherit, NeighRequest, TnlConfig, TnlKind};

pub(super) const ETH_TYPE_IP: u64 = 0x0800;
pub(super) const ETH_TYPE_IPV6: u64 = 0x86dd;
pub(super) const ETH_TYPE_ARP: u64 = 0x0806;
pub(super) const PROTO_UDP: u64 = 17;
pub(super) const PROTO_GRE: u64 = 47;
pub(super) const PROTO_ICMPV6: u64 = 58;

pub(crate) fn get(f: &OfFlow, x: Field) -> u64 {
    (f.0[x.word as usize] & x.word_mask()) >> x.shift
}
pub(crate) fn put(f: &mut OfFlow, x: Field, v: u64) {
    let w = &mut f.0[x.word as usize];
    *w = (*w & !x.word_mask()) | x.place(v);
}
pub(super) fn unwild(wc: &mut OfFlow, x: Field) {
    wc.0[x.word as usize] |= x.word_mask();
}
pub(super) fn mac_u64(m: [u8; 6]) -> u64 {
    m.iter().fold(0, |a, b| a << 8 | *b as u64)
}
pub(super) fn u64_mac(v: u64) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

pub(super) fn get128(f: &OfFlow, hi: Field, lo: Field) -> u128 {
    (get(f, hi) as u128) << 64 | get(f, lo) as u128
}

/// The tunnel destination of a flow (IPv4 first, as OVS).
pub(super) fn tun_dst(f: &OfFlow) -> Option<IpAddr> {
    let v4 = get(f, dp::TUN_DST) as u32;
    if v4 != 0 {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = get128(f, dp::TUN_IPV6_DST_HI, dp::TUN_IPV6_DST_LO);
    (v6 != 0).then(|| IpAddr::V6(Ipv6Addr::from(v6)))
}
pub(super) fn tun_src(f: &OfFlow) -> Option<IpAddr> {
    let v4 = get(f, dp::TUN_SRC) as u32;
    if v4 != 0 {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = get128(f, dp::TUN_IPV6_SRC_HI, dp::TUN_IPV6_SRC_LO);
    (v6 != 0).then(|| IpAddr::V6(Ipv6Addr::from(v6)))
}

const IP_DSCP_MASK: u8 = 0xfc;
const IP_ECN_MASK: u8 = 0x03;
const IP_ECN_ECT_0: u8 = 0x02;
const IP_ECN_CE: u8 = 0x03;

/// The datapath words of the tunnel metadata (cleared for the underlay).
const TUN_WORDS: std::ops::Range<usize> = dp::W_TUN_ID..dp::W_DL_DST;

/// What every decapsulated packet's megaflow matches, as OVS's
/// `tnl_wc_init`: the key and its presence flag, the outer addresses, the
/// outer TOS (its ECN decides [`Ctx::tnl_process_ecn`]) and, for an outer
/// CE mark on IP, the inner ECN bits.
pub(crate) fn tnl_wc_init(f: &OfFlow, wc: &mut OfFlow) {
    if tun_dst(f).is_none() {
        return;
    }
    unwild(wc, dp::TUN_ID);
    if get(f, dp::TUN_DST) != 0 {
        unwild(wc, dp::TUN_SRC);
        unwild(wc, dp::TUN_DST);
    } else {
        for x in [
            dp::TUN_IPV6_SRC_HI,
            dp::TUN_IPV6_SRC_LO,
            dp::TUN_IPV6_DST_HI,
            dp::TUN_IPV6_DST_LO,
        ] {
            unwild(wc, x);
        }
    }
    unwild(wc, dp::TUN_TOS);
    // Whether a key was present (a GRE packet with key 0 is not one
    // without a key); the other flags, as upstream OVS since 3.7, not.
    wc.0[dp::TUN_FLAGS.word as usize] |=
        dp::TUN_FLAGS.place(ferrovs_datapath::tunnel::pop::TNL_F_KEY as u64);
    if super::is_ip_any(f) && get(f, dp::TUN_TOS) as u8 & IP_ECN_MASK == IP_ECN_CE {
        wc.0[dp::NW_TOS.word as usize] |= dp::NW_TOS.place(IP_ECN_MASK as u64);
    }
}

impl Ctx<'_, '_> {
    /// An outer CE mark goes to the inner IP packet, which must then be
    /// ECN capable (OVS's `tnl_process_ecn`); false: drop the packet.
    pub(crate) fn tnl_process_ecn(&mut self) -> bool {
        if tun_dst(&self.flow).is_none()
            || !super::is_ip_any(&self.flow)
            || get(&self.flow, dp::TUN_TOS) as u8 & IP_ECN_MASK != IP_ECN_CE
        {
            return true;
        }
        let tos = get(&self.flow, dp::NW_TOS) as u8;
        if tos & IP_ECN_MASK == 0 {
            self.note(|| "dropping tunnel packet marked ECN CE but is not ECN capable".into());
            return false;
        }
        put(&mut self.flow, dp::NW_TOS, (tos | IP_ECN_CE) as u64);
        true
    }

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
        // As OVS's tnl_port_send: `tos=inherit` takes the inner DSCP, and
        // the ECN bits are always inherited (CE as ECT(0)).
        let ip = super::is_ip_any(&self.flow);
        let inner_tos = get(&self.flow, dp::NW_TOS) as u8;
        let mut tos = match c.tos {
            Inherit::Fixed(t) => t,
            Inherit::Inherit if ip => {
                self.wc.0[dp::NW_TOS.word as usize] |= dp::NW_TOS.place(IP_DSCP_MASK as u64);
                inner_tos & IP_DSCP_MASK
            }
            Inherit::Inherit => 0,
        };
        if ip {
            self.wc.0[dp::NW_TOS.word as usize] |= dp::NW_TOS.place(IP_ECN_MASK as u64);
            tos |= match inner_tos & IP_ECN_MASK {
                IP_ECN_CE => IP_ECN_ECT_0,
                ecn => ecn,
            };
        }
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
            self.out.uncacheable = true;
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
        // Geneve carries the flow's present tun_metadata options.
        let opts = if c.kind == TnlKind::Geneve {
            crate::flow::geneve::unwild_present(&self.flow, &mut self.wc, self.tlv);
            crate::flow::geneve::build_options(&self.flow, self.tlv)
        } else {
            (Vec::new(), false)
        };
        // A legacy_l3 port carries the packet without its Ethernet header
        // (OVS's compose_output_action: the flow becomes L3 and the commit
        // below pops the header, unless it was never pushed), the GRE
        // protocol its EtherType.
        let eth_view = if c.l3 && !is_l3(&self.flow) {
            let saved = (
                get(&self.flow, dp::DL_SRC),
                get(&self.flow, dp::DL_DST),
                self.flow.0[dp::W_VLAN],
            );
            become_l3(&mut self.flow);
            Some(saved)
        } else {
            None
        };
        let inner_type = super::dl_type(&self.flow);
        let Some(repr) = header(c, smac, dmac, src_ip, dst, tos, ttl, key, opts, inner_type) else {
            self.note(|| "native tunnel header build failed".to_string());
            self.restore_eth_view(eth_view);
            return;
        };
        let push = match TnlPush::new(c.dp_port, out_dp, &repr) {
            Ok(p) => p,
            Err(_) => {
                self.note(|| "native tunnel header build failed".to_string());
                self.restore_eth_view(eth_view);
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
        f.0[crate::flow::W_TUN_MD_PRESENT] = 0;
        put(f, dp::PACKET_TYPE_NS, 0);
        f.0[W_PACKET_TYPE] = 0;
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
        self.restore_eth_view(eth_view);
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
}

impl Ctx<'_, '_> {
    /// An L3 packet from a legacy_l3 port enters the tables as Ethernet
    /// with zero addresses (OVS's xlate_actions: "all packets are L2
    /// packets for lookup"); the datapath packet still has no header, so
    /// the next commit pushes one with the addresses the actions leave,
    /// unless the packet leaves by a legacy_l3 port first.
    pub(crate) fn legacy_l3_input(&mut self) {
        if !is_l3(&self.flow) {
            return;
        }
        let port = super::in_port(&self.flow);
        let l3 = self
            .br()
            .ports
            .get(port)
            .and_then(|x| x.tunnel.as_ref())
            .is_some_and(|c| c.l3);
        if l3 {
            become_ethernet(&mut self.flow);
        }
    }

    /// After output to a legacy_l3 port the tables see the packet as
    /// Ethernet again (its addresses and tags as they were); a later
    /// commit pushes the header back.
    fn restore_eth_view(&mut self, saved: Option<(u64, u64, u64)>) {
        let Some((src, dst, vlan)) = saved else {
            return;
        };
        put(&mut self.flow, dp::PACKET_TYPE_NS, 0);
        self.flow.0[W_PACKET_TYPE] = 0;
        put(&mut self.flow, dp::DL_SRC, src);
        put(&mut self.flow, dp::DL_DST, dst);
        self.flow.0[dp::W_VLAN] = vlan;
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
    (options, critical): (Vec<u8>, bool),
    inner_type: u16,
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
            critical,
            vni,
            options,
        },
        TnlKind::Gre => Encap::Gre(GreRepr {
            protocol: if c.l3 { inner_type } else { GRE_PROTO_TEB },
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

#[cfg(test)]
#[path = "tunnel_tests.rs"]
mod tests;
