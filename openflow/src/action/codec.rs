//! Standard OpenFlow action codec (OFPAT_*), dispatching Nicira ones to `nx`.
//!
//! Every action is `type:u16, len:u16, body`, `len` a multiple of 8.  The
//! decoder checks `len` once per action and reads the body through the
//! checked reader, so malformed input yields OFPBAC_BAD_LEN and friends.

use super::{nx, Action};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::field::Field;
use crate::port;
use crate::r#match::{pad8, Match};
use crate::value::Value;
use crate::version::Version;
use crate::wire::{put_u16, put_u16_at, put_u32, put_zeros, Rd};

pub(crate) const NX_VENDOR: u32 = 0x0000_2320;

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

/// Decodes an action list that fills `buf` exactly.
pub fn decode_actions(version: Version, buf: &[u8]) -> Result<Vec<Action>> {
    decode_actions_depth(version, buf, 0)
}

pub(crate) fn decode_actions_depth(version: Version, buf: &[u8], depth: u8) -> Result<Vec<Action>> {
    if depth > 8 {
        return Err(bad(ErrorCode::OfpbacBadLen, "actions nested too deep"));
    }
    let mut out = Vec::with_capacity(buf.len() / 8);
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 8 {
            return Err(bad(ErrorCode::OfpbacBadLen, "action header"));
        }
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        if len < 8 || len & 7 != 0 || len > rest.len() {
            return Err(bad(ErrorCode::OfpbacBadLen, "action length"));
        }
        out.push(decode_one(version, &rest[..len], depth)?);
        rest = &rest[len..];
    }
    Ok(out)
}

fn fixed(a: &Rd<'_>, n: usize) -> Result<()> {
    if a.len() != n {
        Err(bad(ErrorCode::OfpbacBadLen, "action length"))
    } else {
        Ok(())
    }
}

