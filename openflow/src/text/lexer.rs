//! Splitting flow text into `key[=:]value` or `key(value)` pairs.
//!
//! The syntax nests (`ct(commit,exec(load:1->NXM_NX_CT_MARK[]))`), so the
//! splitter tracks parenthesis and bracket depth and only cuts at
//! separators (`,`, space, tab) at depth zero. It hands out borrowed slices
//! of the input: no allocation per token.

use super::error::ParseError;

/// One `key`, `key=value`, `key:value` or `key(value)` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    pub key: &'a str,
    pub value: &'a str,
    /// `true` when the value was given in parentheses.
    pub paren: bool,
    /// The full text of the item, for error messages.
    pub text: &'a str,
    /// What follows `)->` (only `check_pkt_larger(N)->DST` uses it).
    pub tail: &'a str,
}

fn is_sep(c: u8) -> bool {
    matches!(c, b',' | b' ' | b'\t' | b'\r' | b'\n')
}

/// Iterates over the items of a comma/space separated list.
pub struct Items<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Items<'a> {
    pub fn new(s: &'a str) -> Items<'a> {
        Items { s, pos: 0 }
    }
}

/// Index just past the `)` matching the `(` at `open`, or an error.
fn close_paren(s: &str, open: usize) -> Result<usize, ParseError> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
    }
    Err(ParseError::Unbalanced(s[open..].to_string()))
}

/// End of a value starting at `start`: the first separator at depth zero.
fn value_end(s: &str, start: usize) -> Result<usize, ParseError> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(ParseError::Unbalanced(s[start..].to_string()));
                }
            }
            c if depth == 0 && is_sep(c) => break,
            _ => {}
        }
        i += 1;
    }
    if depth != 0 {
        return Err(ParseError::Unbalanced(s[start..].to_string()));
    }
    Ok(i)
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let b = s.as_bytes();
        while self.pos < b.len() && is_sep(b[self.pos]) {
            self.pos += 1;
        }
        if self.pos >= b.len() {
            return None;
        }
        let start = self.pos;
        let mut i = start;
        while i < b.len() && !matches!(b[i], b'=' | b':' | b'(') && !is_sep(b[i]) {
            // Brackets belong to the key (subfields: `NXM_NX_REG0[0..3]=5`).
            if b[i] == b'[' {
                match s[i..].find(']') {
                    Some(j) => i += j,
                    None => {
                        self.pos = b.len();
                        return Some(Err(ParseError::Unbalanced(s[start..].to_string())));
                    }
                }
            }
            i += 1;
        }
        let key = &s[start..i];
        let r = if i >= b.len() || is_sep(b[i]) {
            self.pos = i;
            Ok(Item {
                key,
                value: "",
                paren: false,
                text: key,
                tail: "",
            })
        } else if b[i] == b'(' {
            match close_paren(s, i) {
                Ok(end) if s[end..].starts_with("->") => match value_end(s, end + 2) {
                    Ok(e2) => {
                        self.pos = e2;
                        Ok(Item {
                            key,
                            value: &s[i + 1..end - 1],
                            paren: true,
                            text: &s[start..e2],
                            tail: &s[end + 2..e2],
                        })
                    }
                    Err(e) => {
                        self.pos = b.len();
                        Err(e)
                    }
                },
                Ok(end) => {
                    self.pos = end;
                    Ok(Item {
                        key,
                        value: &s[i + 1..end - 1],
                        paren: true,
                        text: &s[start..end],
                        tail: "",
                    })
                }
                Err(e) => {
                    self.pos = b.len();
                    Err(e)
                }
            }
        } else {
            match value_end(s, i + 1) {
                Ok(end) => {
                    self.pos = end;
                    Ok(Item {
                        key,
                        value: &s[i + 1..end],
                        paren: false,
                        text: &s[start..end],
                        tail: "",
                    })
                }
                Err(e) => {
                    self.pos = b.len();
                    Err(e)
                }
            }
        };
        Some(r)
    }
}

/// Splits `s` at top-level commas (for argument lists such as
/// `bundle(eth_src,0,hrw,ofport,members:1,2)`).
pub fn split_args(s: &str) -> Result<Vec<&str>, ParseError> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut last = 0;
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'(' | b'[' => depth += 1,
            b')' | b']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(ParseError::Unbalanced(s.to_string()));
                }
            }
            b',' if depth == 0 => {
                out.push(s[last..i].trim());
                last = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(ParseError::Unbalanced(s.to_string()));
    }
    let tail = s[last..].trim();
    if !tail.is_empty() || !out.is_empty() {
        out.push(tail);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_nested_items() {
        let items: Vec<_> =
            Items::new("ip, nw_src=198.18.0.1 ct(commit,zone=5),load:1->NXM_NX_REG0[0..3]")
                .map(|r| r.unwrap())
                .collect();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].key, "ip");
        assert_eq!(items[1].value, "198.18.0.1");
        assert_eq!(
            (items[2].key, items[2].value, items[2].paren),
            ("ct", "commit,zone=5", true)
        );
        assert_eq!(items[3].value, "1->NXM_NX_REG0[0..3]");
    }

    #[test]
    fn unbalanced_is_an_error() {
        assert!(Items::new("ct(commit").any(|r| r.is_err()));
        assert!(split_args("a,(b").is_err());
    }
}
