//! OpenFlow messages: the 8-byte header and one `Repr` per message.
//!
//! Every message starts with `ofp_header { version:u8, type:u8,
//! length:u16, xid:u32 }`.  [`Header::parse`] checks the length against
//! the buffer once; the body decoders then work on exactly `length - 8`
//! bytes.

pub mod flow_mod;

pub use flow_mod::{FlowMod, FlowModCommand};

use crate::error::{DecodeError, ErrorCode, Result};
use crate::version::Version;

/// Bytes in `ofp_header`.
pub const HEADER_LEN: usize = 8;

/// The common message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Raw version byte (hello may carry versions we do not speak).
    pub version: u8,
    pub type_: u8,
    pub length: u16,
    pub xid: u32,
}

impl Header {
    /// Reads the header at the start of `buf`, checking that `buf` holds
    /// at least `length` bytes and that `length >= 8`.
    pub fn parse(buf: &[u8]) -> Result<Header> {
        if buf.len() < HEADER_LEN {
            return Err(DecodeError::new(ErrorCode::OfpbrcBadLen, "ofp_header"));
        }
        let h = Header {
            version: buf[0],
            type_: buf[1],
            length: u16::from_be_bytes([buf[2], buf[3]]),
            xid: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        };
        if (h.length as usize) < HEADER_LEN || h.length as usize > buf.len() {
            return Err(DecodeError::new(
                ErrorCode::OfpbrcBadLen,
                "ofp_header length",
            ));
        }
        Ok(h)
    }

    /// The negotiated version, if we speak it.
    pub fn ofp_version(&self) -> Result<Version> {
        match Version::from_wire(self.version) {
            Some(v) if Version::SUPPORTED.contains(&v) => Ok(v),
            _ => Err(DecodeError::new(ErrorCode::OfpbrcBadVersion, "version")),
        }
    }

    /// Appends a header with length 0 (patch with [`finish_message`]).
    pub fn emit_start(version: Version, type_: u8, xid: u32, out: &mut Vec<u8>) -> usize {
        let s = out.len();
        out.extend_from_slice(&[version.wire(), type_, 0, 0]);
        out.extend_from_slice(&xid.to_be_bytes());
        s
    }
}

/// Writes the total length of the message begun at `start`.
pub fn finish_message(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u16;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}
