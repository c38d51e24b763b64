//! Unit tests of native tunnelling in translation: what a neighbour miss
//! does, the clone rule, which tunnel port a decapsulated packet belongs
//! to, and neighbour snooping. (The outer headers themselves are checked
//! against OVS in tests/tests/vswitchd_tunnel.rs.)

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::normal::MacTable;
use crate::ofproto::{OfPort, Ofproto, OfprotoConfig};
use crate::tunnel::solicit::neigh_request;
use crate::tunnel::{DevAddr, DevInfo, TnlState};
use crate::xlate::tests::Br;
use crate::xlate::tunnel_input::tunnel_receive;
use crate::xlate::BridgePorts;
use crate::xlate::{odp_text, xlate, BridgeRef, XPort, XlateIn};

const BR0_MAC: [u8; 6] = [0xaa, 0x55, 0xaa, 0x55, 0, 0];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn port(of: &mut Ofproto, ports: &mut BridgePorts, no: u16, name: &str, x: XPort) {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    of.set_port(OfPort {
        port_no: no,
        hw_addr: if name == "br0" {
            BR0_MAC
        } else {
            [2, 0, 0, 0, 0, no as u8]
        },
        name: n,
        ..Default::default()
    });
    ports.set(
        no,
        XPort {
            name: name.into(),
            ..x
        },
    );
}

fn vxlan(dp_port: u32, remote: FromFlow<IpAddr>, key: Option<FromFlow<u64>>) -> XPort {
    XPort {
        tunnel: Some(Arc::new(TnlConfig {
            kind: TnlKind::Vxlan,
            dp_port,
            remote,
            local: None,
            in_key: key,
            out_key: key,
            dst_port: 4789,
            tos: Inherit::Fixed(0),
            ttl: Inherit::Fixed(64),
            df: true,
            csum: false,
            l3: false,
        })),
        ..Default::default()
    }
}

/// br0: the underlay (LOCAL = dp 1 holding 198.18.2.88/24, p0 = dp 2,
/// NORMAL); br-t: port 1 = dp 3, tunnel port 2 (VNI 5 to 198.18.3.9 via
/// gateway 198.18.2.1) on shared dp port 9.
fn setup(flows: &[&str]) -> (Vec<Br>, TnlState) {
    let mut of0 = Ofproto::new(OfprotoConfig::new("br0", 1));
    let mut p0 = BridgePorts::new();
    port(
        &mut of0,
        &mut p0,
        0xfffe,
        "br0",
        XPort {
            dp_port: Some(1),
            ..Default::default()
        },
    );
    port(
        &mut of0,
        &mut p0,
        1,
        "p0",
        XPort {
            dp_port: Some(2),
            ..Default::default()
        },
    );
    of0.add_flow_text("actions=NORMAL").unwrap();
    let mut of1 = Ofproto::new(OfprotoConfig::new("br-t", 2));
    let mut p1 = BridgePorts::new();
    port(
        &mut of1,
        &mut p1,
        1,
        "vm",
        XPort {
            dp_port: Some(3),
            ..Default::default()
        },
    );
    port(
        &mut of1,
        &mut p1,
        2,
        "t",
        vxlan(
            9,
            FromFlow::Fixed(ip("198.18.3.9")),
            Some(FromFlow::Fixed(5)),
        ),
    );
    for f in flows {
        of1.add_flow_text(f).unwrap();
    }
    let tnl = TnlState::new();
    let addrs = vec![DevAddr {
        ip: ip("198.18.2.88"),
        plen: 24,
    }];
    tnl.devs.write().unwrap().insert(
        "br0".into(),
        DevInfo {
            mac: BR0_MAC,
            addrs: addrs.clone(),
        },
    );
    tnl.routes
        .write()
        .unwrap()
        .add_user(
            ip("198.18.3.0"),
            24,
            "br0",
            Some(ip("198.18.2.1")),
            0,
            &addrs,
        )
        .unwrap();
    let brs = vec![
        Br {
            of: of0,
            ports: p0,
            mac: MacTable::default(),
        },
        Br {
            of: of1,
            ports: p1,
            mac: MacTable::default(),
        },
    ];
    (brs, tnl)
}

