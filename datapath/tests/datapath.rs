//! End-to-end datapath tests: in-memory ports, a PMD driven inline (or
//! PMD threads), the upcall handler, actions on real frames with checksum
//! verification, and the flow interface used by revalidators.
mod common;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::frames::*;
use ferrovs_datapath::actions::{
    DpAction, HashAlg, Masked, MeterHook, SetArp, SetField, SetIpv6, SetNd,
};
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::wire::checksum::{checksum, crc32c, fold, sum16};
use ferrovs_datapath::{Datapath, DpConfig, FlowPut, Pmd};

type Decide = dyn Fn(&FlowKey, &mut UpcallReply) + Send + Sync;

/// Handler driven by a closure; records every miss key and userspace call.
struct Handler {
    decide: Box<Decide>,
    misses: Mutex<Vec<FlowKey>>,
    userspace: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl Handler {
    fn new(f: impl Fn(&FlowKey, &mut UpcallReply) + Send + Sync + 'static) -> Arc<Handler> {
        Arc::new(Handler {
            decide: Box::new(f),
            misses: Mutex::default(),
            userspace: Mutex::default(),
        })
    }
    fn n_misses(&self) -> usize {
        self.misses.lock().unwrap().len()
    }
}

impl UpcallHandler for Handler {
    fn miss(&self, _p: &DpPacket, key: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        self.misses.lock().unwrap().push(key.clone());
        (self.decide)(key, r);
        Ok(())
    }
    fn userspace(&self, p: &DpPacket, userdata: &[u8]) {
        self.userspace
            .lock()
            .unwrap()
            .push((p.data().to_vec(), userdata.to_vec()));
    }
}

fn mask(fields: &[Field]) -> FlowKey {
    let mut f = Flow::default();
    for x in fields {
        f.set_all(*x);
    }
    f.to_key()
}

struct Rig {
    dp: Datapath,
    pmd: Pmd,
    ports: Vec<Arc<MemNetdev>>,
}

/// Ports 1..=n, PMD 0 driven inline.
fn rig(handler: Arc<dyn UpcallHandler>, cfg: DpConfig, n: u32) -> Rig {
    let dp = Datapath::new(cfg, handler);
    let ports: Vec<Arc<MemNetdev>> = (1..=n)
        .map(|i| MemNetdev::new(&format!("p{i}"), 1, 1))
        .collect();
    for (i, p) in ports.iter().enumerate() {
        dp.add_port(i as u32 + 1, p.clone()).unwrap();
    }
    let pmd = dp.pmd_inline(0).unwrap();
    Rig { dp, pmd, ports }
}

impl Rig {
    fn send(&mut self, port: u32, frame: &[u8]) {
        assert!(self.ports[port as usize - 1].inject(0, DpPacket::from_bytes(frame)));
        self.pmd.poll_once();
    }
    fn out(&self, port: u32) -> Vec<Vec<u8>> {
        self.ports[port as usize - 1]
            .take_tx(0)
            .iter()
            .map(|p| p.data().to_vec())
            .collect()
    }
}

fn output_to(port: u32) -> impl Fn(&FlowKey, &mut UpcallReply) + Send + Sync {
    move |_k, r| {
        r.actions.push(DpAction::Output(port));
        r.mask = Some(mask(&[DL_TYPE, NW_DST]));
    }
}

fn frame(h: &str) -> Vec<u8> {
    hex::decode(h).unwrap()
}

/// Verifies the IPv4 header checksum and the TCP/UDP checksum of a frame.
fn assert_ipv4_checksums(f: &[u8], l3: usize) {
    let ihl = (f[l3] & 0xf) as usize * 4;
    assert_eq!(checksum(&f[l3..l3 + ihl]), 0, "IPv4 header checksum");
    let tot = u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]) as usize;
    let proto = f[l3 + 9];
    let seg = &f[l3 + ihl..l3 + tot];
    let mut acc = sum16(&f[l3 + 12..l3 + 20], 0);
    acc += proto as u32 + seg.len() as u32;
    assert_eq!(!fold(sum16(seg, acc)), 0, "L4 checksum");
}

