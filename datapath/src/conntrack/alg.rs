//! Application-layer gateways: FTP and TFTP open data connections that
//! the tracker must know as `rel` (related) to their control connection.
//!
//! A control connection committed with `alg=ftp` (or `helper=ftp`) has
//! its payload read for `PORT`/`EPRT` commands (active mode: the server
//! will connect to the address given) and `227`/`229` replies (passive
//! mode: the client will connect to the server's address and port); one
//! with `alg=tftp` expects the server to answer the first request from
//! any port. Each announcement becomes an expectation keyed by (zone,
//! family, protocol, source address, destination address and port) -
//! the source port is not known in advance. A new connection matching one
//! is `new|rel`, inherits the parent's mark and label, and reports the
//! parent's original tuple. Expectations live at most
//! [`EXPECTATION_MS`] and are consumed when used.
//!
//! The expectation map has its own lock, taken only when a control
//! connection announces something or when a new connection is looked up
//! while at least one expectation exists (an atomic count says so), so
//! ordinary traffic never touches it.
//!
//! Not done: NAT of the FTP control channel (rewriting the addresses in
//! the payload and adjusting sequence numbers), and NAT of the data
//! connections an expectation opens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::key::ConnKey;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};

/// How long an announced data connection may take to appear.
pub const EXPECTATION_MS: u64 = 60_000;
/// Bound on the expectations kept (a flood of announcements evicts
/// nothing, it is just not recorded past this).
pub const MAX_EXPECTATIONS: usize = 4096;

/// What identifies an expected connection (its source port is unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExpKey {
    pub zone: u16,
    pub v6: bool,
    pub proto: u8,
    pub src: u128,
    pub dst: u128,
    pub dst_port: u16,
}

impl ExpKey {
    /// The expectation a new connection's key would match.
    pub fn of(k: &ConnKey) -> ExpKey {
        ExpKey {
            zone: k.zone,
            v6: k.v6,
            proto: k.proto,
            src: k.src.addr,
            dst: k.dst.addr,
            dst_port: k.dst.port,
        }
    }
}

/// An expected connection.
#[derive(Clone, Copy, Debug)]
pub struct Expectation {
    pub parent: ConnKey,
    pub mark: u32,
    pub label: u128,
    pub expires: u64,
}

#[derive(Default)]
pub struct Expectations {
    n: AtomicUsize,
    map: Mutex<HashMap<ExpKey, Expectation>>,
}

