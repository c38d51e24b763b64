//! Native tunnelling between network namespaces: a ferrovs host and a
//! kernel VXLAN endpoint (ping and TCP both ways, IPv4 and IPv6
//! underlays, wrong VNI), and two ferrovs hosts over GRE and Geneve. Next
//! hops are learned by ARP and neighbour discovery, never set by hand.

use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;

/// Sends 2,000,000 bytes over TCP from `client` to a server in `server`
/// listening on `addr`; returns what the server received.
fn tcp(server: &ferrovs_tests::Netns, client: &ferrovs_tests::Netns, addr: &str) -> usize {
    let srv = format!(
        "import socket\n\
         s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{addr}', 5001)); s.listen(1); s.settimeout(20); print('ready', flush=True)\n\
         c,_=s.accept(); c.settimeout(20); n=0\n\
         while True:\n\
         \x20   b=c.recv(65536)\n\
         \x20   if not b: break\n\
         \x20   n+=len(b)\n\
         print(n, flush=True)\n"
    );
    let (_child, lines) =
        ferrovs_tests::spawn_lines(std::process::Command::new(ferrovs_tests::tool("ip")).args([
            "netns",
            "exec",
            server.name(),
            "python3",
            "-c",
            &srv,
        ]))
        .unwrap();
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("ready")
    );
    let cli = format!(
        "import socket\ns=socket.create_connection(('{addr}', 5001), timeout=20)\n\
         s.sendall(b'x'*2000000); s.close()\n"
    );
    client.exec(&["python3", "-c", &cli]).unwrap();
    lines
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .parse()
        .unwrap()
}

/// Pings `dst` from `ns`: up to 10 tries of one echo (the first packets
/// wait for ARP on both layers).
fn ping(ns: &ferrovs_tests::Netns, dst: &str) -> bool {
    (0..10).any(|_| ns.exec(&["ping", "-c", "1", "-W", "1", dst]).is_ok())
}

