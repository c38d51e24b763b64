//! What native tunnelling needs beyond the bridges: the route table
//! ([`route`]), the neighbour cache ([`neigh`]), the addresses of the
//! devices behind bridge ports (the underlay's local addresses), and the
//! neighbour requests translation asked for. Each tunnel port's own
//! settings ([`config`]) ride on its translation port (`XPort::tunnel`).
//!
//! [`TnlState`] is shared by the upcall handler (translation reads it,
//! snooping writes the cache) and vswitchd (which refreshes the kernel
//! routes and addresses and serves `ovs/route/*`, `tnl/*`). Each part has
//! its own lock, held for one lookup or one update.

pub mod config;
pub mod neigh;
pub mod route;
pub mod solicit;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

pub use config::{FromFlow, Inherit, TnlConfig, TnlKind, TnlKindNames};
pub use neigh::NeighCache;
pub use route::{DevAddr, RouteTable};

/// A device behind a bridge port that has addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevInfo {
    pub mac: [u8; 6],
    pub addrs: Vec<DevAddr>,
}

/// An ARP request or neighbour solicitation to send out of an underlay
/// bridge, as if it came from its port `in_port` (OVS's
/// `compose_table_xlate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighRequest {
    pub bridge: String,
    pub in_port: u16,
    pub frame: Vec<u8>,
}

/// Shared tunnelling state (see the module comment).
#[derive(Debug, Default)]
pub struct TnlState {
    pub routes: RwLock<RouteTable>,
    pub neigh: Mutex<NeighCache>,
    pub devs: RwLock<BTreeMap<String, DevInfo>>,
    requests: Mutex<Vec<NeighRequest>>,
    /// Packets dropped because the next hop's address was not known.
    pub neigh_misses: AtomicU64,
    /// Changes to `devs` (see [`TnlState::changed`]).
    devs_changes: AtomicU64,
}

impl TnlState {
    pub fn new() -> TnlState {
        TnlState::default()
    }

    /// The addresses of device `name`.
    pub fn dev_addrs(&self, name: &str) -> Vec<DevAddr> {
        self.devs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(|d| d.addrs.clone())
            .unwrap_or_default()
    }

    /// Whether `ip` is an address of one of the devices, and that device's
    /// MAC.
    pub fn local_mac(&self, ip: IpAddr) -> Option<[u8; 6]> {
        self.devs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .find(|d| d.addrs.iter().any(|a| a.ip == ip))
            .map(|d| d.mac)
    }

    /// Counts a change of `devs` (whoever writes it calls this).
    pub fn changed(&self) {
        self.devs_changes.fetch_add(1, Ordering::Relaxed);
    }

    /// The tunnelling state's part of the revalidation generation:
    /// changes of routes, neighbours (expired ones removed at `now`
    /// first) and devices.
    pub fn change_seq(&self, now: std::time::Instant) -> u64 {
        let neigh = {
            let mut n = self.neigh.lock().unwrap_or_else(|e| e.into_inner());
            n.expire(now);
            n.change_seq()
        };
        let routes = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .change_seq();
        neigh
            .wrapping_add(routes)
            .wrapping_add(self.devs_changes.load(Ordering::Relaxed))
    }

    /// Queues a request; `packet` counts a dropped packet (a miss seen
    /// by revalidation or trace is not one).
    pub(crate) fn request(&self, r: NeighRequest, packet: bool) {
        if packet {
            self.neigh_misses.fetch_add(1, Ordering::Relaxed);
        }
        let mut q = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a burst of misses to one next hop asks once per round.
        if q.len() < 64 && !q.contains(&r) {
            q.push(r);
        }
    }

    /// The requests queued since the last call.
    pub fn take_requests(&self) -> Vec<NeighRequest> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
