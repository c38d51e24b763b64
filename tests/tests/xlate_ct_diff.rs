//! Connection tracking translated as Debian's OVS 3.1 translates it: the
//! same bridge (netdev datapath, dummy ports p1..p4 = OpenFlow ports
//! 1..4, fail_mode secure) in ferrovs-vswitchd and in `ovs-vswitchd
//! --enable-dummy`, the same flows, and `ofproto/trace` of the same
//! packets, following every `ct(table=)` recirculation (`--ct-next` sets
//! the state each one resumes with). Every pass's `Datapath actions:`
//! and `Megaflow:` lines must be equal, with datapath port numbers
//! replaced by port names and recirculation ids by their order of
//! appearance (the two switches number both differently). Families: a
//! stateful firewall, `ct` arguments (zone from a register, exec of
//! ct_mark/ct_label, force, alg, ct_clear), NAT, and the security-group
//! pipeline of Neutron's OVS firewall driver.

use std::collections::BTreeMap;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::neutron_fw::{NEUTRON_FW, VM1_MAC};
use ferrovs_tests::ovs_compare::{add_dummy_ports, dp_names, named_actions};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

struct Pair {
    ovs: OvsVswitchd,
    fv: FerrovsVswitchd,
    ovs_names: BTreeMap<String, String>,
    fv_names: BTreeMap<String, String>,
}

const PORTS: [(&str, &[&str]); 4] = [("p1", &[]), ("p2", &[]), ("p3", &[]), ("p4", &[])];

