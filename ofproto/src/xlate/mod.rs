//! Translation (xlate): a packet's flow through a bridge's OpenFlow tables
//! into datapath actions plus the megaflow mask of every bit examined.
//!
//! [`xlate`] is pure apart from the side effects it reports: it borrows the
//! bridges ([`BridgeRef`]: tables, ports, MAC table), walks the tables from
//! table 0 with one [`Ctx`] passed down, and returns an [`XlateOut`]: the
//! datapath actions, the wildcards (`wc`, an [`OfFlow`] mask whose first
//! `FLOW_WORDS` words are the megaflow mask), the rules that matched (for
//! stats) and the packet-ins to send. Upcalls, revalidation, packet-out
//! and `ofproto/trace` all call it; trace passes a [`Trace`] to see each
//! step.
//!
//! The context keeps two flows: `flow`, the packet as the OpenFlow actions
//! so far left it, and `base`, the packet as the datapath actions emitted so
//! far leave it. Before each output, [`commit`] emits the `set`/VLAN actions
//! that take `base` to `flow`, so header changes cost nothing until a packet
//! is actually sent. Each family of actions has its own file.

mod action_set;
pub mod bridge;
mod check_pkt;
mod commit;
mod commit_arp;
mod commit_icmp;
mod conjunction;
pub mod controller;
mod ct;
mod field_audit;
mod flow_hash;
pub mod freeze;
#[cfg(test)]
mod freeze_tests;
mod group;
pub(crate) mod learn;
mod meter;
mod mpls;
mod multipath;
pub mod odp_text;
mod output;
pub mod ovs_hash;
mod packet_type;
mod queue;
mod set;
mod tunnel;
mod tunnel_input;
mod vlan;

pub use tunnel_input::{tunnel_receive, tunnel_receive_scored};

use std::time::Instant;

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::action::Action;
use ferrovs_openflow::port::{OFPP_IN_PORT, OFPP_NONE};
use ferrovs_openflow::{Instruction, Version};
use smallvec::SmallVec;

use crate::flow::{geneve, OfFlow, OfMatch, TlvMap};
use action_set::ActionSet;
pub use bridge::{BridgePorts, BridgeRef, PatchPeer, PortVlan, VlanMode, XPort};
use freeze::Freezing;
pub use freeze::{FrozenAction, FrozenState, RecircTable};
pub use learn::{learned_text, LearnedFlow, TableEffect};

/// OVS's limit on nested resubmits (and patch port crossings).
pub const MAX_DEPTH: u32 = 64;
/// OVS's limit on resubmits in one translation.
pub const MAX_RESUBMITS: u32 = 4096;

/// OFPR_* packet-in reasons.
pub const REASON_NO_MATCH: u8 = 0;
pub const REASON_ACTION: u8 = 1;
pub const REASON_INVALID_TTL: u8 = 2;
/// OpenFlow 1.4 OFPR_PACKET_OUT: output:CONTROLLER in a packet-out.
pub const REASON_PACKET_OUT: u8 = 5;
/// OVS's private reason for a table-miss flow's controller action (sent
/// as no_match from OpenFlow 1.3, action before).
pub const REASON_EXPLICIT_MISS: u8 = 6;
/// OVS's private reason for a miss with no table-miss flow (its internal
/// miss rule: sent as no_match, and only to connections whose async
/// config asks for implicit misses).
pub const REASON_IMPLICIT_MISS: u8 = 7;

/// What a translation starts from.
pub struct XlateIn<'a> {
    /// Every bridge of the datapath (patch ports cross between them).
    pub bridges: &'a [BridgeRef<'a>],
    /// Index of the bridge the packet entered.
    pub bridge: usize,
    /// The packet; `in_port` holds the OpenFlow port number.
    pub flow: OfFlow,
    pub now: Instant,
    /// Learn MAC addresses (false for trace and revalidation, which must
    /// not change state).
    pub may_learn: bool,
    /// The datapath's recirculation ids (None: recirculation is not
    /// possible, and a flow with a recirc_id does not translate).
    pub recirc: Option<&'a RecircTable>,
    /// Native tunnelling's routes, neighbours and addresses (None: output
    /// to a tunnel port drops).
    pub tnl: Option<&'a crate::tunnel::TnlState>,
}

/// A rule a translation went through (for stats), borrowed from the
/// bridge's tables.
#[derive(Debug, Clone, Copy)]
pub struct RuleHit<'a> {
    pub bridge: usize,
    pub rule: &'a crate::rule::Rule,
}

