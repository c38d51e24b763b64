//! Debian's `ovs-appctl` against ferrovs-vswitchd's unixctl socket:
//! list-commands (exactly the registered table, in OVS's layout), version,
//! ofproto/list, vlog/list and vlog/set, bridge/dump-flows (beside OVS's), errors for unknown commands and
//! bad arguments, and netdev-dummy/receive, whose packets must be counted
//! on the interface as by Debian's ovs-vswitchd given the same packets.

use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

fn err(fv: &FerrovsVswitchd, args: &[&str]) -> String {
    let out = fv.appctl(args);
    assert!(
        !out.status.success(),
        "ovs-appctl {} succeeded",
        args.join(" ")
    );
    // ovs-appctl exits 2 when the server answers with an error.
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const ADD_BR: &[&str] = &[
    "add-br",
    "br0",
    "--",
    "set",
    "bridge",
    "br0",
    "datapath_type=netdev",
];

#[test]
fn commands() {
    let fv = FerrovsVswitchd::start().unwrap();
    assert_eq!(
        fv.appctl_ok(&["list-commands"]),
        "The available commands are:\n\
         \x20 bridge/dump-flows       [--offload-stats] bridge\n\
         \x20 bridge/reconnect        [bridge]\n\
         \x20 coverage/read-counter   COUNTER\n\
         \x20 coverage/show           \n\
         \x20 dpctl/ct-bkts           [dp] [gt=N]\n\
         \x20 dpctl/ct-del-limits     [dp] zone=N1[,N2]...\n\
         \x20 dpctl/ct-disable-tcp-seq-chk [dp]\n\
         \x20 dpctl/ct-enable-tcp-seq-chk [dp]\n\
         \x20 dpctl/ct-get-limits     [dp] [zone=N1[,N2]...]\n\
         \x20 dpctl/ct-get-maxconns   [dp]\n\
         \x20 dpctl/ct-get-nconns     [dp]\n\
         \x20 dpctl/ct-get-tcp-seq-chk [dp]\n\
         \x20 dpctl/ct-set-limits     [dp] [default=L] [zone=N,limit=L]...\n\
         \x20 dpctl/ct-set-maxconns   [dp] maxconns\n\
         \x20 dpctl/ct-stats-show     [dp] [zone=N]\n\
         \x20 dpctl/del-flows         [dp]\n\
         \x20 dpctl/dump-conntrack    [-m] [-s] [dp] [zone=N]\n\
         \x20 dpctl/dump-dps          \n\
         \x20 dpctl/dump-flows        [-m] [--names] [dp]\n\
         \x20 dpctl/flush-conntrack   [dp] [zone=N] [ct-orig-tuple]\n\
         \x20 dpctl/ipf-get-status    [dp]\n\
         \x20 dpctl/ipf-set-disabled  [dp] v4|v6\n\
         \x20 dpctl/ipf-set-enabled   [dp] v4|v6\n\
         \x20 dpctl/ipf-set-max-nfrags [dp] maxfrags\n\
         \x20 dpctl/ipf-set-min-frag  [dp] v4|v6 minfragment\n\
         \x20 dpctl/show              [dp...]\n\
         \x20 dpif-netdev/pmd-rxq-rebalance [dp]\n\
         \x20 dpif-netdev/pmd-rxq-show [-pmd core] [dp]\n\
         \x20 dpif-netdev/pmd-stats-clear [-pmd core] [dp]\n\
         \x20 dpif-netdev/pmd-stats-show [-pmd core] [dp]\n\
         \x20 dpif/dump-dps           \n\
         \x20 dpif/dump-flows         [-m] [--names | --no-names] bridge\n\
         \x20 dpif/show               \n\
         \x20 exit                    [--cleanup]\n\
         \x20 fdb/add                 bridge port vlan mac\n\
         \x20 fdb/del                 bridge vlan mac\n\
         \x20 fdb/flush               [bridge]\n\
         \x20 fdb/show                bridge\n\
         \x20 fdb/stats-clear         [bridge]\n\
         \x20 fdb/stats-show          bridge\n\
         \x20 list-commands           \n\
         \x20 memory/show             \n\
         \x20 netdev-dummy/receive    name [--qid queue_id] packet|flow [--len packet_len]\n\
         \x20 ofproto/list            \n\
         \x20 ofproto/list-tunnels    \n\
         \x20 ofproto/trace           {[dp_name] odp_flow | bridge br_flow} [OPTIONS...] [-generate|packet] [--format=json]\n\
         \x20 ofproto/trace-packet-out [-consistent] {[dp_name] odp_flow | bridge br_flow} [OPTIONS...] [-generate|packet] actions\n\
         \x20 ovs/route/add           ip_addr/prefix_len out_br_name [gw] [pkt_mark=mark]\n\
         \x20 ovs/route/del           ip_addr/prefix_len [pkt_mark=mark]\n\
         \x20 ovs/route/lookup        ip_addr [pkt_mark=mark]\n\
         \x20 ovs/route/show          \n\
         \x20 revalidator/purge       \n\
         \x20 revalidator/wait        \n\
         \x20 tnl/arp/flush           \n\
         \x20 tnl/arp/set             BRIDGE IP MAC\n\
         \x20 tnl/arp/show            \n\
         \x20 tnl/drops/show          \n\
         \x20 tnl/neigh/flush         \n\
         \x20 tnl/neigh/set           BRIDGE IP MAC\n\
         \x20 tnl/neigh/show          \n\
         \x20 tnl/ports/show          -v\n\
         \x20 upcall/disable-megaflows \n\
         \x20 upcall/disable-ufid     \n\
         \x20 upcall/enable-megaflows \n\
         \x20 upcall/enable-ufid      \n\
         \x20 upcall/set-flow-limit   flow-limit-number\n\
         \x20 upcall/show             \n\
         \x20 version                 \n\
         \x20 vlog/close              \n\
         \x20 vlog/list               \n\
         \x20 vlog/reopen             \n\
         \x20 vlog/set                {spec | PATTERN:destination:pattern}\n"
    );
    let v = fv.appctl_ok(&["version"]);
    assert!(v.starts_with("ferrovs-vswitchd (ferrovs) "), "{v}");
    assert!(v.contains("Open vSwitch 3.1"), "{v}");

    assert_eq!(fv.appctl_ok(&["ofproto/list"]), "");
    fv.vsctl_ok(ADD_BR);
    fv.vsctl_ok(&[
        "add-br",
        "br1",
        "--",
        "set",
        "bridge",
        "br1",
        "datapath_type=netdev",
    ]);
    assert_eq!(fv.appctl_ok(&["ofproto/list"]), "br0\nbr1\n");
    fv.vsctl_ok(&["del-br", "br0"]);
    assert_eq!(fv.appctl_ok(&["ofproto/list"]), "br1\n");

    let l = fv.appctl_ok(&["vlog/list"]);
    let lines: Vec<&str> = l.lines().collect();
    assert_eq!(lines[0], "                 console    syslog    file");
    assert_eq!(lines[1], "                 -------    ------    ------");
    let bridge = lines
        .iter()
        .find(|l| l.starts_with("bridge "))
        .expect("bridge module");
    assert_eq!(
        bridge.split_whitespace().collect::<Vec<_>>(),
        ["bridge", "OFF", "OFF", "INFO"]
    );
    fv.appctl_ok(&["vlog/set", "bridge:file:dbg"]);
    let l = fv.appctl_ok(&["vlog/list"]);
    let bridge = l.lines().find(|l| l.starts_with("bridge ")).unwrap();
    // Columns line up as OVS's ("bridge             OFF       INFO        DBG"
    // there: OVS also logs to syslog).
    assert_eq!(bridge, "bridge             OFF        OFF        DBG");
    assert_eq!(
        bridge.split_whitespace().collect::<Vec<_>>(),
        ["bridge", "OFF", "OFF", "DBG"]
    );
    // Debug messages of that module now reach the log.
    fv.vsctl_ok(&[
        "add-port",
        "br1",
        "p1",
        "--",
        "set",
        "Interface",
        "p1",
        "type=dummy",
    ]);
    fv.appctl_ok(&["vlog/set", "ANY:warn"]);
    assert!(fv
        .appctl_ok(&["vlog/list"])
        .lines()
        .skip(2)
        .all(|l| l.ends_with("WARN")));
    assert!(err(&fv, &["vlog/set", "nosuchmodule:dbg"])
        .contains("no destination, level, or module \"nosuchmodule\""));

    // logrotate's way: rename the log, then `vlog/reopen`; lines logged
    // after it go to a new file at the old path, none to the renamed one.
    // After `vlog/close` nothing is written until the next reopen.
    fv.appctl_ok(&["vlog/set", "ANY:info"]);
    let rotated = fv.dir().join("ferrovs-vswitchd.log.1");
    std::fs::rename(fv.log_path(), &rotated).unwrap();
    fv.appctl_ok(&["vlog/reopen"]);
    let old_len = std::fs::metadata(&rotated).unwrap().len();
    fv.vsctl_ok(&[
        "add-br",
        "br2",
        "--",
        "set",
        "bridge",
        "br2",
        "datapath_type=netdev",
    ]);
    assert!(
        fv.wait_until(std::time::Duration::from_secs(10), || fv
            .log()
            .contains("br2")),
        "new log:\n{}",
        fv.log()
    );
    assert_eq!(std::fs::metadata(&rotated).unwrap().len(), old_len);
    fv.appctl_ok(&["vlog/close"]);
    let closed_len = std::fs::metadata(fv.log_path()).unwrap().len();
    fv.vsctl_ok(&["del-br", "br2"]);
    fv.appctl_ok(&["vlog/reopen"]);
    assert_eq!(std::fs::metadata(fv.log_path()).unwrap().len(), closed_len);
    fv.vsctl_ok(&[
        "add-br",
        "br3",
        "--",
        "set",
        "bridge",
        "br3",
        "datapath_type=netdev",
    ]);
    assert!(
        fv.wait_until(std::time::Duration::from_secs(10), || fv
            .log()
            .contains("br3")),
        "log after reopen:\n{}",
        fv.log()
    );

    assert!(err(&fv, &["no/such-command"]).contains("\"no/such-command\" is not a valid command"));
    assert!(err(&fv, &["ofproto/list", "extra"]).contains("at most 0 arguments"));
    assert!(err(&fv, &["netdev-dummy/receive", "p1"]).contains("at least 2 arguments"));
    assert_eq!(
        err(&fv, &["netdev-dummy/receive", "nope", "00"]),
        "no such dummy netdev\novs-appctl: ferrovs-vswitchd.ctl: server returned an error\n"
            .replace("ferrovs-vswitchd.ctl", &fv.ctl_path().display().to_string())
    );
    assert!(err(&fv, &["netdev-dummy/receive", "p1", "0102"]).contains("too short"));
    assert!(err(
        &fv,
        &[
            "netdev-dummy/receive",
            "p1",
            "eth_type(0x0800),ipv4(src=1.2.3)"
        ]
    )
    .contains("bad IPv4 address"));
    assert!(err(
        &fv,
        &["netdev-dummy/receive", "p1", "eth(src=50:54:00:00:00:01"]
    )
    .contains("syntax error"));

    // exit: the reply comes back, then the process ends and cleans up.
    let mut fv = fv;
    fv.appctl_ok(&["exit"]);
    let st = fv.wait_exit().unwrap();
    assert!(st.success(), "{st}");
    assert!(!fv.ctl_path().exists());
    assert!(!fv.pidfile().exists());
    assert!(!fv.mgmt_socket("br1").exists());
}

/// A frame from 50:54:00:00:00:01 to 50:54:00:00:00:02, IPv4 198.18.0.1 ->
/// 198.18.0.2, ICMP echo request.
const PACKET: &str = "505400000002505400000001080045000054000040004001000ac6120001c6120002\
0800f7ff00000000";

fn rx_packets(stats: &str) -> Option<u64> {
    stats
        .trim()
        .trim_matches(|c| c == '{' || c == '}')
        .split(", ")
        .find_map(|kv| kv.strip_prefix("rx_packets="))
        .and_then(|v| v.parse().ok())
}

#[test]
fn dummy_receive_counts_like_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
    for side in 0..2 {
        let args = [
            "add-port",
            "br0",
            "p1",
            "--",
            "set",
            "Interface",
            "p1",
            "type=dummy",
        ];
        if side == 0 {
            ovs.vsctl(&args).unwrap();
        } else {
            fv.vsctl_ok(&args);
        }
    }
    // Three packets into p1 on each switch.
    let ovs_ctl = ovs.dir().join("ovs-vswitchd.ctl");
    for _ in 0..3 {
        let out = std::process::Command::new(ferrovs_tests::tool("ovs-appctl"))
            .arg("-t")
            .arg(&ovs_ctl)
            .args(["netdev-dummy/receive", "p1", PACKET])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fv.appctl_ok(&["netdev-dummy/receive", "p1", PACKET]);
    }
    // Statistics are refreshed every 5 s by both.
    let mut ovs_rx = None;
    let mut fv_rx = None;
    let done = fv.wait_until(Duration::from_secs(15), || {
        ovs_rx = rx_packets(
            &ovs.vsctl(&["get", "Interface", "p1", "statistics"])
                .unwrap(),
        );
        fv_rx = rx_packets(&fv.vsctl_ok(&["get", "Interface", "p1", "statistics"]));
        ovs_rx == Some(3) && fv_rx == Some(3)
    });
    assert!(
        done,
        "rx_packets: OVS {ovs_rx:?}, ferrovs {fv_rx:?}\n{}",
        fv.log()
    );
}

