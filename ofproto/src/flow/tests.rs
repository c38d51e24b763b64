use super::*;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::Field;
use ferrovs_openflow::Value;
use ferrovs_openflow::Version;

fn m(fields: &[(Field, Value, Option<Value>)]) -> Match {
    let mut m = Match::new();
    for (f, v, mask) in fields {
        m.set(*f, v.clone(), mask.clone());
    }
    m
}

#[test]
fn vlan_spellings_are_one_match() {
    let a = OfMatch::from_match(&m(&[(Field::DlVlan, Value::from_u16(5), None)])).unwrap();
    let b = OfMatch::from_match(&m(&[(Field::VlanVid, Value::from_u16(0x1005), None)])).unwrap();
    let c = OfMatch::from_match(&m(&[(
        Field::VlanTci,
        Value::from_u16(0x1005),
        Some(Value::from_u16(0x1fff)),
    )]))
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    let none = OfMatch::from_match(&m(&[(Field::DlVlan, Value::from_u16(0xffff), None)])).unwrap();
    assert_ne!(a, none);
}

#[test]
fn registers_and_xregs_share_bits() {
    let r = OfMatch::from_match(&m(&[
        (Field::Reg0, Value::from_u32(1), None),
        (Field::Reg1, Value::from_u32(2), None),
    ]))
    .unwrap();
    let x =
        OfMatch::from_match(&m(&[(Field::Xreg0, Value::from_u64((1 << 32) | 2), None)])).unwrap();
    assert_eq!(r, x);
    let mut f = OfFlow::default();
    f.set_reg(0, 1);
    f.set_reg(1, 2);
    assert!(r.matches(&f));
    f.set_reg(1, 3);
    assert!(!r.matches(&f));
}

#[test]
fn cover_and_overlap() {
    let ip = OfMatch::from_match(&m(&[(Field::EthType, Value::from_u16(0x800), None)])).unwrap();
    let net = OfMatch::from_match(&m(&[
        (Field::EthType, Value::from_u16(0x800), None),
        (
            Field::IpDst,
            Value::from_u32(0xc612_0000),
            Some(Value::from_u32(0xffff_0000)),
        ),
    ]))
    .unwrap();
    let arp = OfMatch::from_match(&m(&[(Field::EthType, Value::from_u16(0x806), None)])).unwrap();
    assert!(net.is_covered_by(&ip));
    assert!(!ip.is_covered_by(&net));
    assert!(ip.is_covered_by(&OfMatch::catchall()));
    assert!(net.overlaps(&ip));
    assert!(!arp.overlaps(&ip));
}

#[test]
fn tos_and_dscp_agree_and_reject_ecn_bits() {
    let tos = OfMatch::from_match(&m(&[(Field::NwTos, Value::from_u8(0x10), None)])).unwrap();
    let dscp = OfMatch::from_match(&m(&[(Field::IpDscp, Value::from_u8(4), None)])).unwrap();
    assert_eq!(tos, dscp);
    assert!(OfMatch::from_match(&m(&[(Field::NwTos, Value::from_u8(0x11), None)])).is_err());
}

#[test]
fn every_field_has_a_place() {
    for fi in ferrovs_openflow::field::FIELDS.iter() {
        assert!(place(fi.field).is_ok(), "{}", fi.name);
    }
}

fn text_match(s: &str) -> Match {
    let f = ferrovs_openflow::text::parse_flow(&format!("{s} actions=drop")).unwrap();
    ferrovs_openflow::text::wire::match_to_wire(&f.matches).unwrap()
}

fn printed(m: &Match) -> String {
    ferrovs_openflow::text::wire::match_from_wire(m)
        .unwrap()
        .format(None)
}

