//! The datapath's megaflows as `dpctl/dump-flows [-m]` and
//! `dpif/dump-flows BRIDGE` print them, compared with Debian's
//! ovs-vswitchd given the same dummy ports, flows and packets: the same
//! lines once counters and durations are set aside, datapath port numbers
//! are replaced by names (the two switches number ports differently) and,
//! in the verbose form, the value of every fully wildcarded field is
//! blanked (OVS prints the first packet's value there, ferrovs the
//! stored, masked key's 0). Also `dpctl/show`, `dpctl/dump-dps`,
//! `dpctl/del-flows` and `upcall/show`'s flow limit from the database.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::{add_dummy_ports, dp_names};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

struct Pair {
    ovs: OvsVswitchd,
    fv: FerrovsVswitchd,
}

impl Pair {
    fn start(flows: &[&str]) -> Pair {
        let ovs = OvsVswitchd::start_dummy("br0").unwrap();
        let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
        let ports: &[(&str, &[&str])] = &[("p1", &[]), ("p2", &[]), ("p3", &[])];
        let a = add_dummy_ports(fv.dir(), "br0", ports);
        fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let a = add_dummy_ports(ovs.dir(), "br0", ports);
        ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        for f in flows {
            let out = fv.ofctl(&[], "add-flow", "br0", &[f]);
            assert!(out.status.success(), "{f}");
            ovs.ofctl(&[], "add-flow", &[f]).unwrap();
        }
        Pair { ovs, fv }
    }

    fn receive(&self, port: &str, pkt: &str) {
        self.fv.appctl_ok(&["netdev-dummy/receive", port, pkt]);
        self.ovs
            .appctl(&["netdev-dummy/receive", port, pkt])
            .unwrap();
    }

    /// Waits until both show `n` megaflows.
    fn wait_flows(&self, n: usize) {
        let count = |s: &str| s.lines().filter(|l| l.contains("actions:")).count();
        let ok = self.fv.wait_until(Duration::from_secs(5), || {
            count(&self.ovs.appctl(&["dpctl/dump-flows"]).unwrap()) == n
                && count(&self.fv.appctl_ok(&["dpctl/dump-flows"])) == n
        });
        assert!(
            ok,
            "OVS:\n{}\nferrovs:\n{}",
            self.ovs.appctl(&["dpctl/dump-flows"]).unwrap(),
            self.fv.appctl_ok(&["dpctl/dump-flows"])
        );
    }
}

/// A flow line without its UFID, counters and duration, with datapath
/// port numbers as names (`in_port(N)` and bare output actions).
fn normalize(line: &str, names: &BTreeMap<String, String>) -> String {
    let line = match line.strip_prefix("ufid:") {
        Some(rest) => rest
            .split_once([',', ' '])
            .map_or("", |(_, r)| r)
            .trim_start(),
        None => line,
    };
    let (key, rest) = line.split_once(", packets:").expect("a flow line");
    let actions = rest.split_once("actions:").map_or("", |(_, a)| a);
    // OVS's -m extra (miniflow bits) is not printed by ferrovs.
    let actions = actions.split(", dp-extra-info").next().unwrap_or("");
    let key = match key.split_once("in_port(") {
        Some((a, b)) => {
            let (n, tail) = b.split_once(')').unwrap();
            format!(
                "{a}in_port({}){tail}",
                names.get(n).map_or(n, String::as_str)
            )
        }
        None => key.to_string(),
    };
    let actions: Vec<String> = actions
        .split(',')
        .map(|a| names.get(a).cloned().unwrap_or_else(|| a.to_string()))
        .collect();
    // Known difference (verbose form): OVS names the first packet's L4
    // header even when the megaflow wildcards its protocol; ferrovs's
    // stored key has no protocol left, so no wholly wildcarded L4 part.
    let mut key = blank_wildcards(&key);
    for l4 in ["tcp", "udp", "sctp", "icmp", "icmpv6"] {
        for f in [["src", "dst"], ["type", "code"]] {
            key = key.replace(&format!(",{l4}({}=*/0,{}=*/0)", f[0], f[1]), "");
        }
    }
    format!("{key}, actions:{}", actions.join(","))
}

