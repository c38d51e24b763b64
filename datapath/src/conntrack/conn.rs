//! One tracked connection: its two keys (immutable once inserted), its
//! NAT action, and its mutable state behind a small per-connection lock.
//!
//! A connection is shared (`Arc`) by the two table entries that point at
//! it, one per direction; the lock is taken only for the few instructions
//! of a state update, so two PMDs working on different connections never
//! touch the same lock, and two on the same one wait only that long.

use std::sync::{Mutex, MutexGuard};

use super::key::ConnKey;
use super::nat::NatAction;
use super::other::{IcmpState, OtherState};
use super::tcp::TcpConn;
use super::timeouts::{Timeouts, Tm};
use crate::packet::CtTuple;

/// Application-layer helper of a connection (`alg=` / `helper=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    Ftp,
    Tftp,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Ftp => "ftp",
            Alg::Tftp => "tftp",
        }
    }
    pub fn from_name(s: &str) -> Option<Alg> {
        match s {
            "ftp" => Some(Alg::Ftp),
            "tftp" => Some(Alg::Tftp),
            _ => None,
        }
    }
}

/// Protocol state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoState {
    Tcp(TcpConn),
    Other(OtherState),
    Icmp(IcmpState),
}

/// The mutable part of a connection. Packed to 4-byte alignment: the
/// `u128` label would align it (and so the connection) to 16, the `u64`
/// expiration to 8, padding every connection; packed, it fills the
/// lock's own 4 bytes' alignment and a [`Conn`] takes 168 bytes (a
/// 192-byte allocation with its `Arc` counts). Fields are read and
/// written by value (no references to the `u64`/`u128` ones).
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
pub struct ConnState {
    pub mark: u32,
    pub label: u128,
    pub proto: ProtoState,
    /// Milliseconds (tracker clock) at which the connection expires.
    pub expiration: u64,
    /// Set when the connection is to be removed (replaced by a reopening
    /// SYN, or flushed): lookups then ignore it.
    pub dead: bool,
    /// Bytes an ALG added to (or removed from) the TCP stream of each
    /// direction (original, reply) by rewriting payload under NAT: later
    /// sequence numbers of that direction, and acknowledgements of the
    /// other, are shifted by it.
    pub seq_skew: [i32; 2],
}

/// A tracked connection.
#[derive(Debug)]
pub struct Conn {
    /// Original direction key (also the key of the first packet).
    pub fwd: ConnKey,
    /// Reply direction key, with NAT applied.
    pub rev: ConnKey,
    pub nat: NatAction,
    pub alg: Option<Alg>,
    /// For connections an ALG expected: the original key of the
    /// connection that announced it (which may since have gone). Boxed:
    /// few connections have one, and every connection's size counts.
    pub parent: Option<Box<ConnKey>>,
    /// Timeout policy (zone) used for this connection's timers.
    pub tp_zone: u16,
    state: Mutex<ConnState>,
}

impl Conn {
    pub fn new(
        fwd: ConnKey,
        rev: ConnKey,
        nat: NatAction,
        proto: ProtoState,
        tm: Tm,
        now: u64,
        timeouts: &Timeouts,
    ) -> Conn {
        Conn {
            fwd,
            rev,
            nat,
            alg: None,
            parent: None,
            tp_zone: fwd.zone,
            state: Mutex::new(ConnState {
                mark: 0,
                label: 0,
                proto,
                expiration: now + timeouts.ms(tm),
                dead: false,
                seq_skew: [0; 2],
            }),
        }
    }

    /// Locks the state (a poisoned lock still holds a consistent value:
    /// every update writes plain fields).
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True if the connection is gone at `now`.
    pub fn expired(&self, now: u64) -> bool {
        let s = self.lock();
        s.dead || now >= s.expiration
    }

    /// The original tuple packets of this connection report: its
    /// parent's for a connection an ALG expected (as OVS), else its own.
    pub fn orig_tuple(&self) -> CtTuple {
        self.parent.as_deref().unwrap_or(&self.fwd).ct_tuple()
    }

    /// The key of direction `reply`.
    pub fn key(&self, reply: bool) -> &ConnKey {
        if reply {
            &self.rev
        } else {
            &self.fwd
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-connection memory: a connection's allocation (with its
    /// `Arc` counts) stays within 192 bytes (a table slot, two per
    /// connection, is 16: `table::tests`); `memory_per_connection_at_1m`
    /// measures the whole.
    #[test]
    fn connection_layout_stays_small() {
        assert_eq!(std::mem::size_of::<ConnKey>(), 44);
        assert!(
            std::mem::size_of::<Conn>() + 16 <= 192,
            "{}",
            std::mem::size_of::<Conn>()
        );
    }
}
