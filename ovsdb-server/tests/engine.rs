//! Engine tests: every transact operation and error, monitors, locks and
//! `_Server`, driven through `Core` exactly as a session does (JSON-RPC
//! messages in, queued JSON out), on an in-memory database.

use ovsdb::jsonrpc::Message;
use ovsdb::schema::DatabaseSchema;
use ovsdb::server::Core;
use ovsdb::storage::Storage;
use ovsdb::table::Db;
use ovsdb::transact_text::differential;
use ovsdb::transaction::ExecCtx;
use serde_json::{json, Value};
use std::sync::Arc;

const SCHEMA: &str = r#"{"name": "T", "version": "1.0.0", "tables": {
  "Root": {"isRoot": true, "maxRows": 3, "columns": {
     "name": {"type": "string"},
     "kids": {"type": {"key": {"type": "uuid", "refTable": "Kid"}, "min": 0, "max": "unlimited"}},
     "weak": {"type": {"key": {"type": "uuid", "refTable": "Kid", "refType": "weak"}, "min": 0, "max": "unlimited"}},
     "n": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 100}}},
     "r": {"type": "real"},
     "ints": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
     "color": {"type": {"key": {"type": "string", "enum": ["set", ["red", "blue"]]}, "min": 0, "max": 1}},
     "m": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
     "fixed": {"type": "string", "mutable": false}},
   "indexes": [["name"]]},
  "Kid": {"columns": {"name": {"type": "string"}}}}}"#;

struct H {
    core: Core,
    sid: u64,
    next_id: u64,
    /// Transactions the fast path ran (and matched the generic engine on).
    fast: usize,
}

impl H {
    fn new() -> H {
        let v: Value = serde_json::from_str(SCHEMA).unwrap();
        let schema = Arc::new(DatabaseSchema::from_json(&v).unwrap());
        let mut core = Core::new();
        core.add_db(Db::new(schema), Storage::memory()).unwrap();
        let sid = core.open_session();
        H {
            core,
            sid,
            next_id: 1,
            fast: 0,
        }
    }

    /// A second session on the same core.
    fn session(&mut self) -> u64 {
        self.core.open_session()
    }

    /// Everything queued for `sid` (in-memory storage: no gate is closed).
    fn drain(&mut self, sid: u64) -> Vec<Value> {
        let mut buf = Vec::new();
        assert!(!self.core.take_ready(sid, &mut buf), "output held back");
        serde_json::Deserializer::from_slice(&buf)
            .into_iter::<Value>()
            .map(Result::unwrap)
            .collect()
    }

    fn call_on(&mut self, sid: u64, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        // As a session does: from the bytes, so transacts take the fast
        // path where it applies; that path must then agree with the generic
        // engine on the same database, UUID for UUID.
        let text =
            serde_json::to_vec(&json!({"id": id, "method": method, "params": params})).unwrap();
        let m = Message::parse(&text).unwrap();
        if let Message::Transact(t) = &m {
            if let Some(i) = t.db_name().and_then(|n| self.core.db_index(&n)) {
                let e = &self.core.dbs[i];
                let ctx = ExecCtx {
                    read_only: e.read_only,
                    has_lock: &|_| false,
                    elapsed_ms: 0,
                };
                if differential(&e.db, t, &ctx).unwrap() {
                    self.fast += 1;
                }
            }
        }
        self.core.handle(sid, &m, 0);
        id.into()
    }

    /// Calls a method on the main session; returns (reply, notifications).
    fn call(&mut self, method: &str, params: Value) -> (Value, Vec<Value>) {
        let id = self.call_on(self.sid, method, params);
        let msgs = self.drain(self.sid);
        let mut reply = Value::Null;
        let mut notes = Vec::new();
        for m in msgs {
            if m["id"] == id {
                reply = m;
            } else {
                notes.push(m);
            }
        }
        (reply, notes)
    }

    fn tx(&mut self, ops: Value) -> Vec<Value> {
        let mut p = vec![json!("T")];
        p.extend(ops.as_array().unwrap().iter().cloned());
        let (r, _) = self.call("transact", Value::Array(p));
        assert!(r["error"].is_null(), "{r}");
        r["result"].as_array().unwrap().clone()
    }

    /// The error tag of the first failing result.
    fn tx_err(&mut self, ops: Value) -> String {
        let res = self.tx(ops);
        res.iter()
            .find_map(|r| r.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| panic!("no error in {res:?}"))
    }

