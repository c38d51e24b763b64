//! Flow key extraction: one pass over the headers, front to back.
//!
//! Metadata words are pushed first, then each header is viewed once
//! through the checked `wire` views and its words appended to the
//! [`FlowKey`] in layout order, so no word is ever revisited. When a header
//! is truncated or malformed, extraction stops there and the key keeps what
//! was parsed before it, following OVS's `miniflow_extract`:
//!
//! - shorter than an Ethernet header: metadata only;
//! - a VLAN tag cut short: the TPID stays as `dl_type`;
//! - an IPv4/IPv6 header failing its sanity check (bad version or length,
//!   fewer bytes than the length fields claim): `dl_type` but no L3 words;
//! - an IPv6 extension header cut short (each needs 8 bytes): addresses
//!   but no `nw_proto`;
//! - later fragments: L3 words, no L4 words (IPv6: `nw_proto` 44);
//! - an L4 header cut short or malformed: L3 words, no L4 words (ICMP,
//!   ICMPv6 and IGMP need their whole 8-byte header);
//! - a malformed ND message: see [`icmp::parse_nd`];
//! - MPLS: up to three label stack entries, nothing below; NSH: its base,
//!   path and MD1 context words, nothing after.
//!
//! `tests/extract_ovs.rs` checks all this against OVS's own extraction.
//!
//! It also records header offsets in the packet, for actions.
//!
//! The commonest frame (untagged Ethernet, IPv4 without options, not a
//! fragment, UDP/TCP/SCTP) takes a straight-line path: one predicate over
//! fixed offsets says the general walk would reach the L4 header, then the
//! words are read at those offsets with no per-header views or length
//! checks. It lays down exactly the words, offsets and hash the general walk
//! would (tests and the fuzz target compare the two on every input); any
//! other frame takes the general walk.

use super::key::{FlowKey, KeyBuilder};
use super::layout::*;
use crate::packet::{DpPacket, Offsets, PktMetadata, PT_ETH, PT_NS_ETHERTYPE};
use crate::wire::arp::ArpPacket;
use crate::wire::ethernet::*;
use crate::wire::icmp;
use crate::wire::ipv4::{self, Ipv4Packet, FRAG_LATER};
use crate::wire::ipv6::{self, Ipv6Packet};
use crate::wire::l4::{PortsHeader, TcpHeader, SCTP_HLEN, UDP_HLEN};
use crate::wire::nsh;
use crate::wire::{be16, be32};

const ETH_TYPE_RARP: u16 = 0x8035;

/// Extracts the key of `pkt` into `key` and stores header offsets in the
/// packet.
///
/// A received packet (clean metadata) carrying the common frame is
/// extracted inline; anything else calls the general walk out of line, so
/// that the caller's loop keeps its registers for the common case.
#[inline(always)]
pub fn extract(pkt: &mut DpPacket, key: &mut FlowKey) {
    let (data, md, dirty) = pkt.parts();
    let ofs = match fast_frame(data) {
        Some(h) if !dirty => extract_fast(h, md.in_port, key),
        _ => extract_other(data, md, dirty, key),
    };
    pkt.set_offsets(ofs);
}

#[inline(never)]
fn extract_other(data: &[u8], md: &PktMetadata, dirty: bool, key: &mut FlowKey) -> Offsets {
    if dirty {
        extract_parts(data, md, key)
    } else {
        extract_clean(data, md.in_port, key)
    }
}

/// The key of a clean packet whose frame [`fast_frame`] accepted.
#[inline(always)]
fn extract_fast(h: &[u8; FAST_LEN], in_port: u32, key: &mut FlowKey) -> Offsets {
    let mut b = key.builder();
    b.push(W_MD0, in_port as u64);
    let mut p = Parse {
        b,
        ofs: Offsets::default(),
    };
    push_fast(h, &mut p);
    p.b.finish();
    p.ofs
}

/// Extraction of a packet whose metadata is clean (every field but
/// `in_port` zero, see [`DpPacket::md_dirty`]): the same key as
/// [`extract_parts`] without reading the metadata's other cache lines.
#[inline]
fn extract_clean(data: &[u8], in_port: u32, key: &mut FlowKey) -> Offsets {
    let mut b = key.builder();
    b.push(W_MD0, in_port as u64);
    let p = parse_l2::<true>(
        data,
        Parse {
            b,
            ofs: Offsets::default(),
        },
    );
    p.b.finish();
    p.ofs
}

