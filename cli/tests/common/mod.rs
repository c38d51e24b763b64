//! A running `ferrovs up` for tests: started in an empty temporary
//! directory (run directory `DIR/run`, database `DIR/db/conf.db`, both
//! created by `up`), inside a network namespace of its own so that the
//! devices of internal ports never meet the host's. Helpers run
//! `ferrovs vsctl/ofctl/appctl` and Debian's `ovs-vsctl`, `ovs-ofctl`,
//! `ovs-appctl` against it (`FERROVS_RUNDIR` / `OVS_RUNDIR`). On drop the
//! supervisor is stopped with SIGTERM (SIGKILL and its children's pids
//! after 15 s), then the namespace is deleted.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use ferrovs_tests::{tool, Netns};

pub fn ferrovs() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrovs"))
}

pub struct Up {
    pub child: Option<std::process::Child>,
    pub banner: Vec<String>,
    lines: Option<Receiver<String>>,
    /// Extra `ferrovs up` options.
    extra: Vec<String>,
    pub dir: tempfile::TempDir,
    pub netns: Netns,
}

impl Up {
    pub fn start() -> Up {
        Up::start_with(&[])
    }

    /// Starts `ferrovs up` with extra options (`--dummy-ports`).
    pub fn start_with(extra: &[&str]) -> Up {
        let mut u = Up::prepare(extra);
        u.launch();
        u
    }

    /// The directory and namespace, `up` not started yet (`launch` does).
    pub fn prepare(extra: &[&str]) -> Up {
        Up {
            child: None,
            banner: Vec::new(),
            lines: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            dir: tempfile::tempdir().unwrap(),
            netns: Netns::new("up").unwrap(),
        }
    }

    /// Starts `ferrovs up` (again) and waits for its banner.
    pub fn launch(&mut self) {
        let mut cmd = Command::new(tool("ip"));
        cmd.args(["netns", "exec", self.netns.name()])
            .arg(ferrovs())
            .arg("up")
            .arg("--rundir")
            .arg(self.rundir())
            .arg("--db")
            .arg(self.db())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(self.log_path())
                    .unwrap(),
            );
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.child = Some(child);
        self.banner.clear();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let done = l.contains("Ctrl-C or SIGTERM");
                    self.banner.push(l);
                    if done {
                        break;
                    }
                }
                Err(e) => panic!(
                    "no banner from ferrovs up ({e}):\n{}\n{}",
                    self.banner.join("\n"),
                    self.log()
                ),
            }
        }
        self.lines = Some(rx);
    }

    pub fn rundir(&self) -> PathBuf {
        self.dir.path().join("run")
    }
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("db/conf.db")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("up.log")
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The pid in `RUNDIR/NAME.pid`.
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        std::fs::read_to_string(self.rundir().join(format!("{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn env(&self, c: &mut Command) {
        c.env("FERROVS_RUNDIR", self.rundir())
            .env("OVS_RUNDIR", self.rundir())
            .env_remove("FERROVS_DB");
    }

    /// `ferrovs ARGS...` with the run directory found through the environment.
    pub fn ferrovs(&self, args: &[&str]) -> Output {
        let mut c = Command::new(ferrovs());
        self.env(&mut c);
        c.args(args).output().unwrap()
    }

    /// Debian's OVS tool `name` (`ovs-vsctl`...) with OVS_RUNDIR set.
    pub fn ovs(&self, name: &str, args: &[&str]) -> Output {
        let mut c = Command::new(tool(name));
        self.env(&mut c);
        c.args(args).output().unwrap()
    }

    pub fn ok(&self, out: Output, what: &str) -> String {
        assert!(
            out.status.success(),
            "{what}: exit {:?}\nstdout: {}\nstderr: {}\nlog:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn ferrovs_ok(&self, args: &[&str]) -> String {
        self.ok(self.ferrovs(args), &format!("ferrovs {args:?}"))
    }
    pub fn ovs_ok(&self, name: &str, args: &[&str]) -> String {
        self.ok(self.ovs(name, args), &format!("{name} {args:?}"))
    }

    /// Sends SIGTERM to the supervisor and waits for it (20 s).
    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "ferrovs up did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lines `up` printed after its banner.
    pub fn more_lines(&self) -> Vec<String> {
        self.lines
            .as_ref()
            .map(|r| r.try_iter().collect())
            .unwrap_or_default()
    }

    pub fn wait_until(&self, timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        f()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let kids: Vec<i32> = ["ovs-vswitchd", "ovsdb-server"]
            .iter()
            .filter_map(|n| self.pid_of(n))
            .collect();
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for k in kids {
            // Only if the process is still one of ours (a serve child).
            let cmdline = std::fs::read_to_string(format!("/proc/{k}/cmdline")).unwrap_or_default();
            if cmdline.contains("serve-") {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(k),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}
