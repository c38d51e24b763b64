//! Deployment B, both forms, end to end (see
//! `ferrovs_tests::lab::vxlan_mixed`): self-service VXLAN networks on a
//! kernel Linux-bridge host and a switch host on the same VNIs, routed
//! first by an iptables namespace on the network node, then by OpenFlow
//! flows with ct(nat) in the network node's switch; each built and
//! checked with ferrovs, then with Debian's OVS 3.1 (userspace datapath)
//! in its place. ferrovs must pass every path; OVS's failures are
//! reported.
//!
//! The table ends with the figures (`ferrovs_tests::lab::figures`): iperf3
//! and ping median/p99 east-west and north-south, idle CPU of every
//! switch process. ferrovs's figures must have been taken (non-zero
//! throughput); their values are printed, never judged.
//!
//! Run by hand: `cargo test -p ferrovs-tests --test lab_vxlan_mixed -- --nocapture`
//! (`FERROVS_BIN_DIR=target/release` runs optimized daemons).

use ferrovs_tests::lab::switch::Backend;
use ferrovs_tests::lab::vxlan_mixed::{run_scenario_with, RouterForm};
use ferrovs_tests::lab::{run_torn_down, table};

fn lab_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("fvs-labx-{tag}-{}", std::process::id()))
}

#[test]
fn vxlan_mixed_ferrovs_and_ovs() {
    for tool in [
        "iptables",
        "bridge",
        "ethtool",
        "tcpdump",
        "ovs-vswitchd",
        "iperf3",
    ] {
        ferrovs_tests::tool(tool);
    }
    let bin_dir = ferrovs_tests::lab::ferrovs_bin_dir();
    eprintln!("ferrovs daemons from {}", bin_dir.display());
    let mut results = Vec::new();
    for form in [RouterForm::Namespace, RouterForm::Flows] {
        for (tag, backend) in [
            (
                "fv",
                Backend::Ferrovs {
                    bin_dir: bin_dir.clone(),
                },
            ),
            ("ovs", Backend::Ovs),
        ] {
            let tag = format!("{tag}{}", if form == RouterForm::Flows { "f" } else { "" });
            let dir = lab_dir(&tag);
            let prefix = format!("fvx{:x}{tag}", std::process::id() & 0xffff);
            let label = format!("{}, {}", backend.label(), form.label());
            let res = run_torn_down(&dir, &prefix, &label, |lab| {
                run_scenario_with(lab, &backend, form, true)
            });
            results.push((label, res));
        }
    }
    let cols: Vec<(&str, &[_])> = results
        .iter()
        .map(|(l, r)| (l.as_str(), r.as_slice()))
        .collect();
    let t = table(&cols);
    println!("\nDeployment B: VXLAN, kernel Linux-bridge hosts beside switch hosts; namespace router, then flow router\n{t}");
    for (label, res) in results.iter().filter(|(l, _)| l.starts_with("ferrovs")) {
        let failed: Vec<_> = res.iter().filter(|r| r.outcome.is_err()).collect();
        assert!(failed.is_empty(), "{label} failed paths:\n{t}");
    }
}
