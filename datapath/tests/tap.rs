//! Tap and internal ports, forwarded by a plain loop: a host on a tap
//! talks to a host on a veth (AF_PACKET) and to a host on another tap,
//! with the offloads the tap negotiated (checksum, TSO) and the veth's
//! defaults; an internal port with an address in the root namespace
//! reaches a namespace. Needs root.

mod common;

use std::sync::Arc;

use common::ports::*;
use ferrovs_datapath::netdev::afpacket::AfPacketNetdev;
use ferrovs_datapath::netdev::tap::{TapKind, TapNetdev};
use ferrovs_datapath::netdev::Netdev;

fn tap_name(tag: &str) -> String {
    format!("fvt{tag}{}", ferrovs_tests::unique_suffix())
}

#[test]
fn tap_to_afpacket_ping_tcp_udp() -> anyhow::Result<()> {
    let tname = tap_name("a");
    let tap = TapNetdev::open(&tname, TapKind::Tap)?;
    assert_ne!(tap.offloads() & 0x02, 0, "TSO4 negotiated");
    eprintln!("tap offloads negotiated: {:#x}", tap.offloads());
    let a: Arc<dyn Netdev> = Arc::new(tap);
    let h1 = Host::tap("tp1", &tname, IP1, IP6_1)?;
    let h2 = Host::veth("tp2", IP2, IP6_2)?;
    let b: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open(h2.outer())?);
    let fwd = Forwarder::start(a.clone(), b.clone());
    ping(&h1, IP2)?;
    ping(&h2, IP6_1)?;
    let bps = tcp_transfer(&h1, &h2, IP2, 7101, 32 << 20)?;
    eprintln!("TCP tap -> AF_PACKET: {:.2} Gbit/s", bps / 1e9);
    let bps = tcp_transfer(&h2, &h1, IP1, 7102, 32 << 20)?;
    eprintln!("TCP AF_PACKET -> tap: {:.2} Gbit/s", bps / 1e9);
    assert_eq!(udp_exchange(&h1, &h2, IP2, 7103, 30, 1200)?, 30);
    assert_eq!(udp_exchange(&h2, &h1, IP1, 7104, 30, 1200)?, 30);
    let st = fwd.stop();
    eprintln!("forwarded {st:?}");
    assert_eq!(a.drops().rx_invalid + b.drops().rx_invalid, 0);
    Ok(())
}

#[test]
fn tap_to_tap_ping_tcp() -> anyhow::Result<()> {
    let (n1, n2) = (tap_name("b"), tap_name("c"));
    let a: Arc<dyn Netdev> = Arc::new(TapNetdev::open(&n1, TapKind::Tap)?);
    let b: Arc<dyn Netdev> = Arc::new(TapNetdev::open(&n2, TapKind::Tap)?);
    let h1 = Host::tap("tt1", &n1, IP1, IP6_1)?;
    let h2 = Host::tap("tt2", &n2, IP2, IP6_2)?;
    let fwd = Forwarder::start(a.clone(), b.clone());
    ping(&h1, IP2)?;
    ping(&h1, IP6_2)?;
    let bps = tcp_transfer(&h1, &h2, IP2, 7201, 32 << 20)?;
    eprintln!("TCP tap -> tap: {:.2} Gbit/s", bps / 1e9);
    assert_eq!(udp_exchange(&h2, &h1, IP1, 7202, 30, 600)?, 30);
    fwd.stop();
    Ok(())
}

