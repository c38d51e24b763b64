//! Traffic through ferrovs-vswitchd between namespaces, configured with
//! Debian's `ovs-vsctl`, with the kernel's default offloads everywhere (no
//! `ethtool` change): a standalone bridge (NORMAL) joins two and three
//! hosts on veth ports opened as `system` (AF_PACKET) or `afxdp`, and on
//! tap ports; each pair pings (IPv4 and IPv6), copies bytes over TCP whose
//! SHA-256 must match at the far end (checksum-offloaded and GSO packets
//! cross the switch), exchanges UDP datagrams with partial checksums (the
//! receiving stack drops a bad one), and runs a short iperf3.
//!
//! The port-type pairs covered: system-system, system-afxdp (GSO segments
//! out of a port that cannot take them, segmented in software),
//! afxdp-afxdp, tap-tap, tap-system, internal-system, internal-tap,
//! internal-afxdp. A flow rewriting nw_dst/nw_src on a TCP transfer checks
//! that checksums of GSO segments are fixed after a header change.
//! Also: an internal port with an address reaches the hosts, and a port
//! added and removed while traffic flows leaves the others untouched.
//!
//! The switch runs in its own namespace (the guard's); hosts are
//! namespaces on veth pairs whose outer ends are moved there, or tap
//! devices ferrovs creates there and the test moves into a host. Addresses
//! are in 198.18.0.0/15 and 2001:db8::/32 only. Everything goes on drop.

use std::process::{Command, Stdio};
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::{python, tool, Child, Netns, Veth};

/// One host namespace and the name of its interface.
struct Host {
    ns: Netns,
    ifname: String,
    n: u8,
    /// The port's name in the switch (the veth's outer end, or the tap).
    port: String,
    _veth: Option<Veth>,
}

impl Host {
    fn v4(&self) -> String {
        format!("198.18.0.{}", self.n)
    }
    fn v6(&self) -> String {
        format!("2001:db8::{}", self.n)
    }
}

fn address(ns: &Netns, ifname: &str, n: u8) {
    ns.exec(&[
        "ip",
        "addr",
        "add",
        &format!("198.18.0.{n}/24"),
        "dev",
        ifname,
    ])
    .unwrap();
    ns.exec(&[
        "ip",
        "-6",
        "addr",
        "add",
        &format!("2001:db8::{n}/64"),
        "dev",
        ifname,
        "nodad",
    ])
    .unwrap();
    ns.exec(&["ip", "link", "set", ifname, "up"]).unwrap();
}

/// A host on a veth pair whose outer end is a port of `br0` of type `ty`
/// (`system` or `afxdp`).
fn veth_host(fv: &FerrovsVswitchd, tag: &str, n: u8, ty: &str) -> Host {
    let ns = Netns::new(tag).unwrap();
    let v = Veth::new(tag).unwrap();
    let ip = |args: &[&str]| {
        let out = Command::new(tool("ip")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    ip(&["link", "set", &v.b, "netns", ns.name()]);
    address(&ns, &v.b, n);
    ip(&["link", "set", &v.a, "netns", fv.netns().name()]);
    let fns = fv.netns();
    fns.exec(&[
        "sysctl",
        "-qw",
        &format!("net.ipv6.conf.{}.disable_ipv6=1", v.a),
    ])
    .unwrap();
    fns.exec(&["ip", "link", "set", &v.a, "up"]).unwrap();
    add_port(fv, &v.a, ty);
    Host {
        ns,
        ifname: v.b.clone(),
        n,
        port: v.a.clone(),
        _veth: Some(v),
    }
}

/// A host on a tap port: ferrovs creates the tap in its namespace, the
/// test moves it into the host's (the port keeps its open descriptor).
fn tap_host(fv: &FerrovsVswitchd, tag: &str, n: u8) -> Host {
    let ns = Netns::new(tag).unwrap();
    let tap = format!("tap{tag}{}", ferrovs_tests::unique_suffix());
    add_port(fv, &tap, "tap");
    fv.netns()
        .exec(&["ip", "link", "set", &tap, "netns", ns.name()])
        .unwrap();
    address(&ns, &tap, n);
    Host {
        ns,
        ifname: tap.clone(),
        n,
        port: tap,
        _veth: None,
    }
}

fn add_port(fv: &FerrovsVswitchd, name: &str, ty: &str) {
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        name,
        "--",
        "set",
        "Interface",
        name,
        &format!("type={ty}"),
    ]);
    let err = fv.vsctl_ok(&["get", "Interface", name, "error"]);
    assert_eq!(err.trim(), "[]", "{name} ({ty}): {}", fv.log());
}

