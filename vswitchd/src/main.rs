//! ferrovs-vswitchd: reads the Open_vSwitch database, builds bridges, ports
//! and datapath ports, speaks OpenFlow to controllers and serves unixctl.
//!
//! `ferrovs-vswitchd [unix:DBSOCK] [--pidfile[=F]] [--detach]
//! [--log-file[=F]] [--unixctl=SOCK]`. The run directory (management
//! sockets `<bridge>.mgmt`, the default unixctl socket and pid file) is
//! `FERROVS_RUNDIR`, else `OVS_RUNDIR`, else `/var/run/ferrovs`.
//!
//! One tokio runtime (current thread) runs the reconciler, the OpenFlow
//! connections and unixctl; the datapath's PMD threads run beside it.
//! SIGTERM, SIGINT and `ovs-appctl exit` stop the switch cleanly: the PMD
//! threads are joined and the sockets and pid file removed.

mod bridge;
mod cli;
mod config;
mod dummy_packet;
mod hwaddr;
mod iface;
mod ofconn;
mod ofport;
mod pcap;
mod reconcile;
mod status;
mod switch;
mod target;
mod unixctl;
mod upcall;
mod vlog;

use std::sync::{Arc, Mutex};

use anyhow::Context;
use ferrovs_datapath::{Datapath, DpConfig};
use ovsdb::idl::Idl;
use tokio::sync::Notify;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = cli::parse(&args)?;
    // Fork before any thread exists.
    let ready_fd = if o.detach {
        Some(cli::daemonize()?)
    } else {
        None
    };
    let vlog = Arc::new(vlog::Vlog::init(o.log_file.as_deref())?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let res = rt.block_on(serve(o, vlog, ready_fd));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    res
}

async fn serve(o: cli::Opts, vlog: Arc<vlog::Vlog>, ready_fd: Option<i32>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&o.rundir)
        .with_context(|| format!("creating run directory {}", o.rundir.display()))?;
    let upcalls = Arc::new(upcall::DropUpcalls::default());
    let dp = Arc::new(Datapath::new(DpConfig::default(), upcalls.clone()));
    dp.start()
        .map_err(|e| anyhow::anyhow!("starting PMD threads: {e}"))?;
    tracing::info!("datapath: {} PMD thread(s); packet translation is not built yet, so every miss is dropped and counted", dp.n_pmds());

    let shared = bridge::Shared::new(dp.clone(), &o.rundir);
    let changed = shared.status_changed.clone();
    let switch = Arc::new(Mutex::new(switch::Switch::new(shared)));
    let exit = Arc::new(Notify::new());
    let ctx = Arc::new(unixctl::Ctx {
        switch: switch.clone(),
        vlog,
        exit: exit.clone(),
    });
    let ctl_path = o.unixctl.clone().unwrap_or_else(|| {
        o.rundir
            .join(format!("ferrovs-vswitchd.{}.ctl", std::process::id()))
    });
    let ctl = unixctl::Server::start(&ctl_path, ctx)
        .with_context(|| format!("unixctl socket {}", ctl_path.display()))?;
    if let Some(p) = &o.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing pidfile {}", p.display()))?;
    }
    let idl = Idl::start(reconcile::idl_config(&o.db));
    let stop = Arc::new(Notify::new());
    let reconciler = tokio::spawn(reconcile::run(idl, switch.clone(), changed, stop.clone()));
    cli::notify_ready(ready_fd);
    tracing::info!("{} ready (database {})", unixctl::VERSION, o.db);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: exiting"),
        _ = int.recv() => tracing::info!("SIGINT: exiting"),
        _ = exit.notified() => tracing::info!("exit requested"),
    }
    stop.notify_one();
    let _ = reconciler.await;
    // Give a pending `exit` reply a moment to be written.
    tokio::task::yield_now().await;
    switch.lock().unwrap_or_else(|e| e.into_inner()).clear();
    drop(ctl);
    dp.stop();
    tracing::info!("{} misses dropped since start", upcalls.misses());
    if let Some(p) = &o.pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}
