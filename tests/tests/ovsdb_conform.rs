//! Differential edge cases of the OVSDB protocol: the same bytes go to
//! Debian's `ovsdb-server` (OVS 3.1) and to ferrovs, and the transcripts
//! (every message each sends back, and whether it closes the connection)
//! must be equal. Each case is one fresh connection; after its lines the
//! test sends an `echo` probe, so a transcript ends either with the probe's
//! answer or with `<closed>`. A bystander session stays open throughout and
//! must still answer at the end (a bad client harms no one else).
//!
//! Compared: the envelope's members (an error reply has no `result`), the
//! `error` string of every error object (not the free-form `details`), and
//! everything else with UUIDs blanked out.

use std::time::Duration;

use ferrovs_tests::ovsdb_server::{normalize_uuids, Flavor, OvsdbServer};
use serde_json::{json, Value};

/// Reduces every error object (`{"error": tag, "details": ...}`) to its tag.
fn strip_details(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("error").is_some_and(Value::is_string) {
                m.remove("details");
                m.remove("syntax");
            }
            m.values_mut().for_each(strip_details);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_details),
        _ => {}
    }
}

/// `v` as text with UUIDs blanked out, object members sorted after the
/// blanking (so rows keyed by UUID compare by content, not by the random
/// UUIDs' order).
fn shape(mut v: Value) -> String {
    strip_details(&mut v);
    canon(&v)
}

fn canon(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut e: Vec<String> = m
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}:{}",
                        normalize_uuids(&Value::String(k.clone()).to_string()),
                        canon(x)
                    )
                })
                .collect();
            e.sort();
            format!("{{{}}}", e.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canon).collect::<Vec<_>>().join(",")),
        x => normalize_uuids(&x.to_string()),
    }
}

/// Sends `lines` (each followed by a newline) on a new connection, then the
/// probe; returns what came back.
fn run_case(s: &OvsdbServer, lines: &[String]) -> String {
    let mut c = s.rpc().unwrap();
    c.set_read_timeout(Duration::from_secs(5));
    let mut out = String::new();
    for l in lines {
        // `<FF>` stands for the byte 0xff (invalid UTF-8).
        let bytes: Vec<u8> = format!("{l}\n")
            .split("<FF>")
            .collect::<Vec<_>>()
            .join("\u{1}")
            .bytes()
            .map(|b| if b == 1 { 0xff } else { b })
            .collect();
        if c.send_raw(&bytes).is_err() {
            out.push_str("<closed>\n");
            return out;
        }
    }
    let _ = c.send_raw(b"{\"method\":\"echo\",\"params\":[\"probe\"],\"id\":\"probe\"}\n");
    loop {
        match c.recv_or_closed() {
            Ok(Some(m)) => {
                let probe = m.get("id") == Some(&json!("probe"));
                out.push_str(&shape(m));
                out.push('\n');
                if probe {
                    return out;
                }
            }
            Ok(None) => {
                out.push_str("<closed>\n");
                return out;
            }
            Err(e) => {
                out.push_str(&format!("<{e}>\n"));
                return out;
            }
        }
    }
}

fn req(method: &str, params: Value, id: u64) -> String {
    json!({"method": method, "params": params, "id": id}).to_string()
}

fn tx(ops: Value) -> String {
    let mut p = vec![json!("Open_vSwitch")];
    p.extend(ops.as_array().unwrap().iter().cloned());
    req("transact", Value::Array(p), 1)
}