/// A host on a veth pair with `nq` queues each way, whose outer end is an
/// `afxdp` port of `br0` with `n_rxq=nq` (one AF_XDP socket per queue).
/// The pair is made in the switch's namespace, so it goes with it.
fn mq_afxdp_host(fv: &FerrovsVswitchd, tag: &str, n: u8, nq: usize) -> Host {
    let ns = Netns::new(tag).unwrap();
    let s = ferrovs_tests::unique_suffix();
    let (a, b) = (format!("fvq{s}a"), format!("fvq{s}b"));
    let q = nq.to_string();
    fv.netns()
        .exec(&[
            "ip",
            "link",
            "add",
            &a,
            "numrxqueues",
            &q,
            "numtxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            &b,
            "numrxqueues",
            &q,
            "numtxqueues",
            &q,
        ])
        .unwrap();
    fv.netns()
        .exec(&["ip", "link", "set", &b, "netns", ns.name()])
        .unwrap();
    address(&ns, &b, n);
    fv.netns().exec(&["ip", "link", "set", &a, "up"]).unwrap();
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        &a,
        "--",
        "set",
        "Interface",
        &a,
        "type=afxdp",
        &format!("options:n_rxq={nq}"),
    ]);
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", &a, "error"]).trim(),
        "[]",
        "{}",
        fv.log()
    );
    Host {
        ns,
        ifname: b,
        n,
        port: a,
        _veth: None,
    }
}

/// A switch with a standalone bridge `br0` (NORMAL).
fn switch() -> FerrovsVswitchd {
    FerrovsVswitchd::start_netdev("br0", &[])
}

fn ping_ok(from: &Netns, dst: &str) {
    let out = from
        .exec(&[
            tool("ping").to_str().unwrap(),
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "-w",
            "10",
            dst,
        ])
        .unwrap_or_else(|e| panic!("ping {dst}: {e}"));
    assert!(out.contains(" 0% packet loss"), "ping {dst}: {out}");
}

/// The test's traffic programs: a TCP copy whose receiver prints the
/// byte count and SHA-256 of what arrived, and UDP datagrams counted by
/// the receiver (the stack drops any whose checksum is wrong).
const TRAFFIC_PY: &str = r#"
import hashlib, random, socket, sys, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
any_addr = '::' if fam == socket.AF_INET6 else '0.0.0.0'
if mode == 'tcp-recv':
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((any_addr, port)); s.listen(1); s.settimeout(30)
    print('ready', flush=True)
    c, _ = s.accept(); c.settimeout(30)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        h.update(b); n += len(b)
    print(n, h.hexdigest(), flush=True)
elif mode == 'tcp-send':
    data = random.Random(int(sys.argv[4])).randbytes(int(sys.argv[5]))
    for i in range(100):
        try:
            s = socket.create_connection((addr, port), timeout=5); break
        except OSError:
            time.sleep(0.1)
    s.settimeout(30); s.sendall(data); s.close()
    print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
elif mode == 'udp-recv':
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((any_addr, port)); s.settimeout(3)
    print('ready', flush=True)
    n = 0
    try:
        while n < int(sys.argv[4]):
            b, _ = s.recvfrom(4096)
            if b == bytes([n % 251]) * len(b) and len(b) == 1200: n += 1
    except socket.timeout:
        pass
    print(n, flush=True)
elif mode == 'udp-send':
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[4])):
        s.sendto(bytes([i % 251]) * 1200, (addr, port)); time.sleep(0.005)
"#;

