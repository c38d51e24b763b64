//! Slow and hostile OVSDB clients, the same for any server (Debian's
//! ovsdb-server or ferrovs's), and what they cost the server: its resident
//! memory and the echo round trip of a well-behaved second client.
//!
//! [`run`] plays one [`Scenario`] against a server socket while a [`Probe`]
//! thread sends an echo every few milliseconds on its own connection and
//! samples the server's VmRSS; the [`Report`] holds the peak memory above
//! the start and the worst echo latency. Hostile connections are raw unix
//! sockets (non-blocking writes with a deadline, so a server that stops
//! reading never blocks the scenario), independent of the code under test.
//! Sizes come from [`Scale`]: small for the test suite's debug builds,
//! full (the figures) for `benches/scripts/ovsdb-hostile.sh`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::ovsdb_server::JsonRpc;

/// The hostile behaviours of issue 20.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Monitors on Open_vSwitch.external_ids that never read, while another
    /// client commits big values there.
    SlowMonitors,
    /// Waits that never come true over a big table, while another client
    /// commits elsewhere (and, a few times, to that table).
    Waits,
    /// One huge echo of an integer array.
    BigEcho,
    /// One huge non-echo message (too many elements to build a tree).
    BigArray,
    /// Pipelined get_schema requests from sessions that never read.
    Pipeline,
    /// Sessions each sending a message that never ends.
    EndlessInput,
    /// An echo nested just under OVS's depth limit, then one far beyond.
    DeepJson,
    /// One session holding very many locks while others open and close.
    Locks,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::SlowMonitors,
        Scenario::Waits,
        Scenario::BigEcho,
        Scenario::BigArray,
        Scenario::Pipeline,
        Scenario::EndlessInput,
        Scenario::DeepJson,
        Scenario::Locks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::SlowMonitors => "slow_monitors",
            Scenario::Waits => "waits",
            Scenario::BigEcho => "big_echo",
            Scenario::BigArray => "big_array",
            Scenario::Pipeline => "pipeline",
            Scenario::EndlessInput => "endless_input",
            Scenario::DeepJson => "deep_json",
            Scenario::Locks => "locks",
        }
    }

    pub fn from_name(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// Sizes of the scenarios.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub monitors: usize,
    pub commits: usize,
    pub value_bytes: usize,
    pub wait_rows: usize,
    pub waits: usize,
    pub echo_bytes: usize,
    pub pipeline_sessions: usize,
    pub pipeline_requests: usize,
    pub endless_sessions: usize,
    pub endless_bytes: usize,
    pub locks: usize,
    pub lock_churn: usize,
}

impl Scale {
    /// The figures.
    pub fn full() -> Scale {
        Scale {
            monitors: 50,
            commits: 3000,
            value_bytes: 10_000,
            wait_rows: 1000,
            waits: 100,
            echo_bytes: 20 << 20,
            pipeline_sessions: 8,
            pipeline_requests: 2000,
            endless_sessions: 6,
            endless_bytes: 63 << 20,
            locks: 300_000,
            lock_churn: 1000,
        }
    }

    /// Small enough for debug builds in the test suite, big enough that
    /// the old behaviours break the ceilings the tests state.
    pub fn small() -> Scale {
        Scale {
            monitors: 20,
            commits: 300,
            value_bytes: 10_000,
            wait_rows: 300,
            waits: 100,
            echo_bytes: 8 << 20,
            pipeline_sessions: 4,
            pipeline_requests: 1000,
            endless_sessions: 3,
            endless_bytes: 40 << 20,
            locks: 50_000,
            lock_churn: 300,
        }
    }
}

/// What a scenario cost.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub rss_start_mib: f64,
    pub rss_peak_mib: f64,
    pub rss_end_mib: f64,
    pub echo_max_ms: f64,
    pub echo_p50_ms: f64,
    pub echoes: usize,
    /// Scenario-specific facts (`key value`), e.g. how the server answered.
    pub notes: Vec<(String, String)>,
}

impl Report {
    /// Peak memory above the start.
    pub fn rss_growth_mib(&self) -> f64 {
        self.rss_peak_mib - self.rss_start_mib
    }

