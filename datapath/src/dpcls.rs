//! The megaflow classifier ("dpcls"): one hash table per distinct mask.
//!
//! A [`Subtable`] holds every megaflow with one mask. Looking a packet up in
//! it means: AND the packet's words with the mask's words (only the words
//! the mask has), hash those, and probe one chained hash table whose keys
//! are stored back to back in one `Vec<u64>` (fixed stride per subtable, so
//! no allocation per entry and compares walk contiguous memory). Packets
//! arrive in dense form ([`Flow`]), so a masked word is a single load.
//!
//! Megaflows do not overlap (the slow path guarantees it), so the first
//! subtable that matches gives the answer. Subtables are kept sorted by
//! recent hits ([`Dpcls::rank`], called periodically by the PMD), so the
//! common masks are tried first. A batch lookup walks the subtables once,
//! probing every packet still unmatched, and stops as soon as all matched.
//!
//! Emptied subtables (flush, last flow removed) are kept for reuse with
//! the capacity of their vectors, so refilling a classifier after a flush
//! neither reallocates nor copies its tables while they grow back.
//!
//! Values are `u32` handles (the PMD's flow slots). Single-threaded: each
//! PMD owns its classifiers.

use crate::flow::key::{hash_finish, word_hash_consts, word_hash_with};
use crate::flow::{Flow, FlowKey, KeyWords, MapIter};

const NIL: u32 = u32::MAX;
/// Buckets of a new (or reset) subtable.
const MIN_BUCKETS: usize = 16;
/// Emptied subtables a classifier keeps for reuse (their vectors keep
/// their capacity, so refilling after a flush allocates nothing).
const MAX_SPARE: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u32,
    next: u32,
    /// NIL when the slot is free.
    value: u32,
}

/// Word-slice equality without a memcmp call (keys are a few words).
#[inline(always)]
fn words_eq(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u64, |d, (x, y)| d | (x ^ y)) == 0
}

/// One word a subtable looks at: where it is in a dense flow, its mask,
/// and the hash term constants of its position (so that hashing a packet
/// reads one array front to back).
#[derive(Debug, Clone, Copy)]
struct MaskWord {
    idx: usize,
    mask: u64,
    /// Hash term constants of position `k` (this word's place in the mask).
    hc: (u64, u64),
}

/// All megaflows sharing one mask.
#[derive(Debug)]
pub struct Subtable {
    mask: FlowKey,
    /// The words the mask covers, in index order.
    mwords: Box<[MaskWord]>,
    buckets: Vec<u32>,
    entries: Vec<Entry>,
    keys: Vec<u64>,
    free: Vec<u32>,
    count: usize,
    hits: u64,
}

fn mask_words(mask: &FlowKey) -> Box<[MaskWord]> {
    MapIter(mask.map())
        .zip(mask.words())
        .enumerate()
        .map(|(k, (idx, &mask))| MaskWord {
            idx,
            mask,
            hc: word_hash_consts(k),
        })
        .collect()
}

impl Subtable {
    fn new(mask: &FlowKey) -> Subtable {
        Subtable {
            mask: mask.clone(),
            mwords: mask_words(mask),
            buckets: vec![NIL; MIN_BUCKETS],
            entries: Vec::new(),
            keys: Vec::new(),
            free: Vec::new(),
            count: 0,
            hits: 0,
        }
    }

    /// Empties the subtable and gives it `mask`, keeping the capacity of
    /// its vectors (a refill after a flush does not grow them again). The
    /// bucket array restarts small (a few flows stay in a few cache lines).
    fn reset(&mut self, mask: &FlowKey) {
        if self.mask != *mask {
            self.mask = mask.clone();
            self.mwords = mask_words(mask);
        }
        self.buckets.clear();
        self.buckets.resize(MIN_BUCKETS, NIL);
        self.entries.clear();
        self.keys.clear();
        self.free.clear();
        self.count = 0;
        self.hits = 0;
    }

    pub fn mask(&self) -> &FlowKey {
        &self.mask
    }
    /// Whether this subtable's mask is `mask`: the keys' stored hashes
    /// first, so looking a mask up among many subtables compares one word
    /// per subtable, not whole masks.
    #[inline]
    fn has_mask(&self, mask: &FlowKey) -> bool {
        self.mask.hash() == mask.hash() && self.mask == *mask
    }
    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    #[inline(always)]
    fn n(&self) -> usize {
        self.mwords.len()
    }

