//! The event loop against the real server binary: a client that never
//! reads its replies (or its monitor updates) does not hold up others, a
//! half-closed client still gets its reply, an active `unix:` remote is
//! reconnected after the peer closes, and SIGTERM exits cleanly removing
//! the pidfile and the sockets.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our server binary, as Cargo built it for these tests.
const FERROVS: &str = env!("CARGO_BIN_EXE_ferrovs-ovsdb-server");

/// The server process; killed and reaped on drop.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts the server on a fresh `dir/conf.db` with `args`, and waits for
/// `wait_for` to exist.
fn start(dir: &Path, args: &[String], wait_for: &Path) -> Server {
    let child = Command::new(FERROVS)
        .arg(dir.join("conf.db"))
        .args(args)
        .env("FERROVS_LOG", "error")
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferrovs-ovsdb-server");
    let s = Server(Some(child));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !wait_for.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            wait_for.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    s
}

fn punix(dir: &Path) -> (String, PathBuf) {
    let sock = dir.join("db.sock");
    (format!("--remote=punix:{}", sock.display()), sock)
}

/// A blocking JSON-RPC client that reads one value at a time.
struct Client {
    s: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    fn new(s: UnixStream) -> Client {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client { s, buf: Vec::new() }
    }

    fn connect(sock: &Path) -> Client {
        Client::new(UnixStream::connect(sock).unwrap())
    }

    fn send(&mut self, v: &Value) {
        self.s.write_all(&serde_json::to_vec(v).unwrap()).unwrap();
    }

    /// The next JSON value from the server.
    fn recv(&mut self) -> Value {
        loop {
            let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
            if let Some(Ok(v)) = it.next() {
                let used = it.byte_offset();
                self.buf.drain(..used);
                return v;
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk).expect("read (timed out?)");
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a request and returns its reply, skipping notifications.
    fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({"id": id, "method": method, "params": params}));
        loop {
            let v = self.recv();
            if v["id"] == json!(id) {
                return v;
            }
        }
    }
}

fn set_next_cfg(c: &mut Client, id: u64, n: i64) {
    let r = c.call(
        id,
        "transact",
        json!(["Open_vSwitch", {"op": "update", "table": "Open_vSwitch", "where": [], "row": {"next_cfg": n}}]),
    );
    assert_eq!(r["result"][0]["count"], 1, "{r}");
}

#[test]
fn clients_that_do_not_read_hold_up_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, sock) = punix(dir.path());
    let _server = start(dir.path(), &[remote], &sock);
    let mut good = Client::connect(&sock);
    let r = good.call(
        1,
        "transact",
        json!(["Open_vSwitch", {"op": "insert", "table": "Open_vSwitch", "row": {}}]),
    );
    assert!(r["error"].is_null(), "{r}");

    // A monitor that never reads its updates.
    let mut mon = Client::connect(&sock);
    let r = mon.call(
        1,
        "monitor_cond",
        json!(["Open_vSwitch", null, {"Open_vSwitch": [{"columns": ["next_cfg", "external_ids"]}]}]),
    );
    assert!(r["error"].is_null(), "{r}");

    // A client that pipelines big echoes and never reads the replies: its
    // socket buffers fill and the server stops reading it.
    let flood = UnixStream::connect(&sock).unwrap();
    flood.set_nonblocking(true).unwrap();
    let big = "x".repeat(16 * 1024);
    let req = serde_json::to_vec(&json!({"id": 0, "method": "echo", "params": [big]})).unwrap();
    let mut sent = 0usize;
    let deadline = Instant::now() + Duration::from_secs(5);
    while sent < 64 << 20 && Instant::now() < deadline {
        match (&flood).write(&req) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("flood write: {e}"),
        }
    }
    assert!(sent > 0);

    // Meanwhile the well-behaved client commits a stream of updates, each
    // one a large monitor update for the client that does not read.
    let start = Instant::now();
    for i in 1..=200 {
        let ids: Vec<Value> = (0..4)
            .map(|k| json!([format!("k{k}"), format!("{i}{big}")]))
            .collect();
        let r = good.call(
            10 + i,
            "transact",
            json!(["Open_vSwitch", {"op": "update", "table": "Open_vSwitch", "where": [],
                "row": {"next_cfg": i as i64, "external_ids": ["map", ids]}}]),
        );
        assert_eq!(r["result"][0]["count"], 1, "{r}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the good client was starved"
    );
    let r = good.call(9999, "echo", json!(["still here"]));
    assert_eq!(r["result"][0], "still here");

    // The monitor still gets the updates in order once it reads: those
    // that piled up while it did not read come merged (as OVS merges
    // them), so values may be skipped but never go back, and the last one
    // arrives.
    let mut last = 0;
    while last < 200 {
        let v = mon.recv();
        if v["method"] == "update2" {
            for row in v["params"][1]["Open_vSwitch"].as_object().unwrap().values() {
                if let Some(n) = row["modify"]["next_cfg"].as_i64() {
                    assert!(n > last, "updates out of order: {n} after {last}");
                    last = n;
                }
            }
        }
    }
    drop(flood);
    let r = good.call(10000, "echo", json!([1]));
    assert_eq!(r["result"][0], 1);
}

