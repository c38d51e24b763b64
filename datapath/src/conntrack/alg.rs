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
//! An expectation belongs to the connection that announced it (its
//! `parent`, that connection's original key, as OVS's `parent_key`): it
//! dies with it ([`Expectations::clean`], called whenever a connection
//! with an ALG leaves the table: reopened, replaced by `force`, flushed or
//! swept), and the tracker also checks that the parent is still live
//! before a new connection takes it, so no connection ever becomes
//! related to one that is gone (or, the key holding the zone, to one of
//! another zone).
//!
//! The expectation map has its own lock, taken only when a control
//! connection announces something or when a new connection is looked up
//! while at least one expectation exists (an atomic count says so), so
//! ordinary traffic never touches it.
//!
//! NAT (IPv4, and IPv6's EPRT): when the control connection is translated, the address
//! an announcement names is the sender's own, which the far side cannot
//! reach; [`ftp_announce`] says which bytes to replace by the translated
//! address (the caller edits the segment and shifts the sequence numbers
//! that follow, [`super::ftp_nat`]), and the expectation carries the NAT
//! the data connection gets when committed with a bare `nat`: the
//! reverse of the control connection's for a connection towards the
//! translated side, the same for one from it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::key::ConnKey;
use super::nat::NatKind;
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
    /// The original key of the connection that announced it.
    pub parent: ConnKey,
    pub mark: u32,
    pub label: u128,
    pub expires: u64,
    /// The NAT the data connection gets (from its parent's).
    pub nat: Option<DataNat>,
}

/// NAT of an expected data connection: translate its source or
/// destination address to `addr` (ports kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataNat {
    pub kind: NatKind,
    pub addr: u128,
}

/// Bytes of an FTP segment's payload to replace: `start..end` by `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// What an FTP control segment announces: the expected data connection,
/// its NAT, and the edit that makes the announced address the translated
/// one (both `None` without NAT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    pub exp: ExpKey,
    pub nat: Option<DataNat>,
    pub edit: Option<Edit>,
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

    /// Drops the expectations announced by connections whose original key
    /// `gone` says is gone (they die with their parent).
    pub fn clean(&self, gone: impl Fn(&ConnKey) -> bool) {
        if self.n.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, e| !gone(&e.parent));
        self.n.store(m.len(), Ordering::Release);
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
/// connection whose original key is `ctl` (client -> server), without
/// NAT. Returns the expected data connection, if the segment announces
/// one.
pub fn ftp_expectation(payload: &[u8], ctl: &ConnKey, reply: bool) -> Option<ExpKey> {
    ftp_announce(payload, ctl, &ctl.reverse(), reply).map(|a| a.exp)
}