fn decode_one(version: Version, a: &[u8], depth: u8) -> Result<Action> {
    let r = Rd::new(a, ErrorCode::OfpbacBadLen, "action");
    let ty = r.u16(0)?;
    if ty == 0xffff {
        let exp = r.u32(4)?;
        if exp == NX_VENDOR {
            return nx::decode(version, a, depth);
        }
        return Ok(Action::Experimenter {
            experimenter: exp,
            body: r.tail(8)?.to_vec(),
        });
    }
    if version == Version::Of10 {
        return decode_of10(ty, &r);
    }
    Ok(match ty {
        0 => {
            fixed(&r, 16)?;
            Action::Output {
                port: port::from_ofp11(r.u32(4)?)?,
                max_len: r.u16(8)?,
            }
        }
        1 => {
            fixed(&r, 8)?;
            Action::SetVlanVid(r.u16(4)?)
        }
        2 => {
            fixed(&r, 8)?;
            Action::SetVlanPcp(r.u8(4)?)
        }
        3 | 4 => {
            fixed(&r, 16)?;
            let mac = r.arr::<6>(4)?;
            if ty == 3 {
                Action::SetDlSrc(mac)
            } else {
                Action::SetDlDst(mac)
            }
        }
        5 => {
            fixed(&r, 8)?;
            Action::SetNwSrc(r.u32(4)?)
        }
        6 => {
            fixed(&r, 8)?;
            Action::SetNwDst(r.u32(4)?)
        }
        7 => {
            fixed(&r, 8)?;
            Action::SetNwTos(r.u8(4)?)
        }
        8 => {
            fixed(&r, 8)?;
            Action::SetNwEcn(r.u8(4)?)
        }
        9 => {
            fixed(&r, 8)?;
            Action::SetTpSrc(r.u16(4)?)
        }
        10 => {
            fixed(&r, 8)?;
            Action::SetTpDst(r.u16(4)?)
        }
        11 => {
            fixed(&r, 8)?;
            Action::CopyTtlOut
        }
        12 => {
            fixed(&r, 8)?;
            Action::CopyTtlIn
        }
        13 => {
            fixed(&r, 8)?;
            Action::SetMplsLabel(r.u32(4)?)
        }
        14 => {
            fixed(&r, 8)?;
            Action::SetMplsTc(r.u8(4)?)
        }
        15 => {
            fixed(&r, 8)?;
            Action::SetMplsTtl(r.u8(4)?)
        }
        16 => {
            fixed(&r, 8)?;
            Action::DecMplsTtl
        }
        17 => {
            fixed(&r, 8)?;
            Action::PushVlan(r.u16(4)?)
        }
        18 => {
            fixed(&r, 8)?;
            Action::PopVlan
        }
        19 => {
            fixed(&r, 8)?;
            Action::PushMpls(r.u16(4)?)
        }
        20 => {
            fixed(&r, 8)?;
            Action::PopMpls(r.u16(4)?)
        }
        21 => {
            fixed(&r, 8)?;
            Action::SetQueue(r.u32(4)?)
        }
        22 => {
            fixed(&r, 8)?;
            Action::Group(r.u32(4)?)
        }
        23 => {
            fixed(&r, 8)?;
            Action::SetNwTtl(r.u8(4)?)
        }
        24 => {
            fixed(&r, 8)?;
            Action::DecTtl
        }
        25 => decode_set_field(version, r.tail(4)?, version >= Version::Of15)?,
        26 => {
            fixed(&r, 8)?;
            Action::PushPbb(r.u16(4)?)
        }
        27 => {
            fixed(&r, 8)?;
            Action::PopPbb
        }
        28 if version >= Version::Of15 => {
            // ofp15_action_copy_field: n_bits, src_offset, dst_offset, pad, then two OXM ids.
            let n_bits = r.u16(4)?;
            let src_ofs = r.u16(6)?;
            let dst_ofs = r.u16(8)?;
            let (src, n1) = nx::pull_header(r.tail(12)?)?;
            let (dst, _n2) = nx::pull_header(r.tail(12 + n1)?)?;
            Action::Move {
                src: nx::subfield(src, src_ofs, n_bits)?,
                dst: nx::subfield(dst, dst_ofs, n_bits)?,
            }
        }
        29 if version >= Version::Of15 => {
            fixed(&r, 8)?;
            Action::Meter(r.u32(4)?)
        }
        _ => return Err(bad(ErrorCode::OfpbacBadType, "action type")),
    })
}

fn decode_of10(ty: u16, r: &Rd<'_>) -> Result<Action> {
    Ok(match ty {
        0 => {
            fixed(r, 8)?;
            Action::Output {
                port: r.u16(4)?,
                max_len: r.u16(6)?,
            }
        }
        1 => {
            fixed(r, 8)?;
            Action::SetVlanVid(r.u16(4)?)
        }
        2 => {
            fixed(r, 8)?;
            Action::SetVlanPcp(r.u8(4)?)
        }
        3 => {
            fixed(r, 8)?;
            Action::PopVlan
        }
        4 | 5 => {
            fixed(r, 16)?;
            let mac = r.arr::<6>(4)?;
            if ty == 4 {
                Action::SetDlSrc(mac)
            } else {
                Action::SetDlDst(mac)
            }
        }
        6 => {
            fixed(r, 8)?;
            Action::SetNwSrc(r.u32(4)?)
        }
        7 => {
            fixed(r, 8)?;
            Action::SetNwDst(r.u32(4)?)
        }
        8 => {
            fixed(r, 8)?;
            Action::SetNwTos(r.u8(4)?)
        }
        9 => {
            fixed(r, 8)?;
            Action::SetTpSrc(r.u16(4)?)
        }
        10 => {
            fixed(r, 8)?;
            Action::SetTpDst(r.u16(4)?)
        }
        11 => {
            fixed(r, 16)?;
            Action::Enqueue {
                port: r.u16(4)?,
                queue: r.u32(12)?,
            }
        }
        _ => return Err(bad(ErrorCode::OfpbacBadType, "action type")),
    })
}

