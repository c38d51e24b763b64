use super::*;
use crate::flow::place;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::{Match, Value};
use proptest::prelude::*;

fn mk(fields: &[(Field, u128, Option<u128>)]) -> OfMatch {
    let mut m = Match::new();
    for &(f, v, mask) in fields {
        let w = f.info().width as usize;
        m.set(
            f,
            Value::from_u128_width(v, w),
            mask.map(|x| Value::from_u128_width(x, w)),
        );
    }
    OfMatch::from_match(&m).expect("placeable match")
}

/// A packet with the given fields (exact values).
fn pkt(fields: &[(Field, u128)]) -> OfFlow {
    let m = mk(&fields
        .iter()
        .map(|&(f, v)| (f, v, None))
        .collect::<Vec<_>>());
    m.value
}

/// The bits of field `f` in `wc`, as a number.
fn wc_of(wc: &OfFlow, f: Field) -> u128 {
    match place(f).unwrap() {
        crate::flow::Place::Bits { word, shift, bits } => {
            wc.bits(word as usize, shift as u32, bits as u32) as u128
        }
        crate::flow::Place::Wide { word } => {
            (wc.0[word as usize] as u128) << 64 | wc.0[word as usize + 1] as u128
        }
        p => panic!("{p:?}"),
    }
}

const IP: u128 = 0x0800;

#[test]
fn insert_replace_get_remove() {
    let mut c = Classifier::new();
    let a = mk(&[(Field::EthType, IP, None)]);
    assert_eq!(c.insert(a, 10, "a"), None);
    assert_eq!(c.insert(a, 10, "a2"), Some("a"));
    assert_eq!(c.insert(a, 11, "b"), None);
    assert_eq!(c.len(), 2);
    assert_eq!(c.get(&a, 10), Some(&"a2"));
    assert_eq!(c.get(&a, 12), None);
    *c.get_mut(&a, 11).unwrap() = "b2";
    let f = pkt(&[(Field::EthType, IP)]);
    assert_eq!(
        c.lookup(&f, None).map(|(k, v)| (k.priority, *v)),
        Some((11, "b2"))
    );
    assert_eq!(c.remove(&a, 11), Some("b2"));
    assert_eq!(c.lookup(&f, None).map(|(k, _)| k.priority), Some(10));
    assert_eq!(c.remove(&a, 10), Some("a2"));
    assert!(c.is_empty());
    assert_eq!(c.n_subtables(), 0);
    assert!(c.lookup(&f, None).is_none());
}

#[test]
fn higher_priority_in_another_subtable_wins_and_search_stops() {
    let mut c = Classifier::new();
    c.insert(OfMatch::catchall(), 0, "miss");
    c.insert(mk(&[(Field::EthType, IP, None)]), 5, "ip");
    c.insert(mk(&[(Field::InPort, 1, None)]), 7, "p1");
    let f = pkt(&[(Field::EthType, IP), (Field::InPort, 1)]);
    let mut wc = OfFlow::default();
    assert_eq!(c.lookup(&f, Some(&mut wc)).map(|(_, v)| *v), Some("p1"));
    // The in_port subtable answered first; nothing else could beat 7.
    assert_eq!(wc_of(&wc, Field::InPort), 0xffff_ffff);
    assert_eq!(wc_of(&wc, Field::EthType), 0);
    let f = pkt(&[(Field::EthType, 0x806), (Field::InPort, 2)]);
    assert_eq!(c.lookup(&f, None).map(|(_, v)| *v), Some("miss"));
}

