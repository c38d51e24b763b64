//! A guard that runs `ferrovs-ovsdb-server` and `ferrovs-vswitchd` together,
//! as a switch under test, in one temporary directory.
//!
//! The directory is the switch's run directory (`FERROVS_RUNDIR`): bridge
//! management sockets `<bridge>.mgmt`, the unixctl socket
//! `ferrovs-vswitchd.ctl`, the pid file and the log live there, beside the
//! database server's files (owned by its own [`OvsdbServer`] guard, so the
//! database can be restarted under a running switch). Debian's tools
//! (`ovs-vsctl` without `--no-wait`, `ovs-appctl`, `ovs-ofctl`) are run
//! against it with `OVS_RUNDIR` pointing at the directory. On drop the
//! switch is killed (if a test did not stop it) and then the server.
//!
//! The switch runs inside a network namespace of its own (as the OVS oracle
//! does), so the tap devices of internal ports and bridges' LOCAL ports
//! never collide with other tests or the host; a test gives it system
//! ports by moving veth ends into [`FerrovsVswitchd::netns`]. The
//! namespace is deleted after the switch is gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::ovsdb_server::OvsdbServer;
use crate::{ferrovs_bin, tool, Netns};

pub struct FerrovsVswitchd {
    // Field order is drop order: the switch goes before its database and
    // its namespace.
    switch: Option<std::process::Child>,
    db: OvsdbServer,
    netns: Netns,
}

impl FerrovsVswitchd {
    /// Starts the server on a fresh database, initializes it, starts the
    /// switch and waits for its unixctl socket.
    pub fn start() -> anyhow::Result<FerrovsVswitchd> {
        let db = OvsdbServer::ferrovs()?;
        let out = db.vsctl(&["init"]);
        if !out.status.success() {
            bail!("ovs-vsctl init: {}", String::from_utf8_lossy(&out.stderr));
        }
        let netns = Netns::new("fvs")?;
        let mut s = FerrovsVswitchd {
            switch: None,
            db,
            netns,
        };
        s.start_switch()?;
        Ok(s)
    }

    /// [`Self::start`], then adds bridge `bridge` on the netdev datapath
    /// with the further `Bridge` settings `settings` (such as
    /// `fail_mode=secure`): the usual bridge of a test that compares with
    /// OVS's dummy datapath.
    pub fn start_netdev(bridge: &str, settings: &[&str]) -> FerrovsVswitchd {
        let fv = FerrovsVswitchd::start().unwrap();
        let mut args = vec![
            "add-br",
            bridge,
            "--",
            "set",
            "bridge",
            bridge,
            "datapath_type=netdev",
        ];
        args.extend_from_slice(settings);
        fv.vsctl_ok(&args);
        fv
    }

    /// (Re)starts the switch process (after [`Self::sigterm`]).
    pub fn start_switch(&mut self) -> anyhow::Result<()> {
        let d = self.dir().to_path_buf();
        let _ = std::fs::remove_file(self.ctl_path());
        // `ip netns exec` executes the switch in place: the child's pid is
        // the switch's.
        let child = Command::new(tool("ip"))
            .args(["netns", "exec", self.netns.name()])
            .arg(ferrovs_bin("ferrovs-vswitchd"))
            .arg(self.db.remote())
            .arg(format!("--unixctl={}", self.ctl_path().display()))
            .arg(format!("--pidfile={}", self.pidfile().display()))
            .arg(format!("--log-file={}", self.log_path().display()))
            .env("FERROVS_RUNDIR", &d)
            .current_dir(&d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn ferrovs-vswitchd")?;
        self.switch = Some(child);
        self.wait_for(&self.ctl_path())
    }

    /// Waits until `path` exists (20 s), failing with the switch's log.
    pub fn wait_for(&self, path: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if path.exists() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "{} did not appear within 20 s; log:\n{}",
            path.display(),
            self.log()
        )
    }

