//! `ofproto/trace BRIDGE FLOW`: runs translation with a [`Trace`] and
//! prints what OVS 3.1 prints: the flow, each bridge, table, rule and
//! action, then `Final flow:`, `Megaflow:` and `Datapath actions:`.
//!
//! FLOW is OVS's OpenFlow flow syntax (`in_port=1,dl_dst=...,ip,...`),
//! parsed by the `ovs-ofctl` text parser of the openflow crate; `in_port`
//! may name a port. Datapath ports print as numbers, as OVS does.

use std::time::Instant;

use ferrovs_datapath::flow::layout::FLOW_WORDS;
use ferrovs_openflow::text::wire::match_to_wire;
use ferrovs_openflow::text::FlowText;

use crate::flow::{OfFlow, OfMatch};
use crate::xlate::freeze::{dp_hash, recirc_id};
use crate::xlate::odp_text::format_dp_actions;
use crate::xlate::{
    format_match, xlate_traced, BridgePorts, BridgeRef, RecircTable, Trace, XlateError, XlateIn,
    XlateOut,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("no bridge named {0}")]
    NoBridge(String),
    #[error("{0}")]
    BadFlow(String),
}

/// What a trace produced.
#[derive(Debug, Clone)]
pub struct TraceResult<'a> {
    /// The whole text, as `ovs-appctl ofproto/trace` prints it.
    pub text: String,
    /// The `Megaflow:` line's value.
    pub megaflow: String,
    /// The `Datapath actions:` line's value.
    pub dp_actions: String,
    pub out: XlateOut<'a>,
}

/// Parses FLOW into a packet; `in_port` may be a port name of `ports`.
pub fn parse_trace_flow(text: &str, ports: &BridgePorts) -> Result<OfFlow, TraceError> {
    parse_trace_flow_tlv(text, ports, &crate::flow::TlvMap::EMPTY)
}

/// As [`parse_trace_flow`], placing `tun_metadata<n>` with the bridge's
/// TLV table.
pub fn parse_trace_flow_tlv(
    text: &str,
    ports: &BridgePorts,
    tlv: &crate::flow::TlvMap,
) -> Result<OfFlow, TraceError> {
    let mut items = Vec::new();
    // `tun_metadata<n>=HEX` items: the option's bytes, placed by `tlv`
    // after the rest is parsed (the flow text's fields are at most 128
    // bits wide; an option is up to 124 bytes).
    let mut options = Vec::new();
    // `tun_tos=N` and `tun_ttl=N`: no wire form in a match, so the match
    // codec would drop them; set after the rest is parsed.
    let mut outer = Vec::new();
    let mut packet_type = None;
    // `packet_type=(ns,type)` holds a comma: rejoin the pieces first.
    let mut split = text.split(',');
    let mut pieces = Vec::new();
    while let Some(p) = split.next() {
        if p.trim_start().starts_with("packet_type=(") && !p.contains(')') {
            pieces.push(format!("{p},{}", split.next().unwrap_or("")));
        } else {
            pieces.push(p.to_string());
        }
    }
    for item in &pieces {
        let item = item.trim();
        if let Some((key, value)) = item.split_once('=') {
            if let Some(field) = ferrovs_openflow::field::Field::from_name(key)
                .filter(|f| f.tun_metadata_index().is_some())
            {
                options.push((field, value.to_string()));
                continue;
            }
            if let Some(field) = outer_tunnel_field(key) {
                outer.push((field, value.to_string()));
                continue;
            }
            if key == "packet_type" {
                packet_type = Some(
                    parse_packet_type(value)
                        .ok_or_else(|| TraceError::BadFlow(format!("bad packet_type {value}")))?,
                );
                continue;
            }
        }
        if let Some(name) = item.strip_prefix("in_port=") {
            if name.parse::<u32>().is_err() && !name.starts_with("0x") {
                if let Some(p) = ports.by_name(name) {
                    items.push(format!("in_port={p}"));
                    continue;
                }
            }
        }
        items.push(item.to_string());
    }
    let joined = items.join(",");
    let ft = FlowText::parse(&joined, false).map_err(|e| TraceError::BadFlow(e.to_string()))?;
    let m = match_to_wire(&ft.matches).map_err(|e| TraceError::BadFlow(e.to_string()))?;
    let om = OfMatch::from_match_tlv(&m, tlv).map_err(|e| TraceError::BadFlow(e.to_string()))?;
    let mut flow = om.value;
    for (field, value) in options {
        let name = field.name();
        let n = field.tun_metadata_index().unwrap_or(0);
        let len = tlv
            .get(n)
            .ok_or_else(|| TraceError::BadFlow(format!("{name}: not mapped")))?
            .len as usize;
        let bytes = option_bytes(&value, len)
            .ok_or_else(|| TraceError::BadFlow(format!("{name}: bad value {value}")))?;
        flow.set_field_tlv(
            field,
            &ferrovs_openflow::value::Value::from_slice(&bytes),
            tlv,
        )
        .map_err(|e| TraceError::BadFlow(e.to_string()))?;
    }
    // `packet_type=(1,T)`: an L3 packet, as the datapath key has it
    // (namespace beside dl_type, which is T).
    let pt = packet_type.unwrap_or(0) as u64;
    flow.0[crate::flow::W_PACKET_TYPE] = pt;
    if pt >> 16 != 0 {
        use ferrovs_datapath::flow::layout::{DL_TYPE, PACKET_TYPE_NS};
        let w = &mut flow.0[DL_TYPE.word as usize];
        *w |= PACKET_TYPE_NS.place(pt >> 16);
        if *w & DL_TYPE.word_mask() == 0 {
            *w |= DL_TYPE.place(pt & 0xffff);
        }
    }
    for (field, value) in outer {
        let name = field.name();
        // OVS reads these as decimal (or `0x` hex), one byte.
        let v = match value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))
        {
            Some(h) => u8::from_str_radix(h, 16).ok(),
            None => value.parse::<u8>().ok(),
        }
        .ok_or_else(|| TraceError::BadFlow(format!("{name}: bad value {value}")))?;
        flow.set_field(field, &ferrovs_openflow::value::Value::from_slice(&[v]))
            .map_err(|e| TraceError::BadFlow(e.to_string()))?;
    }
    Ok(flow)
}

