//! `ofproto/trace-packet-out BRIDGE FLOW ACTIONS`: traces what a
//! packet-out with ACTIONS (ovs-ofctl action syntax) would do to the
//! packet FLOW, as OVS prints it: the actions at the top of the bridge's
//! trace (each `resubmit` or `output:TABLE` then walks the tables as in
//! `ofproto/trace`), then `Final flow:`, `Megaflow:` and
//! `Datapath actions:`. Nothing is executed and nothing is learned. An
//! empty action list (`drop`) traces the tables, as OVS does.

use ferrovs_openflow::text::action_parse::parse_actions;
use ferrovs_openflow::text::wire::actions_to_wire;

use crate::flow::{OfFlow, OfMatch};
use crate::trace::{bridge_index, format_megaflow, parse_trace_flow, TraceError};
use crate::upcall::OfprotoUpcall;
use crate::xlate::odp_text::format_dp_actions;
use crate::xlate::{format_match, Ctx, Trace, XlateIn};

impl OfprotoUpcall {
    /// The text of `ofproto/trace-packet-out BRIDGE FLOW ACTIONS`.
    pub fn trace_packet_out(
        &self,
        bridge: &str,
        flow_text: &str,
        actions: &str,
    ) -> Result<String, TraceError> {
        let acts =
            parse_actions(actions).map_err(|e| TraceError::BadFlow(format!("{actions}: {e}")))?;
        let acts = actions_to_wire(&acts)
            .map_err(|e| TraceError::BadFlow(format!("{actions}: {}", e.0)))?;
        if acts.is_empty() {
            // As OVS: no actions (`drop`) traces the tables instead.
            return self.trace(bridge, flow_text);
        }
        self.with_bridges(|refs| {
            let idx = bridge_index(refs, bridge)?;
            let flow = parse_trace_flow(flow_text, refs[idx].ports)?;
            let input = XlateIn {
                bridges: refs,
                bridge: idx,
                flow,
                now: refs[idx].ofproto.now(),
                may_learn: false,
                recirc: Some(&self.recirc),
                tnl: Some(&self.tnl),
            };
            let mut t = Trace::default();
            let head = format!("bridge(\"{bridge}\")");
            t.lines.push("-".repeat(head.len()));
            t.lines.insert(0, head);
            let mut ctx = Ctx::new(&input, Some(&mut t));
            ctx.do_actions(&acts);
            ctx.finish_pipeline();
            let out = ctx.finish();
            for id in &out.recircs {
                self.recirc.unref(*id);
            }
            Ok(render(&flow, &t, &out.final_flow, &out.wc, &out.actions))
        })
    }
}

/// The trace's text around its lines, as `ofproto/trace` prints it.
fn render(
    flow: &OfFlow,
    t: &Trace,
    final_flow: &OfFlow,
    wc: &OfFlow,
    actions: &[ferrovs_datapath::actions::DpAction],
) -> String {
    let shown = |f: &OfFlow, g: &OfFlow| OfMatch {
        value: *f,
        mask: OfFlow(std::array::from_fn(|i| {
            if f.0[i] != 0 || g.0[i] != 0 {
                !0
            } else {
                0
            }
        })),
    };
    let mut text = format!("Flow: {}\n\n", format_match(&shown(flow, flow)));
    for l in &t.lines {
        // The packet-out's own actions print at a rule's action indent
        // (4); what they resubmit to is one level deeper in translation
        // but, as in OVS's trace, printed as if from the top: 4 less.
        let indent = l.len() - l.trim_start().len();
        text.push_str(if indent > 4 { &l[4..] } else { l });
        text.push('\n');
    }
    text.push('\n');
    if final_flow == flow {
        text.push_str("Final flow: unchanged\n");
    } else {
        text.push_str(&format!(
            "Final flow: {}\n",
            format_match(&shown(final_flow, flow))
        ));
    }
    text.push_str(&format!("Megaflow: {}\n", format_megaflow(flow, wc)));
    text.push_str(&format!(
        "Datapath actions: {}\n",
        format_dp_actions(actions, &|p| p.to_string())
    ));
    text
}
