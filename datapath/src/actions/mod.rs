//! Datapath actions: what a megaflow does with the packets it matches.
//!
//! [`DpAction`] is a plain enum (no trait objects), so executing a list is a
//! `match` per action per packet. Nested lists (clone, sample,
//! check_pkt_len) are boxed slices built once when the flow is installed.
//! An empty list drops the packet.

pub mod eth;
pub mod execute;
pub mod mpls;
pub mod set;
pub mod vlan;

use std::sync::Arc;

use smallvec::SmallVec;

pub use execute::{ExecCtx, MeterHook};
pub use set::{Masked, SetArp, SetField, SetIpv6, SetNd};

/// How the `hash` action computes `dp_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// 5-tuple (addresses, protocol, ports).
    L4,
    /// 5-tuple hashed so that both directions give the same value.
    SymL4,
}

/// One datapath action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpAction {
    /// Send to datapath port `0`.
    Output(u32),
    /// Push a VLAN tag (TPID 0x8100 or 0x88a8) with this TCI.
    PushVlan { tpid: u16, tci: u16 },
    /// Pop the outermost VLAN tag.
    PopVlan,
    /// Put an Ethernet header in front of an L3 packet (`push_eth`).
    PushEth { src: [u8; 6], dst: [u8; 6] },
    /// Take the Ethernet header off (`pop_eth`): the packet becomes L3.
    PopEth,
    /// Push an MPLS label stack entry; the EtherType becomes `ethertype`.
    PushMpls { ethertype: u16, lse: u32 },
    /// Pop the top MPLS entry; the EtherType becomes `0`.
    PopMpls(u16),
    /// Masked set of header or metadata fields, checksums fixed.
    Set(SetField),
    /// Re-enter the datapath with this recirculation id.
    Recirc(u32),
    /// Hand a copy to the slow path with `userdata` (controller action,
    /// sFlow, ...).
    Userspace { userdata: Arc<[u8]> },
    /// Run the nested actions on a copy; the original continues.
    Clone(Box<[DpAction]>),
    /// Compute `dp_hash`.
    Hash { alg: HashAlg, basis: u32 },
    /// With probability `probability / 2^32`, run `actions` on a copy.
    Sample {
        probability: u32,
        actions: Box<[DpAction]>,
    },
    /// Run `gt` if the packet is longer than `max_len` bytes, else `le`.
    CheckPktLen {
        max_len: u16,
        gt: Box<[DpAction]>,
        le: Box<[DpAction]>,
    },
    /// Pass the packet through meter `0` (the hook decides; drop on band).
    Meter(u32),
    /// Prepend the outer tunnel header of the template (`tnl_push`).
    TunnelPush(Arc<crate::tunnel::TnlPush>),
    /// Decapsulate and recirculate from the tunnel port (`tnl_pop`).
    TunnelPop(crate::tunnel::TnlPop),
    /// Run the packet through the connection tracker (`ct(...)`); sets
    /// the packet's ct_* metadata for the following recirculation.
    Ct(Box<crate::conntrack::CtAction>),
    /// Forget the packet's conntrack metadata (`ct_clear`).
    CtClear,
}

/// An action list shared between the flow table and the PMDs.
pub type DpActions = Arc<[DpAction]>;

/// Actions kept inline in a megaflow up to this many (rewrite + output,
/// the common megaflow, needs no allocation of its own).
pub const INLINE_ACTIONS: usize = 2;

/// A megaflow's own action list: inline up to [`INLINE_ACTIONS`].
pub type FlowActions = SmallVec<[DpAction; INLINE_ACTIONS]>;

/// Moves the actions out of `v` into `dst` (a megaflow's list, new or
/// recycled: its old actions are dropped), leaving `v` empty with its
/// capacity (the upcall reply's vector is reused for every miss).
///
/// One copy of the elements, and no allocation when they fit inline or
/// `dst` already has the room; `collect()` from a `drain` costs about
/// twice as many instructions.
pub fn move_actions(v: &mut Vec<DpAction>, dst: &mut FlowActions) {
    dst.clear();
    let n = v.len();
    dst.reserve_exact(n);
    // SAFETY: `dst` is empty with room for at least `n` elements
    // (`reserve_exact`) and `v` holds `n` initialized ones; the two buffers
    // are distinct. After the copy `v.set_len(0)` makes `v` forget the
    // elements (they are moved, so they must not be dropped twice) and
    // `dst.set_len(n)` covers exactly the `n` slots just written.
    unsafe {
        std::ptr::copy_nonoverlapping(v.as_ptr(), dst.as_mut_ptr(), n);
        v.set_len(0);
        dst.set_len(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_actions(v: &mut Vec<DpAction>) -> FlowActions {
        let mut a = FlowActions::new();
        move_actions(v, &mut a);
        a
    }

    #[test]
    fn take_actions_moves_every_action_once() {
        let user: Arc<[u8]> = Arc::from(&b"abc"[..]);
        let mut v = Vec::with_capacity(8);
        v.push(DpAction::Output(3));
        v.push(DpAction::Userspace {
            userdata: user.clone(),
        });
        v.push(DpAction::Clone(vec![DpAction::PopVlan].into_boxed_slice()));
        let want = v.clone();
        assert_eq!(Arc::strong_count(&user), 3);
        let a = take_actions(&mut v);
        assert!(v.is_empty());
        assert_eq!(v.capacity(), 8);
        assert_eq!(&a[..], &want[..]);
        drop(want);
        // Moved, not copied: one reference from `user`, one from `a`.
        assert_eq!(Arc::strong_count(&user), 2);
        drop(a);
        assert_eq!(Arc::strong_count(&user), 1);
        assert!(take_actions(&mut v).is_empty());
        // Two fit inline.
        v.push(DpAction::PopVlan);
        v.push(DpAction::Output(1));
        let a = take_actions(&mut v);
        assert!(!a.spilled());
        assert_eq!(&a[..], &[DpAction::PopVlan, DpAction::Output(1)]);
    }
}
