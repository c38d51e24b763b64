//! The revalidator's cache of what each megaflow's last translation did
//! besides its actions (OVS's xlate cache): the tables it looked up, the
//! rules it went through and the MAC address NORMAL learned. A round in
//! which nothing translation reads changed pushes a used megaflow's
//! counters to those rules and tables, and refreshes that MAC entry,
//! without translating it again.
//!
//! [`XCache`] is built from a translation's [`XlateOut`] (only for
//! translations whose side effects it can replay: no learned flows, no
//! neighbour traffic, at most one MAC entry learned). Rule identities are
//! shared between megaflows through [`RuleKeys`] (one `Arc` per rule, so
//! a megaflow's cache is a few pointers). A cached rule is the rule at
//! its address while the generation is the same: no rule was added or
//! removed meanwhile (the crediting code checks `created` anyway).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::classifier::hash::WordBuild;
use crate::flow::OfMatch;
use crate::rule::Rule;
use crate::table::OfTable;
use crate::xlate::{BridgeRef, MacLearned, XlateOut};

/// A rule a cached translation went through.
#[derive(Debug)]
pub(crate) struct RuleKey {
    pub bridge: usize,
    /// The rule's address (with `created`, it tells rules apart).
    pub addr: usize,
    pub created: Instant,
    pub table_id: u8,
    pub priority: u16,
    pub om: OfMatch,
}

/// One [`RuleKey`] per rule (cleared with the generation). Keyed by
/// addresses, not by packet contents: a cheap word hash, not SipHash.
#[derive(Default)]
pub(crate) struct RuleKeys(HashMap<(usize, usize), Arc<RuleKey>, WordBuild>);

impl RuleKeys {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    fn get(&mut self, bridge: usize, r: &Rule) -> Arc<RuleKey> {
        let addr = r as *const Rule as usize;
        let key = || {
            Arc::new(RuleKey {
                bridge,
                addr,
                created: r.created,
                table_id: r.table_id,
                priority: r.priority,
                om: r.om(),
            })
        };
        let k = self.0.entry((bridge, addr)).or_insert_with(key);
        if k.created != r.created || k.priority != r.priority {
            *k = key();
        }
        k.clone()
    }
}

/// What a megaflow's translation did besides its actions.
#[derive(Debug, Default, Clone)]
pub(crate) struct XCache {
    /// The bridge the packet entered (its clock credits the rules).
    pub bridge: usize,
    /// Every table lookup: (bridge, table, matched).
    pub lookups: Vec<(usize, u8, bool)>,
    pub rules: Vec<Arc<RuleKey>>,
    /// The MAC entry NORMAL learned (refreshed by each push).
    pub mac: Option<MacLearned>,
}

impl XCache {
    /// The cache of `out` (entered on `bridge` of `refs`), or None if its
    /// side effects cannot be replayed from one.
    pub fn of(
        out: &XlateOut<'_>,
        refs: &[BridgeRef<'_>],
        bridge: usize,
        keys: &mut RuleKeys,
    ) -> Option<XCache> {
        if out.uncacheable || !out.learned.is_empty() || out.error.is_some() {
            return None;
        }
        let mut lookups = Vec::with_capacity(out.lookups.len());
        for l in &out.lookups {
            let (b, t) = table_position(refs, l.table)?;
            lookups.push((b, t, l.matched));
        }
        let rules = out
            .rules
            .iter()
            .map(|h| keys.get(h.bridge, h.rule))
            .collect();
        Some(XCache {
            bridge,
            lookups,
            rules,
            mac: out.mac_learned,
        })
    }
}

/// (bridge, table id) of a table borrowed from `refs` (found by its
/// address within each bridge's table array).
fn table_position(refs: &[BridgeRef<'_>], table: &OfTable) -> Option<(usize, u8)> {
    let a = table as *const OfTable as usize;
    let size = std::mem::size_of::<OfTable>();
    refs.iter().enumerate().find_map(|(b, r)| {
        let t = &r.ofproto.tables.t;
        let base = t.as_ptr() as usize;
        (a >= base && a < base + t.len() * size).then(|| (b, ((a - base) / size) as u8))
    })
}
