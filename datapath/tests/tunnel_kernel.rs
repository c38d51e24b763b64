//! Interoperability of `tnl_push`/`tnl_pop` with the Linux kernel's own
//! tunnel devices (`vxlan`, `gretap`, `geneve`), in namespaces. Needs root.
//!
//! Topology: a "VM" namespace and a "remote hypervisor" namespace, each
//! behind a veth whose outer end is an AF_PACKET port in the root
//! namespace. A small loop plays the ferrovs host at underlay address
//! 198.18.0.1: frames from the VM are encapsulated with a template towards
//! the kernel device at 198.18.0.2 and sent on the underlay port; frames
//! from the underlay are decapsulated, kept when their VNI/key is the
//! expected one, and sent to the VM. The VM pings the kernel device's
//! overlay address. The frames the kernel sent are then decoded by our
//! parser and compared byte for byte with what our push builds for the
//! same inner frame and fields; a wrong VNI/key carries no traffic.

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::ports::*;
use ferrovs_datapath::batch::PacketBatch;
use ferrovs_datapath::netdev::afpacket::AfPacketNetdev;
use ferrovs_datapath::netdev::Netdev;
use ferrovs_datapath::offload::csum::complete_packet;
use ferrovs_datapath::offload::Offload;
use ferrovs_datapath::packet::{DpPacket, PacketPool};
use ferrovs_datapath::tunnel::pop::{pop, TNL_F_KEY};
use ferrovs_datapath::tunnel::push::push;
use ferrovs_datapath::tunnel::{Encap, OuterIp, TnlHeaderRepr, TnlKind, TnlPush};
use ferrovs_datapath::wire::checksum::checksum;
use ferrovs_datapath::wire::gre::GreRepr;
use ferrovs_datapath::wire::vxlan::VxlanRepr;

const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const LOCAL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

#[test]
fn kernel_vxlan_interop() -> anyhow::Result<()> {
    scenario(TnlKind::Vxlan)
}

#[test]
fn kernel_gretap_interop() -> anyhow::Result<()> {
    scenario(TnlKind::Gre)
}

#[test]
fn kernel_geneve_interop() -> anyhow::Result<()> {
    scenario(TnlKind::Geneve)
}

fn mac_of(h: &Host) -> anyhow::Result<[u8; 6]> {
    let s =
        h.ns.exec(&["cat", &format!("/sys/class/net/{}/address", h.ifname)])?;
    let v: Vec<u8> = s
        .trim()
        .split(':')
        .map(|x| u8::from_str_radix(x, 16))
        .collect::<Result<_, _>>()?;
    Ok(v.try_into().map_err(|_| anyhow::anyhow!("bad mac {s}"))?)
}

fn template(kind: TnlKind, eth_dst: [u8; 6], vni: u32) -> TnlHeaderRepr {
    let encap = match kind {
        TnlKind::Vxlan => Encap::Vxlan {
            dst_port: 4789,
            csum: false,
            vxlan: VxlanRepr { vni, gbp: None },
        },
        TnlKind::Geneve => Encap::Geneve {
            dst_port: 6081,
            csum: false,
            oam: false,
            critical: false,
            vni,
            options: vec![],
        },
        TnlKind::Gre => Encap::Gre(GreRepr {
            protocol: 0x6558,
            csum: false,
            key: Some(vni),
            seq: None,
        }),
    };
    TnlHeaderRepr {
        eth_dst,
        eth_src: LOCAL_MAC,
        ip: OuterIp::V4 {
            src: LOCAL,
            dst: REMOTE,
            tos: 0,
            ttl: 64,
            df: true,
        },
        encap,
    }
}

/// The ferrovs side: VM port <-> underlay port through push/pop.
/// Returns the frames received from the kernel that decapsulated.
struct Loop {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Vec<u8>, Offload)>>>,
    h: Option<std::thread::JoinHandle<()>>,
}

