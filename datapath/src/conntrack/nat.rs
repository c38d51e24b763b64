//! NAT: choosing a connection's translated tuple, and rewriting packets.
//!
//! A connection with NAT stores its reply key already translated: for
//! SNAT of `A:a -> B:b` to `N:n`, the reply key is `B:b -> N:n`. Both keys
//! are in the table, so a reply finds the connection by its own headers,
//! and rewriting a packet is copying addresses and ports from the key of
//! the other direction (reversed). Choosing `N:n` follows OVS's userspace
//! tracker: the address from a hash of the tuple (of the source address
//! alone with `persistent`) within the range; the port from the range given
//! or, when none is, the sender's own port and then the ephemeral class it
//! belongs to (1-511, 600-1023, 1024-65535); up to 128 tries from the
//! hashed (or `random`) start, then rounds of halving tries from random
//! starts; a tuple whose reply key is already taken is never chosen, so a
//! full range is "exhausted" and the packet gets no connection.
//!
//! Checksums are patched incrementally by the `set` actions' helpers, which
//! also keep partial (offloaded) checksums right. Inside an ICMP error the
//! quoted header is translated back as well and the ICMP checksum is
//! recomputed over the message.

use super::conn::Conn;
use super::key::{ConnKey, PktInfo};
use crate::actions::set::{set_ipv4, set_ipv6, set_ports, Masked};
use crate::flow::key::{hash_add, hash_finish};
use crate::packet::DpPacket;
use crate::random::Rng;
use crate::wire::checksum::{checksum, fold, sum16, update128, update16, update32};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use crate::wire::ipv6::PROTO_ICMPV6;
use crate::wire::{be128, be16, be32, put_be16};

/// NAT applied to a connection (bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatAction(pub u8);

impl NatAction {
    pub const NONE: NatAction = NatAction(0);
    pub const SRC: u8 = 1;
    pub const DST: u8 = 2;
    pub const SRC_PORT: u8 = 4;
    pub const DST_PORT: u8 = 8;

    pub fn is_src(self) -> bool {
        self.0 & Self::SRC != 0
    }
    pub fn is_dst(self) -> bool {
        self.0 & Self::DST != 0
    }
    pub fn any(self) -> bool {
        self.0 & (Self::SRC | Self::DST) != 0
    }
    /// The action seen from the other direction (SNAT undoes as DNAT).
    pub fn reverse(self) -> NatAction {
        let mut a = self.0;
        if a & Self::SRC != 0 {
            a = (a & !Self::SRC) | Self::DST;
        } else if a & Self::DST != 0 {
            a = (a & !Self::DST) | Self::SRC;
        }
        NatAction(a)
    }
}

/// Source or destination NAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    Src,
    Dst,
}

/// The `nat(...)` argument of a `ct` action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatSpec {
    /// `None` for a bare `nat`: translate packets of connections that
    /// already have NAT, set up no new NAT.
    pub kind: Option<NatKind>,
    /// Address family of the range (meaningful when `min_addr != 0`).
    pub v6: bool,
    /// Address range (IPv4 in the low 32 bits); 0 = keep the address.
    pub min_addr: u128,
    pub max_addr: u128,
    /// Port range; 0 = none.
    pub min_port: u16,
    pub max_port: u16,
    pub persistent: bool,
    pub hash: bool,
    pub random: bool,
}

impl NatSpec {
    /// The action a new connection gets.
    pub fn action(&self) -> NatAction {
        let port = self.min_port != 0;
        match self.kind {
            None => NatAction::NONE,
            Some(NatKind::Src) => {
                NatAction(NatAction::SRC | if port { NatAction::SRC_PORT } else { 0 })
            }
            Some(NatKind::Dst) => {
                NatAction(NatAction::DST | if port { NatAction::DST_PORT } else { 0 })
            }
        }
    }
    fn max_addr(&self) -> u128 {
        if self.max_addr == 0 {
            self.min_addr
        } else {
            self.max_addr.max(self.min_addr)
        }
    }
    fn max_port(&self) -> u16 {
        if self.max_port == 0 {
            self.min_port
        } else {
            self.max_port.max(self.min_port)
        }
    }
}

