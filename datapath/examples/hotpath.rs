//! Measures CPU time per packet (thread CPU clock, so the figure holds on
//! a loaded machine) for the EMC-hit, megaflow-hit and upcall paths, the
//! same set-ups as the criterion benches. Run with
//! `cargo run --release -p ferrovs-datapath --example hotpath [MODE]`, MODE
//! one of `emc`, `mf`, `mf8`, `upcall`, `install`, `exec`, `micro`, `sizes`
//! (default: all benches). Each bench prints the minimum and median over
//! rounds; `HOTPATH_POLLS`, `HOTPATH_ROUNDS` shrink a run (e.g. under
//! callgrind) and `HOTPATH_LIMIT` sets the installed-flow count at which
//! the upcall bench flushes (100000 matches the criterion bench).
//!
//! Figures here and in the criterion benches differ for reasons that are
//! not the measured work (same `poll_once`, same instructions per packet
//! within a few percent): this example builds with the release profile
//! (no LTO, 4 codegen units) and criterion with the bench profile (thin
//! LTO, 1 unit), which inline differently (callgrind on the criterion
//! binary itself is the check: `valgrind --tool=callgrind
//! --toggle-collect='ferrovs_datapath::pmd::Pmd::poll_once'
//! target/release/deps/datapath-* --bench --profile-time 3 emc_hit`); the
//! two programs allocate packets and tables at different addresses, which
//! changed L1 conflict misses until frames were cache-line aligned; and on
//! this shared 2-core VM one binary's timing moves by +-30% from minute to
//! minute, so compare builds interleaved, many times.
use std::sync::Arc;

use ferrovs_datapath::actions::{DpAction, Masked, SetField};
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig, FlowPut};
use nix::time::{clock_gettime, ClockId};

fn cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread clock");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

fn frame(grp: u8, dst: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 100, grp]);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&1000u16.to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

struct Rewriter;

/// The handler's mask (built once, as a real slow path caches its masks).
fn rewriter_mask() -> &'static Arc<FlowKey> {
    static M: std::sync::OnceLock<Arc<FlowKey>> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let mut m = Flow::default();
        m.set_all(DL_TYPE);
        m.set_all(NW_DST);
        Arc::new(m.to_key())
    })
}
static NO_INSTALL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
impl UpcallHandler for Rewriter {
    fn miss(&self, _p: &DpPacket, key: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        if NO_INSTALL.load(std::sync::atomic::Ordering::Relaxed) {
            r.install = false;
        }
        r.shared_mask = Some(rewriter_mask().clone());
        let dst = key.get(NW_DST) as u32;
        r.actions.push(DpAction::Set(SetField::Ipv4 {
            src: Masked::default(),
            dst: Masked::<u32>::exact(dst.wrapping_add(32)),
            tos: Masked::default(),
            ttl: Masked::default(),
        }));
        r.actions.push(DpAction::Output(2));
        Ok(())
    }
}