impl Loop {
    fn start(
        vm: Arc<dyn Netdev>,
        ul: Arc<dyn Netdev>,
        t: TnlPush,
        kind: TnlKind,
        vni: u32,
    ) -> Loop {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, sn) = (stop.clone(), seen.clone());
        let h = std::thread::spawn(move || {
            let mut pool = PacketPool::new(256);
            let mut batch = PacketBatch::new();
            let mut out: Vec<DpPacket> = Vec::new();
            let mut hash = 1u32;
            while !s.load(Ordering::Relaxed) {
                let mut moved = 0;
                if vm.recv(0, 1, &mut batch, &mut pool).unwrap_or(0) > 0 {
                    for mut p in batch.drain() {
                        moved += 1;
                        hash = hash.wrapping_mul(2654435761).max(1);
                        let r = push(&mut p, &t, hash);
                        if std::env::var("TNL_DEBUG").is_ok() {
                            eprintln!(
                                "vm rx, push {r:?} {}",
                                hex::encode(&p.data()[..p.len().min(64)])
                            );
                        }
                        if r.is_ok() {
                            out.push(p);
                        }
                    }
                    let _ = ul.send(0, &mut out, &mut pool);
                    out.clear();
                }
                if ul.recv(0, 2, &mut batch, &mut pool).unwrap_or(0) > 0 {
                    for mut p in batch.drain() {
                        moved += 1;
                        let raw = p.data().to_vec();
                        let off = p.offload();
                        let r = pop(&mut p, kind);
                        if std::env::var("TNL_DEBUG").is_ok() {
                            eprintln!(
                                "underlay rx {r:?} {}",
                                hex::encode(&raw[..raw.len().min(64)])
                            );
                        }
                        if r.is_ok() && p.md().tunnel.id == vni as u64 {
                            sn.lock().unwrap().push((raw, off));
                            out.push(p);
                        }
                    }
                    let _ = vm.send(0, &mut out, &mut pool);
                    out.clear();
                }
                if moved == 0 {
                    wait_readable(
                        &[vm.rx_fd(0), ul.rx_fd(0)]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>(),
                        2,
                    );
                }
            }
        });
        Loop {
            stop,
            seen,
            h: Some(h),
        }
    }
    fn stop(mut self) -> Vec<(Vec<u8>, Offload)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.h.take() {
            let _ = h.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.h.take() {
            let _ = h.join();
        }
    }
}

