//! Where the running switch lives: the run directory (sockets, pid files)
//! and the database file. One resolution for `up` and for the clients, so
//! that `ferrovs vsctl` finds what `ferrovs up` made with no flags.
//!
//! Run directory: `--rundir`, else `FERROVS_RUNDIR`, else `OVS_RUNDIR`,
//! else `/var/run/ferrovs`. Database: `--db`, else `FERROVS_DB`, else
//! `/var/lib/ferrovs/conf.db`. Inside the run directory the names are
//! OVS's, so that Debian's tools work with `OVS_RUNDIR` set to it:
//! `db.sock`, `ovsdb-server.pid`, `ovs-vswitchd.pid`,
//! `<name>.<pid>.ctl`, `<bridge>.mgmt`.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub const DEFAULT_RUNDIR: &str = "/var/run/ferrovs";
pub const DEFAULT_DB: &str = "/var/lib/ferrovs/conf.db";

/// The run directory, made absolute.
pub fn rundir(flag: Option<&Path>) -> PathBuf {
    let p = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("FERROVS_RUNDIR").map(PathBuf::from))
        .or_else(|| std::env::var_os("OVS_RUNDIR").map(PathBuf::from))
        .unwrap_or_else(|| DEFAULT_RUNDIR.into());
    absolute(&p)
}

/// The database file, made absolute.
pub fn db_file(flag: Option<&Path>) -> PathBuf {
    let p = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("FERROVS_DB").map(PathBuf::from))
        .unwrap_or_else(|| DEFAULT_DB.into());
    absolute(&p)
}

pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// The database socket in `rundir`.
pub fn db_sock(rundir: &Path) -> PathBuf {
    rundir.join("db.sock")
}

/// The unixctl socket of daemon `target` (`ovs-vswitchd`, `ovsdb-server`)
/// as ovs-appctl finds it: a path is taken as is, a name through its pid
/// file `RUNDIR/NAME.pid` and then `RUNDIR/NAME.PID.ctl`.
pub fn ctl_socket(rundir: &Path, target: &str) -> anyhow::Result<PathBuf> {
    if target.contains('/') {
        return Ok(PathBuf::from(target));
    }
    let pidfile = rundir.join(format!("{target}.pid"));
    let text = std::fs::read_to_string(&pidfile).with_context(|| {
        format!(
            "cannot read pidfile \"{}\" (is `ferrovs up` running with this run directory?)",
            pidfile.display()
        )
    })?;
    let pid: u32 = text
        .trim()
        .parse()
        .with_context(|| format!("{}: not a pid", pidfile.display()))?;
    Ok(rundir.join(format!("{target}.{pid}.ctl")))
}
