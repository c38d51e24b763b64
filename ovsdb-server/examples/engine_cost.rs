//! Per-transaction CPU cost of the engine without sockets:
//! `cargo run --release --example engine_cost -- [TXNS [insert|update]]`.
//! Drives `Core` exactly as a session does (parse the request bytes,
//! handle, flush the log to a file under /var/tmp, serialize the reply) for
//! small QoS inserts and updates, and prints microseconds per transaction.
//! Used to tell engine costs from system-call and wake-up costs, which the
//! socket benchmark (benches/scripts/ovsdb-compare.sh) mixes together.
//!
//! Instructions per transaction of the engine alone (no setup, request
//! generation or teardown): `valgrind --tool=callgrind
//! --toggle-collect='engine_cost::run_txns*' engine_cost 20000 insert`,
//! then the collected total divided by 20000.

use ovsdb::jsonrpc::Message;
use ovsdb::server::Core;
use ovsdb::storage::Storage;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("engine_cost.{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("conf.db");
    let schema: serde_json::Value = serde_json::from_str(ovsdb::VSWITCH_SCHEMA).expect("schema");
    Storage::create(&path, &schema).expect("create");
    let (db, st) = Storage::open(&path).expect("open");
    let mut core = Core::new();
    core.add_db(db, st).expect("add");
    let sid = core.open_session();
    let run = |core: &mut Core, text: &[u8]| -> serde_json::Value {
        let m = Message::parse(text).expect("parse");
        core.handle(sid, &m, 0);
        core.flush();
        let mut last = serde_json::Value::Null;
        for o in core.take_output(sid) {
            last = serde_json::from_slice(&o.msg).unwrap_or_default();
        }
        last
    };
    run(
        &mut core,
        br#"{"id":0,"method":"transact","params":["Open_vSwitch",{"op":"insert","table":"Open_vSwitch","row":{}}]}"#,
    );
    let r = run(
        &mut core,
        br#"{"id":0,"method":"transact","params":["Open_vSwitch",{"op":"insert","table":"QoS","row":{"type":"bench-update"}}]}"#,
    );
    let row = r["result"][0]["uuid"][1]
        .as_str()
        .expect("uuid")
        .to_string();
    let only = std::env::args().nth(2);
    for op in ["insert", "update"] {
        if only.as_deref().is_some_and(|o| o != op) {
            continue;
        }
        let reqs: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let body = if op == "insert" {
                    format!(r#"{{"op":"insert","table":"QoS","row":{{"type":"bench","external_ids":["map",[["c","0-{i}"]]]}}}}"#)
                } else {
                    format!(r#"{{"op":"update","table":"QoS","where":[["_uuid","==",["uuid","{row}"]]],"row":{{"external_ids":["map",[["n","{i}"]]]}}}}"#)
                };
                format!(r#"{{"id":{i},"method":"transact","params":["Open_vSwitch",{body}]}}"#)
                    .into_bytes()
            })
            .collect();
        let mut out = Vec::new();
        let t = Instant::now();
        run_txns(&reqs, |r| {
            let m = Message::parse(r).expect("parse");
            core.handle(sid, &m, 0);
            core.flush();
            // What the event loop's writer takes once the log is flushed.
            out.clear();
            core.take_ready(sid, &mut out);
        });
        let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("{op}_us_per_txn {us:.2}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The measured loop, out of line so that callgrind's `--toggle-collect`
/// can count it alone.
#[inline(never)]
fn run_txns(reqs: &[Vec<u8>], mut one: impl FnMut(&[u8])) {
    for r in reqs {
        one(r);
    }
}
