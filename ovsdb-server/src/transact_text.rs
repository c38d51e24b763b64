//! The transact fast path: a `transact` request read straight from its
//! JSON text into typed operations against the schema (table and column
//! indexes, typed datums, named-uuid references resolved), with no
//! `serde_json::Value` tree for the request, its operations or their rows.
//!
//! `TransactText` is the request as text plus the byte ranges of its parts,
//! found in one checked pass when the message is parsed. `execute` then
//! runs the common operations (insert, update, mutate, delete, comment,
//! commit) on a `Txn` with the same helpers the generic engine uses.
//!
//! The fast path never makes an error of its own: whenever it meets anything
//! it does not handle, or anything that would fail (a bad member, a type or
//! constraint error, a failed commit check, even a valid but rare form), it
//! gives up and returns `None`, dropping its uncommitted `Txn`, and the caller
//! runs the generic engine on the same request. So every error and every
//! unusual request is answered by the generic engine, exactly as before,
//! and a successful fast transaction makes the same changes the generic one
//! would (a differential test and the fuzz target check it: `differential`).

use crate::atom::{parse_uuid, Atom, AtomicType};
use crate::condition::{Clause, ColRef, Condition, Function};
use crate::datum::{Datum, Named};
use crate::jsontext::Reader;
use crate::row::Row;
use crate::schema::{BaseType, ColumnType, TableSchema};
use crate::table::Db;
use crate::transaction::{ExecCtx, OpResult, Outcome, Txn};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

type Span = (usize, usize);

/// A `transact` request kept as text.
#[derive(Debug, Clone)]
pub struct TransactText {
    pub id: Value,
    text: String,
    params: Span,
    /// The first parameter, when it is a string.
    db: Option<Span>,
    /// The parameters after the first.
    ops: Vec<Span>,
}

impl TransactText {
    /// Reads `{"id":..,"method":"transact","params":[..]}` (members in any
    /// order, each once, no others, a non-null id), checking the whole text.
    /// `None` for anything else: the generic parser takes it.
    pub fn read(text: &[u8]) -> Option<TransactText> {
        let text = std::str::from_utf8(text).ok()?;
        let mut r = Reader::new(text);
        if !r.eat(b'{') {
            return None;
        }
        let (mut id, mut params, mut db, mut ops) = (None, None, None, Vec::new());
        let mut seen = 0u8;
        loop {
            let k = r.string()?;
            if !r.eat(b':') {
                return None;
            }
            let bit = match &*k {
                "id" => 1,
                "method" => 2,
                "params" => 4,
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match bit {
                1 => {
                    r.peek()?;
                    let s = r.pos();
                    r.skip(1)?;
                    id = Some((s, r.pos()));
                }
                2 => {
                    if r.string()? != "transact" {
                        return None;
                    }
                }
                _ => {
                    if r.peek()? != b'[' {
                        return None;
                    }
                    let start = r.pos();
                    r.eat(b'[');
                    if !r.eat(b']') {
                        if r.peek()? == b'"' {
                            let s = r.pos();
                            r.string()?;
                            db = Some((s, r.pos()));
                        } else {
                            r.skip(2)?;
                        }
                        while r.more(b']')? {
                            r.peek()?;
                            let s = r.pos();
                            r.skip(2)?;
                            ops.push((s, r.pos()));
                        }
                    }
                    params = Some((start, r.pos()));
                }
            }
            if !r.more(b'}')? {
                break;
            }
        }
        if !r.at_end() || seen != 7 {
            return None;
        }
        let (a, b) = id?;
        let id = id_value(text.get(a..b)?)?;
        Some(TransactText {
            id,
            text: text.to_owned(),
            params: params?,
            db,
            ops,
        })
    }

    fn part(&self, (a, b): Span) -> &str {
        self.text.get(a..b).unwrap_or_default()
    }

    /// The database name, when the first parameter is a string.
    pub fn db_name(&self) -> Option<Cow<'_, str>> {
        Reader::new(self.part(self.db?)).string()
    }

    /// The text of each operation.
    pub fn ops(&self) -> impl Iterator<Item = &str> {
        self.ops.iter().map(|&s| self.part(s))
    }

    /// The parameters as the generic engine takes them.
    pub fn params_value(&self) -> Value {
        serde_json::from_str(self.part(self.params)).unwrap_or(Value::Array(Vec::new()))
    }
}