impl Pair {
    fn start() -> Pair {
        let ovs = OvsVswitchd::start_dummy("br0").unwrap();
        let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
        let a = add_dummy_ports(fv.dir(), "br0", &PORTS);
        fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        ovs.vsctl(&["set", "bridge", "br0", "fail_mode=secure"])
            .unwrap();
        let a = add_dummy_ports(ovs.dir(), "br0", &PORTS);
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

    fn load(&self, flows: &[&str]) {
        let f = self.fv.ofctl(&[], "del-flows", "br0", &[]);
        assert!(f.status.success());
        self.ovs.ofctl(&[], "del-flows", &[]).unwrap();
        for fl in flows {
            let f = self.fv.ofctl(&[], "add-flow", "br0", &[fl]);
            assert!(
                f.status.success(),
                "ferrovs add-flow {fl}: {}",
                String::from_utf8_lossy(&f.stderr)
            );
            self.ovs
                .ofctl(&[], "add-flow", &[fl])
                .unwrap_or_else(|e| panic!("OVS add-flow {fl}: {e}"));
        }
    }

    /// Traces `pkt` (with `--ct-next` states) in both; each pass as
    /// (megaflow, actions), normalized.
    fn trace(&self, pkt: &str, ct_next: &[&str]) -> (Passes, Passes, String) {
        let mut args = vec!["ofproto/trace", "br0", pkt];
        for s in ct_next {
            args.push("--ct-next");
            args.push(s);
        }
        let o = self.ovs_appctl(&args);
        let f = self.fv.appctl_ok(&args);
        let ctx = format!("{pkt} {ct_next:?}\nferrovs:\n{f}\nOVS:\n{o}");
        (passes(&f, &self.fv_names), passes(&o, &self.ovs_names), ctx)
    }

    /// Every packet's `Datapath actions:` lines equal in every pass, and
    /// its `Megaflow:` lines too except for the packets `known` lists
    /// (whose megaflows must still differ, so that a fix is noticed).
    fn check(&self, case: &str, flows: &[&str], pkts: &[(&str, &[&str])], known: &[Known]) {
        self.load(flows);
        let mut bad = Vec::new();
        for (p, next) in pkts {
            let (f, o, ctx) = self.trace(p, next);
            if std::env::var_os("XLATE_DIFF_VERBOSE").is_some() {
                eprintln!("=== {case}\n{ctx}");
            }
            let acts = |v: &Passes| v.iter().map(|x| x.1.clone()).collect::<Vec<_>>();
            if acts(&f) != acts(&o) {
                bad.push(format!(
                    "datapath actions differ\n  ferrovs {f:?}\n  OVS     {o:?}\n{ctx}"
                ));
                continue;
            }
            let k = known.iter().find(|k| k.packet == *p && k.ct_next == *next);
            match k {
                None if f != o => bad.push(format!(
                    "megaflows differ\n  ferrovs {f:?}\n  OVS     {o:?}\n{ctx}"
                )),
                Some(k) if f == o => bad.push(format!(
                    "known difference gone ({}), update the test\n{ctx}",
                    k.reason
                )),
                _ => {}
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

/// Each pass of a trace as (Megaflow, Datapath actions).
type Passes = Vec<(String, String)>;

/// A difference from OVS kept on purpose, with its reason.
struct Known {
    packet: &'static str,
    ct_next: &'static [&'static str],
    reason: &'static str,
}

/// Each pass of a trace: (Megaflow, Datapath actions), ports named and
/// recirculation ids numbered by first appearance.
fn passes(trace: &str, names: &BTreeMap<String, String>) -> Passes {
    let mut ids: Vec<String> = Vec::new();
    let mut v = Vec::new();
    let mut mega = String::new();
    for l in trace.lines() {
        if let Some(m) = l.strip_prefix("Megaflow:") {
            mega = renumber(m.trim(), &mut ids);
        } else if l.starts_with("Datapath actions:") {
            let a = named_actions(l, names);
            v.push((std::mem::take(&mut mega), renumber(&a, &mut ids)));
        }
    }
    v
}

/// Replaces each `recirc(0xN)` / `recirc_id=0xN` id by `#k`, k its rank
/// of first appearance.
fn renumber(s: &str, ids: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let a = rest.find("recirc(0x").map(|i| (i, 9));
        let b = rest.find("recirc_id=0x").map(|i| (i, 12));
        let Some((i, n)) = [a, b].into_iter().flatten().min() else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i + n - 2]);
        rest = &rest[i + n..];
        let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        rest = &rest[hex.len()..];
        let k = match ids.iter().position(|x| *x == hex) {
            Some(k) => k,
            None => {
                ids.push(hex);
                ids.len() - 1
            }
        };
        out.push_str(&format!("#{}", k + 1));
    }
}

const TCP12: &str = "in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=40000,tp_dst=80";
const TCP21: &str = "in_port=2,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,tcp,nw_src=198.18.0.2,nw_dst=198.18.0.1,tp_src=80,tp_dst=40000";
const TCP21_NEW: &str = "in_port=2,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,tcp,nw_src=198.18.0.2,nw_dst=198.18.0.1,tp_src=41000,tp_dst=22";
const UDP31: &str = "in_port=3,dl_src=fa:16:3e:00:00:03,dl_dst=fa:16:3e:00:00:01,udp,nw_src=198.18.0.3,nw_dst=198.18.0.1,udp_src=5000,udp_dst=69";
const ICMP41: &str = "in_port=4,dl_src=fa:16:3e:00:00:04,dl_dst=fa:16:3e:00:00:01,icmp,nw_src=198.18.0.4,nw_dst=198.18.0.1,icmp_type=8,icmp_code=0";
const ARP12: &str = "in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_spa=198.18.0.1,arp_tpa=198.18.0.2,arp_op=1";

#[test]
fn stateful_firewall() {
    let p = Pair::start();
    let flows = [
        "table=0,priority=100,ip,ct_state=-trk actions=ct(table=1,zone=5)",
        "table=0,priority=10,arp actions=output:2",
        "table=1,priority=100,in_port=1,tcp,tp_dst=80,ct_state=+trk+new actions=ct(commit,zone=5),output:2",
        "table=1,priority=100,in_port=1,ct_state=+trk+est actions=output:2",
        "table=1,priority=100,in_port=2,ct_state=+trk+est actions=output:1",
        "table=1,priority=90,ct_state=+trk+inv actions=drop",
        "table=1,priority=1 actions=drop",
    ];
    p.check(
        "stateful firewall",
        &flows,
        &[
            (TCP12, &[]),
            (TCP12, &["trk,est"]),
            (TCP21, &["trk,est,rpl"]),
            (TCP21_NEW, &[]),
            (TCP21_NEW, &["trk,inv"]),
            (ARP12, &[]),
        ],
        &[],
    );
}

#[test]
fn ct_arguments() {
    let p = Pair::start();
    let flows = [
        "table=0,priority=100,ip,in_port=1 actions=load:0x7->NXM_NX_REG6[0..15],ct(commit,zone=NXM_NX_REG6[0..15],exec(set_field:0x1/0xff->ct_mark,set_field:0x2->ct_label)),output:2",
        "table=0,priority=100,tcp,in_port=2 actions=ct(commit,force,alg=ftp,table=1)",
        "table=0,priority=100,udp,in_port=3 actions=ct(commit,alg=tftp,exec(load:0xabcd->NXM_NX_CT_LABEL[64..79])),output:1",
        "table=0,priority=90,in_port=4 actions=ct_clear,output:1",
        "table=1,priority=100,ct_state=+trk,ct_mark=0x1 actions=output:1",
        "table=1,priority=90,ct_state=+trk,ct_zone=0,tcp actions=ct(zone=3,table=2)",
        "table=2,priority=100,ct_zone=3,ct_state=+trk+est actions=output:3",
        "table=2,priority=1 actions=output:4",
    ];
    p.check(
        "ct arguments",
        &flows,
        &[
            (TCP12, &[]),
            (TCP21, &[]),
            (TCP21, &["trk,new", "trk,est"]),
            (UDP31, &[]),
            (ICMP41, &[]),
        ],
        &[],
    );
}

#[test]
fn nat() {
    let p = Pair::start();
    let flows = [
        "table=0,priority=100,tcp,in_port=1 actions=ct(commit,nat(src=198.18.1.1)),output:2",
        "table=0,priority=100,tcp,in_port=2 actions=ct(commit,nat(dst=198.18.0.10-198.18.0.20:8080-8090,persistent,hash)),output:1",
        "table=0,priority=100,udp,in_port=3 actions=ct(commit,nat(src=198.18.1.1:1000-2000,random)),output:1",
        "table=0,priority=100,ipv6,in_port=4 actions=ct(commit,nat(src=2001:db8::1-2001:db8::2)),output:1",
        "table=0,priority=100,icmp,in_port=4 actions=ct(nat,table=1)",
        "table=1,priority=100,ct_state=+trk+dnat actions=output:1",
        "table=1,priority=90,ct_state=+trk+snat,ip,ct_nw_src=198.18.0.4 actions=output:2",
        "table=1,priority=1,ct_state=+trk,ip actions=ct(commit,nat(dst=198.18.2.2:80)),output:3",
    ];
    p.check(
        "nat",
        &flows,
        &[
            (TCP12, &[]),
            (TCP21, &[]),
            (UDP31, &[]),
            ("in_port=4,dl_src=fa:16:3e:00:00:04,dl_dst=fa:16:3e:00:00:01,tcp6,ipv6_src=2001:db8::4,ipv6_dst=2001:db8::1,tp_src=1,tp_dst=2", &[]),
            (ICMP41, &[]),
            (ICMP41, &["trk,est,dnat"]),
            (ICMP41, &["trk,new,snat"]),
        ],
        &[],
    );
}

#[test]
fn neutron_ovs_firewall() {
    let p = Pair::start();
    let eg_tcp = "in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=40000,tp_dst=80";
    let eg_spoof = "in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,tcp,nw_src=198.18.0.99,nw_dst=198.18.0.2,tp_src=40000,tp_dst=80";
    let eg_out = "in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:99,udp,nw_src=198.18.0.1,nw_dst=198.18.1.1,udp_src=5000,udp_dst=53";
    let eg_arp = "in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_spa=198.18.0.1,arp_tpa=198.18.0.2,arp_op=1";
    let in_ssh = "in_port=3,dl_src=fa:16:3e:00:00:09,dl_dst=fa:16:3e:00:00:01,tcp,nw_src=198.18.0.9,nw_dst=198.18.0.1,tp_src=41000,tp_dst=22";
    let in_http = "in_port=3,dl_src=fa:16:3e:00:00:09,dl_dst=fa:16:3e:00:00:01,tcp,nw_src=198.18.0.9,nw_dst=198.18.0.1,tp_src=41000,tp_dst=80";
    let in_icmp_member = "in_port=3,dl_src=fa:16:3e:00:00:09,dl_dst=fa:16:3e:00:00:01,icmp,nw_src=198.18.0.2,nw_dst=198.18.0.1,icmp_type=8,icmp_code=0";
    let in_icmp_other = "in_port=3,dl_src=fa:16:3e:00:00:09,dl_dst=fa:16:3e:00:00:01,icmp,nw_src=198.18.0.9,nw_dst=198.18.0.1,icmp_type=8,icmp_code=0";
    let in_arp = "in_port=3,dl_src=fa:16:3e:00:00:09,dl_dst=fa:16:3e:00:00:01,arp,arp_spa=198.18.0.9,arp_tpa=198.18.0.1,arp_op=2";
    let vm2_vm1_ssh = "in_port=2,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,tcp,nw_src=198.18.0.2,nw_dst=198.18.0.1,tp_src=42000,tp_dst=22";
    assert!(in_ssh.contains(VM1_MAC));
    p.check(
        "neutron ovs firewall",
        NEUTRON_FW,
        &[
            (eg_tcp, &[]),
            (eg_tcp, &["trk,est"]),
            (eg_tcp, &["trk,est,rpl"]),
            (eg_tcp, &["trk,inv"]),
            (eg_spoof, &[]),
            (eg_out, &[]),
            (eg_arp, &[]),
            (in_ssh, &[]),
            (in_ssh, &["trk,est"]),
            (in_http, &[]),
            (in_http, &["trk,est,rpl"]),
            (in_icmp_member, &[]),
            (in_icmp_member, &["trk,est"]),
            (in_icmp_other, &[]),
            (in_icmp_other, &["trk,rel"]),
            (in_arp, &[]),
            (vm2_vm1_ssh, &[]),
            (vm2_vm1_ssh, &["trk,new", "trk,est"]),
        ],
        &[],
    );
}

#[test]
fn ct_fields_headers_and_ipv6() {
    let p = Pair::start();
    let flows = [
        // Header changes are committed before the tracker sees the packet.
        "table=0,priority=100,tcp,in_port=1 actions=mod_nw_src:198.18.0.77,set_field:0x1234->reg6,ct(commit,zone=NXM_NX_REG6[4..19],exec(set_field:0x10/0xf0->ct_label)),mod_tp_dst:8080,output:2",
        "table=0,priority=100,ipv6,in_port=2 actions=ct(table=1,zone=11)",
        "table=0,priority=100,udp,in_port=3 actions=ct(table=1,zone=12)",
        "table=1,priority=100,ct_state=+trk+est,ct_label=0x10/0xf0,ipv6 actions=output:1",
        "table=1,priority=90,ct_state=+trk+new,ipv6,ct_ipv6_src=2001:db8::2,ct_nw_proto=6,ct_tp_dst=443 actions=output:3",
        "table=1,priority=90,ct_state=+trk+new,ip,ct_nw_dst=198.18.0.1,ct_nw_proto=17,ct_tp_src=5000 actions=output:4",
        "table=1,priority=80,ct_state=+trk+rel actions=output:1",
        "table=1,priority=1 actions=drop",
    ];
    let tcp6 = "in_port=2,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,tcp6,ipv6_src=2001:db8::2,ipv6_dst=2001:db8::1,tp_src=1000,tp_dst=443";
    p.check(
        "ct fields, headers, IPv6",
        &flows,
        &[
            (TCP12, &[]),
            (tcp6, &[]),
            (tcp6, &["trk,est"]),
            (UDP31, &[]),
            (UDP31, &["trk,rel"]),
        ],
        &[],
    );
}

#[test]
fn flow_router() {
    // The router of `ferrovs_tests::lab::flow_router` on ports vm11 = p1
    // (net1), vm21 = p2 (net2), outside = p3 (provider), vm12 = p4 (net1).
    let p = Pair::start();
    let flows = ferrovs_tests::lab::flow_router::one_bridge_flows(&[
        ("vm11", 1),
        ("vm21", 2),
        ("outside", 3),
        ("vm12", 4),
    ]);
    let flows: Vec<&str> = flows.iter().map(String::as_str).collect();
    let arp_gw = "in_port=1,dl_src=02:00:00:0a:00:0b,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_spa=198.18.10.11,arp_tpa=198.18.10.1,arp_sha=02:00:00:0a:00:0b";
    let arp_fip = "in_port=3,dl_src=02:00:00:13:00:64,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_spa=198.19.0.100,arp_tpa=198.19.0.60,arp_sha=02:00:00:13:00:64";
    let arp_other = "in_port=1,dl_src=02:00:00:0a:00:0b,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,arp_spa=198.18.10.11,arp_tpa=198.18.10.12,arp_sha=02:00:00:0a:00:0b";
    let east_west = "in_port=1,dl_src=02:00:00:0a:00:0b,dl_dst=02:00:00:00:01:01,icmp,nw_src=198.18.10.11,nw_dst=198.18.20.21,nw_ttl=64,icmp_type=8,icmp_code=0";
    let snat_tcp = "in_port=4,dl_src=02:00:00:0a:00:0c,dl_dst=02:00:00:00:01:01,tcp,nw_src=198.18.10.12,nw_dst=198.19.0.100,nw_ttl=64,tp_src=40000,tp_dst=5001";
    let ftp = "in_port=4,dl_src=02:00:00:0a:00:0c,dl_dst=02:00:00:00:01:01,tcp,nw_src=198.18.10.12,nw_dst=198.19.0.100,nw_ttl=64,tp_src=40001,tp_dst=21";
    let fip_udp = "in_port=1,dl_src=02:00:00:0a:00:0b,dl_dst=02:00:00:00:01:01,udp,nw_src=198.18.10.11,nw_dst=198.19.0.100,nw_ttl=64,udp_src=40000,udp_dst=53";
    let fip_in = "in_port=3,dl_src=02:00:00:13:00:64,dl_dst=02:00:00:00:ff:01,tcp,nw_src=198.19.0.100,nw_dst=198.19.0.60,nw_ttl=64,tp_src=41000,tp_dst=5001";
    let reply_in = "in_port=3,dl_src=02:00:00:13:00:64,dl_dst=02:00:00:00:ff:01,tcp,nw_src=198.19.0.100,nw_dst=198.19.0.10,nw_ttl=64,tp_src=5001,tp_dst=40000";
    p.check(
        "flow router",
        &flows,
        &[
            (arp_gw, &[]),
            (arp_fip, &[]),
            (arp_other, &[]),
            (east_west, &[]),
            (snat_tcp, &[]),
            (snat_tcp, &["trk,est"]),
            (snat_tcp, &["trk,new,rel"]),
            (snat_tcp, &["trk,inv"]),
            (ftp, &[]),
            (fip_udp, &[]),
            (fip_in, &[]),
            (fip_in, &["trk,est"]),
            (reply_in, &["trk,est,rpl"]),
            (reply_in, &["trk,new"]),
        ],
        &[],
    );
    // The NAT each recirculation resumes with is printed as OVS prints it.
    for pkt in [snat_tcp, fip_in] {
        let (_, _, ctx) = p.trace(pkt, &[]);
        let (f, o) = ctx.split_once("\nOVS:\n").unwrap();
        let nat_lines = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| {
                    l.starts_with("Replacing src/dst")
                        || l.starts_with(" Initial flow:")
                        || l.starts_with(" Modified flow:")
                })
                .map(|l| l.trim_end().to_string())
                .collect()
        };
        assert!(!nat_lines(o).is_empty(), "{ctx}");
        assert_eq!(nat_lines(f), nat_lines(o), "{ctx}");
    }
}
