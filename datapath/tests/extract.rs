//! Flow key extraction on real frames, and on truncated/malformed ones.
mod common;
use common::frames::*;
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{extract, FlowKey};
use ferrovs_datapath::packet::{DpPacket, NO_OFFSET};

fn key_of(hexs: &str, in_port: u32) -> (FlowKey, DpPacket) {
    let mut p = DpPacket::from_bytes(&hex::decode(hexs).unwrap());
    p.md_mut().in_port = in_port;
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    (k, p)
}

fn key_bytes(b: &[u8]) -> FlowKey {
    let mut p = DpPacket::from_bytes(b);
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    k
}

const MAC_A: u64 = 0x0200_0000_0001;
const MAC_B: u64 = 0x0200_0000_0002;
const IP_1: u64 = 0xc612_0001;
const IP_2: u64 = 0xc612_0002;
const V6_1: (u64, u64) = (0x2001_0db8_0000_0000, 1);
const V6_2: (u64, u64) = (0x2001_0db8_0000_0000, 2);

#[test]
fn udp4() {
    let (k, p) = key_of(UDP4, 3);
    assert_eq!(k.get(IN_PORT), 3);
    assert_eq!(k.get(DL_DST), MAC_B);
    assert_eq!(k.get(DL_SRC), MAC_A);
    assert_eq!(k.get(DL_TYPE), 0x0800);
    assert_eq!(k.get(NW_SRC), IP_1);
    assert_eq!(k.get(NW_DST), IP_2);
    assert_eq!(k.get(NW_PROTO), 17);
    assert_eq!(k.get(NW_TTL), 64);
    assert_eq!(k.get(NW_FRAG), 0);
    assert_eq!(k.get(TP_SRC), 40000);
    assert_eq!(k.get(TP_DST), 53);
    assert_eq!(k.get(VLAN0_TCI), 0);
    let o = p.offsets();
    assert_eq!((o.l2_5, o.l3, o.l4), (14, 14, 34));
    // compact: in_port, dl_dst, dl_src, dl_type, nw, nw_misc, tp
    assert_eq!(k.words().len(), 7);
}

#[test]
fn tcp4_syn_with_options() {
    let (k, _) = key_of(TCP4_SYN, 1);
    assert_eq!(k.get(NW_PROTO), 6);
    assert_eq!(k.get(TP_SRC), 43210);
    assert_eq!(k.get(TP_DST), 80);
    assert_eq!(k.get(TCP_FLAGS), 0x002);
}

#[test]
fn tcp6_synack() {
    let (k, _) = key_of(TCP6_SYNACK, 1);
    assert_eq!(k.get(DL_TYPE), 0x86dd);
    assert_eq!((k.get(IPV6_SRC_HI), k.get(IPV6_SRC_LO)), V6_1);
    assert_eq!((k.get(IPV6_DST_HI), k.get(IPV6_DST_LO)), V6_2);
    assert_eq!(k.get(NW_PROTO), 6);
    assert_eq!(k.get(TCP_FLAGS), 0x012);
    assert_eq!(k.get(TP_SRC), 443);
}

#[test]
fn icmp4_with_ip_options() {
    let (k, p) = key_of(ICMP4_OPTS, 1);
    assert_eq!(k.get(NW_PROTO), 1);
    assert_eq!(k.get(TP_SRC), 8, "icmp type");
    assert_eq!(k.get(TP_DST), 0, "icmp code");
    assert_eq!(p.offsets().l4, 14 + 24, "L4 after the 4 option bytes");
}

#[test]
fn qinq_two_tags() {
    let (k, p) = key_of(QINQ_UDP4, 1);
    assert_eq!(k.get(VLAN0_TPID), 0x88a8);
    assert_eq!(k.get(VLAN0_TCI), 0x0064 | VLAN_PRESENT as u64);
    assert_eq!(k.get(VLAN1_TPID), 0x8100);
    assert_eq!(k.get(VLAN1_TCI), 0x200a | VLAN_PRESENT as u64);
    assert_eq!(k.get(DL_TYPE), 0x0800);
    assert_eq!(k.get(NW_SRC), 0xc612_0101);
    assert_eq!(k.get(TP_DST), 6000);
    assert_eq!(p.offsets().l3, 22);
}

