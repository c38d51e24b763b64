//! The running switch: every bridge by name, the shared datapath, and the
//! last configuration applied.
//!
//! `Switch::apply` is the reconciler's one step: bridges that left the
//! database (or changed datapath type) are destroyed, new ones created, and
//! each is brought to what it should be. Bridges of a datapath type other
//! than `netdev` are not run: ferrovs has only the userspace datapath, so
//! their interfaces get an error.

use std::collections::BTreeMap;

use crate::bridge::{Bridge, Shared};
use crate::config::{WantBridge, Wanted};

pub struct Switch {
    pub shared: Shared,
    pub bridges: BTreeMap<String, Bridge>,
    /// Configured bridges that cannot run (their datapath type).
    pub refused: BTreeMap<String, WantBridge>,
    /// The PMD settings applied to the datapath.
    pub pmd: crate::pmd_config::PmdConfig,
    /// The conntrack timeout policies applied to the datapath.
    pub ct: crate::ct_config::CtConfig,
    /// `flow-limit` and `max-idle`, shared with the revalidation tick.
    pub flow_limits: std::sync::Arc<crate::flow_limit::FlowLimits>,
    /// `coverage/show`'s counters.
    pub coverage: std::sync::Arc<crate::coverage::Coverage>,
    /// `revalidator/pause`, `upcall/disable-ufid`.
    pub reval: std::sync::Arc<crate::reval_control::RevalControl>,
}

impl Switch {
    pub fn new(shared: Shared) -> Switch {
        let flow_limits = std::sync::Arc::new(crate::flow_limit::FlowLimits::default());
        shared.dp.set_flow_limit(flow_limits.limit());
        Switch {
            shared,
            bridges: BTreeMap::new(),
            refused: BTreeMap::new(),
            pmd: Default::default(),
            ct: Default::default(),
            flow_limits,
            coverage: Default::default(),
            reval: Default::default(),
        }
    }

