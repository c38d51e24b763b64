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
//!
//! Bounds, so that one message cannot cost much more than its size: the
//! framer refuses nesting deeper than `MAX_DEPTH` (OVS's limit) and, being
//! the only depth check, lets serde_json recurse without its own limit; a
//! big message is counted for elements (`count_elements`) before any tree
//! is built for it; and `echo` keeps its parameters as validated text
//! (`RawValue`), so its reply is a copy of bytes, never a `Value` tree.

use crate::error::OvsdbError;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Largest accepted message.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// Deepest accepted nesting of arrays and objects, the envelope included
/// (OVS's JSON parser refuses deeper input too).
pub const MAX_DEPTH: usize = 1000;
/// Stack for the thread that parses messages: serde_json recurses once per
/// level of nesting (a few KB each in a debug build), up to `MAX_DEPTH`.
pub const SERVER_STACK: usize = 64 << 20;
/// Messages at most this long are not counted for elements: they cannot
/// hold enough to matter.
pub const ELEMENT_SCAN_MIN: usize = 1 << 20;

/// Parses a JSON text with no recursion limit of serde_json's own: callers
/// pass texts the `Framer` has checked against `MAX_DEPTH`.
pub fn from_slice_unbounded<'a, T: serde::Deserialize<'a>>(
    text: &'a [u8],
) -> serde_json::Result<T> {
    let mut d = serde_json::Deserializer::from_slice(text);
    d.disable_recursion_limit();
    let v = T::deserialize(&mut d)?;
    d.end()?;
    Ok(v)
}

/// Number of values in a JSON text, roughly: commas and opening brackets
/// outside strings, plus one. It bounds the size of the tree parsing would
/// build, so it is checked first for big messages.
pub fn count_elements(text: &[u8]) -> usize {
    let (mut n, mut in_str, mut esc) = (1usize, false, false);
    for &b in text {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else {
            match b {
                b'"' => in_str = true,
                b',' | b'[' | b'{' => n += 1,
                _ => {}
            }
        }
    }
    n
}

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
                b @ (b'{' | b'[') => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(OvsdbError::syntax(format!(
                            "input exceeds maximum nesting depth {MAX_DEPTH}"
                        )));
                    }
                    self.stack.push(b + 2);
                }
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
                        let msg = self.take_front(i + 1);
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

    /// Removes and returns the first `n` bytes of the buffer. A message
    /// that fills (most of) the buffer takes its allocation rather than a
    /// copy, and a big buffer left behind with little in it is shrunk, so
    /// that one large message does not keep its memory after it is handled.
    fn take_front(&mut self, n: usize) -> Vec<u8> {
        let msg = if n == self.buf.len() {
            std::mem::take(&mut self.buf)
        } else if n >= self.buf.len() / 2 {
            let rest = self.buf.split_off(n);
            std::mem::replace(&mut self.buf, rest)
        } else {
            self.buf.drain(..n).collect()
        };
        if self.buf.capacity() > 1 << 20 && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to_fit();
        }
        msg
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
    /// An `echo` request, its parameters (an array) kept as checked text:
    /// the reply copies them, building no tree.
    Echo {
        id: Value,
        params: Box<RawValue>,
    },
}

impl Message {
    /// Parses one JSON text. The envelope's members go straight into their
    /// fields (no map is built for the top level); anything the fast path
    /// rejects is parsed again through a `Value`, so every error reads
    /// exactly as before.
    pub fn parse(text: &[u8]) -> Result<Message, OvsdbError> {
        Self::parse_bounded(text, usize::MAX)
    }

