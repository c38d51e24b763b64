//! The server engine: the served databases, sessions with their monitors,
//! and locks; dispatch of every JSON-RPC method.
//!
//! `Core` is plain synchronous state owned by one thread (the event loop,
//! a fuzz target, or a test). It is fed one parsed message at a time and
//! appends replies and notifications to the session's own outgoing queue
//! (a `VecDeque<Out>` inside `Core`: no channel, no wake-up). Each queued
//! message may carry a gate (database, log sequence number, durable or not)
//! so it is handed out only once the transaction it reveals is in the log,
//! or on disk when durable: replies and monitor updates can never get ahead
//! of storage. Handling a message never waits for I/O: commits only queue
//! their log records, and `flush` (run by the event loop once every ready
//! session has been read) writes them with one write(2) and at most one
//! fdatasync(2). Sessions that got output since the last `take_dirty` are
//! listed there, so the loop visits only those.
//!
//! Slow readers: each session counts the bytes of its queue and the bytes
//! its socket has not taken yet (`set_unsent`). A commit serializes monitor
//! updates only for sessions with no such backlog; for the others it merges
//! the row changes into the session's `Pending` (first old image, last new
//! image per row, rows inserted and deleted again forgotten), which holds
//! `Arc`s of rows and so stays within the size of the database however
//! many commits pass. The merged update is serialized when the session's
//! queue drains (`take_ready`), or before any other message queued for the
//! session, so that updates still precede the replies that follow them.
//! Each commit also records which tables it touched (`take_touched`), so
//! that waiting transactions are re-run only when one of theirs changed.

use crate::commit::{self, Committed, RowChange};
use crate::error::OvsdbError;
use crate::jsonrpc::{error_reply, notification, reply, transact_reply_bytes, Message};
use crate::lock::{LockMode, Locks, SessionId};
use crate::monitor::{self, Monitor, Version};
use crate::server_db;
use crate::storage::{Progress, Storage};
use crate::table::Db;
use crate::transact_text::TransactText;
use crate::transaction::{execute, ExecCtx, Outcome};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use uuid::Uuid;

/// Wait condition for an outgoing message: the log of database `db` has
/// reached `seq` (written, or synced when `durable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    pub db: usize,
    pub seq: u64,
    pub durable: bool,
}

impl Gate {
    pub fn is_open(&self, p: &Progress) -> bool {
        if self.durable {
            p.synced >= self.seq
        } else {
            p.written >= self.seq
        }
    }
}

/// One outgoing message.
#[derive(Debug)]
pub struct Out {
    pub msg: Vec<u8>,
    pub gate: Option<Gate>,
}

/// Number of committed transactions remembered for monitor_cond_since.
pub const HISTORY_LEN: usize = 256;
/// Bound on the atoms held by old row images in the history (about 2.5 MB),
/// so that many updates of a huge set do not pin many copies of it.
pub const HISTORY_ATOMS: usize = 100_000;

fn history_weight(c: &Committed) -> usize {
    c.changes
        .iter()
        .map(|ch| {
            1 + ch
                .old
                .as_ref()
                .map_or(0, |r| r.cols.iter().map(|d| d.len()).sum::<usize>())
        })
        .sum()
}

pub struct DbEntry {
    pub name: String,
    pub db: Db,
    pub storage: Storage,
    pub history: VecDeque<Arc<Committed>>,
    /// `history_weight` of each entry of `history` (computed once).
    history_weights: VecDeque<usize>,
    pub history_atoms: usize,
    pub last_txn: Uuid,
    pub read_only: bool,
    pub server_row: Uuid,
    /// `get_schema`'s result, serialized on first use.
    pub schema_text: std::cell::OnceCell<Vec<u8>>,
}

struct SessionState {
    /// Outgoing messages in order; the front one's gate holds back the rest.
    out: VecDeque<Out>,
    /// Bytes of the messages in `out`.
    queued: usize,
    /// Bytes the socket has not accepted yet (told by the event loop).
    unsent: usize,
    /// Whether the session is listed in `Core::dirty`.
    dirty: bool,
    monitors: crate::monitor_set::MonitorSet,
    /// Row changes not yet serialized for the monitors, per database.
    pending: HashMap<usize, Pending>,
}

impl SessionState {
    fn has_backlog(&self) -> bool {
        self.queued + self.unsent > 0
    }
}

/// Changes of one database merged while a session had a backlog.
struct Pending {
    rows: HashMap<(usize, Uuid), RowChange>,
    /// The last merged transaction (for update3).
    txn_id: Uuid,
    /// Covers every merged commit.
    gate: Gate,
}

impl Pending {
    fn merge(&mut self, c: &Committed, gate: Gate) {
        for ch in &c.changes {
            match self.rows.entry((ch.table, ch.uuid)) {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    e.get_mut().new = ch.new.clone();
                    if e.get().old.is_none() && e.get().new.is_none() {
                        e.remove();
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(ch.clone());
                }
            }
        }
        self.txn_id = c.txn_id;
        self.gate.seq = self.gate.seq.max(gate.seq);
        self.gate.durable |= gate.durable;
    }
}

