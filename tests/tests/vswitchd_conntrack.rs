//! Connection tracking on real packets through ferrovs-vswitchd, flows
//! loaded with Debian's `ovs-ofctl`: hosts are namespaces on veth ports
//! (AF_PACKET `system` ports, addresses in 198.18.0.0/24), the switch
//! runs in the guard's namespace.
//!
//! - A stateful firewall: new TCP connections from h1 to h2's port are
//!   committed and pass, their replies pass as established, a new
//!   connection from h2 to h1 and a ping (not allowed) are dropped, and
//!   `dpctl/dump-conntrack` shows the committed connection in its zone.
//! - SNAT: h1's TCP and ping reach h2 from 198.18.1.1 (the server sees
//!   that address), replies are un-NATed back to h1.
//! - DNAT to a floating IP: h2 reaches h1 through 198.18.0.100; the
//!   replies come back from the floating IP (the sockets would not accept
//!   them otherwise).

use std::process::{Command, Stdio};
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::neutron_fw::{NEUTRON_FW, VM1_MAC};
use ferrovs_tests::{python, tool, Netns, Veth};

struct Host {
    ns: Netns,
    ifname: String,
    port: String,
    _veth: Veth,
}

impl Host {
    fn mac(&self) -> String {
        self.ns
            .exec(&["cat", &format!("/sys/class/net/{}/address", self.ifname)])
            .unwrap()
            .trim()
            .to_string()
    }
}

fn veth_host(fv: &FerrovsVswitchd, tag: &str, n: u8) -> Host {
    veth_host_with(fv, tag, n, None, None)
}

/// A host with a chosen MAC and OpenFlow port number.
fn veth_host_with(
    fv: &FerrovsVswitchd,
    tag: &str,
    n: u8,
    mac: Option<&str>,
    ofport: Option<u16>,
) -> Host {
    let ns = Netns::new(tag).unwrap();
    let v = Veth::new(tag).unwrap();
    let ip = |args: &[&str]| {
        let out = Command::new(tool("ip")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    ip(&["link", "set", &v.b, "netns", ns.name()]);
    if let Some(m) = mac {
        ns.exec(&["ip", "link", "set", &v.b, "address", m]).unwrap();
    }
    ns.exec(&[
        "ip",
        "addr",
        "add",
        &format!("198.18.0.{n}/24"),
        "dev",
        &v.b,
    ])
    .unwrap();
    ns.exec(&["ip", "link", "set", &v.b, "up"]).unwrap();
    ip(&["link", "set", &v.a, "netns", fv.netns().name()]);
    fv.netns().exec(&["ip", "link", "set", &v.a, "up"]).unwrap();
    let req = ofport.map(|p| format!("ofport_request={p}"));
    let mut args = vec![
        "add-port",
        "br0",
        &v.a,
        "--",
        "set",
        "Interface",
        &v.a,
        "type=system",
    ];
    if let Some(r) = &req {
        args.push(r);
    }
    fv.vsctl_ok(&args);
    Host {
        ns,
        ifname: v.b.clone(),
        port: v.a.clone(),
        _veth: v,
    }
}

/// A switch with `br0` (netdev datapath, fail_mode secure).
fn secure_switch() -> FerrovsVswitchd {
    FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"])
}

/// A switch with `br0` (netdev datapath, fail_mode secure) and two hosts
/// 198.18.0.1 and 198.18.0.2; returns them with their OpenFlow ports.
fn setup() -> (FerrovsVswitchd, Host, Host, String, String) {
    let fv = secure_switch();
    let h1 = veth_host(&fv, "c1", 1);
    let h2 = veth_host(&fv, "c2", 2);
    let no = |p: &str| {
        fv.vsctl_ok(&["get", "Interface", p, "ofport"])
            .trim()
            .to_string()
    };
    let (p1, p2) = (no(&h1.port), no(&h2.port));
    (fv, h1, h2, p1, p2)
}

fn flows(fv: &FerrovsVswitchd, flows: &[String]) {
    let out = fv.ofctl(&[], "del-flows", "br0", &[]);
    assert!(out.status.success());
    for f in flows {
        let out = fv.ofctl(&[], "add-flow", "br0", &[f]);
        assert!(out.status.success(), "{f}: {out:?}");
    }
}

/// The test's TCP programs: a server that accepts one connection, prints
/// the peer's address and echoes a line; a client that prints `ok` after
/// the echo or `fail` (3 s timeout).
const TCP_PY: &str = r#"
import socket, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == 'server':
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port)); s.listen(1); s.settimeout(15)
    print('ready', flush=True)
    try:
        c, peer = s.accept(); c.settimeout(5)
        b = c.recv(100); c.sendall(b)
        print(peer[0], flush=True)
    except socket.timeout:
        print('none', flush=True)
