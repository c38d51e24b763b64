//! Scalar values of the text syntax: integers, Ethernet and IP addresses,
//! port names, flag lists, each with the optional `/mask` or `/prefix`.
//!
//! Every value is carried as a `u128` (wide enough for IPv6 and ct_label)
//! plus the field width in bits; parsing checks that the value fits, so
//! nothing downstream can overflow.

use super::error::ParseError;
use super::field::{ones, Fmt};

/// Parses an unsigned integer the way OVS does: `0x` hex or decimal.
pub fn parse_uint(field: &str, s: &str) -> Result<u128, ParseError> {
    let s = s.trim();
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() {
            return Err(ParseError::bad(field, s));
        }
        u128::from_str_radix(h, 16)
    } else {
        if s.is_empty() || s.starts_with('+') {
            return Err(ParseError::bad(field, s));
        }
        s.parse::<u128>()
    };
    r.map_err(|_| ParseError::bad(field, s))
}

/// Parses an integer that must fit in `bits` bits.
pub fn parse_uint_bits(field: &str, s: &str, bits: u32) -> Result<u128, ParseError> {
    let v = parse_uint(field, s)?;
    if v & !ones(bits) != 0 {
        return Err(ParseError::Overflow(format!("{field}={s}")));
    }
    Ok(v)
}

pub fn parse_eth(field: &str, s: &str) -> Result<u128, ParseError> {
    let mut v: u128 = 0;
    let mut n = 0;
    for part in s.split(':') {
        if part.is_empty() || part.len() > 2 {
            return Err(ParseError::bad(field, s));
        }
        let b = u8::from_str_radix(part, 16).map_err(|_| ParseError::bad(field, s))?;
        v = (v << 8) | b as u128;
        n += 1;
    }
    if n != 6 {
        return Err(ParseError::bad(field, s));
    }
    Ok(v)
}

pub fn parse_ipv4(field: &str, s: &str) -> Result<u128, ParseError> {
    let a: std::net::Ipv4Addr = s.parse().map_err(|_| ParseError::bad(field, s))?;
    Ok(u32::from(a) as u128)
}

pub fn parse_ipv6(field: &str, s: &str) -> Result<u128, ParseError> {
    let s2 = s.trim_start_matches('[').trim_end_matches(']');
    let a: std::net::Ipv6Addr = s2.parse().map_err(|_| ParseError::bad(field, s))?;
    Ok(u128::from(a))
}

/// A prefix length as a mask of `bits` width.
fn prefix_mask(field: &str, s: &str, bits: u32) -> Result<u128, ParseError> {
    let n: u32 = s.parse().map_err(|_| ParseError::bad(field, s))?;
    if n > bits {
        return Err(ParseError::bad(field, s));
    }
    Ok(ones(bits) & !ones(bits - n))
}

/// Reserved port numbers (OpenFlow 1.0 numbering, as OVS keeps them).
pub const PORT_NAMES: &[(&str, u32)] = &[
    ("IN_PORT", 0xfff8),
    ("TABLE", 0xfff9),
    ("NORMAL", 0xfffa),
    ("FLOOD", 0xfffb),
    ("ALL", 0xfffc),
    ("CONTROLLER", 0xfffd),
    ("LOCAL", 0xfffe),
    ("ANY", 0xffff),
    ("NONE", 0xffff),
];

