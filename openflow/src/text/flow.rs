//! A whole flow line: `table=0,priority=10,ip,nw_src=198.18.0.1 actions=...`.
//!
//! `FlowText` holds what `ovs-ofctl add-flow` reads (the flow-mod's table,
//! priority, cookie, timeouts, importance, flags, match and actions) and
//! prints it the way `ovs-ofctl dump-flows --no-stats` does: cookie and
//! table only when not zero, timeouts only when set, flags as words, then
//! the match (with `priority=` first when not the default) and `actions=`.

use super::action::{format_actions, Action};
use super::action_parse::parse_actions;
use super::error::ParseError;
use super::field::{ones, Field};
use super::flow_match::*;
use super::lexer::Items;
use super::subfield::Subfield;
use super::value::{parse_masked, parse_port, parse_uint};

/// Flow-mod flags (OVS's `ofputil_flow_mod_flags` bit values).
pub const FF_SEND_FLOW_REM: u16 = 1 << 0;
pub const FF_CHECK_OVERLAP: u16 = 1 << 1;
pub const FF_RESET_COUNTS: u16 = 1 << 2;
pub const FF_NO_PKT_COUNTS: u16 = 1 << 3;
pub const FF_NO_BYT_COUNTS: u16 = 1 << 4;

/// A parsed flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowText {
    pub table: Option<u8>,
    pub priority: u16,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub importance: u16,
    pub flags: u16,
    pub out_port: Option<u32>,
    pub matches: FlowMatch,
    pub actions: Vec<Action>,
}

impl Default for FlowText {
    fn default() -> Self {
        FlowText {
            table: None,
            priority: 32768,
            cookie: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            importance: 0,
            flags: 0,
            out_port: None,
            matches: FlowMatch::default(),
            actions: Vec::new(),
        }
    }
}

/// Protocol shorthands: name, dl_type, nw_proto.
const PROTOCOLS: &[(&str, u128, Option<u128>)] = &[
    ("ip", ETH_TYPE_IP, None),
    ("ipv4", ETH_TYPE_IP, None),
    ("icmp", ETH_TYPE_IP, Some(1)),
    ("tcp", ETH_TYPE_IP, Some(6)),
    ("udp", ETH_TYPE_IP, Some(17)),
    ("sctp", ETH_TYPE_IP, Some(132)),
    ("ipv6", ETH_TYPE_IPV6, None),
    ("ip6", ETH_TYPE_IPV6, None),
    ("icmp6", ETH_TYPE_IPV6, Some(58)),
    ("tcp6", ETH_TYPE_IPV6, Some(6)),
    ("udp6", ETH_TYPE_IPV6, Some(17)),
    ("sctp6", ETH_TYPE_IPV6, Some(132)),
    ("arp", ETH_TYPE_ARP, None),
    ("rarp", ETH_TYPE_RARP, None),
    ("mpls", ETH_TYPE_MPLS, None),
    ("mplsm", ETH_TYPE_MPLS_MCAST, None),
];

/// Splits `... actions=...` into the match part and the action text.
fn extract_actions(s: &str) -> Option<(&str, &str)> {
    let i = s
        .find("actions=")
        .map(|i| (i, 8))
        .or_else(|| s.find("action=").map(|i| (i, 7)))?;
    Some((&s[..i.0], &s[i.0 + i.1..]))
}

/// Checks a value against the few field-specific validity rules of OVS.
fn check_value(f: &Field, v: u128, text: &str) -> Result<(), ParseError> {
    let ok = match f.name {
        "nw_tos" => v & 3 == 0,
        "dl_vlan" => v < 4096 || v == 0xffff,
        "arp_op" => v < 256,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::bad(f.name, text))
    }
}

impl FlowText {
    /// Parses a flow as `ovs-ofctl add-flow` does. With `need_actions`,
    /// a missing `actions=` is an error (as for add-flow); without, the
    /// text is a match only (as for dump-flows or del-flows).
    pub fn parse(s: &str, need_actions: bool) -> Result<FlowText, ParseError> {
        let mut ft = FlowText::default();
        let (m, acts) = match extract_actions(s) {
            Some((m, a)) => (m, Some(a)),
            None if need_actions => return Err(ParseError::NoActions),
            None => (s, None),
        };
        if let Some(a) = acts {
            ft.actions = parse_actions(a)?;
        }
        for item in Items::new(m) {
            let item = item?;
            ft.parse_item(item.key, item.value, item.text)?;
        }
        Ok(ft)
    }