/// Decodes the OXM TLV of a set_field / reg_load2 (plus zero padding).
pub(crate) fn decode_set_field(_version: Version, tlv: &[u8], mask_ok: bool) -> Result<Action> {
    let (e, n) =
        crate::oxm::parse_entry(tlv).map_err(|_| bad(ErrorCode::OfpbacBadSetLen, "set_field"))?;
    if tlv[n..].iter().any(|&b| b != 0) {
        return Err(bad(ErrorCode::OfpbacBadSetArgument, "set_field padding"));
    }
    if e.mask.is_some() && !mask_ok {
        return Err(bad(ErrorCode::OfpbacBadSetMask, "set_field mask"));
    }
    let m = Match::decode_tlvs_as_sent(&tlv[..n]).map_err(|e| match e.code {
        ErrorCode::OfpbmcBadField => bad(ErrorCode::OfpbacBadSetType, "set_field field"),
        ErrorCode::OfpbmcBadLen => bad(ErrorCode::OfpbacBadSetLen, "set_field length"),
        _ => bad(ErrorCode::OfpbacBadSetArgument, "set_field value"),
    })?;
    let f = m
        .fields
        .into_iter()
        .next()
        .ok_or(bad(ErrorCode::OfpbacBadSetLen, "set_field"))?;
    if f.field == Field::InPortOxm {
        // OXM_OF_IN_PORT is not settable (OpenFlow 1.3 spec; OVS refuses
        // it so); the NXM in_port is.
        return Err(bad(
            ErrorCode::OfpbacBadSetArgument,
            "set_field in_port (OXM)",
        ));
    }
    Ok(Action::SetField {
        field: f.field,
        value: f.value,
        mask: f.mask,
    })
}

/// Appends the OXM TLV of a set_field (no padding).
pub(crate) fn put_set_field_tlv(
    field: Field,
    value: &Value,
    mask: &Option<Value>,
    oxm_version: Option<Version>,
    out: &mut Vec<u8>,
) {
    if field == Field::InPort && oxm_version.is_some() {
        // The 16-bit NXM form keeps its NXM header in every version (as
        // OVS); `Field::InPortOxm` is the OXM one.
        crate::oxm::OxmHeader::new(0, 0).emit(false, 2, out);
        out.extend_from_slice(value.as_bytes());
        return;
    }
    let m = Match {
        fields: vec![crate::r#match::MatchField {
            field,
            value: value.clone(),
            mask: mask.clone(),
        }],
    };
    m.encode_tlvs(oxm_version, out);
}

/// Whether `a` (and every action nested in it) has a wire form in
/// `version`.  The encoders skip actions that have none (as OVS refuses
/// them), so callers that must not lose an action check first.
pub fn check_encodable(
    version: Version,
    a: &Action,
) -> core::result::Result<(), crate::error::EncodeError> {
    let no = |what| Err(crate::error::EncodeError { what, version });
    let v10 = version == Version::Of10;
    match a {
        Action::CopyTtlOut | Action::CopyTtlIn if v10 => no("copy_ttl"),
        Action::PushVlan(_) if v10 => no("push_vlan"),
        Action::SetNwTtl(_) if v10 => no("mod_nw_ttl"),
        Action::SetNwEcn(_) if v10 => no("mod_nw_ecn"),
        Action::PushPbb(_) | Action::PopPbb if v10 => no("pbb"),
        Action::Meter(_) if version < Version::Of15 => {
            no("meter action (use the meter instruction)")
        }
        Action::Encap { .. } | Action::Decap { .. } | Action::DecNshTtl if v10 => no("encap/decap"),
        Action::SetField { field, .. } if field.info().headers.is_empty() => {
            no("set_field of a field without NXM/OXM")
        }
        Action::Ct(c) => c
            .actions
            .iter()
            .try_for_each(|x| check_encodable(version, x)),
        Action::Clone(l) => l.iter().try_for_each(|x| check_encodable(version, x)),
        _ => Ok(()),
    }
}

