//! OpenFlow messages as `ovs-ofctl ofp-print` prints them (OVS's
//! `ofp_to_string` at its default verbosity): a header line
//! `NAME[ (OFx.y)] (xid=0xN):` and the body in OVS's words, built on the
//! flow syntax printer of this module's siblings (matches, actions,
//! groups). Messages whose body has no printer here yet print their
//! header and ` ***unsupported by ferrovs ofp-print***`, never a guess;
//! the conformance test lists them.

mod async_config;
mod group_features;
mod nicira;
mod table_stats;

use std::fmt::Write;

use crate::message::multipart::{
    FlowStats, GroupDesc, MpReply, MpRequest, MultipartReply, MultipartRequest, PortStats,
};
use crate::message::{FlowModCommand, Header, Message};
use crate::port::OFPP_NONE;
use crate::text::action::format_actions;
use crate::text::value::format_port;
use crate::text::wire::{instructions_from_wire, match_from_wire};
use crate::Version;

/// `NAME (OF1.3) (xid=0x5):` (no version for OpenFlow 1.0).
fn head(name: &str, h: &Header) -> String {
    let ver = match Version::from_wire(h.version) {
        Some(Version::Of10) | None if h.version == 1 => String::new(),
        Some(v) => format!(" (OF{})", v.dotted()),
        None => format!(" (OF 0x{:02x})", h.version),
    };
    format!("{name}{ver} (xid={:#x}):", h.xid)
}

/// Decodes `bytes` (one or more messages back to back) and prints each.
pub fn print_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match Message::decode(rest) {
            Ok((h, m)) => {
                let here = &rest[..h.length as usize];
                match ovs_refuses(&h, &m) {
                    Some((name, e)) => {
                        if let Some(n) = name {
                            let _ = write!(out, "{} ", head(n, &h));
                        }
                        let _ = writeln!(out, "***decode error: {e}***");
                        out.push_str(&hex_dump(here));
                    }
                    None => out.push_str(&message(&h, &m)),
                }
                rest = &rest[h.length as usize..];
            }
            Err(e) => {
                // As OVS: the message's name when its header names one,
                // the error's OFPERR name, then the bytes.
                if rest.len() >= 8 {
                    let h = Header {
                        version: rest[0],
                        type_: rest[1],
                        length: u16::from_be_bytes([rest[2], rest[3]]),
                        xid: u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]),
                    };
                    if let Some(n) = type_name(h.version, h.type_) {
                        let _ = write!(out, "{} ", head(n, &h));
                    }
                }
                let _ = writeln!(out, "***decode error: {}***", e.code.name());
                out.push_str(&hex_dump(rest));
                break;
            }
        }
    }
    out
}

/// The error OVS's decoder gives for a message the codec keeps raw
/// (experimenter messages of vendors and Nicira subtypes OVS does not
/// know) or takes where OVS's stricter decoder does not, with the name
/// OVS prints before it when it knows the message.
fn ovs_refuses(h: &Header, m: &Message) -> Option<(Option<&'static str>, &'static str)> {
    use crate::message::nicira::NxMessage as N;
    let v = Version::from_wire(h.version).unwrap_or(Version::Of10);
    let named = |n: &'static str, e: &'static str| Some((Some(n), e));
    let unnamed = |e: &'static str| Some((None, e));
    let nx_stats = |b: &MpRequest| matches!(b, MpRequest::NxFlow(_) | MpRequest::NxAggregate(_));
    match m {
        Message::SetAsync(c) => {
            let (masks, legacy) = async_config::masks(c);
            (!async_config::valid(&masks, legacy))
                .then_some((Some("OFPT_SET_ASYNC"), "OFPACFC_INVALID"))
        }
        // Replaced by OFPT_SET_ASYNC from 1.4 on.
        Message::Nx(N::SetAsyncConfig2(_)) if v >= Version::Of14 => unnamed("OFPBRC_BAD_SUBTYPE"),
        Message::Nx(N::SetAsyncConfig2(p)) => {
            let masks = async_config::from_props(p);
            (!async_config::valid(&masks, false))
                .then_some((Some("NXT_SET_ASYNC_CONFIG2"), "OFPACFC_INVALID"))
        }
        Message::MultipartRequest(MultipartRequest {
            body: MpRequest::NxFlowMonitor(list),
            ..
        }) if v == Version::Of10 && !list.iter().all(nicira::monitor_request_valid) => {
            named("NXST_FLOW_MONITOR request", "OFPMOFC_BAD_FLAGS")
        }
        // Nicira flow and aggregate stats exist only in OpenFlow 1.0 for OVS.
        Message::MultipartRequest(r) if h.version != 1 && nx_stats(&r.body) => {
            unnamed("OFPBRC_BAD_SUBTYPE")
        }
        Message::MultipartReply(r)
            if h.version != 1 && matches!(r.body, MpReply::NxFlow(_) | MpReply::NxAggregate(_)) =>
        {
            unnamed("OFPBRC_BAD_SUBTYPE")
        }
        Message::Experimenter(e) if e.experimenter == 0x2320 => unnamed("OFPBRC_BAD_SUBTYPE"),
        Message::Experimenter(_) => unnamed("OFPBRC_BAD_VENDOR"),
        Message::Nx(N::Other { .. }) => unnamed("OFPBRC_BAD_SUBTYPE"),
        // Nicira messages OVS defines for OpenFlow 1.0 only.
        Message::Nx(
            N::SetFlowFormat(_)
            | N::FlowMonitorCancel(_)
            | N::FlowMonitorPaused
            | N::FlowMonitorResumed,
        ) if v != Version::Of10 => unnamed("OFPBRC_BAD_SUBTYPE"),
        Message::MultipartRequest(MultipartRequest {
            body: MpRequest::NxFlowMonitor(_),
            ..
        })
        | Message::MultipartReply(MultipartReply {
            body: MpReply::NxFlowMonitor(_),
            ..
        }) if v != Version::Of10 => unnamed("OFPBRC_BAD_SUBTYPE"),

        _ => None,
    }
}

