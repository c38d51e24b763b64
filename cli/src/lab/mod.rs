//! `ferrovs lab`: a reference cloud deployment on this machine, built in
//! network namespaces with one ferrovs per hypervisor, its paths checked
//! and printed, then torn down (or left up with `--keep` until `ferrovs
//! lab down`). The topology and checks are the scenario tests' own
//! (`ferrovs_tests::lab`); this module only chooses where the lab's state
//! lives and prints.

use std::path::PathBuf;

use anyhow::bail;
use ferrovs_tests::lab::switch::Backend;
use ferrovs_tests::lab::{self, flow_router, neutron_gre, table, vxlan_mixed, Lab};

#[derive(clap::Args)]
pub struct LabArgs {
    #[command(subcommand)]
    cmd: LabCmd,
}

#[derive(clap::Subcommand)]
enum LabCmd {
    /// Deployment A: Neutron's OVS agent over GRE (network node, two
    /// compute nodes, DHCP, router with SNAT and a floating IP,
    /// iptables-hybrid security groups).
    NeutronGre {
        /// Leave the lab up after the checks (remove it with `ferrovs lab down`).
        #[arg(long)]
        keep: bool,
        /// Run Debian's Open vSwitch in ferrovs's place.
        #[arg(long)]
        ovs: bool,
        /// After the checks, measure TCP throughput (iperf3) and ping
        /// latency east-west and north-south, and the switches' idle CPU.
        #[arg(long)]
        figures: bool,
    },
    /// Deployment B: self-service VXLAN networks on a kernel Linux-bridge
    /// host beside a ferrovs host, routed by an iptables namespace
    /// (`--router=namespace`) or by ct(nat) flows in the network node's
    /// switch (`--router=distributed`).
    VxlanMixed {
        /// Leave the lab up after the checks (remove it with `ferrovs lab down`).
        #[arg(long)]
        keep: bool,
        /// Run Debian's Open vSwitch in ferrovs's place.
        #[arg(long)]
        ovs: bool,
        /// The router's form.
        #[arg(long, value_enum, default_value = "namespace")]
        router: RouterArg,
        /// After the checks, measure TCP throughput (iperf3) and ping
        /// latency east-west and north-south, and the switches' idle CPU.
        #[arg(long)]
        figures: bool,
    },
    /// A router as OpenFlow flows with ct(nat) on one ferrovs bridge: two
    /// tenant networks, ARP responder, east-west routing, SNAT, a floating
    /// IP, FTP through alg=ftp.
    Router {
        /// Leave the lab up after the checks (remove it with `ferrovs lab down`).
        #[arg(long)]
        keep: bool,
        /// Run Debian's Open vSwitch in ferrovs's place.
        #[arg(long)]
        ovs: bool,
    },
    /// Remove the lab left up by `--keep` (namespaces, processes, files).
    Down,
}

/// `ferrovs lab vxlan-mixed --router=...`.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq)]
enum RouterArg {
    /// A qrouter namespace with iptables NAT (Neutron's L3 agent).
    Namespace,
    /// OpenFlow flows with ct(nat) in the network node's switch.
    Distributed,
}

/// Where the lab's state lives; its namespaces are named `fvlab-*`.
fn state_dir() -> PathBuf {
    std::env::var_os("FERROVS_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/ferrovs-lab"))
}