/// The id member's value (not null), the common integer and plain string
/// ids built directly, the others by serde_json.
fn id_value(text: &str) -> Option<Value> {
    let mut r = Reader::new(text);
    let v = match r.peek()? {
        b'"' => Value::String(r.string()?.into_owned()),
        b'-' | b'0'..=b'9' => match r.int()? {
            // As serde_json reads them: non-negative integers are unsigned.
            i if i >= 0 => Value::from(i as u64),
            i => Value::from(i),
        },
        _ => serde_json::from_str(text).ok()?,
    };
    if !r.at_end() || v.is_null() {
        return None;
    }
    Some(v)
}

/// Runs the operations of `t` on `db`, or `None` to leave the request to
/// the generic engine (see the module comment).
pub fn execute(db: &Db, t: &TransactText, ctx: &ExecCtx) -> Option<Outcome> {
    if ctx.read_only {
        return None;
    }
    let mut txn = Txn::new(db);
    let mut results = Vec::with_capacity(t.ops.len());
    for op in t.ops() {
        results.push(run_op(&mut txn, op)?);
    }
    let p = txn.prepare().ok()?;
    Some(Outcome::Done {
        results,
        prepared: if p.changes.is_empty() { None } else { Some(p) },
    })
}

/// The members of one operation object that the fast path knows.
#[derive(Default)]
struct OpMembers<'a> {
    op: Option<Cow<'a, str>>,
    table: Option<Cow<'a, str>>,
    row: Option<&'a str>,
    uuid_name: Option<Cow<'a, str>>,
    where_: Option<&'a str>,
    mutations: Option<&'a str>,
    comment: Option<Cow<'a, str>>,
    durable: Option<bool>,
    /// Bit per member present (the order above, `op` first).
    present: u8,
}

const M_TABLE: u8 = 1 << 1;
const M_ROW: u8 = 1 << 2;
const M_UUID_NAME: u8 = 1 << 3;
const M_WHERE: u8 = 1 << 4;
const M_MUTATIONS: u8 = 1 << 5;
const M_COMMENT: u8 = 1 << 6;
const M_DURABLE: u8 = 1 << 7;

fn read_members(text: &str) -> Option<OpMembers<'_>> {
    let mut r = Reader::new(text);
    let mut m = OpMembers::default();
    if !r.eat(b'{') || r.eat(b'}') {
        return None;
    }
    loop {
        let k = r.string()?;
        if !r.eat(b':') {
            return None;
        }
        let bit = match &*k {
            "op" => {
                m.op = Some(r.string()?);
                1
            }
            "table" => {
                m.table = Some(r.string()?);
                M_TABLE
            }
            "row" => {
                m.row = Some(r.value_checked_before()?);
                M_ROW
            }
            "uuid-name" => {
                m.uuid_name = Some(r.string()?);
                M_UUID_NAME
            }
            "where" => {
                m.where_ = Some(r.value_checked_before()?);
                M_WHERE
            }
            "mutations" => {
                m.mutations = Some(r.value_checked_before()?);
                M_MUTATIONS
            }
            "comment" => {
                m.comment = Some(r.string()?);
                M_COMMENT
            }
            "durable" => {
                m.durable = Some(r.boolean()?);
                M_DURABLE
            }
            _ => return None,
        };
        if m.present & bit != 0 {
            return None;
        }
        m.present |= bit;
        if !r.more(b'}')? {
            break;
        }
    }
    Some(m)
}

