//! Hashing for the classifier: a word-at-a-time mix for masked flow words,
//! and a pass-through hasher for tables whose keys are already such hashes.
//!
//! The subtable hash of a packet is folded over the subtable's (word, mask)
//! pairs in stage order, so the hash after each stage is also the key of
//! that stage's index: one pass gives every staged probe.

use std::hash::{BuildHasherDefault, Hasher};

/// Starting value of a fold.
pub(crate) const BASIS: u64 = 0x243f_6a88_85a3_08d3;

/// Folds one masked word into a running hash.
#[inline(always)]
pub(crate) fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(26) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Final avalanche (murmur3's fmix64), so that every bit of the key
/// reaches the bits a hash table uses.
#[inline(always)]
pub(crate) const fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The bucket key of the empty row: every rule of a match-all subtable
/// (no mask bits) is in the bucket of this key.
pub(crate) const EMPTY_ROW: u64 = finish(BASIS);

/// Hasher for `u64` keys that already are [`finish`]ed hashes.
#[derive(Default, Clone, Copy)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only used by `u64` keys; any other key still gets a valid hash.
        for b in bytes {
            self.0 = mix(self.0, *b as u64);
        }
        self.0 = finish(self.0);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(crate) type PassThroughBuild = BuildHasherDefault<PassThrough>;

/// Hasher for whole flows (the subtable-by-mask map): mixes 8 bytes at a
/// time, much cheaper than SipHash over 45+ words.
#[derive(Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        finish(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = mix(self.0, u64::from_le_bytes(w));
        }
        for b in chunks.remainder() {
            self.0 = mix(self.0, *b as u64);
        }
    }
    fn write_u16(&mut self, v: u16) {
        self.0 = mix(self.0, v as u64);
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = mix(self.0, v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = mix(self.0, v);
    }
    fn write_usize(&mut self, v: usize) {
        self.0 = mix(self.0, v as u64);
    }
}

pub(crate) type WordBuild = BuildHasherDefault<WordHasher>;

/// [`WordHasher`]s that start from a random seed: for tables whose keys
/// come from packets (the MAC table), so that chosen keys cannot be made
/// to collide, at the cost of a word mix rather than SipHash's rounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededWordBuild(u64);

impl SeededWordBuild {
    pub(crate) fn new() -> SeededWordBuild {
        use std::hash::BuildHasher;
        SeededWordBuild(std::collections::hash_map::RandomState::new().hash_one(BASIS))
    }
}

impl std::hash::BuildHasher for SeededWordBuild {
    type Hasher = WordHasher;
    fn build_hasher(&self) -> WordHasher {
        WordHasher(self.0)
    }
}
