//! A megaflow: a masked key, its actions and its statistics.
//!
//! Megaflows are shared (`Arc`) between the PMD that classifies with them
//! and the control threads that dump and revalidate them. Everything a PMD
//! changes after install is in [`FlowStats`]: atomics with a single writer
//! (the owning PMD), updated once per group of packets with plain
//! load/store pairs, never a locked read-modify-write. Modifying the
//! actions replaces the `Megaflow` with a new one: it starts from the old
//! one's counters, and the owning PMD, when it swaps the two, carries the
//! old counters over once more (it is their only writer, so nothing is
//! lost), so counters survive a modify. A megaflow is one allocation: the
//! key is packed (its own length), the mask shared between megaflows, the
//! counters inline and a short action list inline, so installing one per
//! new flow costs one allocation and a few cache lines.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use std::ptr::addr_of_mut;

use crate::actions::{move_actions, DpAction, FlowActions};
use crate::flow::key::{hash_add, hash_finish};
use crate::flow::{FlowKey, PackedKey};

/// Unique flow id, as OVS's UFID (128 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ufid(pub u128);

impl Ufid {
    /// The UFID derived from a masked key and its mask.
    pub fn of(key: &FlowKey, mask: &FlowKey) -> Ufid {
        Ufid::of_with(key, mask, Ufid::mask_part(mask))
    }
    /// The part of [`Ufid::of`] that depends on the mask alone (a PMD
    /// keeps it with a mask it sees again and again).
    pub fn mask_part(mask: &FlowKey) -> u64 {
        let mut b = hash_add(0xfeed, mask.map());
        for &w in mask.words() {
            b = hash_add(b, w);
        }
        b
    }
    /// [`Ufid::of`] with `b = Ufid::mask_part(mask)` already known.
    pub fn of_with(key: &FlowKey, mask: &FlowKey, b: u64) -> Ufid {
        let mut a = hash_add(0x5eed, key.map());
        for &w in key.words() {
            a = hash_add(a, w);
        }
        for &w in mask.words() {
            a = hash_add(a, w);
        }
        let hi = (hash_finish(a) as u64) << 32 | hash_finish(a ^ b.rotate_left(17)) as u64;
        let lo = (hash_finish(b) as u64) << 32 | hash_finish(b ^ a.rotate_left(9)) as u64;
        Ufid((hi as u128) << 64 | lo as u128)
    }
}

/// Hasher for maps keyed by [`Ufid`]: a UFID is already a hash, so its
/// low 64 bits are used as they are (SipHash would cost more than the
/// rest of a flow install's map work).
#[derive(Default, Clone, Copy)]
pub struct UfidHasher(u64);

impl std::hash::Hasher for UfidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= v as u64 ^ (v >> 64) as u64;
    }
}

pub type UfidMap<V> = std::collections::HashMap<Ufid, V, std::hash::BuildHasherDefault<UfidHasher>>;

/// Counters of one megaflow.
#[derive(Debug, Default)]
pub struct FlowStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    /// Milliseconds on the datapath clock, 0 = never.
    used: AtomicU64,
    tcp_flags: AtomicU16,
}

/// A copy of the counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlowStatsSnapshot {
    pub packets: u64,
    pub bytes: u64,
    pub used_ms: u64,
    pub tcp_flags: u16,
}

