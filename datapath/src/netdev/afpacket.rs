//! System interfaces over AF_PACKET, receive and transmit with virtio-net
//! headers (`PACKET_VNET_HDR`), receive in one of two modes:
//!
//! - `mmsg` (default): one `recvmmsg` per batch of up to 32 frames, each
//!   read straight into a pooled buffer (2 KiB) with a per-slot 64 KiB
//!   overflow buffer behind it for GSO frames, whose tail is then appended
//!   once, growing that buffer to 66 KiB for good: buffers that size
//!   (they circulate back through the PMD's pool) take a whole GSO frame
//!   straight from the kernel, so steady TCP costs one copy in, one
//!   out. The 32 buffers stay with the socket between calls, so an
//!   empty poll does not cycle them through the pool. A frame is visible
//!   as soon as the kernel queues it, so latency is a wakeup, and a VLAN
//!   tag the kernel took out comes back from the `PACKET_AUXDATA`
//!   control message.
//! - `tpacket-v3`: a TPACKET_V3 ring. The kernel fills fixed-size blocks
//!   of a shared ring with variable-size frames and hands a block over
//!   when it is full or when its timer expires; the PMD copies frames out
//!   of the block into pooled buffers (no system call while blocks are
//!   ready) and gives the block back once every frame is taken. A cursor
//!   (block, frame, frames left) remembers where a batch stopped. The
//!   timer has jiffy resolution (1 ms asked, 4 ms on a HZ=250 kernel), so
//!   at low rates each frame waits for it: fewer system calls at high
//!   packet rates, much higher latency (and slower TCP, whose ACKs wait
//!   too) otherwise. Measured in `examples/port_bench.rs`.
//!
//! Receive state is behind a mutex that only the PMD polling the queue
//! takes (uncontended).
//!
//! Receive queues (`options:n_rxq`, default 1): one socket each, joined in
//! a `PACKET_FANOUT_HASH` group, so the kernel spreads flows over them by
//! their hash (a flow stays on one queue, in order) and each can be
//! polled by another PMD. (OVS's system ports have one receive queue in
//! the userspace datapath and ignore `n_rxq`.)
//!
//! Transmit: one `sendmmsg` per 32 packets, each message a vnet header and
//! the frame (two iovecs, nothing copied in user space), bypassing the
//! qdisc layer; consecutive TCP segments of one connection are joined
//! into one GSO packet first ([`gro`]). Checksum-offloaded and GSO packets go out whole with their
//! header, so a 64 KiB TCP segment crosses the switch as one packet; the
//! kernel segments it only if the device cannot. Any number of threads may
//! send at once (the socket is thread-safe and nothing else is shared).
//!
//! Invariants: the ring mapping lives as long as the socket; a block is
//! read only after its status word says TP_STATUS_USER (acquire) and is
//! written back to TP_STATUS_KERNEL (release) only after its last frame
//! was copied.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{
    AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::Mutex;

use super::sys::{self, open_error, Mmap};
use super::tpacket::{BlockView, Frame, BLOCK_STATUS_AT, TP_STATUS_KERNEL, TP_STATUS_USER};
use super::tpacket::{TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID};
use super::{DeviceDrops, Netdev, NetdevError};
use crate::batch::PacketBatch;
use crate::offload::{gro, Offload, VNET_F_NEEDS_CSUM, VNET_HDR_LEN};
use crate::packet::{DpPacket, PacketPool};

const SOL_PACKET: i32 = 263;
const PACKET_ADD_MEMBERSHIP: i32 = 1;
const PACKET_RX_RING: i32 = 5;
const PACKET_STATISTICS: i32 = 6;
const PACKET_VERSION: i32 = 10;
const PACKET_VNET_HDR: i32 = 15;
const PACKET_QDISC_BYPASS: i32 = 20;
const PACKET_IGNORE_OUTGOING: i32 = 23;
const TPACKET_V3: i32 = 2;
const PACKET_MR_PROMISC: u16 = 1;
const ETH_P_ALL: u16 = 0x0003;

