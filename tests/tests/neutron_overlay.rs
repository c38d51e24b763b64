//! Neutron's Open vSwitch agent layout across three simulated hypervisors,
//! each a network namespace running its own ferrovs (ovsdb-server and
//! vswitchd), joined by an underlay (veths to a Linux bridge in another
//! namespace, 198.18.100.0/24). Each hypervisor has br-phy (underlay link
//! and tunnel endpoint), br-int and br-tun with patch ports, VXLAN and GRE
//! tunnels to the two others, and br-tun's tables in the agent's form
//! loaded with `ovs-ofctl -O OpenFlow13` (see `ferrovs_tests::neutron_agent`).
//!
//! Three tenant networks share one overlapping subnet (198.19.1.0/24, as
//! tenants may), so only the switch keeps them apart:
//! - A, VXLAN VNI 100, with l2population (unicast and flood entries) and
//!   the ARP responder; its VM on hv1 is in the iptables-hybrid layout;
//! - B, VXLAN VNI 200, as the agent runs without l2population: flooded to
//!   every VXLAN tunnel (hv3 has no port on B and drops VNI 200) and
//!   unicast through flows learned from the tunnels;
//! - C, GRE key 300, with l2population and the ARP responder.
//!
//! The local VLAN of each network differs per hypervisor. A provider
//! network (VLAN 200 on physnet `br-ex`) takes a VM on hv1 to a namespace
//! outside the cloud, on a VLAN interface of its own.

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::neutron_agent::{NeutronHost, TunnelType, ARP_RESPONDER, UCAST_TO_TUN};
use ferrovs_tests::overlay::{tcp_transfer, veth_between, Underlay, Vm};

struct Network {
    kind: TunnelType,
    segment: u32,
    /// Local VLAN on hv1, hv2, hv3.
    lvid: [u16; 3],
    l2pop: bool,
}

const NETS: [Network; 3] = [
    Network {
        kind: TunnelType::Vxlan,
        segment: 100,
        lvid: [1, 3, 2],
        l2pop: true,
    },
    Network {
        kind: TunnelType::Vxlan,
        segment: 200,
        lvid: [2, 1, 3],
        l2pop: false,
    },
    Network {
        kind: TunnelType::Gre,
        segment: 300,
        lvid: [3, 2, 1],
        l2pop: true,
    },
];

/// A VM port: name, hypervisor index, network index, last address byte,
/// hybrid layout.
struct PortSpec {
    name: &'static str,
    host: usize,
    net: usize,
    last: u8,
    hybrid: bool,
}

const PORTS: [PortSpec; 7] = [
    PortSpec {
        name: "a1",
        host: 0,
        net: 0,
        last: 11,
        hybrid: true,
    },
    PortSpec {
        name: "a2",
        host: 1,
        net: 0,
        last: 12,
        hybrid: false,
    },
    PortSpec {
        name: "a3",
        host: 2,
        net: 0,
        last: 13,
        hybrid: false,
    },
    PortSpec {
        name: "b1",
        host: 0,
        net: 1,
        last: 21,
        hybrid: false,
    },
    PortSpec {
        name: "b2",
        host: 1,
        net: 1,
        last: 22,
        hybrid: false,
    },
    PortSpec {
        name: "c1",
        host: 0,
        net: 2,
        last: 31,
        hybrid: false,
    },
    PortSpec {
        name: "c3",
        host: 2,
        net: 2,
        last: 33,
        hybrid: false,
    },
];

fn ip(p: &PortSpec) -> String {
    format!("198.19.1.{}", p.last)
}
fn mac(p: &PortSpec) -> String {
    format!("fa:16:3e:00:{:02x}:{:02x}", p.net + 1, p.last)
}
fn underlay_ip(host: usize) -> String {
    format!("198.18.100.{}", host + 1)
}

/// What each switch holds, for failure messages.
fn state(hosts: &[NeutronHost]) -> String {
    let mut s = String::new();
    for (i, h) in hosts.iter().enumerate() {
        s += &format!(
            "== hv{} br-tun\n{}== dpif\n{}== neigh\n{}",
            i + 1,
            h.dump_flows("br-tun", &[]),
            h.fv.appctl_ok(&["dpif/dump-flows", "br-tun"]) + &h.fv.appctl_ok(&["dpif/show"]),
            String::from_utf8_lossy(&h.fv.appctl(&["tnl/neigh/show"]).stdout),
        );
    }
    s
}

