//! Datums: the value of one column in one row (RFC 7047 section 5.1).
//!
//! A datum is a set of atoms or a map of atom pairs, always stored as a
//! vector sorted by key with no duplicate keys. A scalar column is a set of
//! exactly one atom. Sorted vectors make equality, `includes`, set union and
//! difference, and the update2 "diff" linear merges, and an empty datum costs
//! no allocation (most columns of a real row are empty).

use crate::atom::{short, Atom, AtomicType};
use crate::error::{OvsdbError, Result};
use crate::schema::{BaseType, ColumnType};
use serde_json::Value;
use uuid::Uuid;

/// A column value: a sorted set or a sorted map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Datum {
    Set(Vec<Atom>),
    Map(Vec<(Atom, Atom)>),
}

/// Iterator over the keys of a datum.
pub enum Keys<'a> {
    Set(std::slice::Iter<'a, Atom>),
    Map(std::slice::Iter<'a, (Atom, Atom)>),
}

impl<'a> Iterator for Keys<'a> {
    type Item = &'a Atom;
    #[inline]
    fn next(&mut self) -> Option<&'a Atom> {
        match self {
            Keys::Set(i) => i.next(),
            Keys::Map(i) => i.next().map(|(k, _)| k),
        }
    }
}

/// Resolver for `named-uuid` references.
pub type Named<'a> = &'a mut dyn FnMut(&str) -> Option<Uuid>;

impl Datum {
    pub fn empty_set() -> Self {
        Datum::Set(Vec::new())
    }

    pub fn scalar(a: Atom) -> Self {
        Datum::Set(vec![a])
    }

