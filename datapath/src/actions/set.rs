//! Masked set of L2/L3/L4 fields and metadata, with checksum fixes.
//!
//! Every field is written as `new = (old & !mask) | (value & mask)`. The
//! IPv4 header checksum and the TCP/UDP/ICMPv6 checksums (pseudo-header
//! included) are patched incrementally from the old and new values; a UDP
//! checksum of 0 (none) stays 0. SCTP's CRC32c is recomputed and combined
//! with the old value so that a packet that arrived with a bad checksum
//! still has a bad one (as OVS does). A set on a header the packet does not
//! have (per the offsets extraction found) does nothing.

use crate::packet::{DpPacket, TunnelMd, NO_OFFSET};
use crate::wire::checksum::{crc32c, update128, update16};
use crate::wire::ipv4::{PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use crate::wire::ipv6::PROTO_ICMPV6;
use crate::wire::{be128, be16, be32, mac48, put_be16, put_be32, put_mac48};

/// A value and the bits of it to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Masked<T> {
    pub value: T,
    pub mask: T,
}

macro_rules! apply_masked {
    ($t:ty) => {
        impl Masked<$t> {
            #[inline]
            pub fn apply(&self, old: $t) -> $t {
                (old & !self.mask) | (self.value & self.mask)
            }
            pub fn exact(value: $t) -> Self {
                Masked { value, mask: !0 }
            }
        }
    };
}
apply_masked!(u8);
apply_masked!(u16);
apply_masked!(u32);
apply_masked!(u64);
apply_masked!(u128);

/// What a `set` action writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetField {
    Ethernet {
        src: Masked<u64>,
        dst: Masked<u64>,
    },
    /// Top MPLS label stack entry.
    Mpls {
        lse: Masked<u32>,
    },
    Ipv4 {
        src: Masked<u32>,
        dst: Masked<u32>,
        tos: Masked<u8>,
        ttl: Masked<u8>,
    },
    /// Boxed, as the other wide variants: an action stays 40 bytes, so a
    /// megaflow's inline list of two is one cache line and a bit.
    Ipv6(Box<SetIpv6>),
    Tcp {
        src: Masked<u16>,
        dst: Masked<u16>,
    },
    Udp {
        src: Masked<u16>,
        dst: Masked<u16>,
    },
    Sctp {
        src: Masked<u16>,
        dst: Masked<u16>,
    },
    Arp(Box<SetArp>),
    /// ICMP (v4, or v6 with `v6`) type and code; checksum fixed.
    Icmp {
        v6: bool,
        r#type: Masked<u8>,
        code: Masked<u8>,
    },
    Nd(Box<SetNd>),
    SkbPriority(Masked<u32>),
    PktMark(Masked<u32>),
    /// Tunnel metadata for a later encapsulation (not masked, as in OVS).
    Tunnel(Box<TunnelMd>),
}

/// The fields of [`SetField::Ipv6`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetIpv6 {
    pub src: Masked<u128>,
    pub dst: Masked<u128>,
    pub label: Masked<u32>,
    pub tclass: Masked<u8>,
    pub hlimit: Masked<u8>,
}

/// The fields of [`SetField::Arp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetArp {
    pub op: Masked<u16>,
    pub sha: Masked<u64>,
    pub spa: Masked<u32>,
    pub tha: Masked<u64>,
    pub tpa: Masked<u32>,
}

/// The fields of [`SetField::Nd`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetNd {
    pub target: Masked<u128>,
    pub sll: Masked<u64>,
    pub tll: Masked<u64>,
}

