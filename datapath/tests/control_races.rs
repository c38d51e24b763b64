//! The datapath's control side under races: concurrent port changes, a
//! flush racing a miss, stop/start, recirculation order, the datapath-wide
//! flow limit. Each test drives the interleaving it needs itself (a handler
//! that acts in the middle of a miss, threads started together), so a
//! failure is reproducible, not a matter of timing luck.
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, OnceLock, Weak};
use std::time::{Duration, Instant};

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig, FlowPut};

/// A UDP frame 198.18.0.1 -> 198.19.(x >> 8).(x & 255), payload `x`.
fn udp(x: u16) -> DpPacket {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 0, 1]);
    f[30..34].copy_from_slice(&[198, 19, (x >> 8) as u8, x as u8]);
    f[34..36].copy_from_slice(&1000u16.to_be_bytes());
    f[36..38].copy_from_slice(&2000u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f[42..44].copy_from_slice(&x.to_be_bytes());
    DpPacket::from_bytes(&f)
}

fn payload(p: &DpPacket) -> u16 {
    let d = p.data();
    u16::from_be_bytes([d[42], d[43]])
}

fn mask(fields: &[Field]) -> FlowKey {
    let mut f = Flow::default();
    for x in fields {
        f.set_all(*x);
    }
    f.to_key()
}

type Decide = dyn Fn(&FlowKey, &mut UpcallReply) + Send + Sync;

/// Counts misses and answers with a closure.
struct Handler {
    misses: AtomicUsize,
    decide: Box<Decide>,
}

impl Handler {
    fn new(f: impl Fn(&FlowKey, &mut UpcallReply) + Send + Sync + 'static) -> Arc<Handler> {
        Arc::new(Handler {
            misses: AtomicUsize::new(0),
            decide: Box::new(f),
        })
    }
}

impl UpcallHandler for Handler {
    fn miss(&self, _p: &DpPacket, k: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        self.misses.fetch_add(1, Ordering::SeqCst);
        (self.decide)(k, r);
        Ok(())
    }
}

/// Exact on nw_dst, output to `port`.
fn to_port(port: u32) -> Arc<Handler> {
    Handler::new(move |_k, r| {
        r.actions.push(DpAction::Output(port));
        r.mask = Some(mask(&[DL_TYPE, NW_DST]));
    })
}

fn cfg(pmds: usize) -> DpConfig {
    DpConfig {
        pmd_cpus: vec![None; pmds],
        idle_sleep: Some(Duration::from_micros(50)),
        idle_polls_before_sleep: 16,
        ..DpConfig::default()
    }
}

/// Every port's queues are assigned to exactly one PMD, and no PMD polls
/// a queue of a port that is not in the table.
fn ports_and_queues_agree(dp: &Datapath) -> Result<(), String> {
    let ports: BTreeSet<u32> = dp.ports().iter().map(|p| p.port_no).collect();
    let mut queues = BTreeSet::new();
    for i in 0..dp.n_pmds() {
        for r in dp.pmd_rxqs(i) {
            if !ports.contains(&r.port_no) {
                return Err(format!(
                    "PMD {i} polls queue {} of port {}, which is not in the table",
                    r.qid, r.port_no
                ));
            }
            if !queues.insert((r.port_no, r.qid)) {
                return Err(format!("queue {r:?} assigned twice"));
            }
        }
    }
    let want: BTreeSet<(u32, usize)> = dp
        .ports()
        .iter()
        .flat_map(|p| (0..p.netdev.n_rxq()).map(move |q| (p.port_no, q)))
        .collect();
    if queues != want {
        return Err(format!(
            "queue assignment {queues:?} differs from the port table's queues {want:?}"
        ));
    }
    Ok(())
}

fn assert_ports_and_queues_agree(dp: &Datapath) {
    if let Err(e) = ports_and_queues_agree(dp) {
        panic!("{e}");
    }
}

/// Stops every worker thread of a test at a known point (between two of
/// its operations), runs checks there, and lets them go on.
struct Checkpoint {
    pause: std::sync::atomic::AtomicBool,
    barrier: Barrier,
    errors: std::sync::Mutex<Vec<String>>,
}

