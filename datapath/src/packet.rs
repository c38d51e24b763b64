//! Packet buffers ([`DpPacket`]) and their per-packet metadata.
//!
//! A `DpPacket` is one heap block (a pointer, so moving it between batches
//! costs 8 bytes) holding the metadata, header offsets found by extraction
//! and a byte buffer with headroom in front of the frame, so that pushing a
//! VLAN tag or an encapsulation moves the start pointer instead of copying
//! the packet. Buffers are recycled through a [`PacketPool`]: in steady
//! state the fast path allocates nothing. Resetting metadata on receive
//! touches only the small fields (Geneve option bytes are left in place,
//! guarded by their length). Checksum and segmentation offload state
//! ([`Offload`], from a vnet header) rides along with the frame.

use crate::offload::Offload;

/// Bytes reserved in front of the frame for pushes (at least; see
/// [`FRAME_ALIGN`]).
pub const HEADROOM: usize = 128;
/// A received or copied frame starts on a cache line boundary (the
/// headroom grows by up to 63 bytes to get there), so that the headers of a
/// small frame are one cache line, not two.
pub const FRAME_ALIGN: usize = 64;

/// A zeroed buffer with room for `room` frame bytes after an aligned head.
fn new_buf(room: usize) -> Box<[u8]> {
    vec![0u8; HEADROOM + FRAME_ALIGN - 1 + room].into_boxed_slice()
}

/// Where a frame starts in `buf`: after the headroom, on the next cache
/// line boundary.
#[inline]
fn frame_start(buf: &[u8]) -> usize {
    let pad = (buf.as_ptr() as usize + HEADROOM).wrapping_neg() & (FRAME_ALIGN - 1);
    (HEADROOM + pad).min(buf.len())
}
/// Default room for the frame itself (a 1500-byte MTU frame with tags).
pub const DEFAULT_FRAME_ROOM: usize = 2048;
/// Offset value meaning "header not present".
pub const NO_OFFSET: u16 = u16::MAX;

/// Tunnel metadata (the outer header of a decapsulated packet, or what an
/// encapsulation will use). A tunnel is present when a destination is set.
///
/// `repr(C)`, small fields first: what receive resets and extraction reads
/// is contiguous, ahead of the Geneve option bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct TunnelMd {
    pub ipv6_src: u128,
    pub ipv6_dst: u128,
    pub id: u64,
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    pub tos: u8,
    pub ttl: u8,
    /// Tunnel flags (OAM, CSUM, KEY, ...), as OVS's FLOW_TNL_F_*.
    pub flags: u16,
    pub tp_src: u16,
    pub tp_dst: u16,
    /// Length of `geneve_opts` in use (a multiple of 4, at most 252).
    pub geneve_len: u8,
    pub geneve_opts: [u8; 252],
}

impl Default for TunnelMd {
    fn default() -> Self {
        TunnelMd {
            id: 0,
            ipv4_src: 0,
            ipv4_dst: 0,
            ipv6_src: 0,
            ipv6_dst: 0,
            tos: 0,
            ttl: 0,
            flags: 0,
            tp_src: 0,
            tp_dst: 0,
            geneve_len: 0,
            geneve_opts: [0; 252],
        }
    }
}

impl TunnelMd {
    #[inline]
    pub fn is_set(&self) -> bool {
        self.ipv4_dst != 0 || self.ipv6_dst != 0
    }
    /// The Geneve options in use.
    pub fn geneve(&self) -> &[u8] {
        &self.geneve_opts[..(self.geneve_len as usize).min(252)]
    }
    #[inline]
    fn reset(&mut self) {
        self.id = 0;
        self.ipv4_src = 0;
        self.ipv4_dst = 0;
        self.ipv6_src = 0;
        self.ipv6_dst = 0;
        self.tos = 0;
        self.ttl = 0;
        self.flags = 0;
        self.tp_src = 0;
        self.tp_dst = 0;
        self.geneve_len = 0;
    }
}

/// Connection tracking results attached to a packet (`repr(C)`: the fields
/// extraction always reads come first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CtMd {
    /// CS_* bits (new, established, related, reply, invalid, tracked, ...).
    pub state: u16,
    pub zone: u16,
    pub mark: u32,
    pub label: u128,
    /// Original direction tuple of the connection.
    pub orig: CtTuple,
}

