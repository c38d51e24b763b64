//! NORMAL: the bridge behaving as a learning L2 switch.
//!
//! [`MacTable`] maps (VLAN, MAC) to the OpenFlow port the MAC was last seen
//! on. It is a hash map behind a mutex (translation learns while it reads
//! the rest of the bridge shared), with an age per entry (OVS's default
//! 300 s) and a size limit (OVS's default 2,048): when full, the least
//! recently seen entry is evicted. A MAC that appears on another port moves
//! there (counted as a move). Broadcast and multicast sources are never
//! learned. [`xlate_normal`](crate::normal::forward) uses it. Every
//! change NORMAL could see (an entry learned, moved, aged out or flushed)
//! bumps `changes`, part of the revalidation generation.

pub mod forward;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::classifier::hash::SeededWordBuild;

/// OVS's `mac-aging-time` default.
pub const DEFAULT_AGING: Duration = Duration::from_secs(300);
/// OVS's `mac-table-size` default.
pub const DEFAULT_MAX_ENTRIES: usize = 2048;

#[derive(Debug, Clone, Copy)]
struct Entry {
    port: u16,
    seen: Instant,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MacStats {
    pub learned: u64,
    pub expired: u64,
    pub evicted: u64,
    pub moved: u64,
}

#[derive(Debug)]
struct Inner {
    /// Hashed with a seeded word mix: SipHash was a tenth of NORMAL.
    map: HashMap<(u16, u64), Entry, SeededWordBuild>,
    stats: MacStats,
    /// Changes translation could see (see [`MacTable::change_seq`]).
    changes: u64,
}

/// One bridge's MAC learning table.
#[derive(Debug)]
pub struct MacTable {
    inner: Mutex<Inner>,
    pub aging: Duration,
    pub max_entries: usize,
}

impl Default for MacTable {
    fn default() -> Self {
        MacTable::new(DEFAULT_AGING, DEFAULT_MAX_ENTRIES)
    }
}

/// One entry, as `fdb/show` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacEntry {
    pub port: u16,
    pub vlan: u16,
    pub mac: u64,
    pub age: Duration,
}

fn is_multicast(mac: u64) -> bool {
    mac >> 40 & 1 != 0
}

