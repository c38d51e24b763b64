//! Packet-in, packet-out and flow-removed, all versions.
//!
//! Layouts (after the header):
//! - packet-in 1.0: buffer_id(4) total_len(2) in_port(2) reason(1) pad(1) data;
//!   1.3+: buffer_id(4) total_len(2) reason(1) table_id(1) cookie(8)
//!   `ofp_match` pad(2) data (the match carries in_port).
//! - packet-out 1.0: buffer_id(4) in_port(2) actions_len(2) actions data;
//!   1.1-1.4: buffer_id(4) in_port(4) actions_len(2) pad(6) actions data;
//!   1.5: buffer_id(4) actions_len(2) pad(2) `ofp_match` actions data.
//! - flow-removed 1.0: match(40) cookie(8) priority(2) reason(1) pad(1)
//!   duration(4+4) idle(2) pad(2) packets(8) bytes(8); 1.3/1.4: cookie
//!   priority reason table_id duration(4+4) idle hard packets bytes match;
//!   1.5: table_id reason priority idle hard cookie match, then OXS stats.
//!
//! The packet data is borrowed while decoding and copied into the `Repr`.

use super::basic::rd;
use crate::action::{decode_actions, encode_actions, verify_action_list, Action};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::field::Field;
use crate::port::{self, PortNo};
use crate::r#match::{Match, OFP10_MATCH_LEN};
use crate::value::Value;
use crate::version::Version;
use crate::wire::{put_u16, put_u32, put_u64, put_zeros};

/// OFPT_PACKET_IN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    /// OFPR_* (0 no_match/table_miss, 1 action/apply_action, 2 invalid_ttl...).
    pub reason: u8,
    /// 1.3+.
    pub table_id: u8,
    /// 1.3+.
    pub cookie: u64,
    /// Pipeline fields; in 1.0 just `in_port`.
    pub r#match: Match,
    pub data: Vec<u8>,
}

impl PacketIn {
    /// The ingress port (from the match).
    pub fn in_port(&self) -> Option<PortNo> {
        self.r#match.exact_u128(Field::InPort).map(|p| p as PortNo)
    }

    pub fn decode(version: Version, body: &[u8]) -> Result<PacketIn> {
        let r = rd(body, "ofp_packet_in");
        if version == Version::Of10 {
            r.need(10)?;
            let mut m = Match::new();
            m.set_exact(Field::InPort, Value::from_u16(r.u16(6)?));
            return Ok(PacketIn {
                buffer_id: r.u32(0)?,
                total_len: r.u16(4)?,
                reason: r.u8(8)?,
                table_id: 0,
                cookie: 0,
                r#match: m,
                data: r.tail(10)?.to_vec(),
            });
        }
        r.need(16)?;
        let (m, n) = Match::decode_ofp12(r.tail(16)?)?;
        Ok(PacketIn {
            buffer_id: r.u32(0)?,
            total_len: r.u16(4)?,
            reason: r.u8(6)?,
            table_id: r.u8(7)?,
            cookie: r.u64(8)?,
            r#match: m,
            data: r.tail(16 + n + 2)?.to_vec(),
        })
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        put_u32(out, self.buffer_id);
        put_u16(out, self.total_len);
        if version == Version::Of10 {
            put_u16(out, self.in_port().unwrap_or(port::OFPP_NONE));
            out.push(self.reason);
            out.push(0);
        } else {
            out.push(self.reason);
            out.push(self.table_id);
            put_u64(out, self.cookie);
            self.r#match.encode_ofp12(version, out);
            put_zeros(out, 2);
        }
        out.extend_from_slice(&self.data);
    }
}

/// OFPT_PACKET_OUT.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketOut {
    /// 0xffffffff = packet in `data`.
    pub buffer_id: u32,
    pub in_port: PortNo,
    /// 1.5: the whole pipeline match (in_port included there); other
    /// versions leave it empty.
    pub r#match: Match,
    pub actions: Vec<Action>,
    pub data: Vec<u8>,
}

