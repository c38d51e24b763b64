//! Figures of a lab that is up: TCP throughput (iperf3, default offloads)
//! and ping latency (median, p99) per route, and the CPU the switches'
//! processes (vswitchd and ovsdb-server of every node) take while idle.
//!
//! Each figure is a [`PathResult`] whose path starts with [`FIGURE`], so
//! the scenario's table shows it in the column of its switch beside the
//! checked paths; a figure that could not be taken (the path does not
//! work) is a failed row saying why. Nothing here judges a figure: the
//! machine is shared, so a figure means something only beside the other
//! switch's, taken in the same run (the load average is a row too).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use super::{ns_exec, Lab, PathResult};

/// What the path of a figure row starts with.
pub const FIGURE: &str = "figure: ";

/// Pings per latency figure, and their interval.
const PINGS: usize = 200;
const PING_INTERVAL: &str = "0.005";
/// Seconds of each iperf3 run, and of the idle-CPU sample.
const IPERF_SECS: u32 = 4;
const IDLE_SECS: u64 = 6;

/// A route to measure: a client namespace sending to `dst`, which the
/// server namespace answers on (directly, or behind a NAT).
pub struct Route<'a> {
    /// Short name for the table, e.g. "E-W vm1 (cn1) -> vm2 (cn2)".
    pub name: &'a str,
    pub client_ns: &'a str,
    pub server_ns: &'a str,
    pub dst: &'a str,
}

/// A process whose CPU counts as the switch's: its role (`vswitchd`,
/// `ovsdb-server`), node and pid.
#[derive(Clone, Debug)]
pub struct Proc {
    pub role: &'static str,
    pub node: String,
    pub pid: u32,
}

/// Takes every figure: latency and throughput of each route (in order),
/// then the idle CPU of `procs`, then the load average. `log` is told
/// each row as it is taken, and per-thread detail of the idle CPU.
pub fn measure(
    lab: &mut Lab,
    routes: &[Route],
    procs: &[Proc],
    log: &mut dyn FnMut(&str),
) -> Vec<PathResult> {
    let mut res = Vec::new();
    let mut push = |path: String, r: anyhow::Result<String>, log: &mut dyn FnMut(&str)| {
        let pr = PathResult::new(path, r);
        match &pr.outcome {
            Ok(d) => log(&format!("{} {d}", pr.path)),
            Err(e) => log(&format!("{} FAILED: {e}", pr.path)),
        }
        res.push(pr);
    };
    for (i, r) in routes.iter().enumerate() {
        push(
            format!("{FIGURE}{} ping median/p99", r.name),
            latency(r.client_ns, r.dst),
            log,
        );
        push(
            format!("{FIGURE}{} TCP iperf3 {IPERF_SECS} s", r.name),
            throughput_or_why(lab, r, 5201 + 2 * i as u16),
            log,
        );
    }
    let mut detail = Vec::new();
    let idle = idle_cpu(procs, Duration::from_secs(IDLE_SECS), &mut detail);
    for d in &detail {
        log(d);
    }
    push(
        format!("{FIGURE}idle CPU, all switch processes, {IDLE_SECS} s"),
        idle,
        log,
    );
    push(
        format!("{FIGURE}load average (1 min) after the figures"),
        load_average(),
        log,
    );
    res
}

/// Round-trip times of [`PINGS`] pings after a warm-up: median and p99.
fn latency(ns: &str, dst: &str) -> anyhow::Result<String> {
    // Warm up: ARP, megaflows, conntrack entries of the NAT.
    let _ = ns_exec(ns, &["ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", dst]);
    let n = PINGS.to_string();
    let out = ns_exec(
        ns,
        &["ping", "-n", "-c", &n, "-i", PING_INTERVAL, "-W", "1", dst],
    )
    .or_else(|e| {
        // ping exits 1 when some replies were lost; keep what came back.
        if e.to_string().contains("exit status: 1") {
            Ok(String::new())
        } else {
            Err(e)
        }
    })?;
    let rtts = rtts(&out);
    ensure!(!rtts.is_empty(), "no reply from {dst}");
    let (med, p99) = (percentile(&rtts, 50.0), percentile(&rtts, 99.0));
    let lost = PINGS - rtts.len();
    Ok(if lost == 0 {
        format!("{med:.3}/{p99:.3} ms")
    } else {
        format!("{med:.3}/{p99:.3} ms, {lost} lost")
    })
}