/// One lookup in an OpenFlow table (the table's lookup_count, and its
/// matched_count when `matched`).
#[derive(Clone, Copy)]
pub struct TableLookup<'a> {
    pub table: &'a crate::table::OfTable,
    pub matched: bool,
}

impl std::fmt::Debug for TableLookup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TableLookup(matched: {})", self.matched)
    }
}

/// A packet-in to send to the bridge's controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    pub bridge: usize,
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub max_len: u16,
    pub controller_id: u16,
    pub userdata: Vec<u8>,
    /// The flow at the time of the packet-in (the match to send).
    pub flow: OfFlow,
    /// `controller(pause)`: the frozen rest of the translation, for the
    /// controller to resume (`NXT_RESUME`).
    pub continuation: Option<std::sync::Arc<FrozenState>>,
}

/// A MAC address NORMAL learned: on `bridge`, `mac` in `vlan` on `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacLearned {
    pub bridge: usize,
    pub vlan: u16,
    pub mac: u64,
    pub port: u16,
}

/// Why a translation was cut short (its actions are then dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XlateError {
    #[error("over max translation depth {MAX_DEPTH}")]
    TooDeep,
    #[error("over {MAX_RESUBMITS} resubmit actions")]
    TooManyResubmits,
    #[error("No recirculation context")]
    NoRecircContext,
    #[error("more MPLS labels than the flow holds")]
    TooManyMplsLabels,
    /// Geneve options the TLV map cannot read (OVS's
    /// XLATE_INVALID_TUNNEL_METADATA).
    #[error("Invalid tunnel metadata")]
    InvalidTunnelMetadata,
    /// `encap`/`decap` of a packet type that cannot take it (OVS's
    /// XLATE_UNSUPPORTED_PACKET_TYPE).
    #[error("Unsupported packet type")]
    UnsupportedPacketType,
}

/// Rules and table lookups an [`XlateOut`] holds without allocating.
pub const INLINE_HITS: usize = 16;

/// The result of a translation.
#[derive(Debug, Clone, Default)]
pub struct XlateOut<'a> {
    pub actions: Vec<DpAction>,
    /// Every bit examined; `wc.to_dp()` is the megaflow mask.
    pub wc: OfFlow,
    /// Inline up to [`INLINE_HITS`] (no allocation for a typical
    /// pipeline; upcalls do not even read them).
    pub rules: SmallVec<[RuleHit<'a>; INLINE_HITS]>,
    /// Every table lookup, hit or miss, resubmits included (OVS counts
    /// each `rule_dpif_lookup_from_table` the same way).
    pub lookups: SmallVec<[TableLookup<'a>; INLINE_HITS]>,
    pub packet_ins: Vec<PacketIn>,
    /// MAC learning changed a table (megaflows may need revalidation).
    pub mac_changed: bool,
    /// The first MAC address NORMAL learned (or would learn: also set
    /// without `may_learn`), for the revalidator's cache to refresh.
    pub mac_learned: Option<MacLearned>,
    /// A side effect the revalidator's cache cannot replay happened (or
    /// would, with `may_learn`): learn, fin_timeout, neighbour snooping or
    /// requests, a second MAC learned. Such megaflows are translated
    /// again when used.
    pub uncacheable: bool,
    pub error: Option<XlateError>,
    /// The flow at the end.
    pub final_flow: OfFlow,
    /// Recirculation ids this translation allocated, one reference each
    /// (the caller gives them back or hands them to the megaflow).
    pub recircs: Vec<u32>,
    /// Flows to learn and timeouts to shorten (real packets only).
    pub learned: Vec<TableEffect>,
    /// Each `ct(table=)` recirculation: (id, zone, the flow the tracker
    /// sees, the action's NAT), for `ofproto/trace` to follow.
    pub ct_recircs: Vec<(
        u32,
        u16,
        OfFlow,
        Option<ferrovs_datapath::conntrack::NatSpec>,
    )>,
}

/// Trace lines, as `ofproto/trace` prints them between the `Flow:` line
/// and the `Final flow:` line.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    pub lines: Vec<String>,
}

impl Trace {
    fn push(&mut self, indent: usize, s: String) {
        self.lines.push(format!("{}{}", " ".repeat(indent), s));
    }
}

