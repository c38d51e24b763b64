//! A router as OpenFlow flows with `ct(nat)`, as OVN programs a logical
//! router (simplified): an ARP responder for the router's addresses,
//! routing between tenant subnets (TTL decrement, MAC rewrite, no NAT),
//! SNAT to the router's external address, and a floating IP (DNAT in,
//! SNAT to the floating IP out), FTP through `alg=ftp`.
//!
//! The flows are generated from a [`RouterSpec`] (networks, where their
//! frames enter and how they leave, the hosts the router may forward to),
//! so the same router runs on a one-bridge lab ([`build`]) and on the
//! network node of Deployment B. Tables, all on one bridge:
//!
//! ```text
//!  0   (priority >= 100) ARP requests for a router address: reply;
//!      IPv4 to a router MAC: reg0 = network, table 10. The rest is the
//!      caller's (NORMAL).
//!  10  router ingress: tenant -> tenant subnet: 30 (no conntrack);
//!      tenant -> elsewhere: ct(zone, nat, table 20);
//!      provider -> external or floating address: ct(zone, nat, table 21)
//!  20  outbound after ct: est/rel: 30; new+rel: ct(commit, nat) 30;
//!      new: ct(commit, nat(src = floating or external address)) 30
//!  21  inbound after ct: est/rel: 30; new+rel: ct(commit, nat) 30;
//!      new to the floating IP: ct(commit, nat(dst = its VM)) 30
//!  30  routes: dec_ttl, eth_src = router MAC on the out network, 31
//!  31  neighbours: eth_dst = the host's MAC, the network's egress
//! ```
//!
//! One conntrack zone holds both NATs: an SNAT connection's reply is
//! addressed to the external address, a floating IP's to the floating
//! address, so their reply tuples never collide. Control connections to
//! port 21 are committed with `alg=ftp`, whose expectations carry the
//! NAT to the data connections.

use std::fmt::Write as _;
use std::process::Command;

use anyhow::ensure;

use super::neutron_gre::ip;
use super::switch::{Backend, Switch};
use super::traffic::{self, FtpMode};
use super::{ns_exec, Lab, PathResult, Progress};

/// The conntrack zone of the router's NAT.
pub const NAT_ZONE: u16 = 64000;

/// A network the router has a leg on.
pub struct RouterNet {
    /// Subnet, `a.b.c.d/len`.
    pub cidr: String,
    /// The router's address and MAC on it.
    pub gw_ip: String,
    pub gw_mac: String,
    /// Extra addresses the router answers ARP for (the floating IPs).
    pub extra_ips: Vec<String>,
    /// Matches of frames entering from this network (without `dl_vlan`
    /// when `pop_vlan` is false), e.g. `in_port=3`.
    pub ingress: Vec<String>,
    /// Whether entering frames carry a VLAN tag to pop.
    pub pop_vlan: bool,
    /// Actions sending a routed (untagged) frame to MAC `dst` on this
    /// network, given the index of the network it entered from (a trunk
    /// shared by several networks needs `in_port` then), e.g. `output:3`
    /// or `push_vlan:0x8100,set_field:4097->vlan_vid,output:1`.
    pub egress_to: EgressFn,
    /// Actions sending an ARP reply back where the request came from.
    pub arp_reply: String,
}

/// How to reach one host's MAC on a network from a source network: its
/// egress actions.
pub type EgressFn = Box<dyn Fn(&str, usize) -> String>;

/// A host the router forwards to: address, MAC, network index.
pub struct Neighbour {
    pub ip: String,
    pub mac: String,
    pub net: usize,
}

/// A whole router: networks (the last one is the provider side), SNAT
/// address, floating IPs (floating address, VM address).
pub struct RouterSpec {
    pub nets: Vec<RouterNet>,
    pub external_ip: String,
    pub floating: Vec<(String, String)>,
    pub neighbours: Vec<Neighbour>,
}

fn arp_responder(ip: &str, mac: &str, reply: &str) -> String {
    let mac_hex = format!("0x{}", mac.replace(':', ""));
    format!(
        "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:{mac}->eth_src,\
         load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],\
         load:{mac_hex}->NXM_NX_ARP_SHA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],\
         set_field:{ip}->arp_spa,{reply}"
    )
}

impl RouterSpec {
    fn ext(&self) -> usize {
        self.nets.len() - 1
    }

