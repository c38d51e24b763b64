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

use std::sync::Arc;

use anyhow::Context;
use ferrovs_vswitchd::{cli, run, vlog};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = cli::parse(&args)?;
    // Fork before any thread exists.
    let ready_fd = if o.detach {
        Some(cli::daemonize()?)
    } else {
        None
    };
    // glibc keeps small freed blocks unsorted ("fast bins") and sorts
    // them all at the next large allocation of any thread. After a big
    // delete (100,000 rules freed by a background thread) or a big dump,
    // that sort landed on the main thread, inside the next request: 5 to
    // 15 ms added to the next `ovs-ofctl` commands. Without fast bins a
    // free merges its block with free neighbours at once, on the thread
    // that frees, so far fewer blocks are left for a later allocation to
    // sort; the per-thread cache (tcache) still serves the common
    // alloc/free pairs.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only reads its two integer arguments.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
    }
    let vlog = Arc::new(vlog::Vlog::init(o.log_file.as_deref())?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let res = rt.block_on(run::serve(o, vlog, ready_fd));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    res
}
