//! OpenFlow connections of one switch: framing, version negotiation and
//! the dispatch of each message to the switch.
//!
//! A [`Connection`] holds the bytes not yet framed (`input`), the bytes
//! waiting to be written (`output`) and the per-connection OpenFlow state
//! (negotiated version, later role, async configuration, flow format).
//! [`handle`] processes one whole message; the handlers live beside the
//! state they touch (flow-mods in `flow_mod`, stats in `stats`, roles in
//! [`role`], asynchronous message selection in [`async_config`], flow
//! monitors in [`monitor`]).
//!
//! Back-pressure: a connection whose queued output passes [`OUTPUT_LIMIT`]
//! is not read further (its whole messages wait in `input`), and
//! asynchronous messages to it are dropped (counted) past
//! [`ASYNC_DROP_LIMIT`], so a controller that does not read cannot make
//! the switch buffer without bound.

pub mod async_config;
pub(crate) mod dispatch;
pub mod monitor;
pub mod pinsched;
pub mod role;

pub use dispatch::handle;

use ferrovs_openflow::message::{ErrorMsg, Hello, Message, SwitchConfig};
use std::time::Instant;

use ferrovs_openflow::{ErrorCode, Version};

use crate::bundle::Bundle;
use async_config::AsyncMasks;
use monitor::Monitor;
use pinsched::{PinSched, PinStats};

/// Queued output past which a connection is not read (and its pending
/// input is not processed) until it drains.
pub const OUTPUT_LIMIT: usize = 1 << 20;
/// Queued output past which asynchronous messages (port-status,
/// flow-removed, monitor updates) to the connection are dropped.
pub const ASYNC_DROP_LIMIT: usize = 4 << 20;
/// Unprocessed input past which the socket should not be read.
pub const INPUT_LIMIT: usize = 1 << 20;

/// NXFF_* flow formats (OF1.0 connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowFormat {
    OpenFlow10,
    Nxm,
}

/// A connection's id, unique within its switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Who is on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    /// A configured controller (`Controller` row): gets asynchronous
    /// messages by default.
    Controller,
    /// A service connection (management socket, `punix:`/`ptcp:`
    /// listener): `ovs-ofctl` and friends.
    Service,
}

/// Called when output was queued for a connection by something other
/// than its own input (port status, flow removed, packet-in).
pub type Waker = Box<dyn Fn() + Send + Sync>;

pub struct Connection {
    pub id: ConnId,
    pub kind: ConnKind,
    /// Negotiated version (None until the peer's hello arrived).
    pub version: Option<Version>,
    /// Versions this switch offers on this connection.
    pub offered: Vec<Version>,
    pub input: Vec<u8>,
    /// Start of the unprocessed part of `input`.
    pub input_pos: usize,
    pub output: Vec<u8>,
    /// Close once `output` is written.
    pub closing: bool,
    pub config: SwitchConfig,
    pub waker: Waker,
    /// OF1.0: NXT_SET_FLOW_FORMAT.
    pub flow_format: FlowFormat,
    /// NXT_SET_PACKET_IN_FORMAT (0 standard, 1 NXT_PACKET_IN, 2 packet-in2).
    pub packet_in_format: u32,
    /// NXT_FLOW_MOD_TABLE_ID enabled.
    pub flow_mod_table_id: bool,
    /// OFPCR_ROLE_EQUAL 1, MASTER 2, SLAVE 3.
    pub role: u32,
    /// Set by set-async; None: the version's default.
    pub async_masks: Option<AsyncMasks>,
    /// NXT_SET_CONTROLLER_ID.
    pub controller_id: u16,
    pub monitors: Vec<Monitor>,
    /// Monitors came by ONF's OpenFlow 1.3 extension (updates go back in
    /// its form).
    pub monitor_onf: bool,
    /// Monitor updates not yet sent.
    pub pending_updates: Vec<ferrovs_openflow::message::nicira::FlowUpdate>,
    /// Open bundles by id.
    pub bundles: std::collections::BTreeMap<u32, Bundle>,
    /// Asynchronous messages dropped under back-pressure.
    pub dropped_async: u64,
    /// Packet-in rate limiting (`controller_rate_limit`): schedulers for
    /// [0] other reasons ("action"), [1] table misses ("miss").
    pub pinsched: [Option<PinSched>; 2],
}