thread_local! {
    /// The switch's port names for the parse under way ([`with_port_names`]).
    static SWITCH_PORTS: std::cell::RefCell<Vec<(String, u32)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` (a parse) with the switch's port names known, so that
/// `in_port=p1` or `output:p1` name a port as ovs-ofctl resolves them
/// (after numbers and reserved names; a name may be quoted).
pub fn with_port_names<R>(names: &[(String, u32)], f: impl FnOnce() -> R) -> R {
    SWITCH_PORTS.with(|p| *p.borrow_mut() = names.to_vec());
    let r = f();
    SWITCH_PORTS.with(|p| p.borrow_mut().clear());
    r
}

/// Parses a port: a number below 0xff00, a reserved name, an OpenFlow
/// 1.1 reserved number (0xfffffff8..) mapped to the 16-bit one, or the
/// name of one of the switch's ports while [`with_port_names`] runs.
pub fn parse_port(s: &str) -> Result<u32, ParseError> {
    let s = s.trim();
    if let Some((_, n)) = PORT_NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Ok(*n);
    }
    let unquoted = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    let named = SWITCH_PORTS.with(|p| p.borrow().iter().find(|(n, _)| n == unquoted).map(|x| x.1));
    if s.starts_with('-') || (s.parse::<u64>().is_err() && !s.starts_with("0x")) {
        return named.ok_or_else(|| ParseError::BadPort(s.to_string()));
    }
    let v = parse_uint("port", s).map_err(|_| ParseError::BadPort(s.to_string()))?;
    if v <= 0xffff {
        Ok(v as u32)
    } else if (0xffff_ff00..=0xffff_ffff).contains(&v) {
        Ok((v - 0xffff_0000) as u32)
    } else {
        Err(ParseError::BadPort(s.to_string()))
    }
}

/// Formats a port as `ofputil_format_port` does (names for reserved ports).
pub fn format_port(p: u32) -> String {
    match PORT_NAMES.iter().find(|(_, n)| *n == p) {
        Some((name, _)) => name.to_string(),
        None => p.to_string(),
    }
}

/// `ct_state` flag names by bit.
pub const CT_STATE_FLAGS: &[(&str, u32)] = &[
    ("new", 0x01),
    ("est", 0x02),
    ("rel", 0x04),
    ("rpl", 0x08),
    ("inv", 0x10),
    ("trk", 0x20),
    ("snat", 0x40),
    ("dnat", 0x80),
];

/// TCP flag names by bit.
pub const TCP_FLAGS: &[(&str, u32)] = &[
    ("fin", 0x001),
    ("syn", 0x002),
    ("rst", 0x004),
    ("psh", 0x008),
    ("ack", 0x010),
    ("urg", 0x020),
    ("ece", 0x040),
    ("cwr", 0x080),
    ("ns", 0x100),
    ("[200]", 0x200),
    ("[400]", 0x400),
    ("[800]", 0x800),
];

pub const TUN_FLAGS: &[(&str, u32)] = &[("oam", 0x1)];

/// Parses a flags value: `+a-b` (masked), `a|b` (all bits), or a number
/// with optional mask.
pub fn parse_flags(
    field: &str,
    s: &str,
    names: &[(&str, u32)],
    all: u32,
) -> Result<(u128, u128), ParseError> {
    if s.starts_with('+') || s.starts_with('-') {
        let (mut v, mut m) = (0u32, 0u32);
        let mut rest = s;
        while !rest.is_empty() {
            let plus = match rest.as_bytes()[0] {
                b'+' => true,
                b'-' => false,
                _ => return Err(ParseError::bad(field, s)),
            };
            rest = &rest[1..];
            let end = rest.find(['+', '-']).unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            let bit = names
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .ok_or_else(|| ParseError::bad(field, name))?;
            if m & bit != 0 {
                return Err(ParseError::bad(field, s));
            }
            m |= bit;
            if plus {
                v |= bit;
            }
        }
        return Ok((v as u128, m as u128));
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        let (vs, ms) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let v = parse_uint_bits(field, vs, 32)? as u32;
        let m = match ms {
            Some(ms) => parse_uint_bits(field, ms, 32)? as u32,
            None => all,
        };
        if (v | m) & !all != 0 {
            return Err(ParseError::Overflow(format!("{field}={s}")));
        }
        return Ok(((v & m) as u128, m as u128));
    }
    let mut v = 0u32;
    for name in s.split('|') {
        let bit = names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .ok_or_else(|| ParseError::bad(field, name))?;
        v |= bit;
    }
    Ok((v as u128, all as u128))
}

/// Formats flags like OVS's `format_flags_masked` (`+a-b`, or `a|b` when
/// the mask is complete).
pub fn format_flags(v: u32, m: u32, names: &[(&str, u32)], all: u32) -> String {
    let name_of = |bit: u32| names.iter().find(|(_, b)| *b == bit).map(|(n, _)| *n);
    let mut s = String::new();
    if m == all {
        if v == 0 {
            return "0".into();
        }
        let mut bad = 0;
        let mut f = v;
        while f != 0 {
            let bit = f & f.wrapping_neg();
            match name_of(bit) {
                Some(n) => {
                    s.push_str(n);
                    s.push('|');
                }
                None => bad |= bit,
            }
            f &= !bit;
        }
        if bad != 0 {
            s.push_str(&format!("0x{bad:x}|"));
        }
        s.pop();
        return s;
    }
    if m == 0 {
        return "0/0".into();
    }
    let mut mm = m;
    while mm != 0 {
        let bit = mm & mm.wrapping_neg();
        s.push(if v & bit != 0 { '+' } else { '-' });
        s.push_str(name_of(bit).unwrap_or("[Unknown]"));
        mm &= !bit;
    }
    s
}

/// Parses `value[/mask]` for a field of format `fmt` and width `bits`.
/// Returns `(value, mask)` with `value & !mask == 0` enforced the OVS way
/// (an error for bits set outside the mask is not raised: OVS clears them).
pub fn parse_masked(
    field: &str,
    fmt: Fmt,
    bits: u32,
    maskable: bool,
    s: &str,
) -> Result<(u128, u128), ParseError> {
    if !maskable && s.contains('/') && !matches!(fmt, Fmt::CtState | Fmt::TcpFlags | Fmt::TunFlags)
    {
        return Err(ParseError::NotMaskable(field.to_string()));
    }
    match fmt {
        Fmt::TcpFlags => return parse_flags(field, s, TCP_FLAGS, 0x0fff),
        Fmt::CtState => return parse_flags(field, s, CT_STATE_FLAGS, 0xff),
        Fmt::TunFlags => return parse_flags(field, s, TUN_FLAGS, 0x1),
        Fmt::Frag => {
            let (v, m) = match s {
                "no" => (0, 3),
                "yes" => (1, 1),
                "first" => (1, 3),
                "later" => (3, 3),
                "not_later" => (0, 2),
                _ => return Err(ParseError::bad(field, s)),
            };
            return Ok((v, m));
        }
        Fmt::Port => return Ok((parse_port(s)? as u128, ones(bits))),
        Fmt::PacketType => {
            let inner = s
                .strip_prefix('(')
                .and_then(|x| x.strip_suffix(')'))
                .ok_or_else(|| ParseError::bad(field, s))?;
            let (a, b) = inner
                .split_once(',')
                .ok_or_else(|| ParseError::bad(field, s))?;
            let ns = parse_uint_bits(field, a, 16)?;
            let ty = parse_uint_bits(field, b, 16)?;
            return Ok(((ns << 16) | ty, ones(32)));
        }
        _ => {}
    }
    let (vs, ms) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    if ms.is_some() && !maskable {
        return Err(ParseError::NotMaskable(field.to_string()));
    }
    let full = ones(bits);
    let one = |x: &str| -> Result<u128, ParseError> {
        match fmt {
            Fmt::Eth => parse_eth(field, x),
            Fmt::Ipv4 => parse_ipv4(field, x),
            Fmt::Ipv6 => parse_ipv6(field, x),
            _ => parse_uint_bits(field, x, bits),
        }
    };
    let v = one(vs)?;
    let m = match ms {
        None => full,
        Some(ms) => match fmt {
            Fmt::Ipv4 | Fmt::Ipv6 if !ms.contains(['.', ':']) => prefix_mask(field, ms, bits)?,
            _ => one(ms)?,
        },
    };
    Ok((v & m, m))
}

pub fn format_eth(v: u128) -> String {
    let b = (v as u64).to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

pub fn format_ipv4(v: u128) -> String {
    std::net::Ipv4Addr::from(v as u32).to_string()
}

pub fn format_ipv6(v: u128) -> String {
    std::net::Ipv6Addr::from(v).to_string()
}

/// `a.b.c.d` or `a.b.c.d/len` (CIDR mask) or `a.b.c.d/m.m.m.m`.
pub fn format_ipv4_masked(v: u128, m: u128) -> String {
    let m32 = m as u32;
    if m32 == u32::MAX {
        return format_ipv4(v);
    }
    if m32.leading_ones() + m32.trailing_zeros() == 32 {
        format!("{}/{}", format_ipv4(v), m32.leading_ones())
    } else {
        format!("{}/{}", format_ipv4(v), format_ipv4(m))
    }
}

pub fn format_ipv6_masked(v: u128, m: u128) -> String {
    if m == u128::MAX {
        return format_ipv6(v);
    }
    if m.leading_ones() + m.trailing_zeros() == 128 {
        format!("{}/{}", format_ipv6(v), m.leading_ones())
    } else {
        format!("{}/{}", format_ipv6(v), format_ipv6(m))
    }
}

pub fn format_eth_masked(v: u128, m: u128) -> String {
    if m == ones(48) {
        format_eth(v)
    } else {
        format!("{}/{}", format_eth(v), format_eth(m))
    }
}
