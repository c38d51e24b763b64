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
//! Rate-limited packet-ins (a controller's `controller_rate_limit`) wait
//! in ofproto's schedulers; the loop wakes when the next one is due.
//!
//! Branches are polled in order: write, read, waker, probe setting,
//! packet-in schedule, probe timer.
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
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Bytes read from the socket per `receive` call.
pub const READ_CHUNK: usize = 64 * 1024;
/// Output waiting to be written beyond which the socket is not read.
pub const MAX_QUEUED: usize = 1 << 20;

pub type SharedOfproto = Arc<Mutex<Ofproto>>;

/// A connection's inactivity probe interval (None: no probes), which the
/// configuration may change while the connection runs.
pub type Probe = watch::Receiver<Option<Duration>>;

/// A probe setting that never changes.
pub fn fixed_probe(p: Option<Duration>) -> Probe {
    watch::channel(p).1
}

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
pub async fn serve<S>(stream: S, ofproto: SharedOfproto, kind: ConnKind, probe: Probe) -> ConnEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    serve_as(stream, ofproto, kind, probe, |_| {}).await
}

/// [`serve`], telling `on_connect` the connection's id once ofproto has
/// it (an active controller's status reads its role with it).
pub async fn serve_as<S>(
    stream: S,
    ofproto: SharedOfproto,
    kind: ConnKind,
    probe: Probe,
    on_connect: impl FnOnce(ferrovs_ofproto::ConnId),
) -> ConnEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let notify = Arc::new(Notify::new());
    let id = {
        let n = notify.clone();
        lock(&ofproto).connect(kind, Box::new(move || n.notify_one()))
    };
    on_connect(id);
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
    mut probe: Probe,
) -> ConnEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut out: Vec<u8> = lock(ofproto).take_output(id);
    // Start of the bytes of `out` not written yet.
    let mut sent = 0usize;
    let mut buf = vec![0u8; READ_CHUNK];
    let mut last_rx = Instant::now();
    let mut probe_sent = false;
    let mut probe_open = true;
    loop {
        // Rate-limited packet-ins whose turn came are queued (the waker
        // then brings them into `out`); `pin_at`: when the next is due.
        let (closing, pin_at) = {
            let mut o = lock(ofproto);
            let due = o.run_conn_pinsched(id, std::time::Instant::now());
            (o.is_closing(id), due)
        };
        if closing && sent == out.len() {
            return ConnEnd::Closed;
        }
        let probe_at = probe.borrow().map(|p| last_rx + p);
        // Biased: queued output is written before the socket is read
        // again (a unix connection's read may poll briefly for the next
        // request once a reply is out; see `ofconn_unix`).
        tokio::select! {
            biased;
            w = wr.write(&out[sent..]), if sent < out.len() => match w {
                Ok(0) => return ConnEnd::PeerClosed,
                Ok(n) => {
                    // Written bytes are dropped once all are out, or once
                    // they are most of the buffer: a big dump is not moved
                    // down after every partial write.
                    sent += n;
                    if sent == out.len() {
                        out.clear();
                        sent = 0;
                    } else if sent > out.len() / 2 {
                        out.drain(..sent);
                        sent = 0;
                    }
                }
                Err(e) => return ConnEnd::Io(e.to_string()),
            },
            r = rd.read(&mut buf), if !closing && out.len() - sent < MAX_QUEUED => match r {
                Ok(0) => return ConnEnd::PeerClosed,
                Ok(n) => {
                    last_rx = Instant::now();
                    probe_sent = false;
                    let mut o = lock(ofproto);
                    o.receive(id, &buf[..n]);
                    append(&mut out, o.take_output(id));
                }
                Err(e) => return ConnEnd::Io(e.to_string()),
            },
            _ = notify.notified() => {
                append(&mut out, lock(ofproto).take_output(id));
            }
            r = probe.changed(), if probe_open => {
                // A new interval applies from now on; a closed channel
                // means the setting is final.
                probe_open = r.is_ok();
            }
            _ = sleep_until(pin_at.map(Instant::from_std)), if pin_at.is_some() => {}
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

/// Appends `more` to `out`, taking its buffer when `out` is empty.
fn append(out: &mut Vec<u8>, more: Vec<u8>) {
    if out.is_empty() {
        *out = more;
    } else {
        out.extend_from_slice(&more);
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrovs_ofproto::OfprotoConfig;

    fn switch() -> SharedOfproto {
        Arc::new(Mutex::new(Ofproto::new(OfprotoConfig::new("br0", 0x42))))
    }

    /// Reads one OpenFlow message (header and body).
    async fn read_msg<R: AsyncRead + Unpin>(c: &mut R) -> Option<Vec<u8>> {
        let mut h = [0u8; 8];
        if c.read_exact(&mut h).await.is_err() {
            return None;
        }
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        let mut m = h.to_vec();
        m.resize(len.max(8), 0);
        c.read_exact(&mut m[8..]).await.ok()?;
        Some(m)
    }

    fn msg(version: u8, ty: u8, xid: u32, body: &[u8]) -> Vec<u8> {
        let mut m = vec![version, ty];
        m.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
        m.extend_from_slice(&xid.to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    const HELLO: u8 = 0;
    const ECHO_REQUEST: u8 = 2;
    const ECHO_REPLY: u8 = 3;

    #[tokio::test]
    async fn hello_then_echo() {
        let (mut client, sw) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(serve(sw, switch(), ConnKind::Service, fixed_probe(None)));
        let hello = read_msg(&mut client).await.unwrap();
        assert_eq!(hello[1], HELLO);
        client.write_all(&msg(4, HELLO, 1, &[])).await.unwrap();
        client
            .write_all(&msg(4, ECHO_REQUEST, 7, b"abc"))
            .await
            .unwrap();
        let r = read_msg(&mut client).await.unwrap();
        assert_eq!(
            (r[0], r[1], &r[4..8], &r[8..]),
            (4, ECHO_REPLY, &7u32.to_be_bytes()[..], &b"abc"[..])
        );
        drop(client);
        assert_eq!(task.await.unwrap(), ConnEnd::PeerClosed);
    }

    /// A peer that sends requests without reading replies is not read from
    /// once `MAX_QUEUED` bytes of replies wait: its writes stall. Once it
    /// reads, everything is answered.
    #[tokio::test]
    async fn back_pressure() {
        let (client, sw) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(serve(sw, switch(), ConnKind::Service, fixed_probe(None)));
        let (mut rd, mut wr) = tokio::io::split(client);
        assert_eq!(read_msg(&mut rd).await.unwrap()[1], HELLO);
        wr.write_all(&msg(4, HELLO, 1, &[])).await.unwrap();
        let payload = vec![0x5a; 4096];
        let n = (4 * MAX_QUEUED) / payload.len();
        let mut all = Vec::new();
        for i in 0..n {
            all.extend_from_slice(&msg(4, ECHO_REQUEST, i as u32, &payload));
        }
        let payload_len = payload.len();
        let total = all.len();
        let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w2 = written.clone();
        let writer = tokio::spawn(async move {
            for chunk in all.chunks(8192) {
                wr.write_all(chunk).await.unwrap();
                w2.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            }
            wr
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let w = written.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            w < total,
            "all {total} bytes of requests went in with nobody reading"
        );
        // What went in: the switch's queued replies (up to MAX_QUEUED plus
        // the replies to one read), the pipe's buffers both ways, a chunk.
        assert!(
            w <= MAX_QUEUED + READ_CHUNK + 3 * 64 * 1024,
            "{w} bytes accepted"
        );
        // Now a reader: every request is answered.
        for i in 0..n {
            let r = read_msg(&mut rd).await.unwrap();
            assert_eq!((r[1], r.len()), (ECHO_REPLY, 8 + payload_len), "reply {i}");
            assert_eq!(r[4..8], (i as u32).to_be_bytes());
        }
        let wr = writer.await.unwrap();
        drop((rd, wr));
        assert_eq!(task.await.unwrap(), ConnEnd::PeerClosed);
    }

    /// With a probe interval, silence brings an echo request, and more
    /// silence closes the connection.
    #[tokio::test(start_paused = true)]
    async fn inactivity_probe() {
        let (mut client, sw) = tokio::io::duplex(64 * 1024);
        let probe = Duration::from_secs(5);
        let task = tokio::spawn(serve(
            sw,
            switch(),
            ConnKind::Controller,
            fixed_probe(Some(probe)),
        ));
        let hello = read_msg(&mut client).await.unwrap();
        assert_eq!(hello[1], HELLO);
        client.write_all(&msg(4, HELLO, 1, &[])).await.unwrap();
        let t0 = Instant::now();
        let echo = read_msg(&mut client).await.unwrap();
        assert_eq!(echo[1], ECHO_REQUEST);
        assert_eq!(echo[0], 4, "probe in the negotiated version");
        assert!(t0.elapsed() >= probe);
        // Unanswered: the switch hangs up after another interval.
        assert_eq!(read_msg(&mut client).await, None);
        assert_eq!(task.await.unwrap(), ConnEnd::ProbeTimeout);
        assert!(t0.elapsed() >= probe * 2);
    }
}
