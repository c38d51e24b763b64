//! OVS's standalone database log format: a sequence of records, each
//! `OVSDB JSON <length> <sha1-hex>\n` followed by `<length>` bytes of JSON
//! ending in a newline; the SHA-1 covers those bytes.
//!
//! The first record is the schema, every later one a transaction (or a
//! snapshot written by compaction). Reading stops at the first record that is
//! incomplete or fails its checksum, and reports the offset of the last good
//! byte so the caller can truncate a torn tail.

use crate::error::OvsdbError;
use serde_json::Value;
use sha1::{Digest, Sha1};

pub const MAGIC: &str = "JSON";

/// Appends the bytes of one record holding `json` to `out`.
pub fn encode_record(json: &Value, out: &mut Vec<u8>) {
    encode_record_with(out, |b| serde_json::to_writer(b, json).is_ok());
}

/// Appends one record whose JSON text `body` writes into the buffer it is
/// given (returning false for "no record", which leaves `out` as it was).
/// The body goes straight into `out` and the header is slid in front of
/// it, so a record costs no temporary buffers.
pub fn encode_record_with(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
    let start = out.len();
    if !body(out) {
        out.truncate(start);
        return false;
    }
    out.push(b'\n');
    let digest = Sha1::digest(&out[start..]);
    let mut header = [0u8; 96];
    let mut h = 0;
    let mut put = |bytes: &[u8]| {
        header[h..h + bytes.len()].copy_from_slice(bytes);
        h += bytes.len();
    };
    put(b"OVSDB ");
    put(MAGIC.as_bytes());
    put(b" ");
    let mut num = [0u8; 20];
    let mut n = out.len() - start;
    let mut k = num.len();
    loop {
        k -= 1;
        num[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(&num[k..]);
    put(b" ");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in digest {
        put(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
    }
    put(b"\n");
    // Slide the body up by the header's length (one memmove) and put the
    // header in front of it.
    let end = out.len();
    out.resize(end + h, 0);
    out.copy_within(start..end, start + h);
    out[start..start + h].copy_from_slice(&header[..h]);
    true
}

/// The result of reading a log.
pub struct Parsed {
    pub records: Vec<Value>,
    /// Offset just after the last good record.
    pub good_len: usize,
    /// Why reading stopped early, if it did.
    pub tail_error: Option<String>,
}

/// Parses every complete, valid record of `data`.
pub fn parse_log(data: &[u8]) -> Result<Parsed, OvsdbError> {
    let mut records = Vec::new();
    let (good_len, tail_error) = for_each_record(data, &mut |v| {
        records.push(v);
        Ok(())
    })?;
    Ok(Parsed {
        records,
        good_len,
        tail_error,
    })
}

/// Calls `f` on each complete, valid record in order, one at a time (so a
/// long log is never held as parsed JSON all at once). Returns the offset
/// after the last good record and why reading stopped early, if it did.
pub fn for_each_record(
    data: &[u8],
    f: &mut dyn FnMut(Value) -> Result<(), OvsdbError>,
) -> Result<(usize, Option<String>), OvsdbError> {
    let mut off = 0;
    while off < data.len() {
        match parse_one(&data[off..]) {
            Ok((v, n)) => {
                f(v)?;
                off += n;
            }
            Err(e) => return Ok((off, Some(format!("at offset {off}: {e}")))),
        }
    }
    Ok((off, None))
}

fn parse_one(d: &[u8]) -> Result<(Value, usize), String> {
    let nl = d
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("incomplete header")?;
    let header = std::str::from_utf8(&d[..nl]).map_err(|_| "header is not UTF-8")?;
    let mut parts = header.split(' ');
    if parts.next() != Some("OVSDB") {
        return Err("bad magic".into());
    }
    let magic = parts.next().ok_or("bad header")?;
    if magic != MAGIC {
        return Err(format!(
            "unsupported log magic {magic} (clustered databases are not supported)"
        ));
    }
    let len: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("bad length")?;
    let sha = parts.next().ok_or("missing sha1")?;
    if parts.next().is_some() || sha.len() != 40 {
        return Err("bad header".into());
    }
    let start = nl + 1;
    let end = start.checked_add(len).ok_or("bad length")?;
    if end > d.len() {
        return Err("incomplete record".into());
    }
    let body = &d[start..end];
    if hex::encode(Sha1::digest(body)) != sha.to_ascii_lowercase() {
        return Err("sha1 mismatch".into());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))?;
    if !v.is_object() {
        return Err("record is not a JSON object".into());
    }
    Ok((v, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roundtrip_and_torn_tail() {
        let mut b = Vec::new();
        encode_record(&json!({"a": 1}), &mut b);
        encode_record(&json!({"b": [1, 2]}), &mut b);
        let full = b.len();
        encode_record(&json!({"c": "x"}), &mut b);
        b.truncate(b.len() - 3);
        let p = parse_log(&b).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.good_len, full);
        assert!(p.tail_error.is_some());
    }

    #[test]
    fn header_format_matches_ovs() {
        let mut b = Vec::new();
        encode_record(&json!({}), &mut b);
        let s = String::from_utf8(b).unwrap();
        // "{}\n" is 3 bytes.
        assert!(s.starts_with("OVSDB JSON 3 "), "{s}");
        assert!(s.ends_with("\n{}\n"));
    }
}