#[inline(always)]
fn w2(hi: u64, lo: u64, shift: u32) -> u64 {
    (hi << shift) | lo
}

#[inline(always)]
fn push_metadata(b: &mut KeyBuilder<'_>, md: &PktMetadata) {
    b.push(W_MD0, w2(md.recirc_id as u64, md.in_port as u64, 32));
    b.push(W_MD1, w2(md.skb_priority as u64, md.dp_hash as u64, 32));
    b.push(
        W_MD2,
        md.pkt_mark as u64 | (md.ct.zone as u64) << 32 | (md.ct.state as u64) << 48,
    );
    if md.ct.state != 0 || md.ct.mark != 0 || md.ct.label != 0 {
        let ct = &md.ct;
        b.push(W_CT_MARK, ct.mark as u64 | (ct.orig.nw_proto as u64) << 32);
        b.push(W_CT_LABEL, (ct.label >> 64) as u64);
        b.push(W_CT_LABEL + 1, ct.label as u64);
        b.push(
            W_CT_NW,
            w2(ct.orig.ipv4_src as u64, ct.orig.ipv4_dst as u64, 32),
        );
        b.push(W_CT_IPV6_SRC, (ct.orig.ipv6_src >> 64) as u64);
        b.push(W_CT_IPV6_SRC + 1, ct.orig.ipv6_src as u64);
        b.push(W_CT_IPV6_DST, (ct.orig.ipv6_dst >> 64) as u64);
        b.push(W_CT_IPV6_DST + 1, ct.orig.ipv6_dst as u64);
        b.push(
            W_CT_TP,
            w2(ct.orig.tp_src as u64, ct.orig.tp_dst as u64, 16),
        );
    }
    let t = &md.tunnel;
    if t.is_set() {
        b.push(W_TUN_ID, t.id);
        b.push(W_TUN_V4, w2(t.ipv4_src as u64, t.ipv4_dst as u64, 32));
        b.push(W_TUN_V6_SRC, (t.ipv6_src >> 64) as u64);
        b.push(W_TUN_V6_SRC + 1, t.ipv6_src as u64);
        b.push(W_TUN_V6_DST, (t.ipv6_dst >> 64) as u64);
        b.push(W_TUN_V6_DST + 1, t.ipv6_dst as u64);
        b.push(
            W_TUN_MISC,
            t.tos as u64
                | (t.ttl as u64) << 8
                | (t.flags as u64) << 16
                | (t.tp_src as u64) << 32
                | (t.tp_dst as u64) << 48,
        );
        // Geneve options, raw (`tnl_pop` refuses more than the key holds).
        let opts = t.geneve();
        if !opts.is_empty() {
            b.push(W_TUN_GNV, opts.len() as u64);
            for (i, c) in opts.chunks(8).take(TUN_GNV_OPT_WORDS).enumerate() {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                b.push(W_TUN_GNV_OPTS + i, u64::from_be_bytes(w));
            }
        }
    }
}

#[inline(always)]
fn nw_misc(label: u32, frag: u8, tos: u8, ttl: u8, proto: u8) -> u64 {
    (label & 0xf_ffff) as u64
        | (frag as u64) << 32
        | (tos as u64) << 40
        | (ttl as u64) << 48
        | (proto as u64) << 56
}

#[inline(always)]
fn tp_word(src: u16, dst: u16, flags: u16) -> u64 {
    src as u64 | (dst as u64) << 16 | (flags as u64) << 32
}

/// Extraction over raw parts; returns the header offsets.
#[inline]
pub fn extract_parts(data: &[u8], md: &PktMetadata, key: &mut FlowKey) -> Offsets {
    extract_parts_with::<true>(data, md, key)
}

/// [`extract_parts`] with the common-frame fast path turned off: the
/// general header walk alone (the reference the fast path is tested
/// against).
pub fn extract_parts_general(data: &[u8], md: &PktMetadata, key: &mut FlowKey) -> Offsets {
    extract_parts_with::<false>(data, md, key)
}

#[inline(always)]
fn extract_parts_with<const FAST: bool>(
    data: &[u8],
    md: &PktMetadata,
    key: &mut FlowKey,
) -> Offsets {
    let mut b = key.builder();
    push_metadata(&mut b, md);
    let p = Parse {
        b,
        ofs: Offsets::default(),
    };
    let p = if md.packet_type == PT_ETH {
        parse_l2::<FAST>(data, p)
    } else {
        parse_l3_packet(md.packet_type, data, p)
    };
    p.b.finish();
    p.ofs
}

