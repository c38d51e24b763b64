//! Multipart (1.3+) / stats (1.0) requests and replies.
//!
//! Header after `ofp_header`: 1.0 `type(2) flags(2)`; 1.1+ `type(2)
//! flags(2) pad(4)`.  Then a type-specific body: a fixed request, or for
//! replies an array of fixed or length-prefixed entries.  Nicira stats
//! (NXST_FLOW, NXST_AGGREGATE, NXST_FLOW_MONITOR) ride in the vendor /
//! experimenter type: 1.0 `vendor(4) subtype(4) pad(4)`, 1.1+
//! `experimenter(4) subtype(4)`.  OFPMPF_REPLY_MORE (flags bit 0) splits
//! a long reply over several messages; each is decoded on its own.

use super::basic::{rd, Port};
use super::group_meter::{Bucket, MeterBand};
use super::nicira::{FlowMonitorRequest, FlowUpdate};
use super::packet::OxsStats;
use super::table_features::TableFeatures;
use crate::action::{decode_actions, encode_actions};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::instruction::Instruction;
use crate::port::{self, PortNo};
use crate::r#match::{Match, OFP10_MATCH_LEN};
use crate::version::Version;
use crate::wire::{put_u16, put_u32, put_u64, put_zeros, Rd};

const NX_VENDOR: u32 = 0x0000_2320;

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

/// Flow / aggregate stats request (standard or Nicira).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowStatsRequest {
    /// 0xff = all tables.
    pub table_id: u8,
    pub out_port: PortNo,
    /// 1.1+.
    pub out_group: u32,
    /// 1.1+, and NX (from the match's `NXM_NX_COOKIE(_W)` entry).
    pub cookie: u64,
    pub cookie_mask: u64,
    pub r#match: Match,
}

impl Default for FlowStatsRequest {
    fn default() -> Self {
        FlowStatsRequest {
            table_id: 0xff,
            out_port: port::OFPP_NONE,
            out_group: u32::MAX,
            cookie: 0,
            cookie_mask: 0,
            r#match: Match::new(),
        }
    }
}

impl FlowStatsRequest {
    fn decode(version: Version, b: &[u8]) -> Result<FlowStatsRequest> {
        let r = rd(b, "flow stats request");
        if version == Version::Of10 {
            if b.len() != OFP10_MATCH_LEN + 4 {
                return Err(bad(ErrorCode::OfpbrcBadLen, "ofp10_flow_stats_request"));
            }
            return Ok(FlowStatsRequest {
                table_id: r.u8(40)?,
                out_port: r.u16(42)?,
                r#match: Match::decode_ofp10(b)?,
                ..FlowStatsRequest::default()
            });
        }
        r.need(32)?;
        let (m, n) = Match::decode_ofp12(r.tail(32)?)?;
        if 32 + n != b.len() {
            return Err(bad(ErrorCode::OfpbrcBadLen, "flow stats request"));
        }
        Ok(FlowStatsRequest {
            table_id: r.u8(0)?,
            out_port: port::from_ofp11(r.u32(4)?)?,
            out_group: r.u32(8)?,
            cookie: r.u64(16)?,
            cookie_mask: r.u64(24)?,
            r#match: m,
        })
    }
    fn encode(&self, version: Version, out: &mut Vec<u8>) {
        if version == Version::Of10 {
            self.r#match.encode_ofp10(out);
            out.push(self.table_id);
            out.push(0);
            put_u16(out, self.out_port);
            return;
        }
        out.push(self.table_id);
        put_zeros(out, 3);
        put_u32(out, port::to_ofp11(self.out_port));
        put_u32(out, self.out_group);
        put_zeros(out, 4);
        put_u64(out, self.cookie);
        put_u64(out, self.cookie_mask);
        self.r#match.encode_ofp12(version, out);
    }
    fn decode_nx(b: &[u8]) -> Result<FlowStatsRequest> {
        let r = rd(b, "nx_flow_stats_request");
        r.need(8)?;
        let mlen = r.u16(2)? as usize;
        let (m, (cookie, cookie_mask)) = Match::decode_nxm_with_cookie(r.slice(8, 8 + mlen)?)?;
        Ok(FlowStatsRequest {
            out_port: r.u16(0)?,
            table_id: r.u8(4)?,
            cookie,
            cookie_mask,
            r#match: m,
            ..FlowStatsRequest::default()
        })
    }
    fn encode_nx(&self, out: &mut Vec<u8>) {
        let s = out.len();
        put_u16(out, self.out_port);
        put_u16(out, 0);
        out.push(self.table_id);
        put_zeros(out, 3);
        let n = self
            .r#match
            .encode_nxm_with_cookie((self.cookie, self.cookie_mask), out);
        out[s + 2..s + 4].copy_from_slice(&(n as u16).to_be_bytes());
    }
}