fn assert_ipv6_l4_checksum(f: &[u8], l3: usize, l4: usize, proto: u8) {
    let seg = &f[l4..];
    let mut acc = sum16(&f[l3 + 8..l3 + 40], 0);
    acc += proto as u32 + seg.len() as u32;
    assert_eq!(!fold(sum16(seg, acc)), 0, "IPv6 L4 checksum");
}

#[test]
fn miss_installs_megaflow_then_hits_emc_and_classifier() {
    let h = Handler::new(output_to(2));
    let cfg = DpConfig {
        emc_insert_inv_prob: 1,
        ..DpConfig::default()
    };
    let mut r = rig(h.clone(), cfg, 2);
    let f = frame(TCP4_SYN);
    r.send(1, &f);
    assert_eq!(r.out(2), vec![f.clone()]);
    assert_eq!(h.n_misses(), 1);
    r.send(1, &f);
    r.send(1, &f);
    assert_eq!(r.out(2).len(), 2);
    assert_eq!(h.n_misses(), 1, "second and third packets hit");
    let s = r.dp.stats();
    assert_eq!(
        (s.misses, s.upcalls, s.flows_installed, s.emc_hits),
        (1, 1, 1, 2)
    );
    // A different source port: EMC miss, same megaflow (mask ignores it).
    let mut g = f.clone();
    g[14 + 20] ^= 1;
    r.send(1, &g);
    assert_eq!(r.dp.stats().megaflow_hits, 1);
    assert_eq!(h.n_misses(), 1);
    let dump = r.dp.flow_dump();
    assert_eq!(dump.len(), 1);
    let st = dump[0].stats;
    assert_eq!(st.packets, 4);
    assert_eq!(st.bytes, 4 * f.len() as u64);
    assert_eq!(st.tcp_flags, 0x002);
    assert!(st.used_ms > 0 && st.used_ms <= r.dp.now_ms());
    assert_eq!(dump[0].key.get(IN_PORT), 1, "in_port always exact");
    assert_eq!(dump[0].mask.get(IN_PORT), 0xffff_ffff);
    assert_eq!(dump[0].key.get(NW_DST), 0xc612_0002);
    assert_eq!(dump[0].key.get(TP_SRC), 0, "key is masked");
}

#[test]
fn emc_disabled_by_inv_prob_zero() {
    let h = Handler::new(output_to(2));
    let cfg = DpConfig {
        emc_insert_inv_prob: 0,
        ..DpConfig::default()
    };
    let mut r = rig(h, cfg, 2);
    for _ in 0..5 {
        r.send(1, &frame(UDP4));
    }
    let s = r.dp.stats();
    assert_eq!((s.emc_hits, s.megaflow_hits, s.misses), (0, 4, 1));
    r.dp.set_emc_insert_inv_prob(1);
    r.send(1, &frame(UDP4));
    r.send(1, &frame(UDP4));
    assert_eq!(r.dp.stats().emc_hits, 1);
}

#[test]
fn flow_put_get_modify_del_dump() {
    let h = Handler::new(output_to(3));
    let mut r = rig(h.clone(), DpConfig::default(), 3);
    let f = frame(UDP4);
    let mut p = DpPacket::from_bytes(&f);
    p.md_mut().in_port = 1;
    let mut key = FlowKey::default();
    extract(&mut p, &mut key);
    let m = mask(&[DL_TYPE, NW_SRC]);
    let ufid =
        r.dp.flow_put(FlowPut {
            key: key.clone(),
            mask: m.clone(),
            actions: vec![DpAction::Output(2)],
            pmd: None,
            ufid: None,
        })
        .unwrap();
    r.send(1, &f);
    assert_eq!(r.out(2).len(), 1, "proactive flow used, no upcall");
    assert_eq!(h.n_misses(), 0);
    let got = r.dp.flow_get(ufid).unwrap();
    assert_eq!(got.stats.packets, 1);
    assert_eq!(&*got.actions, &[DpAction::Output(2)]);
    // Modify: new actions, same UFID, stats kept.
    r.dp.flow_put(FlowPut {
        key: key.clone(),
        mask: m,
        actions: vec![DpAction::Output(3)],
        pmd: None,
        ufid: Some(ufid),
    })
    .unwrap();
    r.send(1, &f);
    assert_eq!(r.out(3).len(), 1);
    assert_eq!(r.dp.flow_get(ufid).unwrap().stats.packets, 2);
    assert_eq!(r.dp.flow_dump().len(), 1);
    let last = r.dp.flow_del(ufid).unwrap();
    assert_eq!(last.packets, 2);
    assert!(r.dp.flow_get(ufid).is_none());
    assert!(r.dp.flow_del(ufid).is_err());
    r.send(1, &f);
    assert_eq!(
        h.n_misses(),
        1,
        "deleted flow no longer matches (EMC entry too)"
    );
    assert_eq!(r.out(3).len(), 1);
    r.dp.flow_flush();
    r.send(1, &f);
    assert_eq!(h.n_misses(), 2);
    assert_eq!(r.dp.flow_count(), 1);
}

