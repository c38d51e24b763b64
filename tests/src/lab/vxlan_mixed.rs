//! Deployment B: self-service VXLAN networks on a mix of
//! Linux-bridge-agent hosts (kernel `vxlan` devices on a Linux bridge per
//! network, no switch) and OVS-agent hosts running the switch with VXLAN
//! ports, on the same VNIs. The router takes one of two forms
//! ([`RouterForm`]): first a namespace on the network node with iptables
//! NAT; second OpenFlow flows with `ct(nat)` on the network node's switch
//! itself ([`super::flow_router`]: br-int answers ARP for the gateways,
//! routes, SNATs and DNATs; br-ex is joined to br-int by a patch port),
//! which the other hosts reach through VXLAN.
//!
//! ```text
//!  outside 198.19.0.100 ── br-ex ─ qg-ext [qrouter: SNAT, FIP 198.19.0.60 -> vmf1]
//!  net (switch, 198.18.0.1): qr-net1 198.18.10.1, qr-net2 198.18.20.1 on br-int
//!  fv1 (switch, 198.18.0.2): vmf1 198.18.10.22 (net1), vmf2 198.18.20.22 (net2)
//!  kn1 (kernel, 198.18.0.3): brq-net1 + vxlan-101: vmk1 198.18.10.21
//!                            brq-net2 + vxlan-102: vmk2 198.18.20.21
//! ```
//!
//! Flooding is head-end replication everywhere: the kernel host has an
//! all-zeros FDB entry per remote (as l2population writes it), the switch
//! hosts the agent's flood table over a full mesh of VXLAN ports.

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context};

use super::figures::{self, Proc, Route};
use super::neutron_gre::{
    agent_br_tun_flows, agent_node, attach_outside, internal_port, ip, Node, OUTSIDE,
};
use super::switch::Backend;
use super::traffic;
use super::{ns_exec, Lab, PathResult, Progress};

const VNIS: [u32; 2] = [101, 102];
const GW: [&str; 2] = ["198.18.10.1", "198.18.20.1"];
const PUBLIC_QG: &str = "198.19.0.10";
const FLOATING: &str = "198.19.0.60";
const KERNEL_TUN_IP: &str = "198.18.0.3";
/// Underlay MTU 1500 less VXLAN's 50 bytes.
const TENANT_MTU: &str = "1450";

/// A VM: name, network, host, address, MAC.
struct Vm {
    name: &'static str,
    net: usize,
    host: &'static str,
    ip: &'static str,
    mac: &'static str,
}

/// Which router the network node runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RouterForm {
    /// A `qrouter` namespace with iptables NAT (Neutron's L3 agent).
    Namespace,
    /// OpenFlow flows with `ct(nat)` in the network node's switch.
    Flows,
}

impl RouterForm {
    pub fn label(&self) -> &'static str {
        match self {
            RouterForm::Namespace => "namespace router",
            RouterForm::Flows => "flow router",
        }
    }
}

/// The outside host's MAC (the flow router's neighbour table holds it).
const OUTSIDE_MAC: &str = "02:00:00:13:00:64";
/// The flow router's MACs on net1, net2 and the provider network.
const ROUTER_MACS: [&str; 3] = [
    "02:00:00:00:01:01",
    "02:00:00:00:02:01",
    "02:00:00:00:ff:01",
];

const VMS: [Vm; 4] = [
    Vm {
        name: "vmk1",
        net: 0,
        host: "kn1",
        ip: "198.18.10.21",
        mac: "02:00:00:0a:00:15",
    },
    Vm {
        name: "vmf1",
        net: 0,
        host: "fv1",
        ip: "198.18.10.22",
        mac: "02:00:00:0a:00:16",
    },
    Vm {
        name: "vmf2",
        net: 1,
        host: "fv1",
        ip: "198.18.20.22",
        mac: "02:00:00:14:00:16",
    },
    Vm {
        name: "vmk2",
        net: 1,
        host: "kn1",
        ip: "198.18.20.21",
        mac: "02:00:00:14:00:15",
    },
];

