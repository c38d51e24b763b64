//! Frames of every shape the datapath's flow extractor knows, for
//! differential tests against `ovs-ofctl parse-pcap`: every L4 protocol
//! over IPv4 and IPv6, IPv6 extension headers, IPv4 fragments and header
//! shapes (options, bad IHL, long and short lengths), ARP and RARP, VLAN
//! stacks, MPLS, NSH, LLC/SNAP, malformed lengths, and every prefix of a
//! set of seed frames (truncation at every header boundary). The same
//! shapes as `datapath/tests/extract_ovs.rs`, shared here so that other
//! crates' tests (`ferrovs ofctl parse-pcap`) build the same pcap.
//! Addresses are in 198.18.0.0/15 and 2001:db8::/32.

const V6_A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn eth(ty: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ty.to_be_bytes());
    f
}

fn with(mut a: Vec<u8>, b: &[u8]) -> Vec<u8> {
    a.extend_from_slice(b);
    a
}

/// IPv4 header (IHL 5 unless `opts`) + payload; `frag` is the flags and
/// offset half-word.
fn ip4(proto: u8, frag: u16, tos: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    let ihl = 5 + opts.len() / 4;
    let tot = (ihl * 4 + payload.len()) as u16;
    let mut h = vec![0x40 | ihl as u8, tos];
    h.extend_from_slice(&tot.to_be_bytes());
    h.extend_from_slice(&[0x1c, 0x46]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
    h.extend_from_slice(opts);
    with(h, payload)
}

fn ip6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0x01, 0x23, 0x45];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&V6_A);
    h.extend_from_slice(&V6_B);
    with(h, payload)
}

fn tcp(off_words: u8, flags: u16) -> Vec<u8> {
    let mut t = vec![0xa8, 0xca, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0];
    t.extend_from_slice(&(((off_words as u16) << 12) | flags).to_be_bytes());
    t.extend_from_slice(&[0xfa, 0xf0, 0, 0, 0, 0]);
    t.resize((off_words as usize * 4).max(20), 0);
    t
}

/// NS (135) or NA (136) with `opts` after the target.
fn nd(ty: u8, code: u8, opts: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0, 0x60, 0, 0, 0];
    m.extend_from_slice(&V6_B);
    with(m, opts)
}

fn lla(ty: u8, mac_last: u8) -> [u8; 8] {
    [ty, 1, 2, 0, 0, 0, 0, mac_last]
}

fn nsh(b0: u8, b1: u8, md: u8, np: u8, ctx_words: usize) -> Vec<u8> {
    let mut h = vec![b0, b1, md, np, 0x00, 0x01, 0x23, 0xfe];
    for i in 0..ctx_words {
        h.extend_from_slice(&(0x1111_0000u32 + i as u32).to_be_bytes());
    }
    h
}

