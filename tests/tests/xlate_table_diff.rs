//! The differential suite of translation: every table file in
//! `tests/data/xlate-diff/` is loaded into ferrovs-vswitchd and into
//! Debian's ovs-vswitchd (`--enable-dummy`, netdev datapath, `dummy`
//! ports with the same OpenFlow port numbers), each packet of the file is
//! traced in both with `ofproto/trace`, and the `Datapath actions:` lines
//! (datapath port numbers replaced by port names, runs of outputs sorted)
//! and the `Megaflow:` lines must be equal; two actions lines that differ
//! only in the order of their outputs count as equal when each port gets
//! the same headers ([`canonical`]: OVS floods NORMAL's VLAN in an order
//! it does not reproduce from run to run). A difference that cannot be
//! fixed is listed in [`KNOWN`] with its reason; a listed difference that
//! is gone fails too, so that the list stays true.
//!
//! One pair of switches serves every file: the bridges and ports are
//! rebuilt only when a file's ports differ from the previous file's;
//! otherwise flows, groups, meters and MAC tables are cleared.
//!
//! The file format (one directive a line; blank lines and `#` comments
//! ignored; `@BR` picks a bridge, `br0` when left out):
//!
//! ```text
//! protocol OpenFlow13            ovs-ofctl -O for the file's flows
//! port [@BR] NAME OFPORT [K=V..] a dummy port; K is a Port column (tag,
//!                                trunks, vlan_mode) or peer=PEER, which
//!                                makes it a patch port to PEER
//! group [@BR] SPEC               ovs-ofctl -O OpenFlow15 add-group
//! meter [@BR] SPEC               ovs-ofctl -O OpenFlow15 add-meter
//! flow [@BR] FLOW                ovs-ofctl add-flow (all of a bridge's
//!                                flows go in one add-flows)
//! receive [@BR] PORT ODPFLOW     netdev-dummy/receive PORT ODPFLOW in both
//!                                (to fill MAC tables), then waits until
//!                                both switches' fdb/show of every
//!                                bridge list the same entries
//! trace [@BR] FLOW               ofproto/trace BR FLOW in both, compared
//! ```
//!
//! A file without `port` lines gets p1..p4 on br0 (OpenFlow ports 1..4).
//! `XLATE_DIFF_ONLY=SUBSTRING` runs only the files whose name contains it;
//! `XLATE_DIFF_VERBOSE=1` prints both traces of every packet.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::{dp_names, line_value, named_actions};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

/// Which line of a trace differs.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Line {
    Megaflow,
    Actions,
}

/// Differences from OVS kept on purpose: (file stem, traced flow, line,
/// reason). Each must still differ, or the test fails.
const KNOWN: &[(&str, &str, Line, &str)] = &[];

const PROTOCOLS: &str =
    "protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15";

/// One port of a table file.
#[derive(Clone, PartialEq, Debug)]
struct Port {
    bridge: String,
    name: String,
    ofport: u32,
    settings: Vec<(String, String)>,
}

/// A parsed table file.
#[derive(Default, Debug)]
struct Case {
    name: String,
    protocol: Option<String>,
    ports: Vec<Port>,
    groups: Vec<(String, String)>,
    meters: Vec<(String, String)>,
    flows: Vec<(String, String)>,
    /// (bridge, directive, argument): receives and traces in file order.
    steps: Vec<(String, Step)>,
}

#[derive(Debug)]
enum Step {
    Receive(String, String),
    Trace(String),
}

/// Splits an optional leading `@BR` off `rest`.
fn bridge_of(rest: &str) -> (String, &str) {
    match rest.strip_prefix('@') {
        Some(r) => {
            let (b, tail) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
            (b.to_string(), tail.trim())
        }
        None => ("br0".to_string(), rest.trim()),
    }
}