impl Connection {
    pub fn new(id: ConnId, kind: ConnKind, offered: &[Version], waker: Waker) -> Connection {
        let top = offered.iter().copied().max().unwrap_or(Version::Of10);
        let hello = Message::Hello(Hello::offering(offered)).encode(top, 0);
        Connection {
            id,
            kind,
            version: None,
            offered: offered.to_vec(),
            input: Vec::new(),
            input_pos: 0,
            output: hello,
            closing: false,
            config: SwitchConfig {
                flags: 0,
                // OVS: controllers 128, service connections 0 (so they get
                // no asynchronous messages until they ask).
                miss_send_len: if kind == ConnKind::Controller { 128 } else { 0 },
            },
            waker,
            flow_format: FlowFormat::OpenFlow10,
            packet_in_format: 0,
            flow_mod_table_id: false,
            role: role::ROLE_EQUAL,
            async_masks: None,
            controller_id: 0,
            monitors: Vec::new(),
            pending_updates: Vec::new(),
            monitor_onf: false,
            bundles: Default::default(),
            dropped_async: 0,
            pinsched: [None, None],
        }
    }

    /// The negotiated version (1.0 before negotiation).
    pub fn ver(&self) -> Version {
        self.version.unwrap_or(Version::Of10)
    }

    /// True once queued output passed [`OUTPUT_LIMIT`].
    pub fn output_full(&self) -> bool {
        self.output.len() >= OUTPUT_LIMIT
    }

    /// True while the socket should be read.
    pub fn wants_input(&self) -> bool {
        !self.closing && !self.output_full() && self.pending_input() < INPUT_LIMIT
    }

    /// Queues an asynchronous message (not a reply): dropped past
    /// [`ASYNC_DROP_LIMIT`]; the waker is told.
    pub fn send_async(&mut self, msg: &Message) {
        if self.version.is_none() || self.closing {
            return;
        }
        if self.output.len() >= ASYNC_DROP_LIMIT {
            self.dropped_async += 1;
            return;
        }
        self.send(msg, 0);
        (self.waker)();
    }

    /// Queues an asynchronous message already encoded (a kind the codec
    /// does not model, such as OFPT_TABLE_STATUS), as [`send_async`].
    ///
    /// [`send_async`]: Connection::send_async
    pub fn send_async_raw(&mut self, msg: &[u8]) {
        if self.version.is_none() || self.closing {
            return;
        }
        if self.output.len() >= ASYNC_DROP_LIMIT {
            self.dropped_async += 1;
            return;
        }
        self.output.extend_from_slice(msg);
        (self.waker)();
    }

    /// Sets the packet-in rate limit (packets a second; 0: none) and
    /// burst (0: a quarter of the rate), as OVS's
    /// `ofconn_set_rate_limit`.
    pub fn set_rate_limit(&mut self, rate: u32, burst: u32) {
        for s in &mut self.pinsched {
            match s {
                _ if rate == 0 => *s = None,
                Some(s) => s.set_limits(rate, burst),
                None => *s = Some(PinSched::new(rate, burst)),
            }
        }
    }

    /// The schedulers' counters ([action, miss]), if rate limited.
    pub fn pin_stats(&self) -> Option<[PinStats; 2]> {
        match &self.pinsched {
            [Some(a), Some(m)] => Some([a.stats(), m.stats()]),
            _ => None,
        }
    }

    /// Queues packet-in `msg` (input port `port`; `miss`: a table miss)
    /// through the rate limit, if any.
    pub fn send_packet_in(&mut self, miss: bool, port: u16, msg: &Message, now: Instant) {
        if self.version.is_none() || self.closing {
            return;
        }
        let v = self.ver();
        let Some(s) = &mut self.pinsched[usize::from(miss)] else {
            self.send_async(msg);
            return;
        };
        let mut bytes = Vec::new();
        msg.encode_into(v, 0, &mut bytes);
        match s.send(port, bytes, now) {
            Some(b) => self.send_async_raw(&b),
            // Queued: the connection's loop learns the new due time.
            None => (self.waker)(),
        }
    }