/// Ring geometry: a block holds at least one 64 KiB GSO frame with its
/// headers; 64 blocks of 128 KiB are 8 MiB per port.
const BLOCK_SIZE: u32 = 1 << 17;
const BLOCK_NR: u32 = 64;
const FRAME_SIZE: u32 = 2048;
/// Milliseconds before the kernel hands over a partly filled block.
const RETIRE_TOV_MS: u32 = 1;
/// Packets per `sendmmsg`.
const TX_BURST: usize = 32;
/// Send buffer (the kernel accounts GSO skbs against it until the peer
/// consumes them).
const SNDBUF: i32 = 4 << 20;
/// Receive buffer in `mmsg` mode.
const RCVBUF: i32 = 16 << 20;

#[repr(C)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

#[repr(C)]
struct PacketMreq {
    ifindex: i32,
    ty: u16,
    alen: u16,
    address: [u8; 8],
}

/// How frames are received (Interface option `afpacket-rx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxMode {
    /// `recvmmsg` into pooled buffers (default).
    #[default]
    Mmsg,
    /// A TPACKET_V3 ring.
    TpacketV3,
}

impl RxMode {
    pub fn parse(dev: &str, v: Option<&String>) -> Result<RxMode, NetdevError> {
        match v.map(String::as_str) {
            None | Some("mmsg") => Ok(RxMode::Mmsg),
            Some("tpacket-v3") => Ok(RxMode::TpacketV3),
            Some(_) => Err(NetdevError::BadOption {
                dev: dev.to_string(),
                option: "afpacket-rx".to_string(),
                why: "expected mmsg or tpacket-v3".to_string(),
            }),
        }
    }
}

const PACKET_AUXDATA: i32 = 8;
/// Frame bytes read into the pooled buffer; the rest of a larger frame
/// lands in the slot's overflow buffer.
const MMSG_HEAD: usize = crate::packet::DEFAULT_FRAME_ROOM;
/// Overflow room per slot: a 64 KiB GSO frame.
const MMSG_TAIL: usize = 65536;
/// Room of a buffer that takes a whole GSO frame in one piece.
const MMSG_BIG: usize = MMSG_HEAD + MMSG_TAIL;
const CMSG_SPACE: usize = 64;
const RX_BURST: usize = 32;

/// `struct tpacket_auxdata`, the control message of each received frame.
#[repr(C)]
#[derive(Clone, Copy)]
struct Auxdata {
    status: u32,
    len: u32,
    snaplen: u32,
    mac: u16,
    net: u16,
    vlan_tci: u16,
    vlan_tpid: u16,
}

/// Buffers of `recvmmsg` receive, allocated once.
struct MmsgRx {
    /// The buffers of the next `recvmmsg`, kept between calls: an empty
    /// poll (most polls of a quiet port) gives nothing back to the pool
    /// and takes nothing from it; a slot is refilled once its frame left.
    slots: Vec<Option<DpPacket>>,
    tail: Vec<u8>,
    ctrl: Vec<[u64; CMSG_SPACE / 8]>,
}

enum RxState {
    Ring(RxCursor),
    Mmsg(MmsgRx),
}

/// Where receive stopped inside the ring.
#[derive(Default)]
struct RxCursor {
    block: usize,
    /// Frames of the current block are being taken (its status was seen
    /// as USER); `next_at` and `left` are valid.
    open: bool,
    next_at: usize,
    left: u32,
}

/// One receive queue: a socket of the port's fanout group.
struct RxSock {
    fd: OwnedFd,
    /// The TPACKET_V3 ring (`tpacket-v3` mode only).
    ring: Option<Mmap>,
    rx: Mutex<RxState>,
}

pub struct AfPacketNetdev {
    name: String,
    /// Receive queue `i` is socket `i`; with more than one, they form a
    /// `PACKET_FANOUT_HASH` group (a flow always reaches the same one).
    /// Transmit queue `q` sends on socket `q % n`.
    queues: Vec<RxSock>,
    rx_packets: AtomicU64,
    rx_invalid: AtomicU64,
    rx_ring_full: AtomicU64,
    tx_packets: AtomicU64,
    tx_dropped: AtomicU64,
}

