//! The PMD settings of the `Open_vSwitch` row's `other_config`:
//! `pmd-cpu-mask` (hex, with or without `0x`: the CPUs PMD threads are
//! pinned to, lowest first, one per PMD) and `pmd-rxq-assign`
//! (`roundrobin` or `cycles`; `group`, which ferrovs does not have, and
//! anything else fall back to `cycles` with OVS's warning), and
//! `pmd-maxsleep` (microseconds, at most 10000 as in OVS: the longest
//! sleep of an idle PMD; 0 keeps idle PMDs busy polling, as OVS does by
//! default; unset: ferrovs's default, idle PMDs sleep on their queues).
//!
//! Applied only when a value changes, so a reconcile pass without change
//! costs two string comparisons. The number of PMD threads is fixed when
//! the datapath starts: a mask with more CPUs than PMDs pins the first
//! ones (logged), a mask with fewer leaves the rest unpinned.

use std::collections::BTreeMap;

use ferrovs_datapath::dpif::RxqAssign;
use ferrovs_datapath::Datapath;

/// What was applied last.
#[derive(Debug, Default)]
pub struct PmdConfig {
    mask: Option<String>,
    assign: Option<String>,
    max_sleep: Option<String>,
}

/// OVS's cap on `pmd-maxsleep`, in microseconds.
const MAX_SLEEP_CAP_US: u64 = 10_000;

/// The `pmd-maxsleep` to apply (None: unset or unusable, the default).
pub fn max_sleep_us(v: Option<&str>) -> Option<u64> {
    let v = v?;
    match v.parse::<u64>() {
        Ok(us) => Some(us.min(MAX_SLEEP_CAP_US)),
        Err(_) => {
            tracing::warn!("pmd-maxsleep {v:?}: not a number of microseconds, ignored");
            None
        }
    }
}

/// The CPUs of a `pmd-cpu-mask`, lowest first (None: not a hex mask).
pub fn mask_cpus(mask: &str) -> Option<Vec<usize>> {
    let hex = mask
        .strip_prefix("0x")
        .or_else(|| mask.strip_prefix("0X"))
        .unwrap_or(mask);
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut cpus = Vec::new();
    for (i, c) in hex.bytes().rev().enumerate() {
        let v = (c as char).to_digit(16)? as usize;
        for bit in 0..4 {
            if v & (1 << bit) != 0 {
                cpus.push(i * 4 + bit);
            }
        }
    }
    Some(cpus)
}

/// The assignment mode named by `pmd-rxq-assign` (None: unset).
pub fn assign_mode(v: Option<&str>) -> RxqAssign {
    match v {
        None | Some("cycles") => RxqAssign::Cycles,
        Some("roundrobin") => RxqAssign::RoundRobin,
        Some(_) => {
            tracing::warn!(
                "Unsupported rx queue to PMD assignment mode in pmd-rxq-assign. \
                 Defaulting to 'cycles'."
            );
            RxqAssign::Cycles
        }
    }
}

impl PmdConfig {
    pub fn apply(&mut self, dp: &Datapath, other: &BTreeMap<String, String>) {
        let mask = other.get("pmd-cpu-mask").cloned();
        if mask != self.mask {
            let cpus = match mask.as_deref().map(mask_cpus) {
                None => Vec::new(),
                Some(Some(c)) => c,
                Some(None) => {
                    tracing::warn!("pmd-cpu-mask {mask:?}: not a hexadecimal mask, ignored");
                    Vec::new()
                }
            };
            if cpus.len() > dp.n_pmds() {
                tracing::warn!(
                    "pmd-cpu-mask names {} CPUs, the datapath has {} PMD threads: \
                     pinning the first",
                    cpus.len(),
                    dp.n_pmds()
                );
            }
            let pins: Vec<Option<usize>> = (0..dp.n_pmds()).map(|i| cpus.get(i).copied()).collect();
            dp.set_pmd_cpus(&pins);
            self.mask = mask;
        }
        let max_sleep = other.get("pmd-maxsleep").cloned();
        if max_sleep != self.max_sleep {
            dp.set_pmd_max_sleep(max_sleep_us(max_sleep.as_deref()));
            self.max_sleep = max_sleep;
        }
        let assign = other.get("pmd-rxq-assign").cloned();
        if assign != self.assign {
            dp.set_rxq_assign(assign_mode(assign.as_deref()));
            dp.rebalance_rxqs();
            self.assign = assign;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_cpus("0x6"), Some(vec![1, 2]));
        assert_eq!(mask_cpus("11"), Some(vec![0, 4]));
        assert_eq!(mask_cpus("0"), Some(vec![]));
        assert_eq!(mask_cpus("0xg"), None);
        assert_eq!(mask_cpus(""), None);
        assert_eq!(assign_mode(Some("roundrobin")), RxqAssign::RoundRobin);
        assert_eq!(assign_mode(Some("group")), RxqAssign::Cycles);
        assert_eq!(assign_mode(None), RxqAssign::Cycles);
        assert_eq!(max_sleep_us(Some("0")), Some(0));
        assert_eq!(max_sleep_us(Some("50000")), Some(10_000));
        assert_eq!(max_sleep_us(Some("x")), None);
        assert_eq!(max_sleep_us(None), None);
    }
}
