//! Meters (OFPT_METER_MOD): rate in kbps or packets per second, optional
//! burst, drop and dscp_remark bands; their config, stats and features.
//! Enforcement is the datapath's (through translation); here the switch
//! keeps the configuration, the counters the datapath adds to, and
//! deletes the rules that use a meter when it goes (OFPRR_METER_DELETE).

use std::time::Instant;

use ferrovs_openflow::message::multipart::{MeterConfig, MeterFeatures, MeterStats};
use ferrovs_openflow::message::{MeterBand, MeterMod};
use ferrovs_openflow::ErrorCode;

use crate::connmgr::dispatch::Handled;
use crate::connmgr::Connection;
use crate::flow_mod::RR_METER_DELETE;
use crate::ofproto::Ofproto;

pub const MC_ADD: u16 = 0;
pub const MC_MODIFY: u16 = 1;
pub const MC_DELETE: u16 = 2;
pub const MF_KBPS: u16 = 1;
pub const MF_PKTPS: u16 = 2;
pub const MF_BURST: u16 = 4;
pub const MF_STATS: u16 = 8;
pub const MBT_DROP: u16 = 1;
pub const MBT_DSCP_REMARK: u16 = 2;
/// Largest meter id (OFPM_MAX); the reserved ids above it are refused.
pub const OFPM_MAX: u32 = 0xffff_0000;
pub const OFPM_ALL: u32 = 0xffff_ffff;
/// Meters this switch holds.
pub const MAX_METERS: u32 = 262_144;
/// Bands per meter.
pub const MAX_BANDS: u8 = 8;

#[derive(Debug, Clone)]
pub struct Meter {
    pub meter_id: u32,
    pub flags: u16,
    pub bands: Vec<MeterBand>,
    pub created: Instant,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    /// Per band (packets, bytes).
    pub band_counts: Vec<(u64, u64)>,
    /// The datapath meter id (see `dp_meter`), kept while the meter lives.
    pub dp_id: u32,
}

/// What `meter-features` reports.
pub fn meter_features() -> MeterFeatures {
    MeterFeatures {
        max_meter: MAX_METERS,
        band_types: 1 << MBT_DROP,
        capabilities: (MF_KBPS | MF_PKTPS | MF_BURST | MF_STATS) as u32,
        max_bands: MAX_BANDS,
        max_color: 0,
        features: 0,
    }
}

/// Checks of a meter-mod's flags and bands (OVS ofproto meter checks).
fn check_meter_mod(mm: &MeterMod) -> Handled {
    if mm.flags & !(MF_KBPS | MF_PKTPS | MF_BURST | MF_STATS) != 0
        || (mm.flags & MF_KBPS != 0 && mm.flags & MF_PKTPS != 0)
    {
        return Err(ErrorCode::OfpmmfcBadFlags);
    }
    if mm.bands.len() > MAX_BANDS as usize {
        return Err(ErrorCode::OfpmmfcOutOfBands);
    }
    for b in &mm.bands {
        if b.type_ != MBT_DROP {
            return Err(ErrorCode::OfpmmfcBadBand);
        }
        if b.rate == 0 {
            return Err(ErrorCode::OfpmmfcBadRate);
        }
    }
    Ok(())
}

