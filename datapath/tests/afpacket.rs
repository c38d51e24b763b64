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

/// Sends `frame` as is out of interface `ifname` of the calling thread's
/// namespace through a raw packet socket.
fn send_raw(ifname: &str, frame: &[u8]) -> std::io::Result<()> {
    let c = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: plain system calls with valid arguments; the socket is
    // closed before returning.
    unsafe {
        let idx = libc::if_nametoindex(c.as_ptr());
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        if fd < 0 || idx == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = idx as i32;
        sll.sll_halen = 6;
        let r = libc::sendto(
            fd,
            frame.as_ptr() as *const libc::c_void,
            frame.len(),
            0,
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        let e = std::io::Error::last_os_error();
        libc::close(fd);
        if r < 0 {
            return Err(e);
        }
    }
    Ok(())
}

/// An 802.1Q-tagged frame sent into the veth arrives at the port with
/// its tag in the frame, although the kernel takes tags out of the frame
/// before packet sockets see them (both receive modes).
#[test]
fn afpacket_restores_vlan_tags() -> anyhow::Result<()> {
    use ferrovs_datapath::batch::PacketBatch;
    use ferrovs_datapath::packet::PacketPool;
    for mode in [RxMode::TpacketV3, RxMode::Mmsg] {
        let h1 = Host::veth("av1", IP1, IP6_1)?;
        h1.ns.exec(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", h1.ifname),
        ])?;
        let a = AfPacketNetdev::open_with(h1.outer(), mode)?;
        let mut frame = vec![0u8; 80];
        frame[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xbb]);
        frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
        frame[12..16].copy_from_slice(&[0x81, 0x00, 0x20, 0x0a]); // PCP 1, VID 10
        frame[16..18].copy_from_slice(&[0x88, 0xb5]); // local experimental
        for (i, b) in frame[18..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let (mut batch, mut pool) = (PacketBatch::new(), PacketPool::new(8));
        let t0 = std::time::Instant::now();
        let mut got = None;
        let mut last_send = None::<std::time::Instant>;
        while got.is_none() && t0.elapsed() < std::time::Duration::from_secs(5) {
            // Sent again every 100 ms: frames sent before the new veth's
            // carrier is up are lost.
            if last_send.is_none_or(|t| t.elapsed() > std::time::Duration::from_millis(100)) {
                let ifname = h1.ifname.clone();
                let f = frame.clone();
                h1.spawn(move || send_raw(&ifname, &f)).join().unwrap()?;
                last_send = Some(std::time::Instant::now());
            }
            a.recv(0, 1, &mut batch, &mut pool)?;
            for p in batch.drain() {
                if p.data()[6..12] == frame[6..12] {
                    got = Some(p);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let p = got.ok_or_else(|| anyhow::anyhow!("{mode:?}: tagged frame not received"))?;
        assert_eq!(p.data(), &frame[..], "{mode:?}: frame with its tag");
    }
    Ok(())
}

/// A frame longer than the device's MTU allows (an encapsulated packet
/// that no longer fits the underlay) is refused by the kernel, dropped and
/// counted in `tx_dropped`, as OVS's netdev-linux does; the batch's other
/// frames still go. No fragmenting, no ICMP: that is the datapath's part of
/// tunnel MTU handling (see `tunnel` module comment).
#[test]
fn afpacket_drops_and_counts_frames_over_mtu() -> anyhow::Result<()> {
    use ferrovs_datapath::packet::{DpPacket, PacketPool};
    let h1 = Host::veth("am1", IP1, IP6_1)?;
    let a = AfPacketNetdev::open(h1.outer())?;
    let frame = |len: usize| {
        let mut f = vec![0u8; len];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xbb]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        DpPacket::from_bytes(&f)
    };
    let mut pool = PacketPool::new(8);
    // 14 + 1500 fits a 1500-byte MTU; 14 + 1558 (a full-size inner frame
    // plus 58 bytes of Geneve with one option) does not.
    let mut v = vec![frame(1514), frame(1572), frame(1514)];
    let sent = a.send(0, &mut v, &mut pool)?;
    assert_eq!(sent, 2);
    assert_eq!(a.drops().tx_dropped, 1);
    Ok(())
}

/// `n_rxq=2`: two sockets in a fanout group; 64 UDP flows from the host
/// are spread over both queues by hash, each datagram received once.
#[test]
fn afpacket_two_queues_share_flows_by_hash() -> anyhow::Result<()> {
    use ferrovs_datapath::batch::PacketBatch;
    use ferrovs_datapath::packet::PacketPool;
    for (k, mode) in [RxMode::Mmsg, RxMode::TpacketV3].into_iter().enumerate() {
        let h = Host::veth(&format!("apq{k}"), IP1, IP6_1)?;
        let a = AfPacketNetdev::open_queues(h.outer(), mode, 2)?;
        assert_eq!(a.n_rxq(), 2);
        h.ns.exec(&[
            "ip",
            "neigh",
            "add",
            "198.18.0.99",
            "lladdr",
            "02:00:00:00:00:63",
            "dev",
            &h.ifname,
        ])?;
        h.spawn(|| {
            let s = std::net::UdpSocket::bind("198.18.0.1:0").unwrap();
            for port in 1000..1064u16 {
                s.send_to(b"fanout", ("198.18.0.99", port)).unwrap();
            }
        })
        .join()
        .unwrap();
        let (mut batch, mut pool) = (PacketBatch::new(), PacketPool::new(64));
        let mut per_queue = [0usize; 2];
        let t = std::time::Instant::now();
        while per_queue.iter().sum::<usize>() < 64 && t.elapsed().as_secs() < 5 {
            for (q, n) in per_queue.iter_mut().enumerate() {
                a.recv(q, 1, &mut batch, &mut pool)?;
                for p in batch.drain() {
                    let d = p.data();
                    if d.len() > 34 && d[23] == 17 && d[30..34] == [198, 18, 0, 99] {
                        *n += 1;
                    }
                    pool.put(p);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        eprintln!("{mode:?}: datagrams per queue {per_queue:?}");
        assert_eq!(per_queue.iter().sum::<usize>(), 64, "{mode:?}");
        assert!(per_queue.iter().all(|&n| n > 0), "{mode:?}: {per_queue:?}");
    }
    Ok(())
}
