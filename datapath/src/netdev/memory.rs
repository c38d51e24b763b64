//! An in-memory netdev: queues of packets, for tests and benchmarks.
//!
//! Each receive and transmit queue is a `VecDeque` behind a mutex, locked
//! once per batch (not per packet). Transmitted packets either stay in the
//! device's transmit queue, for a test to take with [`MemNetdev::take_tx`],
//! or, when the device is wired to a peer with [`MemNetdev::connect`], land
//! in the peer's receive queue: a loop of two ports lets a PMD forward the
//! same packets forever without allocating, which is what the benchmarks
//! measure. Queues are bounded; packets beyond the bound are dropped and
//! counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::{Netdev, NetdevError};
use crate::batch::PacketBatch;
use crate::packet::{DpPacket, PacketPool};

pub const MEM_QUEUE_LIMIT: usize = 4096;

pub struct MemNetdev {
    name: String,
    rxq: Vec<Mutex<VecDeque<DpPacket>>>,
    txq: Vec<Mutex<VecDeque<DpPacket>>>,
    peer: OnceLock<Weak<MemNetdev>>,
    limit: usize,
    pub rx_packets: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_dropped: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemNetdev {
    pub fn new(name: &str, n_rxq: usize, n_txq: usize) -> Arc<MemNetdev> {
        Arc::new(MemNetdev {
            name: name.to_string(),
            rxq: (0..n_rxq.max(1))
                .map(|_| Mutex::new(VecDeque::new()))
                .collect(),
            txq: (0..n_txq.max(1))
                .map(|_| Mutex::new(VecDeque::new()))
                .collect(),
            peer: OnceLock::new(),
            limit: MEM_QUEUE_LIMIT,
            rx_packets: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_dropped: AtomicU64::new(0),
        })
    }

    /// Wires `self`'s transmit side to `peer`'s receive queues (transmit
    /// queue `q` feeds receive queue `q % n_rxq`). Only the first call has
    /// an effect.
    pub fn connect(self: &Arc<Self>, peer: &Arc<MemNetdev>) {
        let _ = self.peer.set(Arc::downgrade(peer));
    }

    /// Queues a frame for receive on queue `qid`.
    pub fn inject(&self, qid: usize, pkt: DpPacket) -> bool {
        let Some(q) = self.rxq.get(qid) else {
            return false;
        };
        let mut q = lock(q);
        if q.len() >= self.limit {
            return false;
        }
        q.push_back(pkt);
        true
    }

    /// Takes every packet sent on transmit queue `qid`.
    pub fn take_tx(&self, qid: usize) -> Vec<DpPacket> {
        self.txq
            .get(qid)
            .map(|q| lock(q).drain(..).collect())
            .unwrap_or_default()
    }

    /// Takes every packet sent on any transmit queue.
    pub fn take_all_tx(&self) -> Vec<DpPacket> {
        (0..self.txq.len()).flat_map(|q| self.take_tx(q)).collect()
    }

    /// Packets waiting on receive queue `qid`.
    pub fn rx_pending(&self, qid: usize) -> usize {
        self.rxq.get(qid).map(|q| lock(q).len()).unwrap_or(0)
    }

    /// Applies `f` to every packet waiting on receive queue `qid`.
    pub fn for_each_rx(&self, qid: usize, mut f: impl FnMut(&mut DpPacket)) {
        if let Some(q) = self.rxq.get(qid) {
            lock(q).iter_mut().for_each(&mut f);
        }
    }
}

impl Netdev for MemNetdev {
    fn name(&self) -> &str {
        &self.name
    }
    fn n_rxq(&self) -> usize {
        self.rxq.len()
    }
    fn n_txq(&self) -> usize {
        self.txq.len()
    }

    fn recv(
        &self,
        qid: usize,
        in_port: u32,
        batch: &mut PacketBatch,
        _pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        let q = self.rxq.get(qid).ok_or(NetdevError::NoQueue(qid))?;
        let mut q = lock(q);
        let n = batch.room().min(q.len());
        for mut p in q.drain(..n) {
            p.reset_md(in_port);
            // Cannot fail: n <= room.
            let _ = batch.push(p);
        }
        drop(q);
        if n > 0 {
            self.rx_packets.fetch_add(n as u64, Relaxed);
        }
        Ok(n)
    }

    fn send(
        &self,
        qid: usize,
        packets: &mut Vec<DpPacket>,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        if packets.is_empty() {
            return Ok(0);
        }
        let target = self.peer.get().and_then(Weak::upgrade);
        let (dev, q): (&MemNetdev, &Mutex<VecDeque<DpPacket>>) = match &target {
            Some(peer) => (peer, &peer.rxq[qid % peer.rxq.len()]),
            None => (self, self.txq.get(qid).ok_or(NetdevError::NoQueue(qid))?),
        };
        let mut q = lock(q);
        let room = dev.limit.saturating_sub(q.len());
        let n = packets.len().min(room);
        q.extend(packets.drain(..n));
        drop(q);
        let dropped = packets.len();
        for p in packets.drain(..) {
            pool.put(p);
        }
        self.tx_packets.fetch_add(n as u64, Relaxed);
        if dropped > 0 {
            self.tx_dropped.fetch_add(dropped as u64, Relaxed);
        }
        Ok(n)
    }
}
