//! Packet-out through translation, side by side with Debian's
//! ovs-vswitchd: the same `ovs-ofctl packet-out` messages (an output to a
//! port, header rewrites, `output:TABLE` through the pipeline, a select
//! group that recirculates, ALL, IN_PORT, an action set) sent to both
//! switches must make the same frames leave the same dummy ports (read
//! from each port's `tx_pcap`), and the rules `output:TABLE` went through
//! count the packet.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::add_dummy_ports;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

const PROTOCOLS: &str =
    "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15";
const PORTS: [&str; 4] = ["p1", "p2", "p3", "p4"];

/// A TCP frame 50:54:00:00:00:01 -> :02, 198.18.0.1:5 -> 198.18.0.2:80.
const TCP: &str = "505400000002505400000001080045000028000040004006\
                   cdb4c6120001c6120002000500500000000000000000500200000e060000";

fn frames(dir: &Path) -> BTreeMap<String, Vec<String>> {
    PORTS
        .iter()
        .map(|p| {
            let f =
                ferrovs_tests::pcap::frames(&dir.join(format!("{p}-tx.pcap"))).unwrap_or_default();
            (p.to_string(), f.iter().map(hex::encode).collect())
        })
        .collect()
}

#[test]
fn packet_out_forwards_as_ovs() {
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
    let ports: Vec<(&str, &[&str])> = PORTS.iter().map(|p| (*p, &[][..])).collect();
    let a = add_dummy_ports(fv.dir(), "br0", &ports);
    fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let a = add_dummy_ports(ovs.dir(), "br0", &ports);
    ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    let groups = ["group_id=1,type=select,bucket=output:3,bucket=output:3"];
    let flows = [
        "table=0,in_port=1,ip,actions=set_field:4->ip_dscp,resubmit(,1)",
        "table=1,actions=output:3",
        "table=0,in_port=2,actions=group:1",
        "table=0,in_port=3,actions=write_actions(output:4),goto_table:2",
        "table=2,actions=mod_dl_dst:50:54:00:00:00:09",
    ];
    let ofctl_fv = |cmd: &str, rest: &[&str]| {
        let out = fv.ofctl(&["-O", "OpenFlow15"], cmd, "br0", rest);
        assert!(
            out.status.success(),
            "ovs-ofctl {cmd} {rest:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for g in groups {
        ofctl_fv("add-group", &[g]);
        ovs.ofctl(&["-O", "OpenFlow15"], "add-group", &[g]).unwrap();
    }
    for f in flows {
        ofctl_fv("add-flow", &[f]);
        ovs.ofctl(&["-O", "OpenFlow15"], "add-flow", &[f]).unwrap();
    }
    let outs: &[(&str, &str)] = &[
        ("1", "output:2"),
        ("1", "mod_vlan_vid:7,output:2,strip_vlan,output:4"),
        ("CONTROLLER", "set_field:198.18.9.9->ip_dst,output:1"),
        ("1", "output:TABLE"),
        ("2", "output:TABLE"),
        ("3", "output:TABLE"),
        ("4", "output:all"),
        ("2", "output:in_port"),
        ("1", "group:1"),
    ];
    for (k, (in_port, acts)) in outs.iter().enumerate() {
        let arg = format!("in_port={in_port} packet={TCP} actions={acts}");
        ofctl_fv("packet-out", &[&arg]);
        ovs.ofctl(&["-O", "OpenFlow15"], "packet-out", &[&arg])
            .unwrap();
        let want = || frames(ovs.dir());
        // OVS executes at once; ferrovs on its next slow-path round.
        let same = fv.wait_until(Duration::from_secs(5), || frames(fv.dir()) == want());
        assert!(
            same,
            "after packet-out {k} in_port={in_port} actions={acts}:\nferrovs {:#?}\nOVS {:#?}\nlog:\n{}",
            frames(fv.dir()),
            want(),
            fv.log()
        );
    }
    // The rules output:TABLE went through counted its packet (once each).
    let dump = ofctl_fv("dump-flows", &["table=1"]);
    assert!(dump.contains("n_packets=1,"), "{dump}");
    let dump = ofctl_fv("dump-flows", &["table=2"]);
    assert!(dump.contains("n_packets=1,"), "{dump}");
}
