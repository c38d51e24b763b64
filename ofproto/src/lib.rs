//! ferrovs-ofproto: the OpenFlow switch.
//!
//! Owns the flow tables and their classifier, flow-mod semantics, groups,
//! meters, the connection manager, and translation (xlate) of a packet
//! through the tables into datapath actions plus a megaflow mask, NORMAL
//! (MAC learning, VLAN modes) and patch ports. Translation is pure:
//! (flow, bridge state) -> (datapath actions, mask).
//!
//! - [`flow`]: `OfFlow` (a packet in OpenFlow terms: the datapath's flow
//!   words plus registers and metadata) and `OfMatch` (value + mask).
//! - [`classifier`]: rules by (match, priority), lookup with wildcard
//!   tracking for megaflows.
//! - [`ofproto`]: `Ofproto`, one bridge's switch, and its API to vswitchd.
//! - [`connmgr`]: OpenFlow connections: framing, negotiation, dispatch,
//!   roles, async configuration, flow monitors, back-pressure.
//! - [`table`], [`rule`]: the 255 tables and their rules.
//! - [`flow_mod`]: flow-mod semantics per version, with an undo log
//!   ([`bundle`] commits all or nothing with it); [`expiry`]: timeouts.
//! - [`stats`]: multipart requests; [`port`], [`group`], [`meter`].
//! - [`xlate`]: translation; [`normal`]: MAC learning and the NORMAL
//!   action; [`trace`]: `ofproto/trace`; [`upcall`]: the datapath's
//!   upcall handler; [`revalidate`]: stale and idle megaflows;
//!   [`packet_in`]: packet-ins to connections; [`flow_text`]: flows from
//!   `ovs-ofctl` text.

pub mod bundle;
pub mod classifier;
pub mod connmgr;
pub mod continuation;
pub mod dp_meter;
pub mod expiry;
pub mod flow;
pub mod flow_mod;
pub mod flow_text;
pub mod group;
pub mod meter;
pub mod normal;
mod notify;
pub mod ofproto;
pub mod packet_in;
pub mod packet_out;
pub mod port;
pub mod queue;
pub mod revalidate;
pub mod rule;
pub mod stats;
pub mod table;
pub(crate) mod table_features_cache;
pub mod table_mod;
pub mod tlv_table;
pub mod trace;
pub mod trace_ct;
pub mod trace_packet_out;
pub mod tunnel;
pub mod upcall;
mod xcache;
pub mod xlate;

pub use connmgr::{ConnId, ConnKind, Waker};
pub use ofproto::{OfPort, Ofproto, OfprotoConfig};
