//! Everything the bench makes on the machine, so that it can all be undone.
//!
//! One process-wide list of resources (namespaces, processes, directories)
//! in creation order. Each is registered the moment it exists and
//! unregistered when its owner removed it normally; [`undo_all`] removes
//! what is left in reverse order. It runs from the [`Guard`]'s `Drop` (normal
//! end, error, panic) and from the signal thread (Ctrl-C, SIGTERM, SIGHUP),
//! whichever comes first; the list is emptied as it goes, so the second
//! finds nothing. Links need no entry: every link the bench makes lives in
//! one of its namespaces from its creation and dies with it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use nix::sys::signal::{SigSet, Signal};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Netns(String),
    Process(i32),
    Dir(PathBuf),
}

static MADE: Mutex<Vec<Resource>> = Mutex::new(Vec::new());

/// Records a resource that now exists.
pub fn register(r: Resource) {
    MADE.lock().unwrap_or_else(|e| e.into_inner()).push(r);
}

/// Forgets a resource its owner removed.
pub fn unregister(r: &Resource) {
    let mut m = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = m.iter().rposition(|x| x == r) {
        m.remove(i);
    }
}

/// Removes every registered resource, newest first.
pub fn undo_all() {
    let items: Vec<Resource> = std::mem::take(&mut *MADE.lock().unwrap_or_else(|e| e.into_inner()));
    for r in items.into_iter().rev() {
        undo(&r);
    }
}

/// Removes one resource (processes: SIGKILL and reap).
pub fn undo(r: &Resource) {
    match r {
        Resource::Process(pid) => {
            let pid = nix::unistd::Pid::from_raw(*pid);
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        Resource::Netns(name) => {
            let _ = Command::new("ip")
                .args(["netns", "del", name])
                .stderr(Stdio::null())
                .status();
        }
        Resource::Dir(d) => {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Undoes everything on drop.
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        undo_all();
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and so in every thread
/// started after it) and starts the thread that waits for them: it undoes
/// everything and exits with 128 + the signal's number. Children get an
/// empty mask from `std::process::Command`. Call before starting threads.
pub fn install() -> anyhow::Result<Guard> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    std::thread::Builder::new()
        .name("bench-signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                let _ = writeln!(
                    std::io::stderr(),
                    "\nferrovs bench: {sig}, removing what it made"
                );
                undo_all();
                std::process::exit(128 + sig as i32);
            }
        })?;
    Ok(Guard(()))
}