    pub fn apply(&mut self, want: &Wanted) {
        self.pmd
            .apply(&self.shared.dp, &want.other_config, &want.rxq_affinity);
        self.ct.apply(&self.shared.dp, &want.ct_zones);
        self.flow_limits.apply(&want.other_config);
        let gone: Vec<String> = self
            .bridges
            .iter()
            .filter(|(n, b)| {
                want.bridges
                    .get(*n)
                    .is_none_or(|w| !w.is_netdev() || w.uuid != b.uuid)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for n in gone {
            if let Some(b) = self.bridges.remove(&n) {
                b.destroy(&mut self.shared);
            }
        }
        self.refused.clear();
        for (n, w) in &want.bridges {
            if !w.is_netdev() {
                self.refused.insert(n.clone(), w.clone());
                continue;
            }
            let b = self
                .bridges
                .entry(n.clone())
                .or_insert_with(|| Bridge::create(w, &self.shared));
            b.apply(w, &mut self.shared);
        }
    }

    /// Removes every bridge (at exit), so sockets files go away.
    pub fn clear(&mut self) {
        let all = std::mem::take(&mut self.bridges);
        for (_, b) in all {
            b.destroy(&mut self.shared);
        }
    }

    /// For a patch interface, OVS's complaint when its peer is not a patch
    /// interface (of a running bridge) that names it back.
    pub fn patch_peer_error(&self, name: &str, peer: &str) -> Option<String> {
        let peered = self.iface(peer).is_some_and(
            |p| matches!(&p.backing, Some(crate::iface::Backing::Patch { peer: pp }) if pp == name),
        );
        (!peered).then(|| format!("No usable peer '{peer}' exists in 'netdev' datapath."))
    }

    /// The interface named `name` in any bridge.
    pub fn iface(&self, name: &str) -> Option<&crate::iface::Iface> {
        self.bridges.values().find_map(|b| b.ifaces.get(name))
    }
}

/// The error shown on the interfaces of a bridge that cannot run.
pub fn refused_error(w: &WantBridge) -> String {
    format!(
        "datapath type \"{}\" is not supported by ferrovs (only the userspace datapath \"netdev\")",
        w.datapath_type
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{WantController, WantIface};
    use crate::iface::Backing;
    use crate::upcall::DropUpcalls;
    use ferrovs_datapath::{Datapath, DpConfig};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use uuid::Uuid;

    fn iface(name: &str, kind: &str) -> WantIface {
        WantIface {
            uuid: Uuid::new_v4(),
            name: name.into(),
            kind: kind.into(),
            options: BTreeMap::new(),
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

    fn wanted(bridges: &[WantBridge]) -> Wanted {
        Wanted {
            root: Some(Uuid::new_v4()),
            next_cfg: 1,
            other_config: Default::default(),
            ct_zones: Default::default(),
            rxq_affinity: Default::default(),
            bridges: bridges
                .iter()
                .map(|b| (b.name.clone(), b.clone()))
                .collect(),
        }
    }

    fn switch(dir: &std::path::Path) -> Switch {
        let dp = Arc::new(Datapath::new(
            DpConfig::default(),
            Arc::new(DropUpcalls::default()),
        ));
        Switch::new(Shared::new(dp, dir))
    }

    /// Ports that did not change keep their number, device and datapath
    /// port across passes; only the difference is applied.
    #[tokio::test]
    async fn only_the_difference_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut sw = switch(dir.path());
        let local = iface("br0", "internal");
        let p1 = iface("p1", "dummy");
        let mut b = bridge("br0", &[local.clone(), p1.clone()]);
        sw.apply(&wanted(&[b.clone()]));
        let br = &sw.bridges["br0"];
        assert_eq!(br.ifaces["br0"].ofport, Some(0xfffe));
        assert_eq!(br.ifaces["p1"].ofport, Some(1));
        let nd1 = br.ifaces["p1"].netdev.clone().unwrap();
        let dp1 = br.ifaces["p1"].dp_port;
        assert!(dir.path().join("br0.mgmt").exists());

        // Add p2 and a patch port: p1 is left alone.
        let mut patch = iface("pa", "patch");
        patch.options.insert("peer".into(), "pb".into());
        b.ifaces.insert("p2".into(), iface("p2", "dummy"));
        b.ifaces.insert("pa".into(), patch);
        sw.apply(&wanted(&[b.clone()]));
        let br = &sw.bridges["br0"];
        assert!(Arc::ptr_eq(&nd1, br.ifaces["p1"].netdev.as_ref().unwrap()));
        assert_eq!(br.ifaces["p1"].dp_port, dp1);
        assert_eq!(br.ifaces["p2"].ofport, Some(2));
        assert_eq!(br.ifaces["pa"].ofport, Some(3));
        assert_eq!(
            br.ifaces["pa"].dp_port, None,
            "patch ports have no datapath port"
        );
        assert_eq!(sw.shared.dp.ports().len(), 3, "br0, p1, p2");

        // A new peer is applied in place: the patch port keeps its number.
        b.ifaces
            .get_mut("pa")
            .unwrap()
            .options
            .insert("peer".into(), "pc".into());
        sw.apply(&wanted(&[b.clone()]));
        let pa = &sw.bridges["br0"].ifaces["pa"];
        assert_eq!(pa.ofport, Some(3));
        assert_eq!(
            pa.backing,
            Some(crate::iface::Backing::Patch { peer: "pc".into() })
        );
        // Without a peer it fails (and shows why).
        b.ifaces.get_mut("pa").unwrap().options.clear();
        sw.apply(&wanted(&[b.clone()]));
        let pa = &sw.bridges["br0"].ifaces["pa"];
        assert_eq!(pa.ofport, None);
        assert!(pa
            .error
            .as_deref()
            .unwrap()
            .contains("requires valid 'peer'"));

        // An MTU change is applied in place; a type change re-creates.
        b.ifaces.get_mut("p1").unwrap().mtu_request = Some(9000);
        sw.apply(&wanted(&[b.clone()]));
        assert!(Arc::ptr_eq(
            &nd1,
            sw.bridges["br0"].ifaces["p1"].netdev.as_ref().unwrap()
        ));
        let br = &sw.bridges["br0"];
        assert_eq!(br.ifaces["p1"].mtu(br.min_mtu()), Some(9000));
        // The LOCAL port follows the smallest MTU of the others (p2: 1500).
        assert_eq!(br.ifaces["br0"].mtu(br.min_mtu()), Some(1500));
        b.ifaces.get_mut("p2").unwrap().kind = "stt".into();
        sw.apply(&wanted(&[b.clone()]));
        let p2 = &sw.bridges["br0"].ifaces["p2"];
        assert_eq!(p2.ofport, None);
        assert!(p2.error.as_deref().unwrap().contains("not supported yet"));
        assert_eq!(
            sw.shared.dp.ports().len(),
            2,
            "p2's datapath port went away"
        );

        // A controller change does not touch ports; removing the bridge
        // removes its ports and socket.
        b.controllers.insert(
            "punix:ctl.sock".into(),
            WantController {
                uuid: Uuid::new_v4(),
                target: "punix:ctl.sock".into(),
                max_backoff_ms: 8000,
                inactivity_probe_ms: 5000,
                rate_limit: 0,
                burst_limit: 0,
                conn_type: None,
            },
        );
        sw.apply(&wanted(&[b.clone()]));
        assert!(dir.path().join("ctl.sock").exists());
        assert!(Arc::ptr_eq(
            &nd1,
            sw.bridges["br0"].ifaces["p1"].netdev.as_ref().unwrap()
        ));
        sw.apply(&wanted(&[]));
        assert!(sw.bridges.is_empty());
        assert_eq!(sw.shared.dp.ports().len(), 0);
        assert!(!dir.path().join("br0.mgmt").exists());
        assert!(!dir.path().join("ctl.sock").exists());
    }

    /// A bridge of another datapath type does not run; its interfaces are
    /// reported with the reason.
    #[tokio::test]
    async fn system_bridges_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut sw = switch(dir.path());
        let mut b = bridge("brs", &[iface("brs", "internal")]);
        b.datapath_type = "system".into();
        sw.apply(&wanted(&[b.clone()]));
        assert!(sw.bridges.is_empty());
        assert!(refused_error(&sw.refused["brs"]).contains("\"system\" is not supported"));
        // Switching it to netdev brings it up.
        b.datapath_type = String::new();
        sw.apply(&wanted(&[b]));
        assert_eq!(sw.bridges["brs"].ifaces["brs"].ofport, Some(0xfffe));
        assert!(sw.refused.is_empty());
    }

    /// Tunnel ports of a type share one datapath port, counted by users;
    /// a dst_port change moves a port to another shared port; bad options
    /// show as the port's error.
    #[tokio::test]
    async fn tunnel_ports_share_datapath_ports() {
        let dir = tempfile::tempdir().unwrap();
        let mut sw = switch(dir.path());
        let tun = |name: &str, kind: &str, opts: &[(&str, &str)]| {
            let mut i = iface(name, kind);
            i.options = opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            i
        };
        let mut b = bridge(
            "br0",
            &[
                iface("br0", "internal"),
                tun("v1", "vxlan", &[("remote_ip", "198.18.0.2"), ("key", "1")]),
                tun("v2", "vxlan", &[("remote_ip", "198.18.0.3"), ("key", "2")]),
                tun("g1", "geneve", &[("remote_ip", "198.18.0.4")]),
                tun("bad", "gre", &[("key", "3")]),
            ],
        );
        sw.apply(&wanted(&[b.clone()]));
        let names = |sw: &Switch| -> Vec<(String, usize)> {
            sw.shared
                .tnl_ports()
                .into_iter()
                .map(|(n, _, u)| (n, u))
                .collect()
        };
        assert_eq!(
            names(&sw),
            [
                ("genev_sys_6081".to_string(), 1),
                ("vxlan_sys_4789".to_string(), 2)
            ]
        );
        let br = &sw.bridges["br0"];
        let dp = |n: &str| match &br.ifaces[n].backing {
            Some(Backing::Tunnel(c)) => c.dp_port,
            _ => panic!("{n} is not a tunnel"),
        };
        assert_eq!(dp("v1"), dp("v2"));
        assert_ne!(dp("v1"), dp("g1"));
        assert!(br.ifaces["v1"].ofport.is_some());
        assert!(br.ifaces["bad"]
            .error
            .as_deref()
            .unwrap()
            .contains("remote_ip"));
        // v2 moves to port 4790; v1 alone keeps 4789; g1 goes.
        b.ifaces
            .get_mut("v2")
            .unwrap()
            .options
            .insert("dst_port".into(), "4790".into());
        b.ifaces.remove("g1");
        sw.apply(&wanted(&[b.clone()]));
        assert_eq!(
            names(&sw),
            [
                ("vxlan_sys_4789".to_string(), 1),
                ("vxlan_sys_4790".to_string(), 1)
            ]
        );
        // A key change stays in place (same shared port, same OpenFlow
        // port).
        let of = sw.bridges["br0"].ifaces["v1"].ofport;
        b.ifaces
            .get_mut("v1")
            .unwrap()
            .options
            .insert("key".into(), "9".into());
        sw.apply(&wanted(&[b.clone()]));
        assert_eq!(sw.bridges["br0"].ifaces["v1"].ofport, of);
        b.ifaces.clear();
        sw.apply(&wanted(&[b]));
        assert!(names(&sw).is_empty());
    }
}
