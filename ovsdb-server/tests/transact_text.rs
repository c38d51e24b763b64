//! The transact fast path against the generic route, on generated requests
//! (valid and invalid, odd spacing, escapes, repeated members...) over a
//! small schema with every kind of column: the parser must give the same
//! message or error, and whenever the fast engine answers it must make the
//! same results and changes, UUID for UUID, as the generic engine.

use ovsdb::error::OvsdbError;
use ovsdb::jsonrpc::Message;
use ovsdb::schema::DatabaseSchema;
use ovsdb::table::Db;
use ovsdb::transact_text::differential;
use ovsdb::transaction::{execute, ExecCtx, Outcome};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::Arc;

const SCHEMA: &str = r#"{"name": "T", "version": "1.0.0", "tables": {
  "Root": {"isRoot": true, "maxRows": 4, "columns": {
     "name": {"type": "string"},
     "kids": {"type": {"key": {"type": "uuid", "refTable": "Kid"}, "min": 0, "max": "unlimited"}},
     "weak": {"type": {"key": {"type": "uuid", "refTable": "Kid", "refType": "weak"}, "min": 0, "max": "unlimited"}},
     "n": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 100}}},
     "b": {"type": "boolean"},
     "ints": {"type": {"key": "integer", "min": 0, "max": 3}},
     "color": {"type": {"key": {"type": "string", "enum": ["set", ["red", "blue"]], "maxLength": 4}, "min": 0, "max": 1}},
     "m": {"type": {"key": "string", "value": {"type": "integer", "maxInteger": 9}, "min": 0, "max": "unlimited"}},
     "fixed": {"type": "string", "mutable": false}},
   "indexes": [["name"]]},
  "Kid": {"columns": {"name": {"type": "string"}, "peer": {"type": {"key": {"type": "uuid", "refTable": "Kid"}, "min": 0, "max": 1}}}}}}"#;

const U1: &str = "00000000-0000-4000-8000-000000000001";

fn db() -> Db {
    let v: Value = serde_json::from_str(SCHEMA).unwrap();
    let mut db = Db::new(Arc::new(DatabaseSchema::from_json(&v).unwrap()));
    // A root row and a kid it references, with a known uuid each.
    let ops: Value = serde_json::from_str(&format!(
        r#"[{{"op":"insert","table":"Kid","uuid":"{U1}","row":{{"name":"k"}}}},
            {{"op":"insert","table":"Root","row":{{"name":"a","fixed":"f","kids":["uuid","{U1}"]}}}}]"#
    ))
    .unwrap();
    let ctx = ExecCtx {
        read_only: false,
        has_lock: &|_| false,
        elapsed_ms: 0,
    };
    match execute(&db, ops.as_array().unwrap(), &ctx) {
        Outcome::Done {
            prepared: Some(p), ..
        } => {
            ovsdb::commit::apply(&mut db, p);
        }
        _ => panic!("setup failed"),
    }
    db
}

fn atom_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"red\"".to_string()),
        Just("\"blue\"".to_string()),
        Just("\"x\\\"y\\u00e9\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("\"a\"".to_string()),
        (-3i64..120).prop_map(|i| i.to_string()),
        Just("1.5".to_string()),
        Just("-0".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just(format!("[\"uuid\",\"{U1}\"]")),
        Just("[\"uuid\",\"nope\"]".to_string()),
        Just("[\"named-uuid\",\"k\"]".to_string()),
        Just("[\"named-uuid\",\"r\"]".to_string()),
        Just("{}".to_string()),
    ]
}

fn datum_text() -> impl Strategy<Value = String> {
    let atoms = prop::collection::vec(atom_text(), 0..4);
    prop_oneof![
        atom_text(),
        atoms.prop_map(|a| format!("[\"set\",[{}]]", a.join(","))),
        prop::collection::vec((atom_text(), atom_text()), 0..3).prop_map(|p| {
            let pairs: Vec<String> = p.iter().map(|(k, v)| format!("[{k},{v}]")).collect();
            format!("[\"map\",[{}]]", pairs.join(","))
        }),
        Just("[\"set\"]".to_string()),
        Just("[\"map\",{}]".to_string()),
    ]
}

