//! Sending packet-ins that translation produced to the bridge's
//! connections: OFPT_PACKET_IN with the reason, table id, cookie and the
//! pipeline match (input port and the metadata and registers that are not
//! zero, as OVS sends), the packet cut to `max_len` (there are no buffers:
//! `buffer_id` is always OFP_NO_BUFFER), to every connection whose
//! asynchronous configuration wants that reason. A connection that set
//! packet-in format `nxt_packet_in2` gets `NXT_PACKET_IN2` instead, with the
//! continuation of a `controller(pause)` (see [`crate::continuation`]).

use ferrovs_openflow::message::nicira::{NxMessage, PacketIn2};
use ferrovs_openflow::message::{Message, PacketIn as OfpPacketIn};

use crate::continuation::NXPIF_NXT_PACKET_IN2;

use crate::connmgr::async_config::AsyncKind;
use crate::flow::{OfFlow, OfMatch, W_METADATA, W_REGS};
use crate::ofproto::Ofproto;
use crate::xlate::PacketIn;

/// The pipeline fields of a packet-in: in_port, non-zero metadata and
/// registers.
fn pipeline_match(flow: &OfFlow) -> OfMatch {
    let mut mask = OfFlow::default();
    let inp = ferrovs_datapath::flow::layout::IN_PORT;
    mask.0[inp.word as usize] = inp.word_mask();
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

impl Ofproto {
    /// Sends `pi` (with the packet's bytes) to the connections that want
    /// it; returns how many got it.
    pub fn send_packet_in(&mut self, pi: &PacketIn, packet: &[u8]) -> usize {
        let om = pipeline_match(&pi.flow);
        let len = packet.len().min(pi.max_len as usize);
        let mut n = 0;
        let instance = self.instance_id;
        self.each_conn(None, |c| {
            if !c.receives_async(AsyncKind::PacketIn, pi.reason) {
                return;
            }
            let msg = if c.packet_in_format == NXPIF_NXT_PACKET_IN2 {
                Message::Nx(NxMessage::PacketIn2(PacketIn2 {
                    packet: packet[..len].to_vec(),
                    full_len: (len != packet.len()).then_some(packet.len() as u32),
                    buffer_id: None,
                    table_id: Some(pi.table_id),
                    cookie: (pi.cookie != u64::MAX).then_some(pi.cookie),
                    reason: Some(pi.reason),
                    metadata: Some(om.to_match(c.ver())),
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
                    reason: pi.reason,
                    table_id: pi.table_id,
                    cookie: pi.cookie,
                    r#match: om.to_match(c.ver()),
                    data: packet[..len].to_vec(),
                })
            };
            c.send_async(&msg);
            n += 1;
        });
        n
    }
}