/// Every flow of the codec's corpus survives text -> wire -> OfMatch ->
/// wire (each version's spelling) -> text, printing as ovs-ofctl would.
#[test]
fn corpus_round_trips_through_ofmatch() {
    let corpus = include_str!("../../../openflow/tests/data/flows.txt");
    let mut n = 0;
    for line in corpus.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Ok(f) = ferrovs_openflow::text::parse_flow(line) else {
            continue;
        };
        let Ok(mut wire) = ferrovs_openflow::text::wire::match_to_wire(&f.matches) else {
            continue;
        };
        // The codec's match_to_wire leaves the ECN bits in an exact nw_tos
        // value (`nw_tos=184,nw_ecn=1` gives nw_tos=0xb9), which OVS, and
        // from_match, refuse as OFPBMC_BAD_VALUE: clear them here.
        for mf in wire.fields.iter_mut() {
            if mf.field == Field::NwTos {
                mf.value = Value::from_u8(mf.value.to_u64() as u8 & 0xfc);
            }
        }
        let om = match OfMatch::from_match(&wire) {
            Ok(om) => om,
            Err(PlaceError::Unmapped(_)) => continue,
            Err(e) => panic!("{line}: {e}"),
        };
        let want = f.matches.format(None);
        // OXM has no spelling for "no tag" together with PCP bits
        // (dl_vlan=0xffff): OVS writes vlan_vid=0 and loses the PCP mask
        // the same way, so only NXM round-trips those.
        let (tw, ts) = (dp::W_VLAN, dp::VLAN0_TCI.shift as u32);
        let no_tag_pcp = om.mask.bits(tw, ts, 16) & 0xe000 != 0 && om.value.bits(tw, ts, 13) == 0;
        let versions: &[Version] = if no_tag_pcp {
            &[Version::Of10]
        } else {
            &[Version::Of10, Version::Of13, Version::Of15]
        };
        for &v in versions {
            let back = om.to_match(v);
            assert_eq!(printed(&back), want, "{line} ({v:?})");
            assert_eq!(OfMatch::from_match(&back).unwrap(), om, "{line} ({v:?})");
        }
        n += 1;
    }
    assert!(n > 300, "only {n} flows checked");
}

#[test]
fn wire_spelling_follows_the_version() {
    let om = OfMatch::from_match(&text_match("ip,dl_vlan=5,nw_tos=16,reg0=1,reg1=2")).unwrap();
    let names = |v| -> Vec<&str> {
        let mut n: Vec<_> = om
            .to_match(v)
            .fields
            .iter()
            .map(|f| f.field.name())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(Version::Of10),
        ["eth_type", "nw_tos", "reg0", "reg1", "vlan_tci"]
    );
    assert_eq!(
        names(Version::Of13),
        ["eth_type", "ip_dscp", "reg0", "reg1", "vlan_vid"]
    );
    assert_eq!(
        names(Version::Of15),
        ["eth_type", "ip_dscp", "vlan_vid", "xreg0"]
    );
    let m13 = om.to_match(Version::Of13);
    assert_eq!(m13.get(Field::VlanVid).unwrap().value.to_u128(), 0x1005);
    assert_eq!(m13.get(Field::IpDscp).unwrap().value.to_u128(), 4);
    let m15 = om.to_match(Version::Of15);
    assert_eq!(
        m15.get(Field::Xreg0).unwrap().value.to_u128(),
        (1 << 32) | 2
    );
    assert!(m15.get(Field::Xreg0).unwrap().mask.is_none());
    // ARP spells the address bits arp_spa, TCP the port bits tcp_dst.
    let arp = OfMatch::from_match(&text_match("arp,arp_spa=198.18.0.1,arp_op=1")).unwrap();
    let m = arp.to_match(Version::Of13);
    assert!(m.get(Field::ArpSpa).is_some() && m.get(Field::IpSrc).is_none());
    assert_eq!(m.get(Field::ArpOp).unwrap().value.to_u128(), 1);
    let tcp = OfMatch::from_match(&text_match("tcp,tp_dst=80")).unwrap();
    assert!(tcp.to_match(Version::Of13).get(Field::TcpDst).is_some());
    let icmp6 = OfMatch::from_match(&text_match(
        "icmp6,icmp_type=135,icmp_code=0,nd_target=2001:db8::1",
    ))
    .unwrap();
    let m = icmp6.to_match(Version::Of13);
    assert!(m.get(Field::NdTarget).is_some() && m.get(Field::Icmpv6Type).is_some());
}