    /// Masked hash of a dense packet flow. A subtable's words have the
    /// same hash terms as a key made of them (position `k`), so the rule
    /// side below hashes alike.
    #[inline(always)]
    fn hash_flow(&self, f: &Flow) -> u32 {
        let mut h = 0u64;
        for mw in self.mwords.iter() {
            let w = f.0[mw.idx] & mw.mask;
            h = h.wrapping_add(word_hash_with(mw.hc, w));
        }
        hash_finish(h)
    }

    /// Masked words of a masked key (the rule side), in mask order.
    fn rule_words<K: KeyWords + ?Sized>(&self, key: &K, out: &mut Vec<u64>) -> u32 {
        out.clear();
        let mut h = 0u64;
        for mw in self.mwords.iter() {
            let w = key.word(mw.idx) & mw.mask;
            out.push(w);
            h = h.wrapping_add(word_hash_with(mw.hc, w));
        }
        hash_finish(h)
    }

    #[inline(always)]
    fn find(&self, hash: u32, words: &[u64]) -> Option<usize> {
        let n = self.n();
        let mut e = self.buckets[hash as usize & (self.buckets.len() - 1)];
        while e != NIL {
            let en = &self.entries[e as usize];
            if en.hash == hash && words_eq(&self.keys[e as usize * n..e as usize * n + n], words) {
                return Some(e as usize);
            }
            e = en.next;
        }
        None
    }

    /// Looks a dense packet flow up: hash, then walk the bucket's chain
    /// comparing the hash, then the stored words with the packet's words
    /// masked on the fly (no scratch copy).
    #[inline(always)]
    fn lookup(&self, f: &Flow) -> Option<u32> {
        self.probe(f, self.hash_flow(f))
    }

    /// [`Subtable::lookup`] with the packet's masked hash already known.
    #[inline(always)]
    fn probe(&self, f: &Flow, h: u32) -> Option<u32> {
        let n = self.n();
        let mut e = self.buckets[h as usize & (self.buckets.len() - 1)];
        while e != NIL {
            let en = &self.entries[e as usize];
            if en.hash == h {
                let stored = &self.keys[e as usize * n..e as usize * n + n];
                let diff = stored
                    .iter()
                    .zip(self.mwords.iter())
                    .fold(0u64, |d, (&s, mw)| d | (s ^ (f.0[mw.idx] & mw.mask)));
                if diff == 0 {
                    return Some(en.value);
                }
            }
            e = en.next;
        }
        None
    }

    fn grow(&mut self) {
        let nb = self.buckets.len() * 2;
        if self.buckets.capacity() >= nb {
            // Kept from before a reset: no allocation.
            self.buckets.clear();
            self.buckets.resize(nb, NIL);
        } else {
            self.buckets = vec![NIL; nb];
        }
        for i in 0..self.entries.len() {
            if self.entries[i].value == NIL {
                continue;
            }
            let b = self.entries[i].hash as usize & (nb - 1);
            self.entries[i].next = self.buckets[b];
            self.buckets[b] = i as u32;
        }
    }

    fn insert(&mut self, hash: u32, words: &[u64], value: u32) -> Option<u32> {
        if let Some(e) = self.find(hash, words) {
            return Some(std::mem::replace(&mut self.entries[e].value, value));
        }
        self.insert_new(hash, words, value);
        None
    }

    /// Inserts a rule known to be absent (no chain walk to look for it).
    fn insert_new(&mut self, hash: u32, words: &[u64], value: u32) {
        debug_assert!(self.find(hash, words).is_none(), "rule already present");
        if self.count + 1 > self.buckets.len() {
            self.grow();
        }
        let n = self.n();
        let slot = match self.free.pop() {
            Some(s) => {
                self.keys[s as usize * n..s as usize * n + n].copy_from_slice(words);
                s
            }
            None => {
                self.entries.push(Entry {
                    hash,
                    next: NIL,
                    value,
                });
                // A few words: pushed one by one (no memcpy call).
                for &w in words {
                    self.keys.push(w);
                }
                (self.entries.len() - 1) as u32
            }
        };
        let b = hash as usize & (self.buckets.len() - 1);
        self.entries[slot as usize] = Entry {
            hash,
            next: self.buckets[b],
            value,
        };
        self.buckets[b] = slot;
        self.count += 1;
    }

