//! GRE header (RFC 2784 with the key and sequence extensions of RFC 2890):
//! a view and a [`GreRepr`].
//!
//! Four fixed bytes (flags + version, protocol) followed by the optional
//! fields in this order, each present when its flag is: checksum (2 bytes
//! plus 2 reserved), key (4), sequence number (4). The view checks that
//! the optional fields the flags announce are all there; `GreRepr::parse`
//! also refuses what OVS refuses: version other than 0, the routing bit and
//! any other flag outside C, K and S. The protocol is an EtherType:
//! 0x6558 (transparent Ethernet bridging) for `gretap`, or the inner L3
//! type for L3 GRE (`packet_type`).

use super::checksum::checksum;
use super::{be16, be32, put_be16, put_be32, WireError};

pub const GRE_MIN_HLEN: usize = 4;
pub const GRE_F_CSUM: u16 = 0x8000;
pub const GRE_F_ROUTING: u16 = 0x4000;
pub const GRE_F_KEY: u16 = 0x2000;
pub const GRE_F_SEQ: u16 = 0x1000;
pub const GRE_VERSION_MASK: u16 = 0x0007;
/// Transparent Ethernet bridging: the payload is an Ethernet frame.
pub const GRE_PROTO_TEB: u16 = 0x6558;

#[derive(Debug, Clone, Copy)]
pub struct GreHeader<'a> {
    buf: &'a [u8],
}

/// Header length implied by the C, K and S flags.
pub fn gre_header_len(flags: u16) -> usize {
    GRE_MIN_HLEN
        + 4 * [GRE_F_CSUM, GRE_F_KEY, GRE_F_SEQ]
            .iter()
            .filter(|f| flags & **f != 0)
            .count()
}

impl<'a> GreHeader<'a> {
    /// `buf` is the GRE header and its payload.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < GRE_MIN_HLEN {
            return Err(WireError::Truncated);
        }
        if buf.len() < gre_header_len(be16(buf, 0)) {
            return Err(WireError::Truncated);
        }
        Ok(GreHeader { buf })
    }
    pub fn flags(&self) -> u16 {
        be16(self.buf, 0)
    }
    pub fn protocol(&self) -> u16 {
        be16(self.buf, 2)
    }
    pub fn header_len(&self) -> usize {
        gre_header_len(self.flags())
    }
    fn field_at(&self, flag: u16) -> Option<usize> {
        let f = self.flags();
        if f & flag == 0 {
            return None;
        }
        let mut at = GRE_MIN_HLEN;
        for g in [GRE_F_CSUM, GRE_F_KEY] {
            if g == flag {
                break;
            }
            if f & g != 0 {
                at += 4;
            }
        }
        Some(at)
    }
    pub fn checksum(&self) -> Option<u16> {
        self.field_at(GRE_F_CSUM).map(|at| be16(self.buf, at))
    }
    pub fn key(&self) -> Option<u32> {
        self.field_at(GRE_F_KEY).map(|at| be32(self.buf, at))
    }
    pub fn seq(&self) -> Option<u32> {
        self.field_at(GRE_F_SEQ).map(|at| be32(self.buf, at))
    }
    /// True if there is no checksum, or it covers header and payload.
    pub fn checksum_ok(&self) -> bool {
        self.checksum().is_none() || checksum(self.buf) == 0
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len()..]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreRepr {
    pub protocol: u16,
    /// The C flag (the value is computed over the packet when sent).
    pub csum: bool,
    pub key: Option<u32>,
    pub seq: Option<u32>,
}

impl GreRepr {
    pub fn parse(h: &GreHeader<'_>) -> Result<GreRepr, WireError> {
        if h.flags() & !(GRE_F_CSUM | GRE_F_KEY | GRE_F_SEQ) != 0 {
            return Err(WireError::Malformed);
        }
        Ok(GreRepr {
            protocol: h.protocol(),
            csum: h.checksum().is_some(),
            key: h.key(),
            seq: h.seq(),
        })
    }
    pub fn flags(&self) -> u16 {
        (if self.csum { GRE_F_CSUM } else { 0 })
            | (if self.key.is_some() { GRE_F_KEY } else { 0 })
            | (if self.seq.is_some() { GRE_F_SEQ } else { 0 })
    }
    pub fn header_len(&self) -> usize {
        gre_header_len(self.flags())
    }
    /// Writes the header (checksum field zero) into the front of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let n = self.header_len();
        if buf.len() < n {
            return Err(WireError::Truncated);
        }
        put_be16(buf, 0, self.flags());
        put_be16(buf, 2, self.protocol);
        let mut at = GRE_MIN_HLEN;
        if self.csum {
            put_be32(buf, at, 0);
            at += 4;
        }
        if let Some(k) = self.key {
            put_be32(buf, at, k);
            at += 4;
        }
        if let Some(s) = self.seq {
            put_be32(buf, at, s);
        }
        Ok(())
    }
}

/// Fills the checksum of a GRE header with C set, over `buf` (the GRE
/// header and its payload). Does nothing without C.
pub fn fill_gre_checksum(buf: &mut [u8]) {
    if buf.len() >= 8 && be16(buf, 0) & GRE_F_CSUM != 0 {
        put_be16(buf, 4, 0);
        let c = checksum(buf);
        put_be16(buf, 4, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_combination_roundtrips() {
        for bits in 0..8u32 {
            let r = GreRepr {
                protocol: if bits & 1 == 0 { GRE_PROTO_TEB } else { 0x0800 },
                csum: bits & 1 != 0,
                key: (bits & 2 != 0).then_some(0x1c8),
                seq: (bits & 4 != 0).then_some(7),
            };
            let mut b = vec![0u8; r.header_len() + 3];
            r.emit(&mut b).unwrap();
            b[r.header_len()..].copy_from_slice(b"abc");
            fill_gre_checksum(&mut b);
            let h = GreHeader::new_checked(&b).unwrap();
            assert!(h.checksum_ok());
            assert_eq!(GreRepr::parse(&h).unwrap(), r);
            assert_eq!(h.payload(), b"abc");
            // every truncation is refused
            for n in 0..r.header_len() {
                assert_eq!(
                    GreHeader::new_checked(&b[..n]).err(),
                    Some(WireError::Truncated)
                );
            }
        }
    }

    #[test]
    fn refuses_version_and_routing() {
        for f in [GRE_F_ROUTING, 1, 0x0800, 0x0080] {
            let mut b = [0u8; 8];
            put_be16(&mut b, 0, f);
            let h = GreHeader::new_checked(&b).unwrap();
            assert_eq!(GreRepr::parse(&h), Err(WireError::Malformed));
        }
    }

    #[test]
    fn bad_checksum_detected() {
        let r = GreRepr {
            protocol: GRE_PROTO_TEB,
            csum: true,
            key: None,
            seq: None,
        };
        let mut b = [0u8; 12];
        r.emit(&mut b).unwrap();
        b[8] = 9;
        fill_gre_checksum(&mut b);
        b[9] ^= 1;
        assert!(!GreHeader::new_checked(&b).unwrap().checksum_ok());
    }
}
