//! Nicira extension actions (OFPAT_VENDOR / experimenter 0x00002320).
//!
//! Every one starts `type=0xffff, len, vendor=0x2320, subtype:u16`; the
//! rest is per subtype (layouts from OVS's `ofp-actions.c`, written here
//! from scratch).  Field references are NXM/OXM headers (4 bytes, or 8 for
//! experimenter classes) plus bit offsets; "ofs_nbits" packs
//! `ofs << 6 | (n_bits - 1)`.

use super::codec::{
    decode_actions_depth, decode_set_field, encode_actions, finish, put_set_field_tlv, NX_VENDOR,
};
use super::{
    Action, Bundle, Controller, Ct, CtZone, Learn, Learn2, LearnDst, LearnSpec, LearnSrc,
    Multipath, Nat, NatRange, Sample, Subfield,
};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::field::Field;
use crate::oxm::{self, OxmHeader};
use crate::version::Version;
use crate::wire::{put_u16, put_u32, put_u64, put_zeros, Rd};

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

// Subtypes.
const RESUBMIT: u16 = 1;
const SET_TUNNEL: u16 = 2;
const SET_QUEUE: u16 = 4;
const POP_QUEUE: u16 = 5;
const REG_MOVE: u16 = 6;
const REG_LOAD: u16 = 7;
const NOTE: u16 = 8;
const SET_TUNNEL64: u16 = 9;
const MULTIPATH: u16 = 10;
const BUNDLE: u16 = 12;
const BUNDLE_LOAD: u16 = 13;
const RESUBMIT_TABLE: u16 = 14;
const OUTPUT_REG: u16 = 15;
const LEARN: u16 = 16;
const EXIT: u16 = 17;
const DEC_TTL: u16 = 18;
const FIN_TIMEOUT: u16 = 19;
const CONTROLLER: u16 = 20;
const DEC_TTL_CNT_IDS: u16 = 21;
const WRITE_METADATA: u16 = 22;
const PUSH_MPLS: u16 = 23;
const POP_MPLS: u16 = 24;
const SET_MPLS_TTL: u16 = 25;
const DEC_MPLS_TTL: u16 = 26;
const STACK_PUSH: u16 = 27;
const STACK_POP: u16 = 28;
const SAMPLE: u16 = 29;
const SET_MPLS_LABEL: u16 = 30;
const SET_MPLS_TC: u16 = 31;
const OUTPUT_REG2: u16 = 32;
const REG_LOAD2: u16 = 33;
const CONJUNCTION: u16 = 34;
const CT: u16 = 35;
const NAT: u16 = 36;
const CONTROLLER2: u16 = 37;
const SAMPLE2: u16 = 38;
const OUTPUT_TRUNC: u16 = 39;
const GROUP: u16 = 40;
const SAMPLE3: u16 = 41;
const CLONE: u16 = 42;
const CT_CLEAR: u16 = 43;
const RESUBMIT_TABLE_CT: u16 = 44;
const LEARN2: u16 = 45;
const ENCAP: u16 = 46;
const DECAP: u16 = 47;
const DEC_NSH_TTL: u16 = 48;
const CHECK_PKT_LARGER: u16 = 49;
const DELETE_FIELD: u16 = 50;
const DEBUG_SLOW: u16 = 254;
const DEBUG_RECIRC: u16 = 255;

/// Reads an NXM/OXM header (4 or 8 bytes) naming a field.
pub(crate) fn pull_header(b: &[u8]) -> Result<(Field, usize)> {
    let r = Rd::new(b, ErrorCode::OfpbacBadLen, "field header");
    let w = r.u32(0)?;
    let (mut h, _hasmask, _len) = OxmHeader::from_word(w);
    let mut n = 4;
    if h.class == 0xffff {
        h.experimenter = r.u32(4)?;
        n = 8;
    }
    let f = oxm::field_for_header(h).ok_or(bad(ErrorCode::OfpbacBadSetType, "unknown field"))?;
    Ok((f, n))
}

/// Appends the header OVS uses for `field` (length = the field's width).
pub(crate) fn put_header(field: Field, oxm_version: Option<Version>, out: &mut Vec<u8>) {
    match oxm::header_of(field, oxm_version) {
        Some(h) => h.emit(false, field.info().width as usize, out),
        None => put_u32(out, 0),
    }
}

/// The 32-bit NXM header word for `field` (0 if it has only an
/// experimenter header), as reg_load, output_reg, multipath... carry it.
fn header_word(field: Field) -> u32 {
    match oxm::header_of(field, None) {
        Some(h) if h.class != 0xffff => h.nxm_word(false, field.info().width as usize),
        _ => 0,
    }
}

fn field_from_word(w: u32) -> Result<Field> {
    let (h, _, _) = OxmHeader::from_word(w);
    if h.class == 0xffff {
        return Err(bad(
            ErrorCode::OfpbacBadArgument,
            "experimenter header in 32-bit slot",
        ));
    }
    oxm::field_for_header(h).ok_or(bad(ErrorCode::OfpbacBadArgument, "unknown field"))
}

