//! Group-mod and meter-mod, with their buckets and bands (also used by the
//! group-desc and meter-config multipart replies).
//!
//! Buckets 1.1-1.4: len(2) weight(2) watch_port(4) watch_group(4) pad(4)
//! actions.  1.5: len(2) action_array_len(2) bucket_id(4) actions, then
//! properties (weight, watch_port, watch_group).  Bands: type(2) len(2)
//! rate(4) burst(4) and a type-specific 4 bytes (dscp prec_level, or the
//! experimenter id).

use super::basic::rd;
use crate::action::{decode_actions, encode_actions, verify_action_list, Action};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::port::{self, PortNo};
use crate::version::Version;
use crate::wire::{put_u16, put_u32, put_zeros};

/// OFPGT11_SELECT.
const GROUP_TYPE_SELECT: u8 = 1;

/// One group bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// 1.5 bucket id (0xffffffff when unset; earlier versions number
    /// buckets by position).
    pub bucket_id: u32,
    pub weight: u16,
    /// OFPP_NONE/OFPP_ANY when unused.
    pub watch_port: PortNo,
    /// OFPG_ANY (0xffffffff) when unused.
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    fn decode(version: Version, b: &[u8]) -> Result<(Bucket, usize)> {
        let r = rd(b, "ofp_bucket");
        let len = r.u16(0)? as usize;
        if len < 16 || len > b.len() || len & 7 != 0 {
            return Err(DecodeError::new(
                ErrorCode::OfpgmfcBadBucket,
                "bucket length",
            ));
        }
        if version >= Version::Of15 {
            let alen = r.u16(2)? as usize;
            if 8 + alen > len {
                return Err(DecodeError::new(
                    ErrorCode::OfpgmfcBadBucket,
                    "bucket action_array_len",
                ));
            }
            let mut bk = Bucket {
                bucket_id: r.u32(4)?,
                weight: 0,
                watch_port: port::OFPP_NONE,
                watch_group: u32::MAX,
                actions: verify_action_list(
                    version,
                    decode_actions(version, r.slice(8, 8 + alen)?)?,
                )?,
            };
            let mut o = 8 + alen;
            while o + 4 <= len {
                let ty = r.u16(o)?;
                let plen = r.u16(o + 2)? as usize;
                if plen < 4 || o + plen > len {
                    return Err(DecodeError::new(
                        ErrorCode::OfpgmfcBadBucket,
                        "bucket property",
                    ));
                }
                match ty {
                    0 => bk.weight = r.u16(o + 4)?,
                    1 => bk.watch_port = port::from_ofp11(r.u32(o + 4)?)?,
                    2 => bk.watch_group = r.u32(o + 4)?,
                    _ => {}
                }
                o += plen.div_ceil(8) * 8;
            }
            return Ok((bk, len));
        }
        Ok((
            Bucket {
                bucket_id: u32::MAX,
                weight: r.u16(2)?,
                watch_port: port::from_ofp11(r.u32(4)?)?,
                watch_group: r.u32(8)?,
                actions: verify_action_list(version, decode_actions(version, r.slice(16, len)?)?)?,
            },
            len,
        ))
    }

    /// `group_type` decides the 1.5 weight property, as in OVS: present
    /// (even when 0) in a select group's buckets, absent elsewhere.
    fn encode(&self, version: Version, group_type: u8, out: &mut Vec<u8>) {
        let s = out.len();
        if version >= Version::Of15 {
            put_u16(out, 0);
            put_u16(out, 0);
            put_u32(out, self.bucket_id);
            let a = out.len();
            encode_actions(version, &self.actions, out);
            let alen = (out.len() - a) as u16;
            out[s + 2..s + 4].copy_from_slice(&alen.to_be_bytes());
            // Properties as OVS sends them: the weight for a select
            // group, the watches when set.
            if group_type == GROUP_TYPE_SELECT {
                put_u16(out, 0);
                put_u16(out, 8);
                put_u16(out, self.weight);
                put_zeros(out, 2);
            }
            if self.watch_port != port::OFPP_NONE {
                put_u16(out, 1);
                put_u16(out, 8);
                put_u32(out, port::to_ofp11(self.watch_port));
            }
            if self.watch_group != u32::MAX {
                put_u16(out, 2);
                put_u16(out, 8);
                put_u32(out, self.watch_group);
            }
        } else {
            put_u16(out, 0);
            put_u16(out, self.weight);
            put_u32(out, port::to_ofp11(self.watch_port));
            put_u32(out, self.watch_group);
            put_zeros(out, 4);
            encode_actions(version, &self.actions, out);
        }
        let len = (out.len() - s) as u16;
        out[s..s + 2].copy_from_slice(&len.to_be_bytes());
    }

    pub(crate) fn decode_list(version: Version, mut b: &[u8]) -> Result<Vec<Bucket>> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let (bk, n) = Bucket::decode(version, b)?;
            v.push(bk);
            b = &b[n..];
        }
        Ok(v)
    }

    pub(crate) fn encode_list(
        version: Version,
        group_type: u8,
        list: &[Bucket],
        out: &mut Vec<u8>,
    ) {
        for b in list {
            b.encode(version, group_type, out);
        }
    }
}