fn run_op(txn: &mut Txn, text: &str) -> Option<OpResult> {
    let m = read_members(text)?;
    let only = |allowed: u8, required: u8| {
        m.present & !(allowed | 1) == 0 && m.present & required == required
    };
    let db = txn.db();
    let table = |m: &OpMembers| -> Option<usize> { db.schema.table(m.table.as_deref()?) };
    match m.op.as_deref()? {
        "insert" => {
            if !only(M_TABLE | M_ROW | M_UUID_NAME, M_TABLE) {
                return None;
            }
            let t = table(&m)?;
            let ts = txn.ts(t);
            let mut uuid = crate::uuidgen::fresh();
            if let Some(n) = &m.uuid_name {
                uuid = txn.name_insert(n, uuid).ok()?;
            }
            let mut row = Row::new_default(ts);
            if let Some(rj) = m.row {
                for (c, d) in parse_row(txn, ts, rj, false)? {
                    row.set(c, d);
                }
            }
            Some(txn.insert_row(t, uuid, row))
        }
        "update" => {
            if !only(M_TABLE | M_WHERE | M_ROW, M_TABLE | M_WHERE | M_ROW) {
                return None;
            }
            let t = table(&m)?;
            let ts = txn.ts(t);
            let cond = condition(txn, ts, m.where_?)?;
            let vals = parse_row(txn, ts, m.row?, true)?;
            Some(txn.update_rows(t, &cond, &vals))
        }
        "mutate" => {
            if !only(
                M_TABLE | M_WHERE | M_MUTATIONS,
                M_TABLE | M_WHERE | M_MUTATIONS,
            ) {
                return None;
            }
            let t = table(&m)?;
            let ts = txn.ts(t);
            let cond = condition(txn, ts, m.where_?)?;
            let v: Value = serde_json::from_str(m.mutations?).ok()?;
            let muts = {
                let symtab = &mut txn.symtab;
                let mut named = |n: &str| symtab.get(n).map(|s| s.uuid);
                crate::mutation::parse_mutations(ts, &v, &mut named).ok()?
            };
            txn.mutate_rows(t, &cond, &muts).ok()
        }
        "delete" => {
            if !only(M_TABLE | M_WHERE, M_TABLE | M_WHERE) {
                return None;
            }
            let t = table(&m)?;
            let cond = condition(txn, txn.ts(t), m.where_?)?;
            Some(txn.delete_rows(t, &cond))
        }
        "comment" => {
            if !only(M_COMMENT, M_COMMENT) {
                return None;
            }
            txn.comments.push(m.comment?.into_owned());
            Some(OpResult::Empty)
        }
        "commit" => {
            if !only(M_DURABLE, M_DURABLE) {
                return None;
            }
            txn.durable = m.durable?;
            Some(OpResult::Empty)
        }
        _ => None,
    }
}

/// A "where" condition (as `Condition::from_json`) made of constant clauses
/// and `==`, `!=`, `includes`, `excludes` clauses (the ordering functions
/// give up: they have type rules of their own).
fn condition(txn: &mut Txn, ts: &TableSchema, text: &str) -> Option<Condition> {
    let mut r = Reader::new(text);
    let mut clauses = Vec::new();
    if !r.eat(b'[') {
        return None;
    }
    if r.eat(b']') {
        return Some(Condition { clauses });
    }
    let symtab = &txn.symtab;
    let mut named = |n: &str| symtab.get(n).map(|s| s.uuid);
    let uuid_ty = crate::condition::uuid_type();
    loop {
        if matches!(r.peek()?, b't' | b'f') {
            clauses.push(Clause::Const(r.boolean()?));
        } else {
            if !r.eat(b'[') {
                return None;
            }
            let cname = r.string()?;
            if !r.eat(b',') {
                return None;
            }
            let func = Function::from_name(&r.string()?)?;
            if !r.eat(b',') {
                return None;
            }
            let (col, ty) = match &*cname {
                "_uuid" | "_version" => {
                    let c = if cname == "_uuid" {
                        ColRef::Uuid
                    } else {
                        ColRef::Version
                    };
                    (c, &uuid_ty)
                }
                n => {
                    let i = ts.column(n)?;
                    (ColRef::Col(i), &ts.columns[i].ty)
                }
            };
            if !matches!(
                func,
                Function::Eq | Function::Ne | Function::Includes | Function::Excludes
            ) {
                return None;
            }
            let value = datum(&mut r, ty, &mut named, false)?;
            if matches!(func, Function::Eq | Function::Ne) && ty.is_scalar() && value.len() != 1 {
                return None;
            }
            if !r.eat(b']') {
                return None;
            }
            clauses.push(Clause::Cmp { col, func, value });
        }
        if !r.more(b']')? {
            break;
        }
    }
    Some(Condition { clauses })
}

/// A `<row>` object: (column, datum) in text order; a repeated column,
/// `_uuid`/`_version`, an unknown or (for updates) immutable column gives up.
fn parse_row(
    txn: &mut Txn,
    ts: &TableSchema,
    text: &str,
    update: bool,
) -> Option<Vec<(usize, Datum)>> {
    let mut r = Reader::new(text);
    if !r.eat(b'{') {
        return None;
    }
    let mut out: Vec<(usize, Datum)> = Vec::new();
    if r.eat(b'}') {
        return Some(out);
    }
    let symtab = &mut txn.symtab;
    let mut named = |n: &str| {
        Some(
            symtab
                .entry(n.to_string())
                .or_insert_with(|| crate::transaction::Symbol {
                    uuid: crate::uuidgen::fresh(),
                    created: false,
                })
                .uuid,
        )
    };
    loop {
        let k = r.string()?;
        if !r.eat(b':') {
            return None;
        }
        let c = ts.column(&k)?;
        let cs = &ts.columns[c];
        if (update && !cs.mutable) || out.iter().any(|(x, _)| *x == c) {
            return None;
        }
        out.push((c, datum(&mut r, &cs.ty, &mut named, true)?));
        if !r.more(b'}')? {
            break;
        }
    }
    Some(out)
}

