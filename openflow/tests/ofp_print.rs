//! Cross-check against Debian's OVS 3.1: messages ferrovs encodes are fed
//! to `ovs-ofctl ofp-print HEX` (run live) and its decoding must name the
//! same message type, version and xid, and for flow-mods the same match and
//! actions, in OVS's own spelling.

mod common;

use common::*;
use ferrovs_openflow::action::*;
use ferrovs_openflow::message::*;
use ferrovs_openflow::port::*;
use ferrovs_openflow::*;
use std::process::Command;

fn ofp_print(b: &[u8]) -> String {
    let out = Command::new(ferrovs_tests::tool("ovs-ofctl"))
        .arg("ofp-print")
        .arg(hex::encode(b))
        .output()
        .expect("run ovs-ofctl ofp-print");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn tag(v: Version) -> String {
    if v == Version::Of10 {
        String::new()
    } else {
        format!(" (OF{})", v.dotted())
    }
}

#[derive(Clone, Copy)]
enum Ctx {
    /// `ct_state=-inv+trk,tcp`
    Tcp,
    /// `vlan_tci=0x1000/0x1000`
    Vlan,
    /// `mpls`
    Mpls,
}

fn ctx_match(c: Ctx) -> Match {
    let mut m = Match::new();
    match c {
        Ctx::Tcp => {
            m.set(
                Field::CtState,
                Value::from_u32(0x20),
                Some(Value::from_u32(0x30)),
            );
            m.set_exact(Field::EthType, Value::from_u16(0x0800));
            m.set_exact(Field::NwProto, Value::from_u8(6));
        }
        Ctx::Vlan => m.set(
            Field::VlanTci,
            Value::from_u16(0x1000),
            Some(Value::from_u16(0x1000)),
        ),
        Ctx::Mpls => m.set_exact(Field::EthType, Value::from_u16(0x8847)),
    }
    m
}

fn ctx_text(c: Ctx) -> &'static str {
    match c {
        Ctx::Tcp => "ct_state=-inv+trk,tcp",
        Ctx::Vlan => "vlan_tci=0x1000/0x1000",
        Ctx::Mpls => "mpls",
    }
}

