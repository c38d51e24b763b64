//! The PMD set changing size at run time (`Datapath::set_pmds`) under
//! traffic. (A file of its own: its PMD threads are named as those of
//! `pmd_rxq`'s pinning test, which looks its thread up by name.)

mod common;
use common::frames::udp4_to;

use std::sync::Arc;

use ferrovs_datapath::dpif::{RxqAssign, RxqInfo};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{packet::DpPacket, Datapath, DpConfig};

fn queues(dp: &Datapath, pmd: usize) -> Vec<(u32, usize)> {
    dp.pmd_info()[pmd]
        .rxqs
        .iter()
        .map(|RxqInfo { port_no, qid, .. }| (*port_no, *qid))
        .collect()
}

/// Exact on nw_dst, output to port 2.
struct ToPort2;
impl UpcallHandler for ToPort2 {
    fn miss(
        &self,
        _p: &DpPacket,
        _k: &ferrovs_datapath::flow::FlowKey,
        r: &mut UpcallReply,
    ) -> Result<(), UpcallError> {
        use ferrovs_datapath::flow::layout::{DL_TYPE, NW_DST};
        let mut m = ferrovs_datapath::flow::Flow::default();
        m.set_all(DL_TYPE);
        m.set_all(NW_DST);
        r.mask = Some(m.to_key());
        r.actions
            .push(ferrovs_datapath::actions::DpAction::Output(2));
        Ok(())
    }
}

/// Waits until `p2` has sent `n` frames in all (taking them), up to 10 s.
fn drain_until(p2: &MemNetdev, n: usize, got: &mut usize) -> bool {
    let t = std::time::Instant::now();
    while *got < n && t.elapsed() < std::time::Duration::from_secs(10) {
        *got += p2.take_all_tx().len();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    *got == n
}

/// `set_pmds` grows the running datapath to two PMD threads, which poll
/// the queues between them (each installs its own megaflows), and shrinks
/// it back to one, which polls them all; queues move while packets keep
/// coming and none is lost; the removed PMD's megaflows leave the flow
/// count and the flow-limit count with it.
#[test]
fn pmd_set_grows_and_shrinks_with_traffic() {
    let dp = Datapath::new(DpConfig::default(), Arc::new(ToPort2));
    let p1 = MemNetdev::new("p1", 2, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    dp.start().unwrap();
    let mut got = 0;
    let mut sent = 0;
    let mut send = |n: usize| {
        for i in 0..n {
            // Queue-full refusals are not sent (MemNetdev's bound).
            sent += p1.inject(i % 2, udp4_to((i % 8) as u32)) as usize;
        }
        sent
    };
    let s = send(64);
    assert!(drain_until(&p2, s, &mut got), "{got} of {s}");
    assert_eq!(dp.n_pmds(), 1);

    // (roundrobin: the queues' cycles so far do not change the order.)
    dp.set_rxq_assign(RxqAssign::RoundRobin);
    dp.set_pmds(&[None, None]);
    assert_eq!(dp.n_pmds(), 2);
    assert_eq!(queues(&dp, 0), vec![(1, 0), (2, 0)]);
    assert_eq!(queues(&dp, 1), vec![(1, 1)]);
    dp.clear_pmd_stats();
    let s = send(64);
    assert!(drain_until(&p2, s, &mut got), "{got} of {s}");
    let info = dp.pmd_info();
    assert_eq!(info[0].stats.rx_packets, 32, "{:?}", info[0].stats);
    assert_eq!(info[1].stats.rx_packets, 32, "{:?}", info[1].stats);
    // PMD 0 kept its 8 megaflows; PMD 1 built its own for the 4
    // destinations its queue (odd packets) carries.
    let flows = dp.flow_dump();
    assert_eq!(flows.iter().filter(|f| f.pmd == 0).count(), 8);
    assert_eq!(flows.iter().filter(|f| f.pmd == 1).count(), 4);
    assert_eq!(dp.flow_limit_count(), 12);

    // Moves under traffic: a sender thread keeps injecting while the set
    // changes size five times; every accepted packet comes out.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let (p1, stop) = (p1.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += p1.inject(i % 2, udp4_to((i % 8) as u32)) as usize;
                i += 1;
                if i.is_multiple_of(16) {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            }
            n
        })
    };
    for set in [
        &[None][..],
        &[None, None],
        &[None],
        &[None, None, None],
        &[None],
    ] {
        // p2 keeps its frames (up to a bound): take them meanwhile.
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(30) {
            got += p2.take_all_tx().len();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        dp.set_pmds(set);
        assert_eq!(dp.n_pmds(), set.len());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let moved = sender.join().unwrap();
    assert!(moved > 100, "{moved}");
    let s = s + moved;
    assert!(
        drain_until(&p2, s, &mut got),
        "{got} of {s}; {:?}",
        dp.stats()
    );

    // One PMD left: it polls every queue; the others' megaflows are gone
    // from the dump and from the flow-limit count.
    assert_eq!(queues(&dp, 0), vec![(1, 0), (1, 1), (2, 0)]);
    assert!(dp.flow_dump().iter().all(|f| f.pmd == 0));
    assert_eq!(dp.flow_limit_count(), dp.flow_count());
    let send = |n: usize| {
        let mut k = 0;
        for i in 0..n {
            k += p1.inject(i % 2, udp4_to((i % 8) as u32)) as usize;
        }
        k
    };
    let s = s + send(64);
    assert!(drain_until(&p2, s, &mut got), "{got} of {s}");
    dp.stop();
}
