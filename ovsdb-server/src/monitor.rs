//! Monitors (RFC 7047 section 4.1.5 and OVS's monitor_cond /
//! monitor_cond_since extensions): which tables, columns, kinds of change and
//! rows (conditions) a client follows, and the update/update2/update3 JSON
//! for a committed transaction.
//!
//! A monitor is parsed once into column indexes and compiled conditions; on
//! each commit only the changed rows are visited, and a row whose monitored
//! columns did not change produces nothing. update2 "modify" carries only
//! the difference of each changed column, which keeps notifications small
//! for big sets and maps.

use crate::commit::RowChange;
use crate::condition::Condition;
use crate::datum::Datum;
use crate::error::{OvsdbError, Result};
use crate::row::Row;
use crate::schema::{DatabaseSchema, TableSchema};
use crate::table::Db;
use serde_json::{Map, Value};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `monitor`: update with old/new.
    V1,
    /// `monitor_cond`: update2.
    V2,
    /// `monitor_cond_since`: update3.
    V3,
}

#[derive(Debug, Clone)]
pub struct MonTable {
    pub table: usize,
    pub cols: Vec<usize>,
    /// `_version` is monitored (named, or all columns asked for).
    pub version_col: bool,
    pub initial: bool,
    pub insert: bool,
    pub delete: bool,
    pub modify: bool,
    pub cond: Condition,
}

#[derive(Debug, Clone)]
pub struct Monitor {
    pub id: Value,
    pub db: usize,
    pub version: Version,
    pub tables: Vec<MonTable>,
}

fn parse_select(v: Option<&Value>) -> Result<(bool, bool, bool, bool)> {
    let Some(v) = v else {
        return Ok((true, true, true, true));
    };
    let o = v
        .as_object()
        .ok_or_else(|| OvsdbError::syntax("select must be an object"))?;
    let f = |k: &str| -> Result<bool> {
        match o.get(k) {
            None => Ok(true),
            Some(b) => b
                .as_bool()
                .ok_or_else(|| OvsdbError::syntax(format!("{k} must be a boolean"))),
        }
    };
    Ok((f("initial")?, f("insert")?, f("delete")?, f("modify")?))
}

