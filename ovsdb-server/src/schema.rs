//! Database schemas (RFC 7047 section 3.2): tables, columns, column types and
//! their constraints.
//!
//! A schema is parsed once and then only read. Columns of a table are kept in
//! a vector sorted by name and addressed by index everywhere else (rows store
//! one datum per column index), so the hot paths never hash column names.
//! The original JSON is kept for the log file; `get_schema` and `_Server`
//! publish the canonical form OVS publishes (defaults left out).

use crate::atom::{Atom, AtomicType};
use crate::error::{OvsdbError, Result};
use serde_json::Value;
use std::collections::HashMap;

/// Strength of a reference to another table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    Strong,
    Weak,
}

/// The type of a key or value with its constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    pub atype: AtomicType,
    /// Allowed values, sorted (for `"enum"`).
    pub enums: Option<Vec<Atom>>,
    pub min_integer: Option<i64>,
    pub max_integer: Option<i64>,
    pub min_real: Option<f64>,
    pub max_real: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// Referenced table name and its index in the schema.
    pub ref_table: Option<(String, usize)>,
    pub ref_type: RefType,
}

impl BaseType {
    fn simple(atype: AtomicType) -> Self {
        BaseType {
            atype,
            enums: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: RefType::Strong,
        }
    }

    fn from_json(v: &Value) -> Result<Self> {
        if let Some(s) = v.as_str() {
            let t = AtomicType::from_name(s)
                .ok_or_else(|| OvsdbError::syntax(format!("unknown atomic type \"{s}\"")))?;
            return Ok(Self::simple(t));
        }
        let o = v
            .as_object()
            .ok_or_else(|| OvsdbError::syntax("base type expected"))?;
        let tname = o
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| OvsdbError::syntax("base type requires \"type\""))?;
        let atype = AtomicType::from_name(tname)
            .ok_or_else(|| OvsdbError::syntax(format!("unknown atomic type \"{tname}\"")))?;
        let mut b = Self::simple(atype);
        if let Some(e) = o.get("enum") {
            let mut none = |_: &str| None;
            let d = crate::datum::Datum::from_json_set(atype, e, &mut none)?;
            b.enums = Some(d);
        }
        let int = |k: &str| -> Result<Option<i64>> {
            match o.get(k) {
                None => Ok(None),
                Some(x) => x
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| OvsdbError::syntax(format!("\"{k}\" must be an integer"))),
            }
        };
        let real = |k: &str| -> Result<Option<f64>> {
            match o.get(k) {
                None => Ok(None),
                Some(x) => x
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| OvsdbError::syntax(format!("\"{k}\" must be a number"))),
            }
        };
        match atype {
            AtomicType::Integer => {
                b.min_integer = int("minInteger")?;
                b.max_integer = int("maxInteger")?;
            }
            AtomicType::Real => {
                b.min_real = real("minReal")?;
                b.max_real = real("maxReal")?;
            }
            AtomicType::String => {
                b.min_length = int("minLength")?.map(|x| x.max(0) as u64);
                b.max_length = int("maxLength")?.map(|x| x.max(0) as u64);
            }
            AtomicType::Uuid => {
                if let Some(rt) = o.get("refTable") {
                    let name = rt
                        .as_str()
                        .ok_or_else(|| OvsdbError::syntax("refTable must be a string"))?;
                    b.ref_table = Some((name.to_string(), usize::MAX));
                    b.ref_type = match o.get("refType").and_then(Value::as_str) {
                        None | Some("strong") => RefType::Strong,
                        Some("weak") => RefType::Weak,
                        Some(other) => {
                            return Err(OvsdbError::syntax(format!("unknown refType \"{other}\"")))
                        }
                    };
                }
            }
            AtomicType::Boolean => {}
        }
        Ok(b)
    }

    /// Checks `a` against this type's constraints.
    pub fn check(&self, a: &Atom) -> Result<()> {
        if let Some(e) = &self.enums {
            if e.binary_search(a).is_err() {
                return Err(OvsdbError::constraint(format!(
                    "{a} is not one of the allowed values ({})",
                    e.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        match a {
            Atom::Integer(i)
                if self.min_integer.is_some_and(|m| *i < m)
                    || self.max_integer.is_some_and(|m| *i > m) =>
            {
                return Err(OvsdbError::constraint(format!(
                    "{i} is not in the valid range {} to {} (inclusive)",
                    self.min_integer.unwrap_or(i64::MIN),
                    self.max_integer.unwrap_or(i64::MAX)
                )));
            }
            Atom::Real(r)
                if self.min_real.is_some_and(|m| *r < m)
                    || self.max_real.is_some_and(|m| *r > m) =>
            {
                return Err(OvsdbError::constraint(format!(
                    "{r} is not in the valid range"
                )));
            }
            Atom::String(s) if self.min_length.is_some() || self.max_length.is_some() => {
                let n = s.chars().count() as u64;
                if self.min_length.is_some_and(|m| n < m) || self.max_length.is_some_and(|m| n > m)
                {
                    return Err(OvsdbError::constraint(format!(
                        "\"{s}\" length {n} is not in the valid range"
                    )));
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub fn ref_table_index(&self) -> Option<usize> {
        self.ref_table.as_ref().map(|(_, i)| *i)
    }
}

/// A column type: key, optional value (a map), and cardinality.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    pub key: BaseType,
    pub value: Option<BaseType>,
    pub min: u64,
    /// `u64::MAX` for "unlimited".
    pub max: u64,
}

impl ColumnType {
    fn from_json(v: &Value) -> Result<Self> {
        if v.is_string() {
            return Ok(ColumnType {
                key: BaseType::from_json(v)?,
                value: None,
                min: 1,
                max: 1,
            });
        }
        let o = v
            .as_object()
            .ok_or_else(|| OvsdbError::syntax("column type expected"))?;
        let key = BaseType::from_json(
            o.get("key")
                .ok_or_else(|| OvsdbError::syntax("type requires \"key\""))?,
        )?;
        let value = o.get("value").map(BaseType::from_json).transpose()?;
        let min = match o.get("min") {
            None => 1,
            Some(m) => m.as_u64().ok_or_else(|| OvsdbError::syntax("bad min"))?,
        };
        let max = match o.get("max") {
            None => 1,
            Some(Value::String(s)) if s == "unlimited" => u64::MAX,
            Some(m) => m.as_u64().ok_or_else(|| OvsdbError::syntax("bad max"))?,
        };
        if min > 1 || max < 1 || min > max {
            return Err(OvsdbError::syntax(format!(
                "ovsdb type fails constraint checks (min {min}, max {max})"
            )));
        }
        Ok(ColumnType {
            key,
            value,
            min,
            max,
        })
    }

    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }
    pub fn is_scalar(&self) -> bool {
        self.value.is_none() && self.min == 1 && self.max == 1
    }
    pub fn is_optional_or_set(&self) -> bool {
        !(self.min == 1 && self.max == 1)
    }
    /// Whether key or value references another table.
    pub fn has_refs(&self) -> bool {
        self.key.ref_table.is_some() || self.value.as_ref().is_some_and(|v| v.ref_table.is_some())
    }
}

/// One column.
#[derive(Debug, Clone)]
pub struct ColumnSchema {
    pub name: String,
    pub ty: ColumnType,
    pub ephemeral: bool,
    pub mutable: bool,
}

/// Hasher for the schema's name maps (FxHash-style: a multiply and rotate
/// per 8 bytes). Those maps are built once from the schema and never grow,
/// so a client-chosen name can only cost its own lookup: no flooding, and
/// no SipHash on every table and column name of every request.
#[derive(Default, Clone, Copy)]
pub struct NameHasher(u64);
impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
}
/// Map from a schema name (table or column) to its index.
pub type NameMap = HashMap<String, usize, std::hash::BuildHasherDefault<NameHasher>>;

/// One table.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub name: String,
    /// Sorted by name.
    pub columns: Vec<ColumnSchema>,
    pub col_index: NameMap,
    pub max_rows: Option<u64>,
    pub is_root: bool,
    /// Each index is a list of column indexes.
    pub indexes: Vec<Vec<usize>>,
    /// The default datum of each column, shared by every row that has it.
    pub defaults: Vec<std::sync::Arc<crate::datum::Datum>>,
}

impl TableSchema {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.col_index.get(name).copied()
    }
}

/// A whole database schema.
#[derive(Debug, Clone)]
pub struct DatabaseSchema {
    pub name: String,
    pub version: String,
    pub cksum: Option<String>,
    /// Sorted by name.
    pub tables: Vec<TableSchema>,
    pub table_index: NameMap,
    /// The schema as given, for the log.
    pub json: Value,
    /// The canonical form (see `to_canonical_json`), for `get_schema`.
    pub canonical: Value,
    /// `canonical` as text (the `_Server` Database.schema column).
    pub json_text: String,
}

pub fn valid_id(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

impl DatabaseSchema {
    pub fn table(&self, name: &str) -> Option<usize> {
        self.table_index.get(name).copied()
    }

    pub fn from_json(v: &Value) -> Result<Self> {
        let o = v
            .as_object()
            .ok_or_else(|| OvsdbError::syntax("schema must be an object"))?;
        let name = o
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| OvsdbError::syntax("schema requires \"name\""))?
            .to_string();
        if !valid_id(&name) {
            return Err(OvsdbError::syntax("name must be a valid id"));
        }
        let version = o
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let cksum = o.get("cksum").and_then(Value::as_str).map(str::to_string);
        let tj = o
            .get("tables")
            .and_then(Value::as_object)
            .ok_or_else(|| OvsdbError::syntax("schema requires \"tables\" object"))?;
        let mut names: Vec<&String> = tj.keys().collect();
        names.sort();
        let mut tables = Vec::new();
        for tname in names {
            if !valid_id(tname) || tname.starts_with('_') {
                return Err(OvsdbError::syntax(format!(
                    "invalid table name \"{tname}\""
                )));
            }
            tables.push(Self::table_from_json(tname, &tj[tname])?);
        }
        if !tables.iter().any(|t| t.is_root) {
            for t in &mut tables {
                t.is_root = true;
            }
        }
        let table_index: NameMap = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        for t in &mut tables {
            for c in &mut t.columns {
                for b in std::iter::once(&mut c.ty.key).chain(c.ty.value.as_mut()) {
                    if let Some((rn, idx)) = &mut b.ref_table {
                        *idx = *table_index.get(rn.as_str()).ok_or_else(|| {
                            OvsdbError::syntax(format!(
                                "column {} in table {} refers to undefined table {rn}",
                                c.name, t.name
                            ))
                        })?;
                    }
                }
            }
        }
        let mut schema = DatabaseSchema {
            name,
            version,
            cksum,
            tables,
            table_index,
            json: v.clone(),
            canonical: Value::Null,
            json_text: String::new(),
        };
        schema.canonical = schema.to_canonical_json();
        schema.json_text = schema.canonical.to_string();
        Ok(schema)
    }

    fn table_from_json(name: &str, v: &Value) -> Result<TableSchema> {
        let o = v
            .as_object()
            .ok_or_else(|| OvsdbError::syntax("table must be an object"))?;
        let cj = o
            .get("columns")
            .and_then(Value::as_object)
            .ok_or_else(|| OvsdbError::syntax(format!("table {name} requires \"columns\"")))?;
        let mut cnames: Vec<&String> = cj.keys().collect();
        cnames.sort();
        let mut columns = Vec::new();
        for cn in cnames {
            if cn.starts_with('_') || !valid_id(cn) {
                return Err(OvsdbError::syntax(format!("invalid column name \"{cn}\"")));
            }
            let c = cj[cn]
                .as_object()
                .ok_or_else(|| OvsdbError::syntax("column must be an object"))?;
            let ty = ColumnType::from_json(
                c.get("type")
                    .ok_or_else(|| OvsdbError::syntax("column requires \"type\""))?,
            )?;
            columns.push(ColumnSchema {
                name: cn.clone(),
                ty,
                ephemeral: c.get("ephemeral").and_then(Value::as_bool).unwrap_or(false),
                mutable: c.get("mutable").and_then(Value::as_bool).unwrap_or(true),
            });
        }
        let col_index: NameMap = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let max_rows = match o.get("maxRows") {
            None => None,
            Some(m) => Some(
                m.as_u64()
                    .filter(|x| *x >= 1)
                    .ok_or_else(|| OvsdbError::syntax("maxRows must be a positive integer"))?,
            ),
        };
        let mut indexes = Vec::new();
        if let Some(ix) = o.get("indexes") {
            let ix = ix
                .as_array()
                .ok_or_else(|| OvsdbError::syntax("indexes must be an array"))?;
            for one in ix {
                let one = one
                    .as_array()
                    .ok_or_else(|| OvsdbError::syntax("index must be an array"))?;
                let mut cols = Vec::new();
                for c in one {
                    let cn = c
                        .as_str()
                        .ok_or_else(|| OvsdbError::syntax("index column must be a string"))?;
                    let ci = *col_index.get(cn).ok_or_else(|| {
                        OvsdbError::syntax(format!(
                            "table {name} index refers to unknown column {cn}"
                        ))
                    })?;
                    cols.push(ci);
                }
                if cols.is_empty() {
                    return Err(OvsdbError::syntax("index must have at least one column"));
                }
                indexes.push(cols);
            }
        }
        let defaults = columns
            .iter()
            .map(|c| std::sync::Arc::new(crate::datum::Datum::default_for(&c.ty)))
            .collect();
        Ok(TableSchema {
            defaults,
            name: name.to_string(),
            columns,
            col_index,
            max_rows,
            is_root: o.get("isRoot").and_then(Value::as_bool).unwrap_or(false),
            indexes,
        })
    }
}

/// Builds `{"name": .., "tables": ..}` JSON of a schema (just the original).
pub fn schema_json(s: &DatabaseSchema) -> Value {
    s.json.clone()
}

/// The canonical JSON form of a schema, as OVS's servers publish it in
/// `_Server`'s `Database.schema` column and answer `get_schema`: every
/// default left out (`min`/`max` of 1, `refType` strong, `mutable` true,
/// `ephemeral` false), a constraint-free scalar type written as its atomic
/// type name, and `isRoot` only where it differs from the schema's default
/// (all tables are roots when no table says `isRoot`).
impl DatabaseSchema {
    pub fn to_canonical_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("name".into(), Value::from(self.name.as_str()));
        if !self.version.is_empty() {
            o.insert("version".into(), Value::from(self.version.as_str()));
        }
        if let Some(c) = self.cksum.as_deref().filter(|c| !c.is_empty()) {
            o.insert("cksum".into(), Value::from(c));
        }
        let default_is_root = self.tables.iter().all(|t| t.is_root);
        let tables = self
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.to_canonical_json(default_is_root)))
            .collect();
        o.insert("tables".into(), Value::Object(tables));
        Value::Object(o)
    }
}

