//! The flow table classifier: rules of (match, priority) -> value, looked
//! up by packet for the highest-priority rule that matches.
//!
//! API contract (what ofproto relies on):
//! - a rule is identified by its canonical [`OfMatch`] and its priority;
//!   `insert` of an identical (match, priority) replaces and returns the
//!   old value; the classifier does not keep the `OfMatch` itself: a
//!   [`ClsKey`] is a view that rebuilds it on demand;
//! - `lookup` returns the highest-priority matching rule and, when given
//!   wildcards, sets in them every bit the search examined (so that a
//!   megaflow built from those wildcards can never match a packet that
//!   the table would treat differently);
//! - `covered_by` lists the rules a loose modify/delete reaches, and
//!   `remove_covered` removes them in the same walk;
//! - iteration order is unspecified.
//!
//! Inside: tuple space search. Rules live in one slab of small entries
//! (priority, subtable, row, chain link, value); each distinct mask has a
//! [`Subtable`](subtable) that stores the mask once and every rule's masked
//! value as a short row, and hashes its rules by that row (so insert,
//! remove and strict get are one hash probe). Subtables are kept
//! in descending order of their highest priority; a lookup visits them in
//! that order and stops as soon as no remaining subtable can beat the best
//! rule found. Within a subtable, the lookup is staged (metadata, L2, L3,
//! L4: a miss at an early stage keeps the later stages out of the
//! megaflow) and, for the configured address fields, a prefix trie lets
//! it skip subtables whose prefix length cannot match while un-wildcarding
//! only the address bits that decided it.

pub(crate) mod hash;
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
use self::subtable::{Subtable, MAX_PAIRS};
use self::trie::Plens;
use super::flow::{OfFlow, OfMatch};

/// One rule's key, as the classifier holds it: its priority, and its match
/// as the subtable's shared mask plus the rule's row of masked words.
#[derive(Clone, Copy)]
pub struct ClsKey<'a> {
    pub priority: u32,
    st: &'a Subtable,
    row: &'a [u64],
}

impl ClsKey<'_> {
    /// The rule's canonical match (rebuilt: about 1.4 KB, so callers
    /// should not ask for it per rule on hot paths).
    pub fn r#match(&self) -> OfMatch {
        OfMatch {
            value: self.st.value_of(self.row),
            mask: self.st.mask,
        }
    }

    /// True if `flow` matches the rule (no match is rebuilt).
    pub fn matches(&self, flow: &OfFlow) -> bool {
        self.st.same_masked(flow, self.row)
    }

    /// The rule's mask (shared by its subtable).
    pub fn mask(&self) -> &OfFlow {
        &self.st.mask
    }

    /// True if the rule's match is `m` (cheaper than comparing `r#match()`).
    pub fn is(&self, m: &OfMatch) -> bool {
        self.st.mask == m.mask && self.st.same_masked(&m.value, self.row)
    }
}

impl std::fmt::Debug for ClsKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClsKey")
            .field("priority", &self.priority)
            .field("row", &self.row)
            .finish()
    }
}

const NIL: u32 = u32::MAX;

struct Entry<T> {
    priority: u32,
    /// Subtable id and row in it.
    st: u32,
    row: u32,
    /// Next slot of the same bucket (lower or equal priority), or `NIL`.
    next: u32,
    value: T,
}

/// A classifier holding values of type `T` (ofproto holds `Box<Rule>`).
pub struct Classifier<T> {
    rules: Slab<Entry<T>>,
    subtables: Vec<Option<Subtable>>,
    free_subtables: Vec<u32>,
    by_mask: HashMap<OfFlow, u32, WordBuild>,
    /// Live subtables by descending `max_priority`.
    order: Vec<Hot>,
    tries: Vec<TrieField>,
    n_rules: usize,
}

impl<T> std::fmt::Debug for Classifier<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("rules", &self.n_rules)
            .field("subtables", &self.order.len())
            .finish()
    }
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Classifier::with_prefix_fields(&DEFAULT_PREFIX_FIELDS)
            .expect("default prefix fields are valid")
    }
}

