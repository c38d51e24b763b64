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
    /// The parameters after the first, their members found.
    ops: Vec<OpSpans>,
}

/// Where the members of one operation are (found while checking the text).
#[derive(Debug, Clone, Default)]
struct OpSpans {
    /// Per member (`M_*` order): the value's text.
    members: [Option<Span>; N_MEMBERS],
    /// Bit per member present.
    present: u8,
    /// Not an object, or a member repeated or unknown to the fast path.
    other: bool,
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
        let (mut id, mut params, mut db) = (None, None, None);
        let mut ops = Vec::with_capacity(4);
        let mut seen = 0u8;
        loop {
            let k = r.plain_string()?;
            if !r.eat(b':') {
                return None;
            }
            let bit = match k {
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
                            ops.push(op_spans(&mut r)?);
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

    /// The parameters as the generic engine takes them.
    pub fn params_value(&self) -> Value {
        crate::jsonrpc::from_slice_unbounded(self.part(self.params).as_bytes())
            .unwrap_or(Value::Array(Vec::new()))
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
    for op in &t.ops {
        results.push(run_op(&mut txn, t, op)?);
    }
    let p = txn.prepare().ok()?;
    Some(Outcome::Done {
        results,
        prepared: if p.changes.is_empty() { None } else { Some(p) },
    })
}

const M_OP: u8 = 1;
const M_TABLE: u8 = 1 << 1;
const M_ROW: u8 = 1 << 2;
const M_UUID_NAME: u8 = 1 << 3;
const M_WHERE: u8 = 1 << 4;
const M_MUTATIONS: u8 = 1 << 5;
const M_COMMENT: u8 = 1 << 6;
const M_DURABLE: u8 = 1 << 7;
const N_MEMBERS: usize = 8;

/// Checks one operation (any value) at `r`, depth 2, and notes where the
/// members the fast path knows are.
fn op_spans(r: &mut Reader) -> Option<OpSpans> {
    let mut o = OpSpans::default();
    if r.peek()? != b'{' {
        r.skip(2)?;
        o.other = true;
        return Some(o);
    }
    r.eat(b'{');
    if r.eat(b'}') {
        o.other = true;
        return Some(o);
    }
    loop {
        // An escaped member name leaves the request to the generic parser.
        let k = r.plain_string()?;
        if !r.eat(b':') {
            return None;
        }
        r.peek()?;
        let start = r.pos();
        r.skip(3)?;
        let bit = match k {
            "op" => M_OP,
            "table" => M_TABLE,
            "row" => M_ROW,
            "uuid-name" => M_UUID_NAME,
            "where" => M_WHERE,
            "mutations" => M_MUTATIONS,
            "comment" => M_COMMENT,
            "durable" => M_DURABLE,
            _ => 0,
        };
        if bit == 0 || o.present & bit != 0 {
            o.other = true;
        } else {
            o.present |= bit;
            o.members[bit.trailing_zeros() as usize] = Some((start, r.pos()));
        }
        if !r.more(b'}')? {
            break;
        }
    }
    Some(o)
}

impl OpSpans {
    /// The text of member `bit`.
    fn get<'t>(&self, t: &'t TransactText, bit: u8) -> Option<&'t str> {
        self.members[bit.trailing_zeros() as usize].map(|s| t.part(s))
    }

    /// Member `bit` as a string.
    fn string<'t>(&self, t: &'t TransactText, bit: u8) -> Option<Cow<'t, str>> {
        Reader::new(self.get(t, bit)?).string()
    }
}