impl AfPacketNetdev {
    /// Opens interface `name` (brought up if it is down) with the default
    /// receive mode.
    pub fn open(name: &str) -> Result<AfPacketNetdev, NetdevError> {
        Self::open_with(name, RxMode::default())
    }

    /// Opens interface `name` receiving in `mode`, one receive queue.
    pub fn open_with(name: &str, mode: RxMode) -> Result<AfPacketNetdev, NetdevError> {
        Self::open_queues(name, mode, 1)
    }

    /// Opens interface `name` receiving in `mode` on `n_rxq` sockets
    /// joined in a fanout group that spreads flows by hash (the kernel
    /// picks the group's id, so no other group can be joined by mistake).
    pub fn open_queues(
        name: &str,
        mode: RxMode,
        n_rxq: usize,
    ) -> Result<AfPacketNetdev, NetdevError> {
        let ifindex = sys::ifindex(name)?;
        sys::set_up(name)?;
        let mut queues = Vec::with_capacity(n_rxq.max(1));
        let mut group = None;
        for _ in 0..n_rxq.max(1) {
            let q = Self::open_socket(name, ifindex, mode)?;
            if n_rxq > 1 {
                group = Some(join_fanout(name, q.fd.as_raw_fd(), group)?);
            }
            queues.push(q);
        }
        Ok(AfPacketNetdev {
            name: name.to_string(),
            queues,
            rx_packets: AtomicU64::new(0),
            rx_invalid: AtomicU64::new(0),
            rx_ring_full: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_dropped: AtomicU64::new(0),
        })
    }