    fn select(&mut self, table: &str, cols: Value) -> Vec<Value> {
        let r = self.tx(json!([{"op": "select", "table": table, "where": [], "columns": cols}]));
        r[0]["rows"].as_array().unwrap().clone()
    }
}

fn insert_root(h: &mut H, name: &str) -> String {
    let r = h.tx(json!([{"op": "insert", "table": "Root", "row": {"name": name, "fixed": "f"}}]));
    r[0]["uuid"][1].as_str().unwrap().to_string()
}

#[test]
fn insert_select_with_named_and_given_uuid() {
    let mut h = H::new();
    let r = h.tx(json!([
        {"op": "insert", "table": "Kid", "uuid-name": "k", "row": {"name": "kid"}},
        {"op": "insert", "table": "Root", "row": {"name": "a", "kids": ["named-uuid", "k"]}},
        {"op": "insert", "table": "Root", "uuid": "11111111-2222-3333-4444-555555555555", "row": {"name": "b"}},
        {"op": "comment", "comment": "hello"}
    ]));
    assert_eq!(r.len(), 4);
    let kid = r[0]["uuid"][1].as_str().unwrap();
    let rows = h.select("Root", json!(["name", "kids", "_uuid"]));
    assert_eq!(rows.len(), 2);
    let a = rows.iter().find(|x| x["name"] == "a").unwrap();
    assert_eq!(a["kids"], json!(["uuid", kid]));
    let b = rows.iter().find(|x| x["name"] == "b").unwrap();
    assert_eq!(
        b["_uuid"],
        json!(["uuid", "11111111-2222-3333-4444-555555555555"])
    );
    // Default select returns every column plus _uuid and _version.
    let all = h.tx(json!([{"op": "select", "table": "Root", "where": [["name", "==", "a"]]}]));
    let row = &all[0]["rows"][0];
    assert!(row.get("_version").is_some() && row.get("m").is_some());
    assert_eq!(row["m"], json!(["map", []]));
    // Duplicate given uuid.
    let e = h.tx_err(json!([{"op": "insert", "table": "Root", "uuid": "11111111-2222-3333-4444-555555555555", "row": {"name": "c"}}]));
    assert_eq!(e, "duplicate uuid");
    // Duplicate uuid-name.
    let e = h.tx_err(json!([
        {"op": "insert", "table": "Kid", "uuid-name": "x", "row": {}},
        {"op": "insert", "table": "Kid", "uuid-name": "x", "row": {}}
    ]));
    assert_eq!(e, "duplicate uuid-name");
}

#[test]
fn errors_pad_results_with_null() {
    let mut h = H::new();
    let r = h.tx(json!([
        {"op": "insert", "table": "Root", "row": {"name": "a"}},
        {"op": "bogus"},
        {"op": "insert", "table": "Root", "row": {"name": "b"}}
    ]));
    assert_eq!(r.len(), 3);
    assert_eq!(r[1]["error"], "syntax error");
    assert!(r[2].is_null());
    // Nothing was committed.
    assert!(h.select("Root", json!(["name"])).is_empty());
}

