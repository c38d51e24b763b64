//! Building blocks of simulated overlay topologies: an underlay network
//! (a Linux bridge in a namespace of its own, hypervisors attached by
//! veth), VMs (namespaces with one interface, a fixed MAC and address),
//! veth pairs made directly between two namespaces, and the traffic
//! checks run between VMs (ping, a TCP transfer).
//!
//! Every link is created inside a namespace guarded by [`Netns`], never
//! in the root namespace, so names inside a namespace are private (each
//! hypervisor can have its own `tap1`, `qvo1`, `eth1`) and deleting the
//! namespaces on drop removes every link, also when a test fails.
//! Addresses are the caller's, from 198.18.0.0/15 only.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::{tool, Netns};

/// Runs `ip ARGS` in the root namespace (only to create links whose two
/// ends are placed straight into namespaces).
fn ip_root(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(tool("ip")).args(args).output()?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Creates a veth pair with end `a_name` in `a` and `b_name` in `b`, both
/// up. The pair lives and dies with the namespaces (no root-namespace
/// name is ever used, so it cannot collide with another test).
pub fn veth_between(a: &Netns, a_name: &str, b: &Netns, b_name: &str) -> anyhow::Result<()> {
    ip_root(&[
        "link",
        "add",
        a_name,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_name,
        "netns",
        b.name(),
    ])?;
    a.exec(&["ip", "link", "set", a_name, "up"])?;
    b.exec(&["ip", "link", "set", b_name, "up"])?;
    Ok(())
}

/// The underlay: a namespace holding Linux bridge `ul` to which each
/// hypervisor is wired by a veth (its end named as the caller says, the
/// bridge's end `hv<N>`).
pub struct Underlay {
    ns: Netns,
    next: u32,
}

impl Underlay {
    pub fn new() -> anyhow::Result<Underlay> {
        let ns = Netns::new("ul")?;
        ns.exec(&["ip", "link", "add", "ul", "type", "bridge"])?;
        ns.exec(&["ip", "link", "set", "ul", "up"])?;
        Ok(Underlay { ns, next: 0 })
    }

    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Wires `host` to the bridge; `host_if` is the host's end (up, no
    /// address: the caller adds it to a switch or addresses it).
    pub fn attach(&mut self, host: &Netns, host_if: &str) -> anyhow::Result<()> {
        self.next += 1;
        let port = format!("hv{}", self.next);
        veth_between(host, host_if, &self.ns, &port)?;
        self.ns
            .exec(&["ip", "link", "set", &port, "master", "ul"])?;
        Ok(())
    }
}

/// A VM: a namespace whose interface `eth0` has a fixed MAC, an address
/// and an MTU. The other end of its link is made by whoever plugs it
/// (a tap port on a switch, or a Linux bridge of the hybrid layout).
pub struct Vm {
    pub ns: Netns,
    pub mac: String,
    /// Address without prefix length.
    pub ip: String,
}

impl Vm {
    /// Creates the namespace, and a veth whose `eth0` end is in the VM and
    /// whose `host_if` end is in `host`; configures `eth0` with `mac`,
    /// `ip`/`prefix` and `mtu`.
    pub fn plug(
        tag: &str,
        host: &Netns,
        host_if: &str,
        mac: &str,
        ip: &str,
        prefix: u8,
        mtu: u32,
    ) -> anyhow::Result<Vm> {
        let ns = Netns::new(tag)?;
        veth_between(host, host_if, &ns, "eth0")?;
        let mtu_s = mtu.to_string();
        ns.exec(&["ip", "link", "set", "eth0", "down"])?;
        ns.exec(&["ip", "link", "set", "eth0", "address", mac, "mtu", &mtu_s])?;
        ns.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{ip}/{prefix}"),
            "dev",
            "eth0",
        ])?;
        ns.exec(&["ip", "link", "set", "eth0", "up"])?;
        Ok(Vm {
            ns,
            mac: mac.to_string(),
            ip: ip.to_string(),
        })
    }

    /// One ICMP echo to `dst`, tried up to `tries` times (1 s each).
    pub fn ping(&self, dst: &str, tries: u32) -> bool {
        (0..tries).any(|_| self.ns.exec(&["ping", "-c", "1", "-W", "1", dst]).is_ok())
    }

    /// The MAC this VM's neighbour table holds for `ip`, if any.
    pub fn neighbour(&self, ip: &str) -> Option<String> {
        let out = self.ns.exec(&["ip", "neigh", "show", ip]).ok()?;
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_string)
    }
}

/// Sends `bytes` bytes over TCP from `client` to a server in `server`
/// listening on `addr`:`port` (python3 sockets, the namespaces' default
/// offloads); returns how many bytes the server received.
pub fn tcp_transfer(
    server: &Netns,
    client: &Netns,
    addr: &str,
    port: u16,
    bytes: usize,
) -> anyhow::Result<usize> {
    let srv = format!(
        "import socket\n\
         s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{addr}', {port})); s.listen(1); s.settimeout(15); print('ready', flush=True)\n\
         c,_=s.accept(); c.settimeout(15); n=0\n\
         while True:\n\
         \x20   b=c.recv(65536)\n\
         \x20   if not b: break\n\
         \x20   n+=len(b)\n\
         print(n, flush=True)\n"
    );
    let (_child, lines) = crate::spawn_lines(Command::new(tool("ip")).args([
        "netns",
        "exec",
        server.name(),
        "python3",
        "-c",
        &srv,
    ]))?;
    let ready = lines
        .recv_timeout(Duration::from_secs(10))
        .context("TCP server did not start")?;
    anyhow::ensure!(ready == "ready", "TCP server said {ready:?}");
    let cli = format!(
        "import socket\ns=socket.create_connection(('{addr}', {port}), timeout=15)\n\
         s.sendall(b'x'*{bytes}); s.close()\n"
    );
    client.exec(&["python3", "-c", &cli])?;
    let n = lines
        .recv_timeout(Duration::from_secs(20))
        .context("TCP server did not report")?;
    Ok(n.parse()?)
}
