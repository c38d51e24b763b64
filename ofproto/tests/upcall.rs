//! Packets really forwarded by the OpenFlow tables: a real `Datapath`
//! with in-memory ports and `OfprotoUpcall` as its upcall handler. Frames
//! enter, miss, are translated, the megaflow is installed, later frames
//! hit it; what comes out of each port, the datapath counters and the
//! rules' counters are checked.

mod support;

use std::sync::{Arc, Mutex};

use ferrovs_datapath::dpif::{Datapath, DpConfig};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_ofproto::flow::OfMatch;
use ferrovs_ofproto::upcall::{Bridge, OfprotoUpcall};
use ferrovs_ofproto::xlate::{PortVlan, XPort};
use ferrovs_ofproto::{Ofproto, OfprotoConfig};
use ferrovs_openflow::text::wire::match_to_wire;
use ferrovs_openflow::text::FlowText;
use support::mem_switch::MemSwitch;

/// An Ethernet/IPv4/UDP frame (checksums zero: not checked here).
fn udp_frame(
    src: [u8; 6],
    dst: [u8; 6],
    vlan: Option<u16>,
    nw_dst: [u8; 4],
    dport: u16,
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let payload = [0u8; 18];
    let tot = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (tot >> 8) as u8,
        tot as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[198, 18, 0, 1]);
    f.extend_from_slice(&nw_dst);
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&payload);
    f
}

