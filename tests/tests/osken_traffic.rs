//! os-ken applications driving ferrovs-vswitchd with real traffic between
//! two host namespaces (veth pairs whose other ends are system ports of
//! the bridge, addresses in 198.18.0.0/15), the controller listening on
//! 127.0.0.1 inside the switch's namespace (`tcp:127.0.0.1:PORT`):
//!
//! - a learning switch (`tests/python/osken_learning_switch.py`), bridge in
//!   fail_mode secure: the hosts ping each other through packet-in,
//!   packet-out and the flows the app installs, and once those flows are in
//!   no more IPv4 packet reaches the controller;
//! - a Neutron-agent-style app (`tests/python/osken_agent_restart.py`):
//!   br-int and br-tun (joined by patch ports) get their tables with one
//!   cookie; the app is then killed and started again with a new cookie,
//!   installs the same flows, and deletes the old cookie's flows, while a
//!   ping runs through the kept flows: no echo reply is lost.

use std::process::{Command, Stdio};
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::osken::OskenApp;
use ferrovs_tests::{host_on, tool, Child, Netns, Veth};

const PORT: &str = "6653";

fn controller() -> String {
    format!("tcp:127.0.0.1:{PORT}")
}

fn hosts(fv: &FerrovsVswitchd, bridge: &str) -> [(Netns, Veth); 2] {
    let h1 = host_on(fv.netns(), "h1", "198.18.0.1/24").expect("host h1");
    let h2 = host_on(fv.netns(), "h2", "198.18.0.2/24").expect("host h2");
    fv.vsctl_ok(&[
        "add-port", bridge, &h1.1.a, "--", "add-port", bridge, &h2.1.a,
    ]);
    [h1, h2]
}

fn ping_once(h: &Netns, dst: &str) -> bool {
    h.exec(&["ping", "-c", "1", "-W", "1", dst]).is_ok()
}

#[test]
fn osken_learning_switch_pings_between_namespaces() {
    let fv = FerrovsVswitchd::start().expect("start ferrovs");
    fv.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "protocols=OpenFlow13",
        "fail_mode=secure",
    ]);
    let [(h1, _v1), _h2] = hosts(&fv, "br0");
    // Secure mode, no controller yet: nothing passes.
    assert!(
        !ping_once(&h1, "198.18.0.2"),
        "secure bridge forwards alone"
    );

    let app = OskenApp::start(
        fv.netns(),
        fv.dir(),
        "ferrovs",
        "osken_learning_switch.py",
        &[PORT],
    )
    .expect("start os-ken");
    fv.vsctl_ok(&["set-controller", "br0", &controller()]);
    app.expect("CONNECTED", Duration::from_secs(30))
        .expect("the switch connects to os-ken");

    let mut seen = Vec::new();
    let reached = fv.wait_until(Duration::from_secs(30), || {
        let ok = ping_once(&h1, "198.18.0.2");
        seen.extend(app.drain(Duration::from_millis(10)));
        ok
    });
    seen.extend(app.drain(Duration::from_millis(500)));
    let text = seen.join("\n");
    assert!(
        reached,
        "h1 never reaches h2 through the learning switch; app said:\n{text}\napp stderr:\n{}\nswitch log:\n{}",
        app.stderr(),
        fv.log()
    );
    assert!(!text.contains("ERROR"), "{text}");
    assert!(
        text.contains("PACKET_IN eth_type=0x0806"),
        "no ARP packet-in:\n{text}"
    );
    // Both directions learnt and installed.
    let flows = seen.iter().filter(|l| l.starts_with("FLOW ")).count();
    assert!(flows >= 2, "fewer than two flows installed:\n{text}");

    // With the flows in place the controller sees no more IPv4 packets.
    let out = h1
        .exec(&["ping", "-c", "5", "-i", "0.2", "-W", "1", "198.18.0.2"])
        .expect("ping over the installed flows");
    assert!(out.contains("5 received"), "{out}");
    let later = app.drain(Duration::from_millis(500));
    let ipv4_in: Vec<&String> = later
        .iter()
        .filter(|l| l.starts_with("PACKET_IN eth_type=0x0800"))
        .collect();
    assert!(
        ipv4_in.is_empty(),
        "IPv4 still goes to the controller with its flows installed: {ipv4_in:#?}"
    );
    let dump = fv.ofctl(&["-O", "OpenFlow13"], "dump-flows", "br0", &[]);
    let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
    let used = dump
        .lines()
        .filter(|l| l.contains("priority=1,") && !l.contains("n_packets=0,"))
        .count();
    assert!(used >= 2, "learnt flows unused:\n{dump}");
}

/// The `FLOWS <bridge> after ...` line of an app run.
fn after<'a>(lines: &'a [String], bridge: &str) -> &'a str {
    let p = format!("FLOWS {bridge} after ");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&p))
        .unwrap_or_else(|| panic!("no {p:?} in {lines:#?}"))
}

