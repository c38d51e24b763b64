//! Flow-mod, group, meter, bundle, role and connection semantics, driven
//! as a controller drives the switch: encoded messages into
//! `Ofproto::receive`, decoded replies out of `take_output`. Time is the
//! switch's clock, replaced by one the test moves.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrovs_ofproto::flow::OfMatch;
use ferrovs_ofproto::{ConnId, ConnKind, OfPort, Ofproto, OfprotoConfig};
use ferrovs_openflow::message::multipart::{FlowStats, FlowStatsRequest, MpReply, MpRequest};
use ferrovs_openflow::message::nicira::NxMessage;
use ferrovs_openflow::message::{
    Bucket, BundleAdd, BundleControl, FlowMod, FlowModCommand, GroupMod, Hello, Message, MeterBand,
    MeterMod, MultipartRequest, Role,
};
use ferrovs_openflow::text::{parse_flow, wire::flow_to_wire};
use ferrovs_openflow::{ErrorCode, Match, Version};

/// A controller connection to a switch with a movable clock.
struct Ctl {
    of: Ofproto,
    id: ConnId,
    v: Version,
    xid: u32,
    clock: Arc<Mutex<Instant>>,
}

fn port(no: u16, name: &str) -> OfPort {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    OfPort {
        port_no: no,
        hw_addr: [0xaa, 0x55, 0, 0, 0, no as u8],
        name: n,
        config: 0,
        state: 4,
        curr: 0x40 | 0x800,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 0,
        other_props: Vec::new(),
    }
}

impl Ctl {
    fn new(v: Version) -> Ctl {
        let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
        let clock = Arc::new(Mutex::new(Instant::now()));
        let c = clock.clone();
        of.set_clock(Arc::new(move || *c.lock().unwrap()));
        of.set_port(port(1, "p1"));
        of.set_port(port(2, "p2"));
        let id = of.connect(ConnKind::Controller, Box::new(|| {}));
        let mut ctl = Ctl {
            of,
            id,
            v,
            xid: 100,
            clock,
        };
        ctl.of.take_output(id);
        let hello = Message::Hello(Hello::offering(&[v])).encode(v, 1);
        ctl.of.receive(id, &hello);
        assert_eq!(ctl.of.conn_version(id), Some(v));
        ctl
    }

    /// A second connection (controller) on the same switch.
    fn connect(&mut self) -> ConnId {
        self.connect_version(self.v)
    }

    /// A second connection that speaks version `v`.
    fn connect_version(&mut self, v: Version) -> ConnId {
        let id = self.of.connect(ConnKind::Controller, Box::new(|| {}));
        self.of.take_output(id);
        let hello = Message::Hello(Hello::offering(&[v])).encode(v, 1);
        self.of.receive(id, &hello);
        id
    }

    fn advance(&mut self, secs: u64) {
        *self.clock.lock().unwrap() += Duration::from_secs(secs);
        let now = *self.clock.lock().unwrap();
        self.of.run(now);
    }

    fn send_raw_on(&mut self, id: ConnId, bytes: &[u8]) -> Vec<Message> {
        self.of.receive(id, bytes);
        decode_all(&self.of.take_output(id))
    }

    fn send(&mut self, m: &Message) -> Vec<Message> {
        self.xid += 1;
        let bytes = m.encode(self.v, self.xid);
        let id = self.id;
        self.send_raw_on(id, &bytes)
    }

    /// Output queued for connection `id` (async messages).
    fn pending(&mut self, id: ConnId) -> Vec<Message> {
        decode_all(&self.of.take_output(id))
    }

    fn flow_mod(cmd: FlowModCommand, text: &str) -> FlowMod {
        let need = matches!(
            cmd,
            FlowModCommand::Add | FlowModCommand::Modify | FlowModCommand::ModifyStrict
        );
        let t = ferrovs_openflow::text::FlowText::parse(text, need).expect("flow text");
        let (m, instructions) = flow_to_wire(&t).expect("wire");
        FlowMod {
            command: cmd,
            table_id: t.table.unwrap_or(0),
            priority: t.priority,
            cookie: t.cookie,
            idle_timeout: t.idle_timeout,
            hard_timeout: t.hard_timeout,
            importance: t.importance,
            flags: t.flags,
            r#match: m,
            instructions,
            ..FlowMod::default()
        }
    }

    fn fm(&mut self, fm: FlowMod) -> Vec<Message> {
        self.send(&Message::FlowMod(fm))
    }

    fn add(&mut self, text: &str) -> Vec<Message> {
        let _ = parse_flow(text).expect("valid flow");
        self.fm(Ctl::flow_mod(FlowModCommand::Add, text))
    }

    fn dump(&mut self) -> Vec<FlowStats> {
        let req = MultipartRequest {
            flags: 0,
            body: MpRequest::Flow(FlowStatsRequest::default()),
        };
        let mut out = Vec::new();
        for m in self.send(&Message::MultipartRequest(req)) {
            match m {
                Message::MultipartReply(r) => match r.body {
                    MpReply::Flow(v) => out.extend(v),
                    other => panic!("unexpected {other:?}"),
                },
                other => panic!("unexpected {other:?}"),
            }
        }
        out.sort_by_key(|f| (f.table_id, std::cmp::Reverse(f.priority)));
        out
    }

    fn priorities(&mut self) -> Vec<u16> {
        self.dump().iter().map(|f| f.priority).collect()
    }
}

fn decode_all(mut b: &[u8]) -> Vec<Message> {
    let mut v = Vec::new();
    while b.len() >= 8 {
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        let (_, m) = Message::decode(&b[..len]).expect("switch output decodes");
        v.push(m);
        b = &b[len..];
    }
    v
}

/// The error code of the only message, which must be an OFPT_ERROR.
fn error_of(v: Version, msgs: &[Message]) -> ErrorCode {
    match msgs {
        [Message::Error(e)] => e.code(v).expect("named error"),
        other => panic!("expected one error, got {other:?}"),
    }
}

fn om(text: &str) -> OfMatch {
    let t = ferrovs_openflow::text::FlowText::parse(text, false).expect("match");
    let (m, _) = flow_to_wire(&t).expect("wire");
    OfMatch::from_match(&m).expect("canonical")
}

