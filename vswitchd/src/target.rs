//! OpenFlow connection targets and the tasks that serve them:
//!
//! - passive `punix:PATH` and `ptcp:[PORT][:IP]` (a `Service`: a listener
//!   task accepting connections, each served by `ofconn::serve`; the
//!   bridge's management socket is one);
//! - active `unix:PATH` and `tcp:IP[:PORT]` controllers (an `Active`: a task
//!   that connects, serves the connection, and reconnects after a backoff
//!   that starts at 1 s and doubles up to `max_backoff`, reset once a
//!   connection outlived the backoff it followed, as OVS's rconn).
//!
//! Relative unix paths are taken in the run directory, the default
//! OpenFlow port is 6653. Dropping a `Service` or `Active` aborts its task,
//! which drops (and so closes) every connection it owns, and removes a
//! listening unix socket's file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrovs_ofproto::ConnKind;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::ofconn::{self, fixed_probe, SharedOfproto};
use crate::ofconn_unix::UnixConn;
use tokio::sync::watch;

pub const OFP_PORT: u16 = 6653;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    PUnix(PathBuf),
    PTcp(String, u16),
    Unix(PathBuf),
    Tcp(String, u16),
}

impl Target {
    pub fn parse(s: &str, rundir: &Path) -> Option<Target> {
        let (kind, rest) = s.split_once(':')?;
        let path = |p: &str| -> Option<PathBuf> { (!p.is_empty()).then(|| rundir.join(p)) };
        match kind {
            "punix" => path(rest).map(Target::PUnix),
            "unix" => path(rest).map(Target::Unix),
            "ptcp" => {
                // ptcp:[PORT][:IP]
                let (p, ip) = rest.split_once(':').unwrap_or((rest, ""));
                let port = if p.is_empty() {
                    OFP_PORT
                } else {
                    p.parse().ok()?
                };
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                let ip = if ip.is_empty() { "0.0.0.0" } else { ip };
                Some(Target::PTcp(ip.to_string(), port))
            }
            "tcp" => {
                // tcp:IP[:PORT]; an IPv6 address is bracketed.
                let (ip, port) = if let Some(r) = rest.strip_prefix('[') {
                    let (ip, tail) = r.split_once(']')?;
                    (ip, tail.strip_prefix(':'))
                } else {
                    match rest.rsplit_once(':') {
                        Some((ip, p)) => (ip, Some(p)),
                        None => (rest, None),
                    }
                };
                let port = match port {
                    Some(p) => p.parse().ok()?,
                    None => OFP_PORT,
                };
                (!ip.is_empty()).then(|| Target::Tcp(ip.to_string(), port))
            }
            _ => None,
        }
    }

    pub fn is_passive(&self) -> bool {
        matches!(self, Target::PUnix(_) | Target::PTcp(..))
    }
}

