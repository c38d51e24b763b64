//! Debian's `ovs-vsctl`, without `--no-wait`, against ferrovs-vswitchd and
//! against Debian's ovs-vswitchd (netdev datapath, `--enable-dummy`) side
//! by side: the same commands create bridges with internal, patch and
//! dummy interfaces, and each command must succeed or fail alike (ovs-vsctl
//! waits for `cur_cfg` and then checks the new interfaces' `ofport` and
//! `error`). The Interface columns both switches write are then compared.
//!
//! Known differences, kept here with their reason:
//! - internal interfaces: tap devices in both, each switch in its own
//!   namespace, both left down until the host brings them up; their
//!   ifindexes and the tun driver's status text differ, so admin_state,
//!   link_state and ifindex are not compared. Their ofport, error and MTU
//!   agree.
//! - mac_in_use of internal and patch interfaces is random in both.
//! - statistics: OVS's dummy shows byte and per-queue counters; ferrovs's
//!   in-memory device counts packets only (compared in vswitchd_appctl).
//! - the error text of a missing system device: ferrovs's is the
//!   datapath's typed error ("s1: no such device"), OVS's "could not open
//!   network device s1 (No such device)": both give ofport -1 and an error.

use std::collections::BTreeMap;

use std::path::Path;
use std::process::Command;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;
use ferrovs_tests::tool;
use serde_json::Value;

const ADD_BR0: &[&str] = &[
    "add-br",
    "br0",
    "--",
    "set",
    "bridge",
    "br0",
    "datapath_type=netdev",
    "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15",
    "fail_mode=secure",
];

/// One switch under comparison: where its database is.
struct Side<'a> {
    name: &'static str,
    remote: String,
    dir: &'a Path,
}

impl Side<'_> {
    /// Runs `ovs-vsctl --timeout=20 ARGS` (no `--no-wait`): (exit status
    /// 0, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(tool("ovs-vsctl"))
            .arg(format!("--db={}", self.remote))
            .arg("--timeout=20")
            .args(args)
            .env("OVS_RUNDIR", self.dir)
            .env("OVS_LOGDIR", self.dir)
            .output()
            .expect("run ovs-vsctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn vsctl(&self, args: &[&str]) -> (bool, String) {
        let (ok, out, err) = self.run(args);
        (ok, if ok { out } else { err })
    }
}

