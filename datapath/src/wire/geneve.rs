//! Geneve header (RFC 8926) with its options: a view, an option iterator
//! and a [`GeneveRepr`].
//!
//! Eight fixed bytes (version 0 and the option length in 4-byte words; the
//! O and C bits; the protocol; the 24-bit VNI and a reserved byte), then
//! `opt_len * 4` bytes of TLV options: class (16 bits), type (8 bits, the
//! high bit marks a critical option), 5-bit data length in words, data.
//! `new_checked` verifies that the options fit the buffer and that they
//! walk exactly to their end (a truncated option is `Malformed`), so the
//! iterator that follows needs no further checks.

use super::{be16, be32, put_be16, put_be32, WireError};

pub const GENEVE_HLEN: usize = 8;
pub const GENEVE_PORT: u16 = 6081;
pub const GENEVE_OPT_HLEN: usize = 4;
/// Longest option area (6-bit length in words).
pub const GENEVE_MAX_OPTS: usize = 63 * 4;
/// Type bit marking an option the receiver must understand.
pub const GENEVE_TYPE_CRIT: u8 = 0x80;

#[derive(Debug, Clone, Copy)]
pub struct GeneveHeader<'a> {
    buf: &'a [u8],
}

impl<'a> GeneveHeader<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < GENEVE_HLEN {
            return Err(WireError::Truncated);
        }
        let h = GeneveHeader { buf };
        if buf.len() < GENEVE_HLEN + h.options_len() {
            return Err(WireError::Truncated);
        }
        let o = h.options();
        let mut at = 0;
        while at < o.len() {
            if o.len() - at < GENEVE_OPT_HLEN {
                return Err(WireError::Malformed);
            }
            let n = GENEVE_OPT_HLEN + (o[at + 3] & 0x1f) as usize * 4;
            if o.len() - at < n {
                return Err(WireError::Malformed);
            }
            at += n;
        }
        Ok(h)
    }
    pub fn version(&self) -> u8 {
        self.buf[0] >> 6
    }
    pub fn options_len(&self) -> usize {
        (self.buf[0] & 0x3f) as usize * 4
    }
    pub fn oam(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    pub fn critical(&self) -> bool {
        self.buf[1] & 0x40 != 0
    }
    pub fn protocol(&self) -> u16 {
        be16(self.buf, 2)
    }
    pub fn vni(&self) -> u32 {
        be32(self.buf, 4) >> 8
    }
    pub fn header_len(&self) -> usize {
        GENEVE_HLEN + self.options_len()
    }
    /// The raw option bytes (checked to be well-formed TLVs).
    pub fn options(&self) -> &'a [u8] {
        &self.buf[GENEVE_HLEN..GENEVE_HLEN + self.options_len()]
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len()..]
    }
}

/// One option TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveOpt<'a> {
    pub class: u16,
    pub typ: u8,
    pub data: &'a [u8],
}

/// Walks well-formed option bytes (stops at the first short one).
pub fn geneve_options(mut b: &[u8]) -> impl Iterator<Item = GeneveOpt<'_>> {
    std::iter::from_fn(move || {
        if b.len() < GENEVE_OPT_HLEN {
            return None;
        }
        let n = (b[3] & 0x1f) as usize * 4;
        if b.len() < GENEVE_OPT_HLEN + n {
            return None;
        }
        let o = GeneveOpt {
            class: be16(b, 0),
            typ: b[2],
            data: &b[GENEVE_OPT_HLEN..GENEVE_OPT_HLEN + n],
        };
        b = &b[GENEVE_OPT_HLEN + n..];
        Some(o)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveRepr<'a> {
    pub oam: bool,
    pub critical: bool,
    /// EtherType of the payload (0x6558 for Ethernet).
    pub protocol: u16,
    /// 24 bits.
    pub vni: u32,
    /// Option TLVs, a multiple of 4 bytes, at most [`GENEVE_MAX_OPTS`].
    pub options: &'a [u8],
}

impl<'a> GeneveRepr<'a> {
    /// Version must be 0 and the reserved byte after the VNI zero.
    pub fn parse(h: &GeneveHeader<'a>) -> Result<GeneveRepr<'a>, WireError> {
        if h.version() != 0 || h.buf[7] != 0 {
            return Err(WireError::Malformed);
        }
        Ok(GeneveRepr {
            oam: h.oam(),
            critical: h.critical(),
            protocol: h.protocol(),
            vni: h.vni(),
            options: h.options(),
        })
    }
    pub fn header_len(&self) -> usize {
        GENEVE_HLEN + self.options.len()
    }
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let ol = self.options.len();
        if !ol.is_multiple_of(4) || ol > GENEVE_MAX_OPTS {
            return Err(WireError::Malformed);
        }
        if buf.len() < self.header_len() {
            return Err(WireError::Truncated);
        }
        buf[0] = (ol / 4) as u8;
        buf[1] = (if self.oam { 0x80 } else { 0 }) | (if self.critical { 0x40 } else { 0 });
        put_be16(buf, 2, self.protocol);
        put_be32(buf, 4, (self.vni & 0x00ff_ffff) << 8);
        buf[GENEVE_HLEN..GENEVE_HLEN + ol].copy_from_slice(self.options);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_options() {
        let opts = [0xff, 0xff, 0x80, 1, 0, 0, 0, 0x0a, 0x01, 0x02, 0x03, 0];
        for options in [&opts[..], &opts[..8], &[][..]] {
            let r = GeneveRepr {
                oam: options.is_empty(),
                critical: !options.is_empty(),
                protocol: 0x6558,
                vni: 0x7b,
                options,
            };
            let mut b = vec![0u8; r.header_len() + 2];
            r.emit(&mut b).unwrap();
            let h = GeneveHeader::new_checked(&b).unwrap();
            assert_eq!(GeneveRepr::parse(&h).unwrap(), r);
            assert_eq!(h.payload().len(), 2);
        }
        let v: Vec<_> = geneve_options(&opts).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0],
            GeneveOpt {
                class: 0xffff,
                typ: 0x80,
                data: &[0, 0, 0, 0x0a]
            }
        );
        assert_eq!(
            v[1],
            GeneveOpt {
                class: 0x0102,
                typ: 3,
                data: &[]
            }
        );
    }

    #[test]
    fn truncated_options_refused() {
        // opt_len says 2 words; the one option claims 4 more bytes than that.
        let b = [
            2, 0, 0x65, 0x58, 0, 0, 1, 0, 0xff, 0xff, 0x80, 2, 0, 0, 0, 0,
        ];
        assert_eq!(
            GeneveHeader::new_checked(&b).err(),
            Some(WireError::Malformed)
        );
        // opt_len past the buffer
        let b = [3, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(
            GeneveHeader::new_checked(&b).err(),
            Some(WireError::Truncated)
        );
        // version 1
        let b = [0x40, 0, 0x65, 0x58, 0, 0, 1, 0];
        let h = GeneveHeader::new_checked(&b).unwrap();
        assert_eq!(GeneveRepr::parse(&h), Err(WireError::Malformed));
    }
}
