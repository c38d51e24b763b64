//! Tables and the database: rows by uuid, strong reference counts and unique
//! index maps.
//!
//! Rows live in a hash map keyed by uuid with a trivial hasher (uuids are
//! already random), reference counts of strong references are kept per target
//! row so that referential integrity and garbage collection only look at the
//! rows a transaction touched, and every schema index has a hash map from the
//! indexed column values to the row, so uniqueness checks are O(changed rows).

use crate::datum::Datum;
use crate::row::Row;
use crate::schema::DatabaseSchema;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use uuid::Uuid;

/// Hasher for uuids: folds the 128 random bits into 64.
#[derive(Default)]
pub struct UuidHasher(u64);
impl Hasher for UuidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
}
pub type UuidMap<V> = HashMap<Uuid, V, BuildHasherDefault<UuidHasher>>;
/// Map keyed by (table index, row uuid).
pub type RowKeyMap<V> = HashMap<(usize, Uuid), V, BuildHasherDefault<UuidHasher>>;

/// One table's data.
#[derive(Debug, Default, Clone)]
pub struct Table {
    pub rows: UuidMap<Arc<Row>>,
    /// Number of strong references pointing at each row (absent = 0).
    pub refcount: UuidMap<u32>,
    /// One map per schema index: indexed column values -> row.
    pub indexes: Vec<HashMap<Vec<Datum>, Uuid>>,
}

/// A database: schema plus tables (same order as `schema.tables`).
#[derive(Debug, Clone)]
pub struct Db {
    pub schema: Arc<DatabaseSchema>,
    pub tables: Vec<Table>,
}

impl Db {
    pub fn new(schema: Arc<DatabaseSchema>) -> Db {
        let tables = schema
            .tables
            .iter()
            .map(|t| Table {
                indexes: vec![HashMap::new(); t.indexes.len()],
                ..Default::default()
            })
            .collect();
        Db { schema, tables }
    }

    pub fn index_key(row: &Row, cols: &[usize]) -> Vec<Datum> {
        cols.iter().map(|&c| Datum::clone(&row.cols[c])).collect()
    }

    /// Installs `new` as the state of row `uuid` in table `t` (None deletes),
    /// keeping reference counts and indexes right. Returns the old row.
    pub fn put_row(&mut self, t: usize, uuid: Uuid, new: Option<Arc<Row>>) -> Option<Arc<Row>> {
        self.put_row_inner(t, uuid, new, true)
    }

    /// Like `put_row` but leaves reference counts alone (the caller applies
    /// a precomputed delta with `apply_ref_delta`).
    pub fn put_row_no_refs(
        &mut self,
        t: usize,
        uuid: Uuid,
        new: Option<Arc<Row>>,
    ) -> Option<Arc<Row>> {
        self.put_row_inner(t, uuid, new, false)
    }

    /// Adds a net reference count change per target row.
    pub fn apply_ref_delta(&mut self, delta: &RowKeyMap<i64>) {
        for ((t, u), d) in delta {
            if *d == 0 {
                continue;
            }
            let rc = &mut self.tables[*t].refcount;
            let n = rc.get(u).copied().unwrap_or(0) as i64 + d;
            if n > 0 {
                rc.insert(*u, n as u32);
            } else {
                rc.remove(u);
            }
        }
    }

    fn put_row_inner(
        &mut self,
        t: usize,
        uuid: Uuid,
        new: Option<Arc<Row>>,
        refs: bool,
    ) -> Option<Arc<Row>> {
        let schema = self.schema.clone();
        let ts = &schema.tables[t];
        let old = match &new {
            Some(r) => self.tables[t].rows.insert(uuid, r.clone()),
            None => self.tables[t].rows.remove(&uuid),
        };
        for (i, cols) in ts.indexes.iter().enumerate() {
            if let (Some(o), Some(n)) = (&old, &new) {
                if cols.iter().all(|&c| o.cols[c] == n.cols[c]) {
                    continue;
                }
            }
            if let Some(o) = &old {
                let k = Self::index_key(o, cols);
                if self.tables[t].indexes[i].get(&k) == Some(&uuid) {
                    self.tables[t].indexes[i].remove(&k);
                }
            }
            if let Some(n) = &new {
                self.tables[t].indexes[i].insert(Self::index_key(n, cols), uuid);
            }
        }
        for (c, col) in ts.columns.iter().enumerate() {
            if !refs || !col.ty.has_refs() {
                continue;
            }
            let od = old.as_ref().map(|r| &*r.cols[c]);
            let nd = new.as_ref().map(|r| &*r.cols[c]);
            if od.is_some() && od == nd {
                continue;
            }
            let tables = &mut self.tables;
            crate::datum::ref_changes(&col.ty, od, nd, &mut |rt, ru, strong, d| {
                if !strong {
                    return;
                }
                let rc = &mut tables[rt].refcount;
                if d > 0 {
                    *rc.entry(ru).or_insert(0) += 1;
                } else if let Some(n) = rc.get_mut(&ru) {
                    *n -= 1;
                    if *n == 0 {
                        rc.remove(&ru);
                    }
                }
            });
        }
        old
    }

    pub fn refcount(&self, t: usize, u: &Uuid) -> u32 {
        self.tables[t].refcount.get(u).copied().unwrap_or(0)
    }

    pub fn n_rows(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }
}
