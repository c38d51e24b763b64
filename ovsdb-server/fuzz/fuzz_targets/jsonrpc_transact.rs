//! Feeds arbitrary bytes, as one client's stream, to an in-memory server
//! serving the Open_vSwitch schema: framing, JSON-RPC parsing, every method
//! and the whole transaction engine. The server must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::jsonrpc::{Framer, Message};
use ovsdb::server::Core;
use ovsdb::storage::Storage;
use ovsdb::table::Db;

fuzz_target!(|data: &[u8]| {
    let mut core = Core::new();
    core.add_db(Db::new(ovsdb::vswitch_schema()), Storage::memory()).unwrap();
    let sid = core.open_session();
    let mut f = Framer::with_limit(1 << 20);
    // Split the input in two reads to exercise partial framing.
    let mid = data.len() / 2;
    for chunk in [&data[..mid], &data[mid..]] {
        f.push(chunk);
        loop {
            match f.next_message() {
                Ok(Some(text)) => {
                    if let Ok(m) = Message::parse(&text) {
                        // A retried wait is run once more with time elapsed.
                        if let ovsdb::server::Handled::Retry { .. } = core.handle(sid, &m, 0) {
                            core.handle(sid, &m, u64::MAX / 2);
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        core.take_output(sid).for_each(drop);
    }
    core.close_session(sid);
});
