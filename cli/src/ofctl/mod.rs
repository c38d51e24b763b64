//! `ferrovs ofctl [-O VERSION] [--strict] COMMAND BRIDGE [ARG...]`: the
//! everyday subset of ovs-ofctl, speaking OpenFlow through the
//! `ferrovs_openflow` codec to `RUNDIR/<bridge>.mgmt` (or `unix:PATH`):
//! `add-flow`, `add-flows`, `mod-flows`, `del-flows`, `dump-flows`,
//! `dump-ports`, `dump-groups`, `show`; and two offline commands,
//! `ofp-print HEX|FILE` and `parse-pcap FILE`.
//!
//! Flows are parsed by the codec's ovs-ofctl syntax parser (errors name
//! the bad token) and printed by its printer. The default protocol is
//! OpenFlow 1.3 (so the text matches `ovs-ofctl -O OpenFlow13`).

mod conn;
mod parse_pcap;

use std::path::PathBuf;

use anyhow::{bail, Context};
use ferrovs_openflow::message::multipart::{FlowStatsRequest, MpRequest, MultipartRequest};
use ferrovs_openflow::message::{FlowMod, FlowModCommand, Message};
use ferrovs_openflow::text::ofp_print;
use ferrovs_openflow::text::wire::{instructions_to_wire, match_to_wire};
use ferrovs_openflow::text::FlowText;
use ferrovs_openflow::Version;

use crate::rundir;
use conn::OfConn;

#[derive(clap::Args)]
pub struct OfctlArgs {
    /// Run directory of the switch (default: FERROVS_RUNDIR, OVS_RUNDIR, /var/run/ferrovs).
    #[arg(long)]
    rundir: Option<PathBuf>,
    /// OpenFlow version: OpenFlow10, OpenFlow13, OpenFlow14 or OpenFlow15.
    #[arg(short = 'O', long = "protocols", default_value = "OpenFlow13")]
    protocols: String,
    /// mod-flows and del-flows match priority and match exactly.
    #[arg(long)]
    strict: bool,
    /// The command and its arguments: add-flow BR FLOW, add-flows BR FILE,
    /// mod-flows BR FLOW, del-flows BR [FLOW], dump-flows BR [FLOW],
    /// dump-ports BR [PORT], dump-groups BR, show BR, ofp-print HEX|FILE,
    /// parse-pcap FILE.
    #[arg(required = true, allow_hyphen_values = true, trailing_var_arg = true)]
    command: Vec<String>,
}

fn version_of(s: &str) -> anyhow::Result<Version> {
    Ok(match s {
        "OpenFlow10" => Version::Of10,
        "OpenFlow13" => Version::Of13,
        "OpenFlow14" => Version::Of14,
        "OpenFlow15" => Version::Of15,
        _ => bail!("{s}: unknown or unsupported protocol (use OpenFlow10, OpenFlow13, OpenFlow14 or OpenFlow15)"),
    })
}

fn args(c: &[String], min: usize, max: usize) -> anyhow::Result<()> {
    let n = c.len() - 1;
    if n < min || n > max {
        if min == max {
            bail!("'{}' command requires {min} arguments", c[0]);
        }
        bail!(
            "'{}' command requires between {min} and {max} arguments",
            c[0]
        );
    }
    Ok(())
}