/// A ferrovs host and a kernel VXLAN endpoint (a `vxlan` device in a
/// Linux bridge, as a Linux-bridge agent's compute node) on VNI 100 carry
/// ping both ways over a veth underlay. Nothing is set by hand on the
/// ferrovs side but the route the kernel already has: the next hop's MAC
/// is learned by ARP (request sent out of br0, reply snooped). After the
/// ferrovs port moves to VNI 101, nothing crosses. Then the same over an
/// IPv6 underlay (next hop learned by neighbour discovery).
#[test]
fn kernel_vxlan_interop() {
    use ferrovs_tests::{Netns, Veth};
    let fv = FerrovsVswitchd::start().unwrap();
    let h1 = fv.netns();
    let kern = Netns::new("kvx").unwrap();
    let vm = Netns::new("vm").unwrap();
    // Underlay: ferrovs's p0 <-> the kernel host's 198.18.10.2.
    let under = Veth::new("u").unwrap();
    under.attach_b(&kern, "198.18.10.2/24").unwrap();
    // The underlay stands for a wire: frames no larger than its MTU. (A
    // veth would otherwise hand the kernel's UDP-tunnel GSO super-packets
    // across whole, which AF_PACKET cannot describe to a user-space
    // switch and drops.)
    kern.exec(&["ethtool", "-K", &under.b, "tso", "off", "gso", "off"])
        .unwrap();
    let ip = |ns: &Netns, a: &[&str]| {
        let mut v = vec!["ip"];
        v.extend_from_slice(a);
        ns.exec(&v).unwrap();
    };
    let root_ip = |a: &[&str]| {
        let st = std::process::Command::new(ferrovs_tests::tool("ip"))
            .args(a)
            .status()
            .unwrap();
        assert!(st.success(), "ip {a:?}");
    };
    root_ip(&["link", "set", &under.a, "netns", h1.name()]);
    ip(h1, &["link", "set", &under.a, "up"]);
    // The VM: 198.18.20.1 behind a system port of br-int.
    let vmlink = Veth::new("v").unwrap();
    vmlink.attach_b(&vm, "198.18.20.1/24").unwrap();
    root_ip(&["link", "set", &vmlink.a, "netns", h1.name()]);
    ip(h1, &["link", "set", &vmlink.a, "up"]);
    // Kernel side: vxlan device + Linux bridge holding 198.18.20.2.
    ip(
        &kern,
        &[
            "link",
            "add",
            "vx0",
            "type",
            "vxlan",
            "id",
            "100",
            "remote",
            "198.18.10.1",
            "local",
            "198.18.10.2",
            "dstport",
            "4789",
            "dev",
            &under.b,
        ],
    );
    ip(&kern, &["link", "add", "kbr", "type", "bridge"]);
    // A fixed address: a bridge otherwise takes its lowest port's, which
    // changes when the vxlan device is replaced below.
    ip(
        &kern,
        &["link", "set", "kbr", "address", "02:00:00:00:20:02"],
    );
    ip(&kern, &["link", "set", "vx0", "master", "kbr"]);
    ip(&kern, &["addr", "add", "198.18.20.2/24", "dev", "kbr"]);
    ip(&kern, &["link", "set", "vx0", "up"]);
    ip(&kern, &["link", "set", "kbr", "up"]);

    fv.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "fail_mode=standalone",
        "--",
        "add-port",
        "br0",
        &under.a,
        "--",
        "add-br",
        "br-int",
        "--",
        "set",
        "bridge",
        "br-int",
        "datapath_type=netdev",
        "fail_mode=standalone",
        "--",
        "add-port",
        "br-int",
        &vmlink.a,
        "--",
        "add-port",
        "br-int",
        "t1",
        "--",
        "set",
        "Interface",
        "t1",
        "type=vxlan",
        "options:remote_ip=198.18.10.2",
        "options:key=100",
    ]);
    ip(h1, &["addr", "add", "198.18.10.1/24", "dev", "br0"]);
    ip(h1, &["link", "set", "br0", "up"]);
    assert!(
        ping(&vm, "198.18.20.2"),
        "VM -> kernel bridge over VXLAN\n{}\n{}\n{}",
        fv.appctl_ok(&["dpif/show"]),
        fv.appctl_ok(&["tnl/neigh/show"]),
        fv.log()
    );
    assert!(ping(&kern, "198.18.20.1"), "kernel -> VM over VXLAN");
    // TCP both ways with the devices' default offloads (the VM has the
    // 1450-byte MTU a VXLAN network gives it).
    ip(&vm, &["link", "set", &vmlink.b, "mtu", "1450"]);
    assert_eq!(tcp(&kern, &vm, "198.18.20.2"), 2_000_000, "VM -> kernel");
    assert_eq!(tcp(&vm, &kern, "198.18.20.1"), 2_000_000, "kernel -> VM");
    let neigh = fv.appctl_ok(&["tnl/neigh/show"]);
    assert!(
        neigh
            .lines()
            .any(|l| l.starts_with("198.18.10.2 ") && l.ends_with(" br0")),
        "next hop learned by snooping:\n{neigh}"
    );
    assert!(fv.appctl_ok(&["tnl/ports/show"]).contains("vxlan_sys_4789"));

    // Wrong VNI: no traffic either way.
    fv.vsctl_ok(&["set", "Interface", "t1", "options:key=101"]);
    fv.appctl_ok(&["revalidator/wait"]);
    ip(&vm, &["neigh", "flush", "all"]);
    ip(&kern, &["neigh", "flush", "dev", "kbr"]);
    for _ in 0..3 {
        assert!(vm
            .exec(&["ping", "-c", "1", "-W", "1", "198.18.20.2"])
            .is_err());
        assert!(kern
            .exec(&["ping", "-c", "1", "-W", "1", "198.18.20.1"])
            .is_err());
    }
    // Back on the right VNI, it works again.
    fv.vsctl_ok(&["set", "Interface", "t1", "options:key=100"]);
    assert!(ping(&vm, "198.18.20.2"), "VNI 100 again");

    // The same over an IPv6 underlay (the outer UDP checksum is then
    // mandatory, and the kernel checks it).
    ip(&kern, &["link", "del", "vx0"]);
    ip(
        &kern,
        &[
            "-6",
            "addr",
            "add",
            "2001:db8:10::2/64",
            "dev",
            &under.b,
            "nodad",
        ],
    );
    ip(
        h1,
        &[
            "-6",
            "addr",
            "add",
            "2001:db8:10::1/64",
            "dev",
            "br0",
            "nodad",
        ],
    );
    ip(
        &kern,
        &[
            "link",
            "add",
            "vx6",
            "type",
            "vxlan",
            "id",
            "100",
            "remote",
            "2001:db8:10::1",
            "local",
            "2001:db8:10::2",
            "dstport",
            "4789",
            "dev",
            &under.b,
        ],
    );
    ip(&kern, &["link", "set", "vx6", "master", "kbr"]);
    ip(&kern, &["link", "set", "vx6", "up"]);
    fv.vsctl_ok(&["set", "Interface", "t1", "options:remote_ip=2001:db8:10::2"]);
    if !ping(&vm, "198.18.20.2") {
        let mac = h1.exec(&["cat", "/sys/class/net/br0/address"]).unwrap();
        let outer = format!(
            "in_port={},dl_dst={},udp6,ipv6_src=2001:db8:10::2,ipv6_dst=2001:db8:10::1,udp_dst=4789",
            under.a,
            mac.trim()
        );
        panic!(
            "VM -> kernel over VXLAN/IPv6\n{}\n{}\n{}\n{}\n{}",
            fv.appctl_ok(&["tnl/neigh/show"]),
            fv.appctl_ok(&["ofproto/trace", "br0", &outer]),
            fv.appctl_ok(&["dpif/show"]),
            fv.appctl_ok(&["fdb/show", "br-int"]),
            kern.exec(&["ip", "-s", "link", "show", "vx6"])
                .unwrap_or_default()
                + &kern.exec(&["ip", "-6", "neigh"]).unwrap_or_default()
                + &kern
                    .exec(&["ip", "-s", "link", "show", &under.b])
                    .unwrap_or_default()
                + &h1
                    .exec(&["ip", "-s", "link", "show", &under.a])
                    .unwrap_or_default()
                + &vm.exec(&["ip", "neigh"]).unwrap_or_default()
        );
    }
    assert!(ping(&kern, "198.18.20.1"), "kernel -> VM over VXLAN/IPv6");
    assert_eq!(tcp(&kern, &vm, "198.18.20.2"), 2_000_000, "TCP over IPv6");
}