    /// One bound socket of interface `name`, receiving in `mode`.
    fn open_socket(name: &str, ifindex: i32, mode: RxMode) -> Result<RxSock, NetdevError> {
        let err = |what: &str| {
            let e = std::io::Error::last_os_error();
            open_error(name, what, e)
        };
        let fd = sys::socket(libc::AF_PACKET, libc::SOCK_RAW, 0)
            .map_err(|e| open_error(name, "socket(AF_PACKET)", e))?;
        let raw = fd.as_raw_fd();
        let one: i32 = 1;
        sys::setsockopt(raw, SOL_PACKET, PACKET_VNET_HDR, &one)
            .map_err(|_| err("PACKET_VNET_HDR"))?;
        let (ring, rx) = match mode {
            RxMode::TpacketV3 => {
                let ring = Self::setup_ring(name, raw)?;
                (Some(ring), RxState::Ring(RxCursor::default()))
            }
            RxMode::Mmsg => {
                sys::setsockopt(raw, SOL_PACKET, PACKET_AUXDATA, &one)
                    .map_err(|_| err("PACKET_AUXDATA"))?;
                // The socket queue holds GSO skbs of up to 64 KiB each
                // until the PMD reads them: room for a few hundred.
                if sys::setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &RCVBUF).is_err() {
                    let _ = sys::setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, &RCVBUF);
                }
                let rx = MmsgRx {
                    slots: (0..RX_BURST).map(|_| None).collect(),
                    tail: vec![0u8; RX_BURST * MMSG_TAIL],
                    ctrl: vec![[0u64; CMSG_SPACE / 8]; RX_BURST],
                };
                (None, RxState::Mmsg(rx))
            }
        };
        Self::bind(name, &fd, ifindex)?;
        Ok(RxSock {
            fd,
            ring,
            rx: Mutex::new(rx),
        })
    }

    fn setup_ring(name: &str, raw: RawFd) -> Result<Mmap, NetdevError> {
        let err = |what: &str| {
            let e = std::io::Error::last_os_error();
            open_error(name, what, e)
        };
        sys::setsockopt(raw, SOL_PACKET, PACKET_VERSION, &TPACKET_V3)
            .map_err(|_| err("PACKET_VERSION"))?;
        let req = TpacketReq3 {
            block_size: BLOCK_SIZE,
            block_nr: BLOCK_NR,
            frame_size: FRAME_SIZE,
            frame_nr: BLOCK_SIZE / FRAME_SIZE * BLOCK_NR,
            retire_blk_tov: RETIRE_TOV_MS,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        sys::setsockopt(raw, SOL_PACKET, PACKET_RX_RING, &req)
            .map_err(|_| err("PACKET_RX_RING"))?;
        Mmap::new(raw, (BLOCK_SIZE * BLOCK_NR) as usize, 0)
            .map_err(|e| open_error(name, "mmap ring", e))
    }

    fn bind(name: &str, fd: &OwnedFd, ifindex: i32) -> Result<(), NetdevError> {
        let raw = fd.as_raw_fd();
        let one: i32 = 1;
        let err = |what: &str| {
            let e = std::io::Error::last_os_error();
            open_error(name, what, e)
        };
        // Best effort: older kernels lack these; correctness does not
        // depend on them (outgoing frames are also filtered below).
        let _ = sys::setsockopt(raw, SOL_PACKET, PACKET_QDISC_BYPASS, &one);
        let _ = sys::setsockopt(raw, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one);
        if sys::setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &SNDBUF).is_err() {
            let _ = sys::setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUF, &SNDBUF);
        }
        // SAFETY: sockaddr_ll is plain old data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
        let r = unsafe {
            libc::bind(
                raw,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        sys::check(r as _).map_err(|e| open_error(name, "bind", e))?;
        let mreq = PacketMreq {
            ifindex,
            ty: PACKET_MR_PROMISC,
            alen: 0,
            address: [0; 8],
        };
        sys::setsockopt(raw, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq)
            .map_err(|_| err("PACKET_ADD_MEMBERSHIP"))?;
        Ok(())
    }

    fn block_status(ring: &Mmap, block: usize) -> &AtomicU32 {
        // SAFETY: block < BLOCK_NR, so the status word lies inside the
        // mapping, 4-byte aligned (blocks are page aligned); the kernel
        // accesses it concurrently, hence the atomic view.
        unsafe {
            &*(ring.ptr.add(block * BLOCK_SIZE as usize + BLOCK_STATUS_AT) as *const AtomicU32)
        }
    }

    fn block(ring: &Mmap, block: usize) -> &[u8] {
        // SAFETY: the block lies inside the mapping, and it is read only
        // while its status is TP_STATUS_USER, when the kernel does not
        // write it.
        unsafe {
            std::slice::from_raw_parts(
                ring.ptr.add(block * BLOCK_SIZE as usize),
                BLOCK_SIZE as usize,
            )
        }
    }

    fn poll_ring_stats(&self) {
        let mut st = TpacketStatsV3::default();
        for q in &self.queues {
            if sys::getsockopt(q.fd.as_raw_fd(), SOL_PACKET, PACKET_STATISTICS, &mut st).is_ok() {
                self.rx_ring_full.fetch_add(st.drops as u64, Relaxed);
            }
        }
    }

    /// Takes frames from the TPACKET_V3 ring. Returns (received, refused).
    fn recv_ring(
        ring: &Mmap,
        cur: &mut RxCursor,
        in_port: u32,
        batch: &mut PacketBatch,
        pool: &mut PacketPool,
    ) -> (usize, u64) {
        let (mut got, mut bad) = (0usize, 0u64);
        while batch.room() > 0 {
            if !cur.open {
                if Self::block_status(ring, cur.block).load(Acquire) & TP_STATUS_USER == 0 {
                    break;
                }
                let b = match BlockView::new_checked(Self::block(ring, cur.block)) {
                    Ok(b) => b,
                    Err(_) => break,
                };
                cur.open = true;
                cur.next_at = b.first_offset();
                cur.left = b.num_pkts();
            }
            let block = Self::block(ring, cur.block);
            while cur.left > 0 && batch.room() > 0 {
                cur.left -= 1;
                let f = match Frame::parse(block, cur.next_at) {
                    Ok(f) => f,
                    Err(_) => {
                        bad += 1 + cur.left as u64;
                        cur.left = 0;
                        break;
                    }
                };
                if cur.left > 0 {
                    if f.next == 0 {
                        bad += cur.left as u64;
                        cur.left = 0;
                    }
                    cur.next_at += f.next as usize;
                }
                let mut p = pool.get();
                p.reset_md(in_port);
                match f.to_packet(block, true, &mut p) {
                    Ok(()) => {
                        let _ = batch.push(p);
                        got += 1;
                    }
                    Err(_) => {
                        bad += 1;
                        pool.put(p);
                    }
                }
            }
            if cur.left == 0 {
                Self::block_status(ring, cur.block).store(TP_STATUS_KERNEL, Release);
                cur.block = (cur.block + 1) % BLOCK_NR as usize;
                cur.open = false;
            }
        }
        (got, bad)
    }

    /// Receives up to a batch with one `recvmmsg`. Returns (received,
    /// refused).
    fn recv_mmsg(
        fd: RawFd,
        m: &mut MmsgRx,
        in_port: u32,
        batch: &mut PacketBatch,
        pool: &mut PacketPool,
    ) -> (usize, u64) {
        let n = batch.room().min(RX_BURST);
        if n == 0 {
            return (0, 0);
        }
        let mut hdrs = [[0u8; VNET_HDR_LEN]; RX_BURST];
        // SAFETY: iovec and mmsghdr are plain old data; zero is valid.
        let mut iov: [[libc::iovec; 3]; RX_BURST] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; RX_BURST] = unsafe { std::mem::zeroed() };
        let mut direct = [false; RX_BURST];
        for i in 0..n {
            let p = m.slots[i].get_or_insert_with(|| pool.get());
            let h = &mut msgs[i].msg_hdr;
            h.msg_control = m.ctrl[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_controllen = CMSG_SPACE;
            h.msg_iov = iov[i].as_mut_ptr();
            if p.room() >= MMSG_BIG {
                // A buffer that held a GSO frame before: the whole frame
                // lands in it, nothing is copied afterwards.
                direct[i] = true;
                let room = p.frame_for_fill(MMSG_BIG);
                iov[i][0] = libc::iovec {
                    iov_base: hdrs[i].as_mut_ptr() as *mut libc::c_void,
                    iov_len: VNET_HDR_LEN,
                };
                iov[i][1] = libc::iovec {
                    iov_base: room.as_mut_ptr() as *mut libc::c_void,
                    iov_len: MMSG_BIG,
                };
                h.msg_iovlen = 2;
                continue;
            }
            let head = p.frame_for_fill(MMSG_HEAD);
            iov[i] = [
                libc::iovec {
                    iov_base: hdrs[i].as_mut_ptr() as *mut libc::c_void,
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: head.as_mut_ptr() as *mut libc::c_void,
                    iov_len: MMSG_HEAD,
                },
                libc::iovec {
                    iov_base: m.tail[i * MMSG_TAIL..].as_mut_ptr() as *mut libc::c_void,
                    iov_len: MMSG_TAIL,
                },
            ];
            msgs[i].msg_hdr.msg_iovlen = 3;
        }
        // SAFETY: msgs[..n] are initialized; their iovecs point into the
        // vnet header array, the packets' buffers (alive in `pkts`, not
        // moved during the call) and the overflow buffer, and their
        // control buffers into `m.ctrl`, all of the lengths given.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                n as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let got_msgs = if r > 0 { r as usize } else { 0 };
        let (mut got, mut bad) = (0usize, 0u64);
        // Slots past `got_msgs` were not filled: they keep their buffers
        // for the next call.
        for i in 0..got_msgs {
            let mut p = m.slots[i].take().expect("filled above");
            let h = &msgs[i].msg_hdr;
            let total = msgs[i].msg_len as usize;
            if h.msg_flags & libc::MSG_TRUNC != 0 || total < VNET_HDR_LEN {
                bad += 1;
                pool.put(p);
                continue;
            }
            let len = total - VNET_HDR_LEN;
            if len > MMSG_HEAD && !direct[i] {
                // Grown once to the full size, so that the next frames
                // received into this buffer need no copy.
                p.truncate(MMSG_HEAD);
                p.reserve_room(MMSG_BIG);
                p.extend(&m.tail[i * MMSG_TAIL..i * MMSG_TAIL + (len - MMSG_HEAD)]);
            } else {
                p.truncate(len);
            }
            let off = match Offload::from_vnet(&hdrs[i], len) {
                Ok(o) => o,
                Err(_) => {
                    bad += 1;
                    pool.put(p);
                    continue;
                }
            };
            p.reset_md(in_port);
            p.set_offload(off);
            if let Some(aux) = auxdata(h) {
                if aux.status & TP_STATUS_VLAN_VALID != 0 && p.len() >= 12 {
                    let tpid = if aux.status & TP_STATUS_VLAN_TPID_VALID != 0 && aux.vlan_tpid != 0
                    {
                        aux.vlan_tpid
                    } else {
                        0x8100
                    };
                    // The offload offsets move with the gap.
                    if p.insert_gap(12, 4) {
                        let d = p.data_mut();
                        d[12..14].copy_from_slice(&tpid.to_be_bytes());
                        d[14..16].copy_from_slice(&aux.vlan_tci.to_be_bytes());
                    }
                }
            }
            let _ = batch.push(p);
            got += 1;
        }
        (got, bad)
    }

    pub fn rx_packets(&self) -> u64 {
        self.rx_packets.load(Relaxed)
    }
    pub fn tx_packets(&self) -> u64 {
        self.tx_packets.load(Relaxed)
    }
}

