//! IPv4 and IPv6 fragment reassembly before tracking (OVS's `ipf`), and
//! the fragments sent on afterwards with the whole datagram's verdict.
//!
//! Fragments of one datagram (zone, addresses, protocol, IP id; for IPv6
//! the fragment header's 32-bit id and next header) are held
//! in a list until offsets 0 to the end (the fragment without MF) are all
//! present; the reassembled datagram is then what the tracker sees, and
//! the held fragments themselves continue through the remaining actions
//! with its conntrack metadata (so no refragmentation is needed: the
//! frames on the wire are the ones that came in). When the tracker
//! translated the datagram (NAT), [`translate_fragments`] carries the
//! translation into the held fragments as OVS does: every fragment takes
//! the new addresses (and a new header checksum), the first one the new
//! transport header (ports or ICMP id, and the checksum computed over the
//! whole translated datagram), so the fragments reassemble at the
//! receiver into exactly the translated datagram.
//!
//! Hostile input is bounded: at most `max_nfrags` fragments held in all
//! (OVS's default [`MAX_FRAGS`], settable up to [`NFRAG_UBOUND`]; a
//! fragment over the limit is tracked as it is, hence `inv`) and
//! [`MAX_PER_LIST`] per datagram; a fragment overlapping one already held
//! is refused alone (marked `inv`, counted as overlapped, as OVS does); a
//! datagram over 65,535 bytes or with an inconsistent end is dropped whole;
//! non-final fragments whose IP packet is smaller than the minimum size
//! (OVS's defaults: 1200 bytes for IPv4, 1280 for IPv6, at least 400) are
//! refused; lists older than [`LIST_TIMEOUT_MS`] are expired by the sweep.
//! Reassembly is switched on and off per family, as OVS's
//! `dpctl/ipf-set-{enabled,disabled} v4|v6`. Counters are kept per family
//! with OVS's meanings (`dpctl/ipf-get-status`). The map has one lock,
//! taken only for fragments.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::packet::DpPacket;
use crate::wire::checksum::checksum;
use crate::wire::{be16, be32, put_be16};

/// OVS's default limit on fragments held in all.
pub const MAX_FRAGS: usize = 1000;
/// The largest `max_nfrags` accepted (OVS's bound).
pub const NFRAG_UBOUND: u32 = 5000;
/// The smallest minimum fragment size accepted, both families (OVS's).
pub const MIN_FRAG_SIZE_LBOUND: u32 = 400;
pub const MAX_PER_LIST: usize = 64;
pub const LIST_TIMEOUT_MS: u64 = 15_000;
pub const DEFAULT_MIN_FRAG_SIZE: u32 = 1200;
pub const DEFAULT_MIN_V6_FRAG_SIZE: u32 = 1280;

/// A datagram's identity (IPv4 addresses in the low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FragKey {
    recirc_id: u32,
    zone: u16,
    v6: bool,
    src: u128,
    dst: u128,
    proto: u8,
    id: u32,
}

/// One held fragment: its place in the datagram and where its payload
/// starts in its frame.
struct Piece {
    off: u32,
    len: u32,
    start: usize,
    pkt: DpPacket,
}

struct FragList {
    frags: Vec<Piece>,
    end: Option<u32>,
    first_seen: u64,
}

/// What happened to a fragment given to [`Ipf::add`].
pub enum FragResult {
    /// Held until the rest arrives.
    Held,
    /// The datagram is complete: the reassembled packet (to track) and
    /// the fragments, in offset order (to send on).
    Complete(DpPacket, Vec<DpPacket>),
    /// Refused (malformed, overlapping, too small, over the limits): the
    /// packet and any held fragments of its datagram, to be marked `inv`.
    Invalid(Vec<DpPacket>),
}

/// One family's counters for `dpctl/ipf-get-status`, with OVS's
/// meanings: fragments accepted into a list, fragments sent on from a
/// completed datagram, fragments of datagrams that timed out (dropped by
/// the sweep), non-final fragments under the minimum size, fragments
/// overlapping one already held, and fragments purged (OVS purges lists
/// stuck after expiry; ferrovs's sweep drops them at once, so this stays
/// 0). `invalid` counts the other refusals (malformed, over 65,535 bytes,
/// inconsistent end), which OVS does not print.
#[derive(Default, Debug)]
pub struct IpfCounters {
    pub accepted: AtomicU64,
    pub completed: AtomicU64,
    pub expired: AtomicU64,
    pub too_small: AtomicU64,
    pub overlapped: AtomicU64,
    pub purged: AtomicU64,
    pub invalid: AtomicU64,
}

