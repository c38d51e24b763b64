//! The in-memory datapath rig shared by the criterion benches
//! (`benches/datapath.rs`) and `ferrovs bench --datapath`: one PMD driven
//! inline by the caller's thread receives batches of 32 packets from
//! in-memory port 1 and sends them to port 2, which is wired back into
//! port 1's receive queue, so the same 32 buffers circulate with no
//! allocation and no rig-side work per packet. Two upcall handlers: one
//! for cases whose flows are installed beforehand (a miss is an error),
//! one that installs an exact flow rewriting nw_dst so that the next pass
//! misses again.

use std::sync::{Arc, OnceLock};

use anyhow::ensure;
use ferrovs_datapath::actions::{DpAction, Masked, SetField};
use ferrovs_datapath::flow::layout::{DL_TYPE, NW_DST};
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig, FlowPut, Pmd};

/// Packets in flight (one batch).
pub const N: usize = 32;

/// A UDP/IPv4 frame from 198.18.100.`grp` to `dst`, source port `sport`,
/// with a correct IP checksum.
pub fn frame(grp: u8, dst: [u8; 4], sport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 18, 100, grp]);
    ip[16..20].copy_from_slice(&dst);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&9u16.to_be_bytes());
    udp[4..6].copy_from_slice(&26u16.to_be_bytes());
    f
}

/// Exact on dl_type and nw_dst.
pub fn dst_mask() -> Flow {
    let mut m = Flow::default();
    m.set_all(DL_TYPE);
    m.set_all(NW_DST);
    m
}

/// For cases whose flows are installed beforehand: a miss is an error.
pub struct NoMiss;
impl UpcallHandler for NoMiss {
    fn miss(&self, _p: &DpPacket, _k: &FlowKey, _r: &mut UpcallReply) -> Result<(), UpcallError> {
        Err(UpcallError::Failed("unexpected miss".into()))
    }
}

/// Exact on dl_type and nw_dst; rewrites nw_dst by +32 and outputs to 2.
pub struct Rewriter;

impl UpcallHandler for Rewriter {
    fn miss(&self, _p: &DpPacket, key: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        // Built once, as a real slow path caches its masks.
        static MASK: OnceLock<Arc<FlowKey>> = OnceLock::new();
        r.shared_mask = Some(MASK.get_or_init(|| Arc::new(dst_mask().to_key())).clone());
        let dst = key.get(NW_DST) as u32;
        r.actions.push(DpAction::Set(SetField::Ipv4 {
            src: Masked::default(),
            dst: Masked::<u32>::exact(dst.wrapping_add(N as u32)),
            tos: Masked::default(),
            ttl: Masked::default(),
        }));
        r.actions.push(DpAction::Output(2));
        Ok(())
    }
}

pub struct Rig {
    pub dp: Datapath,
    pub pmd: Pmd,
    pub p1: Arc<MemNetdev>,
}

/// The datapath with ports 1 and 2 wired in a loop, `frames` queued on
/// port 1, and its PMD (inline: polled by the caller).
pub fn rig(
    handler: Arc<dyn UpcallHandler>,
    emc_prob: u32,
    frames: &[Vec<u8>],
) -> anyhow::Result<Rig> {
    let cfg = DpConfig {
        emc_insert_inv_prob: emc_prob,
        ..DpConfig::default()
    };
    let dp = Datapath::new(cfg, handler);
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    p2.connect(&p1);
    dp.add_port(1, p1.clone())?;
    dp.add_port(2, p2.clone())?;
    for f in frames {
        ensure!(p1.inject(0, DpPacket::from_bytes(f)), "port queue full");
    }
    let pmd = dp.pmd_inline(0)?;
    Ok(Rig { dp, pmd, p1 })
}

impl Rig {
    /// Installs the flow of `frame` (from port 1) under `mask`, output to 2.
    pub fn install(&self, frame: &[u8], mask: Flow) -> anyhow::Result<()> {
        let mut p = DpPacket::from_bytes(frame);
        p.md_mut().in_port = 1;
        let mut key = FlowKey::default();
        extract(&mut p, &mut key);
        self.dp.flow_put(FlowPut {
            key,
            mask: mask.to_key(),
            actions: vec![DpAction::Output(2)],
            pmd: None,
            ufid: None,
        })?;
        Ok(())
    }

    /// Fails unless all `N` packets still circulate and nothing missed
    /// unexpectedly.
    pub fn check_loop(&self) -> anyhow::Result<()> {
        ensure!(self.p1.rx_pending(0) == N, "packets were lost in the loop");
        let s = self.dp.stats();
        ensure!(s.upcall_errors == 0, "unexpected misses: {s:?}");
        Ok(())
    }
}