impl FlowStats {
    /// Adds a group of packets. Only the owning PMD calls this.
    #[inline]
    pub fn add(&self, packets: u64, bytes: u64, tcp_flags: u16, now_ms: u64) {
        self.packets
            .store(self.packets.load(Relaxed) + packets, Relaxed);
        self.bytes.store(self.bytes.load(Relaxed) + bytes, Relaxed);
        self.used.store(now_ms, Relaxed);
        if tcp_flags != 0 {
            self.tcp_flags
                .store(self.tcp_flags.load(Relaxed) | tcp_flags, Relaxed);
        }
    }
    /// Counters starting at `s`.
    pub fn from_snapshot(s: FlowStatsSnapshot) -> FlowStats {
        FlowStats {
            packets: AtomicU64::new(s.packets),
            bytes: AtomicU64::new(s.bytes),
            used: AtomicU64::new(s.used_ms),
            tcp_flags: AtomicU16::new(s.tcp_flags),
        }
    }
    /// Overwrites these counters with `from`'s (the owning PMD, when a
    /// modified megaflow replaces `from`).
    pub(crate) fn carry_from(&self, from: &FlowStats) {
        let s = from.snapshot();
        self.packets.store(s.packets, Relaxed);
        self.bytes.store(s.bytes, Relaxed);
        self.used.store(s.used_ms, Relaxed);
        self.tcp_flags.store(s.tcp_flags, Relaxed);
    }
    pub fn snapshot(&self) -> FlowStatsSnapshot {
        FlowStatsSnapshot {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            used_ms: self.used.load(Relaxed),
            tcp_flags: self.tcp_flags.load(Relaxed),
        }
    }
}

/// An installed megaflow.
#[derive(Debug)]
pub struct Megaflow {
    pub ufid: Ufid,
    /// `key & mask` (only the masked bits are set), at its own length.
    pub key: PackedKey,
    /// Shared by the megaflows a PMD installs with the same mask (a PMD
    /// interns its masks), which keeps a megaflow at about half the size
    /// of two inline keys: the miss path writes that much less memory.
    pub mask: Arc<FlowKey>,
    pub stats: FlowStats,
    pub actions: FlowActions,
    /// The PMD that owns it.
    pub pmd: usize,
    /// in_port the megaflow matches (its classifier).
    pub in_port: u32,
    /// The owning PMD's slot for it (`u32::MAX` until installed); written
    /// and read only by that PMD, so control commands can name a flow by
    /// pointer and the PMD needs no UFID index of its own.
    pub(crate) slot: AtomicU32,
    /// One unit of the datapath's flow limit reserved for it by
    /// `flow_put`: taken by the PMD that installs it, given back if its
    /// install turns out stale, or handed to the version that replaced it
    /// in the master map before it was installed (both under that map's
    /// lock).
    pub(crate) reserved: AtomicBool,
}

