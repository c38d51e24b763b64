//! One connection tracker shared by two PMD threads: connections opened
//! through one PMD (SNAT on the way out) are answered through the other
//! (translated back), while the first keeps opening new ones, all at
//! once; every packet comes out translated and every connection is
//! counted once.
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::conntrack::frame::{checksums_ok, Pkt};
use ferrovs_datapath::conntrack::{
    CtAction, NatKind, NatSpec, CS_ESTABLISHED, CS_NEW, CS_REPLY_DIR, CS_TRACKED,
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

/// p1 -> ct(commit, snat to N) -> p2; p2 -> ct(nat) -> p1 if a reply.
struct Snat;

impl UpcallHandler for Snat {
    fn miss(&self, _p: &DpPacket, key: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        let (port, recirc) = (key.get(IN_PORT), key.get(RECIRC_ID));
        let s = key.get(CT_STATE) as u16;
        let ct = |commit, kind| CtAction {
            zone: 3,
            commit,
            nat: Some(NatSpec {
                kind,
                min_addr: if kind.is_some() { N as u128 } else { 0 },
                ..NatSpec::default()
            }),
            ..CtAction::default()
        };
        match (port, recirc) {
            (1, 0) => {
                r.actions
                    .push(DpAction::Ct(Box::new(ct(true, Some(NatKind::Src)))));
                r.actions.push(DpAction::Recirc(1));
            }
            (2, 0) => {
                r.actions.push(DpAction::Ct(Box::new(ct(false, None))));
                r.actions.push(DpAction::Recirc(2));
            }
            (1, 1) if s & CS_TRACKED != 0 && s & (CS_NEW | CS_ESTABLISHED) != 0 => {
                r.actions.push(DpAction::Output(2))
            }
            (2, 2) if s & CS_REPLY_DIR != 0 && s & CS_ESTABLISHED != 0 => {
                r.actions.push(DpAction::Output(1))
            }
            _ => {}
        }
        let mut m = Flow::default();
        m.set_all(DL_TYPE);
        m.set_all(CT_STATE);
        r.mask = Some(m.to_key());
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

/// Takes what `d` sent until there are `n` frames (or 20 s pass).
fn collect(d: &MemNetdev, n: usize, into: &mut Vec<Vec<u8>>) {
    let t = Instant::now();
    while into.len() < n && t.elapsed() < Duration::from_secs(20) {
        into.extend(d.take_all_tx().iter().map(|p| p.data().to_vec()));
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn two_pmds_share_the_tracker() {
    const CONNS: u16 = 300;
    let dp = Datapath::new(
        DpConfig {
            pmd_cpus: vec![None, None],
            ..DpConfig::default()
        },
        Arc::new(Snat),
    );
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    // One queue each: p1 on PMD 0, p2 on PMD 1.
    let q = |i: usize| {
        dp.pmd_info()[i]
            .rxqs
            .iter()
            .map(|r| r.port_no)
            .collect::<Vec<_>>()
    };
    assert_eq!((q(0), q(1)), (vec![1], vec![2]));
    dp.start().unwrap();

    let open = |from: u16| {
        for sp in from..from + CONNS {
            let f = Pkt::udp4(A, sp, B, 53).emit();
            while !p1.inject(0, DpPacket::from_bytes(&f)) {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    };
    // First wave: opened through PMD 0.
    open(1000);
    let mut out2 = Vec::new();
    collect(&p2, CONNS as usize, &mut out2);
    assert_eq!(out2.len(), CONNS as usize);
    // Replies to it through PMD 1 while PMD 0 opens a second wave.
    let sports: Vec<u16> = out2.iter().map(|f| addrs(f).2).collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            for sp in &sports {
                let f = Pkt::udp4(B, 53, N, *sp).emit();
                while !p2.inject(0, DpPacket::from_bytes(&f)) {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        });
        open(5000);
    });
    let mut out1 = Vec::new();
    collect(&p1, CONNS as usize, &mut out1);
    collect(&p2, 2 * CONNS as usize, &mut out2);
    dp.stop();
    assert_eq!(out2.len(), 2 * CONNS as usize);
    assert_eq!(out1.len(), CONNS as usize);
    // Out: source NATed to N, ports distinct; back: to A's own ports.
    for f in &out2 {
        let (s, d, _, dport) = addrs(f);
        assert_eq!((s, d, dport), (N, B, 53));
        assert!(checksums_ok(f));
    }
    let mut back: Vec<u16> = out1
        .iter()
        .map(|f| {
            let (s, d, sport, dport) = addrs(f);
            assert_eq!((s, d, sport), (B, A, 53));
            assert!(checksums_ok(f));
            dport
        })
        .collect();
    back.sort();
    assert_eq!(back, (1000..1000 + CONNS).collect::<Vec<_>>());
    assert_eq!(dp.conntrack().n_conns(), 2 * CONNS as usize);
    let rx: Vec<u64> = dp.pmd_info().iter().map(|p| p.stats.rx_packets).collect();
    assert_eq!(rx, vec![2 * CONNS as u64, CONNS as u64]);
}
