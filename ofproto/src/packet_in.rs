//! Sending packet-ins that translation produced to the bridge's
//! connections: OFPT_PACKET_IN with the reason, table id, cookie and the
//! pipeline match (input port and the metadata and registers that are not
//! zero, as OVS sends), the whole packet (there are no buffers:
//! `buffer_id` is always OFP_NO_BUFFER, and like OVS 3.1 neither max_len
//! nor miss_send_len cut the packet), to every connection with the
//! packet-in's controller id whose asynchronous configuration wants that
//! reason, through the connection's rate limit if it has one. A connection that set
//! packet-in format `nxt_packet_in2` gets `NXT_PACKET_IN2` instead, with the
//! continuation of a `controller(pause)` (see [`crate::continuation`]).

use ferrovs_openflow::message::nicira::{NxMessage, PacketIn2};
use ferrovs_openflow::message::{Message, PacketIn as OfpPacketIn};

use crate::continuation::NXPIF_NXT_PACKET_IN2;

use crate::connmgr::async_config::AsyncKind;
use crate::flow::{OfFlow, OfMatch, TlvMap, W_METADATA, W_REGS, W_TUN_MD_PRESENT};
use crate::ofproto::Ofproto;
use crate::xlate::{
    PacketIn, REASON_ACTION, REASON_EXPLICIT_MISS, REASON_IMPLICIT_MISS, REASON_NO_MATCH,
};
use ferrovs_openflow::Version;

/// The pipeline fields of a packet-in (as OVS's `flow_get_metadata`):
/// in_port, the tunnel fields that are not zero (the OAM flag alone of the
/// flags), the `tun_metadata` options present (their bytes placed by
/// `tlv`), non-zero metadata and registers.
fn pipeline_match(flow: &OfFlow, tlv: &TlvMap) -> OfMatch {
    use ferrovs_datapath::flow::layout as dp;
    let mut mask = OfFlow::default();
    let inp = dp::IN_PORT;
    mask.0[inp.word as usize] = inp.word_mask();
    for f in [dp::TUN_ID, dp::TUN_SRC, dp::TUN_DST] {
        if flow.0[f.word as usize] & f.word_mask() != 0 {
            mask.0[f.word as usize] |= f.word_mask();
        }
    }
    for (hi, lo) in [
        (dp::TUN_IPV6_SRC_HI, dp::TUN_IPV6_SRC_LO),
        (dp::TUN_IPV6_DST_HI, dp::TUN_IPV6_DST_LO),
    ] {
        if flow.0[hi.word as usize] | flow.0[lo.word as usize] != 0 {
            mask.0[hi.word as usize] = !0;
            mask.0[lo.word as usize] = !0;
        }
    }
    let oam = dp::TUN_FLAGS.place(ferrovs_datapath::tunnel::pop::TNL_F_OAM as u64);
    mask.0[dp::TUN_FLAGS.word as usize] |= flow.0[dp::TUN_FLAGS.word as usize] & oam;
    crate::flow::geneve::unwild_present(flow, &mut mask, tlv);
    mask.0[W_TUN_MD_PRESENT] = flow.0[W_TUN_MD_PRESENT];
    for w in W_METADATA..W_REGS + 8 {
        if flow.0[w] != 0 {
            // Whole 32-bit registers that are not zero.
            let v = flow.0[w];
            let m = if w == W_METADATA {
                !0
            } else {
                (if v >> 32 != 0 {
                    0xffff_ffff_0000_0000
                } else {
                    0
                }) | (if v as u32 != 0 { 0xffff_ffff } else { 0 })
            };
            mask.0[w] = m;
        }
    }
    OfMatch {
        value: flow.masked(&mask),
        mask,
    }
}

