//! Table-mod (OFPT_TABLE_MOD: table-miss config in 1.1/1.2, eviction and
//! vacancy in 1.4+) and the table features a controller reads.

use ferrovs_openflow::message::table_features::{OxmId, TableFeatureProp, TfpValue};
use ferrovs_openflow::message::{TableFeatures, TableMod};
use ferrovs_openflow::ErrorCode;

use crate::connmgr::async_config::AsyncKind;
use crate::connmgr::dispatch::Handled;
use crate::connmgr::Connection;
use crate::ofproto::Ofproto;
use crate::table::{DEFAULT_MAX_FLOWS, TABLE_HIDDEN};

/// OFPTC14_EVICTION and OFPTC14_VACANCY_EVENTS.
const TC_EVICTION: u32 = 1 << 2;
const TC_VACANCY: u32 = 1 << 3;
/// OFPT_TABLE_STATUS (OpenFlow 1.4+).
const OFPT14_TABLE_STATUS: u8 = 31;

/// What a table does with a packet no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableMiss {
    /// Send it to the controllers (packet-in, reason no_match).
    Controller,
    /// Go on to the next table.
    Continue,
    /// Drop it.
    Drop,
}

impl Ofproto {
    /// Applies `Flow_Table` settings from the database: name, flow limit
    /// (`flow_limit`, None: unlimited) and `overflow_policy=evict`.
    pub fn set_table_config(
        &mut self,
        table_id: u8,
        name: Option<String>,
        max_flows: Option<u32>,
        evict: bool,
    ) {
        // Nothing translation reads.
        if let Some(t) = self.tables.get_mut_counters(table_id) {
            t.name = name;
            t.max_flows = max_flows.unwrap_or(u32::MAX);
            t.eviction = evict;
        }
    }

    /// OVS's `connmgr_wants_packet_in_on_miss`: some connection with
    /// controller id 0 speaks OpenFlow below 1.3 (or has not negotiated
    /// yet); those expect table misses as packet-ins.
    pub fn wants_packet_in_on_miss(&self) -> bool {
        self.conns.values().any(|c| {
            c.controller_id == 0
                && c.version
                    .is_none_or(|v| v < ferrovs_openflow::Version::Of13)
        })
    }

    /// The table-miss behaviour of `table_id` (table-mod OFPTC11_TABLE_MISS_*
    /// if set, else the default per version: packet-in while a pre-1.3
    /// controller wants it, else drop, as OVS).
    pub fn table_miss(&self, table_id: u8) -> TableMiss {
        match self.tables.get(table_id).map_or(0, |t| t.miss_config) {
            1 => TableMiss::Continue,
            2 => TableMiss::Drop,
            3 => TableMiss::Controller,
            _ if self.wants_packet_in_on_miss() => TableMiss::Controller,
            _ => TableMiss::Drop,
        }
    }

    /// OFPT_TABLE_MOD: table-miss bits in 1.1/1.2 (0 controller, 1
    /// continue, 2 drop), eviction and vacancy bits in 1.4+; 1.3 has no
    /// config bits.
    pub(crate) fn handle_table_mod(
        &mut self,
        tm: &TableMod,
        v: ferrovs_openflow::Version,
    ) -> Handled {
        use ferrovs_openflow::Version;
        let ids: Vec<u8> = if tm.table_id == 0xff {
            (0..TABLE_HIDDEN).collect()
        } else if tm.table_id >= TABLE_HIDDEN {
            return Err(ErrorCode::OfpbrcBadTableId);
        } else {
            vec![tm.table_id]
        };
        // OFPTMPT14_VACANCY property: type 3, length 8, down, up.
        let mut vacancy = None;
        let mut p = &tm.props[..];
        while p.len() >= 4 {
            let ty = u16::from_be_bytes([p[0], p[1]]);
            let len = u16::from_be_bytes([p[2], p[3]]) as usize;
            if len < 4 || len > p.len() {
                return Err(ErrorCode::OfpbpcBadLen);
            }
            if ty == 3 {
                if len != 8 {
                    return Err(ErrorCode::OfpbpcBadLen);
                }
                let (down, up) = (p[4], p[5]);
                if down > up || up > 100 {
                    return Err(ErrorCode::OfpbpcBadValue);
                }
                vacancy = Some((down, up));
            }
            p = &p[(len.div_ceil(8) * 8).min(p.len())..];
        }
        for id in ids {
            let t = self.tables.get_mut(id).expect("table exists");
            match v {
                Version::Of11 | Version::Of12 => {
                    t.miss_config = match tm.config & 3 {
                        0 => 3,
                        m => m,
                    }
                }
                Version::Of14 | Version::Of15 => {
                    t.eviction = tm.config & TC_EVICTION != 0;
                    t.vacancy = tm.config & TC_VACANCY != 0;
                    if let Some((down, up)) = vacancy {
                        t.vacancy_down = down;
                        t.vacancy_up = up;
                    }
                    // Arm the event the current vacancy can reach first.
                    if !t.vacancy {
                        t.vacancy_event = 0;
                    } else if t.vacancy_event == 0 {
                        t.vacancy_event = if t.vacancy_percent() < t.vacancy_up {
                            crate::table::VACANCY_UP
                        } else {
                            crate::table::VACANCY_DOWN
                        };
                    }
                }
                _ => {}
            }
        }
        self.tables.note_vacancy();
        Ok(())
    }

