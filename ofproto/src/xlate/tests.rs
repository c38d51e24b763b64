//! Unit tests of translation: actions, limits, and which bits the
//! megaflow keeps.

use std::time::Instant;

use ferrovs_datapath::flow::layout as dp;

use super::*;
use crate::normal::MacTable;
use crate::ofproto::{OfPort, Ofproto, OfprotoConfig};

pub(super) struct Br {
    pub(super) of: Ofproto,
    pub(super) ports: BridgePorts,
    pub(super) mac: MacTable,
}

impl Br {
    /// This bridge as translation sees it.
    pub(super) fn bridge_ref(&self) -> BridgeRef<'_> {
        BridgeRef {
            ofproto: &self.of,
            ports: &self.ports,
            mac: &self.mac,
        }
    }
}

pub(super) fn port_desc(no: u16, name: &str) -> OfPort {
    let mut n = [0u8; 16];
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

/// A bridge whose OpenFlow port n is datapath port 100+n.
pub(super) fn bridge(name: &str, ports: &[u16], flows: &[&str]) -> Br {
    let mut of = Ofproto::new(OfprotoConfig::new(name, 1));
    let mut bp = BridgePorts::new();
    for p in ports {
        of.set_port(port_desc(*p, &format!("p{p}")));
        bp.set(
            *p,
            XPort {
                name: format!("p{p}"),
                dp_port: Some(100 + *p as u32),
                ..Default::default()
            },
        );
    }
    for f in flows {
        of.add_flow_text(f).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    Br {
        of,
        ports: bp,
        mac: MacTable::default(),
    }
}

/// What the tests look at of an `XlateOut` (which borrows the bridges).
pub(super) struct O {
    pub(super) wc: OfFlow,
    pub(super) packet_ins: Vec<PacketIn>,
    pub(super) error: Option<XlateError>,
    pub(super) final_flow: OfFlow,
    pub(super) n_rules: usize,
}

pub(super) fn run_on(brs: &[&Br], idx: usize, flow: &str) -> (String, O) {
    let refs: Vec<BridgeRef> = brs.iter().map(|b| b.bridge_ref()).collect();
    let recirc = RecircTable::new();
    let r = crate::trace::trace_with(
        &refs,
        idx,
        flow,
        Instant::now(),
        &|p| p.to_string(),
        None,
        Some(&recirc),
    )
    .unwrap_or_else(|e| panic!("{flow}: {e}"));
    let out = XlateIn {
        bridges: &refs,
        bridge: idx,
        flow: crate::trace::parse_trace_flow(flow, &brs[idx].ports).unwrap(),
        now: Instant::now(),
        may_learn: true,
        tnl: None,
        recirc: Some(&recirc),
    };
    let o = xlate(&out);
    // A trace's packet-ins are not sent (dont_send=1), and its ids were
    // given back: the translation's own ids count on.
    assert_eq!(
        cookie_plain(&odp_text::format_dp_actions(&o.actions, &|p| p.to_string())),
        cookie_plain(&r.dp_actions.replace("dont_send=1", "dont_send=0")),
        "trace and xlate agree"
    );
    let o = O {
        wc: r.out.wc,
        packet_ins: r.out.packet_ins.clone(),
        error: r.out.error,
        final_flow: r.out.final_flow,
        n_rules: r.out.rules.len(),
    };
    (r.dp_actions, o)
}

/// `actions` with every controller cookie's `recirc_id=N` made `recirc_id=_`.
fn cookie_plain(actions: &str) -> String {
    let mut out = String::new();
    let mut rest = actions;
    while let Some(i) = rest.find("recirc_id=") {
        out.push_str(&rest[..i + "recirc_id=".len()]);
        out.push('_');
        rest = rest[i + "recirc_id=".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

pub(super) fn run(b: &Br, flow: &str) -> String {
    run_on(&[b], 0, flow).0
}

#[test]
fn output_resubmit_goto_and_miss() {
    let b = bridge(
        "br0",
        &[1, 2, 3],
        &[
            "in_port=1 actions=output:2",
            "in_port=2 actions=resubmit(,1)",
            "table=1,priority=0 actions=output:3,output:1",
            "in_port=3 actions=goto_table:2",
            "table=2,ip actions=output:1",
        ],
    );
    assert_eq!(run(&b, "in_port=1"), "102");
    // Output to the input port is skipped; IN_PORT is not.
    assert_eq!(run(&b, "in_port=2"), "103,101");
    assert_eq!(run(&b, "in_port=3,ip"), "101");
    // Miss in table 2 (reached by goto): table miss, no controller wants
    // it: drop, and no packet-in.
    let (a, o) = run_on(&[&b], 0, "in_port=3,arp");
    assert_eq!(a, "drop");
    assert!(o.packet_ins.is_empty());
    assert_eq!(run(&b, "in_port=9"), "drop");
    // Misses sent to controllers (table-mod, or a pre-1.3 controller): a
    // packet-in, and its userspace action in the datapath actions, so
    // that every packet of the megaflow reaches the controller.
    let mut b = b;
    b.of.tables.get_mut(2).unwrap().miss_config = 3;
    let (a, o) = run_on(&[&b], 0, "in_port=3,arp");
    // OVS's miss rule: cookie 0, max_len 65535; the trace sends nothing.
    assert_eq!(
        a,
        "userspace(pid=0,controller(reason=7,dont_send=1,continuation=0,recirc_id=1,\
         rule_cookie=0,controller_id=0,max_len=65535))"
    );
    assert_eq!(o.packet_ins.len(), 1);
    assert_eq!(o.packet_ins[0].table_id, 2);
    assert_eq!(o.packet_ins[0].reason, REASON_IMPLICIT_MISS);
}

#[test]
fn resubmit_limits_drop_everything() {
    // Each rule resubmits to itself: depth limit.
    let b = bridge("br0", &[1, 2], &["actions=output:2,resubmit(,0)"]);
    let (a, o) = run_on(&[&b], 0, "in_port=1");
    assert_eq!(a, "drop");
    assert_eq!(o.error, Some(XlateError::TooDeep));
    // Fan-out: 2^12 resubmits without going deeper than 13.
    let mut flows = vec![];
    for t in 0..13 {
        flows.push(format!(
            "table={t} actions=resubmit(,{n}),resubmit(,{n})",
            n = t + 1
        ));
    }
    flows.push("table=13 actions=output:2".to_string());
    let refs: Vec<&str> = flows.iter().map(|s| s.as_str()).collect();
    let b = bridge("br0", &[1, 2], &refs);
    let (a, o) = run_on(&[&b], 0, "in_port=1");
    assert_eq!(a, "drop");
    assert_eq!(o.error, Some(XlateError::TooManyResubmits));
}

#[test]
fn header_changes_are_committed_before_output_with_their_bits() {
    let b = bridge(
        "br0",
        &[1, 2, 3],
        &[
            "in_port=1,ip,nw_dst=198.18.0.1 actions=mod_nw_src:198.18.0.9,output:2,mod_dl_dst:00:00:00:00:00:07,output:3",
            "in_port=2,tcp actions=mod_tp_dst:8080,dec_ttl,output:3",
        ],
    );
    assert_eq!(
        run(&b, "in_port=1,tcp,nw_src=198.18.0.2,nw_dst=198.18.0.1"),
        "set(ipv4(src=198.18.0.9)),102,set(eth(dst=00:00:00:00:00:07)),103"
    );
    // nw_proto 0: no L3 header to rewrite (as OVS).
    assert_eq!(
        run(&b, "in_port=1,ip,nw_src=198.18.0.2,nw_dst=198.18.0.1"),
        "102,set(eth(dst=00:00:00:00:00:07)),103"
    );
    let (a, o) = run_on(&[&b], 0, "in_port=2,tcp,nw_ttl=64,tp_dst=80");
    assert_eq!(a, "set(ipv4(ttl=63)),set(tcp(dst=8080)),103");
    let wc = o.wc;
    assert_eq!(wc.bits(dp::W_TP, dp::TP_DST.shift as u32, 16), 0xffff);
    assert_eq!(
        wc.bits(dp::W_TP, dp::TP_SRC.shift as u32, 16),
        0,
        "tp_src untouched"
    );
    assert_eq!(wc.0[dp::W_NW], 0, "addresses untouched");
    // TTL 1: packet-in (invalid_ttl), the rest of the list stops.
    let (a, o) = run_on(&[&b], 0, "in_port=2,tcp,nw_ttl=1");
    assert_eq!(
        a,
        "set(tcp(dst=8080)),userspace(pid=0,controller(reason=2,dont_send=1,continuation=0,\
         recirc_id=1,rule_cookie=0,controller_id=0,max_len=65535))"
    );
    assert_eq!(o.packet_ins[0].reason, REASON_INVALID_TTL);
}

#[test]
fn registers_load_move_and_output_reg() {
    let b = bridge(
        "br0",
        &[1, 2, 3],
        &[
            "in_port=1 actions=load:0x3->NXM_NX_REG0[],move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],resubmit(,1)",
            "table=1,reg1=0x30000 actions=output:NXM_NX_REG0[]",
            "in_port=2 actions=set_field:5->reg2,set_field:00:00:00:00:00:aa->eth_src,resubmit(,2)",
            "table=2,reg2=5 actions=output:1",
        ],
    );
    let (a, o) = run_on(&[&b], 0, "in_port=1");
    assert_eq!(a, "103");
    assert_eq!(o.final_flow.reg(0), 3);
    assert_eq!(o.final_flow.reg(1), 0x30000);
    assert_eq!(run(&b, "in_port=2"), "set(eth(src=00:00:00:00:00:aa)),101");
}

#[test]
fn write_actions_run_at_the_end_in_set_order() {
    let b = bridge(
        "br0",
        &[1, 2, 3],
        &[
            "in_port=1 actions=write_actions(output:3,set_field:00:00:00:00:00:01->eth_dst),goto_table:1",
            "table=1 actions=write_actions(output:2),output:3",
            "in_port=2 actions=write_actions(output:3),clear_actions,goto_table:2",
            "table=2 actions=write_metadata:0x5/0xff,goto_table:3",
            "table=3,metadata=5 actions=output:1",
        ],
    );
    assert_eq!(
        run(&b, "in_port=1"),
        "103,set(eth(dst=00:00:00:00:00:01)),102"
    );
    assert_eq!(run(&b, "in_port=2"), "101");
}

#[test]
fn vlan_push_pop_mod() {
    let b = bridge(
        "br0",
        &[1, 2, 3],
        &[
            "in_port=1 actions=mod_vlan_vid:10,output:2",
            "in_port=2 actions=strip_vlan,output:1",
            "in_port=3 actions=push_vlan:0x8100,set_field:4116->vlan_vid,output:1,mod_vlan_vid:30,output:2",
        ],
    );
    assert_eq!(run(&b, "in_port=1"), "push_vlan(vid=10,pcp=0),102");
    assert_eq!(
        run(&b, "in_port=1,dl_vlan=5"),
        "pop_vlan,push_vlan(vid=10,pcp=0),102"
    );
    assert_eq!(run(&b, "in_port=2,dl_vlan=5"), "pop_vlan,101");
    assert_eq!(
        run(&b, "in_port=3"),
        "push_vlan(vid=20,pcp=0),101,pop_vlan,push_vlan(vid=30,pcp=0),102"
    );
}

#[test]
fn flood_all_and_no_flood() {
    let mut b = bridge(
        "br0",
        &[1, 2, 3, 4],
        &["actions=FLOOD", "priority=40000,in_port=4 actions=ALL"],
    );
    let mut d = port_desc(3, "p3");
    d.config = 1 << 4;
    b.of.set_port(d);
    assert_eq!(run(&b, "in_port=1"), "102,104");
    assert_eq!(run(&b, "in_port=4"), "101,102,103");
}

fn normal_bridge() -> Br {
    let mut b = bridge("br0", &[1, 2, 3, 4], &["actions=NORMAL"]);
    let vl = |mode, tag, trunks: &[u16]| PortVlan {
        mode,
        tag,
        trunks: trunks.to_vec(),
    };
    let mut set = |p: u16, v: PortVlan| {
        let mut x = b.ports.get(p).unwrap().clone();
        x.vlan = v;
        b.ports.set(p, x);
    };
    set(1, vl(VlanMode::Default, Some(10), &[]));
    set(2, vl(VlanMode::Default, Some(10), &[]));
    set(3, vl(VlanMode::Default, Some(20), &[]));
    set(4, vl(VlanMode::Trunk, None, &[10, 20]));
    b
}

#[test]
fn normal_learns_and_keeps_vlans_apart() {
    let b = normal_bridge();
    let a = "dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02";
    let back = "dl_src=00:00:00:00:00:02,dl_dst=00:00:00:00:00:01";
    // Unknown destination: flood in VLAN 10, tagged on the trunk.
    assert_eq!(
        run(&b, &format!("in_port=1,{a}")),
        "102,push_vlan(vid=10,pcp=0),104"
    );
    // The reply from the trunk in VLAN 10 goes to the learned port only.
    assert_eq!(
        run(&b, &format!("in_port=4,dl_vlan=10,{back}")),
        "pop_vlan,101"
    );
    // VLAN 20 has not learned 00:..:01: flood within VLAN 20.
    assert_eq!(
        run(&b, &format!("in_port=4,dl_vlan=20,{back}")),
        "pop_vlan,103"
    );
    // Tagged packet on an access port, VLAN not in trunks: dropped.
    assert_eq!(run(&b, &format!("in_port=1,dl_vlan=10,{a}")), "drop");
    assert_eq!(run(&b, &format!("in_port=4,dl_vlan=30,{a}")), "drop");
    // A MAC moving port.
    assert_eq!(
        run(&b, &format!("in_port=2,{a}")),
        "push_vlan(vid=10,pcp=0),104"
    );
    assert_eq!(b.mac.lookup(10, 1, Instant::now()), Some(2));
    // Megaflow: MACs, VLAN, in_port; not the L3 fields.
    let (_, o) = run_on(&[&b], 0, &format!("in_port=1,ip,nw_dst=198.18.0.1,{a}"));
    assert_eq!(
        o.wc.0[dp::W_DL_DST] & dp::DL_DST.word_mask(),
        dp::DL_DST.word_mask()
    );
    assert_eq!(o.wc.0[dp::W_NW], 0);
}

#[test]
fn normal_forwards_to_static_entries() {
    let b = normal_bridge();
    // 00:..:02 is static on port 2 (VLAN 10).
    b.mac.add_static(10, 2, 2, Instant::now());
    let a = "dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02";
    assert_eq!(run(&b, &format!("in_port=1,{a}")), "102");
    // Seen on the trunk in VLAN 10: not moved, not counted.
    let back = "dl_src=00:00:00:00:00:02,dl_dst=00:00:00:00:00:01";
    assert_eq!(
        run(&b, &format!("in_port=4,dl_vlan=10,{back}")),
        "pop_vlan,101"
    );
    assert_eq!(b.mac.lookup(10, 2, Instant::now()), Some(2));
    assert_eq!(run(&b, &format!("in_port=1,{a}")), "102");
    assert_eq!(b.mac.stats().moved, 0);
    assert_eq!((b.mac.len(), b.mac.static_len()), (2, 1));
    // Once deleted, 00:..:02 is learned on the trunk like any other.
    assert!(b.mac.del_static(10, 2));
    run(&b, &format!("in_port=4,dl_vlan=10,{back}"));
    assert_eq!(b.mac.lookup(10, 2, Instant::now()), Some(4));
}

#[test]
fn native_vlan_modes() {
    let t = |mode| PortVlan {
        mode,
        tag: Some(10),
        trunks: vec![10, 20],
    };
    assert_eq!(t(VlanMode::NativeUntagged).output_tag(10), None);
    assert_eq!(t(VlanMode::NativeUntagged).output_tag(20), Some(20));
    assert_eq!(t(VlanMode::NativeTagged).output_tag(10), Some(10));
    assert_eq!(t(VlanMode::NativeTagged).input_vlan(None), Some(10));
    assert_eq!(t(VlanMode::NativeTagged).input_vlan(Some(30)), None);
    assert_eq!(t(VlanMode::Access).input_vlan(Some(10)), None);
}

#[test]
fn patch_port_continues_in_peer_bridge() {
    let mut a = bridge(
        "br0",
        &[1],
        &["in_port=1 actions=set_field:7->reg0,output:9"],
    );
    let mut b = bridge(
        "br1",
        &[2],
        &["in_port=5,reg0=0 actions=mod_dl_src:00:00:00:00:00:05,output:2"],
    );
    a.ports.set(
        9,
        XPort {
            name: "patch-a".into(),
            dp_port: None,
            peer: Some(PatchPeer {
                bridge: "br1".into(),
                ofport: 5,
            }),
            ..Default::default()
        },
    );
    b.ports.set(
        5,
        XPort {
            name: "patch-b".into(),
            dp_port: None,
            peer: Some(PatchPeer {
                bridge: "br0".into(),
                ofport: 9,
            }),
            ..Default::default()
        },
    );
    let (acts, o) = run_on(&[&a, &b], 0, "in_port=1");
    assert_eq!(acts, "set(eth(src=00:00:00:00:00:05)),102");
    assert_eq!(o.n_rules, 2);
}

#[test]
fn megaflow_keeps_only_examined_bits() {
    let b = bridge(
        "br0",
        &[1, 2],
        &[
            "priority=10,ip,nw_dst=198.18.0.0/16 actions=output:2",
            "priority=0 actions=drop",
        ],
    );
    let (a, o) = run_on(&[&b], 0, "in_port=1,ip,nw_dst=198.18.3.4,nw_src=198.18.9.9");
    assert_eq!(a, "102");
    let m = o.wc.bits(dp::W_NW, dp::NW_DST.shift as u32, 32);
    assert_eq!(m & 0xffff_0000, 0xffff_0000);
    assert_ne!(m, 0xffff_ffff, "prefix tracking keeps the megaflow wide");
    assert_eq!(o.wc.bits(dp::W_NW, dp::NW_SRC.shift as u32, 32), 0);
}

/// `resubmit(port,table)` looks up as if the packet came in on `port` but
/// runs the actions with the real input port (as OVS): output to the
/// real input port is still skipped, and `in_port` reads the real one.
#[test]
fn resubmit_in_port_is_for_the_lookup_only() {
    let b = bridge(
        "br0",
        &[1, 2, 3, 4],
        &[
            "table=0,in_port=4 actions=resubmit(1,1),resubmit(2,1)",
            "table=0,in_port=3 actions=resubmit(2,1)",
            "table=1,in_port=1 actions=output:4",
            "table=1,in_port=2 actions=move:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15],resubmit(,2)",
            "table=2,reg0=3 actions=output:1",
            "table=2,reg0=2 actions=output:2",
        ],
    );
    assert_eq!(run(&b, "in_port=4,tcp"), "drop");
    assert_eq!(run(&b, "in_port=3,tcp"), "101");
}

/// NORMAL reads what OVS's gratuitous-ARP test reads: nothing more for a
/// unicast ARP, the opcode for a broadcast one, and a request's
/// addresses too.
#[test]
fn normal_reads_broadcast_arp_as_ovs() {
    let b = normal_bridge();
    let op = dp::NW_PROTO.word_mask();
    let addrs = dp::NW_SRC.word_mask() | dp::NW_DST.word_mask();
    let wc = |flow: &str| run_on(&[&b], 0, flow).1.wc;
    let w = wc("in_port=1,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,arp,arp_op=1");
    assert_eq!((w.0[dp::W_NW_MISC] & op, w.0[dp::W_NW]), (0, 0));
    let w = wc("in_port=1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=2");
    assert_eq!((w.0[dp::W_NW_MISC] & op, w.0[dp::W_NW]), (op, 0));
    let w = wc("in_port=1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_spa=198.18.0.1,arp_tpa=198.18.0.2");
    assert_eq!((w.0[dp::W_NW_MISC] & op, w.0[dp::W_NW]), (op, addrs));
    // Not ARP: none of it.
    let w = wc("in_port=1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,ip");
    assert_eq!(w.0[dp::W_NW], 0);
}

/// Writing an IP header field reads `nw_proto` (OVS's
/// mf_set_mask_l3_prereqs and its OpenFlow 1.0 `mod_nw_*`): the datapath
/// `set` is committed only for a packet with a protocol, so a megaflow
/// made by a protocol-0 IP packet must not also take TCP packets (which
/// need the `set`). The write comes after the output, so no commit reads
/// the protocol for it. `move` does not read it, as in OVS.
#[test]
fn ip_writes_put_nw_proto_in_the_megaflow() {
    let proto = dp::NW_PROTO.word_mask();
    for act in [
        "mod_nw_dst:198.18.1.9",
        "mod_nw_src:198.18.1.9",
        "mod_nw_tos:16",
        "mod_nw_ecn:1",
        "mod_nw_ttl:9",
        "set_field:198.18.1.9->ip_dst",
        "load:0x5->NXM_NX_IP_TTL[]",
    ] {
        let b = bridge(
            "br0",
            &[1, 2],
            &[&format!("priority=10,in_port=1 actions=output:2,{act}")],
        );
        for pkt in [
            "in_port=1,ip,nw_src=198.18.7.8,nw_dst=198.18.2.170,nw_ttl=64",
            "in_port=1,tcp,nw_src=198.18.7.8,nw_dst=198.18.2.170,nw_ttl=64",
        ] {
            let (_, o) = run_on(&[&b], 0, pkt);
            assert_eq!(o.wc.0[dp::W_NW_MISC] & proto, proto, "{act} on {pkt}");
        }
    }
    let b = bridge(
        "br0",
        &[1, 2],
        &["priority=10,in_port=1 actions=output:2,move:NXM_OF_IP_SRC[]->NXM_NX_REG0[]"],
    );
    let (_, o) = run_on(
        &[&b],
        0,
        "in_port=1,ip,nw_src=198.18.7.8,nw_dst=198.18.2.170",
    );
    assert_eq!(o.wc.0[dp::W_NW_MISC] & proto, 0);
}

/// Each VLAN action reads what OVS's reads: `mod_vlan_vid` the VID,
/// `mod_vlan_pcp` the priority, a pop of the only tag nothing but its
/// presence; the datapath commit of a rewritten tag reads all of it.
#[test]
fn vlan_actions_read_what_ovs_reads() {
    let b = bridge(
        "br0",
        &[1, 2, 3],
        &[
            "in_port=1 actions=pop_vlan",
            "in_port=2 actions=mod_vlan_vid:20,mod_vlan_pcp:5",
            "in_port=3 actions=mod_vlan_vid:20,output:1",
        ],
    );
    let tci = |o: &O| o.wc.bits(dp::W_VLAN, 0, 16);
    let (a, o) = run_on(&[&b], 0, "in_port=1,dl_vlan=10,dl_vlan_pcp=3");
    assert_eq!(a, "drop");
    assert_eq!(tci(&o), 0x1000, "only the present bit");
    let (_, o) = run_on(&[&b], 0, "in_port=2,dl_vlan=10,dl_vlan_pcp=3");
    assert_eq!(tci(&o), 0xffff, "VID and PCP");
    let (a, o) = run_on(&[&b], 0, "in_port=3,dl_vlan=10,dl_vlan_pcp=3");
    assert_eq!(a, "pop_vlan,push_vlan(vid=20,pcp=3),101");
    assert_eq!(tci(&o), 0xffff, "the commit reads the whole tag");
}
