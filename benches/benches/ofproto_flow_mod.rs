//! Criterion benchmarks for ferrovs-ofproto.
//!
//! `ofproto/flow_mod_add`: 1,000 OpenFlow 1.3 flow-mods (add; each a
//! distinct `ip,nw_dst=198.18.x.y` match at one of 16 priorities, output
//! action) received as one byte stream on a connection of a fresh switch,
//! as `ovs-ofctl add-flows` sends them; throughput in flow-mods. Includes
//! framing, decoding, normalisation, the canonical match and classifier
//! insertion.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrovs_ofproto::{ConnKind, Ofproto, OfprotoConfig};
use ferrovs_openflow::action::Action;
use ferrovs_openflow::message::{FlowMod, Hello, Message};
use ferrovs_openflow::{Field, Instruction, Match, Value, Version};

const N: u32 = 1000;

fn stream() -> Vec<u8> {
    let v = Version::Of13;
    let mut out = Message::Hello(Hello::offering(&[v])).encode(v, 1);
    for i in 0..N {
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

criterion_group!(benches, flow_mod_add);
criterion_main!(benches);
