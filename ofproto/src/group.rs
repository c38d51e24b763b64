//! Groups (OFPT_GROUP_MOD): all, select (weights; OF1.5 selection method
//! and fields kept as the properties that carried them), indirect and
//! fast-failover (liveness from watched ports and groups), and their
//! stats, desc and features.
//!
//! A group holds its buckets as given, numbered by position when the
//! version has no bucket ids. Deleting a group deletes the rules that use
//! it (reason OFPRR_GROUP_DELETE), as OVS does. Counters are per group and
//! per bucket; the datapath side adds to them.

use std::collections::BTreeSet;
use std::time::Instant;

use ferrovs_openflow::message::multipart::{GroupDesc, GroupFeatures, GroupStats};
use ferrovs_openflow::message::{Bucket, GroupMod};
use ferrovs_openflow::port::OFPP_NONE;
use ferrovs_openflow::ErrorCode;

use crate::connmgr::dispatch::Handled;
use crate::connmgr::Connection;
use crate::flow_mod::RR_GROUP_DELETE;
use crate::ofproto::Ofproto;

pub const GT_ALL: u8 = 0;
pub const GT_SELECT: u8 = 1;
pub const GT_INDIRECT: u8 = 2;
pub const GT_FF: u8 = 3;

pub const GC_ADD: u16 = 0;
pub const GC_MODIFY: u16 = 1;
pub const GC_DELETE: u16 = 2;
pub const GC_INSERT_BUCKET: u16 = 3;
pub const GC_REMOVE_BUCKET: u16 = 5;
/// OVS extension: add or modify.
pub const GC_ADD_OR_MOD: u16 = 0x8000;

pub const OFPG_MAX: u32 = 0xffff_ff00;
pub const OFPG_ALL: u32 = 0xffff_fffc;
pub const OFPG_ANY: u32 = 0xffff_ffff;
pub const BUCKET_FIRST: u32 = 0xffff_fffd;
pub const BUCKET_LAST: u32 = 0xffff_fffe;
pub const BUCKET_ALL: u32 = 0xffff_ffff;

#[derive(Debug, Clone)]
pub struct Group {
    pub group_id: u32,
    pub type_: u8,
    pub buckets: Vec<Bucket>,
    /// OF1.5 properties (selection method, fields), raw.
    pub props: Vec<u8>,
    pub created: Instant,
    pub packet_count: u64,
    pub byte_count: u64,
    /// Per bucket (packets, bytes), same order as `buckets`.
    pub bucket_counts: Vec<(u64, u64)>,
}

/// OFPGFC_* capabilities and limits OVS reports.
pub fn group_features() -> GroupFeatures {
    // Every action bit OVS can put in a bucket (OF1.1+ OFPAT_* bitmap).
    let actions = 0x03ff_ffff;
    GroupFeatures {
        types: 0xf,
        // SELECT_WEIGHT | SELECT_LIVENESS | CHAINING.
        capabilities: 1 | 2 | 4,
        max_groups: [OFPG_MAX; 4],
        actions: [actions; 4],
    }
}

/// OVS `ofputil_check_group_mod`.
fn check_group_mod(gm: &GroupMod) -> Handled {
    if gm.type_ == GT_INDIRECT && gm.command != GC_DELETE && gm.buckets.len() != 1 {
        return Err(ErrorCode::OfpgmfcInvalidGroup);
    }
    if gm.type_ > GT_FF {
        return Err(ErrorCode::OfpgmfcBadType);
    }
    match gm.command {
        GC_ADD | GC_MODIFY | GC_ADD_OR_MOD | GC_DELETE | GC_INSERT_BUCKET => {}
        GC_REMOVE_BUCKET => {
            if !gm.buckets.is_empty() {
                return Err(ErrorCode::OfpgmfcBadBucket);
            }
        }
        _ => return Err(ErrorCode::OfpgmfcBadCommand),
    }
    for b in &gm.buckets {
        if b.weight != 0 && gm.type_ != GT_SELECT && gm.command != GC_INSERT_BUCKET {
            return Err(ErrorCode::OfpgmfcInvalidGroup);
        }
        let live = b.watch_port != OFPP_NONE || b.watch_group != OFPG_ANY;
        match gm.type_ {
            GT_ALL | GT_INDIRECT if live => return Err(ErrorCode::OfpgmfcWatchUnsupported),
            GT_FF if !live => return Err(ErrorCode::OfpgmfcInvalidGroup),
            _ => {}
        }
    }
    Ok(())
}

