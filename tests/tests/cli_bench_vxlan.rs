//! `ferrovs bench --vxlan` run for real with a short duration: two VMs on
//! two hypervisors over VXLAN, the kernel (vxlan device + Linux bridge) and
//! ferrovs (br-int + br-phy, tnl_push/tnl_pop) each carrying TCP and
//! 64-byte UDP between the VMs in every repetition; vxlan.md and
//! vxlan.json are written, and nothing named after the bench's pid is
//! left afterwards.

use std::process::{Command, Stdio};

use ferrovs_tests::ferrovs_bin;

#[test]
fn vxlan_bench_carries_traffic_for_kernel_and_ferrovs_and_cleans_up() {
    let out = tempfile::tempdir().unwrap();
    let bin = ferrovs_bin("ferrovs");
    let child = Command::new(&bin)
        .args([
            "bench",
            "--vxlan",
            "--contenders",
            "linux-bridge,ferrovs-afpacket",
            "--duration",
            "1",
            "--out",
        ])
        .arg(out.path())
        .arg("--bin-dir")
        .arg(bin.parent().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bench failed: {stderr}\n{stdout}");
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

    // Nothing of the bench's own is left: namespaces, temp dirs, processes.
    let prefix = format!("fvb{pid:x}");
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let mut left: Vec<String> = [ns, ps]
        .iter()
        .flat_map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .into_owned()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|l| l.contains(&prefix))
        .collect();
    for e in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&prefix) {
            left.push(n);
        }
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}
