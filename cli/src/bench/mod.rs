//! `ferrovs bench`: ferrovs measured against Open vSwitch and the Linux
//! bridge, on this machine, in one run.
//!
//! It builds one two-host veth topology ([`topology`]), then starts each
//! contender in turn on it ([`contenders`]) and takes the same figures
//! ([`measure`]): ping latency, iperf3 TCP throughput, 64-byte UDP packets
//! per second, and the switch's CPU loaded and idle. It prints one table of
//! medians and ratios and writes `results.md`, `results.json` and
//! `chart.png` to `--out` ([`report`], [`chart`]). Everything it makes is
//! on the cleanup list ([`cleanup`]) and removed at the end, on error and on
//! Ctrl-C/SIGTERM. `--datapath` takes the in-memory datapath figures
//! instead ([`datapath`]), with no interface and no privilege.

mod chart;
mod cleanup;
mod conntrack;
mod contenders;
mod datapath;
mod glyphs;
mod measure;
mod progress;
mod report;
mod topology;
mod vxlan;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use contenders::{Contender, ALL};
use measure::cpu::CpuWindow;
use progress::Progress;
use report::{Column, Metric, Report};
use topology::Topology;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated contenders: linux-bridge, ferrovs-afpacket,
    /// ferrovs-afxdp, ovs-afpacket, ovs-afxdp (the default set), and
    /// ovs-afpacket-tso (OVS's userspace TSO instead of offloads off).
    #[arg(long, value_delimiter = ',')]
    pub contenders: Vec<String>,
    /// Seconds per figure (ping, TCP, UDP, idle CPU).
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    /// Results folder (results.md, results.json, chart.png, the daemons'
    /// logs under logs/).
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// In-memory datapath figures only (EMC hit, megaflow hit, upcall
    /// install), without interfaces.
    #[arg(long)]
    pub datapath: bool,
    /// VXLAN overlay figures instead (TCP and 64-byte UDP between two
    /// VMs on two hypervisors); contenders default to linux-bridge
    /// (kernel vxlan), ferrovs-afpacket and ovs-afpacket.
    #[arg(long)]
    pub vxlan: bool,
    /// Connection tracker figures instead (new TCP connections/s,
    /// established-flow pps, memory per connection at 1M) through a
    /// stateful firewall; contenders default to ferrovs-afpacket and
    /// ovs-afpacket.
    #[arg(long)]
    pub conntrack: bool,
    /// Folder of ferrovs-vswitchd and ferrovs-ovsdb-server (default: the
    /// folder of this executable).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// `other_config:pmd-cpu-mask` for the ferrovs contenders (one PMD
    /// thread per CPU of the mask; default: ferrovs's default, one PMD).
    #[arg(long)]
    pub pmd_cpu_mask: Option<String>,
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    let duration = a.duration.max(1);
    if a.datapath {
        return run_datapath(duration, &a.out);
    }
    let mut chosen: Vec<Contender> = if a.contenders.is_empty() && a.vxlan {
        vxlan::DEFAULT.to_vec()
    } else if a.contenders.is_empty() && a.conntrack {
        conntrack::DEFAULT.to_vec()
    } else if a.contenders.is_empty() {
        ALL.to_vec()
    } else {
        a.contenders
            .iter()
            .map(|s| Contender::parse(s.trim()))
            .collect::<anyhow::Result<_>>()?
    };
    // OVS's contenders turn the host offloads off: they run last.
    chosen.sort();
    chosen.dedup();
    let bin_dir = match a.bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("executable has no folder")?
            .to_path_buf(),
    };
    let bin_dir = bin_dir
        .canonicalize()
        .with_context(|| format!("binaries folder {}", bin_dir.display()))?;
    preflight(&chosen, &bin_dir)?;
    if a.vxlan {
        return vxlan::run(&chosen, &bin_dir, duration, &a.out, machine);
    }
    if a.conntrack {
        return conntrack::run(&chosen, &bin_dir, duration, &a.out, machine);
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("create {}", a.out.display()))?;

    let _guard = cleanup::install()?;
    let progress = Progress::start();
    let started_utc = now_utc();
    progress.step("building the topology");
    let topo = Topology::build()?;
    let mut columns = Vec::new();
    for (i, &c) in chosen.iter().enumerate() {
        let tag = format!("[{}/{}] {}", i + 1, chosen.len(), c.name());
        let logs = a.out.join("logs").join(c.name());
        columns.push(measure_contender(
            c,
            &topo,
            &bin_dir,
            duration,
            &tag,
            &progress,
            &logs,
            a.pmd_cpu_mask.as_deref(),
        ));
    }
    drop(topo);
    progress.done();

    let report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        duration_s: duration,
        started_utc,
        machine: machine(),
        columns,
    };
    std::fs::write(a.out.join("results.md"), report.markdown())?;
    std::fs::write(
        a.out.join("results.json"),
        serde_json::to_string_pretty(&report.json())? + "\n",
    )?;
    chart::write(&report, &a.out.join("chart.png"))?;
    print!("{}", report.text());
    println!(
        "written: {}/results.md, results.json, chart.png",
        a.out.display()
    );
    Ok(())
}

