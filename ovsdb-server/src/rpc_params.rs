//! Parameter checks of the RPC methods other than `transact`, as OVS makes
//! them: each takes the request's `params` array and returns the checked
//! value or the `syntax error` OVS answers. Kept apart from the handlers
//! in `server` so that they read as a list of OVS's rules.

use serde_json::Value;
use uuid::Uuid;

use crate::error::OvsdbError;
use crate::schema::valid_id;

/// `lock`, `steal`, `unlock`: exactly one parameter, a string that is an
/// id (a letter or `_`, then letters, digits, `_`).
pub fn lock_name(p: &[Value]) -> Result<&str, OvsdbError> {
    match p {
        [Value::String(n)] if valid_id(n) => Ok(n),
        _ => Err(OvsdbError::syntax("invalid lock name")),
    }
}

/// `set_db_change_aware`: exactly one boolean.
pub fn change_aware(p: &[Value]) -> Result<bool, OvsdbError> {
    match p {
        [Value::Bool(b)] => Ok(*b),
        _ => Err(OvsdbError::syntax(
            "set_db_change_aware expects one boolean parameter",
        )),
    }
}

/// `monitor_cond_since`'s fourth parameter, the client's last transaction
/// id: a UUID in its string form (absent: none).
pub fn last_txn_id(p: &[Value]) -> Result<Option<Uuid>, OvsdbError> {
    match p.get(3) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(crate::atom::parse_uuid)
            .map(Some)
            .ok_or_else(|| OvsdbError::syntax_in(v, "last-txn-id must be a UUID")),
    }
}

/// One table's part of a `monitor_cond_change`: an array of requests (or
/// one), each of which may change `where` but never `columns`. Returns
/// the first request's `where`, if any.
pub fn cond_change_where(r: &Value) -> Result<Option<&Value>, OvsdbError> {
    let list: Vec<&Value> = match r {
        Value::Array(a) => a.iter().collect(),
        o => vec![o],
    };
    for x in &list {
        let o = x
            .as_object()
            .ok_or_else(|| OvsdbError::syntax("monitor-cond-change request must be an object"))?;
        if o.contains_key("columns") {
            return Err(OvsdbError::syntax_in(
                x,
                "changing the columns of a monitor is not supported",
            ));
        }
    }
    Ok(list.first().and_then(|x| x.get("where")))
}
