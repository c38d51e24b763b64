//! Connection limits: a global maximum and per-zone limits, both checked
//! with one atomic read-modify-write when a connection is committed.
//!
//! Per-zone state is two flat arrays of 65,536 atomics (limits and
//! counts, 512 KiB in all) indexed by zone: no lock and no map lookup on
//! the packet path. A zone limit of [`UNSET`] falls back to the default
//! limit; a limit of 0 means unlimited, as in OVS's `ct-set-limits`.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// A zone without a limit of its own.
pub const UNSET: u32 = u32::MAX;

/// OVS's default global maximum (`ct-get-maxconns`).
pub const DEFAULT_MAX_CONNS: usize = 3_000_000;

pub struct Limits {
    max_conns: AtomicUsize,
    n_conns: AtomicUsize,
    default_zone_limit: AtomicU32,
    zone_limit: Box<[AtomicU32]>,
    zone_count: Box<[AtomicU32]>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_conns: AtomicUsize::new(DEFAULT_MAX_CONNS),
            n_conns: AtomicUsize::new(0),
            default_zone_limit: AtomicU32::new(0),
            zone_limit: (0..=u16::MAX as usize)
                .map(|_| AtomicU32::new(UNSET))
                .collect(),
            zone_count: (0..=u16::MAX as usize).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

impl Limits {
    /// Reserves room for one connection in `zone`; false at a limit.
    pub fn admit(&self, zone: u16) -> bool {
        let max = self.max_conns.load(Ordering::Relaxed);
        if self
            .n_conns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return false;
        }
        let lim = self.zone_limit_of(zone);
        let ok = self.zone_count[zone as usize]
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                (lim == 0 || c < lim).then_some(c + 1)
            })
            .is_ok();
        if !ok {
            self.n_conns.fetch_sub(1, Ordering::Relaxed);
        }
        ok
    }

    /// Gives back what [`Limits::admit`] took.
    pub fn release(&self, zone: u16) {
        self.n_conns.fetch_sub(1, Ordering::Relaxed);
        self.zone_count[zone as usize].fetch_sub(1, Ordering::Relaxed);
    }

    /// The limit that applies to `zone` (0 = unlimited).
    pub fn zone_limit_of(&self, zone: u16) -> u32 {
        match self.zone_limit[zone as usize].load(Ordering::Relaxed) {
            UNSET => self.default_zone_limit.load(Ordering::Relaxed),
            l => l,
        }
    }
    /// The limit set on `zone` itself, if any.
    pub fn zone_limit(&self, zone: u16) -> Option<u32> {
        match self.zone_limit[zone as usize].load(Ordering::Relaxed) {
            UNSET => None,
            l => Some(l),
        }
    }
    pub fn set_zone_limit(&self, zone: u16, limit: Option<u32>) {
        let v = match limit {
            Some(l) => l.min(UNSET - 1),
            None => UNSET,
        };
        self.zone_limit[zone as usize].store(v, Ordering::Relaxed);
    }
    pub fn default_zone_limit(&self) -> u32 {
        self.default_zone_limit.load(Ordering::Relaxed)
    }
    pub fn set_default_zone_limit(&self, limit: u32) {
        self.default_zone_limit.store(limit, Ordering::Relaxed);
    }
    pub fn zone_count(&self, zone: u16) -> u32 {
        self.zone_count[zone as usize].load(Ordering::Relaxed)
    }
    pub fn n_conns(&self) -> usize {
        self.n_conns.load(Ordering::Relaxed)
    }
    pub fn max_conns(&self) -> usize {
        self.max_conns.load(Ordering::Relaxed)
    }
    pub fn set_max_conns(&self, n: usize) {
        self.max_conns.store(n, Ordering::Relaxed);
    }
    /// Zones with a limit of their own, ascending.
    pub fn zones_with_limits(&self) -> Vec<(u16, u32)> {
        (0..=u16::MAX)
            .filter_map(|z| self.zone_limit(z).map(|l| (z, l)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_zone_limits() {
        let l = Limits::default();
        l.set_max_conns(3);
        l.set_zone_limit(7, Some(1));
        assert!(l.admit(7));
        assert!(!l.admit(7));
        assert!(l.admit(8));
        assert!(l.admit(9));
        assert!(!l.admit(10), "global maximum");
        assert_eq!(l.n_conns(), 3);
        l.release(8);
        assert!(l.admit(10));
        l.set_max_conns(100);
        l.set_default_zone_limit(1);
        assert_eq!(l.zone_count(9), 1);
        assert!(!l.admit(9), "default zone limit, zone 9 holds one");
        l.set_zone_limit(9, Some(0));
        assert!(l.admit(9), "0 is unlimited");
        assert_eq!(l.zone_count(9), 2);
        l.set_zone_limit(9, None);
        assert_eq!(l.zone_limit(9), None, "deleted");
        assert_eq!(l.zone_limit_of(9), 1, "the default again");
        assert_eq!(l.zones_with_limits(), vec![(7, 1)]);
    }
}
