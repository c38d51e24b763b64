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
    for batch in &batches {
        if batch.len() > 1 {
            let text: String = batch.iter().map(|&i| format!("{}\n", flows[i])).collect();
            std::fs::write(&file, text).expect("write batch");
            let f = file.to_str().expect("utf-8 path");
            let _ = ovs.ofctl_on(&br, &["-O", v], "del-flows", &[]);
            if ovs.ofctl_on(&br, &["-O", v], "add-flows", &[f]).is_ok() {
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
                    for &i in batch {
                        accepted[i] = true;
                    }
                    continue;
                }
            }
        }
        for &i in batch {
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
