//! What translation needs to know about a bridge beyond its OpenFlow
//! tables: for each OpenFlow port its datapath port number, its VLAN
//! configuration (the database's `Port` columns `tag`, `trunks`,
//! `vlan_mode`) and, for a patch port, its peer.
//!
//! [`BridgePorts`] is filled by vswitchd (or a test) next to the
//! [`Ofproto`]; it keeps both directions of the port mapping in maps, so
//! an upcall finds the OpenFlow port of a datapath port in one lookup.
//! [`BridgeRef`] borrows one bridge's whole state for one translation.

use std::collections::{BTreeMap, HashMap};

use crate::classifier::hash::WordBuild;
use crate::normal::MacTable;
use crate::ofproto::Ofproto;

/// `Port:vlan_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VlanMode {
    /// No mode set: access when `tag` is set, trunk otherwise.
    #[default]
    Default,
    Access,
    Trunk,
    NativeTagged,
    NativeUntagged,
}

/// The VLAN configuration of a port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortVlan {
    pub mode: VlanMode,
    /// `Port:tag` (the access or native VLAN).
    pub tag: Option<u16>,
    /// `Port:trunks`; empty means every VLAN.
    pub trunks: Vec<u16>,
}

impl PortVlan {
    /// The mode in effect (OVS: no mode and a tag is access).
    pub fn effective_mode(&self) -> VlanMode {
        match (self.mode, self.tag) {
            (VlanMode::Default, Some(_)) => VlanMode::Access,
            (VlanMode::Default, None) => VlanMode::Trunk,
            (m, _) => m,
        }
    }

    fn trunks_include(&self, vlan: u16) -> bool {
        self.trunks.is_empty() || self.trunks.contains(&vlan)
    }

    /// True if the port carries `vlan`.
    pub fn includes(&self, vlan: u16) -> bool {
        match self.effective_mode() {
            VlanMode::Access => self.tag.unwrap_or(0) == vlan,
            VlanMode::Trunk | VlanMode::Default => self.trunks_include(vlan),
            VlanMode::NativeTagged | VlanMode::NativeUntagged => {
                self.tag.unwrap_or(0) == vlan || self.trunks_include(vlan)
            }
        }
    }

    /// The VLAN a packet received with outer tag `vid` (None: untagged,
    /// or a priority tag with VID 0) belongs to; None drops it.
    pub fn input_vlan(&self, vid: Option<u16>) -> Option<u16> {
        match self.effective_mode() {
            VlanMode::Access => match vid {
                None => Some(self.tag.unwrap_or(0)),
                Some(_) => None,
            },
            VlanMode::Trunk | VlanMode::Default => {
                let v = vid.unwrap_or(0);
                self.trunks_include(v).then_some(v)
            }
            VlanMode::NativeTagged | VlanMode::NativeUntagged => match vid {
                None => Some(self.tag.unwrap_or(0)),
                Some(v) => self.includes(v).then_some(v),
            },
        }
    }

    /// The tag a packet of `vlan` carries out of this port (None:
    /// untagged).
    pub fn output_tag(&self, vlan: u16) -> Option<u16> {
        let native = self.tag.unwrap_or(0);
        match self.effective_mode() {
            VlanMode::Access => None,
            VlanMode::NativeUntagged if vlan == native => None,
            VlanMode::NativeTagged => Some(vlan),
            _ if vlan == 0 => None,
            _ => Some(vlan),
        }
    }
}

/// A patch port's other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPeer {
    /// The peer's bridge name.
    pub bridge: String,
    /// The peer's OpenFlow port number.
    pub ofport: u16,
}

/// One port as translation sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XPort {
    pub name: String,
    /// None for a patch port (it has no datapath port).
    pub dp_port: Option<u32>,
    pub vlan: PortVlan,
    pub peer: Option<PatchPeer>,
    /// A tunnel port's settings (its `dp_port` is None: the shared
    /// tunnel datapath port is in the settings).
    pub tunnel: Option<std::sync::Arc<crate::tunnel::TnlConfig>>,
}

/// The ports of one bridge by OpenFlow number, and datapath -> OpenFlow.
#[derive(Debug, Clone, Default)]
pub struct BridgePorts {
    ports: BTreeMap<u16, XPort>,
    /// Looked up on every upcall: hashed by a word mix, not SipHash.
    by_dp: HashMap<u32, u16, WordBuild>,
}

impl BridgePorts {
    pub fn new() -> BridgePorts {
        BridgePorts::default()
    }

    /// Adds or replaces OpenFlow port `ofport`.
    pub fn set(&mut self, ofport: u16, port: XPort) {
        if let Some(old) = self.ports.remove(&ofport) {
            if let Some(dp) = old.dp_port {
                self.by_dp.remove(&dp);
            }
        }
        if let Some(dp) = port.dp_port {
            self.by_dp.insert(dp, ofport);
        }
        self.ports.insert(ofport, port);
    }

    pub fn remove(&mut self, ofport: u16) -> Option<XPort> {
        let p = self.ports.remove(&ofport)?;
        if let Some(dp) = p.dp_port {
            self.by_dp.remove(&dp);
        }
        Some(p)
    }

    pub fn get(&self, ofport: u16) -> Option<&XPort> {
        self.ports.get(&ofport)
    }

    /// The OpenFlow port of datapath port `dp`.
    pub fn ofport_of_dp(&self, dp: u32) -> Option<u16> {
        self.by_dp.get(&dp).copied()
    }

    /// Ports in OpenFlow number order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &XPort)> {
        self.ports.iter().map(|(k, v)| (*k, v))
    }

    /// The OpenFlow port named `name`.
    pub fn by_name(&self, name: &str) -> Option<u16> {
        self.ports
            .iter()
            .find(|(_, p)| p.name == name)
            .map(|(k, _)| *k)
    }
}

/// One bridge's state, borrowed for a translation.
#[derive(Clone, Copy)]
pub struct BridgeRef<'a> {
    pub ofproto: &'a Ofproto,
    pub ports: &'a BridgePorts,
    pub mac: &'a MacTable,
}

impl<'a> BridgeRef<'a> {
    pub fn name(&self) -> &str {
        &self.ofproto.config().name
    }
}
