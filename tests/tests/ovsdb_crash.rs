//! Crash test: nothing acknowledged is lost when the server is SIGKILLed.
//!
//! A client thread commits a stream of transactions, each inserting a QoS
//! row (a root table of the Open_vSwitch schema) tagged with a counter and
//! setting `Open_vSwitch.next_cfg` to that counter, and records the
//! counters whose reply said success. Meanwhile the server is killed with
//! SIGKILL at random moments (10 kills). After each kill, with the server
//! down, Debian's `ovsdb-tool` must open the file (`db-is-standalone`,
//! `show-log`) and `ovsdb-tool query` must find every acknowledged
//! counter in it; then the server restarts on the same file and must
//! serve every acknowledged counter too. Done with and without
//! `"durable": true` (a killed process does not lose page-cache writes,
//! so both must keep everything acknowledged).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrovs_tests::ovsdb_server::{ovsdb_tool, Flavor, JsonRpc, OvsdbServer};
use rand::Rng;
use serde_json::{json, Value};

const KILLS: usize = 10;

#[derive(Default)]
struct Progress {
    /// Counters whose transaction was acknowledged as committed.
    acked: BTreeSet<i64>,
    /// Highest counter ever sent.
    sent_max: i64,
    /// Transactions that got a reply with an error (must stay 0).
    errors: Vec<String>,
}

fn txn(i: i64, durable: bool) -> Value {
    let mut ops = vec![
        json!("Open_vSwitch"),
        json!({"op": "insert", "table": "QoS",
               "row": {"type": "crash", "external_ids": ["map", [["n", i.to_string()]]]}}),
        json!({"op": "update", "table": "Open_vSwitch", "where": [], "row": {"next_cfg": i}}),
    ];
    if durable {
        ops.push(json!({"op": "commit", "durable": true}));
    }
    Value::Array(ops)
}

fn reply_ok(reply: &Value) -> Result<(), String> {
    if !reply["error"].is_null() {
        return Err(reply["error"].to_string());
    }
    let Some(results) = reply["result"].as_array() else {
        return Err(format!("no result array: {reply}"));
    };
    for r in results {
        if !r["error"].is_null() {
            return Err(r.to_string());
        }
    }
    if results.len() < 2 || results[1]["count"] != 1 {
        return Err(format!("unexpected result {reply}"));
    }
    Ok(())
}

/// The client: commits transactions one after the other, reconnecting
/// whenever the server is gone, until `stop`.
fn client_loop(
    sock: std::path::PathBuf,
    durable: bool,
    stop: Arc<AtomicBool>,
    p: Arc<Mutex<Progress>>,
) {
    let mut i: i64 = 0;
    let mut conn: Option<JsonRpc> = None;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match JsonRpc::connect(&sock) {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            }
        }
        // Paced, so the database stays small enough for fast checks.
        std::thread::sleep(Duration::from_micros(400));
        let c = conn.as_mut().unwrap();
        i += 1;
        p.lock().unwrap().sent_max = i;
        match c.request("transact", txn(i, durable)) {
            Ok(reply) => match reply_ok(&reply) {
                Ok(()) => {
                    p.lock().unwrap().acked.insert(i);
                }
                Err(e) => p.lock().unwrap().errors.push(format!("txn {i}: {e}")),
            },
            // Killed while the transaction was in flight: unknown outcome.
            Err(_) => conn = None,
        }
    }
}

/// Counters in a `select` result over QoS rows of type "crash".
fn counters(select_result: &Value) -> BTreeSet<i64> {
    let mut set = BTreeSet::new();
    for row in select_result["rows"].as_array().expect("rows") {
        for pair in row["external_ids"][1].as_array().expect("map") {
            if pair[0] == "n" {
                set.insert(pair[1].as_str().unwrap().parse().unwrap());
            }
        }
    }
    set
}

fn select_ops() -> Value {
    json!(["Open_vSwitch",
        {"op": "select", "table": "QoS", "where": [["type", "==", "crash"]],
         "columns": ["external_ids"]},
        {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]}])
}

/// Checks `(rows, next_cfg)` against what the client knows.
fn check(
    where_: &str,
    result: &Value,
    acked: &BTreeSet<i64>,
    sent_max: i64,
) -> anyhow::Result<usize> {
    let present = counters(&result[0]);
    let lost: Vec<&i64> = acked.difference(&present).collect();
    anyhow::ensure!(
        lost.is_empty(),
        "{where_}: {} acknowledged transactions lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    if let Some(bad) = present.iter().find(|&&n| n < 1 || n > sent_max) {
        anyhow::bail!("{where_}: row with counter {bad} never sent (max {sent_max})");
    }
    let next_cfg = result[1]["rows"][0]["next_cfg"].as_i64().unwrap_or(-1);
    let max_acked = acked.iter().next_back().copied().unwrap_or(0);
    anyhow::ensure!(
        next_cfg >= max_acked && next_cfg <= sent_max,
        "{where_}: next_cfg {next_cfg} outside [{max_acked}, {sent_max}]"
    );
    anyhow::ensure!(
        present.contains(&next_cfg) || next_cfg == 0,
        "{where_}: next_cfg {next_cfg} set without its QoS row (transaction not atomic)"
    );
    Ok(present.len())
}