/// A subfield, checked against the field's width.
pub(crate) fn subfield(field: Field, ofs: u16, n_bits: u16) -> Result<Subfield> {
    let w = field.info().width as u32 * 8;
    if n_bits == 0 || u32::from(ofs) + u32::from(n_bits) > w {
        return Err(bad(ErrorCode::OfpbacBadSetLen, "subfield out of range"));
    }
    Ok(Subfield { field, ofs, n_bits })
}

fn ofs_nbits(sf: &Subfield) -> u16 {
    (sf.ofs << 6) | (sf.n_bits.saturating_sub(1) & 0x3f)
}

fn sub_from_word(w: u32, on: u16) -> Result<Subfield> {
    subfield(field_from_word(w)?, on >> 6, (on & 0x3f) + 1)
}

fn zeros(b: &[u8]) -> Result<()> {
    if b.iter().all(|&x| x == 0) {
        Ok(())
    } else {
        Err(bad(ErrorCode::NxbrcMustBeZero, "must-be-zero bytes"))
    }
}

fn fixed(r: &Rd<'_>, n: usize) -> Result<()> {
    if r.len() != n {
        Err(bad(ErrorCode::OfpbacBadLen, "nx action length"))
    } else {
        Ok(())
    }
}

/// Decodes one Nicira action (`a` is the whole action, `len` checked).
pub(crate) fn decode(version: Version, a: &[u8], depth: u8) -> Result<Action> {
    let r = Rd::new(a, ErrorCode::OfpbacBadLen, "nx action");
    r.need(10)?;
    let st = r.u16(8)?;
    if matches!(st, ENCAP | DECAP | DEC_NSH_TTL) && version < Version::Of13 {
        // OVS defines these for OpenFlow 1.3 and later only.
        return Err(bad(
            ErrorCode::OfpbacBadVendorType,
            "nx action before OpenFlow 1.3",
        ));
    }
    Ok(match st {
        RESUBMIT => {
            fixed(&r, 16)?;
            Action::Resubmit {
                in_port: r.u16(10)?,
                table: 0xff,
                ct: false,
            }
        }
        RESUBMIT_TABLE | RESUBMIT_TABLE_CT => {
            fixed(&r, 16)?;
            zeros(r.slice(13, 16)?)?;
            Action::Resubmit {
                in_port: r.u16(10)?,
                table: r.u8(12)?,
                ct: st == RESUBMIT_TABLE_CT,
            }
        }
        SET_TUNNEL => {
            fixed(&r, 16)?;
            Action::SetTunnel(r.u32(12)?)
        }
        SET_TUNNEL64 => {
            fixed(&r, 24)?;
            Action::SetTunnel64(r.u64(16)?)
        }
        SET_QUEUE => {
            fixed(&r, 16)?;
            Action::SetQueue(r.u32(12)?)
        }
        POP_QUEUE => {
            fixed(&r, 16)?;
            Action::PopQueue
        }
        REG_MOVE => {
            r.need(16)?;
            let n_bits = r.u16(10)?;
            let (src, n1) = pull_header(r.tail(16)?)?;
            let (dst, n2) = pull_header(r.tail(16 + n1)?)?;
            zeros(r.tail(16 + n1 + n2)?)?;
            Action::Move {
                src: subfield(src, r.u16(12)?, n_bits)?,
                dst: subfield(dst, r.u16(14)?, n_bits)?,
            }
        }
        REG_LOAD => {
            fixed(&r, 24)?;
            let dst = sub_from_word(r.u32(12)?, r.u16(10)?)?;
            let value = r.u64(16)?;
            if dst.n_bits < 64 && value >> dst.n_bits != 0 {
                return Err(bad(ErrorCode::OfpbacBadArgument, "reg_load value too wide"));
            }
            Action::RegLoad { dst, value }
        }
        REG_LOAD2 => decode_set_field(version, r.tail(10)?, true)?,
        NOTE => Action::Note(r.tail(10)?.to_vec()),
        MULTIPATH => {
            fixed(&r, 32)?;
            Action::Multipath(Multipath {
                fields: r.u16(10)?,
                basis: r.u16(12)?,
                algorithm: r.u16(16)?,
                max_link: r.u16(18)?,
                arg: r.u32(20)?,
                dst: sub_from_word(r.u32(28)?, r.u16(26)?)?,
            })
        }
        BUNDLE | BUNDLE_LOAD => {
            r.need(32)?;
            let n = r.u16(20)? as usize;
            let members_end = 32 + 2 * n;
            if members_end.div_ceil(8) * 8 != a.len() {
                return Err(bad(ErrorCode::OfpbacBadLen, "bundle members"));
            }
            let mut members = Vec::with_capacity(n);
            for i in 0..n {
                members.push(r.u16(32 + 2 * i)?);
            }
            zeros(r.tail(members_end)?)?;
            zeros(r.slice(28, 32)?)?;
            let dst = if st == BUNDLE_LOAD {
                Some(sub_from_word(r.u32(24)?, r.u16(22)?)?)
            } else {
                None
            };
            Action::Bundle(Bundle {
                algorithm: r.u16(10)?,
                fields: r.u16(12)?,
                basis: r.u16(14)?,
                members,
                dst,
            })
        }
        OUTPUT_REG => {
            fixed(&r, 24)?;
            zeros(r.slice(18, 24)?)?;
            Action::OutputReg {
                src: sub_from_word(r.u32(12)?, r.u16(10)?)?,
                max_len: r.u16(16)?,
            }
        }
        OUTPUT_REG2 => {
            fixed(&r, 24)?;
            let on = r.u16(10)?;
            let (f, n) = pull_header(r.tail(14)?)?;
            zeros(r.tail(14 + n)?)?;
            Action::OutputReg {
                src: subfield(f, on >> 6, (on & 0x3f) + 1)?,
                max_len: r.u16(12)?,
            }
        }
        LEARN | LEARN2 => decode_learn(&r, st == LEARN2)?,
        EXIT => {
            fixed(&r, 16)?;
            Action::Exit
        }
        DEC_TTL => {
            fixed(&r, 16)?;
            Action::DecTtl
        }
        DEC_TTL_CNT_IDS => {
            r.need(16)?;
            let n = r.u16(10)? as usize;
            if (16 + 2 * n).div_ceil(8) * 8 != a.len() {
                return Err(bad(ErrorCode::OfpbacBadLen, "dec_ttl ids"));
            }
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                ids.push(r.u16(16 + 2 * i)?);
            }
            Action::DecTtlCntIds(ids)
        }
        FIN_TIMEOUT => {
            fixed(&r, 16)?;
            Action::FinTimeout {
                idle: r.u16(10)?,
                hard: r.u16(12)?,
            }
        }
        CONTROLLER => {
            fixed(&r, 16)?;
            Action::Controller(Controller {
                max_len: r.u16(10)?,
                controller_id: r.u16(12)?,
                reason: r.u8(14)?,
                userdata: Vec::new(),
                pause: false,
                meter_id: None,
                v2: false,
            })
        }
        CONTROLLER2 => decode_controller2(&r)?,
        WRITE_METADATA => {
            fixed(&r, 32)?;
            Action::WriteMetadata {
                metadata: r.u64(16)?,
                mask: r.u64(24)?,
            }
        }
        PUSH_MPLS => {
            fixed(&r, 16)?;
            Action::PushMpls(r.u16(10)?)
        }
        POP_MPLS => {
            fixed(&r, 16)?;
            Action::PopMpls(r.u16(10)?)
        }
        SET_MPLS_TTL => {
            fixed(&r, 16)?;
            Action::SetMplsTtl(r.u8(10)?)
        }
        DEC_MPLS_TTL => {
            fixed(&r, 16)?;
            Action::DecMplsTtl
        }
        SET_MPLS_LABEL => {
            fixed(&r, 16)?;
            Action::SetMplsLabel(r.u32(12)?)
        }
        SET_MPLS_TC => {
            fixed(&r, 16)?;
            Action::SetMplsTc(r.u8(10)?)
        }
        STACK_PUSH | STACK_POP => {
            fixed(&r, 24)?;
            let ofs = r.u16(10)?;
            let (f, n) = pull_header(r.tail(12)?)?;
            let n_bits = r.u16(12 + n)?;
            zeros(r.tail(14 + n)?)?;
            let sf = subfield(f, ofs, n_bits)?;
            if st == STACK_PUSH {
                Action::StackPush(sf)
            } else {
                Action::StackPop(sf)
            }
        }
        SAMPLE => {
            fixed(&r, 24)?;
            let s = Sample {
                probability: r.u16(10)?,
                collector_set_id: r.u32(12)?,
                obs_domain_id: r.u32(16)?,
                obs_point_id: r.u32(20)?,
                sampling_port: crate::port::OFPP_NONE,
                direction: 0,
                variant: 0,
            };
            if s.probability == 0 {
                return Err(bad(ErrorCode::OfpbacBadArgument, "sample probability"));
            }
            Action::Sample(s)
        }
        SAMPLE2 | SAMPLE3 => {
            fixed(&r, 32)?;
            zeros(r.slice(27, 32)?)?;
            let direction = if st == SAMPLE3 { r.u8(26)? } else { 0 };
            let s = Sample {
                probability: r.u16(10)?,
                collector_set_id: r.u32(12)?,
                obs_domain_id: r.u32(16)?,
                obs_point_id: r.u32(20)?,
                sampling_port: r.u16(24)?,
                direction,
                variant: if st == SAMPLE3 { 2 } else { 1 },
            };
            if s.probability == 0 || direction > 2 {
                return Err(bad(ErrorCode::OfpbacBadArgument, "sample"));
            }
            Action::Sample(s)
        }
        CONJUNCTION => {
            fixed(&r, 16)?;
            let clause = r.u8(10)?;
            let n_clauses = r.u8(11)?;
            if !(2..=64).contains(&n_clauses) || clause >= n_clauses {
                return Err(bad(ErrorCode::OfpbacBadArgument, "conjunction clause"));
            }
            Action::Conjunction {
                id: r.u32(12)?,
                clause,
                n_clauses,
            }
        }
        CT => {
            r.need(24)?;
            let zone_src = r.u32(12)?;
            let zone = if zone_src == 0 {
                CtZone::Imm(r.u16(16)?)
            } else {
                let sf = sub_from_word(zone_src, r.u16(16)?)?;
                // As OVS: a zone read from a field is 16 bits wide.
                if sf.n_bits != 16 {
                    return Err(bad(ErrorCode::OfpbacBadSetLen, "ct zone n_bits must be 16"));
                }
                CtZone::Field(sf)
            };
            zeros(r.slice(19, 22)?)?;
            let a = Action::Ct(Ct {
                flags: r.u16(10)?,
                zone,
                recirc_table: r.u8(18)?,
                alg: r.u16(22)?,
                actions: decode_actions_depth(version, r.tail(24)?, depth + 1)?,
            });
            super::verify::verify_decoded(version, &a)?;
            a
        }
        NAT => decode_nat(&r)?,
        OUTPUT_TRUNC => {
            fixed(&r, 16)?;
            Action::OutputTrunc {
                port: r.u16(10)?,
                max_len: r.u32(12)?,
            }
        }
        GROUP => {
            fixed(&r, 16)?;
            Action::Group(r.u32(12)?)
        }
        CLONE => {
            r.need(16)?;
            let a = Action::Clone(decode_actions_depth(version, r.tail(16)?, depth + 1)?);
            // Nested-list checks happen as the action is decoded (OVS), so
            // their errors come before those of later actions.
            super::verify::verify_decoded(version, &a)?;
            a
        }
        CT_CLEAR => {
            fixed(&r, 16)?;
            Action::CtClear
        }
        ENCAP => {
            r.need(16)?;
            let packet_type = r.u32(12)?;
            if !super::ed_prop::encap_type_supported(packet_type) {
                return Err(bad(ErrorCode::NxbacBadHeaderType, "encap header type"));
            }
            let props = r.tail(16)?;
            super::ed_prop::EdProp::decode_list(props)?;
            Action::Encap {
                packet_type,
                props: props.to_vec(),
            }
        }
        DECAP => {
            r.need(16)?;
            if r.len() > 16 {
                // No decap properties exist yet (OVS).
                return Err(bad(ErrorCode::NxbacUnknownEdProp, "decap property"));
            }
            Action::Decap {
                packet_type: r.u32(12)?,
            }
        }
        DEC_NSH_TTL => {
            fixed(&r, 16)?;
            Action::DecNshTtl
        }
        CHECK_PKT_LARGER => {
            fixed(&r, 24)?;
            let (f, n) = pull_header(r.tail(14)?)?;
            zeros(r.tail(14 + n)?)?;
            Action::CheckPktLarger {
                pkt_len: r.u16(10)?,
                dst: subfield(f, r.u16(12)?, 1)?,
            }
        }
        DELETE_FIELD => {
            fixed(&r, 24)?;
            let (f, n) = pull_header(r.tail(10)?)?;
            zeros(r.tail(10 + n)?)?;
            Action::DeleteField(f)
        }
        DEBUG_SLOW => {
            fixed(&r, 16)?;
            Action::DebugSlow
        }
        DEBUG_RECIRC => {
            fixed(&r, 16)?;
            Action::DebugRecirc
        }
        _ => return Err(bad(ErrorCode::OfpbacBadVendorType, "nx action subtype")),
    })
}