/// Starts `c` and takes every figure; a figure that fails is recorded as
/// failed and the next is still taken. `pmd_mask` applies to ferrovs.
#[allow(clippy::too_many_arguments)]
fn measure_contender(
    c: Contender,
    t: &Topology,
    bin_dir: &std::path::Path,
    secs: u64,
    tag: &str,
    progress: &Progress,
    logs: &std::path::Path,
    pmd_mask: Option<&str>,
) -> Column {
    let mut col = Column {
        contender: c,
        config: c.config().to_string(),
        figures: Vec::new(),
        notes: Vec::new(),
    };
    let metrics: &[Metric] = if c == Contender::LinuxBridge {
        &[
            Metric::TcpGbit,
            Metric::UdpKpps,
            Metric::PingMedian,
            Metric::PingP99,
        ]
    } else {
        &report::METRICS
    };
    let fail_all = |col: &mut Column, e: anyhow::Error| {
        for &m in metrics {
            col.figures.push((m, Err(format!("{e:#}"))));
        }
    };
    progress.step(format!("{tag}: starting"));
    let sw = match c.start(t, bin_dir) {
        Ok(s) => s,
        Err(e) => {
            fail_all(&mut col, e.context("start"));
            return col;
        }
    };
    if let (Some(m), Some(dir), true) = (pmd_mask, sw.dir(), c.is_ferrovs()) {
        let set = format!("other_config:pmd-cpu-mask={m}");
        if let Err(e) = contenders::vsctl(dir, &["set", "Open_vSwitch", ".", &set]) {
            fail_all(&mut col, e.context("pmd-cpu-mask"));
            return col;
        }
        col.notes.push(format!("pmd-cpu-mask={m}"));
    }
    if let Err(e) = t.wait_connected(20) {
        fail_all(&mut col, e);
        let _ = sw.keep_logs(logs);
        return col;
    }
    if let Ok(o) = topology::offload_summary(&t.h1, &t.h1_dev) {
        col.notes.push(format!("host veth offloads: {o}"));
    }
    let cpu = |pid: Option<u32>| pid.map(CpuWindow::start);

    progress.step(format!("{tag}: ping latency"));
    match measure::ping::measure(t, secs) {
        Ok(p) => {
            col.figures.push((Metric::PingMedian, Ok(p.median_us)));
            col.figures.push((Metric::PingP99, Ok(p.p99_us)));
            let dups = if p.duplicates > 0 {
                format!(", {} duplicate replies", p.duplicates)
            } else {
                String::new()
            };
            col.notes
                .push(format!("ping: {} of {} answered{dups}", p.received, p.sent));
        }
        Err(e) => {
            col.figures
                .push((Metric::PingMedian, Err(format!("{e:#}"))));
            col.figures.push((Metric::PingP99, Err(format!("{e:#}"))));
        }
    }

    progress.step(format!("{tag}: iperf3 TCP"));
    let w = cpu(sw.switch_pid);
    match measure::iperf::measure(t, secs) {
        Ok(f) => {
            col.figures.push((Metric::TcpGbit, Ok(f.gbit_s)));
            let during = w.and_then(|w| w.ok()).and_then(|w| w.percent().ok());
            let cpu_note = during.map_or(String::new(), |p| format!(", switch CPU {p:.0}%"));
            col.notes
                .push(format!("TCP: {} retransmits{cpu_note}", f.retransmits));
        }
        Err(e) => col.figures.push((Metric::TcpGbit, Err(format!("{e:#}")))),
    }

    progress.step(format!("{tag}: 64-byte UDP"));
    let w = cpu(sw.switch_pid);
    match measure::udp_pps::measure(t, secs) {
        Ok(f) => {
            col.figures.push((Metric::UdpKpps, Ok(f.pps / 1e3)));
            col.notes
                .push(format!("UDP: {:.0} kpps sent", f.sent_pps / 1e3));
        }
        Err(e) => col.figures.push((Metric::UdpKpps, Err(format!("{e:#}")))),
    }
    if let Some(w) = w {
        let loaded = w.and_then(|w| w.percent());
        col.figures
            .push((Metric::CpuLoaded, loaded.map_err(|e| format!("{e:#}"))));
    }

    if let Some(pid) = sw.switch_pid {
        progress.step(format!("{tag}: idle CPU"));
        std::thread::sleep(Duration::from_secs(1));
        let idle = CpuWindow::start(pid).and_then(|w| {
            std::thread::sleep(Duration::from_secs(secs));
            w.percent()
        });
        col.figures
            .push((Metric::CpuIdle, idle.map_err(|e| format!("{e:#}"))));
    }
    let modes = sw.xdp_modes();
    if !modes.is_empty() {
        col.notes.push(format!("XDP mode: {}", modes.join(", ")));
    }
    if let Err(e) = sw.keep_logs(logs) {
        col.notes.push(format!("logs not kept: {e:#}"));
    }
    drop(sw);
    col
}