/// OVS's `ds_put_hex_dump` with ASCII: 16 bytes a line.
pub fn hex_dump(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in b.chunks(16).enumerate() {
        let _ = write!(s, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(x) => {
                    let _ = write!(s, "{x:02x}{}", if j == 7 { '-' } else { ' ' });
                }
                None => s.push_str("   "),
            }
        }
        s.push('|');
        for &x in chunk {
            s.push(if (0x20..0x7f).contains(&x) {
                x as char
            } else {
                '.'
            });
        }
        for _ in chunk.len()..16 {
            s.push(' ');
        }
        s.push_str("|\n");
    }
    s
}

/// `%#x` as C prints it: no `0x` before a zero.
fn c_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// `12s`, `3.012s`, `0.060s`, `5.000000006s`: OVS's `ofp_print_duration`.
pub fn duration(sec: u32, nsec: u32) -> String {
    let mut s = sec.to_string();
    if nsec > 0 {
        // Nine digits, trailing zeros dropped down to milliseconds.
        let mut frac = format!("{nsec:09}");
        while frac.len() > 3 && frac.ends_with('0') {
            frac.pop();
        }
        let _ = write!(s, ".{frac}");
    }
    s.push('s');
    s
}

fn flow_mod_flags(flags: u16) -> String {
    let mut s = String::new();
    for (bit, name) in [
        (1u16, "send_flow_rem"),
        (2, "check_overlap"),
        (4, "reset_counts"),
        (8, "no_packet_counts"),
        (16, "no_byte_counts"),
    ] {
        if flags & bit != 0 {
            let _ = write!(s, "{name} ");
        }
    }
    s
}

fn actions_text(ins: &[crate::instruction::Instruction]) -> String {
    match instructions_from_wire(ins) {
        Ok(a) => format_actions(&a),
        Err(e) => format!("<{}>", e.0),
    }
}

/// One flow stats entry as `ovs-ofctl dump-flows` prints it (OVS's
/// `ofputil_flow_stats_format` with statistics). `ages`: the entry
/// carries idle and hard ages (Nicira flow stats, OpenFlow 1.5).
pub fn flow_stats(fs: &FlowStats, ages: bool) -> String {
    let nx = ages;
    let mut s = format!(
        "cookie={:#x}, duration={}, table={}, n_packets={}, n_bytes={}, ",
        fs.cookie,
        duration(fs.duration_sec, fs.duration_nsec),
        fs.table_id,
        fs.packet_count,
        fs.byte_count
    );
    if fs.idle_timeout != 0 {
        let _ = write!(s, "idle_timeout={}, ", fs.idle_timeout);
    }
    if fs.hard_timeout != 0 {
        let _ = write!(s, "hard_timeout={}, ", fs.hard_timeout);
    }
    s.push_str(&flow_mod_flags(fs.flags));
    if fs.importance != 0 {
        let _ = write!(s, "importance={}, ", fs.importance);
    }
    if nx && fs.idle_age > 0 {
        let _ = write!(s, "idle_age={}, ", fs.idle_age - 1);
    }
    if nx && fs.hard_age > 0 && (fs.hard_age - 1) as u32 != fs.duration_sec {
        let _ = write!(s, "hard_age={}, ", fs.hard_age - 1);
    }
    let m = match match_from_wire(&fs.r#match) {
        Ok(m) => m.format(Some(fs.priority)),
        Err(e) => format!("<{}>", e.0),
    };
    s.push_str(&m);
    if !m.is_empty() {
        s.push(' ');
    }
    s.push_str("actions=");
    s.push_str(&actions_text(&fs.instructions));
    s
}

/// The flow lines of a flow stats reply, one ` cookie=...` line per flow
/// (what `ovs-ofctl dump-flows` prints for each reply).
pub fn flow_stats_lines(m: &Message, v: Version) -> String {
    let mut out = String::new();
    if let Message::MultipartReply(MultipartReply { body, .. }) = m {
        let (list, nx) = match body {
            MpReply::Flow(l) => (l, v >= Version::Of15),
            MpReply::NxFlow(l) => (l, true),
            _ => return out,
        };
        for fs in list {
            let _ = writeln!(out, " {}", flow_stats(fs, nx));
        }
    }
    out
}

/// A counter, `?` when the switch does not keep it (all ones).
fn counter(x: u64) -> String {
    if x == u64::MAX {
        "?".to_string()
    } else {
        x.to_string()
    }
}

fn port_stats(p: &PortStats, v: Version) -> String {
    let mut s = String::new();
    let name = format_port(p.port_no as u32);
    if name.parse::<u32>().is_ok() {
        let _ = write!(s, "  port {name:>2}: ");
    } else {
        let _ = write!(s, "  port {name}: ");
    }
    let _ = writeln!(
        s,
        "rx pkts={}, bytes={}, drop={}, errs={}, frame={}, over={}, crc={}",
        counter(p.rx_packets),
        counter(p.rx_bytes),
        counter(p.rx_dropped),
        counter(p.rx_errors),
        counter(p.rx_frame_err),
        counter(p.rx_over_err),
        counter(p.rx_crc_err)
    );
    let _ = writeln!(
        s,
        "           tx pkts={}, bytes={}, drop={}, errs={}, coll={}",
        counter(p.tx_packets),
        counter(p.tx_bytes),
        counter(p.tx_dropped),
        counter(p.tx_errors),
        counter(p.collisions)
    );
    if v >= Version::Of13 && p.duration_sec != u32::MAX {
        let _ = writeln!(
            s,
            "           duration={}",
            duration(p.duration_sec, p.duration_nsec)
        );
    }
    s
}