#[test]
fn update_mutate_delete() {
    let mut h = H::new();
    insert_root(&mut h, "a");
    let r = h.tx(json!([{"op": "update", "table": "Root", "where": [["name", "==", "a"]], "row": {"n": 5, "r": 1.5, "ints": ["set", [1, 2]], "m": ["map", [["k", "v"]]]}}]));
    assert_eq!(r[0]["count"], 1);
    let muts = json!([
        ["n", "+=", 10],
        ["n", "*=", 2],
        ["n", "-=", 1],
        ["n", "/=", 2],
        ["n", "%=", 8],
        ["r", "*=", 2.0],
        ["ints", "+=", 10],
        ["ints", "insert", ["set", [5, 11]]],
        ["ints", "delete", 12],
        ["m", "insert", ["map", [["k", "ignored"], ["k2", "v2"]]]],
        ["m", "delete", ["set", ["k"]]]
    ]);
    let r = h.tx(json!([{"op": "mutate", "table": "Root", "where": [], "mutations": muts}]));
    assert_eq!(r[0]["count"], 1);
    let row = &h.select("Root", json!(["n", "r", "ints", "m"]))[0];
    // ((5+10)*2-1)/2 = 14, 14 % 8 = 6
    assert_eq!(row["n"], 6);
    assert_eq!(row["r"], 3.0);
    assert_eq!(row["ints"], json!(["set", [5, 11]]));
    assert_eq!(row["m"], json!(["map", [["k2", "v2"]]]));
    // Map delete by exact pair only.
    h.tx(json!([{"op": "mutate", "table": "Root", "where": [], "mutations": [["m", "delete", ["map", [["k2", "other"]]]]]}]));
    assert_eq!(
        h.select("Root", json!(["m"]))[0]["m"],
        json!(["map", [["k2", "v2"]]])
    );
    // Errors.
    let w = json!([]);
    assert_eq!(
        h.tx_err(
            json!([{"op": "mutate", "table": "Root", "where": w, "mutations": [["n", "/=", 0]]}])
        ),
        "domain error"
    );
    assert_eq!(
        h.tx_err(
            json!([{"op": "mutate", "table": "Root", "where": w, "mutations": [["n", "+=", 1000]]}])
        ),
        "constraint violation"
    );
    assert_eq!(h.tx_err(json!([{"op": "mutate", "table": "Root", "where": w, "mutations": [["ints", "+=", i64::MAX]]}])), "range error");
    assert_eq!(h.tx_err(json!([{"op": "mutate", "table": "Root", "where": w, "mutations": [["fixed", "insert", "x"]]}])), "constraint violation");
    assert_eq!(h.tx_err(json!([{"op": "mutate", "table": "Root", "where": w, "mutations": [["name", "insert", "x"]]}])), "syntax error");
    assert_eq!(
        h.tx_err(json!([{"op": "update", "table": "Root", "where": w, "row": {"fixed": "g"}}])),
        "constraint violation"
    );
    // Conditions.
    for (cond, n) in [
        (json!([["n", "<", 7]]), 1),
        (json!([["n", ">", 6]]), 0),
        (json!([["n", "<=", 6], ["n", ">=", 6]]), 1),
        (json!([["ints", "includes", 5]]), 1),
        (json!([["ints", "excludes", ["set", [5, 99]]]]), 0),
        (json!([["name", "!=", "a"]]), 0),
        (json!([["color", "==", ["set", []]]]), 1),
    ] {
        let r =
            h.tx(json!([{"op": "select", "table": "Root", "where": cond, "columns": ["name"]}]));
        assert_eq!(r[0]["rows"].as_array().unwrap().len(), n, "{cond}");
    }
    let r = h.tx(json!([{"op": "delete", "table": "Root", "where": [["name", "==", "a"]]}]));
    assert_eq!(r[0]["count"], 1);
    assert!(h.select("Root", json!(["name"])).is_empty());
}

#[test]
fn constraints_index_maxrows_enum() {
    let mut h = H::new();
    insert_root(&mut h, "a");
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Root", "row": {"name": "a"}}])),
        "constraint violation"
    );
    assert_eq!(
        h.tx_err(
            json!([{"op": "insert", "table": "Root", "row": {"name": "z", "color": "green"}}])
        ),
        "constraint violation"
    );
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Root", "row": {"name": "z", "n": 101}}])),
        "constraint violation"
    );
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Root", "row": {"name": 5}}])),
        "syntax error"
    );
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Nope", "row": {}}])),
        "syntax error",
        "OVS reports an unknown table as a syntax error"
    );
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Root", "row": {"nope": 1}}])),
        "unknown column"
    );
    // Swapping index values inside one transaction is fine.
    insert_root(&mut h, "b");
    h.tx(json!([
        {"op": "update", "table": "Root", "where": [["name", "==", "a"]], "row": {"name": "tmp"}},
        {"op": "update", "table": "Root", "where": [["name", "==", "b"]], "row": {"name": "a"}},
        {"op": "update", "table": "Root", "where": [["name", "==", "tmp"]], "row": {"name": "b"}}
    ]));
    insert_root(&mut h, "c");
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Root", "row": {"name": "d"}}])),
        "constraint violation"
    );
}