/// One ferrovs hypervisor of [`ferrovs_to_ferrovs_gre_and_geneve`]: its
/// switch, its VM namespace and the VM's link.
struct Hv {
    fv: FerrovsVswitchd,
    vm: ferrovs_tests::Netns,
    _vmlink: ferrovs_tests::Veth,
}

fn hypervisor(n: u8, underlay_end: &str) -> Hv {
    use ferrovs_tests::{Netns, Veth};
    let fv = FerrovsVswitchd::start().unwrap();
    let vm = Netns::new(&format!("vm{n}")).unwrap();
    let vmlink = Veth::new(&format!("v{n}")).unwrap();
    vmlink.attach_b(&vm, &format!("198.18.40.{n}/24")).unwrap();
    for dev in [underlay_end, vmlink.a.as_str()] {
        let st = std::process::Command::new(ferrovs_tests::tool("ip"))
            .args(["link", "set", dev, "netns", fv.netns().name()])
            .status()
            .unwrap();
        assert!(st.success());
        fv.netns().exec(&["ip", "link", "set", dev, "up"]).unwrap();
    }
    // The underlay NIC sits under br0 with no address: its kernel side must
    // not answer ARP for br0's address, nor speak IPv6, or peers may learn
    // its MAC and send the tunnel traffic to the kernel instead of br0.
    let ns = fv.netns();
    ns.exec(&[
        "sysctl",
        "-qw",
        &format!("net.ipv4.conf.{underlay_end}.arp_ignore=1"),
    ])
    .unwrap();
    ns.exec(&[
        "sysctl",
        "-qw",
        &format!("net.ipv6.conf.{underlay_end}.disable_ipv6=1"),
    ])
    .unwrap();
    fv.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "fail_mode=standalone",
        "--",
        "add-port",
        "br0",
        underlay_end,
        "--",
        "add-br",
        "br-int",
        "--",
        "set",
        "bridge",
        "br-int",
        "datapath_type=netdev",
        "fail_mode=standalone",
        "--",
        "add-port",
        "br-int",
        &vmlink.a,
    ]);
    let ns = fv.netns();
    ns.exec(&[
        "ip",
        "addr",
        "add",
        &format!("198.18.30.{n}/24"),
        "dev",
        "br0",
    ])
    .unwrap();
    ns.exec(&[
        "ip",
        "-6",
        "addr",
        "add",
        &format!("2001:db8:30::{n}/64"),
        "dev",
        "br0",
        "nodad",
    ])
    .unwrap();
    ns.exec(&["ip", "link", "set", "br0", "up"]).unwrap();
    Hv {
        fv,
        vm,
        _vmlink: vmlink,
    }
}

