//! An in-memory netdev: queues of packets, for tests and benchmarks.
//!
//! Each receive and transmit queue is a [`Ring`] behind a mutex, locked
//! once per batch (not per packet); a batch moves in and out of a ring as
//! at most two copies of packet pointers, and receive resets the metadata
//! after the lock is released. Transmitted packets either stay in the
//! device's transmit queue, for a test to take with [`MemNetdev::take_tx`],
//! or, when the device is wired to a peer with [`MemNetdev::connect`], land
//! in the peer's receive queue: a loop of two ports lets a PMD forward the
//! same packets forever without allocating, which is what the benchmarks
//! measure. Queues are bounded; packets beyond the bound are dropped and
//! counted.

use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::ring::Ring;
use super::{Netdev, NetdevError};
use crate::batch::PacketBatch;
use crate::packet::{DpPacket, PacketPool};

pub const MEM_QUEUE_LIMIT: usize = 4096;

pub struct MemNetdev {
    name: String,
    rxq: Vec<Queue>,
    txq: Vec<Queue>,
    peer: OnceLock<Weak<MemNetdev>>,
    pub rx_packets: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_dropped: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A ring behind its mutex, with its length mirrored in an atomic so that
/// receive on an empty queue (every poll of an idle port) costs one load,
/// not a lock and an unlock. The mirror is written under the lock after
/// every change; a reader that sees 0 while a sender is adding packets
/// finds them on its next poll.
struct Queue {
    ring: Mutex<Ring<DpPacket>>,
    len: AtomicUsize,
}

impl Queue {
    fn new() -> Queue {
        Queue {
            ring: Mutex::new(Ring::new(MEM_QUEUE_LIMIT)),
            len: AtomicUsize::new(0),
        }
    }
    /// Runs `f` on the locked ring and updates the length mirror.
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Ring<DpPacket>) -> R) -> R {
        let mut r = lock(&self.ring);
        let out = f(&mut r);
        self.len.store(r.len(), Release);
        out
    }
    #[inline]
    fn maybe_empty(&self) -> bool {
        self.len.load(Acquire) == 0
    }
}

