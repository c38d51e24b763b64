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
    let n = b
        .next_notification()
        .expect("b (robbed, still queued) gets `locked` when the thief disconnects");
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

/// Names of the rows in a `{"Bridge": {uuid: row-update}}` table update,
/// as sorted `action name` strings (the name looked up in `names` when the
/// row update does not carry it, e.g. a delete in update2).
fn row_actions(tu: &Value, names: &std::collections::HashMap<String, String>) -> Vec<String> {
    let mut v = Vec::new();
    for (uuid, ru) in tu["Bridge"].as_object().into_iter().flatten() {
        for (action, row) in ru.as_object().into_iter().flatten() {
            let name = row["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| names.get(uuid).cloned())
                .unwrap_or_else(|| "?".into());
            v.push(format!("{action} {name}"));
        }
    }
    v.sort();
    v
}

fn bridge_uuid(s: &OvsdbServer, name: &str) -> String {
    s.vsctl_ok(&["get", "Bridge", name, "_uuid"])
        .trim()
        .to_string()
}

/// monitor_cond then monitor_cond_change: the server sends the rows that
/// leave and enter the condition, under the new monitor id.
fn cond_change_scenario(s: &OvsdbServer) -> String {
    let mut t = String::new();
    s.vsctl_ok(&["init", "--", "add-br", "brA", "--", "add-br", "brB"]);
    let mut names = std::collections::HashMap::new();
    for n in ["brA", "brB"] {
        names.insert(bridge_uuid(s, n), n.to_string());
    }
    let mut m = s.rpc().unwrap();
    let r = m
        .call(
            "monitor_cond",
            json!(["Open_vSwitch", "m1",
                {"Bridge": [{"columns": ["name"], "where": [["name", "==", "brA"]]}]}]),
        )
        .unwrap();
    assert_eq!(row_actions(&r, &names), ["initial brA"], "{r}");
    t.push_str(&format!("initial: {:?}\n", row_actions(&r, &names)));

    let r = m
        .call(
            "monitor_cond_change",
            json!(["m1", "m2", {"Bridge": [{"where": [["name", "==", "brB"]]}]}]),
        )
        .unwrap();
    t.push_str(&format!("change: {r}\n"));
    let n = m.next_notification().unwrap();
    assert_eq!(n["method"], "update2", "{n}");
    assert_eq!(n["params"][0], "m2", "{n}");
    let acts = row_actions(&n["params"][1], &names);
    assert_eq!(acts, ["delete brA", "insert brB"], "{n}");
    t.push_str(&format!("after change: {acts:?}\n"));

    s.vsctl_ok(&["add-br", "brC"]);
    m.expect_quiet(Duration::from_millis(300))
        .expect("update for a row outside the condition");
    s.vsctl_ok(&["del-br", "brB"]);
    let n = m.next_notification().unwrap();
    let acts = row_actions(&n["params"][1], &names);
    assert_eq!(acts, ["delete brB"], "{n}");
    t.push_str(&format!("del-br: {acts:?}\n"));
    t
}

#[test]
fn monitor_cond_change_debian() {
    cond_change_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn monitor_cond_change_ferrovs_matches_debian() {
    let d = cond_change_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = cond_change_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// monitor_cond_since: update3 notifications carry transaction ids; a
/// client resuming from an id gets either `found: true` and exactly the
/// changes since, or `found: false` and the whole state (both are valid
/// answers; Debian's standalone server keeps no history and says false).
fn cond_since_scenario(s: &OvsdbServer) -> String {
    const ZERO: &str = "00000000-0000-0000-0000-000000000000";
    let mut t = String::new();
    s.vsctl_ok(&["init", "--", "add-br", "brD"]);
    let req = |last: &str| json!(["Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]}, last]);
    let names = std::collections::HashMap::new();
    let mut m = s.rpc().unwrap();
    let r = m.call("monitor_cond_since", req(ZERO)).unwrap();
    assert_eq!(r[0], false, "found with the zero id: {r}");
    assert!(r[1].is_string(), "{r}");
    assert_eq!(row_actions(&r[2], &names), ["initial brD"], "{r}");
    t.push_str(&format!(
        "first: found={} {:?}\n",
        r[0],
        row_actions(&r[2], &names)
    ));

    s.vsctl_ok(&["add-br", "brE"]);
    let n = m.next_notification().unwrap();
    assert_eq!(n["method"], "update3", "{n}");
    assert_eq!(n["params"][0], "m", "{n}");
    let last = n["params"][1].as_str().expect("txn id").to_string();
    // (Debian's standalone server keeps no history: its ids are all zero.)
    let acts = row_actions(&n["params"][2], &names);
    assert_eq!(acts, ["insert brE"], "{n}");
    t.push_str(&format!("update3: {acts:?}\n"));
    drop(m);

    // Changed while the client was away.
    s.vsctl_ok(&["add-br", "brF"]);
    let mut m = s.rpc().unwrap();
    let r = m.call("monitor_cond_since", req(&last)).unwrap();
    let acts = row_actions(&r[2], &names);
    if r[0] == true {
        assert_eq!(acts, ["insert brF"], "found=true must send the delta: {r}");
    } else {
        assert_eq!(
            acts,
            ["initial brD", "initial brE", "initial brF"],
            "found=false must send everything: {r}"
        );
    }
    t.push_str("resume: consistent\n");
    t
}

#[test]
fn monitor_cond_since_debian() {
    cond_since_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn monitor_cond_since_ferrovs_matches_debian() {
    let d = cond_since_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = cond_since_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
    assert_eq!(d, f, "left: Debian, right: ferrovs");
}

/// `--remote=db:Open_vSwitch,Open_vSwitch,manager_options`: the server
/// listens where the Manager rows say, and stops when they go.
fn db_remote_scenario(s: &OvsdbServer) {
    let mgr = s.dir().join("mgr.sock");
    let target = format!("punix:{}", mgr.display());
    s.vsctl_ok(&["init"]);
    s.vsctl_ok(&["set-manager", &target]);
    let mut c = None;
    for _ in 0..250 {
        if let Ok(x) = ferrovs_tests::ovsdb_server::JsonRpc::connect(&mgr) {
            c = Some(x);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = c.unwrap_or_else(|| {
        panic!(
            "{:?}: no listener on {target} 5 s after set-manager",
            s.flavor()
        )
    });
    assert_eq!(
        c.call("list_dbs", json!([])).unwrap(),
        json!(["Open_vSwitch", "_Server"])
    );
    drop(c);
    s.vsctl_ok(&["del-manager"]);
    let mut gone = false;
    for _ in 0..250 {
        if ferrovs_tests::ovsdb_server::JsonRpc::connect(&mgr).is_err() {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone, "{:?}: still listening after del-manager", s.flavor());
}

fn with_db_remote(flavor: ferrovs_tests::ovsdb_server::Flavor) -> OvsdbServer {
    use ferrovs_tests::ovsdb_server::{DbInit, VSWITCH_SCHEMA};
    OvsdbServer::start_with_args(
        flavor,
        DbInit::ToolCreate(VSWITCH_SCHEMA.into()),
        &["--remote=db:Open_vSwitch,Open_vSwitch,manager_options"],
    )
    .expect("start server")
}

#[test]
fn db_remote_debian() {
    db_remote_scenario(&with_db_remote(ferrovs_tests::ovsdb_server::Flavor::Debian));
}

#[test]
fn db_remote_ferrovs() {
    db_remote_scenario(&with_db_remote(
        ferrovs_tests::ovsdb_server::Flavor::Ferrovs,
    ));
}
