//! os-ken (the OpenFlow library of Neutron's OVS agent) builds OpenFlow 1.3
//! messages with its own parser classes (`tests/data/osken_of13.py`, run
//! live with the test venv's python); ferrovs decodes the bytes to the same
//! meaning, and re-encodes most of them to exactly os-ken's bytes.

use ferrovs_openflow::action::{Action, CtZone};
use ferrovs_openflow::message::multipart::MpRequest;
use ferrovs_openflow::message::*;
use ferrovs_openflow::*;
use serde_json::{json, Value as J};
use std::process::Command;

fn fname(f: Field) -> &'static str {
    match f {
        Field::IpSrc => "ipv4_src",
        Field::IpDst => "ipv4_dst",
        Field::NwProto => "ip_proto",
        Field::TunId => "tunnel_id",
        f => f.name(),
    }
}

fn match_facts(m: &Match) -> J {
    let mut v: Vec<J> = m
        .fields
        .iter()
        .map(|f| {
            let val = if f.field == Field::InPort {
                port::to_ofp11(f.value.to_u64() as u16) as u128
            } else {
                f.value.to_u128()
            };
            json!([
                fname(f.field),
                val as u64,
                f.mask.as_ref().map(|m| m.to_u128() as u64)
            ])
        })
        .collect();
    v.sort_by_key(|x| x.to_string());
    J::Array(v)
}

fn action_facts(a: &Action) -> J {
    match a {
        Action::Output { port, max_len } => json!(["output", port::to_ofp11(*port), max_len]),
        Action::SetField { field, value, .. } => {
            json!(["set_field", fname(*field), value.to_u128() as u64])
        }
        Action::PushVlan(e) => json!(["push_vlan", e]),
        Action::PopVlan => json!(["pop_vlan"]),
        Action::Group(g) => json!(["group", g]),
        Action::SetQueue(q) => json!(["set_queue", q]),
        Action::DecTtl => json!(["dec_ttl"]),
        Action::Resubmit { in_port, table, .. } => json!(["resubmit", in_port, table]),
        Action::Move { src, dst } => {
            json!([
                "reg_move",
                fname(src.field),
                fname(dst.field),
                src.n_bits,
                src.ofs,
                dst.ofs
            ])
        }
        Action::RegLoad { dst, value } => {
            json!(["reg_load", fname(dst.field), dst.ofs, dst.n_bits, value])
        }
        Action::Ct(c) => {
            let zone = match c.zone {
                CtZone::Imm(z) => z,
                CtZone::Field(_) => u16::MAX,
            };
            let nested: Vec<J> = c.actions.iter().map(action_facts).collect();
            json!(["ct", c.flags, zone, c.recirc_table, c.alg, nested])
        }
        Action::Nat(n) => {
            let ip = |a: Option<[u8; 4]>| a.map(|a| std::net::Ipv4Addr::from(a).to_string());
            json!([
                "nat",
                n.flags,
                ip(n.range.ipv4_min),
                ip(n.range.ipv4_max),
                n.range.proto_min,
                n.range.proto_max
            ])
        }
        Action::Conjunction {
            id,
            clause,
            n_clauses,
        } => json!(["conjunction", id, clause, n_clauses]),
        Action::Note(n) => json!(["note", n]),
        Action::Learn(l) => {
            json!([
                "learn",
                l.table_id,
                l.idle_timeout,
                l.hard_timeout,
                l.priority,
                l.cookie,
                l.specs.len()
            ])
        }
        Action::CtClear => json!(["ct_clear"]),
        other => json!(["unexpected", format!("{other:?}")]),
    }
}

fn inst_facts(i: &Instruction) -> J {
    match i {
        Instruction::ApplyActions(a) => {
            json!(["apply", a.iter().map(action_facts).collect::<Vec<_>>()])
        }
        Instruction::WriteActions(a) => {
            json!(["write", a.iter().map(action_facts).collect::<Vec<_>>()])
        }
        Instruction::ClearActions => json!(["clear", []]),
        Instruction::GotoTable(t) => json!(["goto_table", t]),
        Instruction::WriteMetadata { metadata, mask } => json!(["write_metadata", metadata, mask]),
        Instruction::Meter(m) => json!(["meter", m]),
        Instruction::Other { type_, .. } => json!(["other", type_]),
    }
}

fn sorted(v: &J) -> J {
    let mut a = v.as_array().cloned().unwrap_or_default();
    a.sort_by_key(|x| x.to_string());
    J::Array(a)
}

