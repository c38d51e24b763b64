//! A PMD (poll-mode driver) thread: the loop that moves packets.
//!
//! Each [`Pmd`] owns, without sharing: an EMC, one megaflow classifier per
//! in_port, a slab of megaflow slots (the handles the EMC and classifiers
//! store), a packet pool and all per-batch scratch space, allocated once.
//! One iteration ([`Pmd::poll_once`]):
//!
//! 1. apply pending control commands if any (`try_lock`, never waits);
//! 2. load the published port table and receive-queue list;
//! 3. for each queue: receive a batch, extract every key, look each up in
//!    the EMC, look the misses up in the classifier as one batch, upcall
//!    what is still missing (and install it), then run every packet's
//!    actions in order, adding statistics once per flow group;
//! 4. run recirculated packets the same way (bounded depth);
//! 5. send each port's collected output as batches; publish counters.
//!
//! Why it is fast: a hit touches the packet (receive resets and extraction
//! read its first lines only), its key, one EMC entry (cache-line aligned)
//! and one slot, which holds the port of a lone `output` so the action
//! list is not even read; no locks, no allocation. A miss builds the new
//! megaflow in one allocation (a recycled megaflow when one is free): its
//! packed key, the PMD's shared copy of its mask (a handler's shared mask
//! is recognized by pointer, so it is normalized once), its counters and
//! the reply's actions, moved in; the classifier entry comes from the
//! packet's dense words and is linked without a search (the lookup just
//! before proved it absent), and the batch's new megaflows enter the
//! master map under one lock at the end of the batch. At the flow limit
//! (datapath-wide, see `dpif`) a miss builds nothing: the reply's action
//! list is swapped into a per-batch buffer and executed from there.
//!
//! Idle PMDs do not spin: after an idle spell (`DpConfig::idle_polls_before_sleep`
//! empty polls lasting `idle_spin`, about 150 µs) the thread sleeps in
//! epoll on its queues' descriptors ([`RxWaiter`]), rebuilt when its queue
//! list changes, until a packet arrives or the control side wakes it
//! (inbox, queue list, quit: `PmdShared::wake`); ports without descriptors
//! get a timed sleep instead, and a port still holding frames to transmit
//! keeps the PMD polling. The queues are in that epoll set only around
//! sleeps: traffic that keeps the PMD busy takes them out, so their
//! packets stop calling into epoll. The spin adapts: when packets keep waking the
//! PMD after short gaps (steady traffic, even a ping every 2 ms), it grows
//! to cover them, up to `idle_spin_max` (4 ms), so such traffic is polled
//! rather than paid a wakeup each time; a longer gap sets it back, and so
//! does losing a large share of the spinning time to other work (a
//! contended CPU, where a sleeper is woken sooner than a spinner gets its
//! turn back), which also keeps the spin short for the next second: see
//! [`IdleSpin`]. Each queue also counts the cycles of its batches (one
//! writer: a load and a store), for `pmd-rxq-show` and the `cycles`
//! assignment.
//!
//! Nothing on the poll path scales with the number of ports: each queue
//! entry holds its netdev, outputs and in_port classifiers are found
//! through a [`PortIndex`], and masks are interned through a hash map.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::Guard;

use crate::actions::execute::PortOutputs;
use crate::actions::DpAction;
use crate::actions::ExecCtx;
use crate::batch::{PacketBatch, BATCH_SIZE};
use crate::dpcls::Dpcls;
use crate::dpif::{
    lock, masked_key_into, normalize_mask_into, DpShared, PmdCmd, PmdShared, PortTable,
};
use crate::emc::Emc;
use crate::flow::layout::IN_PORT;
use crate::flow::{extract, Flow, FlowKey};
use crate::megaflow::{Megaflow, Ufid, UfidHasher};
use crate::netdev::wait::RxWaiter;
use crate::packet::{DpPacket, PacketPool};
use crate::pmd_idle::IdleSpin;
use crate::pmd_rx_pace::RxPace;
use crate::pmd_stats::{cycles, PmdStats};
use crate::port_index::PortIndex;
use crate::random::Rng;
use crate::upcall::{exact_mask, UpcallReply};

const NIL: u32 = u32::MAX;
const DROP: u32 = u32::MAX - 1;
/// Handle bit marking a not-installed (execute-only) upcall result.
const TEMP: u32 = 1 << 31;
/// Interned masks kept before unused ones are first pruned (then again
/// each time their number doubles: amortized constant cost).
const MAX_INTERNED_MASKS: usize = 256;
/// The datapath clock (a system call's worth of work) is read again only
/// when this many time stamp counter ticks have passed since the last read
/// (under a millisecond, the clock's resolution, on any CPU whose counter
/// runs at 1 GHz or more), instead of on every poll with packets.
const CLOCK_REFRESH_TICKS: u64 = 1 << 20;
/// Freed megaflows a PMD keeps for reuse (about 26 MB at 392 bytes each;
/// see [`Pmd::recycle`]); half of those unused over a re-ranking period
/// are freed at its end.
const MAX_SPARE_MEGAFLOWS: usize = 65536;
/// Classifier re-ranking period, in poll iterations with work.
const RANK_INTERVAL: u32 = 1 << 14;
/// Polls with packets, without a sleep between them, after which the
/// PMD takes its queues out of its wait set (see `netdev::wait`): steady
/// traffic gets there within microseconds, a ping every millisecond
/// after a few dozen pings.
const DISARM_AFTER_BUSY_POLLS: u32 = 32;

/// A megaflow slot: the handle the EMC and classifiers store. The
/// megaflow holds its actions and counters inline, so a hit reaches them
/// through the one pointer kept here.
///
/// A slot is half a cache line; when the actions are a lone `output` (the
/// commonest megaflow), the port is kept in the slot too, so such a hit
/// never reads the action list.
struct Slot {
    gen: u32,
    /// Port of a lone `output` action, or [`NO_FAST_OUTPUT`].
    output: u32,
    flow: Option<Arc<Megaflow>>,
    /// This batch's counts (next to `flow`: one cache line per hit).
    acc: GroupAcc,
}

