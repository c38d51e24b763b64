//! Fuzz target: flow key extraction over arbitrary bytes.
//!
//! The first byte picks metadata variations (tunnel, conntrack, recirc) so
//! that the metadata words are exercised too. Checks the key invariants:
//! one non-zero word per map bit, offsets inside the frame, and that
//! compacting the dense form gives the same key back. Then every datapath
//! action that edits packets runs on the parsed packet (masked sets of
//! every header, VLAN push/pop, hash, clone, check_pkt_len), and the result
//! is extracted again: none of it may panic. A packet with untouched
//! metadata must extract to the same key as full extraction, and the
//! common-frame fast path to the same key, hash and offsets as the general
//! header walk.
#![no_main]
use ferrovs_datapath::actions::execute::PortOutputs;
use ferrovs_datapath::actions::{
    DpAction, ExecCtx, HashAlg, Masked, SetArp, SetField, SetIpv6, SetNd,
};
use ferrovs_datapath::flow::{extract, extract_parts, extract_parts_general, Flow, FlowKey};
use ferrovs_datapath::packet::{DpPacket, PacketPool, NO_OFFSET};
use ferrovs_datapath::random::Rng;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use libfuzzer_sys::fuzz_target;

struct Nop;
impl UpcallHandler for Nop {
    fn miss(&self, _: &DpPacket, _: &FlowKey, _: &mut UpcallReply) -> Result<(), UpcallError> {
        Ok(())
    }
}

fn actions(sel: u8) -> Vec<DpAction> {
    let all = Masked {
        value: !0,
        mask: !0,
    };
    let m16 = Masked::<u16> {
        value: 0x1234,
        mask: 0xff0f,
    };
    vec![
        DpAction::Set(SetField::Ethernet {
            src: all,
            dst: Masked::default(),
        }),
        DpAction::Set(SetField::Mpls {
            lse: Masked {
                value: 0x1234_5678,
                mask: !0,
            },
        }),
        DpAction::Set(SetField::Ipv4 {
            src: Masked {
                value: 0xc612_0001,
                mask: !0,
            },
            dst: Masked {
                value: 0xc613_0000,
                mask: 0xffff_0000,
            },
            tos: Masked {
                value: 4,
                mask: 0xfc,
            },
            ttl: Masked {
                value: 1,
                mask: 0xff,
            },
        }),
        DpAction::Set(SetField::Ipv6(Box::new(SetIpv6 {
            src: Masked { value: 1, mask: !0 },
            dst: Masked {
                value: 2,
                mask: 0xffff,
            },
            label: Masked {
                value: 3,
                mask: 0xf_ffff,
            },
            tclass: Masked {
                value: 4,
                mask: 0xff,
            },
            hlimit: Masked {
                value: 5,
                mask: 0xff,
            },
        }))),
        DpAction::Set(SetField::Tcp { src: m16, dst: m16 }),
        DpAction::Set(SetField::Udp { src: m16, dst: m16 }),
        DpAction::Set(SetField::Sctp { src: m16, dst: m16 }),
        DpAction::Set(SetField::Arp(Box::new(SetArp {
            op: m16,
            sha: all,
            spa: Masked { value: 1, mask: !0 },
            tha: all,
            tpa: Masked { value: 2, mask: !0 },
        }))),
        DpAction::Set(SetField::Nd(Box::new(SetNd {
            target: Masked { value: 7, mask: !0 },
            sll: all,
            tll: all,
        }))),
        DpAction::Hash {
            alg: if sel & 1 != 0 {
                HashAlg::L4
            } else {
                HashAlg::SymL4
            },
            basis: 3,
        },
        DpAction::PushVlan {
            tpid: 0x88a8,
            tci: 5,
        },
        DpAction::PopVlan,
        DpAction::PopVlan,
        // Ethernet off and on again (each a no-op on the wrong type).
        DpAction::Clone(vec![DpAction::PopEth, DpAction::PopEth, DpAction::Output(4)].into()),
        DpAction::PushEth {
            src: [2, 0, 0, 0, 0, 1],
            dst: [2, 0, 0, 0, 0, 2],
        },
        DpAction::Clone(vec![DpAction::PopVlan, DpAction::Output(1)].into()),
        DpAction::CheckPktLen {
            max_len: 60,
            gt: vec![DpAction::Output(2)].into(),
            le: vec![].into(),
        },
        DpAction::Output(3),
    ]
}

fuzz_target!(|data: &[u8]| {
    let (sel, frame) = match data.split_first() {
        Some((s, f)) => (*s, f),
        None => (0, data),
    };
    // A packet whose metadata was never touched (the receive fast path)
    // gives the same key and offsets as full extraction over zero
    // metadata with the same in_port.
    let mut c = DpPacket::from_bytes(frame);
    c.reset_md(sel as u32);
    assert!(!c.md_dirty());
    let mut kc = FlowKey::default();
    extract(&mut c, &mut kc);
    let md0 = ferrovs_datapath::packet::PktMetadata {
        in_port: sel as u32,
        ..Default::default()
    };
    let mut kf = FlowKey::default();
    let of = extract_parts(frame, &md0, &mut kf);
    assert!(kc == kf && kc.hash() == kf.hash() && c.offsets() == of);
    let mut kg = FlowKey::default();
    let og = extract_parts_general(frame, &md0, &mut kg);
    assert!(
        kg == kf && kg.hash() == kf.hash() && og == of,
        "fast != general"
    );

    let mut p = DpPacket::from_bytes(frame);
    {
        let md = p.md_mut();
        md.in_port = sel as u32 & 7;
        if sel & 0x08 != 0 {
            md.tunnel.ipv4_dst = 0xc612_0001;
            md.tunnel.id = sel as u64;
        }
        if sel & 0x10 != 0 {
            md.ct.state = 0x21;
            md.ct.zone = 5;
        }
        if sel & 0x20 != 0 {
            md.recirc_id = 9;
        }
        // An L3 packet (no Ethernet header): IPv4 or IPv6 by the low bit.
        if sel & 0x40 != 0 {
            md.packet_type = ferrovs_datapath::packet::pt_l3(if sel & 1 != 0 { 0x86dd } else { 0x0800 });
        }
    }
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    assert_eq!(k.map().count_ones() as usize, k.words().len());
    assert!(k.words().iter().all(|&w| w != 0));
    let o = p.offsets();
    for x in [o.l2_5, o.l3, o.l4] {
        assert!(x == NO_OFFSET || (x as usize) <= frame.len());
    }
    let mut d = Flow::default();
    k.expand(&mut d);
    let k2 = d.to_key();
    assert!(k2 == k && k2.hash() == k.hash());

    let mut pool = PacketPool::new(8);
    let mut out = PortOutputs::default();
    let mut recirc = Vec::new();
    let mut rng = Rng::new(sel as u64);
    let mut scratch = FlowKey::default();
    let acts = actions(sel);
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
    ctx.execute(p, &acts);
    for (_, pkts) in out.slots_mut() {
        for mut q in pkts.drain(..) {
            extract(&mut q, &mut k);
        }
    }
});