fn group_desc(g: &GroupDesc, v: Version) -> String {
    let gt = match g.type_ {
        0 => "all",
        1 => "select",
        2 => "indirect",
        3 => "ff",
        _ => "unknown",
    };
    let mut s = format!(" group_id={},type={gt}", g.group_id);
    for b in &g.buckets {
        s.push_str(",bucket=");
        if v >= Version::Of15 {
            let _ = write!(s, "bucket_id:{},", b.bucket_id);
        }
        if gt == "select" && b.weight != 1 {
            let _ = write!(s, "weight:{},", b.weight);
        }
        if b.watch_port != OFPP_NONE {
            let _ = write!(s, "watch_port:{},", format_port(b.watch_port as u32));
        }
        if b.watch_group != u32::MAX {
            let _ = write!(s, "watch_group:{},", b.watch_group);
        }
        s.push_str("actions=");
        match crate::text::wire::actions_from_wire(&b.actions, true) {
            Ok(a) => s.push_str(&format_actions(&a)),
            Err(e) => {
                let _ = write!(s, "<{}>", e.0);
            }
        }
    }
    s.push('\n');
    s
}

fn mp_request_name(b: &MpRequest) -> &'static str {
    match b {
        MpRequest::Desc => "OFPST_DESC request",
        MpRequest::Flow(_) => "OFPST_FLOW request",
        MpRequest::Aggregate(_) => "OFPST_AGGREGATE request",
        MpRequest::Table => "OFPST_TABLE request",
        MpRequest::PortStats(_) => "OFPST_PORT request",
        MpRequest::Queue(..) => "OFPST_QUEUE request",
        MpRequest::Group(_) => "OFPST_GROUP request",
        MpRequest::GroupDesc(_) => "OFPST_GROUP_DESC request",
        MpRequest::GroupFeatures => "OFPST_GROUP_FEATURES request",
        MpRequest::Meter(_) => "OFPST_METER request",
        MpRequest::MeterConfig(_) => "OFPST_METER_CONFIG request",
        MpRequest::MeterFeatures => "OFPST_METER_FEATURES request",
        MpRequest::TableFeatures(_) => "OFPST_TABLE_FEATURES request",
        MpRequest::PortDesc(_) => "OFPST_PORT_DESC request",
        MpRequest::NxFlow(_) => "NXST_FLOW request",
        MpRequest::NxAggregate(_) => "NXST_AGGREGATE request",
        MpRequest::NxFlowMonitor(_) => "NXST_FLOW_MONITOR request",
        MpRequest::Experimenter { .. } => "OFPST_EXPERIMENTER request",
        MpRequest::Other { .. } => "OFPST request",
    }
}

fn mp_reply_name(b: &MpReply) -> &'static str {
    match b {
        MpReply::Desc(_) => "OFPST_DESC reply",
        MpReply::Flow(_) => "OFPST_FLOW reply",
        MpReply::Aggregate(_) => "OFPST_AGGREGATE reply",
        MpReply::Table(_) => "OFPST_TABLE reply",
        MpReply::PortStats(_) => "OFPST_PORT reply",
        MpReply::Queue(_) => "OFPST_QUEUE reply",
        MpReply::Group(_) => "OFPST_GROUP reply",
        MpReply::GroupDesc(_) => "OFPST_GROUP_DESC reply",
        MpReply::GroupFeatures(_) => "OFPST_GROUP_FEATURES reply",
        MpReply::Meter(_) => "OFPST_METER reply",
        MpReply::MeterConfig(_) => "OFPST_METER_CONFIG reply",
        MpReply::MeterFeatures(_) => "OFPST_METER_FEATURES reply",
        MpReply::TableFeatures(_) => "OFPST_TABLE_FEATURES reply",
        MpReply::PortDesc(_) => "OFPST_PORT_DESC reply",
        MpReply::NxFlow(_) => "NXST_FLOW reply",
        MpReply::NxAggregate(_) => "NXST_AGGREGATE reply",
        MpReply::NxFlowMonitor(_) => "NXST_FLOW_MONITOR reply",
        MpReply::Experimenter { .. } => "OFPST_EXPERIMENTER reply",
        MpReply::Other { .. } => "OFPST reply",
    }
}

/// OVS's `ofp_print_bit_names`: the names of the set bits, `0` for none,
/// `0xN` for bits without a name.
fn bit_names(v: u32, names: &[(u32, &str)]) -> String {
    if v == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    let mut rest = v;
    for &(bit, name) in names {
        if v & bit != 0 {
            out.push(name.to_string());
            rest &= !bit;
        }
    }
    for i in 0..32 {
        if rest & (1 << i) != 0 {
            out.push(format!("{:#x}", 1u32 << i));
        }
    }
    out.join(" ")
}

fn port_features(f: u32, v: Version) -> String {
    let mut names: Vec<(u32, &str)> = vec![
        (1, "10MB-HD"),
        (2, "10MB-FD"),
        (4, "100MB-HD"),
        (8, "100MB-FD"),
        (16, "1GB-HD"),
        (32, "1GB-FD"),
        (64, "10GB-FD"),
    ];
    if v == Version::Of10 {
        names.extend([
            (1 << 7, "COPPER"),
            (1 << 8, "FIBER"),
            (1 << 9, "AUTO_NEG"),
            (1 << 10, "AUTO_PAUSE"),
            (1 << 11, "AUTO_PAUSE_ASYM"),
        ]);
    } else {
        names.extend([
            (1 << 7, "40GB-FD"),
            (1 << 8, "100GB-FD"),
            (1 << 9, "1TB-FD"),
            (1 << 10, "OTHER"),
            (1 << 11, "COPPER"),
            (1 << 12, "FIBER"),
            (1 << 13, "AUTO_NEG"),
            (1 << 14, "AUTO_PAUSE"),
            (1 << 15, "AUTO_PAUSE_ASYM"),
        ]);
    }
    bit_names(f, &names)
}

/// Mbps of the fastest speed bit (OVS's `netdev_features_to_bps`), for
/// OpenFlow 1.0 ports, which carry no speed.
fn features_mbps(f: u32) -> u64 {
    for (bit, mbps) in [
        (64u32, 10_000u64),
        (32 | 16, 1000),
        (8 | 4, 100),
        (2 | 1, 10),
    ] {
        if f & bit != 0 {
            return mbps;
        }
    }
    0
}

