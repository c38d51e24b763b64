//! Coalescing of TCP segments into one GSO packet on their way out of a
//! port that takes large segments whole (vnet-header ports: AF_PACKET and
//! tap), what the kernel's GRO does on receive.
//!
//! Segments arrive MSS-sized when they come off a wire: decapsulated from
//! a tunnel, or read from an AF_XDP or MTU-limited port. Handed to a local
//! stack one by one, each costs the receiver a pass through IP and TCP and
//! half an ACK back through the switch. Consecutive segments of one
//! connection in a batch bound for the same port are joined instead: the
//! first one's headers, every payload in order, and the offload state of a
//! GSO packet (`gso_size` the first segment's payload, partial checksum),
//! which the receiving stack takes as one large segment and the kernel
//! re-segments if the device needs it.
//!
//! Only what the kernel's GRO would join is joined: IPv4 without options
//! and not fragmented, or IPv6 without extension headers; TCP with ACK and
//! no other flag but PSH (which ends the run); the same Ethernet and IP
//! header fields (addresses, TOS or traffic class and flow label, TTL or
//! hop limit, DF), the same ports, acknowledgment, window and options;
//! each segment's sequence number where the previous one's payload ends;
//! every payload but the last as long as the first, the last no longer
//! (a shorter one ends the run); at most 64 KiB of IP packet. A segment
//! whose checksum is complete must verify (IPv4 header and TCP), since the
//! joined packet's checksum is left for the receiver to trust; a segment
//! with a partial checksum (a local stack's, no GSO) is taken as it is.
//! Anything else passes unchanged, and a run of one is left as it was.

use super::csum::l3_offset;
use super::{Offload, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_GSO_TCPV6};
use crate::packet::{DpPacket, PacketPool};
use crate::wire::checksum::{fold, sum16};
use crate::wire::ethernet::{ETH_TYPE_IPV4, ETH_TYPE_IPV6};

const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
/// The largest IP packet a run may grow to.
const MAX_IP_LEN: usize = 65535;

/// Where a candidate segment's parts are.
#[derive(Debug, Clone, Copy)]
struct Seg {
    v4: bool,
    l3: usize,
    l4: usize,
    /// Payload start (end of the TCP header).
    hdr: usize,
    /// End of the IP packet.
    end: usize,
    seq: u32,
    psh: bool,
    /// Its checksums are complete, to be verified before it is joined
    /// (else partial, a local stack's, taken as it is).
    complete: bool,
}

impl Seg {
    fn payload(&self) -> usize {
        self.end - self.hdr
    }
}

fn be16(d: &[u8], at: usize) -> usize {
    u16::from_be_bytes([d[at], d[at + 1]]) as usize
}

/// The pseudo-header sum of a TCP segment of `l4_len` bytes.
fn pseudo(d: &[u8], s: &Seg, l4_len: usize) -> u32 {
    let addrs = if s.v4 {
        &d[s.l3 + 12..s.l3 + 20]
    } else {
        &d[s.l3 + 8..s.l3 + 40]
    };
    sum16(addrs, 0) + 6 + (l4_len as u32 & 0xffff) + (l4_len as u32 >> 16)
}

/// `p` as a segment that may be joined, or None.
fn candidate(p: &DpPacket) -> Option<Seg> {
    let d = p.data();
    let o = p.offload();
    let (ethertype, l3) = l3_offset(d)?;
    let (v4, l4, end) = match ethertype {
        ETH_TYPE_IPV4 => {
            let ip = d.get(l3..l3 + 20)?;
            // No options, TCP, not a fragment (DF alone allowed).
            if ip[0] != 0x45 || ip[9] != 6 || be16(ip, 6) & 0x3fff != 0 {
                return None;
            }
            (true, l3 + 20, l3 + be16(ip, 2))
        }
        ETH_TYPE_IPV6 => {
            let ip = d.get(l3..l3 + 40)?;
            if ip[0] >> 4 != 6 || ip[6] != 6 {
                return None;
            }
            (false, l3 + 40, l3 + 40 + be16(ip, 4))
        }
        _ => return None,
    };
    if end > d.len() || l4 + 20 > end {
        return None;
    }
    let hdr = l4 + (d[l4 + 12] >> 4) as usize * 4;
    let flags = d[l4 + 13];
    if hdr < l4 + 20 || hdr >= end || flags & !TCP_PSH != TCP_ACK {
        return None;
    }
    let complete = o == Offload::NONE;
    let partial = o.flags & VNET_F_NEEDS_CSUM != 0
        && !o.is_gso()
        && o.csum_start as usize == l4
        && o.csum_offset == 16;
    (complete || partial).then_some(Seg {
        v4,
        l3,
        l4,
        hdr,
        end,
        seq: u32::from_be_bytes([d[l4 + 4], d[l4 + 5], d[l4 + 6], d[l4 + 7]]),
        psh: flags & TCP_PSH != 0,
        complete,
    })
}

