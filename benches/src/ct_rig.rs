//! The conntrack datapath rig: the in-memory loop of [`super::datapath_rig`]
//! (one PMD driven inline, 32 packets circulating from port 1 to port 2
//! and back) with the megaflows a stateful firewall leaves in the
//! datapath, installed beforehand:
//!
//! ```text
//! recirc_id(0),in_port(1),eth_type(0x0800)            -> ct(zone=5),recirc(1)
//! recirc_id(1),in_port(1),ct_state(+new+trk),ip       -> ct(commit,zone=5,mark=0),2
//! recirc_id(1),in_port(1),ct_state(-new+est+trk),ip   -> 2
//! ```
//!
//! so every packet is extracted, classified, tracked, recirculated,
//! classified again and (for a new connection) committed: the whole
//! datapath cost of the `ct(table=..)` firewall. [`CtCase::NewConn`]
//! makes every packet a TCP SYN of a connection never seen (the source
//! address and port of the waiting packets are rewritten between passes,
//! 6 bytes each, and the tracker is flushed every [`FLUSH`] connections,
//! outside the measured loop); [`CtCase::Established`] sends 32 UDP
//! packets of 32 connections established beforehand (a reply seen).

use std::sync::Arc;

use anyhow::ensure;
use ferrovs_datapath::actions::{DpAction, Masked};
use ferrovs_datapath::conntrack::frame::Pkt;
use ferrovs_datapath::conntrack::key::TCP_SYN;
use ferrovs_datapath::conntrack::{CtAction, CS_ESTABLISHED, CS_NEW, CS_TRACKED};
use ferrovs_datapath::flow::layout::{CT_STATE, DL_TYPE, IN_PORT, RECIRC_ID};
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::random::Rng;
use ferrovs_datapath::FlowPut;

use super::datapath_rig::{rig, NoMiss, Rig, N};

/// The firewall's zone.
pub const ZONE: u16 = 5;
/// New connections between two flushes of the tracker.
pub const FLUSH: u64 = 200_000;

const CLIENT_BASE: u32 = 0xc612_0000; // 198.18.0.0
const SERVER: u32 = 0xc613_0001; // 198.19.0.1

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CtCase {
    NewConn,
    Established,
}

/// The rig and the next connection number of [`CtCase::NewConn`].
pub struct CtRig {
    pub rig: Rig,
    pub case: CtCase,
    next: u64,
}

fn flow(recirc: u32, state: Option<(u16, u16)>) -> (FlowKey, FlowKey) {
    let mut k = Flow::default();
    let mut m = Flow::default();
    k.set(IN_PORT, 1);
    m.set_all(IN_PORT);
    k.set(RECIRC_ID, recirc as u64);
    m.set_all(RECIRC_ID);
    k.set(DL_TYPE, 0x0800);
    m.set_all(DL_TYPE);
    if let Some((v, mask)) = state {
        k.set(CT_STATE, v as u64);
        m.set(CT_STATE, mask as u64);
    }
    (k.to_key(), m.to_key())
}

fn ct(commit: bool) -> DpAction {
    DpAction::Ct(Box::new(CtAction {
        zone: ZONE,
        commit,
        mark: commit.then_some(Masked {
            value: 0,
            mask: u32::MAX,
        }),
        ..CtAction::default()
    }))
}

/// Source (address, port) of connection `i`.
fn client(i: u64) -> (u32, u16) {
    (CLIENT_BASE + (i >> 15) as u32, 1024 + (i & 0x7fff) as u16)
}

impl CtRig {
    pub fn new(case: CtCase) -> anyhow::Result<CtRig> {
        let frames: Vec<Vec<u8>> = (0..N as u64)
            .map(|i| {
                let (a, p) = client(i);
                match case {
                    CtCase::NewConn => Pkt::tcp4(a, p, SERVER, 80, TCP_SYN).seq(i as u32, 0).emit(),
                    CtCase::Established => Pkt::udp4(a, p, SERVER, 53).emit(),
                }
            })
            .collect();
        let rig = rig(Arc::new(NoMiss), 100, &frames)?;
        let st_mask = CS_NEW | CS_ESTABLISHED | CS_TRACKED | 0x14; // +rel +inv
        let flows = [
            (flow(0, None), vec![ct(false), DpAction::Recirc(1)]),
            (
                flow(1, Some((CS_NEW | CS_TRACKED, st_mask))),
                vec![ct(true), DpAction::Output(2)],
            ),
            (
                flow(1, Some((CS_ESTABLISHED | CS_TRACKED, st_mask))),
                vec![DpAction::Output(2)],
            ),
        ];
        for ((key, mask), actions) in flows {
            rig.dp.flow_put(FlowPut {
                key,
                mask,
                actions,
                pmd: None,
                ufid: None,
            })?;
        }
        rig.dp.conntrack().limits().set_max_conns(10_000_000);
        if case == CtCase::Established {
            establish(&rig, &frames);
        }
        Ok(CtRig {
            rig,
            case,
            next: N as u64,
        })
    }

    /// One pass of the 32 packets (rewritten first for new connections).
    /// Returns the packets processed.
    #[inline(never)]
    pub fn pass(&mut self) -> usize {
        if self.case == CtCase::NewConn {
            let mut i = self.next;
            self.rig.p1.for_each_rx(0, |p| {
                let (a, port) = client(i);
                let d = p.data_mut();
                d[26..30].copy_from_slice(&a.to_be_bytes());
                d[34..36].copy_from_slice(&port.to_be_bytes());
                i += 1;
            });
            self.next = i;
        }
        self.rig.pmd.poll_once()
    }

    /// True when the tracker is due for a flush (call outside the timed
    /// part, then [`CtRig::flush`]).
    pub fn due(&self) -> bool {
        self.case == CtCase::NewConn && self.next >= FLUSH
    }

    pub fn flush(&mut self) {
        self.rig.dp.conntrack().flush(None, None);
        self.next = 0;
    }

    /// Fails unless the packets still circulate, nothing missed, and the
    /// tracker holds what the case makes.
    pub fn check(&self) -> anyhow::Result<()> {
        self.rig.check_loop()?;
        let n = self.rig.dp.conntrack().n_conns();
        match self.case {
            CtCase::NewConn => ensure!(n > 0, "no connection committed"),
            CtCase::Established => ensure!(n == N, "{n} connections, not {N}"),
        }
        Ok(())
    }
}

/// Commits each frame's connection and runs its reply through the
/// tracker, so that the connections are established.
fn establish(rig: &Rig, frames: &[Vec<u8>]) {
    let ct = rig.dp.conntrack();
    let mut rng = Rng::new(1);
    let mut key = FlowKey::default();
    let now = rig.dp.now_ms();
    for f in frames {
        let mut p = DpPacket::from_bytes(f);
        p.reset_md(1);
        extract(&mut p, &mut key);
        let a = CtAction {
            zone: ZONE,
            commit: true,
            ..CtAction::default()
        };
        ct.execute(&mut p, true, false, &a, now, &mut rng);
        // The reply: addresses and ports swapped.
        let mut r = f.clone();
        let (src, dst) = (r[26..30].to_vec(), r[30..34].to_vec());
        r[26..30].copy_from_slice(&dst);
        r[30..34].copy_from_slice(&src);
        let (sp, dp) = (r[34..36].to_vec(), r[36..38].to_vec());
        r[34..36].copy_from_slice(&dp);
        r[36..38].copy_from_slice(&sp);
        let mut p = DpPacket::from_bytes(&r);
        p.reset_md(2);
        extract(&mut p, &mut key);
        ct.execute(&mut p, true, false, &a, now, &mut rng);
    }
}
