//! Debian's `ovsdb-client` (and raw RFC 7047 JSON-RPC) against a server.
//!
//! list-dbs, get-schema, list-tables, transact with every operation and
//! with failing ones (error objects), dump, monitor and monitor-cond
//! running in the background while `ovs-vsctl` changes the database. Each
//! scenario produces a normalised transcript (UUIDs replaced; error
//! objects reduced to their `error` string, since the RFC fixes that
//! string but not the human-readable `details`); the ferrovs tests require
//! the same transcript as Debian's server.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferrovs_tests::ovsdb_server::{normalize_uuids, sort_json_keys, Flavor, OvsdbServer};
use ferrovs_tests::{spawn_lines, tool, Child};
use serde_json::{json, Value};

/// Removes the free-form parts (`details`, `syntax`) of error objects.
fn strip_error_details(v: &mut Value) {
    sort_json_keys(v);
    strip_details(v);
}

fn strip_details(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("error") {
                m.remove("details");
                m.remove("syntax");
            }
            for x in m.values_mut() {
                strip_details(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_details),
        _ => {}
    }
}

/// Runs `ovsdb-client transact` and returns a normalised reply: the
/// result array, or `ERR <error object>` when the whole request failed.
fn transact(s: &OvsdbServer, ops: Value) -> String {
    let out = s.client("transact", &[&ops.to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = if out.status.success() {
        let mut v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "{:?}: transact printed non-JSON ({e}): {stdout:?}",
                s.flavor()
            )
        });
        strip_error_details(&mut v);
        v.to_string()
    } else {
        let json_part = stderr
            .find('{')
            .map(|i| &stderr[i..])
            .unwrap_or_else(|| panic!("{:?}: transact failed: {stderr}", s.flavor()));
        let mut v: Value = serde_json::from_str(json_part.trim())
            .unwrap_or_else(|e| panic!("{:?}: bad error reply ({e}): {stderr}", s.flavor()));
        strip_error_details(&mut v);
        format!("ERR {v}")
    };
    normalize_uuids(&text)
}

fn sorted_lines(s: &str) -> String {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort();
    v.join("\n")
}

