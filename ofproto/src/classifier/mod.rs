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
//! This first version is a linear list in descending priority order: it is
//! correct (every lookup un-wildcards the masks of every rule it examined)
//! but slow; the tuple-space-search version replaces its inside with the
//! same API.

use super::flow::{OfFlow, OfMatch};

/// One rule's key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ClsKey {
    pub r#match: OfMatch,
    pub priority: u32,
}

/// A classifier holding values of type `T` (ofproto holds `Arc<Rule>`).
pub struct Classifier<T> {
    /// Descending priority; within one priority, insertion order.
    rules: Vec<(ClsKey, T)>,
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Classifier { rules: Vec::new() }
    }
}

impl<T> Classifier<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn position(&self, m: &OfMatch, priority: u32) -> Option<usize> {
        self.rules
            .iter()
            .position(|(k, _)| k.priority == priority && k.r#match == *m)
    }

    /// Inserts, replacing (and returning) the value of an identical rule.
    pub fn insert(&mut self, m: OfMatch, priority: u32, value: T) -> Option<T> {
        if let Some(i) = self.position(&m, priority) {
            return Some(std::mem::replace(&mut self.rules[i].1, value));
        }
        let at = self.rules.partition_point(|(k, _)| k.priority >= priority);
        let key = ClsKey {
            r#match: m,
            priority,
        };
        self.rules.insert(at, (key, value));
        None
    }

    /// Removes the rule with exactly this match and priority.
    pub fn remove(&mut self, m: &OfMatch, priority: u32) -> Option<T> {
        let i = self.position(m, priority)?;
        Some(self.rules.remove(i).1)
    }

    /// The rule with exactly this match and priority (strict look-up).
    pub fn get(&self, m: &OfMatch, priority: u32) -> Option<&T> {
        self.position(m, priority).map(|i| &self.rules[i].1)
    }

    pub fn get_mut(&mut self, m: &OfMatch, priority: u32) -> Option<&mut T> {
        self.position(m, priority).map(|i| &mut self.rules[i].1)
    }

    /// The highest-priority rule matching `flow`. Every bit examined is
    /// set in `wc` when given.
    pub fn lookup(&self, flow: &OfFlow, mut wc: Option<&mut OfFlow>) -> Option<(&ClsKey, &T)> {
        for (k, v) in &self.rules {
            if let Some(wc) = wc.as_deref_mut() {
                for (w, m) in wc.0.iter_mut().zip(k.r#match.mask.0.iter()) {
                    *w |= m;
                }
            }
            if k.r#match.matches(flow) {
                return Some((k, v));
            }
        }
        None
    }

    /// Every rule whose match is covered by `m` (a loose modify/delete).
    pub fn covered_by<'a>(&'a self, m: &'a OfMatch) -> impl Iterator<Item = (&'a ClsKey, &'a T)> {
        self.rules
            .iter()
            .filter(move |(k, _)| k.r#match.is_covered_by(m))
            .map(|(k, v)| (k, v))
    }

    /// True if a rule of this priority overlaps `m` (OFPFF_CHECK_OVERLAP).
    pub fn overlaps(&self, m: &OfMatch, priority: u32) -> bool {
        self.rules
            .iter()
            .any(|(k, _)| k.priority == priority && k.r#match.overlaps(m))
    }

    /// Every rule.
    pub fn iter(&self) -> impl Iterator<Item = (&ClsKey, &T)> {
        self.rules.iter().map(|(k, v)| (k, v))
    }

    /// Removes every rule for which `keep` returns false.
    pub fn retain(&mut self, mut keep: impl FnMut(&ClsKey, &mut T) -> bool) {
        self.rules.retain_mut(|(k, v)| keep(k, v));
    }
}
