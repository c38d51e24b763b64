//! The transaction engine: executes the operations of one `transact` request
//! against a copy-on-write view of a database, then checks the commit
//! (referential integrity, garbage collection of orphaned non-root rows, weak
//! reference cleanup, maxRows, unique indexes).
//!
//! A `Txn` borrows the committed database read-only and records only the rows
//! it touches (`changes`, per table, old image shared by `Arc`), so a
//! transaction costs O(rows touched), never O(database). `prepare` turns it
//! into an owned change list that `commit::apply` installs in one step.

use crate::atom::{parse_uuid, Atom};
use crate::condition::{column_ref, ColRef, Condition};
use crate::datum::Datum;
use crate::error::{OvsdbError, Result};
use crate::mutation::{self, parse_mutations};
use crate::row::{uuid_json, Row};
use crate::schema::TableSchema;
use crate::table::{Db, RowKeyMap, UuidMap};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

/// A row touched by a transaction.
#[derive(Debug, Clone)]
pub struct Change {
    pub old: Option<Arc<Row>>,
    /// None: deleted (or inserted then deleted).
    pub new: Option<Row>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Symbol {
    pub(crate) uuid: Uuid,
    pub(crate) created: bool,
    /// Used in a column that references a table.
    pub(crate) in_ref: bool,
}

/// The uuid that named-uuid `n` stands for in a row's column (a fresh one
/// the first time); `is_ref` says whether the column references a table.
pub(crate) fn row_symbol(symtab: &mut HashMap<String, Symbol>, n: &str, is_ref: bool) -> Uuid {
    let s = symtab.entry(n.to_string()).or_insert_with(|| Symbol {
        uuid: crate::uuidgen::fresh(),
        created: false,
        in_ref: false,
    });
    s.in_ref |= is_ref;
    s.uuid
}

/// Makes a symbol (as [`row_symbol`]) of every `["named-uuid", NAME]` in
/// the JSON value `v`.
fn declare_named(symtab: &mut HashMap<String, Symbol>, v: &Value, is_ref: bool) {
    if let Some(a) = v.as_array() {
        if let [Value::String(tag), Value::String(n)] = a.as_slice() {
            if tag == "named-uuid" {
                row_symbol(symtab, n, is_ref);
                return;
            }
        }
        for x in a {
            declare_named(symtab, x, is_ref);
        }
    }
}

/// Whether a column's keys or values reference a table.
pub(crate) fn is_ref_column(ty: &crate::schema::ColumnType) -> bool {
    ty.key.ref_table.is_some() || ty.value.as_ref().is_some_and(|v| v.ref_table.is_some())
}

/// What the caller knows about the session and the clock.
pub struct ExecCtx<'a> {
    /// `_Server` and other reserved databases reject writes.
    pub read_only: bool,
    /// Whether the session holds lock `name` (for "assert").
    pub has_lock: &'a dyn Fn(&str) -> bool,
    /// Milliseconds since the request first arrived (for "wait").
    pub elapsed_ms: u64,
}

/// One operation's result. The common shapes stay unbuilt and are written
/// straight into the reply (`write_json`); `to_json` gives the same JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// `{"uuid":["uuid","..."]}` (insert).
    Uuid(Uuid),
    /// `{"count":N}` (update, mutate, delete).
    Count(usize),
    /// `{}` (commit, comment, assert, wait).
    Empty,
    /// Anything else: select rows, an error object, `null` after an error.
    Json(Value),
}

impl OpResult {
    pub fn to_json(&self) -> Value {
        match self {
            OpResult::Uuid(u) => json!({"uuid": uuid_json(u)}),
            OpResult::Count(n) => json!({"count": n}),
            OpResult::Empty => json!({}),
            OpResult::Json(v) => v.clone(),
        }
    }

    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            OpResult::Uuid(u) => {
                out.extend_from_slice(b"{\"uuid\":");
                crate::atom::write_uuid_json(u, out);
                out.push(b'}');
            }
            OpResult::Count(n) => {
                out.extend_from_slice(b"{\"count\":");
                let _ = serde_json::to_writer(&mut *out, n);
                out.push(b'}');
            }
            OpResult::Empty => out.extend_from_slice(b"{}"),
            OpResult::Json(v) => {
                let _ = serde_json::to_writer(&mut *out, v);
            }
        }
    }
}

/// The outcome of executing a transaction.
pub enum Outcome {
    /// The result array and, if it succeeded and changed something, the
    /// prepared change list.
    Done {
        results: Vec<OpResult>,
        prepared: Option<Prepared>,
    },
    /// A "wait" is not satisfied yet: retry after a change, at most this
    /// many milliseconds from now (None: forever).
    Retry { remaining_ms: Option<u64> },
}

/// One row of a prepared change list: table, uuid, old image, new image.
pub type PreparedRow = (usize, Uuid, Option<Arc<Row>>, Option<Row>);

/// A checked, owned change list ready to apply.
#[derive(Debug)]
pub struct Prepared {
    pub changes: Vec<PreparedRow>,
    /// Net strong reference count change per target row.
    pub ref_delta: RowKeyMap<i64>,
    pub durable: bool,
    pub comment: Option<String>,
}

