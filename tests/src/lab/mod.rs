//! Labs: whole cloud deployments built in network namespaces on one
//! machine, shared by the scenario tests and `ferrovs lab`.
//!
//! A [`Lab`] owns a state directory whose `state` file lists, one a line
//! and in creation order, every namespace (`ns NAME`) and process
//! (`pid N`) the lab made. The file is appended to before anything else
//! happens, so [`down`] can undo everything from it alone: from the
//! lab's own `Drop` (a failed check unwinds through it), from the Ctrl-C
//! watcher, or from another process (`ferrovs lab down`). Every link
//! lives inside a lab namespace (none in the host's), so deleting the
//! namespaces removes the links; processes carry `FERROVS_LAB=<dir>` in
//! their environment, and [`down`] signals a recorded pid only when it
//! still carries it (a recycled pid is left alone). A namespace or
//! process is recorded and made under one lock that the Ctrl-C watcher
//! takes before it reads the state file, so nothing made concurrently
//! escapes it; short-lived commands (`ns_exec`) stay in the caller's
//! process group, so a terminal's Ctrl-C ends them too.

pub mod figures;
pub mod flow_router;
pub mod neutron_gre;
pub mod switch;
pub mod traffic;
pub mod vxlan_mixed;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Labs of this process that are up, torn down by the Ctrl-C watcher.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Held while a namespace or process is recorded and made, and by the
/// Ctrl-C watcher while it tears down: the watcher never reads a state
/// file between a record and the thing it names, and nothing is made
/// once it has begun.
static MAKING: Mutex<()> = Mutex::new(());

/// Whether Ctrl-C (or SIGTERM) came: the teardown is under way and
/// ends the process with status 130.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Takes [`MAKING`]; fails once the lab is being torn down after Ctrl-C.
fn making() -> anyhow::Result<std::sync::MutexGuard<'static, ()>> {
    let g = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(g)
}

extern "C" fn on_signal(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs (once) SIGINT/SIGTERM handlers and a thread that, on either
/// signal, tears down every live lab of this process and exits 130.
fn watch_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
        let act = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only stores to an atomic, which is
            // async-signal-safe.
            let _ = unsafe { sigaction(sig, &act) };
        }
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(100));
            if INTERRUPTED.load(Ordering::SeqCst) {
                // Held until exit: nothing new is made from here on.
                let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
                let dirs: Vec<PathBuf> = LIVE.lock().map(|v| v.clone()).unwrap_or_default();
                for d in dirs {
                    eprintln!("interrupted: tearing down lab {}", d.display());
                    let _ = down(&d);
                }
                std::process::exit(130);
            }
        });
    });
}

/// A lab being built or up. Dropping it tears it down unless
/// [`Lab::keep`] was called.
pub struct Lab {
    dir: PathBuf,
    prefix: String,
    children: Vec<std::process::Child>,
    kept: bool,
}

impl Lab {
    /// Creates state directory `dir` (it must not hold a lab already) and
    /// names namespaces `<prefix>-<short>`.
    pub fn new(dir: &Path, prefix: &str) -> anyhow::Result<Lab> {
        if dir.join("state").exists() {
            bail!(
                "a lab is already up in {} (`ferrovs lab down` removes it)",
                dir.display()
            );
        }
        watch_signals();
        let _making = making()?;
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        std::fs::write(dir.join("state"), "")?;
        LIVE.lock().unwrap().push(dir.to_path_buf());
        Ok(Lab {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            children: Vec::new(),
            kept: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record(&self, line: &str) -> anyhow::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("state"))?;
        writeln!(f, "{line}")?;
        f.sync_data()?;
        Ok(())
    }

    /// Creates namespace `<prefix>-<short>` with its loopback up and
    /// returns its name.
    pub fn netns(&mut self, short: &str) -> anyhow::Result<String> {
        let name = format!("{}-{short}", self.prefix);
        let _making = making()?;
        // Someone else's (or a lab's left up): not recorded, so never
        // deleted by this lab's teardown.
        if Path::new("/run/netns").join(&name).exists() {
            bail!("namespace {name} exists already (a lab left up? `ferrovs lab down`)");
        }
        self.record(&format!("ns {name}"))?;
        run(Command::new(crate::tool("ip")).args(["netns", "add", &name]))?;
        run(Command::new(crate::tool("ip"))
            .args(["netns", "exec", &name, "ip", "link", "set", "lo", "up"]))?;
        Ok(name)
    }

    /// Starts `cmd` in a process group of its own (a terminal's Ctrl-C
    /// reaches only the lab's owner, which tears down in order), recorded
    /// for teardown. Its stdin is closed; stdout/stderr are the caller's.
    pub fn spawn(&mut self, cmd: &mut Command) -> anyhow::Result<u32> {
        use std::os::unix::process::CommandExt;
        let _making = making()?;
        let child = cmd
            .env("FERROVS_LAB", &self.dir)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawn {:?}", cmd.get_program()))?;
        let pid = child.id();
        self.record(&format!("pid {pid}"))?;
        self.children.push(child);
        Ok(pid)
    }

    /// Like [`Lab::spawn`] with stdout piped: each line it prints arrives
    /// on the returned channel.
    pub fn spawn_lines(
        &mut self,
        cmd: &mut Command,
    ) -> anyhow::Result<std::sync::mpsc::Receiver<String>> {
        use std::io::BufRead;
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        self.spawn(cmd)?;
        let out = self
            .children
            .last_mut()
            .and_then(|c| c.stdout.take())
            .expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    /// Leaves the lab up (its state directory says how to remove it).
    pub fn keep(mut self) {
        self.kept = true;
        LIVE.lock().unwrap().retain(|d| d != &self.dir);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Err(e) = down(&self.dir) {
            eprintln!("lab teardown: {e:#}");
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        LIVE.lock().unwrap().retain(|d| d != &self.dir);
    }
}

/// Whether process `pid` still carries `FERROVS_LAB=<dir>`.
fn owned_by(pid: i32, dir: &Path) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let want = format!("FERROVS_LAB={}", dir.display());
    env.split(|b| *b == 0).any(|v| v == want.as_bytes())
}

/// Processes still carrying `FERROVS_LAB=<dir>` (after [`down`]: none).
pub fn processes_of(dir: &Path) -> Vec<i32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| owned_by(*p, dir))
        .collect()
}

