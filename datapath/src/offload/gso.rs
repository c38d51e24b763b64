//! Software segmentation of a GSO packet (TCP over IPv4/IPv6, and UDP
//! segmentation), for ports that cannot take a large segment whole.
//!
//! Each segment is the packet's headers (Ethernet to L4, copied) followed
//! by `gso_size` bytes of payload, with the fields that differ fixed up:
//! IPv4 total length, identification (+1 per segment) and header checksum;
//! IPv6 payload length; TCP sequence number, and FIN/PSH only on the last
//! segment, CWR only on the first; UDP length. The L4 checksum of each
//! segment is computed in full (pseudo-header plus segment), so segments
//! leave with no offload state. The L4 header is found at `csum_start`,
//! which the kernel sets for every GSO packet; its length must fit the
//! packet, or the packet is refused.

use super::csum::{ip_end, l3_offset};
use super::{Offload, OffloadError, VNET_GSO_ECN, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_GSO_UDP_L4};
use crate::packet::{DpPacket, PacketPool};
use crate::wire::checksum::{checksum, fold, sum16};
use crate::wire::ethernet::{ETH_TYPE_IPV4, ETH_TYPE_IPV6};

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;
/// More segments than this from one packet means a bogus gso_size.
const MAX_SEGMENTS: usize = 1024;