fn client_ok(s: &OvsdbServer, cmd: &str, args: &[&str]) -> String {
    let out = s.client(cmd, args);
    assert!(
        out.status.success(),
        "{:?}: ovsdb-client {cmd} {}: {}\nserver log:\n{}",
        s.flavor(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn transact_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    // Every step runs; the unexpected replies are reported together.
    let mut bad = Vec::new();
    let mut step = |name: &str, ops: Value, expect: &dyn Fn(&str) -> bool| {
        let r = transact(s, ops);
        if !expect(&r) {
            bad.push(format!("{name}: unexpected reply {r}"));
        }
        t.push_str(&format!("{name}: {r}\n"));
    };
    let db = "Open_vSwitch";
    step(
        "insert the root row",
        json!([db, {"op": "insert", "table": "Open_vSwitch", "row": {}}]),
        &|r| r.starts_with(r#"[{"uuid":["uuid","<uuid>"]}]"#),
    );
    step(
        "insert+select+comment",
        json!([db,
            {"op": "insert", "table": "QoS", "row": {"type": "linux-htb",
                "other_config": ["map", [["max-rate", "100"]]]}, "uuid-name": "q"},
            {"op": "insert", "table": "Queue", "row": {"dscp": 7}, "uuid-name": "qu"},
            {"op": "mutate", "table": "QoS", "where": [["_uuid", "==", ["named-uuid", "q"]]],
                "mutations": [["queues", "insert", ["map", [[1, ["named-uuid", "qu"]]]]]]},
            {"op": "select", "table": "QoS", "where": [["type", "==", "linux-htb"]],
                "columns": ["type", "other_config"]},
            {"op": "comment", "comment": "ferrovs test"}]),
        &|r| {
            r.contains(
                r#"{"rows":[{"other_config":["map",[["max-rate","100"]]],"type":"linux-htb"}]}"#,
            )
        },
    );
    step(
        "insert with uuid",
        json!([db, {"op": "insert", "table": "QoS", "uuid": "5f5e2b7a-0000-4000-8000-000000000001",
            "row": {"type": "given"}},
            {"op": "select", "table": "QoS", "where": [["_uuid", "==",
                ["uuid", "5f5e2b7a-0000-4000-8000-000000000001"]]], "columns": ["type"]}]),
        &|r| r.contains(r#"{"rows":[{"type":"given"}]}"#),
    );
    step(
        "update",
        json!([db, {"op": "update", "table": "QoS", "where": [["type", "==", "given"]],
            "row": {"external_ids": ["map", [["k", "v"]]]}},
            {"op": "select", "table": "QoS", "where": [["type", "==", "given"]],
                "columns": ["external_ids"]}]),
        &|r| r.starts_with(r#"[{"count":1}"#),
    );
    step(
        "mutate integers and maps",
        json!([db,
            {"op": "mutate", "table": "Queue", "where": [], "mutations": [
                ["dscp", "+=", 10], ["dscp", "*=", 2], ["dscp", "-=", 1], ["dscp", "%=", 20],
                ["other_config", "insert", ["map", [["a", "1"], ["b", "2"]]]],
                ["other_config", "delete", ["set", ["a"]]]]},
            {"op": "select", "table": "Queue", "where": [], "columns": ["dscp", "other_config"]}]),
        // (7 + 10) * 2 - 1 = 33, 33 % 20 = 13.
        &|r| {
            r.contains(r#""dscp":13"#) && r.contains(r#"["b","2"]"#) && !r.contains(r#"["a","1"]"#)
        },
    );
    step(
        "wait satisfied",
        json!([db, {"op": "wait", "timeout": 0, "table": "QoS",
            "where": [["type", "==", "given"]], "columns": ["type"], "until": "==",
            "rows": [{"type": "given"}]}]),
        &|r| r == "[{}]",
    );
    step(
        "wait timed out",
        json!([db, {"op": "wait", "timeout": 0, "table": "QoS", "where": [],
            "columns": ["type"], "until": "==", "rows": []}]),
        &|r| r.contains(r#""error":"timed out""#),
    );
    step(
        "abort",
        json!([db, {"op": "update", "table": "QoS", "where": [], "row": {"type": "gone"}},
            {"op": "abort"}]),
        &|r| r.contains(r#""error":"aborted""#),
    );
    step(
        "abort changed nothing",
        json!([db, {"op": "select", "table": "QoS", "where": [["type", "==", "gone"]]}]),
        &|r| r == r#"[{"rows":[]}]"#,
    );
    step(
        "unknown table",
        json!([db, {"op": "insert", "table": "Nope", "row": {}}]),
        &|r| r.contains(r#""error":"#),
    );
    step(
        "wrong type",
        json!([db, {"op": "insert", "table": "QoS", "row": {"type": 5}}]),
        &|r| r.contains(r#""error":"#),
    );
    step(
        "unknown column",
        json!([db, {"op": "update", "table": "QoS", "where": [], "row": {"nocolumn": 1}}]),
        &|r| r.contains(r#""error":"#),
    );
    step(
        "enum constraint",
        json!([db, {"op": "insert", "table": "Bridge", "row": {"name": "x", "fail_mode": "bogus"}}]),
        &|r| r.contains(r#""error":"constraint violation""#),
    );
    step(
        "referential integrity",
        json!([db, {"op": "insert", "table": "Port", "row": {"name": "zz",
            "interfaces": ["uuid", "11111111-2222-3333-4444-555555555555"]}}]),
        &|r| r.contains(r#""error":"referential integrity violation""#),
    );
    step(
        "duplicate index",
        json!([db,
            {"op": "insert", "table": "Bridge", "row": {"name": "dup"}, "uuid-name": "a"},
            {"op": "insert", "table": "Bridge", "row": {"name": "dup"}, "uuid-name": "b"},
            {"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [
                ["bridges", "insert", ["set", [["named-uuid", "a"], ["named-uuid", "b"]]]]]}]),
        &|r| r.contains(r#""error":"constraint violation""#),
    );
    step(
        "maxRows",
        json!([db, {"op": "insert", "table": "Open_vSwitch", "row": {}}]),
        &|r| r.contains(r#""error":"constraint violation""#),
    );
    step(
        "unreferenced non-root rows are collected",
        json!([db, {"op": "insert", "table": "Bridge", "row": {"name": "orphan"}},
            {"op": "select", "table": "Bridge", "where": [["name", "==", "orphan"]]}]),
        &|r| r.contains(r#"{"rows":[{"#),
    );
    step(
        "orphan gone",
        json!([db, {"op": "select", "table": "Bridge", "where": [["name", "==", "orphan"]]}]),
        &|r| r == r#"[{"rows":[]}]"#,
    );
    step(
        "delete",
        json!([db, {"op": "delete", "table": "QoS", "where": [["type", "==", "given"]]},
            {"op": "select", "table": "QoS", "where": [], "columns": ["type"]}]),
        &|r| r.starts_with(r#"[{"count":1},{"rows":[{"type":"linux-htb"}]}]"#),
    );
    step(
        "unknown database",
        json!(["Nope", {"op": "select", "table": "QoS", "where": []}]),
        &|r| r.starts_with(r#"ERR {"error":"unknown database"}"#),
    );
    assert!(
        bad.is_empty(),
        "{:?}: {} of the transact steps failed:\n{}",
        s.flavor(),
        bad.len(),
        bad.join("\n")
    );
    t
}

#[test]
fn transact_debian() {
    let s = OvsdbServer::debian().expect("start Debian ovsdb-server");
    transact_scenario(&s);
}

#[test]
fn transact_ferrovs_matches_debian() {
    let d = transact_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = transact_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "transcripts differ (left: Debian, right: ferrovs)");
}

fn info_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    let dbs = client_ok(s, "list-dbs", &[]);
    assert_eq!(dbs, "Open_vSwitch\n_Server\n");
    t.push_str(&dbs);
    let v = client_ok(s, "get-schema-version", &["Open_vSwitch"]);
    assert_eq!(v, "8.3.1\n");
    t.push_str(&v);
    let tables = sorted_lines(&client_ok(s, "list-tables", &["Open_vSwitch"]));
    assert!(tables.contains("\nBridge\n"), "{tables}");
    t.push_str(&tables);
    let cols = sorted_lines(&client_ok(s, "list-columns", &["Open_vSwitch", "Bridge"]));
    t.push_str(&cols);
    // The _Server database OVS 3.x clients read.
    let server_db = client_ok(
        s,
        "transact",
        &[
            r#"["_Server",{"op":"select","table":"Database","where":[["name","==","Open_vSwitch"]],"columns":["name","model","connected","leader","schema"]}]"#,
        ],
    );
    let v: Value = serde_json::from_str(server_db.trim()).expect("JSON");
    let row = &v[0]["rows"][0];
    assert_eq!(row["name"], "Open_vSwitch", "{v}");
    assert_eq!(row["model"], "standalone", "{v}");
    assert_eq!(row["connected"], true, "{v}");
    assert_eq!(row["leader"], true, "{v}");
    let schema_text = row["schema"].as_str().expect("schema is a string");
    let in_server: Value = serde_json::from_str(schema_text).expect("schema JSON");
    let got: Value =
        serde_json::from_str(&client_ok(s, "get-schema", &["Open_vSwitch"])).expect("JSON");
    let mut d = Vec::new();
    schema_diff("", &in_server, &got, &mut d);
    assert!(
        d.is_empty(),
        "{:?}: _Server Database.schema (left) differs from get-schema (right):\n{}",
        s.flavor(),
        d[..d.len().min(15)].join("\n")
    );
    t.push_str(&format!(
        "\n_Server: {} {} {}\n",
        row["name"], row["model"], row["connected"]
    ));
    t
}

/// Where two schemas differ, as `path: left != right` lines (empty when
/// equal), so a failure names the table and column.
fn schema_diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => schema_diff(&format!("{path}/{k}"), va, vb, out),
                    None => out.push(format!("{path}/{k}: only on the left")),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!("{path}/{k}: only on the right"));
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

fn assert_same_schema(debian: &Value, ferrovs: &Value) {
    let mut d = Vec::new();
    schema_diff("", debian, ferrovs, &mut d);
    assert!(
        d.is_empty(),
        "get-schema differs (left: Debian, right: ferrovs):\n{}",
        d.join("\n")
    );
}

fn get_schema(s: &OvsdbServer) -> Value {
    serde_json::from_str(&client_ok(s, "get-schema", &["Open_vSwitch"])).expect("schema JSON")
}

#[test]
fn info_debian() {
    let s = OvsdbServer::debian().expect("start Debian ovsdb-server");
    info_scenario(&s);
    // Same tables and columns as the installed schema file.
    let installed: Value = serde_json::from_str(
        &std::fs::read_to_string(ferrovs_tests::ovsdb_server::VSWITCH_SCHEMA).unwrap(),
    )
    .unwrap();
    let names = |v: &Value| -> Vec<String> {
        let mut n = Vec::new();
        for (t, tv) in v["tables"].as_object().unwrap() {
            for c in tv["columns"].as_object().unwrap().keys() {
                n.push(format!("{t}.{c}"));
            }
        }
        n.sort();
        n
    };
    let got = get_schema(&s);
    assert_eq!(names(&got), names(&installed));
    assert_eq!(got["version"], installed["version"]);
}

#[test]
fn info_ferrovs_matches_debian() {
    let d = OvsdbServer::debian().expect("start Debian ovsdb-server");
    let f = OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server");
    assert_eq!(info_scenario(&d), info_scenario(&f));
    // The schema ferrovs ships is OVS 3.1's.
    assert_same_schema(&get_schema(&d), &get_schema(&f));
}

#[test]
fn get_schema_ferrovs_on_tool_created_db() {
    let d = OvsdbServer::debian().expect("start Debian ovsdb-server");
    let f = OvsdbServer::with_tool_db(Flavor::Ferrovs).expect("start ferrovs-ovsdb-server");
    assert_same_schema(&get_schema(&d), &get_schema(&f));
}

/// Raw JSON-RPC: echo, unknown method, malformed request, and the session
/// (and the server) survive bad input.
fn rpc_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    let mut c = s.rpc().expect("connect");
    let r = c.request("echo", json!(["x", 1])).unwrap();
    assert_eq!(r["result"], json!(["x", 1]), "{r}");
    t.push_str(&format!("echo: {}\n", r["result"]));
    let r = c.request("no_such_method", json!([])).unwrap();
    assert!(!r["error"].is_null(), "{r}");
    t.push_str(&format!("unknown method: error={}\n", r["error"]));
    let r = c.request("get_schema", json!(["Nope"])).unwrap();
    assert!(!r["error"].is_null(), "{r}");
    let mut e = r["error"].clone();
    strip_error_details(&mut e);
    t.push_str(&format!("get_schema Nope: {e}\n"));
    let r = c
        .request("transact", json!(["Open_vSwitch", {"op": "frobnicate"}]))
        .unwrap();
    let mut e = r.clone();
    strip_error_details(&mut e);
    t.push_str(&format!(
        "bad op: {}\n",
        normalize_uuids(&e["result"].to_string())
    ));
    // The session still works.
    let r = c.call("list_dbs", json!([])).unwrap();
    assert_eq!(r, json!(["Open_vSwitch", "_Server"]));
    // Malformed JSON on another session: the server closes or answers with
    // an error, and keeps serving everybody else.
    {
        use std::io::{Read, Write};
        let mut raw = std::os::unix::net::UnixStream::connect(s.sock_path()).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        raw.write_all(b"{\"method\": \"echo\", \"params\": [}\n")
            .unwrap();
        let mut buf = Vec::new();
        let _ = raw.read_to_end(&mut buf);
    }
    let r = c.call("echo", json!(["still here"])).unwrap();
    assert_eq!(r, json!(["still here"]));
    let mut c2 = s.rpc().expect("server still accepts connections");
    assert_eq!(c2.call("list_dbs", json!([])).unwrap()[0], "Open_vSwitch");
    t
}

#[test]
fn rpc_debian() {
    rpc_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn rpc_ferrovs_matches_debian() {
    let d = rpc_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = rpc_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// `ovsdb-client` running in the background; its stdout lines arrive on a
/// channel. Killed on drop.
struct Background {
    _child: Child,
    lines: mpsc::Receiver<String>,
    what: String,
}

impl Background {
    fn start(s: &OvsdbServer, cmd: &str, args: &[&str]) -> Background {
        let (child, lines) = spawn_lines(
            Command::new(tool("ovsdb-client"))
                .arg(cmd)
                .arg(s.remote())
                .args(args)
                .stderr(Stdio::null()),
        )
        .expect("spawn ovsdb-client");
        Background {
            _child: child,
            lines,
            what: format!("{:?} ovsdb-client {cmd} {}", s.flavor(), args.join(" ")),
        }
    }

    /// The next non-empty line within 10 s.
    fn line(&self) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(l) if l.trim().is_empty() => continue,
                Ok(l) => return l,
                Err(e) => panic!("{}: no output within 10 s ({e})", self.what),
            }
        }
    }

    /// Nothing more arrives within `d`.
    fn quiet_for(&self, d: Duration) {
        if let Ok(l) = self.lines.recv_timeout(d) {
            panic!("{}: unexpected output {l:?}", self.what);
        }
    }
}

fn monitor_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    s.vsctl_ok(&["init", "--", "add-br", "br0"]);

    let mon = Background::start(
        s,
        "monitor",
        &[
            "Open_vSwitch",
            "Bridge",
            "name,external_ids",
            "--format=json",
        ],
    );
    let cond = Background::start(
        s,
        "monitor-cond",
        &[
            "Open_vSwitch",
            r#"[["name","!=","br2"]]"#,
            "Bridge",
            "name,fail_mode",
            "--format=json",
        ],
    );
    let initial = mon.line();
    assert!(initial.contains(r#""initial","br0""#), "{initial}");
    t.push_str(&format!("monitor initial: {}\n", normalize_uuids(&initial)));
    let initial = cond.line();
    assert!(initial.contains(r#""initial","br0""#), "{initial}");
    t.push_str(&format!("cond initial: {}\n", normalize_uuids(&initial)));

    s.vsctl_ok(&["add-br", "br2"]);
    let l = mon.line();
    assert!(l.contains(r#""insert","br2""#), "{l}");
    t.push_str(&format!("monitor: {}\n", normalize_uuids(&l)));

    s.vsctl_ok(&[
        "add-br",
        "br1",
        "--",
        "set",
        "Bridge",
        "br1",
        "external_ids:a=b",
    ]);
    let l = mon.line();
    assert!(l.contains(r#""insert","br1",["map",[["a","b"]]]"#), "{l}");
    t.push_str(&format!("monitor: {}\n", normalize_uuids(&l)));
    // br2 does not match the condition: the first update is br1's insert.
    let l = cond.line();
    assert!(l.contains(r#""insert","br1""#), "{l}");
    t.push_str(&format!("cond: {}\n", normalize_uuids(&l)));
    let v: Value = serde_json::from_str(&l).expect("monitor prints JSON");
    let br1_uuid = v["data"][0][0].as_str().expect("row uuid").to_string();

    s.vsctl_ok(&["set", "Bridge", "br1", "fail_mode=secure"]);
    let l = cond.line();
    assert!(l.contains(r#""modify",null,"secure""#), "{l}");
    t.push_str(&format!("cond: {}\n", normalize_uuids(&l)));
    // fail_mode is not monitored by `mon`: no update for it.
    mon.quiet_for(Duration::from_millis(300));

    s.vsctl_ok(&["del-br", "br1"]);
    let l = mon.line();
    assert!(l.contains(r#""delete","br1""#), "{l}");
    t.push_str(&format!("monitor: {}\n", normalize_uuids(&l)));
    let l = cond.line();
    assert!(l.contains(&format!(r#"["{br1_uuid}","delete""#)), "{l}");
    t.push_str(&format!("cond: {}\n", normalize_uuids(&l)));

    // A change to br2 only: monitor-cond stays quiet.
    s.vsctl_ok(&["set", "Bridge", "br2", "fail_mode=secure"]);
    cond.quiet_for(Duration::from_millis(300));
    t
}

#[test]
fn monitor_debian() {
    monitor_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn monitor_ferrovs_matches_debian() {
    let d = monitor_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = monitor_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// `dump` of a table after vsctl changes (sorted rows).
fn dump_scenario(s: &OvsdbServer) -> String {
    s.vsctl_ok(&["init", "--", "add-br", "br0", "--", "add-port", "br0", "p1"]);
    let out = client_ok(s, "dump", &["Open_vSwitch", "Port", "name", "tag"]);
    assert!(out.contains("p1"), "{out}");
    sorted_lines(&normalize_uuids(&out))
}

#[test]
fn dump_ferrovs_matches_debian() {
    let d = dump_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = dump_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// Every transcript is reproducible on Debian's server, so a difference
/// against ferrovs is a difference in the server, not noise in the test.
#[test]
fn transcripts_are_deterministic_on_debian() {
    let d = || OvsdbServer::debian().expect("start Debian ovsdb-server");
    assert_eq!(transact_scenario(&d()), transact_scenario(&d()));
    assert_eq!(info_scenario(&d()), info_scenario(&d()));
    assert_eq!(rpc_scenario(&d()), rpc_scenario(&d()));
    assert_eq!(monitor_scenario(&d()), monitor_scenario(&d()));
    assert_eq!(dump_scenario(&d()), dump_scenario(&d()));
}