/// (action, context, OVS text) for every action OVS 3.1 accepts in `v`.
fn cases(v: Version) -> Vec<(Action, Ctx, String)> {
    let all = actions(v);
    let mut out = Vec::new();
    for a in all {
        let (ctx, text): (Ctx, String) = match &a {
            Action::Output { port: 3, .. } => (Ctx::Tcp, "output:3".into()),
            Action::Output { port: OFPP_CONTROLLER, max_len } => (Ctx::Tcp, format!("CONTROLLER:{max_len}")),
            Action::PopVlan => (Ctx::Vlan, if v == Version::Of10 { "strip_vlan" } else { "pop_vlan" }.into()),
            Action::SetQueue(q) => (Ctx::Tcp, format!("set_queue:{q}")),
            Action::Group(g) => (Ctx::Tcp, format!("group:{g}")),
            Action::DecTtl => (Ctx::Tcp, "dec_ttl".into()),
            Action::SetMplsTtl(t) => (Ctx::Mpls, format!("set_mpls_ttl({t})")),
            Action::DecMplsTtl => (Ctx::Mpls, "dec_mpls_ttl".into()),
            Action::PushMpls(e) => (Ctx::Tcp, format!("push_mpls:0x{e:04x}")),
            Action::PopMpls(e) => (Ctx::Mpls, format!("pop_mpls:0x{e:04x}")),
            Action::SetField { field: Field::EthDst, .. } => (Ctx::Tcp, "set_field:02:00:00:00:00:09->eth_dst".into()),
            Action::SetField { field: Field::Reg5, .. } => (Ctx::Tcp, "set_field:0x4d->reg5".into()),
            Action::SetField { field: Field::TunDst, .. } => (Ctx::Tcp, "set_field:198.18.1.1->tun_dst".into()),
            Action::SetField { field: Field::Reg1, .. } => (Ctx::Tcp, "set_field:0x10/0xf0->reg1".into()),
            Action::RegLoad { dst, .. } if dst.field == Field::Reg1 => {
                (Ctx::Tcp, "load:0xbeef->NXM_NX_REG1[0..15]".into())
            }
            Action::RegLoad { .. } => (Ctx::Tcp, "load:0x123456789abc->NXM_NX_TUN_ID[]".into()),
            Action::Move { src, .. } if src.field == Field::EthSrc => {
                (Ctx::Tcp, "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]".into())
            }
            Action::Move { .. } => (Ctx::Tcp, "move:NXM_NX_REG0[0..15]->NXM_NX_TUN_ID[16..31]".into()),
            Action::Resubmit { in_port: 5, .. } => (Ctx::Tcp, "resubmit:5".into()),
            Action::Resubmit { table: 0xff, .. } => (Ctx::Tcp, "resubmit(,)".into()),
            Action::Resubmit { table: 3, .. } => (Ctx::Tcp, "resubmit(,3)".into()),
            Action::Resubmit { ct: true, .. } => (Ctx::Tcp, "resubmit(,4,ct)".into()),
            Action::SetTunnel(_) => (Ctx::Tcp, "set_tunnel:0x55".into()),
            Action::SetTunnel64(_) => (Ctx::Tcp, "set_tunnel64:0x100000000".into()),
            Action::Note(n) if n.len() == 6 => (Ctx::Tcp, "note:01.02.03.04.05.06".into()),
            Action::Note(_) => (Ctx::Tcp, format!("note:{}", vec!["ab"; 14].join("."))),
            Action::Multipath(_) => (Ctx::Tcp, "multipath(symmetric_l4,50,hrw,4,0,NXM_NX_REG0[0..1])".into()),
            Action::Bundle(b) if b.dst.is_none() => (Ctx::Tcp, "bundle(eth_src,0,hrw,ofport,members:1,2,3)".into()),
            Action::Bundle(_) => (
                Ctx::Tcp,
                "bundle_load(symmetric_l4,7,active_backup,ofport,NXM_NX_REG2[0..15],members:4,5)".into(),
            ),
            Action::OutputReg { src, .. } if src.field == Field::Reg1 => (Ctx::Tcp, "output:NXM_NX_REG1[0..15]".into()),
            Action::OutputReg { .. } => (Ctx::Tcp, "output:NXM_NX_TUN_METADATA0[0..15]".into()),
            Action::OutputTrunc { .. } => (Ctx::Tcp, "output(port=2,max_len=100)".into()),
            Action::Learn(l) if l.learn2.is_none() => (
                Ctx::Tcp,
                "learn(table=10,idle_timeout=10,hard_timeout=20,priority=100,send_flow_rem,cookie=0x55,\
                 NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0x5->NXM_NX_REG0[0..15],\
                 output:NXM_OF_IN_PORT[])"
                    .into(),
            ),
            Action::Learn(_) => (
                Ctx::Tcp,
                "learn(table=1,fin_idle_timeout=5,fin_hard_timeout=6,priority=0,limit=10,\
                 result_dst=NXM_NX_REG3[5],eth_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[])"
                    .into(),
            ),
            Action::Exit => (Ctx::Tcp, "exit".into()),
            Action::FinTimeout { .. } => (Ctx::Tcp, "fin_timeout(idle_timeout=3,hard_timeout=4)".into()),
            Action::Controller(c) if !c.v2 => (Ctx::Tcp, "CONTROLLER:65535".into()),
            Action::Controller(_) => (
                Ctx::Tcp,
                "controller(reason=no_match,max_len=200,id=3,userdata=01.02.03,pause,meter_id=5)".into(),
            ),
            Action::DecTtlCntIds(_) => (Ctx::Tcp, "dec_ttl(1,2,3)".into()),
            Action::WriteMetadata { .. } => (Ctx::Tcp, "write_metadata:0x1/0xff".into()),
            Action::StackPush(_) => (Ctx::Tcp, "push:NXM_NX_REG0[]".into()),
            Action::StackPop(_) => (Ctx::Tcp, "pop:NXM_NX_REG1[8..15]".into()),
            Action::Sample(s) if s.variant == 0 => (
                Ctx::Tcp,
                "sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3)".into(),
            ),
            Action::Sample(s) if s.variant == 1 => (
                Ctx::Tcp,
                "sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3,sampling_port=7)".into(),
            ),
            Action::Sample(_) => (
                Ctx::Tcp,
                "sample(probability=1,collector_set_id=0,obs_domain_id=0,obs_point_id=0,egress)".into(),
            ),
            Action::Conjunction { .. } => (Ctx::Tcp, "conjunction(10,2/2)".into()),
            Action::Ct(c) if c.flags != 0 => (
                Ctx::Tcp,
                "ct(commit,zone=5,nat(src=198.18.0.1-198.18.0.9:1000-2000,persistent),\
                 exec(set_field:0x1->ct_mark),alg=ftp)"
                    .into(),
            ),
            Action::Ct(_) => (Ctx::Tcp, "ct(table=4,zone=NXM_NX_REG6[0..15],nat)".into()),
            Action::CtClear => (Ctx::Tcp, "ct_clear".into()),
            Action::Clone(_) => (Ctx::Tcp, "clone(set_tunnel64:0x1,output:1)".into()),
            Action::CheckPktLarger { .. } => (Ctx::Tcp, "check_pkt_larger(1500)->NXM_NX_REG0[3]".into()),
            Action::Encap { .. } => (Ctx::Tcp, "encap(nsh)".into()),
            Action::Decap { .. } => (Ctx::Tcp, "decap(packet_type(ns=65535,type=0xfffe))".into()),
            Action::DeleteField(_) => (Ctx::Tcp, "delete_field:tun_metadata3".into()),
            Action::PopQueue => (Ctx::Tcp, "pop_queue".into()),
            Action::Enqueue { .. } => (Ctx::Tcp, "enqueue:1:2".into()),
            Action::SetVlanVid(_) => (Ctx::Tcp, "mod_vlan_vid:10".into()),
            Action::SetVlanPcp(_) => (Ctx::Tcp, "mod_vlan_pcp:3".into()),
            Action::SetDlSrc(_) => (Ctx::Tcp, "mod_dl_src:02:00:00:00:00:03".into()),
            Action::SetDlDst(_) => (Ctx::Tcp, "mod_dl_dst:02:00:00:00:00:04".into()),
            Action::SetNwSrc(_) => (Ctx::Tcp, "mod_nw_src:198.18.0.1".into()),
            Action::SetNwDst(_) => (Ctx::Tcp, "mod_nw_dst:198.18.0.2".into()),
            Action::SetNwTos(_) => (Ctx::Tcp, "mod_nw_tos:32".into()),
            Action::SetTpSrc(_) => (Ctx::Tcp, "mod_tp_src:1".into()),
            Action::SetTpDst(_) => (Ctx::Tcp, "mod_tp_dst:2".into()),
            Action::SetMplsLabel(_) => (Ctx::Mpls, "set_mpls_label(100)".into()),
            Action::SetMplsTc(_) => (Ctx::Mpls, "set_mpls_tc(3)".into()),
            Action::PushVlan(_) => (Ctx::Tcp, "push_vlan:0x8100".into()),
            Action::SetNwTtl(_) => (Ctx::Tcp, "mod_nw_ttl:9".into()),
            Action::Meter(_) => (Ctx::Tcp, "meter:3".into()),
            // OVS 3.1 does not accept these (copy_ttl, PBB, NSH ttl without
            // NSH context, debug actions, NAT outside ct, unknown vendors).
            _ => continue,
        };
        out.push((a, ctx, text));
    }
    out
}

