//! Sample Reprs shared by the integration tests: one of every message,
//! action and instruction for each version, and the round-trip check.
#![allow(dead_code)]

use ferrovs_openflow::action::{
    Bundle, Controller, Ct, CtZone, Learn, Learn2, LearnDst, LearnSpec, LearnSrc, Multipath, Nat,
    NatRange, Sample, Subfield,
};
use ferrovs_openflow::message::basic::{
    AsyncConfig, BundleAdd, BundleControl, ErrorMsg, Experimenter, Role,
};
use ferrovs_openflow::message::multipart::*;
use ferrovs_openflow::message::nicira::{
    FlowMonitorRequest, FlowUpdate, NxFlowRemoved, NxPacketIn, PacketIn2, TlvMap,
};
use ferrovs_openflow::message::table_features::{OxmId, TableFeatureProp, TfpValue};
use ferrovs_openflow::message::*;
use ferrovs_openflow::port::*;
use ferrovs_openflow::*;

pub const ALL: [Version; 4] = [Version::Of10, Version::Of13, Version::Of14, Version::Of15];

pub fn rt(v: Version, m: &Message) {
    let b = m.encode(v, 0x1234_5678);
    let (h, d) = Message::decode(&b).unwrap_or_else(|e| panic!("{v:?} {m:?}: {e}"));
    assert_eq!(h.length as usize, b.len());
    assert_eq!(h.xid, 0x1234_5678);
    assert_eq!(&d, m, "{v:?}: Repr differs after round trip");
    assert_eq!(
        hex::encode(d.encode(v, 0x1234_5678)),
        hex::encode(&b),
        "{v:?} {m:?}: bytes differ"
    );
}

pub fn sf(f: Field, ofs: u16, n: u16) -> Subfield {
    Subfield {
        field: f,
        ofs,
        n_bits: n,
    }
}

pub fn sample_match(v: Version) -> Match {
    let mut m = Match::new();
    m.set_exact(Field::InPort, Value::from_u16(7));
    m.set_exact(Field::EthSrc, Value::from_slice(&[2, 0, 0, 0, 0, 1]));
    m.set_exact(Field::EthType, Value::from_u16(0x0800));
    m.set(
        Field::IpSrc,
        Value::from_u32(0xc612_0000),
        Some(Value::from_u32(0xffff_0000)),
    );
    m.set_exact(Field::NwProto, Value::from_u8(6));
    m.set_exact(Field::TcpDst, Value::from_u16(443));
    if v != Version::Of10 {
        m.set(Field::Reg0, Value::from_u32(5), Some(Value::from_u32(0xff)));
        m.set_exact(Field::CtState, Value::from_u32(0x21));
        m.set(
            Field::Metadata,
            Value::from_u64(0x10),
            Some(Value::from_u64(0xf0)),
        );
        m.set_exact(Field::TunId, Value::from_u64(99));
    }
    m
}

