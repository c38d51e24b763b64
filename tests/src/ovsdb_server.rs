//! A running OVSDB server for integration tests, Debian's or ferrovs's.
//!
//! [`OvsdbServer`] owns a temporary directory holding the database file,
//! the client socket (`punix:`), the unixctl socket and the server's log.
//! Both flavours are started with the same command line
//! (`SERVER DB_FILE --remote=punix:SOCK --unixctl=CTL`), so a scenario can
//! run against each and the outputs can be compared (differential testing).
//! `start` returns only once the server answers a `list_dbs` request; drop
//! kills (SIGKILL) and reaps the process and removes the directory.
//!
//! [`JsonRpc`] is a tiny blocking JSON-RPC client over the unix socket,
//! independent of the ferrovs-ovsdb crate (the thing under test), used to
//! wait for readiness and by tests that need raw RFC 7047 requests.
//! [`normalize_uuids`] makes outputs of two servers comparable.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// OVS's Open_vSwitch schema as installed by Debian.
pub const VSWITCH_SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// Which server implementation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Debian's `/usr/sbin/ovsdb-server` (OVS 3.1), the reference.
    Debian,
    /// `ferrovs-ovsdb-server` built from this workspace.
    Ferrovs,
}

impl Flavor {
    pub fn binary(self) -> PathBuf {
        match self {
            Flavor::Debian => crate::tool("ovsdb-server"),
            Flavor::Ferrovs => crate::ferrovs_bin("ferrovs-ovsdb-server"),
        }
    }
}

/// How the database file is made before the server starts.
#[derive(Clone, Debug)]
pub enum DbInit {
    /// `ovsdb-tool create DB SCHEMA` (the schema file at this path).
    ToolCreate(PathBuf),
    /// No file: the server creates it (ferrovs does, from its shipped
    /// Open_vSwitch schema; Debian's server refuses to start).
    Missing,
    /// Copy this existing database file.
    CopyFrom(PathBuf),
}

/// A running server in its own temporary directory; killed on drop.
pub struct OvsdbServer {
    flavor: Flavor,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    starts: u32,
    extra_args: Vec<String>,
}

impl OvsdbServer {
    /// Debian's server on a fresh database made by `ovsdb-tool create`
    /// from the Open_vSwitch schema.
    pub fn debian() -> anyhow::Result<OvsdbServer> {
        Self::start(Flavor::Debian, DbInit::ToolCreate(VSWITCH_SCHEMA.into()))
    }

    /// ferrovs's server on a database file that does not exist yet (it
    /// creates it from the schema it ships).
    pub fn ferrovs() -> anyhow::Result<OvsdbServer> {
        Self::start(Flavor::Ferrovs, DbInit::Missing)
    }

    /// The same starting point for both flavours: a file made by
    /// `ovsdb-tool create` from the Open_vSwitch schema.
    pub fn with_tool_db(flavor: Flavor) -> anyhow::Result<OvsdbServer> {
        Self::start(flavor, DbInit::ToolCreate(VSWITCH_SCHEMA.into()))
    }

    pub fn start(flavor: Flavor, init: DbInit) -> anyhow::Result<OvsdbServer> {
        Self::start_with_args(flavor, init, &[])
    }