    /// The default value of a column of type `ty`.
    pub fn default_for(ty: &ColumnType) -> Self {
        if ty.min == 0 {
            if ty.is_map() {
                Datum::Map(Vec::new())
            } else {
                Datum::Set(Vec::new())
            }
        } else if let Some(v) = &ty.value {
            Datum::Map(vec![(ty.key.atype.default_atom(), v.atype.default_atom())])
        } else {
            Datum::Set(vec![ty.key.atype.default_atom()])
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Datum::Set(v) => v.len(),
            Datum::Map(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys of a set or of a map.
    pub fn keys(&self) -> Keys<'_> {
        match self {
            Datum::Set(v) => Keys::Set(v.iter()),
            Datum::Map(v) => Keys::Map(v.iter()),
        }
    }

    /// Values of a map (nothing for a set).
    pub fn values(&self) -> impl Iterator<Item = &Atom> {
        match self {
            Datum::Set(_) => None,
            Datum::Map(v) => Some(v.iter().map(|(_, x)| x)),
        }
        .into_iter()
        .flatten()
    }

    /// The first atom, for scalar columns.
    pub fn first(&self) -> Option<&Atom> {
        self.keys().next()
    }

    /// Parses a set of `ty` atoms with no cardinality check (enum lists).
    pub fn from_json_set(ty: AtomicType, v: &Value, named: Named) -> Result<Vec<Atom>> {
        let mut out = Vec::new();
        match set_members(v) {
            Some(items) => {
                for x in items {
                    out.push(Atom::from_json(ty, x, named)?);
                }
            }
            None => out.push(Atom::from_json(ty, v, named)?),
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Parses a datum of column type `ty`, checking constraints and, unless
    /// `relaxed`, the cardinality.
    pub fn from_json(ty: &ColumnType, v: &Value, named: Named, relaxed: bool) -> Result<Datum> {
        let d = if let Some(vt) = &ty.value {
            let pairs = map_members(v)
                .ok_or_else(|| OvsdbError::syntax(format!("expected map, got {}", short(v))))?;
            let mut out = Vec::with_capacity(pairs.len());
            for p in pairs {
                let p = p.as_array().filter(|p| p.len() == 2).ok_or_else(|| {
                    OvsdbError::syntax(format!("map pair expected, got {}", short(p)))
                })?;
                let k = parse_checked(&ty.key, &p[0], named)?;
                let x = parse_checked(vt, &p[1], named)?;
                out.push((k, x));
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            if out.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(OvsdbError::new("ovsdb error", "map contains duplicate key"));
            }
            Datum::Map(out)
        } else {
            let mut out = Vec::new();
            match set_members(v) {
                Some(items) => {
                    out.reserve(items.len());
                    for x in items {
                        out.push(parse_checked(&ty.key, x, named)?);
                    }
                }
                None => out.push(parse_checked(&ty.key, v, named)?),
            }
            out.sort();
            if out.windows(2).any(|w| w[0] == w[1]) {
                return Err(OvsdbError::new(
                    "ovsdb error",
                    "set contains duplicate value",
                ));
            }
            Datum::Set(out)
        };
        if !relaxed {
            d.check_cardinality(ty)?;
        }
        Ok(d)
    }

    /// OVS's datum order (for select's `sort`): fewer elements first, then
    /// keys, then values, element by element.
    pub fn compare(&self, other: &Datum) -> std::cmp::Ordering {
        self.len()
            .cmp(&other.len())
            .then_with(|| match (self, other) {
                (Datum::Map(a), Datum::Map(b)) => a
                    .iter()
                    .map(|x| &x.0)
                    .cmp(b.iter().map(|x| &x.0))
                    .then_with(|| a.iter().map(|x| &x.1).cmp(b.iter().map(|x| &x.1))),
                _ => self.keys().cmp(other.keys()),
            })
    }

    pub fn check_cardinality(&self, ty: &ColumnType) -> Result<()> {
        let n = self.len() as u64;
        if n < ty.min || n > ty.max {
            let max = if ty.max == u64::MAX {
                "unlimited".to_string()
            } else {
                ty.max.to_string()
            };
            return Err(OvsdbError::syntax(format!(
                "{} must have {} to {} members but {} are present",
                if ty.is_map() { "map" } else { "set" },
                ty.min,
                max,
                n
            )));
        }
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        match self {
            Datum::Set(v) if v.len() == 1 => v[0].to_json(),
            Datum::Set(v) => Value::Array(vec![
                Value::String("set".into()),
                Value::Array(v.iter().map(Atom::to_json).collect()),
            ]),
            Datum::Map(v) => Value::Array(vec![
                Value::String("map".into()),
                Value::Array(
                    v.iter()
                        .map(|(k, x)| Value::Array(vec![k.to_json(), x.to_json()]))
                        .collect(),
                ),
            ]),
        }
    }

    /// Appends the JSON text of `to_json()` to `out` without building it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Datum::Set(v) if v.len() == 1 => v[0].write_json(out),
            Datum::Set(v) => {
                out.extend_from_slice(b"[\"set\",[");
                for (i, a) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    a.write_json(out);
                }
                out.extend_from_slice(b"]]");
            }
            Datum::Map(v) => {
                out.extend_from_slice(b"[\"map\",[");
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'[');
                    k.write_json(out);
                    out.push(b',');
                    x.write_json(out);
                    out.push(b']');
                }
                out.extend_from_slice(b"]]");
            }
        }
    }

    pub fn contains_key(&self, k: &Atom) -> bool {
        match self {
            Datum::Set(v) => v.binary_search(k).is_ok(),
            Datum::Map(v) => v.binary_search_by(|p| p.0.cmp(k)).is_ok(),
        }
    }

    fn map_get(v: &[(Atom, Atom)], k: &Atom) -> Option<usize> {
        v.binary_search_by(|p| p.0.cmp(k)).ok()
    }

    /// Whether every element of `other` is in `self` (maps: same key and value).
    pub fn includes(&self, other: &Datum) -> bool {
        match (self, other) {
            (Datum::Set(a), Datum::Set(b)) => b.iter().all(|x| a.binary_search(x).is_ok()),
            (Datum::Map(a), Datum::Map(b)) => b
                .iter()
                .all(|(k, x)| Self::map_get(a, k).is_some_and(|i| a[i].1 == *x)),
            _ => false,
        }
    }

    /// Whether no element of `other` is in `self`.
    pub fn excludes(&self, other: &Datum) -> bool {
        match (self, other) {
            (Datum::Set(a), Datum::Set(b)) => b.iter().all(|x| a.binary_search(x).is_err()),
            (Datum::Map(a), Datum::Map(b)) => b
                .iter()
                .all(|(k, x)| Self::map_get(a, k).is_none_or(|i| a[i].1 != *x)),
            _ => false,
        }
    }

    /// Set union / map insert (existing keys keep their value).
    pub fn union(&mut self, other: &Datum) {
        match (self, other) {
            (Datum::Set(a), Datum::Set(b)) => {
                for x in b {
                    if let Err(i) = a.binary_search(x) {
                        a.insert(i, x.clone());
                    }
                }
            }
            (Datum::Map(a), Datum::Map(b)) => {
                for (k, x) in b {
                    if let Err(i) = a.binary_search_by(|p| p.0.cmp(k)) {
                        a.insert(i, (k.clone(), x.clone()));
                    }
                }
            }
            _ => {}
        }
    }

    /// Removes keys in the set `keys` (from a set or a map).
    pub fn remove_keys(&mut self, keys: &[Atom]) {
        match self {
            Datum::Set(a) => a.retain(|x| keys.binary_search(x).is_err()),
            Datum::Map(a) => a.retain(|(k, _)| keys.binary_search(k).is_err()),
        }
    }

    /// Removes pairs of a map that match exactly.
    pub fn remove_pairs(&mut self, pairs: &[(Atom, Atom)]) {
        if let Datum::Map(a) = self {
            a.retain(|(k, x)| {
                !pairs
                    .binary_search_by(|p| p.0.cmp(k))
                    .is_ok_and(|i| pairs[i].1 == *x)
            });
        }
    }

    /// All uuid atoms of keys and values whose base type references a table.
    pub fn refs<'a>(
        &'a self,
        ty: &'a ColumnType,
    ) -> impl Iterator<Item = (usize, Uuid, bool)> + 'a {
        let kref = ty.key.ref_table_index().map(|t| (t, ty.key.ref_type));
        let vref = ty
            .value
            .as_ref()
            .and_then(|v| v.ref_table_index().map(|t| (t, v.ref_type)));
        let ks = kref.into_iter().flat_map(move |(t, rt)| {
            self.keys().filter_map(move |a| {
                a.as_uuid()
                    .map(|u| (t, u, rt == crate::schema::RefType::Strong))
            })
        });
        let vs = vref.into_iter().flat_map(move |(t, rt)| {
            self.values().filter_map(move |a| {
                a.as_uuid()
                    .map(|u| (t, u, rt == crate::schema::RefType::Strong))
            })
        });
        ks.chain(vs)
    }

    /// The update2 "diff" from `old` to `new`: for sets the symmetric
    /// difference; for maps removed keys (old pair), added pairs and, for a
    /// changed value, the new pair. Scalars: the new value.
    pub fn diff(old: &Datum, new: &Datum, ty: &ColumnType) -> Datum {
        if !ty.is_map() && ty.max == 1 {
            return new.clone();
        }
        match (old, new) {
            (Datum::Set(a), Datum::Set(b)) => {
                let mut out = Vec::new();
                let (mut i, mut j) = (0, 0);
                while i < a.len() || j < b.len() {
                    if j >= b.len() || (i < a.len() && a[i] < b[j]) {
                        out.push(a[i].clone());
                        i += 1;
                    } else if i >= a.len() || b[j] < a[i] {
                        out.push(b[j].clone());
                        j += 1;
                    } else {
                        i += 1;
                        j += 1;
                    }
                }
                Datum::Set(out)
            }
            (Datum::Map(a), Datum::Map(b)) => {
                let mut out = Vec::new();
                let (mut i, mut j) = (0, 0);
                while i < a.len() || j < b.len() {
                    if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
                        out.push(a[i].clone());
                        i += 1;
                    } else if i >= a.len() || b[j].0 < a[i].0 {
                        out.push(b[j].clone());
                        j += 1;
                    } else {
                        if a[i].1 != b[j].1 {
                            out.push(b[j].clone());
                        }
                        i += 1;
                        j += 1;
                    }
                }
                Datum::Map(out)
            }
            _ => new.clone(),
        }
    }

    /// Applies an update2 diff (inverse of `diff`), used by the IDL.
    pub fn apply_diff(&mut self, d: &Datum, ty: &ColumnType) {
        if !ty.is_map() && ty.max == 1 {
            *self = d.clone();
            return;
        }
        match (self, d) {
            (Datum::Set(a), Datum::Set(b)) => {
                for x in b {
                    match a.binary_search(x) {
                        Ok(i) => {
                            a.remove(i);
                        }
                        Err(i) => a.insert(i, x.clone()),
                    }
                }
            }
            (Datum::Map(a), Datum::Map(b)) => {
                for (k, x) in b {
                    match a.binary_search_by(|p| p.0.cmp(k)) {
                        Ok(i) => {
                            if a[i].1 == *x {
                                a.remove(i);
                            } else {
                                a[i].1 = x.clone();
                            }
                        }
                        Err(i) => a.insert(i, (k.clone(), x.clone())),
                    }
                }
            }
            (s, _) => *s = d.clone(),
        }
    }
}

