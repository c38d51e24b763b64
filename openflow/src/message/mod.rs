//! OpenFlow messages: the 8-byte header and one `Repr` per message.
//!
//! Every message starts with `ofp_header { version:u8, type:u8,
//! length:u16, xid:u32 }`.  [`Header::parse`] checks the length against
//! the buffer once; the body decoders then work on exactly `length - 8`
//! bytes.

pub mod basic;
pub mod flow_mod;
pub mod group_meter;
pub mod multipart;
pub mod nicira;
pub mod packet;
pub mod table_features;

pub use basic::{
    AsyncConfig, BundleAdd, BundleControl, ErrorMsg, Experimenter, FeaturesReply, Hello, Port,
    PortMod, PortStatus, Role, SwitchConfig, TableMod,
};
pub use flow_mod::{FlowMod, FlowModCommand};
pub use group_meter::{Bucket, GroupMod, MeterBand, MeterMod};
pub use multipart::{MpReply, MpRequest, MultipartReply, MultipartRequest};
pub use nicira::NxMessage;
pub use packet::{FlowRemoved, PacketIn, PacketOut};
pub use table_features::TableFeatures;

use crate::error::{DecodeError, ErrorCode, Result};
use crate::version::Version;
use crate::wire::put_u32;

/// Every OpenFlow message ferrovs speaks, version independent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    Hello(Hello),
    Error(ErrorMsg),
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    /// Experimenter/vendor messages other than Nicira's.
    Experimenter(Experimenter),
    /// Nicira extension messages (vendor 0x2320).
    Nx(NxMessage),
    FeaturesRequest,
    FeaturesReply(FeaturesReply),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod(TableMod),
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    RoleRequest(Role),
    RoleReply(Role),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
    MeterMod(MeterMod),
    BundleControl(BundleControl),
    BundleAdd(BundleAdd),
    /// Anything else of a known version (queue-get-config, table-status,
    /// role-status, requestforward...): type and body, raw.
    Other {
        type_: u8,
        body: Vec<u8>,
    },
}

// Message type numbers (OpenFlow 1.0 / 1.1+ where they differ).
mod t {
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PACKET_IN: u8 = 10;
    pub const FLOW_REMOVED: u8 = 11;
    pub const PORT_STATUS: u8 = 12;
    pub const PACKET_OUT: u8 = 13;
    pub const FLOW_MOD: u8 = 14;
    // 1.0
    pub const OF10_PORT_MOD: u8 = 15;
    pub const OF10_STATS_REQUEST: u8 = 16;
    pub const OF10_STATS_REPLY: u8 = 17;
    pub const OF10_BARRIER_REQUEST: u8 = 18;
    pub const OF10_BARRIER_REPLY: u8 = 19;
    // 1.1+
    pub const GROUP_MOD: u8 = 15;
    pub const PORT_MOD: u8 = 16;
    pub const TABLE_MOD: u8 = 17;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
    pub const GET_ASYNC_REQUEST: u8 = 26;
    pub const GET_ASYNC_REPLY: u8 = 27;
    pub const SET_ASYNC: u8 = 28;
    pub const METER_MOD: u8 = 29;
    pub const BUNDLE_CONTROL: u8 = 33;
    pub const BUNDLE_ADD_MESSAGE: u8 = 34;
}

fn empty(body: &[u8], what: &'static str) -> Result<()> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::new(ErrorCode::OfpbrcBadLen, what))
    }
}

fn bad_type() -> DecodeError {
    DecodeError::new(ErrorCode::OfpbrcBadType, "message type")
}

impl Message {
    /// Decodes one message at the start of `buf` (which may hold more).
    /// Hello is accepted in any version (so that negotiation can happen);
    /// everything else needs 1.0, 1.3, 1.4 or 1.5.
    pub fn decode(buf: &[u8]) -> Result<(Header, Message)> {
        let h = Header::parse(buf)?;
        let body = &buf[HEADER_LEN..h.length as usize];
        if h.type_ == t::HELLO {
            return Ok((h, Message::Hello(Hello::decode(body)?)));
        }
        let v = h.ofp_version()?;
        Ok((h, Message::decode_body(v, h.type_, body)?))
    }

