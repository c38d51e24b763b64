//! The conntrack `dpctl/*` commands compared with Debian's ovs-vswitchd
//! (`--enable-dummy`, netdev datapath) given the same dummy ports, flows
//! and packets (`netdev-dummy/receive`).
//!
//! `ipf-*` (fragment reassembly before conntrack): the same replies and
//! errors to the setting commands, the same `ipf-get-status [-m]` text
//! (counters and the lists being reassembled), and the same fate for the
//! fragments in the OpenFlow tables: reassembled and tracked `new` when
//! reassembly is on, `inv` when it is off for their family, over
//! `max-nfrags`, or too small.
//!
//! `ct-{set,get,del}-limits` give the same replies and errors, and
//! `ct-bkts` counts the same connections (ferrovs lists its table's
//! shards where OVS has one bucket).

use std::time::Duration;

use ferrovs_datapath::conntrack::frame::{fragments, fragments6, Pkt};
use ferrovs_tests::dummy_pair::{DummyPair, Reply};

const FLOWS: &[&str] = &[
    "table=0,priority=10,ip,ct_state=-trk,actions=ct(zone=9,table=1)",
    "table=0,priority=10,ipv6,ct_state=-trk,actions=ct(zone=9,table=1)",
    "table=1,priority=10,ct_state=+trk+new,actions=output:2",
    "table=1,priority=10,ct_state=+trk+inv,actions=output:3",
    "table=1,priority=0,actions=drop",
];

/// Both switches in secure fail mode with [`FLOWS`].
struct Pair(DummyPair);

impl std::ops::Deref for Pair {
    type Target = DummyPair;
    fn deref(&self) -> &DummyPair {
        &self.0
    }
}

impl Pair {
    fn start() -> Pair {
        Pair(DummyPair::start("secure", &["p1", "p2", "p3"], FLOWS))
    }

    /// `ovs-appctl ARGS` on both, OVS's first, fragment lists sorted.
    fn appctl(&self, args: &[&str]) -> [Reply; 2] {
        self.0.appctl(args).map(|r| Reply {
            out: lists_sorted(&r.out),
            ..r
        })
    }

    fn same(&self, args: &[&str]) -> String {
        let [o, f] = self.appctl(args);
        assert_eq!(o, f, "ovs-appctl {}: OVS then ferrovs", args.join(" "));
        o.out
    }

    fn receive(&self, frames: &[Vec<u8>]) {
        for f in frames {
            self.0.receive("p1", &hex::encode(f));
        }
    }

    /// `n_packets` of each table-1 flow, with its match and actions.
    fn table1(&self) -> [Vec<String>; 2] {
        let norm = |s: &str| -> Vec<String> {
            let mut v: Vec<String> = s
                .lines()
                .filter_map(|l| {
                    let n = l.split("n_packets=").nth(1)?.split(',').next()?;
                    let rule = l.split_once("priority=")?.1;
                    Some(format!("n_packets={n} priority={rule}"))
                })
                .collect();
            v.sort();
            v
        };
        [
            norm(&self.ovs.ofctl(&[], "dump-flows", &["table=1"]).unwrap()),
            norm(&self.fv.ofctl_ok(&[], "dump-flows", "br0", &["table=1"])),
        ]
    }

    /// Waits until both print the same `ipf-get-status -m` and the same
    /// table 1 counters, holding every piece of `want`; fails with both.
    fn converge(&self, want: &[&str]) -> String {
        let ok = self.fv.wait_until(Duration::from_secs(15), || {
            let [o, f] = self.appctl(&["dpctl/ipf-get-status", "-m"]);
            let [to, tf] = self.table1();
            let all = format!("{}{}", o.out, to.join("\n"));
            o == f && to == tf && want.iter().all(|w| all.contains(w))
        });
        let [o, f] = self.appctl(&["dpctl/ipf-get-status", "-m"]);
        let [to, tf] = self.table1();
        assert!(ok, "OVS:\n{}{to:#?}\nferrovs:\n{}{tf:#?}", o.out, f.out);
        o.out
    }
}

/// `ipf-get-status -m` with its fragment lists sorted: both switches list
/// them in hash-table order, and OVS seeds that hash at random per run.
fn lists_sorted(status: &str) -> String {
    let Some((head, lists)) = status.split_once("Fragment Lists:\n") else {
        return status.to_string();
    };
    let mut lines: Vec<&str> = lists.lines().collect();
    lines.sort_unstable();
    format!("{head}Fragment Lists:\n{}\n", lines.join("\n"))
}