fn crash_test(flavor: Flavor, durable: bool) {
    let mut server = match flavor {
        Flavor::Debian => OvsdbServer::debian(),
        Flavor::Ferrovs => OvsdbServer::ferrovs(),
    }
    .expect("start server");
    server
        .rpc()
        .unwrap()
        .call(
            "transact",
            json!(["Open_vSwitch", {"op": "insert", "table": "Open_vSwitch", "row": {}}]),
        )
        .expect("insert the Open_vSwitch row");

    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Mutex::new(Progress::default()));
    let client = {
        let (sock, stop, p) = (server.sock_path(), stop.clone(), progress.clone());
        std::thread::spawn(move || client_loop(sock, durable, stop, p))
    };
    // Stops the client also when an assertion below fails.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _stop_guard = StopOnDrop(stop.clone());

    let db = server.db_path();
    let db_s = db.to_str().unwrap().to_string();
    let mut rng = rand::thread_rng();
    let started = Instant::now();
    let mut last_acked = 0;
    for k in 0..KILLS {
        // Let the client get going, then kill at a random moment.
        let wait_until = Instant::now() + Duration::from_millis(rng.gen_range(300..1300));
        while Instant::now() < wait_until {
            std::thread::sleep(Duration::from_millis(rng.gen_range(1..20)));
        }
        server.kill9();
        let (acked, sent_max) = {
            let p = progress.lock().unwrap();
            assert!(p.errors.is_empty(), "transactions failed: {:?}", p.errors);
            (p.acked.clone(), p.sent_max)
        };
        assert!(
            acked.len() > last_acked,
            "kill {k}: no transaction acknowledged since the last kill ({} in total)",
            acked.len()
        );
        last_acked = acked.len();

        // With the server down, Debian's ovsdb-tool opens the file cleanly.
        let t_check = Instant::now();
        let out = ovsdb_tool(&["db-is-standalone", &db_s]);
        assert!(
            out.status.success(),
            "kill {k}: ovsdb-tool db-is-standalone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = ovsdb_tool(&["show-log", &db_s]);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "kill {k}: ovsdb-tool show-log: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = ovsdb_tool(&["query", &db_s, &select_ops().to_string()]);
        assert!(
            out.status.success(),
            "kill {k}: ovsdb-tool query: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let in_file: Value = serde_json::from_slice(&out.stdout).expect("query prints JSON");
        check(&format!("kill {k}, file"), &in_file, &acked, sent_max).unwrap();

        let check_time = t_check.elapsed();
        // The restarted server serves everything acknowledged.
        let t_restart = Instant::now();
        server
            .restart()
            .unwrap_or_else(|e| panic!("kill {k}: restart failed: {e}"));
        let restart_time = t_restart.elapsed();
        // Acknowledged before the select: must be there. Sent after the
        // select started: may be there too (the client runs on).
        let acked = progress.lock().unwrap().acked.clone();
        let served = server
            .rpc()
            .unwrap()
            .call("transact", select_ops())
            .expect("select after restart");
        let sent_max = progress.lock().unwrap().sent_max;
        let n = check(&format!("kill {k}, server"), &served, &acked, sent_max)
            .unwrap_or_else(|e| panic!("{e}\nserver log:\n{}", server.log()));
        eprintln!(
            "{flavor:?} durable={durable} kill {k}: {} acked, {n} rows, sent {sent_max}; \
             ovsdb-tool checks {check_time:?}, restart {restart_time:?}",
            acked.len()
        );
    }
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    let p = progress.lock().unwrap();
    assert!(p.errors.is_empty(), "transactions failed: {:?}", p.errors);
    eprintln!(
        "{flavor:?} durable={durable}: {KILLS} kills in {:?}, {} transactions acknowledged",
        started.elapsed(),
        p.acked.len()
    );
}

#[test]
fn crash_debian() {
    crash_test(Flavor::Debian, false);
}

#[test]
fn crash_debian_durable() {
    crash_test(Flavor::Debian, true);
}

#[test]
fn crash_ferrovs() {
    crash_test(Flavor::Ferrovs, false);
}

#[test]
fn crash_ferrovs_durable() {
    crash_test(Flavor::Ferrovs, true);
}
