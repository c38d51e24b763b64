//! The configuration the database asks for, read out of the IDL replica
//! into plain values: the switch's bridges, each bridge's settings,
//! controllers and interfaces, by name.
//!
//! The reconciler compares one `Wanted` with what runs and applies the
//! difference; nothing here touches the running switch. Everything is kept
//! in `BTreeMap`s so that a pass visits bridges and interfaces in a stable
//! order (name order), which makes port numbering reproducible when many
//! ports arrive in one transaction.

use std::collections::BTreeMap;

use ferrovs_openflow::Version;
use ovsdb::idl::replica::Replica;
use uuid::Uuid;

/// The whole switch as configured.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// The `Open_vSwitch` row (None while the database holds none).
    pub root: Option<Uuid>,
    pub next_cfg: i64,
    pub bridges: BTreeMap<String, WantBridge>,
    /// The `Open_vSwitch` row's `other_config` (PMD settings).
    pub other_config: BTreeMap<String, String>,
    /// Conntrack timeout policies per zone (`Datapath`/`CT_Zone`).
    pub ct_zones: crate::ct_config::ZonePolicies,
    /// Each Interface's `other_config:pmd-rxq-affinity`, by interface
    /// name (kept out of `WantIface`: changing it moves queues, it does
    /// not re-open the port).
    pub rxq_affinity: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WantBridge {
    pub uuid: Uuid,
    pub name: String,
    /// As stored ("" means netdev).
    pub datapath_type: String,
    pub fail_secure: bool,
    /// `protocols` that ferrovs knows, in order; empty means the default.
    pub protocols: Vec<Version>,
    /// Holds `datapath-id`, `hwaddr` (used), `flow_tables` (the number
    /// of visible tables, given to ofproto), `disable-in-band` (kept: no
    /// in-band control in ferrovs).
    pub other_config: BTreeMap<String, String>,
    /// `mcast_snooping_enable`, kept for when snooping exists.
    pub mcast_snooping: bool,
    pub controllers: BTreeMap<String, WantController>,
    /// Interfaces of every port of the bridge, by interface name.
    pub ifaces: BTreeMap<String, WantIface>,
}

impl WantBridge {
    /// Settings other than ports and controllers, for change detection.
    pub fn settings(&self) -> (&str, bool, &[Version], &BTreeMap<String, String>, bool) {
        (
            &self.datapath_type,
            self.fail_secure,
            &self.protocols,
            &self.other_config,
            self.mcast_snooping,
        )
    }

