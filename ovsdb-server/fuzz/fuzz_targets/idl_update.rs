//! Feeds arbitrary bytes, as the JSON of one or more update2 messages from
//! a server, to the IDL replica that ferrovs-vswitchd reads its
//! configuration from: every table of the Open_vSwitch schema, rows
//! inserted, modified (with map and set deltas) and deleted. Applying an
//! update must never panic, whatever the server sends; a rejected update
//! is an error, and the replica stays readable afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::idl::replica::Replica;

fuzz_target!(|data: &[u8]| {
    let schema = ovsdb::vswitch_schema();
    let tables: Vec<String> = schema.tables.iter().map(|t| t.name.clone()).collect();
    let mut replica = Replica::new(schema, &tables);
    // The input may hold several updates one after another, as a
    // monitor's stream does.
    for update in serde_json::Deserializer::from_slice(data).into_iter::<serde_json::Value>() {
        let Ok(update) = update else { break };
        let _ = replica.apply_update2(&update);
    }
    for t in &tables {
        for (uuid, _) in replica.rows(t) {
            let _ = replica.row(t, uuid);
        }
    }
    let _ = replica.take_changes();
});