pub const MIN_NAT_EPHEMERAL_PORT: u16 = 1024;
pub const MAX_NAT_EPHEMERAL_PORT: u16 = 65535;
const MAX_ATTEMPTS: u32 = 128;

fn range_hash(k: &ConnKey, basis: u64, spec: &NatSpec) -> u32 {
    let mut h = basis;
    h = hash_add(h, (k.src.addr >> 64) as u64);
    h = hash_add(h, k.src.addr as u64);
    if basis != 0 {
        h = hash_add(h, (k.dst.addr >> 64) as u64);
        h = hash_add(h, k.dst.addr as u64);
        h = hash_add(h, (k.src.port as u64) << 16 | k.dst.port as u64);
    }
    h = hash_add(h, (spec.min_addr >> 64) as u64 ^ spec.min_addr as u64);
    h = hash_add(h, (spec.max_addr >> 64) as u64 ^ spec.max_addr as u64);
    h = hash_add(h, (spec.max_port as u64) << 16 | spec.min_port as u64);
    h = hash_add(
        h,
        (k.v6 as u64) << 32 | (k.proto as u64) << 16 | k.zone as u64,
    );
    hash_finish(h)
}

/// Tries ports from `curr` upwards (wrapping to `min`), writing each into
/// the reply key with `set`, until `free` accepts one.
fn unique_l4(
    rev: &mut ConnKey,
    set: fn(&mut ConnKey, u16),
    mut curr: u16,
    min: u16,
    max: u16,
    rng: &mut Rng,
    free: &mut dyn FnMut(&ConnKey) -> bool,
) -> bool {
    let range = (max - min) as u32 + 1;
    let mut attempts = range.min(MAX_ATTEMPTS);
    let orig = curr;
    loop {
        let mut p = curr;
        for _ in 0..attempts {
            set(rev, p);
            if free(rev) {
                return true;
            }
            p = if p >= max { min } else { p + 1 };
        }
        if attempts < range && attempts >= 16 {
            attempts /= 2;
            curr = min + (rng.next_u32() % range) as u16;
        } else {
            break;
        }
    }
    set(rev, orig);
    false
}

fn ephemeral_class(port: u16) -> (u16, u16) {
    if port < 512 {
        (1, 511)
    } else if port < 1024 {
        (600, 1023)
    } else {
        (MIN_NAT_EPHEMERAL_PORT, MAX_NAT_EPHEMERAL_PORT)
    }
}

/// True for protocols whose ports NAT translates (ICMPv4 echo ids too).
fn pat_proto(k: &ConnKey) -> bool {
    matches!(k.proto, PROTO_TCP | PROTO_UDP | PROTO_SCTP) || (k.proto == PROTO_ICMP && !k.v6)
}

/// Chooses the reply key of a new connection `fwd` under `spec`. `free`
/// tells whether a candidate reply key is unused. `None` when the tuple
/// space is exhausted (or the spec sets no NAT).
pub fn select(
    fwd: &ConnKey,
    spec: &NatSpec,
    basis: u64,
    rng: &mut Rng,
    free: &mut dyn FnMut(&ConnKey) -> bool,
) -> Option<ConnKey> {
    let act = spec.action();
    if !act.any() {
        return None;
    }
    let hbasis = if spec.persistent { 0 } else { basis | 1 };
    let hash = range_hash(fwd, hbasis, spec);
    let port_off = if spec.random {
        rng.next_u32()
    } else if hbasis != 0 {
        hash
    } else {
        range_hash(fwd, basis | 1, spec)
    };
    let addr = if spec.min_addr == 0 {
        if act.is_src() {
            fwd.src.addr
        } else {
            fwd.dst.addr
        }
    } else {
        let span = spec.max_addr() - spec.min_addr;
        let off = if span == u128::MAX {
            hash as u128
        } else {
            hash as u128 % (span + 1)
        };
        spec.min_addr + off
    };
    let src_range_given = act.0 & NatAction::SRC_PORT != 0;
    let (curr_s, min_s, max_s) = if !src_range_given || act.is_dst() {
        let (lo, hi) = ephemeral_class(fwd.src.port);
        (fwd.src.port.clamp(lo, hi), lo, hi)
    } else {
        let (lo, hi) = (spec.min_port, spec.max_port());
        (lo + (port_off % ((hi - lo) as u32 + 1)) as u16, lo, hi)
    };
    let dst_range_given = act.0 & NatAction::DST_PORT != 0;
    let (curr_d, min_d, max_d) = if dst_range_given {
        let (lo, hi) = (spec.min_port, spec.max_port());
        (lo + (port_off % ((hi - lo) as u32 + 1)) as u16, lo, hi)
    } else {
        (fwd.dst.port, fwd.dst.port, fwd.dst.port)
    };
    let mut rev = fwd.reverse();
    let pat = pat_proto(fwd);
    if pat {
        rev.src.port = curr_d;
        rev.dst.port = curr_s;
        if fwd.proto == PROTO_ICMP {
            // Echo ids: both ends carry the same value.
            rev.src.port = curr_s;
        }
    }
    if act.is_src() {
        rev.dst.addr = addr;
    } else {
        rev.src.addr = addr;
    }
    if !pat {
        return free(&rev).then_some(rev);
    }
    if dst_range_given
        && unique_l4(
            &mut rev,
            |k, p| k.src.port = p,
            curr_d,
            min_d,
            max_d,
            rng,
            free,
        )
    {
        return Some(rev);
    }
    let set_src: fn(&mut ConnKey, u16) = if fwd.proto == PROTO_ICMP {
        |k, p| {
            k.dst.port = p;
            k.src.port = p;
        }
    } else {
        |k, p| k.dst.port = p
    };
    if unique_l4(&mut rev, set_src, curr_s, min_s, max_s, rng, free) {
        return Some(rev);
    }
    None
}

