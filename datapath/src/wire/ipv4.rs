//! IPv4 header view (with options) and fragment decoding.
//!
//! `new_checked` verifies IHL >= 5, that the header with its options fits,
//! that the total length covers the header, and that the bytes cover the
//! total length (OVS treats a shorter packet as having no IPv4 header at
//! all). Bytes past the total length are Ethernet padding and are ignored.
//! Options are skipped, not interpreted. Like OVS's sanity check it does
//! not look at the version nibble (the EtherType already said IPv4) nor at
//! the checksum (a switch forwards what it gets).

use super::{be16, be32, WireError};

pub const IPV4_MIN_HLEN: usize = 20;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_IGMP: u8 = 2;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_SCTP: u8 = 132;

/// Fragment bits of a flow key (`nw_frag`), as OVS defines them.
pub const FRAG_ANY: u8 = 1;
pub const FRAG_LATER: u8 = 2;

#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Ipv4Packet<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < IPV4_MIN_HLEN {
            return Err(WireError::Truncated);
        }
        let hlen = ((buf[0] & 0x0f) as usize) * 4;
        if hlen < IPV4_MIN_HLEN {
            return Err(WireError::Malformed);
        }
        if buf.len() < hlen {
            return Err(WireError::Truncated);
        }
        let tot = be16(buf, 2) as usize;
        if tot < hlen {
            return Err(WireError::Malformed);
        }
        if tot > buf.len() {
            return Err(WireError::Truncated);
        }
        Ok(Ipv4Packet { buf })
    }
    #[inline]
    pub fn header_len(&self) -> usize {
        ((self.buf[0] & 0x0f) as usize) * 4
    }
    #[inline]
    pub fn total_len(&self) -> usize {
        be16(self.buf, 2) as usize
    }
    /// Header plus payload, without Ethernet padding.
    #[inline]
    pub fn packet(&self) -> &'a [u8] {
        &self.buf[..self.total_len()]
    }
    /// The bytes after the header (and options), without padding.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len()..self.total_len()]
    }
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buf[1]
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buf[8]
    }
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buf[9]
    }
    #[inline]
    pub fn src(&self) -> u32 {
        be32(self.buf, 12)
    }
    #[inline]
    pub fn dst(&self) -> u32 {
        be32(self.buf, 16)
    }
    /// `nw_frag` bits: FRAG_ANY if MF is set or the offset is non-zero,
    /// plus FRAG_LATER if the offset is non-zero.
    #[inline]
    pub fn frag(&self) -> u8 {
        let f = be16(self.buf, 6);
        let off = f & 0x1fff;
        let mf = f & 0x2000 != 0;
        if off != 0 {
            FRAG_ANY | FRAG_LATER
        } else if mf {
            FRAG_ANY
        } else {
            0
        }
    }
}