fn parse(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let mut c = Case {
        name: name.clone(),
        ..Case::default()
    };
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (word, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
        let (br, arg) = bridge_of(rest.trim());
        let bad = || panic!("{name}:{}: cannot read {raw:?}", n + 1);
        match word {
            "protocol" => c.protocol = Some(arg.to_string()),
            "port" => {
                let mut w = arg.split_whitespace();
                let (Some(pname), Some(ofport)) = (w.next(), w.next()) else {
                    bad()
                };
                let settings = w
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or_else(|| bad());
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                c.ports.push(Port {
                    bridge: br,
                    name: pname.to_string(),
                    ofport: ofport.parse().unwrap_or_else(|_| bad()),
                    settings,
                });
            }
            "group" => c.groups.push((br, arg.to_string())),
            "meter" => c.meters.push((br, arg.to_string())),
            "flow" => c.flows.push((br, arg.to_string())),
            "receive" => {
                let (port, flow) = arg.split_once(char::is_whitespace).unwrap_or_else(|| bad());
                c.steps
                    .push((br, Step::Receive(port.to_string(), flow.trim().to_string())));
            }
            "trace" => c.steps.push((br, Step::Trace(arg.to_string()))),
            _ => bad(),
        }
    }
    if c.ports.is_empty() {
        for k in 1..=4 {
            c.ports.push(Port {
                bridge: "br0".into(),
                name: format!("p{k}"),
                ofport: k,
                settings: Vec::new(),
            });
        }
    }
    c
}

/// `ovs-vsctl` arguments that delete `old` bridges and build `ports`'
/// bridges (fail_mode secure, every protocol, netdev datapath).
fn topology_args(old: &BTreeSet<String>, ports: &[Port], dir: &Path) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let sep = |a: &mut Vec<String>| {
        if !a.is_empty() {
            a.push("--".into());
        }
    };
    for b in old {
        sep(&mut a);
        a.extend(["--if-exists", "del-br", b].map(String::from));
    }
    let bridges: BTreeSet<&str> = ports.iter().map(|p| p.bridge.as_str()).collect();
    for b in &bridges {
        sep(&mut a);
        a.extend(["add-br", b].map(String::from));
        a.extend(
            [
                "--",
                "set",
                "bridge",
                b,
                "datapath_type=netdev",
                "fail_mode=secure",
                PROTOCOLS,
            ]
            .map(String::from),
        );
    }
    for p in ports {
        sep(&mut a);
        a.extend(["add-port", &p.bridge, &p.name].map(String::from));
        for (k, v) in &p.settings {
            if k != "peer" {
                a.push(format!("{k}={v}"));
            }
        }
        a.extend(["--", "set", "Interface", &p.name].map(String::from));
        match p.settings.iter().find(|(k, _)| k == "peer") {
            Some((_, peer)) => {
                a.push("type=patch".into());
                a.push(format!("options:peer={peer}"));
            }
            None => {
                a.push("type=dummy".into());
                a.push(format!(
                    "options:tx_pcap={}",
                    dir.join(format!("{}-tx.pcap", p.name)).display()
                ));
            }
        }
        a.push(format!("ofport_request={}", p.ofport));
    }
    a
}

/// Both switches and what they hold now.
struct Pair {
    ovs: OvsVswitchd,
    fv: FerrovsVswitchd,
    ports: Vec<Port>,
    bridges: BTreeSet<String>,
    ovs_names: BTreeMap<String, String>,
    fv_names: BTreeMap<String, String>,
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

impl Pair {
    fn start() -> Pair {
        let ovs = OvsVswitchd::start_dummy("br0").unwrap();
        let fv = FerrovsVswitchd::start().unwrap();
        Pair {
            ovs,
            fv,
            ports: Vec::new(),
            // OVS's guard made br0.
            bridges: ["br0".to_string()].into(),
            ovs_names: BTreeMap::new(),
            fv_names: BTreeMap::new(),
        }
    }

    fn ovs_appctl(&self, args: &[&str]) -> String {
        self.ovs
            .appctl(args)
            .unwrap_or_else(|e| panic!("OVS ovs-appctl {args:?}: {e}"))
    }

    /// `ovs-ofctl [opts] CMD BR ARGS` on both; the outputs.
    fn ofctl(&self, br: &str, opts: &[&str], cmd: &str, rest: &[&str]) -> (String, String) {
        let f = self.fv.ofctl(opts, cmd, br, rest);
        assert!(
            f.status.success(),
            "ferrovs ovs-ofctl {cmd} {br} {rest:?}: {}",
            String::from_utf8_lossy(&f.stderr)
        );
        let o = self
            .ovs
            .ofctl_on(&self.ovs.dir().join(format!("{br}.mgmt")), opts, cmd, rest)
            .unwrap_or_else(|e| panic!("OVS ovs-ofctl {cmd} {br} {rest:?}: {e}"));
        (String::from_utf8_lossy(&f.stdout).into_owned(), o)
    }

