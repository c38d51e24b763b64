//! Durable storage of one database: replay of an existing log at start-up,
//! appends with group commit, and online compaction.
//!
//! The engine encodes each transaction's record into a pending buffer while
//! it holds the engine lock and gets back a sequence number; nothing touches
//! the disk yet. Once every session woken by the same poll has run, the
//! event loop calls `flush`: one write(2) puts all pending records in the
//! file (in commit order), and if any of them is durable one fdatasync(2)
//! covers them all. Only then does `progress` move on; replies and monitor
//! updates are gated on it (written, or synced when durable), so nothing is
//! acknowledged before it is in the file or on disk, and no thread hop or
//! wake-up is paid per transaction (the event loop reads `progress` right
//! after the flush, on the same thread). Compaction
//! (on OVS's schedule: not within 10-20 minutes of the last one, then when
//! the log grew a lot) writes a full snapshot to a temporary file, fsyncs
//! it and renames it over the log atomically; the temporary file's
//! descriptor becomes the log's (no re-open that could fail once the old
//! log is gone), and any failure from the rename on stops all
//! acknowledgements, as a failed write does.

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
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How far storage has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub written: u64,
    pub synced: u64,
}

/// Storage of one database: a file, or nothing (in-memory databases).
pub struct Storage {
    file: Option<File>,
    /// Sequence number of the last appended record.
    seq: u64,
    /// Encoded records appended since the last flush (all up to `seq`).
    pending: Vec<u8>,
    /// What the last flush achieved (see `progress`).
    done: Progress,
    /// Highest sequence number that must be fsynced.
    sync_wanted: u64,
    log_bytes: u64,
    snapshot_bytes: u64,
    /// Transaction records in the log since the last snapshot.
    records: u64,
    /// Compaction window (see `wants_compaction`).
    next_compact_min: Instant,
    next_compact_max: Instant,
    failed: bool,
    /// A compaction step made to fail (see `inject_compaction_fault`).
    fault: Option<CompactStep>,
    pub path: Option<PathBuf>,
}

/// The steps of a compaction, in order (for fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactStep {
    OpenDir,
    CreateTemp,
    WriteTemp,
    SyncTemp,
    Rename,
    SyncDir,
}

impl CompactStep {
    pub const ALL: [CompactStep; 6] = [
        CompactStep::OpenDir,
        CompactStep::CreateTemp,
        CompactStep::WriteTemp,
        CompactStep::SyncTemp,
        CompactStep::Rename,
        CompactStep::SyncDir,
    ];
}

/// Minimum log size before automatic compaction.
pub const COMPACT_MIN_BYTES: u64 = 10 * 1024 * 1024;
/// As OVS: no automatic compaction sooner than 10 to 20 minutes after the
/// database was opened or last compacted (a random point in that range)...
const COMPACT_MIN_DELAY: Duration = Duration::from_secs(10 * 60);
/// ...and one at least once a day if anything was logged.
const COMPACT_MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);
/// After a compaction that failed before replacing the log (nothing lost),
/// the next automatic attempt waits this long (not at every commit).
const COMPACT_RETRY_DELAY: Duration = Duration::from_secs(60);