/// One flow in a flow stats reply (standard or Nicira).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// OFPFF_* (1.3+).
    pub flags: u16,
    /// 1.4+.
    pub importance: u16,
    /// NX: seconds since last packet / since modified (0 = unknown, else
    /// age + 1 as on the wire). OpenFlow 1.5 carries the idle age too (OXS
    /// `idle_time`, whole seconds), kept here in the same form.
    pub idle_age: u16,
    pub hard_age: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    /// Appends this entry as it appears in the body of a flow stats reply
    /// (`nx`: an NXST_FLOW reply), so that a switch can stream a dump into
    /// reply messages of its own framing.
    pub fn encode_entry(&self, version: Version, nx: bool, out: &mut Vec<u8>) {
        self.view().encode_entry(version, nx, out);
    }

    /// This entry as a [`FlowStatsView`] (borrowing match and
    /// instructions).
    pub fn view(&self) -> FlowStatsView<'_> {
        FlowStatsView {
            table_id: self.table_id,
            duration_sec: self.duration_sec,
            duration_nsec: self.duration_nsec,
            priority: self.priority,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            flags: self.flags,
            importance: self.importance,
            idle_age: self.idle_age,
            hard_age: self.hard_age,
            cookie: self.cookie,
            packet_count: self.packet_count,
            byte_count: self.byte_count,
            r#match: &self.r#match,
            instructions: &self.instructions,
        }
    }

    fn decode(version: Version, b: &[u8]) -> Result<(FlowStats, usize)> {
        let r = rd(b, "flow stats entry");
        let len = r.u16(0)? as usize;
        if len > b.len() || len < 8 {
            return Err(bad(ErrorCode::OfpbrcBadLen, "flow stats entry length"));
        }
        let r = rd(&b[..len], "flow stats entry");
        let fs = match version {
            Version::Of10 => {
                r.need(88)?;
                FlowStats {
                    table_id: r.u8(2)?,
                    r#match: Match::decode_ofp10(r.slice(4, 44)?)?,
                    duration_sec: r.u32(44)?,
                    duration_nsec: r.u32(48)?,
                    priority: r.u16(52)?,
                    idle_timeout: r.u16(54)?,
                    hard_timeout: r.u16(56)?,
                    flags: 0,
                    importance: 0,
                    idle_age: 0,
                    hard_age: 0,
                    cookie: r.u64(64)?,
                    packet_count: r.u64(72)?,
                    byte_count: r.u64(80)?,
                    instructions: super::flow_mod::wrap_actions(decode_actions(
                        version,
                        r.tail(88)?,
                    )?),
                }
            }
            Version::Of15 => {
                r.need(32)?;
                let (m, n) = Match::decode_ofp12(r.tail(24)?)?;
                let (st, sn) = OxsStats::decode_prefix(r.tail(24 + n)?)?;
                FlowStats {
                    table_id: r.u8(4)?,
                    priority: r.u16(6)?,
                    idle_timeout: r.u16(8)?,
                    hard_timeout: r.u16(10)?,
                    flags: r.u16(12)?,
                    importance: r.u16(14)?,
                    cookie: r.u64(16)?,
                    r#match: m,
                    duration_sec: st.duration.map_or(0, |d| d.0),
                    duration_nsec: st.duration.map_or(0, |d| d.1),
                    idle_age: st.idle_time.map_or(0, |(sec, _)| {
                        sec.saturating_add(1).min(u16::MAX as u32) as u16
                    }),
                    hard_age: 0,
                    packet_count: st.packet_count.unwrap_or(0),
                    byte_count: st.byte_count.unwrap_or(0),
                    instructions: Instruction::decode_list(version, r.tail(24 + n + sn)?)?,
                }
            }
            _ => {
                r.need(48)?;
                let (m, n) = Match::decode_ofp12(r.tail(48)?)?;
                FlowStats {
                    table_id: r.u8(2)?,
                    duration_sec: r.u32(4)?,
                    duration_nsec: r.u32(8)?,
                    priority: r.u16(12)?,
                    idle_timeout: r.u16(14)?,
                    hard_timeout: r.u16(16)?,
                    flags: r.u16(18)?,
                    importance: if version >= Version::Of14 {
                        r.u16(20)?
                    } else {
                        0
                    },
                    idle_age: 0,
                    hard_age: 0,
                    cookie: r.u64(24)?,
                    packet_count: r.u64(32)?,
                    byte_count: r.u64(40)?,
                    r#match: m,
                    instructions: Instruction::decode_list(version, r.tail(48 + n)?)?,
                }
            }
        };
        Ok((fs, len))
    }

    fn decode_nx(b: &[u8]) -> Result<(FlowStats, usize)> {
        let r = rd(b, "nx_flow_stats");
        let len = r.u16(0)? as usize;
        if len > b.len() || len < 48 {
            return Err(bad(ErrorCode::OfpbrcBadLen, "nx_flow_stats length"));
        }
        let r = rd(&b[..len], "nx_flow_stats");
        let mlen = r.u16(18)? as usize;
        let m = Match::decode_tlvs(r.slice(48, 48 + mlen)?)?;
        let acts = r.tail(48 + mlen.div_ceil(8) * 8)?;
        Ok((
            FlowStats {
                table_id: r.u8(2)?,
                duration_sec: r.u32(4)?,
                duration_nsec: r.u32(8)?,
                priority: r.u16(12)?,
                idle_timeout: r.u16(14)?,
                hard_timeout: r.u16(16)?,
                flags: 0,
                importance: 0,
                idle_age: r.u16(20)?,
                hard_age: r.u16(22)?,
                cookie: r.u64(24)?,
                packet_count: r.u64(32)?,
                byte_count: r.u64(40)?,
                r#match: m,
                instructions: super::flow_mod::wrap_actions(decode_actions(Version::Of10, acts)?),
            },
            len,
        ))
    }
}

/// Aggregate stats reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

/// One table in a table stats reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TableStats {
    pub table_id: u8,
    /// 1.0 only.
    pub name: [u8; 32],
    /// 1.0 only.
    pub wildcards: u32,
    /// 1.0 only.
    pub max_entries: u32,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// One port in a port stats reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortStats {
    pub port_no: PortNo,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    /// 1.3+.
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// One queue in a queue stats reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueStats {
    pub port_no: PortNo,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    /// 1.3+.
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// One group in a group stats reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GroupStats {
    pub group_id: u32,
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// (packet_count, byte_count) per bucket.
    pub buckets: Vec<(u64, u64)>,
}

/// One group in a group-desc reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupDesc {
    pub type_: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
    /// 1.5 group properties, raw.
    pub props: Vec<u8>,
}

/// Group features reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GroupFeatures {
    pub types: u32,
    pub capabilities: u32,
    pub max_groups: [u32; 4],
    pub actions: [u32; 4],
}

/// One meter in a meter stats reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// (packet_band_count, byte_band_count) per band.
    pub bands: Vec<(u64, u64)>,
}

/// One meter in a meter-config reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MeterConfig {
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

/// Meter features reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MeterFeatures {
    pub max_meter: u32,
    pub band_types: u32,
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
    /// 1.5 only (sent only when non-zero: OVS 3.1 uses the 16-byte 1.3 form).
    pub features: u32,
}

