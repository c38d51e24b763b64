//! The two children `ferrovs up` supervises, each the `ferrovs` executable
//! re-executed with a hidden subcommand: `serve-db` (the OVSDB server of
//! the `ovsdb` library on `RUNDIR/db.sock`) and `serve-switch` (the switch
//! of the `ferrovs_vswitchd` library). Both use OVS's file names in the run
//! directory (`NAME.pid`, `NAME.PID.ctl`) so Debian's tools find them with
//! `OVS_RUNDIR`, and both log to the terminal they inherit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use ovsdb::event_loop::EventLoop;
use ovsdb::server::Core;
use ovsdb::storage::Storage;

use super::pidfile::PidFile;
use crate::rundir;

#[derive(clap::Args)]
pub struct ServeDbArgs {
    #[arg(long)]
    pub rundir: PathBuf,
    #[arg(long)]
    pub db: PathBuf,
}

#[derive(clap::Args)]
pub struct ServeSwitchArgs {
    #[arg(long)]
    pub rundir: PathBuf,
    /// In-memory ports only (`--enable-dummy=override`).
    #[arg(long)]
    pub dummy_ports: bool,
}

/// Creates the database file with the shipped Open_vSwitch schema when it
/// does not exist (and its directory).
pub fn create_db(db: &Path) -> anyhow::Result<bool> {
    if db.exists() {
        return Ok(false);
    }
    if let Some(d) = db.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let schema: serde_json::Value = serde_json::from_str(ovsdb::VSWITCH_SCHEMA)?;
    Storage::create(db, &schema).with_context(|| format!("creating {}", db.display()))?;
    Ok(true)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROVS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

pub fn serve_db(a: ServeDbArgs) -> anyhow::Result<()> {
    super::die_with_supervisor()?;
    create_db(&a.db)?;
    init_logging();
    let (db, st) = Storage::open(&a.db).map_err(|e| anyhow::anyhow!("{}: {e}", a.db.display()))?;
    // The event loop reads SIGTERM/SIGINT/SIGHUP from a signalfd: block
    // them before its thread starts so that no thread takes them.
    use nix::sys::signal::{SigSet, Signal};
    let mut mask = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block().context("blocking signals")?;
    let dir = a.rundir.clone();
    std::thread::Builder::new()
        .name("ovsdb-server".into())
        .stack_size(ovsdb::jsonrpc::SERVER_STACK)
        .spawn(move || -> anyhow::Result<()> {
            let mut core = Core::new();
            core.add_db(db, st).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut ev = EventLoop::new(core).context("creating the event loop")?;
            ev.watch_signals().context("watching signals")?;
            let sock = rundir::db_sock(&dir);
            let errs = ev.set_remotes(vec![format!("punix:{}", sock.display())]);
            if !errs.is_empty() {
                bail!("{}: {}", sock.display(), errs.join("; "));
            }
            let pid = std::process::id();
            let ctl = dir.join(format!("ovsdb-server.{pid}.ctl"));
            ev.listen_unixctl(&ctl.display().to_string())
                .with_context(|| format!("unixctl {}", ctl.display()))?;
            let pidfile = PidFile::create(&dir.join("ovsdb-server.pid"))?;
            tracing::info!("{} ready on {}", ovsdb::unixctl::VERSION, sock.display());
            let res = ev.run();
            // Dropping the core flushes and closes the log.
            drop(ev.into_core());
            drop(pidfile);
            let _ = std::fs::remove_file(&ctl);
            res.context("event loop")
        })
        .context("starting the server thread")?
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
}

pub fn serve_switch(a: ServeSwitchArgs) -> anyhow::Result<()> {
    super::die_with_supervisor()?;
    // The supervisor blocks the exit signals; the switch handles them.
    nix::sys::signal::SigSet::all()
        .thread_unblock()
        .context("unblocking signals")?;
    std::env::set_var("FERROVS_RUNDIR", &a.rundir);
    let pid = std::process::id();
    let pidfile = PidFile::create(&a.rundir.join("ovs-vswitchd.pid"))?;
    let mut args = vec![
        format!("unix:{}", rundir::db_sock(&a.rundir).display()),
        format!(
            "--unixctl={}",
            a.rundir.join(format!("ovs-vswitchd.{pid}.ctl")).display()
        ),
    ];
    if a.dummy_ports {
        args.push("--enable-dummy=override".into());
    }
    let o = ferrovs_vswitchd::cli::parse(&args)?;
    let vlog = Arc::new(ferrovs_vswitchd::vlog::Vlog::init(None)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let res = rt.block_on(ferrovs_vswitchd::run::serve(o, vlog, None));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    drop(pidfile);
    res
}
