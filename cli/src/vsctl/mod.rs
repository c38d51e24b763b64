//! `ferrovs vsctl [OPTIONS] COMMAND [ARG...] [-- COMMAND [ARG...]]...`:
//! the everyday subset of ovs-vsctl against the switch's database, with
//! ovs-vsctl's output and error texts.
//!
//! Commands: `init`, `show`, `list-br`, `br-exists`, `add-br`, `del-br`,
//! `list-ports`, `add-port`, `del-port`, `set-controller`,
//! `del-controller`, `get-controller`, `set-fail-mode`, `get-fail-mode`,
//! `del-fail-mode`, `list`, `get`, `set`, `add`, `remove`, `clear`,
//! `create`; the command options `--may-exist`, `--if-exists`,
//! `--columns=`, `--id=@name` (a created row's name, usable wherever a
//! uuid is: [`symbols`]). Records are named as by ovs-vsctl: uuid, name,
//! owner, or a uuid prefix of at least 4 hex digits. Global
//! options: `--db=unix:PATH` (default `RUNDIR/db.sock`), `--rundir=DIR`,
//! `--no-wait`, `--timeout=SECS`.
//!
//! All commands of one invocation run against one snapshot of the
//! database ([`db::Db`]) and commit as one transaction; then, as
//! ovs-vsctl, it waits until the switch has applied it (`cur_cfg` reaches
//! the `next_cfg` the transaction set) unless `--no-wait`. Outputs are
//! printed only once everything succeeded; an error names the bad token
//! and exits 1 with nothing changed.

mod db;
mod show;
mod symbols;
mod text;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ovsdb::atom::Atom;
use ovsdb::datum::Datum;
use serde_json::{json, Value};

use crate::jsonrpc::Client;
use crate::rundir;
use db::{Db, DB_NAME};

#[derive(clap::Args)]
pub struct VsctlArgs {
    /// [--db=unix:PATH] [--no-wait] [--timeout=SECS] [--may-exist|--if-exists] COMMAND ARGS... [-- COMMAND ARGS...]
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

pub fn run(a: VsctlArgs) -> anyhow::Result<i32> {
    run_raw(&a.args)
}

struct Global {
    db: Option<String>,
    rundir: Option<PathBuf>,
    wait: bool,
    timeout: Option<u64>,
}

struct Command {
    opts: Vec<String>,
    args: Vec<String>,
}

impl Command {
    fn has(&self, o: &str) -> bool {
        self.opts.iter().any(|x| x == o)
    }
    fn opt_value(&self, o: &str) -> Option<&str> {
        self.opts
            .iter()
            .find_map(|x| x.strip_prefix(o).and_then(|v| v.strip_prefix('=')))
    }
}

/// Errors of a command: the text after `ferrovs vsctl: `.
type CmdResult = Result<String, String>;

fn parse(args: &[String]) -> anyhow::Result<(Global, Vec<Command>)> {
    let mut g = Global {
        db: None,
        rundir: None,
        wait: true,
        timeout: None,
    };
    let mut cmds = Vec::new();
    let mut cur = Command {
        opts: Vec::new(),
        args: Vec::new(),
    };
    for a in args {
        if a == "--" {
            if !cur.args.is_empty() {
                cmds.push(std::mem::replace(
                    &mut cur,
                    Command {
                        opts: Vec::new(),
                        args: Vec::new(),
                    },
                ));
            }
            continue;
        }
        if cur.args.is_empty() && a.starts_with("--") {
            let (n, v) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (a.as_str(), None),
            };
            match n {
                "--db" => g.db = Some(v.context("--db requires =DATABASE")?.to_string()),
                "--rundir" => g.rundir = Some(v.context("--rundir requires =DIR")?.into()),
                "--no-wait" => g.wait = false,
                "--timeout" => {
                    g.timeout = Some(
                        v.context("--timeout requires =SECS")?
                            .parse()
                            .with_context(|| {
                                format!("--timeout: \"{}\" is not a number", v.unwrap_or(""))
                            })?,
                    )
                }
                "--may-exist" | "--if-exists" | "--columns" | "--oneline" | "--id" => {
                    cur.opts.push(a.clone())
                }
                _ => bail!("unrecognized option '{a}'"),
            }
            continue;
        }
        cur.args.push(a.clone());
    }
    if !cur.args.is_empty() {
        cmds.push(cur);
    }
    if cmds.is_empty() {
        bail!("missing command name (use --help for help)");
    }
    Ok((g, cmds))
}