impl Checkpoint {
    fn new(workers: usize) -> Arc<Checkpoint> {
        Arc::new(Checkpoint {
            pause: std::sync::atomic::AtomicBool::new(false),
            barrier: Barrier::new(workers + 1),
            errors: std::sync::Mutex::new(Vec::new()),
        })
    }
    /// A worker between two operations: if a checkpoint is on, waits for
    /// every other worker, runs `check` while all are stopped, and waits
    /// for the checkpoint to end.
    fn worker(&self, check: impl FnOnce() -> Result<(), String>) {
        if self.pause.load(Ordering::Acquire) {
            self.barrier.wait();
            if let Err(e) = check() {
                self.errors.lock().unwrap().push(e);
            }
            self.barrier.wait();
        }
    }
    /// The controlling thread: stops every worker, checks, resumes.
    fn hold(&self, check: impl FnOnce() -> Result<(), String>) {
        self.pause.store(true, Ordering::Release);
        self.barrier.wait();
        if let Err(e) = check() {
            self.errors.lock().unwrap().push(e);
        }
        self.pause.store(false, Ordering::Release);
        self.barrier.wait();
    }
}

/// Two threads adding 200 ports each, then removing half of them, started
/// together: every call succeeds, so every port must be there (or gone).
#[test]
fn concurrent_add_and_del_port_lose_nothing() {
    for round in 0..5 {
        let dp = Arc::new(Datapath::new(cfg(3), to_port(1)));
        let start = Arc::new(Barrier::new(2));
        let threads: Vec<_> = (0..2u32)
            .map(|t| {
                let (dp, start) = (dp.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for i in 0..200 {
                        let n = 1 + t * 1000 + i;
                        dp.add_port(n, MemNetdev::new(&format!("p{n}"), 2, 1))
                            .unwrap();
                    }
                    for i in (0..200).step_by(2) {
                        dp.del_port(1 + t * 1000 + i).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(dp.ports().len(), 200, "round {round}");
        assert_ports_and_queues_agree(&dp);
        let per_pmd: Vec<usize> = (0..3).map(|i| dp.pmd_rxqs(i).len()).collect();
        assert_eq!(per_pmd.iter().sum::<usize>(), 400, "round {round}");
    }
}

/// The same port added by two threads at once: exactly one wins.
#[test]
fn concurrent_add_of_one_port_has_one_winner() {
    for _ in 0..50 {
        let dp = Arc::new(Datapath::new(cfg(2), to_port(1)));
        let start = Arc::new(Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (dp, start) = (dp.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    dp.add_port(7, MemNetdev::new("p7", 1, 1)).is_ok()
                })
            })
            .collect();
        let wins = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&ok| ok)
            .count();
        assert_eq!(wins, 1);
        assert_ports_and_queues_agree(&dp);
    }
}

/// A flush that lands while a PMD is handling a miss (here: the handler
/// itself flushes, in the middle of the batch): once the PMD has applied
/// the flush, the flow interface reports no flow the classifier does not
/// have, and the packet that follows misses, installs and hits again.
#[test]
fn flush_racing_a_miss_leaves_no_ghost_flow() {
    let dp_slot: Arc<OnceLock<Weak<Datapath>>> = Arc::new(OnceLock::new());
    let flush_once = Arc::new(AtomicUsize::new(0));
    let h = {
        let (dp_slot, flush_once) = (dp_slot.clone(), flush_once.clone());
        Handler::new(move |_k, r| {
            if flush_once.fetch_add(1, Ordering::SeqCst) == 0 {
                if let Some(dp) = dp_slot.get().and_then(Weak::upgrade) {
                    dp.flow_flush();
                }
            }
            r.actions.push(DpAction::Output(2));
            r.mask = Some(mask(&[DL_TYPE, NW_DST]));
        })
    };
    let dp = Arc::new(Datapath::new(cfg(1), h.clone()));
    dp_slot.set(Arc::downgrade(&dp)).unwrap();
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let mut pmd = dp.pmd_inline(0).unwrap();
    assert!(p1.inject(0, udp(5)));
    pmd.poll_once();
    assert_eq!(p2.take_tx(0).len(), 1);
    // Applies the flush.
    pmd.poll_once();
    assert_eq!(
        dp.flow_count(),
        pmd.flow_count(),
        "flow interface and classifier disagree: {:?}",
        dp.flow_dump()
    );
    // A flow the dump lists must match its packets.
    let listed = dp.flow_count();
    assert!(p1.inject(0, udp(5)));
    pmd.poll_once();
    let misses = h.misses.load(Ordering::SeqCst);
    if listed == 1 {
        assert_eq!(misses, 1, "a listed flow did not match its packet");
    }
    assert_eq!(dp.flow_count(), 1);
    assert_eq!(pmd.flow_count(), 1);
    assert!(p1.inject(0, udp(5)));
    pmd.poll_once();
    assert_eq!(h.misses.load(Ordering::SeqCst), misses, "now it hits");
    assert_eq!(p2.take_tx(0).len(), 2);
}

/// A `flow_put` and `flow_del` of the very megaflow a PMD is installing
/// from a miss (here: issued by the handler, in the middle of the batch).
/// The PMD publishes its own megaflow after the delete; the put's install
/// command, applied later, is stale and must not replace it (it did, and
/// the delete that followed then left the map listing a flow no classifier
/// held).
#[test]
fn put_and_delete_racing_a_miss_leave_no_ghost_flow() {
    let dp_slot: Arc<OnceLock<Weak<Datapath>>> = Arc::new(OnceLock::new());
    let once = Arc::new(AtomicUsize::new(0));
    let m = mask(&[DL_TYPE, NW_DST]);
    let h = {
        let (dp_slot, once, m) = (dp_slot.clone(), once.clone(), m.clone());
        Handler::new(move |k, r| {
            if once.fetch_add(1, Ordering::SeqCst) == 0 {
                if let Some(dp) = dp_slot.get().and_then(Weak::upgrade) {
                    let u = dp
                        .flow_put(FlowPut {
                            key: k.clone(),
                            mask: m.clone(),
                            actions: vec![DpAction::Output(2)],
                            pmd: Some(0),
                            ufid: None,
                        })
                        .unwrap();
                    dp.flow_del(u).unwrap();
                }
            }
            r.actions.push(DpAction::Output(2));
            r.mask = Some(m.clone());
        })
    };
    let dp = Arc::new(Datapath::new(cfg(1), h.clone()));
    dp_slot.set(Arc::downgrade(&dp)).unwrap();
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let mut pmd = dp.pmd_inline(0).unwrap();
    assert!(p1.inject(0, udp(5)));
    pmd.poll_once();
    // Applies the put and the delete.
    pmd.poll_once();
    pmd.audit().unwrap();
    assert_eq!(dp.flow_count(), pmd.flow_count());
    assert!(p1.inject(0, udp(5)));
    pmd.poll_once();
    assert_eq!(
        h.misses.load(Ordering::SeqCst),
        1,
        "the listed flow matches"
    );
    assert_eq!(p2.take_tx(0).len(), 2);
}

/// Waits until `dev` has sent `n` packets (PMD threads forward them).
fn wait_tx(dev: &MemNetdev, n: usize) -> Vec<DpPacket> {
    let mut got = Vec::new();
    let t0 = Instant::now();
    while got.len() < n {
        got.extend(dev.take_tx(0));
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "only {} of {n} packets forwarded",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    got
}

/// A flow installed by `flow_put` still matches after the PMD threads are
/// stopped and started again (it is still listed, so it must still be in
/// the classifiers).
#[test]
fn stop_then_start_keeps_installed_flows() {
    let h = to_port(3);
    let dp = Datapath::new(cfg(1), h.clone());
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    dp.add_port(3, MemNetdev::new("p3", 1, 1)).unwrap();
    let mut key = Flow::default();
    key.set(IN_PORT, 1);
    dp.flow_put(FlowPut {
        key: key.to_key(),
        mask: mask(&[IN_PORT]),
        actions: vec![DpAction::Output(2)],
        pmd: None,
        ufid: None,
    })
    .unwrap();
    for round in 0..3 {
        dp.start().unwrap();
        assert!(p1.inject(0, udp(round)));
        wait_tx(&p2, 1);
        dp.stop();
        assert_eq!(h.misses.load(Ordering::SeqCst), 0, "round {round}: upcall");
        assert_eq!(dp.flow_count(), 1);
    }
    // Driving the stopped PMD inline takes it over with its flows.
    let mut pmd = dp.pmd_inline(0).unwrap();
    assert_eq!(pmd.flow_count(), 1);
    assert!(p1.inject(0, udp(9)));
    pmd.poll_once();
    assert_eq!(p2.take_tx(0).len(), 1);
    assert_eq!(h.misses.load(Ordering::SeqCst), 0);
    pmd.audit().unwrap();
}

/// `stop` releases only the PMDs it started: one driven inline stays
/// claimed (a later `start` must not give it a second driver).
#[test]
fn stop_keeps_an_inline_pmd_claimed() {
    let dp = Datapath::new(cfg(2), to_port(1));
    let _inline = dp.pmd_inline(0).unwrap();
    dp.start().unwrap();
    dp.stop();
    assert!(dp.pmd_inline(0).is_err(), "PMD 0 claimed twice");
    dp.start().unwrap();
    dp.stop();
    assert!(dp.pmd_inline(0).is_err(), "PMD 0 claimed twice");
    // PMD 1 was the thread's, and is free again once stopped.
    assert!(dp.pmd_inline(1).is_ok());
}

/// A recirculation pass of more than a batch (32 packets, each sent
/// twice through recirculation: 64) leaves in the order it arrived.
#[test]
fn recirculation_keeps_packet_order() {
    let h = Handler::new(|k, r| {
        if k.get(RECIRC_ID) == 0 {
            r.actions.push(DpAction::Recirc(1));
            r.actions.push(DpAction::Recirc(1));
        } else {
            r.actions.push(DpAction::Output(2));
        }
        r.mask = Some(mask(&[RECIRC_ID, DL_TYPE]));
    });
    let dp = Datapath::new(cfg(1), h);
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let mut pmd = dp.pmd_inline(0).unwrap();
    for x in 0..32 {
        assert!(p1.inject(0, udp(x)));
    }
    pmd.poll_once();
    let got: Vec<u16> = p2.take_tx(0).iter().map(payload).collect();
    let want: Vec<u16> = (0..32).flat_map(|x| [x, x]).collect();
    assert_eq!(got, want);
}

/// The flow limit counts megaflows over the whole datapath (as OVS's
/// other_config:flow-limit), not per PMD; packets over it are still
/// forwarded (executed without install).
#[test]
fn flow_limit_is_datapath_wide() {
    let dp = Datapath::new(
        DpConfig {
            flow_limit: 8,
            ..cfg(2)
        },
        to_port(3),
    );
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    let p3 = MemNetdev::new("p3", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    dp.add_port(3, p3.clone()).unwrap();
    let (mut a, mut b) = (dp.pmd_inline(0).unwrap(), dp.pmd_inline(1).unwrap());
    let owner_of = |port: u32| (0..2).find(|&i| dp.pmd_rxqs(i).iter().any(|r| r.port_no == port));
    assert_ne!(owner_of(1), owner_of(2), "ports 1 and 2 on different PMDs");
    for x in 0..10 {
        assert!(p1.inject(0, udp(x)));
        assert!(p2.inject(0, udp(100 + x)));
        a.poll_once();
        b.poll_once();
    }
    assert_eq!(p3.take_tx(0).len(), 20, "every packet forwarded");
    assert_eq!(dp.flow_count(), 8, "{} megaflows", dp.flow_count());
    assert_eq!(a.flow_count() + b.flow_count(), 8);
    assert_eq!(dp.stats().flow_limit_hits, 12);
    // The slow path cannot go over it either.
    let mut key = Flow::default();
    key.set(IN_PORT, 3);
    let put = FlowPut {
        key: key.to_key(),
        mask: mask(&[IN_PORT]),
        actions: vec![DpAction::Output(1)],
        pmd: Some(0),
        ufid: None,
    };
    assert!(dp.flow_put(put).is_err(), "flow_put over the limit");
    assert_eq!(dp.flow_count(), 8);
    // Once flows go, installs resume.
    dp.flow_flush();
    a.poll_once();
    b.poll_once();
    assert!(p1.inject(0, udp(50)));
    a.poll_once();
    b.poll_once();
    assert_eq!(dp.flow_count(), 1);
}

/// xorshift64: a different stream per thread, reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const STABLE: [u32; 4] = [1, 2, 3, 4];
const CHURN: std::ops::Range<u32> = 100..132;

/// Where a flow to 198.19.x.y goes: odd -> one of the churned ports (which
/// may be missing), even -> a stable one.
fn stress_out(nw_dst_low: u64) -> u32 {
    if nw_dst_low & 1 == 1 {
        CHURN.start + (nw_dst_low as u32 >> 1) % (CHURN.end - CHURN.start)
    } else {
        STABLE[(nw_dst_low as usize >> 1) % 4]
    }
}

/// Ports added and removed, flows put, deleted and flushed from several
/// threads while two PMDs forward traffic. Afterwards: the port table and
/// the queue assignment agree; every PMD's master map, slots and
/// classifiers hold the same megaflows; the flow limit counter equals the
/// megaflows held and stayed within the limit; and every packet received
/// was either sent by a device or counted as dropped (output to a port
/// that was gone included).
#[test]
fn control_side_stress_keeps_everything_consistent() {
    const LIMIT: usize = 300;
    let h = Handler::new(|k, r| {
        // A slow path takes its time: control changes land mid-batch.
        std::thread::yield_now();
        r.actions
            .push(DpAction::Output(stress_out(k.get(NW_DST) & 0xff)));
        r.mask = Some(mask(&[DL_TYPE, NW_DST]));
    });
    let dp = Arc::new(Datapath::new(
        DpConfig {
            flow_limit: LIMIT,
            ..cfg(2)
        },
        h,
    ));
    let stable: Vec<Arc<MemNetdev>> = STABLE
        .iter()
        .map(|&n| {
            let d = MemNetdev::new(&format!("p{n}"), 1, 2);
            dp.add_port(n, d.clone()).unwrap();
            d
        })
        .collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pmd_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Workers: 2 PMDs, traffic, 2 port churners, 2 flow churners.
    let cp = Checkpoint::new(7);
    let pmds: Vec<_> = (0..2)
        .map(|i| {
            let mut pmd = dp.pmd_inline(i).unwrap();
            let (pmd_stop, cp) = (pmd_stop.clone(), cp.clone());
            std::thread::spawn(move || {
                while !pmd_stop.load(Ordering::Acquire) {
                    cp.worker(|| pmd.audit().map_err(|e| format!("PMD {i}: {e}")));
                    if pmd.poll_once() == 0 {
                        std::thread::yield_now();
                    }
                }
                pmd
            })
        })
        .collect();
    // Traffic into the stable ports; their output is taken away.
    let traffic = {
        let (stop, stable, cp) = (stop.clone(), stable.clone(), cp.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(0x1234_5678);
            let mut injected = 0u64;
            while !stop.load(Ordering::Acquire) {
                cp.worker(|| Ok(()));
                for d in &stable {
                    if d.rx_pending(0) < 512 {
                        for _ in 0..16 {
                            let x = rng.below(512) as u16;
                            injected += d.inject(0, udp(x)) as u64;
                        }
                    }
                    d.take_all_tx();
                }
                std::thread::yield_now();
            }
            injected
        })
    };
    // Port churn from two threads, each owning every other churned port
    // (so each knows which of its ports are present: every call must
    // succeed).
    let churn: Vec<_> = (0..2u32)
        .map(|t| {
            let (stop, dp, cp) = (stop.clone(), dp.clone(), cp.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x9abc_def0 + t as u64);
                let mut present = BTreeSet::new();
                let mut devs = Vec::new();
                let half = (CHURN.end - CHURN.start) / 2;
                while !stop.load(Ordering::Acquire) {
                    cp.worker(|| Ok(()));
                    let n = CHURN.start + 2 * rng.below(half as u64) as u32 + t;
                    if present.remove(&n) {
                        dp.del_port(n).unwrap();
                    } else {
                        let d = MemNetdev::new(&format!("c{n}"), 1 + (n as usize & 1), 1);
                        dp.add_port(n, d.clone()).unwrap();
                        devs.push(d);
                        present.insert(n);
                    }
                    if rng.below(8) == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
                devs
            })
        })
        .collect();
    // Flow churn from two threads.
    let flows: Vec<_> = (0..2u64)
        .map(|t| {
            let (stop, dp, cp) = (stop.clone(), dp.clone(), cp.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x5555_0000 + t);
                let mut ufids = Vec::new();
                let mut refused = 0u64;
                while !stop.load(Ordering::Acquire) {
                    cp.worker(|| Ok(()));
                    match rng.below(100) {
                        0..=59 => {
                            let mut key = Flow::default();
                            key.set(IN_PORT, STABLE[rng.below(4) as usize] as u64);
                            key.set(DL_TYPE, 0x0800);
                            let low = rng.below(512);
                            key.set(NW_DST, 0xc613_0000 | low);
                            let put = FlowPut {
                                key: key.to_key(),
                                mask: mask(&[DL_TYPE, NW_DST]),
                                actions: vec![DpAction::Output(stress_out(low & 0xff))],
                                pmd: if rng.below(2) == 0 {
                                    None
                                } else {
                                    Some(rng.below(2) as usize)
                                },
                                ufid: None,
                            };
                            match dp.flow_put(put) {
                                Ok(u) => ufids.push(u),
                                Err(ferrovs_datapath::DpError::FlowLimit(_)) => refused += 1,
                                Err(e) => panic!("flow_put: {e}"),
                            }
                        }
                        60..=97 => {
                            if !ufids.is_empty() {
                                let u = ufids.swap_remove(rng.below(ufids.len() as u64) as usize);
                                let _ = dp.flow_del(u);
                            }
                        }
                        _ => dp.flow_flush(),
                    }
                    let _ = dp.flow_dump();
                    if rng.below(16) == 0 {
                        std::thread::sleep(Duration::from_micros(100));
                    }
                }
                refused
            })
        })
        .collect();
    // Checkpoints every few milliseconds: with every worker stopped, the
    // port table and queues agree and each PMD's map, slots and
    // classifiers hold the same megaflows (a flow listed but not
    // classified, as a flush racing a miss left, lives only until the
    // next flush: frequent checks are what catch it).
    let t0 = Instant::now();
    let mut checkpoints = 0;
    while t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(5));
        cp.hold(|| ports_and_queues_agree(&dp));
        checkpoints += 1;
    }
    stop.store(true, Ordering::Release);
    let injected = traffic.join().unwrap();
    let churned: Vec<Arc<MemNetdev>> = churn.into_iter().flat_map(|t| t.join().unwrap()).collect();
    for f in flows {
        f.join().unwrap();
    }
    pmd_stop.store(true, Ordering::Release);
    let mut pmds: Vec<_> = pmds.into_iter().map(|t| t.join().unwrap()).collect();
    let errors = cp.errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} of {checkpoints} checkpoints found inconsistencies, first: {}",
        errors.len(),
        errors[0]
    );
    for (i, p) in pmds.iter_mut().enumerate() {
        p.audit().unwrap_or_else(|e| panic!("PMD {i}: {e}"));
    }
    assert_ports_and_queues_agree(&dp);
    let held: usize = pmds.iter().map(|p| p.flow_count()).sum();
    assert_eq!(dp.flow_count(), held);
    assert_eq!(dp.flow_limit_count(), held);
    assert!(held <= LIMIT, "{held} megaflows over the limit of {LIMIT}");
    let mut rx = 0;
    let mut tx = 0;
    for (i, p) in pmds.iter().enumerate() {
        let s = p.stats();
        assert_eq!(
            s.rx_packets,
            s.tx_packets + s.dropped,
            "PMD {i}: received packets neither sent nor counted dropped: {s:?}"
        );
        rx += s.rx_packets;
        tx += s.tx_packets;
    }
    let dev_tx: u64 = stable
        .iter()
        .chain(churned.iter())
        .map(|d| d.tx_packets.load(Ordering::Relaxed))
        .sum();
    assert_eq!(dev_tx, tx, "devices sent what the PMDs counted as sent");
    assert!(
        rx > 1000 && injected >= rx,
        "traffic flowed: {rx} of {injected}"
    );
    println!(
        "stress: {injected} injected, {rx} received, {tx} sent, {held} megaflows, {} churned \
         ports, {checkpoints} checkpoints",
        churned.len()
    );
}

