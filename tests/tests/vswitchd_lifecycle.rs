//! ferrovs-vswitchd's life: the database server restarts under a running
//! switch (the switch keeps serving, reconnects and catches up), SIGTERM
//! ends it cleanly (exit status 0, pid file and sockets removed), and
//! `--detach` returns once the switch is ready.

use std::process::Command;
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovsdb_server::OvsdbServer;
use ferrovs_tests::{ferrovs_bin, tool};

const ADD_BR: &[&str] = &[
    "add-br",
    "br0",
    "--",
    "set",
    "bridge",
    "br0",
    "datapath_type=netdev",
];

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn database_restart() {
    let mut fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(ADD_BR);
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        "p1",
        "--",
        "set",
        "Interface",
        "p1",
        "type=dummy",
    ]);

    fv.db().kill9();
    // The switch keeps running: unixctl and OpenFlow still answer.
    assert_eq!(stdout(&fv.appctl(&["ofproto/list"])), "br0\n");
    let show = fv.ofctl(&["-O", "OpenFlow13"], "show", "br0", &[]);
    assert!(
        stdout(&show).contains("OFPT_FEATURES_REPLY (OF1.3)"),
        "{show:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stdout(&fv.appctl(&["ofproto/list"])), "br0\n");

    fv.db().restart().unwrap();
    // Caught up: a change made now (ovs-vsctl waits for the switch) takes
    // effect, and what was there before is untouched.
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        "p2",
        "--",
        "set",
        "Interface",
        "p2",
        "type=dummy",
    ]);
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", "p2", "ofport"]).trim(),
        "2"
    );
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", "p1", "ofport"]).trim(),
        "1"
    );
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", "p1", "mac_in_use"])
            .trim(),
        "\"aa:55:aa:55:00:00\""
    );
    assert!(
        fv.log().contains("database connection lost"),
        "{}",
        fv.log()
    );
}

#[test]
fn sigterm_cleans_up() {
    let mut fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(ADD_BR);
    let mgmt = fv.mgmt_socket("br0");
    assert!(mgmt.exists());
    assert!(fv.pidfile().exists());
    let pid: u32 = std::fs::read_to_string(fv.pidfile())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(Some(pid), fv.pid());
    let st = fv.sigterm().unwrap();
    assert!(st.success(), "exit status {st}; log:\n{}", fv.log());
    assert!(!fv.pidfile().exists());
    assert!(!fv.ctl_path().exists());
    assert!(!mgmt.exists());
    // Started again on the same database, it rebuilds the bridge.
    fv.start_switch().unwrap();
    fv.wait_for(&mgmt).unwrap();
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        "p1",
        "--",
        "set",
        "Interface",
        "p1",
        "type=dummy",
    ]);
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", "p1", "ofport"]).trim(),
        "1"
    );
}

/// Kills a detached switch by pid on drop (if the test failed before it
/// stopped it).
struct Pid(u32);
impl Drop for Pid {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0 as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn detach() {
    let db = OvsdbServer::ferrovs().unwrap();
    assert!(db.vsctl(&["init"]).status.success());
    let dir = db.dir();
    let ctl = dir.join("detached.ctl");
    let pidfile = dir.join("detached.pid");
    let st = Command::new(ferrovs_bin("ferrovs-vswitchd"))
        .arg(db.remote())
        .arg("--detach")
        .arg(format!("--pidfile={}", pidfile.display()))
        .arg(format!("--unixctl={}", ctl.display()))
        .arg(format!("--log-file={}", dir.join("detached.log").display()))
        .env("FERROVS_RUNDIR", dir)
        .status()
        .unwrap();
    assert!(st.success());
    // Ready when the parent returned: pid file and socket exist already.
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _guard = Pid(pid);
    assert!(ctl.exists());
    let out = Command::new(tool("ovs-appctl"))
        .arg("-t")
        .arg(&ctl)
        .arg("exit")
        .output()
        .unwrap();
    assert!(out.status.success());
    let gone = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err()
    });
    assert!(gone, "detached switch {pid} still running after exit");
    assert!(!pidfile.exists());
}

/// With the database gone (the switch retrying its connection), SIGTERM
/// still ends the switch at once and cleanly.
#[test]
fn sigterm_with_database_down() {
    let mut fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(ADD_BR);
    fv.db().kill9();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = std::time::Instant::now();
    let st = fv.sigterm().unwrap();
    assert!(st.success(), "exit status {st}; log:\n{}", fv.log());
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(!fv.mgmt_socket("br0").exists());
    assert!(!fv.pidfile().exists());
}
