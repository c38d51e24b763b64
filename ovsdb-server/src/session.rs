//! One JSON-RPC connection: frames and dispatches messages to the shared
//! `Core`, and sends queued replies and notifications once their log gate
//! is open, batching whatever is ready into one write.
//!
//! The core lock is held only for the synchronous work of one message; all
//! waiting (for the socket, for the log writer, for a "wait" condition)
//! happens outside it.

use crate::jsonrpc::{error_reply, Framer, Message};
use crate::server::{Core, Handled, Out};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

pub type SharedCore = Arc<Mutex<Core>>;

pub fn lock(core: &SharedCore) -> std::sync::MutexGuard<'_, Core> {
    core.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the log flusher of `core` on the current runtime: whenever a commit
/// leaves records pending it writes (and syncs) them all at once. Woken by
/// a commit, it runs after the other tasks already woken by the same poll,
/// so their transactions share the write(2) and the fdatasync(2).
pub fn spawn_flusher(core: SharedCore) -> tokio::task::JoinHandle<()> {
    let wanted = lock(&core).flush_wanted();
    tokio::spawn(async move {
        loop {
            wanted.notified().await;
            lock(&core).flush();
        }
    })
}

/// Serves one connection until it closes.
///
/// One task does both directions: after handling what it read it writes
/// every queued message whose gate is open in the same wake-up, so a reply
/// to a non-durable transaction costs no task switch.
pub async fn run<R, W>(core: SharedCore, mut rd: R, mut wr: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sid = lock(&core).open_session(tx.clone());
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut queue: VecDeque<Out> = VecDeque::new();
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut closing = false;
    loop {
        // Write everything that may go out now, in order.
        while let Ok(o) = rx.try_recv() {
            queue.push_back(o);
        }
        while let Some(o) = queue.front() {
            if let Some(g) = &o.gate {
                if !g.is_open(&g.rx.borrow()) {
                    break;
                }
            }
            let o = queue.pop_front().expect("front exists");
            tracing::trace!("session {sid} -> {}", String::from_utf8_lossy(&o.msg));
            out.extend_from_slice(&o.msg);
        }
        if !out.is_empty() {
            if wr.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
        }
        if closing && queue.is_empty() {
            break;
        }
        let gate = queue.front().and_then(|o| o.gate.clone());
        tokio::select! {
            r = rd.read(&mut buf), if !closing => {
                let n = match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                framer.push(&buf[..n]);
                loop {
                    let text = match framer.next_message() {
                        Ok(Some(t)) => t,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("session {sid}: {e}; closing");
                            queue.push_back(Out { msg: err_bytes(e.to_json()), gate: None });
                            closing = true;
                            break;
                        }
                    };
                    tracing::trace!("session {sid} <- {}", String::from_utf8_lossy(&text));
                    let msg = match Message::parse(&text) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!("session {sid}: {e}; closing");
                            queue.push_back(Out { msg: err_bytes(e.to_json()), gate: None });
                            closing = true;
                            break;
                        }
                    };
                    let arrived = Instant::now();
                    let mut g = lock(&core);
                    if let Handled::Retry { remaining_ms } = g.handle(sid, &msg, 0) {
                        let commits = g.commits.subscribe();
                        drop(g);
                        tokio::spawn(retry(core.clone(), sid, msg, arrived, remaining_ms, commits));
                    }
                }
            }
            o = rx.recv() => {
                if let Some(o) = o {
                    queue.push_back(o);
                }
            }
            _ = async {
                match gate {
                    Some(g) => { let mut w = g.rx.clone(); let _ = w.wait_for(|p| g.is_open(p)).await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    lock(&core).close_session(sid);
    drop(tx);
    let _ = wr.shutdown().await;
}

fn err_bytes(e: Value) -> Vec<u8> {
    serde_json::to_vec(&error_reply(&Value::Null, e)).unwrap_or_default()
}

/// Re-runs a transaction blocked in "wait" after each commit or timeout.
async fn retry(
    core: SharedCore,
    sid: u64,
    msg: Message,
    arrived: Instant,
    mut remaining_ms: Option<u64>,
    mut commits: tokio::sync::watch::Receiver<u64>,
) {
    loop {
        let sleep = tokio::time::sleep(Duration::from_millis(remaining_ms.unwrap_or(3_600_000)));
        tokio::select! {
            r = commits.changed() => if r.is_err() { return },
            _ = sleep => {}
        }
        let mut g = lock(&core);
        if !g.has_session(sid) {
            return;
        }
        match g.handle(sid, &msg, arrived.elapsed().as_millis() as u64) {
            Handled::Done => return,
            Handled::Retry { remaining_ms: r } => remaining_ms = r,
        }
    }
}