impl Megaflow {
    pub fn new(
        ufid: Ufid,
        key: FlowKey,
        mask: FlowKey,
        actions: FlowActions,
        stats: FlowStats,
        pmd: usize,
        in_port: u32,
    ) -> Megaflow {
        Megaflow::with_mask(
            ufid,
            PackedKey::from_key(&key),
            Arc::new(mask),
            actions,
            stats,
            pmd,
            in_port,
        )
    }
    /// [`Megaflow::new`] with a packed key and a shared mask.
    pub fn with_mask(
        ufid: Ufid,
        key: PackedKey,
        mask: Arc<FlowKey>,
        actions: FlowActions,
        stats: FlowStats,
        pmd: usize,
        in_port: u32,
    ) -> Megaflow {
        Megaflow {
            ufid,
            key,
            mask,
            actions,
            stats,
            pmd,
            in_port,
            slot: AtomicU32::new(u32::MAX),
            reserved: AtomicBool::new(false),
        }
    }
    /// The miss path's constructor: builds the megaflow directly in its
    /// allocation, packing `key` (already masked) into it and moving the
    /// actions out of `actions` (left empty with its capacity, it is the
    /// reused upcall reply's vector), so nothing of its ~6 cache lines is
    /// written twice through a copy on the stack.
    pub(crate) fn new_in_place(
        ufid: Ufid,
        key: &FlowKey,
        mask: Arc<FlowKey>,
        actions: &mut Vec<DpAction>,
        pmd: usize,
        in_port: u32,
    ) -> Arc<Megaflow> {
        let mut a = Arc::<Megaflow>::new_uninit();
        let p = Arc::get_mut(&mut a)
            .expect("a new Arc is unique")
            .as_mut_ptr();
        // SAFETY: `p` points to the new, uninitialized megaflow, which no
        // one else can see. Every field is written exactly once through
        // `addr_of_mut!` (no reference to uninitialized memory is made)
        // before `assume_init`; the action list is initialized empty before
        // a reference to it is taken to move the actions in.
        unsafe {
            addr_of_mut!((*p).ufid).write(ufid);
            addr_of_mut!((*p).key).write(PackedKey::from_key(key));
            addr_of_mut!((*p).mask).write(mask);
            addr_of_mut!((*p).stats).write(FlowStats::default());
            let acts = addr_of_mut!((*p).actions);
            acts.write(FlowActions::new());
            move_actions(actions, &mut *acts);
            addr_of_mut!((*p).pmd).write(pmd);
            addr_of_mut!((*p).in_port).write(in_port);
            addr_of_mut!((*p).slot).write(AtomicU32::new(u32::MAX));
            addr_of_mut!((*p).reserved).write(AtomicBool::new(false));
            a.assume_init()
        }
    }
    /// [`Megaflow::new_in_place`] into a recycled megaflow that no one
    /// else holds (its old key, mask and actions are dropped, its
    /// allocation reused: no allocator call, no fresh page).
    pub(crate) fn refill(
        mf: &mut Arc<Megaflow>,
        ufid: Ufid,
        key: &FlowKey,
        mask: Arc<FlowKey>,
        actions: &mut Vec<DpAction>,
        pmd: usize,
        in_port: u32,
    ) {
        let m = Arc::get_mut(mf).expect("a recycled megaflow is unique");
        m.ufid = ufid;
        m.key = PackedKey::from_key(key);
        m.mask = mask;
        m.stats = FlowStats::default();
        move_actions(actions, &mut m.actions);
        m.pmd = pmd;
        m.in_port = in_port;
        *m.slot.get_mut() = u32::MAX;
        *m.reserved.get_mut() = false;
    }
    pub(crate) fn slot(&self) -> u32 {
        self.slot.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::layout::{DL_TYPE, IN_PORT, NW_DST, NW_SRC, TP_SRC};
    use crate::flow::Flow;

    /// `Ufid::of` as it was first written (key and mask chains
    /// interleaved): splitting out the mask half keeps every UFID.
    fn ufid_interleaved(key: &FlowKey, mask: &FlowKey) -> Ufid {
        let mut a = hash_add(0x5eed, key.map());
        let mut b = hash_add(0xfeed, mask.map());
        for &w in key.words() {
            a = hash_add(a, w);
        }
        for &w in mask.words() {
            b = hash_add(b, w);
            a = hash_add(a, w);
        }
        let hi = (hash_finish(a) as u64) << 32 | hash_finish(a ^ b.rotate_left(17)) as u64;
        let lo = (hash_finish(b) as u64) << 32 | hash_finish(b ^ a.rotate_left(9)) as u64;
        Ufid((hi as u128) << 64 | lo as u128)
    }

    #[test]
    fn ufid_with_mask_part_is_the_same_ufid() {
        let mut m = Flow::default();
        m.set_all(IN_PORT);
        m.set_all(DL_TYPE);
        m.set_all(NW_DST);
        m.set(TP_SRC, 1);
        let mask = m.to_key();
        for i in 0..64u64 {
            let mut k = Flow::default();
            k.set(IN_PORT, i % 3 + 1);
            k.set(DL_TYPE, 0x0800);
            k.set(NW_DST, 0xc613_0000 + i * 7);
            k.set(NW_SRC, i);
            k.set(TP_SRC, i & 1);
            let key = k.to_key().masked(&mask);
            let want = ufid_interleaved(&key, &mask);
            assert_eq!(Ufid::of(&key, &mask), want);
            assert_eq!(Ufid::of_with(&key, &mask, Ufid::mask_part(&mask)), want);
        }
    }
}
