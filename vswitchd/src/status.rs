//! Status written back to the database: what OVS's bridge.c writes after
//! each reconfiguration (port numbers, errors, addresses, states, MTUs,
//! the datapath id, controller connection state, `cur_cfg`) and, every
//! `STATS_INTERVAL`, interface statistics and controller timers.
//!
//! The pass compares each value with the replica and puts only the columns
//! that differ into one transaction, so a pass over an unchanged switch
//! writes nothing (our own writes come back as updates and must not loop).
//! Values are built in OVSDB's JSON form and read into `Datum`s with the
//! column's type, then compared as datums.

use std::collections::BTreeMap;
use std::time::Duration;

use ovsdb::datum::Datum;
use ovsdb::idl::replica::Replica;
use ovsdb::idl::{RowRef, TxnBuilder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::bridge::Controller;
use crate::config::Wanted;
use crate::hostdev;
use crate::hwaddr;
use crate::iface::Backing;
use crate::switch::{refused_error, Switch};

/// OVS's default `stats-update-interval`.
pub const STATS_INTERVAL: Duration = Duration::from_secs(5);

/// The OVS release whose database and tool interface ferrovs implements;
/// written to `ovs_version` when nothing else (an init script) did.
pub const OVS_COMPAT_VERSION: &str = "3.1.0";

/// Datapath types and interface types ferrovs runs.
pub const DATAPATH_TYPES: &[&str] = &["netdev"];
pub const IFACE_TYPES: &[&str] = &["afxdp", "dummy", "internal", "patch", "system", "tap"];
/// Interface types with in-memory ports only (`--enable-dummy=override`).
pub const IFACE_TYPES_IN_MEMORY: &[&str] = &["dummy", "internal", "patch"];

fn empty() -> Value {
    json!(["set", []])
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map(Into::into).unwrap_or_else(empty)
}

fn map<K: AsRef<str>>(pairs: impl IntoIterator<Item = (K, String)>) -> Value {
    let mut v: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_string(), v))
        .collect();
    v.sort();
    json!([
        "map",
        v.into_iter()
            .map(|(k, v)| json!([k, v]))
            .collect::<Vec<_>>()
    ])
}

/// The Controller `role` column's word for a connection role.
fn role_name(role: u32) -> &'static str {
    use ferrovs_ofproto::connmgr::role::{ROLE_MASTER, ROLE_SLAVE};
    match role {
        ROLE_MASTER => "master",
        ROLE_SLAVE => "slave",
        _ => "other",
    }
}

fn set_of(items: &[&str]) -> Value {
    json!(["set", items])
}

/// Collects the differing columns of each row.
struct Pass<'a> {
    r: &'a Replica,
    rows: BTreeMap<(&'static str, Uuid), serde_json::Map<String, Value>>,
}

impl Pass<'_> {
    /// Sets `col` of `table` row `u` to `v` if it differs.
    fn set(&mut self, table: &'static str, u: Uuid, col: &str, v: Value) {
        if self.r.row(table, &u).is_none() {
            return;
        }
        let Some(ti) = self.r.schema.table(table) else {
            return;
        };
        let ts = &self.r.schema.tables[ti];
        let Some(ci) = ts.column(col) else {
            return;
        };
        let want = match Datum::from_json(&ts.columns[ci].ty, &v, &mut |_| None, false) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("status {table}.{col} = {v}: {e}");
                return;
            }
        };
        if self.r.get(table, &u, col) != Some(&want) {
            self.rows
                .entry((table, u))
                .or_default()
                .insert(col.to_string(), v);
        }
    }

    fn current_map(&self, table: &str, u: &Uuid, col: &str) -> BTreeMap<String, String> {
        crate::config::Rows(self.r).map(table, u, col)
    }
}

