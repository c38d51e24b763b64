//! The switches compared, and how each one is started on the topology.
//!
//! A [`Contender`] names a switch and its port type; [`Contender::start`]
//! returns a [`Running`] switch that owns its processes (registered with
//! the cleanup list) and its run directory, and takes the two switch-side
//! veth ends as ports 1 and 2 of bridge `br0` with the NORMAL action
//! (OVS's default standalone fail mode for ferrovs and OVS; learning for
//! the Linux bridge). Dropping it stops the switch and removes what it
//! made, leaving the topology ready for the next contender.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::cleanup::{self, Resource};
use super::topology::{run, set_offloads, Topology};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Contender {
    LinuxBridge,
    FerrovsAfPacket,
    FerrovsAfXdp,
    OvsAfPacket,
    OvsAfXdp,
    /// OVS AF_PACKET with `userspace-tso-enable` and default offloads
    /// instead of offloads off (opt-in: not in [`ALL`]).
    OvsAfPacketTso,
}

/// The contenders `--contenders` may name.
pub const KNOWN: [Contender; 6] = [
    Contender::LinuxBridge,
    Contender::FerrovsAfPacket,
    Contender::FerrovsAfXdp,
    Contender::OvsAfPacket,
    Contender::OvsAfXdp,
    Contender::OvsAfPacketTso,
];

/// The default set (issue 13's comparison).
pub const ALL: [Contender; 5] = [
    Contender::LinuxBridge,
    Contender::FerrovsAfPacket,
    Contender::FerrovsAfXdp,
    Contender::OvsAfPacket,
    Contender::OvsAfXdp,
];

impl Contender {
    pub fn name(self) -> &'static str {
        match self {
            Contender::LinuxBridge => "linux-bridge",
            Contender::FerrovsAfPacket => "ferrovs-afpacket",
            Contender::FerrovsAfXdp => "ferrovs-afxdp",
            Contender::OvsAfPacket => "ovs-afpacket",
            Contender::OvsAfXdp => "ovs-afxdp",
            Contender::OvsAfPacketTso => "ovs-afpacket-tso",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Contender> {
        KNOWN.into_iter().find(|c| c.name() == s).with_context(|| {
            let names: Vec<_> = KNOWN.iter().map(|c| c.name()).collect();
            format!("unknown contender {s:?} (known: {})", names.join(", "))
        })
    }

    /// Which family a ratio is computed against.
    pub fn is_ferrovs(self) -> bool {
        matches!(self, Contender::FerrovsAfPacket | Contender::FerrovsAfXdp)
    }
    pub fn is_ovs(self) -> bool {
        matches!(
            self,
            Contender::OvsAfPacket | Contender::OvsAfXdp | Contender::OvsAfPacketTso
        )
    }

    /// The configuration the figures were taken with, said in the output.
    pub fn config(self) -> &'static str {
        match self {
            Contender::LinuxBridge => "kernel bridge, default offloads",
            Contender::FerrovsAfPacket => "type=system (AF_PACKET), default offloads",
            Contender::FerrovsAfXdp => "type=afxdp, default offloads",
            Contender::OvsAfPacket => {
                "OVS 3.1 netdev datapath, type=system, host veth offloads off (ethtool -K tx/rx/tso/gso off)"
            }
            Contender::OvsAfXdp => {
                "OVS 3.1 netdev datapath, type=afxdp, host veth offloads off (ethtool -K tx/rx/tso/gso off)"
            }
            Contender::OvsAfPacketTso => {
                "OVS 3.1 netdev datapath, type=system, other_config:userspace-tso-enable=true, default offloads"
            }
        }
    }