impl MacTable {
    pub fn new(aging: Duration, max_entries: usize) -> MacTable {
        MacTable {
            inner: Mutex::new(Inner {
                map: HashMap::with_hasher(SeededWordBuild::new()),
                stats: MacStats::default(),
                changes: 0,
            }),
            aging,
            max_entries: max_entries.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `mac` on `vlan` was seen on `port` at `now`. Returns
    /// true if the table changed (a new entry or a move), which is what
    /// invalidates megaflows built on the old state.
    pub fn learn(&self, vlan: u16, mac: u64, port: u16, now: Instant) -> bool {
        if is_multicast(mac) {
            return false;
        }
        let mut g = self.lock();
        let changed =
            Self::learn_locked(&mut g, self.aging, self.max_entries, vlan, mac, port, now);
        g.changes += changed as u64;
        changed
    }

    fn learn_locked(
        inner: &mut Inner,
        aging: Duration,
        max: usize,
        vlan: u16,
        mac: u64,
        port: u16,
        now: Instant,
    ) -> bool {
        if let Some(e) = inner.map.get_mut(&(vlan, mac)) {
            let expired = now.saturating_duration_since(e.seen) >= aging;
            e.seen = now;
            if e.port != port {
                e.port = port;
                inner.stats.moved += 1;
                return true;
            }
            return expired;
        }
        if inner.map.len() >= max {
            // Expired entries first, then the least recently seen.
            let before = inner.map.len();
            inner
                .map
                .retain(|_, e| now.saturating_duration_since(e.seen) < aging);
            inner.stats.expired += (before - inner.map.len()) as u64;
            if inner.map.len() >= max {
                if let Some(k) = inner
                    .map
                    .iter()
                    .min_by_key(|(_, e)| e.seen)
                    .map(|(k, _)| *k)
                {
                    inner.map.remove(&k);
                    inner.stats.evicted += 1;
                }
            }
        }
        inner.map.insert((vlan, mac), Entry { port, seen: now });
        inner.stats.learned += 1;
        true
    }

    /// The port `mac` on `vlan` was learned on, unless aged out.
    pub fn lookup(&self, vlan: u16, mac: u64, now: Instant) -> Option<u16> {
        let g = self.lock();
        let e = g.map.get(&(vlan, mac))?;
        (now.saturating_duration_since(e.seen) < self.aging).then_some(e.port)
    }

    /// Removes aged-out entries.
    pub fn expire(&self, now: Instant) -> usize {
        let aging = self.aging;
        let mut g = self.lock();
        let before = g.map.len();
        g.map
            .retain(|_, e| now.saturating_duration_since(e.seen) < aging);
        let n = before - g.map.len();
        g.stats.expired += n as u64;
        g.changes += (n > 0) as u64;
        n
    }

    /// Forgets every entry (`fdb/flush`), or those on `port`.
    pub fn flush(&self, port: Option<u16>) {
        let mut g = self.lock();
        let before = g.map.len();
        match port {
            None => g.map.clear(),
            Some(p) => g.map.retain(|_, e| e.port != p),
        }
        g.changes += (g.map.len() != before) as u64;
    }

    /// Counts every change translation could see (learned, moved, aged
    /// out, flushed): megaflows built on the table need revalidation when
    /// it moved.
    pub fn change_seq(&self) -> u64 {
        self.lock().changes
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> MacStats {
        self.lock().stats
    }

    /// Every live entry, by port then VLAN then MAC (`fdb/show` order).
    pub fn entries(&self, now: Instant) -> Vec<MacEntry> {
        let g = self.lock();
        let mut v: Vec<MacEntry> = g
            .map
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.seen) < self.aging)
            .map(|((vlan, mac), e)| MacEntry {
                port: e.port,
                vlan: *vlan,
                mac: *mac,
                age: now.saturating_duration_since(e.seen),
            })
            .collect();
        v.sort_by_key(|e| (e.port, e.vlan, e.mac));
        v
    }
}

/// `fdb/show` text: a header, then one line per entry (port, VLAN, MAC,
/// age in seconds), as OVS prints it (`LOCAL` for the bridge's port).
pub fn format_fdb(entries: &[MacEntry]) -> String {
    let mut s = String::from(" port  VLAN  MAC                Age\n");
    for e in entries {
        let port = if e.port == 0xfffe {
            "LOCAL".to_string()
        } else {
            e.port.to_string()
        };
        let b = e.mac.to_be_bytes();
        s.push_str(&format!(
            "{port:>5}  {:>4}  {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}  {:>3}\n",
            e.vlan,
            b[2],
            b[3],
            b[4],
            b[5],
            b[6],
            b[7],
            e.age.as_secs()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_moves_ages_and_evicts() {
        let t0 = Instant::now();
        let t = MacTable::new(Duration::from_secs(10), 2);
        assert!(t.learn(1, 0xa, 3, t0));
        assert!(!t.learn(1, 0xa, 3, t0));
        assert_eq!(t.lookup(1, 0xa, t0), Some(3));
        assert_eq!(t.lookup(2, 0xa, t0), None, "per VLAN");
        assert!(t.learn(1, 0xa, 4, t0), "move");
        assert_eq!(t.lookup(1, 0xa, t0), Some(4));
        assert_eq!(t.stats().moved, 1);
        // Multicast sources are not learned.
        assert!(!t.learn(1, 0x0100_0000_0000, 3, t0));
        // Size limit: the oldest goes.
        t.learn(1, 0xb, 1, t0 + Duration::from_secs(1));
        t.learn(1, 0xc, 2, t0 + Duration::from_secs(2));
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(1, 0xa, t0 + Duration::from_secs(2)), None);
        assert_eq!(t.stats().evicted, 1);
        // Aging.
        assert_eq!(t.lookup(1, 0xc, t0 + Duration::from_secs(12)), None);
        assert_eq!(t.expire(t0 + Duration::from_secs(20)), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn fdb_show_format() {
        let t0 = Instant::now();
        let t = MacTable::default();
        t.learn(0, 0x5054_0000_0001, 1, t0);
        t.learn(10, 0x5054_0000_0002, 0xfffe, t0);
        assert_eq!(
            format_fdb(&t.entries(t0 + Duration::from_secs(3))),
            " port  VLAN  MAC                Age\n    1     0  50:54:00:00:00:01    3\nLOCAL    10  50:54:00:00:00:02    3\n"
        );
    }
}