#[test]
fn non_ip_packet_leaves_l3_and_l4_wildcarded() {
    let mut c = Classifier::new();
    for (i, port) in [22u128, 80, 443].iter().enumerate() {
        let m = mk(&[
            (Field::EthType, IP, None),
            (Field::NwProto, 6, None),
            (Field::TcpDst, *port, None),
        ]);
        c.insert(m, 100 + i as u32, *port);
    }
    let arp = pkt(&[(Field::EthType, 0x806), (Field::ArpOp, 1)]);
    let mut wc = OfFlow::default();
    assert!(c.lookup(&arp, Some(&mut wc)).is_none());
    assert_eq!(wc_of(&wc, Field::EthType), 0xffff);
    assert_eq!(wc_of(&wc, Field::NwProto), 0, "L3 stage not reached");
    assert_eq!(wc_of(&wc, Field::TcpDst), 0, "L4 stage not reached");
    // UDP: L3 examined, L4 still not.
    let udp = pkt(&[
        (Field::EthType, IP),
        (Field::NwProto, 17),
        (Field::UdpDst, 80),
    ]);
    let mut wc = OfFlow::default();
    assert!(c.lookup(&udp, Some(&mut wc)).is_none());
    assert_eq!(wc_of(&wc, Field::NwProto), 0xff);
    assert_eq!(wc_of(&wc, Field::TcpDst), 0);
    // TCP to port 80: everything examined.
    let tcp = pkt(&[
        (Field::EthType, IP),
        (Field::NwProto, 6),
        (Field::TcpDst, 80),
    ]);
    let mut wc = OfFlow::default();
    assert_eq!(c.lookup(&tcp, Some(&mut wc)).map(|(_, v)| *v), Some(80));
    assert_eq!(wc_of(&wc, Field::TcpDst), 0xffff);
}

#[test]
fn ports_trie_unwildcards_only_the_deciding_port_bits() {
    let mut c = Classifier::new();
    for port in [80u128, 8080] {
        let m = mk(&[
            (Field::EthType, IP, None),
            (Field::NwProto, 6, None),
            (Field::TcpDst, port, None),
        ]);
        c.insert(m, 100, port);
    }
    let tcp = |dst: u128, src: u128| {
        pkt(&[
            (Field::EthType, IP),
            (Field::NwProto, 6),
            (Field::TcpSrc, src),
            (Field::TcpDst, dst),
        ])
    };
    // 443 (0x01bb) leaves 80 (0x0050) and 8080 (0x1f90) at bit 7 of the
    // port: OVS's megaflow says tcp(dst=443/0xff00).
    let mut wc = OfFlow::default();
    assert!(c.lookup(&tcp(443, 1234), Some(&mut wc)).is_none());
    assert_eq!(wc_of(&wc, Field::TcpDst), 0xff00);
    assert_eq!(wc_of(&wc, Field::TcpSrc), 0);
    assert_eq!(wc_of(&wc, Field::NwProto), 0xff);
    // 0x8000 differs from both at the first bit.
    let mut wc = OfFlow::default();
    assert!(c.lookup(&tcp(0x8000, 1), Some(&mut wc)).is_none());
    assert_eq!(wc_of(&wc, Field::TcpDst), 0x8000);
    // 81 shares 15 bits with 80: all 16 are needed.
    let mut wc = OfFlow::default();
    assert!(c.lookup(&tcp(81, 1), Some(&mut wc)).is_none());
    assert_eq!(wc_of(&wc, Field::TcpDst), 0xffff);
    // A hit un-wildcards the whole mask; after removing 8080, 8080 needs
    // the bits up to its first difference with 80 only (bit 3).
    let mut wc = OfFlow::default();
    assert_eq!(
        c.lookup(&tcp(8080, 1), Some(&mut wc)).map(|(_, v)| *v),
        Some(8080)
    );
    assert_eq!(wc_of(&wc, Field::TcpDst), 0xffff);
    let m = mk(&[
        (Field::EthType, IP, None),
        (Field::NwProto, 6, None),
        (Field::TcpDst, 8080, None),
    ]);
    assert_eq!(c.remove(&m, 100), Some(8080));
    let mut wc = OfFlow::default();
    assert!(c.lookup(&tcp(0x1f90, 1), Some(&mut wc)).is_none());
    assert_eq!(wc_of(&wc, Field::TcpDst), 0xf000);
}

