//! Packets really forwarded by ferrovs-vswitchd: dummy ports fed with
//! `ovs-appctl netdev-dummy/receive`, each recording what the datapath
//! sends it in `options:tx_pcap` (as OVS's netdev-dummy). Covers an
//! OpenFlow table (`in_port=1,actions=output:2`), the standalone fail
//! mode's NORMAL flow with MAC learning (`fdb/show`), VLAN access ports,
//! and `ofproto/trace`'s `Datapath actions:` line compared with Debian's
//! ovs-vswitchd given the same ports and flows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::{dp_names, named_actions};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

/// `ovs-vsctl` arguments that add dummy ports p1..pN to br0 with
/// ofport_request 1..N, each recording its output in `DIR/pK-tx.pcap`,
/// and `extra` settings per port (e.g. `tag=10`).
fn add_ports(dir: &Path, ports: &[(&str, &[&str])]) -> Vec<String> {
    let mut a = Vec::new();
    for (k, (name, extra)) in ports.iter().enumerate() {
        if !a.is_empty() {
            a.push("--".to_string());
        }
        a.extend(["add-port", "br0", name].map(String::from));
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["--", "set", "Interface", name, "type=dummy"].map(String::from));
        a.push(format!("ofport_request={}", k + 1));
        a.push(format!(
            "options:tx_pcap={}",
            dir.join(format!("{name}-tx.pcap")).display()
        ));
    }
    a
}

fn vsctl(fv: &FerrovsVswitchd, args: &[String]) -> String {
    fv.vsctl_ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Frames in a pcap file (none if it does not exist yet).
/// An ICMP echo request from 50:54:00:00:00:0<src> to ...:0<dst>.
fn icmp(src: u8, dst: u8) -> String {
    format!(
        "50540000000{dst}50540000000{src}080045000054000040004001000ac612000{src}c612000{dst}0800f7ff00000000"
    )
}

struct Tx {
    files: BTreeMap<String, PathBuf>,
}

impl Tx {
    fn new(fv: &FerrovsVswitchd, names: &[&str]) -> Tx {
        Tx {
            files: names
                .iter()
                .map(|n| (n.to_string(), fv.dir().join(format!("{n}-tx.pcap"))))
                .collect(),
        }
    }
    fn count(&self, port: &str) -> usize {
        ferrovs_tests::pcap::frames(&self.files[port])
            .unwrap_or_default()
            .len()
    }
    fn counts(&self) -> BTreeMap<String, usize> {
        self.files
            .keys()
            .map(|n| (n.clone(), self.count(n)))
            .collect()
    }
    /// Waits (5 s) until the counts are `want`, then a little longer to
    /// see that nothing more arrives.
    fn expect(&self, fv: &FerrovsVswitchd, want: &[(&str, usize)]) {
        let want: BTreeMap<String, usize> = want.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        let reached = fv.wait_until(Duration::from_secs(5), || self.counts() == want);
        // The slow path drains ports every 100 ms: give stragglers 300 ms.
        std::thread::sleep(Duration::from_millis(300));
        let got = self.counts();
        assert!(
            reached && got == want,
            "tx counts {got:?}, expected {want:?}\nlog:\n{}",
            fv.log()
        );
    }
}

#[test]
fn openflow_table_forwards() {
    let fv = FerrovsVswitchd::start().unwrap();
    let mut a: Vec<String> = [
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "fail_mode=secure",
        "--",
    ]
    .map(String::from)
    .to_vec();
    a.extend(add_ports(
        fv.dir(),
        &[("p1", &[]), ("p2", &[]), ("p3", &[])],
    ));
    vsctl(&fv, &a);
    // Secure mode: no flow until the controller adds one.
    assert_eq!(fv.ofctl_ok(&[], "dump-flows", "br0", &["--no-stats"]), "");
    fv.ofctl_ok(&[], "add-flow", "br0", &["in_port=1,actions=output:2"]);
    let tx = Tx::new(&fv, &["p1", "p2", "p3"]);
    let pkt = icmp(1, 2);
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &pkt]);
    tx.expect(&fv, &[("p1", 0), ("p2", 1), ("p3", 0)]);
    assert_eq!(
        hex::encode(&ferrovs_tests::pcap::frames(&tx.files["p2"]).unwrap_or_default()[0]),
        pkt
    );
    // The second packet hits the megaflow the first one installed.
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &pkt]);
    tx.expect(&fv, &[("p1", 0), ("p2", 2), ("p3", 0)]);
    // Unmatched input (p2) is dropped.
    fv.appctl_ok(&["netdev-dummy/receive", "p2", &icmp(2, 1)]);
    tx.expect(&fv, &[("p1", 0), ("p2", 2), ("p3", 0)]);
    // The rule is credited with both packets: the revalidator pushes the
    // megaflow's counters (the miss and the hit) to it.
    fv.appctl_ok(&["revalidator/wait"]);
    let counted = fv.wait_until(Duration::from_secs(5), || {
        fv.ofctl_ok(&[], "dump-flows", "br0", &[])
            .contains("n_packets=2, n_bytes=84,")
    });
    assert!(counted, "{}", fv.ofctl_ok(&[], "dump-flows", "br0", &[]));
    // A flow-mod reaches installed megaflows within a revalidation round.
    fv.ofctl_ok(&[], "mod-flows", "br0", &["in_port=1,actions=output:3"]);
    fv.appctl_ok(&["revalidator/wait"]);
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &pkt]);
    tx.expect(&fv, &[("p1", 0), ("p2", 2), ("p3", 1)]);
    // The megaflow cache is visible and can be purged.
    let show = fv.appctl_ok(&["upcall/show"]);
    assert!(
        show.starts_with("netdev@ovs-netdev:\n  flows         : (current "),
        "{show}"
    );
    fv.appctl_ok(&["revalidator/purge"]);
    let show = fv.appctl_ok(&["upcall/show"]);
    assert!(show.contains("(current 0)"), "{show}");
}

