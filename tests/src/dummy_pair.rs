//! Debian's OVS 3.1 (`ovs-vswitchd --enable-dummy`) and ferrovs side by
//! side, each with bridge `br0` in the same fail mode, the same dummy
//! ports (same ofports, in order from 1) and the same flows, for tests
//! that feed both the same frames (`netdev-dummy/receive`) and compare
//! their `ovs-appctl` replies.

use std::time::Duration;

use crate::ferrovs_vswitchd::FerrovsVswitchd;
use crate::ovs_compare::add_dummy_ports;
use crate::ovs_vswitchd::OvsVswitchd;

pub struct DummyPair {
    pub ovs: OvsVswitchd,
    pub fv: FerrovsVswitchd,
}

/// What `ovs-appctl` gave: exit status, stdout, and stderr without
/// ovs-appctl's own last line (which names the socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Option<i32>,
    pub out: String,
    pub err: String,
}

impl DummyPair {
    /// Both switches with `br0` in `fail_mode` (`secure` or
    /// `standalone`), dummy `ports` and `flows` (added with `ovs-ofctl`).
    /// In standalone mode it waits until both show the NORMAL flow.
    pub fn start(fail_mode: &str, ports: &[&str], flows: &[&str]) -> DummyPair {
        let ovs = OvsVswitchd::start_dummy("br0").unwrap();
        ovs.vsctl(&["set-fail-mode", "br0", fail_mode]).unwrap();
        let fv = FerrovsVswitchd::start_netdev("br0", &[&format!("fail_mode={fail_mode}")]);
        let ports: Vec<(&str, &[&str])> = ports.iter().map(|p| (*p, &[][..])).collect();
        let a = add_dummy_ports(fv.dir(), "br0", &ports);
        fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let a = add_dummy_ports(ovs.dir(), "br0", &ports);
        ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        for f in flows {
            fv.ofctl_ok(&[], "add-flow", "br0", &[f]);
            ovs.ofctl(&[], "add-flow", &[f]).unwrap();
        }
        let pair = DummyPair { ovs, fv };
        if fail_mode == "standalone" {
            let ready = pair.fv.wait_until(Duration::from_secs(10), || {
                let [o, f] = pair.flows();
                !o.is_empty() && o == f
            });
            assert!(ready, "flows: {:?}", pair.flows());
        }
        pair
    }

    /// Each switch's flows (`dump-flows`) from `priority=` on, OVS's first.
    pub fn flows(&self) -> [Vec<String>; 2] {
        let norm = |s: &str| -> Vec<String> {
            s.lines()
                .filter_map(|l| l.split_once("priority=").map(|(_, r)| r.to_string()))
                .collect()
        };
        [
            norm(&self.ovs.ofctl(&[], "dump-flows", &[]).unwrap_or_default()),
            norm(&self.fv.ofctl_ok(&[], "dump-flows", "br0", &[])),
        ]
    }

    /// `ovs-appctl ARGS` on both, OVS's first.
    pub fn appctl(&self, args: &[&str]) -> [Reply; 2] {
        let ovs = std::process::Command::new("ovs-appctl")
            .arg("-t")
            .arg(self.ovs.dir().join("ovs-vswitchd.ctl"))
            .args(args)
            .output()
            .unwrap();
        let fv = self.fv.appctl(args);
        [ovs, fv].map(|o| {
            let err = String::from_utf8_lossy(&o.stderr);
            Reply {
                code: o.status.code(),
                out: String::from_utf8_lossy(&o.stdout).into_owned(),
                err: err
                    .lines()
                    .filter(|l| !l.starts_with("ovs-appctl: "))
                    .collect::<Vec<_>>()
                    .join("\n"),
            }
        })
    }

    /// Both reply the same; returns OVS's reply.
    pub fn same(&self, args: &[&str]) -> Reply {
        let [o, f] = self.appctl(args);
        assert_eq!(o, f, "ovs-appctl {}: OVS then ferrovs", args.join(" "));
        o
    }

    /// Both reply the same, successfully, with `want`.
    pub fn same_ok(&self, args: &[&str], want: &str) {
        let r = self.same(args);
        assert_eq!((r.code, r.out.as_str()), (Some(0), want), "{args:?}");
    }

    /// Both fail the same way (exit status 2), with `want` as the error.
    pub fn same_err(&self, args: &[&str], want: &str) {
        let r = self.same(args);
        assert_eq!((r.code, r.err.as_str()), (Some(2), want), "{args:?}");
    }

    /// Feeds `frame` (hex, or a flow in OVS's syntax) into `port` of both.
    pub fn receive(&self, port: &str, frame: &str) {
        self.fv.appctl_ok(&["netdev-dummy/receive", port, frame]);
        self.ovs
            .appctl(&["netdev-dummy/receive", port, frame])
            .unwrap();
    }
}