/// A datum of type `ty`, as `Datum::from_json`: when `strict`, with the
/// type's constraints and cardinality checked, else (conditions) neither.
pub(crate) fn datum(r: &mut Reader, ty: &ColumnType, named: Named, strict: bool) -> Option<Datum> {
    let d = if let Some(vt) = &ty.value {
        if !r.eat(b'[') || r.string()? != "map" || !r.eat(b',') || !r.eat(b'[') {
            return None;
        }
        let mut out = Vec::new();
        if !r.eat(b']') {
            loop {
                if !r.eat(b'[') {
                    return None;
                }
                let k = atom(r, &ty.key, named, strict)?;
                if !r.eat(b',') {
                    return None;
                }
                let x = atom(r, vt, named, strict)?;
                if !r.eat(b']') {
                    return None;
                }
                out.push((k, x));
                if !r.more(b']')? {
                    break;
                }
            }
        }
        if !r.eat(b']') {
            return None;
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        if out.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Datum::Map(out)
    } else {
        let mut out = Vec::new();
        let mut probe = r.clone();
        let is_set = probe.eat(b'[') && probe.string().as_deref() == Some("set");
        if is_set {
            *r = probe;
            if !r.eat(b',') || !r.eat(b'[') {
                return None;
            }
            if !r.eat(b']') {
                loop {
                    out.push(atom(r, &ty.key, named, strict)?);
                    if !r.more(b']')? {
                        break;
                    }
                }
            }
            if !r.eat(b']') {
                return None;
            }
        } else {
            out.push(atom(r, &ty.key, named, strict)?);
        }
        out.sort();
        if out.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        Datum::Set(out)
    };
    if strict {
        d.check_cardinality(ty).ok()?;
    }
    Some(d)
}

/// One atom of base type `b`, constraints checked. Reals give up (their
/// text-to-float rules are serde_json's).
fn atom(r: &mut Reader, b: &BaseType, named: Named, strict: bool) -> Option<Atom> {
    let a = match b.atype {
        AtomicType::Integer => Atom::Integer(r.int()?),
        AtomicType::Real => return None,
        AtomicType::Boolean => Atom::Boolean(r.boolean()?),
        AtomicType::String => Atom::String(Arc::from(&*r.string()?)),
        AtomicType::Uuid => {
            if !r.eat(b'[') {
                return None;
            }
            let tag = r.string()?;
            if !r.eat(b',') {
                return None;
            }
            let s = r.string()?;
            if !r.eat(b']') {
                return None;
            }
            match &*tag {
                "uuid" => Atom::Uuid(parse_uuid(&s)?),
                "named-uuid" => Atom::Uuid(named(&s)?),
                _ => return None,
            }
        }
    };
    if strict {
        b.check(&a).ok()?;
    }
    Some(a)
}

/// Runs `t` on `db` both ways with the same UUID sequence: `Err` with
/// both answers if the fast path answered differently from the generic
/// engine (`Ok(false)` if it left the request to the generic engine).
/// For tests and the fuzz target.
pub fn differential(db: &Db, t: &TransactText, ctx: &ExecCtx) -> Result<bool, String> {
    let show = |o: &Outcome| match o {
        Outcome::Done { results, prepared } => format!("{results:?} {prepared:?}"),
        Outcome::Retry { remaining_ms } => format!("retry {remaining_ms:?}"),
    };
    crate::uuidgen::seed(Some(7));
    let fast = execute(db, t, ctx);
    crate::uuidgen::seed(Some(7));
    let params = t.params_value();
    let ops = params
        .as_array()
        .map(|a| a.get(1..).unwrap_or_default())
        .unwrap_or_default();
    let slow = crate::transaction::execute(db, ops, ctx);
    crate::uuidgen::seed(None);
    match fast {
        None => Ok(false),
        Some(f) if show(&f) == show(&slow) => Ok(true),
        Some(f) => Err(format!("fast: {}\ngeneric: {}", show(&f), show(&slow))),
    }
}
