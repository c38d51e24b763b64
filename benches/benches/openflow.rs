//! Criterion benchmarks for ferrovs-openflow.
//!
//! `openflow/decode_flow_mod` and `openflow/encode_flow_mod` measure one
//! Neutron-style OpenFlow 1.3 flow-mod (OXM match of 7 fields, ct, resubmit,
//! set_field and output actions, goto_table) per iteration; throughput is in
//! messages.  Add more benches as functions and list them in `criterion_group!`.
//!
//! `openflow/parse_flow_text` parses every line of the flow corpus
//! (`openflow/tests/data/flows.txt`: Neutron/OVN-style flows and a sweep of
//! all fields and actions) with the `ovs-ofctl` syntax parser; throughput is
//! in flows.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrovs_openflow::action::{Action, Ct, CtZone, Subfield};
use ferrovs_openflow::message::{FlowMod, FlowModCommand, Message};
use ferrovs_openflow::{Field, Instruction, Match, Value, Version};

/// A typical br-int flow: `table=0,priority=100,ct_state=-trk,tcp,in_port=5,
/// dl_src=..,nw_dst=198.18.0.0/16,tp_dst=80,reg5=0x5 actions=ct(table=1,zone=NXM_NX_REG6[0..15]),
/// set_field:..->eth_dst,load:..,output:6` plus goto_table.
pub fn sample_flow_mod() -> Message {
    let mut m = Match::new();
    m.set_exact(Field::InPort, Value::from_u16(5));
    m.set_exact(
        Field::EthSrc,
        Value::from_slice(&[0xfa, 0x16, 0x3e, 0, 0, 1]),
    );
    m.set_exact(Field::EthType, Value::from_u16(0x0800));
    m.set(
        Field::IpDst,
        Value::from_u32(0xc612_0000),
        Some(Value::from_u32(0xffff_0000)),
    );
    m.set_exact(Field::NwProto, Value::from_u8(6));
    m.set_exact(Field::TcpDst, Value::from_u16(80));
    m.set(
        Field::CtState,
        Value::from_u32(0),
        Some(Value::from_u32(0x20)),
    );
    m.set_exact(Field::Reg5, Value::from_u32(5));
    let actions = vec![
        Action::Ct(Ct {
            flags: 0,
            zone: CtZone::Field(Subfield {
                field: Field::Reg6,
                ofs: 0,
                n_bits: 16,
            }),
            recirc_table: 1,
            alg: 0,
            actions: vec![],
        }),
        Action::SetField {
            field: Field::EthDst,
            value: Value::from_slice(&[0xfa, 0x16, 0x3e, 0, 0, 2]),
            mask: None,
        },
        Action::RegLoad {
            dst: Subfield {
                field: Field::Reg0,
                ofs: 0,
                n_bits: 16,
            },
            value: 0x10,
        },
        Action::Resubmit {
            in_port: 0xfff8,
            table: 60,
            ct: false,
        },
        Action::Output {
            port: 6,
            max_len: 0,
        },
    ];
    Message::FlowMod(FlowMod {
        cookie: 0x9f1e_5d2c_0000_0001,
        table_id: 0,
        command: FlowModCommand::Add,
        priority: 100,
        r#match: m,
        instructions: vec![
            Instruction::ApplyActions(actions),
            Instruction::GotoTable(1),
        ],
        ..FlowMod::default()
    })
}

fn flow_mod_benches(c: &mut Criterion) {
    let msg = sample_flow_mod();
    let bytes = msg.encode(Version::Of13, 1);
    let mut g = c.benchmark_group("openflow");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_flow_mod", |b| {
        b.iter(|| Message::decode(black_box(&bytes)).expect("decodes"))
    });
    let mut buf = Vec::with_capacity(512);
    g.bench_function("encode_flow_mod", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&msg).encode_into(Version::Of13, 1, &mut buf);
            black_box(buf.len())
        })
    });
    g.finish();
}

const FLOW_CORPUS: &str = include_str!("../../openflow/tests/data/flows.txt");

fn parse_flow_text(c: &mut Criterion) {
    let flows: Vec<&str> = FLOW_CORPUS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut g = c.benchmark_group("openflow");
    g.throughput(Throughput::Elements(flows.len() as u64));
    g.bench_function("parse_flow_text", |b| {
        b.iter(|| {
            for f in &flows {
                black_box(
                    ferrovs_openflow::text::parse_flow(black_box(f)).expect("corpus flow parses"),
                );
            }
        })
    });
    g.finish();
}

criterion_group!(group, flow_mod_benches, parse_flow_text);
criterion_main!(group);
