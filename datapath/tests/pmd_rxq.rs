//! Receive queues over PMDs: `rebalance_rxqs` in both modes, the cycle
//! counts that `cycles` sorts by, clearing counters, and pinning
//! (checked on the running threads' affinity in /proc).

use std::sync::Arc;

use ferrovs_datapath::dpif::{RxqAssign, RxqInfo};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{packet::DpPacket, Datapath, DpConfig};

struct Drop0;
impl UpcallHandler for Drop0 {
    fn miss(
        &self,
        _p: &DpPacket,
        _k: &ferrovs_datapath::flow::FlowKey,
        _r: &mut UpcallReply,
    ) -> Result<(), UpcallError> {
        Ok(())
    }
}

fn queues(dp: &Datapath, pmd: usize) -> Vec<(u32, usize)> {
    dp.pmd_info()[pmd]
        .rxqs
        .iter()
        .map(|RxqInfo { port_no, qid, .. }| (*port_no, *qid))
        .collect()
}

#[test]
fn rebalance_roundrobin_and_cycles() {
    let cfg = DpConfig {
        pmd_cpus: vec![None; 2],
        ..DpConfig::default()
    };
    let dp = Datapath::new(cfg, Arc::new(Drop0));
    dp.add_port(1, MemNetdev::new("p1", 3, 1)).unwrap();
    dp.add_port(2, MemNetdev::new("p2", 1, 1)).unwrap();
    dp.set_rxq_assign(RxqAssign::RoundRobin);
    dp.rebalance_rxqs();
    assert_eq!(queues(&dp, 0), vec![(1, 0), (1, 2)]);
    assert_eq!(queues(&dp, 1), vec![(1, 1), (2, 0)]);
    // With no cycles measured, `cycles` deals in port/queue order, up
    // then down: 0, 1, 1, 0.
    dp.set_rxq_assign(RxqAssign::Cycles);
    dp.rebalance_rxqs();
    assert_eq!(queues(&dp, 0), vec![(1, 0), (2, 0)]);
    assert_eq!(queues(&dp, 1), vec![(1, 1), (1, 2)]);
    assert!(dp.pmd_info().iter().all(|p| p.cpu.is_none()));
}

/// The queue busy with packets gets cycles; `cycles` then deals it first.
#[test]
fn cycles_follow_the_busy_queue_and_clear() {
    let dp = Datapath::new(DpConfig::default(), Arc::new(Drop0));
    let p1 = MemNetdev::new("p1", 2, 1);
    dp.add_port(1, p1.clone()).unwrap();
    let mut pmd = dp.pmd_inline(0).unwrap();
    for _ in 0..50 {
        assert!(p1.inject(1, DpPacket::from_bytes(&[0u8; 60])));
        pmd.poll_once();
    }
    let info = dp.pmd_info();
    let c: Vec<u64> = info[0].rxqs.iter().map(|r| r.cycles).collect();
    assert_eq!(c[0], 0, "{c:?}");
    assert!(c[1] > 0, "{c:?}");
    assert_eq!(info[0].stats.rx_packets, 50);
    dp.clear_pmd_stats();
    let info = dp.pmd_info();
    assert_eq!(info[0].stats.rx_packets, 0);
    assert!(info[0].rxqs.iter().all(|r| r.cycles == 0));
}

/// The affinity of the thread named `pmd-0` of this process (None while
/// there is none: a new thread names itself once it runs).
fn try_pmd0_cpus() -> Option<String> {
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let d = t.ok()?.path();
        if std::fs::read_to_string(d.join("comm")).ok()?.trim() == "pmd-0" {
            let st = std::fs::read_to_string(d.join("status")).ok()?;
            return st
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string());
        }
    }
    None
}

/// `pmd-0`'s affinity once it is `want` (or whatever it is after 5 s).
fn pmd0_cpus_when(want: &str) -> String {
    let t = std::time::Instant::now();
    loop {
        let got = try_pmd0_cpus();
        if got.as_deref() == Some(want) || t.elapsed() > std::time::Duration::from_secs(5) {
            return got.unwrap_or_else(|| "no pmd-0 thread".to_string());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn pinning_applies_to_the_running_thread() {
    let dp = Datapath::new(DpConfig::default(), Arc::new(Drop0));
    dp.start().unwrap();
    let all = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(pmd0_cpus_when(&all), all);
    dp.set_pmd_cpus(&[Some(0)]);
    assert_eq!(pmd0_cpus_when("0"), "0");
    assert_eq!(dp.pmd_info()[0].cpu, Some(0));
    dp.set_pmd_cpus(&[None]);
    assert_eq!(pmd0_cpus_when(&all), all);
    // Pinned before start: the thread pins itself.
    dp.stop();
    dp.set_pmd_cpus(&[Some(0)]);
    dp.start().unwrap();
    assert_eq!(pmd0_cpus_when("0"), "0");
    dp.stop();
}

/// Pinned queues go to their core's PMD, which then polls nothing else;
/// a queue pinned to a core without a PMD goes elsewhere; new ports'
/// queues follow their affinity and avoid isolated PMDs.
#[test]
fn affinity_pins_and_isolates() {
    let cfg = DpConfig {
        pmd_cpus: vec![Some(0), Some(1)],
        ..DpConfig::default()
    };
    let dp = Datapath::new(cfg, Arc::new(Drop0));
    dp.set_rxq_affinity("p1", vec![(0, 1)]);
    dp.add_port(1, MemNetdev::new("p1", 2, 1)).unwrap();
    dp.add_port(2, MemNetdev::new("p2", 2, 1)).unwrap();
    dp.set_rxq_assign(RxqAssign::RoundRobin);
    dp.rebalance_rxqs();
    assert_eq!(queues(&dp, 0), vec![(1, 1), (2, 0), (2, 1)]);
    assert_eq!(queues(&dp, 1), vec![(1, 0)]);
    let iso: Vec<bool> = dp.pmd_info().iter().map(|p| p.isolated).collect();
    assert_eq!(iso, vec![false, true]);
    dp.add_port(3, MemNetdev::new("p3", 1, 1)).unwrap();
    assert_eq!(queues(&dp, 1), vec![(1, 0)]);
    // Core 5 has no PMD: the queue is placed as if unpinned.
    dp.set_rxq_affinity("p1", vec![(0, 5)]);
    dp.rebalance_rxqs();
    assert_eq!(queues(&dp, 0), vec![(1, 0), (2, 0), (3, 0)]);
    assert_eq!(queues(&dp, 1), vec![(1, 1), (2, 1)]);
    assert!(dp.pmd_info().iter().all(|p| !p.isolated));
}
