//! Parsing `actions=` text into [`Action`]s, following `ovs-ofctl`'s
//! spelling of every action (see `ovs-actions(7)`).
//!
//! The list is cut into items by the lexer; each item is dispatched on its
//! keyword. Bare port numbers and reserved port names are `output`. Nested
//! lists recurse. Errors name the item that failed.

use super::action::*;
use super::error::ParseError;
use super::field::{by_name, ones};
use super::lexer::{split_args, Item, Items};
use super::subfield::Subfield;
use super::value::*;

/// Parses a whole action list (`output:1,resubmit(,2)`); `drop` alone
/// means the empty list.
pub fn parse_actions(s: &str) -> Result<Vec<Action>, ParseError> {
    let mut out = Vec::new();
    let mut saw_drop = false;
    for item in Items::new(s) {
        let item = item?;
        if item.key == "drop" {
            saw_drop = true;
            continue;
        }
        parse_action(&item, &mut out)?;
    }
    if saw_drop && !out.is_empty() {
        return Err(ParseError::Syntax(
            "\"drop\" must not be accompanied by any other action or instruction".into(),
        ));
    }
    Ok(out)
}

fn u<T: TryFrom<u128>>(name: &str, s: &str) -> Result<T, ParseError> {
    let v = parse_uint(name, s)?;
    T::try_from(v).map_err(|_| ParseError::Overflow(format!("{name}:{s}")))
}

fn table_id(name: &str, s: &str) -> Result<u8, ParseError> {
    u::<u8>(name, s)
}

