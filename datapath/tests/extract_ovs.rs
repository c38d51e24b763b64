//! Differential test of flow extraction against Debian's OVS 3.1.
//!
//! Several hundred frames (every L2/L3/L4 shape extraction knows, their
//! malformed variants, and every prefix of a few of them) are written to a
//! pcap file and given to `ovs-ofctl parse-pcap`, which runs OVS's own
//! `flow_extract` on each and prints the flow. Each printed field is parsed
//! back to a number and compared with ferrovs's key; every key field OVS
//! did not print must be zero in ferrovs's key, so a field ferrovs fills in
//! and OVS leaves out is caught too.
//!
//! Not compared: `in_port` (parse-pcap prints ANY), and the OVS key fields
//! a ferrovs key does not have: `igmp_group_ip4` (used only by OVS's
//! multicast snooping, never printed), `nd_reserved` and `nd_options_type`
//! (parse-pcap does not print them).

mod common;

use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::packet::DpPacket;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

use ferrovs_tests::frames::{frames, pcap};

fn ovs_flows(frames: &[Vec<u8>]) -> Vec<String> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&pcap(frames)).unwrap();
    f.flush().unwrap();
    let out = Command::new(ferrovs_tests::tool("ovs-ofctl"))
        .arg("parse-pcap")
        .arg(f.path())
        .output()
        .expect("run ovs-ofctl parse-pcap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), frames.len(), "one flow per frame");
    lines
}

fn key_of(frame: &[u8]) -> FlowKey {
    let mut p = DpPacket::from_bytes(frame);
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    k
}

fn num(v: &str) -> u128 {
    if let Some(h) = v.strip_prefix("0x") {
        return u128::from_str_radix(h, 16).unwrap();
    }
    if let Ok(a) = v.parse::<Ipv4Addr>() {
        return u32::from(a) as u128;
    }
    if let Ok(a) = v.parse::<Ipv6Addr>() {
        return u128::from(a);
    }
    if v.len() == 17 && v.as_bytes()[2] == b':' {
        return u128::from_str_radix(&v.replace(':', ""), 16).unwrap();
    }
    v.parse().unwrap_or_else(|_| panic!("value {v}"))
}

fn tcp_flags(v: &str) -> u128 {
    if v == "0" {
        return 0;
    }
    let names = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"];
    v.split('|')
        .map(|f| match names.iter().position(|n| *n == f) {
            Some(i) => 1 << i,
            // Bits without a name print as `[200]` (hex).
            None => u128::from_str_radix(f.trim_matches(|c| c == '[' || c == ']'), 16)
                .unwrap_or_else(|_| panic!("tcp flag {f}")),
        })
        .sum()
}