/// Appends an action list in `version`'s encoding.
pub fn encode_actions(version: Version, actions: &[Action], out: &mut Vec<u8>) {
    for a in actions {
        encode_one(version, a, out);
    }
}

/// Starts a standard action: type and a length to be patched by `finish`.
fn start(out: &mut Vec<u8>, ty: u16) -> usize {
    let s = out.len();
    put_u16(out, ty);
    put_u16(out, 0);
    s
}

/// Pads the action begun at `s` to 8 bytes and writes its length.
pub(crate) fn finish(out: &mut Vec<u8>, s: usize) {
    pad8(out, s);
    let len = (out.len() - s) as u16;
    put_u16_at(out, s + 2, len);
}

fn simple8(out: &mut Vec<u8>, ty: u16, arg: &[u8]) {
    let s = start(out, ty);
    out.extend_from_slice(arg);
    finish(out, s);
}

fn encode_one(version: Version, a: &Action, out: &mut Vec<u8>) {
    let v10 = version == Version::Of10;
    match a {
        Action::Output { port: p, max_len } => {
            if v10 {
                let s = start(out, 0);
                put_u16(out, *p);
                put_u16(out, *max_len);
                finish(out, s);
            } else {
                let s = start(out, 0);
                put_u32(out, port::to_ofp11(*p));
                put_u16(out, *max_len);
                put_zeros(out, 6);
                finish(out, s);
            }
        }
        Action::Enqueue { port: p, queue } if v10 => {
            let s = start(out, 11);
            put_u16(out, *p);
            put_zeros(out, 6);
            put_u32(out, *queue);
            finish(out, s);
        }
        Action::Enqueue { port: p, queue } => {
            // 1.1+: set_queue then output.
            encode_one(version, &Action::SetQueue(*queue), out);
            encode_one(
                version,
                &Action::Output {
                    port: *p,
                    max_len: 0,
                },
                out,
            );
        }
        Action::SetVlanVid(v) if v10 => simple8(out, 1, &v.to_be_bytes()),
        Action::SetVlanPcp(v) if v10 => simple8(out, 2, &[*v]),
        Action::PopVlan if v10 => simple8(out, 3, &[]),
        Action::SetDlSrc(m) if v10 => simple8(out, 4, m),
        Action::SetDlDst(m) if v10 => simple8(out, 5, m),
        Action::SetNwSrc(v) if v10 => simple8(out, 6, &v.to_be_bytes()),
        Action::SetNwDst(v) if v10 => simple8(out, 7, &v.to_be_bytes()),
        Action::SetNwTos(v) if v10 => simple8(out, 8, &[*v]),
        Action::SetTpSrc(v) if v10 => simple8(out, 9, &v.to_be_bytes()),
        Action::SetTpDst(v) if v10 => simple8(out, 10, &v.to_be_bytes()),
        // OpenFlow 1.0 has no native form for the rest: Nicira.
        _ if v10 => nx::encode(version, a, out),
        // ---- 1.1+ ----
        Action::SetVlanVid(v) => {
            set_field(version, Field::VlanVid, Value::from_u16(*v | 0x1000), out)
        }
        Action::SetVlanPcp(v) => set_field(version, Field::VlanPcp, Value::from_u8(*v), out),
        Action::PopVlan => simple8(out, 18, &[]),
        Action::PushVlan(e) => simple8(out, 17, &e.to_be_bytes()),
        Action::SetDlSrc(m) => set_field(version, Field::EthSrc, Value::from_slice(m), out),
        Action::SetDlDst(m) => set_field(version, Field::EthDst, Value::from_slice(m), out),
        Action::SetNwSrc(v) => set_field(version, Field::IpSrc, Value::from_u32(*v), out),
        Action::SetNwDst(v) => set_field(version, Field::IpDst, Value::from_u32(*v), out),
        Action::SetNwTos(v) => set_field(version, Field::IpDscp, Value::from_u8(*v >> 2), out),
        Action::SetNwEcn(v) => set_field(version, Field::NwEcn, Value::from_u8(*v), out),
        Action::SetTpSrc(v) => set_field(version, Field::TcpSrc, Value::from_u16(*v), out),
        Action::SetTpDst(v) => set_field(version, Field::TcpDst, Value::from_u16(*v), out),
        Action::CopyTtlOut => simple8(out, 11, &[]),
        Action::CopyTtlIn => simple8(out, 12, &[]),
        Action::SetMplsLabel(v) => set_field(version, Field::MplsLabel, Value::from_u32(*v), out),
        Action::SetMplsTc(v) => set_field(version, Field::MplsTc, Value::from_u8(*v), out),
        Action::SetMplsTtl(v) => simple8(out, 15, &[*v]),
        Action::DecMplsTtl => simple8(out, 16, &[]),
        Action::PushMpls(e) => simple8(out, 19, &e.to_be_bytes()),
        Action::PopMpls(e) => simple8(out, 20, &e.to_be_bytes()),
        Action::SetQueue(q) => simple8(out, 21, &q.to_be_bytes()),
        Action::Group(g) => simple8(out, 22, &g.to_be_bytes()),
        Action::SetNwTtl(t) => simple8(out, 23, &[*t]),
        Action::DecTtl => simple8(out, 24, &[]),
        Action::SetField { field, value, mask } => {
            let s = start(out, 25);
            put_set_field_tlv(*field, value, mask, Some(version), out);
            finish(out, s);
        }
        Action::PushPbb(e) => simple8(out, 26, &e.to_be_bytes()),
        Action::PopPbb => simple8(out, 27, &[]),
        Action::Meter(m) if version >= Version::Of15 => simple8(out, 29, &m.to_be_bytes()),
        // NXAST_REG_LOAD does not exist in 1.5 (OVS: NX1.0-1.4): masked set_field.
        Action::RegLoad { dst, value } if version >= Version::Of15 => {
            let w = dst.field.info().width as usize;
            let (value, mask) = reg_load_as_set_field(dst, *value, w);
            encode_one(
                version,
                &Action::SetField {
                    field: dst.field,
                    value,
                    mask,
                },
                out,
            )
        }
        Action::Move { src, dst } if version >= Version::Of15 => {
            let s = start(out, 28);
            put_u16(out, src.n_bits);
            put_u16(out, src.ofs);
            put_u16(out, dst.ofs);
            put_zeros(out, 2);
            nx::put_header(src.field, Some(version), out);
            nx::put_header(dst.field, Some(version), out);
            finish(out, s);
        }
        _ => nx::encode(version, a, out),
    }
}

