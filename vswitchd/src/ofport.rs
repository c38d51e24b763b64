//! OpenFlow port numbers of one bridge, allocated as OVS's ofproto does:
//!
//! - the LOCAL port (the interface named like the bridge) is 65534;
//! - an `ofport_request` in 1..=0xfeff is honoured when that number is free;
//! - otherwise numbers are handed out round robin from a cursor over
//!   1..32768 (the upper half is left to controllers), skipping numbers in
//!   use and preferring numbers never used; a number freed by a deleted
//!   port is not reused for an hour unless nothing else is left, in which
//!   case the least recently freed one is taken. This keeps old flows that
//!   still name a deleted port from matching a new one.
//!
//! `usage` maps a number to `None` (in use) or the instant it was freed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const OFPP_LOCAL: u16 = 0xfffe;
/// Highest number a port may have (OFPP_MAX).
pub const OFPP_MAX: u16 = 0xff00;
const AUTO_LIMIT: u16 = 32768;
const REUSE_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
pub struct OfportAlloc {
    usage: BTreeMap<u16, Option<Instant>>,
    cursor: u16,
}

impl OfportAlloc {
    /// A number for a new port, or None when every number is taken.
    pub fn alloc(&mut self, request: Option<i64>, now: Instant) -> Option<u16> {
        if let Some(r) = request {
            if (1..OFPP_MAX as i64).contains(&r) {
                let r = r as u16;
                if !self.in_use(r) {
                    self.usage.insert(r, None);
                    return Some(r);
                }
            }
        }
        let end = self.cursor;
        let mut lru: Option<(Instant, u16)> = None;
        loop {
            self.cursor += 1;
            if self.cursor >= AUTO_LIMIT {
                self.cursor = 1;
            }
            let n = self.cursor;
            match self.usage.get(&n) {
                None => {
                    self.usage.insert(n, None);
                    return Some(n);
                }
                Some(Some(freed)) if now.saturating_duration_since(*freed) >= REUSE_AFTER => {
                    self.usage.insert(n, None);
                    return Some(n);
                }
                Some(Some(freed)) => {
                    if lru.is_none_or(|(t, _)| *freed < t) {
                        lru = Some((*freed, n));
                    }
                }
                Some(None) => {}
            }
            if n == end || (end == 0 && n == AUTO_LIMIT - 1) {
                let (_, n) = lru?;
                self.usage.insert(n, None);
                return Some(n);
            }
        }
    }

    /// Marks `n` as in use (the LOCAL port, or a port kept across a
    /// reconfiguration).
    pub fn in_use(&self, n: u16) -> bool {
        matches!(self.usage.get(&n), Some(None))
    }

    /// Frees `n`, remembering when.
    pub fn free(&mut self, n: u16, now: Instant) {
        if n != OFPP_LOCAL {
            self.usage.insert(n, Some(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_then_requested() {
        let now = Instant::now();
        let mut a = OfportAlloc::default();
        assert_eq!(a.alloc(None, now), Some(1));
        assert_eq!(a.alloc(Some(7), now), Some(7));
        assert_eq!(a.alloc(None, now), Some(2));
        // A taken or out-of-range request falls back to the cursor.
        assert_eq!(a.alloc(Some(7), now), Some(3));
        assert_eq!(a.alloc(Some(0xff00), now), Some(4));
        assert_eq!(a.alloc(Some(0), now), Some(5));
    }

    #[test]
    fn freed_numbers_wait() {
        let now = Instant::now();
        let mut a = OfportAlloc::default();
        assert_eq!(a.alloc(None, now), Some(1));
        assert_eq!(a.alloc(None, now), Some(2));
        a.free(1, now);
        // Not 1 again: the cursor moves on.
        assert_eq!(a.alloc(None, now), Some(3));
        // A request for a freed number is honoured at once.
        assert_eq!(a.alloc(Some(1), now), Some(1));
        a.free(2, now);
        let later = now + REUSE_AFTER;
        let mut b = OfportAlloc::default();
        assert_eq!(b.alloc(None, now), Some(1));
        b.free(1, now);
        b.cursor = AUTO_LIMIT - 1;
        // Wrapping around, 1 was freed an hour ago: usable.
        assert_eq!(b.alloc(None, later), Some(1));
    }

    #[test]
    fn exhausted_takes_least_recently_freed() {
        let now = Instant::now();
        let mut a = OfportAlloc::default();
        for i in 1..AUTO_LIMIT {
            assert_eq!(a.alloc(None, now), Some(i));
        }
        assert_eq!(a.alloc(None, now), None);
        a.free(10, now + Duration::from_secs(2));
        a.free(20, now + Duration::from_secs(1));
        assert_eq!(a.alloc(None, now + Duration::from_secs(3)), Some(20));
        assert_eq!(a.alloc(None, now + Duration::from_secs(3)), Some(10));
        assert_eq!(a.alloc(None, now), None);
    }
}
