//! Criterion bench of an idle PMD poll against the number of ports.
//!
//! `idle_poll/{16,256,1024,4096}`: one PMD (driven inline by the bench
//! thread) polls the single receive queue of each of that many in-memory
//! ports, all empty. Throughput is in ports (queues), so the time per
//! element is the cost of visiting one queue: it must stay flat as the
//! port count grows (the total grows with the queues there are to visit,
//! nothing more: no lookups that scale with the port table).

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrovs_datapath::flow::FlowKey;
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig};

/// Nothing is received, so nothing misses.
struct NoMiss;
impl UpcallHandler for NoMiss {
    fn miss(&self, _p: &DpPacket, _k: &FlowKey, _r: &mut UpcallReply) -> Result<(), UpcallError> {
        Err(UpcallError::Failed(
            "unexpected miss in the idle bench".into(),
        ))
    }
}

fn bench_idle_poll(c: &mut Criterion) {
    let mut g = c.benchmark_group("datapath");
    for ports in [16u32, 256, 1024, 4096] {
        let dp = Datapath::new(DpConfig::default(), Arc::new(NoMiss));
        for n in 1..=ports {
            dp.add_port(n, MemNetdev::new(&format!("p{n}"), 1, 1))
                .unwrap();
        }
        let mut pmd = dp.pmd_inline(0).unwrap();
        assert_eq!(dp.pmd_rxqs(0).len(), ports as usize);
        g.throughput(Throughput::Elements(ports as u64));
        g.bench_with_input(BenchmarkId::new("idle_poll", ports), &ports, |b, _| {
            b.iter(|| pmd.poll_once())
        });
        assert_eq!(pmd.stats().rx_packets, 0);
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group!(name = group; config = config(); targets = bench_idle_poll);
criterion_main!(group);
