//! Bridge between the text model and the wire model of this crate.
//!
//! The text side keeps a match as OVS's slot struct and actions in their
//! printed spelling; the wire side ([`crate::Match`], [`crate::Action`],
//! [`crate::Instruction`]) keeps what the encoders need. Fields are mapped
//! by their ovs-ofctl name, which both field tables share, so no numeric
//! table has to be kept in sync. A text construct the wire model has no
//! form for comes back as [`Unrepresentable`] naming it.

use crate::action as w;
use crate::field::Field as WField;
use crate::r#match::Match as WMatch;
use crate::value::Value;
use crate::Instruction;

use super::action::*;
use super::field::{by_name, ones, Field, Slot};
use super::flow::FlowText;
use super::flow_match::*;
use super::subfield::Subfield;

/// A text construct with no wire form in the wire model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no wire form for {0}")]
pub struct Unrepresentable(pub String);

type R<T> = Result<T, Unrepresentable>;

fn wfield(name: &str) -> R<WField> {
    WField::from_name(name).ok_or_else(|| Unrepresentable(format!("field {name}")))
}

fn tfield(f: WField) -> R<&'static Field> {
    by_name(f.name()).ok_or_else(|| Unrepresentable(format!("field {}", f.name())))
}

fn wsub(s: &Subfield) -> R<w::Subfield> {
    Ok(w::Subfield {
        field: wfield(s.field.name)?,
        ofs: s.ofs,
        n_bits: s.n_bits,
    })
}

fn tsub(s: &w::Subfield) -> R<Subfield> {
    Ok(Subfield {
        field: tfield(s.field)?,
        ofs: s.ofs,
        n_bits: s.n_bits,
    })
}

/// The field names that view each populated slot, given the match's
/// protocol (as OVS's `nx_put_raw` chooses them).
fn views(m: &FlowMatch) -> Vec<&'static str> {
    let mut v = vec![
        "dp_hash",
        "recirc_id",
        "conj_id",
        "tun_id",
        "tun_src",
        "tun_dst",
        "tun_ipv6_src",
        "tun_ipv6_dst",
        "tun_flags",
        "tun_gbp_id",
        "tun_gbp_flags",
        "metadata",
        "in_port",
        "pkt_mark",
        "ct_state",
        "ct_zone",
        "ct_mark",
        "ct_label",
        "ct_nw_src",
        "ct_nw_dst",
        "ct_ipv6_src",
        "ct_ipv6_dst",
        "ct_nw_proto",
        "ct_tp_src",
        "ct_tp_dst",
        "actset_output",
        "eth_src",
        "eth_dst",
        "eth_type",
        "vlan_tci",
    ];
    const REGS: [&str; 16] = [
        "reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9", "reg10",
        "reg11", "reg12", "reg13", "reg14", "reg15",
    ];
    v.extend(REGS);
    let dl = m.dl_type();
    let proto = m.nw_proto();
    match dl {
        Some(ETH_TYPE_IP) | Some(ETH_TYPE_IPV6) => {
            if dl == Some(ETH_TYPE_IP) {
                v.extend(["ip_src", "ip_dst"]);
            } else {
                v.extend(["ipv6_src", "ipv6_dst", "ipv6_label"]);
            }
            v.extend(["nw_proto", "nw_tos", "nw_ecn", "nw_ttl", "ip_frag"]);
            match (dl, proto) {
                (_, Some(6)) => v.extend(["tcp_src", "tcp_dst", "tcp_flags"]),
                (_, Some(17)) => v.extend(["udp_src", "udp_dst"]),
                (_, Some(132)) => v.extend(["sctp_src", "sctp_dst"]),
                (Some(ETH_TYPE_IP), Some(1)) => v.extend(["icmp_type", "icmp_code"]),
                (Some(ETH_TYPE_IPV6), Some(58)) => v.extend([
                    "icmpv6_type",
                    "icmpv6_code",
                    "nd_target",
                    "nd_sll",
                    "nd_tll",
                ]),
                _ => {}
            }
        }
        Some(ETH_TYPE_ARP) | Some(ETH_TYPE_RARP) => {
            v.extend(["arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"])
        }
        Some(ETH_TYPE_MPLS) | Some(ETH_TYPE_MPLS_MCAST) => {
            v.extend(["mpls_label", "mpls_tc", "mpls_bos", "mpls_ttl"])
        }
        Some(ETH_TYPE_NSH) => v.extend([
            "nsh_flags",
            "nsh_ttl",
            "nsh_mdtype",
            "nsh_np",
            "nsh_spi",
            "nsh_si",
            "nsh_c1",
            "nsh_c2",
            "nsh_c3",
            "nsh_c4",
        ]),
        _ => {}
    }
    v
}