/// An L3 packet (no Ethernet header): no L2 words, `dl_type` from the
/// packet type with the namespace beside it, then the usual L3 walk from
/// byte 0. A packet type of another namespace than EtherType has only its
/// namespace word (OVS parses nothing of it either).
#[inline(never)]
fn parse_l3_packet<'k>(pt: u32, data: &[u8], mut b: Parse<'k>) -> Parse<'k> {
    let ns = (pt >> 16) as u64;
    b.ofs.l2_5 = 0;
    if ns != PT_NS_ETHERTYPE as u64 {
        b.push(W_DL_TYPE, PACKET_TYPE_NS.place(ns));
        return b;
    }
    parse_ethertype(pt as u16, data, 0, PACKET_TYPE_NS.place(ns), b)
}

/// What the header walk carries from one header to the next: the key
/// builder and the header offsets. Passed by value (and returned), never by
/// reference, so that it stays in registers: a stored-then-reloaded map,
/// length, hash or offset would put a store-to-load forwarding delay on
/// every header.
struct Parse<'k> {
    b: KeyBuilder<'k>,
    ofs: Offsets,
}

impl Parse<'_> {
    #[inline(always)]
    fn push(&mut self, idx: usize, w: u64) {
        self.b.push(idx, w);
    }
}

/// Ethernet + IPv4 header bytes of a fast-path frame.
const FAST_L3_END: usize = ETH_HLEN + 20;
/// Bytes the fast path reads: the headers plus 20 bytes of L4 (UDP and
/// SCTP use the first 4).
const FAST_LEN: usize = FAST_L3_END + 20;

/// Per IP protocol, the L4 header length the fast path needs (UDP 8,
/// SCTP 12, TCP 20), or more than an IPv4 total length can cover for a
/// protocol it leaves to the general walk.
const FAST_L4_LEN: [u32; 256] = {
    let mut t = [1 << 16; 256];
    t[ipv4::PROTO_UDP as usize] = UDP_HLEN as u32;
    t[ipv4::PROTO_SCTP as usize] = SCTP_HLEN as u32;
    t[ipv4::PROTO_TCP as usize] = 20;
    t
};

/// The common frame, at fixed offsets: untagged IPv4 with IHL 5 whose
/// total length covers the header and fits the frame, not a fragment
/// (MF and offset clear; DF is ignored), and a UDP, SCTP or TCP header
/// that the general walk would accept (for TCP: data offset >= 5 words and
/// within the IP payload). Exactly the frames for which the general walk
/// reaches and accepts the L4 header with `l3` = `l2_5` = 14 and `l4` = 34,
/// restricted to frames of at least [`FAST_LEN`] bytes (any real frame: the
/// Ethernet minimum is 60). The conditions are combined without branches;
/// the one branch on the result is taken the same way for a whole flow.
#[inline(always)]
fn fast_frame(data: &[u8]) -> Option<&[u8; FAST_LEN]> {
    let h = data.first_chunk::<FAST_LEN>()?;
    // Two loads cover the fields: bytes 12..20 (EtherType, version/IHL,
    // TOS, total length, id) and 20..24 (flags/fragment offset, TTL,
    // protocol). EtherType 0x0800 and IHL 5 are one masked compare; MF and
    // the fragment offset another (DF ignored).
    let w12 = u64::from_le_bytes([h[12], h[13], h[14], h[15], h[16], h[17], h[18], h[19]]);
    let w20 = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
    let ty_ihl = w12 as u32 & 0x000f_ffff;
    let tot = u16::from_be((w12 >> 32) as u16) as usize;
    let frag = w20 & 0xff3f;
    let proto = (w20 >> 24) as u8;
    // Unsupported protocols need more L4 bytes than any IPv4 packet has.
    let l4_len = FAST_L4_LEN[proto as usize] as usize;
    let tcp_off = (h[FAST_L3_END + 12] >> 4) as usize * 4;
    let ok = (ty_ihl == 0x0005_0008)
        & (frag == 0)
        & (tot >= 20 + l4_len)
        & (tot <= data.len() - ETH_HLEN)
        & ((proto != ipv4::PROTO_TCP) | ((tcp_off >= 20) & (tcp_off + 20 <= tot)));
    ok.then_some(h)
}