/// Whether segment `s` of frame `d` may be joined as far as checksums go:
/// complete ones must verify (IPv4 header and TCP). Done only once a
/// segment is about to be joined, so segments that join nothing cost no
/// pass over their payload.
fn verified(d: &[u8], s: &Seg) -> bool {
    if !s.complete {
        return true;
    }
    let ip_ok = !s.v4 || fold(sum16(&d[s.l3..s.l4], 0)) == 0xffff;
    ip_ok && fold(sum16(&d[s.l4..s.end], pseudo(d, s, s.end - s.l4))) == 0xffff
}

/// Whether `b` (segment `t`) continues the run headed by `a` (segment
/// `h`): same headers but for lengths, ids, checksums and sequence.
fn same_flow(a: &[u8], h: &Seg, b: &[u8], t: &Seg) -> bool {
    if h.v4 != t.v4 || h.l3 != t.l3 || h.hdr - h.l4 != t.hdr - t.l4 || a[..h.l3] != b[..t.l3] {
        return false;
    }
    let (l3, l4) = (h.l3, h.l4);
    let ip_same = if h.v4 {
        // TOS, DF, TTL, protocol, addresses.
        a[l3 + 1] == b[l3 + 1]
            && a[l3 + 6] & 0xe0 == b[l3 + 6] & 0xe0
            && a[l3 + 8..l3 + 10] == b[l3 + 8..l3 + 10]
            && a[l3 + 12..l3 + 20] == b[l3 + 12..l3 + 20]
    } else {
        // Version, traffic class, flow label; next header, hop limit,
        // addresses.
        a[l3..l3 + 4] == b[l3..l3 + 4] && a[l3 + 6..l3 + 40] == b[l3 + 6..l3 + 40]
    };
    // Ports; acknowledgment; data offset; window; options.
    ip_same
        && a[l4..l4 + 4] == b[l4..l4 + 4]
        && a[l4 + 8..l4 + 13] == b[l4 + 8..l4 + 13]
        && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
        && a[l4 + 20..h.hdr] == b[l4 + 20..t.hdr]
}

/// A run being built on its first segment.
struct Run {
    head: Seg,
    /// Payload bytes per segment (the first one's).
    mss: usize,
    next_seq: u32,
    joined: usize,
    /// A short or PSH segment ended it.
    closed: bool,
    /// The head's checksums verified (asked when a first segment could
    /// join it).
    head_ok: Option<bool>,
}

/// Gives the run's head the lengths and offload state of the whole.
fn finish(p: &mut DpPacket, r: &Run) {
    if r.joined == 0 {
        return;
    }
    let h = r.head;
    let end = p.len();
    let d = p.data_mut();
    let l4_len = end - h.l4;
    if h.v4 {
        d[h.l3 + 2..h.l3 + 4].copy_from_slice(&((end - h.l3) as u16).to_be_bytes());
        d[h.l3 + 10..h.l3 + 12].copy_from_slice(&[0, 0]);
        let c = !fold(sum16(&d[h.l3..h.l4], 0));
        d[h.l3 + 10..h.l3 + 12].copy_from_slice(&c.to_be_bytes());
    } else {
        d[h.l3 + 4..h.l3 + 6].copy_from_slice(&((end - h.l4) as u16).to_be_bytes());
    }
    let ps = fold(pseudo(d, &h, l4_len));
    d[h.l4 + 16..h.l4 + 18].copy_from_slice(&ps.to_be_bytes());
    p.set_offload(Offload {
        flags: VNET_F_NEEDS_CSUM,
        gso_type: if h.v4 { VNET_GSO_TCPV4 } else { VNET_GSO_TCPV6 },
        hdr_len: h.hdr as u16,
        gso_size: r.mss as u16,
        csum_start: h.l4 as u16,
        csum_offset: 16,
    });
}