impl MemNetdev {
    pub fn new(name: &str, n_rxq: usize, n_txq: usize) -> Arc<MemNetdev> {
        Arc::new(MemNetdev {
            name: name.to_string(),
            rxq: (0..n_rxq.max(1)).map(|_| Queue::new()).collect(),
            txq: (0..n_txq.max(1)).map(|_| Queue::new()).collect(),
            peer: OnceLock::new(),
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
        q.with(|r| r.push(pkt).is_ok())
    }

    /// Takes every packet sent on transmit queue `qid`.
    pub fn take_tx(&self, qid: usize) -> Vec<DpPacket> {
        self.txq
            .get(qid)
            .map(|q| q.with(|r| r.take_all()))
            .unwrap_or_default()
    }

    /// Takes every packet sent on any transmit queue.
    pub fn take_all_tx(&self) -> Vec<DpPacket> {
        (0..self.txq.len()).flat_map(|q| self.take_tx(q)).collect()
    }

    /// Packets waiting on receive queue `qid`.
    pub fn rx_pending(&self, qid: usize) -> usize {
        self.rxq.get(qid).map(|q| lock(&q.ring).len()).unwrap_or(0)
    }

    /// Applies `f` to every packet waiting on receive queue `qid`.
    pub fn for_each_rx(&self, qid: usize, mut f: impl FnMut(&mut DpPacket)) {
        if let Some(q) = self.rxq.get(qid) {
            lock(&q.ring).iter_mut().for_each(&mut f);
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
        if q.maybe_empty() {
            return Ok(0);
        }
        let (start, room) = (batch.len(), batch.room());
        let n = q.with(|r| r.pop_into(batch.as_vec_mut(), room));
        if n == 0 {
            return Ok(0);
        }
        // The reset reads each packet's first line; the frame's headers
        // are asked for at the same time, for extraction right after.
        for p in &mut batch.packets_mut()[start..] {
            p.reset_md(in_port);
            p.prefetch_frame();
        }
        self.rx_packets.fetch_add(n as u64, Relaxed);
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
        let q: &Queue = match &target {
            Some(peer) => &peer.rxq[qid % peer.rxq.len()],
            None => self.txq.get(qid).ok_or(NetdevError::NoQueue(qid))?,
        };
        // Moves what fits under the bound (the ring's capacity); the rest
        // stays in `packets`, dropped below.
        let n = q.with(|r| r.push_from(packets));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(i: u32) -> DpPacket {
        DpPacket::from_bytes(&i.to_be_bytes())
    }
    fn number(p: &DpPacket) -> u32 {
        u32::from_be_bytes(p.data().try_into().unwrap())
    }

    /// One thread sends numbered batches of varying size through a device
    /// wired to a peer while another receives from the peer: every packet
    /// arrives once, in order, with its metadata reset; what found the
    /// queue full was counted as dropped and recycled.
    #[test]
    fn two_threads_move_batches_in_order() {
        const TOTAL: u32 = 200_000;
        let a = MemNetdev::new("a", 1, 1);
        let b = MemNetdev::new("b", 1, 1);
        a.connect(&b);
        let tx = {
            let a = a.clone();
            std::thread::spawn(move || {
                let mut pool = PacketPool::new(64);
                let mut out = Vec::with_capacity(64);
                let (mut next, mut sent) = (0u32, 0u64);
                while next < TOTAL {
                    let k = (next % 61 + 1).min(TOTAL - next);
                    for i in 0..k {
                        let mut p = numbered(next + i);
                        p.md_mut().recirc_id = 7;
                        out.push(p);
                    }
                    let n = a.send(0, &mut out, &mut pool).unwrap();
                    assert!(out.is_empty());
                    // Only a prefix of a batch can be accepted; resend the
                    // rest.
                    next += n as u32;
                    sent += n as u64;
                    if n == 0 {
                        std::thread::yield_now();
                    }
                }
                sent
            })
        };
        let mut batch = PacketBatch::new();
        let mut pool = PacketPool::new(64);
        let mut want = 0u32;
        while want < TOTAL {
            let n = b.recv(0, 9, &mut batch, &mut pool).unwrap();
            if n == 0 {
                std::thread::yield_now();
            }
            for p in batch.drain() {
                assert_eq!(number(&p), want);
                assert_eq!(p.md().in_port, 9);
                assert_eq!(p.md().recirc_id, 0);
                want += 1;
            }
        }
        assert_eq!(tx.join().unwrap(), TOTAL as u64);
        assert_eq!(b.rx_pending(0), 0);
        assert_eq!(b.rx_packets.load(Relaxed), TOTAL as u64);
        assert_eq!(a.tx_packets.load(Relaxed), TOTAL as u64);
    }

    #[test]
    fn queue_bound_drops_the_excess_and_keeps_order() {
        let a = MemNetdev::new("a", 1, 1);
        let mut pool = PacketPool::new(8);
        let mut out: Vec<DpPacket> = (0..MEM_QUEUE_LIMIT as u32 + 10).map(numbered).collect();
        assert_eq!(a.send(0, &mut out, &mut pool).unwrap(), MEM_QUEUE_LIMIT);
        assert!(out.is_empty());
        assert_eq!(a.tx_dropped.load(Relaxed), 10);
        for i in 0..MEM_QUEUE_LIMIT as u32 {
            assert!(a.inject(0, numbered(i)));
        }
        assert!(!a.inject(0, numbered(0)), "receive queue bounded too");
        assert_eq!(a.rx_pending(0), MEM_QUEUE_LIMIT);
        let got = a.take_tx(0);
        assert_eq!(got.len(), MEM_QUEUE_LIMIT);
        assert!(got.iter().enumerate().all(|(i, p)| number(p) == i as u32));
        assert!(a.take_tx(0).is_empty());
    }
}