    /// OFPMP_TABLE_DESC (1.4+) entries, encoded: per table its config
    /// and an eviction property (OVS's flags OTHER|IMPORTANCE|LIFETIME),
    /// plus a vacancy property when vacancy events are on.
    pub(crate) fn table_desc(&self) -> Vec<Vec<u8>> {
        (0..self.config.n_tables)
            .map(|id| self.table_desc_entry(id))
            .collect()
    }

    /// One OFPMP_TABLE_DESC entry (also the body of a table status).
    pub(crate) fn table_desc_entry(&self, id: u8) -> Vec<u8> {
        let t = self.tables.get(id).expect("visible table");
        let config =
            if t.eviction { TC_EVICTION } else { 0 } | if t.vacancy { TC_VACANCY } else { 0 };
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
            e.extend_from_slice(&[t.vacancy_down, t.vacancy_up, t.vacancy_percent(), 0]);
        }
        let len = e.len() as u16;
        e[0..2].copy_from_slice(&len.to_be_bytes());
        e
    }

    /// Sends OFPT_TABLE_STATUS for table `id` if its armed vacancy event
    /// is due (OVS `send_table_status`), to every OpenFlow 1.4+
    /// connection whose asynchronous configuration asks for the reason.
    pub(crate) fn send_table_status(&mut self, cur: Option<&mut Connection>, id: u8) {
        let Some(reason) = self
            .tables
            .get_mut_counters(id)
            .and_then(|t| t.take_vacancy_event())
        else {
            return;
        };
        let desc = self.table_desc_entry(id);
        self.each_conn(cur, |c| {
            let v = c.ver();
            if v < ferrovs_openflow::Version::Of14
                || !c.receives_async(AsyncKind::TableStatus, reason)
            {
                return;
            }
            // Header, reason, 7 bytes of pad, the table's description.
            let mut m = Vec::with_capacity(16 + desc.len());
            m.extend_from_slice(&[v.wire(), OFPT14_TABLE_STATUS]);
            m.extend_from_slice(&((16 + desc.len()) as u16).to_be_bytes());
            m.extend_from_slice(&0u32.to_be_bytes());
            m.push(reason);
            m.extend_from_slice(&[0; 7]);
            m.extend_from_slice(&desc);
            c.send_async_raw(&m);
        });
    }

    /// What [`Ofproto::table_features`] reads, for its cache.
    pub(crate) fn table_features_key(
        &self,
        v: ferrovs_openflow::Version,
    ) -> crate::table_features_cache::Key {
        let tables = (0..self.config.n_tables)
            .map(|id| {
                let t = self.tables.get(id).expect("visible table");
                (t.name.clone(), t.eviction, t.max_flows)
            })
            .collect();
        crate::table_features_cache::Key { version: v, tables }
    }

    /// The table features of every visible table, as version `v` lists
    /// them. Reads only the version and each table's name, eviction flag
    /// and flow limit ([`Ofproto::table_features_key`]: keep the two in
    /// step).
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