fn parse_hex_bytes(name: &str, s: &str) -> Result<Vec<u8>, ParseError> {
    let mut digits = Vec::new();
    for c in s.chars().filter(|c| *c != '.' && !c.is_whitespace()) {
        digits.push(c.to_digit(16).ok_or_else(|| ParseError::bad(name, s))? as u8);
    }
    if digits.len() % 2 != 0 {
        return Err(ParseError::bad(name, s));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// `VALUE->DST` split.
fn arrow<'a>(name: &str, s: &'a str) -> Result<(&'a str, &'a str), ParseError> {
    s.split_once("->")
        .map(|(a, b)| (a.trim(), b.trim()))
        .ok_or_else(|| ParseError::Syntax(format!("{name}: missing `->' in `{s}'")))
}

fn parse_action(item: &Item<'_>, out: &mut Vec<Action>) -> Result<(), ParseError> {
    use Action as A;
    let key = item.key;
    let v = item.value;
    let text = item.text;
    // Bare port (`1`, `LOCAL`, `NORMAL`, a switch port's name...).
    if v.is_empty() && !item.paren {
        if let Ok(port) = parse_port(key) {
            out.push(output(port, None));
            return Ok(());
        }
    }
    let a = match key {
        "output" => {
            if item.paren {
                let mut port = None;
                let mut src = None;
                let mut max_len = None;
                for arg in split_args(v)? {
                    let (k, x) = arg.split_once('=').unwrap_or((arg, ""));
                    match k {
                        "port" => port = Some(parse_port(x)?),
                        "src" => src = Some(Subfield::parse(x)?),
                        "max_len" => max_len = Some(u::<u32>("max_len", x)?),
                        _ => return Err(ParseError::bad("output", arg)),
                    }
                }
                match (port, src) {
                    (Some(p), None) => A::OutputTrunc {
                        port: p,
                        max_len: max_len.ok_or_else(|| ParseError::bad("output", v))?,
                    },
                    (None, Some(sf)) => A::OutputReg {
                        src: sf,
                        max_len: max_len.unwrap_or(u16::MAX as u32) as u16,
                    },
                    _ => return Err(ParseError::bad("output", v)),
                }
            } else if v.contains('[') {
                A::OutputReg {
                    src: Subfield::parse(v)?,
                    max_len: u16::MAX,
                }
            } else {
                // A port name wins over a field name, as in OVS:
                // `output:in_port` is the IN_PORT port, not the field.
                match parse_port(v) {
                    Ok(p) => output(p, None),
                    Err(_) if by_name(v).is_some() => A::OutputReg {
                        src: Subfield::parse(v)?,
                        max_len: u16::MAX,
                    },
                    Err(e) => return Err(e),
                }
            }
        }
        "controller" | "CONTROLLER" => parse_controller(item)?,
        "enqueue" => {
            let (p, q) = v
                .split_once(':')
                .or_else(|| v.split_once(','))
                .ok_or_else(|| ParseError::bad("enqueue", v))?;
            A::Enqueue {
                port: parse_port(p)?,
                queue: u::<u32>("enqueue", q)?,
            }
        }
        "resubmit" => {
            if item.paren {
                let args = split_args(v)?;
                if args.is_empty() || args.len() > 3 {
                    return Err(ParseError::bad("resubmit", v));
                }
                let port = if args[0].is_empty() {
                    0xfff8
                } else {
                    parse_port(args[0])?
                };
                let table = match args.get(1) {
                    Some(t) if !t.is_empty() => Some(table_id("resubmit", t)?),
                    _ => None,
                };
                let ct = match args.get(2) {
                    Some(&"ct") => true,
                    Some(x) => return Err(ParseError::bad("resubmit", x)),
                    None => false,
                };
                A::Resubmit { port, table, ct }
            } else {
                A::Resubmit {
                    port: parse_port(v)?,
                    table: None,
                    ct: false,
                }
            }
        }
        "mod_vlan_vid" | "set_vlan_vid" => {
            let vid = u::<u16>(key, v)?;
            if vid > 4095 {
                return Err(ParseError::bad(key, v));
            }
            A::SetVlanVid {
                vid,
                push: key == "mod_vlan_vid",
            }
        }
        "mod_vlan_pcp" | "set_vlan_pcp" => {
            let pcp = u::<u8>(key, v)?;
            if pcp > 7 {
                return Err(ParseError::bad(key, v));
            }
            A::SetVlanPcp {
                pcp,
                push: key == "mod_vlan_pcp",
            }
        }
        "strip_vlan" => A::StripVlan { pop: false },
        "pop_vlan" => A::StripVlan { pop: true },
        "push_vlan" => {
            let t = u::<u16>(key, v)?;
            if t != 0x8100 && t != 0x88a8 {
                return Err(ParseError::bad(key, v));
            }
            A::PushVlan(t)
        }
        "mod_dl_src" => A::SetEthSrc(parse_eth(key, v)?),
        "mod_dl_dst" => A::SetEthDst(parse_eth(key, v)?),
        "mod_nw_src" => A::SetIpv4Src(parse_ipv4(key, v)? as u32),
        "mod_nw_dst" => A::SetIpv4Dst(parse_ipv4(key, v)? as u32),
        "mod_nw_tos" => {
            let t = u::<u8>(key, v)?;
            if t & 3 != 0 {
                return Err(ParseError::bad(key, v));
            }
            A::SetIpDscp(t)
        }
        "mod_nw_ecn" => {
            let e = u::<u8>(key, v)?;
            if e > 3 {
                return Err(ParseError::bad(key, v));
            }
            A::SetIpEcn(e)
        }
        "mod_nw_ttl" => A::SetIpTtl(u::<u8>(key, v)?),
        "mod_tp_src" => A::SetL4Src(u::<u16>(key, v)?),
        "mod_tp_dst" => A::SetL4Dst(u::<u16>(key, v)?),
        "dec_ttl" => {
            if item.paren {
                let ids = split_args(v)?
                    .iter()
                    .map(|x| u::<u16>(key, x))
                    .collect::<Result<Vec<_>, _>>()?;
                if ids.is_empty() {
                    return Err(ParseError::bad(key, v));
                }
                A::DecTtl(Some(ids))
            } else {
                A::DecTtl(None)
            }
        }
        "set_mpls_label" => {
            let l = u::<u32>(key, v)?;
            if l > 0xfffff {
                return Err(ParseError::bad(key, v));
            }
            A::SetMplsLabel(l)
        }
        "set_mpls_tc" => {
            let t = u::<u8>(key, v)?;
            if t > 7 {
                return Err(ParseError::bad(key, v));
            }
            A::SetMplsTc(t)
        }
        "set_mpls_ttl" => A::SetMplsTtl(u::<u8>(key, v)?),
        "dec_mpls_ttl" => A::DecMplsTtl,
        "push_mpls" => A::PushMpls(u::<u16>(key, v)?),
        "pop_mpls" => A::PopMpls(u::<u16>(key, v)?),
        "set_tunnel" | "set_tunnel64" => A::SetTunnel {
            id: u::<u64>(key, v)?,
            wide: key == "set_tunnel64",
        },
        "set_queue" => A::SetQueue(u::<u32>(key, v)?),
        "pop_queue" => A::PopQueue,
        "set_field" => {
            let (val, dst) = arrow(key, v)?;
            let f = by_name(dst).ok_or_else(|| ParseError::bad(key, dst))?;
            if !f.writable {
                return Err(ParseError::bad(key, dst));
            }
            let (value, mask) = if val.contains('/') {
                let (a, b) = parse_masked(dst, f.fmt, f.bits as u32, true, val)?;
                (a, b)
            } else {
                let (a, _) = parse_masked(dst, f.fmt, f.bits as u32, f.maskable, val)?;
                (a, ones(n_bytes(f.bits) * 8))
            };
            if mask == 0 {
                return Err(ParseError::bad(key, v));
            }
            A::SetField {
                field: f,
                value,
                mask,
                load: false,
            }
        }
        "load" => {
            let (val, dst) = arrow(key, v)?;
            let sf = Subfield::parse(dst)?;
            let value = parse_uint(key, val)?;
            if sf.n_bits < 128 && value >> sf.n_bits != 0 {
                return Err(ParseError::Overflow(format!("{key}:{v}")));
            }
            A::SetField {
                field: sf.field,
                value: value << sf.ofs,
                mask: ones(sf.n_bits as u32) << sf.ofs,
                load: true,
            }
        }
        "move" => {
            let (src, dst) = arrow(key, v)?;
            let src = Subfield::parse(src)?;
            let dst = Subfield::parse(dst)?;
            if src.n_bits != dst.n_bits {
                return Err(ParseError::Syntax(format!(
                    "move:{v}: source field is {} bits wide but destination is {} bits wide",
                    src.n_bits, dst.n_bits
                )));
            }
            A::Move { src, dst }
        }
        "push" => A::StackPush(Subfield::parse(v)?),
        "pop" => A::StackPop(Subfield::parse(v)?),
        "learn" => A::Learn(Box::new(parse_learn(v)?)),
        "conjunction" => {
            let (id, rest) = v.split_once(',').ok_or_else(|| ParseError::bad(key, v))?;
            let (k, n) = rest
                .split_once('/')
                .ok_or_else(|| ParseError::bad(key, v))?;
            let id = u::<u32>(key, id.trim())?;
            let k = u::<u8>(key, k.trim())?;
            let n = u::<u8>(key, n.trim())?;
            if !(2..=64).contains(&n) || k < 1 || k > n {
                return Err(ParseError::bad(key, v));
            }
            A::Conjunction {
                id,
                clause: k - 1,
                n_clauses: n,
            }
        }
        "note" => A::Note(parse_hex_bytes(key, v)?),
        "exit" => A::Exit,
        "ct" => A::Ct(Box::new(parse_ct(v)?)),
        "ct_clear" => A::CtClear,
        "fin_timeout" => {
            let (mut idle, mut hard) = (0, 0);
            for arg in split_args(v)? {
                let (k, x) = arg
                    .split_once('=')
                    .ok_or_else(|| ParseError::bad(key, arg))?;
                match k {
                    "idle_timeout" => idle = u::<u16>(k, x)?,
                    "hard_timeout" => hard = u::<u16>(k, x)?,
                    _ => return Err(ParseError::bad(key, arg)),
                }
            }
            A::FinTimeout { idle, hard }
        }
        "group" => A::Group(u::<u32>(key, v)?),
        "bundle" | "bundle_load" => A::Bundle(Box::new(parse_bundle(key, v)?)),
        "multipath" => A::Multipath(Box::new(parse_multipath(v)?)),
        "sample" => A::Sample(Box::new(parse_sample(v)?)),
        "clone" => A::Clone(parse_actions(v)?),
        "check_pkt_larger" => {
            // `check_pkt_larger(N)->DST`: the lexer keeps `DST` as the tail.
            if item.tail.is_empty() {
                return Err(ParseError::Syntax(format!(
                    "{text}: missing `->' destination"
                )));
            }
            A::CheckPktLarger {
                len: u::<u16>(key, v)?,
                dst: Subfield::parse(item.tail)?,
            }
        }
        "dec_nsh_ttl" => A::DecNshTtl,
        "encap" => super::encap::parse_encap(v)?,
        "decap" => super::encap::parse_decap(v)?,
        "meter" => A::Meter(u::<u32>(key, v)?),
        "clear_actions" => A::ClearActions,
        "write_actions" => A::WriteActions(parse_actions(v)?),
        "write_metadata" => {
            let (a, m) = match v.split_once('/') {
                Some((a, m)) => (u::<u64>(key, a)?, u::<u64>(key, m)?),
                None => (u::<u64>(key, v)?, u64::MAX),
            };
            A::WriteMetadata { value: a, mask: m }
        }
        "goto_table" => A::GotoTable(table_id(key, v)?),
        _ => return Err(ParseError::UnknownAction(text.to_string())),
    };
    out.push(a);
    Ok(())
}

fn output(port: u32, max_len: Option<u16>) -> Action {
    if port == 0xfffd {
        Action::Controller(Controller {
            max_len: max_len.unwrap_or(u16::MAX),
            reason: "action",
            id: 0,
            userdata: Vec::new(),
            pause: false,
            meter_id: None,
        })
    } else {
        Action::Output {
            port,
            max_len: max_len.unwrap_or(0),
        }
    }
}

const REASONS: &[&str] = &[
    "no_match",
    "action",
    "invalid_ttl",
    "action_set",
    "group",
    "packet_out",
];

fn parse_controller(item: &Item<'_>) -> Result<Action, ParseError> {
    let mut c = Controller {
        max_len: u16::MAX,
        reason: "action",
        id: 0,
        userdata: Vec::new(),
        pause: false,
        meter_id: None,
    };
    let v = item.value;
    if !item.paren {
        if !v.is_empty() {
            c.max_len = u::<u16>("controller", v)?;
        }
        return Ok(Action::Controller(c));
    }
    for arg in split_args(v)? {
        let (k, x) = arg.split_once('=').unwrap_or((arg, ""));
        match k {
            "reason" => {
                c.reason = REASONS
                    .iter()
                    .find(|r| **r == x)
                    .copied()
                    .ok_or_else(|| ParseError::bad("reason", x))?
            }
            "max_len" => c.max_len = u::<u16>(k, x)?,
            "id" => c.id = u::<u16>(k, x)?,
            "userdata" => c.userdata = parse_hex_bytes(k, x)?,
            "pause" => c.pause = true,
            "meter_id" => c.meter_id = Some(u::<u32>(k, x)?),
            _ => return Err(ParseError::bad("controller", arg)),
        }
    }
    Ok(Action::Controller(c))
}

fn parse_nat(item: &Item<'_>) -> Result<Nat, ParseError> {
    let mut n = Nat::default();
    if !item.paren {
        return Ok(n);
    }
    for arg in split_args(item.value)? {
        let (k, x) = arg.split_once('=').unwrap_or((arg, ""));
        match k {
            "src" | "dst" => {
                if n.src.is_some() {
                    return Err(ParseError::bad("nat", arg));
                }
                n.src = Some(k == "src");
                if !x.is_empty() {
                    parse_nat_range(x, &mut n)?;
                }
            }
            "persistent" => n.persistent = true,
            "hash" => n.hash = true,
            "random" => n.random = true,
            _ => return Err(ParseError::bad("nat", arg)),
        }
    }
    if n.hash && n.random {
        return Err(ParseError::bad("nat", item.value));
    }
    Ok(n)
}

fn parse_nat_range(x: &str, n: &mut Nat) -> Result<(), ParseError> {
    // IPv6 addresses are bracketed when a port follows: [a]-[b]:p-q.
    let (addrs, ports) = if x.starts_with('[') {
        match x.rfind(']') {
            Some(i) => {
                let rest = &x[i + 1..];
                match rest.strip_prefix(':') {
                    Some(p) => (&x[..=i], Some(p)),
                    None if rest.is_empty() => (x, None),
                    None => return Err(ParseError::bad("nat", x)),
                }
            }
            None => return Err(ParseError::bad("nat", x)),
        }
    } else if x.matches(':').count() > 1 {
        (x, None)
    } else {
        match x.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (x, None),
        }
    };
    let (a, b) = match addrs.split_once("]-[") {
        Some((a, b)) => (format!("{a}]"), Some(format!("[{b}"))),
        None => match addrs.split_once('-') {
            Some((a, b)) if !addrs.starts_with('[') => (a.to_string(), Some(b.to_string())),
            _ => (addrs.to_string(), None),
        },
    };
    if a.contains(':') {
        let min = parse_ipv6("nat", &a)?;
        let max = match b {
            Some(b) => parse_ipv6("nat", &b)?,
            None => 0,
        };
        n.range = Some(NatRange::V6 { min, max });
    } else {
        let min = parse_ipv4("nat", &a)? as u32;
        let max = match b {
            Some(b) => parse_ipv4("nat", &b)? as u32,
            None => 0,
        };
        n.range = Some(NatRange::V4 { min, max });
    }
    if let Some(p) = ports {
        let (lo, hi) = match p.split_once('-') {
            Some((lo, hi)) => (u::<u16>("nat", lo)?, u::<u16>("nat", hi)?),
            None => (u::<u16>("nat", p)?, 0),
        };
        n.port_min = lo;
        n.port_max = hi;
    }
    Ok(())
}