#[test]
fn arp_request() {
    let (k, _) = key_of(ARP_REQ, 1);
    assert_eq!(k.get(DL_TYPE), 0x0806);
    assert_eq!(k.get(NW_PROTO), 1, "ARP op in nw_proto");
    assert_eq!(k.get(NW_SRC), IP_1);
    assert_eq!(k.get(NW_DST), IP_2);
    assert_eq!(k.get(ARP_SHA), MAC_A);
    assert_eq!(k.get(ARP_THA), 0);
}

#[test]
fn nd_solicit_and_advert() {
    let (k, _) = key_of(ND_NS, 1);
    assert_eq!(k.get(NW_PROTO), 58);
    assert_eq!(k.get(TP_SRC), 135);
    assert_eq!(k.get(NW_TTL), 255);
    assert_eq!((k.get(ND_TARGET_HI), k.get(ND_TARGET_LO)), V6_2);
    assert_eq!(k.get(ARP_SHA), MAC_A, "SLL");
    assert_eq!(k.get(ARP_THA), 0);
    let (k, _) = key_of(ND_NA, 1);
    assert_eq!(k.get(TP_SRC), 136);
    assert_eq!(k.get(ARP_THA), MAC_B, "TLL");
    assert_eq!(k.get(ARP_SHA), 0);
}

#[test]
fn nd_with_zero_length_option_keeps_what_came_before() {
    // As OVS: an option of length 0 ends the walk; the target (and any
    // address read before it) stays.
    let mut b = hex::decode(ND_NS).unwrap();
    let opt = 14 + 40 + 24;
    b[opt + 1] = 0;
    let k = key_bytes(&b);
    assert_eq!(k.get(TP_SRC), 135);
    assert_eq!((k.get(ND_TARGET_HI), k.get(ND_TARGET_LO)), V6_2);
    assert_eq!(k.get(ARP_SHA), 0);
}

#[test]
fn nd_with_a_second_sll_has_no_nd_fields() {
    let mut b = hex::decode(ND_NS).unwrap();
    let opt = b[14 + 40 + 24..].to_vec();
    b.extend_from_slice(&opt);
    b[14 + 5] += 8; // payload length
    let k = key_bytes(&b);
    assert_eq!(k.get(TP_SRC), 135);
    assert_eq!(k.get(ND_TARGET_HI), 0);
    assert_eq!(k.get(ARP_SHA), 0);
}

#[test]
fn ipv6_ext_headers_and_fragments() {
    let (k, p) = key_of(IPV6_HBH_FRAG1, 1);
    assert_eq!(k.get(NW_PROTO), 17);
    assert_eq!(k.get(NW_FRAG), 1, "first fragment");
    assert_eq!(k.get(TP_SRC), 7000);
    assert_eq!(k.get(IPV6_LABEL), 0x12345);
    assert_eq!(p.offsets().l4, 14 + 40 + 8 + 8);
    let (k, _) = key_of(IPV6_FRAG_LATER, 1);
    assert_eq!(
        k.get(NW_PROTO),
        44,
        "later fragment: the fragment header, as OVS"
    );
    assert_eq!(k.get(NW_FRAG), 3, "later fragment");
    assert_eq!(k.get(TP_SRC), 0, "no L4 in later fragments");
}

#[test]
fn ipv4_fragments() {
    let (k, _) = key_of(IPV4_FRAG_FIRST, 1);
    assert_eq!(k.get(NW_FRAG), 1);
    assert_eq!(k.get(TP_DST), 5678);
    let (k, p) = key_of(IPV4_FRAG_LATER, 1);
    assert_eq!(k.get(NW_FRAG), 3);
    assert_eq!(k.get(TP_SRC), 0);
    assert_eq!(p.offsets().l4, NO_OFFSET);
}

#[test]
fn mpls_label_stack() {
    let (k, _) = key_of(MPLS, 1);
    assert_eq!(k.get(DL_TYPE), 0x8847);
    assert_eq!(k.get(MPLS_LSE) >> 12, 1000);
    assert_eq!(k.get(MPLS_LSE) & 0xff, 64);
    assert_eq!(
        k.get(MPLS_LSE1),
        0x007d_013f,
        "second entry (bottom of stack)"
    );
    assert_eq!(k.get(MPLS_LSE2), 0);
    assert_eq!(k.get(NW_SRC), 0, "no L3 parsing below MPLS");
    // Four entries, none bottom of stack: the first three are kept.
    let mut f = hex::decode(&MPLS[..28]).unwrap();
    for lse in [0x0000_1040u32, 0x0000_2040, 0x0000_3040, 0x0000_4040] {
        f.extend_from_slice(&lse.to_be_bytes());
    }
    let k = key_bytes(&f);
    assert_eq!(k.get(MPLS_LSE), 0x1040);
    assert_eq!(k.get(MPLS_LSE1), 0x2040);
    assert_eq!(k.get(MPLS_LSE2), 0x3040);
}

