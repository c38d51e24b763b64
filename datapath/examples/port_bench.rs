//! Forwarding between two real veth ports, measured from the outside: two
//! namespaces (198.18.0.1 and .2) each behind a veth whose outer end is a
//! port of the given type, a thread that forwards every packet from one
//! port to the other (sleeping on the ports' descriptors when idle), and
//! iperf3 (TCP throughput with default offloads; 64-byte UDP packets per
//! second delivered) and ping (latency) between the namespaces. Each
//! figure is the median of `--runs` runs. The seed of `ferrovs bench`.
//!
//! Run as root, optimized:
//! `cargo run --release -p ferrovs-datapath --example port_bench -- --secs 3 --runs 3`
//! Options: `--busy` (the forwarding thread never sleeps), `--kinds linux-bridge,afpacket,afpacket-v3,afxdp,afxdp-generic` `--secs N` `--runs N`.

#[allow(dead_code)]
#[path = "../tests/common/ports.rs"]
mod ports;

use std::sync::Arc;
use std::time::Duration;

use ferrovs_datapath::netdev::afpacket::{AfPacketNetdev, RxMode};
use ferrovs_datapath::netdev::afxdp::{AfXdpNetdev, AfXdpOptions, XdpMode};
use ferrovs_datapath::netdev::Netdev;
use ports::*;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn open(kind: &str, dev: &str) -> anyhow::Result<Arc<dyn Netdev>> {
    Ok(match kind {
        "afpacket" => Arc::new(AfPacketNetdev::open_with(dev, RxMode::Mmsg)?),
        "afpacket-v3" => Arc::new(AfPacketNetdev::open_with(dev, RxMode::TpacketV3)?),
        "afxdp" | "afxdp-generic" => {
            let mode = if kind == "afxdp" {
                XdpMode::Native
            } else {
                XdpMode::Generic
            };
            let o = AfXdpOptions {
                mode,
                ..AfXdpOptions::default()
            };
            Arc::new(AfXdpNetdev::open(dev, &o)?)
        }
        _ => anyhow::bail!("unknown kind {kind}"),
    })
}