/// The translation context, passed down to every action family.
pub struct Ctx<'a, 't> {
    pub(crate) bridges: &'a [BridgeRef<'a>],
    pub(crate) bridge: usize,
    pub(crate) flow: OfFlow,
    pub(crate) base: OfFlow,
    pub(crate) wc: OfFlow,
    pub(crate) now: Instant,
    pub(crate) may_learn: bool,
    pub(crate) table_id: u8,
    pub(crate) depth: u32,
    pub(crate) resubmits: u32,
    pub(crate) action_set: ActionSet,
    pub(crate) exit: bool,
    pub(crate) stack: Vec<u128>,
    pub(crate) rule_cookie: u64,
    pub(crate) recirc: Option<&'a RecircTable>,
    pub(crate) freezing: Freezing,
    /// `dp_hash` was computed for this packet (see `FrozenState::hashed`).
    pub(crate) dp_hash_valid: bool,
    /// The rule whose actions run.
    pub(crate) rule: Option<&'a crate::rule::Rule>,
    /// Set by check_pkt_larger when its branches ran the rest of the
    /// rule's instructions (taken by `run_instructions`).
    pub(crate) tail_done: bool,
    pub(crate) out: XlateOut<'a>,
    pub(crate) trace: Option<&'t mut Trace>,
    pub(crate) tnl: Option<&'a crate::tunnel::TnlState>,
    /// The ingress bridge's Geneve TLV map (`tun_metadata<n>`).
    pub(crate) tlv: &'a TlvMap,
    /// The action being run is the last one of the translation (OVS's
    /// `is_last_action`): a tunnel output then needs no `clone`.
    pub(crate) last: bool,
    /// Translating a packet-out's actions (output:CONTROLLER gives reason
    /// packet_out, as OVS's `in_packet_out`).
    pub(crate) in_packet_out: bool,
    /// The packet went through the tracker in this pass (OVS's
    /// `conntracked`): frozen states carry it.
    pub(crate) conntracked: bool,
    /// MPLS was popped to a non-MPLS type in this pass (OVS's
    /// `was_mpls`): the L3 header is not parsed yet, so a table lookup,
    /// a select group or an action that reads or writes L3 first
    /// recirculates, and the datapath parses the packet again.
    pub(crate) was_mpls: bool,
}

/// Translates `input.flow` through the tables of `input.bridge`.
pub fn xlate<'a>(input: &XlateIn<'a>) -> XlateOut<'a> {
    xlate_traced(input, None)
}

/// As [`xlate`], recording each step in `trace`.
pub fn xlate_traced<'a>(input: &XlateIn<'a>, trace: Option<&mut Trace>) -> XlateOut<'a> {
    let mut ctx = Ctx::new(input, trace);
    ctx.trace_bridge();
    if !ctx.tnl_process_ecn() {
        return ctx.finish();
    }
    // A decapsulated packet's Geneve options, read with this bridge's TLV
    // map (as OVS's xlate_actions does with UDPIF options).
    if ctx.flow.0[dp::W_TUN_GNV] != 0 {
        let tlv = ctx.tlv;
        let mapped = geneve::map_options(&mut ctx.flow, tlv)
            .and_then(|_| geneve::map_options(&mut ctx.base, tlv));
        if let Err(e) = mapped {
            ctx.note(|| format!("Invalid Geneve tunnel metadata: {e}"));
            ctx.out.error = Some(XlateError::InvalidTunnelMetadata);
            return ctx.finish();
        }
    }
    match freeze::recirc_id(&input.flow) {
        0 => {
            ctx.legacy_l3_input();
            ctx.pipeline(0)
        }
        id => ctx.thaw(id),
    }
    // The action set, if any, ends the translation.
    ctx.last = true;
    ctx.finish_pipeline();
    ctx.finish()
}