fn run(brs: &[Br], tnl: &TnlState, bridge: usize, flow: &str) -> String {
    let refs: Vec<BridgeRef> = brs.iter().map(|b| b.bridge_ref()).collect();
    let out = xlate(&XlateIn {
        bridges: &refs,
        bridge,
        flow: crate::trace::parse_trace_flow(flow, &brs[bridge].ports).unwrap(),
        now: Instant::now(),
        may_learn: true,
        tnl: Some(tnl),
        recirc: None,
    });
    odp_text::format_dp_actions(&out.actions, &|p| p.to_string())
}

#[test]
fn neighbour_miss_asks_by_arp_and_drops() {
    let (brs, tnl) = setup(&["in_port=1 actions=output:2"]);
    assert_eq!(
        run(&brs, &tnl, 1, "in_port=1,dl_dst=50:54:00:00:00:02"),
        "drop"
    );
    assert_eq!(
        tnl.neigh_misses.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let reqs = tnl.take_requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.bridge.as_str(), r.in_port), ("br0", 0xfffe));
    // ARP request for the gateway from br0's address.
    let f = &r.frame;
    assert_eq!(&f[0..6], &[0xff; 6]);
    assert_eq!(&f[6..12], &BR0_MAC);
    assert_eq!(&f[12..14], &[0x08, 0x06]);
    assert_eq!(&f[20..22], &[0, 1]);
    assert_eq!(&f[28..32], &[198, 18, 2, 88]);
    assert_eq!(&f[38..42], &[198, 18, 2, 1]);

    // Once the gateway is known: push, then the underlay's NORMAL sends
    // it out of p0 (dp 2).
    tnl.neigh.lock().unwrap().set(
        "br0",
        ip("198.18.2.1"),
        [0xf8, 0xbc, 0x12, 0x44, 0x34, 0x01],
        Instant::now(),
    );
    let a = run(&brs, &tnl, 1, "in_port=1,dl_dst=50:54:00:00:00:02");
    assert!(a.starts_with("tnl_push(tnl_port(9),header(size=50,type=4,eth(dst=f8:bc:12:44:34:01,src=aa:55:aa:55:00:00,dl_type=0x0800),ipv4(src=198.18.2.88,dst=198.18.3.9,"), "{a}");
    assert!(
        a.ends_with("vxlan(flags=0x8000000,vni=0x5)),out_port(1)),2"),
        "{a}"
    );
}

#[test]
fn tunnel_output_not_last_is_cloned() {
    let (brs, tnl) = setup(&["in_port=1 actions=output:2,IN_PORT"]);
    tnl.neigh
        .lock()
        .unwrap()
        .set("br0", ip("198.18.2.1"), [2; 6], Instant::now());
    let a = run(&brs, &tnl, 1, "in_port=1");
    assert!(a.starts_with("clone(tnl_push(tnl_port(9),"), "{a}");
    assert!(a.ends_with(",out_port(1)),2),3"), "{a}");
    // No route: nothing but the other output.
    tnl.routes
        .write()
        .unwrap()
        .del_user(ip("198.18.3.0"), 24, 0);
    assert_eq!(run(&brs, &tnl, 1, "in_port=1"), "3");
}