fn decode_controller2(r: &Rd<'_>) -> Result<Action> {
    let mut c = Controller {
        max_len: u16::MAX,
        controller_id: 0,
        reason: 1,
        userdata: Vec::new(),
        pause: false,
        meter_id: None,
        v2: true,
    };
    let mut p = Rd::new(r.tail(16)?, ErrorCode::OfpbacBadLen, "controller2 property");
    while p.len() >= 4 {
        let ty = p.u16(0)?;
        let len = p.u16(2)? as usize;
        if len < 4 || len > p.len() {
            return Err(bad(ErrorCode::OfpbacBadLen, "controller2 property length"));
        }
        let v = Rd::new(
            p.slice(4, len)?,
            ErrorCode::OfpbacBadLen,
            "controller2 property value",
        );
        match ty {
            0 => c.max_len = v.u16(0)?,
            1 => c.controller_id = v.u16(0)?,
            2 => c.reason = v.u8(0)?,
            3 => c.userdata = v.buf.to_vec(),
            4 => c.pause = true,
            5 => c.meter_id = Some(v.u32(0)?),
            _ => {
                return Err(bad(
                    ErrorCode::OfpbacBadArgument,
                    "controller2 property type",
                ))
            }
        }
        let padded = len.div_ceil(8) * 8;
        p = Rd::new(
            p.buf.get(padded.min(p.len())..).unwrap_or(&[]),
            p.err.code,
            p.err.what,
        );
    }
    zeros(p.buf)?;
    Ok(Action::Controller(c))
}

