//! Connection keys: one direction of a connection as (zone, addresses,
//! protocol, ports), and their extraction from a packet's bytes.
//!
//! A [`ConnKey`] is a small `Copy` value (44 bytes); IPv4 addresses sit in
//! the low 32 bits of the 128-bit address fields, so one type serves both
//! families and `v6` tells them apart. ICMP echo (and timestamp, info)
//! messages use their identifier as both ports and their type in
//! `icmp_type` (the reply type on the destination side), so the reply of
//! an echo is the reversed key, as in OVS. An ICMP error yields the key of
//! the connection it quotes, reversed (it travels the other way), and is
//! flagged `related`.
//!
//! Invariant: `reverse(reverse(k)) == k`; keys of different zones never
//! compare equal (the zone is part of the key and of its hash).
//! Extraction reads only bytes inside the IP packet (never the Ethernet
//! padding) and never panics.

use crate::flow::key::{hash_add, hash_finish};
use crate::packet::CtTuple;
use crate::wire::ipv4::{PROTO_ICMP, PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use crate::wire::ipv6::{walk_ext_headers, PROTO_ICMPV6};
use crate::wire::{be128, be16, be32};

/// One end of a connection. Aligned to 4 bytes rather than the 16 of a
/// `u128`, so that it packs into 20 bytes (a [`ConnKey`] into 44 instead
/// of 80; each connection holds two keys, the table none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C, packed(4))]
pub struct Endpoint {
    /// IPv6 address, or IPv4 address in the low 32 bits.
    pub addr: u128,
    /// TCP/UDP/SCTP port, or ICMP echo identifier.
    pub port: u16,
    /// ICMP type seen from this end (0 for other protocols).
    pub icmp_type: u8,
    pub icmp_code: u8,
}

/// One direction of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnKey {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub zone: u16,
    pub v6: bool,
    pub proto: u8,
}

impl ConnKey {
    /// The tuple as packet metadata holds it (`ct_nw_src`, ...; ICMP:
    /// type and code in the port fields).
    pub fn ct_tuple(&self) -> CtTuple {
        let (tp_src, tp_dst) = if self.is_icmp() {
            (self.src.icmp_type as u16, self.src.icmp_code as u16)
        } else {
            (self.src.port, self.dst.port)
        };
        let mut t = CtTuple {
            tp_src,
            tp_dst,
            nw_proto: self.proto,
            ..CtTuple::default()
        };
        if self.v6 {
            t.ipv6_src = self.src.addr;
            t.ipv6_dst = self.dst.addr;
        } else {
            t.ipv4_src = self.src.addr as u32;
            t.ipv4_dst = self.dst.addr as u32;
        }
        t
    }

    /// The key of the other direction.
    #[inline]
    pub fn reverse(&self) -> ConnKey {
        ConnKey {
            src: self.dst,
            dst: self.src,
            ..*self
        }
    }

    /// Hash of the key with `basis` (per tracker, so that flooders cannot
    /// aim at one shard).
    #[inline]
    pub fn hash(&self, basis: u64) -> u32 {
        let mut h = hash_add(basis, (self.src.addr >> 64) as u64);
        h = hash_add(h, self.src.addr as u64);
        h = hash_add(h, (self.dst.addr >> 64) as u64);
        h = hash_add(h, self.dst.addr as u64);
        let ports = (self.src.port as u64) << 48
            | (self.dst.port as u64) << 32
            | (self.src.icmp_type as u64) << 24
            | (self.dst.icmp_type as u64) << 16
            | self.zone as u64;
        h = hash_add(h, ports);
        h = hash_add(
            h,
            (self.proto as u64) << 8 | self.v6 as u64 | (self.src.icmp_code as u64) << 16,
        );
        hash_finish(h)
    }

    /// True for protocols whose ports (or echo id) NAT may change.
    pub fn has_ports(&self) -> bool {
        matches!(self.proto, PROTO_TCP | PROTO_UDP | PROTO_SCTP)
            || (self.proto == PROTO_ICMP && !self.v6)
            || (self.proto == PROTO_ICMPV6 && self.v6)
    }

    /// True for ICMP or ICMPv6.
    pub fn is_icmp(&self) -> bool {
        self.proto == PROTO_ICMP || self.proto == PROTO_ICMPV6
    }
}

/// Why a packet cannot be tracked (its `ct_state` becomes `inv|trk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not IPv4 or IPv6")]
    NotIp,
    #[error("truncated or malformed header")]
    Malformed,
    #[error("IP fragment")]
    Fragment,
    #[error("ICMP message that cannot be tracked")]
    Icmp,
}

