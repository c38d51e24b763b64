//! The MAC learning table's unixctl commands (`fdb/show`, `fdb/flush`,
//! `fdb/add`, `fdb/del`, `fdb/stats-show`, `fdb/stats-clear`) compared
//! with Debian's ovs-vswitchd 3.1 (`--enable-dummy`, netdev datapath),
//! both in standalone fail mode (the NORMAL flow learns) with the same
//! dummy ports and the same frames (`netdev-dummy/receive`): the same
//! replies, the same errors and exit status for bad arguments, the same
//! tables (ages aside: they are timing), the same counters, and the same
//! forwarding: a frame to a static MAC goes out of its port only, and
//! learning does not move a static entry.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrovs_tests::dummy_pair::DummyPair;

const PORTS: [&str; 3] = ["p1", "p2", "p3"];

/// Both switches in standalone fail mode (the NORMAL flow learns).
struct Pair(DummyPair);

impl std::ops::Deref for Pair {
    type Target = DummyPair;
    fn deref(&self) -> &DummyPair {
        &self.0
    }
}

impl Pair {
    fn start() -> Pair {
        Pair(DummyPair::start("standalone", &PORTS, &[]))
    }

    /// `fdb/show br0` of both, ages as `AGE` (timing), OVS's first.
    fn fdb(&self) -> [String; 2] {
        self.appctl(&["fdb/show", "br0"]).map(|r| {
            assert_eq!(r.code, Some(0), "fdb/show: {}", r.err);
            r.out
                .lines()
                .map(without_age)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// As [`Self::fdb`], lines sorted: the order of learned entries
    /// depends on when each was last refreshed (at most once a second).
    fn fdb_sorted(&self) -> [Vec<String>; 2] {
        self.fdb().map(|s| {
            let mut v: Vec<String> = s.lines().map(String::from).collect();
            v[1..].sort();
            v
        })
    }

    /// Waits until both tables hold the same entries, among them every
    /// line of `want`; returns them.
    fn converge(&self, want: &[&str]) -> Vec<String> {
        let ok = self.fv.wait_until(Duration::from_secs(10), || {
            let [o, f] = self.fdb_sorted();
            o == f && want.iter().all(|w| o.iter().any(|l| l == w))
        });
        let [o, f] = self.fdb_sorted();
        assert!(ok, "want {want:?}\nOVS:\n{o:#?}\nferrovs:\n{f:#?}");
        o
    }

    /// Frames each port sent, OVS's then ferrovs's.
    fn tx(&self) -> [BTreeMap<&'static str, usize>; 2] {
        [self.ovs.dir(), self.fv.dir()].map(|d| {
            PORTS
                .iter()
                .map(|p| {
                    let f = d.join(format!("{p}-tx.pcap"));
                    (
                        *p,
                        ferrovs_tests::pcap::frames(&f).unwrap_or_default().len(),
                    )
                })
                .collect()
        })
    }

    /// Sends `frame` into `port` of both, then waits until both sent
    /// `want` more frames out of each port (p1, p2, p3), and a little
    /// more to see that nothing else goes out.
    fn forward(&self, port: &str, frame: &str, want: [usize; 3]) {
        let [before, _] = self.tx();
        self.receive(port, frame);
        let want: BTreeMap<&str, usize> = PORTS
            .iter()
            .zip(want)
            .map(|(p, n)| (*p, before[p] + n))
            .collect();
        self.fv.wait_until(Duration::from_secs(10), || {
            self.tx().iter().all(|t| *t == want)
        });
        std::thread::sleep(Duration::from_millis(300));
        let [o, f] = self.tx();
        assert_eq!(
            (&o, &f),
            (&want, &want),
            "tx per port after {frame} into {port}: OVS, ferrovs"
        );
    }
}

/// An `fdb/show` line with a number for its age as `... AGE`.
fn without_age(l: &str) -> String {
    match l.trim_end().rsplit_once(' ') {
        Some((head, age)) if age.bytes().all(|c| c.is_ascii_digit()) => {
            format!("{} AGE", head.trim_end())
        }
        _ => l.to_string(),
    }
}

/// An IPv4 frame (protocol 253, experimental) from `src` to `dst`.
fn frame(src: &str, dst: &str) -> String {
    format!("{dst}{src}0800450000140000000040fd0000c6120001c6120002")
}

const A: &str = "50540000000a";
const B: &str = "50540000000b";
const C: &str = "50540000000c";
const BCAST: &str = "ffffffffffff";

const HEADER: &str = " port  VLAN  MAC                Age";

fn stats(entries: usize, statics: usize, learned: u64, moved: u64) -> String {
    stats_of(8192, [entries as u64, statics as u64, learned, 0, 0, moved])
}

/// `fdb/stats-show br0` for a table of `max` entries, with `n`: entries,
/// static entries, learned, expired, evicted, moved.
fn stats_of(max: usize, n: [u64; 6]) -> String {
    let [entries, statics, learned, expired, evicted, moved] = n;
    format!(
        "Statistics for bridge \"br0\":\n\
         \x20 Current/maximum MAC entries in the table: {entries}/{max}\n\
         \x20 Current static MAC entries in the table : {statics}\n\
         \x20 Total number of learned MAC entries     : {learned}\n\
         \x20 Total number of expired MAC entries     : {expired}\n\
         \x20 Total number of evicted MAC entries     : {evicted}\n\
         \x20 Total number of port moved MAC entries  : {moved}\n"
    )
}

#[test]
fn fdb_commands_match_ovs() {
    let p = Pair::start();
    p.same_ok(&["fdb/show", "br0"], &format!("{HEADER}\n"));
    p.same_ok(&["fdb/stats-show", "br0"], &stats(0, 0, 0, 0));

    // Learning: A on p1, B on p2, then A moves to p2 and back to p1.
    p.forward("p1", &frame(A, BCAST), [0, 1, 1]);
    p.forward("p2", &frame(B, A), [1, 0, 0]);
    p.converge(&[
        "    1     0  50:54:00:00:00:0a AGE",
        "    2     0  50:54:00:00:00:0b AGE",
    ]);
    p.forward("p2", &frame(A, BCAST), [1, 0, 1]);
    p.converge(&["    2     0  50:54:00:00:00:0a AGE"]);
    p.forward("p1", &frame(A, BCAST), [0, 1, 1]);
    p.converge(&["    1     0  50:54:00:00:00:0a AGE"]);
    p.same_ok(&["fdb/stats-show", "br0"], &stats(2, 0, 2, 2));

    // A static entry over a learned one, then over a static one.
    p.same_ok(
        &["fdb/add", "br0", "p3", "0", "50:54:00:00:00:0b"],
        "Overriding already existing dynamic entry on 2\n",
    );
    p.same_ok(&["fdb/add", "br0", "p3", "0", "50:54:00:00:00:0b"], "");
    p.same_ok(
        &["fdb/add", "br0", "p2", "0", "50:54:00:00:00:0b"],
        "Overriding already existing static entry on 3\n",
    );
    p.same_ok(
        &["fdb/add", "br0", "p3", "0", "50:54:00:00:00:0b"],
        "Overriding already existing static entry on 2\n",
    );
    // New static entries: on the bridge's own port, on VLANs as atoi
    // reads them, with MACs as ovs_scan reads them, multicast ones.
    for a in [
        ["br0", "br0", "7", "50:54:00:00:00:0d"],
        ["br0", "p1", "70000", "5:4:0:0:0:2"],
        ["br0", "p1", "-1", " 0x50:54:-0:+0:00:103"],
        ["br0", "p1", "12abc", "50:54:00:00:00:0e"],
        ["br0", "p1", "abc", "50:54:00:00:00:0f"],
        ["br0", "p2", "1", "ff:ff:ff:ff:ff:ff"],
        ["br0", "p2", "1", "01:00:5e:00:00:01"],
    ] {
        let args: Vec<&str> = ["fdb/add"].into_iter().chain(a).collect();
        p.same_ok(&args, "");
    }
    // Re-adding a multicast entry: NORMAL never finds one, so nothing
    // is overridden, and it still counts once.
    p.same_ok(&["fdb/add", "br0", "p3", "1", "ff:ff:ff:ff:ff:ff"], "");
    p.converge(&[
        "    3     0  50:54:00:00:00:0b  static",
        "LOCAL     7  50:54:00:00:00:0d  static",
        "    1  4464  05:04:00:00:00:02  static",
        "    1  65535  50:54:00:00:00:03  static",
        "    1    12  50:54:00:00:00:0e  static",
        "    1     0  50:54:00:00:00:0f  static",
        "    3     1  ff:ff:ff:ff:ff:ff  static",
        "    2     1  01:00:5e:00:00:01  static",
    ]);
    p.same_ok(&["fdb/stats-show", "br0"], &stats(9, 8, 2, 2));

    p.same_ok(&["revalidator/wait"], "");
    // Learning does not move a static entry: B shows up on p1 (flooded,
    // as a broadcast), and stays on p3.
    p.forward("p1", &frame(B, BCAST), [0, 1, 1]);
    p.converge(&["    3     0  50:54:00:00:00:0b  static"]);
    // NORMAL forwards to it: to B out of p3 only, from p1 and from p2.
    p.forward("p1", &frame(A, B), [0, 0, 1]);
    p.forward("p2", &frame(C, B), [0, 0, 1]);
    p.converge(&[
        "    3     0  50:54:00:00:00:0b  static",
        "    2     0  50:54:00:00:00:0c AGE",
    ]);
    p.same_ok(&["fdb/stats-show", "br0"], &stats(10, 8, 3, 2));

    // fdb/del: static entries only (a learned one is not found, nor a
    // multicast one), the VLAN read as atoi.
    p.same_ok(&["fdb/del", "br0", "0", "50:54:00:00:00:0b"], "");
    p.same_err(
        &["fdb/del", "br0", "0", "50:54:00:00:00:0b"],
        "could not find static mac entry",
    );
    p.same_err(
        &["fdb/del", "br0", "0", "50:54:00:00:00:0a"],
        "could not find static mac entry",
    );
    p.same_err(
        &["fdb/del", "br0", "1", "ff:ff:ff:ff:ff:ff"],
        "could not find static mac entry",
    );
    p.same_ok(&["fdb/del", "br0", "abc", "50:54:00:00:00:0f"], "");
    // B is unknown again: flooded (once the megaflows that sent to p3
    // are revalidated: both do it after the command, not in it).
    p.same_ok(&["revalidator/wait"], "");
    p.forward("p1", &frame(A, B), [0, 1, 1]);
    p.same_ok(&["fdb/stats-show", "br0"], &stats(8, 6, 3, 2));

    // fdb/flush forgets learned entries only; what stays is listed in
    // the order it was added. (Counters of the megaflows first: pushed
    // later, they would learn A again.)
    p.same_ok(&["revalidator/wait"], "");
    p.same_ok(&["fdb/flush", "br0"], "table successfully flushed\n");
    let [o, f] = p.fdb();
    assert_eq!(o, f, "fdb/show after fdb/flush: OVS, ferrovs");
    assert_eq!(o.lines().count(), 7, "{o}");
    p.same_ok(&["fdb/stats-show", "br0"], &stats(6, 6, 3, 2));

    // fdb/stats-clear zeroes the counters, not the static count.
    p.same_ok(
        &["fdb/stats-clear", "br0"],
        "statistics successfully cleared\n",
    );
    p.same_ok(&["fdb/stats-show", "br0"], &stats(6, 6, 0, 0));
    p.forward("p1", &frame(A, BCAST), [0, 1, 1]);
    p.converge(&["    1     0  50:54:00:00:00:0a AGE"]);
    p.same_ok(&["fdb/stats-show", "br0"], &stats(7, 6, 1, 0));
    p.same_ok(&["fdb/stats-clear"], "statistics successfully cleared\n");
    p.same_ok(&["fdb/stats-show", "br0"], &stats(7, 6, 0, 0));
}

#[test]
fn fdb_errors_match_ovs() {
    let p = Pair::start();
    let mac = "50:54:00:00:00:0a";
    for (args, err) in [
        (&["fdb/show", "nobr"][..], "no such bridge"),
        (&["fdb/flush", "nobr"], "no such bridge"),
        (
            &["fdb/stats-show"],
            "\"fdb/stats-show\" command requires at least 1 arguments",
        ),
        (
            &["fdb/stats-show", "br0", "x"],
            "\"fdb/stats-show\" command takes at most 1 arguments",
        ),
        (&["fdb/stats-show", "nobr"], "no such bridge"),
        (&["fdb/stats-clear", "nobr"], "no such bridge"),
        (
            &["fdb/stats-clear", "br0", "x"],
            "\"fdb/stats-clear\" command takes at most 1 arguments",
        ),
        (
            &["fdb/add", "br0", "p1", "0"],
            "\"fdb/add\" command requires at least 4 arguments",
        ),
        (
            &["fdb/add", "br0", "p1", "0", mac, "x"],
            "\"fdb/add\" command takes at most 4 arguments",
        ),
        (&["fdb/add", "nobr", "p1", "0", mac], "no such bridge"),
        (&["fdb/add", "nobr", "nop", "0", "zz"], "no such bridge"),
        (&["fdb/add", "br0", "nop", "0", "zz"], "bad MAC address"),
        (
            &["fdb/add", "br0", "nop", "0", mac],
            "software error, odp port is present but no ofp port",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "50:54:00:00:00:0aXYZ"],
            "bad MAC address",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "1:2:3:4:5"],
            "bad MAC address",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "1:2:3:4:5:"],
            "bad MAC address",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "1:2:3:4:5:6:7"],
            "bad MAC address",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "1 :2:3:4:5:6"],
            "bad MAC address",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "0x:1:2:3:4:5"],
            "bad MAC address",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "1-2-3-4-5-6"],
            "bad MAC address",
        ),
        (
            &["fdb/add", "br0", "p1", "0", "50:54:00:00:00:0a\n"],
            "bad MAC address",
        ),
        (
            &["fdb/del", "br0", "0"],
            "\"fdb/del\" command requires at least 3 arguments",
        ),
        (
            &["fdb/del", "br0", "0", mac, "x"],
            "\"fdb/del\" command takes at most 3 arguments",
        ),
        (&["fdb/del", "nobr", "0", "zz"], "no such bridge"),
        (&["fdb/del", "br0", "0", "zz"], "bad MAC address"),
        (
            &["fdb/del", "br0", "0", mac],
            "could not find static mac entry",
        ),
    ] {
        p.same_err(args, err);
    }
    // None of it changed anything.
    p.same_ok(&["fdb/show", "br0"], &format!("{HEADER}\n"));
    p.same_ok(&["fdb/stats-show", "br0"], &stats(0, 0, 0, 0));
}