pub fn run(args: LabArgs) -> anyhow::Result<i32> {
    match args.cmd {
        LabCmd::Down => {
            let dir = state_dir();
            if !dir.exists() {
                println!("no lab is up");
                return Ok(0);
            }
            lab::down(&dir)?;
            println!("lab removed");
            Ok(0)
        }
        LabCmd::NeutronGre { keep, ovs, figures } => up(Scenario::NeutronGre, keep, ovs, figures),
        LabCmd::VxlanMixed {
            keep,
            ovs,
            router,
            figures,
        } => {
            let form = match router {
                RouterArg::Namespace => vxlan_mixed::RouterForm::Namespace,
                RouterArg::Distributed => vxlan_mixed::RouterForm::Flows,
            };
            up(Scenario::VxlanMixed(form), keep, ovs, figures)
        }
        LabCmd::Router { keep, ovs } => up(Scenario::Router, keep, ovs, false),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    NeutronGre,
    VxlanMixed(vxlan_mixed::RouterForm),
    Router,
}

/// Builds `scenario`, checks and prints its paths (and its figures when
/// `figures`), and tears it down unless `keep`. Exit status 1 when a
/// path failed.
fn up(scenario: Scenario, keep: bool, ovs: bool, figures: bool) -> anyhow::Result<i32> {
    let mut need = vec![
        "ip",
        "iptables",
        "python3",
        "ovs-vsctl",
        "ovs-ofctl",
        "ovs-appctl",
        "ethtool",
        "tcpdump",
        "bridge",
    ];
    if scenario == Scenario::NeutronGre {
        need.extend(["dnsmasq", "busybox"]);
    }
    if figures {
        need.extend(["iperf3", "ss"]);
    }
    if ovs {
        need.extend(["ovsdb-server", "ovs-vswitchd", "ovsdb-tool"]);
    }
    let missing: Vec<&str> = need
        .into_iter()
        .filter(|t| ferrovs_tests::try_tool(t).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing tools: {} (Debian: iproute2 iptables dnsmasq-base busybox python3 ethtool \
             tcpdump openvswitch-common openvswitch-switch)",
            missing.join(" ")
        );
    }
    let backend = if ovs {
        Backend::Ovs
    } else {
        let exe = std::env::current_exe()?;
        let bin_dir = match std::env::var_os("FERROVS_BIN_DIR") {
            Some(d) => PathBuf::from(d),
            None => exe
                .parent()
                .expect("executable in a directory")
                .to_path_buf(),
        };
        for b in ["ferrovs-vswitchd", "ferrovs-ovsdb-server"] {
            if !bin_dir.join(b).is_file() {
                bail!(
                    "{b} not found in {} (cargo build --workspace --bins, or set FERROVS_BIN_DIR)",
                    bin_dir.display()
                );
            }
        }
        Backend::Ferrovs { bin_dir }
    };
    let mut lab = Lab::new(&state_dir(), "fvlab")?;
    let mut say = |m: &str| eprintln!("build: {m}");
    let mut show = |r: &lab::PathResult| match &r.outcome {
        Ok(d) => eprintln!("ok    {} {d}", r.path),
        Err(e) => eprintln!("FAIL  {}: {e}", r.path),
    };
    let mut note = |m: &str| eprintln!("{m}");
    let (res, about) = match scenario {
        Scenario::NeutronGre => {
            let dep = neutron_gre::build(&mut lab, &backend, &mut say).map_err(stopped)?;
            let mut res = dep.check(&mut lab, &mut show);
            if figures {
                res.extend(dep.figures(&mut lab, &mut note));
            }
            (res, dep.describe())
        }
        Scenario::Router => {
            if !flow_router::have_pyftpdlib() {
                bail!("python3 cannot import pyftpdlib (python3 -m pip install pyftpdlib)");
            }
            let dep = flow_router::build(&mut lab, &backend, &mut say).map_err(stopped)?;
            (dep.check(&mut lab, &mut show), dep.describe())
        }
        Scenario::VxlanMixed(form) => {
            let dep =
                vxlan_mixed::build_with(&mut lab, &backend, form, &mut say).map_err(stopped)?;
            let router = match form {
                vxlan_mixed::RouterForm::Namespace => "fvlab-qrouter-r1",
                vxlan_mixed::RouterForm::Flows => {
                    "router flows on br-int of fvlab-net (ovs-ofctl -O OpenFlow13 dump-flows br-int)"
                }
            };
            let mut res = dep.check(&mut lab, &mut show);
            if figures {
                res.extend(dep.figures(&mut lab, &mut note));
            }
            (
                res,
                format!(
                    "namespaces: fvlab-net fvlab-fv1 (switch hosts), fvlab-kn1 (kernel host), \
                     fvlab-vmk1 fvlab-vmf1 fvlab-vmf2 fvlab-vmk2, fvlab-outside; {router}\n"
                ),
            )
        }
    };
    println!("{}", table(&[(backend.label(), &res)]));
    let failed = res.iter().filter(|r| r.outcome.is_err()).count();
    if keep {
        println!("{about}");
        println!(
            "left up under {}; remove with `ferrovs lab down`",
            state_dir().display()
        );
        lab.keep();
    }
    Ok(i32::from(failed > 0))
}

/// A build error caused by Ctrl-C (its commands got the signal too) is
/// not the lab's fault: wait for the teardown under way to exit 130.
fn stopped(e: anyhow::Error) -> anyhow::Error {
    if lab::interrupted() {
        loop {
            std::thread::park();
        }
    }
    e
}
