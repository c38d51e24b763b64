//! Per-packet decapsulation for `tnl_pop`: validates the outer Ethernet,
//! IPv4/IPv6, UDP or GRE and tunnel headers, fills the packet's tunnel
//! metadata from them and strips them.
//!
//! A frame whose offload state says its outer checksum is partial (sent by
//! a local stack, not yet computed) or already verified by the device is
//! not checked again. Everything is checked on the untouched frame first and the metadata is
//! built on the side, so a refused packet is left as it came (to be
//! dropped and counted by the caller). What is refused, as OVS refuses it:
//! an IPv4 header with a bad checksum (options are allowed and skipped),
//! fragments, a UDP or GRE checksum that does not verify, a
//! VXLAN header with unknown flags, a Geneve header with a version other
//! than 0 or options that do not walk to their end (or longer than the
//! flow key's `TUN_GNV_OPT_BYTES`), a GRE header with
//! routing or a version, and Geneve payloads that are not Ethernet. A GRE
//! payload of another protocol than Ethernet (TEB) is an L3 packet: it is
//! kept with the packet type `(1, protocol)` (a `legacy_l3` port's
//! traffic, as OVS does). The VNI or key is not judged here: the flow
//! tables match on `tun_id` after recirculation.

use super::{TnlError, TnlKind};
use crate::flow::layout::TUN_GNV_OPT_BYTES;
use crate::offload::{Offload, VNET_F_DATA_VALID};
use crate::packet::{pt_l3, CtMd, DpPacket, Offsets, TunnelMd, PT_ETH};
use crate::wire::checksum::{checksum, fold, sum16};
use crate::wire::ethernet::{EthernetFrame, ETH_HLEN, ETH_TYPE_IPV4, ETH_TYPE_IPV6};
use crate::wire::geneve::{GeneveHeader, GeneveRepr};
use crate::wire::gre::{GreHeader, GreRepr, GRE_PROTO_TEB};
use crate::wire::ipv4::{Ipv4Packet, PROTO_UDP};
use crate::wire::ipv6::{Ipv6Packet, IPV6_HLEN};
use crate::wire::l4::UDP_HLEN;
use crate::wire::vxlan::{VxlanHeader, VxlanRepr, VXLAN_HLEN};
use crate::wire::{be16, WireError};

/// OVS's FLOW_TNL_F_* bits of `TunnelMd::flags`.
pub const TNL_F_OAM: u16 = 1 << 0;
pub const TNL_F_DONT_FRAGMENT: u16 = 1 << 1;
pub const TNL_F_CSUM: u16 = 1 << 2;
pub const TNL_F_KEY: u16 = 1 << 3;

const PROTO_GRE: u8 = super::header::PROTO_GRE;