#[test]
fn packets_to_our_address_are_popped_and_neighbours_snooped() {
    let (brs, tnl) = setup(&[]);
    // VXLAN to 198.18.2.88 at br0's MAC, arriving on p0: NORMAL sends it
    // to LOCAL, which holds the address: tnl_pop to the shared port.
    let a = run(
        &brs,
        &tnl,
        0,
        "in_port=1,dl_src=02:00:00:00:00:09,dl_dst=aa:55:aa:55:00:00,udp,nw_dst=198.18.2.88,udp_dst=4789",
    );
    assert_eq!(a, "tnl_pop(9)");
    // Another UDP port is not a tunnel.
    let a = run(
        &brs,
        &tnl,
        0,
        "in_port=1,dl_src=02:00:00:00:00:09,dl_dst=aa:55:aa:55:00:00,udp,nw_dst=198.18.2.88,udp_dst=53",
    );
    assert_eq!(a, "1");
    // An ARP reply going to LOCAL teaches the neighbour cache.
    run(
        &brs,
        &tnl,
        0,
        "in_port=1,dl_src=02:00:00:00:00:07,dl_dst=aa:55:aa:55:00:00,arp,arp_op=2,arp_spa=198.18.2.1,arp_tpa=198.18.2.88,arp_sha=02:00:00:00:00:07",
    );
    assert_eq!(
        tnl.neigh
            .lock()
            .unwrap()
            .lookup("br0", ip("198.18.2.1"), Instant::now()),
        Some([2, 0, 0, 0, 0, 7])
    );
    // A reply to someone else's address teaches nothing (no poisoning
    // by replies the host never asked for).
    run(
        &brs,
        &tnl,
        0,
        "in_port=1,dl_src=02:00:00:00:00:08,dl_dst=aa:55:aa:55:00:00,arp,arp_op=2,arp_spa=198.18.2.2,arp_tpa=198.18.2.77,arp_sha=02:00:00:00:00:08",
    );
    assert_eq!(
        tnl.neigh
            .lock()
            .unwrap()
            .lookup("br0", ip("198.18.2.2"), Instant::now()),
        None
    );
}

#[test]
fn receive_prefers_the_most_specific_port() {
    let mut ports = BridgePorts::new();
    ports.set(1, vxlan(9, FromFlow::Flow, Some(FromFlow::Flow)));
    ports.set(
        2,
        vxlan(
            9,
            FromFlow::Fixed(ip("198.18.3.9")),
            Some(FromFlow::Fixed(5)),
        ),
    );
    ports.set(
        3,
        vxlan(
            8,
            FromFlow::Fixed(ip("198.18.3.9")),
            Some(FromFlow::Fixed(5)),
        ),
    );
    let flow = |id: u64, src: u32| {
        let mut f = OfFlow::default();
        put(&mut f, dp::TUN_ID, id);
        put(&mut f, dp::TUN_SRC, src as u64);
        put(
            &mut f,
            dp::TUN_DST,
            u32::from_be_bytes([198, 18, 2, 88]) as u64,
        );
        f
    };
    let src = u32::from_be_bytes([198, 18, 3, 9]);
    let mut wc = OfFlow::default();
    assert_eq!(tunnel_receive(&ports, 9, &flow(5, src), &mut wc), Some(2));
    assert_eq!(get(&wc, dp::TUN_ID), u64::MAX);
    assert_eq!(tunnel_receive(&ports, 9, &flow(6, src), &mut wc), Some(1));
    assert_eq!(tunnel_receive(&ports, 8, &flow(6, src), &mut wc), None);
    assert_eq!(tunnel_receive(&ports, 8, &flow(5, src + 1), &mut wc), None);
}