/// Switch description reply (strings NUL-padded as on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Desc {
    pub mfr_desc: String,
    pub hw_desc: String,
    pub sw_desc: String,
    pub serial_num: String,
    pub dp_desc: String,
}

fn get_str(b: &[u8]) -> String {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..n]).into_owned()
}

fn put_str(out: &mut Vec<u8>, s: &str, n: usize) {
    let b = s.as_bytes();
    let k = b.len().min(n - 1);
    out.extend_from_slice(&b[..k]);
    put_zeros(out, n - k);
}

/// A multipart request body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpRequest {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    /// OFPP_NONE/ANY = all ports.
    PortStats(PortNo),
    /// (port, queue); OFPQ_ALL = 0xffffffff.
    Queue(PortNo, u32),
    Group(u32),
    /// 1.5 takes a group id; earlier versions none (u32::MAX then).
    GroupDesc(u32),
    GroupFeatures,
    Meter(u32),
    MeterConfig(u32),
    MeterFeatures,
    TableFeatures(Vec<TableFeatures>),
    /// 1.5 takes a port; earlier versions none (OFPP_NONE then).
    PortDesc(PortNo),
    NxFlow(FlowStatsRequest),
    NxAggregate(FlowStatsRequest),
    NxFlowMonitor(Vec<FlowMonitorRequest>),
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        body: Vec<u8>,
    },
    /// Types ferrovs does not interpret (table-desc, queue-desc...), raw.
    Other {
        type_: u16,
        body: Vec<u8>,
    },
}

/// A multipart reply body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpReply {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    Queue(Vec<QueueStats>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    PortDesc(Vec<Port>),
    NxFlow(Vec<FlowStats>),
    NxAggregate(AggregateStats),
    NxFlowMonitor(Vec<FlowUpdate>),
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        body: Vec<u8>,
    },
    Other {
        type_: u16,
        body: Vec<u8>,
    },
}

/// OFPT_MULTIPART_REQUEST / OFPT_STATS_REQUEST.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartRequest {
    /// OFPMPF_REQ_MORE = 1.
    pub flags: u16,
    pub body: MpRequest,
}

/// OFPT_MULTIPART_REPLY / OFPT_STATS_REPLY.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartReply {
    /// OFPMPF_REPLY_MORE = 1.
    pub flags: u16,
    pub body: MpReply,
}

/// Splits the multipart header: (type, flags, body).
fn split(version: Version, b: &[u8]) -> Result<(u16, u16, &[u8])> {
    let r = rd(b, "multipart header");
    let hl = if version == Version::Of10 { 4 } else { 8 };
    r.need(hl)?;
    Ok((r.u16(0)?, r.u16(2)?, &b[hl..]))
}

fn put_head(version: Version, out: &mut Vec<u8>, ty: u16, flags: u16) {
    put_u16(out, ty);
    put_u16(out, flags);
    if version != Version::Of10 {
        put_zeros(out, 4);
    }
}

/// Splits an experimenter body: (experimenter, subtype, rest).
fn split_exp(version: Version, b: &[u8]) -> Result<(u32, u32, &[u8])> {
    let r = rd(b, "experimenter stats");
    let exp = r.u32(0)?;
    let sub = r.u32(4)?;
    let hl = if version == Version::Of10 && exp == NX_VENDOR {
        12
    } else {
        8
    };
    r.need(hl)?;
    Ok((exp, sub, &b[hl..]))
}

fn put_exp(version: Version, out: &mut Vec<u8>, exp: u32, sub: u32) {
    put_u32(out, exp);
    put_u32(out, sub);
    if version == Version::Of10 && exp == NX_VENDOR {
        put_zeros(out, 4);
    }
}

fn empty(b: &[u8]) -> Result<()> {
    if b.is_empty() {
        Ok(())
    } else {
        Err(bad(ErrorCode::OfpbrcBadLen, "request body must be empty"))
    }
}

fn id_req(b: &[u8]) -> Result<u32> {
    let r = rd(b, "multipart request id");
    if b.len() != 8 {
        return Err(bad(ErrorCode::OfpbrcBadLen, "multipart request id"));
    }
    r.u32(0)
}

fn put_id_req(out: &mut Vec<u8>, id: u32) {
    put_u32(out, id);
    put_zeros(out, 4);
}

