//! Executes action lists on packets, collecting outputs per port.
//!
//! The interpreter owns the packet it runs on: `output` as the last action
//! moves the packet into its port's output list, an earlier `output` (or
//! `clone`, `sample`, a non-final `recirc`) sends a copy made in a pooled
//! buffer. A list that ends without moving the packet drops it (the buffer
//! goes back to the pool). Outputs are only collected here; the PMD sends
//! each port's list as batches when the whole input batch is done.

use super::{eth, mpls, set, vlan, DpAction, HashAlg};
use crate::conntrack::{self, ipf, Conntrack};
use crate::flow::key::{hash_add, hash_finish};
use crate::flow::{extract, layout, FlowKey};
use crate::packet::{DpPacket, PacketPool};
use crate::port_index::PortIndex;
use crate::random::Rng;
use crate::tunnel;
use crate::upcall::UpcallHandler;

/// Meters live in the slow path's configuration; the datapath asks this
/// hook whether a packet passes meter `id`.
pub trait MeterHook: Send + Sync {
    /// True to let the packet continue, false to drop it.
    fn pass(&self, id: u32, pkt_len: usize, now_ms: u64) -> bool;
}

/// Packets waiting to be sent, per datapath port.
///
/// One list per port ever output to (kept with its capacity), found by
/// port number through a [`PortIndex`], and the positions of the lists
/// that got packets since the last [`PortOutputs::drain_pending`]: with
/// thousands of ports, a batch costs what its own outputs cost.
#[derive(Default)]
pub struct PortOutputs {
    slots: Vec<(u32, Vec<DpPacket>)>,
    /// Index of the slot used last (consecutive packets usually share it),
    /// always one in `pending`; out of range after a drain, so that the
    /// first packet after it takes `push_other` and is noted there.
    last: usize,
    index: PortIndex,
    /// Slots that went from empty to non-empty since the last drain.
    pending: Vec<u32>,
}

impl PortOutputs {
    /// Inlined into the fast path (the same port as the last packet, the
    /// common case); another port takes the out-of-line lookup.
    #[inline(always)]
    pub fn push(&mut self, port: u32, p: DpPacket) {
        if let Some((q, v)) = self.slots.get_mut(self.last) {
            if *q == port {
                v.push(p);
                return;
            }
        }
        self.push_other(port, p)
    }

    #[inline(never)]
    fn push_other(&mut self, port: u32, p: DpPacket) {
        let i = match self.index.get(port) {
            Some(i) => i,
            None => {
                self.slots
                    .push((port, Vec::with_capacity(crate::batch::BATCH_SIZE)));
                self.index.set(port, self.slots.len() - 1);
                self.slots.len() - 1
            }
        };
        let v = &mut self.slots[i].1;
        if v.is_empty() {
            self.pending.push(i as u32);
        }
        v.push(p);
        self.last = i;
    }
    /// Calls `f` on each port's list that has packets; `f` must empty it
    /// (lists keep their capacity).
    pub fn drain_pending(&mut self, mut f: impl FnMut(u32, &mut Vec<DpPacket>)) {
        for &i in &self.pending {
            if let Some((port, v)) = self.slots.get_mut(i as usize) {
                if !v.is_empty() {
                    f(*port, v);
                    debug_assert!(v.is_empty(), "output list left with packets");
                }
            }
        }
        self.pending.clear();
        self.last = usize::MAX;
    }
    /// Every (port, packets) pair; lists keep their capacity when drained.
    /// The caller must empty them.
    pub fn slots_mut(&mut self) -> impl Iterator<Item = (u32, &mut Vec<DpPacket>)> {
        self.pending.clear();
        self.last = usize::MAX;
        self.slots.iter_mut().map(|(p, v)| (*p, v))
    }
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|(_, v)| v.is_empty())
    }
}

/// The packet's length without link-layer padding after its IP packet
/// (what OVS's `check_pkt_len` compares: a short IP packet padded to the
/// Ethernet minimum is not "larger").
fn len_without_l2_pad(pkt: &DpPacket) -> usize {
    let d = pkt.data();
    let l3 = pkt.offsets().l3;
    if l3 == crate::packet::NO_OFFSET {
        return d.len();
    }
    let l3 = l3 as usize;
    let ok = match d.get(l3).map(|b| b >> 4) {
        Some(4) => d.len() >= l3 + 20,
        Some(6) => d.len() >= l3 + 40,
        _ => false,
    };
    if ok {
        set::ip_payload_end(d, l3)
    } else {
        d.len()
    }
}

