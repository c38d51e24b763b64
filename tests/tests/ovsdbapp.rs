//! ovsdbapp (the OVSDB library of Neutron's OVS agent, on the python `ovs`
//! IDL) against ferrovs-ovsdb-server with ferrovs-vswitchd, and against
//! Debian's ovsdb-server with ovs-vswitchd, in the same test:
//! `tests/python/ovsdbapp_check.py` adds a bridge, adds a port with
//! external_ids, a tag and other_config in one transaction (which, as
//! ovs-vsctl, waits for the switch's `cur_cfg` and checks the interface got
//! an ofport), reads them back with db_get/db_find/list_ports, retags and
//! clears, makes failing calls with check_error (a half-failing
//! transaction commits nothing), and receives monitor events, including
//! one for a change made by ovs-vsctl meanwhile. Both switches must give
//! the same lines.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;
use ferrovs_tests::{python, spawn_lines};

/// Runs the script against `remote`; `vsctl` makes the outside change
/// when the script says WAITING. Returns every line up to DONE.
fn run(tag: &str, remote: &str, dir: &Path, vsctl: impl Fn(&[&str])) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ovsdbapp_check.py");
    let stderr = dir.join("ovsdbapp.stderr");
    let (_child, lines) = spawn_lines(
        Command::new(python())
            .arg("-W")
            .arg("ignore")
            .arg(&script)
            .arg(remote)
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap()),
    )
    .expect("spawn python");
    let mut out = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!(
                    "{tag}: ovsdbapp said nothing more ({e}) after {out:#?}\nstderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            });
        if line == "WAITING" {
            vsctl(&["set", "port", "tap1", "external_ids:by=vsctl"]);
        }
        let done = line == "DONE";
        out.push(line);
        if done {
            return out;
        }
    }
}

const BR0: &[&str] = &[
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

#[test]
fn ovsdbapp_agent_calls_like_ovs() {
    let fv = FerrovsVswitchd::start().expect("start ferrovs");
    fv.vsctl_ok(BR0);
    let ferrovs = run("ferrovs", &fv.db_remote(), fv.dir(), |a| {
        fv.vsctl_ok(a);
    });
    let text = ferrovs.join("\n");
    for want in [
        "EVENT bridge-created arrived",
        "EVENT tap1-ofport arrived",
        "OFPORT_POSITIVE True",
        "TYPE dummy",
        "TAG 5",
        "FIND_TAG [('tap1', 5, [('net_uuid', 'net-1')])]",
        "FIND_IFACE_ID ['tap1']",
        "RETAG 7",
        "CLEARED []",
        "ADD_BR_TWICE RuntimeError constraint-violation",
        "SET_MISSING_ROW RowNotFound",
        "HALF_FAILING_TXN RowNotFound",
        "BR_HALF_EXISTS False",
        "EVENT external-change arrived",
        "EVENT tap1-deleted arrived",
        "LIST_BR ['br0']",
    ] {
        assert!(
            ferrovs.iter().any(|l| l == want),
            "ferrovs: no {want:?} in\n{text}\nswitch log:\n{}",
            fv.log()
        );
    }
    drop(fv);

    let ovs = OvsVswitchd::start_dummy("br0").expect("start Debian OVS");
    let debian = run("ovs", &ovs.db_remote(), ovs.dir(), |a| {
        ovs.vsctl(a).expect("ovs-vsctl");
    });
    assert_eq!(
        ferrovs, debian,
        "ovsdbapp sees ferrovs (left) and OVS (right) differently"
    );
}