#[test]
fn standalone_normal_learns_macs() {
    let fv = FerrovsVswitchd::start().unwrap();
    let mut a: Vec<String> = [
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "--",
    ]
    .map(String::from)
    .to_vec();
    a.extend(add_ports(
        fv.dir(),
        &[("p1", &[]), ("p2", &[]), ("p3", &[])],
    ));
    vsctl(&fv, &a);
    // OVS's standalone bridge without controllers: one visible flow.
    assert_eq!(
        fv.ofctl_ok(&[], "dump-flows", "br0", &["--no-stats"]),
        " priority=0 actions=NORMAL\n"
    );
    let tx = Tx::new(&fv, &["p1", "p2", "p3"]);
    // Unknown destination: flooded, never back out of p1.
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &icmp(1, 2)]);
    tx.expect(&fv, &[("p1", 0), ("p2", 1), ("p3", 1)]);
    // The reply goes to p1 only: its address was learned there.
    fv.appctl_ok(&["netdev-dummy/receive", "p2", &icmp(2, 1)]);
    tx.expect(&fv, &[("p1", 1), ("p2", 1), ("p3", 1)]);
    // And now p1 -> :02 goes to p2 only (the flood megaflow was revalidated).
    fv.appctl_ok(&["revalidator/wait"]);
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &icmp(1, 2)]);
    tx.expect(&fv, &[("p1", 1), ("p2", 2), ("p3", 1)]);
    let fdb = fv.appctl_ok(&["fdb/show", "br0"]);
    let lines: Vec<Vec<&str>> = fdb
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["port", "VLAN", "MAC", "Age"], "{fdb}");
    let mut entries: Vec<(&str, &str, &str)> =
        lines[1..].iter().map(|l| (l[0], l[1], l[2])).collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            ("1", "0", "50:54:00:00:00:01"),
            ("2", "0", "50:54:00:00:00:02")
        ],
        "{fdb}"
    );
    assert_eq!(
        fv.appctl_ok(&["fdb/flush", "br0"]),
        "table successfully flushed\n"
    );
    assert_eq!(fv.appctl_ok(&["fdb/show", "br0"]).lines().count(), 1);
    let e = fv.appctl(&["fdb/show", "nobr"]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("no such bridge"));

    // Flows after fail-mode and controller changes: see
    // fail_mode_flows_match_ovs.
}

