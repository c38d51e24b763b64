//! One subtable of the tuple space: every rule whose mask is exactly
//! `mask`, hashed by masked value.
//!
//! The mask is flattened into (word, bit mask) pairs grouped by lookup
//! stage. Hashing folds the packet's masked words in that order; the
//! running hash at the end of each stage before the last is looked up in
//! that stage's index (a count of rules per partial hash), so a miss is
//! found as early as possible and only the stages seen so far enter the
//! megaflow. The full hash selects a bucket: a chain of rule slots (in the
//! classifier's slab) sorted by descending priority, so the first rule in
//! a bucket whose value matches is the subtable's best. Different values
//! that share a 64-bit hash also share a chain; values are compared.
//!
//! The mask is stored once, here: a rule keeps only its *row*, the masked
//! value of each (word, bits) pair in `words` order, in this subtable's
//! `rows` arena (a fixed stride per subtable, freed rows reused). A rule
//! matching `ip,nw_dst=a.b.c.d` costs two words instead of a full value
//! and mask of the flow.
//!
//! When the last stage is the transport ports alone, the subtable also
//! keeps a trie of its rules' ports (`tp_src` then `tp_dst`, as one
//! 32-bit value, OVS's "ports trie"): a packet that reaches the last stage
//! and matches no rule un-wildcards only the leading port bits that tell
//! it apart from every rule's ports, not the whole ports mask (so a
//! `tp_dst=80` table gives `tp_dst=443/0xff00`-style megaflows as OVS's).

use std::collections::{BTreeMap, HashMap};

use super::hash::{finish, mix, PassThroughBuild, BASIS};
use super::prefix::TrieField;
use super::stage::{stage_masks, N_STAGES};
use super::trie::PrefixTrie;
use super::MAX_TRIES;
use crate::flow::{OfFlow, OF_WORDS};
use ferrovs_datapath::flow::layout as dp;

/// Most (word, bits) pairs a mask flattens into: every word once, plus
/// the words split between two stages.
pub(crate) const MAX_PAIRS: usize = OF_WORDS + N_STAGES;

pub(crate) struct Subtable {
    pub(crate) mask: OfFlow,
    /// Nonzero (word, bits) of the mask, in stage order.
    pub(crate) words: Box<[(u8, u64)]>,
    /// `words[..stage_end[s]]` are the pairs of stages `0..=s`.
    pub(crate) stage_end: [u8; N_STAGES],
    /// The last stage with bits: its hash is the bucket key.
    pub(crate) last: u8,
    /// Per stage before `last` that has bits: partial hash -> rules.
    pub(crate) indices: [HashMap<u64, u32, PassThroughBuild>; N_STAGES - 1],
    /// Full hash -> first rule slot of the chain.
    pub(crate) buckets: HashMap<u64, u32, PassThroughBuild>,
    /// Rules per priority (so the maximum survives removals).
    priorities: BTreeMap<u32, u32>,
    pub(crate) max_priority: u32,
    pub(crate) n_rules: u32,
    /// Per configured prefix trie: this mask's prefix length on its field
    /// (0: the field is wildcarded or not a CIDR mask; no trie check).
    pub(crate) trie_plen: [u8; MAX_TRIES],
    /// Per stage, the tries (bit `t` for trie `t`) that check it: those
    /// with a `trie_plen` whose field is in that stage. A lookup skips
    /// the trie checks of a stage at zero.
    pub(crate) trie_stages: [u8; N_STAGES],
    /// The ports trie (see the module comment) and the mask's prefix
    /// length on the 32 port bits; None unless the last stage is ports.
    pub(crate) ports: Option<(u32, PrefixTrie)>,
    /// The rows of the rules, `words.len()` words each.
    rows: Vec<u64>,
    free_rows: Vec<u32>,
    n_rows: u32,
}

/// A read view of a subtable's rows.
pub(crate) struct Rows<'a> {
    rows: &'a [u64],
    n: usize,
}

impl Rows<'_> {
    #[inline]
    pub(crate) fn row(&self, r: u32) -> &[u64] {
        &self.rows[r as usize * self.n..r as usize * self.n + self.n]
    }
}

impl Subtable {
    pub(crate) fn new(mask: OfFlow) -> Subtable {
        let stages = stage_masks();
        let mut words = Vec::new();
        let mut stage_end = [0u8; N_STAGES];
        let mut last = 0u8;
        for (s, sm) in stages.iter().enumerate() {
            for w in 0..OF_WORDS {
                let m = mask.0[w] & sm.0[w];
                if m != 0 {
                    words.push((w as u8, m));
                    last = s as u8;
                }
            }
            stage_end[s] = words.len() as u8;
        }
        let ports = ports_plen(&words, stage_end, last).map(|p| (p, PrefixTrie::default()));
        Subtable {
            mask,
            words: words.into_boxed_slice(),
            stage_end,
            last,
            indices: Default::default(),
            buckets: HashMap::default(),
            priorities: BTreeMap::new(),
            max_priority: 0,
            n_rules: 0,
            trie_plen: [0; MAX_TRIES],
            trie_stages: [0; N_STAGES],
            ports,
            rows: Vec::new(),
            free_rows: Vec::new(),
            n_rows: 0,
        }
    }