#[test]
fn nsh_md1() {
    let mut f = hex::decode(&UDP4[..24]).unwrap();
    f.extend_from_slice(&[0x89, 0x4f, 0x1f, 0xc6, 0x01, 0x03, 0x00, 0x01, 0x23, 0xfe]);
    for c in 1u32..=4 {
        f.extend_from_slice(&(0xc000_0000 | c).to_be_bytes());
    }
    let (k, p) = key_of(&hex::encode(&f), 1);
    assert_eq!(k.get(DL_TYPE), 0x894f);
    assert_eq!((k.get(NSH_FLAGS), k.get(NSH_TTL)), (1, 63));
    assert_eq!((k.get(NSH_MDTYPE), k.get(NSH_NP)), (1, 3));
    assert_eq!((k.get(NSH_SPI), k.get(NSH_SI)), (0x123, 0xfe));
    let c = [NSH_C1, NSH_C2, NSH_C3, NSH_C4].map(|f| k.get(f));
    assert_eq!(c, [0xc000_0001, 0xc000_0002, 0xc000_0003, 0xc000_0004]);
    assert_eq!(p.offsets().l3, 14);
    // Cut one byte short of its length: no NSH fields.
    let k = key_bytes(&f[..f.len() - 1]);
    assert_eq!(k.get(NSH_SPI), 0);
    assert_eq!(k.get(DL_TYPE), 0x894f);
}

#[test]
fn igmp_and_cross_version_icmp() {
    // IGMPv2 report: type and code in tp_src/tp_dst.
    let mut f = hex::decode(&ICMP4_OPTS[..28]).unwrap();
    f.extend_from_slice(&[
        0x45, 0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0, 198, 18, 0, 1, 224, 0, 0, 251,
    ]);
    f.extend_from_slice(&[0x16, 0x05, 0, 0, 224, 0, 0, 251]);
    let k = key_bytes(&f);
    assert_eq!(
        (k.get(NW_PROTO), k.get(TP_SRC), k.get(TP_DST)),
        (2, 0x16, 5)
    );
    // ICMPv6 carried in IPv4: type and code too.
    f[14 + 9] = 58;
    f[34] = 128;
    let k = key_bytes(&f);
    assert_eq!((k.get(TP_SRC), k.get(TP_DST)), (128, 5));
    // An ICMP header of 7 bytes: no type or code (OVS needs all 8).
    f[14 + 9] = 1;
    f[14 + 3] = 27;
    let k = key_bytes(&f[..f.len() - 1]);
    assert_eq!((k.get(NW_PROTO), k.get(TP_SRC)), (1, 0));
}

#[test]
fn sctp4() {
    let (k, _) = key_of(SCTP4, 1);
    assert_eq!(k.get(NW_PROTO), 132);
    assert_eq!(k.get(TP_SRC), 5001);
    assert_eq!(k.get(TP_DST), 5002);
}

#[test]
fn metadata_words() {
    let mut p = DpPacket::from_bytes(&hex::decode(UDP4).unwrap());
    {
        let md = p.md_mut();
        md.in_port = 7;
        md.recirc_id = 5;
        md.dp_hash = 0xabcd;
        md.pkt_mark = 9;
        md.ct.state = 0x21;
        md.ct.zone = 3;
        md.tunnel.ipv4_dst = IP_2 as u32;
        md.tunnel.id = 42;
    }
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    assert_eq!(k.get(RECIRC_ID), 5);
    assert_eq!(k.get(DP_HASH), 0xabcd);
    assert_eq!(k.get(PKT_MARK), 9);
    assert_eq!(k.get(CT_STATE), 0x21);
    assert_eq!(k.get(CT_ZONE), 3);
    assert_eq!(k.get(TUN_ID), 42);
    assert_eq!(k.get(TUN_DST), IP_2);
}

#[test]
fn truncated_ethernet_is_metadata_only() {
    let b = hex::decode(UDP4).unwrap();
    let k = key_bytes(&b[..13]);
    assert_eq!(k.words().len(), 0, "in_port 0 and nothing else: {k:?}");
}

