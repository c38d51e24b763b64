//! Byte-order helpers shared by the codecs.
//!
//! Readers take a slice and an offset and return `Result`, so a decoder
//! that forgets a length check still cannot panic: it gets the `what`
//! error (OFPBRC_BAD_LEN by default) instead.

use crate::error::{DecodeError, ErrorCode, Result};

/// A checked big-endian reader over one structure.
#[derive(Clone, Copy)]
pub struct Rd<'a> {
    pub buf: &'a [u8],
    pub err: DecodeError,
}

impl<'a> Rd<'a> {
    pub fn new(buf: &'a [u8], code: ErrorCode, what: &'static str) -> Rd<'a> {
        Rd {
            buf,
            err: DecodeError::new(code, what),
        }
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn need(&self, n: usize) -> Result<()> {
        if self.buf.len() < n {
            Err(self.err)
        } else {
            Ok(())
        }
    }
    pub fn u8(&self, o: usize) -> Result<u8> {
        self.buf.get(o).copied().ok_or(self.err)
    }
    pub fn u16(&self, o: usize) -> Result<u16> {
        Ok(u16::from_be_bytes(self.arr::<2>(o)?))
    }
    pub fn u32(&self, o: usize) -> Result<u32> {
        Ok(u32::from_be_bytes(self.arr::<4>(o)?))
    }
    pub fn u64(&self, o: usize) -> Result<u64> {
        Ok(u64::from_be_bytes(self.arr::<8>(o)?))
    }
    pub fn arr<const N: usize>(&self, o: usize) -> Result<[u8; N]> {
        self.buf
            .get(o..o.checked_add(N).ok_or(self.err)?)
            .map(|s| {
                let mut a = [0u8; N];
                a.copy_from_slice(s);
                a
            })
            .ok_or(self.err)
    }
    pub fn slice(&self, from: usize, to: usize) -> Result<&'a [u8]> {
        if from > to {
            return Err(self.err);
        }
        self.buf.get(from..to).ok_or(self.err)
    }
    pub fn tail(&self, from: usize) -> Result<&'a [u8]> {
        self.buf.get(from..).ok_or(self.err)
    }
}

/// Writes a big-endian u16 at `o` (for back-patching lengths).
pub fn put_u16_at(out: &mut [u8], o: usize, v: u16) {
    out[o..o + 2].copy_from_slice(&v.to_be_bytes());
}

pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_zeros(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}