/// [`Slot::output`] when the actions are not a lone `output`.
const NO_FAST_OUTPUT: u32 = u32::MAX;

impl Slot {
    fn set(&mut self, mf: Option<Arc<Megaflow>>) -> Option<Arc<Megaflow>> {
        self.output = match mf.as_deref().map(|m| &m.actions[..]) {
            Some([DpAction::Output(port)]) => *port,
            _ => NO_FAST_OUTPUT,
        };
        std::mem::replace(&mut self.flow, mf)
    }
}

/// Per-slot statistics of the batch in progress (O(1) grouping; a batch
/// has at most [`BATCH_SIZE`] packets, so `pkts` fits 32 bits).
#[derive(Clone, Copy, Default)]
struct GroupAcc {
    bytes: u64,
    pkts: u32,
    flags: u16,
}

/// Per-PMD state (lives on the PMD thread, or with a caller driving it).
pub struct Pmd {
    dp: Arc<DpShared>,
    me: Arc<PmdShared>,
    emc: Emc,
    cls: Vec<(u32, Dpcls)>,
    /// in_port -> position in `cls` (classifiers are emptied, never
    /// removed, so positions stay valid).
    cls_index: PortIndex,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    n_flows: usize,
    // scratch, allocated once
    batch: PacketBatch,
    keys: Vec<FlowKey>,
    dense: Vec<Flow>,
    /// Map of the key last expanded into each `dense` entry.
    dense_map: [u64; BATCH_SIZE],
    handles: [u32; BATCH_SIZE],
    /// Actions of this batch's execute-only misses (the first `n_temp`;
    /// swapped with the reply's list, so their capacity is reused).
    temp: Vec<Vec<DpAction>>,
    n_temp: usize,
    /// Freed megaflows no one else holds, refilled by the next misses.
    spare_flows: Vec<Arc<Megaflow>>,
    /// Fewest spare megaflows since the last trim.
    spare_low: usize,
    /// Megaflows installed by this batch's misses, for the master map.
    new_flows: Vec<Arc<Megaflow>>,
    /// Megaflows they replaced there.
    replaced: Vec<Arc<Megaflow>>,
    touched: Vec<u32>,
    out: PortOutputs,
    recirc: Vec<DpPacket>,
    recirc_next: Vec<DpPacket>,
    pool: PacketPool,
    rng: Rng,
    reply: UpcallReply,
    scratch_key: FlowKey,
    /// The exact-match mask (for replies without one), built once.
    exact: FlowKey,
    /// The masks of the megaflows this PMD installed, shared by them, by
    /// hash ([`FlowKey::hash`]).
    masks: HashMap<u32, Vec<Arc<FlowKey>>, BuildHasherDefault<UfidHasher>>,
    n_masks: usize,
    /// `n_masks` at which unused masks are pruned next.
    masks_prune_at: usize,
    /// The handler's last shared mask (immutable: this clone keeps it
    /// from being unique), the interned normalized form of it and that
    /// form's [`Ufid::mask_part`].
    last_mask: Option<(Arc<FlowKey>, Arc<FlowKey>, u64)>,
    mask_scratch: FlowKey,
    key_scratch: FlowKey,
    stats: PmdStats,
    /// Datapath clock, read at most once per poll iteration (see
    /// [`CLOCK_REFRESH_TICKS`]), and the time stamp counter at that read.
    now_ms: u64,
    clock_tsc: u64,
    rank_countdown: u32,
    /// The last flush generation applied (see `PmdShared::flush_gen`).
    flushed_gen: u64,
    /// The idle PMD's wait set (its queues' descriptors and the control
    /// side's waker; it knows whether it can be waited on) and the
    /// `rxq_gen` it was built for.
    waiter: Option<RxWaiter>,
    wait_gen: u64,
    /// Polls that received packets since the PMD last slept; at
    /// [`DISARM_AFTER_BUSY_POLLS`] the wait set is disarmed.
    busy_polls: u32,
    /// Which costly queues (taps) to read this iteration.
    rx_pace: RxPace,
}

impl Pmd {
    pub(crate) fn new(dp: Arc<DpShared>, me: Arc<PmdShared>) -> Pmd {
        let prob = dp.emc_insert_inv_prob.load(Ordering::Relaxed);
        Pmd {
            emc: Emc::new(dp.cfg.emc_entries, prob),
            cls: Vec::new(),
            cls_index: PortIndex::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            n_flows: 0,
            batch: PacketBatch::new(),
            keys: vec![FlowKey::default(); BATCH_SIZE],
            dense: vec![Flow::default(); BATCH_SIZE],
            dense_map: [0; BATCH_SIZE],
            handles: [NIL; BATCH_SIZE],
            temp: Vec::new(),
            n_temp: 0,
            new_flows: Vec::with_capacity(BATCH_SIZE),
            spare_flows: Vec::new(),
            spare_low: 0,
            replaced: Vec::new(),
            touched: Vec::with_capacity(BATCH_SIZE),
            out: PortOutputs::default(),
            recirc: Vec::with_capacity(BATCH_SIZE * 2),
            recirc_next: Vec::with_capacity(BATCH_SIZE * 2),
            pool: PacketPool::new(1024),
            rng: Rng::new(0x9e37_79b9 ^ (me.id as u64) << 32 ^ cycles()),
            reply: UpcallReply::default(),
            scratch_key: FlowKey::default(),
            exact: exact_mask(),
            masks: HashMap::default(),
            n_masks: 0,
            masks_prune_at: MAX_INTERNED_MASKS,
            last_mask: None,
            mask_scratch: FlowKey::default(),
            key_scratch: FlowKey::default(),
            stats: PmdStats::default(),
            now_ms: dp.now_ms(),
            clock_tsc: cycles(),
            rank_countdown: RANK_INTERVAL,
            flushed_gen: me.flush_gen.load(Ordering::Acquire),
            waiter: me.waker.clone().and_then(|w| RxWaiter::with_waker(w).ok()),
            wait_gen: u64::MAX,
            busy_polls: 0,
            rx_pace: RxPace::new(),
            dp,
            me,
        }
    }