#[test]
fn truncated_vlan_keeps_tpid_as_type() {
    let b = hex::decode(QINQ_UDP4).unwrap();
    let k = key_bytes(&b[..16]);
    assert_eq!(k.get(DL_TYPE), 0x88a8);
    assert_eq!(k.get(VLAN0_TCI), 0);
}

#[test]
fn truncated_ipv4_has_no_l3() {
    let b = hex::decode(UDP4).unwrap();
    // Total length says more than we have: OVS records no IPv4 fields.
    let k = key_bytes(&b[..40]);
    assert_eq!(k.get(DL_TYPE), 0x0800);
    assert_eq!(k.get(NW_SRC), 0);
    assert_eq!(k.get(NW_PROTO), 0);
}

#[test]
fn ip_version_nibble_is_not_checked_like_ovs() {
    let mut b = hex::decode(UDP4).unwrap();
    b[14] = 0x65; // version 6, IHL 5, under EtherType IPv4
    let k = key_bytes(&b);
    assert_eq!(k.get(NW_SRC), IP_1);
    assert_eq!(k.get(TP_DST), 53);
    let mut b = hex::decode(TCP6_SYNACK).unwrap();
    b[14] = 0x40 | (b[14] & 0x0f); // version 4 under EtherType IPv6
    let k = key_bytes(&b);
    assert_eq!(k.get(NW_PROTO), 6);
    assert_eq!(k.get(TP_SRC), 443);
}

#[test]
fn bad_ihl_has_no_l3() {
    let mut b = hex::decode(UDP4).unwrap();
    b[14] = 0x44; // IHL 4 < 5
    let k = key_bytes(&b);
    assert_eq!(k.get(DL_TYPE), 0x0800);
    assert_eq!(k.get(NW_SRC), 0);
}

#[test]
fn truncated_tcp_has_l3_not_l4() {
    let mut b = hex::decode(TCP4_SYN).unwrap();
    // Cut inside the TCP header and fix the IPv4 total length to match.
    let cut = 14 + 20 + 10;
    b.truncate(cut);
    let tot = (cut - 14) as u16;
    b[16..18].copy_from_slice(&tot.to_be_bytes());
    let k = key_bytes(&b);
    assert_eq!(k.get(NW_PROTO), 6);
    assert_eq!(k.get(NW_SRC), IP_1);
    assert_eq!(k.get(TP_SRC), 0);
    assert_eq!(k.get(TCP_FLAGS), 0);
}

#[test]
fn tcp_bad_data_offset_has_no_l4() {
    let mut b = hex::decode(TCP4_SYN).unwrap();
    b[14 + 20 + 12] = 0x40; // 4 words < 5
    let k = key_bytes(&b);
    assert_eq!(k.get(NW_PROTO), 6);
    assert_eq!(k.get(TP_DST), 0);
}

#[test]
fn truncated_ipv6_ext_header_has_addresses_only() {
    let mut b = hex::decode(IPV6_HBH_FRAG1).unwrap();
    // Hop-by-hop claims 3*8+8 bytes, more than the payload holds.
    b[14 + 40 + 1] = 30;
    let k = key_bytes(&b);
    assert_eq!((k.get(IPV6_SRC_HI), k.get(IPV6_SRC_LO)), V6_1);
    assert_eq!(k.get(NW_PROTO), 0);
    assert_eq!(k.get(NW_TTL), 0);
}

#[test]
fn arp_with_wrong_hardware_type_has_no_arp_fields() {
    let mut b = hex::decode(ARP_REQ).unwrap();
    b[15] = 6; // htype 6 (IEEE 802)
    let k = key_bytes(&b);
    assert_eq!(k.get(DL_TYPE), 0x0806);
    assert_eq!(k.get(NW_SRC), 0);
    assert_eq!(k.get(ARP_SHA), 0);
}

/// Every captured test frame, for the tests that walk all of them.
const ALL_FRAMES: [&str; 14] = [
    UDP4,
    TCP4_SYN,
    ICMP4_OPTS,
    QINQ_UDP4,
    ARP_REQ,
    ND_NS,
    ND_NA,
    IPV6_HBH_FRAG1,
    IPV6_FRAG_LATER,
    IPV4_FRAG_FIRST,
    IPV4_FRAG_LATER,
    MPLS,
    SCTP4,
    TCP6_SYNACK,
];

