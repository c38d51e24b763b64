//! ovsdb_load: the same JSON-RPC client load for any OVSDB server.
//!
//! A load generator independent of the ferrovs-ovsdb crate (raw
//! serde_json over unix sockets, one blocking thread per client), so that
//! Debian's ovsdb-server and ferrovs-ovsdb-server get exactly the same
//! requests. Each client keeps one transaction in flight, like ovs-vsctl
//! and IDL clients do. Results are printed as `key value` lines for
//! `benches/scripts/ovsdb-compare.sh`.
//!
//! The timed `txn` loop must not be the bottleneck (on a small machine its
//! CPU competes with the server): its requests are formatted straight into
//! a reused buffer (only the counter changes) and each reply is checked by
//! a byte scan for its id and for any "error" member, falling back to a
//! full parse whenever the scan is not sure. Both servers get identical
//! bytes and every reply is still checked.
//!
//! Subcommands (all take `--sock PATH`):
//!   init                          insert the Open_vSwitch root row
//!   txn --op insert|update|echo --clients N --secs S [--durable]
//!                                 -> `txn_per_s X`
//!   monitor --monitors N --samples K
//!                                 -> `fanout_median_us X`, `fanout_p99_us Y`
//!   fill --ports N                -> one bridge with N Port+Interface rows

use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// One connection. Incoming bytes are split into messages by a small
/// framer (brackets outside strings), so the hot transaction loop can check
/// a reply by scanning its bytes instead of building a `Value` tree; any
/// reply the scan cannot vouch for is parsed in full.
struct Conn {
    s: UnixStream,
    buf: Vec<u8>,
    /// Start of the first unconsumed message in `buf`.
    start: usize,
    /// Bytes of `buf` already scanned by the framer.
    scanned: usize,
    depth: usize,
    in_str: bool,
    esc: bool,
    next_id: u64,
    /// Reusable request buffer.
    req: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether `msg` (one JSON text) is a successful reply to request `id`: it
/// holds `"id":<id>` and its only "error" member is the top-level
/// `"error":null` (an operation that failed has an "error" member of its
/// own). The load's requests and replies hold no strings that could fake
/// either pattern; anything else goes to the full parse.
fn is_clean_reply(msg: &[u8], id: &[u8]) -> bool {
    let Some(p) = find(msg, b"\"id\":") else {
        return false;
    };
    let rest = &msg[p + 5..];
    if !(rest.starts_with(id) && matches!(rest.get(id.len()), Some(b',') | Some(b'}'))) {
        return false;
    }
    let Some(e) = find(msg, b"\"error\"") else {
        return false;
    };
    msg[e..].starts_with(b"\"error\":null") && find(&msg[e + 7..], b"\"error\"").is_none()
}

impl Conn {
    fn open(sock: &PathBuf) -> anyhow::Result<Conn> {
        let s = UnixStream::connect(sock).with_context(|| format!("connect {}", sock.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            s,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            scanned: 0,
            depth: 0,
            in_str: false,
            esc: false,
            next_id: 1,
            req: Vec::with_capacity(512),
        })
    }

    fn send(&mut self, v: &Value) -> anyhow::Result<()> {
        let mut b = serde_json::to_vec(v)?;
        b.push(b'\n');
        self.s.write_all(&b)?;
        Ok(())
    }