fn decode_nat(r: &Rd<'_>) -> Result<Action> {
    r.need(16)?;
    let flags = r.u16(12)?;
    let present = r.u16(14)?;
    let mut o = 16;
    let mut range = NatRange::default();
    if present & !0x3f != 0 {
        return Err(bad(ErrorCode::OfpbacBadArgument, "nat range_present"));
    }
    if present & 1 != 0 {
        range.ipv4_min = Some(r.arr::<4>(o)?);
        o += 4;
    }
    if present & 2 != 0 {
        range.ipv4_max = Some(r.arr::<4>(o)?);
        o += 4;
    }
    if present & 4 != 0 {
        range.ipv6_min = Some(r.arr::<16>(o)?);
        o += 16;
    }
    if present & 8 != 0 {
        range.ipv6_max = Some(r.arr::<16>(o)?);
        o += 16;
    }
    if present & 16 != 0 {
        range.proto_min = Some(r.u16(o)?);
        o += 2;
    }
    if present & 32 != 0 {
        range.proto_max = Some(r.u16(o)?);
        o += 2;
    }
    if o.div_ceil(8) * 8 != r.len() {
        return Err(bad(ErrorCode::OfpbacBadLen, "nat length"));
    }
    Ok(Action::Nat(Nat { flags, range }))
}

