//! A blocking JSON-RPC 1.0 client over a unix stream socket: one request
//! at a time, the reply read back with the OVSDB framer (so a reply may
//! arrive in any number of pieces). Used by `vsctl` (OVSDB), `appctl`
//! (unixctl) and `up` (initialising the database). Notifications that
//! arrive before the reply (`echo` from the server) are answered or skipped.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use ovsdb::jsonrpc::Framer;
use serde_json::{json, Value};

pub struct Client {
    sock: UnixStream,
    framer: Framer,
    next_id: u64,
}

impl Client {
    pub fn connect(path: &Path) -> anyhow::Result<Client> {
        let sock = UnixStream::connect(path)
            .with_context(|| format!("{}: cannot connect", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client {
            sock,
            framer: Framer::new(),
            next_id: 0,
        })
    }

    /// Sends `method(params)` and returns the reply object (with `result`
    /// and `error` members).
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let req = json!({"method": method, "params": params, "id": id});
        self.sock
            .write_all(serde_json::to_string(&req)?.as_bytes())?;
        loop {
            let msg = self.read_message()?;
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return Ok(msg);
            }
            if msg.get("method") == Some(&json!("echo")) {
                let reply = json!({"result": msg["params"], "error": null, "id": msg["id"]});
                self.sock
                    .write_all(serde_json::to_string(&reply)?.as_bytes())?;
            }
        }
    }

    fn read_message(&mut self) -> anyhow::Result<Value> {
        let mut buf = [0u8; 65536];
        loop {
            if let Some(m) = self
                .framer
                .next_message()
                .map_err(|e| anyhow::anyhow!("bad JSON from the peer: {e}"))?
            {
                return serde_json::from_slice(&m).context("bad JSON from the peer");
            }
            let n = self.sock.read(&mut buf).context("reading the reply")?;
            if n == 0 {
                bail!("connection closed by the peer");
            }
            self.framer.push(&buf[..n]);
        }
    }
}
