//! Recirculation: freezing a translation and thawing it when the packet
//! comes back to the datapath with a recirculation id.
//!
//! When an action needs the datapath to do something first (compute
//! `dp_hash` for a select group, track a connection, pop a tunnel), the
//! translation *freezes*: the rest of the work (the actions still to run,
//! with `Unroll` markers that restore the table and cookie of each rule
//! they came from, the action set, the stack, the OpenFlow-only metadata
//! and the bridge) becomes a [`FrozenState`]. [`RecircTable`] gives it an
//! id; the datapath actions end with `recirc(id)`. When the packet comes
//! back (its flow has `recirc_id = id`), translation restores the state
//! and goes on from there: the frozen actions if any, else a lookup in the
//! frozen table.
//!
//! The table interns states: an equal state gets the same id, so a select
//! group used by many flows costs one id. Ids live as long as something
//! uses them: an explicit reference (a translation in progress, a trace),
//! or a megaflow whose actions recirculate to it. Megaflow users are
//! counted by [`RecircTable::sweep`] at the end of each revalidation dump;
//! an id handed to a new megaflow is kept until two dumps have run since
//! (the datapath installs it after the upcall returns), so an id is never
//! freed under a megaflow that still uses it. Lookups on thaw take one
//! mutex and clone an `Arc`: nothing on the datapath's hit path.
//!
//! For other action families, [`Ctx::recirculate_after`] is the one call
//! that means "run this datapath action, then continue at table T".

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ferrovs_datapath::actions::{DpAction, HashAlg};
use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::flow::layout::FLOW_WORDS;
use ferrovs_openflow::action::Action;
use ferrovs_openflow::port::OFPP_IN_PORT;

use super::{actions_text, in_port, set_in_port, Ctx, XlateError};
use crate::flow::{OfFlow, OF_WORDS};

/// One thing to do after thawing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FrozenAction {
    /// OVS's `unroll_xlate`: the table and cookie of the rule whose
    /// actions follow (for the packet-ins and `resubmit(,)` they make).
    Unroll { table_id: u8, cookie: u64 },
    /// An action of that rule.
    Act(Action),
    /// The rule's `clear_actions` instruction.
    ClearActions,
    /// The rule's `write_actions` instruction.
    WriteActions(Vec<Action>),
}

/// OpenFlow-only words of the flow that the datapath does not carry
/// (metadata, registers, ...), plus the OpenFlow input port.
pub const META_WORDS: usize = OF_WORDS - FLOW_WORDS;

/// A frozen translation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrozenState {
    /// The bridge to resume in (by name: bridge indexes change).
    pub bridge: String,
    /// Where the pipeline resumes when there are no frozen actions.
    pub table_id: u8,
    pub in_port: u16,
    pub meta: [u64; META_WORDS],
    pub stack: Vec<u128>,
    pub actions: Vec<FrozenAction>,
    pub action_set: Vec<Action>,
    /// `controller(pause,userdata=...)`: the userdata of the pause.
    pub userdata: Vec<u8>,
    /// The packet went through conntrack (for `ct` users).
    pub conntracked: bool,
    /// The datapath computed `dp_hash` before recirculating: a zero
    /// `dp_hash` after thawing is a computed value under a mask (the
    /// revalidator translates megaflows from their masked keys), not
    /// "not computed".
    pub hashed: bool,
}

impl FrozenState {
    /// Puts the frozen metadata back into `flow` (the packet's own
    /// header fields are what the datapath brings back).
    pub fn restore_metadata(&self, flow: &mut OfFlow) {
        flow.0[FLOW_WORDS..].copy_from_slice(&self.meta);
        set_in_port(flow, self.in_port);
    }
}

struct Entry {
    state: Arc<FrozenState>,
    /// Explicit references (translations in progress, traces).
    refs: u32,
    /// Megaflows that recirculate to it, as of the last sweep.
    flows: u32,
    /// The generation at which it was last handed to a megaflow.
    handed: Option<u64>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<u32, Entry>,
    by_state: HashMap<Arc<FrozenState>, u32>,
    next_id: u32,
    gen: u64,
}

/// The recirculation ids of one datapath and their frozen states.
#[derive(Default)]
pub struct RecircTable {
    inner: Mutex<Inner>,
}