/// The `time=` values of ping's output, in ms, sorted.
fn rtts(out: &str) -> Vec<f64> {
    let mut v: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next())
        .filter_map(|t| t.parse().ok())
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The `p`th percentile of sorted `v` (nearest rank).
fn percentile(v: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// [`throughput`] with default offloads; when that fails, measures once
/// more with transmit offloads (checksum, and so TSO/GSO) off on both
/// ends' eth0 (every lab host's interface), then turns them back on, so
/// that a failed row still says what the path carries without them.
fn throughput_or_why(lab: &mut Lab, r: &Route, port: u16) -> anyhow::Result<String> {
    let e = match throughput(lab, r, port) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let set = |on: &str| -> anyhow::Result<()> {
        for ns in [r.client_ns, r.server_ns] {
            let mut a = vec!["ethtool", "-K", "eth0", "tx", on, "gso", on];
            if on == "on" {
                a.extend(["tso", "on"]);
            }
            ns_exec(ns, &a)?;
        }
        Ok(())
    };
    let again = set("off").and_then(|()| throughput(lab, r, port + 1));
    let _ = set("on");
    match again {
        Ok(v) => bail!("default offloads fail; tx offloads off: {v} (default: {e:#})"),
        Err(e2) => bail!("{e:#}; also with tx offloads off: {e2:#}"),
    }
}

/// iperf3 from the route's client to its server (one test, default
/// offloads, one stream): the receiver's rate.
fn throughput(lab: &mut Lab, r: &Route, port: u16) -> anyhow::Result<String> {
    let p = port.to_string();
    lab.spawn(
        Command::new(crate::tool("ip"))
            .args(["netns", "exec", r.server_ns, "iperf3", "-s", "-1", "-p", &p])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )?;
    // Ready when its socket listens (its own output is block-buffered
    // into a pipe).
    let filter = format!("sport = :{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ns_exec(r.server_ns, &["ss", "-Hltn", &filter])
        .is_ok_and(|o| o.contains(&format!(":{port}")))
    {
        if Instant::now() > deadline {
            bail!("iperf3 server in {} did not start", r.server_ns);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let secs = IPERF_SECS.to_string();
    let limit = (IPERF_SECS + 15).to_string();
    // Not `run`: on failure iperf3 -J puts its error in the JSON on
    // stdout and exits 1. `timeout --foreground` keeps iperf3 in our
    // process group, where a terminal's Ctrl-C reaches it.
    let out = Command::new(crate::tool("ip"))
        .args([
            "netns",
            "exec",
            r.client_ns,
            "timeout",
            "--foreground",
            &limit,
        ])
        .arg("iperf3")
        .args([
            "-c",
            r.dst,
            "-p",
            &p,
            "-t",
            &secs,
            "--connect-timeout",
            "3000",
            "-J",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .context("run iperf3")?;
    let out = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(&out)
        .with_context(|| format!("iperf3 to {}:{port} gave no result", r.dst))?;
    if let Some(e) = j.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {e}");
    }
    let bps = j["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .context("iperf3 JSON without end.sum_received")?;
    let retr = j["end"]["sum_sent"]["retransmits"].as_u64().unwrap_or(0);
    ensure!(bps > 0.0, "no data received");
    Ok(format!("{:.0} Mbit/s, {retr} retransmits", bps / 1e6))
}

/// CPU of `procs` over `span` with nothing sent, in percent of one core:
/// the total, then per role. `detail` gets one line per process with its
/// busiest threads.
pub fn idle_cpu(
    procs: &[Proc],
    span: Duration,
    detail: &mut Vec<String>,
) -> anyhow::Result<String> {
    ensure!(!procs.is_empty(), "no switch process known");
    // Let the traffic of the figures before settle (ARP, TCP close).
    std::thread::sleep(Duration::from_secs(1));
    let before: Vec<Vec<(String, u64)>> = procs
        .iter()
        .map(|p| thread_ticks(p.pid))
        .collect::<anyhow::Result<_>>()?;
    let t0 = Instant::now();
    std::thread::sleep(span);
    let after: Vec<Vec<(String, u64)>> = procs
        .iter()
        .map(|p| thread_ticks(p.pid))
        .collect::<anyhow::Result<_>>()?;
    let secs = t0.elapsed().as_secs_f64();
    // Ticks are USER_HZ (100 a second): ticks per second is percent.
    let pct = |ticks: u64| ticks as f64 / secs;
    let mut total = 0;
    let mut by_role: Vec<(&str, u64)> = Vec::new();
    for ((p, b), a) in procs.iter().zip(&before).zip(&after) {
        let mut threads: Vec<(String, u64)> = a
            .iter()
            .map(|(name, t)| {
                let was: u64 = b.iter().filter(|(n, _)| n == name).map(|(_, t)| *t).sum();
                (name.clone(), t.saturating_sub(was))
            })
            .collect();
        let sum: u64 = threads.iter().map(|(_, t)| t).sum();
        total += sum;
        match by_role.iter_mut().find(|(r, _)| *r == p.role) {
            Some((_, t)) => *t += sum,
            None => by_role.push((p.role, sum)),
        }
        threads.sort_by_key(|t| std::cmp::Reverse(t.1));
        let busy: Vec<String> = threads
            .iter()
            .filter(|(_, t)| *t > 0)
            .take(4)
            .map(|(n, t)| format!("{n} {:.1}%", pct(*t)))
            .collect();
        detail.push(format!(
            "  idle {} {} (pid {}): {:.1}% [{}]",
            p.node,
            p.role,
            p.pid,
            pct(sum),
            busy.join(", ")
        ));
    }
    let roles: Vec<String> = by_role
        .iter()
        .map(|(r, t)| format!("{r} {:.1}", pct(*t)))
        .collect();
    Ok(format!(
        "{:.1}% of a core ({})",
        pct(total),
        roles.join(" + ")
    ))
}

/// CPU ticks (user + system) of each thread of `pid` so far, summed by
/// thread name (threads of one name, such as a runtime's workers, are
/// one entry; threads that ended are not counted).
pub fn thread_ticks(pid: u32) -> anyhow::Result<Vec<(String, u64)>> {
    let mut v: Vec<(String, u64)> = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("process {pid} is gone"))?;
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, r)| r.rsplit_once(')'))
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        let ticks = super::switch::stat_ticks(&stat);
        match v.iter_mut().find(|(n, _)| *n == name) {
            Some((_, t)) => *t += ticks,
            None => v.push((name, ticks)),
        }
    }
    Ok(v)
}

fn load_average() -> anyhow::Result<String> {
    let s = std::fs::read_to_string("/proc/loadavg")?;
    let one = s.split_whitespace().next().context("/proc/loadavg")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(format!("{one} on {cores} cores"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_output_gives_sorted_rtts_and_percentiles() {
        let out = "64 bytes from 198.18.10.12: icmp_seq=1 ttl=64 time=0.310 ms\n\
                   64 bytes from 198.18.10.12: icmp_seq=2 ttl=64 time=0.120 ms\n\
                   64 bytes from 198.18.10.12: icmp_seq=3 ttl=64 time=1.50 ms\n\
                   --- 198.18.10.12 ping statistics ---\n\
                   rtt min/avg/max/mdev = 0.120/0.643/1.500/0.6 ms\n";
        let v = rtts(out);
        assert_eq!(v, vec![0.120, 0.310, 1.50]);
        assert_eq!(percentile(&v, 50.0), 0.310);
        assert_eq!(percentile(&v, 99.0), 1.50);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50.0), 50.0);
        assert_eq!(percentile(&hundred, 99.0), 99.0);
    }

    #[test]
    fn own_threads_are_counted() {
        let t = thread_ticks(std::process::id()).unwrap();
        assert!(!t.is_empty());
    }
}
