//! Criterion benchmarks for ferrovs-openflow.
//!
//! `openflow/parse_flow_text`: parse every line of the flow corpus
//! (`openflow/tests/data/flows.txt`, Neutron/OVN-style and a sweep of all
//! fields and actions) with the `ovs-ofctl` syntax parser; throughput in
//! flows.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrovs_openflow::text::parse_flow;

const CORPUS: &str = include_str!("../../openflow/tests/data/flows.txt");

fn parse_flow_text(c: &mut Criterion) {
    let flows: Vec<&str> = CORPUS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut g = c.benchmark_group("openflow");
    g.throughput(Throughput::Elements(flows.len() as u64));
    g.bench_function("parse_flow_text", |b| {
        b.iter(|| {
            for f in &flows {
                black_box(parse_flow(black_box(f)).expect("corpus flow parses"));
            }
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    parse_flow_text(c);
}

criterion_group!(group, benches);
criterion_main!(group);
