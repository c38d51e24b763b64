//! Actions compared with Debian's OVS 3.1: the same bridge (netdev
//! datapath, dummy ports p1..p4 with OpenFlow ports 1..4, fail_mode
//! secure) in ferrovs-vswitchd and in `ovs-vswitchd --enable-dummy`, the
//! same flows, and `ofproto/trace` of the same packets; the `Datapath
//! actions:` and `Megaflow:` lines must be equal (datapath port numbers
//! replaced by port names, since the two datapaths number ports
//! differently). Families: learn (Neutron br-tun), MPLS, check_pkt_larger,
//! sample, meter, dec_ttl, set_field/load/move, multipath, bundle,
//! conjunction. Every difference that remains is listed in the case with
//! its reason.

use std::collections::BTreeMap;
use std::path::Path;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::{cookie_recirc_as_n, dp_names};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

/// Both switches, one bridge each, same ports.
struct Pair {
    ovs: OvsVswitchd,
    fv: FerrovsVswitchd,
    ovs_names: BTreeMap<String, String>,
    fv_names: BTreeMap<String, String>,
}

const PORTS: [&str; 4] = ["p1", "p2", "p3", "p4"];

fn port_args(dir: &Path) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    for (k, name) in PORTS.iter().enumerate() {
        if !a.is_empty() {
            a.push("--".into());
        }
        a.extend(["add-port", "br0", name].map(String::from));
        a.extend(["--", "set", "Interface", name, "type=dummy"].map(String::from));
        a.push(format!("ofport_request={}", k + 1));
        a.push(format!(
            "options:tx_pcap={}",
            dir.join(format!("{name}-tx.pcap")).display()
        ));
    }
    a
}

/// Replaces datapath port numbers (bare numbers in an action position:
/// at the start, after a comma, or first in `gt(`, `le(`, `clone(`,
/// `actions(`) by port names.
fn name_ports(s: &str, names: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let tok = &s[start..i];
            let before = &s[..start];
            let action_pos = before.is_empty()
                || before.ends_with(',')
                || ["gt(", "le(", "clone(", "actions("]
                    .iter()
                    .any(|p| before.ends_with(p));
            let after_ok = i == b.len() || b[i] == b',' || b[i] == b')';
            match names.get(tok) {
                Some(n) if action_pos && after_ok && tok.bytes().all(|x| x.is_ascii_digit()) => {
                    out.push_str(n)
                }
                _ => out.push_str(tok),
            }
            continue;
        }
        out.push(c as char);
        i += 1;
    }
    out
}

fn line<'a>(trace: &'a str, prefix: &str) -> &'a str {
    trace
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix} line:\n{trace}"))
        .trim()
}

impl Pair {
    fn start() -> Pair {
        let ovs = OvsVswitchd::start_dummy("br0").unwrap();
        let fv = FerrovsVswitchd::start().unwrap();
        let br = [
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "fail_mode=secure",
        ];
        fv.vsctl_ok(&br);
        let a = port_args(fv.dir());
        fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        ovs.vsctl(&["set", "bridge", "br0", "fail_mode=secure"])
            .unwrap();
        let a = port_args(ovs.dir());
        ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        let mut p = Pair {
            ovs,
            fv,
            ovs_names: BTreeMap::new(),
            fv_names: BTreeMap::new(),
        };
        p.ovs_names = dp_names(&p.ovs_appctl(&["dpif/show"]));
        p.fv_names = dp_names(&p.fv.appctl_ok(&["dpif/show"]));
        p
    }

    fn ovs_appctl(&self, args: &[&str]) -> String {
        self.ovs
            .appctl(args)
            .unwrap_or_else(|e| panic!("OVS {args:?}: {e}"))
    }

    /// `ovs-ofctl [opts] CMD br0 ARGS` on both; the outputs.
    fn ofctl(&self, opts: &[&str], cmd: &str, rest: &[&str]) -> (String, String) {
        let f = self.fv.ofctl(opts, cmd, "br0", rest);
        assert!(
            f.status.success(),
            "ferrovs ovs-ofctl {cmd} {rest:?}: {}",
            String::from_utf8_lossy(&f.stderr)
        );
        let o = self
            .ovs
            .ofctl(opts, cmd, rest)
            .unwrap_or_else(|e| panic!("OVS ovs-ofctl {cmd} {rest:?}: {e}"));
        (String::from_utf8_lossy(&f.stdout).into_owned(), o)
    }