/// Converts a text match to the wire model's match.
pub fn match_to_wire(m: &FlowMatch) -> R<WMatch> {
    let mut out = WMatch::new();
    for name in views(m) {
        let f = by_name(name).expect("view names are in the field table");
        let (v, mask) = m.field(f);
        if mask == 0 {
            continue;
        }
        let wf = wfield(name)?;
        let width = wf.info().width as usize;
        // `nw_tos` is exact when its DSCP bits are; 8-bit ICMP fields and
        // `arp_op` read back their own width.
        let mask = if name == "nw_tos" { mask & 0xfc } else { mask };
        if mask == 0 {
            continue;
        }
        let exact = mask == ones(f.bits as u32) || (name == "nw_tos" && mask == 0xfc);
        let maskv = (!exact).then(|| Value::from_u128_width(mask, width));
        out.set(wf, Value::from_u128_width(v, width), maskv);
    }
    Ok(out)
}

/// Converts a wire match back to the text match.
pub fn match_from_wire(m: &WMatch) -> R<FlowMatch> {
    let mut out = FlowMatch::default();
    for mf in &m.fields {
        let f = tfield(mf.field)?;
        let v = mf.value.to_u128();
        let mask = match &mf.mask {
            Some(x) => x.to_u128(),
            None => ones(f.bits as u32),
        };
        if f.name == "eth_type" {
            out.v[Slot::DlType as usize] = v;
            out.m[Slot::DlType as usize] = 0xffff;
            continue;
        }
        out.set_field(f, v, mask);
    }
    Ok(out)
}

const HASH_FIELDS: &[&str] = &[
    "eth_src",
    "symmetric_l4",
    "symmetric_l3l4",
    "symmetric_l3l4+udp",
    "nw_src",
    "nw_dst",
    "symmetric_l3",
];
const MP_ALGS: &[&str] = &["modulo_n", "hash_threshold", "hrw", "iter_hash"];
const REASONS: &[&str] = &[
    "no_match",
    "action",
    "invalid_ttl",
    "action_set",
    "group",
    "packet_out",
];