impl Netdev for AfPacketNetdev {
    fn name(&self) -> &str {
        &self.name
    }
    fn n_rxq(&self) -> usize {
        self.queues.len()
    }
    fn n_txq(&self) -> usize {
        // Every transmit queue is the same thread-safe socket.
        64
    }

    fn recv(
        &self,
        qid: usize,
        in_port: u32,
        batch: &mut PacketBatch,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        let Some(q) = self.queues.get(qid) else {
            return Err(NetdevError::NoQueue(qid));
        };
        let mut st = q.rx.lock().unwrap_or_else(|e| e.into_inner());
        let (got, bad) = match (&mut *st, &q.ring) {
            (RxState::Ring(cur), Some(ring)) => Self::recv_ring(ring, cur, in_port, batch, pool),
            (RxState::Mmsg(m), _) => Self::recv_mmsg(q.fd.as_raw_fd(), m, in_port, batch, pool),
            (RxState::Ring(_), None) => (0, 0),
        };
        drop(st);
        if bad > 0 {
            self.rx_invalid.fetch_add(bad, Relaxed);
        }
        if got > 0 {
            self.rx_packets.fetch_add(got as u64, Relaxed);
        }
        Ok(got)
    }

    fn send(
        &self,
        qid: usize,
        packets: &mut Vec<DpPacket>,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        let fd = self.queues[qid % self.queues.len()].fd.as_raw_fd();
        // Consecutive TCP segments go out as one GSO packet.
        let joined = gro::coalesce(packets, pool);
        let mut sent = 0usize;
        let mut dropped = 0u64;
        for chunk in packets.chunks(TX_BURST) {
            let mut hdrs = [[0u8; 10]; TX_BURST];
            // SAFETY: iovec and mmsghdr are plain old data; zero is valid.
            let mut iov: [[libc::iovec; 2]; TX_BURST] = unsafe { std::mem::zeroed() };
            let mut msgs: [libc::mmsghdr; TX_BURST] = unsafe { std::mem::zeroed() };
            for (i, p) in chunk.iter().enumerate() {
                hdrs[i] = vnet_for_tx(p);
                iov[i][0] = libc::iovec {
                    iov_base: hdrs[i].as_mut_ptr() as *mut libc::c_void,
                    iov_len: hdrs[i].len(),
                };
                iov[i][1] = libc::iovec {
                    iov_base: p.data().as_ptr() as *mut libc::c_void,
                    iov_len: p.len(),
                };
                msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
                msgs[i].msg_hdr.msg_iovlen = 2;
            }
            let mut off = 0;
            let mut retries = 0;
            while off < chunk.len() {
                // SAFETY: msgs[off..chunk.len()] are initialized messages
                // whose iovecs point into `hdrs` and the packets, all
                // alive and unchanged for the duration of the call.
                let r = unsafe {
                    libc::sendmmsg(
                        fd,
                        msgs.as_mut_ptr().add(off),
                        (chunk.len() - off) as u32,
                        libc::MSG_DONTWAIT,
                    )
                };
                if r > 0 {
                    off += r as usize;
                    sent += r as usize;
                    continue;
                }
                let e = std::io::Error::last_os_error().raw_os_error();
                match e {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) if retries < 64 => {
                        // The send buffer is full of skbs the peer has not
                        // consumed yet: wait a little for room.
                        retries += 1;
                        wait_writable(fd, 1);
                    }
                    _ => {
                        // This message is refused (too big, device down):
                        // drop it and carry on with the rest.
                        off += 1;
                        dropped += 1;
                    }
                }
            }
        }
        for p in packets.drain(..) {
            pool.put(p);
        }
        // Counted as handed in (a joined packet's segments with it).
        let sent = sent + joined;
        self.tx_packets.fetch_add(sent as u64, Relaxed);
        if dropped > 0 {
            self.tx_dropped.fetch_add(dropped, Relaxed);
        }
        Ok(sent)
    }

    fn rx_fd(&self, qid: usize) -> Option<RawFd> {
        self.queues.get(qid).map(|q| q.fd.as_raw_fd())
    }

    fn drops(&self) -> DeviceDrops {
        self.poll_ring_stats();
        DeviceDrops {
            rx_invalid: self.rx_invalid.load(Relaxed),
            rx_ring_full: self.rx_ring_full.load(Relaxed),
            tx_dropped: self.tx_dropped.load(Relaxed),
            tx_offload_failed: 0,
        }
    }
}