#[test]
fn flow_limit_executes_without_installing() {
    let h = Handler::new(move |_k, r| {
        r.actions.push(DpAction::Output(2));
        r.mask = Some(mask(&[DL_TYPE, NW_SRC, NW_DST, TP_SRC]));
    });
    let cfg = DpConfig {
        flow_limit: 2,
        ..DpConfig::default()
    };
    let mut r = rig(h.clone(), cfg, 2);
    let base = frame(UDP4);
    for i in 0..4u8 {
        let mut f = base.clone();
        f[14 + 20 + 1] = i; // UDP source port
        r.send(1, &f);
    }
    assert_eq!(r.out(2).len(), 4, "all forwarded");
    let s = r.dp.stats();
    assert_eq!((s.flows_installed, s.flow_limit_hits), (2, 2));
    assert_eq!(r.dp.flow_count(), 2);
}

#[test]
fn vlan_push_pop_both_tpids() {
    let h = Handler::new(|k, r| {
        if k.get(VLAN0_TCI) == 0 {
            r.actions.push(DpAction::PushVlan {
                tpid: 0x8100,
                tci: 10,
            });
            r.actions.push(DpAction::PushVlan {
                tpid: 0x88a8,
                tci: 100,
            });
            r.actions.push(DpAction::Output(2));
        } else {
            r.actions.push(DpAction::PopVlan);
            r.actions.push(DpAction::Output(3));
        }
    });
    let mut r = rig(h, DpConfig::default(), 3);
    let f = frame(UDP4);
    r.send(1, &f);
    let out = r.out(2);
    assert_eq!(out.len(), 1);
    let o = &out[0];
    assert_eq!(&o[..12], &f[..12]);
    assert_eq!(
        &o[12..20],
        &[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a]
    );
    assert_eq!(&o[20..], &f[12..]);
    // The pushed frame parses as QinQ.
    let mut p = DpPacket::from_bytes(o);
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    assert_eq!(k.get(VLAN1_TCI), 10 | VLAN_PRESENT as u64);
    // Pop the outer tag of a QinQ frame.
    let q = frame(QINQ_UDP4);
    r.send(1, &q);
    let out = r.out(3);
    assert_eq!(out[0].len(), q.len() - 4);
    assert_eq!(&out[0][12..16], &[0x81, 0x00, 0x20, 0x0a]);
}

fn set_ipv4_dst(v: u32) -> DpAction {
    DpAction::Set(SetField::Ipv4 {
        src: Masked::default(),
        dst: Masked::<u32>::exact(v),
        tos: Masked {
            value: 0xb8,
            mask: 0xfc,
        },
        ttl: Masked::<u8>::exact(9),
    })
}

