//! Asynchronous message configuration as OVS prints it (OFPT_GET_ASYNC_REPLY,
//! OFPT_SET_ASYNC, NXT_SET_ASYNC_CONFIG[2]): for the primary, then the
//! secondary role, one line per message type with the names of the
//! reasons enabled, `(off)` for none. Both encodings (1.3's six masks,
//! 1.4's properties) are first read into one table of masks,
//! `[role][type]`, role 0 primary and 1 secondary, types in print order.

use std::fmt::Write;

use crate::message::basic::AsyncConfig;

const TYPES: [&str; 6] = [
    "PACKET_IN",
    "PORT_STATUS",
    "FLOW_REMOVED",
    "ROLE_STATUS",
    "TABLE_STATUS",
    "REQUESTFORWARD",
];

/// Reason names by bit, per type.
const REASONS: [&[(u32, &str)]; 6] = [
    &[
        (1, "no_match"),
        (2, "action"),
        (4, "invalid_ttl"),
        (8, "action_set"),
        (16, "group"),
        (32, "packet_out"),
    ],
    &[(1, "add"), (2, "delete"), (4, "modify")],
    &[
        (1, "idle"),
        (2, "hard"),
        (4, "delete"),
        (8, "group_delete"),
        (16, "meter_delete"),
        (32, "eviction"),
    ],
    &[
        (1, "primary_request"),
        (2, "configuration_changed"),
        (4, "experimenter_data_changed"),
    ],
    &[(8, "vacancy_down"), (16, "vacancy_up")],
    &[(1, "group_mod_request"), (2, "meter_mod_request")],
];

/// The reasons OVS accepts per type: the 1.0/1.3 masks know fewer.
fn allowed(legacy: bool) -> [u32; 6] {
    if legacy {
        [0x7, 0x7, 0x3f, 0, 0, 0]
    } else {
        [0x3f, 0x7, 0x3f, 0x7, 0x18, 0x3]
    }
}

/// The masks, `[role][type]`: what OVS keeps of them.
pub type Masks = [[u32; 6]; 2];

/// From 1.3's masks (`[primary, secondary]` per type).
pub fn from_legacy(packet_in: [u32; 2], port_status: [u32; 2], flow_removed: [u32; 2]) -> Masks {
    let mut m = [[0; 6]; 2];
    for role in 0..2 {
        m[role][0] = packet_in[role];
        m[role][1] = port_status[role];
        m[role][2] = flow_removed[role];
    }
    m
}

/// From 1.4 properties: type 2k is type k's secondary mask, 2k+1 its primary.
pub fn from_props(props: &[(u16, u32)]) -> Masks {
    let mut m = [[0; 6]; 2];
    for &(t, mask) in props {
        let (k, role) = (t as usize / 2, if t % 2 == 1 { 0 } else { 1 });
        if k < 6 {
            m[role][k] = mask;
        }
    }
    m
}

pub fn masks(c: &AsyncConfig) -> (Masks, bool) {
    match c {
        AsyncConfig::Masks {
            packet_in,
            port_status,
            flow_removed,
        } => (from_legacy(*packet_in, *port_status, *flow_removed), true),
        AsyncConfig::Props(p) => (from_props(p), false),
    }
}

/// Whether OVS's decoder takes the masks: 1.3's masks always (bits it
/// does not know are dropped), properties only when every bit set is one
/// it accepts (OFPACFC_INVALID otherwise), except in replies.
pub fn valid(m: &Masks, legacy: bool) -> bool {
    if legacy {
        return true;
    }
    let a = allowed(legacy);
    m.iter()
        .all(|r| r.iter().zip(a).all(|(x, ok)| x & !ok == 0))
}

/// The body: ` primary:` ... blank line ... ` secondary:` ...; bits OVS
/// does not accept are left out (its loose decoder drops them).
pub fn format(m: &Masks, legacy: bool) -> String {
    let a = allowed(legacy);
    let mut s = String::new();
    for (role, name) in ["primary", "secondary"].iter().enumerate() {
        if role == 1 {
            s.push('\n');
        }
        let _ = writeln!(s, " {name}:");
        for (k, ty) in TYPES.iter().enumerate() {
            let on = m[role][k] & a[k];
            let names: Vec<&str> = REASONS[k]
                .iter()
                .filter(|(b, _)| on & b != 0)
                .map(|x| x.1)
                .collect();
            let text = if names.is_empty() {
                "(off)".to_string()
            } else {
                names.join(" ")
            };
            let _ = writeln!(s, "{ty:>16}: {text}");
        }
    }
    s
}
