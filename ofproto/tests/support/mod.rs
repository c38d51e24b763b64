//! Test support: one `Ofproto` served on a unix socket, the way vswitchd
//! will serve a bridge's management socket, so that Debian's real
//! `ovs-ofctl` can drive it; and the side-by-side runner that sends the
//! same `ovs-ofctl` commands to it and to Debian's `ovs-vswitchd` (the
//! oracle) and compares what they print. [`mem_switch`]: a bridge on a
//! datapath of memory ports.

#![allow(dead_code)]

pub mod mem_switch;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ferrovs_ofproto::{ConnKind, OfPort, Ofproto, OfprotoConfig};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;
use ferrovs_tests::tool;

/// An `Ofproto` listening on a unix socket, one thread per connection.
pub struct SwitchServer {
    pub ofproto: Arc<Mutex<Ofproto>>,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// A port described as OVS describes an internal port that is down:
/// PORT_DOWN, LINK_DOWN, 10GB-FD COPPER, 10 Gbps now.
pub fn internal_port(no: u16, name: &str) -> OfPort {
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    OfPort {
        port_no: no,
        hw_addr: [0xaa, 0x55, 0, 0, 0, no as u8],
        name: n,
        config: 1,
        state: 1,
        curr: 0x40 | 0x800,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 0,
        other_props: Vec::new(),
    }
}

impl SwitchServer {
    pub fn start(bridge: &str, ports: &[(u16, &str)]) -> SwitchServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(format!("{bridge}.mgmt"));
        let mut cfg = OfprotoConfig::new(bridge, 1);
        cfg.fail_secure = true;
        let mut of = Ofproto::new(cfg);
        of.set_port(internal_port(0xfffe, bridge));
        for (no, name) in ports {
            of.set_port(internal_port(*no, name));
        }
        let ofproto = Arc::new(Mutex::new(of));
        let listener = UnixListener::bind(&path).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let ofproto = ofproto.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut conns = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            let ofproto = ofproto.clone();
                            let stop = stop.clone();
                            conns.push(std::thread::spawn(move || serve(ofproto, s, stop)));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2))
                        }
                        Err(_) => break,
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            })
        };
        SwitchServer {
            ofproto,
            path,
            _dir: dir,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for SwitchServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// One connection: read what comes, hand it to the switch, write what it
/// queued; honour back-pressure (`wants_input`) and run timeouts.
fn serve(ofproto: Arc<Mutex<Ofproto>>, mut s: UnixStream, stop: Arc<AtomicBool>) {
    s.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    let id = ofproto
        .lock()
        .expect("lock")
        .connect(ConnKind::Service, Box::new(|| {}));
    let mut buf = vec![0u8; 65536];
    loop {
        let (out, closing, wants) = {
            let mut of = ofproto.lock().expect("lock");
            let now = of.now();
            of.run(now);
            // What vswitchd does for a port-mod: the netdev goes up or
            // down and the port's state follows (an internal port is LIVE
            // once up, LINK_DOWN when down).
            for (no, config) in of.take_port_mods() {
                if let Some(mut p) = of.port(no).cloned() {
                    p.state = if config & 1 == 0 { 4 } else { 1 };
                    of.set_port(p);
                }
            }
            (of.take_output(id), of.is_closing(id), of.wants_input(id))
        };
        if !out.is_empty() && s.write_all(&out).is_err() {
            break;
        }
        if closing || stop.load(Ordering::Relaxed) {
            break;
        }
        if !wants {
            continue;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => ofproto.lock().expect("lock").receive(id, &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    ofproto.lock().expect("lock").disconnect(id);
}

/// What one `ovs-ofctl` run printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `ovs-ofctl [opts] cmd SWITCH [args]`, stdin from `input`.
pub fn ofctl(
    switch: &Path,
    env_dir: &Path,
    opts: &[&str],
    cmd: &str,
    args: &[&str],
    input: Option<&str>,
) -> Run {
    let mut c = Command::new(tool("ovs-ofctl"));
    c.args(opts)
        .arg(cmd)
        .arg(format!("unix:{}", switch.display()))
        .args(args)
        .env("OVS_RUNDIR", env_dir)
        .env("OVS_LOGDIR", env_dir)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("ovs-ofctl runs");
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("ovs-ofctl output");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces the value after each `key=` (up to `,`, space or end) by `*`.
fn blank_values(line: &str, keys: &[&str]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    'outer: while !rest.is_empty() {
        for k in keys {
            if rest.starts_with(k) {
                // Keys without a separator (`duration0.096s`, `pkts0`)
                // need a digit right after them.
                let sep_ok = k.ends_with(['=', ':'])
                    || rest[k.len()..].starts_with(|c: char| c.is_ascii_digit());
                let prev_ok = sep_ok && (out.is_empty() || out.ends_with([' ', ',', '(']));
                if prev_ok {
                    out.push_str(k);
                    out.push('*');
                    let v = &rest[k.len()..];
                    let end = v.find([',', ' ', ')']).unwrap_or(v.len());
                    rest = &v[end..];
                    continue 'outer;
                }
            }
        }
        let ch = rest.chars().next().expect("non-empty");
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Normalises what may differ between two switches for the same state:
/// durations, counters (`n_packets`, `n_bytes`, ages), socket paths and
/// port MAC addresses.
pub fn normalize(text: &str, sock: &Path) -> String {
    let keys = [
        "duration=",
        "duration:",
        "duration",
        "n_packets=",
        "n_bytes=",
        "idle_age=",
        "hard_age=",
        "addr:",
        "packet_count=",
        "byte_count=",
        "pkts=",
        "bytes=",
        "drop=",
        "errs=",
        "frame=",
        "over=",
        "crc=",
        "coll=",
        "idle",
        "pkts",
        "bytes",
    ];
    text.replace(&sock.display().to_string(), "SOCK")
        .lines()
        .map(|l| blank_values(l, &keys))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sorts the lines after the first (a dump whose order is the switch's
/// classifier order, which OVS does not define).
pub fn sort_body(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > 2 {
        lines[1..].sort();
    }
    lines.join("\n")
}

/// The oracle and the switch under test, side by side, with the same
/// ports (LOCAL and internal ports `p1`..).
pub struct SideBySide {
    pub ovs: OvsVswitchd,
    pub fvs: SwitchServer,
    pub ovs_sock: PathBuf,
    /// Differences seen (command, oracle, ours).
    pub diffs: Vec<(String, String, String)>,
    /// What the oracle's monitors printed (tests check they saw events).
    pub monitor_outputs: Vec<String>,
}

impl SideBySide {
    pub fn start(n_ports: u16) -> SideBySide {
        let ovs = OvsVswitchd::start("br0").expect("OVS oracle starts");
        ovs.vsctl(&[
            "set",
            "bridge",
            "br0",
            "other_config:datapath-id=0000000000000001",
        ])
        .expect("datapath-id");
        let names: Vec<String> = (1..=n_ports).map(|i| format!("p{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            let req = format!("ofport_request={}", i + 1);
            ovs.vsctl(&[
                "add-port",
                "br0",
                name,
                "--",
                "set",
                "interface",
                name,
                "type=internal",
                &req,
            ])
            .expect("add-port");
        }
        // Until the oracle shows every port.
        let ovs_sock = ovs.mgmt_socket();
        for _ in 0..200 {
            let r = ofctl(&ovs_sock, ovs.dir(), &[], "show", &[], None);
            if names.iter().all(|n| r.stdout.contains(&format!("({n})")))
                && r.stdout.contains("dpid:0000000000000001")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let ports: Vec<(u16, &str)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u16 + 1, n.as_str()))
            .collect();
        let fvs = SwitchServer::start("br0", &ports);
        SideBySide {
            ovs,
            fvs,
            ovs_sock,
            diffs: Vec::new(),
            monitor_outputs: Vec::new(),
        }
    }

    /// Runs the command on both and records a difference; returns ours.
    pub fn run_input(
        &mut self,
        opts: &[&str],
        cmd: &str,
        args: &[&str],
        input: Option<&str>,
        sort: bool,
    ) -> Run {
        let a = ofctl(&self.ovs_sock, self.ovs.dir(), opts, cmd, args, input);
        let b = ofctl(&self.fvs.path, self.ovs.dir(), opts, cmd, args, input);
        let fix = |r: &Run, sock: &Path| {
            let out = normalize(&r.stdout, sock);
            let err = normalize(&r.stderr, sock);
            if sort {
                (r.ok, sort_body(&out), err)
            } else {
                (r.ok, out, err)
            }
        };
        let na = fix(&a, &self.ovs_sock);
        let nb = fix(&b, &self.fvs.path);
        if na != nb {
            let what = format!("ovs-ofctl {} {} {}", opts.join(" "), cmd, args.join(" "));
            self.diffs.push((
                what,
                format!("ok={} stdout:\n{}\nstderr:\n{}", na.0, na.1, na.2),
                format!("ok={} stdout:\n{}\nstderr:\n{}", nb.0, nb.1, nb.2),
            ));
        }
        b
    }

    pub fn run(&mut self, opts: &[&str], cmd: &str, args: &[&str]) -> Run {
        self.run_input(opts, cmd, args, None, false)
    }

    /// Like `run`, comparing the dump's lines in sorted order.
    pub fn run_sorted(&mut self, opts: &[&str], cmd: &str, args: &[&str]) -> Run {
        self.run_input(opts, cmd, args, None, true)
    }

    /// Runs `ovs-ofctl [opts] monitor SWITCH [args]` on both while
    /// `during` runs commands (on both), then stops the monitors and
    /// compares what they printed.
    pub fn monitor(&mut self, opts: &[&str], args: &[&str], during: impl FnOnce(&mut SideBySide)) {
        let spawn = |sock: &Path, dir: &Path| {
            // Unbuffered: the monitor is killed at the end, and what it
            // printed must not be lost in a stdio buffer.
            Command::new(tool("stdbuf"))
                .arg("-o0")
                .arg(tool("ovs-ofctl"))
                .args(opts)
                .arg("monitor")
                .arg(format!("unix:{}", sock.display()))
                .args(args)
                .env("OVS_RUNDIR", dir)
                .env("OVS_LOGDIR", dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("ovs-ofctl monitor runs")
        };
        let dir = self.ovs.dir().to_path_buf();
        let mut a = spawn(&self.ovs_sock, &dir);
        let mut b = spawn(&self.fvs.path, &dir);
        std::thread::sleep(Duration::from_millis(500));
        during(self);
        std::thread::sleep(Duration::from_millis(500));
        let stop = |c: &mut std::process::Child| {
            let _ = c.kill();
        };
        stop(&mut a);
        stop(&mut b);
        let out = |c: std::process::Child| {
            // ovs-ofctl prints what it receives on stdout or stderr
            // depending on the message; both are kept, minus the log line
            // of its own death.
            let o = c.wait_with_output().expect("monitor output");
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines()
                .filter(|l| !l.contains("|fatal_signal|"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (oa, ob) = (out(a), out(b));
        self.monitor_outputs.push(oa.clone());
        let na = normalize(&oa, &self.ovs_sock);
        let nb = normalize(&ob, &self.fvs.path);
        if na != nb {
            let what = format!("ovs-ofctl {} monitor {}", opts.join(" "), args.join(" "));
            self.diffs.push((what, na, nb));
        }
    }

    /// Formats the differences for a failure message.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for (what, a, b) in &self.diffs {
            s.push_str(&format!("=== {what}\n--- OVS:\n{a}\n--- ferrovs:\n{b}\n"));
        }
        s
    }
}