    /// Replaces every flow of br0 with `flows` (OpenFlow 1.3 if `of13`).
    fn load(&self, flows: &[&str], of13: bool) {
        let opts: &[&str] = if of13 { &["-O", "OpenFlow13"] } else { &[] };
        self.ofctl(opts, "del-flows", &[]);
        for f in flows {
            self.ofctl(opts, "add-flow", &[f]);
        }
    }

    /// Traces `pkt` in both: (ferrovs, OVS) as (megaflow, actions) with
    /// port names.
    fn trace(&self, pkt: &str) -> ((String, String), (String, String), String) {
        let o = self.ovs_appctl(&["ofproto/trace", "br0", pkt]);
        let f = self.fv.appctl_ok(&["ofproto/trace", "br0", pkt]);
        let pick = |t: &str, names: &BTreeMap<String, String>| {
            (
                line(t, "Megaflow:").to_string(),
                // Packet-in cookies' recirculation ids are numbered apart.
                cookie_recirc_as_n(&name_ports(line(t, "Datapath actions:"), names)),
            )
        };
        let ctx = format!("{pkt}\nferrovs:\n{f}\nOVS:\n{o}");
        (pick(&f, &self.fv_names), pick(&o, &self.ovs_names), ctx)
    }

    /// Every packet's lines equal, except those `known` lists as
    /// (packet, what differs, reason): for those the difference must still
    /// be there (so that a fixed one is noticed and removed from the list).
    fn check(&self, case: &str, flows: &[&str], of13: bool, pkts: &[&str], known: &[Known]) {
        self.load(flows, of13);
        let mut bad = Vec::new();
        for p in pkts {
            let (f, o, ctx) = self.trace(p);
            if std::env::var_os("XLATE_DIFF_VERBOSE").is_some() {
                eprintln!("=== {case}\n{ctx}");
            }
            match known.iter().find(|k| k.packet == *p) {
                None => {
                    if f.1 != o.1 {
                        bad.push(format!(
                            "datapath actions\n  ferrovs {}\n  OVS     {}\n{ctx}",
                            f.1, o.1
                        ));
                    } else if f.0 != o.0 {
                        bad.push(format!(
                            "megaflow\n  ferrovs {}\n  OVS     {}\n{ctx}",
                            f.0, o.0
                        ));
                    }
                }
                Some(k) => {
                    let differs = match k.line {
                        Line::Megaflow => f.0 != o.0 && f.1 == o.1,
                    };
                    if !differs {
                        bad.push(format!(
                            "known difference gone ({}), update the test\n{ctx}",
                            k.reason
                        ));
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{case}: {} of {} packets differ:\n{}",
            bad.len(),
            pkts.len(),
            bad.join("\n----\n")
        );
    }
}

/// Which line of a known difference differs (every one left is a
/// megaflow's).
#[derive(Clone, Copy)]
enum Line {
    Megaflow,
}

/// A difference from OVS kept on purpose, with its reason.
struct Known {
    packet: &'static str,
    line: Line,
    reason: &'static str,
}

const TUN_PKT: &str = "in_port=2,tun_id=0x3e9,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,ip,nw_src=198.18.0.1,nw_dst=198.18.0.2";

#[test]
fn learn_neutron_br_tun() {
    let p = Pair::start();
    // Neutron's OVS agent br-tun: p1 is patch-int, p2 a tunnel port.
    let flows = [
        "table=0,priority=1,in_port=1 actions=resubmit(,2)",
        "table=0,priority=1,in_port=2 actions=resubmit(,4)",
        "table=0,priority=0 actions=drop",
        "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
        "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)",
        "table=4,priority=1,tun_id=0x3e9 actions=mod_vlan_vid:1,resubmit(,10)",
        "table=4,priority=0 actions=drop",
        "table=10,priority=1 actions=learn(cookie=0x9a2e5a2c4c0f4a8e,table=20,priority=1,hard_timeout=300,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:1",
        "table=20,priority=0 actions=resubmit(,22)",
        "table=22,priority=1,dl_vlan=1 actions=strip_vlan,set_tunnel:0x3e9,output:2",
        "table=22,priority=0 actions=drop",
    ];
    p.check(
        "br-tun",
        &flows,
        false,
        &[
            TUN_PKT,
            "in_port=2,tun_id=0x3ea,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02",
            "in_port=1,dl_vlan=1,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,ip",
            "in_port=1,dl_vlan=1,dl_src=fa:16:3e:00:00:02,dl_dst=ff:ff:ff:ff:ff:ff,arp",
        ],
        &[Known {
            packet: "in_port=4,ip,nw_ttl=7",
            line: Line::Megaflow,
            reason: "after push_mpls,output,pop_mpls the L3 words of the flow are \
                         gone; OVS's IPv4 commit stops at nw_proto 0 without reading \
                         it, ferrovs's reads nw_proto (the L3 commit is shared code)",
        }],
    );
}

/// A learn applied by real packets: `netdev-dummy/receive` on p1 in both
/// switches, then table 1's learned flows are the same.
#[test]
fn learn_from_real_packets() {
    let p = Pair::start();
    p.load(
        &[
            "table=0,in_port=1,ip actions=learn(table=1,idle_timeout=60,priority=5,cookie=0x5,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IP_SRC[]->NXM_NX_REG0[],output:NXM_OF_IN_PORT[]),resubmit(,1)",
            "table=1,priority=0 actions=output:3",
        ],
        false,
    );
    let pkt =
        "505400000002505400000001080045000054000040004001000ac6120001c61200020800f7ff00000000";
    p.fv.appctl_ok(&["netdev-dummy/receive", "p1", pkt]);
    p.ovs_appctl(&["netdev-dummy/receive", "p1", pkt]);
    let learned = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains("cookie=0x5") && !l.contains("learn("))
            .map(|l| {
                // Drop the counters and ages, which differ by timing.
                l.split(", ")
                    .filter(|f| {
                        ![
                            "duration=",
                            "n_packets=",
                            "n_bytes=",
                            "idle_age=",
                            "hard_age=",
                        ]
                        .iter()
                        .any(|k| f.trim_start().starts_with(k))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let ok = p.fv.wait_until(std::time::Duration::from_secs(5), || {
        !learned(&p.ofctl(&[], "dump-flows", &[]).0).is_empty()
    });
    let (f, o) = p.ofctl(&[], "dump-flows", &[]);
    assert!(ok, "ferrovs learned nothing:\n{f}\nlog:\n{}", p.fv.log());
    assert_eq!(learned(&f), learned(&o), "\nferrovs:\n{f}\nOVS:\n{o}");
    assert_eq!(learned(&f).len(), 1, "{f}");
}

const MPLS_TTL1: &str = "in_port=3,mpls,mpls_label=10,mpls_ttl=1,mpls_bos=1";

#[test]
fn mpls() {
    let p = Pair::start();
    p.check(
        "mpls",
        &[
            "in_port=1,ip actions=push_mpls:0x8847,set_mpls_label:10,set_mpls_ttl:5,output:2",
            "in_port=2,mpls actions=pop_mpls:0x0800,output:1",
            "in_port=3,mpls actions=set_mpls_label:20,set_mpls_tc:3,dec_mpls_ttl,output:4",
            "in_port=4,mpls actions=push_mpls:0x8847,set_field:30->mpls_label,output:1",
            "in_port=4,ip actions=push_mpls:0x8848,output:1,pop_mpls:0x0800,output:2",
            "in_port=4,arp actions=dec_mpls_ttl,output:1",
            "in_port=4,ipv6 actions=push_mpls:0x8847,output:1",
        ],
        false,
        &[
            "in_port=1,ip,nw_tos=0x20,nw_ttl=9,nw_src=198.18.0.1,nw_dst=198.18.0.2",
            "in_port=1,tcp,nw_ttl=64,tp_dst=80",
            "in_port=2,mpls,mpls_label=10,mpls_ttl=9,mpls_bos=1",
            "in_port=3,mpls,mpls_label=10,mpls_ttl=9,mpls_bos=1",
            MPLS_TTL1,
            "in_port=4,mpls,mpls_label=10,mpls_ttl=9,mpls_bos=1",
            "in_port=4,ip,nw_ttl=7",
            "in_port=4,arp",
            "in_port=4,ipv6,nw_tos=0x60,nw_ttl=3",
        ],
        &[Known {
            packet: "in_port=4,ip,nw_ttl=7",
            line: Line::Megaflow,
            reason: "after push_mpls,output,pop_mpls the L3 words of the flow are \
                         gone; OVS's IPv4 commit stops at nw_proto 0 without reading \
                         it, ferrovs's reads nw_proto (the L3 commit is shared code)",
        }],
    );
}

/// `check_pkt_larger` (the datapath's check_pkt_len), `sample` (no IPFIX
/// configured in either switch: nothing), `dec_ttl`.
#[test]
fn check_pkt_larger_sample_dec_ttl() {
    let p = Pair::start();
    p.check(
        "check_pkt_larger",
        &[
            "in_port=1 actions=mod_dl_src:00:00:00:00:00:01,check_pkt_larger(1500)->NXM_NX_REG0[0],resubmit(,1),output:3",
            "table=1,reg0=0x1 actions=mod_dl_dst:00:00:00:00:00:09,output:2",
            "table=1,reg0=0 actions=output:2",
            "in_port=2 actions=check_pkt_larger(64)->NXM_NX_REG1[3]",
            "in_port=3 actions=sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3),output:2",
            "in_port=4,ip actions=dec_ttl,output:1",
            "in_port=4,ipv6 actions=dec_ttl,output:1",
            "in_port=4,arp actions=dec_ttl,output:1",
        ],
        false,
        &[
            "in_port=1,dl_dst=00:00:00:00:00:05",
            "in_port=1,ip,nw_src=198.18.0.1",
            "in_port=2",
            "in_port=3,tcp",
            "in_port=4,ip,nw_ttl=9,nw_src=198.18.0.1",
            "in_port=4,udp,nw_ttl=9,udp_dst=53",
            "in_port=4,ipv6,nw_ttl=2",
            "in_port=4,arp",
        ],
        &[Known {
            packet: "in_port=4,arp",
            line: Line::Megaflow,
            reason: "dec_ttl reads nw_ttl and nw_proto for any packet, as OVS, and \
                     both are in ferrovs's mask; ferrovs's match printer leaves \
                     nw_ttl out of an ARP match where OVS prints nw_ttl=0",
        }],
    );
    // OpenFlow 1.3: the rule's write_actions and goto_table belong to
    // both branches.
    p.check(
        "check_pkt_larger with instructions",
        &[
            "table=0,in_port=1 actions=check_pkt_larger(100)->NXM_NX_REG0[0],set_field:0x5->reg1,write_actions(output:3),goto_table:1",
            "table=1,reg0=1,reg1=5 actions=output:2",
            "table=1,reg0=0 actions=output:4,clear_actions",
        ],
        true,
        &["in_port=1", "in_port=1,tcp"],
        &[],
    );
}

/// set_field, load, move, the OpenFlow 1.0 mod_* actions and registers.
#[test]
fn set_field_load_move() {
    let p = Pair::start();
    p.check(
        "set_field",
        &[
            "in_port=1,ip,nw_dst=198.18.0.9 actions=mod_nw_src:198.18.0.7,output:2",
            "in_port=1,tcp actions=set_field:8080->tcp_dst,set_field:0x10->ip_dscp,output:2",
            "in_port=1,udp actions=load:0x35->NXM_OF_UDP_SRC[],mod_nw_ecn:1,output:2",
            "in_port=2,ipv6 actions=set_field:2001:db8::1->ipv6_src,set_field:0x12345->ipv6_label,output:1",
            "in_port=2,arp actions=set_field:198.18.0.5->arp_spa,set_field:2->arp_op,output:1",
            "in_port=3 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],load:0xaa->NXM_OF_ETH_SRC[0..7],output:1",
            "in_port=4,ip actions=load:0xc612->NXM_OF_IP_DST[16..31],move:NXM_OF_IP_SRC[0..7]->NXM_NX_REG2[0..7],output:NXM_NX_REG3[0..15]",
            "in_port=4,icmp actions=set_field:3->icmp_type,set_field:1->icmp_code,output:1",
            "in_port=4,vlan_tci=0x1000/0x1000 actions=set_field:5->vlan_vid,set_field:3->vlan_pcp,output:1",
            "in_port=4,arp actions=set_field:0x7->pkt_mark,set_queue:1,output:1",
            "priority=40000,in_port=2,icmp6,icmp_type=135 actions=set_field:2001:db8::7->nd_target,set_field:00:00:00:00:00:07->nd_sll,output:1",
        ],
        false,
        &[
            "in_port=1,ip,nw_dst=198.18.0.9",
            "in_port=1,tcp,nw_dst=198.18.0.9,tp_dst=80",
            "in_port=1,tcp,nw_src=198.18.0.2,tp_dst=80",
            "in_port=1,udp,udp_src=1,udp_dst=2",
            "in_port=2,ipv6,ipv6_src=2001:db8::9,nw_proto=17",
            "in_port=2,arp,arp_spa=198.18.0.1,arp_op=1",
            "in_port=3,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02",
            "in_port=4,ip,nw_src=198.18.0.3,nw_dst=10.0.0.1,nw_proto=6",
            "in_port=4,icmp,icmp_type=8",
            "in_port=4,dl_vlan=7,dl_vlan_pcp=1",
            "in_port=4,arp",
            "in_port=2,icmp6,icmpv6_type=135,icmpv6_code=0,nd_target=2001:db8::1,nd_sll=00:00:00:00:00:01",
        ],
        &[
            Known {
                packet: "in_port=2,ipv6,ipv6_src=2001:db8::9,nw_proto=17",
                line: Line::Megaflow,
                reason: "same mask; OVS prints the whole 20-bit label mask as \
                         ipv6_label=0x00000/0xfffff, ferrovs's printer as exact",
            },
        ],
    );
}

/// multipath with each hash and algorithm, bundle and bundle_load: the
/// same link for each of many flows (the hashes are OVS's, bit for bit).
#[test]
fn multipath_and_bundle() {
    let p = Pair::start();
    let mut flows = vec![
        "table=1,reg0=0 actions=output:2".to_string(),
        "table=1,reg0=1 actions=output:3".to_string(),
        "table=1,reg0=2 actions=output:4".to_string(),
        "table=1,reg0=3 actions=output:1".to_string(),
        "table=1,reg1=2 actions=output:2".to_string(),
        "table=1,reg1=3 actions=output:3".to_string(),
        "table=1,reg1=4 actions=output:4".to_string(),
        "in_port=2 actions=bundle(eth_src,0,active_backup,ofport,members:3,4)".to_string(),
        "in_port=3 actions=bundle(symmetric_l4,7,hrw,ofport,members:1,2,4)".to_string(),
        "in_port=4 actions=bundle_load(symmetric_l3l4+udp,3,hrw,ofport,NXM_NX_REG1[],members:2,3,4),resubmit(,1)".to_string(),
    ];
    let hashes = [
        "eth_src",
        "symmetric_l4",
        "symmetric_l3l4",
        "symmetric_l3l4+udp",
        "nw_src",
        "nw_dst",
        "symmetric_l3",
    ];
    let algs = ["modulo_n", "hash_threshold", "hrw", "iter_hash"];
    let mut cases = Vec::new();
    for (i, h) in hashes.iter().enumerate() {
        for (j, a) in algs.iter().enumerate() {
            cases.push((i * algs.len() + j, h, a));
        }
    }
    for (n, h, a) in &cases {
        // Each (hash, algorithm) pair gets its own metadata value.
        flows.push(format!(
            "in_port=1,metadata={n} actions=multipath({h},{b},{a},3,{arg},NXM_NX_REG0[0..1]),resubmit(,1)",
            b = 10 + n,
            arg = if **a == "iter_hash" { 4 } else { 0 }
        ));
    }
    let flow_refs: Vec<&str> = flows.iter().map(String::as_str).collect();
    let mut pkts = Vec::new();
    for (n, _, _) in &cases {
        for k in 0..4 {
            pkts.push(format!(
                "in_port=1,metadata={n},dl_src=50:54:00:00:00:{k:02x},dl_dst=50:54:00:00:01:01,tcp,nw_src=198.18.{k}.1,nw_dst=198.18.1.{n},tp_src={},tp_dst=80",
                1000 + 7 * k
            ));
        }
        pkts.push(format!(
            "in_port=1,metadata={n},dl_src=50:54:00:00:00:09,udp6,ipv6_src=2001:db8::{n:x},ipv6_dst=2001:db8::1,udp_src=53,udp_dst=5353"
        ));
        pkts.push(format!(
            "in_port=1,metadata={n},dl_src=50:54:00:00:00:0{},arp",
            n % 10
        ));
    }
    for k in 0..6 {
        pkts.push(format!("in_port=2,dl_src=50:54:00:00:00:0{k}"));
        pkts.push(format!(
            "in_port=3,dl_src=50:54:00:00:00:0{k},dl_dst=50:54:00:00:00:10,tcp,nw_src=198.18.0.{k},nw_dst=198.18.0.200,tp_src={},tp_dst=443",
            2000 + k
        ));
        pkts.push(format!(
            "in_port=4,dl_src=50:54:00:00:00:0{k},udp,nw_src=198.18.0.{k},nw_dst=198.18.0.200,udp_src={},udp_dst=53",
            3000 + k
        ));
    }
    let pkt_refs: Vec<&str> = pkts.iter().map(String::as_str).collect();
    p.check("multipath", &flow_refs, false, &pkt_refs, &[]);
    // Members go down (administratively): active_backup takes the backup,
    // hrw picks among the live ones, bundle_load loads what is left.
    p.ofctl(&[], "mod-port", &["p3", "down"]);
    p.ofctl(&[], "mod-port", &["p2", "down"]);
    let bundle_pkts: Vec<&str> = pkt_refs
        .iter()
        .copied()
        .filter(|x| !x.starts_with("in_port=1,"))
        .collect();
    p.check("bundle, members down", &flow_refs, false, &bundle_pkts, &[]);
}

/// An OVN-style logical switch pipeline: port security and logical
/// input port in registers and metadata, an ACL stage made of
/// conjunctions (address sets x port sets), then the logical output port
/// mapped to a physical port.
#[test]
fn conjunction_ovn_acl() {
    let p = Pair::start();
    let flows = [
        "table=0,priority=100,in_port=1 actions=set_field:0x1->metadata,set_field:0x1->reg14,resubmit(,8)",
        "table=0,priority=100,in_port=2 actions=set_field:0x1->metadata,set_field:0x2->reg14,resubmit(,8)",
        "table=8,priority=50,metadata=0x1,reg14=0x1,dl_src=50:54:00:00:00:01 actions=resubmit(,44)",
        "table=8,priority=50,metadata=0x1,reg14=0x2 actions=resubmit(,44)",
        "table=8,priority=0 actions=drop",
        // ACL: allow from {198.18.0.1, 198.18.0.2} to tcp {22, 443} or
        // from 198.18.0.0/24 to udp 53; priority 2000 conjunctions.
        "table=44,priority=2000,ip,metadata=0x1,nw_src=198.18.0.1 actions=conjunction(100,1/2)",
        "table=44,priority=2000,ip,metadata=0x1,nw_src=198.18.0.2 actions=conjunction(100,1/2)",
        "table=44,priority=2000,tcp,metadata=0x1,tp_dst=22 actions=conjunction(100,2/2)",
        "table=44,priority=2000,tcp,metadata=0x1,tp_dst=443 actions=conjunction(100,2/2)",
        "table=44,priority=2000,conj_id=100,ip,metadata=0x1 actions=set_field:0x3->reg15,resubmit(,65)",
        "table=44,priority=1900,ip,metadata=0x1,nw_src=198.18.0.0/24 actions=conjunction(101,1/2)",
        "table=44,priority=1900,udp,metadata=0x1,tp_dst=53 actions=conjunction(101,2/2)",
        "table=44,priority=1900,conj_id=101,ip,metadata=0x1 actions=set_field:0x4->reg15,resubmit(,65)",
        "table=44,priority=1000,ip,metadata=0x1 actions=drop",
        "table=44,priority=0,metadata=0x1 actions=set_field:0x4->reg15,resubmit(,65)",
        "table=65,priority=100,reg15=0x3,metadata=0x1 actions=output:3",
        "table=65,priority=100,reg15=0x4,metadata=0x1 actions=output:4",
    ];
    let eth = "dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:03";
    let pkts: Vec<String> = [
        "tcp,nw_src=198.18.0.1,nw_dst=198.18.1.1,tp_src=1000,tp_dst=22",
        "tcp,nw_src=198.18.0.2,nw_dst=198.18.1.1,tp_src=1000,tp_dst=443",
        "tcp,nw_src=198.18.0.3,nw_dst=198.18.1.1,tp_src=1000,tp_dst=22",
        "tcp,nw_src=198.18.0.1,nw_dst=198.18.1.1,tp_src=1000,tp_dst=80",
        "udp,nw_src=198.18.0.77,nw_dst=198.18.1.1,udp_src=1000,udp_dst=53",
        "udp,nw_src=198.18.1.77,nw_dst=198.18.1.1,udp_src=1000,udp_dst=53",
        "udp,nw_src=198.18.0.1,nw_dst=198.18.1.1,udp_src=1000,udp_dst=54",
        "arp",
    ]
    .iter()
    .flat_map(|x| {
        [
            format!("in_port=1,{eth},{x}"),
            format!("in_port=2,dl_src=50:54:00:00:00:02,dl_dst=50:54:00:00:00:03,{x}"),
        ]
    })
    .collect();
    let refs: Vec<&str> = pkts.iter().map(String::as_str).collect();
    // Packets that complete no conjunction have OVS's megaflow too: the
    // conjunctive path looks up each subtable with the prefix and ports
    // tries (nw_src=198.18.0.64/26, tp_dst=0x40/0xffc0).
    p.check("ovn-acl", &flows, true, &refs, &[]);
}

impl Pair {
    /// Frames each switch sent out of `port` so far.
    fn tx(&self, port: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let f = ferrovs_tests::pcap::frames(&self.fv.dir().join(format!("{port}-tx.pcap")))
            .unwrap_or_default();
        let o = ferrovs_tests::pcap::frames(&self.ovs.dir().join(format!("{port}-tx.pcap")))
            .unwrap_or_default();
        (f, o)
    }

    /// Sends `frame` (hex) into p1 of both switches.
    fn receive(&self, port: &str, frame: &str) {
        self.fv.appctl_ok(&["netdev-dummy/receive", port, frame]);
        self.ovs_appctl(&["netdev-dummy/receive", port, frame]);
    }

    /// Waits until ferrovs has sent `n` frames out of `port` (OVS sends
    /// synchronously), then gives stragglers 300 ms.
    fn wait_tx(&self, port: &str, n: usize) {
        self.fv.wait_until(std::time::Duration::from_secs(5), || {
            self.tx(port).0.len() >= n
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// An ICMP echo from 198.18.0.1 to 198.18.0.2 (TTL 64).
const ICMP: &str =
    "505400000002505400000001080045000054000040004001000ac6120001c61200020800f7ff00000000";

/// MPLS push and pop executed on real packets: the frames out of the
/// ports are byte for byte OVS's.
#[test]
fn mpls_frames_match_ovs() {
    let p = Pair::start();
    p.load(
        &[
            "in_port=1,ip actions=push_mpls:0x8847,set_mpls_label:1000,set_mpls_ttl:9,output:2,push_mpls:0x8847,set_mpls_label:7,output:3",
            "in_port=4,mpls actions=pop_mpls:0x8847,output:3,pop_mpls:0x0800,output:2",
        ],
        false,
    );
    p.receive("p1", ICMP);
    p.wait_tx("p3", 1);
    for port in ["p2", "p3"] {
        let (f, o) = p.tx(port);
        assert_eq!(o.len(), 1, "{port}: OVS sent {o:?}");
        assert_eq!(
            f.iter().map(hex::encode).collect::<Vec<_>>(),
            o.iter().map(hex::encode).collect::<Vec<_>>(),
            "{port}"
        );
    }
    // Two labels in, popped one at a time.
    let (_, o3) = p.tx("p3");
    let two = hex::encode(&o3[0]);
    p.receive("p4", &two);
    p.wait_tx("p2", 2);
    for port in ["p2", "p3"] {
        let (f, o) = p.tx(port);
        assert_eq!(o.len(), 2, "{port}: OVS sent {o:?}");
        assert_eq!(
            f.iter().map(hex::encode).collect::<Vec<_>>(),
            o.iter().map(hex::encode).collect::<Vec<_>>(),
            "{port}"
        );
    }
}

/// A meter: the datapath action in the trace is OVS's (`meter(0)`, the
/// first datapath meter id), and a pktps drop band lets through what its
/// burst allows.
#[test]
fn meter_trace_and_drop_band() {
    let p = Pair::start();
    let o13 = ["-O", "OpenFlow13"];
    p.ofctl(
        &o13,
        "add-meter",
        &["meter=1,pktps,burst,band=type=drop,rate=1,burst_size=3"],
    );
    p.check(
        "meter",
        &["in_port=1 actions=meter:1,output:2"],
        true,
        &["in_port=1,ip", "in_port=1,arp"],
        &[],
    );
    // 10 packets back to back through a 1 pkt/s meter with a burst of 3.
    for _ in 0..10 {
        p.receive("p1", ICMP);
    }
    p.wait_tx("p2", 3);
    let (f, o) = p.tx("p2");
    assert!(
        (3..=4).contains(&f.len()),
        "ferrovs passed {} of 10 (OVS {})",
        f.len(),
        o.len()
    );
    assert!((3..=4).contains(&o.len()), "OVS passed {}", o.len());
}

/// A learned flow with a hard timeout stays while packets keep hitting
/// the learning megaflow (each use re-learns it, as OVS's xlate cache
/// does), and expires once they stop: in both switches.
#[test]
fn learned_flow_refreshed_by_traffic() {
    let p = Pair::start();
    p.load(
        &[
            "table=0,in_port=1 actions=learn(table=1,hard_timeout=2,priority=5,cookie=0x5,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2",
        ],
        false,
    );
    let learned = |s: &str| {
        s.lines()
            .filter(|l| l.contains("cookie=0x5") && !l.contains("learn("))
            .count()
    };
    for _ in 0..9 {
        p.receive("p1", ICMP);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (f, o) = p.ofctl(&[], "dump-flows", &[]);
    assert_eq!(learned(&o), 1, "OVS:\n{o}");
    assert_eq!(
        learned(&f),
        1,
        "ferrovs lost the learned flow under traffic:\n{f}"
    );
    // Silence: gone within the timeout and a revalidation round or two.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let (f, o) = p.ofctl(&[], "dump-flows", &[]);
    assert_eq!(learned(&o), 0, "OVS:\n{o}");
    assert_eq!(learned(&f), 0, "ferrovs:\n{f}");
}

/// `delete_learned`: deleting the learning flow deletes what it learned,
/// in both switches; a learn without the flag leaves its flows.
#[test]
fn delete_learned_with_its_learning_flow() {
    let p = Pair::start();
    p.load(
        &[
            "table=0,in_port=1 actions=learn(table=1,delete_learned,cookie=0x7,priority=5,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),learn(table=2,cookie=0x8,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),output:2",
        ],
        false,
    );
    p.receive("p1", ICMP);
    let count = |s: &str, c: &str| {
        s.lines()
            .filter(|l| l.contains(c) && !l.contains("learn("))
            .count()
    };
    p.fv.wait_until(std::time::Duration::from_secs(5), || {
        count(&p.ofctl(&[], "dump-flows", &[]).0, "cookie=0x7") == 1
    });
    let (f, o) = p.ofctl(&[], "dump-flows", &[]);
    for c in ["cookie=0x7", "cookie=0x8"] {
        assert_eq!(count(&o, c), 1, "OVS {c}:\n{o}");
        assert_eq!(count(&f, c), 1, "ferrovs {c}:\n{f}");
    }
    p.ofctl(&[], "del-flows", &["table=0,in_port=1"]);
    let (f, o) = p.ofctl(&[], "dump-flows", &[]);
    assert_eq!(
        (count(&o, "cookie=0x7"), count(&o, "cookie=0x8")),
        (0, 1),
        "OVS:\n{o}"
    );
    assert_eq!(
        (count(&f, "cookie=0x7"), count(&f, "cookie=0x8")),
        (0, 1),
        "ferrovs:\n{f}"
    );
}

/// check_pkt_larger on real packets: a short and a long frame through
/// one megaflow take their branches in both switches.
#[test]
fn check_pkt_larger_frames_match_ovs() {
    let p = Pair::start();
    p.load(
        &[
            "in_port=1 actions=check_pkt_larger(100)->NXM_NX_REG0[0],resubmit(,1)",
            "table=1,reg0=1 actions=output:2",
            "table=1,reg0=0 actions=output:3",
        ],
        false,
    );
    // Consistent IP lengths: 28 bytes of IP (frame 42) and 128 (142).
    let short =
        "50540000000250540000000108004500001c000040004001000ac6120001c61200020800f7ff00000000";
    let long = format!(
        "505400000002505400000001080045000080000040004001000ac6120001c61200020800f7ff00000000{}",
        "00".repeat(100)
    );
    // IP says 84 bytes, the frame carries 44 more: link-layer padding,
    // which OVS does not count (so not larger than 100).
    let padded = format!(
        "505400000002505400000001080045000054000040004001000ac6120001c61200020800f7ff00000000{}",
        "ab".repeat(100)
    );
    p.receive("p1", short);
    p.receive("p1", &long);
    p.receive("p1", short);
    p.receive("p1", &padded);
    p.wait_tx("p3", 3);
    for port in ["p2", "p3"] {
        let (f, o) = p.tx(port);
        assert_eq!(
            f.iter().map(hex::encode).collect::<Vec<_>>(),
            o.iter().map(hex::encode).collect::<Vec<_>>(),
            "{port}"
        );
    }
    assert_eq!((p.tx("p2").1.len(), p.tx("p3").1.len()), (1, 3));
}