    /// Like [`Self::start`], with more command-line arguments after the
    /// common ones (`{dir}` in an argument is replaced by the directory).
    pub fn start_with_args(
        flavor: Flavor,
        init: DbInit,
        extra: &[&str],
    ) -> anyhow::Result<OvsdbServer> {
        let dir = tempfile::Builder::new().prefix("fvs-ovsdb-").tempdir()?;
        let db = dir.path().join("conf.db");
        match &init {
            DbInit::ToolCreate(schema) => {
                let out = Command::new(crate::tool("ovsdb-tool"))
                    .arg("create")
                    .arg(&db)
                    .arg(schema)
                    .output()?;
                if !out.status.success() {
                    bail!(
                        "ovsdb-tool create: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
            DbInit::Missing => {}
            DbInit::CopyFrom(src) => {
                std::fs::copy(src, &db).with_context(|| format!("copy {}", src.display()))?;
            }
        }
        let mut s = OvsdbServer {
            flavor,
            dir,
            child: None,
            starts: 0,
            extra_args: Vec::new(),
        };
        let d = s.dir.path().display().to_string();
        s.extra_args = extra.iter().map(|a| a.replace("{dir}", &d)).collect();
        s.restart()?;
        Ok(s)
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("conf.db")
    }
    pub fn sock_path(&self) -> PathBuf {
        self.dir.path().join("db.sock")
    }
    pub fn ctl_path(&self) -> PathBuf {
        self.dir.path().join("ctl.sock")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("server-{}.log", self.starts))
    }
    /// `unix:SOCK`, the remote for `--db=` and `ovsdb-client`.
    pub fn remote(&self) -> String {
        format!("unix:{}", self.sock_path().display())
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's stderr/log of its current (or last) run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// (Re)starts the server on the same file and sockets and waits until
    /// it answers `list_dbs`. Kills a running one first.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        let _ = std::fs::remove_file(self.sock_path());
        let _ = std::fs::remove_file(self.ctl_path());
        self.starts += 1;
        let log = std::fs::File::create(self.log_path())?;
        let child = Command::new(self.flavor.binary())
            .arg(self.db_path())
            .arg(format!("--remote=punix:{}", self.sock_path().display()))
            .arg(format!("--unixctl={}", self.ctl_path().display()))
            .args(&self.extra_args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawn {:?}", self.flavor.binary()))?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(10))
    }

    fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!(
                        "{:?} server exited ({status}) before answering; log:\n{}",
                        self.flavor,
                        self.log()
                    );
                }
            }
            if let Ok(mut c) = JsonRpc::connect(&self.sock_path()) {
                if let Ok(r) = c.call("list_dbs", json!([])) {
                    if r.is_array() {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{:?} server did not answer list_dbs within {timeout:?}; log:\n{}",
                    self.flavor,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap (no-op when not running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 5 s) and
    /// reaps it. The database file stays for `ovsdb-tool`.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if c.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    bail!("{:?} server ignored SIGTERM for 5 s", self.flavor);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Waits up to `timeout` for the server to exit by itself (e.g. after
    /// `ovs-appctl exit`) and reaps it; `None` if it is still running.
    pub fn wait_exit(
        &mut self,
        timeout: Duration,
    ) -> anyhow::Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + timeout;
        while let Some(c) = self.child.as_mut() {
            if let Some(status) = c.try_wait()? {
                self.child = None;
                return Ok(Some(status));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(None)
    }

    /// Runs `ovs-appctl -t CTL ARGS...` (the server's unixctl socket).
    pub fn appctl(&self, args: &[&str]) -> Output {
        Command::new(crate::tool("ovs-appctl"))
            .arg("-t")
            .arg(self.ctl_path())
            .arg("--timeout=10")
            .args(args)
            .output()
            .expect("run ovs-appctl")
    }

    /// Runs `ovs-vsctl --db=unix:SOCK --no-wait --timeout=10 ARGS...`.
    pub fn vsctl(&self, args: &[&str]) -> Output {
        Command::new(crate::tool("ovs-vsctl"))
            .arg(format!("--db={}", self.remote()))
            .arg("--no-wait")
            .arg("--timeout=10")
            .args(args)
            .output()
            .expect("run ovs-vsctl")
    }

    /// Like [`Self::vsctl`] but the command must succeed; returns stdout.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        let out = self.vsctl(args);
        assert!(
            out.status.success(),
            "{:?}: ovs-vsctl {}: {}\nserver log:\n{}",
            self.flavor,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `ovsdb-client --timeout=10 CMD unix:SOCK ARGS...`.
    pub fn client(&self, cmd: &str, args: &[&str]) -> Output {
        Command::new(crate::tool("ovsdb-client"))
            .arg("--timeout=10")
            .arg(cmd)
            .arg(self.remote())
            .args(args)
            .output()
            .expect("run ovsdb-client")
    }

    /// A raw JSON-RPC connection to the server.
    pub fn rpc(&self) -> anyhow::Result<JsonRpc> {
        JsonRpc::connect(&self.sock_path())
    }
}

impl Drop for OvsdbServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `ovsdb-tool ARGS...` and returns its output.
pub fn ovsdb_tool(args: &[&str]) -> Output {
    Command::new(crate::tool("ovsdb-tool"))
        .args(args)
        .output()
        .expect("run ovsdb-tool")
}

/// A blocking JSON-RPC 1.0 session over a unix socket (RFC 7047 framing:
/// a stream of JSON values, split here by parsing from an own buffer, so
/// that a read timeout never loses a partial message). Notifications that
/// arrive while waiting for a reply are kept in `notifications`; the
/// server's echo requests are answered.
pub struct JsonRpc {
    stream: UnixStream,
    buf: Vec<u8>,
    next_id: u64,
    timeout: Duration,
    pub notifications: Vec<Value>,
}

impl JsonRpc {
    pub fn connect(path: &Path) -> anyhow::Result<JsonRpc> {
        let s = UnixStream::connect(path)?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(JsonRpc {
            stream: s,
            buf: Vec::new(),
            next_id: 1,
            timeout: Duration::from_secs(10),
            notifications: Vec::new(),
        })
    }

    /// How long [`Self::recv`] waits (10 s unless changed).
    pub fn set_read_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    pub fn send(&mut self, msg: &Value) -> anyhow::Result<()> {
        let mut buf = serde_json::to_vec(msg)?;
        buf.push(b'\n');
        self.stream.write_all(&buf)?;
        Ok(())
    }

    /// Sends `bytes` as they are (malformed input included).
    pub fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// The next message, `Ok(None)` once the server has closed the
    /// connection (an error if nothing happens within the read timeout).
    pub fn recv_or_closed(&mut self) -> anyhow::Result<Option<Value>> {
        match self.recv_timeout(self.timeout) {
            Ok(Some(v)) => Ok(Some(v)),
            Ok(None) => bail!("no message from the server within {:?}", self.timeout),
            Err(e) if e.to_string() == "server closed the connection" => Ok(None),
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn parse_buffered(&mut self) -> anyhow::Result<Option<Value>> {
        let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
        match it.next() {
            Some(Ok(v)) => {
                let used = it.byte_offset();
                self.buf.drain(..used);
                Ok(Some(v))
            }
            Some(Err(e)) if e.is_eof() => Ok(None),
            Some(Err(e)) => bail!("server sent invalid JSON: {e}"),
            None => Ok(None),
        }
    }

    /// The next message from the server, or `None` if none arrives within
    /// `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> anyhow::Result<Option<Value>> {
        use std::io::Read;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.parse_buffered()? {
                return Ok(Some(v));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => bail!("server closed the connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return Ok(None)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads the next message from the server (an error after the read
    /// timeout).
    pub fn recv(&mut self) -> anyhow::Result<Value> {
        match self.recv_timeout(self.timeout)? {
            Some(v) => Ok(v),
            None => bail!("no message from the server within {:?}", self.timeout),
        }
    }

    /// Answers an echo request; returns true if `msg` was one.
    fn answer_echo(&mut self, msg: &Value) -> anyhow::Result<bool> {
        if msg.get("method").and_then(Value::as_str) == Some("echo")
            && msg.get("id").is_some_and(|i| !i.is_null())
        {
            let reply = json!({"result": msg["params"], "error": null, "id": msg["id"]});
            self.send(&reply)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Sends a request and returns the whole reply object (with `result`
    /// and `error`), keeping notifications that arrive meanwhile.
    pub fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"method": method, "params": params, "id": id}))?;
        loop {
            let msg = self.recv()?;
            if self.answer_echo(&msg)? {
                continue;
            }
            if msg.get("id") == Some(&json!(id)) {
                return Ok(msg);
            }
            self.notifications.push(msg);
        }
    }

    /// Sends a request and returns its `result`; an `error` reply is an Err.
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let reply = self.request(method, params)?;
        match reply.get("error") {
            Some(e) if !e.is_null() => bail!("{method} failed: {e}"),
            _ => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Waits for the next notification (already queued ones first).
    pub fn next_notification(&mut self) -> anyhow::Result<Value> {
        if !self.notifications.is_empty() {
            return Ok(self.notifications.remove(0));
        }
        loop {
            let msg = self.recv()?;
            if !self.answer_echo(&msg)? {
                return Ok(msg);
            }
        }
    }

    /// Fails if any message (other than an echo request) arrives within `d`
    /// or is already queued.
    pub fn expect_quiet(&mut self, d: Duration) -> anyhow::Result<()> {
        if let Some(m) = self.notifications.first() {
            bail!("unexpected message {m}");
        }
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_timeout(left)? {
                None => return Ok(()),
                Some(m) if self.answer_echo(&m)? => continue,
                Some(m) => bail!("unexpected message {m}"),
            }
        }
    }
}

/// Sorts the keys of every JSON object in `v` (recursively): objects are
/// unordered in JSON, and two servers may emit members in different orders.
pub fn sort_json_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut x) in entries {
                sort_json_keys(&mut x);
                m.insert(k, x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sort_json_keys),
        _ => {}
    }
}

/// Replaces every UUID (8-4-4-4-12 hex digits) in `s` by `<uuid>`, so that
/// outputs of two servers (which pick different random UUIDs) compare
/// equal. Order-independent on purpose: sets of UUIDs are printed sorted
/// by value, so numbering them would not be stable.
pub fn normalize_uuids(s: &str) -> String {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let mut j = i;
        let mut ok = true;
        for (g, &len) in GROUPS.iter().enumerate() {
            for _ in 0..len {
                if j < b.len() && b[j].is_ascii_hexdigit() {
                    j += 1;
                } else {
                    ok = false;
                    break;
                }
            }
            if !ok {
                break;
            }
            if g < 4 {
                if j < b.len() && b[j] == b'-' {
                    j += 1;
                } else {
                    ok = false;
                    break;
                }
            }
        }
        let bounded_left = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let bounded_right = j >= b.len() || !b[j].is_ascii_alphanumeric();
        if ok && bounded_left && bounded_right {
            out.push_str(&s[copied..i]);
            out.push_str("<uuid>");
            i = j;
            copied = j;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_uuids;

    #[test]
    fn uuids_are_replaced_and_nothing_else() {
        let s = "_uuid : 031183e2-124f-4915-ac75-c44fcec899b1\nports: [5213d0db-740c-41f4-b36f-fc2a722a8f47, x]\n";
        assert_eq!(normalize_uuids(s), "_uuid : <uuid>\nports: [<uuid>, x]\n");
        assert_eq!(normalize_uuids("abc-12"), "abc-12");
        assert_eq!(
            normalize_uuids("x031183e2-124f-4915-ac75-c44fcec899b1"),
            "x031183e2-124f-4915-ac75-c44fcec899b1"
        );
        assert_eq!(normalize_uuids("é é"), "é é");
    }
}
