//! One AF_XDP socket with its own UMEM and its four rings.
//!
//! The UMEM is one anonymous mapping cut into [`FRAME_SIZE`] chunks; each
//! chunk is owned by exactly one party at a time: the free list (user
//! space), the fill ring or the receive path (kernel, until a receive
//! descriptor gives it back), or the transmit ring (kernel, until the
//! completion ring gives it back). Rings are single-producer,
//! single-consumer arrays of a power-of-two size shared with the kernel:
//! the producer writes entries, then publishes its index with a release
//! store; the consumer reads the other side's index with an acquire load.
//! Local copies of both indexes save loads of the shared ones.
//!
//! Receive copies each frame into a pooled buffer and returns its chunk to
//! the free list; the fill ring is topped up from the free list on every
//! receive call, as far as it has room (a partial refill leaves the rest
//! on the free list for the next call). Transmit copies frames into free
//! chunks, and kicks the kernel (`sendto`) while the transmit ring still
//! holds frames it has not taken: in copy mode each kick moves a bounded
//! number of frames, so the kick is repeated, and every receive call kicks
//! again while anything is outstanding.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering::Acquire, Ordering::Release};

use super::super::sys::{self, Mmap};

pub const SOL_XDP: i32 = 283;
const XDP_MMAP_OFFSETS: i32 = 1;
const XDP_RX_RING: i32 = 2;
const XDP_TX_RING: i32 = 3;
const XDP_UMEM_REG: i32 = 4;
const XDP_UMEM_FILL_RING: i32 = 5;
const XDP_UMEM_COMPLETION_RING: i32 = 6;
pub const XDP_STATISTICS: i32 = 7;
const XDP_PGOFF_RX_RING: i64 = 0;
const XDP_PGOFF_TX_RING: i64 = 0x8000_0000;
const XDP_UMEM_PGOFF_FILL_RING: i64 = 0x1_0000_0000;
const XDP_UMEM_PGOFF_COMPLETION_RING: i64 = 0x1_8000_0000;
pub const XDP_COPY: u16 = 1 << 1;
pub const XDP_ZEROCOPY: u16 = 1 << 2;
pub const XDP_USE_NEED_WAKEUP: u16 = 1 << 3;
/// Multi-buffer: a frame larger than a chunk arrives as a chain of
/// descriptors (all but the last flagged [`XDP_PKT_CONTD`]).
pub const XDP_USE_SG: u16 = 1 << 4;
/// Descriptor option: more pieces of this frame follow.
pub const XDP_PKT_CONTD: u32 = 1;
/// Most pieces one received frame may have (a 64 KiB frame in 4 KiB
/// chunks is 17).
pub const MAX_PIECES: usize = 32;
const XDP_RING_NEED_WAKEUP: u32 = 1;

/// Size of a UMEM chunk (one frame).
pub const FRAME_SIZE: u32 = 4096;
/// Chunks per socket (16 MiB of UMEM).
pub const N_FRAMES: u32 = 4096;
/// Entries of each ring.
pub const RING_SIZE: u32 = 2048;

#[repr(C)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
    tx_metadata_len: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RingOffset {
    producer: u64,
    consumer: u64,
    desc: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct MmapOffsets {
    rx: RingOffset,
    tx: RingOffset,
    fr: RingOffset,
    cr: RingOffset,
}

/// A receive or transmit descriptor (`struct xdp_desc`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpDesc {
    pub addr: u64,
    pub len: u32,
    pub options: u32,
}

/// Why a descriptor from the kernel was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DescError {
    #[error("descriptor outside the UMEM")]
    OutOfUmem,
    #[error("descriptor crosses its chunk")]
    CrossesChunk,
    #[error("frame of too many pieces")]
    TooManyPieces,
}

/// Checks a receive descriptor against a UMEM of `umem_len` bytes cut
/// into `frame` chunks: the bytes it names must lie in one chunk. Returns
/// the byte range in the UMEM.
pub fn check_desc(d: &XdpDesc, umem_len: u64, frame: u32) -> Result<(usize, usize), DescError> {
    let end = d
        .addr
        .checked_add(d.len as u64)
        .ok_or(DescError::OutOfUmem)?;
    if end > umem_len {
        return Err(DescError::OutOfUmem);
    }
    if (d.addr % frame as u64) + d.len as u64 > frame as u64 {
        return Err(DescError::CrossesChunk);
    }
    Ok((d.addr as usize, end as usize))
}

