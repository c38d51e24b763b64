//! Table features (multipart type 12): what each table can match, which
//! instructions and actions it takes, where it may go next.
//!
//! Entry: length(2) table_id(1) command(1, 1.5) pad(4) name(32)
//! metadata_match(8) metadata_write(8) capabilities(4) max_entries(4),
//! then properties `type(2) length(2) value`, each padded to 8 bytes
//! (padding not counted in `length`).  Id lists are decoded into typed
//! vectors; anything else (experimenter properties) stays raw so that
//! re-encoding reproduces the bytes.

use super::basic::rd;
use crate::error::{DecodeError, ErrorCode, Result};
use crate::version::Version;
use crate::wire::{put_u16, put_u32, put_u64, put_zeros};

/// One OXM id in a match/wildcards/set-field property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OxmId {
    /// The 32-bit header word (class, field, hasmask, length).
    pub header: u32,
    /// Experimenter id when the class is 0xffff.
    pub experimenter: Option<u32>,
}

/// A property value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TfpValue {
    /// Instruction or action type ids (each `type(2) len(2)=4`).
    Ids(Vec<u16>),
    /// Next-table ids.
    Tables(Vec<u8>),
    /// OXM ids.
    Oxm(Vec<OxmId>),
    /// Anything else (or id lists with experimenter entries), raw.
    Raw(Vec<u8>),
}

/// One table feature property.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableFeatureProp {
    /// OFPTFPT_* (0 instructions, 2 next_tables, 4 write_actions,
    /// 6 apply_actions, 8 match, 10 wildcards, 12 write_setfield,
    /// 14 apply_setfield; +1 = for table-miss; 0xfffe/0xffff experimenter).
    pub type_: u16,
    pub value: TfpValue,
}

/// One table's features.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableFeatures {
    pub table_id: u8,
    /// 1.5 OFPTFC15_* command (0 in earlier versions).
    pub command: u8,
    pub name: [u8; 32],
    pub metadata_match: u64,
    pub metadata_write: u64,
    pub capabilities: u32,
    pub max_entries: u32,
    pub props: Vec<TableFeatureProp>,
}

fn decode_value(ty: u16, v: &[u8]) -> TfpValue {
    match ty {
        0..=7 if ty == 2 || ty == 3 => TfpValue::Tables(v.to_vec()),
        0..=7 => {
            let ok = v.len().is_multiple_of(4)
                && v.chunks_exact(4).all(|c| {
                    u16::from_be_bytes([c[2], c[3]]) == 4
                        && u16::from_be_bytes([c[0], c[1]]) != 0xffff
                });
            if ok {
                TfpValue::Ids(
                    v.chunks_exact(4)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect(),
                )
            } else {
                TfpValue::Raw(v.to_vec())
            }
        }
        8 | 10 | 12..=15 => {
            let mut ids = Vec::new();
            let mut o = 0;
            while o + 4 <= v.len() {
                let h = u32::from_be_bytes([v[o], v[o + 1], v[o + 2], v[o + 3]]);
                if h >> 16 == 0xffff {
                    if o + 8 > v.len() {
                        return TfpValue::Raw(v.to_vec());
                    }
                    let e = u32::from_be_bytes([v[o + 4], v[o + 5], v[o + 6], v[o + 7]]);
                    ids.push(OxmId {
                        header: h,
                        experimenter: Some(e),
                    });
                    o += 8;
                } else {
                    ids.push(OxmId {
                        header: h,
                        experimenter: None,
                    });
                    o += 4;
                }
            }
            if o != v.len() {
                return TfpValue::Raw(v.to_vec());
            }
            TfpValue::Oxm(ids)
        }
        _ => TfpValue::Raw(v.to_vec()),
    }
}

fn encode_value(v: &TfpValue, out: &mut Vec<u8>) {
    match v {
        TfpValue::Ids(ids) => {
            for i in ids {
                put_u16(out, *i);
                put_u16(out, 4);
            }
        }
        TfpValue::Tables(t) => out.extend_from_slice(t),
        TfpValue::Oxm(ids) => {
            for i in ids {
                put_u32(out, i.header);
                if let Some(e) = i.experimenter {
                    put_u32(out, e);
                }
            }
        }
        TfpValue::Raw(r) => out.extend_from_slice(r),
    }
}

impl TableFeatures {
    /// The name up to the first NUL.
    pub fn name_str(&self) -> String {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(32);
        String::from_utf8_lossy(&self.name[..n]).into_owned()
    }

    pub(crate) fn decode_list(version: Version, mut b: &[u8]) -> Result<Vec<TableFeatures>> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let r = rd(b, "ofp_table_features");
            let len = r.u16(0)? as usize;
            if len < 64 || len > b.len() {
                return Err(DecodeError::new(
                    ErrorCode::OfpbrcBadLen,
                    "table features length",
                ));
            }
            let e = rd(&b[..len], "ofp_table_features");
            let mut props = Vec::new();
            let mut o = 64;
            while o < len {
                let ty = e.u16(o)?;
                let plen = e.u16(o + 2)? as usize;
                if plen < 4 || o + plen > len {
                    return Err(DecodeError::new(
                        ErrorCode::OfpbrcBadLen,
                        "table feature property",
                    ));
                }
                props.push(TableFeatureProp {
                    type_: ty,
                    value: decode_value(ty, e.slice(o + 4, o + plen)?),
                });
                o += plen.div_ceil(8) * 8;
            }
            v.push(TableFeatures {
                table_id: e.u8(2)?,
                command: if version >= Version::Of15 {
                    e.u8(3)?
                } else {
                    0
                },
                name: e.arr::<32>(8)?,
                metadata_match: e.u64(40)?,
                metadata_write: e.u64(48)?,
                capabilities: e.u32(56)?,
                max_entries: e.u32(60)?,
                props,
            });
            b = &b[len..];
        }
        Ok(v)
    }

    pub(crate) fn encode_list(version: Version, list: &[TableFeatures], out: &mut Vec<u8>) {
        for t in list {
            let s = out.len();
            put_u16(out, 0);
            out.push(t.table_id);
            out.push(if version >= Version::Of15 {
                t.command
            } else {
                0
            });
            put_zeros(out, 4);
            out.extend_from_slice(&t.name);
            put_u64(out, t.metadata_match);
            put_u64(out, t.metadata_write);
            put_u32(out, t.capabilities);
            put_u32(out, t.max_entries);
            for p in &t.props {
                let ps = out.len();
                put_u16(out, p.type_);
                put_u16(out, 0);
                encode_value(&p.value, out);
                let plen = (out.len() - ps) as u16;
                out[ps + 2..ps + 4].copy_from_slice(&plen.to_be_bytes());
                crate::r#match::pad8(out, ps);
            }
            let len = (out.len() - s) as u16;
            out[s..s + 2].copy_from_slice(&len.to_be_bytes());
        }
    }
}
