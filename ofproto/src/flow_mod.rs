//! Flow-mod semantics, as OVS 3.1 implements them for each version.
//!
//! A wire [`FlowMod`] is first normalised into a [`FlowModReq`] (what
//! OVS's `ofputil_flow_mod` holds: the cookie to match, the cookie to set,
//! the table or "all", the canonical match), then applied to the tables.
//! Application records every change it makes in a [`Change`] list: that
//! list is both the undo log (a bundle that fails half way, or a flow-mod
//! whose later step fails, is reverted by replaying it backwards) and the
//! list of events to report once committed (flow-removed, flow monitors).
//!
//! Version differences (OVS `ofputil_decode_flow_mod`):
//! - OF1.0 and NXM: the flow-mod's cookie is the cookie to set; modify
//!   sets it on the rules it changes, and a modify that matches nothing
//!   adds a flow (unless an NXM cookie mask is given). OF1.0 exact matches
//!   get priority 0xffff. Without the flow_mod_table_id extension the table
//!   is "any": add goes to table 0, modify and delete reach every table.
//! - OF1.1: like 1.0 for modify without cookie mask, table 0xff refused.
//! - OF1.2+: modify matches cookie/cookie_mask, never adds, keeps cookies;
//!   table 0xff only for deletes.

use std::time::Instant;

use ferrovs_openflow::message::{FlowMod, FlowModCommand};
use ferrovs_openflow::port::OFPP_NONE;
use ferrovs_openflow::{ErrorCode, Instruction, Match, PortNo, Version};

use crate::classifier::Classifier;
use crate::flow::{MatchBuf, OfFlow, OfMatch};
use crate::ofproto::Ofproto;
use crate::rule::{Rule, RULE_FLAGS};
use crate::table::{N_TABLES, TABLE_HIDDEN};

/// OFPRR_* reasons.
pub const RR_IDLE_TIMEOUT: u8 = 0;
pub const RR_HARD_TIMEOUT: u8 = 1;
pub const RR_DELETE: u8 = 2;
pub const RR_GROUP_DELETE: u8 = 3;
pub const RR_METER_DELETE: u8 = 4;
pub const RR_EVICTION: u8 = 5;

/// A flow-mod in the switch's terms.
#[derive(Debug, Clone)]
pub struct FlowModReq {
    pub command: FlowModCommand,
    /// 0xff: all tables (modify/delete) or "pick" (add, OF1.0).
    pub table_id: u8,
    pub priority: u16,
    pub r#match: Match,
    /// On the heap: the request moves from step to step, the match stays.
    pub om: MatchBuf,
    /// The TLV table `om` was placed with, when the match has
    /// `tun_metadata` fields.
    pub tlv: Option<std::sync::Arc<crate::flow::TlvMap>>,
    /// Cookie and mask that select rules (modify/delete).
    pub cookie: u64,
    pub cookie_mask: u64,
    /// Cookie to give new/modified rules; None = keep (OVS's OVS_BE64_MAX).
    pub new_cookie: Option<u64>,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub importance: u16,
    pub buffer_id: u32,
    pub out_port: PortNo,
    pub out_group: u32,
    pub instructions: Vec<Instruction>,
}

/// How the flow-mod arrived.
#[derive(Debug, Clone, Copy)]
pub struct FlowModWire {
    pub version: Version,
    /// NXT_FLOW_MOD (OF1.0 family).
    pub nx: bool,
    /// flow_mod_table_id enabled on the connection.
    pub tid: bool,
    /// OF1.0 `ofp_match` wildcards were all zero (exact match).
    pub of10_exact: bool,
    /// NXM_NX_COOKIE of an NXT_FLOW_MOD: (cookie, mask) selecting rules.
    pub nx_cookie: Option<(u64, u64)>,
}

impl FlowModReq {
    /// Normalises a decoded flow-mod (OVS `ofputil_decode_flow_mod`),
    /// copying its match and instructions.
    pub fn from_wire(
        fm: &FlowMod,
        w: FlowModWire,
        tlv: &crate::flow::TlvMap,
    ) -> Result<FlowModReq, ErrorCode> {
        let mut req = Self::normalize(fm, w, tlv)?;
        req.r#match = fm.r#match.clone();
        req.instructions = fm
            .instructions
            .iter()
            .filter(|i| !is_empty_apply(i))
            .cloned()
            .collect();
        Ok(req)
    }

