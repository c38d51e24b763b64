//! Round trips: for every message, field and action in every version where
//! it exists, encode -> decode gives the same Repr and encode again gives
//! the same bytes.

mod common;

use common::*;
use ferrovs_openflow::message::basic::BundleAdd;
use ferrovs_openflow::message::*;
use ferrovs_openflow::port::*;
use ferrovs_openflow::*;

#[test]
fn every_action_round_trips_in_every_version() {
    for v in ALL {
        for a in actions(v) {
            let mut b = Vec::new();
            action::encode_actions(v, std::slice::from_ref(&a), &mut b);
            assert!(!b.is_empty() && b.len() % 8 == 0, "{v:?} {a:?}");
            let d = action::decode_actions(v, &b).unwrap_or_else(|e| panic!("{v:?} {a:?}: {e}"));
            assert_eq!(d, vec![a.clone()], "{v:?}");
            let mut b2 = Vec::new();
            action::encode_actions(v, &d, &mut b2);
            assert_eq!(b, b2, "{v:?} {a:?}");
        }
        // And all of them as one list.
        let list = actions(v);
        let mut b = Vec::new();
        action::encode_actions(v, &list, &mut b);
        assert_eq!(action::decode_actions(v, &b).unwrap(), list);
    }
}

#[test]
fn legacy_actions_become_set_field_in_of13() {
    let mut b = Vec::new();
    action::encode_actions(
        Version::Of13,
        &[Action::SetDlSrc([2, 0, 0, 0, 0, 3]), Action::SetVlanVid(5)],
        &mut b,
    );
    let d = action::decode_actions(Version::Of13, &b).unwrap();
    assert_eq!(
        d,
        vec![
            Action::SetField {
                field: Field::EthSrc,
                value: Value::from_slice(&[2, 0, 0, 0, 0, 3]),
                mask: None
            },
            Action::SetField {
                field: Field::VlanVid,
                value: Value::from_u16(0x1005),
                mask: None
            },
        ]
    );
}

#[test]
fn every_field_round_trips_in_nxm_and_oxm() {
    let mut n = 0;
    for info in field::FIELDS.iter() {
        let f = info.field;
        if info.headers.is_empty() {
            // No wire form in OVS either (e.g. skb_priority, dl_vlan).
            continue;
        }
        if f == Field::InPortOxm {
            continue; // normalised to in_port, checked below
        }
        for masked in [false, true] {
            let (value, mask) = sample_value(f);
            if masked && mask.is_none() {
                continue;
            }
            let mut m = Match::new();
            m.fields.push(MatchField {
                field: f,
                value,
                mask: if masked { mask } else { None },
            });
            for ctx in [
                None,
                Some(Version::Of13),
                Some(Version::Of14),
                Some(Version::Of15),
            ] {
                let mut b = Vec::new();
                m.encode_tlvs(ctx, &mut b);
                let d =
                    Match::decode_tlvs(&b).unwrap_or_else(|e| panic!("{} {ctx:?}: {e}", info.name));
                assert_eq!(d, m, "{} {ctx:?}", info.name);
                let mut b2 = Vec::new();
                d.encode_tlvs(ctx, &mut b2);
                assert_eq!(b, b2, "{}", info.name);
                n += 1;
            }
        }
    }
    assert!(n > 600, "{n}");
    // in_port_oxm decodes as in_port (OVS semantics).
    let mut m = Match::new();
    m.set_exact(Field::InPortOxm, Value::from_u32(0xffff_fffe));
    let mut b = Vec::new();
    m.encode_tlvs(Some(Version::Of13), &mut b);
    assert_eq!(
        Match::decode_tlvs(&b).unwrap().exact_u128(Field::InPort),
        Some(u128::from(OFPP_LOCAL))
    );
}