impl Ofproto {
    /// OFPT_METER_MOD.
    pub(crate) fn handle_meter_mod(&mut self, conn: &mut Connection, mm: &MeterMod) -> Handled {
        let id = mm.meter_id;
        self.changed();
        match mm.command {
            MC_ADD | MC_MODIFY => {
                if id == 0 || id > OFPM_MAX {
                    return Err(ErrorCode::OfpmmfcInvalidMeter);
                }
                check_meter_mod(mm)?;
                let exists = self.meters.contains_key(&id);
                if mm.command == MC_ADD && exists {
                    return Err(ErrorCode::OfpmmfcMeterExists);
                }
                if mm.command == MC_MODIFY && !exists {
                    return Err(ErrorCode::OfpmmfcUnknownMeter);
                }
                if mm.command == MC_ADD && self.meters.len() as u32 >= MAX_METERS {
                    return Err(ErrorCode::OfpmmfcOutOfMeters);
                }
                let now = self.now();
                let old = self.meters.get(&id);
                let m = Meter {
                    meter_id: id,
                    flags: mm.flags,
                    bands: mm.bands.clone(),
                    created: old.map_or(now, |o| o.created),
                    packet_in_count: old.map_or(0, |o| o.packet_in_count),
                    byte_in_count: old.map_or(0, |o| o.byte_in_count),
                    band_counts: vec![(0, 0); mm.bands.len()],
                    dp_id: old.map_or_else(crate::dp_meter::alloc_id, |o| o.dp_id),
                };
                self.meters.insert(id, m);
                Ok(())
            }
            MC_DELETE => {
                let ids: Vec<u32> = if id == OFPM_ALL {
                    self.meters.keys().copied().collect()
                } else if id == 0 || id > OFPM_MAX {
                    return Err(ErrorCode::OfpmmfcInvalidMeter);
                } else {
                    vec![id]
                };
                let mut victims = Vec::new();
                for (t, table) in self.tables.t.iter().enumerate() {
                    for (k, r) in table.cls.iter() {
                        if r.meter().is_some_and(|m| ids.contains(&m)) {
                            victims.push((t as u8, k.r#match(), r.priority));
                        }
                    }
                }
                let mut changes = Vec::new();
                self.remove_rules(&victims, RR_METER_DELETE, &mut changes);
                for i in &ids {
                    if let Some(m) = self.meters.remove(i) {
                        crate::dp_meter::free_id(m.dp_id);
                    }
                }
                self.commit_changes(changes, Some(conn), 0);
                Ok(())
            }
            _ => Err(ErrorCode::OfpmmfcBadCommand),
        }
    }

    /// Adds datapath counters to meter `id`: packets/bytes in, and those
    /// band `band` dropped (or remarked). False if there is no such meter.
    pub fn credit_meter(
        &mut self,
        id: u32,
        packets: u64,
        bytes: u64,
        band: Option<(usize, u64, u64)>,
    ) -> bool {
        let Some(m) = self.meters.get_mut(&id) else {
            return false;
        };
        m.packet_in_count += packets;
        m.byte_in_count += bytes;
        if let Some((i, p, b)) = band {
            if let Some(c) = m.band_counts.get_mut(i) {
                c.0 += p;
                c.1 += b;
            }
        }
        true
    }

    /// The meter `id`.
    pub fn meter(&self, id: u32) -> Option<&Meter> {
        self.meters.get(&id)
    }

    fn meters_selected(&self, id: u32) -> Result<Vec<&Meter>, ErrorCode> {
        if id != OFPM_ALL && (id == 0 || id > OFPM_MAX) {
            return Err(ErrorCode::OfpmmfcInvalidMeter);
        }
        Ok(self
            .meters
            .values()
            .filter(|m| id == OFPM_ALL || m.meter_id == id)
            .collect())
    }

    fn meter_flows(&self, id: u32) -> u32 {
        self.tables
            .t
            .iter()
            .flat_map(|t| t.cls.iter())
            .filter(|(_, r)| r.meter() == Some(id))
            .count() as u32
    }

    pub(crate) fn meter_stats(&self, id: u32) -> Result<Vec<MeterStats>, ErrorCode> {
        let now = self.now();
        Ok(self
            .meters_selected(id)?
            .into_iter()
            .map(|m| {
                let (duration_sec, duration_nsec) = crate::rule::duration_since(m.created, now);
                MeterStats {
                    meter_id: m.meter_id,
                    flow_count: self.meter_flows(m.meter_id),
                    packet_in_count: m.packet_in_count,
                    byte_in_count: m.byte_in_count,
                    duration_sec,
                    duration_nsec,
                    bands: m.band_counts.clone(),
                }
            })
            .collect())
    }

    pub(crate) fn meter_config(&self, id: u32) -> Result<Vec<MeterConfig>, ErrorCode> {
        Ok(self
            .meters_selected(id)?
            .into_iter()
            .map(|m| MeterConfig {
                flags: m.flags,
                meter_id: m.meter_id,
                bands: m.bands.clone(),
            })
            .collect())
    }
}
