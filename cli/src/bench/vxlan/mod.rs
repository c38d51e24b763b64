//! `ferrovs bench --vxlan`: two VMs on two hypervisors over a VXLAN
//! overlay ([`topology`]), each contender building both hypervisors
//! ([`hypervisor`]): ferrovs, the kernel (vxlan device + Linux bridge) and
//! OVS 3.1's userspace datapath. For each in turn it takes [`REPS`] times
//! the same figures as the single-host bench ([`super::measure`]): iperf3
//! TCP between the VMs and 64-byte UDP packets per second, with both
//! switches' CPU during the UDP window, and how long the switches' threads
//! ran and waited for a CPU during each TCP window ([`sched`]). One table of medians (with the
//! spread of the repetitions) and ferrovs/kernel, ferrovs/OVS ratios is
//! printed and written to `vxlan.md` and `vxlan.json` in `--out`.

mod hypervisor;
mod sched;
mod topology;

use std::path::Path;

use serde_json::json;

use super::contenders::{Contender, Running};
use super::measure::{self, cpu::CpuWindow};
use super::progress::Progress;
use topology::Overlay;

/// The contenders `--vxlan` compares when none are named.
pub const DEFAULT: [Contender; 3] = [
    Contender::LinuxBridge,
    Contender::FerrovsAfPacket,
    Contender::OvsAfPacket,
];

/// Repetitions of each figure (the table shows their median).
pub const REPS: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Figure {
    Tcp,
    Udp,
    Cpu,
}

impl Figure {
    const ALL: [Figure; 3] = [Figure::Tcp, Figure::Udp, Figure::Cpu];
    fn label(self) -> &'static str {
        match self {
            Figure::Tcp => "TCP VM to VM (Gbit/s)",
            Figure::Udp => "64-byte UDP delivered (kpps)",
            Figure::Cpu => "switch CPU under UDP, both hv (% core)",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Figure::Tcp => "tcp_gbit_s",
            Figure::Udp => "udp_64b_kpps",
            Figure::Cpu => "cpu_udp_pct",
        }
    }
    fn format(self, v: f64) -> String {
        match self {
            Figure::Tcp => format!("{v:.2}"),
            _ => format!("{v:.0}"),
        }
    }
}

struct Column {
    contender: Contender,
    /// Every repetition's value (failed ones left out) and the failures.
    samples: Vec<(Figure, Vec<f64>)>,
    errors: Vec<String>,
    notes: Vec<String>,
}

impl Column {
    fn samples(&self, f: Figure) -> &[f64] {
        self.samples
            .iter()
            .find(|(g, _)| *g == f)
            .map_or(&[], |(_, v)| v)
    }
    fn median(&self, f: Figure) -> Option<f64> {
        measure::median(self.samples(f))
    }
    fn push(&mut self, f: Figure, v: f64) {
        match self.samples.iter_mut().find(|(g, _)| *g == f) {
            Some((_, s)) => s.push(v),
            None => self.samples.push((f, vec![v])),
        }
    }
}

fn config(c: Contender) -> &'static str {
    match c {
        Contender::LinuxBridge => "kernel vxlan device + Linux bridge per hypervisor, default offloads",
        Contender::FerrovsAfPacket => {
            "ferrovs, br-int (VM port type=system + vxlan port) and br-phy (underlay, type=system), tnl_push/tnl_pop, default offloads"
        }
        Contender::FerrovsAfXdp => "ferrovs, the same bridges with type=afxdp ports (VM and underlay), default offloads",
        Contender::OvsAfPacket => {
            "OVS 3.1 netdev datapath, same bridges, VM veth offloads off (ethtool -K tx/rx/tso/gso off)"
        }
        Contender::OvsAfPacketTso => {
            "OVS 3.1 netdev datapath, same bridges, userspace-tso-enable=true, default offloads"
        }
        _ => "",
    }
}

pub fn run(
    chosen: &[Contender],
    bin_dir: &Path,
    secs: u64,
    out: &Path,
    machine: impl Fn() -> String,
) -> anyhow::Result<()> {
    if let Some(c) = chosen.iter().find(|c| config(**c).is_empty()) {
        anyhow::bail!(
            "--vxlan compares linux-bridge, ferrovs-afpacket, ferrovs-afxdp, ovs-afpacket and ovs-afpacket-tso, not {}",
            c.name()
        );
    }
    std::fs::create_dir_all(out)?;
    let _guard = super::cleanup::install()?;
    let progress = Progress::start();
    progress.step("building the overlay topology (2 VMs, 2 hypervisors)");
    let o = Overlay::build()?;
    let mut cols = Vec::new();
    for (i, &c) in chosen.iter().enumerate() {
        let tag = format!("[{}/{}] vxlan {}", i + 1, chosen.len(), c.name());
        cols.push(measure_contender(
            c, &o, bin_dir, secs, &tag, &progress, out,
        ));
    }
    drop(o);
    progress.done();
    let (text, md, js) = tables(&cols, secs, &machine());
    std::fs::write(out.join("vxlan.md"), md)?;
    std::fs::write(
        out.join("vxlan.json"),
        serde_json::to_string_pretty(&js)? + "\n",
    )?;
    print!("{text}");
    println!("written: {}/vxlan.md, vxlan.json", out.display());
    Ok(())
}

