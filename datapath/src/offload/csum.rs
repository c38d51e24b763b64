//! Finishing a partial L4 checksum in software.
//!
//! The checksum field of a partial packet already holds the (uninverted)
//! pseudo-header sum, so the full checksum is the plain Internet checksum
//! of everything from `csum_start` to the end of the IP packet, field
//! included: one pass over the L4 bytes. The end is taken from the IP
//! length fields, so Ethernet padding is never summed.

use super::{Offload, OffloadError};
use crate::packet::DpPacket;
use crate::wire::checksum::checksum;
use crate::wire::ethernet::{ETH_HLEN, ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_VLAN};
use crate::wire::ethernet::{ETH_TYPE_VLAN_8021AD, VLAN_HLEN};

/// EtherType and offset of the L3 header of an Ethernet frame (after any
/// VLAN tags), if the frame holds that much.
pub fn l3_offset(frame: &[u8]) -> Option<(u16, usize)> {
    let mut at = 12;
    loop {
        let t = u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]);
        if t == ETH_TYPE_VLAN || t == ETH_TYPE_VLAN_8021AD {
            at += VLAN_HLEN;
            continue;
        }
        let l3 = at + 2;
        debug_assert!(l3 >= ETH_HLEN);
        return (l3 <= frame.len()).then_some((t, l3));
    }
}

/// Where the IP packet starting at `l3` ends in `frame` (its length
/// fields, bounded by the frame), or the frame's end when it is not IP.
pub fn ip_end(frame: &[u8], ethertype: u16, l3: usize) -> usize {
    let field = |at: usize| -> Option<usize> {
        Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]) as usize)
    };
    let end = match ethertype {
        ETH_TYPE_IPV4 => field(l3 + 2).map(|t| l3 + t),
        ETH_TYPE_IPV6 => field(l3 + 4).map(|p| l3 + 40 + p),
        _ => None,
    };
    end.map_or(frame.len(), |e| e.min(frame.len()))
}

/// Completes the partial checksum `o` describes in `frame`.
pub fn complete(frame: &mut [u8], o: &Offload) -> Result<(), OffloadError> {
    let start = o.csum_start as usize;
    let at = start + o.csum_offset as usize;
    let end = match l3_offset(frame) {
        Some((t, l3)) if l3 <= start => ip_end(frame, t, l3),
        _ => frame.len(),
    };
    if at + 2 > end {
        return Err(OffloadError::CsumOutOfFrame);
    }
    let mut c = checksum(&frame[start..end]);
    if c == 0 {
        // 0 means "no checksum" to UDP; 0xffff is the same sum.
        c = 0xffff;
    }
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Completes a packet's partial checksum (if it has one) and clears its
/// checksum offload state. On error the state is cleared too: the frame
/// goes out with whatever its field holds.
pub fn complete_packet(p: &mut DpPacket) -> Result<(), OffloadError> {
    let o = p.offload();
    if !o.needs_csum() {
        return Ok(());
    }
    let r = complete(p.data_mut(), &o);
    p.set_offload(Offload {
        flags: o.flags & !super::VNET_F_NEEDS_CSUM,
        ..o
    });
    r
}

/// Finds the partial checksum of a frame that came with no offload
/// metadata (AF_XDP): a TCP or UDP checksum field holding exactly the
/// folded pseudo-header sum is what a local stack leaves for the device
/// to finish (a veth passes such packets on as they are). Returns the
/// offload state that says so. A complete checksum that happens to equal
/// that value is finished to the same value again, so a false match is
/// harmless. Fragments and IPv6 extension headers are left alone.
pub fn detect_partial(frame: &[u8]) -> Option<Offload> {
    use crate::wire::checksum::{fold, sum16};
    let (t, l3) = l3_offset(frame)?;
    let b = |i: usize| frame.get(i).copied();
    let (proto, l4, l4_len, addrs) = match t {
        ETH_TYPE_IPV4 => {
            let ihl = (b(l3)? & 0x0f) as usize * 4;
            let tot = u16::from_be_bytes([b(l3 + 2)?, b(l3 + 3)?]) as usize;
            let frag = u16::from_be_bytes([b(l3 + 6)?, b(l3 + 7)?]) & 0x3fff;
            if ihl < 20 || frag != 0 || tot < ihl || l3 + tot > frame.len() {
                return None;
            }
            (
                b(l3 + 9)?,
                l3 + ihl,
                tot - ihl,
                frame.get(l3 + 12..l3 + 20)?,
            )
        }
        ETH_TYPE_IPV6 => {
            let pl = u16::from_be_bytes([b(l3 + 4)?, b(l3 + 5)?]) as usize;
            if l3 + 40 + pl > frame.len() {
                return None;
            }
            (b(l3 + 6)?, l3 + 40, pl, frame.get(l3 + 8..l3 + 40)?)
        }
        _ => return None,
    };
    let off = match proto {
        6 => 16,
        17 => 6,
        _ => return None,
    };
    if l4_len < off + 2 {
        return None;
    }
    let field = u16::from_be_bytes([b(l4 + off)?, b(l4 + off + 1)?]);
    if proto == 17 && field == 0 {
        return None;
    }
    let pseudo = fold(sum16(addrs, 0) + proto as u32 + l4_len as u32);
    (field == pseudo).then_some(Offload {
        flags: super::VNET_F_NEEDS_CSUM,
        csum_start: l4 as u16,
        csum_offset: off as u16,
        ..Offload::NONE
    })
}
