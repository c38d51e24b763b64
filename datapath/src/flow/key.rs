//! The compact flow key (a "miniflow") and its dense twin.
//!
//! A [`FlowKey`] is a 64-bit map of which of the [`FLOW_WORDS`] words are
//! non-zero, followed by exactly those words in index order, plus a hash.
//! Zero words are left out, so a typical UDP packet key is 8-10 words and
//! equality is a map compare plus a short word compare. Because absent
//! means zero, two keys are equal exactly when the flows they describe are
//! equal: there is one representation per flow.
//!
//! A mask is a `FlowKey` too (its map is the set of words it looks at).
//! [`Flow`] is the dense form (all 34 words), handy in the slow path, in
//! the classifier after an EMC miss (a masked word is then one load), and
//! in tests.

use super::layout::{Field, FLOW_WORDS};

/// Compact flow key: present-word bitmap + those words + hash.
#[derive(Clone)]
pub struct FlowKey {
    map: u64,
    hash: u32,
    len: u8,
    words: [u64; FLOW_WORDS],
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey { map: 0, hash: 0, len: 0, words: [0; FLOW_WORDS] }
    }
}

impl PartialEq for FlowKey {
    #[inline]
    fn eq(&self, o: &FlowKey) -> bool {
        self.map == o.map && self.words() == o.words()
    }
}
impl Eq for FlowKey {}

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (i, w) in self.iter() {
            m.entry(&i, &format_args!("{w:#x}"));
        }
        m.finish()
    }
}

const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// Mixes one word into a running hash (two multiply lanes would be faster
/// on long keys; keys here are short).
#[inline(always)]
pub fn hash_add(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(K1).rotate_left(27)
}

#[inline(always)]
pub fn hash_finish(h: u64) -> u32 {
    let h = (h ^ (h >> 29)).wrapping_mul(K2);
    (h ^ (h >> 32)) as u32
}

impl FlowKey {
    /// Starts filling `self` in place (no allocation, no zeroing).
    #[inline(always)]
    pub fn builder(&mut self) -> KeyBuilder<'_> {
        self.map = 0;
        self.len = 0;
        KeyBuilder { key: self }
    }

    #[inline]
    pub fn map(&self) -> u64 {
        self.map
    }
    #[inline]
    pub fn hash(&self) -> u32 {
        self.hash
    }
    /// The present words, in index order.
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words[..self.len as usize]
    }
    /// Word `idx` (zero when absent).
    #[inline]
    pub fn word(&self, idx: usize) -> u64 {
        let bit = 1u64 << idx;
        if self.map & bit == 0 {
            return 0;
        }
        self.words[(self.map & (bit - 1)).count_ones() as usize]
    }
    /// Value of a field.
    pub fn get(&self, f: Field) -> u64 {
        (self.word(f.word as usize) & f.word_mask()) >> f.shift
    }
    /// (index, word) pairs of the present words.
    pub fn iter(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        MapIter(self.map).zip(self.words().iter().copied())
    }
    /// Recomputes the hash over map and words.
    #[inline]
    pub fn rehash(&mut self) {
        let mut h = hash_add(0, self.map);
        for &w in self.words() {
            h = hash_add(h, w);
        }
        self.hash = hash_finish(h);
    }
    /// Expands into the dense form.
    #[inline]
    pub fn expand(&self, out: &mut Flow) {
        out.0 = [0; FLOW_WORDS];
        for (i, w) in self.iter() {
            out.0[i] = w;
        }
    }
    /// Builds from a dense flow (zero words dropped), hash included.
    pub fn from_flow(f: &Flow) -> FlowKey {
        let mut k = FlowKey::default();
        let mut b = k.builder();
        for (i, &w) in f.0.iter().enumerate() {
            b.push(i, w);
        }
        b.finish();
        k
    }
    /// `self & mask`, as a new key (hash included).
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut d = Flow::default();
        self.expand(&mut d);
        let mut m = Flow::default();
        mask.expand(&mut m);
        for i in 0..FLOW_WORDS {
            d.0[i] &= m.0[i];
        }
        FlowKey::from_flow(&d)
    }
    /// True if `self` (a packet key) matches `key` under `mask`.
    pub fn matches(&self, key: &FlowKey, mask: &FlowKey) -> bool {
        mask.iter().all(|(i, m)| self.word(i) & m == key.word(i) & m)
    }
}