#[test]
fn add_replaces_identical_rule_and_keeps_counters() {
    let mut c = Ctl::new(Version::Of13);
    assert!(c.add("priority=10,ip,actions=output:1").is_empty());
    assert!(c
        .of
        .credit_rule(0, &om("ip"), 10, 3, 300, *c.clock.lock().unwrap()));
    c.advance(5);
    assert!(c
        .add("cookie=0x7,priority=10,ip,actions=output:2")
        .is_empty());
    let d = c.dump();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].cookie, d[0].packet_count, d[0].byte_count),
        (7, 3, 300)
    );
    // A replacing add restarts the duration.
    assert_eq!(d[0].duration_sec, 0);
    // reset_counts clears them.
    let mut fm = Ctl::flow_mod(FlowModCommand::Add, "priority=10,ip,actions=output:2");
    fm.flags = FlowMod::F_RESET_COUNTS;
    assert!(c.fm(fm).is_empty());
    assert_eq!(c.dump()[0].packet_count, 0);
}

#[test]
fn check_overlap_refuses_same_priority_overlap_with_offending_bytes() {
    let mut c = Ctl::new(Version::Of13);
    c.add("priority=10,ip,actions=drop");
    let mut fm = Ctl::flow_mod(
        FlowModCommand::Add,
        "priority=10,ip,nw_src=198.18.0.1,actions=drop",
    );
    fm.flags = FlowMod::F_CHECK_OVERLAP;
    let bytes = Message::FlowMod(fm.clone()).encode(Version::Of13, 55);
    let id = c.id;
    let out = c.send_raw_on(id, &bytes);
    assert_eq!(error_of(Version::Of13, &out), ErrorCode::OfpfmfcOverlap);
    let Message::Error(e) = &out[0] else {
        unreachable!()
    };
    assert_eq!(e.data, bytes, "the whole offending message comes back");
    // Another priority does not overlap; and the connection goes on.
    fm.priority = 11;
    assert!(c.fm(fm).is_empty());
    assert_eq!(c.priorities(), vec![11, 10]);
}

#[test]
fn modify_adds_when_nothing_matched_in_of10_only() {
    let mut c10 = Ctl::new(Version::Of10);
    assert!(c10
        .fm(Ctl::flow_mod(
            FlowModCommand::Modify,
            "priority=5,tcp,actions=drop"
        ))
        .is_empty());
    assert_eq!(c10.priorities(), vec![5]);
    let mut c13 = Ctl::new(Version::Of13);
    assert!(c13
        .fm(Ctl::flow_mod(
            FlowModCommand::Modify,
            "priority=5,tcp,actions=drop"
        ))
        .is_empty());
    assert!(c13.dump().is_empty());
}

#[test]
fn modify_sets_cookie_in_of10_keeps_it_in_of13() {
    for (v, want) in [(Version::Of10, 0x9), (Version::Of13, 0x1)] {
        let mut c = Ctl::new(v);
        c.add("cookie=0x1,priority=5,tcp,actions=drop");
        c.add("cookie=0x1,priority=6,udp,actions=drop");
        let out = c.fm(Ctl::flow_mod(
            FlowModCommand::Modify,
            "cookie=0x9,ip,actions=output:1",
        ));
        assert!(out.is_empty(), "{out:?}");
        let d = c.dump();
        assert_eq!(d.len(), 2);
        for f in &d {
            assert_eq!(f.cookie, want, "{v:?}");
            assert_eq!(
                ferrovs_openflow::Instruction::flat_actions(&f.instructions).len(),
                1
            );
        }
    }
}

#[test]
fn strict_modify_and_delete_need_exact_match_and_priority() {
    let mut c = Ctl::new(Version::Of13);
    c.add("priority=5,ip,actions=drop");
    c.add("priority=6,ip,actions=drop");
    c.add("priority=5,tcp,actions=drop");
    c.fm(Ctl::flow_mod(
        FlowModCommand::ModifyStrict,
        "priority=5,ip,actions=output:2",
    ));
    let d = c.dump();
    let changed: Vec<u16> = d
        .iter()
        .filter(|f| !ferrovs_openflow::Instruction::flat_actions(&f.instructions).is_empty())
        .map(|f| f.priority)
        .collect();
    assert_eq!(changed, vec![5]);
    c.fm(Ctl::flow_mod(FlowModCommand::DeleteStrict, "priority=6,ip"));
    assert_eq!(c.priorities(), vec![5, 5]);
    // Loose delete of `ip` reaches the tcp rule too.
    c.fm(Ctl::flow_mod(FlowModCommand::Delete, "ip"));
    assert!(c.dump().is_empty());
}

#[test]
fn delete_filters_by_cookie_mask_out_port_and_table() {
    let mut c = Ctl::new(Version::Of13);
    c.add("cookie=0x11,priority=1,actions=output:1");
    c.add("cookie=0x12,priority=2,actions=output:2");
    c.add("cookie=0x21,priority=3,actions=output:1");
    c.add("table=3,cookie=0x11,priority=4,actions=output:1");
    let mut fm = Ctl::flow_mod(FlowModCommand::Delete, "table=0");
    fm.cookie = 0x10;
    fm.cookie_mask = 0xf0;
    c.fm(fm);
    assert_eq!(c.priorities(), vec![3, 4]);
    let mut fm = Ctl::flow_mod(FlowModCommand::Delete, "");
    fm.table_id = 0xff;
    fm.out_port = 2;
    c.fm(fm);
    assert_eq!(c.priorities(), vec![3, 4], "no rule outputs to 2");
    let mut fm = Ctl::flow_mod(FlowModCommand::Delete, "");
    fm.table_id = 0xff;
    fm.out_port = 1;
    c.fm(fm);
    assert!(c.dump().is_empty());
}

