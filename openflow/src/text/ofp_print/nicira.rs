//! Nicira extension messages with bodies of several fields, as OVS prints
//! them: flow removed, flow monitor requests and updates, and the Geneve
//! TLV table. Each function returns the text after the header line's
//! `NAME (xid=..):`, with its newline.

use std::fmt::Write;

use crate::message::nicira::{FlowMonitorRequest, FlowUpdate, TlvMap};
use crate::message::FlowRemoved;
use crate::port::OFPP_NONE;
use crate::text::action::format_actions;
use crate::text::value::format_port;
use crate::text::wire::{actions_from_wire, match_from_wire};

use super::c_hex;

fn match_text(m: &crate::r#match::Match, priority: Option<u16>) -> String {
    match match_from_wire(m) {
        Ok(x) => x.format(priority),
        Err(e) => format!("<{}>", e.0),
    }
}

pub fn removed_reason(r: u8) -> &'static str {
    match r {
        0 => "idle",
        1 => "hard",
        2 => "delete",
        3 => "group_delete",
        4 => "meter_delete",
        5 => "eviction",
        _ => "unknown",
    }
}

/// ` MATCH reason=R[ table_id=N][ cookie:C] durationD idleI[ hardH] pktsP bytesB`.
pub fn flow_removed(fr: &FlowRemoved, show_table: bool) -> String {
    let mut s = format!(" {}", match_text(&fr.r#match, Some(fr.priority)));
    let _ = write!(s, " reason={}", removed_reason(fr.reason));
    if show_table && fr.table_id != 255 {
        let _ = write!(s, " table_id={}", fr.table_id);
    }
    if fr.cookie != 0 {
        let _ = write!(s, " cookie:{:#x}", fr.cookie);
    }
    let _ = write!(
        s,
        " duration{} idle{}",
        super::duration(fr.duration_sec, fr.duration_nsec),
        fr.idle_timeout
    );
    if fr.hard_timeout != 0 {
        let _ = write!(s, " hard{}", fr.hard_timeout);
    }
    let _ = writeln!(s, " pkts{} bytes{}", fr.packet_count, fr.byte_count);
    s
}

/// The monitor flags OVS accepts, by bit.
const MONITOR_FLAGS: [(u16, &str); 6] = [
    (1, "initial"),
    (2, "add"),
    (4, "delete"),
    (8, "modify"),
    (16, "actions"),
    (32, "own"),
];

/// Whether OVS's decoder takes the request (some event flag, no unknown one).
pub fn monitor_request_valid(r: &FlowMonitorRequest) -> bool {
    r.flags & !0x3f == 0 && r.flags & (2 | 4 | 8) != 0
}

/// One `\n id=N flags=a,b[ out_port=P][ table=T] MATCH` entry, without
/// its newline and without a trailing space.
pub fn monitor_request(r: &FlowMonitorRequest) -> String {
    let names: Vec<&str> = MONITOR_FLAGS
        .iter()
        .filter(|(b, _)| r.flags & b != 0)
        .map(|x| x.1)
        .collect();
    let mut s = format!("\n id={} flags={}", r.id, names.join(","));
    if r.out_port != OFPP_NONE {
        let _ = write!(s, " out_port={}", format_port(r.out_port as u32));
    }
    if r.table_id != 0xff {
        let _ = write!(s, " table={}", r.table_id);
    }
    let m = match_text(&r.r#match, None);
    if !m.is_empty() {
        let _ = write!(s, " {m}");
    }
    s
}

/// One `\n event=...` entry of a monitor reply, as OVS's
/// `ofputil_flow_update_format`: the priority is never shown, and an
/// empty match leaves the space before it.
pub fn flow_update(u: &FlowUpdate) -> String {
    match u {
        FlowUpdate::Abbrev { xid } => format!("\n event=ABBREV xid={xid:#x}"),
        FlowUpdate::Full {
            event,
            reason,
            idle_timeout,
            hard_timeout,
            table_id,
            cookie,
            r#match,
            actions,
            ..
        } => {
            let mut s = String::from("\n event=");
            match event {
                0 => s.push_str("ADDED"),
                1 => {
                    let _ = write!(s, "DELETED reason={}", removed_reason(*reason as u8));
                }
                2 => s.push_str("MODIFIED"),
                e => {
                    let _ = write!(s, "{e}");
                }
            }
            let _ = write!(s, " table={table_id}");
            if *idle_timeout != 0 {
                let _ = write!(s, " idle_timeout={idle_timeout}");
            }
            if *hard_timeout != 0 {
                let _ = write!(s, " hard_timeout={hard_timeout}");
            }
            let _ = write!(s, " cookie={} ", c_hex(*cookie));
            s.push_str(&match_text(r#match, None));
            if !actions.is_empty() {
                if !s.ends_with(' ') {
                    s.push(' ');
                }
                s.push_str("actions=");
                match actions_from_wire(actions, false) {
                    Ok(a) => s.push_str(&format_actions(&a)),
                    Err(e) => {
                        let _ = write!(s, "<{}>", e.0);
                    }
                }
            }
            s
        }
    }
}

/// The mapping table of TLV table messages.
fn tlv_maps(maps: &[TlvMap]) -> String {
    let mut s =
        String::from("  class  type  length  match field\n ------  ----  ------  --------------\n");
    for m in maps {
        let _ = writeln!(
            s,
            " {:>6}  {:>4}  {:>6}  tun_metadata{}",
            c_hex(m.option_class as u64),
            c_hex(m.option_type as u64),
            m.option_len,
            m.index
        );
    }
    s
}

/// NXT_TLV_TABLE_MOD's body: `CLEAR`, or the command and its mappings.
pub fn tlv_table_mod(command: u16, maps: &[TlvMap]) -> String {
    match command {
        0 => format!("\n ADD mapping table:\n{}", tlv_maps(maps)),
        1 => format!("\n DEL mapping table:\n{}", tlv_maps(maps)),
        2 => "\n CLEAR\n".into(),
        c => format!("\n ***unknown command {c}***\n"),
    }
}

/// NXT_TLV_TABLE_REPLY's body.
pub fn tlv_table_reply(max_space: u32, max_fields: u16, maps: &[TlvMap]) -> String {
    let used: u32 = maps.iter().map(|m| m.option_len as u32).sum();
    format!(
        "\n max option space={max_space} max fields={max_fields}\n allocated option space={used}\n\n mapping table:\n{}",
        tlv_maps(maps)
    )
}