/// One mapped ring of entries of type `T`.
struct Ring<T> {
    _map: Mmap,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    entries: *mut T,
    mask: u32,
    /// Our side's index (producer for fill/tx, consumer for rx/completion).
    local: u32,
    /// Last seen index of the other side.
    other: u32,
}

// SAFETY: the raw pointers point into the ring's own mapping, owned by
// the ring; a ring is used by one thread at a time (behind the queue's
// mutex).
unsafe impl<T> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    fn map(fd: RawFd, off: &RingOffset, pgoff: i64, size: u32) -> io::Result<Ring<T>> {
        let len = off.desc as usize + size as usize * std::mem::size_of::<T>();
        let m = Mmap::new(fd, len, pgoff)?;
        let base = m.ptr;
        // SAFETY: the offsets come from XDP_MMAP_OFFSETS for this mapping
        // and lie inside it; the index words are 4-byte aligned.
        let (producer, consumer, flags, entries) = unsafe {
            (
                base.add(off.producer as usize) as *const AtomicU32,
                base.add(off.consumer as usize) as *const AtomicU32,
                base.add(off.flags as usize) as *const AtomicU32,
                base.add(off.desc as usize) as *mut T,
            )
        };
        Ok(Ring {
            _map: m,
            producer,
            consumer,
            flags,
            entries,
            mask: size - 1,
            local: 0,
            other: 0,
        })
    }
    fn prod(&self) -> &AtomicU32 {
        // SAFETY: points into the live mapping (see `map`).
        unsafe { &*self.producer }
    }
    fn cons(&self) -> &AtomicU32 {
        // SAFETY: as above.
        unsafe { &*self.consumer }
    }
    fn needs_wakeup(&self) -> bool {
        // SAFETY: as above.
        unsafe { &*self.flags }.load(Acquire) & XDP_RING_NEED_WAKEUP != 0
    }
    fn entry(&self, idx: u32) -> *mut T {
        // SAFETY: masked index inside the entry array.
        unsafe { self.entries.add((idx & self.mask) as usize) }
    }

    // --- producer side (fill, tx) ---

    /// Free entries, refreshing the consumer index only when needed.
    fn free(&mut self, want: u32) -> u32 {
        let size = self.mask + 1;
        let mut free = size - self.local.wrapping_sub(self.other);
        if free < want {
            self.other = self.cons().load(Acquire);
            free = size - self.local.wrapping_sub(self.other);
        }
        free
    }
    fn push(&mut self, v: T) {
        // SAFETY: the caller checked `free`, so this entry is ours.
        unsafe { self.entry(self.local).write(v) };
        self.local = self.local.wrapping_add(1);
    }
    fn submit(&self) {
        self.prod().store(self.local, Release);
    }
    /// Entries produced that the kernel has not consumed yet.
    fn unconsumed(&mut self) -> u32 {
        self.other = self.cons().load(Acquire);
        self.local.wrapping_sub(self.other)
    }

    // --- consumer side (rx, completion) ---

    fn available(&mut self, max: u32) -> u32 {
        let mut n = self.other.wrapping_sub(self.local);
        if n == 0 {
            self.other = self.prod().load(Acquire);
            n = self.other.wrapping_sub(self.local);
        }
        n.min(max)
    }
    fn read(&self, i: u32) -> T {
        // SAFETY: entries local..local+available were published by the
        // kernel (acquire load of its producer index).
        unsafe { self.entry(self.local.wrapping_add(i)).read() }
    }
    fn release(&mut self, n: u32) {
        self.local = self.local.wrapping_add(n);
        self.cons().store(self.local, Release);
    }
}

pub struct Xsk {
    pub fd: OwnedFd,
    umem: Mmap,
    fill: Ring<u64>,
    comp: Ring<u64>,
    rx: Ring<XdpDesc>,
    tx: Ring<XdpDesc>,
    free: Vec<u64>,
    need_wakeup: bool,
    /// Frames handed to the transmit ring and not yet completed.
    pub tx_outstanding: u32,
}