/// A listening target and the connections accepted on it.
pub struct Service {
    task: JoinHandle<()>,
    path: Option<PathBuf>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Service {
    /// Binds `target` (passive) and serves connections of `kind` on it.
    pub fn listen(
        target: &Target,
        ofproto: SharedOfproto,
        kind: ConnKind,
        probe: Option<Duration>,
    ) -> std::io::Result<Service> {
        Self::listen_limited(target, ofproto, kind, probe, (0, 0))
    }

    /// [`Service::listen`], each connection with packet-in rate limit
    /// `rate` (rate, burst; rate 0: none), as a passive `Controller`
    /// target has in OVS. A new setting makes a new listener.
    pub fn listen_limited(
        target: &Target,
        ofproto: SharedOfproto,
        kind: ConnKind,
        probe: Option<Duration>,
        rate: (u32, u32),
    ) -> std::io::Result<Service> {
        let (task, path) = match target {
            Target::PUnix(p) => {
                let _ = std::fs::remove_file(p);
                let l = tokio::net::UnixListener::bind(p)?;
                let task = tokio::spawn(async move {
                    let mut conns = JoinSet::new();
                    loop {
                        tokio::select! {
                            a = l.accept() => match a {
                                // Watched for reading only (see ofconn_unix).
                                Ok((s, _)) => match UnixConn::new(s) {
                                    Ok(s) => spawn_conn(&mut conns, s, &ofproto, kind, fixed_probe(probe), rate),
                                    Err(e) => tracing::warn!("accept: {e}"),
                                },
                                Err(e) => {
                                    tracing::warn!("accept: {e}");
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                            },
                            Some(_) = conns.join_next() => {}
                        }
                    }
                });
                (task, Some(p.clone()))
            }
            Target::PTcp(ip, port) => {
                let std_l = std::net::TcpListener::bind((ip.as_str(), *port))?;
                std_l.set_nonblocking(true)?;
                let l = tokio::net::TcpListener::from_std(std_l)?;
                let task = tokio::spawn(async move {
                    let mut conns = JoinSet::new();
                    loop {
                        tokio::select! {
                            a = l.accept() => match a {
                                Ok((s, _)) => {
                                    let _ = s.set_nodelay(true);
                                    spawn_conn(&mut conns, s, &ofproto, kind, fixed_probe(probe), rate)
                                }
                                Err(e) => {
                                    tracing::warn!("accept: {e}");
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                            },
                            Some(_) = conns.join_next() => {}
                        }
                    }
                });
                (task, None)
            }
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a passive target",
                ))
            }
        };
        Ok(Service { task, path })
    }
}

fn spawn_conn<S>(
    conns: &mut JoinSet<()>,
    s: S,
    ofproto: &SharedOfproto,
    kind: ConnKind,
    probe: ofconn::Probe,
    rate: (u32, u32),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let o = ofproto.clone();
    let o2 = ofproto.clone();
    conns.spawn(async move {
        let on = move |id| {
            if rate.0 > 0 {
                ofconn::lock(&o2).set_conn_rate_limit(id, rate.0, rate.1);
            }
        };
        ofconn::serve_as(s, o, kind, probe, on).await;
    });
}

/// What an active controller's status columns show.
#[derive(Debug, Clone, Default)]
pub struct ActiveStatus {
    /// rconn state: BACKOFF, CONNECTING, ACTIVE.
    pub state: &'static str,
    pub connected: bool,
    pub last_error: Option<String>,
    pub connected_at: Option<std::time::Instant>,
    pub disconnected_at: Option<std::time::Instant>,
    /// The ofproto connection while connected (for its role).
    pub conn: Option<ferrovs_ofproto::ConnId>,
}