const A: [u8; 6] = [0, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [0, 0, 0, 0, 0, 0xb];

fn om(text: &str) -> OfMatch {
    let ft = FlowText::parse(text, false).unwrap();
    OfMatch::from_match(&match_to_wire(&ft.matches).unwrap()).unwrap()
}

#[test]
fn packets_are_forwarded_by_the_openflow_tables() {
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    for f in [
        "table=0,priority=10,in_port=1,udp,tp_dst=53 actions=resubmit(,1)",
        "table=0,priority=5,in_port=1 actions=NORMAL",
        "table=0,priority=5,in_port=2 actions=NORMAL",
        "table=0,priority=5,in_port=3 actions=NORMAL",
        "table=1,ip,nw_dst=198.18.0.0/16 actions=mod_dl_dst:00:00:00:00:00:0c,output:3",
    ] {
        of.add_flow_text(f).unwrap();
    }
    let of = Arc::new(Mutex::new(of));
    let br = Bridge::new(of.clone());
    let up = OfprotoUpcall::new();
    up.add_bridge(br.clone());

    let cfg = DpConfig {
        emc_insert_inv_prob: 1,
        ..DpConfig::default()
    };
    let dp = Datapath::new(cfg, up.clone());
    let ports: Vec<Arc<MemNetdev>> = (1..=3)
        .map(|i| MemNetdev::new(&format!("p{i}"), 1, 1))
        .collect();
    for (i, p) in ports.iter().enumerate() {
        // Datapath port 10+i is OpenFlow port i+1.
        dp.add_port(10 + i as u32, p.clone()).unwrap();
        br.set_port(
            i as u16 + 1,
            XPort {
                name: format!("p{}", i + 1),
                dp_port: Some(10 + i as u32),
                vlan: if i == 2 {
                    PortVlan::default() // trunk
                } else {
                    PortVlan {
                        tag: Some(7),
                        ..Default::default()
                    }
                },
                peer: None,
                tunnel: None,
            },
        );
    }
    let mut pmd = dp.pmd_inline(0).unwrap();
    let mut send = |port: usize, f: &[u8]| {
        assert!(ports[port - 1].inject(0, DpPacket::from_bytes(f)));
        pmd.poll_once();
    };
    let take = |port: usize| -> Vec<Vec<u8>> {
        ports[port - 1]
            .take_tx(0)
            .iter()
            .map(|p| p.data().to_vec())
            .collect()
    };

    // DNS to 198.18.x.x: table 1 rewrites dl_dst and sends to port 3.
    let dns = udp_frame(A, B, None, [198, 18, 5, 5], 53);
    for _ in 0..5 {
        send(1, &dns);
    }
    let out3 = take(3);
    assert_eq!(out3.len(), 5);
    assert_eq!(&out3[0][..6], &[0, 0, 0, 0, 0, 0x0c]);
    assert_eq!(&out3[0][6..], &dns[6..]);
    assert!(take(2).is_empty());
    let s = dp.stats();
    assert_eq!((s.misses, s.upcalls, s.flows_installed), (1, 1, 1));
    assert_eq!(s.emc_hits + s.megaflow_hits, 4);

    // Another destination in the same /16 and another source port: same
    // megaflow (the mask holds the /16 prefix bits, not the source port).
    let dns2 = udp_frame(A, B, None, [198, 18, 9, 9], 53);
    send(1, &dns2);
    assert_eq!(take(3).len(), 1);
    assert_eq!(dp.stats().flows_installed, 1);

    // NORMAL: A (port 1, VLAN 7 access) to unknown B floods in VLAN 7:
    // port 2 untagged, port 3 (trunk) tagged 7.
    let l2 = udp_frame(A, B, None, [10, 0, 0, 1], 9);
    send(1, &l2);
    assert_eq!(take(2), vec![l2.clone()]);
    let t = take(3);
    assert_eq!(t.len(), 1);
    assert_eq!(&t[0][12..16], &[0x81, 0x00, 0, 7]);
    // B answers from the trunk, tagged 7: goes to A's port only, untagged.
    let back = udp_frame(B, A, Some(7), [10, 0, 0, 2], 9);
    send(3, &back);
    let got = take(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0], udp_frame(B, A, None, [10, 0, 0, 2], 9));
    assert!(take(2).is_empty());
    assert_eq!(br.mac.len(), 2);

    // Revalidation: the A->B flood megaflow is stale now that B was
    // learned (it would be unicast); the others stay. A second round
    // finds nothing to do.
    let n = dp.flow_count();
    let r = up.revalidate(&dp, 10_000);
    assert_eq!((r.checked, r.deleted_stale, r.deleted_idle), (n, 1, 0));

    // Rule counters: the round pushed each megaflow's packets (misses and
    // hits alike) to the rules its translation goes through.
    up.flush_stats();
    let g = of.lock().unwrap();
    let r0 = g.rule(0, &om("in_port=1,udp,tp_dst=53"), 10).expect("rule");
    assert_eq!(r0.packet_count, 6);
    assert_eq!(r0.byte_count, 6 * dns.len() as u64);
    let r1 = g
        .rule(1, &om("ip,nw_dst=198.18.0.0/16"), 32768)
        .expect("rule");
    assert_eq!(r1.packet_count, 6);
    // Table counters (OpenFlow table stats): every packet looked up in
    // table 0 and matched there; the six DNS ones also in table 1.
    let ts = g.table_stats();
    assert_eq!((ts[0].lookup_count, ts[0].matched_count), (8, 8));
    assert_eq!((ts[1].lookup_count, ts[1].matched_count), (6, 6));
    assert_eq!((ts[2].lookup_count, ts[2].matched_count), (0, 0));
    // Datapath counters agree with what was sent.
    let s = dp.stats();
    assert_eq!(s.rx_packets, 5 + 1 + 1 + 1);
    assert_eq!(s.tx_packets, 5 + 1 + 2 + 1);
    drop(g);
    // Nothing new: a second push adds nothing.
    up.revalidate(&dp, 10_000);
    up.flush_stats();
    let g = of.lock().unwrap();
    let r0 = g.rule(0, &om("in_port=1,udp,tp_dst=53"), 10).expect("rule");
    assert_eq!(r0.packet_count, 6);
    drop(g);

    let r = up.revalidate(&dp, 10_000);
    assert_eq!((r.checked, r.deleted_stale, r.deleted_idle), (n - 1, 0, 0));
    // A flow-mod: DNS to 198.18.0.0/16 now goes to port 2. The stale
    // megaflow goes, and the next packet follows the new rule.
    of.lock()
        .unwrap()
        .add_flow_text("table=1,priority=40000,ip,nw_dst=198.18.0.0/16 actions=output:2")
        .unwrap();
    let r = up.revalidate(&dp, 10_000);
    assert_eq!(r.deleted_stale, 1, "{r:?}");
    send(1, &dns);
    assert_eq!(take(2), vec![dns.clone()]);
    assert!(take(3).is_empty());
}

