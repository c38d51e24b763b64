//! The database file: Debian's `ovsdb-tool` reads what the server wrote,
//! and the server opens files written by `ovsdb-tool` and by Debian's
//! server (the same standalone log format both ways).

use std::process::Output;

use ferrovs_tests::ovsdb_server::{
    normalize_uuids, ovsdb_tool, sort_json_keys, DbInit, Flavor, OvsdbServer, VSWITCH_SCHEMA,
};
use serde_json::{json, Value};

fn tool_ok(args: &[&str]) -> String {
    let out: Output = ovsdb_tool(args);
    assert!(
        out.status.success(),
        "ovsdb-tool {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows a vsctl scenario leaves, as a normalised, sorted text.
fn contents_query() -> String {
    json!(["Open_vSwitch",
        {"op": "select", "table": "Bridge", "where": [], "columns": ["name", "external_ids", "fail_mode"]},
        {"op": "select", "table": "Port", "where": [], "columns": ["name", "tag", "trunks"]},
        {"op": "select", "table": "Interface", "where": [], "columns": ["name", "type", "options"]},
        {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["external_ids", "next_cfg"]}])
    .to_string()
}

/// Sorts the rows of each select result so that the comparison does not
/// depend on hash order.
fn canonical(reply: &str) -> String {
    let mut v: Value =
        serde_json::from_str(reply.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {reply}"));
    sort_json_keys(&mut v);
    for r in v.as_array_mut().expect("result array") {
        if let Some(rows) = r.get_mut("rows").and_then(Value::as_array_mut) {
            rows.sort_by_key(|row| row.to_string());
        }
    }
    normalize_uuids(&v.to_string())
}

fn fill(s: &OvsdbServer) {
    s.vsctl_ok(&["init"]);
    s.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "Bridge",
        "br0",
        "fail_mode=secure",
    ]);
    s.vsctl_ok(&["add-port", "br0", "p1", "--", "set", "Port", "p1", "tag=7"]);
    s.vsctl_ok(&[
        "add-port",
        "br0",
        "vx0",
        "--",
        "set",
        "Interface",
        "vx0",
        "type=vxlan",
        "options:remote_ip=198.18.0.2",
        "options:key=flow",
    ]);
    s.vsctl_ok(&[
        "add-br",
        "br1",
        "--",
        "br-set-external-id",
        "br1",
        "owner",
        "test",
    ]);
    s.vsctl_ok(&["set", "Port", "p1", "trunks=10,20"]);
    s.vsctl_ok(&[
        "set",
        "Open_vSwitch",
        ".",
        "external_ids:system-id=fvs",
        "next_cfg=42",
    ]);
    s.vsctl_ok(&["add-port", "br1", "gone"]);
    s.vsctl_ok(&["del-port", "br1", "gone"]);
}

/// Runs `fill` on a server of `flavor`, stops it and checks the file with
/// Debian's ovsdb-tool. Returns the canonical `ovsdb-tool query` result.
fn file_scenario(flavor: Flavor) -> String {
    let mut s = match flavor {
        Flavor::Debian => OvsdbServer::debian(),
        Flavor::Ferrovs => OvsdbServer::ferrovs(),
    }
    .expect("start server");
    fill(&s);
    s.stop().expect("stop server");
    let db = s.db_path();
    let db = db.to_str().unwrap();

    tool_ok(&["db-is-standalone", db]);
    assert_eq!(tool_ok(&["db-name", db]), "Open_vSwitch\n");
    assert_eq!(tool_ok(&["db-version", db]), "8.3.1\n");
    assert_eq!(
        tool_ok(&["db-cksum", db]),
        tool_ok(&["schema-cksum", VSWITCH_SCHEMA])
    );

    let log = tool_ok(&["show-log", db]);
    let first = log.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("record 0: \"Open_vSwitch\" schema, version=\"8.3.1\""),
        "{flavor:?}: show-log record 0: {first}"
    );
    // ovs-vsctl puts its command line in a `comment` operation; the log
    // keeps it (show-log prints it after the record's date).
    assert!(
        log.contains("ovs-vsctl --db=unix:") && log.contains("add-br br1"),
        "{flavor:?}: show-log lacks the transactions' comments:\n{log}"
    );
    let detailed = tool_ok(&["-m", "show-log", db]);
    for needle in [
        "table Bridge insert row \"br0\"",
        "table Port insert row \"p1\"",
        "table Interface insert row \"vx0\"",
    ] {
        assert!(
            detailed.contains(needle),
            "{flavor:?}: show-log -m lacks {needle:?}:\n{detailed}"
        );
    }

    let q = tool_ok(&["query", db, &contents_query()]);
    let c = canonical(&q);
    eprintln!("{flavor:?}: {c}");
    assert!(
        c.contains(r#"{"external_ids":["map",[]],"fail_mode":"secure","name":"br0"}"#),
        "{c}"
    );
    assert!(
        c.contains(r#""tag":7"#) && c.contains(r#"["set",[10,20]]"#),
        "{c}"
    );
    assert!(c.contains(r#"["remote_ip","198.18.0.2"]"#), "{c}");
    assert!(!c.contains(r#""name":"gone""#), "{c}");
    assert!(c.contains(r#""next_cfg":42"#), "{c}");
    c
}

#[test]
fn debian_file_reads_with_ovsdb_tool() {
    file_scenario(Flavor::Debian);
}

#[test]
fn ferrovs_file_reads_with_ovsdb_tool() {
    let d = file_scenario(Flavor::Debian);
    let f = file_scenario(Flavor::Ferrovs);
    assert_eq!(
        d, f,
        "ovsdb-tool query results differ (left: Debian, right: ferrovs)"
    );
}

/// `ovsdb-tool create` + `ovsdb-tool transact` (offline writes), then the
/// server serves those rows; then Debian's server and ferrovs's take turns
/// on the same file, each seeing the other's writes.
fn round_trip(first: Flavor, second: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("made-by-tool.db");
    let db_s = db.to_str().unwrap();
    tool_ok(&["create", db_s, VSWITCH_SCHEMA]);
    tool_ok(&[
        "transact",
        db_s,
        &json!(["Open_vSwitch",
            {"op": "insert", "table": "Open_vSwitch", "row": {"next_cfg": 5}},
            {"op": "insert", "table": "QoS", "row": {"type": "offline"}}])
        .to_string(),
    ]);

    let mut a = OvsdbServer::start(first, DbInit::CopyFrom(db.clone())).expect("start first");
    assert_eq!(a.vsctl_ok(&["get", "Open_vSwitch", ".", "next_cfg"]), "5\n");
    assert_eq!(
        a.vsctl_ok(&["--bare", "--columns=type", "list", "QoS"]),
        "offline\n"
    );
    a.vsctl_ok(&[
        "add-br",
        "br-a",
        "--",
        "set",
        "Open_vSwitch",
        ".",
        "next_cfg=6",
    ]);
    a.stop().unwrap();

    let mut b = OvsdbServer::start(second, DbInit::CopyFrom(a.db_path())).expect("start second");
    assert_eq!(b.vsctl_ok(&["get", "Open_vSwitch", ".", "next_cfg"]), "6\n");
    assert_eq!(b.vsctl_ok(&["list-br"]), "br-a\n");
    b.vsctl_ok(&["add-br", "br-b", "--", "del-br", "br-a"]);
    b.stop().unwrap();

    let mut c = OvsdbServer::start(first, DbInit::CopyFrom(b.db_path())).expect("start again");
    assert_eq!(c.vsctl_ok(&["list-br"]), "br-b\n");
    c.stop().unwrap();
    let db2 = c.db_path();
    tool_ok(&["db-is-standalone", db2.to_str().unwrap()]);
    tool_ok(&["show-log", db2.to_str().unwrap()]);
}

#[test]
fn round_trip_debian_only() {
    round_trip(Flavor::Debian, Flavor::Debian);
}

#[test]
fn round_trip_ferrovs_then_debian() {
    round_trip(Flavor::Ferrovs, Flavor::Debian);
}

#[test]
fn round_trip_debian_then_ferrovs() {
    round_trip(Flavor::Debian, Flavor::Ferrovs);
}

/// ferrovs opens a file compacted by `ovsdb-tool compact` (a snapshot
/// record instead of a history of transactions).
#[test]
fn ferrovs_opens_compacted_file() {
    let mut d = OvsdbServer::debian().expect("start Debian ovsdb-server");
    fill(&d);
    d.stop().unwrap();
    let db = d.db_path();
    tool_ok(&["compact", db.to_str().unwrap()]);
    let want = canonical(&tool_ok(&[
        "query",
        db.to_str().unwrap(),
        &contents_query(),
    ]));
    let f = OvsdbServer::start(Flavor::Ferrovs, DbInit::CopyFrom(db)).expect("start ferrovs");
    let got = f
        .rpc()
        .unwrap()
        .call("transact", serde_json::from_str(&contents_query()).unwrap())
        .expect("query ferrovs");
    assert_eq!(want, canonical(&got.to_string()));
}
