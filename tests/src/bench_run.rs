//! `ferrovs bench` as the tests run it: the command line (the daemons
//! taken from beside the `ferrovs` binary under test), and what a run may
//! leave behind. The bench names everything it makes `fvb<its pid in
//! hex>`, so leftovers are found by that prefix.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::ferrovs_bin;

/// `ferrovs bench ARGS --out OUT --bin-dir DIR`, DIR holding the
/// binary under test.
pub fn bench_command(out: &Path, args: &[&str]) -> Command {
    let bin = ferrovs_bin("ferrovs");
    let mut c = Command::new(&bin);
    c.arg("bench")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--bin-dir")
        .arg(bin.parent().unwrap());
    c
}

/// What a finished bench run printed, and its pid (for [`leftovers`]).
pub struct BenchRun {
    pub pid: u32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` (a [`bench_command`]) to its end; it must succeed.
pub fn run_ok(mut cmd: Command) -> BenchRun {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "bench failed: {stderr}\n{stdout}");
    BenchRun {
        pid,
        stdout,
        stderr,
    }
}

/// Namespaces, root links, processes and temp dirs named after the bench
/// of pid `pid`.
pub fn leftovers(pid: u32) -> Vec<String> {
    let prefix = format!("fvb{pid:x}");
    let mut v = Vec::new();
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    for out in [ns, links] {
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            if l.contains(&prefix) {
                v.push(l.to_string());
            }
        }
    }
    for e in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) {
            v.push(e.path().display().to_string());
        }
    }
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    for l in String::from_utf8_lossy(&ps.stdout).lines() {
        if l.contains(&prefix) {
            v.push(l.to_string());
        }
    }
    v
}
