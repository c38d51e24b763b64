//! The flow corpus against the real OVS: every line of
//! `tests/data/flows.txt` is added to Debian's ovs-vswitchd (userspace
//! bridge, started by the `OvsVswitchd` guard) and dumped back with
//! `ovs-ofctl dump-flows --no-stats`; ferrovs parses the same line,
//! normalizes it for the OpenFlow version used and prints it. The two
//! lines must be identical. Run in OpenFlow 1.5 (every flow) and OpenFlow
//! 1.0 + NXM (ovs-ofctl's default, for the flows OVS can encode in it).

use ferrovs_openflow::text::{normalize, parse_flow, WireVersion};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;


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
fn ovs_canonical(ovs: &OvsVswitchd, ver: &str, flow: &str) -> Result<String, String> {
    ovs.ofctl(&["-O", ver], "del-flows", &[]).map_err(|e| e.to_string())?;
    ovs.ofctl(&["-O", ver], "add-flow", &[flow]).map_err(|e| e.to_string())?;
    let out = ovs
        .ofctl(&["-O", ver, "--no-stats"], "dump-flows", &[])
        .map_err(|e| e.to_string())?;
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
    let mut failures = Vec::new();
    let mut accepted = vec![false; flows.len()];
    for (i, flow) in flows.iter().enumerate() {
        let Ok(ovs_line) = ovs_canonical(ovs, ver.ofctl_name(), flow) else {
            continue;
        };
        accepted[i] = true;
        let ours = match parse_flow(flow) {
            Ok(mut f) => {
                normalize(&mut f, ver);
                f.format()
            }
            Err(e) => {
                failures.push(format!("ferrovs rejected {flow}: {e}"));
                continue;
            }
        };
        if ours != ovs_line {
            failures.push(format!(
                "[{}] flow: {flow}\n  ovs:     {ovs_line}\n  ferrovs: {ours}",
                ver.ofctl_name()
            ));
        }
    }
    eprintln!(
        "{}: {} flows, {} compared with OVS, {} failures",
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
    // Groups and a meter that corpus flows refer to (OVS checks they exist).
    for g in [
        "group_id=1,type=all,bucket=output:1",
        "group_id=2,type=select,bucket=output:2,bucket=output:3",
    ] {
        ovs.ofctl(&["-O", "OpenFlow15"], "add-group", &[g]).expect("add-group");
    }
    ovs.ofctl(&["-O", "OpenFlow15"], "add-meter", &["meter=1,kbps,band=type=drop,rate=100"])
        .expect("add-meter");
    let (acc15, mut failures) = run(&ovs, &flows, WireVersion::Of15);
    let (acc10, f10) = run(&ovs, &flows, WireVersion::Of10);
    failures.extend(f10);
    // Every corpus flow must be a real flow: OVS accepts it in at least one
    // of the two versions (fin_timeout exists only in OpenFlow 1.0 + NXM,
    // meters and write_actions only in 1.1+).
    for (i, flow) in flows.iter().enumerate() {
        if !acc15[i] && !acc10[i] {
            failures.push(format!("OVS rejects corpus flow in both versions: {flow}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
