//! The results of one run and their three text forms: the table printed on
//! stdout, `results.md` and `results.json`.
//!
//! A [`Report`] holds one [`Column`] per contender, each with one outcome
//! per [`Metric`] (a median, or the reason it could not be taken). Ratios
//! compare the best ferrovs contender with the best OVS contender and with
//! the Linux bridge, "best" in the metric's own direction, and every
//! metric with a target from issue 13 says whether it is met.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::contenders::Contender;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    TcpGbit,
    UdpKpps,
    PingMedian,
    PingP99,
    CpuLoaded,
    CpuIdle,
}

pub const METRICS: [Metric; 6] = [
    Metric::TcpGbit,
    Metric::UdpKpps,
    Metric::PingMedian,
    Metric::PingP99,
    Metric::CpuLoaded,
    Metric::CpuIdle,
];

impl Metric {
    pub fn key(self) -> &'static str {
        match self {
            Metric::TcpGbit => "tcp_gbit_s",
            Metric::UdpKpps => "udp_64b_kpps",
            Metric::PingMedian => "ping_median_us",
            Metric::PingP99 => "ping_p99_us",
            Metric::CpuLoaded => "cpu_loaded_pct",
            Metric::CpuIdle => "cpu_idle_pct",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Metric::TcpGbit => "TCP throughput (Gbit/s)",
            Metric::UdpKpps => "64-byte UDP delivered (kpps)",
            Metric::PingMedian => "ping median (us)",
            Metric::PingP99 => "ping p99 (us)",
            Metric::CpuLoaded => "switch CPU loaded (% core)",
            Metric::CpuIdle => "switch CPU idle (% core)",
        }
    }
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::TcpGbit | Metric::UdpKpps)
    }
    /// Issue 13's target for ferrovs, as text.
    pub fn target(self) -> &'static str {
        match self {
            Metric::TcpGbit => ">= 0.8x bridge and >= 2x OVS",
            Metric::UdpKpps => ">= OVS AF_XDP",
            Metric::PingMedian => "<= 15 us",
            Metric::PingP99 => "<= 60 us",
            Metric::CpuLoaded => "-",
            Metric::CpuIdle => "< 2 %",
        }
    }
    fn format(self, v: f64) -> String {
        match self {
            Metric::TcpGbit => format!("{v:.2}"),
            Metric::UdpKpps => format!("{v:.0}"),
            _ => format!("{v:.1}"),
        }
    }
}

/// A figure, or why there is none.
pub type Outcome = Result<f64, String>;

pub struct Column {
    pub contender: Contender,
    pub config: String,
    pub figures: Vec<(Metric, Outcome)>,
    /// Side facts (retransmits, packets sent, pings answered).
    pub notes: Vec<String>,
}

impl Column {
    pub fn get(&self, m: Metric) -> Option<&Outcome> {
        self.figures.iter().find(|(k, _)| *k == m).map(|(_, o)| o)
    }
    fn value(&self, m: Metric) -> Option<f64> {
        self.get(m).and_then(|o| o.as_ref().ok().copied())
    }
}

pub struct Report {
    pub command: String,
    pub duration_s: u64,
    pub started_utc: String,
    pub machine: String,
    pub columns: Vec<Column>,
}