/// Parses `{table: request-or-array}` monitor requests.
pub fn parse_requests(
    schema: &DatabaseSchema,
    v: &Value,
    version: Version,
) -> Result<Vec<MonTable>> {
    let o = v
        .as_object()
        .ok_or_else(|| OvsdbError::syntax("monitor requests must be an object"))?;
    let mut out: Vec<MonTable> = Vec::new();
    for (tname, reqs) in o {
        let t = schema
            .table(tname)
            .ok_or_else(|| OvsdbError::syntax(format!("no table named {tname}")))?;
        let ts = &schema.tables[t];
        let list: Vec<&Value> = match reqs {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut mt = MonTable {
            table: t,
            cols: Vec::new(),
            version_col: false,
            initial: false,
            insert: false,
            delete: false,
            modify: false,
            cond: Condition { clauses: vec![] },
        };
        if list.is_empty() {
            mt.cols = (0..ts.columns.len()).collect();
            mt.version_col = true;
            mt.initial = true;
            mt.insert = true;
            mt.delete = true;
            mt.modify = true;
        }
        // As OVS 3.1 does: the columns of all requests for a table add up
        // (naming one twice is an error), while only the first request's
        // "where" (none: every row) selects the rows.
        let mut seen = vec![false; ts.columns.len()];
        for (k, r) in list.into_iter().enumerate() {
            let ro = r
                .as_object()
                .ok_or_else(|| OvsdbError::syntax("monitor request must be an object"))?;
            let (i, ins, d, m) = parse_select(ro.get("select"))?;
            mt.initial |= i;
            mt.insert |= ins;
            mt.delete |= d;
            mt.modify |= m;
            let cj = ro.get("columns");
            let cols: Vec<usize> = match cj {
                None => {
                    mt.version_col = true;
                    (0..ts.columns.len()).collect()
                }
                Some(cj) => {
                    let ca = cj
                        .as_array()
                        .ok_or_else(|| OvsdbError::syntax("columns must be an array"))?;
                    let mut v = Vec::with_capacity(ca.len());
                    for c in ca {
                        let n = c
                            .as_str()
                            .ok_or_else(|| OvsdbError::syntax("column name expected"))?;
                        if n == "_version" {
                            mt.version_col = true;
                            continue;
                        }
                        v.push(ts.column(n).ok_or_else(|| {
                            OvsdbError::syntax(format!("{n} is not a valid column name"))
                        })?);
                    }
                    v
                }
            };
            for ci in cols {
                if std::mem::replace(&mut seen[ci], true) {
                    let details =
                        format!("column {} mentioned more than once", ts.columns[ci].name);
                    return Err(match cj {
                        Some(cj) => OvsdbError::syntax_in(cj, details),
                        None => OvsdbError::syntax(details),
                    });
                }
                mt.cols.push(ci);
            }
            if let Some(w) = ro.get("where") {
                if version == Version::V1 {
                    return Err(OvsdbError::syntax("\"where\" is not allowed in monitor"));
                }
                let mut none = |_: &str| None;
                let c = Condition::from_json(ts, w, &mut none)?;
                if k == 0 {
                    mt.cond = c;
                }
            }
        }
        mt.cols.sort_unstable();
        mt.cols.dedup();
        out.push(mt);
    }
    Ok(out)
}

/// The chosen columns of `r` (and its `_version` when `version`), as a row
/// object; `skip_default` leaves out columns holding their default.
fn row_cols(ts: &TableSchema, r: &Row, cols: &[usize], skip_default: bool, version: bool) -> Value {
    let mut m = Map::new();
    if version {
        m.insert("_version".into(), crate::row::uuid_json(&r.version));
    }
    for &c in cols {
        let d = &r.cols[c];
        if skip_default && *d == ts.defaults[c] {
            continue;
        }
        m.insert(ts.columns[c].name.clone(), d.to_json());
    }
    Value::Object(m)
}

impl Monitor {
    /// The initial contents (all matching rows), as the version's update form.
    pub fn initial(&self, db: &Db) -> Value {
        let mut out = Map::new();
        for mt in &self.tables {
            if !mt.initial {
                continue;
            }
            let ts = &db.schema.tables[mt.table];
            let mut rows = Map::new();
            for (u, r) in &db.tables[mt.table].rows {
                if !mt.cond.eval(u, r) {
                    continue;
                }
                rows.insert(crate::uuidgen::text(u), self.insert_json(ts, r, mt, true));
            }
            if !rows.is_empty() {
                out.insert(ts.name.clone(), Value::Object(rows));
            }
        }
        Value::Object(out)
    }

    fn insert_json(&self, ts: &TableSchema, r: &Row, mt: &MonTable, initial: bool) -> Value {
        let mut m = Map::new();
        match self.version {
            Version::V1 => {
                m.insert(
                    "new".into(),
                    row_cols(ts, r, &mt.cols, false, mt.version_col),
                );
            }
            _ => {
                m.insert(
                    if initial { "initial" } else { "insert" }.into(),
                    row_cols(ts, r, &mt.cols, true, mt.version_col),
                );
            }
        }
        Value::Object(m)
    }

    /// The update for a set of row changes (None if nothing to send).
    pub fn update(&self, schema: &DatabaseSchema, changes: &[RowChange]) -> Option<Value> {
        let mut out: Map<String, Value> = Map::new();
        for ch in changes {
            let Some(mt) = self.tables.iter().find(|m| m.table == ch.table) else {
                continue;
            };
            let ts = &schema.tables[ch.table];
            if let Some(j) = self.row_update(ts, mt, &ch.uuid, ch.old.as_deref(), ch.new.as_deref())
            {
                out.entry(ts.name.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .map(|o| o.insert(crate::uuidgen::text(&ch.uuid), j));
            }
        }
        if out.is_empty() {
            None
        } else {
            Some(Value::Object(out))
        }
    }

    /// The update for one row going from `old` to `new`, or None.
    pub fn row_update(
        &self,
        ts: &TableSchema,
        mt: &MonTable,
        u: &Uuid,
        old: Option<&Row>,
        new: Option<&Row>,
    ) -> Option<Value> {
        let om = old.filter(|r| mt.cond.eval(u, r));
        let nm = new.filter(|r| mt.cond.eval(u, r));
        let mut m = Map::new();
        match (om, nm) {
            (None, None) => return None,
            (None, Some(n)) => {
                if !mt.insert {
                    return None;
                }
                return Some(self.insert_json(ts, n, mt, false));
            }
            (Some(o), None) => {
                if !mt.delete {
                    return None;
                }
                match self.version {
                    Version::V1 => {
                        m.insert(
                            "old".into(),
                            row_cols(ts, o, &mt.cols, false, mt.version_col),
                        );
                    }
                    _ => {
                        m.insert("delete".into(), Value::Null);
                    }
                }
            }
            (Some(o), Some(n)) => {
                if !mt.modify {
                    return None;
                }
                let changed: Vec<usize> = mt
                    .cols
                    .iter()
                    .copied()
                    .filter(|&c| o.cols[c] != n.cols[c])
                    .collect();
                let new_version = mt.version_col && o.version != n.version;
                if changed.is_empty() && !new_version {
                    return None;
                }
                match self.version {
                    Version::V1 => {
                        m.insert("old".into(), row_cols(ts, o, &changed, false, new_version));
                        m.insert(
                            "new".into(),
                            row_cols(ts, n, &mt.cols, false, mt.version_col),
                        );
                    }
                    _ => {
                        let mut d = Map::new();
                        if new_version {
                            d.insert("_version".into(), crate::row::uuid_json(&n.version));
                        }
                        for c in changed {
                            let ty = &ts.columns[c].ty;
                            d.insert(
                                ts.columns[c].name.clone(),
                                Datum::diff(&o.cols[c], &n.cols[c], ty).to_json(),
                            );
                        }
                        m.insert("modify".into(), Value::Object(d));
                    }
                }
            }
        }
        Some(Value::Object(m))
    }

    /// The notification method name.
    pub fn method(&self) -> &'static str {
        match self.version {
            Version::V1 => "update",
            Version::V2 => "update2",
            Version::V3 => "update3",
        }
    }
}