/// The reason as version `v` names it (OVS's
/// `encode_packet_in_reason`): action_set, group and packet_out are
/// `action` before OpenFlow 1.4; an explicit miss is `no_match` from 1.3
/// (`action` before); an implicit miss is `no_match`.
pub fn wire_reason(reason: u8, v: Version) -> u8 {
    match reason {
        3..=5 if v < Version::Of14 => REASON_ACTION,
        REASON_EXPLICIT_MISS if v < Version::Of13 => REASON_ACTION,
        REASON_EXPLICIT_MISS | REASON_IMPLICIT_MISS => REASON_NO_MATCH,
        r => r,
    }
}

/// Table misses, implicit or explicit (they share a rate limiter).
fn is_miss(reason: u8) -> bool {
    matches!(
        reason,
        REASON_NO_MATCH | REASON_EXPLICIT_MISS | REASON_IMPLICIT_MISS
    )
}

impl Ofproto {
    /// Sends `pi` (with the packet's bytes) to the connections that want
    /// it and have its controller id; returns how many got (or queued) it.
    /// The whole packet goes, whatever the action's max_len or the
    /// connection's miss_send_len: OVS 3.1 keeps no buffers and sends
    /// every packet-in unbuffered and whole.
    pub fn send_packet_in(&mut self, pi: &PacketIn, packet: &[u8]) -> usize {
        let tlv = self.tlv.clone();
        let om = pipeline_match(&pi.flow, &tlv);
        let mut n = 0;
        let instance = self.instance_id;
        let port = crate::xlate::in_port(&pi.flow);
        let now = std::time::Instant::now();
        self.each_conn(None, |c| {
            if c.controller_id != pi.controller_id
                || !c.receives_async(AsyncKind::PacketIn, pi.reason)
            {
                return;
            }
            let v = c.ver();
            let reason = wire_reason(pi.reason, v);
            let msg = if c.packet_in_format == NXPIF_NXT_PACKET_IN2 {
                Message::Nx(NxMessage::PacketIn2(PacketIn2 {
                    packet: packet.to_vec(),
                    full_len: None,
                    buffer_id: None,
                    table_id: Some(pi.table_id),
                    cookie: (pi.cookie != u64::MAX).then_some(pi.cookie),
                    reason: Some(reason),
                    metadata: Some(om.to_match_tlv(v, &tlv)),
                    userdata: (!pi.userdata.is_empty()).then(|| pi.userdata.clone()),
                    continuation: pi
                        .continuation
                        .as_ref()
                        .map(|st| crate::continuation::encode(st, &instance)),
                    other: Vec::new(),
                }))
            } else {
                Message::PacketIn(OfpPacketIn {
                    buffer_id: u32::MAX,
                    total_len: packet.len().min(u16::MAX as usize) as u16,
                    reason,
                    table_id: pi.table_id,
                    cookie: pi.cookie,
                    r#match: om.to_match_tlv(v, &tlv),
                    data: packet.to_vec(),
                })
            };
            c.send_packet_in(is_miss(pi.reason), port, &msg, now);
            n += 1;
        });
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xlate::REASON_PACKET_OUT;

    #[test]
    fn reasons_per_version() {
        for v in [Version::Of10, Version::Of13] {
            assert_eq!(wire_reason(REASON_PACKET_OUT, v), REASON_ACTION);
            assert_eq!(wire_reason(3, v), REASON_ACTION);
        }
        assert_eq!(wire_reason(REASON_PACKET_OUT, Version::Of14), 5);
        assert_eq!(
            wire_reason(REASON_EXPLICIT_MISS, Version::Of10),
            REASON_ACTION
        );
        assert_eq!(
            wire_reason(REASON_EXPLICIT_MISS, Version::Of13),
            REASON_NO_MATCH
        );
        assert_eq!(
            wire_reason(REASON_EXPLICIT_MISS, Version::Of15),
            REASON_NO_MATCH
        );
        assert_eq!(wire_reason(2, Version::Of10), 2);
        assert!(is_miss(REASON_EXPLICIT_MISS) && !is_miss(REASON_PACKET_OUT));
    }
}