#[test]
fn every_prefix_of_every_frame_is_safe_and_monotone() {
    for f in ALL_FRAMES {
        let b = hex::decode(f).unwrap();
        let full = key_bytes(&b);
        for n in 0..=b.len() {
            let k = key_bytes(&b[..n]);
            // A prefix never shows a word the full frame does not have.
            assert_eq!(k.map() & !full.map(), 0, "prefix {n} of {f}");
            assert_eq!(k.map().count_ones() as usize, k.words().len());
        }
        assert!(key_bytes(&b[..b.len() - 1]).words().len() <= full.words().len());
    }
}

#[test]
fn llc_snap_and_802_3_length() {
    // 802.3 frame with a length field and plain LLC (no SNAP).
    let mut b = hex::decode(UDP4).unwrap();
    b[12..14].copy_from_slice(&0x0040u16.to_be_bytes());
    b[14..17].copy_from_slice(&[0x42, 0x42, 0x03]);
    let k = key_bytes(&b);
    assert_eq!(k.get(DL_TYPE), 0x05ff);
}

/// Extraction lays words down and hashes them in one pass; the result must
/// be the key (and hash) that compacting its dense form gives, for every
/// prefix of every frame and with conntrack, tunnel and recirculation
/// metadata present or not.
#[test]
fn one_pass_key_and_hash_match_the_dense_round_trip() {
    use ferrovs_datapath::flow::Flow;
    let mut keys = std::collections::HashSet::new();
    let mut hashes = std::collections::HashSet::new();
    for f in ALL_FRAMES {
        let b = hex::decode(f).unwrap();
        for n in 0..=b.len() {
            for v in 0..4u32 {
                let mut p = DpPacket::from_bytes(&b[..n]);
                let md = p.md_mut();
                md.in_port = 1 + v;
                if v & 1 != 0 {
                    md.ct.state = 0x21;
                    md.ct.zone = 7;
                    md.ct.label = 1 << 100;
                    md.tunnel.ipv4_dst = 0xc612_0009;
                    md.tunnel.id = 42;
                }
                if v & 2 != 0 {
                    md.recirc_id = 3;
                    md.pkt_mark = 0x55;
                }
                let mut k = FlowKey::default();
                extract(&mut p, &mut k);
                let mut d = Flow::default();
                k.expand(&mut d);
                let back = d.to_key();
                assert_eq!(back, k, "prefix {n} of {f}, md {v}");
                assert_eq!(back.hash(), k.hash(), "prefix {n} of {f}, md {v}");
                let mut r = k.clone();
                r.rehash();
                assert_eq!(r.hash(), k.hash());
                // The recorded TCP flags are the L4 word's field.
                assert_eq!(k.tcp_flags() as u64, k.get(TCP_FLAGS), "prefix {n} of {f}");
                assert_eq!(back.tcp_flags(), k.tcp_flags());
                keys.insert((k.map(), k.words().to_vec()));
                hashes.insert(k.hash());
            }
        }
    }
    // Distinct keys get distinct hashes here (a weak check of the mixer:
    // keys differing in a few bits).
    assert!(keys.len() > 80, "{} distinct keys", keys.len());
    assert_eq!(hashes.len(), keys.len());
}

/// A received packet's metadata is reset whether or not it was touched
/// before (recycled buffers carry the last user's conntrack and tunnel
/// state), and a packet with clean metadata extracts to the same key as a
/// packet whose metadata was reset in full.
#[test]
fn reset_clears_touched_metadata_and_clean_key_matches() {
    use ferrovs_datapath::flow::extract_parts;
    use ferrovs_datapath::packet::PktMetadata;
    let b = hex::decode(UDP4).unwrap();
    let mut p = DpPacket::from_bytes(&b);
    {
        let md = p.md_mut();
        md.recirc_id = 5;
        md.pkt_mark = 9;
        md.ct.state = 0x21;
        md.ct.label = 1 << 100;
        md.tunnel.ipv4_dst = IP_2 as u32;
        md.tunnel.id = 42;
    }
    assert!(p.md_dirty());
    p.reset_md(4);
    assert!(!p.md_dirty());
    let want = PktMetadata {
        in_port: 4,
        ..PktMetadata::default()
    };
    assert_eq!(p.md(), &want);
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    let mut kf = FlowKey::default();
    let of = extract_parts(&b, &want, &mut kf);
    assert!(k == kf && k.hash() == kf.hash());
    assert_eq!(p.offsets(), of);
    assert_eq!(k.get(IN_PORT), 4);
    assert_eq!(k.get(CT_STATE), 0);
    assert_eq!(k.get(TUN_ID), 0);
    assert_eq!(k.get(RECIRC_ID), 0);
    // A clean packet only has in_port rewritten by the next reset.
    p.reset_md(6);
    assert!(!p.md_dirty());
    assert_eq!(p.md().in_port, 6);
    // Cloning keeps the flag, so a clone of a touched packet is reset in
    // full too.
    p.md_mut().ct.zone = 3;
    let mut c = DpPacket::new();
    p.clone_into(&mut c);
    assert!(c.md_dirty());
    c.reset_md(1);
    assert_eq!(c.md().ct.zone, 0);
}