    /// The router's flows (ovs-ofctl syntax, OpenFlow 1.3), table 0 at
    /// priorities 100-200 only.
    pub fn flows(&self) -> Vec<String> {
        let z = NAT_ZONE;
        let ext = self.ext();
        let mut f = Vec::new();
        for (n, net) in self.nets.iter().enumerate() {
            let reg = n + 1;
            let pop = if net.pop_vlan { "pop_vlan," } else { "" };
            for m in &net.ingress {
                for ip in std::iter::once(&net.gw_ip).chain(&net.extra_ips) {
                    f.push(format!(
                        "table=0,priority=200,{m},arp,arp_op=1,arp_tpa={ip} actions={pop}{}",
                        arp_responder(ip, &net.gw_mac, &net.arp_reply)
                    ));
                }
                f.push(format!(
                    "table=0,priority=150,{m},ip,dl_dst={} actions={pop}load:{reg}->NXM_NX_REG0[],goto_table:10",
                    net.gw_mac
                ));
            }
        }
        // 10: ingress.
        for n in 0..ext {
            let reg = n + 1;
            for t in &self.nets[..ext] {
                f.push(format!(
                    "table=10,priority=100,reg0={reg},ip,nw_dst={} actions=goto_table:30",
                    t.cidr
                ));
            }
            f.push(format!(
                "table=10,priority=50,reg0={reg},ip actions=ct(zone={z},nat,table=20)"
            ));
        }
        let ext_reg = ext + 1;
        for a in std::iter::once(&self.external_ip).chain(self.floating.iter().map(|(f, _)| f)) {
            f.push(format!(
                "table=10,priority=100,reg0={ext_reg},ip,nw_dst={a} actions=ct(zone={z},nat,table=21)"
            ));
        }
        f.push("table=10,priority=0 actions=drop".into());
        // 20 and 21: after conntrack.
        for t in [20, 21] {
            f.push(format!(
                "table={t},priority=200,ct_state=+trk+est,ip actions=goto_table:30"
            ));
            f.push(format!(
                "table={t},priority=200,ct_state=+trk+rel-new,ip actions=goto_table:30"
            ));
            f.push(format!(
                "table={t},priority=200,ct_state=+trk+rel+new,ip actions=ct(commit,zone={z},nat,table=30)"
            ));
            f.push(format!("table={t},priority=0 actions=drop"));
        }
        let commit = |t: u8, prio: u16, m: &str, nat: &str| -> [String; 2] {
            [
                format!(
                    "table={t},priority={},ct_state=+trk+new-rel,tcp,tp_dst=21{m} actions=ct(commit,zone={z},nat({nat}),alg=ftp,table=30)",
                    prio + 1
                ),
                format!(
                    "table={t},priority={prio},ct_state=+trk+new-rel,ip{m} actions=ct(commit,zone={z},nat({nat}),table=30)"
                ),
            ]
        };
        for (fip, vm) in &self.floating {
            f.extend(commit(
                20,
                150,
                &format!(",nw_src={vm}"),
                &format!("src={fip}"),
            ));
            f.extend(commit(
                21,
                150,
                &format!(",nw_dst={fip}"),
                &format!("dst={vm}"),
            ));
        }
        f.extend(commit(20, 100, "", &format!("src={}", self.external_ip)));
        // 30: routes; 31: neighbours.
        for net in &self.nets {
            f.push(format!(
                "table=30,priority=100,ip,nw_dst={} actions=dec_ttl,set_field:{}->eth_src,goto_table:31",
                net.cidr, net.gw_mac
            ));
        }
        f.push("table=30,priority=0 actions=drop".into());
        for nb in &self.neighbours {
            for src in 0..self.nets.len() {
                f.push(format!(
                    "table=31,priority=100,reg0={},ip,nw_dst={} actions=set_field:{}->eth_dst,{}",
                    src + 1,
                    nb.ip,
                    nb.mac,
                    (self.nets[nb.net].egress_to)(&nb.mac, src)
                ));
            }
        }
        f.push("table=31,priority=0 actions=drop".into());
        f
    }
}

// The one-bridge lab.

/// Tenant networks and the provider network: subnet, router address,
/// router MAC.
const NETS: [(&str, &str, &str); 3] = [
    ("198.18.10.0/24", "198.18.10.1", "02:00:00:00:01:01"),
    ("198.18.20.0/24", "198.18.20.1", "02:00:00:00:02:01"),
    ("198.19.0.0/24", "198.19.0.10", "02:00:00:00:ff:01"),
];
/// The router's external (SNAT) address: its address on the provider net.
pub const EXTERNAL_IP: &str = "198.19.0.10";
/// vm11's floating IP.
pub const FLOATING: &str = "198.19.0.60";
pub const OUTSIDE: &str = "198.19.0.100";

