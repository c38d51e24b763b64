//! `ferrovs up` from an empty directory, driven by Debian's OVS tools,
//! stopped with SIGTERM and started again with its state kept.

mod common;

use common::Up;

#[test]
fn up_from_empty_dir_serves_ovs_tools_and_keeps_state_over_restart() {
    let mut up = Up::start();
    let run = up.rundir();
    // The banner names the sockets and how to point the tools at them.
    let banner = up.banner.join("\n");
    assert!(banner.contains("(created)"), "{banner}");
    assert!(
        banner.contains(&format!("unix:{}/db.sock", run.display())),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("export OVS_RUNDIR={}", run.display())),
        "{banner}"
    );
    assert!(up.db().is_file());
    for f in ["db.sock", "ovs-vswitchd.pid", "ovsdb-server.pid"] {
        assert!(run.join(f).exists(), "{f} missing");
    }

    // The Open_vSwitch row exists: ovs-vsctl works without `init`.
    up.ovs_ok("ovs-vsctl", &["add-br", "br0"]);
    up.ovs_ok(
        "ovs-vsctl",
        &[
            "add-port",
            "br0",
            "p1",
            "--",
            "set",
            "Interface",
            "p1",
            "type=dummy",
            "ofport_request=1",
        ],
    );
    up.ovs_ok(
        "ovs-vsctl",
        &[
            "add-port",
            "br0",
            "int1",
            "--",
            "set",
            "Interface",
            "int1",
            "type=internal",
        ],
    );
    up.ovs_ok("ovs-vsctl", &["set-controller", "br0", "unix:ctl.sock"]);
    up.ovs_ok(
        "ovs-ofctl",
        &[
            "add-flow",
            "br0",
            "priority=7,ip,nw_dst=198.18.0.9,actions=output:1",
        ],
    );
    let flows = up.ovs_ok("ovs-ofctl", &["dump-flows", "br0"]);
    assert!(
        flows.contains("priority=7,ip,nw_dst=198.18.0.9 actions=output:1"),
        "{flows}"
    );
    assert!(up
        .ovs_ok("ovs-appctl", &["version"])
        .contains("ferrovs-vswitchd"));
    assert!(up
        .ovs_ok("ovs-appctl", &["-t", "ovsdb-server", "version"])
        .contains("ferrovs-ovsdb-server"));
    let show = up.ovs_ok("ovs-vsctl", &["show"]);
    let ports = up.ovs_ok("ovs-vsctl", &["list-ports", "br0"]);
    assert_eq!(ports, "int1\np1\n");

    let st = up.sigterm();
    assert!(st.success(), "exit {st:?}\n{}", up.log());
    assert!(up.more_lines().iter().any(|l| l.contains("stopped")));
    // Sockets and pid files are gone; the database stays.
    for f in [
        "db.sock",
        "ovs-vswitchd.pid",
        "ovsdb-server.pid",
        "br0.mgmt",
    ] {
        assert!(!run.join(f).exists(), "{f} left behind");
    }

    up.launch();
    assert!(!up.banner.join("\n").contains("(created)"));
    assert_eq!(
        up.ovs_ok("ovs-vsctl", &["show"]),
        show,
        "state after restart"
    );
    assert_eq!(
        up.ovs_ok("ovs-vsctl", &["get", "Interface", "p1", "ofport"]),
        "1\n"
    );
    // The bridge is back on its management socket (flows, as in OVS, are not kept).
    let flows = up.ovs_ok("ovs-ofctl", &["dump-flows", "br0"]);
    assert!(!flows.contains("priority=7"), "{flows}");
}

