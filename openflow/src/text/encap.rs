//! `encap(...)` and `decap(...)` in OVS's text syntax:
//! `encap(ethernet)`, `encap(nsh)`, `encap(nsh(md_type=1))`,
//! `encap(nsh(md_type=2,tlv(0x1000,10,0x12345678)))`, `encap(mpls)`,
//! `encap(mpls_mc)`; `decap()`, `decap(packet_type(ns=0,type=0x894f))`.
//! Printing follows OVS's `format_ENCAP`/`format_DECAP` (TLV values with
//! `ds_put_hex`: `0x` then the bytes with leading zero bytes dropped).

use super::action::Action;
use super::error::ParseError;
use super::lexer::split_args;
use crate::action::ed_prop::{EdProp, PT_ETH, PT_MPLS, PT_MPLS_MC, PT_NSH, PT_USE_NEXT_PROTO};

fn header_type(name: &str) -> Option<u32> {
    Some(match name {
        "ethernet" => PT_ETH,
        "nsh" => PT_NSH,
        "mpls" => PT_MPLS,
        "mpls_mc" => PT_MPLS_MC,
        _ => return None,
    })
}

fn header_name(pt: u32) -> &'static str {
    match pt {
        PT_ETH => "ethernet",
        PT_NSH => "nsh",
        PT_MPLS => "mpls",
        PT_MPLS_MC => "mpls_mc",
        _ => "UNKNOWN",
    }
}

/// `NAME` or `NAME(ARGS)` -> (NAME, ARGS).
fn call(s: &str) -> Result<(&str, &str), ParseError> {
    let s = s.trim();
    match s.split_once('(') {
        None => Ok((s, "")),
        Some((name, rest)) => {
            let args = rest
                .strip_suffix(')')
                .ok_or_else(|| ParseError::Unbalanced(s.to_string()))?;
            Ok((name.trim(), args))
        }
    }
}

fn bad(field: &str, value: &str) -> ParseError {
    ParseError::BadValue {
        field: field.to_string(),
        value: value.to_string(),
    }
}

fn num(field: &str, s: &str) -> Result<u64, ParseError> {
    let s = s.trim();
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| bad(field, s))
}

/// The argument of `encap(...)`.
pub fn parse_encap(v: &str) -> Result<Action, ParseError> {
    let (name, args) = call(v)?;
    if name.is_empty() {
        return Err(ParseError::Syntax(format!(
            "encap({v}): missing encap header"
        )));
    }
    let packet_type = header_type(name).ok_or_else(|| bad("encap", name))?;
    let mut props = Vec::new();
    for arg in split_args(args)? {
        let (key, val) = match arg.split_once('=') {
            Some((k, x)) => (k.trim(), x.trim()),
            None => call(arg)?,
        };
        // Only NSH has properties.
        match (packet_type, key) {
            (PT_NSH, "md_type") => {
                let t = num("md_type", val)?;
                if !(1..=2).contains(&t) {
                    return Err(bad("md_type", val));
                }
                props.push(EdProp::NshMdType(t as u8));
            }
            (PT_NSH, "tlv") => {
                let parts = split_args(val)?;
                let [class, ty, value] = parts.as_slice() else {
                    return Err(bad("tlv", val));
                };
                let class = u16::try_from(num("tlv", class)?).map_err(|_| bad("tlv", val))?;
                let ty = u8::try_from(num("tlv", ty)?).map_err(|_| bad("tlv", val))?;
                // OVS prints an all-zero value as a bare `0`: read digits
                // without `0x` too, so that printing is a fixed point.
                let hex = value.strip_prefix("0x").unwrap_or(value);
                if hex.is_empty() || hex.len() > 251 {
                    return Err(bad("tlv", val));
                }
                // An odd number of digits (OVS prints `0x1` for 00..01) is
                // read with a leading zero nibble; OVS's parser would drop
                // the last digit instead.
                let padded;
                let hex = if hex.len() % 2 == 1 {
                    padded = format!("0{hex}");
                    padded.as_str()
                } else {
                    hex
                };
                let value = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| bad("tlv", val))?;
                props.push(EdProp::NshTlv { class, ty, value });
            }
            _ => return Err(bad("encap property", arg)),
        }
    }
    Ok(Action::Encap { packet_type, props })
}

/// The argument of `decap(...)`.
pub fn parse_decap(v: &str) -> Result<Action, ParseError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(Action::Decap {
            packet_type: PT_USE_NEXT_PROTO,
        });
    }
    let (name, args) = call(v)?;
    if name != "packet_type" {
        return Err(bad("decap", v));
    }
    let parts = split_args(args)?;
    let [ns, ty] = parts.as_slice() else {
        return Err(bad("packet_type", args));
    };
    let ns = ns
        .strip_prefix("ns=")
        .ok_or_else(|| bad("packet_type", args))?;
    let ty = ty
        .strip_prefix("type=")
        .ok_or_else(|| bad("packet_type", args))?;
    let ns = u16::try_from(num("ns", ns)?).map_err(|_| bad("ns", ns))?;
    // OVS knows the namespaces 0 (Ethernet) and 1 (Ethertype).
    if ns >= 2 {
        return Err(bad("ns", &ns.to_string()));
    }
    let ty = u16::try_from(num("type", ty)?).map_err(|_| bad("type", ty))?;
    Ok(Action::Decap {
        packet_type: (u32::from(ns) << 16) | u32::from(ty),
    })
}

/// `ds_put_hex`: `0x` + the bytes without leading zero bytes, or `0`.
fn put_hex(b: &[u8], s: &mut String) {
    let mut printed = false;
    for &x in b {
        if x != 0 || printed {
            if printed {
                s.push_str(&format!("{x:02x}"));
            } else {
                s.push_str(&format!("0x{x:x}"));
            }
            printed = true;
        }
    }
    if !printed {
        s.push('0');
    }
}

pub fn format_encap(packet_type: u32, props: &[EdProp], s: &mut String) {
    s.push_str("encap(");
    s.push_str(header_name(packet_type));
    if !props.is_empty() {
        s.push('(');
        for (i, p) in props.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            match p {
                EdProp::NshMdType(t) => s.push_str(&format!("md_type={t}")),
                EdProp::NshTlv { class, ty, value } => {
                    s.push_str(&format!("tlv(0x{class:04x},{ty},"));
                    put_hex(value, s);
                    s.push(')');
                }
            }
        }
        s.push(')');
    }
    s.push(')');
}

pub fn format_decap(packet_type: u32, s: &mut String) {
    s.push_str("decap(");
    if packet_type != PT_USE_NEXT_PROTO {
        // C's `%#x`: no `0x` before a zero.
        let ty = packet_type & 0xffff;
        let ty = if ty == 0 {
            "0".to_string()
        } else {
            format!("{ty:#x}")
        };
        s.push_str(&format!("packet_type(ns={},type={ty})", packet_type >> 16));
    }
    s.push(')');
}
