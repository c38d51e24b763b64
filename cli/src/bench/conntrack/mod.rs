//! `ferrovs bench --conntrack`: the connection tracker of ferrovs and of
//! Open vSwitch's userspace datapath, side by side, on the same two-host
//! veth topology ([`super::topology`]) and the same Neutron-style
//! stateful firewall ([`firewall`]). For each contender in turn: new TCP
//! connections per second ([`conn_rate`]), 64-byte UDP packets per second
//! through an established connection ([`est_pps`]), and resident memory
//! per connection with a million connections tracked ([`fill`]). One
//! table of medians and ferrovs/OVS ratios is printed and written to
//! `conntrack.md` and `conntrack.json` in `--out`.

mod conn_rate;
mod est_pps;
mod fill;
mod firewall;
mod losses;

use std::path::Path;

use super::contenders::Contender;
use super::measure::cpu::SplitWindow;
use super::progress::Progress;
use super::topology::Topology;

/// The contenders `--conntrack` compares when none are named.
pub const DEFAULT: [Contender; 2] = [Contender::FerrovsAfPacket, Contender::OvsAfPacket];

#[derive(Clone, Copy, PartialEq)]
enum Figure {
    ConnRate,
    EstPps,
    BytesPerConn,
}

impl Figure {
    const ALL: [Figure; 3] = [Figure::ConnRate, Figure::EstPps, Figure::BytesPerConn];
    fn label(self) -> &'static str {
        match self {
            Figure::ConnRate => "new TCP connections/s",
            Figure::EstPps => "established UDP, 64 B, kpps",
            Figure::BytesPerConn => "bytes per connection at 1M",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Figure::ConnRate => "conn_per_s",
            Figure::EstPps => "established_kpps",
            Figure::BytesPerConn => "bytes_per_conn_1m",
        }
    }
    /// Whether more is better (the ratio is ferrovs/OVS) or less (OVS/ferrovs).
    fn higher_is_better(self) -> bool {
        self != Figure::BytesPerConn
    }
}

struct Column {
    contender: Contender,
    figures: Vec<(Figure, Result<f64, String>)>,
    notes: Vec<String>,
}

impl Column {
    fn get(&self, f: Figure) -> Option<f64> {
        self.figures
            .iter()
            .find(|(g, _)| *g == f)
            .and_then(|(_, v)| v.as_ref().ok().copied())
    }
}

pub fn run(
    chosen: &[Contender],
    bin_dir: &Path,
    secs: u64,
    out: &Path,
    machine: impl Fn() -> String,
) -> anyhow::Result<()> {
    let known = |c: &&Contender| c.is_ferrovs() || c.is_ovs() || **c == Contender::LinuxBridge;
    if let Some(c) = chosen.iter().find(|c| !known(c)) {
        anyhow::bail!(
            "--conntrack compares OpenFlow switches; {} has no ct action",
            c.name()
        );
    }
    std::fs::create_dir_all(out)?;
    let _guard = super::cleanup::install()?;
    let progress = Progress::start();
    progress.step("building the topology");
    let topo = Topology::build()?;
    let mut cols = Vec::new();
    for (i, &c) in chosen.iter().enumerate() {
        let tag = format!("[{}/{}] {} conntrack", i + 1, chosen.len(), c.name());
        cols.push(measure_contender(c, &topo, bin_dir, secs, &tag, &progress));
    }
    drop(topo);
    progress.done();
    let text = table(&cols, secs, &machine());
    print!("{text}");
    std::fs::write(out.join("conntrack.md"), &text)?;
    let js: serde_json::Map<String, serde_json::Value> = cols
        .iter()
        .map(|c| {
            let mut m = serde_json::Map::new();
            for (f, v) in &c.figures {
                let v = match v {
                    Ok(x) => serde_json::json!(x),
                    Err(e) => serde_json::json!({ "error": e }),
                };
                m.insert(f.key().into(), v);
            }
            m.insert("notes".into(), serde_json::json!(c.notes));
            (c.contender.name().to_string(), serde_json::Value::Object(m))
        })
        .collect();
    std::fs::write(
        out.join("conntrack.json"),
        serde_json::to_string_pretty(&serde_json::Value::Object(js))? + "\n",
    )?;
    println!("written: {}/conntrack.md, conntrack.json", out.display());
    Ok(())
}

