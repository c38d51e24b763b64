//! The `ct` action inside the datapath: a PMD driven inline, megaflows
//! installed by an upcall handler that plays ofproto's part (ct, then
//! recirculation, then a match on ct_state), SNAT on the way out and the
//! reply translated back, across repeated packets (EMC and classifier
//! hits run the tracker too).
use std::sync::{Arc, Mutex};

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::conntrack::frame::{checksums_ok, Pkt};
use ferrovs_datapath::conntrack::{
    CtAction, NatKind, NatSpec, CS_DST_NAT, CS_ESTABLISHED, CS_NEW, CS_REPLY_DIR, CS_SRC_NAT,
    CS_TRACKED,
};
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig};

const A: u32 = 0xc612_0001;
const B: u32 = 0xc613_0002;
const N: u32 = 0xc613_ff01;

struct Firewall {
    /// (recirc_id, ct_state) of every miss.
    seen: Mutex<Vec<(u64, u64)>>,
}

fn mask(fields: &[Field]) -> FlowKey {
    let mut f = Flow::default();
    for x in fields {
        f.set_all(*x);
    }
    f.to_key()
}

impl UpcallHandler for Firewall {
    fn miss(&self, _p: &DpPacket, key: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        let (port, recirc, state) = (key.get(IN_PORT), key.get(RECIRC_ID), key.get(CT_STATE));
        self.seen.lock().unwrap().push((recirc, state));
        let nat_out = CtAction {
            zone: 7,
            commit: true,
            nat: Some(NatSpec {
                kind: Some(NatKind::Src),
                min_addr: N as u128,
                ..NatSpec::default()
            }),
            ..CtAction::default()
        };
        let nat_back = CtAction {
            zone: 7,
            nat: Some(NatSpec::default()),
            ..CtAction::default()
        };
        let s = state as u16;
        match (port, recirc) {
            (1, 0) => {
                r.actions.push(DpAction::Ct(Box::new(nat_out)));
                r.actions.push(DpAction::Recirc(1));
            }
            (2, 0) => {
                r.actions.push(DpAction::Ct(Box::new(nat_back)));
                r.actions.push(DpAction::Recirc(2));
            }
            (1, 1) if s & CS_TRACKED != 0 && s & (CS_NEW | CS_ESTABLISHED) != 0 => {
                r.actions.push(DpAction::Output(2))
            }
            (2, 2) if s & CS_REPLY_DIR != 0 && s & CS_ESTABLISHED != 0 => {
                r.actions.push(DpAction::Output(1))
            }
            _ => {} // drop
        }
        r.mask = Some(mask(&[DL_TYPE, CT_STATE]));
        Ok(())
    }
    fn userspace(&self, _p: &DpPacket, _u: &[u8]) {}
}

fn addrs(f: &[u8]) -> (u32, u32, u16, u16) {
    (
        u32::from_be_bytes(f[26..30].try_into().unwrap()),
        u32::from_be_bytes(f[30..34].try_into().unwrap()),
        u16::from_be_bytes([f[34], f[35]]),
        u16::from_be_bytes([f[36], f[37]]),
    )
}

