//! Internet checksum (RFC 1071) with incremental update (RFC 1624), and
//! CRC32c for SCTP.
//!
//! Set actions rewrite a few bytes, so they fix checksums incrementally:
//! `HC' = ~(~HC + ~m + m')` per 16-bit word changed, which costs a few adds
//! instead of a pass over the packet. SCTP uses CRC32c, which cannot be
//! patched that way; it is recomputed over the SCTP packet with a 1 KiB
//! table built at compile time.

/// One's-complement sum of `data` folded to 16 bits (not inverted).
pub fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

/// Folds a 32-bit accumulator into a 16-bit one's-complement sum.
pub fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The full checksum of `data` (the value to write into the field).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum16(data, 0))
}

/// Updates checksum `csum` for a 16-bit word changing from `old` to `new`.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    let acc = (!csum as u32) + (!old as u32) + new as u32;
    !fold(acc)
}

/// Updates checksum `csum` for a 32-bit value changing from `old` to `new`.
#[inline]
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let c = update16(csum, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// Updates checksum `csum` for a 128-bit value (IPv6 address) change.
#[inline]
pub fn update128(csum: u16, old: u128, new: u128) -> u16 {
    let mut c = csum;
    for i in (0..4).rev() {
        c = update32(c, (old >> (i * 32)) as u32, (new >> (i * 32)) as u32);
    }
    c
}

const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82f6_3b78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC32c (Castagnoli) of `data`, as SCTP computes it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC32C[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_matches_full() {
        let mut hdr = hex::decode("4500003c1c4640004006b1e6c612000ac6120001").unwrap();
        hdr[10] = 0;
        hdr[11] = 0;
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&hdr), 0);
        // change the destination address 198.18.0.1 -> 198.19.7.9
        let old = u32::from_be_bytes([hdr[16], hdr[17], hdr[18], hdr[19]]);
        let new = u32::from_be_bytes([198, 19, 7, 9]);
        hdr[16..20].copy_from_slice(&new.to_be_bytes());
        let inc = update32(c, old, new);
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(inc, checksum(&hdr));
    }

    #[test]
    fn crc32c_known_vector() {
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