#[test]
fn internal_port_with_address_reaches_a_namespace() -> anyhow::Result<()> {
    let iname = tap_name("i");
    let a: Arc<dyn Netdev> = Arc::new(TapNetdev::open(&iname, TapKind::Internal)?);
    // The internal port lives in this (root) namespace, as a bridge's
    // LOCAL port does; its address goes away with the device.
    let out = std::process::Command::new("ip")
        .args(["addr", "add", "198.19.213.1/24", "dev", &iname])
        .output()?;
    anyhow::ensure!(out.status.success(), "{out:?}");
    // Internal ports start down, as in OVS: the host brings them up.
    let out = std::process::Command::new("ip")
        .args(["link", "set", &iname, "up"])
        .output()?;
    anyhow::ensure!(out.status.success(), "{out:?}");
    let h2 = Host::veth("in2", "198.19.213.2", IP6_2)?;
    let b: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open(h2.outer())?);
    let fwd = Forwarder::start(a, b);
    let out = std::process::Command::new(ferrovs_tests::tool("ping"))
        .args([
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "-w",
            "10",
            "198.19.213.2",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(text.contains(" 0% packet loss"), "ping: {text}");
    fwd.stop();
    Ok(())
}

#[test]
fn tap_already_attached_is_busy() -> anyhow::Result<()> {
    use ferrovs_datapath::netdev::NetdevError;
    let name = tap_name("d");
    let _first = TapNetdev::open(&name, TapKind::Tap)?;
    match TapNetdev::open(&name, TapKind::Tap) {
        Err(NetdevError::Busy(d)) => assert_eq!(d, name),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened an attached tap twice"),
    }
    Ok(())
}

/// An idle PMD's sleep: the waiter times out with nothing to read, wakes
/// when a frame arrives on a tap queue (the host stack sends one), and
/// wakes when its waker fires.
#[test]
fn rx_waiter_sleeps_until_a_queue_is_readable() -> anyhow::Result<()> {
    use ferrovs_datapath::batch::PacketBatch;
    use ferrovs_datapath::netdev::wait::RxWaiter;
    use ferrovs_datapath::packet::PacketPool;
    use std::time::{Duration, Instant};
    let name = tap_name("w");
    let tap = Arc::new(TapNetdev::open(&name, TapKind::Tap)?);
    let h = Host::tap("tw1", &name, IP1, IP6_1)?;
    // No IPv6 chatter (router solicitations, MLD) during the idle wait.
    h.ns.exec(&[
        "sysctl",
        "-qw",
        &format!("net.ipv6.conf.{name}.disable_ipv6=1"),
    ])?;
    let mut w = RxWaiter::new()?;
    assert!(w.set_fds([tap.rx_fd(0)]));
    // Drain what the stack sent when the link came up (IPv6 is on).
    let (mut batch, mut pool) = (PacketBatch::new(), PacketPool::new(64));
    std::thread::sleep(Duration::from_millis(200));
    while tap.recv(0, 1, &mut batch, &mut pool)? > 0 {
        batch.drain().for_each(drop);
    }
    let t0 = Instant::now();
    assert!(
        !w.wait(Duration::from_millis(100)),
        "idle queue woke the waiter"
    );
    assert!(t0.elapsed() >= Duration::from_millis(90));
    // The namespace sends an ARP request out of the tap.
    let pinger = std::thread::spawn({
        let ns = h.ns.name().to_string();
        move || {
            let _ = std::process::Command::new("ip")
                .args(["netns", "exec", &ns, "ping", "-c", "1", "-W", "1", IP2])
                .output();
        }
    });
    assert!(
        w.wait(Duration::from_secs(3)),
        "frame did not wake the waiter"
    );
    assert!(tap.recv(0, 1, &mut batch, &mut pool)? > 0);
    batch.drain().for_each(drop);
    pinger.join().unwrap();
    while tap.recv(0, 1, &mut batch, &mut pool)? > 0 {
        batch.drain().for_each(drop);
    }
    let waker = w.waker();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        waker.wake();
    });
    let t0 = Instant::now();
    assert!(w.wait(Duration::from_secs(3)));
    assert!(t0.elapsed() < Duration::from_secs(2));
    // A queue without a descriptor makes the set unusable.
    assert!(!w.set_fds([tap.rx_fd(0), None]));
    Ok(())
}