/// `load:value->field[ofs..ofs+n_bits]` as a set_field value and mask
/// (no mask when the whole field is written).
pub fn reg_load_as_set_field(
    dst: &super::Subfield,
    value: u64,
    width: usize,
) -> (Value, Option<Value>) {
    let bits = (width * 8) as u32;
    let n = u32::from(dst.n_bits).min(bits);
    let ofs = u32::from(dst.ofs);
    let ones: u128 = if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    };
    let mask = ones.checked_shl(ofs).unwrap_or(0);
    let v = (u128::from(value) & ones).checked_shl(ofs).unwrap_or(0);
    let whole = ofs == 0 && n == bits;
    let w = width.min(16);
    let mut val = Value::from_u128_width(v, w);
    if width > 16 {
        let mut b = vec![0u8; width - 16];
        b.extend_from_slice(val.as_bytes());
        val = Value::from_slice(&b);
    }
    let mask = (!whole).then(|| {
        let m = Value::from_u128_width(mask, w);
        if width > 16 {
            let mut b = vec![0u8; width - 16];
            b.extend_from_slice(m.as_bytes());
            Value::from_slice(&b)
        } else {
            m
        }
    });
    (val, mask)
}

fn set_field(version: Version, field: Field, value: Value, out: &mut Vec<u8>) {
    encode_one(
        version,
        &Action::SetField {
            field,
            value,
            mask: None,
        },
        out,
    )
}