/// The original-direction 5-tuple of a tracked connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CtTuple {
    pub ipv6_src: u128,
    pub ipv6_dst: u128,
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    pub tp_src: u16,
    pub tp_dst: u16,
    pub nw_proto: u8,
}

/// Packet type of an Ethernet frame (namespace 0, type 0).
pub const PT_ETH: u32 = 0;
/// Packet type namespace of L3 packets: the type is an EtherType.
pub const PT_NS_ETHERTYPE: u32 = 1;

/// The packet type of an L3 packet of this EtherType.
#[inline]
pub const fn pt_l3(ethertype: u16) -> u32 {
    (PT_NS_ETHERTYPE << 16) | ethertype as u32
}

/// Per-packet metadata (what the key holds besides the headers).
///
/// `repr(C)` in this order (scalars, conntrack, tunnel with its option
/// bytes last) so that everything receive resets and extraction reads
/// lies in the first four cache lines of the packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct PktMetadata {
    pub in_port: u32,
    pub recirc_id: u32,
    pub dp_hash: u32,
    pub skb_priority: u32,
    pub pkt_mark: u32,
    /// OpenFlow packet type `(ns << 16) | type`: [`PT_ETH`] (zero, an
    /// Ethernet frame) or `(1, EtherType)` for an L3 packet with no
    /// Ethernet header (from a `legacy_l3` GRE port or after `pop_eth`).
    pub packet_type: u32,
    pub ct: CtMd,
    pub tunnel: TunnelMd,
}

impl PktMetadata {
    /// Clears everything for a packet received on `in_port`.
    #[inline]
    pub fn reset(&mut self, in_port: u32) {
        self.in_port = in_port;
        self.recirc_id = 0;
        self.dp_hash = 0;
        self.skb_priority = 0;
        self.pkt_mark = 0;
        self.packet_type = PT_ETH;
        self.ct = CtMd::default();
        self.tunnel.reset();
    }
}

/// Header offsets found by flow extraction (relative to the frame start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// First byte after the Ethernet header and VLAN tags (EtherType
    /// payload: MPLS stack or L3).
    pub l2_5: u16,
    pub l3: u16,
    pub l4: u16,
}

impl Default for Offsets {
    fn default() -> Self {
        Offsets {
            l2_5: NO_OFFSET,
            l3: NO_OFFSET,
            l4: NO_OFFSET,
        }
    }
}

/// `repr(C)`: the buffer bounds and offsets, then the metadata's hot
/// fields, share the first cache line.
///
/// Invariant of `md_dirty`: when it is false, every metadata field except
/// `in_port` is zero. It is set by every mutable access to the metadata
/// ([`DpPacket::md_mut`]) and cleared by a full reset, so a packet whose
/// metadata nobody touched since its last receive is reset by writing
/// `in_port` alone and extracted without reading the conntrack and tunnel
/// lines (three of the four metadata cache lines).
#[repr(C)]
struct Inner {
    head: usize,
    len: usize,
    buf: Box<[u8]>,
    ofs: Offsets,
    /// Checksum and segmentation work still to do (kept by receive from
    /// a vnet header, moved with the frame's bytes by pushes and pulls).
    off: Offload,
    md_dirty: bool,
    md: PktMetadata,
}

/// A packet buffer with headroom and metadata.
pub struct DpPacket(Box<Inner>);

impl std::fmt::Debug for DpPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpPacket")
            .field("len", &self.0.len)
            .field("in_port", &self.0.md.in_port)
            .finish()
    }
}

impl Clone for DpPacket {
    fn clone(&self) -> Self {
        DpPacket(Box::new(Inner {
            md: self.0.md.clone(),
            md_dirty: self.0.md_dirty,
            ofs: self.0.ofs,
            off: self.0.off,
            head: self.0.head,
            len: self.0.len,
            buf: self.0.buf.clone(),
        }))
    }
}

