//! The switch's side of translation: keeps the datapath's upcall handler
//! ([`OfprotoUpcall`]) in step with the running bridges, and runs the
//! periodic slow-path work.
//!
//! `Wiring` remembers, per bridge, the `Bridge` registered with the
//! handler, the ports last given to it and the fail-mode state; `sync`
//! (after each reconciler pass) diffs the running switch against that and
//! applies only the difference, so an unchanged port is never touched.
//! `tick` (every 100 ms from the main loop) pushes rule statistics,
//! revalidates the megaflows, hands packet-ins to the bridges' controllers,
//! translates and executes the packet-outs they received, and drains what
//! the datapath sent on dummy and internal devices (into
//! `options:tx_pcap` for dummies, as OVS's netdev-dummy).
//!
//! Fail mode and controllers follow OVS's connmgr: a bridge starts in
//! secure mode without controllers. When the bridge goes from no primary
//! controller to some, or from some to none, its flows, groups and meters
//! are flushed (`connmgr_set_controllers`); then, when its fail mode
//! changes while it has no primary controller, they are flushed again
//! (`connmgr_set_fail_mode`). After a flush, a standalone bridge without
//! primary controllers gets the visible flow `priority=0 actions=NORMAL`
//! (so a new bridge without `fail_mode` shows that flow in
//! `ovs-ofctl dump-flows`, as OVS's). Service controllers (`ptcp:`,
//! `punix:`) count for none of this.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::Datapath;
use ferrovs_ofproto::revalidate::RevalidateStats;
use ferrovs_ofproto::upcall::{Bridge as XBridge, OfprotoUpcall};
use ferrovs_ofproto::xlate::{PatchPeer, PortVlan, VlanMode, XPort};
use ovsdb::idl::replica::Replica;

use crate::config::Rows;
use crate::iface::Backing;
use crate::ofconn::{lock, SharedOfproto};
use crate::switch::Switch;

/// How often the main loop calls [`tick`].
pub const TICK: Duration = Duration::from_millis(100);

/// One bridge as last given to the upcall handler.
struct Wired {
    xbridge: Arc<XBridge>,
    ports: BTreeMap<u16, XPort>,
    /// (standalone, has primary controllers) as last applied.
    fail: (bool, bool),
}

/// The upcall handler and what was last given to it.
pub struct Wiring {
    pub upcall: Arc<OfprotoUpcall>,
    bridges: BTreeMap<String, Wired>,
    /// Last revalidation round and its duration, for `upcall/show`.
    pub last_round: Option<(RevalidateStats, Duration)>,
    /// Most megaflows seen at once, for `upcall/show`.
    pub max_flows: usize,
    /// Kernel route/address/link change notifications (None: the tunnel
    /// routes are re-read every tick).
    route_watch: Option<Arc<crate::rtnetlink::Watch>>,
}

impl Wiring {
    pub fn new(upcall: Arc<OfprotoUpcall>) -> Wiring {
        // Listening first, then the first read: no change is missed.
        let route_watch = crate::rtnetlink::Watch::open()
            .map_err(|e| tracing::warn!("route change notifications: {e}"))
            .ok()
            .map(Arc::new);
        crate::tnl_host::refresh(&upcall.tnl);
        Wiring {
            upcall,
            bridges: BTreeMap::new(),
            last_round: None,
            max_flows: 0,
            route_watch,
        }
    }

    /// The running bridge `name` as translation sees it (its ports and
    /// MAC table).
    pub fn xbridge(&self, name: &str) -> Option<&Arc<XBridge>> {
        self.bridges.get(name).map(|w| &w.xbridge)
    }

    /// Every running bridge, by name.
    pub fn xbridges(&self) -> impl Iterator<Item = (&str, &Arc<XBridge>)> {
        self.bridges.iter().map(|(n, w)| (n.as_str(), &w.xbridge))
    }
}

