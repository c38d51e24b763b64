//! Instructions (OpenFlow 1.1+): what a flow does with its actions.
//!
//! OpenFlow 1.0 and Nicira flow-mods carry a bare action list; ferrovs
//! represents that as a single [`Instruction::ApplyActions`] (and no
//! instruction at all for an empty list), so one `FlowMod` type serves every
//! version.  Wire layout: `type:u16, len:u16`, then the instruction body;
//! action lists are padded to 8 bytes by construction.

use crate::action::{decode_actions, encode_actions, Action};
use crate::error::{DecodeError, ErrorCode, Result};
use crate::version::Version;

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// `goto_table:N` (OFPIT_GOTO_TABLE = 1).
    GotoTable(u8),
    /// `write_metadata:V/M` (2).
    WriteMetadata { metadata: u64, mask: u64 },
    /// `write_actions(...)` (3).
    WriteActions(Vec<Action>),
    /// The action list (`actions=...`) (4).
    ApplyActions(Vec<Action>),
    /// `clear_actions` (5).
    ClearActions,
    /// `meter:N` (6, OpenFlow 1.3/1.4; an action in 1.5).
    Meter(u32),
    /// `OFPIT_STAT_TRIGGER` (7, OpenFlow 1.5) or an experimenter
    /// instruction (0xffff): kept raw (`type`, bytes after the 4-byte header).
    Other { type_: u16, body: Vec<u8> },
}

const IT_GOTO_TABLE: u16 = 1;
const IT_WRITE_METADATA: u16 = 2;
const IT_WRITE_ACTIONS: u16 = 3;
const IT_APPLY_ACTIONS: u16 = 4;
const IT_CLEAR_ACTIONS: u16 = 5;
const IT_METER: u16 = 6;

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

impl Instruction {
    /// Decodes a whole instruction list (`buf` is exactly the list).
    pub fn decode_list(version: Version, buf: &[u8]) -> Result<Vec<Instruction>> {
        let mut out = Vec::new();
        let mut rest = buf;
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(bad(ErrorCode::OfpbicBadLen, "instruction header"));
            }
            let ty = u16::from_be_bytes([rest[0], rest[1]]);
            let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
            if len < 4 || len & 7 != 0 || len > rest.len() {
                return Err(bad(ErrorCode::OfpbicBadLen, "instruction length"));
            }
            let body = &rest[4..len];
            let inst = match ty {
                IT_GOTO_TABLE => {
                    if len != 8 {
                        return Err(bad(ErrorCode::OfpbicBadLen, "goto_table"));
                    }
                    Instruction::GotoTable(body[0])
                }
                IT_WRITE_METADATA => {
                    if len != 24 {
                        return Err(bad(ErrorCode::OfpbicBadLen, "write_metadata"));
                    }
                    let md = u64::from_be_bytes(body[4..12].try_into().expect("8 bytes"));
                    let mk = u64::from_be_bytes(body[12..20].try_into().expect("8 bytes"));
                    Instruction::WriteMetadata {
                        metadata: md,
                        mask: mk,
                    }
                }
                IT_WRITE_ACTIONS | IT_APPLY_ACTIONS => {
                    if len < 8 {
                        return Err(bad(ErrorCode::OfpbicBadLen, "actions instruction"));
                    }
                    let acts = decode_actions(version, &body[4..])?;
                    if ty == IT_WRITE_ACTIONS {
                        Instruction::WriteActions(acts)
                    } else {
                        Instruction::ApplyActions(acts)
                    }
                }
                IT_CLEAR_ACTIONS => {
                    if len != 8 {
                        return Err(bad(ErrorCode::OfpbicBadLen, "clear_actions"));
                    }
                    Instruction::ClearActions
                }
                IT_METER if version <= Version::Of14 => {
                    if len != 8 {
                        return Err(bad(ErrorCode::OfpbicBadLen, "meter"));
                    }
                    Instruction::Meter(u32::from_be_bytes([body[0], body[1], body[2], body[3]]))
                }
                7 if version >= Version::Of15 => Instruction::Other {
                    type_: ty,
                    body: body.to_vec(),
                },
                0xffff => {
                    if body.len() < 4 {
                        return Err(bad(ErrorCode::OfpbicBadLen, "experimenter instruction"));
                    }
                    return Err(bad(
                        ErrorCode::OfpbicBadExperimenter,
                        "experimenter instruction",
                    ));
                }
                _ => return Err(bad(ErrorCode::OfpbicUnknownInst, "instruction type")),
            };
            // At most one of each type (OVS: OFPBIC_DUP_INST).
            if out
                .iter()
                .any(|i| core::mem::discriminant(i) == core::mem::discriminant(&inst))
            {
                return Err(bad(ErrorCode::OfpbicDupInst, "duplicate instruction"));
            }
            out.push(inst);
            rest = &rest[len..];
        }
        Ok(out)
    }

    /// Appends this instruction in `version`'s encoding.
    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        let start = out.len();
        let put_hdr = |out: &mut Vec<u8>, ty: u16| {
            out.extend_from_slice(&ty.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        };
        match self {
            Instruction::GotoTable(t) => {
                put_hdr(out, IT_GOTO_TABLE);
                out.extend_from_slice(&[*t, 0, 0, 0]);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                put_hdr(out, IT_WRITE_METADATA);
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&metadata.to_be_bytes());
                out.extend_from_slice(&mask.to_be_bytes());
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                let ty = if matches!(self, Instruction::WriteActions(_)) {
                    IT_WRITE_ACTIONS
                } else {
                    IT_APPLY_ACTIONS
                };
                put_hdr(out, ty);
                out.extend_from_slice(&[0; 4]);
                encode_actions(version, a, out);
            }
            Instruction::ClearActions => {
                put_hdr(out, IT_CLEAR_ACTIONS);
                out.extend_from_slice(&[0; 4]);
            }
            Instruction::Meter(m) => {
                if version >= Version::Of15 {
                    // An action in 1.5: goes into apply_actions.
                    put_hdr(out, IT_APPLY_ACTIONS);
                    out.extend_from_slice(&[0; 4]);
                    encode_actions(version, &[Action::Meter(*m)], out);
                } else {
                    put_hdr(out, IT_METER);
                    out.extend_from_slice(&m.to_be_bytes());
                }
            }
            Instruction::Other { type_, body } => {
                put_hdr(out, *type_);
                out.extend_from_slice(body);
            }
        }
        crate::r#match::pad8(out, start);
        let len = (out.len() - start) as u16;
        out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Appends a whole list.
    pub fn encode_list(version: Version, list: &[Instruction], out: &mut Vec<u8>) {
        for i in list {
            i.encode(version, out);
        }
    }

    /// The action list an OpenFlow 1.0 or NX flow-mod carries for `list`:
    /// apply-actions, plus write_metadata as the NX action.  Other
    /// instructions have no 1.0 form and are dropped.
    pub fn flat_actions(list: &[Instruction]) -> Vec<Action> {
        let mut v = Vec::new();
        for i in list {
            match i {
                Instruction::ApplyActions(a) => v.extend(a.iter().cloned()),
                Instruction::WriteMetadata { metadata, mask } => v.push(Action::WriteMetadata {
                    metadata: *metadata,
                    mask: *mask,
                }),
                _ => {}
            }
        }
        v
    }
}
