//! Feeds arbitrary bytes as a database file to `Storage::open`: the log
//! record framing (header, length, SHA-1), the schema parser (first
//! record) and the replay of every transaction record into the tables.
//! Opening must never panic. When it succeeds it has cut any torn tail
//! off the file, so a second open of the same file must succeed too and
//! find the same tables with the same number of rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::storage::Storage;
use std::path::PathBuf;
use std::sync::OnceLock;

fn path() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ferrovs-fuzz-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("conf.db")
    })
}

/// Each table's name and its rows' uuids, sorted.
fn shape(db: &ovsdb::table::Db) -> Vec<(String, Vec<String>)> {
    db.schema
        .tables
        .iter()
        .zip(&db.tables)
        .map(|(ts, t)| {
            let mut rows: Vec<String> = t.rows.keys().map(|u| u.to_string()).collect();
            rows.sort();
            (ts.name.clone(), rows)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let p = path();
    std::fs::write(p, data).unwrap();
    if let Ok((db, _storage)) = Storage::open(p) {
        let first = shape(&db);
        let (again, _) = Storage::open(p).expect("a file that opened once opens again");
        assert_eq!(first, shape(&again), "the second open sees the same rows");
    }
});