/// Applies a set action to one packet.
pub fn apply(p: &mut DpPacket, s: &SetField) {
    match s {
        SetField::Ethernet { src, dst } => {
            let d = p.data_mut();
            if d.len() >= 12 {
                let v = dst.apply(mac48(d, 0));
                put_mac48(d, 0, v);
                let v = src.apply(mac48(d, 6));
                put_mac48(d, 6, v);
            }
        }
        SetField::Mpls { lse } => {
            let at = p.offsets().l2_5 as usize;
            let d = p.data_mut();
            if at != NO_OFFSET as usize && d.len() >= at + 4 {
                let v = lse.apply(be32(d, at));
                put_be32(d, at, v);
            }
        }
        SetField::Ipv4 { src, dst, tos, ttl } => set_ipv4(p, src, dst, tos, ttl),
        SetField::Ipv6(v) => set_ipv6(p, &v.src, &v.dst, &v.label, &v.tclass, &v.hlimit),
        SetField::Tcp { src, dst } => set_ports(p, PROTO_TCP, src, dst),
        SetField::Udp { src, dst } => set_ports(p, PROTO_UDP, src, dst),
        SetField::Sctp { src, dst } => set_ports(p, PROTO_SCTP, src, dst),
        SetField::Arp(a) => {
            let SetArp {
                op,
                sha,
                spa,
                tha,
                tpa,
            } = &**a;
            let at = p.offsets().l3 as usize;
            let d = p.data_mut();
            if at == NO_OFFSET as usize || d.len() < at + 28 {
                return;
            }
            let a = &mut d[at..];
            let v = op.apply(be16(a, 6));
            put_be16(a, 6, v);
            let v = sha.apply(mac48(a, 8));
            put_mac48(a, 8, v);
            let v = spa.apply(be32(a, 14));
            put_be32(a, 14, v);
            let v = tha.apply(mac48(a, 18));
            put_mac48(a, 18, v);
            let v = tpa.apply(be32(a, 24));
            put_be32(a, 24, v);
        }
        SetField::Nd(n) => set_nd(p, &n.target, &n.sll, &n.tll),
        SetField::Icmp { v6, r#type, code } => set_icmp(p, *v6, r#type, code),
        SetField::SkbPriority(m) => {
            let md = p.md_mut();
            md.skb_priority = m.apply(md.skb_priority);
        }
        SetField::PktMark(m) => {
            let md = p.md_mut();
            md.pkt_mark = m.apply(md.pkt_mark);
        }
        SetField::Tunnel(t) => p.md_mut().tunnel.clone_from(t),
    }
}

/// Offset of the L4 checksum field for `proto`, if the packet has one.
fn l4_csum_at(proto: u8) -> Option<usize> {
    match proto {
        PROTO_TCP => Some(16),
        PROTO_UDP => Some(6),
        PROTO_ICMPV6 => Some(2),
        _ => None,
    }
}

/// How the L4 checksum field of a packet is to be updated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum L4Csum {
    /// A complete checksum: updated by RFC 1624.
    Full,
    /// A partial checksum (checksum offload, see [`crate::offload`]): the
    /// field holds the uninverted pseudo-header sum, so it changes with
    /// the addresses (the same update, on the inverted value) and not with
    /// anything the final sum will cover (ports).
    Partial,
}

/// Whether the packet's L4 checksum at `l4` is a partial one.
fn l4_csum_kind(p: &DpPacket, l4: usize) -> L4Csum {
    let o = p.offload();
    if o.needs_csum() && o.csum_start as usize == l4 {
        L4Csum::Partial
    } else {
        L4Csum::Full
    }
}

/// Applies the pseudo-header update `f` to the L4 checksum (if present in
/// the bytes; a UDP 0 stays 0).
fn fix_l4(d: &mut [u8], l4: usize, proto: u8, kind: L4Csum, f: impl Fn(u16) -> u16) {
    let Some(c) = l4_csum_at(proto) else { return };
    if l4 == NO_OFFSET as usize || d.len() < l4 + c + 2 {
        return;
    }
    let old = be16(d, l4 + c);
    if kind == L4Csum::Partial {
        put_be16(d, l4 + c, !f(!old));
        return;
    }
    if proto == PROTO_UDP && old == 0 {
        return;
    }
    let mut new = f(old);
    if proto == PROTO_UDP && new == 0 {
        new = 0xffff;
    }
    put_be16(d, l4 + c, new);
}

/// The RFC 1624 terms `~m + m'` of a 32-bit value changing from `old` to
/// `new` (its two 16-bit words), not folded: a few such sums stay far
/// below 2^32, and [`csum_apply`] folds once.
#[inline(always)]
fn csum_delta32(old: u32, new: u32) -> u32 {
    (!old >> 16) + (!old & 0xffff) + (new >> 16) + (new & 0xffff)
}

