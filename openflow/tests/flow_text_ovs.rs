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
    for (i, flow) in flows.iter().enumerate() {
        let Ok(ovs_line) = ovs_canonical(ovs, &br, ver.ofctl_name(), flow) else {
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
            failures.push(format!("OVS rejects corpus flow in both versions: {flow}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
