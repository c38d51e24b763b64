//! ovsdb (package ferrovs-ovsdb): a generic RFC 7047 OVSDB server and the IDL
//! client.
//!
//! Owns schemas, datums and the transaction engine, the on-disk log (OVS's
//! standalone database format), the JSON-RPC server with monitors and locks,
//! the `_Server` database, and the IDL replica that vswitchd and
//! `ferrovs vsctl` use.

pub mod atom;
pub mod commit;
pub mod condition;
pub mod datum;
pub mod error;
pub mod event_loop;
pub mod idl;
pub mod jsonrpc;
pub mod jsontext;
pub mod limits;
pub mod lock;
pub mod monitor;
pub mod monitor_set;
pub mod mutation;
pub mod remote;
pub mod row;
pub mod rpc_params;
pub mod schema;
pub mod server;
pub mod server_db;
pub mod session;
pub mod storage;
pub mod table;
pub mod transact_text;
pub mod transaction;
pub mod unixctl;
pub mod uuidgen;

/// The Open_vSwitch schema that ferrovs ships (OVS 3.1's vswitch.ovsschema).
pub const VSWITCH_SCHEMA: &str = include_str!("../schemas/vswitch.ovsschema");

/// [`VSWITCH_SCHEMA`] parsed, once per process (it ships with the crate, so
/// it always parses; a test checks it).
pub fn vswitch_schema() -> std::sync::Arc<schema::DatabaseSchema> {
    static S: std::sync::OnceLock<std::sync::Arc<schema::DatabaseSchema>> =
        std::sync::OnceLock::new();
    S.get_or_init(|| {
        let v: serde_json::Value =
            serde_json::from_str(VSWITCH_SCHEMA).expect("the shipped schema is JSON");
        std::sync::Arc::new(
            schema::DatabaseSchema::from_json(&v).expect("the shipped schema is valid"),
        )
    })
    .clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_schema_parses() {
        let s = super::vswitch_schema();
        assert_eq!(s.name, "Open_vSwitch");
        assert!(s.table("Bridge").is_some());
    }
}