impl Expectations {
    pub fn add(&self, k: ExpKey, e: Expectation) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_EXPECTATIONS && !m.contains_key(&k) {
            return;
        }
        m.insert(k, e);
        self.n.store(m.len(), Ordering::Release);
    }

    /// Takes the expectation `k` matches, if any (and not expired).
    #[inline]
    pub fn take(&self, k: &ConnKey, now: u64) -> Option<Expectation> {
        if self.n.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.remove(&ExpKey::of(k));
        self.n.store(m.len(), Ordering::Release);
        e.filter(|e| now < e.expires)
    }

    /// The expectation `k` matches, left in place.
    pub fn peek(&self, k: &ConnKey, now: u64) -> Option<Expectation> {
        if self.n.load(Ordering::Acquire) == 0 {
            return None;
        }
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&ExpKey::of(k)).copied().filter(|e| now < e.expires)
    }

    /// Drops expired expectations (from the sweep).
    pub fn sweep(&self, now: u64) {
        if self.n.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, e| now < e.expires);
        self.n.store(m.len(), Ordering::Release);
    }

    pub fn len(&self) -> usize {
        self.n.load(Ordering::Acquire)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// TFTP: the server answers the client's first request from a port of
/// its own. `k` is the request's key (client -> server:69).
pub fn tftp_expectation(k: &ConnKey) -> ExpKey {
    ExpKey {
        zone: k.zone,
        v6: k.v6,
        proto: PROTO_UDP,
        src: k.dst.addr,
        dst: k.src.addr,
        dst_port: k.src.port,
    }
}

/// Reads an FTP control segment sent in direction `reply` of the control
/// connection whose original key is `ctl` (client -> server). Returns the
/// expected data connection, if the segment announces one.
pub fn ftp_expectation(payload: &[u8], ctl: &ConnKey, reply: bool) -> Option<ExpKey> {
    let (client, server) = (ctl.src.addr, ctl.dst.addr);
    let line = payload.split(|&b| b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mk = |src: u128, dst: u128, port: u16| ExpKey {
        zone: ctl.zone,
        v6: ctl.v6,
        proto: PROTO_TCP,
        src,
        dst,
        dst_port: port,
    };
    if !reply {
        let upper = text.get(..5).map(|s| s.to_ascii_uppercase());
        if upper.as_deref() == Some("PORT ") && !ctl.v6 {
            let (addr, port) = six_numbers(&text[5..])?;
            // Only the client's own address is accepted (as OVS: no
            // bouncing the data connection to a third host).
            if addr as u128 != client {
                return None;
            }
            return Some(mk(server, client, port));
        }
        if upper.as_deref() == Some("EPRT ") {
            let (addr, port) = eprt(&text[5..], ctl.v6)?;
            if addr != client {
                return None;
            }
            return Some(mk(server, client, port));
        }
        return None;
    }
    if let Some(rest) = text.strip_prefix("227 ") {
        if ctl.v6 {
            return None;
        }
        let open = rest.find(|c: char| c.is_ascii_digit())?;
        let (addr, port) = six_numbers(&rest[open..])?;
        if addr as u128 != server {
            return None;
        }
        return Some(mk(client, server, port));
    }
    if let Some(rest) = text.strip_prefix("229 ") {
        // (|||port|)
        let inner = rest.split('(').nth(1)?.split(')').next()?;
        let port: u16 = inner.trim_matches('|').parse().ok()?;
        return Some(mk(client, server, port));
    }
    None
}

/// `h1,h2,h3,h4,p1,p2` (trailing text after the last number ignored).
fn six_numbers(s: &str) -> Option<(u32, u16)> {
    let mut v = [0u32; 6];
    let mut it = s.split(',');
    for (i, x) in v.iter_mut().enumerate() {
        let t = it.next()?;
        let t = if i == 5 {
            let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            &t[..end]
        } else {
            t.trim()
        };
        let n: u32 = t.parse().ok()?;
        if n > 255 {
            return None;
        }
        *x = n;
    }
    let addr = v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3];
    Some((addr, (v[4] << 8 | v[5]) as u16))
}

/// `|1|a.b.c.d|port|` or `|2|v6addr|port|`.
fn eprt(s: &str, v6: bool) -> Option<(u128, u16)> {
    let d = s.chars().next()?;
    let parts: Vec<&str> = s.split(d).collect();
    if parts.len() < 4 {
        return None;
    }
    let port = parts[3].parse().ok()?;
    let addr = match (parts[1], v6) {
        ("1", false) => u32::from(parts[2].parse::<std::net::Ipv4Addr>().ok()?) as u128,
        ("2", true) => u128::from(parts[2].parse::<std::net::Ipv6Addr>().ok()?),
        _ => return None,
    };
    Some((addr, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::key::Endpoint;

    fn ctl() -> ConnKey {
        ConnKey {
            src: Endpoint {
                addr: 0xc612_0001,
                port: 40000,
                ..Endpoint::default()
            },
            dst: Endpoint {
                addr: 0xc613_0002,
                port: 21,
                ..Endpoint::default()
            },
            zone: 1,
            v6: false,
            proto: PROTO_TCP,
        }
    }

    #[test]
    fn ftp_commands_and_replies() {
        let k = ctl();
        let e = ftp_expectation(b"PORT 198,18,0,1,195,80\r\n", &k, false).unwrap();
        assert_eq!(
            (e.src, e.dst, e.dst_port),
            (0xc613_0002, 0xc612_0001, 50000)
        );
        // A PORT naming another host is ignored.
        assert!(ftp_expectation(b"PORT 10,0,0,1,195,80\r\n", &k, false).is_none());
        let e = ftp_expectation(
            b"227 Entering Passive Mode (198,19,0,2,39,16).\r\n",
            &k,
            true,
        )
        .unwrap();
        assert_eq!(
            (e.src, e.dst, e.dst_port),
            (0xc612_0001, 0xc613_0002, 10000)
        );
        let e = ftp_expectation(
            b"229 Entering Extended Passive Mode (|||6446|)\r\n",
            &k,
            true,
        )
        .unwrap();
        assert_eq!(e.dst_port, 6446);
        let e = ftp_expectation(b"EPRT |1|198.18.0.1|6275|\r\n", &k, false).unwrap();
        assert_eq!(e.dst_port, 6275);
        assert!(ftp_expectation(b"RETR file\r\n", &k, false).is_none());
        assert!(ftp_expectation(b"PORT 1,2,3\r\n", &k, false).is_none());
        assert!(ftp_expectation(&[0xff, 0xfe], &k, true).is_none());
    }
}
