//! Idle and hard timeouts, driven by `Ofproto::run(now)`.
//!
//! A rule expires by hard timeout `hard_timeout` seconds after it was
//! added or last modified, and by idle timeout `idle_timeout` seconds
//! after its last packet (or its addition). Expired rules are removed with
//! reason OFPRR_HARD_TIMEOUT or OFPRR_IDLE_TIMEOUT (hard wins when both
//! are due), flow-removed goes to who asked. The scan is linear in the
//! rules, so `run` does it only at the earliest deadline it found last
//! time, or at once after a flow-mod that set a timeout: an idle switch
//! with 100,000 rules does not walk them on every tick.

use std::time::{Duration, Instant};

use crate::flow_mod::{RR_HARD_TIMEOUT, RR_IDLE_TIMEOUT};
use crate::ofproto::Ofproto;
use crate::rule::Rule;

/// When `rule` expires and why, if it has a timeout.
pub fn expiry(rule: &Rule) -> Option<(Instant, u8)> {
    let hard = (rule.hard_timeout != 0)
        .then(|| rule.modified + Duration::from_secs(rule.hard_timeout as u64));
    let idle = (rule.idle_timeout != 0)
        .then(|| rule.used.max(rule.modified) + Duration::from_secs(rule.idle_timeout as u64));
    match (hard, idle) {
        (Some(h), Some(i)) if h <= i => Some((h, RR_HARD_TIMEOUT)),
        (Some(h), None) => Some((h, RR_HARD_TIMEOUT)),
        (_, Some(i)) => Some((i, RR_IDLE_TIMEOUT)),
        (None, None) => None,
    }
}

impl Ofproto {
    /// Removes every expired rule; returns the next expiry time.
    pub(crate) fn expire_rules(&mut self, now: Instant) -> Option<Instant> {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (t, table) in self.tables.t.iter().enumerate() {
            for (k, r) in table.cls.iter() {
                if let Some((at, reason)) = expiry(r) {
                    if at <= now {
                        due.push(((t as u8, k.r#match(), r.priority), reason));
                    } else {
                        next = Some(next.map_or(at, |n| n.min(at)));
                    }
                }
            }
        }
        let mut changes = Vec::new();
        for (key, reason) in due {
            self.remove_rules(&[key], reason, &mut changes);
        }
        self.commit_changes(changes, None, 0);
        next
    }
}
