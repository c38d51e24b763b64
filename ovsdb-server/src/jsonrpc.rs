//! JSON-RPC 1.0 framing and messages as OVSDB uses them (RFC 7047 section
//! 4): a byte stream of concatenated JSON objects with no delimiter.
//!
//! `Framer` finds message boundaries with a tiny state machine (bracket
//! stack, inside-string, escape) that looks at each byte once, so a message
//! split over many reads is never re-parsed from the start; each complete
//! message is then parsed once: a `transact` request is checked and kept as
//! text for the typed fast path (`Message::Transact`, see `transact_text`),
//! anything else goes through serde_json. A message over the size limit or a
//! stray non-object is an error, after which the stream is closed.

use crate::error::OvsdbError;
use serde_json::{json, Value};

/// Largest accepted message.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Splits a byte stream into JSON texts.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned.
    scanned: usize,
    /// Closing brackets expected, innermost last.
    stack: Vec<u8>,
    in_str: bool,
    esc: bool,
    started: bool,
    limit: usize,
}

impl Framer {
    pub fn new() -> Self {
        Framer {
            limit: MAX_MESSAGE,
            ..Default::default()
        }
    }
    pub fn with_limit(limit: usize) -> Self {
        Framer {
            limit,
            ..Default::default()
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete JSON text, if any.
    ///
    /// Inside a string only `"` and `\\` matter, outside it only quotes and
    /// brackets, so the scan jumps from one such byte to the next, eight bytes at a time.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, OvsdbError> {
        if !self.started {
            // Drop whitespace between messages.
            let ws = self
                .buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .count();
            self.buf.drain(..ws);
            let Some(&b) = self.buf.first() else {
                self.scanned = 0;
                return Ok(None);
            };
            if b != b'{' && b != b'[' {
                return Err(OvsdbError::syntax(format!(
                    "unexpected character 0x{b:02x} between messages"
                )));
            }
            self.started = true;
            self.in_str = false;
            self.esc = false;
            self.stack.clear();
            self.stack.push(if b == b'{' { b'}' } else { b']' });
            self.scanned = 1;
        }
        let n = self.buf.len();
        let mut i = self.scanned;
        let (mut in_str, mut esc) = (self.in_str, self.esc);
        while i < n {
            if in_str {
                if esc {
                    esc = false;
                    i += 1;
                    continue;
                }
                match find_in_string(&self.buf[i..]) {
                    None => i = n,
                    Some(k) => {
                        i += k;
                        if self.buf[i] == b'\\' {
                            esc = true;
                        } else {
                            in_str = false;
                        }
                        i += 1;
                    }
                }
                continue;
            }
            let Some(k) = find_structural(&self.buf[i..]) else {
                i = n;
                break;
            };
            i += k;
            match self.buf[i] {
                b'"' => in_str = true,
                b'{' => self.stack.push(b'}'),
                b'[' => self.stack.push(b']'),
                b => {
                    if self.stack.pop() != Some(b) {
                        return Err(OvsdbError::syntax(format!(
                            "mismatched '{}' at byte {i} of message",
                            b as char
                        )));
                    }
                    if self.stack.is_empty() {
                        if i > self.limit {
                            return Err(self.too_big());
                        }
                        let msg: Vec<u8> = self.buf.drain(..=i).collect();
                        self.scanned = 0;
                        self.started = false;
                        return Ok(Some(msg));
                    }
                }
            }
            i += 1;
        }
        self.scanned = i;
        self.in_str = in_str;
        self.esc = esc;
        if i > self.limit {
            return Err(self.too_big());
        }
        Ok(None)
    }

    fn too_big(&self) -> OvsdbError {
        OvsdbError::new(
            "resources exhausted",
            format!("message exceeds {} bytes", self.limit),
        )
    }

    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` that equals `c` (exact for the lowest
/// such byte, which is all the scans below use).
#[inline(always)]
fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ (LO * c as u64);
    x.wrapping_sub(LO) & !x & HI
}

/// Index of the first byte of `s` that satisfies `hit` (given one 8-byte
/// little-endian word, the mask of matching bytes), scanning a word at a
/// time: a message's strings and gaps are mostly plain bytes.
#[inline(always)]
fn find_word(s: &[u8], hit: impl Fn(u64) -> u64, byte: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= s.len() {
        let w = u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        let m = hit(w);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&b| byte(b)).map(|k| i + k)
}

/// First `"` or backslash (the bytes that matter inside a string).
fn find_in_string(s: &[u8]) -> Option<usize> {
    find_word(
        s,
        |w| eq_mask(w, b'"') | eq_mask(w, b'\\'),
        |b| b == b'"' || b == b'\\',
    )
}

/// First quote or bracket (the bytes that matter outside strings). Setting
/// bit 0x20 maps `[` to `{` and `]` to `}` and no other byte onto either.
fn find_structural(s: &[u8]) -> Option<usize> {
    find_word(
        s,
        |w| {
            let f = w | (LO * 0x20);
            eq_mask(w, b'"') | eq_mask(f, b'{') | eq_mask(f, b'}')
        },
        |b| matches!(b, b'"' | b'{' | b'}' | b'[' | b']'),
    )
}

/// A parsed JSON-RPC message.
#[derive(Debug, Clone)]
pub enum Message {
    Request {
        method: String,
        params: Value,
        id: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    Reply {
        id: Value,
        result: Value,
        error: Value,
    },
    /// A `transact` request kept as text for the fast path
    /// (`crate::transact_text`); `generic` gives its `Request` form.
    Transact(crate::transact_text::TransactText),
}

impl Message {
    /// Parses one JSON text. The envelope's members go straight into their
    /// fields (no map is built for the top level); anything the fast path
    /// rejects is parsed again through a `Value`, so every error reads
    /// exactly as before.
    pub fn parse(text: &[u8]) -> Result<Message, OvsdbError> {
        if let Some(t) = crate::transact_text::TransactText::read(text) {
            return Ok(Message::Transact(t));
        }
        if let Ok(Envelope(e)) = serde_json::from_slice::<Envelope>(text) {
            return Self::from_parts(e);
        }
        let v: Value = serde_json::from_slice(text)
            .map_err(|e| OvsdbError::syntax(format!("JSON parse error: {e}")))?;
        Self::from_value(v)
    }

    /// The message as the generic parser gives it (a `Transact` becomes
    /// the `Request` it stands for).
    pub fn generic(self) -> Message {
        match self {
            Message::Transact(t) => Message::Request {
                method: "transact".into(),
                params: t.params_value(),
                id: t.id,
            },
            m => m,
        }
    }

    pub fn from_value(v: Value) -> Result<Message, OvsdbError> {
        let Value::Object(mut o) = v else {
            return Err(OvsdbError::syntax("JSON-RPC message must be an object"));
        };
        Self::from_parts(Parts {
            id: o.remove("id"),
            method: o.remove("method"),
            params: o.remove("params"),
            result: o.remove("result"),
            error: o.remove("error"),
        })
    }

    fn from_parts(p: Parts) -> Result<Message, OvsdbError> {
        let Parts {
            id,
            method,
            params,
            result,
            error,
        } = p;
        match method {
            Some(Value::String(method)) => {
                let params = params.unwrap_or(Value::Array(vec![]));
                if !params.is_array() {
                    return Err(OvsdbError::syntax("\"params\" must be an array"));
                }
                match id {
                    None | Some(Value::Null) => Ok(Message::Notification { method, params }),
                    Some(id) => Ok(Message::Request { method, params, id }),
                }
            }
            Some(_) => Err(OvsdbError::syntax("\"method\" must be a string")),
            None => {
                if result.is_none() && error.is_none() {
                    return Err(OvsdbError::syntax(
                        "message is neither a request nor a reply",
                    ));
                }
                Ok(Message::Reply {
                    id: id.unwrap_or(Value::Null),
                    result: result.unwrap_or(Value::Null),
                    error: error.unwrap_or(Value::Null),
                })
            }
        }
    }
}

/// The members of a message object that JSON-RPC gives a meaning to.
#[derive(Default)]
struct Parts {
    id: Option<Value>,
    method: Option<Value>,
    params: Option<Value>,
    result: Option<Value>,
    error: Option<Value>,
}

/// A message object read member by member: a repeated member keeps its
/// last value and other members are dropped, as the `Value` route does.
struct Envelope(Parts);

#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Member {
    Id,
    Method,
    Params,
    Result,
    Error,
    #[serde(other)]
    Other,
}

impl<'de> serde::Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Envelope;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON-RPC message object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Envelope, A::Error> {
                let mut p = Parts::default();
                while let Some(k) = m.next_key::<Member>()? {
                    let slot = match k {
                        Member::Id => &mut p.id,
                        Member::Method => &mut p.method,
                        Member::Params => &mut p.params,
                        Member::Result => &mut p.result,
                        Member::Error => &mut p.error,
                        Member::Other => {
                            // Parsed as a Value, not skipped, so that it is
                            // validated exactly as the `Value` route does.
                            m.next_value::<Value>()?;
                            continue;
                        }
                    };
                    *slot = Some(m.next_value()?);
                }
                Ok(Envelope(p))
            }
        }
        d.deserialize_map(V)
    }
}

