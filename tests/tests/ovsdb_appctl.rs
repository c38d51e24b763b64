//! `ovs-appctl -t CTL` against the server's unixctl socket: list-dbs,
//! compact (the log shrinks to a snapshot that ovsdb-tool reads and the
//! server reopens), add-remote/list-remotes, and exit.

use std::time::Duration;

use ferrovs_tests::ovsdb_server::{ovsdb_tool, Flavor, OvsdbServer};
use serde_json::json;

fn appctl_ok(s: &OvsdbServer, args: &[&str]) -> String {
    let out = s.appctl(args);
    assert!(
        out.status.success(),
        "{:?}: ovs-appctl {}: {}",
        s.flavor(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn log_records(s: &OvsdbServer) -> usize {
    let out = ovsdb_tool(&["show-log", s.db_path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{:?}: show-log: {}",
        s.flavor(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("record "))
        .count()
}

fn appctl_scenario(mut s: OvsdbServer) {
    assert_eq!(
        appctl_ok(&s, &["ovsdb-server/list-dbs"]),
        "Open_vSwitch\n_Server\n"
    );
    assert!(!appctl_ok(&s, &["version"]).trim().is_empty());

    // A history of 300 small transactions, then an online compaction.
    s.vsctl_ok(&["init", "--", "add-br", "br0"]);
    let mut c = s.rpc().unwrap();
    for i in 0..300 {
        c.call(
            "transact",
            json!(["Open_vSwitch", {"op": "update", "table": "Open_vSwitch", "where": [],
                "row": {"external_ids": ["map", [["i", i.to_string()]]]}}]),
        )
        .unwrap();
    }
    let records = log_records(&s);
    let before = std::fs::metadata(s.db_path()).unwrap().len();
    assert!(
        records > 300,
        "{:?}: only {records} log records",
        s.flavor()
    );
    appctl_ok(&s, &["ovsdb-server/compact"]);
    // A server may finish the compaction in the background: allow 3 s.
    let mut after = before;
    for _ in 0..150 {
        after = std::fs::metadata(s.db_path()).unwrap().len();
        if after < before {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        after < before,
        "{:?}: compaction did not shrink the file ({before} -> {after} bytes)",
        s.flavor()
    );
    let records = log_records(&s);
    assert!(
        records <= 3,
        "{:?}: {records} log records after compaction (expected schema + snapshot)",
        s.flavor()
    );
    // Still serving, and the compacted file reopens with the data.
    s.vsctl_ok(&["set", "Open_vSwitch", ".", "external_ids:after=compact"]);
    s.kill9();
    s.restart().unwrap();
    assert_eq!(
        s.vsctl_ok(&["get", "Open_vSwitch", ".", "external_ids"]),
        "{after=compact, i=\"299\"}\n"
    );
    assert_eq!(s.vsctl_ok(&["list-br"]), "br0\n");

    // A second listener added at run time.
    let extra = s.dir().join("extra.sock");
    let remote = format!("punix:{}", extra.display());
    appctl_ok(&s, &["ovsdb-server/add-remote", &remote]);
    let remotes = appctl_ok(&s, &["ovsdb-server/list-remotes"]);
    assert!(remotes.contains(&remote), "{:?}: {remotes}", s.flavor());
    let mut c2 = None;
    for _ in 0..100 {
        if let Ok(c) = ferrovs_tests::ovsdb_server::JsonRpc::connect(&extra) {
            c2 = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c2 = c2.unwrap_or_else(|| panic!("{:?}: no listener on {remote}", s.flavor()));
    assert_eq!(
        c2.call("list_dbs", json!([])).unwrap(),
        json!(["Open_vSwitch", "_Server"])
    );

    // exit: the server stops by itself, cleanly.
    let _ = s.appctl(&["exit"]);
    let status = s
        .wait_exit(Duration::from_secs(5))
        .unwrap()
        .unwrap_or_else(|| panic!("{:?}: still running 5 s after `exit`", s.flavor()));
    assert!(status.success(), "{:?}: exit status {status}", s.flavor());
    assert!(log_records(&s) >= 2);
}

#[test]
fn appctl_debian() {
    appctl_scenario(OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn appctl_ferrovs() {
    appctl_scenario(
        OvsdbServer::start(
            Flavor::Ferrovs,
            ferrovs_tests::ovsdb_server::DbInit::Missing,
        )
        .expect("start ferrovs-ovsdb-server"),
    );
}