/// The words and offsets of a frame [`fast_frame`] accepted, as the general
/// walk lays them down (no VLAN word: an untagged frame's is zero).
#[inline(always)]
fn push_fast(h: &[u8; FAST_LEN], b: &mut Parse<'_>) {
    let be64 = |at: usize| {
        u64::from_be_bytes([
            h[at],
            h[at + 1],
            h[at + 2],
            h[at + 3],
            h[at + 4],
            h[at + 5],
            h[at + 6],
            h[at + 7],
        ])
    };
    let be16 = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
    let dl_dst = be64(0) >> 16;
    let dl_src = be64(6) >> 16;
    // Source and destination addresses are one big-endian 64-bit load.
    let nw = be64(26);
    // Never zero: the protocol is UDP, TCP or SCTP.
    let nw_misc = nw_misc(0, 0, h[15], h[22], h[23]);
    let l4 = FAST_L3_END;
    let flags = if h[23] == ipv4::PROTO_TCP {
        be16(l4 + 12) & 0x0fff
    } else {
        0
    };
    let tp = tp_word(be16(l4), be16(l4 + 2), flags);
    if (dl_dst != 0) & (dl_src != 0) & (nw != 0) & (tp != 0) {
        // Every word present (real traffic): no per-word test.
        b.b.push_nonzero(W_DL_DST, dl_dst);
        b.b.push_nonzero(W_DL_SRC, dl_src);
        b.b.push_nonzero(W_DL_TYPE, ETH_TYPE_IPV4 as u64);
        b.b.push_nonzero(W_NW, nw);
        b.b.push_nonzero(W_NW_MISC, nw_misc);
        b.b.push_nonzero(W_TP, tp);
    } else {
        b.push(W_DL_DST, dl_dst);
        b.push(W_DL_SRC, dl_src);
        b.push(W_DL_TYPE, ETH_TYPE_IPV4 as u64);
        b.push(W_NW, nw);
        b.push(W_NW_MISC, nw_misc);
        b.push(W_TP, tp);
    }
    b.ofs = Offsets {
        l2_5: ETH_HLEN as u16,
        l3: ETH_HLEN as u16,
        l4: FAST_L3_END as u16,
    };
}

#[inline(always)]
fn parse_l2<'k, const FAST: bool>(data: &[u8], mut b: Parse<'k>) -> Parse<'k> {
    if FAST {
        if let Some(h) = fast_frame(data) {
            push_fast(h, &mut b);
            return b;
        }
    }
    parse_l2_general(data, b)
}

#[inline(always)]
fn parse_l2_general<'k>(data: &[u8], mut b: Parse<'k>) -> Parse<'k> {
    let Ok(eth) = EthernetFrame::new_checked(data) else {
        return b;
    };
    b.push(W_DL_DST, eth.dst());
    b.push(W_DL_SRC, eth.src());
    // VLAN tags: up to two, each needs its 4 bytes plus the next type.
    let mut off = 12usize;
    let mut ty = eth.ethertype();
    let mut vlan = 0u64;
    let mut ntags = 0;
    while ntags < 2 && is_vlan_tpid(ty) && data.len() >= off + VLAN_HLEN + 2 {
        let tci = be16(data, off + 2) | VLAN_PRESENT;
        vlan |= ((ty as u64) << 16 | tci as u64) << (32 * ntags);
        ntags += 1;
        off += VLAN_HLEN;
        ty = be16(data, off);
    }
    b.push(W_VLAN, vlan);
    off += 2;
    // 802.3 length field: LLC/SNAP may carry a real type.
    if ty < ETH_TYPE_MIN {
        ty = ETH_TYPE_NONE;
        if data.len() >= off + 8
            && data[off] == 0xaa
            && data[off + 1] == 0xaa
            && data[off + 2] == 0x03
            && data[off + 3..off + 6] == [0, 0, 0]
        {
            let t = be16(data, off + 6);
            if t >= ETH_TYPE_MIN {
                ty = t;
                off += 8;
            }
        }
    }
    b.ofs.l2_5 = off as u16;
    parse_ethertype(ty, data, off, 0, b)
}