/// The vnet header to send `p` with: its offload state, with the header
/// length bounded by the frame (the kernel refuses a longer one) and only
/// the flag transmit understands.
pub(crate) fn vnet_for_tx(p: &DpPacket) -> [u8; 10] {
    let o = p.offload();
    if !o.pending() {
        return [0; 10];
    }
    Offload {
        flags: o.flags & VNET_F_NEEDS_CSUM,
        hdr_len: o.hdr_len.min(p.len().min(u16::MAX as usize) as u16),
        ..o
    }
    .to_vnet()
}

const PACKET_FANOUT: i32 = 18;
const PACKET_FANOUT_HASH: u32 = 0;
const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;

/// Joins bound socket `fd` to fanout group `group`, or (None) makes a new
/// group with an id the kernel chooses; returns the group's id.
fn join_fanout(name: &str, fd: RawFd, group: Option<u16>) -> Result<u16, NetdevError> {
    let arg: u32 = match group {
        Some(id) => id as u32 | PACKET_FANOUT_HASH << 16,
        None => (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16,
    };
    sys::setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg)
        .map_err(|e| open_error(name, "PACKET_FANOUT", e))?;
    if let Some(id) = group {
        return Ok(id);
    }
    let mut got: u32 = 0;
    sys::getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &mut got)
        .map_err(|e| open_error(name, "PACKET_FANOUT id", e))?;
    Ok(got as u16)
}

/// Waits up to `ms` for `fd` to become writable.
pub(crate) fn wait_writable(fd: RawFd, ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

/// The `PACKET_AUXDATA` control message of a received frame, if any.
fn auxdata(h: &libc::msghdr) -> Option<Auxdata> {
    // SAFETY: `h` was filled by recvmmsg: its control buffer holds
    // `msg_controllen` bytes of well-formed control messages, walked with
    // the libc macros, which stay inside it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == SOL_PACKET
                && (*c).cmsg_type == PACKET_AUXDATA
                && (*c).cmsg_len as usize
                    >= libc::CMSG_LEN(std::mem::size_of::<Auxdata>() as u32) as usize
            {
                return Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(c) as *const Auxdata
                ));
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}
