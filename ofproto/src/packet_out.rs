//! Packet-out through translation: an OpenFlow packet-out's actions are
//! translated like a rule's, from the flow of its packet with the input
//! port (and, in OpenFlow 1.5, the pipeline fields) of the message, into
//! datapath actions for the datapath to execute on that packet
//! (`Datapath::execute`). `output:TABLE` runs the pipeline from table 0,
//! `CONTROLLER` becomes a `userspace` action (so the packet-in carries the
//! packet as the actions left it) with reason `packet_out` (sent as
//! `action` before OpenFlow 1.4), and a translation that freezes emits
//! `recirc` as for any packet.
//!
//! An `NXT_RESUME` goes the same way: its frozen state resumes on the
//! packet the controller sent back.
//!
//! What this returns is the whole decision; vswitchd executes it, sends
//! the table-miss packet-ins it lists, and credits the rules.

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::packet::DpPacket;
use ferrovs_openflow::message::PacketOut;
use ferrovs_openflow::ErrorCode;

use ferrovs_datapath::flow::layout::FLOW_WORDS;

use crate::continuation::Resume;
use crate::flow::{OfFlow, OfMatch};
use crate::upcall::OfprotoUpcall;
use crate::xlate::{self, BridgeRef, Ctx, XlateError, XlateIn};

/// OVS's ODPP_NONE: the datapath input port of a packet that did not
/// come from a datapath port (in_port CONTROLLER, NONE, a patch port).
pub const ODPP_NONE: u32 = u32::MAX;

/// A translated packet-out.
#[derive(Debug, Clone)]
pub struct PacketOutExec {
    /// Datapath port the packet is executed as coming from.
    pub dp_in_port: u32,
    /// Every packet-in (table misses of `output:TABLE` too) is a
    /// `userspace` action here: executing them sends them, once.
    pub actions: Vec<DpAction>,
    pub error: Option<XlateError>,
    /// Recirculation ids the actions use (handed to the datapath).
    pub recircs: Vec<u32>,
}

/// Why a packet-out is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketOutError {
    #[error("no bridge named {0}")]
    NoBridge(String),
    #[error("packet-out pipeline fields: {0:?}")]
    BadMatch(ErrorCode),
}

impl OfprotoUpcall {
    /// Translates packet-out `po` sent to bridge `bridge`.
    pub fn packet_out(
        &self,
        bridge: &str,
        po: &PacketOut,
    ) -> Result<PacketOutExec, PacketOutError> {
        let pipeline = if po.r#match.fields.is_empty() {
            None
        } else {
            Some(OfMatch::from_match(&po.r#match).map_err(|e| PacketOutError::BadMatch(e.code()))?)
        };
        self.execute_slow(bridge, &po.data, po.in_port, pipeline.as_ref(), |ctx| {
            ctx.in_packet_out = true;
            // No rule: packet-ins carry no cookie (all ones), as OVS's.
            ctx.rule_cookie = u64::MAX;
            ctx.do_actions(&po.actions)
        })
    }

    /// Translates an `NXT_RESUME` to bridge `bridge`: the frozen state
    /// resumes on the packet the controller sent back.
    pub fn resume(&self, bridge: &str, r: &Resume) -> Result<PacketOutExec, PacketOutError> {
        let mut meta = OfMatch {
            value: OfFlow::default(),
            mask: OfFlow::default(),
        };
        r.state.restore_metadata(&mut meta.value);
        for w in &mut meta.mask.0[FLOW_WORDS..] {
            *w = !0;
        }
        self.execute_slow(bridge, &r.packet, r.state.in_port, Some(&meta), |ctx| {
            ctx.resume(&r.state)
        })
    }

    /// Translates what `run` does to the flow of `data` entering bridge
    /// `bridge` on OpenFlow port `in_port`, with the OpenFlow-only fields
    /// of `pipeline` (metadata, registers) set.
    fn execute_slow(
        &self,
        bridge: &str,
        data: &[u8],
        in_port: u16,
        pipeline: Option<&OfMatch>,
        run: impl FnOnce(&mut Ctx<'_, '_>),
    ) -> Result<PacketOutExec, PacketOutError> {
        self.with_bridges(|refs| self.execute_locked(refs, bridge, data, in_port, pipeline, run))
    }

    /// [`Self::execute_slow`] with the bridges already locked.
    fn execute_locked(
        &self,
        refs: &[BridgeRef<'_>],
        bridge: &str,
        data: &[u8],
        in_port: u16,
        pipeline: Option<&OfMatch>,
        run: impl FnOnce(&mut Ctx<'_, '_>),
    ) -> Result<PacketOutExec, PacketOutError> {
        let idx = refs
            .iter()
            .position(|b| b.name() == bridge)
            .ok_or_else(|| PacketOutError::NoBridge(bridge.to_string()))?;
        let now = refs[idx].ofproto.now();
        let dp_in_port = refs[idx]
            .ports
            .get(in_port)
            .and_then(|p| p.dp_port)
            .unwrap_or(ODPP_NONE);
        // The packet's headers, as the datapath would extract them.
        let mut pkt = DpPacket::from_bytes(data);
        pkt.md_mut().reset(dp_in_port);
        let mut key = FlowKey::default();
        extract(&mut pkt, &mut key);
        let mut dpf = Flow::default();
        key.expand(&mut dpf);
        let mut flow = OfFlow::from_dp(&dpf);
        if let Some(m) = pipeline {
            for w in FLOW_WORDS..flow.0.len() {
                flow.0[w] = (flow.0[w] & !m.mask.0[w]) | (m.value.0[w] & m.mask.0[w]);
            }
        }
        xlate::set_in_port(&mut flow, in_port);
        let input = XlateIn {
            bridges: refs,
            bridge: idx,
            flow,
            now,
            may_learn: false,
            recirc: Some(&self.recirc),
            tnl: Some(&self.tnl),
        };
        let mut ctx = Ctx::new(&input, None);
        run(&mut ctx);
        ctx.finish_pipeline();
        let out = ctx.finish();
        self.credit(&out.rules, &out.lookups, now, 1, data.len() as u64);
        for id in &out.recircs {
            self.recirc.hand_to_megaflow(*id);
            self.recirc.unref(*id);
        }
        Ok(PacketOutExec {
            dp_in_port,
            actions: out.actions,
            error: out.error,
            recircs: out.recircs,
        })
    }
}
