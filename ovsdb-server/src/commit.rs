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

/// Writes the JSON text of `log_record(schema, c, date_ms)` into `out`
/// straight from the rows, without the temporary object tree (member order
/// as there: tables in order of first change, rows in change order,
/// columns in schema order). Returns false, leaving `out` as it was, when
/// `log_record` would give None.
pub fn write_log_record(
    schema: &DatabaseSchema,
    c: &Committed,
    date_ms: u64,
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    out.push(b'{');
    let mut any_table = false;
    // Tables already written: a bit each (a vector for huge schemas).
    let n_tables = schema.tables.len();
    let mut seen_bits = 0u64;
    let mut seen = if n_tables > 64 {
        vec![false; n_tables]
    } else {
        Vec::new()
    };
    // Per table written: index of its first written row, its bytes.
    let mut blocks: Vec<(usize, std::ops::Range<usize>)> = Vec::with_capacity(4);
    for (i, first) in c.changes.iter().enumerate() {
        let t = first.table;
        let again = if n_tables > 64 {
            std::mem::replace(&mut seen[t], true)
        } else {
            let old = seen_bits;
            seen_bits |= 1 << t;
            old & 1 << t != 0
        };
        if again {
            continue;
        }
        let ts = &schema.tables[t];
        let table_mark = out.len();
        if any_table {
            out.push(b',');
        }
        let block_start = out.len();
        write_key(&ts.name, out);
        out.push(b'{');
        let mut rows = 0;
        let mut first_row = i;
        for (k, ch) in c.changes.iter().enumerate().skip(i) {
            if ch.table != t {
                continue;
            }
            if rows == 0 {
                first_row = k;
            }
            let row_mark = out.len();
            if rows > 0 {
                out.push(b',');
            }
            out.push(b'"');
            crate::atom::write_uuid_text(&ch.uuid, out);
            out.extend_from_slice(b"\":");
            let Some(n) = &ch.new else {
                out.extend_from_slice(b"null");
                rows += 1;
                continue;
            };
            out.push(b'{');
            let mut cols = 0;
            let mut member = |name: &str, d: &Datum, out: &mut Vec<u8>| {
                if cols > 0 {
                    out.push(b',');
                }
                cols += 1;
                write_key(name, out);
                d.write_json(out);
            };
            for (ci, d) in n.cols.iter().enumerate() {
                if !persistent(schema, t, ci) {
                    continue;
                }
                let name = &ts.columns[ci].name;
                match &ch.old {
                    Some(o) => {
                        let ty = &ts.columns[ci].ty;
                        if !ty.is_map() && ty.max == 1 {
                            if o.cols[ci] != *d {
                                member(name, d, out);
                            }
                        } else {
                            let diff = Datum::diff(&o.cols[ci], d, ty);
                            if !diff.is_empty() {
                                member(name, &diff, out);
                            }
                        }
                    }
                    None if *d != ts.defaults[ci] => member(name, d, out),
                    _ => {}
                }
            }
            if ch.old.is_some() && cols == 0 {
                out.truncate(row_mark);
                continue;
            }
            out.push(b'}');
            rows += 1;
        }
        if rows == 0 {
            out.truncate(table_mark);
            continue;
        }
        out.push(b'}');
        any_table = true;
        blocks.push((first_row, block_start..out.len()));
    }
    if !any_table {
        out.truncate(start);
        return false;
    }
    // A table whose first changes were left out (unchanged rows) comes
    // after tables with earlier written rows.
    if blocks.windows(2).any(|w| w[0].0 > w[1].0) {
        let body_start = start + 1;
        let mut sorted = blocks.clone();
        sorted.sort_by_key(|b| b.0);
        let mut body = Vec::with_capacity(out.len() - body_start);
        for (n, (_, r)) in sorted.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&out[r.clone()]);
        }
        out.truncate(body_start);
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(b",\"_date\":");
    let _ = serde_json::to_writer(&mut *out, &date_ms);
    out.extend_from_slice(b",\"_is_diff\":true");
    if let Some(cm) = &c.comment {
        out.extend_from_slice(b",\"_comment\":");
        let _ = serde_json::to_writer(&mut *out, cm);
    }
    out.push(b'}');
    true
}