/// A bridge's MAC table aging time and size from its `other_config`
/// (`mac-aging-time` in seconds, `mac-table-size`), as OVS 3.1 reads
/// them: a missing, unparsable or zero value means the default (300 s,
/// 8192 entries); the aging is kept within 15..=3600 s and the size within
/// 10..=1,000,000 (a negative value, unsigned in OVS, is the maximum).
pub fn mac_table_config(oc: &BTreeMap<String, String>) -> (Duration, usize) {
    use ferrovs_ofproto::normal::{DEFAULT_AGING, DEFAULT_MAX_ENTRIES};
    let int = |k: &str| {
        oc.get(k)
            .and_then(|v| {
                v.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
                    .parse::<i32>()
                    .ok()
            })
            .filter(|v| *v != 0)
    };
    let aging = int("mac-aging-time").map_or(DEFAULT_AGING, |v| {
        Duration::from_secs((v as u32).clamp(15, 3600) as u64)
    });
    let size = int("mac-table-size").map_or(DEFAULT_MAX_ENTRIES, |v| {
        (v as i64 as u64).clamp(10, 1_000_000) as usize
    });
    (aging, size)
}

/// Each interface's VLAN settings, from its Port row (`tag`, `trunks`,
/// `vlan_mode`).
pub fn port_vlans(r: &Replica) -> BTreeMap<String, PortVlan> {
    let rows = Rows(r);
    let mut out = BTreeMap::new();
    for (p, _) in r.rows("Port") {
        let tag = rows
            .int("Port", p, "tag")
            .filter(|t| (0..4096).contains(t))
            .map(|t| t as u16);
        let mut trunks: Vec<u16> = r
            .get("Port", p, "trunks")
            .map(|d| {
                d.keys()
                    .filter_map(|a| a.as_integer())
                    .filter(|t| (0..4096).contains(t))
                    .map(|t| t as u16)
                    .collect()
            })
            .unwrap_or_default();
        trunks.sort_unstable();
        let mode = match rows.str("Port", p, "vlan_mode").as_deref() {
            Some("access") => VlanMode::Access,
            Some("trunk") => VlanMode::Trunk,
            Some("native-tagged") => VlanMode::NativeTagged,
            Some("native-untagged") => VlanMode::NativeUntagged,
            _ => VlanMode::Default,
        };
        let vlan = PortVlan { mode, tag, trunks };
        for i in rows.uuids("Port", p, "interfaces") {
            if let Some(name) = rows.str("Interface", &i, "name") {
                out.insert(name, vlan.clone());
            }
        }
    }
    out
}

