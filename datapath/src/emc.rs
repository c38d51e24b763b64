//! Exact-match cache (EMC): the first lookup a packet gets, per PMD.
//!
//! A fixed array of entries (8192 by default, a power of two), each a full
//! compact key plus a handle to a megaflow slot and the slot's generation.
//! A key may live in two places, picked by two 13-bit slices of its hash
//! (like OVS's two segments); a lookup compares the hash, then the map and
//! words. Insertion is probabilistic: with `insert_inv_prob` = N, one miss
//! in N inserts (OVS's `emc-insert-inv-prob`; 0 disables the cache, 1
//! inserts always), so a flood of new flows does not thrash it. An entry
//! whose megaflow was removed is detected by the generation check and
//! treated as empty, so removals never have to scan the cache.

use crate::flow::FlowKey;
use crate::random::Rng;

pub const EMC_DEFAULT_ENTRIES: usize = 8192;
pub const EMC_DEFAULT_INSERT_INV_PROB: u32 = 100;

/// `repr(C)`: generation, slot, and the key's map and hash share the
/// first cache line of the entry; entries start on a cache line, so a key
/// of up to 5 words is compared within that one line, and one of up to 13
/// within two.
#[derive(Clone, Default)]
#[repr(C, align(64))]
struct EmcEntry {
    /// Megaflow slot handle and its generation; gen 0 = empty.
    gen: u32,
    slot: u32,
    key: FlowKey,
}

pub struct Emc {
    entries: Box<[EmcEntry]>,
    mask: usize,
    shift: u32,
    insert_inv_prob: u32,
}

impl Emc {
    /// A cache of `entries` (rounded up to a power of two, at least 2).
    pub fn new(entries: usize, insert_inv_prob: u32) -> Emc {
        let n = entries.max(2).next_power_of_two();
        Emc {
            entries: vec![EmcEntry::default(); n].into_boxed_slice(),
            mask: n - 1,
            shift: n.trailing_zeros(),
            insert_inv_prob,
        }
    }

    pub fn set_insert_inv_prob(&mut self, p: u32) {
        self.insert_inv_prob = p;
    }
    pub fn insert_inv_prob(&self) -> u32 {
        self.insert_inv_prob
    }
    pub fn enabled(&self) -> bool {
        self.insert_inv_prob != 0
    }

    #[inline(always)]
    fn idx(&self, hash: u32, seg: u32) -> usize {
        ((hash >> (seg * self.shift)) as usize) & self.mask
    }

    /// Looks a key up; `alive(slot, gen)` says whether the megaflow slot
    /// still holds that generation. Returns the slot handle on a hit.
    #[inline(always)]
    pub fn lookup(&self, key: &FlowKey, alive: impl Fn(u32, u32) -> bool) -> Option<u32> {
        let h = key.hash();
        // The two candidates, unrolled; the hash check rejects most
        // mismatches before the key compare.
        let hit = |e: &EmcEntry| e.gen != 0 && e.key.hash() == h && e.key == *key;
        if let Some(e) = self.entries.get(self.idx(h, 0)) {
            if hit(e) && alive(e.slot, e.gen) {
                return Some(e.slot);
            }
        }
        if let Some(e) = self.entries.get(self.idx(h, 1)) {
            if hit(e) && alive(e.slot, e.gen) {
                return Some(e.slot);
            }
        }
        None
    }

    /// Hints the CPU to fetch the entries `key` may live in (called for a
    /// whole batch before the lookups, so the misses overlap).
    /// `words` is the key's length: a key of more than 5 words ends in the
    /// entry's second cache line, which is fetched too.
    #[inline(always)]
    pub fn prefetch(&self, hash: u32, words: usize) {
        for seg in 0..2 {
            if let Some(e) = self.entries.get(self.idx(hash, seg)) {
                let p = e as *const EmcEntry as *const i8;
                prefetch_read(p);
                if words > 5 {
                    prefetch_read(p.wrapping_add(64));
                }
            }
        }
    }

    /// Maybe inserts (per the insertion probability).
    #[inline]
    pub fn probabilistic_insert(&mut self, key: &FlowKey, slot: u32, gen: u32, rng: &mut Rng) {
        match self.insert_inv_prob {
            0 => {}
            1 => self.insert(key, slot, gen),
            n => {
                if rng.next_u32().is_multiple_of(n) {
                    self.insert(key, slot, gen)
                }
            }
        }
    }

    /// Inserts: replaces the same key if present, else an empty candidate,
    /// else the candidate with the smaller hash (an arbitrary but cheap
    /// choice).
    pub fn insert(&mut self, key: &FlowKey, slot: u32, gen: u32) {
        let h = key.hash();
        let (a, b) = (self.idx(h, 0), self.idx(h, 1));
        let pick = {
            let (ea, eb) = (&self.entries[a], &self.entries[b]);
            if ea.gen != 0 && ea.key == *key {
                a
            } else if eb.gen != 0 && eb.key == *key {
                b
            } else if ea.gen == 0 {
                a
            } else if eb.gen == 0 {
                b
            } else if ea.key.hash() <= eb.key.hash() {
                a
            } else {
                b
            }
        };
        let e = &mut self.entries[pick];
        e.key.clone_from(key);
        e.slot = slot;
        e.gen = gen;
    }

    /// Empties the cache.
    pub fn clear(&mut self) {
        for e in self.entries.iter_mut() {
            e.gen = 0;
        }
    }

    pub fn capacity(&self) -> usize {
        self.entries.len()
    }
    /// Number of occupied entries (a scan; for tests and stats).
    pub fn occupied(&self) -> usize {
        self.entries.iter().filter(|e| e.gen != 0).count()
    }
}

/// A read prefetch hint for the cache line holding `p` (any address).
#[inline(always)]
// A prefetch reads nothing: any pointer, even dangling, is fine.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn prefetch_read(p: *const i8) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: a prefetch is only a hint; it never faults and has no
        // architectural effect, whatever the address.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