/// Every row of `table` as name -> column -> value (OVSDB JSON), from
/// `ovs-vsctl --format=json list TABLE`.
fn rows(side: &Side, table: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
    let (ok, out) = side.vsctl(&["--format=json", "list", table]);
    assert!(ok, "{}: list {table}: {out}", side.name);
    let v: Value = serde_json::from_str(&out).expect("ovs-vsctl JSON");
    let heads: Vec<String> = v["headings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    let mut rows = BTreeMap::new();
    for r in v["data"].as_array().unwrap() {
        let cols: BTreeMap<String, Value> = heads
            .iter()
            .cloned()
            .zip(r.as_array().unwrap().iter().cloned())
            .collect();
        let name = cols["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_default();
        rows.insert(name, cols);
    }
    rows
}

/// The scenario, run on one side; returns each command's outcome: exit
/// status and the cause of an "Error detected while setting up" warning,
/// which ovs-vsctl prints (exiting 0) when a new interface got ofport -1
/// or an error once the switch caught up.
fn scenario(side: &Side) -> Vec<(String, bool, String)> {
    // One ovs-vsctl command per line (words split at spaces).
    let steps: &[&str] = &[
        "add-port br0 p1 -- set Interface p1 type=dummy",
        "add-port br0 p2 -- set Interface p2 type=dummy ofport_request=7",
        "add-port br0 i1 -- set Interface i1 type=internal",
        "add-br br1 -- set bridge br1 datapath_type=netdev",
        "add-port br0 pa -- set Interface pa type=patch options:peer=pb",
        "add-port br1 pb -- set Interface pb type=patch options:peer=pa",
        "add-port br1 pc -- set Interface pc type=patch",
        "add-port br0 p3 -- set Interface p3 type=dummy",
        "del-port br0 p1",
        // Port 1 was just freed: OVS does not hand it out again at once.
        "add-port br0 p4 -- set Interface p4 type=dummy",
        // A new request re-creates the port with that number.
        "set Interface p3 ofport_request=20",
        "set Interface p4 mtu_request=9000",
        // 7 is taken on br0, not on br1.
        "add-port br1 p5 -- set Interface p5 type=dummy ofport_request=7",
        "add-port br1 s1",
        "add-port br0 i2 -- set Interface i2 type=internal mac=\"00:11:22:33:44:55\"",
        // A patch port's new peer applies in place (same port number).
        "set Interface pa options:peer=px",
        "set Interface pa options:peer=pb",
        "del-br br1",
        "add-br br1 -- set bridge br1 datapath_type=netdev",
        "add-port br1 p6 -- set Interface p6 type=dummy",
        // br1's internal port follows the smallest MTU of its other ports.
        "set Interface p6 mtu_request=9000",
    ];
    let mut outcomes = Vec::new();
    for line in steps {
        let s: Vec<&str> = line.split(' ').collect();
        let (ok, _, err) = side.run(&s);
        // "Error detected while setting up 'pc': CAUSE.  See ..."
        let cause = err
            .split("Error detected while setting up ")
            .nth(1)
            .and_then(|t| t.split("  See ").next())
            .unwrap_or("")
            .to_string();
        outcomes.push((line.to_string(), ok, cause));
    }
    outcomes
}

#[test]
fn vsctl_without_no_wait_matches_ovs() {
    let ovs_guard = OvsVswitchd::start_dummy("br0").expect("start OVS");
    let fv = FerrovsVswitchd::start().expect("start ferrovs");
    let ovs = Side {
        name: "ovs",
        remote: ovs_guard.db_remote(),
        dir: ovs_guard.dir(),
    };
    let fvs = Side {
        name: "ferrovs",
        remote: fv.db_remote(),
        dir: fv.dir(),
    };
    fv.vsctl_ok(ADD_BR0);

    let o = scenario(&ovs);
    let f = scenario(&fvs);
    for ((cmd, ook, ocause), (_, fok, fcause)) in o.iter().zip(&f) {
        assert_eq!(
            ook,
            fok,
            "`ovs-vsctl {cmd}`: OVS ok={ook} ({ocause}), ferrovs ok={fok} ({fcause})\n{}",
            fv.log()
        );
        if cmd.contains("pc") {
            // The one failure whose text both produce the same way.
            assert_eq!(ocause, fcause, "`{cmd}`");
        }
        if cmd.ends_with("s1") {
            assert!(
                ocause.contains("No such device"),
                "OVS has no device s1: {ocause}"
            );
            assert!(fcause.contains("s1: no such device"), "{fcause}");
        } else if !cmd.contains("pc") {
            assert_eq!(ocause, "", "`{cmd}` on OVS");
            assert_eq!(fcause, "", "`{cmd}` on ferrovs");
        }
    }

    // Interfaces: the columns both write. Errors a status refresh finds
    // (a patch port without its peer) are written, by both switches, in a
    // transaction of their own after `cur_cfg` caught up, so right after
    // the last `ovs-vsctl` returns the column may still hold the error of
    // a step before; read both again until the errors agree (up to 15 s).
    //
    // `pa` is left without its peer (`del-br br1` took `pb`). ferrovs
    // writes that error; OVS writes it only if its status refresh runs
    // after the patch port noticed the lost peer, and under load it often
    // runs before and nothing triggers another (CI read `[]` from OVS
    // after 15 s, twice; a quiet run reads the error). So `pa` is checked
    // on its own: ferrovs has the error, OVS has it or nothing.
    const PA_ERROR: &str = "No usable peer 'pb' exists in 'netdev' datapath.";
    let mut oi = rows(&ovs, "Interface");
    let errors = |rows: &BTreeMap<String, BTreeMap<String, Value>>| -> Vec<(String, Value)> {
        rows.iter()
            .filter(|(n, _)| n.as_str() != "s1" && n.as_str() != "pa")
            .map(|(n, r)| (n.clone(), r["error"].clone()))
            .collect()
    };
    let mut fi = rows(&fvs, "Interface");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while (errors(&fi) != errors(&oi) || fi["pa"]["error"] != PA_ERROR)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
        oi = rows(&ovs, "Interface");
        fi = rows(&fvs, "Interface");
    }
    assert_eq!(fi["pa"]["error"], PA_ERROR, "ferrovs pa error");
    assert!(
        oi["pa"]["error"] == PA_ERROR || oi["pa"]["error"] == serde_json::json!(["set", []]),
        "OVS pa error {}",
        oi["pa"]["error"]
    );
    assert_eq!(oi.keys().collect::<Vec<_>>(), fi.keys().collect::<Vec<_>>());
    for (name, orow) in &oi {
        let frow = &fi[name];
        let internal = orow["type"] == "internal";
        let mut cols = vec![
            "type",
            "ofport",
            "ofport_request",
            "mtu_request",
            "options",
            "link_resets",
        ];
        if name != "s1" && name != "pa" {
            cols.push("error");
        }
        if !internal {
            cols.extend(["admin_state", "link_state", "ifindex"]);
        }
        if orow["type"] != "patch" {
            cols.push("mtu");
        }
        if orow["type"] == "dummy" {
            cols.extend(["mac_in_use", "status"]);
        }
        for c in cols {
            assert_eq!(
                orow[c], frow[c],
                "Interface {name} column {c}: OVS {} ferrovs {}",
                orow[c], frow[c]
            );
        }
    }
    // Spot checks of what the comparison covers.
    assert_eq!(fi["p2"]["ofport"], 7);
    assert_eq!(fi["pa"]["ofport"], 3);
    assert_eq!(fi["p3"]["ofport"], 20);
    assert_eq!(fi["p4"]["ofport"], 5);
    assert_eq!(fi["p4"]["mtu"], 9000);
    assert_eq!(fi["br0"]["ofport"], 65534);
    assert_eq!(fi["br1"]["mtu"], 9000);
    assert_eq!(fi["br0"]["mtu"], 1500);
    assert_eq!(fi["i2"]["mac_in_use"], "00:11:22:33:44:55");
    assert_eq!(oi["i2"]["mac_in_use"], "00:11:22:33:44:55");

    // Bridges: datapath_id is the LOCAL port's address (derived from the
    // bridge uuid) in both; datapath_version as OVS's userspace datapath.
    for side in [&ovs, &fvs] {
        let b = rows(side, "Bridge");
        let i = rows(side, "Interface");
        for br in ["br0", "br1"] {
            let dpid = b[br]["datapath_id"].as_str().unwrap().to_string();
            let mac = i[br]["mac_in_use"].as_str().unwrap().replace(':', "");
            assert_eq!(dpid, format!("0000{mac}"), "{}: {br}", side.name);
            if br == "br0" {
                // i2's configured address is br0's lowest usable one.
                assert_eq!(dpid, "0000001122334455", "{}", side.name);
            }
            assert_eq!(b[br]["datapath_version"], "<built-in>", "{}", side.name);
        }
        let (_, root) = side.vsctl(&[
            "--format=json",
            "--columns=cur_cfg,next_cfg,dpdk_initialized",
            "list",
            "Open_vSwitch",
        ]);
        let v: Value = serde_json::from_str(&root).unwrap();
        let d = &v["data"][0];
        assert_eq!(d[0], d[1], "{}: cur_cfg == next_cfg", side.name);
        assert_eq!(d[2], false, "{}", side.name);
    }
}

#[test]
fn datapath_id_and_hwaddr_overrides() {
    let fv = FerrovsVswitchd::start().expect("start ferrovs");
    fv.vsctl_ok(ADD_BR0);
    fv.vsctl_ok(&[
        "set",
        "bridge",
        "br0",
        "other-config:datapath-id=0000000000000abc",
    ]);
    assert_eq!(
        fv.vsctl_ok(&["get", "bridge", "br0", "datapath_id"]).trim(),
        "\"0000000000000abc\""
    );
    fv.vsctl_ok(&[
        "remove",
        "bridge",
        "br0",
        "other-config",
        "datapath-id",
        "--",
        "set",
        "bridge",
        "br0",
        "other-config:hwaddr=\"02:00:00:00:00:42\"",
    ]);
    assert_eq!(
        fv.vsctl_ok(&["get", "bridge", "br0", "datapath_id"]).trim(),
        "\"0000020000000042\""
    );
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", "br0", "mac_in_use"])
            .trim(),
        "\"02:00:00:00:00:42\""
    );
    // A system bridge cannot run: its interface says why.
    let out = fv.vsctl(&[
        "add-br",
        "brs",
        "--",
        "set",
        "bridge",
        "brs",
        "datapath_type=system",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error detected while setting up 'brs'"),
        "{err}"
    );
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", "brs", "ofport"]).trim(),
        "-1"
    );
    assert!(fv
        .vsctl_ok(&["get", "Interface", "brs", "error"])
        .contains("not supported"));
    // Open_vSwitch columns the switch fills in.
    let ovs = fv.vsctl_ok(&[
        "--columns=datapath_types,iface_types,dpdk_initialized,db_version",
        "list",
        "Open_vSwitch",
    ]);
    assert!(ovs.contains("[netdev]"), "{ovs}");
    assert!(
        ovs.contains("[afxdp, dummy, internal, patch, system, tap]"),
        "{ovs}"
    );
    assert!(ovs.contains("\"8.3.1\""), "{ovs}");
}