/// Brings the upcall handler to the running switch (bridges, ports, patch
/// peers, VLAN settings) and applies fail-mode flushes. Returns whether
/// anything changed (the caller revalidates).
pub fn sync(sw: &mut Switch, vlans: &BTreeMap<String, PortVlan>) -> bool {
    let Some(w) = sw.shared.wiring.as_mut() else {
        return false;
    };
    let mut changed = false;
    // Bridges that went away, or were re-created with a new ofproto.
    let gone: Vec<String> = w
        .bridges
        .iter()
        .filter(|(n, wb)| {
            sw.bridges
                .get(*n)
                .is_none_or(|b| !Arc::ptr_eq(&b.ofproto, &wb.xbridge.ofproto))
        })
        .map(|(n, _)| n.clone())
        .collect();
    for n in gone {
        if let Some(wb) = w.bridges.remove(&n) {
            w.upcall.del_bridge(&wb.xbridge.ofproto);
            changed = true;
        }
    }
    // Where each running port is: interface name -> (bridge, ofport).
    let mut located: BTreeMap<&str, (&str, u16)> = BTreeMap::new();
    for (bn, b) in &sw.bridges {
        for (iname, i) in &b.ifaces {
            if let Some(p) = i.ofport {
                located.insert(iname.as_str(), (bn.as_str(), p));
            }
        }
    }
    for (bn, b) in &sw.bridges {
        let wb = w.bridges.entry(bn.clone()).or_insert_with(|| {
            let xb = XBridge::new(b.ofproto.clone());
            w.upcall.add_bridge(xb.clone());
            changed = true;
            Wired {
                xbridge: xb,
                ports: BTreeMap::new(),
                fail: (false, false),
            }
        });
        let mut want: BTreeMap<u16, XPort> = BTreeMap::new();
        for (iname, i) in &b.ifaces {
            let Some(ofport) = i.ofport else { continue };
            let peer = match &i.backing {
                Some(Backing::Patch { peer }) => {
                    let back = sw
                        .bridges
                        .values()
                        .find_map(|b| b.ifaces.get(peer.as_str()))
                        .is_some_and(|p| {
                        matches!(&p.backing, Some(Backing::Patch { peer: pp }) if pp == iname)
                    });
                    located
                        .get(peer.as_str())
                        .filter(|_| back)
                        .map(|(pb, po)| PatchPeer {
                            bridge: pb.to_string(),
                            ofport: *po,
                        })
                }
                _ => None,
            };
            want.insert(
                ofport,
                XPort {
                    name: iname.clone(),
                    dp_port: i.dp_port,
                    vlan: vlans.get(iname).cloned().unwrap_or_default(),
                    peer,
                    tunnel: match &i.backing {
                        Some(Backing::Tunnel(c)) => Some(c.clone()),
                        _ => None,
                    },
                },
            );
        }
        // Removals first: a port made again under a new ofport may have
        // its old datapath port number, which the removal of the old
        // ofport would otherwise unmap.
        for no in wb.ports.keys() {
            if !want.contains_key(no) {
                wb.xbridge.del_port(*no);
                changed = true;
            }
        }
        for (no, p) in &want {
            if wb.ports.get(no) != Some(p) {
                wb.xbridge.set_port(*no, p.clone());
                changed = true;
            }
        }
        wb.ports = want;
        let (aging, max) = mac_table_config(&b.settings.other_config);
        wb.xbridge.mac.configure(aging, max);
        let primaries = b.primary.values().any(|p| *p);
        let fail = (!b.settings.fail_secure, primaries);
        if apply_fail_mode(&b.ofproto, wb.fail, fail) {
            changed = true;
        }
        wb.fail = fail;
    }
    changed
}

/// As OVS's `connmgr_set_controllers` then `connmgr_set_fail_mode` (see
/// the module comment): `old` and `new` are (standalone, has primary
/// controllers). Returns whether the bridge was flushed.
fn apply_fail_mode(of: &SharedOfproto, old: (bool, bool), new: (bool, bool)) -> bool {
    let (was_standalone, had_ctl) = old;
    let (standalone, ctl) = new;
    let mut flushed = false;
    if had_ctl != ctl {
        // The controllers change under the old fail mode.
        flush(of, was_standalone && !ctl);
        flushed = true;
    }
    if was_standalone != standalone && !ctl {
        flush(of, standalone);
        flushed = true;
    }
    flushed
}

/// OVS's `ofproto_flush_flows`: every flow, group and meter goes (flows
/// with flow-removed reason DELETE); `normal`: then add the standalone
/// `priority=0 actions=NORMAL`.
fn flush(of: &SharedOfproto, normal: bool) {
    let mut o = lock(of);
    o.flush();
    if normal {
        if let Err(e) = o.add_flow_text("priority=0,actions=NORMAL") {
            tracing::error!("standalone NORMAL flow: {e}");
        }
    }
}

/// What one `tick` works on, taken out of the switch under its lock.
pub struct TickWork {
    upcall: Arc<OfprotoUpcall>,
    ofprotos: BTreeMap<String, SharedOfproto>,
    /// Devices the datapath transmits on, with their `tx_pcap` file.
    devices: Vec<(Arc<MemNetdev>, Option<PathBuf>)>,
    route_watch: Option<Arc<crate::rtnetlink::Watch>>,
    limits: Arc<crate::flow_limit::FlowLimits>,
    coverage: Arc<crate::coverage::Coverage>,
    pub reval: Arc<crate::reval_control::RevalControl>,
}

