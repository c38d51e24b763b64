//! VLAN tag push and pop, in the packet's headroom.
//!
//! A push opens a 4-byte gap after the two MAC addresses by moving those
//! 12 bytes forward into headroom (no copy of the payload). A pop closes
//! it the same way. Header offsets move with the payload start.

use crate::packet::{DpPacket, Offsets, NO_OFFSET};
use crate::wire::ethernet::{is_vlan_tpid, ETH_HLEN};
use crate::wire::{be16, put_be16};

fn shift(o: u16, by: isize) -> u16 {
    if o == NO_OFFSET {
        o
    } else {
        (o as isize + by) as u16
    }
}

fn shift_all(p: &mut DpPacket, by: isize) {
    let o = p.offsets();
    p.set_offsets(Offsets {
        l2_5: shift(o.l2_5, by),
        l3: shift(o.l3, by),
        l4: shift(o.l4, by),
    });
}

/// Pushes an outermost tag. Returns false (packet unchanged) if the frame
/// is not Ethernet or the headroom is used up.
pub fn push_vlan(p: &mut DpPacket, tpid: u16, tci: u16) -> bool {
    if p.len() < ETH_HLEN || !p.insert_gap(12, 4) {
        return false;
    }
    let d = p.data_mut();
    put_be16(d, 12, tpid);
    put_be16(d, 14, tci);
    shift_all(p, 4);
    true
}

/// Pops the outermost tag if there is one.
pub fn pop_vlan(p: &mut DpPacket) -> bool {
    let d = p.data();
    if d.len() < ETH_HLEN + 4 || !is_vlan_tpid(be16(d, 12)) {
        return false;
    }
    if !p.remove_gap(12, 4) {
        return false;
    }
    shift_all(p, -4);
    true
}
