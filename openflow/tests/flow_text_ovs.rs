//! The flow corpus against the real OVS: every line of
//! `tests/data/flows.txt` is added to Debian's ovs-vswitchd (userspace
//! bridge, started by the `OvsVswitchd` guard) and dumped back with
//! `ovs-ofctl dump-flows --no-stats`; ferrovs parses the same line,
//! normalizes it for the OpenFlow version used and prints it. The two
//! lines must be identical. Run in OpenFlow 1.5 (every flow) and OpenFlow
//! 1.0 + NXM (ovs-ofctl's default) and OpenFlow 1.3 (what Neutron's agent
//! speaks), each for the flows OVS can encode in that version.

use ferrovs_openflow::text::{normalize, parse_flow, WireVersion};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;
use std::path::Path;

fn corpus() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/flows.txt");
    std::fs::read_to_string(path)
        .expect("corpus file")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Adds `flow` alone to the bridge and returns OVS's dump line, or the
/// error ovs-ofctl printed.
fn ovs_canonical(ovs: &OvsVswitchd, br: &Path, ver: &str, flow: &str) -> Result<String, String> {
    let of = |opts: &[&str], cmd: &str, rest: &[&str]| {
        ovs.ofctl_on(br, opts, cmd, rest).map_err(|e| e.to_string())
    };
    of(&["-O", ver], "del-flows", &[])?;
    of(&["-O", ver], "add-flow", &[flow])?;
    let out = of(&["-O", ver, "--no-stats"], "dump-flows", &[])?;
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains("_REPLY") && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    match lines.as_slice() {
        [one] => Ok(one.to_string()),
        other => Err(format!("expected one flow in dump, got {other:?}")),
    }
}

