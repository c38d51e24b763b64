//! One bridge's MAC learning table (OVS's `mac_learning`).
//!
//! A hash map (VLAN, MAC) -> entry behind a mutex (translation learns
//! while it reads the rest of the bridge shared). An entry is either
//! learned (dynamic: it ages out after `aging`, OVS's default 300 s, and
//! moves when its MAC shows up on another port) or static (`fdb/add`: it
//! never ages, learning never moves it, and `fdb/flush` keeps it). Each
//! entry carries a recency stamp: `fdb/show` lists entries least recently
//! used first, as OVS walks its LRU list, and eviction (when the table is
//! at `max_entries`, OVS's default 8,192) takes aged-out learned entries
//! first, then the least recently used learned one. As in OVS, a learned
//! entry is refreshed at most once a second, which also keeps the common
//! case (a known MAC seen again) a read of one entry. Broadcast and
//! multicast sources are never learned nor looked up.
//!
//! Two ordered indexes by recency stamp, one of learned and one of static
//! entries, make eviction a pop of the oldest rather than a scan of the
//! table (a full table takes a new MAC on every learn under a MAC flood).
//! A learned entry's stamp and last-seen time move together, so the
//! aged-out learned entries are the first ones of its index.
//!
//! Invariant: every entry of `map` is in exactly one index, under its
//! stamp, the one its kind says.
//! Every change NORMAL could see (an entry learned, moved, aged out,
//! added, deleted or flushed) bumps `changes`, part of the revalidation
//! generation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::classifier::hash::SeededWordBuild;

/// OVS's `mac-aging-time` default.
pub const DEFAULT_AGING: Duration = Duration::from_secs(300);
/// OVS's `mac-table-size` default (`MAC_DEFAULT_MAX` in 3.1).
pub const DEFAULT_MAX_ENTRIES: usize = 8192;
/// A learned entry seen again is refreshed (age and recency) only when at
/// least this long has passed since its last refresh, as OVS's
/// `is_mac_learning_update_needed` (whole seconds) does.
const REFRESH: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Entry {
    port: u16,
    /// Last refresh (unused for a static entry).
    seen: Instant,
    /// Recency: higher is more recently used.
    lru: u64,
    is_static: bool,
}

/// The cumulative counters of `fdb/stats-show` (`fdb/stats-clear` zeroes
/// them).
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
    /// Stamp -> key, of learned entries and of static ones.
    learned_lru: BTreeMap<u64, (u16, u64)>,
    static_lru: BTreeMap<u64, (u16, u64)>,
    /// The last recency stamp given.
    lru_seq: u64,
    /// How long a learned entry lives unrefreshed.
    aging: Duration,
    max_entries: usize,
    /// Changes translation could see (see [`MacTable::change_seq`]).
    changes: u64,
}

impl Inner {
    fn stamp(&mut self) -> u64 {
        self.lru_seq += 1;
        self.lru_seq
    }

    fn index(&mut self, is_static: bool) -> &mut BTreeMap<u64, (u16, u64)> {
        if is_static {
            &mut self.static_lru
        } else {
            &mut self.learned_lru
        }
    }

    /// Inserts or replaces the entry for `key`, keeping the indexes.
    fn put(&mut self, key: (u16, u64), e: Entry) {
        if let Some(old) = self.map.insert(key, e) {
            self.index(old.is_static).remove(&old.lru);
        }
        self.index(e.is_static).insert(e.lru, key);
    }

    /// Puts the entry for `key` as seen on `port` at `now`, the most
    /// recently used.
    fn put_fresh(&mut self, key: (u16, u64), port: u16, now: Instant, is_static: bool) {
        let lru = self.stamp();
        self.put(
            key,
            Entry {
                port,
                seen: now,
                lru,
                is_static,
            },
        );
    }

    fn remove(&mut self, key: (u16, u64)) -> Option<Entry> {
        let e = self.map.remove(&key)?;
        self.index(e.is_static).remove(&e.lru);
        Some(e)
    }