#[test]
fn ovs_decodes_every_action_ferrovs_encodes() {
    let mut checked = 0;
    for v in ALL {
        let list = cases(v);
        assert!(list.len() >= 50, "{v:?}: {}", list.len());
        for (a, ctx, text) in list {
            let fm = FlowMod {
                r#match: ctx_match(ctx),
                instructions: vec![Instruction::ApplyActions(vec![a.clone()])],
                ..FlowMod::default()
            };
            // OpenFlow 1.0 goes as a Nicira flow-mod (NXM match), as ovs-ofctl does.
            let (msg, name) = if v == Version::Of10 {
                (Message::Nx(NxMessage::FlowMod(fm)), "NXT_FLOW_MOD")
            } else {
                (Message::FlowMod(fm), "OFPT_FLOW_MOD")
            };
            let got = ofp_print(&msg.encode(v, 0x77));
            let want = format!(
                "{name}{} (xid=0x77): ADD {} actions={text}",
                tag(v),
                ctx_text(ctx)
            );
            assert_eq!(got.lines().next().unwrap_or(""), want, "{v:?} {a:?}\n{got}");
            checked += 1;
        }
    }
    assert!(checked > 220, "{checked}");
}

#[test]
fn ovs_decodes_matches_and_instructions() {
    for v in ALL {
        let mut fm = flow_mod(v);
        fm.command = FlowModCommand::Add;
        fm.instructions = if v == Version::Of10 {
            vec![Instruction::ApplyActions(vec![Action::Output {
                port: 1,
                max_len: 0,
            }])]
        } else {
            let mut i = vec![
                Instruction::WriteMetadata {
                    metadata: 1,
                    mask: 3,
                },
                Instruction::ApplyActions(vec![Action::Output {
                    port: 1,
                    max_len: 0,
                }]),
                Instruction::ClearActions,
                Instruction::WriteActions(vec![Action::Group(2)]),
                Instruction::GotoTable(4),
            ];
            if v <= Version::Of14 {
                i.insert(0, Instruction::Meter(5));
            }
            i
        };
        let got = ofp_print(&Message::FlowMod(fm).encode(v, 9));
        let first = got.lines().next().unwrap_or("");
        let m = if v == Version::Of10 {
            "tcp,in_port=7,dl_src=02:00:00:00:00:01,nw_src=198.18.0.0/16,tp_dst=443".to_string()
        } else {
            "ct_state=new|trk,tcp,reg0=0x5/0xff,tun_id=0x63,metadata=0x10/0xf0,in_port=7,\
             dl_src=02:00:00:00:00:01,nw_src=198.18.0.0/16,tp_dst=443"
                .to_string()
        };
        let acts = if v == Version::Of10 {
            "actions=output:1".to_string()
        } else {
            format!(
                "actions={}output:1,clear_actions,write_actions(group:2),write_metadata:0x1/0x3,goto_table:4",
                if v <= Version::Of14 { "meter:5," } else { "" }
            )
        };
        let imp = if v >= Version::Of14 {
            " importance:9"
        } else {
            ""
        };
        let table = if v == Version::Of10 { "" } else { " table:2" };
        let want = format!(
            "OFPT_FLOW_MOD{} (xid=0x9): ADD{table} priority=300,{m} cookie:0xdeadbeef idle:10 hard:20 \
             send_flow_rem check_overlap{imp} {acts}",
            tag(v)
        );
        // OVS's own layout of the line differs slightly between versions
        // (cookie mask, out_group); compare the parts that carry meaning.
        for part in want.split(' ') {
            let part = part.trim_end_matches(':');
            assert!(
                first.contains(part),
                "{v:?}: missing `{part}` in\n{first}\nwanted like\n{want}"
            );
        }
    }
}