#[test]
fn metadata_miss_leaves_packet_fields_wildcarded() {
    let mut c = Classifier::new();
    c.insert(
        mk(&[
            (Field::InPort, 1, None),
            (Field::EthType, IP, None),
            (Field::IpDst, 0xc612_0001, None),
        ]),
        10,
        (),
    );
    let f = pkt(&[
        (Field::InPort, 2),
        (Field::EthType, IP),
        (Field::IpDst, 0xc612_0001),
    ]);
    let mut wc = OfFlow::default();
    assert!(c.lookup(&f, Some(&mut wc)).is_none());
    assert_eq!(wc_of(&wc, Field::InPort), 0xffff_ffff);
    assert_eq!(wc_of(&wc, Field::EthType), 0);
    assert_eq!(wc_of(&wc, Field::IpDst), 0);
}

fn routes(prefixes: &[Field]) -> Classifier<&'static str> {
    let mut c = Classifier::new();
    c.set_prefix_fields(prefixes).unwrap();
    let r = |net: u128, len: u32| {
        mk(&[
            (Field::EthType, IP, None),
            (
                Field::IpDst,
                net,
                Some(!0u32 as u128 >> (32 - len) << (32 - len)),
            ),
        ])
    };
    c.insert(r(0xc612_0000, 16), 16, "198.18/16");
    c.insert(r(0xc612_0100, 24), 24, "198.18.1/24");
    c.insert(r(0xc613_0000, 16), 16, "198.19/16");
    c.insert(mk(&[(Field::EthType, IP, None)]), 0, "default");
    c
}

fn route(c: &Classifier<&'static str>, dst: u128) -> (&'static str, u128) {
    let f = pkt(&[(Field::EthType, IP), (Field::IpDst, dst)]);
    let mut wc = OfFlow::default();
    let v = *c.lookup(&f, Some(&mut wc)).unwrap().1;
    (v, wc_of(&wc, Field::IpDst))
}

#[test]
fn prefix_tracking_unwildcards_only_the_deciding_bits() {
    let c = routes(&DEFAULT_PREFIX_FIELDS);
    // 198.18.2.5: the /24 is ruled out at bit 22 (third octet 1 vs 2).
    assert_eq!(route(&c, 0xc612_0205), ("198.18/16", 0xffff_fe00));
    // 198.18.1.7: the /24 matches, so its 24 bits.
    assert_eq!(route(&c, 0xc612_0107), ("198.18.1/24", 0xffff_ff00));
    // 198.19.9.9: the /24 is ruled out by bit 15 (198.18 vs 198.19).
    assert_eq!(route(&c, 0xc613_0909), ("198.19/16", 0xffff_0000));
    // 10.0.0.1: nothing but the default; the first bit decides.
    assert_eq!(route(&c, 0x0a00_0001), ("default", 0x8000_0000));
}

#[test]
fn without_prefix_tracking_the_longest_visited_mask_is_unwildcarded() {
    let c = routes(&[]);
    assert_eq!(route(&c, 0xc612_0205), ("198.18/16", 0xffff_ff00));
    assert_eq!(route(&c, 0x0a00_0001), ("default", 0xffff_ff00));
}

#[test]
fn prefix_fields_config() {
    let mut c: Classifier<()> = Classifier::new();
    assert_eq!(c.prefix_fields(), vec![Field::IpDst, Field::IpSrc]);
    assert_eq!(
        c.set_prefix_fields(&[Field::EthSrc]),
        Err(PrefixError::NotPrefixField("eth_src"))
    );
    assert_eq!(
        c.set_prefix_fields(&[Field::IpDst, Field::IpSrc, Field::Ipv6Dst, Field::Ipv6Src]),
        Err(PrefixError::TooMany)
    );
    assert!(c
        .set_prefix_fields(&[Field::Ipv6Dst, Field::TunDst])
        .is_ok());
    assert_eq!(c.prefix_fields(), vec![Field::Ipv6Dst, Field::TunDst]);
}