#[test]
fn referential_integrity_gc_and_weak_refs() {
    let mut h = H::new();
    // An unreferenced non-root row is garbage-collected at commit.
    h.tx(json!([{"op": "insert", "table": "Kid", "row": {"name": "orphan"}}]));
    assert!(h.select("Kid", json!(["name"])).is_empty());
    let r = h.tx(json!([
        {"op": "insert", "table": "Kid", "uuid-name": "k1", "row": {"name": "k1"}},
        {"op": "insert", "table": "Kid", "uuid-name": "k2", "row": {"name": "k2"}},
        {"op": "insert", "table": "Root", "uuid-name": "r", "row": {"name": "a", "kids": ["set", [["named-uuid", "k1"], ["named-uuid", "k2"]]]}},
        {"op": "insert", "table": "Root", "row": {"name": "w", "weak": ["named-uuid", "k2"]}}
    ]));
    let k2 = r[1]["uuid"].clone();
    assert_eq!(h.select("Kid", json!(["name"])).len(), 2);
    // Deleting a referenced row fails.
    assert_eq!(
        h.tx_err(json!([{"op": "delete", "table": "Kid", "where": [["name", "==", "k1"]]}])),
        "referential integrity violation"
    );
    // Referencing a row that does not exist fails.
    assert_eq!(
        h.tx_err(json!([{"op": "update", "table": "Root", "where": [["name", "==", "a"]], "row": {"kids": ["uuid", "00000000-0000-0000-0000-000000000001"]}}])),
        "referential integrity violation"
    );
    // Dropping the strong reference to k2 collects it and removes the weak ref.
    h.tx(json!([{"op": "mutate", "table": "Root", "where": [["name", "==", "a"]], "mutations": [["kids", "delete", k2]]}]));
    let kids = h.select("Kid", json!(["name"]));
    assert_eq!(kids, vec![json!({"name": "k1"})]);
    let w = h.tx(json!([{"op": "select", "table": "Root", "where": [["name", "==", "w"]], "columns": ["weak"]}]));
    assert_eq!(w[0]["rows"][0]["weak"], json!(["set", []]));
    // Deleting the root row collects everything below it.
    h.tx(json!([{"op": "delete", "table": "Root", "where": [["name", "==", "a"]]}]));
    assert!(h.select("Kid", json!(["name"])).is_empty());
    // Named uuid used but never inserted.
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Root", "row": {"name": "q", "kids": ["named-uuid", "ghost"]}}])),
        "referential integrity violation"
    );
}

/// A mutation may name a row that a later insert of the same transaction
/// creates, as the python IDL (ovsdbapp's add_br) sends it; a name no insert
/// defines is still a referential integrity violation.
#[test]
fn mutate_names_a_row_inserted_later() {
    let mut h = H::new();
    insert_root(&mut h, "a");
    h.tx(json!([
        {"op": "mutate", "table": "Root", "where": [["name", "==", "a"]],
         "mutations": [["kids", "insert", ["set", [["named-uuid", "k"]]]]]},
        {"op": "insert", "table": "Kid", "uuid-name": "k", "row": {"name": "kid"}}
    ]));
    let kids = h.select("Kid", json!(["_uuid"]));
    assert_eq!(kids.len(), 1);
    let rows = h.select("Root", json!(["kids"]));
    assert_eq!(rows[0]["kids"], kids[0]["_uuid"]);
    assert_eq!(
        h.tx_err(json!([{"op": "mutate", "table": "Root", "where": [],
            "mutations": [["kids", "insert", ["named-uuid", "ghost"]]]}])),
        "referential integrity violation"
    );
}

/// "wait" compares rows as sets, as OVS 3.1 does (measured against
/// Debian's server in tests/tests/ovsdb_conform.rs): order does not
/// matter, duplicates (given or found) count once, and a row missing or
/// extra makes them differ.
#[test]
fn wait_compares_rows_as_sets() {
    let mut h = H::new();
    for (n, f) in [("a", "x"), ("b", "y"), ("c", "x")] {
        h.tx(json!([{"op": "insert", "table": "Root", "row": {"name": n, "fixed": f}}]));
    }
    let wait = |rows: Value| {
        json!([{"op": "wait", "table": "Root", "where": [], "columns": ["fixed"],
                "until": "==", "rows": rows, "timeout": 0}])
    };
    for rows in [
        json!([{"fixed": "y"}, {"fixed": "x"}, {"fixed": "x"}]),
        json!([{"fixed": "x"}, {"fixed": "y"}, {"fixed": "y"}]),
        json!([{"fixed": "x"}, {"fixed": "y"}]),
    ] {
        assert_eq!(h.tx(wait(rows.clone()))[0], json!({}), "{rows}");
    }
    for rows in [
        json!([{"fixed": "x"}]),
        json!([{"fixed": "x"}, {"fixed": "y"}, {"fixed": "z"}]),
        json!([]),
    ] {
        assert_eq!(h.tx_err(wait(rows.clone())), "timed out", "{rows}");
    }
}

