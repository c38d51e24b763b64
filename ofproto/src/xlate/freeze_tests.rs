//! Unit tests of freezing and thawing (recirculation) and of select
//! groups on dp_hash and on hashed fields.

use std::time::Instant;

use ferrovs_datapath::actions::{DpAction, HashAlg};
use ferrovs_openflow::action::Action;
use ferrovs_openflow::message::Bucket;
use ferrovs_openflow::port::OFPP_NONE;

use super::freeze::{dp_hash, recirc_id, FrozenState};
use super::group::{dp_hash_map, method, Method, Selection};
use super::*;
use crate::group::{Group, GT_SELECT};
use crate::normal::MacTable;
use crate::ofproto::{OfPort, Ofproto, OfprotoConfig};

struct Br {
    of: Ofproto,
    ports: BridgePorts,
    mac: MacTable,
}

fn port_desc(no: u16) -> OfPort {
    let mut n = [0u8; 16];
    let name = format!("p{no}");
    n[..name.len()].copy_from_slice(name.as_bytes());
    OfPort {
        port_no: no,
        hw_addr: [0xaa, 0x55, 0, 0, 0, no as u8],
        name: n,
        config: 0,
        state: 0,
        curr: 0,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 0,
        max_speed: 0,
        other_props: Vec::new(),
    }
}

fn bucket(id: u32, weight: u16, port: u16) -> Bucket {
    Bucket {
        bucket_id: id,
        weight,
        watch_port: OFPP_NONE,
        watch_group: u32::MAX,
        actions: vec![Action::Output { port, max_len: 0 }],
    }
}

/// An `ntr_selection_method` property: `method`, `param`, then OXM
/// headers (unmasked fields) given as 4-byte words.
fn ntr_prop(method: &str, param: u64, fields: &[u32]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&0xffffu16.to_be_bytes());
    let len = 40
        + fields
            .iter()
            .map(|f| 4 + (f & 0xff) as usize)
            .sum::<usize>();
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p.extend_from_slice(&0x154du32.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    let mut name = [0u8; 16];
    name[..method.len()].copy_from_slice(method.as_bytes());
    p.extend_from_slice(&name);
    p.extend_from_slice(&param.to_be_bytes());
    for f in fields {
        // The payload of a field-array entry is its mask.
        let n = (f & 0xff) as usize;
        p.extend_from_slice(&f.to_be_bytes());
        p.extend(std::iter::repeat_n(0xff, n));
    }
    while p.len() % 8 != 0 {
        p.push(0);
    }
    p
}

fn select_group(id: u32, buckets: Vec<Bucket>, props: Vec<u8>) -> Group {
    let n = buckets.len();
    Group {
        group_id: id,
        type_: GT_SELECT,
        buckets,
        props,
        created: Instant::now(),
        packet_count: 0,
        byte_count: 0,
        bucket_counts: vec![(0, 0); n],
    }
}

