//! IPv4 fragment reassembly before tracking (OVS's `ipf`), and the
//! fragments sent on afterwards with the whole datagram's verdict.
//!
//! Fragments of one datagram (zone, addresses, protocol, IP id) are held
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
//! Hostile input is bounded: at most [`MAX_FRAGS`] fragments held in all
//! and [`MAX_PER_LIST`] per datagram; a datagram over 65,535 bytes or with
//! overlapping or inconsistent fragments is dropped whole (its packets
//! marked `inv`); non-final fragments smaller than the minimum size (OVS's
//! defaults: 1200 bytes) are refused; lists older than [`LIST_TIMEOUT_MS`]
//! are expired by the sweep. The map has one lock, taken only for
//! fragments.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::packet::DpPacket;
use crate::wire::checksum::checksum;
use crate::wire::{be16, be32, put_be16};

pub const MAX_FRAGS: usize = 1000;
pub const MAX_PER_LIST: usize = 64;
pub const LIST_TIMEOUT_MS: u64 = 15_000;
pub const DEFAULT_MIN_FRAG_SIZE: u32 = 1200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FragKey {
    zone: u16,
    src: u32,
    dst: u32,
    proto: u8,
    id: u16,
}

struct FragList {
    frags: Vec<(u16, u16, DpPacket)>, // (byte offset, payload length, packet)
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

/// Counters for `dpctl/ipf-get-status`.
#[derive(Default, Debug)]
pub struct IpfCounters {
    pub accepted: AtomicU64,
    pub completed: AtomicU64,
    pub invalid: AtomicU64,
    pub expired: AtomicU64,
    pub too_small: AtomicU64,
}

pub struct Ipf {
    enabled: AtomicBool,
    min_frag_size: AtomicU32,
    n_frags: AtomicUsize,
    lists: Mutex<HashMap<FragKey, FragList>>,
    pub counters: IpfCounters,
}

impl Default for Ipf {
    fn default() -> Self {
        Ipf {
            enabled: AtomicBool::new(true),
            min_frag_size: AtomicU32::new(DEFAULT_MIN_FRAG_SIZE),
            n_frags: AtomicUsize::new(0),
            lists: Mutex::new(HashMap::new()),
            counters: IpfCounters::default(),
        }
    }
}

/// The L3 fields of a fragment.
struct Frag {
    key: FragKey,
    off: u32,
    len: u32,
    more: bool,
    ihl: usize,
}

fn parse(d: &[u8], l3: usize, zone: u16) -> Option<Frag> {
    let b = d.get(l3..)?;
    if b.len() < 20 || b[0] >> 4 != 4 {
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
            zone,
            src: be32(b, 12),
            dst: be32(b, 16),
            proto: b[9],
            id: be16(b, 4),
        },
        off: (f & 0x1fff) as u32 * 8,
        len: (tot - ihl) as u32,
        more: f & 0x2000 != 0,
        ihl,
    })
}