/// Fails early, with what to install, when a tool or binary is missing.
fn preflight(chosen: &[Contender], bin_dir: &std::path::Path) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("ferrovs bench makes network namespaces: run it as root (or use --datapath)");
    }
    let mut tools = vec!["ip", "ping", "iperf3", "sysctl"];
    if chosen.iter().any(|c| c.is_ferrovs() || c.is_ovs()) {
        tools.push("ovs-vsctl");
    }
    if chosen.iter().any(|c| c.is_ovs()) {
        tools.extend(["ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ethtool"]);
    }
    for t in tools {
        if !on_path(t) {
            bail!("`{t}` not found: install it (Debian: iproute2, iputils-ping, iperf3, openvswitch-switch, ethtool)");
        }
    }
    if chosen.iter().any(|c| c.is_ferrovs()) {
        for b in ["ferrovs-vswitchd", "ferrovs-ovsdb-server"] {
            let p = bin_dir.join(b);
            if !p.is_file() {
                bail!(
                    "{} not found: build it (`cargo build --release -p ferrovs-vswitchd -p ferrovs-ovsdb`) or pass --bin-dir",
                    p.display()
                );
            }
        }
    }
    Ok(())
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .any(|d| d.join(tool).is_file())
}

fn command_line(argv: &[&str]) -> String {
    std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn now_utc() -> String {
    command_line(&["date", "-u", "+%Y-%m-%d %H:%M UTC"])
}

/// One line about the machine: cores, kernel, the OVS it compares with,
/// and the load average at the end (other work on the machine skews
/// every figure; this says how much there was).
fn machine() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{} CPU cores, Linux {}, {}, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        command_line(&["uname", "-r"]),
        command_line(&["ovs-vswitchd", "--version"]),
        load.join(" ")
    )
}

fn run_datapath(secs: u64, out: &std::path::Path) -> anyhow::Result<()> {
    let progress = Progress::start();
    progress.step("in-memory datapath: EMC hit, megaflow hit (8 masks), upcall install");
    let f = datapath::measure(Duration::from_secs(secs))?;
    progress.done();
    let rows = [
        ("EMC hit", "emc_hit_mpps", f.emc_hit_mpps),
        (
            "megaflow hit, 8 masks",
            "megaflow_hit_8_masks_mpps",
            f.megaflow_hit_8_masks_mpps,
        ),
        (
            "upcall + install",
            "upcall_install_mpps",
            f.upcall_install_mpps,
        ),
    ];
    println!(
        "in-memory datapath, one PMD inline, batches of 32 (median of 100 ms slices over {secs} s)"
    );
    let mut md = String::from("| case | Mpps (median) |\n|---|---:|\n");
    let mut js = serde_json::Map::new();
    for (label, key, v) in rows {
        println!("{label:<24} {v:>8.2} Mpps");
        md.push_str(&format!("| {label} | {v:.2} |\n"));
        js.insert(key.into(), serde_json::json!(v));
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("datapath.md"), md)?;
    std::fs::write(
        out.join("datapath.json"),
        serde_json::to_string_pretty(&serde_json::Value::Object(js))? + "\n",
    )?;
    println!("written: {}/datapath.md, datapath.json", out.display());
    Ok(())
}
