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
//! [`Flow`] is the dense form (all `FLOW_WORDS` words), handy in the slow path, in
//! the classifier after an EMC miss (a masked word is then one load), and
//! in tests.

use super::layout::{Field, FLOW_WORDS, TUN_GNV_LEN, TUN_GNV_OPT_BYTES, W_TUN_GNV_OPTS};

/// Compact flow key: present-word bitmap + those words + hash.
///
/// `repr(C)` keeps map, hash and length in the first bytes, so a cache
/// probe that compares them touches one cache line.
#[derive(Clone)]
#[repr(C)]
pub struct FlowKey {
    map: u64,
    hash: u32,
    len: u8,
    /// The TCP_FLAGS field of the L4 word (0 without one), kept by the
    /// builder in what was padding so per-flow statistics read it with one
    /// load. Derived from the words, so equality ignores it.
    tcp_flags: u16,
    words: [u64; FLOW_WORDS],
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey {
            map: 0,
            hash: 0,
            len: 0,
            tcp_flags: 0,
            words: [0; FLOW_WORDS],
        }
    }
}

impl PartialEq for FlowKey {
    #[inline]
    fn eq(&self, o: &FlowKey) -> bool {
        // Same map implies same length. Keys of up to 8 words (nearly all)
        // are compared with a fixed shape: all 8 first words XORed and
        // masked by the row of `PREFIX_MASKS` for the length (words past
        // the length are stale scratch and ignored), no loop and no
        // data-dependent branch; the compiler makes it a few vector ops.
        if self.map != o.map {
            return false;
        }
        let n = self.len as usize;
        if let Some(m) = PREFIX_MASKS.0.get(n) {
            let (a, b) = (&self.words[..8], &o.words[..8]);
            let diff = a
                .iter()
                .zip(b)
                .zip(m)
                .fold(0u64, |d, ((x, y), k)| d | ((x ^ y) & k));
            return diff == 0;
        }
        let mut diff = 0u64;
        for i in 0..n.min(FLOW_WORDS) {
            diff |= self.words[i] ^ o.words[i];
        }
        diff == 0
    }
}

/// Row `n`: all ones in the first `n` of 8 words (one cache line a row).
#[repr(C, align(64))]
struct PrefixMasks([[u64; 8]; 9]);

static PREFIX_MASKS: PrefixMasks = {
    let mut t = [[0u64; 8]; 9];
    let mut n = 0;
    while n <= 8 {
        let mut i = 0;
        while i < n {
            t[n][i] = !0;
            i += 1;
        }
        n += 1;
    }
    PrefixMasks(t)
};
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

/// splitmix64 step, to derive the per-word hash constants at compile time.
const fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Per word index: a seed XORed into the word and an odd multiplier.
const fn word_consts() -> [(u64, u64); FLOW_WORDS] {
    let mut t = [(0u64, 0u64); FLOW_WORDS];
    let mut i = 0;
    while i < FLOW_WORDS {
        t[i] = (splitmix(2 * i as u64 + 1), splitmix(2 * i as u64 + 2) | 1);
        i += 1;
    }
    t
}
const WORD_CONSTS: [(u64, u64); FLOW_WORDS] = word_consts();

/// 64x64->128 multiply folded to 64 bits (mixes every input bit into
/// every output bit).
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A key's hash contribution of word `w` at layout index `idx`. A key's
/// hash is the (wrapping) sum of its present words' contributions, then
/// [`hash_finish`]: the terms are independent, so extraction adds each
/// one as it lays the word down (with `idx` a constant there, the seed and
/// multiplier are immediates), and there is no second pass over the key.
/// The map needs no term of its own: each word's term depends on its index.
#[inline(always)]
pub fn key_word_hash(idx: usize, w: u64) -> u64 {
    let (s, m) = WORD_CONSTS[idx];
    fold_mul(w ^ s, m)
}

/// The (seed, multiplier) of word index `idx`'s hash term, for callers
/// that precompute them ([`word_hash_with`]).
#[inline]
pub fn word_hash_consts(idx: usize) -> (u64, u64) {
    WORD_CONSTS[idx]
}

/// [`key_word_hash`] with the constants given.
#[inline(always)]
pub fn word_hash_with(c: (u64, u64), w: u64) -> u64 {
    fold_mul(w ^ c.0, c.1)
}

/// Sequential mixing for the few places that hash outside a key walk.
#[inline(always)]
pub fn hash_add(h: u64, w: u64) -> u64 {
    fold_mul(h ^ w, K1).rotate_left(23)
}

#[inline(always)]
pub fn hash_finish(h: u64) -> u32 {
    let h = fold_mul(h, K2);
    (h ^ (h >> 32)) as u32
}