/// `name=V/M` and `name(V/M)` with an all-zero mask M (`0`, `0.0.0.0`,
/// `::`, `00:00:...`) lose their value V (fully wildcarded).
fn blank_wildcards(key: &str) -> String {
    let mut out = String::new();
    let mut rest = key;
    while let Some(i) = rest.find('/') {
        let (head, tail) = rest.split_at(i);
        let end = tail.find([',', ')']).unwrap_or(tail.len());
        let mask = &tail[1..end];
        out.push_str(head);
        let start = out.rfind(['=', '(']).map_or(0, |p| p + 1);
        if !mask.is_empty() && mask.chars().all(|c| matches!(c, '0' | '.' | ':')) {
            out.truncate(start);
            out.push('*');
        } else if let Some(v) = masked_value(&out[start..], mask) {
            // OVS prints the packet's value under a partial mask,
            // ferrovs the masked one: compare the bits the mask keeps.
            out.truncate(start);
            out.push_str(&v);
        }
        out.push_str(&tail[..end]);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `value & mask` for two dotted quads, or a decimal value and a hex
/// mask (`443/0xff00` -> `256`).
fn masked_value(value: &str, mask: &str) -> Option<String> {
    if let Some(m) = mask.strip_prefix("0x") {
        let m = u64::from_str_radix(m, 16).ok()?;
        let v: u64 = value.parse().ok()?;
        return Some((v & m).to_string());
    }
    let v: std::net::Ipv4Addr = value.parse().ok()?;
    let m: std::net::Ipv4Addr = mask.parse().ok()?;
    Some(std::net::Ipv4Addr::from(u32::from(v) & u32::from(m)).to_string())
}

fn flow_lines(dump: &str, names: &BTreeMap<String, String>) -> Vec<String> {
    let mut v: Vec<String> = dump
        .lines()
        .filter(|l| l.contains("actions:"))
        .map(|l| normalize(l, names))
        .collect();
    v.sort();
    v
}

fn tcp(src: u8, dst: u8, dport: u16) -> String {
    format!(
        "in_port(1),eth(src=50:54:00:00:00:0{src},dst=50:54:00:00:00:0{dst}),eth_type(0x0800),\
         ipv4(src=198.18.0.{src},dst=198.18.0.{dst},proto=6,tos=0,ttl=64,frag=no),\
         tcp(src=1234,dst={dport})"
    )
}

#[test]
fn dump_flows_match_ovs() {
    let p = Pair::start(&[
        "priority=100,tcp,tp_dst=80,actions=output:3",
        "priority=50,ip,nw_dst=198.18.0.0/16,actions=output:2",
        "priority=40,ipv6,actions=output:2",
        "priority=30,arp,actions=output:2,output:3",
        "priority=0,actions=drop",
    ]);
    p.receive("p1", &tcp(1, 2, 80));
    p.receive("p1", &tcp(1, 2, 443));
    p.receive(
        "p1",
        "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x86dd),\
         ipv6(src=2001:db8::1,dst=2001:db8::2,proto=17,tclass=0,hlimit=64,frag=no),\
         udp(src=1,dst=2)",
    );
    p.receive(
        "p1",
        "in_port(1),eth(src=50:54:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),\
         arp(sip=198.18.0.1,tip=198.18.0.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)",
    );
    p.wait_flows(4);
    let ovs_names = dp_names(&p.ovs.appctl(&["dpif/show"]).unwrap());
    let fv_names = dp_names(&p.fv.appctl_ok(&["dpif/show"]));
    for args in [
        &["dpctl/dump-flows"][..],
        &["dpctl/dump-flows", "-m"],
        &["dpif/dump-flows", "br0"],
        &["dpif/dump-flows", "-m", "br0"],
    ] {
        let o = p.ovs.appctl(args).unwrap();
        let f = p.fv.appctl_ok(args);
        assert_eq!(
            flow_lines(&f, &fv_names),
            flow_lines(&o, &ovs_names),
            "{args:?}\nferrovs:\n{f}\nOVS:\n{o}"
        );
    }
    // The names the verbose form prints are the ports' (in_port(p1)).
    let m = p.fv.appctl_ok(&["dpctl/dump-flows", "-m"]);
    assert!(m.contains("in_port(p1)"), "{m}");
    assert!(m.lines().any(|l| l.starts_with("ufid:")), "{m}");

    assert_eq!(
        p.fv.appctl_ok(&["dpctl/dump-dps"]),
        p.ovs.appctl(&["dpctl/dump-dps"]).unwrap()
    );
    // dpctl/show: the same header lines, the same flow count and each
    // dummy port listed with its type.
    let o = p.ovs.appctl(&["dpctl/show"]).unwrap();
    let f = p.fv.appctl_ok(&["dpctl/show"]);
    assert_eq!(f.lines().next(), o.lines().next(), "{f}\n{o}");
    assert!(f.contains("  flows: 4\n"), "{f}");
    for n in ["p1", "p2", "p3"] {
        let dummy = format!(": {n} (dummy)");
        assert!(o.contains(&dummy), "{o}");
        assert!(f.contains(&dummy), "{f}");
    }
    assert!(
        f.lines().nth(1).unwrap().starts_with("  lookups: hit:"),
        "{f}"
    );

    // memory/show: OVS's keys but its database cells, and the same
    // numbers of ports and megaflows ("udpif keys").
    let kv = |s: &str| -> BTreeMap<String, String> {
        let s = s.trim().replace("udpif keys", "udpif_keys");
        s.split(' ')
            .filter_map(|w| w.split_once(':'))
            .filter(|(k, _)| !k.starts_with("idl-cells"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let o = kv(&p.ovs.appctl(&["memory/show"]).unwrap());
    let f = kv(&p.fv.appctl_ok(&["memory/show"]));
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        o.keys().collect::<Vec<_>>(),
        "{f:?} {o:?}"
    );
    assert_eq!(f["ports"], o["ports"], "{f:?} {o:?}");
    assert_eq!(f["udpif_keys"], "4", "{f:?}");
    assert_eq!(o["udpif_keys"], "4", "{o:?}");
    assert_eq!(f["rules"], "5", "{f:?}");

    // coverage/show: OVS's header and line layout; the four megaflows
    // installed are counted.
    // OVS folds its per-thread counters into coverage/show about once a
    // second: wait for the megaflow puts to show there.
    let mut o = p.ovs.appctl(&["coverage/show"]).unwrap();
    for _ in 0..40 {
        if o.lines().any(|l| l.starts_with("dpif_flow_put ")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        o = p.ovs.appctl(&["coverage/show"]).unwrap();
    }
    let f = p.fv.appctl_ok(&["coverage/show"]);
    let head = "Event coverage, avg rate over last: 5 seconds, last minute, last hour,  hash=";
    assert!(o.starts_with(head) && f.starts_with(head), "{f}\n{o}");
    let put = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("dpif_flow_put "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{s}"))
    };
    let (fp, op) = (put(&f), put(&o));
    assert!(fp.ends_with("total: 4"), "{f}");
    // Same columns: name, three rates, total.
    let cols = |l: &str| {
        l.split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|c| !c.is_ascii_digit())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(cols(&fp), cols(&op), "{fp}\n{op}");
    assert_eq!(fp.find("/sec"), op.find("/sec"), "{fp}\n{op}");
    assert!(f.trim_end().ends_with("events never hit"), "{f}");

    p.fv.appctl_ok(&["dpctl/del-flows"]);
    p.ovs.appctl(&["dpctl/del-flows"]).unwrap();
    let ok = p.fv.wait_until(Duration::from_secs(5), || {
        p.fv.appctl_ok(&["dpctl/dump-flows"]).is_empty()
    });
    assert!(ok, "{}", p.fv.appctl_ok(&["dpctl/dump-flows"]));
    assert_eq!(p.ovs.appctl(&["dpctl/dump-flows"]).unwrap(), "");
    let e = p.fv.appctl(&["dpif/dump-flows", "nobr"]);
    assert!(!e.status.success());
}

/// `upcall/show`'s limit: OVS shows its dynamic flow limit, which starts
/// at the smaller of `other_config:flow-limit` and 10,000.
#[test]
fn upcall_show_flow_limit_matches_ovs() {
    let p = Pair::start(&["actions=drop"]);
    let limit = |s: &str| {
        s.split("(limit ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{s}"))
    };
    let o = p.ovs.appctl(&["upcall/show"]).unwrap();
    let f = p.fv.appctl_ok(&["upcall/show"]);
    assert_eq!(limit(&f), limit(&o), "ferrovs:\n{f}\nOVS:\n{o}");
    let set = ["set", "Open_vSwitch", ".", "other_config:flow-limit=3000"];
    p.fv.vsctl_ok(&set);
    p.ovs.vsctl(&set).unwrap();
    // Both apply it by the next revalidation round.
    p.fv.appctl_ok(&["revalidator/wait"]);
    p.ovs.appctl(&["revalidator/wait"]).unwrap();
    let ok = p.fv.wait_until(Duration::from_secs(5), || {
        limit(&p.fv.appctl_ok(&["upcall/show"])) == "3000"
            && limit(&p.ovs.appctl(&["upcall/show"]).unwrap()) == "3000"
    });
    assert!(
        ok,
        "ferrovs:\n{}\nOVS:\n{}",
        p.fv.appctl_ok(&["upcall/show"]),
        p.ovs.appctl(&["upcall/show"]).unwrap()
    );
}

/// `ofproto/trace --format=json`: the text trace's parts as JSON; its
/// megaflow is OVS's `Megaflow:` line for the same tables and packet.
#[test]
fn trace_json_has_the_text_traces_parts() {
    let p = Pair::start(&[
        "table=0,priority=100,ip,actions=resubmit(,1)",
        "table=0,priority=0,actions=drop",
        "table=1,priority=50,ip,nw_dst=198.18.0.0/16,actions=output:2",
    ]);
    let flow = "in_port=1,ip,nw_src=198.18.0.1,nw_dst=198.18.0.2";
    let text = p.fv.appctl_ok(&["ofproto/trace", "br0", flow]);
    let out =
        p.fv.appctl_ok(&["ofproto/trace", "br0", flow, "--format=json"]);
    let j: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let line = |t: &str, prefix: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix}\n{t}"))
            .to_string()
    };
    assert_eq!(j["megaflow"], line(&text, "Megaflow: "), "{out}");
    assert_eq!(j["datapath_actions"], line(&text, "Datapath actions: "));
    let ovs = p.ovs.appctl(&["ofproto/trace", "br0", flow]).unwrap();
    assert_eq!(j["megaflow"], line(&ovs, "Megaflow: "), "{out}\n{ovs}");
    assert_eq!(j["bridges"][0]["bridge"], "br0");
    let tables = j["bridges"][0]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2, "{out}");
    assert_eq!(tables[0]["table"], 0);
    assert_eq!(tables[0]["actions"][0], "resubmit(,1)");
    assert_eq!(tables[1]["table"], 1);
    assert_eq!(tables[1]["depth"], 1);
    assert!(
        tables[1]["rule"].as_str().unwrap().contains("priority 50"),
        "{out}"
    );
    let bad = p.fv.appctl(&["ofproto/trace", "br0", flow, "--format=xml"]);
    assert!(!bad.status.success());
}

/// `ofproto/trace-packet-out`: the same trace as OVS's for the same
/// actions, tables and packet (datapath ports by name).
#[test]
fn trace_packet_out_matches_ovs() {
    let p = Pair::start(&[
        "ip,nw_dst=198.18.0.2,actions=output:2",
        "priority=0,actions=drop",
    ]);
    let ovs_names = dp_names(&p.ovs.appctl(&["dpif/show"]).unwrap());
    let fv_names = dp_names(&p.fv.appctl_ok(&["dpif/show"]));
    let flow = "in_port=1,ip,nw_dst=198.18.0.2";
    for acts in [
        "output:2,resubmit(,0)",
        "mod_nw_dst:198.18.0.9,output:3",
        "drop",
    ] {
        let args = ["ofproto/trace-packet-out", "br0", flow, acts];
        let o = p.ovs.appctl(&args).unwrap();
        let f = p.fv.appctl_ok(&args);
        // The Flow: and a changed Final flow: line are printed as by
        // ofproto/trace, which shows only the packet's nonzero fields
        // (a known difference of the trace text, outside this command).
        let body = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with("Datapath actions:") && !l.starts_with("Flow:"))
                .map(|l| match l.strip_prefix("Final flow: ") {
                    Some(v) if v != "unchanged" => "Final flow: (changed)".to_string(),
                    _ => l.to_string(),
                })
                .collect()
        };
        assert_eq!(body(&f), body(&o), "{acts}\nferrovs:\n{f}\nOVS:\n{o}");
        assert_eq!(
            ferrovs_tests::ovs_compare::named_actions(&f, &fv_names),
            ferrovs_tests::ovs_compare::named_actions(&o, &ovs_names),
            "{acts}\nferrovs:\n{f}\nOVS:\n{o}"
        );
    }
    let bad =
        p.fv.appctl(&["ofproto/trace-packet-out", "br0", flow, "no_such_action"]);
    assert!(!bad.status.success());
}