fn decode_learn(r: &Rd<'_>, v2: bool) -> Result<Action> {
    r.need(32)?;
    if r.u8(27)? != 0 {
        return Err(bad(ErrorCode::OfpbacBadArgument, "learn pad"));
    }
    let flags = r.u16(24)?;
    let table_id = r.u8(26)?;
    if table_id == 0xff {
        return Err(bad(ErrorCode::OfpbacBadArgument, "learn table"));
    }
    let mut o = 32;
    let learn2 = if v2 {
        r.need(40)?;
        let limit = r.u32(32)?;
        let ofs = r.u16(36)?;
        o = 40;
        let result_dst = if flags & 4 != 0 {
            let (f, n) = pull_header(r.tail(40)?)?;
            o += n;
            Some(subfield(f, ofs, 1)?)
        } else {
            None
        };
        Some(Learn2 { limit, result_dst })
    } else {
        None
    };
    let mut specs = Vec::new();
    loop {
        if o + 2 > r.len() {
            break;
        }
        let h = r.u16(o)?;
        if h == 0 {
            break;
        }
        o += 2;
        let n_bits = h & 0x3ff;
        let src_imm = h & (1 << 13) != 0;
        let dst_type = (h >> 11) & 3;
        if dst_type == 3 || (dst_type == 2 && src_imm) {
            return Err(bad(ErrorCode::OfpbacBadArgument, "learn spec type"));
        }
        let src = if src_imm {
            let nb = 2 * (n_bits as usize).div_ceil(16);
            let v = r.slice(o, o + nb)?.to_vec();
            o += nb;
            LearnSrc::Immediate(v)
        } else {
            let f = field_from_word(r.u32(o)?)?;
            let ofs = r.u16(o + 4)?;
            o += 6;
            LearnSrc::Field(subfield(f, ofs, n_bits)?)
        };
        let dst = match dst_type {
            0 | 1 => {
                let f = field_from_word(r.u32(o)?)?;
                let ofs = r.u16(o + 4)?;
                o += 6;
                let sf = subfield(f, ofs, n_bits)?;
                if dst_type == 0 {
                    LearnDst::Match(sf)
                } else {
                    LearnDst::Load(sf)
                }
            }
            _ => LearnDst::Output,
        };
        specs.push(LearnSpec { n_bits, src, dst });
    }
    zeros(r.tail(o.min(r.len()))?)?;
    Ok(Action::Learn(Learn {
        idle_timeout: r.u16(10)?,
        hard_timeout: r.u16(12)?,
        priority: r.u16(14)?,
        cookie: r.u64(16)?,
        flags,
        table_id,
        fin_idle_timeout: r.u16(28)?,
        fin_hard_timeout: r.u16(30)?,
        specs,
        learn2,
    }))
}