/// `other_config:mac-table-size`: shown by `fdb/stats-show`; lowered
/// under the entries present, the least recently used learned ones go
/// (counted expired); full, a new MAC evicts the least recently used
/// learned one (all are on one port here, so OVS's fair eviction picks
/// the same), never a static one.
#[test]
fn mac_table_size_matches_ovs() {
    let p = Pair::start();
    let src = |i: usize| format!("5054000001{i:02x}");
    for i in 0..12 {
        p.forward("p1", &frame(&src(i), BCAST), [0, 1, 1]);
    }
    p.converge(&["    1     0  50:54:00:00:01:0b AGE"]);
    p.same_ok(&["fdb/add", "br0", "p2", "0", "50:54:00:00:02:00"], "");
    p.same_ok(&["fdb/stats-show", "br0"], &stats(13, 1, 12, 0));
    let size = |n: &str| {
        let kv = format!("other_config:mac-table-size={n}");
        p.fv.vsctl_ok(&["set", "bridge", "br0", &kv]);
        p.ovs.vsctl(&["set", "bridge", "br0", &kv]).unwrap();
    };
    // 1 is read as the minimum, 10.
    size("1");
    let want = stats_of(10, [10, 1, 12, 3, 0, 0]);
    p.fv.wait_until(Duration::from_secs(10), || {
        p.appctl(&["fdb/stats-show", "br0"])
            .iter()
            .all(|r| r.out == want)
    });
    p.same_ok(&["fdb/stats-show", "br0"], &want);
    p.converge(&["    2     0  50:54:00:00:02:00  static"]);
    let [o, _] = p.fdb_sorted();
    assert!(!o.iter().any(|l| l.contains("50:54:00:00:01:02")), "{o:#?}");
    // Full: each new MAC evicts the least recently used learned one.
    for i in 12..14 {
        p.forward("p1", &frame(&src(i), BCAST), [0, 1, 1]);
    }
    p.converge(&["    1     0  50:54:00:00:01:0d AGE"]);
    p.same_ok(
        &["fdb/stats-show", "br0"],
        &stats_of(10, [10, 1, 14, 3, 2, 0]),
    );
    // Back to the default.
    size("0");
    p.fv.wait_until(Duration::from_secs(10), || {
        p.appctl(&["fdb/stats-show", "br0"])
            .iter()
            .all(|r| r.out.contains("10/8192"))
    });
    p.same_ok(
        &["fdb/stats-show", "br0"],
        &stats_of(8192, [10, 1, 14, 3, 2, 0]),
    );
}