/// `HC' = ~(~HC + delta)` with two folds (enough for `delta` below 2^20):
/// the same value as one `update16` per word changed, in fewer steps.
#[inline(always)]
fn csum_apply(csum: u16, delta: u32) -> u16 {
    debug_assert!(delta < 1 << 20);
    let mut acc = (!csum) as u32 + delta;
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    !(acc as u16)
}

pub(crate) fn set_ipv4(
    p: &mut DpPacket,
    src: &Masked<u32>,
    dst: &Masked<u32>,
    tos: &Masked<u8>,
    ttl: &Masked<u8>,
) {
    let o = p.offsets();
    let (l3, l4) = (o.l3 as usize, o.l4 as usize);
    let kind = l4_csum_kind(p, l4);
    let d = p.data_mut();
    if l3 == NO_OFFSET as usize || d.len() < l3 + 20 || d[l3] >> 4 != 4 {
        return;
    }
    let proto = d[l3 + 9];
    let mut csum = be16(d, l3 + 10);
    let old_s = be32(d, l3 + 12);
    let new_s = src.apply(old_s);
    let old_d = be32(d, l3 + 16);
    let new_d = dst.apply(old_d);
    if old_s != new_s || old_d != new_d {
        put_be32(d, l3 + 12, new_s);
        put_be32(d, l3 + 16, new_d);
        // The address change is one RFC 1624 sum, shared by the IPv4 and
        // the L4 (pseudo-header) checksums.
        let delta = csum_delta32(old_s, new_s) + csum_delta32(old_d, new_d);
        csum = csum_apply(csum, delta);
        if proto == PROTO_TCP || proto == PROTO_UDP {
            fix_l4(d, l4, proto, kind, |c| csum_apply(c, delta));
        }
    }
    let old_tos = d[l3 + 1];
    let new_tos = tos.apply(old_tos);
    if new_tos != old_tos {
        d[l3 + 1] = new_tos;
        csum = update16(
            csum,
            u16::from_be_bytes([d[l3], old_tos]),
            u16::from_be_bytes([d[l3], new_tos]),
        );
    }
    let old_ttl = d[l3 + 8];
    let new_ttl = ttl.apply(old_ttl);
    if new_ttl != old_ttl {
        d[l3 + 8] = new_ttl;
        csum = update16(
            csum,
            u16::from_be_bytes([old_ttl, proto]),
            u16::from_be_bytes([new_ttl, proto]),
        );
    }
    put_be16(d, l3 + 10, csum);
}

pub(crate) fn set_ipv6(
    p: &mut DpPacket,
    src: &Masked<u128>,
    dst: &Masked<u128>,
    label: &Masked<u32>,
    tclass: &Masked<u8>,
    hlimit: &Masked<u8>,
) {
    let o = p.offsets();
    let (l3, l4) = (o.l3 as usize, o.l4 as usize);
    let kind = l4_csum_kind(p, l4);
    let d = p.data_mut();
    if l3 == NO_OFFSET as usize || d.len() < l3 + 40 || d[l3] >> 4 != 6 {
        return;
    }
    // The L4 protocol is known only if extraction reached L4; find it from
    // the bytes just before: extraction leaves l4 only for TCP/UDP/SCTP/ICMPv6,
    // so re-derive it from the last next-header by walking again.
    let proto = if l4 != NO_OFFSET as usize {
        let walk = crate::wire::ipv6::walk_ext_headers(&d[l3 + 40..], d[l3 + 6]);
        walk.proto
    } else {
        0
    };
    let old_s = be128(d, l3 + 8);
    let new_s = src.apply(old_s);
    let old_d = be128(d, l3 + 24);
    let new_d = dst.apply(old_d);
    if old_s != new_s || old_d != new_d {
        d[l3 + 8..l3 + 24].copy_from_slice(&new_s.to_be_bytes());
        d[l3 + 24..l3 + 40].copy_from_slice(&new_d.to_be_bytes());
        fix_l4(d, l4, proto, kind, |c| {
            update128(update128(c, old_s, new_s), old_d, new_d)
        });
    }
    let w = be32(d, l3);
    let old_tc = ((w >> 20) & 0xff) as u8;
    let old_label = w & 0xf_ffff;
    let nw = (w & 0xf000_0000)
        | (tclass.apply(old_tc) as u32) << 20
        | (label.apply(old_label) & 0xf_ffff);
    put_be32(d, l3, nw);
    d[l3 + 7] = hlimit.apply(d[l3 + 7]);
}

