//! A guard that runs Debian's real `ovsdb-server` and `ovs-vswitchd` as an
//! oracle for tests.
//!
//! Everything lives in a fresh temporary directory (database file, unix
//! sockets, logs, pid files) and the switch runs inside its own network
//! namespace, so the tap devices a `datapath_type=netdev` bridge creates
//! (`ovs-netdev` and the bridge's internal port) never collide with other
//! tests or the host. Only unix sockets are used, nothing listens on TCP.
//! On drop both daemons are killed and reaped, the namespace is deleted and
//! the directory removed, also when the test failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{tool, unique_suffix, Child, Netns};

/// A running OVS 3.1 (`ovsdb-server` + `ovs-vswitchd`) with one userspace
/// (`netdev`) bridge.
pub struct OvsVswitchd {
    // Field order is drop order: the switch dies before the database, then
    // the namespace goes, then the directory is removed (in `Drop`).
    vswitchd: Option<Child>,
    ovsdb: Option<Child>,
    netns: Option<Netns>,
    dir: PathBuf,
    bridge: String,
    /// More `ovs-vswitchd` arguments (`--enable-dummy`).
    extra_args: Vec<String>,
}

impl OvsVswitchd {
    /// Starts the daemons and creates bridge `bridge` with
    /// `datapath_type=netdev`. Fails (with the daemons' log tail) when the
    /// bridge's management socket does not appear.
    pub fn start(bridge: &str) -> anyhow::Result<OvsVswitchd> {
        Self::start_with_args(bridge, &[])
    }

    /// Like [`Self::start`] with `--enable-dummy`, so that interfaces of
    /// type `dummy` exist (fed with `netdev-dummy/receive`), as ferrovs's.
    pub fn start_dummy(bridge: &str) -> anyhow::Result<OvsVswitchd> {
        Self::start_with_args(bridge, &["--enable-dummy"])
    }

    /// Like [`Self::start`], with more `ovs-vswitchd` arguments.
    pub fn start_with_args(bridge: &str, extra: &[&str]) -> anyhow::Result<OvsVswitchd> {
        let dir = std::env::temp_dir().join(format!("fvs-ovs-{}", unique_suffix()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let mut ovs = OvsVswitchd {
            vswitchd: None,
            ovsdb: None,
            netns: None,
            dir,
            bridge: bridge.to_string(),
            extra_args: extra.iter().map(|a| a.to_string()).collect(),
        };
        ovs.boot()?;
        Ok(ovs)
    }

    fn boot(&mut self) -> anyhow::Result<()> {
        let d = self.dir.clone();
        let schema = ["/usr/share/openvswitch/vswitch.ovsschema"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                anyhow::anyhow!("vswitch.ovsschema not found: install openvswitch-common")
            })?;
        let db = d.join("conf.db");
        run(Command::new(tool("ovsdb-tool"))
            .arg("create")
            .arg(&db)
            .arg(&schema))?;

        let db_sock = d.join("db.sock");
        let mut ovsdb = Command::new(tool("ovsdb-server"));
        ovsdb
            .arg(&db)
            .arg(format!("--remote=punix:{}", db_sock.display()))
            .arg("--remote=db:Open_vSwitch,Open_vSwitch,manager_options");
        let ovsdb = self.daemon(&mut ovsdb, "ovsdb-server").spawn()?;
        self.ovsdb = Some(Child(ovsdb));
        self.wait_for(&db_sock, "ovsdb-server.log")?;
        self.vsctl(&["--no-wait", "init"])?;

        let ns = Netns::new("ovs")?;
        let mut vswitchd = Command::new(tool("ip"));
        vswitchd
            .args(["netns", "exec", ns.name()])
            .arg(tool("ovs-vswitchd"))
            .arg(format!("unix:{}", db_sock.display()))
            .args(&self.extra_args);
        let vswitchd = self.daemon(&mut vswitchd, "ovs-vswitchd").spawn()?;
        self.netns = Some(ns);
        self.vswitchd = Some(Child(vswitchd));
        self.wait_for(&d.join("ovs-vswitchd.ctl"), "ovs-vswitchd.log")?;

        let br = self.bridge.clone();
        self.vsctl(&[
            "add-br",
            &br,
            "--",
            "set",
            "bridge",
            &br,
            "datapath_type=netdev",
            "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15",
            "fail_mode=secure",
        ])?;
        let mgmt = self.mgmt_socket();
        self.wait_for(&mgmt, "ovs-vswitchd.log")?;
        Ok(())
    }

    /// Adds what both daemons take: control socket, log and pid file named
    /// after `name` in the directory, no console log, OVS's run/db/log
    /// directories pointed at the directory, no stdio.
    fn daemon<'c>(&self, cmd: &'c mut Command, name: &str) -> &'c mut Command {
        let file = |ext: &str| self.dir.join(format!("{name}.{ext}")).display().to_string();
        cmd.arg(format!("--unixctl={}", file("ctl")))
            .arg(format!("--log-file={}", file("log")))
            .arg(format!("--pidfile={}", file("pid")))
            .arg("-vconsole:off")
            .envs(self.ovs_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
    }