    /// As [`FlowModReq::from_wire`], taking the match and instructions
    /// over instead of copying them.
    pub fn from_wire_owned(
        mut fm: FlowMod,
        w: FlowModWire,
        tlv: &crate::flow::TlvMap,
    ) -> Result<FlowModReq, ErrorCode> {
        let mut req = Self::normalize(&fm, w, tlv)?;
        fm.instructions.retain(|i| !is_empty_apply(i));
        // Decoding grew these vectors; a rule keeps them for its life, so
        // they give back their spare room (a shrink is in place).
        fm.r#match.fields.shrink_to_fit();
        fm.instructions.shrink_to_fit();
        for i in &mut fm.instructions {
            if let Instruction::ApplyActions(a) | Instruction::WriteActions(a) = i {
                a.shrink_to_fit();
            }
        }
        req.r#match = fm.r#match;
        req.instructions = fm.instructions;
        Ok(req)
    }

    /// Every check and field of [`FlowModReq::from_wire`] except the match
    /// and the instructions, which are left empty (what a bundle checks
    /// when a flow-mod is added to it).
    pub(crate) fn normalize(
        fm: &FlowMod,
        w: FlowModWire,
        tlv: &crate::flow::TlvMap,
    ) -> Result<FlowModReq, ErrorCode> {
        use FlowModCommand::*;
        let is_modify = matches!(fm.command, Modify | ModifyStrict);
        let is_delete = matches!(fm.command, Delete | DeleteStrict);
        let (cookie, cookie_mask, new_cookie, table_id, priority);
        if w.version == Version::Of10 {
            let (match_cookie, match_mask) = w.nx_cookie.unwrap_or((0, 0));
            if w.nx && fm.command == Add && match_mask != 0 {
                return Err(ErrorCode::NxbrcNxmInvalid);
            }
            cookie = match_cookie & match_mask;
            cookie_mask = match_mask;
            // All ones: leave cookies alone (OVS's OVS_BE64_MAX).
            new_cookie = if fm.cookie == u64::MAX && fm.command != Add {
                None
            } else {
                Some(fm.cookie)
            };
            table_id = if w.tid { fm.table_id } else { 0xff };
            priority = if w.of10_exact && !w.nx {
                u16::MAX
            } else {
                fm.priority
            };
        } else {
            if fm.command == Add || (w.version == Version::Of11 && is_modify && fm.cookie_mask == 0)
            {
                cookie = 0;
                cookie_mask = 0;
                new_cookie = Some(fm.cookie);
            } else {
                cookie = fm.cookie;
                cookie_mask = fm.cookie_mask;
                new_cookie = None;
            }
            if fm.table_id == 0xff && (w.version == Version::Of11 || !is_delete) {
                return Err(ErrorCode::OfpfmfcBadTableId);
            }
            table_id = fm.table_id;
            priority = fm.priority;
        }
        if fm.flags & FlowMod::F_EMERG != 0 {
            return Err(if fm.hard_timeout != 0 || fm.idle_timeout != 0 {
                ErrorCode::OfpfmfcBadEmergTimeout
            } else {
                ErrorCode::OfpfmfcTableFull
            });
        }
        fm.r#match.check_prereqs().map_err(|e| e.code)?;
        let om = MatchBuf::from_match_tlv(&fm.r#match, tlv).map_err(|e| e.code())?;
        let tlv = uses_tun_metadata(&fm.r#match).then(|| std::sync::Arc::new(tlv.clone()));
        // Instruction checks that do not need the switch's state
        // (ofpacts_check): goto_table must go forward and exist.
        for i in &fm.instructions {
            if let Instruction::GotoTable(t) = i {
                if (table_id != 0xff && *t <= table_id) || *t as usize >= N_TABLES {
                    return Err(ErrorCode::OfpbicBadTableId);
                }
            }
        }
        Ok(FlowModReq {
            command: fm.command,
            table_id,
            priority,
            r#match: Match::default(),
            om,
            tlv,
            cookie,
            cookie_mask,
            new_cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags & RULE_FLAGS,
            importance: if w.version >= Version::Of14 && fm.command == Add {
                fm.importance
            } else {
                0
            },
            buffer_id: fm.buffer_id,
            out_port: if is_delete { fm.out_port } else { OFPP_NONE },
            out_group: if is_delete { fm.out_group } else { u32::MAX },
            instructions: Vec::new(),
        })
    }

    /// A request built by the switch itself (tests, learn): no cookie match.
    pub fn add(
        table_id: u8,
        priority: u16,
        m: &Match,
        instructions: Vec<Instruction>,
    ) -> FlowModReq {
        FlowModReq {
            command: FlowModCommand::Add,
            table_id,
            priority,
            r#match: m.clone(),
            om: MatchBuf::new(OfMatch::from_match(m).unwrap_or_default()),
            tlv: None,
            cookie: 0,
            cookie_mask: 0,
            new_cookie: Some(0),
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            importance: 0,
            buffer_id: u32::MAX,
            out_port: OFPP_NONE,
            out_group: u32::MAX,
            instructions,
        }
    }
}

/// An empty apply-actions does nothing: kept out of the rule, as OVS does,
/// so stats replies carry no instruction for it.
fn is_empty_apply(i: &Instruction) -> bool {
    matches!(i, Instruction::ApplyActions(a) if a.is_empty())
}

/// OFPFME_* events a flow monitor reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleEvent {
    Added,
    Modified,
    Removed(u8),
}

/// One change to the tables: undo record and event. Insert names its
/// rule by the wire match (a few dozen bytes; the canonical `OfMatch`,
/// 1.4 KB, is rebuilt from it only to undo or to report to monitors), so
/// that a bundle of 100,000 adds does not hold 100,000 copies of it.
#[derive(Debug)]
pub enum Change {
    /// A rule was inserted at (table, match, priority); `old` is the rule
    /// it replaced, if any.
    Insert {
        table_id: u8,
        r#match: Match,
        priority: u16,
        old: Option<Box<Rule>>,
        event: RuleEvent,
        /// The actions changed (monitors with NXFMF_ACTIONS care).
        actions_changed: bool,
    },
    /// A rule was removed for `reason`.
    Remove { rule: Box<Rule>, reason: u8 },
    /// Every rule of table `table_id` was removed for `reason` at once (a
    /// delete without match or filters): the table's former classifier,
    /// whole. Nothing reads its rules unless something must see them
    /// ([`Change::expand`]); its drop frees them.
    RemoveTable {
        table_id: u8,
        rules: Classifier<Box<Rule>>,
        reason: u8,
    },
}

impl Change {
    /// The rules this change took out of the tables (a replaced rule
    /// included).
    pub(crate) fn gone(&self) -> Box<dyn Iterator<Item = &Rule> + '_> {
        match self {
            Change::Remove { rule, .. } => Box::new(std::iter::once(&**rule)),
            Change::Insert { old, .. } => Box::new(old.iter().map(|r| &**r)),
            Change::RemoveTable { rules, .. } => Box::new(rules.iter().map(|(_, r)| &**r)),
        }
    }