impl DpPacket {
    /// An empty packet with the default room.
    pub fn new() -> DpPacket {
        DpPacket::with_room(DEFAULT_FRAME_ROOM)
    }
    /// An empty packet that can hold `room` bytes of frame after headroom.
    pub fn with_room(room: usize) -> DpPacket {
        let buf = new_buf(room);
        DpPacket(Box::new(Inner {
            md: PktMetadata::default(),
            md_dirty: false,
            ofs: Offsets::default(),
            off: Offload::NONE,
            head: frame_start(&buf),
            len: 0,
            buf,
        }))
    }
    /// A packet holding a copy of `frame` (grows the room if needed).
    pub fn from_bytes(frame: &[u8]) -> DpPacket {
        let mut p = DpPacket::with_room(frame.len().max(DEFAULT_FRAME_ROOM));
        p.set_data(frame);
        p
    }
    /// Replaces the frame with a copy of `frame` (growing the buffer if it
    /// is too small, which only happens for frames above the default room).
    pub fn set_data(&mut self, frame: &[u8]) {
        let i = &mut *self.0;
        if i.buf.len() < HEADROOM + FRAME_ALIGN - 1 + frame.len() {
            i.buf = new_buf(frame.len());
        }
        i.head = frame_start(&i.buf);
        let n = frame.len().min(i.buf.len() - i.head);
        i.buf[i.head..i.head + n].copy_from_slice(&frame[..n]);
        i.len = n;
        i.ofs = Offsets::default();
        i.off = Offload::NONE;
    }
    /// Replaces the frame with `head` followed by `tail` (a segment built
    /// from copied headers and a slice of payload), offload cleared.
    pub fn set_concat(&mut self, head: &[u8], tail: &[u8]) {
        let total = head.len() + tail.len();
        let i = &mut *self.0;
        if i.buf.len() < HEADROOM + FRAME_ALIGN - 1 + total {
            i.buf = new_buf(total.max(DEFAULT_FRAME_ROOM));
        }
        i.head = frame_start(&i.buf);
        let (h, t) = (i.head, i.head + head.len());
        i.buf[h..t].copy_from_slice(head);
        i.buf[t..t + tail.len()].copy_from_slice(tail);
        i.len = total;
        i.ofs = Offsets::default();
        i.off = Offload::NONE;
    }
    /// Makes room for a frame of `len` bytes (growing the buffer if it is
    /// too small) and returns it to be filled; offsets and offload are
    /// cleared. For devices that copy a received frame straight in.
    pub fn frame_for_fill(&mut self, len: usize) -> &mut [u8] {
        let i = &mut *self.0;
        if i.buf.len() < HEADROOM + FRAME_ALIGN - 1 + len {
            i.buf = new_buf(len.max(DEFAULT_FRAME_ROOM));
        }
        i.head = frame_start(&i.buf);
        i.len = len;
        i.ofs = Offsets::default();
        i.off = Offload::NONE;
        &mut i.buf[i.head..i.head + len]
    }
    /// Frame bytes the buffer can hold after its aligned head: what
    /// [`DpPacket::frame_for_fill`] gives without reallocating.
    #[inline]
    pub fn room(&self) -> usize {
        self.0.buf.len().saturating_sub(HEADROOM + FRAME_ALIGN - 1)
    }
    /// Grows the buffer (keeping the frame, moved to a fresh aligned
    /// head) so that it can hold `room` frame bytes; nothing when it can.
    pub fn reserve_room(&mut self, room: usize) {
        if self.room() >= room {
            return;
        }
        let i = &mut *self.0;
        let mut nb = new_buf(room.max(i.len));
        let nh = frame_start(&nb);
        nb[nh..nh + i.len].copy_from_slice(&i.buf[i.head..i.head + i.len]);
        i.buf = nb;
        i.head = nh;
    }
    /// Appends `tail` to the frame, growing the buffer (keeping the frame
    /// and its headroom) when it has no room after the frame.
    pub fn extend(&mut self, tail: &[u8]) {
        let i = &mut *self.0;
        let end = i.head + i.len;
        if i.buf.len() - end < tail.len() {
            let mut nb = new_buf(i.len + tail.len());
            let nh = frame_start(&nb);
            nb[nh..nh + i.len].copy_from_slice(&i.buf[i.head..end]);
            i.buf = nb;
            i.head = nh;
        }
        let end = i.head + i.len;
        i.buf[end..end + tail.len()].copy_from_slice(tail);
        i.len += tail.len();
    }
    /// Checksum and segmentation work the frame still carries.
    #[inline]
    pub fn offload(&self) -> Offload {
        self.0.off
    }
    #[inline]
    pub fn set_offload(&mut self, o: Offload) {
        self.0.off = o;
    }
    /// Hints the CPU to fetch the frame's first cache line (the headers),
    /// for a caller that will parse it soon.
    #[inline(always)]
    pub fn prefetch_frame(&self) {
        crate::emc::prefetch_read(self.0.buf.as_ptr().wrapping_add(self.0.head) as *const i8);
    }
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.0.buf[self.0.head..self.0.head + self.0.len]
    }
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let i = &mut *self.0;
        &mut i.buf[i.head..i.head + i.len]
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
    #[inline]
    pub fn md(&self) -> &PktMetadata {
        &self.0.md
    }
    /// Mutable metadata. Marks the metadata as possibly non-zero, so the
    /// next receive resets all of it and extraction reads all of it.
    #[inline]
    pub fn md_mut(&mut self) -> &mut PktMetadata {
        self.0.md_dirty = true;
        &mut self.0.md
    }
    /// Whether the metadata may hold anything besides `in_port` (false
    /// means: every other field is zero).
    #[inline]
    pub fn md_dirty(&self) -> bool {
        self.0.md_dirty
    }
    /// Resets the metadata for a packet received on `in_port` (the same
    /// result as [`PktMetadata::reset`]); writes only `in_port` when the
    /// metadata is clean.
    #[inline]
    pub fn reset_md(&mut self, in_port: u32) {
        let i = &mut *self.0;
        if i.md_dirty {
            i.md.reset(in_port);
            i.md_dirty = false;
        } else {
            i.md.in_port = in_port;
        }
    }
    #[inline]
    pub fn offsets(&self) -> Offsets {
        self.0.ofs
    }
    #[inline]
    pub fn set_offsets(&mut self, o: Offsets) {
        self.0.ofs = o;
    }
    /// Data and metadata at once (for extraction, which reads one and
    /// writes offsets), with the dirty flag of [`DpPacket::md_dirty`].
    #[inline]
    pub fn parts(&self) -> (&[u8], &PktMetadata, bool) {
        (
            &self.0.buf[self.0.head..self.0.head + self.0.len],
            &self.0.md,
            self.0.md_dirty,
        )
    }
    /// Makes `n` new bytes at the front (from headroom). Returns false if
    /// the headroom is exhausted.
    pub fn push_front(&mut self, n: usize) -> bool {
        let i = &mut *self.0;
        if i.head < n {
            return false;
        }
        i.head -= n;
        i.len += n;
        i.off.shift(0, n as isize);
        true
    }
    /// Drops `n` bytes from the front.
    pub fn pull_front(&mut self, n: usize) -> bool {
        let i = &mut *self.0;
        if i.len < n {
            return false;
        }
        i.head += n;
        i.len -= n;
        i.off.shift(0, -(n as isize));
        true
    }
    /// Inserts `n` zero bytes at offset `at` of the frame, moving the `at`
    /// bytes before it into the headroom (used for tag pushes).
    pub fn insert_gap(&mut self, at: usize, n: usize) -> bool {
        if at > self.0.len || !self.push_front(n) {
            return false;
        }
        let i = &mut *self.0;
        i.buf.copy_within(i.head + n..i.head + n + at, i.head);
        i.buf[i.head + at..i.head + at + n].fill(0);
        // push_front moved the offload's offsets by n; only those after
        // the gap really moved.
        i.off.shift(0, -(n as isize));
        i.off.shift(at, n as isize);
        true
    }
    /// Removes `n` bytes at offset `at`, moving the bytes before it forward.
    pub fn remove_gap(&mut self, at: usize, n: usize) -> bool {
        if at + n > self.0.len {
            return false;
        }
        let i = &mut *self.0;
        i.buf.copy_within(i.head..i.head + at, i.head + n);
        i.head += n;
        i.len -= n;
        i.off.shift(at, -(n as isize));
        true
    }
    /// Shortens the frame to `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.0.len = self.0.len.min(len);
    }
    /// Prepares a recycled buffer for receive: metadata reset, offsets
    /// cleared, frame emptied with full headroom.
    #[inline]
    pub fn reset_for_rx(&mut self, in_port: u32) {
        self.reset_md(in_port);
        let i = &mut *self.0;
        i.ofs = Offsets::default();
        i.off = Offload::NONE;
        i.head = frame_start(&i.buf);
        i.len = 0;
    }
    /// Copies frame and metadata of `self` into `dst` (a recycled buffer).
    pub fn clone_into(&self, dst: &mut DpPacket) {
        dst.set_data(self.data());
        dst.0.md.clone_from(&self.0.md);
        dst.0.md_dirty = self.0.md_dirty;
        dst.0.ofs = self.0.ofs;
        dst.0.off = self.0.off;
    }
}