fn parse_ct(v: &str) -> Result<Ct, ParseError> {
    let mut c = Ct::default();
    for item in Items::new(v) {
        let item = item?;
        match item.key {
            "commit" => c.commit = true,
            "force" => c.force = true,
            "table" => c.table = Some(table_id("table", item.value)?),
            "zone" => {
                c.zone = Some(if item.value.starts_with(|ch: char| ch.is_ascii_digit()) {
                    ZoneSrc::Imm(u::<u16>("zone", item.value)?)
                } else {
                    ZoneSrc::Field(Subfield::parse(item.value)?)
                })
            }
            "nat" => c.nat = Some(parse_nat(&item)?),
            "exec" => c.exec = parse_actions(item.value)?,
            "alg" => {
                c.alg = match item.value {
                    "ftp" => 21,
                    "tftp" => 69,
                    x => u::<u16>("alg", x)?,
                }
            }
            _ => return Err(ParseError::bad("ct", item.text)),
        }
    }
    if c.force && !c.commit {
        return Err(ParseError::Syntax("ct: force requires commit".into()));
    }
    Ok(c)
}

fn parse_learn(v: &str) -> Result<Learn, ParseError> {
    let mut l = Learn::default();
    for item in Items::new(v) {
        let item = item?;
        let (k, x) = (item.key, item.value);
        match k {
            "table" => l.table = table_id(k, x)?,
            "priority" => l.priority = u::<u16>(k, x)?,
            "idle_timeout" => l.idle_timeout = u::<u16>(k, x)?,
            "hard_timeout" => l.hard_timeout = u::<u16>(k, x)?,
            "fin_idle_timeout" => l.fin_idle_timeout = u::<u16>(k, x)?,
            "fin_hard_timeout" => l.fin_hard_timeout = u::<u16>(k, x)?,
            "cookie" => l.cookie = u::<u64>(k, x)?,
            "send_flow_rem" => l.send_flow_rem = true,
            "delete_learned" => l.delete_learned = true,
            "limit" => l.limit = u::<u32>(k, x)?,
            "result_dst" => l.result_dst = Some(Subfield::parse(x)?),
            "load" => {
                let (src, dst) = arrow(k, x)?;
                let dst = Subfield::parse(dst)?;
                if src.starts_with(|c: char| c.is_ascii_digit()) {
                    let value = parse_uint(k, src)?;
                    if dst.n_bits < 128 && value >> dst.n_bits != 0 {
                        return Err(ParseError::Overflow(item.text.to_string()));
                    }
                    l.specs.push(LearnSpec::LoadImm { dst, value });
                } else {
                    let src = Subfield::parse(src)?;
                    if src.n_bits != dst.n_bits {
                        return Err(ParseError::bad("learn", item.text));
                    }
                    l.specs.push(LearnSpec::LoadField { dst, src });
                }
            }
            "output" => l.specs.push(LearnSpec::Output {
                src: Subfield::parse(x)?,
            }),
            _ => {
                let dst = Subfield::parse(k).map_err(|_| ParseError::bad("learn", item.text))?;
                if x.is_empty() {
                    l.specs.push(LearnSpec::MatchField { dst, src: dst });
                } else if let Ok(src) = Subfield::parse(x) {
                    if src.n_bits != dst.n_bits {
                        return Err(ParseError::bad("learn", item.text));
                    }
                    l.specs.push(LearnSpec::MatchField { dst, src });
                } else if dst.is_whole() {
                    let f = dst.field;
                    let (value, _) = parse_masked(f.name, f.fmt, f.bits as u32, false, x)?;
                    l.specs.push(LearnSpec::MatchImm { dst, value });
                } else {
                    let value = parse_uint("learn", x)?;
                    if value >> dst.n_bits != 0 {
                        return Err(ParseError::Overflow(item.text.to_string()));
                    }
                    l.specs.push(LearnSpec::MatchImm { dst, value });
                }
            }
        }
    }
    Ok(l)
}

