//! A pid file as OVS's daemons keep one: `NAME.pid` holding the pid and
//! a newline, write-locked (fcntl) by the process for as long as it runs,
//! which is how `ovs-appctl` and `ovs-vsctl` tell a live daemon from a
//! stale file ("No such process" otherwise). Removed on drop.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub struct PidFile {
    path: PathBuf,
    _file: File,
}

impl PidFile {
    pub fn create(path: &Path) -> anyhow::Result<PidFile> {
        let _ = std::fs::remove_file(path);
        let mut f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        // SAFETY: a zeroed flock is a valid value; it is filled before use.
        let mut lk: libc::flock = unsafe { std::mem::zeroed() };
        lk.l_type = libc::F_WRLCK as libc::c_short;
        lk.l_whence = libc::SEEK_SET as libc::c_short;
        // SAFETY: fcntl(F_SETLK) on our open descriptor with a valid flock.
        if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &lk) } != 0 {
            bail!("{}: already locked by another process", path.display());
        }
        writeln!(f, "{}", std::process::id())?;
        f.flush()?;
        Ok(PidFile {
            path: path.to_path_buf(),
            _file: f,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
