//! Mutations (RFC 7047 section 5.1 `<mutation>`): arithmetic on integer and
//! real scalars or on every element of a set, and insert/delete on sets and
//! maps.
//!
//! A mutation is parsed against the column type, applied to a copy of the
//! datum, and the result is then checked against the column's constraints;
//! errors use OVS's tags ("domain error", "range error", "constraint violation").

use crate::atom::{Atom, AtomicType};
use crate::datum::{Datum, Named};
use crate::error::{OvsdbError, Result};
use crate::schema::{ColumnType, TableSchema};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Insert,
    Delete,
}

#[derive(Debug, Clone)]
pub struct Mutation {
    pub col: usize,
    pub mutator: Mutator,
    pub arg: Datum,
}

pub fn parse_mutations(ts: &TableSchema, v: &Value, named: Named) -> Result<Vec<Mutation>> {
    let arr = v
        .as_array()
        .ok_or_else(|| OvsdbError::syntax("array of mutations expected"))?;
    let mut out = Vec::with_capacity(arr.len());
    for m in arr {
        let a = m
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(|| OvsdbError::syntax("Parse error in mutation."))?;
        let cname = a[0]
            .as_str()
            .ok_or_else(|| OvsdbError::syntax("Parse error in mutation."))?;
        if cname == "_uuid" || cname == "_version" {
            return Err(OvsdbError::constraint(format!(
                "Cannot mutate column {cname}."
            )));
        }
        let col = ts.column(cname).ok_or_else(|| {
            OvsdbError::new(
                "unknown column",
                format!("No column {cname} in table {}.", ts.name),
            )
        })?;
        let cs = &ts.columns[col];
        if !cs.mutable {
            return Err(OvsdbError::constraint(format!(
                "Cannot mutate immutable column {cname} in table {}.",
                ts.name
            )));
        }
        let ty = &cs.ty;
        let mname = a[1].as_str().unwrap_or("");
        let mutator = match mname {
            "+=" => Mutator::Add,
            "-=" => Mutator::Sub,
            "*=" => Mutator::Mul,
            "/=" => Mutator::Div,
            "%=" => Mutator::Mod,
            "insert" => Mutator::Insert,
            "delete" => Mutator::Delete,
            _ => {
                return Err(OvsdbError::new(
                    "unknown mutator",
                    format!("Unknown mutator \"{mname}\"."),
                ))
            }
        };
        let arg = match mutator {
            Mutator::Insert | Mutator::Delete => {
                if ty.is_scalar() {
                    return Err(OvsdbError::syntax(format!(
                        "Type mismatch: \"{mname}\" operator may not be applied to scalar column {cname}."
                    )));
                }
                // As OVS: an insert's argument may not hold more than
                // the column does (a syntax error); a delete's may.
                let mut aty = ty.clone();
                aty.min = 0;
                if mutator == Mutator::Delete {
                    aty.max = u64::MAX;
                }
                if mutator == Mutator::Delete && ty.is_map() {
                    // delete takes a map (pairs) or a set of keys.
                    let mut kty = aty.clone();
                    kty.value = None;
                    match Datum::from_json(&aty, &a[2], named, true) {
                        Ok(d) => d,
                        Err(_) => Datum::from_json(&kty, &a[2], named, true)?,
                    }
                } else {
                    Datum::from_json(&aty, &a[2], named, mutator == Mutator::Delete)?
                }
            }
            _ => {
                if ty.is_map() || !matches!(ty.key.atype, AtomicType::Integer | AtomicType::Real) {
                    return Err(OvsdbError::syntax(format!(
                        "Type mismatch: \"{mname}\" operator may not be applied to column {cname} of type {}.",
                        ty.key.atype.name()
                    )));
                }
                if mutator == Mutator::Mod && ty.key.atype != AtomicType::Integer {
                    return Err(OvsdbError::syntax(
                        "Type mismatch: %= requires integer column",
                    ));
                }
                let a = Atom::from_json(ty.key.atype, &a[2], named)?;
                Datum::scalar(a)
            }
        };
        out.push(Mutation { col, mutator, arg });
    }
    Ok(out)
}

fn arith(m: Mutator, a: &Atom, b: &Atom) -> Result<Atom> {
    match (a, b) {
        (Atom::Integer(x), Atom::Integer(y)) => {
            let r = match m {
                Mutator::Add => x.checked_add(*y),
                Mutator::Sub => x.checked_sub(*y),
                Mutator::Mul => x.checked_mul(*y),
                Mutator::Div | Mutator::Mod => {
                    if *y == 0 {
                        return Err(OvsdbError::new("domain error", "Division by zero."));
                    }
                    if m == Mutator::Div {
                        x.checked_div(*y)
                    } else {
                        x.checked_rem(*y)
                    }
                }
                _ => unreachable_mutator(),
            };
            r.map(Atom::Integer).ok_or_else(|| {
                OvsdbError::new(
                    "range error",
                    "Result of arithmetic operation is out of range.",
                )
            })
        }
        (Atom::Real(x), Atom::Real(y)) => {
            let r = match m {
                Mutator::Add => x + y,
                Mutator::Sub => x - y,
                Mutator::Mul => x * y,
                Mutator::Div => {
                    if *y == 0.0 {
                        return Err(OvsdbError::new("domain error", "Division by zero."));
                    }
                    x / y
                }
                _ => return Err(OvsdbError::syntax("bad mutator for real")),
            };
            if !r.is_finite() {
                return Err(OvsdbError::new(
                    "range error",
                    "Result of arithmetic operation is out of range.",
                ));
            }
            Ok(Atom::Real(r))
        }
        _ => Err(OvsdbError::syntax("type mismatch in mutation")),
    }
}

fn unreachable_mutator() -> Option<i64> {
    None
}

/// Applies `m` to `d` (a datum of type `ty`) and checks the result.
pub fn apply(ty: &ColumnType, d: &mut Datum, m: &Mutation) -> Result<()> {
    if m.mutator == Mutator::Insert {
        // Only inserted elements can break the base type's constraints.
        for k in m.arg.keys() {
            ty.key.check(k)?;
        }
        if let Some(vt) = &ty.value {
            for x in m.arg.values() {
                vt.check(x)?;
            }
        }
    }
    match m.mutator {
        Mutator::Insert => d.union(&m.arg),
        Mutator::Delete => match &m.arg {
            Datum::Set(keys) => d.remove_keys(keys),
            Datum::Map(pairs) => d.remove_pairs(pairs),
        },
        _ => {
            let b = m
                .arg
                .first()
                .cloned()
                .ok_or_else(|| OvsdbError::syntax("missing operand"))?;
            if let Datum::Set(v) = d {
                let mut out = Vec::with_capacity(v.len());
                for a in v.iter() {
                    let r = arith(m.mutator, a, &b)?;
                    ty.key.check(&r)?;
                    out.push(r);
                }
                out.sort();
                if out.windows(2).any(|w| w[0] == w[1]) {
                    return Err(OvsdbError::constraint(
                        "Result of mutation contains duplicate values.",
                    ));
                }
                *v = out;
            }
            return Ok(());
        }
    }
    let n = d.len() as u64;
    if n < ty.min || n > ty.max {
        return Err(OvsdbError::constraint(format!(
            "Attempted to store {n} elements in a set or map with a limit of {} to {} elements.",
            ty.min,
            if ty.max == u64::MAX {
                "unlimited".to_string()
            } else {
                ty.max.to_string()
            }
        )));
    }
    Ok(())
}