/// Decodes a run of fixed-size entries.
fn fixed_list<T>(b: &[u8], size: usize, f: impl Fn(&Rd<'_>) -> Result<T>) -> Result<Vec<T>> {
    if !b.len().is_multiple_of(size) {
        return Err(bad(ErrorCode::OfpbrcBadLen, "multipart reply entries"));
    }
    b.chunks_exact(size)
        .map(|c| f(&rd(c, "multipart entry")))
        .collect()
}

/// Decodes a run of entries whose first u16 (at `len_at`) is the length.
fn len_list<T>(b: &[u8], len_at: usize, f: impl Fn(&Rd<'_>) -> Result<T>) -> Result<Vec<T>> {
    let mut v = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        let r = rd(rest, "multipart entry");
        let len = r.u16(len_at)? as usize;
        if len < 4 || len > rest.len() {
            return Err(bad(ErrorCode::OfpbrcBadLen, "multipart entry length"));
        }
        v.push(f(&rd(&rest[..len], "multipart entry"))?);
        rest = &rest[len..];
    }
    Ok(v)
}

/// Decodes the (packet_count, byte_count) pairs that fill an entry from
/// `from` to its end (group bucket counters, meter band counters): 16
/// bytes each, the entry's length must leave no remainder.
fn counter_pairs(r: &Rd<'_>, from: usize, what: &'static str) -> Result<Vec<(u64, u64)>> {
    let tail = r.tail(from)?;
    if tail.len() % 16 != 0 {
        return Err(bad(ErrorCode::OfpbrcBadLen, what));
    }
    (0..tail.len() / 16)
        .map(|i| Ok((r.u64(from + 16 * i)?, r.u64(from + 8 + 16 * i)?)))
        .collect()
}

/// Encodes what `counter_pairs` decodes.
fn put_counter_pairs(out: &mut Vec<u8>, pairs: &[(u64, u64)]) {
    for (packets, bytes) in pairs {
        put_u64(out, *packets);
        put_u64(out, *bytes);
    }
}

fn patch_len(out: &mut [u8], s: usize, at: usize) {
    let len = (out.len() - s) as u16;
    out[s + at..s + at + 2].copy_from_slice(&len.to_be_bytes());
}

impl MultipartRequest {
    pub fn decode(version: Version, b: &[u8]) -> Result<MultipartRequest> {
        let (ty, flags, body) = split(version, b)?;
        let v10 = version == Version::Of10;
        let body = match ty {
            0 => {
                empty(body)?;
                MpRequest::Desc
            }
            1 => MpRequest::Flow(FlowStatsRequest::decode(version, body)?),
            2 => MpRequest::Aggregate(FlowStatsRequest::decode(version, body)?),
            3 => {
                empty(body)?;
                MpRequest::Table
            }
            4 => {
                let r = rd(body, "port stats request");
                if body.len() != 8 {
                    return Err(bad(ErrorCode::OfpbrcBadLen, "port stats request"));
                }
                MpRequest::PortStats(if v10 {
                    r.u16(0)?
                } else {
                    port::from_ofp11(r.u32(0)?)?
                })
            }
            5 => {
                let r = rd(body, "queue stats request");
                if body.len() != 8 {
                    return Err(bad(ErrorCode::OfpbrcBadLen, "queue stats request"));
                }
                if v10 {
                    MpRequest::Queue(r.u16(0)?, r.u32(4)?)
                } else {
                    MpRequest::Queue(port::from_ofp11(r.u32(0)?)?, r.u32(4)?)
                }
            }
            0xffff => {
                let (exp, sub, rest) = split_exp(version, body)?;
                match (exp, sub) {
                    (NX_VENDOR, 0) => MpRequest::NxFlow(FlowStatsRequest::decode_nx(rest)?),
                    (NX_VENDOR, 1) => MpRequest::NxAggregate(FlowStatsRequest::decode_nx(rest)?),
                    (NX_VENDOR, 2) => {
                        MpRequest::NxFlowMonitor(FlowMonitorRequest::decode_list(rest)?)
                    }
                    _ => MpRequest::Experimenter {
                        experimenter: exp,
                        exp_type: sub,
                        body: rest.to_vec(),
                    },
                }
            }
            _ if v10 => MpRequest::Other {
                type_: ty,
                body: body.to_vec(),
            },
            6 => MpRequest::Group(id_req(body)?),
            7 if version >= Version::Of15 => MpRequest::GroupDesc(id_req(body)?),
            7 => {
                empty(body)?;
                MpRequest::GroupDesc(u32::MAX)
            }
            8 => {
                empty(body)?;
                MpRequest::GroupFeatures
            }
            9 => MpRequest::Meter(id_req(body)?),
            10 => MpRequest::MeterConfig(id_req(body)?),
            11 => {
                empty(body)?;
                MpRequest::MeterFeatures
            }
            12 => MpRequest::TableFeatures(TableFeatures::decode_list(version, body)?),
            13 if version >= Version::Of15 => {
                let r = rd(body, "port desc request");
                if body.len() != 8 {
                    return Err(bad(ErrorCode::OfpbrcBadLen, "port desc request"));
                }
                MpRequest::PortDesc(port::from_ofp11(r.u32(0)?)?)
            }
            13 => {
                empty(body)?;
                MpRequest::PortDesc(port::OFPP_NONE)
            }
            _ => MpRequest::Other {
                type_: ty,
                body: body.to_vec(),
            },
        };
        Ok(MultipartRequest { flags, body })
    }

    /// The multipart type number this request uses.
    pub fn type_(&self) -> u16 {
        match &self.body {
            MpRequest::Desc => 0,
            MpRequest::Flow(_) => 1,
            MpRequest::Aggregate(_) => 2,
            MpRequest::Table => 3,
            MpRequest::PortStats(_) => 4,
            MpRequest::Queue(..) => 5,
            MpRequest::Group(_) => 6,
            MpRequest::GroupDesc(_) => 7,
            MpRequest::GroupFeatures => 8,
            MpRequest::Meter(_) => 9,
            MpRequest::MeterConfig(_) => 10,
            MpRequest::MeterFeatures => 11,
            MpRequest::TableFeatures(_) => 12,
            MpRequest::PortDesc(_) => 13,
            MpRequest::NxFlow(_)
            | MpRequest::NxAggregate(_)
            | MpRequest::NxFlowMonitor(_)
            | MpRequest::Experimenter { .. } => 0xffff,
            MpRequest::Other { type_, .. } => *type_,
        }
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        let v10 = version == Version::Of10;
        put_head(version, out, self.type_(), self.flags);
        match &self.body {
            MpRequest::Desc
            | MpRequest::Table
            | MpRequest::GroupFeatures
            | MpRequest::MeterFeatures => {}
            MpRequest::Flow(r) | MpRequest::Aggregate(r) => r.encode(version, out),
            MpRequest::PortStats(p) => {
                if v10 {
                    put_u16(out, *p);
                    put_zeros(out, 6);
                } else {
                    put_u32(out, port::to_ofp11(*p));
                    put_zeros(out, 4);
                }
            }
            MpRequest::Queue(p, q) => {
                if v10 {
                    put_u16(out, *p);
                    put_zeros(out, 2);
                } else {
                    put_u32(out, port::to_ofp11(*p));
                }
                put_u32(out, *q);
            }
            MpRequest::Group(g) | MpRequest::Meter(g) | MpRequest::MeterConfig(g) => {
                put_id_req(out, *g)
            }
            MpRequest::GroupDesc(g) => {
                if version >= Version::Of15 {
                    put_id_req(out, *g)
                }
            }
            MpRequest::TableFeatures(t) => TableFeatures::encode_list(version, t, out),
            MpRequest::PortDesc(p) => {
                if version >= Version::Of15 {
                    put_u32(out, port::to_ofp11(*p));
                    put_zeros(out, 4);
                }
            }
            MpRequest::NxFlow(r) => {
                put_exp(version, out, NX_VENDOR, 0);
                r.encode_nx(out);
            }
            MpRequest::NxAggregate(r) => {
                put_exp(version, out, NX_VENDOR, 1);
                r.encode_nx(out);
            }
            MpRequest::NxFlowMonitor(v) => {
                put_exp(version, out, NX_VENDOR, 2);
                for m in v {
                    m.encode(out);
                }
            }
            MpRequest::Experimenter {
                experimenter,
                exp_type,
                body,
            } => {
                put_exp(version, out, *experimenter, *exp_type);
                out.extend_from_slice(body);
            }
            MpRequest::Other { body, .. } => out.extend_from_slice(body),
        }
    }
}

fn agg_decode(b: &[u8]) -> Result<AggregateStats> {
    let r = rd(b, "aggregate stats reply");
    if b.len() != 24 {
        return Err(bad(ErrorCode::OfpbrcBadLen, "aggregate stats reply"));
    }
    Ok(AggregateStats {
        packet_count: r.u64(0)?,
        byte_count: r.u64(8)?,
        flow_count: r.u32(16)?,
    })
}

fn agg_encode(a: &AggregateStats, out: &mut Vec<u8>) {
    put_u64(out, a.packet_count);
    put_u64(out, a.byte_count);
    put_u32(out, a.flow_count);
    put_zeros(out, 4);
}

impl MultipartReply {
    pub fn decode(version: Version, b: &[u8]) -> Result<MultipartReply> {
        let (ty, flags, body) = split(version, b)?;
        let v10 = version == Version::Of10;
        let body = match ty {
            0 => {
                let r = rd(body, "desc reply");
                if body.len() != 1056 {
                    return Err(bad(ErrorCode::OfpbrcBadLen, "desc reply"));
                }
                MpReply::Desc(Desc {
                    mfr_desc: get_str(r.slice(0, 256)?),
                    hw_desc: get_str(r.slice(256, 512)?),
                    sw_desc: get_str(r.slice(512, 768)?),
                    serial_num: get_str(r.slice(768, 800)?),
                    dp_desc: get_str(r.slice(800, 1056)?),
                })
            }
            1 => {
                let mut v = Vec::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (fs, n) = FlowStats::decode(version, rest)?;
                    v.push(fs);
                    rest = &rest[n..];
                }
                MpReply::Flow(v)
            }
            2 if version >= Version::Of15 => {
                let st = OxsStats::decode(body)?;
                MpReply::Aggregate(AggregateStats {
                    packet_count: st.packet_count.unwrap_or(0),
                    byte_count: st.byte_count.unwrap_or(0),
                    flow_count: st.flow_count.unwrap_or(0),
                })
            }
            2 => MpReply::Aggregate(agg_decode(body)?),
            3 if v10 => MpReply::Table(fixed_list(body, 64, |r| {
                Ok(TableStats {
                    table_id: r.u8(0)?,
                    name: r.arr::<32>(4)?,
                    wildcards: r.u32(36)?,
                    max_entries: r.u32(40)?,
                    active_count: r.u32(44)?,
                    lookup_count: r.u64(48)?,
                    matched_count: r.u64(56)?,
                })
            })?),
            3 => MpReply::Table(fixed_list(body, 24, |r| {
                Ok(TableStats {
                    table_id: r.u8(0)?,
                    active_count: r.u32(4)?,
                    lookup_count: r.u64(8)?,
                    matched_count: r.u64(16)?,
                    ..TableStats::default()
                })
            })?),
            4 if v10 => MpReply::PortStats(fixed_list(body, 104, |r| {
                port_stats(r, r.u16(0)?, 8, None)
            })?),
            4 if version <= Version::Of13 => MpReply::PortStats(fixed_list(body, 112, |r| {
                port_stats(r, port::from_ofp11(r.u32(0)?)?, 8, Some(104))
            })?),
            4 => MpReply::PortStats(len_list(body, 0, |r| {
                let mut p = PortStats {
                    port_no: port::from_ofp11(r.u32(4)?)?,
                    duration_sec: r.u32(8)?,
                    duration_nsec: r.u32(12)?,
                    ..PortStats::default()
                };
                let c: Vec<u64> = (0..8).map(|i| r.u64(16 + 8 * i)).collect::<Result<_>>()?;
                (p.rx_packets, p.tx_packets, p.rx_bytes, p.tx_bytes) = (c[0], c[1], c[2], c[3]);
                (p.rx_dropped, p.tx_dropped, p.rx_errors, p.tx_errors) = (c[4], c[5], c[6], c[7]);
                // Ethernet property (type 0, len 40).
                if r.len() >= 120 && r.u16(80)? == 0 {
                    p.rx_frame_err = r.u64(88)?;
                    p.rx_over_err = r.u64(96)?;
                    p.rx_crc_err = r.u64(104)?;
                    p.collisions = r.u64(112)?;
                }
                Ok(p)
            })?),
            5 if v10 => MpReply::Queue(fixed_list(body, 32, |r| {
                Ok(QueueStats {
                    port_no: r.u16(0)?,
                    queue_id: r.u32(4)?,
                    tx_bytes: r.u64(8)?,
                    tx_packets: r.u64(16)?,
                    tx_errors: r.u64(24)?,
                    ..QueueStats::default()
                })
            })?),
            5 if version <= Version::Of13 => MpReply::Queue(fixed_list(body, 40, |r| {
                Ok(QueueStats {
                    port_no: port::from_ofp11(r.u32(0)?)?,
                    queue_id: r.u32(4)?,
                    tx_bytes: r.u64(8)?,
                    tx_packets: r.u64(16)?,
                    tx_errors: r.u64(24)?,
                    duration_sec: r.u32(32)?,
                    duration_nsec: r.u32(36)?,
                })
            })?),
            5 => MpReply::Queue(len_list(body, 0, |r| {
                Ok(QueueStats {
                    port_no: port::from_ofp11(r.u32(8)?)?,
                    queue_id: r.u32(12)?,
                    tx_bytes: r.u64(16)?,
                    tx_packets: r.u64(24)?,
                    tx_errors: r.u64(32)?,
                    duration_sec: r.u32(40)?,
                    duration_nsec: r.u32(44)?,
                })
            })?),
            0xffff => {
                let (exp, sub, rest) = split_exp(version, body)?;
                match (exp, sub) {
                    (NX_VENDOR, 0) => {
                        let mut v = Vec::new();
                        let mut r = rest;
                        while !r.is_empty() {
                            let (fs, n) = FlowStats::decode_nx(r)?;
                            v.push(fs);
                            r = &r[n..];
                        }
                        MpReply::NxFlow(v)
                    }
                    (NX_VENDOR, 1) => MpReply::NxAggregate(agg_decode(rest)?),
                    (NX_VENDOR, 2) => MpReply::NxFlowMonitor(FlowUpdate::decode_list(rest)?),
                    _ => MpReply::Experimenter {
                        experimenter: exp,
                        exp_type: sub,
                        body: rest.to_vec(),
                    },
                }
            }
            _ if v10 => MpReply::Other {
                type_: ty,
                body: body.to_vec(),
            },
            6 => MpReply::Group(len_list(body, 0, |r| {
                r.need(40)?;
                Ok(GroupStats {
                    group_id: r.u32(4)?,
                    ref_count: r.u32(8)?,
                    packet_count: r.u64(16)?,
                    byte_count: r.u64(24)?,
                    duration_sec: r.u32(32)?,
                    duration_nsec: r.u32(36)?,
                    buckets: counter_pairs(r, 40, "group stats")?,
                })
            })?),
            7 => MpReply::GroupDesc(len_list(body, 0, |r| {
                if version >= Version::Of15 {
                    r.need(16)?;
                    let blen = r.u16(8)? as usize;
                    Ok(GroupDesc {
                        type_: r.u8(2)?,
                        group_id: r.u32(4)?,
                        buckets: Bucket::decode_list(version, r.slice(16, 16 + blen)?)?,
                        props: r.tail(16 + blen)?.to_vec(),
                    })
                } else {
                    r.need(8)?;
                    Ok(GroupDesc {
                        type_: r.u8(2)?,
                        group_id: r.u32(4)?,
                        buckets: Bucket::decode_list(version, r.tail(8)?)?,
                        props: Vec::new(),
                    })
                }
            })?),
            8 => {
                let r = rd(body, "group features");
                if body.len() != 40 {
                    return Err(bad(ErrorCode::OfpbrcBadLen, "group features"));
                }
                let w = |o: usize| r.u32(o);
                MpReply::GroupFeatures(GroupFeatures {
                    types: w(0)?,
                    capabilities: w(4)?,
                    max_groups: [w(8)?, w(12)?, w(16)?, w(20)?],
                    actions: [w(24)?, w(28)?, w(32)?, w(36)?],
                })
            }
            9 => MpReply::Meter(len_list(body, 4, |r| {
                r.need(40)?;
                Ok(MeterStats {
                    meter_id: r.u32(0)?,
                    flow_count: r.u32(12)?,
                    packet_in_count: r.u64(16)?,
                    byte_in_count: r.u64(24)?,
                    duration_sec: r.u32(32)?,
                    duration_nsec: r.u32(36)?,
                    bands: counter_pairs(r, 40, "meter stats")?,
                })
            })?),
            10 => MpReply::MeterConfig(len_list(body, 0, |r| {
                r.need(8)?;
                Ok(MeterConfig {
                    flags: r.u16(2)?,
                    meter_id: r.u32(4)?,
                    bands: MeterBand::decode_list(r.tail(8)?)?,
                })
            })?),
            11 => {
                let r = rd(body, "meter features");
                // OF1.5 added `features` (24 bytes); OVS 3.1 sends and
                // accepts the 16-byte form in every version, so do we.
                if body.len() != 16 && !(version >= Version::Of15 && body.len() == 24) {
                    return Err(bad(ErrorCode::OfpbrcBadLen, "meter features"));
                }
                MpReply::MeterFeatures(MeterFeatures {
                    max_meter: r.u32(0)?,
                    band_types: r.u32(4)?,
                    capabilities: r.u32(8)?,
                    max_bands: r.u8(12)?,
                    max_color: r.u8(13)?,
                    features: if body.len() == 24 { r.u32(16)? } else { 0 },
                })
            }
            12 => MpReply::TableFeatures(TableFeatures::decode_list(version, body)?),
            13 => MpReply::PortDesc(Port::decode_list(version, body)?),
            _ => MpReply::Other {
                type_: ty,
                body: body.to_vec(),
            },
        };
        Ok(MultipartReply { flags, body })
    }

    pub fn type_(&self) -> u16 {
        match &self.body {
            MpReply::Desc(_) => 0,
            MpReply::Flow(_) => 1,
            MpReply::Aggregate(_) => 2,
            MpReply::Table(_) => 3,
            MpReply::PortStats(_) => 4,
            MpReply::Queue(_) => 5,
            MpReply::Group(_) => 6,
            MpReply::GroupDesc(_) => 7,
            MpReply::GroupFeatures(_) => 8,
            MpReply::Meter(_) => 9,
            MpReply::MeterConfig(_) => 10,
            MpReply::MeterFeatures(_) => 11,
            MpReply::TableFeatures(_) => 12,
            MpReply::PortDesc(_) => 13,
            MpReply::NxFlow(_)
            | MpReply::NxAggregate(_)
            | MpReply::NxFlowMonitor(_)
            | MpReply::Experimenter { .. } => 0xffff,
            MpReply::Other { type_, .. } => *type_,
        }
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        let v10 = version == Version::Of10;
        put_head(version, out, self.type_(), self.flags);
        match &self.body {
            MpReply::Desc(d) => {
                put_str(out, &d.mfr_desc, 256);
                put_str(out, &d.hw_desc, 256);
                put_str(out, &d.sw_desc, 256);
                put_str(out, &d.serial_num, 32);
                put_str(out, &d.dp_desc, 256);
            }
            MpReply::Flow(v) => {
                for f in v {
                    f.view().encode(version, out);
                }
            }
            MpReply::Aggregate(a) => {
                if version >= Version::Of15 {
                    OxsStats {
                        duration: None,
                        idle_time: None,
                        flow_count: Some(a.flow_count),
                        packet_count: Some(a.packet_count),
                        byte_count: Some(a.byte_count),
                    }
                    .encode(out)
                } else {
                    agg_encode(a, out)
                }
            }
            MpReply::Table(v) => {
                for t in v {
                    out.push(t.table_id);
                    put_zeros(out, 3);
                    if v10 {
                        out.extend_from_slice(&t.name);
                        put_u32(out, t.wildcards);
                        put_u32(out, t.max_entries);
                    }
                    put_u32(out, t.active_count);
                    put_u64(out, t.lookup_count);
                    put_u64(out, t.matched_count);
                }
            }
            MpReply::PortStats(v) => {
                for p in v {
                    encode_port_stats(version, p, out);
                }
            }
            MpReply::Queue(v) => {
                for q in v {
                    if v10 {
                        put_u16(out, q.port_no);
                        put_zeros(out, 2);
                    } else if version >= Version::Of14 {
                        put_u16(out, 48);
                        put_zeros(out, 6);
                        put_u32(out, port::to_ofp11(q.port_no));
                    } else {
                        put_u32(out, port::to_ofp11(q.port_no));
                    }
                    put_u32(out, q.queue_id);
                    put_u64(out, q.tx_bytes);
                    put_u64(out, q.tx_packets);
                    put_u64(out, q.tx_errors);
                    if !v10 {
                        put_u32(out, q.duration_sec);
                        put_u32(out, q.duration_nsec);
                    }
                }
            }
            MpReply::Group(v) => {
                for g in v {
                    let s = out.len();
                    put_u16(out, 0);
                    put_zeros(out, 2);
                    put_u32(out, g.group_id);
                    put_u32(out, g.ref_count);
                    put_zeros(out, 4);
                    put_u64(out, g.packet_count);
                    put_u64(out, g.byte_count);
                    put_u32(out, g.duration_sec);
                    put_u32(out, g.duration_nsec);
                    put_counter_pairs(out, &g.buckets);
                    patch_len(out, s, 0);
                }
            }
            MpReply::GroupDesc(v) => {
                for g in v {
                    let s = out.len();
                    put_u16(out, 0);
                    out.push(g.type_);
                    out.push(0);
                    put_u32(out, g.group_id);
                    if version >= Version::Of15 {
                        put_u16(out, 0);
                        put_zeros(out, 6);
                        let b = out.len();
                        Bucket::encode_list(version, g.type_, &g.buckets, out);
                        let n = (out.len() - b) as u16;
                        out[s + 8..s + 10].copy_from_slice(&n.to_be_bytes());
                        out.extend_from_slice(&g.props);
                    } else {
                        Bucket::encode_list(version, g.type_, &g.buckets, out);
                    }
                    patch_len(out, s, 0);
                }
            }
            MpReply::GroupFeatures(g) => {
                put_u32(out, g.types);
                put_u32(out, g.capabilities);
                for w in g.max_groups.iter().chain(&g.actions) {
                    put_u32(out, *w);
                }
            }
            MpReply::Meter(v) => {
                for m in v {
                    let s = out.len();
                    put_u32(out, m.meter_id);
                    put_u16(out, 0);
                    put_zeros(out, 6);
                    put_u32(out, m.flow_count);
                    put_u64(out, m.packet_in_count);
                    put_u64(out, m.byte_in_count);
                    put_u32(out, m.duration_sec);
                    put_u32(out, m.duration_nsec);
                    put_counter_pairs(out, &m.bands);
                    patch_len(out, s, 4);
                }
            }
            MpReply::MeterConfig(v) => {
                for m in v {
                    let s = out.len();
                    put_u16(out, 0);
                    put_u16(out, m.flags);
                    put_u32(out, m.meter_id);
                    MeterBand::encode_list(&m.bands, out);
                    patch_len(out, s, 0);
                }
            }
            MpReply::MeterFeatures(m) => {
                put_u32(out, m.max_meter);
                put_u32(out, m.band_types);
                put_u32(out, m.capabilities);
                out.push(m.max_bands);
                out.push(m.max_color);
                put_zeros(out, 2);
                // 16 bytes as OVS 3.1 has it, also in 1.5, unless the
                // 1.5 `features` word is non-zero.
                if version >= Version::Of15 && m.features != 0 {
                    put_u32(out, m.features);
                    put_zeros(out, 4);
                }
            }
            MpReply::TableFeatures(t) => TableFeatures::encode_list(version, t, out),
            MpReply::PortDesc(v) => {
                for p in v {
                    p.encode(version, out);
                }
            }
            MpReply::NxFlow(v) => {
                put_exp(version, out, NX_VENDOR, 0);
                for f in v {
                    encode_nx_flow_stats(&f.view(), out);
                }
            }
            MpReply::NxAggregate(a) => {
                put_exp(version, out, NX_VENDOR, 1);
                agg_encode(a, out);
            }
            MpReply::NxFlowMonitor(v) => {
                put_exp(version, out, NX_VENDOR, 2);
                for u in v {
                    u.encode(out);
                }
            }
            MpReply::Experimenter {
                experimenter,
                exp_type,
                body,
            } => {
                put_exp(version, out, *experimenter, *exp_type);
                out.extend_from_slice(body);
            }
            MpReply::Other { body, .. } => out.extend_from_slice(body),
        }
    }
}

