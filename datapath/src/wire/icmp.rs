//! ICMPv4 and ICMPv6 headers, and IPv6 Neighbor Discovery (NS/NA) with its
//! source/target link-layer address options.
//!
//! ND parsing follows OVS's `parse_icmpv6`: a message too short for its
//! target has no ND fields; an option of length 0 or running past the end
//! ends the walk, keeping the target and the addresses found before it; a
//! second SLL (or TLL) option after a non-zero one makes all ND fields
//! zero. The ICMPv6 type and code are recorded in every case.

use super::{be128, mac48, WireError};

pub const ICMP_HLEN: usize = 4;
/// The header with its 4 bytes of type-specific data: what OVS needs to
/// see before it reads an ICMP, ICMPv6 or IGMP type and code.
pub const ICMP_DATA_HLEN: usize = 8;
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
pub const ND_OPT_SOURCE_LINKADDR: u8 = 1;
pub const ND_OPT_TARGET_LINKADDR: u8 = 2;

#[derive(Debug, Clone, Copy)]
pub struct IcmpHeader<'a> {
    buf: &'a [u8],
}

impl<'a> IcmpHeader<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < ICMP_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(IcmpHeader { buf })
    }
    pub fn icmp_type(&self) -> u8 {
        self.buf[0]
    }
    pub fn code(&self) -> u8 {
        self.buf[1]
    }
}

/// The fields of a Neighbor Solicitation/Advertisement a flow key holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NdFields {
    pub target: u128,
    pub sll: u64,
    pub tll: u64,
    /// Reserved bits word of an NA (R/S/O flags), kept for `nd_reserved`.
    pub reserved: u32,
}

/// Parses an ICMPv6 NS or NA message (`buf` starts at the ICMPv6 header).
pub fn parse_nd(buf: &[u8]) -> NdFields {
    // type, code, checksum (4) + reserved (4) + target (16)
    if buf.len() < 24 {
        return NdFields {
            reserved: if buf.len() >= 8 {
                super::be32(buf, 4)
            } else {
                0
            },
            ..NdFields::default()
        };
    }
    let mut nd = NdFields {
        target: be128(buf, 8),
        reserved: super::be32(buf, 4),
        ..NdFields::default()
    };
    let mut off = 24;
    while buf.len() >= off + 8 {
        let ty = buf[off];
        let len = buf[off + 1] as usize * 8;
        if len == 0 || buf.len() < off + len {
            return nd;
        }
        if ty == ND_OPT_SOURCE_LINKADDR && len == 8 {
            if nd.sll != 0 {
                return NdFields {
                    reserved: nd.reserved,
                    ..NdFields::default()
                };
            }
            nd.sll = mac48(buf, off + 2);
        } else if ty == ND_OPT_TARGET_LINKADDR && len == 8 {
            if nd.tll != 0 {
                return NdFields {
                    reserved: nd.reserved,
                    ..NdFields::default()
                };
            }
            nd.tll = mac48(buf, off + 2);
        }
        off += len;
    }
    nd
}