#[test]
fn vlan_access_ports() {
    let fv = FerrovsVswitchd::start().unwrap();
    let mut a: Vec<String> = [
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "--",
    ]
    .map(String::from)
    .to_vec();
    a.extend(add_ports(
        fv.dir(),
        &[
            ("p1", &["tag=10"]),
            ("p2", &["tag=10"]),
            ("p3", &["tag=20"]),
            ("p4", &[]),
        ],
    ));
    vsctl(&fv, &a);
    let tx = Tx::new(&fv, &["p1", "p2", "p3", "p4"]);
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &icmp(1, 2)]);
    // VLAN 10 floods to p2 (untagged) and the trunk p4 (tagged 10).
    tx.expect(&fv, &[("p1", 0), ("p2", 1), ("p3", 0), ("p4", 1)]);
    let pkt = icmp(1, 2);
    assert_eq!(
        hex::encode(&ferrovs_tests::pcap::frames(&tx.files["p2"]).unwrap_or_default()[0]),
        pkt
    );
    let tagged = format!("{}8100000a{}", &pkt[..24], &pkt[24..]);
    assert_eq!(
        hex::encode(&ferrovs_tests::pcap::frames(&tx.files["p4"]).unwrap_or_default()[0]),
        tagged
    );
    let fdb = fv.appctl_ok(&["fdb/show", "br0"]);
    assert!(
        fdb.lines()
            .any(|l| l.split_whitespace().take(3).collect::<Vec<_>>()
                == ["1", "10", "50:54:00:00:00:01"]),
        "{fdb}"
    );
    // Moving p3 to VLAN 10 is picked up by the reconciler.
    fv.vsctl_ok(&["set", "Port", "p3", "tag=10"]);
    fv.appctl_ok(&["revalidator/wait"]);
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &icmp(1, 3)]);
    tx.expect(&fv, &[("p1", 0), ("p2", 2), ("p3", 1), ("p4", 2)]);
}

#[test]
fn trace_matches_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
    let ports: &[(&str, &[&str])] = &[
        ("p1", &["tag=10"]),
        ("p2", &["tag=10"]),
        ("p3", &["tag=20"]),
        ("p4", &[]),
    ];
    let a = add_ports(fv.dir(), ports);
    vsctl(&fv, &a);
    let a = add_ports(ovs.dir(), ports);
    ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    let flows = [
        "table=0,priority=100,in_port=1,ip,actions=output:2,output:3",
        "table=0,priority=90,in_port=2,actions=mod_vlan_vid:5,output:4",
        "table=0,priority=80,in_port=3,actions=resubmit(,1)",
        "table=0,priority=70,in_port=4,actions=NORMAL",
        "table=0,priority=0,actions=drop",
        "table=1,priority=10,dl_dst=50:54:00:00:00:02,actions=strip_vlan,output:1,LOCAL",
    ];
    for f in flows {
        fv.ofctl_ok(&[], "add-flow", "br0", &[f]);
        ovs.ofctl(&[], "add-flow", &[f]).unwrap();
    }
    let ovs_appctl = |args: &[&str]| -> String {
        ovs.appctl(args)
            .unwrap_or_else(|e| panic!("OVS {args:?}: {e}"))
    };
    let ovs_names = dp_names(&ovs_appctl(&["dpif/show"]));
    let fv_names = dp_names(&fv.appctl_ok(&["dpif/show"]));
    let eth = "dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02";
    let packets = [
        format!("in_port=1,{eth},ip,nw_src=198.18.0.1,nw_dst=198.18.0.2"),
        format!("in_port=1,{eth},arp"),
        format!("in_port=2,{eth},ip"),
        format!("in_port=3,{eth},ip"),
        "in_port=3,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:09".to_string(),
        format!("in_port=4,{eth},dl_vlan=10"),
        format!("in_port=4,{eth},dl_vlan=20"),
        format!("in_port=4,{eth}"),
    ];
    for p in &packets {
        let o = ovs_appctl(&["ofproto/trace", "br0", p]);
        let f = fv.appctl_ok(&["ofproto/trace", "br0", p]);
        assert_eq!(
            named_actions(&f, &fv_names),
            named_actions(&o, &ovs_names),
            "{p}\nferrovs:\n{f}\nOVS:\n{o}"
        );
    }
}