fn port_stats(r: &Rd<'_>, port_no: PortNo, at: usize, dur: Option<usize>) -> Result<PortStats> {
    let c: Vec<u64> = (0..12).map(|i| r.u64(at + 8 * i)).collect::<Result<_>>()?;
    Ok(PortStats {
        port_no,
        rx_packets: c[0],
        tx_packets: c[1],
        rx_bytes: c[2],
        tx_bytes: c[3],
        rx_dropped: c[4],
        tx_dropped: c[5],
        rx_errors: c[6],
        tx_errors: c[7],
        rx_frame_err: c[8],
        rx_over_err: c[9],
        rx_crc_err: c[10],
        collisions: c[11],
        duration_sec: match dur {
            Some(o) => r.u32(o)?,
            None => 0,
        },
        duration_nsec: match dur {
            Some(o) => r.u32(o + 4)?,
            None => 0,
        },
    })
}

fn encode_port_stats(version: Version, p: &PortStats, out: &mut Vec<u8>) {
    let c = [
        p.rx_packets,
        p.tx_packets,
        p.rx_bytes,
        p.tx_bytes,
        p.rx_dropped,
        p.tx_dropped,
        p.rx_errors,
        p.tx_errors,
    ];
    let e = [p.rx_frame_err, p.rx_over_err, p.rx_crc_err, p.collisions];
    match version {
        Version::Of10 => {
            put_u16(out, p.port_no);
            put_zeros(out, 6);
            c.iter().chain(&e).for_each(|v| put_u64(out, *v));
        }
        Version::Of11 | Version::Of12 | Version::Of13 => {
            put_u32(out, port::to_ofp11(p.port_no));
            put_zeros(out, 4);
            c.iter().chain(&e).for_each(|v| put_u64(out, *v));
            put_u32(out, p.duration_sec);
            put_u32(out, p.duration_nsec);
        }
        _ => {
            put_u16(out, 120);
            put_zeros(out, 2);
            put_u32(out, port::to_ofp11(p.port_no));
            put_u32(out, p.duration_sec);
            put_u32(out, p.duration_nsec);
            c.iter().for_each(|v| put_u64(out, *v));
            put_u16(out, 0);
            put_u16(out, 40);
            put_zeros(out, 4);
            e.iter().for_each(|v| put_u64(out, *v));
        }
    }
}

