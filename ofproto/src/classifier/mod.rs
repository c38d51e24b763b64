//! The flow table classifier: rules of (match, priority) -> value, looked
//! up by packet for the highest-priority rule that matches.
//!
//! API contract (what ofproto relies on):
//! - a rule is identified by its canonical [`OfMatch`] and its priority;
//!   `insert` of an identical (match, priority) replaces and returns the
//!   old value;
//! - `lookup` returns the highest-priority matching rule and, when given
//!   wildcards, sets in them every bit the search examined (so that a
//!   megaflow built from those wildcards can never match a packet that
//!   the table would treat differently);
//! - `covered_by` lists the rules a loose modify/delete reaches;
//! - iteration order is unspecified.
//!
//! Inside: tuple space search. Rules live in one slab; each distinct mask
//! has a [`Subtable`](subtable) hashing its rules by masked value (so
//! insert, remove and strict get are one hash probe). Subtables are kept
//! in descending order of their highest priority; a lookup visits them in
//! that order and stops as soon as no remaining subtable can beat the best
//! rule found. Within a subtable, the lookup is staged (metadata, L2, L3,
//! L4: a miss at an early stage keeps the later stages out of the
//! megaflow) and, for the configured address fields, a prefix trie lets
//! it skip subtables whose prefix length cannot match while un-wildcarding
//! only the address bits that decided it.

mod hash;
mod hot;
mod prefix;
mod slab;
mod stage;
mod subtable;
mod trie;

pub use prefix::{prefix_fields_from_names, PrefixError, DEFAULT_PREFIX_FIELDS, MAX_TRIES};

use std::collections::HashMap;

use ferrovs_openflow::Field;

use self::hash::WordBuild;
use self::hot::Hot;
use self::prefix::TrieField;
use self::slab::Slab;
use self::subtable::Subtable;
use self::trie::Plens;
use super::flow::{OfFlow, OfMatch};

/// One rule's key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ClsKey {
    pub r#match: OfMatch,
    pub priority: u32,
}

const NIL: u32 = u32::MAX;

struct Rule<T> {
    key: ClsKey,
    value: T,
    /// Next slot of the same bucket (lower or equal priority), or `NIL`.
    next: u32,
}

/// A classifier holding values of type `T` (ofproto holds `Arc<Rule>`).
pub struct Classifier<T> {
    rules: Slab<Rule<T>>,
    subtables: Vec<Option<Subtable>>,
    free_subtables: Vec<u32>,
    by_mask: HashMap<OfFlow, u32, WordBuild>,
    /// Live subtables by descending `max_priority`.
    order: Vec<Hot>,
    tries: Vec<TrieField>,
    n_rules: usize,
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        let mut c = Classifier {
            rules: Slab::default(),
            subtables: Vec::new(),
            free_subtables: Vec::new(),
            by_mask: HashMap::default(),
            order: Vec::new(),
            tries: Vec::new(),
            n_rules: 0,
        };
        c.set_prefix_fields(&DEFAULT_PREFIX_FIELDS)
            .expect("default prefix fields are valid");
        c
    }
}

/// Per-lookup cache of the trie answers.
type TrieCtx = [Option<(Plens, u32)>; MAX_TRIES];

/// True if every bit of `a` is in `b`.
fn mask_subset(a: &OfFlow, b: &OfFlow) -> bool {
    a.0.iter().zip(b.0.iter()).all(|(a, b)| a & !b == 0)
}