impl TableSchema {
    fn to_canonical_json(&self, default_is_root: bool) -> Value {
        let mut o = serde_json::Map::new();
        if self.is_root != default_is_root {
            o.insert("isRoot".into(), Value::Bool(self.is_root));
        }
        let cols = self
            .columns
            .iter()
            .map(|c| {
                let mut co = serde_json::Map::new();
                if !c.mutable {
                    co.insert("mutable".into(), Value::Bool(false));
                }
                if c.ephemeral {
                    co.insert("ephemeral".into(), Value::Bool(true));
                }
                co.insert("type".into(), c.ty.to_canonical_json());
                (c.name.clone(), Value::Object(co))
            })
            .collect();
        o.insert("columns".into(), Value::Object(cols));
        if let Some(m) = self.max_rows {
            o.insert("maxRows".into(), Value::from(m));
        }
        if !self.indexes.is_empty() {
            let ix = self
                .indexes
                .iter()
                .map(|cols| {
                    Value::Array(
                        cols.iter()
                            .map(|&ci| Value::from(self.columns[ci].name.as_str()))
                            .collect(),
                    )
                })
                .collect();
            o.insert("indexes".into(), Value::Array(ix));
        }
        Value::Object(o)
    }
}

impl ColumnType {
    fn to_canonical_json(&self) -> Value {
        if self.is_scalar() && !self.key.has_constraints() {
            return self.key.to_canonical_json();
        }
        let mut o = serde_json::Map::new();
        o.insert("key".into(), self.key.to_canonical_json());
        if let Some(v) = &self.value {
            o.insert("value".into(), v.to_canonical_json());
        }
        if self.min != 1 {
            o.insert("min".into(), Value::from(self.min));
        }
        if self.max == u64::MAX {
            o.insert("max".into(), Value::from("unlimited"));
        } else if self.max != 1 {
            o.insert("max".into(), Value::from(self.max));
        }
        Value::Object(o)
    }
}

