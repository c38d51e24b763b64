use super::*;
use ferrovs_openflow::Field;
use ferrovs_openflow::Value;

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
