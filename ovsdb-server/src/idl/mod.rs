//! The IDL client: keeps a replica of chosen tables and columns of one
//! database current over a JSON-RPC connection, and runs transactions.
//!
//! A background task owns the connection. It monitors with
//! `monitor_cond_since`, passing the last transaction id it saw so that
//! after a reconnect the server sends only what changed; it reconnects with
//! exponential backoff (100 ms to 8 s). Readers share the replica behind a
//! mutex and wait for changes on a `watch` of the replica's seqno.

pub mod replica;
pub mod txn;

use crate::jsonrpc::{Framer, Message};
use crate::remote::Remote;
use crate::schema::DatabaseSchema;
use replica::Replica;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
pub use txn::{RowRef, TxnBuilder, TxnResult};

/// Which database, tables and columns to replicate.
#[derive(Debug, Clone)]
pub struct IdlConfig {
    /// `unix:PATH` or `tcp:IP:PORT`.
    pub remote: String,
    pub db: String,
    /// Table name and columns (None: all columns).
    pub tables: Vec<(String, Option<Vec<String>>)>,
}

type Pending = oneshot::Sender<Result<Value, String>>;

/// Handle to a running IDL.
pub struct Idl {
    replica: Arc<Mutex<Option<Replica>>>,
    seq_rx: watch::Receiver<u64>,
    cmd: mpsc::UnboundedSender<(Value, Pending)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Idl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Idl {
    /// Starts the IDL; it connects in the background.
    pub fn start(cfg: IdlConfig) -> Idl {
        let replica = Arc::new(Mutex::new(None));
        let (seq_tx, seq_rx) = watch::channel(0u64);
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(cfg, replica.clone(), seq_tx, cmd_rx));
        Idl {
            replica,
            seq_rx,
            cmd,
            task,
        }
    }

    /// Runs `f` on the replica (None until the first connection).
    pub fn with<R>(&self, f: impl FnOnce(Option<&mut Replica>) -> R) -> R {
        let mut g = self.replica.lock().unwrap_or_else(|e| e.into_inner());
        f(g.as_mut())
    }

    /// The replica's change counter.
    pub fn seqno(&self) -> u64 {
        *self.seq_rx.borrow()
    }

    /// Waits until the seqno moves past `seen`.
    pub async fn wait_change(&mut self, seen: u64) {
        let _ = self.seq_rx.wait_for(|s| *s > seen).await;
    }

    /// Waits until connected and the initial contents are loaded.
    pub async fn wait_connected(&mut self) {
        loop {
            if self.with(|r| r.is_some_and(|r| r.connected)) {
                return;
            }
            let s = self.seqno();
            self.wait_change(s).await;
        }
    }

    /// Sends the operations of `b` as one transaction.
    pub async fn commit(&self, b: &TxnBuilder) -> Result<TxnResult, String> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send((Value::Array(b.ops.clone()), tx))
            .map_err(|_| "IDL stopped".to_string())?;
        let reply = rx.await.map_err(|_| "IDL stopped".to_string())??;
        b.outcome(reply)
    }
}

async fn run(
    cfg: IdlConfig,
    replica: Arc<Mutex<Option<Replica>>>,
    seq_tx: watch::Sender<u64>,
    mut cmd_rx: mpsc::UnboundedReceiver<(Value, Pending)>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let r = match Remote::parse(&cfg.remote) {
            Some(Remote::Unix(p)) => match tokio::net::UnixStream::connect(&p).await {
                Ok(s) => session(&cfg, s, &replica, &seq_tx, &mut cmd_rx).await,
                Err(e) => Err(e.to_string()),
            },
            Some(Remote::Tcp(ip, port)) => {
                match tokio::net::TcpStream::connect((ip.as_str(), port)).await {
                    Ok(s) => session(&cfg, s, &replica, &seq_tx, &mut cmd_rx).await,
                    Err(e) => Err(e.to_string()),
                }
            }
            _ => Err(format!("{}: unsupported remote", cfg.remote)),
        };
        match r {
            Ok(()) => return,
            Err(e) => tracing::debug!("idl {}: {e}", cfg.remote),
        }
        if let Some(rep) = replica.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            if rep.connected {
                rep.connected = false;
                rep.seqno += 1;
                seq_tx.send_replace(rep.seqno);
                backoff = Duration::from_millis(100);
            }
        }
        // Fail transactions queued while disconnected rather than hang.
        while let Ok((_, p)) = cmd_rx.try_recv() {
            let _ = p.send(Err("not connected".into()));
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(8));
    }
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, v: &Value) -> Result<(), String> {
    w.write_all(&serde_json::to_vec(v).unwrap_or_default())
        .await
        .map_err(|e| e.to_string())
}