/// Actions that exist natively (round-trip byte exact) in `v`.
pub fn actions(v: Version) -> Vec<Action> {
    let mut a = vec![
        Action::Output {
            port: 3,
            max_len: 0,
        },
        Action::Output {
            port: OFPP_CONTROLLER,
            max_len: 128,
        },
        Action::PopVlan,
        Action::SetQueue(4),
        Action::Group(9),
        Action::DecTtl,
        Action::SetMplsTtl(9),
        Action::DecMplsTtl,
        Action::PushMpls(0x8847),
        Action::PopMpls(0x0800),
        Action::SetField {
            field: Field::EthDst,
            value: Value::from_slice(&[2, 0, 0, 0, 0, 9]),
            mask: None,
        },
        Action::SetField {
            field: Field::Reg5,
            value: Value::from_u32(77),
            mask: None,
        },
        Action::SetField {
            field: Field::TunDst,
            value: Value::from_u32(0xc612_0101),
            mask: None,
        },
        Action::Move {
            src: Subfield::whole(Field::EthSrc),
            dst: Subfield::whole(Field::EthDst),
        },
        Action::Move {
            src: sf(Field::Reg0, 0, 16),
            dst: sf(Field::TunId, 16, 16),
        },
        Action::Resubmit {
            in_port: OFPP_IN_PORT,
            table: 0xff,
            ct: false,
        },
        Action::Resubmit {
            in_port: 5,
            table: 0xff,
            ct: false,
        },
        Action::Resubmit {
            in_port: OFPP_IN_PORT,
            table: 3,
            ct: false,
        },
        Action::Resubmit {
            in_port: OFPP_IN_PORT,
            table: 4,
            ct: true,
        },
        Action::SetTunnel(0x55),
        Action::SetTunnel64(0x1_0000_0000),
        Action::Note(vec![1, 2, 3, 4, 5, 6]),
        Action::Note(vec![0xab; 14]),
        Action::Multipath(Multipath {
            fields: 1,
            basis: 50,
            algorithm: 2,
            max_link: 3,
            arg: 0,
            dst: sf(Field::Reg0, 0, 2),
        }),
        Action::Bundle(Bundle {
            algorithm: 1,
            fields: 0,
            basis: 0,
            members: vec![1, 2, 3],
            dst: None,
        }),
        Action::Bundle(Bundle {
            algorithm: 0,
            fields: 1,
            basis: 7,
            members: vec![4, 5],
            dst: Some(sf(Field::Reg2, 0, 16)),
        }),
        Action::OutputReg {
            src: sf(Field::Reg1, 0, 16),
            max_len: 0,
        },
        Action::OutputReg {
            src: sf(Field::TunMetadata0, 0, 16),
            max_len: 64,
        },
        Action::OutputTrunc {
            port: 2,
            max_len: 100,
        },
        Action::Learn(Learn {
            idle_timeout: 10,
            hard_timeout: 20,
            priority: 100,
            cookie: 0x55,
            flags: 1,
            table_id: 10,
            fin_idle_timeout: 0,
            fin_hard_timeout: 0,
            specs: vec![
                LearnSpec {
                    n_bits: 12,
                    src: LearnSrc::Field(sf(Field::VlanTci, 0, 12)),
                    dst: LearnDst::Match(sf(Field::VlanTci, 0, 12)),
                },
                LearnSpec {
                    n_bits: 48,
                    src: LearnSrc::Field(Subfield::whole(Field::EthSrc)),
                    dst: LearnDst::Match(Subfield::whole(Field::EthDst)),
                },
                LearnSpec {
                    n_bits: 16,
                    src: LearnSrc::Immediate(vec![0, 5]),
                    dst: LearnDst::Load(sf(Field::Reg0, 0, 16)),
                },
                LearnSpec {
                    n_bits: 16,
                    src: LearnSrc::Field(sf(Field::InPort, 0, 16)),
                    dst: LearnDst::Output,
                },
            ],
            learn2: None,
        }),
        Action::Learn(Learn {
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0,
            cookie: 0,
            flags: 4,
            table_id: 1,
            fin_idle_timeout: 5,
            fin_hard_timeout: 6,
            specs: vec![
                LearnSpec {
                    n_bits: 16,
                    src: LearnSrc::Immediate(vec![8, 0]),
                    dst: LearnDst::Match(Subfield::whole(Field::EthType)),
                },
                LearnSpec {
                    n_bits: 32,
                    src: LearnSrc::Field(Subfield::whole(Field::IpSrc)),
                    dst: LearnDst::Match(Subfield::whole(Field::IpDst)),
                },
            ],
            learn2: Some(Learn2 {
                limit: 10,
                result_dst: Some(sf(Field::Reg3, 5, 1)),
            }),
        }),
        Action::Exit,
        Action::FinTimeout { idle: 3, hard: 4 },
        Action::Controller(Controller {
            max_len: 65535,
            controller_id: 0,
            reason: 1,
            userdata: vec![],
            pause: false,
            meter_id: None,
            v2: false,
        }),
        Action::Controller(Controller {
            max_len: 200,
            controller_id: 3,
            reason: 0,
            userdata: vec![1, 2, 3],
            pause: true,
            meter_id: Some(5),
            v2: true,
        }),
        Action::DecTtlCntIds(vec![1, 2, 3]),
        Action::WriteMetadata {
            metadata: 1,
            mask: 0xff,
        },
        Action::StackPush(sf(Field::Reg0, 0, 32)),
        Action::StackPop(sf(Field::Reg1, 8, 8)),
        Action::Sample(Sample {
            probability: 100,
            collector_set_id: 1,
            obs_domain_id: 2,
            obs_point_id: 3,
            sampling_port: OFPP_NONE,
            direction: 0,
            variant: 0,
        }),
        Action::Sample(Sample {
            probability: 65535,
            collector_set_id: 1,
            obs_domain_id: 2,
            obs_point_id: 3,
            sampling_port: 7,
            direction: 0,
            variant: 1,
        }),
        Action::Sample(Sample {
            probability: 1,
            collector_set_id: 0,
            obs_domain_id: 0,
            obs_point_id: 0,
            sampling_port: OFPP_NONE,
            direction: 2,
            variant: 2,
        }),
        Action::Conjunction {
            id: 10,
            clause: 1,
            n_clauses: 2,
        },
        Action::Ct(Ct {
            flags: Ct::F_COMMIT,
            zone: CtZone::Imm(5),
            recirc_table: Ct::RECIRC_NONE,
            alg: 21,
            actions: vec![
                Action::Nat(Nat {
                    flags: Nat::F_SRC | Nat::F_PERSISTENT,
                    range: NatRange {
                        ipv4_min: Some([198, 18, 0, 1]),
                        ipv4_max: Some([198, 18, 0, 9]),
                        proto_min: Some(1000),
                        proto_max: Some(2000),
                        ..NatRange::default()
                    },
                }),
                Action::SetField {
                    field: Field::CtMark,
                    value: Value::from_u32(1),
                    mask: None,
                },
            ],
        }),
        Action::Ct(Ct {
            flags: 0,
            zone: CtZone::Field(sf(Field::Reg6, 0, 16)),
            recirc_table: 4,
            alg: 0,
            actions: vec![Action::Nat(Nat::default())],
        }),
        Action::Nat(Nat {
            flags: Nat::F_DST,
            range: NatRange {
                ipv6_min: Some([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                ..NatRange::default()
            },
        }),
        Action::CtClear,
        Action::Clone(vec![
            Action::SetTunnel64(1),
            Action::Output {
                port: 1,
                max_len: 0,
            },
        ]),
        Action::CheckPktLarger {
            pkt_len: 1500,
            dst: sf(Field::Reg0, 3, 1),
        },
        Action::DeleteField(Field::TunMetadata3),
        Action::DebugRecirc,
        Action::DebugSlow,
        Action::PopQueue,
        Action::Experimenter {
            experimenter: 0x00aa_bbcc,
            body: vec![0; 8],
        },
    ];
    if v <= Version::Of14 {
        // NXAST_REG_LOAD: OVS knows it in 1.0-1.4 (1.5 uses set_field).
        a.extend([
            Action::RegLoad {
                dst: sf(Field::Reg1, 0, 16),
                value: 0xbeef,
            },
            Action::RegLoad {
                dst: Subfield::whole(Field::TunId),
                value: 0x1234_5678_9abc,
            },
        ]);
    }
    if v != Version::Of10 {
        // NX1.3+ only (encap/decap of NSH).
        a.extend([
            Action::Encap {
                packet_type: 0x1_894f,
                props: vec![],
            },
            Action::Decap {
                packet_type: 0xffff_fffe,
            },
            Action::DecNshTtl,
        ]);
    }
    if v == Version::Of10 {
        a.extend([
            Action::Enqueue { port: 1, queue: 2 },
            Action::SetVlanVid(10),
            Action::SetVlanPcp(3),
            Action::SetDlSrc([2, 0, 0, 0, 0, 3]),
            Action::SetDlDst([2, 0, 0, 0, 0, 4]),
            Action::SetNwSrc(0xc612_0001),
            Action::SetNwDst(0xc612_0002),
            Action::SetNwTos(0x20),
            Action::SetTpSrc(1),
            Action::SetTpDst(2),
            Action::SetMplsLabel(100),
            Action::SetMplsTc(3),
        ]);
    } else {
        a.extend([
            Action::PushVlan(0x8100),
            Action::CopyTtlOut,
            Action::CopyTtlIn,
            Action::SetNwTtl(9),
            Action::PushPbb(0x88e7),
            Action::PopPbb,
        ]);
    }
    if v >= Version::Of15 {
        a.push(Action::Meter(3));
        a.push(Action::SetField {
            field: Field::Reg1,
            value: Value::from_u32(0x10),
            mask: Some(Value::from_u32(0xf0)),
        });
    }
    a
}

pub fn sample_value(f: Field) -> (Value, Option<Value>) {
    let info = f.info();
    let w = if info.variable {
        4
    } else {
        info.width as usize
    };
    let mut v = Value::zeroed(w);
    v.as_mut_bytes()[w - 1] = 1;
    let mask = info.maskable.then(|| {
        let mut m = Value::zeroed(w);
        m.as_mut_bytes()[w - 1] = 0x0f;
        m
    });
    (v, mask)
}

/// [`actions`] as a flow's action list OVS accepts (`ofpacts_verify`):
/// no conjunction among other actions, `nat` only inside `ct`, and the
/// `write_metadata` action last (in 1.1+ the instruction carries it).
pub fn flow_actions(v: Version) -> Vec<Action> {
    let mut acts: Vec<Action> = actions(v)
        .into_iter()
        .filter(|a| {
            !matches!(
                a,
                Action::Conjunction { .. } | Action::Nat(_) | Action::WriteMetadata { .. }
            )
        })
        .collect();
    if v == Version::Of10 {
        acts.push(Action::WriteMetadata {
            metadata: 1,
            mask: 0xff,
        });
    }
    acts
}

pub fn flow_mod(v: Version) -> FlowMod {
    let acts = flow_actions(v);
    let mut instructions = vec![Instruction::ApplyActions(acts)];
    if v != Version::Of10 {
        instructions.insert(
            0,
            Instruction::WriteMetadata {
                metadata: 1,
                mask: 3,
            },
        );
        instructions.push(Instruction::ClearActions);
        instructions.push(Instruction::WriteActions(vec![Action::Output {
            port: 1,
            max_len: 0,
        }]));
        if v <= Version::Of14 {
            instructions.insert(0, Instruction::Meter(5));
        }
        instructions.push(Instruction::GotoTable(4));
    }
    FlowMod {
        cookie: 0xdead_beef,
        cookie_mask: if v == Version::Of10 { 0 } else { 0xffff },
        match_cookie: 0,
        table_id: 2,
        command: FlowModCommand::ModifyStrict,
        idle_timeout: 10,
        hard_timeout: 20,
        priority: 300,
        buffer_id: u32::MAX,
        out_port: OFPP_NONE,
        out_group: if v == Version::Of10 { u32::MAX } else { 7 },
        flags: FlowMod::F_SEND_FLOW_REM | FlowMod::F_CHECK_OVERLAP,
        importance: if v >= Version::Of14 { 9 } else { 0 },
        r#match: sample_match(v),
        instructions,
    }
}

pub fn port(v: Version) -> Port {
    let mut p = Port {
        port_no: 3,
        hw_addr: [2, 0, 0, 0, 0, 3],
        config: 1,
        state: 4,
        curr: 0x820,
        advertised: 0x20,
        supported: 0x820,
        peer: 0,
        ..Port::default()
    };
    p.set_name("veth0");
    if v != Version::Of10 {
        p.curr_speed = 10_000_000;
        p.max_speed = 10_000_000;
    }
    p
}

pub fn table_features() -> Vec<table_features::TableFeatures> {
    let mut name = [0u8; 32];
    name[..7].copy_from_slice(b"table_0");
    vec![table_features::TableFeatures {
        table_id: 0,
        command: 0,
        name,
        metadata_match: u64::MAX,
        metadata_write: u64::MAX,
        capabilities: 0,
        max_entries: 1_000_000,
        props: vec![
            TableFeatureProp {
                type_: 0,
                value: TfpValue::Ids(vec![1, 2, 3, 4, 5, 6]),
            },
            TableFeatureProp {
                type_: 2,
                value: TfpValue::Tables(vec![1, 2, 3]),
            },
            TableFeatureProp {
                type_: 4,
                value: TfpValue::Ids(vec![0, 17, 25]),
            },
            TableFeatureProp {
                type_: 8,
                value: TfpValue::Oxm(vec![
                    OxmId {
                        header: 0x8000_0004,
                        experimenter: None,
                    },
                    OxmId {
                        header: 0xffff_5408,
                        experimenter: Some(0x4f4e_4600),
                    },
                ]),
            },
            TableFeatureProp {
                type_: 0xfffe,
                value: TfpValue::Raw(vec![0, 0, 0x23, 0x20, 0, 0, 0, 1]),
            },
        ],
    }]
}

pub fn messages(v: Version) -> Vec<Message> {
    let v10 = v == Version::Of10;
    let fsr = FlowStatsRequest {
        table_id: 0xff,
        out_port: OFPP_NONE,
        out_group: u32::MAX,
        cookie: 0,
        cookie_mask: 0,
        r#match: if v10 {
            let mut m = Match::new();
            m.set_exact(Field::InPort, Value::from_u16(1));
            m
        } else {
            sample_match(v)
        },
    };
    let nx_fsr = FlowStatsRequest {
        r#match: sample_match(Version::Of13),
        ..FlowStatsRequest::default()
    };
    let fs = FlowStats {
        table_id: 1,
        duration_sec: 5,
        duration_nsec: 6,
        priority: 7,
        idle_timeout: 8,
        hard_timeout: 9,
        flags: if v10 { 0 } else { 1 },
        importance: if v >= Version::Of14 { 2 } else { 0 },
        idle_age: 0,
        hard_age: 0,
        cookie: 10,
        packet_count: 11,
        byte_count: 12,
        r#match: fsr.r#match.clone(),
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: 1,
            max_len: 0,
        }])],
    };
    let nx_fs = FlowStats {
        r#match: sample_match(Version::Of13),
        idle_age: 3,
        hard_age: 4,
        flags: 0,
        importance: 0,
        ..fs.clone()
    };
    let mut m = vec![
        Message::Hello(message::Hello::offering(&[
            Version::Of10,
            Version::Of13,
            Version::Of15,
        ])),
        Message::Hello(message::Hello::default()),
        Message::Error(ErrorMsg {
            error: ErrorCode::OfpbrcBadType.to_wire(v).unwrap(),
            data: vec![1, 2, 3, 4, 5, 6, 7, 8],
        }),
        Message::Error(ErrorMsg {
            error: ErrorCode::NxbrcNxmBadType.to_wire(v).unwrap(),
            data: vec![1, 0, 0, 8, 0, 0, 0, 1],
        }),
        Message::EchoRequest(vec![]),
        Message::EchoReply(b"hi".to_vec()),
        Message::Experimenter(Experimenter {
            experimenter: 0x00ab_cdef,
            exp_type: 5,
            data: vec![1, 2],
        }),
        Message::FeaturesRequest,
        Message::FeaturesReply(FeaturesReply {
            datapath_id: 0x0000_0242_ac11_0002,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0xc7,
            actions: if v10 { 0xfff } else { 0 },
            ports: if v10 { vec![port(v)] } else { vec![] },
        }),
        Message::GetConfigRequest,
        Message::GetConfigReply(SwitchConfig {
            flags: 0,
            miss_send_len: 128,
        }),
        Message::SetConfig(SwitchConfig {
            flags: 1,
            miss_send_len: 0xffff,
        }),
        Message::PacketIn(PacketIn {
            buffer_id: u32::MAX,
            total_len: 60,
            reason: 1,
            table_id: if v10 { 0 } else { 3 },
            cookie: if v10 { 0 } else { 0x99 },
            r#match: {
                let mut mm = Match::new();
                mm.set_exact(Field::InPort, Value::from_u16(2));
                if !v10 {
                    mm.set_exact(Field::Reg0, Value::from_u32(1));
                }
                mm
            },
            data: vec![0xff; 60],
        }),
        Message::FlowRemoved(FlowRemoved {
            cookie: 1,
            priority: 2,
            reason: 0,
            table_id: if v10 { 0 } else { 3 },
            duration_sec: 4,
            duration_nsec: 5,
            idle_timeout: 6,
            hard_timeout: if v10 { 0 } else { 7 },
            packet_count: 8,
            byte_count: 9,
            r#match: fsr.r#match.clone(),
        }),
        Message::PortStatus(PortStatus {
            reason: 2,
            port: port(v),
        }),
        Message::PacketOut(PacketOut {
            buffer_id: u32::MAX,
            in_port: OFPP_CONTROLLER,
            r#match: if v == Version::Of15 {
                let mut mm = Match::new();
                mm.set_exact(Field::InPort, Value::from_u16(OFPP_CONTROLLER));
                mm
            } else {
                Match::new()
            },
            actions: vec![Action::Output {
                port: OFPP_TABLE,
                max_len: 0,
            }],
            data: vec![1; 42],
        }),
        Message::FlowMod(flow_mod(v)),
        Message::PortMod(PortMod {
            port_no: 4,
            hw_addr: [2, 0, 0, 0, 0, 4],
            config: 1,
            mask: 1,
            advertise: 0x20,
            other_props: vec![],
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Desc,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Flow(fsr.clone()),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Aggregate(fsr.clone()),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Table,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::PortStats(OFPP_NONE),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Queue(1, u32::MAX),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::NxFlow(nx_fsr.clone()),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::NxAggregate(nx_fsr.clone()),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::NxFlowMonitor(vec![FlowMonitorRequest {
                id: 1,
                flags: 0x1f,
                out_port: OFPP_NONE,
                table_id: 0xff,
                r#match: sample_match(Version::Of13),
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::Desc(Desc {
                mfr_desc: "ferrovs".into(),
                hw_desc: "userspace".into(),
                sw_desc: "0.1".into(),
                serial_num: "None".into(),
                dp_desc: "br0".into(),
            }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 1,
            body: MpReply::Flow(vec![fs.clone(), fs.clone()]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::Aggregate(AggregateStats {
                packet_count: 1,
                byte_count: 2,
                flow_count: 3,
            }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::Table(vec![TableStats {
                table_id: 0,
                name: if v10 { [b'x'; 32] } else { [0; 32] },
                wildcards: if v10 { 0x3fffff } else { 0 },
                max_entries: if v10 { 1000 } else { 0 },
                active_count: 3,
                lookup_count: 4,
                matched_count: 5,
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::PortStats(vec![PortStats {
                port_no: 1,
                rx_packets: 1,
                tx_packets: 2,
                rx_bytes: 3,
                tx_bytes: 4,
                rx_dropped: 5,
                tx_dropped: 6,
                rx_errors: 7,
                tx_errors: 8,
                rx_frame_err: 9,
                rx_over_err: 10,
                rx_crc_err: 11,
                collisions: 12,
                duration_sec: if v10 { 0 } else { 13 },
                duration_nsec: if v10 { 0 } else { 14 },
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::Queue(vec![QueueStats {
                port_no: 1,
                queue_id: 2,
                tx_bytes: 3,
                tx_packets: 4,
                tx_errors: 5,
                duration_sec: if v10 { 0 } else { 6 },
                duration_nsec: if v10 { 0 } else { 7 },
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::NxFlow(vec![nx_fs.clone()]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::NxAggregate(AggregateStats {
                packet_count: 1,
                byte_count: 2,
                flow_count: 3,
            }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::NxFlowMonitor(vec![
                FlowUpdate::Full {
                    event: 0,
                    reason: 0,
                    priority: 5,
                    idle_timeout: 0,
                    hard_timeout: 0,
                    table_id: 1,
                    cookie: 2,
                    r#match: sample_match(Version::Of13),
                    actions: vec![Action::Output {
                        port: 1,
                        max_len: 0,
                    }],
                },
                FlowUpdate::Abbrev { xid: 77 },
            ]),
        }),
        Message::BarrierRequest,
        Message::BarrierReply,
    ];
    // Nicira messages (every version).
    let pin2 = PacketIn2 {
        packet: vec![0xaa; 20],
        full_len: Some(100),
        buffer_id: Some(u32::MAX),
        table_id: Some(3),
        cookie: Some(0x55),
        reason: Some(1),
        metadata: Some(sample_match(Version::Of13)),
        userdata: Some(vec![1, 2, 3]),
        // NXCPT_BRIDGE (0x8000): the bridge UUID, 16 bytes.
        continuation: Some({
            let mut c = vec![0x80, 0, 0, 20];
            c.extend_from_slice(&[0x11; 16]);
            c.extend_from_slice(&[0; 4]);
            c
        }),
        other: vec![],
    };
    for nx in [
        NxMessage::RoleRequest(1),
        NxMessage::RoleReply(2),
        NxMessage::SetFlowFormat(2),
        NxMessage::FlowMod(FlowMod {
            // A modify selecting by cookie (NXM_NX_COOKIE_W in the match).
            cookie_mask: 0xffff_0000,
            match_cookie: 0x1234_0000,
            out_group: u32::MAX,
            importance: 0,
            ..flow_mod(v)
        }),
        NxMessage::FlowRemoved(NxFlowRemoved {
            cookie: 1,
            priority: 2,
            reason: 3,
            table_id: 4,
            duration_sec: 5,
            duration_nsec: 6,
            idle_timeout: 7,
            packet_count: 8,
            byte_count: 9,
            r#match: sample_match(Version::Of13),
        }),
        NxMessage::FlowModTableId(true),
        NxMessage::SetPacketInFormat(2),
        NxMessage::PacketIn(NxPacketIn {
            buffer_id: u32::MAX,
            total_len: 10,
            reason: 1,
            table_id: 2,
            cookie: 3,
            r#match: sample_match(Version::Of13),
            data: vec![5; 10],
        }),
        NxMessage::FlowAge,
        NxMessage::SetAsyncConfig {
            packet_in: [1, 2],
            port_status: [3, 4],
            flow_removed: [5, 6],
        },
        NxMessage::SetControllerId(7),
        NxMessage::FlowMonitorCancel(3),
        NxMessage::FlowMonitorPaused,
        NxMessage::FlowMonitorResumed,
        NxMessage::TlvTableMod {
            command: 0,
            mappings: vec![TlvMap {
                option_class: 0xffff,
                option_type: 1,
                option_len: 4,
                index: 0,
            }],
        },
        NxMessage::TlvTableRequest,
        NxMessage::TlvTableReply {
            max_option_space: 256,
            max_fields: 64,
            mappings: vec![TlvMap {
                option_class: 0x0102,
                option_type: 0x80,
                option_len: 8,
                index: 3,
            }],
        },
        NxMessage::SetAsyncConfig2(vec![(0, 1), (1, 7)]),
        NxMessage::Resume(PacketIn2 {
            full_len: None,
            buffer_id: None,
            userdata: None,
            ..pin2.clone()
        }),
        NxMessage::CtFlushZone(5),
        NxMessage::PacketIn2(pin2),
        NxMessage::Other {
            subtype: 200,
            body: vec![1, 2, 3],
        },
    ] {
        m.push(Message::Nx(nx));
    }
    if v10 {
        return m;
    }
    let buckets = vec![
        Bucket {
            bucket_id: if v >= Version::Of15 { 0 } else { u32::MAX },
            weight: 10,
            watch_port: OFPP_NONE,
            watch_group: u32::MAX,
            actions: vec![Action::Output {
                port: 1,
                max_len: 0,
            }],
        },
        Bucket {
            bucket_id: if v >= Version::Of15 { 1 } else { u32::MAX },
            weight: 20,
            watch_port: 2,
            watch_group: 3,
            actions: vec![Action::SetField {
                field: Field::Reg0,
                value: Value::from_u32(1),
                mask: None,
            }],
        },
    ];
    let bands = vec![
        MeterBand {
            type_: 1,
            rate: 1000,
            burst_size: 100,
            prec_level: 0,
            experimenter: 0,
        },
        MeterBand {
            type_: 2,
            rate: 2000,
            burst_size: 0,
            prec_level: 1,
            experimenter: 0,
        },
    ];
    m.extend([
        Message::GroupMod(GroupMod {
            command: 0,
            type_: 1,
            group_id: 5,
            command_bucket_id: u32::MAX,
            buckets: buckets.clone(),
            props: vec![],
        }),
        Message::TableMod(TableMod {
            table_id: 0xff,
            config: 3,
            props: vec![],
        }),
        Message::RoleRequest(Role {
            role: 2,
            generation_id: 77,
        }),
        Message::RoleReply(Role {
            role: 2,
            generation_id: 77,
        }),
        Message::GetAsyncRequest,
        Message::GetAsyncReply(if v == Version::Of13 {
            AsyncConfig::Masks {
                packet_in: [7, 0],
                port_status: [7, 7],
                flow_removed: [15, 0],
            }
        } else {
            AsyncConfig::Props(vec![(0, 0), (1, 7), (2, 7), (3, 7), (4, 0), (5, 15)])
        }),
        Message::MeterMod(MeterMod {
            command: 0,
            flags: 1 | 4 | 8,
            meter_id: 1,
            bands: bands.clone(),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Group(1),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::GroupDesc(if v >= Version::Of15 { 4 } else { u32::MAX }),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::GroupFeatures,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Meter(u32::MAX),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::MeterConfig(1),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::MeterFeatures,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::TableFeatures(vec![]),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::TableFeatures(table_features()),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::PortDesc(if v >= Version::Of15 { 3 } else { OFPP_NONE }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::Group(vec![GroupStats {
                group_id: 1,
                ref_count: 2,
                packet_count: 3,
                byte_count: 4,
                duration_sec: 5,
                duration_nsec: 6,
                buckets: vec![(1, 2), (3, 4)],
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::GroupDesc(vec![GroupDesc {
                type_: 1,
                group_id: 5,
                buckets,
                props: vec![],
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::GroupFeatures(GroupFeatures {
                types: 15,
                capabilities: 7,
                max_groups: [1, 2, 3, 4],
                actions: [5, 6, 7, 8],
            }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::Meter(vec![MeterStats {
                meter_id: 1,
                flow_count: 2,
                packet_in_count: 3,
                byte_in_count: 4,
                duration_sec: 5,
                duration_nsec: 6,
                bands: vec![(7, 8)],
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::MeterConfig(vec![MeterConfig {
                flags: 1,
                meter_id: 1,
                bands,
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::MeterFeatures(MeterFeatures {
                max_meter: 100,
                band_types: 6,
                capabilities: 15,
                max_bands: 8,
                max_color: 0,
                features: 0,
            }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 1,
            body: MpReply::TableFeatures(table_features()),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::PortDesc(vec![port(v), port(v)]),
        }),
    ]);
    if v >= Version::Of14 {
        // OVS requires the inner xid to equal the bundle-add's.
        let inner = Message::FlowMod(FlowMod {
            instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                port: 1,
                max_len: 0,
            }])],
            ..FlowMod::default()
        })
        .encode(v, 0x1234_5678);
        m.extend([
            Message::BundleControl(BundleControl {
                bundle_id: 1,
                type_: 0,
                flags: 3,
                props: vec![],
            }),
            Message::BundleAdd(BundleAdd {
                bundle_id: 1,
                flags: 3,
                message: inner,
                props: vec![],
            }),
        ]);
    }
    m
}