fn hash_fields(s: &str) -> Result<&'static str, ParseError> {
    const F: &[&str] = &[
        "eth_src",
        "symmetric_l4",
        "symmetric_l3l4",
        "symmetric_l3l4+udp",
        "nw_src",
        "nw_dst",
        "symmetric_l3",
    ];
    F.iter()
        .find(|f| **f == s)
        .copied()
        .ok_or_else(|| ParseError::bad("fields", s))
}

fn parse_bundle(key: &str, v: &str) -> Result<Bundle, ParseError> {
    let args = split_args(v)?;
    let load = key == "bundle_load";
    let need = if load { 6 } else { 5 };
    if args.len() < need {
        return Err(ParseError::bad(key, v));
    }
    let fields = hash_fields(args[0])?;
    let basis = u::<u16>("basis", args[1])?;
    let hrw = match args[2] {
        "hrw" => true,
        "active_backup" => false,
        x => return Err(ParseError::bad("algorithm", x)),
    };
    if args[3] != "ofport" {
        return Err(ParseError::bad("member type", args[3]));
    }
    let (dst, rest) = if load {
        (Some(Subfield::parse(args[4])?), &args[5..])
    } else {
        (None, &args[4..])
    };
    let first = rest[0]
        .strip_prefix("members:")
        .or_else(|| rest[0].strip_prefix("slaves:"))
        .ok_or_else(|| ParseError::bad(key, rest[0]))?;
    let mut members = vec![parse_port(first)?];
    for p in &rest[1..] {
        members.push(parse_port(p)?);
    }
    Ok(Bundle {
        fields,
        basis,
        hrw,
        dst,
        members,
    })
}

