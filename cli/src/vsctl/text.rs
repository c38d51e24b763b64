//! OVSDB values as ovs-vsctl writes and reads them on the command line:
//! atoms bare when they read as an identifier (`br0`, `secure`), else as
//! JSON strings (`"tcp:1.2.3.4:6653"`, `"p 2"`); sets `[a, b]`, maps
//! `{k=v, k2=v2}`; brackets only for columns that can hold more than one
//! element or for empty values (OVS's `ovsdb_datum_to_string`). Parsing
//! takes the same forms back, bare or quoted, with or without brackets.

use std::sync::Arc;

use ovsdb::atom::{parse_uuid, Atom, AtomicType};
use ovsdb::datum::Datum;
use ovsdb::schema::{BaseType, ColumnType};

use super::symbols::Symbols;

/// Whether a string must be quoted to read back as that string.
fn needs_quotes(s: &str) -> bool {
    let mut c = s.chars();
    match c.next() {
        Some(f) if f.is_ascii_alphabetic() || f == '_' => {}
        _ => return true,
    }
    if !c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == '-' || x == '.') {
        return true;
    }
    s == "true" || s == "false" || parse_uuid(s).is_some()
}

pub fn atom(a: &Atom) -> String {
    match a {
        Atom::Integer(i) => i.to_string(),
        Atom::Real(r) => {
            if r.fract() == 0.0 && r.abs() < 1e15 {
                format!("{r:.0}")
            } else {
                format!("{r}")
            }
        }
        Atom::Boolean(b) => b.to_string(),
        Atom::String(s) => {
            if needs_quotes(s) {
                serde_json::to_string(&**s).unwrap_or_default()
            } else {
                s.to_string()
            }
        }
        Atom::Uuid(u) => u.to_string(),
    }
}

pub fn datum(d: &Datum, ty: &ColumnType) -> String {
    let brackets = ty.max > 1 || d.is_empty();
    let (open, close) = if ty.is_map() { ('{', '}') } else { ('[', ']') };
    let mut s = String::new();
    if brackets {
        s.push(open);
    }
    match d {
        Datum::Set(v) => {
            for (i, a) in v.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&atom(a));
            }
        }
        Datum::Map(v) => {
            for (i, (k, x)) in v.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&atom(k));
                s.push('=');
                s.push_str(&atom(x));
            }
        }
    }
    if brackets {
        s.push(close);
    }
    s
}

/// Splits `s` into tokens: quoted strings (JSON escapes), bare words, and
/// the punctuation `[ ] { } = ,`.
fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if "[]{}=,".contains(c) {
            out.push(c.to_string());
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            if i >= b.len() {
                return Err(format!("{s}: missing quote at end of string"));
            }
            i += 1;
            out.push(b[start..i].iter().collect());
        } else {
            let start = i;
            while i < b.len() && !b[i].is_whitespace() && !"[]{}=,\"".contains(b[i]) {
                i += 1;
            }
            out.push(b[start..i].iter().collect());
        }
    }
    Ok(out)
}

/// One atom of base type `bt` from its text (a token); `@name` for a
/// uuid is the row of that name (`syms`).
pub fn parse_atom(bt: &BaseType, tok: &str, syms: &Symbols) -> Result<Atom, String> {
    let unquoted = || -> Result<String, String> {
        if tok.starts_with('"') {
            serde_json::from_str::<String>(tok).map_err(|_| format!("{tok}: bad string"))
        } else {
            Ok(tok.to_string())
        }
    };
    let a = match bt.atype {
        AtomicType::Integer => Atom::Integer(
            tok.parse()
                .map_err(|_| format!("\"{tok}\" is not a valid integer or range"))?,
        ),
        AtomicType::Real => Atom::Real(
            tok.parse()
                .map_err(|_| format!("\"{tok}\" is not a valid real number"))?,
        ),
        AtomicType::Boolean => match tok {
            "true" => Atom::Boolean(true),
            "false" => Atom::Boolean(false),
            _ => {
                return Err(format!(
                    "\"{tok}\" is not a valid boolean (use \"true\" or \"false\")"
                ))
            }
        },
        AtomicType::String => Atom::String(Arc::from(unquoted()?.as_str())),
        AtomicType::Uuid if tok.starts_with('@') => Atom::Uuid(syms.resolve(tok)),
        AtomicType::Uuid => Atom::Uuid(
            parse_uuid(&unquoted()?).ok_or_else(|| format!("\"{tok}\" is not a valid UUID"))?,
        ),
    };
    bt.check(&a)
        .map_err(|e| format!("constraint violation: {e}"))?;
    Ok(a)
}

