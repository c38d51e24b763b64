//! Criterion benchmarks for ferrovs-openflow (filled in by the openflow work).
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(_c: &mut Criterion) {}

criterion_group!(group, benches);
criterion_main!(group);