impl<'a, 't> Ctx<'a, 't> {
    /// A context at the start of `input`'s translation.
    pub(crate) fn new(input: &XlateIn<'a>, trace: Option<&'t mut Trace>) -> Ctx<'a, 't> {
        let mut wc = OfFlow::default();
        init_wc(&input.flow, &mut wc);
        Ctx {
            bridges: input.bridges,
            bridge: input.bridge,
            flow: input.flow,
            base: input.flow,
            wc,
            now: input.now,
            may_learn: input.may_learn,
            table_id: 0,
            depth: 0,
            resubmits: 0,
            action_set: ActionSet::default(),
            exit: false,
            stack: Vec::new(),
            rule_cookie: 0,
            recirc: input.recirc,
            freezing: Freezing::default(),
            dp_hash_valid: false,
            rule: None,
            tail_done: false,
            // Sized for a typical pipeline: growing these was a tenth of
            // an upcall's cost (rules and lookups are inline). Field by
            // field: `..XlateOut::default()` built a whole default (two
            // flows zeroed) and then copied it in.
            out: XlateOut {
                actions: Vec::with_capacity(8),
                wc: OfFlow::default(),
                rules: SmallVec::new(),
                lookups: SmallVec::new(),
                packet_ins: Vec::new(),
                mac_changed: false,
                mac_learned: None,
                uncacheable: false,
                error: None,
                final_flow: OfFlow::default(),
                recircs: Vec::new(),
                learned: Vec::new(),
                ct_recircs: Vec::new(),
            },
            trace,
            tnl: input.tnl,
            tlv: &input.bridges[input.bridge].ofproto.tlv,
            last: true,
            in_packet_out: false,
            conntracked: false,
            was_mpls: false,
        }
    }

    /// The result (an error drops every action). By reference: moving
    /// the whole context here cost more than the rest of the call.
    pub(crate) fn finish(&mut self) -> XlateOut<'a> {
        if let Some(e) = self.out.error {
            self.out.actions.clear();
            self.note(|| format!("error: {e}, dropping"));
        }
        // As OVS's xlate_wc_finish: a packet that did not come from a tunnel
        // has no tunnel metadata to match, whatever the tables read.
        let tun = &self.base.0[dp::W_TUN_V4..dp::W_TUN_MISC];
        if tun.iter().all(|w| *w == 0) {
            self.wc.0[dp::W_TUN_ID..dp::W_DL_DST].fill(0);
        }
        // The tun_metadata bits read become a mask over the raw options.
        geneve::options_mask(&self.base, &mut self.wc, self.tlv);
        // Built field by field into the caller's slot: taking `out` whole
        // would zero a default in its place and copy both flows twice.
        let o = &mut self.out;
        XlateOut {
            actions: std::mem::take(&mut o.actions),
            wc: self.wc,
            rules: std::mem::take(&mut o.rules),
            lookups: std::mem::take(&mut o.lookups),
            packet_ins: std::mem::take(&mut o.packet_ins),
            mac_changed: std::mem::take(&mut o.mac_changed),
            mac_learned: o.mac_learned.take(),
            uncacheable: std::mem::take(&mut o.uncacheable),
            error: o.error.take(),
            final_flow: self.flow,
            recircs: std::mem::take(&mut o.recircs),
            learned: std::mem::take(&mut o.learned),
            ct_recircs: std::mem::take(&mut o.ct_recircs),
        }
    }
}

/// The bits every megaflow matches, as OVS's `xlate_wc_init`: the input
/// port, the recirculation id, the Ethernet type and, for IP, the
/// fragment bits.
fn init_wc(flow: &OfFlow, wc: &mut OfFlow) {
    wc.0[dp::W_MD0] |= dp::IN_PORT.word_mask() | dp::RECIRC_ID.word_mask();
    wc.0[dp::W_DL_TYPE] |= dp::DL_TYPE.word_mask() | dp::PACKET_TYPE_NS.word_mask();
    if is_ip_any(flow) {
        wc.0[dp::W_NW_MISC] |= dp::NW_FRAG.word_mask();
    }
    tunnel::tnl_wc_init(flow, wc);
}

pub(crate) fn dl_type(f: &OfFlow) -> u16 {
    f.bits(dp::W_DL_TYPE, dp::DL_TYPE.shift as u32, 16) as u16
}

pub(crate) fn nw_proto(f: &OfFlow) -> u8 {
    f.bits(dp::W_NW_MISC, dp::NW_PROTO.shift as u32, 8) as u8
}

pub(crate) fn is_ip_any(f: &OfFlow) -> bool {
    matches!(dl_type(f), 0x0800 | 0x86dd)
}

pub fn in_port(f: &OfFlow) -> u16 {
    f.bits(dp::W_MD0, dp::IN_PORT.shift as u32, 32) as u16
}

pub fn set_in_port(f: &mut OfFlow, p: u16) {
    f.set_bits(dp::W_MD0, dp::IN_PORT.shift as u32, 32, p as u64);
}