#[test]
fn snat_through_recirculation() {
    let fw = Arc::new(Firewall {
        seen: Mutex::default(),
    });
    let dp = Datapath::new(
        DpConfig {
            emc_insert_inv_prob: 1,
            ..DpConfig::default()
        },
        fw.clone(),
    );
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let mut pmd = dp.pmd_inline(0).unwrap();
    let out = |d: &Arc<MemNetdev>| -> Vec<Vec<u8>> {
        d.take_tx(0).iter().map(|p| p.data().to_vec()).collect()
    };

    for round in 0..3u32 {
        let q = Pkt::udp4(A, 5000, B, 53).with_payload(round as u16);
        assert!(p1.inject(0, DpPacket::from_bytes(&q.emit())));
        pmd.poll_once();
        let o = out(&p2);
        assert_eq!(o.len(), 1, "round {round}");
        let (s, d, sp, dp_) = addrs(&o[0]);
        assert_eq!((s, d, sp, dp_), (N, B, 5000, 53));
        assert!(checksums_ok(&o[0]));

        let r = Pkt::udp4(B, 53, N, 5000).with_payload(round as u16);
        assert!(p2.inject(0, DpPacket::from_bytes(&r.emit())));
        pmd.poll_once();
        let o = out(&p1);
        assert_eq!(o.len(), 1, "round {round}");
        assert_eq!(addrs(&o[0]), (B, A, 53, 5000));
        assert!(checksums_ok(&o[0]));
    }
    assert_eq!(dp.conntrack().n_conns(), 1);
    // The recirculated misses saw the tracker's verdicts.
    let seen = fw.seen.lock().unwrap().clone();
    let first = (CS_TRACKED | CS_NEW | CS_SRC_NAT) as u64;
    let reply = (CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR | CS_DST_NAT) as u64;
    let est = (CS_TRACKED | CS_ESTABLISHED | CS_SRC_NAT) as u64;
    assert!(seen.contains(&(1, first)), "{seen:x?}");
    assert!(seen.contains(&(2, reply)), "{seen:x?}");
    assert!(seen.contains(&(1, est)), "{seen:x?}");
    // Flushing makes the reply unknown again: it is dropped.
    dp.conntrack().flush(None, None);
    let r = Pkt::udp4(B, 53, N, 5000);
    assert!(p2.inject(0, DpPacket::from_bytes(&r.emit())));
    pmd.poll_once();
    assert!(out(&p1).is_empty());
}

/// Fragments are held until the datagram is whole, tracked as one, and
/// sent on (all of them, unchanged) with its verdict; the reply datagram
/// is `est|rpl` for each of its fragments.
#[test]
fn fragments_reassembled_before_tracking() {
    use ferrovs_datapath::conntrack::frame::fragments;
    struct Plain;
    impl UpcallHandler for Plain {
        fn miss(
            &self,
            _p: &DpPacket,
            key: &FlowKey,
            r: &mut UpcallReply,
        ) -> Result<(), UpcallError> {
            let (port, recirc, s) = (
                key.get(IN_PORT),
                key.get(RECIRC_ID),
                key.get(CT_STATE) as u16,
            );
            let ct = CtAction {
                zone: 1,
                commit: port == 1,
                ..CtAction::default()
            };
            match recirc {
                0 => {
                    r.actions.push(DpAction::Ct(Box::new(ct)));
                    r.actions.push(DpAction::Recirc(port as u32));
                }
                1 if s == CS_TRACKED | CS_NEW => r.actions.push(DpAction::Output(2)),
                2 if s == CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR => {
                    r.actions.push(DpAction::Output(1))
                }
                _ => {}
            }
            r.mask = Some(mask(&[DL_TYPE, CT_STATE, NW_FRAG]));
            Ok(())
        }
        fn userspace(&self, _p: &DpPacket, _u: &[u8]) {}
    }
    let dp = Datapath::new(DpConfig::default(), Arc::new(Plain));
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let mut pmd = dp.pmd_inline(0).unwrap();
    let big = Pkt::udp4(A, 7000, B, 7001).with_payload(3000);
    let frags = fragments(&big, 1480, 99);
    assert_eq!(frags.len(), 3);
    for (i, f) in frags.iter().enumerate() {
        assert!(p1.inject(0, DpPacket::from_bytes(f)));
        pmd.poll_once();
        let out: Vec<Vec<u8>> = p2.take_tx(0).iter().map(|p| p.data().to_vec()).collect();
        if i < 2 {
            assert!(out.is_empty(), "fragment {i} held");
        } else {
            assert_eq!(out, frags, "all fragments sent on, unchanged");
        }
    }
    assert_eq!(dp.conntrack().n_conns(), 1);
    assert_eq!(dp.conntrack().ipf().n_frags(), 0);
    let reply = Pkt::udp4(B, 7001, A, 7000).with_payload(2000);
    let rf = fragments(&reply, 1480, 5);
    for f in rf.iter().rev() {
        assert!(p2.inject(0, DpPacket::from_bytes(f)));
        pmd.poll_once();
    }
    let out = p1.take_tx(0);
    assert_eq!(out.len(), 2);
}