impl RecircTable {
    pub fn new() -> RecircTable {
        RecircTable::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The id of `state` (an existing one if an equal state has one),
    /// with one reference the caller gives back with [`Self::unref`] or
    /// hands to a megaflow with [`Self::hand_to_megaflow`]. None when
    /// all 2^32-1 ids are taken.
    pub fn alloc(&self, state: FrozenState) -> Option<u32> {
        let mut g = self.lock();
        if let Some(id) = g.by_state.get(&state).copied() {
            if let Some(e) = g.by_id.get_mut(&id) {
                e.refs += 1;
                return Some(id);
            }
        }
        // Ids count up from 1 (as OVS's), skipping ids still in use.
        let mut id = g.next_id;
        for _ in 0..=g.by_id.len() {
            id = id.wrapping_add(1).max(1);
            if !g.by_id.contains_key(&id) {
                break;
            }
        }
        if g.by_id.contains_key(&id) {
            return None;
        }
        g.next_id = id;
        let state = Arc::new(state);
        g.by_state.insert(state.clone(), id);
        g.by_id.insert(
            id,
            Entry {
                state,
                refs: 1,
                flows: 0,
                handed: None,
            },
        );
        Some(id)
    }

    /// The frozen state of `id`.
    pub fn get(&self, id: u32) -> Option<Arc<FrozenState>> {
        self.lock().by_id.get(&id).map(|e| e.state.clone())
    }

    /// Gives back a reference; the id is freed when nothing uses it.
    pub fn unref(&self, id: u32) {
        let mut g = self.lock();
        if let Some(e) = g.by_id.get_mut(&id) {
            e.refs = e.refs.saturating_sub(1);
        }
        Self::maybe_free(&mut g, id);
    }

    /// `id` is in the actions of a megaflow about to be installed: it is
    /// kept until the sweeps see that megaflow or its absence.
    pub fn hand_to_megaflow(&self, id: u32) {
        let mut g = self.lock();
        let gen = g.gen;
        if let Some(e) = g.by_id.get_mut(&id) {
            e.handed = Some(gen);
        }
    }

    /// Starts a dump of the datapath's megaflows; returns its generation
    /// for [`Self::sweep`].
    pub fn begin_dump(&self) -> u64 {
        let mut g = self.lock();
        g.gen += 1;
        g.gen
    }

    /// Ends the dump of generation `gen`: `uses` counts, for each id, the
    /// megaflows that recirculate to it. Ids no megaflow, reference or
    /// recent hand-over uses are freed. Returns how many were freed.
    pub fn sweep(&self, gen: u64, uses: &HashMap<u32, u32>) -> usize {
        let mut g = self.lock();
        let ids: Vec<u32> = g.by_id.keys().copied().collect();
        let before = g.by_id.len();
        for id in ids {
            if let Some(e) = g.by_id.get_mut(&id) {
                e.flows = uses.get(&id).copied().unwrap_or(0);
                // Handed over before the previous dump began: this dump
                // saw the megaflow if it was installed.
                if e.handed.is_some_and(|h| h + 1 < gen) {
                    e.handed = None;
                }
            }
            Self::maybe_free(&mut g, id);
        }
        before - g.by_id.len()
    }

    fn maybe_free(g: &mut Inner, id: u32) {
        let unused = g
            .by_id
            .get(&id)
            .is_some_and(|e| e.refs == 0 && e.flows == 0 && e.handed.is_none());
        if unused {
            if let Some(e) = g.by_id.remove(&id) {
                g.by_state.remove(&e.state);
            }
        }
    }

    /// Ids in use.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every `recirc(id)` in `acts`, nested lists included.
pub fn recirc_ids(acts: &[DpAction], out: &mut Vec<u32>) {
    for a in acts {
        match a {
            DpAction::Recirc(id) => out.push(*id),
            DpAction::Userspace { userdata } => {
                out.extend(super::controller::cookie_recirc_id(userdata))
            }
            DpAction::Clone(sub) | DpAction::Sample { actions: sub, .. } => recirc_ids(sub, out),
            DpAction::CheckPktLen { gt, le, .. } => {
                recirc_ids(gt, out);
                recirc_ids(le, out);
            }
            _ => {}
        }
    }
}

/// What a freeze was started for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Freezing {
    pub active: bool,
    pub actions: Vec<FrozenAction>,
    /// Emit `hash(alg(basis))` before the `recirc`.
    pub hash: Option<(HashAlg, u32)>,
    /// A `controller(pause)` froze: the state goes to the controller.
    pub pause: Option<Pause>,
}

/// What a `controller(pause)` asked for.
#[derive(Debug, Clone)]
pub(crate) struct Pause {
    pub reason: u8,
    pub max_len: u16,
    pub controller_id: u16,
    pub userdata: Vec<u8>,
}

impl<'a> Ctx<'a, '_> {
    /// Starts freezing: the current action list stops here and every
    /// action still to run, up the stack, is kept for after the
    /// datapath brings the packet back.
    pub(crate) fn trigger_freeze(&mut self) {
        self.exit = true;
        self.freezing.active = true;
    }