    /// A PMD whose classifiers hold every flow of its master map (for one
    /// whose thread died with them).
    pub(crate) fn from_master_map(dp: Arc<DpShared>, me: Arc<PmdShared>) -> Pmd {
        let mut p = Pmd::new(dp, me);
        let flows: Vec<Arc<Megaflow>> = lock(&p.me.flows).values().cloned().collect();
        for mf in flows {
            let reserved = mf.reserved.swap(false, Ordering::AcqRel);
            p.install_local(mf, None, None, reserved);
        }
        p
    }

    pub fn id(&self) -> usize {
        self.me.id
    }

    /// Statistics so far (also published for `Datapath::stats`).
    pub fn stats(&self) -> PmdStats {
        self.stats
    }

    /// Megaflows this PMD holds.
    pub fn flow_count(&self) -> usize {
        self.n_flows
    }

    /// Number of masks (subtables) in the classifier for `in_port`.
    pub fn n_subtables(&self, in_port: u32) -> usize {
        self.cls_index
            .get(in_port)
            .map(|i| self.cls[i].1.n_subtables())
            .unwrap_or(0)
    }

    /// Removes every flow now (for callers driving the PMD inline), after
    /// applying whatever the control side sent before.
    pub fn flush_flows(&mut self) {
        let gen = {
            let mut flows = lock(&self.me.flows);
            flows.clear();
            self.me.flush_gen.fetch_add(1, Ordering::AcqRel) + 1
        };
        self.me.send(PmdCmd::Flush(gen));
        self.apply_inbox_now();
    }

    /// Applies every pending control command, waiting for the inbox lock.
    fn apply_inbox_now(&mut self) {
        let cmds = {
            let mut g = lock(&self.me.inbox);
            self.me.inbox_pending.store(false, Ordering::Release);
            std::mem::take(&mut *g)
        };
        for c in cmds {
            self.apply(c);
        }
    }

    /// Ends a PMD removed from the datapath: the commands sent to it are
    /// applied (so the flow-limit units they carry are taken), then its
    /// megaflows are dropped and their units released with it.
    pub(crate) fn retire(mut self) {
        self.apply_inbox_now();
    }

    /// Checks that the master map and this PMD's slots and classifiers
    /// hold the same megaflows (after applying the pending commands; call
    /// it with the control side quiet). For tests.
    #[doc(hidden)]
    pub fn audit(&mut self) -> Result<(), String> {
        self.apply_inbox_now();
        let map: Vec<Arc<Megaflow>> = lock(&self.me.flows).values().cloned().collect();
        // (in_port, slot) of every classifier entry.
        let mut in_cls: Vec<(u32, u32)> = self
            .cls
            .iter()
            .flat_map(|(port, c)| c.values().map(move |v| (*port, v)))
            .collect();
        in_cls.sort_unstable();
        let mut listed = Vec::with_capacity(map.len());
        for mf in &map {
            if !self.holds(mf.slot(), mf) {
                let s = mf.slot();
                let there = self
                    .slots
                    .get(s as usize)
                    .and_then(|x| x.flow.as_ref())
                    .map(|f| (f.ufid, f.key == mf.key, f.mask == mf.mask));
                let same_key = self.slots.iter().enumerate().find_map(|(i, x)| {
                    x.flow
                        .as_ref()
                        .filter(|f| f.key == mf.key && f.mask == mf.mask)
                        .map(|f| (i, f.ufid))
                });
                return Err(format!(
                    "listed flow {:?} (in_port {}, slot {s}) is in no slot; slot {s} holds \
                     {there:?}; a flow with its key and mask: {same_key:?}",
                    mf.ufid, mf.in_port
                ));
            }
            listed.push((mf.in_port, mf.slot()));
        }
        listed.sort_unstable();
        if listed != in_cls || listed.len() != self.n_flows {
            return Err(format!(
                "{} listed, {} in slots, {} in classifiers; (in_port, slot) listed \
                 {listed:?}, classified {in_cls:?}",
                map.len(),
                self.n_flows,
                in_cls.len(),
            ));
        }
        Ok(())
    }

    /// The thread body: poll until asked to stop. Returns the PMD's state
    /// (kept by `Datapath::stop` for the next `start`).
    ///
    /// While packets flow it polls without pause. After an idle spell
    /// (`idle_polls_before_sleep` empty polls lasting `idle_spin`) it
    /// sleeps in [`Pmd::idle_wait`] between polls.
    pub(crate) fn run(mut self) -> Pmd {
        {
            let mut pin = lock(&self.me.pin);
            pin.1 = nix::unistd::gettid().as_raw();
            if pin.0.is_some() {
                pin_thread(0, pin.0);
            }
        }
        let mut idle = 0u32;
        let mut idle_since = Instant::now();
        let cfg = self.dp.cfg.clone();
        let mut spin = IdleSpin::new(&cfg, idle_since);
        let mut slept = false;
        let mut last_poll = idle_since;
        while !self.me.quit.load(Ordering::Acquire) {
            if self.poll_once() == 0 {
                idle = idle.saturating_add(1);
                let mut now = Instant::now();
                if idle == 1 {
                    idle_since = now;
                } else {
                    let e = spin.empty_poll(now, now - last_poll);
                    self.stats.preemptions += e.preempted as u64;
                    self.stats.contended += e.contended as u64;
                    if idle >= cfg.idle_polls_before_sleep && now - idle_since >= spin.spin() {
                        slept |= self.idle_wait(&cfg);
                        now = Instant::now();
                    }
                }
                last_poll = now;
            } else {
                if slept {
                    // Woken by packets `gap` after the last ones.
                    slept = false;
                    let now = Instant::now();
                    spin.woken(now, now - idle_since);
                }
                idle = 0;
                self.busy_polls = self.busy_polls.saturating_add(1);
                if self.busy_polls == DISARM_AFTER_BUSY_POLLS {
                    if let Some(w) = self.waiter.as_mut() {
                        w.disarm();
                    }
                }
            }
        }
        lock(&self.me.pin).1 = 0;
        self.publish();
        self
    }