    /// Keeps the entries `keep` says yes to; returns how many went.
    fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) -> usize {
        let mut gone = Vec::new();
        self.map.retain(|_, e| {
            let k = keep(e);
            if !k {
                gone.push((e.lru, e.is_static));
            }
            k
        });
        for &(lru, is_static) in &gone {
            self.index(is_static).remove(&lru);
        }
        gone.len()
    }

    fn static_len(&self) -> usize {
        self.static_lru.len()
    }

    /// Makes room for one more entry when the table is full: aged-out
    /// learned entries go first (counted expired), then the least
    /// recently used learned entry, or the least recently used static one
    /// when there is no learned entry (counted evicted).
    fn make_room(&mut self, now: Instant) {
        let (aging, max) = (self.aging, self.max_entries);
        if self.map.len() < max {
            return;
        }
        // Aged-out learned entries are the oldest learned ones.
        while let Some((_, &k)) = self.learned_lru.first_key_value() {
            match self.map.get(&k) {
                Some(e) if now.saturating_duration_since(e.seen) >= aging => {
                    self.remove(k);
                    self.stats.expired += 1;
                }
                _ => break,
            }
        }
        if self.map.len() < max {
            return;
        }
        let victim = self
            .learned_lru
            .first_key_value()
            .or_else(|| self.static_lru.first_key_value())
            .map(|(_, k)| *k);
        if let Some(k) = victim {
            self.remove(k);
            self.stats.evicted += 1;
        }
    }

    fn is_live(&self, e: &Entry, now: Instant) -> bool {
        e.is_static || now.saturating_duration_since(e.seen) < self.aging
    }
}

/// One bridge's MAC learning table.
#[derive(Debug)]
pub struct MacTable {
    inner: Mutex<Inner>,
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
    /// Time since the last refresh; None for a static entry.
    pub age: Option<Duration>,
}

impl MacEntry {
    pub fn is_static(&self) -> bool {
        self.age.is_none()
    }
}

pub(crate) fn is_multicast(mac: u64) -> bool {
    mac >> 40 & 1 != 0
}

impl MacTable {
    pub fn new(aging: Duration, max_entries: usize) -> MacTable {
        MacTable {
            inner: Mutex::new(Inner {
                map: HashMap::with_hasher(SeededWordBuild::new()),
                stats: MacStats::default(),
                learned_lru: BTreeMap::new(),
                static_lru: BTreeMap::new(),
                lru_seq: 0,
                aging,
                max_entries: max_entries.max(1),
                changes: 0,
            }),
        }
    }

    /// Changes the aging time and the size limit (`other_config`'s
    /// `mac-aging-time` and `mac-table-size`). Entries over a lowered
    /// limit go at the next [`Self::expire`].
    pub fn configure(&self, aging: Duration, max_entries: usize) {
        let mut g = self.lock();
        if (g.aging, g.max_entries) != (aging, max_entries.max(1)) {
            g.aging = aging;
            g.max_entries = max_entries.max(1);
            g.changes += 1;
        }
    }

    pub fn aging(&self) -> Duration {
        self.lock().aging
    }

