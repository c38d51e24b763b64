//! Durable storage of one database: replay of an existing log at start-up,
//! and an append-only writer thread with group commit and online compaction.
//!
//! The engine appends encoded records to an in-memory queue under its lock
//! and gets back a sequence number; the writer thread takes everything queued
//! in one go, writes it with one write(2), fsyncs if any of it was durable,
//! and publishes the written/synced sequence numbers on a watch channel.
//! Replies wait on that channel, so nothing is acknowledged before it is in
//! the file (or on disk, for `durable`), while many clients share one write.
//! Compaction writes a full snapshot to a temporary file, fsyncs, and renames
//! it over the log atomically.

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

/// How far the writer has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub written: u64,
    pub synced: u64,
}

#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    seq: u64,
    need_sync: bool,
    /// Snapshot bytes and how much of `buf` it already covers.
    compact: Option<(Vec<u8>, usize)>,
    stop: bool,
}

struct Shared {
    q: Mutex<Queue>,
    cv: Condvar,
}

/// Storage of one database: a file, or nothing (in-memory databases).
pub struct Storage {
    shared: Option<Arc<Shared>>,
    progress_tx: Arc<watch::Sender<Progress>>,
    progress_rx: watch::Receiver<Progress>,
    seq: u64,
    log_bytes: u64,
    snapshot_bytes: u64,
    thread: Option<std::thread::JoinHandle<()>>,
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
            shared: None,
            progress_tx: Arc::new(tx),
            progress_rx: rx,
            seq: 0,
            log_bytes: 0,
            snapshot_bytes: 0,
            thread: None,
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

    /// Opens `path`, replays it into a database and starts the writer.
    pub fn open(path: &Path) -> Result<(Db, Storage), OvsdbError> {
        let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
        let parsed = log::parse_log(&data)?;
        let mut recs = parsed.records.into_iter();
        let schema_json = recs.next().ok_or_else(|| {
            OvsdbError::new("I/O error", format!("{}: no schema record", path.display()))
        })?;
        let schema = Arc::new(DatabaseSchema::from_json(&schema_json)?);
        let mut db = Db::new(schema);
        for r in recs {
            replay(&mut db, &r)?;
        }
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
        let shared = Arc::new(Shared {
            q: Mutex::new(Queue::default()),
            cv: Condvar::new(),
        });
        let sh = shared.clone();
        let tx = s.progress_tx.clone();
        let p = path.to_path_buf();
        s.thread = Some(
            std::thread::Builder::new()
                .name("ovsdb-log".into())
                .spawn(move || writer(sh, file, p, tx))
                .map_err(|e| io_err(path, e))?,
        );
        s.shared = Some(shared);
        Ok((db, s))
    }

    /// Queues `record`; returns its sequence number.
    pub fn append(&mut self, record: &Value, durable: bool) -> u64 {
        self.seq += 1;
        let Some(sh) = &self.shared else {
            let _ = self.progress_tx.send(Progress {
                written: self.seq,
                synced: self.seq,
            });
            return self.seq;
        };
        let mut q = sh.q.lock().unwrap_or_else(|e| e.into_inner());
        let before = q.buf.len();
        log::encode_record(record, &mut q.buf);
        self.log_bytes += (q.buf.len() - before) as u64;
        q.seq = self.seq;
        q.need_sync |= durable;
        drop(q);
        sh.cv.notify_one();
        self.seq
    }

    /// Whether the log has grown enough to be worth compacting.
    pub fn wants_compaction(&self) -> bool {
        self.shared.is_some()
            && self.log_bytes >= COMPACT_MIN_BYTES
            && self.log_bytes >= 4 * self.snapshot_bytes.max(1)
    }

    /// Queues a compaction to the current state of `db`.
    pub fn compact(&mut self, db: &Db) {
        let Some(sh) = &self.shared else { return };
        let mut snap = Vec::new();
        log::encode_record(&db.schema.json, &mut snap);
        log::encode_record(&snapshot_record(db, now_ms()), &mut snap);
        self.seq += 1;
        self.snapshot_bytes = snap.len() as u64;
        self.log_bytes = snap.len() as u64;
        let mut q = sh.q.lock().unwrap_or_else(|e| e.into_inner());
        let covered = q.buf.len();
        q.compact = Some((snap, covered));
        q.seq = self.seq;
        drop(q);
        sh.cv.notify_one();
    }

    pub fn log_bytes(&self) -> u64 {
        self.log_bytes
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(sh) = &self.shared {
            sh.q.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
            sh.cv.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
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

fn writer(sh: Arc<Shared>, mut file: File, path: PathBuf, tx: Arc<watch::Sender<Progress>>) {
    loop {
        let (buf, seq, sync, compact, stop) = {
            let mut q = sh.q.lock().unwrap_or_else(|e| e.into_inner());
            while q.buf.is_empty() && q.compact.is_none() && !q.stop {
                q = sh.cv.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            let buf = std::mem::take(&mut q.buf);
            let sync = std::mem::take(&mut q.need_sync);
            (buf, q.seq, sync, q.compact.take(), q.stop)
        };
        let compacted = compact.is_some();
        let res: std::io::Result<()> = (|| {
            if let Some((snap, covered)) = compact {
                let tmp = tmp_path(&path);
                let mut f = File::create(&tmp)?;
                f.write_all(&snap)?;
                f.write_all(&buf[covered.min(buf.len())..])?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                sync_dir(&path);
                file = OpenOptions::new().append(true).open(&path)?;
                tracing::info!("{}: compacted to {} bytes", path.display(), snap.len());
            } else if !buf.is_empty() {
                file.write_all(&buf)?;
                if sync {
                    file.sync_data()?;
                }
            }
            Ok(())
        })();
        match res {
            Ok(()) => {
                tx.send_modify(|p| {
                    p.written = seq;
                    if sync || compacted {
                        p.synced = seq;
                    }
                });
            }
            Err(e) => tracing::error!("{}: write failed: {e}", path.display()),
        }
        if stop {
            let _ = file.sync_all();
            return;
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
                    row.cols[c].apply_diff(&d, ty);
                } else {
                    row.cols[c] = d;
                }
            }
            row.version = uuid::Uuid::new_v4();
            db.put_row(t, u, Some(Arc::new(row)));
        }
    }
    Ok(())
}
