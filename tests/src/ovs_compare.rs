//! Side-by-side comparison with Debian's ovs-vswitchd: the same dummy
//! ports on both switches, and the lines of `ofproto/trace` and
//! `dpctl/dump-flows` put in a form where only meaningful differences
//! remain (datapath port numbers become port names, runs of outputs are
//! sorted since OVS floods in hash order). [`Sw`] drives either switch
//! with the same calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ferrovs_vswitchd::FerrovsVswitchd;
use crate::ovs_vswitchd::OvsVswitchd;

/// The two switches of a comparison, driven alike on bridge `br0` (the
/// bridge of [`OvsVswitchd::start_dummy`]`("br0")`); every command must
/// succeed.
pub enum Sw {
    F(FerrovsVswitchd),
    O(OvsVswitchd),
}

impl Sw {
    pub fn name(&self) -> &'static str {
        match self {
            Sw::F(_) => "ferrovs",
            Sw::O(_) => "OVS",
        }
    }
    pub fn dir(&self) -> &Path {
        match self {
            Sw::F(f) => f.dir(),
            Sw::O(o) => o.dir(),
        }
    }
    /// `br0`'s management socket.
    pub fn mgmt(&self) -> PathBuf {
        match self {
            Sw::F(f) => f.mgmt_socket("br0"),
            Sw::O(o) => o.mgmt_socket(),
        }
    }
    pub fn vsctl(&self, args: &[&str]) -> String {
        match self {
            Sw::F(f) => f.vsctl_ok(args),
            Sw::O(o) => o.vsctl(args).unwrap(),
        }
    }
    pub fn appctl(&self, args: &[&str]) -> String {
        match self {
            Sw::F(f) => f.appctl_ok(args),
            Sw::O(o) => o.appctl(args).unwrap(),
        }
    }
    /// `ovs-ofctl OPTS CMD br0 REST`; returns stdout.
    pub fn ofctl(&self, opts: &[&str], cmd: &str, rest: &[&str]) -> String {
        match self {
            Sw::F(f) => f.ofctl_ok(opts, cmd, "br0", rest),
            Sw::O(o) => o.ofctl(opts, cmd, rest).unwrap(),
        }
    }
}

/// `ovs-vsctl` arguments that add dummy ports `ports` (name, extra
/// settings such as `tag=10`) to `bridge` with ofport_request 1..N, each
/// recording its output in `DIR/NAME-tx.pcap`.
pub fn add_dummy_ports(dir: &Path, bridge: &str, ports: &[(&str, &[&str])]) -> Vec<String> {
    let mut a = Vec::new();
    for (k, (name, extra)) in ports.iter().enumerate() {
        if !a.is_empty() {
            a.push("--".to_string());
        }
        a.extend(["add-port", bridge, name].map(String::from));
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["--", "set", "Interface", name, "type=dummy"].map(String::from));
        a.push(format!("ofport_request={}", k + 1));
        a.push(format!(
            "options:tx_pcap={}",
            dir.join(format!("{name}-tx.pcap")).display()
        ));
    }
    a
}

/// `NAME OFPORT/DPPORT` lines of `dpif/show` -> datapath port -> name.
pub fn dp_names(dpif_show: &str) -> BTreeMap<String, String> {
    dp_names_with(dpif_show, |_, name| name.to_string())
}

/// Like [`dp_names`], the name given by `name(LINE, NAME)` (a tunnel
/// port, say, by its shared datapath port's name).
pub fn dp_names_with(
    dpif_show: &str,
    name: impl Fn(&str, &str) -> String,
) -> BTreeMap<String, String> {
    dpif_show
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let port = w.next()?;
            let nums = w.next()?.strip_suffix(':')?;
            let (_, dp) = nums.split_once('/')?;
            Some((dp.to_string(), name(l, port)))
        })
        .collect()
}

/// The value of the first line of `text` starting with `prefix`.
pub fn line_value<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .map(|l| l[prefix.len()..].trim())
}

/// The `Datapath actions:` line with each datapath port number replaced
/// by its port's name (bare numbers are output ports), runs of outputs
/// between two other actions sorted.
pub fn named_actions(trace: &str, names: &BTreeMap<String, String>) -> String {
    let body = line_value(trace, "Datapath actions:")
        .unwrap_or_else(|| panic!("no Datapath actions line:\n{trace}"));
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for a in split_actions(body) {
        match names.get(&a) {
            Some(n) => run.push(n.clone()),
            None => {
                run.sort();
                out.append(&mut run);
                out.push(a);
            }
        }
    }
    run.sort();
    out.append(&mut run);
    out.join(",")
}

/// Splits datapath actions at the commas outside parentheses.
pub fn split_actions(s: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                v.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        v.push(cur);
    }
    v
}

/// `actions` with the recirculation id of every packet-in's cookie
/// (`userspace(...,controller(...,recirc_id=7,...))`) written `N`: the
/// two switches number their frozen states apart.
pub fn cookie_recirc_as_n(actions: &str) -> String {
    const KEY: &str = ",recirc_id=";
    let mut out = String::with_capacity(actions.len());
    let mut rest = actions;
    while let Some(i) = rest.find(KEY) {
        let (head, tail) = rest.split_at(i + KEY.len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !out.contains("controller(reason=") {
            rest = tail;
            continue;
        }
        out.push('N');
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// The recirculation ids that `dpctl/dump-flows` lines recirculate to
/// (`recirc(0xN)` actions), in order of appearance.
pub fn recirc_targets(dump: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for l in dump.lines() {
        let mut rest = l;
        while let Some(i) = rest.find("recirc(0x") {
            rest = &rest[i + 9..];
            let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            if let Ok(n) = u32::from_str_radix(&hex, 16) {
                v.push(n);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn cookie_recirc_ids_become_n() {
        assert_eq!(
            super::cookie_recirc_as_n(
                "1,userspace(pid=0,controller(reason=2,dont_send=1,continuation=0,\
                 recirc_id=12,rule_cookie=0)),recirc(0x3)"
            ),
            "1,userspace(pid=0,controller(reason=2,dont_send=1,continuation=0,\
             recirc_id=N,rule_cookie=0)),recirc(0x3)"
        );
        assert_eq!(super::cookie_recirc_as_n("recirc_id=5,x"), "recirc_id=5,x");
    }
}