/// ferrovs's value for an OVS field name, and the key fields it accounts for.
fn ours(k: &FlowKey, name: &str) -> (u128, Vec<Field>) {
    let g = |f: Field| k.get(f) as u128;
    let pair = |hi: Field, lo: Field| (g(hi) << 64) | g(lo);
    let lse = g(MPLS_LSE);
    let one = |f: Field| (g(f), vec![f]);
    match name {
        "vlan_tci" => (g(VLAN0_TCI), vec![VLAN0_TCI, VLAN0_TPID]),
        "dl_vlan" => (g(VLAN0_TCI) & 0xfff, vec![VLAN0_TCI, VLAN0_TPID]),
        "dl_vlan_pcp" => (g(VLAN0_TCI) >> 13, vec![VLAN0_TCI]),
        "dl_vlan1" => (g(VLAN1_TCI) & 0xfff, vec![VLAN1_TCI, VLAN1_TPID]),
        "dl_vlan_pcp1" => (g(VLAN1_TCI) >> 13, vec![VLAN1_TCI]),
        "vlan_tci1" => (g(VLAN1_TCI), vec![VLAN1_TCI, VLAN1_TPID]),
        "dl_src" => one(DL_SRC),
        "dl_dst" => one(DL_DST),
        "dl_type" => one(DL_TYPE),
        "nw_src" | "arp_spa" => one(NW_SRC),
        "nw_dst" | "arp_tpa" => one(NW_DST),
        "nw_proto" | "arp_op" => one(NW_PROTO),
        "nw_tos" => (g(NW_TOS) & 0xfc, vec![NW_TOS]),
        "nw_ecn" => (g(NW_TOS) & 3, vec![NW_TOS]),
        "nw_ttl" => one(NW_TTL),
        "nw_frag" => one(NW_FRAG),
        "ipv6_src" => (
            pair(IPV6_SRC_HI, IPV6_SRC_LO),
            vec![IPV6_SRC_HI, IPV6_SRC_LO],
        ),
        "ipv6_dst" => (
            pair(IPV6_DST_HI, IPV6_DST_LO),
            vec![IPV6_DST_HI, IPV6_DST_LO],
        ),
        "ipv6_label" => one(IPV6_LABEL),
        "nd_target" => (
            pair(ND_TARGET_HI, ND_TARGET_LO),
            vec![ND_TARGET_HI, ND_TARGET_LO],
        ),
        "arp_sha" | "nd_sll" => one(ARP_SHA),
        "arp_tha" | "nd_tll" => one(ARP_THA),
        "tp_src" | "icmp_type" => one(TP_SRC),
        "tp_dst" | "icmp_code" => one(TP_DST),
        "tcp_flags" => one(TCP_FLAGS),
        "mpls_label" => (lse >> 12, vec![MPLS_LSE]),
        "mpls_tc" => ((lse >> 9) & 7, vec![MPLS_LSE]),
        "mpls_bos" => ((lse >> 8) & 1, vec![MPLS_LSE]),
        "mpls_ttl" => (lse & 0xff, vec![MPLS_LSE]),
        "mpls_lse1" => one(MPLS_LSE1),
        "mpls_lse2" => one(MPLS_LSE2),
        "nsh_flags" => one(NSH_FLAGS),
        "nsh_ttl" => one(NSH_TTL),
        "nsh_mdtype" => one(NSH_MDTYPE),
        "nsh_np" => one(NSH_NP),
        "nsh_spi" => one(NSH_SPI),
        "nsh_si" => one(NSH_SI),
        "nsh_c1" => one(NSH_C1),
        "nsh_c2" => one(NSH_C2),
        "nsh_c3" => one(NSH_C3),
        "nsh_c4" => one(NSH_C4),
        _ => panic!("OVS printed a field this test does not know: {name}"),
    }
}

/// Every field of a ferrovs key that extraction of a frame can set.
const PACKET_FIELDS: &[Field] = &[
    DL_DST,
    DL_SRC,
    VLAN0_TCI,
    VLAN0_TPID,
    VLAN1_TCI,
    VLAN1_TPID,
    DL_TYPE,
    MPLS_LSE,
    MPLS_LSE1,
    MPLS_LSE2,
    NSH_FLAGS,
    NSH_TTL,
    NSH_MDTYPE,
    NSH_NP,
    NSH_SI,
    NSH_SPI,
    NSH_C1,
    NSH_C2,
    NSH_C3,
    NSH_C4,
    NW_DST,
    NW_SRC,
    IPV6_SRC_HI,
    IPV6_SRC_LO,
    IPV6_DST_HI,
    IPV6_DST_LO,
    IPV6_LABEL,
    NW_FRAG,
    NW_TOS,
    NW_TTL,
    NW_PROTO,
    ARP_SHA,
    ARP_THA,
    ND_TARGET_HI,
    ND_TARGET_LO,
    TP_SRC,
    TP_DST,
    TCP_FLAGS,
];