/// A setting refused by [`Ipf::set_min_frag`] or [`Ipf::set_max_nfrags`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpfError {
    #[error("minimum fragment size {0} under {MIN_FRAG_SIZE_LBOUND}")]
    MinFragTooSmall(u32),
    #[error("maximum fragments {0} over {NFRAG_UBOUND}")]
    MaxFragsTooLarge(u32),
}

/// A snapshot of one held datagram for `dpctl/ipf-get-status -m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInfo {
    pub v6: bool,
    pub src: u128,
    pub dst: u128,
    pub recirc_id: u32,
    pub ip_id: u32,
    pub zone: u16,
    pub proto: u8,
    pub num_fragments: usize,
    /// The fragment at offset 0 is held.
    pub first_seen: bool,
    /// The fragment without MF is held.
    pub last_seen: bool,
}

pub struct Ipf {
    v4_enabled: AtomicBool,
    v6_enabled: AtomicBool,
    min_frag_size: AtomicU32,
    min_v6_frag_size: AtomicU32,
    max_nfrags: AtomicUsize,
    n_frags: AtomicUsize,
    lists: Mutex<HashMap<FragKey, FragList>>,
    /// IPv4's counters, then IPv6's.
    counters: [IpfCounters; 2],
}

impl Default for Ipf {
    fn default() -> Self {
        Ipf {
            v4_enabled: AtomicBool::new(true),
            v6_enabled: AtomicBool::new(true),
            min_frag_size: AtomicU32::new(DEFAULT_MIN_FRAG_SIZE),
            min_v6_frag_size: AtomicU32::new(DEFAULT_MIN_V6_FRAG_SIZE),
            max_nfrags: AtomicUsize::new(MAX_FRAGS),
            n_frags: AtomicUsize::new(0),
            lists: Mutex::new(HashMap::new()),
            counters: Default::default(),
        }
    }
}

/// The L3 fields of a fragment.
struct Frag {
    key: FragKey,
    off: u32,
    len: u32,
    more: bool,
    /// Where the fragment's payload starts in the frame; the bytes before
    /// it (without an IPv6 fragment header) head the reassembled datagram.
    start: usize,
    /// IPv6: the end of the unfragmentable part (where the fragment
    /// header starts) and the byte naming the fragment header.
    v6_head: Option<(usize, usize)>,
    /// The protocol the payload starts with (IPv6: the fragment header's
    /// next header, not part of the key: RFC 8200 and OVS identify a
    /// datagram by addresses and id alone).
    next: u8,
}

fn parse(d: &[u8], l3: usize, zone: u16, recirc_id: u32) -> Option<Frag> {
    let b = d.get(l3..)?;
    let mut f = match b.first()? >> 4 {
        4 => parse_v4(b, l3, zone),
        6 => parse_v6(b, l3, zone),
        _ => None,
    }?;
    f.key.recirc_id = recirc_id;
    Some(f)
}

fn parse_v4(b: &[u8], l3: usize, zone: u16) -> Option<Frag> {
    if b.len() < 20 {
        return None;
    }
    let ihl = (b[0] & 0x0f) as usize * 4;
    let tot = be16(b, 2) as usize;
    if ihl < 20 || tot < ihl || tot > b.len() {
        return None;
    }
    let f = be16(b, 6);
    Some(Frag {
        key: FragKey {
            recirc_id: 0,
            zone,
            v6: false,
            src: be32(b, 12) as u128,
            dst: be32(b, 16) as u128,
            proto: b[9],
            id: be16(b, 4) as u32,
        },
        next: b[9],
        off: (f & 0x1fff) as u32 * 8,
        len: (tot - ihl) as u32,
        more: f & 0x2000 != 0,
        start: l3 + ihl,
        v6_head: None,
    })
}

