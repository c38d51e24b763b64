//! `ferrovs up --seconds 1` runs the datapath demo and reports a rate.
use std::process::Command;

#[test]
fn up_runs_for_one_second_and_forwards() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrovs"))
        .args(["up", "--seconds", "1"])
        .output()
        .expect("run ferrovs up");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("packets/s"))
        .unwrap_or_else(|| panic!("no rate line in:\n{stdout}"));
    let pps: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("rate");
    assert!(pps > 0.0, "forwarded nothing: {line}");
    let total = stdout
        .lines()
        .find(|l| l.starts_with("total:"))
        .expect("summary line");
    let n: u64 = total
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("count");
    assert!(n > 0);
}
