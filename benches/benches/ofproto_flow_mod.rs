//! Criterion benchmark of ferrovs-ofproto's flow-mod path.
//!
//! `ofproto/flow_mod_add`: 1,000 OpenFlow 1.3 flow-mods (add; each a
//! distinct `ip,nw_dst=198.18.x.y` match at one of 16 priorities, output
//! action) received as one byte stream on a connection of a fresh switch,
//! as `ovs-ofctl add-flows` sends them; throughput in flow-mods. Includes
//! framing, decoding, normalisation, the canonical match and classifier
//! insertion.
//!
//! `ofproto/flow_delete_all`: `ovs-ofctl del-flows` (an OpenFlow 1.3
//! delete of every flow in every table, and a barrier) on a switch holding
//! 100,000 such rules, until the barrier reply is queued; throughput in
//! rules deleted. Each table's classifier is taken whole (no rule is
//! visited); reading the rules happens only when a connection wants
//! flow-removed or monitors flows, and freeing them is not in it (a
//! thread of its own does that after the reply).
//!
//! `ofproto/flow_dump`: an OpenFlow 1.3 flow stats request for every flow
//! of a switch holding 10,000 such rules, answered into the connection's
//! output (`ovs-ofctl dump-flows`); throughput in flows dumped. Includes
//! selecting the rules (priority order) and encoding each entry straight
//! from its rule.
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrovs_ofproto::{ConnKind, Ofproto, OfprotoConfig};
use ferrovs_openflow::action::Action;
use ferrovs_openflow::message::multipart::{FlowStatsRequest, MpRequest, MultipartRequest};
use ferrovs_openflow::message::{FlowMod, Hello, Message};
use ferrovs_openflow::{Field, Instruction, Match, Value, Version};

const N: u32 = 1000;
/// Rules in the switch the dump bench reads.
const N_DUMP: u32 = 10_000;
/// Rules in the switch the delete bench empties.
const N_DELETE: u32 = 100_000;

fn stream() -> Vec<u8> {
    stream_of(N)
}

/// Hello, then `n` flow-mods (add).
fn stream_of(n: u32) -> Vec<u8> {
    let v = Version::Of13;
    let mut out = Message::Hello(Hello::offering(&[v])).encode(v, 1);
    for i in 0..n {
        let mut m = Match::new();
        m.set_exact(Field::EthType, Value::from_u16(0x0800));
        m.set_exact(Field::IpDst, Value::from_u32(0xc612_0000 | i));
        let fm = FlowMod {
            priority: 100 + (i % 16) as u16,
            r#match: m,
            instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                port: 1 + (i % 4) as u16,
                max_len: 0,
            }])],
            ..FlowMod::default()
        };
        Message::FlowMod(fm).encode_into(v, i + 2, &mut out);
    }
    out
}

fn flow_mod_add(c: &mut Criterion) {
    let bytes = stream();
    let mut g = c.benchmark_group("ofproto");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("flow_mod_add", |b| {
        b.iter(|| {
            let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
            let id = of.connect(ConnKind::Service, Box::new(|| {}));
            of.receive(id, black_box(&bytes));
            assert_eq!(of.n_rules(), N as usize);
            black_box(of.take_output(id));
        })
    });
    g.finish();
}

fn flow_dump(c: &mut Criterion) {
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    let id = of.connect(ConnKind::Service, Box::new(|| {}));
    of.receive(id, &stream_of(N_DUMP));
    assert_eq!(of.n_rules(), N_DUMP as usize);
    let _ = of.take_output(id);
    let req = Message::MultipartRequest(MultipartRequest {
        flags: 0,
        body: MpRequest::Flow(FlowStatsRequest::default()),
    })
    .encode(Version::Of13, 7);
    let mut g = c.benchmark_group("ofproto");
    g.throughput(Throughput::Elements(N_DUMP as u64));
    g.bench_function("flow_dump", |b| {
        b.iter(|| {
            of.receive(id, black_box(&req));
            let out = of.take_output(id);
            // About 96 bytes an entry.
            assert!(out.len() > N_DUMP as usize * 80);
            black_box(out);
        })
    });
    g.finish();
}

fn flow_delete_all(c: &mut Criterion) {
    let fill = stream_of(N_DELETE);
    let v = Version::Of13;
    let mut del = Message::FlowMod(FlowMod {
        command: ferrovs_openflow::message::FlowModCommand::Delete,
        table_id: 0xff,
        ..FlowMod::default()
    })
    .encode(v, 7);
    Message::BarrierRequest.encode_into(v, 8, &mut del);
    let mut g = c.benchmark_group("ofproto");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N_DELETE as u64));
    g.bench_function("flow_delete_all", |b| {
        b.iter_batched(
            || {
                let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
                let id = of.connect(ConnKind::Service, Box::new(|| {}));
                of.receive(id, &fill);
                let _ = of.take_output(id);
                (of, id)
            },
            |(mut of, id)| {
                of.receive(id, black_box(&del));
                assert_eq!(of.n_rules(), 0);
                black_box(of.take_output(id));
                of
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, flow_mod_add, flow_dump, flow_delete_all);
criterion_main!(benches);