    /// Sets `trie_plen` and `trie_stages` for the classifier's `tries`.
    pub(crate) fn set_tries(&mut self, tries: &[TrieField]) {
        self.trie_plen = [0; MAX_TRIES];
        self.trie_stages = [0; N_STAGES];
        for (t, tf) in tries.iter().enumerate() {
            self.trie_plen[t] = tf.plen(&self.mask) as u8;
            if self.trie_plen[t] > 0 {
                self.trie_stages[tf.stage] |= 1 << t;
            }
        }
    }

    /// Row `r` of the arena.
    #[inline]
    pub(crate) fn row(&self, r: u32) -> &[u64] {
        let n = self.words.len();
        &self.rows[r as usize * n..r as usize * n + n]
    }

    /// Stores `row` (as built by [`Subtable::row_of`]); returns its index.
    pub(crate) fn alloc_row(&mut self, row: &[u64]) -> u32 {
        let n = self.words.len();
        let r = match self.free_rows.pop() {
            Some(r) => r,
            None => {
                self.n_rows += 1;
                self.rows.resize(self.n_rows as usize * n, 0);
                self.n_rows - 1
            }
        };
        self.rows[r as usize * n..r as usize * n + n].copy_from_slice(row);
        if let Some((plen, trie)) = &mut self.ports {
            trie.insert(ports_value(row[n - 1]), *plen);
        }
        r
    }

    /// The buckets, mutable, beside a read view of the rows.
    pub(crate) fn split(&mut self) -> (&mut HashMap<u64, u32, PassThroughBuild>, Rows<'_>) {
        (
            &mut self.buckets,
            Rows {
                rows: &self.rows,
                n: self.words.len(),
            },
        )
    }

    pub(crate) fn free_row(&mut self, r: u32) {
        let n = self.words.len();
        if let Some((plen, trie)) = &mut self.ports {
            trie.remove(ports_value(self.rows[r as usize * n + n - 1]), *plen);
        }
        self.free_rows.push(r);
    }