/// Table 1's `new` flow after the first two datagrams.
const NEW6: &str = "n_packets=6 priority=10,ct_state=+new";

const A: u32 = 0xc612_0001;
const B: u32 = 0xc612_0002;

fn udp4(sport: u16, len: u16) -> Pkt {
    Pkt::udp4(A, sport, B, 5001).with_payload(len)
}

fn udp6(sport: u16, len: u16) -> Pkt {
    Pkt {
        src: 0x2001_0db8_0000_0000_0000_0000_0000_0001,
        dst: 0x2001_0db8_0000_0000_0000_0000_0000_0002,
        ..Pkt::udp4(0, sport, 0, 5001)
    }
    .v6()
    .with_payload(len)
}

#[test]
fn ipf_settings_replies_and_errors_match_ovs() {
    let p = Pair::start();
    let initial = p.same(&["dpctl/ipf-get-status"]);
    assert!(
        initial.contains("max num frags (v4/v6): 1000\n"),
        "{initial}"
    );
    for args in [
        &["dpctl/ipf-set-enabled", "v4"][..],
        &["dpctl/ipf-set-disabled", "v6"],
        &["dpctl/ipf-set-disabled", "v5"],
        &["dpctl/ipf-set-enabled", "v6", "1"],
        &["dpctl/ipf-set-enabled"],
        &["dpctl/ipf-set-min-frag", "v4", "399"],
        &["dpctl/ipf-set-min-frag", "v4", "abc"],
        &["dpctl/ipf-set-min-frag", "v7", "500"],
        &["dpctl/ipf-set-min-frag", "v4"],
        &["dpctl/ipf-set-min-frag", "v4", "1000"],
        &["dpctl/ipf-set-min-frag", "v6", "400"],
        &["dpctl/ipf-set-max-nfrags", "5001"],
        &["dpctl/ipf-set-max-nfrags", "x"],
        &["dpctl/ipf-set-max-nfrags", "500"],
        &["dpctl/ipf-get-status"],
        &["dpctl/ipf-get-status", "--more"],
        &["dpctl/ipf-set-enabled", "v6"],
        &["dpctl/ipf-get-status", "-m"],
    ] {
        p.same(args);
    }
    let s = p.same(&["dpctl/ipf-get-status"]);
    assert!(s.contains("min v4 frag size: 1000\n"), "{s}");
    assert!(s.contains("max num frags (v4/v6): 500\n"), "{s}");
}

#[test]
fn fragments_counted_and_tracked_as_ovs() {
    let p = Pair::start();
    // Two whole datagrams, IPv4 and IPv6: reassembled, tracked new.
    p.receive(&fragments(&udp4(1000, 3000), 1480, 11));
    p.receive(&fragments6(&udp6(1001, 3000), 1448, 12));
    p.converge(&["v4 frags completed: 3\n", "v6 frags completed: 3\n", NEW6]);
    // Incomplete datagrams: listed by -m; a repeated fragment overlaps;
    // a 420-byte non-final fragment (under 1200) is too small; at the
    // limit (2 held) a fragment is tracked as it is: the last three inv.
    // One wait only: both switches expire lists 15 s after they start.
    let v4 = fragments(&udp4(1002, 3000), 1480, 13);
    let v6 = fragments6(&udp6(1003, 3000), 1448, 14);
    p.receive(&[v4[0].clone(), v4[0].clone(), v6[2].clone()]);
    p.receive(&fragments(&udp4(1004, 1000), 400, 15)[..1]);
    p.same(&["dpctl/ipf-set-max-nfrags", "2"]);
    p.receive(&fragments(&udp4(1005, 3000), 1480, 16)[..1]);
    p.converge(&[
        "v4 frags overlapped: 1\n",
        "v4 frags too small: 1\n",
        "num frag: 2\n",
        "num_fragments=1,state=first frag)",
        "num_fragments=1,state=last frag)",
        "n_packets=3 priority=10,ct_state=+inv",
    ]);
    p.same(&["dpctl/ipf-set-max-nfrags", "1000"]);
    // The datagrams waiting complete now.
    p.receive(&v4[1..]);
    p.receive(&v6[..2]);
    p.converge(&["num frag: 0\n", "n_packets=12 priority=10,ct_state=+new"]);
    // Reassembly off for IPv4: its fragments are inv, IPv6's still new.
    p.same(&["dpctl/ipf-set-disabled", "v4"]);
    p.receive(&fragments(&udp4(1006, 3000), 1480, 17));
    p.receive(&fragments6(&udp6(1007, 3000), 1448, 18));
    p.converge(&[
        "v4 enabled: 0\n",
        "v6 frags completed: 9\n",
        "n_packets=6 priority=10,ct_state=+inv",
        "n_packets=15 priority=10,ct_state=+new",
    ]);
    // Smaller fragments pass once the minimum is lowered.
    p.same(&["dpctl/ipf-set-enabled", "v4"]);
    p.same(&["dpctl/ipf-set-min-frag", "v4", "400"]);
    p.receive(&fragments(&udp4(1008, 1000), 400, 19));
    p.converge(&[
        "v4 frags completed: 9\n",
        "n_packets=18 priority=10,ct_state=+new",
    ]);
}

