//! The PMD settings of the `Open_vSwitch` row's `other_config`:
//! `pmd-cpu-mask` (hex, with or without `0x`): one PMD thread per CPU of
//! the mask, pinned to it, lowest first; PMDs are created and stopped when
//! the mask changes, CPUs the process may not use are left out (logged),
//! and without a usable mask the datapath's default set runs (unpinned);
//! `pmd-rxq-assign` (`roundrobin`, `cycles` or `group`; anything else
//! falls back to `cycles` with OVS's warning); `pmd-rxq-isolate` (false
//! counts only with `group`, as in OVS); and `pmd-maxsleep` (microseconds,
//! at most 10000 as in OVS: the longest sleep of an idle PMD; 0 keeps idle
//! PMDs busy polling, as OVS does by default; unset: ferrovs's default,
//! idle PMDs sleep on their queues). Each Interface's
//! `other_config:pmd-rxq-affinity` (`QUEUE:CORE,...`) pins its queues.
//!
//! Applied only when a value changes, so a reconcile pass without change
//! costs a few string comparisons; any change reassigns the queues once.

use std::collections::BTreeMap;

use ferrovs_datapath::dpif::RxqAssign;
use ferrovs_datapath::rxq_sched::parse_affinity;
use ferrovs_datapath::Datapath;

/// What was applied last.
#[derive(Debug, Default)]
pub struct PmdConfig {
    mask: Option<String>,
    assign: Option<String>,
    isolate: Option<String>,
    max_sleep: Option<String>,
    affinity: BTreeMap<String, String>,
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
        Some("group") => RxqAssign::Group,
        Some(_) => {
            tracing::warn!(
                "Unsupported rx queue to PMD assignment mode in pmd-rxq-assign. \
                 Defaulting to 'cycles'."
            );
            RxqAssign::Cycles
        }
    }
}

/// The PMD set for a `pmd-cpu-mask`: one pinned PMD per CPU of the mask
/// that is in `usable` (None: all are), else `default`.
pub fn pmd_set(
    mask: Option<&str>,
    usable: Option<&[usize]>,
    default: Vec<Option<usize>>,
) -> Vec<Option<usize>> {
    let Some(mask) = mask else {
        return default;
    };
    let Some(cpus) = mask_cpus(mask) else {
        tracing::warn!("pmd-cpu-mask {mask:?}: not a hexadecimal mask, ignored");
        return default;
    };
    let (ok, gone): (Vec<usize>, Vec<usize>) = cpus
        .into_iter()
        .partition(|c| usable.is_none_or(|u| u.contains(c)));
    if !gone.is_empty() {
        tracing::warn!("pmd-cpu-mask {mask}: CPUs {gone:?} are not available, no PMD on them");
    }
    if ok.is_empty() {
        tracing::warn!("pmd-cpu-mask {mask}: no usable CPU, default PMD set");
        return default;
    }
    ok.into_iter().map(Some).collect()
}

impl PmdConfig {
    pub fn apply(
        &mut self,
        dp: &Datapath,
        other: &BTreeMap<String, String>,
        affinity: &BTreeMap<String, String>,
    ) {
        let mut moved = false;
        let mask = other.get("pmd-cpu-mask").cloned();
        if mask != self.mask {
            let usable = ferrovs_datapath::pmd::usable_cpus();
            let set = pmd_set(mask.as_deref(), usable.as_deref(), dp.default_pmd_cpus());
            dp.set_pmds(&set);
            self.mask = mask;
            moved = true;
        }
        let max_sleep = other.get("pmd-maxsleep").cloned();
        if max_sleep != self.max_sleep {
            dp.set_pmd_max_sleep(max_sleep_us(max_sleep.as_deref()));
            self.max_sleep = max_sleep;
        }
        let assign = other.get("pmd-rxq-assign").cloned();
        let isolate = other.get("pmd-rxq-isolate").cloned();
        if assign != self.assign || isolate != self.isolate {
            let mode = assign_mode(assign.as_deref());
            let iso = isolate.as_deref() != Some("false");
            if !iso && mode != RxqAssign::Group {
                tracing::warn!("pmd-rxq-isolate=false needs pmd-rxq-assign=group: ignored");
            }
            dp.set_rxq_assign(mode);
            dp.set_rxq_isolate(iso);
            self.assign = assign;
            self.isolate = isolate;
            moved = true;
        }
        if *affinity != self.affinity {
            for name in self.affinity.keys() {
                if !affinity.contains_key(name) {
                    dp.set_rxq_affinity(name, Vec::new());
                }
            }
            for (name, v) in affinity {
                if self.affinity.get(name) == Some(v) {
                    continue;
                }
                let pins = parse_affinity(v).unwrap_or_else(|e| {
                    tracing::warn!("interface {name}: pmd-rxq-affinity {v:?}: {e}: ignored");
                    Vec::new()
                });
                dp.set_rxq_affinity(name, pins);
            }
            self.affinity = affinity.clone();
            moved = true;
        }
        if moved {
            dp.rebalance_rxqs();
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
        assert_eq!(assign_mode(Some("group")), RxqAssign::Group);
        assert_eq!(assign_mode(Some("x")), RxqAssign::Cycles);
        assert_eq!(assign_mode(None), RxqAssign::Cycles);
        assert_eq!(max_sleep_us(Some("0")), Some(0));
        assert_eq!(max_sleep_us(Some("50000")), Some(10_000));
        assert_eq!(max_sleep_us(Some("x")), None);
        assert_eq!(max_sleep_us(None), None);
    }

    #[test]
    fn pmd_sets() {
        let def = vec![None];
        assert_eq!(pmd_set(None, None, def.clone()), def);
        assert_eq!(pmd_set(Some("0x3"), None, def.clone()), [Some(0), Some(1)]);
        assert_eq!(
            pmd_set(Some("0xf"), Some(&[0, 1]), def.clone()),
            [Some(0), Some(1)]
        );
        assert_eq!(pmd_set(Some("0x4"), Some(&[0, 1]), def.clone()), def);
        assert_eq!(pmd_set(Some("0"), None, def.clone()), def);
        assert_eq!(pmd_set(Some("zz"), None, def.clone()), def);
    }
}