/// Port numbers of any size (the port index has an array for small ones
/// and a map for the rest) receive, classify and output; with thousands
/// of ports, each packet still reaches the port its flow names, and
/// output to a port that was deleted is counted as dropped.
#[test]
fn ports_of_any_number_forward() {
    // Output to the port whose number is in nw_dst.
    let h = Handler::new(|k, r| {
        r.actions.push(DpAction::Output(k.get(NW_DST) as u32));
        r.mask = Some(mask(&[DL_TYPE, NW_DST]));
    });
    let dp = Datapath::new(cfg(1), h);
    let mut numbers: Vec<u32> = (1..=3000).collect();
    numbers.extend([70_000, 1 << 24, u32::MAX - 1]);
    let devs: Vec<Arc<MemNetdev>> = numbers
        .iter()
        .map(|&n| {
            let d = MemNetdev::new(&format!("p{n}"), 1, 1);
            dp.add_port(n, d.clone()).unwrap();
            d
        })
        .collect();
    let mut pmd = dp.pmd_inline(0).unwrap();
    let to = |dst: u32| {
        let mut p = udp(0);
        p.data_mut()[30..34].copy_from_slice(&dst.to_be_bytes());
        p
    };
    // From the big-numbered ports to a spread of others, and back.
    let targets = [1u32, 2, 1500, 2999, 3000, 70_000, 1 << 24, u32::MAX - 1];
    for (i, &src) in [70_000u32, 1 << 24, u32::MAX - 1, 7].iter().enumerate() {
        let d = &devs[numbers.iter().position(|&n| n == src).unwrap()];
        for &t in &targets {
            assert!(d.inject(0, to(t)));
        }
        pmd.poll_once();
        for &t in &targets {
            let got = devs[numbers.iter().position(|&n| n == t).unwrap()].take_tx(0);
            assert_eq!(got.len(), 1, "round {i}: port {src} -> port {t}");
        }
    }
    dp.del_port(1500).unwrap();
    assert!(devs[0].inject(0, to(1500)));
    let before = pmd.stats().dropped;
    pmd.poll_once();
    assert_eq!(pmd.stats().dropped, before + 1, "output to a deleted port");
    assert_eq!(dp.ports().len(), numbers.len() - 1);
}