    fn port_type(self) -> &'static str {
        match self {
            Contender::FerrovsAfXdp | Contender::OvsAfXdp => "afxdp",
            _ => "system",
        }
    }

    /// Starts the switch on `t`'s switch-side ends. `bin_dir` holds the
    /// ferrovs binaries.
    pub fn start(self, t: &Topology, bin_dir: &Path) -> anyhow::Result<Running> {
        let mut r = Running::empty();
        if self.port_type() == "afxdp" {
            r.xdp_ports = vec![(t.sw.clone(), t.p1.clone()), (t.sw.clone(), t.p2.clone())];
        }
        match self {
            Contender::LinuxBridge => {
                t.exec(&t.sw, &["ip", "link", "add", "br0", "type", "bridge"])?;
                r.bridge_ns = Some(t.sw.clone());
                for p in [&t.p1, &t.p2] {
                    t.exec(&t.sw, &["ip", "link", "set", p, "master", "br0"])?;
                }
                t.exec(&t.sw, &["ip", "link", "set", "br0", "up"])?;
            }
            Contender::FerrovsAfPacket | Contender::FerrovsAfXdp => {
                let dir = r.make_dir("ferrovs")?;
                r.start_ferrovs(&dir, &t.sw, bin_dir)?;
                self.add_ports(t, &dir)?;
            }
            Contender::OvsAfPacket | Contender::OvsAfXdp | Contender::OvsAfPacketTso => {
                if self != Contender::OvsAfPacketTso {
                    r.offloads_off = t.host_ends();
                    set_offloads(&r.offloads_off, false)?;
                }
                let dir = r.make_dir("ovs")?;
                r.start_ovs(&dir, &t.sw, self == Contender::OvsAfPacketTso)?;
                self.add_ports(t, &dir)?;
            }
        }
        Ok(r)
    }

    /// `ovs-vsctl add-br br0` (netdev datapath) with ports 1 and 2, waiting
    /// for the switch; fails with an interface's `error` column.
    fn add_ports(self, t: &Topology, dir: &Path) -> anyhow::Result<()> {
        let ty = format!("type={}", self.port_type());
        vsctl(
            dir,
            &[
                "add-br",
                "br0",
                "--",
                "set",
                "bridge",
                "br0",
                "datapath_type=netdev",
                "--",
                "add-port",
                "br0",
                &t.p1,
                "--",
                "set",
                "Interface",
                &t.p1,
                &ty,
                "ofport_request=1",
                "--",
                "add-port",
                "br0",
                &t.p2,
                "--",
                "set",
                "Interface",
                &t.p2,
                &ty,
                "ofport_request=2",
            ],
        )?;
        for p in [&t.p1, &t.p2] {
            let err = vsctl(dir, &["get", "Interface", p, "error"])?;
            let ofport = vsctl(dir, &["get", "Interface", p, "ofport"])?;
            if ofport.trim() == "-1" || err.trim() != "[]" {
                bail!(
                    "{} port {p}: ofport {}, error {}",
                    self.name(),
                    ofport.trim(),
                    err.trim()
                );
            }
        }
        Ok(())
    }
}

/// Adds the OVS daemons' common options: files in `dir`, no console log.
pub(super) fn ovs_daemon(mut cmd: Command, dir: &Path, name: &str) -> Command {
    let f = |ext: &str| dir.join(format!("{name}.{ext}")).display().to_string();
    cmd.arg(format!("--unixctl={}", f("ctl")))
        .arg(format!("--log-file={}", f("log")))
        .arg(format!("--pidfile={}", f("pid")))
        .arg("-vconsole:off");
    for k in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
        cmd.env(k, dir);
    }
    cmd
}

/// `ovs-vsctl --db=unix:DIR/db.sock --timeout=20 ARGS` (Debian's tool
/// serves both switches).
pub(super) fn vsctl(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    run(Command::new("ovs-vsctl")
        .arg(format!("--db=unix:{}", dir.join("db.sock").display()))
        .arg("--timeout=20")
        .args(args)
        .env("OVS_RUNDIR", dir))
}