/// Runs one generation of the agent until it has cleaned both bridges.
fn agent(fv: &FerrovsVswitchd, cookie: &str, gen: &str) -> (OskenApp, Vec<String>) {
    let app = OskenApp::start(
        fv.netns(),
        fv.dir(),
        &format!("ferrovs-gen{gen}"),
        "osken_agent_restart.py",
        &[PORT, cookie, gen, "1", "2"],
    )
    .expect("start os-ken");
    let mut lines = Vec::new();
    let mut done = 0;
    while done < 2 {
        let l = app
            .next(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}\nso far: {lines:#?}\nlog:\n{}", fv.log()));
        assert!(!l.starts_with("ERROR"), "{l} after {lines:#?}");
        done += l.starts_with("DONE ") as usize;
        lines.push(l);
    }
    (app, lines)
}

#[test]
fn osken_agent_restart_replaces_flows_by_cookie_without_interruption() {
    let fv = FerrovsVswitchd::start().expect("start ferrovs");
    for (br, dpid) in [
        ("br-int", "0000000000000001"),
        ("br-tun", "0000000000000002"),
    ] {
        fv.vsctl_ok(&[
            "add-br",
            br,
            "--",
            "set",
            "bridge",
            br,
            "datapath_type=netdev",
            "protocols=OpenFlow13",
            "fail_mode=secure",
            &format!("other_config:datapath-id={dpid}"),
        ]);
    }
    fv.vsctl_ok(&[
        "add-port",
        "br-tun",
        "patch-int",
        "--",
        "set",
        "interface",
        "patch-int",
        "type=patch",
        "options:peer=patch-tun",
        "ofport_request=1",
        "--",
        "add-port",
        "br-int",
        "patch-tun",
        "--",
        "set",
        "interface",
        "patch-tun",
        "type=patch",
        "options:peer=patch-int",
    ]);
    let [(h1, _v1), _h2] = hosts(&fv, "br-int");
    fv.vsctl_ok(&["set-controller", "br-int", &controller()]);
    fv.vsctl_ok(&["set-controller", "br-tun", &controller()]);

    let (gen1, lines1) = agent(&fv, "1111", "1");
    assert_eq!(
        after(&lines1, "br-int"),
        "0:0:0x1111 0:2:0x1111 0:65535:0x1111 23:0:0x1111 24:0:0x1111 60:3:0x1111",
        "{lines1:#?}"
    );
    assert_eq!(
        after(&lines1, "br-tun"),
        "0:0:0x1111 0:1:0x1111 2:0:0x1111 20:0:0x1111 22:0:0x1111",
        "{lines1:#?}"
    );
    assert!(
        fv.wait_until(Duration::from_secs(20), || ping_once(&h1, "198.18.0.2")),
        "no ping through the agent's NORMAL flows\nlog:\n{}",
        fv.log()
    );

    // A steady ping while the agent restarts.
    let ping = Command::new(tool("ip"))
        .args([
            "netns",
            "exec",
            h1.name(),
            "ping",
            "-i",
            "0.02",
            "198.18.0.2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ping");
    let mut ping = Child(ping);
    std::thread::sleep(Duration::from_millis(500));
    drop(gen1);
    let (_gen2, lines2) = agent(&fv, "2222", "2");
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ping.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT ping");
    let out = finish(&mut ping.0);
    let text = lines2.join("\n");
    // The old flows were there, the one generation 2 dropped is gone, the
    // rest carry the new cookie.
    assert!(
        text.contains("FLOWS br-int before 0:0:0x2222 0:2:0x1111 0:2:0x2222 0:65535:0x2222"),
        "{text}"
    );
    assert!(text.contains("STALE br-int 0x1111"), "{text}");
    assert!(lines2.contains(&"STALE br-tun ".to_string()), "{text}");
    assert_eq!(
        after(&lines2, "br-int"),
        "0:0:0x2222 0:2:0x2222 0:65535:0x2222 23:0:0x2222 24:0:0x2222 60:3:0x2222",
        "{text}"
    );
    assert_eq!(
        after(&lines2, "br-tun"),
        "0:0:0x2222 0:1:0x2222 2:0:0x2222 20:0:0x2222 22:0:0x2222",
        "{text}"
    );
    let (sent, received) = ping_summary(&out);
    assert!(sent >= 50, "ping too short to span the restart:\n{out}");
    // SIGINT may cut the last echo in flight; nothing else may be lost.
    assert!(
        sent - received <= 1,
        "{} echo replies lost while the agent restarted:\n{out}",
        sent - received
    );
}

/// (transmitted, received) from ping's summary line.
fn ping_summary(out: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {out}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(2)
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

/// Waits for a process that was told to stop and returns its stdout.
fn finish(c: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut o) = c.stdout.take() {
        let _ = o.read_to_string(&mut s);
    }
    let _ = c.wait();
    s
}
