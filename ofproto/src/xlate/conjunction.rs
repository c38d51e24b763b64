//! Conjunctive matches (`conjunction(ID,K/N)` and `conj_id=ID`), as OVS's
//! classifier evaluates them during a table lookup.
//!
//! A rule whose actions are all `conjunction` is a "soft" match: it
//! matching says only that clause K of conjunction ID holds. When the best
//! match of a table is soft (priority P), every soft rule of priority P
//! that matches is gathered; a conjunction whose N clauses all hold sends
//! a second lookup with `conj_id=ID` (soft rules ignored), whose result is
//! the table's. If no conjunction at P is complete, the next lower soft
//! priority is tried, until none is above the best "hard" (ordinary)
//! match, which is then the result.
//!
//! The classifier's [`lookup`](crate::classifier::Classifier::lookup)
//! answers the common case (a hard best match) alone. The conjunctive path
//! walks the table's rules (`iter`), since the classifier has no
//! multi-match lookup yet: a linear pass per conjunctive miss, which a
//! classifier-side multi-match can later replace behind this function.
//! Its megaflow is what OVS's holds: each subtable with a rule at or
//! above the best hard match (every subtable without one) is
//! looked up staged and with the prefix and ports tries
//! ([`wc_all_matches`](crate::classifier::Classifier::wc_all_matches)),
//! which decides which of its rules match without pinning the bits that
//! do not.

use std::collections::BTreeMap;

use ferrovs_openflow::action::Action;
use ferrovs_openflow::{Field, Instruction, Value};

use super::Ctx;
use crate::classifier::ClsKey;
use crate::flow::{OfFlow, TlvMap};
use crate::rule::Rule;
use crate::table::OfTable;

/// The conjunction clauses of a soft rule: (id, clause, n_clauses).
fn clauses(r: &Rule) -> Option<Vec<(u32, u8, u8)>> {
    let mut v = Vec::new();
    for i in &r.instructions {
        match i {
            Instruction::ApplyActions(acts) => {
                for a in acts {
                    match a {
                        Action::Conjunction {
                            id,
                            clause,
                            n_clauses,
                        } => v.push((*id, *clause, *n_clauses)),
                        _ => return None,
                    }
                }
            }
            _ => return None,
        }
    }
    (!v.is_empty()).then_some(v)
}

/// True if `r` is a soft rule (what [`clauses`] would find clauses in),
/// without collecting them: the check every table lookup makes.
#[inline]
fn is_soft(r: &Rule) -> bool {
    let mut any = false;
    for i in &r.instructions {
        let Instruction::ApplyActions(acts) = i else {
            return false;
        };
        for a in acts {
            if !matches!(a, Action::Conjunction { .. }) {
                return false;
            }
            any = true;
        }
    }
    any
}

fn with_conj_id(flow: &OfFlow, id: u32) -> OfFlow {
    let mut f = *flow;
    let _ = f.set_field_tlv(Field::ConjId, &Value::from_u32(id), &TlvMap::EMPTY);
    f
}

/// A rule of a table with a conjunction, its classifier key and whether
/// it is a conjunction clause ("soft").
type Candidate<'r> = (ClsKey<'r>, &'r Rule, bool);

/// The best rule of `rules` (hard ones only) matching `flow`.
fn best_hard<'r>(rules: &[Candidate<'r>], flow: &OfFlow) -> Option<&'r Rule> {
    rules
        .iter()
        .filter(|(k, _, soft)| !soft && k.matches(flow))
        .map(|(_, r, _)| *r)
        .max_by_key(|r| r.priority)
}