    /// Decodes a body (after the header) of message type `ty` in `v`.
    pub fn decode_body(v: Version, ty: u8, body: &[u8]) -> Result<Message> {
        let v10 = v == Version::Of10;
        Ok(match ty {
            t::HELLO => Message::Hello(Hello::decode(body)?),
            t::ERROR => Message::Error(ErrorMsg::decode(v, body)?),
            t::ECHO_REQUEST => Message::EchoRequest(body.to_vec()),
            t::ECHO_REPLY => Message::EchoReply(body.to_vec()),
            t::EXPERIMENTER => {
                let r = basic::rd(body, "experimenter header");
                let exp = r.u32(0)?;
                if exp == nicira::NX_VENDOR {
                    Message::Nx(NxMessage::decode(v, r.u32(4)?, r.tail(8)?)?)
                } else {
                    Message::Experimenter(Experimenter::decode(body)?)
                }
            }
            t::FEATURES_REQUEST => {
                empty(body, "features request")?;
                Message::FeaturesRequest
            }
            t::FEATURES_REPLY => Message::FeaturesReply(FeaturesReply::decode(v, body)?),
            t::GET_CONFIG_REQUEST => {
                empty(body, "get config request")?;
                Message::GetConfigRequest
            }
            t::GET_CONFIG_REPLY => Message::GetConfigReply(SwitchConfig::decode(body)?),
            t::SET_CONFIG => Message::SetConfig(SwitchConfig::decode(body)?),
            t::PACKET_IN => Message::PacketIn(PacketIn::decode(v, body)?),
            t::FLOW_REMOVED => Message::FlowRemoved(FlowRemoved::decode(v, body)?),
            t::PORT_STATUS => Message::PortStatus(PortStatus::decode(v, body)?),
            t::PACKET_OUT => Message::PacketOut(PacketOut::decode(v, body)?),
            t::FLOW_MOD if v10 => Message::FlowMod(FlowMod::decode_of10(body)?),
            t::FLOW_MOD => Message::FlowMod(FlowMod::decode_of11(v, body)?),
            t::OF10_PORT_MOD if v10 => Message::PortMod(PortMod::decode(v, body)?),
            t::OF10_STATS_REQUEST if v10 => {
                Message::MultipartRequest(MultipartRequest::decode(v, body)?)
            }
            t::OF10_STATS_REPLY if v10 => Message::MultipartReply(MultipartReply::decode(v, body)?),
            t::OF10_BARRIER_REQUEST if v10 => {
                empty(body, "barrier request")?;
                Message::BarrierRequest
            }
            t::OF10_BARRIER_REPLY if v10 => {
                empty(body, "barrier reply")?;
                Message::BarrierReply
            }
            _ if v10 => {
                if ty > 21 {
                    return Err(bad_type());
                }
                Message::Other {
                    type_: ty,
                    body: body.to_vec(),
                }
            }
            t::GROUP_MOD => Message::GroupMod(GroupMod::decode(v, body)?),
            t::PORT_MOD => Message::PortMod(PortMod::decode(v, body)?),
            t::TABLE_MOD => Message::TableMod(TableMod::decode(v, body)?),
            t::MULTIPART_REQUEST => Message::MultipartRequest(MultipartRequest::decode(v, body)?),
            t::MULTIPART_REPLY => Message::MultipartReply(MultipartReply::decode(v, body)?),
            t::BARRIER_REQUEST => {
                empty(body, "barrier request")?;
                Message::BarrierRequest
            }
            t::BARRIER_REPLY => {
                empty(body, "barrier reply")?;
                Message::BarrierReply
            }
            t::ROLE_REQUEST => Message::RoleRequest(Role::decode(body)?),
            t::ROLE_REPLY => Message::RoleReply(Role::decode(body)?),
            t::GET_ASYNC_REQUEST => {
                if v <= Version::Of13 {
                    empty(body, "get async request")?;
                }
                Message::GetAsyncRequest
            }
            t::GET_ASYNC_REPLY => Message::GetAsyncReply(AsyncConfig::decode(v, body)?),
            t::SET_ASYNC => Message::SetAsync(AsyncConfig::decode(v, body)?),
            t::METER_MOD => Message::MeterMod(MeterMod::decode(body)?),
            t::BUNDLE_CONTROL if v >= Version::Of14 => {
                Message::BundleControl(BundleControl::decode(body)?)
            }
            t::BUNDLE_ADD_MESSAGE if v >= Version::Of14 => {
                Message::BundleAdd(BundleAdd::decode(body)?)
            }
            22 | 23 | 30..=32 | 35 if ty <= 23 || v >= Version::Of14 => Message::Other {
                type_: ty,
                body: body.to_vec(),
            },
            _ => return Err(bad_type()),
        })
    }