    pub fn max_entries(&self) -> usize {
        self.lock().max_entries
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn entry_of((vlan, mac): (u16, u64), e: &Entry, now: Instant) -> MacEntry {
        MacEntry {
            port: e.port,
            vlan,
            mac,
            age: (!e.is_static).then(|| now.saturating_duration_since(e.seen)),
        }
    }

    /// Records that `mac` on `vlan` was seen on `port` at `now`. Returns
    /// true if the table changed (a new entry or a move), which is what
    /// invalidates megaflows built on the old state. A static entry for
    /// `mac` stays as it is.
    pub fn learn(&self, vlan: u16, mac: u64, port: u16, now: Instant) -> bool {
        if is_multicast(mac) {
            return false;
        }
        let mut g = self.lock();
        let changed = Self::learn_locked(&mut g, vlan, mac, port, now);
        g.changes += changed as u64;
        changed
    }

    fn learn_locked(g: &mut Inner, vlan: u16, mac: u64, port: u16, now: Instant) -> bool {
        let key = (vlan, mac);
        if let Some(e) = g.map.get(&key).copied() {
            if e.is_static {
                return false;
            }
            let idle = now.saturating_duration_since(e.seen);
            if idle < g.aging {
                if e.port == port && idle < REFRESH {
                    return false;
                }
                let moved = e.port != port;
                g.put_fresh(key, port, now, false);
                g.stats.moved += moved as u64;
                return moved;
            }
            // Aged out but not yet removed: it goes, and is learned anew.
            g.remove(key);
            g.stats.expired += 1;
        }
        g.make_room(now);
        g.put_fresh(key, port, now, false);
        g.stats.learned += 1;
        true
    }

    /// The port `mac` on `vlan` is on (learned and not aged out, or
    /// static).
    pub fn lookup(&self, vlan: u16, mac: u64, now: Instant) -> Option<u16> {
        let g = self.lock();
        let e = g.map.get(&(vlan, mac))?;
        g.is_live(e, now).then_some(e.port)
    }

    /// The entry for `mac` on `vlan` as NORMAL would find it (none for a
    /// multicast address, none once aged out).
    pub fn entry(&self, vlan: u16, mac: u64, now: Instant) -> Option<MacEntry> {
        if is_multicast(mac) {
            return None;
        }
        let g = self.lock();
        let e = g.map.get(&(vlan, mac))?;
        g.is_live(e, now)
            .then(|| Self::entry_of((vlan, mac), e, now))
    }

    /// Makes `mac` on `vlan` a static entry on `port` (`fdb/add`): a new
    /// entry (which may evict one when the table is full), or an existing
    /// one, learned or static, made static on `port`. Not counted as
    /// learned.
    pub fn add_static(&self, vlan: u16, mac: u64, port: u16, now: Instant) {
        let key = (vlan, mac);
        let mut g = self.lock();
        if !g.map.contains_key(&key) {
            g.make_room(now);
        }
        g.put_fresh(key, port, now, true);
        g.changes += 1;
    }

    /// Removes the static entry for `mac` on `vlan` (`fdb/del`). False
    /// if there is none (a learned entry stays: OVS 3.1 deletes static
    /// entries only; a multicast address is never found).
    pub fn del_static(&self, vlan: u16, mac: u64) -> bool {
        if is_multicast(mac) {
            return false;
        }
        let mut g = self.lock();
        if !g.map.get(&(vlan, mac)).is_some_and(|e| e.is_static) {
            return false;
        }
        g.remove((vlan, mac));
        g.changes += 1;
        true
    }

    /// Removes aged-out learned entries, then the least recently used
    /// learned ones while the table is over its limit (counted expired, as
    /// OVS's `mac_learning_run` counts them).
    pub fn expire(&self, now: Instant) -> usize {
        let mut g = self.lock();
        let aging = g.aging;
        let mut n = g.retain(|e| e.is_static || now.saturating_duration_since(e.seen) < aging);
        while g.map.len() > g.max_entries {
            let Some((_, &k)) = g.learned_lru.first_key_value() else {
                break;
            };
            g.remove(k);
            n += 1;
        }
        g.stats.expired += n as u64;
        g.changes += (n > 0) as u64;
        n
    }

    /// `None`: forgets every learned entry (`fdb/flush`; static entries
    /// stay). `Some(port)`: forgets every entry on `port`, static ones
    /// too (the port is gone).
    pub fn flush(&self, port: Option<u16>) {
        let mut g = self.lock();
        let gone = match port {
            None => g.retain(|e| e.is_static),
            Some(p) => g.retain(|e| e.port != p),
        };
        g.changes += (gone > 0) as u64;
    }

    /// Counts every change translation could see (learned, moved, aged
    /// out, added, deleted, flushed): megaflows built on the table need
    /// revalidation when it moved.
    pub fn change_seq(&self) -> u64 {
        self.lock().changes
    }

    /// Entries in the table, static ones included.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn static_len(&self) -> usize {
        self.lock().static_len()
    }

    pub fn stats(&self) -> MacStats {
        self.lock().stats
    }

    /// Zeroes the counters (`fdb/stats-clear`); the entries stay.
    pub fn clear_stats(&self) {
        self.lock().stats = MacStats::default();
    }

