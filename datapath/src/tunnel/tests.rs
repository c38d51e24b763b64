//! Unit tests: templates printed as OVS prints them (the strings are from
//! OVS's tests/tunnel-push-pop.at and tunnel-push-pop-ipv6.at), template
//! round trips, push/pop round trips through the executor, and refusals.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::header::*;
use super::pop::{pop, TNL_F_CSUM, TNL_F_DONT_FRAGMENT, TNL_F_KEY, TNL_F_OAM};
use super::push::{push, udp_src_port};
use super::*;
use crate::actions::execute::PortOutputs;
use crate::actions::{DpAction, ExecCtx};
use crate::flow::FlowKey;
use crate::offload::{Offload, VNET_F_NEEDS_CSUM};
use crate::packet::{DpPacket, PacketPool};
use crate::random::Rng;
use crate::upcall::{UpcallError, UpcallHandler, UpcallReply};
use crate::wire::checksum::checksum;
use crate::wire::gre::GreRepr;
use crate::wire::vxlan::{VxlanGbp, VxlanRepr};

const DST: [u8; 6] = [0xf8, 0xbc, 0x12, 0x44, 0x34, 0xb6];
const SRC: [u8; 6] = [0xaa, 0x55, 0xaa, 0x55, 0, 0];

fn v4() -> OuterIp {
    OuterIp::V4 {
        src: Ipv4Addr::new(1, 1, 2, 88),
        dst: Ipv4Addr::new(1, 1, 2, 92),
        tos: 0,
        ttl: 64,
        df: true,
    }
}
fn v6() -> OuterIp {
    OuterIp::V6 {
        src: "2001:cafe::88".parse::<Ipv6Addr>().unwrap(),
        dst: "2001:cafe::92".parse::<Ipv6Addr>().unwrap(),
        tclass: 0,
        label: 0,
        hlimit: 64,
    }
}
fn vxlan(csum: bool, vni: u32) -> Encap {
    Encap::Vxlan {
        dst_port: 4789,
        csum,
        vxlan: VxlanRepr { vni, gbp: None },
    }
}
fn geneve(opts: &[u8]) -> Encap {
    Encap::Geneve {
        dst_port: 6081,
        csum: false,
        oam: false,
        critical: opts
            .iter()
            .skip(2)
            .step_by(4)
            .take(1)
            .any(|t| t & 0x80 != 0),
        vni: 0x7b,
        options: opts.to_vec(),
    }
}
fn gre(csum: bool, key: Option<u32>, seq: Option<u32>) -> Encap {
    Encap::Gre(GreRepr {
        protocol: 0x6558,
        csum,
        key,
        seq,
    })
}
fn tmpl(ip: OuterIp, encap: Encap) -> TnlHeaderRepr {
    TnlHeaderRepr {
        eth_dst: DST,
        eth_src: SRC,
        ip,
        encap,
    }
}
fn action(port: u32, r: &TnlHeaderRepr) -> TnlPush {
    TnlPush::new(port, 100, r).unwrap()
}

const ETH4: &str = "eth(dst=f8:bc:12:44:34:b6,src=aa:55:aa:55:00:00,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=";
const ETH6: &str = "eth(dst=f8:bc:12:44:34:b6,src=aa:55:aa:55:00:00,dl_type=0x86dd),ipv6(src=2001:cafe::88,dst=2001:cafe::92,label=0,proto=";

