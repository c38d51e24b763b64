//! Criterion benchmarks for ferrovs-ofproto's classifier.
//!
//! `ofproto/classifier_lookup`: a table of 100,000 rules over 1,000
//! distinct masks (eth_type, an nw_dst prefix of 8..32 bits, a reg0 mask of
//! 1..20 low bits, and for half of the masks nw_proto=6,tp_dst), random
//! priorities; lookups of 1,024 packets with megaflow wildcard tracking,
//! `hit` (each packet built from a rule's value) and `miss` (reg0=1 while
//! every rule's reg0 value is even, so every subtable is probed). Throughput in packets.
//!
//! `ofproto/classifier_insert`: 100,000 such rules into an empty
//! classifier. Throughput in rules. The setup prints the classifier's
//! memory per rule.
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`),
//! not wall time: on the shared build machine the wall clock mostly
//! measures the other jobs. Set `FERROVS_BENCH_WALL=1` for wall time.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrovs_benches::thread_cpu::ThreadCpu;
use ferrovs_ofproto::classifier::Classifier;
use ferrovs_ofproto::flow::{OfFlow, OfMatch};
use ferrovs_openflow::{Field, Match, Value};

const N_RULES: usize = 100_000;
const N_MASKS: usize = 1_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn prefix32(len: u32) -> u32 {
    if len == 0 {
        0
    } else {
        !0u32 << (32 - len)
    }
}

/// Rule `i` of the table: mask `i % N_MASKS`, random values.
fn rule(i: usize, rng: &mut Rng) -> (OfMatch, u32) {
    let k = i % N_MASKS;
    let plen = 8 + (k % 25) as u32;
    let reg_bits = 1 + ((k / 25) % 20) as u32;
    let tcp = k / 500 == 1;
    let mut m = Match::new();
    m.set_exact(Field::EthType, Value::from_u16(0x0800));
    let dst = (0xc612_0000u32 | (rng.next() as u32 & 0xffff)) & prefix32(plen);
    m.set(
        Field::IpDst,
        Value::from_u32(dst),
        Some(Value::from_u32(prefix32(plen))),
    );
    let reg_mask = (1u32 << reg_bits) - 1;
    m.set(
        Field::Reg0,
        Value::from_u32(rng.next() as u32 & reg_mask & 0xfe),
        Some(Value::from_u32(reg_mask)),
    );
    if tcp {
        m.set_exact(Field::NwProto, Value::from_u8(6));
        m.set_exact(Field::TcpDst, Value::from_u16(rng.next() as u16 % 1024));
    }
    let prio = (rng.next() % 65_536) as u32;
    (OfMatch::from_match(&m).expect("placeable"), prio)
}

fn rules() -> Vec<(OfMatch, u32)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..N_RULES).map(|i| rule(i, &mut rng)).collect()
}

fn table(rules: &[(OfMatch, u32)]) -> Classifier<usize> {
    let mut c = Classifier::new();
    for (i, (m, p)) in rules.iter().enumerate() {
        c.insert(*m, *p, i);
    }
    c
}

type C = Criterion<ThreadCpu>;

fn bench_lookup(c: &mut C) {
    let rules = rules();
    let cls = table(&rules);
    eprintln!(
        "classifier: {} rules, {} subtables, {} bytes/rule",
        cls.len(),
        cls.n_subtables(),
        cls.memory_bytes() / cls.len()
    );
    let mut rng = Rng(42);
    let hits: Vec<OfFlow> = (0..1024)
        .map(|_| {
            let (m, _) = rules[rng.next() as usize % rules.len()];
            // The rule's value with random bits where it has none.
            let mut f = m.value;
            for (w, mk) in f.0.iter_mut().zip(m.mask.0.iter()) {
                *w |= rng.next() & !mk & 0xffff;
            }
            f
        })
        .collect();
    let misses: Vec<OfFlow> = hits
        .iter()
        .map(|f| {
            let mut f = *f;
            f.set_reg(0, 1);
            f
        })
        .collect();
    let mut g = c.benchmark_group("ofproto/classifier_lookup");
    g.throughput(Throughput::Elements(1024));
    for (name, pkts) in [("hit", &hits), ("miss", &misses)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for f in pkts.iter() {
                    let mut wc = OfFlow::default();
                    if let Some((_, v)) = cls.lookup(black_box(f), Some(&mut wc)) {
                        n += *v;
                    }
                    black_box(&wc);
                }
                n
            })
        });
    }
    g.finish();
}

fn bench_insert(c: &mut C) {
    let rules = rules();
    let mut g = c.benchmark_group("ofproto/classifier_insert");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N_RULES as u64));
    g.bench_function("100k_rules_1k_masks", |b| {
        b.iter_batched(
            || rules.clone(),
            |rules| table(&rules),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu::default());
    targets = bench_lookup, bench_insert
}
criterion_main!(benches);