/// Reads the outer headers of `frame` as tunnel type `kind` into `md`.
/// Returns the number of bytes to strip, the length of the outer packet
/// (the frame may carry Ethernet padding after it) and the inner packet
/// type ([`PT_ETH`], or an L3 type for GRE). `l4_csum_trusted`: the
/// offload state says the L4 checksum was verified or is still to be
/// computed by the sender (a frame from a local stack), so UDP and GRE
/// checksums are not verified.
pub fn parse_outer(
    frame: &[u8],
    kind: TnlKind,
    md: &mut TunnelMd,
    l4_csum_trusted: bool,
) -> Result<(usize, usize, u32), TnlError> {
    let eth = EthernetFrame::new_checked(frame)?;
    let l3 = &frame[ETH_HLEN..];
    // (the L4 bytes up to the IP end, their offset in the frame, protocol,
    // pseudo-header sum without the length)
    let (l4, l4_at, proto, pseudo) = match eth.ethertype() {
        ETH_TYPE_IPV4 => {
            let ip = Ipv4Packet::new_checked(l3)?;
            let hl = ip.header_len();
            if checksum(&l3[..hl]) != 0 {
                return Err(TnlError::BadChecksum);
            }
            if ip.frag() != 0 {
                return Err(TnlError::Fragment);
            }
            md.ipv4_src = ip.src();
            md.ipv4_dst = ip.dst();
            md.tos = ip.tos();
            md.ttl = ip.ttl();
            if be16(l3, 6) & super::header::IP_DF != 0 {
                md.flags |= TNL_F_DONT_FRAGMENT;
            }
            (
                ip.payload(),
                ETH_HLEN + hl,
                ip.protocol(),
                sum16(&l3[12..20], 0),
            )
        }
        ETH_TYPE_IPV6 => {
            let ip = Ipv6Packet::new_checked(l3)?;
            md.ipv6_src = ip.src();
            md.ipv6_dst = ip.dst();
            md.tos = ip.traffic_class();
            md.ttl = ip.hop_limit();
            (
                ip.payload(),
                ETH_HLEN + IPV6_HLEN,
                ip.next_header(),
                sum16(&l3[8..40], 0),
            )
        }
        _ => return Err(TnlError::NotTunnel),
    };
    let end = l4_at + l4.len();
    let strip = match kind {
        TnlKind::Vxlan | TnlKind::Geneve => {
            if proto != PROTO_UDP {
                return Err(TnlError::NotTunnel);
            }
            if l4.len() < UDP_HLEN {
                return Err(WireError::Truncated.into());
            }
            let ulen = be16(l4, 4) as usize;
            if ulen < UDP_HLEN || ulen > l4.len() {
                return Err(WireError::Malformed.into());
            }
            let udp = &l4[..ulen];
            if be16(udp, 6) != 0 {
                let acc = pseudo + PROTO_UDP as u32 + ulen as u32;
                if !l4_csum_trusted && fold(sum16(udp, acc)) != 0xffff {
                    return Err(TnlError::BadChecksum);
                }
                md.flags |= TNL_F_CSUM;
            }
            md.tp_src = be16(udp, 0);
            md.tp_dst = be16(udp, 2);
            let t = &udp[UDP_HLEN..];
            let n = if kind == TnlKind::Vxlan {
                let v = VxlanRepr::parse(&VxlanHeader::new_checked(t)?)?;
                md.id = v.vni as u64;
                VXLAN_HLEN
            } else {
                let h = GeneveHeader::new_checked(t)?;
                let g = GeneveRepr::parse(&h)?;
                if g.protocol != GRE_PROTO_TEB {
                    return Err(TnlError::Unsupported);
                }
                md.id = g.vni as u64;
                if g.oam {
                    md.flags |= TNL_F_OAM;
                }
                // The options go into the flow key, which holds
                // TUN_GNV_OPT_BYTES of them: refuse more rather than
                // match on a cut list.
                let ol = g.options.len();
                if ol > TUN_GNV_OPT_BYTES {
                    return Err(TnlError::Unsupported);
                }
                md.geneve_opts[..ol].copy_from_slice(&g.options[..ol]);
                md.geneve_len = ol as u8;
                h.header_len()
            };
            md.flags |= TNL_F_KEY;
            // the inner Ethernet frame must be at least a header
            if t.len() < n + ETH_HLEN {
                return Err(WireError::Truncated.into());
            }
            // UDP payload ends at the UDP length, not the IP end
            let end = l4_at + ulen;
            return Ok((l4_at + UDP_HLEN + n, end, PT_ETH));
        }
        TnlKind::Gre => {
            if proto != PROTO_GRE {
                return Err(TnlError::NotTunnel);
            }
            let h = GreHeader::new_checked(l4)?;
            let g = GreRepr::parse(&h)?;
            if !l4_csum_trusted && !h.checksum_ok() {
                return Err(TnlError::BadChecksum);
            }
            if g.csum {
                md.flags |= TNL_F_CSUM;
            }
            if let Some(k) = g.key {
                md.id = k as u64;
                md.flags |= TNL_F_KEY;
            }
            if g.protocol != GRE_PROTO_TEB {
                // An L3 payload: something to parse must follow.
                if h.payload().is_empty() {
                    return Err(WireError::Truncated.into());
                }
                return Ok((l4_at + h.header_len(), end, pt_l3(g.protocol)));
            }
            if h.payload().len() < ETH_HLEN {
                return Err(WireError::Truncated.into());
            }
            l4_at + h.header_len()
        }
    };
    Ok((strip, end, PT_ETH))
}

/// Decapsulates `pkt` in place: on success the frame is the inner
/// Ethernet frame (or L3 packet, with its packet type set), the tunnel metadata is set, conntrack state is cleared
/// (as OVS does on pop), and offload state is kept only where it concerns
/// the inner frame. On error `pkt` is unchanged.
pub fn pop(pkt: &mut DpPacket, kind: TnlKind) -> Result<(), TnlError> {
    let mut md = TunnelMd::default();
    let o = pkt.offload();
    let trusted = o.needs_csum() || o.flags & VNET_F_DATA_VALID != 0;
    let (strip, end, packet_type) = parse_outer(pkt.data(), kind, &mut md, trusted)?;
    pkt.truncate(end);
    // Offload state pointing into the outer headers (a partial outer
    // checksum) goes; an inner partial checksum (the sender's outer one
    // was computed without it) moves with the frame and is kept. "Verified"
    // spoke of the outer checksum only. (Offload::shift would also drop
    // the inner state, as hdr_len 0 of a non-GSO packet lies in the pulled
    // bytes.)
    let o = pkt.offload();
    let inner = if o.needs_csum() && !o.is_gso() && o.csum_start as usize >= strip {
        Offload {
            flags: o.flags & !VNET_F_DATA_VALID,
            csum_start: o.csum_start - strip as u16,
            hdr_len: o.hdr_len.saturating_sub(strip as u16),
            ..o
        }
    } else {
        Offload::NONE
    };
    pkt.pull_front(strip);
    pkt.set_offload(inner);
    pkt.set_offsets(Offsets::default());
    let m = pkt.md_mut();
    m.tunnel = md;
    m.ct = CtMd::default();
    m.packet_type = packet_type;
    Ok(())
}