impl FlowKey {
    /// Starts filling `self` in place (no allocation, no zeroing).
    #[inline(always)]
    pub fn builder(&mut self) -> KeyBuilder<'_> {
        KeyBuilder {
            key: self,
            map: 0,
            len: 0,
            hash: 0,
            tcp_flags: 0,
        }
    }

    #[inline]
    pub fn map(&self) -> u64 {
        self.map
    }
    #[inline]
    pub fn hash(&self) -> u32 {
        self.hash
    }
    /// How many words are present.
    #[inline]
    pub fn n_words(&self) -> usize {
        self.len as usize
    }
    /// The present words, in index order.
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words[..self.len as usize]
    }
    /// Word `idx` (zero when absent).
    #[inline]
    pub fn word(&self, idx: usize) -> u64 {
        KeyWords::word(self, idx)
    }
    #[inline]
    fn word_at(&self, idx: usize) -> u64 {
        let bit = 1u64 << idx;
        if self.map & bit == 0 {
            return 0;
        }
        self.words[(self.map & (bit - 1)).count_ones() as usize]
    }
    /// TCP flags (zero without an L4 word), recorded by the builder.
    #[inline(always)]
    pub fn tcp_flags(&self) -> u16 {
        self.tcp_flags
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
        let mut h = 0u64;
        for (i, w) in self.iter() {
            h = h.wrapping_add(key_word_hash(i, w));
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
    /// Expands into `out`, which holds (only) the words of a key whose map
    /// was `prev_map`: clears just those words instead of all of them. Returns
    /// the map to pass next time.
    #[inline]
    pub fn expand_over(&self, out: &mut Flow, prev_map: u64) -> u64 {
        for i in MapIter(prev_map & !self.map) {
            out.0[i] = 0;
        }
        for (i, w) in self.iter() {
            out.0[i] = w;
        }
        self.map
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
        mask.iter()
            .all(|(i, m)| self.word(i) & m == key.word(i) & m)
    }
}

/// Anything that can say what word `idx` of a key is (zero when absent).
pub trait KeyWords {
    fn word(&self, idx: usize) -> u64;
}

impl KeyWords for FlowKey {
    #[inline]
    fn word(&self, idx: usize) -> u64 {
        self.word_at(idx)
    }
}

/// Appends words in increasing index order; zero words are skipped.
/// Map, length and hash live in locals (registers) until `finish`; each
/// word's hash term is added as it is laid down.
pub struct KeyBuilder<'a> {
    key: &'a mut FlowKey,
    map: u64,
    len: usize,
    hash: u64,
    tcp_flags: u16,
}

/// The TCP_FLAGS field of word `idx`'s value `w`, if `idx` is the L4 word
/// (a constant test where `idx` is a constant).
#[inline(always)]
fn flags_of(idx: usize, w: u64) -> Option<u16> {
    use super::layout::{TCP_FLAGS, W_TP};
    (idx == W_TP).then_some(((w & TCP_FLAGS.word_mask()) >> TCP_FLAGS.shift) as u16)
}

impl KeyBuilder<'_> {
    /// Appends word `idx`. Indices must be pushed in increasing order, each
    /// at most once (extraction follows the layout order), so the length
    /// never exceeds `idx`: writing at `min(len, idx)` is the same slot and
    /// needs no bounds check when `idx` is a constant.
    #[inline(always)]
    pub fn push(&mut self, idx: usize, w: u64) {
        debug_assert!(self.map >> idx == 0, "word {idx} pushed out of order");
        if w != 0 {
            self.push_nonzero(idx, w);
        }
    }
    /// [`KeyBuilder::push`] of a word the caller knows is not zero.
    #[inline(always)]
    pub fn push_nonzero(&mut self, idx: usize, w: u64) {
        debug_assert!(w != 0 && self.map >> idx == 0);
        self.key.words[self.len.min(idx)] = w;
        self.map |= 1u64 << idx;
        self.len += 1;
        self.hash = self.hash.wrapping_add(key_word_hash(idx, w));
        if let Some(f) = flags_of(idx, w) {
            self.tcp_flags = f;
        }
    }
    /// Finishes the key: stores map, length and hash.
    #[inline(always)]
    pub fn finish(self) {
        self.key.map = self.map;
        self.key.len = self.len as u8;
        self.key.tcp_flags = self.tcp_flags;
        self.key.hash = hash_finish(self.hash);
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
    /// Byte `i` (below [`TUN_GNV_OPT_BYTES`]) of the raw Geneve options.
    #[inline]
    pub fn geneve_byte(&self, i: usize) -> u8 {
        (self.0[W_TUN_GNV_OPTS + i / 8] >> (56 - 8 * (i % 8))) as u8
    }
    /// Sets byte `i` of the raw Geneve options.
    #[inline]
    pub fn set_geneve_byte(&mut self, i: usize, b: u8) {
        let sh = 56 - 8 * (i % 8);
        let w = &mut self.0[W_TUN_GNV_OPTS + i / 8];
        *w = (*w & !(0xff << sh)) | (b as u64) << sh;
    }
    /// The raw Geneve options (as many bytes as `TUN_GNV_LEN` says, at
    /// most [`TUN_GNV_OPT_BYTES`]) copied into `buf`; returns their length.
    pub fn geneve_opts(&self, buf: &mut [u8; TUN_GNV_OPT_BYTES]) -> usize {
        let n = (self.get(TUN_GNV_LEN) as usize).min(TUN_GNV_OPT_BYTES);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = self.geneve_byte(i);
        }
        n
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
        // Re-expanding a different key over it leaves no stale words.
        let mut g = Flow::default();
        g.set(DL_SRC, 0x0200_0000_0001);
        g.set(TP_SRC, 7);
        let prev = k.map();
        let m = g.to_key().expand_over(&mut back, prev);
        assert_eq!(back, g);
        assert_eq!(m, g.to_key().map());
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