/// Gives position ids to buckets that have none.
fn number_buckets(buckets: &mut [Bucket]) {
    for (i, b) in buckets.iter_mut().enumerate() {
        if b.bucket_id == u32::MAX {
            b.bucket_id = i as u32;
        }
    }
}

impl Ofproto {
    /// OFPT_GROUP_MOD.
    pub(crate) fn handle_group_mod(
        &mut self,
        conn: &mut Connection,
        gm: &GroupMod,
        xid: u32,
    ) -> Handled {
        check_group_mod(gm)?;
        self.changed();
        let now = self.now();
        match gm.command {
            GC_DELETE => {
                let ids: Vec<u32> = if gm.group_id == OFPG_ALL {
                    self.groups.keys().copied().collect()
                } else {
                    vec![gm.group_id]
                };
                self.delete_groups(&ids, Some(conn), xid);
                Ok(())
            }
            GC_ADD | GC_MODIFY | GC_ADD_OR_MOD => {
                if gm.group_id > OFPG_MAX {
                    return Err(ErrorCode::OfpgmfcInvalidGroup);
                }
                let exists = self.groups.contains_key(&gm.group_id);
                if gm.command == GC_ADD && exists {
                    return Err(ErrorCode::OfpgmfcGroupExists);
                }
                if gm.command == GC_MODIFY && !exists {
                    return Err(ErrorCode::OfpgmfcUnknownGroup);
                }
                let mut buckets = gm.buckets.clone();
                number_buckets(&mut buckets);
                let old = self.groups.get(&gm.group_id);
                let g = Group {
                    group_id: gm.group_id,
                    type_: gm.type_,
                    bucket_counts: vec![(0, 0); buckets.len()],
                    buckets,
                    props: gm.props.clone(),
                    created: old.map_or(now, |o| o.created),
                    packet_count: old.map_or(0, |o| o.packet_count),
                    byte_count: old.map_or(0, |o| o.byte_count),
                };
                self.groups.insert(gm.group_id, g);
                Ok(())
            }
            GC_INSERT_BUCKET => {
                let g = self
                    .groups
                    .get_mut(&gm.group_id)
                    .ok_or(ErrorCode::OfpgmfcUnknownGroup)?;
                let next = g.buckets.iter().map(|b| b.bucket_id + 1).max().unwrap_or(0);
                let mut new = gm.buckets.clone();
                for (i, b) in new.iter_mut().enumerate() {
                    if b.bucket_id == u32::MAX {
                        b.bucket_id = next + i as u32;
                    }
                    if g.buckets.iter().any(|o| o.bucket_id == b.bucket_id) {
                        return Err(ErrorCode::OfpgmfcBucketExists);
                    }
                }
                let at = match gm.command_bucket_id {
                    BUCKET_FIRST => 0,
                    BUCKET_LAST | BUCKET_ALL => g.buckets.len(),
                    id => {
                        g.buckets
                            .iter()
                            .position(|b| b.bucket_id == id)
                            .ok_or(ErrorCode::OfpgmfcUnknownBucket)?
                            + 1
                    }
                };
                let n = new.len();
                g.buckets.splice(at..at, new);
                g.bucket_counts.splice(at..at, vec![(0, 0); n]);
                Ok(())
            }
            GC_REMOVE_BUCKET => {
                let g = self
                    .groups
                    .get_mut(&gm.group_id)
                    .ok_or(ErrorCode::OfpgmfcUnknownGroup)?;
                let keep: Vec<bool> = match gm.command_bucket_id {
                    BUCKET_ALL => vec![false; g.buckets.len()],
                    BUCKET_FIRST => (0..g.buckets.len()).map(|i| i != 0).collect(),
                    BUCKET_LAST => (0..g.buckets.len())
                        .map(|i| i + 1 != g.buckets.len())
                        .collect(),
                    id => {
                        if !g.buckets.iter().any(|b| b.bucket_id == id) {
                            return Err(ErrorCode::OfpgmfcUnknownBucket);
                        }
                        g.buckets.iter().map(|b| b.bucket_id != id).collect()
                    }
                };
                let mut k = keep.iter();
                g.buckets.retain(|_| *k.next().expect("same length"));
                let mut k = keep.iter();
                g.bucket_counts.retain(|_| *k.next().expect("same length"));
                Ok(())
            }
            _ => Err(ErrorCode::OfpgmfcBadCommand),
        }
    }