/// The name ovs-ofctl gives a message, or None when OVS 3.1 does not
/// accept it in this version (unknown vendors, NX stats outside 1.0...).
fn ovs_name(m: &Message, v: Version) -> Option<String> {
    use multipart::{MpReply as R, MpRequest as Q};
    let v10 = v == Version::Of10;
    let stat = |t: u16| -> Option<&'static str> {
        Some(match t {
            0 => "DESC",
            1 => "FLOW",
            2 => "AGGREGATE",
            3 => "TABLE",
            4 => "PORT",
            5 => "QUEUE",
            6 => "GROUP",
            7 => "GROUP_DESC",
            8 => "GROUP_FEATURES",
            9 => "METER",
            10 => "METER_CONFIG",
            11 => "METER_FEATURES",
            12 => "TABLE_FEATURES",
            13 => "PORT_DESC",
            _ => return None,
        })
    };
    Some(match m {
        Message::Hello(_) => "OFPT_HELLO".into(),
        Message::Error(_) => "OFPT_ERROR".into(),
        Message::EchoRequest(_) => "OFPT_ECHO_REQUEST".into(),
        Message::EchoReply(_) => "OFPT_ECHO_REPLY".into(),
        Message::FeaturesRequest => "OFPT_FEATURES_REQUEST".into(),
        Message::FeaturesReply(_) => "OFPT_FEATURES_REPLY".into(),
        Message::GetConfigRequest => "OFPT_GET_CONFIG_REQUEST".into(),
        Message::GetConfigReply(_) => "OFPT_GET_CONFIG_REPLY".into(),
        Message::SetConfig(_) => "OFPT_SET_CONFIG".into(),
        Message::PacketIn(_) => "OFPT_PACKET_IN".into(),
        Message::FlowRemoved(_) => "OFPT_FLOW_REMOVED".into(),
        Message::PortStatus(_) => "OFPT_PORT_STATUS".into(),
        Message::PacketOut(_) => "OFPT_PACKET_OUT".into(),
        Message::PortMod(_) => "OFPT_PORT_MOD".into(),
        Message::GroupMod(_) => "OFPT_GROUP_MOD".into(),
        Message::TableMod(_) => "OFPT_TABLE_MOD".into(),
        Message::BarrierRequest => "OFPT_BARRIER_REQUEST".into(),
        Message::BarrierReply => "OFPT_BARRIER_REPLY".into(),
        Message::RoleRequest(_) => "OFPT_ROLE_REQUEST".into(),
        Message::RoleReply(_) => "OFPT_ROLE_REPLY".into(),
        Message::GetAsyncRequest => "OFPT_GET_ASYNC_REQUEST".into(),
        Message::GetAsyncReply(_) => "OFPT_GET_ASYNC_REPLY".into(),
        Message::SetAsync(_) => "OFPT_SET_ASYNC".into(),
        Message::MeterMod(_) => "OFPT_METER_MOD".into(),
        Message::BundleControl(_) => "OFPT_BUNDLE_CONTROL".into(),
        Message::BundleAdd(_) => "OFPT_BUNDLE_ADD_MESSAGE".into(),
        Message::MultipartRequest(r) => match &r.body {
            Q::NxFlow(_) if v10 => "NXST_FLOW request".into(),
            Q::NxAggregate(_) if v10 => "NXST_AGGREGATE request".into(),
            Q::NxFlowMonitor(_) if v10 => "NXST_FLOW_MONITOR request".into(),
            Q::TableFeatures(t) if !t.is_empty() => return None, // OVS insists on every property
            _ => format!("OFPST_{} request", stat(r.type_())?),
        },
        Message::MultipartReply(r) => match &r.body {
            R::NxFlow(_) if v10 => "NXST_FLOW reply".into(),
            R::NxAggregate(_) if v10 => "NXST_AGGREGATE reply".into(),
            R::NxFlowMonitor(_) if v10 => "NXST_FLOW_MONITOR reply".into(),
            R::TableFeatures(_) => return None,
            _ => format!("OFPST_{} reply", stat(r.type_())?),
        },
        Message::Nx(nx) => {
            let s = nx.subtype();
            let name = match s {
                10 => "NXT_ROLE_REQUEST",
                11 => "NXT_ROLE_REPLY",
                12 if v10 => "NXT_SET_FLOW_FORMAT",
                13 => "NXT_FLOW_MOD",
                14 => "NXT_FLOW_REMOVED",
                15 => "NXT_FLOW_MOD_TABLE_ID",
                16 => "NXT_SET_PACKET_IN_FORMAT",
                17 => "NXT_PACKET_IN",
                18 => "NXT_FLOW_AGE",
                19 => "NXT_SET_ASYNC_CONFIG",
                20 => "NXT_SET_CONTROLLER_ID",
                21 if v10 => "NXT_FLOW_MONITOR_CANCEL",
                22 if v10 => "NXT_FLOW_MONITOR_PAUSED",
                23 if v10 => "NXT_FLOW_MONITOR_RESUMED",
                24 => "NXT_TLV_TABLE_MOD",
                25 => "NXT_TLV_TABLE_REQUEST",
                26 => "NXT_TLV_TABLE_REPLY",
                27 if v <= Version::Of13 => "NXT_SET_ASYNC_CONFIG2",
                28 => "NXT_RESUME",
                29 => "NXT_CT_FLUSH_ZONE",
                30 => "NXT_PACKET_IN2",
                _ => return None,
            };
            name.into()
        }
        // Our sample flow-mod carries actions OVS refuses (debug actions,
        // PBB...); flow-mods are checked action by action above.
        Message::FlowMod(_) | Message::Experimenter(_) | Message::Other { .. } => return None,
    })
}

