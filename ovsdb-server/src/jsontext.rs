//! A zero-copy reader over JSON text, for the transact fast path.
//!
//! `Reader` is a byte slice and a position. Every accessor checks what it
//! reads and returns `None` for anything it does not accept, never panics
//! and never allocates except to unescape a string that has escapes. It is
//! deliberately stricter than serde_json: whatever it accepts serde_json
//! accepts too and reads the same way (no fractions or exponents, integers of
//! at most 18 digits, no `\u` surrogates, nesting of at most `MAX_DEPTH`), so
//! a caller that gets `None` can always hand the same text to the serde_json
//! route and get exactly the answer (or error) that route gives.

use std::borrow::Cow;

/// Deepest nesting accepted (serde_json's own limit is 128).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
pub struct Reader<'a> {
    /// The text, checked as UTF-8 once so that a string is a `&str`
    /// slice of it with no further check (quotes are always at character
    /// boundaries).
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(s: &'a str) -> Self {
        Reader {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.pos).copied()
    }

    /// Consumes `c` (after whitespace) if it is next.
    #[inline]
    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.pos == self.b.len()
    }

    /// After an element of an array or object: `true` if another follows
    /// (a comma was eaten), `false` at the closing `close`, `None` otherwise.
    #[inline]
    pub fn more(&mut self, close: u8) -> Option<bool> {
        if self.eat(b',') {
            Some(true)
        } else if self.eat(close) {
            Some(false)
        } else {
            None
        }
    }

    /// A string with no escapes (a member name, say): `None` for any other
    /// value, so a caller that needs escapes falls back to `string`.
    #[inline]
    pub fn plain_string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        self.pos += string_stop(self.b.get(start..)?)?;
        if self.b[self.pos] != b'"' {
            return None;
        }
        self.pos += 1;
        self.s.get(start..self.pos - 1)
    }

    /// A string, unescaped.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        self.pos += string_stop(self.b.get(start..)?)?;
        match self.b[self.pos] {
            b'"' => {
                let s = self.s.get(start..self.pos)?;
                self.pos += 1;
                return Some(Cow::Borrowed(s));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut out: Vec<u8> = self.b.get(start..self.pos)?.to_vec();
        loop {
            let c = *self.b.get(self.pos)?;
            self.pos += 1;
            match c {
                b'"' => return String::from_utf8(out).ok().map(Cow::Owned),
                b'\\' => {
                    let e = *self.b.get(self.pos)?;
                    self.pos += 1;
                    let ch = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let h = self.b.get(self.pos..self.pos + 4)?;
                            let mut n = 0u32;
                            for &d in h {
                                n = n * 16 + (d as char).to_digit(16)?;
                            }
                            self.pos += 4;
                            // Surrogates (None here) go the serde_json way.
                            let ch = char::from_u32(n)?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return None,
                    };
                    out.push(ch);
                }
                0..=0x1f => return None,
                _ => out.push(c),
            }
        }
    }

    /// An integer of at most 18 digits with no fraction or exponent (and
    /// not `-0`, which serde_json reads as a float).
    pub fn int(&mut self) -> Option<i64> {
        self.ws();
        let neg = self.b.get(self.pos) == Some(&b'-');
        if neg {
            self.pos += 1;
        }
        let d0 = self.pos;
        let mut v: i64 = 0;
        while let Some(&c) = self.b.get(self.pos) {
            if !c.is_ascii_digit() {
                break;
            }
            if self.pos - d0 == 18 {
                // A 19th digit could overflow; serde_json's route decides.
                return None;
            }
            v = v * 10 + (c - b'0') as i64;
            self.pos += 1;
        }
        let nd = self.pos - d0;
        if nd == 0 || (nd > 1 && self.b[d0] == b'0') || (neg && v == 0) {
            return None;
        }
        if matches!(self.b.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(if neg { -v } else { v })
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        if self.b.get(self.pos..self.pos + word.len())? == word {
            self.pos += word.len();
            Some(())
        } else {
            None
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| true),
            b'f' => self.literal(b"false").map(|_| false),
            _ => None,
        }
    }

    /// Skips a string, accepting exactly what `string` accepts.
    fn skip_string(&mut self) -> Option<()> {
        if !self.eat(b'"') {
            return None;
        }
        loop {
            self.pos += string_stop(self.b.get(self.pos..)?)?;
            match self.b[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => match *self.b.get(self.pos + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                    b'u' => {
                        let mut n = 0u32;
                        for &d in self.b.get(self.pos + 2..self.pos + 6)? {
                            n = n * 16 + (d as char).to_digit(16)?;
                        }
                        char::from_u32(n)?;
                        self.pos += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// Skips one value, checking it, `depth` levels deep.
    pub fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string()?,
            c @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let close = if c == b'{' { b'}' } else { b']' };
                if self.eat(close) {
                    return Some(());
                }
                loop {
                    if c == b'{' {
                        self.skip_string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                    }
                    self.skip(depth + 1)?;
                    if !self.more(close)? {
                        break;
                    }
                }
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'-' | b'0'..=b'9' => {
                self.int()?;
            }
            _ => return None,
        }
        Some(())
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first byte of `s` that ends the plain part of a string: a
/// quote, a backslash or a control character. Eight bytes at a time: each
/// mask has the high bit set in the matching bytes, exact for the lowest one.
#[inline]
fn string_stop(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(w.try_into().ok()?);
        let q = w ^ (LO * b'"' as u64);
        let e = w ^ (LO * b'\\' as u64);
        let m = (q.wrapping_sub(LO) & !q)
            | (e.wrapping_sub(LO) & !e)
            | (w.wrapping_sub(LO * 0x20) & !w);
        let m = m & HI;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s.get(i..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|k| i + k)
}

/// Appends `v` as a JSON string, byte for byte as serde_json writes it
/// (short escapes for `"`, backslash, `\b \f \n \r \t`, `\u00xx` for the
/// other control characters, everything else as is), copying the plain runs
/// between those whole.
pub fn write_str(v: &str, out: &mut Vec<u8>) {
    let b = v.as_bytes();
    out.push(b'"');
    let mut i = 0;
    while let Some(k) = b.get(i..).and_then(string_stop) {
        out.extend_from_slice(&b[i..i + k]);
        let c = b[i + k];
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
        }
        i += k + 1;
    }
    out.extend_from_slice(b.get(i..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever `skip` accepts, serde_json parses (as the whole text).
    fn check(t: &str) {
        let mut r = Reader::new(t);
        if r.skip(0).is_some() && r.at_end() {
            assert!(
                serde_json::from_str::<serde_json::Value>(t).is_ok(),
                "{}",
                t
            );
        }
    }

    #[test]
    fn strings_and_numbers() {
        let mut r = Reader::new(r#" "a\"b\u00e9\n" 12 -3 "#);
        assert_eq!(r.string().unwrap(), "a\"b\u{e9}\n");
        assert_eq!(r.int(), Some(12));
        assert_eq!(r.int(), Some(-3));
        assert!(r.at_end());
        assert_eq!(
            Reader::new("-999999999999999999").int(),
            Some(-999_999_999_999_999_999)
        );
        // 19 digits go the generic way; found by the fuzz target, where the
        // 19th digit overflowed before the length check.
        for bad in [
            "01",
            "-0",
            "1.5",
            "1e3",
            "1234567890123456789",
            "9999999999999999999",
            "-",
        ] {
            assert_eq!(Reader::new(bad).int(), None, "{bad:?}");
        }
        for bad in [r#""\ud800""#, "\"\x01\"", r#""\x""#, "\"ab"] {
            assert_eq!(Reader::new(bad).string(), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        /// `skip_string` accepts what `string` accepts and ends where it does.
        #[test]
        fn skip_string_matches_string(s in "\"([a\\\\\"/bnu0-9dD\x01\u{e9}]|\\\\u[0-9a-fA-F]{4}){0,8}\"?") {
            let (mut a, mut b) = (Reader::new(&s), Reader::new(&s));
            let ok = a.string().is_some();
            proptest::prop_assert_eq!(ok, b.skip_string().is_some());
            if ok {
                proptest::prop_assert_eq!(a.pos(), b.pos());
            }
        }

        #[test]
        fn accepted_text_is_json(parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", "\"a\"", "\"\\u0041\"", "\"\\\"\"", "1", "-2",
                "0", "true", "fals", "null", " ", "\"\\ud83d\"", "1.0", "\"\u{e9}\"",
            ]),
            0..20,
        )) {
            check(&parts.concat());
        }

        #[test]
        fn write_str_matches_serde_json(s in "[a\"\\\\\x00-\x1f\x7f\u{e9}\u{10348} ]{0,24}") {
            let mut out = Vec::new();
            write_str(&s, &mut out);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }

        #[test]
        fn string_stop_matches_byte_scan(
            s in proptest::collection::vec(proptest::sample::select(
                b"ab \"\\\x00\x1f\x20\x21\x7f\x80\x9f\xa2\xdc\xff".to_vec()), 0..40),
        ) {
            proptest::prop_assert_eq!(
                string_stop(&s),
                s.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            );
        }
    }
}
