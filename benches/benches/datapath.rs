//! Criterion benchmarks for ferrovs-datapath.
//!
//! Every id measures the whole path on one core: a PMD, driven inline by
//! the bench thread, receives a batch of 32 packets from in-memory port 1,
//! processes it, and sends the result to in-memory port 2, which is wired
//! back into port 1's receive queue, so the same 32 buffers circulate with
//! no allocation and no bench-side work per packet. Throughput is in
//! packets.
//!
//! - `datapath/extract`: receive, extract keys, send (no lookup).
//! - `datapath/emc_hit`: 32 flows, all in the EMC.
//! - `datapath/megaflow_hit/{1,8,32}`: EMC off; the 32 packets hit
//!   megaflows spread evenly over that many masks (subtables).
//! - `datapath/upcall_install`: every packet misses; a trivial handler
//!   returns an exact nw_dst mask and actions that rewrite nw_dst (so the
//!   next pass misses again) and output; the flow is installed. Flows are
//!   flushed outside the timed loop when 100k are installed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrovs_benches::datapath_rig::{dst_mask, frame, rig, NoMiss, Rewriter, Rig, N};
use ferrovs_datapath::batch::PacketBatch;
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::netdev::{MemNetdev, Netdev};
use ferrovs_datapath::packet::{DpPacket, PacketPool};

fn check_loop(r: &Rig) {
    if r.dp.stats().rx_packets == 0 {
        return; // filtered out by the command line
    }
    r.check_loop().unwrap();
}

fn bench_extract(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| frame(0, [198, 19, 0, i as u8], 1000 + i as u16))
        .collect();
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    p2.connect(&p1);
    for f in &frames {
        p1.inject(0, DpPacket::from_bytes(f));
    }
    let mut batch = PacketBatch::new();
    let mut pool = PacketPool::new(64);
    let mut key = FlowKey::default();
    let mut out: Vec<DpPacket> = Vec::with_capacity(N);
    let mut g = c.benchmark_group("datapath");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("extract", |b| {
        b.iter(|| {
            p1.recv(0, 1, &mut batch, &mut pool).unwrap();
            let mut acc = 0u32;
            for mut p in batch.drain() {
                extract(&mut p, &mut key);
                acc ^= key.hash();
                out.push(p);
            }
            p2.send(0, &mut out, &mut pool).unwrap();
            acc
        })
    });
    g.finish();
    assert_eq!(p1.rx_pending(0), N);
}

fn bench_emc(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| frame(0, [198, 19, 0, i as u8], 1000))
        .collect();
    // Warm up through the upcall path, then keep rewriting off: install
    // exact flows with output only.
    let mut r = rig(Arc::new(NoMiss), 1, &frames).unwrap();
    for f in &frames {
        r.install(f, dst_mask()).unwrap();
    }
    for _ in 0..4 {
        r.pmd.poll_once();
    }
    let mut g = c.benchmark_group("datapath");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("emc_hit", |b| b.iter(|| r.pmd.poll_once()));
    g.finish();
    check_loop(&r);
    let s = r.dp.stats();
    // Only the first pass went to the classifier; every later one hit the
    // EMC.
    assert_eq!(s.megaflow_hits, N as u64, "{s:?}");
    assert_eq!(s.emc_hits, s.rx_packets - N as u64, "{s:?}");
}

fn bench_megaflow(c: &mut Criterion) {
    let mut g = c.benchmark_group("datapath");
    g.throughput(Throughput::Elements(N as u64));
    for masks in [1usize, 8, 32] {
        // Packet i belongs to group i % masks; group k's mask is exact on
        // nw_src (which names the group) and a /(32-k) prefix of nw_dst.
        let frames: Vec<Vec<u8>> = (0..N)
            .map(|i| frame((i % masks) as u8, [198, 19, (i / masks) as u8, 7], 1000))
            .collect();
        let mut r = rig(Arc::new(NoMiss), 0, &frames).unwrap();
        for (i, f) in frames.iter().enumerate() {
            let mut m = Flow::default();
            m.set_all(DL_TYPE);
            m.set_all(NW_SRC);
            m.set(NW_DST, (!0u32 << (i % masks)) as u64);
            r.install(f, m).unwrap();
        }
        for _ in 0..4 {
            r.pmd.poll_once();
        }
        assert_eq!(r.pmd.n_subtables(1), masks);
        r.dp.stats(); // published counters (checked below)
        g.bench_with_input(BenchmarkId::new("megaflow_hit", masks), &masks, |b, _| {
            b.iter(|| r.pmd.poll_once())
        });
        check_loop(&r);
        assert_eq!(r.dp.stats().emc_hits, 0);
    }
    g.finish();
}

fn bench_upcall(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| frame(0, [198, 19, 0, i as u8], 1000))
        .collect();
    let mut r = rig(Arc::new(Rewriter), 100, &frames).unwrap();
    let mut g = c.benchmark_group("datapath");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("upcall_install", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(1024);
                let t = Instant::now();
                for _ in 0..chunk {
                    r.pmd.poll_once();
                }
                spent += t.elapsed();
                left -= chunk;
                if r.pmd.flow_count() > 100_000 {
                    r.pmd.flush_flows();
                }
            }
            spent
        })
    });
    g.finish();
    check_loop(&r);
    let s = r.dp.stats();
    if s.rx_packets == 0 {
        return;
    }
    assert!(s.flows_installed >= s.upcalls * 99 / 100, "installs: {s:?}");
    assert!(
        s.misses > 0 && s.megaflow_hits * 100 < s.misses,
        "every packet misses: {s:?}"
    );
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group!(name = group; config = config(); targets = bench_extract, bench_emc, bench_megaflow, bench_upcall);
criterion_main!(group);