    /// One idle pause: on the wait set when every queue has a descriptor
    /// (until a queue is readable, the control side wakes it, or
    /// `idle_wait` passes), else `idle_sleep`. Not while a port still
    /// holds frames to transmit (AF_XDP copy mode moves them on the next
    /// polls): then it keeps polling.
    /// Returns whether it slept.
    fn idle_wait(&mut self, cfg: &crate::dpif::DpConfig) -> bool {
        let max_us = self.dp.max_sleep_us.load(Ordering::Relaxed);
        let Some(nap) = cfg.idle_sleep.filter(|_| max_us > 0) else {
            return false;
        };
        let gen = self.me.rxq_gen.load(Ordering::Acquire);
        if gen != self.wait_gen {
            let rxqs = self.me.rxqs.load();
            if let Some(w) = &mut self.waiter {
                w.set_fds(rxqs.iter().map(|r| r.netdev.rx_fd(r.qid)));
            }
            self.wait_gen = gen;
        }
        let Some(w) = self.waiter.as_mut().filter(|w| w.is_usable()) else {
            std::thread::sleep(nap);
            return true;
        };
        if self.dp.ports.load().iter().any(|p| p.netdev.tx_pending()) {
            return false;
        }
        if !w.arm() {
            // Unusable from now on (see `RxWaiter::arm`): timed sleeps.
            std::thread::sleep(nap);
            return true;
        }
        self.busy_polls = 0;
        self.me.sleeping.store(true, Ordering::SeqCst);
        if !self.me.inbox_pending.load(Ordering::SeqCst)
            && !self.me.quit.load(Ordering::SeqCst)
            && self.me.rxq_gen.load(Ordering::SeqCst) == gen
        {
            self.stats.sleeps += 1;
            self.me.counters.publish(&self.stats);
            w.wait(Duration::from_micros(max_us));
        }
        self.me.sleeping.store(false, Ordering::Relaxed);
        true
    }

    fn publish(&self) {
        self.me.counters.publish(&self.stats);
    }

    /// One poll iteration over every assigned queue. Returns the number of
    /// packets received.
    pub fn poll_once(&mut self) -> usize {
        let t0 = cycles();
        if self.me.inbox_pending.load(Ordering::Acquire) {
            self.drain_inbox();
        }
        let ports = self.dp.ports.load();
        // The generation first: a new one guarantees the new list.
        let gen = self.me.rxq_gen.load(Ordering::Acquire);
        let rxqs = self.me.rxqs.load();
        let paced_at = self.rx_pace.before(gen, &rxqs);
        let mut total = 0;
        let mut clock_read = false;
        for (i, r) in rxqs.iter().enumerate() {
            if !self.rx_pace.should_poll(i) {
                continue;
            }
            let tq = cycles();
            let n = r
                .netdev
                .recv(r.qid, r.port_no, &mut self.batch, &mut self.pool)
                .unwrap_or(0);
            self.rx_pace.polled(i, n >= BATCH_SIZE);
            if n == 0 {
                continue;
            }
            total += n;
            if !clock_read {
                clock_read = true;
                if t0.wrapping_sub(self.clock_tsc) >= CLOCK_REFRESH_TICKS {
                    self.now_ms = self.dp.now_ms();
                    self.clock_tsc = t0;
                }
            }
            self.stats.rx_packets += n as u64;
            self.process_batch();
            self.run_recirculation();
            self.send_outputs(&ports);
            // One writer (this PMD): a load and a store, no shared RMW.
            let dq = cycles().wrapping_sub(tq);
            r.cycles.store(
                r.cycles.load(Ordering::Relaxed).wrapping_add(dq),
                Ordering::Relaxed,
            );
        }
        self.rx_pace.after(paced_at, total);
        self.stats.iterations += 1;
        let dt = cycles().wrapping_sub(t0);
        if total > 0 {
            self.stats.busy_cycles += dt;
            self.rank_countdown -= 1;
            if self.rank_countdown == 0 {
                self.rank_countdown = RANK_INTERVAL;
                for (_, c) in self.cls.iter_mut() {
                    c.rank();
                }
                self.trim_spare_flows();
            }
        } else {
            self.stats.idle_cycles += dt;
        }
        self.publish();
        total
    }

    fn drain_inbox(&mut self) {
        let cmds = match self.me.inbox.try_lock() {
            Ok(mut g) => {
                self.me.inbox_pending.store(false, Ordering::Release);
                std::mem::take(&mut *g)
            }
            Err(_) => return,
        };
        for c in cmds {
            self.apply(c);
        }
    }