/// Two ferrovs hosts carry ping between their VMs over GRE (IPv4
/// underlay, key 7) and then Geneve (IPv6 underlay, VNI 9); next hops
/// are learned by ARP and neighbour discovery. A key mismatch carries
/// nothing. (The kernel here has no gretap or geneve devices to test
/// against.)
/// Adds tunnel port `tun` of type `kind` to `h`'s br-int, with the
/// further `Interface` settings `extra`.
fn add_tunnel(h: &Hv, kind: &str, remote: &str, key: &str, extra: &[&str]) {
    let (kind, remote, key) = (
        format!("type={kind}"),
        format!("options:remote_ip={remote}"),
        format!("options:key={key}"),
    );
    let mut args = vec![
        "add-port",
        "br-int",
        "tun",
        "--",
        "set",
        "Interface",
        "tun",
        &kind,
        &remote,
        &key,
    ];
    args.extend_from_slice(extra);
    h.fv.vsctl_ok(&args);
}

#[test]
fn ferrovs_to_ferrovs_gre_and_geneve() {
    let under = ferrovs_tests::Veth::new("g").unwrap();
    let h1 = hypervisor(1, &under.a);
    let h2 = hypervisor(2, &under.b);
    add_tunnel(&h1, "gre", "198.18.30.2", "7", &[]);
    add_tunnel(&h2, "gre", "198.18.30.1", "7", &[]);
    assert!(
        ping(&h1.vm, "198.18.40.2"),
        "VM1 -> VM2 over GRE\n{}\n{}",
        h1.fv.appctl_ok(&["tnl/neigh/show"]),
        h1.fv.appctl_ok(&["dpif/show"])
    );
    assert!(ping(&h2.vm, "198.18.40.1"), "VM2 -> VM1 over GRE");
    // A key mismatch: nothing crosses.
    h2.fv
        .vsctl_ok(&["set", "Interface", "tun", "options:key=8"]);
    h2.fv.appctl_ok(&["revalidator/wait"]);
    h1.fv.appctl_ok(&["revalidator/wait"]);
    for _ in 0..2 {
        assert!(h1
            .vm
            .exec(&["ping", "-c", "1", "-W", "1", "198.18.40.2"])
            .is_err());
    }
    for h in [&h1, &h2] {
        h.fv.vsctl_ok(&["del-port", "br-int", "tun"]);
    }
    add_tunnel(&h1, "geneve", "2001:db8:30::2", "9", &[]);
    add_tunnel(&h2, "geneve", "2001:db8:30::1", "9", &[]);
    assert!(
        ping(&h1.vm, "198.18.40.2"),
        "VM1 -> VM2 over Geneve/IPv6\n{}\n{}",
        h1.fv.appctl_ok(&["tnl/neigh/show"]),
        h1.fv.appctl_ok(&["ovs/route/show"])
    );
    assert!(ping(&h2.vm, "198.18.40.1"), "VM2 -> VM1 over Geneve/IPv6");
    let neigh = h1.fv.appctl_ok(&["tnl/neigh/show"]);
    assert!(neigh.contains("2001:db8:30::2"), "learned by ND:\n{neigh}");
}