fn phy_port(p: &crate::message::basic::Port, v: Version) -> String {
    let mut s = format!(
        " {}({}): addr:{}\n",
        format_port(p.port_no as u32),
        p.name_str(),
        p.hw_addr
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    );
    let config = [
        (1, "PORT_DOWN"),
        (2, "NO_STP"),
        (4, "NO_RECV"),
        (8, "NO_RECV_STP"),
        (16, "NO_FLOOD"),
        (32, "NO_FWD"),
        (64, "NO_PACKET_IN"),
    ];
    let _ = writeln!(s, "     config:     {}", bit_names(p.config, &config));
    let state_names = [(1, "LINK_DOWN"), (2, "BLOCKED"), (4, "LIVE")];
    let state = if v == Version::Of10 {
        let stp = p.state & (3 << 8);
        let rest = p.state & !(3 << 8);
        if stp != 0 {
            let n = match stp >> 8 {
                1 => "STP_LEARN",
                2 => "STP_FORWARD",
                _ => "STP_BLOCK",
            };
            if rest != 0 {
                format!("{n}{}", bit_names(rest, &[(1, "LINK_DOWN")]))
            } else {
                n.to_string()
            }
        } else {
            bit_names(rest & 1, &[(1, "LINK_DOWN")])
        }
    } else {
        bit_names(p.state, &state_names)
    };
    let _ = writeln!(s, "     state:      {state}");
    for (label, f) in [
        ("current:    ", p.curr),
        ("advertised: ", p.advertised),
        ("supported:  ", p.supported),
        ("peer:       ", p.peer),
    ] {
        if f != 0 {
            let _ = writeln!(s, "     {label}{}", port_features(f, v));
        }
    }
    let (now, max) = if v == Version::Of10 {
        (features_mbps(p.curr), features_mbps(p.supported))
    } else {
        (p.curr_speed as u64 / 1000, p.max_speed as u64 / 1000)
    };
    let _ = writeln!(s, "     speed: {now} Mbps now, {max} Mbps max");
    s
}

fn phy_ports(ports: &[crate::message::basic::Port], v: Version) -> String {
    let mut sorted: Vec<_> = ports.iter().collect();
    sorted.sort_by_key(|p| p.port_no);
    sorted.iter().map(|p| phy_port(p, v)).collect()
}

fn features_reply(f: &crate::message::basic::FeaturesReply, v: Version) -> String {
    let mut s = format!(" dpid:{:016x}\n", f.datapath_id);
    let _ = write!(s, "n_tables:{}, n_buffers:{}", f.n_tables, f.n_buffers);
    if f.auxiliary_id != 0 {
        let _ = write!(s, ", auxiliary_id:{}", f.auxiliary_id);
    }
    s.push('\n');
    let caps: Vec<(u32, &str)> = if v == Version::Of10 {
        vec![
            (1, "FLOW_STATS"),
            (2, "TABLE_STATS"),
            (4, "PORT_STATS"),
            (8, "STP"),
            (0x20, "IP_REASM"),
            (0x40, "QUEUE_STATS"),
            (0x80, "ARP_MATCH_IP"),
        ]
    } else {
        vec![
            (1, "FLOW_STATS"),
            (2, "TABLE_STATS"),
            (4, "PORT_STATS"),
            (8, "GROUP_STATS"),
            (0x20, "IP_REASM"),
            (0x40, "QUEUE_STATS"),
            (0x100, "PORT_BLOCKED"),
            (0x200, "BUNDLES"),
        ]
    };
    // Bits this version does not define are dropped by OVS's decoder.
    let known: u32 = caps.iter().map(|c| c.0).fold(0, |a, b| a | b);
    let _ = writeln!(
        s,
        "capabilities: {}",
        bit_names(f.capabilities & known, &caps)
    );
    if v == Version::Of10 {
        let acts = [
            (1, "output"),
            (1 << 11, "enqueue"),
            (2, "set_vlan_vid"),
            (4, "set_vlan_pcp"),
            (8, "strip_vlan"),
            (16, "mod_dl_src"),
            (32, "mod_dl_dst"),
            (64, "mod_nw_src"),
            (128, "mod_nw_dst"),
            (256, "mod_nw_tos"),
            (512, "mod_tp_src"),
            (1024, "mod_tp_dst"),
        ];
        let names: Vec<&str> = acts
            .iter()
            .filter(|(b, _)| f.actions & b != 0)
            .map(|x| x.1)
            .collect();
        let _ = writeln!(s, "actions: {}", names.join(" "));
    }
    if v < Version::Of13 {
        s.push_str(&phy_ports(&f.ports, v));
    }
    s
}

const UNSUPPORTED: &str = " ***unsupported by ferrovs ofp-print***\n";

fn command_name(c: FlowModCommand) -> &'static str {
    match c {
        FlowModCommand::Add => "ADD",
        FlowModCommand::Modify => "MOD",
        FlowModCommand::ModifyStrict => "MOD_STRICT",
        FlowModCommand::Delete => "DEL",
        FlowModCommand::DeleteStrict => "DEL_STRICT",
    }
}

