//! Select groups through recirculation, side by side with Debian's
//! ovs-vswitchd (`--enable-dummy`, same ports and ofports): the
//! `ofproto/trace` `Datapath actions:` and `Megaflow:` lines of the first
//! pass (`hash(sym_l4(0)),recirc(0xN)` for the default and dp_hash
//! methods, a bucket chosen in translation for `selection_method=hash`)
//! and of the second pass (`recirc_id=N,dp_hash=H`: the bucket of
//! `H & mask` in the weighted hash map) must be OVS's. A packet sent into
//! a dummy port really recirculates and leaves by one bucket's port.

use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::{
    add_dummy_ports, dp_names, line_value, named_actions, recirc_targets,
};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

const PROTOCOLS: &str =
    "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15";

/// A TCP packet p1 -> p2 as `netdev-dummy/receive` takes it.
fn tcp_packet() -> &'static str {
    "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
     ipv4(src=198.18.0.1,dst=198.18.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=5,dst=80)"
}

struct Pair {
    ovs: OvsVswitchd,
    fv: FerrovsVswitchd,
}

impl Pair {
    fn start(groups: &[&str], flows: &[&str]) -> Pair {
        let ovs = OvsVswitchd::start_dummy("br0").unwrap();
        let fv = FerrovsVswitchd::start().unwrap();
        fv.vsctl_ok(&[
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "fail_mode=secure",
            PROTOCOLS,
        ]);
        let ports: &[(&str, &[&str])] = &[("p1", &[]), ("p2", &[]), ("p3", &[]), ("p4", &[])];
        let a = add_dummy_ports(fv.dir(), "br0", ports);
        fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let a = add_dummy_ports(ovs.dir(), "br0", ports);
        ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        for g in groups {
            fv.ofctl_ok(&["-O", "OpenFlow15"], "add-group", "br0", &[g]);
            ovs.ofctl(&["-O", "OpenFlow15"], "add-group", &[g]).unwrap();
        }
        for f in flows {
            fv.ofctl_ok(&["-O", "OpenFlow15"], "add-flow", "br0", &[f]);
            ovs.ofctl(&["-O", "OpenFlow15"], "add-flow", &[f]).unwrap();
        }
        Pair { ovs, fv }
    }

    /// Traces `flow` in both; asserts equal `Datapath actions:` (ports
    /// by name) and `Megaflow:` lines; returns ferrovs's actions.
    fn same_trace(&self, flow: &str) -> String {
        let o = self.ovs.appctl(&["ofproto/trace", "br0", flow]).unwrap();
        let f = self.fv.appctl_ok(&["ofproto/trace", "br0", flow]);
        let on = dp_names(&self.ovs.appctl(&["dpif/show"]).unwrap());
        let fname = dp_names(&self.fv.appctl_ok(&["dpif/show"]));
        let fa = named_actions(&f, &fname);
        assert_eq!(
            fa,
            named_actions(&o, &on),
            "{flow}\nferrovs:\n{f}\nOVS:\n{o}"
        );
        assert_eq!(
            line_value(&f, "Megaflow:"),
            line_value(&o, "Megaflow:"),
            "{flow}\nferrovs:\n{f}\nOVS:\n{o}"
        );
        fa
    }

    /// Sends the TCP packet into p1 of both switches, then traces the
    /// first pass of `flow` again: the recirculation id the packet's
    /// megaflow holds is reused (both switches intern frozen states), so
    /// the trace shows it. Returns it (the same in both).
    fn send_and_live_id(&self, port: &str, flow: &str) -> u32 {
        self.fv
            .appctl_ok(&["netdev-dummy/receive", port, tcp_packet()]);
        self.ovs
            .appctl(&["netdev-dummy/receive", port, tcp_packet()])
            .unwrap();
        // OVS's megaflow (its upcall is asynchronous).
        let ok = self.fv.wait_until(Duration::from_secs(5), || {
            !recirc_targets(&self.ovs.appctl(&["dpctl/dump-flows"]).unwrap()).is_empty()
        });
        assert!(ok, "OVS installed no recirculating megaflow");
        let a = self.same_trace(flow);
        let ids = recirc_targets(&a);
        assert_eq!(ids.len(), 1, "{a}");
        ids[0]
    }

    /// Traces the second pass of `flow` for each dp_hash in `hashes`, in
    /// both switches with their own recirculation ids.
    fn same_second_pass(&self, id: u32, flow: &str, hashes: &[u32]) -> Vec<String> {
        let on = dp_names(&self.ovs.appctl(&["dpif/show"]).unwrap());
        let fname = dp_names(&self.fv.appctl_ok(&["dpif/show"]));
        let mut outs = Vec::new();
        for h in hashes {
            let ff = format!("recirc_id={id:#x},dp_hash={h:#x},{flow}");
            let f = self.fv.appctl_ok(&["ofproto/trace", "br0", &ff]);
            let o = self.ovs.appctl(&["ofproto/trace", "br0", &ff]).unwrap();
            let fa = named_actions(&f, &fname);
            assert_eq!(fa, named_actions(&o, &on), "{ff}\nferrovs:\n{f}\nOVS:\n{o}");
            assert_eq!(
                line_value(&f, "Megaflow:"),
                line_value(&o, "Megaflow:"),
                "{ff}\nferrovs:\n{f}\nOVS:\n{o}"
            );
            outs.push(fa);
        }
        outs
    }
}