/// The TCP fields the state machine reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpSeg {
    pub flags: u16,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    /// Window scale option: `WSCALE_FLAG | shift` when present, else 0.
    pub wscale: u8,
    pub payload_len: u32,
}

pub const TCP_FIN: u16 = 0x01;
pub const TCP_SYN: u16 = 0x02;
pub const TCP_RST: u16 = 0x04;
pub const TCP_PSH: u16 = 0x08;
pub const TCP_ACK: u16 = 0x10;
pub const TCP_URG: u16 = 0x20;
/// Set in [`TcpSeg::wscale`] when the window scale option is present.
pub const WSCALE_FLAG: u8 = 0x80;
/// Set in a peer's wscale when the connection was picked up mid-stream.
pub const WSCALE_UNKNOWN: u8 = 0x40;
pub const WSCALE_MASK: u8 = 0x0f;
const TCP_MAX_WSCALE: u8 = 14;

impl TcpSeg {
    /// Reads a TCP header (`l4` holds the whole segment: header and
    /// payload). `None` if the header is short or its offset impossible.
    pub fn parse(l4: &[u8]) -> Option<TcpSeg> {
        if l4.len() < 20 {
            return None;
        }
        let hlen = (l4[12] >> 4) as usize * 4;
        if hlen < 20 || hlen > l4.len() {
            return None;
        }
        Some(TcpSeg {
            flags: be16(l4, 12) & 0x0fff,
            seq: be32(l4, 4),
            ack: be32(l4, 8),
            win: be16(l4, 14),
            wscale: wscale_option(&l4[20..hlen]),
            payload_len: (l4.len() - hlen) as u32,
        })
    }
}

/// The window scale option among TCP options (as the walk of RFC 7323:
/// EOL ends, NOP is one byte, others carry a length of at least 2).
fn wscale_option(mut opt: &[u8]) -> u8 {
    let mut ws = 0;
    while opt.len() >= 3 {
        match opt[0] {
            0 => return ws,
            1 => opt = &opt[1..],
            k => {
                if k == 3 {
                    ws = opt[2].min(TCP_MAX_WSCALE) | WSCALE_FLAG;
                }
                let n = (opt[1] as usize).max(2);
                if n >= opt.len() {
                    return ws;
                }
                opt = &opt[n..];
            }
        }
    }
    ws
}

/// What extraction found in a packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct PktInfo {
    pub key: ConnKey,
    /// An ICMP error: `key` is the quoted connection's, reversed.
    pub related: bool,
    /// TCP fields (outer segment; `None` for other protocols and errors).
    pub tcp: Option<TcpSeg>,
    /// Offset of the L4 header in the frame, and of the quoted IP header
    /// of an ICMP error (0 otherwise).
    pub l4: usize,
    pub inner_l3: usize,
    /// End of the IP packet in the frame (padding excluded).
    pub ip_end: usize,
}

const ICMP4_ECHO_REPLY: u8 = 0;
const ICMP4_ECHO_REQUEST: u8 = 8;
const ICMP4_TIMESTAMP: u8 = 13;
const ICMP4_TIMESTAMP_REPLY: u8 = 14;
const ICMP4_INFO_REQUEST: u8 = 15;
const ICMP4_INFO_REPLY: u8 = 16;
pub(crate) const ICMP6_ECHO_REQUEST: u8 = 128;
const ICMP6_ECHO_REPLY: u8 = 129;

/// The type of the answer to an ICMPv4 query (itself for others).
pub fn reverse_icmp_type(t: u8) -> u8 {
    match t {
        ICMP4_ECHO_REQUEST => ICMP4_ECHO_REPLY,
        ICMP4_ECHO_REPLY => ICMP4_ECHO_REQUEST,
        ICMP4_TIMESTAMP => ICMP4_TIMESTAMP_REPLY,
        ICMP4_TIMESTAMP_REPLY => ICMP4_TIMESTAMP,
        ICMP4_INFO_REQUEST => ICMP4_INFO_REPLY,
        ICMP4_INFO_REPLY => ICMP4_INFO_REQUEST,
        t => t,
    }
}

/// The type of the answer to an ICMPv6 echo (itself for others).
pub fn reverse_icmp6_type(t: u8) -> u8 {
    match t {
        ICMP6_ECHO_REQUEST => ICMP6_ECHO_REPLY,
        ICMP6_ECHO_REPLY => ICMP6_ECHO_REQUEST,
        t => t,
    }
}

/// True for the ICMPv4 types that may open a connection.
pub fn icmp4_valid_new(t: u8) -> bool {
    matches!(t, ICMP4_ECHO_REQUEST | ICMP4_TIMESTAMP | ICMP4_INFO_REQUEST)
}