#[test]
fn printed_as_ovs_prints() {
    let cases: Vec<(u32, TnlHeaderRepr, String)> = vec![
        (4789, tmpl(v4(), vxlan(false, 0x7b)), format!("tnl_push(tnl_port(4789),header(size=50,type=4,{ETH4}17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x7b)),out_port(100))")),
        (4789, tmpl(v4(), vxlan(true, 0x7b)), format!("tnl_push(tnl_port(4789),header(size=50,type=4,{ETH4}17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0xffff),vxlan(flags=0x8000000,vni=0x7b)),out_port(100))")),
        (3, tmpl(v4(), gre(false, Some(0x1c8), None)), format!("tnl_push(tnl_port(3),header(size=42,type=3,{ETH4}47,tos=0,ttl=64,frag=0x4000),gre((flags=0x2000,proto=0x6558),key=0x1c8)),out_port(100))")),
        (3, tmpl(v4(), gre(false, Some(0x1c8), Some(0))), format!("tnl_push(tnl_port(3),header(size=46,type=3,{ETH4}47,tos=0,ttl=64,frag=0x4000),gre((flags=0x3000,proto=0x6558),key=0x1c8,seq=0x0)),out_port(100))")),
        (6081, tmpl(v4(), geneve(&[])), format!("tnl_push(tnl_port(6081),header(size=50,type=5,{ETH4}17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(vni=0x7b)),out_port(100))")),
        (6081, tmpl(v4(), geneve(&[0xff, 0xff, 0x80, 1, 0, 0, 0, 0x0a])), format!("tnl_push(tnl_port(6081),header(size=58,type=5,{ETH4}17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(crit,vni=0x7b,options({{class=0xffff,type=0x80,len=4,0xa}}))),out_port(100))")),
        (4789, tmpl(v6(), vxlan(true, 0x7b)), format!("tnl_push(tnl_port(4789),header(size=70,type=4,{ETH6}17,tclass=0x0,hlimit=64),udp(src=0,dst=4789,csum=0xffff),vxlan(flags=0x8000000,vni=0x7b)),out_port(100))")),
        (3, tmpl(v6(), gre(false, Some(0x1c8), None)), format!("tnl_push(tnl_port(3),header(size=62,type=109,{ETH6}47,tclass=0x0,hlimit=64),gre((flags=0x2000,proto=0x6558),key=0x1c8)),out_port(100))")),
        (6, tmpl(v6(), gre(false, None, None)), format!("tnl_push(tnl_port(6),header(size=58,type=109,{ETH6}47,tclass=0x0,hlimit=64),gre((flags=0x0,proto=0x6558))),out_port(100))")),
    ];
    for (port, r, want) in cases {
        let a = action(port, &r);
        assert_eq!(a.to_string(), want);
        assert_eq!(a.repr().unwrap(), r, "template round trip");
    }
    assert_eq!(
        TnlPop {
            port: 4789,
            kind: TnlKind::Vxlan
        }
        .to_string(),
        "tnl_pop(4789)"
    );
}

#[test]
fn template_roundtrip_variants() {
    let gbp = Encap::Vxlan {
        dst_port: 4789,
        csum: false,
        vxlan: VxlanRepr {
            vni: 0x159,
            gbp: Some(VxlanGbp {
                dont_learn: true,
                applied: true,
                policy_id: 3,
            }),
        },
    };
    for bits in 0..8u32 {
        let g = gre(
            bits & 1 != 0,
            (bits & 2 != 0).then_some(bits),
            (bits & 4 != 0).then_some(9),
        );
        for ip in [v4(), v6()] {
            let r = tmpl(ip, g.clone());
            assert_eq!(TnlHeaderRepr::parse(&r.emit().unwrap()).unwrap(), r);
        }
    }
    let r = tmpl(
        OuterIp::V4 {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 0, 2),
            tos: 0x10,
            ttl: 3,
            df: false,
        },
        gbp,
    );
    let b = r.emit().unwrap();
    assert_eq!(TnlHeaderRepr::parse(&b).unwrap(), r);
    assert!(action(1, &r)
        .to_string()
        .contains("tos=0x10,ttl=3,frag=0x0"));
    // every truncation of a template is an error, never a panic
    for n in 0..b.len() {
        assert!(TnlHeaderRepr::parse(&b[..n]).is_err());
    }
    // a bad Geneve option list is refused when building
    assert!(tmpl(v4(), geneve(&[0, 1, 2, 3])).emit().is_err());
}

/// An inner Ethernet/IPv4/UDP frame with a complete UDP checksum.
fn inner_frame(payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8 + payload];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[8, 0]);
    let ip_len = (20 + 8 + payload) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 1, 1]);
    f[30..34].copy_from_slice(&[198, 18, 1, 2]);
    let c = checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&1000u16.to_be_bytes());
    f[36..38].copy_from_slice(&2000u16.to_be_bytes());
    f[38..40].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = i as u8;
    }
    f
}

