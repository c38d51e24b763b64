//! The bridge's Geneve TLV table as OpenFlow manages it:
//! `NXT_TLV_TABLE_MOD` (add, delete, clear mappings of `tun_metadata<n>`
//! to option class/type/length) and `NXT_TLV_TABLE_REQUEST` (the table
//! back, by index), as `ovs-ofctl add-tlv-map`, `del-tlv-map` and
//! `dump-tlv-map` use them.
//!
//! The table is a [`TlvMap`] owned by the [`Ofproto`]; a mod is applied to
//! a copy that replaces the table only when every mapping succeeded, so a
//! failed add leaves it as it was (OVS's semantics). Errors are OVS's
//! `NXTTMFC_*` codes: the message checks (command, index, length) first,
//! then the table's (already mapped, duplicate option, no room); a
//! mapping that a flow's match uses cannot be deleted or cleared.
//! Flows keep the map they were placed with (see `Rule::tlv`).

use ferrovs_openflow::message::nicira::{NxMessage, TlvMap as WireTlvMap};
use ferrovs_openflow::message::Message;
use ferrovs_openflow::ErrorCode;

use crate::connmgr::Connection;
use crate::flow::{TlvError, TlvMap, TUN_METADATA_FIELDS};
use crate::ofproto::Ofproto;

/// `NXTTMC_ADD`, `NXTTMC_DELETE`, `NXTTMC_CLEAR`.
const ADD: u16 = 0;
const DELETE: u16 = 1;
const CLEAR: u16 = 2;
/// Option bytes the switch can hold (OVS's `TUN_METADATA_TOT_OPT_SIZE`).
pub const MAX_OPTION_SPACE: u32 = 256;

/// Applies one table mod to `table`, or leaves it untouched on error.
pub fn apply(table: &mut TlvMap, command: u16, mappings: &[WireTlvMap]) -> Result<(), ErrorCode> {
    if command > CLEAR {
        return Err(ErrorCode::NxttmfcBadCommand);
    }
    for m in mappings {
        if m.option_len % 4 != 0 || m.option_len > 124 {
            return Err(ErrorCode::NxttmfcBadOptLen);
        }
        if m.index as usize >= TUN_METADATA_FIELDS {
            return Err(ErrorCode::NxttmfcBadFieldIdx);
        }
    }
    let mut next = table.clone();
    match command {
        ADD => {
            for m in mappings {
                next.add(m.index as u8, m.option_class, m.option_type, m.option_len)
                    .map_err(|e| match e {
                        TlvError::AlreadyMapped(_) => ErrorCode::NxttmfcAlreadyMapped,
                        TlvError::DupEntry => ErrorCode::NxttmfcDupEntry,
                        TlvError::NoSpace => ErrorCode::NxttmfcTableFull,
                        TlvError::BadLength => ErrorCode::NxttmfcBadOptLen,
                        TlvError::BadIndex => ErrorCode::NxttmfcBadFieldIdx,
                    })?;
            }
        }
        DELETE => {
            for m in mappings {
                next.remove(m.index as u8);
            }
        }
        _ => next = TlvMap::EMPTY,
    }
    *table = next;
    Ok(())
}

/// The `NXT_TLV_TABLE_REPLY` for `table`.
pub fn reply(table: &TlvMap) -> NxMessage {
    NxMessage::TlvTableReply {
        max_option_space: MAX_OPTION_SPACE,
        max_fields: TUN_METADATA_FIELDS as u16,
        mappings: table
            .iter()
            .map(|(i, s)| WireTlvMap {
                option_class: s.class,
                option_type: s.r#type,
                option_len: s.len,
                index: i.into(),
            })
            .collect(),
    }
}

impl Ofproto {
    /// `NXT_TLV_TABLE_MOD` (the caller has checked the connection may
    /// write).
    pub(crate) fn handle_tlv_table_mod(
        &mut self,
        command: u16,
        mappings: &[WireTlvMap],
    ) -> Result<(), ErrorCode> {
        // A mapping a flow matches on may not go (OVS: the variable-length
        // field is referenced).
        if command == DELETE || command == CLEAR {
            let gone = |n: u8| command == CLEAR || mappings.iter().any(|m| m.index == n.into());
            let in_use = self
                .tables
                .t
                .iter()
                .flat_map(|t| t.cls.iter())
                .any(|(_, r)| {
                    r.r#match
                        .fields
                        .iter()
                        .filter_map(|f| f.field.tun_metadata_index())
                        .any(|n| self.tlv.get(n).is_some() && gone(n))
                });
            if in_use {
                return Err(ErrorCode::NxttmfcInvalidTlvDel);
            }
        }
        self.changed();
        apply(&mut self.tlv, command, mappings)
    }

    /// `NXT_TLV_TABLE_REQUEST`.
    pub(crate) fn handle_tlv_table_request(&self, conn: &mut Connection, xid: u32) {
        conn.send(&Message::Nx(reply(&self.tlv)), xid);
    }

    /// The bridge's TLV table.
    pub fn tlv_table(&self) -> &TlvMap {
        &self.tlv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(index: u16, class: u16, r#type: u8, len: u8) -> WireTlvMap {
        WireTlvMap {
            option_class: class,
            option_type: r#type,
            option_len: len,
            index,
        }
    }

    #[test]
    fn add_is_all_or_nothing_and_errors_are_ovs_codes() {
        let mut t = TlvMap::EMPTY;
        apply(&mut t, ADD, &[map(0, 0xffff, 0, 4), map(1, 0xffff, 1, 8)]).unwrap();
        assert_eq!(t.iter().count(), 2);
        // The second mapping fails: the first is not kept.
        let before = t.clone();
        assert_eq!(
            apply(&mut t, ADD, &[map(2, 0xffff, 2, 4), map(0, 1, 1, 4)]),
            Err(ErrorCode::NxttmfcAlreadyMapped)
        );
        assert_eq!(t, before);
        assert_eq!(
            apply(&mut t, ADD, &[map(3, 0xffff, 1, 4)]),
            Err(ErrorCode::NxttmfcDupEntry)
        );
        assert_eq!(
            apply(&mut t, ADD, &[map(3, 1, 1, 6)]),
            Err(ErrorCode::NxttmfcBadOptLen)
        );
        assert_eq!(
            apply(&mut t, ADD, &[map(3, 1, 1, 128)]),
            Err(ErrorCode::NxttmfcBadOptLen)
        );
        assert_eq!(
            apply(&mut t, ADD, &[map(64, 1, 1, 4)]),
            Err(ErrorCode::NxttmfcBadFieldIdx)
        );
        assert_eq!(apply(&mut t, 3, &[]), Err(ErrorCode::NxttmfcBadCommand));
        assert_eq!(
            apply(&mut t, ADD, &[map(3, 1, 1, 124), map(4, 1, 2, 124)]),
            Err(ErrorCode::NxttmfcTableFull)
        );
        apply(&mut t, DELETE, &[map(0, 0, 0, 0), map(9, 0, 0, 0)]).unwrap();
        let NxMessage::TlvTableReply {
            mappings,
            max_option_space,
            max_fields,
        } = reply(&t)
        else {
            unreachable!()
        };
        assert_eq!((max_option_space, max_fields), (256, 64));
        assert_eq!(mappings, vec![map(1, 0xffff, 1, 8)]);
        apply(&mut t, CLEAR, &[]).unwrap();
        assert_eq!(t.iter().count(), 0);
    }
}