#[test]
fn ipv6_prefix_tracking() {
    let mut c = Classifier::new();
    c.set_prefix_fields(&[Field::Ipv6Dst]).unwrap();
    let net: u128 = 0x2001_0db8_0001 << 80;
    c.insert(
        mk(&[
            (Field::EthType, 0x86dd, None),
            (Field::Ipv6Dst, net, Some(!0u128 << 80)),
        ]),
        48,
        "/48",
    );
    c.insert(mk(&[(Field::EthType, 0x86dd, None)]), 0, "default");
    let f = pkt(&[
        (Field::EthType, 0x86dd),
        (Field::Ipv6Dst, (0x2001_0db8_0002 << 80) | 5),
    ]);
    let mut wc = OfFlow::default();
    assert_eq!(
        c.lookup(&f, Some(&mut wc)).map(|(_, v)| *v),
        Some("default")
    );
    // ...:0001 vs ...:0002 differ at bit 46.
    assert_eq!(wc_of(&wc, Field::Ipv6Dst), !0u128 << 81);
}

#[test]
fn covered_by_and_overlaps() {
    let mut c = Classifier::new();
    let ip = mk(&[(Field::EthType, IP, None)]);
    let net = mk(&[
        (Field::EthType, IP, None),
        (Field::IpDst, 0xc612_0000, Some(0xffff_0000)),
    ]);
    let arp = mk(&[(Field::EthType, 0x806, None)]);
    c.insert(ip, 1, "ip");
    c.insert(net, 1, "net");
    c.insert(net, 2, "net2");
    c.insert(arp, 1, "arp");
    let mut v: Vec<_> = c.covered_by(&ip).map(|(_, v)| *v).collect();
    v.sort();
    assert_eq!(v, ["ip", "net", "net2"]);
    let mut v: Vec<_> = c.covered_by(&net).map(|(_, v)| *v).collect();
    v.sort();
    assert_eq!(v, ["net", "net2"]);
    assert_eq!(c.covered_by(&OfMatch::catchall()).count(), 4);
    let host = mk(&[
        (Field::EthType, IP, None),
        (Field::IpDst, 0xc612_0001, None),
    ]);
    assert!(c.overlaps(&host, 2));
    assert!(!c.overlaps(&host, 3));
    let other = mk(&[
        (Field::EthType, IP, None),
        (Field::IpDst, 0x0a00_0001, None),
    ]);
    assert!(!c.overlaps(&other, 2));
    assert!(c.overlaps(&other, 1)); // the plain `ip` rule
}

#[test]
fn retain_and_iter() {
    let mut c = Classifier::new();
    for i in 0..100u32 {
        c.insert(mk(&[(Field::Reg0, i as u128, None)]), i % 7, i);
    }
    assert_eq!(c.iter().count(), 100);
    c.retain(|_, v| *v % 2 == 0);
    assert_eq!(c.len(), 50);
    assert!(c.iter().all(|(_, v)| v % 2 == 0));
    let mut f = OfFlow::default();
    f.set_reg(0, 3);
    assert!(c.lookup(&f, None).is_none());
    f.set_reg(0, 4);
    assert_eq!(c.lookup(&f, None).map(|(_, v)| *v), Some(4));
}

// ---- property tests against a naive reference ----

/// Field choices for random rules: (field, value domain, masks).
fn rule_field(i: usize, pick: u32, mask_pick: u32) -> (Field, u128, Option<u128>) {
    let pick = pick as u128;
    match i {
        0 => (Field::InPort, 1 + pick % 3, None),
        1 => (
            Field::EthType,
            [0x800, 0x806, 0x86dd][pick as usize % 3],
            None,
        ),
        2 => {
            let len = [8u32, 16, 23, 24, 32, 0][mask_pick as usize % 6];
            let mask = if len == 0 {
                0x00ff_00ff
            } else {
                (!0u32 << (32 - len)) as u128
            };
            (
                Field::IpDst,
                (0xc612_0000 | ((pick % 4) << 8) | (pick % 3)) & mask,
                Some(mask),
            )
        }
        3 => {
            let len = [16u32, 24, 32][mask_pick as usize % 3];
            let mask = (!0u32 << (32 - len)) as u128;
            (
                Field::IpSrc,
                (0xc612_0000 | ((pick % 3) << 8) | (pick % 2)) & mask,
                Some(mask),
            )
        }
        4 => (Field::NwProto, [6, 17, 1][pick as usize % 3], None),
        5 => {
            let mask = [0xffffu128, 0xff00][mask_pick as usize % 2];
            (
                Field::TcpDst,
                [22u128, 80, 443, 0x1f00][pick as usize % 4] & mask,
                Some(mask),
            )
        }
        6 => (
            Field::Reg0,
            (pick % 4) & [3u128, 1][mask_pick as usize % 2],
            Some([3u128, 1][mask_pick as usize % 2]),
        ),
        _ => {
            let len = [32u32, 48, 64, 128][mask_pick as usize % 4];
            let mask = !0u128 << (128 - len);
            (
                Field::Ipv6Dst,
                ((0x2001_0db8u128 << 96) | ((pick % 3) << 72) | (pick % 2)) & mask,
                Some(mask),
            )
        }
    }
}

