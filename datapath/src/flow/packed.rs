//! [`PackedKey`]: a flow key stored at its own length, for megaflows.
//!
//! A [`FlowKey`] reserves room for every word (392 bytes) so that
//! extraction can write into it without allocating; a megaflow's masked key
//! usually has a handful of words. A `PackedKey` keeps the same map, hash
//! and present words, inline up to [`INLINE_WORDS`] words (spilling to the
//! heap beyond), so a megaflow is a few cache lines instead of ten: the
//! miss path, which installs one per new flow, writes that much less fresh
//! memory. Same map and words means same key, as for `FlowKey`.

use smallvec::SmallVec;

use super::key::{FlowKey, KeyWords, MapIter};
use super::layout::Field;

/// Words kept inline (a megaflow's masked key rarely has more).
pub const INLINE_WORDS: usize = 8;

#[derive(Clone, PartialEq, Eq)]
pub struct PackedKey {
    map: u64,
    hash: u32,
    words: SmallVec<[u64; INLINE_WORDS]>,
}

impl PackedKey {
    pub fn from_key(k: &FlowKey) -> PackedKey {
        PackedKey {
            map: k.map(),
            hash: k.hash(),
            words: SmallVec::from_slice(k.words()),
        }
    }
    /// The full-size form (hash included).
    pub fn to_key(&self) -> FlowKey {
        let mut k = FlowKey::default();
        let mut b = k.builder();
        for (i, w) in self.iter() {
            b.push(i, w);
        }
        b.finish();
        k
    }
    #[inline]
    pub fn map(&self) -> u64 {
        self.map
    }
    #[inline]
    pub fn hash(&self) -> u32 {
        self.hash
    }
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }
    /// (index, word) pairs of the present words.
    pub fn iter(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        MapIter(self.map).zip(self.words.iter().copied())
    }
    /// Value of a field.
    pub fn get(&self, f: Field) -> u64 {
        (self.word(f.word as usize) & f.word_mask()) >> f.shift
    }
}

impl KeyWords for PackedKey {
    #[inline]
    fn word(&self, idx: usize) -> u64 {
        let bit = 1u64 << idx;
        if self.map & bit == 0 {
            return 0;
        }
        self.words
            .get((self.map & (bit - 1)).count_ones() as usize)
            .copied()
            .unwrap_or(0)
    }
}

impl PartialEq<FlowKey> for PackedKey {
    fn eq(&self, o: &FlowKey) -> bool {
        self.map == o.map() && self.words() == o.words()
    }
}

impl std::fmt::Debug for PackedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (i, w) in self.iter() {
            m.entry(&i, &format_args!("{w:#x}"));
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::*;
    use super::super::Flow;
    use super::*;

    fn key(fields: &[(Field, u64)]) -> FlowKey {
        let mut f = Flow::default();
        for &(fl, v) in fields {
            f.set(fl, v);
        }
        f.to_key()
    }

    #[test]
    fn round_trip_inline_and_spilled() {
        let small = key(&[(IN_PORT, 1), (DL_TYPE, 0x800), (NW_DST, 0xc612_0001)]);
        // More words than fit inline: the heap copy must read the same.
        let big = key(&[
            (IN_PORT, 1),
            (RECIRC_ID, 2),
            (DP_HASH, 3),
            (PKT_MARK, 4),
            (CT_MARK, 5),
            (TUN_ID, 6),
            (DL_DST, 7),
            (DL_SRC, 8),
            (DL_TYPE, 0x86dd),
            (IPV6_SRC_HI, 9),
            (IPV6_SRC_LO, 10),
            (TP_SRC, 11),
        ]);
        assert!(big.words().len() > INLINE_WORDS);
        for k in [small, big] {
            let p = PackedKey::from_key(&k);
            assert_eq!(p, k);
            assert_eq!(p.hash(), k.hash());
            let back = p.to_key();
            assert_eq!(back, k);
            assert_eq!(back.hash(), k.hash());
            for i in 0..FLOW_WORDS {
                assert_eq!(p.word(i), k.word(i), "word {i}");
            }
            assert_eq!(p.get(IN_PORT), 1);
        }
        let a = PackedKey::from_key(&key(&[(IN_PORT, 1), (NW_DST, 5)]));
        let b = PackedKey::from_key(&key(&[(IN_PORT, 1), (NW_SRC, 5)]));
        assert_ne!(a, b, "same words at other indices differ");
    }
}
