//! Spreading receive queues over PMD threads, as OVS's
//! `other_config:pmd-rxq-assign`, Interface `other_config:pmd-rxq-affinity`
//! and `other_config:pmd-rxq-isolate` do.
//!
//! [`plan`] is a pure function of the PMDs' core ids and the queues (with
//! their cycle history and pinned core): it returns, for each PMD, the
//! queues it is to poll, and which PMDs are isolated. The datapath applies
//! the plan by publishing each PMD's new list; it is computed only on
//! control events (a rebalance, a PMD set change, an affinity change), so
//! its sorts and small loops cost nothing on the packet path.
//!
//! Rules (OVS 3.1's, checked against it with dummy ports):
//! - a queue pinned to a core that has a PMD goes there, and that PMD
//!   takes no other queue (isolated) unless isolation is off, which only
//!   `group` allows; a queue pinned to a core without a PMD is logged and
//!   assigned as if unpinned;
//! - `roundrobin`: the other queues in port and queue order, to the
//!   non-isolated PMDs in turn;
//! - `cycles`: busiest first, dealt up and down (0, 1, .., n-1, n-1, .., 0);
//! - `group`: busiest first, each to the PMD with the least load so far
//!   (fewest queues on a tie, then lowest core).
//!
//! When every PMD is isolated, the unpinned queues go to every PMD as if
//! none were (OVS leaves them unpolled; ferrovs prefers to keep traffic
//! flowing, and logs it).

/// How receive queues are spread over PMDs by a rebalance (OVS's
/// `other_config:pmd-rxq-assign`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxqAssign {
    /// Busiest queues first, dealt to PMDs in up-and-down order.
    #[default]
    Cycles,
    /// In port and queue order, one PMD after the other.
    RoundRobin,
    /// Busiest queues first, each to the least loaded PMD.
    Group,
}

/// A queue to place.
#[derive(Debug, Clone)]
pub(crate) struct SchedRxq<'a> {
    pub port: &'a str,
    pub port_no: u32,
    pub qid: usize,
    pub cycles: u64,
    /// The core `pmd-rxq-affinity` pins it to.
    pub pinned: Option<usize>,
}

/// Where each queue goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// For each PMD (in the order of `cores`), indices into the queues.
    pub lists: Vec<Vec<usize>>,
    pub isolated: Vec<bool>,
}

/// Places `rxqs` on the PMDs whose core ids are `cores` (at least one).
pub(crate) fn plan(cores: &[usize], rxqs: &[SchedRxq], mode: RxqAssign, isolate: bool) -> Plan {
    let n = cores.len().max(1);
    let mut lists: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut load = vec![0u64; n];
    let mut isolated = vec![false; n];
    let isolate = isolate || mode != RxqAssign::Group;
    let mut free: Vec<usize> = Vec::with_capacity(rxqs.len());
    for (i, q) in rxqs.iter().enumerate() {
        match q.pinned {
            Some(core) => match cores.iter().position(|&c| c == core) {
                Some(k) => {
                    lists[k].push(i);
                    load[k] += q.cycles;
                    isolated[k] = isolate;
                }
                None => {
                    tracing::warn!(
                        "port '{}' rx queue {}: pmd-rxq-affinity names core {core}, which \
                         has no PMD thread (see pmd-cpu-mask): assigned to another core",
                        q.port,
                        q.qid
                    );
                    free.push(i);
                }
            },
            None => free.push(i),
        }
    }
    let mut eligible: Vec<usize> = (0..n).filter(|&k| !isolated[k]).collect();
    if eligible.is_empty() {
        if !free.is_empty() {
            tracing::warn!("every PMD thread is isolated: unpinned queues shared among them");
        }
        eligible = (0..n).collect();
    }
    free.sort_by_key(|&i| (rxqs[i].port_no, rxqs[i].qid));
    if mode != RxqAssign::RoundRobin {
        // Stable: equal cycles keep port and queue order.
        free.sort_by_key(|&i| std::cmp::Reverse(rxqs[i].cycles));
    }
    let m = eligible.len();
    for (j, i) in free.into_iter().enumerate() {
        let k = match mode {
            RxqAssign::RoundRobin => eligible[j % m],
            RxqAssign::Cycles => {
                let (round, k) = (j / m, j % m);
                eligible[if round % 2 == 0 { k } else { m - 1 - k }]
            }
            RxqAssign::Group => *eligible
                .iter()
                .min_by_key(|&&k| (load[k], lists[k].len(), cores.get(k).copied()))
                .expect("at least one PMD"),
        };
        lists[k].push(i);
        load[k] += rxqs[i].cycles;
    }
    for l in &mut lists {
        l.sort_by_key(|&i| (rxqs[i].port_no, rxqs[i].qid));
    }
    Plan { lists, isolated }
}