impl Default for DpPacket {
    fn default() -> Self {
        DpPacket::new()
    }
}

/// A free list of packet buffers, one per PMD thread (no locking).
#[derive(Default)]
pub struct PacketPool {
    free: Vec<DpPacket>,
    cap: usize,
}

impl PacketPool {
    /// A pool keeping at most `cap` free buffers.
    pub fn new(cap: usize) -> PacketPool {
        PacketPool {
            free: Vec::with_capacity(cap),
            cap,
        }
    }
    /// A buffer from the pool, or a new one when it is empty.
    #[inline]
    pub fn get(&mut self) -> DpPacket {
        self.free.pop().unwrap_or_default()
    }
    /// Returns a buffer to the pool (dropped when the pool is full).
    #[inline]
    pub fn put(&mut self, p: DpPacket) {
        if self.free.len() < self.cap {
            self.free.push(p);
        }
    }
    /// A copy of `p` in a recycled buffer.
    #[inline]
    pub fn clone_packet(&mut self, p: &DpPacket) -> DpPacket {
        let mut c = self.get();
        p.clone_into(&mut c);
        c
    }
    pub fn len(&self) -> usize {
        self.free.len()
    }
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_room_keeps_the_frame_and_grows_once() {
        let mut p = DpPacket::from_bytes(&[7u8; 100]);
        assert!(p.room() >= DEFAULT_FRAME_ROOM && p.room() < 4096);
        p.reserve_room(70_000);
        assert!(p.room() >= 70_000);
        assert_eq!(p.data(), &[7u8; 100][..]);
        assert!(p.push_front(HEADROOM), "headroom kept");
        let before = p.data().as_ptr();
        p.reserve_room(1000);
        assert_eq!(p.data().as_ptr(), before, "enough room: nothing moves");
        // A fill of the whole room needs no new buffer.
        let room = p.room();
        assert_eq!(p.frame_for_fill(room).len(), room);
    }

