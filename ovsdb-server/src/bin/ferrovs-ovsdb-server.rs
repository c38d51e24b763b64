//! ferrovs-ovsdb-server: serves OVSDB databases over JSON-RPC, with the
//! command line of OVS's ovsdb-server:
//! `ferrovs-ovsdb-server [DB_FILE...] --remote=... [--pidfile[=F]]
//! [--detach] [--log-file[=F]] [--unixctl=SOCK]`.

use anyhow::{bail, Context};
use ovsdb::event_loop::EventLoop;
use ovsdb::limits::Limits;
use ovsdb::server::Core;
use ovsdb::storage::Storage;
use ovsdb::unixctl;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Default, Debug)]
struct Opts {
    dbs: Vec<PathBuf>,
    remotes: Vec<String>,
    pidfile: Option<PathBuf>,
    detach: bool,
    no_chdir: bool,
    log_file: Option<PathBuf>,
    unixctl: Option<String>,
    /// Bounds on what one client may cost (`--max-...=N`, see `Limits`).
    limits: Limits,
}

fn rundir() -> PathBuf {
    std::env::var_os("OVS_RUNDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/run/openvswitch".into())
}
fn logdir() -> PathBuf {
    std::env::var_os("OVS_LOGDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/log/openvswitch".into())
}
fn dbdir() -> PathBuf {
    std::env::var_os("OVS_DBDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/etc/openvswitch".into())
}

/// Options that take a value ("--opt VALUE" or "--opt=VALUE").
const WITH_VALUE: &[&str] = &[
    "--remote",
    "--unixctl",
    "--private-key",
    "--certificate",
    "--ca-cert",
    "--bootstrap-ca-cert",
    "--user",
    "--run",
    "--sync-from",
    "--sync-exclude-tables",
    "--ssl-protocols",
    "--ssl-ciphers",
    "--peer-ca-cert",
    "--active",
];

fn parse_args(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if !a.starts_with('-') {
            o.dbs.push(PathBuf::from(a));
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            let v = args
                .get(i)
                .cloned()
                .with_context(|| format!("{name} requires an argument"))?;
            i += 1;
            Ok(v)
        };
        match name.as_str() {
            "--remote" => o.remotes.push(value()?),
            "--unixctl" => o.unixctl = Some(value()?),
            "--pidfile" => {
                o.pidfile = Some(
                    inline
                        .map(PathBuf::from)
                        .unwrap_or_else(|| rundir().join("ovsdb-server.pid")),
                )
            }
            "--log-file" => {
                o.log_file = Some(
                    inline
                        .map(PathBuf::from)
                        .unwrap_or_else(|| logdir().join("ovsdb-server.log")),
                )
            }
            "--detach" => o.detach = true,
            "--no-chdir" => o.no_chdir = true,
            "-h" | "--help" => {
                println!("usage: ferrovs-ovsdb-server [DATABASE...] [--remote=REMOTE] [--pidfile[=FILE]] [--detach] [--log-file[=FILE]] [--unixctl=SOCKET] [--max-message-bytes=N] [--max-message-elements=N] [--max-input-total=N] [--backlog-pause=N] [--max-session-backlog=N] [--max-waits-per-session=N]");
                std::process::exit(0);
            }
            "-V" | "--version" => {
                println!("{}", unixctl::VERSION);
                std::process::exit(0);
            }
            n if n
                .strip_prefix("--")
                .is_some_and(|o| Limits::OPTIONS.contains(&o)) =>
            {
                let v = value()?;
                let x: usize = v
                    .parse()
                    .with_context(|| format!("{n}: {v} is not a number"))?;
                o.limits.set(&n[2..], x);
            }
            n if WITH_VALUE.contains(&n) => {
                let v = value()?;
                eprintln!("ferrovs-ovsdb-server: warning: ignoring option {n}={v}");
            }
            n if n.starts_with("-v") || n.starts_with("--verbose") => {}
            n => eprintln!("ferrovs-ovsdb-server: warning: ignoring option {n}"),
        }
    }
    Ok(o)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Forks; the parent waits until the child reports it is ready and exits.
