//! Idle PMD threads sleep on their queues' descriptors and wake for what
//! they must see: a threaded datapath between two AF_PACKET ports on veth
//! hosts (a handler that crosses in_port 1 <-> 2), with a wait timeout far
//! longer than the test, so only a wakeup can move things on. Needs root.
//!
//! - An idle PMD sleeps (its `sleeps` counter grows) and polls only a few
//!   times a second instead of spinning.
//! - A port added while it sleeps is waited on at once: the first packet
//!   the host behind it sends wakes the PMD (ping from that host).
//! - `stop` ends a sleeping PMD at once (quit wakes it).
//! - `set_pmd_max_sleep(Some(0))` (OVS's `pmd-maxsleep=0`) turns sleeping
//!   off at once, `None` back on.

mod common;

use std::sync::Arc;

use std::time::{Duration, Instant};

use common::ports::*;
use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout::IN_PORT;
use ferrovs_datapath::flow::{Flow, FlowKey};
use ferrovs_datapath::netdev::afpacket::AfPacketNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig};

/// in_port 1 -> 2 and 2 -> 1 (exact on in_port only).
struct Cross;
impl UpcallHandler for Cross {
    fn miss(&self, _p: &DpPacket, k: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        let mut m = Flow::default();
        m.set_all(IN_PORT);
        r.mask = Some(m.to_key());
        let out = if k.get(IN_PORT) == 1 { 2 } else { 1 };
        r.actions.push(DpAction::Output(out));
        Ok(())
    }
}

#[test]
fn idle_pmd_sleeps_and_wakes_for_packets_ports_and_quit() -> anyhow::Result<()> {
    let h1 = Host::veth("pi1", IP1, IP6_1)?;
    let h2 = Host::veth("pi2", IP2, IP6_2)?;
    // No IPv6 chatter: only the packets the test sends wake the PMD.
    for h in [&h1, &h2] {
        h.ns.exec(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", h.ifname),
        ])?;
    }
    let cfg = DpConfig {
        idle_wait: Duration::from_secs(30),
        ..DpConfig::default()
    };
    let dp = Datapath::new(cfg, Arc::new(Cross));
    dp.add_port(1, Arc::new(AfPacketNetdev::open(h1.outer())?))?;
    dp.start()?;

    // Idle: the PMD goes to sleep and stays there (host chatter aside).
    std::thread::sleep(Duration::from_millis(300));
    let s0 = dp.stats();
    std::thread::sleep(Duration::from_secs(1));
    let s1 = dp.stats();
    assert!(s1.sleeps > 0, "the idle PMD never slept: {s1:?}");
    let polls = s1.iterations - s0.iterations;
    eprintln!(
        "idle second: {polls} polls, {} sleeps",
        s1.sleeps - s0.sleeps
    );
    assert!(
        polls < 20_000,
        "an idle PMD polled {polls} times in a second (spinning)"
    );

    // pmd-maxsleep=0: the sleeping PMD is woken and polls from then on;
    // back to the default, it sleeps again.
    dp.set_pmd_max_sleep(Some(0));
    std::thread::sleep(Duration::from_millis(100));
    let a = dp.stats();
    std::thread::sleep(Duration::from_millis(300));
    let b = dp.stats();
    assert_eq!(a.sleeps, b.sleeps, "a PMD told not to sleep slept");
    assert!(
        b.iterations - a.iterations > 500,
        "a busy-polling PMD polled {} times in 300 ms",
        b.iterations - a.iterations
    );
    dp.set_pmd_max_sleep(None);
    std::thread::sleep(Duration::from_millis(300));
    assert!(dp.stats().sleeps > b.sleeps, "the PMD did not sleep again");

    // A port added while the PMD sleeps: h2 speaks first, on it.
    dp.add_port(2, Arc::new(AfPacketNetdev::open(h2.outer())?))?;
    std::thread::sleep(Duration::from_millis(100));
    let p = ferrovs_tests::tool("ping");
    let out = h2
        .ns
        .exec(&[p.to_str().unwrap(), "-c", "1", "-W", "3", IP1])
        .map_err(|e| anyhow::anyhow!("first ping from the new port: {e}"))?;
    assert!(out.contains(" 0% packet loss"), "{out}");
    ping(&h1, IP2)?;
    let s2 = dp.stats();
    assert!(s2.tx_packets > s1.tx_packets, "{s2:?}");

    // Asleep again, then stopped: quit wakes it.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    dp.stop();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stop waited {:?} for a sleeping PMD",
        t.elapsed()
    );
    Ok(())
}
