//! One OpenFlow rule as `ovs-appctl bridge/dump-flows` prints it (OVS's
//! `flow_stats_ds`): `table_id=N, ` for tables other than 0, then
//! `duration=Ss, n_packets=P, n_bytes=B, `, the match with its priority
//! (as `match_format`: the default priority 32768 is not shown), a comma
//! and `actions=...`, one line per rule.
//!
//! The match and instructions are turned into the text forms of
//! `ferrovs_openflow::text` (the ovs-ofctl syntax printer), so the line
//! reads as `ovs-ofctl dump-flows` would print the same rule.

use std::fmt::Write;
use std::time::Instant;

use ferrovs_ofproto::rule::Rule;
use ferrovs_openflow::text::action::format_actions;
use ferrovs_openflow::text::wire::{instructions_from_wire, match_from_wire};

/// Appends rule `r`'s line to `out`.
pub fn format_rule(r: &Rule, now: Instant, out: &mut String) {
    if r.table_id != 0 {
        let _ = write!(out, "table_id={}, ", r.table_id);
    }
    let secs = now.saturating_duration_since(r.created).as_secs();
    let _ = write!(
        out,
        "duration={secs}s, n_packets={}, n_bytes={}, ",
        r.packet_count, r.byte_count
    );
    match match_from_wire(&r.r#match) {
        Ok(m) => out.push_str(&m.format(Some(r.priority))),
        Err(e) => {
            let _ = write!(out, "priority={},<match: {}>", r.priority, e.0);
        }
    }
    out.push_str(",actions=");
    match instructions_from_wire(&r.instructions) {
        Ok(a) => out.push_str(&format_actions(&a)),
        Err(e) => {
            let _ = write!(out, "<{}>", e.0);
        }
    }
    out.push('\n');
}
