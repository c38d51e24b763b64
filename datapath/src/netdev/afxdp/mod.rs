//! AF_XDP ports (`type=afxdp`): one AF_XDP socket per receive queue, fed
//! by a minimal XDP program that redirects each frame to the socket of its
//! queue, written over `libc` and the `bpf()` system call (no libbpf).
//!
//! Options: `xdp-mode` = `native` (driver mode; zero-copy when the driver
//! has it, copy otherwise), `native-with-zerocopy` (driver mode, zero-copy
//! or fail), `generic` (skb mode, copy) or `best-effort` (native, then
//! generic; the default); `n_rxq` (queues, default 1); `use-need-wakeup`
//! (default true: the kernel is woken by a system call only when it asks).
//!
//! Frames are copied between the UMEM and pooled packet buffers (one copy
//! each way). AF_XDP carries no offload metadata: received TCP/UDP frames
//! whose checksum field holds just the pseudo-header sum (a local stack's
//! partial checksum, passed on by a veth) are marked as such, so they
//! leave a vnet-header port still partial and any other port finished;
//! transmitted packets get checksums completed and GSO packets segmented
//! in software first. In native mode on a veth the kernel stops the peer
//! from making GSO packets itself. In generic mode it does not: a 64 KiB
//! TCP segment reaches the socket whole, as a chain of descriptors
//! (multi-buffer, `XDP_USE_SG`); it is reassembled, and since its segment
//! size was lost, it is taken as a GSO packet cut to the interface's MTU.
//! (On a kernel without multi-buffer AF_XDP such frames are dropped by
//! the kernel and counted in the port's drops.)
//!
//! Field order matters for teardown: the XDP link is closed first (the
//! program detaches), then the sockets.

pub mod bpf;
pub mod xsk;

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use super::sys::{self, open_error};
use super::{DeviceDrops, Netdev, NetdevError};
use crate::batch::PacketBatch;
use crate::offload::{csum::detect_partial, finish_for_plain_port, gso::infer_tcp_gso};
use crate::packet::{DpPacket, PacketPool};
use bpf::{XdpAttach, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
use xsk::{Xsk, XDP_COPY, XDP_USE_NEED_WAKEUP, XDP_USE_SG, XDP_ZEROCOPY};

/// `xdp-mode` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    Native,
    NativeZeroCopy,
    Generic,
    BestEffort,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfXdpOptions {
    pub mode: XdpMode,
    pub n_rxq: u32,
    pub use_need_wakeup: bool,
}

impl Default for AfXdpOptions {
    fn default() -> Self {
        AfXdpOptions {
            mode: XdpMode::BestEffort,
            n_rxq: 1,
            use_need_wakeup: true,
        }
    }
}

impl AfXdpOptions {
    /// Reads the Interface `options` of port `dev`.
    pub fn parse(dev: &str, o: &BTreeMap<String, String>) -> Result<AfXdpOptions, NetdevError> {
        let bad = |opt: &str, why: &str| NetdevError::BadOption {
            dev: dev.to_string(),
            option: opt.to_string(),
            why: why.to_string(),
        };
        let mut r = AfXdpOptions::default();
        if let Some(m) = o.get("xdp-mode") {
            r.mode = match m.as_str() {
                "native" => XdpMode::Native,
                "native-with-zerocopy" => XdpMode::NativeZeroCopy,
                "generic" => XdpMode::Generic,
                "best-effort" => XdpMode::BestEffort,
                _ => {
                    return Err(bad(
                        "xdp-mode",
                        "expected native, native-with-zerocopy, generic or best-effort",
                    ))
                }
            };
        }
        if let Some(n) = o.get("n_rxq") {
            r.n_rxq = n
                .parse()
                .ok()
                .filter(|&n: &u32| (1..=64).contains(&n))
                .ok_or_else(|| bad("n_rxq", "expected 1 to 64"))?;
        }
        if let Some(w) = o.get("use-need-wakeup") {
            r.use_need_wakeup = match w.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(bad("use-need-wakeup", "expected true or false")),
            };
        }
        Ok(r)
    }
}