    /// Sends the rate-limited packet-ins whose turn came; returns when
    /// the next one is due (None: none waiting).
    pub fn run_pinsched(&mut self, now: Instant) -> Option<Instant> {
        let mut out = Vec::new();
        let mut due: Option<Instant> = None;
        for s in self.pinsched.iter_mut().flatten() {
            s.run(now, &mut out);
            if let Some(t) = s.next_due(now) {
                due = Some(due.map_or(t, |d| d.min(t)));
            }
        }
        for m in out {
            self.send_async_raw(&m);
        }
        due
    }

    /// The next whole message of the input, if any (removed from it).
    /// A header with a length below 8 closes the connection.
    pub fn next_message(&mut self) -> Option<Vec<u8>> {
        let rest = &self.input[self.input_pos..];
        let len = if rest.len() >= 8 {
            u16::from_be_bytes([rest[2], rest[3]]) as usize
        } else {
            usize::MAX
        };
        if len < 8 {
            self.closing = true;
            self.input.clear();
            self.input_pos = 0;
            return None;
        }
        if rest.len() < len {
            // Keep only the partial message (one move per read, not one
            // per message).
            self.input.drain(..self.input_pos);
            self.input_pos = 0;
            return None;
        }
        let msg = rest[..len].to_vec();
        self.input_pos += len;
        if self.input_pos == self.input.len() {
            self.input.clear();
            self.input_pos = 0;
        }
        Some(msg)
    }

    /// Unprocessed input bytes.
    pub fn pending_input(&self) -> usize {
        self.input.len() - self.input_pos
    }

    /// Queues `msg` in the negotiated version.
    pub fn send(&mut self, msg: &Message, xid: u32) {
        let v = self.version.unwrap_or(Version::Of10);
        msg.encode_into(v, xid, &mut self.output);
    }

    /// Queues OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE (type 0, code 0, which
    /// OVS's error table does not name) with a readable reason, and closes.
    pub fn send_hello_failed(&mut self, reason: &str) {
        let err = ErrorMsg {
            error: ferrovs_openflow::OfpError {
                type_: 0,
                code: 0,
                experimenter: 0,
            },
            data: reason.as_bytes().to_vec(),
        };
        self.send(&Message::Error(err), 0);
        self.closing = true;
    }

    /// Queues an OFPT_ERROR for the offending message `raw`, which it
    /// carries whole (as OVS does) as far as it fits in one message.
    pub fn send_error(&mut self, code: ErrorCode, raw: &[u8]) {
        let v = self.version.unwrap_or(Version::Of10);
        let xid = if raw.len() >= 8 {
            u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]])
        } else {
            0
        };
        let err = ErrorMsg {
            error: code.to_wire_or_fallback(v),
            data: raw[..raw.len().min(0xffff - 12)].to_vec(),
        };
        self.send(&Message::Error(err), xid);
    }
}

/// Packet-in rate limits, by connection id (the I/O side applies a
/// controller's settings and runs the schedulers when they are due).
impl crate::ofproto::Ofproto {
    /// See [`Connection::set_rate_limit`].
    pub fn set_conn_rate_limit(&mut self, id: ConnId, rate: u32, burst: u32) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.set_rate_limit(rate, burst);
        }
    }

    /// See [`Connection::pin_stats`].
    pub fn conn_pin_stats(&self, id: ConnId) -> Option<[PinStats; 2]> {
        self.conns.get(&id).and_then(Connection::pin_stats)
    }

    /// See [`Connection::run_pinsched`].
    pub fn run_conn_pinsched(&mut self, id: ConnId, now: Instant) -> Option<Instant> {
        self.conns.get_mut(&id).and_then(|c| c.run_pinsched(now))
    }
}
