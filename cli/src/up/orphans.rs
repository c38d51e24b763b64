//! Children left behind by a supervisor that is gone. A child asks the
//! kernel for SIGTERM when its supervisor dies (`die_with_supervisor`,
//! PR_SET_PDEATHSIG), so a SIGKILLed `ferrovs up` takes its children with
//! it; but they need a moment to stop, and a build without that signal
//! leaves them running forever. Before starting, `up` reads the run
//! directory's pid files: a `ferrovs serve-db`/`serve-switch` process
//! whose parent is no `ferrovs up` is such an orphan and is stopped
//! (SIGTERM, SIGKILL after 10 s); a pid file naming no live process is
//! stale and removed. A child whose supervisor still runs is left alone,
//! so a second `up` on a live run directory is still refused.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The environment variable through which a child learns its supervisor's pid.
pub const SUPERVISOR_ENV: &str = "FERROVS_SUPERVISOR_PID";

/// In a child: SIGTERM when the supervisor dies. Fails when the
/// supervisor is already gone (it died before the request was made).
pub fn die_with_supervisor() -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
    if let Some(sup) = std::env::var(SUPERVISOR_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        let parent = nix::unistd::getppid().as_raw();
        if parent != sup {
            anyhow::bail!("the supervisor {sup} is gone (parent is now {parent})");
        }
    }
    Ok(())
}

/// `/proc/PID/cmdline` split at its NULs.
fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The parent pid, from `/proc/PID/stat` (the field after the name's `)`).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn is_ferrovs(args: &[String], sub: &str) -> bool {
    args.len() >= 2 && args[0].rsplit('/').next().is_some_and(|n| n == "ferrovs") && args[1] == sub
}

/// Running: not gone, and not a zombie waiting for its parent to reap it.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// Stops the orphaned children named by `dir`'s pid files and removes the
/// stale pid files; returns the pids it stopped.
pub fn recover(dir: &Path) -> Vec<i32> {
    let mut stopped = Vec::new();
    for (name, sub) in [
        ("ovs-vswitchd", "serve-switch"),
        ("ovsdb-server", "serve-db"),
    ] {
        let file = dir.join(format!("{name}.pid"));
        let Some(pid) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            continue;
        };
        let args = cmdline(pid);
        match args {
            Some(a) if is_ferrovs(&a, sub) => {
                let supervised = parent_of(pid)
                    .and_then(cmdline)
                    .is_some_and(|p| is_ferrovs(&p, "up"));
                if supervised {
                    continue;
                }
                tracing::warn!("{name} {pid} outlived its supervisor: stopping it");
                stop(pid);
                stopped.push(pid);
            }
            // No such process, or the pid now names another program.
            _ => {
                tracing::info!("removing the stale {}", file.display());
                let _ = std::fs::remove_file(&file);
            }
        }
    }
    stopped
}

fn stop(pid: i32) {
    let p = Pid::from_raw(pid);
    let _ = kill(p, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        tracing::warn!("{pid} did not stop in 10 s: killing it");
        let _ = kill(p, Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
