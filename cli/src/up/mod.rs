//! `ferrovs up`: the OVSDB server and the switch, supervised.
//!
//! One supervisor process with two children (the same executable, hidden
//! subcommands `serve-db` and `serve-switch`), not one process: the server
//! owns its signals through a signalfd and runs one epoll loop on a thread
//! of its own, the switch owns a tokio runtime and PMD threads, and as
//! separate processes one can be killed, crash or be restarted while the
//! other goes on: the switch keeps forwarding with its last configuration
//! while the server is away, and a restarted switch rebuilds everything
//! from the database. The supervisor restarts a child that dies without
//! being asked to (as OVS's `--monitor`), and gives up if one dies five
//! times within ten seconds.
//!
//! Stop: SIGTERM, SIGINT (Ctrl-C) or SIGHUP stop the switch first (its
//! sockets removed, PMDs joined), then the server, whose loop only answers
//! a transaction after writing it to the log and flushes the log on exit:
//! nothing acknowledged is lost. The children are in their own process
//! group, so a terminal's Ctrl-C reaches only the supervisor, which stops
//! them in that order. They die with it too (SIGTERM on the supervisor's
//! death, even by SIGKILL), and a new `up` stops any child an earlier
//! supervisor left behind (`orphans`).

pub mod child;
mod orphans;
mod pidfile;

pub use orphans::die_with_supervisor;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{SigSet, Signal};
use serde_json::json;

use crate::jsonrpc::Client;
use crate::rundir;

#[derive(clap::Args)]
pub struct UpArgs {
    /// Run directory: sockets and pid files [default: FERROVS_RUNDIR, OVS_RUNDIR, /var/run/ferrovs]
    #[arg(long)]
    rundir: Option<PathBuf>,
    /// Database file, created when missing [default: FERROVS_DB, /var/lib/ferrovs/conf.db]
    #[arg(long)]
    db: Option<PathBuf>,
    /// Run every port as an in-memory device (OVS's --enable-dummy=override):
    /// nothing is created on the host.
    #[arg(long)]
    dummy_ports: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Db,
    Switch,
}

struct Supervised {
    role: Role,
    child: Option<Child>,
    /// Start times of the recent restarts.
    deaths: Vec<Instant>,
}

struct Up {
    exe: PathBuf,
    dir: PathBuf,
    db: PathBuf,
    dummy_ports: bool,
}

impl Up {
    fn spawn(&self, role: Role) -> anyhow::Result<Child> {
        let mut c = Command::new(&self.exe);
        match role {
            Role::Db => {
                c.arg("serve-db")
                    .arg("--rundir")
                    .arg(&self.dir)
                    .arg("--db")
                    .arg(&self.db);
            }
            Role::Switch => {
                c.arg("serve-switch").arg("--rundir").arg(&self.dir);
                if self.dummy_ports {
                    c.arg("--dummy-ports");
                }
            }
        }
        c.process_group(0)
            .env(orphans::SUPERVISOR_ENV, std::process::id().to_string());
        let child = c
            .spawn()
            .with_context(|| format!("starting the {role:?} child"))?;
        Ok(child)
    }