/// What the caller must do after `handle`.
pub enum Handled {
    Done,
    /// A transaction waits for a "wait" condition: call `handle` again with
    /// the same message after the next commit or when `remaining_ms` pass.
    Retry {
        remaining_ms: Option<u64>,
    },
}

pub struct Core {
    pub dbs: Vec<DbEntry>,
    sessions: HashMap<SessionId, SessionState>,
    locks: Locks,
    next_sid: SessionId,
    /// Counts commits: the event loop re-runs waiting transactions and
    /// re-reads `db:` remotes when it changes.
    commits: u64,
    /// Sessions that got output since the last `take_dirty`.
    dirty: Vec<SessionId>,
    /// (database, table) pairs changed since the last `take_touched`.
    touched: Vec<(usize, usize)>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

impl Default for Core {
    fn default() -> Self {
        Self::new()
    }
}

impl Core {
    pub fn new() -> Core {
        let schema = server_db::server_schema();
        let db = server_db::build(schema, &[]);
        let mut c = Core {
            dbs: vec![DbEntry {
                name: "_Server".into(),
                db,
                storage: Storage::memory(),
                history: VecDeque::new(),
                history_weights: VecDeque::new(),
                history_atoms: 0,
                last_txn: Uuid::nil(),
                read_only: true,
                server_row: crate::uuidgen::fresh(),
                schema_text: Default::default(),
            }],
            sessions: HashMap::new(),
            locks: Locks::default(),
            next_sid: 1,
            commits: 0,
            dirty: Vec::new(),
            touched: Vec::new(),
        };
        c.rebuild_server_db();
        c
    }

    /// Adds a database. Fails if one with that name is already served.
    pub fn add_db(&mut self, db: Db, storage: Storage) -> Result<(), OvsdbError> {
        let name = db.schema.name.clone();
        if self.db_index(&name).is_some() {
            return Err(OvsdbError::new(
                "duplicate database",
                format!("{name} is already served"),
            ));
        }
        self.dbs.push(DbEntry {
            name,
            db,
            storage,
            history: VecDeque::new(),
            history_weights: VecDeque::new(),
            history_atoms: 0,
            last_txn: Uuid::nil(),
            read_only: false,
            server_row: crate::uuidgen::fresh(),
            schema_text: Default::default(),
        });
        self.rebuild_server_db();
        Ok(())
    }

    fn rebuild_server_db(&mut self) {
        let list: Vec<_> = self
            .dbs
            .iter()
            .map(|e| (e.name.clone(), e.db.schema.clone(), e.server_row))
            .collect();
        let schema = self.dbs[0].db.schema.clone();
        self.dbs[0].db = server_db::build(schema, &list);
    }

    pub fn db_index(&self, name: &str) -> Option<usize> {
        self.dbs.iter().position(|e| e.name == name)
    }

    pub fn db_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.dbs.iter().map(|e| e.name.clone()).collect();
        v.sort();
        v
    }

    /// Number of commits so far (changes whenever a transaction commits).
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Whether `flush` has records to write or sync.
    pub fn needs_flush(&self) -> bool {
        self.dbs.iter().any(|e| e.storage.needs_flush())
    }

    /// Writes (and syncs, where a durable transaction asks for it) every
    /// pending log record, opening the gates of the messages waiting on them.
    pub fn flush(&mut self) {
        for e in &mut self.dbs {
            e.storage.flush();
        }
    }

    /// Whether a message with `gate` may go out now.
    pub fn gate_open(&self, gate: Option<&Gate>) -> bool {
        match gate {
            None => true,
            Some(g) => self
                .dbs
                .get(g.db)
                .is_some_and(|e| g.is_open(&e.storage.progress())),
        }
    }

    pub fn open_session(&mut self) -> SessionId {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.sessions.insert(
            sid,
            SessionState {
                out: VecDeque::new(),
                queued: 0,
                unsent: 0,
                dirty: false,
                monitors: crate::monitor_set::MonitorSet::new(),
                pending: HashMap::new(),
            },
        );
        sid
    }

    /// Forgets session `sid` and its queued output; other sessions may get
    /// lock notifications.
    pub fn close_session(&mut self, sid: SessionId) {
        self.sessions.remove(&sid);
        for (s, m, name) in self.locks.drop_session(sid) {
            self.send(s, &notification(m, json!([name])), None);
        }
    }

    pub fn has_session(&self, sid: SessionId) -> bool {
        self.sessions.contains_key(&sid)
    }

    pub fn n_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Takes every queued message of `sid`, gated or not (for tests and
    /// tools on in-memory databases, whose gates are always open, or that
    /// check the gates themselves with `gate_open`).
    pub fn take_output(&mut self, sid: SessionId) -> impl Iterator<Item = Out> + '_ {
        let (dbs, dirty) = (&self.dbs, &mut self.dirty);
        self.sessions
            .get_mut(&sid)
            .map(|s| {
                flush_pending(s, dbs, dirty, sid);
                s.queued = 0;
                s.out.drain(..)
            })
            .into_iter()
            .flatten()
    }

    /// Bytes queued for session `sid` and not yet taken by its socket.
    pub fn backlog(&self, sid: SessionId) -> usize {
        self.sessions.get(&sid).map_or(0, |s| s.queued + s.unsent)
    }