const FLOW: &str = "in_port=1,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,\
                    tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=5,tp_dst=80";

#[test]
fn default_select_group_recirculates_as_ovs() {
    let p = Pair::start(
        &["group_id=1,type=select,bucket=bucket_id=0,output:2,\
           bucket=bucket_id=1,output:3,bucket=bucket_id=2,weight=200,output:4"],
        &["in_port=1,actions=group:1"],
    );
    // First pass, traced before any packet: both allocate ids from 1.
    assert_eq!(p.same_trace(FLOW), "hash(sym_l4(0)),recirc(0x1)");
    assert_eq!(p.same_trace(FLOW), "hash(sym_l4(0)),recirc(0x2)");
    // A real packet: the first-pass megaflow holds an id; the second pass
    // picks the bucket of dp_hash & 0xff (weights 1, 1, 200).
    let id = p.send_and_live_id("p1", FLOW);
    assert_eq!(id, 3, "the ids the two traces took are free again");
    let hashes: Vec<u32> = (1..=0x1ff).step_by(7).chain([0x100, 0xffff_ffff]).collect();
    let outs = p.same_second_pass(id, FLOW, &hashes);
    assert!(outs.iter().any(|a| a == "p4"), "{outs:?}");
    // The packet left by exactly one bucket's port, once.
    let tx = |n: &str| {
        ferrovs_tests::pcap::frames(&p.fv.dir().join(format!("{n}-tx.pcap")))
            .unwrap_or_default()
            .len()
    };
    let ok = p.fv.wait_until(Duration::from_secs(5), || {
        tx("p2") + tx("p3") + tx("p4") == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        ok && tx("p1") == 0 && tx("p2") + tx("p3") + tx("p4") == 1,
        "p1..p4 sent {:?}\n{}",
        [tx("p1"), tx("p2"), tx("p3"), tx("p4")],
        p.fv.appctl_ok(&["dpctl/dump-flows"])
    );
}

#[test]
fn select_methods_match_ovs() {
    let p = Pair::start(
        &[
            // Four equal buckets: 16 hash values.
            "group_id=1,type=select,bucket=output:1,bucket=output:2,bucket=output:3,bucket=output:4",
            "group_id=2,type=select,selection_method=hash,fields(ip_src,ip_dst),\
             bucket=output:2,bucket=output:3",
            "group_id=3,type=select,selection_method=hash,fields(eth_dst,tcp_dst,ip_proto),\
             bucket=bucket_id=5,weight=3,output:2,bucket=bucket_id=9,weight=5,output:3,\
             bucket=bucket_id=1,output:4",
            "group_id=4,type=select,selection_method=dp_hash,selection_method_param=7,\
             bucket=output:2,bucket=weight=3,output:3",
        ],
        &[
            "in_port=1,actions=group:1",
            "in_port=2,actions=group:2",
            "in_port=3,actions=group:3",
            "in_port=4,actions=group:4,output:1",
        ],
    );
    let eth = "dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02";
    // selection_method=hash: chosen in translation, fields in the megaflow.
    for (port, l3) in [
        (
            2,
            "tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=5,tp_dst=80",
        ),
        (
            2,
            "tcp,nw_src=198.18.0.9,nw_dst=198.18.0.2,tp_src=5,tp_dst=80",
        ),
        (2, "udp,nw_src=198.18.1.7,nw_dst=198.18.3.2"),
        (2, "arp"),
        (
            3,
            "tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=5,tp_dst=80",
        ),
        (
            3,
            "tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=5,tp_dst=443",
        ),
        (
            3,
            "udp,nw_src=198.18.0.1,nw_dst=198.18.0.2,udp_src=5,udp_dst=53",
        ),
    ] {
        p.same_trace(&format!("in_port={port},{eth},{l3}"));
    }
    // dp_hash methods: first pass.
    let tcp = "tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=5,tp_dst=80";
    p.same_trace(&format!("in_port=1,{eth},{tcp}"));
    let flow4 = format!("in_port=4,{eth},{tcp}");
    assert_eq!(p.same_trace(&flow4), "hash(l4(7)),recirc(0x2)");
    // Second pass of group 4 (weights 1 and 3 over 16 values), then the
    // output after the group.
    let id = p.send_and_live_id("p4", &flow4);
    let outs = p.same_second_pass(id, &flow4, &(1..=40).collect::<Vec<_>>());
    // (Runs of outputs are compared sorted.)
    assert!(
        outs.iter().any(|a| a == "p1,p2") && outs.iter().any(|a| a == "p1,p3"),
        "{outs:?}"
    );
}
