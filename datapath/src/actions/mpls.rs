//! MPLS label stack push and pop, in the packet's headroom.
//!
//! The stack sits between the innermost EtherType (after any VLAN tags)
//! and the L3 header. A push opens a 4-byte gap there by moving the L2
//! header into headroom (no copy of the payload) and writes the new entry
//! and the MPLS EtherType; a pop closes the gap the same way and writes
//! the EtherType the caller names (an MPLS one while entries remain).
//! `l2_5` marks the top entry; L3 and L4 offsets move with the payload.

use crate::packet::{DpPacket, Offsets, NO_OFFSET};
use crate::wire::ethernet::{is_vlan_tpid, ETH_HLEN};
use crate::wire::{be16, be32, put_be16, put_be32};

/// Bottom-of-stack bit of a label stack entry.
pub const MPLS_BOS: u32 = 0x100;

/// True for the MPLS unicast and multicast EtherTypes.
pub fn is_mpls(ethertype: u16) -> bool {
    matches!(ethertype, 0x8847 | 0x8848)
}

/// Offset of the innermost EtherType (after the VLAN tags), if the frame
/// holds one.
fn ethertype_at(d: &[u8]) -> Option<usize> {
    let mut at = 12;
    while d.len() >= at + 2 && is_vlan_tpid(be16(d, at)) {
        at += 4;
    }
    (d.len() >= at + 2 && at + 2 >= ETH_HLEN).then_some(at)
}

fn shift(o: u16, by: isize) -> u16 {
    if o == NO_OFFSET {
        o
    } else {
        (o as isize + by) as u16
    }
}

/// Pushes label stack entry `lse` with EtherType `ethertype` (0x8847 or
/// 0x8848). False (packet unchanged) for another EtherType, a frame too
/// short, or no headroom.
pub fn push_mpls(p: &mut DpPacket, ethertype: u16, lse: u32) -> bool {
    if !is_mpls(ethertype) {
        return false;
    }
    let Some(et) = ethertype_at(p.data()) else {
        return false;
    };
    let at = et + 2;
    if !p.insert_gap(at, 4) {
        return false;
    }
    let d = p.data_mut();
    put_be16(d, et, ethertype);
    put_be32(d, at, lse);
    let o = p.offsets();
    p.set_offsets(Offsets {
        l2_5: at as u16,
        l3: shift(o.l3, 4),
        l4: shift(o.l4, 4),
    });
    true
}

/// Pops the top entry, the EtherType becoming `ethertype`. False (packet
/// unchanged) if the packet is not MPLS.
pub fn pop_mpls(p: &mut DpPacket, ethertype: u16) -> bool {
    let d = p.data();
    let Some(et) = ethertype_at(d) else {
        return false;
    };
    let at = et + 2;
    if !is_mpls(be16(d, et)) || d.len() < at + 4 {
        return false;
    }
    let bottom = be32(d, at) & MPLS_BOS != 0;
    if !p.remove_gap(at, 4) {
        return false;
    }
    put_be16(p.data_mut(), et, ethertype);
    let o = p.offsets();
    p.set_offsets(Offsets {
        l2_5: if bottom { NO_OFFSET } else { at as u16 },
        l3: shift(o.l3, -4),
        l4: shift(o.l4, -4),
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_frame(vlan: bool) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f[..6].copy_from_slice(&[0x50, 0x54, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[0x50, 0x54, 0, 0, 0, 1]);
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        f
    }

    #[test]
    fn push_two_then_pop_two_gives_back_the_frame() {
        let orig = ipv4_frame(false);
        let mut p = DpPacket::from_bytes(&orig);
        let mut k = crate::flow::FlowKey::default();
        crate::flow::extract(&mut p, &mut k);
        let l3 = p.offsets().l3;
        assert!(push_mpls(&mut p, 0x8847, 10 << 12 | MPLS_BOS | 64));
        assert!(push_mpls(&mut p, 0x8847, 20 << 12 | 63));
        let d = p.data();
        assert_eq!(d.len(), orig.len() + 8);
        assert_eq!(be16(d, 12), 0x8847);
        assert_eq!(be32(d, 14), 20 << 12 | 63, "newest on top");
        assert_eq!(be32(d, 18), 10 << 12 | MPLS_BOS | 64);
        assert_eq!(&d[22..], &orig[14..], "payload untouched");
        assert_eq!(p.offsets().l2_5, 14);
        assert_eq!(p.offsets().l3, l3 + 8);
        // The flow key sees the stack.
        crate::flow::extract(&mut p, &mut k);
        let mut f = crate::flow::Flow::default();
        k.expand(&mut f);
        assert_eq!(f.get(crate::flow::layout::DL_TYPE), 0x8847);
        assert_eq!(f.get(crate::flow::layout::MPLS_LSE), (20 << 12 | 63) as u64);
        // Pop the top: still MPLS; then the bottom: IPv4 again.
        assert!(pop_mpls(&mut p, 0x8847));
        assert_eq!(p.offsets().l2_5, 14);
        assert!(pop_mpls(&mut p, 0x0800));
        assert_eq!(p.data(), &orig[..]);
        assert_eq!(p.offsets().l2_5, NO_OFFSET);
        assert!(!pop_mpls(&mut p, 0x0800), "not MPLS any more");
    }

    #[test]
    fn push_goes_under_the_vlan_tag() {
        let orig = ipv4_frame(true);
        let mut p = DpPacket::from_bytes(&orig);
        assert!(push_mpls(&mut p, 0x8848, 5 << 12 | MPLS_BOS | 1));
        let d = p.data();
        assert_eq!(be16(d, 12), 0x8100);
        assert_eq!(be16(d, 16), 0x8848);
        assert_eq!(be32(d, 18), 5 << 12 | MPLS_BOS | 1);
        assert_eq!(&d[22..], &orig[18..]);
        assert!(!push_mpls(&mut p, 0x0800, 0), "not an MPLS EtherType");
        assert!(pop_mpls(&mut p, 0x0800));
        assert_eq!(p.data(), &orig[..]);
    }

    #[test]
    fn short_frames_are_left_alone() {
        let mut p = DpPacket::from_bytes(&[0u8; 10]);
        assert!(!push_mpls(&mut p, 0x8847, 0));
        assert!(!pop_mpls(&mut p, 0x0800));
        assert_eq!(p.data(), &[0u8; 10]);
    }
}