    /// `other_config:flow_tables`, if a usable table count (1 to 254).
    pub fn n_tables(&self) -> Option<u8> {
        self.other_config
            .get("flow_tables")
            .and_then(|v| v.parse::<u8>().ok())
            .filter(|n| (1..=254).contains(n))
    }
    pub fn is_netdev(&self) -> bool {
        self.datapath_type.is_empty() || self.datapath_type == "netdev"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WantController {
    pub uuid: Uuid,
    pub target: String,
    /// Milliseconds (default 8000, at least 1000).
    pub max_backoff_ms: u64,
    /// Milliseconds; 0 disables probing (default 5000, at least 5000).
    pub inactivity_probe_ms: u64,
    /// `controller_rate_limit`: packet-ins a second (0: unlimited).
    pub rate_limit: u32,
    /// `controller_burst_limit` (0: a quarter of the rate).
    pub burst_limit: u32,
    /// `type`: "primary" or "service" (unset: primary for an active
    /// target, service for a passive one, as OVS).
    pub conn_type: Option<String>,
}

impl WantController {
    /// OVS's connection type (`get_controller_ofconn_type`): the `type`
    /// column if set ("primary", anything else a service), else primary
    /// for an active target (`tcp:`, `unix:`, `ssl:`) and service for a
    /// passive one. Primaries get asynchronous messages by default, and
    /// only they count as "the bridge has controllers" (flow flush, fail
    /// mode); a service connection gets them once it asks.
    pub fn is_primary(&self) -> bool {
        match self.conn_type.as_deref() {
            Some(t) => t == "primary",
            None => matches!(self.target.split(':').next(), Some("tcp" | "unix" | "ssl")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WantIface {
    pub uuid: Uuid,
    pub name: String,
    pub kind: String,
    pub options: BTreeMap<String, String>,
    pub ofport_request: Option<i64>,
    pub mtu_request: Option<i64>,
    pub mac: Option<String>,
}

/// Typed reads of replica columns.
pub struct Rows<'a>(pub &'a Replica);

impl Rows<'_> {
    pub fn str(&self, t: &str, u: &Uuid, c: &str) -> Option<String> {
        self.0
            .get(t, u, c)
            .and_then(|d| d.first())
            .and_then(|a| a.as_str())
            .map(str::to_string)
    }
    pub fn int(&self, t: &str, u: &Uuid, c: &str) -> Option<i64> {
        self.0
            .get(t, u, c)
            .and_then(|d| d.first())
            .and_then(|a| a.as_integer())
    }
    pub fn strs(&self, t: &str, u: &Uuid, c: &str) -> Vec<String> {
        self.0
            .get(t, u, c)
            .map(|d| {
                d.keys()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn uuids(&self, t: &str, u: &Uuid, c: &str) -> Vec<Uuid> {
        self.0
            .get(t, u, c)
            .map(|d| d.keys().filter_map(|a| a.as_uuid()).collect())
            .unwrap_or_default()
    }
    pub fn map(&self, t: &str, u: &Uuid, c: &str) -> BTreeMap<String, String> {
        let Some(d) = self.0.get(t, u, c) else {
            return BTreeMap::new();
        };
        d.keys()
            .zip(d.values())
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect()
    }
}

fn version_named(s: &str) -> Option<Version> {
    Some(match s {
        "OpenFlow10" => Version::Of10,
        "OpenFlow11" => Version::Of11,
        "OpenFlow12" => Version::Of12,
        "OpenFlow13" => Version::Of13,
        "OpenFlow14" => Version::Of14,
        "OpenFlow15" => Version::Of15,
        _ => return None,
    })
}

impl Wanted {
    /// Reads the configuration out of a replica. Interfaces named twice
    /// (in two ports or two bridges) are kept once, the first seen, as OVS
    /// does; the rest are logged.
    pub fn read(r: &Replica) -> Wanted {
        let rows = Rows(r);
        let Some((root, _)) = r.rows("Open_vSwitch").next() else {
            return Wanted::default();
        };
        let root = *root;
        let mut w = Wanted {
            root: Some(root),
            next_cfg: rows.int("Open_vSwitch", &root, "next_cfg").unwrap_or(0),
            bridges: BTreeMap::new(),
            other_config: rows.map("Open_vSwitch", &root, "other_config"),
            ct_zones: crate::ct_config::read(r, &root),
            rxq_affinity: BTreeMap::new(),
        };
        let mut seen_ifaces = std::collections::BTreeSet::new();
        let mut bridges: Vec<(String, Uuid)> = rows
            .uuids("Open_vSwitch", &root, "bridges")
            .into_iter()
            .filter_map(|b| Some((rows.str("Bridge", &b, "name")?, b)))
            .collect();
        bridges.sort();
        for (name, b) in bridges {
            if w.bridges.contains_key(&name) {
                tracing::warn!("bridge {name}: named twice, ignoring the second");
                continue;
            }
            let mut controllers = BTreeMap::new();
            for c in rows.uuids("Bridge", &b, "controller") {
                let Some(target) = rows.str("Controller", &c, "target") else {
                    continue;
                };
                let max_backoff_ms = rows
                    .int("Controller", &c, "max_backoff")
                    .unwrap_or(8000)
                    .max(1000) as u64;
                // Whole seconds, at least 5 unless 0 (disabled), as
                // OVS's rconn takes it.
                let inactivity_probe_ms = match rows.int("Controller", &c, "inactivity_probe") {
                    None => 5000,
                    Some(ms) if ms / 1000 <= 0 => 0,
                    Some(ms) => (ms / 1000).max(5) as u64 * 1000,
                };
                // The schema keeps them at 100 and 25 or more; unset: no
                // limit, as OVS.
                let limit = |col| {
                    rows.int("Controller", &c, col)
                        .map_or(0, |v| v.clamp(0, i64::from(u32::MAX)) as u32)
                };
                controllers.insert(
                    target.clone(),
                    WantController {
                        uuid: c,
                        target,
                        max_backoff_ms,
                        inactivity_probe_ms,
                        rate_limit: limit("controller_rate_limit"),
                        burst_limit: limit("controller_burst_limit"),
                        conn_type: rows.str("Controller", &c, "type"),
                    },
                );
            }
            let mut ports: Vec<(String, Uuid)> = rows
                .uuids("Bridge", &b, "ports")
                .into_iter()
                .filter_map(|p| Some((rows.str("Port", &p, "name")?, p)))
                .collect();
            ports.sort();
            let mut ifaces = BTreeMap::new();
            for (_, p) in ports {
                for i in rows.uuids("Port", &p, "interfaces") {
                    let Some(iname) = rows.str("Interface", &i, "name") else {
                        continue;
                    };
                    if !seen_ifaces.insert(iname.clone()) {
                        tracing::warn!("interface {iname}: named twice, ignoring the second");
                        continue;
                    }
                    if let Some(a) = rows
                        .map("Interface", &i, "other_config")
                        .remove("pmd-rxq-affinity")
                    {
                        w.rxq_affinity.insert(iname.clone(), a);
                    }
                    ifaces.insert(
                        iname.clone(),
                        WantIface {
                            uuid: i,
                            name: iname,
                            kind: rows.str("Interface", &i, "type").unwrap_or_default(),
                            options: rows.map("Interface", &i, "options"),
                            ofport_request: rows.int("Interface", &i, "ofport_request"),
                            mtu_request: rows.int("Interface", &i, "mtu_request"),
                            mac: rows.str("Interface", &i, "mac"),
                        },
                    );
                }
            }
            let protocols = rows
                .strs("Bridge", &b, "protocols")
                .iter()
                .filter_map(|s| version_named(s))
                .collect();
            w.bridges.insert(
                name.clone(),
                WantBridge {
                    uuid: b,
                    name,
                    datapath_type: rows.str("Bridge", &b, "datapath_type").unwrap_or_default(),
                    fail_secure: rows.str("Bridge", &b, "fail_mode").as_deref() == Some("secure"),
                    protocols,
                    other_config: rows.map("Bridge", &b, "other_config"),
                    mcast_snooping: r
                        .get("Bridge", &b, "mcast_snooping_enable")
                        .and_then(|d| d.first())
                        .is_some_and(|a| matches!(a, ovsdb::atom::Atom::Boolean(true))),
                    controllers,
                    ifaces,
                },
            );
        }
        w
    }
}
