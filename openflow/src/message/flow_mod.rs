//! Flow-mod: add, modify or delete flows.  One version-independent `FlowMod`
//! for OpenFlow 1.0 `ofp_flow_mod`, 1.1+ `ofp_flow_mod` and Nicira
//! `nx_flow_mod` (NXT_FLOW_MOD).
//!
//! Layouts (after the 8-byte `ofp_header`):
//! - 1.0: `ofp_match`(40) cookie(8) command(2) idle(2) hard(2) priority(2)
//!   buffer_id(4) out_port(2) flags(2), actions.  With Nicira's
//!   flow_mod_table_id extension the command's high byte is the table id.
//! - 1.1+: cookie(8) cookie_mask(8) table_id(1) command(1) idle(2) hard(2)
//!   priority(2) buffer_id(4) out_port(4) out_group(4) flags(2)
//!   importance(2, 1.4+; pad in 1.3), `ofp_match` (OXM, padded), instructions.
//! - NX (after the 16-byte Nicira header): cookie(8) command(2) idle(2)
//!   hard(2) priority(2) buffer_id(4) out_port(2) flags(2) match_len(2)
//!   pad(6), NXM match padded to 8, actions.
//!
//! Decoding reads fixed offsets after one length check, so it cannot panic.

use crate::action::{decode_actions, encode_actions, verify_instructions};
use crate::error::{bad_len, DecodeError, ErrorCode, Result};
use crate::instruction::Instruction;
use crate::port::{self, PortNo};
use crate::r#match::{Match, OFP10_MATCH_LEN};
use crate::version::Version;

/// OFPFC_* commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FlowModCommand {
    Add = 0,
    Modify = 1,
    ModifyStrict = 2,
    Delete = 3,
    DeleteStrict = 4,
}

impl FlowModCommand {
    pub fn from_wire(v: u8) -> Result<FlowModCommand> {
        Ok(match v {
            0 => FlowModCommand::Add,
            1 => FlowModCommand::Modify,
            2 => FlowModCommand::ModifyStrict,
            3 => FlowModCommand::Delete,
            4 => FlowModCommand::DeleteStrict,
            _ => {
                return Err(DecodeError::new(
                    ErrorCode::OfpfmfcBadCommand,
                    "flow_mod command",
                ))
            }
        })
    }
}

/// A flow-mod, any version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowMod {
    /// The message's cookie field: in 1.1+ the new flow's cookie (add) or
    /// the cookie to select (modify/delete, under `cookie_mask`); in an NX
    /// flow-mod the new cookie (OVS's `new_cookie`, `u64::MAX` = keep).
    pub cookie: u64,
    /// 1.1+: the wire's cookie mask. NX: the mask of the match's
    /// `NXM_NX_COOKIE(_W)` entry (all ones for the exact form, 0 without).
    pub cookie_mask: u64,
    /// NX only: the cookie value of the match's `NXM_NX_COOKIE(_W)` entry,
    /// which selects the flows to modify or delete (0 without one).
    pub match_cookie: u64,
    /// 0xff = all tables (delete) or "unset" in 1.0 without table-id extension.
    pub table_id: u8,
    pub command: FlowModCommand,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    /// 0xffffffff = none.
    pub buffer_id: u32,
    /// OFPP_NONE (0xffff) = any.
    pub out_port: PortNo,
    /// 0xffffffff (OFPG_ANY) = any; 1.1+ only.
    pub out_group: u32,
    /// Version-independent `FlowMod::F_*` bits.
    pub flags: u16,
    /// 1.4+ only.
    pub importance: u16,
    pub r#match: Match,
    pub instructions: Vec<Instruction>,
}