#[test]
fn set_ipv4_and_ports_fix_checksums() {
    let h = Handler::new(|k, r| {
        r.actions.push(set_ipv4_dst(0xc613_0709));
        match k.get(NW_PROTO) {
            6 => r.actions.push(DpAction::Set(SetField::Tcp {
                src: Masked::<u16>::exact(1111),
                dst: Masked {
                    value: 0x0100,
                    mask: 0xff00,
                },
            })),
            17 => r.actions.push(DpAction::Set(SetField::Udp {
                src: Masked::<u16>::exact(2222),
                dst: Masked::default(),
            })),
            _ => {}
        }
        r.actions.push(DpAction::Set(SetField::Ethernet {
            src: Masked::<u64>::exact(0x0200_0000_00aa),
            dst: Masked::default(),
        }));
        r.actions.push(DpAction::Output(2));
    });
    let mut r = rig(h, DpConfig::default(), 2);
    for (name, f) in [("tcp", frame(TCP4_SYN)), ("udp", frame(UDP4))] {
        r.send(1, &f);
        let o = r.out(2).pop().unwrap_or_else(|| panic!("{name} forwarded"));
        assert_eq!(&o[6..12], &[2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(&o[30..34], &[198, 19, 7, 9]);
        assert_eq!(o[15] & 0xfc, 0xb8, "DSCP set, ECN kept");
        assert_eq!(o[22], 9, "ttl");
        if name == "tcp" {
            assert_eq!(u16::from_be_bytes([o[34], o[35]]), 1111);
            assert_eq!(
                u16::from_be_bytes([o[36], o[37]]),
                0x0150,
                "masked set of dst port 80"
            );
        } else {
            assert_eq!(u16::from_be_bytes([o[34], o[35]]), 2222);
        }
        assert_ipv4_checksums(&o, 14);
    }
}

#[test]
fn set_ipv6_address_fixes_tcp_checksum_and_sctp_crc() {
    let h = Handler::new(|k, r| {
        if k.get(DL_TYPE) == 0x86dd {
            r.actions
                .push(DpAction::Set(SetField::Ipv6(Box::new(SetIpv6 {
                    src: Masked::<u128>::exact(0x2001_0db8_0000_0000_0000_0000_dead_beef),
                    dst: Masked::default(),
                    label: Masked::<u32>::exact(0x54321),
                    tclass: Masked::default(),
                    hlimit: Masked::<u8>::exact(7),
                }))));
        } else {
            r.actions.push(DpAction::Set(SetField::Sctp {
                src: Masked::<u16>::exact(7777),
                dst: Masked::default(),
            }));
        }
        r.actions.push(DpAction::Output(2));
    });
    let mut r = rig(h, DpConfig::default(), 2);
    r.send(1, &frame(TCP6_SYNACK));
    let o = r.out(2).pop().unwrap();
    assert_eq!(&o[14 + 8 + 12..14 + 24], &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(o[14 + 7], 7);
    assert_eq!(
        u32::from_be_bytes([o[14], o[15], o[16], o[17]]) & 0xf_ffff,
        0x54321
    );
    assert_ipv6_l4_checksum(&o, 14, 54, 6);
    // SCTP: the frame's CRC was 0 (wrong); compute a correct one first so
    // that the test can check the datapath keeps it correct.
    let mut s = frame(SCTP4);
    let l4 = 34;
    let c = crc32c(&s[l4..]);
    s[l4 + 8..l4 + 12].copy_from_slice(&c.to_le_bytes());
    r.send(1, &s);
    let mut o = r.out(2).pop().unwrap();
    assert_eq!(u16::from_be_bytes([o[l4], o[l4 + 1]]), 7777);
    let got = u32::from_le_bytes([o[l4 + 8], o[l4 + 9], o[l4 + 10], o[l4 + 11]]);
    o[l4 + 8..l4 + 12].fill(0);
    assert_eq!(got, crc32c(&o[l4..]), "CRC32c recomputed");
}

#[test]
fn set_nd_target_and_arp() {
    let h = Handler::new(|k, r| {
        if k.get(DL_TYPE) == 0x0806 {
            r.actions.push(DpAction::Set(SetField::Arp(Box::new(SetArp {
                op: Masked::<u16>::exact(2),
                sha: Masked::<u64>::exact(0x0200_0000_00bb),
                spa: Masked::default(),
                tha: Masked::default(),
                tpa: Masked::default(),
            }))));
        } else {
            r.actions.push(DpAction::Set(SetField::Nd(Box::new(SetNd {
                target: Masked::<u128>::exact(0x2001_0db8_0000_0000_0000_0000_0000_0077),
                sll: Masked::<u64>::exact(0x0200_0000_00cc),
                tll: Masked::default(),
            }))));
        }
        r.actions.push(DpAction::Output(2));
    });
    let mut r = rig(h, DpConfig::default(), 2);
    r.send(1, &frame(ARP_REQ));
    let o = r.out(2).pop().unwrap();
    assert_eq!(&o[20..22], &[0, 2]);
    assert_eq!(&o[22..28], &[2, 0, 0, 0, 0, 0xbb]);
    r.send(1, &frame(ND_NS));
    let o = r.out(2).pop().unwrap();
    let mut p = DpPacket::from_bytes(&o);
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    assert_eq!(k.get(ND_TARGET_LO), 0x77);
    assert_eq!(k.get(ARP_SHA), 0x0200_0000_00cc);
    assert_ipv6_l4_checksum(&o, 14, 54, 58);
}

#[test]
fn clone_multiple_outputs_and_drop() {
    let h = Handler::new(|k, r| {
        if k.get(NW_PROTO) == 17 {
            r.actions.push(DpAction::Output(2));
            r.actions.push(DpAction::Clone(
                vec![
                    DpAction::PushVlan {
                        tpid: 0x8100,
                        tci: 5,
                    },
                    DpAction::Output(3),
                ]
                .into(),
            ));
            r.actions.push(DpAction::Output(4));
        } // else: empty list = drop
    });
    let mut r = rig(h, DpConfig::default(), 4);
    let f = frame(UDP4);
    r.send(1, &f);
    assert_eq!(r.out(2), vec![f.clone()]);
    assert_eq!(r.out(3)[0].len(), f.len() + 4);
    assert_eq!(
        r.out(4),
        vec![f.clone()],
        "clone did not change the original"
    );
    r.send(1, &frame(TCP4_SYN));
    assert!(r.out(2).is_empty() && r.out(3).is_empty() && r.out(4).is_empty());
    assert_eq!(r.dp.stats().tx_packets, 3);
}

#[test]
fn recirculation_and_hash() {
    let h = Handler::new(|k, r| {
        r.mask = Some(mask(&[DL_TYPE, RECIRC_ID, DP_HASH]));
        if k.get(RECIRC_ID) == 0 {
            r.actions.push(DpAction::Hash {
                alg: HashAlg::L4,
                basis: 0,
            });
            r.actions.push(DpAction::Recirc(7));
        } else {
            assert_ne!(k.get(DP_HASH), 0, "hash computed before recirculation");
            r.actions.push(DpAction::Output(2));
        }
    });
    let mut r = rig(h.clone(), DpConfig::default(), 2);
    r.send(1, &frame(UDP4));
    assert_eq!(r.out(2).len(), 1);
    let misses = h.misses.lock().unwrap().clone();
    assert_eq!(misses.len(), 2);
    assert_eq!(misses[1].get(RECIRC_ID), 7);
    assert_eq!(r.dp.stats().recirculations, 1);
    // Same 5-tuple, same hash: second packet hits both passes.
    r.send(1, &frame(UDP4));
    assert_eq!(h.n_misses(), 2);
    assert_eq!(r.out(2).len(), 1);
}

#[test]
fn recirculation_loop_is_bounded() {
    let h = Handler::new(|_k, r| {
        r.mask = Some(mask(&[RECIRC_ID]));
        r.actions.push(DpAction::Recirc(1));
    });
    let mut r = rig(h, DpConfig::default(), 1);
    r.send(1, &frame(UDP4));
    let s = r.dp.stats();
    assert_eq!(s.recirculations, 6);
    assert_eq!(s.dropped, 1);
}

#[test]
fn userspace_sample_check_pkt_len_meter() {
    struct OddMeter(AtomicU32);
    impl MeterHook for OddMeter {
        fn pass(&self, id: u32, _len: usize, _now: u64) -> bool {
            assert_eq!(id, 9);
            self.0.fetch_add(1, Ordering::Relaxed).is_multiple_of(2)
        }
    }
    let h = Handler::new(|_k, r| {
        r.actions.push(DpAction::Userspace {
            userdata: Arc::from(&b"cookie"[..]),
        });
        r.actions.push(DpAction::Sample {
            probability: 0,
            actions: vec![DpAction::Output(4)].into(),
        });
        r.actions.push(DpAction::Sample {
            probability: u32::MAX,
            actions: vec![DpAction::Output(5)].into(),
        });
        r.actions.push(DpAction::CheckPktLen {
            max_len: 64,
            gt: vec![DpAction::Output(2)].into(),
            le: vec![DpAction::Output(3)].into(),
        });
        r.actions.push(DpAction::Meter(9));
        r.actions.push(DpAction::Output(6));
    });
    let dp = Datapath::with_meter(
        DpConfig::default(),
        h.clone(),
        Some(Arc::new(OddMeter(AtomicU32::new(0)))),
    );
    let ports: Vec<Arc<MemNetdev>> = (1..=6)
        .map(|i| MemNetdev::new(&format!("p{i}"), 1, 1))
        .collect();
    for (i, p) in ports.iter().enumerate() {
        dp.add_port(i as u32 + 1, p.clone()).unwrap();
    }
    let mut pmd = dp.pmd_inline(0).unwrap();
    let big = frame(TCP4_SYN); // 74 bytes
    let small = frame(ICMP4_OPTS); // 54 bytes
    for f in [&big, &small] {
        ports[0].inject(0, DpPacket::from_bytes(f));
        pmd.poll_once();
    }
    let n = |i: usize| ports[i - 1].take_tx(0).len();
    assert_eq!(n(2), 1, "big packet took the gt branch");
    assert_eq!(n(3), 1, "small packet took the le branch");
    assert_eq!(n(4), 0, "probability 0 never samples");
    assert_eq!(n(5), 2, "probability max always samples");
    assert_eq!(n(6), 1, "meter let every other packet through");
    let us = h.userspace.lock().unwrap();
    assert_eq!(us.len(), 2);
    assert_eq!(us[0].1, b"cookie");
    assert_eq!(us[0].0, big);
}

#[test]
fn pmd_threads_share_queues_and_sum_stats() {
    let h = Handler::new(output_to(2));
    let cfg = DpConfig {
        pmd_cpus: vec![Some(0), None],
        ..DpConfig::default()
    };
    let dp = Datapath::new(cfg, h);
    let p1 = MemNetdev::new("p1", 2, 1);
    let p2 = MemNetdev::new("p2", 1, 2);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    assert_eq!(dp.pmd_rxqs(0).len() + dp.pmd_rxqs(1).len(), 3);
    assert_eq!(dp.pmd_rxqs(0)[0].port_no, 1);
    assert_eq!(
        dp.pmd_rxqs(1)[0].port_no,
        1,
        "port 1's two queues on different PMDs"
    );
    dp.start().unwrap();
    let f = frame(UDP4);
    for i in 0..200 {
        p1.inject(i % 2, DpPacket::from_bytes(&f));
    }
    let t = Instant::now();
    let mut got = 0;
    while got < 200 && t.elapsed() < Duration::from_secs(10) {
        got += p2.take_all_tx().len();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(got, 200);
    dp.stop();
    let per: Vec<u64> = dp.pmd_stats().iter().map(|s| s.rx_packets).collect();
    assert_eq!(per.iter().sum::<u64>(), 200);
    assert!(per.iter().all(|&n| n > 0), "both PMDs worked: {per:?}");
    let s = dp.stats();
    assert_eq!(s.emc_hits + s.megaflow_hits + s.misses, 200);
    assert_eq!(s.upcalls, 2, "one miss per PMD (each has its own flows)");
    assert_eq!(dp.flow_dump().len(), 2);
    assert!(s.busy_cycles > 0);
}

/// A hit on a lone-`output` megaflow takes the slot's cached port; a
/// modify to a longer action list and back must switch between that and
/// the interpreter (EMC and classifier hits alike).
#[test]
fn lone_output_fast_path_follows_modifies() {
    let h = Handler::new(output_to(3));
    for emc in [1, 0] {
        let cfg = DpConfig {
            emc_insert_inv_prob: emc,
            ..DpConfig::default()
        };
        let mut r = rig(h.clone(), cfg, 3);
        let f = frame(UDP4);
        let mut p = DpPacket::from_bytes(&f);
        p.md_mut().in_port = 1;
        let mut key = FlowKey::default();
        extract(&mut p, &mut key);
        let m = mask(&[DL_TYPE, NW_DST]);
        let put = |r: &Rig, actions: Vec<DpAction>| {
            r.dp.flow_put(FlowPut {
                key: key.clone(),
                mask: m.clone(),
                actions,
                pmd: None,
                ufid: None,
            })
            .unwrap()
        };
        let ufid = put(&r, vec![DpAction::Output(2)]);
        for _ in 0..3 {
            r.send(1, &f);
        }
        assert_eq!(r.out(2), vec![f.clone(); 3], "emc {emc}");
        put(&r, vec![set_ipv4_dst(0xc612_0063), DpAction::Output(2)]);
        for _ in 0..2 {
            r.send(1, &f);
        }
        let got = r.out(2);
        assert_eq!(got.len(), 2, "emc {emc}");
        for g in &got {
            assert_eq!(&g[30..34], &[198, 18, 0, 99], "rewritten (emc {emc})");
            assert_ipv4_checksums(g, 14);
        }
        put(&r, vec![DpAction::Output(3)]);
        r.send(1, &f);
        assert_eq!(r.out(3), vec![f.clone()], "emc {emc}");
        assert!(r.out(2).is_empty());
        assert_eq!(r.dp.flow_get(ufid).unwrap().stats.packets, 6);
        assert_eq!(h.n_misses(), 0);
    }
}

/// A handler that hands over shared masks (`shared_mask`): the megaflows
/// get exactly that mask (normalized: in_port exact), also when the
/// handler switches between masks and back (the PMD recognizes the last
/// shared mask by pointer), and `shared_mask` wins over `mask`.
#[test]
fn shared_reply_masks_install_their_own_megaflows() {
    // Both look at the low bit of the TCP source port, so their megaflows
    // do not overlap (as a slow path guarantees).
    let parity = |fields: &[Field]| {
        let mut d = Flow::default();
        mask(fields).expand(&mut d);
        d.set(TP_SRC, 1);
        Arc::new(d.to_key())
    };
    let by_dst = parity(&[DL_TYPE, NW_DST]);
    let by_src = parity(&[DL_TYPE, NW_SRC]);
    let (a, b) = (by_dst.clone(), by_src.clone());
    // Even TCP source ports get the nw_dst mask, odd ones the nw_src one.
    let h = Handler::new(move |k, r| {
        let m = if k.get(TP_SRC) % 2 == 0 { &a } else { &b };
        r.shared_mask = Some(m.clone());
        r.mask = Some(mask(&[DL_TYPE])); // ignored
        r.actions.push(DpAction::Output(2));
    });
    let mut r = rig(h.clone(), DpConfig::default(), 2);
    let f = frame(TCP4_SYN);
    let with = |sport: u16, dst: u8| {
        let mut g = f.clone();
        g[14 + 20..14 + 22].copy_from_slice(&sport.to_be_bytes());
        g[14 + 19] = dst;
        g
    };
    // Misses: nw_dst mask (dst 2), nw_src mask, nw_dst mask (dst 3).
    r.send(1, &with(1000, 2));
    r.send(1, &with(1001, 2));
    r.send(1, &with(1000, 3));
    assert_eq!(h.n_misses(), 3);
    // Hits: the nw_dst megaflows cover every even port of dst 2 and 3; the
    // nw_src one every odd port to any destination.
    r.send(1, &with(1002, 2));
    r.send(1, &with(1000, 3));
    r.send(1, &with(1003, 9));
    assert_eq!(h.n_misses(), 3, "all hit");
    assert_eq!(r.out(2).len(), 6);
    let mut masks: Vec<(FlowKey, FlowKey)> =
        r.dp.flow_dump()
            .into_iter()
            .map(|f| (f.key, f.mask))
            .collect();
    assert_eq!(masks.len(), 3);
    let norm = |m: &FlowKey| {
        let mut d = Flow::default();
        m.expand(&mut d);
        d.set_all(IN_PORT);
        d.set_all(RECIRC_ID);
        d.to_key()
    };
    masks.sort_by_key(|(k, _)| k.get(NW_DST));
    let dst: Vec<u64> = masks.iter().map(|(k, _)| k.get(NW_DST)).collect();
    assert_eq!(dst, vec![0, 0xc612_0002, 0xc612_0003]);
    assert_eq!(masks[0].1, norm(&by_src));
    assert_eq!(masks[0].0.get(NW_SRC), 0xc612_0001);
    assert_eq!(masks[0].0.get(TP_SRC), 1);
    assert_eq!(masks[1].1, norm(&by_dst));
    assert_eq!(masks[2].1, norm(&by_dst));
}

/// Megaflows freed by a flush or a `flow_del` are refilled by later
/// misses (recycled in place): the new flows have their own key, mask,
/// actions and fresh counters, and the old ones are gone.
#[test]
fn recycled_megaflows_start_clean() {
    // Destination .x gets x-dependent actions: output to port 2, with a
    // TTL rewrite for odd x (so lists of one and of two actions alternate).
    let h = Handler::new(|k, r| {
        if k.get(NW_DST) & 1 == 1 {
            r.actions.push(DpAction::Set(SetField::Ipv4 {
                src: Masked::default(),
                dst: Masked::default(),
                tos: Masked::default(),
                ttl: Masked::<u8>::exact(9),
            }));
        }
        r.actions.push(DpAction::Output(2));
        r.mask = Some(mask(&[DL_TYPE, NW_DST]));
    });
    let mut r = rig(h.clone(), DpConfig::default(), 2);
    let to = |x: u8| {
        let mut g = frame(UDP4);
        g[14 + 19] = x;
        g
    };
    for x in 1..=4 {
        r.send(1, &to(x));
        r.send(1, &to(x));
    }
    assert_eq!(r.dp.flow_count(), 4);
    r.dp.flow_flush();
    r.send(1, &to(10)); // applies the flush, then misses
    let victim = r.dp.flow_dump()[0].ufid;
    r.dp.flow_del(victim).unwrap();
    for x in [11u8, 12, 13] {
        r.send(1, &to(x));
    }
    assert_eq!(h.n_misses(), 4 + 4);
    let mut dump = r.dp.flow_dump();
    dump.sort_by_key(|f| f.key.get(NW_DST));
    let dsts: Vec<u64> = dump.iter().map(|f| f.key.get(NW_DST) & 0xff).collect();
    assert_eq!(dsts, vec![11, 12, 13]);
    for f in &dump {
        let odd = f.key.get(NW_DST) & 1 == 1;
        assert_eq!(f.actions.len(), if odd { 2 } else { 1 }, "{f:?}");
        assert_eq!(f.actions.last(), Some(&DpAction::Output(2)));
        assert_eq!(f.stats.packets, 1, "fresh counters: {f:?}");
        assert_eq!(f.key.get(IN_PORT), 1);
        assert_eq!(f.mask.get(NW_DST), 0xffff_ffff);
        assert_eq!(f.mask.get(NW_SRC), 0);
    }
    // They match what they should, and only that.
    r.out(2);
    r.send(1, &to(13));
    let o = r.out(2);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0][14 + 8], 9, "ttl rewritten for .13");
    r.send(1, &to(12));
    assert_eq!(r.out(2)[0][14 + 8], frame(UDP4)[14 + 8], "ttl kept for .12");
    assert_eq!(h.n_misses(), 8, "hits");
    let s = r.dp.stats();
    assert_eq!(s.flows_installed, 8);
}