fn column() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "name", "kids", "weak", "n", "b", "ints", "color", "m", "fixed", "peer", "_uuid", "nope",
    ])
}

fn int() -> impl Strategy<Value = String> + Clone {
    (-1i64..12).prop_map(|i| i.to_string())
}

fn str_atom() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec![
        "\"a\"",
        "\"b\"",
        "\"red\"",
        "\"\\u0062\"",
        "\"\\t\u{e9}\"",
    ])
    .prop_map(str::to_string)
}

fn uuid_atom() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec![
        format!("[\"uuid\",\"{U1}\"]"),
        format!("[\"uuid\",\"{U1}\"]"),
        format!("[\"uuid\",\"{U1}\"]"),
        "[\"named-uuid\",\"k\"]".to_string(),
        "[\"named-uuid\",\"r\"]".to_string(),
        "[\"uuid\",\"00000000-0000-4000-8000-000000000002\"]".to_string(),
    ])
}

fn set_of(a: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = String> {
    prop_oneof![
        a.clone(),
        prop::collection::vec(a, 0..4).prop_map(|v| format!("[\"set\",[{}]]", v.join(","))),
    ]
}

/// A column and a value mostly of its type (else anything).
fn column_value() -> impl Strategy<Value = (&'static str, String)> {
    let pairs = prop::collection::vec((str_atom(), int()), 0..3).prop_map(|p| {
        let v: Vec<String> = p.iter().map(|(k, x)| format!("[{k},{x}]")).collect();
        format!("[\"map\",[{}]]", v.join(","))
    });
    prop_oneof![
        3 => str_atom().prop_map(|v| ("name", v)),
        3 => set_of(int()).prop_map(|v| ("ints", v)),
        3 => int().prop_map(|v| ("n", v)),
        3 => any::<bool>().prop_map(|v| ("b", v.to_string())),
        3 => set_of(str_atom()).prop_map(|v| ("color", v)),
        3 => pairs.prop_map(|v| ("m", v)),
        3 => set_of(uuid_atom()).prop_map(|v| ("kids", v)),
        3 => set_of(uuid_atom()).prop_map(|v| ("weak", v)),
        3 => set_of(uuid_atom()).prop_map(|v| ("peer", v)),
        2 => (column(), datum_text()),
    ]
}

fn row_text() -> impl Strategy<Value = String> {
    prop::collection::vec(column_value(), 0..4).prop_map(|cols| {
        let m: Vec<String> = cols.iter().map(|(c, d)| format!("\"{c}\":{d}")).collect();
        format!("{{{}}}", m.join(","))
    })
}

fn where_text() -> impl Strategy<Value = String> {
    let func = prop::sample::select(vec!["==", "!=", "includes", "excludes", "<", "bogus"]);
    let func2 = func.clone();
    let clause = prop_oneof![
        Just("true".to_string()),
        Just("[\"name\",\"==\",\"a\"]".to_string()),
        (column(), func, datum_text()).prop_map(|(c, f, d)| format!("[\"{c}\",\"{f}\",{d}]")),
        (column_value(), func2).prop_map(|((c, d), f)| format!("[\"{c}\",\"{f}\",{d}]")),
        Just(format!("[\"_uuid\",\"==\",[\"uuid\",\"{U1}\"]]")),
    ];
    prop::collection::vec(clause, 0..3).prop_map(|c| format!("[{}]", c.join(",")))
}

fn op_text() -> impl Strategy<Value = String> {
    let table = prop::sample::select(vec!["Root", "Kid", "Nope"]);
    let name = prop::sample::select(vec!["k", "r", "k\\u0000"]);
    let mutation = (
        column_value(),
        prop::sample::select(vec!["+=", "insert", "delete", "/="]),
    )
        .prop_map(|((c, d), m)| format!("[[\"{c}\",\"{m}\",{d}]]"));
    prop_oneof![
        (table.clone(), row_text(), prop::option::of(name)).prop_map(|(t, r, n)| match n {
            Some(n) => format!(r#"{{"op":"insert","table":"{t}","uuid-name":"{n}","row":{r}}}"#),
            None => format!(r#"{{"row":{r},"op":"insert","table":"{t}"}}"#),
        }),
        (table.clone(), where_text(), row_text()).prop_map(|(t, w, r)| format!(
            r#"{{"op":"update","table":"{t}","where":{w},"row":{r}}}"#
        )),
        (table.clone(), where_text(), mutation).prop_map(|(t, w, m)| format!(
            r#"{{"op":"mutate","table":"{t}","where":{w},"mutations":{m}}}"#
        )),
        (table, where_text())
            .prop_map(|(t, w)| format!(r#"{{ "op" : "delete" , "table":"{t}","where":{w} }}"#)),
        Just(r#"{"op":"comment","comment":"c\n"}"#.to_string()),
        Just(r#"{"op":"commit","durable":true}"#.to_string()),
        Just(r#"{"op":"commit","durable":1}"#.to_string()),
        Just(r#"{"op":"insert","table":"Kid","table":"Kid"}"#.to_string()),
        Just(r#"{"op":"select","table":"Kid","where":[]}"#.to_string()),
        Just(r#"{"op":"insert","table":"Kid","extra":1}"#.to_string()),
    ]
}

fn message_text() -> impl Strategy<Value = String> {
    let db = prop::sample::select(vec!["\"T\"", "\"T\"", "\"T\"", "\"T\"", "\"X\"", "1"]);
    let id = prop::sample::select(vec![
        "7",
        "\"s\"",
        "7",
        "\"s\"",
        "7",
        "\"s\"",
        "null",
        "[1,{\"a\":2}]",
        "1e2",
    ]);
    (
        db,
        prop::collection::vec(op_text(), 0..3),
        id,
        any::<bool>(),
    )
        .prop_map(|(d, ops, id, order)| {
            let mut p = vec![d.to_string()];
            p.extend(ops);
            let params = format!("[{}]", p.join(",\n "));
            if order {
                format!(r#"{{"id":{id},"method":"transact","params":{params}}}"#)
            } else {
                format!(r#"{{"params": {params}, "method": "transact", "id": {id}}} "#)
            }
        })
}

fn generic(text: &[u8]) -> Result<Message, OvsdbError> {
    let v: Value = serde_json::from_slice(text)
        .map_err(|e| OvsdbError::syntax(format!("JSON parse error: {e}")))?;
    Message::from_value(v)
}

/// Parses `text` both ways and, when it is a fast transact on "T", runs
/// it both ways. Returns whether the fast engine answered.
fn check(db: &Db, text: &str) -> Result<bool, TestCaseError> {
    let parsed = Message::parse(text.as_bytes());
    prop_assert_eq!(
        format!("{:?}", parsed.clone().map(Message::generic)),
        format!("{:?}", generic(text.as_bytes())),
        "{}",
        text
    );
    let Ok(Message::Transact(t)) = parsed else {
        return Ok(false);
    };
    if t.db_name().as_deref() != Some("T") {
        return Ok(false);
    }
    let ctx = ExecCtx {
        read_only: false,
        has_lock: &|_| false,
        elapsed_ms: 0,
    };
    differential(db, &t, &ctx).map_err(|d| TestCaseError::fail(format!("{text}\n{d}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn fast_path_agrees_with_generic_route(text in message_text()) {
        let db = db();
        check(&db, &text)?;
    }
}

/// The generator reaches the fast engine often enough to mean something.
#[test]
fn generated_requests_reach_the_fast_engine() {
    use proptest::strategy::ValueTree;
    let db = db();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut fast = 0;
    for _ in 0..2000 {
        let text = message_text().new_tree(&mut runner).unwrap().current();
        if check(&db, &text).unwrap() {
            fast += 1;
        }
    }
    eprintln!("{fast} of 2000 generated requests took the fast path");
    assert!(fast > 300, "only {fast} of 2000 took the fast path");
}
