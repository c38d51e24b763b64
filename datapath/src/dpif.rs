//! The datapath object: ports, PMD threads and the flow interface used by
//! the slow path (put/get/del/dump/flush with statistics).
//!
//! Control threads never touch a PMD's classifier or cache. They publish:
//! the port table and each PMD's receive-queue list are immutable values
//! swapped atomically (`ArcSwap`), loaded by the PMD once per poll
//! iteration; flow changes go into the PMD's inbox, which the PMD drains
//! with `try_lock` at the top of an iteration (it never waits for it).
//! Every control-side update of ports and flows runs under one datapath
//! mutex (start/stop under the thread list's), so the clone-modify-store
//! of a published value and the check before it are never interleaved
//! with another update's.
//!
//! The port table indexes ports by number ([`PortIndex`]: an array for
//! the usual small numbers), and each receive-queue entry carries its
//! netdev, so an idle poll costs the same per queue whatever the number
//! of ports.
//!
//! The flow limit is datapath-wide, as OVS's `other_config:flow-limit`:
//! one counter of the megaflows held by all PMDs, reserved before a
//! megaflow is built (a miss at the limit executes the reply's actions
//! without building one) or refused to `flow_put` with
//! [`DpError::FlowLimit`].
//!
//! A flush increments the PMD's flush generation under its master-map
//! lock; a PMD publishing the megaflows of a batch does not put them in
//! the map while a flush it has not applied yet is pending (they are
//! dropped by that flush), so the map never lists a flow the classifier
//! does not hold.
//! Each PMD also keeps its megaflows in a master map (`Ufid -> Arc<Megaflow>`)
//! behind a mutex, which the PMD locks only on the miss path (once per
//! batch that installed flows) and control threads only to copy pointers
//! out; hits never lock anything.
//!
//! A flow removed by `flow_del` stops matching when its PMD starts its next
//! iteration (RCU-style grace: the batch in flight may still use it).
//!
//! The PMD set is a published value too (`ArcSwap` of the list, ids 0..n):
//! `set_pmds` (OVS's `pmd-cpu-mask`) grows or shrinks it at its end, moves
//! the queues over the new set (`rxq_sched`), stops the removed threads
//! and starts the new ones. Control calls load the list once per call.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::actions::{DpAction, DpActions, MeterHook};
use crate::conntrack::Conntrack;
use crate::flow::layout::{IN_PORT, RECIRC_ID};
use crate::flow::{Flow, FlowKey};
use crate::megaflow::{FlowStats, FlowStatsSnapshot, Megaflow, Ufid, UfidMap};
use crate::netdev::wait::RxWaker;
use crate::netdev::Netdev;
use crate::pmd::Pmd;
use crate::pmd_stats::{PmdCounters, PmdStats};
use crate::port_index::PortIndex;
use crate::upcall::UpcallHandler;

/// Datapath settings (defaults as OVS's).
#[derive(Debug, Clone)]
pub struct DpConfig {
    /// One entry per PMD thread: the CPU to pin it to, or `None`.
    pub pmd_cpus: Vec<Option<usize>>,
    pub emc_entries: usize,
    /// OVS `other_config:emc-insert-inv-prob` (0 disables the EMC).
    pub emc_insert_inv_prob: u32,
    /// OVS `other_config:flow-limit`: megaflows in the whole datapath (all
    /// PMDs together) beyond which misses are executed without installing
    /// and `flow_put` of a new flow is refused.
    pub flow_limit: usize,
    /// Recirculation passes per packet before it is dropped.
    pub max_recirc_depth: u32,
    /// A PMD thread that found nothing for this many iterations in a row,
    /// and for at least `idle_spin`, stops spinning: it sleeps on its
    /// queues' descriptors (at most `idle_wait`, woken at once by packets
    /// and by the control side), or, when a queue has no descriptor
    /// (in-memory ports), sleeps `idle_sleep` per iteration. `idle_sleep`
    /// None: pure busy polling, as OVS. Everything a sleeping PMD must
    /// see wakes it (packets, inbox, queue changes, quit), so `idle_wait`
    /// is only a safety net: its default of 1 s costs one wakeup a second
    /// per idle PMD (50 ms took 20 a second: a third of an idle lab switch's CPU).
    pub idle_polls_before_sleep: u32,
    pub idle_spin: Duration,
    /// The longest spin: when packets keep waking a sleeping PMD after
    /// gaps no longer than this, its spin grows to cover one and a half
    /// gaps (so steady traffic of at least one packet per `idle_spin_max`
    /// is polled, not woken up for: a wakeup costs tens of microseconds
    /// of latency); each longer gap shrinks it by a quarter, down to
    /// `idle_spin` (see `pmd_idle`). An idle PMD, or one seeing sparse
    /// packets, still sleeps.
    pub idle_spin_max: Duration,
    pub idle_sleep: Option<Duration>,
    pub idle_wait: Duration,
}

impl Default for DpConfig {
    fn default() -> Self {
        DpConfig {
            pmd_cpus: vec![None],
            emc_entries: crate::emc::EMC_DEFAULT_ENTRIES,
            emc_insert_inv_prob: crate::emc::EMC_DEFAULT_INSERT_INV_PROB,
            flow_limit: 200_000,
            max_recirc_depth: 6,
            idle_polls_before_sleep: 128,
            idle_spin: Duration::from_micros(150),
            idle_spin_max: Duration::from_millis(4),
            idle_sleep: Some(Duration::from_micros(100)),
            idle_wait: Duration::from_secs(1),
        }
    }
}