#[test]
fn half_closed_client_gets_its_reply() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, sock) = punix(dir.path());
    let _server = start(dir.path(), &[remote], &sock);
    let mut c = Client::connect(&sock);
    c.send(&json!({"id": 5, "method": "list_dbs", "params": []}));
    c.s.shutdown(std::net::Shutdown::Write).unwrap();
    let v = c.recv();
    assert_eq!(v["id"], 5);
    assert_eq!(v["result"], json!(["Open_vSwitch", "_Server"]));
    let mut rest = Vec::new();
    c.s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "then the server closes");
}

#[test]
fn active_unix_remote_is_served_and_reconnected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("controller.sock");
    let l = UnixListener::bind(&path).unwrap();
    let (remote, sock) = punix(dir.path());
    let _server = start(
        dir.path(),
        &[remote, format!("--remote=unix:{}", path.display())],
        &sock,
    );
    l.set_nonblocking(false).unwrap();
    for round in 0..2 {
        let (s, _) = l.accept().unwrap();
        let mut c = Client::new(s);
        set_next_cfg_or_insert(&mut c, round);
        let r = c.call(2, "echo", json!([round]));
        assert_eq!(r["result"][0], round);
        // Closing makes the server reconnect (after its 100 ms backoff).
    }
}

fn set_next_cfg_or_insert(c: &mut Client, round: i64) {
    if round == 0 {
        let r = c.call(
            1,
            "transact",
            json!(["Open_vSwitch", {"op": "insert", "table": "Open_vSwitch", "row": {}}]),
        );
        assert!(r["error"].is_null(), "{r}");
    } else {
        set_next_cfg(c, 1, round);
    }
}

#[test]
fn sigterm_exits_cleanly_and_removes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, sock) = punix(dir.path());
    let pid = dir.path().join("server.pid");
    let ctl = dir.path().join("ctl");
    let mut server = start(
        dir.path(),
        &[
            remote,
            format!("--pidfile={}", pid.display()),
            format!("--unixctl={}", ctl.display()),
        ],
        &pid,
    );
    let mut c = Client::connect(&sock);
    let r = c.call(
        1,
        "transact",
        json!(["Open_vSwitch", {"op": "insert", "table": "Open_vSwitch", "row": {}}]),
    );
    assert!(r["error"].is_null(), "{r}");
    let mut child = server.0.take().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("SIGTERM ignored for 5 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    assert!(!pid.exists() && !sock.exists() && !ctl.exists());
    // The committed row survived the restart.
    let (remote, sock) = punix(dir.path());
    let _server = start(dir.path(), &[remote], &sock);
    let mut c = Client::connect(&sock);
    let r = c.call(
        1,
        "transact",
        json!(["Open_vSwitch", {"op": "select", "table": "Open_vSwitch", "where": []}]),
    );
    assert_eq!(r["result"][0]["rows"].as_array().unwrap().len(), 1, "{r}");
}