    /// Deletes groups `ids` and every rule that uses them.
    pub(crate) fn delete_groups(&mut self, ids: &[u32], conn: Option<&mut Connection>, xid: u32) {
        self.changed();
        let set: BTreeSet<u32> = ids.iter().copied().collect();
        let mut victims = Vec::new();
        for (t, table) in self.tables.t.iter().enumerate() {
            for (k, r) in table.cls.iter() {
                if r.groups().iter().any(|g| set.contains(g)) {
                    victims.push((t as u8, k.r#match(), r.priority));
                }
            }
        }
        let mut changes = Vec::new();
        self.remove_rules(&victims, RR_GROUP_DELETE, &mut changes);
        for id in ids {
            self.groups.remove(id);
        }
        self.commit_changes(changes, conn, xid);
    }

    fn group_refs(&self, id: u32) -> u32 {
        self.tables
            .t
            .iter()
            .flat_map(|t| t.cls.iter())
            .filter(|(_, r)| r.groups().contains(&id))
            .count() as u32
    }

    pub(crate) fn group_stats(&self, id: u32) -> Vec<GroupStats> {
        let now = self.now();
        self.groups
            .values()
            .filter(|g| id == OFPG_ALL || g.group_id == id)
            .map(|g| {
                let (duration_sec, duration_nsec) = crate::rule::duration_since(g.created, now);
                GroupStats {
                    group_id: g.group_id,
                    ref_count: self.group_refs(g.group_id),
                    packet_count: g.packet_count,
                    byte_count: g.byte_count,
                    duration_sec,
                    duration_nsec,
                    buckets: g.bucket_counts.clone(),
                }
            })
            .collect()
    }

    pub(crate) fn group_desc(&self, id: u32) -> Vec<GroupDesc> {
        self.groups
            .values()
            .filter(|g| id == OFPG_ALL || id == OFPG_ANY || g.group_id == id)
            .map(|g| GroupDesc {
                type_: g.type_,
                group_id: g.group_id,
                buckets: g.buckets.clone(),
                props: g.props.clone(),
            })
            .collect()
    }

    /// Adds datapath counters to group `id` and its bucket at `bucket`
    /// (position). False if there is no such group.
    pub fn credit_group(&mut self, id: u32, bucket: usize, packets: u64, bytes: u64) -> bool {
        let Some(g) = self.groups.get_mut(&id) else {
            return false;
        };
        g.packet_count += packets;
        g.byte_count += bytes;
        if let Some(b) = g.bucket_counts.get_mut(bucket) {
            b.0 += packets;
            b.1 += bytes;
        }
        true
    }

    /// The group `id`.
    pub fn group(&self, id: u32) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// True if group `id` is live (fast-failover): it has a live bucket.
    pub fn group_is_live(&self, id: u32, depth: u32) -> bool {
        let Some(g) = self.groups.get(&id) else {
            return false;
        };
        depth < 32 && g.buckets.iter().any(|b| self.bucket_is_live(b, depth + 1))
    }

    /// A bucket is live when its watched port is up and its watched group
    /// live (OpenFlow 1.3 section 5.6.1).
    pub fn bucket_is_live(&self, b: &Bucket, depth: u32) -> bool {
        let port_ok = b.watch_port == OFPP_NONE
            || self
                .ports
                .get(&b.watch_port)
                .is_some_and(|p| p.config & 1 == 0 && p.state & 1 == 0);
        let group_ok = b.watch_group == OFPG_ANY || self.group_is_live(b.watch_group, depth);
        port_ok && group_ok
    }
}