    /// As [`Self::trigger_freeze`], with `hash(alg(basis))` computed by
    /// the datapath before it recirculates (select groups on dp_hash).
    pub(crate) fn trigger_recirculate_with_hash(&mut self, alg: HashAlg, basis: u32) {
        self.trigger_freeze();
        self.freezing.hash = Some((alg, basis));
    }

    /// `controller(pause)`: freezes; the packet and the frozen state go
    /// to the controller, which may resume it with `NXT_RESUME`.
    pub(crate) fn trigger_pause(&mut self, c: &ferrovs_openflow::action::Controller) {
        self.freezing.pause = Some(Pause {
            reason: c.reason,
            max_len: c.max_len,
            controller_id: c.controller_id,
            userdata: c.userdata.clone(),
        });
        self.trigger_freeze();
    }

    /// True while the frozen actions are empty (the action that froze is
    /// the first to keep).
    pub(crate) fn first_frozen_action(&self) -> bool {
        self.freezing.actions.is_empty()
    }

    fn put_unroll(&mut self) {
        let (t, c) = (self.table_id, self.rule_cookie);
        let last = self.freezing.actions.iter().rev().find_map(|a| match a {
            FrozenAction::Unroll { table_id, cookie } => Some((*table_id, *cookie)),
            _ => None,
        });
        if last != Some((t, c)) {
            self.freezing.actions.push(FrozenAction::Unroll {
                table_id: t,
                cookie: c,
            });
        }
    }

    /// Keeps `acts` (the rest of an action list) for after thawing, with
    /// an unroll marker before the actions that depend on the table or
    /// cookie of their rule, as OVS's `freeze_unroll_actions`.
    pub(crate) fn freeze_unroll(&mut self, acts: &[Action]) {
        for a in acts {
            let needs_rule = match a {
                Action::Output { .. }
                | Action::OutputReg { .. }
                | Action::OutputTrunc { .. }
                | Action::Enqueue { .. }
                | Action::Group(_)
                | Action::Controller(_)
                | Action::DecTtl
                | Action::DecTtlCntIds(_)
                | Action::DecMplsTtl => true,
                Action::Resubmit { table, .. } => *table == 0xff,
                _ => false,
            };
            if needs_rule {
                self.put_unroll();
            }
            self.freezing.actions.push(FrozenAction::Act(a.clone()));
        }
    }

    /// Keeps a rule's remaining instructions (after its apply-actions).
    pub(crate) fn freeze_instructions(&mut self, insts: &[ferrovs_openflow::Instruction]) {
        use ferrovs_openflow::Instruction as I;
        let mut goto = None;
        for i in insts {
            match i {
                I::ClearActions => self.freezing.actions.push(FrozenAction::ClearActions),
                I::WriteActions(a) => self
                    .freezing
                    .actions
                    .push(FrozenAction::WriteActions(a.clone())),
                I::WriteMetadata { metadata, mask } => {
                    self.freezing
                        .actions
                        .push(FrozenAction::Act(Action::WriteMetadata {
                            metadata: *metadata,
                            mask: *mask,
                        }))
                }
                I::GotoTable(t) => goto = Some(*t),
                _ => {}
            }
        }
        if let Some(t) = goto {
            // As OVS: goto_table becomes resubmit(,T).
            self.freezing
                .actions
                .push(FrozenAction::Act(Action::Resubmit {
                    in_port: OFPP_IN_PORT,
                    table: t,
                    ct: false,
                }));
        }
    }

