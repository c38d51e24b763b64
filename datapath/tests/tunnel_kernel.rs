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
use ferrovs_datapath::actions::execute::PortOutputs;
use ferrovs_datapath::actions::{DpAction, ExecCtx};
use ferrovs_datapath::batch::PacketBatch;
use ferrovs_datapath::flow::FlowKey;
use ferrovs_datapath::netdev::afpacket::AfPacketNetdev;
use ferrovs_datapath::netdev::Netdev;
use ferrovs_datapath::offload::csum::complete_packet;
use ferrovs_datapath::offload::Offload;
use ferrovs_datapath::packet::{DpPacket, PacketPool};
use ferrovs_datapath::random::Rng;
use ferrovs_datapath::tunnel::pop::{pop, TNL_F_KEY};
use ferrovs_datapath::tunnel::push::push;
use ferrovs_datapath::tunnel::{Encap, OuterIp, TnlHeaderRepr, TnlKind, TnlPop, TnlPush};
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::wire::checksum::checksum;
use ferrovs_datapath::wire::gre::GreRepr;
use ferrovs_datapath::wire::vxlan::VxlanRepr;

const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const VM_PORT: u32 = 1;
const UL_PORT: u32 = 2;
const TNL_PORT: u32 = 4789;

struct Nop;
impl UpcallHandler for Nop {
    fn miss(&self, _: &DpPacket, _: &FlowKey, _: &mut UpcallReply) -> Result<(), UpcallError> {
        Ok(())
    }
}

const LOCAL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

#[test]
fn kernel_vxlan_interop() -> anyhow::Result<()> {
    scenario(TnlKind::Vxlan)
}

#[test]
#[ignore = "this machine's kernel has no gretap device type (`ip link add ... type gretap`: Unknown device type); run with --ignored where it has"]
fn kernel_gretap_interop() -> anyhow::Result<()> {
    scenario(TnlKind::Gre)
}

#[test]
#[ignore = "this machine's kernel has no geneve device type (`ip link add ... type geneve`: Unknown device type); run with --ignored where it has"]
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
    v.try_into().map_err(|_| anyhow::anyhow!("bad mac {s}"))
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
/// A frame from the kernel that decapsulated, with its offload state.
type Seen = (Vec<u8>, Offload);

struct Loop {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    h: Option<std::thread::JoinHandle<()>>,
}