fn py(ns: &Netns, args: &[&str]) -> Command {
    let mut c = Command::new(tool("ip"));
    c.args(["netns", "exec", ns.name()])
        .arg(python())
        .args(["-c", TRAFFIC_PY])
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Starts a receiver and waits for its `ready` line.
fn receiver(ns: &Netns, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let (child, lines) = ferrovs_tests::spawn_lines(&mut py(ns, args)).unwrap();
    let first = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "ready");
    (child, lines)
}

/// Sends `len` pseudo-random bytes over TCP from `a` to `dst` in `b`'s
/// namespace; the SHA-256 that arrived must be the one sent.
fn tcp_intact(fv: &FerrovsVswitchd, a: &Netns, b: &Netns, dst: &str, port: u16, len: usize) {
    let p = port.to_string();
    let (_rx, lines) = receiver(b, &["tcp-recv", dst, &p]);
    let out = py(
        a,
        &["tcp-send", dst, &p, &port.to_string(), &len.to_string()],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "TCP copy to {dst}: sender: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        diagnostics(fv)
    );
    let sent = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let got = lines
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| {
            panic!(
                "receiver printed nothing ({e}); sent {sent}\n{}",
                diagnostics(fv)
            )
        });
    assert_eq!(got, sent, "TCP copy to {dst}: received (count sha) differs");
}

