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
//!
//! Each receive queue has an eventfd (`rx_fd`) that is readable while the
//! queue may hold packets, so an idle PMD sleeps on in-memory ports as on
//! sockets: raised once when packets arrive, lowered by a receive that
//! finds the queue empty. A port nothing is ever sent to (the stand-in of
//! a tunnel's datapath port) costs no system call at all.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
    Ordering::Release,
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
    pub rx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
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
    signal: Signal,
}

/// A receive queue's wake-up: an eventfd with a flag mirroring whether it
/// was written since it was last read, so that neither side makes a
/// system call unless the state changes. Invariant: while the queue holds
/// packets the flag is set and the eventfd readable (a lowering that races
/// with a sender raises again).
struct Signal {
    fd: Option<OwnedFd>,
    raised: AtomicBool,
}

impl Signal {
    fn new(with_fd: bool) -> Signal {
        // SAFETY: eventfd takes no pointers; a negative result is checked.
        let fd =
            with_fd.then(|| unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) });
        Signal {
            // SAFETY: a non-negative eventfd result is a new descriptor
            // nothing else owns.
            fd: fd
                .filter(|fd| *fd >= 0)
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            raised: AtomicBool::new(false),
        }
    }

    fn raise(&self) {
        let Some(fd) = &self.fd else { return };
        if !self.raised.swap(true, AcqRel) {
            let one = 1u64.to_ne_bytes();
            // SAFETY: writes 8 bytes from a live buffer to an eventfd we own.
            unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
    }

    /// Lowers the signal if `len` shows the queue empty (re-raising if a
    /// sender filled it meanwhile).
    fn lower_if_empty(&self, len: &AtomicUsize) {
        let Some(fd) = &self.fd else { return };
        if !self.raised.load(Acquire) || len.load(Acquire) != 0 {
            return;
        }
        self.raised.store(false, Release);
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live buffer from our
        // non-blocking eventfd.
        unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        if len.load(Acquire) != 0 {
            self.raise();
        }
    }
}

impl Queue {
    fn new(rx: bool) -> Queue {
        Queue {
            ring: Mutex::new(Ring::new(MEM_QUEUE_LIMIT)),
            len: AtomicUsize::new(0),
            signal: Signal::new(rx),
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
            rxq: (0..n_rxq.max(1)).map(|_| Queue::new(true)).collect(),
            txq: (0..n_txq.max(1)).map(|_| Queue::new(false)).collect(),
            peer: OnceLock::new(),
            rx_packets: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
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
        let ok = q.with(|r| r.push(pkt).is_ok());
        q.signal.raise();
        ok
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
    fn rx_fd(&self, qid: usize) -> Option<RawFd> {
        self.rxq
            .get(qid)?
            .signal
            .fd
            .as_ref()
            .map(AsRawFd::as_raw_fd)
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
            q.signal.lower_if_empty(&q.len);
            return Ok(0);
        }
        let (start, room) = (batch.len(), batch.room());
        let n = q.with(|r| r.pop_into(batch.as_vec_mut(), room));
        if n == 0 {
            return Ok(0);
        }
        // The reset reads each packet's first line; the frame's headers
        // are asked for at the same time, for extraction right after.
        let mut bytes = 0;
        for p in &mut batch.packets_mut()[start..] {
            p.reset_md(in_port);
            p.prefetch_frame();
            bytes += p.len() as u64;
        }
        self.rx_packets.fetch_add(n as u64, Relaxed);
        self.rx_bytes.fetch_add(bytes, Relaxed);
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
        let offered: u64 = packets.iter().map(|p| p.len() as u64).sum();
        // Moves what fits under the bound (the ring's capacity); the rest
        // stays in `packets`, dropped below.
        let n = q.with(|r| r.push_from(packets));
        if n > 0 {
            q.signal.raise();
        }
        let dropped = packets.len();
        let mut dropped_bytes = 0;
        for p in packets.drain(..) {
            dropped_bytes += p.len() as u64;
            pool.put(p);
        }
        self.tx_packets.fetch_add(n as u64, Relaxed);
        self.tx_bytes.fetch_add(offered - dropped_bytes, Relaxed);
        if dropped > 0 {
            self.tx_dropped.fetch_add(dropped as u64, Relaxed);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    /// The receive descriptor is readable exactly while packets may wait:
    /// not on a fresh port, after an inject or a peer's send, and no more
    /// once a receive found the queue empty.
    #[test]
    fn rx_fd_is_readable_while_packets_wait() {
        let a = MemNetdev::new("a", 1, 1);
        let b = MemNetdev::new("b", 1, 1);
        a.connect(&b);
        let fd = b.rx_fd(0).expect("an eventfd");
        assert!(!readable(fd));
        let mut pool = PacketPool::new(8);
        let mut batch = PacketBatch::new();
        b.inject(0, numbered(1));
        assert!(readable(fd));
        assert_eq!(b.recv(0, 1, &mut batch, &mut pool).unwrap(), 1);
        // Still raised until a receive sees the queue empty.
        assert_eq!(b.recv(0, 1, &mut batch, &mut pool).unwrap(), 0);
        assert!(!readable(fd));
        let mut out = vec![numbered(2), numbered(3)];
        a.send(0, &mut out, &mut pool).unwrap();
        assert!(readable(fd));
        let mut batch = PacketBatch::new();
        assert_eq!(b.recv(0, 1, &mut batch, &mut pool).unwrap(), 2);
        assert_eq!(b.recv(0, 1, &mut batch, &mut pool).unwrap(), 0);
        assert!(!readable(fd));
        // A port nothing is sent to never becomes readable.
        let idle = MemNetdev::new("tnl", 1, 1);
        let fd = idle.rx_fd(0).unwrap();
        assert_eq!(idle.recv(0, 1, &mut batch, &mut pool).unwrap(), 0);
        assert!(!readable(fd));
    }

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
        // Numbered packets are 4 bytes each.
        assert_eq!(b.rx_bytes.load(Relaxed), 4 * TOTAL as u64);
        assert_eq!(a.tx_bytes.load(Relaxed), 4 * TOTAL as u64);
    }

    #[test]
    fn queue_bound_drops_the_excess_and_keeps_order() {
        let a = MemNetdev::new("a", 1, 1);
        let mut pool = PacketPool::new(8);
        let mut out: Vec<DpPacket> = (0..MEM_QUEUE_LIMIT as u32 + 10).map(numbered).collect();
        assert_eq!(a.send(0, &mut out, &mut pool).unwrap(), MEM_QUEUE_LIMIT);
        assert!(out.is_empty());
        assert_eq!(a.tx_dropped.load(Relaxed), 10);
        // Bytes count what was sent, not what was dropped.
        assert_eq!(a.tx_bytes.load(Relaxed), 4 * MEM_QUEUE_LIMIT as u64);
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