/// The compaction window starting now.
fn compact_window() -> (Instant, Instant) {
    let now = Instant::now();
    let jitter =
        Duration::from_millis(rand::random::<u64>() % COMPACT_MIN_DELAY.as_millis() as u64);
    (now + COMPACT_MIN_DELAY + jitter, now + COMPACT_MAX_DELAY)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Storage {
    pub fn memory() -> Storage {
        let (next_compact_min, next_compact_max) = compact_window();
        Storage {
            file: None,
            seq: 0,
            pending: Vec::new(),
            done: Progress::default(),
            sync_wanted: 0,
            log_bytes: 0,
            snapshot_bytes: 0,
            records: 0,
            next_compact_min,
            next_compact_max,
            failed: false,
            fault: None,
            path: None,
        }
    }

    /// How far the log has got: everything up to `written` is in the file,
    /// up to `synced` on disk.
    pub fn progress(&self) -> Progress {
        self.done
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
        sync_dir(path).map_err(|e| io_err(path, e))?;
        Ok(())
    }

    /// Opens `path` and replays it into a database.
    pub fn open(path: &Path) -> Result<(Db, Storage), OvsdbError> {
        let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
        let mut db: Option<Db> = None;
        let mut records = 0;
        let (good_len, tail_error) = log::for_each_record(&data, &mut |rec| {
            match db.as_mut() {
                None => db = Some(Db::new(Arc::new(DatabaseSchema::from_json(&rec)?))),
                Some(d) => {
                    replay(d, &rec)?;
                    records += 1;
                }
            }
            Ok(())
        })?;
        drop(data);
        let db = db.ok_or_else(|| {
            OvsdbError::new("I/O error", format!("{}: no schema record", path.display()))
        })?;
        if let Some(e) = &tail_error {
            tracing::warn!("{}: {e}; dropping the torn tail", path.display());
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io_err(path, e))?;
            f.set_len(good_len as u64).map_err(|e| io_err(path, e))?;
            f.sync_all().map_err(|e| io_err(path, e))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        let mut s = Storage::memory();
        s.path = Some(path.to_path_buf());
        s.log_bytes = good_len as u64;
        s.snapshot_bytes = good_len as u64;
        s.records = records;
        s.file = Some(file);
        Ok((db, s))
    }

    /// Queues `record` for the log; returns its sequence number. It is in
    /// the file (and, if `durable`, on disk) once `flush` has covered it.
    pub fn append(&mut self, record: &Value, durable: bool) -> u64 {
        self.append_with(durable, |b| serde_json::to_writer(b, record).is_ok())
            .unwrap_or(self.seq)
    }

    /// Queues the record whose JSON text `body` writes (see
    /// `log::encode_record_with`; false: nothing to log). Returns its
    /// sequence number, or None when there was no record.
    pub fn append_with(
        &mut self,
        durable: bool,
        body: impl FnOnce(&mut Vec<u8>) -> bool,
    ) -> Option<u64> {
        if self.file.is_none() {
            if !body(&mut Vec::new()) {
                return None;
            }
            self.seq += 1;
            let seq = self.seq;
            self.done = Progress {
                written: seq,
                synced: seq,
            };
            return Some(seq);
        }
        if !log::encode_record_with(&mut self.pending, body) {
            return None;
        }
        self.seq += 1;
        let seq = self.seq;
        self.records += 1;
        if durable {
            self.sync_wanted = seq;
        }
        Some(seq)
    }

    /// Whether `flush` has anything to do.
    pub fn needs_flush(&self) -> bool {
        !self.failed && (!self.pending.is_empty() || self.sync_wanted > self.done.synced)
    }

    /// Writes every pending record with one write(2), fdatasyncs once if
    /// any of them is durable, then publishes the new progress. After a
    /// write or sync error nothing more is ever acknowledged.
    pub fn flush(&mut self) {
        if !self.needs_flush() {
            return;
        }
        let Some(f) = self.file.as_mut() else {
            return;
        };
        let mut now = self.done;
        if !self.pending.is_empty() {
            if let Err(e) = f.write_all(&self.pending) {
                tracing::error!("{:?}: write failed: {e}", self.path);
                self.failed = true;
                return;
            }
            self.log_bytes += self.pending.len() as u64;
            self.pending.clear();
            now.written = self.seq;
        }
        if self.sync_wanted > now.synced {
            // fdatasync, as OVS does: the data and the file size are on
            // disk, which is all a reader of the log needs.
            if let Err(e) = f.sync_data() {
                tracing::error!("{:?}: fdatasync failed: {e}", self.path);
                self.failed = true;
                return;
            }
            now.synced = now.written;
        }
        self.done = now;
    }

    /// Whether to compact now, by OVS's rule: never inside the minimum
    /// delay; then once at least 100 records were logged and the log is over
    /// 10 MB and 4 times its size after the last snapshot; past the maximum
    /// delay, if anything at all was logged.
    pub fn wants_compaction(&self) -> bool {
        if self.file.is_none() || self.failed {
            return false;
        }
        let now = Instant::now();
        if now < self.next_compact_min {
            return false;
        }
        if now >= self.next_compact_max {
            return self.records > 0;
        }
        let bytes = self.log_bytes + self.pending.len() as u64;
        self.records >= 100 && bytes >= COMPACT_MIN_BYTES && bytes >= 4 * self.snapshot_bytes.max(1)
    }

    /// Rewrites the log as a snapshot of `db`, atomically. The snapshot
    /// holds every pending record's changes, so those are dropped.
    ///
    /// Every descriptor is opened before the rename (the directory's too),
    /// and the temporary file's own descriptor becomes the log: nothing
    /// can fail for lack of descriptors once the old log is unlinked. A
    /// failure before the rename leaves the old log in use, untouched; any
    /// failure from the rename on (including the directory fsync that makes
    /// it durable) is a storage failure, as a failed write: nothing more is
    /// acknowledged.
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
        let tmp = tmp_path(&path);
        let prepared: std::io::Result<(File, File)> = (|| {
            self.fault(CompactStep::OpenDir)?;
            let dir = File::open(dir_of(&path))?;
            self.fault(CompactStep::CreateTemp)?;
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            self.fault(CompactStep::WriteTemp)?;
            f.write_all(&snap)?;
            self.fault(CompactStep::SyncTemp)?;
            f.sync_all()?;
            Ok((f, dir))
        })();
        let (f, dir) = match prepared {
            Ok(x) => x,
            Err(e) => {
                // The old log is still the log; the pending records go
                // there at the next flush.
                tracing::error!("{}: compaction failed: {e}", path.display());
                let _ = std::fs::remove_file(&tmp);
                self.next_compact_min = Instant::now() + COMPACT_RETRY_DELAY;
                return;
            }
        };
        let renamed = self
            .fault(CompactStep::Rename)
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = renamed {
            // rename(2) is atomic: the old log is whole and still in use.
            tracing::error!("{}: compaction failed: rename: {e}", path.display());
            let _ = std::fs::remove_file(&tmp);
            self.next_compact_min = Instant::now() + COMPACT_RETRY_DELAY;
            return;
        }
        // From here the old log is unlinked: writing on into it would lose
        // whatever is acknowledged next.
        self.file = Some(f);
        self.pending.clear();
        self.seq += 1;
        let synced = self
            .fault(CompactStep::SyncDir)
            .and_then(|()| dir.sync_all());
        if let Err(e) = synced {
            tracing::error!(
                "{}: compaction failed: directory fsync: {e}; storage stopped",
                path.display()
            );
            self.failed = true;
            return;
        }
        tracing::info!("{}: compacted to {} bytes", path.display(), snap.len());
        let seq = self.seq;
        self.sync_wanted = seq;
        self.snapshot_bytes = snap.len() as u64;
        self.log_bytes = snap.len() as u64;
        self.records = 0;
        (self.next_compact_min, self.next_compact_max) = compact_window();
        self.done = Progress {
            written: seq,
            synced: seq,
        };
    }

    /// Whether a write, sync or compaction failed: from then on nothing
    /// more is acknowledged.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Makes the next compaction fail at `step` (tests of its error paths).
    #[doc(hidden)]
    pub fn inject_compaction_fault(&mut self, step: Option<CompactStep>) {
        self.fault = step;
    }

    fn fault(&self, step: CompactStep) -> std::io::Result<()> {
        if self.fault == Some(step) {
            return Err(std::io::Error::other(format!("injected fault at {step:?}")));
        }
        Ok(())
    }

    pub fn log_bytes(&self) -> u64 {
        self.log_bytes
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.flush();
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

/// The directory holding `p`.
fn dir_of(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes a rename in `p`'s directory durable.
fn sync_dir(p: &Path) -> std::io::Result<()> {
    File::open(dir_of(p))?.sync_all()
}

fn io_err(p: &Path, e: std::io::Error) -> OvsdbError {
    OvsdbError::new("I/O error", format!("{}: {e}", p.display()))
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
            row.version = crate::uuidgen::fresh();
            db.put_row(t, u, Some(Arc::new(row)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compaction_waits_for_the_minimum_delay_as_ovs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let schema = json!({"name": "T", "version": "1.0.0", "tables": {"A": {"columns": {"s": {"type": "string"}}}}});
        Storage::create(&path, &schema).unwrap();
        let (_db, mut st) = Storage::open(&path).unwrap();
        let big = "x".repeat(100 * 1024);
        for _ in 0..110 {
            st.append(&json!({"A": {"s": big}}), false);
        }
        st.flush();
        assert!(st.log_bytes() > COMPACT_MIN_BYTES);
        // Grown a lot, but opened just now.
        assert!(!st.wants_compaction());
        st.next_compact_min = Instant::now() - Duration::from_secs(1);
        assert!(st.wants_compaction());
        // Fewer than 100 records since the last snapshot: not yet.
        st.records = 99;
        assert!(!st.wants_compaction());
        // Past the maximum delay any record is enough.
        st.next_compact_max = Instant::now() - Duration::from_secs(1);
        assert!(st.wants_compaction());
    }

    /// A compaction that failed before replacing the log is not retried
    /// at every commit (each attempt writes a whole snapshot).
    #[test]
    fn failed_compaction_waits_before_the_next_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let schema = json!({"name": "T", "version": "1.0.0", "tables": {"A": {"columns": {"s": {"type": "string"}}}}});
        Storage::create(&path, &schema).unwrap();
        let (db, mut st) = Storage::open(&path).unwrap();
        st.append(&json!({"A": {}}), false);
        st.flush();
        st.next_compact_min = Instant::now() - Duration::from_secs(1);
        st.next_compact_max = Instant::now() - Duration::from_secs(1);
        assert!(st.wants_compaction());
        st.inject_compaction_fault(Some(CompactStep::CreateTemp));
        st.compact(&db);
        assert!(!st.failed());
        assert!(!st.wants_compaction(), "retried at once");
        st.next_compact_min = Instant::now() - Duration::from_secs(1);
        assert!(st.wants_compaction(), "retried after the delay");
    }
}