impl BaseType {
    fn has_constraints(&self) -> bool {
        self.enums.is_some()
            || self.min_integer.is_some()
            || self.max_integer.is_some()
            || self.min_real.is_some()
            || self.max_real.is_some()
            || self.min_length.is_some()
            || self.max_length.is_some()
            || self.ref_table.is_some()
    }

    fn to_canonical_json(&self) -> Value {
        let tname = Value::from(self.atype.name());
        if !self.has_constraints() {
            return tname;
        }
        let mut o = serde_json::Map::new();
        o.insert("type".into(), tname);
        if let Some(e) = &self.enums {
            o.insert("enum".into(), crate::datum::Datum::Set(e.clone()).to_json());
        }
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                o.insert(k.into(), v);
            }
        };
        put("minInteger", self.min_integer.map(Value::from));
        put("maxInteger", self.max_integer.map(Value::from));
        put("minReal", self.min_real.map(Value::from));
        put("maxReal", self.max_real.map(Value::from));
        put("minLength", self.min_length.map(Value::from));
        put("maxLength", self.max_length.map(Value::from));
        if let Some((t, _)) = &self.ref_table {
            put("refTable", Some(Value::from(t.as_str())));
            if self.ref_type == RefType::Weak {
                put("refType", Some(Value::from("weak")));
            }
        }
        Value::Object(o)
    }
}