pub struct Txn<'a> {
    db: &'a Db,
    pub changes: Vec<UuidMap<Change>>,
    /// Tables whose `changes` were ever non-empty (maybe repeated, see
    /// `touched`), so that commit checks visit only those.
    touched: Vec<usize>,
    pub(crate) symtab: HashMap<String, Symbol>,
    pub(crate) durable: bool,
    pub(crate) comments: Vec<String>,
}

enum OpError {
    Err(OvsdbError),
    Retry(Option<u64>),
}
impl From<OvsdbError> for OpError {
    fn from(e: OvsdbError) -> Self {
        OpError::Err(e)
    }
}

const READ_ONLY_OPS: &[&str] = &["select", "wait", "abort", "comment", "assert"];

/// Executes the operations `ops` (the params after the database name).
pub fn execute(db: &Db, ops: &[Value], ctx: &ExecCtx) -> Outcome {
    let mut txn = Txn::new(db);
    let mut results = Vec::with_capacity(ops.len());
    let mut failed = false;
    for op in ops {
        match txn.run_op(op, ctx) {
            Ok(r) => results.push(r),
            Err(OpError::Retry(rem)) => return Outcome::Retry { remaining_ms: rem },
            Err(OpError::Err(e)) => {
                results.push(OpResult::Json(e.to_json()));
                failed = true;
                break;
            }
        }
    }
    while results.len() < ops.len() {
        results.push(OpResult::Json(Value::Null));
    }
    if failed {
        return Outcome::Done {
            results,
            prepared: None,
        };
    }
    match txn.prepare() {
        Ok(p) => Outcome::Done {
            results,
            prepared: if p.changes.is_empty() { None } else { Some(p) },
        },
        Err(e) => {
            results.push(OpResult::Json(e.to_json()));
            Outcome::Done {
                results,
                prepared: None,
            }
        }
    }
}

/// Member `k` of a small object by a linear scan (an operation has a
/// handful of members: comparing them beats hashing `k`), else by hash.
fn get<'v>(o: &'v Map<String, Value>, k: &str) -> Option<&'v Value> {
    if o.len() <= 8 {
        o.iter().find(|(n, _)| n.as_str() == k).map(|(_, v)| v)
    } else {
        o.get(k)
    }
}

fn member<'v>(o: &'v Map<String, Value>, k: &str) -> Result<&'v Value> {
    get(o, k).ok_or_else(|| OvsdbError::syntax(format!("Required '{k}' member is missing.")))
}

fn check_members(o: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    for k in o.keys() {
        if k != "op" && !allowed.contains(&k.as_str()) {
            return Err(OvsdbError::syntax(format!(
                "Member '{k}' is present but not allowed here."
            )));
        }
    }
    Ok(())
}

impl<'a> Txn<'a> {
    pub fn new(db: &'a Db) -> Self {
        Txn {
            db,
            changes: (0..db.tables.len()).map(|_| UuidMap::default()).collect(),
            touched: Vec::with_capacity(4),
            symtab: HashMap::new(),
            durable: false,
            comments: Vec::new(),
        }
    }

    /// Notes that table `t` is about to get a change.
    #[inline]
    fn mark(&mut self, t: usize) {
        if self.changes[t].is_empty() {
            self.touched.push(t);
        }
    }

    /// Runs `f` with the touched tables (in table order, once each); tables
    /// that `f` touches anew are kept for the next call.
    fn with_touched<R>(&mut self, f: impl FnOnce(&mut Self, &[usize]) -> R) -> R {
        let mut t = std::mem::take(&mut self.touched);
        t.sort_unstable();
        t.dedup();
        let r = f(self, &t);
        t.append(&mut self.touched);
        self.touched = t;
        r
    }

