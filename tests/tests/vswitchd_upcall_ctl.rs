//! The unixctl commands that steer upcalls and revalidation, and a few
//! more operators use, compared with Debian's ovs-vswitchd 3.1
//! (`--enable-dummy`, netdev datapath) side by side with ferrovs, both
//! standalone with the same dummy ports and the same packets
//! (`netdev-dummy/receive`):
//!
//! - `upcall/set-flow-limit` (replies for odd numbers, the limit
//!   `upcall/show` reports before and after a revalidation round, against
//!   `other_config:flow-limit`), `upcall/disable-ufid` / `enable-ufid`,
//!   `upcall/disable-megaflows` / `enable-megaflows` (two packets that
//!   differ only in a field no flow looks at make two exact datapath flows
//!   while megaflows are off, one megaflow after);
//! - `revalidator/pause` / `resume` (an idle megaflow outlives a short
//!   `max-idle` while paused; `revalidator/wait` returns only after the
//!   resume);
//! - `dpif/dump-dps`, `coverage/read-counter`, `ofproto/list-tunnels`,
//!   `bridge/reconnect` (a management connection is closed, an active
//!   controller is dropped and connects again);
//!
//! each with the same replies, errors and exit status for bad arguments.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrovs_tests::dummy_pair::DummyPair;

const PORTS: [&str; 2] = ["p1", "p2"];

/// Both switches standalone (see `Pair::start`).
struct Pair(DummyPair);

impl std::ops::Deref for Pair {
    type Target = DummyPair;
    fn deref(&self) -> &DummyPair {
        &self.0
    }
}

/// Two UDP packets from p1 that differ only in the IPv4 source, which
/// the NORMAL flow does not look at.
const PKT: [&str; 2] = [
    "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
     ipv4(src=198.18.0.1,dst=198.18.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=2000)",
    "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
     ipv4(src=198.18.0.3,dst=198.18.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=2000)",
];

impl Pair {
    /// Both switches, standalone, with ports p1 and p2, and `other` in
    /// `Open_vSwitch:other_config` (`KEY=VALUE`).
    fn start(other: &[&str]) -> Pair {
        let pair = Pair(DummyPair::start("standalone", &PORTS, &[]));
        for kv in other {
            pair.vsctl(&["set", "Open_vSwitch", ".", &format!("other_config:{kv}")]);
        }
        let ready = pair.fv.wait_until(Duration::from_secs(10), || {
            let [o, f] = pair.appctl(&["dpif/show"]).map(|r| r.out.lines().count());
            o == 5 && f == 5
        });
        assert!(ready, "ports: {:?}", pair.appctl(&["dpif/show"]));
        pair
    }

    fn vsctl(&self, args: &[&str]) {
        self.ovs.vsctl(args).unwrap();
        self.fv.vsctl_ok(args);
    }

    fn ovs_ctl(&self) -> std::path::PathBuf {
        self.ovs.dir().join("ovs-vswitchd.ctl")
    }