fn kind_of(r: &TnlHeaderRepr) -> TnlKind {
    match r.encap {
        Encap::Vxlan { .. } => TnlKind::Vxlan,
        Encap::Geneve { .. } => TnlKind::Geneve,
        Encap::Gre(_) => TnlKind::Gre,
    }
}

#[test]
fn push_then_pop_restores_frame_and_fills_metadata() {
    let opts = [0x01, 0x02, 0x03, 2, 1, 2, 3, 4, 5, 6, 7, 8];
    let mut all = vec![];
    for ip in [v4(), v6()] {
        all.push(tmpl(ip, vxlan(false, 0x7b)));
        all.push(tmpl(ip, vxlan(true, 0xffffff)));
        all.push(tmpl(ip, geneve(&opts)));
        for bits in 0..8u32 {
            all.push(tmpl(
                ip,
                gre(
                    bits & 1 != 0,
                    (bits & 2 != 0).then_some(0xdead_beef),
                    (bits & 4 != 0).then_some(5),
                ),
            ));
        }
    }
    for r in all {
        let t = action(7, &r);
        let inner = inner_frame(61);
        let mut p = DpPacket::from_bytes(&inner);
        push(&mut p, &t, 0x1234_5678).unwrap();
        let d = p.data().to_vec();
        assert_eq!(d.len(), inner.len() + r.header_len());
        assert_eq!(&d[r.header_len()..], &inner[..]);
        let l4 = 14 + r.ip.header_len();
        if let OuterIp::V4 { .. } = r.ip {
            assert_eq!(checksum(&d[14..34]), 0, "IPv4 header checksum");
            assert_eq!(u16::from_be_bytes([d[16], d[17]]) as usize, d.len() - 14);
        } else {
            assert_eq!(u16::from_be_bytes([d[18], d[19]]) as usize, d.len() - 54);
        }
        let mut md = crate::packet::TunnelMd::default();
        let kind = kind_of(&r);
        let (_, _, pt) = super::pop::parse_outer(&d, kind, &mut md, false).unwrap();
        assert_eq!(pt, crate::packet::PT_ETH);
        match &r.encap {
            Encap::Vxlan { csum, vxlan, .. } => {
                assert_eq!(md.tp_src, udp_src_port(0x1234_5678));
                assert_eq!(md.tp_dst, 4789);
                assert_eq!(md.id, vxlan.vni as u64);
                assert_eq!(md.flags & TNL_F_CSUM != 0, *csum);
                assert_eq!(
                    u16::from_be_bytes([d[l4 + 4], d[l4 + 5]]) as usize,
                    d.len() - l4
                );
            }
            Encap::Geneve { .. } => {
                assert_eq!(md.geneve(), &opts[..]);
                assert_eq!(md.id, 0x7b);
            }
            Encap::Gre(g) => {
                assert_eq!(md.id, g.key.unwrap_or(0) as u64);
                assert_eq!(md.flags & TNL_F_KEY != 0, g.key.is_some());
                assert_eq!(md.flags & TNL_F_CSUM != 0, g.csum);
            }
        }
        match r.ip {
            OuterIp::V4 { .. } => {
                assert_eq!(md.ipv4_src, u32::from(Ipv4Addr::new(1, 1, 2, 88)));
                assert_eq!(md.ipv4_dst, u32::from(Ipv4Addr::new(1, 1, 2, 92)));
                assert_ne!(md.flags & TNL_F_DONT_FRAGMENT, 0);
            }
            OuterIp::V6 { .. } => assert_eq!(
                md.ipv6_dst,
                u128::from("2001:cafe::92".parse::<Ipv6Addr>().unwrap())
            ),
        }
        assert_eq!(md.ttl, 64);
        // Ethernet padding after the outer packet is not part of the inner frame
        let mut padded = d.clone();
        padded.extend_from_slice(&[0xee; 7]);
        let mut q = DpPacket::from_bytes(&padded);
        pop(&mut q, kind).unwrap();
        assert_eq!(q.data(), &inner[..]);
        assert_eq!(q.md().tunnel, md);
    }
}

