//! The checks OVS makes on a decoded action list before accepting it
//! (`ofpacts_verify`), so that ferrovs refuses the same messages with the
//! same errors.
//!
//! Every action belongs to an instruction kind (nearly all to
//! apply-actions; `write_metadata` to write-metadata; before OpenFlow 1.5
//! `meter` to the meter instruction). Laid out as OVS lays out a flow's
//! instructions (meter, apply-actions, clear-actions, write-actions,
//! write-metadata, goto-table), the kinds must not go down, and only
//! apply-actions may repeat: a `write_metadata` action followed by an
//! output is `OFPBAC_UNSUPPORTED_ORDER`. Where a message carries a plain
//! action list (packet-out, group buckets, nested `clone`/`ct` actions)
//! only apply-actions (and meter) kinds are allowed. `conjunction` goes only
//! with `note`; `ct_mark`/`ct_label` are set only inside `ct`, and `nat`
//! only there; `ct`'s nested actions need `commit` unless they are a bare
//! `nat`. One pass over the list, no allocation.

use super::{Action, Ct};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::field::Field;
use crate::instruction::Instruction;
use crate::version::Version;

/// OVS's instruction kinds, in their required order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Meter,
    Apply,
    Clear,
    Write,
    WriteMetadata,
    GotoTable,
}

/// The action list an action sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outer {
    /// A flow's instructions (or a 1.0 flow-mod's actions): every kind.
    Flow,
    /// A plain action list: apply-actions and meter only.
    List,
    Ct,
    Clone,
}

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

fn kind(version: Version, a: &Action) -> Kind {
    match a {
        Action::WriteMetadata { .. } => Kind::WriteMetadata,
        Action::Meter(_) if version < Version::Of15 => Kind::Meter,
        _ => Kind::Apply,
    }
}

/// The field an action writes, as OVS's `ofpact_get_mf_dst` sees it
/// (set_field, and load and move, which OVS holds as set_field/move).
fn dst_field(a: &Action) -> Option<Field> {
    match a {
        Action::SetField { field, .. } => Some(*field),
        Action::RegLoad { dst, .. } => Some(dst.field),
        Action::Move { dst, .. } => Some(dst.field),
        _ => None,
    }
}

fn requires_ct(f: Field) -> bool {
    matches!(f, Field::CtMark | Field::CtLabel)
}

/// Checks on one action that depend on the list it is nested in, and on
/// the lists nested in it (OVS's `ofpacts_verify_nested` and the decoding
/// of `ct` and `clone`).
fn verify_nested(a: &Action, outer: Outer) -> Result<()> {
    let field = dst_field(a);
    if field.is_some_and(requires_ct) && outer != Outer::Ct {
        return Err(bad(
            ErrorCode::OfpbacBadSetArgument,
            "ct_mark/ct_label set outside ct",
        ));
    }
    if let Action::Nat(_) = a {
        if outer != Outer::Ct {
            return Err(bad(ErrorCode::OfpbacBadSetArgument, "nat outside ct"));
        }
        return Ok(());
    }
    match outer {
        Outer::Ct if !field.is_some_and(requires_ct) => {
            Err(bad(ErrorCode::OfpbacBadArgument, "action nested in ct"))
        }
        Outer::Ct | Outer::Clone if matches!(a, Action::Meter(_)) => {
            Err(bad(ErrorCode::OfpbacBadArgument, "nested meter"))
        }
        _ => Ok(()),
    }
}

/// The checks OVS makes while decoding an action, before it looks at the
/// list around it: those of `ct` and `clone` and of their nested lists.
pub(crate) fn verify_decoded(version: Version, a: &Action) -> Result<()> {
    match a {
        Action::Ct(ct) => verify_ct(version, ct),
        Action::Clone(acts) => verify_list(version, acts.iter(), Outer::Clone),
        _ => Ok(()),
    }
}

fn verify_ct(version: Version, ct: &Ct) -> Result<()> {
    if ct.flags & Ct::F_FORCE != 0 && ct.flags & Ct::F_COMMIT == 0 {
        return Err(bad(ErrorCode::OfpbacBadArgument, "ct force without commit"));
    }
    verify_list(version, ct.actions.iter(), Outer::Ct)?;
    if ct.flags & Ct::F_COMMIT == 0 {
        for a in &ct.actions {
            let bare_nat = matches!(a, Action::Nat(n)
                if n.flags == 0
                    && n.range.ipv4_min.is_none()
                    && n.range.ipv6_min.is_none());
            if !bare_nat {
                return Err(bad(
                    ErrorCode::OfpbacBadArgument,
                    "ct actions other than a bare nat need commit",
                ));
            }
        }
    }
    Ok(())
}

