//! `ofproto/trace` through conntrack recirculations, as OVS's trace
//! does: every `ct(table=T)` of a pass queues a recirculation; after the
//! pass, each queued one is traced in turn (its own passes queue more)
//! with the packet's `ct_state` taken from `--ct-next` (one state per
//! recirculation, in order), or `trk|new` when the list runs out, and
//! `ct_zone` from the action. A `ct` with `nat` resumes, as in OVS's
//! trace, with the first address (and port) of its range written into the
//! flow, and says so. The recirculation ids stay referenced until every
//! pass is done.

use std::collections::VecDeque;

use ferrovs_datapath::conntrack::{NatKind, NatSpec, CS_NEW, CS_TRACKED};
use ferrovs_datapath::flow::layout as dp;

use crate::flow::OfFlow;
use crate::trace::{parse_trace_flow_tlv, trace_pass, PassCtx, TraceError, TraceResult};
use crate::xlate::{BridgeRef, RecircTable};

/// At most this many recirculations are followed (a loop of `ct(table=)`
/// stops here).
const MAX_CT_PASSES: usize = 64;

/// The `ct_state` flag names, in bit order.
const CT_FLAGS: [&str; 8] = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"];

/// Parses one `--ct-next` argument: flags such as `trk,est` or
/// `+trk+est` (separated by `,`, `|` or `+`).
pub fn parse_ct_state(s: &str) -> Result<u16, String> {
    let mut v = 0u16;
    for name in s.split([',', '|', '+']).filter(|n| !n.is_empty()) {
        let bit = CT_FLAGS
            .iter()
            .position(|f| *f == name)
            .ok_or_else(|| format!("{s}: unknown connection tracking state flag {name}"))?;
        v |= 1 << bit;
    }
    Ok(v)
}