    /// How many rules the change concerns.
    pub(crate) fn weight(&self) -> usize {
        match self {
            Change::RemoveTable { rules, .. } => rules.len(),
            _ => 1,
        }
    }

    /// `changes` with each whole-table removal turned into one `Remove`
    /// per rule, in descending priority (the order a report gives).
    pub(crate) fn expand(changes: Vec<Change>) -> Vec<Change> {
        if !changes
            .iter()
            .any(|c| matches!(c, Change::RemoveTable { .. }))
        {
            return changes;
        }
        let mut out = Vec::with_capacity(changes.iter().map(Change::weight).sum());
        for c in changes {
            match c {
                Change::RemoveTable { rules, reason, .. } => {
                    let mut gone = rules.into_all();
                    gone.sort_unstable_by_key(|(p, _)| std::cmp::Reverse(*p));
                    out.extend(
                        gone.into_iter()
                            .map(|(_, rule)| Change::Remove { rule, reason }),
                    );
                }
                c => out.push(c),
            }
        }
        out
    }
}

/// Which rules a modify, delete or flow-stats request selects.
#[derive(Debug, Clone)]
pub struct RuleCriteria<'a> {
    pub table_id: u8,
    pub om: &'a OfMatch,
    /// Some: strict (exact match and priority).
    pub strict_priority: Option<u16>,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub out_port: PortNo,
    pub out_group: u32,
}