/// The common-frame fast path (untagged IPv4 without options, UDP/TCP/SCTP)
/// gives the same key, hash and offsets as the general header walk: over
/// every prefix of every captured frame, every frame with one byte of its
/// first 64 replaced by values that flip the fast path's decisions (type,
/// IHL, total length, fragment bits, protocol, TCP data offset; every value
/// of the length, IHL, fragment and data offset bytes), with clean and with
/// touched metadata.
#[test]
fn fast_path_equals_general_walk() {
    use ferrovs_datapath::flow::{extract_parts, extract_parts_general};
    use ferrovs_datapath::packet::PktMetadata;
    let mut mds = vec![PktMetadata {
        in_port: 3,
        ..Default::default()
    }];
    let mut md = mds[0].clone();
    md.recirc_id = 2;
    md.ct.state = 0x21;
    md.tunnel.ipv4_dst = IP_2 as u32;
    mds.push(md);
    mds.push(PktMetadata::default());
    let check = |b: &[u8], what: &str| {
        for md in &mds {
            let (mut kf, mut kg) = (FlowKey::default(), FlowKey::default());
            let of = extract_parts(b, md, &mut kf);
            let og = extract_parts_general(b, md, &mut kg);
            assert_eq!(kf, kg, "{what}");
            assert_eq!(kf.hash(), kg.hash(), "{what}");
            assert_eq!(kf.tcp_flags(), kg.tcp_flags(), "{what}");
            assert_eq!(kf.tcp_flags() as u64, kf.get(TCP_FLAGS), "{what}");
            assert_eq!(of, og, "{what}");
            // And through a received (clean-metadata) packet.
            if md.recirc_id == 0 {
                let mut p = DpPacket::from_bytes(b);
                p.reset_md(md.in_port);
                let mut kp = FlowKey::default();
                extract(&mut p, &mut kp);
                assert!(kp == kg && kp.hash() == kg.hash(), "{what}");
                assert_eq!(p.offsets(), og, "{what}");
            }
        }
    };
    let mut fast_l4 = 0;
    for f in ALL_FRAMES {
        let b = hex::decode(f).unwrap();
        for n in 0..=b.len() {
            check(&b[..n], &format!("prefix {n} of {f}"));
        }
        // Padded to 64 bytes so that mutations reach the TCP header too.
        let mut b = b;
        if b.len() < 64 {
            b.resize(64, 0);
        }
        for at in 0..64 {
            let orig = b[at];
            // Every value of the IPv4 total length, IHL, fragment and TCP
            // data offset bytes; a few telling values elsewhere.
            let every = matches!(at, 14 | 16 | 17 | 20 | 21 | 46);
            let some = [
                0,
                1,
                0x05,
                0x06,
                0x11,
                0x20,
                0x40,
                0x45,
                0x46,
                0x50,
                0x84,
                0xff,
                orig ^ 0x01,
                orig ^ 0x10,
                orig ^ 0x80,
            ];
            let values: Vec<u8> = if every {
                (0..=255).collect()
            } else {
                some.to_vec()
            };
            for v in values {
                b[at] = v;
                check(&b, &format!("byte {at} = {v:#x} of {f}"));
                let mut k = FlowKey::default();
                extract_parts(&b, &mds[0], &mut k);
                fast_l4 += (k.get(DL_TYPE) == 0x0800 && k.map() >> W_TP & 1 != 0) as u32;
            }
            b[at] = orig;
        }
    }
    // The mutations kept many IPv4 frames parseable to L4 (the fast path's
    // domain), not only broken ones.
    assert!(fast_l4 > 1000, "{fast_l4} IPv4 keys with L4 words");
}
