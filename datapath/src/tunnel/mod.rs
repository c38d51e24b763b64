//! Tunnel encapsulation and decapsulation in the userspace datapath, the
//! way OVS's netdev datapath does it: `tnl_push` prepends a prebuilt outer
//! header ([`TnlPush`], built once from a [`TnlHeaderRepr`] when the flow
//! is installed) and fixes the few per-packet fields; `tnl_pop`
//! ([`TnlPop`]) validates and strips the outer headers into the packet's
//! [`crate::packet::TunnelMd`], and the packet is recirculated with the
//! tunnel port as its input port.
//!
//! Per packet the push is one copy of the template into the headroom plus
//! a handful of stores (lengths, an incremental IPv4 checksum update, the
//! UDP source port from the flow hash); only an outer checksum reads the
//! payload. Failures are rare, so their counters ([`TNL_DROPS`]) are
//! shared atomics touched only on the drop path.
//!
//! MTU, as OVS's userspace datapath: the push neither fragments nor
//! answers with ICMP "fragmentation needed", whatever the DF bit. A frame
//! that no longer fits the underlay once encapsulated is dropped at the
//! underlay port: AF_PACKET's send gets EMSGSIZE from the kernel and
//! counts it in the port's `tx_dropped` (the `afpacket` test checks it);
//! on AF_XDP the device drops it (or the port refuses, and counts, a frame
//! larger than its UMEM frame). A GSO packet is cut into segments of its own `gso_size`,
//! which the sender chose for its MTU. So the overlay's MTU must leave
//! room for the outer headers (50 bytes for VXLAN and Geneve without
//! options over IPv4, 70 over IPv6, plus Geneve options; 38 or more for
//! GRE): Neutron gives VMs 1450 on a 1500 underlay, or the underlay gets
//! jumbo frames. `check_pkt_larger` is there for controllers that want to
//! answer oversized packets themselves.

pub mod fmt;
pub mod header;
pub mod pop;
pub mod push;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub use header::{Encap, OuterIp, TnlHeaderRepr};

use crate::wire::WireError;

/// Which decapsulation a `tnl_pop` port does (the type of the datapath
/// port: `vxlan_sys_4789`, `genev_sys_6081`, `gre_sys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TnlKind {
    Vxlan,
    Geneve,
    Gre,
}

/// The `tnl_pop(port)` action: decapsulate as `kind` and recirculate with
/// in_port `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TnlPop {
    pub port: u32,
    pub kind: TnlKind,
}

/// Where the per-packet fields of a template are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outer {
    /// UDP encapsulation; `csum`: fill the outer UDP checksum.
    Udp { csum: bool },
    /// GRE; `csum`: the C flag; `seq`: offset of the sequence number.
    Gre { csum: bool, seq: Option<usize> },
}

/// The `tnl_push` action: an outer header template and where it goes.
#[derive(Debug)]
pub struct TnlPush {
    pub tnl_port: u32,
    /// The underlay port OVS records in the action (the packet itself goes
    /// wherever the following actions send it).
    pub out_port: u32,
    pub tnl_type: u32,
    header: Box<[u8]>,
    l4: usize,
    v6: bool,
    outer: Outer,
    /// Next GRE sequence number (when the template has the S flag).
    seq: AtomicU32,
}

impl TnlPush {
    pub fn new(tnl_port: u32, out_port: u32, r: &TnlHeaderRepr) -> Result<TnlPush, WireError> {
        let header = r.emit()?.into_boxed_slice();
        let l4 = crate::wire::ethernet::ETH_HLEN + r.ip.header_len();
        let (outer, seq0) = match &r.encap {
            Encap::Vxlan { csum, .. } | Encap::Geneve { csum, .. } => {
                (Outer::Udp { csum: *csum }, 0)
            }
            Encap::Gre(g) => {
                let seq_at = g.seq.map(|_| l4 + g.header_len() - 4);
                (
                    Outer::Gre {
                        csum: g.csum,
                        seq: seq_at,
                    },
                    g.seq.unwrap_or(0),
                )
            }
        };
        Ok(TnlPush {
            tnl_port,
            out_port,
            tnl_type: r.vport_type(),
            header,
            l4,
            v6: matches!(r.ip, OuterIp::V6 { .. }),
            outer,
            seq: AtomicU32::new(seq0),
        })
    }
    /// The template bytes.
    pub fn header(&self) -> &[u8] {
        &self.header
    }
    /// The template read back.
    pub fn repr(&self) -> Result<TnlHeaderRepr, WireError> {
        TnlHeaderRepr::parse(&self.header)
    }
}

impl PartialEq for TnlPush {
    fn eq(&self, o: &Self) -> bool {
        self.tnl_port == o.tnl_port
            && self.out_port == o.out_port
            && self.tnl_type == o.tnl_type
            && self.header == o.header
    }
}
impl Eq for TnlPush {}

/// Why a packet could not be encapsulated or decapsulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TnlError {
    #[error("outer header malformed or truncated: {0}")]
    Malformed(#[from] WireError),
    #[error("outer checksum invalid")]
    BadChecksum,
    #[error("not a tunnel packet of this port's type")]
    NotTunnel,
    #[error("IP fragment (not reassembled)")]
    Fragment,
    #[error(
        "not supported: L3 GRE/Geneve payload, or Geneve options longer than the flow key holds"
    )]
    Unsupported,
    #[error("no headroom for the outer header")]
    NoHeadroom,
    #[error("encapsulated packet longer than 65535 bytes")]
    TooLong,
    #[error("inner checksum offload could not be completed")]
    Offload,
}

/// Drops by reason, summed over all PMDs.
#[derive(Debug, Default)]
pub struct TnlDrops {
    pub malformed: AtomicU64,
    pub bad_checksum: AtomicU64,
    pub not_tunnel: AtomicU64,
    pub fragment: AtomicU64,
    pub unsupported: AtomicU64,
    pub push_failed: AtomicU64,
}

pub static TNL_DROPS: TnlDrops = TnlDrops {
    malformed: AtomicU64::new(0),
    bad_checksum: AtomicU64::new(0),
    not_tunnel: AtomicU64::new(0),
    fragment: AtomicU64::new(0),
    unsupported: AtomicU64::new(0),
    push_failed: AtomicU64::new(0),
};

impl TnlDrops {
    /// Counts one dropped packet.
    #[cold]
    pub fn count(&self, e: TnlError) {
        let c = match e {
            TnlError::Malformed(_) => &self.malformed,
            TnlError::BadChecksum => &self.bad_checksum,
            TnlError::NotTunnel => &self.not_tunnel,
            TnlError::Fragment => &self.fragment,
            TnlError::Unsupported => &self.unsupported,
            TnlError::NoHeadroom | TnlError::TooLong | TnlError::Offload => &self.push_failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
