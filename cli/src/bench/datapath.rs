//! `ferrovs bench --datapath`: the in-memory datapath figures, no interface.
//!
//! The same rig as `benches/benches/datapath.rs`: one PMD driven inline by
//! this thread receives batches of 32 packets from in-memory port 1 and
//! sends them to port 2, wired back into port 1, so the same 32 buffers
//! circulate with no allocation and no work per packet outside the
//! datapath. Three cases: every packet hits the EMC; the EMC is off and
//! packets hit megaflows over 8 masks; every packet misses and a trivial
//! upcall handler installs an exact flow that rewrites nw_dst (so the next
//! pass misses again). Each case runs for a window cut into 100 ms slices;
//! the figure is the median slice's packets per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use ferrovs_datapath::actions::{DpAction, Masked, SetField};
use ferrovs_datapath::flow::layout::{DL_TYPE, NW_DST, NW_SRC};
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig, FlowPut, Pmd};

use super::measure::median;

const N: usize = 32;

#[derive(Debug, Clone, Copy)]
pub struct DatapathFigures {
    pub emc_hit_mpps: f64,
    pub megaflow_hit_8_masks_mpps: f64,
    pub upcall_install_mpps: f64,
}

/// A UDP/IPv4 frame from 198.18.100.`grp` to `dst`.
fn frame(grp: u8, dst: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 100, grp]);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&1000u16.to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

/// Flows are pre-installed in the hit cases: a miss is an error.
struct NoMiss;
impl UpcallHandler for NoMiss {
    fn miss(&self, _p: &DpPacket, _k: &FlowKey, _r: &mut UpcallReply) -> Result<(), UpcallError> {
        Err(UpcallError::Failed("unexpected miss".into()))
    }
}

/// Exact on dl_type and nw_dst; rewrites nw_dst by +32 and outputs to 2.
struct Rewriter(Arc<FlowKey>);
impl UpcallHandler for Rewriter {
    fn miss(&self, _p: &DpPacket, key: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        r.shared_mask = Some(self.0.clone());
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

struct Rig {
    dp: Datapath,
    pmd: Pmd,
    p1: Arc<MemNetdev>,
}

fn rig(handler: Arc<dyn UpcallHandler>, emc_prob: u32, frames: &[Vec<u8>]) -> anyhow::Result<Rig> {
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

/// Installs `frame`'s flow with `mask`, output to port 2.
fn install(r: &Rig, f: &[u8], mask: Flow) -> anyhow::Result<()> {
    let mut p = DpPacket::from_bytes(f);
    p.md_mut().in_port = 1;
    let mut key = FlowKey::default();
    extract(&mut p, &mut key);
    r.dp.flow_put(FlowPut {
        key,
        mask: mask.to_key(),
        actions: vec![DpAction::Output(2)],
        pmd: None,
        ufid: None,
    })?;
    Ok(())
}

/// Polls for `window` in 100 ms slices; median packets per second, in
/// millions. `between` runs outside the timed slices.
fn drive(r: &mut Rig, window: Duration, mut between: impl FnMut(&mut Rig)) -> anyhow::Result<f64> {
    let mut rates = Vec::new();
    let end = Instant::now() + window;
    while Instant::now() < end {
        let rx0 = r.dp.stats().rx_packets;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(100) {
            for _ in 0..64 {
                r.pmd.poll_once();
            }
        }
        let dt = t.elapsed().as_secs_f64();
        rates.push((r.dp.stats().rx_packets - rx0) as f64 / dt / 1e6);
        between(r);
    }
    ensure!(r.p1.rx_pending(0) == N, "packets were lost in the loop");
    ensure!(
        r.dp.stats().upcall_errors == 0,
        "unexpected misses: {:?}",
        r.dp.stats()
    );
    Ok(median(&rates).unwrap_or(0.0))
}

pub fn measure(window: Duration) -> anyhow::Result<DatapathFigures> {
    // EMC: 32 flows, each inserted on its first hit.
    let frames: Vec<Vec<u8>> = (0..N).map(|i| frame(0, [198, 19, 0, i as u8])).collect();
    let mut r = rig(Arc::new(NoMiss), 1, &frames)?;
    let mut m = Flow::default();
    m.set_all(DL_TYPE);
    m.set_all(NW_DST);
    for f in &frames {
        install(&r, f, m)?;
    }
    let emc = drive(&mut r, window, |_| {})?;
    ensure!(r.dp.stats().emc_hits > 0, "EMC case hit no EMC entry");

    // Megaflow: EMC off, 8 masks (exact nw_src naming the group and a
    // /(32-k) prefix of nw_dst).
    let masks = 8;
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| frame((i % masks) as u8, [198, 19, (i / masks) as u8, 7]))
        .collect();
    let mut r = rig(Arc::new(NoMiss), 0, &frames)?;
    for (i, f) in frames.iter().enumerate() {
        let mut m = Flow::default();
        m.set_all(DL_TYPE);
        m.set_all(NW_SRC);
        m.set(NW_DST, (!0u32 << (i % masks)) as u64);
        install(&r, f, m)?;
    }
    let megaflow = drive(&mut r, window, |_| {})?;
    ensure!(r.dp.stats().emc_hits == 0, "megaflow case hit the EMC");

    // Upcall install: every packet misses; flows flushed at 100k.
    let frames: Vec<Vec<u8>> = (0..N).map(|i| frame(0, [198, 19, 0, i as u8])).collect();
    let mut m = Flow::default();
    m.set_all(DL_TYPE);
    m.set_all(NW_DST);
    let mut r = rig(Arc::new(Rewriter(Arc::new(m.to_key()))), 100, &frames)?;
    let upcall = drive(&mut r, window, |r| {
        if r.pmd.flow_count() > 100_000 {
            r.pmd.flush_flows();
        }
    })?;
    ensure!(
        r.dp.stats().flows_installed > 0,
        "upcall case installed no flow"
    );

    Ok(DatapathFigures {
        emc_hit_mpps: emc,
        megaflow_hit_8_masks_mpps: megaflow,
        upcall_install_mpps: upcall,
    })
}