/// `ofpacts_verify` over a sequence of (kind, action) in OVS's layout.
fn verify_seq<'a>(
    version: Version,
    items: impl Iterator<Item = (Kind, Option<&'a Action>)> + Clone,
    outer: Outer,
) -> Result<()> {
    // OVS verifies nested lists as it decodes each action, so their errors
    // come before any of this list's.
    for (_, a) in items.clone() {
        if let Some(a) = a {
            verify_decoded(version, a)?;
        }
    }
    let mut prev: Option<Kind> = None;
    for (next, a) in items.clone() {
        if let Some(Action::Conjunction { .. }) = a {
            let only = items
                .clone()
                .all(|(_, b)| matches!(b, Some(Action::Conjunction { .. } | Action::Note(_))));
            if !only {
                return Err(bad(
                    ErrorCode::NxbacBadConjunction,
                    "conjunction with other actions",
                ));
            }
            return Ok(());
        }
        if let Some(a) = a {
            verify_nested(a, outer)?;
        }
        if let Some(inst) = prev {
            let out_of_order = if inst == Kind::Apply {
                next < inst
            } else {
                next <= inst
            };
            if out_of_order {
                return Err(bad(
                    ErrorCode::OfpbacUnsupportedOrder,
                    "instruction order (OpenFlow 1.1+ compatibility)",
                ));
            }
        }
        let allowed = outer == Outer::Flow || matches!(next, Kind::Apply | Kind::Meter);
        if !allowed {
            return Err(bad(
                ErrorCode::OfpbicUnsupInst,
                "instruction not allowed here",
            ));
        }
        prev = Some(next);
    }
    Ok(())
}

fn verify_list<'a>(
    version: Version,
    acts: impl Iterator<Item = &'a Action> + Clone,
    outer: Outer,
) -> Result<()> {
    verify_seq(version, acts.map(|a| (kind(version, a), Some(a))), outer)
}

/// Verifies a plain action list (packet-out, group bucket); returns it.
pub fn verify_action_list(version: Version, acts: Vec<Action>) -> Result<Vec<Action>> {
    verify_list(version, acts.iter(), Outer::List)?;
    Ok(acts)
}

/// Verifies a flow's instructions (a 1.0 or NX flow-mod's actions come as
/// one apply-actions instruction), laid out in OVS's order whatever their
/// order on the wire.
pub fn verify_instructions(version: Version, insts: &[Instruction]) -> Result<()> {
    let rank = |i: &Instruction| match i {
        Instruction::Meter(_) => Kind::Meter,
        Instruction::ApplyActions(_) => Kind::Apply,
        Instruction::ClearActions => Kind::Clear,
        Instruction::WriteActions(_) => Kind::Write,
        Instruction::WriteMetadata { .. } => Kind::WriteMetadata,
        Instruction::GotoTable(_) => Kind::GotoTable,
        Instruction::Other { .. } => Kind::Apply,
    };
    let mut order: [Option<&Instruction>; 8] = [None; 8];
    let mut n = 0;
    for k in [
        Kind::Meter,
        Kind::Apply,
        Kind::Clear,
        Kind::Write,
        Kind::WriteMetadata,
        Kind::GotoTable,
    ] {
        let of_kind = insts
            .iter()
            .filter(|i| rank(i) == k && !matches!(i, Instruction::Other { .. }));
        for i in of_kind {
            if n < order.len() {
                order[n] = Some(i);
                n += 1;
            }
        }
    }
    let items = order[..n].iter().flatten().flat_map(move |i| {
        let (k, acts): (Kind, &[Action]) = match i {
            Instruction::ApplyActions(a) => (Kind::Apply, a),
            _ => (rank(i), &[]),
        };
        let whole = if matches!(i, Instruction::ApplyActions(_)) {
            None
        } else {
            Some((k, None))
        };
        whole
            .into_iter()
            .chain(acts.iter().map(move |a| (kind(version, a), Some(a))))
    });
    verify_seq(version, items, Outer::Flow)
}