/// `"name":` with JSON escaping.
fn write_key(name: &str, out: &mut Vec<u8>) {
    crate::jsontext::write_str(name, out);
    out.push(b':');
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::Atom;

    fn map(pairs: &[(&str, &str)]) -> Datum {
        let mut v: Vec<(Atom, Atom)> = pairs
            .iter()
            .map(|(k, x)| (Atom::String((*k).into()), Atom::String((*x).into())))
            .collect();
        v.sort();
        Datum::Map(v)
    }

    /// The direct writer gives the bytes of the `Value` route, for inserts,
    /// modifications (diffs), deletions, unchanged rows, several tables
    /// interleaved and text that needs escaping.
    #[test]
    fn direct_log_record_matches_value_route() {
        let schema: Value = serde_json::from_str(crate::VSWITCH_SCHEMA).unwrap();
        let schema = DatabaseSchema::from_json(&schema).unwrap();
        let qos = schema.table("QoS").unwrap();
        let queue = schema.table("Queue").unwrap();
        let ts = &schema.tables[qos];
        let ty = ts.column("type").unwrap();
        let ext = ts.column("external_ids").unwrap();
        let qts = &schema.tables[queue];
        let dscp = qts.column("dscp").unwrap();
        let mut a = Row::new_default(ts);
        a.set(
            ty,
            Datum::scalar(Atom::String("linux-\"htb\"\n\u{1}é".into())),
        );
        a.set(ext, map(&[("a", "1"), ("b", "2")]));
        let mut b = a.clone();
        b.set(ext, map(&[("a", "1"), ("b", "3"), ("c", "x")]));
        let mut q = Row::new_default(qts);
        q.set(dscp, Datum::scalar(Atom::Integer(-7)));
        let ch = |table, old: Option<&Row>, new: Option<&Row>| RowChange {
            table,
            uuid: crate::uuidgen::fresh(),
            old: old.map(|r| Arc::new(r.clone())),
            new: new.map(|r| Arc::new(r.clone())),
        };
        let cases = vec![
            vec![ch(qos, None, Some(&a))],
            vec![ch(qos, Some(&a), Some(&b)), ch(queue, None, Some(&q))],
            vec![
                ch(qos, Some(&a), Some(&a)),
                ch(queue, None, Some(&q)),
                ch(qos, Some(&b), None),
                ch(qos, None, Some(&Row::new_default(ts))),
            ],
            vec![ch(qos, Some(&a), Some(&a))],
            vec![],
        ];
        for (k, changes) in cases.into_iter().enumerate() {
            for comment in [None, Some("say \"hi\"\n".to_string())] {
                let c = Committed {
                    txn_id: crate::uuidgen::fresh(),
                    changes: changes.clone(),
                    durable: false,
                    comment,
                };
                let want = log_record(&schema, &c, 1_700_000_000_123)
                    .map(|v| serde_json::to_vec(&v).unwrap());
                let mut out = b"prefix".to_vec();
                let got = write_log_record(&schema, &c, 1_700_000_000_123, &mut out)
                    .then(|| out[6..].to_vec());
                assert_eq!(
                    got.as_deref().map(String::from_utf8_lossy),
                    want.as_deref().map(String::from_utf8_lossy),
                    "case {k}"
                );
                if got.is_none() {
                    assert_eq!(out, b"prefix");
                }
            }
        }
    }

    #[test]
    fn datum_write_json_matches_to_json() {
        let u = crate::uuidgen::fresh();
        let ds = [
            Datum::empty_set(),
            Datum::scalar(Atom::Real(1.0)),
            Datum::scalar(Atom::Real(-2.5e-300)),
            Datum::scalar(Atom::Boolean(false)),
            Datum::scalar(Atom::Uuid(u)),
            Datum::Set(vec![Atom::Integer(1), Atom::Integer(i64::MIN)]),
            Datum::Map(vec![(Atom::Integer(3), Atom::Uuid(u))]),
            map(&[("\\", "\u{7f}\t")]),
        ];
        for d in ds {
            let mut out = Vec::new();
            d.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&d.to_json()).unwrap(), "{d:?}");
        }
    }
}
