//! The command line, as ovs-vswitchd's common options, and daemonizing.
//!
//! `[unix:DBSOCK] [--pidfile[=F]] [--detach] [--no-chdir] [--log-file[=F]]
//! [--unixctl=SOCK] [--enable-dummy[=override]]`; `--enable-dummy=override`
//! runs internal ports as in-memory devices and refuses host interface
//! types, so nothing is created on the host (as OVS's override replaces
//! its device types with dummies). Other OVS options (`-v...`,
//! `--mlockall`...) are accepted and ignored with a warning, so that
//! scripts written for ovs-vswitchd run unchanged.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

#[derive(Debug)]
pub struct Opts {
    pub db: String,
    pub rundir: PathBuf,
    pub pidfile: Option<PathBuf>,
    pub detach: bool,
    pub no_chdir: bool,
    pub log_file: Option<PathBuf>,
    pub unixctl: Option<PathBuf>,
    /// `--enable-dummy=override`: in-memory ports only.
    pub dummy_override: bool,
}

/// `FERROVS_RUNDIR`, else `OVS_RUNDIR`, else `/var/run/ferrovs`.
pub fn rundir() -> PathBuf {
    std::env::var_os("FERROVS_RUNDIR")
        .or_else(|| std::env::var_os("OVS_RUNDIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/run/ferrovs".into())
}

fn logdir() -> PathBuf {
    std::env::var_os("FERROVS_LOGDIR")
        .or_else(|| std::env::var_os("OVS_LOGDIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/log/ferrovs".into())
}

fn absolute(p: &Path, base: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

pub fn parse(args: &[String]) -> anyhow::Result<Opts> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let rundir = absolute(&rundir(), &cwd);
    let mut o = Opts {
        db: String::new(),
        rundir: rundir.clone(),
        pidfile: None,
        detach: false,
        no_chdir: false,
        log_file: None,
        unixctl: None,
        dummy_override: false,
    };
    for a in args {
        if !a.starts_with('-') {
            if !o.db.is_empty() {
                bail!("only one database remote may be given");
            }
            o.db = a.clone();
            continue;
        }
        let (name, value) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (a.as_str(), None),
        };
        match name {
            "--pidfile" => {
                o.pidfile = Some(match value {
                    Some(v) => absolute(Path::new(v), &cwd),
                    None => rundir.join("ferrovs-vswitchd.pid"),
                })
            }
            "--log-file" => {
                o.log_file = Some(match value {
                    Some(v) => absolute(Path::new(v), &cwd),
                    None => logdir().join("ferrovs-vswitchd.log"),
                })
            }
            "--unixctl" => {
                let v = value.context("--unixctl requires =SOCKET")?;
                // A relative name is taken in the run directory, as OVS.
                o.unixctl = Some(absolute(Path::new(v), &rundir));
            }
            // Dummy ports exist anyway; only the override changes anything.
            "--enable-dummy" => o.dummy_override = value == Some("override"),
            "--detach" => o.detach = true,
            "--no-chdir" => o.no_chdir = true,
            "-h" | "--help" => {
                println!("usage: ferrovs-vswitchd [unix:DBSOCK] [--pidfile[=FILE]] [--detach] [--log-file[=FILE]] [--unixctl=SOCKET] [--enable-dummy[=override]]");
                std::process::exit(0);
            }
            "-V" | "--version" => {
                println!("{}", crate::unixctl::VERSION);
                std::process::exit(0);
            }
            n => eprintln!("ferrovs-vswitchd: warning: ignoring option {n}"),
        }
    }
    if o.db.is_empty() {
        o.db = format!("unix:{}", rundir.join("db.sock").display());
    } else if let Some(p) = o.db.strip_prefix("unix:") {
        o.db = format!("unix:{}", absolute(Path::new(p), &cwd).display());
    }
    Ok(o)
}

/// Forks; the parent exits once the child reports it is ready (or with 1
/// if the child dies first). Returns the child's end of the pipe.
pub fn daemonize() -> anyhow::Result<i32> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe() fills two descriptors into a valid two-element array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        bail!("pipe failed");
    }
    // SAFETY: called from main before any thread (runtime, PMDs) exists.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork failed");
    }
    if pid > 0 {
        // SAFETY: closing our copy of the write end; reading one byte into a valid buffer.
        unsafe { libc::close(fds[1]) };
        let mut b = [0u8; 1];
        // SAFETY: b is a valid one-byte buffer.
        let n = unsafe { libc::read(fds[0], b.as_mut_ptr() as *mut libc::c_void, 1) };
        std::process::exit(if n == 1 && b[0] == b'1' { 0 } else { 1 });
    }
    // SAFETY: child side: close the read end and start a new session.
    unsafe {
        libc::close(fds[0]);
        libc::setsid();
    }
    Ok(fds[1])
}

/// Tells the waiting parent we are ready and detaches stdio.
pub fn notify_ready(fd: Option<i32>) {
    if let Some(fd) = fd {
        // SAFETY: fd is our pipe's write end; writing one byte from a static
        // buffer; /dev/null replaces stdio.
        unsafe {
            libc::write(fd, b"1".as_ptr() as *const libc::c_void, 1);
            libc::close(fd);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null >= 0 {
                libc::dup2(null, 0);
                libc::dup2(null, 1);
                libc::dup2(null, 2);
            }
        }
    }
}
