//! One hypervisor's switch in a lab: an OVSDB server and a vswitchd,
//! either ferrovs's or Debian's OVS (userspace datapath), both driven by
//! the same Debian tools (`ovs-vsctl`, `ovs-ofctl`, `ovs-appctl`) through
//! the node's own directory, as an agent on that host would.
//!
//! The switch runs inside the node's namespace, so its system ports are
//! that namespace's links and its internal ports appear there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use super::{run, wait_path, Lab};

/// Which switch a lab runs.
#[derive(Clone, Debug)]
pub enum Backend {
    /// ferrovs's `ferrovs-ovsdb-server` and `ferrovs-vswitchd`, found in
    /// `bin_dir`.
    Ferrovs { bin_dir: PathBuf },
    /// Debian's `ovsdb-server` and `ovs-vswitchd` (OVS 3.1).
    Ovs,
}

impl Backend {
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Ferrovs { .. } => "ferrovs",
            Backend::Ovs => "OVS 3.1",
        }
    }
}

/// A node's switch: where its sockets live.
pub struct Switch {
    pub ns: String,
    pub dir: PathBuf,
    ctl: PathBuf,
    /// The vswitchd's process id (for its CPU time).
    pub pid: u32,
    /// The database server's process id.
    pub db_pid: u32,
}

impl Switch {
    /// Starts the database server (fresh database) and the switch in
    /// namespace `ns`, with sockets, database and logs in `dir`.
    pub fn start(lab: &mut Lab, backend: &Backend, ns: &str, dir: &Path) -> anyhow::Result<Switch> {
        std::fs::create_dir_all(dir)?;
        let db = dir.join("conf.db");
        let sock = dir.join("db.sock");
        let remote = format!("unix:{}", sock.display());
        let log = |name: &str| -> anyhow::Result<std::fs::File> {
            Ok(std::fs::File::create(dir.join(format!("{name}.out")))?)
        };
        let ip = crate::tool("ip");
        let (ctl, pid, db_pid) = match backend {
            Backend::Ferrovs { bin_dir } => {
                let out = log("ovsdb-server")?;
                let db_pid = lab.spawn(
                    Command::new(&ip)
                        .args(["netns", "exec", ns])
                        .arg(bin_dir.join("ferrovs-ovsdb-server"))
                        .arg(&db)
                        .arg(format!("--remote=punix:{}", sock.display()))
                        .arg(format!(
                            "--unixctl={}",
                            dir.join("ovsdb-server.ctl").display()
                        ))
                        .current_dir(dir)
                        .stdout(out.try_clone()?)
                        .stderr(out),
                )?;
                wait_path(&sock, Duration::from_secs(10))?;
                let sw = Switch {
                    ns: ns.into(),
                    dir: dir.into(),
                    ctl: dir.join("ferrovs-vswitchd.ctl"),
                    pid: 0,
                    db_pid,
                };
                sw.vsctl(&["--no-wait", "init"])?;
                let out = log("vswitchd")?;
                let pid = lab.spawn(
                    Command::new(&ip)
                        .args(["netns", "exec", ns])
                        .arg(bin_dir.join("ferrovs-vswitchd"))
                        .arg(&remote)
                        .arg(format!("--unixctl={}", sw.ctl.display()))
                        .arg(format!(
                            "--pidfile={}",
                            dir.join("ferrovs-vswitchd.pid").display()
                        ))
                        .arg(format!(
                            "--log-file={}",
                            dir.join("ferrovs-vswitchd.log").display()
                        ))
                        .env("FERROVS_RUNDIR", dir)
                        .current_dir(dir)
                        .stdout(out.try_clone()?)
                        .stderr(out),
                )?;
                (sw.ctl, pid, db_pid)
            }
            Backend::Ovs => {
                let schema = Path::new("/usr/share/openvswitch/vswitch.ovsschema");
                run(Command::new(crate::tool("ovsdb-tool"))
                    .arg("create")
                    .arg(&db)
                    .arg(schema))?;
                let daemon = |c: &mut Command, name: &str| {
                    c.arg(format!(
                        "--unixctl={}",
                        dir.join(format!("{name}.ctl")).display()
                    ))
                    .arg(format!(
                        "--log-file={}",
                        dir.join(format!("{name}.log")).display()
                    ))
                    .arg(format!(
                        "--pidfile={}",
                        dir.join(format!("{name}.pid")).display()
                    ))
                    .arg("-vconsole:off")
                    .envs(ovs_env(dir))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                };
                let mut c = Command::new(&ip);
                c.args(["netns", "exec", ns])
                    .arg(crate::tool("ovsdb-server"))
                    .arg(&db)
                    .arg(format!("--remote=punix:{}", sock.display()));
                daemon(&mut c, "ovsdb-server");
                let db_pid = lab.spawn(&mut c)?;
                wait_path(&sock, Duration::from_secs(10))?;
                let sw = Switch {
                    ns: ns.into(),
                    dir: dir.into(),
                    ctl: dir.join("ovs-vswitchd.ctl"),
                    pid: 0,
                    db_pid,
                };
                sw.vsctl(&["--no-wait", "init"])?;
                let mut c = Command::new(&ip);
                c.args(["netns", "exec", ns])
                    .arg(crate::tool("ovs-vswitchd"))
                    .arg(&remote);
                daemon(&mut c, "ovs-vswitchd");
                let pid = lab.spawn(&mut c)?;
                (sw.ctl, pid, db_pid)
            }
        };
        wait_path(&ctl, Duration::from_secs(20)).context("the switch did not start")?;
        Ok(Switch {
            ns: ns.into(),
            dir: dir.into(),
            ctl,
            pid,
            db_pid,
        })
    }

