//! Action-list verification against Debian's OVS 3.1 (`ofpacts_verify`):
//! action lists built from a pool of the actions the checks are about
//! (write_metadata, conjunction, note, ct_mark/ct_label writes, nat, ct
//! with and without commit, clone, meter) and plain ones, alone and in
//! every ordered pair, are encoded in the messages that carry actions
//! (Nicira flow-mod in 1.0, flow-mod with instructions in 1.3 and 1.5,
//! packet-out, group-mod bucket) and given to `ovs-ofctl ofp-print`. OVS's
//! verdict (decoded, or the error it names) must be ferrovs's decoder's.

use ferrovs_openflow::action::*;
use ferrovs_openflow::message::*;
use ferrovs_openflow::*;
use std::process::Command;

fn pool() -> Vec<(&'static str, Action)> {
    let ct_mark = Action::SetField {
        field: Field::CtMark,
        value: Value::from_u32(1),
        mask: None,
    };
    let nat = Action::Nat(Nat {
        flags: 0,
        range: NatRange::default(),
    });
    let nat_src = Action::Nat(Nat {
        flags: Nat::F_SRC,
        range: NatRange {
            ipv4_min: Some([198, 18, 0, 1]),
            ..NatRange::default()
        },
    });
    let ct = |flags: u16, actions: Vec<Action>| {
        Action::Ct(Ct {
            flags,
            zone: CtZone::Imm(0),
            recirc_table: Ct::RECIRC_NONE,
            alg: 0,
            actions,
        })
    };
    let ct_zone = |n_bits: u8| {
        Action::Ct(Ct {
            flags: 0,
            zone: CtZone::Field(Subfield {
                field: Field::Reg6,
                ofs: 0,
                n_bits: n_bits as _,
            }),
            recirc_table: Ct::RECIRC_NONE,
            alg: 0,
            actions: vec![],
        })
    };
    let wm = Action::WriteMetadata {
        metadata: 1,
        mask: 0xff,
    };
    let out = Action::Output {
        port: 1,
        max_len: 0,
    };
    vec![
        ("output", out.clone()),
        ("write_metadata", wm.clone()),
        (
            "conjunction",
            Action::Conjunction {
                id: 7,
                clause: 0,
                n_clauses: 2,
            },
        ),
        ("note", Action::Note(vec![1, 2, 3, 4, 5, 6])),
        ("set ct_mark", ct_mark.clone()),
        (
            "load ct_label",
            Action::RegLoad {
                dst: Subfield {
                    field: Field::CtLabel,
                    ofs: 0,
                    n_bits: 8,
                },
                value: 1,
            },
        ),
        ("nat", nat.clone()),
        (
            "ct commit(ct_mark)",
            ct(Ct::F_COMMIT, vec![ct_mark.clone()]),
        ),
        ("ct(ct_mark)", ct(0, vec![ct_mark])),
        ("ct(nat)", ct(0, vec![nat.clone()])),
        ("ct(nat src)", ct(0, vec![nat_src.clone()])),
        ("ct commit(nat src)", ct(Ct::F_COMMIT, vec![nat_src])),
        ("ct force", ct(Ct::F_FORCE, vec![])),
        ("ct zone=reg6[0..7]", ct_zone(8)),
        ("ct zone=reg6[0..15]", ct_zone(16)),
        ("ct commit(output)", ct(Ct::F_COMMIT, vec![out.clone()])),
        ("clone(output)", Action::Clone(vec![out.clone()])),
        ("clone(write_metadata)", Action::Clone(vec![wm.clone()])),
        ("clone(nat)", Action::Clone(vec![nat])),
        (
            "clone(output,write_metadata,output)",
            Action::Clone(vec![out.clone(), wm, out]),
        ),
        ("dec_ttl", Action::DecTtl),
        (
            "set in_port",
            Action::SetField {
                field: Field::InPort,
                value: Value::from_u16(5),
                mask: None,
            },
        ),
        (
            "set in_port_oxm",
            Action::SetField {
                field: Field::InPortOxm,
                value: Value::from_u32(5),
                mask: None,
            },
        ),
    ]
}

