//! The lookup's compact view of each subtable, in descending max-priority
//! order: what the search reads before deciding whether to open the
//! subtable at all.
//!
//! A lookup that misses walks every subtable; reading each one's full
//! struct and index is a cache miss per subtable at random addresses. The
//! `Hot` records are contiguous and walked in order, so the prefetcher
//! streams them. Each holds the subtable's maximum priority (for the early
//! stop) and, when its first hash probe covers at most `PRE_MAX` words and
//! no prefix trie is checked before it, those (word, mask) pairs and a
//! 256-bit filter of the first-probe keys of its rules: a clear bit proves
//! the probe would miss, with exactly the megaflow bits the probe would
//! have set. Filter bits are never cleared on removal; a stale bit only
//! costs a real probe.

use super::hash::{finish, mix, BASIS};
use super::prefix::TrieField;
use super::subtable::Subtable;
use crate::flow::OfFlow;

const PRE_MAX: usize = 3;

#[derive(Clone, Debug)]
pub(crate) struct Hot {
    pub(crate) max_priority: u32,
    pub(crate) id: u32,
    /// Fast rejection possible.
    fast: bool,
    n_pre: u8,
    pre: [(u8, u64); PRE_MAX],
    filter: [u64; 4],
}

impl Hot {
    pub(crate) fn new(id: u32, st: &Subtable, tries: &[TrieField]) -> Hot {
        let mut h = Hot {
            max_priority: st.max_priority,
            id,
            fast: false,
            n_pre: 0,
            pre: [(0, 0); PRE_MAX],
            filter: [0; 4],
        };
        h.refresh(st, tries);
        h
    }

    /// Recomputes the fast path after the subtable's trie setup changed.
    pub(crate) fn refresh(&mut self, st: &Subtable, tries: &[TrieField]) {
        let fp = st.first_probe();
        let n = st.stage_end[fp] as usize;
        let trie_first = tries
            .iter()
            .enumerate()
            .any(|(t, tf)| st.trie_plen[t] > 0 && tf.stage <= fp);
        self.fast = n <= PRE_MAX && !trie_first;
        self.n_pre = n.min(PRE_MAX) as u8;
        self.pre = [(0, 0); PRE_MAX];
        for (d, s) in self.pre.iter_mut().zip(st.words.iter()) {
            *d = *s;
        }
    }

    /// Records the first-probe key of a new rule.
    pub(crate) fn add_key(&mut self, k: u64) {
        self.filter[(k >> 62) as usize] |= 1 << (k >> 56 & 63);
    }

    /// True if the subtable certainly has no match for `flow`; then the
    /// bits of its first probe are in `wc`.
    #[inline]
    pub(crate) fn rejects(&self, flow: &OfFlow, wc: Option<&mut OfFlow>) -> bool {
        if !self.fast {
            return false;
        }
        let pre = &self.pre[..self.n_pre as usize];
        let mut h = BASIS;
        for &(w, m) in pre {
            h = mix(h, flow.0[w as usize] & m);
        }
        let k = finish(h);
        if self.filter[(k >> 62) as usize] >> (k >> 56 & 63) & 1 == 1 {
            return false;
        }
        if let Some(wc) = wc {
            for &(w, m) in pre {
                wc.0[w as usize] |= m;
            }
        }
        true
    }
}