/// An IPv6 fragment: hop-by-hop, routing and destination options headers
/// may come before the fragment header (the unfragmentable part).
fn parse_v6(b: &[u8], l3: usize, zone: u16) -> Option<Frag> {
    use crate::wire::ipv6::{PROTO_DSTOPTS, PROTO_FRAGMENT, PROTO_HOPOPTS, PROTO_ROUTING};
    if b.len() < 40 {
        return None;
    }
    let end = 40 + be16(b, 4) as usize;
    if end > b.len() {
        return None;
    }
    let (mut next, mut nh_pos, mut off) = (b[6], 6usize, 40usize);
    while next != PROTO_FRAGMENT {
        if !matches!(next, PROTO_HOPOPTS | PROTO_ROUTING | PROTO_DSTOPTS) || off + 8 > end {
            return None;
        }
        let len = (b[off + 1] as usize + 1) * 8;
        (next, nh_pos) = (b[off], off);
        off += len;
    }
    if off + 8 > end {
        return None;
    }
    let fo = be16(b, off + 2);
    let addr = |at: usize| u128::from_be_bytes(b[at..at + 16].try_into().expect("16 bytes"));
    Some(Frag {
        key: FragKey {
            recirc_id: 0,
            zone,
            v6: true,
            src: addr(8),
            dst: addr(24),
            proto: 0,
            id: be32(b, off + 4),
        },
        next: b[off],
        off: (fo & 0xfff8) as u32,
        len: (end - off - 8) as u32,
        more: fo & 1 != 0,
        start: l3 + off + 8,
        v6_head: Some((l3 + off, l3 + nh_pos)),
    })
}

impl Ipf {
    /// Reassembly is on for at least one family.
    pub fn enabled(&self) -> bool {
        self.enabled_for(false) || self.enabled_for(true)
    }
    /// Reassembly is on for IPv6 (`v6`) or IPv4 fragments.
    pub fn enabled_for(&self, v6: bool) -> bool {
        if v6 {
            self.v6_enabled.load(Ordering::Relaxed)
        } else {
            self.v4_enabled.load(Ordering::Relaxed)
        }
    }
    /// Switches both families.
    pub fn set_enabled(&self, on: bool) {
        self.set_enabled_for(false, on);
        self.set_enabled_for(true, on);
    }
    pub fn set_enabled_for(&self, v6: bool, on: bool) {
        let flag = if v6 {
            &self.v6_enabled
        } else {
            &self.v4_enabled
        };
        flag.store(on, Ordering::Relaxed);
    }
    pub fn min_frag_size(&self) -> u32 {
        self.min_frag_size.load(Ordering::Relaxed)
    }
    /// Sets IPv4's minimum without the bound check (tests, fuzzing).
    pub fn set_min_frag_size(&self, n: u32) {
        self.min_frag_size.store(n, Ordering::Relaxed);
    }
    pub fn min_v6_frag_size(&self) -> u32 {
        self.min_v6_frag_size.load(Ordering::Relaxed)
    }
    /// Sets IPv6's minimum without the bound check (tests, fuzzing).
    pub fn set_min_v6_frag_size(&self, n: u32) {
        self.min_v6_frag_size.store(n, Ordering::Relaxed);
    }
    /// `dpctl/ipf-set-min-frag`: at least [`MIN_FRAG_SIZE_LBOUND`].
    pub fn set_min_frag(&self, v6: bool, n: u32) -> Result<(), IpfError> {
        if n < MIN_FRAG_SIZE_LBOUND {
            return Err(IpfError::MinFragTooSmall(n));
        }
        if v6 {
            self.set_min_v6_frag_size(n);
        } else {
            self.set_min_frag_size(n);
        }
        Ok(())
    }
    pub fn max_nfrags(&self) -> usize {
        self.max_nfrags.load(Ordering::Relaxed)
    }
    /// `dpctl/ipf-set-max-nfrags`: at most [`NFRAG_UBOUND`].
    pub fn set_max_nfrags(&self, n: u32) -> Result<(), IpfError> {
        if n > NFRAG_UBOUND {
            return Err(IpfError::MaxFragsTooLarge(n));
        }
        self.max_nfrags.store(n as usize, Ordering::Relaxed);
        Ok(())
    }
    /// Fragments held now.
    pub fn n_frags(&self) -> usize {
        self.n_frags.load(Ordering::Relaxed)
    }
    /// IPv6's (`v6`) or IPv4's counters.
    pub fn counters(&self, v6: bool) -> &IpfCounters {
        &self.counters[v6 as usize]
    }
    fn count(&self, v6: bool, c: fn(&IpfCounters) -> &AtomicU64, n: u64) {
        c(&self.counters[v6 as usize]).fetch_add(n, Ordering::Relaxed);
    }

