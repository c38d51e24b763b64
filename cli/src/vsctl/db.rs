//! The database as `vsctl` sees it during one invocation: every table's
//! rows read with one `transact` of selects, changed in memory by the
//! commands in order (so `add-port br0 p1 -- set Interface p1 ...` finds
//! the port it just made), then written back as one transaction holding
//! only the differences: inserts of new rows, updates of changed columns,
//! deletes of rows of root tables (rows of other tables go away with their
//! last reference, by the server's garbage collection).
//!
//! New rows get a random uuid here; in the transaction they are named
//! (`uuid-name`) and every reference to them is written as `named-uuid`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context;
use ovsdb::atom::Atom;
use ovsdb::datum::Datum;
use ovsdb::schema::{DatabaseSchema, TableSchema};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::symbols::Symbols;
use crate::jsonrpc::Client;

pub struct Row {
    pub uuid: Uuid,
    pub cols: Vec<Datum>,
    pub new: bool,
    pub changed: BTreeSet<usize>,
    pub deleted: bool,
}

pub struct Db {
    pub schema: Arc<DatabaseSchema>,
    /// Rows per table index.
    pub rows: Vec<Vec<Row>>,
    /// The `@name`s of this invocation.
    pub symbols: Symbols,
}

pub const DB_NAME: &str = "Open_vSwitch";

impl Db {
    pub fn load(c: &mut Client) -> anyhow::Result<Db> {
        let schema = ovsdb::vswitch_schema();
        let mut ops = vec![json!(DB_NAME)];
        for t in &schema.tables {
            ops.push(json!({"op": "select", "table": t.name, "where": []}));
        }
        let r = c.call("transact", Value::Array(ops))?;
        if !r["error"].is_null() {
            anyhow::bail!("reading the database: {}", r["error"]);
        }
        let mut rows = Vec::new();
        for (i, t) in schema.tables.iter().enumerate() {
            let res = &r["result"][i];
            let list = res["rows"]
                .as_array()
                .with_context(|| format!("select {}: {res}", t.name))?;
            let mut out = Vec::new();
            for row in list {
                let uuid = row["_uuid"][1]
                    .as_str()
                    .and_then(ovsdb::atom::parse_uuid)
                    .context("row without _uuid")?;
                let mut cols = Vec::with_capacity(t.columns.len());
                for c in &t.columns {
                    let d = match row.get(&c.name) {
                        Some(v) => Datum::from_json(&c.ty, v, &mut |_| None, true)
                            .map_err(|e| anyhow::anyhow!("{}.{}: {e}", t.name, c.name))?,
                        None => Datum::default_for(&c.ty),
                    };
                    cols.push(d);
                }
                out.push(Row {
                    uuid,
                    cols,
                    new: false,
                    changed: BTreeSet::new(),
                    deleted: false,
                });
            }
            out.sort_by_key(|r| r.uuid);
            rows.push(out);
        }
        Ok(Db {
            schema,
            rows,
            symbols: Symbols::default(),
        })
    }

    /// The table's index, matching OVS: exact name, else a unique
    /// case-insensitive prefix.
    pub fn table(&self, name: &str) -> Result<usize, String> {
        if let Some(i) = self.schema.table(name) {
            return Ok(i);
        }
        let low = name.to_ascii_lowercase();
        let m: Vec<usize> = (0..self.schema.tables.len())
            .filter(|&i| {
                self.schema.tables[i]
                    .name
                    .to_ascii_lowercase()
                    .starts_with(&low)
            })
            .collect();
        match m.as_slice() {
            [i] => Ok(*i),
            [] => Err(format!("unknown table \"{name}\"")),
            _ => Err(format!("multiple table names match \"{name}\"")),
        }
    }

    pub fn ts(&self, t: usize) -> &TableSchema {
        &self.schema.tables[t]
    }

    /// The column's index: exact name, else a unique prefix.
    pub fn column(&self, t: usize, name: &str) -> Result<usize, String> {
        let ts = self.ts(t);
        if let Some(i) = ts.column(name) {
            return Ok(i);
        }
        let m: Vec<usize> = (0..ts.columns.len())
            .filter(|&i| ts.columns[i].name.starts_with(name))
            .collect();
        match m.as_slice() {
            [i] if !name.is_empty() => Ok(*i),
            _ => Err(format!(
                "{} does not contain a column whose name matches \"{name}\"",
                ts.name
            )),
        }
    }

    pub fn live(&self, t: usize) -> impl Iterator<Item = (usize, &Row)> {
        self.rows[t].iter().enumerate().filter(|(_, r)| !r.deleted)
    }