    /// `parse`, refusing a message of more than `max_elements` values
    /// (see `count_elements`) unless it is an `echo`, which builds no tree.
    pub fn parse_bounded(text: &[u8], max_elements: usize) -> Result<Message, OvsdbError> {
        if text.len() > ELEMENT_SCAN_MIN && count_elements(text) > max_elements {
            return match from_slice_unbounded::<Envelope>(text) {
                Ok(Envelope(e)) if e.is_echo() => Self::from_parts(e),
                _ => Err(OvsdbError::new(
                    "resources exhausted",
                    format!("message has more than {max_elements} elements"),
                )),
            };
        }
        if let Some(t) = crate::transact_text::TransactText::read(text) {
            return Ok(Message::Transact(t));
        }
        if let Ok(Envelope(e)) = from_slice_unbounded::<Envelope>(text) {
            if let Ok(m) = Self::from_parts(e) {
                return Ok(m);
            }
        }
        let v: Value = match from_slice_unbounded(text) {
            Ok(v) => v,
            Err(_) if std::str::from_utf8(text).is_err() => return Self::parse_invalid_utf8(text),
            Err(e) => return Err(OvsdbError::syntax(format!("JSON parse error: {e}"))),
        };
        Self::from_value(v)
    }

    /// A message whose text is not valid UTF-8. OVS reads such strings and
    /// fails the transact operation holding one with a constraint
    /// violation; so does ferrovs: each invalid sequence becomes
    /// `INVALID_UTF8_MARK`, and the first operation of a `transact` that
    /// holds one is replaced by the internal operation `INVALID_UTF8_OP`,
    /// which fails that way. Anything else (OVS would echo the bytes back
    /// as invalid JSON) is malformed and closes the session.
    fn parse_invalid_utf8(text: &[u8]) -> Result<Message, OvsdbError> {
        let bad = || OvsdbError::syntax("message is not valid UTF-8");
        let mut repaired = String::with_capacity(text.len() + 8);
        for chunk in text.utf8_chunks() {
            repaired.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                repaired.push(INVALID_UTF8_MARK);
            }
        }
        let v: Value = from_slice_unbounded(repaired.as_bytes()).map_err(|_| bad())?;
        match Self::from_value(v)? {
            Message::Request {
                method,
                mut params,
                id,
            } if method == "transact" => {
                let ops = params.as_array_mut().ok_or_else(bad)?;
                let held = |v: &Value| v.to_string().contains(INVALID_UTF8_MARK);
                match ops.iter().skip(1).position(held) {
                    Some(i) => ops[i + 1] = json!({"op": INVALID_UTF8_OP}),
                    None => return Err(bad()),
                }
                Ok(Message::Request { method, params, id })
            }
            _ => Err(bad()),
        }
    }

    /// Whether this is a reply a server never expects: OVS accepts only
    /// replies to its own `echo` probes (id `"echo"`), and closes the
    /// session on any other.
    pub fn unexpected_from_client(&self) -> bool {
        matches!(self, Message::Reply { id, .. } if id.as_str() != Some("echo"))
    }

    /// The message as the generic parser gives it (a `Transact` or an
    /// `Echo` becomes the `Request` it stands for).
    pub fn generic(self) -> Message {
        match self {
            Message::Transact(t) => Message::Request {
                method: "transact".into(),
                params: t.params_value(),
                id: t.id,
            },
            Message::Echo { id, params } => Message::Request {
                method: "echo".into(),
                params: from_slice_unbounded(params.get().as_bytes())
                    .unwrap_or(Value::Array(vec![])),
                id,
            },
            m => m,
        }
    }

    pub fn from_value(v: Value) -> Result<Message, OvsdbError> {
        let Value::Object(mut o) = v else {
            return Err(OvsdbError::syntax("JSON-RPC message must be an object"));
        };
        let mut p = Parts {
            id: o.remove("id"),
            method: o.remove("method"),
            params: o.remove("params").map(Params::Tree),
            result: o.remove("result"),
            error: o.remove("error"),
            extra: false,
        };
        p.extra = !o.is_empty();
        Self::from_parts(p)
    }

    fn from_parts(mut p: Parts) -> Result<Message, OvsdbError> {
        p.check_shape()?;
        let echo = p.is_echo();
        let Parts {
            id,
            method,
            params,
            result,
            error,
            ..
        } = p;
        let params = match params {
            Some(Params::Text(raw)) => {
                if echo {
                    let id = id.unwrap_or(Value::Null);
                    return Ok(Message::Echo { id, params: raw });
                }
                // Not an echo: the tree is needed after all. The text
                // was read once already, so this cannot fail.
                Some(
                    from_slice_unbounded(raw.get().as_bytes())
                        .map_err(|e| OvsdbError::syntax(format!("JSON parse error: {e}")))?,
                )
            }
            Some(Params::Tree(v)) => Some(v),
            None => None,
        };
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

/// Stands for an invalid UTF-8 sequence while a message is repaired (a
/// Unicode noncharacter, reserved for such internal use).
const INVALID_UTF8_MARK: char = '\u{FDD0}';

/// The operation that replaces a transact operation holding invalid UTF-8
/// (see `Message::parse_invalid_utf8`); it fails with a constraint
/// violation.
pub const INVALID_UTF8_OP: &str = "\u{FDD0}invalid UTF-8";

/// The members of a message object that JSON-RPC gives a meaning to.
#[derive(Default)]
struct Parts {
    id: Option<Value>,
    method: Option<Value>,
    params: Option<Params>,
    result: Option<Value>,
    error: Option<Value>,
    /// A member JSON-RPC does not define was present.
    extra: bool,
}

/// "params" as read: checked text (from the envelope reader, until the
/// method is known) or a tree.
enum Params {
    Text(Box<RawValue>),
    Tree(Value),
}

impl Parts {
    /// OVS's shape rules for a message: no member beyond the five, and by
    /// kind (a non-null `result` makes a reply, else a non-null `error` an
    /// error reply, else a `method` a request or, with a null or absent
    /// `id`, a notification) exactly the members that kind has, `params`
    /// an array. (JSON nulls count as absent, as in OVS.) Anything else is
    /// a malformed message, which closes the session.
    fn check_shape(&mut self) -> Result<(), OvsdbError> {
        for slot in [&mut self.id, &mut self.result, &mut self.error] {
            if matches!(slot, Some(Value::Null)) {
                *slot = None;
            }
        }
        let bad = |what: &str| {
            Err(OvsdbError::syntax(format!(
                "malformed JSON-RPC message: {what}"
            )))
        };
        if self.extra {
            return bad("unexpected member");
        }
        if self.result.is_some() || self.error.is_some() {
            if self.result.is_some() && self.error.is_some() {
                return bad("both result and error");
            }
            if self.method.is_some() || self.params.is_some() || self.id.is_none() {
                return bad("reply must have exactly an id and a result or error");
            }
            return Ok(());
        }
        if !matches!(self.method, Some(Value::String(_))) {
            return bad("\"method\" must be a string");
        }
        match &self.params {
            Some(Params::Tree(v)) if v.is_array() => Ok(()),
            Some(Params::Text(raw)) if raw.get().starts_with('[') => Ok(()),
            _ => bad("\"params\" must be an array"),
        }
    }

    /// An echo request whose parameters can be sent back as they came: an
    /// array with no `\u` escape (whose surrogates only a full parse
    /// checks), so that the reply is exactly what a parse would give.
    fn is_echo(&self) -> bool {
        let text_ok = match &self.params {
            Some(Params::Text(raw)) => {
                let t = raw.get().as_bytes();
                t.first() == Some(&b'[')
                    && !t.windows(2).any(|w| {
                        // A `\u` escape, or an exponent (which may be out
                        // of range): only the full parse checks those.
                        w == b"\\u" || (w[0].is_ascii_digit() && (w[1] | 0x20) == b'e')
                    })
            }
            _ => false,
        };
        text_ok
            && matches!(&self.method, Some(Value::String(m)) if m == "echo")
            && !matches!(self.id, None | Some(Value::Null))
    }
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
                        Member::Params => {
                            p.params = Some(Params::Text(m.next_value()?));
                            continue;
                        }
                        Member::Result => &mut p.result,
                        Member::Error => &mut p.error,
                        Member::Other => {
                            // Parsed as a Value, not skipped, so that it is
                            // validated exactly as the `Value` route does.
                            m.next_value::<Value>()?;
                            p.extra = true;
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

/// The bytes of the reply to an echo: its parameters, as they came.
pub fn echo_reply_bytes(id: &Value, params: &RawValue) -> Vec<u8> {
    reply_text_bytes(id, params.get().as_bytes())
}

/// The bytes of a reply whose result is already JSON text `p`.
pub fn reply_text_bytes(id: &Value, p: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(p.len() + 64);
    b.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut b, id);
    b.extend_from_slice(b",\"result\":");
    b.extend_from_slice(p);
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

/// An error reply: `error` and `id` only (OVS's form has no `result`).
pub fn error_reply(id: &Value, error: Value) -> Value {
    json!({"id": id, "error": error})
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
            // Echo keeps its parameters as text, unless they need a parse.
            br#"{"method":"echo","params":[1, 2.50, "a\n", {"b":[null]}],"id":"e"}"#,
            br#"{"params":[[[[[[]]]]]],"id":3,"method":"echo"}"#,
            br#"{"method":"echo","params":["\ud800"],"id":1}"#,
            br#"{"method":"echo","params":["\u0041"],"id":1}"#,
            br#"{"method":"echo","params":{"a":1},"id":1}"#,
            br#"{"method":"echo","params":[1],"id":null}"#,
            br#"{"method":"echo","params":[1,],"id":1}"#,
        ];
        let via_value = |t: &[u8]| -> Result<Message, OvsdbError> {
            let v: Value = from_slice_unbounded(t)
                .map_err(|e| OvsdbError::syntax(format!("JSON parse error: {e}")))?;
            Message::from_value(v)
        };
        // Errors compare by tag: both close the session, and invalid UTF-8
        // is read (then refused) by `parse_invalid_utf8`, with its own words.
        let show = |r: Result<Message, OvsdbError>| match r {
            Ok(m) => format!("{m:?}"),
            Err(e) => format!("Err({})", e.tag),
        };
        for t in cases {
            let a = show(Message::parse(t).map(Message::generic));
            let b = show(via_value(t));
            assert_eq!(a, b, "input {}", String::from_utf8_lossy(t));
        }
    }

    /// OVS's shape rules: each of these is malformed (the session closes).
    #[test]
    fn malformed_shapes_are_refused() {
        for t in [
            &br#"{"method":"list_dbs","id":1}"#[..],
            br#"{"method":"list_dbs","params":[],"id":1,"x":2}"#,
            br#"{"method":"list_dbs","params":{},"id":1}"#,
            br#"{"params":[],"id":1}"#,
            br#"{"result":1,"error":"e","id":1}"#,
            br#"{"result":1}"#,
            br#"{"result":1,"method":"x","id":1}"#,
            br#"{"method":"echo","params":[1e400],"id":1}"#,
        ] {
            assert!(Message::parse(t).is_err(), "{}", String::from_utf8_lossy(t));
        }
        let r = Message::parse(br#"{"result":[],"error":null,"id":9}"#).unwrap();
        assert!(r.unexpected_from_client());
        let r = Message::parse(br#"{"result":[],"error":null,"id":"echo"}"#).unwrap();
        assert!(!r.unexpected_from_client());
    }

    /// Invalid UTF-8 in a transact operation becomes the operation that
    /// fails with a constraint violation; elsewhere it is malformed.
    #[test]
    fn invalid_utf8_fails_its_operation() {
        let t = b"{\"method\":\"transact\",\"params\":[\"D\",{\"op\":\"comment\",\"comment\":\"ok\"},{\"op\":\"insert\",\"table\":\"T\",\"row\":{\"s\":\"\xff\"}}],\"id\":1}";
        let Ok(Message::Request { params, .. }) = Message::parse(t) else {
            panic!("not a request");
        };
        assert_eq!(params[1]["op"], "comment");
        assert_eq!(params[2], json!({"op": INVALID_UTF8_OP}));
        assert!(Message::parse(b"{\"method\":\"echo\",\"params\":[\"\xff\"],\"id\":1}").is_err());
    }

    #[test]
    fn echo_is_answered_from_its_text() {
        let t = br#"{"method":"echo","params":[1,  [2,{"x":"y"}]],"id":[7]}"#;
        let Ok(Message::Echo { id, params }) = Message::parse(t) else {
            panic!("not an echo");
        };
        assert_eq!(
            echo_reply_bytes(&id, &params),
            br#"{"id":[7],"result":[1,  [2,{"x":"y"}]],"error":null}"#.to_vec()
        );
    }

    /// OVS's nesting limit, the envelope included; serde_json's own
    /// (128) no longer applies. (A debug build needs a few KB of stack per
    /// level: the server runs its loop on a thread with `SERVER_STACK`.)
    #[test]
    fn depth_limit_is_ovs_one() {
        std::thread::Builder::new()
            .stack_size(SERVER_STACK)
            .spawn(depth_limit_is_ovs_one_inner)
            .unwrap()
            .join()
            .unwrap();
    }

    fn depth_limit_is_ovs_one_inner() {
        let msg = |n: usize| {
            format!(
                "{{\"method\":\"echo\",\"params\":{}{},\"id\":1}}",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let mut f = Framer::new();
        f.push(msg(MAX_DEPTH - 1).as_bytes());
        let text = f.next_message().unwrap().unwrap();
        let m = Message::parse(&text).unwrap().generic();
        assert!(matches!(m, Message::Request { .. }));
        // Through the tree route too (a non-echo method).
        let deep = String::from_utf8(text).unwrap().replace("echo", "other");
        assert!(Message::parse(deep.as_bytes()).is_ok());
        let mut f = Framer::new();
        f.push(msg(MAX_DEPTH).as_bytes());
        let e = f.next_message().unwrap_err();
        assert_eq!(e.tag, "syntax error");
        assert!(
            e.to_json().to_string().contains("nesting depth 1000"),
            "{e:?}"
        );
    }

    #[test]
    fn elements_are_counted_outside_strings() {
        assert_eq!(count_elements(b"[]"), 2);
        assert_eq!(count_elements(br#"[1,2,{"a":[3]}]"#), 6);
        assert_eq!(count_elements(br#"["a,b[{","\",["]"#), 3);
        // A big message with too many elements is refused unless an echo.
        let arr = format!("[{}1]", "1,".repeat(ELEMENT_SCAN_MIN));
        let other = format!("{{\"method\":\"x\",\"params\":{arr},\"id\":1}}");
        let e = Message::parse_bounded(other.as_bytes(), 1000).unwrap_err();
        assert_eq!(e.tag, "resources exhausted");
        let echo = other.replace("\"x\"", "\"echo\"");
        assert!(matches!(
            Message::parse_bounded(echo.as_bytes(), 1000),
            Ok(Message::Echo { .. })
        ));
        assert!(Message::parse_bounded(other.as_bytes(), usize::MAX).is_ok());
    }

    #[test]
    fn a_big_message_does_not_keep_its_buffer() {
        let mut f = Framer::new();
        let big = format!("[\"{}\"]", "x".repeat(8 << 20));
        f.push(big.as_bytes());
        f.push(b" [1]");
        assert_eq!(f.next_message().unwrap().unwrap().len(), big.len());
        assert!(f.buf.capacity() < 1 << 20, "{}", f.buf.capacity());
        assert_eq!(f.next_message().unwrap().unwrap(), b"[1]".to_vec());
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