/// What follows the EtherType `ty` at `off`; `pt_ns` is the packet type
/// namespace already in place in the `dl_type` word (zero for Ethernet).
#[inline(always)]
fn parse_ethertype<'k>(
    ty: u16,
    data: &[u8],
    off: usize,
    pt_ns: u64,
    mut b: Parse<'k>,
) -> Parse<'k> {
    let rest = &data[off..];
    if is_mpls(ty) {
        return parse_mpls(ty as u64 | pt_ns, rest, b);
    }
    b.push(W_DL_TYPE, ty as u64 | pt_ns);
    match ty {
        ETH_TYPE_IPV4 => parse_ipv4(rest, off, b),
        ETH_TYPE_IPV6 => parse_ipv6(rest, off, b),
        ETH_TYPE_ARP | ETH_TYPE_RARP => parse_arp(rest, off, b),
        ETH_TYPE_NSH => parse_nsh(rest, off, b),
        _ => b,
    }
}

/// The MPLS label stack: as OVS, entries are counted up to the bottom of
/// stack (or the end of the frame) and the first three are kept; nothing
/// below the stack is parsed.
fn parse_mpls<'k>(ty: u64, rest: &[u8], mut b: Parse<'k>) -> Parse<'k> {
    let mut lse = [0u32; 3];
    for (i, e) in rest.chunks_exact(4).take(3).enumerate() {
        lse[i] = be32(e, 0);
        if lse[i] & 0x100 != 0 {
            break;
        }
    }
    b.push(W_DL_TYPE, ty | (lse[0] as u64) << 32);
    b.push(W_MPLS, w2(lse[2] as u64, lse[1] as u64, 32));
    b
}

/// An NSH header (OVS's `parse_nsh`): version 0 and a length within the
/// frame, MD type 1 exactly 24 bytes with its four context words, any
/// other MD type with the context left zero. Nothing after it is parsed.
fn parse_nsh<'k>(buf: &[u8], base: usize, mut b: Parse<'k>) -> Parse<'k> {
    b.ofs.l3 = base as u16;
    let Ok(n) = nsh::NshHeader::new_checked(buf) else {
        return b;
    };
    b.push(
        W_NSH,
        n.flags() as u64
            | (n.ttl() as u64) << 8
            | (n.md_type() as u64) << 16
            | (n.next_proto() as u64) << 24
            | (n.path_hdr() as u64) << 32,
    );
    let c = n.context();
    b.push(W_NSH_C, w2(c[1] as u64, c[0] as u64, 32));
    b.push(W_NSH_C + 1, w2(c[3] as u64, c[2] as u64, 32));
    b
}

#[inline(always)]
fn parse_ipv4<'k>(buf: &[u8], base: usize, mut b: Parse<'k>) -> Parse<'k> {
    let Ok(ip) = Ipv4Packet::new_checked(buf) else {
        return b;
    };
    b.ofs.l3 = base as u16;
    b.push(W_NW, w2(ip.src() as u64, ip.dst() as u64, 32));
    let frag = ip.frag();
    let proto = ip.protocol();
    b.push(W_NW_MISC, nw_misc(0, frag, ip.tos(), ip.ttl(), proto));
    if frag & FRAG_LATER != 0 {
        return b;
    }
    let l4_off = base + ip.header_len();
    parse_l4::<false>(proto, ip.payload(), l4_off, b)
}

/// The L4 header of a first or unfragmented IP packet. As OVS, the
/// protocol alone picks the parser, whichever IP version carries it: ICMP
/// in IPv6 and ICMPv6 in IPv4 have their type and code. The ND fields of
/// an NS/NA are read in IPv6 only (`V6`): OVS's `flow_extract` also fills
/// them in under IPv4, but no match, flow dump or datapath key of OVS can
/// show them there (they need `dl_type=0x86dd`), so ferrovs leaves them
/// out rather than carry two words no one can read.
#[inline(always)]
fn parse_l4<'k, const V6: bool>(proto: u8, l4: &[u8], l4_off: usize, b: Parse<'k>) -> Parse<'k> {
    match proto {
        ipv4::PROTO_TCP => parse_tcp(l4, l4_off, b),
        ipv4::PROTO_UDP => parse_ports(l4, UDP_HLEN, l4_off, b),
        ipv4::PROTO_SCTP => parse_ports(l4, SCTP_HLEN, l4_off, b),
        ipv4::PROTO_ICMP | ipv4::PROTO_IGMP => parse_type_code(l4, l4_off, b),
        ipv6::PROTO_ICMPV6 => parse_icmpv6::<V6>(l4, l4_off, b),
        _ => b,
    }
}