    fn apply(&mut self, c: PmdCmd) {
        match c {
            PmdCmd::Insert { mf, prev } => {
                // Only if the master map still lists it: a later delete,
                // flush or put (whose command follows), or a megaflow this
                // PMD's miss installed and published meanwhile, has made
                // it stale, and installing it would make the classifier
                // hold what the map does not list. The version it replaced
                // in the map is gone either way. Its flow-limit unit is
                // taken under the map lock (see `Megaflow::reserved`).
                let (current, reserved) = {
                    let flows = lock(&self.me.flows);
                    let current = flows.get(&mf.ufid).is_some_and(|f| Arc::ptr_eq(f, &mf));
                    (current, mf.reserved.swap(false, Ordering::AcqRel))
                };
                if current {
                    self.install_local(mf, prev.as_ref(), None, reserved);
                } else {
                    if let Some(p) = prev {
                        let s = p.slot();
                        if self.holds(s, &p) {
                            drop(p);
                            self.free_slot(s, true);
                        }
                    }
                    if reserved {
                        self.dp.release_flows(1);
                    }
                }
            }
            PmdCmd::Remove(mf) => {
                let s = mf.slot();
                if self.holds(s, &mf) {
                    // The command's reference goes first, so the slot's
                    // may be the last one and the megaflow recycled.
                    drop(mf);
                    self.free_slot(s, true);
                }
            }
            PmdCmd::Flush(gen) => {
                self.flushed_gen = self.flushed_gen.max(gen);
                for s in 0..self.slots.len() as u32 {
                    self.free_slot(s, false);
                }
                // Classifiers are emptied, not dropped: their tables keep
                // their capacity for the flows that come next.
                for (_, c) in self.cls.iter_mut() {
                    c.clear();
                }
                self.masks.clear();
                self.n_masks = 0;
                self.masks_prune_at = MAX_INTERNED_MASKS;
                self.last_mask = None;
                self.emc.clear();
            }
            PmdCmd::EmcInsertInvProb(p) => {
                self.emc.set_insert_inv_prob(p);
                if p == 0 {
                    self.emc.clear();
                }
            }
        }
    }

    fn cls_mut(&mut self, in_port: u32) -> &mut Dpcls {
        let pos = match self.cls_index.get(in_port) {
            Some(p) => p,
            None => {
                self.cls.push((in_port, Dpcls::new()));
                self.cls_index.set(in_port, self.cls.len() - 1);
                self.cls.len() - 1
            }
        };
        &mut self.cls[pos].1
    }

    /// True if slot `s` holds exactly `mf`.
    fn holds(&self, s: u32, mf: &Arc<Megaflow>) -> bool {
        self.slots
            .get(s as usize)
            .and_then(|x| x.flow.as_ref())
            .is_some_and(|f| Arc::ptr_eq(f, mf))
    }

    fn free_slot(&mut self, s: u32, unlink: bool) {
        let Some(slot) = self.slots.get_mut(s as usize) else {
            return;
        };
        if let Some(mf) = slot.set(None) {
            slot.gen = slot.gen.wrapping_add(1).max(1);
            self.free_slots.push(s);
            self.n_flows -= 1;
            self.dp.release_flows(1);
            if unlink {
                self.cls_mut(mf.in_port).remove(&mf.key, &mf.mask);
            }
            self.recycle(mf);
        }
    }

    /// Frees half of the spare megaflows that stayed unused over the last
    /// re-ranking period (the low-water mark of the list), so a pool left
    /// by a flush shrinks when misses do not need it.
    fn trim_spare_flows(&mut self) {
        let unused = self.spare_low.min(self.spare_flows.len());
        let keep = self.spare_flows.len() - unused / 2;
        self.spare_flows.truncate(keep);
        self.spare_low = self.spare_flows.len();
    }

    /// Keeps a megaflow nobody else holds (the master map and the control
    /// threads let go of it) for the next miss to refill in place: a
    /// flow that dies pays for the next one's allocation. At most
    /// [`MAX_SPARE_MEGAFLOWS`] are kept.
    fn recycle(&mut self, mf: Arc<Megaflow>) {
        if self.spare_flows.len() < MAX_SPARE_MEGAFLOWS
            && Arc::strong_count(&mf) == 1
            && Arc::weak_count(&mf) == 0
        {
            self.spare_flows.push(mf);
        }
    }