/// A whole value of column type `ty` (`a`, `[a, b]`, `{k=v}`, `k=v,k2=v2`).
pub fn parse_datum(ty: &ColumnType, s: &str, syms: &Symbols) -> Result<Datum, String> {
    let mut t = tokens(s)?;
    if let (Some(f), Some(l)) = (t.first(), t.last()) {
        if (f == "[" && l == "]") || (f == "{" && l == "}") {
            t = t[1..t.len() - 1].to_vec();
        }
    }
    let items: Vec<&[String]> = t.split(|x| x == ",").filter(|x| !x.is_empty()).collect();
    let d = if let Some(vt) = &ty.value {
        let mut v = Vec::new();
        for it in items {
            match it {
                [k, eq, x] if eq == "=" => {
                    v.push((parse_atom(&ty.key, k, syms)?, parse_atom(vt, x, syms)?))
                }
                _ => return Err(format!("{s}: syntax error in map (expected KEY=VALUE)")),
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        Datum::Map(v)
    } else {
        let mut v = Vec::new();
        for it in items {
            match it {
                [x] => v.push(parse_atom(&ty.key, x, syms)?),
                _ => return Err(format!("{s}: syntax error")),
            }
        }
        v.sort();
        v.dedup();
        Datum::Set(v)
    };
    if (d.len() as u64) < ty.min || (d.len() as u64) > ty.max {
        if ty.min == 1 && ty.max == 1 {
            return Err(format!("\"{s}\": a value is required"));
        }
        return Err(format!(
            "\"{s}\": {} values where at most {} are allowed",
            d.len(),
            ty.max
        ));
    }
    Ok(d)
}

/// A single key (map) or element (set) from its text.
pub fn parse_key(ty: &ColumnType, s: &str, syms: &Symbols) -> Result<Atom, String> {
    let t = tokens(s)?;
    match t.as_slice() {
        [x] => parse_atom(&ty.key, x, syms),
        _ => Err(format!("{s}: expected one value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_only_when_needed() {
        assert_eq!(atom(&Atom::String("br0".into())), "br0");
        assert_eq!(atom(&Atom::String("p 2".into())), "\"p 2\"");
        assert_eq!(
            atom(&Atom::String("tcp:1.2.3.4:6653".into())),
            "\"tcp:1.2.3.4:6653\""
        );
        assert_eq!(atom(&Atom::String("true".into())), "\"true\"");
        assert_eq!(atom(&Atom::String("10".into())), "\"10\"");
        assert_eq!(atom(&Atom::String("".into())), "\"\"");
    }

    proptest::proptest! {
        /// Any command-line text gives a value or an error, never a panic,
        /// for every column type of the schema.
        #[test]
        fn any_text_parses_or_errs(t in ".{0,40}") {
            let schema = ovsdb::vswitch_schema();
            for ts in &schema.tables {
                for c in &ts.columns {
                    let _ = parse_datum(&c.ty, &t, &Symbols::default());
                    let _ = parse_key(&c.ty, &t, &Symbols::default());
                }
            }
        }
    }

    #[test]
    fn values_read_back() {
        let schema = ovsdb::vswitch_schema();
        let t = &schema.tables[schema.table("Interface").unwrap()];
        let opts = &t.columns[t.column("options").unwrap()].ty;
        let d = parse_datum(opts, "{a=b, \"k 2\"=\"v,w\"}", &Symbols::default()).unwrap();
        assert_eq!(datum(&d, opts), "{a=b, \"k 2\"=\"v,w\"}");
        let ofport = &t.columns[t.column("ofport_request").unwrap()].ty;
        // Optional scalars: bare when set, `[]` when empty (OVS's n_max rule).
        assert_eq!(
            datum(
                &parse_datum(ofport, "7", &Symbols::default()).unwrap(),
                ofport
            ),
            "7"
        );
        assert_eq!(
            datum(
                &parse_datum(ofport, "[]", &Symbols::default()).unwrap(),
                ofport
            ),
            "[]"
        );
        assert!(parse_datum(ofport, "x", &Symbols::default()).is_err());
    }

    #[test]
    fn tokens_keep_quotes_and_punctuation() {
        assert_eq!(
            tokens("{a=\"x y\", b=1}").unwrap(),
            ["{", "a", "=", "\"x y\"", ",", "b", "=", "1", "}"]
        );
        assert!(tokens("\"open").is_err());
    }
}
