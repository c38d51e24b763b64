//! How much of a window the switches' threads ran, and how long they were
//! ready to run but waited for a CPU, from `/proc/PID/task/*/schedstat`
//! (nanoseconds on a CPU, nanoseconds waiting on a run queue). On a
//! machine shared with other work, a busy-polling PMD thread that waits
//! most of the window is starved, not slow: the note says which it was.

/// (run, wait) nanoseconds of every thread of `pid` so far.
fn totals(pid: u32) -> anyhow::Result<(u64, u64)> {
    let mut run = 0;
    let mut wait = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        let Ok(s) = std::fs::read_to_string(e.path().join("schedstat")) else {
            continue; // the thread ended
        };
        let mut f = s.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
        run += f.next().unwrap_or(0);
        wait += f.next().unwrap_or(0);
    }
    Ok((run, wait))
}

/// A started window on some processes.
pub struct SchedWindow {
    pids: Vec<u32>,
    t0: std::time::Instant,
    start: Vec<(u64, u64)>,
}

impl SchedWindow {
    pub fn start(pids: &[u32]) -> anyhow::Result<SchedWindow> {
        Ok(SchedWindow {
            pids: pids.to_vec(),
            t0: std::time::Instant::now(),
            start: pids.iter().map(|&p| totals(p)).collect::<Result<_, _>>()?,
        })
    }

    /// "NAME ran 0.8 s, waited for a CPU 3.9 s" per process (named by
    /// `names`, in order), over the window.
    pub fn summary(&self, names: &[&str]) -> anyhow::Result<String> {
        let secs = self.t0.elapsed().as_secs_f64();
        let mut v = Vec::new();
        for (i, (&p, &(r0, w0))) in self.pids.iter().zip(&self.start).enumerate() {
            let (r1, w1) = totals(p)?;
            v.push(format!(
                "{} ran {:.1} s, waited for a CPU {:.1} s",
                names.get(i).unwrap_or(&"?"),
                r1.saturating_sub(r0) as f64 / 1e9,
                w1.saturating_sub(w0) as f64 / 1e9
            ));
        }
        Ok(format!("{} (of {secs:.1} s)", v.join(", ")))
    }
}
