//! ovsdb_hostile: plays one slow or hostile client scenario against a
//! running OVSDB server (any implementation) and prints what it cost as
//! `key value` lines, for `benches/scripts/ovsdb-hostile.sh`.
//!
//! Usage: ovsdb_hostile SCENARIO --sock PATH --pid PID [--small]
//! Scenarios: slow_monitors waits big_echo big_array pipeline
//! endless_input deep_json locks (see ferrovs_tests::ovsdb_hostile).

use anyhow::{bail, Context};
use ferrovs_tests::ovsdb_hostile::{run, Scale, Scenario};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut scenario = None;
    let (mut sock, mut pid, mut scale) = (None, None, Scale::full());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sock" => sock = it.next().map(PathBuf::from),
            "--pid" => pid = Some(it.next().context("--pid PID")?.parse::<u32>()?),
            "--small" => scale = Scale::small(),
            s => match Scenario::from_name(s) {
                Some(x) => scenario = Some(x),
                None => bail!("unknown argument {s}"),
            },
        }
    }
    let (Some(scenario), Some(sock), Some(pid)) = (scenario, sock, pid) else {
        bail!("usage: ovsdb_hostile SCENARIO --sock PATH --pid PID [--small]");
    };
    let rep = run(scenario, &sock, pid, &scale)?;
    print!("{}", rep.lines());
    Ok(())
}