#[test]
fn get_and_set_fields() {
    let mut f = OfFlow::default();
    f.set_field(Field::Reg3, &Value::from_u32(7)).unwrap();
    assert_eq!(f.reg(3), 7);
    assert_eq!(f.get_field(Field::Reg3).unwrap(), Value::from_u32(7));
    assert_eq!(f.get_field(Field::Xreg1).unwrap().to_u128(), 7);
    // dl_vlan adds a tag; 0xffff removes it; vlan_pcp keeps the VID.
    f.set_field(Field::DlVlan, &Value::from_u16(10)).unwrap();
    assert_eq!(f.get_field(Field::VlanTci).unwrap().to_u128(), 0x100a);
    f.set_field(Field::VlanPcp, &Value::from_u8(5)).unwrap();
    assert_eq!(f.get_field(Field::VlanTci).unwrap().to_u128(), 0xb00a);
    assert_eq!(f.get_field(Field::DlVlan).unwrap().to_u128(), 10);
    f.set_field(Field::DlVlan, &Value::from_u16(0xffff))
        .unwrap();
    assert_eq!(f.get_field(Field::VlanTci).unwrap().to_u128(), 0);
    // nw_tos keeps ECN; ip_dscp is the same bits shifted.
    f.set_field(Field::NwEcn, &Value::from_u8(3)).unwrap();
    f.set_field(Field::NwTos, &Value::from_u8(0x28)).unwrap();
    assert_eq!(f.get_field(Field::IpDscp).unwrap().to_u128(), 0x0a);
    assert_eq!(f.get_field(Field::NwEcn).unwrap().to_u128(), 3);
    assert!(f.set_field(Field::IpDscp, &Value::from_u8(64)).is_err());
    // in_port_oxm converts reserved port numbers.
    f.set_field(Field::InPortOxm, &Value::from_u32(0xffff_fffe))
        .unwrap();
    assert_eq!(f.get_field(Field::InPort).unwrap().to_u128(), 0xfffe);
    assert_eq!(
        f.get_field(Field::InPortOxm).unwrap().to_u128(),
        0xffff_fffe
    );
    // A load into reg0[8..15].
    f.set_field_masked(
        Field::Reg0,
        &Value::from_u32(0xab00),
        &Value::from_u32(0xff00),
        &TlvMap::EMPTY,
    )
    .unwrap();
    f.set_field_masked(
        Field::Reg0,
        &Value::from_u32(0xffff_ffff),
        &Value::from_u32(0x1),
        &TlvMap::EMPTY,
    )
    .unwrap();
    assert_eq!(f.reg(0), 0xab01);
    // NSH, GBP, ND fields have bits of their own.
    for (fld, v) in [
        (Field::NshSpi, 0x12_3456u128),
        (Field::NshSi, 0xfe),
        (Field::NshC1, 0xdead_beef),
        (Field::NshC4, 0x1234_5678),
        (Field::TunGbpId, 0xbeef),
        (Field::TunErspanIdx, 0xf_ffff),
        (Field::NdReserved, 0x8000_0000),
        (Field::NdOptionsType, 2),
    ] {
        let w = fld.info().width as usize;
        f.set_field(fld, &Value::from_u128_width(v, w)).unwrap();
        assert_eq!(f.get_field(fld).unwrap().to_u128(), v, "{}", fld.name());
    }
    let m = OfFlow::field_mask(Field::DlVlan, &TlvMap::EMPTY).unwrap();
    assert_eq!(m.get_field(Field::VlanTci).unwrap().to_u128(), 0x1fff);
}

#[test]
fn tun_metadata_needs_a_mapping() {
    let mut tlv = TlvMap::new();
    let m = m(&[(Field::TunMetadata3, Value::from_u32(0x0102_0304), None)]);
    assert_eq!(
        OfMatch::from_match(&m),
        Err(PlaceError::Unmapped("tun_metadata3"))
    );
    tlv.add(3, 0x0102, 0x80, 8).unwrap();
    let om = OfMatch::from_match_tlv(&m, &tlv).unwrap();
    let mut f = OfFlow::default();
    assert!(!om.matches(&f), "absent option does not match");
    f.set_field_tlv(Field::TunMetadata3, &Value::from_u32(0x0102_0304), &tlv)
        .unwrap();
    assert!(om.matches(&f));
    assert_eq!(
        f.get_field_tlv(Field::TunMetadata3, &tlv)
            .unwrap()
            .as_bytes(),
        &[0, 0, 0, 0, 1, 2, 3, 4]
    );
    let back = om.to_match_tlv(Version::Of13, &tlv);
    assert_eq!(
        back.get(Field::TunMetadata3).unwrap().value.as_bytes(),
        &[0, 0, 0, 0, 1, 2, 3, 4]
    );
    assert_eq!(OfMatch::from_match_tlv(&back, &tlv).unwrap(), om);
}
