//! One OpenFlow rule (flow entry) of a table.
//!
//! A rule keeps the match as the controller sent it (`r#match`, re-encoded
//! in any version for flow stats and flow-removed), plus everything a
//! flow-mod sets and the counters that the datapath side (revalidators)
//! adds to. Its canonical [`OfMatch`] (what the classifier keys on) is not
//! stored here: the classifier holds it once, compactly (the shared mask
//! of its subtable and the rule's masked words), and [`Rule::om`] rebuilds
//! it from `r#match` when a rare path needs it.
//! Times are [`Instant`]s from the switch's clock, so tests can move time.

use std::time::Instant;

use ferrovs_openflow::action::Action;
use ferrovs_openflow::message::FlowMod;
use ferrovs_openflow::port::{OFPP_CONTROLLER, OFPP_NONE};
use ferrovs_openflow::{Instruction, Match, PortNo};

use crate::flow::OfMatch;

/// Flags a rule keeps (OVS's OFPUTIL_FF_STATE): send_flow_rem,
/// check_overlap, reset_counts, no_packet_counts, no_byte_counts.
pub const RULE_FLAGS: u16 = FlowMod::F_SEND_FLOW_REM
    | FlowMod::F_CHECK_OVERLAP
    | FlowMod::F_RESET_COUNTS
    | FlowMod::F_NO_PKT_COUNTS
    | FlowMod::F_NO_BYT_COUNTS;

#[derive(Debug, Clone)]
pub struct Rule {
    pub table_id: u8,
    pub priority: u16,
    /// The match as received (canonical form: [`Rule::om`]).
    pub r#match: Match,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// `RULE_FLAGS` bits.
    pub flags: u16,
    pub importance: u16,
    pub instructions: Vec<Instruction>,
    /// Set at add; kept by modify (not by a replacing add).
    pub created: Instant,
    /// Last add/modify (hard timeout and hard_age count from here).
    pub modified: Instant,
    /// Last packet (or `created`): idle timeout counts from here.
    pub used: Instant,
    pub packet_count: u64,
    pub byte_count: u64,
    /// The TLV table in force when the rule was added, kept only when its
    /// match has `tun_metadata` fields (their place in the option bytes).
    pub tlv: Option<std::sync::Arc<crate::flow::TlvMap>>,
}

/// Calls `f` on every action of `instructions`, nested ones (clone)
/// included, until it returns true; returns whether it did.
pub fn each_action(instructions: &[Instruction], f: &mut impl FnMut(&Action) -> bool) -> bool {
    fn walk(list: &[Action], f: &mut impl FnMut(&Action) -> bool) -> bool {
        for a in list {
            if f(a) {
                return true;
            }
            if let Action::Clone(inner) = a {
                if walk(inner, f) {
                    return true;
                }
            }
        }
        false
    }
    instructions.iter().any(|i| match i {
        Instruction::ApplyActions(l) | Instruction::WriteActions(l) => walk(l, f),
        _ => false,
    })
}

/// The meter `instructions` use (instruction in 1.3/1.4, action in 1.5).
pub fn meter_of(instructions: &[Instruction]) -> Option<u32> {
    let mut m = instructions.iter().find_map(|i| match i {
        Instruction::Meter(m) => Some(*m),
        _ => None,
    });
    if m.is_none() {
        each_action(instructions, &mut |a| {
            if let Action::Meter(id) = a {
                m = Some(*id);
                return true;
            }
            false
        });
    }
    m
}

impl Rule {
    /// The canonical match: what the rule was inserted under (a flow-mod's
    /// `OfMatch` is built from the same wire match). About 1.4 KB: for
    /// rare paths (trace, monitors, undo), not per rule of a big walk.
    pub fn om(&self) -> OfMatch {
        let tlv = self.tlv.as_deref().unwrap_or(&crate::flow::TlvMap::EMPTY);
        OfMatch::from_match_tlv(&self.r#match, tlv).unwrap_or_default()
    }

    /// A table-miss flow: priority 0, matching everything (OVS's
    /// `rule_is_table_miss`).
    pub fn is_table_miss(&self) -> bool {
        self.priority == 0 && self.om().mask.0.iter().all(|w| *w == 0)
    }

    /// Every action of the rule, nested ones (clone) included.
    pub fn each_action(&self, f: &mut impl FnMut(&Action) -> bool) -> bool {
        each_action(&self.instructions, f)
    }

    /// True if an action outputs to `port` (OFPP_NONE: always true), the
    /// `out_port` filter of delete and flow stats.
    pub fn has_out_port(&self, port: PortNo) -> bool {
        port == OFPP_NONE
            || self.each_action(&mut |a| match a {
                Action::Output { port: p, .. } | Action::Enqueue { port: p, .. } => *p == port,
                Action::Controller(_) => port == OFPP_CONTROLLER,
                _ => false,
            })
    }

    /// True if an action sends to group `group` (0xffffffff: always).
    pub fn has_out_group(&self, group: u32) -> bool {
        group == u32::MAX || self.each_action(&mut |a| matches!(a, Action::Group(g) if *g == group))
    }

    /// The groups this rule's actions use.
    pub fn groups(&self) -> Vec<u32> {
        let mut v = Vec::new();
        self.each_action(&mut |a| {
            if let Action::Group(g) = a {
                v.push(*g);
            }
            false
        });
        v
    }

    /// The meter of the rule (instruction in 1.3/1.4, action in 1.5).
    pub fn meter(&self) -> Option<u32> {
        meter_of(&self.instructions)
    }

    /// Seconds and nanoseconds since `created`.
    pub fn duration(&self, now: Instant) -> (u32, u32) {
        duration_since(self.created, now)
    }
}

/// (seconds, nanoseconds) from `then` to `now`, in whole milliseconds as
/// OVS reports durations.
pub fn duration_since(then: Instant, now: Instant) -> (u32, u32) {
    let d = now.saturating_duration_since(then);
    (d.as_secs() as u32, d.subsec_millis() * 1_000_000)
}