fn run_op(txn: &mut Txn, t: &TransactText, m: &OpSpans) -> Option<OpResult> {
    if m.other {
        return None;
    }
    let only = |allowed: u8, required: u8| {
        m.present & !(allowed | M_OP) == 0 && m.present & required == required
    };
    let db = txn.db();
    let table = || -> Option<usize> { db.schema.table(&m.string(t, M_TABLE)?) };
    match &*m.string(t, M_OP)? {
        "insert" => {
            if !only(M_TABLE | M_ROW | M_UUID_NAME, M_TABLE | M_ROW) {
                return None;
            }
            let tb = table()?;
            let ts = txn.ts(tb);
            let mut uuid = crate::uuidgen::fresh();
            if m.present & M_UUID_NAME != 0 {
                let n = m.string(t, M_UUID_NAME)?;
                if !crate::schema::valid_id(&n) {
                    return None;
                }
                uuid = txn.name_insert(&n, uuid).ok()?;
            }
            let mut row = Row::new_default(ts);
            if let Some(rj) = m.get(t, M_ROW) {
                let vals = parse_row(txn, ts, rj, false)?;
                crate::transaction::check_defaults(ts, &vals).ok()?;
                for (c, d) in vals {
                    row.set(c, d);
                }
            }
            Some(txn.insert_row(tb, uuid, row))
        }
        "update" => {
            if !only(M_TABLE | M_WHERE | M_ROW, M_TABLE | M_WHERE | M_ROW) {
                return None;
            }
            let tb = table()?;
            let ts = txn.ts(tb);
            let cond = condition(txn, ts, m.get(t, M_WHERE)?)?;
            let vals = parse_row(txn, ts, m.get(t, M_ROW)?, true)?;
            Some(txn.update_rows(tb, &cond, vals))
        }
        "mutate" => {
            let all = M_TABLE | M_WHERE | M_MUTATIONS;
            if !only(all, all) {
                return None;
            }
            let tb = table()?;
            let ts = txn.ts(tb);
            let cond = condition(txn, ts, m.get(t, M_WHERE)?)?;
            let v: Value = serde_json::from_str(m.get(t, M_MUTATIONS)?).ok()?;
            let muts = {
                let symtab = &mut txn.symtab;
                let mut named = |n: &str| symtab.get(n).map(|s| s.uuid);
                crate::mutation::parse_mutations(ts, &v, &mut named).ok()?
            };
            txn.mutate_rows(tb, &cond, &muts).ok()
        }
        "delete" => {
            if !only(M_TABLE | M_WHERE, M_TABLE | M_WHERE) {
                return None;
            }
            let tb = table()?;
            let cond = condition(txn, txn.ts(tb), m.get(t, M_WHERE)?)?;
            Some(txn.delete_rows(tb, &cond))
        }
        "comment" => {
            if !only(M_COMMENT, M_COMMENT) {
                return None;
            }
            let c = m.string(t, M_COMMENT)?.into_owned();
            txn.comments.push(c);
            Some(OpResult::Empty)
        }
        "commit" => {
            if !only(M_DURABLE, M_DURABLE) {
                return None;
            }
            txn.durable = Reader::new(m.get(t, M_DURABLE)?).boolean()?;
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
    let mut clauses = Vec::with_capacity(2);
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
    let mut out: Vec<(usize, Datum)> = Vec::with_capacity(4);
    if r.eat(b'}') {
        return Some(out);
    }
    loop {
        let k = r.plain_string()?;
        if !r.eat(b':') {
            return None;
        }
        let c = ts.column(k)?;
        let cs = &ts.columns[c];
        if (update && !cs.mutable) || out.iter().any(|(x, _)| *x == c) {
            return None;
        }
        let is_ref = crate::transaction::is_ref_column(&cs.ty);
        let symtab = &mut txn.symtab;
        let mut named = |n: &str| Some(crate::transaction::row_symbol(symtab, n, is_ref));
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
        let mut out = Vec::with_capacity(4);
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
        let mut probe = r.clone();
        let is_set = probe.eat(b'[') && probe.string().as_deref() == Some("set");
        let mut out;
        if is_set {
            out = Vec::with_capacity(4);
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
            out = vec![atom(r, &ty.key, named, strict)?];
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
