//! Remotes: passive listeners (`punix:PATH`, `ptcp:PORT[:IP]`) and active
//! connections (`unix:PATH`, `tcp:IP:PORT`, reconnecting with backoff), as
//! non-blocking sockets for the event loop, plus the reconnect backoff and
//! the list of remotes wanted, where `db:DB,TABLE,COLUMN` entries name
//! targets read from the database (re-read by the loop after commits).
//!
//! A `Stream` is one connected socket of either family; the event loop
//! treats both the same (read, write, register).

use crate::server::Core;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{event::Source, Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

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

    pub fn is_passive(&self) -> bool {
        matches!(self, Remote::PUnix(_) | Remote::PTcp(..))
    }
}

fn resolve(ip: &str, port: u16) -> io::Result<SocketAddr> {
    (ip, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))
}

/// A listening socket.
pub enum Listener {
    Unix(UnixListener, String),
    Tcp(TcpListener),
}

impl Listener {
    /// Binds a passive remote (a stale `punix` socket file is replaced).
    pub fn bind(r: &Remote) -> io::Result<Listener> {
        match r {
            Remote::PUnix(path) => {
                let _ = std::fs::remove_file(path);
                Ok(Listener::Unix(UnixListener::bind(path)?, path.clone()))
            }
            Remote::PTcp(ip, port) => Ok(Listener::Tcp(TcpListener::bind(resolve(ip, *port)?)?)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a passive remote",
            )),
        }
    }

    /// Accepts one pending connection (non-blocking).
    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }),
        }
    }

    /// Removes the socket file of a `punix` listener.
    pub fn unlink(&self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Source for Listener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Unix(l, _) => l.register(r, t, i),
            Listener::Tcp(l) => l.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Unix(l, _) => l.reregister(r, t, i),
            Listener::Tcp(l) => l.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listener::Unix(l, _) => l.deregister(r),
            Listener::Tcp(l) => l.deregister(r),
        }
    }
}

/// A connected (or, for TCP, connecting) non-blocking socket.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    /// Starts connecting an active remote. A unix socket connects at once;
    /// a TCP connection completes when the socket turns writable (see
    /// `connected`).
    pub fn connect(r: &Remote) -> io::Result<Stream> {
        match r {
            Remote::Unix(p) => {
                let s = std::os::unix::net::UnixStream::connect(p)?;
                s.set_nonblocking(true)?;
                Ok(Stream::Unix(UnixStream::from_std(s)))
            }
            Remote::Tcp(ip, port) => {
                let s = TcpStream::connect(resolve(ip, *port)?)?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an active remote",
            )),
        }
    }

    /// For a connecting stream that turned writable: Ok(true) once
    /// connected, Ok(false) if still in progress, Err if it failed.
    pub fn connected(&self) -> io::Result<bool> {
        match self {
            Stream::Unix(_) => Ok(true),
            Stream::Tcp(s) => {
                if let Some(e) = s.take_error()? {
                    return Err(e);
                }
                match s.peer_addr() {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(b),
            Stream::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(b),
            Stream::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Tcp(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Tcp(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.deregister(r),
            Stream::Tcp(s) => s.deregister(r),
        }
    }
}

/// Reconnect delay of an active remote: 100 ms after a session that got
/// connected, doubling after each failed attempt up to 8 s.
#[derive(Debug, Clone, Copy)]
pub struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Self::MIN)
    }
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(8);

    /// The delay before the next attempt; the one after is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        d
    }

    /// A connection succeeded: start again from the minimum.
    pub fn reset(&mut self) {
        self.0 = Self::MIN;
    }
}

/// The remotes asked for: fixed ones from the command line or
/// `ovsdb-server/add-remote`, and `db:` specs resolved against the data.
#[derive(Debug, Default)]
pub struct RemoteSpecs {
    pub specs: Vec<String>,
}

impl RemoteSpecs {
    /// The concrete remotes wanted now (sorted, without duplicates).
    pub fn desired(&self, core: &Core) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.specs {
            if let Some(rest) = s.strip_prefix("db:") {
                out.extend(core.db_remote_targets(rest));
            } else {
                out.push(s.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether any spec depends on the data (re-read after commits).
    pub fn uses_db(&self) -> bool {
        self.specs.iter().any(|s| s.starts_with("db:"))
    }

    pub fn list(&self) -> Vec<String> {
        let mut v = self.specs.clone();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ovs_remote_syntax() {
        assert_eq!(
            Remote::parse("ptcp:6641:127.0.0.1"),
            Some(Remote::PTcp("127.0.0.1".into(), 6641))
        );
        assert_eq!(
            Remote::parse("ptcp::[::1]"),
            Some(Remote::PTcp("::1".into(), 6640))
        );
        assert_eq!(
            Remote::parse("tcp:[2001:db8::1]:6640"),
            Some(Remote::Tcp("2001:db8::1".into(), 6640))
        );
        assert_eq!(
            Remote::parse("punix:/x/y"),
            Some(Remote::PUnix("/x/y".into()))
        );
        assert_eq!(Remote::parse("ssl:1.2.3.4:6640"), None);
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let seq: Vec<u64> = (0..9).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(seq, [100, 200, 400, 800, 1600, 3200, 6400, 8000, 8000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