/// What the switch saw: its datapath view and the end of its log.
fn diagnostics(fv: &FerrovsVswitchd) -> String {
    let show = fv.appctl(&["dpif/show"]);
    let log = fv.log();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    format!(
        "dpif/show:\n{}\nlog tail:\n{}",
        String::from_utf8_lossy(&show.stdout),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}

/// `n` UDP datagrams of 1200 bytes from `a` to `dst`: all must arrive
/// whole with good checksums.
fn udp_intact(a: &Netns, b: &Netns, dst: &str, port: u16, n: usize) {
    let p = port.to_string();
    let (_rx, lines) = receiver(b, &["udp-recv", dst, &p, &n.to_string()]);
    let out = py(a, &["udp-send", dst, &p, &n.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let got = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(got, n.to_string(), "UDP datagrams to {dst}");
}

/// A short iperf3 TCP run from `a` to `dst` (server in `b`); returns the
/// received rate in Gbit/s (printed, not asserted).
fn iperf3(a: &Netns, b: &Netns, dst: &str) -> f64 {
    let mut srv = Command::new(tool("ip"));
    srv.args(["netns", "exec", b.name()])
        .arg(tool("iperf3"))
        .args(["-s", "-1", "-p", "5301"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _srv = Child(srv.spawn().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let out = a
        .exec(&[
            tool("iperf3").to_str().unwrap(),
            "-c",
            dst,
            "-p",
            "5301",
            "-t",
            "2",
            "-J",
        ])
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let end = &v["end"]["sum_received"];
    let bytes = end["bytes"].as_f64().unwrap_or(0.0);
    assert!(bytes > 0.0, "iperf3 moved nothing: {out}");
    end["bits_per_second"].as_f64().unwrap_or(0.0) / 1e9
}

/// Every check between two hosts, both ways where it matters.
fn pair(fv: &FerrovsVswitchd, a: &Host, b: &Host, port: u16) {
    ping_ok(&a.ns, &b.v4());
    ping_ok(&a.ns, &b.v6());
    tcp_intact(fv, &a.ns, &b.ns, &b.v4(), port, 4 << 20);
    tcp_intact(fv, &b.ns, &a.ns, &a.v6(), port + 1, 2 << 20);
    udp_intact(&a.ns, &b.ns, &b.v4(), port + 2, 40);
    udp_intact(&b.ns, &a.ns, &a.v6(), port + 3, 40);
}

/// A continuous ping from `a` to `dst` while `f` runs; no echo may be lost.
fn ping_through(a: &Netns, dst: &str, f: impl FnOnce()) {
    let mut c = Command::new(tool("ip"));
    c.args(["netns", "exec", a.name()])
        .arg(tool("ping"))
        .args(["-c", "40", "-i", "0.05", "-W", "1", dst])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    f();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 0% packet loss"), "ping {dst}: {text}");
}

/// Two and three hosts on `system` (AF_PACKET) ports; an internal port
/// with an address; a port added and removed under traffic.
#[test]
fn system_ports_switch_hosts_with_default_offloads() {
    let fv = switch();
    let h1 = veth_host(&fv, "s1", 1, "system");
    let h2 = veth_host(&fv, "s2", 2, "system");
    pair(&fv, &h1, &h2, 7100);
    let g = iperf3(&h1.ns, &h2.ns, &h2.v4());
    eprintln!("iperf3 system->system through ferrovs: {g:.2} Gbit/s");

    let h3 = veth_host(&fv, "s3", 3, "system");
    ping_ok(&h3.ns, &h1.v4());
    ping_ok(&h3.ns, &h2.v6());
    tcp_intact(&fv, &h3.ns, &h1.ns, &h1.v4(), 7110, 2 << 20);

    // An internal port with an address reaches the hosts.
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        "int0",
        "--",
        "set",
        "Interface",
        "int0",
        "type=internal",
    ]);
    let fns = fv.netns();
    fns.exec(&["ip", "addr", "add", "198.18.0.100/24", "dev", "int0"])
        .unwrap();
    fns.exec(&["ip", "link", "set", "int0", "up"]).unwrap();
    ping_ok(fns, &h1.v4());
    tcp_intact(&fv, fns, &h2.ns, &h2.v4(), 7120, 2 << 20);
    tcp_intact(&fv, &h3.ns, fns, "198.18.0.100", 7121, 2 << 20);

    // h3's port goes and a new host's comes while h1 pings h2.
    let mut h4 = None;
    ping_through(&h1.ns, &h2.v4(), || {
        fv.vsctl_ok(&["del-port", "br0", &h3.port]);
        h4 = Some(veth_host(&fv, "s4", 4, "system"));
    });
    let h4 = h4.unwrap();
    ping_ok(&h4.ns, &h1.v4());
    assert!(h3
        .ns
        .exec(&["ping", "-c", "1", "-W", "1", &h1.v4()])
        .is_err());
    ping_through(&h2.ns, &h1.v4(), || {
        fv.vsctl_ok(&["del-port", "br0", &h4.port]);
    });
}

/// AF_XDP ports (native mode on veth): afxdp-afxdp, and afxdp-system, where
/// the system host's GSO segments leave through a port that cannot take
/// them (segmented and checksummed in software).
#[test]
fn afxdp_ports_switch_hosts_with_default_offloads() {
    let fv = switch();
    let h1 = veth_host(&fv, "x1", 1, "afxdp");
    let h2 = veth_host(&fv, "x2", 2, "afxdp");
    pair(&fv, &h1, &h2, 7200);
    let g = iperf3(&h1.ns, &h2.ns, &h2.v4());
    eprintln!("iperf3 afxdp->afxdp through ferrovs: {g:.2} Gbit/s");
    let h3 = veth_host(&fv, "x3", 3, "system");
    pair(&fv, &h3, &h1, 7210);
    let g = iperf3(&h3.ns, &h1.ns, &h1.v4());
    eprintln!("iperf3 system->afxdp through ferrovs: {g:.2} Gbit/s");
    // The internal port reaches an AF_XDP host.
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        "int0",
        "--",
        "set",
        "Interface",
        "int0",
        "type=internal",
    ]);
    let fns = fv.netns();
    fns.exec(&["ip", "addr", "add", "198.18.0.100/24", "dev", "int0"])
        .unwrap();
    fns.exec(&["ip", "link", "set", "int0", "up"]).unwrap();
    tcp_intact(&fv, fns, &h2.ns, &h2.v4(), 7220, 2 << 20);
    udp_intact(&h2.ns, fns, "198.18.0.100", 7221, 40);

    // A port that cannot be opened (a bad xdp-mode) shows its error and
    // disturbs no one.
    let v = Veth::new("xe").unwrap();
    Command::new(tool("ip"))
        .args(["link", "set", &v.a, "netns", fv.netns().name()])
        .status()
        .unwrap();
    let _ = fv.vsctl(&[
        "add-port",
        "br0",
        &v.a,
        "--",
        "set",
        "Interface",
        &v.a,
        "type=afxdp",
        "options:xdp-mode=bogus",
    ]);
    let err = fv.vsctl_ok(&["get", "Interface", &v.a, "error"]);
    assert!(err.contains("xdp-mode"), "error column: {err}");
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", &v.a, "ofport"]).trim(),
        "-1"
    );
    ping_ok(&h1.ns, &h2.v4());
}

/// Tap ports (VM ports with vnet headers): tap-tap, tap-system, and the
/// internal port to a tap host.
#[test]
fn tap_ports_switch_hosts_with_default_offloads() {
    let fv = switch();
    let h1 = tap_host(&fv, "t1", 1);
    let h2 = tap_host(&fv, "t2", 2);
    pair(&fv, &h1, &h2, 7300);
    let g = iperf3(&h1.ns, &h2.ns, &h2.v4());
    eprintln!("iperf3 tap->tap through ferrovs: {g:.2} Gbit/s");
    let h3 = veth_host(&fv, "t3", 3, "system");
    pair(&fv, &h1, &h3, 7310);
    fv.vsctl_ok(&[
        "add-port",
        "br0",
        "int0",
        "--",
        "set",
        "Interface",
        "int0",
        "type=internal",
    ]);
    let fns = fv.netns();
    fns.exec(&["ip", "addr", "add", "198.18.0.100/24", "dev", "int0"])
        .unwrap();
    fns.exec(&["ip", "link", "set", "int0", "up"]).unwrap();
    tcp_intact(&fv, &h2.ns, fns, "198.18.0.100", 7320, 2 << 20);
    udp_intact(fns, &h2.ns, &h2.v4(), 7321, 40);
}

/// A flow that rewrites the destination (and, back, the source) address
/// of a TCP transfer: h1 talks to 198.18.0.99, which the switch turns
/// into h2 (system to afxdp, so the rewritten GSO segments are also
/// segmented in software). The bytes must arrive intact: the checksums
/// of the rewritten segments are fixed.
#[test]
fn rewritten_addresses_keep_checksums_right() {
    let fv = switch();
    let h1 = veth_host(&fv, "r1", 1, "system");
    let h2 = veth_host(&fv, "r2", 2, "afxdp");
    let h3 = veth_host(&fv, "r3", 3, "system");
    ping_ok(&h1.ns, &h2.v4());
    let no = |p: &str| {
        fv.vsctl_ok(&["get", "Interface", p, "ofport"])
            .trim()
            .to_string()
    };
    let (p1, p2, p3) = (no(&h1.port), no(&h2.port), no(&h3.port));
    let mac = |h: &Host| {
        h.ns.exec(&["cat", &format!("/sys/class/net/{}/address", h.ifname)])
            .unwrap()
            .trim()
            .to_string()
    };
    for (h, peer) in [(&h1, &h2), (&h3, &h2)] {
        h.ns.exec(&[
            "ip",
            "neigh",
            "replace",
            "198.18.0.99",
            "lladdr",
            &mac(peer),
            "dev",
            &h.ifname,
        ])
        .unwrap();
    }
    for (from, to) in [(&p1, &p2), (&p3, &p2)] {
        let src = if from == &p1 {
            "198.18.0.1"
        } else {
            "198.18.0.3"
        };
        let back = if from == &p1 { &p1 } else { &p3 };
        let fwd = format!(
            "priority=100,tcp,in_port={from},nw_dst=198.18.0.99,actions=mod_nw_dst:198.18.0.2,output:{to}"
        );
        let rev = format!(
            "priority=100,tcp,in_port={to},nw_src=198.18.0.2,nw_dst={src},actions=mod_nw_src:198.18.0.99,output:{back}"
        );
        for f in [fwd, rev] {
            let out = fv.ofctl(&[], "add-flow", "br0", &[&f]);
            assert!(out.status.success(), "{f}: {out:?}");
        }
    }
    tcp_intact(&fv, &h1.ns, &h2.ns, "198.18.0.99", 7400, 4 << 20);
    // h2 listens on its own address; the flows rewrite on the way.
    tcp_intact(&fv, &h3.ns, &h2.ns, "198.18.0.99", 7401, 2 << 20);
}

/// The lines of OVS 3.1's `dpif-netdev/pmd-stats-show` for one PMD thread
/// that has received nothing, values cut off (from Debian's ovs-vswitchd).
const OVS_PMD_STATS_LABELS: &[&str] = &[
    "pmd thread numa_id 0 core_id ",
    "  packets received: ",
    "  packet recirculations: ",
    "  avg. datapath passes per packet: ",
    "  phwol hits: ",
    "  mfex opt hits: ",
    "  simple match hits: ",
    "  emc hits: ",
    "  smc hits: ",
    "  megaflow hits: ",
    "  avg. subtable lookups per megaflow hit: ",
    "  miss with success upcall: ",
    "  miss with failed upcall: ",
    "  avg. packets per output batch: ",
    "  idle cycles: ",
    "  processing cycles: ",
];

/// The value after `label` in `text` (first match).
fn stat(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in\n{text}"))
        .to_string()
}

/// The PMD commands: queues of an AF_XDP port with `n_rxq=2` (a veth
/// with two queues) and of a system port in `pmd-rxq-show`, counters in
/// `pmd-stats-show` after traffic and zero after `pmd-stats-clear`,
/// `pmd-cpu-mask` making and pinning the PMD threads (their affinity in
/// /proc and their `core_id`), `pmd-rxq-assign` and `pmd-rxq-rebalance`.
#[test]
fn pmd_commands_show_queues_stats_and_pinning() {
    let fv = switch();
    let h1 = veth_host(&fv, "p1", 1, "system");
    let h2 = mq_afxdp_host(&fv, "p2", 2, 2);
    let a = h2.port.clone();
    ping_ok(&h1.ns, "198.18.0.2");

    let show = fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"]);
    let lines: Vec<&str> = show.lines().collect();
    assert_eq!(lines[0], "Displaying last 60 seconds pmd usage %", "{show}");
    assert_eq!(lines[1], "pmd thread numa_id 0 core_id 0:", "{show}");
    assert_eq!(lines[2], "  isolated : false", "{show}");
    for (port, q) in [(h1.port.as_str(), 0), (a.as_str(), 0), (a.as_str(), 1)] {
        let head = format!("  port: {port:<16}  queue-id: {q:2} (enabled)   pmd usage: ");
        let l = lines
            .iter()
            .find(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("no {head:?} in\n{show}"));
        let usage = &l[head.len()..];
        assert!(
            usage == "NOT AVAIL" || usage.ends_with(" %"),
            "{usage:?} in\n{show}"
        );
    }
    assert!(lines.last().unwrap().starts_with("  overhead: "), "{show}");

    let st = fv.appctl_ok(&["dpif-netdev/pmd-stats-show"]);
    let pmd0: Vec<&str> = st.lines().take(OVS_PMD_STATS_LABELS.len()).collect();
    for (l, label) in pmd0.iter().zip(OVS_PMD_STATS_LABELS) {
        assert!(l.starts_with(label), "{l:?} is not {label:?}:\n{st}");
    }
    let rx: u64 = stat(&st, "  packets received: ").parse().unwrap();
    assert!(rx >= 6, "{st}");
    assert!(st.contains("\nmain thread:\n"), "{st}");
    assert!(stat(&st, "  avg cycles per packet: ").contains(&format!("/{rx})")));
    // Cleared counters read 0 (a host's stray IPv6 router solicitation
    // or MLD report may land between the two commands: try a few times).
    let mut st = String::new();
    for _ in 0..5 {
        fv.appctl_ok(&["dpif-netdev/pmd-stats-clear"]);
        st = fv.appctl_ok(&["dpif-netdev/pmd-stats-show", "-pmd", "0"]);
        if stat(&st, "  packets received: ") == "0" {
            break;
        }
    }
    assert_eq!(stat(&st, "  packets received: "), "0", "{st}");
    assert!(!st.contains("main thread"), "{st}");

    // Pinning: the threads' affinity, and their core_id. One PMD per CPU
    // of the mask: 0x2 pins the one PMD to CPU 1, 0x3 makes two.
    let pid = fv.pid().unwrap();
    let affinity_of = |name: &str| -> Option<String> {
        for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let d = t.unwrap().path();
            let comm = std::fs::read_to_string(d.join("comm")).unwrap_or_default();
            if comm.trim() == name {
                let st = std::fs::read_to_string(d.join("status")).unwrap();
                return Some(stat(&st, "Cpus_allowed_list:").trim().to_string());
            }
        }
        None
    };
    let affinity = || affinity_of("pmd-0").unwrap_or_else(|| panic!("no pmd-0 thread in {pid}"));
    let all = affinity();
    fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x2"]);
    assert!(
        fv.wait_until(Duration::from_secs(10), || affinity() == "1"),
        "{}",
        affinity()
    );
    assert_eq!(affinity_of("pmd-1"), None);
    let show = fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"]);
    assert!(show.contains("pmd thread numa_id 0 core_id 1:\n"), "{show}");
    let st = fv.appctl_ok(&["dpif-netdev/pmd-stats-show", "-pmd", "1"]);
    assert!(st.starts_with("pmd thread numa_id 0 core_id 1:\n"), "{st}");
    fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x3"]);
    assert!(
        fv.wait_until(Duration::from_secs(10), || affinity() == "0"
            && affinity_of("pmd-1").as_deref() == Some("1")),
        "{} {:?}",
        affinity(),
        affinity_of("pmd-1")
    );
    let show = fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"]);
    assert!(
        show.contains("core_id 0:\n") && show.contains("core_id 1:\n"),
        "{show}"
    );
    ping_ok(&h1.ns, "198.18.0.2");
    fv.vsctl_ok(&[
        "remove",
        "Open_vSwitch",
        ".",
        "other_config",
        "pmd-cpu-mask",
    ]);
    assert!(fv.wait_until(Duration::from_secs(10), || affinity() == all
        && affinity_of("pmd-1").is_none()));

    fv.vsctl_ok(&[
        "set",
        "Open_vSwitch",
        ".",
        "other_config:pmd-rxq-assign=roundrobin",
    ]);
    assert_eq!(
        fv.appctl_ok(&["dpif-netdev/pmd-rxq-rebalance"]),
        "pmd rxq rebalance requested.\n"
    );
    ping_ok(&h1.ns, "198.18.0.2");

    // pmd-maxsleep=0: busy polling, as OVS by default; traffic still
    // flows, and back to sleeping when removed.
    fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-maxsleep=0"]);
    ping_ok(&h1.ns, "198.18.0.2");
    fv.vsctl_ok(&[
        "remove",
        "Open_vSwitch",
        ".",
        "other_config",
        "pmd-maxsleep",
    ]);
    ping_ok(&h1.ns, "198.18.0.2");
}

