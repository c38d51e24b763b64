//! Several PMD threads, side by side with Debian's ovs-vswitchd (netdev
//! datapath, dummy ports with two receive queues each: `dummy` in
//! ferrovs, whose dummy ports are all polled by PMDs, `dummy-pmd` in OVS):
//!
//! - `pmd-cpu-mask=0x3` makes two PMD threads that share the queues
//!   (`cycles`, then `roundrobin`); a `pmd-rxq-affinity` pin isolates its
//!   core, with the same placement as OVS (usage figures aside; the
//!   bridge's own port aside too: ferrovs polls it on a PMD, where OVS
//!   polls it on its main thread, so it also takes a turn in the
//!   `cycles` and `roundrobin` dealing, and their placements are not
//!   compared line for line);
//! - packets sent to every queue are forwarded, and `pmd-stats-show`
//!   counts them on both PMDs;
//! - back to `0x1`: one PMD polls every queue, as in OVS, the second
//!   thread is gone, and traffic still flows.

use std::time::{Duration, Instant};

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::Sw;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

/// UDP 50:54:00:00:00:01 -> :02, 198.18.0.1 -> 198.18.0.2 (42 bytes).
const TO_P2: &str =
    "50540000000250540000000108004500001c0000000040110000c6120001c6120002000a000b00080000";
/// The same back, :02 -> :01.
const TO_P1: &str =
    "50540000000150540000000208004500001c0000000040110000c6120002c6120001000b000a00080000";

fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// `pmd-rxq-show` without its usage figures (measured, so they differ)
/// and without the bridge's own port (known difference: OVS polls its
/// internal ports on its main thread, ferrovs on PMDs).
fn placement(show: &str) -> String {
    show.lines()
        .filter(|l| !l.starts_with("  port: br0 "))
        .map(|l| match l.find("pmd usage:") {
            Some(i) => format!("{}pmd usage: -", &l[..i]),
            None if l.starts_with("  overhead:") => "  overhead: -".to_string(),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `packets received` of each PMD block of `pmd-stats-show`, by core.
fn rx_by_core(stats: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut core = None;
    for l in stats.lines() {
        if let Some(c) = l.strip_prefix("pmd thread numa_id 0 core_id ") {
            core = Some(c.trim_end_matches(':').to_string());
        } else if l == "main thread:" {
            core = None;
        } else if let (Some(c), Some(n)) = (&core, l.strip_prefix("  packets received: ")) {
            out.push((c.clone(), n.parse().unwrap()));
        }
    }
    out
}

/// Sends `n` frames into every queue of p1 and p2.
fn send_all_queues(s: &Sw, n: usize) {
    for _ in 0..n {
        for q in ["0", "1"] {
            s.appctl(&["netdev-dummy/receive", "p1", "--qid", q, TO_P2]);
            s.appctl(&["netdev-dummy/receive", "p2", "--qid", q, TO_P1]);
        }
    }
}

fn tx_pkts(s: &Sw, port: &str) -> u64 {
    let t = s.ofctl(&[], "dump-ports", &[port]);
    let i = t.find("tx pkts=").unwrap_or_else(|| panic!("{t}")) + 8;
    t[i..].split(',').next().unwrap().parse().unwrap()
}

fn pmd_threads(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .filter(|c| c.starts_with("pmd-"))
        .collect();
    v.sort();
    v
}

#[test]
fn pmd_cpu_mask_makes_pmds_that_share_the_queues_like_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &[]);
    let pid = fv.pid().unwrap();
    let sws = [Sw::F(fv), Sw::O(ovs)];
    for s in &sws {
        let kind = match s {
            Sw::F(_) => "type=dummy",
            Sw::O(_) => "type=dummy-pmd",
        };
        s.vsctl(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x3"]);
        s.vsctl(&["set-fail-mode", "br0", "secure"]);
        for (k, p) in ["p1", "p2"].iter().enumerate() {
            let req = format!("ofport_request={}", k + 1);
            s.vsctl(&[
                "add-port",
                "br0",
                p,
                "--",
                "set",
                "Interface",
                p,
                kind,
                &req,
                "options:n_rxq=2",
            ]);
        }
        s.ofctl(&[], "add-flow", &["in_port=1,actions=output:2"]);
        s.ofctl(&[], "add-flow", &["in_port=2,actions=output:1"]);
    }
    let show = |s: &Sw| placement(&s.appctl(&["dpif-netdev/pmd-rxq-show"]));
    // Both PMDs poll some of the four queues.
    let two_pmds = |s: &Sw| {
        let t = show(s);
        let (a, b) = t.split_once("core_id 1:").unwrap_or((&t, ""));
        a.contains("core_id 0:")
            && a.contains("queue-id")
            && b.contains("queue-id")
            && t.matches("queue-id").count() == 4
    };
    for s in &sws {
        assert!(
            wait_until(Duration::from_secs(10), || two_pmds(s)),
            "{}: {}",
            s.name(),
            show(s)
        );
    }
    assert_eq!(pmd_threads(pid), ["pmd-0", "pmd-1"]);

    // Traffic into every queue: forwarded, and polled by both PMDs.
    sws[0].appctl(&["dpif-netdev/pmd-stats-clear"]);
    send_all_queues(&sws[0], 5);
    assert!(
        wait_until(Duration::from_secs(10), || tx_pkts(&sws[0], "1") == 10
            && tx_pkts(&sws[0], "2") == 10),
        "{}",
        sws[0].ofctl(&[], "dump-ports", &[])
    );
    let st = sws[0].appctl(&["dpif-netdev/pmd-stats-show"]);
    let rx = rx_by_core(&st);
    assert_eq!(rx.len(), 2, "{st}");
    assert!(
        rx.iter().all(|(_, n)| *n == 10),
        "two queues of 5 each: {rx:?}\n{st}"
    );

    // Round robin, then a queue pinned to core 1 (which takes no other).
    for s in &sws {
        s.vsctl(&[
            "set",
            "Open_vSwitch",
            ".",
            "other_config:pmd-rxq-assign=roundrobin",
        ]);
    }
    for s in &sws {
        assert!(two_pmds(s), "roundrobin, {}: {}", s.name(), show(s));
    }
    for s in &sws {
        s.vsctl(&[
            "set",
            "Interface",
            "p1",
            "other_config:pmd-rxq-affinity=0:1",
        ]);
    }
    let ok = wait_until(Duration::from_secs(10), || {
        show(&sws[0]).contains("isolated : true") && show(&sws[0]) == show(&sws[1])
    });
    assert!(ok, "affinity:\n{}\n---\n{}", show(&sws[0]), show(&sws[1]));
    send_all_queues(&sws[0], 5);
    assert!(
        wait_until(Duration::from_secs(10), || tx_pkts(&sws[0], "1") == 20
            && tx_pkts(&sws[0], "2") == 20),
        "{}",
        sws[0].ofctl(&[], "dump-ports", &[])
    );

    // Back to one PMD: it polls all four queues (the pin to core 1 has
    // no PMD now: the queue goes to core 0), as in OVS.
    for s in &sws {
        s.vsctl(&["set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x1"]);
    }
    let one_pmd = |s: &Sw| {
        let t = show(s);
        !t.contains("core_id 1:") && t.matches("queue-id").count() == 4
    };
    for s in &sws {
        assert!(
            wait_until(Duration::from_secs(10), || one_pmd(s)),
            "{}: {}",
            s.name(),
            show(s)
        );
    }
    assert_eq!(show(&sws[0]), show(&sws[1]), "one PMD");
    assert!(wait_until(Duration::from_secs(10), || pmd_threads(pid) == ["pmd-0"]));
    send_all_queues(&sws[0], 5);
    assert!(
        wait_until(Duration::from_secs(10), || tx_pkts(&sws[0], "1") == 30
            && tx_pkts(&sws[0], "2") == 30),
        "{}",
        sws[0].ofctl(&[], "dump-ports", &[])
    );

    // A new n_rxq re-opens the port with that many queues.
    sws[0].vsctl(&["set", "Interface", "p2", "options:n_rxq=3"]);
    assert!(
        wait_until(Duration::from_secs(10), || show(&sws[0])
            .matches("port: p2 ")
            .count()
            == 3),
        "{}",
        show(&sws[0])
    );
    for q in ["0", "1", "2"] {
        sws[0].appctl(&["netdev-dummy/receive", "p2", "--qid", q, TO_P1]);
    }
    assert!(
        wait_until(Duration::from_secs(10), || tx_pkts(&sws[0], "1") == 33),
        "{}",
        sws[0].ofctl(&[], "dump-ports", &[])
    );
}
