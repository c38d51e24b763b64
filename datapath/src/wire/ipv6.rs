//! IPv6 fixed header view and the extension-header walk.
//!
//! `new_checked` requires a payload length that the bytes cover (as OVS's
//! sanity check does, which like this view ignores the version nibble);
//! the rest is Ethernet padding.
//!
//! The walk follows hop-by-hop, routing, destination options, AH and
//! fragment headers until an upper-layer protocol (or an unknown header,
//! or the end of the bytes) is reached. It returns the protocol, the
//! offset of the upper layer and the fragment bits, never reading past the
//! slice.

use super::ipv4::{FRAG_ANY, FRAG_LATER};
use super::{be128, be16, be32, WireError};

pub const IPV6_HLEN: usize = 40;
pub const PROTO_HOPOPTS: u8 = 0;
pub const PROTO_ROUTING: u8 = 43;
pub const PROTO_FRAGMENT: u8 = 44;
pub const PROTO_ESP: u8 = 50;
pub const PROTO_AH: u8 = 51;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_NONE: u8 = 59;
pub const PROTO_DSTOPTS: u8 = 60;

#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < IPV6_HLEN {
            return Err(WireError::Truncated);
        }
        if be16(buf, 4) as usize > buf.len() - IPV6_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(Ipv6Packet { buf })
    }
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        ((be16(self.buf, 0) >> 4) & 0xff) as u8
    }
    #[inline]
    pub fn flow_label(&self) -> u32 {
        be32(self.buf, 0) & 0x000f_ffff
    }
    #[inline]
    pub fn payload_len(&self) -> usize {
        be16(self.buf, 4) as usize
    }
    /// The bytes after the fixed header, without Ethernet padding.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[IPV6_HLEN..IPV6_HLEN + self.payload_len()]
    }
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buf[6]
    }
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buf[7]
    }
    #[inline]
    pub fn src(&self) -> u128 {
        be128(self.buf, 8)
    }
    #[inline]
    pub fn dst(&self) -> u128 {
        be128(self.buf, 24)
    }
}

/// Result of walking the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtWalk {
    /// Protocol of the header at `offset` (an upper layer, or the header at
    /// which the walk stopped).
    pub proto: u8,
    /// Offset of that header from the start of the slice given.
    pub offset: usize,
    /// `nw_frag` bits.
    pub frag: u8,
    /// False if an extension header was cut short; `proto`/`offset` then
    /// describe the last complete one.
    pub complete: bool,
}

/// Walks extension headers starting at `buf` (the bytes after the fixed
/// header) whose first header is `next`, as OVS's `parse_ipv6_ext_hdrs`:
/// every extension header needs at least 8 bytes; a fragment header with
/// any of its offset, reserved or M bits set marks the packet a fragment,
/// and one with a non-zero offset a later fragment, whose walk stops there
/// with `proto` = 44 (the fragment header itself: a later fragment carries
/// no upper-layer header to name).
pub fn walk_ext_headers(buf: &[u8], mut next: u8) -> ExtWalk {
    let mut off = 0usize;
    let mut frag = 0u8;
    let stop = |proto, offset, frag, complete| ExtWalk {
        proto,
        offset,
        frag,
        complete,
    };
    loop {
        let len = match next {
            PROTO_HOPOPTS | PROTO_ROUTING | PROTO_DSTOPTS | PROTO_AH | PROTO_FRAGMENT => {
                if buf.len() < off + 8 {
                    return stop(next, off, frag, false);
                }
                match next {
                    PROTO_AH => (buf[off + 1] as usize + 2) * 4,
                    PROTO_FRAGMENT => 8,
                    _ => (buf[off + 1] as usize + 1) * 8,
                }
            }
            _ => return stop(next, off, frag, true),
        };
        if buf.len() < off + len {
            return stop(next, off, frag, false);
        }
        if next == PROTO_FRAGMENT {
            let f = be16(buf, off + 2);
            if f != 0 {
                frag = FRAG_ANY;
                if f & 0xfff8 != 0 {
                    // Later fragments carry no upper-layer header.
                    return stop(PROTO_FRAGMENT, off + 8, FRAG_ANY | FRAG_LATER, true);
                }
            }
        }
        next = buf[off];
        off += len;
    }
}