#[test]
fn gre_sequence_increments_per_packet() {
    let t = action(3, &tmpl(v4(), gre(false, None, Some(10))));
    for want in 10..13u32 {
        let mut p = DpPacket::from_bytes(&inner_frame(4));
        push(&mut p, &t, 1).unwrap();
        assert_eq!(&p.data()[38..42], &want.to_be_bytes());
    }
}

#[test]
fn partial_inner_checksum_survives_and_outer_csum_completes_it() {
    // Inner UDP checksum left partial (pseudo-header sum only), as a
    // local stack sends it.
    let mut inner = inner_frame(40);
    let o = Offload {
        flags: VNET_F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 6,
        ..Offload::NONE
    };
    inner[40..42].copy_from_slice(&[0, 0]);
    let full = {
        let mut f = inner.clone();
        crate::offload::csum::complete(&mut f, &o).unwrap();
        f
    };
    let mut pseudo = inner.clone();
    pseudo[40..42].copy_from_slice(&[0, 0]);
    // without an outer checksum: offsets move with the header
    let t = action(4789, &tmpl(v4(), vxlan(false, 1)));
    let mut p = DpPacket::from_bytes(&pseudo);
    p.set_offload(o);
    push(&mut p, &t, 5).unwrap();
    assert_eq!(p.offload().csum_start, 34 + 50);
    crate::offload::csum::complete_packet(&mut p).unwrap();
    assert_eq!(&p.data()[50..], &full[..]);
    // with an outer UDP checksum: the inner one is finished first
    let t = action(4789, &tmpl(v4(), vxlan(true, 1)));
    let mut p = DpPacket::from_bytes(&pseudo);
    p.set_offload(o);
    push(&mut p, &t, 5).unwrap();
    assert!(!p.offload().needs_csum());
    assert_eq!(&p.data()[50..], &full[..]);
    let mut md = crate::packet::TunnelMd::default();
    super::pop::parse_outer(p.data(), TnlKind::Vxlan, &mut md, false).unwrap();
    assert_ne!(md.flags & TNL_F_CSUM, 0);
}

#[test]
fn malformed_outer_headers_refused() {
    let t = action(4789, &tmpl(v4(), vxlan(true, 9)));
    let mut p = DpPacket::from_bytes(&inner_frame(20));
    push(&mut p, &t, 1).unwrap();
    let good = p.data().to_vec();
    let refuse = |b: &[u8], kind: TnlKind| {
        let mut q = DpPacket::from_bytes(b);
        let e = pop(&mut q, kind).unwrap_err();
        assert_eq!(q.data(), b, "a refused packet is unchanged");
        e
    };
    let mut b = good.clone();
    b[24] ^= 1; // IPv4 header checksum
    assert_eq!(refuse(&b, TnlKind::Vxlan), TnlError::BadChecksum);
    let mut b = good.clone();
    b[60] ^= 1; // inner byte: UDP checksum fails
    assert_eq!(refuse(&b, TnlKind::Vxlan), TnlError::BadChecksum);
    let mut b = good.clone();
    b[42] = 0; // VXLAN I flag
    assert!(matches!(
        refuse(&b, TnlKind::Vxlan),
        TnlError::Malformed(_) | TnlError::BadChecksum
    ));
    assert_eq!(refuse(&good, TnlKind::Gre), TnlError::NotTunnel);
    for n in 0..good.len() - 20 {
        refuse(&good[..n], TnlKind::Vxlan);
    }
    // Geneve: truncated options (length says more than present), OAM flag
    let t = action(6081, &tmpl(v4(), geneve(&[0, 1, 0x80, 1, 9, 9, 9, 9])));
    let mut p = DpPacket::from_bytes(&inner_frame(20));
    push(&mut p, &t, 1).unwrap();
    let mut b = p.data().to_vec();
    b[42 + 8 + 3] = 2; // option claims 8 data bytes, 4 remain in opt_len
    assert_eq!(
        refuse(&b, TnlKind::Geneve),
        TnlError::Malformed(crate::wire::WireError::Malformed)
    );
    let mut b = p.data().to_vec();
    b[43] |= 0x80;
    let mut q = DpPacket::from_bytes(&b);
    pop(&mut q, TnlKind::Geneve).unwrap();
    assert_ne!(q.md().tunnel.flags & TNL_F_OAM, 0);
    // fragment
    let mut b = good.clone();
    b[20] |= 0x20;
    let c = {
        b[24..26].copy_from_slice(&[0, 0]);
        checksum(&b[14..34])
    };
    b[24..26].copy_from_slice(&c.to_be_bytes());
    assert_eq!(refuse(&b, TnlKind::Vxlan), TnlError::Fragment);
    // L3 GRE payload: accepted as an L3 packet; an empty one refused.
    let t = action(
        3,
        &tmpl(
            v4(),
            Encap::Gre(GreRepr {
                protocol: 0x0800,
                csum: false,
                key: None,
                seq: None,
            }),
        ),
    );
    let mut p = DpPacket::from_bytes(&inner_frame(20));
    push(&mut p, &t, 1).unwrap();
    let mut q = DpPacket::from_bytes(p.data());
    pop(&mut q, TnlKind::Gre).unwrap();
    assert_eq!(q.md().packet_type, crate::packet::pt_l3(0x0800));
    assert_eq!(q.data(), &inner_frame(20)[..]);
    let mut empty = DpPacket::from_bytes(&inner_frame(0));
    push(&mut empty, &t, 1).unwrap();
    let n = empty.len() - inner_frame(0).len();
    let mut b = empty.data()[..n].to_vec();
    // IPv4 total length without the payload (checksum fixed).
    let tot = (n - 14) as u16;
    b[16..18].copy_from_slice(&tot.to_be_bytes());
    b[24..26].copy_from_slice(&[0, 0]);
    let c = checksum(&b[14..34]);
    b[24..26].copy_from_slice(&c.to_be_bytes());
    assert_eq!(
        refuse(&b, TnlKind::Gre),
        TnlError::Malformed(crate::wire::WireError::Truncated)
    );
}