pub fn run_raw(args: &[String]) -> anyhow::Result<i32> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: ferrovs vsctl [--db=unix:PATH] [--no-wait] [--timeout=SECS] [--may-exist|--if-exists] COMMAND ARGS... [-- COMMAND ARGS...]");
        println!("commands: init show list-br br-exists add-br del-br list-ports add-port del-port set-controller del-controller get-controller set-fail-mode get-fail-mode del-fail-mode list get set add remove clear create");
        return Ok(0);
    }
    let (g, cmds) = parse(args)?;
    let sock = match &g.db {
        Some(d) => PathBuf::from(
            d.strip_prefix("unix:")
                .with_context(|| format!("{d}: only unix:PATH databases are supported"))?,
        ),
        None => rundir::db_sock(&rundir::rundir(g.rundir.as_deref())),
    };
    let mut c = Client::connect(&sock)?;
    let mut db = Db::load(&mut c)?;
    let mut outputs = Vec::new();
    for cmd in &cmds {
        match execute(&mut db, cmd) {
            Ok(o) => outputs.push(o),
            Err(e) => {
                eprintln!("ferrovs vsctl: {e}");
                return Ok(1);
            }
        }
    }
    if let Err(e) = db.symbols.check() {
        eprintln!("ferrovs vsctl: {e}");
        return Ok(1);
    }
    if db.dirty() {
        let ovs_t = db.table("Open_vSwitch").map_err(anyhow::Error::msg)?;
        let ovs_uuid = db.live(ovs_t).next().map(|(_, r)| r.uuid);
        let mut ops = vec![json!(DB_NAME)];
        ops.extend(db.ops());
        let wait = g.wait && ovs_uuid.is_some();
        if let Some(u) = ovs_uuid.filter(|_| wait) {
            let w = json!([["_uuid", "==", ["uuid", u.to_string()]]]);
            ops.push(json!({"op": "mutate", "table": "Open_vSwitch", "where": w,
                            "mutations": [["next_cfg", "+=", 1]]}));
            ops.push(json!({"op": "select", "table": "Open_vSwitch", "where": w,
                            "columns": ["next_cfg"]}));
        }
        let n = ops.len() - 1;
        let r = c.call("transact", Value::Array(ops.clone()))?;
        check_txn(&r, n)?;
        // Created rows are printed with the uuid the server gave them.
        for (here, there) in Db::inserted(&ops[1..], &r["result"]) {
            for o in &mut outputs {
                *o = o.replace(&here.to_string(), &there.to_string());
            }
        }
        if wait {
            let next = r["result"][n - 1]["rows"][0]["next_cfg"]
                .as_i64()
                .context("reading next_cfg")?;
            wait_applied(&mut c, next, g.timeout)?;
        }
    }
    for o in outputs {
        crate::stdout::emit(&o);
    }
    Ok(0)
}

/// Fails with the first error of a transaction reply.
fn check_txn(r: &Value, n: usize) -> anyhow::Result<()> {
    if !r["error"].is_null() {
        bail!("transaction error: {}", r["error"]);
    }
    let res = r["result"].as_array().context("transaction reply")?;
    for x in res {
        if let Some(e) = x.get("error") {
            let details = x.get("details").and_then(Value::as_str).unwrap_or("");
            bail!("transaction error: {{\"details\":\"{details}\",\"error\":{e}}}");
        }
    }
    if res.len() < n {
        bail!("transaction error: short reply {r}");
    }
    Ok(())
}