#[test]
fn ovs_decodes_every_message_ferrovs_encodes() {
    let mut checked = 0;
    for v in ALL {
        for m in messages(v) {
            if let Message::Nx(NxMessage::FlowMod(_)) = &m {
                continue; // same sample actions as above
            }
            let Some(name) = ovs_name(&m, v) else {
                continue;
            };
            // A bundled message must carry the bundle-add's own xid.
            let xid = if matches!(m, Message::BundleAdd(_)) {
                0x1234_5678
            } else {
                0x42
            };
            let got = ofp_print(&m.encode(v, xid));
            let first = got.lines().next().unwrap_or("");
            let want = format!("{name}{} (xid={xid:#x}):", tag(v));
            assert!(
                first.starts_with(&want),
                "{v:?} {m:?}\nwanted `{want}`, ovs-ofctl printed:\n{got}"
            );
            assert!(!got.contains("decode error"), "{v:?} {m:?}\n{got}");
            checked += 1;
        }
    }
    assert!(checked > 180, "{checked}");
}

#[test]
fn ovs_reads_key_facts() {
    let v = Version::Of13;
    let m = Message::PacketOut(PacketOut {
        buffer_id: u32::MAX,
        in_port: 3,
        r#match: Match::new(),
        actions: vec![Action::Output {
            port: OFPP_NORMAL,
            max_len: 0,
        }],
        data: vec![0; 60],
    });
    let got = ofp_print(&m.encode(v, 5));
    assert!(
        got.contains("in_port=3 actions=NORMAL data_len=60"),
        "{got}"
    );
    let g = Message::GroupMod(GroupMod {
        command: 0,
        type_: 1,
        group_id: 5,
        command_bucket_id: u32::MAX,
        buckets: vec![Bucket {
            bucket_id: u32::MAX,
            weight: 10,
            watch_port: OFPP_NONE,
            watch_group: u32::MAX,
            actions: vec![Action::Output {
                port: 1,
                max_len: 0,
            }],
        }],
        props: vec![],
    });
    let got = ofp_print(&g.encode(v, 6));
    assert!(
        got.contains("ADD group_id=5,type=select,bucket=weight:10,actions=output:1"),
        "{got}"
    );
    let mm = Message::MeterMod(MeterMod {
        command: 0,
        flags: 1 | 4,
        meter_id: 7,
        bands: vec![MeterBand {
            type_: 1,
            rate: 1000,
            burst_size: 50,
            prec_level: 0,
            experimenter: 0,
        }],
    });
    let got = ofp_print(&mm.encode(v, 7));
    assert!(
        got.contains("ADD meter=7 kbps burst bands=\ntype=drop rate=1000 burst_size=50"),
        "{got}"
    );
    let e = Message::Error(ErrorMsg {
        error: ErrorCode::OfpbmcBadPrereq.to_wire(v).unwrap(),
        data: Message::BarrierRequest.encode(v, 8),
    });
    let got = ofp_print(&e.encode(v, 8));
    assert!(got.contains("OFPBMC_BAD_PREREQ"), "{got}");
    let e10 = Message::Error(ErrorMsg {
        error: ErrorCode::OfpbmcBadPrereq.to_wire_or_fallback(Version::Of10),
        data: vec![],
    });
    let got = ofp_print(&e10.encode(Version::Of10, 8));
    assert!(got.contains("OFPT_ERROR (xid=0x8)"), "{got}");
}