#[test]
fn limits_and_buckets_match_ovs() {
    let p = Pair::start();
    for args in [
        &["dpctl/ct-get-limits"][..],
        &["dpctl/ct-set-limits", "zone=3,limit=5", "zone=4,limit=6"],
        &["dpctl/ct-set-limits", "zone=5,limit=1"],
        &["dpctl/ct-get-limits"],
        &["dpctl/ct-del-limits", "zone=3,4"],
        &["dpctl/ct-get-limits"],
        &["dpctl/ct-get-limits", "zone=4,5"],
        &["dpctl/ct-del-limits", "zone=9"],
        &["dpctl/ct-del-limits", "foo"],
        &["dpctl/ct-del-limits", "zone=x"],
        &["dpctl/ct-del-limits", "zone=5", "zone=6"],
        &["dpctl/ct-del-limits"],
        &["dpctl/ct-del-limits", "netdev@ovs-netdev", "zone=5"],
        &["dpctl/ct-get-limits"],
    ] {
        p.same(args);
    }
    p.same(&["dpctl/ct-bkts", "gt=x"]);
    let [o, f] = p.appctl(&["dpctl/ct-bkts"]);
    assert_eq!(o.out, "Total Buckets: 1\nCurrent Connections: 0\n\n");
    assert_eq!(f.out, "Total Buckets: 256\nCurrent Connections: 0\n\n");
    // Three UDP connections committed in zone 9.
    let commit = "table=1,priority=20,udp,tp_dst=6000,ct_state=+trk+new,\
                  actions=ct(commit,zone=9),output:2";
    p.fv.ofctl_ok(&[], "add-flow", "br0", &[commit]);
    p.ovs.ofctl(&[], "add-flow", &[commit]).unwrap();
    let conns: Vec<Vec<u8>> = (0..3)
        .map(|i| Pkt::udp4(A, 2000 + i, B, 6000).with_payload(10).emit())
        .collect();
    p.receive(&conns);
    p.fv.wait_until(Duration::from_secs(10), || {
        p.appctl(&["dpctl/ct-get-nconns"])
            .iter()
            .all(|o| o.out == "3\n")
    });
    p.same(&["dpctl/ct-get-nconns"]);
    let [o, f] = p.appctl(&["dpctl/ct-bkts"]);
    assert!(
        o.out.contains("Current Connections: 3\n"),
        "OVS:\n{}",
        o.out
    );
    assert!(f
        .out
        .starts_with("Total Buckets: 256\nCurrent Connections: 3\n\n"));
    // Ferrovs's histogram: 32 rows of 8 shards, counts summing to 3.
    let rows: Vec<&str> = f.out.lines().filter(|l| l.contains("..")).collect();
    assert_eq!(rows.len(), 32, "{}", f.out);
    assert!(rows[0].starts_with("   0..  7   | "), "{}", f.out);
    let counts: Vec<usize> = rows
        .iter()
        .flat_map(|r| r.split('|').nth(1).unwrap().split_whitespace())
        .filter(|c| *c != ".")
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 3, "{}", f.out);
    // gt=1 hides shards holding one connection.
    let [_, f] = p.appctl(&["dpctl/ct-bkts", "gt=1"]);
    let shown = f.out.lines().filter(|l| l.contains("..")).flat_map(|r| {
        r.split('|')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .filter(|c| *c != ".")
    });
    assert_eq!(
        shown.count(),
        counts.iter().filter(|&&c| c > 1).count(),
        "{}",
        f.out
    );
}