    pub(crate) fn db(&self) -> &'a Db {
        self.db
    }

    pub(crate) fn ts(&self, t: usize) -> &'a TableSchema {
        &self.db.schema.tables[t]
    }

    /// The row as this transaction sees it.
    pub fn get(&self, t: usize, u: &Uuid) -> Option<&Row> {
        match self.changes[t].get(u) {
            Some(c) => c.new.as_ref(),
            None => self.db.tables[t].rows.get(u).map(|r| &**r),
        }
    }

    fn get_mut(&mut self, t: usize, u: &Uuid) -> Option<&mut Row> {
        let db = self.db;
        self.mark(t);
        let e = self.changes[t].entry(*u);
        let c = match e {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let old = db.tables[t].rows.get(u)?.clone();
                v.insert(Change {
                    new: Some((*old).clone()),
                    old: Some(old),
                })
            }
        };
        c.new.as_mut()
    }

    fn delete_row(&mut self, t: usize, u: &Uuid) {
        let old = self.db.tables[t].rows.get(u).cloned();
        self.mark(t);
        let c = self.changes[t]
            .entry(*u)
            .or_insert(Change { old, new: None });
        c.new = None;
    }

    fn table(&self, o: &Map<String, Value>) -> Result<usize> {
        let name = member(o, "table")?
            .as_str()
            .ok_or_else(|| OvsdbError::syntax("Type mismatch for member 'table'."))?;
        self.db
            .schema
            .table(name)
            .ok_or_else(|| OvsdbError::syntax(format!("No table named {name}.")))
    }

    pub(crate) fn condition(&mut self, ts: &TableSchema, v: &Value) -> Result<Condition> {
        let symtab = &mut self.symtab;
        let mut named = |n: &str| symtab.get(n).map(|s| s.uuid);
        Condition::from_json(ts, v, &mut named)
    }

    /// Uuids of rows of table `t` matching `cond`, in this transaction's view.
    fn matching(&self, t: usize, cond: &Condition) -> Vec<Uuid> {
        if let Some(u) = cond.uuid_eq() {
            return match self.get(t, &u) {
                Some(r) if cond.eval(&u, r) => vec![u],
                _ => vec![],
            };
        }
        let mut out = Vec::new();
        let ch = &self.changes[t];
        for (u, r) in &self.db.tables[t].rows {
            if !ch.contains_key(u) && cond.eval(u, r) {
                out.push(*u);
            }
        }
        for (u, c) in ch {
            if let Some(r) = &c.new {
                if cond.eval(u, r) {
                    out.push(*u);
                }
            }
        }
        out
    }

    /// Parses a `<row>` for insert or update.
    fn parse_row(
        &mut self,
        ts: &TableSchema,
        v: &Value,
        update: bool,
    ) -> Result<Vec<(usize, Datum)>> {
        let o = v
            .as_object()
            .ok_or_else(|| OvsdbError::syntax("row must be an object"))?;
        let mut out = Vec::with_capacity(o.len());
        for (k, x) in o {
            let c = match ts.column(k) {
                Some(c) => c,
                None if (k == "_uuid" || k == "_version") && !update => {
                    // OVS parses them (a uuid) and ignores them on insert.
                    let mut none = |_: &str| Some(Uuid::nil());
                    Datum::from_json(&crate::condition::uuid_type(), x, &mut none, false)?;
                    continue;
                }
                None if k == "_uuid" || k == "_version" => {
                    return Err(OvsdbError::constraint(format!(
                        "Cannot update immutable column {k} in table {}.",
                        ts.name
                    )))
                }
                None => {
                    return Err(OvsdbError::new(
                        "unknown column",
                        format!("No column {k} in table {}.", ts.name),
                    ))
                }
            };
            let cs = &ts.columns[c];
            if update && !cs.mutable {
                return Err(OvsdbError::constraint(format!(
                    "Cannot update immutable column {k} in table {}.",
                    ts.name
                )));
            }
            let is_ref = is_ref_column(&cs.ty);
            let symtab = &mut self.symtab;
            let mut named = |n: &str| Some(row_symbol(symtab, n, is_ref));
            let d = Datum::from_json(&cs.ty, x, &mut named, false)?;
            out.push((c, d));
        }
        Ok(out)
    }

    fn run_op(&mut self, op: &Value, ctx: &ExecCtx) -> std::result::Result<OpResult, OpError> {
        let o = op
            .as_object()
            .ok_or_else(|| OvsdbError::syntax("operation must be an object"))?;
        let name = member(o, "op")?
            .as_str()
            .ok_or_else(|| OvsdbError::syntax("Type mismatch for member 'op'."))?;
        let r = match name {
            "insert" => self.op_insert(o),
            "select" => self.op_select(o),
            "update" => self.op_update(o),
            "mutate" => self.op_mutate(o),
            "delete" => self.op_delete(o),
            "wait" => return self.op_wait(o, ctx),
            crate::jsonrpc::INVALID_UTF8_OP => Err(OvsdbError::constraint(
                "operation holds a string that is not valid UTF-8",
            )),
            "commit" => {
                check_members(o, &["durable"])?;
                self.durable = member(o, "durable")?
                    .as_bool()
                    .ok_or_else(|| OvsdbError::syntax("Type mismatch for member 'durable'."))?;
                Ok(OpResult::Empty)
            }
            "abort" => {
                check_members(o, &[])?;
                Err(OvsdbError::new("aborted", "aborted by request"))
            }
            "comment" => {
                check_members(o, &["comment"])?;
                let c = member(o, "comment")?
                    .as_str()
                    .ok_or_else(|| OvsdbError::syntax("Type mismatch for member 'comment'."))?;
                self.comments.push(c.to_string());
                Ok(OpResult::Empty)
            }
            "assert" => {
                check_members(o, &["lock"])?;
                let l = member(o, "lock")?
                    .as_str()
                    .ok_or_else(|| OvsdbError::syntax("Type mismatch for member 'lock'."))?;
                if (ctx.has_lock)(l) {
                    Ok(OpResult::Empty)
                } else {
                    Err(OvsdbError::new(
                        "not owner",
                        format!("Asserted lock {l} not held."),
                    ))
                }
            }
            other => Err(OvsdbError::syntax(format!("No operation \"{other}\""))),
        }?;
        if ctx.read_only && !READ_ONLY_OPS.contains(&name) {
            return Err(OvsdbError::new(
                "not allowed",
                format!(
                    "{name} operation not allowed on table in reserved database {}",
                    self.db.schema.name
                ),
            )
            .into());
        }
        Ok(r)
    }

    fn op_insert(&mut self, o: &Map<String, Value>) -> Result<OpResult> {
        check_members(o, &["table", "row", "uuid-name", "uuid"])?;
        let t = self.table(o)?;
        let ts = self.ts(t);
        let mut uuid = crate::uuidgen::fresh();
        if let Some(uj) = get(o, "uuid") {
            uuid = uj
                .as_str()
                .and_then(parse_uuid)
                .ok_or_else(|| OvsdbError::syntax("bad uuid"))?;
            if self.db.tables[t].rows.contains_key(&uuid) || self.changes[t].contains_key(&uuid) {
                return Err(OvsdbError::new(
                    "duplicate uuid",
                    "This UUID would duplicate a UUID already present within the table or deleted within the same transaction.",
                ));
            }
        }
        if let Some(nj) = get(o, "uuid-name") {
            let n = nj
                .as_str()
                .ok_or_else(|| OvsdbError::syntax("Type mismatch for member 'uuid-name'."))?;
            if !crate::schema::valid_id(n) {
                return Err(OvsdbError::syntax_in(nj, "uuid-name must be an id"));
            }
            if get(o, "uuid").is_some() && self.symtab.get(n).is_some_and(|s| !s.created) {
                return Err(OvsdbError::syntax(
                    "uuid-name used before insert with explicit uuid",
                ));
            }
            uuid = self.name_insert(n, uuid)?;
        }
        let mut row = Row::new_default(ts);
        let vals = self.parse_row(ts, member(o, "row")?, false)?;
        check_defaults(ts, &vals)?;
        for (c, d) in vals {
            row.set(c, d);
        }
        Ok(self.insert_row(t, uuid, row))
    }

    /// The end of every insert: the new row goes in.
    pub(crate) fn insert_row(&mut self, t: usize, uuid: Uuid, row: Row) -> OpResult {
        self.mark(t);
        self.changes[t].insert(
            uuid,
            Change {
                old: None,
                new: Some(row),
            },
        );
        OpResult::Uuid(uuid)
    }

    /// Applies "uuid-name" `n` to an insert whose row will be `uuid`
    /// (without an explicit "uuid" member); returns the row's uuid.
    pub(crate) fn name_insert(&mut self, n: &str, uuid: Uuid) -> Result<Uuid> {
        match self.symtab.get_mut(n) {
            Some(s) if s.created => Err(OvsdbError::new(
                "duplicate uuid-name",
                "This \"uuid-name\" appeared on an earlier \"insert\" operation.",
            )),
            Some(s) => {
                s.created = true;
                Ok(s.uuid)
            }
            None => {
                self.symtab.insert(
                    n.to_string(),
                    Symbol {
                        uuid,
                        created: true,
                        in_ref: false,
                    },
                );
                Ok(uuid)
            }
        }
    }

    fn op_select(&mut self, o: &Map<String, Value>) -> Result<OpResult> {
        check_members(o, &["table", "where", "columns", "sort"])?;
        let t = self.table(o)?;
        let ts = self.ts(t);
        let cond = self.condition(ts, member(o, "where")?)?;
        let cols = parse_columns(ts, get(o, "columns"))?;
        let sort = parse_columns(ts, get(o, "sort"))?;
        let mut hits = self.matching(t, &cond);
        if let Some(sort) = sort {
            self.sort_rows(t, &mut hits, &sort);
        }
        let rows: Vec<Value> = hits
            .iter()
            .filter_map(|u| self.get(t, u).map(|r| project(ts, u, r, cols.as_deref())))
            .collect();
        Ok(OpResult::Json(json!({"rows": rows})))
    }

    /// Orders `hits` by the `sort` columns of a select, as OVS does: by
    /// each column's datum in turn (fewer elements first, then element by
    /// element), `_uuid` and `_version` by value.
    fn sort_rows(&self, t: usize, hits: &mut [Uuid], sort: &[usize]) {
        let key = |u: &Uuid, c: usize| -> Datum {
            let r = self.get(t, u);
            match c {
                COL_UUID => Datum::scalar(Atom::Uuid(*u)),
                COL_VERSION => Datum::scalar(Atom::Uuid(r.map(|r| r.version).unwrap_or_default())),
                c => r
                    .map(|r| (*r.cols[c]).clone())
                    .unwrap_or_else(Datum::empty_set),
            }
        };
        hits.sort_by(|a, b| {
            sort.iter()
                .map(|&c| key(a, c).compare(&key(b, c)))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }

    fn op_update(&mut self, o: &Map<String, Value>) -> Result<OpResult> {
        check_members(o, &["table", "where", "row"])?;
        let t = self.table(o)?;
        let ts = self.ts(t);
        let cond = self.condition(ts, member(o, "where")?)?;
        let vals = self.parse_row(ts, member(o, "row")?, true)?;
        Ok(self.update_rows(t, &cond, vals))
    }

    /// Sets columns `vals` in every row of `t` matching `cond` (the last
    /// row gets the values themselves, the others copies).
    pub(crate) fn update_rows(
        &mut self,
        t: usize,
        cond: &Condition,
        vals: Vec<(usize, Datum)>,
    ) -> OpResult {
        let hits = self.matching(t, cond);
        let mut vals = Some(vals);
        for (k, u) in hits.iter().enumerate() {
            let Some(r) = self.get_mut(t, u) else {
                continue;
            };
            if k + 1 == hits.len() {
                for (c, d) in vals.take().unwrap_or_default() {
                    r.set(c, d);
                }
            } else {
                for (c, d) in vals.iter().flatten() {
                    r.set(*c, d.clone());
                }
            }
        }
        OpResult::Count(hits.len())
    }

    fn op_mutate(&mut self, o: &Map<String, Value>) -> Result<OpResult> {
        check_members(o, &["table", "where", "mutations"])?;
        let t = self.table(o)?;
        let ts = self.ts(t);
        let cond = self.condition(ts, member(o, "where")?)?;
        let muts_json = member(o, "mutations")?;
        // As in OVS, a mutation may name a row that a later "insert" of the
        // same transaction creates (the python IDL puts the mutation of
        // `Open_vSwitch.bridges` before the bridge's insert): each
        // named-uuid it uses becomes a symbol first.
        for m in muts_json.as_array().into_iter().flatten() {
            if let Some([col, _, val]) = m.as_array().map(Vec::as_slice) {
                let is_ref = col
                    .as_str()
                    .and_then(|c| ts.column(c))
                    .is_some_and(|c| is_ref_column(&ts.columns[c].ty));
                declare_named(&mut self.symtab, val, is_ref);
            }
        }
        let muts = {
            let symtab = &mut self.symtab;
            let mut named = |n: &str| symtab.get(n).map(|s| s.uuid);
            parse_mutations(ts, muts_json, &mut named)?
        };
        self.mutate_rows(t, &cond, &muts)
    }

    /// Applies `muts` to every row of `t` matching `cond`.
    pub(crate) fn mutate_rows(
        &mut self,
        t: usize,
        cond: &Condition,
        muts: &[mutation::Mutation],
    ) -> Result<OpResult> {
        let ts = self.ts(t);
        let hits = self.matching(t, cond);
        for u in &hits {
            if let Some(r) = self.get_mut(t, u) {
                for m in muts {
                    mutation::apply(&ts.columns[m.col].ty, r.col_mut(m.col), m)?;
                }
            }
        }
        Ok(OpResult::Count(hits.len()))
    }

    fn op_delete(&mut self, o: &Map<String, Value>) -> Result<OpResult> {
        check_members(o, &["table", "where"])?;
        let t = self.table(o)?;
        let ts = self.ts(t);
        let cond = self.condition(ts, member(o, "where")?)?;
        Ok(self.delete_rows(t, &cond))
    }

    /// Deletes every row of `t` matching `cond`.
    pub(crate) fn delete_rows(&mut self, t: usize, cond: &Condition) -> OpResult {
        let hits = self.matching(t, cond);
        for u in &hits {
            self.delete_row(t, u);
        }
        OpResult::Count(hits.len())
    }

    fn op_wait(
        &mut self,
        o: &Map<String, Value>,
        ctx: &ExecCtx,
    ) -> std::result::Result<OpResult, OpError> {
        check_members(
            o,
            &["table", "where", "columns", "until", "rows", "timeout"],
        )?;
        let t = self.table(o)?;
        let ts = self.ts(t);
        let timeout = match get(o, "timeout") {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|x| *x >= 0.0)
                    .ok_or_else(|| OvsdbError::syntax("timeout must be nonnegative"))?
                    as u64,
            ),
        };
        let cond = self.condition(ts, member(o, "where")?)?;
        // No "columns": every column, `_uuid` and `_version` too (as OVS).
        let cols: Vec<usize> = match parse_columns(ts, get(o, "columns"))? {
            Some(c) => c,
            None => (0..ts.columns.len())
                .chain([COL_UUID, COL_VERSION])
                .collect(),
        };
        let until = member(o, "until")?.as_str().unwrap_or("");
        let want_eq = match until {
            "==" => true,
            "!=" => false,
            _ => {
                return Err(
                    OvsdbError::syntax(format!("\"{until}\" is not a valid \"until\"")).into(),
                )
            }
        };
        let rows = member(o, "rows")?
            .as_array()
            .ok_or_else(|| OvsdbError::syntax("Type mismatch for member 'rows'."))?;
        // The rows compare as sets, as in OVS: duplicates (given or
        // found) count once; a column a given row lacks is its default,
        // and its members outside `cols` are ignored.
        let mut expected: HashSet<Vec<Datum>> = HashSet::with_capacity(rows.len());
        for rj in rows {
            let ro = rj
                .as_object()
                .ok_or_else(|| OvsdbError::syntax("row must be an object"))?;
            let mut vals = Vec::with_capacity(cols.len());
            for &c in &cols {
                let (name, ty, default) = match c {
                    COL_UUID | COL_VERSION => (
                        if c == COL_UUID { "_uuid" } else { "_version" },
                        crate::condition::uuid_type(),
                        Datum::scalar(Atom::Uuid(Uuid::nil())),
                    ),
                    c => (
                        ts.columns[c].name.as_str(),
                        ts.columns[c].ty.clone(),
                        (*ts.defaults[c]).clone(),
                    ),
                };
                let d = match ro.get(name) {
                    Some(x) => {
                        let symtab = &mut self.symtab;
                        let mut named = |n: &str| symtab.get(n).map(|s| s.uuid);
                        Datum::from_json(&ty, x, &mut named, false)?
                    }
                    None => default,
                };
                vals.push(d);
            }
            expected.insert(vals);
        }
        let hits = self.matching(t, &cond);
        let mut actual: HashSet<Vec<Datum>> = HashSet::with_capacity(hits.len());
        for u in &hits {
            if let Some(r) = self.get(t, u) {
                let key = cols
                    .iter()
                    .map(|&c| match c {
                        COL_UUID => Datum::scalar(Atom::Uuid(*u)),
                        COL_VERSION => Datum::scalar(Atom::Uuid(r.version)),
                        c => (*r.cols[c]).clone(),
                    })
                    .collect();
                actual.insert(key);
            }
        }
        let equal = expected == actual;
        if equal == want_eq {
            return Ok(OpResult::Empty);
        }
        match timeout {
            Some(ms) if ctx.elapsed_ms >= ms => {
                Err(OvsdbError::new("timed out", "\"wait\" timed out").into())
            }
            Some(ms) => Err(OpError::Retry(Some(ms - ctx.elapsed_ms))),
            None => Err(OpError::Retry(None)),
        }
    }

    /// Runs the commit-time checks and returns the owned change list.
    pub fn prepare(mut self) -> Result<Prepared> {
        // A named-uuid no insert defines is an error in a reference column;
        // in a plain uuid column it stands for a fresh uuid, as in OVS.
        for (n, s) in &self.symtab {
            if !s.created && s.in_ref {
                return Err(OvsdbError::new(
                    "referential integrity violation",
                    format!(
                        "named-uuid \"{n}\" is used but no row with that uuid-name was inserted"
                    ),
                ));
            }
        }
        // Rows inserted then deleted in this transaction never existed.
        self.with_touched(|txn, touched| {
            for &t in touched {
                txn.changes[t].retain(|_, c| c.old.is_some() || c.new.is_some());
            }
        });
        let mut rounds = 0;
        let delta = loop {
            self.with_touched(|txn, touched| txn.clean_weak_refs(touched))?;
            rounds += 1;
            let delta = self.with_touched(|txn, touched| -> Result<_> {
                let delta = txn.ref_deltas(touched);
                if rounds == 1 {
                    // As OVS does: strong references are checked before
                    // garbage collection, so an orphan row that references a
                    // missing row is an error, not silently collected.
                    txn.check_strong_refs(&delta, touched)?;
                }
                Ok(delta)
            })?;
            if !self.with_touched(|txn, touched| txn.collect_garbage(&delta, touched))
                || rounds > 10_000
            {
                break delta;
            }
        };
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        self.check_strong_refs(&delta, &touched)?;
        self.check_max_rows(&touched)?;
        self.check_indexes(&touched)?;
        let mut changes = Vec::new();
        for &t in &touched {
            let ch = std::mem::take(&mut self.changes[t]);
            for (u, c) in ch {
                let same = match (&c.old, &c.new) {
                    (Some(o), Some(n)) => o.cols == n.cols,
                    (None, None) => true,
                    _ => false,
                };
                if !same {
                    changes.push((t, u, c.old, c.new));
                }
            }
        }
        let comment = if self.comments.is_empty() {
            None
        } else {
            Some(self.comments.join("\n"))
        };
        Ok(Prepared {
            changes,
            ref_delta: delta,
            durable: self.durable,
            comment,
        })
    }

    fn exists(&self, t: usize, u: &Uuid) -> bool {
        self.get(t, u).is_some()
    }

    /// Removes weak references to rows that do not exist at commit.
    fn clean_weak_refs(&mut self, touched: &[usize]) -> Result<()> {
        let schema = self.db.schema.clone();
        // Tables that lost rows in this transaction.
        let lost: Vec<usize> = touched
            .iter()
            .copied()
            .filter(|&t| {
                self.changes[t]
                    .values()
                    .any(|c| c.old.is_some() && c.new.is_none())
            })
            .collect();
        // Without lost rows only rows changed here can hold a dead
        // reference (to a row this transaction never had).
        let all: Vec<usize>;
        let tables = if lost.is_empty() {
            touched
        } else {
            all = (0..schema.tables.len()).collect();
            &all
        };
        for &t in tables {
            let ts = &schema.tables[t];
            let is_weak = |b: &crate::schema::BaseType| {
                b.ref_table.is_some() && b.ref_type == crate::schema::RefType::Weak
            };
            if !ts
                .columns
                .iter()
                .any(|c| is_weak(&c.ty.key) || c.ty.value.as_ref().is_some_and(is_weak))
            {
                continue;
            }
            let weak_cols: Vec<usize> = ts
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    std::iter::once(&c.ty.key)
                        .chain(c.ty.value.as_ref())
                        .any(|b| {
                            b.ref_table.is_some() && b.ref_type == crate::schema::RefType::Weak
                        })
                })
                .map(|(i, _)| i)
                .collect();
            if weak_cols.is_empty() {
                continue;
            }
            let scan_all = weak_cols.iter().any(|&c| {
                let ty = &ts.columns[c].ty;
                std::iter::once(&ty.key)
                    .chain(ty.value.as_ref())
                    .filter_map(|b| b.ref_table_index())
                    .any(|rt| lost.contains(&rt))
            });
            let candidates: Vec<Uuid> = if scan_all {
                let mut v: Vec<Uuid> = self.db.tables[t]
                    .rows
                    .keys()
                    .filter(|u| !self.changes[t].contains_key(u))
                    .copied()
                    .collect();
                v.extend(
                    self.changes[t]
                        .iter()
                        .filter(|(_, c)| c.new.is_some())
                        .map(|(u, _)| *u),
                );
                v
            } else {
                self.changes[t]
                    .iter()
                    .filter(|(_, c)| c.new.is_some())
                    .map(|(u, _)| *u)
                    .collect()
            };
            for u in candidates {
                let Some(row) = self.get(t, &u) else { continue };
                let mut fixes: Vec<(usize, Datum)> = Vec::new();
                for &c in &weak_cols {
                    let ty = &ts.columns[c].ty;
                    let d = &row.cols[c];
                    let dead = |b: &crate::schema::BaseType, a: &Atom| {
                        b.ref_type == crate::schema::RefType::Weak
                            && b.ref_table_index()
                                .is_some_and(|rt| a.as_uuid().is_some_and(|x| !self.exists(rt, &x)))
                    };
                    let nd = match &**d {
                        Datum::Set(v) => {
                            if !v.iter().any(|a| dead(&ty.key, a)) {
                                continue;
                            }
                            Datum::Set(v.iter().filter(|a| !dead(&ty.key, a)).cloned().collect())
                        }
                        Datum::Map(v) => {
                            let vt = ty.value.as_ref().unwrap_or(&ty.key);
                            let bad = |(k, x): &(Atom, Atom)| dead(&ty.key, k) || dead(vt, x);
                            if !v.iter().any(bad) {
                                continue;
                            }
                            Datum::Map(v.iter().filter(|p| !bad(p)).cloned().collect())
                        }
                    };
                    if (nd.len() as u64) < ty.min {
                        return Err(OvsdbError::constraint(format!(
                            "Deletion of weak reference(s) from column {} of {} row {u} leaves it with fewer than the minimum number of elements.",
                            ts.columns[c].name, ts.name
                        )));
                    }
                    fixes.push((c, nd));
                }
                if !fixes.is_empty() {
                    if let Some(r) = self.get_mut(t, &u) {
                        for (c, d) in fixes {
                            r.set(c, d);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Net change of strong reference counts caused by this transaction.
    fn ref_deltas(&self, touched: &[usize]) -> RowKeyMap<i64> {
        let mut delta: RowKeyMap<i64> = RowKeyMap::default();
        let schema = &self.db.schema;
        for &t in touched {
            let ch = &self.changes[t];
            if ch.is_empty() {
                continue;
            }
            let ts = &schema.tables[t];
            for c in ch.values() {
                for (ci, col) in ts.columns.iter().enumerate() {
                    if !col.ty.has_refs() {
                        continue;
                    }
                    if let (Some(o), Some(n)) = (&c.old, &c.new) {
                        // An unchanged column still shares the old datum.
                        if Arc::ptr_eq(&o.cols[ci], &n.cols[ci]) {
                            continue;
                        }
                    }
                    let od = c.old.as_ref().map(|r| &*r.cols[ci]);
                    let nd = c.new.as_ref().map(|r| &*r.cols[ci]);
                    // The merge itself finds nothing for an unchanged column.
                    crate::datum::ref_changes(&col.ty, od, nd, &mut |rt, ru, strong, d| {
                        if strong {
                            *delta.entry((rt, ru)).or_insert(0) += d;
                        }
                    });
                }
            }
        }
        delta
    }

    fn final_refs(&self, delta: &RowKeyMap<i64>, t: usize, u: &Uuid) -> i64 {
        self.db.refcount(t, u) as i64 + delta.get(&(t, *u)).copied().unwrap_or(0)
    }

    /// Deletes non-root rows left without strong references (`delta`: the
    /// reference count changes of the transaction so far). Returns whether
    /// it deleted anything.
    fn collect_garbage(&mut self, delta: &RowKeyMap<i64>, touched: &[usize]) -> bool {
        let schema = self.db.schema.clone();
        let mut cands: HashSet<(usize, Uuid)> = delta
            .iter()
            .filter(|(_, d)| **d < 0)
            .map(|(k, _)| *k)
            .collect();
        for &t in touched {
            let ch = &self.changes[t];
            if ch.is_empty() {
                continue;
            }
            if !schema.tables[t].is_root {
                for (u, c) in ch {
                    if c.new.is_some() {
                        cands.insert((t, *u));
                    }
                }
            }
        }
        let mut any = false;
        for (t, u) in cands {
            if schema.tables[t].is_root || !self.exists(t, &u) {
                continue;
            }
            if self.final_refs(delta, t, &u) <= 0 {
                self.delete_row(t, &u);
                if self.changes[t].get(&u).is_some_and(|c| c.old.is_none()) {
                    self.changes[t].remove(&u);
                }
                any = true;
            }
        }
        any
    }

    fn check_strong_refs(&self, delta: &RowKeyMap<i64>, touched: &[usize]) -> Result<()> {
        let schema = &self.db.schema;
        // A row gaining references must exist (a row that merely keeps the
        // same number was referenced before, so it existed).
        for ((rt, ru), d) in delta {
            if *d > 0 && !self.exists(*rt, ru) {
                let from = self.referrer(*rt, ru);
                return Err(OvsdbError::refint(format!(
                    "{from}references nonexistent row {ru} in table {}.",
                    schema.tables[*rt].name
                )));
            }
        }
        for &t in touched {
            let ch = &self.changes[t];
            for (u, c) in ch {
                if c.old.is_some() && c.new.is_none() {
                    let n = self.final_refs(delta, t, u);
                    if n > 0 {
                        return Err(OvsdbError::refint(format!(
                            "cannot delete {} row {u} because of {n} remaining reference(s)",
                            schema.tables[t].name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// "Table T column C row U " of a changed row referencing `ru`, for
    /// error messages.
    fn referrer(&self, rt: usize, ru: &Uuid) -> String {
        let schema = &self.db.schema;
        for (t, ch) in self.changes.iter().enumerate() {
            if ch.is_empty() {
                continue;
            }
            let ts = &schema.tables[t];
            for (u, c) in ch {
                let Some(n) = &c.new else { continue };
                for (ci, col) in ts.columns.iter().enumerate() {
                    if n.cols[ci]
                        .refs(&col.ty)
                        .any(|(t2, u2, s)| s && t2 == rt && u2 == *ru)
                    {
                        return format!("Table {} column {} row {u} ", ts.name, col.name);
                    }
                }
            }
        }
        String::new()
    }

    fn check_max_rows(&self, touched: &[usize]) -> Result<()> {
        for &t in touched {
            let ch = &self.changes[t];
            if ch.is_empty() {
                continue;
            }
            let ts = &self.db.schema.tables[t];
            let Some(max) = ts.max_rows else { continue };
            let mut n = self.db.tables[t].rows.len() as i64;
            for c in ch.values() {
                n += c.new.is_some() as i64 - c.old.is_some() as i64;
            }
            if n as u64 > max {
                return Err(OvsdbError::constraint(format!(
                    "Transaction causes \"{}\" table to contain {n} rows, greater than the schema-defined limit of {max} row(s).",
                    ts.name
                )));
            }
        }
        Ok(())
    }

    fn check_indexes(&self, touched: &[usize]) -> Result<()> {
        for &t in touched {
            let ch = &self.changes[t];
            if ch.is_empty() {
                continue;
            }
            let ts = &self.db.schema.tables[t];
            for (i, cols) in ts.indexes.iter().enumerate() {
                let mut seen: HashMap<Vec<Datum>, Uuid> = HashMap::new();
                for (u, c) in ch {
                    let Some(n) = &c.new else { continue };
                    let k = Db::index_key(n, cols);
                    let clash = |other: &Uuid| {
                        let names: Vec<&str> =
                            cols.iter().map(|&c| ts.columns[c].name.as_str()).collect();
                        let vals: Vec<String> = k.iter().map(|d| d.to_json().to_string()).collect();
                        OvsdbError::constraint(format!(
                            "Transaction causes multiple rows in \"{}\" table to have identical values ({}) for index on column{} \"{}\".  First row, with UUID {other}, and second row, with UUID {u}.",
                            ts.name,
                            vals.join(", "),
                            if names.len() > 1 { "s" } else { "" },
                            names.join("\", \"")
                        ))
                    };
                    if let Some(other) = seen.get(&k) {
                        return Err(clash(other));
                    }
                    if let Some(other) = self.db.tables[t].indexes[i].get(&k) {
                        if other != u && !ch.contains_key(other) {
                            return Err(clash(other));
                        }
                    }
                    seen.insert(k, *u);
                }
            }
        }
        Ok(())
    }
}

/// Parses an optional `columns` array into column indexes (None = all).
/// `_uuid`/`_version` are accepted and mapped to `usize::MAX - 1/2` markers.
pub fn parse_columns(ts: &TableSchema, v: Option<&Value>) -> Result<Option<Vec<usize>>> {
    let Some(v) = v else { return Ok(None) };
    let a = v
        .as_array()
        .ok_or_else(|| OvsdbError::syntax("array of column names expected"))?;
    let mut out = Vec::with_capacity(a.len());
    for c in a {
        let n = c
            .as_str()
            .ok_or_else(|| OvsdbError::syntax("array of column names expected"))?;
        match column_ref(ts, n) {
            Some((ColRef::Col(i), _)) => out.push(i),
            Some((ColRef::Uuid, _)) => out.push(COL_UUID),
            Some((ColRef::Version, _)) => out.push(COL_VERSION),
            None => {
                return Err(OvsdbError::syntax_in(
                    v,
                    format!("No column {n} in table {}.", ts.name),
                ))
            }
        }
        if out[..out.len() - 1].contains(out.last().expect("just pushed")) {
            return Err(OvsdbError::syntax_in(
                v,
                format!("Column {n} specified multiple times."),
            ));
        }
    }
    Ok(Some(out))
}

/// OVS checks every column of a new row against its constraints, defaults
/// included: a column the insert leaves out whose default breaks its own
/// constraint (an enum without the default, a minimum above it) fails the
/// insert with a constraint violation.
pub(crate) fn check_defaults(ts: &TableSchema, given: &[(usize, Datum)]) -> Result<()> {
    for (c, cs) in ts.columns.iter().enumerate() {
        if given.iter().any(|(g, _)| *g == c) {
            continue;
        }
        let d = &*ts.defaults[c];
        for a in d.keys() {
            cs.ty.key.check(a)?;
        }
        if let (Some(vt), Datum::Map(m)) = (&cs.ty.value, d) {
            for (_, v) in m {
                vt.check(v)?;
            }
        }
    }
    Ok(())
}

pub const COL_UUID: usize = usize::MAX;
pub const COL_VERSION: usize = usize::MAX - 1;

/// A select result row: the chosen columns or everything with metadata.
pub fn project(ts: &TableSchema, u: &Uuid, r: &Row, cols: Option<&[usize]>) -> Value {
    match cols {
        None => r.to_json(ts, u, None, true),
        Some(cs) => {
            let mut m = Map::new();
            for &c in cs {
                match c {
                    COL_UUID => {
                        m.insert("_uuid".into(), uuid_json(u));
                    }
                    COL_VERSION => {
                        m.insert("_version".into(), uuid_json(&r.version));
                    }
                    _ => {
                        m.insert(ts.columns[c].name.clone(), r.cols[c].to_json());
                    }
                }
            }
            Value::Object(m)
        }
    }
}