    fn ovs_env(&self) -> Vec<(&'static str, PathBuf)> {
        ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"]
            .into_iter()
            .map(|k| (k, self.dir.clone()))
            .collect()
    }

    fn wait_for(&self, path: &Path, log: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if path.exists() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let tail = std::fs::read_to_string(self.dir.join(log)).unwrap_or_default();
        anyhow::bail!(
            "{} did not appear within 20 s; {log}:\n{}",
            path.display(),
            tail.lines().rev().take(20).collect::<Vec<_>>().join("\n")
        )
    }

    /// Adds another `datapath_type=netdev` bridge and waits for its
    /// management socket; returns that socket's path.
    pub fn add_bridge(&self, br: &str) -> anyhow::Result<PathBuf> {
        self.vsctl(&[
            "add-br",
            br,
            "--",
            "set",
            "bridge",
            br,
            "datapath_type=netdev",
            "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15",
            "fail_mode=secure",
        ])?;
        let mgmt = self.dir.join(format!("{br}.mgmt"));
        self.wait_for(&mgmt, "ovs-vswitchd.log")?;
        Ok(mgmt)
    }

    /// Runs `ovs-ofctl [opts] CMD <switch> [rest]` against any socket.
    pub fn ofctl_on(
        &self,
        switch: &Path,
        opts: &[&str],
        cmd: &str,
        rest: &[&str],
    ) -> anyhow::Result<String> {
        run(Command::new(tool("ovs-ofctl"))
            .args(opts)
            .arg(cmd)
            .arg(switch)
            .args(rest)
            .envs(self.ovs_env()))
    }

    /// The temporary directory holding sockets, database and logs.
    /// The ovs-vswitchd process id.
    pub fn pid(&self) -> Option<u32> {
        self.vswitchd.as_ref().map(|c| c.0.id())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The network namespace ovs-vswitchd runs in (a controller listening
    /// on its loopback is reachable by `tcp:127.0.0.1:PORT`).
    pub fn netns(&self) -> &Netns {
        self.netns
            .as_ref()
            .expect("ovs-vswitchd runs in its namespace")
    }

    /// The bridge name.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// `unix:` path of the database socket (for `ovs-vsctl --db=`).
    pub fn db_remote(&self) -> String {
        format!("unix:{}", self.dir.join("db.sock").display())
    }

    /// The bridge's OpenFlow management socket, the SWITCH argument of
    /// `ovs-ofctl`.
    pub fn mgmt_socket(&self) -> PathBuf {
        self.dir.join(format!("{}.mgmt", self.bridge))
    }

    /// Runs `ovs-vsctl` against this database and returns its stdout.
    pub fn vsctl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new(tool("ovs-vsctl"))
            .arg(format!("--db={}", self.db_remote()))
            .arg("--timeout=20")
            .args(args)
            .envs(self.ovs_env()))
    }

    /// Runs `ovs-appctl -t <ovs-vswitchd.ctl> ARGS` and returns its stdout.
    pub fn appctl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new(tool("ovs-appctl"))
            .arg("-t")
            .arg(self.dir.join("ovs-vswitchd.ctl"))
            .args(args)
            .envs(self.ovs_env()))
    }

    /// Runs `ovs-ofctl [opts] CMD <bridge mgmt socket> [rest]` and returns
    /// its stdout; fails with its stderr.
    pub fn ofctl(&self, opts: &[&str], cmd: &str, rest: &[&str]) -> anyhow::Result<String> {
        run(Command::new(tool("ovs-ofctl"))
            .args(opts)
            .arg(cmd)
            .arg(self.mgmt_socket())
            .args(rest)
            .envs(self.ovs_env()))
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        anyhow::bail!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Drop for OvsVswitchd {
    fn drop(&mut self) {
        // SIGKILL + reap each daemon (Child's Drop), switch first.
        self.vswitchd.take();
        self.ovsdb.take();
        self.netns.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process_alive(pid: &str) -> bool {
        Path::new("/proc").join(pid.trim()).exists()
    }

    #[test]
    fn starts_a_bridge_and_cleans_up_on_drop() {
        let (dir, pids) = {
            let ovs = OvsVswitchd::start("fvsguard").expect("start");
            let out = ovs
                .ofctl(&["-O", "OpenFlow13"], "show", &[])
                .expect("ofctl show");
            assert!(out.contains("OFPT_FEATURES_REPLY"), "{out}");
            let second = ovs.add_bridge("fvsguard2").expect("second bridge");
            ovs.ofctl_on(&second, &[], "add-flow", &["priority=7,actions=drop"])
                .expect("add-flow");
            let dump = ovs
                .ofctl_on(&second, &["--no-stats"], "dump-flows", &[])
                .expect("dump");
            assert!(dump.contains("priority=7 actions=drop"), "{dump}");
            let pids: Vec<String> = ["ovs-vswitchd.pid", "ovsdb-server.pid"]
                .iter()
                .map(|p| std::fs::read_to_string(ovs.dir().join(p)).expect("pid file"))
                .collect();
            assert!(pids.iter().all(|p| process_alive(p)));
            (ovs.dir().to_path_buf(), pids)
        };
        assert!(!dir.exists(), "{} left behind", dir.display());
        for p in &pids {
            assert!(!process_alive(p), "daemon {p} still running");
        }
    }
}
