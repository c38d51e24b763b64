//! `ferrovs bench --vxlan` run for real with a short duration: two VMs on
//! two hypervisors over VXLAN, the kernel (vxlan device + Linux bridge) and
//! ferrovs (br-int + br-phy, tnl_push/tnl_pop) each carrying TCP and
//! 64-byte UDP between the VMs in every repetition; vxlan.md and
//! vxlan.json are written, and nothing named after the bench's pid is
//! left afterwards.

use ferrovs_tests::bench_run::{bench_command, leftovers, run_ok, BenchRun};

#[test]
fn vxlan_bench_carries_traffic_for_kernel_and_ferrovs_and_cleans_up() {
    let out = tempfile::tempdir().unwrap();
    let BenchRun { pid, stdout, .. } = run_ok(bench_command(
        out.path(),
        &[
            "--vxlan",
            "--contenders",
            "linux-bridge,ferrovs-afpacket",
            "--duration",
            "1",
        ],
    ));
    assert!(stdout.contains("ferrovs/kernel"), "{stdout}");
    let js: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("vxlan.json")).unwrap())
            .unwrap();
    let reps = js["repetitions"].as_u64().unwrap() as usize;
    for (i, name) in ["linux-bridge", "ferrovs-afpacket"].into_iter().enumerate() {
        let c = &js["contenders"][i];
        assert_eq!(c["name"], name);
        assert_eq!(c["errors"], serde_json::json!([]), "{name}: {stdout}");
        for key in ["tcp_gbit_s", "udp_64b_kpps"] {
            let s = c["samples"][key].as_array().unwrap();
            assert_eq!(s.len(), reps, "{name} {key}: {stdout}");
            assert!(
                s.iter().all(|v| v.as_f64().unwrap() > 0.0),
                "{name} {key}: {stdout}"
            );
        }
    }
    assert!(js["ratios"]["tcp_gbit_s"]["ferrovs_over_kernel"].is_f64());
    assert!(std::fs::read_to_string(out.path().join("vxlan.md"))
        .unwrap()
        .contains("| TCP VM to VM (Gbit/s) |"));

    // Nothing of the bench's own is left: namespaces, links, temp dirs,
    // processes.
    assert_eq!(leftovers(pid), Vec::<String>::new());
}