struct Nop;
impl UpcallHandler for Nop {
    fn miss(&self, _: &DpPacket, _: &FlowKey, _: &mut UpcallReply) -> Result<(), UpcallError> {
        Ok(())
    }
}

#[test]
fn executor_pushes_outputs_pops_and_recirculates() {
    let r = tmpl(v4(), vxlan(false, 0x7b));
    let t = Arc::new(action(4789, &r));
    let mut pool = PacketPool::new(8);
    let mut out = PortOutputs::default();
    let mut recirc = Vec::new();
    let mut rng = Rng::new(1);
    let mut scratch = FlowKey::default();
    let mut ctx = ExecCtx {
        pool: &mut pool,
        out: &mut out,
        recirc: &mut recirc,
        handler: &Nop,
        meter: None,
        rng: &mut rng,
        scratch: &mut scratch,
        now_ms: 1,
        conntrack: None,
        dropped: 0,
    };
    let inner = inner_frame(30);
    ctx.execute(
        DpPacket::from_bytes(&inner),
        &[DpAction::TunnelPush(t.clone()), DpAction::Output(1)],
    );
    let pop_act = DpAction::TunnelPop(TnlPop {
        port: 4789,
        kind: TnlKind::Vxlan,
    });
    let mut sent = vec![];
    for (port, pk) in ctx.out.slots_mut() {
        assert_eq!(port, 1);
        sent.append(pk);
    }
    assert_eq!(sent.len(), 1);
    let enc = sent.pop().unwrap();
    assert_eq!(enc.len(), inner.len() + 50);
    // tnl_pop as a non-final action: a copy is popped and recirculated
    ctx.execute(enc, &[pop_act.clone(), DpAction::Output(2)]);
    assert_eq!(ctx.recirc.len(), 1);
    let back = ctx.recirc.pop().unwrap();
    assert_eq!(back.data(), &inner[..]);
    assert_eq!(back.md().in_port, 4789);
    assert_eq!(back.md().tunnel.id, 0x7b);
    // a malformed packet is dropped and counted
    let before = TNL_DROPS
        .malformed
        .load(std::sync::atomic::Ordering::Relaxed);
    ctx.execute(DpPacket::from_bytes(&inner), &[pop_act]);
    assert_eq!(ctx.dropped, 1);
    assert!(ctx.recirc.is_empty());
    assert!(
        TNL_DROPS
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed)
            > before
    );
}

