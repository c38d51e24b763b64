//! A running interface of a bridge: its OpenFlow port number, its datapath
//! port and device (if it has one), its address, or the error that kept it
//! from running (then it has no OpenFlow port, and the database shows
//! `ofport` -1 with the error, as OVS does).
//!
//! Types: `""`/`system` (AF_PACKET on an existing host interface),
//! `afxdp`, `tap` and `internal` (the bridge's LOCAL port too) are host
//! devices opened by `netdev::open`; `dummy` is an in-memory device
//! (`MemNetdev`), and so are internal ports when the switch runs with
//! in-memory ports only (`--enable-dummy=override`, and unit tests), whose
//! `status` then says so. `patch` has no datapath port: it joins two
//! bridges inside translation. `vxlan`, `gre` and `geneve` have no device
//! of their own: every tunnel port of a type (and UDP port) shares one
//! datapath port that decapsulated packets come back on, as in OVS's
//! netdev datapath. Every other type is refused with an error.

use std::sync::Arc;

use ferrovs_datapath::netdev::{MemNetdev, Netdev};

use ferrovs_ofproto::port::{PortCounters, PortStatsSource};
use ferrovs_ofproto::tunnel::{TnlConfig, TnlKind, TnlKindNames};

use crate::config::WantIface;
use crate::hwaddr::EthAddr;

/// What kind of device backs a running interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// The bridge's own port (65534), an internal port.
    Local,
    Internal,
    Dummy,
    /// A host device of type system, afxdp or tap.
    Device,
    Patch {
        peer: String,
    },
    /// A vxlan, gre or geneve port: its settings, including the shared
    /// datapath port (`vxlan_sys_4789`, `gre_sys`, `genev_sys_6081`).
    Tunnel(Arc<TnlConfig>),
}

pub struct Iface {
    pub cfg: WantIface,
    pub backing: Option<Backing>,
    pub ofport: Option<u16>,
    pub dp_port: Option<u32>,
    /// The in-memory device (dummy ports, in-memory internal ports).
    pub netdev: Option<Arc<MemNetdev>>,
    /// The host device (system, afxdp, tap, and real internal ports).
    pub host: Option<Arc<dyn Netdev>>,
    pub mac: EthAddr,
    pub error: Option<String>,
}

/// MTU of in-memory devices when none is requested (as OVS's dummy).
pub const DEFAULT_MTU: i64 = 1500;

impl Iface {
    /// Internal ports without `mtu_request` follow the bridge (OVS's
    /// ofproto overrides their MTU with the bridge minimum).
    pub fn mtu_follows_bridge(&self) -> bool {
        matches!(self.backing, Some(Backing::Local) | Some(Backing::Internal))
            && self.cfg.mtu_request.is_none()
    }

    /// The MTU, given the bridge's minimum (`Bridge::min_mtu`); None for
    /// patch ports, which have none.
    pub fn mtu(&self, bridge_min: i64) -> Option<i64> {
        if self.host.is_some() {
            return crate::hostdev::mtu(&self.cfg.name);
        }
        match self.backing {
            Some(Backing::Patch { .. }) | Some(Backing::Tunnel(_)) | None => None,
            _ if self.mtu_follows_bridge() => Some(bridge_min),
            _ => Some(self.cfg.mtu_request.unwrap_or(DEFAULT_MTU)),
        }
    }

    /// Where the port's counters come from, as OVS's `netdev_get_stats`:
    /// the kernel's for host devices, the in-memory device's packets and
    /// bytes (all OVS's dummy counts), and for patch and tunnel ports the
    /// packet and byte counts of a vport, which stay 0 here (OVS adds the
    /// traffic translation sends through them; ferrovs does not yet).
    pub fn stats_source(&self) -> PortStatsSource {
        if self.host.is_some() {
            let name = self.cfg.name.clone();
            let swap = matches!(self.cfg.kind.as_str(), "tap" | "internal");
            return Arc::new(move || crate::hostdev::counters(&name, swap));
        }
        match &self.netdev {
            Some(nd) => {
                let nd = nd.clone();
                Arc::new(move || {
                    use std::sync::atomic::Ordering::Relaxed;
                    PortCounters::packets_bytes(
                        nd.rx_packets.load(Relaxed),
                        nd.rx_bytes.load(Relaxed),
                        nd.tx_packets.load(Relaxed),
                        nd.tx_bytes.load(Relaxed),
                    )
                })
            }
            None => Arc::new(|| PortCounters::packets_bytes(0, 0, 0, 0)),
        }
    }

    /// The `status` column.
    pub fn status(&self) -> Vec<(&'static str, String)> {
        if self.host.is_some() {
            return Vec::new();
        }
        match self.backing {
            Some(Backing::Local) | Some(Backing::Internal) => vec![(
                "ferrovs_internal",
                "in-memory port: no host interface yet".to_string(),
            )],
            _ => Vec::new(),
        }
    }
}

/// Whether interface type `kind` is a host device ferrovs opens with
/// `netdev::open` (internal ports only when host ports are on).
pub fn is_host_type(kind: &str) -> bool {
    matches!(kind, "" | "system" | "afxdp" | "tap")
}

/// A tunnel interface's settings (its `dp_port` still 0), or the error.
pub fn tunnel_config(cfg: &WantIface) -> Option<Result<TnlConfig, String>> {
    let kind = TnlKind::from_type(&cfg.kind)?;
    Some(TnlConfig::parse(&cfg.name, kind, &cfg.options))
}

/// The error text for a patch interface's options, or the peer's name.
pub fn patch_peer(cfg: &WantIface) -> Result<String, String> {
    match cfg.options.get("peer") {
        Some(p) if !p.is_empty() && *p != cfg.name => Ok(p.clone()),
        Some(p) if *p == cfg.name => Err(format!(
            "{}: patch peer must not be the same as the interface name",
            cfg.name
        )),
        _ => Err(format!(
            "{}: patch type requires valid 'peer' argument",
            cfg.name
        )),
    }
}

/// The error for a type ferrovs does not run.
pub fn unsupported(cfg: &WantIface) -> String {
    let kind = if cfg.kind.is_empty() {
        "system"
    } else {
        &cfg.kind
    };
    format!(
        "could not open network device {} (interface type \"{kind}\" is not supported yet by ferrovs)",
        cfg.name
    )
}