/// br0 with ports 1..=4 (datapath 101..=104), `flows` and `groups`.
fn bridge(flows: &[&str], groups: Vec<Group>) -> Br {
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    let mut ports = BridgePorts::new();
    for p in 1..=4u16 {
        of.set_port(port_desc(p));
        ports.set(
            p,
            XPort {
                name: format!("p{p}"),
                dp_port: Some(100 + p as u32),
                ..Default::default()
            },
        );
    }
    for g in groups {
        of.groups.insert(g.group_id, g);
    }
    for f in flows {
        of.add_flow_text(f).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    Br {
        of,
        ports,
        mac: MacTable::default(),
    }
}

fn trace(b: &Br, table: &RecircTable, flow: &str) -> (String, String, String) {
    let refs = [BridgeRef {
        ofproto: &b.of,
        ports: &b.ports,
        mac: &b.mac,
    }];
    let r = crate::trace::trace_with(
        &refs,
        0,
        flow,
        Instant::now(),
        &|p| p.to_string(),
        None,
        Some(table),
    )
    .unwrap_or_else(|e| panic!("{flow}: {e}"));
    (r.dp_actions, r.megaflow, r.text)
}

/// Translates `flow`, keeping the recirculation references (as an upcall
/// hands them to its megaflow).
fn xlate_keep(b: &Br, table: &RecircTable, flow: &str) -> Vec<DpAction> {
    let refs = [BridgeRef {
        ofproto: &b.of,
        ports: &b.ports,
        mac: &b.mac,
    }];
    let f = crate::trace::parse_trace_flow(flow, &b.ports).unwrap();
    let out = xlate(&XlateIn {
        bridges: &refs,
        bridge: 0,
        flow: f,
        now: Instant::now(),
        may_learn: false,
        recirc: Some(table),
        tnl: None,
    });
    out.actions
}

const TCP: &str = "tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=5,tp_dst=80";

#[test]
fn webster_map_follows_weights() {
    // OVS: weights 1,1,200 need 256 hash values; 100,100,200 need 16.
    let m = dp_hash_map(&[bucket(0, 1, 2), bucket(1, 1, 3), bucket(2, 200, 4)], 256).unwrap();
    assert_eq!(m.len(), 256);
    let count = |b| m.iter().filter(|x| **x == b).count();
    assert_eq!((count(0), count(1), count(2)), (1, 1, 254));
    let m = dp_hash_map(
        &[bucket(0, 100, 2), bucket(1, 100, 3), bucket(2, 200, 4)],
        256,
    )
    .unwrap();
    assert_eq!(m.len(), 16);
    assert_eq!(&m[..4], &[2, 0, 1, 2]);
    let count = |b| m.iter().filter(|x| **x == b).count();
    assert_eq!((count(0), count(1), count(2)), (4, 4, 8));
    // Too many values for the default method: the slow-path hash.
    assert!(dp_hash_map(&[bucket(0, 1, 2), bucket(1, 1000, 3)], 256).is_none());
    assert!(dp_hash_map(&[bucket(0, 0, 2)], 256).is_none());
}

#[test]
fn selection_method_from_props() {
    // OXM_OF_IPV4_SRC (0x80001604) and OXM_OF_IPV4_DST (0x80001804).
    let props = ntr_prop("hash", 7, &[0x8000_1804, 0x8000_1604]);
    let s = Selection::from_props(&props);
    assert_eq!(s.method, "hash");
    assert_eq!(s.param, 7);
    let names: Vec<&str> = s.fields.iter().map(|(f, _)| f.name()).collect();
    assert_eq!(names, ["ip_src", "ip_dst"], "sorted in OVS field order");
    let g = select_group(1, vec![bucket(0, 1, 2)], Vec::new());
    assert!(matches!(
        method(&g),
        Method::DpHash {
            alg: HashAlg::SymL4,
            basis: 0,
            ..
        }
    ));
    let g = select_group(1, vec![bucket(0, 1, 2)], ntr_prop("dp_hash", 5, &[]));
    assert!(matches!(
        method(&g),
        Method::DpHash {
            alg: HashAlg::L4,
            basis: 5,
            ..
        }
    ));
    let g = select_group(1, vec![bucket(0, 1, 2)], ntr_prop("hash", 0, &[]));
    assert_eq!(method(&g), Method::Default);
}

#[test]
fn select_group_recirculates_on_dp_hash_and_resumes() {
    let b = bridge(
        &["in_port=1,actions=set_field:0x5->reg0,group:1,output:3"],
        vec![select_group(
            1,
            vec![bucket(0, 1, 2), bucket(1, 1, 4), bucket(2, 200, 4)],
            Vec::new(),
        )],
    );
    let table = RecircTable::new();
    // First pass: hash, then recirculate; nothing else happens yet.
    let acts = xlate_keep(&b, &table, &format!("in_port=1,{TCP}"));
    assert_eq!(
        acts,
        vec![
            DpAction::Hash {
                alg: HashAlg::SymL4,
                basis: 0
            },
            DpAction::Recirc(1)
        ]
    );
    let st = table.get(1).expect("frozen state");
    assert_eq!(st.bridge, "br0");
    assert_eq!(st.in_port, 1);
    let mut f = OfFlow::default();
    st.restore_metadata(&mut f);
    let reg0 = f.get_field(ferrovs_openflow::Field::Reg0).unwrap();
    assert_eq!(reg0.to_u128(), 5, "reg0 frozen");
    assert_eq!(in_port(&f), 1);
    assert_eq!(
        st.actions,
        vec![
            FrozenAction::Unroll {
                table_id: 0,
                cookie: 0
            },
            FrozenAction::Act(Action::Group(1)),
            FrozenAction::Act(Action::Output {
                port: 3,
                max_len: 0
            }),
        ]
    );
    // The same state again: the same id.
    let again = xlate_keep(&b, &table, &format!("in_port=1,{TCP}"));
    assert_eq!(again, acts);
    assert_eq!(table.len(), 1);
    // Second pass: the bucket of dp_hash & 0xff, then the rest.
    let (a, mf, text) = trace(
        &b,
        &table,
        &format!("recirc_id=1,dp_hash=0x1,in_port=1,{TCP}"),
    );
    // OVS 3.1 maps dp_hash 1..5 of weights 1,1,200 to bucket 2 (p4).
    assert_eq!(a, "104,103", "{text}");
    assert_eq!(
        mf,
        "recirc_id=0x1,dp_hash=0x1/0xff,eth,ip,in_port=1,nw_frag=no"
    );
    assert!(text.contains("Resuming from table 0"), "{text}");
    // The one slot of bucket 0 (p2), also through the high bits.
    let map = dp_hash_map(&b.of.groups[&1].buckets, 256).unwrap();
    let slot = map.iter().position(|x| *x == 0).unwrap();
    for h in [slot, slot + 0x300] {
        let (a, _, _) = trace(
            &b,
            &table,
            &format!("recirc_id=1,dp_hash={h},in_port=1,{TCP}"),
        );
        assert_eq!(a, "102,103", "dp_hash {h}");
    }
    // An unknown id: dropped, as OVS.
    let (a, mf, text) = trace(&b, &table, &format!("recirc_id=9,in_port=1,{TCP}"));
    assert_eq!(a, "drop");
    assert_eq!(mf, "recirc_id=0x9,eth,ip,in_port=1,nw_frag=no");
    assert!(text.contains("Translation failed (No recirculation context)"));
}

#[test]
fn freeze_unrolls_resubmits_goto_and_action_set() {
    let b = bridge(
        &[
            "in_port=1,actions=write_actions(output:4),goto_table:1",
            "table=1,actions=resubmit(,3),output:2,goto_table:2",
            "table=3,actions=group:1,set_field:0x7->reg1,write_actions(output:4)",
            "table=2,actions=output:3",
        ],
        vec![select_group(1, vec![bucket(0, 1, 2)], Vec::new())],
    );
    let table = RecircTable::new();
    let acts = xlate_keep(&b, &table, &format!("in_port=1,{TCP}"));
    assert_eq!(acts.last(), Some(&DpAction::Recirc(1)));
    let st = table.get(1).unwrap();
    let text = freeze::frozen_text(&st.actions);
    // As OVS: the group action first, the rest of its rule (instructions
    // after the apply-actions too), then the rules up the stack, goto_table
    // as resubmit.
    assert_eq!(
        text,
        "unroll_xlate(table=3, cookie=0),group:1,set_field:0x7->reg1,write_actions(output:4),\
         unroll_xlate(table=1, cookie=0),output:2,resubmit(,2)"
    );
    assert_eq!(
        st.action_set,
        vec![Action::Output {
            port: 4,
            max_len: 0
        }]
    );
    // Thawed: bucket (p2), reg1, output:2, table 2 (p3), then the action
    // set (p4).
    let (a, _, t) = trace(
        &b,
        &table,
        &format!("recirc_id=1,dp_hash=3,in_port=1,{TCP}"),
    );
    assert_eq!(a, "102,102,103,104", "{t}");
}

#[test]
fn ids_live_while_megaflows_use_them() {
    let b = bridge(
        &["in_port=1,actions=group:1", "in_port=2,actions=group:2"],
        vec![
            select_group(1, vec![bucket(0, 1, 2)], Vec::new()),
            select_group(2, vec![bucket(0, 1, 3)], Vec::new()),
        ],
    );
    let table = RecircTable::new();
    // A trace alone gives its id back: the next trace gets a new one, as
    // OVS's trace does.
    let (a, _, _) = trace(&b, &table, &format!("in_port=1,{TCP}"));
    assert_eq!(a, "hash(sym_l4(0)),recirc(0x1)");
    assert!(table.is_empty());
    let (a, _, _) = trace(&b, &table, &format!("in_port=1,{TCP}"));
    assert_eq!(a, "hash(sym_l4(0)),recirc(0x2)");
    // An upcall hands its id to the megaflow.
    let refs = [BridgeRef {
        ofproto: &b.of,
        ports: &b.ports,
        mac: &b.mac,
    }];
    let f = crate::trace::parse_trace_flow(&format!("in_port=2,{TCP}"), &b.ports).unwrap();
    let out = xlate(&XlateIn {
        bridges: &refs,
        bridge: 0,
        flow: f,
        now: Instant::now(),
        may_learn: false,
        recirc: Some(&table),
        tnl: None,
    });
    assert_eq!(out.recircs, vec![3]);
    table.hand_to_megaflow(3);
    table.unref(3);
    assert_eq!(table.len(), 1);
    // Sweeps: the first two may not have seen the new megaflow; the
    // megaflow holds it as long as a dump finds it.
    let uses: std::collections::HashMap<u32, u32> = [(3, 1)].into();
    for _ in 0..3 {
        let g = table.begin_dump();
        assert_eq!(table.sweep(g, &uses), 0);
    }
    // The same state from another upcall: the same id.
    let (a, _, _) = trace(&b, &table, &format!("in_port=2,{TCP}"));
    assert_eq!(a, "hash(sym_l4(0)),recirc(0x3)");
    // Megaflow deleted: freed at the next sweep.
    let g = table.begin_dump();
    assert_eq!(table.sweep(g, &Default::default()), 1);
    assert!(table.get(3).is_none());
    // A fresh hand-over survives a sweep that began before it.
    let g = table.begin_dump();
    let id = table
        .alloc(FrozenState {
            bridge: "br0".into(),
            table_id: 4,
            in_port: 1,
            meta: [0; freeze::META_WORDS],
            stack: Vec::new(),
            actions: Vec::new(),
            action_set: Vec::new(),
            userdata: Vec::new(),
            conntracked: false,
            hashed: false,
        })
        .unwrap();
    table.hand_to_megaflow(id);
    table.unref(id);
    assert_eq!(table.sweep(g, &Default::default()), 0);
    let g = table.begin_dump();
    assert_eq!(table.sweep(g, &Default::default()), 0);
    let g = table.begin_dump();
    assert_eq!(table.sweep(g, &Default::default()), 1);
}

#[test]
fn recirculate_after_resumes_at_table() {
    let b = bridge(&["table=3,in_port=1,actions=output:2"], Vec::new());
    let table = RecircTable::new();
    let refs = [BridgeRef {
        ofproto: &b.of,
        ports: &b.ports,
        mac: &b.mac,
    }];
    let f = crate::trace::parse_trace_flow(&format!("in_port=1,reg2=9,{TCP}"), &b.ports).unwrap();
    let mut ctx_out = None;
    // Drive a context by hand: what a `ct(table=3)` translation does.
    let input = XlateIn {
        bridges: &refs,
        bridge: 0,
        flow: f,
        now: Instant::now(),
        may_learn: false,
        recirc: Some(&table),
        tnl: None,
    };
    let mut ctx = Ctx::new(&input, None);
    ctx_out = ctx_out.or(ctx.recirculate_after(3, DpAction::Meter(7)));
    let out = ctx.finish();
    let id = ctx_out.unwrap();
    assert_eq!(out.actions, vec![DpAction::Meter(7), DpAction::Recirc(id)]);
    let st = table.get(id).unwrap();
    assert_eq!(st.table_id, 3);
    assert!(st.actions.is_empty());
    let (a, mf, _) = trace(&b, &table, &format!("recirc_id={id},in_port=1,{TCP}"));
    assert_eq!(a, "102");
    assert!(mf.starts_with(&format!("recirc_id={id:#x},eth,")), "{mf}");
    let _ = (recirc_id(&f), dp_hash(&f));
}

#[test]
fn hash_fields_select_scores_as_ovs() {
    // OVS 3.1: fields(ip_src,ip_dst), two buckets of weight 1: bucket 0
    // scores 53909, bucket 1 41397 for 198.18.0.1 -> 198.18.0.2.
    let b = bridge(
        &["in_port=1,actions=group:2"],
        vec![select_group(
            2,
            vec![bucket(0, 1, 2), bucket(1, 1, 3)],
            ntr_prop("hash", 0, &[0x8000_1604, 0x8000_1804]),
        )],
    );
    let table = RecircTable::new();
    let (a, mf, t) = trace(&b, &table, &format!("in_port=1,{TCP}"));
    assert!(t.contains("bucket 0: score 53909"), "{t}");
    assert!(t.contains("bucket 1: score 41397"), "{t}");
    assert_eq!(a, "102");
    assert_eq!(
        mf,
        "recirc_id=0,eth,ip,in_port=1,nw_src=198.18.0.1,nw_dst=198.18.0.2,nw_frag=no"
    );
}

// Conntrack recirculation: the `conntracked` flag, `ct_clear` and the
// trace's `--ct-next`.

#[test]
fn ct_table_freezes_a_conntracked_state() {
    let b = bridge(
        &[
            "table=0,priority=10,ip,ct_state=-trk actions=set_field:7->reg6,ct(table=1,zone=NXM_NX_REG6[0..15])",
            "table=1,priority=10,ct_state=+trk+est actions=ct_clear,output:2",
            "table=1,priority=5,ct_state=+trk actions=output:3",
        ],
        Vec::new(),
    );
    let table = RecircTable::new();
    let acts = xlate_keep(&b, &table, &format!("in_port=1,{TCP}"));
    let (ct, id) = match &acts[..] {
        [DpAction::Ct(ct), DpAction::Recirc(id)] => (ct, *id),
        other => panic!("{other:?}"),
    };
    assert_eq!(ct.zone, 7, "the zone comes from reg6");
    assert!(table.get(id).unwrap().conntracked);

    // The packet comes back tracked and established: ct_clear is a
    // datapath action because the packet went through the tracker.
    let (a, _, text) = trace(
        &b,
        &table,
        &format!("recirc_id={id:#x},ct_state=+trk+est,in_port=1,{TCP}"),
    );
    assert_eq!(a, "ct_clear,102", "{text}");
}

#[test]
fn ct_clear_of_an_untracked_packet_is_no_action() {
    let b = bridge(&["priority=1 actions=ct_clear,output:2"], Vec::new());
    let table = RecircTable::new();
    let (a, _, text) = trace(&b, &table, &format!("in_port=1,{TCP}"));
    assert_eq!(a, "102", "{text}");
}

#[test]
fn ct_fields_are_cleared_after_a_ct_without_table_and_on_other_thaws() {
    // After ct (no table), ct_state is untracked again in this pass.
    let b = bridge(
        &[
            "table=0,priority=1 actions=ct(commit,exec(set_field:0x5->ct_mark)),resubmit(,1)",
            "table=1,priority=10,ct_state=+trk actions=output:2",
            "table=1,priority=1 actions=output:3",
        ],
        Vec::new(),
    );
    let table = RecircTable::new();
    let (a, _, text) = trace(&b, &table, &format!("in_port=1,ct_state=+trk,{TCP}"));
    assert_eq!(a, "ct(commit,mark=0x5/0xffffffff),103", "{text}");

    // A select group's recirculation is not conntracked: the ct fields
    // the datapath brings back are cleared before the lookup.
    let g = select_group(1, vec![bucket(0, 1, 2), bucket(1, 1, 2)], Vec::new());
    let b = bridge(
        &[
            "table=0,priority=1,in_port=1 actions=group:1",
            "table=0,priority=10,in_port=2,ct_state=+trk actions=output:3",
            "table=0,priority=1,in_port=2 actions=output:4",
        ],
        vec![g],
    );
    let acts = xlate_keep(&b, &table, &format!("in_port=1,{TCP}"));
    let Some(DpAction::Recirc(id)) = acts.last() else {
        panic!("{acts:?}")
    };
    let st = table.get(*id).unwrap();
    assert!(!st.conntracked);
}

#[test]
fn trace_follows_ct_recirculation_with_ct_next() {
    let b = bridge(
        &[
            "table=0,priority=10,ip,ct_state=-trk actions=ct(table=1,zone=3)",
            "table=1,priority=10,ct_state=+trk+est actions=output:2",
            "table=1,priority=5,ct_state=+trk+new actions=ct(commit,zone=3),output:3",
        ],
        Vec::new(),
    );
    let table = RecircTable::new();
    let refs = [BridgeRef {
        ofproto: &b.of,
        ports: &b.ports,
        mac: &b.mac,
    }];
    let run = |next: &[u16]| {
        crate::trace_ct::trace_with_ct_next(
            &refs,
            0,
            &format!("in_port=1,{TCP}"),
            Instant::now(),
            &|p| p.to_string(),
            None,
            Some(&table),
            next,
            false,
        )
        .unwrap()
        .text
    };
    let dp_lines = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("Datapath actions:"))
            .map(|l| {
                l.split_once("recirc(")
                    .map(|x| x.0)
                    .unwrap_or(l)
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let t = run(&[]);
    assert!(
        t.contains("resume conntrack with default ct_state=trk|new"),
        "{t}"
    );
    assert_eq!(
        dp_lines(&t),
        [
            "Datapath actions: ct(zone=3),",
            "Datapath actions: ct(commit,zone=3),103"
        ],
        "{t}"
    );
    let est = crate::trace_ct::parse_ct_state("trk,est").unwrap();
    let t = run(&[est]);
    assert!(t.contains("resume conntrack with ct_state=est|trk"), "{t}");
    assert_eq!(
        dp_lines(&t),
        ["Datapath actions: ct(zone=3),", "Datapath actions: 102"],
        "{t}"
    );
    // Every id the trace took was given back.
    assert!(table.is_empty());
    assert!(crate::trace_ct::parse_ct_state("trk,bogus").is_err());
}

#[test]
fn ct_tuple_matches_unwildcard_what_they_read() {
    let b = bridge(
        &[
            "priority=90,ct_state=+trk+new,ip,ct_nw_dst=198.18.0.1,ct_nw_proto=17,ct_tp_src=5000 actions=output:4",
            "priority=1 actions=drop",
        ],
        Vec::new(),
    );
    let table = RecircTable::new();
    let refs = [BridgeRef {
        ofproto: &b.of,
        ports: &b.ports,
        mac: &b.mac,
    }];
    let f = crate::trace::parse_trace_flow(&format!("in_port=1,ct_state=+trk+new,{TCP}"), &b.ports)
        .unwrap();
    let out = xlate(&XlateIn {
        bridges: &refs,
        bridge: 0,
        flow: f,
        now: Instant::now(),
        may_learn: false,
        recirc: Some(&table),
        tnl: None,
    });
    use ferrovs_datapath::flow::layout as dp;
    let wc = out.wc;
    let read =
        wc.0[dp::W_CT_MARK] & dp::CT_NW_PROTO.word_mask() | wc.0[dp::W_CT_NW] | wc.0[dp::W_CT_TP];
    assert!(read != 0, "{:x?}", &wc.0[..16]);
    // OVS's megaflow text shows the zero ct_nw_proto that ruled it out.
    let (a, m, text) = trace(&b, &table, &format!("in_port=1,ct_state=+trk+new,{TCP}"));
    assert_eq!(a, "drop", "{text}");
    assert!(m.contains(",ct_nw_proto=0,"), "{m}");
}

/// After pop_mpls to IP, a resubmit waits for the datapath to parse the
/// packet again (OVS's `pop_mpls(eth_type=0x800),recirc(...)`); an output
/// does not. Thawed, the lookup sees the IP header.
#[test]
fn pop_mpls_to_ip_recirculates_before_a_lookup() {
    let b = bridge(
        &[
            "in_port=1,mpls,mpls_label=101 actions=pop_mpls:0x0800,resubmit(,1)",
            "in_port=1,mpls,mpls_label=102 actions=pop_mpls:0x0800,output:2",
            "in_port=1,mpls,mpls_label=103 actions=pop_mpls:0x8847,resubmit(,1)",
            "table=1,ip,nw_dst=198.18.1.0/24 actions=output:3",
            "table=1,priority=0 actions=output:4",
        ],
        Vec::new(),
    );
    let table = RecircTable::new();
    let (a, _, _) = trace(
        &b,
        &table,
        "in_port=1,mpls,mpls_label=101,mpls_ttl=9,mpls_bos=1",
    );
    assert!(a.starts_with("pop_mpls(eth_type=0x800),recirc(0x"), "{a}");
    let (a, _, _) = trace(
        &b,
        &table,
        "in_port=1,mpls,mpls_label=102,mpls_ttl=9,mpls_bos=1",
    );
    assert_eq!(a, "pop_mpls(eth_type=0x800),102");
    // Popping to MPLS keeps the packet parsed: no recirculation.
    let (a, _, _) = trace(
        &b,
        &table,
        "in_port=1,mpls,mpls_label=103,mpls_ttl=9,mpls_bos=0",
    );
    assert!(!a.contains("recirc"), "{a}");
}