/// A controller action in the tables reaches a connected `ovs-ofctl
/// monitor` as a packet-in, through the datapath's userspace action.
#[test]
fn controller_action_reaches_the_controller() {
    use std::io::Read;
    use std::process::{Command, Stdio};

    let server = support::SwitchServer::start("br0", &[(1, "p1"), (2, "p2")]);
    server
        .ofproto
        .lock()
        .unwrap()
        .add_flow_text("in_port=1,udp actions=controller:64")
        .unwrap();
    let br = Bridge::new(server.ofproto.clone());
    let up = OfprotoUpcall::new();
    up.add_bridge(br.clone());
    let dp = Datapath::new(DpConfig::default(), up.clone());
    let p1 = MemNetdev::new("p1", 1, 1);
    dp.add_port(7, p1.clone()).unwrap();
    br.set_port(
        1,
        XPort {
            name: "p1".into(),
            dp_port: Some(7),
            ..Default::default()
        },
    );
    let mut pmd = dp.pmd_inline(0).unwrap();

    // `monitor SWITCH 128` asks for packet-ins (miss_send_len 128).
    let mut mon = Command::new(ferrovs_tests::tool("stdbuf"))
        .arg("-o0")
        .arg(ferrovs_tests::tool("ovs-ofctl"))
        .arg("monitor")
        .arg(format!("unix:{}", server.path.display()))
        .arg("128")
        .env("OVS_RUNDIR", server.path.parent().unwrap())
        .env("OVS_LOGDIR", server.path.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ovs-ofctl monitor");
    std::thread::sleep(std::time::Duration::from_millis(500));

    let f = udp_frame(A, B, None, [198, 18, 0, 9], 7);
    for _ in 0..2 {
        assert!(p1.inject(0, DpPacket::from_bytes(&f)));
        pmd.poll_once();
    }
    let pins = up.take_packet_ins();
    assert_eq!(pins.len(), 2, "the first packet and the megaflow hit");
    {
        let mut of = server.ofproto.lock().unwrap();
        for (name, pi, bytes) in &pins {
            assert_eq!(name, "br0");
            assert_eq!(pi.reason, 1);
            assert_eq!(bytes, &f);
            let sent = of.send_packet_in(pi, bytes);
            if sent != 1 {
                let _ = mon.kill();
                let mut o = String::new();
                mon.stdout.take().unwrap().read_to_string(&mut o).unwrap();
                mon.stderr.take().unwrap().read_to_string(&mut o).unwrap();
                panic!("sent to {sent}; monitor printed:\n{o}");
            }
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = mon.kill();
    let mut out = String::new();
    mon.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    mon.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let _ = mon.wait();
    let out = format!("{out}{err}");
    let n = out.matches("PACKET_IN").count();
    assert_eq!(n, 2, "monitor output:\n{out}");
    assert!(out.contains("in_port=1"), "{out}");
    assert!(out.contains("(via action)"), "{out}");
    assert!(out.contains("total_len=60"), "{out}");
}

/// A revalidation round with nothing changed translates nothing (OVS's
/// `need_revalidate` false): the megaflows are only checked for
/// idleness, and a used one's counters go to its rules from the
/// revalidator's cache of its translation; a flow-mod, a port change, an
/// `fdb/flush` or a MAC entry aging out make every megaflow translated
/// again, within that round.
#[test]
fn an_unchanged_switch_revalidates_without_translating() {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, Instant};

    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    for f in [
        "table=0,priority=10,in_port=1,udp,tp_dst=53 actions=output:2",
        "table=0,priority=5 actions=NORMAL",
    ] {
        of.add_flow_text(f).unwrap();
    }
    // A clock the test moves (MAC aging).
    let start = Instant::now();
    let skew = Arc::new(Mutex::new(Duration::ZERO));
    let s2 = skew.clone();
    of.set_clock(Arc::new(move || start + *s2.lock().unwrap()));
    let of = Arc::new(Mutex::new(of));
    let MemSwitch { br, up, dp, ports } = MemSwitch::new(of.clone(), 3, 11);
    let mut pmd = dp.pmd_inline(0).unwrap();
    let mut send = |port: usize, f: &[u8]| {
        assert!(ports[port - 1].inject(0, DpPacket::from_bytes(f)));
        pmd.poll_once();
    };
    // Six megaflows: DNS, and NORMAL floods to five destinations.
    let dns = udp_frame(A, B, None, [198, 18, 0, 2], 53);
    send(1, &dns);
    for d in 1..=5u8 {
        send(
            1,
            &udp_frame(A, [2, 0, 0, 0, 0, d], None, [198, 18, 0, d], 9),
        );
    }
    let n = dp.flow_count();
    assert_eq!(n, 6);

    // First round: every megaflow is new to the revalidator.
    let r = up.revalidate(&dp, 10_000);
    assert_eq!((r.checked, r.translated, r.deleted_stale), (n, n, 0));
    // Nothing changed since: no translation at all.
    let before = up.translations.load(Relaxed);
    for _ in 0..3 {
        let r = up.revalidate(&dp, 10_000);
        assert_eq!(
            (r.checked, r.translated, r.deleted_stale),
            (n, 0, 0),
            "{r:?}"
        );
    }
    assert_eq!(up.translations.load(Relaxed), before);

    // Packets on the DNS megaflow: still no translation, and its
    // counters reach its rule (through the revalidator's cache of it).
    send(1, &dns);
    send(1, &dns);
    let r = up.revalidate(&dp, 10_000);
    assert_eq!((r.checked, r.translated), (n, 0), "{r:?}");
    up.flush_stats();
    let pc = |of: &Arc<Mutex<Ofproto>>| {
        of.lock()
            .unwrap()
            .rule(0, &om("in_port=1,udp,tp_dst=53"), 10)
            .expect("rule")
            .packet_count
    };
    assert_eq!(pc(&of), 3);
    // Table 0 looked up every packet: 6 pushed by the first round, 2 by
    // the cache.
    assert_eq!(of.lock().unwrap().table_stats()[0].lookup_count, 8);
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);

    // A flow-mod: every megaflow within that round (DNS's is stale).
    of.lock()
        .unwrap()
        .add_flow_text("table=0,priority=20,in_port=1,udp,tp_dst=53 actions=output:3")
        .unwrap();
    let r = up.revalidate(&dp, 10_000);
    assert_eq!((r.translated, r.deleted_stale), (n, 1), "{r:?}");
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);

    // fdb/flush (A was learned on port 1).
    assert_eq!(br.mac.len(), 1);
    br.mac.flush(None);
    let all = |r: ferrovs_ofproto::revalidate::RevalidateStats| {
        assert!(r.checked > 0 && r.translated == r.checked, "{r:?}");
    };
    all(up.revalidate(&dp, 10_000));
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);

    // A MAC entry ageing out (OVS's default 300 s): relearn A, then move
    // the bridge's clock past its age.
    let moved = udp_frame(A, B, None, [198, 18, 0, 9], 9);
    send(2, &moved);
    up.revalidate(&dp, 10_000);
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);
    assert_eq!(br.mac.len(), 1);
    // A packet on that megaflow at 200 s: the cache refreshes A's entry
    // (NORMAL's learning), so it is still there at 301 s.
    *skew.lock().unwrap() = Duration::from_secs(200);
    let upcalls = dp.stats().upcalls;
    send(2, &moved);
    assert_eq!(dp.stats().upcalls, upcalls, "a megaflow hit");
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);
    *skew.lock().unwrap() = Duration::from_secs(301);
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);
    assert_eq!(br.mac.len(), 1);
    *skew.lock().unwrap() = Duration::from_secs(501);
    all(up.revalidate(&dp, 10_000));
    assert_eq!(br.mac.len(), 0);
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);

    // A port change (same port, another datapath port number).
    br.set_port(
        3,
        XPort {
            dp_port: Some(30),
            ..MemSwitch::xport(3, 11)
        },
    );
    all(up.revalidate(&dp, 10_000));
    assert_eq!(up.revalidate(&dp, 10_000).translated, 0);
}