/// Upper-layer payloads worth trying under either IP version.
fn l4_cases() -> Vec<(u8, Vec<u8>)> {
    let mut v = vec![
        (6, tcp(5, 0x002)),
        (6, tcp(8, 0x012)),
        (6, tcp(4, 0x010)),
        (6, tcp(15, 0x001)),
        (6, tcp(5, 0xfff)),
        (6, tcp(5, 0x002)[..19].to_vec()),
        (17, vec![0x9c, 0x40, 0, 53, 0, 8, 0, 0]),
        (17, vec![0x9c, 0x40, 0, 53, 0, 8, 0]),
        (
            132,
            vec![0x13, 0x89, 0x13, 0x8a, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0],
        ),
        (
            132,
            vec![0x13, 0x89, 0x13, 0x8a, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0],
        ),
        (99, vec![1, 2, 3, 4]),
        (50, vec![0, 0, 0, 1, 0, 0, 0, 1]),
    ];
    // ICMP, IGMP and ICMPv6 of every header length around 8 bytes.
    for proto in [1u8, 2, 58] {
        let hdr = [8u8, 3, 0, 0, 0x12, 0x34, 0, 1, 0xaa, 0xbb];
        for n in [0, 1, 2, 4, 7, 8, 10] {
            v.push((proto, hdr[..n].to_vec()));
        }
    }
    v.push((2, vec![0x16, 0, 0, 0, 224, 0, 0, 251]));
    v.push((2, vec![0x11, 0x64, 0, 0, 0, 0, 0, 0]));
    // Neighbor discovery and its malformed options.
    let sll = lla(1, 0xa1);
    let sll2 = lla(1, 0xa2);
    let tll = lla(2, 0xb1);
    let zero_sll = [1u8, 1, 0, 0, 0, 0, 0, 0];
    let unknown = [14u8, 1, 1, 2, 3, 4, 5, 6];
    let big_sll = [1u8, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let zero_len = [1u8, 0, 2, 0, 0, 0, 0, 3];
    let overrun = [2u8, 2, 2, 0, 0, 0, 0, 4];
    let opt_sets: Vec<Vec<u8>> = vec![
        vec![],
        sll.to_vec(),
        tll.to_vec(),
        [sll, tll].concat(),
        [tll, sll].concat(),
        [sll, sll2].concat(),
        [tll, lla(2, 0xb2)].concat(),
        [zero_sll, sll].concat(),
        [unknown, sll].concat(),
        [&big_sll[..], &tll[..]].concat(),
        [&sll[..], &zero_len[..], &tll[..]].concat(),
        [&sll[..], &overrun[..]].concat(),
        [&tll[..], &[1u8, 2, 3][..]].concat(),
        zero_len.to_vec(),
    ];
    for ty in [135u8, 136] {
        for o in &opt_sets {
            v.push((58, nd(ty, 0, o)));
        }
        v.push((58, nd(ty, 1, &sll)));
        v.push((58, nd(ty, 0, &[])[..20].to_vec()));
        v.push((58, nd(ty, 0, &[])[..8].to_vec()));
    }
    v.push((58, nd(133, 0, &sll)));
    v.push((58, vec![128, 0, 0, 0, 0, 1, 0, 1]));
    v
}

fn ipv6_ext_cases(inner: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let hbh = |next: u8| vec![next, 0, 1, 4, 0, 0, 0, 0];
    let frag = |next: u8, offlg: u16| {
        let mut f = vec![next, 0];
        f.extend_from_slice(&offlg.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0xab, 0xcd]);
        f
    };
    vec![
        (0, [hbh(17), inner.to_vec()].concat()),
        (60, [hbh(43), hbh(17), inner.to_vec()].concat()),
        (
            43,
            [vec![17, 1, 0, 0, 0, 0, 0, 0], vec![0; 8], inner.to_vec()].concat(),
        ),
        (
            51,
            [vec![17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], inner.to_vec()].concat(),
        ),
        (51, [vec![17, 0], vec![0; 6], inner.to_vec()].concat()),
        (44, [frag(17, 0x0001), inner.to_vec()].concat()),
        (44, [frag(17, 0x0000), inner.to_vec()].concat()),
        (44, [frag(17, 0x0006), inner.to_vec()].concat()),
        (44, [frag(17, 0x0002), inner.to_vec()].concat()),
        (44, [frag(17, 0x00b8), inner.to_vec()].concat()),
        (44, [frag(17, 0x00b9), inner.to_vec()].concat()),
        (44, [frag(6, 0x0008), inner.to_vec()].concat()),
        (0, [hbh(44), frag(17, 0x0011), inner.to_vec()].concat()),
        (0, vec![17, 0, 0, 0]),
        (0, vec![17, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        (44, vec![17, 0, 0, 1, 0, 0]),
        (59, vec![]),
    ]
}

/// Every frame (several hundred).
pub fn frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let udp = vec![0x1b, 0x58, 0x1f, 0x40, 0, 8, 0, 0];
    for (proto, l4) in l4_cases() {
        out.push(with(eth(0x0800), &ip4(proto, 0x4000, 0x2e, &[], &l4)));
        out.push(with(eth(0x86dd), &ip6(proto, &l4)));
    }
    for (next, p) in ipv6_ext_cases(&udp) {
        out.push(with(eth(0x86dd), &ip6(next, &p)));
    }
    // IPv4 fragments: the reserved bit, DF, MF, offsets.
    for frag in [
        0x0000u16, 0x8000, 0xc000, 0x4000, 0x2000, 0xa000, 0x0001, 0x8001, 0x1fff, 0x3000,
    ] {
        out.push(with(eth(0x0800), &ip4(17, frag, 0, &[], &udp)));
        out.push(with(
            eth(0x0800),
            &ip4(1, frag, 0, &[], &[8, 0, 0, 0, 0, 0, 0, 0]),
        ));
    }
    // IPv4 header shapes: options, TOS/ECN, bad IHL, lengths.
    out.push(with(eth(0x0800), &ip4(17, 0, 0xff, &[1, 1, 1, 0], &udp)));
    out.push(with(eth(0x0800), &ip4(17, 0, 0x03, &[0; 40], &udp)));
    let mut bad = ip4(17, 0, 0, &[], &udp);
    bad[0] = 0x44;
    out.push(with(eth(0x0800), &bad));
    let mut v6in4 = ip4(17, 0, 0, &[], &udp);
    v6in4[0] = 0x65;
    out.push(with(eth(0x0800), &v6in4));
    let mut long = ip4(17, 0, 0, &[], &udp);
    long[3] += 1;
    out.push(with(eth(0x0800), &long));
    let mut short = ip4(17, 0, 0, &[], &udp);
    short[3] -= 4;
    out.push(with(eth(0x0800), &short));
    out.push(with(with(eth(0x0800), &ip4(17, 0, 0, &[], &udp)), &[0; 6]));
    let mut v6long = ip6(17, &udp);
    v6long[5] += 1;
    out.push(with(eth(0x86dd), &v6long));
    out.push(with(with(eth(0x86dd), &ip6(17, &udp)), &[0; 4]));
    // ARP and RARP.
    let arp = |op: u16, hrd: u16| {
        let mut a = hrd.to_be_bytes().to_vec();
        a.extend_from_slice(&[8, 0, 6, 4]);
        a.extend_from_slice(&op.to_be_bytes());
        a.extend_from_slice(&[
            2, 0, 0, 0, 0, 1, 198, 18, 0, 1, 2, 0, 0, 0, 0, 2, 198, 18, 0, 2,
        ]);
        a
    };
    for (op, hrd) in [(1u16, 1u16), (2, 1), (0x1ff, 1), (0xff, 1), (1, 6)] {
        out.push(with(eth(0x0806), &arp(op, hrd)));
        out.push(with(eth(0x8035), &arp(op, hrd)));
    }
    // VLAN tags.
    let tagged = |tpids: &[u16], inner: &[u8]| {
        let mut f = eth(tpids[0]);
        f.truncate(12);
        for (i, t) in tpids.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&((0x2000 * i as u16) | (0x0064 + i as u16)).to_be_bytes());
        }
        with(f, inner)
    };
    let v4 = with(0x0800u16.to_be_bytes().to_vec(), &ip4(17, 0, 0, &[], &udp));
    out.push(tagged(&[0x8100], &v4));
    out.push(tagged(&[0x88a8, 0x8100], &v4));
    out.push(tagged(&[0x8100, 0x8100], &v4));
    out.push(tagged(&[0x8100, 0x88a8, 0x8100], &v4));
    out.push(tagged(&[0x8100], &[0x08]));
    // LLC/SNAP and 802.3.
    let mut snap = eth(0x0030);
    snap.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    out.push(with(snap.clone(), &ip4(17, 0, 0, &[], &udp)));
    let mut llc = eth(0x0030);
    llc.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
    out.push(llc);
    // MPLS stacks: 1 to 4 entries, no bottom of stack, cut short.
    let lse =
        |label: u32, bos: bool| ((label << 12) | (bos as u32) << 8 | 0x40 | label).to_be_bytes();
    for n in 1..=4usize {
        for bos in [true, false] {
            let mut f = eth(0x8847);
            for i in 0..n {
                f.extend_from_slice(&lse(1000 + i as u32, bos && i == n - 1));
            }
            f.extend_from_slice(&ip4(17, 0, 0, &[], &udp));
            out.push(f);
        }
    }
    out.push(with(eth(0x8848), &[0, 0, 0x11, 0x40, 0, 1]));
    out.push(with(
        eth(0x8847),
        &[0, 0, 0x10, 0x40, 0, 0, 0x21, 0x40, 0, 0],
    ));
    // NSH: MD1, MD2, unknown MD types, versions, lengths, flags, TTL.
    let md1 = nsh(0x0f, 0xc6, 1, 3, 4);
    for h in [
        md1.clone(),
        nsh(0x3f, 0xc6, 1, 1, 4),
        nsh(0x00, 0x46, 0x31, 4, 4),
        nsh(0x0f, 0xc5, 1, 3, 3),
        nsh(0x0f, 0xc7, 1, 3, 5),
        nsh(0x0f, 0xc2, 2, 3, 0),
        nsh(0x0f, 0xc4, 2, 3, 2),
        nsh(0x0f, 0xc1, 2, 3, 0),
        nsh(0x0f, 0xc1, 0, 3, 0),
        nsh(0x0f, 0xc0, 7, 3, 0),
        nsh(0x0f, 0xc6, 0x11, 3, 4),
        nsh(0x0f, 0xc2, 0, 3, 0),
        nsh(0x0f, 0xc2, 0xf, 3, 0),
        nsh(0x4f, 0xc2, 2, 3, 0),
        nsh(0x0f, 0xc9, 2, 3, 2),
        md1[..7].to_vec(),
    ] {
        out.push(with(eth(0x894f), &h));
    }
    // Every prefix of a few frames: each truncation point.
    let seeds = [
        with(eth(0x0800), &ip4(6, 0, 0, &[], &tcp(6, 0x018))),
        with(
            eth(0x86dd),
            &ip6(
                0,
                &[vec![58, 0, 1, 4, 0, 0, 0, 0], nd(135, 0, &lla(1, 0xa1))].concat(),
            ),
        ),
        tagged(&[0x88a8, 0x8100], &v4),
        with(eth(0x894f), &md1),
        with(snap, &ip4(1, 0, 0, &[], &[0, 0, 0, 0, 0, 0, 0, 0])),
    ];
    for s in &seeds {
        // (Not the empty frame: OVS's pcap reader takes it for the end of file.)
        for n in 1..=s.len() {
            out.push(s[..n].to_vec());
        }
    }
    out
}

/// A pcap file (microsecond, Ethernet) holding `frames`.
pub fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&4u16.to_le_bytes());
    for w in [0u32, 0, 65535, 1] {
        p.extend_from_slice(&w.to_le_bytes());
    }
    for f in frames {
        for w in [0u32, 0, f.len() as u32, f.len() as u32] {
            p.extend_from_slice(&w.to_le_bytes());
        }
        p.extend_from_slice(f);
    }
    p
}