impl Xsk {
    /// Creates a socket with its UMEM and rings (not bound yet).
    pub fn new() -> io::Result<Xsk> {
        let fd = sys::socket(libc::AF_XDP, libc::SOCK_RAW, 0)?;
        let raw = fd.as_raw_fd();
        let umem_len = (N_FRAMES * FRAME_SIZE) as usize;
        // SAFETY: an anonymous private mapping; owned by `Mmap` below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                umem_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let umem = Mmap {
            ptr: p as *mut u8,
            len: umem_len,
        };
        let reg = UmemReg {
            addr: umem.ptr as u64,
            len: umem_len as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        sys::setsockopt(raw, SOL_XDP, XDP_UMEM_REG, &reg)?;
        for opt in [
            XDP_UMEM_FILL_RING,
            XDP_UMEM_COMPLETION_RING,
            XDP_RX_RING,
            XDP_TX_RING,
        ] {
            sys::setsockopt(raw, SOL_XDP, opt, &RING_SIZE)?;
        }
        let mut off = MmapOffsets::default();
        sys::getsockopt(raw, SOL_XDP, XDP_MMAP_OFFSETS, &mut off)?;
        let fill = Ring::map(raw, &off.fr, XDP_UMEM_PGOFF_FILL_RING, RING_SIZE)?;
        let comp = Ring::map(raw, &off.cr, XDP_UMEM_PGOFF_COMPLETION_RING, RING_SIZE)?;
        let rx = Ring::map(raw, &off.rx, XDP_PGOFF_RX_RING, RING_SIZE)?;
        let tx = Ring::map(raw, &off.tx, XDP_PGOFF_TX_RING, RING_SIZE)?;
        let free = (0..N_FRAMES)
            .rev()
            .map(|i| (i * FRAME_SIZE) as u64)
            .collect();
        let mut x = Xsk {
            fd,
            umem,
            fill,
            comp,
            rx,
            tx,
            free,
            need_wakeup: false,
            tx_outstanding: 0,
        };
        // Half the chunks wait in the fill ring for received frames; the
        // other half are for transmit.
        x.refill(N_FRAMES / 2);
        Ok(x)
    }

