//! A field value or mask: network-order bytes, inline up to 16 bytes.
//!
//! Almost every field fits in 16 bytes (IPv6, ct_label, xxreg), so values
//! live inline without a heap allocation; only `tun_metadata*` (up to 124
//! bytes) and long `learn` immediates spill to the heap.

use smallvec::SmallVec;

/// Bytes of a field value in network byte order.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Value(SmallVec<[u8; 16]>);

impl Value {
    pub fn from_slice(b: &[u8]) -> Value {
        Value(SmallVec::from_slice(b))
    }
    pub fn zeroed(n: usize) -> Value {
        Value(SmallVec::from_elem(0, n))
    }
    pub fn from_u8(v: u8) -> Value {
        Value::from_slice(&[v])
    }
    pub fn from_u16(v: u16) -> Value {
        Value::from_slice(&v.to_be_bytes())
    }
    pub fn from_u32(v: u32) -> Value {
        Value::from_slice(&v.to_be_bytes())
    }
    pub fn from_u64(v: u64) -> Value {
        Value::from_slice(&v.to_be_bytes())
    }
    pub fn from_u128(v: u128) -> Value {
        Value::from_slice(&v.to_be_bytes())
    }
    /// `v` truncated to the low `width` bytes (big-endian).
    pub fn from_u128_width(v: u128, width: usize) -> Value {
        let b = v.to_be_bytes();
        Value::from_slice(&b[16 - width.min(16)..])
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The value as an unsigned integer (the low 16 bytes if longer).
    pub fn to_u128(&self) -> u128 {
        let b = &self.0[self.0.len().saturating_sub(16)..];
        b.iter().fold(0u128, |a, &x| (a << 8) | u128::from(x))
    }
    /// The value as u64 (the low 8 bytes).
    pub fn to_u64(&self) -> u64 {
        self.to_u128() as u64
    }
    /// True if every byte is 0xff.
    pub fn is_all_ones(&self) -> bool {
        self.0.iter().all(|&b| b == 0xff)
    }
    /// True if every byte is 0.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl core::fmt::Debug for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("0x")?;
        for b in self.0.iter() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Value {
        Value::from_slice(b)
    }
}