pub struct AfXdpNetdev {
    name: String,
    attach: XdpAttach,
    queues: Vec<Mutex<Xsk>>,
    /// Each queue's socket, readable when its receive ring has frames.
    fds: Vec<RawFd>,
    /// The interface's MTU (sizes the segments of GSO frames).
    mtu: usize,
    zero_copy: bool,
    rx_packets: AtomicU64,
    rx_invalid: AtomicU64,
    tx_packets: AtomicU64,
    tx_dropped: AtomicU64,
    tx_offload_failed: AtomicU64,
    tx_gso_segmented: AtomicU64,
    tx_csum_completed: AtomicU64,
}

impl AfXdpNetdev {
    pub fn open(name: &str, opts: &AfXdpOptions) -> Result<AfXdpNetdev, NetdevError> {
        let ifindex = sys::ifindex(name)?;
        sys::set_up(name)?;
        let mtu = sys::mtu(name)?;
        let modes: &[u32] = match opts.mode {
            XdpMode::Native | XdpMode::NativeZeroCopy => &[XDP_FLAGS_DRV_MODE],
            XdpMode::Generic => &[XDP_FLAGS_SKB_MODE],
            XdpMode::BestEffort => &[XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE],
        };
        let wake = if opts.use_need_wakeup {
            XDP_USE_NEED_WAKEUP
        } else {
            0
        };
        let mut last = None;
        for &mode in modes {
            let binds: &[u16] = match (mode, opts.mode) {
                (XDP_FLAGS_DRV_MODE, XdpMode::NativeZeroCopy) => &[XDP_ZEROCOPY],
                (XDP_FLAGS_DRV_MODE, _) => &[XDP_ZEROCOPY, XDP_COPY],
                _ => &[XDP_COPY],
            };
            match Self::try_mode(ifindex, opts.n_rxq, mode, binds, wake) {
                Ok((attach, queues, zc)) => {
                    tracing::info!(
                        dev = name,
                        mode = if mode == XDP_FLAGS_DRV_MODE {
                            "native"
                        } else {
                            "generic"
                        },
                        zero_copy = zc,
                        "AF_XDP port open"
                    );
                    return Ok(AfXdpNetdev {
                        name: name.to_string(),
                        attach,
                        fds: queues.iter().map(Xsk::raw_fd).collect(),
                        mtu,
                        queues: queues.into_iter().map(Mutex::new).collect(),
                        zero_copy: zc,
                        rx_packets: AtomicU64::new(0),
                        rx_invalid: AtomicU64::new(0),
                        tx_packets: AtomicU64::new(0),
                        tx_dropped: AtomicU64::new(0),
                        tx_offload_failed: AtomicU64::new(0),
                        tx_gso_segmented: AtomicU64::new(0),
                        tx_csum_completed: AtomicU64::new(0),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        let (what, e) = last.expect("at least one mode tried");
        Err(match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => NetdevError::Permission(name.to_string()),
            Some(libc::EBUSY) => NetdevError::Busy(name.to_string()),
            Some(libc::ENODEV) => open_error(name, &what, e),
            _ => NetdevError::Unsupported {
                dev: name.to_string(),
                why: format!("AF_XDP not possible: {what}: {e}"),
            },
        })
    }

    #[allow(clippy::type_complexity)]
    fn try_mode(
        ifindex: i32,
        n: u32,
        mode: u32,
        binds: &[u16],
        wake: u16,
    ) -> Result<(XdpAttach, Vec<Xsk>, bool), (String, std::io::Error)> {
        let attach = XdpAttach::new(ifindex, n, mode).map_err(|e| ("XDP attach".to_string(), e))?;
        let mut queues = Vec::new();
        let mut zc = false;
        for q in 0..n {
            let mut x = Xsk::new().map_err(|e| ("AF_XDP socket".to_string(), e))?;
            let mut res = Err(std::io::Error::from_raw_os_error(libc::EINVAL));
            // Multi-buffer first (frames larger than a chunk arrive as
            // chains), then without it (older kernels, drivers).
            'bind: for &b in binds {
                for sg in [XDP_USE_SG, 0] {
                    res = x.bind(ifindex, q, b | sg | wake);
                    if res.is_ok() {
                        zc = b == XDP_ZEROCOPY;
                        break 'bind;
                    }
                }
            }
            res.map_err(|e| (format!("bind queue {q}"), e))?;
            attach
                .set_socket(q, x.raw_fd())
                .map_err(|e| ("XSKMAP update".to_string(), e))?;
            queues.push(x);
        }
        Ok((attach, queues, zc))
    }

    /// Whether the program runs in the driver (native) rather than generic.
    pub fn is_native(&self) -> bool {
        self.attach.mode == XDP_FLAGS_DRV_MODE
    }
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }
    /// GSO packets segmented and partial checksums completed in software
    /// on transmit (this port takes no offload metadata).
    pub fn software_offload_counts(&self) -> (u64, u64) {
        (
            self.tx_gso_segmented.load(Relaxed),
            self.tx_csum_completed.load(Relaxed),
        )
    }

    fn queue(&self, qid: usize) -> std::sync::MutexGuard<'_, Xsk> {
        self.queues[qid % self.queues.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Netdev for AfXdpNetdev {
    fn name(&self) -> &str {
        &self.name
    }
    fn n_rxq(&self) -> usize {
        self.queues.len()
    }
    fn n_txq(&self) -> usize {
        self.queues.len()
    }

    fn recv(
        &self,
        qid: usize,
        in_port: u32,
        batch: &mut PacketBatch,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        if qid >= self.queues.len() {
            return Err(NetdevError::NoQueue(qid));
        }
        let mut x = self.queue(qid);
        if x.tx_outstanding > 0 {
            x.kick_tx(2);
        }
        let (mut got, mut bad) = (0usize, 0u64);
        let mtu = self.mtu;
        x.recv(batch.room() as u32, |r| match r {
            Ok(pieces) => {
                let mut p = pool.get();
                p.reset_md(in_port);
                let total = pieces.iter().map(|b| b.len()).sum();
                let f = p.frame_for_fill(total);
                let mut at = 0;
                for b in pieces {
                    f[at..at + b.len()].copy_from_slice(b);
                    at += b.len();
                }
                if let Some(o) = detect_partial(p.data()) {
                    // A frame beyond the MTU is a GSO segment the kernel
                    // handed over whole (generic mode), its segment size
                    // lost on the way: the MTU gives it back.
                    let o = infer_tcp_gso(p.data(), o, mtu).unwrap_or(o);
                    p.set_offload(o);
                }
                let _ = batch.push(p);
                got += 1;
            }
            Err(_) => bad += 1,
        });
        drop(x);
        if bad > 0 {
            self.rx_invalid.fetch_add(bad, Relaxed);
        }
        self.rx_packets.fetch_add(got as u64, Relaxed);
        Ok(got)
    }

    fn send(
        &self,
        qid: usize,
        packets: &mut Vec<DpPacket>,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        let sw = finish_for_plain_port(packets, pool);
        if sw.failed > 0 {
            self.tx_offload_failed.fetch_add(sw.failed as u64, Relaxed);
        }
        if sw.gso_packets > 0 {
            self.tx_gso_segmented
                .fetch_add(sw.gso_packets as u64, Relaxed);
        }
        if sw.csums > 0 {
            self.tx_csum_completed.fetch_add(sw.csums as u64, Relaxed);
        }
        let mut x = self.queue(qid);
        let (queued, refused) = x.queue_tx(packets.iter().map(|p| p.data()));
        // Copy mode moves a bounded batch per kick: keep kicking while
        // the ring holds frames (and again on the next receive call).
        x.kick_tx(queued / 16 + 2);
        drop(x);
        for p in packets.drain(..) {
            pool.put(p);
        }
        self.tx_packets.fetch_add(queued as u64, Relaxed);
        if refused > 0 {
            self.tx_dropped.fetch_add(refused as u64, Relaxed);
        }
        Ok(queued as usize)
    }

    fn tx_pending(&self) -> bool {
        self.queues.iter().any(|q| match q.try_lock() {
            Ok(x) => x.tx_outstanding > 0,
            // Someone is using the queue right now: it will be kicked.
            Err(_) => false,
        })
    }

    fn rx_fd(&self, qid: usize) -> Option<RawFd> {
        self.fds.get(qid).copied()
    }

    fn drops(&self) -> DeviceDrops {
        // The kernel's own counts: frames it could not place (ring full,
        // or too large for a chunk, as a GSO frame in generic mode).
        let kernel: u64 = self
            .fds
            .iter()
            .map(|&fd| {
                let st = xsk::statistics(fd);
                st.rx_dropped + st.rx_ring_full
            })
            .sum();
        DeviceDrops {
            rx_invalid: self.rx_invalid.load(Relaxed),
            rx_ring_full: kernel,
            tx_dropped: self.tx_dropped.load(Relaxed),
            tx_offload_failed: self.tx_offload_failed.load(Relaxed),
        }
    }
}
