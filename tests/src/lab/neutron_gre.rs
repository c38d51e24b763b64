//! Deployment A: Neutron with the OVS agent, GRE tenant networks and the
//! iptables-hybrid firewall, on one machine.
//!
//! ```text
//!  outside 198.19.0.100 ── br-ex ─ qg-ext [qrouter: SNAT, FIP 198.19.0.50]
//!                               network node   qr-net1 ─ br-int ─ tap-dhcp-* [qdhcp-*]
//!                                                          │ patch
//!                                                        br-tun ══ GRE (br-phy 198.18.0.1)
//!  underlay 198.18.0.0/24 (a Linux bridge in its own namespace)
//!  compute cn1 (198.18.0.2): vm1 (net1), vm3 (net2)   cn2 (198.18.0.3): vm4 (net2), vm2 (net1)
//!  each VM: eth0 ─ tap-vmN ─ qbr-vmN (iptables) ─ qvb-vmN ═ qvo-vmN ─ br-int (local VLAN tag)
//! ```
//!
//! Both tenant networks use 198.18.10.0/24 (overlapping, as tenants'
//! networks may), so only the switches keep them apart. Each node picks
//! its local VLANs in the order its ports appear, as the agent does: cn2
//! plugs its net2 VM first, so net1 has VLAN 1 on cn1 and 2 on cn2. The
//! flows of br-int and br-tun have the shapes of the agent's native
//! (os-ken) driver: br-tun table 0 splits patch from tunnel traffic, 2
//! splits unicast (20) from flood (22), 3 maps GRE keys to local VLANs,
//! 10 learns the sender's tunnel port into 20, 22 floods to every tunnel.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use super::figures::{self, Proc, Route};
use super::switch::{Backend, Switch};
use super::traffic;
use super::{ns_exec, Lab, PathResult, Progress};

/// A tenant network: name, GRE key, DHCP server address, DHCP hosts.
struct Net {
    name: &'static str,
    key: u32,
}

const NETS: [Net; 2] = [
    Net {
        name: "net1",
        key: 0x65,
    },
    Net {
        name: "net2",
        key: 0x66,
    },
];
const SUBNET_GW: &str = "198.18.10.1";
const DHCP_ADDR: &str = "198.18.10.2";
const PUBLIC_QG: &str = "198.19.0.10";
const FLOATING: &str = "198.19.0.50";
pub(super) const OUTSIDE: &str = "198.19.0.100";
/// Underlay MTU 1500 less GRE's 42 bytes (outer IPv4, GRE with key,
/// inner Ethernet): what Neutron gives a GRE network.
const TENANT_MTU: &str = "1458";

/// A VM: name, network, compute node, MAC, fixed IP.
struct Vm {
    name: &'static str,
    net: usize,
    node: &'static str,
    mac: &'static str,
    ip: &'static str,
}

/// In plug order per node (cn2 plugs vm4, of net2, first).
const VMS: [Vm; 4] = [
    Vm {
        name: "vm1",
        net: 0,
        node: "cn1",
        mac: "fa:16:3e:00:00:11",
        ip: "198.18.10.11",
    },
    Vm {
        name: "vm3",
        net: 1,
        node: "cn1",
        mac: "fa:16:3e:00:00:13",
        ip: "198.18.10.13",
    },
    Vm {
        name: "vm4",
        net: 1,
        node: "cn2",
        mac: "fa:16:3e:00:00:14",
        ip: "198.18.10.14",
    },
    Vm {
        name: "vm2",
        net: 0,
        node: "cn2",
        mac: "fa:16:3e:00:00:12",
        ip: "198.18.10.12",
    },
];
/// The port vm1's security group blocks (a listener runs there).
const BLOCKED_PORT: u16 = 2222;
const OPEN_PORT: u16 = 5001;

/// A hypervisor: its namespace, switch, underlay address and the local
/// VLAN it gave each network (index into [`NETS`]).
pub struct Node {
    pub role: &'static str,
    pub switch: Switch,
    pub tun_ip: String,
    lvs: Vec<Option<u16>>,
}

impl Node {
    pub(super) fn ns(&self) -> &str {
        &self.switch.ns
    }
    /// The node's local VLAN for network `net`, allocated on first use.
    pub(super) fn local_vlan(&mut self, net: usize) -> u16 {
        if let Some(v) = self.lvs[net] {
            return v;
        }
        let v = self.lvs.iter().flatten().count() as u16 + 1;
        self.lvs[net] = Some(v);
        v
    }
}

/// The lab up: what the checks need.
pub struct Deployment {
    pub nodes: Vec<Node>,
    vm_ns: Vec<String>,
    outside_ns: String,
    qdhcp_ns: Vec<String>,
    qrouter_ns: String,
    dir: PathBuf,
    backend: Backend,
}

pub(super) fn ip(ns: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut v = vec!["ip"];
    v.extend_from_slice(args);
    ns_exec(ns, &v)
}