#[test]
fn neighbour_solicitation_is_well_formed() {
    let f = neigh_request([2, 0, 0, 0, 0, 1], ip("2001:db8::1"), ip("2001:db8::2:3")).unwrap();
    assert_eq!(&f[0..6], &[0x33, 0x33, 0xff, 0x02, 0x00, 0x03]);
    assert_eq!(f.len(), 14 + 40 + 32);
    // The ICMPv6 checksum verifies: the sum over pseudo-header and
    // message is all ones.
    let mut sum: u32 = 0;
    let mut add = |d: &[u8]| {
        for c in d.chunks(2) {
            sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
        }
    };
    add(&f[22..54]);
    add(&[0, 0, 0, 32, 0, 0, 0, 58]);
    add(&f[54..]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    assert_eq!(sum, 0xffff);
}

/// A decapsulated packet on the shared port goes to the tunnel port of
/// its key; one with an unknown key is dropped by a flow that matches
/// that key exactly (not the whole shared port).
#[test]
fn upcall_maps_popped_packets_and_drops_unknown_keys_narrowly() {
    use crate::upcall::{Bridge, OfprotoUpcall};
    use ferrovs_datapath::flow::Flow;
    use std::sync::Mutex;

    let mut of = Ofproto::new(OfprotoConfig::new("br-t", 2));
    let mut ports = BridgePorts::new();
    port(
        &mut of,
        &mut ports,
        1,
        "vm",
        XPort {
            dp_port: Some(3),
            ..Default::default()
        },
    );
    port(
        &mut of,
        &mut ports,
        2,
        "t5",
        vxlan(9, FromFlow::Flow, Some(FromFlow::Fixed(5))),
    );
    port(
        &mut of,
        &mut ports,
        3,
        "t6",
        vxlan(9, FromFlow::Flow, Some(FromFlow::Fixed(6))),
    );
    of.add_flow_text("in_port=2 actions=output:1").unwrap();
    of.add_flow_text("in_port=3 actions=drop").unwrap();
    let up = OfprotoUpcall::new();
    let b = Bridge::new(Arc::new(Mutex::new(of)));
    for (no, x) in ports.iter() {
        b.set_port(no, x.clone());
    }
    up.add_bridge(b);
    let popped = |key: u64| {
        let mut f = Flow::default();
        f.set(dp::IN_PORT, 9);
        f.set(dp::TUN_ID, key);
        f.set(dp::TUN_SRC, u32::from_be_bytes([198, 18, 3, 9]) as u64);
        f.set(dp::TUN_DST, u32::from_be_bytes([198, 18, 2, 88]) as u64);
        f
    };
    let t = up.translate(&popped(5), false, 0).unwrap();
    assert_eq!(
        odp_text::format_dp_actions(&t.actions, &|p| p.to_string()),
        "3"
    );
    let t = up.translate(&popped(7), false, 0).unwrap();
    assert!(t.actions.is_empty());
    assert_eq!(get(&t.wc, dp::TUN_ID), u64::MAX, "the drop matches the key");
    // A port that is not a tunnel's and not known: no translation.
    let mut f = popped(5);
    f.set(dp::IN_PORT, 77);
    assert!(up.translate(&f, false, 0).is_none());
}

#[test]
fn outer_ce_marks_the_inner_packet_or_drops_it() {
    let (brs, tnl) = setup(&["in_port=2,actions=output:1"]);
    let refs: Vec<BridgeRef> = brs.iter().map(|b| b.bridge_ref()).collect();
    let go = |outer_tos: u64, inner_tos: u64| {
        let mut flow = crate::trace::parse_trace_flow(
            "in_port=2,tun_id=5,tun_src=198.18.3.9,tun_dst=198.18.2.88,tcp",
            &brs[1].ports,
        )
        .unwrap();
        put(&mut flow, dp::TUN_TOS, outer_tos);
        put(&mut flow, dp::NW_TOS, inner_tos);
        let out = xlate(&XlateIn {
            bridges: &refs,
            bridge: 1,
            flow,
            now: Instant::now(),
            may_learn: false,
            tnl: Some(&tnl),
            recirc: None,
        });
        (
            odp_text::format_dp_actions(&out.actions, &|p| p.to_string()),
            get(&out.wc, dp::TUN_TOS),
            get(&out.wc, dp::NW_TOS),
        )
    };
    // ECT(1) inside, CE outside: the inner packet leaves CE.
    let (a, tun_tos_m, tos_m) = go(3, 0x21);
    assert_eq!(a, "set(ipv4(tos=0x3/0x3)),3");
    assert_eq!((tun_tos_m, tos_m & 3), (0xff, 3));
    // Not ECN capable inside: dropped.
    assert_eq!(go(3, 0x20).0, "drop");
    // No CE outside: untouched, the inner ECN not looked at.
    let (a, tun_tos_m, tos_m) = go(2, 0x20);
    assert_eq!(a, "3");
    assert_eq!((tun_tos_m, tos_m), (0xff, 0));
}

#[test]
fn trace_flow_text_carries_tun_tos_and_tun_ttl() {
    let (brs, _) = setup(&[]);
    let p = |t: &str| crate::trace::parse_trace_flow(t, &brs[1].ports);
    let f =
        p("in_port=2,tun_id=5,tun_src=198.18.3.9,tun_dst=198.18.2.88,tun_tos=3,tun_ttl=0x40,tcp")
            .unwrap();
    assert_eq!(get(&f, dp::TUN_TOS), 3);
    assert_eq!(get(&f, dp::TUN_TTL), 64);
    // The rest is still parsed.
    assert_eq!(get(&f, dp::TUN_ID), 5);
    assert!(matches!(
        p("in_port=2,tun_tos=300"),
        Err(crate::trace::TraceError::BadFlow(_))
    ));
}

#[test]
fn trace_flow_text_packet_type_makes_an_l3_packet() {
    let (brs, _) = setup(&[]);
    let f = crate::trace::parse_trace_flow("in_port=2,packet_type=(1,0x800),ip", &brs[1].ports)
        .unwrap();
    assert_eq!(f.0[crate::flow::W_PACKET_TYPE], 0x1_0800);
    assert_eq!(get(&f, dp::PACKET_TYPE_NS), 1);
    assert_eq!(get(&f, dp::DL_TYPE), 0x0800);
}

/// Two GRE ports on the same key and remote, one `legacy_l3`: the packet
/// type of the decapsulated packet picks the port (and is matched).
#[test]
fn receive_tells_l3_gre_from_ethernet_gre() {
    let gre = |l3: bool| XPort {
        tunnel: Some(Arc::new(TnlConfig {
            kind: TnlKind::Gre,
            dp_port: 3,
            remote: FromFlow::Fixed(ip("198.18.3.9")),
            local: None,
            in_key: Some(FromFlow::Fixed(456)),
            out_key: Some(FromFlow::Fixed(456)),
            dst_port: 0,
            tos: Inherit::Fixed(0),
            ttl: Inherit::Fixed(64),
            df: true,
            csum: false,
            l3,
        })),
        ..Default::default()
    };
    let mut ports = BridgePorts::new();
    ports.set(1, gre(false));
    ports.set(7, gre(true));
    let mut f = OfFlow::default();
    put(&mut f, dp::TUN_ID, 456);
    put(
        &mut f,
        dp::TUN_SRC,
        u32::from_be_bytes([198, 18, 3, 9]) as u64,
    );
    put(
        &mut f,
        dp::TUN_DST,
        u32::from_be_bytes([198, 18, 2, 88]) as u64,
    );
    let mut wc = OfFlow::default();
    assert_eq!(tunnel_receive(&ports, 3, &f, &mut wc), Some(1));
    assert_eq!(get(&wc, dp::PACKET_TYPE_NS), 0xffff);
    put(&mut f, dp::PACKET_TYPE_NS, 1);
    put(&mut f, dp::DL_TYPE, 0x0800);
    assert_eq!(tunnel_receive(&ports, 3, &f, &mut wc), Some(7));
    ports.set(7, gre(false));
    assert_eq!(tunnel_receive(&ports, 3, &f, &mut wc), None);
}

/// `decap()` and `encap(ethernet)` change the packet type; the commit
/// emits pop_eth/push_eth; an L3 packet does not leave by an Ethernet
/// port; encap(ethernet) of an Ethernet packet drops it (as OVS 3.1,
/// compared in tests/tests/vswitchd_tunnel.rs).
#[test]
fn decap_and_encap_ethernet() {
    let go = |actions: &str| {
        let f = format!("in_port=1,actions={actions}");
        let (brs, tnl) = setup(&[&f]);
        run(&brs, &tnl, 1, "in_port=1,dl_dst=50:54:00:00:00:02,ip")
    };
    assert_eq!(
        go("decap(),encap(ethernet),set_field:50:54:00:00:00:0b->dl_dst,in_port"),
        "pop_eth,push_eth(src=00:00:00:00:00:00,dst=50:54:00:00:00:0b),3"
    );
    assert_eq!(go("decap(),in_port"), "drop");
    assert_eq!(go("encap(ethernet),in_port"), "drop");
    // Changes before the decap are committed to the Ethernet frame first.
    assert_eq!(
        go("set_field:50:54:00:00:00:0c->dl_src,decap(),encap(ethernet),in_port"),
        "set(eth(src=50:54:00:00:00:0c)),pop_eth,push_eth(src=00:00:00:00:00:00,dst=00:00:00:00:00:00),3"
    );
}
