//! Storage tests: the log file round-trips through ferrovs and through
//! Debian's real `ovsdb-tool` (both directions), a torn last record is
//! dropped on open, and compaction rewrites the file atomically.

use ovsdb::jsonrpc::Message;
use ovsdb::server::Core;
use ovsdb::storage::Storage;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn ovsdb_tool() -> String {
    for p in ["/usr/bin/ovsdb-tool", "/usr/local/bin/ovsdb-tool"] {
        if Path::new(p).exists() {
            return p.to_string();
        }
    }
    panic!("ovsdb-tool (Debian package openvswitch-common) is required for this test but was not found");
}

fn tool(args: &[&str]) -> String {
    let out = Command::new(ovsdb_tool())
        .args(args)
        .output()
        .expect("run ovsdb-tool");
    assert!(
        out.status.success(),
        "ovsdb-tool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn vswitch_schema() -> Value {
    serde_json::from_str(ovsdb::VSWITCH_SCHEMA).unwrap()
}

/// Opens `path` in a fresh core with one session.
fn open(path: &Path) -> (Core, u64) {
    let (db, st) = Storage::open(path).unwrap();
    let mut core = Core::new();
    core.add_db(db, st).unwrap();
    let sid = core.open_session();
    (core, sid)
}

fn transact(core: &mut Core, sid: u64, ops: Value) -> Value {
    let mut p = vec![json!("Open_vSwitch")];
    p.extend(ops.as_array().unwrap().iter().cloned());
    let m = Message::from_value(json!({"id": 1, "method": "transact", "params": p})).unwrap();
    core.handle(sid, &m, 0);
    // What the server's event loop does once the ready sessions have run.
    core.flush();
    // After the flush every gate is open, as the event loop's writer sees.
    let mut out = Vec::new();
    assert!(
        !core.take_ready(sid, &mut out),
        "reply held back after flush"
    );
    let mut reply = Value::Null;
    for v in serde_json::Deserializer::from_slice(&out).into_iter::<Value>() {
        let v = v.unwrap();
        if v["id"] == 1 {
            reply = v;
        }
    }
    reply["result"].clone()
}

fn add_bridge(core: &mut Core, sid: u64, name: &str) {
    let r = transact(
        core,
        sid,
        json!([
            {"op": "insert", "table": "Bridge", "uuid-name": "b", "row": {"name": name, "external_ids": ["map", [["k", name]]]}},
            {"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["bridges", "insert", ["named-uuid", "b"]]]},
            {"op": "comment", "comment": format!("add {name}")}
        ]),
    );
    assert!(
        r.as_array()
            .unwrap()
            .iter()
            .all(|x| x.get("error").is_none()),
        "{r}"
    );
}

fn bridge_names(core: &mut Core, sid: u64) -> Vec<String> {
    let r = transact(
        core,
        sid,
        json!([{"op": "select", "table": "Bridge", "where": [], "columns": ["name"]}]),
    );
    let mut v: Vec<String> = r[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn roundtrip_with_real_ovsdb_tool() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf.db");
    // A file made by OVS's own tool, with a transaction OVS wrote.
    tool(&[
        "create",
        path.to_str().unwrap(),
        "/usr/share/openvswitch/vswitch.ovsschema",
    ]);
    tool(&[
        "transact",
        path.to_str().unwrap(),
        r#"["Open_vSwitch",{"op":"insert","table":"Open_vSwitch","row":{"next_cfg":7}}]"#,
    ]);
    {
        let (mut core, sid) = open(&path);
        let r = transact(
            &mut core,
            sid,
            json!([{"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]}]),
        );
        assert_eq!(r[0]["rows"][0]["next_cfg"], 7);
        for n in ["br0", "br1", "br2"] {
            add_bridge(&mut core, sid, n);
        }
        transact(
            &mut core,
            sid,
            json!([{"op": "mutate", "table": "Bridge", "where": [["name", "==", "br1"]], "mutations": [["external_ids", "insert", ["map", [["x", "y"]]]]]}]),
        );
    }
    // OVS reads what ferrovs wrote, including diff records.
    let log = tool(&["show-log", path.to_str().unwrap()]);
    assert!(log.contains("add br2"), "{log}");
    let q = tool(&[
        "query",
        path.to_str().unwrap(),
        r#"["Open_vSwitch",{"op":"select","table":"Bridge","where":[["name","==","br1"]],"columns":["external_ids"]}]"#,
    ]);
    let v: Value = serde_json::from_str(&q).unwrap();
    assert_eq!(
        v[0]["rows"][0]["external_ids"],
        json!(["map", [["k", "br1"], ["x", "y"]]])
    );
    // OVS writes more, ferrovs reads it back.
    tool(&[
        "transact",
        path.to_str().unwrap(),
        r#"["Open_vSwitch",{"op":"mutate","table":"Bridge","where":[["name","==","br1"]],"mutations":[["external_ids","delete",["set",["k"]]]]}]"#,
    ]);
    let (mut core, sid) = open(&path);
    assert_eq!(bridge_names(&mut core, sid), vec!["br0", "br1", "br2"]);
    let r = transact(
        &mut core,
        sid,
        json!([{"op": "select", "table": "Bridge", "where": [["name", "==", "br1"]], "columns": ["external_ids"]}]),
    );
    assert_eq!(
        r[0]["rows"][0]["external_ids"],
        json!(["map", [["x", "y"]]])
    );
}

#[test]
fn torn_tail_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf.db");
    Storage::create(&path, &vswitch_schema()).unwrap();
    {
        let (mut core, sid) = open(&path);
        transact(
            &mut core,
            sid,
            json!([{"op": "insert", "table": "Open_vSwitch", "row": {}}]),
        );
        add_bridge(&mut core, sid, "br0");
    }
    let good = std::fs::metadata(&path).unwrap().len();
    // Half of a record, as a crash in the middle of write(2) leaves it.
    let mut rec = Vec::new();
    ovsdb::storage::log::encode_record(&json!({"Bridge": {}}), &mut rec);
    let mut data = std::fs::read(&path).unwrap();
    data.extend_from_slice(&rec[..rec.len() / 2]);
    std::fs::write(&path, &data).unwrap();
    let (mut core, sid) = open(&path);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    assert_eq!(bridge_names(&mut core, sid), vec!["br0"]);
    add_bridge(&mut core, sid, "br1");
    drop(core);
    tool(&["show-log", path.to_str().unwrap()]);
    let (mut core, sid) = open(&path);
    assert_eq!(bridge_names(&mut core, sid), vec!["br0", "br1"]);
}

#[test]
fn compaction_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf.db");
    Storage::create(&path, &vswitch_schema()).unwrap();
    let names: Vec<String> = (0..200).map(|i| format!("br{i:03}")).collect();
    {
        let (mut core, sid) = open(&path);
        transact(
            &mut core,
            sid,
            json!([{"op": "insert", "table": "Open_vSwitch", "row": {}}]),
        );
        for n in &names {
            add_bridge(&mut core, sid, n);
        }
        // Churn that compaction can drop.
        for i in 0..200 {
            transact(
                &mut core,
                sid,
                json!([{"op": "update", "table": "Open_vSwitch", "where": [], "row": {"next_cfg": i}}]),
            );
        }
        let before = std::fs::metadata(&path).unwrap().len();
        core.compact(1);
        // A transaction after the snapshot must land after it.
        add_bridge(&mut core, sid, "zz");
        drop(core);
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(
            after < before,
            "compaction did not shrink the log ({before} -> {after})"
        );
    }
    let log = tool(&["show-log", path.to_str().unwrap()]);
    assert_eq!(
        log.lines().filter(|l| l.starts_with("record")).count(),
        3,
        "{log}"
    );
    let (mut core, sid) = open(&path);
    let mut want = names.clone();
    want.push("zz".into());
    assert_eq!(bridge_names(&mut core, sid), want);
    let r = transact(
        &mut core,
        sid,
        json!([{"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]}]),
    );
    assert_eq!(r[0]["rows"][0]["next_cfg"], 199);
}