impl<'a, 't> Ctx<'a, 't> {
    /// The end of a bridge's pipeline: the action set runs unless the
    /// translation is freezing (then it is part of the frozen state), and
    /// a freeze still open is finished.
    pub(crate) fn finish_pipeline(&mut self) {
        if self.out.error.is_none() && !self.freezing.active && !self.action_set.is_empty() {
            let set = std::mem::take(&mut self.action_set);
            self.note(|| "action set:".to_string());
            self.exit = false;
            self.do_actions(&set.into_ordered());
        }
        if self.freezing.active && self.out.error.is_none() {
            self.finish_freezing();
        }
    }

    pub(crate) fn br(&self) -> BridgeRef<'a> {
        self.bridges[self.bridge]
    }

    fn indent(&self) -> usize {
        self.depth as usize * 4
    }

    /// A trace line under the current rule (built only when tracing).
    pub(crate) fn note(&mut self, s: impl FnOnce() -> String) {
        let ind = self.indent() + 4;
        if let Some(t) = self.trace.as_deref_mut() {
            t.push(ind, s());
        }
    }

    pub(crate) fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    fn trace_bridge(&mut self) {
        let ind = self.indent();
        let name = self.br().name().to_string();
        if let Some(t) = self.trace.as_deref_mut() {
            let head = format!("bridge(\"{name}\")");
            let dashes = "-".repeat(head.len());
            if !t.lines.is_empty() {
                t.push(0, String::new());
            }
            t.push(ind, head);
            t.push(ind, dashes);
        }
    }

    /// Walks the pipeline from `table_id`: a miss applies the table-miss
    /// behaviour, goto_table continues.
    fn pipeline(&mut self, table_id: u8) {
        self.lookup_and_run(table_id, true);
    }

    /// Looks `flow` up in `table_id` and runs the rule found. `pipeline`:
    /// a miss is a table miss (OpenFlow semantics), otherwise (resubmit)
    /// it does nothing.
    pub(crate) fn lookup_and_run(&mut self, table_id: u8, pipeline: bool) {
        self.lookup_as_and_run(table_id, pipeline, None)
    }

    /// [`Self::lookup_and_run`] with the lookup (only) made as if the
    /// packet came in on `lookup_in_port`: `resubmit(port,table)` looks up
    /// with the new input port, then runs the rule's actions with the
    /// packet's own (as OVS's rule_dpif_lookup_from_table restores it), so
    /// that output to the real input port is still skipped.
    fn lookup_as_and_run(&mut self, table_id: u8, pipeline: bool, lookup_in_port: Option<u16>) {
        let br = self.br();
        let Some(table) = br.ofproto.tables.get(table_id) else {
            return;
        };
        let ind = self.indent();
        let found = match lookup_in_port {
            Some(p) => {
                let real = in_port(&self.flow);
                set_in_port(&mut self.flow, p);
                let found = self.table_lookup(table);
                set_in_port(&mut self.flow, real);
                found
            }
            None => self.table_lookup(table),
        };
        self.out.lookups.push(TableLookup {
            table,
            matched: found.is_some(),
        });
        let Some(rule) = found else {
            if let Some(t) = self.trace.as_deref_mut() {
                t.push(ind, format!("{table_id:2}. No match."));
            }
            if pipeline {
                self.table_miss(table_id, table.miss_config);
            } else {
                self.note(|| "drop".to_string());
            }
            return;
        };
        if self.tracing() {
            let m = format_rule_match(rule);
            let mut line = format!("{table_id:2}. ");
            if !m.is_empty() {
                line.push_str(&m);
                line.push_str(", ");
            }
            line.push_str(&format!("priority {}", rule.priority));
            if rule.cookie != 0 {
                line.push_str(&format!(", cookie {:#x}", rule.cookie));
            }
            if let Some(t) = self.trace.as_deref_mut() {
                t.push(ind, line);
            }
        }
        self.out.rules.push(RuleHit {
            bridge: self.bridge,
            rule,
        });
        let (old_table, old_cookie, old_rule) = (self.table_id, self.rule_cookie, self.rule);
        self.table_id = table_id;
        self.rule_cookie = rule.cookie;
        self.rule = Some(rule);
        self.run_instructions(&rule.instructions, pipeline);
        self.table_id = old_table;
        self.rule_cookie = old_cookie;
        self.rule = old_rule;
    }

    /// A miss in the pipeline: OFPTC11_TABLE_MISS_CONTINUE goes on to the
    /// next table, DROP drops, and the default (OVS's) sends a packet-in
    /// with OVS's implicit miss reason (no_match on the wire) while a
    /// controller wants table misses (one below OpenFlow 1.3), else drops. The packet-in's `userspace`
    /// action goes into the megaflow, so every later packet of the flow
    /// comes to the controller too, as OVS's miss rule does.
    fn table_miss(&mut self, table_id: u8, _miss_config: u32) {
        use crate::table_mod::TableMiss;
        match self.bridges[self.bridge].ofproto.table_miss(table_id) {
            TableMiss::Continue if (table_id as usize) + 1 < crate::table::N_TABLES => {
                self.note(|| format!("continuing to table {}", table_id + 1));
                self.pipeline(table_id + 1)
            }
            TableMiss::Continue | TableMiss::Drop => self.note(|| "drop".to_string()),
            TableMiss::Controller => {
                self.commit();
                let pi = PacketIn {
                    bridge: self.bridge,
                    reason: REASON_IMPLICIT_MISS,
                    table_id,
                    // OVS's miss rule has cookie 0 (NXT_PACKET_IN2 shows it).
                    cookie: 0,
                    max_len: u16::MAX,
                    controller_id: 0,
                    userdata: Vec::new(),
                    flow: self.flow,
                    continuation: None,
                };
                self.controller_action(pi);
            }
        }
    }

    fn run_instructions(&mut self, insts: &'a [Instruction], _pipeline: bool) {
        // Execution order of OpenFlow 1.3 section 5.9.
        if let Some(Instruction::Meter(m)) =
            insts.iter().find(|i| matches!(i, Instruction::Meter(_)))
        {
            self.meter(*m);
        }
        for i in insts {
            if let Instruction::ApplyActions(acts) = i {
                self.trace_actions(acts);
                self.do_actions(acts);
            }
        }
        if self.freezing.active {
            self.freeze_instructions(insts);
            return;
        }
        // check_pkt_larger already ran the rest of the rule in its branches.
        if std::mem::take(&mut self.tail_done) {
            return;
        }
        self.run_tail(insts);
    }

    /// The instructions after apply-actions: clear and write the action
    /// set, write metadata, then goto_table.
    pub(crate) fn run_tail(&mut self, insts: &'a [Instruction]) {
        let mut goto = None;
        for i in insts {
            match i {
                Instruction::ClearActions => {
                    self.note(|| "clear_actions".to_string());
                    self.action_set.clear();
                }
                Instruction::WriteActions(acts) => {
                    self.note(|| format!("write_actions({})", actions_text(acts)));
                    self.action_set.write(acts);
                }
                Instruction::WriteMetadata { metadata, mask } => {
                    self.note(|| format!("write_metadata:{metadata:#x}/{mask:#x}"));
                    let w = &mut self.flow.0[crate::flow::W_METADATA];
                    *w = (*w & !mask) | (metadata & mask);
                }
                Instruction::GotoTable(t) => goto = Some(*t),
                _ => {}
            }
        }
        if let Some(t) = goto {
            if self.exit || self.out.error.is_some() {
                return;
            }
            if self.was_mpls {
                // As a resubmit after pop_mpls: looked up after the
                // datapath parsed the packet again.
                self.trigger_freeze();
                self.freezing
                    .actions
                    .push(freeze::FrozenAction::Act(Action::Resubmit {
                        in_port: ferrovs_openflow::port::OFPP_IN_PORT,
                        table: t,
                        ct: false,
                    }));
                return;
            }
            self.note(|| format!("goto_table:{t}"));
            self.pipeline(t);
        }
    }

    fn trace_actions(&mut self, acts: &[Action]) {
        if self.tracing() && acts.is_empty() {
            self.note(|| "drop".to_string());
        }
    }

    /// Runs an action list (stops at `exit` or an error).
    pub(crate) fn do_actions(&mut self, acts: &[Action]) {
        let outer = self.last;
        for (i, a) in acts.iter().enumerate() {
            if self.out.error.is_some() {
                break;
            }
            if self.exit {
                if self.freezing.active {
                    // Frozen under a resubmit: the rest runs after thawing.
                    self.freeze_unroll(&acts[i..]);
                }
                break;
            }
            self.last = outer && i + 1 == acts.len() && self.action_set.is_empty();
            if self.tracing() {
                self.note(|| actions_text(std::slice::from_ref(a)));
            }
            if self.was_mpls && crate::xlate::mpls::needs_reparse(a) {
                // The action runs after the datapath parsed the popped
                // packet again.
                self.note(|| "recirculating to parse the packet after pop_mpls".to_string());
                self.trigger_freeze();
                self.freeze_unroll(&acts[i..]);
                break;
            }
            if let Action::CheckPktLarger { pkt_len, dst } = a {
                // Translates the rest of the list itself, once per branch.
                self.check_pkt_larger(*pkt_len, dst, &acts[i + 1..]);
                self.last = outer;
                return;
            }
            if !self.do_action(a) {
                break;
            }
            if self.exit && self.freezing.active && self.first_frozen_action() {
                // This action froze the translation: it runs again, with
                // the rest, after thawing (a pause itself does not).
                let from = if self.freezing.pause.is_some() {
                    i + 1
                } else {
                    i
                };
                self.freeze_unroll(&acts[from..]);
                break;
            }
        }
        self.last = outer;
    }

    /// One action; false stops the list (dec_ttl at zero).
    fn do_action(&mut self, a: &Action) -> bool {
        use Action as A;
        match a {
            A::Output { port, max_len } => self.output(*port, *max_len),
            A::Enqueue { port, queue } => self.enqueue(*port, *queue),
            A::OutputTrunc { port, .. } => self.output(*port, 0),
            A::OutputReg { src, max_len } => {
                let p = self.read_subfield(src).unwrap_or(OFPP_NONE as u128);
                self.output(p as u16, *max_len)
            }
            A::Resubmit { in_port, table, .. } => self.resubmit(*in_port, *table),
            A::Group(g) => {
                let last = std::mem::replace(&mut self.last, false);
                self.group(*g);
                self.last = last;
            }
            A::Controller(c) if c.pause => self.trigger_pause(c),
            A::Controller(c) => {
                self.packet_in(c.reason, c.max_len, c.controller_id, c.userdata.clone())
            }
            A::Exit => self.exit = true,
            A::Learn(l) => self.learn(l),
            A::FinTimeout { idle, hard } => self.fin_timeout(*idle, *hard),
            A::Multipath(mp) => self.multipath(mp),
            A::Bundle(b) => self.bundle(b),
            A::PushMpls(t) => self.push_mpls(*t),
            A::PopMpls(t) => self.pop_mpls(*t),
            A::SetMplsLabel(l) => self.set_mpls_label(*l),
            A::SetMplsTc(t) => self.set_mpls_tc(*t),
            A::SetMplsTtl(t) => self.set_mpls_ttl(*t),
            A::DecMplsTtl => return self.dec_mpls_ttl(),
            A::Note(_) | A::Conjunction { .. } => {}
            A::SetQueue(q) => self.set_queue(*q),
            A::PopQueue => self.pop_queue(),
            A::Meter(m) => self.meter(*m),
            A::Sample(_) => self.sample(),
            A::WriteMetadata { metadata, mask } => {
                let w = &mut self.flow.0[crate::flow::W_METADATA];
                *w = (*w & !mask) | (metadata & mask);
            }
            A::Clone(inner) => {
                let saved = self.flow;
                let saved_mpls = self.was_mpls;
                let saved_set = self.action_set.clone();
                let last = std::mem::replace(&mut self.last, false);
                self.do_actions(inner);
                self.last = last;
                if self.freezing.active {
                    self.finish_freezing();
                }
                self.flow = saved;
                self.was_mpls = saved_mpls;
                self.action_set = saved_set;
                self.exit = false;
            }
            A::Encap { packet_type, .. } => self.encap(*packet_type),
            A::Decap { .. } => self.decap(),
            A::PushVlan(_) | A::PopVlan | A::SetVlanVid(_) | A::SetVlanPcp(_) => self.vlan(a),
            A::DecTtl => return self.dec_ttl(&[0]),
            A::DecTtlCntIds(ids) => return self.dec_ttl(ids),
            A::Ct(c) => self.conntrack(c),
            A::CtClear => self.ct_clear(),
            A::StackPush(sf) => {
                let v = self.read_subfield(sf).unwrap_or(0);
                self.stack.push(v);
            }
            A::StackPop(sf) => {
                if let Some(v) = self.stack.pop() {
                    self.write_subfield(sf, v);
                }
            }
            _ => {
                if !self.set_action(a) {
                    self.note(|| "(action not supported by ferrovs translation yet)".to_string());
                }
            }
        }
        true
    }

    /// `resubmit(port,table)`.
    fn resubmit(&mut self, port: u16, table: u8) {
        if self.depth >= MAX_DEPTH {
            self.out.error = Some(XlateError::TooDeep);
            return;
        }
        if self.resubmits >= MAX_RESUBMITS {
            self.out.error = Some(XlateError::TooManyResubmits);
            return;
        }
        self.resubmits += 1;
        let table = if table == 0xff { self.table_id } else { table };
        let lookup_in = (port != OFPP_IN_PORT).then_some(port);
        self.depth += 1;
        self.lookup_as_and_run(table, false, lookup_in);
        self.depth -= 1;
    }

    /// Queues a packet-in and, on the datapath, a `userspace` action that
    /// brings the packet to the slow path.
    pub(crate) fn packet_in(&mut self, reason: u8, max_len: u16, id: u16, userdata: Vec<u8>) {
        self.commit();
        // A table-miss flow's action is an explicit miss (OVS).
        let reason = match self.rule {
            Some(r) if reason == REASON_ACTION && r.is_table_miss() => REASON_EXPLICIT_MISS,
            _ => reason,
        };
        let pi = PacketIn {
            bridge: self.bridge,
            reason,
            table_id: self.table_id,
            cookie: self.rule_cookie,
            max_len,
            controller_id: id,
            userdata,
            flow: self.flow,
            continuation: None,
        };
        self.controller_action(pi);
    }
}

