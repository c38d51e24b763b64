//! Network Service Header (RFC 8300) view: the base header, the service
//! path header and, for MD type 1, the four fixed context words.
//!
//! `new_checked` accepts exactly what OVS's `parse_nsh` accepts: at least
//! the 8-byte base and path headers, version 0, a header length (in 4-byte
//! words) within the buffer, for MD type 1 a length of exactly 24 bytes
//! and for MD type 2 at least 8. MD type 2 and unknown types are accepted
//! with no context (OVS does not parse their metadata either). The MD type
//! is the whole byte, reserved bits included, as OVS reads it.

use super::{be16, be32, WireError};

/// Base header + service path header.
pub const NSH_BASE_HLEN: usize = 8;
/// Base + path + 16 bytes of fixed context.
pub const NSH_MD1_HLEN: usize = 24;
pub const NSH_MD_TYPE1: u8 = 1;
pub const NSH_MD_TYPE2: u8 = 2;

#[derive(Debug, Clone, Copy)]
pub struct NshHeader<'a> {
    buf: &'a [u8],
}

impl<'a> NshHeader<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < NSH_BASE_HLEN {
            return Err(WireError::Truncated);
        }
        let h = NshHeader { buf };
        if h.version() != 0 || h.header_len() > buf.len() {
            return Err(WireError::Malformed);
        }
        match h.md_type() {
            NSH_MD_TYPE1 if h.header_len() != NSH_MD1_HLEN => return Err(WireError::Malformed),
            NSH_MD_TYPE2 if h.header_len() < NSH_BASE_HLEN => return Err(WireError::Malformed),
            _ => {}
        }
        Ok(h)
    }
    fn ver_flags_ttl_len(&self) -> u16 {
        be16(self.buf, 0)
    }
    pub fn version(&self) -> u8 {
        (self.ver_flags_ttl_len() >> 14) as u8
    }
    /// The O and U bits (OVS's `nsh_flags`).
    pub fn flags(&self) -> u8 {
        ((self.ver_flags_ttl_len() >> 12) & 0x3) as u8
    }
    pub fn ttl(&self) -> u8 {
        ((self.ver_flags_ttl_len() >> 6) & 0x3f) as u8
    }
    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        (self.ver_flags_ttl_len() & 0x3f) as usize * 4
    }
    /// The MD type byte (its 4 high bits are reserved, and kept).
    pub fn md_type(&self) -> u8 {
        self.buf[2]
    }
    pub fn next_proto(&self) -> u8 {
        self.buf[3]
    }
    /// Service path identifier (24 bits) and service index (8 bits).
    pub fn path_hdr(&self) -> u32 {
        be32(self.buf, 4)
    }
    /// The MD type 1 context words; zero for other MD types.
    pub fn context(&self) -> [u32; 4] {
        if self.md_type() != NSH_MD_TYPE1 {
            return [0; 4];
        }
        [
            be32(self.buf, 8),
            be32(self.buf, 12),
            be32(self.buf, 16),
            be32(self.buf, 20),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md1_and_md2() {
        // ver 0, ttl 63, len 6 words, MD1, np 3 (Ethernet), spi 0x123, si 255.
        let mut h = vec![0x0f, 0xc6, 0x01, 0x03, 0x00, 0x01, 0x23, 0xff];
        h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
        let n = NshHeader::new_checked(&h).unwrap();
        assert_eq!((n.version(), n.flags(), n.ttl()), (0, 0, 63));
        assert_eq!((n.md_type(), n.next_proto()), (1, 3));
        assert_eq!(n.path_hdr(), 0x0001_23ff);
        assert_eq!(n.context(), [1, 2, 3, 4]);
        // MD1 with a length other than 24 bytes is refused.
        h[1] = 0xc5;
        assert!(NshHeader::new_checked(&h).is_err());
        // MD2 with the base length only: accepted, no context.
        let md2 = [0x0f, 0xc2, 0x02, 0x03, 0, 0, 1, 9];
        assert_eq!(NshHeader::new_checked(&md2).unwrap().context(), [0; 4]);
        // Version 1, or a length past the end: refused.
        assert!(NshHeader::new_checked(&[0x4f, 0xc2, 2, 3, 0, 0, 1, 9]).is_err());
        assert!(NshHeader::new_checked(&[0x0f, 0xc3, 2, 3, 0, 0, 1, 9]).is_err());
        assert!(NshHeader::new_checked(&md2[..7]).is_err());
        // MD2 shorter than the base header: refused; another type: accepted.
        assert!(NshHeader::new_checked(&[0x0f, 0xc1, 2, 3, 0, 0, 1, 9]).is_err());
        let other = [0x0f, 0xc1, 0x31, 3, 0, 0, 1, 9];
        assert_eq!(NshHeader::new_checked(&other).unwrap().md_type(), 0x31);
    }
}