elif mode == 'echo-loop':
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port)); s.listen(1); s.settimeout(30)
    print('ready', flush=True)
    c, peer = s.accept(); c.settimeout(30)
    while True:
        b = c.recv(100)
        if not b: break
        c.sendall(b)
elif mode == 'client-wait':
    # One echo, then a second one after a line on stdin.
    s = socket.create_connection((addr, port), timeout=3)
    s.sendall(b'one\n'); print('ok1' if s.recv(100) == b'one\n' else 'bad', flush=True)
    sys.stdin.readline()
    s.sendall(b'two\n')
    try:
        print('ok2' if s.recv(100) == b'two\n' else 'bad', flush=True)
    except OSError:
        print('cut', flush=True)
else:
    try:
        s = socket.create_connection((addr, port), timeout=3)
        s.sendall(b'hello\n'); b = s.recv(100)
        print('ok' if b == b'hello\n' else 'bad', flush=True)
    except OSError as e:
        print('fail', e, flush=True)
"#;

fn py(ns: &Netns, args: &[&str]) -> Command {
    let mut c = Command::new(tool("ip"));
    c.args(["netns", "exec", ns.name()])
        .arg(python())
        .args(["-c", TCP_PY])
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// A TCP connection from `client` to `dst:port` served in `server`:
/// (what the client printed, the peer address the server saw).
fn tcp(client: &Netns, server: &Netns, dst: &str, port: u16) -> (String, String) {
    let p = port.to_string();
    let (_srv, lines) = ferrovs_tests::spawn_lines(&mut py(server, &["server", dst, &p])).unwrap();
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(10)).unwrap(),
        "ready"
    );
    let out = py(client, &["client", dst, &p]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let seen = lines
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_default();
    (said, seen)
}

/// `ping OPTS DST` (2 echoes, 0.2 s apart) from `from`: true when both
/// came back.
fn ping_with(from: &Netns, dst: &str, opts: &[&str]) -> bool {
    let ping = tool("ping");
    let mut argv = vec![ping.to_str().unwrap(), "-c", "2", "-i", "0.2"];
    argv.extend_from_slice(opts);
    argv.push(dst);
    from.exec(&argv)
        .map(|o| o.contains(" 0% packet loss"))
        .unwrap_or(false)
}

fn ping(from: &Netns, dst: &str) -> bool {
    ping_with(from, dst, &["-W", "1"])
}

#[test]
fn stateful_firewall_passes_allowed_tcp_and_replies_drops_the_rest() {
    let (fv, h1, h2, p1, p2) = setup();
    flows(
        &fv,
        &[
            "priority=1000,arp actions=NORMAL".into(),
            "priority=100,ip,ct_state=-trk actions=ct(table=1,zone=9)".into(),
            format!("table=1,priority=100,ct_state=+trk+new,tcp,in_port={p1},tp_dst=7500 actions=ct(commit,zone=9),output:{p2}"),
            format!("table=1,priority=100,ct_state=+trk+est,in_port={p1} actions=output:{p2}"),
            format!("table=1,priority=100,ct_state=+trk+est,in_port={p2} actions=output:{p1}"),
            "table=1,priority=1 actions=drop".into(),
        ],
    );
    let (said, seen) = tcp(&h1.ns, &h2.ns, "198.18.0.2", 7500);
    assert_eq!(
        (said.as_str(), seen.as_str()),
        ("ok", "198.18.0.1"),
        "allowed connection h1 -> h2:7500\n{}",
        fv.appctl_ok(&["dpctl/dump-flows"])
    );
    let ct = fv.appctl_ok(&["dpctl/dump-conntrack"]);
    assert!(
        ct.lines().any(
            |l| l.starts_with("tcp,orig=(src=198.18.0.1,dst=198.18.0.2,")
                && l.contains("dport=7500")
                && l.contains("zone=9")
        ),
        "dump-conntrack:\n{ct}"
    );
    let (said, seen) = tcp(&h2.ns, &h1.ns, "198.18.0.1", 7501);
    assert!(said.starts_with("fail"), "new connection from h2: {said}");
    assert_eq!(seen, "none");
    let (said, _) = tcp(&h1.ns, &h2.ns, "198.18.0.2", 7502);
    assert!(
        said.starts_with("fail"),
        "h1 -> h2:7502 is not allowed: {said}"
    );
    assert!(!ping(&h1.ns, "198.18.0.2"), "ping is not allowed");
}