/// One message as `ovs-ofctl ofp-print` prints it, ending in a newline.
pub fn message(h: &Header, m: &Message) -> String {
    use crate::message::nicira::NxMessage as N;
    let v = Version::from_wire(h.version).unwrap_or(Version::Of10);
    let mut s;
    let simple = |name: &str| format!("{}\n", head(name, h));
    match m {
        Message::Hello(hello) => {
            s = simple("OFPT_HELLO");
            let versions: Vec<String> = match &hello.bitmap {
                Some(words) => (0..words.len() * 32)
                    .filter(|i| words[i / 32] & (1 << (i % 32)) != 0)
                    .map(|i| format!("{i:#04x}"))
                    .collect(),
                None => (1..=h.version).map(|i| format!("{i:#04x}")).collect(),
            };
            let _ = writeln!(s, " version bitmap: {}", versions.join(", "));
        }
        Message::EchoRequest(d) | Message::EchoReply(d) => {
            let name = if matches!(m, Message::EchoRequest(_)) {
                "OFPT_ECHO_REQUEST"
            } else {
                "OFPT_ECHO_REPLY"
            };
            s = format!("{} {} bytes of payload\n", head(name, h), d.len());
            s.push_str(&hex_dump(d));
        }
        Message::Error(e) => {
            let name = match e.code(v) {
                Some(c) => c.name().to_string(),
                None => format!(
                    "***decode error: type {} code {}***",
                    e.error.type_, e.error.code
                ),
            };
            s = format!("{} {name}\n", head("OFPT_ERROR", h));
            if !e.data.is_empty() {
                let whole = e.data.len() >= 4
                    && u16::from_be_bytes([e.data[2], e.data[3]]) as usize == e.data.len();
                if whole {
                    s.push_str(&print_bytes(&e.data));
                } else {
                    let total = if e.data.len() >= 4 {
                        u16::from_be_bytes([e.data[2], e.data[3]]) as usize
                    } else {
                        e.data.len()
                    };
                    if e.data.len() >= 8 {
                        let d = &e.data;
                        let ih = Header {
                            version: d[0],
                            type_: d[1],
                            length: u16::from_be_bytes([d[2], d[3]]),
                            xid: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
                        };
                        if let Some(n) = type_name(ih.version, ih.type_) {
                            let _ = writeln!(s, "{}", head(n, &ih));
                        }
                    }
                    let _ = writeln!(
                        s,
                        "(***truncated to {} bytes from {total}***)",
                        e.data.len()
                    );
                    s.push_str(&hex_dump(&e.data));
                }
            }
        }
        Message::FeaturesReply(f) => {
            s = head("OFPT_FEATURES_REPLY", h);
            s.push_str(&features_reply(f, v));
        }
        Message::Nx(crate::message::nicira::NxMessage::SetFlowFormat(f)) => {
            let name = match f {
                0 => "openflow10".to_string(),
                2 => "nxm".to_string(),
                f => format!("{f}"),
            };
            s = format!("{} format={name}\n", head("NXT_SET_FLOW_FORMAT", h));
        }
        Message::Nx(nx) if nx_simple(nx).is_some() => {
            let (name, body) = nx_simple(nx).expect("checked");
            s = format!("{}{body}\n", head(name, h));
        }
        Message::RoleRequest(r) | Message::RoleReply(r) => {
            let name = if matches!(m, Message::RoleRequest(_)) {
                "OFPT_ROLE_REQUEST"
            } else {
                "OFPT_ROLE_REPLY"
            };
            let role = match r.role {
                0 => "nochange",
                1 => "equal",
                2 => "primary",
                3 => "secondary",
                _ => "unknown",
            };
            s = format!("{} role={role}", head(name, h));
            if r.role != 0 {
                let _ = write!(s, " generation_id={}", r.generation_id);
            }
            s.push('\n');
        }
        Message::PortStatus(ps) => {
            let reason = match ps.reason {
                0 => "ADD",
                1 => "DEL",
                2 => "MOD",
                _ => "UNKNOWN",
            };
            s = format!("{} {reason}:", head("OFPT_PORT_STATUS", h));
            s.push_str(&phy_port(&ps.port, v));
        }
        Message::FlowRemoved(fr) => {
            s = head("OFPT_FLOW_REMOVED", h);
            s.push_str(&nicira::flow_removed(fr, v != Version::Of10));
        }
        Message::Nx(N::FlowRemoved(nfr)) => {
            s = head("NXT_FLOW_REMOVED", h);
            let fr = crate::message::FlowRemoved {
                cookie: nfr.cookie,
                priority: nfr.priority,
                reason: nfr.reason,
                // Nicira's field is the table plus one, 0 for unknown.
                table_id: nfr.table_id.wrapping_sub(1),
                duration_sec: nfr.duration_sec,
                duration_nsec: nfr.duration_nsec,
                idle_timeout: nfr.idle_timeout,
                hard_timeout: 0,
                packet_count: nfr.packet_count,
                byte_count: nfr.byte_count,
                r#match: nfr.r#match.clone(),
            };
            s.push_str(&nicira::flow_removed(&fr, true));
        }
        Message::GetAsyncReply(c) | Message::SetAsync(c) => {
            let name = if matches!(m, Message::SetAsync(_)) {
                "OFPT_SET_ASYNC"
            } else {
                "OFPT_GET_ASYNC_REPLY"
            };
            let (masks, legacy) = async_config::masks(c);
            s = format!(
                "{}\n{}",
                head(name, h),
                async_config::format(&masks, legacy)
            );
        }
        Message::Nx(N::SetAsyncConfig {
            packet_in,
            port_status,
            flow_removed,
        }) => {
            let masks = async_config::from_legacy(*packet_in, *port_status, *flow_removed);
            s = format!(
                "{}\n{}",
                head("NXT_SET_ASYNC_CONFIG", h),
                async_config::format(&masks, true)
            );
        }
        Message::Nx(N::SetAsyncConfig2(p)) => {
            let masks = async_config::from_props(p);
            s = format!(
                "{}\n{}",
                head("NXT_SET_ASYNC_CONFIG2", h),
                async_config::format(&masks, false)
            );
        }
        Message::Nx(N::FlowMonitorCancel(id)) => {
            s = format!("{} id={id}\n", head("NXT_FLOW_MONITOR_CANCEL", h));
        }
        Message::Nx(N::FlowMonitorPaused) => s = simple("NXT_FLOW_MONITOR_PAUSED"),
        Message::Nx(N::FlowMonitorResumed) => s = simple("NXT_FLOW_MONITOR_RESUMED"),
        Message::Nx(N::TlvTableRequest) => s = simple("NXT_TLV_TABLE_REQUEST"),
        Message::Nx(N::TlvTableMod { command, mappings }) => {
            s = head("NXT_TLV_TABLE_MOD", h);
            s.push_str(&nicira::tlv_table_mod(*command, mappings));
        }
        Message::Nx(N::TlvTableReply {
            max_option_space,
            max_fields,
            mappings,
        }) => {
            s = head("NXT_TLV_TABLE_REPLY", h);
            s.push_str(&nicira::tlv_table_reply(
                *max_option_space,
                *max_fields,
                mappings,
            ));
        }
        Message::MeterMod(mm) => {
            let cmd = match mm.command {
                0 => "ADD",
                1 => "MOD",
                2 => "DEL",
                _ => "UNKNOWN",
            };
            s = format!(
                "{} {cmd} {}",
                head("OFPT_METER_MOD", h),
                meter_config(mm.meter_id, mm.flags, &mm.bands)
            );
        }
        Message::GroupMod(gm) => {
            let cmd = match gm.command {
                0 => "ADD",
                1 => "MOD",
                2 => "DEL",
                _ => "UNKNOWN",
            };
            let g = GroupDesc {
                type_: gm.type_,
                group_id: gm.group_id,
                buckets: gm.buckets.clone(),
                props: gm.props.clone(),
            };
            s = format!("{}\n {cmd}{}", head("OFPT_GROUP_MOD", h), group_desc(&g, v));
        }
        Message::PortMod(pm) => {
            let config = [
                (1, "PORT_DOWN"),
                (2, "NO_STP"),
                (4, "NO_RECV"),
                (8, "NO_RECV_STP"),
                (16, "NO_FLOOD"),
                (32, "NO_FWD"),
                (64, "NO_PACKET_IN"),
            ];
            s = format!(
                "{} port: {}: addr:{}\n",
                head("OFPT_PORT_MOD", h),
                format_port(pm.port_no as u32),
                pm.hw_addr
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            );
            let _ = writeln!(s, "     config: {}", bit_names(pm.config, &config));
            let _ = writeln!(s, "     mask:   {}", bit_names(pm.mask, &config));
            if pm.advertise == 0 {
                s.push_str("     advertise: UNCHANGED\n");
            } else {
                let _ = writeln!(s, "     advertise: {}", port_features(pm.advertise, v));
            }
        }
        Message::BundleControl(bc) => {
            let ty = [
                "OPEN_REQUEST",
                "OPEN_REPLY",
                "CLOSE_REQUEST",
                "CLOSE_REPLY",
                "COMMIT_REQUEST",
                "COMMIT_REPLY",
                "DISCARD_REQUEST",
                "DISCARD_REPLY",
            ]
            .get(bc.type_ as usize)
            .copied()
            .unwrap_or("???");
            // C's %#x: no 0x for zero.
            let id = if bc.bundle_id == 0 {
                "0".to_string()
            } else {
                format!("{:#x}", bc.bundle_id)
            };
            s = format!(
                "{}\n bundle_id={id} type={ty} flags={}\n",
                head("OFPT_BUNDLE_CONTROL", h),
                bit_names(bc.flags as u32, &[(1, "atomic"), (2, "ordered")])
            );
        }
        Message::TableMod(tm) if v < Version::Of14 || tm.props.is_empty() => {
            let table = if tm.table_id == 0xff {
                "ALL_TABLES".to_string()
            } else {
                tm.table_id.to_string()
            };
            s = format!("{} table_id: {table}", head("OFPT_TABLE_MOD", h));
            if v >= Version::Of14 {
                let on = |b: u32| if tm.config & b != 0 { "on" } else { "off" };
                let _ = write!(s, ", eviction={}, vacancy={}", on(4), on(8));
            }
            s.push('\n');
        }
        Message::FeaturesRequest => s = simple("OFPT_FEATURES_REQUEST"),
        Message::GetConfigRequest => s = simple("OFPT_GET_CONFIG_REQUEST"),
        Message::BarrierRequest => s = simple("OFPT_BARRIER_REQUEST"),
        Message::BarrierReply => s = simple("OFPT_BARRIER_REPLY"),
        Message::GetAsyncRequest => s = simple("OFPT_GET_ASYNC_REQUEST"),
        Message::GetConfigReply(c) | Message::SetConfig(c) => {
            let name = if matches!(m, Message::SetConfig(_)) {
                "OFPT_SET_CONFIG"
            } else {
                "OFPT_GET_CONFIG_REPLY"
            };
            let frags = match c.flags & 3 {
                0 => "normal",
                1 => "drop",
                2 => "reassemble",
                _ => "nx-match",
            };
            s = format!("{} frags={frags}", head(name, h));
            if c.flags & 4 != 0 && v < Version::Of13 {
                s.push_str(" invalid_ttl_to_controller");
            }
            let _ = writeln!(s, " miss_send_len={}", c.miss_send_len);
        }
        Message::FlowMod(fm) => {
            s = format!("{} {} ", head("OFPT_FLOW_MOD", h), command_name(fm.command));
            if fm.table_id != 0 && !(v == Version::Of10 && fm.table_id == 0xff) {
                let _ = write!(s, "table:{} ", fm.table_id);
            }
            let mt = match match_from_wire(&fm.r#match) {
                Ok(x) => x.format(Some(fm.priority)),
                Err(e) => format!("<{}>", e.0),
            };
            s.push_str(&mt);
            if !mt.is_empty() {
                s.push(' ');
            }
            if fm.cookie != 0 {
                let _ = write!(s, "cookie:{:#x} ", fm.cookie);
            }
            if fm.idle_timeout != 0 {
                let _ = write!(s, "idle:{} ", fm.idle_timeout);
            }
            if fm.hard_timeout != 0 {
                let _ = write!(s, "hard:{} ", fm.hard_timeout);
            }
            if fm.importance != 0 {
                let _ = write!(s, "importance:{} ", fm.importance);
            }
            if fm.buffer_id != u32::MAX {
                let _ = write!(s, "buf:{:#x} ", fm.buffer_id);
            }
            if fm.out_port != OFPP_NONE {
                let _ = write!(s, "out_port:{} ", format_port(fm.out_port as u32));
            }
            let flags = flow_mod_flags(fm.flags);
            if !flags.is_empty() {
                let _ = write!(
                    s,
                    "flags:{} ",
                    flags.trim_end_matches(", ").replace(", ", " ")
                );
            }
            let _ = writeln!(s, "actions={}", actions_text(&fm.instructions));
        }
        Message::MultipartRequest(MultipartRequest { flags, body }) => {
            s = head(mp_request_name(body), h);
            if *flags & 1 != 0 {
                s.push_str(" flags=[more]");
            }
            match body {
                MpRequest::Desc
                | MpRequest::Table
                | MpRequest::GroupFeatures
                | MpRequest::MeterFeatures => {}
                MpRequest::PortStats(p) => {
                    let _ = write!(s, " port_no={}", format_port(*p as u32));
                }
                MpRequest::PortDesc(p) => {
                    let _ = write!(s, " port={}", format_port(*p as u32));
                }
                MpRequest::GroupDesc(g) => {
                    // Before 1.5 the request has no group: all of them.
                    let g = if v < Version::Of15 { 0xffff_fffc } else { *g };
                    let _ = write!(s, " group_id={}", group_name(g));
                }
                MpRequest::Meter(id) | MpRequest::MeterConfig(id) => {
                    if *id == u32::MAX {
                        s.push_str(" meter=all");
                    } else {
                        let _ = write!(s, " meter={id}");
                    }
                }
                MpRequest::Queue(p, q) => {
                    let _ = write!(s, " port={}", format_port(*p as u32));
                    if *q == u32::MAX {
                        s.push_str(" queue=ALL");
                    } else {
                        let _ = write!(s, " queue={q}");
                    }
                }
                MpRequest::Group(g) => {
                    let _ = write!(s, " group_id={}", group_name(*g));
                }
                MpRequest::NxFlowMonitor(list) => {
                    for r in list {
                        s.push_str(&nicira::monitor_request(r));
                    }
                }
                MpRequest::Flow(r)
                | MpRequest::Aggregate(r)
                | MpRequest::NxFlow(r)
                | MpRequest::NxAggregate(r) => {
                    let mut parts = String::new();
                    if r.table_id != 0xff {
                        let _ = write!(parts, " table={}", r.table_id);
                    }
                    if r.out_port != OFPP_NONE {
                        let _ = write!(parts, " out_port={}", format_port(r.out_port as u32));
                    }
                    let mt = match match_from_wire(&r.r#match) {
                        Ok(x) => x.format(None),
                        Err(e) => format!("<{}>", e.0),
                    };
                    if !mt.is_empty() {
                        let _ = write!(parts, " {mt}");
                    }
                    s.push_str(&parts);
                }
                _ => {
                    s.push_str(UNSUPPORTED);
                    return s;
                }
            }
            s.push('\n');
        }
        Message::MultipartReply(MultipartReply { flags, body }) => {
            s = head(mp_reply_name(body), h);
            if *flags & 1 != 0 {
                s.push_str(" flags=[more]");
            }
            match body {
                MpReply::Flow(_) | MpReply::NxFlow(_) => {
                    s.push('\n');
                    s.push_str(&flow_stats_lines(m, v));
                }
                MpReply::PortStats(list) => {
                    let _ = writeln!(s, " {} ports", list.len());
                    for p in list {
                        s.push_str(&port_stats(p, v));
                    }
                }
                MpReply::PortDesc(list) => {
                    s.push('\n');
                    s.push_str(&phy_ports(list, v));
                }
                MpReply::GroupDesc(list) => {
                    s.push('\n');
                    for g in list {
                        s.push_str(&group_desc(g, v));
                    }
                }
                MpReply::Group(list) => {
                    s.push('\n');
                    for g in list {
                        let _ = write!(
                            s,
                            " group_id={},duration={},ref_count={},packet_count={},byte_count={}",
                            g.group_id,
                            duration(g.duration_sec, g.duration_nsec),
                            g.ref_count,
                            g.packet_count,
                            g.byte_count
                        );
                        for (i, (p, b)) in g.buckets.iter().enumerate() {
                            let _ = write!(s, ",bucket{i}:packet_count={p},byte_count={b}");
                        }
                        s.push('\n');
                    }
                }
                MpReply::Queue(list) => {
                    let _ = writeln!(s, " {} queues", list.len());
                    for q in list {
                        let d = if v >= Version::Of13 && q.duration_sec != u32::MAX {
                            duration(q.duration_sec, q.duration_nsec)
                        } else {
                            "?".into()
                        };
                        let _ = writeln!(
                            s,
                            "  port {} queue {}: bytes={}, pkts={}, errors={}, duration={d}",
                            format_port(q.port_no as u32),
                            q.queue_id,
                            counter(q.tx_bytes),
                            counter(q.tx_packets),
                            counter(q.tx_errors)
                        );
                    }
                }
                MpReply::MeterConfig(list) => {
                    s.push('\n');
                    for mc in list {
                        s.push_str(&meter_config(mc.meter_id, mc.flags, &mc.bands));
                    }
                }
                MpReply::Meter(list) => {
                    s.push('\n');
                    for ms in list {
                        let _ = writeln!(
                            s,
                            "meter:{} flow_count:{} packet_in_count:{} byte_in_count:{} duration:{} bands:",
                            ms.meter_id,
                            ms.flow_count,
                            ms.packet_in_count,
                            ms.byte_in_count,
                            duration(ms.duration_sec, ms.duration_nsec)
                        );
                        for (i, (p, b)) in ms.bands.iter().enumerate() {
                            let _ = writeln!(s, "{i}: packet_count:{p} byte_count:{b}");
                        }
                    }
                }
                MpReply::MeterFeatures(mf) => {
                    let _ = writeln!(
                        s,
                        "\nmax_meter:{} max_bands:{} max_color:{}",
                        mf.max_meter, mf.max_bands, mf.max_color
                    );
                    let bands: Vec<&str> = [(1u32 << 1, "drop"), (1 << 2, "dscp_remark")]
                        .iter()
                        .filter(|(b, _)| mf.band_types & b != 0)
                        .map(|x| x.1)
                        .collect();
                    let _ = writeln!(s, "band_types: {}", bands.join(" "));
                    let _ = writeln!(
                        s,
                        "capabilities: {}",
                        meter_flags(mf.capabilities as u16).trim_end()
                    );
                }
                MpReply::Table(list) => s.push_str(&table_stats::format(list)),
                MpReply::GroupFeatures(f) => s.push_str(&group_features::format(f)),
                MpReply::NxFlowMonitor(list) => {
                    for u in list {
                        s.push_str(&nicira::flow_update(u));
                    }
                    // OVS's text of the last update loses its trailing space.
                    let n = s.trim_end_matches(' ').len();
                    s.truncate(n);
                    s.push('\n');
                }
                MpReply::Aggregate(a) | MpReply::NxAggregate(a) => {
                    let _ = writeln!(
                        s,
                        " packet_count={} byte_count={} flow_count={}",
                        a.packet_count, a.byte_count, a.flow_count
                    );
                }
                MpReply::Desc(d) => {
                    s.push('\n');
                    let _ = writeln!(s, "Manufacturer: {}", d.mfr_desc);
                    let _ = writeln!(s, "Hardware: {}", d.hw_desc);
                    let _ = writeln!(s, "Software: {}", d.sw_desc);
                    let _ = writeln!(s, "Serial Num: {}", d.serial_num);
                    let _ = writeln!(s, "DP Description: {}", d.dp_desc);
                }
                _ => s.push_str(UNSUPPORTED),
            }
        }
        _ => {
            let name = type_name(h.version, h.type_)
                .map(str::to_string)
                .unwrap_or_else(|| format!("type {}", h.type_));
            s = head(&name, h);
            s.push_str(UNSUPPORTED);
        }
    }
    s
}

