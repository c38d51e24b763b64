//! ferrovs: one command for people.
//!
//! `ferrovs up` runs the switch with embedded defaults; `vsctl`, `ofctl` and
//! `appctl` will speak to it like OVS's tools; `bench` runs the side-by-side
//! benchmarks. Subcommands whose components are not built yet say so.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ferrovs",
    version,
    about = "A userspace OpenFlow virtual switch"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the switch with embedded defaults.
    Up,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    match Cli::parse().cmd {
        Cmd::Up => anyhow::bail!("`ferrovs up` is not built yet"),
    }
}