/// Appends the segments of GSO packet `p` to `out` (buffers from `pool`).
/// Returns how many were made.
pub fn segment(
    p: &DpPacket,
    pool: &mut PacketPool,
    out: &mut Vec<DpPacket>,
) -> Result<usize, OffloadError> {
    let o = p.offload();
    let d = p.data();
    let kind = o.gso_type & !VNET_GSO_ECN;
    let (ethertype, l3) = l3_offset(d).ok_or(OffloadError::GsoHeaders)?;
    let v4 = match ethertype {
        ETH_TYPE_IPV4 if d.get(l3).is_some_and(|b| b >> 4 == 4) => true,
        ETH_TYPE_IPV6 if d.get(l3).is_some_and(|b| b >> 4 == 6) => false,
        _ => return Err(OffloadError::GsoHeaders),
    };
    let l4 = o.csum_start as usize;
    let min_l4 = l3 + if v4 { 20 } else { 40 };
    if l4 < min_l4 {
        return Err(OffloadError::GsoHeaders);
    }
    let (hdr, proto) = match kind {
        VNET_GSO_TCPV4 | VNET_GSO_TCPV6 => {
            let doff = (*d.get(l4 + 12).ok_or(OffloadError::GsoHeaders)? >> 4) as usize * 4;
            if doff < 20 {
                return Err(OffloadError::GsoHeaders);
            }
            (l4 + doff, 6u8)
        }
        VNET_GSO_UDP_L4 => (l4 + 8, 17u8),
        _ => return Err(OffloadError::GsoUnsupported),
    };
    let end = ip_end(d, ethertype, l3);
    if hdr > end {
        return Err(OffloadError::GsoHeaders);
    }
    let mss = o.gso_size as usize;
    if mss == 0 {
        return Err(OffloadError::GsoIncomplete);
    }
    let payload = &d[hdr..end];
    let n = payload.len().div_ceil(mss).max(1);
    if n > MAX_SEGMENTS {
        return Err(OffloadError::GsoHeaders);
    }
    let headers = &d[..hdr];
    let ip_id = u16::from_be_bytes([d[l3 + 4], d[l3 + 5]]);
    let seq = u32::from_be_bytes([d[l4 + 4], d[l4 + 5], d[l4 + 6], d[l4 + 7]]);
    // The pseudo-header's address words, summed once for all segments.
    let addr_sum = if v4 {
        sum16(&d[l3 + 12..l3 + 20], 0)
    } else {
        sum16(&d[l3 + 8..l3 + 40], 0)
    };
    for i in 0..n {
        let chunk = &payload[(i * mss).min(payload.len())..((i + 1) * mss).min(payload.len())];
        let mut s = pool.get();
        s.set_concat(headers, chunk);
        let f = s.data_mut();
        let l4_len = hdr - l4 + chunk.len();
        if v4 {
            let tot = (hdr - l3 + chunk.len()) as u16;
            f[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            f[l3 + 4..l3 + 6].copy_from_slice(&ip_id.wrapping_add(i as u16).to_be_bytes());
            f[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let ihl = (f[l3] & 0x0f) as usize * 4;
            let c = checksum(&f[l3..l3 + ihl.min(l4 - l3)]);
            f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            let pl = (hdr - l3 - 40 + chunk.len()) as u16;
            f[l3 + 4..l3 + 6].copy_from_slice(&pl.to_be_bytes());
        }
        let csum_at = if proto == 6 {
            f[l4 + 4..l4 + 8].copy_from_slice(&seq.wrapping_add((i * mss) as u32).to_be_bytes());
            if i + 1 < n {
                f[l4 + 13] &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 {
                f[l4 + 13] &= !TCP_CWR;
            }
            l4 + 16
        } else {
            f[l4 + 4..l4 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            l4 + 6
        };
        f[csum_at..csum_at + 2].copy_from_slice(&[0, 0]);
        let mut acc = addr_sum + proto as u32 + (l4_len as u32 & 0xffff) + (l4_len as u32 >> 16);
        acc = sum16(&f[l4..l4 + l4_len], acc);
        let mut c = !fold(acc);
        if c == 0 && proto == 17 {
            c = 0xffff;
        }
        f[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        out.push(s);
    }
    Ok(n)
}

/// For a TCP frame with a partial checksum `o` whose IP packet is larger
/// than `mtu` (a GSO segment that lost its metadata on the way, as AF_XDP
/// delivers them): the offload state of a GSO packet whose segments fill
/// the MTU. None when the frame is not such a packet.
pub fn infer_tcp_gso(frame: &[u8], o: Offload, mtu: usize) -> Option<Offload> {
    if !o.needs_csum() || o.is_gso() || o.csum_offset != 16 {
        return None;
    }
    let (ethertype, l3) = l3_offset(frame)?;
    let gso_type = match ethertype {
        ETH_TYPE_IPV4 => VNET_GSO_TCPV4,
        ETH_TYPE_IPV6 => VNET_GSO_TCPV6,
        _ => return None,
    };
    let l4 = o.csum_start as usize;
    let doff = (*frame.get(l4 + 12)? >> 4) as usize * 4;
    let hdr = l4 + doff;
    let ip_len = ip_end(frame, ethertype, l3).checked_sub(l3)?;
    if doff < 20 || l4 < l3 || ip_len <= mtu || hdr - l3 >= mtu {
        return None;
    }
    Some(Offload {
        gso_type,
        gso_size: u16::try_from(mtu - (hdr - l3)).ok()?,
        hdr_len: u16::try_from(hdr).ok()?,
        ..o
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::offload::VNET_F_NEEDS_CSUM;

    /// A TCP/IPv4 GSO packet as a local stack hands it over: partial
    /// checksum (pseudo-header sum only), total length of the whole.
    pub(crate) fn gso_tcp4(payload: &[u8], mss: u16) -> DpPacket {
        let mut f = vec![0u8; 14 + 20 + 32];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        let tot = (20 + 32 + payload.len()) as u16;
        ip[2..4].copy_from_slice(&tot.to_be_bytes());
        ip[4..6].copy_from_slice(&[0x12, 0x34]);
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
        ip[16..20].copy_from_slice(&[198, 18, 0, 2]);
        let c = checksum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let tcp = &mut f[34..66];
        tcp[0..2].copy_from_slice(&5001u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&40000u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&0xfffff000u32.to_be_bytes());
        tcp[12] = 8 << 4;
        tcp[13] = TCP_PSH | TCP_FIN | TCP_CWR | 0x10;
        let l4_len = 32 + payload.len() as u32;
        let ps = sum16(&[198, 18, 0, 1, 198, 18, 0, 2], 0) + 6 + l4_len;
        f[34 + 16..34 + 18].copy_from_slice(&fold(ps).to_be_bytes());
        f.extend_from_slice(payload);
        let mut p = DpPacket::from_bytes(&f);
        p.set_offload(Offload {
            flags: VNET_F_NEEDS_CSUM,
            gso_type: VNET_GSO_TCPV4 | VNET_GSO_ECN,
            hdr_len: 66,
            gso_size: mss,
            csum_start: 34,
            csum_offset: 16,
        });
        p
    }

    pub(crate) fn l4_ok(f: &[u8]) -> bool {
        let l4_len = u16::from_be_bytes([f[16], f[17]]) as usize - 20;
        let ps = sum16(&f[26..34], 0) + f[23] as u32 + l4_len as u32;
        fold(sum16(&f[34..34 + l4_len], ps)) == 0xffff
    }

    #[test]
    fn tcp4_segments_carry_right_headers_and_checksums() {
        let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7 + 3) as u8).collect();
        let p = gso_tcp4(&payload, 1448);
        let mut pool = PacketPool::new(8);
        let mut out = Vec::new();
        assert_eq!(segment(&p, &mut pool, &mut out), Ok(3));
        let mut joined = Vec::new();
        for (i, s) in out.iter().enumerate() {
            let f = s.data();
            assert_eq!(checksum(&f[14..34]), 0, "IPv4 header checksum");
            assert!(l4_ok(f), "TCP checksum of segment {i}");
            let id = u16::from_be_bytes([f[18], f[19]]);
            assert_eq!(id, 0x1234 + i as u16);
            let seq = u32::from_be_bytes(f[38..42].try_into().unwrap());
            assert_eq!(seq, 0xfffff000u32.wrapping_add(1448 * i as u32));
            let flags = f[47];
            assert_eq!(flags & (TCP_FIN | TCP_PSH) != 0, i == 2);
            assert_eq!(flags & TCP_CWR != 0, i == 0);
            assert!(!s.offload().pending());
            joined.extend_from_slice(&f[66..]);
        }
        assert_eq!(out[0].len(), 66 + 1448);
        assert_eq!(out[2].len(), 66 + 4000 - 2 * 1448);
        assert_eq!(joined, payload);
    }

    #[test]
    fn complete_finishes_a_partial_checksum() {
        let payload = vec![0xabu8; 301];
        let mut p = gso_tcp4(&payload, 1448);
        let o = Offload {
            gso_type: 0,
            ..p.offload()
        };
        p.set_offload(o);
        crate::offload::csum::complete_packet(&mut p).unwrap();
        assert!(l4_ok(p.data()));
        assert!(!p.offload().pending());
    }

    #[test]
    fn bad_headers_are_refused_not_panicked_on() {
        let mut p = gso_tcp4(&[1; 100], 10);
        let mut o = p.offload();
        o.csum_start = 20; // inside the IPv4 header
        p.set_offload(o);
        let mut pool = PacketPool::new(2);
        let mut out = Vec::new();
        assert_eq!(
            segment(&p, &mut pool, &mut out),
            Err(OffloadError::GsoHeaders)
        );
        assert!(out.is_empty());
    }

    /// An IPv6 GSO packet of `proto` (TCP with a 20-byte header, or UDP)
    /// with a partial checksum.
    pub(crate) fn gso6(proto: u8, payload: &[u8], mss: u16) -> DpPacket {
        let l4h = if proto == 6 { 20 } else { 8 };
        let mut f = vec![0u8; 14 + 40 + l4h];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        let pl = (l4h + payload.len()) as u16;
        f[18..20].copy_from_slice(&pl.to_be_bytes());
        f[20] = proto;
        f[21] = 64;
        f[22..38].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f[38..54].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f[54..56].copy_from_slice(&1000u16.to_be_bytes());
        f[56..58].copy_from_slice(&2000u16.to_be_bytes());
        let at = if proto == 6 {
            f[54 + 12] = 5 << 4;
            f[54 + 13] = 0x18;
            54 + 16
        } else {
            f[58..60].copy_from_slice(&pl.to_be_bytes());
            54 + 6
        };
        let ps = sum16(&f[22..54], 0) + proto as u32 + pl as u32;
        f[at..at + 2].copy_from_slice(&fold(ps).to_be_bytes());
        f.extend_from_slice(payload);
        let mut p = DpPacket::from_bytes(&f);
        p.set_offload(Offload {
            flags: VNET_F_NEEDS_CSUM,
            gso_type: if proto == 6 {
                VNET_GSO_TCPV6
            } else {
                VNET_GSO_UDP_L4
            },
            hdr_len: (54 + l4h) as u16,
            gso_size: mss,
            csum_start: 54,
            csum_offset: (at - 54) as u16,
        });
        p
    }

    fn l4_ok6(f: &[u8], proto: u8) -> bool {
        let pl = u16::from_be_bytes([f[18], f[19]]) as usize;
        let ps = sum16(&f[22..54], 0) + proto as u32 + pl as u32;
        fold(sum16(&f[54..54 + pl], ps)) == 0xffff
    }

    #[test]
    fn tcp6_and_udp6_segments_are_complete_datagrams() {
        let payload: Vec<u8> = (0..2500u32).map(|i| (i * 31) as u8).collect();
        for proto in [6u8, 17] {
            let p = gso6(proto, &payload, 1000);
            let mut pool = PacketPool::new(8);
            let mut out = Vec::new();
            assert_eq!(segment(&p, &mut pool, &mut out), Ok(3), "proto {proto}");
            let hdr = if proto == 6 { 74 } else { 62 };
            let mut joined = Vec::new();
            for (i, s) in out.iter().enumerate() {
                let f = s.data();
                assert!(l4_ok6(f, proto), "proto {proto} segment {i} checksum");
                let pl = u16::from_be_bytes([f[18], f[19]]) as usize;
                assert_eq!(pl + 54, f.len());
                if proto == 17 {
                    assert_eq!(u16::from_be_bytes([f[58], f[59]]) as usize, pl);
                } else {
                    let seq = u32::from_be_bytes(f[58..62].try_into().unwrap());
                    assert_eq!(seq, 1000 * i as u32);
                }
                joined.extend_from_slice(&f[hdr..]);
            }
            assert_eq!(joined, payload);
        }
    }

    #[test]
    fn partial_checksum_detected_and_finished() {
        use crate::offload::csum::{complete, detect_partial};
        // A non-GSO TCP/IPv4 packet as a stack leaves it (partial).
        let p = gso_tcp4(&[5u8; 700], 1448);
        let mut f = p.data().to_vec();
        let o = detect_partial(&f).expect("partial checksum recognized");
        assert_eq!((o.csum_start, o.csum_offset), (34, 16));
        complete(&mut f, &o).unwrap();
        assert!(l4_ok(&f));
        // Once complete it is no longer taken for partial.
        assert_eq!(detect_partial(&f), None);
        // UDP/IPv6 the same way.
        let p = gso6(17, &[9u8; 300], 1000);
        assert!(detect_partial(p.data()).is_some());
    }

    #[test]
    fn gso_inferred_from_an_oversized_partial_tcp_frame() {
        let p = gso_tcp4(&[3u8; 4000], 1448);
        let plain = Offload {
            gso_type: 0,
            gso_size: 0,
            ..p.offload()
        };
        let o = infer_tcp_gso(p.data(), plain, 1500).expect("oversized TCP frame");
        assert_eq!(o.gso_type, VNET_GSO_TCPV4);
        assert_eq!(o.gso_size, 1500 - 20 - 32);
        assert_eq!(o.hdr_len, 66);
        let mut q = p.clone();
        q.set_offload(o);
        let mut pool = PacketPool::new(4);
        let mut out = Vec::new();
        assert_eq!(segment(&q, &mut pool, &mut out), Ok(3));
        assert!(out.iter().all(|s| s.len() - 14 <= 1500 && l4_ok(s.data())));
        // Within the MTU: nothing to infer.
        assert_eq!(infer_tcp_gso(p.data(), plain, 9000), None);
    }
}