    fn remove(&mut self, hash: u32, words: &[u64]) -> Option<u32> {
        let e = self.find(hash, words)? as u32;
        let b = hash as usize & (self.buckets.len() - 1);
        let next = self.entries[e as usize].next;
        if self.buckets[b] == e {
            self.buckets[b] = next;
        } else {
            let mut p = self.buckets[b];
            while self.entries[p as usize].next != e {
                p = self.entries[p as usize].next;
            }
            self.entries[p as usize].next = next;
        }
        let v = std::mem::replace(&mut self.entries[e as usize].value, NIL);
        self.free.push(e);
        self.count -= 1;
        Some(v)
    }
}

/// A classifier: subtables ranked by hits.
#[derive(Debug, Default)]
pub struct Dpcls {
    subtables: Vec<Subtable>,
    /// Emptied subtables kept for reuse (at most [`MAX_SPARE`]).
    spare: Vec<Subtable>,
    scratch: Vec<u64>,
}

impl Dpcls {
    pub fn new() -> Dpcls {
        Dpcls::default()
    }
    /// Number of megaflows.
    pub fn len(&self) -> usize {
        self.subtables.iter().map(|s| s.count).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn n_subtables(&self) -> usize {
        self.subtables.len()
    }
    pub fn subtables(&self) -> &[Subtable] {
        &self.subtables
    }

    /// Inserts `key` (already masked) under `mask`; returns the old value
    /// if that exact megaflow was present (it is replaced).
    pub fn insert<K: KeyWords + ?Sized>(
        &mut self,
        key: &K,
        mask: &FlowKey,
        value: u32,
    ) -> Option<u32> {
        assert_ne!(value, NIL, "reserved handle");
        let pos = self.subtable_for(mask);
        let mut w = std::mem::take(&mut self.scratch);
        let st = &mut self.subtables[pos];
        let h = st.rule_words(key, &mut w);
        let r = st.insert(h, &w, value);
        self.scratch = w;
        r
    }

    /// [`Dpcls::insert`] of the megaflow `flow & mask`, given the packet's
    /// dense flow (the miss path has it): the rule words and their hash
    /// come from the dense words with one load each, as a lookup does.
    pub fn insert_flow(&mut self, flow: &Flow, mask: &FlowKey, value: u32) -> Option<u32> {
        self.insert_flow_with(flow, mask, value, false)
    }

    /// [`Dpcls::insert_flow`] for a caller that knows the megaflow is
    /// absent: [`Dpcls::lookup_flow`] of `flow` just found nothing (a rule
    /// with this mask and these words would have matched it). The new
    /// rule is linked in without walking its bucket's chain first.
    pub fn insert_flow_absent(&mut self, flow: &Flow, mask: &FlowKey, value: u32) {
        self.insert_flow_with(flow, mask, value, true);
    }

    fn insert_flow_with(
        &mut self,
        flow: &Flow,
        mask: &FlowKey,
        value: u32,
        absent: bool,
    ) -> Option<u32> {
        assert_ne!(value, NIL, "reserved handle");
        let pos = self.subtable_for(mask);
        let mut w = std::mem::take(&mut self.scratch);
        let st = &mut self.subtables[pos];
        // Rule words and their hash in one pass (as `hash_flow` hashes).
        w.clear();
        let mut acc = 0u64;
        for mw in st.mwords.iter() {
            let x = flow.0[mw.idx] & mw.mask;
            w.push(x);
            acc = acc.wrapping_add(word_hash_with(mw.hc, x));
        }
        let h = hash_finish(acc);
        debug_assert_eq!(h, st.hash_flow(flow));
        let r = if absent {
            st.insert_new(h, &w, value);
            None
        } else {
            st.insert(h, &w, value)
        };
        self.scratch = w;
        r
    }

    /// The position of the subtable for `mask`, made (or taken from the
    /// spares) if there is none.
    fn subtable_for(&mut self, mask: &FlowKey) -> usize {
        match self.subtables.iter().position(|s| s.has_mask(mask)) {
            Some(p) => p,
            None => {
                let st = match self.spare.iter().position(|s| s.has_mask(mask)) {
                    Some(i) => self.spare.swap_remove(i),
                    None => match self.spare.pop() {
                        Some(s) => s,
                        None => Subtable::new(mask),
                    },
                };
                self.subtables.push(st);
                let pos = self.subtables.len() - 1;
                self.subtables[pos].reset(mask);
                pos
            }
        }
    }

    /// Removes a megaflow; empty subtables are dropped.
    pub fn remove<K: KeyWords + ?Sized>(&mut self, key: &K, mask: &FlowKey) -> Option<u32> {
        let pos = self.subtables.iter().position(|s| s.has_mask(mask))?;
        let mut w = std::mem::take(&mut self.scratch);
        let st = &mut self.subtables[pos];
        let h = st.rule_words(key, &mut w);
        let r = st.remove(h, &w);
        self.scratch = w;
        if self.subtables[pos].count == 0 {
            let st = self.subtables.remove(pos);
            self.keep_spare(st);
        }
        r
    }

    /// Removes every megaflow. The emptied subtables are kept (up to
    /// [`MAX_SPARE`]) with their capacity, for the masks that come next.
    pub fn clear(&mut self) {
        while let Some(st) = self.subtables.pop() {
            self.keep_spare(st);
        }
    }

    fn keep_spare(&mut self, st: Subtable) {
        if self.spare.len() < MAX_SPARE {
            self.spare.push(st);
        } else if let Some(small) = self.spare.iter_mut().min_by_key(|s| s.entries.capacity()) {
            // Keep the larger of the two (the one that saves more growth).
            if small.entries.capacity() < st.entries.capacity() {
                *small = st;
            }
        }
    }

    /// Looks one dense flow up.
    #[inline]
    pub fn lookup_flow(&mut self, f: &Flow) -> Option<u32> {
        for st in self.subtables.iter_mut() {
            if let Some(v) = st.lookup(f) {
                st.hits += 1;
                return Some(v);
            }
        }
        None
    }

    /// Looks a compact key up (expands it first).
    pub fn lookup(&mut self, key: &FlowKey) -> Option<u32> {
        let mut f = Flow::default();
        key.expand(&mut f);
        self.lookup_flow(&f)
    }

    /// Batch lookup: for each bit `i` set in `todo`, looks `flows[i]` up and
    /// writes `out[i]`. Returns the bits of the packets that missed.
    #[inline]
    pub fn lookup_batch(&mut self, flows: &[Flow], todo: u32, out: &mut [u32]) -> u32 {
        let mut left = todo;
        for st in self.subtables.iter_mut() {
            if left == 0 {
                break;
            }
            // Two passes: hash every packet still unmatched (independent
            // multiplies, no branches to mispredict), then probe.
            let mut hashes = [0u32; 32];
            let mut bits = left;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let (Some(f), Some(h)) = (flows.get(i), hashes.get_mut(i)) {
                    *h = st.hash_flow(f);
                }
            }
            let mut bits = left;
            let mut hits = 0u64;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let (Some(f), Some(o), Some(&h)) = (flows.get(i), out.get_mut(i), hashes.get(i))
                {
                    if let Some(v) = st.probe(f, h) {
                        *o = v;
                        left &= !(1 << i);
                        hits += 1;
                    }
                }
            }
            st.hits += hits;
        }
        left
    }

    /// Re-sorts subtables by hits since the last call (most first) and
    /// clears the counters.
    pub fn rank(&mut self) {
        self.subtables.sort_by_key(|s| std::cmp::Reverse(s.hits));
        for s in self.subtables.iter_mut() {
            s.hits = 0;
        }
    }

    /// Every (masked key words are not kept; handles only) value stored.
    pub fn values(&self) -> impl Iterator<Item = u32> + '_ {
        self.subtables
            .iter()
            .flat_map(|s| s.entries.iter().filter(|e| e.value != NIL).map(|e| e.value))
    }
}