/// [`DpShared::max_sleep_us`] as `cfg` sets it.
fn default_max_sleep_us(cfg: &DpConfig) -> u64 {
    match cfg.idle_sleep {
        Some(_) => (cfg.idle_wait.as_micros() as u64).max(1),
        None => 0,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DpError {
    #[error("port {0} already exists")]
    PortExists(u32),
    #[error("no such port {0}")]
    NoPort(u32),
    #[error("no such PMD {0}")]
    NoPmd(usize),
    #[error("no such flow")]
    NoFlow,
    #[error("PMD threads already started")]
    Started,
    #[error("PMD {0} is driven inline")]
    Inline(usize),
    #[error("flow limit ({0} megaflows) reached")]
    FlowLimit(usize),
}

/// A datapath port.
#[derive(Clone)]
pub struct Port {
    pub port_no: u32,
    pub netdev: Arc<dyn Netdev>,
}

/// The published port table (sorted by port number, indexed by it).
#[derive(Clone, Default)]
pub struct PortTable {
    ports: Vec<Port>,
    index: PortIndex,
}

impl PortTable {
    fn from_ports(mut ports: Vec<Port>) -> PortTable {
        ports.sort_by_key(|p| p.port_no);
        let mut index = PortIndex::default();
        for (i, p) in ports.iter().enumerate() {
            index.set(p.port_no, i);
        }
        PortTable { ports, index }
    }
    #[inline]
    pub fn get(&self, port_no: u32) -> Option<&Port> {
        self.ports.get(self.index.get(port_no)?)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter()
    }
}

/// A receive queue polled by a PMD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxqRef {
    pub port_no: u32,
    pub qid: usize,
}

/// A receive queue as the PMD polls it: with its netdev (no port-table
/// lookup per queue per poll) and the cycles spent on its batches (one
/// writer, the PMD polling it; kept when the queue moves to another PMD,
/// so `cycles` assignment sees its history).
#[derive(Clone)]
pub(crate) struct Rxq {
    pub port_no: u32,
    pub qid: usize,
    pub netdev: Arc<dyn Netdev>,
    pub cycles: Arc<AtomicU64>,
    /// [`Netdev::rx_costly`], read once.
    pub costly: bool,
}

pub use crate::rxq_sched::RxqAssign;

/// A receive queue as `pmd_info` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxqInfo {
    pub port_no: u32,
    pub qid: usize,
    /// Cycles spent on its batches since the last `clear_pmd_stats`.
    pub cycles: u64,
}

/// A PMD as `pmd_info` reports it.
#[derive(Debug, Clone)]
pub struct PmdInfo {
    pub id: usize,
    /// The CPU it is pinned to.
    pub cpu: Option<usize>,
    /// Whether a queue pinned to it by `pmd-rxq-affinity` keeps others off.
    pub isolated: bool,
    pub rxqs: Vec<RxqInfo>,
    /// Its counters since the last `clear_pmd_stats`.
    pub stats: PmdStats,
}

pub(crate) enum PmdCmd {
    /// Install `mf`, replacing `prev` (the same UFID's previous version).
    /// Its flow-limit reservation, if any, is in `mf.reserved`.
    Insert {
        mf: Arc<Megaflow>,
        prev: Option<Arc<Megaflow>>,
    },
    Remove(Arc<Megaflow>),
    /// Remove everything; the PMD has then applied flush generation `.0`.
    Flush(u64),
    EmcInsertInvProb(u32),
}