    /// The header type byte this message has in `v`.
    pub fn type_in(&self, v: Version) -> u8 {
        let v10 = v == Version::Of10;
        match self {
            Message::Hello(_) => t::HELLO,
            Message::Error(_) => t::ERROR,
            Message::EchoRequest(_) => t::ECHO_REQUEST,
            Message::EchoReply(_) => t::ECHO_REPLY,
            Message::Experimenter(_) | Message::Nx(_) => t::EXPERIMENTER,
            Message::FeaturesRequest => t::FEATURES_REQUEST,
            Message::FeaturesReply(_) => t::FEATURES_REPLY,
            Message::GetConfigRequest => t::GET_CONFIG_REQUEST,
            Message::GetConfigReply(_) => t::GET_CONFIG_REPLY,
            Message::SetConfig(_) => t::SET_CONFIG,
            Message::PacketIn(_) => t::PACKET_IN,
            Message::FlowRemoved(_) => t::FLOW_REMOVED,
            Message::PortStatus(_) => t::PORT_STATUS,
            Message::PacketOut(_) => t::PACKET_OUT,
            Message::FlowMod(_) => t::FLOW_MOD,
            Message::PortMod(_) if v10 => t::OF10_PORT_MOD,
            Message::MultipartRequest(_) if v10 => t::OF10_STATS_REQUEST,
            Message::MultipartReply(_) if v10 => t::OF10_STATS_REPLY,
            Message::BarrierRequest if v10 => t::OF10_BARRIER_REQUEST,
            Message::BarrierReply if v10 => t::OF10_BARRIER_REPLY,
            Message::GroupMod(_) => t::GROUP_MOD,
            Message::PortMod(_) => t::PORT_MOD,
            Message::TableMod(_) => t::TABLE_MOD,
            Message::MultipartRequest(_) => t::MULTIPART_REQUEST,
            Message::MultipartReply(_) => t::MULTIPART_REPLY,
            Message::BarrierRequest => t::BARRIER_REQUEST,
            Message::BarrierReply => t::BARRIER_REPLY,
            Message::RoleRequest(_) => t::ROLE_REQUEST,
            Message::RoleReply(_) => t::ROLE_REPLY,
            Message::GetAsyncRequest => t::GET_ASYNC_REQUEST,
            Message::GetAsyncReply(_) => t::GET_ASYNC_REPLY,
            Message::SetAsync(_) => t::SET_ASYNC,
            Message::MeterMod(_) => t::METER_MOD,
            Message::BundleControl(_) => t::BUNDLE_CONTROL,
            Message::BundleAdd(_) => t::BUNDLE_ADD_MESSAGE,
            Message::Other { type_, .. } => *type_,
        }
    }

    /// Appends the whole message (header included) in version `v` with `xid`.
    pub fn encode_into(&self, v: Version, xid: u32, out: &mut Vec<u8>) {
        let s = Header::emit_start(v, self.type_in(v), xid, out);
        match self {
            Message::Hello(h) => h.encode(out),
            Message::Error(e) => e.encode(v, out),
            Message::EchoRequest(d) | Message::EchoReply(d) => out.extend_from_slice(d),
            Message::Experimenter(e) => e.encode(out),
            Message::Nx(nx) => {
                put_u32(out, nicira::NX_VENDOR);
                put_u32(out, nx.subtype());
                nx.encode(v, out);
            }
            Message::FeaturesRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply
            | Message::GetAsyncRequest => {}
            Message::FeaturesReply(f) => f.encode(v, out),
            Message::GetConfigReply(c) | Message::SetConfig(c) => c.encode(out),
            Message::PacketIn(p) => p.encode(v, out),
            Message::FlowRemoved(f) => f.encode(v, out),
            Message::PortStatus(p) => p.encode(v, out),
            Message::PacketOut(p) => p.encode(v, out),
            Message::FlowMod(fm) => {
                if v == Version::Of10 {
                    fm.encode_of10(out)
                } else {
                    fm.encode_of11(v, out)
                }
            }
            Message::GroupMod(g) => g.encode(v, out),
            Message::PortMod(p) => p.encode(v, out),
            Message::TableMod(t) => t.encode(v, out),
            Message::MultipartRequest(m) => m.encode(v, out),
            Message::MultipartReply(m) => m.encode(v, out),
            Message::RoleRequest(r) | Message::RoleReply(r) => r.encode(out),
            Message::GetAsyncReply(a) | Message::SetAsync(a) => a.encode(v, out),
            Message::MeterMod(m) => m.encode(out),
            Message::BundleControl(b) => b.encode(out),
            Message::BundleAdd(b) => b.encode(out),
            Message::Other { body, .. } => out.extend_from_slice(body),
        }
        finish_message(out, s);
    }