impl<T> Classifier<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.n_rules
    }

    pub fn is_empty(&self) -> bool {
        self.n_rules == 0
    }

    /// Sets the fields used for prefix tracking (OVS `Flow_Table:prefixes`;
    /// empty for none). Rebuilds the tries from the current rules.
    pub fn set_prefix_fields(&mut self, fields: &[Field]) -> Result<(), PrefixError> {
        if fields.len() > MAX_TRIES {
            return Err(PrefixError::TooMany);
        }
        let mut tries = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].contains(f) {
                return Err(PrefixError::Duplicate(f.name()));
            }
            tries.push(TrieField::new(*f)?);
        }
        self.tries = tries;
        for st in self.subtables.iter_mut().flatten() {
            st.trie_plen = [0; MAX_TRIES];
            for (t, tf) in self.tries.iter().enumerate() {
                st.trie_plen[t] = tf.plen(&st.mask) as u8;
            }
        }
        for h in self.order.iter_mut() {
            let st = self.subtables[h.id as usize].as_ref().expect("live");
            h.refresh(st, &self.tries);
        }
        for r in self.rules.iter() {
            let mask = &r.key.r#match.mask;
            for tf in self.tries.iter_mut() {
                let plen = tf.plen(mask);
                if plen > 0 {
                    tf.trie.insert(tf.value(&r.key.r#match.value), plen);
                }
            }
        }
        Ok(())
    }

    /// The fields used for prefix tracking.
    pub fn prefix_fields(&self) -> Vec<Field> {
        self.tries.iter().map(|t| t.field).collect()
    }

    /// Number of distinct masks (subtables).
    pub fn n_subtables(&self) -> usize {
        self.order.len()
    }

    fn st(&self, id: u32) -> &Subtable {
        self.subtables[id as usize]
            .as_ref()
            .expect("live subtable id")
    }

    fn rule(&self, slot: u32) -> &Rule<T> {
        self.rules.get(slot)
    }

    /// The slot of the rule (m, priority), with its predecessor in the chain.
    fn find(&self, m: &OfMatch, priority: u32) -> Option<(u32, u64, u32, u32)> {
        let id = *self.by_mask.get(&m.mask)?;
        let st = self.st(id);
        let hash = st.full_hash(&m.value);
        let mut prev = NIL;
        let mut cur = *st.buckets.get(&hash)?;
        while cur != NIL {
            let r = self.rule(cur);
            if r.key.priority == priority && r.key.r#match == *m {
                return Some((id, hash, prev, cur));
            }
            prev = cur;
            cur = r.next;
        }
        None
    }

    /// Position in `order` of subtable `id`, whose entry says `max`.
    fn hot_pos(&self, id: u32, max: u32) -> usize {
        let start = self.order.partition_point(|h| h.max_priority > max);
        start
            + self.order[start..]
                .iter()
                .position(|h| h.id == id)
                .expect("live subtable is in order")
    }

    /// Inserts `hot` at its place (after entries of equal priority).
    fn place_hot(&mut self, hot: Hot) {
        let at = self
            .order
            .partition_point(|h| h.max_priority >= hot.max_priority);
        self.order.insert(at, hot);
    }

    fn subtable_for(&mut self, mask: &OfFlow) -> u32 {
        if let Some(&id) = self.by_mask.get(mask) {
            return id;
        }
        let mut st = Subtable::new(*mask);
        for (t, tf) in self.tries.iter().enumerate() {
            st.trie_plen[t] = tf.plen(mask) as u8;
        }
        let id = match self.free_subtables.pop() {
            Some(id) => {
                self.subtables[id as usize] = Some(st);
                id
            }
            None => {
                self.subtables.push(Some(st));
                (self.subtables.len() - 1) as u32
            }
        };
        self.by_mask.insert(*mask, id);
        id
    }

    /// Inserts, replacing (and returning) the value of an identical rule.
    pub fn insert(&mut self, m: OfMatch, priority: u32, value: T) -> Option<T> {
        if let Some((_, _, _, slot)) = self.find(&m, priority) {
            let r = self.rules.get_mut(slot);
            return Some(std::mem::replace(&mut r.value, value));
        }
        let id = self.subtable_for(&m.mask);
        let (parts, hash) = self.st(id).hashes(&m.value);
        // Chain position: after every rule of higher or equal priority.
        let head = self.st(id).buckets.get(&hash).copied().unwrap_or(NIL);
        let mut prev = NIL;
        let mut cur = head;
        while cur != NIL && self.rule(cur).key.priority >= priority {
            prev = cur;
            cur = self.rule(cur).next;
        }
        let rule = Rule {
            key: ClsKey {
                r#match: m,
                priority,
            },
            value,
            next: cur,
        };
        let slot = self.rules.insert(rule);
        if prev == NIL {
            self.subtables[id as usize]
                .as_mut()
                .expect("live subtable")
                .buckets
                .insert(hash, slot);
        } else {
            self.rules.get_mut(prev).next = slot;
        }
        let st = self.subtables[id as usize].as_mut().expect("live subtable");
        for (s, part) in parts.iter().enumerate() {
            if st.has_index(s) {
                *st.indices[s].entry(*part).or_insert(0) += 1;
            }
        }
        let (was_empty, old_max) = (st.n_rules == 0, st.max_priority);
        let changed = st.add_priority(priority);
        let key = st.first_key(&parts, hash);
        let plens = st.trie_plen;
        if was_empty {
            let st = self.st(id);
            let mut hot = Hot::new(id, st, &self.tries);
            hot.add_key(key);
            self.place_hot(hot);
        } else {
            let p = self.hot_pos(id, old_max);
            if changed {
                let mut hot = self.order.remove(p);
                hot.max_priority = self.st(id).max_priority;
                hot.add_key(key);
                self.place_hot(hot);
            } else {
                self.order[p].add_key(key);
            }
        }
        for (t, tf) in self.tries.iter_mut().enumerate() {
            if plens[t] > 0 {
                tf.trie.insert(tf.value(&m.value), plens[t] as u32);
            }
        }
        self.n_rules += 1;
        None
    }

    /// Removes the rule with exactly this match and priority.
    pub fn remove(&mut self, m: &OfMatch, priority: u32) -> Option<T> {
        let (id, hash, prev, slot) = self.find(m, priority)?;
        let rule = self.rules.remove(slot);
        self.n_rules -= 1;
        let (parts, _) = self.st(id).hashes(&m.value);
        let st = self.subtables[id as usize].as_mut().expect("live subtable");
        if prev == NIL {
            if rule.next == NIL {
                st.buckets.remove(&hash);
            } else {
                st.buckets.insert(hash, rule.next);
            }
        } else {
            self.rules.get_mut(prev).next = rule.next;
        }
        for (s, part) in parts.iter().enumerate() {
            if st.has_index(s) {
                if let Some(n) = st.indices[s].get_mut(part) {
                    *n -= 1;
                    if *n == 0 {
                        st.indices[s].remove(part);
                    }
                }
            }
        }
        let old_max = st.max_priority;
        let changed = st.remove_priority(priority);
        let (new_max, empty) = (st.max_priority, st.n_rules == 0);
        let plens = st.trie_plen;
        if empty || changed {
            let p = self.hot_pos(id, old_max);
            let mut hot = self.order.remove(p);
            if !empty {
                hot.max_priority = new_max;
                self.place_hot(hot);
            }
        }
        if empty {
            self.subtables[id as usize] = None;
            self.free_subtables.push(id);
            self.by_mask.remove(&m.mask);
        }
        for (t, tf) in self.tries.iter_mut().enumerate() {
            if plens[t] > 0 {
                tf.trie.remove(tf.value(&m.value), plens[t] as u32);
            }
        }
        Some(rule.value)
    }

    /// The rule with exactly this match and priority (strict look-up).
    pub fn get(&self, m: &OfMatch, priority: u32) -> Option<&T> {
        let (_, _, _, slot) = self.find(m, priority)?;
        Some(&self.rule(slot).value)
    }

    pub fn get_mut(&mut self, m: &OfMatch, priority: u32) -> Option<&mut T> {
        let (_, _, _, slot) = self.find(m, priority)?;
        Some(&mut self.rules.get_mut(slot).value)
    }

    /// The highest-priority rule matching `flow`. Every bit examined is
    /// set in `wc` when given.
    pub fn lookup(&self, flow: &OfFlow, mut wc: Option<&mut OfFlow>) -> Option<(&ClsKey, &T)> {
        let mut ctx: TrieCtx = [None; MAX_TRIES];
        let mut best: Option<&Rule<T>> = None;
        for hot in &self.order {
            if best.is_some_and(|b| hot.max_priority <= b.key.priority) {
                break;
            }
            if hot.rejects(flow, wc.as_deref_mut()) {
                continue;
            }
            let st = self.st(hot.id);
            if let Some(slot) = self.find_in(st, flow, &mut ctx, wc.as_deref_mut()) {
                let r = self.rule(slot);
                if best.is_none_or(|b| r.key.priority > b.key.priority) {
                    best = Some(r);
                }
            }
        }
        best.map(|r| (&r.key, &r.value))
    }

    /// The best rule of one subtable for `flow`, staged, with trie checks.
    #[inline]
    fn find_in(
        &self,
        st: &Subtable,
        flow: &OfFlow,
        ctx: &mut TrieCtx,
        mut wc: Option<&mut OfFlow>,
    ) -> Option<u32> {
        let mut h = hash::BASIS;
        for s in 0..=st.last as usize {
            let start = st.stage_start(s);
            if !self.tries_allow(st, s, flow, ctx, wc.as_deref_mut()) {
                if let Some(wc) = wc {
                    st.fold(wc, start);
                }
                return None;
            }
            let end = st.stage_end[s] as usize;
            for &(w, m) in &st.words[start..end] {
                h = hash::mix(h, flow.0[w as usize] & m);
            }
            if st.has_index(s) && !st.indices[s].contains_key(&hash::finish(h)) {
                if let Some(wc) = wc {
                    st.fold(wc, end);
                }
                return None;
            }
        }
        if let Some(wc) = wc {
            st.fold(wc, st.words.len());
        }
        let mut cur = *st.buckets.get(&hash::finish(h))?;
        while cur != NIL {
            let r = self.rule(cur);
            if st.same_masked(flow, &r.key.r#match.value) {
                return Some(cur);
            }
            cur = r.next;
        }
        None
    }

    /// False if a prefix trie of a field in stage `s` proves that no rule
    /// of `st` can match (then the trie's bits are in `wc`). As OVS, a
    /// skip that would un-wildcard more address bits than the subtable
    /// itself would is not taken unless those bits are already in `wc`.
    #[inline]
    fn tries_allow(
        &self,
        st: &Subtable,
        s: usize,
        flow: &OfFlow,
        ctx: &mut TrieCtx,
        mut wc: Option<&mut OfFlow>,
    ) -> bool {
        for (t, tf) in self.tries.iter().enumerate() {
            let plen = st.trie_plen[t] as u32;
            if plen == 0 || tf.stage != s {
                continue;
            }
            let (plens, bits) = *ctx[t].get_or_insert_with(|| tf.lookup(flow));
            if plens.contains(plen) {
                continue;
            }
            match wc.as_deref_mut() {
                None => return false,
                Some(wc) => {
                    if bits <= plen {
                        tf.set_prefix_bits(wc, bits);
                        return false;
                    }
                    if tf.prefix_bits_set(wc, bits) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// The rules of one subtable.
    fn subtable_rules<'a>(&'a self, st: &'a Subtable) -> impl Iterator<Item = &'a Rule<T>> + 'a {
        st.buckets.values().flat_map(move |&head| {
            let mut cur = head;
            std::iter::from_fn(move || {
                if cur == NIL {
                    return None;
                }
                let r = self.rule(cur);
                cur = r.next;
                Some(r)
            })
        })
    }

    /// Every rule whose match is covered by `m` (a loose modify/delete).
    /// Only subtables whose mask has every bit of `m`'s are looked at; with
    /// the same mask, only `m`'s bucket.
    pub fn covered_by<'a>(&'a self, m: &'a OfMatch) -> impl Iterator<Item = (&'a ClsKey, &'a T)> {
        let mut out: Vec<(&'a ClsKey, &'a T)> = Vec::new();
        for hot in &self.order {
            let st = self.st(hot.id);
            if !mask_subset(&m.mask, &st.mask) {
                continue;
            }
            if st.mask == m.mask {
                let mut cur = st
                    .buckets
                    .get(&st.full_hash(&m.value))
                    .copied()
                    .unwrap_or(NIL);
                while cur != NIL {
                    let r = self.rule(cur);
                    if r.key.r#match == *m {
                        out.push((&r.key, &r.value));
                    }
                    cur = r.next;
                }
            } else {
                out.extend(
                    self.subtable_rules(st)
                        .filter(|r| r.key.r#match.is_covered_by(m))
                        .map(|r| (&r.key, &r.value)),
                );
            }
        }
        out.into_iter()
    }

    /// True if a rule of this priority overlaps `m` (OFPFF_CHECK_OVERLAP).
    pub fn overlaps(&self, m: &OfMatch, priority: u32) -> bool {
        for hot in &self.order {
            let st = self.st(hot.id);
            if st.max_priority < priority {
                break;
            }
            if !st.has_priority(priority) {
                continue;
            }
            if mask_subset(&st.mask, &m.mask) {
                // A rule overlaps iff its value is m's value under its mask.
                let v = m.value.masked(&st.mask);
                let mut cur = st.buckets.get(&st.full_hash(&v)).copied().unwrap_or(NIL);
                while cur != NIL {
                    let r = self.rule(cur);
                    if r.key.priority == priority && r.key.r#match.value == v {
                        return true;
                    }
                    cur = r.next;
                }
            } else if self
                .subtable_rules(st)
                .any(|r| r.key.priority == priority && r.key.r#match.overlaps(m))
            {
                return true;
            }
        }
        false
    }

    /// Every rule.
    pub fn iter(&self) -> impl Iterator<Item = (&ClsKey, &T)> {
        self.rules.iter().map(|r| (&r.key, &r.value))
    }

    /// Removes every rule for which `keep` returns false.
    pub fn retain(&mut self, mut keep: impl FnMut(&ClsKey, &mut T) -> bool) {
        for i in 0..self.rules.slots() {
            let gone = match self.rules.get_opt_mut(i) {
                Some(r) => (!keep(&r.key, &mut r.value)).then_some(r.key),
                None => None,
            };
            if let Some(k) = gone {
                self.remove(&k.r#match, k.priority);
            }
        }
    }

    /// Approximate heap bytes held (rule slab, subtables, indices, tries),
    /// not counting what the values themselves point to.
    pub fn memory_bytes(&self) -> usize {
        let rules = self.rules.heap_bytes();
        let subtables: usize = self
            .subtables
            .iter()
            .flatten()
            .map(|s| s.heap_bytes())
            .sum();
        let by_mask = self.by_mask.capacity() * (std::mem::size_of::<(OfFlow, u32)>() + 1);
        let tries: usize = self.tries.iter().map(|t| t.trie.n_nodes() * 48).sum();
        rules + subtables + by_mask + tries + self.order.capacity() * std::mem::size_of::<Hot>()
    }
}

#[cfg(test)]
mod tests;