    /// The state to freeze, resuming at `table_id`.
    fn frozen_state(&self, table_id: u8) -> FrozenState {
        let mut meta = [0u64; META_WORDS];
        meta.copy_from_slice(&self.flow.0[FLOW_WORDS..]);
        FrozenState {
            bridge: self.br().name().to_string(),
            table_id,
            in_port: in_port(&self.flow),
            meta,
            stack: self.stack.clone(),
            actions: self.freezing.actions.clone(),
            action_set: self.action_set.clone().into_ordered(),
            userdata: self
                .freezing
                .pause
                .as_ref()
                .map(|p| p.userdata.clone())
                .unwrap_or_default(),
            conntracked: self.conntracked,
            hashed: self.freezing.hash.is_some(),
        }
    }

    /// Allocates an id for the current state (resuming at `table_id`),
    /// keeping the reference in `out.recircs`.
    fn alloc_recirc(&mut self, table_id: u8) -> Option<u32> {
        let state = self.frozen_state(table_id);
        self.alloc_state(state)
    }

    /// Allocates an id for `state`, keeping the reference in
    /// `out.recircs`; None (and the translation fails) when there is no
    /// table or no free id.
    pub(crate) fn alloc_state(&mut self, state: FrozenState) -> Option<u32> {
        let Some(table) = self.recirc else {
            self.note(|| "no recirculation table: cannot recirculate".to_string());
            self.out.error = Some(XlateError::NoRecircContext);
            return None;
        };
        match table.alloc(state) {
            Some(id) => {
                self.out.recircs.push(id);
                Some(id)
            }
            None => {
                self.note(|| "Failed to allocate recirculation id".to_string());
                self.out.error = Some(XlateError::NoRecircContext);
                None
            }
        }
    }

    /// The packet-in of a pause: a `userspace` action whose cookie names
    /// the frozen state's recirculation id, with `continuation=1` (the
    /// state is looked up when the datapath hands the packet up, as
    /// OVS's). Without side effects (a trace) the id is taken but, as in
    /// OVS, no action is emitted.
    fn finish_pause(&mut self, p: Pause) {
        let state = self.frozen_state(0);
        let Some(id) = self.alloc_recirc(0) else {
            return;
        };
        if self.packet_in_dont_send() {
            return;
        }
        self.note(|| "pausing: the packet and its continuation go to the controller".to_string());
        let cookie = super::controller::ControllerCookie {
            reason: p.reason,
            dont_send: false,
            continuation: true,
            recirc_id: id,
            rule_cookie: self.rule_cookie,
            controller_id: p.controller_id,
            max_len: p.max_len,
        };
        let pi = super::PacketIn {
            bridge: self.bridge,
            reason: p.reason,
            table_id: state.table_id,
            cookie: self.rule_cookie,
            max_len: p.max_len,
            controller_id: p.controller_id,
            userdata: p.userdata,
            flow: self.flow,
            continuation: Some(Arc::new(state)),
        };
        self.out.packet_ins.push(pi);
        self.out.actions.push(DpAction::Userspace {
            userdata: cookie.to_bytes().into(),
        });
    }

    fn cancel_freeze(&mut self) {
        self.freezing = Freezing::default();
    }

    /// Ends a freeze: commits the header changes, gives the state an id
    /// and emits `[hash,]recirc(id)` (or, for a pause, the packet-in with
    /// its continuation).
    pub(crate) fn finish_freezing(&mut self) {
        self.commit();
        if let Some(p) = self.freezing.pause.clone() {
            self.finish_pause(p);
            self.cancel_freeze();
            return;
        }
        let hash = self.freezing.hash;
        if let Some(id) = self.alloc_recirc(0) {
            if let Some((alg, basis)) = hash {
                self.out.actions.push(DpAction::Hash { alg, basis });
            }
            self.out.actions.push(DpAction::Recirc(id));
        }
        self.cancel_freeze();
    }