/// `ct_state` as OVS's trace prints it (`new|trk`).
pub fn ct_state_text(v: u16) -> String {
    CT_FLAGS
        .iter()
        .enumerate()
        .filter(|(i, _)| v & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

/// The first address (and port, when a range is given) of `n`'s range
/// written into the flow, so that later tables see translated headers.
/// A bare `nat` changes nothing.
fn simulate_nat(f: &mut OfFlow, n: &NatSpec) {
    let Some(kind) = n.kind else { return };
    if n.min_addr == 0 {
        return;
    }
    let src = kind == NatKind::Src;
    if n.v6 {
        let w = if src { dp::W_IPV6_SRC } else { dp::W_IPV6_DST };
        f.set_bits(w, 0, 64, (n.min_addr >> 64) as u64);
        f.set_bits(w + 1, 0, 64, n.min_addr as u64);
    } else {
        let a = if src { dp::NW_SRC } else { dp::NW_DST };
        f.set_bits(a.word as usize, a.shift as u32, 32, n.min_addr as u64);
    }
    if n.min_port != 0 {
        let p = if src { dp::TP_SRC } else { dp::TP_DST };
        f.set_bits(p.word as usize, p.shift as u32, 16, n.min_port as u64);
    }
}

/// The addresses and ports of `f` in the family of `n`'s range (nothing
/// for a bare `nat`), as OVS's trace prints them.
fn ip_flow(f: &OfFlow, n: &NatSpec) -> String {
    if n.kind.is_none() || n.min_addr == 0 {
        return String::new();
    }
    let g = |x: dp::Field| f.bits(x.word as usize, x.shift as u32, x.bits as u32);
    let (sp, dp_) = (g(dp::TP_SRC), g(dp::TP_DST));
    if n.v6 {
        let a = |hi: dp::Field, lo: dp::Field| {
            std::net::Ipv6Addr::from((u128::from(g(hi)) << 64) | u128::from(g(lo)))
        };
        format!(
            "ipv6_src=[{}],tp_src={sp},ipv6_dst=[{}],tp_dst={dp_}",
            a(dp::IPV6_SRC_HI, dp::IPV6_SRC_LO),
            a(dp::IPV6_DST_HI, dp::IPV6_DST_LO)
        )
    } else {
        let a = |x: dp::Field| std::net::Ipv4Addr::from(g(x) as u32);
        format!(
            "nw_src={},tp_src={sp},nw_dst={},tp_dst={dp_}",
            a(dp::NW_SRC),
            a(dp::NW_DST)
        )
    }
}

/// Traces `flow_text` and every conntrack recirculation it leads to.
pub(crate) fn trace_ct<'a>(
    ctx: &PassCtx<'a, '_>,
    flow_text: &str,
    ct_next: &[u16],
) -> Result<TraceResult<'a>, TraceError> {
    let br = ctx
        .bridges
        .get(ctx.bridge)
        .ok_or_else(|| TraceError::NoBridge(ctx.bridge.to_string()))?;
    let flow = parse_trace_flow_tlv(flow_text, br.ports, br.ofproto.tlv_table())?;
    let mut first = trace_pass(ctx, flow);
    let mut taken = first.out.recircs.clone();
    let mut queue: VecDeque<(u32, u16, OfFlow, Option<NatSpec>)> =
        first.out.ct_recircs.iter().copied().collect();
    let mut next = ct_next.iter();
    let mut passes = 0;
    while let Some((id, zone, mut f, nat)) = queue.pop_front() {
        passes += 1;
        if passes > MAX_CT_PASSES {
            break;
        }
        let (state, head) = match next.next() {
            None => (
                CS_TRACKED | CS_NEW,
                " - resume conntrack with default ct_state=trk|new (use --ct-next to customize)"
                    .to_string(),
            ),
            Some(s) => (
                *s,
                format!(" - resume conntrack with ct_state={}", ct_state_text(*s)),
            ),
        };
        f.set_bits(dp::W_MD0, dp::RECIRC_ID.shift as u32, 32, id as u64);
        f.set_bits(dp::W_MD2, dp::CT_STATE.shift as u32, 16, state as u64);
        f.set_bits(dp::W_MD2, dp::CT_ZONE.shift as u32, 16, zone as u64);
        let nat_text = match &nat {
            None => String::new(),
            Some(n) => {
                let before = ip_flow(&f, n);
                simulate_nat(&mut f, n);
                format!(
                    "Replacing src/dst IP/ports to simulate NAT:\n Initial flow: {before}\n Modified flow: {}\n",
                    ip_flow(&f, n)
                )
            }
        };
        let r = trace_pass(ctx, f);
        let bar = "=".repeat(79);
        first.text.push_str(&format!(
            "\n\n{bar}\nrecirc({id:#x}){head}\n{nat_text}{bar}\n\n"
        ));
        first.text.push_str(&r.text);
        taken.extend_from_slice(&r.out.recircs);
        first.out.learned.extend(r.out.learned);
        queue.extend(r.out.ct_recircs.iter().copied());
    }
    if let Some(t) = ctx.recirc {
        for id in &taken {
            t.unref(*id);
        }
    }
    Ok(first)
}

/// As [`crate::trace::trace_with`], with `--ct-next` states; `may_learn`
/// (`-generate`) lets side effects happen (the caller applies
/// `out.learned` once the tables are unlocked).
#[allow(clippy::too_many_arguments)]
pub fn trace_with_ct_next<'a>(
    bridges: &'a [BridgeRef<'a>],
    bridge: usize,
    flow_text: &str,
    now: std::time::Instant,
    port_name: &dyn Fn(u32) -> String,
    tnl: Option<&'a crate::tunnel::TnlState>,
    recirc: Option<&'a RecircTable>,
    ct_next: &[u16],
    may_learn: bool,
) -> Result<TraceResult<'a>, TraceError> {
    let ctx = PassCtx {
        bridges,
        bridge,
        now,
        port_name,
        tnl,
        recirc,
        may_learn,
    };
    trace_ct(&ctx, flow_text, ct_next)
}