/// Waits until the switch reports `cur_cfg >= next`.
fn wait_applied(c: &mut Client, next: i64, timeout: Option<u64>) -> anyhow::Result<()> {
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t));
    loop {
        let r = c.call(
            "transact",
            json!([DB_NAME, {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["cur_cfg"]}]),
        )?;
        let cur = r["result"][0]["rows"][0]["cur_cfg"].as_i64().unwrap_or(0);
        if cur >= next {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            bail!("timeout waiting for the switch to apply the change (is it running? use --no-wait not to wait)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn need(cmd: &Command, min: usize, max: usize) -> Result<(), String> {
    let n = cmd.args.len() - 1;
    if n < min {
        return Err(format!(
            "'{}' command requires at least {min} arguments",
            cmd.args[0]
        ));
    }
    if n > max {
        return Err(format!(
            "'{}' command takes at most {max} arguments",
            cmd.args[0]
        ));
    }
    Ok(())
}

fn execute(db: &mut Db, cmd: &Command) -> CmdResult {
    let a = &cmd.args;
    let name = a[0].as_str();
    let unlimited = usize::MAX;
    match name {
        "init" => {
            need(cmd, 0, 0)?;
            let t = db.table("Open_vSwitch")?;
            if db.live(t).next().is_none() {
                db.insert(t, vec![]);
            }
            Ok(String::new())
        }
        "show" => {
            need(cmd, 0, 0)?;
            Ok(show::show(db))
        }
        "list-br" => {
            need(cmd, 0, 0)?;
            let t = db.table("Bridge")?;
            let mut v: Vec<String> = db
                .live(t)
                .filter_map(|(i, _)| db.str_of(t, i, "name").map(str::to_string))
                .collect();
            v.sort();
            Ok(v.iter().map(|s| format!("{s}\n")).collect())
        }
        "br-exists" => {
            need(cmd, 1, 1)?;
            let t = db.table("Bridge")?;
            if db.by_str(t, "name", &a[1]).is_some() {
                Ok(String::new())
            } else {
                // ovs-vsctl exits 2 with no message.
                std::process::exit(2);
            }
        }
        "add-br" => {
            need(cmd, 1, 1)?;
            add_br(db, &a[1], cmd.has("--may-exist"))
        }
        "del-br" => {
            need(cmd, 1, 1)?;
            let t = db.table("Bridge")?;
            let Some(r) = db.by_str(t, "name", &a[1]) else {
                return if cmd.has("--if-exists") {
                    Ok(String::new())
                } else {
                    Err(format!("no bridge named {}", a[1]))
                };
            };
            let u = db.rows[t][r].uuid;
            let ot = db.table("Open_vSwitch")?;
            let or = db
                .live(ot)
                .next()
                .map(|(i, _)| i)
                .ok_or("no Open_vSwitch row")?;
            db.remove_ref(ot, or, "bridges", u);
            db.delete(t, r);
            Ok(String::new())
        }
        "list-ports" => {
            need(cmd, 1, 1)?;
            let (bt, br) = bridge(db, &a[1])?;
            let pt = db.table("Port")?;
            let mut v: Vec<String> = db
                .uuids(bt, br, "ports")
                .into_iter()
                .filter_map(|u| db.by_uuid(pt, u))
                .filter_map(|p| db.str_of(pt, p, "name").map(str::to_string))
                .filter(|n| *n != a[1])
                .collect();
            v.sort();
            Ok(v.iter().map(|s| format!("{s}\n")).collect())
        }
        "add-port" => {
            need(cmd, 2, unlimited)?;
            add_port(db, &a[1], &a[2], &a[3..], cmd.has("--may-exist"))
        }
        "del-port" => {
            need(cmd, 1, 2)?;
            let (br_name, port) = if a.len() == 3 {
                (Some(a[1].as_str()), a[2].as_str())
            } else {
                (None, a[1].as_str())
            };
            del_port(db, br_name, port, cmd.has("--if-exists"))
        }
        "set-controller" => {
            need(cmd, 1, unlimited)?;
            let (bt, br) = bridge(db, &a[1])?;
            let ct = db.table("Controller")?;
            let mut refs = Vec::new();
            for target in &a[2..] {
                let d = Datum::scalar(Atom::String(target.as_str().into()));
                refs.push(Atom::Uuid(db.insert(ct, vec![("target", d)])));
            }
            refs.sort();
            db.set_named(bt, br, "controller", Datum::Set(refs));
            Ok(String::new())
        }
        "del-controller" => {
            need(cmd, 1, 1)?;
            let (bt, br) = bridge(db, &a[1])?;
            db.set_named(bt, br, "controller", Datum::empty_set());
            Ok(String::new())
        }
        "get-controller" => {
            need(cmd, 1, 1)?;
            let (bt, br) = bridge(db, &a[1])?;
            let ct = db.table("Controller")?;
            let mut v: Vec<String> = db
                .uuids(bt, br, "controller")
                .into_iter()
                .filter_map(|u| db.by_uuid(ct, u))
                .filter_map(|c| db.str_of(ct, c, "target").map(str::to_string))
                .collect();
            v.sort();
            Ok(v.iter().map(|s| format!("{s}\n")).collect())
        }
        "set-fail-mode" => {
            need(cmd, 2, 2)?;
            if a[2] != "standalone" && a[2] != "secure" {
                return Err("fail-mode must be \"standalone\" or \"secure\"".into());
            }
            let (bt, br) = bridge(db, &a[1])?;
            db.set_named(
                bt,
                br,
                "fail_mode",
                Datum::scalar(Atom::String(a[2].as_str().into())),
            );
            Ok(String::new())
        }
        "get-fail-mode" => {
            need(cmd, 1, 1)?;
            let (bt, br) = bridge(db, &a[1])?;
            Ok(db
                .str_of(bt, br, "fail_mode")
                .map(|s| format!("{s}\n"))
                .unwrap_or_default())
        }
        "del-fail-mode" => {
            need(cmd, 1, 1)?;
            let (bt, br) = bridge(db, &a[1])?;
            db.set_named(bt, br, "fail_mode", Datum::empty_set());
            Ok(String::new())
        }
        "list" => {
            need(cmd, 1, unlimited)?;
            list(db, cmd)
        }
        "create" => {
            need(cmd, 2, unlimited)?;
            create(db, cmd)
        }
        "get" => {
            need(cmd, 2, unlimited)?;
            get(db, cmd)
        }
        "set" | "add" | "remove" | "clear" => {
            need(
                cmd,
                if name == "set" || name == "clear" {
                    3
                } else {
                    4
                },
                unlimited,
            )?;
            modify(db, cmd)
        }
        _ => Err(format!("unknown command '{name}'; use --help for help")),
    }
}

fn bridge(db: &Db, name: &str) -> Result<(usize, usize), String> {
    let t = db.table("Bridge")?;
    db.by_str(t, "name", name)
        .map(|r| (t, r))
        .ok_or_else(|| format!("no bridge named {name}"))
}

/// The bridge (name) whose `ports` holds port row `p`.
fn port_bridge(db: &Db, p: usize) -> Option<(usize, String)> {
    let bt = db.schema.table("Bridge")?;
    let pt = db.schema.table("Port")?;
    let u = db.rows[pt][p].uuid;
    db.live(bt)
        .find(|(i, _)| db.uuids(bt, *i, "ports").contains(&u))
        .and_then(|(i, _)| Some((i, db.str_of(bt, i, "name")?.to_string())))
}

fn add_br(db: &mut Db, name: &str, may_exist: bool) -> CmdResult {
    let bt = db.table("Bridge")?;
    let pt = db.table("Port")?;
    let it = db.table("Interface")?;
    let ot = db.table("Open_vSwitch")?;
    if db.by_str(bt, "name", name).is_some() {
        return if may_exist {
            Ok(String::new())
        } else {
            Err(format!(
                "cannot create a bridge named {name} because a bridge named {name} already exists"
            ))
        };
    }
    if let Some(p) = db.by_str(pt, "name", name) {
        let on = port_bridge(db, p).map(|x| x.1).unwrap_or_default();
        return Err(format!(
            "cannot create a bridge named {name} because a port named {name} already exists on bridge {on}"
        ));
    }
    let or = db
        .live(ot)
        .next()
        .map(|(i, _)| i)
        .ok_or("no Open_vSwitch row (run `ferrovs vsctl init`)")?;
    let s = |v: &str| Datum::scalar(Atom::String(v.into()));
    let iu = db.insert(it, vec![("name", s(name)), ("type", s("internal"))]);
    let pu = db.insert(
        pt,
        vec![
            ("name", s(name)),
            ("interfaces", Datum::Set(vec![Atom::Uuid(iu)])),
        ],
    );
    let bu = db.insert(
        bt,
        vec![
            ("name", s(name)),
            ("ports", Datum::Set(vec![Atom::Uuid(pu)])),
        ],
    );
    db.add_ref(ot, or, "bridges", bu);
    Ok(String::new())
}

fn add_port(db: &mut Db, br: &str, port: &str, settings: &[String], may_exist: bool) -> CmdResult {
    let (bt, b) = bridge(db, br)?;
    let pt = db.table("Port")?;
    let it = db.table("Interface")?;
    if let Some(p) = db.by_str(pt, "name", port) {
        let on = port_bridge(db, p).map(|x| x.1).unwrap_or_default();
        if may_exist && on == br {
            return Ok(String::new());
        }
        return Err(format!(
            "cannot create a port named {port} because a port named {port} already exists on bridge {on}"
        ));
    }
    if db.by_str(bt, "name", port).is_some() {
        return Err(format!(
            "cannot create a port named {port} because a bridge named {port} already exists"
        ));
    }
    let s = |v: &str| Datum::scalar(Atom::String(v.into()));
    let iu = db.insert(it, vec![("name", s(port))]);
    let pu = db.insert(
        pt,
        vec![
            ("name", s(port)),
            ("interfaces", Datum::Set(vec![Atom::Uuid(iu)])),
        ],
    );
    let p = db.by_uuid(pt, pu).expect("just inserted");
    for kv in settings {
        set_one(db, pt, p, kv)?;
    }
    db.add_ref(bt, b, "ports", pu);
    Ok(String::new())
}

fn del_port(db: &mut Db, br: Option<&str>, port: &str, if_exists: bool) -> CmdResult {
    let pt = db.table("Port")?;
    let Some(p) = db.by_str(pt, "name", port) else {
        return if if_exists {
            Ok(String::new())
        } else {
            Err(format!("no port named {port}"))
        };
    };
    let (b, on) = port_bridge(db, p).ok_or_else(|| format!("no port named {port}"))?;
    if let Some(br) = br {
        bridge(db, br)?;
        if on != br {
            return Err(format!("bridge {br} does not have a port {port}"));
        }
    }
    if on == port {
        return Err(format!(
            "cannot delete port {port} because it is the local port for bridge {on} (deleting this port requires deleting the entire bridge)"
        ));
    }
    let bt = db.table("Bridge")?;
    let u = db.rows[pt][p].uuid;
    db.remove_ref(bt, b, "ports", u);
    db.delete(pt, p);
    Ok(String::new())
}

/// A record of table `t` named by `id` as ovs-vsctl: a uuid, `.` for the
/// Open_vSwitch row, a name (or target) column, or for rows that belong
/// to one bridge or port (Controller, NetFlow, sFlow, IPFIX, QoS) the
/// owner's name.
fn record(db: &Db, t: usize, id: &str) -> Result<Option<usize>, String> {
    if let Some(u) = ovsdb::atom::parse_uuid(id) {
        if let Some(r) = db.by_uuid(t, u) {
            return Ok(Some(r));
        }
    }
    let tname = db.ts(t).name.clone();
    let found = match tname.as_str() {
        "Open_vSwitch" if id == "." => db.live(t).next().map(|(i, _)| i),
        "Manager" | "Controller" if db.by_str(t, "target", id).is_some() => {
            db.by_str(t, "target", id)
        }
        "Controller" | "NetFlow" | "sFlow" | "IPFIX" | "AutoAttach" => {
            let col = match tname.as_str() {
                "Controller" => "controller",
                "NetFlow" => "netflow",
                "sFlow" => "sflow",
                "IPFIX" => "ipfix",
                _ => "auto_attach",
            };
            let bt = db.table("Bridge")?;
            db.by_str(bt, "name", id)
                .and_then(|b| db.uuids(bt, b, col).first().copied())
                .and_then(|u| db.by_uuid(t, u))
        }
        "QoS" => {
            let pt = db.table("Port")?;
            db.by_str(pt, "name", id)
                .and_then(|p| db.uuids(pt, p, "qos").first().copied())
                .and_then(|u| db.by_uuid(t, u))
        }
        _ if db.ts(t).column("name").is_some() => db.by_str(t, "name", id),
        _ => None,
    };
    match found {
        Some(r) => Ok(Some(r)),
        None => by_uuid_prefix(db, t, id),
    }
}

/// A record named by a prefix of its uuid (at least 4 hex digits).
fn by_uuid_prefix(db: &Db, t: usize, id: &str) -> Result<Option<usize>, String> {
    if id.len() < 4 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Ok(None);
    }
    let id = id.to_ascii_lowercase();
    let mut found = db
        .live(t)
        .filter(|(_, r)| r.uuid.to_string().starts_with(&id))
        .map(|(i, _)| i);
    match (found.next(), found.next()) {
        (Some(_), Some(_)) => Err(format!("multiple rows in {} match \"{id}\"", db.ts(t).name)),
        (r, _) => Ok(r),
    }
}

/// `create TABLE COLUMN[:KEY]=VALUE...` (`--id=@name` names the row):
/// prints the new row's uuid (replaced by the server's after the commit).
fn create(db: &mut Db, cmd: &Command) -> CmdResult {
    let t = db.table(&cmd.args[1])?;
    let uuid = match cmd.opt_value("--id") {
        Some(name) => db.symbols.declare(name)?,
        None => uuid::Uuid::new_v4(),
    };
    db.insert_as(t, uuid, vec![]);
    let r = db.rows[t].len() - 1;
    for spec in &cmd.args[2..] {
        set_one(db, t, r, spec)?;
    }
    Ok(format!("{uuid}\n"))
}

fn must_record(db: &Db, t: usize, id: &str, if_exists: bool) -> Result<Option<usize>, String> {
    match record(db, t, id)? {
        Some(r) => Ok(Some(r)),
        None if if_exists => Ok(None),
        None => Err(format!("no row \"{id}\" in table {}", db.ts(t).name)),
    }
}

fn list(db: &Db, cmd: &Command) -> CmdResult {
    let t = db.table(&cmd.args[1])?;
    let ts = db.ts(t);
    let mut cols: Vec<(String, Option<usize>)> = match cmd.opt_value("--columns") {
        Some(v) => v
            .split(',')
            .map(|c| {
                if c == "_uuid" {
                    Ok(("_uuid".to_string(), None))
                } else {
                    db.column(t, c)
                        .map(|i| (ts.columns[i].name.clone(), Some(i)))
                }
            })
            .collect::<Result<_, _>>()?,
        None => {
            let mut v: Vec<(String, Option<usize>)> = ts
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.name.starts_with('_'))
                .map(|(i, c)| (c.name.clone(), Some(i)))
                .collect();
            v.sort();
            v.insert(0, ("_uuid".into(), None));
            v
        }
    };
    cols.dedup();
    let rows: Vec<usize> = if cmd.args.len() > 2 {
        let mut v = Vec::new();
        for id in &cmd.args[2..] {
            if let Some(r) = must_record(db, t, id, cmd.has("--if-exists"))? {
                v.push(r);
            }
        }
        v
    } else {
        db.live(t).map(|(i, _)| i).collect()
    };
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        for (name, c) in &cols {
            let v = match c {
                None => db.rows[t][*r].uuid.to_string(),
                Some(c) => text::datum(&db.rows[t][*r].cols[*c], &ts.columns[*c].ty),
            };
            out.push_str(&format!("{name:<20}: {v}\n"));
        }
    }
    Ok(out)
}