/// Frames in a pcap file (record headers skipped).
/// Packets given as datapath flows are composed byte for byte as OVS's
/// netdev-dummy composes them (both record what they receive with
/// `options:rxq_pcap`).
#[test]
fn dummy_receive_flows_compose_like_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(ADD_BR);
    let ovs_pcap = ovs.dir().join("p1-rx.pcap");
    let fv_pcap = fv.dir().join("p1-rx.pcap");
    let add = |pcap: &std::path::Path| -> Vec<String> {
        [
            "add-port",
            "br0",
            "p1",
            "--",
            "set",
            "Interface",
            "p1",
            "type=dummy",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("options:rxq_pcap={}", pcap.display())])
        .collect()
    };
    let a = add(&ovs_pcap);
    ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    let a = add(&fv_pcap);
    fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let eth = "eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)";
    let ip4 = "eth_type(0x0800),ipv4(src=198.18.0.1,dst=198.18.0.2";
    let ip6 = "eth_type(0x86dd),ipv6(src=2001:db8::1";
    let flows: Vec<Vec<String>> = vec![
        vec![format!("in_port(1),{eth},{ip4},proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)")],
        vec![format!("{eth},{ip4},proto=6,tos=0x10,ttl=63,frag=no),tcp(src=8080,dst=80)")],
        vec![format!("{eth},{ip4},proto=6,ttl=64,frag=no),tcp(src=1,dst=2),tcp_flags(syn)")],
        vec![
            format!("{eth},{ip4},proto=17,ttl=64,frag=no),udp(src=53,dst=5353)"),
            "--len".into(),
            "200".into(),
        ],
        vec![format!("{eth},{ip4},proto=17,ttl=64,frag=first),udp(src=1,dst=2)")],
        vec![format!("{eth},{ip4},proto=17,ttl=64,frag=later)")],
        vec![format!(
            "{eth},eth_type(0x8100),vlan(vid=10,pcp=3),encap({ip4},proto=1,ttl=64,frag=no),icmp(type=0,code=0))"
        )],
        vec![format!(
            "{eth},{ip6},dst=2001:db8::2,label=5,proto=58,tclass=0,hlimit=255,frag=no),icmpv6(type=128,code=0)"
        )],
        vec![format!(
            "{eth},{ip6},dst=ff02::1:ff00:2,proto=58,hlimit=255,frag=no),icmpv6(type=135,code=0),nd(target=2001:db8::2,sll=50:54:00:00:00:01)"
        )],
        vec![format!("{eth},{ip6},dst=2001:db8::2,proto=6,hlimit=64,frag=no),tcp(src=5,dst=6)")],
        vec![format!(
            "{eth},eth_type(0x0806),arp(sip=198.18.0.1,tip=198.18.0.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)"
        )],
        vec![eth.to_string()],
    ];
    let ovs_ctl = ovs.dir().join("ovs-vswitchd.ctl");
    for f in &flows {
        let out = std::process::Command::new(ferrovs_tests::tool("ovs-appctl"))
            .arg("-t")
            .arg(&ovs_ctl)
            .arg("netdev-dummy/receive")
            .arg("p1")
            .args(f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "OVS {f:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut args = vec!["netdev-dummy/receive", "p1"];
        args.extend(f.iter().map(String::as_str));
        fv.appctl_ok(&args);
    }
    // OVS writes its capture as packets are handled: wait for all of them.
    let mut o = Vec::new();
    let all = fv.wait_until(Duration::from_secs(10), || {
        o = if ovs_pcap.exists() {
            ferrovs_tests::pcap::frames(&ovs_pcap).unwrap_or_else(|e| panic!("pcap: {e}"))
        } else {
            Vec::new()
        };
        o.len() == flows.len()
    });
    assert!(all, "OVS captured {} of {} packets", o.len(), flows.len());
    let f = ferrovs_tests::pcap::frames(&fv_pcap).unwrap_or_else(|e| panic!("pcap: {e}"));
    assert_eq!(f.len(), flows.len());
    for (i, (a, b)) in o.iter().zip(&f).enumerate() {
        assert_eq!(hex::encode(a), hex::encode(b), "packet {i}: {:?}", flows[i]);
    }
}

