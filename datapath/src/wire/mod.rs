//! Zero-copy views over packet headers, in the style of smoltcp's `wire`.
//!
//! Each view wraps a byte slice whose length was checked once in
//! `new_checked`, so the field accessors that follow are plain loads with no
//! further failure path. Views never allocate and never panic: a short or
//! malformed header is a [`WireError`]. Byte order on the wire is big endian;
//! accessors return host integers.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod geneve;
pub mod gre;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod nsh;
pub mod vxlan;

/// Why a header could not be viewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the fixed part of the header.
    #[error("truncated header")]
    Truncated,
    /// A length or version field is impossible.
    #[error("malformed header")]
    Malformed,
}

#[inline(always)]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline(always)]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline(always)]
pub(crate) fn put_be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
pub(crate) fn put_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Six bytes of a MAC address as the low 48 bits of a u64 (first byte most
/// significant), the form used in flow keys.
#[inline(always)]
pub(crate) fn mac48(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w[2..8].copy_from_slice(&b[at..at + 6]);
    u64::from_be_bytes(w)
}

#[inline(always)]
pub(crate) fn put_mac48(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 6].copy_from_slice(&v.to_be_bytes()[2..8]);
}

/// Sixteen bytes (an IPv6 address) as a u128, first byte most significant.
#[inline(always)]
pub(crate) fn be128(b: &[u8], at: usize) -> u128 {
    let mut w = [0u8; 16];
    w.copy_from_slice(&b[at..at + 16]);
    u128::from_be_bytes(w)
}
