//! `ofproto/trace ... -generate` side by side with Debian's OVS 3.1: the
//! same bridge (netdev datapath, dummy ports p1..p3 with OpenFlow ports
//! 1..3) in ferrovs-vswitchd and in `ovs-vswitchd --enable-dummy`. A plain
//! trace has no side effects; with `-generate` the trace acts as a real
//! packet would: a `learn` action adds its flow (visible in `dump-flows`),
//! NORMAL learns the source MAC (visible in `fdb/show`), and a
//! `controller` action's cookie says `dont_send=0`. Each check runs the
//! same commands on both switches and compares what they print.

use std::collections::BTreeMap;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::{
    add_dummy_ports, cookie_recirc_as_n, dp_names, named_actions, Sw,
};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

/// Both switches with br0 (fail mode `fail_mode`) and ports p1..p3.
fn switches(fail_mode: &str) -> [(Sw, BTreeMap<String, String>); 2] {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &[]);
    [Sw::F(fv), Sw::O(ovs)].map(|s| {
        s.vsctl(&["set-fail-mode", "br0", fail_mode]);
        let a = add_dummy_ports(s.dir(), "br0", &[("p1", &[]), ("p2", &[]), ("p3", &[])]);
        s.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let names = dp_names(&s.appctl(&["dpif/show"]));
        (s, names)
    })
}

/// `ofproto/trace br0 FLOW [-generate]`'s datapath actions, ports named.
fn trace(s: &Sw, names: &BTreeMap<String, String>, flow: &str, generate: bool) -> String {
    let mut args = vec!["ofproto/trace", "br0", flow];
    if generate {
        args.push("-generate");
    }
    cookie_recirc_as_n(&named_actions(&s.appctl(&args), names))
}

/// `dump-flows br0` without statistics (durations and counters differ
/// between any two runs), lines sorted.
fn flows(s: &Sw) -> String {
    let out = s.ofctl(&["--no-stats"], "dump-flows", &[]);
    let mut v: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("NXST_FLOW") && !l.starts_with("OFPST_FLOW"))
        .collect();
    v.sort();
    v.join("\n")
}

/// `fdb/show br0` with the age column dropped, entries sorted.
fn fdb(s: &Sw) -> String {
    let mut v: Vec<String> = s
        .appctl(&["fdb/show", "br0"])
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w[..w.len().min(3)].join(" ")
        })
        .collect();
    v[1..].sort();
    v.join("\n")
}

/// Runs `step` on both switches and asserts the two results equal;
/// returns ferrovs's.
fn same(
    sw: &[(Sw, BTreeMap<String, String>); 2],
    what: &str,
    step: impl Fn(&Sw, &BTreeMap<String, String>) -> String,
) -> String {
    let f = step(&sw[0].0, &sw[0].1);
    let o = step(&sw[1].0, &sw[1].1);
    assert_eq!(f, o, "{what}: ferrovs (left) and OVS (right) differ");
    f
}

const LEARN: &str = "table=0,actions=learn(table=1,hard_timeout=60,\
    NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],\
    output:NXM_OF_IN_PORT[]),resubmit(,1)";
const A_TO_B: &str = "in_port=1,dl_src=50:54:00:00:00:05,dl_dst=50:54:00:00:00:07,ip";
const B_TO_A: &str = "in_port=2,dl_src=50:54:00:00:00:07,dl_dst=50:54:00:00:00:05,ip";

#[test]
fn generate_adds_learned_flows_as_ovs() {
    let sw = switches("secure");
    for (s, _) in &sw {
        s.ofctl(&[], "add-flow", &[LEARN]);
        s.ofctl(&[], "add-flow", &["table=1,priority=0,actions=output:3"]);
    }
    let before = same(&sw, "flows at start", |s, _| flows(s));
    // A plain trace learns nothing.
    same(&sw, "plain trace", |s, n| trace(s, n, A_TO_B, false));
    assert_eq!(
        same(&sw, "flows after a plain trace", |s, _| flows(s)),
        before
    );
    // With -generate the learned flow is added...
    same(&sw, "-generate trace", |s, n| trace(s, n, A_TO_B, true));
    let after = same(&sw, "flows after -generate", |s, _| flows(s));
    assert!(
        after.contains("dl_dst=50:54:00:00:00:05") && after.contains("actions=output:1"),
        "no learned flow:\n{after}"
    );
    // ...and the reply packet follows it (to p1, not the default p3).
    let back = same(&sw, "reply trace", |s, n| trace(s, n, B_TO_A, false));
    assert_eq!(back, "p1");
}

#[test]
fn generate_packet_in_is_sent_as_ovs() {
    let sw = switches("secure");
    for (s, _) in &sw {
        s.ofctl(&[], "add-flow", &["in_port=1,actions=controller"]);
    }
    let plain = same(&sw, "plain trace", |s, n| trace(s, n, A_TO_B, false));
    assert!(plain.contains("dont_send=1"), "{plain}");
    let gen = same(&sw, "-generate trace", |s, n| trace(s, n, A_TO_B, true));
    assert!(gen.contains("dont_send=0"), "{gen}");
}

#[test]
fn generate_normal_learns_macs_as_ovs() {
    let sw = switches("standalone");
    let bcast = "in_port=3,dl_src=50:54:00:00:00:05,dl_dst=ff:ff:ff:ff:ff:ff,arp";
    let to_5 = "in_port=1,dl_src=50:54:00:00:00:06,dl_dst=50:54:00:00:00:05,arp";
    same(&sw, "plain trace", |s, n| trace(s, n, bcast, false));
    let empty = same(&sw, "fdb after a plain trace", |s, _| fdb(s));
    assert_eq!(empty, "port VLAN MAC");
    // Unknown destination: flooded.
    let flood = same(&sw, "unicast before learning", |s, n| {
        trace(s, n, to_5, false)
    });
    assert!(flood.contains("p2") && flood.contains("p3"), "{flood}");
    same(&sw, "-generate trace", |s, n| trace(s, n, bcast, true));
    let one = same(&sw, "fdb after -generate", |s, _| fdb(s));
    assert_eq!(one, "port VLAN MAC\n3 0 50:54:00:00:00:05");
    // Now known: only to p3.
    let known = same(&sw, "unicast after learning", |s, n| {
        trace(s, n, to_5, false)
    });
    assert_eq!(known, "p3");
    same(&sw, "second -generate trace", |s, n| {
        trace(s, n, to_5, true)
    });
    same(&sw, "fdb after two -generate traces", |s, _| fdb(s));
}