/// ICMP type and code: one 16-bit word, so one incremental checksum
/// update (the ICMPv6 pseudo-header does not change).
fn set_icmp(p: &mut DpPacket, v6: bool, ty: &Masked<u8>, code: &Masked<u8>) {
    let o = p.offsets();
    let (l3, l4) = (o.l3 as usize, o.l4 as usize);
    let d = p.data_mut();
    if l3 == NO_OFFSET as usize || l4 == NO_OFFSET as usize || d.len() < l4 + 4 {
        return;
    }
    let proto = match d[l3] >> 4 {
        4 if !v6 => d[l3 + 9],
        6 if v6 && d.len() >= l3 + 40 => {
            crate::wire::ipv6::walk_ext_headers(&d[l3 + 40..], d[l3 + 6]).proto
        }
        _ => return,
    };
    if proto != if v6 { PROTO_ICMPV6 } else { 1 } {
        return;
    }
    let old = be16(d, l4);
    let new = (ty.apply(d[l4]) as u16) << 8 | code.apply(d[l4 + 1]) as u16;
    if old == new {
        return;
    }
    put_be16(d, l4, new);
    let c = update16(be16(d, l4 + 2), old, new);
    put_be16(d, l4 + 2, c);
}

pub(crate) fn set_ports(p: &mut DpPacket, want: u8, src: &Masked<u16>, dst: &Masked<u16>) {
    let o = p.offsets();
    let (l3, l4) = (o.l3 as usize, o.l4 as usize);
    let kind = l4_csum_kind(p, l4);
    let d = p.data_mut();
    if l3 == NO_OFFSET as usize || l4 == NO_OFFSET as usize || d.len() < l4 + 4 {
        return;
    }
    // Confirm the protocol from the IP header (v4: byte 9; v6: walk).
    let proto = match d[l3] >> 4 {
        4 => d[l3 + 9],
        6 if d.len() >= l3 + 40 => {
            crate::wire::ipv6::walk_ext_headers(&d[l3 + 40..], d[l3 + 6]).proto
        }
        _ => return,
    };
    if proto != want {
        return;
    }
    let old_s = be16(d, l4);
    let old_d = be16(d, l4 + 2);
    let new_s = src.apply(old_s);
    let new_d = dst.apply(old_d);
    if old_s == new_s && old_d == new_d {
        return;
    }
    if proto == PROTO_SCTP {
        // The CRC covers the SCTP packet only: up to the end the IP header
        // gives, not the Ethernet padding of a short frame.
        let end = ip_payload_end(d, l3);
        if end < l4 + 12 {
            return;
        }
        let old_csum = be32(d, l4 + 8);
        put_be32(d, l4 + 8, 0);
        let old_correct = crc32c(&d[l4..end]);
        put_be16(d, l4, new_s);
        put_be16(d, l4 + 2, new_d);
        let new_correct = crc32c(&d[l4..end]);
        // CRC32c is stored little endian on the wire.
        let fixed = u32::from_le_bytes(old_csum.to_be_bytes()) ^ old_correct ^ new_correct;
        d[l4 + 8..l4 + 12].copy_from_slice(&fixed.to_le_bytes());
        return;
    }
    put_be16(d, l4, new_s);
    put_be16(d, l4 + 2, new_d);
    if kind == L4Csum::Partial {
        // Ports are covered by the sum still to be made, not the field.
        return;
    }
    fix_l4(d, l4, proto, L4Csum::Full, |c| {
        update16(update16(c, old_s, new_s), old_d, new_d)
    });
}

