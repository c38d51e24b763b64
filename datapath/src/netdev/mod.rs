//! Network devices as the datapath sees them: batch receive and send per
//! queue.
//!
//! [`Netdev`] is called once per batch (a trait object is fine there), never
//! per packet. `recv` fills a batch, taking buffers from the PMD's pool if
//! it has to copy; `send` consumes a batch, keeping the buffers (in-memory
//! queues) or returning them to the pool after copying them out (sockets,
//! rings). Real ports: [`afpacket`] (system interfaces), [`tap`] (VM
//! ports and internal ports) and [`afxdp`]; [`open`] picks one by the
//! Interface `type` column.
//!
//! Each receive queue may expose a file descriptor that becomes readable
//! when packets wait ([`Netdev::rx_fd`]), so an idle PMD can sleep in
//! `poll`/`epoll` on its queues instead of spinning.

pub mod afpacket;
pub mod afxdp;
pub mod memory;
pub mod open;
pub mod ring;
pub mod sys;
pub mod tap;
pub mod tpacket;
pub mod wait;

use crate::batch::PacketBatch;
use crate::packet::PacketPool;

pub use memory::MemNetdev;

/// Why a port could not be opened or used. The open errors are what
/// vswitchd writes into the Interface's `error` column.
#[derive(Debug, thiserror::Error)]
pub enum NetdevError {
    #[error("no such queue {0}")]
    NoQueue(usize),
    #[error("device is down")]
    Down,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}: no such device")]
    NoDevice(String),
    #[error("{0}: permission denied")]
    Permission(String),
    #[error("{0}: device or resource busy")]
    Busy(String),
    /// The port type cannot work here (e.g. AF_XDP without kernel
    /// support, or a mode the driver refuses).
    #[error("{dev}: {why}")]
    Unsupported { dev: String, why: String },
    #[error("{dev}: invalid option {option}: {why}")]
    BadOption {
        dev: String,
        option: String,
        why: String,
    },
    #[error("{dev}: {what}: {source}")]
    Open {
        dev: String,
        what: String,
        source: std::io::Error,
    },
}

pub trait Netdev: Send + Sync {
    fn name(&self) -> &str;
    fn n_rxq(&self) -> usize;
    fn n_txq(&self) -> usize;
    /// Receives up to `batch.room()` packets from queue `qid` into `batch`,
    /// with metadata reset for `in_port`. Returns how many were added.
    fn recv(
        &self,
        qid: usize,
        in_port: u32,
        batch: &mut PacketBatch,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError>;
    /// Sends (and empties) `packets` on queue `qid`. Buffers not kept by the
    /// device go back to `pool`. Returns how many were sent; the rest were
    /// dropped (and recycled).
    fn send(
        &self,
        qid: usize,
        packets: &mut Vec<crate::packet::DpPacket>,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError>;
    /// A descriptor that polls readable when receive queue `qid` has
    /// packets (None: the queue must be polled).
    fn rx_fd(&self, _qid: usize) -> Option<std::os::fd::RawFd> {
        None
    }
    /// Whether finding a receive queue empty costs a system call (a tap
    /// device shares no ring with the kernel): a busy PMD then asks the
    /// queue's [`Netdev::rx_fd`] for readiness, paced (see `pmd_rx_pace`),
    /// instead of reading it on every iteration.
    fn rx_costly(&self) -> bool {
        false
    }
    /// Whether frames handed to `send` may still wait for the device to
    /// take them (AF_XDP copy mode moves them on later calls): a PMD must
    /// not sleep on its receive descriptors while this is true.
    fn tx_pending(&self) -> bool {
        false
    }
    /// Counters of packets refused or lost by the device (bad metadata,
    /// truncated frames, send failures), for statistics.
    fn drops(&self) -> DeviceDrops {
        DeviceDrops::default()
    }
}

/// Device-level drop counters (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceDrops {
    /// Received frames dropped: bad descriptors or headers, truncation.
    pub rx_invalid: u64,
    /// Frames the kernel dropped because the ring was full.
    pub rx_ring_full: u64,
    /// Sent frames refused by the device or dropped for lack of room.
    pub tx_dropped: u64,
    /// Offload work that could not be done (unsegmentable GSO packets).
    pub tx_offload_failed: u64,
}