#[test]
fn wait_commit_abort_assert() {
    let mut h = H::new();
    insert_root(&mut h, "a");
    let ok = h.tx(json!([{"op": "wait", "table": "Root", "where": [], "columns": ["name"], "until": "==", "rows": [{"name": "a"}], "timeout": 0}]));
    assert_eq!(ok[0], json!({}));
    assert_eq!(
        h.tx_err(json!([{"op": "wait", "table": "Root", "where": [], "columns": ["name"], "until": "==", "rows": [{"name": "b"}], "timeout": 0}])),
        "timed out"
    );
    let ok = h.tx(json!([{"op": "wait", "table": "Root", "where": [], "columns": ["name"], "until": "!=", "rows": [], "timeout": 0}]));
    assert_eq!(ok[0], json!({}));
    let r = h.tx(json!([{"op": "insert", "table": "Root", "row": {"name": "b"}}, {"op": "commit", "durable": true}]));
    assert_eq!(r[1], json!({}));
    assert_eq!(
        h.tx_err(json!([{"op": "insert", "table": "Root", "row": {"name": "c"}}, {"op": "abort"}])),
        "aborted"
    );
    assert_eq!(h.select("Root", json!(["name"])).len(), 2);
    assert_eq!(
        h.tx_err(json!([{"op": "assert", "lock": "L"}])),
        "not owner"
    );
    let (r, _) = h.call("lock", json!(["L"]));
    assert_eq!(r["result"], json!({"locked": true}));
    assert_eq!(h.tx(json!([{"op": "assert", "lock": "L"}]))[0], json!({}));
}

#[test]
fn wait_with_timeout_retries_until_satisfied() {
    let mut h = H::new();
    let m = Message::from_value(json!({"id": 99, "method": "transact", "params": ["T",
        {"op": "wait", "table": "Root", "where": [], "columns": ["name"], "until": "==", "rows": [{"name": "a"}], "timeout": 10000}]})).unwrap();
    assert!(matches!(
        h.core.handle(h.sid, &m, 0),
        ovsdb::server::Handled::Retry {
            remaining_ms: Some(10000)
        }
    ));
    insert_root(&mut h, "a");
    assert!(matches!(
        h.core.handle(h.sid, &m, 5),
        ovsdb::server::Handled::Done
    ));
    let out = h.drain(h.sid);
    assert!(
        out.iter()
            .any(|m| m["id"] == 99 && m["result"][0] == json!({})),
        "{out:?}"
    );
    // And times out once elapsed passes the timeout.
    let m2 = Message::from_value(json!({"id": 100, "method": "transact", "params": ["T",
        {"op": "wait", "table": "Root", "where": [], "columns": ["name"], "until": "!=", "rows": [{"name": "a"}], "timeout": 50}]})).unwrap();
    assert!(matches!(
        h.core.handle(h.sid, &m2, 60),
        ovsdb::server::Handled::Done
    ));
    let out = h.drain(h.sid);
    assert_eq!(out[0]["result"][0]["error"], "timed out");
}

#[test]
fn rpc_methods_and_errors() {
    let mut h = H::new();
    let (r, _) = h.call("list_dbs", json!([]));
    assert_eq!(r["result"], json!(["T", "_Server"]));
    let (r, _) = h.call("echo", json!(["x", 1]));
    assert_eq!(r["result"], json!(["x", 1]));
    let (r, _) = h.call("get_schema", json!(["T"]));
    assert_eq!(r["result"]["name"], "T");
    let (r, _) = h.call("get_schema", json!(["nope"]));
    assert_eq!(r["error"]["error"], "unknown database");
    let (r, _) = h.call("frobnicate", json!([]));
    assert_eq!(r["error"], "unknown method");
    let (r, _) = h.call(
        "transact",
        json!(["nope", {"op": "select", "table": "x", "where": []}]),
    );
    assert_eq!(r["error"]["error"], "unknown database");
    let (r, _) = h.call("set_db_change_aware", json!([true]));
    assert_eq!(r["result"], json!({}));
    // _Server is readable and read-only.
    let (r, _) = h.call("transact", json!(["_Server", {"op": "select", "table": "Database", "where": [], "columns": ["name", "model", "connected"]}]));
    let rows = r["result"][0]["rows"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|x| x["name"] == "T" && x["model"] == "standalone" && x["connected"] == true));
    let (r, _) = h.call(
        "transact",
        json!(["_Server", {"op": "delete", "table": "Database", "where": []}]),
    );
    assert_eq!(r["result"][0]["error"], "not allowed");
    // Malformed messages are typed errors.
    assert!(Message::parse(b"[1,2]").is_err());
    assert!(Message::parse(b"{\"method\": 5}").is_err());
    assert!(Message::parse(b"{\"id\":1,\"method\":\"echo\",\"params\":{}}").is_err());
}

