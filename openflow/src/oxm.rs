//! NXM/OXM TLVs: the `(class, field, hasmask, length)` header and its lookup.
//!
//! An entry is a 32-bit header (16-bit class, 7-bit field, 1-bit hasmask,
//! 8-bit payload length), a 4-byte experimenter id when class is 0xffff,
//! then the value and, when hasmask, a mask of the same length.  Headers are
//! mapped to [`Field`]s through a table built once from [`FIELDS`]: a direct
//! 128-slot array for each of the common classes (NXM 0 and 1, OXM basic and
//! packet registers), a short linear scan for the rare experimenter ones.

use std::sync::OnceLock;

use crate::error::{DecodeError, ErrorCode, Result};
use crate::field::{Field, FIELDS};

/// Which header an entry carried: class, field number and experimenter
/// (0 unless class is 0xffff).  Length and hasmask are not part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OxmHeader {
    pub class: u16,
    pub field: u8,
    pub experimenter: u32,
}

impl OxmHeader {
    pub const fn new(class: u16, field: u8) -> OxmHeader {
        OxmHeader {
            class,
            field,
            experimenter: 0,
        }
    }

    /// Header bytes on the wire: 4 + (4 if experimenter).
    pub fn wire_len(&self) -> usize {
        if self.class == 0xffff {
            8
        } else {
            4
        }
    }

    /// Appends the header with `payload_len` (value + mask) bytes.
    pub fn emit(&self, hasmask: bool, payload_len: usize, out: &mut Vec<u8>) {
        let exp = if self.class == 0xffff { 4 } else { 0 };
        let w = (u32::from(self.class) << 16)
            | (u32::from(self.field & 0x7f) << 9)
            | (u32::from(hasmask) << 8)
            | ((payload_len + exp) as u32 & 0xff);
        out.extend_from_slice(&w.to_be_bytes());
        if exp != 0 {
            out.extend_from_slice(&self.experimenter.to_be_bytes());
        }
    }

    /// The 32-bit NXM header word for this field with length `n_bytes` and
    /// no mask (as used inside Nicira actions such as reg_move, reg_load).
    pub fn nxm_word(&self, hasmask: bool, n_bytes: usize) -> u32 {
        (u32::from(self.class) << 16)
            | (u32::from(self.field & 0x7f) << 9)
            | (u32::from(hasmask) << 8)
            | (n_bytes as u32 & 0xff)
    }

    /// Splits a 32-bit header word into header, hasmask and length.
    pub fn from_word(w: u32) -> (OxmHeader, bool, u8) {
        (
            OxmHeader::new((w >> 16) as u16, ((w >> 9) & 0x7f) as u8),
            w & 0x100 != 0,
            (w & 0xff) as u8,
        )
    }
}

/// One TLV as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OxmEntry<'a> {
    pub header: OxmHeader,
    pub value: &'a [u8],
    pub mask: Option<&'a [u8]>,
}

/// Parses one TLV at the start of `buf`; returns it and the bytes it took.
pub fn parse_entry(buf: &[u8]) -> Result<(OxmEntry<'_>, usize)> {
    let bad_len = DecodeError::new(ErrorCode::OfpbmcBadLen, "oxm entry");
    if buf.len() < 4 {
        return Err(bad_len);
    }
    let w = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let (mut header, hasmask, len) = OxmHeader::from_word(w);
    let mut len = len as usize;
    let mut off = 4;
    if header.class == 0xffff {
        if len < 4 || buf.len() < 8 {
            return Err(bad_len);
        }
        header.experimenter = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        len -= 4;
        off = 8;
    }
    if buf.len() < off + len || len == 0 || (hasmask && len & 1 != 0) {
        return Err(bad_len);
    }
    let payload = &buf[off..off + len];
    let (value, mask) = if hasmask {
        let (v, m) = payload.split_at(len / 2);
        (v, Some(m))
    } else {
        (payload, None)
    };
    Ok((
        OxmEntry {
            header,
            value,
            mask,
        },
        off + len,
    ))
}

