//! One hypervisor of the overlay, as each contender builds it.
//!
//! - the kernel (`linux-bridge`): a `vxlan` device on the underlay end
//!   (VNI [`VNI`], port 4789, fixed remote) in a Linux bridge with the VM
//!   port, the underlay address on the underlay end: a Linux-bridge agent's
//!   compute node;
//! - a switch (ferrovs with AF_PACKET or AF_XDP ports, OVS 3.1 with
//!   AF_PACKET ports): its own database and daemon in the
//!   hypervisor's namespace, OVS's userspace tunnelling layout: `br-phy`
//!   (netdev, NORMAL) holding the underlay end with the underlay address on
//!   its internal port, and `br-int` (netdev, NORMAL) holding the VM port
//!   and a `vxlan` port to the other hypervisor. The tunnel's next hop comes
//!   from the kernel route the address makes and the neighbour learned by
//!   ARP on br-phy, nothing set by hand.
//!
//! The [`Running`] returned owns what it started (one per hypervisor) and
//! removes it on drop, as the single-host contenders do.

use std::path::Path;
use std::process::Command;

use super::super::contenders::{vsctl, Contender, Running};
use super::super::topology::{run, set_offloads};
use super::topology::{Side, VNI};

/// Starts contender `c`'s half of the overlay on hypervisor `s` (`tag`:
/// hv1/hv2, names its run directory).
pub fn start(c: Contender, s: &Side, tag: &str, bin_dir: &Path) -> anyhow::Result<Running> {
    let mut r = Running::empty();
    match c {
        Contender::LinuxBridge => {
            let ip = |a: &[&str]| -> anyhow::Result<()> {
                let mut v = vec!["ip"];
                v.extend_from_slice(a);
                exec(s.ns, &v).map(drop)
            };
            ip(&[
                "link", "add", "vx0", "type", "vxlan", "id", VNI, "local", s.local, "remote",
                s.remote, "dstport", "4789", "dev", s.underlay,
            ])?;
            ip(&["link", "add", "br0", "type", "bridge"])?;
            r.bridge_ns = Some(s.ns.to_string());
            for d in ["vx0", s.vm_port] {
                ip(&["link", "set", d, "master", "br0"])?;
            }
            ip(&["addr", "add", &format!("{}/24", s.local), "dev", s.underlay])?;
            for d in ["vx0", "br0"] {
                ip(&["link", "set", d, "up"])?;
            }
        }
        Contender::FerrovsAfPacket | Contender::FerrovsAfXdp => {
            let dir = r.make_dir(&format!("vxlan-ferrovs-{tag}"))?;
            r.start_ferrovs(&dir, s.ns, bin_dir)?;
            let ty = if c == Contender::FerrovsAfXdp {
                "afxdp"
            } else {
                "system"
            };
            bridges(s, &dir, ty)?;
        }
        Contender::OvsAfPacket | Contender::OvsAfPacketTso => {
            let dir = r.make_dir(&format!("vxlan-ovs-{tag}"))?;
            r.start_ovs(&dir, s.ns, c == Contender::OvsAfPacketTso)?;
            bridges(s, &dir, "system")?;
        }
        other => anyhow::bail!("--vxlan has no {} hypervisor", other.name()),
    }
    Ok(r)
}

/// The VM-side end's offloads off, as the single-host OVS contenders run
/// (OVS 3.1 without userspace TSO drops the VM's TSO super-frames).
pub fn vm_offloads_off(r: &mut Running, vm_ns: &str, vm_dev: &str) -> anyhow::Result<()> {
    let ends = vec![(vm_ns.to_string(), vm_dev.to_string())];
    set_offloads(&ends, false)?;
    r.offloads_off = ends;
    Ok(())
}

/// br-phy (underlay) and br-int (ports of type `ty`) (VM port + VXLAN port), then the underlay
/// address on br-phy; fails with an interface's `error` column.
fn bridges(s: &Side, dir: &Path, ty: &str) -> anyhow::Result<()> {
    let ty = format!("type={ty}");
    let remote = format!("options:remote_ip={}", s.remote);
    let key = format!("options:key={VNI}");
    #[rustfmt::skip]
    vsctl(dir, &[
        "add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
        "fail_mode=standalone",
        "--", "add-port", "br-phy", s.underlay, "--", "set", "Interface", s.underlay, &ty,
        "--", "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
        "fail_mode=standalone",
        "--", "add-port", "br-int", s.vm_port, "--", "set", "Interface", s.vm_port,
        "ofport_request=1", &ty,
        "--", "add-port", "br-int", "vx1", "--", "set", "Interface", "vx1", "type=vxlan",
        &remote, &key, "ofport_request=2",
    ])?;
    for p in [s.underlay, s.vm_port, "vx1"] {
        let err = vsctl(dir, &["get", "Interface", p, "error"])?;
        let ofport = vsctl(dir, &["get", "Interface", p, "ofport"])?;
        if ofport.trim() == "-1" || err.trim() != "[]" {
            anyhow::bail!("port {p}: ofport {}, error {}", ofport.trim(), err.trim());
        }
    }
    let addr = format!("{}/24", s.local);
    exec(s.ns, &["ip", "addr", "add", &addr, "dev", "br-phy"])?;
    exec(s.ns, &["ip", "link", "set", "br-phy", "up"])?;
    Ok(())
}

fn exec(ns: &str, argv: &[&str]) -> anyhow::Result<String> {
    run(Command::new("ip").args(["netns", "exec", ns]).args(argv))
}