impl Report {
    /// The best value of `m` among the contenders that `pick` selects.
    pub fn best(&self, m: Metric, pick: impl Fn(Contender) -> bool) -> Option<f64> {
        let vals = self
            .columns
            .iter()
            .filter(|c| pick(c.contender))
            .filter_map(|c| c.value(m));
        if m.higher_is_better() {
            vals.fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
        } else {
            vals.fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))))
        }
    }

    fn ratio(&self, m: Metric, other: impl Fn(Contender) -> bool) -> Option<f64> {
        let f = self.best(m, Contender::is_ferrovs)?;
        let o = self.best(m, other)?;
        (o != 0.0).then(|| f / o)
    }
    pub fn ratio_ovs(&self, m: Metric) -> Option<f64> {
        self.ratio(m, Contender::is_ovs)
    }
    pub fn ratio_bridge(&self, m: Metric) -> Option<f64> {
        self.ratio(m, |c| c == Contender::LinuxBridge)
    }

    /// Whether the best ferrovs figure meets issue 13's target; `None`
    /// when there is no target or a figure it needs is missing.
    pub fn target_met(&self, m: Metric) -> Option<bool> {
        let f = self.best(m, Contender::is_ferrovs)?;
        match m {
            Metric::TcpGbit => Some(self.ratio_bridge(m)? >= 0.8 && self.ratio_ovs(m)? >= 2.0),
            Metric::UdpKpps => {
                let x = self.best(m, |c| c == Contender::OvsAfXdp)?;
                Some(f >= x)
            }
            Metric::PingMedian => Some(f <= 15.0),
            Metric::PingP99 => Some(f <= 60.0),
            Metric::CpuIdle => Some(f < 2.0),
            Metric::CpuLoaded => None,
        }
    }

    /// Header and rows of the table (cells as text).
    fn rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut head = vec!["figure (median)".to_string()];
        head.extend(self.columns.iter().map(|c| c.contender.name().to_string()));
        head.extend(["ferrovs/OVS", "ferrovs/bridge", "target", "met"].map(String::from));
        let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}x"));
        let rows = METRICS
            .iter()
            .map(|&m| {
                let mut row = vec![m.label().to_string()];
                for c in &self.columns {
                    row.push(match c.get(m) {
                        Some(Ok(v)) => m.format(*v),
                        Some(Err(_)) => "failed".to_string(),
                        None => "-".to_string(),
                    });
                }
                row.push(ratio(self.ratio_ovs(m)));
                row.push(ratio(self.ratio_bridge(m)));
                row.push(m.target().to_string());
                row.push(match self.target_met(m) {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                });
                row
            })
            .collect();
        (head, rows)
    }

    /// Every failure and note, one line each.
    fn footnotes(&self) -> Vec<String> {
        let mut v = Vec::new();
        for c in &self.columns {
            v.push(format!("{}: {}", c.contender.name(), c.config));
            // One line per distinct failure, naming the figures it hit.
            let mut errs: Vec<(Vec<&str>, &str)> = Vec::new();
            for (m, o) in &c.figures {
                if let Err(e) = o {
                    match errs.iter_mut().find(|(_, x)| *x == e.as_str()) {
                        Some((keys, _)) => keys.push(m.key()),
                        None => errs.push((vec![m.key()], e.as_str())),
                    }
                }
            }
            for (keys, e) in errs {
                v.push(format!(
                    "{}: {} failed: {e}",
                    c.contender.name(),
                    keys.join(", ")
                ));
            }
            for n in &c.notes {
                v.push(format!("{}: {n}", c.contender.name()));
            }
        }
        v
    }

    /// The aligned plain-text table for stdout.
    pub fn text(&self) -> String {
        let (head, rows) = self.rows();
        let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.len());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i == 0 {
                    let _ = write!(s, "{c:<width$}", width = w[0]);
                } else {
                    let _ = write!(s, "  {c:>width$}", width = w[i]);
                }
            }
            s.trim_end().to_string()
        };
        let mut out = format!("{}\n\n", self.machine);
        out.push_str(&line(&head));
        out.push('\n');
        out.push_str(&"-".repeat(w.iter().sum::<usize>() + 2 * (w.len() - 1)));
        out.push('\n');
        for r in &rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out.push('\n');
        for n in self.footnotes() {
            out.push_str(&n);
            out.push('\n');
        }
        out
    }

    pub fn markdown(&self) -> String {
        let (head, rows) = self.rows();
        let mut s = String::new();
        let _ = writeln!(s, "# ferrovs bench\n");
        let _ = writeln!(
            s,
            "`{}` — {}, {} s per figure, {}.\n",
            self.command, self.started_utc, self.duration_s, self.machine
        );
        let _ = writeln!(s, "| {} |", head.join(" | "));
        let _ = writeln!(
            s,
            "|{}",
            head.iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                .collect::<String>()
        );
        for r in &rows {
            let _ = writeln!(s, "| {} |", r.join(" | "));
        }
        let _ = writeln!(s, "\n![chart](chart.png)\n");
        for n in self.footnotes() {
            let _ = writeln!(s, "- {n}");
        }
        s
    }

    pub fn json(&self) -> Value {
        let contenders: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                let mut figs = serde_json::Map::new();
                let mut errs = serde_json::Map::new();
                for (m, o) in &c.figures {
                    match o {
                        Ok(v) => figs.insert(m.key().into(), json!(v)),
                        Err(e) => {
                            errs.insert(m.key().into(), json!(e));
                            figs.insert(m.key().into(), Value::Null)
                        }
                    };
                }
                json!({
                    "name": c.contender.name(),
                    "config": c.config,
                    "figures": figs,
                    "errors": errs,
                    "notes": c.notes,
                })
            })
            .collect();
        let mut ratios = serde_json::Map::new();
        for m in METRICS {
            ratios.insert(
                m.key().into(),
                json!({
                    "ferrovs_over_ovs": self.ratio_ovs(m),
                    "ferrovs_over_bridge": self.ratio_bridge(m),
                    "target": m.target(),
                    "met": self.target_met(m),
                }),
            );
        }
        json!({
            "command": self.command,
            "started_utc": self.started_utc,
            "duration_s": self.duration_s,
            "machine": self.machine,
            "contenders": contenders,
            "ratios": ratios,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(c: Contender, tcp: Outcome, ping: f64) -> Column {
        Column {
            contender: c,
            config: "cfg".into(),
            figures: vec![(Metric::TcpGbit, tcp), (Metric::PingMedian, Ok(ping))],
            notes: vec![],
        }
    }

    #[test]
    fn ratios_take_the_best_of_each_side_in_the_metric_direction() {
        let r = Report {
            command: "ferrovs bench".into(),
            duration_s: 1,
            started_utc: "now".into(),
            machine: "m".into(),
            columns: vec![
                col(Contender::LinuxBridge, Ok(20.0), 8.0),
                col(Contender::FerrovsAfPacket, Ok(18.0), 12.0),
                col(Contender::FerrovsAfXdp, Err("stalled".into()), 10.0),
                col(Contender::OvsAfPacket, Ok(1.0), 40.0),
                col(Contender::OvsAfXdp, Ok(2.0), 20.0),
            ],
        };
        assert_eq!(r.ratio_ovs(Metric::TcpGbit), Some(9.0));
        assert_eq!(r.ratio_bridge(Metric::TcpGbit), Some(0.9));
        assert_eq!(r.target_met(Metric::TcpGbit), Some(true));
        assert_eq!(r.ratio_ovs(Metric::PingMedian), Some(0.5));
        assert_eq!(r.target_met(Metric::PingMedian), Some(true));
        assert_eq!(r.target_met(Metric::UdpKpps), None);
        let t = r.text();
        assert!(t.contains("failed"), "{t}");
        assert!(
            t.contains("ferrovs-afxdp: tcp_gbit_s failed: stalled"),
            "{t}"
        );
        let j = r.json();
        assert!(j["contenders"][2]["figures"]["tcp_gbit_s"].is_null());
        assert_eq!(j["ratios"]["tcp_gbit_s"]["ferrovs_over_ovs"], json!(9.0));
        assert!(r
            .markdown()
            .contains("| TCP throughput (Gbit/s) | 20.00 | 18.00 | failed |"));
    }
}
