//! Nicira extension messages (OFPT_VENDOR/EXPERIMENTER, vendor 0x00002320).
//!
//! After `ofp_header` come `vendor(4) subtype(4)` and a subtype body; the
//! `decode` here gets the body after those 8 bytes.  Covered: set flow
//! format, set packet-in format, flow-mod table id, NX flow-mod, flow
//! removed, packet-in and packet-in2 (with continuation), resume, role,
//! async config, controller id, flow age, flow monitor cancel/paused/
//! resumed (and the NXST_FLOW_MONITOR bodies), TLV table mod/request/reply
//! and ct flush zone.  Others are kept raw.

use super::basic::rd;
use super::flow_mod::FlowMod;
use crate::action::{decode_actions, encode_actions, Action};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::port::{self, PortNo};
use crate::r#match::Match;
use crate::version::Version;
use crate::wire::{put_u16, put_u32, put_u64, put_zeros};

/// Nicira vendor id.
pub const NX_VENDOR: u32 = 0x0000_2320;

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

/// NXT_FLOW_REMOVED.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NxFlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: u8,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
}

/// NXT_PACKET_IN (the old NXM packet-in).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NxPacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub r#match: Match,
    pub data: Vec<u8>,
}

/// NXT_PACKET_IN2 / NXT_RESUME: a property list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PacketIn2 {
    pub packet: Vec<u8>,
    pub full_len: Option<u32>,
    pub buffer_id: Option<u32>,
    pub table_id: Option<u8>,
    pub cookie: Option<u64>,
    pub reason: Option<u8>,
    /// NXPINT_METADATA: pipeline fields as NXM/OXM TLVs.
    pub metadata: Option<Match>,
    pub userdata: Option<Vec<u8>>,
    /// NXPINT_CONTINUATION: switch-private state to resume with, kept
    /// opaque (the nested NXCPT_* properties) and echoed back in NXT_RESUME.
    pub continuation: Option<Vec<u8>>,
    /// Unknown properties (type, value).
    pub other: Vec<(u16, Vec<u8>)>,
}

/// One NXT_TLV_TABLE_* mapping: Geneve option (class, type, len) <-> tun_metadata<index>.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlvMap {
    pub option_class: u16,
    pub option_type: u8,
    pub option_len: u8,
    pub index: u16,
}

/// NXST_FLOW_MONITOR request entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowMonitorRequest {
    pub id: u32,
    /// NXFMF_INITIAL 1, ADD 2, DELETE 4, MODIFY 8, ACTIONS 16, OWN 32.
    pub flags: u16,
    pub out_port: PortNo,
    pub table_id: u8,
    pub r#match: Match,
}

/// NXST_FLOW_MONITOR reply entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlowUpdate {
    /// NXFME_ADDED 0, DELETED 1, MODIFIED 2.
    Full {
        event: u16,
        reason: u16,
        priority: u16,
        idle_timeout: u16,
        hard_timeout: u16,
        table_id: u8,
        cookie: u64,
        r#match: Match,
        actions: Vec<Action>,
    },
    /// NXFME_ABBREV: the xid of the controller's own change.
    Abbrev { xid: u32 },
}