/// A rule's match as `ovs-ofctl` prints it (empty for match-all).
pub fn format_match(om: &OfMatch) -> String {
    let m = om.to_match(Version::Of15);
    match ferrovs_openflow::text::wire::match_from_wire(&m) {
        Ok(fm) => fm.format(None),
        Err(e) => format!("<{e}>"),
    }
}

/// A rule's match as a trace prints it: [`format_match`] with the rule's
/// `tun_metadata<n>` fields (which the flow text cannot hold) after the
/// other tunnel fields, where OVS puts them.
pub fn format_rule_match(rule: &crate::rule::Rule) -> String {
    let base = format_match(&rule.om());
    let hex = option_hex;
    let md: Vec<String> = rule
        .r#match
        .fields
        .iter()
        .filter(|f| f.field.tun_metadata_index().is_some())
        .map(|f| match &f.mask {
            Some(m) => format!(
                "{}={}/{}",
                f.field.name(),
                hex(f.value.as_bytes()),
                hex(m.as_bytes())
            ),
            None => format!("{}={}", f.field.name(), hex(f.value.as_bytes())),
        })
        .collect();
    if md.is_empty() {
        return base;
    }
    let mut items: Vec<String> = if base.is_empty() {
        Vec::new()
    } else {
        base.split(',').map(str::to_string).collect()
    };
    let at = items
        .iter()
        .rposition(|i| i.starts_with("tun_"))
        .map_or(0, |p| p + 1);
    items.splice(at..at, md);
    items.join(",")
}