/// With `exact_flows` (megaflows disabled), two packets that differ only
/// in a field the tables never look at make two datapath flows with
/// exact masks; with megaflows, one.
#[test]
fn exact_flows_install_one_flow_per_packet() {
    use std::sync::atomic::Ordering::Relaxed;

    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    of.add_flow_text("table=0,priority=5 actions=NORMAL")
        .unwrap();
    let of = Arc::new(Mutex::new(of));
    let MemSwitch { up, dp, ports, .. } = MemSwitch::new(of, 2, 11);
    let mut pmd = dp.pmd_inline(0).unwrap();
    let mut send = |dport: u16| {
        let f = udp_frame(A, B, None, [198, 18, 0, 2], dport);
        assert!(ports[0].inject(0, DpPacket::from_bytes(&f)));
        pmd.poll_once();
    };
    send(9);
    send(10);
    assert_eq!(dp.flow_count(), 1);

    up.exact_flows.store(true, Relaxed);
    dp.flow_flush();
    send(9);
    send(10);
    let flows = dp.flow_dump_shared();
    assert_eq!(flows.len(), 2);
    use ferrovs_datapath::flow::layout::{NW_SRC, TP_DST, TP_SRC};
    for f in flows.iter() {
        let mut m = ferrovs_datapath::flow::Flow::default();
        f.mask.expand(&mut m);
        // Fields NORMAL never looks at are matched whole.
        for fld in [NW_SRC, TP_SRC, TP_DST] {
            assert_eq!(m.get(fld), fld.word_mask() >> fld.shift, "{fld:?}");
        }
    }
}