/// Parses an Interface's `other_config:pmd-rxq-affinity`
/// (`QUEUE:CORE[,QUEUE:CORE]...`) into (queue, core) pairs.
pub fn parse_affinity(s: &str) -> Result<Vec<(usize, usize)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (q, c) = e
                .split_once(':')
                .ok_or_else(|| format!("{e:?}: expected QUEUE:CORE"))?;
            let q = q.trim().parse().map_err(|_| format!("{q:?}: bad queue"))?;
            let c = c.trim().parse().map_err(|_| format!("{c:?}: bad core"))?;
            Ok((q, c))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(port_no: u32, qid: usize, cycles: u64, pinned: Option<usize>) -> SchedRxq<'static> {
        let port = ["", "p1", "p2", "p3"][port_no as usize];
        SchedRxq {
            port,
            port_no,
            qid,
            cycles,
            pinned,
        }
    }

    /// Two two-queue ports on cores 0 and 1, as OVS 3.1 assigns them.
    #[test]
    fn modes_match_ovs() {
        let qs = [
            q(1, 0, 0, None),
            q(1, 1, 0, None),
            q(2, 0, 0, None),
            q(2, 1, 0, None),
        ];
        let p = plan(&[0, 1], &qs, RxqAssign::Cycles, true);
        assert_eq!(p.lists, vec![vec![0, 3], vec![1, 2]]);
        let p = plan(&[0, 1], &qs, RxqAssign::RoundRobin, true);
        assert_eq!(p.lists, vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(p.isolated, vec![false, false]);
    }

    #[test]
    fn pinned_queue_isolates_its_core_unless_group_without_isolation() {
        let qs = [
            q(1, 0, 0, Some(1)),
            q(1, 1, 0, None),
            q(2, 0, 0, None),
            q(2, 1, 0, None),
        ];
        let p = plan(&[0, 1], &qs, RxqAssign::RoundRobin, true);
        assert_eq!(p.lists, vec![vec![1, 2, 3], vec![0]]);
        assert_eq!(p.isolated, vec![false, true]);
        // isolate=false only counts with group: p1q0 (pinned, 100 cycles)
        // weighs on core 1 (which stays open to others), so both free
        // queues fit on core 0 first.
        let qs = [q(1, 0, 100, Some(1)), q(1, 1, 50, None), q(2, 0, 10, None)];
        let p = plan(&[0, 1], &qs, RxqAssign::Group, false);
        assert_eq!(p.lists, vec![vec![1, 2], vec![0]]);
        let qs = [q(1, 0, 100, Some(1)), q(1, 1, 150, None), q(2, 0, 10, None)];
        let p = plan(&[0, 1], &qs, RxqAssign::Group, false);
        assert_eq!(p.lists, vec![vec![1], vec![0, 2]]);
        assert_eq!(p.isolated, vec![false, false]);
        let p = plan(&[0, 1], &qs, RxqAssign::Cycles, false);
        assert_eq!(p.isolated, vec![false, true]);
    }

    #[test]
    fn pin_to_a_missing_core_is_assigned_elsewhere() {
        let qs = [q(1, 0, 0, Some(5)), q(1, 1, 0, None)];
        let p = plan(&[0, 1], &qs, RxqAssign::RoundRobin, true);
        assert_eq!(p.lists, vec![vec![0], vec![1]]);
        assert_eq!(p.isolated, vec![false, false]);
    }

    #[test]
    fn cycles_deal_busiest_first_and_group_balances_load() {
        let qs = [
            q(1, 0, 10, None),
            q(2, 0, 40, None),
            q(3, 0, 30, None),
            q(3, 1, 25, None),
        ];
        // cycles: 40->0, 30->1, 25->1, 10->0.
        let p = plan(&[0, 1], &qs, RxqAssign::Cycles, true);
        assert_eq!(p.lists, vec![vec![0, 1], vec![2, 3]]);
        // group: 40->0, 30->1, 25->1 (30 < 40), 10->0 (40 < 55).
        let p = plan(&[0, 1], &qs, RxqAssign::Group, true);
        assert_eq!(p.lists, vec![vec![0, 1], vec![2, 3]]);
        let qs = [q(1, 0, 100, None), q(2, 0, 10, None), q(3, 0, 10, None)];
        let p = plan(&[0, 1], &qs, RxqAssign::Group, true);
        assert_eq!(p.lists, vec![vec![0], vec![1, 2]]);
    }

    #[test]
    fn all_isolated_still_polls_every_queue() {
        let qs = [q(1, 0, 0, Some(0)), q(2, 0, 0, None)];
        let p = plan(&[0], &qs, RxqAssign::Cycles, true);
        assert_eq!(p.lists, vec![vec![0, 1]]);
    }

    #[test]
    fn affinity_syntax() {
        assert_eq!(parse_affinity("0:3, 1:7"), Ok(vec![(0, 3), (1, 7)]));
        assert_eq!(parse_affinity(""), Ok(vec![]));
        assert!(parse_affinity("0-3").is_err());
        assert!(parse_affinity("x:1").is_err());
    }
}
