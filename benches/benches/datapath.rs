//! Criterion benchmarks for ferrovs-datapath (filled in by the datapath work).
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(_c: &mut Criterion) {}

criterion_group!(group, benches);
criterion_main!(group);