impl RuleCriteria<'_> {
    /// The tables the criteria reach (never the hidden one).
    fn tables(&self) -> std::ops::Range<u8> {
        match self.table_id {
            0xff => 0..TABLE_HIDDEN,
            TABLE_HIDDEN => 0..0,
            t => t..t + 1,
        }
    }

    /// Whether any of the cookie, out_port and out_group filters is set
    /// (without one, [`RuleCriteria::keeps`] says yes to every rule).
    fn filters(&self) -> bool {
        self.cookie_mask != 0 || self.out_port != OFPP_NONE || self.out_group != u32::MAX
    }

    /// The cookie, out_port and out_group filters.
    fn keeps(&self, r: &Rule) -> bool {
        (r.cookie ^ self.cookie) & self.cookie_mask == 0
            && r.has_out_port(self.out_port)
            && r.has_out_group(self.out_group)
    }
}

impl Ofproto {
    /// `table_id` is 0xff or a table that exists (OVS check_table_id).
    pub(crate) fn check_table_id(&self, table_id: u8) -> bool {
        table_id == 0xff || (table_id as usize) < N_TABLES
    }

    /// Rules selected by `c`, table order then descending priority.
    /// Hidden-table rules are never selected. No match is copied.
    pub(crate) fn select_rules(&self, c: &RuleCriteria<'_>) -> Vec<&Rule> {
        let mut out: Vec<&Rule> = Vec::new();
        for t in c.tables() {
            let Some(table) = self.tables.get(t) else {
                continue;
            };
            if let Some(p) = c.strict_priority {
                if let Some(r) = table.cls.get(c.om, p as u32) {
                    if c.keeps(r) {
                        out.push(r);
                    }
                }
            } else {
                let start = out.len();
                out.extend(
                    table
                        .cls
                        .covered_by(c.om)
                        .map(|(_, r)| &**r)
                        .filter(|r| c.keeps(r)),
                );
                out[start..].sort_by_key(|r| std::cmp::Reverse(r.priority));
            }
        }
        out
    }