    /// The datagrams held now, for `dpctl/ipf-get-status -m`.
    pub fn lists(&self) -> Vec<ListInfo> {
        let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists
            .iter()
            .map(|(k, l)| ListInfo {
                v6: k.v6,
                src: k.src,
                dst: k.dst,
                recirc_id: k.recirc_id,
                ip_id: k.id,
                zone: k.zone,
                proto: k.proto,
                num_fragments: l.frags.len(),
                first_seen: l.frags.iter().any(|p| p.off == 0),
                last_seen: l.end.is_some(),
            })
            .collect()
    }

    /// Takes an IPv4 or IPv6 fragment (`l3` from flow extraction).
    pub fn add(&self, pkt: DpPacket, l3: usize, zone: u16, now: u64) -> FragResult {
        let Some(f) = parse(pkt.data(), l3, zone, pkt.md().recirc_id) else {
            let v6 = pkt.data().get(l3).is_some_and(|b| b >> 4 == 6);
            self.count(v6, |c| &c.invalid, 1);
            return FragResult::Invalid(vec![pkt]);
        };
        let v6 = f.key.v6;
        // Every fragment but the last carries a multiple of 8 bytes; the
        // datagram fits a 16-bit length field.
        let head = match f.v6_head {
            Some((h, _)) => (h - l3 - 40) as u32,
            None => 20,
        };
        if f.more && (f.len % 8 != 0 || f.len == 0) || head + f.off + f.len > 65535 {
            self.count(v6, |c| &c.invalid, 1);
            return FragResult::Invalid(vec![pkt]);
        }
        let min = if v6 {
            self.min_v6_frag_size()
        } else {
            self.min_frag_size()
        };
        // The IP packet's size (header and payload), as OVS measures it.
        if f.more && ((f.start - l3) as u32 + f.len) < min {
            self.count(v6, |c| &c.too_small, 1);
            return FragResult::Invalid(vec![pkt]);
        }
        // Over the limit, the fragment is tracked as it is (hence `inv`),
        // the held ones are kept.
        if self.n_frags.load(Ordering::Relaxed) >= self.max_nfrags() {
            return FragResult::Invalid(vec![pkt]);
        }
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let list = lists.entry(f.key).or_insert_with(|| FragList {
            frags: Vec::new(),
            end: None,
            first_seen: now,
        });
        if list
            .frags
            .iter()
            .any(|p| f.off < p.off + p.len && p.off < f.off + f.len)
        {
            self.count(v6, |c| &c.overlapped, 1);
            return FragResult::Invalid(vec![pkt]);
        }
        let bad_end = match (f.more, list.end) {
            (false, Some(e)) => e != f.off + f.len,
            (true, Some(e)) => f.off + f.len > e,
            (false, None) => list.frags.iter().any(|p| p.off + p.len > f.off + f.len),
            (true, None) => false,
        };
        if bad_end || list.frags.len() >= MAX_PER_LIST {
            let list = lists.remove(&f.key).expect("list just looked up");
            self.n_frags.fetch_sub(list.frags.len(), Ordering::Relaxed);
            let mut all: Vec<DpPacket> = list.frags.into_iter().map(|p| p.pkt).collect();
            all.push(pkt);
            self.count(v6, |c| &c.invalid, all.len() as u64);
            return FragResult::Invalid(all);
        }
        self.count(v6, |c| &c.accepted, 1);
        if !f.more {
            list.end = Some(f.off + f.len);
        }
        list.frags.push(Piece {
            off: f.off,
            len: f.len,
            start: f.start,
            pkt,
        });
        self.n_frags.fetch_add(1, Ordering::Relaxed);
        let Some(end) = list.end else {
            return FragResult::Held;
        };
        let have: u32 = list.frags.iter().map(|p| p.len).sum();
        if have != end {
            return FragResult::Held;
        }
        // Complete (no overlaps and the lengths add up: contiguous).
        let mut list = lists.remove(&f.key).expect("list just looked up");
        drop(lists);
        self.n_frags.fetch_sub(list.frags.len(), Ordering::Relaxed);
        list.frags.sort_by_key(|p| p.off);
        let first = &list.frags[0].pkt;
        let d = first.data();
        let first_frag = parse(d, l3, f.key.zone, 0);
        let head = match first_frag
            .as_ref()
            .and_then(|g| g.v6_head.map(|h| (h, g.next)))
        {
            // IPv6: the unfragmentable part, naming what the first
            // fragment's header named, with the whole payload's length.
            Some(((h, nh_pos), next)) => {
                let mut head = d[..h].to_vec();
                head[nh_pos] = next;
                put_be16(&mut head, l3 + 4, (h - l3 - 40 + end as usize) as u16);
                head
            }
            None => {
                let ihl0 = (d[l3] & 0x0f) as usize * 4;
                let mut head = d[..l3 + ihl0].to_vec();
                put_be16(&mut head, l3 + 2, (ihl0 + end as usize) as u16);
                let df = be16(&head, l3 + 6) & 0x4000;
                put_be16(&mut head, l3 + 6, df);
                put_be16(&mut head, l3 + 10, 0);
                let c = checksum(&head[l3..l3 + ihl0]);
                put_be16(&mut head, l3 + 10, c);
                head
            }
        };
        let mut body = Vec::with_capacity(end as usize);
        for p in &list.frags {
            body.extend_from_slice(&p.pkt.data()[p.start..p.start + p.len as usize]);
        }
        let mut whole = DpPacket::with_room(head.len() + body.len());
        whole.set_concat(&head, &body);
        whole.md_mut().clone_from(first.md());
        self.count(v6, |c| &c.completed, list.frags.len() as u64);
        FragResult::Complete(whole, list.frags.into_iter().map(|p| p.pkt).collect())
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn sweep(&self, now: u64) -> usize {
        if self.n_frags() == 0 {
            return 0;
        }
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = [0usize; 2];
        lists.retain(|k, l| {
            let keep = now < l.first_seen + LIST_TIMEOUT_MS;
            if !keep {
                n[k.v6 as usize] += l.frags.len();
            }
            keep
        });
        for v6 in [false, true] {
            self.count(v6, |c| &c.expired, n[v6 as usize] as u64);
        }
        self.n_frags.fetch_sub(n[0] + n[1], Ordering::Relaxed);
        n[0] + n[1]
    }
}

/// Copies the translation the tracker applied to `whole` (the datagram
/// reassembled from `frags`, IP header at `l3` in all of them) into the
/// fragments: source and destination addresses in each (IPv4 header
/// checksum recomputed), and the transport header into the fragment at
/// offset 0 (which holds it whole: the minimum fragment size guarantees
/// it; a first fragment too short to hold it is left as it came).
pub fn translate_fragments(whole: &DpPacket, frags: &mut [DpPacket], l3: usize) {
    let w = whole.data();
    let Some(v) = w.get(l3).map(|b| b >> 4) else {
        return;
    };
    let (addrs, l4_at, proto) = match v {
        4 if w.len() >= l3 + 20 => {
            let ihl = (w[l3] & 0x0f) as usize * 4;
            (l3 + 12..l3 + 20, l3 + ihl, w[l3 + 9])
        }
        6 if w.len() >= l3 + 40 => {
            let walk = crate::wire::ipv6::walk_ext_headers(&w[l3 + 40..], w[l3 + 6]);
            (l3 + 8..l3 + 40, l3 + 40 + walk.offset, walk.proto)
        }
        _ => return,
    };
    let l4_len = match proto {
        6 if w.len() >= l4_at + 13 => ((w[l4_at + 12] >> 4) as usize * 4).max(20),
        6 => 20,
        17 | 1 | 58 => 8,
        _ => 0,
    };
    let l4 = w.get(l4_at..l4_at + l4_len);
    let new_addrs = &w[addrs.clone()];
    for f in frags.iter_mut() {
        let Some(g) = parse(f.data(), l3, 0, 0) else {
            continue;
        };
        let d = f.data_mut();
        let unchanged = d[addrs.clone()] == *new_addrs;
        d[addrs.clone()].copy_from_slice(new_addrs);
        if g.off == 0 {
            if let Some(l4) = l4 {
                if let Some(dst) = d.get_mut(g.start..g.start + l4.len()) {
                    dst.copy_from_slice(l4);
                }
            }
        }
        if !unchanged && v == 4 {
            let ihl = g.start - l3;
            put_be16(d, l3 + 10, 0);
            let c = checksum(&d[l3..l3 + ihl]);
            put_be16(d, l3 + 10, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::frame::{checksums_ok, fragments, fragments6, Pkt};

    #[test]
    fn reassembles_out_of_order_and_refuses_overlaps() {
        let ipf = Ipf::default();
        let p = Pkt::udp4(0xc612_0001, 1, 0xc613_0001, 2).with_payload(3000);
        let whole = p.emit();
        let mut fr = fragments(&p, 1480, 7);
        assert_eq!(fr.len(), 3);
        fr.swap(0, 2);
        let mut done = None;
        for f in &fr {
            match ipf.add(DpPacket::from_bytes(f), 14, 0, 0) {
                FragResult::Held => {}
                FragResult::Complete(w, frags) => done = Some((w, frags)),
                FragResult::Invalid(_) => panic!("refused"),
            }
        }
        let (w, frags) = done.expect("complete");
        // The same datagram (the IP id and flags are the fragments').
        let d = w.data();
        assert!(d.len() == whole.len() && d[34..] == whole[34..], "payload");
        assert_eq!(d[16..18], whole[16..18], "total length");
        assert_eq!(checksum(&d[14..34]), 0);
        assert_eq!(d[20] & 0x3f, 0, "no MF, offset 0");
        assert_eq!(frags.len(), 3);
        assert_eq!(ipf.n_frags(), 0);
        assert_eq!(ipf.counters(false).accepted.load(Ordering::Relaxed), 3);
        assert_eq!(ipf.counters(false).completed.load(Ordering::Relaxed), 3);
        // Overlap: the overlapping fragment alone is refused (as OVS).
        let fr = fragments(&p, 1480, 8);
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0),
            FragResult::Held
        ));
        match ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0) {
            FragResult::Invalid(v) => assert_eq!(v.len(), 1),
            _ => panic!("overlap accepted"),
        }
        assert_eq!(ipf.counters(false).overlapped.load(Ordering::Relaxed), 1);
        assert_eq!(ipf.n_frags(), 1);
        assert_eq!(ipf.sweep(LIST_TIMEOUT_MS), 1);
        assert_eq!(ipf.n_frags(), 0);
        // Too small.
        let small = fragments(&p, 400, 9);
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&small[0]), 14, 0, 0),
            FragResult::Invalid(_)
        ));
        // Expiry.
        let fr = fragments(&p, 1480, 10);
        ipf.add(DpPacket::from_bytes(&fr[1]), 14, 0, 0);
        assert_eq!(ipf.sweep(LIST_TIMEOUT_MS - 1), 0);
        assert_eq!(ipf.sweep(LIST_TIMEOUT_MS), 1);
        assert_eq!(ipf.n_frags(), 0);
    }

    /// Feeds `frames` in order; the completed datagram and its fragments.
    fn feed(ipf: &Ipf, frames: &[Vec<u8>], zone: u16) -> Option<(DpPacket, Vec<DpPacket>)> {
        let mut done = None;
        for f in frames {
            match ipf.add(DpPacket::from_bytes(f), 14, zone, 0) {
                FragResult::Held => {}
                FragResult::Complete(w, frags) => done = Some((w, frags)),
                FragResult::Invalid(_) => return None,
            }
        }
        done
    }

    const V6_SRC: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001;
    const V6_DST: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0002;

    /// A UDP datagram of 3000 bytes from V6_SRC to V6_DST: three
    /// fragments at an MTU of 1500.
    fn udp6_3000() -> Pkt {
        Pkt {
            src: V6_SRC,
            dst: V6_DST,
            ..Pkt::udp4(0, 5000, 0, 53)
        }
        .v6()
        .with_payload(3000)
    }

    #[test]
    fn reassembles_ipv6_fragments_out_of_order() {
        let ipf = Ipf::default();
        let p = udp6_3000();
        let whole = p.emit();
        let mut fr = fragments6(&p, 1448, 0x1234_5678);
        assert_eq!(fr.len(), 3);
        fr.swap(0, 1);
        let (w, frags) = feed(&ipf, &fr, 2).expect("complete");
        assert_eq!(w.data(), &whole[..], "the datagram as it was sent");
        assert!(checksums_ok(w.data()));
        assert_eq!(frags.len(), 3);
        assert_eq!(ipf.n_frags(), 0);
        // The same id in another zone, or from another source, is another
        // datagram: nothing completes from mixed fragments.
        let fr = fragments6(&p, 1448, 9);
        let q = Pkt {
            src: V6_SRC + 1,
            ..p
        };
        let other = fragments6(&q, 1448, 9);
        assert!(feed(&ipf, &[fr[0].clone(), other[1].clone(), fr[2].clone()], 2).is_none());
        assert!(feed(&ipf, &[fr[1].clone()], 3).is_none());
        assert_eq!(ipf.n_frags(), 4);
        assert_eq!(ipf.sweep(LIST_TIMEOUT_MS), 4);
    }

    #[test]
    fn ipv6_overlaps_small_fragments_and_oversize_are_refused() {
        let ipf = Ipf::default();
        let p = udp6_3000();
        let fr = fragments6(&p, 1448, 1);
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0),
            FragResult::Held
        ));
        match ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0) {
            FragResult::Invalid(v) => assert_eq!(v.len(), 1, "the duplicate alone"),
            _ => panic!("overlap accepted"),
        }
        assert_eq!(ipf.sweep(LIST_TIMEOUT_MS), 1);
        // Non-final fragments under 1280 bytes are refused (OVS's default).
        let small = fragments6(&p, 512, 2);
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&small[0]), 14, 0, 0),
            FragResult::Invalid(_)
        ));
        ipf.set_min_v6_frag_size(400);
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&small[0]), 14, 0, 0),
            FragResult::Held
        ));
        // A last fragment ending past 65,535 bytes of payload.
        let mut last = fr[2].clone();
        last[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&(65528u16).to_be_bytes());
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&last), 14, 0, 0),
            FragResult::Invalid(_)
        ));
        // A fragment header cut short.
        let mut cut = fr[1][..14 + 44].to_vec();
        cut[14 + 4..14 + 6].copy_from_slice(&4u16.to_be_bytes());
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&cut), 14, 0, 0),
            FragResult::Invalid(_)
        ));
        assert_eq!(ipf.n_frags(), 1);
    }

    #[test]
    fn settings_are_bounded_and_enforced_per_family() {
        let ipf = Ipf::default();
        assert_eq!(
            ipf.set_min_frag(false, 399),
            Err(IpfError::MinFragTooSmall(399))
        );
        assert_eq!(ipf.min_frag_size(), DEFAULT_MIN_FRAG_SIZE);
        assert_eq!(
            ipf.set_max_nfrags(5001),
            Err(IpfError::MaxFragsTooLarge(5001))
        );
        assert_eq!(ipf.max_nfrags(), MAX_FRAGS);
        // 420-byte fragments (400 of payload): too small at 1200, held at 400.
        let p = Pkt::udp4(0xc612_0001, 1, 0xc613_0001, 2).with_payload(1000);
        let fr = fragments(&p, 400, 5);
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0),
            FragResult::Invalid(_)
        ));
        assert_eq!(ipf.counters(false).too_small.load(Ordering::Relaxed), 1);
        // The minimum is the IP packet's size: 420 passes a minimum of 420.
        ipf.set_min_frag(false, 420).unwrap();
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0),
            FragResult::Held
        ));
        ipf.set_min_frag(false, 421).unwrap();
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&fr[1]), 14, 0, 0),
            FragResult::Invalid(_)
        ));
        ipf.set_min_frag(false, 400).unwrap();
        // max_nfrags: one held; at a limit of 1 the next fragment is refused
        // alone and the held one stays.
        ipf.set_max_nfrags(1).unwrap();
        match ipf.add(DpPacket::from_bytes(&fr[1]), 14, 0, 0) {
            FragResult::Invalid(v) => assert_eq!(v.len(), 1),
            _ => panic!("over the limit accepted"),
        }
        assert_eq!(ipf.n_frags(), 1);
        let l = ipf.lists();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].ip_id, l[0].zone, l[0].proto), (5, 0, 17));
        assert!(l[0].first_seen && !l[0].last_seen);
        assert_eq!(l[0].num_fragments, 1);
        ipf.set_max_nfrags(10).unwrap();
        let done = feed(&ipf, &fr[1..], 0).expect("complete");
        assert_eq!(done.1.len(), fr.len());
        assert_eq!(
            ipf.counters(false).accepted.load(Ordering::Relaxed),
            fr.len() as u64
        );
        assert_eq!(
            ipf.counters(false).completed.load(Ordering::Relaxed),
            fr.len() as u64
        );
        assert_eq!(ipf.counters(true).accepted.load(Ordering::Relaxed), 0);
        // Per family switches.
        ipf.set_enabled_for(false, false);
        assert!(!ipf.enabled_for(false) && ipf.enabled_for(true) && ipf.enabled());
        ipf.set_enabled_for(true, false);
        assert!(!ipf.enabled());
    }
}