/// `h2` routes the SNAT network 198.18.1.0/24 to `h1`'s MAC, the way a
/// router's external port would.
fn snat_route_back(h1: &Host, h2: &Host) {
    h2.ns
        .exec(&["ip", "route", "add", "198.18.1.0/24", "dev", &h2.ifname])
        .unwrap();
    h2.ns
        .exec(&[
            "ip",
            "neigh",
            "replace",
            "198.18.1.1",
            "lladdr",
            &h1.mac(),
            "dev",
            &h2.ifname,
        ])
        .unwrap();
}

#[test]
fn snat_and_floating_ip_dnat() {
    let (fv, h1, h2, p1, p2) = setup();
    // SNAT: h1's connections leave as 198.18.1.1; h2 routes that
    // network to h1's MAC, the way a router's external port would.
    snat_route_back(&h1, &h2);
    flows(
        &fv,
        &[
            "priority=1000,arp actions=NORMAL".into(),
            format!("priority=100,ip,in_port={p1} actions=ct(commit,zone=1,nat(src=198.18.1.1)),output:{p2}"),
            format!("priority=100,ip,in_port={p2} actions=ct(zone=1,nat),output:{p1}"),
        ],
    );
    let (said, seen) = tcp(&h1.ns, &h2.ns, "198.18.0.2", 7600);
    assert_eq!(
        (said.as_str(), seen.as_str()),
        ("ok", "198.18.1.1"),
        "SNAT h1 -> h2\n{}\n{}",
        fv.appctl_ok(&["dpctl/dump-flows"]),
        fv.appctl_ok(&["dpctl/dump-conntrack"])
    );
    assert!(ping(&h1.ns, "198.18.0.2"), "ping through SNAT");
    let ct = fv.appctl_ok(&["dpctl/dump-conntrack", "zone=1"]);
    assert!(
        ct.lines().any(
            |l| l.starts_with("tcp,orig=(src=198.18.0.1,dst=198.18.0.2,")
                && l.contains("reply=(src=198.18.0.2,dst=198.18.1.1,")
        ),
        "dump-conntrack:\n{ct}"
    );

    // DNAT: 198.18.0.100 is h1's floating IP; h2 reaches it.
    h2.ns
        .exec(&[
            "ip",
            "neigh",
            "replace",
            "198.18.0.100",
            "lladdr",
            &h1.mac(),
            "dev",
            &h2.ifname,
        ])
        .unwrap();
    flows(
        &fv,
        &[
            "priority=1000,arp actions=NORMAL".into(),
            format!("priority=100,ip,in_port={p2},nw_dst=198.18.0.100 actions=ct(commit,zone=2,nat(dst=198.18.0.1)),output:{p1}"),
            format!("priority=100,ip,in_port={p1} actions=ct(zone=2,nat),output:{p2}"),
        ],
    );
    let (said, seen) = tcp(&h2.ns, &h1.ns, "198.18.0.100", 7700);
    assert_eq!(
        (said.as_str(), seen.as_str()),
        ("ok", "198.18.0.2"),
        "DNAT h2 -> floating IP\n{}\n{}",
        fv.appctl_ok(&["dpctl/dump-flows"]),
        fv.appctl_ok(&["dpctl/dump-conntrack"])
    );
    assert!(ping(&h2.ns, "198.18.0.100"), "ping the floating IP");
}

