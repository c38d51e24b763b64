//! Table-mod (OFPT_TABLE_MOD: table-miss config in 1.1/1.2, eviction and
//! vacancy in 1.4+) and the table features a controller reads.

use ferrovs_openflow::message::table_features::{OxmId, TableFeatureProp, TfpValue};
use ferrovs_openflow::message::{TableFeatures, TableMod};
use ferrovs_openflow::ErrorCode;

use crate::connmgr::dispatch::Handled;
use crate::ofproto::Ofproto;
use crate::table::{DEFAULT_MAX_FLOWS, TABLE_HIDDEN};

/// OFPTC14_EVICTION and OFPTC14_VACANCY_EVENTS.
const TC_EVICTION: u32 = 1 << 2;
const TC_VACANCY: u32 = 1 << 3;

impl Ofproto {
    /// OFPT_TABLE_MOD.
    pub(crate) fn handle_table_mod(&mut self, tm: &TableMod) -> Handled {
        let ids: Vec<u8> = if tm.table_id == 0xff {
            (0..TABLE_HIDDEN).collect()
        } else if tm.table_id >= TABLE_HIDDEN {
            return Err(ErrorCode::OfpbrcBadTableId);
        } else {
            vec![tm.table_id]
        };
        for id in ids {
            let t = self.tables.get_mut(id).expect("table exists");
            t.miss_config = tm.config & 3;
            t.eviction = tm.config & TC_EVICTION != 0;
            t.vacancy = tm.config & TC_VACANCY != 0;
        }
        Ok(())
    }

    /// OFPMP_TABLE_DESC (1.4+) entries, encoded: per table its config
    /// and an eviction property (OVS's flags OTHER|IMPORTANCE|LIFETIME),
    /// plus a vacancy property when vacancy events are on.
    pub(crate) fn table_desc(&self) -> Vec<Vec<u8>> {
        (0..self.config.n_tables)
            .map(|id| {
                let t = self.tables.get(id).expect("visible table");
                let config = if t.eviction { TC_EVICTION } else { 0 }
                    | if t.vacancy { TC_VACANCY } else { 0 };
                let mut e = Vec::with_capacity(24);
                e.extend_from_slice(&0u16.to_be_bytes());
                e.push(id);
                e.push(0);
                e.extend_from_slice(&config.to_be_bytes());
                // OFPTMPT_EVICTION: type 2, length 8, flags.
                e.extend_from_slice(&2u16.to_be_bytes());
                e.extend_from_slice(&8u16.to_be_bytes());
                e.extend_from_slice(&7u32.to_be_bytes());
                if t.vacancy {
                    // OFPTMPT_VACANCY: type 3, length 8, down, up, vacancy, pad.
                    e.extend_from_slice(&3u16.to_be_bytes());
                    e.extend_from_slice(&8u16.to_be_bytes());
                    e.extend_from_slice(&[0, 100, 100, 0]);
                }
                let len = e.len() as u16;
                e[0..2].copy_from_slice(&len.to_be_bytes());
                e
            })
            .collect()
    }

    /// Table features of every visible table.
    pub(crate) fn table_features(&self, v: ferrovs_openflow::Version) -> Vec<TableFeatures> {
        let n = self.config.n_tables;
        let mut match_ids = Vec::new();
        let mut set_ids = Vec::new();
        let mut wild_ids = Vec::new();
        for info in ferrovs_openflow::field::FIELDS.iter() {
            // As OVS's mf_oxm_header: the newest standard OXM row this
            // version has, else the NXM row, else the first row (an
            // experimenter OXM).
            let oxm_ok = |h: &&ferrovs_openflow::field::OxmHeaderDef| {
                h.class != 0xffff && !h.is_nxm() && h.since.is_some_and(|s| s <= v)
            };
            let Some(h) = info
                .headers
                .iter()
                .rev()
                .find(oxm_ok)
                .or_else(|| info.headers.iter().rev().find(|h| h.is_nxm()))
                .or_else(|| info.headers.first())
            else {
                continue;
            };
            let exp = u32::from(h.class == 0xffff) * 4;
            let width = u32::from(info.width);
            let header = (u32::from(h.class) << 16) | (u32::from(h.field) << 9);
            let experimenter = (h.class == 0xffff).then_some(h.experimenter);
            // In the match property a maskable field carries the hasmask
            // bit (and the doubled length), as OVS encodes it.
            match_ids.push(if info.maskable {
                OxmId {
                    header: header | 0x100 | (2 * width + exp),
                    experimenter,
                }
            } else {
                OxmId {
                    header: header | (width + exp),
                    experimenter,
                }
            });
            wild_ids.push(OxmId {
                header: header | (width + exp),
                experimenter,
            });
            if info.writable {
                set_ids.push(OxmId {
                    header: header | (width + exp),
                    experimenter,
                });
            }
        }
        (0..n)
            .map(|id| {
                let t = self.tables.get(id).expect("visible table");
                let mut name = [0u8; 32];
                // No name unless configured (as OVS: ovs-ofctl then
                // shows the number).
                let s = t.name.clone().unwrap_or_default();
                let k = s.len().min(31);
                name[..k].copy_from_slice(&s.as_bytes()[..k]);
                let next: Vec<u8> = (id + 1..n).collect();
                let mut props = Vec::new();
                for miss in [0u16, 1] {
                    // goto_table only when a later table exists; meter is an
                    // instruction up to 1.4 (an action in 1.5).
                    let insts: Vec<u16> = [1u16, 2, 3, 4, 5, 6]
                        .into_iter()
                        .filter(|i| *i != 1 || !next.is_empty())
                        .filter(|i| *i != 6 || v < ferrovs_openflow::Version::Of15)
                        .collect();
                    props.push(TableFeatureProp {
                        type_: miss,
                        value: TfpValue::Ids(insts),
                    });
                    props.push(TableFeatureProp {
                        type_: 2 + miss,
                        value: TfpValue::Tables(next.clone()),
                    });
                    let acts: Vec<u16> = vec![
                        0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
                    ];
                    props.push(TableFeatureProp {
                        type_: 4 + miss,
                        value: TfpValue::Ids(acts.clone()),
                    });
                    props.push(TableFeatureProp {
                        type_: 6 + miss,
                        value: TfpValue::Ids(acts),
                    });
                    props.push(TableFeatureProp {
                        type_: 12 + miss,
                        value: TfpValue::Oxm(set_ids.clone()),
                    });
                    props.push(TableFeatureProp {
                        type_: 14 + miss,
                        value: TfpValue::Oxm(set_ids.clone()),
                    });
                }
                props.push(TableFeatureProp {
                    type_: 8,
                    value: TfpValue::Oxm(match_ids.clone()),
                });
                props.push(TableFeatureProp {
                    type_: 10,
                    value: TfpValue::Oxm(wild_ids.clone()),
                });
                TableFeatures {
                    table_id: id,
                    command: 0,
                    name,
                    metadata_match: u64::MAX,
                    metadata_write: u64::MAX,
                    capabilities: if t.eviction { TC_EVICTION } else { 0 },
                    max_entries: t.max_flows.min(DEFAULT_MAX_FLOWS),
                    props,
                }
            })
            .collect()
    }
}
