//! ferrovs-tests: support for integration tests that run real components.
//!
//! Tests start real programs (ferrovs binaries, Debian's OVS tools, python
//! os-ken and ovs) and real network namespaces. This crate finds those
//! programs and owns the guards that remove what a test created, also when
//! the test fails: every namespace and link is deleted on drop.
//!
//! The tools are installed by `tests/run.sh`; a test that needs one and
//! cannot find it fails with a message saying so (it never skips silently).
//! Addresses used by network tests come only from 198.18.0.0/15 and
//! 2001:db8::/32.

pub mod bench_run;
pub mod dummy_pair;
pub mod ferrovs_vswitchd;
pub mod frames;
pub mod lab;
pub mod neutron_agent;
pub mod neutron_fw;
pub mod osken;
pub mod overlay;
pub mod ovs_compare;
pub mod ovs_vswitchd;
pub mod ovsdb_hostile;
pub mod ovsdb_server;
pub mod pcap;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Path of an external tool on PATH (or in /usr/sbin, /usr/bin, /sbin).
/// Panics with a clear message when it is missing: run `tests/run.sh`.
pub fn tool(name: &str) -> PathBuf {
    try_tool(name).unwrap_or_else(|| {
        panic!("required tool `{name}` not found: run `bash tests/run.sh`, which installs it")
    })
}

/// Like [`tool`] but returns `None` when the tool is missing.
pub fn try_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for extra in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
        dirs.push(PathBuf::from(extra));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The python interpreter of the test virtual environment (with `ovs` and
/// `os-ken`). `tests/run.sh` exports `FERROVS_PYTHON`; otherwise the default
/// venv location it uses is tried.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FERROVS_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    let p = Path::new(&home).join(".cache/ferrovs-venv/bin/python3");
    if p.is_file() {
        return p;
    }
    panic!("test python venv not found: run `bash tests/run.sh`, which creates it");
}

/// A unique short suffix for names of namespaces, links and sockets made by
/// this test process (interface names are limited to 15 bytes).
pub fn unique_suffix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}", std::process::id() & 0xffff, n)
}

fn run_ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(tool("ip")).args(args).output()?;
    if !out.status.success() {
        anyhow::bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A network namespace that is deleted (with every link inside it) on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `fvs-<tag>-<unique>` with its loopback up.
    pub fn new(tag: &str) -> anyhow::Result<Netns> {
        let name = format!("fvs-{tag}-{}", unique_suffix());
        run_ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace and returns its stdout.
    pub fn exec(&self, argv: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(tool("ip"))
            .args(["netns", "exec", &self.name])
            .args(argv)
            .output()?;
        if !out.status.success() {
            anyhow::bail!(
                "in {}: {}: {}",
                self.name,
                argv.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A veth pair in the root namespace, deleted on drop (deleting one end
/// removes both, also when one end was moved into a namespace that is gone).
pub struct Veth {
    pub a: String,
    pub b: String,
}

impl Veth {
    pub fn new(tag: &str) -> anyhow::Result<Veth> {
        let s = unique_suffix();
        let a = format!("fv{tag}{s}a");
        let b = format!("fv{tag}{s}b");
        anyhow::ensure!(a.len() <= 15, "interface name {a} too long");
        run_ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])?;
        Ok(Veth { a, b })
    }

    /// Moves end `b` into `ns`, gives it `addr` (CIDR) and brings it up.
    pub fn attach_b(&self, ns: &Netns, addr: &str) -> anyhow::Result<()> {
        run_ip(&["link", "set", &self.b, "netns", ns.name()])?;
        ns.exec(&["ip", "addr", "add", addr, "dev", &self.b])?;
        ns.exec(&["ip", "link", "set", &self.b, "up"])?;
        Ok(())
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.a])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Path of a binary built from this workspace (`ferrovs-ovsdb-server`,
/// `ferrovs-vswitchd`, `ferrovs`), next to the running test executable's
/// profile directory (`target/<profile>/`). `cargo test --workspace` builds
/// every workspace binary before running tests.
pub fn ferrovs_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test-exe> -> target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let p = profile_dir.join(name);
    assert!(
        p.is_file(),
        "{} not built: run `cargo build --workspace` (or `bash tests/run.sh`)",
        p.display()
    );
    p
}

/// Spawns `cmd` with its stdout piped and returns the child (killed on
/// drop) and a channel that yields each line it prints, read by a thread,
/// so a test can wait for output with a timeout (`recv_timeout`).
pub fn spawn_lines(
    cmd: &mut Command,
) -> std::io::Result<(Child, std::sync::mpsc::Receiver<String>)> {
    use std::io::BufRead;
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn()?;
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((Child(child), rx))
}

/// A host namespace `tag` on end `b` of a new veth pair, with IPv4 address
/// `addr` (CIDR, in 198.18.0.0/15); end `a` is moved into `switch_ns` (the
/// namespace of the switch under test) and brought up there, ready to be
/// added to a bridge as a system port.
pub fn host_on(switch_ns: &Netns, tag: &str, addr: &str) -> anyhow::Result<(Netns, Veth)> {
    let ns = Netns::new(tag)?;
    let v = Veth::new(tag)?;
    v.attach_b(&ns, addr)?;
    run_ip(&["link", "set", &v.a, "netns", switch_ns.name()])?;
    switch_ns.exec(&["ip", "link", "set", &v.a, "up"])?;
    Ok((ns, v))
}