    /// Puts a megaflow into slab + classifier, replacing `prev` (its
    /// previous version, same key and mask) in place, or any megaflow with
    /// the same key and mask. Returns its slot.
    /// `dense`: the index in `self.dense` of the packet whose miss made
    /// `mf` (its classifier entry is then built from the dense words).
    /// `reserved`: the flow limit was already charged for it (else it is
    /// charged here if it takes a slot; a reservation not used is given
    /// back).
    fn install_local(
        &mut self,
        mf: Arc<Megaflow>,
        prev: Option<&Arc<Megaflow>>,
        dense: Option<usize>,
        reserved: bool,
    ) -> u32 {
        if let Some(p) = prev {
            let s = p.slot();
            if dense.is_none() && self.holds(s, p) {
                // A modify (flow_put): this PMD is the counters' only
                // writer, so carrying them over here loses nothing.
                mf.stats.carry_from(&p.stats);
            }
            if self.holds(s, p) && p.key == mf.key && p.mask == mf.mask {
                mf.slot.store(s, Ordering::Relaxed);
                self.slots[s as usize].set(Some(mf));
                if reserved {
                    self.dp.release_flows(1);
                }
                return s;
            }
            if self.holds(s, p) {
                self.free_slot(s, true);
            }
        }
        let s = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    gen: 1,
                    output: NO_FAST_OUTPUT,
                    flow: None,
                    acc: GroupAcc::default(),
                });
                (self.slots.len() - 1) as u32
            }
        };
        let (port, ufid) = (mf.in_port, mf.ufid);
        mf.slot.store(s, Ordering::Relaxed);
        self.n_flows += 1;
        if !reserved {
            self.dp.n_flows.fetch_add(1, Ordering::Relaxed);
        }
        let prev = {
            let pos = match self.cls_index.get(port) {
                Some(p) => p,
                None => {
                    self.cls.push((port, Dpcls::new()));
                    self.cls_index.set(port, self.cls.len() - 1);
                    self.cls.len() - 1
                }
            };
            let c = &mut self.cls[pos].1;
            match dense.and_then(|i| self.dense.get(i)) {
                // The miss path looked the packet up just before: absent.
                Some(f) => {
                    c.insert_flow_absent(f, &mf.mask, s);
                    None
                }
                None => c.insert(&mf.key, &mf.mask, s),
            }
        };
        self.slots[s as usize].set(Some(mf));
        if let Some(old) = prev {
            // Same megaflow already installed: the new one wins, in the
            // master map too (which never lists a freed megaflow). Under
            // another UFID the old entry goes; under the same UFID the new
            // one takes the old one's place.
            if let Some(old_mf) = self.slots[old as usize].flow.clone() {
                let mut flows = lock(&self.me.flows);
                if flows
                    .get(&old_mf.ufid)
                    .is_some_and(|f| Arc::ptr_eq(f, &old_mf))
                {
                    if old_mf.ufid != ufid {
                        flows.remove(&old_mf.ufid);
                    } else if let Some(new) = self.slots[s as usize].flow.clone() {
                        flows.insert(ufid, new);
                    }
                }
            }
            self.free_slot(old, false);
        }
        s
    }

    /// Classifies and executes `self.batch` (then empties it).
    fn process_batch(&mut self) {
        let n = self.batch.len();
        if n == 0 {
            return;
        }
        // 1. extraction for the whole batch, prefetching EMC entries, then
        //    the EMC lookups (their cache misses overlap).
        let mut miss: u32 = 0;
        let emc_on = self.emc.enabled();
        for (p, k) in self
            .batch
            .packets_mut()
            .iter_mut()
            .zip(self.keys.iter_mut())
        {
            extract(p, k);
            if emc_on {
                self.emc.prefetch(k.hash(), k.n_words());
            }
        }
        if emc_on {
            let slots = &self.slots;
            let alive = |s: u32, g: u32| slots.get(s as usize).is_some_and(|x| x.gen == g);
            let pairs = self.keys[..n].iter().zip(self.handles[..n].iter_mut());
            for (i, (k, hd)) in pairs.enumerate() {
                let h = self.emc.lookup(k, alive);
                *hd = h.unwrap_or(NIL);
                miss |= (h.is_none() as u32) << i;
            }
        } else {
            self.handles[..n].fill(NIL);
            miss = u32::MAX >> (BATCH_SIZE - n);
        }
        self.stats.emc_hits += (n as u32 - miss.count_ones()) as u64;
        // 2. classifier, as a batch per in_port.
        if miss != 0 {
            self.classify_misses(miss);
        }
        // 3. execute in packet order; stats per flow group.
        let now = self.now_ms;
        let mut ctx = ExecCtx {
            pool: &mut self.pool,
            out: &mut self.out,
            recirc: &mut self.recirc_next,
            handler: &*self.dp.handler,
            meter: self.dp.meter.as_deref(),
            rng: &mut self.rng,
            scratch: &mut self.scratch_key,
            now_ms: now,
            conntrack: Some(&self.dp.conntrack),
            dropped: 0,
        };
        let each = self
            .batch
            .drain()
            .zip(self.handles.iter().zip(self.keys.iter()));
        for (p, (&h, key)) in each {
            let mut fast = NO_FAST_OUTPUT;
            if let Some(slot) = self.slots.get_mut(h as usize) {
                let a = &mut slot.acc;
                if a.pkts == 0 {
                    self.touched.push(h);
                }
                a.pkts += 1;
                a.bytes += p.len() as u64;
                a.flags |= key.tcp_flags();
                fast = slot.output;
            }
            if fast != NO_FAST_OUTPUT {
                ctx.out.push(fast, p);
                continue;
            }
            let actions = if h & TEMP != 0 && h != NIL && h != DROP {
                self.temp[..self.n_temp]
                    .get((h & !TEMP) as usize)
                    .map(|a| &a[..])
            } else {
                self.slots
                    .get(h as usize)
                    .and_then(|s| s.flow.as_deref())
                    .map(|m| &m.actions[..])
            };
            let Some(actions) = actions else {
                ctx.dropped += 1;
                ctx.pool.put(p);
                continue;
            };
            ctx.execute_extracted(p, actions, key);
        }
        self.stats.dropped += ctx.dropped;
        for h in self.touched.drain(..) {
            if let Some(slot) = self.slots.get_mut(h as usize) {
                let a = std::mem::take(&mut slot.acc);
                if let Some(f) = slot.flow.as_deref() {
                    f.stats.add(a.pkts as u64, a.bytes, a.flags, now);
                }
            }
        }
        for a in &mut self.temp[..self.n_temp] {
            a.clear();
        }
        self.n_temp = 0;
    }

    fn classify_misses(&mut self, miss: u32) {
        let mut left = miss;
        // Batch lookup for packets sharing the first miss's in_port.
        let first = miss.trailing_zeros() as usize;
        let port = self.keys[first].get(IN_PORT) as u32;
        let mut same = 0u32;
        let mut bits = miss;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            self.dense_map[i] = self.keys[i].expand_over(&mut self.dense[i], self.dense_map[i]);
            if self.dense[i].get(IN_PORT) as u32 == port {
                same |= 1 << i;
            }
        }
        if let Some(pos) = self.cls_index.get(port) {
            let c = &mut self.cls[pos].1;
            let still = c.lookup_batch(&self.dense, same, &mut self.handles);
            left &= !(same & !still);
        }
        // Others one by one.
        let mut bits = left & !same;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let p = self.dense[i].get(IN_PORT) as u32;
            if let Some(pos) = self.cls_index.get(p) {
                if let Some(h) = self.cls[pos].1.lookup_flow(&self.dense[i]) {
                    self.handles[i] = h;
                    left &= !(1 << i);
                }
            }
        }
        let hits = miss & !left;
        self.stats.megaflow_hits += hits.count_ones() as u64;
        // EMC insertion for classifier hits.
        let mut bits = if self.emc.enabled() { hits } else { 0 };
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let s = self.handles[i];
            let gen = self.slots[s as usize].gen;
            self.emc
                .probabilistic_insert(&self.keys[i], s, gen, &mut self.rng);
        }
        if left != 0 {
            self.stats.misses += left.count_ones() as u64;
            self.upcall_misses(left);
        }
    }

    /// The miss path: re-check the classifier (an earlier upcall of this
    /// batch may have installed the flow), else ask the handler.
    fn upcall_misses(&mut self, left: u32) {
        let mut bits = left;
        let handler = self.dp.handler.clone();
        // Until this batch installs a megaflow, the classifier is as the
        // batch lookup saw it: every miss is still a miss (and its rule
        // absent), so only later misses look again.
        let mut installed = false;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let port = self.dense[i].get(IN_PORT) as u32;
            if installed {
                if let Some(pos) = self.cls_index.get(port) {
                    if let Some(h) = self.cls[pos].1.lookup_flow(&self.dense[i]) {
                        self.handles[i] = h;
                        continue;
                    }
                }
            }
            self.reply.clear();
            let r = handler.miss(&self.batch.packets()[i], &self.keys[i], &mut self.reply);
            if r.is_err() {
                self.stats.upcall_errors += 1;
                self.handles[i] = DROP;
                continue;
            }
            self.stats.upcalls += 1;
            // Over the flow limit (or not to be installed): no megaflow is
            // built; the reply's actions are kept for this batch and the
            // reply gets an emptied list (with capacity) in exchange.
            let install = self.reply.install && self.dp.reserve_flows(1);
            if !install {
                if self.reply.install {
                    self.stats.flow_limit_hits += 1;
                }
                if self.n_temp == self.temp.len() {
                    self.temp.push(Vec::new());
                }
                std::mem::swap(&mut self.temp[self.n_temp], &mut self.reply.actions);
                self.handles[i] = TEMP | self.n_temp as u32;
                self.n_temp += 1;
                continue;
            }
            let (mask, mask_part) = match self.reply.shared_mask.take() {
                Some(m) => match &self.last_mask {
                    Some((h, n, b)) if Arc::ptr_eq(h, &m) => (n.clone(), *b),
                    _ => {
                        normalize_mask_into(&m, &mut self.mask_scratch);
                        let n = self.intern_mask();
                        let b = Ufid::mask_part(&n);
                        self.last_mask = Some((m, n.clone(), b));
                        (n, b)
                    }
                },
                None => {
                    normalize_mask_into(
                        self.reply.mask.as_ref().unwrap_or(&self.exact),
                        &mut self.mask_scratch,
                    );
                    let n = self.intern_mask();
                    let b = Ufid::mask_part(&n);
                    (n, b)
                }
            };
            masked_key_into(&self.dense[i], &mask, &mut self.key_scratch);
            let ufid = Ufid::of_with(&self.key_scratch, &mask, mask_part);
            // Built in its allocation (a recycled one if there is one);
            // the reply's actions are moved in.
            let mf = match self.spare_flows.pop() {
                Some(mut mf) => {
                    self.spare_low = self.spare_low.min(self.spare_flows.len());
                    Megaflow::refill(
                        &mut mf,
                        ufid,
                        &self.key_scratch,
                        mask,
                        &mut self.reply.actions,
                        self.me.id,
                        port,
                    );
                    mf
                }
                None => Megaflow::new_in_place(
                    ufid,
                    &self.key_scratch,
                    mask,
                    &mut self.reply.actions,
                    self.me.id,
                    port,
                ),
            };
            // Into the master map at the end of the batch (one lock).
            self.new_flows.push(mf.clone());
            let s = self.install_local(mf, None, Some(i), true);
            installed = true;
            self.stats.flows_installed += 1;
            self.handles[i] = s;
            let gen = self.slots[s as usize].gen;
            self.emc
                .probabilistic_insert(&self.keys[i], s, gen, &mut self.rng);
        }
        if !self.new_flows.is_empty() {
            self.publish_new_flows();
        }
    }

    /// Puts the megaflows this batch's misses installed into the master
    /// map under one lock. A megaflow there under the same UFID (a
    /// `flow_put` this PMD has not applied yet, or one with a chosen UFID)
    /// is replaced, as a modify would, and its slot freed if it has one.
    ///
    /// While a flush this PMD has not applied yet is pending, they stay
    /// out of the map: that flush will remove them from the classifier.
    fn publish_new_flows(&mut self) {
        let mut flows = lock(&self.me.flows);
        if self.me.flush_gen.load(Ordering::Acquire) != self.flushed_gen {
            drop(flows);
            self.new_flows.clear();
            return;
        }
        for mf in self.new_flows.drain(..) {
            if let Some(old) = flows.insert(mf.ufid, mf) {
                self.replaced.push(old);
            }
        }
        drop(flows);
        while let Some(old) = self.replaced.pop() {
            let s = old.slot();
            if self.holds(s, &old) {
                self.free_slot(s, true);
            }
        }
    }

    /// The shared copy of `self.mask_scratch` (made on first use; masks no
    /// megaflow uses any more are dropped when their number has doubled
    /// since the last pruning).
    fn intern_mask(&mut self) -> Arc<FlowKey> {
        let m = &self.mask_scratch;
        if let Some(a) = self
            .masks
            .get(&m.hash())
            .and_then(|v| v.iter().find(|a| ***a == *m))
        {
            return a.clone();
        }
        if self.n_masks >= self.masks_prune_at {
            self.masks.retain(|_, v| {
                v.retain(|a| Arc::strong_count(a) > 1);
                !v.is_empty()
            });
            self.n_masks = self.masks.values().map(Vec::len).sum();
            self.masks_prune_at = (2 * self.n_masks).max(MAX_INTERNED_MASKS);
        }
        let a = Arc::new(self.mask_scratch.clone());
        self.masks.entry(a.hash()).or_default().push(a.clone());
        self.n_masks += 1;
        a
    }

    fn run_recirculation(&mut self) {
        let max = self.dp.cfg.max_recirc_depth;
        let mut depth = 0;
        while !self.recirc_next.is_empty() {
            depth += 1;
            std::mem::swap(&mut self.recirc, &mut self.recirc_next);
            if depth > max {
                self.stats.dropped += self.recirc.len() as u64;
                for p in self.recirc.drain(..) {
                    self.pool.put(p);
                }
                continue;
            }
            // In arrival order, a batch at a time.
            while !self.recirc.is_empty() {
                let take = self.recirc.len().min(BATCH_SIZE);
                for p in self.recirc.drain(..take) {
                    let _ = self.batch.push(p);
                }
                self.stats.recirculations += take as u64;
                self.process_batch();
            }
        }
    }

    /// Sends each port's collected output (only the ports this batch
    /// output to); output to a port that is gone is dropped and counted.
    fn send_outputs(&mut self, ports: &Guard<Arc<PortTable>>) {
        let qbase = self.me.id;
        let (pool, stats) = (&mut self.pool, &mut self.stats);
        self.out.drain_pending(|port_no, pkts| {
            let n = pkts.len() as u64;
            let sent = match ports.get(port_no) {
                Some(port) => {
                    let q = qbase % port.netdev.n_txq().max(1);
                    port.netdev.send(q, pkts, pool).unwrap_or(0) as u64
                }
                None => 0,
            };
            stats.tx_packets += sent;
            // A port that segments GSO packets in software sends more
            // frames than it was given.
            stats.dropped += n.saturating_sub(sent);
            for p in pkts.drain(..) {
                pool.put(p);
            }
        });
    }
}