/// Starts an NX action with `subtype`; `finish` pads and sets the length.
fn nx_start(out: &mut Vec<u8>, subtype: u16) -> usize {
    let s = out.len();
    put_u16(out, 0xffff);
    put_u16(out, 0);
    put_u32(out, NX_VENDOR);
    put_u16(out, subtype);
    s
}

/// NX action with a 16-bit argument at offset 10 (OVS's generic layout).
fn nx16(out: &mut Vec<u8>, st: u16, v: u16) {
    let s = nx_start(out, st);
    put_u16(out, v);
    finish(out, s);
}
/// NX action with an 8-bit argument at offset 10.
fn nx8(out: &mut Vec<u8>, st: u16, v: u8) {
    let s = nx_start(out, st);
    out.push(v);
    finish(out, s);
}
/// NX action with a 32-bit argument at offset 12.
fn nx32(out: &mut Vec<u8>, st: u16, v: u32) {
    let s = nx_start(out, st);
    put_u16(out, 0);
    put_u32(out, v);
    finish(out, s);
}
/// NX action without arguments (16 bytes).
fn nx0(out: &mut Vec<u8>, st: u16) {
    let s = nx_start(out, st);
    put_zeros(out, 6);
    finish(out, s);
}

/// Appends `a` as a Nicira action (anything the standard encoder left).
pub(crate) fn encode(version: Version, a: &Action, out: &mut Vec<u8>) {
    match a {
        Action::Resubmit { in_port, table, ct } => {
            if *table == 0xff && !*ct {
                nx16(out, RESUBMIT, *in_port);
            } else {
                let s = nx_start(
                    out,
                    if *ct {
                        RESUBMIT_TABLE_CT
                    } else {
                        RESUBMIT_TABLE
                    },
                );
                put_u16(out, *in_port);
                out.push(*table);
                finish(out, s);
            }
        }
        Action::SetTunnel(id) => nx32(out, SET_TUNNEL, *id),
        Action::SetTunnel64(id) => {
            let s = nx_start(out, SET_TUNNEL64);
            put_zeros(out, 6);
            put_u64(out, *id);
            finish(out, s);
        }
        Action::SetQueue(q) => nx32(out, SET_QUEUE, *q),
        Action::PopQueue => nx0(out, POP_QUEUE),
        Action::Move { src, dst } => {
            let s = nx_start(out, REG_MOVE);
            put_u16(out, src.n_bits);
            put_u16(out, src.ofs);
            put_u16(out, dst.ofs);
            put_header(src.field, None, out);
            put_header(dst.field, None, out);
            finish(out, s);
        }
        Action::RegLoad { dst, value } => {
            let s = nx_start(out, REG_LOAD);
            put_u16(out, ofs_nbits(dst));
            put_u32(out, header_word(dst.field));
            put_u64(out, *value);
            finish(out, s);
        }
        Action::SetField { field, value, mask } => {
            let s = nx_start(out, REG_LOAD2);
            put_set_field_tlv(*field, value, mask, None, out);
            finish(out, s);
        }
        Action::Note(n) => {
            let s = nx_start(out, NOTE);
            out.extend_from_slice(n);
            finish(out, s);
        }
        Action::Multipath(m) => {
            let s = nx_start(out, MULTIPATH);
            put_u16(out, m.fields);
            put_u16(out, m.basis);
            put_u16(out, 0);
            put_u16(out, m.algorithm);
            put_u16(out, m.max_link);
            put_u32(out, m.arg);
            put_u16(out, 0);
            put_u16(out, ofs_nbits(&m.dst));
            put_u32(out, header_word(m.dst.field));
            finish(out, s);
        }
        Action::Bundle(b) => {
            let s = nx_start(out, if b.dst.is_some() { BUNDLE_LOAD } else { BUNDLE });
            put_u16(out, b.algorithm);
            put_u16(out, b.fields);
            put_u16(out, b.basis);
            put_u32(out, header_word(Field::InPort));
            put_u16(out, b.members.len() as u16);
            match &b.dst {
                Some(d) => {
                    put_u16(out, ofs_nbits(d));
                    put_u32(out, header_word(d.field));
                }
                None => put_zeros(out, 6),
            }
            put_zeros(out, 4);
            for m in &b.members {
                put_u16(out, *m);
            }
            finish(out, s);
        }
        Action::OutputReg { src, max_len } => {
            let w = header_word(src.field);
            if w != 0 {
                let s = nx_start(out, OUTPUT_REG);
                put_u16(out, ofs_nbits(src));
                put_u32(out, w);
                put_u16(out, *max_len);
                finish(out, s);
            } else {
                let s = nx_start(out, OUTPUT_REG2);
                put_u16(out, ofs_nbits(src));
                put_u16(out, *max_len);
                put_header(src.field, None, out);
                finish(out, s);
            }
        }
        Action::OutputTrunc { port, max_len } => {
            let s = nx_start(out, OUTPUT_TRUNC);
            put_u16(out, *port);
            put_u32(out, *max_len);
            finish(out, s);
        }
        Action::Learn(l) => encode_learn(l, out),
        Action::Exit => nx0(out, EXIT),
        Action::DecTtl => nx0(out, DEC_TTL),
        Action::DecTtlCntIds(ids) => {
            let s = nx_start(out, DEC_TTL_CNT_IDS);
            put_u16(out, ids.len() as u16);
            put_zeros(out, 4);
            for i in ids {
                put_u16(out, *i);
            }
            finish(out, s);
        }
        Action::FinTimeout { idle, hard } => {
            let s = nx_start(out, FIN_TIMEOUT);
            put_u16(out, *idle);
            put_u16(out, *hard);
            finish(out, s);
        }
        Action::Controller(c) => encode_controller(c, out),
        Action::WriteMetadata { metadata, mask } => {
            let s = nx_start(out, WRITE_METADATA);
            put_zeros(out, 6);
            put_u64(out, *metadata);
            put_u64(out, *mask);
            finish(out, s);
        }
        Action::PushMpls(e) => nx16(out, PUSH_MPLS, *e),
        Action::PopMpls(e) => nx16(out, POP_MPLS, *e),
        Action::SetMplsTtl(t) => nx8(out, SET_MPLS_TTL, *t),
        Action::DecMplsTtl => nx0(out, DEC_MPLS_TTL),
        Action::SetMplsLabel(l) => nx32(out, SET_MPLS_LABEL, *l),
        Action::SetMplsTc(t) => nx8(out, SET_MPLS_TC, *t),
        Action::StackPush(sf) | Action::StackPop(sf) => {
            let s = nx_start(
                out,
                if matches!(a, Action::StackPush(_)) {
                    STACK_PUSH
                } else {
                    STACK_POP
                },
            );
            put_u16(out, sf.ofs);
            put_header(sf.field, None, out);
            put_u16(out, sf.n_bits);
            finish(out, s);
        }
        Action::Sample(sm) => {
            let st = if sm.variant == 2 || sm.direction != 0 {
                SAMPLE3
            } else if sm.variant == 1 || sm.sampling_port != crate::port::OFPP_NONE {
                SAMPLE2
            } else {
                SAMPLE
            };
            let s = nx_start(out, st);
            put_u16(out, sm.probability);
            put_u32(out, sm.collector_set_id);
            put_u32(out, sm.obs_domain_id);
            put_u32(out, sm.obs_point_id);
            if st != SAMPLE {
                put_u16(out, sm.sampling_port);
                out.push(if st == SAMPLE3 { sm.direction } else { 0 });
            }
            finish(out, s);
        }
        Action::Conjunction {
            id,
            clause,
            n_clauses,
        } => {
            let s = nx_start(out, CONJUNCTION);
            out.push(*clause);
            out.push(*n_clauses);
            put_u32(out, *id);
            finish(out, s);
        }
        Action::Ct(ct) => {
            let s = nx_start(out, CT);
            put_u16(out, ct.flags);
            match &ct.zone {
                CtZone::Imm(z) => {
                    put_u32(out, 0);
                    put_u16(out, *z);
                }
                CtZone::Field(sf) => {
                    put_u32(out, header_word(sf.field));
                    put_u16(out, ofs_nbits(sf));
                }
            }
            out.push(ct.recirc_table);
            put_zeros(out, 3);
            put_u16(out, ct.alg);
            encode_actions(version, &ct.actions, out);
            finish(out, s);
        }
        Action::Nat(n) => {
            let s = nx_start(out, NAT);
            put_zeros(out, 2);
            put_u16(out, n.flags);
            let r = &n.range;
            let present = u16::from(r.ipv4_min.is_some())
                | u16::from(r.ipv4_max.is_some()) << 1
                | u16::from(r.ipv6_min.is_some()) << 2
                | u16::from(r.ipv6_max.is_some()) << 3
                | u16::from(r.proto_min.is_some()) << 4
                | u16::from(r.proto_max.is_some()) << 5;
            put_u16(out, present);
            for a in [r.ipv4_min, r.ipv4_max].into_iter().flatten() {
                out.extend_from_slice(&a);
            }
            for a in [r.ipv6_min, r.ipv6_max].into_iter().flatten() {
                out.extend_from_slice(&a);
            }
            for p in [r.proto_min, r.proto_max].into_iter().flatten() {
                put_u16(out, p);
            }
            finish(out, s);
        }
        Action::Group(g) => nx32(out, GROUP, *g),
        Action::Clone(acts) => {
            let s = nx_start(out, CLONE);
            put_zeros(out, 6);
            encode_actions(version, acts, out);
            finish(out, s);
        }
        Action::CtClear => nx0(out, CT_CLEAR),
        Action::Encap { packet_type, props } => {
            let s = nx_start(out, ENCAP);
            put_u16(out, 0);
            put_u32(out, *packet_type);
            out.extend_from_slice(props);
            // hdr_size (bytes 10-11) stays 0, "not specified": what OVS's
            // parser leaves there and ovs-ofctl sends.
            finish(out, s);
        }
        Action::Decap { packet_type } => nx32(out, DECAP, *packet_type),
        Action::DecNshTtl => nx0(out, DEC_NSH_TTL),
        Action::CheckPktLarger { pkt_len, dst } => {
            let s = nx_start(out, CHECK_PKT_LARGER);
            put_u16(out, *pkt_len);
            put_u16(out, dst.ofs);
            put_header(dst.field, None, out);
            finish(out, s);
        }
        Action::DeleteField(f) => {
            let s = nx_start(out, DELETE_FIELD);
            put_header(*f, None, out);
            put_zeros(out, 14 - 4);
            finish(out, s);
        }
        Action::DebugSlow => nx0(out, DEBUG_SLOW),
        Action::DebugRecirc => nx0(out, DEBUG_RECIRC),
        Action::Experimenter { experimenter, body } => {
            let s = out.len();
            put_u16(out, 0xffff);
            put_u16(out, 0);
            put_u32(out, *experimenter);
            out.extend_from_slice(body);
            finish(out, s);
        }
        // Standard actions with no Nicira form (1.1+ only ones asked for in
        // 1.0, or already handled by the standard encoder): OVS refuses to
        // encode these in 1.0 too; nothing is emitted.
        _ => {}
    }
}

