//! Faults under `ferrovs up`: the switch killed with SIGKILL comes back
//! (restarted by the supervisor) with its bridges, ports and controllers
//! from the database and forwards again with no client action; the
//! database server killed: the switch keeps forwarding with its last
//! configuration and applies changes once the server is back.
//!
//! Traffic: two host namespaces on veth pairs whose other ends are system
//! ports of br0 (standalone: NORMAL switching), pinging 198.18.0.1 <-> .2;
//! the controller (a unix socket that counts connections) is on br1.

mod common;

use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Up;
use ferrovs_tests::{Netns, Veth};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn host(up: &Up, tag: &str, n: u8) -> (Netns, Veth) {
    let ns = Netns::new(tag).unwrap();
    let v = Veth::new(tag).unwrap();
    v.attach_b(&ns, &format!("198.18.0.{n}/24")).unwrap();
    let out = std::process::Command::new("ip")
        .args(["link", "set", &v.a, "netns", up.netns.name()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    up.netns.exec(&["ip", "link", "set", &v.a, "up"]).unwrap();
    (ns, v)
}

/// Two hosts on br0; returns them (kept alive by the caller).
fn topology(up: &Up) -> [(Netns, Veth); 2] {
    let h1 = host(up, "h1", 1);
    let h2 = host(up, "h2", 2);
    up.ovs_ok("ovs-vsctl", &["add-br", "br0"]);
    up.ovs_ok(
        "ovs-vsctl",
        &["add-port", "br0", &h1.1.a, "--", "add-port", "br0", &h2.1.a],
    );
    [h1, h2]
}

fn pings(h1: &Netns) -> bool {
    h1.exec(&["ping", "-c", "1", "-W", "1", "198.18.0.2"])
        .is_ok()
}

fn assert_forwards(up: &Up, h1: &Netns, when: &str) {
    assert!(
        up.wait_until(Duration::from_secs(15), || pings(h1)),
        "no ping {when}\n{}",
        up.log()
    );
}

/// Waits until daemon `name` runs under a pid other than `old` and serves.
fn wait_new_pid(up: &Up, name: &str, old: i32) -> i32 {
    let mut new = old;
    assert!(
        up.wait_until(Duration::from_secs(20), || {
            new = up.pid_of(name).unwrap_or(old);
            new != old && up.rundir().join(format!("{name}.{new}.ctl")).exists()
        }),
        "{name} not restarted\n{}",
        up.log()
    );
    new
}

#[test]
fn switch_killed_comes_back_from_the_database() {
    let up = Up::start();
    let [(h1, v1), (_h2, v2)] = topology(&up);
    // A controller on a unix socket that counts the switch's connections.
    let sock = up.rundir().join("ctl.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let c2 = conns.clone();
    std::thread::spawn(move || {
        let mut keep = Vec::new();
        for s in listener.incoming() {
            let Ok(s) = s else { break };
            c2.fetch_add(1, Ordering::SeqCst);
            keep.push(s);
        }
    });
    // On a bridge of its own: a controller on br0 would take br0 out of
    // fail-open NORMAL switching (as in OVS) and the test is about both.
    up.ovs_ok("ovs-vsctl", &["add-br", "br1"]);
    up.ovs_ok(
        "ovs-vsctl",
        &["set-controller", "br1", &format!("unix:{}", sock.display())],
    );
    assert!(
        up.wait_until(Duration::from_secs(10), || conns.load(Ordering::SeqCst)
            >= 1)
    );
    assert_forwards(&up, &h1, "before the kill");
    let ports_before = up.ovs_ok("ovs-vsctl", &["--columns=name,ofport", "list", "Interface"]);

    let old = up.pid_of("ovs-vswitchd").unwrap();
    let before = conns.load(Ordering::SeqCst);
    kill(Pid::from_raw(old), Signal::SIGKILL).unwrap();
    let new = wait_new_pid(&up, "ovs-vswitchd", old);
    assert_ne!(new, old);

    // Bridges and ports from the database, with the same OpenFlow ports.
    let mut show = String::new();
    let back = up.wait_until(Duration::from_secs(15), || {
        let out = up.ovs("ovs-ofctl", &["-O", "OpenFlow13", "show", "br0"]);
        show = String::from_utf8_lossy(&out.stdout).into_owned();
        show.contains(&format!("({})", v1.a)) && show.contains(&format!("({})", v2.a))
    });
    assert!(back, "{show}\n{}", up.log());
    assert!(up.wait_until(Duration::from_secs(10), || {
        up.ovs_ok("ovs-vsctl", &["--columns=name,ofport", "list", "Interface"]) == ports_before
    }));
    // The controller is connected to again, and traffic flows by itself.
    assert!(
        up.wait_until(Duration::from_secs(15), || conns.load(Ordering::SeqCst)
            > before),
        "controller not reconnected\n{}",
        up.log()
    );
    assert_forwards(&up, &h1, "after the switch came back");
    assert!(up
        .ovs_ok("ovs-appctl", &["version"])
        .contains("ferrovs-vswitchd"));
}

#[test]
fn switch_forwards_while_the_database_is_away() {
    let up = Up::start();
    let [(h1, _v1), (_h2, _v2)] = topology(&up);
    assert_forwards(&up, &h1, "at first");
    // The datapath's view of that traffic, through the short names.
    let stats = up.ferrovs_ok(&["appctl", "pmd-stats"]);
    let rx: u64 = stats
        .lines()
        .find_map(|l| l.trim().strip_prefix("packets received: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{stats}"));
    assert!(rx > 0, "{stats}");
    let flows = up.ferrovs_ok(&["appctl", "dump-dpflows"]);
    assert!(
        flows
            .lines()
            .any(|l| l.contains("eth_type(0x0800)") && l.contains("actions:")),
        "{flows}"
    );
    let sup = Pid::from_raw(up.child.as_ref().unwrap().id() as i32);
    let db = up.pid_of("ovsdb-server").unwrap();
    // Hold the supervisor so that the server stays away.
    kill(sup, Signal::SIGSTOP).unwrap();
    kill(Pid::from_raw(db), Signal::SIGKILL).unwrap();
    let gone = up.wait_until(Duration::from_secs(5), || {
        !std::path::Path::new(&format!("/proc/{db}/cmdline")).exists()
            || std::fs::read_to_string(format!("/proc/{db}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
    });
    assert!(gone);
    for _ in 0..3 {
        assert!(
            pings(&h1),
            "no forwarding without the database\n{}",
            up.log()
        );
    }
    assert!(up
        .ovs_ok("ovs-appctl", &["version"])
        .contains("ferrovs-vswitchd"));
    // The supervisor restarts the server; a change made then reaches the switch
    // (ovs-vsctl waits until the switch has applied it).
    kill(sup, Signal::SIGCONT).unwrap();
    wait_new_pid(&up, "ovsdb-server", db);
    up.ovs_ok(
        "ovs-vsctl",
        &[
            "--timeout=30",
            "add-port",
            "br0",
            "p9",
            "--",
            "set",
            "Interface",
            "p9",
            "type=dummy",
            "ofport_request=9",
        ],
    );
    let show = up.ovs_ok("ovs-ofctl", &["-O", "OpenFlow13", "show", "br0"]);
    assert!(show.contains("9(p9)"), "{show}");
    assert_forwards(&up, &h1, "after the database came back");
}