    /// Makes the switches hold `case`'s bridges and ports, with no flows,
    /// groups, meters or MAC entries.
    fn prepare(&mut self, case: &Case) {
        if self.ports != case.ports {
            let a = topology_args(&self.bridges, &case.ports, self.fv.dir());
            self.fv.vsctl_ok(&refs(&a));
            let a = topology_args(&self.bridges, &case.ports, self.ovs.dir());
            self.ovs
                .vsctl(&refs(&a))
                .unwrap_or_else(|e| panic!("OVS vsctl for {}: {e}", case.name));
            self.ports = case.ports.clone();
            self.bridges = case.ports.iter().map(|p| p.bridge.clone()).collect();
            for b in &self.bridges {
                self.fv.wait_for(&self.fv.mgmt_socket(b)).unwrap();
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                while !self.ovs.dir().join(format!("{b}.mgmt")).exists() {
                    assert!(std::time::Instant::now() < deadline, "OVS {b}.mgmt");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            self.ovs_names = dp_names(&self.ovs_appctl(&["dpif/show"]));
            self.fv_names = dp_names(&self.fv.appctl_ok(&["dpif/show"]));
        }
        let o15 = ["-O", "OpenFlow15"];
        for b in &self.bridges {
            self.ofctl(b, &o15, "del-flows", &[]);
            self.ofctl(b, &o15, "del-groups", &[]);
            self.ofctl(b, &o15, "del-meters", &[]);
            self.fv.appctl_ok(&["fdb/flush", b]);
            self.ovs_appctl(&["fdb/flush", b]);
        }
    }

    /// Loads `case`'s meters, groups and flows.
    fn load(&self, case: &Case) {
        let o15 = ["-O", "OpenFlow15"];
        for (b, m) in &case.meters {
            self.ofctl(b, &o15, "add-meter", &[m]);
        }
        for (b, g) in &case.groups {
            self.ofctl(b, &o15, "add-group", &[g]);
        }
        let opts: Vec<&str> = match &case.protocol {
            Some(p) => vec!["-O", p],
            None => vec![],
        };
        for b in &self.bridges {
            let flows: Vec<&str> = case
                .flows
                .iter()
                .filter(|(fb, _)| fb == b)
                .map(|(_, f)| f.as_str())
                .collect();
            if flows.is_empty() {
                continue;
            }
            let file = self.fv.dir().join(format!("{}-{b}.flows", case.name));
            std::fs::write(&file, flows.join("\n") + "\n").unwrap();
            let f = file.display().to_string();
            self.ofctl(b, &opts, "add-flows", &[&f]);
        }
    }

    /// Sends `flow` into `port` of both, then waits until the MAC tables
    /// of every bridge list the same (port, VLAN, MAC) entries in both.
    fn receive(&self, port: &str, flow: &str) {
        self.fv.appctl_ok(&["netdev-dummy/receive", port, flow]);
        self.ovs_appctl(&["netdev-dummy/receive", port, flow]);
        let entries = |s: &str| -> BTreeSet<String> {
            s.lines()
                .skip(1)
                .filter_map(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    (w.len() >= 3).then(|| format!("{} {} {}", w[0], w[1], w[2]))
                })
                .collect()
        };
        let same = |br: &str| {
            entries(&self.fv.appctl_ok(&["fdb/show", br]))
                == entries(&self.ovs_appctl(&["fdb/show", br]))
        };
        self.fv.wait_until(Duration::from_secs(3), || {
            self.bridges.iter().all(|b| same(b))
        });
        for br in &self.bridges {
            assert!(
                same(br),
                "fdb/show {br} after receive {port} {flow}:\nferrovs:\n{}\nOVS:\n{}",
                self.fv.appctl_ok(&["fdb/show", br]),
                self.ovs_appctl(&["fdb/show", br])
            );
        }
    }

    /// Traces `flow` in `br` of both: ((megaflow, actions) ferrovs,
    /// (megaflow, actions) OVS, both traces).
    fn trace(&self, br: &str, flow: &str) -> ((String, String), (String, String), String) {
        let o = self.ovs_appctl(&["ofproto/trace", br, flow]);
        let out = self.fv.appctl(&["ofproto/trace", br, flow]);
        let f = if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            format!("error: {}", String::from_utf8_lossy(&out.stderr))
        };
        let pick = |t: &str, names: &BTreeMap<String, String>| {
            (
                line_value(t, "Megaflow:").unwrap_or("(none)").to_string(),
                if line_value(t, "Datapath actions:").is_some() {
                    named_actions(t, names)
                } else {
                    "(no Datapath actions line)".to_string()
                },
            )
        };
        let ctx = format!("ferrovs:\n{f}\nOVS:\n{o}");
        (pick(&f, &self.fv_names), pick(&o, &self.ovs_names), ctx)
    }

