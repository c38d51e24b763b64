//! Runs the conntrack datapath rig (`ferrovs_benches::ct_rig`) for a
//! fixed number of passes, for instruction counts under callgrind:
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='ferrovs_benches::ct_rig::CtRig::pass' \
//!     target/release/ct_path new_conn 20000
//! ```
//!
//! Instructions per packet are the collected total over passes x 32
//! (the tracker flushes, outside `pass`, are not collected).

use anyhow::{bail, Context};
use ferrovs_benches::ct_rig::{CtCase, CtRig};
use ferrovs_benches::datapath_rig::N;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let case = match args.get(1).map(String::as_str) {
        Some("new_conn") => CtCase::NewConn,
        Some("established") => CtCase::Established,
        _ => bail!("usage: ct_path new_conn|established PASSES"),
    };
    let passes: u64 = args
        .get(2)
        .context("usage: ct_path new_conn|established PASSES")?
        .parse()?;
    let mut r = CtRig::new(case)?;
    // Warm-up: the EMC and the classifier's ranking settle.
    for _ in 0..16 {
        r.pass();
    }
    let start = std::time::Instant::now();
    let mut pkts = 0;
    for _ in 0..passes {
        if r.due() {
            r.flush();
        }
        pkts += r.pass();
    }
    let el = start.elapsed();
    r.check()?;
    println!(
        "{case:?}: {pkts} packets in {el:?}, {:.0} ns/packet ({} per pass)",
        el.as_nanos() as f64 / pkts as f64,
        N
    );
    Ok(())
}