/// Where the IP packet starting at `l3` ends in `d`: its length field
/// (IPv4 total length, IPv6 header plus payload length) bounded by the
/// frame; whatever follows is link-layer padding. The caller checked the
/// version and that the fixed header is in `d`.
pub(crate) fn ip_payload_end(d: &[u8], l3: usize) -> usize {
    let len = match d[l3] >> 4 {
        4 => be16(d, l3 + 2) as usize,
        _ => 40 + be16(d, l3 + 4) as usize,
    };
    (l3 + len).min(d.len())
}

fn set_nd(p: &mut DpPacket, target: &Masked<u128>, sll: &Masked<u64>, tll: &Masked<u64>) {
    let l4 = p.offsets().l4 as usize;
    let d = p.data_mut();
    if l4 == NO_OFFSET as usize || d.len() < l4 + 24 || !(d[l4] == 135 || d[l4] == 136) {
        return;
    }
    let mut csum = be16(d, l4 + 2);
    let old_t = be128(d, l4 + 8);
    let new_t = target.apply(old_t);
    if new_t != old_t {
        d[l4 + 8..l4 + 24].copy_from_slice(&new_t.to_be_bytes());
        csum = update128(csum, old_t, new_t);
    }
    let mut off = l4 + 24;
    while d.len() >= off + 8 {
        let (ty, len) = (d[off], d[off + 1] as usize * 8);
        if len == 0 || d.len() < off + len {
            break;
        }
        let m = match (ty, len) {
            (1, 8) => Some(sll),
            (2, 8) => Some(tll),
            _ => None,
        };
        if let Some(m) = m {
            let old = mac48(d, off + 2);
            let new = m.apply(old);
            if old != new {
                put_mac48(d, off + 2, new);
                // The option starts 8-byte aligned, so the MAC is 16-bit
                // aligned: three 16-bit words.
                for k in 0..3 {
                    let sh = 32 - 16 * k;
                    csum = update16(csum, (old >> sh) as u16, (new >> sh) as u16);
                }
            }
        }
        off += len;
    }
    put_be16(d, l4 + 2, csum);
}

#[cfg(test)]
mod tests {
    #[test]
    fn icmp_type_and_code_with_checksum() {
        // Echo request 198.18.0.1 -> 198.18.0.2, 8 bytes of ICMP.
        let hex =
            "50540000000250540000000108004500001c000040004001000ac6120001c61200020800f7ff00000000";
        let f: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let mut p = DpPacket::from_bytes(&f);
        let mut k = crate::flow::FlowKey::default();
        crate::flow::extract(&mut p, &mut k);
        apply(
            &mut p,
            &SetField::Icmp {
                v6: false,
                r#type: Masked::<u8>::exact(3),
                code: Masked::<u8>::exact(1),
            },
        );
        let d = p.data();
        assert_eq!((d[34], d[35]), (3, 1));
        assert_eq!(
            crate::wire::checksum::checksum(&d[34..42]),
            0,
            "checksum valid"
        );
        // The v6 variant leaves an IPv4 packet alone.
        let before = p.data().to_vec();
        apply(
            &mut p,
            &SetField::Icmp {
                v6: true,
                r#type: Masked::<u8>::exact(9),
                code: Masked::<u8>::exact(9),
            },
        );
        assert_eq!(p.data(), &before[..]);
    }

    use super::*;
    use crate::wire::checksum::update32;

