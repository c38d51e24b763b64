//! Load generator: `cargo run --release --example txn_load -- SOCKET CLIENTS TXNS [durable]`.
//! Each client inserts one small Bridge row per transaction (and links it
//! from the Open_vSwitch row, as ovs-vsctl add-br does; run `ovs-vsctl init`
//! first) and waits for the reply before sending the next; prints
//! transactions per second. A reply containing an error aborts the run.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let sock = a.get(1).cloned().unwrap_or_else(|| "db.sock".into());
    let clients: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let txns: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let durable = a.iter().skip(4).any(|s| s == "durable");
    // "update": bump Open_vSwitch next_cfg instead of inserting a bridge.
    let update = a.iter().skip(4).any(|s| s == "update");
    let tag = std::process::id();
    let start = Instant::now();
    let hs: Vec<_> = (0..clients)
        .map(|c| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(&sock).expect("connect");
                let mut buf = vec![0u8; 65536];
                for i in 0..txns {
                    let commit = if durable { r#",{"op":"commit","durable":true}"# } else { "" };
                    let msg = if update {
                        format!(
                            r#"{{"id":{i},"method":"transact","params":["Open_vSwitch",{{"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["next_cfg","+=",1]]}}{commit}]}}"#
                        )
                    } else {
                        format!(
                        r#"{{"id":{i},"method":"transact","params":["Open_vSwitch",{{"op":"insert","table":"Bridge","uuid-name":"nb","row":{{"name":"b{c}-{i}-{tag}","external_ids":["map",[["k","v"]]]}}}},{{"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","insert",["named-uuid","nb"]]]}}{commit}]}}"#
                        )
                    };
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut depth = 0i32;
                    let mut done = false;
                    let mut in_str = false;
                    let mut esc = false;
                    while !done {
                        let n = s.read(&mut buf).unwrap();
                        assert!(n > 0, "server closed");
                        let text = String::from_utf8_lossy(&buf[..n]);
                        assert!(!text.contains("\"error\":{"), "transaction failed: {text}");
                        for &b in &buf[..n] {
                            if in_str {
                                if esc { esc = false } else if b == b'\\' { esc = true } else if b == b'"' { in_str = false }
                                continue;
                            }
                            match b {
                                b'"' => in_str = true,
                                b'{' | b'[' => depth += 1,
                                b'}' | b']' => {
                                    depth -= 1;
                                    if depth == 0 { done = true; }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "{} txns in {:.3}s: {:.0} txn/s",
        clients * txns,
        el,
        (clients * txns) as f64 / el
    );
}