    /// Every live entry, least recently used first (`fdb/show` order).
    pub fn entries(&self, now: Instant) -> Vec<MacEntry> {
        let g = self.lock();
        let mut v: Vec<(u64, MacEntry)> = g
            .map
            .iter()
            .filter(|(_, e)| g.is_live(e, now))
            .map(|(k, e)| (e.lru, Self::entry_of(*k, e, now)))
            .collect();
        v.sort_unstable_by_key(|(lru, _)| *lru);
        v.into_iter().map(|(_, e)| e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: Duration = Duration::from_secs(1);

    /// The indexes hold every entry once, under its stamp and kind.
    fn assert_indexed(t: &MacTable) {
        let g = t.lock();
        assert_eq!(g.learned_lru.len() + g.static_lru.len(), g.map.len());
        for (k, e) in g.map.iter() {
            let idx = if e.is_static {
                &g.static_lru
            } else {
                &g.learned_lru
            };
            assert_eq!(idx.get(&e.lru), Some(k));
        }
    }

    proptest! {
        /// Any sequence of learning, static adds and deletes, flushes and
        /// expiry keeps the indexes right, the table within its size, and
        /// evicts the least recently used learned entry first.
        #[test]
        fn indexes_follow_every_change(ops in prop::collection::vec((0u8..6, 0u64..24, 1u16..4), 1..200)) {
            let t0 = Instant::now();
            let t = MacTable::new(Duration::from_secs(30), 8);
            for (i, (op, mac, port)) in ops.into_iter().enumerate() {
                let now = t0 + Duration::from_secs(i as u64);
                let mac = 0x0200_0000_0000 | mac;
                let oldest_learned = {
                    let g = t.lock();
                    g.learned_lru.first_key_value().map(|(_, k)| *k)
                };
                let was_full = t.len() == 8;
                match op {
                    0 | 1 => {
                        let known = t.entry(1, mac, now).is_some();
                        t.learn(1, mac, port, now);
                        // A new MAC into a full table with nothing aged:
                        // the least recently used learned entry went.
                        if was_full && !known && i < 30 {
                            if let Some(k) = oldest_learned {
                                prop_assert!(k == (1, mac) || t.entry(k.0, k.1, now).is_none());
                            }
                        }
                    }
                    2 => t.add_static(1, mac, port, now),
                    3 => {
                        t.del_static(1, mac);
                    }
                    4 => t.flush(if mac % 2 == 0 { None } else { Some(port) }),
                    _ => {
                        t.expire(now);
                    }
                }
                prop_assert!(t.len() <= 8);
                assert_indexed(&t);
            }
        }
    }

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
        // Size limit: the least recently used goes.
        t.learn(1, 0xb, 1, t0 + S);
        t.learn(1, 0xc, 2, t0 + 2 * S);
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(1, 0xa, t0 + 2 * S), None);
        assert_eq!(t.stats().evicted, 1);
        // Aging.
        assert_eq!(t.lookup(1, 0xc, t0 + 12 * S), None);
        assert_eq!(t.expire(t0 + 20 * S), 2);
        assert!(t.is_empty());
        assert_eq!(
            t.stats(),
            MacStats {
                learned: 3,
                expired: 2,
                evicted: 1,
                moved: 1
            }
        );
        t.clear_stats();
        assert_eq!(t.stats(), MacStats::default());
    }

    #[test]
    fn refreshed_at_most_once_a_second() {
        let t0 = Instant::now();
        let t = MacTable::default();
        t.learn(0, 0xa, 1, t0);
        t.learn(0, 0xb, 1, t0);
        // Seen again within the second: neither its age nor its place
        // in the LRU order changes.
        t.learn(0, 0xa, 1, t0 + S / 2);
        let e = t.entries(t0 + S / 2);
        assert_eq!(e.iter().map(|e| e.mac).collect::<Vec<_>>(), [0xa, 0xb]);
        assert_eq!(e[0].age, Some(S / 2));
        // A second later it is refreshed and becomes the most recent.
        t.learn(0, 0xa, 1, t0 + S);
        let e = t.entries(t0 + S);
        assert_eq!(e.iter().map(|e| e.mac).collect::<Vec<_>>(), [0xb, 0xa]);
        assert_eq!(e[1].age, Some(Duration::ZERO));
        // An entry aged out but not yet removed is learned anew.
        let t1 = t0 + DEFAULT_AGING + 2 * S;
        assert!(t.learn(0, 0xb, 2, t1));
        assert_eq!(t.stats().learned, 3);
        assert_eq!(t.stats().expired, 1);
        assert_eq!(t.stats().moved, 0);
    }

