//! ovsdb (package ferrovs-ovsdb): a generic RFC 7047 OVSDB server and the IDL
//! client.
//!
//! Owns schemas, datums and the transaction engine, the on-disk log (OVS's
//! standalone database format), the JSON-RPC server with monitors and locks,
//! the `_Server` database, and the IDL replica that vswitchd and
//! `ferrovs vsctl` use.