    /// Rules selected by `c` as (table, match, priority), in the order of
    /// [`Ofproto::select_rules`] (for modify, which replaces each).
    pub(crate) fn collect_rules(&self, c: &RuleCriteria<'_>) -> Vec<(u8, OfMatch, u16)> {
        let mut out = Vec::new();
        for t in c.tables() {
            let Some(table) = self.tables.get(t) else {
                continue;
            };
            if let Some(p) = c.strict_priority {
                if let Some(r) = table.cls.get(c.om, p as u32) {
                    if c.keeps(r) {
                        out.push((t, *c.om, r.priority));
                    }
                }
            } else {
                let start = out.len();
                for (k, r) in table.cls.covered_by(c.om) {
                    if c.keeps(r) {
                        out.push((t, k.r#match(), r.priority));
                    }
                }
                out[start..].sort_by_key(|k| std::cmp::Reverse(k.2));
            }
        }
        out
    }

    /// Groups and meters the instructions use must exist
    /// (OVS ofproto_check_ofpacts).
    fn check_references(&self, instructions: &[Instruction]) -> Result<(), ErrorCode> {
        if let Some(m) = crate::rule::meter_of(instructions) {
            if !self.meters.contains_key(&m) {
                return Err(ErrorCode::OfpmmfcInvalidMeter);
            }
        }
        let mut bad_group = false;
        crate::rule::each_action(instructions, &mut |a| {
            bad_group |=
                matches!(a, ferrovs_openflow::Action::Group(g) if !self.groups.contains_key(g));
            bad_group
        });
        if bad_group {
            return Err(ErrorCode::OfpbacBadOutGroup);
        }
        Ok(())
    }

    /// The checks OVS makes before touching the tables
    /// (`ofproto_flow_mod_init`): table id, read-only table, buffer id.
    /// A bundle makes them when the message is added.
    pub(crate) fn init_flow_mod(&self, req: &FlowModReq) -> Result<(), ErrorCode> {
        if !self.check_table_id(req.table_id) {
            return Err(ErrorCode::OfpbrcBadTableId);
        }
        let adds = !matches!(
            req.command,
            FlowModCommand::Delete | FlowModCommand::DeleteStrict
        );
        if adds && req.table_id == TABLE_HIDDEN {
            return Err(ErrorCode::OfpbrcEperm);
        }
        if adds && req.buffer_id != u32::MAX {
            return Err(ErrorCode::OfpbrcBufferUnknown);
        }
        Ok(())
    }

    /// Applies one flow-mod, appending what it did to `changes`. On error
    /// nothing of this flow-mod stays applied.
    pub(crate) fn apply_flow_mod(
        &mut self,
        req: FlowModReq,
        now: Instant,
        changes: &mut Vec<Change>,
    ) -> Result<(), ErrorCode> {
        self.init_flow_mod(&req)?;
        if req.idle_timeout != 0 || req.hard_timeout != 0 {
            // Expiry scans again from the next run.
            self.expiry_due = Some(self.expiry_due.map_or(now, |t| t.min(now)));
        }
        let mark = changes.len();
        let r = match req.command {
            FlowModCommand::Add => self.add_flow(req, now, changes),
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                self.modify_flows(req, now, changes)
            }
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                self.delete_flows(&req, changes);
                Ok(())
            }
        };
        if r.is_err() {
            let undo: Vec<Change> = changes.drain(mark..).collect();
            self.revert_changes(undo);
        }
        r
    }

    /// Adds the rule of `req`, which gives it its match and instructions.
    fn add_flow(
        &mut self,
        req: FlowModReq,
        now: Instant,
        changes: &mut Vec<Change>,
    ) -> Result<(), ErrorCode> {
        let table_id = if req.table_id == 0xff {
            0
        } else {
            req.table_id
        };
        if table_id == TABLE_HIDDEN {
            return Err(ErrorCode::OfpbrcEperm);
        }
        self.check_references(&req.instructions)?;
        self.learn_deletes |= crate::xlate::learn::deletes_learned(&req.instructions);
        let table = self.tables.get_mut(table_id).expect("table id checked");
        let prio = req.priority as u32;
        // Looking for an identical rule first is needed only to check
        // overlap or room; otherwise the insertion itself tells.
        let full = table.n_flows() as u64 >= table.max_flows as u64;
        let exists = (full || req.flags & FlowMod::F_CHECK_OVERLAP != 0)
            && table.cls.get(&req.om, prio).is_some();
        let mut evicted = None;
        if !exists {
            if req.flags & FlowMod::F_CHECK_OVERLAP != 0 && table.cls.overlaps(&req.om, prio) {
                return Err(ErrorCode::OfpfmfcOverlap);
            }
            if full {
                let victim = if table.eviction {
                    table.eviction_victim()
                } else {
                    None
                };
                let Some((vm, vp)) = victim else {
                    return Err(ErrorCode::OfpfmfcTableFull);
                };
                evicted = table.cls.remove(&vm, vp);
            }
        }
        let r#match = req.r#match.clone();
        let rule = Rule {
            table_id,
            priority: req.priority,
            r#match: req.r#match,
            cookie: req.new_cookie.unwrap_or(0),
            idle_timeout: req.idle_timeout,
            hard_timeout: req.hard_timeout,
            flags: req.flags,
            importance: req.importance,
            instructions: req.instructions,
            created: now,
            modified: now,
            used: now,
            packet_count: 0,
            byte_count: 0,
            tlv: req.tlv,
        };
        if let Some(ev) = evicted {
            changes.push(Change::Remove {
                rule: ev,
                reason: RR_EVICTION,
            });
        }
        let old = table.cls.insert(*req.om, prio, Box::new(rule));
        let mut actions_changed = true;
        if let Some(old) = &old {
            let new = table.cls.get_mut(&req.om, prio).expect("just inserted");
            actions_changed = old.instructions != new.instructions;
            // A replacing add keeps the counters unless reset_counts.
            if req.flags & FlowMod::F_RESET_COUNTS == 0 {
                new.packet_count = old.packet_count;
                new.byte_count = old.byte_count;
            }
        }
        changes.push(Change::Insert {
            table_id,
            r#match,
            priority: req.priority,
            old,
            event: RuleEvent::Added,
            actions_changed,
        });
        Ok(())
    }

