//! The packet type in translation: Ethernet or L3 (`(1, EtherType)`),
//! and the OpenFlow actions that change it, `encap(ethernet)` and
//! `decap()`, as OVS's xlate does them.
//!
//! The flow carries the type twice: the datapath's namespace word
//! (`PACKET_TYPE_NS`, beside `dl_type`) and the OpenFlow `packet_type`
//! word; every change here sets both. Nothing is emitted here: the next
//! commit compares the flow's type with the datapath packet's (`base`)
//! and emits `push_eth` or `pop_eth` (commit.rs), so an encap followed by
//! a decap costs nothing, and a legacy_l3 port's pseudo Ethernet header is
//! only pushed if the packet leaves by an Ethernet port.

use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::packet::{pt_l3, PT_NS_ETHERTYPE};
use ferrovs_openflow::action::ed_prop::PT_ETH;

use super::tunnel::{get, put};
use super::{Ctx, XlateError};
use crate::flow::{OfFlow, W_PACKET_TYPE};

/// Whether the flow is an L3 packet (no Ethernet header).
pub(crate) fn is_l3(f: &OfFlow) -> bool {
    get(f, dp::PACKET_TYPE_NS) != 0
}

/// Makes `f` an Ethernet packet with zero addresses (its EtherType kept).
pub(crate) fn become_ethernet(f: &mut OfFlow) {
    put(f, dp::PACKET_TYPE_NS, 0);
    f.0[W_PACKET_TYPE] = 0;
    put(f, dp::DL_SRC, 0);
    put(f, dp::DL_DST, 0);
}

/// Makes `f` an L3 packet of its EtherType (no addresses, no tags).
pub(crate) fn become_l3(f: &mut OfFlow) {
    let ty = super::dl_type(f);
    put(f, dp::PACKET_TYPE_NS, PT_NS_ETHERTYPE as u64);
    f.0[W_PACKET_TYPE] = pt_l3(ty) as u64;
    put(f, dp::DL_SRC, 0);
    put(f, dp::DL_DST, 0);
    f.0[dp::W_VLAN] = 0;
}

impl Ctx<'_, '_> {
    /// `encap(ethernet)`: an L3 packet becomes Ethernet with zero
    /// addresses (set them with `set_field`); on an Ethernet packet it is
    /// an error that drops the packet (OVS: unsupported packet type).
    /// Other headers (NSH, MPLS) are not translated yet.
    pub(crate) fn encap(&mut self, packet_type: u32) {
        if packet_type != PT_ETH {
            self.note(|| "(encap of this header not supported by ferrovs translation yet)".into());
            return;
        }
        // Changes so far apply to the packet before the new header.
        self.commit();
        if !is_l3(&self.flow) {
            self.note(|| {
                "Dropping packet as encap(ethernet) is not supported for packet type ethernet."
                    .into()
            });
            self.out.error = Some(XlateError::UnsupportedPacketType);
            return;
        }
        become_ethernet(&mut self.flow);
    }

    /// `decap()`: an Ethernet packet without VLAN tags becomes L3 (the
    /// `pop_eth` comes with the next commit, after the changes made so
    /// far are committed to the Ethernet frame); a tagged one, or a
    /// packet of another type, is dropped with an error, as OVS does.
    /// (As OVS, the new packet type given is not looked at: the next
    /// protocol is the EtherType.)
    pub(crate) fn decap(&mut self) {
        self.commit();
        if is_l3(&self.flow) {
            let ty = super::dl_type(&self.flow);
            self.note(|| format!("Dropping packet, cannot decap packet type 1:{ty:#x}"));
            self.out.error = Some(XlateError::UnsupportedPacketType);
            return;
        }
        if get(&self.flow, dp::VLAN0_TCI) as u16 & dp::VLAN_PRESENT != 0 {
            self.note(|| "Dropping packet, cannot decap Ethernet if VLAN is present.".into());
            self.out.error = Some(XlateError::UnsupportedPacketType);
            return;
        }
        become_l3(&mut self.flow);
    }
}
