//! Which writable fields `set_field` (and so `load`/`move`, which share its
//! path) really changes, checked field by field over the codec's whole
//! field table: the flow must hold the new value and, for a header or
//! datapath metadata field, the datapath actions must carry it. The
//! fields that do not are listed here with their reason; the test fails
//! if that list changes either way.

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ferrovs_datapath::flow::layout::FLOW_WORDS;
    use ferrovs_openflow::action::Action;
    use ferrovs_openflow::field::{Prereq, FIELDS};
    use ferrovs_openflow::{Instruction, Value};

    use super::super::tests::bridge;
    use super::super::{odp_text, xlate, BridgeRef, XlateIn};
    use crate::flow::{OfFlow, TlvMap};
    use crate::flow_mod::FlowModReq;

    /// A packet that has the field's header.
    fn packet(p: Prereq) -> &'static str {
        match p {
            Prereq::Arp => "in_port=1,arp",
            Prereq::VlanVid => "in_port=1,dl_vlan=1",
            Prereq::Ipv4 | Prereq::IpAny => "in_port=1,udp",
            Prereq::Ipv6 => "in_port=1,udp6",
            Prereq::Tcp => "in_port=1,tcp",
            Prereq::Udp => "in_port=1,udp",
            Prereq::Sctp => "in_port=1,sctp",
            Prereq::Icmpv4 => "in_port=1,icmp",
            Prereq::Icmpv6 => "in_port=1,icmp6",
            Prereq::Nd | Prereq::NdSolicit => "in_port=1,icmp6,icmp_type=135,icmp_code=0",
            Prereq::NdAdvert => "in_port=1,icmp6,icmp_type=136,icmp_code=0",
            Prereq::Mpls => "in_port=1,mpls,mpls_bos=1",
            Prereq::Nsh => "in_port=1,dl_type=0x894f",
            Prereq::CtValid => "in_port=1,ct_state=+trk,udp",
            Prereq::None | Prereq::Ethernet => "in_port=1,udp",
        }
    }

    /// Fields written but not reaching the datapath, and why.
    const MISSING: &[(&str, &str)] = &[
        ("nd_options_type", "ND set not committed yet"),
        ("nsh_flags", "NSH set is the encap/NSH work's"),
        ("nsh_ttl", "NSH set is the encap/NSH work's"),
        ("nsh_spi", "NSH set is the encap/NSH work's"),
        ("nsh_si", "NSH set is the encap/NSH work's"),
        ("nsh_c1", "NSH set is the encap/NSH work's"),
        ("nsh_c2", "NSH set is the encap/NSH work's"),
        ("nsh_c3", "NSH set is the encap/NSH work's"),
        ("nsh_c4", "NSH set is the encap/NSH work's"),
    ];

    /// Fields with a datapath word whose write has, as in OVS, no datapath
    /// action of its own on a plain output: the input port (it only
    /// changes later lookups and IN_PORT), vlan_tci without the present
    /// bit on an untagged packet (nothing to change), the tunnel fields
    /// (committed as set(tunnel(...)) by a tunnel port's output) and the
    /// conntrack mark and label (written through ct(commit)).
    const NO_DP_ACTION: &[&str] = &[
        "in_port",
        "in_port_oxm",
        "vlan_tci",
        "tun_id",
        "tun_src",
        "tun_dst",
        "tun_ipv6_src",
        "tun_ipv6_dst",
        "tun_flags",
        "ct_mark",
        "ct_label",
    ];

    #[test]
    fn every_writable_field_is_written_or_listed() {
        let mut missing: Vec<(String, String)> = Vec::new();
        for info in FIELDS.iter().filter(|i| i.writable) {
            let f = info.field;
            let width = info.width as usize;
            if width > 16 || info.variable {
                // tun_metadata: written through the TLV map (tunnel work).
                continue;
            }
            let Ok(mask) = OfFlow::field_mask(f, &TlvMap::EMPTY) else {
                missing.push((info.name.into(), "no place in the flow".into()));
                continue;
            };
            let dp_visible =
                mask.0[..FLOW_WORDS].iter().any(|w| *w != 0) && !NO_DP_ACTION.contains(&info.name);
            let mut b = bridge("br0", &[1, 2], &[]);
            // A value that is not the packet's: low bit set within the
            // field's bits (and a valid VLAN/MPLS/port value).
            // (nw_tos: its low bits are ECN, the field is the DSCP.)
            let low = if info.name == "nw_tos" { 4 } else { 1 };
            let v = Value::from_u128_width(low, width);
            let insts = vec![Instruction::ApplyActions(vec![
                Action::SetField {
                    field: f,
                    value: v.clone(),
                    mask: None,
                },
                Action::Output {
                    port: 2,
                    max_len: 0,
                },
            ])];
            let req = FlowModReq::add(0, 1, &ferrovs_openflow::Match::default(), insts);
            let now = b.of.now();
            let mut ch = Vec::new();
            if b.of.apply_flow_mod(req, now, &mut ch).is_err() {
                missing.push((info.name.into(), "flow-mod refused".into()));
                continue;
            }
            let refs = [BridgeRef {
                ofproto: &b.of,
                ports: &b.ports,
                mac: &b.mac,
            }];
            let pkt = if info.name.contains("vlan") {
                "in_port=1,dl_vlan=2,dl_vlan_pcp=2"
            } else {
                packet(info.prereq)
            };
            let flow = crate::trace::parse_trace_flow(pkt, &b.ports).unwrap();
            let o = xlate(&XlateIn {
                bridges: &refs,
                bridge: 0,
                flow,
                now: Instant::now(),
                may_learn: false,
                tnl: None,
                recirc: None,
            });
            let written = o.final_flow.get_field(f).map(|x| x.to_u128() & low == low);
            let acts = odp_text::format_dp_actions(&o.actions, &|p| p.to_string());
            let why = if written != Ok(true) {
                Some("flow not written")
            } else if dp_visible && acts == "102" {
                Some("no datapath action")
            } else {
                None
            };
            if std::env::var_os("FIELD_AUDIT_VERBOSE").is_some() {
                eprintln!(
                    "{} dp={dp_visible} written={written:?} acts={acts}",
                    info.name
                );
            }
            if let Some(w) = why {
                missing.push((info.name.into(), w.into()));
            }
        }
        let got: Vec<&str> = missing.iter().map(|(n, _)| n.as_str()).collect();
        let want: Vec<&str> = MISSING.iter().map(|(n, _)| *n).collect();
        let extra: Vec<_> = missing
            .iter()
            .filter(|(n, _)| !want.contains(&n.as_str()))
            .collect();
        let fixed: Vec<_> = want.iter().filter(|n| !got.contains(n)).collect();
        assert!(
            extra.is_empty() && fixed.is_empty(),
            "not written and not listed: {extra:?}\nlisted but now written: {fixed:?}"
        );
    }
}