impl PacketOut {
    pub fn decode(version: Version, body: &[u8]) -> Result<PacketOut> {
        let r = rd(body, "ofp_packet_out");
        let bad = DecodeError::new(ErrorCode::OfpbrcBadLen, "packet_out actions_len");
        match version {
            Version::Of10 => {
                r.need(8)?;
                let alen = r.u16(6)? as usize;
                let acts = r.slice(8, 8 + alen).map_err(|_| bad)?;
                Ok(PacketOut {
                    buffer_id: r.u32(0)?,
                    in_port: r.u16(4)?,
                    r#match: Match::new(),
                    actions: verify_action_list(version, decode_actions(version, acts)?)?,
                    data: r.tail(8 + alen)?.to_vec(),
                })
            }
            Version::Of15 => {
                r.need(8)?;
                let alen = r.u16(4)? as usize;
                let (m, n) = Match::decode_ofp12(r.tail(8)?)?;
                let acts = r.slice(8 + n, 8 + n + alen).map_err(|_| bad)?;
                let in_port = m
                    .exact_u128(Field::InPort)
                    .map_or(port::OFPP_NONE, |p| p as PortNo);
                Ok(PacketOut {
                    buffer_id: r.u32(0)?,
                    in_port,
                    r#match: m,
                    actions: verify_action_list(version, decode_actions(version, acts)?)?,
                    data: r.tail(8 + n + alen)?.to_vec(),
                })
            }
            _ => {
                r.need(16)?;
                let alen = r.u16(8)? as usize;
                let acts = r.slice(16, 16 + alen).map_err(|_| bad)?;
                Ok(PacketOut {
                    buffer_id: r.u32(0)?,
                    in_port: port::from_ofp11(r.u32(4)?)?,
                    r#match: Match::new(),
                    actions: verify_action_list(version, decode_actions(version, acts)?)?,
                    data: r.tail(16 + alen)?.to_vec(),
                })
            }
        }
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        put_u32(out, self.buffer_id);
        match version {
            Version::Of10 => {
                put_u16(out, self.in_port);
                let at = out.len();
                put_u16(out, 0);
                let s = out.len();
                encode_actions(version, &self.actions, out);
                let n = (out.len() - s) as u16;
                out[at..at + 2].copy_from_slice(&n.to_be_bytes());
            }
            Version::Of15 => {
                let at = out.len();
                put_u16(out, 0);
                put_zeros(out, 2);
                let mut m = self.r#match.clone();
                if m.get(Field::InPort).is_none() {
                    m.fields.insert(
                        0,
                        crate::r#match::MatchField {
                            field: Field::InPort,
                            value: Value::from_u16(self.in_port),
                            mask: None,
                        },
                    );
                }
                m.encode_ofp12(version, out);
                let s = out.len();
                encode_actions(version, &self.actions, out);
                let n = (out.len() - s) as u16;
                out[at..at + 2].copy_from_slice(&n.to_be_bytes());
            }
            _ => {
                put_u32(out, port::to_ofp11(self.in_port));
                let at = out.len();
                put_u16(out, 0);
                put_zeros(out, 6);
                let s = out.len();
                encode_actions(version, &self.actions, out);
                let n = (out.len() - s) as u16;
                out[at..at + 2].copy_from_slice(&n.to_be_bytes());
            }
        }
        out.extend_from_slice(&self.data);
    }
}

/// OFPT_FLOW_REMOVED.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    /// OFPRR_IDLE_TIMEOUT 0, HARD_TIMEOUT 1, DELETE 2, GROUP_DELETE 3...
    pub reason: u8,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
}

impl FlowRemoved {
    pub fn decode(version: Version, body: &[u8]) -> Result<FlowRemoved> {
        let r = rd(body, "ofp_flow_removed");
        match version {
            Version::Of10 => {
                if body.len() != OFP10_MATCH_LEN + 40 {
                    return Err(DecodeError::new(
                        ErrorCode::OfpbrcBadLen,
                        "ofp10_flow_removed",
                    ));
                }
                let m = Match::decode_ofp10(body)?;
                let o = OFP10_MATCH_LEN;
                Ok(FlowRemoved {
                    cookie: r.u64(o)?,
                    priority: r.u16(o + 8)?,
                    reason: r.u8(o + 10)?,
                    table_id: 0,
                    duration_sec: r.u32(o + 12)?,
                    duration_nsec: r.u32(o + 16)?,
                    idle_timeout: r.u16(o + 20)?,
                    hard_timeout: 0,
                    packet_count: r.u64(o + 24)?,
                    byte_count: r.u64(o + 32)?,
                    r#match: m,
                })
            }
            Version::Of15 => {
                r.need(16)?;
                let (m, n) = Match::decode_ofp12(r.tail(16)?)?;
                let st = OxsStats::decode(r.tail(16 + n)?)?;
                Ok(FlowRemoved {
                    table_id: r.u8(0)?,
                    reason: r.u8(1)?,
                    priority: r.u16(2)?,
                    idle_timeout: r.u16(4)?,
                    hard_timeout: r.u16(6)?,
                    cookie: r.u64(8)?,
                    duration_sec: st.duration.map_or(0, |d| d.0),
                    duration_nsec: st.duration.map_or(0, |d| d.1),
                    packet_count: st.packet_count.unwrap_or(0),
                    byte_count: st.byte_count.unwrap_or(0),
                    r#match: m,
                })
            }
            _ => {
                r.need(40)?;
                let (m, n) = Match::decode_ofp12(r.tail(40)?)?;
                if 40 + n != body.len() {
                    return Err(DecodeError::new(
                        ErrorCode::OfpbrcBadLen,
                        "ofp11_flow_removed",
                    ));
                }
                Ok(FlowRemoved {
                    cookie: r.u64(0)?,
                    priority: r.u16(8)?,
                    reason: r.u8(10)?,
                    table_id: r.u8(11)?,
                    duration_sec: r.u32(12)?,
                    duration_nsec: r.u32(16)?,
                    idle_timeout: r.u16(20)?,
                    hard_timeout: r.u16(22)?,
                    packet_count: r.u64(24)?,
                    byte_count: r.u64(32)?,
                    r#match: m,
                })
            }
        }
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        match version {
            Version::Of10 => {
                self.r#match.encode_ofp10(out);
                put_u64(out, self.cookie);
                put_u16(out, self.priority);
                out.push(self.reason);
                out.push(0);
                put_u32(out, self.duration_sec);
                put_u32(out, self.duration_nsec);
                put_u16(out, self.idle_timeout);
                put_zeros(out, 2);
                put_u64(out, self.packet_count);
                put_u64(out, self.byte_count);
            }
            Version::Of15 => {
                out.push(self.table_id);
                out.push(self.reason);
                put_u16(out, self.priority);
                put_u16(out, self.idle_timeout);
                put_u16(out, self.hard_timeout);
                put_u64(out, self.cookie);
                self.r#match.encode_ofp12(version, out);
                OxsStats::of_flow(
                    (self.duration_sec, self.duration_nsec),
                    self.packet_count,
                    self.byte_count,
                )
                .encode(out);
            }
            _ => {
                put_u64(out, self.cookie);
                put_u16(out, self.priority);
                out.push(self.reason);
                out.push(self.table_id);
                put_u32(out, self.duration_sec);
                put_u32(out, self.duration_nsec);
                put_u16(out, self.idle_timeout);
                put_u16(out, self.hard_timeout);
                put_u64(out, self.packet_count);
                put_u64(out, self.byte_count);
                self.r#match.encode_ofp12(version, out);
            }
        }
    }
}