impl Drop for Pmd {
    /// Its megaflows no longer count against the flow limit.
    fn drop(&mut self) {
        self.dp.release_flows(self.n_flows);
    }
}

/// The CPUs the calling thread may run on (None: unknown), to keep PMDs
/// off CPUs that a `pmd-cpu-mask` names but the system does not offer.
pub fn usable_cpus() -> Option<Vec<usize>> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    Some(
        (0..nix::sched::CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
    )
}

/// Pins thread `tid` (0: the calling thread) to `cpu`, or lets it run on
/// every CPU (None). Logged and ignored on failure.
pub(crate) fn pin_thread(tid: i32, cpu: Option<usize>) {
    let mut set = nix::sched::CpuSet::new();
    let ok = match cpu {
        Some(c) => set.set(c).is_ok(),
        None => (0..nix::sched::CpuSet::count()).all(|c| set.set(c).is_ok()),
    };
    if !ok || nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(tid), &set).is_err() {
        tracing::warn!(?cpu, tid, "could not pin PMD thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::DpAction;
    use crate::dpif::{Datapath, DpConfig};
    use crate::flow::layout::{DL_TYPE, NW_DST};
    use crate::netdev::MemNetdev;
    use crate::upcall::{UpcallError, UpcallHandler};

    /// Exact on nw_dst, output to port 2.
    struct ToPort2;
    impl UpcallHandler for ToPort2 {
        fn miss(
            &self,
            _p: &DpPacket,
            _k: &FlowKey,
            r: &mut UpcallReply,
        ) -> Result<(), UpcallError> {
            let mut m = Flow::default();
            m.set_all(DL_TYPE);
            m.set_all(NW_DST);
            r.mask = Some(m.to_key());
            r.actions.push(DpAction::Output(2));
            Ok(())
        }
    }

    fn udp_to(x: u8) -> DpPacket {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 19, 0, x]);
        DpPacket::from_bytes(&f)
    }

    /// Misses of one batch that share a megaflow call the handler once:
    /// after the first install the later misses look the classifier up
    /// again (before it, they need not).
    #[test]
    fn one_upcall_per_megaflow_within_a_batch() {
        let dp = Datapath::new(DpConfig::default(), Arc::new(ToPort2));
        let p1 = MemNetdev::new("p1", 1, 1);
        let p2 = MemNetdev::new("p2", 1, 1);
        dp.add_port(1, p1.clone()).unwrap();
        dp.add_port(2, p2.clone()).unwrap();
        let mut pmd = dp.pmd_inline(0).unwrap();
        for x in [7u8, 7, 8, 7, 8, 9] {
            assert!(p1.inject(0, udp_to(x)));
        }
        pmd.poll_once();
        let s = pmd.stats();
        assert_eq!((s.misses, s.upcalls, s.flows_installed), (6, 3, 3));
        assert_eq!(s.tx_packets, 6);
        assert_eq!(dp.flow_count(), 3);
        let mut pkts: Vec<u64> = dp.flow_dump().iter().map(|f| f.stats.packets).collect();
        pkts.sort();
        assert_eq!(pkts, vec![1, 2, 3]);
    }

    /// A flush leaves its megaflows as spares; misses refill them (the
    /// pool shrinks by what they take), and what stays unused over a
    /// re-ranking period is halved at its end.
    #[test]
    fn spare_megaflows_are_refilled_then_trimmed_when_unused() {
        let dp = Datapath::new(DpConfig::default(), Arc::new(ToPort2));
        let p1 = MemNetdev::new("p1", 1, 1);
        dp.add_port(1, p1.clone()).unwrap();
        dp.add_port(2, MemNetdev::new("p2", 1, 1)).unwrap();
        let mut pmd = dp.pmd_inline(0).unwrap();
        for x in 0..40 {
            assert!(p1.inject(0, udp_to(x)));
            pmd.poll_once();
        }
        assert_eq!(pmd.flow_count(), 40);
        pmd.flush_flows();
        assert_eq!(pmd.spare_flows.len(), 40);
        for x in 100..110 {
            assert!(p1.inject(0, udp_to(x)));
            pmd.poll_once();
        }
        assert_eq!(pmd.spare_flows.len(), 30, "10 refilled");
        assert_eq!(pmd.flow_count(), 10);
        // Hits only. Periods end every RANK_INTERVAL busy polls (the 50
        // above count): the first one saw the pool appear mid-way (not
        // unused all along: kept), then 30 unused -> 15 -> 8.
        for round in [30, 15, 8] {
            for _ in 0..RANK_INTERVAL {
                assert!(p1.inject(0, udp_to(100)));
                pmd.poll_once();
            }
            assert_eq!(pmd.spare_flows.len(), round);
        }
        assert_eq!(pmd.stats().flows_installed, 50);
    }
}