/// Returns the write end of the readiness pipe in the child.
fn daemonize() -> anyhow::Result<i32> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe() fills two descriptors into a valid two-element array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        bail!("pipe failed");
    }
    // SAFETY: called before any thread is started (the server has only one).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork failed");
    }
    if pid > 0 {
        // SAFETY: closing our copy of the write end, reading one byte into a valid buffer.
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

fn notify_ready(fd: Option<i32>) {
    if let Some(fd) = fd {
        // SAFETY: fd is our pipe's write end; writing one byte from a static buffer.
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

fn main() -> anyhow::Result<()> {
    // Large sets (a bridge's ports) are reallocated on every change: keep
    // them on the heap instead of paying an mmap/munmap and page faults each
    // time.
    // SAFETY: mallopt only tunes glibc's allocator; called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = parse_args(&args)?;
    if o.dbs.is_empty() {
        o.dbs.push(dbdir().join("conf.db"));
    }
    o.dbs = o.dbs.iter().map(|p| absolute(p)).collect();
    o.pidfile = o.pidfile.as_deref().map(absolute);
    o.log_file = o.log_file.as_deref().map(absolute);
    o.unixctl = o.unixctl.map(|u| {
        if u.starts_with('/') {
            u
        } else {
            absolute(Path::new(&u)).display().to_string()
        }
    });
    for r in &mut o.remotes {
        if let Some(p) = r.strip_prefix("punix:") {
            *r = format!("punix:{}", absolute(Path::new(p)).display());
        }
    }

    // Open (or create) databases before detaching, so errors reach the terminal.
    let mut dbs = Vec::new();
    for p in &o.dbs {
        if !p.exists() {
            let schema: serde_json::Value = serde_json::from_str(ovsdb::VSWITCH_SCHEMA)?;
            Storage::create(p, &schema).with_context(|| format!("creating {}", p.display()))?;
        }
    }
    let ready_fd = if o.detach { Some(daemonize()?) } else { None };
    if o.detach && !o.no_chdir {
        let _ = std::env::set_current_dir("/");
    }
    init_logging(o.log_file.as_deref())?;
    for p in &o.dbs {
        let (db, st) = Storage::open(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        dbs.push((db, st));
    }
    // Replaying a long log leaves much freed memory behind; give it back.
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    // The loop parses messages nested up to jsonrpc::MAX_DEPTH levels,
    // recursively: it runs on a thread with room for that. The signals the
    // loop reads from its signalfd are blocked here first, so that no
    // thread takes them with their default action.
    block_exit_signals()?;
    std::thread::Builder::new()
        .name("ovsdb-server".into())
        .stack_size(ovsdb::jsonrpc::SERVER_STACK)
        .spawn(move || serve(o, dbs, ready_fd))
        .context("starting the server thread")?
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
}

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in the
/// threads it starts): `EventLoop::watch_signals` reads them.
fn block_exit_signals() -> anyhow::Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut mask = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block().context("blocking signals")?;
    Ok(())
}

fn init_logging(file: Option<&Path>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROVS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match file {
        Some(f) => {
            let fh = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .with_context(|| format!("opening log file {}", f.display()))?;
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(Mutex::new(fh))
                .init();
        }
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    Ok(())
}

/// Runs the server on one thread: the event loop owns the engine.
fn serve(
    o: Opts,
    dbs: Vec<(ovsdb::table::Db, Storage)>,
    ready_fd: Option<i32>,
) -> anyhow::Result<()> {
    let mut core = Core::new();
    for (db, st) in dbs {
        core.add_db(db, st).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut ev = EventLoop::new(core).context("creating the event loop")?;
    ev.set_limits(o.limits);
    ev.watch_signals().context("watching signals")?;
    let errs = ev.set_remotes(o.remotes.clone());
    for e in &errs {
        tracing::error!("{e}");
    }
    if o.remotes.iter().any(|s| !s.starts_with("db:")) && !errs.is_empty() {
        bail!("could not start remotes: {}", errs.join("; "));
    }
    let ctl_path = o.unixctl.clone().unwrap_or_else(|| {
        rundir()
            .join(format!("ovsdb-server.{}.ctl", std::process::id()))
            .display()
            .to_string()
    });
    if let Err(e) = ev.listen_unixctl(&ctl_path) {
        tracing::warn!("unixctl {ctl_path}: {e}");
    }
    if let Some(p) = &o.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing pidfile {}", p.display()))?;
    }
    notify_ready(ready_fd);
    tracing::info!("{} ready", unixctl::VERSION);
    let res = ev.run();
    // Stop listening, then flush and close every log.
    let core = ev.into_core();
    if let Some(p) = &o.pidfile {
        let _ = std::fs::remove_file(p);
    }
    drop(core);
    res.context("event loop")
}