struct Host {
    name: &'static str,
    net: usize,
    ip: &'static str,
    mac: &'static str,
}

const HOSTS: [Host; 5] = [
    Host {
        name: "vm11",
        net: 0,
        ip: "198.18.10.11",
        mac: "02:00:00:0a:00:0b",
    },
    Host {
        name: "vm12",
        net: 0,
        ip: "198.18.10.12",
        mac: "02:00:00:0a:00:0c",
    },
    Host {
        name: "vm21",
        net: 1,
        ip: "198.18.20.21",
        mac: "02:00:00:14:00:15",
    },
    Host {
        name: "vm22",
        net: 1,
        ip: "198.18.20.22",
        mac: "02:00:00:14:00:16",
    },
    Host {
        name: "outside",
        net: 2,
        ip: OUTSIDE,
        mac: "02:00:00:13:00:64",
    },
];

/// The lab up: one switch, its namespaces.
pub struct Deployment {
    pub switch: Switch,
    host_ns: Vec<String>,
}

/// Builds the one-bridge lab: namespace `sw` runs the switch with br-int
/// (netdev datapath, secure fail mode); each host is a namespace whose
/// eth0 is veth-joined to a br-int port tagged with its network's VLAN
/// (NORMAL switches within a network; the router's flows sit above it).
pub fn build(
    lab: &mut Lab,
    backend: &Backend,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Deployment> {
    log(&format!("switch node: {} with br-int", backend.label()));
    let sw_ns = lab.netns("sw")?;
    let switch = Switch::start(lab, backend, &sw_ns, &lab.dir().join("sw"))?;
    switch.vsctl(&[
        "add-br",
        "br-int",
        "--",
        "set",
        "Bridge",
        "br-int",
        "datapath_type=netdev",
        "fail_mode=secure",
        "protocols=OpenFlow10,OpenFlow13",
    ])?;
    let mut host_ns = Vec::new();
    for h in HOSTS.iter() {
        log(&format!(
            "{}: {} {} on net{}",
            h.name,
            h.ip,
            h.mac,
            h.net + 1
        ));
        let ns = lab.netns(h.name)?;
        let port = format!("p-{}", h.name);
        ip(
            &sw_ns,
            &[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ],
        )?;
        ip(&sw_ns, &["link", "set", &port, "up"])?;
        switch.vsctl(&[
            "add-port",
            "br-int",
            &port,
            "--",
            "set",
            "Port",
            &port,
            &format!("tag={}", h.net + 1),
        ])?;
        ip(&ns, &["link", "set", "eth0", "address", h.mac])?;
        ip(
            &ns,
            &["addr", "add", &format!("{}/24", h.ip), "dev", "eth0"],
        )?;
        ip(&ns, &["link", "set", "eth0", "up"])?;
        // Checksums filled in by the sender: the router rewrites
        // addresses and ports, and both switches' AF_PACKET ports see
        // the frame as sent.
        ns_exec(&ns, &["ethtool", "-K", "eth0", "tx", "off"])?;
        if h.net < 2 {
            ip(&ns, &["route", "add", "default", "via", NETS[h.net].1])?;
        }
        host_ns.push(ns);
    }
    let mut ports = Vec::new();
    for h in HOSTS.iter() {
        ports.push((h.name, switch.ofport(&format!("p-{}", h.name))?));
    }
    let flows = one_bridge_flows(&ports);
    log(&format!(
        "router: {} flows (ct zone {NAT_ZONE})",
        flows.len()
    ));
    switch.replace_flows("br-int", &flows)?;
    Ok(Deployment { switch, host_ns })
}

/// The one-bridge lab's br-int flows (the router above NORMAL) for hosts
/// `(name, OpenFlow port)` of vm11, vm12, vm21, vm22 and outside (hosts
/// left out are not routed to); also what the trace comparison with OVS
/// loads.
pub fn one_bridge_flows(ports: &[(&str, u32)]) -> Vec<String> {
    let mut flows = one_bridge_spec(ports).flows();
    flows.push("table=0,priority=0 actions=NORMAL".into());
    flows
}

/// The router of the one-bridge lab: each host's port is its network's
/// ingress and its own egress.
fn one_bridge_spec(ports: &[(&str, u32)]) -> RouterSpec {
    let hosts: Vec<(&Host, u32)> = ports
        .iter()
        .filter_map(|(n, p)| HOSTS.iter().find(|h| h.name == *n).map(|h| (h, *p)))
        .collect();
    let nets = NETS
        .iter()
        .enumerate()
        .map(|(n, (cidr, gw, mac))| {
            let by_mac: Vec<(String, u32)> = hosts
                .iter()
                .filter(|(h, _)| h.net == n)
                .map(|(h, p)| (h.mac.to_string(), *p))
                .collect();
            let ingress = by_mac.iter().map(|(_, p)| format!("in_port={p}")).collect();
            RouterNet {
                cidr: cidr.to_string(),
                gw_ip: gw.to_string(),
                gw_mac: mac.to_string(),
                extra_ips: if n == 2 {
                    vec![FLOATING.to_string()]
                } else {
                    vec![]
                },
                ingress,
                pop_vlan: false,
                egress_to: Box::new(move |mac: &str, _| {
                    let p = by_mac.iter().find(|(m, _)| m == mac).map(|(_, p)| *p);
                    format!("output:{}", p.unwrap_or(0))
                }),
                arp_reply: "in_port".into(),
            }
        })
        .collect();
    RouterSpec {
        nets,
        external_ip: EXTERNAL_IP.into(),
        floating: vec![(FLOATING.into(), HOSTS[0].ip.into())],
        neighbours: hosts
            .iter()
            .map(|(h, _)| Neighbour {
                ip: h.ip.into(),
                mac: h.mac.into(),
                net: h.net,
            })
            .collect(),
    }
}

impl Deployment {
    fn ns(&self, name: &str) -> &str {
        &self.host_ns[HOSTS.iter().position(|h| h.name == name).expect("host")]
    }

    fn addr(name: &str) -> &'static str {
        HOSTS.iter().find(|h| h.name == name).expect("host").ip
    }

    /// Checks every path; each result says what the far end saw.
    pub fn check(&self, lab: &mut Lab, log: &mut dyn FnMut(&PathResult)) -> Vec<PathResult> {
        let mut res = Vec::new();
        let mut push = |path: &str, r: anyhow::Result<String>| {
            let pr = PathResult::new(path, r);
            log(&pr);
            res.push(pr);
        };
        let ns = |n: &str| self.ns(n).to_string();
        let addr = Self::addr;
        let saw = |want: &'static str| {
            move |p: String| -> anyhow::Result<String> {
                ensure!(p == want, "far end saw {p}, want {want}");
                Ok(format!("far end sees {p}"))
            }
        };
        let gateway_arp = || -> anyhow::Result<String> {
            // vm12 has sent nothing yet: its first packet off the
            // subnet makes it ARP for the gateway.
            let _ = ns_exec(&ns("vm12"), &["ping", "-c", "1", "-W", "1", addr("vm21")]);
            let out = ns_exec(&ns("vm12"), &["ip", "-4", "neigh", "show", NETS[0].1])?;
            ensure!(out.contains(NETS[0].2), "neighbour entry: {}", out.trim());
            Ok(format!("{} is {}", NETS[0].1, NETS[0].2))
        };
        push(
            "L2 net1: vm11 -> vm12 ping (no router)",
            traffic::ping(&ns("vm11"), addr("vm12")).and_then(|p| {
                ensure!(p.ttl == 64, "ttl {}", p.ttl);
                Ok(format!("ttl {}, rtt {} ms", p.ttl, p.rtt_ms))
            }),
        );
        push(
            "ARP responder: vm12 resolves its gateway to the router MAC",
            gateway_arp(),
        );
        push(
            "E-W: vm11 (net1) -> vm21 (net2) ping, TTL decremented",
            traffic::ping(&ns("vm11"), addr("vm21")).and_then(|p| {
                ensure!(p.ttl == 63, "reply ttl {} (want 63)", p.ttl);
                Ok(format!("ttl {}, rtt {} ms", p.ttl, p.rtt_ms))
            }),
        );
        push(
            "E-W: vm12 (net1) -> vm22 (net2) TCP, no NAT",
            traffic::tcp(lab, &ns("vm22"), &ns("vm12"), addr("vm22"), 5101)
                .and_then(saw(addr("vm12"))),
        );
        push(
            "E-W: vm21 (net2) -> vm11 (net1) UDP, no NAT",
            traffic::udp(lab, &ns("vm11"), &ns("vm21"), addr("vm11"), 5201)
                .and_then(saw(addr("vm21"))),
        );
        push(
            "SNAT: vm12 (net1) -> outside TCP",
            traffic::tcp(lab, &ns("outside"), &ns("vm12"), OUTSIDE, 5102)
                .and_then(saw(EXTERNAL_IP)),
        );
        push(
            "SNAT: vm21 (net2) -> outside UDP",
            traffic::udp(lab, &ns("outside"), &ns("vm21"), OUTSIDE, 5202)
                .and_then(saw(EXTERNAL_IP)),
        );
        push(
            "SNAT: vm22 (net2) -> outside ping",
            traffic::ping(&ns("vm22"), OUTSIDE)
                .map(|p| format!("ttl {}, rtt {} ms", p.ttl, p.rtt_ms)),
        );
        push(
            "FIP: outside -> floating IP of vm11 ping",
            traffic::ping(&ns("outside"), FLOATING)
                .map(|p| format!("ttl {}, rtt {} ms", p.ttl, p.rtt_ms)),
        );
        push(
            "FIP: outside -> floating IP of vm11 TCP (DNAT)",
            traffic::tcp(lab, &ns("vm11"), &ns("outside"), FLOATING, 5103).and_then(saw(OUTSIDE)),
        );
        push(
            "FIP: outside -> floating IP of vm11 UDP (DNAT)",
            traffic::udp(lab, &ns("vm11"), &ns("outside"), FLOATING, 5203).and_then(saw(OUTSIDE)),
        );
        push(
            "FIP: vm11 -> outside TCP leaves from the floating IP",
            traffic::tcp(lab, &ns("outside"), &ns("vm11"), OUTSIDE, 5104).and_then(saw(FLOATING)),
        );
        push(
            "no DNAT: outside -> router external address TCP is dropped",
            match traffic::tcp(lab, &ns("vm12"), &ns("outside"), EXTERNAL_IP, 5105) {
                Ok(p) => Err(anyhow::anyhow!("connected (server saw {p})")),
                Err(_) => Ok("refused by the flows".into()),
            },
        );
        for (mode, m) in [(FtpMode::Active, "active"), (FtpMode::Passive, "passive")] {
            push(
                &format!("FTP {m}: vm12 -> outside server via SNAT"),
                traffic::ftp(lab, &ns("outside"), &ns("vm12"), OUTSIDE, mode)
                    .and_then(saw(EXTERNAL_IP)),
            );
            push(
                &format!("FTP {m}: outside -> server on vm11 via floating IP"),
                traffic::ftp(lab, &ns("vm11"), &ns("outside"), FLOATING, mode)
                    .and_then(saw(OUTSIDE)),
            );
        }
        res
    }

    /// `ovs-appctl dpctl/dump-conntrack zone=NAT_ZONE` on the switch.
    pub fn conntrack(&self) -> anyhow::Result<String> {
        self.switch
            .appctl(&["dpctl/dump-conntrack", &format!("zone={NAT_ZONE}")])
    }

    pub fn describe(&self) -> String {
        let mut s = String::from("namespaces:");
        for n in &self.host_ns {
            let _ = write!(s, " {n}");
        }
        let _ = writeln!(
            s,
            " (switch in {}); router flows: ovs-ofctl -O OpenFlow13 dump-flows br-int",
            self.switch.ns
        );
        s
    }
}

/// Builds with `backend` and checks every path; a build failure is one
/// row.
pub fn run_scenario(lab: &mut Lab, backend: &Backend, verbose: bool) -> Vec<PathResult> {
    let p = Progress::new(backend.label(), verbose);
    match build(lab, backend, &mut |m| p.say(m)) {
        Ok(d) => {
            let r = d.check(lab, &mut |r| p.result(r));
            if verbose && r.iter().any(|r| r.outcome.is_err()) {
                if let Ok(ct) = d.conntrack() {
                    p.say(&format!("conntrack zone {NAT_ZONE}:\n{ct}"));
                }
            }
            r
        }
        Err(e) => vec![PathResult::build_failed(e)],
    }
}

/// Whether pyftpdlib is importable by `python3` (the FTP checks need it).
pub fn have_pyftpdlib() -> bool {
    Command::new("python3")
        .args(["-c", "import pyftpdlib"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