#[test]
fn pop_keeps_an_inner_partial_checksum_and_drops_an_outer_one() {
    let mut inner = inner_frame(40);
    inner[40..42].copy_from_slice(&[0, 0]);
    let o = Offload {
        flags: VNET_F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 6,
        ..Offload::NONE
    };
    let t = action(4789, &tmpl(v4(), vxlan(false, 1)));
    let mut p = DpPacket::from_bytes(&inner);
    p.set_offload(o);
    push(&mut p, &t, 5).unwrap();
    pop(&mut p, TnlKind::Vxlan).unwrap();
    assert_eq!(
        p.offload(),
        o,
        "inner partial checksum kept across push+pop"
    );
    // an outer partial checksum (csum_start at the outer UDP header) goes
    let mut p = DpPacket::from_bytes(&inner);
    push(&mut p, &t, 5).unwrap();
    p.set_offload(Offload {
        flags: VNET_F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 6,
        ..Offload::NONE
    });
    pop(&mut p, TnlKind::Vxlan).unwrap();
    assert_eq!(p.offload(), Offload::NONE);
}

#[test]
fn gso_packet_is_segmented_then_each_segment_encapsulated() {
    use crate::offload::gso::tests::{gso_tcp4, l4_ok};
    let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let p = gso_tcp4(&payload, 1000);
    let t = Arc::new(action(4789, &tmpl(v4(), vxlan(true, 0x7b))));
    let mut pool = PacketPool::new(8);
    let mut out = PortOutputs::default();
    let mut recirc = Vec::new();
    let mut rng = Rng::new(1);
    let mut scratch = FlowKey::default();
    let mut ctx = ExecCtx {
        pool: &mut pool,
        out: &mut out,
        recirc: &mut recirc,
        handler: &Nop,
        meter: None,
        rng: &mut rng,
        scratch: &mut scratch,
        now_ms: 1,
        conntrack: None,
        dropped: 0,
    };
    ctx.execute(p, &[DpAction::TunnelPush(t), DpAction::Output(3)]);
    assert_eq!(ctx.dropped, 0);
    let mut segs = vec![];
    for (port, pk) in out.slots_mut() {
        assert_eq!(port, 3);
        segs.append(pk);
    }
    assert_eq!(segs.len(), 5);
    let mut got = vec![];
    for mut s in segs {
        assert!(!s.offload().pending());
        let mut md = crate::packet::TunnelMd::default();
        // the outer UDP checksum is complete and verifies
        super::pop::parse_outer(s.data(), TnlKind::Vxlan, &mut md, false).unwrap();
        assert_ne!(md.flags & TNL_F_CSUM, 0);
        pop(&mut s, TnlKind::Vxlan).unwrap();
        assert!(l4_ok(s.data()), "inner TCP checksum of each segment");
        got.extend_from_slice(&s.data()[66..]);
    }
    assert_eq!(got, payload);
}

