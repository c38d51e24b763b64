//! Recirculation with a real `Datapath`: a select group (default method:
//! dp_hash) sends each packet through `hash` and `recirc`, the second pass
//! picks a bucket; all flows share one recirculation id; after a flow-mod
//! that stops using the group, revalidation deletes the megaflows that
//! recirculate, frees the id, and then deletes the second-pass megaflows
//! (their frozen state is gone). A `controller` action's frozen state
//! lives the same way.

mod support;

use std::sync::{Arc, Mutex};

use ferrovs_datapath::packet::DpPacket;
use ferrovs_ofproto::{ConnKind, Ofproto, OfprotoConfig};
use ferrovs_openflow::action::Action;
use ferrovs_openflow::message::{Bucket, GroupMod, Hello, Message};
use ferrovs_openflow::Version;
use support::mem_switch::MemSwitch;

/// An Ethernet/IPv4/UDP frame from 198.18.0.1:`sport` to 198.18.0.2:53.
fn udp(sport: u16) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 0, 0, 0xb, 0, 0, 0, 0, 0, 0xa, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&[0, 26, 0, 0]);
    f.extend_from_slice(&[0u8; 18]);
    f
}

fn bucket(id: u32, port: u16) -> Bucket {
    Bucket {
        bucket_id: id,
        weight: 1,
        watch_port: 0xffff,
        watch_group: 0xffff_ffff,
        actions: vec![Action::Output { port, max_len: 0 }],
    }
}

#[test]
fn select_group_recirculates_and_ids_are_freed() {
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    // The group, through a controller connection (OpenFlow 1.5).
    let v = Version::Of15;
    let c = of.connect(ConnKind::Controller, Box::new(|| {}));
    of.receive(c, &Message::Hello(Hello::offering(&[v])).encode(v, 1));
    let gm = GroupMod {
        command: 0,
        type_: 1,
        group_id: 1,
        command_bucket_id: 0xffff_ffff,
        buckets: vec![bucket(0, 2), bucket(1, 3)],
        props: Vec::new(),
    };
    of.receive(c, &Message::GroupMod(gm).encode(v, 2));
    let out = of.take_output(c);
    assert!(
        !out.windows(2).any(|w| w == [v.wire(), 1]),
        "group-mod refused: {out:02x?}"
    );
    of.add_flow_text("in_port=1,actions=group:1").unwrap();
    let of = Arc::new(Mutex::new(of));
    let MemSwitch {
        br: _br,
        up,
        dp,
        ports,
    } = MemSwitch::new(of.clone(), 3, 10);
    let mut pmd = dp.pmd_inline(0).unwrap();
    let n = 40u16;
    for s in 0..n {
        assert!(ports[0].inject(0, DpPacket::from_bytes(&udp(1000 + s))));
        pmd.poll_once();
    }
    let (o2, o3) = (ports[1].take_tx(0).len(), ports[2].take_tx(0).len());
    assert_eq!(o2 + o3, n as usize, "every packet leaves by one bucket");
    assert!(o2 > 0 && o3 > 0, "both buckets used: {o2} {o3}");
    assert_eq!(dp.stats().recirculations, n as u64);
    // One frozen state for every flow: one id.
    assert_eq!(up.recirc.len(), 1);
    let flows = dp.flow_count();
    // One first-pass megaflow (the hash is not in it), and second-pass
    // megaflows keyed on dp_hash & 0xf.
    assert!(flows >= 3, "{flows}");
    let r = up.revalidate(&dp, 10_000);
    assert_eq!((r.deleted_stale, r.recirc_freed), (0, 0), "{r:?}");
    assert_eq!(up.recirc.len(), 1);

    // The group is no longer used: the first-pass megaflow is stale, the
    // id is freed once no megaflow recirculates to it, and the
    // second-pass megaflows go in the next round.
    of.lock()
        .unwrap()
        .add_flow_text("in_port=1,actions=output:3")
        .unwrap();
    let mut freed = 0;
    let mut deleted = 0;
    for _ in 0..4 {
        let r = up.revalidate(&dp, 10_000);
        freed += r.recirc_freed;
        deleted += r.deleted_stale;
    }
    assert_eq!(freed, 1);
    assert_eq!(deleted, flows);
    assert!(up.recirc.is_empty());
    assert_eq!(dp.flow_count(), 0);
    assert!(ports[0].inject(0, DpPacket::from_bytes(&udp(7))));
    pmd.poll_once();
    assert_eq!(ports[2].take_tx(0).len(), 1);
    assert_eq!(dp.stats().recirculations, n as u64);
}

/// A `controller` action freezes its state under a recirculation id, as
/// OVS's: every packet of the megaflow comes up through the `userspace`
/// cookie and makes the packet-in from that state (its rule's cookie and
/// table, the registers set before it); the id lives while the megaflow
/// does and is freed once a flow-mod makes revalidation delete it.
#[test]
fn controller_action_state_lives_with_its_megaflow() {
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    of.add_flow_text("in_port=1,actions=load:0x2a->NXM_NX_REG1[],resubmit(,3)")
        .unwrap();
    of.add_flow_text("table=3,cookie=0x99,in_port=1,actions=controller:64")
        .unwrap();
    let of = Arc::new(Mutex::new(of));
    let MemSwitch {
        br: _br,
        up,
        dp,
        ports,
    } = MemSwitch::new(of.clone(), 3, 10);
    let mut pmd = dp.pmd_inline(0).unwrap();
    for s in 0..3 {
        assert!(ports[0].inject(0, DpPacket::from_bytes(&udp(1000 + s))));
        pmd.poll_once();
    }
    let pins = up.take_packet_ins();
    assert_eq!(pins.len(), 3, "one packet-in per packet");
    for (_, pi, bytes) in &pins {
        assert_eq!((pi.reason, pi.table_id, pi.cookie), (1, 3, 0x99));
        assert_eq!((pi.max_len, pi.controller_id), (64, 0));
        // xreg0: reg0 in the high half, reg1 in the low.
        assert_eq!(pi.flow.0[ferrovs_ofproto::flow::W_REGS], 0x2a, "reg1");
        assert_eq!(ferrovs_ofproto::xlate::in_port(&pi.flow), 1);
        assert!(pi.continuation.is_none());
        assert_eq!(bytes.len(), udp(0).len());
    }
    // One frozen state for the megaflow; revalidation keeps it.
    assert_eq!(up.recirc.len(), 1);
    let r = up.revalidate(&dp, 10_000);
    assert_eq!((r.deleted_stale, r.recirc_freed), (0, 0), "{r:?}");
    assert_eq!(up.recirc.len(), 1);
    // The controller action goes: the megaflow is deleted, then its id.
    of.lock()
        .unwrap()
        .add_flow_text("table=3,cookie=0x99,in_port=1,actions=output:3")
        .unwrap();
    let mut freed = 0;
    for _ in 0..4 {
        freed += up.revalidate(&dp, 10_000).recirc_freed;
    }
    assert_eq!(freed, 1);
    assert!(up.recirc.is_empty());
    assert!(ports[0].inject(0, DpPacket::from_bytes(&udp(7))));
    pmd.poll_once();
    assert_eq!(ports[2].take_tx(0).len(), 1);
    assert!(up.take_packet_ins().is_empty());
}