    #[test]
    fn static_entries_do_not_age_move_or_flush() {
        let t0 = Instant::now();
        let t = MacTable::new(Duration::from_secs(10), 3);
        t.add_static(0, 0xa, 2, t0);
        assert_eq!((t.len(), t.static_len()), (1, 1));
        assert_eq!(t.stats().learned, 0, "a static entry is not learned");
        // Learning does not move it, nor counts anything.
        let seq = t.change_seq();
        assert!(!t.learn(0, 0xa, 3, t0 + 2 * S));
        assert_eq!(t.lookup(0, 0xa, t0 + 2 * S), Some(2));
        assert_eq!(t.stats(), MacStats::default());
        assert_eq!(t.change_seq(), seq);
        // It does not age.
        let late = t0 + Duration::from_secs(3600);
        assert_eq!(t.expire(late), 0);
        assert_eq!(t.lookup(0, 0xa, late), Some(2));
        assert_eq!(
            t.entry(0, 0xa, late),
            Some(MacEntry {
                port: 2,
                vlan: 0,
                mac: 0xa,
                age: None
            })
        );
        // fdb/flush keeps it, a learned entry goes.
        t.learn(0, 0xb, 1, late);
        t.flush(None);
        assert_eq!((t.len(), t.static_len()), (1, 1));
        // A learned entry made static is counted once.
        t.learn(0, 0xc, 1, late);
        t.add_static(0, 0xc, 1, late);
        t.add_static(0, 0xc, 3, late);
        assert_eq!((t.len(), t.static_len()), (2, 2));
        assert_eq!(t.lookup(0, 0xc, late), Some(3));
        // Eviction takes learned entries before static ones.
        t.learn(0, 0xd, 1, late);
        t.learn(0, 0xe, 1, late);
        assert_eq!(t.lookup(0, 0xd, late), None);
        assert_eq!((t.len(), t.static_len()), (3, 2));
        assert_eq!(t.stats().evicted, 1);
        // fdb/del removes static entries only.
        assert!(!t.del_static(0, 0xe));
        assert!(t.del_static(0, 0xc));
        assert!(!t.del_static(0, 0xc));
        assert_eq!((t.len(), t.static_len()), (2, 1));
        // A port going takes its static entries too.
        t.flush(Some(2));
        assert_eq!((t.len(), t.static_len()), (1, 0));
    }

    #[test]
    fn configured_limits_apply_to_present_entries() {
        let t0 = Instant::now();
        let t = MacTable::default();
        for m in 1..=5 {
            t.learn(0, m, 1, t0);
        }
        t.add_static(0, 9, 1, t0);
        // A lower limit: the least recently used learned entries go at
        // the next expiry, counted expired.
        let seq = t.change_seq();
        t.configure(Duration::from_secs(15), 4);
        assert!(t.change_seq() > seq);
        assert_eq!((t.aging(), t.max_entries()), (Duration::from_secs(15), 4));
        assert_eq!(t.expire(t0), 2);
        let macs: Vec<u64> = t.entries(t0).iter().map(|e| e.mac).collect();
        assert_eq!(macs, [3, 4, 5, 9]);
        assert_eq!(t.stats().expired, 2);
        // The shorter aging applies to entries already there.
        assert_eq!(t.expire(t0 + Duration::from_secs(15)), 3);
        assert_eq!((t.len(), t.static_len()), (1, 1));
    }

    #[test]
    fn multicast_static_entry_is_listed_but_not_found() {
        let t0 = Instant::now();
        let t = MacTable::default();
        let bcast = 0xffff_ffff_ffff;
        t.add_static(1, bcast, 1, t0);
        assert_eq!(t.entries(t0).len(), 1);
        assert_eq!(t.entry(1, bcast, t0), None);
        assert!(!t.del_static(1, bcast));
        // Added again: still one static entry.
        t.add_static(1, bcast, 2, t0);
        assert_eq!((t.len(), t.static_len()), (1, 1));
    }

    #[test]
    fn listed_least_recently_used_first() {
        let t0 = Instant::now();
        let t = MacTable::default();
        t.learn(0, 0xa, 1, t0);
        t.add_static(0, 0xb, 2, t0);
        t.learn(0, 0xc, 1, t0);
        t.add_static(0, 0xa, 3, t0);
        let macs: Vec<u64> = t.entries(t0).iter().map(|e| e.mac).collect();
        assert_eq!(macs, [0xb, 0xc, 0xa]);
    }
}