    /// Forks the pipeline: runs datapath action `act` (e.g. `ct`), then
    /// recirculates a clone that resumes at `table` with the current
    /// metadata, stack and action set; this translation goes on with its
    /// actions. Returns the id (None on failure, with `out.error` set).
    pub fn recirculate_after(&mut self, table: u8, act: DpAction) -> Option<u32> {
        self.commit();
        let saved = std::mem::take(&mut self.freezing);
        let id = self.alloc_recirc(table);
        self.freezing = saved;
        let id = id?;
        self.out.actions.push(act);
        self.out.actions.push(DpAction::Recirc(id));
        self.note(|| {
            format!(
                "A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table {table}."
            )
        });
        Some(id)
    }

    /// Restores a frozen state into this context (the flow has the
    /// packet's headers) and runs what was left to do. `recirc_id` is the
    /// id the packet came back with.
    pub(crate) fn thaw(&mut self, recirc_id: u32) {
        let state = self.recirc.and_then(|t| t.get(recirc_id));
        let Some(state) = state else {
            self.note(|| format!(">>>> Recirculation context not found for ID {recirc_id:x} <<<<"));
            self.out.error = Some(XlateError::NoRecircContext);
            return;
        };
        self.resume(&state);
    }

    /// Runs a frozen state: from a recirculation or an `NXT_RESUME`.
    pub(crate) fn resume(&mut self, state: &FrozenState) {
        let Some(b) = self.bridges.iter().position(|b| b.name() == state.bridge) else {
            self.note(|| format!("bridge {} of the frozen state is gone", state.bridge));
            self.out.error = Some(XlateError::NoRecircContext);
            return;
        };
        self.bridge = b;
        self.table_id = state.table_id;
        self.dp_hash_valid = state.hashed;
        self.note(|| format!("Resuming from table {}", state.table_id));
        state.restore_metadata(&mut self.flow);
        // As OVS: the ct_* fields mean something only after a `ct`.
        self.conntracked = state.conntracked;
        if !state.conntracked {
            self.clear_conntrack();
        }
        self.stack = state.stack.clone();
        if !state.action_set.is_empty() {
            self.note(|| format!("Restoring action set: {}", actions_text(&state.action_set)));
            self.action_set.write(&state.action_set);
        }
        if state.actions.is_empty() {
            self.lookup_and_run(state.table_id, true);
            return;
        }
        self.note(|| format!("Restoring actions: {}", frozen_text(&state.actions)));
        self.do_frozen(&state.actions);
    }

    fn do_frozen(&mut self, acts: &[FrozenAction]) {
        for (i, a) in acts.iter().enumerate() {
            if self.out.error.is_some() {
                return;
            }
            if self.exit {
                if self.freezing.active {
                    // Frozen again: keep the rest as it is.
                    self.freezing.actions.extend_from_slice(&acts[i..]);
                }
                return;
            }
            match a {
                FrozenAction::Unroll { table_id, cookie } => {
                    self.table_id = *table_id;
                    self.rule_cookie = *cookie;
                    self.note(|| format!("restored state: table={table_id}, cookie={cookie:#x}"));
                }
                FrozenAction::Act(x) => self.do_actions(std::slice::from_ref(x)),
                FrozenAction::ClearActions => self.action_set.clear(),
                FrozenAction::WriteActions(x) => self.action_set.write(x),
            }
        }
    }
}

/// Frozen actions as OVS's trace prints them.
pub fn frozen_text(acts: &[FrozenAction]) -> String {
    acts.iter()
        .map(|a| match a {
            FrozenAction::Unroll { table_id, cookie } => {
                format!("unroll_xlate(table={table_id}, cookie={cookie})")
            }
            FrozenAction::Act(x) => actions_text(std::slice::from_ref(x)),
            FrozenAction::ClearActions => "clear_actions".to_string(),
            FrozenAction::WriteActions(x) => format!("write_actions({})", actions_text(x)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The recirculation id of a flow (0: first pass).
pub fn recirc_id(f: &OfFlow) -> u32 {
    f.bits(dp::W_MD0, dp::RECIRC_ID.shift as u32, 32) as u32
}

/// The dp_hash of a flow.
pub fn dp_hash(f: &OfFlow) -> u32 {
    f.bits(dp::W_MD1, dp::DP_HASH.shift as u32, 32) as u32
}