/// What the `ct` action did with a packet.
enum CtStep {
    /// Tracked; the actions continue with it.
    Continue(DpPacket),
    /// A fragment held for reassembly.
    Held,
    /// Packets that continue with the rest of the actions (the fragments
    /// of a reassembled datagram, or refused ones marked `inv`).
    Fragments(Vec<DpPacket>),
}

/// Maximum nesting of clone/sample/check_pkt_len.
pub const MAX_NESTING: u32 = 8;

/// Everything the interpreter needs besides the packet.
pub struct ExecCtx<'a> {
    pub pool: &'a mut PacketPool,
    pub out: &'a mut PortOutputs,
    /// Packets to run through the datapath again (`recirc`).
    pub recirc: &'a mut Vec<DpPacket>,
    pub handler: &'a dyn UpcallHandler,
    pub meter: Option<&'a dyn MeterHook>,
    pub rng: &'a mut Rng,
    pub scratch: &'a mut FlowKey,
    pub now_ms: u64,
    /// The datapath's connection tracker (`ct` actions are skipped, the
    /// packet marked `inv|trk`, without one).
    pub conntrack: Option<&'a Conntrack>,
    /// Packets dropped by meters or failed actions.
    pub dropped: u64,
}

impl ExecCtx<'_> {
    /// Runs `acts` on `pkt` (consumed). A lone `output` (the common
    /// megaflow) skips the interpreter.
    #[inline]
    pub fn execute(&mut self, pkt: DpPacket, acts: &[DpAction]) {
        if let [DpAction::Output(port)] = acts {
            self.out.push(*port, pkt);
            return;
        }
        self.run(pkt, acts, 0, None)
    }

    /// [`ExecCtx::execute`] for a packet whose flow key `key` was just
    /// extracted (its offsets set) and not changed since: a `ct` first
    /// in `acts` uses them instead of extracting the packet again.
    #[inline]
    pub fn execute_extracted(&mut self, pkt: DpPacket, acts: &[DpAction], key: &FlowKey) {
        if let [DpAction::Output(port)] = acts {
            self.out.push(*port, pkt);
            return;
        }
        self.run(pkt, acts, 0, Some(key))
    }

    /// `fresh`: the key of the packet as it is now (valid for the first
    /// action only: any action may change the headers).
    fn run(&mut self, mut pkt: DpPacket, acts: &[DpAction], depth: u32, fresh: Option<&FlowKey>) {
        let n = acts.len();
        let mut fresh = fresh;
        for (i, a) in acts.iter().enumerate() {
            let last = i + 1 == n;
            let key = fresh.take();
            match a {
                DpAction::Output(port) => {
                    if last {
                        self.out.push(*port, pkt);
                        return;
                    }
                    let c = self.pool.clone_packet(&pkt);
                    self.out.push(*port, c);
                }
                DpAction::PushVlan { tpid, tci } => {
                    vlan::push_vlan(&mut pkt, *tpid, *tci);
                }
                DpAction::PopVlan => {
                    vlan::pop_vlan(&mut pkt);
                }
                DpAction::PushEth { src, dst } => {
                    eth::push_eth(&mut pkt, *src, *dst);
                }
                DpAction::PopEth => {
                    eth::pop_eth(&mut pkt);
                }
                DpAction::PushMpls { ethertype, lse } => {
                    mpls::push_mpls(&mut pkt, *ethertype, *lse);
                }
                DpAction::PopMpls(ethertype) => {
                    mpls::pop_mpls(&mut pkt, *ethertype);
                }
                DpAction::Set(s) => set::apply(&mut pkt, s),
                DpAction::Recirc(id) => {
                    if last {
                        pkt.md_mut().recirc_id = *id;
                        self.recirc.push(pkt);
                        return;
                    }
                    let mut c = self.pool.clone_packet(&pkt);
                    c.md_mut().recirc_id = *id;
                    self.recirc.push(c);
                }
                DpAction::Userspace { userdata } => self.handler.userspace(&pkt, userdata),
                DpAction::Clone(sub) => {
                    if depth < MAX_NESTING {
                        let c = self.pool.clone_packet(&pkt);
                        self.run(c, sub, depth + 1, None);
                    }
                }
                DpAction::Hash { alg, basis } => {
                    let h = self.hash_packet(&mut pkt, *alg, *basis);
                    pkt.md_mut().dp_hash = h;
                }
                DpAction::Sample {
                    probability,
                    actions,
                } => {
                    let take = *probability == u32::MAX || self.rng.next_u32() < *probability;
                    if take && depth < MAX_NESTING {
                        if last {
                            self.run(pkt, actions, depth + 1, None);
                            return;
                        }
                        let c = self.pool.clone_packet(&pkt);
                        self.run(c, actions, depth + 1, None);
                    }
                }
                DpAction::CheckPktLen { max_len, gt, le } => {
                    if depth >= MAX_NESTING {
                        continue;
                    }
                    let branch = if len_without_l2_pad(&pkt) > *max_len as usize {
                        gt
                    } else {
                        le
                    };
                    if last {
                        self.run(pkt, branch, depth + 1, None);
                        return;
                    }
                    let c = self.pool.clone_packet(&pkt);
                    self.run(c, branch, depth + 1, None);
                }
                DpAction::TunnelPush(t) => {
                    if last {
                        // OVS: a push whose result nobody uses is skipped.
                        break;
                    }
                    let hash = match pkt.md().dp_hash {
                        0 => self.hash_packet(&mut pkt, HashAlg::L4, 0),
                        h => h,
                    };
                    if pkt.offload().is_gso() {
                        self.push_segments(pkt, t, hash, &acts[i + 1..], depth);
                        return;
                    }
                    if let Err(e) = tunnel::push::push(&mut pkt, t, hash) {
                        tunnel::TNL_DROPS.count(e);
                        self.dropped += 1;
                        self.pool.put(pkt);
                        return;
                    }
                }
                DpAction::TunnelPop(p) => {
                    if last {
                        self.tunnel_pop(pkt, *p);
                        return;
                    }
                    let c = self.pool.clone_packet(&pkt);
                    self.tunnel_pop(c, *p);
                }
                DpAction::Ct(a) => match self.conntrack(pkt, a, key) {
                    CtStep::Continue(p) => pkt = p,
                    CtStep::Held => return,
                    CtStep::Fragments(frags) => {
                        for f in frags {
                            self.run(f, &acts[i + 1..], depth, None);
                        }
                        return;
                    }
                },
                DpAction::CtClear => conntrack::clear(&mut pkt),
                DpAction::Meter(id) => {
                    if let Some(m) = self.meter {
                        if !m.pass(*id, pkt.len(), self.now_ms) {
                            self.dropped += 1;
                            self.pool.put(pkt);
                            return;
                        }
                    }
                }
            }
        }
        self.pool.put(pkt);
    }

    /// A GSO packet cannot be segmented once encapsulated (ports take one
    /// header chain), so it is cut into segments here, each encapsulated
    /// and run through the rest of the actions. All share the flow hash.
    #[cold]
    fn push_segments(
        &mut self,
        pkt: DpPacket,
        t: &tunnel::TnlPush,
        hash: u32,
        rest: &[DpAction],
        depth: u32,
    ) {
        let mut segs = Vec::new();
        let r = crate::offload::gso::segment(&pkt, self.pool, &mut segs);
        self.pool.put(pkt);
        if r.is_err() {
            tunnel::TNL_DROPS.count(tunnel::TnlError::Offload);
            self.dropped += 1;
            return;
        }
        for mut s in segs {
            match tunnel::push::push(&mut s, t, hash) {
                Ok(()) => self.run(s, rest, depth, None),
                Err(e) => {
                    tunnel::TNL_DROPS.count(e);
                    self.dropped += 1;
                    self.pool.put(s);
                }
            }
        }
    }

    /// Decapsulates `pkt` and queues it for recirculation from the tunnel
    /// port (its recirc_id unchanged), or drops and counts it.
    fn tunnel_pop(&mut self, mut pkt: DpPacket, p: tunnel::TnlPop) {
        match tunnel::pop::pop(&mut pkt, p.kind) {
            Ok(()) => {
                pkt.md_mut().in_port = p.port;
                self.recirc.push(pkt);
            }
            Err(e) => {
                tunnel::TNL_DROPS.count(e);
                self.dropped += 1;
                self.pool.put(pkt);
            }
        }
    }

    /// Runs the packet through the tracker. Offsets are re-extracted, as
    /// earlier actions may have moved headers (unless `fresh`, the key
    /// extracted with them, says they are current). An IPv4 or IPv6 fragment is
    /// held for reassembly; the datagram it completes is tracked whole and
    /// its fragments continue with its verdict (and its NAT translation).
    fn conntrack(
        &mut self,
        mut pkt: DpPacket,
        a: &conntrack::CtAction,
        fresh: Option<&FlowKey>,
    ) -> CtStep {
        let k = match fresh {
            Some(k) => k,
            None => {
                extract(&mut pkt, self.scratch);
                &*self.scratch
            }
        };
        let dl_type = k.get(layout::DL_TYPE);
        let frag = k.get(layout::NW_FRAG) != 0;
        let (ip, v6) = (dl_type == 0x0800 || dl_type == 0x86dd, dl_type == 0x86dd);
        let Some(ct) = self.conntrack else {
            let md = &mut pkt.md_mut().ct;
            md.state = conntrack::CS_INVALID | conntrack::CS_TRACKED;
            md.zone = a.zone;
            return CtStep::Continue(pkt);
        };
        if !(frag && ip && ct.ipf().enabled_for(v6)) {
            ct.execute(&mut pkt, ip, v6, a, self.now_ms, self.rng);
            return CtStep::Continue(pkt);
        }
        self.conntrack_fragment(ct, pkt, a)
    }

    #[cold]
    fn conntrack_fragment(
        &mut self,
        ct: &Conntrack,
        pkt: DpPacket,
        a: &conntrack::CtAction,
    ) -> CtStep {
        let l3 = pkt.offsets().l3 as usize;
        match ct.ipf().add(pkt, l3, a.zone, self.now_ms) {
            ipf::FragResult::Held => CtStep::Held,
            ipf::FragResult::Invalid(mut v) => {
                for p in &mut v {
                    let md = &mut p.md_mut().ct;
                    md.state = conntrack::CS_INVALID | conntrack::CS_TRACKED;
                    md.zone = a.zone;
                }
                CtStep::Fragments(v)
            }
            ipf::FragResult::Complete(mut whole, mut frags) => {
                extract(&mut whole, self.scratch);
                let v6 = self.scratch.get(layout::DL_TYPE) == 0x86dd;
                ct.execute(&mut whole, true, v6, a, self.now_ms, self.rng);
                let md = whole.md().ct;
                if md.state & (conntrack::CS_SRC_NAT | conntrack::CS_DST_NAT) != 0 {
                    ipf::translate_fragments(&whole, &mut frags, l3);
                }
                for f in &mut frags {
                    f.md_mut().ct = md;
                }
                self.pool.put(whole);
                CtStep::Fragments(frags)
            }
        }
    }

    /// dp_hash of the packet's current headers (re-extracted, since earlier
    /// actions may have changed them).
    fn hash_packet(&mut self, pkt: &mut DpPacket, alg: HashAlg, basis: u32) -> u32 {
        extract(pkt, self.scratch);
        let k = &*self.scratch;
        let (src, dst) = if k.get(layout::DL_TYPE) == 0x86dd {
            (
                k.get(layout::IPV6_SRC_HI) ^ k.get(layout::IPV6_SRC_LO),
                k.get(layout::IPV6_DST_HI) ^ k.get(layout::IPV6_DST_LO),
            )
        } else {
            (k.get(layout::NW_SRC), k.get(layout::NW_DST))
        };
        let (sp, dp) = (k.get(layout::TP_SRC), k.get(layout::TP_DST));
        let proto = k.get(layout::NW_PROTO);
        let (a, b) = match alg {
            HashAlg::L4 => (src << 16 | sp, dst << 16 | dp),
            HashAlg::SymL4 => {
                let x = src << 16 | sp;
                let y = dst << 16 | dp;
                (x.min(y), x.max(y))
            }
        };
        let h = hash_add(hash_add(hash_add(basis as u64, a), b), proto);
        // dp_hash 0 means "not computed" in OVS; avoid it.
        hash_finish(h).max(1)
    }
}