fn encode_controller(c: &Controller, out: &mut Vec<u8>) {
    if !c.v2 && c.userdata.is_empty() && !c.pause && c.meter_id.is_none() {
        let s = nx_start(out, CONTROLLER);
        put_u16(out, c.max_len);
        put_u16(out, c.controller_id);
        out.push(c.reason);
        finish(out, s);
        return;
    }
    let s = nx_start(out, CONTROLLER2);
    put_zeros(out, 6);
    let prop = |out: &mut Vec<u8>, ty: u16, v: &[u8]| {
        let p = out.len();
        put_u16(out, ty);
        put_u16(out, (4 + v.len()) as u16);
        out.extend_from_slice(v);
        crate::r#match::pad8(out, p);
    };
    // 16-bit properties are 8 bytes long (value + 2 bytes of padding), as
    // OpenFlow and OVS write them.
    if c.max_len != u16::MAX {
        let v = c.max_len.to_be_bytes();
        prop(out, 0, &[v[0], v[1], 0, 0]);
    }
    if c.controller_id != 0 {
        let v = c.controller_id.to_be_bytes();
        prop(out, 1, &[v[0], v[1], 0, 0]);
    }
    if c.reason != 1 {
        prop(out, 2, &[c.reason]);
    }
    if !c.userdata.is_empty() {
        prop(out, 3, &c.userdata);
    }
    if c.pause {
        prop(out, 4, &[]);
    }
    if let Some(m) = c.meter_id {
        prop(out, 5, &m.to_be_bytes());
    }
    finish(out, s);
}

