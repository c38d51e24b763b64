//! `controller(pause)` and continuations, with the real `ovs-ofctl
//! monitor -P nxt_packet_in2 ... resume` as the controller, side by side
//! with Debian's ovs-vswitchd: the pause sends an `NXT_PACKET_IN2` with a
//! continuation, the monitor answers `NXT_RESUME`, and the rest of the
//! pipeline (registers set before the pause, a resubmit, a header
//! rewrite) runs: the frame that leaves p2 is the one OVS sends. A forged
//! or foreign continuation (sent through the monitor's `ofctl/send`) gets
//! `NXR_STALE`, as from OVS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_compare::add_dummy_ports;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;
use ferrovs_tests::{tool, Child};

/// A TCP frame 50:54:00:00:00:01 -> :02, 198.18.0.1:5 -> 198.18.0.2:80.
const TCP: &str = "505400000002505400000001080045000028000040004006\
                   cdb4c6120001c6120002000500500000000000000000500200000e060000";

const FLOWS: [&str; 3] = [
    "table=0,in_port=1,actions=set_field:5->reg0,mod_dl_src:50:54:00:00:00:0a,\
     controller(pause,userdata=01.02),resubmit(,1)",
    "table=1,reg0=5,actions=mod_dl_dst:50:54:00:00:00:0b,output:2",
    "table=1,priority=0,actions=drop",
];

/// `ovs-ofctl monitor` on `sock` with packet-in format nxt_packet_in2,
/// resuming every continuation, printing to `out`, with a unixctl socket
/// `ctl` (for `ofctl/send`).
fn monitor(sock: &Path, env_dir: &Path, out: &Path, ctl: &Path) -> Child {
    let c = Command::new(tool("ovs-ofctl"))
        .arg(format!("--unixctl={}", ctl.display()))
        .args(["-P", "nxt_packet_in2", "monitor"])
        .arg(sock)
        .args(["65534", "resume"])
        .env("OVS_RUNDIR", env_dir)
        .env("OVS_LOGDIR", env_dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    Child(c)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
        + &std::fs::read_to_string(p.with_extension("err")).unwrap_or_default()
}

fn p2_frames(dir: &Path) -> Vec<String> {
    ferrovs_tests::pcap::frames(&dir.join("p2-tx.pcap"))
        .unwrap_or_default()
        .iter()
        .map(hex::encode)
        .collect()
}

fn appctl(ctl: &Path, args: &[&str]) -> String {
    let o = Command::new(tool("ovs-appctl"))
        .arg("-t")
        .arg(ctl)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ovs-appctl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// An NXT_RESUME (OpenFlow 1.0) with a packet and a continuation that
/// names bridge `bridge_id` and nothing else.
fn forged_resume(bridge_id: [u8; 16]) -> String {
    let pkt = hex::decode(TCP).unwrap();
    let mut props = Vec::new();
    let mut prop = |ty: u16, v: &[u8]| {
        let s = props.len();
        props.extend_from_slice(&ty.to_be_bytes());
        props.extend_from_slice(&((4 + v.len()) as u16).to_be_bytes());
        props.extend_from_slice(v);
        while (props.len() - s) % 8 != 0 {
            props.push(0);
        }
    };
    prop(0, &pkt);
    let mut cont = vec![0u8; 4];
    cont.extend_from_slice(&0x8000u16.to_be_bytes());
    cont.extend_from_slice(&20u16.to_be_bytes());
    cont.extend_from_slice(&bridge_id);
    cont.extend_from_slice(&[0; 4]);
    prop(8, &cont);
    let len = 16 + props.len();
    let mut m = vec![1u8, 4];
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.extend_from_slice(&0x1234u32.to_be_bytes());
    m.extend_from_slice(&0x2320u32.to_be_bytes());
    m.extend_from_slice(&28u32.to_be_bytes());
    m.extend_from_slice(&props);
    hex::encode(m)
}

struct Side {
    dir: PathBuf,
    out: PathBuf,
    ctl: PathBuf,
    _mon: Child,
}

#[test]
fn pause_and_resume_as_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start_netdev("br0", &["fail_mode=secure"]);
    let ports: &[(&str, &[&str])] = &[("p1", &[]), ("p2", &[])];
    let a = add_dummy_ports(fv.dir(), "br0", ports);
    fv.vsctl_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let a = add_dummy_ports(ovs.dir(), "br0", ports);
    ovs.vsctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    for f in FLOWS {
        let o = fv.ofctl(&[], "add-flow", "br0", &[f]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        ovs.ofctl(&[], "add-flow", &[f]).unwrap();
    }
    let side = |dir: &Path, sock: &Path| {
        let out = dir.join("monitor.out");
        let ctl = dir.join("monitor.ctl");
        let m = monitor(sock, dir, &out, &ctl);
        Side {
            dir: dir.to_path_buf(),
            out,
            ctl,
            _mon: m,
        }
    };
    let f = side(fv.dir(), &fv.mgmt_socket("br0"));
    let o = side(ovs.dir(), &ovs.mgmt_socket());
    for s in [&f, &o] {
        assert!(
            fv.wait_until(Duration::from_secs(5), || s.ctl.exists()),
            "monitor did not start: {}",
            read(&s.out)
        );
    }
    fv.appctl_ok(&["netdev-dummy/receive", "p1", TCP]);
    ovs.appctl(&["netdev-dummy/receive", "p1", TCP]).unwrap();
    for (name, s) in [("ferrovs", &f), ("OVS", &o)] {
        let ok = fv.wait_until(Duration::from_secs(5), || !p2_frames(&s.dir).is_empty());
        assert!(
            ok,
            "{name}: nothing left p2 after the resume\nmonitor:\n{}\nlog:\n{}",
            read(&s.out),
            fv.log()
        );
        let m = read(&s.out);
        assert!(m.contains("NXT_PACKET_IN2"), "{name}: {m}");
        assert!(m.contains("userdata=01.02"), "{name}: {m}");
        assert!(m.contains("NXT_RESUME"), "{name}: {m}");
        assert!(m.contains("continuation.bridge="), "{name}: {m}");
    }
    let (ff, of) = (p2_frames(&f.dir), p2_frames(&o.dir));
    assert_eq!(ff, of, "frames out of p2");
    assert!(ff[0].starts_with("50540000000b50540000000a"), "{ff:?}");
    // The packet-in's metadata: in_port and reg0 set before the pause.
    let m = read(&f.out);
    assert!(m.contains("reg0=0x5"), "{m}");
    assert!(m.contains("in_port=1"), "{m}");

    // A forged continuation: stale in both.
    for (name, s) in [("ferrovs", &f), ("OVS", &o)] {
        appctl(&s.ctl, &["ofctl/send", &forged_resume([0x11; 16])]);
        let ok = fv.wait_until(Duration::from_secs(5), || {
            read(&s.out).contains("NXR_STALE")
        });
        assert!(ok, "{name}: no NXR_STALE:\n{}", read(&s.out));
    }
    if std::env::var_os("FERROVS_TEST_SHOW").is_some() {
        eprintln!(
            "ferrovs monitor:\n{}\nOVS monitor:\n{}",
            read(&f.out),
            read(&o.out)
        );
    }
    // Still one frame each: nothing was resumed.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(p2_frames(&f.dir).len(), 1);
    assert_eq!(p2_frames(&o.dir).len(), 1);
}
