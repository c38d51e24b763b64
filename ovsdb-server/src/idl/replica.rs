//! The IDL's in-memory replica: rows of the monitored tables and columns,
//! updated from update2/update3 notifications, with change tracking for
//! reconcilers.
//!
//! Each table is a `BTreeMap` from uuid to row so iteration order is stable
//! (reconcilers diff deterministically). Every applied update bumps the
//! replica's `seqno`, stamps the rows it touched, and appends a `Tracked`
//! entry that `take_changes` drains, so a reconciler can look at just what
//! changed since its last pass.

use crate::datum::Datum;
use crate::error::{OvsdbError, Result};
use crate::schema::{DatabaseSchema, TableSchema};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// One replicated row: a datum per schema column (unmonitored columns stay at
/// their default).
#[derive(Debug, Clone, PartialEq)]
pub struct IdlRow {
    pub cols: Vec<Datum>,
    /// `seqno` of the update that last changed the row.
    pub seqno: u64,
}

/// Kind of change to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Delete,
}

/// One change seen by the replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub table: String,
    pub uuid: Uuid,
    pub kind: ChangeKind,
    pub seqno: u64,
}

#[derive(Debug, Default, Clone)]
pub struct TableReplica {
    pub rows: BTreeMap<Uuid, IdlRow>,
}

/// The replica of one database.
#[derive(Debug, Clone)]
pub struct Replica {
    pub schema: Arc<DatabaseSchema>,
    pub tables: BTreeMap<String, TableReplica>,
    pub seqno: u64,
    pub last_txn: Uuid,
    pub connected: bool,
    tracked: Vec<Tracked>,
}

impl Replica {
    pub fn new(schema: Arc<DatabaseSchema>, tables: &[String]) -> Replica {
        Replica {
            schema,
            tables: tables
                .iter()
                .map(|t| (t.clone(), TableReplica::default()))
                .collect(),
            seqno: 0,
            last_txn: Uuid::nil(),
            connected: false,
            tracked: Vec::new(),
        }
    }

    fn ts(&self, table: &str) -> Option<&TableSchema> {
        self.schema.table(table).map(|i| &self.schema.tables[i])
    }

    /// Rows of `table` (empty if not replicated).
    pub fn rows(&self, table: &str) -> impl Iterator<Item = (&Uuid, &IdlRow)> {
        self.tables
            .get(table)
            .into_iter()
            .flat_map(|t| t.rows.iter())
    }

    pub fn row(&self, table: &str, u: &Uuid) -> Option<&IdlRow> {
        self.tables.get(table).and_then(|t| t.rows.get(u))
    }

    /// Column `col` of row `u` in `table`.
    pub fn get(&self, table: &str, u: &Uuid, col: &str) -> Option<&Datum> {
        let c = self.ts(table)?.column(col)?;
        self.row(table, u).map(|r| &r.cols[c])
    }

    /// Drains the changes recorded since the last call.
    pub fn take_changes(&mut self) -> Vec<Tracked> {
        std::mem::take(&mut self.tracked)
    }

    /// Forgets every row (before loading a fresh initial state); deleted
    /// rows are tracked as deletions.
    pub fn clear(&mut self) {
        self.seqno += 1;
        let seq = self.seqno;
        for (name, t) in &mut self.tables {
            for u in t.rows.keys() {
                self.tracked.push(Tracked {
                    table: name.clone(),
                    uuid: *u,
                    kind: ChangeKind::Delete,
                    seqno: seq,
                });
            }
            t.rows.clear();
        }
    }

    /// Applies an update2-form `{table: {uuid: {initial|insert|modify|delete}}}`.
    pub fn apply_update2(&mut self, upd: &Value) -> Result<()> {
        let Some(o) = upd.as_object() else {
            return Err(OvsdbError::syntax("update must be an object"));
        };
        self.seqno += 1;
        let seq = self.seqno;
        let schema = self.schema.clone();
        for (tname, rows) in o {
            let Some(ti) = schema.table(tname) else {
                continue;
            };
            let ts = &schema.tables[ti];
            let Some(tr) = self.tables.get_mut(tname) else {
                continue;
            };
            let Some(rows) = rows.as_object() else {
                continue;
            };
            for (us, ru) in rows {
                let u = crate::atom::parse_uuid(us)
                    .ok_or_else(|| OvsdbError::syntax("bad row uuid"))?;
                let Some(ru) = ru.as_object() else { continue };
                let mut none = |_: &str| None;
                if let Some(vals) = ru.get("initial").or_else(|| ru.get("insert")) {
                    let mut row = IdlRow {
                        cols: ts
                            .columns
                            .iter()
                            .map(|c| Datum::default_for(&c.ty))
                            .collect(),
                        seqno: seq,
                    };
                    for (cn, v) in vals.as_object().into_iter().flatten() {
                        if let Some(c) = ts.column(cn) {
                            row.cols[c] = Datum::from_json(&ts.columns[c].ty, v, &mut none, true)?;
                        }
                    }
                    tr.rows.insert(u, row);
                    self.tracked.push(Tracked {
                        table: tname.clone(),
                        uuid: u,
                        kind: ChangeKind::Insert,
                        seqno: seq,
                    });
                } else if let Some(vals) = ru.get("modify") {
                    let Some(row) = tr.rows.get_mut(&u) else {
                        continue;
                    };
                    for (cn, v) in vals.as_object().into_iter().flatten() {
                        if let Some(c) = ts.column(cn) {
                            let ty = &ts.columns[c].ty;
                            let d = Datum::from_json(ty, v, &mut none, true)?;
                            row.cols[c].apply_diff(&d, ty);
                        }
                    }
                    row.seqno = seq;
                    self.tracked.push(Tracked {
                        table: tname.clone(),
                        uuid: u,
                        kind: ChangeKind::Modify,
                        seqno: seq,
                    });
                } else if ru.contains_key("delete") && tr.rows.remove(&u).is_some() {
                    {
                        self.tracked.push(Tracked {
                            table: tname.clone(),
                            uuid: u,
                            kind: ChangeKind::Delete,
                            seqno: seq,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}
