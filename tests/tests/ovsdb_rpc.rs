//! Raw RFC 7047 sessions against a server: locks (lock, steal, unlock with
//! their `locked`/`stolen` notifications), a `wait` operation that blocks
//! until another client's change satisfies it, and `monitor_cancel`. Each
//! scenario yields a transcript; ferrovs must produce Debian's.

use std::time::Duration;

use ferrovs_tests::ovsdb_server::OvsdbServer;
use serde_json::{json, Value};

/// An error as compared between servers: objects keep only their `error`
/// member (the RFC fixes that string, not the free-form details).
fn error_tag(e: &Value) -> Value {
    match e.get("error") {
        Some(tag) => json!({"error": tag}),
        None => e.clone(),
    }
}

fn lock_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    let mut a = s.rpc().unwrap();
    let mut b = s.rpc().unwrap();
    let mut c = s.rpc().unwrap();
    let mut log = |what: &str, v: &Value| t.push_str(&format!("{what}: {v}\n"));

    let r = a.call("lock", json!(["L"])).unwrap();
    assert_eq!(r, json!({"locked": true}), "a lock");
    log("a lock", &r);
    let r = b.call("lock", json!(["L"])).unwrap();
    assert_eq!(r, json!({"locked": false}), "b lock (queued)");
    log("b lock", &r);
    // a gives it up: b, first in line, gets a `locked` notification.
    let r = a.call("unlock", json!(["L"])).unwrap();
    log("a unlock", &r);
    let n = b.next_notification().unwrap();
    assert_eq!(n["method"], "locked", "{n}");
    assert_eq!(n["params"], json!(["L"]), "{n}");
    log("b notified", &json!([n["method"], n["params"]]));

    // c steals it from b: b gets `stolen`.
    let r = c.call("steal", json!(["L"])).unwrap();
    assert_eq!(r, json!({"locked": true}), "c steal");
    log("c steal", &r);
    let n = b.next_notification().unwrap();
    assert_eq!(n["method"], "stolen", "{n}");
    assert_eq!(n["params"], json!(["L"]), "{n}");
    log("b notified", &json!([n["method"], n["params"]]));

    // A transaction that asserts a lock it does not hold fails.
    let r = b
        .request(
            "transact",
            json!(["Open_vSwitch", {"op": "assert", "lock": "L"}]),
        )
        .unwrap();
    let err = r["result"][0]["error"].clone();
    assert_eq!(err, "not owner", "{r}");
    log("b assert", &err);
    let r = c
        .call(
            "transact",
            json!(["Open_vSwitch", {"op": "assert", "lock": "L"}]),
        )
        .unwrap();
    assert_eq!(r, json!([{}]), "c holds the lock");
    log("c assert", &r);

    // The thief disconnecting releases the lock; b, robbed but still in
    // line (it asked with "lock", not "steal"), becomes the owner again.
    drop(c);
    let n = b.next_notification().unwrap();
    assert_eq!(n["method"], "locked", "{n}");
    log("b notified", &json!([n["method"], n["params"]]));
    let r = a.call("lock", json!(["L"])).unwrap();
    assert_eq!(r, json!({"locked": false}), "a lock behind b");
    log("a lock again", &r);
    let r = b.call("unlock", json!(["L"])).unwrap();
    log("b unlock", &r);
    let n = a.next_notification().unwrap();
    assert_eq!(n["method"], "locked", "{n}");
    log("a notified", &json!([n["method"], n["params"]]));
    t
}

#[test]
fn locks_debian() {
    lock_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn locks_ferrovs_matches_debian() {
    let d = lock_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = lock_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// A `wait` with a timeout blocks until someone else's commit makes it
/// true; then the rest of its transaction runs.
fn wait_scenario(s: &OvsdbServer) -> String {
    s.vsctl_ok(&["init"]);
    let mut a = s.rpc().unwrap();
    let id = 77;
    a.send(
        &json!({"method": "transact", "id": id, "params": ["Open_vSwitch",
        {"op": "wait", "timeout": 10000, "table": "Bridge",
         "where": [["name", "==", "brW"]], "columns": ["name"], "until": "==",
         "rows": [{"name": "brW"}]},
        {"op": "update", "table": "Open_vSwitch", "where": [],
         "row": {"external_ids": ["map", [["waited", "yes"]]]}}]}),
    )
    .unwrap();
    // Not satisfied yet: no reply within 300 ms.
    a.expect_quiet(Duration::from_millis(300))
        .expect("wait returned before its condition held");

    s.vsctl_ok(&["add-br", "brW"]);
    let r = loop {
        let m = a.recv().expect("reply to the waiting transaction");
        if m["id"] == id {
            break m;
        }
    };
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["result"][0], json!({}), "{r}");
    assert_eq!(r["result"][1], json!({"count": 1}), "{r}");
    assert_eq!(
        s.vsctl_ok(&["get", "Open_vSwitch", ".", "external_ids:waited"]),
        "yes\n"
    );
    format!("wait: {}\n", r["result"])
}

#[test]
fn wait_debian() {
    wait_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn wait_ferrovs_matches_debian() {
    let d = wait_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = wait_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// monitor_cancel stops updates on that monitor only.
fn cancel_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    s.vsctl_ok(&["init"]);
    let mut m = s.rpc().unwrap();
    let cols = json!({"Bridge": {"columns": ["name"]}});
    let r1 = m
        .call("monitor", json!(["Open_vSwitch", "one", cols]))
        .unwrap();
    let r2 = m
        .call("monitor", json!(["Open_vSwitch", "two", cols]))
        .unwrap();
    t.push_str(&format!("initial: {r1} {r2}\n"));
    let r = m
        .request("monitor", json!(["Open_vSwitch", "two", cols]))
        .unwrap();
    assert!(!r["error"].is_null(), "duplicate monitor id accepted: {r}");
    t.push_str(&format!("duplicate id: error={}\n", error_tag(&r["error"])));
    let r = m.call("monitor_cancel", json!(["one"])).unwrap();
    t.push_str(&format!("cancel: {r}\n"));
    let r = m.request("monitor_cancel", json!(["nope"])).unwrap();
    assert!(
        !r["error"].is_null(),
        "cancel of unknown monitor accepted: {r}"
    );
    t.push_str(&format!(
        "cancel unknown: error={}\n",
        error_tag(&r["error"])
    ));

    s.vsctl_ok(&["add-br", "brC"]);
    let n = m.next_notification().unwrap();
    assert_eq!(n["method"], "update", "{n}");
    assert_eq!(n["params"][0], "two", "{n}");
    t.push_str(&format!("update for: {}\n", n["params"][0]));
    // Nothing for "one".
    m.expect_quiet(Duration::from_millis(300))
        .expect("update after monitor_cancel");
    t
}

#[test]
fn monitor_cancel_debian() {
    cancel_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn monitor_cancel_ferrovs_matches_debian() {
    let d = cancel_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = cancel_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}
