//! [`PacketBatch`]: up to 32 packets moved through the datapath together.
//!
//! The batch is a `Vec` whose capacity is reserved once; filling and
//! draining it never allocates. Every stage (receive, classify, execute,
//! send) works on a whole batch, so per-call costs (dynamic dispatch into a
//! netdev, a queue lock, a syscall) are paid once per 32 packets.

use crate::packet::DpPacket;

pub const BATCH_SIZE: usize = 32;

#[derive(Debug)]
pub struct PacketBatch {
    pkts: Vec<DpPacket>,
}

impl Default for PacketBatch {
    fn default() -> Self {
        PacketBatch::new()
    }
}

impl PacketBatch {
    pub fn new() -> PacketBatch {
        PacketBatch {
            pkts: Vec::with_capacity(BATCH_SIZE),
        }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.pkts.len()
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }
    #[inline]
    pub fn is_full(&self) -> bool {
        self.pkts.len() >= BATCH_SIZE
    }
    /// Room left before the batch is full.
    #[inline]
    pub fn room(&self) -> usize {
        BATCH_SIZE.saturating_sub(self.pkts.len())
    }
    /// Adds a packet; gives it back if the batch is full.
    #[inline]
    pub fn push(&mut self, p: DpPacket) -> Result<(), DpPacket> {
        if self.is_full() {
            return Err(p);
        }
        self.pkts.push(p);
        Ok(())
    }
    #[inline]
    pub fn pop(&mut self) -> Option<DpPacket> {
        self.pkts.pop()
    }
    #[inline]
    pub fn packets(&self) -> &[DpPacket] {
        &self.pkts
    }
    #[inline]
    pub fn packets_mut(&mut self) -> &mut [DpPacket] {
        &mut self.pkts
    }
    /// The packet list itself, for devices that move packets in bulk. They
    /// must keep it at most [`BATCH_SIZE`] long (add at most
    /// [`PacketBatch::room`] packets).
    #[inline]
    pub fn as_vec_mut(&mut self) -> &mut Vec<DpPacket> {
        &mut self.pkts
    }
    /// Removes all packets, in order.
    #[inline]
    pub fn drain(&mut self) -> std::vec::Drain<'_, DpPacket> {
        self.pkts.drain(..)
    }
}
