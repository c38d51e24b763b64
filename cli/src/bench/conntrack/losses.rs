//! Where the packets of the connection-rate figure died: the hosts' own
//! TCP counters (`nstat`, per namespace: SYNs the client sent again, SYNs
//! the listener dropped because its accept queue was full) and the
//! switch's (the firewall's drop rules' packet counts, the ports' drop
//! counts), taken before and after the run and printed as one note, so
//! that a failed connection attempt can be blamed on the switch or on a
//! host.

use std::path::Path;
use std::process::Command;

use super::super::topology::{run, Topology};

/// Counters of one instant.
#[derive(Default)]
pub struct Snapshot {
    h1: Vec<(String, u64)>,
    h2: Vec<(String, u64)>,
    /// Packets that hit the `+inv` drop rule and table 1's default drop.
    inv: u64,
    miss: u64,
    /// Sum of the switch ports' rx and tx drops.
    port_drops: u64,
    switch: bool,
    /// ferrovs's `netdev_rx_ring_full` coverage total.
    ring_full: Option<u64>,
    /// rx and tx drops of the four veth ends.
    veth_drops: u64,
}

/// The host counters reported (nstat names).
const H1: [&str; 2] = ["TcpExtTCPSynRetrans", "TcpRetransSegs"];
const H2: [&str; 3] = [
    "TcpExtListenOverflows",
    "TcpExtListenDrops",
    "TcpExtTCPReqQFullDrop",
];

/// The hosts' counters, and the switch's when `dir` is an OpenFlow
/// switch's run directory (its `br0.mgmt`); `ferrovs` adds ferrovs's
/// count of frames its AF_PACKET rings dropped.
pub fn snapshot(t: &Topology, dir: Option<&Path>, ferrovs: bool) -> Snapshot {
    let (inv, miss) = dir.map(drop_rules).unwrap_or_default();
    Snapshot {
        h1: nstat(t, &t.h1, &H1),
        h2: nstat(t, &t.h2, &H2),
        inv,
        miss,
        port_drops: dir.map(port_drops).unwrap_or_default(),
        switch: dir.is_some(),
        ring_full: dir.filter(|_| ferrovs).map(ring_full),
        veth_drops: veth_drops(t),
    }
}

/// One line: what grew from `a` to `b`.
pub fn note(a: &Snapshot, b: &Snapshot) -> String {
    let mut parts = Vec::new();
    let diff = |x: &[(String, u64)], y: &[(String, u64)], parts: &mut Vec<String>, who: &str| {
        for (name, v) in y {
            let before = x.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v);
            parts.push(format!("{who} {name} {}", v.saturating_sub(before)));
        }
    };
    diff(&a.h1, &b.h1, &mut parts, "client");
    diff(&a.h2, &b.h2, &mut parts, "server");
    parts.push(format!(
        "veth drops {}",
        b.veth_drops.saturating_sub(a.veth_drops)
    ));
    if !b.switch {
        return format!("TCP losses: {}", parts.join(", "));
    }
    if let (Some(x), Some(y)) = (a.ring_full, b.ring_full) {
        parts.push(format!("switch rx ring full {}", y.saturating_sub(x)));
    }
    parts.push(format!("switch +inv drops {}", b.inv.saturating_sub(a.inv)));
    parts.push(format!(
        "switch table-1 miss drops {}",
        b.miss.saturating_sub(a.miss)
    ));
    parts.push(format!(
        "switch port drops {}",
        b.port_drops.saturating_sub(a.port_drops)
    ));
    format!("TCP losses: {}", parts.join(", "))
}

fn nstat(t: &Topology, ns: &str, names: &[&str]) -> Vec<(String, u64)> {
    // -a absolute, -s no history file update, -z zeros too.
    let text = t.exec(ns, &["nstat", "-asz"]).unwrap_or_default();
    names
        .iter()
        .map(|n| {
            let v = text
                .lines()
                .find_map(|l| {
                    let mut w = l.split_whitespace();
                    (w.next()? == *n).then(|| w.next()?.parse().ok())?
                })
                .unwrap_or(0);
            (n.to_string(), v)
        })
        .collect()
}

/// rx_dropped + tx_dropped of the hosts' and the switch's veth ends.
fn veth_drops(t: &Topology) -> u64 {
    let mut sum = 0;
    for (ns, dev) in [
        (&t.h1, &t.h1_dev),
        (&t.h2, &t.h2_dev),
        (&t.sw, &t.p1),
        (&t.sw, &t.p2),
    ] {
        for c in ["rx_dropped", "tx_dropped"] {
            let f = format!("/sys/class/net/{dev}/statistics/{c}");
            sum += t
                .exec(ns, &["cat", &f])
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    sum
}

/// The `netdev_rx_ring_full` total of ferrovs's `coverage/show` (absent
/// while never hit: 0).
fn ring_full(dir: &Path) -> u64 {
    let text = super::firewall::appctl(dir, &["coverage/show"]).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("netdev_rx_ring_full "))
        .map_or(0, |l| field(l, "total: "))
}

fn mgmt(dir: &Path) -> String {
    format!("unix:{}", dir.join("br0.mgmt").display())
}

/// n_packets of table 1's `+inv` drop rule and of its priority-0 drop.
fn drop_rules(dir: &Path) -> (u64, u64) {
    let text = run(Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "dump-flows"])
        .arg(mgmt(dir))
        .arg("table=1"))
    .unwrap_or_default();
    let mut inv = 0;
    let mut miss = 0;
    for l in text.lines() {
        let n = field(l, "n_packets=");
        if l.contains("priority=50") && l.contains("+inv") {
            inv += n;
        } else if l.contains("priority=0") {
            miss += n;
        }
    }
    (inv, miss)
}

/// Sum of `drop=` in the rx and tx lines of ports 1 and 2 in
/// `ovs-ofctl dump-ports` (a port's tx line follows its rx line).
fn port_drops(dir: &Path) -> u64 {
    let text = run(Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "dump-ports"])
        .arg(mgmt(dir)))
    .unwrap_or_default();
    let mut local = false;
    let mut sum = 0;
    for l in text.lines() {
        if l.contains("port ") {
            local = l.contains("LOCAL");
        }
        if !local {
            sum += field(l, "drop=");
        }
    }
    sum
}

/// The number after `name` in `line` (0 if absent or `?`).
fn field(line: &str, name: &str) -> u64 {
    line.split_once(name)
        .and_then(|(_, r)| {
            let d: String = r.chars().take_while(char::is_ascii_digit).collect();
            d.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_of_ofctl_lines() {
        let l = " cookie=0x0, duration=3.1s, table=1, n_packets=17, n_bytes=1020, priority=50,ct_state=+inv+trk actions=drop";
        assert_eq!(field(l, "n_packets="), 17);
        let p = "  port  1: rx pkts=10, bytes=600, drop=3, errs=0, frame=0, over=0, crc=0";
        assert_eq!(field(p, "drop="), 3);
        assert_eq!(field("  tx pkts=1, bytes=?, drop=?, errs=?", "drop="), 0);
    }
}