/// One connection: returns Ok when the IDL handle is gone, Err on disconnect.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    cfg: &IdlConfig,
    stream: S,
    replica: &Arc<Mutex<Option<Replica>>>,
    seq_tx: &watch::Sender<u64>,
    cmd_rx: &mut mpsc::UnboundedReceiver<(Value, Pending)>,
) -> Result<(), String> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut next_id: u64 = 1;
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    const SCHEMA_ID: u64 = 0;
    send(
        &mut wr,
        &json!({"id": SCHEMA_ID, "method": "get_schema", "params": [cfg.db]}),
    )
    .await?;
    let monid = json!(["ferrovs-idl", cfg.db]);
    let mut monitor_id: Option<u64> = None;
    loop {
        tokio::select! {
            c = cmd_rx.recv() => {
                let Some((ops, p)) = c else { return Ok(()) };
                let id = next_id;
                next_id += 1;
                let mut params = vec![json!(cfg.db)];
                params.extend(ops.as_array().cloned().unwrap_or_default());
                send(&mut wr, &json!({"id": id, "method": "transact", "params": params})).await?;
                pending.insert(id, p);
            }
            n = rd.read(&mut buf) => {
                let n = n.map_err(|e| e.to_string())?;
                if n == 0 {
                    for (_, p) in pending.drain() {
                        let _ = p.send(Err("connection closed".into()));
                    }
                    return Err("connection closed".into());
                }
                framer.push(&buf[..n]);
                while let Some(text) = framer.next_message().map_err(|e| e.to_string())? {
                    let msg = Message::parse(&text)
                        .map(Message::generic)
                        .map_err(|e| e.to_string())?;
                    match msg {
                        Message::Request { method, params, id } if method == "echo" => {
                            send(&mut wr, &json!({"id": id, "result": params, "error": null})).await?;
                        }
                        Message::Notification { method, params } if method == "update3" || method == "update2" => {
                            let upd = if method == "update3" { params.get(2) } else { params.get(1) };
                            let mut g = replica.lock().unwrap_or_else(|e| e.into_inner());
                            if let Some(rep) = g.as_mut() {
                                if method == "update3" {
                                    if let Some(t) = params.get(1).and_then(Value::as_str).and_then(crate::atom::parse_uuid) {
                                        rep.last_txn = t;
                                    }
                                }
                                if let Some(u) = upd {
                                    rep.apply_update2(u).map_err(|e| e.to_string())?;
                                }
                                seq_tx.send_replace(rep.seqno);
                            }
                        }
                        Message::Reply { id, result, error } => {
                            let id = id.as_u64().unwrap_or(u64::MAX);
                            if id == SCHEMA_ID {
                                if !error.is_null() {
                                    return Err(format!("get_schema: {error}"));
                                }
                                let schema = Arc::new(DatabaseSchema::from_json(&result).map_err(|e| e.to_string())?);
                                let (reqs, last) = {
                                    let mut g = replica.lock().unwrap_or_else(|e| e.into_inner());
                                    let names: Vec<String> = cfg.tables.iter().map(|(t, _)| t.clone()).collect();
                                    let rep = g.get_or_insert_with(|| Replica::new(schema.clone(), &names));
                                    let mut reqs = serde_json::Map::new();
                                    for (t, cols) in &cfg.tables {
                                        let r = match cols {
                                            Some(c) => json!([{"columns": c}]),
                                            None => json!([{}]),
                                        };
                                        reqs.insert(t.clone(), r);
                                    }
                                    (Value::Object(reqs), rep.last_txn)
                                };
                                let id = next_id;
                                next_id += 1;
                                monitor_id = Some(id);
                                send(&mut wr, &json!({"id": id, "method": "monitor_cond_since",
                                    "params": [cfg.db, monid, reqs, crate::uuidgen::text(&last)]})).await?;
                            } else if Some(id) == monitor_id {
                                if !error.is_null() {
                                    return Err(format!("monitor_cond_since: {error}"));
                                }
                                let mut g = replica.lock().unwrap_or_else(|e| e.into_inner());
                                if let Some(rep) = g.as_mut() {
                                    let found = result.get(0).and_then(Value::as_bool).unwrap_or(false);
                                    if !found {
                                        rep.clear();
                                    }
                                    if let Some(t) = result.get(1).and_then(Value::as_str).and_then(crate::atom::parse_uuid) {
                                        rep.last_txn = t;
                                    }
                                    if let Some(u) = result.get(2) {
                                        rep.apply_update2(u).map_err(|e| e.to_string())?;
                                    }
                                    rep.connected = true;
                                    rep.seqno += 1;
                                    seq_tx.send_replace(rep.seqno);
                                }
                            } else if let Some(p) = pending.remove(&id) {
                                let _ = p.send(if error.is_null() { Ok(result) } else { Err(error.to_string()) });
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