/// The L3 part: addresses, protocol, and where L4 lies.
struct L3 {
    src: u128,
    dst: u128,
    proto: u8,
    l4: usize,
    end: usize,
}

fn l3_v4(f: &[u8], at: usize) -> Result<L3, KeyError> {
    let b = f.get(at..).ok_or(KeyError::Malformed)?;
    if b.len() < 20 || b[0] >> 4 != 4 {
        return Err(KeyError::Malformed);
    }
    let ihl = (b[0] & 0x0f) as usize * 4;
    let tot = be16(b, 2) as usize;
    if ihl < 20 || tot < ihl || tot > b.len() {
        return Err(KeyError::Malformed);
    }
    if be16(b, 6) & 0x3fff != 0 {
        return Err(KeyError::Fragment);
    }
    Ok(L3 {
        src: be32(b, 12) as u128,
        dst: be32(b, 16) as u128,
        proto: b[9],
        l4: at + ihl,
        end: at + tot,
    })
}

fn l3_v6(f: &[u8], at: usize) -> Result<L3, KeyError> {
    let b = f.get(at..).ok_or(KeyError::Malformed)?;
    if b.len() < 40 || b[0] >> 4 != 6 {
        return Err(KeyError::Malformed);
    }
    let end = 40 + be16(b, 4) as usize;
    if end > b.len() {
        return Err(KeyError::Malformed);
    }
    let w = walk_ext_headers(&b[40..end], b[6]);
    if w.frag != 0 {
        return Err(KeyError::Fragment);
    }
    if !w.complete {
        return Err(KeyError::Malformed);
    }
    Ok(L3 {
        src: be128(b, 8),
        dst: be128(b, 24),
        proto: w.proto,
        l4: at + 40 + w.offset,
        end: at + end,
    })
}

/// Ports (or echo id and types) of `proto` from `l4`; `min` bytes of L4
/// must be present (8 inside an ICMP error, the whole header otherwise).
fn l4_key(k: &mut ConnKey, l4: &[u8], inner: bool) -> Result<(), KeyError> {
    match k.proto {
        PROTO_TCP => {
            if l4.len() < if inner { 8 } else { 20 } {
                return Err(KeyError::Malformed);
            }
            k.src.port = be16(l4, 0);
            k.dst.port = be16(l4, 2);
        }
        PROTO_UDP | PROTO_SCTP => {
            if l4.len() < 8 {
                return Err(KeyError::Malformed);
            }
            k.src.port = be16(l4, 0);
            k.dst.port = be16(l4, 2);
        }
        PROTO_ICMP if !k.v6 => {
            if l4.len() < 8 {
                return Err(KeyError::Malformed);
            }
            let (t, code) = (l4[0], l4[1]);
            match t {
                ICMP4_ECHO_REQUEST
                | ICMP4_ECHO_REPLY
                | ICMP4_TIMESTAMP
                | ICMP4_TIMESTAMP_REPLY
                | ICMP4_INFO_REQUEST
                | ICMP4_INFO_REPLY => {
                    if code != 0 {
                        return Err(KeyError::Icmp);
                    }
                    let id = be16(l4, 4);
                    k.src.port = id;
                    k.dst.port = id;
                    k.src.icmp_type = t;
                    k.dst.icmp_type = reverse_icmp_type(t);
                }
                _ => return Err(KeyError::Icmp),
            }
        }
        PROTO_ICMPV6 if k.v6 => {
            if l4.len() < 8 {
                return Err(KeyError::Malformed);
            }
            let (t, code) = (l4[0], l4[1]);
            match t {
                ICMP6_ECHO_REQUEST | ICMP6_ECHO_REPLY => {
                    if code != 0 {
                        return Err(KeyError::Icmp);
                    }
                    let id = be16(l4, 4);
                    k.src.port = id;
                    k.dst.port = id;
                    k.src.icmp_type = t;
                    k.dst.icmp_type = reverse_icmp6_type(t);
                }
                _ => return Err(KeyError::Icmp),
            }
        }
        _ => {}
    }
    Ok(())
}

