//! The router as OpenFlow flows with `ct(nat)` (see
//! `ferrovs_tests::lab::flow_router`): two tenant networks and a
//! provider network on one bridge, ARP responder, east-west routing,
//! SNAT, a floating IP, FTP through `alg=ftp`; built and checked with
//! ferrovs, then with Debian's OVS 3.1 (userspace datapath) and the same
//! flows. Both columns are printed; ferrovs must pass every path, OVS's
//! failures are reported.
//!
//! Run by hand: `cargo test -p ferrovs-tests --test lab_flow_router -- --nocapture`

use ferrovs_tests::lab::flow_router::{have_pyftpdlib, run_scenario};
use ferrovs_tests::lab::switch::Backend;
use ferrovs_tests::lab::{run_torn_down, table};

#[test]
fn flow_router_ferrovs_and_ovs() {
    for tool in ["ethtool", "ovs-vswitchd", "python3"] {
        ferrovs_tests::tool(tool);
    }
    assert!(
        have_pyftpdlib(),
        "python3 cannot import pyftpdlib: `python3 -m pip install pyftpdlib` (tests/run.sh installs it)"
    );
    let bin_dir = ferrovs_tests::lab::ferrovs_bin_dir();
    let mut results = Vec::new();
    for (tag, backend) in [("fv", Backend::Ferrovs { bin_dir }), ("ovs", Backend::Ovs)] {
        let dir = std::env::temp_dir().join(format!("fvs-labr-{tag}-{}", std::process::id()));
        let prefix = format!("fvr{:x}{tag}", std::process::id() & 0xffff);
        let res = run_torn_down(&dir, &prefix, backend.label(), |lab| {
            run_scenario(lab, &backend, true)
        });
        results.push((backend.label(), res));
    }
    let cols: Vec<(&str, &[_])> = results.iter().map(|(l, r)| (*l, r.as_slice())).collect();
    let t = table(&cols);
    println!(
        "\nRouter as OpenFlow flows with ct(nat): two tenant networks, SNAT, floating IP\n{t}"
    );
    let failed: Vec<_> = results[0]
        .1
        .iter()
        .filter(|r| r.outcome.is_err())
        .map(|r| r.path.clone())
        .collect();
    assert!(failed.is_empty(), "ferrovs failed paths: {failed:?}\n{t}");
}