fn measure_contender(
    c: Contender,
    t: &Topology,
    bin_dir: &Path,
    secs: u64,
    tag: &str,
    progress: &Progress,
) -> Column {
    let mut col = Column {
        contender: c,
        figures: Vec::new(),
        notes: vec![c.config().to_string()],
    };
    progress.step(format!("{tag}: starting"));
    if c == Contender::LinuxBridge {
        ceiling(&mut col, t, bin_dir, secs, tag, progress);
        return col;
    }
    let started = c.start(t, bin_dir).and_then(|sw| {
        let dir = sw.dir().map(Path::to_path_buf);
        let dir = dir.ok_or_else(|| anyhow::anyhow!("no run directory"))?;
        firewall::install(&dir)?;
        t.wait_connected(20)?;
        Ok((sw, dir))
    });
    let (sw, dir) = match started {
        Ok(s) => s,
        Err(e) => {
            for f in Figure::ALL {
                col.figures.push((f, Err(format!("{e:#}"))));
            }
            return col;
        }
    };
    progress.step(format!("{tag}: new TCP connections"));
    let before = losses::snapshot(t, Some(&dir), c.is_ferrovs());
    let cpu = CpuSplit::start(sw.switch_pid);
    let r = conn_rate::measure(t, secs).map(|r| {
        col.notes
            .push(format!("TCP: {} connection attempts failed", r.failed));
        col.notes.extend(cpu.note(r.completed));
        r.per_sec
    });
    col.notes.push(losses::note(
        &before,
        &losses::snapshot(t, Some(&dir), c.is_ferrovs()),
    ));
    col.figures
        .push((Figure::ConnRate, r.map_err(|e| format!("{e:#}"))));
    let _ = firewall::appctl(&dir, &["dpctl/flush-conntrack"]);
    progress.step(format!("{tag}: established UDP"));
    let r = est_pps::measure(t, secs).map(|p| p / 1e3);
    col.figures
        .push((Figure::EstPps, r.map_err(|e| format!("{e:#}"))));
    progress.step(format!("{tag}: 1M connections"));
    let r = match sw.switch_pid {
        Some(pid) => fill::measure(t, &dir, pid).map(|f| {
            col.notes.push(format!(
                "fill: {} connections, switch RSS {:.0} MiB",
                f.conns, f.rss_mib
            ));
            f.bytes_per_conn
        }),
        None => Err(anyhow::anyhow!("no switch process")),
    };
    col.figures
        .push((Figure::BytesPerConn, r.map_err(|e| format!("{e:#}"))));
    drop(sw);
    col
}

/// The kernel bridge without a firewall: the connection rate and packet
/// rate the hosts and the load generators reach when the switch costs
/// almost nothing (the ceiling no switch's figure can pass).
fn ceiling(
    col: &mut Column,
    t: &Topology,
    bin_dir: &Path,
    secs: u64,
    tag: &str,
    progress: &Progress,
) {
    col.notes
        .push("no firewall (no ct): the hosts' and load generators' ceiling".into());
    let sw = match c_start(col.contender, t, bin_dir) {
        Ok(sw) => sw,
        Err(e) => {
            for f in Figure::ALL {
                col.figures.push((f, Err(format!("{e:#}"))));
            }
            return;
        }
    };
    progress.step(format!("{tag}: new TCP connections"));
    let before = losses::snapshot(t, None, false);
    let cpu = CpuSplit::start(None);
    let r = conn_rate::measure(t, secs).map(|r| {
        col.notes
            .push(format!("TCP: {} connection attempts failed", r.failed));
        col.notes.extend(cpu.note(r.completed));
        r.per_sec
    });
    col.notes
        .push(losses::note(&before, &losses::snapshot(t, None, false)));
    col.figures
        .push((Figure::ConnRate, r.map_err(|e| format!("{e:#}"))));
    progress.step(format!("{tag}: established UDP"));
    let r = est_pps::measure(t, secs).map(|p| p / 1e3);
    col.figures
        .push((Figure::EstPps, r.map_err(|e| format!("{e:#}"))));
    drop(sw);
}