/// OFPT_GROUP_MOD.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupMod {
    /// OFPGC_ADD 0, MODIFY 1, DELETE 2, (1.5: INSERT_BUCKET 3, REMOVE_BUCKET 5).
    pub command: u16,
    /// OFPGT_ALL 0, SELECT 1, INDIRECT 2, FF 3.
    pub type_: u8,
    pub group_id: u32,
    /// 1.5 only (OFPG15_BUCKET_ALL etc.).
    pub command_bucket_id: u32,
    pub buckets: Vec<Bucket>,
    /// 1.5 group properties (e.g. OVS's selection method), raw.
    pub props: Vec<u8>,
}

impl GroupMod {
    pub fn decode(version: Version, body: &[u8]) -> Result<GroupMod> {
        let r = rd(body, "ofp_group_mod");
        r.need(8)?;
        if version >= Version::Of15 {
            r.need(16)?;
            let blen = r.u16(8)? as usize;
            let buckets = r.slice(16, 16 + blen)?;
            return Ok(GroupMod {
                command: r.u16(0)?,
                type_: r.u8(2)?,
                group_id: r.u32(4)?,
                command_bucket_id: r.u32(12)?,
                buckets: Bucket::decode_list(version, buckets)?,
                props: r.tail(16 + blen)?.to_vec(),
            });
        }
        Ok(GroupMod {
            command: r.u16(0)?,
            type_: r.u8(2)?,
            group_id: r.u32(4)?,
            command_bucket_id: u32::MAX,
            buckets: Bucket::decode_list(version, r.tail(8)?)?,
            props: Vec::new(),
        })
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        put_u16(out, self.command);
        out.push(self.type_);
        out.push(0);
        put_u32(out, self.group_id);
        if version >= Version::Of15 {
            let at = out.len();
            put_u16(out, 0);
            put_zeros(out, 2);
            put_u32(out, self.command_bucket_id);
            let s = out.len();
            Bucket::encode_list(version, self.type_, &self.buckets, out);
            let n = (out.len() - s) as u16;
            out[at..at + 2].copy_from_slice(&n.to_be_bytes());
            out.extend_from_slice(&self.props);
        } else {
            Bucket::encode_list(version, self.type_, &self.buckets, out);
        }
    }
}

/// One meter band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeterBand {
    /// OFPMBT_DROP 1, DSCP_REMARK 2, EXPERIMENTER 0xffff.
    pub type_: u16,
    pub rate: u32,
    pub burst_size: u32,
    /// DSCP_REMARK: prec_level.
    pub prec_level: u8,
    /// EXPERIMENTER: experimenter id.
    pub experimenter: u32,
}

impl MeterBand {
    pub(crate) fn decode_list(mut b: &[u8]) -> Result<Vec<MeterBand>> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let r = rd(b, "ofp_meter_band");
            let ty = r.u16(0)?;
            let len = r.u16(2)? as usize;
            if len != 16 || len > b.len() {
                return Err(DecodeError::new(
                    ErrorCode::OfpmmfcBadBand,
                    "meter band length",
                ));
            }
            v.push(MeterBand {
                type_: ty,
                rate: r.u32(4)?,
                burst_size: r.u32(8)?,
                prec_level: if ty == 2 { r.u8(12)? } else { 0 },
                experimenter: if ty == 0xffff { r.u32(12)? } else { 0 },
            });
            b = &b[16..];
        }
        Ok(v)
    }

    pub(crate) fn encode_list(list: &[MeterBand], out: &mut Vec<u8>) {
        for b in list {
            put_u16(out, b.type_);
            put_u16(out, 16);
            put_u32(out, b.rate);
            put_u32(out, b.burst_size);
            match b.type_ {
                2 => {
                    out.push(b.prec_level);
                    put_zeros(out, 3);
                }
                0xffff => put_u32(out, b.experimenter),
                _ => put_zeros(out, 4),
            }
        }
    }
}

/// OFPT_METER_MOD (1.3+).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MeterMod {
    /// OFPMC_ADD 0, MODIFY 1, DELETE 2.
    pub command: u16,
    /// OFPMF_KBPS 1, PKTPS 2, BURST 4, STATS 8.
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    pub fn decode(body: &[u8]) -> Result<MeterMod> {
        let r = rd(body, "ofp_meter_mod");
        r.need(8)?;
        Ok(MeterMod {
            command: r.u16(0)?,
            flags: r.u16(2)?,
            meter_id: r.u32(4)?,
            bands: MeterBand::decode_list(r.tail(8)?)?,
        })
    }
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.command);
        put_u16(out, self.flags);
        put_u32(out, self.meter_id);
        MeterBand::encode_list(&self.bands, out);
    }
}