/// `(ns,type)`, each decimal or `0x` hex, as `(ns << 16) | type`.
fn parse_packet_type(v: &str) -> Option<u32> {
    let (ns, ty) = v.strip_prefix('(')?.strip_suffix(')')?.split_once(',')?;
    let num = |t: &str| -> Option<u32> {
        let t = t.trim();
        match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => t.parse().ok(),
        }
    };
    let (ns, ty) = (num(ns)?, num(ty)?);
    (ns <= 0xffff && ty <= 0xffff).then_some(ns << 16 | ty)
}

/// The tunnel fields of the flow text that have no wire form in a match
/// (`tun_tos`, `tun_ttl`).
fn outer_tunnel_field(name: &str) -> Option<ferrovs_openflow::field::Field> {
    use ferrovs_openflow::field::Field;
    match name {
        "tun_tos" => Some(Field::TunTos),
        "tun_ttl" => Some(Field::TunTtl),
        _ => None,
    }
}

/// A `tun_metadata` value written as hex (`0x1234`) or decimal, right
/// aligned in `len` bytes; None if it does not fit.
fn option_bytes(text: &str, len: usize) -> Option<Vec<u8>> {
    let digits = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(h) => h.to_string(),
        None => format!("{:x}", text.parse::<u128>().ok()?),
    };
    let digits = digits.trim_start_matches('0');
    if digits.len() > 2 * len || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{digits:0>width$}", width = 2 * len);
    (0..len)
        .map(|i| u8::from_str_radix(&padded[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The megaflow of a translation as OVS prints it: the packet's bits under
/// the datapath words of the wildcards.
pub fn format_megaflow(flow: &OfFlow, wc: &OfFlow) -> String {
    let mut mask = OfFlow::default();
    mask.0[..FLOW_WORDS].copy_from_slice(&wc.0[..FLOW_WORDS]);
    // An untagged packet's megaflow needs only the present bit, which
    // OVS's text leaves out (its datapath key has no VLAN at all).
    let vlan = ferrovs_datapath::flow::layout::W_VLAN;
    if flow.0[vlan] & 0x1000 == 0 {
        mask.0[vlan] &= !0xffff;
    }
    // An L3 packet's key has no Ethernet words to show.
    let (l, pt) = (
        ferrovs_datapath::flow::layout::PACKET_TYPE_NS,
        ferrovs_datapath::flow::layout::DL_TYPE,
    );
    let ns = flow.bits(l.word as usize, l.shift as u32, 16);
    if ns != 0 {
        for w in [
            ferrovs_datapath::flow::layout::W_DL_SRC,
            ferrovs_datapath::flow::layout::W_DL_DST,
            vlan,
        ] {
            mask.0[w] = 0;
        }
    }
    let l2 = if ns == 0 {
        "eth".to_string()
    } else {
        format!(
            "packet_type=({ns},{:#x})",
            flow.bits(pt.word as usize, pt.shift as u32, 16)
        )
    };
    let om = OfMatch {
        value: flow.masked(&mask),
        mask,
    };
    let m = format_match(&om);
    // OVS always shows the recirculation id, dp_hash and the packet type
    // first.
    let m = m
        .split(',')
        .filter(|s| !s.starts_with("recirc_id=") && !s.starts_with("dp_hash="))
        .collect::<Vec<_>>()
        .join(",");
    // pkt_mark comes before the recirculation id (OVS's match_format).
    let mut head: String = m
        .split(',')
        .filter(|s| s.starts_with("pkt_mark="))
        .map(|s| format!("{s},"))
        .collect();
    head.push_str(&match recirc_id(flow) {
        0 => "recirc_id=0".to_string(),
        id => format!("recirc_id={id:#x}"),
    });
    let hash_mask = dp_hash(wc);
    if hash_mask != 0 {
        // C's "%#x": zero prints as "0".
        let v = match dp_hash(flow) & hash_mask {
            0 => "0".to_string(),
            v => format!("{v:#x}"),
        };
        if hash_mask == u32::MAX {
            head.push_str(&format!(",dp_hash={v}"));
        } else {
            head.push_str(&format!(",dp_hash={v}/{hash_mask:#x}"));
        }
    }
    // skb_priority has no OpenFlow field, so the match text lacks it.
    let prio = ferrovs_datapath::flow::layout::SKB_PRIORITY;
    if wc.bits(prio.word as usize, prio.shift as u32, 32) != 0 {
        match flow.bits(prio.word as usize, prio.shift as u32, 32) {
            0 => head.push_str(",skb_priority=0"),
            v => head.push_str(&format!(",skb_priority={v:#x}")),
        }
    }
    // Metadata OVS prints before the packet type: skb_priority,
    // pkt_mark and the conntrack fields.
    let (pre, rest): (Vec<&str>, Vec<&str>) =
        m.split(',').filter(|s| !s.is_empty()).partition(|s| {
            s.starts_with("ct_") || s.starts_with("skb_priority=") || s.starts_with("pkt_mark=")
        });
    let pre: Vec<&str> = pre
        .into_iter()
        .filter(|s| !s.starts_with("pkt_mark="))
        .collect();
    for p in pre {
        head.push(',');
        head.push_str(p);
    }
    // The wire form (and so the text above) carries ct_nw_proto and the
    // ct ports only when ct_nw_proto is nonzero; OVS's megaflow text
    // prints them whenever they are masked.
    let proto = ferrovs_datapath::flow::layout::CT_NW_PROTO;
    let pm = wc.bits(proto.word as usize, proto.shift as u32, 8);
    if pm != 0 && flow.bits(proto.word as usize, proto.shift as u32, 8) & pm == 0 {
        head.push_str(",ct_nw_proto=0");
        for (name, f) in [
            ("ct_tp_src", ferrovs_datapath::flow::layout::CT_TP_SRC),
            ("ct_tp_dst", ferrovs_datapath::flow::layout::CT_TP_DST),
        ] {
            let m = wc.bits(f.word as usize, f.shift as u32, 16);
            let v = flow.bits(f.word as usize, f.shift as u32, 16) & m;
            match m {
                0 => {}
                0xffff => head.push_str(&format!(",{name}={v}")),
                _ => head.push_str(&format!(",{name}={v:#x}/{m:#x}")),
            }
        }
    }
    let mut rest: Vec<String> = rest.iter().map(|t| icmp_token(t, flow, wc)).collect();
    tunnel_outer_tokens(&mut rest, flow, wc);
    mpls_lower_entries(&mut rest, flow, wc);
    if rest.is_empty() {
        format!("{head},{l2}")
    } else {
        format!("{head},{l2},{}", rest.join(","))
    }
}

/// OVS's megaflow text has `tun_tos`, `tun_ttl` and the datapath's
/// `tun_flags` (df, csum, key: the OpenFlow field has only oam), which the
/// match text cannot carry; they go after the tunnel addresses, in OVS's
/// order.
fn tunnel_outer_tokens(rest: &mut Vec<String>, flow: &OfFlow, wc: &OfFlow) {
    use ferrovs_datapath::flow::layout::{TUN_FLAGS, TUN_TOS, TUN_TTL};
    let bits = |f: &OfFlow, x: ferrovs_datapath::flow::layout::Field| {
        f.bits(x.word as usize, x.shift as u32, x.bits as u32)
    };
    rest.retain(|t| !t.starts_with("tun_flags="));
    let mut toks = Vec::new();
    if bits(wc, TUN_TOS) != 0 {
        toks.push(format!("tun_tos={:x}", bits(flow, TUN_TOS)));
    }
    if bits(wc, TUN_TTL) != 0 {
        toks.push(format!("tun_ttl={}", bits(flow, TUN_TTL)));
    }
    // OVS's FLOW_TNL_F_MASK bits, lowest first.
    const NAMES: [&str; 4] = ["oam", "df", "csum", "key"];
    let (v, m) = (bits(flow, TUN_FLAGS) & 0xf, bits(wc, TUN_FLAGS) & 0xf);
    if m == 0xf {
        let set: Vec<&str> = (0..4)
            .filter(|i| v >> i & 1 != 0)
            .map(|i| NAMES[i])
            .collect();
        toks.push(if set.is_empty() {
            "tun_flags=0".to_string()
        } else {
            format!("tun_flags={}", set.join("|"))
        });
    } else if m != 0 {
        let mut t = "tun_flags=".to_string();
        for (i, name) in NAMES.iter().enumerate() {
            if m >> i & 1 != 0 {
                t.push(if v >> i & 1 != 0 { '+' } else { '-' });
                t.push_str(name);
            }
        }
        toks.push(t);
    }
    if toks.is_empty() {
        return;
    }
    const BEFORE: [&str; 7] = [
        "tun_id=",
        "tun_src=",
        "tun_dst=",
        "tun_ipv6_src=",
        "tun_ipv6_dst=",
        "tun_gbp_id=",
        "tun_gbp_flags=",
    ];
    let at = rest
        .iter()
        .rposition(|t| BEFORE.iter().any(|b| t.starts_with(b)))
        .map_or(0, |i| i + 1);
    for (i, t) in toks.into_iter().enumerate() {
        rest.insert(at + i, t);
    }
}

/// OVS prints the masked bits of the second and third MPLS label stack
/// entries (`mpls_lse1=0x%08x/0x%08x`) after the top entry's fields.
fn mpls_lower_entries(rest: &mut Vec<String>, flow: &OfFlow, wc: &OfFlow) {
    use ferrovs_datapath::flow::layout::{MPLS_LSE1, MPLS_LSE2};
    let Some(last) = rest.iter().rposition(|t| t.starts_with("mpls_")) else {
        return;
    };
    let mut at = last + 1;
    for (name, f) in [("mpls_lse1", MPLS_LSE1), ("mpls_lse2", MPLS_LSE2)] {
        let m = wc.bits(f.word as usize, f.shift as u32, 32);
        if m == 0 || rest.iter().any(|t| t.starts_with(&format!("{name}="))) {
            continue;
        }
        let v = flow.bits(f.word as usize, f.shift as u32, 32) & m;
        let mut t = format!("{name}=0x{v:08x}");
        if m != 0xffff_ffff {
            t.push_str(&format!("/0x{m:08x}"));
        }
        rest.insert(at, t);
        at += 1;
    }
}

/// OVS prints ICMP type and code from the 16-bit port words: plain when
/// all 16 bits are masked, else `0xV/0xM` (the usual 8-bit match's mask
/// is 0xff), for ICMPv4 and ICMPv6 alike.
fn icmp_token(tok: &str, flow: &OfFlow, wc: &OfFlow) -> String {
    use ferrovs_datapath::flow::layout::{TP_DST, TP_SRC};
    let f = match tok.split_once('=') {
        Some(("icmp_type", _)) => TP_SRC,
        Some(("icmp_code", _)) => TP_DST,
        _ => return tok.to_string(),
    };
    let name = &tok[..tok.find('=').unwrap_or(0)];
    let m = wc.bits(f.word as usize, f.shift as u32, 16);
    let v = flow.bits(f.word as usize, f.shift as u32, 16) & m;
    if m == 0xffff {
        format!("{name}={v}")
    } else {
        format!("{name}={v:#x}/{m:#x}")
    }
}

/// Runs `ofproto/trace` on `bridges[bridge]` for `flow_text`. `port_name`
/// prints datapath port numbers in the `Datapath actions:` line.
pub fn trace<'a>(
    bridges: &'a [BridgeRef<'a>],
    bridge: usize,
    flow_text: &str,
    now: Instant,
    port_name: &dyn Fn(u32) -> String,
) -> Result<TraceResult<'a>, TraceError> {
    trace_with(bridges, bridge, flow_text, now, port_name, None, None)
}