/// Network namespaces whose names start with `prefix` (`ip netns list`).
pub fn netns_with_prefix(prefix: &str) -> Vec<String> {
    let out = Command::new(crate::tool("ip"))
        .args(["netns", "list"])
        .output()
        .expect("run ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// Panics unless the lab of state directory `dir` and namespace prefix
/// `prefix` left nothing behind: no directory, no process
/// ([`processes_of`]), no namespace.
pub fn assert_torn_down(dir: &Path, prefix: &str) {
    assert!(!dir.exists(), "{} left behind", dir.display());
    let procs = processes_of(dir);
    assert!(procs.is_empty(), "processes left: {procs:?}");
    let left = netns_with_prefix(prefix);
    assert!(left.is_empty(), "namespaces left: {left:?}");
}

/// Runs `scenario` on a fresh lab (state directory `dir`, namespaces
/// named `prefix...`), which is torn down when it returns; prints how
/// long that took under `label` and checks that nothing was left
/// ([`assert_torn_down`]).
pub fn run_torn_down(
    dir: &Path,
    prefix: &str,
    label: &str,
    scenario: impl FnOnce(&mut Lab) -> Vec<PathResult>,
) -> Vec<PathResult> {
    let t = Instant::now();
    let res = {
        let mut lab = Lab::new(dir, prefix).unwrap();
        scenario(&mut lab)
    };
    eprintln!("[{label}] {:.1} s with teardown", t.elapsed().as_secs_f64());
    assert_torn_down(dir, prefix);
    res
}

/// Tears down the lab whose state directory is `dir`: its processes
/// (SIGTERM, then SIGKILL after 3 s), its namespaces (newest first, with
/// every link in them), then the directory. A missing directory is no
/// error.
pub fn down(dir: &Path) -> anyhow::Result<()> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let Ok(state) = std::fs::read_to_string(dir.join("state")) else {
        let _ = std::fs::remove_dir_all(dir);
        return Ok(());
    };
    let mut pids = Vec::new();
    let mut nss = Vec::new();
    for line in state.lines() {
        match line.split_once(' ') {
            Some(("pid", p)) => pids.extend(p.parse::<i32>().ok()),
            Some(("ns", n)) => nss.push(n.to_string()),
            _ => {}
        }
    }
    let mine: Vec<i32> = pids.into_iter().filter(|p| owned_by(*p, dir)).collect();
    for p in &mine {
        let _ = kill(Pid::from_raw(*p), Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && mine.iter().any(|p| owned_by(*p, dir)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in &mine {
        if owned_by(*p, dir) {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
    }
    let mut failed = Vec::new();
    for ns in nss.iter().rev() {
        let out = Command::new(crate::tool("ip"))
            .args(["netns", "del", ns])
            .output()?;
        if !out.status.success() && Path::new("/run/netns").join(ns).exists() {
            failed.push(ns.clone());
        }
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    if !failed.is_empty() {
        bail!("namespaces not deleted: {}", failed.join(" "));
    }
    Ok(())
}

/// Where the scenario tests find ferrovs's daemons: `FERROVS_BIN_DIR`
/// when set (e.g. `target/release`, to take figures of optimized
/// binaries from a debug test), else the test's own profile directory.
pub fn ferrovs_bin_dir() -> PathBuf {
    match std::env::var_os("FERROVS_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => crate::ferrovs_bin("ferrovs-vswitchd")
            .parent()
            .expect("a binary lives in a directory")
            .to_path_buf(),
    }
}

/// Runs `cmd`; fails with its stderr when it exits non-zero. Returns
/// stdout.
pub fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // The cause first (a table cell shows the first words): the last
        // line of stderr, then the command.
        let err = String::from_utf8_lossy(&out.stderr);
        let cause = err.trim().lines().last().unwrap_or("").to_string();
        bail!(
            "{} ({} {}; exit {})",
            if cause.is_empty() {
                "no output"
            } else {
                &cause
            },
            cmd.get_program().to_string_lossy(),
            args.join(" "),
            out.status
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `argv` inside namespace `ns` (`ip netns exec`).
pub fn ns_exec(ns: &str, argv: &[&str]) -> anyhow::Result<String> {
    run(Command::new(crate::tool("ip"))
        .args(["netns", "exec", ns])
        .args(argv))
}

/// Waits (up to `timeout`) until `path` exists.
pub fn wait_path(path: &Path, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        if Instant::now() > deadline {
            bail!("{} did not appear within {timeout:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// One checked path of a scenario and how it went.
#[derive(Clone, Debug)]
pub struct PathResult {
    pub path: String,
    pub outcome: Result<String, String>,
}

impl PathResult {
    /// Path `path` and how it went, an error as one line with its causes.
    pub fn new(path: impl Into<String>, r: anyhow::Result<String>) -> PathResult {
        PathResult {
            path: path.into(),
            outcome: r.map_err(|e| format!("{e:#}").replace('\n', " ")),
        }
    }

    /// The one row of a scenario whose deployment could not be built.
    pub fn build_failed(e: anyhow::Error) -> PathResult {
        PathResult::new("build the deployment", Err(e))
    }
}

/// What a scenario prints as it runs, each line tagged `[label]`, and
/// only when `verbose`: progress lines and every checked path's result.
pub struct Progress {
    label: String,
    verbose: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>, verbose: bool) -> Progress {
        Progress {
            label: label.into(),
            verbose,
        }
    }

    /// A progress line.
    pub fn say(&self, m: &str) {
        if self.verbose {
            eprintln!("[{}] {m}", self.label);
        }
    }

    /// A checked path: `ok   PATH DETAIL` or `FAIL PATH: WHY`.
    pub fn result(&self, r: &PathResult) {
        if self.verbose {
            match &r.outcome {
                Ok(x) => eprintln!("[{}] ok   {} {x}", self.label, r.path),
                Err(e) => eprintln!("[{}] FAIL {}: {e}", self.label, r.path),
            }
        }
    }
}

/// Prints results side by side, one column per switch: `ok (detail)` or
/// `FAIL: why`; a figure's row ([`figures::FIGURE`]) shows the figure.
pub fn table(columns: &[(&str, &[PathResult])]) -> String {
    let mut rows: Vec<String> = Vec::new();
    for (_, res) in columns {
        for r in res.iter() {
            if !rows.contains(&r.path) {
                rows.push(r.path.clone());
            }
        }
    }
    let cell = |res: &[PathResult], path: &str| -> String {
        match res.iter().find(|r| r.path == path).map(|r| &r.outcome) {
            Some(Ok(d)) if path.starts_with(figures::FIGURE) => d.clone(),
            Some(Ok(d)) if d.is_empty() => "ok".into(),
            Some(Ok(d)) => format!("ok ({d})"),
            Some(Err(e)) => format!("FAIL: {}", e.lines().next().unwrap_or("")),
            None => "not run".into(),
        }
    };
    let w0 = rows.iter().map(String::len).max().unwrap_or(4).max(4);
    let widths: Vec<usize> = columns
        .iter()
        .map(|(name, res)| {
            rows.iter()
                .map(|p| cell(res, p).chars().count().min(70))
                .max()
                .unwrap_or(0)
                .max(name.len())
        })
        .collect();
    let mut s = format!("| {:w0$} |", "path");
    for ((name, _), w) in columns.iter().zip(&widths) {
        s += &format!(" {name:w$} |");
    }
    s += &format!("\n|{}|", "-".repeat(w0 + 2));
    for w in &widths {
        s += &format!("{}|", "-".repeat(w + 2));
    }
    for p in &rows {
        s += &format!("\n| {p:w0$} |");
        for ((_, res), w) in columns.iter().zip(&widths) {
            let c: String = cell(res, p).chars().take(70).collect();
            s += &format!(" {c:w$} |");
        }
    }
    s.push('\n');
    s
}