/// A flow stats entry that borrows its match and instructions, so that a
/// switch encodes a dump straight from its rules without copying them.
#[derive(Debug, Clone, Copy)]
pub struct FlowStatsView<'a> {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub importance: u16,
    /// As [`FlowStats::idle_age`].
    pub idle_age: u16,
    pub hard_age: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: &'a Match,
    pub instructions: &'a [Instruction],
}

impl FlowStatsView<'_> {
    /// Appends this entry as it appears in the body of a flow stats reply
    /// (`nx`: an NXST_FLOW reply), as [`FlowStats::encode_entry`].
    pub fn encode_entry(&self, version: Version, nx: bool, out: &mut Vec<u8>) {
        if nx {
            encode_nx_flow_stats(self, out);
        } else {
            self.encode(version, out);
        }
    }

    fn encode(&self, version: Version, out: &mut Vec<u8>) {
        let s = out.len();
        match version {
            Version::Of10 => {
                put_u16(out, 0);
                out.push(self.table_id);
                out.push(0);
                self.r#match.encode_ofp10(out);
                put_u32(out, self.duration_sec);
                put_u32(out, self.duration_nsec);
                put_u16(out, self.priority);
                put_u16(out, self.idle_timeout);
                put_u16(out, self.hard_timeout);
                put_zeros(out, 6);
                put_u64(out, self.cookie);
                put_u64(out, self.packet_count);
                put_u64(out, self.byte_count);
                encode_actions(version, &Instruction::flat_actions(self.instructions), out);
            }
            Version::Of15 => {
                put_u16(out, 0);
                put_zeros(out, 2);
                out.push(self.table_id);
                out.push(0);
                put_u16(out, self.priority);
                put_u16(out, self.idle_timeout);
                put_u16(out, self.hard_timeout);
                put_u16(out, self.flags);
                put_u16(out, self.importance);
                put_u64(out, self.cookie);
                self.r#match.encode_ofp12(version, out);
                OxsStats {
                    // OVS sends the idle time whenever it knows it.
                    idle_time: self.idle_age.checked_sub(1).map(|a| (u32::from(a), 0)),
                    ..OxsStats::of_flow(
                        (self.duration_sec, self.duration_nsec),
                        self.packet_count,
                        self.byte_count,
                    )
                }
                .encode(out);
                Instruction::encode_list(version, self.instructions, out);
            }
            _ => {
                put_u16(out, 0);
                out.push(self.table_id);
                out.push(0);
                put_u32(out, self.duration_sec);
                put_u32(out, self.duration_nsec);
                put_u16(out, self.priority);
                put_u16(out, self.idle_timeout);
                put_u16(out, self.hard_timeout);
                put_u16(out, self.flags);
                put_u16(
                    out,
                    if version >= Version::Of14 {
                        self.importance
                    } else {
                        0
                    },
                );
                put_zeros(out, 2);
                put_u64(out, self.cookie);
                put_u64(out, self.packet_count);
                put_u64(out, self.byte_count);
                self.r#match.encode_ofp12(version, out);
                Instruction::encode_list(version, self.instructions, out);
            }
        }
        let len = (out.len() - s) as u16;
        out[s..s + 2].copy_from_slice(&len.to_be_bytes());
    }
}

fn encode_nx_flow_stats(f: &FlowStatsView<'_>, out: &mut Vec<u8>) {
    let s = out.len();
    put_u16(out, 0);
    out.push(f.table_id);
    out.push(0);
    put_u32(out, f.duration_sec);
    put_u32(out, f.duration_nsec);
    put_u16(out, f.priority);
    put_u16(out, f.idle_timeout);
    put_u16(out, f.hard_timeout);
    put_u16(out, 0); // match_len, patched below
    put_u16(out, f.idle_age);
    put_u16(out, f.hard_age);
    put_u64(out, f.cookie);
    put_u64(out, f.packet_count);
    put_u64(out, f.byte_count);
    let n = f.r#match.encode_nxm_padded(out);
    out[s + 18..s + 20].copy_from_slice(&(n as u16).to_be_bytes());
    encode_actions(
        Version::Of10,
        &Instruction::flat_actions(f.instructions),
        out,
    );
    patch_len(out, s, 0);
}