#[test]
fn monitors_v1_v2_v3_and_cancel() {
    let mut h = H::new();
    let a = insert_root(&mut h, "a");
    let (r, _) = h.call(
        "monitor",
        json!(["T", "m1", {"Root": {"columns": ["name", "n"]}}]),
    );
    assert_eq!(r["result"]["Root"][&a]["new"], json!({"name": "a", "n": 0}));
    let (r, _) = h.call("monitor_cond", json!(["T", "m2", {"Root": [{"columns": ["name", "ints"], "where": [["name", "==", "a"]]}]}]));
    assert_eq!(r["result"]["Root"][&a]["initial"], json!({"name": "a"}));
    let (r, _) = h.call("monitor_cond_since", json!(["T", "m3", {"Root": [{"columns": ["name", "n"]}]}, "00000000-0000-0000-0000-000000000000"]));
    assert_eq!(r["result"][0], false);
    let id_after_a = r["result"][1].as_str().unwrap().to_string();
    let (_, notes) = h.call("transact", json!(["T", {"op": "update", "table": "Root", "where": [], "row": {"n": 3, "ints": ["set", [1, 2]]}}]));
    let by = |m: &str| notes.iter().find(|n| n["method"] == m).cloned().unwrap();
    let u1 = by("update");
    assert_eq!(u1["params"][0], "m1");
    assert_eq!(
        u1["params"][1]["Root"][&a],
        json!({"old": {"n": 0}, "new": {"name": "a", "n": 3}})
    );
    let u2 = by("update2");
    assert_eq!(
        u2["params"][1]["Root"][&a],
        json!({"modify": {"ints": ["set", [1, 2]]}})
    );
    let u3 = by("update3");
    assert_eq!(u3["params"][2]["Root"][&a], json!({"modify": {"n": 3}}));
    let txn_id = u3["params"][1].as_str().unwrap().to_string();
    // A row that leaves the condition is deleted for the conditional monitor.
    let (_, notes) = h.call(
        "transact",
        json!(["T", {"op": "update", "table": "Root", "where": [], "row": {"name": "b"}}]),
    );
    let u2 = notes.iter().find(|n| n["method"] == "update2").unwrap();
    assert_eq!(u2["params"][1]["Root"][&a], json!({"delete": null}));
    // monitor_cond_change: follow "b" now.
    let (r, notes) = h.call(
        "monitor_cond_change",
        json!(["m2", "m2b", {"Root": [{"where": [["name", "==", "b"]]}]}]),
    );
    assert_eq!(r["result"], json!({}));
    assert_eq!(notes[0]["params"][0], "m2b");
    assert_eq!(notes[0]["params"][1]["Root"][&a]["insert"]["name"], "b");
    // Reconnect with a known transaction id: only what changed since.
    let (r, _) = h.call(
        "monitor_cond_since",
        json!(["T", "m4", {"Root": [{"columns": ["name"]}]}, txn_id]),
    );
    assert_eq!(r["result"][0], true);
    assert_eq!(r["result"][2]["Root"][&a], json!({"modify": {"name": "b"}}));
    let (r, _) = h.call(
        "monitor_cond_since",
        json!(["T", "m5", {"Root": [{"columns": ["name"]}]}, id_after_a]),
    );
    assert_eq!(r["result"][0], true);
    assert_eq!(r["result"][2]["Root"][&a], json!({"modify": {"name": "b"}}));
    let (r, _) = h.call("monitor_cond_since", json!(["T", "m6", {"Root": [{"columns": ["name"]}]}, "00000000-0000-0000-0000-000000000000"]));
    assert_eq!(r["result"][0], false, "the nil id is never found");
    assert_eq!(
        r["result"][2]["Root"][&a],
        json!({"initial": {"name": "b"}})
    );
    let (r, _) = h.call("monitor_cancel", json!(["m1"]));
    assert_eq!(r["result"], json!({}));
    let (r, _) = h.call("monitor_cancel", json!(["m1"]));
    assert_eq!(r["error"], "unknown monitor", "OVS sends a bare string");
    let (r, _) = h.call("monitor", json!(["T", "m3", {"Root": {}}]));
    assert_eq!(r["error"]["error"], "syntax error", "duplicate monitor id");
    let (_, notes) = h.call(
        "transact",
        json!(["T", {"op": "delete", "table": "Root", "where": []}]),
    );
    assert!(notes.iter().all(|n| n["params"][0] != "m1"));
}