/// Differences owned by the text side (branch oftext) at the time of the
/// merge, reported to it: `output:SRC[]` printed as `output(src=..,max_len=0)`,
/// and an exact `ct_state` printed bit by bit.  Constructs the text bridge
/// cannot convert yet (tun_metadata subfields, delete_field, encap/decap)
/// are also counted as gaps.  Everything else must print identically.
const KNOWN_TEXT_GAPS: &[&str] = &[
    "actions=output:NXM_NX_REG1[0..15]",
    "ct_state=new|trk,tcp,reg0",
];

/// With the text side (`ferrovs_openflow::text`): the match and actions
/// ferrovs prints for the bytes it decoded equal what ovs-ofctl prints for
/// the same bytes.
#[test]
fn ferrovs_printer_agrees_with_ovs() {
    use ferrovs_openflow::text::action::format_actions;
    use ferrovs_openflow::text::wire;
    let (mut checked, mut agree) = (0, 0);
    let (mut differ, mut gaps) = (Vec::new(), Vec::new());
    for v in ALL {
        let mut flows: Vec<(Match, Vec<Instruction>)> = cases(v)
            .into_iter()
            .map(|(a, ctx, _)| (ctx_match(ctx), vec![Instruction::ApplyActions(vec![a])]))
            .collect();
        flows.push((
            sample_match(v),
            vec![Instruction::ApplyActions(vec![Action::Output {
                port: 1,
                max_len: 0,
            }])],
        ));
        if v != Version::Of10 {
            // Issue 17: encap with NSH properties, decap with a packet
            // type, set_field on the 16-bit NXM in_port.
            use ferrovs_openflow::action::ed_prop::EdProp;
            let mut props = Vec::new();
            for p in [
                EdProp::NshMdType(2),
                EdProp::NshTlv {
                    class: 0x1000,
                    ty: 10,
                    value: vec![0, 0x12, 0x34],
                },
            ] {
                p.encode(&mut props);
            }
            let mut ip = Match::new();
            ip.set_exact(Field::EthType, Value::from_u16(0x0800));
            for a in [
                Action::Encap {
                    packet_type: 0x1_894f,
                    props,
                },
                Action::Encap {
                    packet_type: 0,
                    props: vec![],
                },
                Action::Decap {
                    packet_type: 0x1_0800,
                },
                Action::SetField {
                    field: Field::InPort,
                    value: Value::from_u16(5),
                    mask: None,
                },
            ] {
                flows.push((ip.clone(), vec![Instruction::ApplyActions(vec![a])]));
            }
        }
        for (m, insts) in flows {
            let fm = FlowMod {
                r#match: m,
                instructions: insts,
                priority: 300,
                ..FlowMod::default()
            };
            let msg = if v == Version::Of10 {
                Message::Nx(NxMessage::FlowMod(fm))
            } else {
                Message::FlowMod(fm)
            };
            let bytes = msg.encode(v, 1);
            let ovs = ofp_print(&bytes);
            let ovs = ovs.lines().next().unwrap_or("");
            let ovs = ovs.split_once(": ADD ").map(|x| x.1).unwrap_or(ovs);
            let fm = match Message::decode(&bytes).unwrap().1 {
                Message::FlowMod(f) | Message::Nx(NxMessage::FlowMod(f)) => f,
                other => panic!("{other:?}"),
            };
            let text = wire::match_from_wire(&fm.r#match).and_then(|tm| {
                let acts = if v == Version::Of10 {
                    wire::actions_from_wire(&Instruction::flat_actions(&fm.instructions), false)
                } else {
                    wire::instructions_from_wire(&fm.instructions)
                }?;
                Ok(format!(
                    "{} actions={}",
                    tm.format(Some(fm.priority)),
                    format_actions(&acts)
                ))
            });
            let mine = text.unwrap_or_else(|e| format!("(text side: {e})"));
            if mine != ovs {
                let line = format!("{v:?}\n  ovs:     {ovs}\n  ferrovs: {mine}");
                if mine.starts_with("(text side:")
                    || KNOWN_TEXT_GAPS.iter().any(|k| ovs.contains(k))
                {
                    gaps.push(line);
                } else {
                    differ.push(line);
                }
            } else {
                agree += 1;
            }
            checked += 1;
        }
    }
    eprintln!(
        "{agree} of {checked} agree; known text-side gaps ({}):\n{}",
        gaps.len(),
        gaps.join("\n")
    );
    assert!(checked > 220, "{checked}");
    assert!(agree >= 210, "{agree}");
    assert!(
        differ.is_empty(),
        "{} of {checked} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// `NXM_NX_COOKIE(_W)` in Nicira flow-mods and flow stats requests: each
/// hand-built message gets the same verdict from `ovs-ofctl ofp-print` and
/// from ferrovs's decoder (decoded, or the same error), and a decoded one
/// re-encodes to the same bytes.
#[test]
fn nxm_cookie_entries_as_ovs() {
    let cookie = |v: u64| [&[0x00, 0x01, 0x3c, 0x08][..], &v.to_be_bytes()].concat();
    let cookie_w = |v: u64, m: u64| {
        [
            &[0x00, 0x01, 0x3d, 0x10][..],
            &v.to_be_bytes(),
            &m.to_be_bytes(),
        ]
        .concat()
    };
    let eth_ip = [0x00, 0x00, 0x06, 0x02, 0x08, 0x00];
    let mpls_ttl = [0x00, 0x01, 0x3c, 0x01, 0x40];
    // NX flow-mod (OF1.0): header, NX header, body with `match_len`, match.
    let nx_flow_mod = |command: u16, m: &[u8]| {
        let mut b = vec![0x01, 0x04, 0, 0, 0, 0, 0, 9, 0, 0, 0x23, 0x20, 0, 0, 0, 13];
        b.extend_from_slice(&0x77u64.to_be_bytes());
        b.extend_from_slice(&command.to_be_bytes());
        b.extend_from_slice(&[
            0, 0, 0, 0, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
        ]);
        b.extend_from_slice(&(m.len() as u16).to_be_bytes());
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(m);
        b.resize(b.len().div_ceil(8) * 8, 0);
        let n = b.len() as u16;
        b[2..4].copy_from_slice(&n.to_be_bytes());
        b
    };
    // NXST_FLOW request (OF1.0 vendor stats).
    let nx_flow_stats = |m: &[u8]| {
        let mut b = vec![
            0x01, 0x10, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0, 0, 0, 0, 0x23, 0x20,
        ];
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0xff, 0xff]);
        b.extend_from_slice(&(m.len() as u16).to_be_bytes());
        b.extend_from_slice(&[0xff, 0, 0, 0]);
        b.extend_from_slice(m);
        b.resize(b.len().div_ceil(8) * 8, 0);
        let n = b.len() as u16;
        b[2..4].copy_from_slice(&n.to_be_bytes());
        b
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("modify, exact cookie", nx_flow_mod(1, &cookie(5))),
        (
            "delete strict, masked cookie after ip",
            nx_flow_mod(4, &[&eth_ip[..], &cookie_w(4, 4)].concat()),
        ),
        ("add with a cookie match", nx_flow_mod(0, &cookie(5))),
        (
            "two cookies",
            nx_flow_mod(3, &[cookie(5), cookie(6)].concat()),
        ),
        (
            "cookie bit outside its mask",
            nx_flow_mod(3, &cookie_w(5, 4)),
        ),
        (
            "mpls_ttl (same class and field)",
            nx_flow_mod(
                3,
                &[&[0, 0, 0x06, 0x02, 0x88, 0x47][..], &mpls_ttl[..]].concat(),
            ),
        ),
        ("stats: exact cookie", nx_flow_stats(&cookie(5))),
        (
            "stats: ip and masked cookie",
            nx_flow_stats(&[&eth_ip[..], &cookie_w(0x10, 0xf0)].concat()),
        ),
        (
            "stats: two cookies",
            nx_flow_stats(&[cookie_w(1, 1), cookie(2)].concat()),
        ),
    ];
    let mut bad = Vec::new();
    for (name, bytes) in &cases {
        let ovs = ofp_print(bytes);
        let first = ovs.lines().next().unwrap_or("").to_string();
        let ovs_err = first
            .split_once("decode error: ")
            .map(|(_, e)| e.trim_end_matches('*').to_string())
            .or_else(|| {
                ovs.contains("***decode error").then(|| {
                    let at = ovs.find("decode error: ").unwrap() + 14;
                    ovs[at..].split('*').next().unwrap().to_string()
                })
            });
        let ours = Message::decode(bytes);
        match (&ours, &ovs_err) {
            (Ok((h, m)), None) => {
                let v = Version::from_wire(h.version).unwrap();
                if m.encode(v, h.xid) != *bytes {
                    bad.push(format!("{name}: re-encoding differs"));
                }
            }
            (Err(e), Some(o)) if e.code.name() == o => {}
            _ => bad.push(format!(
                "{name}: OVS {:?} ({first}), ferrovs {:?}",
                ovs_err,
                ours.as_ref().map(|x| &x.1).map_err(|e| e.code)
            )),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
