//! The `_Server` database: one `Database` row per served database, as OVS
//! 3.x clients (ovs-vsctl, the python IDL) read it before anything else to
//! learn that a database exists, is connected and which schema it has.
//!
//! It is an ordinary in-memory `Db` built from `_Server`'s schema and
//! rebuilt when the set of databases changes; transactions on it are
//! read-only.

use crate::atom::Atom;
use crate::datum::Datum;
use crate::row::Row;
use crate::schema::DatabaseSchema;
use crate::table::Db;
use serde_json::Value;
use std::sync::Arc;
use uuid::Uuid;

/// `_Server`'s schema (OVS's ovsdb/_server.ovsschema, version 1.2.0).
pub const SERVER_SCHEMA: &str = r#"{"name": "_Server", "version": "1.2.0", "cksum": "3009684573 744",
 "tables": {"Database": {"columns": {
   "name": {"type": "string"},
   "model": {"type": {"key": {"type": "string", "enum": ["set", ["standalone", "clustered", "relay"]]}}},
   "connected": {"type": "boolean"},
   "leader": {"type": "boolean"},
   "schema": {"type": {"key": {"type": "string"}, "min": 0, "max": 1}},
   "cid": {"type": {"key": {"type": "uuid"}, "min": 0, "max": 1}},
   "sid": {"type": {"key": {"type": "uuid"}, "min": 0, "max": 1}},
   "index": {"type": {"key": {"type": "integer"}, "min": 0, "max": 1}}},
  "isRoot": true}}}"#;

pub fn server_schema() -> Arc<DatabaseSchema> {
    let v: Value =
        serde_json::from_str(SERVER_SCHEMA).expect("built-in _Server schema is valid JSON");
    Arc::new(DatabaseSchema::from_json(&v).expect("built-in _Server schema is valid"))
}

/// Builds the `_Server` database for databases `dbs` (name, schema).
pub fn build(schema: Arc<DatabaseSchema>, dbs: &[(String, Arc<DatabaseSchema>, Uuid)]) -> Db {
    let mut db = Db::new(schema.clone());
    let t = schema.table("Database").expect("_Server has Database");
    let ts = &schema.tables[t];
    let col = |n: &str| ts.column(n).expect("_Server Database column");
    for (name, s, row_uuid) in dbs {
        let mut r = Row::new_default(ts);
        r.version = crate::uuidgen::fresh();
        r.set(
            col("name"),
            Datum::scalar(Atom::String(Arc::from(name.as_str()))),
        );
        r.set(
            col("model"),
            Datum::scalar(Atom::String(Arc::from("standalone"))),
        );
        r.set(col("connected"), Datum::scalar(Atom::Boolean(true)));
        r.set(col("leader"), Datum::scalar(Atom::Boolean(true)));
        r.set(
            col("schema"),
            Datum::scalar(Atom::String(Arc::from(s.json_text.as_str()))),
        );
        db.put_row(t, *row_uuid, Some(Arc::new(r)));
    }
    db
}