fn encode_learn(l: &Learn, out: &mut Vec<u8>) {
    let s = nx_start(out, if l.learn2.is_some() { LEARN2 } else { LEARN });
    put_u16(out, l.idle_timeout);
    put_u16(out, l.hard_timeout);
    put_u16(out, l.priority);
    put_u64(out, l.cookie);
    put_u16(out, l.flags);
    out.push(l.table_id);
    out.push(0);
    put_u16(out, l.fin_idle_timeout);
    put_u16(out, l.fin_hard_timeout);
    if let Some(l2) = &l.learn2 {
        put_u32(out, l2.limit);
        put_u16(out, l2.result_dst.map_or(0, |d| d.ofs));
        put_u16(out, 0);
        if let Some(d) = &l2.result_dst {
            put_header(d.field, None, out);
        }
    }
    for sp in &l.specs {
        let src_imm = matches!(sp.src, LearnSrc::Immediate(_));
        let dst_type = match sp.dst {
            LearnDst::Match(_) => 0u16,
            LearnDst::Load(_) => 1,
            LearnDst::Output => 2,
        };
        put_u16(
            out,
            (sp.n_bits & 0x3ff) | u16::from(src_imm) << 13 | dst_type << 11,
        );
        match &sp.src {
            LearnSrc::Field(sf) => {
                put_u32(out, header_word(sf.field));
                put_u16(out, sf.ofs);
            }
            LearnSrc::Immediate(v) => {
                let nb = 2 * (sp.n_bits as usize).div_ceil(16);
                let mut b = vec![0u8; nb];
                let take = v.len().min(nb);
                b[nb - take..].copy_from_slice(&v[v.len() - take..]);
                out.extend_from_slice(&b);
            }
        }
        if let LearnDst::Match(sf) | LearnDst::Load(sf) = &sp.dst {
            put_u32(out, header_word(sf.field));
            put_u16(out, sf.ofs);
        }
    }
    finish(out, s);
}
