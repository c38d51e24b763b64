//! The `dpctl/*` conntrack commands through Debian's `ovs-appctl`, against
//! ferrovs-vswitchd and Debian's ovs-vswitchd (userspace datapath) side by
//! side: with no connections both must print the same text for the
//! maximum, the count, the statistics, the dump, the limits and the TCP
//! sequence check switches, before and after setting them.

use std::process::Command;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

fn ovs_appctl(ovs: &OvsVswitchd, args: &[&str]) -> (bool, String) {
    let out = Command::new(ferrovs_tests::tool("ovs-appctl"))
        .arg("-t")
        .arg(ovs.dir().join("ovs-vswitchd.ctl"))
        .arg("--timeout=10")
        .args(args)
        .output()
        .expect("run ovs-appctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ct_commands_print_as_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
    ]);
    let same = |args: &[&str]| {
        let (ok, want) = ovs_appctl(&ovs, args);
        assert!(ok, "OVS refused {args:?}: {want}");
        let got = fv.appctl_ok(args);
        assert_eq!(got, want, "ovs-appctl {}", args.join(" "));
        got
    };
    assert_eq!(same(&["dpctl/ct-get-maxconns"]), "3000000\n");
    assert_eq!(same(&["dpctl/ct-get-nconns"]), "0\n");
    same(&["dpctl/ct-set-maxconns", "1000"]);
    assert_eq!(same(&["dpctl/ct-get-maxconns"]), "1000\n");
    same(&["dpctl/ct-stats-show"]);
    same(&["dpctl/dump-conntrack"]);
    same(&["dpctl/dump-conntrack", "zone=5"]);
    same(&["dpctl/flush-conntrack"]);
    same(&["dpctl/flush-conntrack", "zone=5"]);
    same(&["dpctl/ct-get-tcp-seq-chk"]);
    same(&["dpctl/ct-disable-tcp-seq-chk"]);
    assert_eq!(
        same(&["dpctl/ct-get-tcp-seq-chk"]),
        "TCP sequence checking: disabled\n"
    );
    same(&["dpctl/ct-enable-tcp-seq-chk"]);
    same(&["dpctl/ct-set-limits", "default=10", "zone=3,limit=5"]);
    same(&["dpctl/ct-get-limits", "zone=3,4"]);
    // Named datapath, as an operator types it.
    same(&["dpctl/ct-get-nconns", "netdev@ovs-netdev"]);
}
