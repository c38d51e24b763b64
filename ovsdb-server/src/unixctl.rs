//! The unixctl control socket that `ovs-appctl -t SOCK CMD ARGS...` talks to:
//! JSON-RPC over a unix socket where the method is the command name, params
//! are string arguments, and the result is the text to print.

use crate::jsonrpc::{Framer, Message};
use crate::remote::Remotes;
use crate::session::{self, SharedCore};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

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

pub struct Ctl {
    pub core: SharedCore,
    pub remotes: Arc<tokio::sync::Mutex<Remotes>>,
    pub exit: Arc<Notify>,
}

/// Serves the control socket at `path`.
pub async fn serve(ctl: Arc<Ctl>, path: String) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let _ = std::fs::remove_file(&path);
    let l = tokio::net::UnixListener::bind(&path)?;
    Ok(tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let ctl = ctl.clone();
            tokio::spawn(async move {
                let (mut rd, mut wr) = s.into_split();
                let mut f = Framer::new();
                let mut buf = vec![0u8; 8192];
                loop {
                    let n = match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    f.push(&buf[..n]);
                    while let Ok(Some(t)) = f.next_message() {
                        let Ok(Message::Request { method, params, id }) = Message::parse(&t) else {
                            return;
                        };
                        let args: Vec<String> = params
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .map(|x| {
                                        x.as_str()
                                            .map(str::to_string)
                                            .unwrap_or_else(|| x.to_string())
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let (res, exit) = run_command(&ctl, &method, &args).await;
                        let msg = match res {
                            Ok(r) => json!({"id": id, "result": r, "error": Value::Null}),
                            Err(e) => json!({"id": id, "result": Value::Null, "error": e}),
                        };
                        let _ = wr
                            .write_all(&serde_json::to_vec(&msg).unwrap_or_default())
                            .await;
                        if exit {
                            ctl.exit.notify_one();
                            return;
                        }
                    }
                }
            });
        }
    }))
}

async fn run_command(ctl: &Ctl, cmd: &str, args: &[String]) -> (Result<String, String>, bool) {
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
            let g = session::lock(&ctl.core);
            let rows: usize = g.dbs.iter().map(|d| d.db.n_rows()).sum();
            Ok(format!("rows:{rows} sessions:{}\n", g.n_sessions()))
        }
        "ovsdb-server/list-dbs" => {
            let g = session::lock(&ctl.core);
            Ok(g.db_names().into_iter().map(|n| format!("{n}\n")).collect())
        }
        "ovsdb-server/compact" => {
            let mut g = session::lock(&ctl.core);
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
            let mut rm = ctl.remotes.lock().await;
            if cmd.ends_with("add-remote") {
                if !rm.specs.contains(r) {
                    rm.specs.push(r.clone());
                }
                let errs = rm.reconcile().await;
                if errs.is_empty() {
                    Ok(String::new())
                } else {
                    Err(errs.join("\n"))
                }
            } else if let Some(p) = rm.specs.iter().position(|x| x == r) {
                rm.specs.remove(p);
                rm.reconcile().await;
                Ok(String::new())
            } else {
                Err(format!("{r}: no such remote\n"))
            }
        }
        "ovsdb-server/list-remotes" => {
            let rm = ctl.remotes.lock().await;
            Ok(rm.list().into_iter().map(|n| format!("{n}\n")).collect())
        }
        other => Err(format!("\"{other}\" is not a valid command\n")),
    };
    (r, false)
}
