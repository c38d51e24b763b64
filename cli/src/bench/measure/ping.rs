//! Round-trip latency with `ping -i 0.002` from host 1 to host 2 (500
//! pings a second for the window): every reply's `time=` is a sample;
//! the figures are their median and 99th percentile, in microseconds.

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use super::super::topology::{Topology, H2_ADDR};
use super::{median, quantile};

#[derive(Debug, Clone, Copy)]
pub struct PingFigure {
    pub median_us: f64,
    pub p99_us: f64,
    pub sent: usize,
    pub received: usize,
    /// Replies ping marked `(DUP!)`: the switch delivered a request twice.
    pub duplicates: usize,
}

pub fn measure(t: &Topology, secs: u64) -> anyhow::Result<PingFigure> {
    let count = (secs * 500).max(10);
    let out = Command::new("ip")
        .args([
            "netns", "exec", &t.h1, "ping", "-n", "-i", "0.002", "-W", "1",
        ])
        .args([
            "-c",
            &count.to_string(),
            "-w",
            &(secs + 10).to_string(),
            H2_ADDR,
        ])
        .stdin(Stdio::null())
        .output()
        .context("run ping")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rtts = parse(&text);
    if rtts.is_empty() {
        bail!(
            "ping: no reply ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(PingFigure {
        median_us: median(&rtts).unwrap_or_default(),
        p99_us: quantile(&rtts, 0.99).unwrap_or_default(),
        sent: count as usize,
        received: rtts.len(),
        duplicates: text.lines().filter(|l| l.contains("DUP!")).count(),
    })
}

/// Every `time=X ms` of ping's output, in microseconds (duplicates left
/// out).
pub fn parse(text: &str) -> Vec<f64> {
    text.lines()
        .filter(|l| !l.contains("DUP!"))
        .filter_map(|l| l.split_once("time=")?.1.split_whitespace().next())
        .filter_map(|v| v.parse::<f64>().ok())
        .map(|ms| ms * 1000.0)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_ping_lines() {
        let t = "PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.\n\
                 64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=0.045 ms\n\
                 64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=1.20 ms\n\
                 64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=1.30 ms (DUP!)\n\
                 --- 198.18.0.2 ping statistics ---\n";
        let v: Vec<i64> = super::parse(t).iter().map(|x| x.round() as i64).collect();
        assert_eq!(v, vec![45, 1200]);
    }
}
