//! AF_XDP ports on veths, forwarded by a plain loop between two
//! namespaces with the kernel's default offloads: native mode against an
//! AF_PACKET port and against another AF_XDP port (ping, IPv6 ping, a
//! checked TCP transfer, UDP whose checksums the receiving stack checks,
//! iperf3), and generic mode (ping, UDP). The AF_XDP side cannot take
//! offloads, so GSO packets from the AF_PACKET side are segmented and
//! partial checksums finished in software on the way out. Needs root.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::ports::*;
use ferrovs_datapath::netdev::afpacket::AfPacketNetdev;
use ferrovs_datapath::netdev::afxdp::{AfXdpNetdev, AfXdpOptions, XdpMode};
use ferrovs_datapath::netdev::{open::open, Netdev, NetdevError};

fn xdp(name: &str, mode: XdpMode) -> anyhow::Result<AfXdpNetdev> {
    let o = AfXdpOptions {
        mode,
        ..AfXdpOptions::default()
    };
    Ok(AfXdpNetdev::open(name, &o)?)
}

#[test]
fn afxdp_native_to_afpacket_ping_tcp_udp() -> anyhow::Result<()> {
    let h1 = Host::veth("xn1", IP1, IP6_1)?;
    let h2 = Host::veth("xn2", IP2, IP6_2)?;
    let x = Arc::new(xdp(h1.outer(), XdpMode::Native)?);
    assert!(x.is_native());
    let a: Arc<dyn Netdev> = x.clone();
    let b: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open(h2.outer())?);
    let fwd = Forwarder::start(a.clone(), b.clone());
    ping(&h1, IP2)?;
    ping(&h1, IP6_2)?;
    assert_eq!(udp_exchange(&h1, &h2, IP2, 7301, 40, 1400)?, 40);
    assert_eq!(udp_exchange(&h2, &h1, IP1, 7302, 40, 1400)?, 40);
    // AF_PACKET -> AF_XDP: GSO segments cut in software.
    let bps = tcp_transfer(&h2, &h1, IP1, 7303, 32 << 20)?;
    eprintln!("TCP AF_PACKET -> AF_XDP(native): {:.2} Gbit/s", bps / 1e9);
    let bps = tcp_transfer(&h1, &h2, &format!("[{IP6_2}]"), 7304, 32 << 20)?;
    eprintln!(
        "TCP/IPv6 AF_XDP(native) -> AF_PACKET: {:.2} Gbit/s",
        bps / 1e9
    );
    let (ibps, bytes) = iperf3(&h2, &h1, IP1, 2)?;
    eprintln!(
        "iperf3 AF_PACKET -> AF_XDP(native): {:.2} Gbit/s",
        ibps / 1e9
    );
    assert!(bytes > 0);
    let st = fwd.stop();
    eprintln!(
        "forwarded {st:?}; drops a={:?} b={:?}",
        a.drops(),
        b.drops()
    );
    assert_eq!(a.drops().rx_invalid, 0);
    assert_eq!(a.drops().tx_offload_failed, 0);
    let (gso, csums) = x.software_offload_counts();
    eprintln!("software offload on the AF_XDP port: {gso} GSO packets segmented, {csums} checksums completed");
    assert!(
        gso > 0,
        "GSO packets from the veth reached the AF_XDP port and were cut"
    );
    assert!(csums > 0, "partial checksums were completed");
    Ok(())
}

#[test]
fn afxdp_native_to_afxdp_ping_tcp() -> anyhow::Result<()> {
    let h1 = Host::veth("xx1", IP1, IP6_1)?;
    let h2 = Host::veth("xx2", IP2, IP6_2)?;
    let a: Arc<dyn Netdev> = Arc::new(xdp(h1.outer(), XdpMode::BestEffort)?);
    let b: Arc<dyn Netdev> = Arc::new(xdp(h2.outer(), XdpMode::Native)?);
    let fwd = Forwarder::start(a.clone(), b.clone());
    ping(&h1, IP2)?;
    ping(&h2, IP6_1)?;
    assert_eq!(udp_exchange(&h1, &h2, IP2, 7401, 40, 900)?, 40);
    let bps = tcp_transfer(&h1, &h2, IP2, 7402, 32 << 20)?;
    eprintln!("TCP AF_XDP -> AF_XDP (native): {:.2} Gbit/s", bps / 1e9);
    fwd.stop();
    Ok(())
}

/// Generic mode: the veth peer keeps making 64 KiB GSO segments, which
/// reach the socket as descriptor chains and are cut to the MTU again.
#[test]
fn afxdp_generic_ping_udp_tcp() -> anyhow::Result<()> {
    let h1 = Host::veth("xg1", IP1, IP6_1)?;
    let h2 = Host::veth("xg2", IP2, IP6_2)?;
    let x = xdp(h1.outer(), XdpMode::Generic)?;
    assert!(!x.is_native());
    let a: Arc<dyn Netdev> = Arc::new(x);
    let b: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open(h2.outer())?);
    let fwd = Forwarder::start(a.clone(), b.clone());
    ping(&h1, IP2)?;
    ping(&h2, IP6_1)?;
    assert_eq!(udp_exchange(&h1, &h2, IP2, 7501, 40, 1000)?, 40);
    assert_eq!(udp_exchange(&h2, &h1, IP1, 7502, 40, 1000)?, 40);
    let bps = tcp_transfer(&h1, &h2, IP2, 7503, 16 << 20)?;
    eprintln!("TCP AF_XDP(generic) -> AF_PACKET: {:.2} Gbit/s", bps / 1e9);
    let bps = tcp_transfer(&h2, &h1, &format!("[{IP6_1}]"), 7504, 16 << 20)?;
    eprintln!(
        "TCP/IPv6 AF_PACKET -> AF_XDP(generic): {:.2} Gbit/s",
        bps / 1e9
    );
    fwd.stop();
    eprintln!("drops a={:?}", a.drops());
    Ok(())
}