fn get(db: &Db, cmd: &Command) -> CmdResult {
    let t = db.table(&cmd.args[1])?;
    let ts = db.ts(t);
    let Some(r) = must_record(db, t, &cmd.args[2], cmd.has("--if-exists"))? else {
        return Ok(String::new());
    };
    let mut out = String::new();
    for spec in &cmd.args[3..] {
        let (col, key) = match spec.split_once(':') {
            Some((c, k)) => (c, Some(k)),
            None => (spec.as_str(), None),
        };
        if col == "_uuid" {
            out.push_str(&format!("{}\n", db.rows[t][r].uuid));
            continue;
        }
        let c = db.column(t, col)?;
        let cs = &ts.columns[c];
        let d = &db.rows[t][r].cols[c];
        match key {
            None => out.push_str(&format!("{}\n", text::datum(d, &cs.ty))),
            Some(k) => {
                if !cs.ty.is_map() {
                    return Err(format!(
                        "cannot specify key to get for non-map column {}",
                        cs.name
                    ));
                }
                let ka = text::parse_key(&cs.ty, k, &db.symbols)?;
                let Datum::Map(pairs) = d else { unreachable!() };
                match pairs.iter().find(|(x, _)| *x == ka) {
                    Some((_, v)) => out.push_str(&format!("{}\n", text::atom(v))),
                    None if cmd.has("--if-exists") => {}
                    None => {
                        return Err(format!(
                            "no key \"{k}\" in {} record \"{}\" column {}",
                            ts.name, cmd.args[2], cs.name
                        ))
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `COLUMN[:KEY]=VALUE` on row `r` of table `t`.
fn set_one(db: &mut Db, t: usize, r: usize, spec: &str) -> Result<(), String> {
    let (lhs, value) = spec
        .split_once('=')
        .ok_or_else(|| format!("{spec}: argument does not end in \"=\" followed by a value."))?;
    let (col, key) = match lhs.split_once(':') {
        Some((c, k)) => (c, Some(k)),
        None => (lhs, None),
    };
    let c = db.column(t, col)?;
    let cs = db.ts(t).columns[c].clone();
    if !cs.mutable && !db.rows[t][r].new {
        return Err(format!(
            "cannot modify read-only column {} in table {}",
            cs.name,
            db.ts(t).name
        ));
    }
    let new = match key {
        None => text::parse_datum(&cs.ty, value, &db.symbols)?,
        Some(k) => {
            let vt = cs.ty.value.as_ref().ok_or_else(|| {
                format!("cannot specify key to set for non-map column {}", cs.name)
            })?;
            let ka = text::parse_key(&cs.ty, k, &db.symbols)?;
            let va = text::parse_atom(vt, value, &db.symbols)?;
            let Datum::Map(mut pairs) = db.rows[t][r].cols[c].clone() else {
                unreachable!()
            };
            pairs.retain(|(x, _)| *x != ka);
            pairs.push((ka, va));
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Datum::Map(pairs)
        }
    };
    db.set(t, r, c, new);
    Ok(())
}

fn modify(db: &mut Db, cmd: &Command) -> CmdResult {
    let a = &cmd.args;
    let t = db.table(&a[1])?;
    let Some(r) = must_record(db, t, &a[2], cmd.has("--if-exists"))? else {
        return Ok(String::new());
    };
    match a[0].as_str() {
        "set" => {
            for spec in &a[3..] {
                set_one(db, t, r, spec)?;
            }
        }
        "clear" => {
            for col in &a[3..] {
                let c = db.column(t, col)?;
                let cs = db.ts(t).columns[c].clone();
                if cs.ty.min > 0 {
                    return Err(format!(
                        "\"clear\" operation cannot be applied to column {} of table {}, which is not allowed to be empty",
                        cs.name,
                        db.ts(t).name
                    ));
                }
                db.set(t, r, c, Datum::default_for(&cs.ty));
            }
        }
        op => {
            let c = db.column(t, &a[3])?;
            let cs = db.ts(t).columns[c].clone();
            let mut d = db.rows[t][r].cols[c].clone();
            for v in &a[4..] {
                match (&mut d, op) {
                    (Datum::Map(pairs), "remove") => {
                        if v.contains('=') {
                            let x = text::parse_datum(&cs.ty, v, &db.symbols)?;
                            if let Datum::Map(rm) = x {
                                pairs.retain(|p| !rm.contains(p));
                            }
                        } else {
                            let k = text::parse_key(&cs.ty, v, &db.symbols)?;
                            pairs.retain(|(x, _)| *x != k);
                        }
                    }
                    (Datum::Set(items), "remove") => {
                        let Datum::Set(rm) = text::parse_datum(
                            &ovsdb::schema::ColumnType {
                                min: 0,
                                max: u64::MAX,
                                ..cs.ty.clone()
                            },
                            v,
                            &db.symbols,
                        )?
                        else {
                            unreachable!()
                        };
                        items.retain(|x| !rm.contains(x));
                    }
                    (d, _) => {
                        let add = text::parse_datum(
                            &ovsdb::schema::ColumnType {
                                min: 0,
                                max: u64::MAX,
                                ..cs.ty.clone()
                            },
                            v,
                            &db.symbols,
                        )?;
                        if let (Datum::Map(pairs), Datum::Map(new)) = (&mut *d, &add) {
                            for (k, x) in new {
                                if !pairs.iter().any(|(y, _)| y == k) {
                                    pairs.push((k.clone(), x.clone()));
                                }
                            }
                            pairs.sort_by(|a, b| a.0.cmp(&b.0));
                        } else {
                            d.union(&add);
                        }
                    }
                }
            }
            if (d.len() as u64) < cs.ty.min || (d.len() as u64) > cs.ty.max {
                return Err(format!(
                    "\"{op}\" operation would put {} values in column {} of table {} but the maximum number is {}",
                    d.len(),
                    cs.name,
                    db.ts(t).name,
                    cs.ty.max
                ));
            }
            db.set(t, r, c, d);
        }
    }
    Ok(String::new())
}
