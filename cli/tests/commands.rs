//! `ferrovs vsctl`, `ofctl`, `appctl` and `completion` against a running
//! `ferrovs up`, each compared with Debian's tool on the same switch:
//! same stdout, same error text (after the program name), same exit status.

mod common;

use common::Up;

/// Runs `ferrovs SUB ARGS` and `TOOL ARGS` (TOOL's extra leading options
/// in `ovs_opts`) and asserts they agree; durations and ages, which move
/// between the two runs, are blanked.
fn same(up: &Up, sub: &str, tool: &str, ovs_opts: &[&str], args: &[&str]) {
    let ours = up.ferrovs(&[&[sub], args].concat());
    let theirs = up.ovs(tool, &[ovs_opts, args].concat());
    let norm = |b: &[u8]| -> String {
        let s = String::from_utf8_lossy(b).into_owned();
        s.lines()
            .filter(|l| !l.starts_with("OFPST_FLOW reply") && !l.starts_with("NXST_FLOW reply"))
            .map(|l| {
                l.split(", ")
                    .map(|f| {
                        if f.starts_with("duration=") || f.starts_with("idle_age=") {
                            "_"
                        } else {
                            f
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
                    .replace(&format!("ferrovs {sub}:"), &format!("{tool}:"))
            })
            .map(|l| {
                // `duration=1.234s` inside port stats lines.
                match l.find("duration=") {
                    Some(i) => format!("{}duration=_", &l[..i]),
                    None => l,
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let what = format!("{sub} {args:?}");
    assert_eq!(norm(&ours.stdout), norm(&theirs.stdout), "stdout of {what}");
    assert_eq!(norm(&ours.stderr), norm(&theirs.stderr), "stderr of {what}");
    assert_eq!(ours.status.code(), theirs.status.code(), "exit of {what}");
}

#[test]
fn vsctl_prints_as_ovs_vsctl() {
    let up = Up::start();
    // Changes made by ferrovs vsctl, read by both.
    up.ferrovs_ok(&["vsctl", "add-br", "br0"]);
    up.ferrovs_ok(&[
        "vsctl",
        "add-port",
        "br0",
        "p1",
        "tag=10",
        "--",
        "set",
        "Interface",
        "p1",
        "type=dummy",
        "options:a=b",
        "ofport_request=3",
    ]);
    up.ferrovs_ok(&[
        "vsctl",
        "add-port",
        "br0",
        "p 2",
        "trunks=1,2",
        "--",
        "set",
        "Interface",
        "p 2",
        "type=internal",
    ]);
    up.ferrovs_ok(&["vsctl", "set-controller", "br0", "tcp:198.18.0.250:6653"]);
    up.ferrovs_ok(&["vsctl", "set-fail-mode", "br0", "secure"]);
    up.ferrovs_ok(&["vsctl", "--may-exist", "add-br", "br0"]);
    up.ferrovs_ok(&["vsctl", "--may-exist", "add-port", "br0", "p1"]);
    up.ferrovs_ok(&["vsctl", "add-br", "br1"]);
    up.ferrovs_ok(&[
        "vsctl",
        "set",
        "Bridge",
        "br1",
        "other_config:x=1",
        "external_ids:k=v",
    ]);
    up.ferrovs_ok(&["vsctl", "remove", "Bridge", "br1", "other_config", "x"]);
    up.ferrovs_ok(&["vsctl", "clear", "Bridge", "br1", "external_ids"]);
    for args in [
        &["show"][..],
        &["list-br"],
        &["list-ports", "br0"],
        &["list", "Bridge", "br1"],
        &["list", "Interface", "p1"],
        &["list", "Port", "p 2"],
        &["--columns=name,ofport", "list", "Interface", "p1"],
        &[
            "get",
            "Bridge",
            "br0",
            "name",
            "fail_mode",
            "ports",
            "other_config",
        ],
        &["get", "Interface", "p1", "options:a", "type", "ofport"],
        &["get", "Port", "p1", "tag"],
        &["get-controller", "br0"],
        &["get-fail-mode", "br0"],
        &["br-exists", "br0"],
        &["br-exists", "nobr"],
        // Errors: each names the bad token.
        &["add-br", "br0"],
        &["add-port", "br0", "p1"],
        &["add-port", "nobr", "px"],
        &["del-port", "br0", "nope"],
        &["del-port", "br0", "br0"],
        &["del-br", "nobr"],
        &["list-ports", "nobr"],
        &["get", "Bridge", "nob", "name"],
        &["get", "Interface", "p1", "options:zz"],
        &["set", "Bridge", "br0", "nocol=1"],
        &["set", "Bridge", "br0", "stp_enable=maybe"],
        &["set", "Port", "p1", "tag=x"],
        &["list", "NoTable"],
        &["no-such-command"],
        // --if-exists turns the misses into no-ops.
        &["--if-exists", "del-br", "nobr"],
        &["--if-exists", "del-port", "nope"],
        &["--if-exists", "get", "Interface", "p1", "options:zz"],
    ] {
        same(&up, "vsctl", "ovs-vsctl", &[], args);
    }
    // Deletions by ferrovs, seen by both.
    up.ferrovs_ok(&["vsctl", "del-port", "br0", "p 2"]);
    up.ferrovs_ok(&["vsctl", "del-br", "br1"]);
    up.ferrovs_ok(&["vsctl", "del-controller", "br0"]);
    same(&up, "vsctl", "ovs-vsctl", &[], &["show"]);
    // The switch applied every change before vsctl returned (it waits for cur_cfg).
    let ports = up.ovs_ok("ovs-ofctl", &["-O", "OpenFlow13", "show", "br0"]);
    assert!(ports.contains("3(p1)") && !ports.contains("p 2"), "{ports}");
}

#[test]
fn ofctl_prints_as_ovs_ofctl() {
    let up = Up::start();
    up.ovs_ok(
        "ovs-vsctl",
        &[
            "add-br",
            "br0",
            "--",
            "set",
            "Bridge",
            "br0",
            "fail_mode=secure",
        ],
    );
    for (i, p) in ["p1", "p2"].iter().enumerate() {
        up.ovs_ok(
            "ovs-vsctl",
            &[
                "add-port",
                "br0",
                p,
                "--",
                "set",
                "Interface",
                p,
                "type=dummy",
                &format!("ofport_request={}", i + 1),
            ],
        );
    }
    up.ferrovs_ok(&[
        "ofctl",
        "add-flow",
        "br0",
        "priority=100,ip,nw_dst=198.18.0.1,actions=output:1",
    ]);
    up.ferrovs_ok(&[
        "ofctl",
        "add-flow",
        "br0",
        "table=1,cookie=0x5,idle_timeout=60,tcp,tp_dst=80,actions=drop",
    ]);
    let file = up.dir.path().join("flows.txt");
    std::fs::write(
        &file,
        "# comment\npriority=5,arp,actions=NORMAL\n\nin_port=2,actions=output:1\n",
    )
    .unwrap();
    up.ferrovs_ok(&["ofctl", "add-flows", "br0", file.to_str().unwrap()]);
    up.ovs_ok(
        "ovs-ofctl",
        &[
            "-O",
            "OpenFlow13",
            "add-group",
            "br0",
            "group_id=1,type=all,bucket=output:1,bucket=output:2",
        ],
    );
    for v in ["OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"] {
        for args in [
            &["dump-flows", "br0"][..],
            &["dump-flows", "br0", "ip"],
            &["show", "br0"],
            &["dump-ports", "br0"],
            &["dump-ports", "br0", "1"],
        ] {
            same(
                &up,
                "ofctl",
                "ovs-ofctl",
                &["-O", v],
                &[&["-O", v][..], args].concat(),
            );
        }
    }
    same(
        &up,
        "ofctl",
        "ovs-ofctl",
        &[],
        &["-O", "OpenFlow13", "dump-groups", "br0"],
    );

    up.ferrovs_ok(&[
        "ofctl",
        "mod-flows",
        "br0",
        "ip,nw_dst=198.18.0.1,actions=output:2",
    ]);
    up.ferrovs_ok(&["ofctl", "--strict", "del-flows", "br0", "priority=5,arp"]);
    up.ferrovs_ok(&["ofctl", "del-flows", "br0", "table=1"]);
    let flows = up.ferrovs_ok(&["ofctl", "dump-flows", "br0"]);
    assert!(
        flows.contains("priority=100,ip,nw_dst=198.18.0.1 actions=output:2"),
        "{flows}"
    );
    assert!(
        !flows.contains("arp") && !flows.contains("table=1"),
        "{flows}"
    );
    same(
        &up,
        "ofctl",
        "ovs-ofctl",
        &[],
        &["-O", "OpenFlow13", "dump-flows", "br0"],
    );
    up.ferrovs_ok(&["ofctl", "del-flows", "br0"]);
    assert_eq!(up.ferrovs_ok(&["ofctl", "dump-flows", "br0"]), "");

    // Errors name the bad token and exit non-zero.
    for (args, token) in [
        (
            &["add-flow", "br0", "ip,nw_dst=198.18.0.300,actions=drop"][..],
            "198.18.0.300",
        ),
        (&["add-flow", "br0", "ip,actions=output:bogus"], "bogus"),
        (
            &["add-flow", "br0", "nosuchfield=1,actions=drop"],
            "nosuchfield",
        ),
        (&["add-flow", "br0", "ip"], "must specify an action"),
        (&["dump-flows", "nobr"], "nobr.mgmt"),
        (&["frobnicate", "br0"], "frobnicate"),
    ] {
        let out = up.ferrovs(&[&["ofctl"][..], args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(token), "{args:?}: {err}");
    }
    // A flow the switch refuses: its OFPT_ERROR, printed.
    let out = up.ferrovs(&["ofctl", "add-flow", "br0", "actions=group:99"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("OFPT_ERROR")
            && (err.contains("OFPGMFC_UNKNOWN_GROUP") || err.contains("OFPBAC_BAD_OUT_GROUP")),
        "{err}"
    );
}

#[test]
fn appctl_reaches_both_daemons() {
    let up = Up::start();
    up.ovs_ok("ovs-vsctl", &["add-br", "br0"]);
    for args in [
        &["version"][..],
        &["-t", "ovsdb-server", "version"],
        &["ofproto/list"],
        &["fdb/show", "br0"],
        &[
            "ofproto/trace",
            "br0",
            "in_port=LOCAL,dl_dst=ff:ff:ff:ff:ff:ff",
        ],
        &["no/such-command"],
        &["fdb/show", "nobr"],
    ] {
        same(&up, "appctl", "ovs-appctl", &[], args);
    }
    // Short names.
    assert_eq!(
        up.ferrovs_ok(&["appctl", "trace", "br0", "in_port=LOCAL"]),
        up.ferrovs_ok(&["appctl", "ofproto/trace", "br0", "in_port=LOCAL"])
    );
    assert_eq!(
        up.ferrovs_ok(&["appctl", "fdb", "br0"]),
        up.ovs_ok("ovs-appctl", &["fdb/show", "br0"])
    );
    let out = up.ferrovs(&["appctl", "-t", "nosuchd", "version"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchd.pid"));
}

#[test]
fn completion_script_for_bash() {
    let out = std::process::Command::new(common::ferrovs())
        .args(["completion", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    for w in [
        "_ferrovs()",
        "complete -F _ferrovs",
        "vsctl",
        "ofctl",
        "appctl",
        "up",
    ] {
        assert!(s.contains(w), "missing {w}");
    }
    // bash accepts it.
    let st = std::process::Command::new("bash")
        .args(["-n", "-c", &s])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn ofp_print_takes_hex_or_files_as_ovs_ofctl() {
    use ferrovs_openflow::message::Message;
    use ferrovs_openflow::text::wire::flow_to_wire;
    use ferrovs_openflow::Version;
    let ft =
        ferrovs_openflow::text::parse_flow("priority=7,tcp,tp_dst=80,actions=output:2").unwrap();
    let (m, ins) = flow_to_wire(&ft).unwrap();
    let fm = ferrovs_openflow::message::FlowMod {
        priority: 7,
        r#match: m,
        instructions: ins,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    for (i, (msg, v)) in [
        (Message::BarrierRequest, Version::Of13),
        (Message::FeaturesRequest, Version::Of10),
        (Message::FlowMod(fm), Version::Of13),
        (Message::EchoRequest(b"ferrovs".to_vec()), Version::Of14),
    ]
    .into_iter()
    .enumerate()
    {
        let bytes = msg.encode(v, 0x42);
        let hex = hex::encode(&bytes);
        let ovs = std::process::Command::new(ferrovs_tests::tool("ovs-ofctl"))
            .args(["ofp-print", &hex])
            .output()
            .unwrap();
        let raw = dir.path().join(format!("m{i}.bin"));
        std::fs::write(&raw, &bytes).unwrap();
        let text = dir.path().join(format!("m{i}.hex"));
        std::fs::write(&text, format!("{hex}\n")).unwrap();
        for arg in [
            hex.clone(),
            raw.display().to_string(),
            text.display().to_string(),
        ] {
            let ours = std::process::Command::new(common::ferrovs())
                .args(["ofctl", "ofp-print", &arg])
                .output()
                .unwrap();
            assert!(ours.status.success());
            assert_eq!(
                String::from_utf8_lossy(&ours.stdout),
                String::from_utf8_lossy(&ovs.stdout),
                "{arg}"
            );
        }
    }
    let bad = std::process::Command::new(common::ferrovs())
        .args(["ofctl", "ofp-print", "zz-not-hex"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("zz-not-hex"));
}

/// `create` with `--id=@name`, rows named by uuid prefixes, `add` and
/// `remove` of map and set values: each command run by `ferrovs vsctl`
/// and by ovs-vsctl in turn on the same database, same output (uuids
/// blanked), same errors, same exit status; then the rows each made.
#[test]
fn vsctl_create_ids_prefixes_and_add_remove_as_ovs_vsctl() {
    let up = Up::start();
    up.ovs_ok("ovs-vsctl", &["add-br", "br0"]);
    let q = up.ovs_ok("ovs-vsctl", &["create", "QoS", "type=linux-htb"]);
    let prefix = &q.trim()[..8];
    let blank = |b: &[u8]| -> String {
        let s = String::from_utf8_lossy(b).replace("ferrovs vsctl:", "ovs-vsctl:");
        s.split(|c: char| c.is_whitespace() || c == ',' || c == '"' || c == '[' || c == ']')
            .map(|w| {
                if uuid::Uuid::parse_str(w).is_ok() && w.len() == 36 {
                    "UUID"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let cases: Vec<Vec<&str>> = vec![
        vec!["create", "QoS", "type=a", "other_config:k=v"],
        vec![
            "--id=@q", "create", "QoS", "type=b", "--", "set", "Port", "br0", "qos=@q",
        ],
        vec!["set", "Port", "br0", "qos=@nope"],
        vec!["--id=q", "create", "QoS", "type=y"],
        vec![
            "--id=@q", "create", "QoS", "type=y", "--", "--id=@q", "create", "QoS", "type=z",
        ],
        vec!["create", "Nosuch", "a=b"],
        vec!["create", "QoS", "nosuch=1"],
        vec!["get", "QoS", prefix, "type"],
        vec!["get", "QoS", &prefix[..3], "type"],
        vec!["get", "QoS", "zzzz", "type"],
        vec!["list", "QoS", prefix],
        vec!["set", "QoS", prefix, "other_config:y=2"],
        vec!["add", "QoS", prefix, "other_config", "x=9", "z=3"],
        vec!["add", "QoS", prefix, "other_config", "x=10"],
        vec!["get", "QoS", prefix, "other_config"],
        vec!["remove", "QoS", prefix, "other_config", "x=1"],
        vec!["remove", "QoS", prefix, "other_config", "z"],
        vec!["get", "QoS", prefix, "other_config"],
        vec!["add", "Bridge", "br0", "flood_vlans", "1", "2", "3"],
        vec!["remove", "Bridge", "br0", "flood_vlans", "2"],
        vec!["get", "Bridge", "br0", "flood_vlans"],
        vec!["remove", "Bridge", "br0", "flood_vlans", "x"],
        vec!["add", "Bridge", "br0", "nosuch", "1"],
    ];
    for args in &cases {
        let ours = up.ferrovs(&[&["vsctl"], &args[..]].concat());
        let theirs = up.ovs("ovs-vsctl", args);
        let what = format!("{args:?}");
        assert_eq!(
            blank(&ours.stdout),
            blank(&theirs.stdout),
            "stdout of {what}"
        );
        assert_eq!(
            blank(&ours.stderr),
            blank(&theirs.stderr),
            "stderr of {what}"
        );
        assert_eq!(ours.status.code(), theirs.status.code(), "exit of {what}");
    }
    // Both made the same rows: two of each created type, and the
    // prefix-named row changed twice over.
    let types = up.ovs_ok("ovs-vsctl", &["--columns=type", "list", "QoS"]);
    for t in ["a", "b"] {
        assert_eq!(types.matches(&format!(": {t}\n")).count(), 2, "{types}");
    }
    // The uuid `create` prints is the one the server gave the row.
    let u = up.ferrovs_ok(&["vsctl", "create", "QoS", "type=mine"]);
    assert_eq!(
        up.ovs_ok("ovs-vsctl", &["get", "QoS", u.trim(), "type"]),
        "mine\n"
    );
}

/// Port names in flow text (`in_port=p1`, `output:p1`, a bare `p1`,
/// `out_port=p2`) resolved from the switch as ovs-ofctl does, and the
/// version negotiated from the bridge's `protocols`.
#[test]
fn ofctl_port_names_and_negotiated_version() {
    let up = Up::start();
    up.ovs_ok("ovs-vsctl", &["add-br", "br0"]);
    for (p, n) in [("p1", "5"), ("p2", "6")] {
        let req = format!("ofport_request={n}");
        up.ovs_ok(
            "ovs-vsctl",
            &[
                "add-port",
                "br0",
                p,
                "--",
                "set",
                "Interface",
                p,
                "type=dummy",
                &req,
            ],
        );
    }
    up.ferrovs_ok(&["ofctl", "add-flow", "br0", "in_port=p1,actions=output:p2"]);
    up.ferrovs_ok(&[
        "ofctl",
        "add-flow",
        "br0",
        "priority=5,in_port=p2,actions=p1,LOCAL",
    ]);
    up.ovs_ok(
        "ovs-ofctl",
        &["add-flow", "br0", "priority=7,in_port=p2,actions=drop"],
    );
    let flows = up.ovs_ok("ovs-ofctl", &["-O", "OpenFlow13", "dump-flows", "br0"]);
    assert!(flows.contains("in_port=5 actions=output:6"), "{flows}");
    assert!(
        flows.contains("priority=5,in_port=6 actions=output:5,LOCAL"),
        "{flows}"
    );
    // Names select as numbers do, in dump-flows and del-flows.
    same(
        &up,
        "ofctl",
        "ovs-ofctl",
        &[],
        &["-O", "OpenFlow13", "dump-flows", "br0", "in_port=p2"],
    );
    up.ferrovs_ok(&["ofctl", "del-flows", "br0", "out_port=p1"]);
    let flows = up.ovs_ok("ovs-ofctl", &["-O", "OpenFlow13", "dump-flows", "br0"]);
    assert!(!flows.contains("actions=output:5"), "{flows}");
    assert!(flows.contains("actions=output:6"), "{flows}");
    // An unknown name is an error naming it.
    let out = up.ferrovs(&["ofctl", "add-flow", "br0", "in_port=nosuch,actions=drop"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch"));

    // OpenFlow 1.0 flow-mods carry every field (as NXT_FLOW_MOD).
    up.ferrovs_ok(&[
        "ofctl",
        "-O",
        "OpenFlow10",
        "add-flow",
        "br0",
        "priority=3,ipv6,ipv6_src=2001:db8::1,reg0=5,actions=output:p1",
    ]);
    let flows = up.ovs_ok("ovs-ofctl", &["-O", "OpenFlow13", "dump-flows", "br0"]);
    assert!(
        flows.contains("priority=3,ipv6,reg0=0x5,ipv6_src=2001:db8::1 actions=output:5"),
        "{flows}"
    );

    // No -O: the highest version the bridge allows.
    let show = up.ferrovs_ok(&["ofctl", "show", "br0"]);
    assert!(show.starts_with("OFPT_FEATURES_REPLY (OF1.5)"), "{show}");
    up.ovs_ok(
        "ovs-vsctl",
        &["set", "Bridge", "br0", "protocols=OpenFlow13,OpenFlow14"],
    );
    let show = up.ferrovs_ok(&["ofctl", "show", "br0"]);
    assert!(show.starts_with("OFPT_FEATURES_REPLY (OF1.4)"), "{show}");
    same(
        &up,
        "ofctl",
        "ovs-ofctl",
        &[],
        &["-O", "OpenFlow10,OpenFlow13", "show", "br0"],
    );
    // No common version: OVS's words for it.
    let out = up.ferrovs(&["ofctl", "-O", "OpenFlow10", "show", "br0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("version negotiation failed (we support version 0x01, peer supports versions 0x04, 0x05)"),
        "{err}"
    );
}