pub(crate) struct PmdShared {
    pub id: usize,
    pub rxqs: ArcSwap<Vec<Rxq>>,
    pub counters: PmdCounters,
    pub flows: Mutex<UfidMap<Arc<Megaflow>>>,
    /// Flushes requested; changed only with `flows` locked.
    pub flush_gen: AtomicU64,
    pub inbox: Mutex<Vec<PmdCmd>>,
    pub inbox_pending: AtomicBool,
    pub quit: AtomicBool,
    pub claimed: AtomicBool,
    /// Bumped on every store to `rxqs` (the PMD rebuilds its wait set
    /// when it differs from the one it built it for).
    pub rxq_gen: AtomicU64,
    /// Set by the PMD while it sleeps on its wait set; whoever changes
    /// what the PMD must see (inbox, rxqs, quit) wakes it then.
    pub sleeping: AtomicBool,
    /// Wakes the PMD's wait set (None if no eventfd could be made: the
    /// PMD then never sleeps on descriptors).
    pub waker: Option<RxWaker>,
    /// The CPU the thread is to be pinned to, and the running thread's id
    /// (0: none), changed together under this lock (see `set_pmd_cpus`).
    pub pin: Mutex<(Option<usize>, i32)>,
    /// Counters at the last `clear_pmd_stats`.
    pub stats_base: Mutex<PmdStats>,
    /// Set by the last queue assignment (see `rxq_sched`).
    pub isolated: AtomicBool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PmdShared {
    pub(crate) fn new(id: usize, cpu: Option<usize>) -> PmdShared {
        PmdShared {
            id,
            rxqs: ArcSwap::from_pointee(Vec::new()),
            counters: PmdCounters::default(),
            flows: Mutex::new(UfidMap::default()),
            flush_gen: AtomicU64::new(0),
            inbox: Mutex::new(Vec::new()),
            inbox_pending: AtomicBool::new(false),
            quit: AtomicBool::new(false),
            claimed: AtomicBool::new(false),
            rxq_gen: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            pin: Mutex::new((cpu, 0)),
            stats_base: Mutex::new(PmdStats::default()),
            isolated: AtomicBool::new(false),
            waker: RxWaker::new()
                .map_err(|e| tracing::warn!("PMD {id}: no eventfd ({e}): no idle sleep"))
                .ok(),
        }
    }

    /// The core id `pmd-rxq-show` and `pmd-rxq-affinity` know it by: its
    /// CPU, or its number when it is not pinned.
    pub(crate) fn core_id(&self) -> usize {
        lock(&self.pin).0.unwrap_or(self.id)
    }

    pub(crate) fn send(&self, c: PmdCmd) {
        lock(&self.inbox).push(c);
        self.inbox_pending.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Publishes a new receive-queue list and wakes the PMD to use it.
    pub(crate) fn set_rxqs(&self, v: Vec<Rxq>) {
        self.rxqs.store(Arc::new(v));
        self.rxq_gen.fetch_add(1, Ordering::SeqCst);
        self.wake();
    }

    /// Wakes the PMD if it sleeps. Called after the change it must see is
    /// stored (SeqCst, as the PMD's `sleeping` store before its last
    /// check): either the PMD's check sees the change, or this load sees
    /// it sleeping and the eventfd (which keeps its count) ends the wait.
    pub(crate) fn wake(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            if let Some(w) = &self.waker {
                w.wake();
            }
        }
    }
}

pub(crate) struct DpShared {
    pub cfg: DpConfig,
    pub ports: ArcSwap<PortTable>,
    /// The PMDs, by id (ids are 0..n: the set grows and shrinks at its
    /// end, see `Datapath::set_pmds`).
    pub pmds: ArcSwap<Vec<Arc<PmdShared>>>,
    pub handler: Arc<dyn UpcallHandler>,
    pub meter: Option<Arc<dyn MeterHook>>,
    /// The connection tracker every PMD shares.
    pub conntrack: Arc<Conntrack>,
    pub epoch: Instant,
    pub emc_insert_inv_prob: AtomicU32,
    /// Megaflows held by all PMDs' slots, plus reservations for ones about
    /// to be (see `reserve_flows`).
    pub n_flows: AtomicUsize,
    /// The flow limit in force (`cfg.flow_limit` at start; the switch's
    /// upcall layer moves it at run time, see `set_flow_limit`).
    pub flow_limit: AtomicUsize,
    /// The longest sleep of an idle PMD on its wait set, in microseconds;
    /// 0: idle PMDs do not sleep (busy polling, as OVS by default). Set
    /// at run time by `set_pmd_max_sleep`.
    pub max_sleep_us: AtomicU64,
}

impl DpShared {
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Reserves room for `n` more megaflows under the flow limit. At the
    /// limit this is one load (no write to the shared line).
    #[inline]
    pub fn reserve_flows(&self, n: usize) -> bool {
        let limit = self.flow_limit.load(Ordering::Relaxed);
        self.n_flows
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                (c + n <= limit).then_some(c + n)
            })
            .is_ok()
    }

    /// Gives back `n` units (megaflows freed, or reservations unused).
    #[inline]
    pub fn release_flows(&self, n: usize) {
        if n > 0 {
            self.n_flows.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

/// A flow as the slow path sees it.
#[derive(Debug, Clone)]
pub struct FlowInfo {
    pub ufid: Ufid,
    pub pmd: usize,
    pub key: FlowKey,
    pub mask: FlowKey,
    pub actions: DpActions,
    pub stats: FlowStatsSnapshot,
}

impl FlowInfo {
    fn of(m: &Megaflow) -> FlowInfo {
        FlowInfo {
            ufid: m.ufid,
            pmd: m.pmd,
            key: m.key.to_key(),
            mask: (*m.mask).clone(),
            actions: DpActions::from(&m.actions[..]),
            stats: m.stats.snapshot(),
        }
    }
}

/// A flow to install from the slow path.
#[derive(Debug, Clone)]
pub struct FlowPut {
    /// Key (any bits outside the mask are ignored). Must carry in_port.
    pub key: FlowKey,
    pub mask: FlowKey,
    pub actions: Vec<DpAction>,
    /// Target PMD, or every PMD.
    pub pmd: Option<usize>,
    /// Id to use (derived from key and mask when `None`).
    pub ufid: Option<Ufid>,
}

/// Forces exact in_port and recirc_id into a mask (megaflows are always
/// exact on them, so one classifier per in_port is enough) and masks the key.
pub(crate) fn normalize(key: &FlowKey, mask: &FlowKey) -> (FlowKey, FlowKey) {
    let mut d = Flow::default();
    key.expand(&mut d);
    normalize_dense(&d, mask)
}

/// [`normalize`] for a key already in dense form.
pub(crate) fn normalize_dense(key: &Flow, mask: &FlowKey) -> (FlowKey, FlowKey) {
    let mut m = FlowKey::default();
    let mut k = FlowKey::default();
    normalize_mask_into(mask, &mut m);
    masked_key_into(key, &m, &mut k);
    (k, m)
}

/// The mask half of [`normalize`]: `mask` with in_port and recirc_id made
/// exact, written into `m`.
#[inline]
pub(crate) fn normalize_mask_into(mask: &FlowKey, m: &mut FlowKey) {
    let md0 = IN_PORT.word_mask() | RECIRC_ID.word_mask();
    let mut mb = m.builder();
    if mask.map() & 1 == 0 {
        mb.push(0, md0);
    }
    for (i, w) in mask.iter() {
        mb.push(i, if i == 0 { w | md0 } else { w });
    }
    mb.finish();
}

/// `key & mask` of a dense key, written into `k` in place (the PMD's miss
/// path builds it inside the new megaflow: no key copies).
#[inline]
pub(crate) fn masked_key_into(key: &Flow, mask: &FlowKey, k: &mut FlowKey) {
    let mut kb = k.builder();
    for (i, w) in mask.iter() {
        kb.push(i, key.0[i] & w);
    }
    kb.finish();
}

/// `pmd-rxq-affinity` of each port (by name: it outlives port numbers
/// and is set before the port exists) and `pmd-rxq-isolate`.
struct Affinity {
    by_port: std::collections::HashMap<String, Vec<(usize, usize)>>,
    isolate: bool,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity {
            by_port: Default::default(),
            isolate: true,
        }
    }
}

impl Affinity {
    fn pins(&self, port: &str) -> &[(usize, usize)] {
        self.by_port.get(port).map_or(&[], Vec::as_slice)
    }
}

/// The userspace datapath.
pub struct Datapath {
    pub(crate) shared: Arc<DpShared>,
    /// Serializes every control-side update.
    ctl: Mutex<()>,
    assign: Mutex<RxqAssign>,
    /// `pmd-rxq-affinity` by port name, and `pmd-rxq-isolate`.
    affinity: Mutex<Affinity>,
    /// Whether `start` has run (and `stop` not since): PMDs added by
    /// `set_pmds` then get a thread at once.
    running: AtomicBool,
    /// The running PMD threads, by PMD id; each returns its state.
    threads: Mutex<Vec<(usize, JoinHandle<Pmd>)>>,
    /// The state of stopped PMD threads (classifiers, EMC, statistics),
    /// by PMD id, taken up again by `start`.
    parked: Mutex<Vec<Option<Pmd>>>,
    /// The conntrack expiry thread, running while the PMDs run.
    sweeper: Mutex<Option<crate::conntrack::expiry::Sweeper>>,
}

impl Datapath {
    pub fn new(cfg: DpConfig, handler: Arc<dyn UpcallHandler>) -> Datapath {
        Datapath::with_meter(cfg, handler, None)
    }

    pub fn with_meter(
        cfg: DpConfig,
        handler: Arc<dyn UpcallHandler>,
        meter: Option<Arc<dyn MeterHook>>,
    ) -> Datapath {
        let n = cfg.pmd_cpus.len().max(1);
        let pmds: Vec<Arc<PmdShared>> = (0..n)
            .map(|id| Arc::new(PmdShared::new(id, cfg.pmd_cpus.get(id).copied().flatten())))
            .collect();
        let max_sleep_us = default_max_sleep_us(&cfg);
        let flow_limit = cfg.flow_limit;
        Datapath {
            shared: Arc::new(DpShared {
                emc_insert_inv_prob: AtomicU32::new(cfg.emc_insert_inv_prob),
                cfg,
                ports: ArcSwap::from_pointee(PortTable::default()),
                pmds: ArcSwap::from_pointee(pmds),
                handler,
                meter,
                conntrack: Arc::new(Conntrack::new()),
                epoch: Instant::now(),
                n_flows: AtomicUsize::new(0),
                flow_limit: AtomicUsize::new(flow_limit),
                max_sleep_us: AtomicU64::new(max_sleep_us),
            }),
            ctl: Mutex::new(()),
            assign: Mutex::new(RxqAssign::default()),
            affinity: Mutex::new(Affinity::default()),
            running: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            parked: Mutex::new((0..n).map(|_| None).collect()),
            sweeper: Mutex::new(None),
        }
    }

    /// The connection tracker of this datapath (for `dpctl/*-conntrack`
    /// and its expiry sweep, [`Conntrack::sweep`] with [`Datapath::now_ms`]).
    pub fn conntrack(&self) -> &Arc<Conntrack> {
        &self.shared.conntrack
    }

    /// The PMD set the datapath was created with (what `set_pmds` goes
    /// back to when no `pmd-cpu-mask` is set).
    pub fn default_pmd_cpus(&self) -> Vec<Option<usize>> {
        self.shared.cfg.pmd_cpus.clone()
    }

    pub fn n_pmds(&self) -> usize {
        self.shared.pmds.load().len()
    }

    /// Adds a port. Its receive queues go to the PMD its
    /// `pmd-rxq-affinity` names, else each to the non-isolated PMD with
    /// the fewest queues; the queues already placed stay where they are
    /// (their PMDs keep their megaflows).
    pub fn add_port(&self, port_no: u32, netdev: Arc<dyn Netdev>) -> Result<(), DpError> {
        let _ctl = lock(&self.ctl);
        let cur = self.shared.ports.load();
        if cur.get(port_no).is_some() {
            return Err(DpError::PortExists(port_no));
        }
        let nrx = netdev.n_rxq();
        let mut ports = cur.ports.clone();
        ports.push(Port {
            port_no,
            netdev: netdev.clone(),
        });
        self.shared
            .ports
            .store(Arc::new(PortTable::from_ports(ports)));
        let pins = lock(&self.affinity).pins(netdev.name()).to_vec();
        let pmds = self.shared.pmds.load();
        for qid in 0..nrx {
            let pinned = pins
                .iter()
                .find(|(q, _)| *q == qid)
                .and_then(|(_, core)| pmds.iter().find(|p| p.core_id() == *core));
            let pmd = match pinned {
                Some(p) => p,
                None => pmds
                    .iter()
                    .filter(|p| !p.isolated.load(Ordering::Relaxed))
                    .chain(pmds.iter())
                    .min_by_key(|p| {
                        (
                            p.isolated.load(Ordering::Relaxed),
                            p.rxqs.load().len(),
                            p.id,
                        )
                    })
                    .expect("at least one PMD"),
            };
            let mut v = Vec::clone(&pmd.rxqs.load());
            v.push(Rxq {
                port_no,
                qid,
                costly: netdev.rx_costly(),
                netdev: netdev.clone(),
                cycles: Arc::default(),
            });
            pmd.set_rxqs(v);
        }
        Ok(())
    }

    /// Removes a port (its queues are no longer polled; flows stay until
    /// revalidated away; output to it is dropped and counted).
    pub fn del_port(&self, port_no: u32) -> Result<(), DpError> {
        let _ctl = lock(&self.ctl);
        let cur = self.shared.ports.load();
        if cur.get(port_no).is_none() {
            return Err(DpError::NoPort(port_no));
        }
        for pmd in self.shared.pmds.load().iter() {
            let old = pmd.rxqs.load();
            if old.iter().all(|r| r.port_no != port_no) {
                continue;
            }
            let v: Vec<Rxq> = old
                .iter()
                .filter(|r| r.port_no != port_no)
                .cloned()
                .collect();
            pmd.set_rxqs(v);
        }
        let ports = cur
            .ports
            .iter()
            .filter(|p| p.port_no != port_no)
            .cloned()
            .collect();
        self.shared
            .ports
            .store(Arc::new(PortTable::from_ports(ports)));
        Ok(())
    }

    pub fn ports(&self) -> Vec<Port> {
        self.shared.ports.load().ports.clone()
    }

    /// The receive queues PMD `pmd` polls.
    pub fn pmd_rxqs(&self, pmd: usize) -> Vec<RxqRef> {
        self.shared
            .pmds
            .load()
            .get(pmd)
            .map(|p| {
                p.rxqs
                    .load()
                    .iter()
                    .map(|r| RxqRef {
                        port_no: r.port_no,
                        qid: r.qid,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Each PMD with its CPU, queues and counters since the last clear.
    pub fn pmd_info(&self) -> Vec<PmdInfo> {
        self.shared
            .pmds
            .load()
            .iter()
            .map(|p| PmdInfo {
                id: p.id,
                cpu: lock(&p.pin).0,
                isolated: p.isolated.load(Ordering::Relaxed),
                rxqs: p
                    .rxqs
                    .load()
                    .iter()
                    .map(|r| RxqInfo {
                        port_no: r.port_no,
                        qid: r.qid,
                        cycles: r.cycles.load(Ordering::Relaxed),
                    })
                    .collect(),
                stats: p.counters.read().since(&lock(&p.stats_base)),
            })
            .collect()
    }

    /// Restarts `pmd_info`'s counters (and the queues' cycles) from zero.
    pub fn clear_pmd_stats(&self) {
        for p in self.shared.pmds.load().iter() {
            *lock(&p.stats_base) = p.counters.read();
            for r in p.rxqs.load().iter() {
                r.cycles.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Pins PMD `i` to `cpus[i]` (None: any CPU), the running threads at
    /// once and later ones when they start. (The number of PMDs stays:
    /// see `set_pmds` for that.)
    pub fn set_pmd_cpus(&self, cpus: &[Option<usize>]) {
        for p in self.shared.pmds.load().iter() {
            Self::pin(p, cpus.get(p.id).copied().flatten());
        }
    }

    fn pin(p: &PmdShared, cpu: Option<usize>) {
        let mut pin = lock(&p.pin);
        pin.0 = cpu;
        if pin.1 != 0 {
            crate::pmd::pin_thread(pin.1, pin.0);
        }
    }

    /// Makes the PMD set one PMD per entry of `cpus` (at least one), PMD
    /// `i` pinned to `cpus[i]`: PMDs beyond the new count are stopped,
    /// new ones created (and started if the datapath runs), and every
    /// receive queue is assigned again (`rebalance_rxqs`) when the count
    /// changed. A queue moved to another PMD may be polled by both for
    /// one iteration (every netdev serializes a queue's receive), so no
    /// packet is lost by the move; the PMD that takes it over builds its
    /// megaflows by upcalls, the one that gave it up lets them expire.
    /// A PMD driven inline is neither created nor stopped here.
    pub fn set_pmds(&self, cpus: &[Option<usize>]) {
        let want = cpus.len().max(1);
        let cpu = |i: usize| cpus.get(i).copied().flatten();
        // Serialized with start/stop (lock order: threads, then ctl).
        let mut th = lock(&self.threads);
        let (added, removed) = {
            let _ctl = lock(&self.ctl);
            let cur = self.shared.pmds.load_full();
            for p in cur.iter().take(want) {
                Self::pin(p, cpu(p.id));
            }
            if want == cur.len() {
                return;
            }
            let mut next: Vec<Arc<PmdShared>> = cur.iter().take(want).cloned().collect();
            let added: Vec<Arc<PmdShared>> = (cur.len()..want)
                .map(|id| Arc::new(PmdShared::new(id, cpu(id))))
                .collect();
            next.extend(added.iter().cloned());
            let removed: Vec<Arc<PmdShared>> = cur.iter().skip(want).cloned().collect();
            {
                let mut parked = lock(&self.parked);
                parked.resize_with(want.max(cur.len()), || None);
            }
            // Every queue, the removed PMDs' included, over the new set.
            let all: Vec<Rxq> = cur
                .iter()
                .flat_map(|p| p.rxqs.load().iter().cloned().collect::<Vec<_>>())
                .collect();
            self.shared.pmds.store(Arc::new(next));
            self.assign_locked(all);
            for p in &removed {
                p.set_rxqs(Vec::new());
            }
            tracing::info!("datapath: {want} PMD thread(s)");
            (added, removed)
        };
        // Outside the control mutex: a PMD may be in an upcall.
        for me in &removed {
            me.quit.store(true, Ordering::SeqCst);
            me.wake();
        }
        let mut parked = lock(&self.parked);
        for me in &removed {
            let state = match th.iter().position(|(id, _)| *id == me.id) {
                Some(i) => th.swap_remove(i).1.join().ok(),
                None if me.claimed.load(Ordering::Acquire) => continue,
                None => None,
            };
            // Its pending commands are applied (their flow-limit units
            // taken) before its megaflows are dropped with it.
            let pmd = state
                .or_else(|| parked[me.id].take())
                .unwrap_or_else(|| Pmd::new(self.shared.clone(), me.clone()));
            pmd.retire();
        }
        parked.truncate(want);
        if self.running.load(Ordering::Acquire) {
            for me in &added {
                if !me.claimed.swap(true, Ordering::AcqRel) {
                    th.push((me.id, self.spawn(me, None)));
                }
            }
        }
    }

    fn spawn(&self, me: &Arc<PmdShared>, state: Option<Pmd>) -> JoinHandle<Pmd> {
        me.quit.store(false, Ordering::Release);
        let pmd = state.unwrap_or_else(|| Pmd::new(self.shared.clone(), me.clone()));
        std::thread::Builder::new()
            .name(format!("pmd-{}", me.id))
            .spawn(move || pmd.run())
            .expect("spawn PMD thread")
    }

    /// The longest sleep of an idle PMD (OVS's `pmd-maxsleep`, in
    /// microseconds): `Some(0)` keeps idle PMDs polling, `None` restores
    /// the configured behaviour. Taken up by each PMD at its next idle
    /// pause; a sleeping PMD is woken so that it does.
    pub fn set_pmd_max_sleep(&self, us: Option<u64>) {
        let v = us.unwrap_or_else(|| default_max_sleep_us(&self.shared.cfg));
        self.shared.max_sleep_us.store(v, Ordering::Relaxed);
        for p in self.shared.pmds.load().iter() {
            p.wake();
        }
    }

    /// The mode of the next `rebalance_rxqs`.
    pub fn set_rxq_assign(&self, mode: RxqAssign) {
        *lock(&self.assign) = mode;
    }

    /// `other_config:pmd-rxq-isolate` (default true; false counts only
    /// with `group`), for the next `rebalance_rxqs`.
    pub fn set_rxq_isolate(&self, isolate: bool) {
        lock(&self.affinity).isolate = isolate;
    }

    /// The `pmd-rxq-affinity` of the port named `port`, as (queue, core)
    /// pairs (empty: none), for the next `rebalance_rxqs` and `add_port`.
    pub fn set_rxq_affinity(&self, port: &str, pins: Vec<(usize, usize)>) {
        let mut a = lock(&self.affinity);
        if pins.is_empty() {
            a.by_port.remove(port);
        } else {
            a.by_port.insert(port.to_string(), pins);
        }
    }

    /// Spreads every receive queue over the PMDs again, by the mode set
    /// with `set_rxq_assign` and the affinities (see `rxq_sched`). A
    /// queue keeps its cycle count.
    pub fn rebalance_rxqs(&self) {
        let _ctl = lock(&self.ctl);
        let all: Vec<Rxq> = self
            .shared
            .pmds
            .load()
            .iter()
            .flat_map(|p| p.rxqs.load().iter().cloned().collect::<Vec<_>>())
            .collect();
        self.assign_locked(all);
    }

    /// Assigns `all` over the current PMDs (control mutex held). A PMD
    /// whose list is unchanged is not disturbed.
    fn assign_locked(&self, all: Vec<Rxq>) {
        let mode = *lock(&self.assign);
        let aff = lock(&self.affinity);
        let pmds = self.shared.pmds.load();
        let cores: Vec<usize> = pmds.iter().map(|p| p.core_id()).collect();
        let qs: Vec<crate::rxq_sched::SchedRxq> = all
            .iter()
            .map(|r| crate::rxq_sched::SchedRxq {
                port: r.netdev.name(),
                port_no: r.port_no,
                qid: r.qid,
                cycles: r.cycles.load(Ordering::Relaxed),
                pinned: aff
                    .pins(r.netdev.name())
                    .iter()
                    .find(|(q, _)| *q == r.qid)
                    .map(|(_, c)| *c),
            })
            .collect();
        let plan = crate::rxq_sched::plan(&cores, &qs, mode, aff.isolate);
        drop(aff);
        for ((p, list), iso) in pmds.iter().zip(plan.lists).zip(plan.isolated) {
            p.isolated.store(iso, Ordering::Relaxed);
            let v: Vec<Rxq> = list.into_iter().map(|i| all[i].clone()).collect();
            let same = {
                let old = p.rxqs.load();
                old.len() == v.len()
                    && old
                        .iter()
                        .zip(&v)
                        .all(|(a, b)| (a.port_no, a.qid) == (b.port_no, b.qid))
            };
            if !same {
                p.set_rxqs(v);
            }
            for r in p.rxqs.load().iter() {
                tracing::debug!(
                    "core {} assigned port '{}' rx queue {}",
                    p.core_id(),
                    r.netdev.name(),
                    r.qid
                );
            }
        }
    }

    /// Changes the EMC insertion probability on every PMD.
    pub fn set_emc_insert_inv_prob(&self, p: u32) {
        let _ctl = lock(&self.ctl);
        self.shared.emc_insert_inv_prob.store(p, Ordering::Relaxed);
        for pmd in self.shared.pmds.load().iter() {
            pmd.send(PmdCmd::EmcInsertInvProb(p));
        }
    }

    /// A PMD's thread-local state, to be driven by the caller with
    /// [`Pmd::poll_once`] instead of by a thread (tests, benchmarks). A
    /// PMD whose thread was stopped is handed over with its state.
    pub fn pmd_inline(&self, id: usize) -> Result<Pmd, DpError> {
        let pmds = self.shared.pmds.load();
        let me = pmds.get(id).ok_or(DpError::NoPmd(id))?;
        if me.claimed.swap(true, Ordering::AcqRel) {
            return Err(DpError::Inline(id));
        }
        match lock(&self.parked)[id].take() {
            Some(p) => Ok(p),
            None => Ok(Pmd::new(self.shared.clone(), me.clone())),
        }
    }

    /// Starts one thread per PMD not claimed inline. A PMD stopped by
    /// `stop` resumes with its state (flows, caches, statistics).
    pub fn start(&self) -> Result<(), DpError> {
        let mut th = lock(&self.threads);
        if !th.is_empty() || self.running.load(Ordering::Acquire) {
            return Err(DpError::Started);
        }
        let mut parked = lock(&self.parked);
        for me in self.shared.pmds.load().iter() {
            if me.claimed.swap(true, Ordering::AcqRel) {
                continue;
            }
            let state = parked[me.id].take();
            th.push((me.id, self.spawn(me, state)));
        }
        self.running.store(true, Ordering::Release);
        let mut sw = lock(&self.sweeper);
        if sw.is_none() {
            let shared = Arc::downgrade(&self.shared);
            let clock = move || shared.upgrade().map_or(0, |s| s.now_ms());
            match crate::conntrack::expiry::Sweeper::spawn(
                self.shared.conntrack.clone(),
                clock,
                crate::conntrack::expiry::SWEEP_INTERVAL,
            ) {
                Ok(s) => *sw = Some(s),
                Err(e) => tracing::error!("conntrack expiry thread: {e}"),
            }
        }
        Ok(())
    }

    /// Stops and joins the PMD threads, keeping their state for `start`.
    /// PMDs driven inline stay claimed. (Serialized with `start` by the
    /// thread list's lock, not the control mutex: a PMD thread may be in an
    /// upcall handler that is waiting for that one.)
    pub fn stop(&self) {
        lock(&self.sweeper).take();
        let mut th = lock(&self.threads);
        self.running.store(false, Ordering::Release);
        let pmds = self.shared.pmds.load();
        for (id, _) in th.iter() {
            let me = &pmds[*id];
            me.quit.store(true, Ordering::SeqCst);
            me.wake();
        }
        let mut parked = lock(&self.parked);
        for (id, h) in th.drain(..) {
            let me = &pmds[id];
            parked[id] = match h.join() {
                Ok(p) => Some(p),
                Err(_) => {
                    // Its classifiers are gone with it: a new PMD starts
                    // from the master map.
                    tracing::error!(pmd = id, "PMD thread panicked");
                    Some(Pmd::from_master_map(self.shared.clone(), me.clone()))
                }
            };
            me.claimed.store(false, Ordering::Release);
        }
    }

    /// Statistics of each PMD.
    pub fn pmd_stats(&self) -> Vec<PmdStats> {
        self.shared
            .pmds
            .load()
            .iter()
            .map(|p| p.counters.read())
            .collect()
    }

    /// Statistics summed over PMDs.
    pub fn stats(&self) -> PmdStats {
        let mut s = PmdStats::default();
        for p in self.pmd_stats() {
            s.add(&p);
        }
        s
    }

    /// Installs or modifies a flow. A modify (same UFID) keeps its stats.
    /// A new flow over the datapath's flow limit is refused.
    pub fn flow_put(&self, put: FlowPut) -> Result<Ufid, DpError> {
        let _ctl = lock(&self.ctl);
        let (key, mask) = normalize(&put.key, &put.mask);
        let ufid = put.ufid.unwrap_or_else(|| Ufid::of(&key, &mask));
        let pmds = self.shared.pmds.load();
        let targets: Vec<&Arc<PmdShared>> = match put.pmd {
            Some(i) => vec![pmds.get(i).ok_or(DpError::NoPmd(i))?],
            None => pmds.iter().collect(),
        };
        let new = targets
            .iter()
            .filter(|p| !lock(&p.flows).contains_key(&ufid))
            .count();
        if !self.shared.reserve_flows(new) {
            return Err(DpError::FlowLimit(
                self.shared.flow_limit.load(Ordering::Relaxed),
            ));
        }
        let mut reservations = new;
        let in_port = key.get(IN_PORT) as u32;
        for pmd in targets {
            let mut flows = lock(&pmd.flows);
            // A modify starts from the old counters; the PMD carries them
            // over again when it swaps the two (see `megaflow`).
            let stats = flows
                .get(&ufid)
                .map(|m| FlowStats::from_snapshot(m.stats.snapshot()))
                .unwrap_or_default();
            let mf = Arc::new(Megaflow::new(
                ufid,
                key.clone(),
                mask.clone(),
                put.actions.iter().cloned().collect(),
                stats,
                pmd.id,
                in_port,
            ));
            let prev = flows.insert(ufid, mf.clone());
            // A new flow takes one of the units reserved above (a PMD's
            // miss may have published this UFID since the count: that unit
            // then goes back); a modify of a version not installed yet
            // takes over that version's unit (its install is now stale).
            let fresh = prev.is_none() && reservations > 0;
            reservations -= fresh as usize;
            let inherited = prev
                .as_ref()
                .is_some_and(|p| p.reserved.swap(false, Ordering::AcqRel));
            mf.reserved.store(fresh || inherited, Ordering::Release);
            drop(flows);
            pmd.send(PmdCmd::Insert { mf, prev });
        }
        self.shared.release_flows(reservations);
        Ok(ufid)
    }

    /// A flow by id (the first PMD that has it).
    pub fn flow_get(&self, ufid: Ufid) -> Option<FlowInfo> {
        self.shared
            .pmds
            .load()
            .iter()
            .find_map(|p| lock(&p.flows).get(&ufid).map(|m| FlowInfo::of(m)))
    }

    /// Deletes a flow from every PMD; returns its last statistics (summed).
    pub fn flow_del(&self, ufid: Ufid) -> Result<FlowStatsSnapshot, DpError> {
        let _ctl = lock(&self.ctl);
        let mut found = false;
        let mut s = FlowStatsSnapshot::default();
        for pmd in self.shared.pmds.load().iter() {
            let removed = lock(&pmd.flows).remove(&ufid);
            if let Some(m) = removed {
                found = true;
                let x = m.stats.snapshot();
                s.packets += x.packets;
                s.bytes += x.bytes;
                s.used_ms = s.used_ms.max(x.used_ms);
                s.tcp_flags |= x.tcp_flags;
                pmd.send(PmdCmd::Remove(m));
            }
        }
        if found {
            Ok(s)
        } else {
            Err(DpError::NoFlow)
        }
    }

    /// Every flow of every PMD.
    pub fn flow_dump(&self) -> Vec<FlowInfo> {
        let mut out = Vec::new();
        for pmd in self.shared.pmds.load().iter() {
            let ptrs: Vec<Arc<Megaflow>> = lock(&pmd.flows).values().cloned().collect();
            out.extend(ptrs.iter().map(|m| FlowInfo::of(m)));
        }
        out
    }

    /// Every megaflow of every PMD, shared rather than copied (keys,
    /// masks and actions stay where they are): what a revalidator reads.
    pub fn flow_dump_shared(&self) -> Vec<Arc<Megaflow>> {
        let mut out = Vec::with_capacity(self.flow_count());
        for pmd in self.shared.pmds.load().iter() {
            out.extend(lock(&pmd.flows).values().cloned());
        }
        out
    }

    /// Number of megaflows over all PMDs.
    pub fn flow_count(&self) -> usize {
        self.shared
            .pmds
            .load()
            .iter()
            .map(|p| lock(&p.flows).len())
            .sum()
    }

    /// Deletes every flow (the flow interface lists none from now on;
    /// each PMD stops matching them at its next iteration).
    pub fn flow_flush(&self) {
        let _ctl = lock(&self.ctl);
        for pmd in self.shared.pmds.load().iter() {
            let gen = {
                let mut flows = lock(&pmd.flows);
                flows.clear();
                pmd.flush_gen.fetch_add(1, Ordering::AcqRel) + 1
            };
            pmd.send(PmdCmd::Flush(gen));
        }
    }

    /// Milliseconds on the datapath clock (the unit of `used_ms`).
    pub fn now_ms(&self) -> u64 {
        self.shared.now_ms()
    }

    /// Sets the number of megaflows beyond which misses are executed
    /// without installing (flows already installed stay).
    pub fn set_flow_limit(&self, limit: usize) {
        self.shared.flow_limit.store(limit, Ordering::Relaxed);
    }

    /// The flow limit in force.
    pub fn flow_limit(&self) -> usize {
        self.shared.flow_limit.load(Ordering::Relaxed)
    }

    /// Megaflows counted against the flow limit (held by PMDs, or reserved
    /// for ones on their way).
    pub fn flow_limit_count(&self) -> usize {
        self.shared.n_flows.load(Ordering::Relaxed)
    }
}

impl Drop for Datapath {
    fn drop(&mut self) {
        self.stop();
    }
}
