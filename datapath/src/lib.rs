//! ferrovs-datapath: the userspace datapath.
//!
//! Owns everything a packet touches on the fast path: packet buffers and
//! batches, flow key extraction, the exact-match cache (EMC), the megaflow
//! classifier, datapath actions, PMD threads, netdevs (AF_PACKET, AF_XDP, tap,
//! internal, in-memory) with checksum/segmentation offload state
//! ([`offload`]), connection tracking and NAT ([`conntrack`]), and tunnels.
//!
//! It knows nothing of OpenFlow or OVSDB: the slow path (ofproto) reaches it
//! only through the upcall interface and flow put/get/del/dump.

pub mod actions;
pub mod background;
pub mod batch;
pub mod conntrack;
pub mod dpcls;
pub mod dpif;
pub mod dpif_execute;
pub mod emc;
pub mod flow;
pub mod megaflow;
pub mod netdev;
pub mod offload;
pub mod packet;
pub mod pmd;
pub mod pmd_idle;
pub mod pmd_rx_pace;
pub mod pmd_stats;
pub mod port_index;
pub mod random;
pub mod rxq_sched;
pub mod tunnel;
pub mod upcall;
pub mod wire;

pub use dpif::{Datapath, DpConfig, DpError, FlowInfo, FlowPut};
pub use pmd::Pmd;