/// Neutron's security-group flows (the ones the side-by-side trace test
/// compares with OVS) in front of VMs as namespaces: VM1 (port 1,
/// 198.18.0.1) allows ingress SSH from anywhere and ICMP from VM2's
/// group; VM2 (port 2) and an outside host (port 3) try their luck.
#[test]
fn neutron_security_groups_between_namespaces() {
    let fv = secure_switch();
    let vm1 = veth_host_with(&fv, "n1", 1, Some(VM1_MAC), Some(1));
    let vm2 = veth_host_with(&fv, "n2", 2, Some("fa:16:3e:00:00:02"), Some(2));
    let out = veth_host_with(&fv, "n3", 3, Some("fa:16:3e:00:00:09"), Some(3));
    let fl: Vec<String> = NEUTRON_FW.iter().map(|s| s.to_string()).collect();
    flows(&fv, &fl);
    let diag = || {
        format!(
            "{}\n{}",
            fv.appctl_ok(&["dpctl/dump-flows"]),
            fv.appctl_ok(&["dpctl/dump-conntrack"])
        )
    };
    // Ingress SSH to VM1: from the other VM and from outside.
    let r = tcp(&vm2.ns, &vm1.ns, "198.18.0.1", 22);
    assert_eq!(
        (r.0.as_str(), r.1.as_str()),
        ("ok", "198.18.0.2"),
        "{}",
        diag()
    );
    let r = tcp(&out.ns, &vm1.ns, "198.18.0.1", 22);
    assert_eq!(
        (r.0.as_str(), r.1.as_str()),
        ("ok", "198.18.0.3"),
        "{}",
        diag()
    );
    // Ingress HTTP to VM1: no rule.
    let r = tcp(&vm2.ns, &vm1.ns, "198.18.0.1", 80);
    assert!(r.0.starts_with("fail"), "HTTP to VM1 must drop: {r:?}");
    // ICMP: from the remote group's member only.
    assert!(
        ping(&vm2.ns, "198.18.0.1"),
        "ICMP from VM2 (remote group)\n{}",
        diag()
    );
    assert!(!ping(&out.ns, "198.18.0.1"), "ICMP from outside must drop");
    // Egress from VM1 is open, and the replies come back.
    let r = tcp(&vm1.ns, &out.ns, "198.18.0.3", 8080);
    assert_eq!(
        (r.0.as_str(), r.1.as_str()),
        ("ok", "198.18.0.1"),
        "{}",
        diag()
    );
    let ct = fv.appctl_ok(&["dpctl/dump-conntrack", "zone=1"]);
    assert!(
        ct.lines().any(
            |l| l.starts_with("tcp,orig=(src=198.18.0.2,dst=198.18.0.1,") && l.contains("dport=22")
        ),
        "{ct}"
    );
}

/// A timeout policy from the database (`Datapath` -> `CT_Zone` ->
/// `CT_Timeout_Policy`, written by Debian's `ovs-vsctl add-zone-tp`)
/// sets the lifetime of the zone's connections: ICMP replies live 8 s
/// there instead of OVS's default 30 s.
#[test]
fn zone_timeout_policy_from_the_database() {
    let (fv, h1, h2, p1, p2) = setup();
    fv.vsctl_ok(&[
        "--id=@d",
        "create",
        "Datapath",
        "datapath_version=0",
        "--",
        "set",
        "Open_vSwitch",
        ".",
        "datapaths:netdev=@d",
    ]);
    // Debian's `ovs-vsctl add-zone-tp` refers to the policy's row by a
    // named UUID before (in the transaction) the insert that defines it.
    fv.vsctl_ok(&[
        "add-zone-tp",
        "netdev",
        "zone=9",
        "icmp_first=7",
        "icmp_reply=8",
    ]);
    assert_eq!(
        fv.vsctl_ok(&["list-zone-tp", "netdev"]).trim(),
        "Zone:9, Timeout Policies: icmp_first=7 icmp_reply=8"
    );
    // ovs-vsctl waits for the switch to apply the configuration.
    fv.vsctl_ok(&["set", "Open_vSwitch", ".", "external_ids:ct-test=1"]);
    assert!(
        fv.vsctl_ok(&["list", "CT_Zone"]).contains("timeout_policy"),
        "zone row missing"
    );
    flows(
        &fv,
        &[
            "priority=1000,arp actions=NORMAL".into(),
            format!("priority=100,ip,in_port={p1} actions=ct(commit,zone=9),output:{p2}"),
            format!("priority=100,ip,in_port={p2} actions=ct(zone=9),output:{p1}"),
        ],
    );
    assert!(ping(&h1.ns, "198.18.0.2"));
    let secs = icmp_timeout(&fv);
    assert!(secs <= 8, "zone 9's icmp_reply is 8 s, got {secs}");
    // Without the policy, a new connection gets OVS's default (30 s).
    fv.vsctl_ok(&["del-zone-tp", "netdev", "zone=9"]);
    fv.appctl_ok(&["dpctl/flush-conntrack"]);
    assert!(ping(&h1.ns, "198.18.0.2"));
    let secs = icmp_timeout(&fv);
    assert!(secs > 20, "default icmp_reply 30 s again, got {secs}");
    drop(h2);
}

