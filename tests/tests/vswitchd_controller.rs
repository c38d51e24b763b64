//! Controller connections of ferrovs-vswitchd, seen from the controller's
//! side of a unix socket (no TCP: tests stay off the network):
//!
//! - an active `unix:` controller: the switch connects and says HELLO, the
//!   features reply carries the bridge's datapath id, `Controller`
//!   `is_connected`/`role`/`status` follow the connection; an unanswered
//!   inactivity probe (5 s, OVS's minimum) closes it and the switch
//!   reconnects after its backoff;
//! - a passive `punix:` controller target: `ovs-ofctl` connects to it, and
//!   as OVS it reports no connection state on the Controller row;
//! - the management socket by bridge name (`ovs-ofctl show br0` with
//!   OVS_RUNDIR), in OpenFlow 1.0, 1.3 and 1.5.
//!
//! - the port list of `dump-ports-desc` in OpenFlow 1.0, 1.3 and 1.5, as
//!   OVS's;
//! - queue stats and their errors in OpenFlow 1.0, 1.3 and 1.4, as OVS's
//!   (dummy ports have the default queue 0, LOCAL has none).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

const ADD_BR: &[&str] = &[
    "add-br",
    "br0",
    "--",
    "set",
    "bridge",
    "br0",
    "datapath_type=netdev",
];

fn read_msg(s: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut h = [0u8; 8];
    s.read_exact(&mut h)?;
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    let mut m = h.to_vec();
    m.resize(len.max(8), 0);
    s.read_exact(&mut m[8..])?;
    Ok(m)
}

fn msg(version: u8, ty: u8, xid: u32) -> Vec<u8> {
    let mut m = vec![version, ty, 0, 8];
    m.extend_from_slice(&xid.to_be_bytes());
    m
}

fn accept(l: &UnixListener, within: Duration) -> Option<UnixStream> {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok((s, _)) = l.accept() {
            s.set_nonblocking(false).unwrap();
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn active_unix_controller() {
    let fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(ADD_BR);
    let path = fv.dir().join("controller.sock");
    let l = UnixListener::bind(&path).unwrap();
    let target = format!("unix:{}", path.display());
    fv.vsctl_ok(&["set-controller", "br0", &target]);
    let mut c = accept(&l, Duration::from_secs(10)).expect("the switch connects");
    // New timers for the same target: the connection stays up.
    fv.vsctl_ok(&[
        "set",
        "Controller",
        "br0",
        "inactivity_probe=1000",
        "max_backoff=1000",
    ]);
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let hello = read_msg(&mut c).unwrap();
    assert_eq!(hello[1], 0, "HELLO first");
    c.write_all(&msg(4, 0, 1)).unwrap();
    c.write_all(&msg(4, 5, 2)).unwrap(); // FEATURES_REQUEST
    let f = read_msg(&mut c).unwrap();
    assert_eq!((f[0], f[1]), (4, 6), "FEATURES_REPLY in OF1.3");
    let dpid = format!("\"{}\"", hex::encode(&f[8..16]));
    assert_eq!(
        fv.vsctl_ok(&["get", "Bridge", "br0", "datapath_id"]).trim(),
        dpid
    );

    let connected = fv.wait_until(Duration::from_secs(10), || {
        fv.vsctl_ok(&["get", "Controller", "br0", "is_connected"])
            .trim()
            == "true"
    });
    assert!(connected, "is_connected never true; log:\n{}", fv.log());
    assert_eq!(
        fv.vsctl_ok(&["get", "Controller", "br0", "role"]).trim(),
        "other"
    );
    let status = fv.vsctl_ok(&["get", "Controller", "br0", "status"]);
    assert!(status.contains("state=ACTIVE"), "{status}");

    // The controller becomes primary (OFPT_ROLE_REQUEST, MASTER, generation
    // 1): `role` follows the connection (by the next status pass, 5 s).
    let t0 = Instant::now();
    let mut rr = msg(4, 24, 3);
    rr.extend_from_slice(&2u32.to_be_bytes());
    rr.extend_from_slice(&[0; 4]);
    rr.extend_from_slice(&1u64.to_be_bytes());
    rr[3] = rr.len() as u8;
    c.write_all(&rr).unwrap();
    let reply = read_msg(&mut c).unwrap();
    assert_eq!(reply[1], 25, "ROLE_REPLY");
    assert_eq!(&reply[8..12], &2u32.to_be_bytes(), "MASTER");
    let master = fv.wait_until(Duration::from_secs(7), || {
        fv.vsctl_ok(&["get", "Controller", "br0", "role"]).trim() == "master"
    });
    assert!(
        master,
        "role {}",
        fv.vsctl_ok(&["get", "Controller", "br0", "role"])
    );

    // Silence: an echo request after the probe interval (at least 5 s)...
    let echo = read_msg(&mut c).unwrap();
    assert_eq!(echo[1], 2, "ECHO_REQUEST");
    assert!(t0.elapsed() >= Duration::from_secs(4), "{:?}", t0.elapsed());
    // ...unanswered, the switch hangs up.
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0, "connection closed");

    // It comes back after the backoff.
    let mut c2 = accept(&l, Duration::from_secs(10)).expect("the switch reconnects");
    c2.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(read_msg(&mut c2).unwrap()[1], 0);
    let status = fv.vsctl_ok(&["get", "Controller", "br0", "status"]);
    assert!(
        status.contains("last_error=\"Inactivity probe timeout\""),
        "{status}"
    );

    // Removing the controller closes the connection.
    fv.vsctl_ok(&["del-controller", "br0"]);
    c2.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match c2.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) => panic!("connection not closed: {e}"),
        }
    }
}

