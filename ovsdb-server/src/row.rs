//! Rows: one datum per column (by column index) plus the row's version.
//!
//! Committed rows are shared as `Arc<Row>`: a monitor update, a transaction's
//! "old" image and the table all point at the same allocation, so a commit
//! moves pointers instead of copying column data.

use crate::datum::Datum;
use crate::schema::TableSchema;
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub version: Uuid,
    /// One shared datum per column: copying a row for an update copies
    /// pointers, unchanged columns stay shared with the committed row (and
    /// compare equal by pointer), and every default-valued column points at
    /// the table's one default datum.
    pub cols: Box<[Arc<Datum>]>,
}

impl Row {
    /// A row with every column at its default value.
    pub fn new_default(ts: &TableSchema) -> Row {
        Row {
            version: Uuid::nil(),
            cols: ts.defaults.iter().cloned().collect(),
        }
    }

    /// Replaces column `c`.
    pub fn set(&mut self, c: usize, d: Datum) {
        self.cols[c] = Arc::new(d);
    }

    /// Column `c` for modification (copied first if shared).
    pub fn col_mut(&mut self, c: usize) -> &mut Datum {
        Arc::make_mut(&mut self.cols[c])
    }

    /// JSON object of the chosen columns (all when `cols` is None), with
    /// `_uuid` and `_version` when `meta` is set.
    pub fn to_json(
        &self,
        ts: &TableSchema,
        uuid: &Uuid,
        cols: Option<&[usize]>,
        meta: bool,
    ) -> Value {
        let mut m = Map::new();
        if meta {
            m.insert("_uuid".into(), uuid_json(uuid));
            m.insert("_version".into(), uuid_json(&self.version));
        }
        match cols {
            Some(cs) => {
                for &c in cs {
                    m.insert(ts.columns[c].name.clone(), self.cols[c].to_json());
                }
            }
            None => {
                for (c, d) in self.cols.iter().enumerate() {
                    m.insert(ts.columns[c].name.clone(), d.to_json());
                }
            }
        }
        Value::Object(m)
    }
}

pub fn uuid_json(u: &Uuid) -> Value {
    Value::Array(vec![
        Value::String("uuid".into()),
        Value::String(crate::uuidgen::text(u)),
    ])
}