/// The messages that carry `acts` in `v`, each with its name.
fn carriers(v: Version, acts: &[Action]) -> Vec<(String, Vec<u8>)> {
    // An IP match: the actions' prerequisites (ct and nat need IP) are
    // met, so only the checks of the action lists themselves are at play
    // (matching actions against the match is ofproto's, not the codec's).
    let mut ip = Match::new();
    ip.set_exact(Field::EthType, Value::from_u16(0x0800));
    let fm = |insts: Vec<Instruction>| FlowMod {
        instructions: insts,
        r#match: ip.clone(),
        ..FlowMod::default()
    };
    let mut out = Vec::new();
    let apply = vec![Instruction::ApplyActions(acts.to_vec())];
    match v {
        Version::Of10 => {
            out.push((
                "NX flow-mod".into(),
                Message::Nx(NxMessage::FlowMod(fm(apply.clone()))).encode(v, 1),
            ));
            out.push((
                "OF1.0 flow-mod".into(),
                Message::FlowMod(fm(apply)).encode(v, 1),
            ));
        }
        _ => {
            out.push((
                "flow-mod".into(),
                Message::FlowMod(fm(apply.clone())).encode(v, 1),
            ));
            // With instructions around the actions: OVS lays them out
            // in its own order whatever the wire order.
            let mut with = vec![Instruction::GotoTable(3), Instruction::ClearActions];
            with.extend(apply);
            out.push((
                "flow-mod +clear,goto".into(),
                Message::FlowMod(fm(with)).encode(v, 1),
            ));
            let mut with = vec![Instruction::WriteMetadata {
                metadata: 2,
                mask: 2,
            }];
            with.extend(vec![Instruction::ApplyActions(acts.to_vec())]);
            out.push((
                "flow-mod +write_metadata".into(),
                Message::FlowMod(fm(with)).encode(v, 1),
            ));
        }
    }
    out.push((
        "packet-out".into(),
        Message::PacketOut(PacketOut {
            buffer_id: u32::MAX,
            in_port: port::OFPP_CONTROLLER,
            r#match: Match::new(),
            actions: acts.to_vec(),
            data: vec![0; 60],
        })
        .encode(v, 1),
    ));
    if v != Version::Of10 {
        out.push((
            "group-mod bucket".into(),
            Message::GroupMod(GroupMod {
                command: 0,
                type_: 0,
                group_id: 1,
                command_bucket_id: u32::MAX,
                buckets: vec![Bucket {
                    bucket_id: 0,
                    weight: 0,
                    watch_port: port::OFPP_NONE,
                    watch_group: u32::MAX,
                    actions: acts.to_vec(),
                }],
                props: Vec::new(),
            })
            .encode(v, 1),
        ));
    }
    out
}

/// OVS's verdict: `None` when it decodes the message, else its error.
fn ovs_verdict(bytes: &[u8]) -> Option<String> {
    let out = Command::new(ferrovs_tests::tool("ovs-ofctl"))
        .arg("ofp-print")
        .arg(hex::encode(bytes))
        .output()
        .expect("run ovs-ofctl ofp-print");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = text.lines().next().unwrap_or("");
    first
        .split_once("decode error: ")
        .map(|(_, e)| e.trim_end_matches('*').to_string())
}

#[test]
fn action_lists_are_refused_as_ovs_refuses_them() {
    let pool = pool();
    let mut lists: Vec<(String, Vec<Action>)> = Vec::new();
    for (n, a) in &pool {
        lists.push((n.to_string(), vec![a.clone()]));
    }
    for (n1, a1) in &pool {
        for (n2, a2) in &pool {
            lists.push((format!("{n1}, {n2}"), vec![a1.clone(), a2.clone()]));
        }
    }
    let (mut checked, mut refused) = (0, 0);
    let mut bad = Vec::new();
    for v in [Version::Of10, Version::Of13, Version::Of15] {
        for (name, acts) in &lists {
            if acts.iter().any(|a| check_encodable(v, a).is_err()) {
                continue;
            }
            for (carrier, bytes) in carriers(v, acts) {
                let ovs = ovs_verdict(&bytes);
                let ours = Message::decode(&bytes).err().map(|e| e.code);
                checked += 1;
                refused += ovs.is_some() as usize;
                let want = ovs.as_deref().map(|e| {
                    ErrorCode::from_name(e).unwrap_or_else(|| panic!("unknown OVS error {e}"))
                });
                if want != ours {
                    bad.push(format!(
                        "{v:?} {carrier} [{name}]: OVS {ovs:?}, ferrovs {ours:?}"
                    ));
                }
            }
        }
    }
    assert!(checked > 1500, "{checked} messages");
    assert!(
        refused > 300,
        "only {refused} refused by OVS: the pool lost its point"
    );
    assert!(
        bad.is_empty(),
        "{} of {checked} differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