/// Builds the whole deployment; `log` is told each step.
pub fn build(
    lab: &mut Lab,
    backend: &Backend,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Deployment> {
    let dir = lab.dir().to_path_buf();
    // Underlay: a Linux bridge in a namespace of its own.
    log("underlay 198.18.0.0/24");
    let ul = lab.netns("ul")?;
    ip(&ul, &["link", "add", "br-ul", "type", "bridge"])?;
    ip(&ul, &["link", "set", "br-ul", "up"])?;

    let mut nodes = Vec::new();
    for (i, role) in ["net", "cn1", "cn2"].into_iter().enumerate() {
        log(&format!("node {role}: {} switch", backend.label()));
        nodes.push(agent_node(
            lab,
            backend,
            &ul,
            role,
            i,
            role == "net",
            NETS.len(),
        )?);
    }

    // GRE ports: a full mesh (no l2population: flooding reaches every node).
    for i in 0..nodes.len() {
        for j in 0..nodes.len() {
            if i == j {
                continue;
            }
            let remote = nodes[j].tun_ip.clone();
            let name = gre_port(&remote);
            nodes[i].switch.vsctl(&[
                "add-port",
                "br-tun",
                &name,
                "--",
                "set",
                "Interface",
                &name,
                "type=gre",
                &format!("options:remote_ip={remote}"),
                &format!("options:local_ip={}", nodes[i].tun_ip),
                "options:key=flow",
                "options:in_key=flow",
                "options:out_key=flow",
                "options:df_default=true",
            ])?;
        }
    }

    // Network node: outside host on br-ex, DHCP per network, router.
    log("network node: qdhcp-net1, qdhcp-net2, qrouter, outside host on br-ex");
    let outside_ns = attach_outside(lab, &nodes[0])?;

    let mut qdhcp_ns = Vec::new();
    for (n, net) in NETS.iter().enumerate() {
        let ns = lab.netns(&format!("qdhcp-{}", net.name))?;
        let dev = format!("tap-dhcp-{n}");
        let lv = nodes[0].local_vlan(n);
        internal_port(
            &nodes[0],
            "br-int",
            &dev,
            lv,
            &format!("dhcp-{}", net.name),
            &ns,
        )?;
        ip(
            &ns,
            &["addr", "add", &format!("{DHCP_ADDR}/24"), "dev", &dev],
        )?;
        ip(&ns, &["link", "set", &dev, "mtu", TENANT_MTU, "up"])?;
        start_dnsmasq(lab, &ns, &dev, n, &dir)?;
        qdhcp_ns.push(ns);
    }

    let qrouter_ns = lab.netns("qrouter-r1")?;
    let lv = nodes[0].local_vlan(0);
    internal_port(
        &nodes[0],
        "br-int",
        "qr-net1",
        lv,
        "router-net1",
        &qrouter_ns,
    )?;
    internal_port(&nodes[0], "br-ex", "qg-ext", 0, "router-gw", &qrouter_ns)?;
    let r = |a: &[&str]| ip(&qrouter_ns, a);
    r(&["addr", "add", &format!("{SUBNET_GW}/24"), "dev", "qr-net1"])?;
    r(&["link", "set", "qr-net1", "mtu", TENANT_MTU, "up"])?;
    r(&["addr", "add", &format!("{PUBLIC_QG}/24"), "dev", "qg-ext"])?;
    r(&["addr", "add", &format!("{FLOATING}/32"), "dev", "qg-ext"])?;
    r(&["link", "set", "qg-ext", "up"])?;
    ns_exec(&qrouter_ns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
    let ipt = |a: &[&str]| -> anyhow::Result<String> {
        let mut v = vec!["iptables", "-w"];
        v.extend_from_slice(a);
        ns_exec(&qrouter_ns, &v)
    };
    // Floating IP first (DNAT in, its own SNAT out), then the network's SNAT.
    ipt(&[
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-d",
        FLOATING,
        "-j",
        "DNAT",
        "--to-destination",
        VMS[0].ip,
    ])?;
    ipt(&[
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-d",
        FLOATING,
        "-j",
        "DNAT",
        "--to-destination",
        VMS[0].ip,
    ])?;
    ipt(&[
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        VMS[0].ip,
        "-o",
        "qg-ext",
        "-j",
        "SNAT",
        "--to-source",
        FLOATING,
    ])?;
    ipt(&[
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        "198.18.10.0/24",
        "-o",
        "qg-ext",
        "-j",
        "SNAT",
        "--to-source",
        PUBLIC_QG,
    ])?;

    // br-tun flows on every node, now that all local VLANs of the network
    // node are known; compute nodes get theirs after plugging VMs.
    // Compute nodes: plug each VM the hybrid way.
    let mut vm_ns = Vec::new();
    for vm in VMS.iter() {
        log(&format!(
            "{}: {} on {} (network {})",
            vm.name, vm.ip, vm.node, NETS[vm.net].name
        ));
        let ni = nodes.iter().position(|n| n.role == vm.node).expect("node");
        let lv = nodes[ni].local_vlan(vm.net);
        let ns = lab.netns(vm.name)?;
        plug_hybrid(&nodes[ni], vm, lv, &ns)?;
        vm_ns.push(ns);
    }
    // Security group of vm1: everything allowed but BLOCKED_PORT inbound.
    let cn1 = nodes[1].ns().to_string();
    ns_exec(
        &cn1,
        &["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"],
    )?;
    let physdev = ns_exec(
        &cn1,
        &[
            "iptables",
            "-w",
            "-A",
            "FORWARD",
            "-m",
            "physdev",
            "--physdev-out",
            "tap-vm1",
            "--physdev-is-bridged",
            "-p",
            "tcp",
            "--dport",
            &BLOCKED_PORT.to_string(),
            "-j",
            "DROP",
        ],
    );
    if physdev.is_err() {
        // Without the physdev match: bridged frames of qbr-vm1 leave by it.
        ns_exec(
            &cn1,
            &[
                "iptables",
                "-w",
                "-A",
                "FORWARD",
                "-o",
                "qbr-vm1",
                "-p",
                "tcp",
                "--dport",
                &BLOCKED_PORT.to_string(),
                "-j",
                "DROP",
            ],
        )?;
    }

    for i in 0..nodes.len() {
        let flows = br_tun_flows(&nodes, i)?;
        nodes[i].switch.replace_flows("br-tun", &flows)?;
    }
    Ok(Deployment {
        nodes,
        vm_ns,
        outside_ns,
        qdhcp_ns,
        qrouter_ns,
        dir,
        backend: backend.clone(),
    })
}

/// A hypervisor as the OVS agent sets it up: its switch in namespace
/// `role`, an uplink `eth-ul` on br-phy (holding tunnel address
/// 198.18.0.<i+1>) joined to the underlay bridge in `ul`, br-int and
/// br-tun joined by patch ports, br-ex when `with_ex`, and br-int's
/// tables.
pub(super) fn agent_node(
    lab: &mut Lab,
    backend: &Backend,
    ul: &str,
    role: &'static str,
    i: usize,
    with_ex: bool,
    n_nets: usize,
) -> anyhow::Result<Node> {
    let ns = lab.netns(role)?;
    let tun_ip = format!("198.18.0.{}", i + 1);
    let port = format!("ul-{role}");
    ip(
        ul,
        &[
            "link", "add", &port, "type", "veth", "peer", "name", "eth-ul", "netns", &ns,
        ],
    )?;
    ip(ul, &["link", "set", &port, "master", "br-ul", "up"])?;
    // The NIC belongs to the switch: its kernel side must not answer
    // ARP for the node's tunnel address (held by br-phy) with its own
    // MAC, or peers may learn a next hop the switch does not pop
    // tunnels for.
    ns_exec(&ns, &["sysctl", "-qw", "net.ipv4.conf.eth-ul.arp_ignore=1"])?;
    ns_exec(
        &ns,
        &["sysctl", "-qw", "net.ipv6.conf.eth-ul.disable_ipv6=1"],
    )?;
    ip(&ns, &["link", "set", "eth-ul", "up"])?;
    let switch = Switch::start(lab, backend, &ns, &lab.dir().join(role))?;
    let br = |name: &str, mode: &str| -> Vec<String> {
        [
            "--",
            "--may-exist",
            "add-br",
            name,
            "--",
            "set",
            "Bridge",
            name,
            "datapath_type=netdev",
            "protocols=OpenFlow10,OpenFlow13",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("fail_mode={mode}")])
        .collect()
    };
    let mut args: Vec<String> = Vec::new();
    args.extend(br("br-phy", "standalone"));
    args.extend(["--", "add-port", "br-phy", "eth-ul"].map(String::from));
    args.extend(br("br-int", "secure"));
    args.extend(br("br-tun", "secure"));
    args.extend(
        [
            "--",
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
            "add-port",
            "br-tun",
            "patch-int",
            "--",
            "set",
            "Interface",
            "patch-int",
            "type=patch",
            "options:peer=patch-tun",
        ]
        .map(String::from),
    );
    if with_ex {
        args.extend(br("br-ex", "standalone"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    switch.vsctl(&a)?;
    ip(
        &ns,
        &["addr", "add", &format!("{tun_ip}/24"), "dev", "br-phy"],
    )?;
    ip(&ns, &["link", "set", "br-phy", "up"])?;
    // br-int: the agent's tables (dead VLAN dropped, NORMAL in 60).
    switch.replace_flows(
        "br-int",
        &[
            "table=0,priority=65535,vlan_tci=0x0fff/0x1fff actions=drop".into(),
            "table=0,priority=0 actions=resubmit(,60)".into(),
            "table=23,priority=0 actions=drop".into(),
            "table=24,priority=0 actions=drop".into(),
            "table=60,priority=3 actions=NORMAL".into(),
        ],
    )?;
    Ok(Node {
        role,
        switch,
        tun_ip,
        lvs: vec![None; n_nets],
    })
}

/// Neutron's name of a tunnel port: `gre-` and the remote address in hex.
/// The "outside" host: a namespace whose eth0 is veth-joined to br-ex of
/// `node` (port `ex-out`), with address OUTSIDE/24; its namespace name.
pub(super) fn attach_outside(lab: &mut Lab, node: &Node) -> anyhow::Result<String> {
    let outside_ns = lab.netns("outside")?;
    let net_ns = node.ns().to_string();
    ip(
        &net_ns,
        &[
            "link",
            "add",
            "ex-out",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &outside_ns,
        ],
    )?;
    ip(&net_ns, &["link", "set", "ex-out", "up"])?;
    node.switch.vsctl(&["add-port", "br-ex", "ex-out"])?;
    ip(
        &outside_ns,
        &["addr", "add", &format!("{OUTSIDE}/24"), "dev", "eth0"],
    )?;
    ip(&outside_ns, &["link", "set", "eth0", "up"])?;
    Ok(outside_ns)
}

fn gre_port(remote: &str) -> String {
    let hex: String = remote
        .split('.')
        .map(|o| format!("{:02x}", o.parse::<u8>().unwrap_or(0)))
        .collect();
    format!("gre-{hex}")
}

/// An internal port `dev` on `bridge` (tagged `tag` unless 0), moved into
/// namespace `to` as the DHCP and L3 agents' interface driver does.
pub(super) fn internal_port(
    node: &Node,
    bridge: &str,
    dev: &str,
    tag: u16,
    id: &str,
    to: &str,
) -> anyhow::Result<()> {
    let mut args = vec![
        "--".to_string(),
        "add-port".into(),
        bridge.into(),
        dev.into(),
        "--".into(),
        "set".into(),
        "Interface".into(),
        dev.into(),
        "type=internal".into(),
        format!("external_ids:iface-id={id}"),
        "external_ids:iface-status=active".into(),
    ];
    if tag != 0 {
        args.extend([
            "--".into(),
            "set".into(),
            "Port".into(),
            dev.into(),
            format!("tag={tag}"),
        ]);
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    node.switch.vsctl(&a)?;
    // The switch made the device in its namespace; wait for it, then move it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ip(node.ns(), &["link", "show", dev]).is_err() {
        if Instant::now() > deadline {
            bail!("internal port {dev} did not appear in {}", node.ns());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ip(node.ns(), &["link", "set", dev, "netns", to])?;
    Ok(())
}

/// dnsmasq for network `n` in its qdhcp namespace: fixed addresses for
/// the network's VMs only (as Neutron's hosts file), the router and MTU
/// options, no DNS.
fn start_dnsmasq(lab: &mut Lab, ns: &str, dev: &str, n: usize, dir: &Path) -> anyhow::Result<()> {
    let hosts: String = VMS
        .iter()
        .filter(|v| v.net == n)
        .map(|v| format!("{},{}\n", v.mac, v.ip))
        .collect();
    let hosts_file = dir.join(format!("dhcp-hosts-{}", NETS[n].name));
    std::fs::write(&hosts_file, hosts)?;
    let mut c = Command::new(crate::tool("ip"));
    c.args(["netns", "exec", ns])
        .arg(crate::tool("dnsmasq"))
        .args([
            "--keep-in-foreground",
            "--no-hosts",
            "--no-resolv",
            "--port=0",
            "--user=root",
        ])
        .args(["--conf-file=/dev/null", "--bind-interfaces"])
        .arg(format!("--interface={dev}"))
        .arg(format!(
            "--pid-file={}",
            dir.join(format!("dnsmasq-{n}.pid")).display()
        ))
        .arg(format!(
            "--dhcp-leasefile={}",
            dir.join(format!("dnsmasq-{n}.leases")).display()
        ))
        .arg(format!("--dhcp-hostsfile={}", hosts_file.display()))
        .arg("--dhcp-range=198.18.10.0,static,255.255.255.0,1h")
        .arg(format!("--dhcp-option=option:router,{SUBNET_GW}"))
        .arg(format!("--dhcp-option=option:mtu,{TENANT_MTU}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    lab.spawn(&mut c)?;
    Ok(())
}

/// Plugs `vm` into its node the iptables-hybrid way: the VM's eth0 is
/// the peer of tap-vmN on Linux bridge qbr-vmN, joined to br-int by the
/// qvb-vmN/qvo-vmN veth pair; qvo-vmN carries the local VLAN tag and the
/// external_ids Nova writes.
fn plug_hybrid(node: &Node, vm: &Vm, lv: u16, vm_ns: &str) -> anyhow::Result<()> {
    let ns = node.ns();
    let n = vm.name;
    let (tap, qbr, qvb, qvo) = (
        format!("tap-{n}"),
        format!("qbr-{n}"),
        format!("qvb-{n}"),
        format!("qvo-{n}"),
    );
    ip(
        ns,
        &[
            "link", "add", &tap, "type", "veth", "peer", "name", "eth0", "netns", vm_ns,
        ],
    )?;
    ip(ns, &["link", "add", &qbr, "type", "bridge"])?;
    ip(
        ns,
        &["link", "add", &qvb, "type", "veth", "peer", "name", &qvo],
    )?;
    for dev in [&tap, &qvb] {
        ip(ns, &["link", "set", dev, "master", &qbr])?;
    }
    for dev in [&qbr, &tap, &qvb, &qvo] {
        ip(ns, &["link", "set", dev, "up"])?;
    }
    ip(vm_ns, &["link", "set", "eth0", "address", vm.mac])?;
    ip(vm_ns, &["link", "set", "eth0", "up"])?;
    node.switch.vsctl(&[
        "--",
        "--may-exist",
        "add-port",
        "br-int",
        &qvo,
        "--",
        "set",
        "Interface",
        &qvo,
        &format!("external_ids:iface-id=port-{n}"),
        "external_ids:iface-status=active",
        &format!("external_ids:attached-mac={}", vm.mac),
        &format!("external_ids:vm-uuid=uuid-{n}"),
        "--",
        "set",
        "Port",
        &qvo,
        &format!("tag={lv}"),
        &format!("other_config:net_uuid={}", NETS[vm.net].name),
    ])?;
    Ok(())
}

/// br-tun's flows on node `i` for the networks it has local VLANs for.
fn br_tun_flows(nodes: &[Node], i: usize) -> anyhow::Result<Vec<String>> {
    let keys: Vec<u32> = NETS.iter().map(|n| n.key).collect();
    let ports: Vec<String> = nodes
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, n)| gre_port(&n.tun_ip))
        .collect();
    agent_br_tun_flows(&nodes[i], &ports, &keys, 3)
}

/// The agent's br-tun flows on `node`: tunnel ports `ports` (all of one
/// type, whose keys arrive in table `tun_table`: 3 for GRE, 4 for
/// VXLAN), `keys[n]` the segmentation id of network `n`.
pub(super) fn agent_br_tun_flows(
    node: &Node,
    ports: &[String],
    keys: &[u32],
    tun_table: u8,
) -> anyhow::Result<Vec<String>> {
    let sw = &node.switch;
    let patch = sw.ofport("patch-int")?;
    let mut tunnels = Vec::new();
    for p in ports {
        tunnels.push(sw.ofport(p)?);
    }
    let mut f = vec![format!(
        "table=0,priority=1,in_port={patch} actions=resubmit(,2)"
    )];
    for t in &tunnels {
        f.push(format!(
            "table=0,priority=1,in_port={t} actions=resubmit(,{tun_table})"
        ));
    }
    f.push("table=0,priority=0 actions=drop".into());
    f.push(
        "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)"
            .into(),
    );
    f.push(
        "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)"
            .into(),
    );
    f.push("table=3,priority=0 actions=drop".into());
    f.push("table=4,priority=0 actions=drop".into());
    f.push(format!(
        "table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,cookie=0x5a,\
         NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],\
         load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:{patch}"
    ));
    f.push("table=20,priority=0 actions=resubmit(,22)".into());
    f.push("table=22,priority=0 actions=drop".into());
    let outs: String = tunnels.iter().map(|t| format!(",output:{t}")).collect();
    for (n, lv) in node.lvs.iter().enumerate() {
        let Some(lv) = lv else { continue };
        let key = keys[n];
        f.push(format!(
            "table={tun_table},priority=1,tun_id={key:#x} actions=push_vlan:0x8100,set_field:{}->vlan_vid,resubmit(,10)",
            0x1000 | lv
        ));
        f.push(format!(
            "table=22,priority=1,dl_vlan={lv} actions=pop_vlan,set_field:{key:#x}->tun_id{outs}"
        ));
    }
    Ok(f)
}

/// The script udhcpc runs: applies the lease (address, router, MTU).
const UDHCPC_SCRIPT: &str = "#!/bin/sh\n\
case \"$1\" in bound|renew)\n\
  ip addr flush dev \"$interface\"\n\
  ip addr add \"$ip/$mask\" dev \"$interface\"\n\
  [ -n \"$mtu\" ] && ip link set \"$interface\" mtu \"$mtu\"\n\
  for r in $router; do ip route replace default via \"$r\"; break; done\n\
  echo \"lease $ip/$mask router $router mtu $mtu\"\n\
esac\n";

impl Deployment {
    fn vm(&self, name: &str) -> &str {
        let i = VMS.iter().position(|v| v.name == name).expect("vm");
        &self.vm_ns[i]
    }

    /// Every VM asks for its address by DHCP (across GRE to the network
    /// node). Returns the leases.
    fn dhcp(&self) -> anyhow::Result<String> {
        let script = self.dir.join("udhcpc.script");
        std::fs::write(&script, UDHCPC_SCRIPT)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
        let s = script.display().to_string();
        // All VMs at once, then check each.
        let handles: Vec<_> = VMS
            .iter()
            .zip(&self.vm_ns)
            .map(|(vm, ns)| {
                let (ns, s, name) = (ns.clone(), s.clone(), vm.name);
                std::thread::spawn(move || {
                    ns_exec(
                        &ns,
                        &[
                            "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "8", "-T",
                            "1", "-A", "1", "-O", "mtu", "-s", &s,
                        ],
                    )
                    .map(|o| (name, o))
                })
            })
            .collect();
        let mut got = Vec::new();
        for (h, vm) in handles.into_iter().zip(VMS.iter()) {
            h.join()
                .map_err(|_| anyhow::anyhow!("udhcpc thread"))?
                .with_context(|| format!("{}: no lease", vm.name))?;
            let addr = ip(
                self.vm(vm.name),
                &["-4", "-o", "addr", "show", "dev", "eth0"],
            )?;
            ensure!(
                addr.contains(&format!("{}/24", vm.ip)),
                "{} got {addr}",
                vm.name
            );
            got.push(format!("{}={}", vm.name, vm.ip));
        }
        Ok(got.join(" "))
    }

    fn ping(&self, from_ns: &str, dst: &str) -> anyhow::Result<String> {
        traffic::ping_rtt(from_ns, dst)
    }

    /// No reply within three tries.
    fn no_ping(&self, from_ns: &str, dst: &str) -> anyhow::Result<()> {
        for _ in 0..3 {
            if ns_exec(from_ns, &["ping", "-c", "1", "-W", "1", dst]).is_ok() {
                bail!("{dst} answered");
            }
        }
        Ok(())
    }

    /// Starts a TCP sink in `ns` on `addr` and `ports`; it prints `ready`,
    /// then `<port> <peer-ip> <bytes>` per connection.
    fn sink(
        lab: &mut Lab,
        ns: &str,
        addr: &str,
        ports: &[u16],
    ) -> anyhow::Result<std::sync::mpsc::Receiver<String>> {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        let py = format!(
            "import socket,select\n\
             ls=[]\n\
             for p in [{}]:\n\
             \x20 s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('{addr}',p)); s.listen(4); ls.append(s)\n\
             print('ready',flush=True)\n\
             while True:\n\
             \x20 r,_,_=select.select(ls,[],[],60)\n\
             \x20 if not r: break\n\
             \x20 for s in r:\n\
             \x20   c,a=s.accept(); c.settimeout(20); n=0\n\
             \x20   while True:\n\
             \x20     b=c.recv(65536)\n\
             \x20     if not b: break\n\
             \x20     n+=len(b)\n\
             \x20   print(s.getsockname()[1],a[0],n,flush=True); c.close()\n",
            ports.join(",")
        );
        let rx = lab.spawn_lines(
            Command::new(crate::tool("ip")).args(["netns", "exec", ns, "python3", "-c", &py]),
        )?;
        let l = rx
            .recv_timeout(Duration::from_secs(10))
            .context("sink did not start")?;
        ensure!(l == "ready", "sink: {l}");
        Ok(rx)
    }

    /// Sends `bytes` over TCP from `ns` to `dst:port`; returns the sink's
    /// line for it and the rate.
    fn tcp_send(
        ns: &str,
        dst: &str,
        port: u16,
        bytes: usize,
        rx: &std::sync::mpsc::Receiver<String>,
        timeout_s: u32,
    ) -> anyhow::Result<(String, f64)> {
        let py = format!(
            "import socket,time\nt=time.time()\ns=socket.create_connection(('{dst}',{port}),timeout={timeout_s})\n\
             s.sendall(b'x'*{bytes}); s.shutdown(socket.SHUT_WR); s.recv(1); s.close()\nprint(time.time()-t)\n"
        );
        let out = ns_exec(ns, &["python3", "-c", &py])?;
        let secs: f64 = out.trim().parse().unwrap_or(0.0);
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .context("sink saw no connection")?;
        let n: usize = line
            .split(' ')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        ensure!(n == bytes, "sink got {n} of {bytes} bytes");
        let mbps = if secs > 0.0 {
            bytes as f64 * 8.0 / secs / 1e6
        } else {
            0.0
        };
        Ok((line, mbps))
    }

    /// [`Self::tcp_send`] from `ns` to `dst` (in `peer_ns`), both eth0s
    /// with their default offloads; when that fails, tries once more with
    /// both ends' transmit offloads off (checksum, and so TSO/GSO), then
    /// turns them back on, so the failure says whether offloads are the
    /// cause.
    #[allow(clippy::too_many_arguments)]
    fn tcp_offloads(
        ns: &str,
        peer_ns: &str,
        dst: &str,
        port: u16,
        bytes: usize,
        rx: &std::sync::mpsc::Receiver<String>,
        timeout_s: u32,
    ) -> anyhow::Result<(String, f64)> {
        let e = match Self::tcp_send(ns, dst, port, bytes, rx, timeout_s) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        std::thread::sleep(Duration::from_millis(200));
        while rx.try_recv().is_ok() {}
        // Both ends: the reply (SYN-ACK, ACKs) carries offloads too.
        let set = |on: &str| -> anyhow::Result<()> {
            for n in [ns, peer_ns] {
                let mut a = vec!["ethtool", "-K", "eth0", "tx", on, "gso", on];
                if on == "on" {
                    a.extend(["tso", "on"]);
                }
                ns_exec(n, &a)?;
            }
            Ok(())
        };
        let again = set("off").and_then(|_| Self::tcp_send(ns, dst, port, bytes, rx, timeout_s));
        let _ = set("on");
        match again {
            Ok(_) => bail!("works only with tx offloads (checksum, TSO) off on both ends: {e:#}"),
            Err(e2) => bail!("{e:#}; also with tx offloads off: {e2:#}"),
        }
    }

    /// The figures (see [`super::figures`]): east-west vm1 (cn1) to vm2
    /// (cn2) on net1, north-south vm2 to the outside host through SNAT
    /// and the outside host to vm1 through its floating IP, idle CPU.
    pub fn figures(&self, lab: &mut Lab, log: &mut dyn FnMut(&str)) -> Vec<PathResult> {
        let (vm1, vm2) = (self.vm("vm1"), self.vm("vm2"));
        let routes = [
            Route {
                name: "E-W vm1 (cn1) -> vm2 (cn2)",
                client_ns: vm1,
                server_ns: vm2,
                dst: VMS[3].ip,
            },
            Route {
                name: "N-S SNAT vm2 -> outside",
                client_ns: vm2,
                server_ns: &self.outside_ns,
                dst: OUTSIDE,
            },
            Route {
                name: "N-S FIP outside -> vm1",
                client_ns: &self.outside_ns,
                server_ns: vm1,
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

    /// Checks every path, in order; each result says what was seen.
    pub fn check(&self, lab: &mut Lab, log: &mut dyn FnMut(&PathResult)) -> Vec<PathResult> {
        let mut res = Vec::new();
        let mut push = |path: &str, r: anyhow::Result<String>| {
            let pr = PathResult::new(path, r);
            log(&pr);
            res.push(pr);
        };
        let dhcp = self.dhcp();
        let dhcp_ok = dhcp.is_ok();
        push("VM gets its address by DHCP across GRE", dhcp);
        if !dhcp_ok {
            // Without leases the rest would only repeat this failure; give
            // the VMs their addresses by hand so the other paths are checked.
            for (vm, ns) in VMS.iter().zip(&self.vm_ns) {
                let _ = ip(
                    ns,
                    &["addr", "replace", &format!("{}/24", vm.ip), "dev", "eth0"],
                );
                let _ = ip(ns, &["link", "set", "eth0", "mtu", TENANT_MTU]);
                let _ = ip(ns, &["route", "replace", "default", "via", SUBNET_GW]);
            }
        }
        let (vm1, vm2, vm3, vm4) = (
            self.vm("vm1"),
            self.vm("vm2"),
            self.vm("vm3"),
            self.vm("vm4"),
        );
        push(
            "net1: vm1 (cn1) -> vm2 (cn2) ping",
            self.ping(vm1, VMS[3].ip),
        );
        push(
            "net2: vm3 (cn1) -> vm4 (cn2) ping",
            self.ping(vm3, VMS[2].ip),
        );
        let tcp = Self::sink(lab, vm2, "0.0.0.0", &[OPEN_PORT]).and_then(|rx| {
            let (_, a) = Self::tcp_offloads(vm1, vm2, VMS[3].ip, OPEN_PORT, 4_000_000, &rx, 5)?;
            Ok(format!("4 MB, {a:.0} Mbit/s"))
        });
        push("net1: vm1 -> vm2 TCP, default offloads", tcp);
        push(
            "net1 vm1 cannot reach net2 vm4 (same subnet)",
            self.no_ping(vm1, VMS[2].ip).map(|()| String::new()),
        );
        push(
            "net2 vm4 cannot reach net1 vm2 (same subnet)",
            self.no_ping(vm4, VMS[3].ip).map(|()| String::new()),
        );
        let snat = Self::sink(lab, &self.outside_ns, OUTSIDE, &[OPEN_PORT]).and_then(|rx| {
            self.ping(vm2, OUTSIDE)?;
            let (line, _) =
                Self::tcp_offloads(vm2, &self.outside_ns, OUTSIDE, OPEN_PORT, 100_000, &rx, 5)?;
            let peer = line.split(' ').nth(1).unwrap_or("");
            ensure!(
                peer == PUBLIC_QG,
                "outside saw {peer}, not the router's {PUBLIC_QG}"
            );
            Ok(format!("outside sees {peer}"))
        });
        push("vm2 -> outside through SNAT", snat);
        // vm1 listens on an open and a blocked port for both checks below.
        let vm1_sink = Self::sink(lab, vm1, "0.0.0.0", &[OPEN_PORT + 1, BLOCKED_PORT]);
        let fip = vm1_sink
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|rx| {
                self.ping(&self.outside_ns, FLOATING)?;
                let (line, _) = Self::tcp_offloads(
                    &self.outside_ns,
                    vm1,
                    FLOATING,
                    OPEN_PORT + 1,
                    100_000,
                    rx,
                    5,
                )?;
                let peer = line.split(' ').nth(1).unwrap_or("");
                ensure!(peer == OUTSIDE, "vm1 saw {peer}");
                Ok(format!("vm1 sees {peer}"))
            });
        push("outside -> vm1 through floating IP", fip);
        let sg = vm1_sink
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|rx| {
                let before = self.sg_drops()?;
                let connect = format!(
                    "import socket\nsocket.create_connection(('{}',{BLOCKED_PORT}),timeout=3)",
                    VMS[0].ip
                );
                if ns_exec(vm2, &["python3", "-c", &connect]).is_ok() {
                    bail!("vm2 connected to vm1:{BLOCKED_PORT}");
                }
                ensure!(
                    rx.try_recv().is_err(),
                    "vm1's listener on {BLOCKED_PORT} saw a connection"
                );
                let after = self.sg_drops()?;
                ensure!(
                    after > before,
                    "the rule on qbr-vm1 counted no drop ({before} -> {after})"
                );
                Ok(format!("{} SYNs dropped at qbr-vm1", after - before))
            });
        push(
            &format!("vm1's security group blocks tcp/{BLOCKED_PORT}"),
            sg,
        );
        push("local VLANs differ between nodes", self.local_vlans());
        res
    }

    /// Packets dropped so far by vm1's security-group rule on cn1.
    fn sg_drops(&self) -> anyhow::Result<u64> {
        let out = ns_exec(
            self.nodes[1].ns(),
            &["iptables", "-w", "-L", "FORWARD", "-v", "-x", "-n"],
        )?;
        out.lines()
            .find(|l| l.contains(&format!("dpt:{BLOCKED_PORT}")))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .context("security-group rule not found")
    }

    /// The tags the nodes gave net1, read back from their databases.
    fn local_vlans(&self) -> anyhow::Result<String> {
        let tag = |node: usize, port: &str| -> anyhow::Result<String> {
            Ok(self.nodes[node]
                .switch
                .vsctl(&["get", "Port", port, "tag"])?
                .trim()
                .to_string())
        };
        let (a, b) = (tag(1, "qvo-vm1")?, tag(2, "qvo-vm2")?);
        let (c, d) = (tag(1, "qvo-vm3")?, tag(2, "qvo-vm4")?);
        ensure!(a != b && c != d, "net1 {a}/{b}, net2 {c}/{d}");
        Ok(format!("net1 {a} on cn1, {b} on cn2"))
    }

    /// Where this lab's pieces are, for a person.
    pub fn describe(&self) -> String {
        let mut s = format!("switch: {}\n", self.backend.label());
        for n in &self.nodes {
            s += &format!(
                "  {:4} namespace {}  tunnel {}  OVS_RUNDIR={}\n",
                n.role,
                n.switch.ns,
                n.tun_ip,
                n.switch.dir.display()
            );
        }
        for (vm, ns) in VMS.iter().zip(&self.vm_ns) {
            s += &format!(
                "  {} namespace {ns}  {} on {} ({})\n",
                vm.name, vm.ip, NETS[vm.net].name, vm.node
            );
        }
        s += &format!(
            "  outside namespace {}  {OUTSIDE}; floating IP {FLOATING} -> vm1\n",
            self.outside_ns
        );
        s += &format!(
            "  router namespace {}; DHCP namespaces {}\n",
            self.qrouter_ns,
            self.qdhcp_ns.join(" ")
        );
        s
    }
}

/// Builds the lab with `backend`, checks every path and returns the
/// results; a build failure is one failed row.
pub fn run_scenario(lab: &mut Lab, backend: &Backend, verbose: bool) -> Vec<PathResult> {
    let p = Progress::new(backend.label(), verbose);
    match build(lab, backend, &mut |m| p.say(m)) {
        Ok(d) => {
            let mut res = d.check(lab, &mut |r| p.result(r));
            res.extend(d.figures(lab, &mut |m| p.say(m)));
            res
        }
        Err(e) => vec![PathResult::build_failed(e)],
    }
}
