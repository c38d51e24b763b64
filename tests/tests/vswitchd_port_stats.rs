//! Port counters side by side with Debian's ovs-vswitchd (netdev datapath,
//! dummy ports): the same packets enter both switches by
//! `netdev-dummy/receive`, and then
//!
//! - `ovs-ofctl dump-ports` (OpenFlow 1.0, 1.3 and 1.5) prints the same
//!   counters for each dummy port (packets and bytes received and sent;
//!   `?` for what a dummy device does not count), durations aside;
//! - `dpctl/show -s` prints the same counter lines under each port;
//! - the `statistics` column of each Interface holds the same counters.

use std::time::{Duration, Instant};

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::{add_dummy_ports, Sw};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

/// TCP 50:54:00:00:00:01 -> :02, 198.18.0.1:5 -> 198.18.0.2:80 (54 bytes).
const TO_P2: &str = "505400000002505400000001080045000028000040004006\
                     cdb4c6120001c6120002000500500000000000000000500200000e060000";
/// The same frame back, :02 -> :01 (54 bytes).
const TO_P1: &str = "505400000001505400000002080045000028000040004006\
                     cdb4c6120002c6120001005000050000000000000000500200000e060000";
/// A frame no flow matches (dropped by the table miss, secure fail mode).
const STRAY: &str = "ffffffffffff50540000000208060001080006040001505400000002c6120002\
                     000000000000c6120001";

fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// A dump-ports reply of one port without its durations (and the xid).
/// Known difference: OVS's dummy devices also report made-up "custom
/// statistics" (`rx_custom_packets_1`... and per-queue counters, an
/// OpenFlow 1.4+ experimenter property) that no real device has and
/// ferrovs does not send: cut from `CUSTOM Statistics` on.
fn no_durations(s: &str) -> String {
    s.lines()
        .take_while(|l| l.trim() != "CUSTOM Statistics")
        .filter(|l| !l.trim_start().starts_with("duration="))
        .map(|l| match l.find(" (xid=") {
            Some(i) => {
                let rest = &l[i + 1..];
                let close = rest.find(')').map_or(rest.len(), |j| j + 1);
                format!("{}{}", &l[..i], &rest[close..])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `rx_q0_bytes=...`: a dummy device's per-queue custom statistic.
fn is_queue_stat(kv: &str) -> bool {
    let k = kv.split('=').next().unwrap_or("");
    k.strip_prefix("rx_q")
        .or_else(|| k.strip_prefix("tx_q"))
        .and_then(|r| r.split('_').next())
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn dump_ports_and_statistics_match_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &[]);
    let sws = [Sw::F(fv), Sw::O(ovs)];
    for s in &sws {
        s.vsctl(&["set-fail-mode", "br0", "secure"]);
        let a = add_dummy_ports(s.dir(), "br0", &[("p1", &[]), ("p2", &[]), ("p3", &[])]);
        s.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>());
        s.ofctl(&[], "add-flow", &["in_port=1,actions=output:2"]);
        s.ofctl(
            &[],
            "add-flow",
            &["in_port=2,dl_dst=50:54:00:00:00:01,actions=output:1,output:3"],
        );
        for _ in 0..3 {
            s.appctl(&["netdev-dummy/receive", "p1", TO_P2]);
        }
        for _ in 0..2 {
            s.appctl(&["netdev-dummy/receive", "p2", TO_P1]);
        }
        s.appctl(&["netdev-dummy/receive", "p2", STRAY]);
    }
    // Every packet went through: p3 sent 2, p2 received 3.
    for s in &sws {
        assert!(
            wait_until(Duration::from_secs(10), || {
                let t = s.ofctl(&[], "dump-ports", &["3"]);
                t.contains("tx pkts=2,")
            }),
            "{}",
            s.ofctl(&[], "dump-ports", &[])
        );
    }
    let mut per_port_ok = 0;
    for v in ["OpenFlow10", "OpenFlow13", "OpenFlow15"] {
        for p in ["1", "2", "3"] {
            let f = no_durations(&sws[0].ofctl(&["-O", v], "dump-ports", &[p]));
            let o = no_durations(&sws[1].ofctl(&["-O", v], "dump-ports", &[p]));
            assert_eq!(f, o, "{v} port {p}");
            per_port_ok += 1;
        }
    }
    assert_eq!(per_port_ok, 9);
    // The counts themselves (not only equal to OVS's): 3 x 54 bytes in on
    // p1, out on p2; 2 x 54 + 42 in on p2; 2 x 54 out on p1 and p3.
    let t = sws[0].ofctl(&[], "dump-ports", &["2"]);
    assert!(t.contains("rx pkts=3, bytes=150,"), "{t}");
    assert!(t.contains("tx pkts=3, bytes=162,"), "{t}");
    // dpctl/show -s: the four counter lines under each dummy port.
    let dp_stats = |s: &Sw, p: &str| -> String {
        let t = s.appctl(&["dpctl/show", "-s"]);
        let mut lines = t.lines().skip_while(|l| !l.contains(&format!(": {p} (")));
        let head = lines.next().unwrap_or("");
        assert!(!head.is_empty(), "{p} missing: {t}");
        lines.take(4).collect::<Vec<_>>().join("\n")
    };
    for p in ["p1", "p2", "p3"] {
        let f = dp_stats(&sws[0], p);
        assert_eq!(f, dp_stats(&sws[1], p), "dpctl/show -s {p}");
        assert!(f.contains("RX packets:") && f.contains("TX bytes:"), "{f}");
    }
    // The statistics column, written every few seconds by both, less the
    // dummy's custom statistics (see `no_durations`).
    let stats = |s: &Sw, p: &str| {
        let t = s.vsctl(&["get", "Interface", p, "statistics"]);
        t.trim()
            .trim_matches(['{', '}'])
            .split(", ")
            .filter(|kv| !kv.contains("_custom_") && !is_queue_stat(kv))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (p, count) in [
        ("p1", "rx_packets=3"),
        ("p2", "rx_packets=3"),
        ("p3", "tx_packets=2"),
    ] {
        let mut last = (String::new(), String::new());
        let same = wait_until(Duration::from_secs(15), || {
            last = (stats(&sws[0], p), stats(&sws[1], p));
            last.0 == last.1 && last.1.contains(count)
        });
        assert!(same, "{p}: ferrovs {} / OVS {}", last.0, last.1);
    }
    assert!(stats(&sws[0], "p2").contains("tx_bytes=162"));
}