    #[test]
    fn gap_insert_remove() {
        let mut p = DpPacket::from_bytes(&[1, 2, 3, 4, 5, 6]);
        assert!(p.insert_gap(2, 4));
        assert_eq!(p.data(), &[1, 2, 0, 0, 0, 0, 3, 4, 5, 6]);
        assert!(p.remove_gap(2, 4));
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6]);
        assert!(!p.remove_gap(4, 4));
        assert!(!p.insert_gap(7, 1));
        let mut pushed = 0;
        while p.insert_gap(0, 4) {
            pushed += 4;
        }
        // The headroom: at least HEADROOM, plus what aligned the frame.
        assert!(
            (HEADROOM..HEADROOM + FRAME_ALIGN).contains(&pushed),
            "{pushed}"
        );
        assert!(!p.insert_gap(0, 4), "headroom exhausted");
        // A fresh frame starts on a cache line.
        let q = DpPacket::from_bytes(&[9; 60]);
        assert_eq!(q.data().as_ptr() as usize % FRAME_ALIGN, 0);
    }

    #[test]
    fn clone_into_small_buffer_keeps_jumbo_frame() {
        let jumbo = vec![7u8; 9000];
        let p = DpPacket::from_bytes(&jumbo);
        let mut pool = PacketPool::new(4);
        pool.put(DpPacket::new());
        let c = pool.clone_packet(&p);
        assert_eq!(c.data(), &jumbo[..]);
    }
}