#[test]
fn three_hypervisors_two_vxlan_one_gre_network() {
    let mut underlay = Underlay::new().unwrap();
    let hosts: Vec<NeutronHost> = (0..3)
        .map(|i| NeutronHost::start(&mut underlay, &underlay_ip(i), 24).unwrap())
        .collect();
    // The agent's tunnel sync: every host gets a VXLAN and a GRE port to
    // every other host. tunnels[i][j][k]: ofport on host i towards j.
    let kinds = [TunnelType::Vxlan, TunnelType::Gre];
    let mut tunnels = [[[0u32; 2]; 3]; 3];
    for i in 0..3 {
        for j in (0..3).filter(|&j| j != i) {
            for (k, kind) in kinds.iter().enumerate() {
                tunnels[i][j][k] = hosts[i].add_tunnel(*kind, &underlay_ip(j)).unwrap();
            }
        }
    }
    let kind_ix = |n: &Network| kinds.iter().position(|k| *k == n.kind).unwrap();

    // VMs, then the agent's per-network wiring on each host with a port.
    let vms: Vec<Vm> = PORTS
        .iter()
        .map(|p| {
            let h = &hosts[p.host];
            let n = &NETS[p.net];
            let mtu = n.kind.vm_mtu();
            if p.hybrid {
                h.plug_vm_hybrid(p.name, p.name, n.lvid[p.host], &mac(p), &ip(p), mtu)
            } else {
                h.plug_vm_tap(
                    p.name,
                    &format!("tap{}", p.name),
                    n.lvid[p.host],
                    &mac(p),
                    &ip(p),
                    mtu,
                )
            }
            .unwrap()
        })
        .collect();
    for (ni, n) in NETS.iter().enumerate() {
        let on: Vec<usize> = (0..3)
            .filter(|&h| PORTS.iter().any(|p| p.net == ni && p.host == h))
            .collect();
        for &h in &on {
            let lvid = n.lvid[h];
            let host = &hosts[h];
            host.provision_local_vlan(n.kind, n.segment, lvid).unwrap();
            let flood: Vec<u32> = (0..3)
                .filter(|&j| j != h && (!n.l2pop || on.contains(&j)))
                .map(|j| tunnels[h][j][kind_ix(n)])
                .collect();
            host.install_flood_to_tun(lvid, n.segment, &flood).unwrap();
            if n.l2pop {
                for p in PORTS.iter().filter(|p| p.net == ni && p.host != h) {
                    let port = tunnels[h][p.host][kind_ix(n)];
                    host.install_unicast_to_tun(lvid, n.segment, port, &mac(p))
                        .unwrap();
                    host.install_arp_responder(lvid, &ip(p), &mac(p)).unwrap();
                }
            }
        }
    }
    let vm = |name: &str| {
        let i = PORTS.iter().position(|p| p.name == name).unwrap();
        (&vms[i], &PORTS[i])
    };

    // Same network, across hypervisors: ping both ways.
    for (from, to) in [
        ("a1", "a2"),
        ("a2", "a1"),
        ("a1", "a3"),
        ("a3", "a2"),
        ("b1", "b2"),
        ("b2", "b1"),
        ("c1", "c3"),
        ("c3", "c1"),
    ] {
        let (src, _) = vm(from);
        let (_, dst) = vm(to);
        assert!(
            src.ping(&ip(dst), 5),
            "{from} -> {to} ({})\n{}",
            ip(dst),
            state(&hosts)
        );
    }
    // The ARP responder answered a1's request for a2 on hv1 (A's local
    // VLAN there is 1), with a2's MAC.
    assert_eq!(vm("a1").0.neighbour(&ip(vm("a2").1)), Some(mac(vm("a2").1)));
    // (Flow statistics reach the OpenFlow table from the datapath in the
    // revalidator's rounds.)
    let responder_q = format!("table={ARP_RESPONDER},arp,arp_tpa=198.19.1.12");
    let answered = hosts[0]
        .fv
        .wait_until(std::time::Duration::from_secs(5), || {
            let r = hosts[0].dump_flows("br-tun", &[&responder_q]);
            r.contains("dl_vlan=1") && !r.contains("n_packets=0,")
        });
    assert!(
        answered,
        "ARP responder on hv1 for a2:\n{}",
        hosts[0].dump_flows("br-tun", &[&responder_q])
    );
    // Network B has no l2population: hv1 learned b2's MAC from the tunnel
    // into table 20 (hv2's local VLAN for B is 1, hv1's 2).
    let learned = hosts[0].dump_flows("br-tun", &[&format!("table={UCAST_TO_TUN}")]);
    assert!(
        learned.lines().any(|l| l.contains("hard_timeout=300")
            && l.contains("vlan_tci=0x0002/0x0fff")
            && l.contains(&format!("dl_dst={}", mac(vm("b2").1)))
            && l.contains("load:0xc8->NXM_NX_TUN_ID[]")),
        "flow learned on hv1 for b2:\n{learned}"
    );

    // TCP with the namespaces' default offloads: VXLAN from the hybrid VM,
    // VXLAN without l2population, GRE.
    for (i, (client, server)) in [("a1", "a2"), ("b2", "b1"), ("c3", "c1")]
        .iter()
        .enumerate()
    {
        let (c, _) = vm(client);
        let (s, sp) = vm(server);
        let got = tcp_transfer(&s.ns, &c.ns, &ip(sp), 5001 + i as u16, 2_000_000)
            .unwrap_or_else(|e| panic!("TCP {client} -> {server}: {e:#}\n{}", state(&hosts)));
        assert_eq!(got, 2_000_000, "TCP {client} -> {server}");
    }

    // The provider network: hv1's br-ex holds eth2, a trunk to the
    // outside: a top-of-rack switch in a namespace of its own, whose
    // access port on VLAN 200 carries the provider subnet's gateway
    // address. (That switch is a ferrovs too: this kernel has neither
    // 802.1Q interfaces nor VLAN-filtering bridges.)
    let outside = FerrovsVswitchd::start().unwrap();
    veth_between(hosts[0].fv.netns(), "eth2", outside.netns(), "eth0").unwrap();
    outside.vsctl_ok(&[
        "add-br",
        "br-tor",
        "--",
        "set",
        "Bridge",
        "br-tor",
        "datapath_type=netdev",
        "--",
        "add-port",
        "br-tor",
        "eth0",
        "--",
        "add-port",
        "br-tor",
        "gw200",
        "tag=200",
        "--",
        "set",
        "Interface",
        "gw200",
        "type=internal",
    ]);
    for cmd in [
        &["ip", "addr", "add", "198.18.200.1/24", "dev", "gw200"][..],
        &["ip", "link", "set", "gw200", "up"],
    ] {
        outside.netns().exec(cmd).unwrap();
    }
    hosts[0].add_provider_bridge("br-ex", "eth2").unwrap();
    hosts[0].provision_provider_vlan("br-ex", 200, 4).unwrap();
    let p1 = hosts[0]
        .plug_vm_tap("p1", "tapp1", 4, "fa:16:3e:00:04:0b", "198.18.200.11", 1500)
        .unwrap();
    assert!(
        p1.ping("198.18.200.1", 5),
        "provider VM -> outside over VLAN 200\n{}\n{}",
        hosts[0].dump_flows("br-ex", &[]),
        hosts[0].dump_flows("br-int", &[])
    );
    let got = tcp_transfer(outside.netns(), &p1.ns, "198.18.200.1", 5010, 2_000_000).unwrap();
    assert_eq!(got, 2_000_000, "TCP provider VM -> outside");

    // Different networks never reach each other, although the addresses
    // share a subnet.
    for (from, to) in [
        ("a1", "b2"),
        ("a1", "c3"),
        ("b1", "a2"),
        ("c1", "a3"),
        ("b2", "c3"),
    ] {
        let (src, _) = vm(from);
        let (_, dst) = vm(to);
        assert!(
            !src.ping(&ip(dst), 1),
            "{from} reached {to} on another network"
        );
        assert_eq!(
            src.neighbour(&ip(dst)).filter(|m| *m == mac(dst)),
            None,
            "{from} resolved {to}"
        );
    }
    // VNI 200 reached hv3 (flooded there without l2population) and was
    // dropped by the default flow of the VXLAN table: hv3 has no local VLAN
    // for B.
    let dropped = hosts[2]
        .fv
        .wait_until(std::time::Duration::from_secs(5), || {
            let t4 = hosts[2].dump_flows("br-tun", &["table=4"]);
            let drop = t4
                .lines()
                .find(|l| l.contains("priority=0"))
                .unwrap_or_default();
            !t4.contains("tun_id=0xc8")
                && drop.contains("n_packets=")
                && !drop.contains("n_packets=0,")
        });
    assert!(
        dropped,
        "hv3 drops VNI 200:\n{}",
        hosts[2].dump_flows("br-tun", &["table=4"])
    );

    // Malformed tunnel packets from the underlay (a VXLAN header cut
    // short) are dropped by hv1's datapath and counted.
    let drops = |h: &NeutronHost| -> u64 {
        let out = h.fv.appctl_ok(&["tnl/drops/show"]);
        out.lines()
            .find(|l| l.starts_with("tunnel_pop_malformed "))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("tnl/drops/show:\n{out}"))
    };
    let before = drops(&hosts[0]);
    let ul = underlay.netns();
    ul.exec(&["ip", "addr", "add", "198.18.100.9/24", "dev", "ul"])
        .unwrap();
    ul.exec(&[
        "python3",
        "-c",
        "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for _ in range(3): s.sendto(b'\\x08\\x00', ('198.18.100.1', 4789))\n",
    ])
    .unwrap();
    assert!(
        hosts[0]
            .fv
            .wait_until(std::time::Duration::from_secs(5), || drops(&hosts[0])
                >= before + 3),
        "malformed VXLAN not counted:\n{}",
        hosts[0].fv.appctl_ok(&["tnl/drops/show"])
    );
}