    /// Starts `role` and waits until it serves.
    fn start(&self, role: Role) -> anyhow::Result<Child> {
        let mut child = self.spawn(role)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = child.try_wait()? {
                bail!("the {role:?} child exited during startup: {st}");
            }
            let ready = match role {
                Role::Db => Client::connect(&rundir::db_sock(&self.dir)).is_ok(),
                Role::Switch => rundir::ctl_socket(&self.dir, "ovs-vswitchd")
                    .ok()
                    .filter(|_| pid_file(&self.dir, "ovs-vswitchd") == Some(child.id()))
                    .is_some_and(|p| p.exists()),
            };
            if ready {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the {role:?} child did not become ready in 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn pid_file(dir: &Path, name: &str) -> Option<u32> {
    std::fs::read_to_string(dir.join(format!("{name}.pid")))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Inserts the `Open_vSwitch` row when the table is empty (as `ovs-vsctl init`).
fn init_db(dir: &Path) -> anyhow::Result<bool> {
    let mut c = Client::connect(&rundir::db_sock(dir))?;
    let r = c.call(
        "transact",
        json!(["Open_vSwitch", {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["_uuid"]}]),
    )?;
    let rows = r["result"][0]["rows"]
        .as_array()
        .context("unexpected select reply")?;
    if !rows.is_empty() {
        return Ok(false);
    }
    let r = c.call(
        "transact",
        json!(["Open_vSwitch",
            {"op": "wait", "table": "Open_vSwitch", "where": [], "columns": ["_uuid"], "until": "==", "rows": [], "timeout": 0},
            {"op": "insert", "table": "Open_vSwitch", "row": {}}]),
    )?;
    if r["result"][1].get("uuid").is_none() {
        bail!("initialising the Open_vSwitch row: {}", r);
    }
    Ok(true)
}

/// Stops `child` with SIGTERM, then SIGKILL after `grace`.
fn stop(child: &mut Child, grace: Duration) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!("child {} did not stop in {grace:?}: killing it", child.id());
    let _ = child.kill();
    let _ = child.wait();
}

fn banner(u: &Up, created: bool) {
    let d = u.dir.display();
    println!(
        "ferrovs up: database {}{}, run directory {d}",
        u.db.display(),
        if created { " (created)" } else { "" }
    );
    println!("  OVSDB:     unix:{d}/db.sock");
    println!("  switch:    {d}/ovs-vswitchd.<pid>.ctl (unixctl), {d}/<bridge>.mgmt (OpenFlow)");
    println!("  ferrovs vsctl/ofctl/appctl find it with: export FERROVS_RUNDIR={d}");
    println!("  OVS's tools (ovs-vsctl, ovs-ofctl, ovs-appctl) with: export OVS_RUNDIR={d}");
    println!("    or: ovs-vsctl --db=unix:{d}/db.sock ...; ovs-ofctl dump-flows unix:{d}/br0.mgmt");
    println!("  Ctrl-C or SIGTERM stops both.");
}

pub fn run(a: UpArgs) -> anyhow::Result<i32> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROVS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let u = Up {
        exe: std::env::current_exe().context("finding the ferrovs executable")?,
        dir: rundir::rundir(a.rundir.as_deref()),
        db: rundir::db_file(a.db.as_deref()),
        dummy_ports: a.dummy_ports,
    };
    std::fs::create_dir_all(&u.dir)
        .with_context(|| format!("creating run directory {}", u.dir.display()))?;
    let stopped = orphans::recover(&u.dir);
    if !stopped.is_empty() {
        tracing::info!("stopped children of an earlier supervisor: {stopped:?}");
    }
    if Client::connect(&rundir::db_sock(&u.dir)).is_ok() {
        bail!(
            "a database server already answers on {}: ferrovs is already running there",
            rundir::db_sock(&u.dir).display()
        );
    }
    let created = child::create_db(&u.db)?;
    // Signals are taken synchronously (sigwait); the children unblock
    // what they need.
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        mask.add(s);
    }
    mask.thread_block().context("blocking signals")?;

    let mut db = Supervised {
        role: Role::Db,
        child: Some(u.start(Role::Db)?),
        deaths: Vec::new(),
    };
    if init_db(&u.dir)? {
        tracing::info!("initialised the Open_vSwitch row");
    }
    let mut sw = Supervised {
        role: Role::Switch,
        child: match u.start(Role::Switch) {
            Ok(c) => Some(c),
            Err(e) => {
                if let Some(c) = db.child.as_mut() {
                    stop(c, Duration::from_secs(10));
                }
                return Err(e);
            }
        },
        deaths: Vec::new(),
    };
    banner(&u, created);

    let mut failed = None;
    loop {
        let sig = mask.wait().context("waiting for signals")?;
        if sig != Signal::SIGCHLD {
            tracing::info!("{sig}: stopping the switch, then the database server");
            break;
        }
        for s in [&mut sw, &mut db] {
            let Some(c) = s.child.as_mut() else { continue };
            let Ok(Some(st)) = c.try_wait() else { continue };
            s.child = None;
            let now = Instant::now();
            s.deaths
                .retain(|t| now.duration_since(*t) < Duration::from_secs(10));
            s.deaths.push(now);
            if s.deaths.len() >= 5 {
                failed = Some(format!(
                    "the {:?} child died 5 times in 10 s ({st})",
                    s.role
                ));
                break;
            }
            tracing::warn!("the {:?} child exited ({st}): restarting it", s.role);
            match u.start(s.role) {
                Ok(c) => s.child = Some(c),
                Err(e) => {
                    failed = Some(format!("restarting the {:?} child: {e:#}", s.role));
                    break;
                }
            }
        }
        if failed.is_some() {
            break;
        }
    }
    if let Some(c) = sw.child.as_mut() {
        stop(c, Duration::from_secs(10));
    }
    if let Some(c) = db.child.as_mut() {
        stop(c, Duration::from_secs(10));
    }
    match failed {
        Some(f) => bail!("{f}"),
        None => {
            println!("ferrovs up: stopped");
            Ok(0)
        }
    }
}