/// As [`trace`], with native tunnelling's state and the datapath's
/// recirculation ids: a flow with a
/// `recirc_id` resumes its frozen state, and a translation that freezes
/// gets an id (given back at the end unless a megaflow uses it, as OVS).
pub fn trace_with<'a>(
    bridges: &'a [BridgeRef<'a>],
    bridge: usize,
    flow_text: &str,
    now: Instant,
    port_name: &dyn Fn(u32) -> String,
    tnl: Option<&'a crate::tunnel::TnlState>,
    recirc: Option<&'a RecircTable>,
) -> Result<TraceResult<'a>, TraceError> {
    let ctx = PassCtx {
        bridges,
        bridge,
        now,
        port_name,
        tnl,
        recirc,
        may_learn: false,
    };
    crate::trace_ct::trace_ct(&ctx, flow_text, &[])
}

/// What every pass of one trace shares.
pub(crate) struct PassCtx<'a, 'p> {
    pub bridges: &'a [BridgeRef<'a>],
    pub bridge: usize,
    pub now: Instant,
    pub port_name: &'p dyn Fn(u32) -> String,
    pub tnl: Option<&'a crate::tunnel::TnlState>,
    pub recirc: Option<&'a RecircTable>,
    /// `-generate`: side effects happen as for a real packet (learned
    /// flows, MAC learning, fin_timeout; packet-ins not `dont_send`).
    pub may_learn: bool,
}

