//! Durable storage of one database: replay of an existing log at start-up,
//! appends with group-committed fsync, and online compaction.
//!
//! The engine appends each transaction's record with one write(2) while it
//! still holds the engine lock (a page-cache write costs microseconds and
//! keeps the file in commit order), then publishes the new sequence number
//! on a watch channel. Durable transactions additionally wake an fsync
//! thread: one fsync covers every record written before it started, so many
//! clients' durable commits share one disk flush. Replies wait on the watch
//! (written, or synced when durable), so nothing is acknowledged before it
//! is in the file or on disk. Compaction writes a full snapshot to a
//! temporary file, fsyncs it and renames it over the log atomically.

pub mod log;

use crate::commit::snapshot_record;
use crate::datum::Datum;
use crate::error::OvsdbError;
use crate::row::Row;
use crate::schema::DatabaseSchema;
use crate::table::Db;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::watch;

/// How far storage has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub written: u64,
    pub synced: u64,
}

#[derive(Default)]
struct SyncState {
    /// Highest written sequence number that must be fsynced.
    wanted: u64,
    /// File to fsync (replaced after compaction).
    file: Option<File>,
    stop: bool,
}

struct SyncShared {
    st: Mutex<SyncState>,
    cv: Condvar,
}

/// Storage of one database: a file, or nothing (in-memory databases).
pub struct Storage {
    file: Option<File>,
    sync: Option<Arc<SyncShared>>,
    progress_tx: Arc<watch::Sender<Progress>>,
    progress_rx: watch::Receiver<Progress>,
    seq: u64,
    log_bytes: u64,
    snapshot_bytes: u64,
    thread: Option<std::thread::JoinHandle<()>>,
    buf: Vec<u8>,
    failed: bool,
    pub path: Option<PathBuf>,
}