#[test]
fn of10_match_fields_round_trip() {
    let mut m = Match::new();
    m.set_exact(Field::InPort, Value::from_u16(1));
    m.set_exact(Field::EthSrc, Value::from_slice(&[2, 0, 0, 0, 0, 1]));
    m.set_exact(Field::EthDst, Value::from_slice(&[2, 0, 0, 0, 0, 2]));
    m.set(
        Field::VlanTci,
        Value::from_u16(0x1000 | 10),
        Some(Value::from_u16(0x1fff)),
    );
    m.set_exact(Field::EthType, Value::from_u16(0x0800));
    m.set_exact(Field::NwTos, Value::from_u8(0x10));
    m.set_exact(Field::NwProto, Value::from_u8(17));
    m.set(
        Field::IpSrc,
        Value::from_u32(0xc612_0000),
        Some(Value::from_u32(0xfffe_0000)),
    );
    m.set_exact(Field::IpDst, Value::from_u32(0xc612_0001));
    m.set_exact(Field::UdpSrc, Value::from_u16(53));
    m.set_exact(Field::UdpDst, Value::from_u16(5353));
    assert!(m.fits_ofp10());
    let mut b = Vec::new();
    m.encode_ofp10(&mut b);
    let d = Match::decode_ofp10(&b).unwrap();
    assert_eq!(d, m);
    // ARP
    let mut a = Match::new();
    a.set_exact(Field::EthType, Value::from_u16(0x0806));
    a.set_exact(Field::ArpOp, Value::from_u16(1));
    a.set_exact(Field::ArpSpa, Value::from_u32(0xc612_0005));
    let mut b = Vec::new();
    a.encode_ofp10(&mut b);
    assert_eq!(Match::decode_ofp10(&b).unwrap(), a);
    // No VLAN
    let mut nv = Match::new();
    nv.set_exact(Field::VlanTci, Value::from_u16(0));
    let mut b = Vec::new();
    nv.encode_ofp10(&mut b);
    assert_eq!(Match::decode_ofp10(&b).unwrap(), nv);
}

#[test]
fn every_message_round_trips_in_every_version() {
    let mut n = 0;
    for v in ALL {
        for m in messages(v) {
            rt(v, &m);
            n += 1;
        }
    }
    assert!(n > 200, "{n}");
}

#[test]
fn bundle_add_carries_a_decodable_message() {
    let fm = flow_mod(Version::Of14);
    let inner = Message::FlowMod(fm.clone()).encode(Version::Of14, 9);
    let b = Message::BundleAdd(BundleAdd {
        bundle_id: 1,
        flags: 0,
        message: inner,
        props: vec![],
    })
    .encode(Version::Of14, 1);
    let (_, m) = Message::decode(&b).unwrap();
    let Message::BundleAdd(ba) = m else { panic!() };
    assert_eq!(
        Message::decode(&ba.message).unwrap().1,
        Message::FlowMod(fm)
    );
}

#[test]
fn truncations_never_panic_and_give_typed_errors() {
    for v in ALL {
        for m in messages(v) {
            let b = m.encode(v, 1);
            for cut in 0..b.len() {
                let mut t = b[..cut].to_vec();
                if t.len() >= 4 {
                    let n = t.len() as u16;
                    t[2..4].copy_from_slice(&n.to_be_bytes());
                }
                if let Err(e) = Message::decode(&t) {
                    // Every error has a wire form in every version.
                    let _ = e.ofp_error(v);
                }
            }
        }
    }
}

#[test]
fn decode_errors_map_to_ofpt_error() {
    // Unknown action type in a 1.3 flow-mod: OFPBAC_BAD_TYPE = (2, 0).
    let mut fm = flow_mod(Version::Of13);
    fm.instructions = vec![Instruction::ApplyActions(vec![Action::Output {
        port: 1,
        max_len: 0,
    }])];
    let mut b = Message::FlowMod(fm).encode(Version::Of13, 1);
    let n = b.len();
    b[n - 16..n - 14].copy_from_slice(&[0, 99]);
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e.code, ErrorCode::OfpbacBadType);
    assert_eq!(
        e.ofp_error(Version::Of13),
        OfpError {
            type_: 2,
            code: 0,
            experimenter: 0
        }
    );
    // Bad version.
    let e = Message::decode(&[0x09, 2, 0, 8, 0, 0, 0, 1]).unwrap_err();
    assert_eq!(
        e.ofp_error(Version::Of13),
        OfpError {
            type_: 1,
            code: 0,
            experimenter: 0
        }
    );
    // Unknown message type in 1.3: OFPBRC_BAD_TYPE.
    let e = Message::decode(&[0x04, 99, 0, 8, 0, 0, 0, 1]).unwrap_err();
    assert_eq!(
        e.ofp_error(Version::Of13),
        OfpError {
            type_: 1,
            code: 1,
            experimenter: 0
        }
    );
    // NX errors in 1.3 are experimenter errors.
    let w = ErrorCode::NxbrcNxmBadType.to_wire(Version::Of13).unwrap();
    assert_eq!((w.type_, w.experimenter), (0xffff, 0x2320));
    assert_eq!(
        ErrorCode::from_wire(Version::Of13, w),
        Some(ErrorCode::NxbrcNxmBadType)
    );
    assert_eq!(
        ErrorCode::from_name("OFPBMC_BAD_PREREQ"),
        Some(ErrorCode::OfpbmcBadPrereq)
    );
}