#[test]
fn table_ids_per_version() {
    let mut c = Ctl::new(Version::Of13);
    let mut fm = Ctl::flow_mod(FlowModCommand::Add, "actions=drop");
    fm.table_id = 0xff;
    assert_eq!(
        error_of(Version::Of13, &c.fm(fm)),
        ErrorCode::OfpfmfcBadTableId
    );
    let mut fm = Ctl::flow_mod(FlowModCommand::Add, "actions=drop");
    fm.table_id = 254;
    assert_eq!(error_of(Version::Of13, &c.fm(fm)), ErrorCode::OfpbrcEperm);
    assert_eq!(
        error_of(Version::Of13, &c.add("table=3,actions=goto_table:2")),
        ErrorCode::OfpbicBadTableId
    );
    // OpenFlow 1.0 without flow_mod_table_id: add goes to table 0 whatever
    // the command's high byte says; with it, to the table named.
    let mut c = Ctl::new(Version::Of10);
    let mut fm = Ctl::flow_mod(FlowModCommand::Add, "priority=1,actions=drop");
    fm.table_id = 4;
    c.send(&Message::Nx(NxMessage::FlowMod(fm.clone())));
    c.send(&Message::Nx(NxMessage::FlowModTableId(true)));
    fm.priority = 2;
    c.send(&Message::Nx(NxMessage::FlowMod(fm)));
    let d = c.dump();
    assert_eq!(
        d.iter()
            .map(|f| (f.table_id, f.priority))
            .collect::<Vec<_>>(),
        vec![(0, 1), (4, 2)]
    );
}

