//! The daemon's main loop: starts the datapath, the unixctl server and the
//! reconciler, then waits for SIGTERM, SIGINT or `ovs-appctl exit` and
//! stops everything in order (reconciler, bridges and their sockets,
//! unixctl socket, PMD threads, pid file).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use ferrovs_datapath::{Datapath, DpConfig};
use ovsdb::idl::Idl;
use tokio::sync::Notify;

use ferrovs_ofproto::upcall::OfprotoUpcall;

use crate::{bridge, cli, reconcile, switch, unixctl, vlog, xlate_glue};

/// Runs the switch until it is told to stop. `ready_fd` is the pipe a
/// detaching parent waits on.
pub async fn serve(
    o: cli::Opts,
    vlog: Arc<vlog::Vlog>,
    ready_fd: Option<i32>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&o.rundir)
        .with_context(|| format!("creating run directory {}", o.rundir.display()))?;
    let upcalls = OfprotoUpcall::new();
    let dp = Arc::new(Datapath::with_meter(
        DpConfig::default(),
        upcalls.clone(),
        Some(upcalls.meters.clone()),
    ));
    dp.start()
        .map_err(|e| anyhow::anyhow!("starting PMD threads: {e}"))?;
    tracing::info!("datapath: {} PMD thread(s)", dp.n_pmds());

    let mut shared = bridge::Shared::new(dp.clone(), &o.rundir);
    shared.host_ports = !o.dummy_override;
    shared.wiring = Some(xlate_glue::Wiring::new(upcalls));
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
    let slow_path = tokio::spawn(xlate_glue::run(switch.clone(), dp.clone()));
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
    slow_path.abort();
    let _ = slow_path.await;
    // Give a pending `exit` reply a moment to be written.
    tokio::task::yield_now().await;
    switch.lock().unwrap_or_else(|e| e.into_inner()).clear();
    drop(ctl);
    dp.stop();
    if let Some(p) = &o.pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}
