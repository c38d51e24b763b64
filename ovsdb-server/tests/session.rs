//! Session robustness against the real server binary: an unknown method
//! gets an error reply; malformed JSON and a stray non-JSON byte close the
//! session without a reply (as OVS does); other sessions keep working.

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

mod common;

/// Sends `bytes` and reads until the server closes or `n` JSON values came.
fn exchange(sock: &std::path::Path, bytes: &[u8], n: usize) -> (Vec<Value>, bool) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let mut closed = false;
    loop {
        let vals: Vec<Value> = serde_json::Deserializer::from_slice(&buf)
            .into_iter::<Value>()
            .filter_map(Result::ok)
            .collect();
        if vals.len() >= n && !closed {
            // Give the server a moment to close, if it is going to.
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
        }
        match s.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                return (vals, closed);
            }
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(_) => return (vals, closed),
        }
    }
}

#[test]
fn bad_input_gets_error_and_others_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, sock) = common::start(common::FERROVS, dir.path());
    // A healthy session stays open across the others' failures.
    let mut good = UnixStream::connect(&sock).unwrap();
    good.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    let (v, closed) = exchange(&sock, br#"{"id":1,"method":"nope","params":[]}"#, 1);
    assert_eq!(v[0]["error"], "unknown method");
    assert!(!closed, "an unknown method must not close the session");

    let (v, closed) = exchange(&sock, br#"{"id":1,"method":"echo","params":[} "#, 1);
    assert!(v.is_empty(), "no reply to malformed JSON: {v:?}");
    assert!(closed, "malformed JSON closes the session");

    let (v, closed) = exchange(&sock, b"x", 1);
    assert!(v.is_empty(), "{v:?}");
    assert!(closed);

    let (v, _) = exchange(&sock, br#"{"id":7,"method":"transact","params":["Open_vSwitch",{"op":"insert","table":"Nope","row":{}}]}"#, 1);
    assert_eq!(
        v[0]["result"][0]["error"], "syntax error",
        "OVS: no table named Nope"
    );

    good.write_all(br#"{"id":9,"method":"echo","params":["still here"]}"#)
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = good.read(&mut buf).unwrap();
    let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(v["result"][0], "still here");
}
