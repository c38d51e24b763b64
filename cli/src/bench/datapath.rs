//! `ferrovs bench --datapath`: the in-memory datapath figures, no interface.
//!
//! The rig of the criterion benches (`ferrovs_benches::datapath_rig`): one
//! PMD driven inline by this thread, 32 buffers circulating between two
//! in-memory ports. Three cases: every packet hits the EMC; the EMC is off and
//! packets hit megaflows over 8 masks; every packet misses and a trivial
//! upcall handler installs an exact flow that rewrites nw_dst (so the next
//! pass misses again). Each case runs for a window cut into 100 ms slices;
//! the figure is the median slice's packets per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use ferrovs_benches::datapath_rig::{dst_mask, frame, rig, NoMiss, Rewriter, Rig, N};
use ferrovs_datapath::flow::layout::{DL_TYPE, NW_DST, NW_SRC};
use ferrovs_datapath::flow::Flow;

use super::measure::median;

#[derive(Debug, Clone, Copy)]
pub struct DatapathFigures {
    pub emc_hit_mpps: f64,
    pub megaflow_hit_8_masks_mpps: f64,
    pub upcall_install_mpps: f64,
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
    r.check_loop()?;
    Ok(median(&rates).unwrap_or(0.0))
}

pub fn measure(window: Duration) -> anyhow::Result<DatapathFigures> {
    // EMC: 32 flows, each inserted on its first hit.
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| frame(0, [198, 19, 0, i as u8], 1000))
        .collect();
    let mut r = rig(Arc::new(NoMiss), 1, &frames)?;
    for f in &frames {
        r.install(f, dst_mask())?;
    }
    let emc = drive(&mut r, window, |_| {})?;
    ensure!(r.dp.stats().emc_hits > 0, "EMC case hit no EMC entry");

    // Megaflow: EMC off, 8 masks (exact nw_src naming the group and a
    // /(32-k) prefix of nw_dst).
    let masks = 8;
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| frame((i % masks) as u8, [198, 19, (i / masks) as u8, 7], 1000))
        .collect();
    let mut r = rig(Arc::new(NoMiss), 0, &frames)?;
    for (i, f) in frames.iter().enumerate() {
        let mut m = Flow::default();
        m.set_all(DL_TYPE);
        m.set_all(NW_SRC);
        m.set(NW_DST, (!0u32 << (i % masks)) as u64);
        r.install(f, m)?;
    }
    let megaflow = drive(&mut r, window, |_| {})?;
    ensure!(r.dp.stats().emc_hits == 0, "megaflow case hit the EMC");

    // Upcall install: every packet misses; flows flushed at 100k.
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| frame(0, [198, 19, 0, i as u8], 1000))
        .collect();
    let mut r = rig(Arc::new(Rewriter), 100, &frames)?;
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