fn scenario(kind: TnlKind) -> anyhow::Result<()> {
    let tag = match kind {
        TnlKind::Vxlan => "tv",
        TnlKind::Gre => "tg",
        TnlKind::Geneve => "tn",
    };
    let vm = Host::veth(&format!("{tag}m"), "198.18.1.1", "2001:db8:1::1")?;
    let kh = Host::veth(&format!("{tag}k"), "198.18.0.2", "2001:db8::2")?;
    // the overlay needs room for the outer headers on a 1500-byte underlay
    vm.ns
        .exec(&["ip", "link", "set", &vm.ifname, "mtu", "1400"])?;
    let local_mac = "02:00:00:00:00:01";
    kh.ns.exec(&[
        "ip",
        "neigh",
        "replace",
        "198.18.0.1",
        "lladdr",
        local_mac,
        "dev",
        &kh.ifname,
        "nud",
        "permanent",
    ])?;
    let dev = "tnl0";
    match kind {
        TnlKind::Vxlan => kh.ns.exec(&[
            "ip",
            "link",
            "add",
            dev,
            "type",
            "vxlan",
            "id",
            "42",
            "local",
            "198.18.0.2",
            "remote",
            "198.18.0.1",
            "dstport",
            "4789",
            "dev",
            &kh.ifname,
        ])?,
        TnlKind::Gre => kh.ns.exec(&[
            "ip",
            "link",
            "add",
            dev,
            "type",
            "gretap",
            "local",
            "198.18.0.2",
            "remote",
            "198.18.0.1",
            "key",
            "42",
        ])?,
        TnlKind::Geneve => kh.ns.exec(&[
            "ip",
            "link",
            "add",
            dev,
            "type",
            "geneve",
            "id",
            "42",
            "remote",
            "198.18.0.1",
        ])?,
    };
    kh.ns.exec(&["ip", "link", "set", dev, "mtu", "1400"])?;
    kh.ns
        .exec(&["ip", "addr", "add", "198.18.1.2/24", "dev", dev])?;
    kh.ns.exec(&["ip", "link", "set", dev, "up"])?;
    let kmac = mac_of(&kh)?;

    let a: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open(vm.outer())?);
    let u: Arc<dyn Netdev> = Arc::new(AfPacketNetdev::open(kh.outer())?);

    // Wrong VNI/key first: nothing crosses (the kernel drops our frames,
    // and we drop theirs).
    let t = TnlPush::new(1, 2, &template(kind, kmac, 43))?;
    let lp = Loop::start(a.clone(), u.clone(), t, kind, 43);
    let pinger = ferrovs_tests::tool("ping");
    let out = vm.ns.exec(&[
        pinger.to_str().unwrap(),
        "-c",
        "2",
        "-i",
        "0.3",
        "-W",
        "1",
        "198.18.1.2",
    ]);
    assert!(out.is_err(), "ping crossed with the wrong VNI/key: {out:?}");
    assert!(
        lp.stop().is_empty(),
        "frames with the wrong VNI were accepted"
    );
    vm.ns.exec(&["ip", "neigh", "flush", "all"])?;

    let r = template(kind, kmac, 42);
    let t = TnlPush::new(1, 2, &r)?;
    let lp = Loop::start(a.clone(), u.clone(), t, kind, 42);
    ping(&vm, "198.18.1.2")?;
    let seen = lp.stop();
    anyhow::ensure!(!seen.is_empty(), "no frame from the kernel decapsulated");

    // Every frame the kernel sent decodes, and our push rebuilds it: same
    // bytes except the IP ID, IP checksum, UDP source port and checksum.
    // The kernel leaves the outer UDP checksum partial on a veth (it
    // arrives with offload state saying so); it is finished here, and the
    // pop below then verifies it.
    let mut partial = 0;
    for (k0, off) in &seen {
        let mut p = DpPacket::from_bytes(k0);
        p.set_offload(*off);
        if off.needs_csum() {
            partial += 1;
            complete_packet(&mut p)?;
        }
        p.set_offload(Offload::NONE);
        let k = &p.data().to_vec();
        assert_eq!(checksum(&k[14..34]), 0, "kernel IPv4 checksum");
        pop(&mut p, kind).unwrap();
        let md = p.md().tunnel.clone();
        assert_eq!(md.ipv4_src, u32::from(REMOTE));
        assert_eq!(md.ipv4_dst, u32::from(LOCAL));
        assert_eq!(md.id, 42);
        assert_ne!(md.flags & TNL_F_KEY, 0);
        let inner = p.data().to_vec();
        let mut mine = template(kind, LOCAL_MAC, 42);
        mine.eth_src = kmac;
        mine.ip = OuterIp::V4 {
            src: REMOTE,
            dst: LOCAL,
            tos: k[15],
            ttl: k[22],
            df: k[20] & 0x40 != 0,
        };
        if let Encap::Vxlan { csum, .. } | Encap::Geneve { csum, .. } = &mut mine.encap {
            *csum = k[40..42] != [0, 0];
        }
        let t = TnlPush::new(1, 2, &mine)?;
        let mut q = DpPacket::from_bytes(&inner);
        push(&mut q, &t, 7)?;
        let b = q.data();
        assert_eq!(b.len(), k.len(), "length of a {kind:?} frame");
        let skip: &[usize] = match kind {
            TnlKind::Gre => &[18, 19, 24, 25],
            _ => &[18, 19, 24, 25, 34, 35, 40, 41],
        };
        for i in 0..b.len() {
            if !skip.contains(&i) {
                assert_eq!(
                    b[i],
                    k[i],
                    "byte {i} of a {kind:?} frame:\n ours {}\n kern {}",
                    hex::encode(b),
                    hex::encode(k)
                );
            }
        }
    }
    eprintln!(
        "{kind:?}: {} frames from the kernel decoded and rebuilt ({partial} with a partial outer checksum)",
        seen.len()
    );
    Ok(())
}