/// The protocol keyword OVS starts a flow with: (dl_type, nw_proto).
fn keyword(w: &str) -> Option<(u128, Option<u128>)> {
    Some(match w {
        "ip" => (0x0800, None),
        "ipv6" => (0x86dd, None),
        "arp" => (0x0806, None),
        "rarp" => (0x8035, None),
        "mpls" => (0x8847, None),
        "mplsm" => (0x8848, None),
        "icmp" => (0x0800, Some(1)),
        "igmp" => (0x0800, Some(2)),
        "tcp" => (0x0800, Some(6)),
        "udp" => (0x0800, Some(17)),
        "sctp" => (0x0800, Some(132)),
        "icmp6" => (0x86dd, Some(58)),
        "tcp6" => (0x86dd, Some(6)),
        "udp6" => (0x86dd, Some(17)),
        "sctp6" => (0x86dd, Some(132)),
        _ => return None,
    })
}

/// The differences between OVS's flow line and ferrovs's key, if any.
fn compare(line: &str, k: &FlowKey) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut covered: BTreeSet<(u8, u8)> = BTreeSet::new();
    let mut cover = |fs: &[Field]| {
        for f in fs {
            covered.insert((f.word, f.shift));
        }
    };
    for tok in line.split(',') {
        let (name, val) = match tok.split_once('=') {
            Some(nv) => nv,
            None => {
                let (ty, proto) = keyword(tok).unwrap_or_else(|| panic!("keyword {tok}"));
                if g128(k, DL_TYPE) != ty {
                    diffs.push(format!("{tok}: dl_type {:#x}", k.get(DL_TYPE)));
                }
                cover(&[DL_TYPE]);
                if let Some(p) = proto {
                    if g128(k, NW_PROTO) != p {
                        diffs.push(format!("{tok}: nw_proto {}", k.get(NW_PROTO)));
                    }
                    cover(&[NW_PROTO]);
                }
                continue;
            }
        };
        if name == "in_port" {
            assert_eq!(val, "ANY");
            continue;
        }
        let want = match name {
            "nw_frag" => match val {
                "no" => 0,
                "first" => 1,
                "later" => 3,
                _ => panic!("nw_frag={val}"),
            },
            "tcp_flags" => tcp_flags(val),
            _ => num(val),
        };
        let (got, fields) = ours(k, name);
        cover(&fields);
        if got != want {
            diffs.push(format!("{name}: OVS {val}, ferrovs {got:#x}"));
        }
    }
    for f in PACKET_FIELDS {
        if !covered.contains(&(f.word, f.shift)) && k.get(*f) != 0 {
            diffs.push(format!(
                "{f:?}: ferrovs {:#x}, OVS leaves it out",
                k.get(*f)
            ));
        }
    }
    diffs
}

fn g128(k: &FlowKey, f: Field) -> u128 {
    k.get(f) as u128
}

#[test]
fn extraction_agrees_with_ovs_parse_pcap() {
    let frames = frames();
    assert!(frames.len() > 400, "{} frames", frames.len());
    let lines = ovs_flows(&frames);
    let mut bad = Vec::new();
    for (f, line) in frames.iter().zip(&lines) {
        let d = compare(line, &key_of(f));
        if !d.is_empty() {
            bad.push(format!(
                "frame {}\n  OVS: {line}\n  {}",
                hex::encode(f),
                d.join("\n  ")
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} frames differ:\n{}",
        bad.len(),
        frames.len(),
        bad.join("\n")
    );
}

#[test]
fn the_comparison_catches_a_wrong_key() {
    let frames = frames();
    let lines = ovs_flows(&frames[..2]);
    assert!(compare(&lines[0], &key_of(&frames[0])).is_empty());
    // A key from another frame does not pass for this one.
    assert!(!compare(&lines[0], &key_of(&frames[1])).is_empty());
    // Nor one with a field OVS did not print set.
    let mut flow = Flow::default();
    key_of(&frames[0]).expand(&mut flow);
    flow.set(MPLS_LSE1, 5);
    assert_eq!(compare(&lines[0], &flow.to_key()).len(), 1);
}