/// Frames that OVS's own tests feed to its `tnl_pop` (tests/tunnel-push-pop.at):
/// GRE (TEB, key 0x1c8), Geneve with two options, and L3 GRE (IPv4 payload).
#[test]
fn decodes_the_frames_of_ovs_tunnel_tests() {
    let tail = "fe71d883724fbeb6f4e1494a080045000054ba200000400184861e0000011e00000200004227e75400030af3195500000000f265010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    let gre = hex::decode(format!("aa55aa550000001b213cab6408004500007e79464000402fba550101025c0101025820006558000001c8{tail}")).unwrap();
    let mut p = DpPacket::from_bytes(&gre);
    pop(&mut p, TnlKind::Gre).unwrap();
    let md = &p.md().tunnel;
    assert_eq!(md.id, 0x1c8);
    assert_eq!(md.ipv4_src, u32::from(Ipv4Addr::new(1, 1, 2, 92)));
    assert_eq!(md.ipv4_dst, u32::from(Ipv4Addr::new(1, 1, 2, 88)));
    assert_eq!(md.flags, TNL_F_KEY | TNL_F_DONT_FRAGMENT);
    assert_eq!(p.data(), &hex::decode(tail).unwrap()[..]);

    let gnv = hex::decode(format!("aa55aa550000001b213cab64080045000096794640004011ba5b0101025c01010258308817c1008200000400655800007b00ffff80010000000affff00010000000b{tail}")).unwrap();
    let mut p = DpPacket::from_bytes(&gnv);
    pop(&mut p, TnlKind::Geneve).unwrap();
    let md = &p.md().tunnel;
    assert_eq!(md.id, 0x7b);
    assert_eq!((md.tp_src, md.tp_dst), (0x3088, 6081));
    let opts: Vec<_> = crate::wire::geneve::geneve_options(md.geneve()).collect();
    assert_eq!(opts.len(), 2);
    assert_eq!(
        (opts[0].class, opts[0].typ, opts[0].data),
        (0xffff, 0x80, &[0, 0, 0, 0xa][..])
    );
    assert_eq!(
        (opts[1].class, opts[1].typ, opts[1].data),
        (0xffff, 0x00, &[0, 0, 0, 0xb][..])
    );
    assert_eq!(p.data(), &hex::decode(tail).unwrap()[..]);

    let l3 = hex::decode("aa55aa550000001b213cab6408004500007079464000402fba630101025c0101025820000800000001c845000054ba200000400184861e0000011e00000200004227e75400030af3195500000000f265010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637").unwrap();
    let mut p = DpPacket::from_bytes(&l3);
    pop(&mut p, TnlKind::Gre).unwrap();
    // L3 GRE (protocol 0x0800): the inner IPv4 packet, no Ethernet.
    assert_eq!(p.md().packet_type, crate::packet::pt_l3(0x0800));
    assert_eq!(p.md().tunnel.id, 0x1c8);
    assert_eq!(p.data(), &l3[42..]);
    let mut k = FlowKey::default();
    crate::flow::extract(&mut p, &mut k);
    use crate::flow::layout::{DL_TYPE, NW_PROTO, PACKET_TYPE_NS};
    assert_eq!(
        (k.get(PACKET_TYPE_NS), k.get(DL_TYPE), k.get(NW_PROTO)),
        (1, 0x0800, 1)
    );
}

/// OVS's "Send out packets received from L3GRE tunnel back to L3GRE
/// tunnel" (tunnel-push-pop.at): the popped L3 packet pushed again with a
/// protocol 0x0800 template is the frame OVS sends, byte for byte.
#[test]
fn l3_gre_pushes_the_frame_ovs_sends() {
    let rx = hex::decode("aa55aa550000001b213cab6408004500007079464000402fba630101025c0101025820000800000001c845000054ba200000400184861e0000011e00000200004227e75400030af3195500000000f265010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637").unwrap();
    let tx = hex::decode("001b213cab64aa55aa55000008004500007000004000402f33aa010102580101025c20000800000001c845000054ba200000400184861e0000011e00000200004227e75400030af3195500000000f265010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637").unwrap();
    let mut p = DpPacket::from_bytes(&rx);
    pop(&mut p, TnlKind::Gre).unwrap();
    let r = TnlHeaderRepr {
        eth_dst: [0x00, 0x1b, 0x21, 0x3c, 0xab, 0x64],
        eth_src: SRC,
        ip: v4(),
        encap: Encap::Gre(GreRepr {
            protocol: 0x0800,
            csum: false,
            key: Some(0x1c8),
            seq: None,
        }),
    };
    let t = action(3, &r);
    assert_eq!(
        t.to_string(),
        "tnl_push(tnl_port(3),header(size=42,type=3,eth(dst=00:1b:21:3c:ab:64,src=aa:55:aa:55:00:00,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=47,tos=0,ttl=64,frag=0x4000),gre((flags=0x2000,proto=0x800),key=0x1c8)),out_port(100))"
    );
    push(&mut p, &t, 0).unwrap();
    assert_eq!(p.data(), &tx[..]);
    assert_eq!(p.md().packet_type, crate::packet::PT_ETH);
}