    /// The string value of scalar string column `col` of a row.
    pub fn str_of<'a>(&'a self, t: usize, r: usize, col: &str) -> Option<&'a str> {
        let c = self.ts(t).column(col)?;
        self.rows[t][r].cols[c].first()?.as_str()
    }

    pub fn by_uuid(&self, t: usize, u: Uuid) -> Option<usize> {
        self.live(t).find(|(_, r)| r.uuid == u).map(|(i, _)| i)
    }

    /// The row of table `t` whose `col` is the string `v`.
    pub fn by_str(&self, t: usize, col: &str, v: &str) -> Option<usize> {
        let c = self.ts(t).column(col)?;
        self.live(t)
            .find(|(_, r)| r.cols[c].first().and_then(Atom::as_str) == Some(v))
            .map(|(i, _)| i)
    }

    pub fn uuids(&self, t: usize, r: usize, col: &str) -> Vec<Uuid> {
        let Some(c) = self.ts(t).column(col) else {
            return Vec::new();
        };
        self.rows[t][r].cols[c]
            .keys()
            .filter_map(Atom::as_uuid)
            .collect()
    }

    pub fn set(&mut self, t: usize, r: usize, c: usize, d: Datum) {
        let row = &mut self.rows[t][r];
        if row.cols[c] != d {
            row.cols[c] = d;
            row.changed.insert(c);
        }
    }

    pub fn set_named(&mut self, t: usize, r: usize, col: &str, d: Datum) {
        let c = self.ts(t).column(col).expect("schema column");
        self.set(t, r, c, d);
    }

    /// Adds `u` to the set column `col`.
    pub fn add_ref(&mut self, t: usize, r: usize, col: &str, u: Uuid) {
        let c = self.ts(t).column(col).expect("schema column");
        let mut d = self.rows[t][r].cols[c].clone();
        d.union(&Datum::Set(vec![Atom::Uuid(u)]));
        self.set(t, r, c, d);
    }

    /// Removes `u` from the set column `col`.
    pub fn remove_ref(&mut self, t: usize, r: usize, col: &str, u: Uuid) {
        let c = self.ts(t).column(col).expect("schema column");
        let mut d = self.rows[t][r].cols[c].clone();
        d.remove_keys(&[Atom::Uuid(u)]);
        self.set(t, r, c, d);
    }

    /// A new row of table `t` with `values` (other columns at their defaults).
    pub fn insert(&mut self, t: usize, values: Vec<(&str, Datum)>) -> Uuid {
        self.insert_as(t, Uuid::new_v4(), values)
    }

    /// A new row with the uuid given (that of an `@name`).
    pub fn insert_as(&mut self, t: usize, uuid: Uuid, values: Vec<(&str, Datum)>) -> Uuid {
        let ts = self.ts(t);
        let mut cols: Vec<Datum> = ts
            .columns
            .iter()
            .map(|c| Datum::default_for(&c.ty))
            .collect();
        let mut changed = BTreeSet::new();
        for (n, d) in values {
            let c = ts.column(n).expect("schema column");
            cols[c] = d;
            changed.insert(c);
        }
        self.rows[t].push(Row {
            uuid,
            cols,
            new: true,
            changed,
            deleted: false,
        });
        uuid
    }

    pub fn delete(&mut self, t: usize, r: usize) {
        self.rows[t][r].deleted = true;
    }

    pub fn dirty(&self) -> bool {
        self.rows
            .iter()
            .flatten()
            .any(|r| (r.new && !r.deleted) || (!r.new && (r.deleted || !r.changed.is_empty())))
    }

    /// The uuids the server gave the rows inserted by `ops` (its reply's
    /// `result`): (uuid here, uuid there).
    pub fn inserted(ops: &[Value], result: &Value) -> Vec<(Uuid, Uuid)> {
        ops.iter()
            .enumerate()
            .filter_map(|(i, op)| {
                let here = op["uuid-name"].as_str()?.strip_prefix("row")?;
                let here = Uuid::parse_str(here).ok()?;
                let there = result[i]["uuid"][1]
                    .as_str()
                    .and_then(ovsdb::atom::parse_uuid)?;
                Some((here, there))
            })
            .collect()
    }

    /// The transaction's operations (after the database name).
    pub fn ops(&self) -> Vec<Value> {
        let names: BTreeMap<Uuid, String> = self
            .rows
            .iter()
            .flatten()
            .filter(|r| r.new)
            .map(|r| (r.uuid, format!("row{}", r.uuid.simple())))
            .collect();
        let atom_json = |a: &Atom| match a {
            Atom::Uuid(u) if names.contains_key(u) => json!(["named-uuid", names[u]]),
            a => a.to_json(),
        };
        let datum_json = |d: &Datum| match d {
            Datum::Set(v) if v.len() == 1 => atom_json(&v[0]),
            Datum::Set(v) => json!(["set", v.iter().map(atom_json).collect::<Vec<_>>()]),
            Datum::Map(v) => json!([
                "map",
                v.iter()
                    .map(|(k, x)| json!([atom_json(k), atom_json(x)]))
                    .collect::<Vec<_>>()
            ]),
        };
        let mut ops = Vec::new();
        for (t, rows) in self.rows.iter().enumerate() {
            let ts = self.ts(t);
            for r in rows {
                let mut row = Map::new();
                for &c in &r.changed {
                    row.insert(ts.columns[c].name.clone(), datum_json(&r.cols[c]));
                }
                let w = json!([["_uuid", "==", ["uuid", r.uuid.to_string()]]]);
                if r.new && !r.deleted {
                    ops.push(json!({"op": "insert", "table": ts.name, "row": row,
                                    "uuid-name": names[&r.uuid]}));
                } else if !r.new && r.deleted {
                    if ts.is_root {
                        ops.push(json!({"op": "delete", "table": ts.name, "where": w}));
                    }
                } else if !r.new && !r.changed.is_empty() {
                    ops.push(json!({"op": "update", "table": ts.name, "where": w, "row": row}));
                }
            }
        }
        ops
    }
}