    fn modify_flows(
        &mut self,
        req: FlowModReq,
        now: Instant,
        changes: &mut Vec<Change>,
    ) -> Result<(), ErrorCode> {
        let strict = req.command == FlowModCommand::ModifyStrict;
        let found = self.collect_rules(&RuleCriteria {
            table_id: req.table_id,
            om: &req.om,
            strict_priority: strict.then_some(req.priority),
            cookie: req.cookie,
            cookie_mask: req.cookie_mask,
            out_port: OFPP_NONE,
            out_group: u32::MAX,
        });
        if found.is_empty() {
            // OF1.0/1.1 (and NXM without a cookie mask): modify adds.
            if req.new_cookie.is_some() && req.cookie_mask == 0 {
                return self.add_flow(req, now, changes);
            }
            return Ok(());
        }
        self.check_references(&req.instructions)?;
        self.learn_deletes |= crate::xlate::learn::deletes_learned(&req.instructions);
        for (t, om, prio) in found {
            let table = self.tables.get_mut(t).expect("collected table");
            let old = table
                .cls
                .get(&om, prio as u32)
                .expect("collected rule")
                .clone();
            let mut rule = old.clone();
            rule.instructions = req.instructions.clone();
            rule.modified = now;
            if let Some(c) = req.new_cookie {
                rule.cookie = c;
            }
            if req.flags & FlowMod::F_RESET_COUNTS != 0 {
                rule.packet_count = 0;
                rule.byte_count = 0;
            }
            let actions_changed = old.instructions != rule.instructions;
            let cookie_changed = old.cookie != rule.cookie;
            let r#match = old.r#match.clone();
            table.cls.insert(om, prio as u32, rule);
            changes.push(Change::Insert {
                table_id: t,
                r#match,
                priority: prio,
                old: Some(old),
                event: RuleEvent::Modified,
                actions_changed: actions_changed || cookie_changed,
            });
        }
        Ok(())
    }

    fn delete_flows(&mut self, req: &FlowModReq, changes: &mut Vec<Change>) {
        let strict = req.command == FlowModCommand::DeleteStrict;
        let c = RuleCriteria {
            table_id: req.table_id,
            om: &req.om,
            strict_priority: strict.then_some(req.priority),
            cookie: req.cookie,
            cookie_mask: req.cookie_mask,
            out_port: req.out_port,
            out_group: req.out_group,
        };
        if strict {
            let found = self.collect_rules(&c);
            self.remove_rules(&found, RR_DELETE, changes);
            return;
        }
        // Loose: select and remove in one walk per table, then report in
        // descending priority (the order `collect_rules` gives).
        for t in c.tables() {
            let Some(table) = self.tables.get_mut(t) else {
                continue;
            };
            // Without filters no rule is read here, and a delete of every
            // rule (`del-flows`) takes the table's classifier whole.
            let all = !c.filters();
            if all && c.om.mask == OfFlow::default() {
                if !table.cls.is_empty() {
                    changes.push(Change::RemoveTable {
                        table_id: t,
                        rules: table.cls.take(),
                        reason: RR_DELETE,
                    });
                }
                continue;
            }
            let mut gone = table.cls.remove_covered(c.om, |_, r| all || c.keeps(r));
            gone.sort_unstable_by_key(|(p, _)| std::cmp::Reverse(*p));
            changes.reserve(gone.len());
            changes.extend(gone.into_iter().map(|(_, rule)| Change::Remove {
                rule,
                reason: RR_DELETE,
            }));
        }
    }