    /// Tells how many bytes of `sid`'s output its socket has not taken.
    pub fn set_unsent(&mut self, sid: SessionId, n: usize) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.unsent = n;
        }
    }

    /// Moves the (database, table) pairs changed since the last call into
    /// `into` (cleared first; a pair may repeat).
    pub fn take_touched(&mut self, into: &mut Vec<(usize, usize)>) {
        into.clear();
        std::mem::swap(into, &mut self.touched);
    }

    /// Appends to `buf` the bytes of the queued messages of `sid` whose
    /// gates are open, in order, stopping at the first closed gate. Returns
    /// whether messages are still held back.
    pub fn take_ready(&mut self, sid: SessionId, buf: &mut Vec<u8>) -> bool {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return false;
        };
        loop {
            if s.out.is_empty() && !s.pending.is_empty() {
                // The session took everything: now its merged updates.
                flush_pending(s, &self.dbs, &mut self.dirty, sid);
            }
            let Some(o) = s.out.front() else {
                break;
            };
            if let Some(g) = &o.gate {
                let open = self
                    .dbs
                    .get(g.db)
                    .is_some_and(|e| g.is_open(&e.storage.progress()));
                if !open {
                    return true;
                }
            }
            let o = s.out.pop_front().expect("front exists");
            s.queued -= o.msg.len();
            tracing::trace!("session {sid} -> {}", String::from_utf8_lossy(&o.msg));
            if buf.is_empty() {
                // Usually the only message: take its buffer instead of copying.
                *buf = o.msg;
            } else {
                buf.extend_from_slice(&o.msg);
            }
        }
        false
    }

    /// Queues `out` for session `sid` behind its other messages.
    pub fn push(&mut self, sid: SessionId, out: Out) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            // Merged updates go first: they reveal commits that came before.
            flush_pending(s, &self.dbs, &mut self.dirty, sid);
            push_out(s, &mut self.dirty, sid, out);
        }
    }

    /// Whether session `sid` has queued messages (sent or held back).
    pub fn has_output(&self, sid: SessionId) -> bool {
        self.sessions
            .get(&sid)
            .is_some_and(|s| !s.out.is_empty() || !s.pending.is_empty())
    }

    /// Moves the list of sessions that got output since the last call into
    /// `into` (which is cleared first).
    pub fn take_dirty(&mut self, into: &mut Vec<SessionId>) {
        into.clear();
        std::mem::swap(into, &mut self.dirty);
        for sid in into.iter() {
            if let Some(s) = self.sessions.get_mut(sid) {
                s.dirty = false;
            }
        }
    }

    fn send(&mut self, sid: SessionId, v: &Value, gate: Option<Gate>) {
        self.send_bytes(sid, to_bytes(v), gate);
    }

    fn send_bytes(&mut self, sid: SessionId, msg: Vec<u8>, gate: Option<Gate>) {
        self.push(sid, Out { msg, gate });
    }

    fn lookup_db(&self, v: Option<&Value>) -> Result<usize, OvsdbError> {
        let name = v
            .and_then(Value::as_str)
            .ok_or_else(|| OvsdbError::syntax("database name expected as first parameter"))?;
        self.db_index(name).ok_or_else(|| {
            OvsdbError::new(
                "unknown database",
                format!("{name} is not a valid database name"),
            )
        })
    }

    /// The (database, table) pairs a transaction's operations name, or
    /// None if they cannot be told (then any commit may matter to it).
    pub fn txn_tables(&self, msg: &Message) -> Option<Vec<(usize, usize)>> {
        let owned;
        let p = match msg {
            Message::Request { method, params, .. } if method == "transact" => params,
            Message::Transact(t) => {
                owned = t.params_value();
                &owned
            }
            _ => return None,
        };
        let p = p.as_array()?;
        let i = self.db_index(p.first()?.as_str()?)?;
        let schema = &self.dbs[i].db.schema;
        let mut out = Vec::new();
        for op in &p[1..] {
            if let Some(t) = op.get("table") {
                out.push((i, schema.table(t.as_str()?)?));
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// Handles one message from session `sid`. `elapsed_ms` is the time
    /// since the message first arrived (for retried "wait" transactions).
    pub fn handle(&mut self, sid: SessionId, msg: &Message, elapsed_ms: u64) -> Handled {
        let (method, params, id) = match msg {
            Message::Request { method, params, id } => (method.as_str(), params, id),
            Message::Transact(t) => return self.transact_text(sid, t, elapsed_ms),
            Message::Echo { id, params } => {
                self.send_bytes(sid, crate::jsonrpc::echo_reply_bytes(id, params), None);
                return Handled::Done;
            }
            // Notifications ("cancel") and replies (to echo) need no answer.
            _ => return Handled::Done,
        };
        let p = params.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let res = match method {
            "transact" => return self.transact(sid, id, p, elapsed_ms),
            "echo" => {
                self.send_bytes(sid, crate::jsonrpc::reply_bytes(id, params), None);
                return Handled::Done;
            }
            "list_dbs" => Ok(json!(self.db_names())),
            "get_schema" => match self.lookup_db(p.first()) {
                Ok(i) => {
                    // Serialized once: a client may ask for it very often.
                    let e = &self.dbs[i];
                    let text = e
                        .schema_text
                        .get_or_init(|| to_bytes(&e.db.schema.canonical));
                    let bytes = crate::jsonrpc::reply_text_bytes(id, text);
                    self.send_bytes(sid, bytes, None);
                    return Handled::Done;
                }
                Err(e) => Err(e),
            },
            "monitor" => return self.monitor(sid, id, p, Version::V1),
            "monitor_cond" => return self.monitor(sid, id, p, Version::V2),
            "monitor_cond_since" => return self.monitor(sid, id, p, Version::V3),
            "monitor_cancel" => {
                self.flush_session(sid);
                let msg = match self.monitor_cancel(sid, p) {
                    Ok(r) => reply(id, r),
                    Err(e) => error_reply(id, e),
                };
                self.send(sid, &msg, None);
                return Handled::Done;
            }
            "monitor_cond_change" => return self.monitor_cond_change(sid, id, p),
            "lock" | "steal" | "unlock" => self.lock_op(sid, method, p),
            "set_db_change_aware" => crate::rpc_params::change_aware(p).map(|_| json!({})),
            "get_server_id" => Ok(json!(crate::uuidgen::text(&self.dbs[0].server_row))),
            _ => {
                self.send(sid, &error_reply(id, json!("unknown method")), None);
                return Handled::Done;
            }
        };
        match res {
            Ok(r) => self.send(sid, &reply(id, r), None),
            Err(e) => self.send(sid, &error_reply(id, e.to_json()), None),
        }
        Handled::Done
    }

    fn transact(&mut self, sid: SessionId, id: &Value, p: &[Value], elapsed_ms: u64) -> Handled {
        let i = match self.lookup_db(p.first()) {
            Ok(i) => i,
            Err(e) => {
                self.send(sid, &error_reply(id, e.to_json()), None);
                return Handled::Done;
            }
        };
        let out = self.with_exec_ctx(sid, i, elapsed_ms, |db, ctx| execute(db, &p[1..], ctx));
        self.finish_transact(sid, id, i, out)
    }

    /// Runs `f` on database `i` in the execution context of session `sid`
    /// (its locks, the database's read-only flag, the time already waited).
    fn with_exec_ctx<R>(
        &self,
        sid: SessionId,
        i: usize,
        elapsed_ms: u64,
        f: impl FnOnce(&Db, &ExecCtx) -> R,
    ) -> R {
        let has_lock = |n: &str| self.locks.holds(n, sid);
        let entry = &self.dbs[i];
        let ctx = ExecCtx {
            read_only: entry.read_only,
            has_lock: &has_lock,
            elapsed_ms,
        };
        f(&entry.db, &ctx)
    }

    /// `transact` from its text: the fast path (`transact_text`), or the
    /// generic engine for whatever the fast path leaves to it.
    fn transact_text(&mut self, sid: SessionId, t: &TransactText, elapsed_ms: u64) -> Handled {
        if let Some(i) = t.db_name().and_then(|n| self.db_index(&n)) {
            let fast = self.with_exec_ctx(sid, i, elapsed_ms, |db, ctx| {
                crate::transact_text::execute(db, t, ctx)
            });
            if let Some(out) = fast {
                return self.finish_transact(sid, &t.id, i, out);
            }
        }
        let params = t.params_value();
        let p = params.as_array().map(Vec::as_slice).unwrap_or(&[]);
        self.transact(sid, &t.id, p, elapsed_ms)
    }

    fn finish_transact(&mut self, sid: SessionId, id: &Value, i: usize, out: Outcome) -> Handled {
        let (results, prepared) = match out {
            Outcome::Retry { remaining_ms } => return Handled::Retry { remaining_ms },
            Outcome::Done { results, prepared } => (results, prepared),
        };
        let mut gate_durable = false;
        if let Some(prep) = prepared {
            gate_durable = self.commit(i, prep);
        }
        let gate = Gate {
            db: i,
            seq: self.dbs[i].storage.seq(),
            durable: gate_durable,
        };
        self.send_bytes(sid, transact_reply_bytes(id, &results), Some(gate));
        Handled::Done
    }

    /// Applies a prepared transaction, logs it and notifies monitors.
    /// Returns whether a durable record was queued (the reply must then
    /// wait for the fsync).
    fn commit(&mut self, i: usize, prep: crate::transaction::Prepared) -> bool {
        let durable = prep.durable;
        let entry = &mut self.dbs[i];
        let committed = commit::apply(&mut entry.db, prep);
        let schema = &entry.db.schema;
        let date = now_ms();
        let logged = entry.storage.append_with(durable, |out| {
            commit::write_log_record(schema, &committed, date, out)
        });
        let durable = durable && logged.is_some();
        entry.last_txn = committed.txn_id;
        let committed = Arc::new(committed);
        let weight = history_weight(&committed);
        entry.history_atoms += weight;
        entry.history.push_back(committed.clone());
        entry.history_weights.push_back(weight);
        while entry.history.len() > HISTORY_LEN
            || (entry.history_atoms > HISTORY_ATOMS && entry.history.len() > 1)
        {
            entry.history.pop_front();
            entry.history_atoms -= entry.history_weights.pop_front().unwrap_or(0);
        }
        let gate = Gate {
            db: i,
            seq: entry.storage.seq(),
            durable,
        };
        let schema = entry.db.schema.clone();
        for (&sid, s) in self.sessions.iter_mut() {
            if !s.monitors.values().any(|m| m.db == i) {
                continue;
            }
            if s.has_backlog() || s.pending.contains_key(&i) {
                // A slow reader: keep the rows, not their serialization.
                s.pending
                    .entry(i)
                    .or_insert_with(|| Pending {
                        rows: HashMap::new(),
                        txn_id: committed.txn_id,
                        gate,
                    })
                    .merge(&committed, gate);
                continue;
            }
            queue_updates(
                s,
                &mut self.dirty,
                sid,
                &schema,
                i,
                &committed.changes,
                committed.txn_id,
                gate,
            );
        }
        let mut tables: Vec<(usize, usize)> =
            committed.changes.iter().map(|c| (i, c.table)).collect();
        tables.sort_unstable();
        tables.dedup();
        self.touched.extend(tables);
        let entry = &mut self.dbs[i];
        if entry.storage.wants_compaction() {
            entry.storage.compact(&entry.db);
        }
        self.commits += 1;
        durable
    }

    /// Compacts database `i` now (unixctl ovsdb-server/compact).
    pub fn compact(&mut self, i: usize) {
        let entry = &mut self.dbs[i];
        entry.storage.compact(&entry.db);
    }

    /// Serializes the merged updates of `sid` now (before its monitors
    /// change, so that each change is judged by the monitors it happened
    /// under).
    fn flush_session(&mut self, sid: SessionId) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            flush_pending(s, &self.dbs, &mut self.dirty, sid);
        }
    }

    fn monitor(&mut self, sid: SessionId, id: &Value, p: &[Value], version: Version) -> Handled {
        self.flush_session(sid);
        let r = self.monitor_inner(sid, p, version);
        match r {
            Ok(v) => self.send(sid, &reply(id, v), None),
            Err(e) => self.send(sid, &error_reply(id, e.to_json()), None),
        }
        Handled::Done
    }

    fn monitor_inner(
        &mut self,
        sid: SessionId,
        p: &[Value],
        version: Version,
    ) -> Result<Value, OvsdbError> {
        let i = self.lookup_db(p.first())?;
        let monid = p
            .get(1)
            .cloned()
            .ok_or_else(|| OvsdbError::syntax("monitor id expected"))?;
        let reqs = p
            .get(2)
            .ok_or_else(|| OvsdbError::syntax("monitor requests expected"))?;
        let key = monid.to_string();
        if self
            .sessions
            .get(&sid)
            .is_some_and(|s| s.monitors.contains_key(&key))
        {
            return Err(OvsdbError::syntax("duplicate monitor ID"));
        }
        let last = match version {
            Version::V3 => crate::rpc_params::last_txn_id(p)?,
            _ => None,
        };
        let entry = &self.dbs[i];
        let tables = monitor::parse_requests(&entry.db.schema, reqs, version)?;
        let m = Monitor {
            id: monid,
            db: i,
            version,
            tables,
        };
        let result = if version == Version::V3 {
            let since = last.and_then(|l| {
                if l == entry.last_txn && !l.is_nil() {
                    return Some(Vec::new());
                }
                let pos = entry.history.iter().position(|c| c.txn_id == l)?;
                Some(merge_changes(entry.history.iter().skip(pos + 1)))
            });
            match since {
                Some(changes) => json!([
                    true,
                    crate::uuidgen::text(&entry.last_txn),
                    m.update(&entry.db.schema, &changes)
                        .unwrap_or_else(|| json!({}))
                ]),
                None => json!([
                    false,
                    crate::uuidgen::text(&entry.last_txn),
                    m.initial(&entry.db)
                ]),
            }
        } else {
            m.initial(&entry.db)
        };
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.monitors.insert(key, m);
        }
        Ok(result)
    }

    /// Errors of monitor_cancel are bare strings in OVS, not error objects.
    fn monitor_cancel(&mut self, sid: SessionId, p: &[Value]) -> Result<Value, Value> {
        let [key] = p else {
            return Err(json!("invalid parameters"));
        };
        let key = key.to_string();
        match self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.monitors.remove(&key))
        {
            Some(_) => Ok(json!({})),
            None => Err(json!("unknown monitor")),
        }
    }

    fn monitor_cond_change(&mut self, sid: SessionId, id: &Value, p: &[Value]) -> Handled {
        self.flush_session(sid);
        match self.cond_change_inner(sid, p) {
            Ok(update) => {
                // As OVS: the update moving rows in and out goes first.
                if let Some((method, params)) = update {
                    self.send(sid, &notification(method, params), None);
                }
                self.send(sid, &reply(id, json!({})), None);
            }
            Err(e) => self.send(sid, &error_reply(id, e.to_json()), None),
        }
        Handled::Done
    }

    #[allow(clippy::type_complexity)]
    fn cond_change_inner(
        &mut self,
        sid: SessionId,
        p: &[Value],
    ) -> Result<Option<(&'static str, Value)>, OvsdbError> {
        let old_key = p
            .first()
            .ok_or_else(|| OvsdbError::syntax("monitor id expected"))?
            .to_string();
        let new_id = p
            .get(1)
            .cloned()
            .ok_or_else(|| OvsdbError::syntax("new monitor id expected"))?;
        let reqs = p
            .get(2)
            .and_then(Value::as_object)
            .ok_or_else(|| OvsdbError::syntax("monitor-cond-change requests expected"))?;
        let sess = self
            .sessions
            .get_mut(&sid)
            .ok_or_else(|| OvsdbError::syntax("no session"))?;
        let new_key = new_id.to_string();
        if new_key != old_key && sess.monitors.contains_key(&new_key) {
            return Err(OvsdbError::syntax_in(&new_id, "monitor id already in use"));
        }
        let mut m = sess
            .monitors
            .remove(&old_key)
            .ok_or_else(|| OvsdbError::new("unknown monitor", "unknown monitor"))?;
        let db = &self.dbs[m.db].db;
        let probe = Monitor {
            id: Value::Null,
            db: m.db,
            version: m.version,
            tables: Vec::new(),
        };
        let schema = db.schema.clone();
        let mut out = serde_json::Map::new();
        for (tname, r) in reqs {
            let t = match schema.table(tname) {
                Some(t) => t,
                None => {
                    sess.monitors.insert(old_key, m);
                    return Err(OvsdbError::syntax(format!("no table named {tname}")));
                }
            };
            let ts = &schema.tables[t];
            let Some(mt) = m.tables.iter_mut().find(|x| x.table == t) else {
                continue;
            };
            let mut none = |_: &str| None;
            let w = match crate::rpc_params::cond_change_where(r) {
                Ok(w) => w,
                Err(e) => {
                    sess.monitors.insert(old_key, m);
                    return Err(e);
                }
            };
            let newc = match w {
                Some(w) => match crate::condition::Condition::from_json(ts, w, &mut none) {
                    Ok(c) => c,
                    Err(e) => {
                        sess.monitors.insert(old_key, m);
                        return Err(e);
                    }
                },
                None => continue,
            };
            if m.version == Version::V1 {
                // OVS accepts the change on a plain `monitor` and ignores
                // it: such a monitor keeps sending every row.
                continue;
            }
            let oldc = std::mem::replace(&mut mt.cond, newc);
            // Rows entering the condition are inserts, rows leaving it
            // deletes, in the monitor's own update form (a plain
            // `monitor` takes conditions too, as in OVS).
            let moving = monitor::MonTable {
                cond: crate::condition::Condition { clauses: vec![] },
                insert: true,
                delete: true,
                ..mt.clone()
            };
            let mut rows = serde_json::Map::new();
            for (u, row) in &db.tables[t].rows {
                let (om, nm) = (oldc.eval(u, row), mt.cond.eval(u, row));
                let j = match (om, nm) {
                    (false, true) => probe.row_update(ts, &moving, u, None, Some(row)),
                    (true, false) => probe.row_update(ts, &moving, u, Some(row), None),
                    _ => continue,
                };
                let Some(j) = j else { continue };
                rows.insert(crate::uuidgen::text(u), j);
            }
            if !rows.is_empty() {
                out.insert(tname.clone(), Value::Object(rows));
            }
        }
        m.id = new_id.clone();
        let method = m.method();
        let version = m.version;
        let last = self.dbs[m.db].last_txn;
        sess.monitors.insert(new_id.to_string(), m);
        if out.is_empty() {
            return Ok(None);
        }
        let params = match version {
            Version::V3 => json!([new_id, crate::uuidgen::text(&last), out]),
            _ => json!([new_id, out]),
        };
        Ok(Some((method, params)))
    }

    fn lock_op(&mut self, sid: SessionId, method: &str, p: &[Value]) -> Result<Value, OvsdbError> {
        let name = crate::rpc_params::lock_name(p)?.to_string();
        let notes = match method {
            "lock" | "steal" => {
                let mode = if method == "lock" {
                    LockMode::Wait
                } else {
                    LockMode::Steal
                };
                let (got, notes) = self.locks.acquire(&name, sid, mode)?;
                for (s, m, n) in notes {
                    self.send(s, &notification(m, json!([n])), None);
                }
                return Ok(json!({"locked": got}));
            }
            _ => self.locks.unlock(&name, sid)?,
        };
        for (s, m, n) in notes {
            self.send(s, &notification(m, json!([n])), None);
        }
        Ok(json!({}))
    }

    /// Listener targets named by `db:DB,TABLE,COLUMN` (OVS --remote syntax):
    /// strings in the column, or the `target` of referenced rows.
    pub fn db_remote_targets(&self, spec: &str) -> Vec<String> {
        let mut out = Vec::new();
        let parts: Vec<&str> = spec.splitn(3, ',').collect();
        if parts.len() != 3 {
            return out;
        }
        let Some(i) = self.db_index(parts[0]) else {
            return out;
        };
        let db = &self.dbs[i].db;
        let Some(t) = db.schema.table(parts[1]) else {
            return out;
        };
        let ts = &db.schema.tables[t];
        let Some(c) = ts.column(parts[2]) else {
            return out;
        };
        let ty = &ts.columns[c].ty;
        for r in db.tables[t].rows.values() {
            for a in r.cols[c].keys() {
                match a {
                    crate::atom::Atom::String(s) => out.push(s.to_string()),
                    crate::atom::Atom::Uuid(u) => {
                        if let Some(rt) = ty.key.ref_table_index() {
                            let rts = &db.schema.tables[rt];
                            if let (Some(row), Some(tc)) =
                                (db.tables[rt].rows.get(u), rts.column("target"))
                            {
                                if let Some(s) = row.cols[tc].first().and_then(|a| a.as_str()) {
                                    out.push(s.to_string());
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Queues `o` for `sid` and lists the session as dirty once.
fn push_out(s: &mut SessionState, dirty: &mut Vec<SessionId>, sid: SessionId, o: Out) {
    s.queued += o.msg.len();
    s.out.push_back(o);
    if !s.dirty {
        s.dirty = true;
        dirty.push(sid);
    }
}

/// Queues the update of every monitor of `s` on database `db` for
/// `changes` (of transaction `txn_id`, in the log once `gate` opens).
#[allow(clippy::too_many_arguments)]
fn queue_updates(
    s: &mut SessionState,
    dirty: &mut Vec<SessionId>,
    sid: SessionId,
    schema: &crate::schema::DatabaseSchema,
    db: usize,
    changes: &[RowChange],
    txn_id: Uuid,
    gate: Gate,
) {
    let mut outs = Vec::new();
    for m in s.monitors.values() {
        if m.db != db {
            continue;
        }
        if let Some(u) = m.update(schema, changes) {
            let params = match m.version {
                Version::V3 => json!([m.id, crate::uuidgen::text(&txn_id), u]),
                _ => json!([m.id, u]),
            };
            outs.push(Out {
                msg: to_bytes(&notification(m.method(), params)),
                gate: Some(gate),
            });
        }
    }
    for o in outs {
        push_out(s, dirty, sid, o);
    }
}

/// Serializes the merged changes of `s` (if any) onto its queue.
fn flush_pending(
    s: &mut SessionState,
    dbs: &[DbEntry],
    dirty: &mut Vec<SessionId>,
    sid: SessionId,
) {
    if s.pending.is_empty() {
        return;
    }
    let mut pending: Vec<(usize, Pending)> = s.pending.drain().collect();
    pending.sort_unstable_by_key(|(db, _)| *db);
    for (db, p) in pending {
        let Some(e) = dbs.get(db) else {
            continue;
        };
        let changes: Vec<RowChange> = p.rows.into_values().collect();
        queue_updates(s, dirty, sid, &e.db.schema, db, &changes, p.txn_id, p.gate);
    }
}

/// Collapses several transactions into one change per row (first old image,
/// last new image).
fn merge_changes<'a>(txns: impl Iterator<Item = &'a Arc<Committed>>) -> Vec<RowChange> {
    let mut idx: HashMap<(usize, Uuid), usize> = HashMap::new();
    let mut out: Vec<RowChange> = Vec::new();
    for c in txns {
        for ch in &c.changes {
            match idx.get(&(ch.table, ch.uuid)) {
                Some(&k) => out[k].new = ch.new.clone(),
                None => {
                    idx.insert((ch.table, ch.uuid), out.len());
                    out.push(ch.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(v: Value) -> Message {
        Message::from_value(v).unwrap()
    }

    /// A core serving the shipped schema from a fresh file, with a
    /// monitoring session and a writing session.
    fn file_core(dir: &std::path::Path) -> (Core, SessionId, SessionId) {
        let path = dir.join("conf.db");
        let schema: Value = serde_json::from_str(crate::VSWITCH_SCHEMA).unwrap();
        Storage::create(&path, &schema).unwrap();
        let (db, st) = Storage::open(&path).unwrap();
        let mut core = Core::new();
        core.add_db(db, st).unwrap();
        let mon = core.open_session();
        let w = core.open_session();
        core.handle(
            mon,
            &msg(
                json!({"id": 1, "method": "monitor_cond", "params": ["Open_vSwitch", null,
                {"Open_vSwitch": [{"columns": ["next_cfg"]}]}]}),
            ),
            0,
        );
        (core, mon, w)
    }

    fn ready(core: &mut Core, sid: SessionId) -> (Vec<Value>, bool) {
        let mut buf = Vec::new();
        let held = core.take_ready(sid, &mut buf);
        let v = serde_json::Deserializer::from_slice(&buf)
            .into_iter::<Value>()
            .map(Result::unwrap)
            .collect();
        (v, held)
    }

    #[test]
    fn replies_and_updates_wait_for_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (mut core, mon, w) = file_core(dir.path());
        let mut dirty = Vec::new();
        core.take_dirty(&mut dirty);
        assert_eq!(dirty, vec![mon]);
        let (v, held) = ready(&mut core, mon);
        assert_eq!((v.len(), held), (1, false), "monitor reply: no gate");
        assert!(v[0]["error"].is_null(), "{v:?}");

        for durable in [false, true] {
            // An insert, then a durable update of the same row.
            let mut ops = vec![json!("Open_vSwitch")];
            ops.push(if durable {
                json!({"op": "update", "table": "Open_vSwitch", "where": [], "row": {"next_cfg": 2}})
            } else {
                json!({"op": "insert", "table": "Open_vSwitch", "row": {"next_cfg": 1}})
            });
            if durable {
                ops.push(json!({"op": "commit", "durable": true}));
            }
            core.handle(
                w,
                &msg(json!({"id": 7, "method": "transact", "params": ops})),
                0,
            );
            core.take_dirty(&mut dirty);
            dirty.sort();
            assert_eq!(dirty, vec![mon, w]);
            // Not in the file yet: nothing may go out, to either session.
            assert!(core.needs_flush());
            assert_eq!(ready(&mut core, w), (vec![], true));
            assert_eq!(ready(&mut core, mon), (vec![], true));
            assert!(core.has_output(w) && core.has_output(mon));
            core.flush();
            assert!(!core.needs_flush());
            let (r, held) = ready(&mut core, w);
            assert!(!held && r[0]["id"] == 7 && r[0]["error"].is_null(), "{r:?}");
            let (u, held) = ready(&mut core, mon);
            assert!(!held && u[0]["method"] == "update2", "{u:?}");
            assert!(!core.has_output(w) && !core.has_output(mon));
        }
        // The gate of a durable reply needs the sync, not just the write.
        let g = Gate {
            db: 1,
            seq: 5,
            durable: true,
        };
        assert!(!g.is_open(&Progress {
            written: 5,
            synced: 4
        }));
        assert!(g.is_open(&Progress {
            written: 5,
            synced: 5
        }));
        let g = Gate {
            durable: false,
            ..g
        };
        assert!(g.is_open(&Progress {
            written: 5,
            synced: 0
        }));
    }

    /// A monitor whose socket has a backlog gets no serialized update per
    /// commit: the rows are merged (first old, last new, an insert then
    /// delete forgotten) and serialized once, when it drains or before its
    /// next reply.
    #[test]
    fn updates_for_a_slow_reader_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        let (mut core, mon, w) = file_core(dir.path());
        let _ = ready(&mut core, mon);
        let tx = |core: &mut Core, id: u64, op: Value| {
            core.handle(
                w,
                &msg(json!({"id": id, "method": "transact", "params": ["Open_vSwitch", op]})),
                0,
            );
        };
        core.set_unsent(mon, 100);
        tx(
            &mut core,
            1,
            json!({"op": "insert", "table": "Open_vSwitch", "row": {"next_cfg": 1}}),
        );
        for n in 2..=5 {
            tx(
                &mut core,
                n,
                json!({"op": "update", "table": "Open_vSwitch", "where": [], "row": {"next_cfg": n}}),
            );
        }
        tx(
            &mut core,
            9,
            json!({"op": "insert", "table": "Open_vSwitch", "row": {"next_cfg": 9}}),
        );
        tx(
            &mut core,
            10,
            json!({"op": "delete", "table": "Open_vSwitch", "where": [["next_cfg", "==", 9]]}),
        );
        core.flush();
        assert_eq!(
            core.backlog(mon),
            100,
            "nothing queued: only the socket's bytes"
        );
        assert!(core.has_output(mon), "merged changes are pending output");
        core.set_unsent(mon, 0);
        let (v, held) = ready(&mut core, mon);
        assert!(!held);
        assert_eq!(v.len(), 1, "{v:?}");
        let rows = v[0]["params"][1]["Open_vSwitch"].as_object().unwrap();
        assert_eq!(rows.len(), 1, "{v:?}");
        let row = rows.values().next().unwrap();
        assert_eq!(row["insert"]["next_cfg"], 5, "{v:?}");

        // Merged updates go out before a reply queued after them.
        core.set_unsent(mon, 100);
        tx(
            &mut core,
            11,
            json!({"op": "update", "table": "Open_vSwitch", "where": [], "row": {"next_cfg": 6}}),
        );
        core.handle(
            mon,
            &msg(json!({"id": 12, "method": "echo", "params": []})),
            0,
        );
        core.flush();
        let (v, _) = ready(&mut core, mon);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0]["method"], "update2");
        assert_eq!(v[1]["id"], 12);
    }

    #[test]
    fn output_stays_in_order_behind_a_closed_gate() {
        let dir = tempfile::tempdir().unwrap();
        let (mut core, _mon, w) = file_core(dir.path());
        core.handle(
            w,
            &msg(
                json!({"id": 1, "method": "transact", "params": ["Open_vSwitch",
            {"op": "insert", "table": "Open_vSwitch", "row": {}}]}),
            ),
            0,
        );
        // An ungated reply queued after a gated one waits behind it.
        core.handle(w, &msg(json!({"id": 2, "method": "echo", "params": []})), 0);
        assert_eq!(ready(&mut core, w), (vec![], true));
        core.flush();
        let (v, _) = ready(&mut core, w);
        let ids: Vec<&Value> = v.iter().map(|m| &m["id"]).collect();
        assert_eq!(ids, [&json!(1), &json!(2)]);
        // Closing a session drops its queue.
        core.handle(w, &msg(json!({"id": 3, "method": "echo", "params": []})), 0);
        core.close_session(w);
        assert!(!core.has_output(w) && core.take_output(w).next().is_none());
    }
}