/// Reads an FTP control segment sent in direction `reply` of the control
/// connection with keys `fwd` (client -> server as the client sends) and
/// `rev` (server -> client as the server sends: translated when the
/// connection has NAT).
///
/// Active mode (PORT/EPRT from the client): the server connects from its
/// own address `rev.src` to the client's address as it sees it,
/// `rev.dst`; a translated client's announced address becomes `rev.dst`,
/// and the data connection is translated back to the client (DNAT to
/// `fwd.src`); a translated server's data connection gets the address the
/// client knows it by (SNAT to `fwd.dst`). Passive mode (227/229 from the
/// server) mirrors it.
pub fn ftp_announce(payload: &[u8], fwd: &ConnKey, rev: &ConnKey, reply: bool) -> Option<Announce> {
    let line_end = payload
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(payload.len());
    let text = std::str::from_utf8(&payload[..line_end])
        .ok()?
        .trim_end_matches('\r');
    let mk = |src: u128, dst: u128, port: u16| ExpKey {
        zone: fwd.zone,
        v6: fwd.v6,
        proto: PROTO_TCP,
        src,
        dst,
        dst_port: port,
    };
    // (announced address, its byte span in `text` (None: not in dotted
    // or comma form we rewrite), port).
    let (addr, span, port, comma) = if !reply {
        let upper = text.get(..5).map(|s| s.to_ascii_uppercase());
        if upper.as_deref() == Some("PORT ") && !fwd.v6 {
            let (addr, port, len) = six_numbers(&text[5..])?;
            (Some(addr as u128), Some((5, 5 + len)), port, true)
        } else if upper.as_deref() == Some("EPRT ") {
            let (addr, port, span) = eprt(&text[5..], fwd.v6)?;
            (Some(addr), Some((5 + span.0, 5 + span.1)), port, false)
        } else {
            return None;
        }
    } else if let Some(rest) = text.strip_prefix("227 ") {
        if fwd.v6 {
            return None;
        }
        let open = rest.find(|c: char| c.is_ascii_digit())?;
        let (addr, port, len) = six_numbers(&rest[open..])?;
        let at = 4 + open;
        (Some(addr as u128), Some((at, at + len)), port, true)
    } else if let Some(rest) = text.strip_prefix("229 ") {
        // (|||port|)
        let inner = rest.split('(').nth(1)?.split(')').next()?;
        let port: u16 = inner.trim_matches('|').parse().ok()?;
        (None, None, port, false)
    } else {
        return None;
    };
    // Who opens the data connection, and whose addresses are translated.
    let (owner_real, owner_seen, exp, nat_same, nat_back) = if !reply {
        // The client names itself; the server connects to it.
        (
            fwd.src.addr,
            rev.dst.addr,
            mk(rev.src.addr, rev.dst.addr, port),
            (rev.src.addr != fwd.dst.addr).then_some(DataNat {
                kind: NatKind::Src,
                addr: fwd.dst.addr,
            }),
            DataNat {
                kind: NatKind::Dst,
                addr: fwd.src.addr,
            },
        )
    } else {
        // The server names itself; the client connects to it.
        (
            rev.src.addr,
            fwd.dst.addr,
            mk(fwd.src.addr, fwd.dst.addr, port),
            (rev.dst.addr != fwd.src.addr).then_some(DataNat {
                kind: NatKind::Src,
                addr: rev.dst.addr,
            }),
            DataNat {
                kind: NatKind::Dst,
                addr: rev.src.addr,
            },
        )
    };
    // Only the sender's own address is accepted (as OVS: no bouncing the
    // data connection to a third host).
    if addr.is_some_and(|a| a != owner_real) {
        return None;
    }
    if owner_real == owner_seen {
        return Some(Announce {
            exp,
            nat: nat_same,
            edit: None,
        });
    }
    // The announcing side is translated.
    let edit = match (span, fwd.v6) {
        (Some((start, end)), false) => {
            let o = (owner_seen as u32).to_be_bytes();
            let text = if comma {
                format!("{},{},{},{}", o[0], o[1], o[2], o[3])
            } else {
                format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])
            };
            Some(Edit { start, end, text })
        }
        // EPRT |2|addr|port| (OVS rewrites it too: NAT66 of active FTP);
        // the address in its RFC 5952 text form, as inet_ntop writes it.
        (Some((start, end)), true) => Some(Edit {
            start,
            end,
            text: std::net::Ipv6Addr::from(owner_seen).to_string(),
        }),
        (None, _) => None,
    };
    Some(Announce {
        exp,
        nat: Some(nat_back),
        edit,
    })
}

/// `h1,h2,h3,h4,p1,p2` (trailing text after the last number ignored):
/// the address, the port, and the length of `h1,h2,h3,h4`.
fn six_numbers(s: &str) -> Option<(u32, u16, usize)> {
    let mut v = [0u32; 6];
    let addr_len = s.match_indices(',').nth(3)?.0;
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
    Some((addr, (v[4] << 8 | v[5]) as u16, addr_len))
}

/// `|1|a.b.c.d|port|` or `|2|v6addr|port|`: the address, the port and
/// the address's byte span in `s`.
fn eprt(s: &str, v6: bool) -> Option<(u128, u16, (usize, usize))> {
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
    let start = d.len_utf8() + parts[1].len() + d.len_utf8();
    Some((addr, port, (start, start + parts[2].len())))
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

    #[test]
    fn passive_reply_of_a_translated_server_names_the_public_address() {
        // The client reaches the server by its floating address F; the
        // server's own address is S.
        let (f, srv) = (0xc613_003c_u128, 0xc612_0a0b_u128);
        let fwd = ConnKey {
            dst: Endpoint {
                addr: f,
                port: 21,
                ..Endpoint::default()
            },
            ..ctl()
        };
        let mut rev = fwd.reverse();
        rev.src.addr = srv;
        let a = ftp_announce(
            b"227 Entering Passive Mode (198,18,10,11,117,48).\r\n",
            &fwd,
            &rev,
            true,
        )
        .unwrap();
        assert_eq!(
            (a.exp.src, a.exp.dst, a.exp.dst_port),
            (fwd.src.addr, f, 30000)
        );
        assert_eq!(
            a.nat,
            Some(DataNat {
                kind: NatKind::Dst,
                addr: srv
            })
        );
        let e = a.edit.unwrap();
        assert_eq!((e.start, e.end, e.text.as_str()), (27, 39, "198,19,0,60"));
        // An address that is neither is ignored.
        assert!(ftp_announce(
            b"227 Entering Passive Mode (198,18,10,12,117,48).\r\n",
            &fwd,
            &rev,
            true
        )
        .is_none());
    }
}