fn parse_checked(b: &BaseType, v: &Value, named: Named) -> Result<Atom> {
    let a = Atom::from_json(b.atype, v, named)?;
    b.check(&a)?;
    Ok(a)
}

fn set_members(v: &Value) -> Option<&Vec<Value>> {
    let a = v.as_array()?;
    if a.len() == 2 && a[0].as_str() == Some("set") {
        a[1].as_array()
    } else {
        None
    }
}

fn map_members(v: &Value) -> Option<&Vec<Value>> {
    let a = v.as_array()?;
    if a.len() == 2 && a[0].as_str() == Some("map") {
        a[1].as_array()
    } else {
        None
    }
}

/// Calls `f(table, uuid, strong, +1/-1)` for every reference that differs
/// between `old` and `new` (either may be absent), by a sorted merge, so an
/// update that adds one element to a large set costs one callback.
pub fn ref_changes(
    ty: &ColumnType,
    old: Option<&Datum>,
    new: Option<&Datum>,
    f: &mut dyn FnMut(usize, Uuid, bool, i64),
) {
    use crate::schema::RefType;
    let kref = ty
        .key
        .ref_table_index()
        .map(|t| (t, ty.key.ref_type == RefType::Strong));
    let vref = ty.value.as_ref().and_then(|v| {
        v.ref_table_index()
            .map(|t| (t, v.ref_type == RefType::Strong))
    });
    if kref.is_none() && vref.is_none() {
        return;
    }
    let empty = Datum::Set(Vec::new());
    let o = old.unwrap_or(&empty);
    let n = new.unwrap_or(&empty);
    let emit_key = |a: &Atom, d: i64, f: &mut dyn FnMut(usize, Uuid, bool, i64)| {
        if let (Some((t, s)), Some(u)) = (kref, a.as_uuid()) {
            f(t, u, s, d);
        }
    };
    let emit_val = |a: &Atom, d: i64, f: &mut dyn FnMut(usize, Uuid, bool, i64)| {
        if let (Some((t, s)), Some(u)) = (vref, a.as_uuid()) {
            f(t, u, s, d);
        }
    };
    match (o, n) {
        (Datum::Map(a), Datum::Map(b)) => {
            let (mut i, mut j) = (0, 0);
            while i < a.len() || j < b.len() {
                if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
                    emit_key(&a[i].0, -1, f);
                    emit_val(&a[i].1, -1, f);
                    i += 1;
                } else if i >= a.len() || b[j].0 < a[i].0 {
                    emit_key(&b[j].0, 1, f);
                    emit_val(&b[j].1, 1, f);
                    j += 1;
                } else {
                    if a[i].1 != b[j].1 {
                        emit_val(&a[i].1, -1, f);
                        emit_val(&b[j].1, 1, f);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        (Datum::Set(ka), Datum::Set(kb)) => {
            let (mut i, mut j) = (0, 0);
            while i < ka.len() && j < kb.len() {
                match ka[i].cmp(&kb[j]) {
                    std::cmp::Ordering::Less => {
                        emit_key(&ka[i], -1, f);
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        emit_key(&kb[j], 1, f);
                        j += 1;
                    }
                    std::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                    }
                }
            }
            for a in &ka[i..] {
                emit_key(a, -1, f);
            }
            for b in &kb[j..] {
                emit_key(b, 1, f);
            }
        }
        _ => {
            // A map against an empty default set.
            let ka: Vec<&Atom> = o.keys().collect();
            let kb: Vec<&Atom> = n.keys().collect();
            let (mut i, mut j) = (0, 0);
            while i < ka.len() || j < kb.len() {
                if j >= kb.len() || (i < ka.len() && ka[i] < kb[j]) {
                    emit_key(ka[i], -1, f);
                    i += 1;
                } else if i >= ka.len() || kb[j] < ka[i] {
                    emit_key(kb[j], 1, f);
                    j += 1;
                } else {
                    i += 1;
                    j += 1;
                }
            }
            for v in o.values() {
                emit_val(v, -1, f);
            }
            for v in n.values() {
                emit_val(v, 1, f);
            }
        }
    }
}