/// ct_state bits for the NAT a packet in direction `reply` gets.
pub fn state_bits(conn: &Conn, reply: bool) -> u16 {
    let act = if reply { conn.nat.reverse() } else { conn.nat };
    if act.is_src() {
        super::CS_SRC_NAT
    } else if act.is_dst() {
        super::CS_DST_NAT
    } else {
        0
    }
}

/// Translates `pkt` (extracted as `info`), a packet of `conn` in
/// direction `reply` (for an ICMP error: the direction of the error).
pub fn rewrite(pkt: &mut DpPacket, info: &PktInfo, conn: &Conn, reply: bool) {
    let act = if reply { conn.nat.reverse() } else { conn.nat };
    if !act.any() {
        return;
    }
    // The key of the other direction holds the translated values.
    let k = if reply { &conn.fwd } else { &conn.rev };
    let v6 = k.v6;
    let (src, dst) = if act.is_src() {
        (Some(k.dst.addr), None)
    } else {
        (None, Some(k.src.addr))
    };
    set_addrs(pkt, v6, src, dst);
    if info.related {
        rewrite_inner(pkt, info, k, act.reverse());
        return;
    }
    if !pat_proto(k) {
        return;
    }
    let (sp, dp) = (k.dst.port, k.src.port);
    match k.proto {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP => {
            set_ports(
                pkt,
                k.proto,
                &Masked::<u16>::exact(sp),
                &Masked::<u16>::exact(dp),
            );
        }
        _ => {
            // ICMPv4 query id (its checksum has no pseudo-header).
            let at = info.l4;
            let d = pkt.data_mut();
            if d.len() >= at + 8 {
                let old = be16(d, at + 4);
                let new = k.src.port;
                if old != new {
                    put_be16(d, at + 4, new);
                    let c = update16(be16(d, at + 2), old, new);
                    put_be16(d, at + 2, c);
                }
            }
        }
    }
}

fn set_addrs(pkt: &mut DpPacket, v6: bool, src: Option<u128>, dst: Option<u128>) {
    if v6 {
        let m = |a: Option<u128>| a.map(Masked::<u128>::exact).unwrap_or_default();
        let (label, byte) = (Masked::<u32>::default(), Masked::<u8>::default());
        set_ipv6(pkt, &m(src), &m(dst), &label, &byte, &byte);
    } else {
        let m = |a: Option<u128>| {
            a.map(|v| Masked::<u32>::exact(v as u32))
                .unwrap_or_default()
        };
        let byte = Masked::<u8>::default();
        set_ipv4(pkt, &m(src), &m(dst), &byte, &byte);
    }
}

