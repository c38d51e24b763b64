//! ferrovs: one command for people.
//!
//! `ferrovs up` runs the switch with embedded defaults; `vsctl`, `ofctl` and
//! `appctl` will speak to it like OVS's tools; `bench` runs the side-by-side
//! benchmarks. Subcommands whose components are not built yet say so.
//!
//! Until the switch exists, `up` runs the datapath demo: two in-memory
//! ports wired in a loop, PMD threads forwarding the packets through the
//! EMC and megaflow classifier with a trivial upcall handler, printing
//! packets per second every second.
mod bench;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout::{DL_TYPE, NW_DST};
use ferrovs_datapath::flow::{Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig};

#[derive(Parser)]
#[command(
    name = "ferrovs",
    version,
    about = "A userspace OpenFlow virtual switch"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the switch with embedded defaults (for now: the datapath demo).
    Up(UpArgs),
    /// Measure ferrovs against Open vSwitch and the Linux bridge.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    seconds: Option<u64>,
    /// Number of PMD threads.
    #[arg(long, default_value_t = 1)]
    pmds: usize,
    /// Distinct flows (IPv4 destinations) in the circulating traffic.
    #[arg(long, default_value_t = 64)]
    flows: u32,
    /// Packets in flight on the port loop.
    #[arg(long, default_value_t = 256)]
    packets: usize,
    /// OVS's emc-insert-inv-prob (0 disables the EMC).
    #[arg(long, default_value_t = 100)]
    emc_insert_inv_prob: u32,
}

/// The trivial slow path: every flow goes to port 2, matching on
/// EtherType and IPv4 destination.
struct ToPort2;

impl UpcallHandler for ToPort2 {
    fn miss(&self, _p: &DpPacket, _k: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        let mut m = Flow::default();
        m.set_all(DL_TYPE);
        m.set_all(NW_DST);
        r.mask = Some(m.to_key());
        r.actions.push(DpAction::Output(2));
        Ok(())
    }
}

/// A 60-byte UDP/IPv4 frame to 198.19.x.y (benchmark range).
fn demo_frame(flow: u32) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 0, 1]);
    f[30..34].copy_from_slice(&[198, 19, (flow >> 8) as u8, flow as u8]);
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

fn up(a: UpArgs) -> anyhow::Result<()> {
    let pmds = a.pmds.max(1);
    let cfg = DpConfig {
        pmd_cpus: vec![None; pmds],
        emc_insert_inv_prob: a.emc_insert_inv_prob,
        idle_sleep: None,
        ..DpConfig::default()
    };
    let dp = Datapath::new(cfg, Arc::new(ToPort2));
    let p1 = MemNetdev::new("p1", pmds, 1);
    let p2 = MemNetdev::new("p2", 1, pmds);
    p2.connect(&p1);
    dp.add_port(1, p1.clone())?;
    dp.add_port(2, p2.clone())?;
    let flows = a.flows.clamp(1, 65536);
    for i in 0..a.packets {
        let f = demo_frame(i as u32 % flows);
        if !p1.inject(i % pmds, DpPacket::from_bytes(&f)) {
            anyhow::bail!("port queue full at {i} packets");
        }
    }
    println!(
        "ferrovs up: datapath demo, {pmds} PMD thread(s), ports p1 -> p2 -> p1, {} packets in flight over {flows} flows",
        a.packets
    );
    let mut last = dp.stats();
    dp.start()?;
    let start = Instant::now();
    let mut last_t = start;
    let mut tick = 0u64;
    loop {
        tick += 1;
        let next = start + Duration::from_secs(tick);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        let s = dp.stats();
        let dt = now.duration_since(last_t).as_secs_f64();
        let pps = (s.tx_packets - last.tx_packets) as f64 / dt;
        println!(
            "{tick:>4}s  {:>12.0} packets/s  (emc hits {}, megaflow hits {}, upcalls {}, flows {})",
            pps,
            s.emc_hits - last.emc_hits,
            s.megaflow_hits - last.megaflow_hits,
            s.upcalls - last.upcalls,
            dp.flow_count()
        );
        last = s;
        last_t = now;
        if a.seconds.is_some_and(|n| tick >= n) {
            break;
        }
    }
    dp.stop();
    let s = dp.stats();
    println!(
        "total: {} packets forwarded in {:.1}s, {} dropped, {} upcalls, {} megaflows",
        s.tx_packets,
        start.elapsed().as_secs_f64(),
        s.dropped,
        s.upcalls,
        dp.flow_count()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    match Cli::parse().cmd {
        Cmd::Up(a) => up(a),
        Cmd::Bench(a) => bench::run(a),
    }
}
