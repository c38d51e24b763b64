//! The unixctl control socket that `ovs-appctl -t SOCK CMD ARGS...` talks to:
//! JSON-RPC over a unix socket where the method is the command name, params
//! are string arguments, and the result is the text to print. The event
//! loop frames the requests (`session::Conn::read_ctl`) and runs them here,
//! synchronously, against the engine and the remotes.

use crate::server::Core;
use serde_json::{json, Value};

pub const VERSION: &str = concat!(
    "ferrovs-ovsdb-server ",
    env!("CARGO_PKG_VERSION"),
    " (compatible with Open vSwitch 3.1)"
);

const COMMANDS: &[&str] = &[
    "exit",
    "help",
    "list-commands",
    "memory/show",
    "ovsdb-server/add-remote",
    "ovsdb-server/compact",
    "ovsdb-server/list-dbs",
    "ovsdb-server/list-remotes",
    "ovsdb-server/remove-remote",
    "version",
    "vlog/list",
    "vlog/reopen",
    "vlog/set",
];

/// What the commands act on; the event loop implements it.
pub trait Control {
    fn core(&mut self) -> &mut Core;
    /// Adds a remote spec and starts what it names; errors of remotes that
    /// could not start.
    fn add_remote(&mut self, spec: &str) -> Vec<String>;
    /// Removes a remote spec; false if there was no such spec.
    fn remove_remote(&mut self, spec: &str) -> bool;
    fn list_remotes(&self) -> Vec<String>;
}

/// Runs one command. Returns the reply (text or error text) and whether
/// the server should exit once the reply is sent.
pub fn run_command(
    ctl: &mut dyn Control,
    cmd: &str,
    args: &[String],
) -> (Result<String, String>, bool) {
    let r = match cmd {
        "exit" => return (Ok(String::new()), true),
        "version" => Ok(format!("{VERSION}\n")),
        "help" | "list-commands" => Ok(format!(
            "The available commands are:\n{}",
            COMMANDS
                .iter()
                .map(|c| format!("  {c}\n"))
                .collect::<String>()
        )),
        "vlog/set" | "vlog/reopen" | "vlog/list" => Ok(String::new()),
        "memory/show" => {
            let g = ctl.core();
            let rows: usize = g.dbs.iter().map(|d| d.db.n_rows()).sum();
            Ok(format!("rows:{rows} sessions:{}\n", g.n_sessions()))
        }
        "ovsdb-server/list-dbs" => Ok(ctl
            .core()
            .db_names()
            .into_iter()
            .map(|n| format!("{n}\n"))
            .collect()),
        "ovsdb-server/compact" => {
            let g = ctl.core();
            let targets: Vec<usize> = if args.is_empty() {
                (1..g.dbs.len()).collect()
            } else {
                match g.db_index(&args[0]) {
                    Some(i) => vec![i],
                    None => return (Err(format!("{}: unknown database\n", args[0])), false),
                }
            };
            for i in targets {
                g.compact(i);
            }
            Ok(String::new())
        }
        "ovsdb-server/add-remote" | "ovsdb-server/remove-remote" => {
            let Some(r) = args.first() else {
                return (Err("remote argument required\n".into()), false);
            };
            if cmd.ends_with("add-remote") {
                let errs = ctl.add_remote(r);
                if errs.is_empty() {
                    Ok(String::new())
                } else {
                    Err(errs.join("\n"))
                }
            } else if ctl.remove_remote(r) {
                Ok(String::new())
            } else {
                Err(format!("{r}: no such remote\n"))
            }
        }
        "ovsdb-server/list-remotes" => Ok(ctl
            .list_remotes()
            .into_iter()
            .map(|n| format!("{n}\n"))
            .collect()),
        other => Err(format!("\"{other}\" is not a valid command\n")),
    };
    (r, false)
}

/// The JSON-RPC reply to request `id` carrying a command's result.
pub fn reply_bytes(id: &Value, res: Result<String, String>) -> Vec<u8> {
    let msg = match res {
        Ok(r) => json!({"id": id, "result": r, "error": Value::Null}),
        Err(e) => json!({"id": id, "result": Value::Null, "error": e}),
    };
    serde_json::to_vec(&msg).unwrap_or_default()
}