/// Joins runs of consecutive segments in `pkts` (see the module comment);
/// the buffers of the packets joined into another go back to `pool`.
/// Returns how many packets were joined into another.
pub fn coalesce(pkts: &mut Vec<DpPacket>, pool: &mut PacketPool) -> usize {
    if pkts.len() < 2 {
        return 0;
    }
    let mut run: Option<Run> = None;
    // Packets kept so far are pkts[..w]; the run's head is pkts[w - 1].
    let mut w = 0;
    let mut n_absorbed = 0;
    for r in 0..pkts.len() {
        let seg = candidate(&pkts[r]);
        // A segment that failed verification heads no run.
        let mut bad = false;
        if let (Some(run_), Some(s)) = (run.as_mut(), seg) {
            let (kept, rest) = pkts.split_at_mut(r);
            let head = &mut kept[w - 1];
            let fits =
                s.payload() <= run_.mss && head.len() - run_.head.l3 + s.payload() <= MAX_IP_LEN;
            if !run_.closed
                && s.seq == run_.next_seq
                && fits
                && same_flow(head.data(), &run_.head, rest[0].data(), &s)
                && *run_
                    .head_ok
                    .get_or_insert_with(|| verified(head.data(), &run_.head))
            {
                if !verified(rest[0].data(), &s) {
                    bad = true;
                } else {
                    let tail = &rest[0].data()[s.hdr..s.end];
                    if run_.joined == 0 {
                        // The head loses any Ethernet padding and gets room
                        // for the whole run once.
                        head.truncate(run_.head.end);
                        head.reserve_room(run_.head.l3 + MAX_IP_LEN);
                    }
                    head.extend(tail);
                    if s.psh {
                        let at = run_.head.l4 + 13;
                        head.data_mut()[at] |= TCP_PSH;
                    }
                    run_.next_seq = s.seq.wrapping_add(s.payload() as u32);
                    run_.joined += 1;
                    run_.closed = s.psh || s.payload() < run_.mss;
                    n_absorbed += 1;
                    continue;
                }
            }
        }
        // pkts[r] starts a new run (or none): the old one is complete.
        if let Some(old) = run.take() {
            finish(&mut pkts[w - 1], &old);
        }
        run = seg.filter(|_| !bad).map(|s| Run {
            head: s,
            mss: s.payload(),
            next_seq: s.seq.wrapping_add(s.payload() as u32),
            joined: 0,
            closed: s.psh,
            head_ok: None,
        });
        pkts.swap(w, r);
        w += 1;
    }
    if let Some(old) = run.take() {
        finish(&mut pkts[w - 1], &old);
    }
    for p in pkts.drain(w..) {
        pool.put(p);
    }
    n_absorbed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::gso::{segment, tests::gso6, tests::gso_tcp4, tests::l4_ok};

    /// The segments of a 4,000-byte TCP/IPv4 GSO packet (ACK only), as
    /// they come off a wire: complete checksums, no offload state.
    fn wire_segments(mss: u16) -> (Vec<u8>, Vec<DpPacket>) {
        let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
        let mut g = gso_tcp4(&payload, mss);
        g.data_mut()[34 + 13] = TCP_ACK;
        let mut pool = PacketPool::new(64);
        let mut segs = Vec::new();
        segment(&g, &mut pool, &mut segs).unwrap();
        (payload, segs)
    }

    fn seq(p: &DpPacket) -> u32 {
        let d = p.data();
        u32::from_be_bytes([d[38], d[39], d[40], d[41]])
    }

    #[test]
    fn contiguous_segments_become_one_gso_packet_that_segments_back() {
        let (payload, segs) = wire_segments(1000);
        assert_eq!(segs.len(), 4);
        round_trip(segs.clone());
        let mut pkts = segs;
        let mut pool = PacketPool::new(8);
        assert_eq!(coalesce(&mut pkts, &mut pool), 3);
        assert_eq!(pkts.len(), 1);
        let p = &pkts[0];
        let o = p.offload();
        assert_eq!(
            (o.gso_type, o.gso_size, o.csum_start, o.hdr_len),
            (VNET_GSO_TCPV4, 1000, 34, 66)
        );
        assert_eq!(&p.data()[66..], &payload[..]);
    }

    /// Joined and cut again: the same frames.
    fn round_trip(segs: Vec<DpPacket>) {
        let originals: Vec<Vec<u8>> = segs.iter().map(|s| s.data().to_vec()).collect();
        let mut pkts = segs;
        let mut pool = PacketPool::new(8);
        assert_eq!(coalesce(&mut pkts, &mut pool), originals.len() - 1);
        let mut again = Vec::new();
        segment(&pkts[0], &mut pool, &mut again).unwrap();
        let again: Vec<Vec<u8>> = again.iter().map(|s| s.data().to_vec()).collect();
        assert_eq!(again, originals);
    }

    #[test]
    fn ipv6_segments_round_trip() {
        let payload: Vec<u8> = (0..3500u32).map(|i| (i * 13) as u8).collect();
        let mut g = gso6(6, &payload, 1200);
        g.data_mut()[54 + 13] = TCP_ACK;
        let mut pool = PacketPool::new(8);
        let mut segs = Vec::new();
        segment(&g, &mut pool, &mut segs).unwrap();
        assert_eq!(segs.len(), 3);
        round_trip(segs);
    }

    #[test]
    fn partial_checksum_segments_join_without_verification() {
        // As a local stack hands MTU-sized segments over: the checksum
        // field holds the pseudo-header sum only.
        let (_, segs) = wire_segments(1000);
        let partial: Vec<DpPacket> = segs
            .into_iter()
            .map(|mut p| {
                let d = p.data_mut();
                let l4_len = d.len() - 34;
                let ps = sum16(&d[26..34], 0) + 6 + l4_len as u32;
                d[50..52].copy_from_slice(&fold(ps).to_be_bytes());
                p.set_offload(Offload {
                    flags: VNET_F_NEEDS_CSUM,
                    csum_start: 34,
                    csum_offset: 16,
                    ..Offload::NONE
                });
                p
            })
            .collect();
        let mut pkts = partial;
        let mut pool = PacketPool::new(8);
        assert_eq!(coalesce(&mut pkts, &mut pool), 3);
        let mut again = Vec::new();
        segment(&pkts[0], &mut pool, &mut again).unwrap();
        assert!(again.iter().all(|s| l4_ok(s.data())));
    }

    #[test]
    fn gaps_flags_bad_checksums_and_other_flows_are_left_alone() {
        // A missing segment: two runs.
        let (_, mut segs) = wire_segments(1000);
        segs.remove(1);
        let mut gone = PacketPool::new(8);
        assert_eq!(coalesce(&mut segs, &mut gone), 1);
        assert_eq!(
            segs.iter().map(seq).collect::<Vec<_>>(),
            [0xfffff000, 0xfffff000 + 2000]
        );
        // A corrupted payload: never joined.
        let (_, mut segs) = wire_segments(1000);
        segs[2].data_mut()[100] ^= 1;
        assert_eq!(
            coalesce(&mut segs, &mut gone),
            1,
            "0+1 only; 2 bad, 3 alone"
        );
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[1].offload(), Offload::NONE);
        // A corrupted first segment heads no run: the others join.
        let (_, mut segs) = wire_segments(1000);
        segs[0].data_mut()[100] ^= 1;
        assert_eq!(coalesce(&mut segs, &mut gone), 2);
        assert_eq!((segs.len(), segs[0].offload()), (2, Offload::NONE));
        // PSH ends a run; the next segment starts its own.
        let (_, mut segs) = wire_segments(1000);
        segs[1].data_mut()[34 + 13] |= TCP_PSH;
        let f = segs[1].data_mut();
        // Fix the TCP checksum for the flag change (one word).
        let old = u16::from_be_bytes([f[34 + 12], TCP_ACK]);
        let new = u16::from_be_bytes([f[34 + 12], TCP_ACK | TCP_PSH]);
        let ck = u16::from_be_bytes([f[50], f[51]]);
        let ck = crate::wire::checksum::update16(ck, old, new);
        f[50..52].copy_from_slice(&ck.to_be_bytes());
        assert_eq!(coalesce(&mut segs, &mut gone), 2);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].data()[34 + 13], TCP_ACK | TCP_PSH);
        // Another connection in between: nothing to join.
        let (_, mut segs) = wire_segments(1000);
        let mut other = segs[1].clone();
        other.data_mut()[34] ^= 1; // another source port (and a bad checksum)
        segs.insert(1, other);
        let n = segs.len();
        assert_eq!(
            coalesce(&mut segs, &mut gone),
            2,
            "segments 1..3 still join"
        );
        assert_eq!(segs.len(), n - 2);
    }

    #[test]
    fn a_single_or_non_tcp_packet_is_untouched() {
        let (_, segs) = wire_segments(1000);
        let mut one = vec![segs[0].clone()];
        let before = one[0].data().to_vec();
        let mut gone = PacketPool::new(8);
        assert_eq!(coalesce(&mut one, &mut gone), 0);
        assert_eq!(one[0].data(), &before[..]);
        let mut junk = vec![
            DpPacket::from_bytes(&[0u8; 20]),
            DpPacket::from_bytes(&[1u8; 70]),
        ];
        assert_eq!(coalesce(&mut junk, &mut gone), 0);
        assert_eq!(junk.len(), 2);
    }
}