    /// An IPv4 SCTP COOKIE ACK (50 bytes, padded to 60 as on the wire):
    /// after a port rewrite its CRC32c is that of the SCTP packet alone,
    /// padding excluded (a receiver checks exactly those bytes).
    #[test]
    fn sctp_port_rewrite_on_a_padded_frame_keeps_a_good_crc() {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&36u16.to_be_bytes()); // 20 + 12 + 4
        f[22] = 64;
        f[23] = PROTO_SCTP;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        f[34..36].copy_from_slice(&5000u16.to_be_bytes());
        f[36..38].copy_from_slice(&6000u16.to_be_bytes());
        f[38..42].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        f[46] = 11; // COOKIE ACK, length 4
        f[49] = 4;
        let crc = crc32c(&f[34..50]);
        f[42..46].copy_from_slice(&crc.to_le_bytes());
        for b in &mut f[50..] {
            *b = 0xa5; // padding need not be zero
        }
        let mut p = DpPacket::from_bytes(&f);
        let mut k = crate::flow::FlowKey::default();
        crate::flow::extract(&mut p, &mut k);
        let set = SetField::Sctp {
            src: Masked::<u16>::exact(7000),
            dst: Masked::<u16>::exact(6000),
        };
        apply(&mut p, &set);
        let d = p.data_mut();
        assert_eq!(be16(d, 34), 7000);
        let stored = u32::from_le_bytes([d[42], d[43], d[44], d[45]]);
        d[42..46].fill(0);
        assert_eq!(stored, crc32c(&d[34..50]), "CRC over the SCTP bytes only");
        assert!(d[50..].iter().all(|&b| b == 0xa5), "padding untouched");
    }

    /// One folded sum for both addresses gives what one `update32` per
    /// address gives, on edge values (0, 0xffff words) and pseudo-random
    /// ones.
    #[test]
    fn combined_checksum_delta_equals_word_by_word_updates() {
        let edge = [0u32, 1, 0xffff, 0xffff_0000, 0xffff_ffff, 0x8000_8000];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut cases = Vec::new();
        for &a in &edge {
            for &b in &edge {
                for c in [0u16, 1, 0xfffe, 0xffff, 0x1234] {
                    cases.push((c, a, b, b, a));
                }
            }
        }
        for _ in 0..100_000 {
            let (r1, r2) = (next(), next());
            cases.push((
                r1 as u16,
                (r1 >> 16) as u32,
                (r1 >> 32) as u32,
                r2 as u32,
                (r2 >> 32) as u32,
            ));
        }
        for (c, os, ns, od, nd) in cases {
            let want = update32(update32(c, os, ns), od, nd);
            let got = csum_apply(c, csum_delta32(os, ns) + csum_delta32(od, nd));
            assert_eq!(
                got, want,
                "csum {c:#x} src {os:#x}->{ns:#x} dst {od:#x}->{nd:#x}"
            );
        }
    }

    /// A GSO TCP segment with a partial checksum whose address and port
    /// are rewritten: the partial field follows the address (not the
    /// port), so the segments cut afterwards all carry right checksums,
    /// and the VLAN push in between moves the offload offsets along.
    #[test]
    fn rewrite_on_partial_gso_segment_keeps_checksums_right() {
        use crate::offload::gso::{segment, tests::gso_tcp4, tests::l4_ok};
        use crate::packet::{Offsets, PacketPool};
        let payload: Vec<u8> = (0..3000u32).map(|i| (i * 13) as u8).collect();
        let mut p = gso_tcp4(&payload, 1000);
        p.set_offsets(Offsets {
            l2_5: 14,
            l3: 14,
            l4: 34,
        });
        apply(
            &mut p,
            &SetField::Ipv4 {
                src: Masked::default(),
                dst: Masked::<u32>::exact(u32::from_be_bytes([198, 19, 5, 77])),
                tos: Masked::default(),
                ttl: Masked::default(),
            },
        );
        apply(
            &mut p,
            &SetField::Tcp {
                src: Masked::default(),
                dst: Masked::<u16>::exact(8080),
            },
        );
        let mut pool = PacketPool::new(4);
        let mut out = Vec::new();
        assert_eq!(segment(&p, &mut pool, &mut out), Ok(3));
        for s in &out {
            let f = s.data();
            assert_eq!(&f[30..34], &[198, 19, 5, 77]);
            assert_eq!(u16::from_be_bytes([f[36], f[37]]), 8080);
            assert!(l4_ok(f));
        }
        // With a full checksum instead, the same rewrite is RFC 1624.
        let mut q = out.remove(0);
        q.set_offsets(Offsets {
            l2_5: 14,
            l3: 14,
            l4: 34,
        });
        apply(
            &mut q,
            &SetField::Tcp {
                src: Masked::<u16>::exact(1234),
                dst: Masked::default(),
            },
        );
        assert!(l4_ok(q.data()));
    }
}
