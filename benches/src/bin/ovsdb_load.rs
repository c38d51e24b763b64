//! ovsdb_load: the same JSON-RPC client load for any OVSDB server.
//!
//! A load generator independent of the ferrovs-ovsdb crate (raw
//! serde_json over unix sockets, one blocking thread per client), so that
//! Debian's ovsdb-server and ferrovs-ovsdb-server get exactly the same
//! requests. Each client keeps one transaction in flight, like ovs-vsctl
//! and IDL clients do. Results are printed as `key value` lines for
//! `benches/scripts/ovsdb-compare.sh`.
//!
//! Subcommands (all take `--sock PATH`):
//!   init                          insert the Open_vSwitch root row
//!   txn --op insert|update --clients N --secs S [--durable]
//!                                 -> `txn_per_s X`
//!   monitor --monitors N --samples K
//!                                 -> `fanout_median_us X`, `fanout_p99_us Y`
//!   fill --ports N                -> one bridge with N Port+Interface rows

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

struct Conn {
    w: UnixStream,
    r: serde_json::StreamDeserializer<
        'static,
        serde_json::de::IoRead<BufReader<UnixStream>>,
        Value,
    >,
    next_id: u64,
}

impl Conn {
    fn open(sock: &PathBuf) -> anyhow::Result<Conn> {
        let s = UnixStream::connect(sock).with_context(|| format!("connect {}", sock.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let r = serde_json::Deserializer::from_reader(BufReader::new(s.try_clone()?)).into_iter();
        Ok(Conn {
            w: s,
            r,
            next_id: 1,
        })
    }

    fn send(&mut self, v: &Value) -> anyhow::Result<()> {
        let mut b = serde_json::to_vec(v)?;
        b.push(b'\n');
        self.w.write_all(&b)?;
        Ok(())
    }

    /// Next message; answers the server's echo requests on the way.
    fn recv(&mut self) -> anyhow::Result<Value> {
        loop {
            let m = match self.r.next() {
                Some(m) => m?,
                None => bail!("server closed the connection"),
            };
            if m["method"] == "echo" && !m["id"].is_null() {
                let reply = json!({"result": m["params"], "error": null, "id": m["id"]});
                self.send(&reply)?;
                continue;
            }
            return Ok(m);
        }
    }

    /// Sends a request, returns its result (skipping notifications).
    fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"method": method, "params": params, "id": id}))?;
        loop {
            let m = self.recv()?;
            if m["id"] == id {
                if !m["error"].is_null() {
                    bail!("{method}: {}", m["error"]);
                }
                return Ok(m["result"].clone());
            }
        }
    }

    /// A transaction whose operations must all succeed.
    fn transact(&mut self, ops: Value) -> anyhow::Result<Value> {
        let r = self.call("transact", ops)?;
        for op in r.as_array().context("transact result is not an array")? {
            if !op["error"].is_null() {
                bail!("transaction failed: {op}");
            }
        }
        Ok(r)
    }
}

struct Args {
    cmd: String,
    sock: PathBuf,
    op: String,
    clients: usize,
    secs: f64,
    durable: bool,
    monitors: usize,
    samples: usize,
    ports: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let cmd = it
        .next()
        .context("usage: ovsdb_load init|txn|monitor|fill --sock PATH ...")?;
    let mut a = Args {
        cmd,
        sock: PathBuf::new(),
        op: "insert".into(),
        clients: 1,
        secs: 2.0,
        durable: false,
        monitors: 8,
        samples: 200,
        ports: 10_000,
    };
    while let Some(k) = it.next() {
        let mut val = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--sock" => a.sock = val()?.into(),
            "--op" => a.op = val()?,
            "--clients" => a.clients = val()?.parse()?,
            "--secs" => a.secs = val()?.parse()?,
            "--durable" => a.durable = true,
            "--monitors" => a.monitors = val()?.parse()?,
            "--samples" => a.samples = val()?.parse()?,
            "--ports" => a.ports = val()?.parse()?,
            _ => bail!("unknown option {k}"),
        }
    }
    anyhow::ensure!(!a.sock.as_os_str().is_empty(), "--sock is required");
    Ok(a)
}

