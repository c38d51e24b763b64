//! Conntrack timeout policies from the database: `Open_vSwitch.datapaths`
//! names a `Datapath` row per datapath type; its `ct_zones` maps a zone
//! to a `CT_Zone` whose `timeout_policy` is a `CT_Timeout_Policy` with
//! `timeouts` (attribute name -> seconds). The netdev datapath's zones
//! become the tracker's per-zone [`ZoneTimeouts`]: each policy starts
//! from OVS's defaults and overrides the attributes it names (attributes
//! the userspace tracker has no class for are ignored, as OVS's
//! userspace datapath does). Applied only when it changes; the tracker
//! swaps the table atomically, so packets never wait.

use std::collections::BTreeMap;

use ferrovs_datapath::conntrack::{Timeouts, ZoneTimeouts};
use ferrovs_datapath::Datapath;
use ovsdb::idl::replica::Replica;

/// Zone -> (attribute -> seconds), as configured for the netdev datapath.
pub type ZonePolicies = BTreeMap<u16, BTreeMap<String, u32>>;

/// Reads the netdev (or, failing that, system) datapath's zone policies.
pub fn read(r: &Replica, root: &uuid::Uuid) -> ZonePolicies {
    let mut out = ZonePolicies::new();
    let Some(dps) = r.get("Open_vSwitch", root, "datapaths") else {
        return out;
    };
    let mut dp = None;
    for (k, v) in dps.keys().zip(dps.values()) {
        match k.as_str() {
            Some("netdev") => dp = v.as_uuid(),
            Some("system") if dp.is_none() => dp = v.as_uuid(),
            _ => {}
        }
    }
    let Some(dp) = dp else {
        return out;
    };
    let Some(zones) = r.get("Datapath", &dp, "ct_zones") else {
        return out;
    };
    for (k, v) in zones.keys().zip(zones.values()) {
        let (Some(zone), Some(z)) = (k.as_integer(), v.as_uuid()) else {
            continue;
        };
        let Ok(zone) = u16::try_from(zone) else {
            continue;
        };
        let mut attrs = BTreeMap::new();
        let tp = r
            .get("CT_Zone", &z, "timeout_policy")
            .and_then(|d| d.first())
            .and_then(|a| a.as_uuid());
        if let Some(tp) = tp {
            if let Some(t) = r.get("CT_Timeout_Policy", &tp, "timeouts") {
                for (name, secs) in t.keys().zip(t.values()) {
                    if let (Some(n), Some(s)) = (name.as_str(), secs.as_integer()) {
                        attrs.insert(n.to_string(), s.clamp(0, u32::MAX as i64) as u32);
                    }
                }
            }
        }
        out.insert(zone, attrs);
    }
    out
}

/// The tracker's table for `zones`.
pub fn zone_timeouts(zones: &ZonePolicies) -> ZoneTimeouts {
    let mut zt = ZoneTimeouts::default();
    for (zone, attrs) in zones {
        let mut t = Timeouts::default();
        for (name, secs) in attrs {
            if !t.set_by_name(name, *secs) {
                tracing::debug!("zone {zone}: timeout {name} has no userspace class, ignored");
            }
        }
        zt.zones.insert(*zone, t);
    }
    zt
}

/// What was last applied, to apply only changes.
#[derive(Debug, Default)]
pub struct CtConfig {
    applied: Option<ZonePolicies>,
}

impl CtConfig {
    pub fn apply(&mut self, dp: &Datapath, zones: &ZonePolicies) {
        if self.applied.as_ref() == Some(zones) {
            return;
        }
        dp.conntrack().set_timeouts(zone_timeouts(zones));
        tracing::info!("conntrack: timeout policies for {} zone(s)", zones.len());
        self.applied = Some(zones.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_override_defaults_per_zone() {
        let mut z = ZonePolicies::new();
        z.insert(
            5,
            [
                ("tcp_established".to_string(), 100),
                ("tcp_unack".to_string(), 7),
            ]
            .into_iter()
            .collect(),
        );
        z.insert(6, BTreeMap::new());
        let zt = zone_timeouts(&z);
        let d = Timeouts::default();
        let five = zt.zones[&5];
        assert_eq!(five.0[2], 100, "tcp_established");
        assert_eq!(five.0[0], d.0[0], "others keep OVS's defaults");
        assert_eq!(zt.zones[&6], d);
        assert_eq!(zt.default, d);
    }
}