#[test]
fn passive_unix_controller_and_mgmt_socket() {
    let fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(ADD_BR);
    let dpid = fv
        .vsctl_ok(&["get", "Bridge", "br0", "datapath_id"])
        .trim()
        .trim_matches('"')
        .to_string();
    let path = fv.dir().join("br0.listen");
    fv.vsctl_ok(&[
        "set-controller",
        "br0",
        &format!("punix:{}", path.display()),
    ]);
    fv.wait_for(&path).unwrap();
    let target = format!("unix:{}", path.display());
    // ovs-ofctl names the version except for OpenFlow 1.0.
    for (v, tag) in [
        ("OpenFlow10", ""),
        ("OpenFlow13", " (OF1.3)"),
        ("OpenFlow15", " (OF1.5)"),
    ] {
        // Through the passive controller target and the management socket
        // (by bridge name, found in OVS_RUNDIR).
        for sw in [target.as_str(), "br0"] {
            let out = fv.ofctl(&["-O", v], "show", sw, &[]);
            let text = String::from_utf8_lossy(&out.stdout);
            let first = text.lines().next().unwrap_or("");
            assert_eq!(
                first,
                format!("OFPT_FEATURES_REPLY{tag} (xid=0x2): dpid:{dpid}"),
                "{sw} {v}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // As OVS, a passive target reports no connection.
    assert_eq!(
        fv.vsctl_ok(&["get", "Controller", "br0", "is_connected"])
            .trim(),
        "false"
    );
    // other_config:flow_tables sets the number of tables shown.
    fv.vsctl_ok(&["set", "Bridge", "br0", "other_config:flow_tables=10"]);
    let out = fv.ofctl(&["-O", "OpenFlow13"], "show", "br0", &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        text.lines().nth(1),
        Some("n_tables:10, n_buffers:0"),
        "{text}"
    );
    // A bridge limited to OpenFlow 1.3 refuses 1.0.
    fv.vsctl_ok(&["set", "Bridge", "br0", "protocols=OpenFlow13"]);
    let out = fv.ofctl(&["-O", "OpenFlow10"], "show", "br0", &[]);
    assert!(!out.status.success());
    let out = fv.ofctl(&["-O", "OpenFlow13"], "show", "br0", &[]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OFPT_FEATURES_REPLY (OF1.3)"));
    // Deleting the controller removes its socket.
    fv.vsctl_ok(&["del-controller", "br0"]);
    assert!(fv.wait_until(Duration::from_secs(5), || !path.exists()));
}

/// `ovs-ofctl dump-ports-desc` lists the same ports (numbers, names, dummy
/// addresses, config and state) on ferrovs and on OVS.
#[test]
fn ports_desc_match_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev(
        "br0",
        &[
            "fail_mode=secure",
            "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15",
        ],
    );
    for p in ["p1", "p2"] {
        let args = [
            "add-port",
            "br0",
            p,
            "--",
            "set",
            "Interface",
            p,
            "type=dummy",
        ];
        ovs.vsctl(&args).unwrap();
        fv.vsctl_ok(&args);
    }
    for v in ["OpenFlow10", "OpenFlow13", "OpenFlow15"] {
        let o = ovs.ofctl(&["-O", v], "dump-ports-desc", &[]).unwrap();
        let f = fv.ofctl(&["-O", v], "dump-ports-desc", "br0", &[]);
        let f = String::from_utf8_lossy(&f.stdout).into_owned();
        // LOCAL differs: OVS's is a tap device (down, random address).
        let strip = |s: &str| -> String { s.split(" LOCAL(").next().unwrap_or("").to_string() };
        assert_eq!(strip(&o), strip(&f), "{v}");
    }
    // ovs-ofctl drops state bits OpenFlow 1.0 does not define, so the
    // text above cannot show them: read the OF1.0 FEATURES_REPLY's ports
    // directly. Only LINK_DOWN (1) and the STP field (0x300) may be set;
    // OFPPS_LIVE (4) is OpenFlow 1.1+.
    let mut c = UnixStream::connect(fv.mgmt_socket("br0")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(&msg(1, 0, 1)).unwrap();
    assert_eq!(read_msg(&mut c).unwrap()[1], 0, "HELLO");
    c.write_all(&msg(1, 5, 2)).unwrap();
    let f = read_msg(&mut c).unwrap();
    assert_eq!((f[0], f[1]), (1, 6), "OF1.0 FEATURES_REPLY");
    let ports: Vec<&[u8]> = f[32..].chunks(48).collect();
    assert_eq!(ports.len(), 3, "p1, p2, LOCAL");
    for p in ports {
        let state = u32::from_be_bytes([p[28], p[29], p[30], p[31]]);
        assert_eq!(state & !0x301, 0, "OF1.0 port state {state:#x}");
    }
}

/// `ovs-ofctl queue-stats` (every port, one port, one queue, a port
/// without queues, unknown ports and queues) prints the same on ferrovs as
/// on OVS: dummy ports have queue 0 with unknown counters, LOCAL (a tap
/// device on OVS, internal here) has none, an unknown port is
/// OFPQOFC_BAD_PORT and a queue no selected port has is
/// OFPQOFC_BAD_QUEUE.
#[test]
fn queue_stats_match_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev(
        "br0",
        &[
            "fail_mode=secure",
            "protocols=OpenFlow10,OpenFlow13,OpenFlow14",
        ],
    );
    ovs.vsctl(&[
        "set",
        "bridge",
        "br0",
        "protocols=OpenFlow10,OpenFlow13,OpenFlow14",
    ])
    .unwrap();
    for (p, n) in [("p1", "1"), ("p2", "2")] {
        let req = format!("ofport_request={n}");
        let args = [
            "add-port",
            "br0",
            p,
            "--",
            "set",
            "Interface",
            p,
            "type=dummy",
            &req,
        ];
        ovs.vsctl(&args).unwrap();
        fv.vsctl_ok(&args);
    }
    let run = |sock: &std::path::Path, v: &str, rest: &[&str]| -> String {
        let o = std::process::Command::new(ferrovs_tests::tool("ovs-ofctl"))
            .args(["-O", v, "--timeout=10", "queue-stats"])
            .arg(format!("unix:{}", sock.display()))
            .args(rest)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("ovs-ofctl runs");
        // Ports come in hash order on OVS: compare the lines sorted.
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        format!("ok={} {}", o.status.success(), lines.join("\n"))
    };
    let queries: &[&[&str]] = &[
        &[],
        &["1"],
        &["2", "0"],
        &["1", "5"],
        &["LOCAL"],
        &["LOCAL", "0"],
        &["9"],
        &["ALL", "0"],
        &["ALL", "5"],
    ];
    let mut diffs = Vec::new();
    for v in ["OpenFlow10", "OpenFlow13", "OpenFlow14"] {
        for q in queries {
            let o = run(&ovs.mgmt_socket(), v, q);
            let f = run(&fv.mgmt_socket("br0"), v, q);
            if o != f {
                diffs.push(format!(
                    "{v} queue-stats {q:?}\n--- OVS:\n{o}\n--- ferrovs:\n{f}"
                ));
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The oracle did list queue 0 of both dummy ports (the test compares
    // something).
    assert!(run(&ovs.mgmt_socket(), "OpenFlow13", &[]).contains("port 2 queue 0"));
}

/// Idle and hard timeouts expire in the running switch (vswitchd runs
/// each bridge's expiry from its slow-path tick): flows with
/// `hard_timeout=1` and `idle_timeout=1` are gone within a few seconds,
/// a flow without timeout stays.
#[test]
fn timeouts_expire_in_the_running_switch() {
    let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
    let ok = |args: &[&str]| {
        let o = fv.ofctl(&[], "add-flow", "br0", args);
        assert!(o.status.success(), "{o:?}");
    };
    ok(&["priority=5,ip,hard_timeout=1,send_flow_rem,actions=drop"]);
    ok(&["priority=6,arp,idle_timeout=1,send_flow_rem,actions=drop"]);
    ok(&["priority=7,ipv6,actions=drop"]);
    let dump = || {
        let o = fv.ofctl(&[], "dump-flows", "br0", &[]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(dump().contains("hard_timeout=1"));
    let gone = fv.wait_until(Duration::from_secs(10), || {
        let d = dump();
        !d.contains("hard_timeout=1") && !d.contains("idle_timeout=1")
    });
    assert!(gone, "timed-out flows still there:\n{}", dump());
    assert!(dump().contains("priority=7,ipv6"), "{}", dump());
}

/// What one side of [`controller_presence_flushes_as_ovs`] drives: an
/// `ovs-vsctl` that must succeed, and `ovs-ofctl -O OpenFlow13 CMD br1
/// ARGS` returning stdout.
struct Side<'a> {
    vsctl: &'a dyn Fn(&[&str]),
    ofctl: &'a dyn Fn(&str, &[&str]) -> String,
    dir: std::path::PathBuf,
}

/// The flows (without statistics), groups and meters of br1.
fn tables_of(s: &Side) -> String {
    // Sorted: OVS prints flows in its classifier's order.
    let flows = (s.ofctl)("dump-flows", &["--no-stats", "--sort"]);
    let groups = (s.ofctl)("dump-groups", &[]);
    let meters = (s.ofctl)("dump-meters", &[]);
    format!("{flows}{groups}{meters}")
}

/// Runs the controller/fail-mode sequence on one switch; returns the
/// tables after each step, labelled.
fn flush_sequence(s: &Side) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut snap = |label: &str| seen.push((label.to_string(), tables_of(s)));
    let svc = format!("punix:{}", s.dir.join("br1.svc").display());
    // A primary controller that never answers (nothing listens there).
    let primary = format!("unix:{}", s.dir.join("nowhere.sock").display());
    (s.vsctl)(&[
        "add-br",
        "br1",
        "--",
        "set",
        "bridge",
        "br1",
        "datapath_type=netdev",
        "protocols=OpenFlow10,OpenFlow13",
    ]);
    snap("new standalone bridge");
    (s.ofctl)("add-flow", &["priority=5,ip,actions=drop"]);
    (s.ofctl)("add-group", &["group_id=1,type=all,bucket=output:1"]);
    (s.ofctl)("add-meter", &["meter=1,pktps,band=type=drop,rate=10"]);
    (s.vsctl)(&["set-controller", "br1", &svc]);
    snap("a service controller flushes nothing");
    (s.vsctl)(&["set-controller", "br1", &svc, &primary]);
    snap("the first primary controller flushes");
    (s.ofctl)("add-flow", &["priority=6,ip,actions=drop"]);
    (s.vsctl)(&["set", "bridge", "br1", "fail_mode=secure"]);
    snap("a fail mode change with a primary flushes nothing");
    // OVS keeps a target's type from when it first appeared: marking the
    // same target "service" leaves it primary (nothing flushed).
    (s.vsctl)(&["set-controller", "br1", &primary]);
    (s.vsctl)(&["set", "Controller", "br1", "type=service"]);
    snap("the same target marked service stays primary");
    (s.vsctl)(&["del-controller", "br1"]);
    snap("no primary left: flushed, secure");
    (s.ofctl)("add-flow", &["priority=7,ip,actions=drop"]);
    // An active target created as a service is no primary.
    (s.vsctl)(&[
        "--id=@c",
        "create",
        "Controller",
        &format!("target=\"{}\"", &primary),
        "type=service",
        "--",
        "set",
        "bridge",
        "br1",
        "controller=@c",
    ]);
    snap("an active service controller flushes nothing");
    (s.vsctl)(&["clear", "bridge", "br1", "fail_mode"]);
    snap("fail mode change without primaries: flushed, NORMAL");
    (s.vsctl)(&["del-controller", "br1"]);
    (s.vsctl)(&["set-controller", "br1", &primary]);
    (s.ofctl)("add-flow", &["priority=8,ip,actions=drop"]);
    snap("primary again: flushed, a flow added");
    (s.vsctl)(&["del-controller", "br1"]);
    snap("no primary left: flushed, NORMAL");
    seen
}

/// A bridge's flows, groups and meters are flushed when it goes from no
/// primary controller to some or back (service controllers do not count),
/// and when its fail mode changes without primaries; a standalone bridge
/// without primaries then gets `priority=0 actions=NORMAL`. Same text as
/// Debian's ovs-vswitchd after every step.
#[test]
fn controller_presence_flushes_as_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start().unwrap();
    let ovs_mgmt = ovs.dir().join("br1.mgmt");
    let o = Side {
        vsctl: &|a| {
            ovs.vsctl(a).unwrap();
        },
        ofctl: &|cmd, rest| {
            ovs.ofctl_on(&ovs_mgmt, &["-O", "OpenFlow13"], cmd, rest)
                .unwrap()
        },
        dir: ovs.dir().to_path_buf(),
    };
    let f = Side {
        vsctl: &|a| {
            fv.vsctl_ok(a);
        },
        ofctl: &|cmd, rest| {
            let out = fv.ofctl(&["-O", "OpenFlow13"], cmd, "br1", rest);
            assert!(
                out.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        },
        dir: fv.dir().to_path_buf(),
    };
    let want = flush_sequence(&o);
    let got = flush_sequence(&f);
    // The sequence must show something: OVS flushed and re-added NORMAL.
    assert!(want[1].1.contains("priority=5,ip"), "{want:?}");
    assert!(!want[2].1.contains("priority=5"), "{want:?}");
    assert!(want[4].1.contains("priority=6"), "{want:?}");
    assert!(!want[5].1.contains("priority=6"), "{want:?}");
    assert!(want[6].1.contains("priority=7"), "{want:?}");
    assert!(want[9].1.contains("actions=NORMAL"), "{want:?}");
    for ((label, w), (_, g)) in want.iter().zip(&got) {
        assert_eq!(w, g, "after: {label}");
    }
}