/// OVS's name of a message type that needs no body to be named.
fn type_name(version: u8, t: u8) -> Option<&'static str> {
    Some(match (version, t) {
        (_, 0) => "OFPT_HELLO",
        (_, 1) => "OFPT_ERROR",
        (_, 2) => "OFPT_ECHO_REQUEST",
        (_, 3) => "OFPT_ECHO_REPLY",
        (_, 5) => "OFPT_FEATURES_REQUEST",
        (_, 6) => "OFPT_FEATURES_REPLY",
        (_, 7) => "OFPT_GET_CONFIG_REQUEST",
        (_, 8) => "OFPT_GET_CONFIG_REPLY",
        (_, 9) => "OFPT_SET_CONFIG",
        (_, 10) => "OFPT_PACKET_IN",
        (_, 11) => "OFPT_FLOW_REMOVED",
        (_, 12) => "OFPT_PORT_STATUS",
        (_, 13) => "OFPT_PACKET_OUT",
        (_, 14) => "OFPT_FLOW_MOD",
        (1, 15) => "OFPT_PORT_MOD",
        (1, 18) => "OFPT_BARRIER_REQUEST",
        (1, 19) => "OFPT_BARRIER_REPLY",
        (_, 15) => "OFPT_GROUP_MOD",
        (_, 16) => "OFPT_PORT_MOD",
        (_, 17) => "OFPT_TABLE_MOD",
        (_, 20) => "OFPT_BARRIER_REQUEST",
        (_, 21) => "OFPT_BARRIER_REPLY",
        _ => return None,
    })
}