#[test]
fn afxdp_options_and_open_errors() {
    let mut o = BTreeMap::new();
    o.insert("xdp-mode".to_string(), "sideways".to_string());
    assert!(matches!(
        AfXdpOptions::parse("x", &o),
        Err(NetdevError::BadOption { .. })
    ));
    o.insert("xdp-mode".to_string(), "generic".to_string());
    o.insert("n_rxq".to_string(), "2".to_string());
    o.insert("use-need-wakeup".to_string(), "false".to_string());
    let p = AfXdpOptions::parse("x", &o).unwrap();
    assert_eq!(
        p,
        AfXdpOptions {
            mode: XdpMode::Generic,
            n_rxq: 2,
            use_need_wakeup: false
        }
    );
    assert!(matches!(
        open("afxdp", "fvnonexist1", &BTreeMap::new()),
        Err(NetdevError::NoDevice(_))
    ));
    // A veth has one receive queue: asking for two cannot work.
    let h = Host::veth("xe1", IP1, IP6_1).unwrap();
    let mut o = BTreeMap::new();
    o.insert("n_rxq".to_string(), "2".to_string());
    match open("afxdp", h.outer(), &o) {
        Err(NetdevError::Unsupported { why, .. }) => eprintln!("refused as expected: {why}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened queue 1 of a one-queue veth"),
    }
    assert!(matches!(
        open("bogus", h.outer(), &BTreeMap::new()),
        Err(NetdevError::Unsupported { .. })
    ));
}

/// A VM on a tap (TSO and checksum offload negotiated) talks to a host
/// behind an AF_XDP port: the tap's GSO packets and partial checksums are
/// finished in software for AF_XDP, and the AF_XDP side's partial
/// checksums (detected) go to the tap as partial.
#[test]
fn tap_to_afxdp_ping_tcp_udp() -> anyhow::Result<()> {
    use ferrovs_datapath::netdev::tap::{TapKind, TapNetdev};
    let tname = format!("fvtx{}", ferrovs_tests::unique_suffix());
    let a: Arc<dyn Netdev> = Arc::new(TapNetdev::open(&tname, TapKind::Tap)?);
    let h1 = Host::tap("tx1", &tname, IP1, IP6_1)?;
    let h2 = Host::veth("tx2", IP2, IP6_2)?;
    let x = Arc::new(xdp(h2.outer(), XdpMode::Native)?);
    let b: Arc<dyn Netdev> = x.clone();
    let fwd = Forwarder::start(a.clone(), b.clone());
    ping(&h1, IP2)?;
    ping(&h2, IP6_1)?;
    assert_eq!(udp_exchange(&h1, &h2, IP2, 7601, 30, 1300)?, 30);
    assert_eq!(udp_exchange(&h2, &h1, IP1, 7602, 30, 1300)?, 30);
    let bps = tcp_transfer(&h1, &h2, IP2, 7603, 16 << 20)?;
    eprintln!("TCP tap -> AF_XDP: {:.2} Gbit/s", bps / 1e9);
    let bps = tcp_transfer(&h2, &h1, IP1, 7604, 16 << 20)?;
    eprintln!("TCP AF_XDP -> tap: {:.2} Gbit/s", bps / 1e9);
    fwd.stop();
    let (gso, csums) = x.software_offload_counts();
    eprintln!("AF_XDP port: {gso} GSO packets segmented, {csums} checksums completed");
    assert!(gso > 0 && csums > 0);
    Ok(())
}

/// A second AF_XDP port on an interface that already has one is refused
/// as busy, and the first keeps working.
#[test]
fn afxdp_second_open_is_busy() -> anyhow::Result<()> {
    let h1 = Host::veth("xb1", IP1, IP6_1)?;
    let first = xdp(h1.outer(), XdpMode::Native)?;
    match xdp(h1.outer(), XdpMode::Native) {
        Err(e) => {
            let e = e.downcast::<NetdevError>()?;
            assert!(matches!(e, NetdevError::Busy(_)), "got {e}");
        }
        Ok(_) => panic!("second AF_XDP port on the same interface opened"),
    }
    drop(first);
    // Once the first is closed (its link detached, its socket's queue
    // binding released, which the kernel may finish a little later) the
    // interface is free again.
    let t0 = std::time::Instant::now();
    loop {
        match xdp(h1.outer(), XdpMode::Native) {
            Ok(again) => {
                assert!(again.is_native());
                break;
            }
            Err(e) if t0.elapsed() < std::time::Duration::from_secs(3) => {
                eprintln!("reopen not yet possible: {e}");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
