//! The cost of the OVSDB lock table when one session holds many locks
//! (issue 20: closing a session with 300,000 locks stalled every other
//! client): acquiring them, and the close that releases them all, which
//! runs on the server's only thread. Thread CPU time.
//!
//! `cargo bench -p ferrovs-benches --bench ovsdb_locks`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ferrovs_benches::thread_cpu::ThreadCpu;
use ovsdb::lock::{LockMode, Locks};

const N: usize = 300_000;

fn names() -> Vec<String> {
    (0..N).map(|i| format!("lock{i}")).collect()
}

fn held(names: &[String]) -> Locks {
    let mut l = Locks::default();
    for n in names {
        l.acquire(n, 1, LockMode::Wait).expect("fresh lock");
    }
    l
}

fn locks(c: &mut Criterion<ThreadCpu>) {
    let names = names();
    let mut g = c.benchmark_group("ovsdb/locks_300k");
    g.sample_size(10);
    g.bench_function("acquire", |b| {
        b.iter_batched(
            Locks::default,
            |mut l| {
                for n in &names {
                    l.acquire(n, 1, LockMode::Wait).expect("fresh lock");
                }
                l
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("close_session", |b| {
        b.iter_batched(
            || held(&names),
            |mut l| {
                let notes = l.drop_session(1);
                assert!(notes.is_empty());
                l
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu::default());
    targets = locks
}
criterion_main!(benches);