/// The cases: (name, lines). Lines are raw text; most are built with json!.
fn cases() -> Vec<(&'static str, Vec<String>)> {
    let raw = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        // --- malformed JSON-RPC: OVS closes without a reply ---
        ("invalid json", raw(&["{\"method\": ]"])),
        ("top-level array", raw(&["[1,2]"])),
        ("top-level number", raw(&["42"])),
        ("top-level string", raw(&["\"x\""])),
        ("missing method", raw(&[r#"{"params":[],"id":1}"#])),
        ("method not string", raw(&[r#"{"method":1,"params":[],"id":1}"#])),
        ("missing params", raw(&[r#"{"method":"list_dbs","id":1}"#])),
        ("params object", raw(&[r#"{"method":"list_dbs","params":{},"id":1}"#])),
        ("extra member", raw(&[r#"{"method":"list_dbs","params":[],"id":1,"x":2}"#])),
        ("unsolicited reply", raw(&[r#"{"result":[],"error":null,"id":99}"#])),
        ("unsolicited error reply", raw(&[r#"{"result":null,"error":"x","id":99}"#])),
        ("number out of range", raw(&[r#"{"method":"echo","params":[1e400],"id":1}"#])),
        ("integer out of range", raw(&[r#"{"method":"echo","params":[99999999999999999999],"id":1}"#])),
        ("lone surrogate", raw(&[r#"{"method":"echo","params":["\ud800"],"id":1}"#])),
        ("unknown notification", raw(&[r#"{"method":"bogus","params":[],"id":null}"#])),
        ("unknown method", raw(&[r#"{"method":"bogus","params":[],"id":5}"#])),
        ("echo notification", raw(&[r#"{"method":"echo","params":[],"id":null}"#])),
        // --- error replies ---
        ("unknown db", vec![req("get_schema", json!(["nope"]), 3)]),
        ("transact unknown db", vec![req("transact", json!(["nope"]), 3)]),
        // --- locks ---
        ("lock name not id", vec![req("lock", json!(["1abc"]), 1)]),
        ("lock name with space", vec![req("lock", json!(["a b"]), 1)]),
        ("lock name number", vec![req("lock", json!([5]), 1)]),
        ("lock no params", vec![req("lock", json!([]), 1)]),
        ("unlock not held", vec![req("unlock", json!(["zz"]), 1)]),
        // --- set_db_change_aware ---
        ("change aware true", vec![req("set_db_change_aware", json!([true]), 1)]),
        ("change aware empty", vec![req("set_db_change_aware", json!([]), 1)]),
        ("change aware string", vec![req("set_db_change_aware", json!(["x"]), 1)]),
        ("change aware two", vec![req("set_db_change_aware", json!([true, true]), 1)]),
        // --- monitors ---
        (
            "cond_since bad txn id",
            vec![req("monitor_cond_since", json!(["Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]}, "xyz"]), 1)],
        ),
        (
            "cond_change unknown table",
            vec![
                req("monitor_cond", json!(["Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]}]), 1),
                req("monitor_cond_change", json!(["m", "m2", {"Nope": [{"where": []}]}]), 2),
            ],
        ),
        (
            "cond_change with columns",
            vec![
                req("monitor_cond", json!(["Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]}]), 1),
                req("monitor_cond_change", json!(["m", "m2", {"Bridge": [{"columns": ["name"], "where": []}]}]), 2),
            ],
        ),
        (
            "cond_change id in use",
            vec![
                req("monitor_cond", json!(["Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]}]), 1),
                req("monitor_cond", json!(["Open_vSwitch", "n", {"Bridge": [{"columns": ["name"]}]}]), 2),
                req("monitor_cond_change", json!(["m", "n", {"Bridge": [{"where": []}]}]), 3),
            ],
        ),
        (
            "cond_change on plain monitor",
            vec![
                req("monitor", json!(["Open_vSwitch", "m", {"Bridge": {"columns": ["name"]}}]), 1),
                req("monitor_cond_change", json!(["m", "m2", {"Bridge": [{"where": [false]}]}]), 2),
            ],
        ),
        (
            "monitor _version",
            vec![req("monitor", json!(["Open_vSwitch", "m", {"Open_vSwitch": {"columns": ["_version", "ovs_version"]}}]), 1)],
        ),
        // --- transact checks ---
        ("uuid-name not id", vec![tx(json!([{"op": "insert", "table": "Bridge", "row": {"name": "u1"}, "uuid-name": "1x"}]))]),
        ("insert without row", vec![tx(json!([{"op": "insert", "table": "Flow_Sample_Collector_Set"}]))]),
        ("select duplicate columns", vec![tx(json!([{"op": "select", "table": "Bridge", "where": [], "columns": ["name", "name"]}]))]),
        ("select unknown column", vec![tx(json!([{"op": "select", "table": "Bridge", "where": [], "columns": ["nope"]}]))]),
        ("select sort", vec![tx(json!([{"op": "select", "table": "Bridge", "where": [], "columns": ["name"], "sort": ["name"]}]))]),
        ("lt on optional", vec![tx(json!([{"op": "select", "table": "Interface", "where": [["mtu", "<", 5]]}]))]),
        ("ge on optional", vec![tx(json!([{"op": "select", "table": "Interface", "where": [["mtu", ">=", 5]]}]))]),
        ("lt on required int", vec![tx(json!([{"op": "select", "table": "Flow_Sample_Collector_Set", "where": [["id", "<", 5]]}]))]),
        ("real as int in condition", vec![tx(json!([{"op": "select", "table": "Flow_Sample_Collector_Set", "where": [["id", "==", 5.0]]}]))]),
        ("fractional real as int", vec![tx(json!([{"op": "select", "table": "Flow_Sample_Collector_Set", "where": [["id", "==", 5.5]]}]))]),
        (
            "real as int in row",
            vec![tx(json!([{"op": "insert", "table": "Flow_Sample_Collector_Set", "row": {"id": 7.0, "bridge": ["named-uuid", "b"]}},
                           {"op": "insert", "table": "Bridge", "row": {"name": "r1"}, "uuid-name": "b"},
                           {"op": "select", "table": "Flow_Sample_Collector_Set", "where": [["id", "==", 7]], "columns": ["id"]}]))],
        ),
        (
            "insert names _uuid",
            vec![tx(json!([{"op": "insert", "table": "Bridge", "row": {"name": "u2", "_uuid": ["uuid", "01234567-89ab-cdef-0123-456789abcdef"]}}]))],
        ),
        (
            "undefined named-uuid into uuid column",
            vec![tx(json!([{"op": "insert", "table": "Open_vSwitch", "row": {"bridges": ["named-uuid", "nope"]}}]))],
        ),
        ("set size violation", vec![tx(json!([{"op": "insert", "table": "Port", "row": {"name": "p1", "tag": ["set", [1, 2]]}}]))]),
        ("duplicate set elements", vec![tx(json!([{"op": "insert", "table": "Port", "row": {"name": "p2", "trunks": ["set", [1, 1]]}}]))]),
        ("duplicate map keys", vec![tx(json!([{"op": "insert", "table": "Bridge", "row": {"name": "b3", "other_config": ["map", [["a", "1"], ["a", "2"]]]}}]))]),
        ("unknown mutator", vec![tx(json!([{"op": "mutate", "table": "Bridge", "where": [], "mutations": [["flood_vlans", "^=", 1]]}]))]),
        ("unknown function", vec![tx(json!([{"op": "select", "table": "Bridge", "where": [["name", "~=", "x"]]}]))]),
        ("wait unknown column", vec![tx(json!([{"op": "wait", "timeout": 0, "table": "Bridge", "where": [], "columns": ["nope"], "until": "==", "rows": []}]))]),
        ("wait no columns", vec![tx(json!([{"op": "wait", "timeout": 0, "table": "Bridge", "where": [], "until": "==", "rows": []}]))]),
        (
            "wait duplicate rows",
            vec![
                tx(json!([{"op": "insert", "table": "Bridge", "row": {"name": "w1"}}])),
                tx(json!([{"op": "wait", "timeout": 0, "table": "Bridge", "where": [["name", "==", "w1"]], "columns": ["name"], "until": "==", "rows": [{"name": "w1"}, {"name": "w1"}]}])),
            ],
        ),
        (
            "wait row with other columns",
            vec![tx(json!([{"op": "wait", "timeout": 0, "table": "Bridge", "where": [["name", "==", "w1"]], "columns": ["name"], "until": "==", "rows": [{"name": "w1", "stp_enable": false}]}]))],
        ),
        (
            "wait != no columns",
            vec![tx(json!([{"op": "wait", "timeout": 0, "table": "Bridge", "where": [["name", "==", "w1"]], "until": "!=", "rows": []}]))],
        ),
        ("invalid utf8 in a string", vec![tx(json!([{"op": "insert", "table": "Bridge", "row": {"name": "x<FF>y"}}]))]),
        (
            "optional compared with data",
            vec![tx(json!([
                {"op": "insert", "table": "Manager", "row": {"target": "ptcp:1", "inactivity_probe": 3}, "uuid-name": "m1"},
                {"op": "insert", "table": "Manager", "row": {"target": "ptcp:2"}, "uuid-name": "m2"},
                {"op": "insert", "table": "Manager", "row": {"target": "ptcp:3", "inactivity_probe": 9}, "uuid-name": "m3"},
                {"op": "insert", "table": "Open_vSwitch", "row": {"manager_options": ["set", [["named-uuid", "m1"], ["named-uuid", "m2"], ["named-uuid", "m3"]]]}},
                {"op": "select", "table": "Manager", "where": [["inactivity_probe", "<", 5]], "columns": ["target"]},
                {"op": "select", "table": "Manager", "where": [["inactivity_probe", ">=", 5]], "columns": ["target"]},
                {"op": "select", "table": "Manager", "where": [["inactivity_probe", "<=", 100]], "columns": ["target"], "sort": ["target"]},
                {"op": "select", "table": "Manager", "where": [["inactivity_probe", ">", 0.0]], "columns": ["target"], "sort": ["target"]},
            ]))],
        ),
        (
            "select sort with data",
            vec![tx(json!([
                {"op": "insert", "table": "Bridge", "row": {"name": "s3"}},
                {"op": "insert", "table": "Bridge", "row": {"name": "s1"}},
                {"op": "insert", "table": "Bridge", "row": {"name": "s2"}},
                {"op": "select", "table": "Bridge", "where": [], "columns": ["name"], "sort": ["name"]},
                {"op": "select", "table": "Bridge", "where": [], "columns": ["name"], "sort": ["nope"]},
            ]))],
        ),
        (
            "insert names _version",
            vec![tx(json!([{"op": "insert", "table": "Bridge", "row": {"name": "u3", "_version": ["uuid", "01234567-89ab-cdef-0123-456789abcdef"]}}]))],
        ),
        (
            "insert _uuid not a uuid",
            vec![tx(json!([{"op": "insert", "table": "Bridge", "row": {"name": "u4", "_uuid": 5}}]))],
        ),
        ("update _uuid", vec![tx(json!([{"op": "update", "table": "Bridge", "where": [], "row": {"_uuid": ["uuid", "01234567-89ab-cdef-0123-456789abcdef"]}}]))]),
        ("update size violation", vec![tx(json!([{"op": "update", "table": "Port", "where": [], "row": {"tag": ["set", [1, 2]]}}]))]),
        ("mutate size violation", vec![tx(json!([{"op": "mutate", "table": "Port", "where": [], "mutations": [["tag", "insert", ["set", [1, 2]]]]}]))]),
        ("invalid utf8 string", vec!["{\"method\":\"transact\",\"params\":[\"Open_vSwitch\",{\"op\":\"insert\",\"table\":\"Bridge\",\"row\":{\"name\":\"\\u00ff\"}}],\"id\":1}".into()]),
    ]
}

fn transcript(s: &OvsdbServer, only: Option<&str>) -> Vec<(String, String)> {
    let mut bystander = s.rpc().unwrap();
    bystander.call("list_dbs", json!([])).unwrap();
    let mut out = Vec::new();
    for (name, lines) in cases() {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        out.push((name.to_string(), run_case(s, &lines)));
    }
    let r = bystander
        .call("echo", json!(["still here"]))
        .expect("the bystander session survives the others' bad input");
    assert_eq!(r, json!(["still here"]));
    out
}

/// Deliberate difference: invalid UTF-8 in a member name (here a column
/// name). OVS answers "unknown column" with the raw bytes in its details,
/// which makes its reply invalid JSON (the client's parser fails); ferrovs
/// never sends invalid UTF-8: the operation fails with a constraint
/// violation, as one holding an invalid string value does in OVS.
#[test]
fn invalid_utf8_in_a_member_name_deliberate_difference() {
    let lines = vec![tx(
        json!([{"op": "insert", "table": "Bridge", "row": {"name": "ok", "ext<FF>": 1}}]),
    )];
    let d = run_case(&OvsdbServer::with_tool_db(Flavor::Debian).unwrap(), &lines);
    assert!(d.starts_with("<server sent invalid JSON"), "Debian: {d}");
    let f = run_case(&OvsdbServer::with_tool_db(Flavor::Ferrovs).unwrap(), &lines);
    assert_eq!(
        f,
        "{\"error\":null,\"id\":1,\"result\":[{\"error\":\"constraint violation\"}]}\n\
         {\"error\":null,\"id\":\"probe\",\"result\":[\"probe\"]}\n"
    );
}

#[test]
fn edge_cases_ferrovs_matches_debian() {
    let d = transcript(&OvsdbServer::with_tool_db(Flavor::Debian).unwrap(), None);
    let f = transcript(&OvsdbServer::with_tool_db(Flavor::Ferrovs).unwrap(), None);
    let mut bad = String::new();
    for ((name, a), (_, b)) in d.iter().zip(&f) {
        if a != b {
            bad.push_str(&format!(
                "== {name}\n debian:  {}\n ferrovs: {}\n",
                a.replace('\n', " | "),
                b.replace('\n', " | ")
            ));
        }
    }
    assert!(bad.is_empty(), "differences:\n{bad}");
}

/// Monitors of `_version` (named, and implied by "all columns"), and the
/// order in which three monitors of one session get the updates of one
/// commit. Returns every message of the monitoring session, shaped.
fn version_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    let mut m = s.rpc().unwrap();
    let mut w = s.rpc().unwrap();
    let mut log = |v: Value| {
        t.push_str(&shape(v));
        t.push('\n');
    };
    log(m
        .request(
            "monitor",
            json!(["Open_vSwitch", "a", {"Open_vSwitch": {"columns": ["_version", "next_cfg"]}}]),
        )
        .unwrap());
    log(m
        .request(
            "monitor_cond",
            json!(["Open_vSwitch", "b", {"Open_vSwitch": [{}]}]),
        )
        .unwrap());
    log(m
        .request(
            "monitor_cond",
            json!(["Open_vSwitch", "c", {"Open_vSwitch": [{"columns": ["next_cfg"]}]}]),
        )
        .unwrap());
    let steps = [
        json!([{"op": "insert", "table": "Open_vSwitch", "row": {"next_cfg": 1}}]),
        json!([{"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["next_cfg", "+=", 1]]}]),
        // A column only "b" watches: "a" sees its _version change.
        json!([{"op": "update", "table": "Open_vSwitch", "where": [], "row": {"ovs_version": "x"}}]),
        json!([{"op": "delete", "table": "Open_vSwitch", "where": []}]),
    ];
    for ops in steps {
        let mut p = vec![json!("Open_vSwitch")];
        p.extend(ops.as_array().unwrap().iter().cloned());
        let r = w.call("transact", Value::Array(p)).unwrap();
        assert!(r[0].get("error").is_none(), "{r}");
        // Everything the commit causes, up to the echo probe.
        let probe = m.request("echo", json!(["p"])).unwrap();
        for n in std::mem::take(&mut m.notifications) {
            log(n);
        }
        log(probe);
    }
    t
}

#[test]
fn monitor_version_and_order_ferrovs_matches_debian() {
    let d = version_scenario(&OvsdbServer::with_tool_db(Flavor::Debian).unwrap());
    let f = version_scenario(&OvsdbServer::with_tool_db(Flavor::Ferrovs).unwrap());
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// A small schema for what the Open_vSwitch schema cannot show: a plain
/// (non-reference) uuid column, defaults that violate their own
/// constraints, optional integers.
const SMALL_SCHEMA: &str = r#"{"name": "T", "version": "1.0.0", "tables": {
  "R": {"isRoot": true, "columns": {
     "u": {"type": "uuid"},
     "n": {"type": {"key": {"type": "integer", "minInteger": 1}}},
     "s": {"type": {"key": {"type": "string", "enum": ["set", ["a", "b"]]}}}}},
  "P": {"isRoot": true, "columns": {
     "x": {"type": "integer"},
     "o": {"type": {"key": "integer", "min": 0, "max": 1}}}}}}"#;

fn small_server(flavor: Flavor, dir: &std::path::Path) -> OvsdbServer {
    let schema = dir.join("small.ovsschema");
    std::fs::write(&schema, SMALL_SCHEMA).unwrap();
    OvsdbServer::start(
        flavor,
        ferrovs_tests::ovsdb_server::DbInit::ToolCreate(schema),
    )
    .unwrap()
}

fn ttx(ops: Value) -> String {
    let mut p = vec![json!("T")];
    p.extend(ops.as_array().unwrap().iter().cloned());
    req("transact", Value::Array(p), 1)
}

fn small_cases() -> Vec<(&'static str, Vec<String>)> {
    vec![
        (
            "default violates enum",
            vec![ttx(
                json!([{"op": "insert", "table": "R", "row": {"n": 1}}]),
            )],
        ),
        (
            "default violates minInteger",
            vec![ttx(
                json!([{"op": "insert", "table": "R", "row": {"s": "a"}}]),
            )],
        ),
        (
            "undefined named-uuid in a plain uuid column",
            vec![ttx(
                json!([{"op": "insert", "table": "R", "row": {"n": 1, "s": "a", "u": ["named-uuid", "nowhere"]}}]),
            )],
        ),
        (
            "defaults overridden",
            vec![ttx(
                json!([{"op": "insert", "table": "R", "row": {"n": 1, "s": "a"}}]),
            )],
        ),
        (
            "rows for P",
            vec![ttx(json!([
                {"op": "insert", "table": "P", "row": {"x": 1, "o": 5}},
                {"op": "insert", "table": "P", "row": {"x": 2}},
                {"op": "insert", "table": "P", "row": {"x": 3, "o": 1}},
                {"op": "select", "table": "P", "where": [["o", "<", 3]], "columns": ["x"]},
                {"op": "select", "table": "P", "where": [["o", ">", 3]], "columns": ["x"]},
                {"op": "select", "table": "P", "where": [["o", "<=", 5.0]], "columns": ["x"], "sort": ["x"]},
                {"op": "select", "table": "P", "where": [["o", ">=", 1]], "columns": ["x"], "sort": ["o"]},
                {"op": "select", "table": "P", "where": [["o", "==", ["set", []]]], "columns": ["x"]},
            ]))],
        ),
        (
            "cond_change on monitor",
            vec![
                req("monitor", json!(["T", "m", {"P": {"columns": ["x"]}}]), 1),
                req(
                    "monitor_cond_change",
                    json!(["m", "m2", {"P": [{"where": [["x", "==", 1]]}]}]),
                    2,
                ),
                req(
                    "monitor_cond_change",
                    json!(["m2", "m3", {"P": [{"where": [["x", ">=", 2]]}]}]),
                    3,
                ),
            ],
        ),
        (
            "plain monitor after cond_change",
            vec![
                req("monitor", json!(["T", "pm", {"P": {"columns": ["x"]}}]), 1),
                req(
                    "monitor_cond_change",
                    json!(["pm", "pm", {"P": [{"where": [["x", ">=", 50]]}]}]),
                    2,
                ),
                ttx(
                    json!([{"op": "insert", "table": "P", "row": {"x": 10}}, {"op": "insert", "table": "P", "row": {"x": 60}}]),
                ),
            ],
        ),
        (
            "cond_change on monitor_cond_since",
            vec![
                req(
                    "monitor_cond_since",
                    json!(["T", "m", {"P": [{"columns": ["x"], "where": [false]}]}, "00000000-0000-0000-0000-000000000000"]),
                    1,
                ),
                req(
                    "monitor_cond_change",
                    json!(["m", "m", {"P": [{"where": [["x", "<", 3]]}]}]),
                    2,
                ),
            ],
        ),
        (
            "wait omitted columns",
            vec![ttx(
                json!([{"op": "wait", "timeout": 0, "table": "P", "where": [["x", "==", 2]], "until": "==", "rows": [{"x": 2}]}]),
            )],
        ),
        (
            "wait duplicate rows",
            vec![ttx(
                json!([{"op": "wait", "timeout": 0, "table": "P", "where": [["x", "==", 2]], "columns": ["x"], "until": "==", "rows": [{"x": 2}, {"x": 2}]}]),
            )],
        ),
        (
            "wait duplicate actual rows",
            vec![ttx(json!([
                {"op": "insert", "table": "P", "row": {"x": 2, "o": 8}},
                {"op": "wait", "timeout": 0, "table": "P", "where": [["x", "==", 2]], "columns": ["x"], "until": "==", "rows": [{"x": 2}]},
            ]))],
        ),
        (
            "wait omitted columns with _uuid",
            vec![ttx(json!([
                {"op": "wait", "timeout": 0, "table": "P", "where": [["x", "==", 3]], "until": "!=", "rows": [{"x": 3, "o": 1}]},
            ]))],
        ),
        (
            "wait row with other columns",
            vec![ttx(
                json!([{"op": "wait", "timeout": 0, "table": "P", "where": [["x", "==", 2]], "columns": ["x"], "until": "==", "rows": [{"x": 2, "o": 7}]}]),
            )],
        ),
    ]
}

fn small_transcript(flavor: Flavor) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let s = small_server(flavor, dir.path());
    small_cases()
        .into_iter()
        .map(|(name, lines)| (name.to_string(), run_case(&s, &lines)))
        .collect()
}

#[test]
fn small_schema_ferrovs_matches_debian() {
    let d = small_transcript(Flavor::Debian);
    let f = small_transcript(Flavor::Ferrovs);
    let mut bad = String::new();
    for ((name, a), (_, b)) in d.iter().zip(&f) {
        if a != b {
            bad.push_str(&format!(
                "== {name}\n debian:  {}\n ferrovs: {}\n",
                a.replace('\n', " | "),
                b.replace('\n', " | ")
            ));
        }
    }
    assert!(bad.is_empty(), "differences:\n{bad}");
}

/// Deliberate difference: monitor_cond_since history. OVS 3.1's standalone
/// server keeps none (found=false and the whole table every time, its
/// last-txn-id all zeros); ferrovs keeps recent transactions, so a client
/// resuming from an id it knows gets found=true and only what changed
/// meanwhile (fewer bytes and no full re-dump for reconnecting IDLs). This
/// checks the delta is exact: several commits merged, a row inserted and
/// deleted in the gap absent, a modified row as a modify, a deleted one
/// as a delete; and an unknown id still gets found=false and everything.
#[test]
fn cond_since_history_deliberate_difference() {
    let since = |c: &mut ferrovs_tests::ovsdb_server::JsonRpc, last: &str| {
        c.call(
            "monitor_cond_since",
            json!(["Open_vSwitch", "m", {"Bridge": [{"columns": ["name", "stp_enable"]}]}, last]),
        )
        .unwrap()
    };
    let zero = "00000000-0000-0000-0000-000000000000";
    let d = OvsdbServer::with_tool_db(Flavor::Debian).unwrap();
    d.vsctl_ok(&["init", "--", "add-br", "b1"]);
    let r = since(&mut d.rpc().unwrap(), zero);
    assert_eq!(r[0], false, "{r}");
    assert_eq!(r[1], zero, "Debian keeps no history: {r}");

    let s = OvsdbServer::with_tool_db(Flavor::Ferrovs).unwrap();
    s.vsctl_ok(&["init", "--", "add-br", "b1", "--", "add-br", "b2"]);
    let mut c = s.rpc().unwrap();
    let r = since(&mut c, zero);
    assert_eq!(r[0], false, "{r}");
    let last = r[1].as_str().unwrap().to_string();
    assert_ne!(last, zero);
    drop(c);
    s.vsctl_ok(&["add-br", "b3"]);
    s.vsctl_ok(&["set", "Bridge", "b1", "stp_enable=true"]);
    s.vsctl_ok(&["del-br", "b2"]);
    s.vsctl_ok(&["add-br", "tmp", "--", "del-br", "tmp"]);
    s.vsctl_ok(&["add-br", "tmp2"]);
    s.vsctl_ok(&["del-br", "tmp2"]);
    let mut c = s.rpc().unwrap();
    let r = since(&mut c, &last);
    assert_eq!(r[0], true, "{r}");
    let mut acts: Vec<String> = r[2]["Bridge"]
        .as_object()
        .unwrap()
        .values()
        .map(|u| {
            let (k, v) = u.as_object().unwrap().iter().next().unwrap();
            format!("{k} {}", normalize_uuids(&v.to_string()))
        })
        .collect();
    acts.sort();
    assert_eq!(
        acts,
        [
            "delete null",
            "insert {\"name\":\"b3\"}",
            "modify {\"stp_enable\":true}",
        ],
        "{r}"
    );
    // An id the server never issued: found=false and the whole table.
    let r = since(
        &mut s.rpc().unwrap(),
        "11111111-2222-3333-4444-555555555555",
    );
    assert_eq!(r[0], false, "{r}");
    assert_eq!(r[2]["Bridge"].as_object().unwrap().len(), 2, "{r}");
}
