//! What a flow looks like after a trip through the switch in a given
//! OpenFlow version: the form `ovs-ofctl dump-flows -O <version>` prints.
//!
//! The text syntax is richer than any one wire version. OVS encodes each
//! action in the version's own vocabulary and decodes it back, so
//! `load:` becomes `set_field:` from OpenFlow 1.2 on, `mod_vlan_vid`
//! becomes `set_field:<vid|0x1000>->vlan_vid`, `strip_vlan` becomes
//! `pop_vlan`; OpenFlow 1.0 turns `goto_table` into `resubmit(,N)` and has
//! no flow flags in its statistics. Match fields whose prerequisites are
//! not met are never encoded. `normalize` applies exactly those rewrites,
//! so printing a normalized flow gives OVS's canonical line.

use super::action::{n_bytes, Action};
use super::field::{by_name, ones, Field};
use super::flow::FlowText;
use super::flow_match::FlowMatch;

/// The OpenFlow versions the printer can mimic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WireVersion {
    /// OpenFlow 1.0 with Nicira extensions (NXM), `ovs-ofctl`'s default.
    Of10,
    Of13,
    Of14,
    Of15,
}

impl WireVersion {
    /// The `-O` argument of `ovs-ofctl`.
    pub fn ofctl_name(self) -> &'static str {
        match self {
            WireVersion::Of10 => "OpenFlow10",
            WireVersion::Of13 => "OpenFlow13",
            WireVersion::Of14 => "OpenFlow14",
            WireVersion::Of15 => "OpenFlow15",
        }
    }
}

/// Rewrites `flow` into the form OVS prints after a round trip in `ver`.
pub fn normalize(flow: &mut FlowText, ver: WireVersion) {
    flow.matches.drop_unmet_prereqs();
    if flow.table.is_none() {
        flow.table = Some(0);
    }
    if ver == WireVersion::Of10 {
        flow.flags = 0;
    }
    if ver < WireVersion::Of14 {
        flow.importance = 0;
    }
    if ver != WireVersion::Of10 {
        flow.matches.oxm_vlan();
    }
    let m = flow.matches.clone();
    let acts = std::mem::take(&mut flow.actions);
    let mut vlan = m.has_vlan();
    flow.actions = normalize_actions(acts, ver, &m, &mut vlan);
}

/// Why a flow cannot be shown in a version: OVS's `dump-flows` then fails
/// with this error instead of printing the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Inexpressible(pub String);

/// Rewrites `flow`, added to the switch in `added`, into what `dump-flows`
/// in `dumped` prints, or the reason OVS's dump fails. OVS keeps flows in a
/// version-independent form, so this is the round trip in `added`, then
/// that form's encoding in `dumped`:
/// - a flow added in OpenFlow 1.0 keeps its flags and gains
///   `reset_counts` (1.0 flow-mods always reset counters); its Nicira
///   loads show in 1.5 as one masked `set_field` per 64-bit load;
/// - OpenFlow 1.0 shows no meter, and a `push_vlan` only through the
///   `mod_vlan_vid`/`mod_vlan_pcp` that follows it; it cannot carry
///   encap/decap/dec_nsh_ttl, and an action list that its own rules refuse
///   (a `write_metadata` before a `goto_table`, now a resubmit) makes the
///   dump fail ([`Inexpressible`]), as ovs-ofctl's does.
pub fn normalize_between(
    flow: &mut FlowText,
    added: WireVersion,
    dumped: WireVersion,
) -> Result<(), Inexpressible> {
    let flags = flow.flags;
    normalize(flow, added);
    if added == WireVersion::Of10 && dumped != WireVersion::Of10 {
        flow.flags = flags | super::flow::FF_RESET_COUNTS;
        if dumped >= WireVersion::Of15 {
            flow.actions = split_loads(std::mem::take(&mut flow.actions));
        }
    }
    if dumped == WireVersion::Of10 && added != WireVersion::Of10 {
        flow.actions = to_of10(std::mem::take(&mut flow.actions))?;
    }
    normalize(flow, dumped);
    if dumped == WireVersion::Of10 {
        let wire = super::wire::actions_to_wire(&flow.actions).map_err(|e| Inexpressible(e.0))?;
        crate::action::verify_instructions(
            crate::Version::Of10,
            &[crate::Instruction::ApplyActions(wire)],
        )
        .map_err(|e| Inexpressible(e.to_string()))?;
    }
    Ok(())
}

