//! Conditions (RFC 7047 section 5.1 `<condition>`): `[column, function, value]`
//! clauses joined by "and", plus the boolean `true`/`false` clauses that
//! monitor_cond allows.
//!
//! Clauses are parsed once against the table schema (column index, typed
//! value) and then evaluated per row without touching JSON again. A clause
//! `["_uuid", "==", uuid]` is recognised so that selects by uuid are a hash
//! lookup instead of a scan.

use crate::atom::{Atom, AtomicType};
use crate::datum::{Datum, Named};
use crate::error::{OvsdbError, Result};
use crate::row::Row;
use crate::schema::{BaseType, ColumnType, TableSchema};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
    Includes,
    Excludes,
}

impl Function {
    pub(crate) fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "<" => Function::Lt,
            "<=" => Function::Le,
            "==" => Function::Eq,
            "!=" => Function::Ne,
            ">=" => Function::Ge,
            ">" => Function::Gt,
            "includes" => Function::Includes,
            "excludes" => Function::Excludes,
            _ => return None,
        })
    }
}

/// Which column a clause reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColRef {
    Uuid,
    Version,
    Col(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    Const(bool),
    Cmp {
        col: ColRef,
        func: Function,
        value: Datum,
    },
}

/// A conjunction of clauses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Condition {
    pub clauses: Vec<Clause>,
}

pub fn uuid_type() -> ColumnType {
    ColumnType {
        key: BaseType {
            atype: AtomicType::Uuid,
            enums: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: crate::schema::RefType::Strong,
        },
        value: None,
        min: 1,
        max: 1,
    }
}

/// Resolves a column name (including `_uuid`/`_version`) to its reference and type.
pub fn column_ref(ts: &TableSchema, name: &str) -> Option<(ColRef, ColumnType)> {
    match name {
        "_uuid" => Some((ColRef::Uuid, uuid_type())),
        "_version" => Some((ColRef::Version, uuid_type())),
        _ => ts
            .column(name)
            .map(|i| (ColRef::Col(i), ts.columns[i].ty.clone())),
    }
}

impl Condition {
    pub fn from_json(ts: &TableSchema, v: &Value, named: Named) -> Result<Condition> {
        let arr = v
            .as_array()
            .ok_or_else(|| OvsdbError::syntax("array of conditions expected"))?;
        let mut clauses = Vec::with_capacity(arr.len());
        for c in arr {
            if let Some(b) = c.as_bool() {
                clauses.push(Clause::Const(b));
                continue;
            }
            let a = c
                .as_array()
                .filter(|a| a.len() == 3)
                .ok_or_else(|| OvsdbError::syntax("Parse error in condition."))?;
            let cname = a[0]
                .as_str()
                .ok_or_else(|| OvsdbError::syntax("Parse error in condition."))?;
            let (col, ty) = column_ref(ts, cname).ok_or_else(|| {
                OvsdbError::new(
                    "unknown column",
                    format!("No column {cname} in table {}.", ts.name),
                )
            })?;
            let fname = a[1].as_str().unwrap_or("");
            let func = Function::from_name(fname).ok_or_else(|| {
                OvsdbError::new("unknown function", format!("unknown function \"{fname}\""))
            })?;
            if matches!(
                func,
                Function::Lt | Function::Le | Function::Gt | Function::Ge
            ) && !(ty.is_scalar() || (ty.max == 1 && ty.value.is_none()))
                || (matches!(
                    func,
                    Function::Lt | Function::Le | Function::Gt | Function::Ge
                ) && !matches!(ty.key.atype, AtomicType::Integer | AtomicType::Real))
            {
                return Err(OvsdbError::syntax(format!(
                    "Type mismatch: \"{fname}\" operator may not be applied to column {cname} of type {}.",
                    ty.key.atype.name()
                )));
            }
            let mut vty = ty.clone();
            // Values are type-checked but not range-checked: a condition may
            // compare with any value.
            strip_constraints(&mut vty.key);
            if let Some(v) = vty.value.as_mut() {
                strip_constraints(v);
            }
            let value = Datum::from_json(&vty, &a[2], named, true)?;
            if matches!(
                func,
                Function::Eq
                    | Function::Ne
                    | Function::Lt
                    | Function::Le
                    | Function::Gt
                    | Function::Ge
            ) && ty.is_scalar()
                && value.len() != 1
            {
                return Err(OvsdbError::syntax(
                    "scalar comparison requires exactly one value",
                ));
            }
            clauses.push(Clause::Cmp { col, func, value });
        }
        Ok(Condition { clauses })
    }

    /// If the condition pins `_uuid` to one value, that value.
    pub fn uuid_eq(&self) -> Option<Uuid> {
        self.clauses.iter().find_map(|c| match c {
            Clause::Cmp {
                col: ColRef::Uuid,
                func: Function::Eq,
                value,
            } => value.first().and_then(Atom::as_uuid),
            _ => None,
        })
    }

    pub fn is_true(&self) -> bool {
        self.clauses
            .iter()
            .all(|c| matches!(c, Clause::Const(true)))
    }

    pub fn eval(&self, uuid: &Uuid, row: &Row) -> bool {
        self.clauses.iter().all(|c| eval_clause(c, uuid, row))
    }
}

fn strip_constraints(b: &mut BaseType) {
    b.enums = None;
    b.min_integer = None;
    b.max_integer = None;
    b.min_real = None;
    b.max_real = None;
    b.min_length = None;
    b.max_length = None;
}

fn eval_clause(c: &Clause, uuid: &Uuid, row: &Row) -> bool {
    let (col, func, value) = match c {
        Clause::Const(b) => return *b,
        Clause::Cmp { col, func, value } => (col, func, value),
    };
    let tmp;
    let d: &Datum = match col {
        ColRef::Uuid => {
            tmp = Datum::scalar(Atom::Uuid(*uuid));
            &tmp
        }
        ColRef::Version => {
            tmp = Datum::scalar(Atom::Uuid(row.version));
            &tmp
        }
        ColRef::Col(i) => &row.cols[*i],
    };
    match func {
        Function::Eq => d == value,
        Function::Ne => d != value,
        Function::Includes => d.includes(value),
        Function::Excludes => d.excludes(value),
        Function::Lt | Function::Le | Function::Gt | Function::Ge => {
            let (Some(a), Some(b)) = (d.first(), value.first()) else {
                return false;
            };
            let o = match (a, b) {
                (Atom::Integer(x), Atom::Integer(y)) => x.cmp(y),
                (Atom::Real(x), Atom::Real(y)) => match x.partial_cmp(y) {
                    Some(o) => o,
                    None => return false,
                },
                _ => return false,
            };
            match func {
                Function::Lt => o.is_lt(),
                Function::Le => o.is_le(),
                Function::Gt => o.is_gt(),
                _ => o.is_ge(),
            }
        }
    }
}