impl Ipf {
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }
    pub fn min_frag_size(&self) -> u32 {
        self.min_frag_size.load(Ordering::Relaxed)
    }
    pub fn set_min_frag_size(&self, n: u32) {
        self.min_frag_size.store(n, Ordering::Relaxed);
    }
    pub fn n_frags(&self) -> usize {
        self.n_frags.load(Ordering::Relaxed)
    }

    /// Takes an IPv4 fragment (`l3` from flow extraction).
    pub fn add(&self, pkt: DpPacket, l3: usize, zone: u16, now: u64) -> FragResult {
        let Some(f) = parse(pkt.data(), l3, zone) else {
            self.counters.invalid.fetch_add(1, Ordering::Relaxed);
            return FragResult::Invalid(vec![pkt]);
        };
        // Every fragment but the last carries a multiple of 8 bytes.
        if f.more && (f.len % 8 != 0 || f.len == 0) || f.off + f.len > 65535 - 20 {
            self.counters.invalid.fetch_add(1, Ordering::Relaxed);
            return FragResult::Invalid(vec![pkt]);
        }
        if f.more && ((l3 as u32 + f.ihl as u32 + f.len) < self.min_frag_size()) {
            self.counters.too_small.fetch_add(1, Ordering::Relaxed);
            return FragResult::Invalid(vec![pkt]);
        }
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let list = lists.entry(f.key).or_insert_with(|| FragList {
            frags: Vec::new(),
            end: None,
            first_seen: now,
        });
        let overlaps = list.frags.iter().any(|(o, l, _)| {
            let (a0, a1) = (*o as u32, *o as u32 + *l as u32);
            f.off < a1 && a0 < f.off + f.len
        });
        let bad_end = match (f.more, list.end) {
            (false, Some(e)) => e != f.off + f.len,
            (true, Some(e)) => f.off + f.len > e,
            (false, None) => list
                .frags
                .iter()
                .any(|(o, l, _)| *o as u32 + *l as u32 > f.off + f.len),
            (true, None) => false,
        };
        if overlaps
            || bad_end
            || list.frags.len() >= MAX_PER_LIST
            || self.n_frags.load(Ordering::Relaxed) >= MAX_FRAGS
        {
            let list = lists.remove(&f.key).expect("list just looked up");
            self.n_frags.fetch_sub(list.frags.len(), Ordering::Relaxed);
            let mut all: Vec<DpPacket> = list.frags.into_iter().map(|(_, _, p)| p).collect();
            all.push(pkt);
            self.counters
                .invalid
                .fetch_add(all.len() as u64, Ordering::Relaxed);
            return FragResult::Invalid(all);
        }
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        if !f.more {
            list.end = Some(f.off + f.len);
        }
        list.frags.push((f.off as u16, f.len as u16, pkt));
        self.n_frags.fetch_add(1, Ordering::Relaxed);
        let Some(end) = list.end else {
            return FragResult::Held;
        };
        let have: u32 = list.frags.iter().map(|(_, l, _)| *l as u32).sum();
        if have != end {
            return FragResult::Held;
        }
        // Complete (no overlaps and the lengths add up: contiguous).
        let mut list = lists.remove(&f.key).expect("list just looked up");
        drop(lists);
        self.n_frags.fetch_sub(list.frags.len(), Ordering::Relaxed);
        list.frags.sort_by_key(|(o, _, _)| *o);
        let first = &list.frags[0].2;
        let d = first.data();
        let ihl0 = (d[l3] & 0x0f) as usize * 4;
        let mut head = d[..l3 + ihl0].to_vec();
        let tot = ihl0 + end as usize;
        put_be16(&mut head, l3 + 2, tot as u16);
        let df = be16(&head, l3 + 6) & 0x4000;
        put_be16(&mut head, l3 + 6, df);
        put_be16(&mut head, l3 + 10, 0);
        let c = checksum(&head[l3..l3 + ihl0]);
        put_be16(&mut head, l3 + 10, c);
        let mut body = Vec::with_capacity(end as usize);
        for (_, len, p) in &list.frags {
            let d = p.data();
            let ihl = (d[l3] & 0x0f) as usize * 4;
            body.extend_from_slice(&d[l3 + ihl..l3 + ihl + *len as usize]);
        }
        let mut whole = DpPacket::with_room(head.len() + body.len());
        whole.set_concat(&head, &body);
        whole.md_mut().clone_from(first.md());
        self.counters.completed.fetch_add(1, Ordering::Relaxed);
        FragResult::Complete(whole, list.frags.into_iter().map(|(_, _, p)| p).collect())
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn sweep(&self, now: u64) -> usize {
        if self.n_frags() == 0 {
            return 0;
        }
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        lists.retain(|_, l| {
            let keep = now < l.first_seen + LIST_TIMEOUT_MS;
            if !keep {
                n += l.frags.len();
            }
            keep
        });
        self.n_frags.fetch_sub(n, Ordering::Relaxed);
        self.counters.expired.fetch_add(n as u64, Ordering::Relaxed);
        n
    }
}

/// Copies the translation the tracker applied to `whole` (the datagram
/// reassembled from `frags`, IPv4 header at `l3` in all of them) into
/// the fragments: source and destination addresses in each (header
/// checksum recomputed), and the transport header into the fragment at
/// offset 0 (which holds it whole: the minimum fragment size guarantees
/// it; a first fragment too short to hold it is left as it came).
pub fn translate_fragments(whole: &DpPacket, frags: &mut [DpPacket], l3: usize) {
    let w = whole.data();
    if w.len() < l3 + 20 {
        return;
    }
    let wihl = (w[l3] & 0x0f) as usize * 4;
    let addrs: [u8; 8] = w[l3 + 12..l3 + 20].try_into().expect("8 bytes");
    let l4_len = match w[l3 + 9] {
        6 if w.len() >= l3 + wihl + 13 => ((w[l3 + wihl + 12] >> 4) as usize * 4).max(20),
        6 => 20,
        17 | 1 => 8,
        _ => 0,
    };
    let l4 = w.get(l3 + wihl..l3 + wihl + l4_len);
    for f in frags.iter_mut() {
        let d = f.data_mut();
        if d.len() < l3 + 20 {
            continue;
        }
        let ihl = (d[l3] & 0x0f) as usize * 4;
        if d.len() < l3 + ihl {
            continue;
        }
        let unchanged = d[l3 + 12..l3 + 20] == addrs;
        d[l3 + 12..l3 + 20].copy_from_slice(&addrs);
        let first = be16(d, l3 + 6) & 0x1fff == 0;
        if first {
            if let Some(l4) = l4 {
                if let Some(dst) = d.get_mut(l3 + ihl..l3 + ihl + l4.len()) {
                    dst.copy_from_slice(l4);
                }
            }
        }
        if !unchanged {
            put_be16(d, l3 + 10, 0);
            let c = checksum(&d[l3..l3 + ihl]);
            put_be16(d, l3 + 10, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::frame::{fragments, Pkt};

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
        // Overlap: the datagram is dropped whole.
        let fr = fragments(&p, 1480, 8);
        assert!(matches!(
            ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0),
            FragResult::Held
        ));
        match ipf.add(DpPacket::from_bytes(&fr[0]), 14, 0, 0) {
            FragResult::Invalid(v) => assert_eq!(v.len(), 2),
            _ => panic!("overlap accepted"),
        }
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
}
