//! Statistics and description requests (OFPT_MULTIPART / OFPT_STATS and
//! Nicira's NXST_*): desc, flow, aggregate, table, port, queue, port
//! desc, and the group, meter and monitor kinds (handled by their own
//! modules). Replies larger than one message are split into several with
//! OFPMPF_REPLY_MORE, as OVS does.

use ferrovs_openflow::message::multipart::{
    AggregateStats, Desc, FlowStatsRequest, FlowStatsView, MpReply, MpRequest, MultipartReply,
    MultipartRequest, PortStats, TableStats,
};
use ferrovs_openflow::message::{finish_message, Message};
use ferrovs_openflow::port::{OFPP_LOCAL, OFPP_NONE};
use ferrovs_openflow::{ErrorCode, Version};

use crate::connmgr::dispatch::Handled;
use crate::connmgr::Connection;
use crate::flow::OfMatch;
use crate::flow_mod::RuleCriteria;
use crate::ofproto::Ofproto;
use crate::rule::Rule;
use std::sync::atomic::Ordering::Relaxed;

/// OFPFW10 bits of every field an OF1.0 table can wildcard.
const OF10_WILDCARDS: u32 = 0x3820ff;

/// Sends `entries` as one or more replies built by `wrap`, packed as OVS
/// packs them: each message takes entries while it stays within 64 KB,
/// and all but the last carry OFPMPF_REPLY_MORE. Each entry is encoded
/// once, alone, and its bytes are what the message body holds (every
/// reply split here is a plain sequence of entries after a fixed header,
/// the encoding of `wrap` of no entries).
pub(crate) fn send_split<T>(
    conn: &mut Connection,
    xid: u32,
    entries: Vec<T>,
    wrap: impl Fn(Vec<T>) -> MpReply,
) {
    let v = conn.ver();
    let reply = |chunk: Vec<T>| {
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: wrap(chunk),
        })
    };
    let header = reply(Vec::new()).encode(v, xid);
    let hlen = header.len();
    let out = &mut conn.output;
    let mut msg = out.len();
    out.extend_from_slice(&header);
    let mut one = Vec::with_capacity(256);
    for e in entries {
        one.clear();
        reply(vec![e]).encode_into(v, xid, &mut one);
        let body = &one[hlen.min(one.len())..];
        if out.len() - msg > hlen && out.len() - msg + body.len() > 0xffff {
            // This message is full: it has more after it.
            out[msg + 11] |= 1;
            finish_message(out, msg);
            msg = out.len();
            out.extend_from_slice(&header);
        }
        out.extend_from_slice(body);
    }
    finish_message(out, msg);
}

/// How far ahead of a walk over many rules their memory is requested:
/// a big dump or delete is bound by cache misses on rules (each a few
/// scattered allocations), not by the work on each.
const PREFETCH_AHEAD: usize = 8;

