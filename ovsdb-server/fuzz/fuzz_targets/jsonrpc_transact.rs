//! Feeds arbitrary bytes, as one client's stream, to an in-memory server
//! serving the Open_vSwitch schema: framing, JSON-RPC parsing, every method
//! and the whole transaction engine. The server must never panic, and the
//! transact fast path must agree with the generic route: the same message
//! (or error) from the parser, the same results and changes (UUID for UUID)
//! from the engine whenever the fast path answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::jsonrpc::{Framer, Message};
use ovsdb::server::Core;
use ovsdb::storage::Storage;
use ovsdb::table::Db;

fuzz_target!(|data: &[u8]| {
    let mut core = Core::new();
    core.add_db(Db::new(ovsdb::vswitch_schema()), Storage::memory())
        .unwrap();
    let sid = core.open_session();
    let mut f = Framer::with_limit(1 << 20);
    // Split the input in two reads to exercise partial framing.
    let mid = data.len() / 2;
    for chunk in [&data[..mid], &data[mid..]] {
        f.push(chunk);
        loop {
            match f.next_message() {
                Ok(Some(text)) => {
                    check_fast_path(&core, &text);
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

fn check_fast_path(core: &Core, text: &[u8]) {
    let generic = ovsdb::jsonrpc::from_slice_unbounded::<serde_json::Value>(text)
        .map_err(|e| ovsdb::error::OvsdbError::syntax(format!("JSON parse error: {e}")))
        .and_then(Message::from_value);
    let parsed = Message::parse(text);
    // Text that is not UTF-8 has its own route (a transact operation
    // holding it fails; anything else is malformed), and errors compare
    // by tag (each closes the session).
    if std::str::from_utf8(text).is_ok() {
        let show = |r: Result<Message, ovsdb::error::OvsdbError>| match r {
            Ok(m) => format!("{m:?}"),
            Err(e) => format!("Err({})", e.tag),
        };
        assert_eq!(show(parsed.clone().map(Message::generic)), show(generic));
    }
    if let Ok(Message::Transact(t)) = &parsed {
        if let Some(i) = t.db_name().and_then(|n| core.db_index(&n)) {
            let e = &core.dbs[i];
            let ctx = ovsdb::transaction::ExecCtx {
                read_only: e.read_only,
                has_lock: &|_| false,
                elapsed_ms: 0,
            };
            if let Err(d) = ovsdb::transact_text::differential(&e.db, t, &ctx) {
                panic!("fast path differs: {d}");
            }
        }
    }
}