/// ICMP and IGMP: type and code in `tp_src`/`tp_dst`, when the whole
/// 8-byte header is there (OVS's `ICMP_HEADER_LEN`, `IGMP_HEADER_LEN`).
#[inline(always)]
fn parse_type_code<'k>(l4: &[u8], l4_off: usize, mut b: Parse<'k>) -> Parse<'k> {
    if l4.len() >= icmp::ICMP_DATA_HLEN {
        b.ofs.l4 = l4_off as u16;
        b.push(W_TP, tp_word(l4[0] as u16, l4[1] as u16, 0));
    }
    b
}

/// ICMPv6 (8 bytes at least), and for an NS or NA of code 0 its target and
/// link-layer addresses, as far as they parse (see [`icmp::parse_nd`]).
fn parse_icmpv6<'k, const V6: bool>(l4: &[u8], l4_off: usize, mut b: Parse<'k>) -> Parse<'k> {
    if l4.len() < icmp::ICMP_DATA_HLEN {
        return b;
    }
    b.ofs.l4 = l4_off as u16;
    let (ty, code) = (l4[0], l4[1]);
    if V6 && code == 0 && (ty == icmp::ND_NEIGHBOR_SOLICIT || ty == icmp::ND_NEIGHBOR_ADVERT) {
        let nd = icmp::parse_nd(l4);
        b.push(W_ARP_SHA, nd.sll);
        b.push(W_ARP_THA, nd.tll);
        b.push(W_ND_TARGET, (nd.target >> 64) as u64);
        b.push(W_ND_TARGET + 1, nd.target as u64);
    }
    b.push(W_TP, tp_word(ty as u16, code as u16, 0));
    b
}

#[inline(always)]
fn parse_tcp<'k>(l4: &[u8], l4_off: usize, mut b: Parse<'k>) -> Parse<'k> {
    if let Ok(t) = TcpHeader::new_checked(l4) {
        b.ofs.l4 = l4_off as u16;
        b.push(W_TP, tp_word(t.src_port(), t.dst_port(), t.flags()));
    }
    b
}

#[inline(always)]
fn parse_ports<'k>(l4: &[u8], min: usize, l4_off: usize, mut b: Parse<'k>) -> Parse<'k> {
    if let Ok(u) = PortsHeader::new_checked(l4, min) {
        b.ofs.l4 = l4_off as u16;
        b.push(W_TP, tp_word(u.src_port(), u.dst_port(), 0));
    }
    b
}

fn parse_ipv6<'k>(buf: &[u8], base: usize, mut b: Parse<'k>) -> Parse<'k> {
    let Ok(ip) = Ipv6Packet::new_checked(buf) else {
        return b;
    };
    b.ofs.l3 = base as u16;
    let (s, d) = (ip.src(), ip.dst());
    b.push(W_IPV6_SRC, (s >> 64) as u64);
    b.push(W_IPV6_SRC + 1, s as u64);
    b.push(W_IPV6_DST, (d >> 64) as u64);
    b.push(W_IPV6_DST + 1, d as u64);
    let payload = ip.payload();
    let walk = ipv6::walk_ext_headers(payload, ip.next_header());
    if !walk.complete {
        return b;
    }
    let proto = walk.proto;
    b.push(
        W_NW_MISC,
        nw_misc(
            ip.flow_label(),
            walk.frag,
            ip.traffic_class(),
            ip.hop_limit(),
            proto,
        ),
    );
    if walk.frag & FRAG_LATER != 0 {
        return b;
    }
    let l4_off = base + ipv6::IPV6_HLEN + walk.offset;
    parse_l4::<true>(proto, &payload[walk.offset..], l4_off, b)
}

fn parse_arp<'k>(buf: &[u8], base: usize, mut b: Parse<'k>) -> Parse<'k> {
    let Ok(arp) = ArpPacket::new_checked(buf) else {
        return b;
    };
    b.ofs.l3 = base as u16;
    b.push(W_NW, w2(arp.spa() as u64, arp.tpa() as u64, 32));
    // Only the low 8 bits of the opcode are matched (as OVS).
    let op = arp.op();
    let op = if op <= 0xff { op as u8 } else { 0 };
    b.push(W_NW_MISC, nw_misc(0, 0, 0, 0, op));
    b.push(W_ARP_SHA, arp.sha());
    b.push(W_ARP_THA, arp.tha());
    b
}
