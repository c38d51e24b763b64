//! One OpenFlow connection: the task that moves bytes between a socket and
//! the bridge's `Ofproto`.
//!
//! The loop reads at most `READ_CHUNK` bytes at a time, hands them to
//! `Ofproto::receive` under the bridge's lock and collects what
//! `take_output` returns into `out`, which it writes as the socket accepts
//! it. The connection's waker (called by ofproto when it queues output from
//! elsewhere: port status, flow removed) wakes the same loop. Back-pressure:
//! while more than `MAX_QUEUED` bytes wait to be written the socket is not
//! read, so a peer that sends requests without reading the replies cannot
//! make the switch buffer without bound. The connection closes once ofproto
//! says so and its output is written, or when the peer goes away.
//!
//! Inactivity probes (controllers): after `probe` with nothing received the
//! loop sends an echo request; after another `probe` with still nothing it
//! gives up, as OVS's rconn does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrovs_ofproto::{ConnKind, Ofproto};
use ferrovs_openflow::message::Message;
use ferrovs_openflow::Version;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Bytes read from the socket per `receive` call.
pub const READ_CHUNK: usize = 64 * 1024;
/// Output waiting to be written beyond which the socket is not read.
pub const MAX_QUEUED: usize = 1 << 20;

pub type SharedOfproto = Arc<Mutex<Ofproto>>;

pub fn lock(o: &SharedOfproto) -> std::sync::MutexGuard<'_, Ofproto> {
    o.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnEnd {
    /// The peer closed the connection.
    PeerClosed,
    /// Ofproto asked for the close (failed negotiation, fatal error).
    Closed,
    /// No answer to an inactivity probe.
    ProbeTimeout,
    Io(String),
}

impl ConnEnd {
    pub fn describe(&self) -> String {
        match self {
            ConnEnd::PeerClosed => "End of file".into(),
            ConnEnd::Closed => "Connection closed by the switch".into(),
            ConnEnd::ProbeTimeout => "Inactivity probe timeout".into(),
            ConnEnd::Io(e) => e.clone(),
        }
    }
}

/// Runs connection `stream` on `ofproto` until it ends.
pub async fn serve<S>(
    stream: S,
    ofproto: SharedOfproto,
    kind: ConnKind,
    probe: Option<Duration>,
) -> ConnEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let notify = Arc::new(Notify::new());
    let id = {
        let n = notify.clone();
        lock(&ofproto).connect(kind, Box::new(move || n.notify_one()))
    };
    let end = run(stream, &ofproto, id, &notify, probe).await;
    lock(&ofproto).disconnect(id);
    tracing::debug!("connection {id:?} of {kind:?}: {}", end.describe());
    end
}

async fn run<S>(
    stream: S,
    ofproto: &SharedOfproto,
    id: ferrovs_ofproto::ConnId,
    notify: &Notify,
    probe: Option<Duration>,
) -> ConnEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut out: Vec<u8> = lock(ofproto).take_output(id);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut last_rx = Instant::now();
    let mut probe_sent = false;
    loop {
        let closing = lock(ofproto).is_closing(id);
        if closing && out.is_empty() {
            return ConnEnd::Closed;
        }
        let probe_at = probe.map(|p| last_rx + p);
        tokio::select! {
            w = wr.write(&out), if !out.is_empty() => match w {
                Ok(0) => return ConnEnd::PeerClosed,
                Ok(n) => { out.drain(..n); }
                Err(e) => return ConnEnd::Io(e.to_string()),
            },
            r = rd.read(&mut buf), if !closing && out.len() < MAX_QUEUED => match r {
                Ok(0) => return ConnEnd::PeerClosed,
                Ok(n) => {
                    last_rx = Instant::now();
                    probe_sent = false;
                    let mut o = lock(ofproto);
                    o.receive(id, &buf[..n]);
                    out.extend_from_slice(&o.take_output(id));
                }
                Err(e) => return ConnEnd::Io(e.to_string()),
            },
            _ = notify.notified() => {
                out.extend_from_slice(&lock(ofproto).take_output(id));
            }
            _ = sleep_until(probe_at) => {
                if probe_sent {
                    return ConnEnd::ProbeTimeout;
                }
                let v = lock(ofproto).conn_version(id).unwrap_or(Version::Of10);
                out.extend_from_slice(&Message::EchoRequest(Vec::new()).encode(v, 0));
                probe_sent = true;
                last_rx = Instant::now();
            }
        }
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