fn with_commit(mut ops: Vec<Value>, durable: bool) -> Value {
    if durable {
        ops.push(json!({"op": "commit", "durable": true}));
    }
    Value::Array(ops)
}

fn init(a: &Args) -> anyhow::Result<()> {
    let mut c = Conn::open(&a.sock)?;
    let r = c.transact(json!(["Open_vSwitch",
        {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["_uuid"]}]))?;
    if r[0]["rows"].as_array().is_some_and(|v| v.is_empty()) {
        c.transact(json!(["Open_vSwitch",
            {"op": "insert", "table": "Open_vSwitch", "row": {}}]))?;
    }
    Ok(())
}

/// One client's loop; returns the number of committed transactions
/// between `start` and `end`.
fn txn_client(a: &Args, n: usize, barrier: &Barrier, secs: f64) -> anyhow::Result<u64> {
    let mut c = Conn::open(&a.sock)?;
    // For updates, each client updates its own row.
    let row = if a.op == "update" {
        let r = c.transact(json!(["Open_vSwitch", {"op": "insert", "table": "QoS",
            "row": {"type": "bench-update", "external_ids": ["map", [["client", n.to_string()]]]}}]))?;
        r[0]["uuid"][1].as_str().context("insert uuid")?.to_string()
    } else {
        String::new()
    };
    barrier.wait();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut done = 0u64;
    let mut i = 0u64;
    while Instant::now() < end {
        i += 1;
        let op = match a.op.as_str() {
            "insert" => json!({"op": "insert", "table": "QoS", "row": {"type": "bench",
                "external_ids": ["map", [["c", format!("{n}-{i}")]]]}}),
            "update" => json!({"op": "update", "table": "QoS",
                "where": [["_uuid", "==", ["uuid", row]]],
                "row": {"external_ids": ["map", [["n", i.to_string()]]]}}),
            other => bail!("unknown --op {other}"),
        };
        c.transact(with_commit(vec![json!("Open_vSwitch"), op], a.durable))?;
        done += 1;
    }
    Ok(done)
}

fn txn(a: &Args) -> anyhow::Result<()> {
    let barrier = Barrier::new(a.clients + 1);
    let results: Vec<anyhow::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.clients)
            .map(|n| {
                let barrier = &barrier;
                s.spawn(move || txn_client(a, n, barrier, a.secs))
            })
            .collect();
        barrier.wait();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut total = 0;
    for r in results {
        total += r?;
    }
    println!("txn_count {total}");
    println!("txn_per_s {:.1}", total as f64 / a.secs);
    Ok(())
}