    pub fn note(&self, k: &str) -> Option<&str> {
        self.notes
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }

    /// `key value` lines, as the comparison script reads them.
    pub fn lines(&self) -> String {
        let mut s = format!(
            "rss_start_mib {:.1}\nrss_peak_mib {:.1}\nrss_growth_mib {:.1}\nrss_end_mib {:.1}\necho_max_ms {:.1}\necho_p50_ms {:.1}\nechoes {}\n",
            self.rss_start_mib,
            self.rss_peak_mib,
            self.rss_growth_mib(),
            self.rss_end_mib,
            self.echo_max_ms,
            self.echo_p50_ms,
            self.echoes
        );
        for (k, v) in &self.notes {
            s.push_str(&format!("{k} {v}\n"));
        }
        s
    }
}

/// VmRSS of process `pid` in MiB (0 if it is gone).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// A well-behaved client timing echoes, and the server's memory, until
/// stopped. Memory is sampled by a thread of its own every 5 ms, so that a
/// server stalled on one message (when memory peaks) is still measured.
pub struct Probe {
    stop: Arc<AtomicBool>,
    echo: JoinHandle<anyhow::Result<Vec<f64>>>,
    rss: JoinHandle<f64>,
    start_mib: f64,
}

impl Probe {
    pub fn start(sock: &Path, pid: u32) -> anyhow::Result<Probe> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut c = JsonRpc::connect(sock)?;
        c.set_read_timeout(Duration::from_secs(120));
        let start_mib = rss_mib(pid);
        let st = stop.clone();
        let echo = std::thread::spawn(move || {
            let mut lat = Vec::new();
            // At least one echo, however short the scenario.
            loop {
                let t = Instant::now();
                c.call("echo", json!(["probe"]))
                    .context("the probe's echo failed")?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                if st.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(lat)
        });
        let st = stop.clone();
        let rss = std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !st.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        });
        Ok(Probe {
            stop,
            echo,
            rss,
            start_mib,
        })
    }

    /// Stops the probe; the report of what it saw.
    pub fn finish(self, pid: u32) -> anyhow::Result<Report> {
        self.stop.store(true, Ordering::Relaxed);
        let mut lat = self
            .echo
            .join()
            .map_err(|_| anyhow::anyhow!("probe thread panicked"))??;
        let peak = self
            .rss
            .join()
            .map_err(|_| anyhow::anyhow!("memory sampler panicked"))?;
        lat.sort_by(|a, b| a.total_cmp(b));
        let end = rss_mib(pid);
        Ok(Report {
            rss_start_mib: self.start_mib,
            rss_peak_mib: peak.max(end),
            rss_end_mib: end,
            echo_max_ms: lat.last().copied().unwrap_or(0.0),
            echo_p50_ms: lat.get(lat.len() / 2).copied().unwrap_or(0.0),
            echoes: lat.len(),
            notes: Vec::new(),
        })
    }
}

/// A hostile connection: raw bytes, writes that give up at a deadline.
struct Raw {
    s: UnixStream,
}

impl Raw {
    fn connect(sock: &Path) -> anyhow::Result<Raw> {
        let s = UnixStream::connect(sock).with_context(|| format!("connect {}", sock.display()))?;
        Ok(Raw { s })
    }