struct HeaderIndex {
    /// [class 0, class 1, class 0x8000, class 0x8001] x 128 field numbers.
    direct: [[Option<Field>; 128]; 4],
    /// (header, field) for the other classes.
    other: Vec<(OxmHeader, Field)>,
    /// (name, header) for every assignment.
    names: Vec<(&'static str, OxmHeader)>,
}

fn class_slot(class: u16) -> Option<usize> {
    match class {
        0x0000 => Some(0),
        0x0001 => Some(1),
        0x8000 => Some(2),
        0x8001 => Some(3),
        _ => None,
    }
}

fn index() -> &'static HeaderIndex {
    static INDEX: OnceLock<HeaderIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut ix = HeaderIndex {
            direct: [[None; 128]; 4],
            other: Vec::new(),
            names: Vec::new(),
        };
        for info in FIELDS.iter() {
            for h in info.headers {
                let hdr = OxmHeader {
                    class: h.class,
                    field: h.field,
                    experimenter: h.experimenter,
                };
                ix.names.push((h.name, hdr));
                match class_slot(h.class) {
                    Some(s) => ix.direct[s][(h.field & 0x7f) as usize] = Some(info.field),
                    None => ix.other.push((hdr, info.field)),
                }
            }
        }
        ix
    })
}

/// The field a header names, if any.
pub fn field_for_header(h: OxmHeader) -> Option<Field> {
    let ix = index();
    match class_slot(h.class) {
        Some(s) => ix.direct[s][(h.field & 0x7f) as usize],
        None => ix.other.iter().find(|(x, _)| *x == h).map(|(_, f)| *f),
    }
}

/// The header OVS names `name` (e.g. `NXM_NX_REG0`, `OXM_OF_METADATA`).
pub fn header_by_name(name: &str) -> Option<OxmHeader> {
    index()
        .names
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| *h)
}

/// OVS's name for a header, if it is one OVS assigns.
pub fn header_name(h: OxmHeader) -> Option<&'static str> {
    index().names.iter().find(|(_, x)| *x == h).map(|(n, _)| *n)
}

/// The concrete header to encode `field` with (see [`Field::header_for`]).
pub fn header_of(field: Field, oxm_version: Option<crate::Version>) -> Option<OxmHeader> {
    field.header_for(oxm_version).map(|h| OxmHeader {
        class: h.class,
        field: h.field,
        experimenter: h.experimenter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_words() {
        let h = OxmHeader::new(0x8000, 11);
        let mut v = Vec::new();
        h.emit(false, 4, &mut v);
        assert_eq!(v, [0x80, 0x00, 0x16, 0x04]);
        let (e, n) = parse_entry(&[0x80, 0x00, 0x17, 0x08, 1, 2, 3, 4, 255, 255, 0, 0]).unwrap();
        assert_eq!(n, 12);
        assert_eq!(e.header, h);
        assert_eq!(e.value, &[1, 2, 3, 4]);
        assert_eq!(e.mask, Some(&[255u8, 255, 0, 0][..]));
        assert_eq!(field_for_header(h), Some(Field::IpSrc));
        assert_eq!(header_by_name("NXM_NX_REG3"), Some(OxmHeader::new(1, 3)));
        assert!(parse_entry(&[0x80, 0x00, 0x0d, 0x03, 1, 2, 3]).is_err());
        assert!(parse_entry(&[0xff, 0xff, 0x00, 0x02, 0, 0]).is_err());
    }

    #[test]
    fn experimenter_header() {
        let h = OxmHeader {
            class: 0xffff,
            field: 42,
            experimenter: 0x4f4e4600,
        };
        assert_eq!(field_for_header(h), Some(Field::TcpFlags));
        let mut v = Vec::new();
        h.emit(false, 2, &mut v);
        v.extend_from_slice(&[0, 2]);
        let (e, n) = parse_entry(&v).unwrap();
        assert_eq!((e.header, e.value, n), (h, &[0u8, 2][..], 10));
    }
}
