//! TCP throughput with iperf3: a one-shot server in host 2, a client in
//! host 1 for the window, JSON output with one interval per second (the
//! first second omitted as warm-up). The figure is the median of the
//! per-second receive rates; retransmits come from the sender's total.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::super::cleanup::{self, Resource};
use super::super::topology::{Topology, H2_ADDR};
use super::median;

#[derive(Debug, Clone, Copy)]
pub struct TcpFigure {
    pub gbit_s: f64,
    pub retransmits: u64,
}

const PORT: &str = "5301";

pub fn measure(t: &Topology, secs: u64) -> anyhow::Result<TcpFigure> {
    let mut server = Command::new("ip")
        .args([
            "netns", "exec", &t.h2, "iperf3", "-s", "-1", "-B", H2_ADDR, "-p", PORT,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn iperf3 server")?;
    let sr = Resource::Process(server.id() as i32);
    cleanup::register(sr.clone());
    let result = client(t, secs);
    let _ = server.kill();
    let _ = server.wait();
    cleanup::unregister(&sr);
    result
}

fn client(t: &Topology, secs: u64) -> anyhow::Result<TcpFigure> {
    // The server needs a moment to listen; the client retries its connect.
    let mut last_err = String::new();
    for _ in 0..20 {
        let mut c = Command::new("ip")
            .args([
                "netns", "exec", &t.h1, "iperf3", "-c", H2_ADDR, "-p", PORT, "-J",
            ])
            .args(["-t", &secs.to_string(), "-O", "1", "-i", "1"])
            .args(["--connect-timeout", "2000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn iperf3 client")?;
        let r = Resource::Process(c.id() as i32);
        cleanup::register(r.clone());
        let deadline = Instant::now() + Duration::from_secs(secs + 15);
        let status = loop {
            if let Some(s) = c.try_wait()? {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        cleanup::unregister(&r);
        let out = c.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let Some(status) = status else {
            bail!("iperf3 did not finish within {} s (TCP stalled)", secs + 15);
        };
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("iperf3 JSON ({status}): {}", text.trim()))?;
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            last_err = e.to_string();
            if e.contains("connect") || e.contains("refused") {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            bail!("iperf3: {e}");
        }
        return parse(&v);
    }
    bail!("iperf3 could not connect: {last_err}")
}

/// The figure from iperf3's `-J` output.
pub fn parse(v: &serde_json::Value) -> anyhow::Result<TcpFigure> {
    let rates: Vec<f64> = v["intervals"]
        .as_array()
        .context("no intervals")?
        .iter()
        .filter(|i| !i["sum"]["omitted"].as_bool().unwrap_or(false))
        .filter_map(|i| i["sum"]["bits_per_second"].as_f64())
        .collect();
    let gbit_s = median(&rates).context("no interval")? / 1e9;
    let received = v["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    if received == 0 {
        bail!("iperf3: no byte received");
    }
    Ok(TcpFigure {
        gbit_s,
        retransmits: v["end"]["sum_sent"]["retransmits"].as_u64().unwrap_or(0),
    })
}