/// CPU spent during the connection-rate figure by the switch process
/// (its own code as user time; as system time its AF_PACKET calls and
/// what a veth transmit runs inline: the receiving host's TCP stack) and
/// by this process, whose threads are the hosts' clients and listener
/// (with the kernel bridge, the bridge's forwarding too).
struct CpuSplit {
    switch: Option<SplitWindow>,
    hosts: Option<SplitWindow>,
}

impl CpuSplit {
    fn start(switch_pid: Option<u32>) -> CpuSplit {
        CpuSplit {
            switch: switch_pid.and_then(|p| SplitWindow::start(p).ok()),
            hosts: SplitWindow::start(std::process::id()).ok(),
        }
    }

    /// One note: microseconds of CPU per connection completed.
    fn note(&self, conns: u64) -> Option<String> {
        let per = |s: f64| 1e6 * s / conns.max(1) as f64;
        let (hu, hs) = self.hosts.as_ref()?.secs().ok()?;
        let mut n = format!(
            "CPU per connection: hosts (load generator) {:.1} µs user + {:.1} µs kernel",
            per(hu),
            per(hs)
        );
        if let Some((su, ss)) = self.switch.as_ref().and_then(|w| w.secs().ok()) {
            n.push_str(&format!(
                ", switch process {:.1} µs user + {:.1} µs kernel",
                per(su),
                per(ss)
            ));
        }
        Some(n)
    }
}

fn c_start(
    c: Contender,
    t: &Topology,
    bin_dir: &Path,
) -> anyhow::Result<super::contenders::Running> {
    let sw = c.start(t, bin_dir)?;
    t.wait_connected(20)?;
    Ok(sw)
}

/// The markdown table: one row per figure, one column per contender,
/// and the ratio of the first ferrovs column to the first OVS column.
fn table(cols: &[Column], secs: u64, machine: &str) -> String {
    let fv = cols.iter().find(|c| c.contender.is_ferrovs());
    let ovs = cols.iter().find(|c| c.contender.is_ovs());
    let mut s = format!(
        "conntrack, Neutron-style stateful firewall (ct zone from reg6, commit +new, pass +est/+rel), medians of 1 s samples over {secs} s\n{machine}\n\n| figure |"
    );
    for c in cols {
        s.push_str(&format!(" {} |", c.contender.name()));
    }
    s.push_str(" ferrovs vs OVS |\n|---|");
    for _ in cols {
        s.push_str("---:|");
    }
    s.push_str("---:|\n");
    for f in Figure::ALL {
        s.push_str(&format!("| {} |", f.label()));
        for c in cols {
            let v = c.figures.iter().find(|(g, _)| *g == f).map(|(_, v)| v);
            match v {
                Some(Ok(x)) if f == Figure::EstPps => s.push_str(&format!(" {x:.1} |")),
                Some(Ok(x)) => s.push_str(&format!(" {x:.0} |")),
                Some(Err(_)) => s.push_str(" failed |"),
                None => s.push_str(" - |"),
            }
        }
        let ratio = match (fv.and_then(|c| c.get(f)), ovs.and_then(|c| c.get(f))) {
            (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
                let r = if f.higher_is_better() { a / b } else { b / a };
                format!("{r:.2}x")
            }
            _ => "-".into(),
        };
        s.push_str(&format!(" {ratio} |\n"));
    }
    s.push('\n');
    for c in cols {
        for n in &c.notes {
            s.push_str(&format!("- {}: {n}\n", c.contender.name()));
        }
        for (f, v) in &c.figures {
            if let Err(e) = v {
                s.push_str(&format!(
                    "- {}: {} failed: {e}\n",
                    c.contender.name(),
                    f.label()
                ));
            }
        }
    }
    s
}