/// Collects what `tick` needs (None without wiring).
pub fn tick_work(sw: &Switch) -> Option<TickWork> {
    let w = sw.shared.wiring.as_ref()?;
    let mut devices = Vec::new();
    for b in sw.bridges.values() {
        for i in b.ifaces.values() {
            if let Some(nd) = &i.netdev {
                let pcap = (i.backing == Some(Backing::Dummy))
                    .then(|| i.cfg.options.get("tx_pcap").map(PathBuf::from))
                    .flatten();
                devices.push((nd.clone(), pcap));
            }
        }
    }
    Some(TickWork {
        upcall: w.upcall.clone(),
        ofprotos: sw
            .bridges
            .iter()
            .map(|(n, b)| (n.clone(), b.ofproto.clone()))
            .collect(),
        devices,
        route_watch: w.route_watch.clone(),
        limits: sw.flow_limits.clone(),
        coverage: sw.coverage.clone(),
        reval: sw.reval.clone(),
    })
}

/// One round of slow-path work (see the module comment). Returns the
/// revalidation round's figures and duration (None while the revalidator
/// is paused: no round, so no megaflow is deleted or expired and the flow
/// limit stays).
pub fn tick(work: &TickWork, dp: &Datapath) -> Option<(RevalidateStats, Duration)> {
    work.upcall.flush_stats();
    // Idle and hard timeouts (after the counters above, so that a rule
    // that saw packets is not taken for idle). Each ofproto walks its
    // rules only when one may be due.
    for of in work.ofprotos.values() {
        let mut of = lock(of);
        let now = of.now();
        of.run(now);
    }
    let round = (!work.reval.is_paused()).then(|| {
        let t0 = Instant::now();
        let n_flows = dp.flow_count();
        let st = work
            .upcall
            .revalidate(dp, work.limits.round_idle_ms(n_flows));
        let took = t0.elapsed();
        work.limits.adjust(n_flows, took, dp);
        work.coverage.round(
            &st,
            work.upcall
                .translations
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        (st, took)
    });
    work.coverage.sample(dp);
    for (bridge, pi, pkt) in work.upcall.take_packet_ins() {
        if let Some(of) = work.ofprotos.get(&bridge) {
            lock(of).send_packet_in(&pi, &pkt);
        }
    }
    run_packet_outs(work, dp);
    crate::tnl_host::refresh_if_changed(&work.upcall.tnl, work.route_watch.as_deref());
    crate::tnl_host::send_requests(&work.upcall, dp);
    drain_tx(&work.devices);
    round
}

/// Packet-outs and `NXT_RESUME`s the bridges' connections received: each is translated
/// (its actions from its packet's flow) and executed on the datapath; its
/// packet-ins (controller actions and table misses alike) come back
/// through the datapath's `userspace`.
fn run_packet_outs(work: &TickWork, dp: &Datapath) {
    for (bridge, of) in &work.ofprotos {
        let pos = lock(of).take_packet_outs();
        for po in pos {
            match work.upcall.packet_out(bridge, &po) {
                Ok(x) => {
                    if let Some(e) = x.error {
                        tracing::warn!("bridge {bridge}: packet-out translation failed: {e}");
                    }
                    if !x.actions.is_empty() {
                        dp.execute(&po.data, x.dp_in_port, &x.actions);
                    }
                }
                Err(e) => tracing::warn!("bridge {bridge}: packet-out dropped: {e}"),
            }
        }
    }
    for (bridge, of) in &work.ofprotos {
        let resumes = lock(of).take_resumes();
        for r in resumes {
            match work.upcall.resume(bridge, &r) {
                Ok(x) => {
                    if let Some(e) = x.error {
                        tracing::warn!("bridge {bridge}: resume translation failed: {e}");
                    }
                    if !x.actions.is_empty() {
                        dp.execute(&r.packet, x.dp_in_port, &x.actions);
                    }
                }
                Err(e) => tracing::warn!("bridge {bridge}: resume dropped: {e}"),
            }
        }
    }
    // Packet-ins of `controller` actions the executions made.
    for (bridge, pi, pkt) in work.upcall.take_packet_ins() {
        if let Some(of) = work.ofprotos.get(&bridge) {
            lock(of).send_packet_in(&pi, &pkt);
        }
    }
}

/// Takes what the datapath sent on each device; a dummy's goes to its
/// `tx_pcap` file when it has one.
fn drain_tx(devices: &[(Arc<MemNetdev>, Option<PathBuf>)]) {
    for (nd, pcap) in devices {
        let sent = nd.take_all_tx();
        if sent.is_empty() {
            continue;
        }
        if let Some(f) = pcap {
            let frames: Vec<Vec<u8>> = sent.iter().map(|p| p.data().to_vec()).collect();
            if let Err(e) = crate::pcap::append(f, &frames) {
                tracing::warn!("tx_pcap {}: {e}", f.display());
            }
        }
    }
}

/// Runs `tick` every [`TICK`] until the task is aborted.
pub async fn run(switch: Arc<std::sync::Mutex<Switch>>, dp: Arc<Datapath>) {
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let work = tick_work(&switch.lock().unwrap_or_else(|e| e.into_inner()));
        let Some(work) = work else { continue };
        let dp2 = dp.clone();
        let r = tokio::task::spawn_blocking(move || tick(&work, &dp2)).await;
        if let Ok(Some(round)) = r {
            let n = dp.flow_count();
            let mut sw = switch.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(w) = sw.shared.wiring.as_mut() {
                w.last_round = Some(round);
                w.max_flows = w.max_flows.max(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mac_table_config_as_ovs() {
        use std::collections::BTreeMap;
        let cfg = |kv: &[(&str, &str)]| {
            let oc: BTreeMap<String, String> = kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let (a, n) = super::mac_table_config(&oc);
            (a.as_secs(), n)
        };
        assert_eq!(cfg(&[]), (300, 8192));
        for (v, aging, size) in [
            ("0", 300, 8192),
            ("x", 300, 8192),
            ("12x", 300, 8192),
            ("1", 15, 10),
            (" 100", 100, 100),
            ("+100", 100, 100),
            ("5000", 3600, 5000),
            ("-5", 3600, 1_000_000),
            ("2000000", 3600, 1_000_000),
            ("99999999999", 300, 8192),
        ] {
            assert_eq!(
                cfg(&[("mac-aging-time", v), ("mac-table-size", v)]),
                (aging, size),
                "{v:?}"
            );
        }
    }

    use super::*;
    use crate::bridge::Shared;
    use crate::config::{WantBridge, WantIface, Wanted};
    use ferrovs_datapath::DpConfig;
    use uuid::Uuid;

    fn iface(name: &str, kind: &str, peer: Option<&str>) -> WantIface {
        WantIface {
            uuid: Uuid::new_v4(),
            name: name.into(),
            kind: kind.into(),
            options: peer
                .map(|p| [("peer".to_string(), p.to_string())].into())
                .unwrap_or_default(),
            ofport_request: None,
            mtu_request: None,
            mac: None,
        }
    }

    fn bridge(name: &str, ifaces: &[WantIface]) -> WantBridge {
        WantBridge {
            uuid: Uuid::new_v4(),
            name: name.into(),
            datapath_type: "netdev".into(),
            fail_secure: false,
            protocols: Vec::new(),
            other_config: BTreeMap::new(),
            mcast_snooping: false,
            controllers: BTreeMap::new(),
            ifaces: ifaces.iter().map(|i| (i.name.clone(), i.clone())).collect(),
        }
    }

    fn wanted(bridges: &[&WantBridge]) -> Wanted {
        Wanted {
            root: Some(Uuid::new_v4()),
            next_cfg: 1,
            other_config: Default::default(),
            ct_zones: Default::default(),
            rxq_affinity: Default::default(),
            bridges: bridges
                .iter()
                .map(|b| (b.name.clone(), (*b).clone()))
                .collect(),
        }
    }

    fn ports(sw: &Switch, br: &str) -> BTreeMap<u16, XPort> {
        let w = sw.shared.wiring.as_ref().unwrap();
        let ports = w.bridges[br].xbridge.ports.read().unwrap();
        ports.iter().map(|(n, p)| (n, p.clone())).collect()
    }

    /// Bridges, ports (datapath port, VLAN, patch peer) reach the upcall
    /// handler; only differences are applied; a standalone bridge gets
    /// its NORMAL flow, a secure one none.
    #[tokio::test]
    async fn sync_follows_the_switch() {
        let dir = tempfile::tempdir().unwrap();
        let up = OfprotoUpcall::new();
        let dp = Arc::new(Datapath::new(DpConfig::default(), up.clone()));
        let mut shared = Shared::new(dp, dir.path());
        shared.wiring = Some(Wiring::new(up.clone()));
        let mut sw = Switch::new(shared);
        let mut b0 = bridge(
            "br0",
            &[
                iface("br0", "internal", None),
                iface("p1", "dummy", None),
                iface("pa", "patch", Some("pb")),
            ],
        );
        let mut b1 = bridge(
            "br1",
            &[
                iface("br1", "internal", None),
                iface("pb", "patch", Some("pa")),
            ],
        );
        b1.fail_secure = true;
        let vlans: BTreeMap<String, PortVlan> = [(
            "p1".to_string(),
            PortVlan {
                tag: Some(10),
                ..Default::default()
            },
        )]
        .into();
        sw.apply(&wanted(&[&b0, &b1]));
        assert!(sync(&mut sw, &vlans));
        let p = ports(&sw, "br0");
        assert_eq!(p.keys().copied().collect::<Vec<_>>(), [1, 2, 0xfffe]);
        assert_eq!(p[&1].dp_port, sw.bridges["br0"].ifaces["p1"].dp_port);
        assert!(p[&1].dp_port.is_some());
        assert_eq!(p[&1].vlan.tag, Some(10));
        assert_eq!(p[&2].dp_port, None);
        assert_eq!(
            p[&2].peer,
            Some(PatchPeer {
                bridge: "br1".into(),
                ofport: 1
            })
        );
        // Standalone br0 has the NORMAL flow; secure br1 has none.
        assert_eq!(lock(&sw.bridges["br0"].ofproto).n_rules(), 1);
        assert_eq!(lock(&sw.bridges["br1"].ofproto).n_rules(), 0);
        let t = up.trace("br0", "in_port=1").unwrap();
        assert!(t.contains("NORMAL"), "{t}");

        // Nothing changed: nothing applied.
        assert!(!sync(&mut sw, &vlans));

        // p1 leaves; br1 goes away, so pa loses its peer.
        b0.ifaces.remove("p1");
        sw.apply(&wanted(&[&b0]));
        assert!(sync(&mut sw, &vlans));
        let p = ports(&sw, "br0");
        assert_eq!(p.keys().copied().collect::<Vec<_>>(), [2, 0xfffe]);
        assert_eq!(p[&2].peer, None);
        assert!(up.trace("br1", "in_port=1").is_err());
        assert!(!sw
            .shared
            .wiring
            .as_ref()
            .unwrap()
            .bridges
            .contains_key("br1"));

        // br0 turns secure without controllers: its flows are flushed.
        b0.fail_secure = true;
        sw.apply(&wanted(&[&b0]));
        assert!(sync(&mut sw, &vlans));
        assert_eq!(lock(&sw.bridges["br0"].ofproto).n_rules(), 0);
    }
}
