//! The overlay topology of `ferrovs bench --vxlan`: two hypervisors, one
//! VM each, a wire between them.
//!
//! Four namespaces named after this process: the VMs `fvb<pid>-h1`
//! (198.18.0.1/24) and `-h2` (198.18.0.2/24), and the hypervisors
//! `-sw` (hv1) and `-hv2`. Each VM owns one end of a veth pair whose other
//! end (`fvb<pid>p1`, `p2`) is in its hypervisor; the hypervisors share
//! the underlay veth pair `fvb<pid>u1` / `u2`, whose addresses
//! (198.19.0.1 and .2) each contender puts where it wants them (on the
//! underlay device for the kernel, on the underlay bridge for a switch).
//! The underlay has the usual 1500-byte MTU, so the VMs get the 1450 bytes
//! a VXLAN network gives them. The hypervisors answer ARP only on the
//! device that holds the address (`arp_ignore=1`). The VM pair is a plain [`Topology`] (hv1 as
//! its switch namespace), so every figure of [`super::super::measure`]
//! runs on it unchanged. Links are created inside their namespaces;
//! deleting the namespaces removes everything.

use std::process::Command;

use super::super::cleanup::{self, Resource};
use super::super::topology::{prefix, run, Topology, H1_ADDR, H2_ADDR};

/// Underlay addresses of hv1 and hv2 (a /24).
pub const HV_ADDR: [&str; 2] = ["198.19.0.1", "198.19.0.2"];
/// The VNI both ends use.
pub const VNI: &str = "4242";

pub struct Overlay {
    /// The VMs (`h1`, `h2`), hv1 as `sw`, the VM links `p1` (in hv1) and
    /// `p2` (in hv2).
    pub vms: Topology,
    pub hv2: String,
    /// Underlay ends in hv1 and hv2.
    pub u: [String; 2],
}

/// One hypervisor's part: its namespace, VM-side port, underlay end, own
/// and remote underlay address.
pub struct Side<'a> {
    pub ns: &'a str,
    pub vm_port: &'a str,
    pub underlay: &'a str,
    pub local: &'static str,
    pub remote: &'static str,
}

impl Overlay {
    pub fn build() -> anyhow::Result<Overlay> {
        let p = prefix();
        let hv2 = format!("{p}-hv2");
        let vms = Topology::named(&p);
        let o = Overlay {
            vms,
            hv2,
            u: [format!("{p}u1"), format!("{p}u2")],
        };
        for ns in [&o.vms.h1, &o.vms.h2, &o.vms.sw, &o.hv2] {
            run(Command::new("ip").args(["netns", "add", ns]))?;
            cleanup::register(Resource::Netns(ns.clone()));
            o.vms.exec(ns, &["ip", "link", "set", "lo", "up"])?;
            for k in ["all", "default"] {
                let key = format!("net.ipv6.conf.{k}.disable_ipv6=1");
                o.vms.exec(ns, &["sysctl", "-qw", &key])?;
            }
        }
        let t = &o.vms;
        for (hv, hv_end, vm, vm_end, addr) in [
            (&t.sw, &t.p1, &t.h1, &t.h1_dev, H1_ADDR),
            (&o.hv2, &t.p2, &t.h2, &t.h2_dev, H2_ADDR),
        ] {
            veth(hv, hv_end, vm, vm_end)?;
            t.exec(vm, &["ip", "link", "set", vm_end, "mtu", "1450"])?;
            t.exec(
                vm,
                &["ip", "addr", "add", &format!("{addr}/24"), "dev", vm_end],
            )?;
            t.exec(vm, &["ip", "link", "set", vm_end, "up"])?;
            t.exec(hv, &["ip", "link", "set", hv_end, "up"])?;
        }
        veth(&t.sw, &o.u[0], &o.hv2, &o.u[1])?;
        // A switch's underlay address is on its bridge's internal port,
        // yet the kernel still sees every frame of the underlay end: by
        // default it would answer ARP for that address on the underlay end
        // too, with the end's own MAC, and the peer could learn that one
        // (to which no tunnel terminates). Answer only on the device that
        // has the address.
        for ns in [&t.sw, &o.hv2] {
            t.exec(ns, &["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"])?;
        }
        for (ns, dev) in [(&t.sw, &o.u[0]), (&o.hv2, &o.u[1])] {
            t.exec(ns, &["ip", "link", "set", dev, "up"])?;
        }
        Ok(o)
    }

    /// hv1 (`i` = 0) or hv2 (1).
    pub fn side(&self, i: usize) -> Side<'_> {
        Side {
            ns: if i == 0 { &self.vms.sw } else { &self.hv2 },
            vm_port: if i == 0 { &self.vms.p1 } else { &self.vms.p2 },
            underlay: &self.u[i],
            local: HV_ADDR[i],
            remote: HV_ADDR[1 - i],
        }
    }

    /// Runs `argv` in namespace `ns`; fails with its stderr.
    pub fn exec(&self, ns: &str, argv: &[&str]) -> anyhow::Result<String> {
        self.vms.exec(ns, argv)
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        // The VM Topology's own drop removes h1, h2 and hv1.
        let r = Resource::Netns(self.hv2.clone());
        cleanup::undo(&r);
        cleanup::unregister(&r);
    }
}

fn veth(ns_a: &str, a: &str, ns_b: &str, b: &str) -> anyhow::Result<()> {
    run(Command::new("ip").args([
        "link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b,
    ]))?;
    Ok(())
}