/// `kbps pktps burst stats ` (each name followed by a space).
fn meter_flags(f: u16) -> String {
    [(1u16, "kbps"), (2, "pktps"), (4, "burst"), (8, "stats")]
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| format!("{n} "))
        .collect()
}

/// OVS's `ofputil_format_meter_config`, with its newline.
fn meter_config(id: u32, flags: u16, bands: &[crate::message::group_meter::MeterBand]) -> String {
    let mut s = format!("meter={id} {}bands=", meter_flags(flags));
    for b in bands {
        match b.type_ {
            1 => s.push_str("\ntype=drop"),
            2 => s.push_str("\ntype=dscp_remark"),
            t => {
                let _ = write!(s, "\ntype={t}");
            }
        }
        let _ = write!(s, " rate={}", b.rate);
        if flags & 4 != 0 {
            let _ = write!(s, " burst_size={}", b.burst_size);
        }
        if b.type_ == 2 {
            let _ = write!(s, " prec_level={}", b.prec_level);
        }
    }
    s.push('\n');
    s
}

/// Nicira messages with a one-line body: (name, body text).
fn nx_simple(nx: &crate::message::nicira::NxMessage) -> Option<(&'static str, String)> {
    use crate::message::nicira::NxMessage as N;
    let role = |r: u32| match r {
        0 => "equal",
        1 => "primary",
        2 => "secondary",
        _ => "unknown",
    };
    Some(match nx {
        N::RoleRequest(r) => ("NXT_ROLE_REQUEST", format!(" role={}", role(*r))),
        N::RoleReply(r) => ("NXT_ROLE_REPLY", format!(" role={}", role(*r))),
        N::FlowModTableId(on) => (
            "NXT_FLOW_MOD_TABLE_ID",
            if *on { " enable" } else { " disable" }.to_string(),
        ),
        N::SetPacketInFormat(f) => {
            let n = match f {
                0 => "openflow10".to_string(),
                1 => "nxt_packet_in".to_string(),
                2 => "nxt_packet_in2".to_string(),
                f => format!("{f}"),
            };
            ("NXT_SET_PACKET_IN_FORMAT", format!(" format={n}"))
        }
        N::FlowAge => ("NXT_FLOW_AGE", String::new()),
        N::SetControllerId(id) => ("NXT_SET_CONTROLLER_ID", format!(" id={id}")),
        N::CtFlushZone(z) => ("NXT_CT_FLUSH_ZONE", format!(" zone_id={z}")),
        _ => return None,
    })
}

fn group_name(g: u32) -> String {
    match g {
        0xffff_fffc => "ALL".into(),
        0xffff_ffff => "ANY".into(),
        g => g.to_string(),
    }
}
