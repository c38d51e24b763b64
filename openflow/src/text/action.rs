//! Actions and instructions as the text syntax spells them, and their
//! canonical printing (OVS's `ofpacts_format`).
//!
//! `Action` keeps one variant per OVS action kind, including the spelling
//! distinctions that survive printing (`load:` versus `set_field:`,
//! `strip_vlan` versus `pop_vlan`, `mod_vlan_vid` versus `set_vlan_vid`),
//! so that text -> `Action` -> text is exact for canonical input. Nested
//! action lists (`ct(exec(...))`, `clone(...)`, `write_actions(...)`) are
//! plain `Vec<Action>`; nothing is shared, so equality is structural.

use super::field::{ones, Field, Fmt};
use super::flow_match::hex0;
use super::subfield::Subfield;
use super::value::*;
use crate::action::ed_prop::EdProp;

/// Immediate value or subfield, as the `zone=` of `ct` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSrc {
    Imm(u16),
    Field(Subfield),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatRange {
    V4 { min: u32, max: u32 },
    V6 { min: u128, max: u128 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nat {
    /// `Some(true)` = src, `Some(false)` = dst, `None` = plain `nat`.
    pub src: Option<bool>,
    pub range: Option<NatRange>,
    pub port_min: u16,
    pub port_max: u16,
    pub persistent: bool,
    pub hash: bool,
    pub random: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ct {
    pub commit: bool,
    pub force: bool,
    pub table: Option<u8>,
    pub zone: Option<ZoneSrc>,
    pub nat: Option<Nat>,
    pub exec: Vec<Action>,
    pub alg: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnSpec {
    /// Match `dst` against an immediate value.
    MatchImm {
        dst: Subfield,
        value: u128,
    },
    /// Match `dst` against the packet's `src`.
    MatchField {
        dst: Subfield,
        src: Subfield,
    },
    LoadImm {
        dst: Subfield,
        value: u128,
    },
    LoadField {
        dst: Subfield,
        src: Subfield,
    },
    Output {
        src: Subfield,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learn {
    pub table: u8,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub fin_idle_timeout: u16,
    pub fin_hard_timeout: u16,
    pub priority: u16,
    pub send_flow_rem: bool,
    pub delete_learned: bool,
    pub cookie: u64,
    pub limit: u32,
    pub result_dst: Option<Subfield>,
    pub specs: Vec<LearnSpec>,
}

impl Default for Learn {
    fn default() -> Self {
        Learn {
            table: 1,
            idle_timeout: 0,
            hard_timeout: 0,
            fin_idle_timeout: 0,
            fin_hard_timeout: 0,
            priority: 32768,
            send_flow_rem: false,
            delete_learned: false,
            cookie: 0,
            limit: 0,
            result_dst: None,
            specs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub fields: &'static str,
    pub basis: u16,
    pub hrw: bool,
    pub dst: Option<Subfield>,
    pub members: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipath {
    pub fields: &'static str,
    pub basis: u16,
    pub algorithm: &'static str,
    pub n_links: u32,
    pub arg: u32,
    pub dst: Subfield,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub probability: u16,
    pub collector_set_id: u32,
    pub obs_domain_id: u32,
    pub obs_point_id: u32,
    pub sampling_port: Option<u32>,
    /// 1 = ingress, 2 = egress.
    pub direction: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    pub max_len: u16,
    /// Packet-in reason name (`action` is the default).
    pub reason: &'static str,
    pub id: u16,
    pub userdata: Vec<u8>,
    pub pause: bool,
    pub meter_id: Option<u32>,
}

/// One action or instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Output {
        port: u32,
        max_len: u16,
    },
    OutputTrunc {
        port: u32,
        max_len: u32,
    },
    OutputReg {
        src: Subfield,
        max_len: u16,
    },
    Enqueue {
        port: u32,
        queue: u32,
    },
    Controller(Controller),
    Resubmit {
        port: u32,
        table: Option<u8>,
        ct: bool,
    },
    SetVlanVid {
        vid: u16,
        push: bool,
    },
    SetVlanPcp {
        pcp: u8,
        push: bool,
    },
    StripVlan {
        pop: bool,
    },
    PushVlan(u16),
    SetEthSrc(u128),
    SetEthDst(u128),
    SetIpv4Src(u32),
    SetIpv4Dst(u32),
    SetIpDscp(u8),
    SetIpEcn(u8),
    SetIpTtl(u8),
    SetL4Src(u16),
    SetL4Dst(u16),
    DecTtl(Option<Vec<u16>>),
    SetMplsLabel(u32),
    SetMplsTc(u8),
    SetMplsTtl(u8),
    DecMplsTtl,
    PushMpls(u16),
    PopMpls(u16),
    SetTunnel {
        id: u64,
        wide: bool,
    },
    SetQueue(u32),
    PopQueue,
    /// `set_field` (or `load`, when `load` is true: printed as `load:`).
    SetField {
        field: &'static Field,
        value: u128,
        mask: u128,
        load: bool,
    },
    Move {
        src: Subfield,
        dst: Subfield,
    },
    StackPush(Subfield),
    StackPop(Subfield),
    Learn(Box<Learn>),
    Conjunction {
        id: u32,
        clause: u8,
        n_clauses: u8,
    },
    Note(Vec<u8>),
    Exit,
    Ct(Box<Ct>),
    CtClear,
    FinTimeout {
        idle: u16,
        hard: u16,
    },
    Group(u32),
    Bundle(Box<Bundle>),
    Multipath(Box<Multipath>),
    Sample(Box<Sample>),
    Clone(Vec<Action>),
    CheckPktLarger {
        len: u16,
        dst: Subfield,
    },
    DecNshTtl,
    /// `encap(HEADER)` / `encap(nsh(md_type=N,tlv(...)...))`.
    Encap {
        packet_type: u32,
        props: Vec<EdProp>,
    },
    /// `decap()` / `decap(packet_type(ns=N,type=T))`.
    Decap {
        packet_type: u32,
    },
    // Instructions.
    Meter(u32),
    ClearActions,
    WriteActions(Vec<Action>),
    WriteMetadata {
        value: u64,
        mask: u64,
    },
    GotoTable(u8),
}

/// OVS's `ds_put_hex` over a value of `n_bytes`: `0x` + hex without
/// leading zeros, or `0`.
pub fn put_hex(v: u128) -> String {
    hex0(v)
}

/// Bytes as `01.02.03`.
pub fn format_hex_arg(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Number of bytes OVS uses for a field of `bits` width.
pub fn n_bytes(bits: u16) -> u32 {
    (bits as u32).div_ceil(8)
}

/// OVS's `mf_format` of a value (and mask, when not all ones).
pub fn mf_format(f: &Field, v: u128, m: Option<u128>) -> String {
    let full = ones(n_bytes(f.bits) * 8);
    let m = match m {
        Some(0) => return "ANY".into(),
        Some(m) if m & full == full => None,
        x => x,
    };
    match f.fmt {
        Fmt::Port if m.is_none() => format_port(v as u32),
        Fmt::Dec | Fmt::Hex | Fmt::Port => {
            let mut s = if f.fmt == Fmt::Hex {
                put_hex(v)
            } else {
                v.to_string()
            };
            if let Some(m) = m {
                s.push('/');
                s.push_str(&put_hex(m));
            }
            s
        }
        Fmt::Eth => match m {
            Some(m) => format_eth_masked(v, m),
            None => format_eth(v),
        },
        Fmt::Ipv4 => format_ipv4_masked(v, m.unwrap_or(u32::MAX as u128)),
        Fmt::Ipv6 => format_ipv6_masked(v, m.unwrap_or(u128::MAX)),
        Fmt::CtState => format_flags(
            v as u32,
            m.unwrap_or(0xff) as u32 & 0xff,
            CT_STATE_FLAGS,
            0xff,
        ),
        Fmt::TcpFlags => format_flags(
            v as u32,
            m.unwrap_or(0xfff) as u32 & 0xfff,
            TCP_FLAGS,
            0xfff,
        ),
        Fmt::TunFlags => format_flags(v as u32, m.unwrap_or(1) as u32 & 1, TUN_FLAGS, 1),
        Fmt::Frag => match v {
            0 => "no",
            1 => "first",
            _ => "later",
        }
        .into(),
        Fmt::PacketType => format!("({},{:#x})", v >> 16, v & 0xffff),
    }
}

/// Formats an action list as OVS's `ofpacts_format` (`drop` when empty).
pub fn format_actions(acts: &[Action]) -> String {
    if acts.is_empty() {
        return "drop".into();
    }
    let mut s = String::new();
    for (i, a) in acts.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        a.format_into(&mut s);
    }
    s
}

fn format_nat(n: &Nat, s: &mut String) {
    s.push_str("nat");
    let Some(src) = n.src else { return };
    s.push('(');
    s.push_str(if src { "src" } else { "dst" });
    if let Some(r) = &n.range {
        s.push('=');
        match r {
            NatRange::V4 { min, max } => {
                s.push_str(&format_ipv4(*min as u128));
                if *max != 0 && max != min {
                    s.push('-');
                    s.push_str(&format_ipv4(*max as u128));
                }
            }
            NatRange::V6 { min, max } => {
                let br = |a: u128| {
                    if n.port_min != 0 {
                        format!("[{}]", format_ipv6(a))
                    } else {
                        format_ipv6(a)
                    }
                };
                s.push_str(&br(*min));
                if *max != 0 && max != min {
                    s.push('-');
                    s.push_str(&br(*max));
                }
            }
        }
        if n.port_min != 0 {
            s.push_str(&format!(":{}", n.port_min));
            if n.port_max != 0 && n.port_max != n.port_min {
                s.push_str(&format!("-{}", n.port_max));
            }
        }
        s.push(',');
        if n.persistent {
            s.push_str("persistent,");
        }
        if n.hash {
            s.push_str("hash,");
        }
        if n.random {
            s.push_str("random,");
        }
    }
    if s.ends_with(',') {
        s.pop();
    }
    s.push(')');
}

fn format_learn(l: &Learn, s: &mut String) {
    s.push_str(&format!("learn(table={}", l.table));
    if l.idle_timeout != 0 {
        s.push_str(&format!(",idle_timeout={}", l.idle_timeout));
    }
    if l.hard_timeout != 0 {
        s.push_str(&format!(",hard_timeout={}", l.hard_timeout));
    }
    if l.fin_idle_timeout != 0 {
        s.push_str(&format!(",fin_idle_timeout={}", l.fin_idle_timeout));
    }
    if l.fin_hard_timeout != 0 {
        s.push_str(&format!(",fin_hard_timeout={}", l.fin_hard_timeout));
    }
    if l.priority != 32768 {
        s.push_str(&format!(",priority={}", l.priority));
    }
    if l.send_flow_rem {
        s.push_str(",send_flow_rem");
    }
    if l.delete_learned {
        s.push_str(",delete_learned");
    }
    if l.cookie != 0 {
        s.push_str(&format!(",cookie={:#x}", l.cookie));
    }
    if l.limit != 0 {
        s.push_str(&format!(",limit={}", l.limit));
    }
    if let Some(r) = &l.result_dst {
        s.push_str(&format!(",result_dst={}", r.format()));
    }
    for spec in &l.specs {
        s.push(',');
        match spec {
            LearnSpec::MatchImm { dst, value } => {
                if dst.is_whole() {
                    s.push_str(&format!(
                        "{}={}",
                        dst.field.name,
                        mf_format(dst.field, *value, None)
                    ));
                } else {
                    s.push_str(&format!("{}={}", dst.format(), put_hex(*value)));
                }
            }
            LearnSpec::MatchField { dst, src } => {
                s.push_str(&dst.format());
                if !std::ptr::eq(src.field, dst.field) || src.ofs != dst.ofs {
                    s.push('=');
                    s.push_str(&src.format());
                }
            }
            LearnSpec::LoadImm { dst, value } => {
                s.push_str(&format!("load:{}->{}", put_hex(*value), dst.format()));
            }
            LearnSpec::LoadField { dst, src } => {
                s.push_str(&format!("load:{}->{}", src.format(), dst.format()));
            }
            LearnSpec::Output { src } => s.push_str(&format!("output:{}", src.format())),
        }
    }
    s.push(')');
}

impl Action {
    /// Appends the canonical text of this action.
    pub fn format_into(&self, s: &mut String) {
        use Action::*;
        match self {
            Output { port, max_len } => {
                if *port < 0xff00 {
                    s.push_str("output:");
                }
                s.push_str(&format_port(*port));
                if *port == 0xfffd {
                    s.push_str(&format!(":{max_len}"));
                }
            }
            OutputTrunc { port, max_len } => {
                s.push_str(&format!(
                    "output(port={},max_len={max_len})",
                    format_port(*port)
                ));
            }
            OutputReg { src, max_len } => {
                if *max_len == u16::MAX {
                    s.push_str(&format!("output:{}", src.format()));
                } else {
                    s.push_str(&format!("output(src={},max_len={max_len})", src.format()));
                }
            }
            Enqueue { port, queue } => {
                s.push_str(&format!("enqueue:{}:{queue}", format_port(*port)))
            }
            Controller(c) => {
                if c.reason == "action"
                    && c.id == 0
                    && c.userdata.is_empty()
                    && !c.pause
                    && c.meter_id.is_none()
                {
                    s.push_str(&format!("CONTROLLER:{}", c.max_len));
                } else {
                    s.push_str("controller(");
                    let mut parts = Vec::new();
                    if c.reason != "action" {
                        parts.push(format!("reason={}", c.reason));
                    }
                    if c.max_len != u16::MAX {
                        parts.push(format!("max_len={}", c.max_len));
                    }
                    if c.id != 0 {
                        parts.push(format!("id={}", c.id));
                    }
                    if !c.userdata.is_empty() {
                        parts.push(format!("userdata={}", format_hex_arg(&c.userdata)));
                    }
                    if c.pause {
                        parts.push("pause".into());
                    }
                    if let Some(m) = c.meter_id {
                        parts.push(format!("meter_id={m}"));
                    }
                    s.push_str(&parts.join(","));
                    s.push(')');
                }
            }
            Resubmit { port, table, ct } => {
                if *port != 0xfff8 && table.is_none() && !ct {
                    s.push_str(&format!("resubmit:{}", format_port(*port)));
                } else {
                    s.push_str("resubmit(");
                    if *port != 0xfff8 {
                        s.push_str(&format_port(*port));
                    }
                    s.push(',');
                    if let Some(t) = table {
                        s.push_str(&t.to_string());
                    }
                    if *ct {
                        s.push_str(",ct");
                    }
                    s.push(')');
                }
            }
            SetVlanVid { vid, push } => s.push_str(&format!(
                "{}:{vid}",
                if *push {
                    "mod_vlan_vid"
                } else {
                    "set_vlan_vid"
                }
            )),
            SetVlanPcp { pcp, push } => s.push_str(&format!(
                "{}:{pcp}",
                if *push {
                    "mod_vlan_pcp"
                } else {
                    "set_vlan_pcp"
                }
            )),
            StripVlan { pop } => s.push_str(if *pop { "pop_vlan" } else { "strip_vlan" }),
            PushVlan(t) => s.push_str(&format!("push_vlan:{t:#x}")),
            SetEthSrc(m) => s.push_str(&format!("mod_dl_src:{}", format_eth(*m))),
            SetEthDst(m) => s.push_str(&format!("mod_dl_dst:{}", format_eth(*m))),
            SetIpv4Src(a) => s.push_str(&format!("mod_nw_src:{}", format_ipv4(*a as u128))),
            SetIpv4Dst(a) => s.push_str(&format!("mod_nw_dst:{}", format_ipv4(*a as u128))),
            SetIpDscp(d) => s.push_str(&format!("mod_nw_tos:{d}")),
            SetIpEcn(e) => s.push_str(&format!("mod_nw_ecn:{e}")),
            SetIpTtl(t) => s.push_str(&format!("mod_nw_ttl:{t}")),
            SetL4Src(p) => s.push_str(&format!("mod_tp_src:{p}")),
            SetL4Dst(p) => s.push_str(&format!("mod_tp_dst:{p}")),
            DecTtl(ids) => {
                s.push_str("dec_ttl");
                if let Some(ids) = ids {
                    s.push('(');
                    s.push_str(
                        &ids.iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    );
                    s.push(')');
                }
            }
            SetMplsLabel(l) => s.push_str(&format!("set_mpls_label({l})")),
            SetMplsTc(t) => s.push_str(&format!("set_mpls_tc({t})")),
            SetMplsTtl(t) => s.push_str(&format!("set_mpls_ttl({t})")),
            DecMplsTtl => s.push_str("dec_mpls_ttl"),
            PushMpls(t) => s.push_str(&format!("push_mpls:0x{t:04x}")),
            PopMpls(t) => s.push_str(&format!("pop_mpls:0x{t:04x}")),
            SetTunnel { id, wide } => s.push_str(&format!(
                "set_tunnel{}:{}",
                if *wide || *id > u32::MAX as u64 {
                    "64"
                } else {
                    ""
                },
                hex0(*id as u128)
            )),
            SetQueue(q) => s.push_str(&format!("set_queue:{q}")),
            PopQueue => s.push_str("pop_queue"),
            SetField {
                field,
                value,
                mask,
                load,
            } => {
                if *load {
                    // One `load:` per contiguous run of mask bits.
                    let mut first = true;
                    let mut m = *mask;
                    while m != 0 {
                        // A Nicira load writes at most 64 bits.
                        let ofs = m.trailing_zeros();
                        let run = (m >> ofs).trailing_ones().min(64);
                        let seg = (value >> ofs) & ones(run);
                        if !first {
                            s.push(',');
                        }
                        first = false;
                        let sf = Subfield {
                            field,
                            ofs: ofs as u16,
                            n_bits: run as u16,
                        };
                        s.push_str(&format!("load:{}->{}", hex0(seg), sf.format()));
                        m &= !(ones(run) << ofs);
                    }
                } else {
                    s.push_str(&format!(
                        "set_field:{}->{}",
                        mf_format(field, *value, Some(*mask)),
                        field.name
                    ));
                }
            }
            Move { src, dst } => s.push_str(&format!("move:{}->{}", src.format(), dst.format())),
            StackPush(f) => s.push_str(&format!("push:{}", f.format())),
            StackPop(f) => s.push_str(&format!("pop:{}", f.format())),
            Learn(l) => format_learn(l, s),
            Conjunction {
                id,
                clause,
                n_clauses,
            } => s.push_str(&format!(
                "conjunction({id},{}/{n_clauses})",
                *clause as u32 + 1
            )),
            Note(b) => s.push_str(&format!("note:{}", format_hex_arg(b))),
            Exit => s.push_str("exit"),
            Ct(c) => {
                s.push_str("ct(");
                if c.commit {
                    s.push_str("commit,");
                }
                if c.force {
                    s.push_str("force,");
                }
                if let Some(t) = c.table {
                    s.push_str(&format!("table={t},"));
                }
                match &c.zone {
                    Some(ZoneSrc::Field(f)) => s.push_str(&format!("zone={},", f.format())),
                    Some(ZoneSrc::Imm(z)) if *z != 0 => s.push_str(&format!("zone={z},")),
                    _ => {}
                }
                if let Some(n) = &c.nat {
                    format_nat(n, s);
                    s.push(',');
                }
                if !c.exec.is_empty() {
                    s.push_str("exec(");
                    s.push_str(&format_actions(&c.exec));
                    s.push_str("),");
                }
                match c.alg {
                    0 => {}
                    21 => s.push_str("alg=ftp,"),
                    69 => s.push_str("alg=tftp,"),
                    p => s.push_str(&format!("alg={p},")),
                }
                if s.ends_with(',') {
                    s.pop();
                }
                s.push(')');
            }
            CtClear => s.push_str("ct_clear"),
            FinTimeout { idle, hard } => {
                s.push_str("fin_timeout(");
                let mut p = Vec::new();
                if *idle != 0 {
                    p.push(format!("idle_timeout={idle}"));
                }
                if *hard != 0 {
                    p.push(format!("hard_timeout={hard}"));
                }
                s.push_str(&p.join(","));
                s.push(')');
            }
            Group(g) => s.push_str(&format!("group:{g}")),
            Bundle(b) => {
                s.push_str(&format!(
                    "{}({},{},{},ofport,",
                    if b.dst.is_some() {
                        "bundle_load"
                    } else {
                        "bundle"
                    },
                    b.fields,
                    b.basis,
                    if b.hrw { "hrw" } else { "active_backup" }
                ));
                if let Some(d) = &b.dst {
                    s.push_str(&d.format());
                    s.push(',');
                }
                s.push_str("members:");
                s.push_str(
                    &b.members
                        .iter()
                        .map(|p| format_port(*p))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                s.push(')');
            }
            Multipath(m) => s.push_str(&format!(
                "multipath({},{},{},{},{},{})",
                m.fields,
                m.basis,
                m.algorithm,
                m.n_links,
                m.arg,
                m.dst.format()
            )),
            Sample(x) => {
                s.push_str(&format!(
                    "sample(probability={},collector_set_id={},obs_domain_id={},obs_point_id={}",
                    x.probability, x.collector_set_id, x.obs_domain_id, x.obs_point_id
                ));
                if let Some(p) = x.sampling_port {
                    s.push_str(&format!(",sampling_port={}", format_port(p)));
                }
                match x.direction {
                    1 => s.push_str(",ingress"),
                    2 => s.push_str(",egress"),
                    _ => {}
                }
                s.push(')');
            }
            Clone(a) => s.push_str(&format!("clone({})", format_actions(a))),
            CheckPktLarger { len, dst } => {
                s.push_str(&format!("check_pkt_larger({len})->{}", dst.format()))
            }
            DecNshTtl => s.push_str("dec_nsh_ttl"),
            Encap { packet_type, props } => super::encap::format_encap(*packet_type, props, s),
            Decap { packet_type } => super::encap::format_decap(*packet_type, s),
            Meter(m) => s.push_str(&format!("meter:{m}")),
            ClearActions => s.push_str("clear_actions"),
            WriteActions(a) => s.push_str(&format!("write_actions({})", format_actions(a))),
            WriteMetadata { value, mask } => {
                s.push_str(&format!("write_metadata:{}", hex0(*value as u128)));
                if *mask != u64::MAX {
                    s.push_str(&format!("/{}", hex0(*mask as u128)));
                }
            }
            GotoTable(t) => s.push_str(&format!("goto_table:{t}")),
        }
    }
}