    /// The whole message as a new buffer.
    pub fn encode(&self, v: Version, xid: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(v, xid, &mut out);
        out
    }
}

/// Bytes in `ofp_header`.
pub const HEADER_LEN: usize = 8;

/// The common message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Raw version byte (hello may carry versions we do not speak).
    pub version: u8,
    pub type_: u8,
    pub length: u16,
    pub xid: u32,
}

impl Header {
    /// Reads the header at the start of `buf`, checking that `buf` holds
    /// at least `length` bytes and that `length >= 8`.
    pub fn parse(buf: &[u8]) -> Result<Header> {
        if buf.len() < HEADER_LEN {
            return Err(DecodeError::new(ErrorCode::OfpbrcBadLen, "ofp_header"));
        }
        let h = Header {
            version: buf[0],
            type_: buf[1],
            length: u16::from_be_bytes([buf[2], buf[3]]),
            xid: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        };
        if (h.length as usize) < HEADER_LEN || h.length as usize > buf.len() {
            return Err(DecodeError::new(
                ErrorCode::OfpbrcBadLen,
                "ofp_header length",
            ));
        }
        Ok(h)
    }

    /// The negotiated version, if we speak it.
    pub fn ofp_version(&self) -> Result<Version> {
        match Version::from_wire(self.version) {
            Some(v) if Version::SUPPORTED.contains(&v) => Ok(v),
            _ => Err(DecodeError::new(ErrorCode::OfpbrcBadVersion, "version")),
        }
    }

    /// Appends a header with length 0 (patch with [`finish_message`]).
    pub fn emit_start(version: Version, type_: u8, xid: u32, out: &mut Vec<u8>) -> usize {
        let s = out.len();
        out.extend_from_slice(&[version.wire(), type_, 0, 0]);
        out.extend_from_slice(&xid.to_be_bytes());
        s
    }
}

/// Writes the total length of the message begun at `start`.
pub fn finish_message(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u16;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Fuzzing entry point (used by `openflow/fuzz`): decodes `data` as a
/// message of wire version `version` (forcing the header's version and
/// length so that inputs reach the body decoders), re-encodes whatever
/// decoded and decodes that again; also feeds the raw bytes to the action,
/// instruction and match decoders.  Must never panic.
#[doc(hidden)]
pub fn fuzz_one(version: u8, data: &[u8]) {
    let Some(v) = Version::from_wire(version) else {
        return;
    };
    let _ = crate::action::decode_actions(v, data);
    let _ = crate::instruction::Instruction::decode_list(v, data);
    let _ = crate::r#match::Match::decode_tlvs(data);
    let _ = crate::r#match::Match::decode_ofp12(data);
    let _ = crate::r#match::Match::decode_ofp10(data);
    if data.len() < HEADER_LEN || data.len() > 0xffff {
        let _ = Message::decode(data);
        return;
    }
    let mut buf = data.to_vec();
    buf[0] = version;
    let n = buf.len() as u16;
    buf[2..4].copy_from_slice(&n.to_be_bytes());
    for v in crate::view::MessageSplitter::new(data).flatten() {
        if let Ok(f) = crate::view::FlowModView::new_checked(v.body()) {
            let _ = f.oxm_fields().count();
            let _ = crate::view::ActionIter::new(f.instructions()).count();
        }
    }
    if let Ok((h, m)) = Message::decode(&buf) {
        let again = m.encode(v, h.xid);
        if let Ok((_, m2)) = Message::decode(&again) {
            let _ = m2.encode(v, h.xid);
        }
        if let Message::BundleAdd(b) = &m {
            let _ = Message::decode(&b.message);
        }
    }
}
