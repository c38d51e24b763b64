//! Atoms: the scalar values of OVSDB (integer, real, boolean, string, uuid).
//!
//! An `Atom` is 24 bytes: strings are `Arc<str>` so that copying a row for an
//! update or a monitor never copies string bytes. Atoms have a total order
//! (reals by `total_cmp`) so that sets and maps can be kept as sorted vectors
//! and compared, searched and merged in linear or logarithmic time.

use crate::error::{OvsdbError, Result};
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// The five atomic types of RFC 7047.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicType {
    Integer,
    Real,
    Boolean,
    String,
    Uuid,
}

impl AtomicType {
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "integer" => AtomicType::Integer,
            "real" => AtomicType::Real,
            "boolean" => AtomicType::Boolean,
            "string" => AtomicType::String,
            "uuid" => AtomicType::Uuid,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            AtomicType::Integer => "integer",
            AtomicType::Real => "real",
            AtomicType::Boolean => "boolean",
            AtomicType::String => "string",
            AtomicType::Uuid => "uuid",
        }
    }
    /// The default atom of this type (0, 0.0, false, "", all-zero uuid).
    pub fn default_atom(self) -> Atom {
        match self {
            AtomicType::Integer => Atom::Integer(0),
            AtomicType::Real => Atom::Real(0.0),
            AtomicType::Boolean => Atom::Boolean(false),
            AtomicType::String => Atom::String(Arc::from("")),
            AtomicType::Uuid => Atom::Uuid(Uuid::nil()),
        }
    }
}

/// One scalar value.
#[derive(Debug, Clone)]
pub enum Atom {
    Integer(i64),
    Real(f64),
    Boolean(bool),
    String(Arc<str>),
    Uuid(Uuid),
}

impl Atom {
    pub fn atomic_type(&self) -> AtomicType {
        match self {
            Atom::Integer(_) => AtomicType::Integer,
            Atom::Real(_) => AtomicType::Real,
            Atom::Boolean(_) => AtomicType::Boolean,
            Atom::String(_) => AtomicType::String,
            Atom::Uuid(_) => AtomicType::Uuid,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Atom::Integer(_) => 0,
            Atom::Real(_) => 1,
            Atom::Boolean(_) => 2,
            Atom::String(_) => 3,
            Atom::Uuid(_) => 4,
        }
    }

    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Atom::Uuid(u) => Some(*u),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// Parses an atom of type `ty` from JSON. `named` resolves
    /// `["named-uuid", NAME]` (only allowed where a symbol table exists).
    pub fn from_json(
        ty: AtomicType,
        v: &Value,
        named: &mut dyn FnMut(&str) -> Option<Uuid>,
    ) -> Result<Atom> {
        let bad = || OvsdbError::syntax(format!("expected {}, got {}", ty.name(), short(v)));
        match ty {
            AtomicType::Integer => match v {
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        Ok(Atom::Integer(i))
                    } else {
                        // An integral real (`1.0`) is that integer, as in OVS.
                        match n.as_f64() {
                            Some(f) if f.fract() == 0.0 && (-9.2e18..9.2e18).contains(&f) => {
                                Ok(Atom::Integer(f as i64))
                            }
                            _ => Err(bad()),
                        }
                    }
                }
                _ => Err(bad()),
            },
            AtomicType::Real => match v {
                Value::Number(n) => n.as_f64().map(Atom::Real).ok_or_else(bad),
                _ => Err(bad()),
            },
            AtomicType::Boolean => v.as_bool().map(Atom::Boolean).ok_or_else(bad),
            AtomicType::String => v
                .as_str()
                .map(|s| Atom::String(Arc::from(s)))
                .ok_or_else(bad),
            AtomicType::Uuid => {
                let a = v.as_array().ok_or_else(bad)?;
                if a.len() != 2 {
                    return Err(bad());
                }
                let s = a[1].as_str().ok_or_else(bad)?;
                match a[0].as_str() {
                    Some("uuid") => parse_uuid(s)
                        .map(Atom::Uuid)
                        .ok_or_else(|| OvsdbError::syntax(format!("\"{s}\" is not a valid UUID"))),
                    Some("named-uuid") => named(s)
                        .map(Atom::Uuid)
                        .ok_or_else(|| OvsdbError::syntax(format!("unknown named-uuid \"{s}\""))),
                    _ => Err(bad()),
                }
            }
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Atom::Integer(i) => Value::from(*i),
            Atom::Real(r) => real_to_json(*r),
            Atom::Boolean(b) => Value::Bool(*b),
            Atom::String(s) => Value::String(s.to_string()),
            Atom::Uuid(u) => Value::Array(vec![
                Value::String("uuid".into()),
                Value::String(crate::uuidgen::text(u)),
            ]),
        }
    }
}

impl Atom {
    /// Appends the JSON text of `to_json()` to `out` without building it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Atom::Integer(i) => {
                let _ = serde_json::to_writer(&mut *out, i);
            }
            Atom::Real(r) => {
                let _ = serde_json::to_writer(&mut *out, &real_to_json(*r));
            }
            Atom::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Atom::String(s) => crate::jsontext::write_str(s, out),
            Atom::Uuid(u) => write_uuid_json(u, out),
        }
    }
}

/// Appends `["uuid","<text>"]`.
pub fn write_uuid_json(u: &Uuid, out: &mut Vec<u8>) {
    out.extend_from_slice(b"[\"uuid\",\"");
    write_uuid_text(u, out);
    out.extend_from_slice(b"\"]");
}

/// Appends the 36-character text form of `u` (no quotes).
pub fn write_uuid_text(u: &Uuid, out: &mut Vec<u8>) {
    let mut b = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(u.hyphenated().encode_lower(&mut b).as_bytes());
}

/// Reals that are whole numbers are still written with a fraction so that
/// they read back as reals.
fn real_to_json(r: f64) -> Value {
    serde_json::Number::from_f64(r)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Strict RFC 4122 text form, 36 characters with hyphens.
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok()
}

pub(crate) fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 80 {
        let mut cut = 80;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

impl PartialEq for Atom {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Atom::Uuid(a), Atom::Uuid(b)) => a == b,
            (Atom::Integer(a), Atom::Integer(b)) => a == b,
            (Atom::String(a), Atom::String(b)) => Arc::ptr_eq(a, b) || a == b,
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b) == Ordering::Equal,
            (Atom::Boolean(a), Atom::Boolean(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for Atom {}
impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Atom {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Atom::Integer(a), Atom::Integer(b)) => a.cmp(b),
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b),
            (Atom::Boolean(a), Atom::Boolean(b)) => a.cmp(b),
            (Atom::String(a), Atom::String(b)) => a.cmp(b),
            // Same order as the bytes, one integer compare.
            (Atom::Uuid(a), Atom::Uuid(b)) => a.as_u128().cmp(&b.as_u128()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}
impl std::hash::Hash for Atom {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self {
            Atom::Integer(i) => i.hash(h),
            Atom::Real(r) => r.to_bits().hash(h),
            Atom::Boolean(b) => b.hash(h),
            Atom::String(s) => s.hash(h),
            Atom::Uuid(u) => u.hash(h),
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Integer(i) => write!(f, "{i}"),
            Atom::Real(r) => write!(f, "{r}"),
            Atom::Boolean(b) => write!(f, "{b}"),
            Atom::String(s) => write!(f, "\"{s}\""),
            Atom::Uuid(u) => write!(f, "{u}"),
        }
    }
}