/// The flows a bridge shows as its fail mode and controllers change are
/// those Debian's ovs-vswitchd shows after the same steps (OVS's connmgr
/// flushes the flows and, standalone without controllers, adds
/// `priority=0 actions=NORMAL`).
#[test]
fn fail_mode_flows_match_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
    let ovs_flows = || -> String {
        ovs.ofctl(&["--no-stats"], "dump-flows", &[])
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("NXST_FLOW"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let fv_flows = || fv.ofctl_ok(&[], "dump-flows", "br0", &["--no-stats"]);
    let steps: &[&[&str]] = &[
        &["set", "bridge", "br0", "fail_mode=standalone"],
        &["set-controller", "br0", "punix:ctl.sock"],
        &["del-controller", "br0"],
        &["set-fail-mode", "br0", "secure"],
        &["del-fail-mode", "br0"],
    ];
    for (i, step) in steps.iter().enumerate() {
        ovs.vsctl(step).unwrap();
        fv.vsctl_ok(step);
        if i == 2 {
            // A flow of the operator's own, then the mode change flushes.
            ovs.ofctl(&[], "add-flow", &["priority=5,actions=drop"])
                .unwrap();
            fv.ofctl_ok(&[], "add-flow", "br0", &["priority=5,actions=drop"]);
        }
        // Dump order is OVS's classifier iteration order: compare sets.
        let sorted = |s: String| {
            let mut v: Vec<String> = s.lines().map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(sorted(fv_flows()), sorted(ovs_flows()), "after {step:?}");
    }
    assert_eq!(fv_flows(), " priority=0 actions=NORMAL\n");
}

/// `ovs-vsctl` arguments for two bridges joined by patch ports:
/// br0 = {p1 (1), pa (2)}, br1 = {pb (1), p2 (2)}, pa <-> pb.
fn patched(dir: &Path, fail: &str) -> Vec<String> {
    let mut a = Vec::new();
    for br in ["br0", "br1"] {
        a.extend(
            [
                "add-br",
                br,
                "--",
                "set",
                "bridge",
                br,
                "datapath_type=netdev",
                fail,
                "--",
            ]
            .map(String::from),
        );
    }
    let ports = [
        ("br0", "p1", 1, "type=dummy", String::new()),
        ("br0", "pa", 2, "type=patch", "options:peer=pb".to_string()),
        ("br1", "pb", 1, "type=patch", "options:peer=pa".to_string()),
        ("br1", "p2", 2, "type=dummy", String::new()),
    ];
    for (k, (br, name, no, kind, opt)) in ports.iter().enumerate() {
        if k > 0 {
            a.push("--".into());
        }
        a.extend(["add-port", br, name, "--", "set", "Interface", name, kind].map(String::from));
        a.push(format!("ofport_request={no}"));
        if *kind == "type=dummy" {
            a.push(format!(
                "options:tx_pcap={}",
                dir.join(format!("{name}-tx.pcap")).display()
            ));
        } else {
            a.push(opt.clone());
        }
    }
    a
}

/// A packet crosses from br0 to br1 through a patch port pair within one
/// datapath pass (both bridges standalone: NORMAL), and both bridges learn
/// its source; the trace's datapath actions are OVS's.
#[test]
fn patch_ports_join_bridges() {
    let ovs = OvsVswitchd::start_dummy("brx").unwrap();
    let fv = FerrovsVswitchd::start().unwrap();
    vsctl(&fv, &patched(fv.dir(), "fail_mode=standalone"));
    let a = patched(ovs.dir(), "fail_mode=standalone");
    ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    let tx = Tx::new(&fv, &["p1", "p2"]);
    fv.appctl_ok(&["netdev-dummy/receive", "p1", &icmp(1, 2)]);
    tx.expect(&fv, &[("p1", 0), ("p2", 1)]);
    fv.appctl_ok(&["netdev-dummy/receive", "p2", &icmp(2, 1)]);
    tx.expect(&fv, &[("p1", 1), ("p2", 1)]);
    let fdb = fv.appctl_ok(&["fdb/show", "br1"]);
    assert!(
        fdb.lines().any(|l| {
            l.split_whitespace().take(3).collect::<Vec<_>>() == ["1", "0", "50:54:00:00:00:01"]
        }),
        "{fdb}"
    );

    let ovs_appctl = |args: &[&str]| -> String {
        ovs.appctl(args)
            .unwrap_or_else(|e| panic!("OVS {args:?}: {e}"))
    };
    let ovs_names = dp_names(&ovs_appctl(&["dpif/show"]));
    let fv_names = dp_names(&fv.appctl_ok(&["dpif/show"]));
    let eth = "dl_src=50:54:00:00:00:07,dl_dst=50:54:00:00:00:08";
    for (br, p) in [
        ("br0", format!("in_port=1,{eth},ip")),
        ("br1", format!("in_port=2,{eth},ip")),
        ("br0", format!("in_port=1,{eth},dl_vlan=5")),
    ] {
        let o = ovs_appctl(&["ofproto/trace", br, &p]);
        let f = fv.appctl_ok(&["ofproto/trace", br, &p]);
        assert_eq!(
            named_actions(&f, &fv_names),
            named_actions(&o, &ovs_names),
            "{br} {p}\nferrovs:\n{f}\nOVS:\n{o}"
        );
    }
}

/// A `controller` action's packet reaches a connected controller
/// (`ovs-ofctl monitor`) as a packet-in.
#[test]
fn controller_action_sends_packet_in() {
    let fv = FerrovsVswitchd::start().unwrap();
    let mut a: Vec<String> = [
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "fail_mode=secure",
        "--",
    ]
    .map(String::from)
    .to_vec();
    a.extend(add_ports(fv.dir(), &[("p1", &[]), ("p2", &[])]));
    vsctl(&fv, &a);
    fv.ofctl_ok(
        &[],
        "add-flow",
        "br0",
        &["in_port=1,actions=controller,output:2"],
    );
    // `ovs-ofctl monitor` prints what it receives on its stderr.
    let err_path = fv.dir().join("monitor.err");
    let _mon = ferrovs_tests::Child(
        std::process::Command::new(ferrovs_tests::tool("ovs-ofctl"))
            .args(["--timeout=10", "monitor", "br0", "65534"])
            .env("OVS_RUNDIR", fv.dir())
            .env("OVS_LOGDIR", fv.dir())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap(),
    );
    // The monitor prints nothing until a message comes: send the packet
    // again until it sees one (each is sent by the megaflow's userspace
    // action or, the first time, by the upcall), for at most 5 s.
    let pkt = icmp(1, 2);
    let seen = || std::fs::read_to_string(&err_path).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut got = false;
    while !got && std::time::Instant::now() < deadline {
        fv.appctl_ok(&["netdev-dummy/receive", "p1", &pkt]);
        std::thread::sleep(Duration::from_millis(300));
        got = seen().lines().any(|l| {
            // `ovs-ofctl monitor` asks for packet-in format nxt_packet_in2,
            // as Debian's OVS sends to it too.
            l.starts_with("NXT_PACKET_IN2") && l.contains("total_len=42 in_port=1 (via action)")
        });
    }
    assert!(got, "no packet-in:\n{}\nlog:\n{}", seen(), fv.log());
    // The packets also went on to p2.
    std::thread::sleep(Duration::from_millis(300));
    let tx = Tx::new(&fv, &["p1", "p2"]);
    assert!(
        tx.count("p2") >= 1 && tx.count("p1") == 0,
        "{:?}",
        tx.counts()
    );
}