fn vxlan_port(remote: &str) -> String {
    let hex: String = remote
        .split('.')
        .map(|o| format!("{:02x}", o.parse::<u8>().unwrap_or(0)))
        .collect();
    format!("vxlan-{hex}")
}

/// The lab up.
pub struct Deployment {
    pub nodes: Vec<Node>,
    vm_ns: Vec<String>,
    outside_ns: String,
}

/// Builds the first form (the namespace router).
pub fn build(
    lab: &mut Lab,
    backend: &Backend,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Deployment> {
    build_with(lab, backend, RouterForm::Namespace, log)
}

/// Builds the deployment with router `form`.
pub fn build_with(
    lab: &mut Lab,
    backend: &Backend,
    form: RouterForm,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Deployment> {
    log("underlay 198.18.0.0/24");
    let ul = lab.netns("ul")?;
    ip(&ul, &["link", "add", "br-ul", "type", "bridge"])?;
    ip(&ul, &["link", "set", "br-ul", "up"])?;
    let mut nodes = Vec::new();
    for (i, role) in ["net", "fv1"].into_iter().enumerate() {
        log(&format!(
            "node {role}: {} switch (OVS agent)",
            backend.label()
        ));
        nodes.push(agent_node(
            lab,
            backend,
            &ul,
            role,
            i,
            role == "net",
            VNIS.len(),
        )?);
    }
    // The Linux-bridge host: its tunnel address on its NIC, one bridge and
    // one vxlan device per network.
    log("node kn1: Linux bridge agent (kernel vxlan)");
    let kn = lab.netns("kn1")?;
    ip(
        &ul,
        &[
            "link", "add", "ul-kn1", "type", "veth", "peer", "name", "eth-ul", "netns", &kn,
        ],
    )?;
    ip(&ul, &["link", "set", "ul-kn1", "master", "br-ul", "up"])?;
    ip(
        &kn,
        &[
            "addr",
            "add",
            &format!("{KERNEL_TUN_IP}/24"),
            "dev",
            "eth-ul",
        ],
    )?;
    ip(&kn, &["link", "set", "eth-ul", "up"])?;
    // Frames no larger than the wire's MTU reach the switches' AF_PACKET
    // ports (a veth would pass UDP-tunnel GSO super-packets whole).
    ns_exec(
        &kn,
        &["ethtool", "-K", "eth-ul", "tso", "off", "gso", "off"],
    )?;
    for (n, vni) in VNIS.iter().enumerate() {
        let (vx, brq) = (format!("vxlan-{vni}"), format!("brq-net{}", n + 1));
        ip(
            &kn,
            &[
                "link",
                "add",
                &vx,
                "type",
                "vxlan",
                "id",
                &vni.to_string(),
                "local",
                KERNEL_TUN_IP,
                "dev",
                "eth-ul",
                "dstport",
                "4789",
            ],
        )?;
        for peer in &nodes {
            run_bridge(
                &kn,
                &[
                    "fdb",
                    "append",
                    "00:00:00:00:00:00",
                    "dev",
                    &vx,
                    "dst",
                    &peer.tun_ip,
                ],
            )?;
        }
        ip(&kn, &["link", "add", &brq, "type", "bridge"])?;
        ip(&kn, &["link", "set", &vx, "master", &brq, "up"])?;
        ip(&kn, &["link", "set", &brq, "up"])?;
    }

    // VXLAN ports: the switch hosts to each other and to the kernel host.
    let mut remotes: Vec<String> = nodes.iter().map(|n| n.tun_ip.clone()).collect();
    remotes.push(KERNEL_TUN_IP.into());
    for node in &nodes {
        for r in remotes.iter().filter(|r| **r != node.tun_ip) {
            let name = vxlan_port(r);
            node.switch.vsctl(&[
                "add-port",
                "br-tun",
                &name,
                "--",
                "set",
                "Interface",
                &name,
                "type=vxlan",
                &format!("options:remote_ip={r}"),
                &format!("options:local_ip={}", node.tun_ip),
                "options:key=flow",
                "options:in_key=flow",
                "options:out_key=flow",
            ])?;
        }
    }

    // Network node: the router namespace and the outside host.
    let outside_ns = attach_outside(lab, &nodes[0])?;
    ip(
        &outside_ns,
        &["link", "set", "eth0", "address", OUTSIDE_MAC],
    )?;
    if form == RouterForm::Flows {
        log("network node: flow router on br-int (ct(nat) SNAT, floating IP), outside host on br-ex");
        install_flow_router(&mut nodes[0])?;
    } else {
        log("network node: qrouter (iptables SNAT, floating IP), outside host on br-ex");
        let qr = lab.netns("qrouter-r1")?;
        for (n, gw) in GW.iter().enumerate() {
            let lv = nodes[0].local_vlan(n);
            let dev = format!("qr-net{}", n + 1);
            internal_port(
                &nodes[0],
                "br-int",
                &dev,
                lv,
                &format!("router-net{}", n + 1),
                &qr,
            )?;
            ip(&qr, &["addr", "add", &format!("{gw}/24"), "dev", &dev])?;
            ip(&qr, &["link", "set", &dev, "mtu", TENANT_MTU, "up"])?;
        }
        internal_port(&nodes[0], "br-ex", "qg-ext", 0, "router-gw", &qr)?;
        ip(
            &qr,
            &["addr", "add", &format!("{PUBLIC_QG}/24"), "dev", "qg-ext"],
        )?;
        ip(
            &qr,
            &["addr", "add", &format!("{FLOATING}/32"), "dev", "qg-ext"],
        )?;
        ip(&qr, &["link", "set", "qg-ext", "up"])?;
        ns_exec(&qr, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        let fip_vm = VMS[1].ip;
        for rule in [
            vec![
                "-t",
                "nat",
                "-A",
                "PREROUTING",
                "-d",
                FLOATING,
                "-j",
                "DNAT",
                "--to-destination",
                fip_vm,
            ],
            vec![
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-s",
                fip_vm,
                "-o",
                "qg-ext",
                "-j",
                "SNAT",
                "--to-source",
                FLOATING,
            ],
            vec![
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-s",
                "198.18.0.0/15",
                "-o",
                "qg-ext",
                "-j",
                "SNAT",
                "--to-source",
                PUBLIC_QG,
            ],
        ] {
            let mut v = vec!["iptables", "-w"];
            v.extend(rule);
            ns_exec(&qr, &v)?;
        }
    }

    // VMs.
    let mut vm_ns = Vec::new();
    for vm in VMS.iter() {
        log(&format!(
            "{}: {} on {} (VNI {})",
            vm.name, vm.ip, vm.host, VNIS[vm.net]
        ));
        let ns = lab.netns(vm.name)?;
        let tap = format!("tap-{}", vm.name);
        if vm.host == "kn1" {
            ip(
                &kn,
                &[
                    "link", "add", &tap, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
            )?;
            ip(
                &kn,
                &[
                    "link",
                    "set",
                    &tap,
                    "master",
                    &format!("brq-net{}", vm.net + 1),
                    "up",
                ],
            )?;
        } else {
            let ni = nodes
                .iter()
                .position(|n| n.role == vm.host)
                .context("host")?;
            let lv = nodes[ni].local_vlan(vm.net);
            let hns = nodes[ni].ns().to_string();
            ip(
                &hns,
                &[
                    "link", "add", &tap, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
            )?;
            ip(&hns, &["link", "set", &tap, "up"])?;
            nodes[ni].switch.vsctl(&[
                "add-port",
                "br-int",
                &tap,
                "--",
                "set",
                "Port",
                &tap,
                &format!("tag={lv}"),
                "--",
                "set",
                "Interface",
                &tap,
                &format!("external_ids:iface-id=port-{}", vm.name),
                "external_ids:iface-status=active",
            ])?;
        }
        ip(&ns, &["link", "set", "eth0", "address", vm.mac])?;
        ip(
            &ns,
            &["addr", "add", &format!("{}/24", vm.ip), "dev", "eth0"],
        )?;
        ip(&ns, &["link", "set", "eth0", "mtu", TENANT_MTU, "up"])?;
        ip(&ns, &["route", "add", "default", "via", GW[vm.net]])?;
        vm_ns.push(ns);
    }
    for node in &nodes {
        let ports: Vec<String> = remotes
            .iter()
            .filter(|r| **r != node.tun_ip)
            .map(|r| vxlan_port(r))
            .collect();
        let flows = agent_br_tun_flows(node, &ports, &VNIS, 4)?;
        node.switch.replace_flows("br-tun", &flows)?;
    }
    Ok(Deployment {
        nodes,
        vm_ns,
        outside_ns,
    })
}

/// The second form's router on the network node: br-ex joined to br-int
/// by patch ports, and [`flow_router`](super::flow_router) flows on
/// br-int above the agent's. Tenant frames come and go through
/// patch-tun tagged with the node's local VLAN; the provider side is the
/// patch to br-ex.
fn install_flow_router(net: &mut Node) -> anyhow::Result<()> {
    use super::flow_router::{Neighbour, RouterNet, RouterSpec};
    let lvs: Vec<u16> = (0..GW.len()).map(|n| net.local_vlan(n)).collect();
    let sw = &net.switch;
    sw.vsctl(&[
        "--",
        "add-port",
        "br-int",
        "int-br-ex",
        "--",
        "set",
        "Interface",
        "int-br-ex",
        "type=patch",
        "options:peer=phy-br-ex",
        "--",
        "add-port",
        "br-ex",
        "phy-br-ex",
        "--",
        "set",
        "Interface",
        "phy-br-ex",
        "type=patch",
        "options:peer=int-br-ex",
    ])?;
    let trunk = sw.ofport("patch-tun")?;
    let ex = sw.ofport("int-br-ex")?;
    let mut nets = Vec::new();
    for (n, gw) in GW.iter().enumerate() {
        let vid = 0x1000 | u32::from(lvs[n]);
        let push = format!("push_vlan:0x8100,set_field:{vid}->vlan_vid");
        let cidr = format!("{}.0/24", gw.rsplit_once('.').map(|(a, _)| a).unwrap_or(gw));
        nets.push(RouterNet {
            cidr,
            gw_ip: gw.to_string(),
            gw_mac: ROUTER_MACS[n].into(),
            extra_ips: vec![],
            ingress: vec![format!("in_port={trunk},dl_vlan={}", vid & 0xfff)],
            pop_vlan: true,
            // From another tenant network the frame came in on the trunk
            // itself, so it leaves by in_port.
            egress_to: Box::new(move |_: &str, src: usize| {
                if src < GW.len() {
                    format!("{push},in_port")
                } else {
                    format!("{push},output:{trunk}")
                }
            }),
            arp_reply: format!("push_vlan:0x8100,set_field:{vid}->vlan_vid,in_port"),
        });
    }
    nets.push(RouterNet {
        cidr: "198.19.0.0/24".into(),
        gw_ip: PUBLIC_QG.into(),
        gw_mac: ROUTER_MACS[2].into(),
        extra_ips: vec![FLOATING.into()],
        ingress: vec![format!("in_port={ex}")],
        pop_vlan: false,
        egress_to: Box::new(move |_: &str, _| format!("output:{ex}")),
        arp_reply: "in_port".into(),
    });
    let mut neighbours: Vec<Neighbour> = VMS
        .iter()
        .map(|v| Neighbour {
            ip: v.ip.into(),
            mac: v.mac.into(),
            net: v.net,
        })
        .collect();
    neighbours.push(Neighbour {
        ip: OUTSIDE.into(),
        mac: OUTSIDE_MAC.into(),
        net: 2,
    });
    let spec = RouterSpec {
        nets,
        external_ip: PUBLIC_QG.into(),
        floating: vec![(FLOATING.into(), VMS[1].ip.into())],
        neighbours,
    };
    let mut flows = spec.flows();
    // The agent's own br-int flows stay below the router's.
    flows.extend([
        "table=0,priority=65535,vlan_tci=0x0fff/0x1fff actions=drop".to_string(),
        "table=0,priority=0 actions=resubmit(,60)".into(),
        "table=23,priority=0 actions=drop".into(),
        "table=24,priority=0 actions=drop".into(),
        "table=60,priority=3 actions=NORMAL".into(),
    ]);
    sw.replace_flows("br-int", &flows)?;
    Ok(())
}

fn run_bridge(ns: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut v = vec!["bridge"];
    v.extend_from_slice(args);
    ns_exec(ns, &v)
}

impl Deployment {
    fn vm(&self, name: &str) -> &str {
        &self.vm_ns[VMS.iter().position(|v| v.name == name).expect("vm")]
    }

    fn ping(&self, from: &str, dst: &str) -> anyhow::Result<String> {
        traffic::ping_rtt(from, dst)
    }

    /// TCP from `from` to `dst`: 1 MB into a sink in `sink_ns`; returns
    /// the peer address the sink saw.
    fn tcp(&self, lab: &mut Lab, sink_ns: &str, from: &str, dst: &str) -> anyhow::Result<String> {
        let py = "import socket\n\
                  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
                  s.bind(('0.0.0.0',5101)); s.listen(1); s.settimeout(20); print('ready',flush=True)\n\
                  c,a=s.accept(); c.settimeout(10); n=0\n\
                  while True:\n\
                  \x20 b=c.recv(65536)\n\
                  \x20 if not b: break\n\
                  \x20 n+=len(b)\n\
                  print(a[0],n,flush=True)\n";
        let rx = lab.spawn_lines(
            Command::new(crate::tool("ip")).args(["netns", "exec", sink_ns, "python3", "-c", py]),
        )?;
        ensure!(
            rx.recv_timeout(Duration::from_secs(10)).as_deref() == Ok("ready"),
            "sink did not start"
        );
        let cli = format!(
            "import socket\ns=socket.create_connection(('{dst}',5101),timeout=5)\ns.sendall(b'x'*1000000); s.close()\n"
        );
        ns_exec(from, &["python3", "-c", &cli])?;
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .context("sink saw nothing")?;
        let (peer, n) = line.split_once(' ').unwrap_or(("", "0"));
        ensure!(n == "1000000", "sink got {n} bytes");
        Ok(peer.to_string())
    }

    /// ARP requests for an unused address of network `net` sent from
    /// `from`: which VMs saw them.
    fn arp_reach(&self, from: &str, net: usize) -> anyhow::Result<Vec<&'static str>> {
        let target = if net == 0 {
            "198.18.10.99"
        } else {
            "198.18.20.99"
        };
        let caps: Vec<_> = VMS
            .iter()
            .zip(&self.vm_ns)
            .filter(|(_, ns)| ns.as_str() != from)
            .map(|(vm, ns)| {
                let ns = ns.clone();
                let filt = format!("arp and arp[24:4] = 0x{}", hex_ip(target));
                (
                    vm.name,
                    std::thread::spawn(move || {
                        ns_exec(
                            &ns,
                            &[
                                "timeout",
                                "--foreground",
                                "4",
                                "tcpdump",
                                "-l",
                                "-n",
                                "-i",
                                "eth0",
                                "-c",
                                "1",
                                &filt,
                            ],
                        )
                        .is_ok()
                    }),
                )
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1000));
        let _ = ns_exec(from, &["ping", "-c", "2", "-W", "1", target]);
        let mut saw = Vec::new();
        for (name, h) in caps {
            if h.join().unwrap_or(false) {
                saw.push(name);
            }
        }
        Ok(saw)
    }

    pub fn check(&self, lab: &mut Lab, log: &mut dyn FnMut(&PathResult)) -> Vec<PathResult> {
        let mut res = Vec::new();
        let mut push = |path: &str, r: anyhow::Result<String>| {
            let pr = PathResult::new(path, r);
            log(&pr);
            res.push(pr);
        };
        let (vmk1, vmf1, vmf2) = (self.vm("vmk1"), self.vm("vmf1"), self.vm("vmf2"));
        push(
            "E-W net1: kernel vmk1 -> switch vmf1 ping",
            self.ping(vmk1, VMS[1].ip),
        );
        push(
            "E-W net1: switch vmf1 -> kernel vmk1 TCP",
            self.tcp(lab, vmk1, vmf1, VMS[0].ip)
                .map(|p| format!("from {p}")),
        );
        push(
            "E-W via router: vmk1 (net1) -> vmf2 (net2) ping",
            self.ping(vmk1, VMS[2].ip),
        );
        push(
            "E-W via router: vmf1 (net1) -> vmk2 (net2) ping",
            self.ping(vmf1, VMS[3].ip),
        );
        push(
            "N-S SNAT: kernel vmk1 -> outside TCP",
            self.tcp(lab, &self.outside_ns, vmk1, OUTSIDE)
                .and_then(|p| {
                    ensure!(p == PUBLIC_QG, "outside saw {p}");
                    Ok(format!("outside sees {p}"))
                }),
        );
        push(
            "N-S SNAT: switch vmf2 -> outside ping",
            self.ping(vmf2, OUTSIDE),
        );
        push(
            "N-S DNAT: outside -> floating IP of vmf1 TCP",
            self.ping(&self.outside_ns, FLOATING).and_then(|_| {
                let p = self.tcp(lab, vmf1, &self.outside_ns, FLOATING)?;
                ensure!(p == OUTSIDE, "vmf1 saw {p}");
                Ok(format!("vmf1 sees {p}"))
            }),
        );
        for (from, net, want) in [("vmf1", 0, vec!["vmk1"]), ("vmk2", 1, vec!["vmf2"])] {
            let r = self.arp_reach(self.vm(from), net).and_then(|saw| {
                ensure!(saw == want, "seen by {saw:?}, want {want:?}");
                Ok(format!("seen by {}", saw.join(",")))
            });
            push(
                &format!("ARP broadcast from {from} reaches only net{}", net + 1),
                r,
            );
        }
        res
    }
}

impl Deployment {
    /// The figures (see [`super::figures`]): east-west switch vmf1 (fv1)
    /// to kernel vmk1 (kn1) on net1, north-south vmf2 to the outside host
    /// through SNAT and the outside host to vmf1 through its floating IP,
    /// idle CPU of the switch nodes (the kernel host runs none).
    pub fn figures(&self, lab: &mut Lab, log: &mut dyn FnMut(&str)) -> Vec<PathResult> {
        let (vmk1, vmf1, vmf2) = (self.vm("vmk1"), self.vm("vmf1"), self.vm("vmf2"));
        let routes = [
            Route {
                name: "E-W vmf1 (fv1) -> vmk1 (kn1)",
                client_ns: vmf1,
                server_ns: vmk1,
                dst: VMS[0].ip,
            },
            Route {
                name: "N-S SNAT vmf2 -> outside",
                client_ns: vmf2,
                server_ns: &self.outside_ns,
                dst: OUTSIDE,
            },
            Route {
                name: "N-S FIP outside -> vmf1",
                client_ns: &self.outside_ns,
                server_ns: vmf1,
                dst: FLOATING,
            },
        ];
        let procs: Vec<Proc> = self
            .nodes
            .iter()
            .flat_map(|n| n.switch.procs(n.role))
            .collect();
        figures::measure(lab, &routes, &procs, log)
    }
}

fn hex_ip(ip: &str) -> String {
    ip.split('.')
        .map(|o| format!("{:02x}", o.parse::<u8>().unwrap_or(0)))
        .collect()
}

/// Builds the first form with `backend`, checks every path; a build
/// failure is one row.
pub fn run_scenario(lab: &mut Lab, backend: &Backend, verbose: bool) -> Vec<PathResult> {
    run_scenario_with(lab, backend, RouterForm::Namespace, verbose)
}

/// Builds with `backend` and router `form`, checks every path; a build
/// failure is one row.
pub fn run_scenario_with(
    lab: &mut Lab,
    backend: &Backend,
    form: RouterForm,
    verbose: bool,
) -> Vec<PathResult> {
    let p = Progress::new(format!("{}, {}", backend.label(), form.label()), verbose);
    match build_with(lab, backend, form, &mut |m| p.say(m)) {
        Ok(d) => {
            let mut res = d.check(lab, &mut |r| p.result(r));
            res.extend(d.figures(lab, &mut |m| p.say(m)));
            res
        }
        Err(e) => vec![PathResult::build_failed(e)],
    }
}