fn measure_contender(
    c: Contender,
    o: &Overlay,
    bin_dir: &Path,
    secs: u64,
    tag: &str,
    progress: &Progress,
    out: &Path,
) -> Column {
    let mut col = Column {
        contender: c,
        samples: Vec::new(),
        errors: Vec::new(),
        notes: Vec::new(),
    };
    progress.step(format!("{tag}: starting both hypervisors"));
    let mut hvs: Vec<Running> = Vec::new();
    for (i, hv) in ["hv1", "hv2"].into_iter().enumerate() {
        match hypervisor::start(c, &o.side(i), hv, bin_dir) {
            Ok(r) => hvs.push(r),
            Err(e) => {
                col.errors.push(format!("start {hv}: {e:#}"));
                finish(c, o, hvs, out);
                return col;
            }
        }
    }
    if c == Contender::OvsAfPacket {
        let t = &o.vms;
        for (r, (ns, dev)) in hvs.iter_mut().zip([(&t.h1, &t.h1_dev), (&t.h2, &t.h2_dev)]) {
            if let Err(e) = hypervisor::vm_offloads_off(r, ns, dev) {
                col.errors.push(format!("offloads off: {e:#}"));
            }
        }
    }
    if let Err(e) = o.vms.wait_connected(30) {
        col.errors.push(format!("{e:#}"));
        finish(c, o, hvs, out);
        return col;
    }
    let pids: Vec<u32> = hvs.iter().filter_map(|r| r.switch_pid).collect();
    let mut retrans = Vec::new();
    for rep in 1..=REPS {
        progress.step(format!("{tag}: iperf3 TCP ({rep}/{REPS})"));
        let sw = (!pids.is_empty()).then(|| sched::SchedWindow::start(&pids).ok());
        match measure::iperf::measure(&o.vms, secs) {
            Ok(f) => {
                col.push(Figure::Tcp, f.gbit_s);
                retrans.push(f.retransmits.to_string());
            }
            Err(e) => col.errors.push(format!("TCP: {e:#}")),
        }
        if let Some(Ok(s)) = sw.flatten().map(|w| w.summary(&["hv1", "hv2"])) {
            col.notes
                .push(format!("TCP run {rep}, switch processes: {s}"));
        }
        progress.step(format!("{tag}: 64-byte UDP ({rep}/{REPS})"));
        let windows: Vec<_> = pids
            .iter()
            .filter_map(|&p| CpuWindow::start(p).ok())
            .collect();
        match measure::udp_pps::measure(&o.vms, secs) {
            Ok(f) => col.push(Figure::Udp, f.pps / 1e3),
            Err(e) => col.errors.push(format!("UDP: {e:#}")),
        }
        if !pids.is_empty() && windows.len() == pids.len() {
            let sum: anyhow::Result<f64> = windows.iter().map(|w| w.percent()).sum();
            match sum {
                Ok(p) => col.push(Figure::Cpu, p),
                Err(e) => col.errors.push(format!("CPU: {e:#}")),
            }
        }
    }
    if !retrans.is_empty() {
        col.notes
            .push(format!("TCP retransmits per run: {}", retrans.join(", ")));
    }
    finish(c, o, hvs, out);
    col
}

/// Keeps the daemons' logs, stops both hypervisors' switches and, for the
/// kernel, removes its vxlan devices and underlay addresses.
fn finish(c: Contender, o: &Overlay, hvs: Vec<Running>, out: &Path) {
    for (r, hv) in hvs.iter().zip(["hv1", "hv2"]) {
        let _ = r.keep_logs(&out.join("logs").join(format!("vxlan-{}-{hv}", c.name())));
    }
    drop(hvs);
    if c == Contender::LinuxBridge {
        for i in 0..2 {
            let s = o.side(i);
            let _ = o.exec(s.ns, &["ip", "link", "del", "vx0"]);
            let _ = o.exec(s.ns, &["ip", "addr", "flush", "dev", s.underlay]);
        }
    }
}