/// One translation of `flow` and its text, from `Flow:` to `Datapath
/// actions:`. The recirculation ids it took stay referenced (the caller
/// follows and then gives them back).
pub(crate) fn trace_pass<'a>(ctx: &PassCtx<'a, '_>, flow: OfFlow) -> TraceResult<'a> {
    let input = XlateIn {
        bridges: ctx.bridges,
        bridge: ctx.bridge,
        flow,
        now: ctx.now,
        may_learn: ctx.may_learn,
        recirc: ctx.recirc,
        tnl: ctx.tnl,
    };
    let mut t = Trace::default();
    let out = xlate_traced(&input, Some(&mut t));
    let all = OfMatch {
        value: flow,
        mask: OfFlow(std::array::from_fn(|i| if flow.0[i] != 0 { !0 } else { 0 })),
    };
    let mut text = format!("Flow: {}\n\n", format_match(&all));
    for l in &t.lines {
        text.push_str(l);
        text.push('\n');
    }
    text.push('\n');
    if out.final_flow == flow {
        text.push_str("Final flow: unchanged\n");
    } else {
        let fin = OfMatch {
            value: out.final_flow,
            mask: OfFlow(std::array::from_fn(|i| {
                if out.final_flow.0[i] != 0 || flow.0[i] != 0 {
                    !0
                } else {
                    0
                }
            })),
        };
        text.push_str(&format!("Final flow: {}\n", format_match(&fin)));
    }
    let megaflow = format_megaflow(&flow, &out.wc);
    let dp_actions = format_dp_actions(&out.actions, ctx.port_name);
    text.push_str(&format!("Megaflow: {megaflow}\n"));
    text.push_str(&format!("Datapath actions: {dp_actions}\n"));
    if out.error == Some(XlateError::NoRecircContext) {
        text.push_str("Translation failed (No recirculation context), packet is dropped.\n");
    }
    TraceResult {
        text,
        megaflow,
        dp_actions,
        out,
    }
}

/// Finds a bridge by name in `bridges`.
pub fn bridge_index(bridges: &[BridgeRef<'_>], name: &str) -> Result<usize, TraceError> {
    bridges
        .iter()
        .position(|b| b.name() == name)
        .ok_or_else(|| TraceError::NoBridge(name.to_string()))
}