/// A PMD thread that dies (here: its upcall handler panics) takes its
/// classifiers with it; after `stop`, the next `start` rebuilds them from
/// the master map, so listed flows match again.
#[test]
fn a_dead_pmd_thread_is_rebuilt_from_the_master_map() {
    let h = Handler::new(|_k, _r| panic!("handler failure (expected by this test)"));
    let dp = Datapath::new(cfg(1), h);
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let mut key = Flow::default();
    key.set(IN_PORT, 1);
    key.set(DL_TYPE, 0x0800);
    key.set(NW_DST, 0xc613_0001);
    dp.flow_put(FlowPut {
        key: key.to_key(),
        mask: mask(&[IN_PORT, DL_TYPE, NW_DST]),
        actions: vec![DpAction::Output(2)],
        pmd: None,
        ufid: None,
    })
    .unwrap();
    dp.start().unwrap();
    assert!(p1.inject(0, udp(1)));
    wait_tx(&p2, 1);
    // A miss: the handler panics and the thread dies.
    assert!(p1.inject(0, udp(2)));
    let t0 = Instant::now();
    while p1.rx_pending(0) > 0 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    dp.stop();
    assert_eq!(dp.flow_count(), 1);
    let mut pmd = dp.pmd_inline(0).unwrap();
    assert_eq!(pmd.flow_count(), 1, "rebuilt from the master map");
    pmd.audit().unwrap();
    assert!(p1.inject(0, udp(1)));
    pmd.poll_once();
    assert_eq!(p2.take_tx(0).len(), 1);
    assert_eq!(dp.flow_limit_count(), 1);
}
