//! IDL transactions: a builder of RFC 7047 operations with named uuids for
//! rows inserted in the same transaction, and the outcome once committed.

use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// A row reference inside a transaction: an existing row or one inserted
/// by this transaction (by its uuid-name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRef {
    Existing(Uuid),
    Named(String),
}

impl RowRef {
    pub fn to_json(&self) -> Value {
        match self {
            RowRef::Existing(u) => json!(["uuid", crate::uuidgen::text(u)]),
            RowRef::Named(n) => json!(["named-uuid", n]),
        }
    }
}

/// Operations to send in one `transact`.
#[derive(Debug, Default, Clone)]
pub struct TxnBuilder {
    pub ops: Vec<Value>,
    names: Vec<String>,
}

/// The outcome of a committed transaction.
#[derive(Debug, Clone)]
pub struct TxnResult {
    pub results: Vec<Value>,
    /// Real uuids of the rows inserted under a name.
    pub inserted: HashMap<String, Uuid>,
}

impl TxnBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a row; returns a reference usable in later operations.
    pub fn insert(&mut self, table: &str, row: Value) -> RowRef {
        let name = format!("row{}", self.names.len());
        self.ops
            .push(json!({"op": "insert", "table": table, "row": row, "uuid-name": name}));
        self.names.push(name.clone());
        RowRef::Named(name)
    }

    fn where_uuid(r: &RowRef) -> Value {
        json!([["_uuid", "==", r.to_json()]])
    }

    pub fn update(&mut self, table: &str, row: &RowRef, values: Value) {
        self.ops.push(
            json!({"op": "update", "table": table, "where": Self::where_uuid(row), "row": values}),
        );
    }

    pub fn mutate(&mut self, table: &str, row: &RowRef, mutations: Value) {
        self.ops.push(json!({"op": "mutate", "table": table, "where": Self::where_uuid(row), "mutations": mutations}));
    }

    pub fn delete(&mut self, table: &str, row: &RowRef) {
        self.ops
            .push(json!({"op": "delete", "table": table, "where": Self::where_uuid(row)}));
    }

    /// Any raw operation.
    pub fn op(&mut self, op: Value) {
        self.ops.push(op);
    }

    pub fn comment(&mut self, c: &str) {
        self.ops.push(json!({"op": "comment", "comment": c}));
    }

    /// Reads the server's reply into a result (error if any op failed).
    pub fn outcome(&self, reply: Value) -> Result<TxnResult, String> {
        let results = reply
            .as_array()
            .cloned()
            .ok_or_else(|| format!("bad transact reply {reply}"))?;
        if let Some(e) = results.iter().find(|r| r.get("error").is_some()) {
            return Err(e.to_string());
        }
        let mut inserted = HashMap::new();
        for (op, res) in self.ops.iter().zip(&results) {
            if op["op"] == "insert" {
                if let Some(u) = res["uuid"][1].as_str().and_then(crate::atom::parse_uuid) {
                    if let Some(n) = op["uuid-name"].as_str() {
                        inserted.insert(n.to_string(), u);
                    }
                }
            }
        }
        Ok(TxnResult { results, inserted })
    }
}