    /// The ports bits to un-wildcard for `flow`, which matches no rule of
    /// this subtable and agrees with some on every earlier stage: the
    /// ports mask cut to the leading bits that set the flow apart from
    /// every rule's ports. None without a ports trie.
    #[inline]
    pub(crate) fn ports_miss_bits(&self, flow: &OfFlow) -> Option<u64> {
        let (_, trie) = self.ports.as_ref()?;
        let &(w, m) = self.words.last()?;
        let (_, bits) = trie.lookup(ports_value(flow.0[w as usize] & m), 32);
        let keep = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits.min(32))
        };
        Some(m & word_of_ports(keep))
    }

    /// The row of value `v` under this mask, in `buf`.
    #[inline]
    pub(crate) fn row_of<'b>(&self, v: &OfFlow, buf: &'b mut [u64; MAX_PAIRS]) -> &'b [u64] {
        for (d, &(w, m)) in buf.iter_mut().zip(self.words.iter()) {
            *d = v.0[w as usize] & m;
        }
        &buf[..self.words.len()]
    }

    /// Word `w` of a rule's value, from its row.
    #[inline]
    pub(crate) fn value_word(&self, row: &[u64], w: usize) -> u64 {
        self.words
            .iter()
            .zip(row)
            .filter(|(p, _)| p.0 as usize == w)
            .fold(0, |a, (_, v)| a | v)
    }

    /// The rule's whole value (zero outside the mask).
    pub(crate) fn value_of(&self, row: &[u64]) -> OfFlow {
        let mut v = OfFlow::default();
        for (&(w, _), x) in self.words.iter().zip(row) {
            v.0[w as usize] |= x;
        }
        v
    }

    /// Start of stage `s` in `words`.
    #[inline]
    pub(crate) fn stage_start(&self, s: usize) -> usize {
        if s == 0 {
            0
        } else {
            self.stage_end[s - 1] as usize
        }
    }

    /// True if stage `s` is probed through an index.
    #[inline]
    pub(crate) fn has_index(&self, s: usize) -> bool {
        s < self.last as usize && self.stage_end[s] as usize > self.stage_start(s)
    }

    /// The stage of the first hash probe: the first indexed stage, else
    /// the last (the bucket table).
    pub(crate) fn first_probe(&self) -> usize {
        (0..self.last as usize)
            .find(|&s| self.has_index(s))
            .unwrap_or(self.last as usize)
    }

    /// The key of the first probe, from [`Subtable::hashes`]' results.
    pub(crate) fn first_key(&self, parts: &[u64; N_STAGES - 1], full: u64) -> u64 {
        let fp = self.first_probe();
        if fp == self.last as usize {
            full
        } else {
            parts[fp]
        }
    }

    /// The partial hashes (stages with an index) and the full hash of a
    /// row.
    pub(crate) fn hashes(&self, row: &[u64]) -> ([u64; N_STAGES - 1], u64) {
        let mut parts = [0u64; N_STAGES - 1];
        let mut h = BASIS;
        for s in 0..=self.last as usize {
            for &x in &row[self.stage_start(s)..self.stage_end[s] as usize] {
                h = mix(h, x);
            }
            if let (true, Some(p)) = (self.has_index(s), parts.get_mut(s)) {
                *p = finish(h);
            }
        }
        (parts, finish(h))
    }

    /// The full hash of a row (bucket key).
    pub(crate) fn full_hash(&self, row: &[u64]) -> u64 {
        finish(row.iter().fold(BASIS, |h, &x| mix(h, x)))
    }

    /// True if `flow` under this mask is the row.
    #[inline]
    pub(crate) fn same_masked(&self, flow: &OfFlow, row: &[u64]) -> bool {
        self.words
            .iter()
            .zip(row)
            .all(|(&(w, m), &x)| flow.0[w as usize] & m == x)
    }

    /// Sets in `wc` the mask bits of the first `n` (word, bits) pairs.
    #[inline]
    pub(crate) fn fold(&self, wc: &mut OfFlow, n: usize) {
        for &(w, m) in &self.words[..n] {
            wc.0[w as usize] |= m;
        }
    }

    /// Counts one more rule of `priority`; true if the maximum changed.
    pub(crate) fn add_priority(&mut self, priority: u32) -> bool {
        *self.priorities.entry(priority).or_insert(0) += 1;
        self.n_rules += 1;
        if self.n_rules == 1 || priority > self.max_priority {
            self.max_priority = priority;
            return true;
        }
        false
    }

    /// Counts one rule fewer of `priority`; true if the maximum changed.
    pub(crate) fn remove_priority(&mut self, priority: u32) -> bool {
        if let Some(n) = self.priorities.get_mut(&priority) {
            *n -= 1;
            if *n == 0 {
                self.priorities.remove(&priority);
            }
        }
        self.n_rules -= 1;
        let max = self.priorities.keys().next_back().copied().unwrap_or(0);
        let changed = max != self.max_priority;
        self.max_priority = max;
        changed
    }

    pub(crate) fn has_priority(&self, priority: u32) -> bool {
        self.priorities.contains_key(&priority)
    }

    /// Approximate heap bytes (tables at capacity).
    pub(crate) fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(u64, u32)>() + 1;
        let idx: usize = self.indices.iter().map(|i| i.capacity() * slot).sum();
        self.words.len() * 16
            + self.rows.capacity() * 8
            + self.free_rows.capacity() * 4
            + idx
            + self.buckets.capacity() * slot
            + self.priorities.len() * 48
            + std::mem::size_of::<Subtable>()
    }
}

/// The transport ports of word `W_TP` as OVS's 32-bit ports value
/// (`tp_src` in the high half), left-aligned for a [`PrefixTrie`].
#[inline]
fn ports_value(w: u64) -> u128 {
    let v = (dp::TP_SRC.word_mask() & w) >> dp::TP_SRC.shift << 16
        | (dp::TP_DST.word_mask() & w) >> dp::TP_DST.shift;
    (v as u128) << 96
}

/// A 32-bit ports value back in word `W_TP`'s positions.
#[inline]
fn word_of_ports(v: u32) -> u64 {
    dp::TP_SRC.place((v >> 16) as u64) | dp::TP_DST.place((v & 0xffff) as u64)
}

/// The ports mask's prefix length when the last stage is `W_TP`'s port
/// bits alone (the only case where a miss is decided by the ports).
fn ports_plen(words: &[(u8, u64)], stage_end: [u8; N_STAGES], last: u8) -> Option<u32> {
    if last as usize != N_STAGES - 1 {
        return None;
    }
    let start = stage_end[last as usize - 1] as usize;
    let ports = dp::TP_SRC.word_mask() | dp::TP_DST.word_mask();
    match words[start..] {
        [(w, m)] if w as usize == dp::W_TP && m & !ports == 0 => {
            let v = (ports_value(m) >> 96) as u32;
            Some(32 - v.trailing_zeros())
        }
        _ => None,
    }
}