#[test]
fn timeouts_expire_on_the_clock_and_send_flow_removed() {
    let mut c = Ctl::new(Version::Of13);
    c.add("priority=1,hard_timeout=10,ip,actions=drop");
    let mut fm = Ctl::flow_mod(
        FlowModCommand::Add,
        "priority=2,idle_timeout=5,tcp,actions=drop",
    );
    fm.flags = FlowMod::F_SEND_FLOW_REM;
    c.fm(fm);
    c.advance(4);
    assert_eq!(c.priorities(), vec![2, 1]);
    // A packet at t=4 keeps the idle rule alive until t=9.
    let now = *c.clock.lock().unwrap();
    assert!(c.of.credit_rule(0, &om("tcp"), 2, 1, 60, now));
    c.advance(4);
    assert_eq!(c.priorities(), vec![2, 1]);
    let id = c.id;
    assert!(c.pending(id).is_empty());
    c.advance(2);
    // t=10: idle rule expired at 9 (flow-removed, reason idle), hard at 10.
    let msgs = c.pending(id);
    assert!(c.dump().is_empty());
    match &msgs[..] {
        [Message::FlowRemoved(fr)] => {
            assert_eq!((fr.priority, fr.reason, fr.packet_count), (2, 0, 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn delete_sends_flow_removed_to_every_controller_that_wants_it() {
    let mut c = Ctl::new(Version::Of13);
    let other = c.connect();
    let mut fm = Ctl::flow_mod(FlowModCommand::Add, "priority=2,tcp,actions=drop");
    fm.flags = FlowMod::F_SEND_FLOW_REM;
    c.fm(fm);
    // The other controller is secondary: no flow-removed by default.
    let r = Role {
        role: 3,
        generation_id: 1,
    };
    assert!(matches!(
        &c.send_raw_on(other, &Message::RoleRequest(r).encode(Version::Of13, 9))[..],
        [Message::RoleReply(_)]
    ));
    let out = c.fm(Ctl::flow_mod(FlowModCommand::Delete, "tcp"));
    match &out[..] {
        [Message::FlowRemoved(fr)] => assert_eq!(fr.reason, 2),
        other => panic!("{other:?}"),
    }
    assert!(c.pending(other).is_empty());
    // A secondary may not change the tables.
    let fm = Ctl::flow_mod(FlowModCommand::Add, "priority=3,actions=drop");
    let out = c.send_raw_on(other, &Message::FlowMod(fm).encode(Version::Of13, 10));
    assert_eq!(error_of(Version::Of13, &out), ErrorCode::OfpbrcIsSecondary);
    // A stale generation id is refused.
    let r = Role {
        role: 2,
        generation_id: 0,
    };
    let out = c.send(&Message::RoleRequest(r));
    assert_eq!(error_of(Version::Of13, &out), ErrorCode::OfprrfcStale);
}

fn bundle_ctl(id: u32, type_: u16) -> Message {
    Message::BundleControl(BundleControl {
        bundle_id: id,
        type_,
        flags: 1,
        props: Vec::new(),
    })
}

#[test]
fn bundle_failing_half_way_changes_nothing() {
    let v = Version::Of14;
    let mut c = Ctl::new(v);
    c.add("priority=1,actions=drop");
    assert!(matches!(&c.send(&bundle_ctl(7, 0))[..], [Message::BundleControl(b)] if b.type_ == 1));
    let add = |c: &mut Ctl, fm: FlowMod, xid: u32| {
        let inner = Message::FlowMod(fm).encode(v, xid);
        let m = Message::BundleAdd(BundleAdd {
            bundle_id: 7,
            flags: 1,
            message: inner,
            props: Vec::new(),
        });
        c.send(&m)
    };
    assert!(add(
        &mut c,
        Ctl::flow_mod(FlowModCommand::Add, "priority=10,ip,actions=drop"),
        21
    )
    .is_empty());
    assert!(add(
        &mut c,
        Ctl::flow_mod(FlowModCommand::DeleteStrict, "priority=1"),
        22
    )
    .is_empty());
    // Overlaps only with the rule the bundle itself added: fails at commit.
    let mut fm = Ctl::flow_mod(
        FlowModCommand::Add,
        "priority=10,ip,nw_src=198.18.0.1,actions=drop",
    );
    fm.flags = FlowMod::F_CHECK_OVERLAP;
    assert!(add(&mut c, fm, 23).is_empty());
    let out = c.send(&bundle_ctl(7, 4));
    match &out[..] {
        [Message::Error(first), Message::Error(commit)] => {
            assert_eq!(first.code(v), Some(ErrorCode::OfpfmfcOverlap));
            assert_eq!(commit.code(v), Some(ErrorCode::OfpbfcMsgFailed));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.priorities(), vec![1], "nothing of the bundle stayed");
    // The bundle is gone.
    assert_eq!(
        error_of(v, &c.send(&bundle_ctl(7, 4))),
        ErrorCode::OfpbfcBadId
    );
    // A good bundle commits all.
    c.send(&bundle_ctl(8, 0));
    let inner = Message::FlowMod(Ctl::flow_mod(
        FlowModCommand::Add,
        "priority=20,actions=drop",
    ))
    .encode(v, 30);
    c.send(&Message::BundleAdd(BundleAdd {
        bundle_id: 8,
        flags: 1,
        message: inner,
        props: Vec::new(),
    }));
    assert!(matches!(&c.send(&bundle_ctl(8, 4))[..], [Message::BundleControl(b)] if b.type_ == 5));
    assert_eq!(c.priorities(), vec![20, 1]);
}

fn bucket(actions: &str, weight: u16, watch_port: u16) -> Bucket {
    let t = ferrovs_openflow::text::FlowText::parse(&format!("actions={actions}"), true).unwrap();
    let (_, inst) = flow_to_wire(&t).unwrap();
    Bucket {
        bucket_id: u32::MAX,
        weight,
        watch_port,
        watch_group: u32::MAX,
        actions: ferrovs_openflow::Instruction::flat_actions(&inst),
    }
}

fn group_mod(command: u16, type_: u8, group_id: u32, buckets: Vec<Bucket>) -> Message {
    Message::GroupMod(GroupMod {
        command,
        type_,
        group_id,
        command_bucket_id: u32::MAX,
        buckets,
        props: Vec::new(),
    })
}

#[test]
fn groups_checks_liveness_and_delete_removes_users() {
    let v = Version::Of13;
    let mut c = Ctl::new(v);
    let none = 0xffff;
    assert!(c
        .send(&group_mod(
            0,
            1,
            1,
            vec![bucket("output:1", 10, none), bucket("output:2", 20, none)]
        ))
        .is_empty());
    assert_eq!(
        error_of(v, &c.send(&group_mod(0, 1, 1, vec![]))),
        ErrorCode::OfpgmfcGroupExists
    );
    assert_eq!(
        error_of(
            v,
            &c.send(&group_mod(
                0,
                2,
                2,
                vec![bucket("output:1", 0, none), bucket("output:2", 0, none)]
            ))
        ),
        ErrorCode::OfpgmfcInvalidGroup
    );
    assert_eq!(
        error_of(
            v,
            &c.send(&group_mod(0, 3, 3, vec![bucket("output:1", 0, none)]))
        ),
        ErrorCode::OfpgmfcInvalidGroup
    );
    assert!(c
        .send(&group_mod(
            0,
            3,
            3,
            vec![bucket("output:1", 0, 1), bucket("output:2", 0, 2)]
        ))
        .is_empty());
    assert_eq!(
        error_of(v, &c.send(&group_mod(1, 0, 9, vec![]))),
        ErrorCode::OfpgmfcUnknownGroup
    );
    // Liveness follows the watched ports.
    assert!(c.of.group_is_live(3, 0));
    let mut p1 = c.of.port(1).unwrap().clone();
    p1.state = 1;
    c.of.set_port(p1);
    assert!(c.of.group_is_live(3, 0), "bucket 2 still live");
    let mut p2 = c.of.port(2).unwrap().clone();
    p2.config = 1;
    c.of.set_port(p2);
    assert!(!c.of.group_is_live(3, 0));
    // Port status went to the controller for both changes.
    let id = c.id;
    assert_eq!(
        c.pending(id)
            .iter()
            .filter(|m| matches!(m, Message::PortStatus(p) if p.reason == 2))
            .count(),
        2
    );
    // A flow on group 1; deleting the group deletes it.
    let mut fm = Ctl::flow_mod(FlowModCommand::Add, "priority=7,actions=group:1");
    fm.flags = FlowMod::F_SEND_FLOW_REM;
    assert!(c.fm(fm).is_empty());
    assert_eq!(
        error_of(v, &c.add("priority=8,actions=group:5")),
        ErrorCode::OfpbacBadOutGroup
    );
    let out = c.send(&group_mod(2, 0, 1, vec![]));
    assert!(
        matches!(&out[..], [Message::FlowRemoved(fr)] if fr.reason == 3),
        "{out:?}"
    );
    assert!(c.dump().is_empty());
}

#[test]
fn meters_config_and_delete_removes_users() {
    let v = Version::Of13;
    let mut c = Ctl::new(v);
    let band = MeterBand {
        type_: 1,
        rate: 1000,
        burst_size: 0,
        prec_level: 0,
        experimenter: 0,
    };
    let mm = |command, id, flags| {
        Message::MeterMod(MeterMod {
            command,
            flags,
            meter_id: id,
            bands: vec![band],
        })
    };
    assert!(c.send(&mm(0, 1, 1)).is_empty());
    assert_eq!(
        error_of(v, &c.send(&mm(0, 1, 1))),
        ErrorCode::OfpmmfcMeterExists
    );
    assert_eq!(
        error_of(v, &c.send(&mm(1, 2, 1))),
        ErrorCode::OfpmmfcUnknownMeter
    );
    assert_eq!(
        error_of(v, &c.send(&mm(0, 3, 1 | 2))),
        ErrorCode::OfpmmfcBadFlags
    );
    assert_eq!(
        error_of(v, &c.send(&mm(0, 0, 1))),
        ErrorCode::OfpmmfcInvalidMeter
    );
    assert!(c.add("priority=1,actions=meter:1,output:1").is_empty());
    assert_eq!(
        error_of(v, &c.add("priority=2,actions=meter:4,output:1")),
        ErrorCode::OfpmmfcInvalidMeter
    );
    assert!(c.send(&mm(2, 1, 0)).is_empty());
    assert!(c.dump().is_empty());
}

#[test]
fn bad_messages_get_errors_and_the_connection_goes_on() {
    let v = Version::Of13;
    let mut c = Ctl::new(v);
    // Unknown message type 99.
    let mut raw = vec![4, 99, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4];
    let id = c.id;
    let out = c.send_raw_on(id, &raw);
    assert_eq!(error_of(v, &out), ErrorCode::OfpbrcBadType);
    // A truncated flow-mod body.
    raw = vec![4, 14, 0, 16, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
    let out = c.send_raw_on(id, &raw);
    assert!(matches!(&out[..], [Message::Error(_)]));
    let out = c.send(&Message::EchoRequest(b"ok".to_vec()));
    assert_eq!(out, vec![Message::EchoReply(b"ok".to_vec())]);
    assert!(!c.of.is_closing(id));
}

#[test]
fn a_controller_that_does_not_read_is_not_read_either() {
    let v = Version::Of13;
    let mut c = Ctl::new(v);
    let id = c.id;
    let echo = Message::EchoRequest(vec![0; 1000]).encode(v, 1);
    let mut input = Vec::new();
    for _ in 0..3000 {
        input.extend_from_slice(&echo);
    }
    c.of.receive(id, &input);
    assert!(!c.of.wants_input(id), "output past the limit stops reading");
    let first = c.of.take_output(id);
    assert!(first.len() < ferrovs_ofproto::connmgr::OUTPUT_LIMIT + 2 * echo.len());
    // Draining lets the rest be processed, in order.
    let mut total = first.len();
    loop {
        let more = c.of.take_output(id);
        if more.is_empty() {
            break;
        }
        total += more.len();
    }
    assert_eq!(total, 3000 * echo.len());
    assert!(c.of.wants_input(id));
}

#[test]
fn barrier_comes_after_the_replies_before_it() {
    let v = Version::Of13;
    let mut c = Ctl::new(v);
    let mut bytes = Message::EchoRequest(vec![1]).encode(v, 1);
    bytes.extend(
        Message::FlowMod(Ctl::flow_mod(FlowModCommand::Add, "table=254,actions=drop")).encode(v, 2),
    );
    bytes.extend(Message::BarrierRequest.encode(v, 3));
    let id = c.id;
    let out = c.send_raw_on(id, &bytes);
    assert!(
        matches!(
            &out[..],
            [
                Message::EchoReply(_),
                Message::Error(_),
                Message::BarrierReply
            ]
        ),
        "{out:?}"
    );
}

#[test]
fn flow_monitor_reports_other_connections_changes() {
    let v = Version::Of10;
    let mut c = Ctl::new(v);
    let watcher = c.connect();
    let req = ferrovs_openflow::message::nicira::FlowMonitorRequest {
        id: 1,
        flags: 1 | 2 | 4 | 8 | 16,
        out_port: 0xffff,
        table_id: 0xff,
        r#match: Match::new(),
    };
    c.add("priority=1,actions=drop");
    let mreq = Message::MultipartRequest(MultipartRequest {
        flags: 0,
        body: MpRequest::NxFlowMonitor(vec![req]),
    });
    let out = c.send_raw_on(watcher, &mreq.encode(v, 4));
    assert!(
        matches!(&out[..], [Message::MultipartReply(r)] if matches!(&r.body, MpReply::NxFlowMonitor(u) if u.len() == 1)),
        "{out:?}"
    );
    c.add("priority=2,actions=drop");
    c.fm(Ctl::flow_mod(FlowModCommand::DeleteStrict, "priority=1"));
    let out = c.pending(watcher);
    let events: Vec<u16> = out
        .iter()
        .flat_map(|m| match m {
            Message::MultipartReply(r) => match &r.body {
                MpReply::NxFlowMonitor(u) => u.clone(),
                _ => vec![],
            },
            _ => vec![],
        })
        .map(|u| match u {
            ferrovs_openflow::message::nicira::FlowUpdate::Full { event, .. } => event,
            _ => 99,
        })
        .collect();
    assert_eq!(events, vec![0, 1]);
}

#[test]
fn flow_limit_evicts_least_important_or_refuses() {
    let v = Version::Of14;
    let mut c = Ctl::new(v);
    c.of.set_table_config(0, None, Some(2), false);
    c.add("priority=1,hard_timeout=100,actions=drop");
    c.add("priority=2,hard_timeout=100,actions=drop");
    assert_eq!(
        error_of(v, &c.add("priority=3,actions=drop")),
        ErrorCode::OfpfmfcTableFull
    );
    // Replacing an existing rule needs no room.
    assert!(c
        .add("priority=2,hard_timeout=100,actions=output:1")
        .is_empty());
    c.of.set_table_config(0, None, Some(2), true);
    // Importance 9 on priority 1, 0 on priority 2: the latter goes.
    let mut fm = Ctl::flow_mod(
        FlowModCommand::Add,
        "priority=1,hard_timeout=100,actions=drop",
    );
    fm.importance = 9;
    fm.flags = FlowMod::F_SEND_FLOW_REM;
    c.fm(fm);
    let mut fm = Ctl::flow_mod(
        FlowModCommand::Add,
        "priority=2,hard_timeout=100,actions=drop",
    );
    fm.flags = FlowMod::F_SEND_FLOW_REM;
    c.fm(fm);
    let out = c.add("priority=3,actions=drop");
    match &out[..] {
        [Message::FlowRemoved(fr)] => assert_eq!((fr.priority, fr.reason), (2, 5)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.priorities(), vec![3, 1]);
    // Then the important one, which still has a timeout.
    assert!(
        matches!(&c.add("priority=4,actions=drop")[..], [Message::FlowRemoved(fr)] if fr.priority == 1)
    );
    // Rules without timeouts are not evictable: the table is full.
    assert_eq!(
        error_of(v, &c.add("priority=5,actions=drop")),
        ErrorCode::OfpfmfcTableFull
    );
}

#[test]
fn table_miss_follows_the_controllers_versions() {
    use ferrovs_ofproto::table_mod::TableMiss;
    let c13 = Ctl::new(Version::Of13);
    assert_eq!(c13.of.table_miss(0), TableMiss::Drop);
    let c10 = Ctl::new(Version::Of10);
    assert_eq!(c10.of.table_miss(0), TableMiss::Controller);
}

#[test]
fn a_new_primary_demotes_the_old_one_with_role_status() {
    let v = Version::Of14;
    let mut c = Ctl::new(v);
    let other = c.connect();
    let out = c.send(&Message::RoleRequest(Role {
        role: 2,
        generation_id: 5,
    }));
    assert!(matches!(&out[..], [Message::RoleReply(r)] if r.role == 2 && r.generation_id == 5));
    let req = Message::RoleRequest(Role {
        role: 2,
        generation_id: 6,
    })
    .encode(v, 7);
    let out = c.send_raw_on(other, &req);
    assert!(matches!(&out[..], [Message::RoleReply(r)] if r.role == 2));
    let id = c.id;
    match &c.pending(id)[..] {
        [Message::Other { type_: 30, body }] => {
            assert_eq!(&body[..4], &3u32.to_be_bytes());
            assert_eq!(&body[8..16], &6u64.to_be_bytes());
        }
        other => panic!("{other:?}"),
    }
    // The demoted controller may no longer change the tables.
    assert_eq!(
        error_of(v, &c.add("actions=drop")),
        ErrorCode::OfpbrcIsSecondary
    );
}

#[test]
fn set_port_and_del_port_send_port_status_add_modify_delete() {
    let v = Version::Of13;
    let mut c = Ctl::new(v);
    let id = c.id;
    c.of.set_port(port(7, "p7"));
    c.of.set_port(port(7, "p7")); // unchanged: nothing
    let mut p = port(7, "p7");
    p.state = 1;
    c.of.set_port(p);
    c.of.del_port(7);
    let reasons: Vec<u8> = c
        .pending(id)
        .iter()
        .map(|m| match m {
            Message::PortStatus(ps) => ps.reason,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(reasons, vec![0, 2, 1]);
}

#[test]
fn async_config_per_role_selects_flow_removed() {
    use ferrovs_openflow::message::AsyncConfig;
    let v = Version::Of13;
    let mut c = Ctl::new(v);
    // Defaults as OVS: flow-removed to primaries/equals, not secondaries.
    match &c.send(&Message::GetAsyncRequest)[..] {
        [Message::GetAsyncReply(AsyncConfig::Masks {
            flow_removed,
            port_status,
            ..
        })] => {
            assert_eq!(*flow_removed, [0xf, 0]);
            assert_eq!(*port_status, [7, 7]);
        }
        other => panic!("{other:?}"),
    }
    c.send(&Message::RoleRequest(Role {
        role: 3,
        generation_id: 1,
    }));
    let mut fm = Ctl::flow_mod(
        FlowModCommand::Add,
        "priority=1,hard_timeout=1,actions=drop",
    );
    fm.flags = FlowMod::F_SEND_FLOW_REM;
    // A secondary may not add; make the rule from another connection.
    let other = c.connect();
    assert!(c
        .send_raw_on(other, &Message::FlowMod(fm.clone()).encode(v, 3))
        .is_empty());
    c.advance(2);
    let id = c.id;
    assert!(
        c.pending(id).is_empty(),
        "secondary gets no flow-removed by default"
    );
    // Ask for hard-timeout flow-removed as secondary.
    let cfg = AsyncConfig::Masks {
        packet_in: [0, 0],
        port_status: [7, 7],
        flow_removed: [0xf, 1 << 1],
    };
    assert!(c.send(&Message::SetAsync(cfg)).is_empty());
    c.pending(other);
    assert!(c
        .send_raw_on(other, &Message::FlowMod(fm).encode(v, 4))
        .is_empty());
    c.advance(2);
    assert!(matches!(&c.pending(id)[..], [Message::FlowRemoved(fr)] if fr.reason == 1));
}

/// Raw OFPT_TABLE_STATUS messages (type 31) queued for `id` (the codec
/// does not model them), each as Debian's `ovs-ofctl ofp-print` prints it.
fn table_statuses(c: &mut Ctl, id: ConnId) -> Vec<String> {
    let out = c.of.take_output(id);
    let mut b = &out[..];
    let mut texts = Vec::new();
    while b.len() >= 8 {
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        assert_eq!(
            b[1],
            31,
            "only table status expected: {:?}",
            Message::decode(&b[..len])
        );
        {
            let hex: String = b[..len].iter().map(|x| format!("{x:02x}")).collect();
            let o = std::process::Command::new(ferrovs_tests::tool("ovs-ofctl"))
                .args(["ofp-print", &hex])
                .output()
                .expect("ovs-ofctl runs");
            assert!(o.status.success(), "ofp-print: {o:?}");
            texts.push(String::from_utf8_lossy(&o.stdout).trim_end().to_string());
        }
        b = &b[len..];
    }
    texts
}

/// OpenFlow 1.4 vacancy events, as OVS's "asynchronous message control
/// (OpenFlow 1.4)" test drives them: a table with a flow limit of 10 and
/// vacancy thresholds 20%/80% reports VACANCY_DOWN once when filling
/// below 20% free, then VACANCY_UP once when emptying above 80%; turned
/// on at 70% free it arms VACANCY_UP only. Only a connection that asked
/// for table status (set-async) gets them. The texts are what Debian's
/// ovs-ofctl prints for the bytes the switch sent, and what OVS's test
/// expects.
#[test]
fn table_status_vacancy_events() {
    use ferrovs_openflow::message::{AsyncConfig, TableMod};
    let v = Version::Of14;
    let mut c = Ctl::new(v);
    let other = c.connect();
    c.of.set_table_config(1, None, Some(10), false);
    // OFPACPT_TABLE_STATUS_MASTER: VACANCY_DOWN | VACANCY_UP.
    let cfg = AsyncConfig::Props(vec![(9, (1 << 3) | (1 << 4))]);
    assert!(c.send(&Message::SetAsync(cfg)).is_empty());
    let vacancy = |on: bool| {
        Message::TableMod(TableMod {
            table_id: 1,
            config: if on { 1 << 3 } else { 0 },
            props: if on {
                vec![0, 3, 0, 8, 20, 80, 0, 0]
            } else {
                Vec::new()
            },
        })
    };
    let id = c.id;
    // Flow-mods whose only output may be table status (not decodable).
    let send_fm = |c: &mut Ctl, cmd: FlowModCommand, text: String| {
        c.xid += 1;
        let bytes = Message::FlowMod(Ctl::flow_mod(cmd, &text)).encode(v, c.xid);
        c.of.receive(id, &bytes);
    };
    let add = |c: &mut Ctl, i: u32| {
        send_fm(
            c,
            FlowModCommand::Add,
            format!("table=1,in_port={i},actions=2"),
        )
    };
    let del =
        |c: &mut Ctl, i: u32| send_fm(c, FlowModCommand::Delete, format!("table=1,in_port={i}"));
    let status = |reason: &str, vacancy: u32| {
        format!(
            "OFPT_TABLE_STATUS (OF1.4) (xid=0x0): reason={reason}\ntable_desc:-\n  table 1:\n   \
             eviction=off eviction_flags=OTHER|IMPORTANCE|LIFETIME\n   \
             vacancy=on vacancy_down=20% vacancy_up=80% vacancy={vacancy}%"
        )
    };
    assert!(c.send(&vacancy(true)).is_empty());
    let mut seen = Vec::new();
    for i in 1..=10 {
        add(&mut c, i);
        seen.extend(table_statuses(&mut c, id));
    }
    assert_eq!(seen, [status("VACANCY_DOWN", 10)]);
    seen.clear();
    for i in 1..=10 {
        del(&mut c, i);
        seen.extend(table_statuses(&mut c, id));
    }
    assert_eq!(seen, [status("VACANCY_UP", 90)]);
    // From the other side: off, 3 flows, on at 70% free arms VACANCY_UP.
    seen.clear();
    assert!(c.send(&vacancy(false)).is_empty());
    for i in 1..=3 {
        add(&mut c, i);
    }
    assert!(table_statuses(&mut c, id).is_empty());
    assert!(c.send(&vacancy(true)).is_empty());
    for i in 4..=10 {
        add(&mut c, i);
        seen.extend(table_statuses(&mut c, id));
    }
    assert!(seen.is_empty(), "filling reports nothing: {seen:?}");
    for i in 1..=10 {
        del(&mut c, i);
        seen.extend(table_statuses(&mut c, id));
    }
    assert_eq!(seen, [status("VACANCY_UP", 90)]);
    // The connection that did not ask got none (and not below 1.4).
    assert!(table_statuses(&mut c, other).is_empty());
}

/// A packet-out naming a buffer is refused with OFPBRC_BUFFER_UNKNOWN (no
/// packet is ever buffered: packet-ins say OFP_NO_BUFFER), as OVS does.
#[test]
fn packet_out_with_a_buffer_id_is_unknown_buffer() {
    use ferrovs_openflow::message::PacketOut;
    for v in [Version::Of10, Version::Of13, Version::Of15] {
        let mut c = Ctl::new(v);
        let po = PacketOut {
            buffer_id: 7,
            in_port: 0xfffd,
            r#match: Match::default(),
            actions: Vec::new(),
            data: Vec::new(),
        };
        let r = c.send(&Message::PacketOut(po));
        assert_eq!(error_of(v, &r), ErrorCode::OfpbrcBufferUnknown, "{v:?}");
    }
}

/// A dump bigger than one message comes as several replies of at most
/// 64 KiB, each but the last flagged OFPMPF_REPLY_MORE, together holding
/// every rule once, in descending priority within the table; then a loose
/// delete of all empties the table in one flow-mod.
#[test]
fn big_dump_is_split_and_delete_all_empties() {
    for v in [Version::Of10, Version::Of13] {
        let mut c = Ctl::new(v);
        for i in 0..3000u32 {
            let text = format!(
                "priority={},ip,nw_dst=198.18.{}.{},actions=output:1",
                100 + i % 16,
                i / 256,
                i % 256
            );
            assert!(c.add(&text).is_empty());
        }
        let req = MultipartRequest {
            flags: 0,
            body: MpRequest::Flow(FlowStatsRequest::default()),
        };
        c.xid += 1;
        let bytes = Message::MultipartRequest(req).encode(v, c.xid);
        let id = c.id;
        c.of.receive(id, &bytes);
        let out = c.of.take_output(id);
        let (mut b, mut n_msgs, mut prios) = (&out[..], 0, Vec::new());
        while b.len() >= 8 {
            let len = u16::from_be_bytes([b[2], b[3]]) as usize;
            let more = u16::from_be_bytes([b[10], b[11]]) & 1 == 1;
            let Message::MultipartReply(r) = Message::decode(&b[..len]).unwrap().1 else {
                panic!("not a multipart reply");
            };
            let MpReply::Flow(fs) = r.body else {
                panic!("not flow stats");
            };
            prios.extend(fs.iter().map(|f| f.priority));
            b = &b[len..];
            n_msgs += 1;
            assert_eq!(more, !b.is_empty(), "{v:?}: REPLY_MORE on all but the last");
        }
        assert!(n_msgs > 2, "{v:?}: {n_msgs} replies");
        assert_eq!(prios.len(), 3000, "{v:?}");
        assert!(
            prios.windows(2).all(|w| w[0] >= w[1]),
            "{v:?}: priority order"
        );
        let del = Ctl::flow_mod(FlowModCommand::Delete, "ip");
        assert!(c.fm(del).is_empty());
        assert_eq!(c.of.n_rules(), 0, "{v:?}");
    }
}

/// A delete of everything (no match, no filter) takes whole tables; it
/// still reports each rule that asked for a flow-removed, in descending
/// priority, and leaves the other tables (table=N) or the filtered-out
/// rules (cookie) alone.
#[test]
fn delete_of_everything_reports_and_spares_as_a_filtered_one() {
    let mut c = Ctl::new(Version::Of13);
    for text in [
        "priority=5,tcp,actions=drop",
        "priority=7,udp,actions=drop",
        "table=1,priority=9,ip,actions=drop",
        "table=2,priority=3,cookie=0x5,arp,actions=drop",
    ] {
        let mut fm = Ctl::flow_mod(FlowModCommand::Add, text);
        fm.flags = FlowMod::F_SEND_FLOW_REM;
        c.fm(fm);
    }
    c.add("table=2,priority=4,cookie=0x6,arp,actions=drop");
    // Table 1 only.
    let mut del = Ctl::flow_mod(FlowModCommand::Delete, "");
    del.table_id = 1;
    let out = c.fm(del);
    assert!(
        matches!(&out[..], [Message::FlowRemoved(fr)] if fr.priority == 9),
        "{out:?}"
    );
    assert_eq!(c.priorities(), [7, 5, 4, 3]);
    // Every table, but only cookie 0x6: the filter still applies.
    let mut del = Ctl::flow_mod(FlowModCommand::Delete, "");
    del.table_id = 0xff;
    del.cookie = 6;
    del.cookie_mask = !0;
    assert!(c.fm(del).is_empty());
    assert_eq!(c.priorities(), [7, 5, 3]);
    // Everything: one flow-removed per rule, tables in order, priority
    // descending within a table.
    let mut del = Ctl::flow_mod(FlowModCommand::Delete, "");
    del.table_id = 0xff;
    let got: Vec<(u8, u16, u8)> = c
        .fm(del)
        .iter()
        .map(|m| match m {
            Message::FlowRemoved(fr) => (fr.table_id, fr.priority, fr.reason),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, [(0, 7, 2), (0, 5, 2), (2, 3, 2)]);
    assert_eq!(c.of.n_rules(), 0);
    // The emptied tables take rules again.
    c.add("priority=1,tcp,actions=drop");
    assert_eq!(c.priorities(), [1]);
}

/// The table-features reply (about 600 KB) is packed into as few messages
/// as fit in 64 KB each, every table once and in order, REPLY_MORE on all
/// but the last; asked again after another version's request (served
/// from the cache) it is the same bytes under the new xid.
#[test]
fn table_features_reply_is_packed_and_the_same_when_asked_again() {
    let mut c13 = Ctl::new(Version::Of13);
    let id13 = c13.id;
    let id14 = c13.connect_version(Version::Of14);
    let ask = |c: &mut Ctl, id: ConnId, v: Version, xid: u32| {
        let req = MultipartRequest {
            flags: 0,
            body: MpRequest::TableFeatures(Vec::new()),
        };
        c.of.receive(id, &Message::MultipartRequest(req).encode(v, xid));
        c.of.take_output(id)
    };
    let first = ask(&mut c13, id13, Version::Of13, 7);
    let (mut b, mut ids, mut lens) = (&first[..], Vec::new(), Vec::new());
    let mut first_entry_lens = Vec::new();
    while b.len() >= 8 {
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        let more = u16::from_be_bytes([b[10], b[11]]) & 1 == 1;
        assert_eq!(u32::from_be_bytes([b[4], b[5], b[6], b[7]]), 7);
        let Message::MultipartReply(r) = Message::decode(&b[..len]).unwrap().1 else {
            panic!("not a multipart reply");
        };
        let MpReply::TableFeatures(ts) = r.body else {
            panic!("not table features");
        };
        // An entry's length is its first two bytes (after the 16-byte
        // multipart header).
        first_entry_lens.push(u16::from_be_bytes([b[16], b[17]]) as usize);
        ids.extend(ts.iter().map(|t| t.table_id));
        lens.push(len);
        b = &b[len..];
        assert_eq!(more, !b.is_empty(), "REPLY_MORE on all but the last");
    }
    assert!(b.is_empty());
    assert_eq!(ids, (0..=253).collect::<Vec<u8>>());
    assert!(lens.len() > 5, "{lens:?}");
    // Packed: the next message's first entry would not have fitted.
    for (i, len) in lens.iter().enumerate().take(lens.len() - 1) {
        assert!(*len <= 0xffff);
        assert!(len + first_entry_lens[i + 1] > 0xffff, "{lens:?}");
    }
    // Another version's request in between, then the same bytes again.
    let of14 = ask(&mut c13, id14, Version::Of14, 8);
    assert!(!of14.is_empty() && of14[0] == Version::Of14.wire());
    let again = ask(&mut c13, id13, Version::Of13, 9);
    let mut expect = first.clone();
    let mut at = 0;
    while at < expect.len() {
        let len = u16::from_be_bytes([expect[at + 2], expect[at + 3]]) as usize;
        expect[at + 4..at + 8].copy_from_slice(&9u32.to_be_bytes());
        at += len;
    }
    assert_eq!(again, expect);
}

/// A bundle that deletes every rule (tables taken whole), adds one and
/// then fails gives each table its rules back: the same rules, still
/// found by strict deletes, and the tables take new rules after.
#[test]
fn bundle_undoing_a_delete_of_everything_gives_the_tables_back() {
    let v = Version::Of14;
    let mut c = Ctl::new(v);
    for text in [
        "priority=5,ip,nw_dst=198.18.0.1,actions=drop",
        "priority=7,tcp,actions=drop",
        "table=2,priority=3,udp,actions=drop",
    ] {
        assert!(c.add(text).is_empty());
    }
    assert!(matches!(&c.send(&bundle_ctl(9, 0))[..], [Message::BundleControl(b)] if b.type_ == 1));
    let add = |c: &mut Ctl, fm: FlowMod, xid: u32| {
        let m = Message::BundleAdd(BundleAdd {
            bundle_id: 9,
            flags: 1,
            message: Message::FlowMod(fm).encode(v, xid),
            props: Vec::new(),
        });
        c.send(&m)
    };
    let mut del = Ctl::flow_mod(FlowModCommand::Delete, "");
    del.table_id = 0xff;
    assert!(add(&mut c, del, 41).is_empty());
    let added = Ctl::flow_mod(FlowModCommand::Add, "priority=9,ip,actions=drop");
    assert!(add(&mut c, added, 42).is_empty());
    // Overlaps the rule the bundle added: fails at commit.
    let mut fm = Ctl::flow_mod(FlowModCommand::Add, "priority=9,udp,actions=drop");
    fm.flags = FlowMod::F_CHECK_OVERLAP;
    assert!(add(&mut c, fm, 43).is_empty());
    let out = c.send(&bundle_ctl(9, 4));
    assert!(
        matches!(&out[..], [Message::Error(e), Message::Error(_)] if e.code(v) == Some(ErrorCode::OfpfmfcOverlap)),
        "{out:?}"
    );
    assert_eq!(c.priorities(), [7, 5, 3]);
    assert_eq!(c.of.n_rules(), 3);
    // The rules are where they were: a strict delete finds each.
    let strict = Ctl::flow_mod(
        FlowModCommand::DeleteStrict,
        "priority=5,ip,nw_dst=198.18.0.1",
    );
    assert!(c.fm(strict).is_empty());
    let mut strict = Ctl::flow_mod(FlowModCommand::DeleteStrict, "priority=3,udp");
    strict.table_id = 2;
    assert!(c.fm(strict).is_empty());
    assert_eq!(c.priorities(), [7]);
    // A delete of everything outside a bundle, then new rules.
    let mut del = Ctl::flow_mod(FlowModCommand::Delete, "");
    del.table_id = 0xff;
    assert!(c.fm(del).is_empty());
    assert_eq!(c.of.n_rules(), 0);
    assert!(c
        .add("priority=2,ip,nw_dst=198.18.0.1,actions=drop")
        .is_empty());
    assert_eq!(c.priorities(), [2]);
}
