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

    /// Table features of every visible table.
    pub(crate) fn table_features(&self) -> Vec<TableFeatures> {
        let n = self.config.n_tables;
        let mut match_ids = Vec::new();
        let mut set_ids = Vec::new();
        for info in ferrovs_openflow::field::FIELDS.iter() {
            // The OXM row when there is one, else the NXM row.
            let Some(h) = info.headers.iter().next_back() else {
                continue;
            };
            let width = info.width as u32;
            let id = OxmId {
                header: (u32::from(h.class) << 16)
                    | (u32::from(h.field) << 9)
                    | (width + if h.class == 0xffff { 4 } else { 0 }),
                experimenter: (h.class == 0xffff).then_some(h.experimenter),
            };
            match_ids.push(id);
            if info.writable {
                set_ids.push(id);
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
                    let insts: Vec<u16> = if next.is_empty() {
                        vec![2, 3, 4, 5, 6]
                    } else {
                        vec![1, 2, 3, 4, 5, 6]
                    };
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
                    value: TfpValue::Oxm(match_ids.clone()),
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