    /// Blocks in poll(2) until the socket is readable, the way OVS's own
    /// clients (ovs-vsctl, the IDLs) wait. A reader blocked in read(2)
    /// instead would be woken by every send-buffer release on its socket
    /// (each time the server reads a request), which costs the server a
    /// cross-CPU wake-up per transaction.
    fn wait_readable(&self) -> anyhow::Result<()> {
        let mut p = libc::pollfd {
            fd: self.s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: `p` is a valid pollfd for the duration of the call.
            let r = unsafe { libc::poll(&mut p, 1, 30_000) };
            if r > 0 {
                return Ok(());
            }
            if r == 0 {
                bail!("timed out waiting for the server");
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
    }

    /// The byte range in `buf` of the next complete message.
    fn next_raw(&mut self) -> anyhow::Result<std::ops::Range<usize>> {
        loop {
            while self.scanned < self.buf.len() {
                let b = self.buf[self.scanned];
                self.scanned += 1;
                if self.in_str {
                    if self.esc {
                        self.esc = false;
                    } else if b == b'\\' {
                        self.esc = true;
                    } else if b == b'"' {
                        self.in_str = false;
                    }
                    continue;
                }
                match b {
                    b'"' => self.in_str = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.checked_sub(1).context("bad JSON from server")?;
                        if self.depth == 0 {
                            let r = self.start..self.scanned;
                            self.start = self.scanned;
                            return Ok(r);
                        }
                    }
                    _ => {
                        if self.depth == 0 {
                            // Whitespace between messages.
                            self.start = self.scanned;
                        }
                    }
                }
            }
            // Need more bytes: drop consumed ones first.
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.scanned -= self.start;
                self.start = 0;
            }
            self.wait_readable()?;
            let len = self.buf.len();
            self.buf.resize(len + 64 * 1024, 0);
            let n = match self.s.read(&mut self.buf[len..]) {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e.into());
                }
            };
            self.buf.truncate(len + n);
            if n == 0 {
                bail!("server closed the connection");
            }
        }
    }

    /// Parses a message; answers the server's echo requests (None then).
    fn handle_value(&mut self, r: std::ops::Range<usize>) -> anyhow::Result<Option<Value>> {
        let m: Value = serde_json::from_slice(&self.buf[r])?;
        if m["method"] == "echo" && !m["id"].is_null() {
            let reply = json!({"result": m["params"], "error": null, "id": m["id"]});
            self.send(&reply)?;
            return Ok(None);
        }
        Ok(Some(m))
    }

    /// Next message; answers the server's echo requests on the way.
    fn recv(&mut self) -> anyhow::Result<Value> {
        loop {
            let r = self.next_raw()?;
            if let Some(m) = self.handle_value(r)? {
                return Ok(m);
            }
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
        check_ops(&r)?;
        Ok(r)
    }

    /// The hot path of `txn`: a transact request whose operations are
    /// `ops` (JSON text, the params after the database name) sent as
    /// pre-formatted bytes, its reply checked by a byte scan (full parse
    /// when the scan is not sure). Fails if any operation failed.
    fn transact_raw(&mut self, ops: std::fmt::Arguments) -> anyhow::Result<()> {
        self.call_raw("transact", format_args!("[\"Open_vSwitch\",{ops}]"))
    }

    /// A request with pre-formatted `params`, its reply checked as in
    /// `transact_raw` (a transact reply's operations must all succeed).
    fn call_raw(&mut self, method: &str, params: std::fmt::Arguments) -> anyhow::Result<()> {
        let id = self.next_id;
        self.next_id += 1;
        self.req.clear();
        writeln!(
            self.req,
            "{{\"method\":\"{method}\",\"params\":{params},\"id\":{id}}}"
        )?;
        self.s.write_all(&self.req)?;
        let idtext = id.to_string();
        loop {
            let r = self.next_raw()?;
            if is_clean_reply(&self.buf[r.clone()], idtext.as_bytes()) {
                return Ok(());
            }
            let Some(m) = self.handle_value(r)? else {
                continue;
            };
            if m["id"] == id {
                if !m["error"].is_null() {
                    bail!("{method}: {}", m["error"]);
                }
                if method == "transact" {
                    check_ops(&m["result"])?;
                }
                return Ok(());
            }
        }
    }
}

fn check_ops(r: &Value) -> anyhow::Result<()> {
    for op in r.as_array().context("transact result is not an array")? {
        if !op["error"].is_null() {
            bail!("transaction failed: {op}");
        }
    }
    Ok(())
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
        let commit = if a.durable {
            ",{\"op\":\"commit\",\"durable\":true}"
        } else {
            ""
        };
        match a.op.as_str() {
            "insert" => c.transact_raw(format_args!(
                "{{\"op\":\"insert\",\"table\":\"QoS\",\"row\":{{\"type\":\"bench\",\"external_ids\":[\"map\",[[\"c\",\"{n}-{i}\"]]]}}}}{commit}"
            ))?,
            "update" => c.transact_raw(format_args!(
                "{{\"op\":\"update\",\"table\":\"QoS\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"{row}\"]]],\"row\":{{\"external_ids\":[\"map\",[[\"n\",\"{i}\"]]]}}}}{commit}"
            ))?,
            // The server's floor: a JSON-RPC round trip that touches no
            // database (same framing, parsing and wake-ups, no commit).
            "echo" => c.call_raw("echo", format_args!("[{i}]"))?,
            other => bail!("unknown --op {other}"),
        }
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

#[cfg(test)]
mod tests {
    use super::is_clean_reply;

    #[test]
    fn reply_scan_accepts_only_clean_replies_to_the_id() {
        let ok: &[u8] = br#"{"id":12,"result":[{"uuid":["uuid","6f1c3a1e-0d7a-4e55-9f1e-2b1d9c0e7a11"]}],"error":null}"#;
        assert!(is_clean_reply(ok, b"12"));
        assert!(!is_clean_reply(ok, b"1"));
        assert!(!is_clean_reply(ok, b"123"));
        assert!(is_clean_reply(
            br#"{"result":[{"count":1}],"error":null,"id":7}"#,
            b"7"
        ));
        // A failed operation, a failed request, a notification.
        assert!(!is_clean_reply(
            br#"{"id":7,"result":[{"error":"constraint violation","details":"x"}],"error":null}"#,
            b"7"
        ));
        assert!(!is_clean_reply(
            br#"{"id":7,"result":null,"error":{"error":"bad"}}"#,
            b"7"
        ));
        assert!(!is_clean_reply(
            br#"{"id":null,"method":"echo","params":[]}"#,
            b"7"
        ));
    }
}