/// 64-byte frames (18 bytes of UDP payload) as fast as iperf3 sends
/// them: packets per second delivered to the receiver.
fn udp64_pps(h1: &Host, h2: &Host, secs: u32) -> anyhow::Result<f64> {
    let iperf = ferrovs_tests::tool("iperf3");
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", h2.ns.name()])
        .arg(&iperf)
        .args(["-s", "-1", "-B", IP2, "-p", "5202"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _server = ferrovs_tests::Child(cmd.spawn()?);
    std::thread::sleep(Duration::from_millis(400));
    let out = h1.ns.exec(&[
        iperf.to_str().unwrap(),
        "-c",
        IP2,
        "-p",
        "5202",
        "-u",
        "-b",
        "0",
        "-l",
        "18",
        "-t",
        &secs.to_string(),
        "-J",
    ])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let s = &v["end"]["sum"];
    let pkts = s["packets"].as_f64().unwrap_or(0.0);
    let lost = s["lost_packets"].as_f64().unwrap_or(0.0);
    let secs = s["seconds"].as_f64().unwrap_or(secs as f64);
    Ok((pkts - lost) / secs)
}

/// Round-trip times of 200 pings 5 ms apart: (median, p99) in µs.
fn ping_rtt(h1: &Host) -> anyhow::Result<(f64, f64)> {
    let out = h1
        .ns
        .exec(&[
            "ping", "-c", "200", "-i", "0.005", "-W", "1", "-q", "-n", IP2,
        ])
        .and_then(|_| {
            h1.ns
                .exec(&["ping", "-c", "200", "-i", "0.005", "-W", "1", "-n", IP2])
        })?;
    let mut v: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .map(|ms| ms * 1000.0)
        .collect();
    anyhow::ensure!(!v.is_empty(), "no ping replies");
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p99 = v[(v.len() * 99 / 100).min(v.len() - 1)];
    Ok((median(&mut v), p99))
}

/// A Linux bridge joining the two outer veth ends (the reference the
/// switch is compared with), deleted on drop.
struct Bridge(String);

impl Bridge {
    fn new(ports: &[&str]) -> anyhow::Result<Bridge> {
        let name = format!("fvbr{}", ferrovs_tests::unique_suffix());
        let ip = |args: &[&str]| -> anyhow::Result<()> {
            let st = std::process::Command::new("ip").args(args).status()?;
            anyhow::ensure!(st.success(), "ip {}", args.join(" "));
            Ok(())
        };
        ip(&["link", "add", &name, "type", "bridge"])?;
        let br = Bridge(name);
        for p in ports {
            ip(&["link", "set", p, "master", &br.0])?;
            ip(&["link", "set", p, "up"])?;
        }
        ip(&["link", "set", &br.0, "up"])?;
        Ok(br)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, def: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| def.to_string())
    };
    let secs: u32 = arg("--secs", "3").parse()?;
    let runs: usize = arg("--runs", "3").parse()?;
    let busy = args.iter().any(|a| a == "--busy");
    let kinds = arg("--kinds", "linux-bridge,afpacket,afpacket-v3,afxdp");
    println!("| ports | TCP Gbit/s | 64B UDP kpps | ping median µs | ping p99 µs | idle CPU % |");
    println!("|---|---|---|---|---|---|");
    for kind in kinds.split(',') {
        let h1 = Host::veth("bn1", IP1, IP6_1)?;
        let h2 = Host::veth("bn2", IP2, IP6_2)?;
        if kind == "linux-bridge" {
            let _br = Bridge::new(&[h1.outer(), h2.outer()])?;
            ping(&h1, IP2)?;
            let (mut tcp, mut pps) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                tcp.push(iperf3(&h1, &h2, IP2, secs)?.0 / 1e9);
                pps.push(udp64_pps(&h1, &h2, secs)? / 1e3);
            }
            let (p50, p99) = ping_rtt(&h1)?;
            println!(
                "| {kind} | {:.2} | {:.0} | {:.0} | {:.0} | - |",
                median(&mut tcp),
                median(&mut pps),
                p50,
                p99
            );
            eprintln!("  runs: TCP {tcp:.2?} Gbit/s, UDP {pps:.0?} kpps");
            continue;
        }
        let a = open(kind, h1.outer())?;
        let b = open(kind, h2.outer())?;
        let fwd = Forwarder::start_with(a.clone(), b.clone(), !busy);
        ping(&h1, IP2)?;
        let (mut tcp, mut pps) = (Vec::new(), Vec::new());
        for r in 0..runs {
            eprint!("\r{kind}: run {}/{runs} TCP...      ", r + 1);
            tcp.push(iperf3(&h1, &h2, IP2, secs)?.0 / 1e9);
            eprint!("\r{kind}: run {}/{runs} UDP...      ", r + 1);
            pps.push(udp64_pps(&h1, &h2, secs)? / 1e3);
        }
        eprint!("\r{kind}: ping...                 ");
        let (p50, p99) = ping_rtt(&h1)?;
        let before = fwd.stop();
        // Idle: a fresh forwarder with no traffic for 2 s.
        let idle = Forwarder::start(a.clone(), b.clone());
        std::thread::sleep(Duration::from_secs(2));
        let st = idle.stop();
        let idle_pct = st.cpu.as_secs_f64() / 2.0 * 100.0;
        eprintln!(
            "\r{kind}: done ({} packets forwarded)   ",
            before.a_to_b + before.b_to_a
        );
        println!(
            "| {kind} | {:.2} | {:.0} | {:.0} | {:.0} | {:.1} |",
            median(&mut tcp),
            median(&mut pps),
            p50,
            p99,
            idle_pct
        );
        eprintln!(
            "  runs: TCP {tcp:.2?} Gbit/s, UDP {pps:.0?} kpps; drops a={:?} b={:?}",
            a.drops(),
            b.drops()
        );
    }
    Ok(())
}