/// An option's bytes as OVS prints a `tun_metadata` value: hex without
/// leading zeros.
fn option_hex(b: &[u8]) -> String {
    let s: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let t = s.trim_start_matches('0');
    format!("0x{}", if t.is_empty() { "0" } else { t })
}

/// Actions as `ovs-ofctl` prints them.
pub fn actions_text(acts: &[Action]) -> String {
    // `set_field` of a `tun_metadata` option: its value is wider than the
    // action text's fields, so it is printed here, each action apart.
    let is_md = |a: &Action| matches!(a, Action::SetField { field, .. } if field.tun_metadata_index().is_some());
    if acts.iter().any(is_md) {
        return acts
            .iter()
            .map(|a| match a {
                Action::SetField { field, value, mask } if is_md(a) => {
                    let v = option_hex(value.as_bytes());
                    match mask {
                        Some(m) => format!(
                            "set_field:{v}/{}->{}",
                            option_hex(m.as_bytes()),
                            field.name()
                        ),
                        None => format!("set_field:{v}->{}", field.name()),
                    }
                }
                _ => actions_text(std::slice::from_ref(a)),
            })
            .collect::<Vec<_>>()
            .join(",");
    }
    match ferrovs_openflow::text::wire::actions_from_wire(acts, true) {
        Ok(t) => ferrovs_openflow::text::action::format_actions(&t),
        Err(e) => format!("<{e}>"),
    }
}

#[cfg(test)]
mod tests;