/// Compares every corpus flow in `ver`; returns (which flows OVS accepted
/// in this version, mismatch reports).
fn run(ovs: &OvsVswitchd, flows: &[String], ver: WireVersion) -> (Vec<bool>, Vec<String>) {
    // One bridge per version so that the versions run in parallel.
    let br = ovs
        .add_bridge(&format!(
            "fvsof{}",
            ver.ofctl_name().trim_start_matches("OpenFlow")
        ))
        .expect("add bridge");
    for g in [
        "group_id=1,type=all,bucket=output:1",
        "group_id=2,type=select,bucket=output:2,bucket=output:3",
    ] {
        ovs.ofctl_on(&br, &["-O", "OpenFlow15"], "add-group", &[g])
            .expect("add-group");
    }
    ovs.ofctl_on(
        &br,
        &["-O", "OpenFlow15"],
        "add-meter",
        &["meter=1,kbps,band=type=drop,rate=100"],
    )
    .expect("add-meter");
    let mut failures = Vec::new();
    let mut accepted = vec![false; flows.len()];
    // ferrovs's line for every flow, and the flow's identity in a table
    // (table, priority, match): flows with distinct identities can be
    // added together and compared as a set, which saves most of the
    // ovs-ofctl runs. Any batch that does not come back identical is redone
    // flow by flow, which gives the exact diagnostics.
    let ours: Vec<Result<(String, String), String>> = flows
        .iter()
        .map(|flow| {
            let mut f = parse_flow(flow).map_err(|e| e.to_string())?;
            normalize(&mut f, ver);
            let key = format!("{:?} {}", f.table, f.matches.format(Some(f.priority)));
            Ok((key, f.format()))
        })
        .collect();
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut keys: Vec<std::collections::HashSet<String>> = Vec::new();
    for (i, o) in ours.iter().enumerate() {
        let Ok((key, _)) = o else {
            batches.push(vec![i]);
            keys.push(Default::default());
            continue;
        };
        match keys.iter().position(|k| k.len() < 64 && !k.contains(key)) {
            Some(b) => {
                batches[b].push(i);
                keys[b].insert(key.clone());
            }
            None => {
                batches.push(vec![i]);
                keys.push([key.clone()].into_iter().collect());
            }
        }
    }
    let file = ovs.dir().join(format!("batch-{}.txt", ver.ofctl_name()));
    let v = ver.ofctl_name();
    // A batch OVS rejects (one bad flow fails all of `add-flows`) is split
    // in halves until the rejected flows are alone.
    let mut work: Vec<Vec<usize>> = batches;
    let mut singles = 0;
    while let Some(batch) = work.pop() {
        if batch.len() > 1 {
            let text: String = batch.iter().map(|&i| format!("{}\n", flows[i])).collect();
            std::fs::write(&file, text).expect("write batch");
            let f = file.to_str().expect("utf-8 path");
            let _ = ovs.ofctl_on(&br, &["-O", v], "del-flows", &[]);
            if ovs.ofctl_on(&br, &["-O", v], "add-flows", &[f]).is_err() {
                let (x, y) = batch.split_at(batch.len() / 2);
                work.push(x.to_vec());
                work.push(y.to_vec());
                continue;
            }
            let out = ovs
                .ofctl_on(&br, &["-O", v, "--no-stats"], "dump-flows", &[])
                .expect("dump-flows");
            let mut theirs: Vec<&str> = out
                .lines()
                .filter(|l| !l.contains("_REPLY") && !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let mut mine: Vec<&str> = batch
                .iter()
                .map(|&i| ours[i].as_ref().expect("batched flows parsed").1.as_str())
                .collect();
            theirs.sort_unstable();
            mine.sort_unstable();
            if theirs == mine {
                for &i in &batch {
                    accepted[i] = true;
                }
                continue;
            }
        }
        // Alone, or the batch differed: one flow at a time, for the exact
        // diagnostics.
        singles += batch.len();
        for &i in &batch {
            let flow = &flows[i];
            let Ok(ovs_line) = ovs_canonical(ovs, &br, v, flow) else {
                continue;
            };
            accepted[i] = true;
            match &ours[i] {
                Err(e) => failures.push(format!("ferrovs rejected {flow}: {e}")),
                Ok((_, line)) if *line != ovs_line => failures.push(format!(
                    "[{v}] flow: {flow}\n  ovs:     {ovs_line}\n  ferrovs: {line}"
                )),
                Ok(_) => {}
            }
        }
    }
    eprintln!(
        "{}: {} flows, {} compared with OVS ({singles} one by one), {} failures",
        ver.ofctl_name(),
        flows.len(),
        accepted.iter().filter(|a| **a).count(),
        failures.len()
    );
    (accepted, failures)
}

#[test]
fn corpus_prints_like_ovs() {
    let flows = corpus();
    assert!(flows.len() >= 300, "corpus has only {} flows", flows.len());
    let ovs = OvsVswitchd::start("fvsbr0").expect("start ovs-vswitchd");
    let versions = [WireVersion::Of10, WireVersion::Of13, WireVersion::Of15];
    let results: Vec<(Vec<bool>, Vec<String>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = versions
            .iter()
            .map(|v| {
                let (ovs, flows) = (&ovs, &flows);
                sc.spawn(move || run(ovs, flows, *v))
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("version run"))
            .collect()
    });
    let mut failures: Vec<String> = results.iter().flat_map(|r| r.1.clone()).collect();
    // Every corpus flow must be a real flow: OVS accepts it in at least one
    // of the versions (fin_timeout exists only in OpenFlow 1.0 + NXM,
    // meters and write_actions only in 1.1+).
    for (i, flow) in flows.iter().enumerate() {
        if results.iter().all(|r| !r.0[i]) {
            failures.push(format!("OVS rejects corpus flow in every version: {flow}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A small deterministic generator (xorshift) so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn mac(&mut self) -> String {
        let b = self.next().to_be_bytes();
        format!("00:00:5e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
    }
    fn ip4(&mut self) -> String {
        let b = self.next().to_be_bytes();
        format!("198.{}.{}.{}", 18 + (b[0] & 1), b[1], b[2])
    }
    fn ip6(&mut self) -> String {
        let x = self.next();
        format!("2001:db8:{:x}::{:x}", x & 0xffff, (x >> 16) & 0xffff)
    }
}

/// One random flow: a protocol, a few fields that fit it, a few actions.
fn random_flow(g: &mut Gen) -> String {
    let proto = g.pick(&[
        "", "ip", "ipv6", "tcp", "tcp6", "udp", "udp6", "icmp", "icmp6", "arp", "mpls", "sctp",
    ]);
    let mut parts: Vec<String> = Vec::new();
    if g.below(3) == 0 {
        parts.push(format!("table={}", g.below(20)));
    }
    if g.below(2) == 0 {
        parts.push(format!("priority={}", g.below(65536)));
    }
    if g.below(4) == 0 {
        parts.push(format!("cookie={:#x}", g.next() >> g.below(64)));
    }
    if !proto.is_empty() {
        parts.push(proto.to_string());
    }
    let ip4 = matches!(proto, "ip" | "tcp" | "udp" | "icmp" | "sctp");
    let ip6 = matches!(proto, "ipv6" | "tcp6" | "udp6" | "icmp6");
    for _ in 0..g.below(5) {
        let f = match g.below(20) {
            0 => format!("in_port={}", 1 + g.below(100)),
            1 => format!("dl_src={}", g.mac()),
            2 => format!("dl_dst={}/ff:ff:ff:00:00:00", g.mac()),
            3 => format!("dl_vlan={}", g.below(4095)),
            4 => format!("reg{}={:#x}/{:#x}", g.below(16), g.below(1 << 20), 0xfffff),
            5 => format!("metadata={:#x}", g.next() >> 8),
            6 => format!("tun_id={:#x}", g.below(1 << 24)),
            7 => format!(
                "ct_state={}",
                g.pick(&["+trk", "-trk", "+trk+est", "+trk+new-est", "+trk-inv+rpl"])
            ),
            8 => format!("ct_mark={:#x}/{:#x}", g.below(256), 0xff),
            9 => format!("pkt_mark={:#x}", g.below(1 << 16)),
            10 => format!("tun_src={}", g.ip4()),
            11 => format!("dl_vlan_pcp={}", g.below(8)),
            12 => format!("ct_zone={}", g.below(65536)),
            13 => format!("vlan_tci={:#06x}/0x1fff", 0x1000 | g.below(4096)),
            14 => format!("ct_label={:#x}/0xffff", g.below(1 << 16)),
            15 => format!("tun_dst={}/{}", g.ip4(), 8 + g.below(25)),
            16 => format!("xreg{}={:#x}", g.below(8), g.next() >> 4),
            17 => format!("tun_flags={}", g.pick(&["+oam", "-oam"])),
            18 => format!("conj_id={}", g.below(1000)),
            _ => format!("reg{}={:#x}", g.below(16), g.next() as u32),
        };
        parts.push(f);
    }
    if ip4 || ip6 {
        for _ in 0..g.below(4) {
            let f = match g.below(6) {
                0 if ip4 => format!("nw_src={}/{}", g.ip4(), 8 + g.below(25)),
                1 if ip4 => format!("nw_dst={}", g.ip4()),
                0 => format!("ipv6_src={}/{}", g.ip6(), 32 + g.below(97)),
                1 => format!("ipv6_label={:#x}", g.below(1 << 20)),
                2 => format!("nw_tos={}", 4 * g.below(64)),
                3 => format!("nw_ecn={}", g.below(4)),
                4 => format!("nw_ttl={}", g.below(256)),
                _ => format!(
                    "nw_frag={}",
                    g.pick(&["no", "yes", "first", "later", "not_later"])
                ),
            };
            parts.push(f);
        }
    }
    match proto {
        "tcp" | "tcp6" | "udp" | "udp6" | "sctp" => {
            if g.below(2) == 0 {
                parts.push(format!("tp_dst={}", g.below(65536)));
            }
            if g.below(2) == 0 {
                parts.push(format!("tp_src={:#x}/0xff00", g.below(256) << 8));
            }
            if proto.starts_with("tcp") && g.below(2) == 0 {
                parts.push(format!(
                    "tcp_flags={}",
                    g.pick(&["+syn", "+syn-ack", "-rst+fin", "+ack+psh"])
                ));
            }
        }
        "icmp" => parts.push(format!(
            "icmp_type={},icmp_code={}",
            g.below(256),
            g.below(256)
        )),
        "icmp6" => {
            if g.below(2) == 0 {
                parts.push(format!("icmp_type=135,nd_target={}", g.ip6()));
            } else {
                parts.push(format!("icmp_type={}", g.below(256)));
            }
        }
        "arp" => {
            parts.push(format!("arp_op={}", 1 + g.below(2)));
            if g.below(2) == 0 {
                parts.push(format!("arp_sha={}", g.mac()));
            }
            parts.push(format!("arp_spa={}", g.ip4()));
            if g.below(2) == 0 {
                parts.push(format!("arp_tha={}", g.mac()));
            }
        }
        "mpls" => parts.push(format!(
            "mpls_label={},mpls_tc={}",
            g.below(1 << 20),
            g.below(8)
        )),
        _ => {}
    }
    let mut acts: Vec<String> = Vec::new();
    let tp = matches!(proto, "tcp" | "tcp6" | "udp" | "udp6");
    for _ in 0..1 + g.below(4) {
        let a = match g.below(30) {
            0 => format!("output:{}", 1 + g.below(60000)),
            1 => format!("resubmit(,{})", g.below(254)),
            2 => {
                let lo = g.below(16);
                format!("load:{:#x}->NXM_NX_REG{}[{}..{}]", g.below(1 << 8), g.below(16), lo, lo + 7)
            }
            3 => format!("set_field:{:#x}->reg{}", g.next() as u32, g.below(16)),
            4 => format!("move:NXM_NX_REG{}[0..15]->NXM_NX_REG{}[16..31]", g.below(16), g.below(16)),
            5 => format!("mod_dl_src:{}", g.mac()),
            6 => format!("mod_vlan_vid:{}", g.below(4096)),
            7 => "strip_vlan".to_string(),
            8 if ip4 || ip6 => format!("ct(commit,zone={})", g.below(65536)),
            9 if ip4 || ip6 => "dec_ttl".to_string(),
            10 => format!("note:{:02x}.{:02x}", g.below(256), g.below(256)),
            11 => format!("controller(max_len={})", g.below(65535)),
            12 => format!("set_field:{}->eth_dst", g.mac()),
            13 if ip4 => format!("mod_nw_src:{}", g.ip4()),
            14 if ip4 => format!("set_field:{}->ip_dst", g.ip4()),
            15 if tp => format!("mod_tp_dst:{}", g.below(65536)),
            16 if ip4 || ip6 => format!("mod_nw_tos:{}", 4 * g.below(64)),
            17 => format!("push:NXM_NX_REG{}[]", g.below(16)),
            18 => format!("pop:NXM_NX_REG{}[0..15]", g.below(16)),
            19 => format!(
                "learn(table={},idle_timeout={},NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_NX_REG{}[]->NXM_NX_REG{}[],output:NXM_OF_IN_PORT[])",
                g.below(254), g.below(1000), g.below(16), g.below(16)
            ),
            20 => format!(
                "bundle({},{},{},ofport,members:{},{})",
                g.pick(&["eth_src", "symmetric_l4", "symmetric_l3l4"]),
                g.below(100),
                g.pick(&["hrw", "active_backup"]),
                1 + g.below(10),
                11 + g.below(10)
            ),
            21 => format!(
                "multipath({},{},{},{},0,NXM_NX_REG{}[0..7])",
                g.pick(&["eth_src", "symmetric_l4", "symmetric_l3"]),
                g.below(1000),
                g.pick(&["modulo_n", "hash_threshold", "hrw", "iter_hash"]),
                1 + g.below(32),
                g.below(16)
            ),
            22 if ip4 => format!("ct(commit,nat(src={}))", g.ip4()),
            23 if ip4 || ip6 => format!("ct(table={},zone=NXM_NX_REG{}[0..15])", g.below(254), g.below(16)),
            24 => format!("set_queue:{}", g.below(100)),
            25 => format!("enqueue:{}:{}", 1 + g.below(100), g.below(100)),
            26 => format!("clone(output:{})", 1 + g.below(100)),
            27 => format!("set_tunnel:{:#x}", g.below(1 << 24)),
            28 => format!("output:NXM_NX_REG{}[0..15]", g.below(16)),
            _ => g.pick(&["NORMAL", "LOCAL", "IN_PORT", "FLOOD", "exit", "ct_clear"]).to_string(),
        };
        acts.push(a);
    }
    // Instructions go last, in their required order.
    if g.below(4) == 0 {
        acts.push(format!("write_metadata:{:#x}/{:#x}", g.below(256), 0xff));
    }
    if g.below(4) == 0 {
        acts.push(format!("goto_table:{}", 20 + g.below(200)));
    }
    parts.push(format!("actions={}", acts.join(",")));
    parts.join(",")
}

#[test]
fn random_flows_print_like_ovs() {
    let seed = 0x5eed_f00d_u64;
    let mut g = Gen(seed);
    let flows: Vec<String> = (0..300).map(|_| random_flow(&mut g)).collect();
    let ovs = OvsVswitchd::start("fvsrnd").expect("start ovs-vswitchd");
    let mut failures = Vec::new();
    for ver in [WireVersion::Of10, WireVersion::Of15] {
        let (acc, f) = run(&ovs, &flows, ver);
        failures.extend(f);
        // The generator only builds flows OVS should take; most must be
        // compared (a few may hit limits such as VLAN actions without VLAN).
        let n = acc.iter().filter(|a| **a).count();
        assert!(
            n * 10 >= flows.len() * 8,
            "{ver:?}: only {n} of {} random flows compared",
            flows.len()
        );
    }
    assert!(
        failures.is_empty(),
        "seed {seed:#x}: {} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
