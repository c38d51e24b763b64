//! Switch CPU from `/proc/PID/stat`: user + system clock ticks of the whole
//! process (all its threads, PMDs included), sampled before and after a
//! window, as a percentage of one core, or as seconds of user and of
//! system time (where a switch's kernel work, such as a veth transmit
//! running the receiving host's stack, shows apart from its own code).

use std::time::Instant;

use anyhow::Context;

/// Ticks (utime + stime) a process has used so far.
fn ticks(pid: u32) -> anyhow::Result<u64> {
    let (u, s) = split_ticks(pid)?;
    Ok(u + s)
}

/// Ticks (utime, stime) a process has used so far.
fn split_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = s.rsplit_once(')').context("malformed stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = f.get(11).context("no utime")?.parse()?;
    let stime: u64 = f.get(12).context("no stime")?.parse()?;
    Ok((utime, stime))
}

fn hz() -> f64 {
    // SAFETY: sysconf has no memory effects.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64).max(1.0)
}

/// User and system seconds of one process over a window.
pub struct SplitWindow {
    pid: u32,
    ticks0: (u64, u64),
}

impl SplitWindow {
    pub fn start(pid: u32) -> anyhow::Result<SplitWindow> {
        Ok(SplitWindow {
            pid,
            ticks0: split_ticks(pid)?,
        })
    }

    /// (user, system) seconds used since [`Self::start`].
    pub fn secs(&self) -> anyhow::Result<(f64, f64)> {
        let (u, s) = split_ticks(self.pid)?;
        let h = hz();
        Ok((
            u.saturating_sub(self.ticks0.0) as f64 / h,
            s.saturating_sub(self.ticks0.1) as f64 / h,
        ))
    }
}

/// A started CPU window on one process.
pub struct CpuWindow {
    pid: u32,
    t0: Instant,
    ticks0: u64,
}

impl CpuWindow {
    pub fn start(pid: u32) -> anyhow::Result<CpuWindow> {
        Ok(CpuWindow {
            pid,
            t0: Instant::now(),
            ticks0: ticks(pid)?,
        })
    }

    /// Percent of one core used since [`Self::start`].
    pub fn percent(&self) -> anyhow::Result<f64> {
        let dt = self.t0.elapsed().as_secs_f64();
        let used = ticks(self.pid)?.saturating_sub(self.ticks0) as f64;
        Ok(100.0 * used / hz() / dt.max(1e-3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU time of this process from the kernel's other clock.
    fn process_cpu_secs() -> f64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    }

    #[test]
    fn agrees_with_the_process_cpu_clock() {
        // Spin until 300 ms of CPU are used, however loaded the machine.
        let w = CpuWindow::start(std::process::id()).unwrap();
        let c0 = process_cpu_secs();
        let mut x = 0u64;
        let limit = Instant::now() + std::time::Duration::from_secs(20);
        while process_cpu_secs() - c0 < 0.3 && Instant::now() < limit {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let wall = w.t0.elapsed().as_secs_f64();
        let expected = 100.0 * (process_cpu_secs() - c0) / wall;
        let got = w.percent().unwrap();
        // Ticks are 10 ms: allow two of them, plus 5 points.
        let slack = 100.0 * 0.02 / wall + 5.0;
        assert!(
            (got - expected).abs() <= slack,
            "got {got}%, expected {expected}% ({x})"
        );
    }
}
