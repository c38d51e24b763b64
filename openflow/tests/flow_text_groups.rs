//! Group and meter text against the real OVS: each line of
//! `tests/data/flows_groups.txt` / `flows_meters.txt` is added to Debian's
//! ovs-vswitchd and dumped back (`dump-groups`, `dump-meters`); ferrovs's
//! parse + normalize + print must give the same text, in OpenFlow 1.3 and
//! 1.5.

use ferrovs_openflow::text::{GroupText, MeterText, WireVersion};
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

fn lines(name: &str) -> Vec<String> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .expect("corpus file")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// OVS's dump output without the reply header line, entries joined by '\n'.
fn dump(ovs: &OvsVswitchd, ver: &str, cmd: &str) -> String {
    let out = ovs.ofctl(&["-O", ver], cmd, &[]).expect(cmd);
    out.lines()
        .filter(|l| !l.contains("reply ("))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn groups_and_meters_print_like_ovs() {
    let ovs = OvsVswitchd::start("fvsbrg").expect("start ovs-vswitchd");
    let mut failures = Vec::new();
    let groups = lines("flows_groups.txt");
    let meters = lines("flows_meters.txt");
    for ver in [WireVersion::Of13, WireVersion::Of15] {
        let v = ver.ofctl_name();
        for g in &groups {
            ovs.ofctl(&["-O", v], "del-groups", &[])
                .expect("del-groups");
            if let Err(e) = ovs.ofctl(&["-O", v], "add-group", &[g]) {
                failures.push(format!("[{v}] OVS rejects corpus group {g}: {e}"));
                continue;
            }
            let theirs = dump(&ovs, v, "dump-groups");
            let ours = match GroupText::parse(g) {
                Ok(mut p) => {
                    p.normalize(ver);
                    p.format()
                }
                Err(e) => format!("parse error: {e}"),
            };
            if ours != theirs {
                failures.push(format!("[{v}] {g}\n  ovs:     {theirs}\n  ferrovs: {ours}"));
            }
        }
        for m in &meters {
            ovs.ofctl(&["-O", v], "del-meters", &[])
                .expect("del-meters");
            if let Err(e) = ovs.ofctl(&["-O", v], "add-meter", &[m]) {
                failures.push(format!("[{v}] OVS rejects corpus meter {m}: {e}"));
                continue;
            }
            let theirs = dump(&ovs, v, "dump-meters");
            let ours = match MeterText::parse(m) {
                Ok(p) => p.format(),
                Err(e) => format!("parse error: {e}"),
            };
            if ours != theirs {
                failures.push(format!("[{v}] {m}\n  ovs:     {theirs}\n  ferrovs: {ours}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