/// Seconds left of h1's ICMP connection in zone 9 (`dump-conntrack -s`).
fn icmp_timeout(fv: &FerrovsVswitchd) -> u64 {
    let ct = fv.appctl_ok(&["dpctl/dump-conntrack", "-s", "zone=9"]);
    let line = ct
        .lines()
        .find(|l| l.starts_with("icmp,orig=(src=198.18.0.1,dst=198.18.0.2,"))
        .unwrap_or_else(|| panic!("no ICMP connection:\n{ct}"));
    line.split("timeout=")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no timeout: {line}"))
}

/// Neutron's way to cut a connection whose rule went away: with the
/// ingress SSH rule deleted, the next packet of an established SSH
/// connection hits `ct_state=+est` at priority 40, is committed with
/// ct_mark=1 and dropped, and the connection is dead from then on.
#[test]
fn neutron_deleted_rule_cuts_established_connection_by_ct_mark() {
    use std::io::Write;
    let fv = secure_switch();
    let vm1 = veth_host_with(&fv, "m1", 1, Some(VM1_MAC), Some(1));
    let vm2 = veth_host_with(&fv, "m2", 2, Some("fa:16:3e:00:00:02"), Some(2));
    let fl: Vec<String> = NEUTRON_FW.iter().map(|s| s.to_string()).collect();
    flows(&fv, &fl);
    let (_srv, lines) =
        ferrovs_tests::spawn_lines(&mut py(&vm1.ns, &["echo-loop", "198.18.0.1", "22"])).unwrap();
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(10)).unwrap(),
        "ready"
    );
    let mut cmd = py(&vm2.ns, &["client-wait", "198.18.0.1", "22"]);
    cmd.stdin(Stdio::piped());
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in out.lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "ok1", "SSH allowed at first");
    // The security group rule goes away (both of its flows).
    let del = fv.ofctl(
        &[],
        "del-flows",
        "br0",
        &["table=82,tcp,reg5=0x1,tp_dst=22"],
    );
    assert!(del.status.success(), "{del:?}");
    // The megaflows of the connection are revalidated (as OVS does after
    // a flow table change, in the background).
    fv.appctl_ok(&["revalidator/wait"]);
    writeln!(stdin).unwrap();
    let second = rx.recv_timeout(Duration::from_secs(15)).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(second, "cut", "the established connection must be cut");
    let ct = fv.appctl_ok(&["dpctl/dump-conntrack", "zone=1"]);
    assert!(
        ct.lines()
            .any(|l| l.contains("dport=22") && l.contains("mark=1")),
        "the connection carries ct_mark=1:\n{ct}"
    );
}

/// `ping -s SIZE` (2 echoes) from `from` to `dst`: true when both came
/// back. 3000 bytes of payload go out as three fragments each way.
fn ping_big(from: &Netns, dst: &str, size: &str) -> bool {
    ping_with(from, dst, &["-W", "2", "-s", size])
}