/// Minimum log size before automatic compaction.
pub const COMPACT_MIN_BYTES: u64 = 10 * 1024 * 1024;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Storage {
    pub fn memory() -> Storage {
        let (tx, rx) = watch::channel(Progress::default());
        Storage {
            file: None,
            sync: None,
            progress_tx: Arc::new(tx),
            progress_rx: rx,
            seq: 0,
            log_bytes: 0,
            snapshot_bytes: 0,
            thread: None,
            buf: Vec::new(),
            failed: false,
            path: None,
        }
    }

    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress_rx.clone()
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Creates a new database file holding just `schema`.
    pub fn create(path: &Path, schema: &Value) -> Result<(), OvsdbError> {
        let mut b = Vec::new();
        log::encode_record(schema, &mut b);
        let tmp = tmp_path(path);
        let mut f = File::create(&tmp).map_err(|e| io_err(path, e))?;
        f.write_all(&b).map_err(|e| io_err(path, e))?;
        f.sync_all().map_err(|e| io_err(path, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
        sync_dir(path);
        Ok(())
    }

    /// Opens `path`, replays it into a database and starts the fsync thread.
    pub fn open(path: &Path) -> Result<(Db, Storage), OvsdbError> {
        let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
        let mut db: Option<Db> = None;
        let (good_len, tail_error) = log::for_each_record(&data, &mut |rec| {
            match db.as_mut() {
                None => db = Some(Db::new(Arc::new(DatabaseSchema::from_json(&rec)?))),
                Some(d) => replay(d, &rec)?,
            }
            Ok(())
        })?;
        drop(data);
        let db = db.ok_or_else(|| {
            OvsdbError::new("I/O error", format!("{}: no schema record", path.display()))
        })?;
        let parsed = log::Parsed {
            records: Vec::new(),
            good_len,
            tail_error,
        };
        if let Some(e) = &parsed.tail_error {
            tracing::warn!("{}: {e}; dropping the torn tail", path.display());
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io_err(path, e))?;
            f.set_len(parsed.good_len as u64)
                .map_err(|e| io_err(path, e))?;
            f.sync_all().map_err(|e| io_err(path, e))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        let mut s = Storage::memory();
        s.path = Some(path.to_path_buf());
        s.log_bytes = parsed.good_len as u64;
        s.snapshot_bytes = parsed.good_len as u64;
        let shared = Arc::new(SyncShared {
            st: Mutex::new(SyncState {
                file: Some(file.try_clone().map_err(|e| io_err(path, e))?),
                ..Default::default()
            }),
            cv: Condvar::new(),
        });
        let sh = shared.clone();
        let tx = s.progress_tx.clone();
        let p = path.to_path_buf();
        s.thread = Some(
            std::thread::Builder::new()
                .name("ovsdb-fsync".into())
                .spawn(move || syncer(sh, p, tx))
                .map_err(|e| io_err(path, e))?,
        );
        s.file = Some(file);
        s.sync = Some(shared);
        Ok((db, s))
    }

    /// Writes `record` to the log; returns its sequence number. A durable
    /// record also asks the fsync thread to flush it.
    pub fn append(&mut self, record: &Value, durable: bool) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        let Some(f) = self.file.as_mut() else {
            self.progress_tx.send_modify(|p| {
                p.written = seq;
                p.synced = seq;
            });
            return seq;
        };
        self.buf.clear();
        log::encode_record(record, &mut self.buf);
        if self.failed {
            return seq;
        }
        if let Err(e) = f.write_all(&self.buf) {
            // Never acknowledge what is not in the file: the gate stays shut.
            tracing::error!("{:?}: write failed: {e}", self.path);
            self.failed = true;
            return seq;
        }
        self.log_bytes += self.buf.len() as u64;
        self.progress_tx.send_modify(|p| p.written = seq);
        if durable {
            if let Some(sh) = &self.sync {
                let mut st = sh.st.lock().unwrap_or_else(|e| e.into_inner());
                st.wanted = st.wanted.max(seq);
                drop(st);
                sh.cv.notify_one();
            }
        }
        seq
    }

    /// Whether the log has grown enough to be worth compacting.
    pub fn wants_compaction(&self) -> bool {
        self.file.is_some()
            && self.log_bytes >= COMPACT_MIN_BYTES
            && self.log_bytes >= 4 * self.snapshot_bytes.max(1)
    }

    /// Rewrites the log as a snapshot of `db`, atomically.
    pub fn compact(&mut self, db: &Db) {
        let Some(path) = self.path.clone() else {
            return;
        };
        if self.failed {
            return;
        }
        let mut snap = Vec::new();
        log::encode_record(&db.schema.json, &mut snap);
        log::encode_record(&snapshot_record(db, now_ms()), &mut snap);
        let res: std::io::Result<File> = (|| {
            let tmp = tmp_path(&path);
            let mut f = File::create(&tmp)?;
            f.write_all(&snap)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            sync_dir(&path);
            OpenOptions::new().append(true).open(&path)
        })();
        match res {
            Ok(f) => {
                tracing::info!("{}: compacted to {} bytes", path.display(), snap.len());
                if let Some(sh) = &self.sync {
                    sh.st.lock().unwrap_or_else(|e| e.into_inner()).file = f.try_clone().ok();
                }
                self.file = Some(f);
                self.seq += 1;
                let seq = self.seq;
                self.snapshot_bytes = snap.len() as u64;
                self.log_bytes = snap.len() as u64;
                self.progress_tx.send_modify(|p| {
                    p.written = seq;
                    p.synced = seq;
                });
            }
            Err(e) => tracing::error!("{}: compaction failed: {e}", path.display()),
        }
    }

    pub fn log_bytes(&self) -> u64 {
        self.log_bytes
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(sh) = &self.sync {
            sh.st.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
            sh.cv.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(f) = &self.file {
            let _ = f.sync_all();
        }
    }
}

fn tmp_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn sync_dir(p: &Path) {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn io_err(p: &Path, e: std::io::Error) -> OvsdbError {
    OvsdbError::new("I/O error", format!("{}: {e}", p.display()))
}

/// The fsync thread: flushes whenever a durable record is waiting, covering
/// everything written so far in one call.
fn syncer(sh: Arc<SyncShared>, path: PathBuf, tx: Arc<watch::Sender<Progress>>) {
    loop {
        let (file, stop) = {
            let mut st = sh.st.lock().unwrap_or_else(|e| e.into_inner());
            while st.wanted <= tx.borrow().synced && !st.stop {
                st = sh.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            (st.file.as_ref().and_then(|f| f.try_clone().ok()), st.stop)
        };
        if stop {
            return;
        }
        // Everything written before the fsync starts is covered by it.
        let target = tx.borrow().written;
        match file.map(|f| f.sync_data()) {
            Some(Ok(())) => tx.send_modify(|p| p.synced = p.synced.max(target)),
            Some(Err(e)) => {
                tracing::error!("{}: fsync failed: {e}", path.display());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            None => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// Applies one transaction record from the log.
fn replay(db: &mut Db, rec: &Value) -> Result<(), OvsdbError> {
    let Some(o) = rec.as_object() else {
        return Ok(());
    };
    let is_diff = o.get("_is_diff").and_then(Value::as_bool).unwrap_or(false);
    let schema = db.schema.clone();
    for (tname, rows) in o {
        if tname.starts_with('_') {
            continue;
        }
        let Some(t) = schema.table(tname) else {
            tracing::warn!("log refers to unknown table {tname}; ignored");
            continue;
        };
        let ts = &schema.tables[t];
        let Some(rows) = rows.as_object() else {
            continue;
        };
        for (us, rj) in rows {
            let Some(u) = crate::atom::parse_uuid(us) else {
                continue;
            };
            if rj.is_null() {
                db.put_row(t, u, None);
                continue;
            }
            let Some(cols) = rj.as_object() else { continue };
            let existing = db.tables[t].rows.get(&u).cloned();
            let mut row = match &existing {
                Some(r) => (**r).clone(),
                None => Row::new_default(ts),
            };
            let mut none = |_: &str| None;
            for (cn, v) in cols {
                let Some(c) = ts.column(cn) else { continue };
                let ty = &ts.columns[c].ty;
                let d = Datum::from_json(ty, v, &mut none, true)?;
                if is_diff && existing.is_some() {
                    row.col_mut(c).apply_diff(&d, ty);
                } else {
                    row.set(c, d);
                }
            }
            row.version = uuid::Uuid::new_v4();
            db.put_row(t, u, Some(Arc::new(row)));
        }
    }
    Ok(())
}
