//! Debian's `ovs-vsctl --no-wait` against an OVSDB server.
//!
//! One scenario (init, add-br, add-port, set, get, list, find, remove,
//! clear, del-port, del-br, --may-exist/--if-exists, chained `--`
//! transactions, failing transactions and their messages) records a
//! transcript of every command: exit status, stdout, stderr, with UUIDs
//! replaced by `<uuid>`. The scenario asserts the expected results as it
//! goes (checked against Debian's server), and the ferrovs test requires
//! ferrovs's transcript to be identical to Debian's.

use ferrovs_tests::ovsdb_server::{normalize_uuids, Flavor, OvsdbServer};

struct Transcript<'a> {
    server: &'a OvsdbServer,
    text: String,
}

impl<'a> Transcript<'a> {
    fn new(server: &'a OvsdbServer) -> Self {
        Transcript {
            server,
            text: String::new(),
        }
    }

    /// Runs one ovs-vsctl command, records it; returns (rc, stdout, stderr).
    fn run_raw(&mut self, args: &[&str], sort_lines: bool) -> (i32, String, String) {
        let out = self.server.vsctl(args);
        let rc = out.status.code().unwrap_or(-1);
        let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if sort_lines {
            let mut lines: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
            lines.sort();
            stdout = lines.join("\n");
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        self.text.push_str(&format!(
            "$ ovs-vsctl {}\nrc={rc}\n{}--stderr--\n{}\n",
            args.join(" "),
            normalize_uuids(&stdout),
            normalize_uuids(&stderr)
        ));
        (rc, stdout, stderr)
    }

    fn ok(&mut self, args: &[&str]) -> String {
        let (rc, out, err) = self.run_raw(args, false);
        assert_eq!(
            rc,
            0,
            "{:?}: ovs-vsctl {} failed: {err}\nserver log:\n{}",
            self.server.flavor(),
            args.join(" "),
            self.server.log()
        );
        out
    }

    fn ok_sorted(&mut self, args: &[&str]) -> String {
        let (rc, out, err) = self.run_raw(args, true);
        assert_eq!(rc, 0, "ovs-vsctl {} failed: {err}", args.join(" "));
        out
    }

    /// The command must fail with exit status `rc` and a message containing
    /// `msg` on stderr.
    fn fails(&mut self, args: &[&str], rc: i32, msg: &str) {
        let (got, _, err) = self.run_raw(args, false);
        assert_eq!(
            got,
            rc,
            "{:?}: ovs-vsctl {}: expected exit {rc}, stderr: {err}",
            self.server.flavor(),
            args.join(" ")
        );
        assert!(
            err.contains(msg),
            "{:?}: ovs-vsctl {}: stderr {err:?} lacks {msg:?}",
            self.server.flavor(),
            args.join(" ")
        );
    }
}

fn scenario(server: &OvsdbServer) -> String {
    let mut t = Transcript::new(server);

    t.ok(&["init"]);
    t.ok(&["add-br", "br0"]);
    t.fails(
        &["add-br", "br0"],
        1,
        "cannot create a bridge named br0 because a bridge named br0 already exists",
    );
    t.ok(&["--may-exist", "add-br", "br0"]);
    // `show` prints bridges and ports in hash order: compare sorted lines.
    let show = t.ok_sorted(&["show"]);
    assert!(show.contains("Bridge br0"), "{show}");
    assert_eq!(t.ok(&["list-br"]), "br0\n");
    t.ok(&["br-exists", "br0"]);
    t.fails(&["br-exists", "nope"], 2, "");

    t.ok(&["add-port", "br0", "p1"]);
    t.ok(&[
        "add-port",
        "br0",
        "p2",
        "--",
        "set",
        "Interface",
        "p2",
        "type=internal",
    ]);
    t.fails(
        &["add-port", "br0", "p1"],
        1,
        "cannot create a port named p1 because a port named p1 already exists on bridge br0",
    );
    t.ok(&["--may-exist", "add-port", "br0", "p1"]);
    assert_eq!(t.ok(&["list-ports", "br0"]), "p1\np2\n");
    assert_eq!(t.ok(&["port-to-br", "p1"]), "br0\n");
    assert_eq!(t.ok(&["iface-to-br", "p2"]), "br0\n");

    // set / get on maps, scalars, sets.
    t.ok(&[
        "set",
        "Bridge",
        "br0",
        "external_ids:owner=test",
        "other_config:hwaddr=\"00:11:22:33:44:55\"",
        "fail_mode=standalone",
    ]);
    assert_eq!(
        t.ok(&["get", "Bridge", "br0", "external_ids:owner"]),
        "test\n"
    );
    assert_eq!(
        t.ok(&["get", "Bridge", "br0", "name", "fail_mode", "other_config"]),
        "br0\nstandalone\n{hwaddr=\"00:11:22:33:44:55\"}\n"
    );
    t.ok(&["set", "Port", "p1", "tag=10", "trunks=1,2,3"]);
    assert_eq!(
        t.ok(&["get", "Port", "p1", "tag", "trunks"]),
        "10\n[1, 2, 3]\n"
    );
    t.ok(&["remove", "Port", "p1", "trunks", "2"]);
    assert_eq!(t.ok(&["get", "Port", "p1", "trunks"]), "[1, 3]\n");
    t.ok(&["add", "Port", "p1", "trunks", "7"]);
    assert_eq!(t.ok(&["get", "Port", "p1", "trunks"]), "[1, 3, 7]\n");
    t.ok(&["clear", "Port", "p1", "trunks", "tag"]);
    assert_eq!(t.ok(&["get", "Port", "p1", "trunks", "tag"]), "[]\n[]\n");
    t.ok(&["remove", "Bridge", "br0", "external_ids", "owner"]);
    t.fails(
        &["get", "Bridge", "br0", "external_ids:owner"],
        1,
        "no key \"owner\" in Bridge record \"br0\" column external_ids",
    );
    assert_eq!(
        t.ok(&["--if-exists", "get", "Bridge", "br0", "external_ids:owner"]),
        "\n"
    );
    t.ok(&[
        "set",
        "Open_vSwitch",
        ".",
        "external_ids:system-id=fvs-test",
    ]);
    assert_eq!(
        t.ok(&["get", "Open_vSwitch", ".", "external_ids:system-id"]),
        "fvs-test\n"
    );

    // list / find.
    let list = t.ok(&["list", "Bridge", "br0"]);
    assert!(list.contains("name                : br0"), "{list}");
    assert!(
        list.contains("other_config        : {hwaddr=\"00:11:22:33:44:55\"}"),
        "{list}"
    );
    t.ok(&["list", "Port", "p1"]);
    t.ok(&["list", "Interface", "p2"]);
    t.ok(&["--columns=name,tag", "list", "Port", "p2"]);
    let found = t.ok(&["--columns=name", "find", "Port", "name=p1"]);
    assert_eq!(found, "name                : p1\n");
    assert_eq!(
        t.ok_sorted(&[
            "--bare",
            "--columns=name",
            "find",
            "Interface",
            "type=internal"
        ]),
        "br0\np2"
    );
    assert_eq!(
        t.ok(&["--bare", "--columns=name", "find", "Port", "tag=99"]),
        ""
    );

    // Records made with create and referenced by @name.
    t.ok(&[
        "--id=@q",
        "create",
        "QoS",
        "type=linux-htb",
        "other_config:max-rate=1000000",
        "--",
        "set",
        "Port",
        "p2",
        "qos=@q",
    ]);
    assert_eq!(
        t.ok(&["--bare", "--columns=type", "list", "QoS"]),
        "linux-htb\n"
    );
    t.ok(&["clear", "Port", "p2", "qos"]);
    // QoS is a root table: still there after the reference is cleared.
    assert_eq!(
        t.ok(&["--bare", "--columns=type", "list", "QoS"]),
        "linux-htb\n"
    );
    t.ok(&["--all", "destroy", "QoS"]);
    assert_eq!(t.ok(&["list", "QoS"]), "");

    // A multi-command transaction.
    t.ok(&[
        "add-br",
        "br1",
        "--",
        "add-port",
        "br1",
        "q1",
        "--",
        "set",
        "Port",
        "q1",
        "tag=5",
        "--",
        "set",
        "Bridge",
        "br1",
        "fail_mode=secure",
        "--",
        "br-set-external-id",
        "br1",
        "k",
        "v",
    ]);
    assert_eq!(t.ok(&["get", "Port", "q1", "tag"]), "5\n");
    assert_eq!(t.ok(&["br-get-external-id", "br1", "k"]), "v\n");
    assert_eq!(t.ok(&["list-br"]), "br0\nbr1\n");
    // A failing multi-command transaction changes nothing.
    t.fails(
        &["add-br", "br2", "--", "add-port", "br0", "p2"],
        1,
        "cannot create a port named p2 because a port named p2 already exists on bridge br0",
    );
    t.fails(&["br-exists", "br2"], 2, "");

    // Errors on unknown rows and columns.
    t.fails(
        &["set", "Bridge", "nope", "fail_mode=secure"],
        1,
        "no row \"nope\" in table Bridge",
    );
    t.fails(
        &["set", "Bridge", "br0", "nocolumn=1"],
        1,
        "Bridge does not contain a column whose name matches \"nocolumn\"",
    );
    t.fails(
        &["set", "Bridge", "br0", "fail_mode=bogus"],
        1,
        "constraint violation",
    );

    // Deletions and their --if-exists forms.
    t.ok(&["del-port", "br0", "p1"]);
    t.fails(&["del-port", "br0", "p1"], 1, "no port named p1");
    t.ok(&["--if-exists", "del-port", "br0", "p1"]);
    assert_eq!(t.ok(&["list-ports", "br0"]), "p2\n");
    // Garbage collection: the Interface of the deleted port is gone.
    assert_eq!(
        t.ok(&["--bare", "--columns=name", "find", "Interface", "name=p1"]),
        ""
    );
    t.ok(&["del-br", "br1"]);
    t.fails(&["del-br", "br1"], 1, "no bridge named br1");
    t.ok(&["--if-exists", "del-br", "br1"]);
    assert_eq!(
        t.ok(&["--bare", "--columns=name", "find", "Port", "name=q1"]),
        ""
    );
    assert_eq!(t.ok(&["list-br"]), "br0\n");
    t.ok_sorted(&["show"]);
    t.ok(&["emer-reset"]);
    t.ok(&["list", "Bridge", "br0"]);
    t.ok(&["del-br", "br0"]);
    assert_eq!(t.ok(&["list-br"]), "");
    assert_eq!(t.ok(&["--bare", "--columns=name", "list", "Interface"]), "");
    t.text
}

#[test]
fn vsctl_scenario_debian() {
    let s = OvsdbServer::debian().expect("start Debian ovsdb-server");
    scenario(&s);
}

/// The transcript is reproducible (so a difference against ferrovs means
/// a difference in the server, not noise in the test).
#[test]
fn vsctl_transcript_is_deterministic_on_debian() {
    let a = scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let b = scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    assert_same_transcript(&a, &b);
}

fn assert_same_transcript(debian: &str, ferrovs: &str) {
    if debian != ferrovs {
        let d: Vec<&str> = debian.lines().collect();
        let f: Vec<&str> = ferrovs.lines().collect();
        let first = d
            .iter()
            .zip(f.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(d.len().min(f.len()));
        let from = first.saturating_sub(8);
        panic!(
            "ferrovs differs from Debian at transcript line {first}:\n--- debian\n{}\n--- ferrovs\n{}",
            d[from..(first + 8).min(d.len())].join("\n"),
            f[from..(first + 8).min(f.len())].join("\n")
        );
    }
}

#[test]
fn vsctl_scenario_ferrovs_matches_debian() {
    let debian = scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server");
    let ferrovs = scenario(&f);
    assert_same_transcript(&debian, &ferrovs);
}

/// The same, with ferrovs serving a file made by `ovsdb-tool create`.
#[test]
fn vsctl_scenario_ferrovs_on_tool_created_db() {
    let debian = scenario(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
    let f = OvsdbServer::with_tool_db(Flavor::Ferrovs).expect("start ferrovs-ovsdb-server");
    let ferrovs = scenario(&f);
    assert_same_transcript(&debian, &ferrovs);
}

/// 8 ovs-vsctl processes add ports to the same bridge at once. Each one
/// verifies `Bridge.ports` (a `wait` operation) and retries on conflict;
/// every port must end up on the bridge exactly once.
fn concurrent_add_port(s: &OvsdbServer) {
    s.vsctl_ok(&["init", "--", "add-br", "br0"]);
    std::thread::scope(|scope| {
        for w in 0..8 {
            scope.spawn(move || {
                for k in 0..5 {
                    s.vsctl_ok(&["add-port", "br0", &format!("c{w}x{k}")]);
                }
            });
        }
    });
    let ports = s.vsctl_ok(&["list-ports", "br0"]);
    let mut want: Vec<String> = (0..8)
        .flat_map(|w| (0..5).map(move |k| format!("c{w}x{k}")))
        .collect();
    want.sort();
    let got: Vec<&str> = ports.lines().collect();
    assert_eq!(got, want, "{:?}", s.flavor());
    let ifaces = s.vsctl_ok(&["--bare", "--columns=name", "list", "Interface"]);
    assert_eq!(
        ifaces.lines().filter(|l| !l.is_empty()).count(),
        41,
        "{:?}: Interface rows: {ifaces}",
        s.flavor()
    );
}

#[test]
fn concurrent_add_port_debian() {
    concurrent_add_port(&OvsdbServer::debian().expect("start Debian ovsdb-server"));
}

#[test]
fn concurrent_add_port_ferrovs() {
    concurrent_add_port(&OvsdbServer::ferrovs().expect("start ferrovs-ovsdb-server"));
}
