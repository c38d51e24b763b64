//! Several monitor requests for one table (`monitor_cond` with an array of
//! requests per table), checked against Debian's real ovsdb-server: the
//! same requests go to both servers on identical databases and the results
//! (row uuids replaced by bridge names) must be the same. OVS 3.1 adds up
//! the requests' columns, rejects a column named twice, and selects rows by
//! the first request's "where" only.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const OVS_SERVER: &str = "/usr/sbin/ovsdb-server";
const OVS_TOOL: &str = "/usr/bin/ovsdb-tool";
const OVS_SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

mod common;

/// `bin` on a fresh database that Debian's ovsdb-tool created.
fn start(bin: &str, dir: &Path) -> (common::Server, PathBuf) {
    let out = Command::new(OVS_TOOL)
        .arg("create")
        .arg(dir.join("conf.db"))
        .arg(OVS_SCHEMA)
        .output()
        .expect("run ovsdb-tool");
    assert!(out.status.success(), "ovsdb-tool create failed");
    common::start(bin, dir)
}

struct Conn {
    s: UnixStream,
    buf: Vec<u8>,
    id: u64,
}

impl Conn {
    fn open(sock: &Path) -> Conn {
        let s = UnixStream::connect(sock).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn {
            s,
            buf: Vec::new(),
            id: 0,
        }
    }

    /// Sends a request and returns its reply (other messages are dropped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let req = json!({"method": method, "params": params, "id": self.id});
        self.s.write_all(req.to_string().as_bytes()).unwrap();
        loop {
            let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
            if let Some(Ok(v)) = it.next() {
                let used = it.byte_offset();
                self.buf.drain(..used);
                if v["id"] == json!(self.id) {
                    return v;
                }
                continue;
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk).expect("read reply");
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Three bridges a, b, c; returns uuid -> name.
fn fill(c: &mut Conn) -> HashMap<String, String> {
    let bridges = [("a", "secure"), ("b", "standalone"), ("c", "secure")];
    let mut ops = vec![
        json!("Open_vSwitch"),
        json!({"op": "insert", "table": "Open_vSwitch", "row": {
            "bridges": ["set", bridges.iter().map(|(n, _)| json!(["named-uuid", format!("br{n}")])).collect::<Vec<_>>()]}}),
    ];
    for (n, fm) in bridges {
        ops.push(
            json!({"op": "insert", "table": "Bridge", "uuid-name": format!("br{n}"),
            "row": {"name": n, "fail_mode": fm}}),
        );
    }
    let r = c.call("transact", Value::Array(ops));
    let res = r["result"].as_array().expect("transact result");
    let mut names = HashMap::new();
    for (k, (n, _)) in bridges.iter().enumerate() {
        let u = res[k + 1]["uuid"][1].as_str().expect("bridge uuid");
        names.insert(u.to_string(), n.to_string());
    }
    names
}

/// The reply with row uuids replaced by bridge names, or the error's tag,
/// details and syntax.
fn normalize(reply: &Value, names: &HashMap<String, String>) -> Value {
    if !reply["error"].is_null() {
        let e = &reply["error"];
        return json!({"error": e["error"], "details": e["details"], "syntax": e["syntax"]});
    }
    let mut out = serde_json::Map::new();
    for (t, rows) in reply["result"].as_object().expect("table updates") {
        let mut m = serde_json::Map::new();
        for (u, ch) in rows.as_object().expect("row updates") {
            m.insert(
                names.get(u).cloned().unwrap_or_else(|| u.clone()),
                ch.clone(),
            );
        }
        out.insert(t.clone(), Value::Object(m));
    }
    Value::Object(out)
}

fn requests() -> Vec<(&'static str, Value)> {
    let w = |n: &str| json!([["name", "==", n]]);
    vec![
        (
            "one request",
            json!({"Bridge": [{"columns": ["name"], "where": w("a")}]}),
        ),
        (
            "two wheres",
            json!({"Bridge": [{"columns": ["name"], "where": w("a")}, {"columns": ["fail_mode"], "where": w("b")}]}),
        ),
        (
            "second without where",
            json!({"Bridge": [{"columns": ["name"], "where": w("a")}, {"columns": ["fail_mode"]}]}),
        ),
        (
            "first without where",
            json!({"Bridge": [{"columns": ["name"]}, {"columns": ["fail_mode"], "where": w("b")}]}),
        ),
        (
            "column twice",
            json!({"Bridge": [{"columns": ["name"], "where": w("a")}, {"columns": ["name", "fail_mode"], "where": w("b")}]}),
        ),
    ]
}

fn run(bin: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let (_server, sock) = start(bin, dir.path());
    let mut c = Conn::open(&sock);
    let names = fill(&mut c);
    requests()
        .into_iter()
        .enumerate()
        .map(|(k, (_, req))| {
            let r = c.call(
                "monitor_cond",
                json!(["Open_vSwitch", format!("m{k}"), req]),
            );
            normalize(&r, &names)
        })
        .collect()
}

#[test]
fn several_requests_per_table_as_debian_ovsdb_server() {
    for p in [OVS_SERVER, OVS_TOOL, OVS_SCHEMA] {
        assert!(
            Path::new(p).exists(),
            "{p} (Debian's openvswitch-switch/-common) is required for this test but was not found"
        );
    }
    let ovs = run(OVS_SERVER);
    let ours = run(common::FERROVS);
    for (k, (name, req)) in requests().iter().enumerate() {
        assert_eq!(ours[k], ovs[k], "{name}: {req}");
    }
    // What Debian's server answered, so that the comparison is not vacuous.
    assert_eq!(ovs[1]["Bridge"].as_object().map(|m| m.len()), Some(1));
    assert_eq!(
        ovs[1]["Bridge"]["a"]["initial"],
        json!({"name": "a", "fail_mode": "secure"})
    );
    assert_eq!(ovs[3]["Bridge"].as_object().map(|m| m.len()), Some(3));
    assert_eq!(ovs[4]["error"], json!("syntax error"));
}
