//! A criterion measurement of the benchmark thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so that figures taken on a busy machine
//! count only the work of the code measured; `FERROVS_BENCH_WALL=1`
//! switches to wall time.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use std::time::Duration;

/// Thread CPU time, or wall time when `FERROVS_BENCH_WALL` is set.
pub struct ThreadCpu {
    wall: bool,
    fmt: WallTime,
}

impl Default for ThreadCpu {
    fn default() -> Self {
        ThreadCpu {
            wall: std::env::var_os("FERROVS_BENCH_WALL").is_some(),
            fmt: WallTime,
        }
    }
}

pub fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = (Duration, std::time::Instant);
    type Value = Duration;
    fn start(&self) -> Self::Intermediate {
        (thread_cpu_now(), std::time::Instant::now())
    }
    fn end(&self, i: Self::Intermediate) -> Duration {
        if self.wall {
            i.1.elapsed()
        } else {
            thread_cpu_now() - i.0
        }
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.fmt.formatter()
    }
}
