//! Network devices as the datapath sees them: batch receive and send per
//! queue.
//!
//! [`Netdev`] is called once per batch (a trait object is fine there), never
//! per packet. `recv` fills a batch, taking buffers from the PMD's pool if
//! it has to copy; `send` consumes a batch, keeping the buffers (in-memory
//! queues) or returning them to the pool after copying them out (sockets,
//! rings). AF_XDP, tap, internal and AF_PACKET ports will implement this.

pub mod memory;
pub mod ring;

use crate::batch::PacketBatch;
use crate::packet::PacketPool;

pub use memory::MemNetdev;

#[derive(Debug, thiserror::Error)]
pub enum NetdevError {
    #[error("no such queue {0}")]
    NoQueue(usize),
    #[error("device is down")]
    Down,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
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
}