    pub fn dir(&self) -> &Path {
        self.db.dir()
    }
    /// The network namespace the switch runs in.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }
    pub fn ctl_path(&self) -> PathBuf {
        self.dir().join("ferrovs-vswitchd.ctl")
    }
    pub fn pidfile(&self) -> PathBuf {
        self.dir().join("ferrovs-vswitchd.pid")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("ferrovs-vswitchd.log")
    }
    /// A bridge's management socket, the SWITCH argument of `ovs-ofctl`.
    pub fn mgmt_socket(&self, bridge: &str) -> PathBuf {
        self.dir().join(format!("{bridge}.mgmt"))
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    pub fn pid(&self) -> Option<u32> {
        self.switch.as_ref().map(|c| c.id())
    }

    /// `unix:` path of the database socket (for `--db=`).
    pub fn db_remote(&self) -> String {
        self.db.remote()
    }

    /// The database server (to restart or stop it).
    pub fn db(&mut self) -> &mut OvsdbServer {
        &mut self.db
    }

    fn ovs_env(&self) -> [(&'static str, &Path); 2] {
        [("OVS_RUNDIR", self.dir()), ("OVS_LOGDIR", self.dir())]
    }

    /// Runs `ovs-vsctl --timeout=20 ARGS` (waiting for the switch, no
    /// `--no-wait`).
    pub fn vsctl(&self, args: &[&str]) -> Output {
        Command::new(tool("ovs-vsctl"))
            .arg(format!("--db={}", self.db.remote()))
            .arg("--timeout=20")
            .args(args)
            .envs(self.ovs_env())
            .stdin(Stdio::null())
            .output()
            .expect("run ovs-vsctl")
    }

    /// Like [`Self::vsctl`] but it must succeed; returns stdout.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        let out = self.vsctl(args);
        assert!(
            out.status.success(),
            "ovs-vsctl {}: {}\nswitch log:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `ovs-appctl -t CTL --timeout=10 ARGS`.
    pub fn appctl(&self, args: &[&str]) -> Output {
        Command::new(tool("ovs-appctl"))
            .arg("-t")
            .arg(self.ctl_path())
            .arg("--timeout=10")
            .args(args)
            .envs(self.ovs_env())
            .stdin(Stdio::null())
            .output()
            .expect("run ovs-appctl")
    }

    /// Like [`Self::appctl`] but it must succeed; returns stdout.
    pub fn appctl_ok(&self, args: &[&str]) -> String {
        let out = self.appctl(args);
        assert!(
            out.status.success(),
            "ovs-appctl {}: {}\nlog:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `ovs-ofctl [opts] CMD SWITCH [rest]` where SWITCH is the bare
    /// bridge name (found through `OVS_RUNDIR`, as an operator types it).
    pub fn ofctl(&self, opts: &[&str], cmd: &str, bridge: &str, rest: &[&str]) -> Output {
        Command::new(tool("ovs-ofctl"))
            .args(opts)
            .arg("--timeout=10")
            .arg(cmd)
            .arg(bridge)
            .args(rest)
            .envs(self.ovs_env())
            .stdin(Stdio::null())
            .output()
            .expect("run ovs-ofctl")
    }

    /// Like [`Self::ofctl`] but it must succeed; returns stdout.
    pub fn ofctl_ok(&self, opts: &[&str], cmd: &str, bridge: &str, rest: &[&str]) -> String {
        let out = self.ofctl(opts, cmd, bridge, rest);
        assert!(
            out.status.success(),
            "ovs-ofctl {cmd} {rest:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends SIGTERM and waits (10 s) for the switch to exit; returns its
    /// exit status.
    pub fn sigterm(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let Some(mut c) = self.switch.take() else {
            bail!("switch not running");
        };
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = c.try_wait()? {
                return Ok(st);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                bail!(
                    "ferrovs-vswitchd ignored SIGTERM for 10 s; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (10 s) for the switch to exit by itself (`ovs-appctl exit`).
    pub fn wait_exit(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let Some(c) = self.switch.as_mut() else {
            bail!("switch not running");
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = c.try_wait()? {
                self.switch = None;
                return Ok(st);
            }
            if Instant::now() > deadline {
                bail!("ferrovs-vswitchd still running after 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls `f` every 50 ms until it returns true or `timeout` passes.
    pub fn wait_until(&self, timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if f() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FerrovsVswitchd {
    fn drop(&mut self) {
        if let Some(mut c) = self.switch.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