fn parse_multipath(v: &str) -> Result<Multipath, ParseError> {
    let args = split_args(v)?;
    if args.len() != 6 {
        return Err(ParseError::bad("multipath", v));
    }
    let algorithm = match args[2] {
        "modulo_n" => "modulo_n",
        "hash_threshold" => "hash_threshold",
        "hrw" => "hrw",
        "iter_hash" => "iter_hash",
        x => return Err(ParseError::bad("multipath", x)),
    };
    let n_links = u::<u32>("n_links", args[3])?;
    if n_links == 0 || n_links > 65536 {
        return Err(ParseError::bad("multipath", args[3]));
    }
    Ok(Multipath {
        fields: hash_fields(args[0])?,
        basis: u::<u16>("basis", args[1])?,
        algorithm,
        n_links,
        arg: u::<u32>("arg", args[4])?,
        dst: Subfield::parse(args[5])?,
    })
}

fn parse_sample(v: &str) -> Result<Sample, ParseError> {
    let mut s = Sample {
        probability: 0,
        collector_set_id: 0,
        obs_domain_id: 0,
        obs_point_id: 0,
        sampling_port: None,
        direction: 0,
    };
    for arg in split_args(v)? {
        let (k, x) = arg.split_once('=').unwrap_or((arg, ""));
        match k {
            "probability" => {
                s.probability = u::<u16>(k, x)?;
                if s.probability == 0 {
                    return Err(ParseError::bad(k, x));
                }
            }
            "collector_set_id" => s.collector_set_id = u::<u32>(k, x)?,
            "obs_domain_id" => s.obs_domain_id = u::<u32>(k, x)?,
            "obs_point_id" => s.obs_point_id = u::<u32>(k, x)?,
            "sampling_port" => s.sampling_port = Some(parse_port(x)?),
            "ingress" => s.direction = 1,
            "egress" => s.direction = 2,
            _ => return Err(ParseError::bad("sample", arg)),
        }
    }
    if s.probability == 0 {
        return Err(ParseError::Syntax(
            "non-zero \"probability\" must be specified on sample".into(),
        ));
    }
    Ok(s)
}
