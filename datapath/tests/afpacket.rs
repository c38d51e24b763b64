//! AF_PACKET ports with vnet headers, forwarded by a plain loop between
//! two namespaces, with the kernel's default offloads on the veths: ping,
//! IPv6 ping, a TCP transfer whose bytes are checked, iperf3, and UDP
//! whose checksums the receiving stack verifies. Needs root.

mod common;

use std::sync::Arc;

use common::ports::*;
use ferrovs_datapath::netdev::afpacket::{AfPacketNetdev, RxMode};
use ferrovs_datapath::netdev::{Netdev, NetdevError};

#[test]
fn afpacket_mmsg_ping_tcp_udp_with_default_offloads() -> anyhow::Result<()> {
    scenario(RxMode::Mmsg)
}

#[test]
fn afpacket_tpacket_v3_ping_tcp_udp_with_default_offloads() -> anyhow::Result<()> {
    scenario(RxMode::TpacketV3)
}

fn scenario(mode: RxMode) -> anyhow::Result<()> {
    let h1 = Host::veth("ap1", IP1, IP6_1)?;
    let h2 = Host::veth("ap2", IP2, IP6_2)?;
    let a: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open_with(h1.outer(), mode)?);
    let b: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open_with(h2.outer(), mode)?);
    let fwd = Forwarder::start(a.clone(), b.clone());
    ping(&h1, IP2)?;
    ping(&h1, IP6_2)?;
    let bps = tcp_transfer(&h1, &h2, IP2, 7001, 64 << 20)?;
    eprintln!(
        "TCP transfer over AF_PACKET ({mode:?}): {:.2} Gbit/s",
        bps / 1e9
    );
    let bps6 = tcp_transfer(&h2, &h1, &format!("[{IP6_1}]"), 7002, 16 << 20)?;
    eprintln!("TCP/IPv6 transfer over AF_PACKET: {:.2} Gbit/s", bps6 / 1e9);
    let got = udp_exchange(&h1, &h2, IP2, 7003, 50, 1000)?;
    assert_eq!(got, 50, "UDP datagrams with good checksums");
    let (ibps, bytes) = iperf3(&h1, &h2, IP2, 2)?;
    eprintln!(
        "iperf3 over AF_PACKET: {:.2} Gbit/s, {bytes} bytes",
        ibps / 1e9
    );
    assert!(bytes > 0);
    let st = fwd.stop();
    eprintln!(
        "forwarded {st:?}; drops a={:?} b={:?}",
        a.drops(),
        b.drops()
    );
    assert_eq!(a.drops().rx_invalid + b.drops().rx_invalid, 0);
    Ok(())
}

#[test]
fn afpacket_open_errors_are_typed() {
    match AfPacketNetdev::open("fvnonexist0") {
        Err(NetdevError::NoDevice(d)) => assert_eq!(d, "fvnonexist0"),
        Err(e) => panic!("wrong error {e:?}"),
        Ok(_) => panic!("opened a missing device"),
    }
}