#[test]
fn locks_notify_locked_and_stolen() {
    let mut h = H::new();
    let s2 = h.session();
    let (r, _) = h.call("lock", json!(["L"]));
    assert_eq!(r["result"]["locked"], true);
    h.call_on(s2, "lock", json!(["L"]));
    assert_eq!(h.drain(s2)[0]["result"]["locked"], false);
    let (r, _) = h.call("unlock", json!(["L"]));
    assert_eq!(r["result"], json!({}));
    let n = h.drain(s2);
    assert_eq!(n[0]["method"], "locked");
    assert_eq!(n[0]["params"], json!(["L"]));
    let (r, notes) = h.call("steal", json!(["L"]));
    assert_eq!(r["result"]["locked"], true);
    assert!(notes.is_empty());
    let n = h.drain(s2);
    assert_eq!(n[0]["method"], "stolen");
    // Closing the owner hands the lock on.
    h.call_on(s2, "lock", json!(["L"]));
    h.drain(s2);
    h.core.close_session(h.sid);
    let n = h.drain(s2);
    assert_eq!(n[0]["method"], "locked");
}

/// The common transactions take the fast path (and, as every transaction
/// in these tests, agree with the generic engine: see `H::call_on`).
#[test]
fn common_transactions_take_the_fast_path() {
    let mut h = H::new();
    h.tx(json!([
        {"op": "insert", "table": "Kid", "uuid-name": "k", "row": {"name": "kid"}},
        {"op": "insert", "table": "Root", "uuid-name": "r", "row": {"name": "a", "fixed": "f",
            "kids": ["set", [["named-uuid", "k"]]], "m": ["map", [["x", "1"], ["a", "2"]]],
            "ints": ["set", [3, 1, 2]], "color": "red", "n": 7}},
        {"op": "comment", "comment": "esc\"aped \u{e9}"},
        {"op": "commit", "durable": false}
    ]));
    assert_eq!(h.fast, 1);
    let u = h.select("Root", json!(["_uuid"]))[0]["_uuid"].clone();
    h.tx(json!([
        {"op": "update", "table": "Root", "where": [["_uuid", "==", u]], "row": {"m": ["map", [["n", "0"]]], "kids": ["set", []]}},
        {"op": "mutate", "table": "Root", "where": [["name", "==", "a"], true], "mutations": [["ints", "insert", ["set", [9]]]]},
        {"op": "update", "table": "Root", "where": [["ints", "includes", 9], ["color", "!=", "blue"]], "row": {"n": 8}}
    ]));
    // The kid, now unreferenced, was collected.
    let r = h.tx(json!([{"op": "delete", "table": "Kid", "where": [["name", "excludes", "zzz"]]}]));
    assert_eq!(r, vec![json!({"count": 0})]);
    // Ends up as an error (a referenced row), answered by the generic engine.
    assert_eq!(h.fast, 3);
    let e = h.tx_err(json!([{"op": "delete", "table": "Root", "where": []}, {"op": "delete", "table": "Kid", "where": []},
        {"op": "insert", "table": "Root", "row": {"name": "b", "kids": ["uuid", "00000000-0000-0000-0000-000000000001"]}}]));
    assert_eq!(e, "referential integrity violation");
    assert_eq!(h.fast, 3);
    let rows = h.select("Root", json!(["name", "n", "ints", "m"]));
    assert_eq!(
        rows,
        vec![
            json!({"name": "a", "n": 8, "ints": ["set", [1, 2, 3, 9]], "m": ["map", [["n", "0"]]]})
        ]
    );
}