    /// `ovs-vsctl --timeout=20 ARGS` (waiting for the switch unless
    /// `--no-wait` is among ARGS).
    pub fn vsctl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new(crate::tool("ovs-vsctl"))
            .arg(format!("--db=unix:{}", self.dir.join("db.sock").display()))
            .arg("--timeout=20")
            .args(args)
            .envs(ovs_env(&self.dir)))
    }

    /// `ovs-ofctl -O OpenFlow13 CMD BRIDGE REST` (the bridge found by name
    /// through the node's run directory).
    pub fn ofctl(&self, cmd: &str, bridge: &str, rest: &[&str]) -> anyhow::Result<String> {
        run(Command::new(crate::tool("ovs-ofctl"))
            .args(["-O", "OpenFlow13", "--timeout=10", cmd, bridge])
            .args(rest)
            .envs(ovs_env(&self.dir)))
    }

    /// Replaces the flows of `bridge` by `flows` (one a line, ovs-ofctl
    /// syntax), as an agent's first sync does.
    pub fn replace_flows(&self, bridge: &str, flows: &[String]) -> anyhow::Result<()> {
        let file = self.dir.join(format!("{bridge}.flows"));
        std::fs::write(&file, flows.join("\n") + "\n")?;
        self.ofctl("del-flows", bridge, &[])?;
        self.ofctl("add-flows", bridge, &[&file.display().to_string()])?;
        Ok(())
    }

    /// `ovs-appctl -t <switch> ARGS`.
    pub fn appctl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new(crate::tool("ovs-appctl"))
            .arg("-t")
            .arg(&self.ctl)
            .arg("--timeout=10")
            .args(args)
            .envs(ovs_env(&self.dir)))
    }

    /// The switch's processes (vswitchd, database server) on node `node`,
    /// whose CPU the figures count.
    pub fn procs(&self, node: &str) -> Vec<super::figures::Proc> {
        use super::figures::Proc;
        vec![
            Proc {
                role: "vswitchd",
                node: node.into(),
                pid: self.pid,
            },
            Proc {
                role: "ovsdb-server",
                node: node.into(),
                pid: self.db_pid,
            },
        ]
    }

    /// The OpenFlow port number of interface `iface` (as the agent reads
    /// it from the database).
    pub fn ofport(&self, iface: &str) -> anyhow::Result<u32> {
        let s = self.vsctl(&["get", "Interface", iface, "ofport"])?;
        let n: i64 = s
            .trim()
            .parse()
            .with_context(|| format!("ofport of {iface}: {s}"))?;
        anyhow::ensure!(n > 0, "interface {iface} has ofport {n}");
        Ok(n as u32)
    }
}

/// User plus system ticks of a `/proc/.../stat` line.
pub fn stat_ticks(stat: &str) -> u64 {
    // Fields after the command name (which may hold spaces): state is
    // the first, utime the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    t(11) + t(12)
}

fn ovs_env(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"]
        .into_iter()
        .map(|k| (k, dir.to_path_buf()))
        .collect()
}
