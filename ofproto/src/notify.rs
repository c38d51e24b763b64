//! What the switch tells its connections after a committed change:
//! flow-removed (to every connection whose async configuration wants the
//! reason, in its version and flow format) and flow-monitor updates.
//!
//! While a message is being handled its connection is out of the map
//! (`Ofproto::receive` holds it), so every broadcast takes that
//! connection too.

use std::time::Instant;

use ferrovs_openflow::message::nicira::{NxFlowRemoved, NxMessage};
use ferrovs_openflow::message::{FlowMod, FlowRemoved, Message};
use ferrovs_openflow::Version;

use crate::connmgr::async_config::AsyncKind;
use crate::connmgr::{ConnId, Connection, FlowFormat};
use crate::flow_mod::{Change, RuleEvent, RR_DELETE};
use crate::ofproto::Ofproto;
use crate::rule::Rule;

impl Ofproto {
    /// Calls `f` on every connection, `cur` (the one being served) too.
    pub(crate) fn each_conn(
        &mut self,
        cur: Option<&mut Connection>,
        mut f: impl FnMut(&mut Connection),
    ) {
        if let Some(c) = cur {
            f(c);
        }
        for c in self.conns.values_mut() {
            f(c);
        }
    }

    /// Reports committed `changes` made by connection `by` (with request
    /// `xid`), or by the switch itself (timeouts) when `by` is None.
    pub(crate) fn commit_changes(
        &mut self,
        changes: Vec<Change>,
        mut cur: Option<&mut Connection>,
        xid: u32,
    ) {
        if changes.is_empty() {
            return;
        }
        let now = self.now();
        let by: Option<ConnId> = cur.as_ref().map(|c| c.id);
        let monitored = cur.as_ref().is_some_and(|c| !c.monitors.is_empty())
            || self.conns.values().any(|c| !c.monitors.is_empty());
        let vacancy = self.tables.vacancy_armed();
        // The flow-removed reasons some connection takes (bit per reason):
        // with none, and no monitor and no vacancy event, a removed rule
        // is not read at all (a big delete is bound by those reads). Asked
        // only when something was removed: adds are the common case.
        let mut removed_wanted = 0u32;
        if changes
            .iter()
            .any(|c| matches!(c, Change::Remove { .. } | Change::RemoveTable { .. }))
        {
            for reason in 0..32u8 {
                let wants = |c: &Connection| c.receives_async(AsyncKind::FlowRemoved, reason);
                if cur.as_deref().is_some_and(wants) || self.conns.values().any(wants) {
                    removed_wanted |= 1 << reason;
                }
            }
        }
        let removes_read = removed_wanted != 0 || monitored || vacancy;
        // A whole table's removal is read rule by rule only when something
        // reports the rules (`delete_learned` reads it whole, through
        // `Change::gone`).
        let changes = if removes_read {
            Change::expand(changes)
        } else {
            changes
        };
        for (i, ch) in changes.iter().enumerate() {
            if !removes_read && matches!(ch, Change::Remove { .. }) {
                continue;
            }
            // A big delete is bound by cache misses on the removed rules.
            if let Some(Change::Remove { rule, .. }) = changes.get(i + 8) {
                let p = std::ptr::from_ref::<Rule>(rule).cast::<i8>();
                ferrovs_datapath::emc::prefetch_read(p);
                ferrovs_datapath::emc::prefetch_read(p.wrapping_add(64));
            }
            // Vacancy events (OpenFlow 1.4): after each added or removed
            // rule, as OVS; a no-op unless a table armed one.
            match ch {
                _ if !vacancy => {}
                Change::Remove { rule, .. } => {
                    self.send_table_status(cur.as_deref_mut(), rule.table_id)
                }
                Change::Insert {
                    table_id,
                    old: None,
                    ..
                } => self.send_table_status(cur.as_deref_mut(), *table_id),
                Change::Insert { .. } | Change::RemoveTable { .. } => {}
            }
            match ch {
                // Not expanded: nothing reads its rules.
                Change::RemoveTable { .. } => {}
                Change::Remove { rule, reason } => {
                    let wanted = *reason < 32 && removed_wanted & (1u32 << *reason) != 0;
                    if wanted && rule.flags & FlowMod::F_SEND_FLOW_REM != 0 {
                        self.each_conn(cur.as_deref_mut(), |c| {
                            send_flow_removed(c, rule, *reason, now)
                        });
                    }
                    if monitored {
                        let ev = RuleEvent::Removed(*reason);
                        self.each_conn(cur.as_deref_mut(), |c| {
                            c.report_rule(rule, ev, (Some(c.id) == by).then_some(xid))
                        });
                    }
                }
                Change::Insert {
                    table_id,
                    r#match,
                    priority,
                    event,
                    actions_changed,
                    ..
                } => {
                    if (*event == RuleEvent::Modified && !actions_changed) || !monitored {
                        continue;
                    }
                    let om = crate::flow::OfMatch::from_match(r#match).unwrap_or_default();
                    let Some(rule) = self
                        .tables
                        .get(*table_id)
                        .and_then(|t| t.cls.get(&om, *priority as u32))
                        .cloned()
                    else {
                        continue;
                    };
                    self.each_conn(cur.as_deref_mut(), |c| {
                        c.report_rule(&rule, *event, (Some(c.id) == by).then_some(xid))
                    });
                }
            }
        }
        self.each_conn(cur, |c| c.flush_updates());
        self.delete_learned(&changes);
        drop_later(changes);
    }
}

/// Changes past which removed rules are freed on a thread of their own.
const DROP_LATER_MIN: usize = 4096;

/// Frees a big batch of changes (the removed rules of a large delete: a
/// few allocations each) off the connection's path, as OVS postpones rule
/// destruction (RCU): the reply does not wait for 100,000 frees. The
/// thread runs at the lowest priority: freeing 100,000 rules is about
/// 0.1 s of CPU, which should not come out of the next command's time.
fn drop_later(changes: Vec<Change>) {
    if changes.iter().map(Change::weight).sum::<usize>() < DROP_LATER_MIN {
        return;
    }
    // If no thread can be made, the closure and the changes drop here.
    let _ = std::thread::Builder::new()
        .name("rule-free".into())
        .spawn(move || {
            ferrovs_datapath::background::lower_this_thread();
            drop(changes)
        });
}

/// Queues a flow-removed for `rule` on `c` if it wants the reason.
fn send_flow_removed(c: &mut Connection, rule: &Rule, reason: u8, now: Instant) {
    if !c.receives_async(AsyncKind::FlowRemoved, reason) {
        return;
    }
    let v = c.ver();
    // Reasons a version does not know go out as DELETE (as OVS encodes).
    let wire_reason = match v {
        Version::Of10 | Version::Of11 | Version::Of12 if reason > 2 => RR_DELETE,
        Version::Of13 if reason > 3 => RR_DELETE,
        _ => reason,
    };
    let (duration_sec, duration_nsec) = rule.duration(now);
    let msg = if v == Version::Of10 && c.flow_format == FlowFormat::Nxm {
        Message::Nx(NxMessage::FlowRemoved(NxFlowRemoved {
            cookie: rule.cookie,
            priority: rule.priority,
            reason: wire_reason,
            table_id: rule.table_id,
            duration_sec,
            duration_nsec,
            idle_timeout: rule.idle_timeout,
            packet_count: rule.packet_count,
            byte_count: rule.byte_count,
            r#match: rule.r#match.clone(),
        }))
    } else {
        Message::FlowRemoved(FlowRemoved {
            cookie: rule.cookie,
            priority: rule.priority,
            reason: wire_reason,
            table_id: rule.table_id,
            duration_sec,
            duration_nsec,
            idle_timeout: rule.idle_timeout,
            hard_timeout: rule.hard_timeout,
            packet_count: rule.packet_count,
            byte_count: rule.byte_count,
            r#match: rule.r#match.clone(),
        })
    };
    c.send_async(&msg);
}