    /// `upcall/show` of both without the lines that are timing or thread
    /// ids (dump duration, the revalidator's `N: (keys K)`).
    fn upcall_show(&self) -> [String; 2] {
        self.appctl(&["upcall/show"]).map(|r| {
            assert_eq!(r.code, Some(0), "upcall/show: {}", r.err);
            r.out
                .lines()
                .filter(|l| !l.contains("dump duration") && !l.contains("(keys "))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// Both `upcall/show`s report `limit`.
    fn limit_is(&self, limit: u64) {
        let [o, f] = self.upcall_show();
        assert_eq!(o, f, "upcall/show: OVS then ferrovs");
        let want = format!("(limit {limit})");
        assert!(o.contains(&want), "want {want}: {o}");
    }

    fn receive(&self, port: &str, packet: &str) {
        for (i, r) in self
            .appctl(&["netdev-dummy/receive", port, packet])
            .iter()
            .enumerate()
        {
            assert_eq!(r.code, Some(0), "receive on {i}: {}", r.err);
        }
    }

    /// `dpctl/dump-flows` of both, sorted, datapath port numbers (each
    /// switch numbers its own) as port names from `dpif/show`, the
    /// counters and `used` left out (timing).
    fn dp_flows(&self) -> [Vec<String>; 2] {
        let shows = self.appctl(&["dpif/show"]);
        let dumps = self.appctl(&["dpctl/dump-flows"]);
        let mut out = [Vec::new(), Vec::new()];
        for (i, (r, show)) in dumps.iter().zip(&shows).enumerate() {
            assert_eq!(r.code, Some(0), "dpctl/dump-flows: {}", r.err);
            let names = ferrovs_tests::ovs_compare::dp_names(&show.out);
            let name = |n: &str| names.get(n).cloned().unwrap_or_else(|| n.to_string());
            let mut v: Vec<String> = r
                .out
                .lines()
                .filter(|l| !l.starts_with("flow-dump from"))
                .map(|l| {
                    let (k, rest) = l.split_once(", packets:").unwrap_or((l, ""));
                    let k = match k.split_once("in_port(") {
                        Some((a, b)) => {
                            let (n, c) = b.split_once(')').unwrap_or((b, ""));
                            format!("{a}in_port({}){c}", name(n))
                        }
                        None => k.to_string(),
                    };
                    let acts: Vec<String> = rest
                        .split_once("actions:")
                        .map_or("", |(_, a)| a)
                        .split(',')
                        .map(name)
                        .collect();
                    format!("{k}, actions:{}", acts.join(","))
                })
                .collect();
            v.sort();
            out[i] = v;
        }
        out
    }

    /// Waits until both have `n` datapath flows; returns them.
    fn dp_flows_n(&self, n: usize) -> [Vec<String>; 2] {
        let ok = self.fv.wait_until(Duration::from_secs(10), || {
            self.dp_flows().iter().all(|f| f.len() == n)
        });
        let f = self.dp_flows();
        assert!(ok, "want {n} datapath flows, OVS then ferrovs: {f:#?}");
        f
    }
}

/// `upcall/*` replies and errors, the flow limit set by hand before and
/// after a round, and the UFID setting in `upcall/show`.
#[test]
fn upcall_settings_as_ovs() {
    let p = Pair::start(&[]);
    p.same_err(
        &["upcall/set-flow-limit"],
        "\"upcall/set-flow-limit\" command requires at least 1 arguments",
    );
    p.same_err(
        &["upcall/set-flow-limit", "1", "2"],
        "\"upcall/set-flow-limit\" command takes at most 1 arguments",
    );
    for c in [
        "upcall/disable-ufid",
        "upcall/enable-ufid",
        "upcall/disable-megaflows",
        "upcall/enable-megaflows",
    ] {
        p.same_err(
            &[c, "x"],
            &format!("\"{c}\" command takes at most 0 arguments"),
        );
    }
    // Numbers as C's atoi reads them, stored unsigned.
    for (arg, shown) in [
        ("x", "0"),
        ("-5", "4294967291"),
        (" 12abc", "12"),
        ("+7", "7"),
        ("0x10", "0"),
        ("99999999999", "1215752191"),
        ("-99999999999", "3079215105"),
        ("999999999999999999999", "4294967295"),
        ("-999999999999999999999", "0"),
        ("300000", "300000"),
    ] {
        p.same_ok(
            &["upcall/set-flow-limit", arg],
            &format!("set flow_limit to {shown}\n"),
        );
    }
    // Shown as set until a round keeps it within 1,000 and flow-limit
    // (no megaflows here, so the round adds nothing to it).
    p.same_ok(
        &["upcall/set-flow-limit", "5000"],
        "set flow_limit to 5000\n",
    );
    p.limit_is(5000);
    p.same_ok(&["revalidator/wait"], "");
    p.limit_is(5000);
    p.same_ok(&["upcall/set-flow-limit", "0"], "set flow_limit to 0\n");
    p.same_ok(&["revalidator/wait"], "");
    p.limit_is(1000);
    p.same_ok(
        &["upcall/set-flow-limit", "-5"],
        "set flow_limit to 4294967291\n",
    );
    p.same_ok(&["revalidator/wait"], "");
    p.limit_is(200000);
    p.vsctl(&["set", "Open_vSwitch", ".", "other_config:flow-limit=3000"]);
    p.same_ok(&["revalidator/wait"], "");
    p.limit_is(3000);
    p.same_ok(
        &["upcall/set-flow-limit", "5000"],
        "set flow_limit to 5000\n",
    );
    p.same_ok(&["revalidator/wait"], "");
    p.limit_is(3000);

    p.same_ok(
        &["upcall/disable-ufid"],
        "Datapath dumping tersely using UFID disabled\n",
    );
    let [o, _] = p.upcall_show();
    assert!(o.contains("ufid enabled : false"), "{o}");
    p.limit_is(3000);
    p.same_ok(
        &["upcall/enable-ufid"],
        "Datapath dumping tersely using UFID enabled for supported datapaths\n",
    );
    let [o, _] = p.upcall_show();
    assert!(o.contains("ufid enabled : true"), "{o}");
    p.limit_is(3000);
}

/// With megaflows disabled, each packet installs an exact-match flow (so
/// two packets that differ in a field NORMAL does not look at make two);
/// disabling and enabling flush the datapath; enabled again, one
/// megaflow covers both.
#[test]
fn megaflows_off_and_on_as_ovs() {
    let p = Pair::start(&[]);
    p.receive("p1", PKT[0]);
    let [o, f] = p.dp_flows_n(1);
    assert_eq!(o, f, "megaflow: OVS then ferrovs");

    p.same_ok(&["upcall/disable-megaflows"], "megaflows disabled\n");
    p.dp_flows_n(0);
    p.receive("p1", PKT[0]);
    p.receive("p1", PKT[1]);
    let [o, f] = p.dp_flows_n(2);
    assert_eq!(o, f, "exact flows: OVS then ferrovs");
    assert!(o.iter().all(|l| l.contains("src=198.18.0.")), "{o:#?}");

    p.same_ok(&["upcall/enable-megaflows"], "megaflows enabled\n");
    p.dp_flows_n(0);
    p.receive("p1", PKT[0]);
    p.receive("p1", PKT[1]);
    std::thread::sleep(Duration::from_millis(300));
    let [o, f] = p.dp_flows_n(1);
    assert_eq!(o, f, "megaflow again: OVS then ferrovs");
    assert!(!o[0].contains("198.18.0.1"), "{o:#?}");
}

/// `ovs-appctl ARGS` started in the background on `ctl`.
fn appctl_bg(ctl: &std::path::Path, args: &[&str]) -> Child {
    Command::new("ovs-appctl")
        .arg("-t")
        .arg(ctl)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits up to `t` for `c` to exit; its status code (None: still
/// running, then killed).
fn exit_within(c: &mut Child, t: Duration) -> Option<i32> {
    let end = Instant::now() + t;
    while Instant::now() < end {
        if let Some(s) = c.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
    None
}

/// A paused revalidator keeps an idle megaflow past `max-idle`, and
/// `revalidator/wait` returns only once it is resumed; then the megaflow
/// expires.
#[test]
fn revalidator_pause_as_ovs() {
    let p = Pair::start(&["max-idle=500"]);
    for c in ["revalidator/pause", "revalidator/resume"] {
        p.same_err(
            &[c, "x"],
            &format!("\"{c}\" command takes at most 0 arguments"),
        );
    }
    // Listed by neither.
    let [o, f] = p.appctl(&["list-commands"]);
    assert!(!o.out.contains("revalidator/pause") && !f.out.contains("revalidator/pause"));
    // Unpaused, an idle megaflow goes after max-idle.
    p.receive("p1", PKT[0]);
    p.dp_flows_n(1);
    p.dp_flows_n(0);

    p.same_ok(&["revalidator/pause"], "");
    p.receive("p1", PKT[0]);
    p.dp_flows_n(1);
    std::thread::sleep(Duration::from_secs(2));
    let [o, f] = p.dp_flows();
    assert_eq!((o.len(), f.len()), (1, 1), "kept while paused: {o:?} {f:?}");
    let mut waits = [
        appctl_bg(&p.ovs_ctl(), &["revalidator/wait"]),
        appctl_bg(&p.fv.ctl_path(), &["revalidator/wait"]),
    ];
    std::thread::sleep(Duration::from_secs(1));
    for (i, w) in waits.iter_mut().enumerate() {
        assert!(
            w.try_wait().unwrap().is_none(),
            "revalidator/wait returned while paused (0: OVS, 1: ferrovs)  on {i}"
        );
    }
    // Other commands still answer.
    for r in p.appctl(&["upcall/show"]) {
        assert_eq!(r.code, Some(0), "{r:?}");
    }
    p.same_ok(&["revalidator/resume"], "");
    for (i, w) in waits.iter_mut().enumerate() {
        assert_eq!(
            exit_within(w, Duration::from_secs(5)),
            Some(0),
            "revalidator/wait after resume (0: OVS, 1: ferrovs) on {i}"
        );
    }
    p.dp_flows_n(0);
}

/// `dpif/dump-dps`, `coverage/read-counter`, `ofproto/list-tunnels`.
#[test]
fn dump_dps_coverage_tunnels_as_ovs() {
    let p = Pair::start(&[]);
    p.same_ok(&["dpif/dump-dps"], "netdev@br0\n");
    p.same_err(
        &["dpif/dump-dps", "x"],
        "\"dpif/dump-dps\" command takes at most 0 arguments",
    );
    p.same_err(
        &["coverage/read-counter"],
        "\"coverage/read-counter\" command requires at least 1 arguments",
    );
    p.same_err(
        &["coverage/read-counter", "a", "b"],
        "\"coverage/read-counter\" command takes at most 1 arguments",
    );
    p.same_err(
        &["coverage/read-counter", "no_such_event"],
        "No such counter",
    );
    p.same_ok(&["coverage/read-counter", "upcall_flow_limit_hit"], "0\n");
    // At a flow limit of 0, a miss is not installed and counted (the
    // revalidator paused, so that no round raises the limit meanwhile).
    p.same_ok(&["revalidator/pause"], "");
    p.same_ok(&["upcall/set-flow-limit", "0"], "set flow_limit to 0\n");
    p.receive("p1", PKT[0]);
    let ok = p.fv.wait_until(Duration::from_secs(10), || {
        p.appctl(&["coverage/read-counter", "upcall_flow_limit_hit"])
            .iter()
            .all(|r| r.out == "1\n")
    });
    assert!(
        ok,
        "{:?}",
        p.appctl(&["coverage/read-counter", "upcall_flow_limit_hit"])
    );
    p.same_ok(&["revalidator/resume"], "");

    p.same_ok(&["ofproto/list-tunnels"], "");
    p.same_err(
        &["ofproto/list-tunnels", "x"],
        "\"ofproto/list-tunnels\" command takes at most 0 arguments",
    );
    p.vsctl(&[
        "add-port",
        "br0",
        "vx1",
        "--",
        "set",
        "interface",
        "vx1",
        "type=vxlan",
        "options:remote_ip=198.18.0.2",
        "options:key=5",
        "--",
        "add-port",
        "br0",
        "gre1",
        "--",
        "set",
        "interface",
        "gre1",
        "type=gre",
        "options:remote_ip=flow",
        "options:in_key=7",
        "options:ttl=inherit",
        "options:tos=16",
        "options:df_default=false",
        "options:csum=true",
    ]);
    // Datapath port numbers are each switch's own: named back from
    // `dpif/show` (`NAME OFPORT/DPPORT: ...`).
    let ok = p.fv.wait_until(Duration::from_secs(10), || {
        p.appctl(&["ofproto/list-tunnels"])
            .iter()
            .all(|r| r.out.lines().count() == 2)
    });
    let [o, f] = p.appctl(&["ofproto/list-tunnels"]);
    assert!(
        ok,
        "{o:?} {f:?}\n{}",
        p.fv.vsctl_ok(&["list", "interface", "gre1"])
    );
    let [so, sf] = p.appctl(&["dpif/show"]);
    let named = |list: &str, show: &str| -> Vec<String> {
        let names = ferrovs_tests::ovs_compare::dp_names(show);
        let mut v: Vec<String> = list
            .lines()
            .map(|l| {
                let (head, rest) = l.split_once(": ").unwrap();
                let dp = head.trim_start_matches("port ");
                let port = names.get(dp).cloned().unwrap_or_default();
                format!(
                    "port {port}: {}",
                    rest.replace(&format!("dp port={dp}"), &format!("dp port={port}"))
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        named(&o.out, &so.out),
        named(&f.out, &sf.out),
        "OVS then ferrovs:\n{}\n{}",
        o.out,
        f.out
    );
    assert!(o
        .out
        .contains("vx1 (vxlan: ::->198.18.0.2, key=0x5, legacy_l2"));
}

/// Reads until EOF or `t`; whether EOF came.
fn eof_within(s: &mut UnixStream, t: Duration) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let end = Instant::now() + t;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// Accepts one connection within `t`.
fn accept_within(l: &UnixListener, t: Duration) -> Option<UnixStream> {
    l.set_nonblocking(true).unwrap();
    let end = Instant::now() + t;
    while Instant::now() < end {
        if let Ok((s, _)) = l.accept() {
            s.set_nonblocking(false).unwrap();
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// `bridge/reconnect`: errors as OVS's; a management connection is
/// closed; an active controller is dropped and connects again.
#[test]
fn bridge_reconnect_as_ovs() {
    let p = Pair::start(&[]);
    p.same_err(&["bridge/reconnect", "nobr"], "Unknown bridge");
    p.same_err(
        &["bridge/reconnect", "a", "b"],
        "\"bridge/reconnect\" command takes at most 1 arguments",
    );
    p.same_ok(&["bridge/reconnect"], "");

    // A controller each switch connects to, and a management connection.
    // In each one's run directory (OVS connects to no unix socket
    // elsewhere).
    let ctl = [
        p.ovs.dir().join("test-controller.sock"),
        p.fv.dir().join("test-controller.sock"),
    ];
    let listeners = ctl.clone().map(|c| UnixListener::bind(c).unwrap());
    p.ovs
        .vsctl(&[
            "set-controller",
            "br0",
            &format!("unix:{}", ctl[0].display()),
        ])
        .unwrap();
    p.fv.vsctl_ok(&[
        "set-controller",
        "br0",
        &format!("unix:{}", ctl[1].display()),
    ]);
    let mut first: Vec<UnixStream> = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            accept_within(l, Duration::from_secs(10))
                .unwrap_or_else(|| panic!("controller connection (0: OVS, 1: ferrovs) on {i}"))
        })
        .collect();
    let hello = [4u8, 0, 0, 8, 0, 0, 0, 1];
    let mut mgmt: Vec<UnixStream> = [p.ovs.mgmt_socket(), p.fv.mgmt_socket("br0")]
        .iter()
        .map(|m| {
            let mut s = UnixStream::connect(m).unwrap();
            s.write_all(&hello).unwrap();
            s
        })
        .collect();
    for s in first.iter_mut() {
        s.write_all(&hello).unwrap();
    }
    // Still connected a moment later.
    for s in first.iter_mut().chain(mgmt.iter_mut()) {
        assert!(!eof_within(s, Duration::from_millis(500)));
    }
    p.same_ok(&["bridge/reconnect", "br0"], "");
    for (i, s) in mgmt.iter_mut().enumerate() {
        assert!(
            eof_within(s, Duration::from_secs(5)),
            "management connection closed (0: OVS, 1: ferrovs) on {i}"
        );
    }
    for (i, s) in first.iter_mut().enumerate() {
        assert!(
            eof_within(s, Duration::from_secs(5)),
            "controller connection closed (0: OVS, 1: ferrovs) on {i}"
        );
    }
    for (i, l) in listeners.iter().enumerate() {
        assert!(
            accept_within(l, Duration::from_secs(10)).is_some(),
            "controller connected again (0: OVS, 1: ferrovs) on {i}"
        );
    }
}