impl Loop {
    /// Runs the datapath actions a megaflow would have: `tnl_push` then
    /// output to the underlay for VM frames, `tnl_pop` then (after
    /// recirculation, on a tun_id match) output to the VM for underlay
    /// frames.
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
        let push_acts = [DpAction::TunnelPush(Arc::new(t)), DpAction::Output(UL_PORT)];
        let pop_acts = [DpAction::TunnelPop(TnlPop {
            port: TNL_PORT,
            kind,
        })];
        let debug = std::env::var("TNL_DEBUG").is_ok();
        let h = std::thread::spawn(move || {
            let mut pool = PacketPool::new(256);
            let mut batch = PacketBatch::new();
            let mut outs = PortOutputs::default();
            let mut recirc = Vec::new();
            let mut rng = Rng::new(1);
            let mut scratch = FlowKey::default();
            let mut to_vm: Vec<DpPacket> = Vec::new();
            let fds: Vec<_> = [vm.rx_fd(0), ul.rx_fd(0)].into_iter().flatten().collect();
            while !s.load(Ordering::Relaxed) {
                let mut moved = vm.recv(0, VM_PORT, &mut batch, &mut pool).unwrap_or(0);
                let mut ctx = ExecCtx {
                    pool: &mut pool,
                    out: &mut outs,
                    recirc: &mut recirc,
                    handler: &Nop,
                    meter: None,
                    rng: &mut rng,
                    scratch: &mut scratch,
                    now_ms: 0,
                    conntrack: None,
                    dropped: 0,
                };
                for p in batch.drain() {
                    if debug {
                        eprintln!(
                            "vm> {:?} {}",
                            p.offload(),
                            hex::encode(&p.data()[..p.len().min(60)])
                        );
                    }
                    ctx.execute(p, &push_acts);
                }
                let mut from_ul = PacketBatch::new();
                moved += ul.recv(0, UL_PORT, &mut from_ul, ctx.pool).unwrap_or(0);
                for p in from_ul.drain() {
                    let raw = (p.data().to_vec(), p.offload());
                    if debug {
                        eprintln!(
                            "ul> {:?} {}",
                            raw.1,
                            hex::encode(&raw.0[..raw.0.len().min(110)])
                        );
                    }
                    ctx.execute(p, &pop_acts);
                    match ctx.recirc.pop() {
                        Some(q) if q.md().tunnel.id == vni as u64 => {
                            sn.lock().unwrap().push(raw);
                            to_vm.push(q);
                        }
                        Some(q) => ctx.pool.put(q),
                        None if debug => {
                            eprintln!("dropped {}", hex::encode(&raw.0[..raw.0.len().min(64)]))
                        }
                        None => {}
                    }
                }
                for (port, pk) in outs.slots_mut() {
                    assert_eq!(port, UL_PORT);
                    let _ = ul.send(0, pk, &mut pool);
                }
                let _ = vm.send(0, &mut to_vm, &mut pool);
                if moved == 0 {
                    wait_readable(&fds, 2);
                }
            }
        });
        Loop {
            stop,
            seen,
            h: Some(h),
        }
    }
    fn stop(mut self) -> Vec<Seen> {
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
    let made = match kind {
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
        ]),
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
        ]),
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
        ]),
    };
    made.map_err(|e| {
        anyhow::anyhow!("this kernel cannot create the {kind:?} tunnel device (no module?): {e}")
    })?;
    kh.ns.exec(&["ip", "link", "set", dev, "mtu", "1400"])?;
    kh.ns
        .exec(&["ip", "addr", "add", "198.18.1.2/24", "dev", dev])?;
    kh.ns.exec(&["ip", "link", "set", dev, "up"])?;
    let kmac = mac_of(&kh)?;
    // The kernel hands a large encapsulated TCP segment (UDP-tunnel GSO)
    // to the veth whole, and a packet socket cannot describe that in a
    // vnet header (it drops it): let the kernel cut it before the veth,
    // as a NIC without tunnel offload would make it do.
    let ethtool = ferrovs_tests::tool("ethtool");
    kh.ns.exec(&[
        ethtool.to_str().unwrap(),
        "-K",
        &kh.ifname,
        "tx-udp_tnl-segmentation",
        "off",
        "tx-udp_tnl-csum-segmentation",
        "off",
        "tx-gre-segmentation",
        "off",
        "tx-gre-csum-segmentation",
        "off",
    ])?;

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
    // TCP with the kernel's default offloads (the VM sends GSO segments,
    // cut before encapsulation), both ways, every byte checked.
    let bps = tcp_transfer(&vm, &kh, "198.18.1.2", 7101, 8 << 20);
    eprintln!("drops {:?}", ferrovs_datapath::tunnel::TNL_DROPS);
    if bps.is_err() {
        for ns in [&kh.ns, &vm.ns] {
            let st = ns.exec(&["nstat", "-az"]).unwrap_or_default();
            for l in st
                .lines()
                .filter(|l| l.contains("Csum") || l.contains("Err") || l.contains("Retrans"))
            {
                eprintln!("{}: {l}", ns.name());
            }
            eprintln!("{}", ns.exec(&["ip", "-s", "link"]).unwrap_or_default());
        }
    }
    let bps = bps?;
    let bps2 = tcp_transfer(&kh, &vm, "198.18.1.1", 7102, 8 << 20)?;
    eprintln!(
        "{kind:?}: TCP vm->kernel {:.2} Gbit/s, kernel->vm {:.2} Gbit/s (debug build)",
        bps / 1e9,
        bps2 / 1e9
    );
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