/// `packets received` of each PMD block of `pmd-stats-show`.
fn rx_per_pmd(st: &str) -> Vec<u64> {
    st.split("pmd thread numa_id")
        .skip(1)
        .map(|b| {
            let b = b.split("main thread:").next().unwrap();
            stat(b, "  packets received: ").parse().unwrap()
        })
        .collect()
}

/// Two hosts on two-queue veths, each an `afxdp` port with `n_rxq=2`,
/// switched by two PMD threads (`pmd-cpu-mask=0x3`) that share the four
/// AF_XDP sockets: ping, TCP with its bytes checked, iperf3; then the
/// mask goes to 0x1 and back to 0x3 under a continuous ping that may not
/// lose an echo (queues move between PMDs, one PMD is stopped and made
/// again), and TCP still works with one PMD.
#[test]
fn afxdp_multiqueue_ports_on_two_pmds() {
    let fv = switch();
    fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x3"]);
    let h1 = mq_afxdp_host(&fv, "m1", 1, 2);
    let h2 = mq_afxdp_host(&fv, "m2", 2, 2);
    let show = fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"]);
    for core in ["0", "1"] {
        let block = show
            .split("pmd thread numa_id 0 core_id ")
            .find(|b| b.starts_with(&format!("{core}:")))
            .unwrap_or_else(|| panic!("no core {core}:\n{show}"));
        assert!(
            block.contains(&h1.port) || block.contains(&h2.port),
            "core {core} polls no AF_XDP queue:\n{show}"
        );
    }
    assert_eq!(show.matches("fvq").count(), 4, "{show}");
    fv.appctl_ok(&["dpif-netdev/pmd-stats-clear"]);
    ping_ok(&h1.ns, &h2.v4());
    ping_ok(&h2.ns, &h1.v6());
    tcp_intact(&fv, &h1.ns, &h2.ns, &h2.v4(), 7301, 4 << 20);
    tcp_intact(&fv, &h2.ns, &h1.ns, &h1.v4(), 7302, 2 << 20);
    let g = iperf3(&h1.ns, &h2.ns, &h2.v4());
    eprintln!("iperf3 afxdp(2 queues)->afxdp(2 queues), 2 PMDs: {g:.2} Gbit/s");
    let st = fv.appctl_ok(&["dpif-netdev/pmd-stats-show"]);
    let rx = rx_per_pmd(&st);
    eprintln!("packets received per PMD: {rx:?}");
    assert_eq!(rx.len(), 2, "{st}");
    assert!(rx.iter().sum::<u64>() > 1000, "{st}");

    ping_through(&h1.ns, &h2.v4(), || {
        fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x1"]);
        assert!(fv.wait_until(Duration::from_secs(10), || {
            !fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"])
                .contains("core_id 1:")
        }));
        std::thread::sleep(Duration::from_millis(500));
        fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x3"]);
        assert!(fv.wait_until(Duration::from_secs(10), || {
            fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"])
                .contains("core_id 1:")
        }));
    });
    fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x1"]);
    assert!(fv.wait_until(Duration::from_secs(10), || {
        let s = fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"]);
        !s.contains("core_id 1:") && s.matches("fvq").count() == 4
    }));
    tcp_intact(&fv, &h1.ns, &h2.ns, &h2.v4(), 7303, 2 << 20);
    let g = iperf3(&h2.ns, &h1.ns, &h1.v4());
    eprintln!("iperf3 afxdp(2 queues)->afxdp(2 queues), 1 PMD: {g:.2} Gbit/s");
}

