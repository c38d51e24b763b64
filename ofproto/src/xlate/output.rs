//! Output actions: a port, the reserved ports (IN_PORT, ALL, FLOOD,
//! NORMAL, CONTROLLER, LOCAL, TABLE, NONE) and patch ports, whose output
//! continues translation in the peer bridge within the same pass.

use ferrovs_datapath::actions::DpAction;
use ferrovs_openflow::port::*;

use super::{in_port, set_in_port, Ctx, XlateError, MAX_DEPTH, REASON_ACTION, REASON_PACKET_OUT};
use crate::flow::OfFlow;

/// OFPPC_NO_FLOOD (OpenFlow 1.0 bit, kept as OVS does).
pub const PC_NO_FLOOD: u32 = 1 << 4;
/// OFPPC_NO_FWD.
pub const PC_NO_FWD: u32 = 1 << 5;

impl Ctx<'_, '_> {
    /// `output:port`.
    pub(crate) fn output(&mut self, port: u16, max_len: u16) {
        let inp = in_port(&self.flow);
        match port {
            OFPP_IN_PORT => self.output_to(inp),
            OFPP_TABLE => {
                // Only meaningful in a packet-out: resubmit to table 0.
                self.lookup_and_run(0, true)
            }
            OFPP_NORMAL => self.normal(),
            OFPP_FLOOD => self.flood(false),
            OFPP_ALL => self.flood(true),
            OFPP_CONTROLLER => {
                let reason = if self.in_packet_out {
                    REASON_PACKET_OUT
                } else {
                    REASON_ACTION
                };
                self.packet_in(reason, max_len, 0, Vec::new())
            }
            OFPP_NONE => {}
            p if p == inp => self.note(|| "skipping output to input port".to_string()),
            p => self.output_to(p),
        }
    }

    /// Every port but the input port (`all`), or those without no-flood.
    fn flood(&mut self, all: bool) {
        let br = self.br();
        let inp = in_port(&self.flow);
        let ports: Vec<u16> = br
            .ports
            .iter()
            .map(|(p, _)| p)
            .filter(|p| *p != inp)
            .filter(|p| {
                all || br
                    .ofproto
                    .port(*p)
                    .is_none_or(|d| d.config & PC_NO_FLOOD == 0)
            })
            .collect();
        let last = self.last;
        let n = ports.len();
        for (i, p) in ports.into_iter().enumerate() {
            self.last = last && i + 1 == n;
            self.output_to(p);
        }
        self.last = last;
    }

    /// Sends to OpenFlow port `p` of the current bridge, input port
    /// allowed: a datapath output, or the peer bridge of a patch port.
    pub(crate) fn output_to(&mut self, p: u16) {
        let br = self.br();
        let Some(xp) = br.ports.get(p) else {
            self.note(|| format!("output to nonexistent port {p}"));
            return;
        };
        if br
            .ofproto
            .port(p)
            .is_some_and(|d| d.config & PC_NO_FWD != 0)
        {
            self.note(|| format!("port {p} is configured no-fwd, dropping"));
            return;
        }
        if let Some(peer) = xp.peer.clone() {
            self.patch_output(&peer.bridge, peer.ofport);
            return;
        }
        // Only a legacy_l3 port takes an L3 packet (OVS's
        // check_output_prerequisites; patch ports have no mode).
        if super::packet_type::is_l3(&self.flow) && !xp.tunnel.as_ref().is_some_and(|t| t.l3) {
            self.note(|| {
                "Trying to send non-Ethernet packet through legacy L2 port. Dropping packet."
                    .to_string()
            });
            return;
        }
        if let Some(t) = xp.tunnel.clone() {
            self.tunnel_output(p, &t);
            return;
        }
        let Some(dp) = xp.dp_port else {
            return;
        };
        self.commit();
        if self.terminate_tunnel(p) {
            return;
        }
        self.out.actions.push(DpAction::Output(dp));
    }

    /// Continues in the peer bridge as a packet entering `peer_port`
    /// with fresh metadata and registers; the flow is restored after.
    pub(crate) fn patch_output(&mut self, peer_bridge: &str, peer_port: u16) {
        let Some(idx) = self.bridges.iter().position(|b| b.name() == peer_bridge) else {
            self.note(|| format!("patch peer bridge {peer_bridge} not found"));
            return;
        };
        if self.depth >= MAX_DEPTH {
            self.out.error = Some(XlateError::TooDeep);
            return;
        }
        let saved_flow = self.flow;
        let saved_bridge = self.bridge;
        let saved_set = std::mem::take(&mut self.action_set);
        let saved_stack = std::mem::take(&mut self.stack);
        let saved_table = self.table_id;
        let saved_mpls = self.was_mpls;
        // OpenFlow-only words start at zero in the peer.
        for w in &mut self.flow.0[ferrovs_datapath::flow::layout::FLOW_WORDS..] {
            *w = 0;
        }
        set_in_port(&mut self.flow, peer_port);
        self.bridge = idx;
        self.depth += 1;
        self.trace_patch();
        self.lookup_and_run(0, true);
        self.finish_pipeline();
        self.depth -= 1;
        self.exit = false;
        self.bridge = saved_bridge;
        self.table_id = saved_table;
        self.action_set = saved_set;
        self.stack = saved_stack;
        // The peer popping MPLS does not change this bridge's packet.
        self.was_mpls = saved_mpls;
        self.flow = restore_after_patch(&saved_flow);
    }

    fn trace_patch(&mut self) {
        if self.tracing() {
            let ind = self.depth as usize * 4;
            let name = self.br().name().to_string();
            if let Some(t) = self.trace.as_deref_mut() {
                t.push(0, String::new());
                let head = format!("bridge(\"{name}\")");
                t.push(ind, head.clone());
                t.push(ind, "-".repeat(head.len()));
            }
        }
    }
}

fn restore_after_patch(saved: &OfFlow) -> OfFlow {
    *saved
}