/// An active controller connection with reconnection.
pub struct Active {
    task: JoinHandle<()>,
    pub status: Arc<Mutex<ActiveStatus>>,
    probe: watch::Sender<Option<Duration>>,
    max_backoff: watch::Sender<Duration>,
    /// Packet-in (rate, burst), applied to each new connection.
    rate: Arc<Mutex<(u32, u32)>>,
    ofproto: SharedOfproto,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Active {
    /// Starts connecting to `target` (`kind`: primary or service, see
    /// `WantController::is_primary`); `changed` is notified whenever the
    /// connection comes up or goes down (the status columns change).
    pub fn start(
        target: Target,
        kind: ConnKind,
        ofproto: SharedOfproto,
        max_backoff: Duration,
        probe: Option<Duration>,
        rate: (u32, u32),
        changed: Arc<Notify>,
    ) -> Active {
        let rate = Arc::new(Mutex::new(rate));
        let rate2 = rate.clone();
        let of_keep = ofproto.clone();
        let (probe_tx, probe_rx) = watch::channel(probe);
        let (backoff_tx, backoff_rx) = watch::channel(max_backoff);
        let status = Arc::new(Mutex::new(ActiveStatus {
            state: "CONNECTING",
            ..Default::default()
        }));
        let st = status.clone();
        let task = tokio::spawn(async move {
            let set = |f: &dyn Fn(&mut ActiveStatus)| {
                f(&mut st.lock().unwrap_or_else(|e| e.into_inner()));
                changed.notify_one();
            };
            let mut backoff = Duration::from_secs(1);
            loop {
                set(&|s| s.state = "CONNECTING");
                let connect_timeout = backoff.max(Duration::from_secs(1));
                let started = Instant::now();
                let err = match tokio::time::timeout(connect_timeout, open(&target)).await {
                    Ok(Ok(stream)) => {
                        set(&|s| {
                            s.connected = true;
                            s.state = "ACTIVE";
                            s.connected_at = Some(std::time::Instant::now());
                        });
                        let o = ofproto.clone();
                        let k = kind;
                        let p = probe_rx.clone();
                        let st2 = st.clone();
                        let of2 = ofproto.clone();
                        let rate3 = rate2.clone();
                        // Under the rate's lock, as `update`: a change
                        // meanwhile reaches this connection.
                        let on = move |id| {
                            let r = rate3.lock().unwrap_or_else(|e| e.into_inner());
                            ofconn::lock(&of2).set_conn_rate_limit(id, r.0, r.1);
                            st2.lock().unwrap_or_else(|e| e.into_inner()).conn = Some(id);
                        };
                        let end = match stream {
                            Stream::Unix(s) => ofconn::serve_as(s, o, k, p, on).await,
                            Stream::Tcp(s) => ofconn::serve_as(s, o, k, p, on).await,
                        };
                        end.describe()
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "Connection timed out".to_string(),
                };
                set(&|s| {
                    if s.connected {
                        s.disconnected_at = Some(std::time::Instant::now());
                    }
                    s.connected = false;
                    s.conn = None;
                    s.state = "BACKOFF";
                    s.last_error = Some(err.clone());
                });
                tracing::info!("controller {target:?}: {err}; retrying in {backoff:?}");
                if started.elapsed() >= backoff * 2 {
                    backoff = Duration::from_secs(1);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(*backoff_rx.borrow());
            }
        });
        Active {
            task,
            status,
            probe: probe_tx,
            max_backoff: backoff_tx,
            rate,
            ofproto: of_keep,
        }
    }

    /// New settings for the running controller: the connection stays up
    /// (as OVS's connmgr reconfigures an existing controller in place).
    pub fn update(&self, max_backoff: Duration, probe: Option<Duration>, rate: (u32, u32)) {
        self.max_backoff.send_replace(max_backoff);
        self.probe.send_replace(probe);
        let mut r = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        *r = rate;
        let conn = self.status.lock().unwrap_or_else(|e| e.into_inner()).conn;
        if let Some(id) = conn {
            ofconn::lock(&self.ofproto).set_conn_rate_limit(id, rate.0, rate.1);
        }
    }
}

/// A connected active target.
enum Stream {
    Unix(UnixConn),
    Tcp(tokio::net::TcpStream),
}

async fn open(target: &Target) -> std::io::Result<Stream> {
    match target {
        Target::Unix(p) => Ok(Stream::Unix(UnixConn::new(
            tokio::net::UnixStream::connect(p).await?,
        )?)),
        Target::Tcp(ip, port) => {
            let s = tokio::net::TcpStream::connect((ip.as_str(), *port)).await?;
            let _ = s.set_nodelay(true);
            Ok(Stream::Tcp(s))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not an active target",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let rd = Path::new("/run/x");
        assert_eq!(
            Target::parse("ptcp:", rd),
            Some(Target::PTcp("0.0.0.0".into(), 6653))
        );
        assert_eq!(
            Target::parse("ptcp:6634:127.0.0.1", rd),
            Some(Target::PTcp("127.0.0.1".into(), 6634))
        );
        assert_eq!(
            Target::parse("tcp:198.18.0.1", rd),
            Some(Target::Tcp("198.18.0.1".into(), 6653))
        );
        assert_eq!(
            Target::parse("tcp:[2001:db8::1]:6633", rd),
            Some(Target::Tcp("2001:db8::1".into(), 6633))
        );
        assert_eq!(
            Target::parse("punix:br0.sock", rd),
            Some(Target::PUnix("/run/x/br0.sock".into()))
        );
        assert_eq!(
            Target::parse("unix:/a/b", rd),
            Some(Target::Unix("/a/b".into()))
        );
        assert_eq!(Target::parse("ssl:1.2.3.4", rd), None);
        assert_eq!(Target::parse("tcp:", rd), None);
    }
}