const LIMIT: usize = 30000;
fn run(name: &str, emc: u32, masks: usize, upcall: bool) {
    let dp = Datapath::new(
        DpConfig {
            emc_insert_inv_prob: emc,
            ..DpConfig::default()
        },
        Arc::new(Rewriter),
    );
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    p2.connect(&p1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let masks = masks.max(1);
    for i in 0..32usize {
        let f = frame((i % masks) as u8, [198, 19, (i / masks) as u8, i as u8]);
        if !upcall {
            let mut p = DpPacket::from_bytes(&f);
            p.md_mut().in_port = 1;
            let mut key = FlowKey::default();
            extract(&mut p, &mut key);
            let mut m = Flow::default();
            m.set_all(DL_TYPE);
            m.set_all(NW_SRC);
            m.set(NW_DST, (!0u32 << (i % masks)) as u64);
            dp.flow_put(FlowPut {
                key,
                mask: m.to_key(),
                actions: vec![DpAction::Output(2)],
                pmd: None,
                ufid: None,
            })
            .unwrap();
        }
        p1.inject(0, DpPacket::from_bytes(&f));
    }
    let mut pmd = dp.pmd_inline(0).unwrap();
    for _ in 0..100 {
        pmd.poll_once();
    }
    // Seven rounds; the minimum and median are printed (the machine may be
    // shared: the minimum is the least disturbed figure).
    // HOTPATH_POLLS/HOTPATH_ROUNDS shrink the run (e.g. under callgrind).
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let polls = env("HOTPATH_POLLS", 40_000);
    let n_rounds = env("HOTPATH_ROUNDS", 7).max(1) as usize;
    let limit = env("HOTPATH_LIMIT", LIMIT as u64) as usize;
    let mut rounds = Vec::new();
    let mut walls = Vec::new();
    for _ in 0..n_rounds {
        let t = cpu_ns();
        let w = std::time::Instant::now();
        let mut excluded = 0u64;
        for i in 0..polls {
            pmd.poll_once();
            if upcall && i % 32 == 0 && pmd.flow_count() > limit {
                let f = cpu_ns();
                pmd.flush_flows();
                excluded += cpu_ns() - f;
            }
        }
        rounds.push((cpu_ns() - t - excluded) as f64 / (polls * 32) as f64);
        walls.push(w.elapsed().as_nanos() as f64 / (polls * 32) as f64);
    }
    rounds.sort_by(|a, b| a.total_cmp(b));
    walls.sort_by(|a, b| a.total_cmp(b));
    let (ns, med, wall) = (rounds[0], rounds[n_rounds / 2], walls[n_rounds / 2]);
    let s = dp.stats();
    println!(
        "{name:>16}: {ns:6.1} ns/pkt cpu min ({:5.2} Mpps/core), median {med:6.1}, wall median {wall:6.1}  emc={} mf={} miss={} inst={}",
        1000.0 / ns,
        s.emc_hits,
        s.megaflow_hits,
        s.misses,
        s.flows_installed
    );
}

fn micro() {
    let mut pkts: Vec<DpPacket> = (0..32)
        .map(|i| DpPacket::from_bytes(&frame(0, [198, 19, 0, i as u8])))
        .collect();
    let mut keys = vec![FlowKey::default(); 32];
    let n = 300_000u64;
    let t = cpu_ns();
    let mut acc = 0u32;
    for _ in 0..n {
        for (p, k) in pkts.iter_mut().zip(keys.iter_mut()) {
            p.md_mut().reset(1);
            extract(p, k);
            acc ^= k.hash();
        }
    }
    let ns = (cpu_ns() - t) as f64 / (n * 32) as f64;
    println!(
        "{:>16}: {ns:6.1} ns/pkt cpu (md reset + extract + hash) [{acc}]",
        "extract only"
    );
    let t = cpu_ns();
    for _ in 0..n {
        for p in pkts.iter_mut() {
            p.md_mut().reset(1);
        }
        std::hint::black_box(&mut pkts);
    }
    let ns = (cpu_ns() - t) as f64 / (n * 32) as f64;
    println!("{:>16}: {ns:6.1} ns/pkt cpu", "md reset only");
    let t = cpu_ns();
    for _ in 0..n {
        for (p, k) in pkts.iter_mut().zip(keys.iter_mut()) {
            extract(p, k);
            acc ^= k.hash();
        }
    }
    let ns = (cpu_ns() - t) as f64 / (n * 32) as f64;
    println!(
        "{:>16}: {ns:6.1} ns/pkt cpu (extract + hash) [{acc}]",
        "extract no reset"
    );
    let t = cpu_ns();
    for _ in 0..n {
        for k in keys.iter_mut() {
            k.rehash();
            acc ^= k.hash();
        }
    }
    let ns = (cpu_ns() - t) as f64 / (n * 32) as f64;
    println!(
        "{:>16}: {ns:6.1} ns/pkt cpu [{acc}] ({} words)",
        "rehash only",
        keys[0].words().len()
    );
    let mut emc = ferrovs_datapath::emc::Emc::new(8192, 1);
    for (i, k) in keys.iter().enumerate() {
        emc.insert(k, i as u32, 1);
    }
    let t = cpu_ns();
    let mut hits = 0u64;
    for _ in 0..n {
        for k in keys.iter() {
            hits += emc.lookup(k, |_, _| true).is_some() as u64;
        }
    }
    let ns = (cpu_ns() - t) as f64 / (n * 32) as f64;
    println!("{:>16}: {ns:6.1} ns/pkt cpu [{hits}]", "emc lookup only");
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if which == "sizes" {
        use std::mem::size_of;
        println!(
            "FlowKey {} Megaflow {} DpAction {} DpPacket inner n/a",
            size_of::<FlowKey>(),
            size_of::<ferrovs_datapath::megaflow::Megaflow>(),
            size_of::<DpAction>()
        );
        return;
    }
    if which == "micro" {
        micro();
        return;
    }
    if which.is_empty() || which == "emc" {
        run("emc_hit", 1, 1, false);
    }
    if which.is_empty() || which == "mf" {
        run("megaflow_hit/1", 0, 1, false);
        run("megaflow_hit/8", 0, 8, false);
        run("megaflow_hit/32", 0, 32, false);
    }
    if which == "mf8" {
        run("megaflow_hit/8", 0, 8, false);
    }
    if which.is_empty() || which == "upcall" || which == "install" {
        run("upcall_install", 100, 1, true);
    }
    if which == "upcall" || which == "exec" {
        NO_INSTALL.store(true, std::sync::atomic::Ordering::Relaxed);
        run("upcall_exec_only", 100, 1, true);
    }
}