/// OpenFlow 1.5 `ofp_stats`: OXS TLVs (class 0x8002) for flow statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OxsStats {
    /// (sec, nsec).
    pub duration: Option<(u32, u32)>,
    /// (sec, nsec).
    pub idle_time: Option<(u32, u32)>,
    pub flow_count: Option<u32>,
    pub packet_count: Option<u64>,
    pub byte_count: Option<u64>,
}

impl OxsStats {
    /// The statistics of one flow as flow-stats replies and flow-removed
    /// messages carry them: duration, packet and byte counts.
    pub fn of_flow(duration: (u32, u32), packets: u64, bytes: u64) -> OxsStats {
        OxsStats {
            duration: Some(duration),
            packet_count: Some(packets),
            byte_count: Some(bytes),
            ..OxsStats::default()
        }
    }

    /// Decodes `reserved(2) length(2) TLVs`, padded to 8; must fill `b`
    /// up to its padded length (the caller passes the rest of the body).
    pub fn decode(b: &[u8]) -> Result<OxsStats> {
        Ok(Self::decode_prefix(b)?.0)
    }

    /// Like `decode` but returns the padded length used.
    pub fn decode_prefix(b: &[u8]) -> Result<(OxsStats, usize)> {
        let r = rd(b, "ofp_stats");
        let len = r.u16(2)? as usize;
        let padded = len.div_ceil(8) * 8;
        if len < 4 || padded > b.len() {
            return Err(DecodeError::new(
                ErrorCode::OfpbrcBadLen,
                "ofp_stats length",
            ));
        }
        let mut s = OxsStats::default();
        let mut o = 4;
        while o < len {
            let w = r.u32(o)?;
            let class = (w >> 16) as u16;
            let field = ((w >> 9) & 0x7f) as u8;
            let n = (w & 0xff) as usize;
            let v = rd(r.slice(o + 4, o + 4 + n)?, "oxs value");
            if class == 0x8002 {
                match (field, n) {
                    (0, 8) => s.duration = Some((v.u32(0)?, v.u32(4)?)),
                    (1, 8) => s.idle_time = Some((v.u32(0)?, v.u32(4)?)),
                    (3, 4) => s.flow_count = Some(v.u32(0)?),
                    (4, 8) => s.packet_count = Some(v.u64(0)?),
                    (5, 8) => s.byte_count = Some(v.u64(0)?),
                    _ => {}
                }
            }
            o += 4 + n;
        }
        Ok((s, padded))
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let s = out.len();
        put_u16(out, 0);
        put_u16(out, 0);
        let tlv = |out: &mut Vec<u8>, f: u32, v: &[u8]| {
            put_u32(out, (0x8002 << 16) | (f << 9) | v.len() as u32);
            out.extend_from_slice(v);
        };
        if let Some((a, b)) = self.duration {
            tlv(out, 0, &((u64::from(a) << 32) | u64::from(b)).to_be_bytes());
        }
        if let Some((a, b)) = self.idle_time {
            tlv(out, 1, &((u64::from(a) << 32) | u64::from(b)).to_be_bytes());
        }
        // OVS's order (`oxs_put_stats`): flow_count last.
        if let Some(c) = self.packet_count {
            tlv(out, 4, &c.to_be_bytes());
        }
        if let Some(c) = self.byte_count {
            tlv(out, 5, &c.to_be_bytes());
        }
        if let Some(c) = self.flow_count {
            tlv(out, 3, &c.to_be_bytes());
        }
        let len = (out.len() - s) as u16;
        out[s + 2..s + 4].copy_from_slice(&len.to_be_bytes());
        crate::r#match::pad8(out, s);
    }
}