    /// Writes as much of `data` as the server takes within `d`; the number
    /// of bytes written.
    fn write_for(&mut self, data: &[u8], d: Duration) -> usize {
        let deadline = Instant::now() + d;
        let mut off = 0;
        while off < data.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = self.s.set_write_timeout(Some(left));
            match self.s.write(&data[off..]) {
                Ok(0) => break,
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        off
    }

    /// Whether the server closed the connection (reads and drops what is
    /// waiting; false if it is still open after `d`).
    fn closed_within(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = self.s.set_read_timeout(Some(left));
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    /// Reads one complete JSON text (bytes) within `d`.
    fn read_message(&mut self, d: Duration) -> anyhow::Result<Vec<u8>> {
        let deadline = Instant::now() + d;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut scan = TextEnd::default();
        loop {
            if let Some(n) = scan.find(&out) {
                out.truncate(n);
                return Ok(out);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("no complete message within {d:?}");
            }
            self.s.set_read_timeout(Some(left))?;
            match self.s.read(&mut buf) {
                Ok(0) => bail!("connection closed"),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Finds where the first JSON object or array of a growing buffer ends,
/// scanning each byte once.
#[derive(Default)]
struct TextEnd {
    scanned: usize,
    depth: usize,
    in_str: bool,
    esc: bool,
}

impl TextEnd {
    /// The length of the first complete text in `b` (which only grows
    /// between calls), if it is complete.
    fn find(&mut self, b: &[u8]) -> Option<usize> {
        while self.scanned < b.len() {
            let c = b[self.scanned];
            self.scanned += 1;
            if self.in_str {
                if self.esc {
                    self.esc = false;
                } else if c == b'\\' {
                    self.esc = true;
                } else if c == b'"' {
                    self.in_str = false;
                }
                continue;
            }
            match c {
                b'"' => self.in_str = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(self.scanned);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

fn req(method: &str, params: Value, id: u64) -> Vec<u8> {
    let mut v = serde_json::to_vec(&json!({"method": method, "params": params, "id": id}))
        .expect("serializable");
    v.push(b'\n');
    v
}

/// Runs `scenario` against the server on `sock` (process `pid`), which
/// serves a fresh Open_vSwitch database.
pub fn run(scenario: Scenario, sock: &Path, pid: u32, scale: &Scale) -> anyhow::Result<Report> {
    let mut setup = JsonRpc::connect(sock)?;
    setup.set_read_timeout(Duration::from_secs(300));
    let mut notes = Vec::new();
    let probe;
    match scenario {
        Scenario::SlowMonitors => {
            transact(
                &mut setup,
                json!([{"op": "insert", "table": "Open_vSwitch", "row": {}}]),
            )?;
            probe = Probe::start(sock, pid)?;
            let mut idle = Vec::new();
            for k in 0..scale.monitors {
                let mut r = Raw::connect(sock)?;
                let m = req(
                    "monitor_cond",
                    json!(["Open_vSwitch", k, {"Open_vSwitch": [{"columns": ["external_ids"]}]}]),
                    1,
                );
                r.write_for(&m, Duration::from_secs(5));
                idle.push(r);
            }
            // Let the monitors be registered before committing.
            setup.call("echo", json!([]))?;
            let t = Instant::now();
            for n in 0..scale.commits {
                let v = format!("{n:08}{}", "x".repeat(scale.value_bytes.saturating_sub(8)));
                transact(
                    &mut setup,
                    json!([{"op": "update", "table": "Open_vSwitch", "where": [],
                            "row": {"external_ids": ["map", [["big", v]]]}}]),
                )?;
            }
            notes.push(("commits_per_s".into(), rate(scale.commits, t)));
            drop(idle);
        }
        Scenario::Waits => {
            let rows: Vec<Value> = (0..scale.wait_rows)
                .map(|i| json!({"op": "insert", "table": "QoS", "row": {"type": format!("q{i}")}}))
                .collect();
            transact(&mut setup, Value::Array(rows))?;
            transact(
                &mut setup,
                json!([{"op": "insert", "table": "Open_vSwitch", "row": {}}]),
            )?;
            probe = Probe::start(sock, pid)?;
            let mut w = Raw::connect(sock)?;
            let mut batch = Vec::new();
            for i in 0..scale.waits + 1 {
                let p = json!(["Open_vSwitch", {"op": "wait", "table": "QoS", "where": [],
                    "columns": ["type"], "until": "==", "rows": [{"type": "never"}]}]);
                batch.extend(req("transact", p, i as u64));
            }
            w.write_for(&batch, Duration::from_secs(10));
            // One wait over the bound: its reply is the only one that comes.
            let first = w
                .read_message(Duration::from_secs(5))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or(Value::Null);
            notes.push((
                "extra_wait_answer".into(),
                first["error"]["error"]
                    .as_str()
                    .or(first["error"].as_str())
                    .unwrap_or("none")
                    .replace(' ', "_"),
            ));
            let t = Instant::now();
            let mut worst: f64 = 0.0;
            for n in 0..scale.commits.min(200) {
                let t1 = Instant::now();
                let table_op = if n % 50 == 49 {
                    json!({"op": "update", "table": "QoS", "where": [["type", "==", "q0"]],
                           "row": {"external_ids": ["map", [["n", n.to_string()]]]}})
                } else {
                    json!({"op": "update", "table": "Open_vSwitch", "where": [],
                           "row": {"external_ids": ["map", [["n", n.to_string()]]]}})
                };
                transact(&mut setup, json!([table_op]))?;
                worst = worst.max(t1.elapsed().as_secs_f64() * 1e3);
            }
            notes.push(("commits_per_s".into(), rate(scale.commits.min(200), t)));
            notes.push(("commit_max_ms".into(), format!("{worst:.1}")));
            drop(w);
        }
        Scenario::BigEcho | Scenario::BigArray => {
            probe = Probe::start(sock, pid)?;
            let n = scale.echo_bytes / 2;
            let mut params = String::with_capacity(scale.echo_bytes + 2);
            params.push('[');
            for i in 0..n {
                if i > 0 {
                    params.push(',');
                }
                params.push('1');
            }
            params.push(']');
            let method = if scenario == Scenario::BigEcho {
                "echo"
            } else {
                "big_array"
            };
            let msg = format!("{{\"method\":\"{method}\",\"params\":{params},\"id\":1}}");
            drop(params);
            let mut r = Raw::connect(sock)?;
            let t = Instant::now();
            let sent = r.write_for(msg.as_bytes(), Duration::from_secs(120));
            let answer = r.read_message(Duration::from_secs(120));
            notes.push(("sent_mib".into(), format!("{:.1}", sent as f64 / 1048576.0)));
            let what = match &answer {
                Ok(b) if b.len() > msg.len() / 2 => "echoed",
                Ok(b) => {
                    if String::from_utf8_lossy(b).contains("resources exhausted") {
                        "refused_resources_exhausted"
                    } else {
                        "error"
                    }
                }
                Err(_) => "closed",
            };
            notes.push(("answer".into(), what.into()));
            notes.push((
                "answer_ms".into(),
                format!("{:.0}", t.elapsed().as_secs_f64() * 1e3),
            ));
        }
        Scenario::Pipeline => {
            probe = Probe::start(sock, pid)?;
            let mut batch = Vec::new();
            for i in 0..scale.pipeline_requests {
                batch.extend(req("get_schema", json!(["Open_vSwitch"]), i as u64));
            }
            let mut conns = Vec::new();
            let mut written = 0;
            for _ in 0..scale.pipeline_sessions {
                let mut r = Raw::connect(sock)?;
                written += r.write_for(&batch, Duration::from_secs(2));
                conns.push(r);
            }
            notes.push((
                "requests_sent".into(),
                (written * scale.pipeline_requests / batch.len()).to_string(),
            ));
            std::thread::sleep(Duration::from_secs(1));
            // Every request is answered once its client reads.
            let mut answered = 0;
            for r in &mut conns {
                answered += count_word(&mut r.s, b"\"error\":null", scale.pipeline_requests);
            }
            notes.push(("replies_read".into(), answered.to_string()));
            drop(conns);
        }
        Scenario::EndlessInput => {
            probe = Probe::start(sock, pid)?;
            let mut chunk = b"{\"method\":\"echo\",\"id\":1,\"params\":[\"".to_vec();
            chunk.resize(scale.endless_bytes, b'a');
            let mut conns = Vec::new();
            let mut closed = 0;
            for _ in 0..scale.endless_sessions {
                let mut r = Raw::connect(sock)?;
                r.write_for(&chunk, Duration::from_secs(60));
                conns.push(r);
            }
            std::thread::sleep(Duration::from_millis(500));
            for r in &mut conns {
                if r.closed_within(Duration::from_millis(200)) {
                    closed += 1;
                }
            }
            notes.push(("sessions_closed".into(), closed.to_string()));
            drop(conns);
        }
        Scenario::DeepJson => {
            probe = Probe::start(sock, pid)?;
            // The envelope and "params" take two levels: 998 more arrays.
            let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
            let mut r = Raw::connect(sock)?;
            let msg = format!(
                "{{\"method\":\"echo\",\"params\":[{}],\"id\":1}}",
                deep(997)
            );
            r.write_for(msg.as_bytes(), Duration::from_secs(10));
            let ok = r
                .read_message(Duration::from_secs(10))
                .map(|b| String::from_utf8_lossy(&b).contains(&deep(997)))
                .unwrap_or(false);
            notes.push((
                "depth_999".into(),
                if ok { "echoed" } else { "refused" }.into(),
            ));
            let mut r = Raw::connect(sock)?;
            let msg = format!(
                "{{\"method\":\"echo\",\"params\":[{}],\"id\":1}}",
                deep(1_000_000)
            );
            r.write_for(msg.as_bytes(), Duration::from_secs(10));
            let closed = r.closed_within(Duration::from_secs(10));
            notes.push((
                "depth_1000002".into(),
                if closed { "closed" } else { "open" }.into(),
            ));
        }
        Scenario::Locks => {
            let mut holder = JsonRpc::connect(sock)?;
            holder.set_read_timeout(Duration::from_secs(300));
            let mut raw = Raw::connect(sock)?;
            let mut batch = Vec::new();
            for i in 0..scale.locks {
                batch.extend(req("lock", json!([format!("lock{i}")]), i as u64));
            }
            let reader = {
                let mut s = raw.s.try_clone()?;
                let n = scale.locks;
                std::thread::spawn(move || count_word(&mut s, b"\"locked\"", n))
            };
            raw.write_for(&batch, Duration::from_secs(300));
            let got = reader.join().unwrap_or(0);
            notes.push(("locks_held".into(), got.to_string()));
            probe = Probe::start(sock, pid)?;
            let t = Instant::now();
            let ticks0 = cpu_ticks(pid);
            for i in 0..scale.lock_churn {
                let mut c = JsonRpc::connect(sock)?;
                c.call("lock", json!([format!("churn{i}")]))?;
            }
            holder.call("echo", json!([]))?;
            let ticks = cpu_ticks(pid) - ticks0;
            notes.push(("churn_per_s".into(), rate(scale.lock_churn, t)));
            notes.push((
                "server_cpu_us_per_session".into(),
                format!(
                    "{:.0}",
                    ticks as f64 * 1e6 / clk_tck() / scale.lock_churn as f64
                ),
            ));
            drop(raw);
        }
    }
    // The server must still serve everyone else.
    setup.call("echo", json!(["after"]))?;
    let mut rep = probe.finish(pid)?;
    rep.notes = notes;
    Ok(rep)
}

/// Reads `s` until `word` was seen `n` times (or the peer closes, or two
/// minutes pass without data); how many times it was seen. The last bytes
/// of each read stay in front of the next, so a word split between reads
/// still counts.
fn count_word(s: &mut UnixStream, word: &[u8], n: usize) -> usize {
    let mut buf = vec![0u8; 1 << 16];
    let (mut got, mut keep) = (0, 0);
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    while got < n {
        match s.read(&mut buf[keep..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                let end = keep + k;
                got += buf[..end]
                    .windows(word.len())
                    .filter(|w| w == &word)
                    .count();
                keep = end.min(word.len() - 1);
                buf.copy_within(end - keep..end, 0);
            }
        }
    }
    got
}

fn transact(c: &mut JsonRpc, ops: Value) -> anyhow::Result<Value> {
    let mut p = vec![json!("Open_vSwitch")];
    p.extend(ops.as_array().cloned().unwrap_or_default());
    let r = c.call("transact", Value::Array(p))?;
    if let Some(e) = r
        .as_array()
        .and_then(|a| a.iter().find(|x| x.get("error").is_some()))
    {
        bail!("transaction failed: {e}");
    }
    Ok(r)
}

fn rate(n: usize, since: Instant) -> String {
    format!("{:.0}", n as f64 / since.elapsed().as_secs_f64().max(1e-9))
}

/// Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on Linux).
fn clk_tck() -> f64 {
    100.0
}

/// User + system CPU time of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}
