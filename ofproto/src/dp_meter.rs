//! Meters as the datapath runs them: token buckets behind the datapath's
//! [`MeterHook`], and the datapath meter ids.
//!
//! Ids: as OVS, an OpenFlow meter gets, when it is created, the lowest
//! datapath meter id free in the whole process (OVS's id pool belongs to
//! the datapath backer, which every netdev bridge shares), and gives it
//! back when deleted; translation emits `meter(ID)` with that id.
//!
//! Buckets: [`DpMeters`] maps a datapath id to its bands, each a bucket
//! filled at the band's rate since the meter was last used, up to its
//! burst, in thousandths (bits for kbps meters, packets for pktps ones):
//! OVS's `dp_netdev_run_meter` arithmetic. A packet takes its cost from
//! every band that has it; if any band has not, the packet is over that
//! band's rate and is dropped (drop is the only band type the userspace
//! datapath has, as in OVS). One mutex per meter: a meter is shared by
//! every PMD whose flows use it, and the hot path holds it for a few
//! additions.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use ferrovs_datapath::actions::{DpAction, MeterHook};
use ferrovs_openflow::message::MeterBand;

use crate::meter::{MF_BURST, MF_PKTPS};

static IDS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Takes the lowest free datapath meter id.
pub fn alloc_id() -> u32 {
    let mut ids = IDS.lock().unwrap_or_else(|e| e.into_inner());
    let id = (0..).find(|i| !ids.contains(i)).unwrap_or(0);
    ids.insert(id);
    id
}

/// Gives a datapath meter id back.
pub fn free_id(id: u32) {
    IDS.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
}

/// A meter's configuration, as the buckets need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterSpec {
    pub pktps: bool,
    /// (rate, burst) per band; burst 0 = the rate (OVS).
    pub bands: Vec<(u32, u32)>,
}

impl MeterSpec {
    pub fn new(flags: u16, bands: &[MeterBand]) -> MeterSpec {
        MeterSpec {
            pktps: flags & MF_PKTPS != 0,
            bands: bands
                .iter()
                .map(|b| {
                    let burst = if flags & MF_BURST != 0 {
                        b.burst_size
                    } else {
                        0
                    };
                    (b.rate, burst)
                })
                .collect(),
        }
    }
}

#[derive(Debug)]
struct Band {
    rate: u64,
    /// Bucket capacity, thousandths.
    cap: u64,
    bucket: u64,
}

#[derive(Debug)]
struct Buckets {
    spec: MeterSpec,
    bands: Vec<Band>,
    /// Time of the last packet, ms (None before the first).
    used: Option<u64>,
    /// Longest refill that fills every bucket (caps the arithmetic).
    max_delta: u64,
    packets: u64,
    bytes: u64,
    dropped: u64,
    dropped_bytes: u64,
}

impl Buckets {
    fn new(spec: MeterSpec) -> Buckets {
        let bands: Vec<Band> = spec
            .bands
            .iter()
            .map(|&(rate, burst)| {
                let burst = if burst == 0 { rate } else { burst };
                let cap = burst as u64 * 1000;
                Band {
                    rate: rate.max(1) as u64,
                    cap,
                    // Full at the start.
                    bucket: cap,
                }
            })
            .collect();
        let max_delta = bands.iter().map(|b| b.cap / b.rate + 1).max().unwrap_or(0);
        Buckets {
            spec,
            bands,
            used: None,
            max_delta,
            packets: 0,
            bytes: 0,
            dropped: 0,
            dropped_bytes: 0,
        }
    }

    fn pass(&mut self, pkt_len: usize, now_ms: u64) -> bool {
        let delta = match self.used {
            Some(t) => now_ms.saturating_sub(t).min(self.max_delta),
            None => 0,
        };
        self.used = Some(now_ms);
        let cost = if self.spec.pktps {
            1000
        } else {
            pkt_len as u64 * 8
        };
        let mut over = false;
        for b in &mut self.bands {
            b.bucket = (b.bucket + delta * b.rate).min(b.cap);
            if b.bucket >= cost {
                b.bucket -= cost;
            } else {
                over = true;
            }
        }
        self.packets += 1;
        self.bytes += pkt_len as u64;
        if over {
            self.dropped += 1;
            self.dropped_bytes += pkt_len as u64;
        }
        !over
    }
}

/// Counters of one datapath meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpMeterStats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets (and their bytes) a band dropped.
    pub dropped: u64,
    pub dropped_bytes: u64,
}

/// The datapath's meters, by datapath meter id.
#[derive(Debug, Default)]
pub struct DpMeters {
    meters: RwLock<HashMap<u32, Arc<Mutex<Buckets>>>>,
}

impl DpMeters {
    pub fn new() -> Arc<DpMeters> {
        Arc::new(DpMeters::default())
    }

