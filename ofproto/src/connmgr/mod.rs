//! OpenFlow connections of one switch: framing, version negotiation and
//! the dispatch of each message to the switch.
//!
//! A [`Connection`] holds the bytes not yet framed (`input`), the bytes
//! waiting to be written (`output`) and the per-connection OpenFlow state
//! (negotiated version, later role, async configuration, flow format).
//! [`handle`] processes one whole message.

use ferrovs_openflow::message::{ErrorMsg, FeaturesReply, Hello, Message, SwitchConfig};
use ferrovs_openflow::{ErrorCode, Version};

use crate::ofproto::Ofproto;

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
    pub output: Vec<u8>,
    /// Close once `output` is written.
    pub closing: bool,
    pub config: SwitchConfig,
    pub waker: Waker,
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
            output: hello,
            closing: false,
            config: SwitchConfig {
                flags: 0,
                miss_send_len: 128,
            },
            waker,
        }
    }

    /// The next whole message of the input, if any (removed from it).
    /// A header with a length below 8 closes the connection.
    pub fn next_message(&mut self) -> Option<Vec<u8>> {
        if self.input.len() < 8 {
            return None;
        }
        let len = u16::from_be_bytes([self.input[2], self.input[3]]) as usize;
        if len < 8 {
            self.closing = true;
            self.input.clear();
            return None;
        }
        if self.input.len() < len {
            return None;
        }
        Some(self.input.drain(..len).collect())
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

    /// Queues an OFPT_ERROR for the offending message `raw`.
    pub fn send_error(&mut self, code: ErrorCode, raw: &[u8]) {
        let v = self.version.unwrap_or(Version::Of10);
        let xid = if raw.len() >= 8 {
            u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]])
        } else {
            0
        };
        let err = ErrorMsg {
            error: code.to_wire_or_fallback(v),
            data: raw[..raw.len().min(64)].to_vec(),
        };
        self.send(&Message::Error(err), xid);
    }
}

/// Negotiates the version from the peer's hello (OpenFlow 1.3.1 section
/// 6.3.1: the highest version both bitmaps share, else the lower of the
/// two headers' versions if we offer it).
fn negotiate(offered: &[Version], header_version: u8, hello: &Hello) -> Option<Version> {
    if let Some(bitmap) = &hello.bitmap {
        return offered
            .iter()
            .copied()
            .filter(|v| {
                let b = v.wire() as usize;
                bitmap.get(b / 32).is_some_and(|w| w & (1 << (b % 32)) != 0)
            })
            .max();
    }
    let ours = offered.iter().copied().max()?;
    let v = Version::from_wire(header_version.min(ours.wire()))?;
    offered.contains(&v).then_some(v)
}

/// Processes one whole message `raw` received on `conn`.
pub fn handle(ofproto: &mut Ofproto, conn: &mut Connection, raw: &[u8]) {
    let (header, msg) = match Message::decode(raw) {
        Ok(x) => x,
        Err(e) => {
            if conn.version.is_none() {
                conn.closing = true;
            }
            conn.send_error(e.code, raw);
            return;
        }
    };
    let xid = header.xid;
    if conn.version.is_none() {
        let Message::Hello(h) = &msg else {
            conn.send_hello_failed("expected a hello message first");
            return;
        };
        match negotiate(&conn.offered, header.version, h) {
            Some(v) => conn.version = Some(v),
            None => conn.send_hello_failed("no common OpenFlow version"),
        }
        return;
    }
    match msg {
        Message::Hello(_) => {}
        Message::EchoRequest(data) => conn.send(&Message::EchoReply(data), xid),
        Message::EchoReply(_) => {}
        Message::FeaturesRequest => {
            let v = conn.version.unwrap_or(Version::Of10);
            let reply = FeaturesReply {
                datapath_id: ofproto.config.datapath_id,
                n_buffers: 0,
                n_tables: ofproto.config.n_tables,
                auxiliary_id: 0,
                capabilities: 0,
                actions: 0,
                ports: if v <= Version::Of12 {
                    ofproto.ports.values().cloned().collect()
                } else {
                    Vec::new()
                },
            };
            conn.send(&Message::FeaturesReply(reply), xid);
        }
        Message::GetConfigRequest => {
            let c = conn.config;
            conn.send(&Message::GetConfigReply(c), xid)
        }
        Message::SetConfig(c) => conn.config = c,
        Message::BarrierRequest => conn.send(&Message::BarrierReply, xid),
        _ => conn.send_error(ErrorCode::OfpbrcBadType, raw),
    }
}
