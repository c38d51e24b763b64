//! Applying a prepared transaction to the database, producing the
//! `Committed` record that monitors, the log and the transaction history use.
//!
//! Each changed row gets a fresh `_version`; old and new images are kept as
//! `Arc<Row>` so that every consumer shares them without copying.

use crate::datum::Datum;
use crate::row::Row;
use crate::schema::DatabaseSchema;
use crate::table::Db;
use crate::transaction::Prepared;
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// One row's change in a committed transaction.
#[derive(Debug, Clone)]
pub struct RowChange {
    pub table: usize,
    pub uuid: Uuid,
    pub old: Option<Arc<Row>>,
    pub new: Option<Arc<Row>>,
}

/// A committed transaction.
#[derive(Debug)]
pub struct Committed {
    pub txn_id: Uuid,
    pub changes: Vec<RowChange>,
    pub durable: bool,
    pub comment: Option<String>,
}

/// Installs `p` into `db`.
pub fn apply(db: &mut Db, p: Prepared) -> Committed {
    let mut changes = Vec::with_capacity(p.changes.len());
    db.apply_ref_delta(&p.ref_delta);
    for (t, u, old, new) in p.changes {
        let new = new.map(|mut r| {
            r.version = crate::uuidgen::fresh();
            Arc::new(r)
        });
        db.put_row_no_refs(t, u, new.clone());
        changes.push(RowChange {
            table: t,
            uuid: u,
            old,
            new,
        });
    }
    Committed {
        txn_id: crate::uuidgen::fresh(),
        changes,
        durable: p.durable,
        comment: p.comment,
    }
}

/// Whether column `c` of table `t` is written to disk.
pub fn persistent(schema: &DatabaseSchema, t: usize, c: usize) -> bool {
    let col = &schema.tables[t].columns[c];
    if !col.ephemeral {
        return true;
    }
    // A strong reference to a non-root table must persist, or replaying the
    // log would garbage-collect the referenced row.
    std::iter::once(&col.ty.key)
        .chain(col.ty.value.as_ref())
        .any(|b| {
            b.ref_type == crate::schema::RefType::Strong
                && b.ref_table_index()
                    .is_some_and(|rt| !schema.tables[rt].is_root)
        })
}

/// The log record of a committed transaction (None if nothing persistent
/// changed): `{"Table": {"uuid": row-or-null}, "_date": ms, "_comment": ..}`.
pub fn log_record(schema: &DatabaseSchema, c: &Committed, date_ms: u64) -> Option<Value> {
    let mut tables: Map<String, Value> = Map::new();
    for ch in &c.changes {
        let ts = &schema.tables[ch.table];
        let rowj = match (&ch.old, &ch.new) {
            (_, None) => Value::Null,
            (old, Some(n)) => {
                let mut m = Map::new();
                for (ci, d) in n.cols.iter().enumerate() {
                    if !persistent(schema, ch.table, ci) {
                        continue;
                    }
                    match old {
                        Some(o) => {
                            let ty = &ts.columns[ci].ty;
                            if !ty.is_map() && ty.max == 1 {
                                if o.cols[ci] != *d {
                                    m.insert(ts.columns[ci].name.clone(), d.to_json());
                                }
                            } else {
                                // One merge both detects and encodes the change.
                                let diff = Datum::diff(&o.cols[ci], d, ty);
                                if !diff.is_empty() {
                                    m.insert(ts.columns[ci].name.clone(), diff.to_json());
                                }
                            }
                        }
                        None if *d != ts.defaults[ci] => {
                            m.insert(ts.columns[ci].name.clone(), d.to_json());
                        }
                        _ => {}
                    }
                }
                if old.is_some() && m.is_empty() {
                    continue;
                }
                Value::Object(m)
            }
        };
        tables
            .entry(ts.name.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .map(|o| o.insert(crate::uuidgen::text(&ch.uuid), rowj));
    }
    if tables.is_empty() {
        return None;
    }
    tables.insert("_date".into(), Value::from(date_ms));
    // Modified columns are written as update2-style diffs, as OVS 3.x does.
    tables.insert("_is_diff".into(), Value::Bool(true));
    if let Some(cm) = &c.comment {
        tables.insert("_comment".into(), Value::String(cm.clone()));
    }
    Some(Value::Object(tables))
}

/// A snapshot record holding every row (for compaction).
pub fn snapshot_record(db: &Db, date_ms: u64) -> Value {
    let schema = &db.schema;
    let mut tables: Map<String, Value> = Map::new();
    for (t, ts) in schema.tables.iter().enumerate() {
        if db.tables[t].rows.is_empty() {
            continue;
        }
        let mut rows = Map::new();
        for (u, r) in &db.tables[t].rows {
            let mut m = Map::new();
            for (ci, d) in r.cols.iter().enumerate() {
                if persistent(schema, t, ci) && *d != ts.defaults[ci] {
                    m.insert(ts.columns[ci].name.clone(), d.to_json());
                }
            }
            rows.insert(crate::uuidgen::text(u), Value::Object(m));
        }
        tables.insert(ts.name.clone(), Value::Object(rows));
    }
    tables.insert("_date".into(), Value::from(date_ms));
    tables.insert(
        "_comment".into(),
        Value::String("compacting database online".into()),
    );
    Value::Object(tables)
}