    /// Binds to queue `qid` of `ifindex` with `flags` (copy/zero-copy,
    /// need-wakeup).
    pub fn bind(&mut self, ifindex: i32, qid: u32, flags: u16) -> io::Result<()> {
        // SAFETY: sockaddr_xdp is plain old data.
        let mut sa: libc::sockaddr_xdp = unsafe { std::mem::zeroed() };
        sa.sxdp_family = libc::AF_XDP as u16;
        sa.sxdp_flags = flags;
        sa.sxdp_ifindex = ifindex as u32;
        sa.sxdp_queue_id = qid;
        // SAFETY: `sa` is a valid sockaddr_xdp of the size passed.
        let r = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                &sa as *const libc::sockaddr_xdp as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_xdp>() as u32,
            )
        };
        sys::check(r as _)?;
        self.need_wakeup = flags & XDP_USE_NEED_WAKEUP != 0;
        Ok(())
    }

    /// Moves up to `max` free chunks into the fill ring (as many as it has
    /// room for). Returns how many.
    pub fn refill(&mut self, max: u32) -> u32 {
        let n = self.fill.free(max).min(max).min(self.free.len() as u32);
        for _ in 0..n {
            let a = self.free.pop().expect("counted above");
            self.fill.push(a);
        }
        if n > 0 {
            self.fill.submit();
        }
        n
    }

    /// Receives up to `max` frames, calling `take` with each frame as the
    /// list of its pieces (one per descriptor: several for a multi-buffer
    /// frame), or with the error of its first bad descriptor (the frame is
    /// dropped). A chain the kernel has not finished publishing is left
    /// for the next call. Refills the fill ring afterwards.
    pub fn recv(&mut self, max: u32, mut take: impl FnMut(Result<&[&[u8]], DescError>)) -> u32 {
        let avail = self.rx.available(RING_SIZE);
        let (mut used, mut frames) = (0u32, 0u32);
        let mut pieces: [&[u8]; MAX_PIECES] = [&[]; MAX_PIECES];
        'frames: while used < avail && frames < max {
            // The chain used..end is one frame.
            let mut end = used;
            loop {
                if end >= avail {
                    break 'frames;
                }
                let d = self.rx.read(end);
                end += 1;
                if d.options & XDP_PKT_CONTD == 0 {
                    break;
                }
            }
            let mut np = 0;
            let mut err = None;
            for i in used..end {
                let d = self.rx.read(i);
                match check_desc(&d, self.umem.len as u64, FRAME_SIZE) {
                    Ok((s, e)) if np < MAX_PIECES => {
                        // SAFETY: s..e lies inside the UMEM (checked), and
                        // the chunk is ours until `take` returns (it goes
                        // to the free list, refilled only after).
                        pieces[np] =
                            unsafe { std::slice::from_raw_parts(self.umem.ptr.add(s), e - s) };
                        np += 1;
                    }
                    Ok(_) => err = err.or(Some(DescError::TooManyPieces)),
                    Err(e) => err = err.or(Some(e)),
                }
                if d.addr < self.umem.len as u64 {
                    self.free.push(d.addr - d.addr % FRAME_SIZE as u64);
                }
            }
            match err {
                None => take(Ok(&pieces[..np])),
                Some(e) => take(Err(e)),
            }
            used = end;
            frames += 1;
        }
        if used > 0 {
            self.rx.release(used);
        }
        let room = N_FRAMES; // refill as far as the fill ring has room
        self.refill(room);
        if self.need_wakeup && self.fill.needs_wakeup() {
            self.wake_rx();
        }
        frames
    }

    fn wake_rx(&self) {
        // SAFETY: a zero-length non-blocking receive on our socket: the
        // kernel's cue to look at the fill ring again.
        unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
    }

    /// Takes back the chunks of completed transmissions.
    pub fn reclaim(&mut self) {
        let n = self.comp.available(RING_SIZE);
        for i in 0..n {
            let a = self.comp.read(i);
            if a < self.umem.len as u64 {
                self.free.push(a - a % FRAME_SIZE as u64);
            }
        }
        if n > 0 {
            self.comp.release(n);
            self.tx_outstanding = self.tx_outstanding.saturating_sub(n);
        }
    }

    /// Queues frames for transmit, each copied into a free chunk; returns
    /// how many were queued (the rest found no chunk or ring entry). The
    /// caller kicks with [`Xsk::kick_tx`].
    pub fn queue_tx<'a>(&mut self, frames: impl Iterator<Item = &'a [u8]>) -> (u32, u32) {
        self.reclaim();
        let (mut queued, mut refused) = (0, 0);
        for f in frames {
            if f.len() > FRAME_SIZE as usize {
                refused += 1;
                continue;
            }
            if self.free.is_empty() || self.tx.free(1) == 0 {
                // Let the kernel drain, then look again once.
                self.tx.submit();
                self.kick_tx_once();
                self.reclaim();
                if self.free.is_empty() || self.tx.free(1) == 0 {
                    refused += 1;
                    continue;
                }
            }
            let a = self.free.pop().expect("checked");
            // SAFETY: the chunk at `a` is ours (from the free list) and
            // holds FRAME_SIZE bytes, at least f.len().
            unsafe {
                std::ptr::copy_nonoverlapping(f.as_ptr(), self.umem.ptr.add(a as usize), f.len());
            }
            self.tx.push(XdpDesc {
                addr: a,
                len: f.len() as u32,
                options: 0,
            });
            queued += 1;
            self.tx_outstanding += 1;
        }
        self.tx.submit();
        (queued, refused)
    }

    fn kick_tx_once(&self) {
        // SAFETY: a zero-length non-blocking send on our socket: the
        // kernel then transmits what the transmit ring holds.
        unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            );
        }
    }

    /// Kicks transmit while the kernel has not taken every queued frame
    /// (each kick moves a bounded batch in copy mode), at most `max_kicks`
    /// times; then reclaims completions.
    pub fn kick_tx(&mut self, max_kicks: u32) {
        for _ in 0..max_kicks {
            if self.tx.unconsumed() == 0 {
                break;
            }
            if !self.need_wakeup || self.tx.needs_wakeup() {
                self.kick_tx_once();
            } else {
                std::hint::spin_loop();
            }
        }
        self.reclaim();
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The kernel's counters of one socket (`struct xdp_statistics`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct XdpStatistics {
    /// Frames dropped for other reasons (e.g. larger than a chunk).
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    /// Frames dropped because the receive ring was full.
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty_descs: u64,
    pub tx_ring_empty_descs: u64,
}

/// Reads the counters of socket `fd`.
pub fn statistics(fd: RawFd) -> XdpStatistics {
    let mut st = XdpStatistics::default();
    let _ = sys::getsockopt(fd, SOL_XDP, XDP_STATISTICS, &mut st);
    st
}