#[test]
fn a_second_up_on_the_same_rundir_is_refused() {
    let up = Up::start();
    let out = std::process::Command::new(common::ferrovs())
        .args(["up", "--rundir"])
        .arg(up.rundir())
        .arg("--db")
        .arg(up.dir.path().join("other.db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
}

#[test]
fn sigterm_right_after_commits_loses_nothing_acknowledged() {
    let mut up = Up::start();
    // Each ovs-vsctl returns once the server acknowledged its transaction.
    for i in 0..20 {
        up.ovs_ok(
            "ovs-vsctl",
            &[
                "--no-wait",
                "add-br",
                &format!("b{i}"),
                "--",
                "set",
                "Bridge",
                &format!("b{i}"),
                &format!("external_ids:n={i}"),
            ],
        );
    }
    let st = up.sigterm();
    assert!(st.success(), "{}", up.log());
    up.launch();
    let brs = up.ovs_ok("ovs-vsctl", &["--no-wait", "list-br"]);
    let mut want: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    want.sort();
    assert_eq!(
        brs,
        want.iter().map(|b| format!("{b}\n")).collect::<String>()
    );
    assert_eq!(
        up.ovs_ok("ovs-vsctl", &["get", "Bridge", "b19", "external_ids:n"]),
        "\"19\"\n"
    );
}

#[test]
fn dummy_ports_create_nothing_on_the_host() {
    let up = Up::start_with(&["--dummy-ports"]);
    up.ferrovs_ok(&[
        "vsctl",
        "add-br",
        "br0",
        "--",
        "add-port",
        "br0",
        "i1",
        "--",
        "set",
        "Interface",
        "i1",
        "type=internal",
    ]);
    let show = up.ferrovs_ok(&["ofctl", "show", "br0"]);
    assert!(
        show.contains("(i1)") && show.contains("LOCAL(br0)"),
        "{show}"
    );
    // The switch's namespace holds only its loopback.
    let links = up.netns.exec(&["ip", "-o", "link"]).unwrap();
    assert_eq!(links.lines().count(), 1, "{links}");
}

/// Whether `pid` runs (a zombie waiting for its reaper does not).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z'))
}

#[test]
fn a_sigkilled_supervisor_takes_its_children_and_up_starts_again() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::time::Duration;
    let mut up = Up::start();
    up.ovs_ok("ovs-vsctl", &["add-br", "br0"]);
    let kids: Vec<i32> = ["ovs-vswitchd", "ovsdb-server"]
        .iter()
        .map(|n| up.pid_of(n).expect("pid file"))
        .collect();
    assert!(kids.iter().all(|&k| running(k)));
    let mut sup = up.child.take().unwrap();
    kill(Pid::from_raw(sup.id() as i32), Signal::SIGKILL).unwrap();
    sup.wait().unwrap();
    // The children get SIGTERM from the kernel and stop by themselves.
    assert!(
        up.wait_until(Duration::from_secs(15), || kids
            .iter()
            .all(|&k| !running(k))),
        "children {kids:?} outlived the supervisor:\n{}",
        up.log()
    );
    // A new `up` on the same run directory starts, with the state kept.
    up.launch();
    up.ovs_ok("ovs-vsctl", &["br-exists", "br0"]);
    for (n, old) in ["ovs-vswitchd", "ovsdb-server"].iter().zip(&kids) {
        let new = up.pid_of(n).unwrap();
        assert_ne!(new, *old, "{n}");
        assert!(running(new), "{n}");
    }
}

#[test]
fn up_stops_a_child_an_earlier_supervisor_left_behind() {
    use std::time::Duration;
    let mut up = Up::prepare(&[]);
    std::fs::create_dir_all(up.rundir()).unwrap();
    // A database child with no supervisor (as one left by a supervisor
    // killed before children asked for the parent-death signal): its
    // parent is this test, not a `ferrovs up`.
    let mut orphan = std::process::Command::new(common::ferrovs())
        .arg("serve-db")
        .arg("--rundir")
        .arg(up.rundir())
        .arg("--db")
        .arg(up.db())
        .env_remove("FERROVS_SUPERVISOR_PID")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sock = up.rundir().join("db.sock");
    assert!(up.wait_until(Duration::from_secs(20), || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    }));
    let pid = orphan.id() as i32;
    assert_eq!(up.pid_of("ovsdb-server"), Some(pid));
    // A stale pid file of a switch that is long gone.
    std::fs::write(up.rundir().join("ovs-vswitchd.pid"), "999999999\n").unwrap();
    up.launch();
    // Stopped by the new `up` (and reaped here, by its parent).
    assert!(!running(pid));
    orphan.wait().unwrap();
    let log = up.log();
    assert!(log.contains("outlived its supervisor"), "{log}");
    assert!(log.contains("removing the stale"), "{log}");
    assert_ne!(up.pid_of("ovsdb-server"), Some(pid));
    up.ovs_ok("ovs-vsctl", &["add-br", "br1"]);
}