/// A flow's actions as OpenFlow 1.0 carries them (see
/// [`normalize_between`]).
fn to_of10(acts: Vec<Action>) -> Result<Vec<Action>, Inexpressible> {
    let mut out = Vec::with_capacity(acts.len());
    for a in acts {
        match a {
            Action::PushVlan(_) | Action::Meter(_) => {}
            Action::Encap { .. } | Action::Decap { .. } | Action::DecNshTtl => {
                return Err(Inexpressible(
                    "encap, decap and dec_nsh_ttl need OpenFlow 1.3".into(),
                ))
            }
            Action::Clone(v) => out.push(Action::Clone(to_of10(v)?)),
            Action::WriteActions(v) => out.push(Action::WriteActions(to_of10(v)?)),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Nicira loads as OpenFlow 1.5 shows them: each load (at most 64 bits
/// of one contiguous run) a masked `set_field`.
fn split_loads(acts: Vec<Action>) -> Vec<Action> {
    let mut out = Vec::with_capacity(acts.len());
    for a in acts {
        match a {
            Action::SetField {
                field,
                value,
                mask,
                load: true,
            } => {
                let mut m = mask;
                while m != 0 {
                    let ofs = m.trailing_zeros();
                    let run = (m >> ofs).trailing_ones().min(64);
                    let seg = ones(run) << ofs;
                    out.push(Action::SetField {
                        field,
                        value: value & seg,
                        mask: seg,
                        load: false,
                    });
                    m &= !seg;
                }
            }
            Action::Clone(v) => out.push(Action::Clone(split_loads(v))),
            Action::WriteActions(v) => out.push(Action::WriteActions(split_loads(v))),
            Action::Ct(mut c) => {
                c.exec = split_loads(std::mem::take(&mut c.exec));
                out.push(Action::Ct(c));
            }
            other => out.push(other),
        }
    }
    out
}

fn set_field(name: &str, value: u128) -> Action {
    let f = by_name(name).expect("field table has every set_field target");
    Action::SetField {
        field: f,
        value,
        mask: ones(n_bytes(f.bits) * 8),
        load: false,
    }
}

/// Whether OVS writes the field with `NXAST_REG_LOAD2` (its only header is
/// an experimenter OXM, e.g. the NSH fields), which prints back as
/// `set_field` in every version, mask or not.
fn load2(field: &Field) -> bool {
    field.nxm.is_none()
        && field
            .oxm
            .is_some_and(|o| o.starts_with("NXOXM_") || o.starts_with("ONFOXM_"))
}

/// OpenFlow 1.0 has no set_field: OVS uses the native 1.0 action when one
/// exists for a full-width write, else a Nicira `load:` of the field's bits.
fn of10_set_field(field: &'static Field, value: u128, mask: u128, load: bool) -> Action {
    let full = ones(field.bits as u32);
    if load2(field) {
        return Action::SetField {
            field,
            value: value & mask & full,
            mask: if mask & full == full {
                ones(n_bytes(field.bits) * 8)
            } else {
                mask & full
            },
            load: false,
        };
    }
    // A whole-field set_field uses OpenFlow 1.0's own action. (OVS uses it
    // for a masked set_field too, one added in OpenFlow 1.5, dropping the
    // mask: the 1.0 flow would then write the whole field. ferrovs keeps
    // the masked write as a load; see tests/flow_text_cross.rs.)
    if !load && mask & full == full {
        let native = match field.name {
            "eth_src" => Some(Action::SetEthSrc(value)),
            "eth_dst" => Some(Action::SetEthDst(value)),
            "ip_src" => Some(Action::SetIpv4Src(value as u32)),
            "ip_dst" => Some(Action::SetIpv4Dst(value as u32)),
            "ip_dscp" => Some(Action::SetIpDscp((value as u8) << 2)),
            "tcp_src" | "udp_src" => Some(Action::SetL4Src(value as u16)),
            "tcp_dst" | "udp_dst" => Some(Action::SetL4Dst(value as u16)),
            "vlan_vid" => Some(Action::SetVlanVid {
                vid: (value & 0xfff) as u16,
                push: true,
            }),
            "vlan_pcp" => Some(Action::SetVlanPcp {
                pcp: value as u8,
                push: true,
            }),
            _ => None,
        };
        if let Some(a) = native {
            return a;
        }
    }
    Action::SetField {
        field,
        value: value & mask & full,
        mask: mask & full,
        load: true,
    }
}

fn l4_field(m: &FlowMatch, src: bool) -> &'static str {
    match (m.nw_proto(), src) {
        (Some(17), true) => "udp_src",
        (Some(17), false) => "udp_dst",
        (Some(132), true) => "sctp_src",
        (Some(132), false) => "sctp_dst",
        (_, true) => "tcp_src",
        (_, false) => "tcp_dst",
    }
}

/// `vlan` tracks whether a VLAN header is present at this point of the
/// list (OVS pushes one before `mod_vlan_vid` in OpenFlow 1.1+ when not).
fn normalize_actions(
    acts: Vec<Action>,
    ver: WireVersion,
    m: &FlowMatch,
    vlan: &mut bool,
) -> Vec<Action> {
    use Action as A;
    let mut out = Vec::with_capacity(acts.len());
    for a in acts {
        let a = match a {
            A::Clone(v) => {
                let mut inner = *vlan;
                A::Clone(normalize_actions(v, ver, m, &mut inner))
            }
            A::WriteActions(v) => {
                let mut inner = *vlan;
                A::WriteActions(normalize_actions(v, ver, m, &mut inner))
            }
            A::Ct(mut c) => {
                let mut inner = *vlan;
                c.exec = normalize_actions(std::mem::take(&mut c.exec), ver, m, &mut inner);
                A::Ct(c)
            }
            other => other,
        };
        match &a {
            A::PushVlan(_) => *vlan = true,
            A::StripVlan { .. } => *vlan = false,
            _ => {}
        }
        if ver == WireVersion::Of10 {
            if let A::SetVlanVid { push: true, .. } | A::SetVlanPcp { push: true, .. } = a {
                *vlan = true;
            }
            match a {
                A::GotoTable(t) => out.push(A::Resubmit {
                    port: 0xfff8,
                    table: Some(t),
                    ct: false,
                }),
                A::ClearActions | A::WriteActions(_) => {}
                A::StripVlan { .. } => out.push(A::StripVlan { pop: false }),
                A::SetField {
                    field,
                    value,
                    mask,
                    load: false,
                } if field.name == "vlan_tci" && mask & 0xffff == 0xffff => {
                    // OVS: with CFI, mod_vlan_vid + mod_vlan_pcp; without,
                    // strip_vlan.
                    if value & 0x1000 != 0 {
                        out.push(A::SetVlanVid {
                            vid: (value & 0xfff) as u16,
                            push: true,
                        });
                        out.push(A::SetVlanPcp {
                            pcp: (value >> 13) as u8 & 7,
                            push: true,
                        });
                        *vlan = true;
                    } else {
                        out.push(A::StripVlan { pop: false });
                        *vlan = false;
                    }
                }
                A::SetField {
                    field,
                    value,
                    mask,
                    load,
                } => {
                    out.push(of10_set_field(field, value, mask, load));
                }
                A::SetIpEcn(e) => out.push(of10_set_field(
                    by_name("nw_ecn").unwrap(),
                    e as u128,
                    3,
                    true,
                )),
                A::SetIpTtl(t) => out.push(of10_set_field(
                    by_name("nw_ttl").unwrap(),
                    t as u128,
                    0xff,
                    true,
                )),
                A::SetVlanVid { vid, .. } => out.push(A::SetVlanVid { vid, push: true }),
                A::SetVlanPcp { pcp, .. } => out.push(A::SetVlanPcp { pcp, push: true }),
                A::Note(mut b) => {
                    // The note action is padded to a multiple of 8 bytes.
                    let len = (b.len() + 10).div_ceil(8) * 8 - 10;
                    b.resize(len, 0);
                    out.push(A::Note(b));
                }
                other => out.push(other),
            }
            continue;
        }
        match a {
            // OpenFlow 1.5 has only set_field; 1.2-1.4 keep a `load` as a
            // Nicira load and can carry set_field only for a whole field.
            A::SetField {
                field,
                value,
                mask,
                load,
            } => {
                let full = ones(n_bytes(field.bits) * 8);
                let load =
                    ver < WireVersion::Of15 && !load2(field) && (load || mask & full != full);
                let (value, mask) = if load {
                    let bits = ones(field.bits as u32);
                    (value & mask & bits, mask & bits)
                } else {
                    (value, mask)
                };
                out.push(A::SetField {
                    field,
                    value,
                    mask,
                    load,
                })
            }
            A::StripVlan { .. } => out.push(A::StripVlan { pop: true }),
            A::SetVlanVid { vid, push } => {
                if push && !*vlan {
                    out.push(A::PushVlan(0x8100));
                    *vlan = true;
                }
                out.push(set_field("vlan_vid", vid as u128 | 0x1000))
            }
            A::SetVlanPcp { pcp, push } => {
                if push && !*vlan {
                    out.push(A::PushVlan(0x8100));
                    *vlan = true;
                }
                out.push(set_field("vlan_pcp", pcp as u128))
            }
            A::Enqueue { port, queue } => {
                out.push(A::SetQueue(queue));
                out.push(A::Output { port, max_len: 0 });
                out.push(A::PopQueue);
            }
            A::SetEthSrc(x) => out.push(set_field("eth_src", x)),
            A::SetEthDst(x) => out.push(set_field("eth_dst", x)),
            A::SetIpv4Src(x) => out.push(set_field("ip_src", x as u128)),
            A::SetIpv4Dst(x) => out.push(set_field("ip_dst", x as u128)),
            A::SetIpDscp(x) => out.push(set_field("ip_dscp", (x >> 2) as u128)),
            A::SetIpEcn(x) => out.push(set_field("nw_ecn", x as u128)),
            A::SetL4Src(x) => out.push(set_field(l4_field(m, true), x as u128)),
            A::SetL4Dst(x) => out.push(set_field(l4_field(m, false), x as u128)),
            A::SetMplsLabel(x) => out.push(set_field("mpls_label", x as u128)),
            A::SetMplsTc(x) => out.push(set_field("mpls_tc", x as u128)),
            A::SetTunnel { id, .. } => out.push(set_field("tun_id", id as u128)),
            A::Note(mut b) => {
                let len = (b.len() + 10).div_ceil(8) * 8 - 10;
                b.resize(len, 0);
                out.push(A::Note(b));
            }
            other => out.push(other),
        }
    }
    out
}

/// Normalizes a group bucket's actions (no match: no VLAN known present).
pub fn normalize_bucket_actions(acts: Vec<Action>, ver: WireVersion) -> Vec<Action> {
    let mut vlan = false;
    normalize_actions(acts, ver, &FlowMatch::default(), &mut vlan)
}

/// Whether OVS can carry `flow` in `ver` at all (`ovs-ofctl` reports "no
/// usable protocol" otherwise): OpenFlow 1.0 has no push_vlan and no meter;
/// fin_timeout has only the OpenFlow 1.0 + NXM encoding.
pub fn usable_in(flow: &FlowText, ver: WireVersion) -> bool {
    fn ok(acts: &[Action], ver: WireVersion) -> bool {
        acts.iter().all(|a| match a {
            Action::PushVlan(_)
            | Action::Meter(_)
            | Action::Encap { .. }
            | Action::Decap { .. }
            | Action::DecNshTtl => ver != WireVersion::Of10,
            Action::FinTimeout { .. } => ver == WireVersion::Of10,
            Action::Clone(v) | Action::WriteActions(v) => ok(v, ver),
            Action::Ct(c) => ok(&c.exec, ver),
            _ => true,
        })
    }
    ok(&flow.actions, ver)
}