/// Prefetch hints for a walk at `rules[i]`: the rule two steps ahead of
/// this one's match and actions, whose own memory (already requested one
/// step earlier) tells where they are.
pub(crate) fn prefetch_rule(rules: &[&Rule], i: usize) {
    use ferrovs_datapath::emc::prefetch_read;
    if let Some(r) = rules.get(i + 2 * PREFETCH_AHEAD) {
        let p = std::ptr::from_ref::<Rule>(r).cast::<i8>();
        prefetch_read(p);
        prefetch_read(p.wrapping_add(64));
        prefetch_read(p.wrapping_add(128));
    }
    if let Some(r) = rules.get(i + PREFETCH_AHEAD) {
        prefetch_read(r.r#match.fields.as_ptr().cast());
        prefetch_read(r.instructions.as_ptr().cast());
    }
}

/// Sets the length (and OFPMPF_REPLY_MORE when `more`) of the multipart
/// reply that starts at `start` and ends at the end of `out`.
fn close_reply(out: &mut [u8], start: usize, more: bool) {
    let len = (out.len() - start) as u16;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    if more {
        // The flags follow the header and the 16-bit type in every version.
        out[start + 10..start + 12].copy_from_slice(&1u16.to_be_bytes());
    }
}

impl Ofproto {
    pub(crate) fn handle_multipart(
        &mut self,
        conn: &mut Connection,
        req: MultipartRequest,
        xid: u32,
    ) -> Handled {
        let v = conn.ver();
        match req.body {
            MpRequest::Desc => {
                let d = Desc {
                    mfr_desc: "Nicira, Inc.".into(),
                    hw_desc: "Open vSwitch".into(),
                    sw_desc: "ferrovs".into(),
                    serial_num: "None".into(),
                    dp_desc: "None".into(),
                };
                self.reply(conn, xid, MpReply::Desc(d));
            }
            MpRequest::Flow(r) => self.send_flow_stats(conn, xid, &r, false)?,
            MpRequest::NxFlow(r) => self.send_flow_stats(conn, xid, &r, true)?,
            MpRequest::Aggregate(r) => {
                let a = self.aggregate_stats(&r)?;
                self.reply(conn, xid, MpReply::Aggregate(a));
            }
            MpRequest::NxAggregate(r) => {
                let a = self.aggregate_stats(&r)?;
                self.reply(conn, xid, MpReply::NxAggregate(a));
            }
            MpRequest::Table => {
                let ts = self.table_stats();
                send_split(conn, xid, ts, MpReply::Table);
            }
            MpRequest::PortStats(p) => {
                let ps = self.port_stats(p)?;
                send_split(conn, xid, ps, MpReply::PortStats);
            }
            MpRequest::Queue(p, q) => {
                let qs = self.queue_stats(p, q)?;
                send_split(conn, xid, qs, MpReply::Queue);
            }
            MpRequest::PortDesc(p) => {
                let ports: Vec<_> = self
                    .ports
                    .values()
                    .filter(|d| p == OFPP_NONE || p == 0xfffc || d.port_no == p)
                    .map(|d| crate::port::port_for(v, d))
                    .collect();
                send_split(conn, xid, ports, MpReply::PortDesc);
            }
            MpRequest::Group(g) => {
                let s = self.group_stats(g);
                send_split(conn, xid, s, MpReply::Group);
            }
            MpRequest::GroupDesc(g) => {
                let s = self.group_desc(g);
                send_split(conn, xid, s, MpReply::GroupDesc);
            }
            MpRequest::GroupFeatures => {
                let f = crate::group::group_features();
                self.reply(conn, xid, MpReply::GroupFeatures(f));
            }
            MpRequest::Meter(m) => {
                let s = self.meter_stats(m)?;
                send_split(conn, xid, s, MpReply::Meter);
            }
            MpRequest::MeterConfig(m) => {
                let s = self.meter_config(m)?;
                send_split(conn, xid, s, MpReply::MeterConfig);
            }
            MpRequest::MeterFeatures => {
                let f = crate::meter::meter_features();
                self.reply(conn, xid, MpReply::MeterFeatures(f));
            }
            MpRequest::TableFeatures(req) => {
                if !req.is_empty() {
                    // Changing table features: OVS accepts only what it
                    // already has; refused here.
                    return Err(ErrorCode::OfptffcEperm);
                }
                let key = self.table_features_key(v);
                if !self.tf_cache.append(&key, xid, &mut conn.output) {
                    let at = conn.output.len();
                    let f = self.table_features(v);
                    send_split(conn, xid, f, MpReply::TableFeatures);
                    self.tf_cache.put(key, conn.output[at..].to_vec());
                }
            }
            MpRequest::NxFlowMonitor(reqs) => self.add_monitors(conn, &reqs, xid)?,
            // ONFST_FLOW_MONITOR (OpenFlow 1.3 ONF extension).
            MpRequest::Experimenter {
                experimenter: crate::bundle::ONF_EXPERIMENTER,
                exp_type: crate::connmgr::monitor::ONF_FLOW_MONITOR,
                body,
            } if v == Version::Of13 => self.onf_monitors(conn, &body, xid)?,
            // OFPMP_FLOW_MONITOR (1.4+).
            MpRequest::Other { type_: 16, body } if v >= Version::Of14 => {
                self.of14_monitors(conn, &body, xid)?
            }
            // OFPMP_TABLE_DESC (1.4+).
            MpRequest::Other { type_: 14, body } if v >= Version::Of14 => {
                if !body.is_empty() {
                    return Err(ErrorCode::OfpbrcBadLen);
                }
                let entries = self.table_desc();
                send_split(conn, xid, entries, |e: Vec<Vec<u8>>| MpReply::Other {
                    type_: 14,
                    body: e.concat(),
                });
            }
            // OVS's OpenFlow 1.0 port description request (type 13).
            MpRequest::Other { type_: 13, body } if v == Version::Of10 => {
                let p = if body.len() >= 2 {
                    u16::from_be_bytes([body[0], body[1]])
                } else {
                    OFPP_NONE
                };
                let ports: Vec<_> = self
                    .ports
                    .values()
                    .filter(|d| p == OFPP_NONE || d.port_no == p)
                    .map(|d| crate::port::port_for(v, d))
                    .collect();
                send_split(conn, xid, ports, MpReply::PortDesc);
            }
            _ => {
                let _ = v;
                return Err(ErrorCode::OfpbrcBadStat);
            }
        }
        Ok(())
    }

    fn reply(&self, conn: &mut Connection, xid: u32, body: MpReply) {
        conn.send(
            &Message::MultipartReply(MultipartReply { flags: 0, body }),
            xid,
        );
    }

    /// Rules a flow/aggregate stats request selects.
    fn stats_rules(&self, r: &FlowStatsRequest) -> Result<Vec<&Rule>, ErrorCode> {
        if !self.check_table_id(r.table_id) {
            return Err(ErrorCode::OfpbrcBadTableId);
        }
        r.r#match.check_prereqs().map_err(|e| e.code)?;
        let om = OfMatch::from_match(&r.r#match).map_err(|e| e.code())?;
        Ok(self.select_rules(&RuleCriteria {
            table_id: r.table_id,
            om: &om,
            strict_priority: None,
            cookie: r.cookie,
            cookie_mask: r.cookie_mask,
            out_port: r.out_port,
            out_group: r.out_group,
        }))
    }

    /// The flow stats entry of `rule` at `now`, borrowing its match and
    /// instructions.
    fn flow_stats_entry(rule: &Rule, now: std::time::Instant) -> FlowStatsView<'_> {
        // Wire form of NX/OF1.5 ages: seconds + 1 (0 means unknown).
        let age = |t: std::time::Instant| {
            now.saturating_duration_since(t)
                .as_secs()
                .min(u16::MAX as u64 - 1) as u16
                + 1
        };
        let (duration_sec, duration_nsec) = rule.duration(now);
        FlowStatsView {
            table_id: rule.table_id,
            duration_sec,
            duration_nsec,
            priority: rule.priority,
            idle_timeout: rule.idle_timeout,
            hard_timeout: rule.hard_timeout,
            flags: rule.flags,
            importance: rule.importance,
            idle_age: age(rule.used),
            hard_age: age(rule.modified),
            cookie: rule.cookie,
            packet_count: rule.packet_count,
            byte_count: rule.byte_count,
            r#match: &rule.r#match,
            instructions: &rule.instructions,
        }
    }

    /// Answers a flow stats request (`nx`: NXST_FLOW) by encoding each
    /// selected rule straight from the rule (nothing is copied) into reply
    /// messages on the connection's output: an entry that takes its
    /// message past 64 KiB is moved into a new one, and the full message
    /// is closed with OFPMPF_REPLY_MORE. No list of entries is built.
    fn send_flow_stats(
        &self,
        conn: &mut Connection,
        xid: u32,
        r: &FlowStatsRequest,
        nx: bool,
    ) -> Result<(), ErrorCode> {
        let rules = self.stats_rules(r)?;
        let now = self.now();
        let v = conn.ver();
        let body = if nx {
            MpReply::NxFlow(Vec::new())
        } else {
            MpReply::Flow(Vec::new())
        };
        let head = Message::MultipartReply(MultipartReply { flags: 0, body }).encode(v, xid);
        let out = &mut conn.output;
        let mut msg_start = out.len();
        out.extend_from_slice(&head);
        for (i, rule) in rules.iter().enumerate() {
            prefetch_rule(&rules, i);
            let entry_start = out.len();
            Self::flow_stats_entry(rule, now).encode_entry(v, nx, out);
            if out.len() - msg_start > 0xffff && entry_start - msg_start > head.len() {
                let entry = out.split_off(entry_start);
                close_reply(out, msg_start, true);
                msg_start = out.len();
                out.extend_from_slice(&head);
                out.extend_from_slice(&entry);
            }
        }
        close_reply(out, msg_start, false);
        Ok(())
    }

    fn aggregate_stats(&self, r: &FlowStatsRequest) -> Result<AggregateStats, ErrorCode> {
        let rules = self.stats_rules(r)?;
        let mut a = AggregateStats {
            packet_count: 0,
            byte_count: 0,
            flow_count: rules.len() as u32,
        };
        for rule in rules {
            a.packet_count += rule.packet_count;
            a.byte_count += rule.byte_count;
        }
        Ok(a)
    }

    /// The table stats body (`OFPMP_TABLE`): one entry per visible table.
    pub fn table_stats(&self) -> Vec<TableStats> {
        (0..self.config.n_tables)
            .map(|id| {
                let t = self.tables.get(id).expect("visible table exists");
                let mut name = [0u8; 32];
                if let Some(n) = &t.name {
                    let b = n.as_bytes();
                    let k = b.len().min(31);
                    name[..k].copy_from_slice(&b[..k]);
                }
                TableStats {
                    table_id: id,
                    name,
                    wildcards: OF10_WILDCARDS,
                    max_entries: t.max_flows.min(crate::table::DEFAULT_MAX_FLOWS),
                    active_count: t.n_flows() as u32,
                    lookup_count: t.lookup_count.load(Relaxed),
                    matched_count: t.matched_count.load(Relaxed),
                }
            })
            .collect()
    }

    fn port_stats(&self, p: u16) -> Result<Vec<PortStats>, ErrorCode> {
        if p != OFPP_NONE && p != 0xfffc && !self.ports.contains_key(&p) {
            return Err(ErrorCode::OfpbrcBadPort);
        }
        let now = self.now();
        let mut v: Vec<PortStats> = self
            .ports
            .keys()
            .filter(|n| p == OFPP_NONE || p == 0xfffc || **n == p)
            .map(|n| {
                let c = self.port_counters(*n);
                let (duration_sec, duration_nsec) =
                    crate::rule::duration_since(c.since.unwrap_or(now), now);
                PortStats {
                    duration_sec,
                    duration_nsec,
                    ..c.stats(*n)
                }
            })
            .collect();
        // OVS lists LOCAL first, then ports by number.
        v.sort_by_key(|s| (s.port_no != OFPP_LOCAL, s.port_no));
        let _ = Version::Of10;
        Ok(v)
    }
}
