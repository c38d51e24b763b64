//! Remotes: passive listeners (`punix:PATH`, `ptcp:PORT[:IP]`) and active
//! connections (`unix:PATH`, `tcp:IP:PORT`, reconnecting with backoff), plus
//! the set of remotes taken from the database (`db:DB,TABLE,COLUMN`) that is
//! re-read after every commit.

use crate::session::{self, SharedCore};
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A parsed remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    PUnix(String),
    PTcp(String, u16),
    Unix(String),
    Tcp(String, u16),
}

fn ip_port(s: &str, passive: bool) -> Option<(String, u16)> {
    if passive {
        // PORT[:IP]
        let (p, ip) = match s.split_once(':') {
            Some((p, ip)) => (
                p,
                ip.trim_start_matches('[').trim_end_matches(']').to_string(),
            ),
            None => (s, "0.0.0.0".to_string()),
        };
        let port = if p.is_empty() { 6640 } else { p.parse().ok()? };
        Some((ip, port))
    } else {
        let (ip, p) = s.rsplit_once(':')?;
        Some((
            ip.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse().ok()?,
        ))
    }
}

impl Remote {
    pub fn parse(s: &str) -> Option<Remote> {
        let (kind, rest) = s.split_once(':')?;
        match kind {
            "punix" => Some(Remote::PUnix(rest.to_string())),
            "unix" => Some(Remote::Unix(rest.to_string())),
            "ptcp" => ip_port(rest, true).map(|(i, p)| Remote::PTcp(i, p)),
            "tcp" => ip_port(rest, false).map(|(i, p)| Remote::Tcp(i, p)),
            _ => None,
        }
    }
}

/// Starts serving `remote`. Binding errors are returned at once.
pub async fn start(core: SharedCore, remote: &Remote) -> std::io::Result<JoinHandle<()>> {
    match remote.clone() {
        Remote::PUnix(path) => {
            let _ = std::fs::remove_file(&path);
            let l = tokio::net::UnixListener::bind(&path)?;
            Ok(tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, _)) => {
                            let (r, w) = s.into_split();
                            tokio::spawn(session::run(core.clone(), r, w));
                        }
                        Err(e) => {
                            tracing::warn!("punix:{path}: accept: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }))
        }
        Remote::PTcp(ip, port) => {
            let l = tokio::net::TcpListener::bind((ip.as_str(), port)).await?;
            Ok(tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, _)) => {
                            let _ = s.set_nodelay(true);
                            let (r, w) = s.into_split();
                            tokio::spawn(session::run(core.clone(), r, w));
                        }
                        Err(e) => {
                            tracing::warn!("ptcp:{port}: accept: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }))
        }
        active @ (Remote::Unix(_) | Remote::Tcp(..)) => Ok(tokio::spawn(async move {
            let remote = active;
            let mut backoff = Duration::from_millis(100);
            loop {
                let r = match &remote {
                    Remote::Unix(p) => match tokio::net::UnixStream::connect(p).await {
                        Ok(s) => {
                            let (r, w) = s.into_split();
                            session::run(core.clone(), r, w).await;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                    Remote::Tcp(ip, port) => {
                        match tokio::net::TcpStream::connect((ip.as_str(), *port)).await {
                            Ok(s) => {
                                let _ = s.set_nodelay(true);
                                let (r, w) = s.into_split();
                                session::run(core.clone(), r, w).await;
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                    _ => Ok(()),
                };
                if r.is_ok() {
                    backoff = Duration::from_millis(100);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(8));
            }
        })),
    }
}

/// The running remotes: fixed ones from the command line and the ones read
/// from the database.
pub struct Remotes {
    pub core: SharedCore,
    pub specs: Vec<String>,
    running: HashMap<String, JoinHandle<()>>,
}

impl Remotes {
    pub fn new(core: SharedCore) -> Self {
        Remotes {
            core,
            specs: Vec::new(),
            running: HashMap::new(),
        }
    }

    fn desired(&self) -> Vec<String> {
        let g = session::lock(&self.core);
        let mut out = Vec::new();
        for s in &self.specs {
            if let Some(rest) = s.strip_prefix("db:") {
                out.extend(g.db_remote_targets(rest));
            } else {
                out.push(s.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Starts missing remotes and stops removed ones. Returns errors of
    /// remotes that could not start.
    pub async fn reconcile(&mut self) -> Vec<String> {
        let want = self.desired();
        let mut errs = Vec::new();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|k| !want.contains(k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(h) = self.running.remove(&k) {
                h.abort();
            }
            if let Some(Remote::PUnix(p)) = Remote::parse(&k) {
                let _ = std::fs::remove_file(p);
            }
        }
        for w in want {
            if self.running.contains_key(&w) {
                continue;
            }
            match Remote::parse(&w) {
                Some(r) => match start(self.core.clone(), &r).await {
                    Ok(h) => {
                        tracing::info!("listening on {w}");
                        self.running.insert(w, h);
                    }
                    Err(e) => {
                        tracing::warn!("{w}: {e}");
                        errs.push(format!("{w}: {e}"));
                    }
                },
                None => {
                    tracing::warn!("{w}: unsupported remote");
                    errs.push(format!("{w}: unsupported remote"));
                    self.running.insert(w, tokio::spawn(async {}));
                }
            }
        }
        errs
    }

    pub fn list(&self) -> Vec<String> {
        let mut v = self.specs.clone();
        v.sort();
        v
    }

    pub fn shutdown(&mut self) {
        for (k, h) in self.running.drain() {
            h.abort();
            if let Some(Remote::PUnix(p)) = Remote::parse(&k) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}