#[test]
fn osken_messages_decode_to_the_same_meaning() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/osken_of13.py");
    let out = Command::new(ferrovs_tests::python())
        .arg(script)
        .output()
        .expect("run os-ken script");
    assert!(
        out.status.success(),
        "os-ken script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut n = 0;
    let mut byte_exact = 0;
    for line in text.lines() {
        let d: J = serde_json::from_str(line).unwrap();
        let name = d["name"].as_str().unwrap();
        let bytes = hex::decode(d["hex"].as_str().unwrap()).unwrap();
        let (h, m) = Message::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(h.version, 4, "{name}");
        assert_eq!(u64::from(h.xid), d["xid"].as_u64().unwrap(), "{name}");
        match (&m, name) {
            (Message::FlowMod(fm), _) => {
                assert_eq!(fm.cookie, d["cookie"].as_u64().unwrap(), "{name}");
                assert_eq!(
                    u64::from(fm.table_id),
                    d["table_id"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(fm.command as u64, d["command"].as_u64().unwrap(), "{name}");
                assert_eq!(
                    u64::from(fm.priority),
                    d["priority"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    u64::from(fm.idle_timeout),
                    d["idle"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    u64::from(fm.hard_timeout),
                    d["hard"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(u64::from(fm.flags), d["flags"].as_u64().unwrap(), "{name}");
                assert_eq!(
                    u64::from(port::to_ofp11(fm.out_port)),
                    d["out_port"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    match_facts(&fm.r#match),
                    sorted(&d["match"]),
                    "{name}: match"
                );
                let insts: Vec<J> = fm.instructions.iter().map(inst_facts).collect();
                assert_eq!(J::Array(insts), d["instructions"], "{name}: instructions");
            }
            (Message::PacketOut(po), _) => {
                assert_eq!(
                    u64::from(port::to_ofp11(po.in_port)),
                    d["in_port"].as_u64().unwrap()
                );
                let acts: Vec<J> = po.actions.iter().map(action_facts).collect();
                assert_eq!(J::Array(acts), d["actions"]);
                assert_eq!(po.data.len() as u64, d["data_len"].as_u64().unwrap());
            }
            (Message::GroupMod(g), _) => {
                assert_eq!((g.command, g.type_, g.group_id), (0, 1, 7));
                let w: Vec<u16> = g.buckets.iter().map(|b| b.weight).collect();
                assert_eq!(json!(w), d["weights"]);
                assert_eq!(
                    g.buckets[1].actions,
                    vec![Action::Output {
                        port: 2,
                        max_len: 0
                    }]
                );
            }
            (Message::MeterMod(mm), _) => {
                assert_eq!((mm.command, mm.flags, mm.meter_id), (0, 5, 3));
                let b: Vec<J> = mm
                    .bands
                    .iter()
                    .map(|b| json!([b.type_, b.rate, b.burst_size]))
                    .collect();
                assert_eq!(J::Array(b), d["bands"]);
            }
            (Message::MultipartRequest(r), _) => {
                assert_eq!(
                    u64::from(r.type_()),
                    d["multipart_type"].as_u64().unwrap(),
                    "{name}"
                );
                if let MpRequest::Flow(f) = &r.body {
                    assert_eq!(f.r#match.exact_u128(Field::InPort), Some(3));
                    assert_eq!(f.table_id, 0xff);
                }
                if let MpRequest::PortStats(p) = &r.body {
                    assert_eq!(*p, port::OFPP_NONE);
                }
            }
            (Message::BarrierRequest, "barrier_request")
            | (Message::FeaturesRequest, "features_request")
            | (Message::GetConfigRequest, "get_config_request")
            | (Message::GetAsyncRequest, "get_async_request") => {}
            (Message::EchoRequest(p), "echo_request") => assert_eq!(p, b"ping"),
            (Message::SetConfig(c), "set_config") => {
                assert_eq!((c.flags, c.miss_send_len), (0, 0xffe5))
            }
            (Message::RoleRequest(r), "role_request") => {
                assert_eq!((r.role, r.generation_id), (2, 5))
            }
            (Message::SetAsync(a), "set_async") => assert_eq!(
                *a,
                basic::AsyncConfig::Masks {
                    packet_in: [7, 0],
                    port_status: [7, 7],
                    flow_removed: [15, 0]
                }
            ),
            (Message::PortMod(p), "port_mod") => {
                assert_eq!(
                    (p.port_no, p.hw_addr, p.config, p.mask),
                    (4, [2, 0, 0, 0, 0, 4], 1, 1)
                )
            }
            (Message::TableMod(t), "table_mod") => assert_eq!((t.table_id, t.config), (0xff, 3)),
            _ => panic!("{name}: decoded as unexpected {m:?}"),
        }
        // Re-encoding gives os-ken's bytes back, except where OVS's canonical
        // form differs (NXAST_DEC_TTL is written as OFPAT_DEC_NW_TTL).
        let again = m.encode(Version::Of13, h.xid);
        if again == bytes {
            byte_exact += 1;
        } else {
            assert_eq!(name, "flow_mod_nicira", "{name}: re-encoding differs");
            assert_eq!(Message::decode(&again).unwrap().1, m, "{name}");
        }
        n += 1;
    }
    assert!(n >= 30, "{n} messages from os-ken");
    assert!(byte_exact >= n - 1, "{byte_exact}/{n} byte exact");
}