/// A Nicira message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NxMessage {
    /// NXT_ROLE_REQUEST (10): NX_ROLE_OTHER 0, MASTER 1, SLAVE 2.
    RoleRequest(u32),
    /// NXT_ROLE_REPLY (11).
    RoleReply(u32),
    /// NXT_SET_FLOW_FORMAT (12): NXFF_OPENFLOW10 0, NXFF_NXM 2.
    SetFlowFormat(u32),
    /// NXT_FLOW_MOD (13).
    FlowMod(FlowMod),
    /// NXT_FLOW_REMOVED (14).
    FlowRemoved(NxFlowRemoved),
    /// NXT_FLOW_MOD_TABLE_ID (15).
    FlowModTableId(bool),
    /// NXT_SET_PACKET_IN_FORMAT (16): 0 OpenFlow10, 1 NXT_PACKET_IN, 2 packet-in2.
    SetPacketInFormat(u32),
    /// NXT_PACKET_IN (17).
    PacketIn(NxPacketIn),
    /// NXT_FLOW_AGE (18).
    FlowAge,
    /// NXT_SET_ASYNC_CONFIG (19).
    SetAsyncConfig {
        packet_in: [u32; 2],
        port_status: [u32; 2],
        flow_removed: [u32; 2],
    },
    /// NXT_SET_CONTROLLER_ID (20).
    SetControllerId(u16),
    /// NXT_FLOW_MONITOR_CANCEL (21).
    FlowMonitorCancel(u32),
    /// NXT_FLOW_MONITOR_PAUSED (22).
    FlowMonitorPaused,
    /// NXT_FLOW_MONITOR_RESUMED (23).
    FlowMonitorResumed,
    /// NXT_TLV_TABLE_MOD (24): command NXTTMC_ADD 0, DELETE 1, CLEAR 2.
    TlvTableMod { command: u16, mappings: Vec<TlvMap> },
    /// NXT_TLV_TABLE_REQUEST (25).
    TlvTableRequest,
    /// NXT_TLV_TABLE_REPLY (26).
    TlvTableReply {
        max_option_space: u32,
        max_fields: u16,
        mappings: Vec<TlvMap>,
    },
    /// NXT_SET_ASYNC_CONFIG2 (27): OpenFlow 1.4-style properties.
    SetAsyncConfig2(Vec<(u16, u32)>),
    /// NXT_RESUME (28).
    Resume(PacketIn2),
    /// NXT_CT_FLUSH_ZONE (29).
    CtFlushZone(u16),
    /// NXT_PACKET_IN2 (30).
    PacketIn2(PacketIn2),
    /// Any other subtype, raw.
    Other { subtype: u32, body: Vec<u8> },
}

fn exact(b: &[u8], n: usize, what: &'static str) -> Result<()> {
    if b.len() != n {
        Err(bad(ErrorCode::OfpbrcBadLen, what))
    } else {
        Ok(())
    }
}

fn decode_maps(b: &[u8]) -> Result<Vec<TlvMap>> {
    if !b.len().is_multiple_of(8) {
        return Err(bad(ErrorCode::OfpbrcBadLen, "nx_tlv_map"));
    }
    Ok(b.chunks_exact(8)
        .map(|c| TlvMap {
            option_class: u16::from_be_bytes([c[0], c[1]]),
            option_type: c[2],
            option_len: c[3],
            index: u16::from_be_bytes([c[4], c[5]]),
        })
        .collect())
}

fn encode_maps(m: &[TlvMap], out: &mut Vec<u8>) {
    for x in m {
        put_u16(out, x.option_class);
        out.push(x.option_type);
        out.push(x.option_len);
        put_u16(out, x.index);
        put_zeros(out, 2);
    }
}

impl PacketIn2 {
    fn decode(b: &[u8]) -> Result<PacketIn2> {
        let mut p = PacketIn2::default();
        let mut o = 0;
        let r = rd(b, "packet-in2 property");
        while o + 4 <= b.len() {
            let ty = r.u16(o)?;
            let len = r.u16(o + 2)? as usize;
            if len < 4 || o + len > b.len() {
                return Err(bad(ErrorCode::OfpbrcBadLen, "packet-in2 property length"));
            }
            let v = rd(r.slice(o + 4, o + len)?, "packet-in2 property value");
            match ty {
                0 => p.packet = v.buf.to_vec(),
                1 => p.full_len = Some(v.u32(0)?),
                2 => p.buffer_id = Some(v.u32(0)?),
                3 => p.table_id = Some(v.u8(0)?),
                4 => p.cookie = Some(v.u64(4).or_else(|_| v.u64(0))?),
                5 => p.reason = Some(v.u8(0)?),
                6 => p.metadata = Some(Match::decode_tlvs(v.buf)?),
                7 => p.userdata = Some(v.buf.to_vec()),
                // Nested properties start 8-aligned: 4 bytes of padding first.
                8 => p.continuation = Some(v.tail(4)?.to_vec()),
                _ => p.other.push((ty, v.buf.to_vec())),
            }
            o += len.div_ceil(8) * 8;
        }
        Ok(p)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let prop = |out: &mut Vec<u8>, ty: u16, v: &[u8]| {
            let s = out.len();
            put_u16(out, ty);
            put_u16(out, (4 + v.len()) as u16);
            out.extend_from_slice(v);
            crate::r#match::pad8(out, s);
        };
        prop(out, 0, &self.packet);
        if let Some(v) = self.full_len {
            prop(out, 1, &v.to_be_bytes());
        }
        if let Some(v) = self.buffer_id {
            prop(out, 2, &v.to_be_bytes());
        }
        if let Some(v) = self.table_id {
            prop(out, 3, &[v]);
        }
        if let Some(v) = self.cookie {
            // ofpprop_put_be64: 4 bytes of padding before the value.
            let mut b = vec![0; 4];
            b.extend_from_slice(&v.to_be_bytes());
            prop(out, 4, &b);
        }
        if let Some(v) = self.reason {
            prop(out, 5, &[v]);
        }
        if let Some(m) = &self.metadata {
            let mut b = Vec::new();
            m.encode_tlvs(None, &mut b);
            prop(out, 6, &b);
        }
        if let Some(u) = &self.userdata {
            prop(out, 7, u);
        }
        if let Some(c) = &self.continuation {
            let mut b = vec![0; 4];
            b.extend_from_slice(c);
            prop(out, 8, &b);
        }
        for (ty, v) in &self.other {
            prop(out, *ty, v);
        }
    }
}

