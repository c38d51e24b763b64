//! Deployment A end to end: Neutron's OVS agent layout over GRE with the
//! iptables-hybrid firewall (see `ferrovs_tests::lab::neutron_gre`),
//! built and checked with ferrovs, then with Debian's OVS 3.1 (userspace
//! datapath) in its place, the same commands. Prints one table of both.
//! ferrovs must pass every path; OVS's failures are reported, not hidden.
//!
//! The table ends with the figures (`ferrovs_tests::lab::figures`): iperf3
//! and ping median/p99 east-west and north-south, idle CPU of every
//! switch process. ferrovs's figures must have been taken (non-zero
//! throughput); their values are printed, never judged.
//!
//! Run by hand: `cargo test -p ferrovs-tests --test lab_neutron_gre -- --nocapture`
//! (`FERROVS_BIN_DIR=target/release` runs optimized daemons).

use ferrovs_tests::lab::neutron_gre::run_scenario;
use ferrovs_tests::lab::switch::Backend;
use ferrovs_tests::lab::{run_torn_down, table};

fn lab_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("fvs-lab-{tag}-{}", std::process::id()))
}

#[test]
fn neutron_gre_ferrovs_and_ovs() {
    for tool in ["dnsmasq", "iptables", "busybox", "ovs-vswitchd", "iperf3"] {
        ferrovs_tests::tool(tool);
    }
    let bin_dir = ferrovs_tests::lab::ferrovs_bin_dir();
    eprintln!("ferrovs daemons from {}", bin_dir.display());
    let mut results = Vec::new();
    for (tag, backend) in [("fv", Backend::Ferrovs { bin_dir }), ("ovs", Backend::Ovs)] {
        let dir = lab_dir(tag);
        let prefix = format!("fvl{:x}{tag}", std::process::id() & 0xffff);
        let res = run_torn_down(&dir, &prefix, backend.label(), |lab| {
            run_scenario(lab, &backend, true)
        });
        results.push((backend.label(), res));
    }
    let cols: Vec<(&str, &[_])> = results.iter().map(|(l, r)| (*l, r.as_slice())).collect();
    let t = table(&cols);
    println!("\nDeployment A: Neutron OVS agent, GRE, iptables-hybrid firewall\n{t}");
    let fv_failed: Vec<_> = results[0].1.iter().filter(|r| r.outcome.is_err()).collect();
    assert!(fv_failed.is_empty(), "ferrovs failed paths:\n{t}");
}