/// The status transaction for `sw` having applied `want`, or None when the
/// database already shows everything. `full` adds statistics and timers.
pub fn build(r: &Replica, sw: &Switch, want: &Wanted, full: bool) -> Option<TxnBuilder> {
    let root = want.root?;
    let mut p = Pass {
        r,
        rows: BTreeMap::new(),
    };
    // Like OVS, errors found by the status refresh (a patch port without
    // its peer) are written once the reconfiguration is acknowledged
    // (`cur_cfg` caught up), in a transaction of their own: ovs-vsctl,
    // which waits for `cur_cfg`, does not report them.
    let settled =
        crate::config::Rows(r).int("Open_vSwitch", &root, "cur_cfg") == Some(want.next_cfg);
    for b in sw.bridges.values() {
        p.set(
            "Bridge",
            b.uuid,
            "datapath_id",
            json!(format!("{:016x}", b.dpid)),
        );
        p.set("Bridge", b.uuid, "datapath_version", json!("<built-in>"));
        let min_mtu = b.min_mtu();
        for i in b.ifaces.values() {
            let u = i.cfg.uuid;
            if let Some(e) = &i.error {
                p.set("Interface", u, "ofport", json!(-1));
                p.set("Interface", u, "error", json!(e));
                for c in [
                    "admin_state",
                    "link_state",
                    "mac_in_use",
                    "mtu",
                    "ifindex",
                    "link_resets",
                ] {
                    p.set("Interface", u, c, empty());
                }
                p.set("Interface", u, "status", map::<&str>([]));
                p.set("Interface", u, "statistics", json!(["map", []]));
                continue;
            }
            p.set("Interface", u, "ofport", opt(i.ofport.map(i64::from)));
            let refresh_error = match &i.backing {
                Some(Backing::Patch { peer }) if settled => sw.patch_peer_error(&i.cfg.name, peer),
                _ => None,
            };
            p.set("Interface", u, "error", opt(refresh_error));
            let name = i.cfg.name.as_str();
            if i.host.is_some() {
                // What the device itself shows.
                p.set(
                    "Interface",
                    u,
                    "admin_state",
                    json!(hostdev::admin_state(name)),
                );
                p.set(
                    "Interface",
                    u,
                    "link_state",
                    json!(hostdev::link_state(name)),
                );
                let mac = hostdev::mac(name).unwrap_or(i.mac);
                p.set("Interface", u, "mac_in_use", json!(hwaddr::format(&mac)));
                p.set("Interface", u, "ifindex", opt(hostdev::ifindex(name)));
            } else {
                p.set("Interface", u, "admin_state", json!("up"));
                p.set("Interface", u, "link_state", json!("up"));
                p.set("Interface", u, "mac_in_use", json!(hwaddr::format(&i.mac)));
                p.set("Interface", u, "ifindex", json!(0));
            }
            p.set("Interface", u, "mtu", opt(i.mtu(min_mtu)));
            p.set("Interface", u, "link_resets", json!(0));
            let mut st = i.status();
            if let (Some(Backing::Tunnel(c)), Some(w)) = (&i.backing, sw.shared.wiring.as_ref()) {
                st.extend(crate::tnl_host::egress_status(&w.upcall.tnl, c));
            }
            p.set("Interface", u, "status", map(st));
            // Statistics every period, and at once for a new interface.
            let no_stats = r
                .get("Interface", &u, "statistics")
                .is_none_or(|d| d.is_empty());
            if full || no_stats {
                // The same counters as the port's OpenFlow port stats.
                let stats = json!([
                    "map",
                    i.stats_source()()
                        .named()
                        .into_iter()
                        .map(|(k, v)| json!([k, v as i64]))
                        .collect::<Vec<_>>()
                ]);
                p.set("Interface", u, "statistics", stats);
            }
        }
        for (target, (cfg, c)) in &b.controllers {
            let _ = target;
            let u = cfg.uuid;
            match c {
                Controller::Active(a) => {
                    let s = a.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    p.set("Controller", u, "is_connected", json!(s.connected));
                    let role = s
                        .conn
                        .filter(|_| s.connected)
                        .and_then(|id| crate::ofconn::lock(&b.ofproto).conn_role(id))
                        .map(|r| json!(role_name(r)));
                    p.set("Controller", u, "role", role.unwrap_or_else(empty));
                    let mut st: Vec<(String, String)> = vec![("state".into(), s.state.to_string())];
                    if let Some(e) = &s.last_error {
                        st.push(("last_error".into(), e.clone()));
                    }
                    let cur = p.current_map("Controller", &u, "status");
                    let unchanged = cur.get("state").map(String::as_str) == Some(s.state)
                        && cur.get("last_error") == s.last_error.as_ref();
                    if full || !unchanged {
                        if let Some(t) = s.connected_at {
                            st.push((
                                "sec_since_connect".into(),
                                t.elapsed().as_secs().to_string(),
                            ));
                        }
                        if let Some(t) = s.disconnected_at {
                            st.push((
                                "sec_since_disconnect".into(),
                                t.elapsed().as_secs().to_string(),
                            ));
                        }
                        // Packet-in rate limiting counters, as OVS's
                        // connmgr reports them (only when limited).
                        let pins = s
                            .conn
                            .and_then(|id| crate::ofconn::lock(&b.ofproto).conn_pin_stats(id));
                        for (name, ps) in ["action", "miss"].into_iter().zip(pins.iter().flatten())
                        {
                            for (k, v) in [
                                ("backlog", ps.backlog),
                                ("bypassed", ps.bypassed),
                                ("queued", ps.queued),
                                ("dropped", ps.dropped),
                            ] {
                                st.push((format!("packet-in-{name}-{k}"), v.to_string()));
                            }
                        }
                        p.set("Controller", u, "status", map(st));
                    }
                }
                Controller::Passive(_) | Controller::Failed(_) => {
                    // As OVS: only active controllers report a connection.
                    p.set("Controller", u, "is_connected", json!(false));
                    p.set("Controller", u, "role", empty());
                    p.set("Controller", u, "status", map::<&str>([]));
                }
            }
        }
    }
    for w in sw.refused.values() {
        let e = refused_error(w);
        for i in w.ifaces.values() {
            p.set("Interface", i.uuid, "ofport", json!(-1));
            p.set("Interface", i.uuid, "error", json!(e));
        }
    }
    p.set(
        "Open_vSwitch",
        root,
        "datapath_types",
        set_of(DATAPATH_TYPES),
    );
    let types = if sw.shared.host_ports {
        IFACE_TYPES
    } else {
        IFACE_TYPES_IN_MEMORY
    };
    p.set("Open_vSwitch", root, "iface_types", set_of(types));
    p.set("Open_vSwitch", root, "dpdk_initialized", json!(false));
    let rows = crate::config::Rows(r);
    if rows.str("Open_vSwitch", &root, "ovs_version").is_none() {
        p.set(
            "Open_vSwitch",
            root,
            "ovs_version",
            json!(OVS_COMPAT_VERSION),
        );
    }
    if rows.str("Open_vSwitch", &root, "db_version").is_none() {
        p.set("Open_vSwitch", root, "db_version", json!(r.schema.version));
    }
    p.set("Open_vSwitch", root, "cur_cfg", json!(want.next_cfg));
    if p.rows.is_empty() {
        return None;
    }
    let mut txn = TxnBuilder::new();
    for ((table, u), cols) in p.rows {
        txn.update(table, &RowRef::Existing(u), Value::Object(cols));
    }
    Some(txn)
}