    /// Runs one file; returns its problems and the number of traces.
    fn run(&mut self, case: &Case, used: &mut BTreeSet<usize>) -> (Vec<String>, usize) {
        self.prepare(case);
        self.load(case);
        let verbose = std::env::var_os("XLATE_DIFF_VERBOSE").is_some();
        let mut bad = Vec::new();
        let mut n = 0;
        for (br, step) in &case.steps {
            let flow = match step {
                Step::Receive(port, flow) => {
                    self.receive(port, flow);
                    continue;
                }
                Step::Trace(flow) => flow,
            };
            n += 1;
            let (f, o, ctx) = self.trace(br, flow);
            if verbose {
                eprintln!("=== {} {br} {flow}\n{ctx}", case.name);
            }
            let names: BTreeSet<&str> = case
                .ports
                .iter()
                .flat_map(|p| [p.name.as_str(), p.bridge.as_str()])
                .collect();
            let differs =
                if f.1 != o.1 && canonical(&f.1, &names, flow) != canonical(&o.1, &names, flow) {
                    Some((Line::Actions, format!("ferrovs {}\n  OVS     {}", f.1, o.1)))
                } else if f.0 != o.0 {
                    Some((
                        Line::Megaflow,
                        format!("ferrovs {}\n  OVS     {}", f.0, o.0),
                    ))
                } else {
                    None
                };
            let known = KNOWN
                .iter()
                .position(|(c, p, _, _)| *c == case.name && *p == flow.as_str());
            if let Some(k) = known {
                used.insert(k);
            }
            match (known.map(|k| &KNOWN[k]), differs) {
                (None, None) => {}
                (None, Some((line, what))) => bad.push(format!(
                    "{} @{br} {flow}: {line:?} differ\n  {what}\n{ctx}",
                    case.name
                )),
                (Some((_, _, kl, reason)), Some((line, _))) if *kl == line => {
                    let _ = reason;
                }
                (Some((_, _, kl, reason)), d) => bad.push(format!(
                    "{} @{br} {flow}: known {kl:?} difference ({reason}) is now {:?}\n{ctx}",
                    case.name,
                    d.map(|x| x.1)
                )),
            }
        }
        (bad, n)
    }
}

/// The datapath actions as what each port receives: every output becomes
/// `PORT[header changes so far]` (VLAN pushes and pops, the header fields
/// `set(...)`s left different from the traced packet's), and outputs
/// between two other actions are sorted; recirculation ids (of `recirc`
/// and of packet-in cookies) become `N`. Two lines with the same
/// canonical form send the same packets to the same ports. Used only when
/// the lines differ: OVS's order is not reproducible. NORMAL floods along
/// the bridge's xbundles list (`xlate_normal_flood`), built in the order
/// its reconfiguration walks `ofproto->bundles`, an hmap keyed by
/// `hash_pointer()` of bridge.c's port structs (heap addresses): two runs
/// of `15-neutron-node-patch-ports` flood the same packet to br-phys first
/// in one, to br-tun first in the other. So its order of outputs, where it
/// puts push_vlan and pop_vlan, and whether a rewrite comes before an
/// output or after it is undone, change from run to run.
fn canonical(actions: &str, ports: &BTreeSet<&str>, traced: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    // The traced packet's own tag, as push_vlan would print it.
    let field = |k: &str| {
        traced
            .split(',')
            .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
    };
    let mut vlans: Vec<String> = field("dl_vlan")
        .map(|v| format!("vid={v},pcp={}", field("dl_vlan_pcp").unwrap_or("0")))
        .into_iter()
        .collect();
    // Header fields the set(...) actions changed: (header.field) -> value;
    // a field set back to the traced packet's value is dropped, so that a
    // rewrite undone later leaves the same headers as no rewrite.
    let mut sets: BTreeMap<String, String> = BTreeMap::new();
    for a in ferrovs_tests::ovs_compare::split_actions(actions) {
        if ports.contains(a.as_str()) {
            let sets: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
            run.push(format!("{a}[{};{}]", vlans.join("/"), sets.join(",")));
        } else if let Some(v) = a.strip_prefix("push_vlan(") {
            vlans.push(v.trim_end_matches(')').to_string());
        } else if a == "pop_vlan" {
            vlans.pop();
        } else if let Some(inner) = a.strip_prefix("set(") {
            let (kind, fields) = inner.split_once('(').unwrap_or((inner, ""));
            for kv in fields.trim_end_matches(')').split(',') {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let key = format!("{kind}.{k}");
                let traced_value = set_field_key(&key).map(|t| field(t).unwrap_or(zero(v)));
                if traced_value == Some(v) {
                    sets.remove(&key);
                } else {
                    sets.insert(key, v.to_string());
                }
            }
        } else {
            run.sort();
            out.append(&mut run);
            let a = match a.find("recirc(0x") {
                Some(i) => format!("{}recirc(N)", &a[..i]),
                None => ferrovs_tests::ovs_compare::cookie_recirc_as_n(&a),
            };
            out.push(a);
        }
    }
    run.sort();
    out.append(&mut run);
    out.join(",")
}

/// The traced flow's key of a `set(...)` field (`eth.src` is `dl_src`).
fn set_field_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "eth.src" => "dl_src",
        "eth.dst" => "dl_dst",
        "arp.sip" => "arp_spa",
        "arp.tip" => "arp_tpa",
        "arp.op" => "arp_op",
        "arp.sha" => "arp_sha",
        "arp.tha" => "arp_tha",
        "ipv4.src" => "nw_src",
        "ipv4.dst" => "nw_dst",
        _ => return None,
    })
}