/// Fragmented datagrams are reassembled before tracking and sent on as
/// fragments: a 3000-byte ping through SNAT comes back (every fragment
/// of the request leaves with the translated source, every fragment of
/// the reply is translated back), and a 3000-byte IPv6 ping passes a
/// firewall that lets only established replies back (the reply's later
/// fragments, with no ICMPv6 header, belong to the connection only once
/// reassembled).
#[test]
fn fragmented_ipv4_through_snat_and_ipv6_through_the_firewall() {
    let (fv, h1, h2, p1, p2) = setup();
    snat_route_back(&h1, &h2);
    flows(
        &fv,
        &[
            "priority=1000,arp actions=NORMAL".into(),
            format!("priority=100,ip,in_port={p1} actions=ct(commit,zone=1,nat(src=198.18.1.1)),output:{p2}"),
            // Only replies to the translated request come back.
            format!("priority=100,ip,in_port={p2} actions=ct(table=1,zone=1,nat)"),
            format!("table=1,priority=100,ct_state=+trk+est+rpl-inv,ip,in_port={p2} actions=output:{p1}"),
            "table=1,priority=1 actions=drop".into(),
        ],
    );
    assert!(
        ping_big(&h1.ns, "198.18.0.2", "3000"),
        "fragmented ping through SNAT\n{}\n{}",
        fv.appctl_ok(&["dpctl/dump-flows"]),
        fv.appctl_ok(&["dpctl/dump-conntrack"])
    );
    let ct = fv.appctl_ok(&["dpctl/dump-conntrack", "zone=1"]);
    assert!(
        ct.lines().any(
            |l| l.starts_with("icmp,orig=(src=198.18.0.1,dst=198.18.0.2,")
                && l.contains("reply=(src=198.18.0.2,dst=198.18.1.1,")
        ),
        "dump-conntrack:\n{ct}"
    );

    for (h, a) in [(&h1, "2001:db8::1/64"), (&h2, "2001:db8::2/64")] {
        h.ns.exec(&["ip", "-6", "addr", "add", a, "dev", &h.ifname, "nodad"])
            .unwrap();
    }
    flows(
        &fv,
        &[
            "priority=1000,icmp6,icmp_type=135 actions=NORMAL".into(),
            "priority=1000,icmp6,icmp_type=136 actions=NORMAL".into(),
            format!("priority=100,ipv6,in_port={p1} actions=ct(commit,zone=4),output:{p2}"),
            format!("priority=100,ipv6,in_port={p2} actions=ct(table=1,zone=4)"),
            format!(
                "table=1,priority=100,ct_state=+trk+est-inv,ipv6,in_port={p2} actions=output:{p1}"
            ),
            "table=1,priority=1 actions=drop".into(),
        ],
    );
    // Neighbour discovery first (a loaded machine may need a retry).
    assert!(
        (0..3).any(|_| ping_big(&h1.ns, "2001:db8::2", "100")),
        "IPv6 ping"
    );
    assert!(
        ping_big(&h1.ns, "2001:db8::2", "3000"),
        "fragmented IPv6 ping\n{}\n{}",
        fv.appctl_ok(&["dpctl/dump-flows"]),
        fv.appctl_ok(&["dpctl/dump-conntrack"])
    );
    let ct = fv.appctl_ok(&["dpctl/dump-conntrack", "zone=4"]);
    assert!(
        ct.lines()
            .any(|l| l.starts_with("icmpv6,orig=(src=2001:db8::1,dst=2001:db8::2,")),
        "dump-conntrack:\n{ct}"
    );
}

/// Per-zone connection limits (`dpctl/ct-set-limits`, OVS 3.1's schema
/// has no `CT_Zone` limit): with zone 9 limited to two connections, a
/// third ping (a new ICMP id) is not committed, so its replies are not
/// `+est` and the firewall drops them; `ct-get-limits` shows the count as
/// OVS prints it; after a flush the zone admits again.
#[test]
fn zone_connection_limit_refuses_the_connection_over_it() {
    let (fv, h1, h2, p1, p2) = setup();
    flows(
        &fv,
        &[
            "priority=1000,arp actions=NORMAL".into(),
            format!("priority=100,ip,in_port={p1} actions=ct(commit,zone=9),output:{p2}"),
            format!("priority=100,ip,in_port={p2} actions=ct(table=1,zone=9)"),
            format!("table=1,priority=100,ct_state=+trk+est,ip,in_port={p2} actions=output:{p1}"),
            "table=1,priority=1 actions=drop".into(),
        ],
    );
    fv.appctl_ok(&["dpctl/ct-set-limits", "zone=9,limit=2"]);
    assert!(ping(&h1.ns, "198.18.0.2"), "first connection");
    assert!(ping(&h1.ns, "198.18.0.2"), "second connection");
    assert!(
        !ping(&h1.ns, "198.18.0.2"),
        "third connection over the limit"
    );
    assert_eq!(
        fv.appctl_ok(&["dpctl/ct-get-limits", "zone=9"]),
        "default limit=0\nzone=9,limit=2,count=2\n"
    );
    fv.appctl_ok(&["dpctl/flush-conntrack", "zone=9"]);
    assert!(ping(&h1.ns, "198.18.0.2"), "admitted again after the flush");
    // A raised limit admits the third.
    fv.appctl_ok(&["dpctl/ct-set-limits", "zone=9,limit=3"]);
    assert!(
        ping(&h1.ns, "198.18.0.2"),
        "second connection after the flush"
    );
    assert!(
        ping(&h1.ns, "198.18.0.2"),
        "third connection under the new limit"
    );
    assert!(!ping(&h1.ns, "198.18.0.2"), "fourth over it");
    drop(h2);
}
