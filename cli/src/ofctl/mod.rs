//! `ferrovs ofctl [-O VERSION] [--strict] COMMAND BRIDGE [ARG...]`: the
//! everyday subset of ovs-ofctl, speaking OpenFlow through the
//! `ferrovs_openflow` codec to `RUNDIR/<bridge>.mgmt` (or `unix:PATH`):
//! `add-flow`, `add-flows`, `mod-flows`, `del-flows`, `dump-flows`,
//! `dump-ports`, `dump-groups`, `show`; and two offline commands,
//! `ofp-print HEX|FILE` and `parse-pcap FILE`.
//!
//! Flows are parsed by the codec's ovs-ofctl syntax parser (errors name
//! the bad token) and printed by its printer. The version is negotiated:
//! the highest of those `-O` allows (default: all the codec speaks) that
//! the bridge's `protocols` allow too.

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
    /// OpenFlow versions allowed, comma-separated (OpenFlow10, OpenFlow13,
    /// OpenFlow14, OpenFlow15); the highest the bridge also allows is used.
    #[arg(
        short = 'O',
        long = "protocols",
        default_value = "OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15"
    )]
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

/// `-O`'s comma-separated list of versions.
fn versions_of(list: &str) -> anyhow::Result<Vec<Version>> {
    list.split(',')
        .map(|s| {
            Ok(match s.trim() {
                "OpenFlow10" => Version::Of10,
                "OpenFlow13" => Version::Of13,
                "OpenFlow14" => Version::Of14,
                "OpenFlow15" => Version::Of15,
                s => bail!("{s}: unknown or unsupported protocol (use OpenFlow10, OpenFlow13, OpenFlow14 or OpenFlow15)"),
            })
        })
        .collect()
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
    let versions = versions_of(&a.protocols)?;
    let dir = rundir::rundir(a.rundir.as_deref());
    let open = |br: &str| OfConn::open(&conn::socket_of(&dir, br), &versions);
    let bridge = c.get(1).cloned().unwrap_or_default();
    let open_bridge = || open(&bridge);
    let mut ports = PortNames {
        open: &open_bridge,
        names: None,
    };
    match c[0].as_str() {
        "add-flow" | "mod-flows" => {
            args(c, 2, 2)?;
            let cmd = match (c[0].as_str(), a.strict) {
                ("add-flow", _) => FlowModCommand::Add,
                (_, false) => FlowModCommand::Modify,
                (_, true) => FlowModCommand::ModifyStrict,
            };
            let fm = flow_mod(&c[2], cmd, &mut ports)?;
            send_flow_mod(&mut open(&c[1])?, fm)?;
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
                let fm = flow_mod(l, FlowModCommand::Add, &mut ports)
                    .with_context(|| format!("{}:{}", c[2], i + 1))?;
                fms.push(fm);
            }
            let mut conn = open(&c[1])?;
            for fm in fms {
                send_flow_mod(&mut conn, fm)?;
            }
        }
        "del-flows" => {
            args(c, 1, 2)?;
            let cmd = if a.strict {
                FlowModCommand::DeleteStrict
            } else {
                FlowModCommand::Delete
            };
            let mut fm = flow_mod(c.get(2).map(String::as_str).unwrap_or(""), cmd, &mut ports)?;
            if !c.get(2).is_some_and(|t| t.contains("table=")) {
                fm.table_id = 0xff;
            }
            send_flow_mod(&mut open(&c[1])?, fm)?;
        }
        "dump-flows" => {
            args(c, 1, 2)?;
            let ft = ports.parse(c.get(2).map(String::as_str).unwrap_or(""), false)?;
            let req = FlowStatsRequest {
                table_id: ft.table.unwrap_or(0xff),
                out_port: ft
                    .out_port
                    .map(|p| p as u16)
                    .unwrap_or(ferrovs_openflow::port::OFPP_NONE),
                r#match: match_to_wire(&ft.matches).map_err(|e| anyhow::anyhow!("{}", e.0))?,
                ..FlowStatsRequest::default()
            };
            let mut conn = open(&c[1])?;
            let version = conn.version;
            // OpenFlow 1.0 asks with Nicira's flow stats (matches of any
            // field, idle ages), as ovs-ofctl does.
            let body = if version == Version::Of10 {
                MpRequest::NxFlow(req)
            } else {
                MpRequest::Flow(req)
            };
            let replies = conn.transact(&Message::MultipartRequest(MultipartRequest {
                flags: 0,
                body,
            }))?;
            for (_, m) in &replies {
                crate::stdout::emit(&ofp_print::flow_stats_lines(m, version));
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
                crate::stdout::emit(&ofp_print::message(&h, &m));
            }
            if conn.version >= Version::Of13 {
                print_all(
                    &mut conn,
                    MpRequest::PortDesc(ferrovs_openflow::port::OFPP_NONE),
                )?;
            }
            // ovs-ofctl spends one more xid here; keep its numbering.
            conn.skip_xid();
            for (h, m) in conn.transact(&Message::GetConfigRequest)? {
                crate::stdout::emit(&ofp_print::message(&h, &m));
            }
        }
        other => bail!("unknown command '{other}'; use --help for help"),
    }
    Ok(0)
}

/// Sends a flow-mod; in OpenFlow 1.0 as Nicira's NXT_FLOW_MOD, whose NXM
/// match holds every field (OpenFlow 1.0's own match has no room for
/// IPv6, registers or conntrack fields), as ovs-ofctl chooses it.
fn send_flow_mod(conn: &mut OfConn, fm: FlowMod) -> anyhow::Result<()> {
    let m = if conn.version == Version::Of10 {
        Message::Nx(ferrovs_openflow::message::NxMessage::FlowMod(fm))
    } else {
        Message::FlowMod(fm)
    };
    conn.transact_noreply(&m)
}

/// Sends a multipart request and prints every reply as ofp-print.
fn print_all(conn: &mut OfConn, body: MpRequest) -> anyhow::Result<()> {
    for (h, m) in conn.transact(&Message::MultipartRequest(MultipartRequest {
        flags: 0,
        body,
    }))? {
        crate::stdout::emit(&ofp_print::message(&h, &m));
    }
    Ok(())
}

/// The switch's port names, asked for (on a connection of their own, as
/// ovs-ofctl) only when flow text does not parse without them.
struct PortNames<'a> {
    open: &'a dyn Fn() -> anyhow::Result<OfConn>,
    names: Option<Vec<(String, u32)>>,
}

impl PortNames<'_> {
    /// Flow text parsed as ovs-ofctl does: port names resolved.
    fn parse(&mut self, text: &str, need_actions: bool) -> anyhow::Result<FlowText> {
        let parse = |names: &[(String, u32)]| {
            ferrovs_openflow::text::value::with_port_names(names, || {
                FlowText::parse(text, need_actions)
            })
        };
        match parse(self.names.as_deref().unwrap_or_default()) {
            // A bare name may also read as an unknown action: any error
            // is worth one more try with the names.
            Err(_) if self.names.is_none() => {
                let names = (self.open)()?.port_names()?;
                let r = parse(&names);
                self.names = Some(names);
                r
            }
            r => r,
        }
        .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// A flow-mod from ovs-ofctl flow text.
fn flow_mod(text: &str, command: FlowModCommand, ports: &mut PortNames) -> anyhow::Result<FlowMod> {
    let is_delete = matches!(
        command,
        FlowModCommand::Delete | FlowModCommand::DeleteStrict
    );
    let ft = ports.parse(text, !is_delete)?;
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
    crate::stdout::emit(&ofp_print::print_bytes(&bytes));
    Ok(0)
}