impl<'a> Ctx<'a, '_> {
    /// The rule of `table` that applies to the flow (conjunctions
    /// evaluated), every bit examined added to the wildcards.
    pub(crate) fn table_lookup(&mut self, table: &'a OfTable) -> Option<&'a Rule> {
        let (_, hit) = table.cls.lookup(&self.flow, Some(&mut self.wc))?;
        let hit: &'a Rule = hit;
        if !is_soft(hit) {
            return Some(hit);
        }
        let rules: Vec<Candidate<'a>> = table
            .cls
            .iter()
            .map(|(k, r)| {
                let r: &'a Rule = r;
                (k, r, is_soft(r))
            })
            .collect();
        let result = self.conjunctive(&rules);
        // Megaflow: what decides every rule that could change the answer:
        // each subtable with a rule at or above the best hard match (all
        // of them without one), looked up staged and with the tries, as
        // OVS's classifier visits them (it goes on past soft matches
        // until a hard match stops it).
        let floor = best_hard(&rules, &self.flow).map_or(0, |r| r.priority);
        table
            .cls
            .wc_all_matches(&self.flow, floor as u32, &mut self.wc);
        result
    }

    fn conjunctive(&mut self, rules: &[Candidate<'a>]) -> Option<&'a Rule> {
        let flow = self.flow;
        let hard = best_hard(rules, &flow);
        let hard_pri = hard.map_or(-1, |r| r.priority as i32);
        // Matching soft rules above the hard match, by priority.
        let mut by_pri: BTreeMap<u16, Vec<&Rule>> = BTreeMap::new();
        for (k, r, soft) in rules {
            if *soft && r.priority as i32 > hard_pri && k.matches(&flow) {
                by_pri.entry(r.priority).or_default().push(r);
            }
        }
        for (_, soft) in by_pri.iter().rev() {
            // id -> (n_clauses, clauses seen)
            let mut seen: BTreeMap<u32, (u8, u64)> = BTreeMap::new();
            for r in soft {
                for (id, k, n) in clauses(r).unwrap_or_default() {
                    let e = seen.entry(id).or_insert((n, 0));
                    if e.0 == n && k < 64 {
                        e.1 |= 1 << k;
                    }
                }
            }
            for (id, (n, bits)) in seen {
                let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                if bits & all != all {
                    continue;
                }
                let f = with_conj_id(&flow, id);
                if let Some(r) = best_hard(rules, &f) {
                    return Some(r);
                }
            }
        }
        hard
    }
}

#[cfg(test)]
mod tests {
    use ferrovs_datapath::flow::layout as dp;

    use super::super::tests::{bridge, run, run_on};

    /// An OVN-style ACL: allow TCP from a set of sources to a set of
    /// ports with one conjunction (2 clauses), above a default drop.
    const ACL: &[&str] = &[
        "priority=2000,ip,nw_src=198.18.0.1 actions=conjunction(10,1/2)",
        "priority=2000,ip,nw_src=198.18.0.2 actions=conjunction(10,1/2)",
        "priority=2000,tcp,tp_dst=22 actions=conjunction(10,2/2)",
        "priority=2000,tcp,tp_dst=443 actions=conjunction(10,2/2)",
        "priority=2000,conj_id=10,ip actions=load:0x1->NXM_NX_REG0[0],output:2",
        "priority=1000,ip,nw_src=198.18.0.1 actions=output:3",
        "priority=0 actions=drop",
    ];

    #[test]
    fn all_clauses_match_runs_the_conj_id_rule() {
        let b = bridge("br0", &[1, 2, 3], ACL);
        assert_eq!(run(&b, "in_port=1,tcp,nw_src=198.18.0.1,tp_dst=22"), "102");
        assert_eq!(run(&b, "in_port=1,tcp,nw_src=198.18.0.2,tp_dst=443"), "102");
        // One clause only: the hard match below (or the drop).
        assert_eq!(run(&b, "in_port=1,tcp,nw_src=198.18.0.1,tp_dst=80"), "103");
        assert_eq!(run(&b, "in_port=1,tcp,nw_src=198.18.0.3,tp_dst=22"), "drop");
        assert_eq!(run(&b, "in_port=1,udp,nw_src=198.18.0.2"), "drop");
        // The megaflow has what the clauses read.
        let (_, o) = run_on(&[&b], 0, "in_port=1,tcp,nw_src=198.18.0.1,tp_dst=22");
        assert_eq!(
            o.wc.bits(dp::W_NW, dp::NW_SRC.shift as u32, 32),
            0xffff_ffff
        );
        assert_eq!(o.wc.bits(dp::W_TP, dp::TP_DST.shift as u32, 16), 0xffff);
    }

    #[test]
    fn higher_hard_match_wins_and_lower_conjunction_is_tried() {
        let b = bridge(
            "br0",
            &[1, 2, 3, 4],
            &[
                "priority=300,ip,nw_dst=198.18.0.9 actions=output:4",
                "priority=200,ip,nw_src=198.18.0.1 actions=conjunction(1,1/2)",
                "priority=200,tcp,tp_dst=22 actions=conjunction(1,2/2)",
                "priority=200,conj_id=1 actions=output:2",
                "priority=100,ip,nw_src=198.18.0.1 actions=conjunction(2,1/2)",
                "priority=100,ip,nw_dst=198.18.0.5 actions=conjunction(2,2/2)",
                "priority=100,conj_id=2 actions=output:3",
            ],
        );
        assert_eq!(
            run(
                &b,
                "in_port=1,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.9,tp_dst=22"
            ),
            "104"
        );
        // Conjunction 1 incomplete at 200; conjunction 2 at 100 complete.
        assert_eq!(
            run(
                &b,
                "in_port=1,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.5,tp_dst=80"
            ),
            "103"
        );
        assert_eq!(
            run(
                &b,
                "in_port=1,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.5,tp_dst=22"
            ),
            "102"
        );
    }
}
