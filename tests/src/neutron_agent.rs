//! One hypervisor of a simulated OpenStack cloud, configured as Neutron's
//! Open vSwitch agent configures a compute node: `br-int` (VM ports with
//! a local VLAN tag per network), `br-tun` (tunnel ports to the other
//! hypervisors, its OpenFlow tables in the agent's form), patch ports
//! between them, and `br-phy` holding the underlay link and the tunnel
//! endpoint address (the userspace-datapath way: the local IP lives on
//! an OVS bridge so that tunnels route through ferrovs's own tables).
//!
//! Bridges and ports are made with `ovs-vsctl` as the agent and os-vif
//! make them; flows are loaded with `ovs-ofctl -O OpenFlow13` in the
//! shapes of the agent's `br_tun`/`br_int` code (table numbers are the
//! agent's constants below). Each method is one agent operation
//! (`setup_tunnel_port`, `provision_local_vlan`, `install_flood_to_tun`,
//! ...), so a test or a lab scenario composes a cloud from them. The
//! hypervisor is the namespace its [`FerrovsVswitchd`] runs in; VMs are
//! [`Vm`] namespaces plugged into it, dropped with it.

use std::fmt::Write as _;

use anyhow::{bail, Context};

use crate::ferrovs_vswitchd::FerrovsVswitchd;
use crate::overlay::{veth_between, Underlay, Vm};

/// br-tun tables (the agent's constants).
pub const PATCH_LV_TO_TUN: u8 = 2;
pub const GRE_TUN_TO_LV: u8 = 3;
pub const VXLAN_TUN_TO_LV: u8 = 4;
pub const GENEVE_TUN_TO_LV: u8 = 6;
pub const LEARN_FROM_TUN: u8 = 10;
pub const UCAST_TO_TUN: u8 = 20;
pub const ARP_RESPONDER: u8 = 21;
pub const FLOOD_TO_TUN: u8 = 22;
/// br-int tables.
pub const LOCAL_SWITCHING: u8 = 0;
pub const CANARY: u8 = 23;
pub const ARP_SPOOF: u8 = 24;
pub const TRANSIENT: u8 = 60;

/// The agent's flow cookie (random per agent run; fixed here).
const COOKIE: &str = "0x9d1ec0de5eed0001";

/// A tenant network type carried over tunnels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelType {
    Vxlan,
    Gre,
    Geneve,
}

impl TunnelType {
    pub fn name(self) -> &'static str {
        match self {
            TunnelType::Vxlan => "vxlan",
            TunnelType::Gre => "gre",
            TunnelType::Geneve => "geneve",
        }
    }
    /// The br-tun table that maps this type's tunnel keys to local VLANs.
    pub fn tun_to_lv(self) -> u8 {
        match self {
            TunnelType::Vxlan => VXLAN_TUN_TO_LV,
            TunnelType::Gre => GRE_TUN_TO_LV,
            TunnelType::Geneve => GENEVE_TUN_TO_LV,
        }
    }
    /// The MTU Neutron gives a VM on this type over a 1500-byte IPv4
    /// underlay.
    pub fn vm_mtu(self) -> u32 {
        match self {
            TunnelType::Vxlan => 1450,
            TunnelType::Gre => 1458,
            TunnelType::Geneve => 1442,
        }
    }
}

/// The agent's tunnel port name: type, `-`, the remote IPv4 address in
/// hex (`vxlan-c6126402`).
pub fn tunnel_port_name(kind: TunnelType, remote_ip: &str) -> anyhow::Result<String> {
    let a: std::net::Ipv4Addr = remote_ip.parse().context("remote_ip")?;
    Ok(format!("{}-{:08x}", kind.name(), u32::from(a)))
}

/// A compute node: its switch (and namespace), tunnel endpoint address and
/// the ofport of br-tun's `patch-int`.
pub struct NeutronHost {
    pub fv: FerrovsVswitchd,
    pub local_ip: String,
    pub patch_int: u32,
}