impl FlowMonitorRequest {
    pub(crate) fn decode_list(mut b: &[u8]) -> Result<Vec<FlowMonitorRequest>> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let r = rd(b, "nx_flow_monitor_request");
            r.need(16)?;
            let mlen = r.u16(8)? as usize;
            let total = 16 + mlen.div_ceil(8) * 8;
            r.need(total)?;
            v.push(FlowMonitorRequest {
                id: r.u32(0)?,
                flags: r.u16(4)?,
                out_port: r.u16(6)?,
                table_id: r.u8(10)?,
                r#match: Match::decode_tlvs(r.slice(16, 16 + mlen)?)?,
            });
            b = &b[total..];
        }
        Ok(v)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let s = out.len();
        put_u32(out, self.id);
        put_u16(out, self.flags);
        put_u16(out, self.out_port);
        put_u16(out, 0);
        out.push(self.table_id);
        put_zeros(out, 5);
        let n = self.r#match.encode_nxm_padded(out);
        out[s + 8..s + 10].copy_from_slice(&(n as u16).to_be_bytes());
    }
}

impl FlowUpdate {
    pub(crate) fn decode_list(mut b: &[u8]) -> Result<Vec<FlowUpdate>> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let r = rd(b, "nx_flow_update");
            let len = r.u16(0)? as usize;
            if len < 8 || len > b.len() {
                return Err(bad(ErrorCode::OfpbrcBadLen, "nx_flow_update length"));
            }
            let e = rd(&b[..len], "nx_flow_update");
            let event = e.u16(2)?;
            if event == 3 {
                v.push(FlowUpdate::Abbrev { xid: e.u32(4)? });
            } else {
                e.need(24)?;
                let mlen = e.u16(12)? as usize;
                let m = Match::decode_tlvs(e.slice(24, 24 + mlen)?)?;
                let acts = e.tail(24 + mlen.div_ceil(8) * 8)?;
                v.push(FlowUpdate::Full {
                    event,
                    reason: e.u16(4)?,
                    priority: e.u16(6)?,
                    idle_timeout: e.u16(8)?,
                    hard_timeout: e.u16(10)?,
                    table_id: e.u8(14)?,
                    cookie: e.u64(16)?,
                    r#match: m,
                    actions: decode_actions(Version::Of10, acts)?,
                });
            }
            b = &b[len..];
        }
        Ok(v)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let s = out.len();
        match self {
            FlowUpdate::Abbrev { xid } => {
                put_u16(out, 8);
                put_u16(out, 3);
                put_u32(out, *xid);
            }
            FlowUpdate::Full {
                event,
                reason,
                priority,
                idle_timeout,
                hard_timeout,
                table_id,
                cookie,
                r#match,
                actions,
            } => {
                put_u16(out, 0);
                put_u16(out, *event);
                put_u16(out, *reason);
                put_u16(out, *priority);
                put_u16(out, *idle_timeout);
                put_u16(out, *hard_timeout);
                put_u16(out, 0);
                out.push(*table_id);
                out.push(0);
                put_u64(out, *cookie);
                let n = r#match.encode_nxm_padded(out);
                out[s + 12..s + 14].copy_from_slice(&(n as u16).to_be_bytes());
                encode_actions(Version::Of10, actions, out);
                let len = (out.len() - s) as u16;
                out[s..s + 2].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
}

impl NxMessage {
    /// The NXT_* subtype.
    pub fn subtype(&self) -> u32 {
        match self {
            NxMessage::RoleRequest(_) => 10,
            NxMessage::RoleReply(_) => 11,
            NxMessage::SetFlowFormat(_) => 12,
            NxMessage::FlowMod(_) => 13,
            NxMessage::FlowRemoved(_) => 14,
            NxMessage::FlowModTableId(_) => 15,
            NxMessage::SetPacketInFormat(_) => 16,
            NxMessage::PacketIn(_) => 17,
            NxMessage::FlowAge => 18,
            NxMessage::SetAsyncConfig { .. } => 19,
            NxMessage::SetControllerId(_) => 20,
            NxMessage::FlowMonitorCancel(_) => 21,
            NxMessage::FlowMonitorPaused => 22,
            NxMessage::FlowMonitorResumed => 23,
            NxMessage::TlvTableMod { .. } => 24,
            NxMessage::TlvTableRequest => 25,
            NxMessage::TlvTableReply { .. } => 26,
            NxMessage::SetAsyncConfig2(_) => 27,
            NxMessage::Resume(_) => 28,
            NxMessage::CtFlushZone(_) => 29,
            NxMessage::PacketIn2(_) => 30,
            NxMessage::Other { subtype, .. } => *subtype,
        }
    }

    /// Decodes the body after `vendor, subtype`.
    pub fn decode(version: Version, subtype: u32, b: &[u8]) -> Result<NxMessage> {
        let r = rd(b, "nicira message");
        Ok(match subtype {
            10 | 11 => {
                exact(b, 4, "nx_role_request")?;
                let role = r.u32(0)?;
                if subtype == 10 {
                    NxMessage::RoleRequest(role)
                } else {
                    NxMessage::RoleReply(role)
                }
            }
            12 => {
                exact(b, 4, "nx_set_flow_format")?;
                NxMessage::SetFlowFormat(r.u32(0)?)
            }
            13 => NxMessage::FlowMod(FlowMod::decode_nx(version, b)?),
            14 => {
                r.need(40)?;
                let mlen = r.u16(22)? as usize;
                NxMessage::FlowRemoved(NxFlowRemoved {
                    cookie: r.u64(0)?,
                    priority: r.u16(8)?,
                    reason: r.u8(10)?,
                    table_id: r.u8(11)?,
                    duration_sec: r.u32(12)?,
                    duration_nsec: r.u32(16)?,
                    idle_timeout: r.u16(20)?,
                    packet_count: r.u64(24)?,
                    byte_count: r.u64(32)?,
                    r#match: Match::decode_tlvs(r.slice(40, 40 + mlen)?)?,
                })
            }
            15 => {
                exact(b, 8, "nx_flow_mod_table_id")?;
                NxMessage::FlowModTableId(r.u8(0)? != 0)
            }
            16 => {
                exact(b, 4, "nx_set_packet_in_format")?;
                NxMessage::SetPacketInFormat(r.u32(0)?)
            }
            17 => {
                r.need(24)?;
                let mlen = r.u16(16)? as usize;
                let m = Match::decode_tlvs(r.slice(24, 24 + mlen)?)?;
                let data_at = 24 + mlen.div_ceil(8) * 8 + 2;
                NxMessage::PacketIn(NxPacketIn {
                    buffer_id: r.u32(0)?,
                    total_len: r.u16(4)?,
                    reason: r.u8(6)?,
                    table_id: r.u8(7)?,
                    cookie: r.u64(8)?,
                    r#match: m,
                    data: r.tail(data_at)?.to_vec(),
                })
            }
            18 => {
                exact(b, 0, "nxt_flow_age")?;
                NxMessage::FlowAge
            }
            19 => {
                exact(b, 24, "nx_async_config")?;
                NxMessage::SetAsyncConfig {
                    packet_in: [r.u32(0)?, r.u32(4)?],
                    port_status: [r.u32(8)?, r.u32(12)?],
                    flow_removed: [r.u32(16)?, r.u32(20)?],
                }
            }
            20 => {
                exact(b, 8, "nx_controller_id")?;
                NxMessage::SetControllerId(r.u16(6)?)
            }
            21 => {
                exact(b, 4, "nx_flow_monitor_cancel")?;
                NxMessage::FlowMonitorCancel(r.u32(0)?)
            }
            22 => {
                exact(b, 0, "flow monitor paused")?;
                NxMessage::FlowMonitorPaused
            }
            23 => {
                exact(b, 0, "flow monitor resumed")?;
                NxMessage::FlowMonitorResumed
            }
            24 => {
                r.need(8)?;
                NxMessage::TlvTableMod {
                    command: r.u16(0)?,
                    mappings: decode_maps(r.tail(8)?)?,
                }
            }
            25 => {
                exact(b, 0, "tlv table request")?;
                NxMessage::TlvTableRequest
            }
            26 => {
                r.need(16)?;
                NxMessage::TlvTableReply {
                    max_option_space: r.u32(0)?,
                    max_fields: r.u16(4)?,
                    mappings: decode_maps(r.tail(16)?)?,
                }
            }
            27 => {
                if !b.len().is_multiple_of(8) {
                    return Err(bad(ErrorCode::OfpbrcBadLen, "async config2"));
                }
                NxMessage::SetAsyncConfig2(
                    b.chunks_exact(8)
                        .map(|c| {
                            (
                                u16::from_be_bytes([c[0], c[1]]),
                                u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                            )
                        })
                        .collect(),
                )
            }
            28 => NxMessage::Resume(PacketIn2::decode(b)?),
            29 => {
                exact(b, 8, "nx_zone_id")?;
                NxMessage::CtFlushZone(r.u16(6)?)
            }
            30 => NxMessage::PacketIn2(PacketIn2::decode(b)?),
            _ => NxMessage::Other {
                subtype,
                body: b.to_vec(),
            },
        })
    }

    /// Appends the body after `vendor, subtype`.
    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        match self {
            NxMessage::RoleRequest(v)
            | NxMessage::RoleReply(v)
            | NxMessage::SetFlowFormat(v)
            | NxMessage::SetPacketInFormat(v)
            | NxMessage::FlowMonitorCancel(v) => put_u32(out, *v),
            NxMessage::FlowMod(fm) => fm.encode_nx(version, out),
            NxMessage::FlowRemoved(f) => {
                let s = out.len();
                put_u64(out, f.cookie);
                put_u16(out, f.priority);
                out.push(f.reason);
                out.push(f.table_id);
                put_u32(out, f.duration_sec);
                put_u32(out, f.duration_nsec);
                put_u16(out, f.idle_timeout);
                put_u16(out, 0);
                put_u64(out, f.packet_count);
                put_u64(out, f.byte_count);
                let n = f.r#match.encode_nxm_padded(out);
                out[s + 22..s + 24].copy_from_slice(&(n as u16).to_be_bytes());
            }
            NxMessage::FlowModTableId(b) => {
                out.push(u8::from(*b));
                put_zeros(out, 7);
            }
            NxMessage::PacketIn(p) => {
                let s = out.len();
                put_u32(out, p.buffer_id);
                put_u16(out, p.total_len);
                out.push(p.reason);
                out.push(p.table_id);
                put_u64(out, p.cookie);
                put_u16(out, 0);
                put_zeros(out, 6);
                let n = p.r#match.encode_nxm_padded(out);
                out[s + 16..s + 18].copy_from_slice(&(n as u16).to_be_bytes());
                put_zeros(out, 2);
                out.extend_from_slice(&p.data);
            }
            NxMessage::FlowAge
            | NxMessage::FlowMonitorPaused
            | NxMessage::FlowMonitorResumed
            | NxMessage::TlvTableRequest => {}
            NxMessage::SetAsyncConfig {
                packet_in,
                port_status,
                flow_removed,
            } => {
                for w in packet_in.iter().chain(port_status).chain(flow_removed) {
                    put_u32(out, *w);
                }
            }
            NxMessage::SetControllerId(id) | NxMessage::CtFlushZone(id) => {
                put_zeros(out, 6);
                put_u16(out, *id);
            }
            NxMessage::TlvTableMod { command, mappings } => {
                put_u16(out, *command);
                put_zeros(out, 6);
                encode_maps(mappings, out);
            }
            NxMessage::TlvTableReply {
                max_option_space,
                max_fields,
                mappings,
            } => {
                put_u32(out, *max_option_space);
                put_u16(out, *max_fields);
                put_zeros(out, 10);
                encode_maps(mappings, out);
            }
            NxMessage::SetAsyncConfig2(v) => {
                for (ty, m) in v {
                    put_u16(out, *ty);
                    put_u16(out, 8);
                    put_u32(out, *m);
                }
            }
            NxMessage::Resume(p) | NxMessage::PacketIn2(p) => p.encode(out),
            NxMessage::Other { body, .. } => out.extend_from_slice(body),
        }
    }
}

/// The OFPP_NONE default for monitor requests.
pub const FLOW_MONITOR_ANY_PORT: PortNo = port::OFPP_NONE;