/// Per-lookup cache of the trie answers.
type TrieCtx = [Option<(Plens, u32)>; MAX_TRIES];

/// True if every bit of `a` is in `b`.
fn mask_subset(a: &OfFlow, b: &OfFlow) -> bool {
    a.0.iter().zip(b.0.iter()).all(|(a, b)| a & !b == 0)
}

/// The key view of entry `e`.
#[inline]
fn key_of<'a, T>(subtables: &'a [Option<Subtable>], e: &'a Entry<T>) -> ClsKey<'a> {
    let st = subtables[e.st as usize].as_ref().expect("live subtable id");
    ClsKey {
        priority: e.priority,
        st,
        row: st.row(e.row),
    }
}

/// The rules of subtable `st`, bucket by bucket (each by descending
/// priority).
fn chain_iter<'a, T>(
    rules: &'a Slab<Entry<T>>,
    st: &'a Subtable,
) -> impl Iterator<Item = &'a Entry<T>> + 'a {
    st.buckets.values().flat_map(move |&head| {
        let mut cur = head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let e = rules.get(cur);
            cur = e.next;
            Some(e)
        })
    })
}

/// The (word, bits, value) tests under which a rule of `st` is covered by
/// `m` (whose mask is a subset of `st`'s): pair `i` of the row must give
/// `row[i] & bits == value`. Pairs `m` does not constrain are left out.
fn cover_tests(st: &Subtable, m: &OfMatch) -> Vec<(usize, u64, u64)> {
    st.words
        .iter()
        .enumerate()
        .filter_map(|(i, &(w, mk))| {
            let bits = m.mask.0[w as usize] & mk;
            (bits != 0).then_some((i, bits, m.value.0[w as usize] & bits))
        })
        .collect()
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
            st.set_tries(&self.tries);
        }
        for h in self.order.iter_mut() {
            let st = self.subtables[h.id as usize].as_ref().expect("live");
            h.refresh(st, &self.tries);
        }
        for t in 0..self.tries.len() {
            self.rebuild_trie(t);
        }
        Ok(())
    }

    /// Refills trie `t` from the rules.
    fn rebuild_trie(&mut self, t: usize) {
        let tf = &mut self.tries[t];
        tf.trie.clear();
        for e in self.rules.iter() {
            let st = self.subtables[e.st as usize].as_ref().expect("live");
            let plen = st.trie_plen[t] as u32;
            if plen > 0 {
                let row = st.row(e.row);
                tf.trie
                    .insert(tf.value_with(|w| st.value_word(row, w)), plen);
            }
        }
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

    fn st_mut(&mut self, id: u32) -> &mut Subtable {
        self.subtables[id as usize]
            .as_mut()
            .expect("live subtable id")
    }

    /// The slot of the rule (m, priority), with its subtable, bucket hash
    /// and predecessor in the chain.
    fn find(&self, m: &OfMatch, priority: u32) -> Option<(u32, u64, u32, u32)> {
        let id = *self.by_mask.get(&m.mask)?;
        let st = self.st(id);
        let mut buf = [0u64; MAX_PAIRS];
        let row = st.row_of(&m.value, &mut buf);
        let hash = st.full_hash(row);
        let mut prev = NIL;
        let mut cur = *st.buckets.get(&hash)?;
        while cur != NIL {
            let e = self.rules.get(cur);
            if e.priority == priority && st.row(e.row) == row {
                return Some((id, hash, prev, cur));
            }
            prev = cur;
            cur = e.next;
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
        st.set_tries(&self.tries);
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
        let id = self.subtable_for(&m.mask);
        let mut buf = [0u64; MAX_PAIRS];
        let st = self.st(id);
        let row = st.row_of(&m.value, &mut buf);
        let (parts, hash) = st.hashes(row);
        // Chain position: after every rule of higher or equal priority; an
        // identical rule is replaced in place.
        let head = st.buckets.get(&hash).copied().unwrap_or(NIL);
        let mut prev = NIL;
        let mut cur = head;
        while cur != NIL {
            let e = self.rules.get(cur);
            if e.priority < priority {
                break;
            }
            if e.priority == priority && st.row(e.row) == row {
                let e = self.rules.get_mut(cur);
                return Some(std::mem::replace(&mut e.value, value));
            }
            prev = cur;
            cur = e.next;
        }
        let st = self.st_mut(id);
        let row_ix = st.alloc_row(row);
        let slot = self.rules.insert(Entry {
            priority,
            st: id,
            row: row_ix,
            next: cur,
            value,
        });
        let st = self.subtables[id as usize].as_mut().expect("live subtable");
        if prev == NIL {
            st.buckets.insert(hash, slot);
        } else {
            self.rules.get_mut(prev).next = slot;
        }
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

    /// Takes entry `slot` (already unlinked from its chain) out of its
    /// subtable's indices, priority counts and rows; the prefix tries are
    /// the caller's. Returns the entry.
    fn release(&mut self, slot: u32) -> Entry<T> {
        let e = self.rules.remove(slot);
        self.n_rules -= 1;
        let st = self.st_mut(e.st);
        let (parts, _) = st.hashes(st.row(e.row));
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
        st.free_row(e.row);
        e
    }

    /// After rules of subtable `id` were released: its priority counts
    /// (`gone` priorities), its place in `order`, and its end when empty.
    fn settle(&mut self, id: u32, gone: impl IntoIterator<Item = u32>) {
        let st = self.st_mut(id);
        let old_max = st.max_priority;
        let mut changed = false;
        for p in gone {
            changed |= st.remove_priority(p);
        }
        changed |= st.max_priority != old_max;
        let (new_max, empty) = (st.max_priority, st.n_rules == 0);
        if empty || changed {
            let p = self.hot_pos(id, old_max);
            let mut hot = self.order.remove(p);
            if !empty {
                hot.max_priority = new_max;
                self.place_hot(hot);
            }
        }
        if empty {
            let st = self.subtables[id as usize].take().expect("live subtable");
            self.free_subtables.push(id);
            self.by_mask.remove(&st.mask);
        }
    }

    /// Removes the rule with exactly this match and priority.
    pub fn remove(&mut self, m: &OfMatch, priority: u32) -> Option<T> {
        let (id, hash, prev, slot) = self.find(m, priority)?;
        let next = self.rules.get(slot).next;
        if prev == NIL {
            let st = self.st_mut(id);
            if next == NIL {
                st.buckets.remove(&hash);
            } else {
                st.buckets.insert(hash, next);
            }
        } else {
            self.rules.get_mut(prev).next = next;
        }
        let plens = self.st(id).trie_plen;
        let e = self.release(slot);
        self.settle(id, [priority]);
        for (t, tf) in self.tries.iter_mut().enumerate() {
            if plens[t] > 0 {
                tf.trie.remove(tf.value(&m.value), plens[t] as u32);
            }
        }
        Some(e.value)
    }

    /// An empty classifier with prefix tries on `fields`.
    fn with_prefix_fields(fields: &[Field]) -> Result<Self, PrefixError> {
        let mut c = Classifier {
            rules: Slab::default(),
            subtables: Vec::new(),
            free_subtables: Vec::new(),
            by_mask: HashMap::default(),
            order: Vec::new(),
            tries: Vec::new(),
            n_rules: 0,
        };
        c.set_prefix_fields(fields)?;
        Ok(c)
    }

    /// Takes every rule at once: `self` is left empty (with the same
    /// prefix fields) and the returned classifier holds what it held. No
    /// rule is visited, so a delete of every rule (`del-flows`) costs the
    /// same for 10 rules as for 100,000; reading or freeing them can be
    /// done later, elsewhere ([`Classifier::into_all`], or a drop).
    pub fn take(&mut self) -> Classifier<T> {
        let fields: Vec<Field> = self.tries.iter().map(|t| t.field).collect();
        let empty =
            Classifier::with_prefix_fields(&fields).expect("the fields of a valid classifier");
        std::mem::replace(self, empty)
    }

    /// Every rule, as (priority, value) in no particular order: one
    /// sequential pass over the rule store, no hash chain followed and no
    /// value read.
    pub fn into_all(self) -> Vec<(u32, T)> {
        let mut out = Vec::with_capacity(self.n_rules);
        out.extend(self.rules.into_values().map(|e| (e.priority, e.value)));
        out
    }

    /// Removes, in one walk, every rule covered by `m` (as
    /// [`Classifier::covered_by`] selects them) for which `select` says
    /// yes; returns them as (priority, value), in no particular order.
    /// Prefix tries are updated once at the end (rebuilt when most of
    /// their rules went).
    pub fn remove_covered(
        &mut self,
        m: &OfMatch,
        mut select: impl FnMut(u32, &T) -> bool,
    ) -> Vec<(u32, T)> {
        let ids: Vec<u32> = self
            .order
            .iter()
            .map(|h| h.id)
            .filter(|&id| mask_subset(&m.mask, &self.st(id).mask))
            .collect();
        let mut out = Vec::new();
        let mut trie_gone: Vec<Vec<(u128, u32)>> = vec![Vec::new(); self.tries.len()];
        // First unlink, per subtable, the selected rules; then release
        // them, reading their prefix-trie values only if the tries are to
        // be updated rather than rebuilt (a delete of most rules, such as
        // `del-flows`, rebuilds them and need not touch the rows again).
        let mut unlinked: Vec<(u32, Vec<u32>)> = Vec::new();
        for id in ids {
            let mut slots = Vec::new();
            let Classifier {
                rules, subtables, ..
            } = self;
            let st = subtables[id as usize].as_mut().expect("live subtable");
            let tests = cover_tests(st, m);
            let exact = st.mask == m.mask;
            let mut buf = [0u64; MAX_PAIRS];
            let want_hash = exact.then(|| st.full_hash(st.row_of(&m.value, &mut buf)));
            let (buckets, rows_view) = st.split();
            // Unlinks the selected rules of one chain; false once empty.
            let mut walk = |head: &mut u32| {
                let (mut prev, mut cur) = (NIL, *head);
                while cur != NIL {
                    let e = rules.get(cur);
                    let next = e.next;
                    let row = rows_view.row(e.row);
                    let covered = tests.iter().all(|&(i, bits, v)| row[i] & bits == v);
                    if covered && select(e.priority, &e.value) {
                        slots.push(cur);
                        if prev == NIL {
                            *head = next;
                        } else {
                            rules.get_mut(prev).next = next;
                        }
                    } else {
                        prev = cur;
                    }
                    cur = next;
                }
                *head != NIL
            };
            match want_hash {
                // Same mask: only m's bucket can hold covered rules.
                Some(h) => {
                    if let Some(head) = buckets.get_mut(&h) {
                        if !walk(head) {
                            buckets.remove(&h);
                        }
                    }
                }
                None => buckets.retain(|_, head| walk(head)),
            }
            if !slots.is_empty() {
                unlinked.push((id, slots));
            }
        }
        let n_gone: usize = unlinked.iter().map(|(_, s)| s.len()).sum();
        // The same test as below, made before the rules go.
        let rebuild = n_gone > self.n_rules - n_gone;
        for (id, slots) in unlinked {
            let plens = self.st(id).trie_plen;
            // A subtable that loses every rule goes whole (in `settle`):
            // its rows, stage indices and ports trie need no update per
            // rule, so its rows are not read at all.
            let emptied = self.st(id).n_rules as usize == slots.len();
            let mut gone = Vec::with_capacity(slots.len());
            for &slot in &slots {
                if emptied && rebuild {
                    let e = self.rules.remove(slot);
                    self.n_rules -= 1;
                    for (t, g) in trie_gone.iter_mut().enumerate() {
                        if plens[t] > 0 && g.is_empty() {
                            g.push((0, 0));
                        }
                    }
                    gone.push(e.priority);
                    out.push((e.priority, e.value));
                    continue;
                }
                if !rebuild {
                    let st = self.st(id);
                    let e = self.rules.get(slot);
                    let row = st.row(e.row);
                    for (t, tf) in self.tries.iter().enumerate() {
                        if plens[t] > 0 {
                            let v = tf.value_with(|w| st.value_word(row, w));
                            trie_gone[t].push((v, plens[t] as u32));
                        }
                    }
                } else {
                    for (t, g) in trie_gone.iter_mut().enumerate() {
                        if plens[t] > 0 && g.is_empty() {
                            // Only whether the trie lost rules matters.
                            g.push((0, 0));
                        }
                    }
                }
                let e = self.release(slot);
                gone.push(e.priority);
                out.push((e.priority, e.value));
            }
            self.settle(id, gone);
        }
        for (t, gone) in trie_gone.into_iter().enumerate() {
            if gone.is_empty() {
                continue;
            }
            if rebuild || gone.len() > self.n_rules {
                self.rebuild_trie(t);
            } else {
                let trie = &mut self.tries[t].trie;
                for (v, plen) in gone {
                    trie.remove(v, plen);
                }
            }
        }
        out
    }

    /// The rule with exactly this match and priority (strict look-up).
    pub fn get(&self, m: &OfMatch, priority: u32) -> Option<&T> {
        let (_, _, _, slot) = self.find(m, priority)?;
        Some(&self.rules.get(slot).value)
    }

    pub fn get_mut(&mut self, m: &OfMatch, priority: u32) -> Option<&mut T> {
        let (_, _, _, slot) = self.find(m, priority)?;
        Some(&mut self.rules.get_mut(slot).value)
    }

    /// The highest-priority rule matching `flow`. Every bit examined is
    /// set in `wc` when given.
    pub fn lookup(&self, flow: &OfFlow, mut wc: Option<&mut OfFlow>) -> Option<(ClsKey<'_>, &T)> {
        let mut ctx: TrieCtx = [None; MAX_TRIES];
        let mut best: Option<&Entry<T>> = None;
        for hot in &self.order {
            if best.is_some_and(|b| hot.max_priority <= b.priority) {
                break;
            }
            if hot.rejects(flow, wc.as_deref_mut()) {
                continue;
            }
            let st = self.st(hot.id);
            let found = if st.words.is_empty() {
                // Match-all (a table's catch-all or miss flow): its best
                // rule heads its one bucket, and nothing is examined.
                st.buckets.get(&hash::EMPTY_ROW).copied()
            } else {
                self.find_in(st, flow, &mut ctx, wc.as_deref_mut())
            };
            if let Some(slot) = found {
                let e = self.rules.get(slot);
                if best.is_none_or(|b| e.priority > b.priority) {
                    best = Some(e);
                }
            }
        }
        best.map(|e| (key_of(&self.subtables, e), &e.value))
    }

    /// Sets in `wc` the bits that decide, in every subtable holding a rule
    /// of priority `floor` or more, which of its rules match `flow`: each
    /// such subtable's staged look-up with the tries, as a single
    /// look-up would do it. A hit pins the subtable's whole mask (so the
    /// matching rules are known), a miss only what proved it. This is the
    /// megaflow of a conjunctive match, which depends on every rule that
    /// matches at or above the result, as OVS's classifier visits them.
    pub fn wc_all_matches(&self, flow: &OfFlow, floor: u32, wc: &mut OfFlow) {
        let mut ctx: TrieCtx = [None; MAX_TRIES];
        for hot in &self.order {
            if hot.max_priority < floor {
                break;
            }
            if hot.rejects(flow, Some(&mut *wc)) {
                continue;
            }
            let st = self.st(hot.id);
            self.find_in(st, flow, &mut ctx, Some(&mut *wc));
        }
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
        let mut cur = st.buckets.get(&hash::finish(h)).copied().unwrap_or(NIL);
        while cur != NIL {
            let e = self.rules.get(cur);
            if st.same_masked(flow, st.row(e.row)) {
                if let Some(wc) = wc {
                    st.fold(wc, st.words.len());
                }
                return Some(cur);
            }
            cur = e.next;
        }
        if let Some(wc) = wc {
            // A miss decided by the ports takes only the port bits that
            // tell the flow apart (OVS's ports trie), else the whole mask.
            match st.ports_miss_bits(flow) {
                Some(bits) => {
                    st.fold(wc, st.stage_start(st.last as usize));
                    wc.0[ferrovs_datapath::flow::layout::W_TP] |= bits;
                }
                None => st.fold(wc, st.words.len()),
            }
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
        let mut todo = st.trie_stages[s];
        while todo != 0 {
            let t = todo.trailing_zeros() as usize;
            todo &= todo - 1;
            let tf = &self.tries[t];
            let plen = st.trie_plen[t] as u32;
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

    /// Every rule whose match is covered by `m` (a loose modify/delete).
    /// Only subtables whose mask has every bit of `m`'s are looked at; with
    /// the same mask, only `m`'s bucket.
    pub fn covered_by<'a>(
        &'a self,
        m: &OfMatch,
    ) -> impl Iterator<Item = (ClsKey<'a>, &'a T)> + use<'a, T> {
        let mut out: Vec<(ClsKey<'a>, &'a T)> = Vec::new();
        for hot in &self.order {
            let st = self.st(hot.id);
            if !mask_subset(&m.mask, &st.mask) {
                continue;
            }
            if st.mask == m.mask {
                let mut buf = [0u64; MAX_PAIRS];
                let row = st.row_of(&m.value, &mut buf);
                let mut cur = st.buckets.get(&st.full_hash(row)).copied().unwrap_or(NIL);
                while cur != NIL {
                    let e = self.rules.get(cur);
                    if st.row(e.row) == row {
                        out.push((key_of(&self.subtables, e), &e.value));
                    }
                    cur = e.next;
                }
            } else {
                let tests = cover_tests(st, m);
                out.extend(
                    chain_iter(&self.rules, st)
                        .filter(|e| {
                            let row = st.row(e.row);
                            tests.iter().all(|&(i, bits, v)| row[i] & bits == v)
                        })
                        .map(|e| (key_of(&self.subtables, e), &e.value)),
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
            let mut buf = [0u64; MAX_PAIRS];
            let row = st.row_of(&m.value, &mut buf);
            if mask_subset(&st.mask, &m.mask) {
                // A rule overlaps iff its row is m's value under its mask.
                let mut cur = st.buckets.get(&st.full_hash(row)).copied().unwrap_or(NIL);
                while cur != NIL {
                    let e = self.rules.get(cur);
                    if e.priority == priority && st.row(e.row) == row {
                        return true;
                    }
                    cur = e.next;
                }
            } else {
                // Overlap: the values agree on every bit both masks have.
                let common: Vec<(usize, u64)> = st
                    .words
                    .iter()
                    .enumerate()
                    .map(|(i, &(w, _))| (i, m.mask.0[w as usize]))
                    .filter(|&(_, b)| b != 0)
                    .collect();
                if chain_iter(&self.rules, st).any(|e| {
                    let r = st.row(e.row);
                    e.priority == priority
                        && common.iter().all(|&(i, bits)| (r[i] ^ row[i]) & bits == 0)
                }) {
                    return true;
                }
            }
        }
        false
    }

    /// Every rule.
    pub fn iter(&self) -> impl Iterator<Item = (ClsKey<'_>, &T)> {
        self.rules
            .iter()
            .map(|e| (key_of(&self.subtables, e), &e.value))
    }

    /// Every rule's value, mutable.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.rules.iter_mut().map(|e| &mut e.value)
    }

    /// Removes every rule for which `keep` returns false.
    pub fn retain(&mut self, mut keep: impl FnMut(&ClsKey<'_>, &mut T) -> bool) {
        for i in 0..self.rules.slots() {
            let gone = {
                let Classifier {
                    rules, subtables, ..
                } = self;
                match rules.get_opt_mut(i) {
                    Some(e) => {
                        let st = subtables[e.st as usize].as_ref().expect("live");
                        let key = ClsKey {
                            priority: e.priority,
                            st,
                            row: st.row(e.row),
                        };
                        (!keep(&key, &mut e.value)).then(|| key.r#match())
                    }
                    None => None,
                }
            };
            if let Some(m) = gone {
                let p = self.rules.get(i).priority;
                self.remove(&m, p);
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