/// Waits (20 s) for `path` to exist; fails with the tail of `log`.
pub(super) fn wait_for(path: &Path, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if path.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = tail.lines().rev().take(15).collect();
    bail!(
        "{} did not appear within 20 s; {}:\n{}",
        path.display(),
        log.display(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}

/// A started switch; dropping it stops it and removes its files.
pub struct Running {
    children: Vec<Child>,
    dir: Option<PathBuf>,
    /// The process whose CPU is the switch's (none for the kernel bridge).
    pub switch_pid: Option<u32>,
    pub(super) bridge_ns: Option<String>,
    /// Host ends whose offloads this switch turned off (restored on drop).
    pub(super) offloads_off: Vec<(String, String)>,
    /// Switch ends an AF_XDP switch attached XDP programs to: OVS attaches
    /// them without a BPF link, so they outlive a killed ovs-vswitchd
    /// (and keep the peers' TSO off); detached on drop.
    xdp_ports: Vec<(String, String)>,
}

impl Running {
    /// Nothing started yet (the `--vxlan` hypervisors fill it in).
    pub(super) fn empty() -> Running {
        Running {
            children: Vec::new(),
            dir: None,
            switch_pid: None,
            bridge_ns: None,
            offloads_off: Vec::new(),
            xdp_ports: Vec::new(),
        }
    }

    /// ferrovs's database server and its switch (in namespace `ns`), both
    /// from `bin_dir`, run in `dir`; waits for each to answer.
    pub(super) fn start_ferrovs(
        &mut self,
        dir: &Path,
        ns: &str,
        bin_dir: &Path,
    ) -> anyhow::Result<()> {
        let sock = dir.join("db.sock");
        self.spawn(
            Command::new(bin_dir.join("ferrovs-ovsdb-server"))
                .arg(dir.join("conf.db"))
                .arg(format!("--remote=punix:{}", sock.display()))
                .arg(format!("--unixctl={}", dir.join("ovsdb.ctl").display()))
                .current_dir(dir),
            &dir.join("ovsdb-server.log"),
        )?;
        wait_for(&sock, &dir.join("ovsdb-server.log"))?;
        vsctl(dir, &["--no-wait", "init"])?;
        let pid = self.spawn(
            Command::new("ip")
                .args(["netns", "exec", ns])
                .arg(bin_dir.join("ferrovs-vswitchd"))
                .arg(format!("unix:{}", sock.display()))
                .arg(format!("--unixctl={}", dir.join("vswitchd.ctl").display()))
                .arg(format!("--log-file={}", dir.join("vswitchd.log").display()))
                .env("FERROVS_RUNDIR", dir)
                .current_dir(dir),
            &dir.join("vswitchd.out"),
        )?;
        self.switch_pid = Some(pid);
        wait_for(&dir.join("vswitchd.ctl"), &dir.join("vswitchd.log"))
    }

    /// OVS 3.1's ovsdb-server and ovs-vswitchd (in namespace `ns`), run in
    /// `dir`, userspace TSO on with `tso`; waits for each to answer.
    pub(super) fn start_ovs(&mut self, dir: &Path, ns: &str, tso: bool) -> anyhow::Result<()> {
        let db = dir.join("conf.db");
        run(Command::new("ovsdb-tool")
            .arg("create")
            .arg(&db)
            .arg("/usr/share/openvswitch/vswitch.ovsschema"))?;
        let sock = dir.join("db.sock");
        self.spawn(
            ovs_daemon(Command::new("ovsdb-server"), dir, "ovsdb-server")
                .arg(&db)
                .arg(format!("--remote=punix:{}", sock.display())),
            &dir.join("ovsdb-server.out"),
        )?;
        wait_for(&sock, &dir.join("ovsdb-server.log"))?;
        vsctl(dir, &["--no-wait", "init"])?;
        if tso {
            // Read once when the switch starts: set before it.
            let tso = "other_config:userspace-tso-enable=true";
            vsctl(dir, &["--no-wait", "set", "Open_vSwitch", ".", tso])?;
        }
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "ovs-vswitchd"])
            .arg(format!("unix:{}", sock.display()));
        let pid = self.spawn(
            &mut ovs_daemon(cmd, dir, "ovs-vswitchd"),
            &dir.join("ovs-vswitchd.out"),
        )?;
        self.switch_pid = Some(pid);
        wait_for(&dir.join("ovs-vswitchd.ctl"), &dir.join("ovs-vswitchd.log"))
    }

    /// The switch's run directory (its unixctl socket and `br0.mgmt`).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The XDP modes the switch's log says its AF_XDP ports use (ferrovs:
    /// `mode="native"`; OVS: "native XDP mode will be in use").
    pub fn xdp_modes(&self) -> Vec<String> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let mut modes = Vec::new();
        for log in ["vswitchd.log", "ovs-vswitchd.log"] {
            let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
            for l in text.lines() {
                let m = if let Some((_, r)) = l.split_once("AF_XDP port open") {
                    r.split_once("mode=\"")
                        .and_then(|(_, m)| m.split('"').next())
                        .map(str::to_string)
                } else {
                    l.split_once(" XDP mode will be in use")
                        .and_then(|(m, _)| m.rsplit(' ').next())
                        .map(str::to_string)
                };
                if let Some(m) = m {
                    if !modes.contains(&m) {
                        modes.push(m);
                    }
                }
            }
        }
        modes
    }

    /// Copies the daemons' logs into `dest` (kept with the results).
    pub fn keep_logs(&self, dest: &Path) -> anyhow::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dest)?;
        for e in std::fs::read_dir(dir)?.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "log" || x == "out") {
                std::fs::copy(&p, dest.join(e.file_name()))?;
            }
        }
        Ok(())
    }

    pub(super) fn make_dir(&mut self, tag: &str) -> anyhow::Result<PathBuf> {
        let d = std::env::temp_dir().join(format!("{}-{tag}", super::topology::prefix()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d)?;
        cleanup::register(Resource::Dir(d.clone()));
        self.dir = Some(d.clone());
        Ok(d)
    }

    /// Spawns a daemon with stdout/stderr into `out`; returns its pid.
    pub(super) fn spawn(&mut self, cmd: &mut Command, out: &Path) -> anyhow::Result<u32> {
        let f = std::fs::File::create(out)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()
            .with_context(|| format!("spawn {cmd:?}"))?;
        let pid = child.id();
        cleanup::register(Resource::Process(pid as i32));
        self.children.push(child);
        Ok(pid)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The switch first (it holds the ports), then the database.
        for c in self.children.iter_mut().rev() {
            let r = Resource::Process(c.id() as i32);
            let _ = c.kill();
            let _ = c.wait();
            cleanup::unregister(&r);
        }
        if let Some(ns) = &self.bridge_ns {
            let _ = Command::new("ip")
                .args(["-n", ns, "link", "del", "br0"])
                .stderr(Stdio::null())
                .status();
        }
        for (ns, dev) in &self.xdp_ports {
            for mode in ["xdp", "xdpgeneric"] {
                let _ = Command::new("ip")
                    .args(["-n", ns, "link", "set", "dev", dev, mode, "off"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if !self.offloads_off.is_empty() {
            let _ = set_offloads(&self.offloads_off, true);
        }
        if let Some(d) = self.dir.take() {
            let r = Resource::Dir(d);
            cleanup::undo(&r);
            cleanup::unregister(&r);
        }
    }
}