fn idx(list: &[&'static str], s: &str) -> R<u16> {
    list.iter()
        .position(|x| *x == s)
        .map(|i| i as u16)
        .ok_or_else(|| Unrepresentable(s.to_string()))
}

fn name_at(list: &[&'static str], i: u16) -> R<&'static str> {
    list.get(i as usize)
        .copied()
        .ok_or_else(|| Unrepresentable(format!("code {i}")))
}

fn eth_bytes(v: u128) -> [u8; 6] {
    let b = (v as u64).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn eth_u128(b: &[u8; 6]) -> u128 {
    b.iter().fold(0u128, |a, x| (a << 8) | *x as u128)
}

/// Converts text actions (the apply list) to wire actions.
pub fn actions_to_wire(acts: &[Action]) -> R<Vec<w::Action>> {
    let mut out = Vec::new();
    for a in acts {
        action_to_wire(a, &mut out)?;
    }
    Ok(out)
}

fn action_to_wire(a: &Action, out: &mut Vec<w::Action>) -> R<()> {
    use w::Action as W;
    use Action as A;
    let x = match a {
        A::Output { port, max_len } => W::Output {
            port: *port as u16,
            max_len: *max_len,
        },
        A::OutputTrunc { port, max_len } => W::OutputTrunc {
            port: *port as u16,
            max_len: *max_len,
        },
        A::OutputReg { src, max_len } => W::OutputReg {
            src: wsub(src)?,
            max_len: *max_len,
        },
        A::Enqueue { port, queue } => W::Enqueue {
            port: *port as u16,
            queue: *queue,
        },
        A::Controller(c) => {
            if c.reason == "action"
                && c.id == 0
                && c.userdata.is_empty()
                && !c.pause
                && c.meter_id.is_none()
            {
                W::Output {
                    port: 0xfffd,
                    max_len: c.max_len,
                }
            } else {
                W::Controller(w::Controller {
                    max_len: c.max_len,
                    controller_id: c.id,
                    reason: idx(REASONS, c.reason)? as u8,
                    userdata: c.userdata.clone(),
                    pause: c.pause,
                    meter_id: c.meter_id,
                    v2: !c.userdata.is_empty() || c.pause || c.meter_id.is_some(),
                })
            }
        }
        A::Resubmit { port, table, ct } => W::Resubmit {
            in_port: *port as u16,
            table: table.unwrap_or(255),
            ct: *ct,
        },
        A::SetVlanVid { vid, .. } => W::SetVlanVid(*vid),
        A::SetVlanPcp { pcp, .. } => W::SetVlanPcp(*pcp),
        A::StripVlan { .. } => W::PopVlan,
        A::PushVlan(t) => W::PushVlan(*t),
        A::SetEthSrc(m) => W::SetDlSrc(eth_bytes(*m)),
        A::SetEthDst(m) => W::SetDlDst(eth_bytes(*m)),
        A::SetIpv4Src(x) => W::SetNwSrc(*x),
        A::SetIpv4Dst(x) => W::SetNwDst(*x),
        A::SetIpDscp(x) => W::SetNwTos(*x),
        A::SetIpEcn(x) => W::SetNwEcn(*x),
        A::SetIpTtl(x) => W::SetNwTtl(*x),
        A::SetL4Src(x) => W::SetTpSrc(*x),
        A::SetL4Dst(x) => W::SetTpDst(*x),
        A::DecTtl(None) => W::DecTtl,
        A::DecTtl(Some(ids)) => W::DecTtlCntIds(ids.clone()),
        A::SetMplsLabel(x) => W::SetMplsLabel(*x),
        A::SetMplsTc(x) => W::SetMplsTc(*x),
        A::SetMplsTtl(x) => W::SetMplsTtl(*x),
        A::DecMplsTtl => W::DecMplsTtl,
        A::PushMpls(t) => W::PushMpls(*t),
        A::PopMpls(t) => W::PopMpls(*t),
        A::SetTunnel { id, wide } => {
            if *wide || *id > u32::MAX as u64 {
                W::SetTunnel64(*id)
            } else {
                W::SetTunnel(*id as u32)
            }
        }
        A::SetQueue(q) => W::SetQueue(*q),
        A::PopQueue => W::PopQueue,
        A::SetField {
            field,
            value,
            mask,
            load,
        } => {
            let wf = wfield(field.name)?;
            if *load {
                // One Nicira load per contiguous run of at most 64 bits.
                let mut m = *mask;
                while m != 0 {
                    let ofs = m.trailing_zeros();
                    let run = (m >> ofs).trailing_ones().min(64);
                    out.push(W::RegLoad {
                        dst: w::Subfield {
                            field: wf,
                            ofs: ofs as u16,
                            n_bits: run as u16,
                        },
                        value: ((value >> ofs) & ones(run)) as u64,
                    });
                    m &= !(ones(run) << ofs);
                }
                return Ok(());
            }
            let width = wf.info().width as usize;
            let full = ones(field.bits as u32);
            W::SetField {
                field: wf,
                value: Value::from_u128_width(*value & full, width),
                mask: (mask & full != full).then(|| Value::from_u128_width(*mask & full, width)),
            }
        }
        A::Move { src, dst } => W::Move {
            src: wsub(src)?,
            dst: wsub(dst)?,
        },
        A::StackPush(s) => W::StackPush(wsub(s)?),
        A::StackPop(s) => W::StackPop(wsub(s)?),
        A::Learn(l) => W::Learn(learn_to_wire(l)?),
        A::Conjunction {
            id,
            clause,
            n_clauses,
        } => W::Conjunction {
            id: *id,
            clause: *clause,
            n_clauses: *n_clauses,
        },
        A::Note(b) => W::Note(b.clone()),
        A::Exit => W::Exit,
        A::Ct(c) => {
            let mut inner = Vec::new();
            if let Some(n) = &c.nat {
                inner.push(W::Nat(nat_to_wire(n)));
            }
            inner.extend(actions_to_wire(&c.exec)?);
            W::Ct(w::Ct {
                flags: ((c.commit as u16) * w::Ct::F_COMMIT) | ((c.force as u16) * w::Ct::F_FORCE),
                zone: match &c.zone {
                    None => w::CtZone::Imm(0),
                    Some(ZoneSrc::Imm(z)) => w::CtZone::Imm(*z),
                    Some(ZoneSrc::Field(s)) => w::CtZone::Field(wsub(s)?),
                },
                recirc_table: c.table.unwrap_or(w::Ct::RECIRC_NONE),
                alg: c.alg,
                actions: inner,
            })
        }
        A::CtClear => W::CtClear,
        A::FinTimeout { idle, hard } => W::FinTimeout {
            idle: *idle,
            hard: *hard,
        },
        A::Group(g) => W::Group(*g),
        A::Bundle(b) => W::Bundle(w::Bundle {
            algorithm: b.hrw as u16,
            fields: idx(HASH_FIELDS, b.fields)?,
            basis: b.basis,
            members: b.members.iter().map(|p| *p as u16).collect(),
            dst: b.dst.as_ref().map(wsub).transpose()?,
        }),
        A::Multipath(m) => W::Multipath(w::Multipath {
            fields: idx(HASH_FIELDS, m.fields)?,
            basis: m.basis,
            algorithm: idx(MP_ALGS, m.algorithm)?,
            max_link: (m.n_links - 1) as u16,
            arg: m.arg,
            dst: wsub(&m.dst)?,
        }),
        A::Sample(s) => W::Sample(w::Sample {
            probability: s.probability,
            collector_set_id: s.collector_set_id,
            obs_domain_id: s.obs_domain_id,
            obs_point_id: s.obs_point_id,
            sampling_port: s.sampling_port.map(|p| p as u16).unwrap_or(0xffff),
            direction: s.direction,
            variant: if s.sampling_port.is_some() || s.direction != 0 {
                2
            } else {
                0
            },
        }),
        A::Clone(v) => W::Clone(actions_to_wire(v)?),
        A::CheckPktLarger { len, dst } => W::CheckPktLarger {
            pkt_len: *len,
            dst: wsub(dst)?,
        },
        A::DecNshTtl => W::DecNshTtl,
        A::Encap { packet_type, props } => W::Encap {
            packet_type: *packet_type,
            props: {
                let mut b = Vec::new();
                for p in props {
                    p.encode(&mut b);
                }
                b
            },
        },
        A::Decap { packet_type } => W::Decap {
            packet_type: *packet_type,
        },
        A::Meter(m) => W::Meter(*m),
        // The Nicira write_metadata action (OpenFlow 1.0); 1.1+ use the
        // instruction (see `instructions_to_wire`).
        A::WriteMetadata { value, mask } => W::WriteMetadata {
            metadata: *value,
            mask: *mask,
        },
        A::ClearActions | A::WriteActions(_) | A::GotoTable(_) => {
            return Err(Unrepresentable("instruction inside an action list".into()))
        }
    };
    out.push(x);
    Ok(())
}

fn nat_to_wire(n: &Nat) -> w::Nat {
    let mut flags = 0;
    match n.src {
        Some(true) => flags |= w::Nat::F_SRC,
        Some(false) => flags |= w::Nat::F_DST,
        None => {}
    }
    if n.persistent {
        flags |= w::Nat::F_PERSISTENT;
    }
    if n.hash {
        flags |= w::Nat::F_PROTO_HASH;
    }
    if n.random {
        flags |= w::Nat::F_PROTO_RANDOM;
    }
    let mut range = w::NatRange::default();
    match &n.range {
        Some(NatRange::V4 { min, max }) => {
            range.ipv4_min = Some(min.to_be_bytes());
            range.ipv4_max = (*max != 0).then(|| max.to_be_bytes());
        }
        Some(NatRange::V6 { min, max }) => {
            range.ipv6_min = Some(min.to_be_bytes());
            range.ipv6_max = (*max != 0).then(|| max.to_be_bytes());
        }
        None => {}
    }
    range.proto_min = (n.port_min != 0).then_some(n.port_min);
    range.proto_max = (n.port_max != 0).then_some(n.port_max);
    w::Nat { flags, range }
}

fn nat_from_wire(n: &w::Nat) -> Nat {
    let src = if n.flags & w::Nat::F_SRC != 0 {
        Some(true)
    } else if n.flags & w::Nat::F_DST != 0 {
        Some(false)
    } else {
        None
    };
    let r = &n.range;
    let range = if let Some(a) = r.ipv4_min {
        Some(NatRange::V4 {
            min: u32::from_be_bytes(a),
            max: r.ipv4_max.map(u32::from_be_bytes).unwrap_or(0),
        })
    } else {
        r.ipv6_min.map(|a| NatRange::V6 {
            min: u128::from_be_bytes(a),
            max: r.ipv6_max.map(u128::from_be_bytes).unwrap_or(0),
        })
    };
    Nat {
        src,
        range,
        port_min: r.proto_min.unwrap_or(0),
        port_max: r.proto_max.unwrap_or(0),
        persistent: n.flags & w::Nat::F_PERSISTENT != 0,
        hash: n.flags & w::Nat::F_PROTO_HASH != 0,
        random: n.flags & w::Nat::F_PROTO_RANDOM != 0,
    }
}

fn imm_bytes(v: u128, n_bits: u16) -> Vec<u8> {
    let n = (n_bits as usize).div_ceil(8);
    v.to_be_bytes()[16 - n.min(16)..].to_vec()
}

fn learn_to_wire(l: &Learn) -> R<w::Learn> {
    let mut specs = Vec::new();
    for s in &l.specs {
        specs.push(match s {
            LearnSpec::MatchImm { dst, value } => w::LearnSpec {
                n_bits: dst.n_bits,
                src: w::LearnSrc::Immediate(imm_bytes(*value, dst.n_bits)),
                dst: w::LearnDst::Match(wsub(dst)?),
            },
            LearnSpec::MatchField { dst, src } => w::LearnSpec {
                n_bits: dst.n_bits,
                src: w::LearnSrc::Field(wsub(src)?),
                dst: w::LearnDst::Match(wsub(dst)?),
            },
            LearnSpec::LoadImm { dst, value } => w::LearnSpec {
                n_bits: dst.n_bits,
                src: w::LearnSrc::Immediate(imm_bytes(*value, dst.n_bits)),
                dst: w::LearnDst::Load(wsub(dst)?),
            },
            LearnSpec::LoadField { dst, src } => w::LearnSpec {
                n_bits: dst.n_bits,
                src: w::LearnSrc::Field(wsub(src)?),
                dst: w::LearnDst::Load(wsub(dst)?),
            },
            LearnSpec::Output { src } => w::LearnSpec {
                n_bits: src.n_bits,
                src: w::LearnSrc::Field(wsub(src)?),
                dst: w::LearnDst::Output,
            },
        });
    }
    let learn2 = (l.limit != 0 || l.result_dst.is_some())
        .then(|| -> R<w::Learn2> {
            Ok(w::Learn2 {
                limit: l.limit,
                result_dst: l.result_dst.as_ref().map(wsub).transpose()?,
            })
        })
        .transpose()?;
    Ok(w::Learn {
        idle_timeout: l.idle_timeout,
        hard_timeout: l.hard_timeout,
        priority: l.priority,
        cookie: l.cookie,
        flags: (l.send_flow_rem as u16)
            | (l.delete_learned as u16) << 1
            | (l.result_dst.is_some() as u16) << 2,
        table_id: l.table,
        fin_idle_timeout: l.fin_idle_timeout,
        fin_hard_timeout: l.fin_hard_timeout,
        specs,
        learn2,
    })
}

fn learn_from_wire(l: &w::Learn) -> R<Learn> {
    let mut specs = Vec::new();
    for s in &l.specs {
        let imm = |b: &[u8]| b.iter().fold(0u128, |a, x| (a << 8) | *x as u128);
        specs.push(match (&s.src, &s.dst) {
            (w::LearnSrc::Immediate(b), w::LearnDst::Match(d)) => LearnSpec::MatchImm {
                dst: tsub(d)?,
                value: imm(b),
            },
            (w::LearnSrc::Field(f), w::LearnDst::Match(d)) => LearnSpec::MatchField {
                dst: tsub(d)?,
                src: tsub(f)?,
            },
            (w::LearnSrc::Immediate(b), w::LearnDst::Load(d)) => LearnSpec::LoadImm {
                dst: tsub(d)?,
                value: imm(b),
            },
            (w::LearnSrc::Field(f), w::LearnDst::Load(d)) => LearnSpec::LoadField {
                dst: tsub(d)?,
                src: tsub(f)?,
            },
            (w::LearnSrc::Field(f), w::LearnDst::Output) => LearnSpec::Output { src: tsub(f)? },
            _ => return Err(Unrepresentable("learn output from an immediate".into())),
        });
    }
    let (limit, result_dst) = match &l.learn2 {
        Some(l2) => (l2.limit, l2.result_dst.as_ref().map(tsub).transpose()?),
        None => (0, None),
    };
    Ok(Learn {
        table: l.table_id,
        idle_timeout: l.idle_timeout,
        hard_timeout: l.hard_timeout,
        fin_idle_timeout: l.fin_idle_timeout,
        fin_hard_timeout: l.fin_hard_timeout,
        priority: l.priority,
        send_flow_rem: l.flags & 1 != 0,
        delete_learned: l.flags & 2 != 0,
        cookie: l.cookie,
        limit,
        result_dst,
        specs,
    })
}

/// Converts wire actions back to text actions. `of11` tells whether they
/// came from OpenFlow 1.1+ (where the VLAN pop is spelled `pop_vlan`).
pub fn actions_from_wire(acts: &[w::Action], of11: bool) -> R<Vec<Action>> {
    use w::Action as W;
    use Action as A;
    let mut out: Vec<Action> = Vec::new();
    for a in acts {
        let x = match a {
            W::Output {
                port: 0xfffd,
                max_len,
            } => A::Controller(Controller {
                max_len: *max_len,
                reason: "action",
                id: 0,
                userdata: Vec::new(),
                pause: false,
                meter_id: None,
            }),
            W::Output { port, max_len } => A::Output {
                port: *port as u32,
                max_len: *max_len,
            },
            W::OutputTrunc { port, max_len } => A::OutputTrunc {
                port: *port as u32,
                max_len: *max_len,
            },
            W::OutputReg { src, max_len } => A::OutputReg {
                src: tsub(src)?,
                max_len: *max_len,
            },
            W::Enqueue { port, queue } => A::Enqueue {
                port: *port as u32,
                queue: *queue,
            },
            W::Controller(c) => A::Controller(Controller {
                max_len: c.max_len,
                reason: name_at(REASONS, c.reason as u16)?,
                id: c.controller_id,
                userdata: c.userdata.clone(),
                pause: c.pause,
                meter_id: c.meter_id,
            }),
            W::Resubmit { in_port, table, ct } => A::Resubmit {
                port: *in_port as u32,
                table: (*table != 255).then_some(*table),
                ct: *ct,
            },
            W::SetVlanVid(v) => A::SetVlanVid {
                vid: *v,
                push: true,
            },
            W::SetVlanPcp(p) => A::SetVlanPcp {
                pcp: *p,
                push: true,
            },
            W::PopVlan => A::StripVlan { pop: of11 },
            W::PushVlan(t) => A::PushVlan(*t),
            W::SetDlSrc(m) => A::SetEthSrc(eth_u128(m)),
            W::SetDlDst(m) => A::SetEthDst(eth_u128(m)),
            W::SetNwSrc(x) => A::SetIpv4Src(*x),
            W::SetNwDst(x) => A::SetIpv4Dst(*x),
            W::SetNwTos(x) => A::SetIpDscp(*x),
            W::SetNwEcn(x) => A::SetIpEcn(*x),
            W::SetNwTtl(x) => A::SetIpTtl(*x),
            W::SetTpSrc(x) => A::SetL4Src(*x),
            W::SetTpDst(x) => A::SetL4Dst(*x),
            W::DecTtl => A::DecTtl(None),
            W::DecTtlCntIds(ids) => A::DecTtl(Some(ids.clone())),
            W::SetMplsLabel(x) => A::SetMplsLabel(*x),
            W::SetMplsTc(x) => A::SetMplsTc(*x),
            W::SetMplsTtl(x) => A::SetMplsTtl(*x),
            W::DecMplsTtl => A::DecMplsTtl,
            W::PushMpls(t) => A::PushMpls(*t),
            W::PopMpls(t) => A::PopMpls(*t),
            W::SetTunnel(id) => A::SetTunnel {
                id: *id as u64,
                wide: false,
            },
            W::SetTunnel64(id) => A::SetTunnel {
                id: *id,
                wide: true,
            },
            W::SetQueue(q) => A::SetQueue(*q),
            W::PopQueue => A::PopQueue,
            W::SetField { field, value, mask } => {
                let f = tfield(*field)?;
                let full = ones(n_bytes(f.bits) * 8);
                A::SetField {
                    field: f,
                    value: value.to_u128(),
                    mask: mask.as_ref().map(|m| m.to_u128()).unwrap_or(full),
                    load: false,
                }
            }
            W::RegLoad { dst, value } => {
                let d = tsub(dst)?;
                let m = ones(d.n_bits as u32) << d.ofs;
                let v = (*value as u128) << d.ofs;
                // Consecutive loads into one field print as one `load:` list.
                if let Some(A::SetField {
                    field,
                    value,
                    mask,
                    load: true,
                }) = out.last_mut()
                {
                    if std::ptr::eq(*field, d.field) && *mask & m == 0 {
                        *value |= v;
                        *mask |= m;
                        continue;
                    }
                }
                A::SetField {
                    field: d.field,
                    value: v,
                    mask: m,
                    load: true,
                }
            }
            W::Move { src, dst } => A::Move {
                src: tsub(src)?,
                dst: tsub(dst)?,
            },
            W::StackPush(s) => A::StackPush(tsub(s)?),
            W::StackPop(s) => A::StackPop(tsub(s)?),
            W::Learn(l) => A::Learn(Box::new(learn_from_wire(l)?)),
            W::Conjunction {
                id,
                clause,
                n_clauses,
            } => A::Conjunction {
                id: *id,
                clause: *clause,
                n_clauses: *n_clauses,
            },
            W::Note(b) => A::Note(b.clone()),
            W::Exit => A::Exit,
            W::Ct(c) => {
                let (nat, rest) = match c.actions.first() {
                    Some(W::Nat(n)) => (Some(nat_from_wire(n)), &c.actions[1..]),
                    _ => (None, &c.actions[..]),
                };
                A::Ct(Box::new(Ct {
                    commit: c.flags & w::Ct::F_COMMIT != 0,
                    force: c.flags & w::Ct::F_FORCE != 0,
                    table: (c.recirc_table != w::Ct::RECIRC_NONE).then_some(c.recirc_table),
                    zone: match c.zone {
                        w::CtZone::Imm(0) => None,
                        w::CtZone::Imm(z) => Some(ZoneSrc::Imm(z)),
                        w::CtZone::Field(s) => Some(ZoneSrc::Field(tsub(&s)?)),
                    },
                    nat,
                    exec: actions_from_wire(rest, of11)?,
                    alg: c.alg,
                }))
            }
            W::CtClear => A::CtClear,
            W::FinTimeout { idle, hard } => A::FinTimeout {
                idle: *idle,
                hard: *hard,
            },
            W::Group(g) => A::Group(*g),
            W::Bundle(b) => A::Bundle(Box::new(Bundle {
                fields: name_at(HASH_FIELDS, b.fields)?,
                basis: b.basis,
                hrw: b.algorithm == 1,
                dst: b.dst.as_ref().map(tsub).transpose()?,
                members: b.members.iter().map(|p| *p as u32).collect(),
            })),
            W::Multipath(m) => A::Multipath(Box::new(Multipath {
                fields: name_at(HASH_FIELDS, m.fields)?,
                basis: m.basis,
                algorithm: name_at(MP_ALGS, m.algorithm)?,
                n_links: m.max_link as u32 + 1,
                arg: m.arg,
                dst: tsub(&m.dst)?,
            })),
            W::Sample(s) => A::Sample(Box::new(Sample {
                probability: s.probability,
                collector_set_id: s.collector_set_id,
                obs_domain_id: s.obs_domain_id,
                obs_point_id: s.obs_point_id,
                sampling_port: (s.sampling_port != 0xffff).then_some(s.sampling_port as u32),
                direction: s.direction,
            })),
            W::Clone(v) => A::Clone(actions_from_wire(v, of11)?),
            W::CheckPktLarger { pkt_len, dst } => A::CheckPktLarger {
                len: *pkt_len,
                dst: tsub(dst)?,
            },
            W::DecNshTtl => A::DecNshTtl,
            W::Encap { packet_type, props } => A::Encap {
                packet_type: *packet_type,
                props: crate::action::ed_prop::EdProp::decode_list(props)
                    .map_err(|e| Unrepresentable(format!("encap properties: {e}")))?,
            },
            W::Decap { packet_type } => A::Decap {
                packet_type: *packet_type,
            },
            W::Meter(m) => A::Meter(*m),
            W::WriteMetadata { metadata, mask } => A::WriteMetadata {
                value: *metadata,
                mask: *mask,
            },
            other => return Err(Unrepresentable(format!("{other:?}"))),
        };
        out.push(x);
    }
    Ok(out)
}

/// Splits a flow's text action list into wire instructions (OpenFlow
/// 1.1+): apply-actions, then clear/write actions, write-metadata, meter,
/// goto-table in the order the text gave them.
pub fn instructions_to_wire(acts: &[Action]) -> R<Vec<Instruction>> {
    let mut apply = Vec::new();
    let mut rest = Vec::new();
    for a in acts {
        match a {
            Action::Meter(m) => rest.push(Instruction::Meter(*m)),
            Action::ClearActions => rest.push(Instruction::ClearActions),
            Action::WriteActions(v) => rest.push(Instruction::WriteActions(actions_to_wire(v)?)),
            Action::WriteMetadata { value, mask } => rest.push(Instruction::WriteMetadata {
                metadata: *value,
                mask: *mask,
            }),
            Action::GotoTable(t) => rest.push(Instruction::GotoTable(*t)),
            other => action_to_wire(other, &mut apply)?,
        }
    }
    let mut out = Vec::new();
    if let Some(i) = rest.iter().position(|i| matches!(i, Instruction::Meter(_))) {
        out.push(rest.remove(i));
    }
    if !apply.is_empty() {
        out.push(Instruction::ApplyActions(apply));
    }
    out.extend(rest);
    Ok(out)
}

/// The inverse of [`instructions_to_wire`], in OVS's printing order
/// (meter, apply actions, clear, write actions, write metadata, goto).
pub fn instructions_from_wire(list: &[Instruction]) -> R<Vec<Action>> {
    let mut out = Vec::new();
    let rank = |i: &Instruction| match i {
        Instruction::Meter(_) => 0,
        Instruction::ApplyActions(_) => 1,
        Instruction::ClearActions => 2,
        Instruction::WriteActions(_) => 3,
        Instruction::WriteMetadata { .. } => 4,
        Instruction::GotoTable(_) => 5,
        Instruction::Other { .. } => 6,
    };
    let mut sorted: Vec<&Instruction> = list.iter().collect();
    sorted.sort_by_key(|i| rank(i));
    for i in sorted {
        match i {
            Instruction::Meter(m) => out.push(Action::Meter(*m)),
            Instruction::ApplyActions(v) => out.extend(actions_from_wire(v, true)?),
            Instruction::ClearActions => out.push(Action::ClearActions),
            Instruction::WriteActions(v) => {
                out.push(Action::WriteActions(actions_from_wire(v, true)?))
            }
            Instruction::WriteMetadata { metadata, mask } => out.push(Action::WriteMetadata {
                value: *metadata,
                mask: *mask,
            }),
            Instruction::GotoTable(t) => out.push(Action::GotoTable(*t)),
            Instruction::Other { type_, .. } => {
                return Err(Unrepresentable(format!("instruction type {type_}")))
            }
        }
    }
    Ok(out)
}

/// A flow's match and actions in wire form, for tests and tools.
pub fn flow_to_wire(f: &FlowText) -> R<(WMatch, Vec<Instruction>)> {
    Ok((
        match_to_wire(&f.matches)?,
        instructions_to_wire(&f.actions)?,
    ))
}
