//! The 255 OpenFlow tables of a bridge.
//!
//! Each [`OfTable`] is a priority classifier of [`Rule`]s keyed by
//! (canonical match, priority) plus the table's settings (name, flow limit,
//! eviction, table-mod config) and its lookup counters. Table 254 exists
//! but is hidden and read-only as in OVS (controllers see ids 0..=253);
//! `n_tables` of the bridge config can hide more.

use crate::classifier::Classifier;
use crate::rule::Rule;
use std::sync::atomic::AtomicU64;

/// Tables a bridge holds (ids 0..=254).
pub const N_TABLES: usize = 255;
/// The hidden, read-only table (OVS's TBL_INTERNAL).
pub const TABLE_HIDDEN: u8 = 254;
/// Default flow limit (reported as max_entries).
pub const DEFAULT_MAX_FLOWS: u32 = 1_000_000;
/// OFPTR_VACANCY_DOWN and OFPTR_VACANCY_UP (OFPT_TABLE_STATUS reasons).
pub const VACANCY_DOWN: u8 = 3;
pub const VACANCY_UP: u8 = 4;

pub struct OfTable {
    /// Rules boxed: the classifier moves only pointers.
    pub cls: Classifier<Box<Rule>>,
    /// `Flow_Table:name`; None shows the default.
    pub name: Option<String>,
    /// Flow limit (`Flow_Table:flow_limit`), u32::MAX: none.
    pub max_flows: u32,
    /// Evict when full (table-mod OFPTC14_EVICTION or `overflow_policy=evict`).
    pub eviction: bool,
    /// Table-miss config from an OpenFlow 1.1/1.2 table-mod: 0 default
    /// (per version), 1 continue (OFPTC11_TABLE_MISS_CONTINUE), 2 drop,
    /// 3 controller.
    pub miss_config: u32,
    /// Vacancy events (OFPTC14_VACANCY_EVENTS) asked, with their
    /// thresholds in percent (down, up).
    pub vacancy: bool,
    pub vacancy_down: u8,
    pub vacancy_up: u8,
    /// The vacancy event armed (OVS `vacancy_event`): 0 none,
    /// [`VACANCY_DOWN`] or [`VACANCY_UP`]. Sending one arms the other, so
    /// a table going back and forth across one threshold reports once.
    pub vacancy_event: u8,
    /// Lookups and matches of packets (OpenFlow table stats), counted by
    /// translation as it runs, under the shared borrow it holds.
    pub lookup_count: AtomicU64,
    pub matched_count: AtomicU64,
}

impl Default for OfTable {
    fn default() -> Self {
        OfTable {
            cls: Classifier::new(),
            name: None,
            max_flows: u32::MAX,
            eviction: false,
            miss_config: 0,
            vacancy: false,
            vacancy_down: 0,
            vacancy_up: 100,
            vacancy_event: 0,
            lookup_count: AtomicU64::new(0),
            matched_count: AtomicU64::new(0),
        }
    }
}

impl OfTable {
    pub fn n_flows(&self) -> usize {
        self.cls.len()
    }

    /// Free room in percent of the flow limit, rounded down (OVS
    /// `oftable_vacancy`).
    pub fn vacancy_percent(&self) -> u8 {
        let (max, n) = (self.max_flows as u64, self.n_flows() as u64);
        if max == 0 {
            100
        } else if n >= max {
            0
        } else {
            ((max - n) * 100 / max) as u8
        }
    }

    /// The vacancy event due now, if one is armed and its threshold is
    /// crossed; it is then consumed and the opposite one armed.
    pub fn take_vacancy_event(&mut self) -> Option<u8> {
        if self.vacancy_event == 0 {
            return None;
        }
        let v = self.vacancy_percent();
        let ev = if v < self.vacancy_down {
            VACANCY_DOWN
        } else if v > self.vacancy_up {
            VACANCY_UP
        } else {
            return None;
        };
        if ev != self.vacancy_event {
            return None;
        }
        self.vacancy_event = if ev == VACANCY_DOWN {
            VACANCY_UP
        } else {
            VACANCY_DOWN
        };
        Some(ev)
    }

    /// The rule to evict to make room: the least important, then the one
    /// closest to expiring (OVS's eviction order, without eviction groups).
    pub fn eviction_victim(&self) -> Option<(crate::flow::OfMatch, u32)> {
        self.cls
            .iter()
            .filter(|(_, r)| r.idle_timeout != 0 || r.hard_timeout != 0 || r.importance != 0)
            .min_by_key(|(_, r)| (r.importance, r.used))
            .map(|(k, _)| (k.r#match(), k.priority))
    }
}

/// Every table of a bridge.
pub struct Tables {
    pub t: Vec<OfTable>,
    /// Bumped by every mutable borrow of a table ([`Tables::get_mut`]):
    /// part of the bridge's translation generation
    /// ([`crate::Ofproto::change_seq`]).
    version: u64,
    /// Some table has a vacancy event armed (kept by
    /// [`Tables::note_vacancy`] after each table-mod, the only change that
    /// arms or disarms one): each committed flow-mod asks, and a scan of
    /// 255 tables was an eighth of a one-by-one flow-mod's cost.
    vacancy_armed: bool,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            t: (0..N_TABLES).map(|_| OfTable::default()).collect(),
            version: 0,
            vacancy_armed: false,
        }
    }
}

impl Tables {
    pub fn get(&self, id: u8) -> Option<&OfTable> {
        self.t.get(id as usize)
    }
    /// A table to change: counts as a change of what translation reads
    /// (megaflows get revalidated).
    pub fn get_mut(&mut self, id: u8) -> Option<&mut OfTable> {
        self.version += 1;
        self.t.get_mut(id as usize)
    }
    /// A table whose counters, timeouts or events change, nothing
    /// translation reads (no revalidation).
    pub fn get_mut_counters(&mut self, id: u8) -> Option<&mut OfTable> {
        self.t.get_mut(id as usize)
    }
    /// How many times a table was borrowed to change.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// True if some table has a vacancy event armed.
    pub fn vacancy_armed(&self) -> bool {
        self.vacancy_armed
    }
    /// Updates [`Tables::vacancy_armed`] after tables' vacancy settings
    /// changed.
    pub fn note_vacancy(&mut self) {
        self.vacancy_armed = self.t.iter().any(|t| t.vacancy_event != 0);
    }
    /// Total number of rules.
    pub fn n_rules(&self) -> usize {
        self.t.iter().map(|t| t.n_flows()).sum()
    }
}