/// Appends words in increasing index order; zero words are skipped.
pub struct KeyBuilder<'a> {
    key: &'a mut FlowKey,
}

impl KeyBuilder<'_> {
    /// Appends word `idx`. Indices must be pushed in increasing order, each
    /// at most once (extraction follows the layout order).
    #[inline(always)]
    pub fn push(&mut self, idx: usize, w: u64) {
        debug_assert!(self.key.map >> idx == 0, "word {idx} pushed out of order");
        if w != 0 {
            let n = self.key.len as usize;
            if let Some(slot) = self.key.words.get_mut(n) {
                *slot = w;
                self.key.map |= 1u64 << idx;
                self.key.len += 1;
            }
        }
    }
    /// Finishes the key: computes its hash.
    #[inline(always)]
    pub fn finish(self) {
        self.key.rehash();
    }
}

/// Iterates over the set bits of a map, lowest first.
#[derive(Clone, Copy)]
pub struct MapIter(pub u64);

impl Iterator for MapIter {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

/// Dense flow: every word, zero when absent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Flow(pub [u64; FLOW_WORDS]);

impl Default for Flow {
    fn default() -> Self {
        Flow([0; FLOW_WORDS])
    }
}

impl Flow {
    #[inline]
    pub fn get(&self, f: Field) -> u64 {
        (self.0[f.word as usize] & f.word_mask()) >> f.shift
    }
    #[inline]
    pub fn set(&mut self, f: Field, v: u64) {
        let w = &mut self.0[f.word as usize];
        *w = (*w & !f.word_mask()) | f.place(v);
    }
    /// Sets every bit of field `f` (for building masks).
    #[inline]
    pub fn set_all(&mut self, f: Field) {
        self.0[f.word as usize] |= f.word_mask();
    }
    pub fn to_key(&self) -> FlowKey {
        FlowKey::from_flow(self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::*;
    use super::*;

    #[test]
    fn compact_roundtrip_and_equality() {
        let mut f = Flow::default();
        f.set(IN_PORT, 3);
        f.set(DL_TYPE, 0x0800);
        f.set(NW_SRC, 0xc612_0001);
        f.set(TP_DST, 53);
        let k = f.to_key();
        assert_eq!(k.words().len(), 4);
        assert_eq!(k.get(NW_SRC), 0xc612_0001);
        assert_eq!(k.get(NW_DST), 0);
        let mut back = Flow::default();
        k.expand(&mut back);
        assert_eq!(back, f);
        let mut f2 = f;
        f2.set(TP_DST, 54);
        assert_ne!(f2.to_key(), k);
        assert_ne!(f2.to_key().hash(), k.hash());
        f2.set(TP_DST, 53);
        assert_eq!(f2.to_key(), k);
        assert_eq!(f2.to_key().hash(), k.hash());
    }

    #[test]
    fn masked_match() {
        let mut f = Flow::default();
        f.set(IN_PORT, 1);
        f.set(NW_DST, 0xc612_0102);
        f.set(TP_SRC, 999);
        let pkt = f.to_key();
        let mut m = Flow::default();
        m.set(NW_DST, 0xffff_ff00);
        let mask = m.to_key();
        let rule = pkt.masked(&mask);
        assert_eq!(rule.get(NW_DST), 0xc612_0100);
        assert_eq!(rule.get(TP_SRC), 0);
        assert!(pkt.matches(&rule, &mask));
        f.set(NW_DST, 0xc612_0202);
        assert!(!f.to_key().matches(&rule, &mask));
    }
}
