//! The two-host topology every contender switches for.
//!
//! Three namespaces named after this process (`fvb<pid>-h1`, `-h2`, `-sw`):
//! host 1 (198.18.0.1/24) and host 2 (198.18.0.2/24) each own one end of a
//! veth pair whose other end (`fvb<pid>p1`, `fvb<pid>p2`) lives in the
//! switch namespace. Every contender (ferrovs, OVS, the Linux bridge) runs
//! in the switch namespace and takes those two ends as its ports, so all
//! of them see the same links, the same queues and the same hosts. Links
//! are created directly inside their namespaces, so none ever exists in the
//! root namespace and deleting the namespaces removes them all. IPv6 is off
//! in the three namespaces so that no solicitation crosses the switch
//! during a measurement.

use std::process::{Command, Output, Stdio};

use anyhow::{bail, Context};

use super::cleanup::{self, Resource};

pub const H1_ADDR: &str = "198.18.0.1";
pub const H2_ADDR: &str = "198.18.0.2";

pub struct Topology {
    pub h1: String,
    pub h2: String,
    pub sw: String,
    /// The switch-side veth ends (switch ports 1 and 2).
    pub p1: String,
    pub p2: String,
    /// The host-side veth ends.
    pub h1_dev: String,
    pub h2_dev: String,
}

/// The prefix of every name this process gives (namespaces, links).
pub fn prefix() -> String {
    format!("fvb{:x}", std::process::id())
}

impl Topology {
    /// The names the topology of prefix `p` gives its namespaces and
    /// links (nothing made yet).
    pub(super) fn named(p: &str) -> Topology {
        Topology {
            h1: format!("{p}-h1"),
            h2: format!("{p}-h2"),
            sw: format!("{p}-sw"),
            p1: format!("{p}p1"),
            p2: format!("{p}p2"),
            h1_dev: format!("{p}h1"),
            h2_dev: format!("{p}h2"),
        }
    }

    pub fn build() -> anyhow::Result<Topology> {
        let t = Topology::named(&prefix());
        for ns in [&t.h1, &t.h2, &t.sw] {
            run(Command::new("ip").args(["netns", "add", ns]))?;
            cleanup::register(Resource::Netns(ns.clone()));
            t.exec(ns, &["ip", "link", "set", "lo", "up"])?;
            t.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])?;
            t.exec(
                ns,
                &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            )?;
        }
        for (sw_end, host_ns, host_end, addr) in [
            (&t.p1, &t.h1, &t.h1_dev, H1_ADDR),
            (&t.p2, &t.h2, &t.h2_dev, H2_ADDR),
        ] {
            run(Command::new("ip").args([
                "link", "add", sw_end, "netns", &t.sw, "type", "veth", "peer", "name", host_end,
                "netns", host_ns,
            ]))?;
            t.exec(
                host_ns,
                &["ip", "addr", "add", &format!("{addr}/24"), "dev", host_end],
            )?;
            t.exec(host_ns, &["ip", "link", "set", host_end, "up"])?;
            t.exec(&t.sw, &["ip", "link", "set", sw_end, "up"])?;
        }
        Ok(t)
    }

    /// Runs `argv` in namespace `ns`; fails with its stderr.
    pub fn exec(&self, ns: &str, argv: &[&str]) -> anyhow::Result<String> {
        run(Command::new("ip").args(["netns", "exec", ns]).args(argv))
    }

    /// (namespace, device) of both host-side ends.
    pub fn host_ends(&self) -> Vec<(String, String)> {
        vec![
            (self.h1.clone(), self.h1_dev.clone()),
            (self.h2.clone(), self.h2_dev.clone()),
        ]
    }

    /// Pings host 2 from host 1 until one answer comes back (`secs`).
    pub fn wait_connected(&self, secs: u64) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            let ok = Command::new("ip")
                .args([
                    "netns", "exec", &self.h1, "ping", "-c1", "-W1", "-q", H2_ADDR,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bail!("host 1 cannot reach host 2 through the switch within {secs} s")
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.sw, &self.h2, &self.h1] {
            let r = Resource::Netns(ns.clone());
            cleanup::undo(&r);
            cleanup::unregister(&r);
        }
    }
}

/// `ethtool -K DEV tx rx tso gso on|off` on each (namespace, device):
/// the checksum and segmentation offloads, all on by default on veth (GRO,
/// off by default, is left alone).
pub fn set_offloads(ends: &[(String, String)], on: bool) -> anyhow::Result<()> {
    let v = if on { "on" } else { "off" };
    for (ns, dev) in ends {
        run(Command::new("ip")
            .args(["netns", "exec", ns, "ethtool", "-K", dev])
            .args(["tx", v, "rx", v, "tso", v, "gso", v]))?;
    }
    Ok(())
}

/// `tx on, tso on, gro off`: the offloads `ethtool -k` shows on a device.
pub fn offload_summary(ns: &str, dev: &str) -> anyhow::Result<String> {
    let out = run(Command::new("ip").args(["netns", "exec", ns, "ethtool", "-k", dev]))?;
    let mut v = Vec::new();
    for (feature, short) in [
        ("tx-checksumming", "tx"),
        ("rx-checksumming", "rx"),
        ("tcp-segmentation-offload", "tso"),
        ("generic-segmentation-offload", "gso"),
        ("generic-receive-offload", "gro"),
    ] {
        let state = out
            .lines()
            .find_map(|l| l.strip_prefix(feature)?.strip_prefix(':'))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("?");
        v.push(format!("{short} {state}"));
    }
    Ok(v.join(", "))
}

/// Runs a command, returning stdout or an error with its stderr.
pub fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out: Output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
