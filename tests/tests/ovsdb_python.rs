//! The python `ovs` IDL (what ovsdbapp and Neutron use) against a server:
//! initial sync, insert (a bridge with its port and interface, with named
//! UUIDs and a verify), update, and change notifications for changes made
//! by `ovs-vsctl` meanwhile. The script is `tests/python/ovsdb_idl_check.py`;
//! this test drives it line by line and checks its writes with ovs-vsctl.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferrovs_tests::ovsdb_server::{Flavor, OvsdbServer};
use ferrovs_tests::{python, spawn_lines, Child};

struct Script {
    _child: Child,
    lines: mpsc::Receiver<String>,
    flavor: Flavor,
}

impl Script {
    fn start(s: &OvsdbServer, extra: &[&str]) -> Script {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ovsdb_idl_check.py");
        let (child, lines) = spawn_lines(
            Command::new(python())
                .arg("-W")
                .arg("ignore")
                .arg(&script)
                .arg(s.remote())
                .args(extra)
                .stderr(Stdio::inherit()),
        )
        .expect("spawn python");
        Script {
            _child: child,
            lines,
            flavor: s.flavor(),
        }
    }

    /// The next line of the script; it must start with `prefix`.
    fn expect(&self, prefix: &str) -> String {
        match self.lines.recv_timeout(Duration::from_secs(15)) {
            Ok(l) if l.starts_with(prefix) => l,
            Ok(l) => panic!(
                "{:?}: python IDL said {l:?}, expected {prefix:?}",
                self.flavor
            ),
            Err(e) => panic!(
                "{:?}: python IDL said nothing while expecting {prefix:?} ({e})",
                self.flavor
            ),
        }
    }
}

fn idl_scenario(s: &OvsdbServer) -> Script {
    idl_scenario_with(s, &[])
}

fn idl_scenario_with(s: &OvsdbServer, extra: &[&str]) -> Script {
    s.vsctl_ok(&["init", "--", "add-br", "br0"]);
    let py = Script::start(s, extra);
    assert_eq!(py.expect("INITIAL"), "INITIAL br0");
    let inserted = py.expect("INSERTED ");
    let uuid = inserted.trim_start_matches("INSERTED ").to_string();
    py.expect("UPDATED");
    py.expect("READY");

    // What the IDL wrote is what ovs-vsctl reads.
    assert_eq!(
        s.vsctl_ok(&["get", "Bridge", "br-py", "_uuid"]).trim(),
        uuid
    );
    assert_eq!(
        s.vsctl_ok(&["get", "Bridge", "br-py", "external_ids", "fail_mode"]),
        "{py=yes}\nsecure\n"
    );
    assert_eq!(
        s.vsctl_ok(&["get", "Interface", "br-py", "type"]),
        "internal\n"
    );
    assert_eq!(s.vsctl_ok(&["list-br"]), "br-py\nbr0\n");
    let port = s.vsctl_ok(&["get", "Port", "br-py", "_uuid"]);
    assert_eq!(
        s.vsctl_ok(&["get", "Bridge", "br-py", "ports"]),
        format!("[{}]\n", port.trim())
    );

    // Changes by someone else reach the IDL as row events.
    s.vsctl_ok(&["add-br", "br-ext"]);
    assert_eq!(py.expect("EVENT"), "EVENT create Bridge br-ext ");
    s.vsctl_ok(&["set", "Bridge", "br0", "external_ids:touch=1"]);
    assert_eq!(py.expect("EVENT"), "EVENT update Bridge br0 external_ids");
    s.vsctl_ok(&["del-br", "br-ext"]);
    assert_eq!(py.expect("EVENT"), "EVENT delete Bridge br-ext ");
    py.expect("DONE");
    py
}

/// The server is killed and restarted under a connected IDL: the IDL
/// reconnects (with its backoff), resynchronises, and sees new changes.
fn reconnect_scenario(mut s: OvsdbServer) {
    let py = idl_scenario_with(&s, &["--reconnect"]);
    py.expect("RESTART");
    s.kill9();
    s.restart().expect("restart server");
    s.vsctl_ok(&["add-br", "br-after"]);
    assert_eq!(py.expect("RESYNCED"), "RESYNCED br-after br-py br0");
}

#[test]
fn python_idl_reconnect_debian() {
    reconnect_scenario(OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn python_idl_reconnect_ferrovs() {
    reconnect_scenario(OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
}

#[test]
fn python_idl_debian() {
    idl_scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn python_idl_ferrovs() {
    idl_scenario(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
}