impl Default for FlowMod {
    fn default() -> FlowMod {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            match_cookie: 0,
            table_id: 0,
            command: FlowModCommand::Add,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0x8000,
            buffer_id: u32::MAX,
            out_port: port::OFPP_NONE,
            out_group: u32::MAX,
            flags: 0,
            importance: 0,
            r#match: Match::new(),
            instructions: Vec::new(),
        }
    }
}

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn be64(b: &[u8], o: usize) -> u64 {
    u64::from_be_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

impl FlowMod {
    /// OFPFF_SEND_FLOW_REM.
    pub const F_SEND_FLOW_REM: u16 = 1 << 0;
    /// OFPFF_CHECK_OVERLAP.
    pub const F_CHECK_OVERLAP: u16 = 1 << 1;
    /// OFPFF_RESET_COUNTS (1.2+).
    pub const F_RESET_COUNTS: u16 = 1 << 2;
    /// OFPFF_NO_PKT_COUNTS (1.3+).
    pub const F_NO_PKT_COUNTS: u16 = 1 << 3;
    /// OFPFF_NO_BYT_COUNTS (1.3+).
    pub const F_NO_BYT_COUNTS: u16 = 1 << 4;
    /// OpenFlow 1.0 OFPFF_EMERG (wire bit 2 in 1.0).
    pub const F_EMERG: u16 = 1 << 15;

    /// 1.0/NX wire flags (bit 2 is EMERG there) to `F_*` bits.
    fn flags_from_10(w: u16) -> u16 {
        (w & 0x7ffb) | if w & 4 != 0 { Self::F_EMERG } else { 0 }
    }
    /// `F_*` bits to 1.0/NX wire flags (RESET_COUNTS has no 1.0 form).
    fn flags_to_10(f: u16) -> u16 {
        (f & 0x7ffb) | if f & Self::F_EMERG != 0 { 4 } else { 0 }
    }

    /// Splits a 1.0/NX 16-bit command into command and table id (Nicira
    /// flow_mod_table_id: high byte is the table).
    fn command_10(w: u16) -> Result<(FlowModCommand, u8)> {
        Ok((FlowModCommand::from_wire(w as u8)?, (w >> 8) as u8))
    }
    fn command_10_wire(&self) -> u16 {
        let t = if self.table_id == 0xff {
            0
        } else {
            self.table_id
        };
        (u16::from(t) << 8) | self.command as u16
    }

    /// Decodes an OpenFlow 1.0 `ofp_flow_mod` body (after the header).
    pub fn decode_of10(body: &[u8]) -> Result<FlowMod> {
        if body.len() < OFP10_MATCH_LEN + 24 {
            return Err(bad_len("ofp10_flow_mod"));
        }
        let m = Match::decode_ofp10(&body[..OFP10_MATCH_LEN])?;
        let b = &body[OFP10_MATCH_LEN..];
        let (command, table_id) = Self::command_10(be16(b, 8))?;
        let instructions = wrap_actions(decode_actions(Version::Of10, &b[24..])?);
        verify_instructions(Version::Of10, &instructions)?;
        Ok(FlowMod {
            cookie: be64(b, 0),
            cookie_mask: 0,
            match_cookie: 0,
            table_id,
            command,
            idle_timeout: be16(b, 10),
            hard_timeout: be16(b, 12),
            priority: be16(b, 14),
            buffer_id: be32(b, 16),
            out_port: be16(b, 20),
            out_group: u32::MAX,
            flags: Self::flags_from_10(be16(b, 22)),
            importance: 0,
            r#match: m,
            instructions,
        })
    }

    /// Appends an OpenFlow 1.0 body.
    pub fn encode_of10(&self, out: &mut Vec<u8>) {
        self.r#match.encode_ofp10(out);
        out.extend_from_slice(&self.cookie.to_be_bytes());
        out.extend_from_slice(&self.command_10_wire().to_be_bytes());
        self.put_timeouts(out);
        out.extend_from_slice(&self.buffer_id.to_be_bytes());
        out.extend_from_slice(&self.out_port.to_be_bytes());
        out.extend_from_slice(&Self::flags_to_10(self.flags).to_be_bytes());
        encode_actions(
            Version::Of10,
            &Instruction::flat_actions(&self.instructions),
            out,
        );
    }

    fn put_timeouts(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.idle_timeout.to_be_bytes());
        out.extend_from_slice(&self.hard_timeout.to_be_bytes());
        out.extend_from_slice(&self.priority.to_be_bytes());
    }

    /// Decodes a Nicira `nx_flow_mod` body (after the 16-byte NX header).
    /// In OpenFlow 1.1+ sessions the tail is an instruction list of that
    /// version (as OVS reads it), in 1.0 an action list.
    pub fn decode_nx(version: Version, body: &[u8]) -> Result<FlowMod> {
        if body.len() < 32 {
            return Err(bad_len("nx_flow_mod"));
        }
        let match_len = be16(body, 24) as usize;
        let padded = match_len.div_ceil(8) * 8;
        if body.len() < 32 + padded {
            return Err(bad_len("nx_flow_mod match_len"));
        }
        let (m, (match_cookie, cookie_mask)) =
            Match::decode_nxm_with_cookie(&body[32..32 + match_len])?;
        let (command, table_id) = Self::command_10(be16(body, 8))?;
        if command == FlowModCommand::Add && cookie_mask != 0 {
            // An addition sets a cookie; it cannot select by one (OVS).
            return Err(DecodeError::new(
                ErrorCode::NxbrcNxmInvalid,
                "nx_flow_mod add with a cookie match",
            ));
        }
        let tail = &body[32 + padded..];
        let instructions = if version == Version::Of10 {
            wrap_actions(decode_actions(Version::Of10, tail)?)
        } else {
            Instruction::decode_list(version, tail)?
        };
        verify_instructions(version, &instructions)?;
        Ok(FlowMod {
            cookie: be64(body, 0),
            cookie_mask,
            match_cookie,
            table_id,
            command,
            idle_timeout: be16(body, 10),
            hard_timeout: be16(body, 12),
            priority: be16(body, 14),
            buffer_id: be32(body, 16),
            out_port: be16(body, 20),
            out_group: u32::MAX,
            flags: Self::flags_from_10(be16(body, 22)),
            importance: 0,
            r#match: m,
            instructions,
        })
    }

    /// Appends a Nicira `nx_flow_mod` body (after the NX header), with an
    /// action list in 1.0 and an instruction list in 1.1+.
    pub fn encode_nx(&self, version: Version, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.cookie.to_be_bytes());
        out.extend_from_slice(&self.command_10_wire().to_be_bytes());
        self.put_timeouts(out);
        out.extend_from_slice(&self.buffer_id.to_be_bytes());
        out.extend_from_slice(&self.out_port.to_be_bytes());
        out.extend_from_slice(&Self::flags_to_10(self.flags).to_be_bytes());
        out.extend_from_slice(&[0; 8]);
        let n = self
            .r#match
            .encode_nxm_with_cookie((self.match_cookie, self.cookie_mask), out);
        out[start + 24..start + 26].copy_from_slice(&(n as u16).to_be_bytes());
        if version == Version::Of10 {
            encode_actions(
                Version::Of10,
                &Instruction::flat_actions(&self.instructions),
                out,
            );
        } else {
            Instruction::encode_list(version, &self.instructions, out);
        }
    }

    /// Decodes an OpenFlow 1.1+ `ofp_flow_mod` body (after the header).
    pub fn decode_of11(version: Version, body: &[u8]) -> Result<FlowMod> {
        if body.len() < 40 + 8 {
            return Err(bad_len("ofp11_flow_mod"));
        }
        let (m, mlen) = Match::decode_ofp12(&body[40..])?;
        let instructions = Instruction::decode_list(version, &body[40 + mlen..])?;
        verify_instructions(version, &instructions)?;
        let out_port = port::from_ofp11(be32(body, 28))?;
        let flags = be16(body, 36) & 0x7fff;
        Ok(FlowMod {
            cookie: be64(body, 0),
            cookie_mask: be64(body, 8),
            match_cookie: 0,
            table_id: body[16],
            command: FlowModCommand::from_wire(body[17])?,
            idle_timeout: be16(body, 18),
            hard_timeout: be16(body, 20),
            priority: be16(body, 22),
            buffer_id: be32(body, 24),
            out_port,
            out_group: be32(body, 32),
            flags,
            importance: if version >= Version::Of14 {
                be16(body, 38)
            } else {
                0
            },
            r#match: m,
            instructions,
        })
    }

    /// Appends an OpenFlow 1.1+ body.
    pub fn encode_of11(&self, version: Version, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cookie.to_be_bytes());
        out.extend_from_slice(&self.cookie_mask.to_be_bytes());
        out.push(self.table_id);
        out.push(self.command as u8);
        self.put_timeouts(out);
        out.extend_from_slice(&self.buffer_id.to_be_bytes());
        out.extend_from_slice(&port::to_ofp11(self.out_port).to_be_bytes());
        out.extend_from_slice(&self.out_group.to_be_bytes());
        out.extend_from_slice(&(self.flags & 0x7fff).to_be_bytes());
        let imp = if version >= Version::Of14 {
            self.importance
        } else {
            0
        };
        out.extend_from_slice(&imp.to_be_bytes());
        self.r#match.encode_ofp12(version, out);
        Instruction::encode_list(version, &self.instructions, out);
    }
}

/// A 1.0/NX action list as instructions: none for an empty list.
pub(crate) fn wrap_actions(actions: Vec<crate::action::Action>) -> Vec<Instruction> {
    if actions.is_empty() {
        Vec::new()
    } else {
        vec![Instruction::ApplyActions(actions)]
    }
}
