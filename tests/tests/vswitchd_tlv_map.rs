//! The Geneve TLV table over OpenFlow (`NXT_TLV_TABLE_MOD` and
//! `NXT_TLV_TABLE_REQUEST`): the same `ovs-ofctl add-tlv-map`,
//! `del-tlv-map` and `dump-tlv-map` sequence against ferrovs and OVS 3.1
//! prints the same tables and fails with the same errors.

use std::path::Path;
use std::process::{Command, Stdio};

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

/// `ovs-ofctl CMD SWITCH [ARG]`: (success, stdout, the error names found
/// in stderr).
fn ofctl(switch: &Path, cmd: &str, arg: Option<&str>) -> (bool, String, Vec<String>) {
    let out = Command::new(ferrovs_tests::tool("ovs-ofctl"))
        .arg("--timeout=10")
        .arg(cmd)
        .arg(switch)
        .args(arg)
        .stdin(Stdio::null())
        .output()
        .expect("run ovs-ofctl");
    let err = String::from_utf8_lossy(&out.stderr);
    let names = err
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("NXTTMFC_") || w.starts_with("OFPBRC_"))
        .map(str::to_string)
        .collect();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        names,
    )
}

#[test]
fn tlv_map_matches_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
    ]);
    let steps: &[(&str, Option<&str>)] = &[
        ("dump-tlv-map", None),
        (
            "add-tlv-map",
            Some("{class=0xffff,type=0,len=4}->tun_metadata0,{class=0xffff,type=1,len=8}->tun_metadata1"),
        ),
        ("dump-tlv-map", None),
        // Index in use, option mapped twice, bad index, bad length.
        ("add-tlv-map", Some("{class=0xffff,type=2,len=4}->tun_metadata0")),
        ("add-tlv-map", Some("{class=0xffff,type=1,len=4}->tun_metadata5")),
        ("add-tlv-map", Some("{class=0xffff,type=3,len=4}->tun_metadata64")),
        ("add-tlv-map", Some("{class=0xffff,type=3,len=6}->tun_metadata5")),
        // Re-adding the same mapping is refused too.
        ("add-tlv-map", Some("{class=0xffff,type=0,len=4}->tun_metadata0")),
        ("dump-tlv-map", None),
        ("del-tlv-map", Some("{class=0xffff,type=0,len=4}->tun_metadata0")),
        ("dump-tlv-map", None),
        ("del-tlv-map", None),
        ("dump-tlv-map", None),
        // 124 + 124 + 12 > 256 bytes: the whole mod is refused.
        (
            "add-tlv-map",
            Some("{class=0x102,type=0x80,len=124}->tun_metadata2,{class=0x102,type=0x81,len=124}->tun_metadata3,{class=0x102,type=0x82,len=12}->tun_metadata4"),
        ),
        ("dump-tlv-map", None),
        (
            "add-tlv-map",
            Some("{class=0x102,type=0x80,len=124}->tun_metadata2,{class=0x102,type=0x81,len=124}->tun_metadata3,{class=0x102,type=0x82,len=0}->tun_metadata63"),
        ),
        ("dump-tlv-map", None),
    ];
    let mut n_errors = 0;
    for (cmd, arg) in steps {
        let want = ofctl(&ovs.mgmt_socket(), cmd, *arg);
        let got = ofctl(&fv.mgmt_socket("br0"), cmd, *arg);
        assert_eq!(
            got, want,
            "ovs-ofctl {cmd} {arg:?}: ferrovs (left) vs OVS (right)"
        );
        n_errors += usize::from(!want.0);
    }
    // The sequence exercised both outcomes.
    assert!(n_errors >= 5, "{n_errors} failing steps");
}
