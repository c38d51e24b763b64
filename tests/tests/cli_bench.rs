//! `ferrovs bench` run for real with a short duration: it builds its
//! namespaces, starts the Linux bridge and ferrovs (AF_PACKET) on them,
//! takes every figure, and writes results.md, results.json and chart.png;
//! afterwards no namespace, link, process or directory of its own is left,
//! also when it is interrupted with SIGINT in the middle of a figure.
//!
//! The bench names everything `fvb<its pid in hex>`, which is how these
//! tests look for leftovers.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrovs_tests::bench_run::{bench_command, leftovers, run_ok, BenchRun};
use ferrovs_tests::Child;

fn bench_cmd(out: &Path, contenders: &str, secs: &str) -> Command {
    bench_command(out, &["--contenders", contenders, "--duration", secs])
}

#[test]
fn bench_writes_parseable_results_and_leaves_nothing_behind() {
    let out = tempfile::tempdir().unwrap();
    let BenchRun {
        pid,
        stdout,
        stderr,
    } = run_ok(bench_cmd(out.path(), "linux-bridge,ferrovs-afpacket", "1"));
    assert!(
        stderr.contains("linux-bridge: ping latency"),
        "progress: {stderr}"
    );
    assert!(
        stdout.contains("figure (median)") && stdout.contains("ferrovs/bridge"),
        "{stdout}"
    );

    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    let cs = j["contenders"].as_array().unwrap();
    let names: Vec<&str> = cs.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["linux-bridge", "ferrovs-afpacket"]);
    // The kernel bridge is the reference: every figure of it is taken.
    let br = &cs[0]["figures"];
    for k in [
        "tcp_gbit_s",
        "udp_64b_kpps",
        "ping_median_us",
        "ping_p99_us",
    ] {
        let v = br[k]
            .as_f64()
            .unwrap_or_else(|| panic!("bridge {k}: {j:#}"));
        assert!(v > 0.0, "bridge {k} = {v}");
    }
    assert!(br["ping_p99_us"].as_f64() >= br["ping_median_us"].as_f64());
    // ferrovs: each figure is a number or a failure with its reason.
    let fv = &cs[1];
    for k in [
        "tcp_gbit_s",
        "udp_64b_kpps",
        "ping_median_us",
        "ping_p99_us",
        "cpu_loaded_pct",
        "cpu_idle_pct",
    ] {
        let v = &fv["figures"][k];
        assert!(
            v.is_number() || fv["errors"][k].is_string(),
            "ferrovs {k}: {fv:#}"
        );
    }
    assert!(j["ratios"]["tcp_gbit_s"].is_object());

    let md = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    assert!(
        md.contains("| figure (median) | linux-bridge | ferrovs-afpacket |"),
        "{md}"
    );
    let png = std::fs::read(out.path().join("chart.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1260);
    // Not a blank image: text and bars make it compress worse than white.
    assert!(png.len() > 5_000, "chart is {} bytes", png.len());

    assert_eq!(leftovers(pid), Vec::<String>::new());
}

#[test]
fn sigint_in_the_middle_removes_everything() {
    let out = tempfile::tempdir().unwrap();
    let mut child = bench_cmd(out.path(), "ferrovs-afpacket", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let err = BufReader::new(child.stderr.take().unwrap());
    let mut child = Child(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Read stderr on a thread to its end (a closed pipe would be another
    // test), passing the progress lines on.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        seen.push(line.clone());
        if line.contains("iperf3 TCP") {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains("iperf3 TCP")),
        "bench never reached TCP: {seen:?}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    // The switch, the database and iperf3 are running now.
    assert!(!leftovers(pid).is_empty());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit status {status}");
    assert_eq!(leftovers(pid), Vec::<String>::new());
}