    /// Sets meter `id` to `spec` (buckets kept if unchanged, refilled if
    /// the configuration changed).
    pub fn configure(&self, id: u32, spec: MeterSpec) {
        if let Some(m) = self
            .meters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            if m.lock().unwrap_or_else(|e| e.into_inner()).spec == spec {
                return;
            }
        }
        self.meters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Arc::new(Mutex::new(Buckets::new(spec))));
    }

    /// Configures every meter `acts` use (nested lists included) from
    /// `spec_of` (None: left as it is).
    pub fn sync(&self, acts: &[DpAction], spec_of: impl Fn(u32) -> Option<MeterSpec> + Copy) {
        for a in acts {
            match a {
                DpAction::Meter(id) => {
                    if let Some(s) = spec_of(*id) {
                        self.configure(*id, s);
                    }
                }
                DpAction::Clone(l) | DpAction::Sample { actions: l, .. } => self.sync(l, spec_of),
                DpAction::CheckPktLen { gt, le, .. } => {
                    self.sync(gt, spec_of);
                    self.sync(le, spec_of);
                }
                _ => {}
            }
        }
    }

    /// Forgets meter `id` (its packets then pass).
    pub fn remove(&self, id: u32) {
        self.meters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Counters of meter `id`.
    pub fn stats(&self, id: u32) -> Option<DpMeterStats> {
        let m = self
            .meters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)?
            .clone();
        let b = m.lock().unwrap_or_else(|e| e.into_inner());
        Some(DpMeterStats {
            packets: b.packets,
            bytes: b.bytes,
            dropped: b.dropped,
            dropped_bytes: b.dropped_bytes,
        })
    }

    /// The counters of every meter since the last call (then zeroed), for
    /// the OpenFlow meter stats.
    pub fn take_stats(&self) -> Vec<(u32, DpMeterStats)> {
        let meters = self.meters.read().unwrap_or_else(|e| e.into_inner());
        let mut v = Vec::new();
        for (id, m) in meters.iter() {
            let mut b = m.lock().unwrap_or_else(|e| e.into_inner());
            if b.packets == 0 {
                continue;
            }
            v.push((
                *id,
                DpMeterStats {
                    packets: b.packets,
                    bytes: b.bytes,
                    dropped: b.dropped,
                    dropped_bytes: b.dropped_bytes,
                },
            ));
            (b.packets, b.bytes, b.dropped, b.dropped_bytes) = (0, 0, 0, 0);
        }
        v
    }
}

impl MeterHook for DpMeters {
    fn pass(&self, id: u32, pkt_len: usize, now_ms: u64) -> bool {
        let m = match self
            .meters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            Some(m) => m.clone(),
            None => return true,
        };
        let r = m
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pass(pkt_len, now_ms);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(rate: u32, burst: u32) -> MeterBand {
        MeterBand {
            type_: 1,
            rate,
            burst_size: burst,
            prec_level: 0,
            experimenter: 0,
        }
    }

    #[test]
    fn pktps_band_drops_over_its_rate() {
        let m = DpMeters::new();
        m.configure(3, MeterSpec::new(MF_PKTPS, &[band(10, 0)]));
        // A full bucket of 10 packets, then nothing within the same ms.
        let passed = (0..25).filter(|_| m.pass(3, 100, 1000)).count();
        assert_eq!(passed, 10);
        // 100 ms later: 10 pkt/s * 0.1 s = 1 more.
        let passed = (0..5).filter(|_| m.pass(3, 100, 1100)).count();
        assert_eq!(passed, 1);
        let s = m.stats(3).unwrap();
        assert_eq!((s.packets, s.dropped), (30, 19));
        let t = m.take_stats();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].1.packets, t[0].1.dropped_bytes), (30, 1900));
        assert!(m.take_stats().is_empty(), "counters reset");
        // Unknown meters let packets through.
        assert!(m.pass(4, 100, 0));
    }

    #[test]
    fn kbps_band_counts_bits_and_burst() {
        let m = DpMeters::new();
        // 80 kbps with a burst of 16 kbit: two 1000-byte packets fit.
        m.configure(1, MeterSpec::new(MF_BURST, &[band(80, 16)]));
        assert!(m.pass(1, 1000, 0));
        assert!(m.pass(1, 1000, 0));
        assert!(!m.pass(1, 1000, 0));
        // 100 ms at 80 kbps refills 8000 bits: one more.
        assert!(m.pass(1, 1000, 100));
        assert!(!m.pass(1, 1000, 100));
        // Reconfiguring with the same spec keeps the empty bucket.
        m.configure(1, MeterSpec::new(MF_BURST, &[band(80, 16)]));
        assert!(!m.pass(1, 1000, 100));
        // A new spec starts full.
        m.configure(1, MeterSpec::new(MF_BURST, &[band(80, 24)]));
        assert!(m.pass(1, 1000, 100));
    }

    #[test]
    fn ids_are_the_lowest_free() {
        let a = alloc_id();
        let b = alloc_id();
        assert_ne!(a, b);
        free_id(a);
        let c = alloc_id();
        assert!(c <= a.max(b));
        free_id(b);
        free_id(c);
    }
}