/// `bridge/dump-flows` on ferrovs and on OVS after the same `ovs-ofctl
/// add-flows`: the same lines, apart from the duration, in OpenFlow tables
/// 0..253. Known difference, kept with its reason: OVS also lists its
/// hidden table 254 (`table_id=254, ...` rules that route recirculation
/// and controller misses inside its translation); ferrovs's translation is
/// another issue's and installs no hidden rules yet, so those lines are
/// left out of the comparison (and counted on OVS's side, so the filter
/// cannot hide everything).
#[test]
fn bridge_dump_flows_matches_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
    let flows = fv.dir().join("flows.txt");
    std::fs::write(
        &flows,
        "priority=0,actions=drop\n\
         table=0,priority=100,in_port=1,dl_src=00:11:22:33:44:55,actions=output:2\n\
         cookie=0x5,table=1,priority=200,ip,nw_dst=198.18.0.0/15,actions=mod_nw_tos:4,resubmit(,2)\n\
         table=2,tcp,tp_dst=80,actions=controller\n\
         table=3,priority=7,ipv6,ipv6_src=2001:db8::1,actions=set_field:2001:db8::2->ipv6_dst,goto_table:4\n",
    )
    .unwrap();
    let flows_arg = flows.to_str().unwrap();
    ovs.ofctl(&["-O", "OpenFlow13"], "add-flows", &[flows_arg])
        .unwrap();
    let out = fv.ofctl(&["-O", "OpenFlow13"], "add-flows", "br0", &[flows_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let o = std::process::Command::new(ferrovs_tests::tool("ovs-appctl"))
        .arg("-t")
        .arg(ovs.dir().join("ovs-vswitchd.ctl"))
        .args(["bridge/dump-flows", "br0"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = String::from_utf8_lossy(&o.stdout).into_owned();
    let f = fv.appctl_ok(&["bridge/dump-flows", "br0"]);
    let norm = |s: &str| -> (Vec<String>, usize) {
        let mut hidden = 0;
        let mut v: Vec<String> = s
            .lines()
            .filter(|l| {
                let h = l.starts_with("table_id=254, ");
                hidden += h as usize;
                !h
            })
            .map(|l| {
                // duration=Ns, -> duration=?
                let mut w: Vec<String> = l.split(", ").map(str::to_string).collect();
                for x in w.iter_mut() {
                    if x.starts_with("duration=") {
                        *x = "duration=?".into();
                    }
                }
                w.join(", ")
            })
            .collect();
        v.sort();
        (v, hidden)
    };
    let (ol, ohidden) = norm(&o);
    let (fl, fhidden) = norm(&f);
    assert_eq!(ol.len(), 5, "OVS:\n{o}");
    assert!(ohidden > 0, "OVS lists its hidden rules:\n{o}");
    assert_eq!(fhidden, 0);
    assert_eq!(ol, fl, "OVS:\n{o}\nferrovs:\n{f}");
    // Unknown bridge: an error, as OVS.
    assert!(err(&fv, &["bridge/dump-flows", "nobr"]).contains("Unknown bridge"));
}