/// The value a field left out of a traced flow has, written as `v` is.
fn zero(v: &str) -> &'static str {
    if v.contains(':') {
        "00:00:00:00:00:00"
    } else if v.contains('.') {
        "0.0.0.0"
    } else {
        "0"
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/xlate-diff")
}

#[test]
fn tables_trace_as_ovs() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flows"))
        .collect();
    files.sort();
    let only = std::env::var("XLATE_DIFF_ONLY").ok();
    let all = only.is_none();
    let cases: Vec<Case> = files
        .iter()
        .filter(|p| {
            only.as_deref()
                .is_none_or(|o| p.file_name().unwrap().to_string_lossy().contains(o))
        })
        .map(|p| parse(p))
        .collect();
    if all {
        assert!(cases.len() >= 50, "only {} table files", cases.len());
    }
    let mut pair = Pair::start();
    let mut bad = Vec::new();
    let mut traces = 0;
    let mut used = BTreeSet::new();
    for c in &cases {
        let (b, n) = pair.run(c, &mut used);
        assert!(n > 0, "{}: no packet traced", c.name);
        traces += n;
        bad.extend(b);
    }
    if all {
        for (k, (c, p, _, _)) in KNOWN.iter().enumerate() {
            if !used.contains(&k) {
                bad.push(format!("KNOWN ({c}, {p}) matches no traced packet"));
            }
        }
    }
    eprintln!(
        "{} tables, {traces} traces, {} known differences",
        cases.len(),
        KNOWN.len()
    );
    assert!(
        bad.is_empty(),
        "{} problems in {traces} traces:\n{}",
        bad.len(),
        bad.join("\n----\n")
    );
}

#[test]
fn every_table_file_parses() {
    for e in std::fs::read_dir(data_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "flows") {
            let c = parse(&p);
            assert!(
                c.steps.iter().any(|(_, s)| matches!(s, Step::Trace(_))),
                "{}",
                c.name
            );
            for (b, _) in c.flows.iter().chain(&c.groups).chain(&c.meters) {
                assert!(
                    c.ports.iter().any(|p| &p.bridge == b),
                    "{}: bridge {b} has no port",
                    c.name
                );
            }
        }
    }
}

/// The canonical form: a rewrite undone later is no rewrite; a port that
/// gets the rewritten packet instead of the original differs.
#[test]
fn canonical_sees_what_each_port_gets() {
    let ports: BTreeSet<&str> = ["p1", "p2"].into_iter().collect();
    let traced = "in_port=3,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp";
    let reply = "set(eth(src=00:00:00:00:00:21,dst=00:00:00:00:00:01))";
    let back = "set(eth(src=00:00:00:00:00:01,dst=ff:ff:ff:ff:ff:ff))";
    let a = format!("{reply},p1,{back},p2");
    let b = format!("p2,{reply},p1");
    let c = format!("{reply},p1,p2");
    let f = |x: &str| canonical(x, &ports, traced);
    assert_eq!(f(&a), f(&b));
    assert_ne!(f(&a), f(&c));
    assert_eq!(
        f("push_vlan(vid=1,pcp=0),p1,pop_vlan,p2"),
        f("p2,push_vlan(vid=1,pcp=0),p1")
    );
}