pub fn reply(id: &Value, result: Value) -> Value {
    json!({"id": id, "result": result, "error": Value::Null})
}

/// The bytes of `reply(id, result)`, serialized without building the
/// envelope object first.
pub fn reply_bytes(id: &Value, result: &Value) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut b, id);
    b.extend_from_slice(b",\"result\":");
    let _ = serde_json::to_writer(&mut b, result);
    b.extend_from_slice(b",\"error\":null}");
    b
}

/// The bytes of a transact reply: `reply(id, [results...])` written
/// straight from the operation results.
pub fn transact_reply_bytes(id: &Value, results: &[crate::transaction::OpResult]) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut b, id);
    b.extend_from_slice(b",\"result\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        r.write_json(&mut b);
    }
    b.extend_from_slice(b"],\"error\":null}");
    b
}

pub fn error_reply(id: &Value, error: Value) -> Value {
    json!({"id": id, "result": Value::Null, "error": error})
}

pub fn notification(method: &str, params: Value) -> Value {
    json!({"id": Value::Null, "method": method, "params": params})
}

pub fn request(method: &str, params: Value, id: Value) -> Value {
    json!({"id": id, "method": method, "params": params})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_concatenated() {
        let mut f = Framer::new();
        f.push(br#"{"a":"}{\""}  {"b":[1,{"#);
        assert_eq!(
            f.next_message().unwrap().unwrap(),
            br#"{"a":"}{\""}"#.to_vec()
        );
        assert!(f.next_message().unwrap().is_none());
        f.push(b"}]}");
        assert_eq!(
            f.next_message().unwrap().unwrap(),
            br#"{"b":[1,{}]}"#.to_vec()
        );
    }

    /// Byte-at-a-time reference: where each message ends.
    fn reference_ends(data: &[u8]) -> Vec<usize> {
        let (mut depth, mut in_str, mut esc, mut out) = (0usize, false, false, vec![]);
        for (i, &b) in data.iter().enumerate() {
            if in_str {
                if esc {
                    esc = false;
                } else if b == b'\\' {
                    esc = true;
                } else if b == b'"' {
                    in_str = false;
                }
            } else if b == b'"' {
                in_str = true;
            } else if b == b'{' || b == b'[' {
                depth += 1;
            } else if b == b'}' || b == b']' {
                depth -= 1;
                if depth == 0 {
                    out.push(i + 1);
                }
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn framer_matches_reference_in_any_split(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    r#"{"a":"x\\\"}{[y"}"#, r#"[1,{"b":[]}]"#, "  \n", r#"{"s":"\\\\"}"#,
                    r#"{"m":"transact","p":["db",{"op":"insert"}],"id":7}"#,
                ]),
                1..8,
            ),
            cut in 0usize..200,
        ) {
            let data: Vec<u8> = parts.concat().into_bytes();
            let cut = cut.min(data.len());
            let mut f = Framer::new();
            let mut got = Vec::new();
            let mut total = 0;
            for chunk in [&data[..cut], &data[cut..]] {
                f.push(chunk);
                while let Some(m) = f.next_message().unwrap() {
                    let start = data[total..]
                        .iter()
                        .position(|b| !b" \t\r\n".contains(b))
                        .unwrap()
                        + total;
                    proptest::prop_assert_eq!(&data[start..start + m.len()], &m[..]);
                    total = start + m.len();
                    got.push(total);
                }
            }
            proptest::prop_assert_eq!(got, reference_ends(&data));
        }
    }

    proptest::proptest! {
        /// The word-at-a-time scans find what a byte loop finds.
        #[test]
        fn word_scans_match_byte_scans(
            s in proptest::collection::vec(proptest::sample::select(
                b"ab \"\\{}[];{}[]\x7b\x7d\x5b\x5d\x3b\x1b\xfb\xdb\x02\xa2\x00\x80\xff".to_vec()), 0..40),
        ) {
            proptest::prop_assert_eq!(
                find_in_string(&s),
                s.iter().position(|&b| b == b'"' || b == b'\\')
            );
            proptest::prop_assert_eq!(
                find_structural(&s),
                s.iter().position(|&b| matches!(b, b'"' | b'{' | b'}' | b'[' | b']'))
            );
        }
    }

    #[test]
    fn reply_bytes_match_reply() {
        for id in [json!(7), json!("x\"y"), json!(null), json!([1, {"a": 2}])] {
            let r = json!([{"uuid": ["uuid", "0"]}, {"rows": []}]);
            assert_eq!(
                reply_bytes(&id, &r),
                serde_json::to_vec(&reply(&id, r.clone())).unwrap()
            );
        }
    }

    #[test]
    fn transact_reply_bytes_match_reply() {
        use crate::transaction::OpResult;
        let u = crate::uuidgen::fresh();
        let rs = [
            OpResult::Uuid(u),
            OpResult::Count(3),
            OpResult::Empty,
            OpResult::Json(json!({"rows": [{"a": "x\"y"}]})),
            OpResult::Json(Value::Null),
        ];
        for n in 0..=rs.len() {
            let rs = &rs[..n];
            let v = Value::Array(rs.iter().map(OpResult::to_json).collect());
            assert_eq!(
                String::from_utf8(transact_reply_bytes(&json!(9), rs)).unwrap(),
                serde_json::to_string(&reply(&json!(9), v)).unwrap()
            );
        }
    }

    /// The member-by-member parse gives what the `Value` route gives
    /// (message or error text) for every kind of envelope.
    #[test]
    fn envelope_parse_matches_value_route() {
        let cases: &[&[u8]] = &[
            br#"{"id":1,"method":"transact","params":["db",{"op":"comment"}]}"#,
            br#"{"method":"echo","params":[],"id":null}"#,
            br#"{"method":"update","params":[1,{}]}"#,
            br#"{"id":"x","result":[1],"error":null}"#,
            br#"{"id":2,"error":"bad"}"#,
            br#"{"id":1,"id":2,"method":"a","method":"echo","params":[3]}"#,
            br#"{"extra":{"deep":[1,2,{"x":null}]},"method":"echo","id":0}"#,
            br#"{"\u0069d":5,"method":"echo"}"#,
            br#"{"method":7,"id":1}"#,
            br#"{"method":"echo","params":{}}"#,
            br#"{"id":1}"#,
            br#"{}"#,
            br#"[1,2]"#,
            br#""str""#,
            br#"{"method":"echo","params":[],"id":1"#,
            br#"{"method":"echo","x":"\ud800"}"#,
            b"{\"method\":\"echo\",\"x\":\"\xff\"}",
            br#"{"method":"echo","id":1} x"#,
        ];
        let via_value = |t: &[u8]| -> Result<Message, OvsdbError> {
            let v: Value = serde_json::from_slice(t)
                .map_err(|e| OvsdbError::syntax(format!("JSON parse error: {e}")))?;
            Message::from_value(v)
        };
        for t in cases {
            let a = format!("{:?}", Message::parse(t).map(Message::generic));
            let b = format!("{:?}", via_value(t));
            assert_eq!(a, b, "input {}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn rejects_garbage_and_oversize() {
        let mut f = Framer::new();
        f.push(b"x");
        assert_eq!(f.next_message().unwrap_err().tag, "syntax error");
        let mut f = Framer::new();
        f.push(b"{\"a\":[}");
        assert_eq!(f.next_message().unwrap_err().tag, "syntax error");
        let mut f = Framer::with_limit(10);
        f.push(b"{\"aaaaaaaaaaaaaaaa");
        assert_eq!(f.next_message().unwrap_err().tag, "resources exhausted");
    }
}
