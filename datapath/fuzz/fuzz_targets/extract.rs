//! Fuzz target: flow key extraction over arbitrary bytes.
//!
//! The first byte picks metadata variations (tunnel, conntrack, recirc) so
//! that the metadata words are exercised too. Checks the key invariants:
//! one non-zero word per map bit, offsets inside the frame, and that
//! compacting the dense form gives the same key back.
#![no_main]
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::packet::{DpPacket, NO_OFFSET};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (sel, frame) = match data.split_first() {
        Some((s, f)) => (*s, f),
        None => (0, data),
    };
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
});