impl NeutronHost {
    /// Starts a switch, wires it to `underlay` (its `eth1` in `br-phy`,
    /// `local_ip`/`prefix` on br-phy), and sets up br-int and br-tun as
    /// the agent does at start (bridges, patch ports, default tables with
    /// the ARP responder enabled).
    pub fn start(underlay: &mut Underlay, local_ip: &str, prefix: u8) -> anyhow::Result<Self> {
        let fv = FerrovsVswitchd::start()?;
        underlay.attach(fv.netns(), "eth1")?;
        vsctl(
            &fv,
            &[
                "add-br",
                "br-phy",
                "--",
                "set",
                "Bridge",
                "br-phy",
                "datapath_type=netdev",
                "fail_mode=standalone",
                "--",
                "add-port",
                "br-phy",
                "eth1",
            ],
        )?;
        let ns = fv.netns();
        // The kernel still sees what arrives on eth1 (AF_PACKET does not
        // steal it, unlike the kernel datapath or DPDK): keep its own stack
        // from answering ARP for br-phy's address there with eth1's MAC,
        // which would steer tunnel traffic to the kernel instead of the
        // switch, and from speaking IPv6 on it.
        ns.exec(&["sysctl", "-qw", "net.ipv4.conf.eth1.arp_ignore=1"])?;
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=1"])?;
        ns.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{local_ip}/{prefix}"),
            "dev",
            "br-phy",
        ])?;
        ns.exec(&["ip", "link", "set", "br-phy", "up"])?;
        let protocols = "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14";
        for br in ["br-int", "br-tun"] {
            vsctl(
                &fv,
                &[
                    "--may-exist",
                    "add-br",
                    br,
                    "--",
                    "set",
                    "Bridge",
                    br,
                    "datapath_type=netdev",
                    protocols,
                    "--",
                    "set-fail-mode",
                    br,
                    "secure",
                ],
            )?;
        }
        vsctl(
            &fv,
            &[
                "--may-exist",
                "add-port",
                "br-int",
                "patch-tun",
                "--",
                "set",
                "Interface",
                "patch-tun",
                "type=patch",
                "options:peer=patch-int",
                "--",
                "--may-exist",
                "add-port",
                "br-tun",
                "patch-int",
                "--",
                "set",
                "Interface",
                "patch-int",
                "type=patch",
                "options:peer=patch-tun",
            ],
        )?;
        let patch_int = ofport(&fv, "patch-int")?;
        let h = NeutronHost {
            fv,
            local_ip: local_ip.to_string(),
            patch_int,
        };
        h.setup_int_default_table()?;
        h.setup_tun_default_table()?;
        Ok(h)
    }

    /// br-int's tables at agent start: the dead VLAN dropped, everything
    /// else through the transient table to NORMAL; canary and ARP-spoof
    /// tables empty but for a drop.
    fn setup_int_default_table(&self) -> anyhow::Result<()> {
        self.add_flows(
            "br-int",
            &[
                format!(
                    "table={LOCAL_SWITCHING},priority=65535,vlan_tci=0x0fff/0x1fff,actions=drop"
                ),
                format!("table={LOCAL_SWITCHING},priority=0,actions=resubmit(,{TRANSIENT})"),
                format!("table={CANARY},priority=0,actions=drop"),
                format!("table={ARP_SPOOF},priority=0,actions=drop"),
                format!("table={TRANSIENT},priority=3,actions=NORMAL"),
            ],
        )
    }

    /// br-tun's tables at agent start (`setup_default_table` with the ARP
    /// responder): from patch-int to 2, unicast/flood split, tunnel-to-LV
    /// tables dropping unknown keys, learning into 20, defaults
    /// falling through to the flood table, which drops.
    fn setup_tun_default_table(&self) -> anyhow::Result<()> {
        let p = self.patch_int;
        let mut f = vec![
            format!("table=0,priority=1,in_port={p},actions=resubmit(,{PATCH_LV_TO_TUN})"),
            "table=0,priority=0,actions=drop".to_string(),
            format!(
                "table={PATCH_LV_TO_TUN},priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff,actions=resubmit(,{ARP_RESPONDER})"
            ),
            format!(
                "table={PATCH_LV_TO_TUN},priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,{UCAST_TO_TUN})"
            ),
            format!(
                "table={PATCH_LV_TO_TUN},priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,{FLOOD_TO_TUN})"
            ),
        ];
        for t in [GRE_TUN_TO_LV, VXLAN_TUN_TO_LV, GENEVE_TUN_TO_LV] {
            f.push(format!("table={t},priority=0,actions=drop"));
        }
        f.push(format!(
            "table={LEARN_FROM_TUN},priority=1,actions=learn(cookie={COOKIE},table={UCAST_TO_TUN},\
             priority=1,hard_timeout=300,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],\
             load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],\
             output:NXM_OF_IN_PORT[]),output:{p}"
        ));
        f.push(format!(
            "table={UCAST_TO_TUN},priority=0,actions=resubmit(,{FLOOD_TO_TUN})"
        ));
        f.push(format!(
            "table={ARP_RESPONDER},priority=0,actions=resubmit(,{FLOOD_TO_TUN})"
        ));
        f.push(format!("table={FLOOD_TO_TUN},priority=0,actions=drop"));
        self.add_flows("br-tun", &f)
    }

    /// Creates the tunnel port to `remote_ip` as the agent does (keys from
    /// the flow, DF set) and sends what it receives to the type's
    /// tunnel-to-LV table (`setup_tunnel_port`); returns its ofport.
    pub fn add_tunnel(&self, kind: TunnelType, remote_ip: &str) -> anyhow::Result<u32> {
        let name = tunnel_port_name(kind, remote_ip)?;
        vsctl(
            &self.fv,
            &[
                "--may-exist",
                "add-port",
                "br-tun",
                &name,
                "--",
                "set",
                "Interface",
                &name,
                &format!("type={}", kind.name()),
                &format!("options:remote_ip={remote_ip}"),
                &format!("options:local_ip={}", self.local_ip),
                "options:in_key=flow",
                "options:out_key=flow",
                "options:df_default=true",
                "options:egress_pkt_mark=0",
            ],
        )?;
        let port = ofport(&self.fv, &name)?;
        self.add_flows(
            "br-tun",
            &[format!(
                "table=0,priority=1,in_port={port},actions=resubmit(,{})",
                kind.tun_to_lv()
            )],
        )?;
        Ok(port)
    }

    /// Maps tunnel key `segment` of `kind` to local VLAN `lvid`
    /// (`provision_local_vlan`).
    pub fn provision_local_vlan(
        &self,
        kind: TunnelType,
        segment: u32,
        lvid: u16,
    ) -> anyhow::Result<()> {
        self.add_flows(
            "br-tun",
            &[format!(
                "table={},priority=1,tun_id={segment},actions=mod_vlan_vid:{lvid},resubmit(,{LEARN_FROM_TUN})",
                kind.tun_to_lv()
            )],
        )
    }

    /// Floods local VLAN `lvid` into the tunnels `ports` with key `segment`
    /// (`install_flood_to_tun`; with l2population, only the tunnels to
    /// hosts with ports on the network, else all tunnels of the type).
    pub fn install_flood_to_tun(
        &self,
        lvid: u16,
        segment: u32,
        ports: &[u32],
    ) -> anyhow::Result<()> {
        let out: Vec<String> = ports.iter().map(u32::to_string).collect();
        self.add_flows(
            "br-tun",
            &[format!(
                "table={FLOOD_TO_TUN},priority=1,dl_vlan={lvid},actions=strip_vlan,set_tunnel:{segment},output:{}",
                out.join(",")
            )],
        )
    }

    /// An l2population unicast entry: `mac` on local VLAN `lvid` is behind
    /// tunnel `port` (`install_unicast_to_tun`).
    pub fn install_unicast_to_tun(
        &self,
        lvid: u16,
        segment: u32,
        port: u32,
        mac: &str,
    ) -> anyhow::Result<()> {
        self.add_flows(
            "br-tun",
            &[format!(
                "table={UCAST_TO_TUN},priority=2,dl_vlan={lvid},dl_dst={mac},actions=strip_vlan,set_tunnel:{segment},output:{port}"
            )],
        )
    }

    /// An ARP responder entry: requests for `ip` on `lvid` are answered
    /// with `mac` by br-tun itself (`install_arp_responder`).
    pub fn install_arp_responder(&self, lvid: u16, ip: &str, mac: &str) -> anyhow::Result<()> {
        let ip_hex = u32::from(ip.parse::<std::net::Ipv4Addr>().context("ip")?);
        let mac_hex = u64::from_str_radix(&mac.replace(':', ""), 16).context("mac")?;
        self.add_flows(
            "br-tun",
            &[format!(
                "table={ARP_RESPONDER},priority=1,arp,dl_vlan={lvid},arp_tpa={ip},actions=\
                 move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:{mac},load:0x2->NXM_OF_ARP_OP[],\
                 move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],\
                 load:{mac_hex:#x}->NXM_NX_ARP_SHA[],load:{ip_hex:#x}->NXM_OF_ARP_SPA[],in_port"
            )],
        )
    }

    /// A provider bridge as the agent sets up a `bridge_mappings` entry:
    /// `bridge` (secure, `nic` in it), patch ports `int-<bridge>` on br-int
    /// and `phy-<bridge>` on `bridge`, and their default flows (traffic
    /// from the patch ports dropped until a network is provisioned,
    /// NORMAL otherwise on the provider bridge). `nic` must exist in the
    /// hypervisor's namespace.
    pub fn add_provider_bridge(&self, bridge: &str, nic: &str) -> anyhow::Result<()> {
        let (int_p, phy_p) = (format!("int-{bridge}"), format!("phy-{bridge}"));
        vsctl(
            &self.fv,
            &[
                "--may-exist",
                "add-br",
                bridge,
                "--",
                "set",
                "Bridge",
                bridge,
                "datapath_type=netdev",
                "--",
                "set-fail-mode",
                bridge,
                "secure",
                "--",
                "--may-exist",
                "add-port",
                bridge,
                nic,
                "--",
                "--may-exist",
                "add-port",
                "br-int",
                &int_p,
                "--",
                "set",
                "Interface",
                &int_p,
                "type=patch",
                &format!("options:peer={phy_p}"),
                "--",
                "--may-exist",
                "add-port",
                bridge,
                &phy_p,
                "--",
                "set",
                "Interface",
                &phy_p,
                "type=patch",
                &format!("options:peer={int_p}"),
            ],
        )?;
        let (int_n, phy_n) = (ofport(&self.fv, &int_p)?, ofport(&self.fv, &phy_p)?);
        self.add_flows(
            bridge,
            &[
                format!("table=0,priority=2,in_port={phy_n},actions=drop"),
                "table=0,priority=0,actions=NORMAL".to_string(),
            ],
        )?;
        self.add_flows(
            "br-int",
            &[format!(
                "table={LOCAL_SWITCHING},priority=2,in_port={int_n},actions=drop"
            )],
        )
    }

    /// Maps provider VLAN `segment` on `bridge` to local VLAN `lvid`
    /// (`provision_local_vlan` of a VLAN network on both bridges).
    pub fn provision_provider_vlan(
        &self,
        bridge: &str,
        segment: u16,
        lvid: u16,
    ) -> anyhow::Result<()> {
        let int_n = ofport(&self.fv, &format!("int-{bridge}"))?;
        let phy_n = ofport(&self.fv, &format!("phy-{bridge}"))?;
        self.add_flows(
            bridge,
            &[format!(
                "table=0,priority=4,in_port={phy_n},dl_vlan={lvid},actions=mod_vlan_vid:{segment},NORMAL"
            )],
        )?;
        self.add_flows(
            "br-int",
            &[format!(
                "table={LOCAL_SWITCHING},priority=3,in_port={int_n},dl_vlan={segment},actions=mod_vlan_vid:{lvid},resubmit(,{TRANSIENT})"
            )],
        )
    }

    /// A VM plugged straight into br-int through tap port `tap` (as os-vif
    /// plugs it, with the port's external ids), tagged `lvid` by the agent.
    pub fn plug_vm_tap(
        &self,
        tag: &str,
        tap: &str,
        lvid: u16,
        mac: &str,
        ip: &str,
        mtu: u32,
    ) -> anyhow::Result<Vm> {
        let vm = Vm::plug(tag, self.fv.netns(), tap, mac, ip, 24, mtu)?;
        self.fv
            .netns()
            .exec(&["ip", "link", "set", tap, "mtu", &mtu.to_string()])?;
        self.add_int_port(tap, mac, lvid)?;
        Ok(vm)
    }

    /// A VM in the iptables-hybrid layout: its `tap<id>` in Linux bridge
    /// `qbr<id>`, with veth `qvb<id>`/`qvo<id>` from that bridge to br-int
    /// (`qvo<id>` tagged `lvid`).
    pub fn plug_vm_hybrid(
        &self,
        tag: &str,
        id: &str,
        lvid: u16,
        mac: &str,
        ip: &str,
        mtu: u32,
    ) -> anyhow::Result<Vm> {
        let ns = self.fv.netns();
        let (tap, qbr, qvb, qvo) = (
            format!("tap{id}"),
            format!("qbr{id}"),
            format!("qvb{id}"),
            format!("qvo{id}"),
        );
        let vm = Vm::plug(tag, ns, &tap, mac, ip, 24, mtu)?;
        let m = mtu.to_string();
        ns.exec(&["ip", "link", "add", &qbr, "type", "bridge"])?;
        veth_between(ns, &qvb, ns, &qvo)?;
        for dev in [&tap, &qvb, &qvo] {
            ns.exec(&["ip", "link", "set", dev, "mtu", &m])?;
        }
        for dev in [&tap, &qvb] {
            ns.exec(&["ip", "link", "set", dev, "master", &qbr])?;
        }
        ns.exec(&["ip", "link", "set", &qbr, "up"])?;
        self.add_int_port(&qvo, mac, lvid)?;
        Ok(vm)
    }

    /// os-vif's `add-port` with the port's identity, then the agent's
    /// local VLAN tag.
    fn add_int_port(&self, port: &str, mac: &str, lvid: u16) -> anyhow::Result<()> {
        vsctl(
            &self.fv,
            &[
                "--",
                "--may-exist",
                "add-port",
                "br-int",
                port,
                "--",
                "set",
                "Interface",
                port,
                &format!("external_ids:iface-id={port}-iface"),
                "external_ids:iface-status=active",
                &format!("external_ids:attached-mac={mac}"),
                &format!("external_ids:vm-uuid={port}-vm"),
            ],
        )?;
        vsctl(&self.fv, &["set", "Port", port, &format!("tag={lvid}")])?;
        Ok(())
    }

    /// `ovs-ofctl -O OpenFlow13 add-flows BRIDGE FILE` with `flows`, one a
    /// line, each with the agent's cookie.
    pub fn add_flows(&self, bridge: &str, flows: &[String]) -> anyhow::Result<()> {
        let mut text = String::new();
        for f in flows {
            let _ = writeln!(text, "cookie={COOKIE},{f}");
        }
        let path = self.fv.dir().join(format!("{bridge}.flows"));
        std::fs::write(&path, text)?;
        let out = self.fv.ofctl(
            &["-O", "OpenFlow13"],
            "add-flows",
            bridge,
            &[path.to_str().unwrap_or_default()],
        );
        if !out.status.success() {
            bail!(
                "ovs-ofctl add-flows {bridge}: {}\nflows:\n{}",
                String::from_utf8_lossy(&out.stderr),
                flows.join("\n")
            );
        }
        Ok(())
    }

    /// `ovs-ofctl -O OpenFlow13 dump-flows BRIDGE [MATCH]`.
    pub fn dump_flows(&self, bridge: &str, matches: &[&str]) -> String {
        let out = self
            .fv
            .ofctl(&["-O", "OpenFlow13"], "dump-flows", bridge, matches);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn vsctl(fv: &FerrovsVswitchd, args: &[&str]) -> anyhow::Result<String> {
    let out = fv.vsctl(args);
    if !out.status.success() {
        bail!(
            "ovs-vsctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The OpenFlow port number ovsdb reports for interface `name`.
fn ofport(fv: &FerrovsVswitchd, name: &str) -> anyhow::Result<u32> {
    let s = vsctl(fv, &["get", "Interface", name, "ofport"])?;
    let n: i64 = s
        .trim()
        .parse()
        .with_context(|| format!("ofport of {name}: {s:?}"))?;
    anyhow::ensure!(n > 0, "interface {name} has ofport {n}");
    Ok(n as u32)
}
