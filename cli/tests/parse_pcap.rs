//! `ferrovs ofctl parse-pcap` against Debian's `ovs-ofctl parse-pcap` on
//! one pcap of several hundred frames built here (`ferrovs_tests::frames`:
//! every protocol the extractor knows, VLAN stacks, fragments, IPv6
//! extension headers, every truncation of a set of seed frames, malformed
//! lengths): the lines must be identical, frame by frame.

mod common;

use std::io::Write;
use std::process::Command;

fn run(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn parse_pcap_prints_as_ovs() {
    let frames = ferrovs_tests::frames::frames();
    assert!(frames.len() >= 500, "{} frames", frames.len());
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&ferrovs_tests::frames::pcap(&frames)).unwrap();
    f.flush().unwrap();
    let ours = run(Command::new(common::ferrovs())
        .args(["ofctl", "parse-pcap"])
        .arg(f.path()));
    let theirs = run(Command::new(ferrovs_tests::tool("ovs-ofctl"))
        .arg("parse-pcap")
        .arg(f.path()));
    assert_eq!(theirs.len(), frames.len());
    assert_eq!(ours.len(), frames.len());
    let bad: Vec<String> = frames
        .iter()
        .zip(ours.iter().zip(&theirs))
        .filter(|(_, (a, b))| a != b)
        .map(|(fr, (a, b))| format!("frame {}\n  ferrovs: {a}\n  OVS:     {b}", hex::encode(fr)))
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} frames differ:\n{}",
        bad.len(),
        frames.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn parse_pcap_errors_name_the_file() {
    let out = Command::new(common::ferrovs())
        .args(["ofctl", "parse-pcap", "/nonexistent.pcap"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.pcap"));
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"not a pcap file at all, no").unwrap();
    let out = Command::new(common::ferrovs())
        .args(["ofctl", "parse-pcap"])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("magic"));
}

/// A reader that has gone away (`ferrovs ofctl parse-pcap F | head`) ends
/// the command quietly with status 0, as OVS's tools do: no panic.
#[test]
fn closed_pipe_ends_quietly() {
    let frames = ferrovs_tests::frames::frames();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&ferrovs_tests::frames::pcap(&frames)).unwrap();
    f.flush().unwrap();
    let mut child = Command::new(common::ferrovs())
        .args(["ofctl", "parse-pcap"])
        .arg(f.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The read end is closed before the command writes a byte.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status {:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}