fn is_icmp4_error(t: u8) -> bool {
    // destination unreachable, source quench, redirect, time exceeded,
    // parameter problem
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

fn is_icmp6_error(t: u8) -> bool {
    // destination unreachable, packet too big, time exceeded, parameter
    // problem
    matches!(t, 1..=4)
}

/// Extracts the connection key of the IP packet at `l3` of `frame`
/// (`v6` from its EtherType) for `zone`.
pub fn extract(frame: &[u8], l3: usize, v6: bool, zone: u16) -> Result<PktInfo, KeyError> {
    let ip = if v6 {
        l3_v6(frame, l3)?
    } else {
        l3_v4(frame, l3)?
    };
    let l4 = frame.get(ip.l4..ip.end).ok_or(KeyError::Malformed)?;
    let mut info = PktInfo {
        key: ConnKey {
            src: Endpoint {
                addr: ip.src,
                ..Endpoint::default()
            },
            dst: Endpoint {
                addr: ip.dst,
                ..Endpoint::default()
            },
            zone,
            v6,
            proto: ip.proto,
        },
        l4: ip.l4,
        ip_end: ip.end,
        ..PktInfo::default()
    };
    let icmp_err = match ip.proto {
        PROTO_ICMP if !v6 => l4.len() >= 8 && is_icmp4_error(l4[0]),
        PROTO_ICMPV6 if v6 => l4.len() >= 8 && is_icmp6_error(l4[0]),
        _ => false,
    };
    if icmp_err {
        let inner_at = ip.l4 + 8;
        let quoted = &frame[..ip.end];
        let inner = if v6 {
            l3_v6_quoted(quoted, inner_at)?
        } else {
            l3_v4_quoted(quoted, inner_at)?
        };
        if inner.src != ip.dst {
            return Err(KeyError::Icmp);
        }
        let mut k = ConnKey {
            src: Endpoint {
                addr: inner.src,
                ..Endpoint::default()
            },
            dst: Endpoint {
                addr: inner.dst,
                ..Endpoint::default()
            },
            zone,
            v6,
            proto: inner.proto,
        };
        l4_key(&mut k, &quoted[inner.l4..], true)?;
        info.key = k.reverse();
        info.related = true;
        info.inner_l3 = inner_at;
        return Ok(info);
    }
    l4_key(&mut info.key, l4, false)?;
    if ip.proto == PROTO_TCP {
        info.tcp = Some(TcpSeg::parse(l4).ok_or(KeyError::Malformed)?);
    }
    Ok(info)
}

/// The quoted IPv4 header of an ICMP error: its total length may exceed
/// what was quoted (the rest of the datagram was cut), so only the header
/// must be whole.
fn l3_v4_quoted(f: &[u8], at: usize) -> Result<L3, KeyError> {
    let b = f.get(at..).ok_or(KeyError::Malformed)?;
    if b.len() < 20 || b[0] >> 4 != 4 {
        return Err(KeyError::Malformed);
    }
    let ihl = (b[0] & 0x0f) as usize * 4;
    if ihl < 20 || ihl > b.len() {
        return Err(KeyError::Malformed);
    }
    if be16(b, 6) & 0x3fff != 0 {
        return Err(KeyError::Fragment);
    }
    Ok(L3 {
        src: be32(b, 12) as u128,
        dst: be32(b, 16) as u128,
        proto: b[9],
        l4: at + ihl,
        end: f.len(),
    })
}

fn l3_v6_quoted(f: &[u8], at: usize) -> Result<L3, KeyError> {
    let b = f.get(at..).ok_or(KeyError::Malformed)?;
    if b.len() < 40 || b[0] >> 4 != 6 {
        return Err(KeyError::Malformed);
    }
    let w = walk_ext_headers(&b[40..], b[6]);
    if w.frag != 0 {
        return Err(KeyError::Fragment);
    }
    if !w.complete {
        return Err(KeyError::Malformed);
    }
    Ok(L3 {
        src: be128(b, 8),
        dst: be128(b, 24),
        proto: w.proto,
        l4: at + 40 + w.offset,
        end: f.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_twice_is_identity_and_zone_separates() {
        let k = ConnKey {
            src: Endpoint {
                addr: 1,
                port: 2,
                icmp_type: 8,
                icmp_code: 0,
            },
            dst: Endpoint {
                addr: 3,
                port: 2,
                icmp_type: 0,
                icmp_code: 0,
            },
            zone: 5,
            v6: false,
            proto: 1,
        };
        assert_eq!(k.reverse().reverse(), k);
        let other = ConnKey { zone: 6, ..k };
        assert_ne!(k, other);
        assert_ne!(k.hash(7), other.hash(7));
    }

    #[test]
    fn wscale_option_walk() {
        // NOP, NOP, WS=7, then EOL
        assert_eq!(wscale_option(&[1, 1, 3, 3, 7, 0]), WSCALE_FLAG | 7);
        // MSS then WS 20 (clamped)
        assert_eq!(
            wscale_option(&[2, 4, 5, 0xb4, 3, 3, 20, 1]),
            WSCALE_FLAG | 14
        );
        // zero-length option does not loop
        assert_eq!(wscale_option(&[9, 0, 9, 0, 9, 0]), 0);
    }
}