    fn parse_item(&mut self, key: &str, value: &str, text: &str) -> Result<(), ParseError> {
        if let Some((_, dl, proto)) = PROTOCOLS.iter().find(|(n, _, _)| *n == key) {
            if !value.is_empty() {
                return Err(ParseError::bad(key, value));
            }
            self.matches.v[super::field::Slot::DlType as usize] = *dl;
            self.matches.m[super::field::Slot::DlType as usize] = 0xffff;
            if let Some(p) = proto {
                self.matches.v[super::field::Slot::NwProto as usize] = *p;
                self.matches.m[super::field::Slot::NwProto as usize] = 0xff;
            }
            return Ok(());
        }
        match key {
            "send_flow_rem" => self.flags |= FF_SEND_FLOW_REM,
            "check_overlap" => self.flags |= FF_CHECK_OVERLAP,
            "reset_counts" => self.flags |= FF_RESET_COUNTS,
            "no_packet_counts" => self.flags |= FF_NO_PKT_COUNTS,
            "no_byte_counts" => self.flags |= FF_NO_BYT_COUNTS,
            "no_readonly_table" | "allow_hidden_fields" => {}
            "duration" | "n_packets" | "n_bytes" | "idle_age" | "hard_age" => {}
            _ if value.is_empty() && !key.contains('[') => {
                if super::field::by_name(key).is_some() || is_keyword(key) {
                    return Err(ParseError::MissingValue(key.to_string()));
                }
                return Err(ParseError::UnknownKeyword(key.to_string()));
            }
            "table" => {
                let t = parse_uint(key, value)?;
                if t > 255 {
                    return Err(ParseError::bad(key, value));
                }
                self.table = if t == 255 { None } else { Some(t as u8) };
            }
            "priority" => self.priority = num16(key, value)?,
            "idle_timeout" => self.idle_timeout = num16(key, value)?,
            "hard_timeout" => self.hard_timeout = num16(key, value)?,
            "importance" => self.importance = num16(key, value)?,
            "out_port" => self.out_port = Some(parse_port(value)?),
            "cookie" => {
                if value.contains('/') {
                    return Err(ParseError::Syntax(
                        "flow additions cannot use a cookie mask".into(),
                    ));
                }
                let c = parse_uint(key, value)?;
                self.cookie = u64::try_from(c).map_err(|_| ParseError::Overflow(text.into()))?;
            }
            _ => {
                if let Some(f) = super::field::by_name(key) {
                    // dl_vlan also takes 0xffff ("no VLAN"), wider than its 12 bits.
                    let bits = if f.loc == super::field::Loc::DlVlan {
                        16
                    } else {
                        f.bits as u32
                    };
                    let (v, m) = parse_masked(key, f.fmt, bits, f.maskable, value)?;
                    check_value(f, v, value)?;
                    self.matches.set_field(f, v, m);
                } else if key.contains('[') {
                    let sf = Subfield::parse(key)?;
                    let v = parse_uint(key, value)?;
                    if sf.n_bits < 128 && v >> sf.n_bits != 0 {
                        return Err(ParseError::Overflow(text.into()));
                    }
                    let (old_v, old_m) = self.matches.field(sf.field);
                    let fm = ones(sf.n_bits as u32) << sf.ofs;
                    self.matches
                        .set_field(sf.field, (old_v & !fm) | (v << sf.ofs), old_m | fm);
                } else {
                    return Err(ParseError::UnknownKeyword(key.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Prints the flow as `ovs-ofctl dump-flows --no-stats` shows it.
    pub fn format(&self) -> String {
        let mut s = String::new();
        if self.cookie != 0 {
            s.push_str(&format!("cookie={:#x}, ", self.cookie));
        }
        if let Some(t) = self.table {
            if t != 0 {
                s.push_str(&format!("table={t}, "));
            }
        }
        if self.idle_timeout != 0 {
            s.push_str(&format!("idle_timeout={}, ", self.idle_timeout));
        }
        if self.hard_timeout != 0 {
            s.push_str(&format!("hard_timeout={}, ", self.hard_timeout));
        }
        if self.flags != 0 {
            for (bit, name) in [
                (FF_SEND_FLOW_REM, "send_flow_rem "),
                (FF_CHECK_OVERLAP, "check_overlap "),
                (FF_RESET_COUNTS, "reset_counts "),
                (FF_NO_PKT_COUNTS, "no_packet_counts "),
                (FF_NO_BYT_COUNTS, "no_byte_counts "),
            ] {
                if self.flags & bit != 0 {
                    s.push_str(name);
                }
            }
        }
        if self.importance != 0 {
            s.push_str(&format!("importance={}, ", self.importance));
        }
        let m = self.matches.format(Some(self.priority));
        if !m.is_empty() {
            s.push_str(&m);
            s.push(' ');
        }
        s.push_str("actions=");
        s.push_str(&format_actions(&self.actions));
        s
    }
}

fn is_keyword(k: &str) -> bool {
    matches!(
        k,
        "table"
            | "priority"
            | "idle_timeout"
            | "hard_timeout"
            | "importance"
            | "cookie"
            | "out_port"
    )
}

fn num16(key: &str, value: &str) -> Result<u16, ParseError> {
    let v = parse_uint(key, value)?;
    u16::try_from(v).map_err(|_| ParseError::bad(key, value))
}

impl std::fmt::Display for FlowText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format())
    }
}

impl std::str::FromStr for FlowText {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FlowText::parse(s, true)
    }
}
