//! Fuzz target: the receive-side metadata of every port type.
//!
//! The first byte picks what the rest is: (0) a TPACKET_V3 receive block,
//! walked frame by frame and copied into packets with their vnet headers
//! (bit 7 of the selector says whether vnet headers are on); (1) a vnet
//! header and a frame, as tap and packet sockets deliver them; (2) AF_XDP
//! receive descriptors checked against a small UMEM, and the bytes as a
//! frame whose partial checksum is detected (and, when oversized, taken
//! for a GSO packet and segmented). Every accepted packet then
//! goes through the software offload path (checksum completion, GSO
//! segmentation) that ports without vnet headers use. Nothing may panic;
//! refused input is counted, accepted descriptors must lie inside one
//! chunk, and packets leaving the software path carry no pending offload.
#![no_main]
use ferrovs_datapath::netdev::afxdp::xsk::{check_desc, XdpDesc};
use ferrovs_datapath::netdev::tpacket::{BlockView, Frames};
use ferrovs_datapath::offload::csum::{complete, detect_partial};
use ferrovs_datapath::offload::gso::infer_tcp_gso;
use ferrovs_datapath::offload::{finish_for_plain_port, Offload};
use ferrovs_datapath::packet::{DpPacket, PacketPool};
use libfuzzer_sys::fuzz_target;

fn finish(p: DpPacket, pool: &mut PacketPool) -> usize {
    let mut v = vec![p];
    let r = finish_for_plain_port(&mut v, pool);
    for s in &v {
        assert!(!s.offload().pending(), "offload left pending");
    }
    r.failed
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut pool = PacketPool::new(8);
    let mut refused = 0usize;
    match sel % 3 {
        0 => {
            let Ok(b) = BlockView::new_checked(rest) else {
                return;
            };
            for f in Frames::new(&b).take(64) {
                match f {
                    Ok(f) => {
                        let mut p = pool.get();
                        match f.to_packet(rest, sel & 0x80 != 0, &mut p) {
                            Ok(()) => {
                                assert!(p.offload().validate(p.len()).is_ok());
                                refused += finish(p, &mut pool);
                            }
                            Err(_) => refused += 1,
                        }
                    }
                    Err(_) => refused += 1,
                }
            }
        }
        1 => {
            if rest.len() < 10 {
                return;
            }
            let (h, frame) = rest.split_at(10);
            match Offload::from_vnet(h, frame.len()) {
                Ok(o) => {
                    let mut p = DpPacket::from_bytes(frame);
                    p.set_offload(o);
                    // A tag push and pop in between, as actions do.
                    if sel & 0x40 != 0 && p.insert_gap(12, 4) {
                        assert!(p.offload().validate(p.len()).is_ok());
                        p.remove_gap(12, 4);
                    }
                    refused += finish(p, &mut pool);
                }
                Err(_) => refused += 1,
            }
        }
        _ => {
            const UMEM: u64 = 16 * 4096;
            for c in rest.chunks_exact(16) {
                let d = XdpDesc {
                    addr: u64::from_le_bytes(c[0..8].try_into().unwrap()),
                    len: u32::from_le_bytes(c[8..12].try_into().unwrap()),
                    options: u32::from_le_bytes(c[12..16].try_into().unwrap()),
                };
                match check_desc(&d, UMEM, 4096) {
                    Ok((s, e)) => {
                        assert!(e as u64 <= UMEM && s <= e);
                        assert!(e == s || s / 4096 == (e - 1) / 4096);
                    }
                    Err(_) => refused += 1,
                }
            }
            let mut frame = rest.to_vec();
            if let Some(o) = detect_partial(&frame) {
                assert!(o.validate(frame.len()).is_ok());
                // An oversized one is taken for GSO (AF_XDP generic mode)
                // and cut to the MTU.
                let mtu = 576 + (sel as usize) * 4;
                if let Some(g) = infer_tcp_gso(&frame, o, mtu) {
                    assert!(g.validate(frame.len()).is_ok());
                    let mut p = DpPacket::from_bytes(&frame);
                    p.set_offload(g);
                    refused += finish(p, &mut pool);
                }
                let _ = complete(&mut frame, &o);
            }
        }
    }
    std::hint::black_box(refused);
});