fn arb_rule() -> impl Strategy<Value = (OfMatch, u32)> {
    (
        proptest::collection::vec((0usize..8, any::<u32>(), any::<u32>()), 0..4),
        0u32..6,
    )
        .prop_map(|(fs, prio)| {
            let mut fields: Vec<_> = fs.iter().map(|&(i, p, m)| rule_field(i, p, m)).collect();
            fields.sort_by_key(|f| f.0);
            fields.dedup_by_key(|f| f.0);
            (mk(&fields), prio)
        })
}

fn arb_packet() -> impl Strategy<Value = OfFlow> {
    (any::<[u32; 8]>(), any::<u64>()).prop_map(|(r, noise)| {
        let mut f = pkt(&[
            (Field::InPort, 1 + r[0] as u128 % 3),
            (Field::EthType, [0x800, 0x806, 0x86dd][r[1] as usize % 3]),
            (
                Field::IpDst,
                0xc612_0000 | ((r[2] as u128 % 4) << 8) | ((r[2] >> 8) as u128 % 3),
            ),
            (
                Field::IpSrc,
                0xc612_0000 | ((r[3] as u128 % 3) << 8) | ((r[3] >> 8) as u128 % 2),
            ),
            (Field::NwProto, [6, 17, 1][r[4] as usize % 3]),
            (
                Field::TcpDst,
                [22u128, 80, 443, 0x1f00, 0x1f50][r[5] as usize % 5],
            ),
            (
                Field::Ipv6Dst,
                (0x2001_0db8u128 << 96) | ((r[6] as u128 % 3) << 72) | (r[6] as u128 % 2),
            ),
        ]);
        f.set_reg(0, r[7] % 5);
        // Noise in bits no rule looks at must not matter either.
        f.0[dp::W_DL_SRC] = noise & 0xffff_ffff_ffff;
        f
    })
}

fn naive_best(rules: &[(OfMatch, u32)], f: &OfFlow) -> Option<u32> {
    rules
        .iter()
        .filter(|(m, _)| m.matches(f))
        .map(|(_, p)| *p)
        .max()
}

