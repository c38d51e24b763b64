//! The megaflow cache's size and lifetime settings, from the database's
//! `Open_vSwitch:other_config`: `flow-limit` (default 200,000) and
//! `max-idle` (ms, default 10,000).
//!
//! As OVS's upcall layer, the limit in force is dynamic: it starts at the
//! smaller of `flow-limit` and 10,000 and follows the revalidation rounds'
//! durations (a round over 2 s divides it by the seconds it took, one over
//! 1.3 s takes a quarter off, a quick round with more than 2,000 megaflows
//! adds 1,000), never under 1,000 nor over `flow-limit`. Over the limit,
//! misses are executed without installing (the datapath's limit is set to
//! it), megaflows idle for 100 ms are removed, and past twice the limit
//! every megaflow goes. `upcall/show` prints the limit in force.
//!
//! All values are atomics: the switch's reconciler writes them, the
//! revalidation tick (a blocking task) reads and adjusts them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ferrovs_datapath::Datapath;

/// OVS's `other_config:flow-limit` default.
pub const DEFAULT_FLOW_LIMIT: usize = 200_000;
/// OVS's `other_config:max-idle` default, in ms.
pub const DEFAULT_MAX_IDLE_MS: u64 = 10_000;
/// The dynamic limit's starting ceiling and floor, as OVS's.
const START_LIMIT: usize = 10_000;
const MIN_LIMIT: usize = 1_000;
/// Idle time of megaflows while over the limit.
const OVER_LIMIT_IDLE_MS: u64 = 100;

#[derive(Debug)]
pub struct FlowLimits {
    configured: AtomicUsize,
    max_idle_ms: AtomicU64,
    dynamic: AtomicUsize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            configured: AtomicUsize::new(DEFAULT_FLOW_LIMIT),
            max_idle_ms: AtomicU64::new(DEFAULT_MAX_IDLE_MS),
            dynamic: AtomicUsize::new(START_LIMIT.min(DEFAULT_FLOW_LIMIT)),
        }
    }
}

/// A positive number, or the default (a warning for anything else).
fn parse<T: std::str::FromStr + PartialOrd + From<u8> + Copy>(
    other: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> T {
    match other.get(key) {
        None => default,
        Some(v) => match v.parse::<T>() {
            Ok(n) if n > T::from(0) => n,
            _ => {
                tracing::warn!("other_config:{key}={v:?}: not a positive number, ignored");
                default
            }
        },
    }
}

impl FlowLimits {
    /// Takes `flow-limit` and `max-idle` from `other_config`.
    pub fn apply(&self, other: &BTreeMap<String, String>) {
        let limit = parse(other, "flow-limit", DEFAULT_FLOW_LIMIT as u64) as usize;
        self.configured.store(limit, Ordering::Relaxed);
        let idle = parse(other, "max-idle", DEFAULT_MAX_IDLE_MS);
        self.max_idle_ms.store(idle, Ordering::Relaxed);
    }

    /// `upcall/set-flow-limit`: the limit in force becomes `limit` at
    /// once (0 included: nothing is installed until the next round); the
    /// next round's adjustment then keeps it within 1,000 and
    /// `flow-limit`, as OVS's.
    pub fn set(&self, limit: usize, dp: &Datapath) {
        self.dynamic.store(limit, Ordering::Relaxed);
        dp.set_flow_limit(limit);
    }

    /// The limit `upcall/show` prints.
    pub fn limit(&self) -> usize {
        self.dynamic.load(Ordering::Relaxed)
    }

    pub fn max_idle_ms(&self) -> u64 {
        self.max_idle_ms.load(Ordering::Relaxed)
    }

    /// The idle time for a round that starts with `n_flows` megaflows.
    pub fn round_idle_ms(&self, n_flows: usize) -> u64 {
        let limit = self.limit();
        if n_flows > limit.saturating_mul(2) {
            0
        } else if n_flows > limit {
            OVER_LIMIT_IDLE_MS.min(self.max_idle_ms())
        } else {
            self.max_idle_ms()
        }
    }

    /// Moves the limit after a round over `n_flows` megaflows that took
    /// `took`, and gives it to the datapath.
    pub fn adjust(&self, n_flows: usize, took: Duration, dp: &Datapath) {
        let ms = took.as_millis() as usize;
        let mut limit = self.limit();
        if ms > 2000 {
            limit /= ms / 1000;
        } else if ms > 1300 {
            limit = limit * 3 / 4;
        } else if ms < 1000 && n_flows > 2000 && limit < n_flows * 1000 / ms.max(1) {
            limit += 1000;
        }
        let limit = limit
            .max(MIN_LIMIT)
            .min(self.configured.load(Ordering::Relaxed));
        self.dynamic.store(limit, Ordering::Relaxed);
        dp.set_flow_limit(limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_and_dynamic_limit() {
        let dp = Datapath::new(
            Default::default(),
            ferrovs_ofproto::upcall::OfprotoUpcall::new(),
        );
        let l = FlowLimits::default();
        assert_eq!(l.limit(), 10_000);
        assert_eq!(l.round_idle_ms(5), 10_000);
        l.apply(&cfg(&[("flow-limit", "3000"), ("max-idle", "2500")]));
        l.adjust(0, Duration::from_millis(1), &dp);
        assert_eq!((l.limit(), dp.flow_limit()), (3000, 3000));
        assert_eq!(l.round_idle_ms(10), 2500);
        assert_eq!(l.round_idle_ms(3001), 100);
        assert_eq!(l.round_idle_ms(6001), 0);
        // Bad values keep the defaults.
        l.apply(&cfg(&[("flow-limit", "x"), ("max-idle", "-1")]));
        assert_eq!(l.max_idle_ms(), 10_000);
        // Slow rounds shrink it, quick busy ones grow it.
        l.adjust(0, Duration::from_millis(1), &dp);
        assert_eq!(l.limit(), 3000);
        l.adjust(0, Duration::from_millis(1500), &dp);
        assert_eq!(l.limit(), 2250);
        l.adjust(2500, Duration::from_millis(10), &dp);
        assert_eq!(l.limit(), 3250);
        l.adjust(0, Duration::from_millis(4000), &dp);
        assert_eq!(l.limit(), 1000);
        // A limit set by hand is in force until the next round keeps it
        // within 1,000 and `flow-limit` (the default again).
        for (set, after) in [
            (0, 1000),
            (2500, 2500),
            (u32::MAX as usize, DEFAULT_FLOW_LIMIT),
        ] {
            l.set(set, &dp);
            assert_eq!((l.limit(), dp.flow_limit()), (set, set));
            l.adjust(0, Duration::from_millis(1), &dp);
            assert_eq!((l.limit(), dp.flow_limit()), (after, after));
        }
    }
}