/// Two ferrovs hosts over Geneve with an option: each VM's traffic leaves
/// with `tun_metadata0` set (a 4-byte option of class 0xffff, type 0x80)
/// and the other host takes from the tunnel only what matches
/// `tun_metadata0=0xa/0xf`, dropping the rest. Ping crosses; the
/// decapsulated megaflow matches the option's bytes, printed by
/// `dpctl/dump-flows` as OVS prints them; a frame too big for the
/// underlay once encapsulated does not cross, one that fits does; once
/// host 1 sends 0x1b, nothing crosses.
#[test]
fn ferrovs_to_ferrovs_geneve_options() {
    let under = ferrovs_tests::Veth::new("o").unwrap();
    let h1 = hypervisor(1, &under.a);
    let h2 = hypervisor(2, &under.b);
    let tlv = "{class=0xffff,type=0x80,len=4}->tun_metadata0";
    let flows = |h: &Hv, send: &str| {
        let f = h.fv.ofctl(&[], "del-flows", "br-int", &[]);
        assert!(f.status.success());
        for flow in [
            format!("priority=10,in_port=1,actions=set_field:{send}->tun_metadata0,output:10"),
            "priority=10,in_port=10,tun_metadata0=0xa/0xf,actions=output:1".to_string(),
            "priority=5,in_port=10,actions=drop".to_string(),
        ] {
            let out = h.fv.ofctl(&[], "add-flow", "br-int", &[&flow]);
            assert!(
                out.status.success(),
                "{flow}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    for (h, remote) in [(&h1, "198.18.30.2"), (&h2, "198.18.30.1")] {
        add_tunnel(h, "geneve", remote, "9", &["ofport_request=10"]);
        let out = h.fv.ofctl(&[], "add-tlv-map", "br-int", &[tlv]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        flows(h, "0x1a");
    }
    assert!(
        ping(&h1.vm, "198.18.40.2"),
        "VM1 -> VM2 over Geneve with an option\n{}\n{}",
        h2.fv.appctl_ok(&["dpctl/dump-flows"]),
        h2.fv.appctl_ok(&[
            "ofproto/trace",
            "br-int",
            "in_port=10,tun_id=9,tun_src=198.18.30.1,tun_dst=198.18.30.2,tun_metadata0=0x1a"
        ])
    );
    assert!(
        ping(&h2.vm, "198.18.40.1"),
        "VM2 -> VM1 over Geneve with an option"
    );
    let dump = h2.fv.appctl_ok(&["dpctl/dump-flows"]);
    assert!(
        dump.lines().any(|l| l
            .contains("geneve({class=0xffff,type=0x80,len=4,0xa/0xf}),flags(+key))")
            && l.contains("actions:")
            && !l.ends_with("actions:drop")),
        "the decapsulated megaflow matches the option:\n{dump}"
    );
    // MTU, as OVS's userspace datapath: a frame that no longer fits the
    // underlay once encapsulated is dropped at the underlay port (no
    // fragmenting, no ICMP; the port's count of it is checked in the
    // datapath's afpacket test); one that fits goes.
    let big = |size: &str| {
        h1.vm
            .exec(&[
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "-M",
                "do",
                "-s",
                size,
                "198.18.40.2",
            ])
            .is_ok()
    };
    assert!(
        !big("1472"),
        "1514-byte frame + 58 bytes of Geneve over a 1500 MTU"
    );
    assert!(big("1414"), "1456-byte frame + 58 = 1514: fits");
    // The option no longer matches on host 2: nothing crosses.
    flows(&h1, "0x1b");
    h1.fv.appctl_ok(&["revalidator/wait"]);
    for _ in 0..2 {
        assert!(h1
            .vm
            .exec(&["ping", "-c", "1", "-W", "1", "198.18.40.2"])
            .is_err());
    }
    let dump = h2.fv.appctl_ok(&["dpctl/dump-flows"]);
    assert!(
        dump.lines().any(|l| l
            .contains("geneve({class=0xffff,type=0x80,len=4,0xb/0xf}),flags(+key))")
            && l.ends_with("actions:drop")),
        "the mismatching option's megaflow drops:\n{dump}"
    );
}

/// Two ferrovs hosts over GRE with `packet_type=legacy_l3` (IP without
/// Ethernet inside, GRE protocol 0x0800): the VMs' frames lose their
/// Ethernet header before the push (`pop_eth`), the decapsulated L3
/// packet gets one back on output to the VM (`push_eth`) with the
/// addresses br-int's flows set. Ping crosses both ways; the
/// decapsulated megaflow is an L3 one (`packet_type(ns=1,id=0x800)`,
/// no `eth(...)`); a key mismatch carries nothing. (This kernel has no
/// `gre` device to test against, as for gretap above.)
#[test]
fn ferrovs_to_ferrovs_gre_legacy_l3() {
    let under = ferrovs_tests::Veth::new("l").unwrap();
    let h1 = hypervisor(1, &under.a);
    let h2 = hypervisor(2, &under.b);
    // The VM's interface (the only one besides lo) and its MAC.
    let vm_dev = |h: &Hv| -> String {
        h.vm.exec(&["ls", "/sys/class/net"])
            .unwrap()
            .split_whitespace()
            .find(|d| *d != "lo")
            .unwrap()
            .to_string()
    };
    let mac = |h: &Hv| -> String {
        h.vm.exec(&["cat", &format!("/sys/class/net/{}/address", vm_dev(h))])
            .unwrap()
            .trim()
            .to_string()
    };
    let (m1, m2) = (mac(&h1), mac(&h2));
    for (h, me, remote, peer, peer_mac) in [
        (&h1, &m1, "198.18.30.2", "198.18.40.2", &m2),
        (&h2, &m2, "198.18.30.1", "198.18.40.1", &m1),
    ] {
        add_tunnel(h, "gre", remote, "7", &["options:packet_type=legacy_l3"]);
        // No ARP over an L3 tunnel: the VM knows its peer's MAC.
        h.vm.exec(&[
            "ip",
            "neigh",
            "replace",
            peer,
            "lladdr",
            peer_mac,
            "dev",
            &vm_dev(h),
        ])
        .unwrap();
        let f = h.fv.ofctl(&[], "del-flows", "br-int", &[]);
        assert!(f.status.success());
        let vm_if =
            h.fv.vsctl_ok(&["list-ports", "br-int"])
                .lines()
                .find(|p| *p != "tun")
                .unwrap()
                .to_string();
        for flow in [
            format!("priority=10,in_port={vm_if},ip,actions=output:tun"),
            format!(
                "priority=10,in_port=tun,ip,actions=set_field:{peer_mac}->dl_src,set_field:{me}->dl_dst,output:{vm_if}"
            ),
        ] {
            let f = h.fv.ofctl(&[], "add-flow", "br-int", &[&flow]);
            assert!(
                f.status.success(),
                "{flow}: {}",
                String::from_utf8_lossy(&f.stderr)
            );
        }
    }
    assert!(
        ping(&h1.vm, "198.18.40.2"),
        "VM1 -> VM2 over L3 GRE\n{}\n{}",
        h1.fv.appctl_ok(&["dpctl/dump-flows"]),
        h2.fv.appctl_ok(&["dpctl/dump-flows"])
    );
    assert!(ping(&h2.vm, "198.18.40.1"), "VM2 -> VM1 over L3 GRE");
    let flows = h2.fv.appctl_ok(&["dpctl/dump-flows"]);
    let l3 = flows
        .lines()
        .find(|l| l.contains("packet_type(ns=1,id=0x800)"))
        .unwrap_or_else(|| panic!("no L3 megaflow:\n{flows}"));
    let (key, actions) = l3.split_once(" actions:").unwrap();
    assert!(!key.contains("eth("), "{l3}");
    assert!(actions.starts_with("push_eth(src="), "{l3}");
    assert!(
        flows
            .lines()
            .any(|l| l.contains("pop_eth,tnl_push(") && l.contains("proto=0x800")),
        "{flows}"
    );
    // A key mismatch: nothing crosses.
    h2.fv
        .vsctl_ok(&["set", "Interface", "tun", "options:key=8"]);
    h2.fv.appctl_ok(&["revalidator/wait"]);
    h1.fv.appctl_ok(&["revalidator/wait"]);
    for _ in 0..2 {
        assert!(h1
            .vm
            .exec(&["ping", "-c", "1", "-W", "1", "198.18.40.2"])
            .is_err());
    }
}