/// The quoted packet of an ICMP error travels in the direction opposite
/// to the error: it gets the addresses and ports of key `k` itself under
/// the reversed action; then the ICMP checksum is recomputed.
fn rewrite_inner(pkt: &mut DpPacket, info: &PktInfo, k: &ConnKey, act: NatAction) {
    let (icmp_at, l3_at, end) = (info.l4, info.inner_l3, info.ip_end);
    let outer_l3 = pkt.offsets().l3 as usize;
    let d = pkt.data_mut();
    if end > d.len() || l3_at >= end {
        return;
    }
    let inner = &mut d[l3_at..end];
    let (l4_at, proto) = if k.v6 {
        if inner.len() < 40 {
            return;
        }
        let w = crate::wire::ipv6::walk_ext_headers(&inner[40..], inner[6]);
        (40 + w.offset, w.proto)
    } else {
        if inner.len() < 20 {
            return;
        }
        ((inner[0] & 0x0f) as usize * 4, inner[9])
    };
    // Addresses, with the quoted IPv4 header checksum.
    let (s_at, d_at, alen) = if k.v6 { (8, 24, 16) } else { (12, 16, 4) };
    let mut l4_delta: Option<(u128, u128)> = None;
    let (field, newv) = if act.is_src() {
        (s_at, k.src.addr)
    } else {
        (d_at, k.dst.addr)
    };
    if inner.len() >= field + alen {
        if k.v6 {
            let old = be128(inner, field);
            inner[field..field + 16].copy_from_slice(&newv.to_be_bytes());
            l4_delta = Some((old, newv));
        } else {
            let old = be32(inner, field);
            let new = newv as u32;
            inner[field..field + 4].copy_from_slice(&new.to_be_bytes());
            let c = update32(be16(inner, 10), old, new);
            put_be16(inner, 10, c);
            l4_delta = Some((old as u128, new as u128));
        }
    }
    // Ports (or echo id) of the quoted header, and its L4 checksum when
    // the quote holds it.
    let l4 = l4_at;
    if inner.len() >= l4 + 8 {
        let csum_at = match proto {
            PROTO_TCP => Some(l4 + 16),
            PROTO_UDP => Some(l4 + 6),
            _ => None,
        };
        let (old_s, old_d) = (be16(inner, l4), be16(inner, l4 + 2));
        let (new_s, new_d) = match proto {
            PROTO_TCP | PROTO_UDP | PROTO_SCTP => (k.src.port, k.dst.port),
            _ => (old_s, old_d),
        };
        put_be16(inner, l4, new_s);
        put_be16(inner, l4 + 2, new_d);
        if proto == PROTO_ICMP && !k.v6 {
            let old = be16(inner, l4 + 4);
            put_be16(inner, l4 + 4, k.src.port);
            let c = update16(be16(inner, l4 + 2), old, k.src.port);
            put_be16(inner, l4 + 2, c);
        }
        if let Some(c_at) = csum_at {
            if inner.len() >= c_at + 2 {
                let mut c = be16(inner, c_at);
                if !(proto == PROTO_UDP && c == 0) {
                    c = update16(update16(c, old_s, new_s), old_d, new_d);
                    if let Some((o, n)) = l4_delta {
                        c = update128(c, o, n);
                    }
                    put_be16(inner, c_at, c);
                }
            }
        }
    }
    // The ICMP checksum over the whole message (ICMPv6: with the outer
    // pseudo-header).
    let msg_len = end - icmp_at;
    if msg_len < 4 {
        return;
    }
    put_be16(d, icmp_at + 2, 0);
    let c = if k.v6 {
        if outer_l3 + 40 > d.len() {
            return;
        }
        let mut acc = sum16(&d[outer_l3 + 8..outer_l3 + 40], 0);
        acc += msg_len as u32 >> 16;
        acc += msg_len as u32 & 0xffff;
        acc += PROTO_ICMPV6 as u32;
        acc = sum16(&d[icmp_at..end], acc);
        !fold(acc)
    } else {
        checksum(&d[icmp_at..end])
    };
    put_be16(d, icmp_at + 2, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::key::Endpoint;

    fn key(sa: u32, sp: u16, da: u32, dp: u16) -> ConnKey {
        ConnKey {
            src: Endpoint {
                addr: sa as u128,
                port: sp,
                ..Endpoint::default()
            },
            dst: Endpoint {
                addr: da as u128,
                port: dp,
                ..Endpoint::default()
            },
            zone: 1,
            v6: false,
            proto: PROTO_TCP,
        }
    }

    fn snat(min: u32, max: u32, pmin: u16, pmax: u16) -> NatSpec {
        NatSpec {
            kind: Some(NatKind::Src),
            min_addr: min as u128,
            max_addr: max as u128,
            min_port: pmin,
            max_port: pmax,
            ..NatSpec::default()
        }
    }

    #[test]
    fn snat_keeps_port_when_free() {
        let f = key(0xc612_0001, 40000, 0xc613_0001, 80);
        let mut rng = Rng::new(1);
        let r = select(&f, &snat(0xc613_ff01, 0, 0, 0), 99, &mut rng, &mut |_| true).unwrap();
        assert_eq!({ r.dst.addr }, 0xc613_ff01);
        assert_eq!(r.dst.port, 40000);
        assert_eq!(r.src, f.dst);
    }

    #[test]
    fn port_exhaustion() {
        let f = key(0xc612_0001, 40000, 0xc613_0001, 80);
        let mut rng = Rng::new(1);
        let spec = snat(0xc613_ff01, 0, 1000, 1003);
        let mut taken = std::collections::HashSet::new();
        for _ in 0..4 {
            let r = select(&f, &spec, 7, &mut rng, &mut |k| !taken.contains(k)).unwrap();
            assert!((1000..=1003).contains(&r.dst.port));
            assert!(taken.insert(r));
        }
        assert!(select(&f, &spec, 7, &mut rng, &mut |k| !taken.contains(k)).is_none());
    }

    #[test]
    fn persistent_same_source_same_address() {
        let spec = NatSpec {
            persistent: true,
            ..snat(0xc613_0000, 0xc613_00ff, 0, 0)
        };
        let mut rng = Rng::new(3);
        let a = select(
            &key(0xc612_0007, 1111, 0xc613_1000, 80),
            &spec,
            5,
            &mut rng,
            &mut |_| true,
        )
        .unwrap();
        for dst in 0..50u32 {
            let f = key(0xc612_0007, 2000 + dst as u16, 0xc614_0000 + dst, 443);
            let b = select(&f, &spec, 5, &mut rng, &mut |_| true).unwrap();
            assert_eq!({ a.dst.addr }, { b.dst.addr });
        }
    }

    #[test]
    fn hash_spreads_over_the_range_and_is_stable() {
        let spec = NatSpec {
            hash: true,
            ..snat(0xc613_0000, 0xc613_000f, 0, 0)
        };
        let mut rng = Rng::new(3);
        let mut seen = std::collections::HashSet::new();
        for i in 0..200u32 {
            let f = key(0xc612_0000 + i, 3000, 0xc613_1000, 80);
            let a = select(&f, &spec, 11, &mut rng, &mut |_| true).unwrap();
            let b = select(&f, &spec, 11, &mut rng, &mut |_| true).unwrap();
            assert_eq!(a, b);
            assert!((0xc613_0000..=0xc613_000f).contains(&(a.dst.addr as u32)));
            seen.insert(a.dst.addr);
        }
        assert!(seen.len() > 8, "{} addresses used", seen.len());
    }

    #[test]
    fn dnat_port_range_then_source_port_fallback() {
        let f = key(0xc612_0001, 5555, 0xc613_0001, 80);
        let spec = NatSpec {
            kind: Some(NatKind::Dst),
            min_addr: 0xc612_0063,
            min_port: 8080,
            max_port: 8080,
            ..NatSpec::default()
        };
        let mut rng = Rng::new(9);
        let r = select(&f, &spec, 1, &mut rng, &mut |_| true).unwrap();
        assert_eq!((r.src.addr, r.src.port), (0xc612_0063, 8080));
        assert_eq!(r.dst.port, 5555);
        // The only destination port taken: the source port moves instead.
        let taken = r;
        let r2 = select(&f, &spec, 1, &mut rng, &mut |k| *k != taken).unwrap();
        assert_eq!(r2.src.port, 8080);
        assert_ne!(r2.dst.port, 5555);
        assert!(r2.dst.port >= 1024);
    }
}