/// A `system` port with `n_rxq=2` (two AF_PACKET sockets in a fanout
/// group) and two PMDs: set at run time (the port is opened again), both
/// queues are listed and polled, and ping and TCP cross it.
#[test]
fn system_port_with_two_fanout_queues() {
    let fv = switch();
    fv.vsctl_ok(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x3"]);
    let h1 = veth_host(&fv, "f1", 1, "system");
    let h2 = veth_host(&fv, "f2", 2, "system");
    ping_ok(&h1.ns, &h2.v4());
    // A new queue count re-opens the port (with its old datapath port
    // number, under a new ofport).
    fv.vsctl_ok(&["set", "Interface", &h1.port, "options:n_rxq=2"]);
    let q1 = format!("  port: {:<16}  queue-id:  1 (enabled)", h1.port);
    assert!(
        fv.wait_until(Duration::from_secs(10), || fv
            .appctl_ok(&["dpif-netdev/pmd-rxq-show"])
            .contains(&q1)),
        "{}",
        fv.appctl_ok(&["dpif-netdev/pmd-rxq-show"])
    );
    assert_eq!(
        fv.vsctl_ok(&["get", "Interface", &h1.port, "error"]).trim(),
        "[]"
    );
    ping_ok(&h1.ns, &h2.v4());
    ping_ok(&h2.ns, &h1.v6());
    tcp_intact(&fv, &h1.ns, &h2.ns, &h2.v4(), 7311, 4 << 20);
    tcp_intact(&fv, &h2.ns, &h1.ns, &h1.v4(), 7312, 2 << 20);
    let st = fv.appctl_ok(&["dpif-netdev/pmd-stats-show"]);
    assert!(rx_per_pmd(&st).iter().sum::<u64>() > 50, "{st}");
}
