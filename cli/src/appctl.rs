//! `ferrovs appctl [-t TARGET] COMMAND [ARG...]`: one unixctl request to
//! the switch (default) or the database server, as `ovs-appctl`: the reply
//! text goes to stdout; an error reply goes to stderr and exits 2.
//!
//! Short names for the everyday commands: `trace` (ofproto/trace),
//! `dump-dpflows` (dpctl/dump-flows), `pmd-stats` (dpif-netdev/pmd-stats-show),
//! `fdb` (fdb/show). Any other command is sent as written.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

use crate::jsonrpc::Client;
use crate::rundir;

#[derive(clap::Args)]
#[command(trailing_var_arg = true)]
pub struct AppctlArgs {
    /// Run directory of the switch (default: FERROVS_RUNDIR, OVS_RUNDIR, /var/run/ferrovs).
    #[arg(long)]
    rundir: Option<PathBuf>,
    /// Daemon name (`ovs-vswitchd`, `ovsdb-server`) or unixctl socket path.
    #[arg(short = 't', long, default_value = "ovs-vswitchd")]
    target: String,
    /// The command and its arguments.
    #[arg(required = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The full unixctl name of a short name.
pub fn expand(cmd: &str) -> &str {
    match cmd {
        "trace" => "ofproto/trace",
        "dump-dpflows" => "dpctl/dump-flows",
        "pmd-stats" => "dpif-netdev/pmd-stats-show",
        "fdb" => "fdb/show",
        c => c,
    }
}

pub fn run(a: AppctlArgs) -> anyhow::Result<i32> {
    let dir = rundir::rundir(a.rundir.as_deref());
    let sock = rundir::ctl_socket(&dir, &a.target)?;
    let mut c = Client::connect(&sock)?;
    let method = expand(&a.command[0]);
    let params: Vec<Value> = a.command[1..]
        .iter()
        .map(|s| Value::String(s.clone()))
        .collect();
    let reply = c
        .call(method, Value::Array(params))
        .with_context(|| format!("{}: transaction error", a.target))?;
    match reply.get("error") {
        Some(Value::Null) | None => {
            if let Some(Value::String(s)) = reply.get("result") {
                crate::stdout::emit(s);
            }
            Ok(0)
        }
        Some(e) => {
            let text = e
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string());
            eprint!("{text}");
            if !text.ends_with('\n') {
                eprintln!();
            }
            eprintln!("ferrovs appctl: {}: server returned an error", a.target);
            Ok(2)
        }
    }
}