/// Fan-out latency: one writer sets `Open_vSwitch.next_cfg` to a sequence
/// number; `monitors` clients watch that column with monitor_cond; the
/// latency of a sample is the time from just before the writer sends the
/// transaction to the moment a monitor has parsed the update carrying it.
fn monitor(a: &Args) -> anyhow::Result<()> {
    let epoch = Instant::now();
    let (tx, rx) = mpsc::channel::<(i64, Duration)>();
    let ready = Arc::new(Barrier::new(a.monitors + 1));
    let mut handles = Vec::new();
    for m in 0..a.monitors {
        let (sock, tx, ready) = (a.sock.clone(), tx.clone(), ready.clone());
        handles.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut c = Conn::open(&sock)?;
            c.call(
                "monitor_cond",
                json!(["Open_vSwitch", format!("mon{m}"),
                    {"Open_vSwitch": [{"columns": ["next_cfg"]}]}]),
            )?;
            ready.wait();
            loop {
                let msg = match c.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()), // writer done, connection closed
                };
                if msg["method"] != "update2" {
                    continue;
                }
                let at = epoch.elapsed();
                let rows = &msg["params"][1]["Open_vSwitch"];
                for (_, row) in rows.as_object().into_iter().flatten() {
                    let v = row["modify"]["next_cfg"]
                        .as_i64()
                        .or(row["insert"]["next_cfg"].as_i64());
                    if let Some(seq) = v {
                        if tx.send((seq, at)).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }));
    }
    drop(tx);
    ready.wait();
    let mut w = Conn::open(&a.sock)?;
    let mut lat_us: Vec<f64> = Vec::with_capacity(a.samples * a.monitors);
    let base = 1_000_000 + (epoch.elapsed().as_nanos() % 1_000_000) as i64;
    for k in 0..a.samples as i64 {
        let seq = base + k;
        let t0 = epoch.elapsed();
        w.transact(json!(["Open_vSwitch",
            {"op": "update", "table": "Open_vSwitch", "where": [], "row": {"next_cfg": seq}}]))?;
        let mut got = 0;
        while got < a.monitors {
            let (s, at) = rx
                .recv_timeout(Duration::from_secs(10))
                .context("a monitor did not receive an update within 10 s")?;
            if s == seq {
                lat_us.push((at - t0).as_secs_f64() * 1e6);
                got += 1;
            }
        }
    }
    lat_us.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let pct = |p: f64| lat_us[((lat_us.len() as f64 - 1.0) * p).round() as usize];
    println!("fanout_samples {}", lat_us.len());
    println!("fanout_median_us {:.1}", pct(0.5));
    println!("fanout_p99_us {:.1}", pct(0.99));
    // Closing the monitor connections ends their threads.
    std::process::exit(0);
}

/// One bridge with `ports` Port rows, each with one Interface, added in
/// transactions of 500 ports (the shape ovs-vsctl add-port produces).
fn fill(a: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut c = Conn::open(&a.sock)?;
    let r = c.transact(json!(["Open_vSwitch",
        {"op": "insert", "table": "Bridge", "row": {"name": "br-fill"}, "uuid-name": "br"},
        {"op": "mutate", "table": "Open_vSwitch", "where": [],
            "mutations": [["bridges", "insert", ["set", [["named-uuid", "br"]]]]]}]))?;
    anyhow::ensure!(r[1]["count"] == 1, "no Open_vSwitch row (run init first)");
    let br = r[0]["uuid"][1].as_str().context("bridge uuid")?.to_string();
    let batch = 500;
    let mut p = 0;
    while p < a.ports {
        let n = batch.min(a.ports - p);
        let mut ops = vec![json!("Open_vSwitch")];
        let mut names = Vec::new();
        for k in p..p + n {
            ops.push(
                json!({"op": "insert", "table": "Interface", "uuid-name": format!("i{k}"),
                "row": {"name": format!("tap{k}"), "type": "internal",
                        "external_ids": ["map", [["iface-id", format!("vm-{k}")]]]}}),
            );
            ops.push(
                json!({"op": "insert", "table": "Port", "uuid-name": format!("p{k}"),
                "row": {"name": format!("tap{k}"), "interfaces": ["named-uuid", format!("i{k}")],
                        "tag": (k % 4000) + 1}}),
            );
            names.push(json!(["named-uuid", format!("p{k}")]));
        }
        ops.push(
            json!({"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", ["uuid", br]]],
            "mutations": [["ports", "insert", ["set", names]]]}),
        );
        c.transact(Value::Array(ops))?;
        p += n;
    }
    let r = c.transact(json!(["Open_vSwitch",
        {"op": "select", "table": "Port", "where": [], "columns": ["_uuid"]}]))?;
    let rows = r[0]["rows"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        rows == a.ports,
        "expected {} Port rows, found {rows}",
        a.ports
    );
    println!("fill_ports {rows}");
    println!("fill_secs {:.3}", started.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    match a.cmd.as_str() {
        "init" => init(&a),
        "txn" => txn(&a),
        "monitor" => monitor(&a),
        "fill" => fill(&a),
        other => bail!("unknown subcommand {other}"),
    }
}