    /// Removes the given rules for `reason`, recording them.
    pub(crate) fn remove_rules(
        &mut self,
        rules: &[(u8, OfMatch, u16)],
        reason: u8,
        changes: &mut Vec<Change>,
    ) {
        for (t, om, prio) in rules {
            if let Some(rule) = self
                .tables
                .get_mut(*t)
                .and_then(|tb| tb.cls.remove(om, *prio as u32))
            {
                changes.push(Change::Remove { rule, reason });
            }
        }
    }

    /// Undoes `changes` (newest first).
    pub(crate) fn revert_changes(&mut self, changes: Vec<Change>) {
        for c in changes.into_iter().rev() {
            match c {
                Change::Insert {
                    table_id,
                    r#match,
                    priority,
                    old,
                    ..
                } => {
                    let om = OfMatch::from_match(&r#match).unwrap_or_default();
                    let t = self.tables.get_mut(table_id).expect("table");
                    match old {
                        Some(old) => {
                            t.cls.insert(om, priority as u32, old);
                        }
                        None => {
                            t.cls.remove(&om, priority as u32);
                        }
                    }
                }
                Change::Remove { rule, .. } => {
                    let t = self.tables.get_mut(rule.table_id).expect("table");
                    t.cls.insert(rule.om(), rule.priority as u32, rule);
                }
                Change::RemoveTable {
                    table_id, rules, ..
                } => {
                    // The newer changes are undone: the table is empty
                    // again, and takes its classifier back whole.
                    let t = self.tables.get_mut(table_id).expect("table");
                    if t.cls.is_empty() {
                        t.cls = rules;
                    } else {
                        for (p, rule) in rules.into_all() {
                            t.cls.insert(rule.om(), p, rule);
                        }
                    }
                }
            }
        }
    }
}

impl Ofproto {
    /// OFPT_FLOW_MOD / NXT_FLOW_MOD from `conn`.
    pub(crate) fn handle_flow_mod(
        &mut self,
        conn: &mut crate::connmgr::Connection,
        fm: FlowMod,
        raw: &[u8],
        xid: u32,
        nx: bool,
    ) -> Result<(), ErrorCode> {
        let req = self.flow_mod_request(conn, fm, raw, nx)?;
        let now = self.now();
        let mut changes = Vec::new();
        self.apply_flow_mod(req, now, &mut changes)?;
        self.commit_changes(changes, Some(conn), xid);
        Ok(())
    }

    /// Normalises a flow-mod received on `conn` (raw: the whole message).
    pub(crate) fn flow_mod_request(
        &self,
        conn: &crate::connmgr::Connection,
        fm: FlowMod,
        raw: &[u8],
        nx: bool,
    ) -> Result<FlowModReq, ErrorCode> {
        let wire = Self::flow_mod_wire(conn, &fm, raw, nx);
        FlowModReq::from_wire_owned(fm, wire, &self.tlv)
    }

    /// How a flow-mod arrived on `conn` (raw: the whole message).
    pub(crate) fn flow_mod_wire(
        conn: &crate::connmgr::Connection,
        fm: &FlowMod,
        raw: &[u8],
        nx: bool,
    ) -> FlowModWire {
        let v = conn.ver();
        // OF1.0 ofp_match wildcards (first body word) all clear = exact.
        let of10_exact = v == Version::Of10
            && !nx
            && raw.len() >= 12
            && u32::from_be_bytes([raw[8], raw[9], raw[10], raw[11]]) & 0x3f_ffff == 0;
        FlowModWire {
            version: v,
            nx,
            tid: conn.flow_mod_table_id,
            of10_exact,
            // The codec decodes NXM_NX_COOKIE into match_cookie/cookie_mask.
            nx_cookie: nx.then_some((fm.match_cookie, fm.cookie_mask)),
        }
    }
}

/// True if `m` matches a `tun_metadata<n>` field.
pub fn uses_tun_metadata(m: &Match) -> bool {
    m.fields
        .iter()
        .any(|f| f.field.tun_metadata_index().is_some())
}