fn prefix_config(i: u8) -> Vec<Field> {
    match i % 3 {
        0 => DEFAULT_PREFIX_FIELDS.to_vec(),
        1 => vec![],
        _ => vec![Field::Ipv6Dst, Field::IpSrc, Field::TunDst],
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Box<OfMatch>, u32),
    Remove(usize),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => arb_rule().prop_map(|(m, p)| Op::Insert(Box::new(m), p)),
        1 => any::<usize>().prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn agrees_with_naive(
        ops in proptest::collection::vec(arb_op(), 1..60),
        packets in proptest::collection::vec(arb_packet(), 1..20),
        probes in proptest::collection::vec(arb_rule(), 1..8),
        cfg in any::<u8>(),
    ) {
        let mut c = Classifier::new();
        c.set_prefix_fields(&prefix_config(cfg)).unwrap();
        let mut naive: Vec<(OfMatch, u32)> = Vec::new();
        for (n, op) in ops.iter().enumerate() {
            match op {
                Op::Insert(m, p) => {
                    let old = c.insert(**m, *p, n);
                    let had = naive.iter().any(|r| r == &(**m, *p));
                    prop_assert_eq!(old.is_some(), had);
                    if !had { naive.push((**m, *p)); }
                }
                Op::Remove(i) if !naive.is_empty() => {
                    let (m, p) = naive.swap_remove(i % naive.len());
                    prop_assert!(c.remove(&m, p).is_some());
                    prop_assert!(c.remove(&m, p).is_none());
                }
                Op::Remove(_) => {}
            }
            prop_assert_eq!(c.len(), naive.len());
        }
        for (m, p) in &naive {
            prop_assert!(c.get(m, *p).is_some());
        }
        for f in &packets {
            let got = c.lookup(f, None);
            prop_assert_eq!(got.map(|(k, _)| k.priority), naive_best(&naive, f));
            if let Some((k, _)) = got { prop_assert!(k.r#match().matches(f)); }
            let mut wc = OfFlow::default();
            let with_wc = c.lookup(f, Some(&mut wc)).map(|(k, _)| k.priority);
            prop_assert_eq!(with_wc, naive_best(&naive, f));
        }
        for (m, p) in &probes {
            let mut got: Vec<_> = c.covered_by(m).map(|(k, _)| (k.r#match(), k.priority)).collect();
            let mut want: Vec<_> = naive.iter().filter(|(r, _)| r.is_covered_by(m)).copied().collect();
            got.sort_by_key(|x| format!("{x:?}"));
            want.sort_by_key(|x| format!("{x:?}"));
            prop_assert_eq!(got, want);
            let want = naive.iter().any(|(r, rp)| rp == p && r.overlaps(m));
            prop_assert_eq!(c.overlaps(m, *p), want);
            prop_assert_eq!(c.get(m, *p).is_some(), naive.contains(&(*m, *p)));
        }
    }

    /// Megaflow soundness: any packet that agrees with a looked-up packet
    /// on every un-wildcarded bit gets the same rule.
    #[test]
    fn wildcards_are_sufficient(
        rules in proptest::collection::vec(arb_rule(), 1..40),
        packets in proptest::collection::vec((arb_packet(), arb_packet()), 1..30),
        cfg in any::<u8>(),
    ) {
        let mut c = Classifier::new();
        c.set_prefix_fields(&prefix_config(cfg)).unwrap();
        for (i, (m, p)) in rules.iter().enumerate() {
            c.insert(*m, *p, i);
        }
        for (a, b) in &packets {
            let mut wc = OfFlow::default();
            let ra = c.lookup(a, Some(&mut wc)).map(|(k, _)| (k.r#match(), k.priority));
            // b' = a on the wildcard bits, b elsewhere.
            let mut b2 = *b;
            for w in 0..b2.0.len() {
                b2.0[w] = (a.0[w] & wc.0[w]) | (b.0[w] & !wc.0[w]);
            }
            let rb = c.lookup(&b2, None).map(|(k, _)| (k.r#match(), k.priority));
            prop_assert_eq!(ra, rb);
        }
    }

    /// One-pass removal selects exactly what `covered_by` plus the filter
    /// select, leaves the rest, and leaves the classifier (its prefix
    /// tries included) answering as one built from the remaining rules.
    #[test]
    fn remove_covered_agrees_with_naive(
        rules in proptest::collection::vec(arb_rule(), 1..60),
        probes in proptest::collection::vec(arb_rule(), 1..4),
        packets in proptest::collection::vec(arb_packet(), 1..20),
        parity in 0usize..3,
        cfg in any::<u8>(),
    ) {
        let mut c = Classifier::new();
        c.set_prefix_fields(&prefix_config(cfg)).unwrap();
        let mut naive: Vec<(OfMatch, u32, usize)> = Vec::new();
        for (i, (m, p)) in rules.iter().enumerate() {
            if c.insert(*m, *p, i).is_none() {
                naive.push((*m, *p, i));
            } else {
                naive.iter_mut().find(|r| r.0 == *m && r.1 == *p).unwrap().2 = i;
            }
        }
        // parity 2: every covered rule; else values of that parity.
        let pick = |v: usize| parity == 2 || v % 2 == parity;
        for (m, _) in probes.iter().chain([(OfMatch::catchall(), 0)].iter()) {
            let mut got: Vec<usize> = c.remove_covered(m, |_, v| pick(*v)).into_iter().map(|(_, v)| v).collect();
            let mut want: Vec<usize> = naive.iter().filter(|r| r.0.is_covered_by(m) && pick(r.2)).map(|r| r.2).collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
            naive.retain(|r| !(r.0.is_covered_by(m) && pick(r.2)));
            prop_assert_eq!(c.len(), naive.len());
            let mut fresh = Classifier::new();
            fresh.set_prefix_fields(&prefix_config(cfg)).unwrap();
            for (m, p, v) in &naive {
                fresh.insert(*m, *p, *v);
                prop_assert_eq!(c.get(m, *p), Some(v));
            }
            for f in &packets {
                let (mut wa, mut wb) = (OfFlow::default(), OfFlow::default());
                let a = c.lookup(f, Some(&mut wa)).map(|(k, v)| (k.priority, *v));
                let b = fresh.lookup(f, Some(&mut wb)).map(|(k, v)| (k.priority, *v));
                prop_assert_eq!(a.map(|x| x.0), b.map(|x| x.0));
                prop_assert_eq!(a.map(|x| x.0), naive_best(&naive.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), f));
            }
        }
        prop_assert!(c.is_empty() || parity != 2);
    }
}

#[test]
fn remove_covered_drops_emptied_subtables_and_tries() {
    let mut c: Classifier<u32> = Classifier::new();
    for i in 0..2000u32 {
        let m = mk(&[
            (Field::EthType, 0x0800, None),
            (Field::IpDst, 0xc612_0000 | i as u128, None),
        ]);
        c.insert(m, 100 + i % 16, i);
    }
    c.insert(mk(&[(Field::EthType, 0x0806, None)]), 5, 9999);
    let ip = mk(&[(Field::EthType, 0x0800, None)]);
    let gone = c.remove_covered(&ip, |_, _| true);
    assert_eq!(gone.len(), 2000);
    assert_eq!(c.len(), 1);
    assert_eq!(c.n_subtables(), 1);
    assert_eq!(c.tries[0].trie.n_nodes(), 1, "nw_dst trie emptied");
    // The same match again, reinserted, is found.
    let m = mk(&[
        (Field::EthType, 0x0800, None),
        (Field::IpDst, 0xc612_0005, None),
    ]);
    c.insert(m, 7, 5);
    let p = pkt(&[(Field::EthType, 0x0800), (Field::IpDst, 0xc612_0005)]);
    assert_eq!(
        c.lookup(&p, None).map(|(k, v)| (k.priority, *v)),
        Some((7, 5))
    );
    assert!(c.lookup(&p, None).unwrap().0.is(&m));
    assert_eq!(c.lookup(&p, None).unwrap().0.r#match(), m);
}

#[test]
fn take_empties_the_classifier_and_keeps_its_prefix_fields() {
    let mut c = routes(&[Field::IpDst]);
    let mut gone: Vec<(u32, &str)> = c.take().into_all();
    gone.sort();
    assert_eq!(
        gone,
        vec![
            (0, "default"),
            (16, "198.18/16"),
            (16, "198.19/16"),
            (24, "198.18.1/24")
        ]
    );
    assert!(c.is_empty());
    assert_eq!(c.n_subtables(), 0);
    assert_eq!(c.prefix_fields(), vec![Field::IpDst]);
    let f = pkt(&[(Field::EthType, IP), (Field::IpDst, 0xc612_0107)]);
    assert!(c.lookup(&f, None).is_none());
    // It works as new: the same rules again route as before, the prefix
    // trie included.
    let again = routes(&[Field::IpDst]);
    for (p, v) in [
        (16, "198.18/16"),
        (24, "198.18.1/24"),
        (16, "198.19/16"),
        (0, "default"),
    ] {
        let (k, _) = again.iter().find(|(_, x)| **x == v).unwrap();
        c.insert(k.r#match(), p, v);
    }
    assert_eq!(route(&c, 0xc612_0205), ("198.18/16", 0xffff_fe00));
    assert_eq!(route(&c, 0xc612_0107), ("198.18.1/24", 0xffff_ff00));
}
