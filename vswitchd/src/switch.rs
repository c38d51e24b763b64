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
}

impl Switch {
    pub fn new(shared: Shared) -> Switch {
        Switch {
            shared,
            bridges: BTreeMap::new(),
            refused: BTreeMap::new(),
        }
    }

    pub fn apply(&mut self, want: &Wanted) {
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
