//! Idle and hard timeouts, driven by `Ofproto::run(now)`.
//!
//! A rule expires by hard timeout `hard_timeout` seconds after it was
//! added or last modified, and by idle timeout `idle_timeout` seconds
//! after its last packet (or its addition). Expired rules are removed with
//! reason OFPRR_HARD_TIMEOUT or OFPRR_IDLE_TIMEOUT (hard wins when both
//! are due), flow-removed goes to who asked. The scan is linear in the
//! rules, so `run` does it only at the earliest deadline it found last
//! time, and at least once a second (a rule added since may be due
//! sooner; timeouts count whole seconds, as OVS's, which also checks
//! them about once a second): an idle switch with 100,000 rules does not
//! walk them ten times a second.

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

/// The longest `run` goes without scanning for expired rules.
pub const EXPIRY_SCAN_INTERVAL: Duration = Duration::from_secs(1);

impl Ofproto {
    /// Scans for expired rules when a deadline or the scan interval has
    /// come; returns when the next scan is due.
    pub(crate) fn run_expiry(&mut self, now: Instant) -> Option<Instant> {
        if let Some(at) = self.next_expiry_scan {
            if now < at {
                return Some(at);
            }
        }
        let cap = now + EXPIRY_SCAN_INTERVAL;
        let at = self.expire_rules(now).map_or(cap, |n| n.min(cap));
        self.next_expiry_scan = Some(at);
        Some(at)
    }

    /// Removes every expired rule; returns the next expiry time.
    pub(crate) fn expire_rules(&mut self, now: Instant) -> Option<Instant> {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (t, table) in self.tables.t.iter().enumerate() {
            for (k, r) in table.cls.iter() {
                if let Some((at, reason)) = expiry(r) {
                    if at <= now {
                        due.push(((t as u8, k.r#match, r.priority), reason));
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