/// The table as text (stdout), markdown and JSON.
fn tables(cols: &[Column], secs: u64, machine: &str) -> (String, String, serde_json::Value) {
    let best = |f: Figure, pick: &dyn Fn(Contender) -> bool| {
        cols.iter()
            .filter(|c| pick(c.contender))
            .filter_map(|c| c.median(f))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
    };
    let ratio = |f: Figure, other: &dyn Fn(Contender) -> bool| {
        let fv = best(f, &Contender::is_ferrovs)?;
        let o = best(f, other)?;
        (o != 0.0).then(|| fv / o)
    };
    let kernel = |c: Contender| c == Contender::LinuxBridge;
    let mut head = vec!["figure (median)".to_string()];
    head.extend(cols.iter().map(|c| c.contender.name().to_string()));
    head.extend(["ferrovs/kernel", "ferrovs/OVS"].map(String::from));
    let r = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.2}x"));
    let mut rows = Vec::new();
    let mut js_ratios = serde_json::Map::new();
    for f in Figure::ALL {
        let mut row = vec![f.label().to_string()];
        for c in cols {
            let s = c.samples(f);
            row.push(match c.median(f) {
                Some(m) => {
                    let lo = s.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    format!("{} [{}-{}]", f.format(m), f.format(lo), f.format(hi))
                }
                None => "-".into(),
            });
        }
        let (rk, ro) = if f == Figure::Cpu {
            (None, None)
        } else {
            (ratio(f, &kernel), ratio(f, &Contender::is_ovs))
        };
        row.push(r(rk));
        row.push(r(ro));
        js_ratios.insert(
            f.key().into(),
            json!({"ferrovs_over_kernel": rk, "ferrovs_over_ovs": ro}),
        );
        rows.push(row);
    }
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: &[String]| {
        let mut s = format!("{:<width$}", cells[0], width = w[0]);
        for (i, c) in cells.iter().enumerate().skip(1) {
            s.push_str(&format!("  {c:>width$}", width = w[i]));
        }
        s.trim_end().to_string() + "\n"
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let intro = format!(
        "`{command}`\nVXLAN overlay, VM to VM across two hypervisors; {REPS} runs of {secs} s per figure, median [min-max]; {machine}\n\
         target (issue 15): TCP >= 0.8x kernel and ahead of OVS\n"
    );
    let mut notes = Vec::new();
    for c in cols {
        notes.push(format!("{}: {}", c.contender.name(), config(c.contender)));
        for e in c.errors.iter().chain(&c.notes) {
            notes.push(format!("{}: {e}", c.contender.name()));
        }
    }
    let mut text = intro.replace('`', "") + "\n" + &line(&head);
    text.push_str(&"-".repeat(w.iter().sum::<usize>() + 2 * (w.len() - 1)));
    text.push('\n');
    let mut md = format!(
        "# ferrovs bench --vxlan\n\n{intro}\n| {} |\n|---|",
        head.join(" | ")
    );
    md.push_str(&"---:|".repeat(head.len() - 1));
    md.push('\n');
    for row in &rows {
        text.push_str(&line(row));
        md.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    text.push('\n');
    md.push('\n');
    for n in &notes {
        text.push_str(n);
        text.push('\n');
        md.push_str(&format!("- {n}\n"));
    }
    let js = json!({
        "command": command,
        "duration_s": secs,
        "repetitions": REPS,
        "machine": machine,
        "contenders": cols.iter().map(|c| json!({
            "name": c.contender.name(),
            "config": config(c.contender),
            "samples": c.samples.iter().map(|(f, s)| (f.key().to_string(), json!(s))).collect::<serde_json::Map<_, _>>(),
            "errors": c.errors,
            "notes": c.notes,
        })).collect::<Vec<_>>(),
        "ratios": js_ratios,
    });
    (text, md, js)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(c: Contender, tcp: &[f64], udp: &[f64], err: Option<&str>) -> Column {
        Column {
            contender: c,
            samples: vec![(Figure::Tcp, tcp.to_vec()), (Figure::Udp, udp.to_vec())],
            errors: err.map(String::from).into_iter().collect(),
            notes: vec![],
        }
    }

    #[test]
    fn table_shows_median_spread_and_ratios_to_kernel_and_ovs() {
        let cols = [
            col(Contender::LinuxBridge, &[4.0, 3.0, 5.0], &[100.0], None),
            col(Contender::FerrovsAfPacket, &[2.0, 3.0, 4.0], &[150.0], None),
            col(Contender::OvsAfPacket, &[1.0], &[], Some("UDP: stalled")),
        ];
        let (text, md, js) = tables(&cols, 2, "m");
        assert!(text.contains("3.00 [2.00-4.00]"), "{text}");
        assert_eq!(
            js["ratios"]["tcp_gbit_s"]["ferrovs_over_kernel"],
            json!(0.75)
        );
        assert_eq!(js["ratios"]["tcp_gbit_s"]["ferrovs_over_ovs"], json!(3.0));
        assert_eq!(
            js["ratios"]["udp_64b_kpps"]["ferrovs_over_kernel"],
            json!(1.5)
        );
        assert!(js["ratios"]["udp_64b_kpps"]["ferrovs_over_ovs"].is_null());
        assert!(text.contains("ovs-afpacket: UDP: stalled"), "{text}");
        assert!(md.contains("| TCP VM to VM (Gbit/s) | 4.00 [3.00-5.00] | 3.00 [2.00-4.00] | 1.00 [1.00-1.00] | 0.75x | 3.00x |"), "{md}");
    }
}
