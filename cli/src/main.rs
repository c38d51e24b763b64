//! ferrovs: one command for people.
//!
//! `ferrovs up` runs the database server and the switch with embedded
//! defaults; `vsctl`, `ofctl` and `appctl` speak to them as OVS's tools do
//! (found through the run directory, no flags needed); `completion` prints
//! a shell completion script; `bench` measures ferrovs against Open
//! vSwitch and the Linux bridge side by side. The hidden `serve-db` and `serve-switch` are
//! the two children `up` supervises (the same executable, re-executed).
use clap::{CommandFactory, Parser, Subcommand};

mod appctl;
mod bench;
mod jsonrpc;
mod lab;
mod ofctl;
mod rundir;
mod stdout;
mod up;
mod vsctl;

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
    /// Run the OVSDB server and the switch (created when missing, logs to the terminal).
    Up(up::UpArgs),
    /// The everyday subset of ovs-vsctl against the running switch's database.
    Vsctl(vsctl::VsctlArgs),
    /// The everyday subset of ovs-ofctl (bridge management sockets, ofp-print, parse-pcap).
    Ofctl(ofctl::OfctlArgs),
    /// Send a unixctl command to the switch (or `-t ovsdb-server`), as ovs-appctl.
    Appctl(appctl::AppctlArgs),
    /// Print a shell completion script (`source <(ferrovs completion bash)`).
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Measure ferrovs against Open vSwitch and the Linux bridge.
    Bench(bench::BenchArgs),
    /// Build a reference cloud deployment in namespaces and check its paths.
    Lab(lab::LabArgs),
    /// The database server child of `up`.
    #[command(hide = true)]
    ServeDb(up::child::ServeDbArgs),
    /// The switch child of `up`.
    #[command(hide = true)]
    ServeSwitch(up::child::ServeSwitchArgs),
}

fn main() {
    // vsctl's arguments are ovs-vsctl's (`--` separates commands): they
    // are read as they are, not by clap.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("vsctl") {
        exit(vsctl::run_raw(&argv[2..]));
    }
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Up(a) => up::run(a),
        Cmd::Vsctl(a) => vsctl::run(a),
        Cmd::Ofctl(a) => ofctl::run(a),
        Cmd::Appctl(a) => appctl::run(a),
        Cmd::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "ferrovs",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Cmd::Bench(a) => bench::run(a).map(|()| 0),
        Cmd::Lab(a) => lab::run(a),
        Cmd::ServeDb(a) => up::child::serve_db(a).map(|()| 0),
        Cmd::ServeSwitch(a) => up::child::serve_switch(a).map(|()| 0),
    };
    exit(res);
}

fn exit(res: anyhow::Result<i32>) -> ! {
    match res {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("ferrovs: {e:#}");
            std::process::exit(1);
        }
    }
}