pub fn run(a: OfctlArgs) -> anyhow::Result<i32> {
    let c = &a.command;
    match c[0].as_str() {
        "ofp-print" => {
            args(c, 1, 2)?;
            return ofp_print_cmd(&c[1]);
        }
        "parse-pcap" => {
            args(c, 1, 1)?;
            return parse_pcap::run(&c[1]);
        }
        _ => {}
    }
    let version = version_of(&a.protocols)?;
    let dir = rundir::rundir(a.rundir.as_deref());
    let open = |br: &str| OfConn::open(&conn::socket_of(&dir, br), version);
    match c[0].as_str() {
        "add-flow" | "mod-flows" => {
            args(c, 2, 2)?;
            let cmd = match (c[0].as_str(), a.strict) {
                ("add-flow", _) => FlowModCommand::Add,
                (_, false) => FlowModCommand::Modify,
                (_, true) => FlowModCommand::ModifyStrict,
            };
            let fm = flow_mod(&c[2], cmd)?;
            open(&c[1])?.transact_noreply(&Message::FlowMod(fm))?;
        }
        "add-flows" => {
            args(c, 2, 2)?;
            let text = if c[2] == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&c[2]).with_context(|| format!("{}: open failed", c[2]))?
            };
            let mut fms = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let l = line.trim();
                if l.is_empty() || l.starts_with('#') {
                    continue;
                }
                let fm = flow_mod(l, FlowModCommand::Add)
                    .with_context(|| format!("{}:{}", c[2], i + 1))?;
                fms.push(fm);
            }
            let mut conn = open(&c[1])?;
            for fm in fms {
                conn.transact_noreply(&Message::FlowMod(fm))?;
            }
        }
        "del-flows" => {
            args(c, 1, 2)?;
            let cmd = if a.strict {
                FlowModCommand::DeleteStrict
            } else {
                FlowModCommand::Delete
            };
            let mut fm = flow_mod(c.get(2).map(String::as_str).unwrap_or(""), cmd)?;
            if !c.get(2).is_some_and(|t| t.contains("table=")) {
                fm.table_id = 0xff;
            }
            open(&c[1])?.transact_noreply(&Message::FlowMod(fm))?;
        }
        "dump-flows" => {
            args(c, 1, 2)?;
            let ft = FlowText::parse(c.get(2).map(String::as_str).unwrap_or(""), false)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let req = FlowStatsRequest {
                table_id: ft.table.unwrap_or(0xff),
                out_port: ft
                    .out_port
                    .map(|p| p as u16)
                    .unwrap_or(ferrovs_openflow::port::OFPP_NONE),
                r#match: match_to_wire(&ft.matches).map_err(|e| anyhow::anyhow!("{}", e.0))?,
                ..FlowStatsRequest::default()
            };
            // OpenFlow 1.0 asks with Nicira's flow stats (matches of any
            // field, idle ages), as ovs-ofctl does.
            let body = if version == Version::Of10 {
                MpRequest::NxFlow(req)
            } else {
                MpRequest::Flow(req)
            };
            let replies = open(&c[1])?.transact(&Message::MultipartRequest(MultipartRequest {
                flags: 0,
                body,
            }))?;
            for (_, m) in &replies {
                print!("{}", ofp_print::flow_stats_lines(m, version));
            }
        }
        "dump-ports" => {
            args(c, 1, 2)?;
            let port = match c.get(2) {
                Some(p) => ferrovs_openflow::text::value::parse_port(p)
                    .map_err(|e| anyhow::anyhow!("{e}"))? as u16,
                None => ferrovs_openflow::port::OFPP_NONE,
            };
            print_all(&mut open(&c[1])?, MpRequest::PortStats(port))?;
        }
        "dump-groups" => {
            args(c, 1, 2)?;
            let id = match c.get(2) {
                Some(g) => g
                    .parse()
                    .with_context(|| format!("{g}: invalid group id"))?,
                None => u32::MAX - 3, // OFPG_ALL
            };
            print_all(&mut open(&c[1])?, MpRequest::GroupDesc(id))?;
        }
        "show" => {
            args(c, 1, 1)?;
            let mut conn = open(&c[1])?;
            for (h, m) in conn.transact(&Message::FeaturesRequest)? {
                print!("{}", ofp_print::message(&h, &m));
            }
            if version >= Version::Of13 {
                print_all(
                    &mut conn,
                    MpRequest::PortDesc(ferrovs_openflow::port::OFPP_NONE),
                )?;
            }
            // ovs-ofctl spends one more xid here; keep its numbering.
            conn.skip_xid();
            for (h, m) in conn.transact(&Message::GetConfigRequest)? {
                print!("{}", ofp_print::message(&h, &m));
            }
        }
        other => bail!("unknown command '{other}'; use --help for help"),
    }
    Ok(0)
}

/// Sends a multipart request and prints every reply as ofp-print.
fn print_all(conn: &mut OfConn, body: MpRequest) -> anyhow::Result<()> {
    for (h, m) in conn.transact(&Message::MultipartRequest(MultipartRequest {
        flags: 0,
        body,
    }))? {
        print!("{}", ofp_print::message(&h, &m));
    }
    Ok(())
}

/// A flow-mod from ovs-ofctl flow text.
fn flow_mod(text: &str, command: FlowModCommand) -> anyhow::Result<FlowMod> {
    let is_delete = matches!(
        command,
        FlowModCommand::Delete | FlowModCommand::DeleteStrict
    );
    let ft = FlowText::parse(text, !is_delete).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(FlowMod {
        cookie: ft.cookie,
        // As ovs-ofctl: table 0 unless given, all tables for deletes.
        table_id: ft.table.unwrap_or(if is_delete { 0xff } else { 0 }),
        command,
        idle_timeout: ft.idle_timeout,
        hard_timeout: ft.hard_timeout,
        priority: ft.priority,
        out_port: ft
            .out_port
            .map(|p| p as u16)
            .unwrap_or(ferrovs_openflow::port::OFPP_NONE),
        flags: ft.flags,
        importance: ft.importance,
        r#match: match_to_wire(&ft.matches).map_err(|e| anyhow::anyhow!("{}", e.0))?,
        instructions: if is_delete {
            Vec::new()
        } else {
            instructions_to_wire(&ft.actions).map_err(|e| anyhow::anyhow!("{}", e.0))?
        },
        ..FlowMod::default()
    })
}

/// `ofp-print HEX|FILE`: a hex string (spaces allowed) or a file holding
/// one message (raw bytes, or hex text).
fn ofp_print_cmd(arg: &str) -> anyhow::Result<i32> {
    let hexed: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = match hex::decode(&hexed) {
        Ok(b) => b,
        Err(_) => {
            let raw = std::fs::read(arg)
                .with_context(|| format!("\"{arg}\" is neither hex nor a readable file"))?;
            let t: String = String::from_utf8_lossy(&raw)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            hex::decode(&t).unwrap_or(raw)
        }
    };
    print!("{}", ofp_print::print_bytes(&bytes));
    Ok(0)
}
