//! Fuzz target: joining TCP segments into GSO packets (`offload::gro`).
//!
//! The first byte picks the input's shape: raw frames (each a 2-byte
//! length and its bytes), or TCP/IPv4 segments built from the bytes (a
//! template, then per segment a payload length, a sequence step, flags
//! and a checksum spoiler), so that most of them are joinable and the
//! joining rules, not the checksum check, get exercised. Nothing may
//! panic; a joined packet must segment again in software, and the TCP
//! payload bytes of the batch are the same before and after.
#![no_main]
use ferrovs_datapath::offload::csum::l3_offset;
use ferrovs_datapath::offload::finish_for_plain_port;
use ferrovs_datapath::offload::gro::coalesce;
use ferrovs_datapath::packet::{DpPacket, PacketPool};
use ferrovs_datapath::wire::checksum::{fold, sum16};
use libfuzzer_sys::fuzz_target;

/// TCP payload bytes of an Ethernet/IPv4-or-IPv6 TCP frame (0 otherwise).
fn tcp_payload(f: &[u8]) -> usize {
    let Some((t, l3)) = l3_offset(f) else { return 0 };
    let (l4, end) = match t {
        0x0800 if f.len() >= l3 + 20 && f[l3 + 9] == 6 => {
            let ihl = (f[l3] & 0x0f) as usize * 4;
            (l3 + ihl, l3 + u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]) as usize)
        }
        0x86dd if f.len() >= l3 + 40 && f[l3 + 6] == 6 => {
            (l3 + 40, l3 + 40 + u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]) as usize)
        }
        _ => return 0,
    };
    if end > f.len() || l4 + 20 > end {
        return 0;
    }
    let hdr = l4 + (f[l4 + 12] >> 4) as usize * 4;
    end.saturating_sub(hdr)
}

fn built(data: &[u8]) -> Vec<DpPacket> {
    let mut out = Vec::new();
    let mut seq: u32 = 1000;
    for (i, c) in data.chunks(4).take(40).enumerate() {
        let [len, step, flags, spoil] = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0x10), *c.get(3).unwrap_or(&0)];
        let plen = 1 + (len as usize % 4) * 100;
        let mut f = vec![0u8; 14 + 20 + 20 + plen];
        f[12] = 0x08;
        f[14] = 0x45;
        let tot = (40 + plen) as u16;
        f[16..18].copy_from_slice(&tot.to_be_bytes());
        f[18..20].copy_from_slice(&(i as u16).to_be_bytes());
        f[20] = 0x40;
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        let ipc = !fold(sum16(&f[14..34], 0));
        f[24..26].copy_from_slice(&ipc.to_be_bytes());
        f[34..36].copy_from_slice(&5001u16.to_be_bytes());
        f[36..38].copy_from_slice(&80u16.to_be_bytes());
        f[38..42].copy_from_slice(&seq.to_be_bytes());
        f[46] = 5 << 4;
        f[47] = if flags & 0x80 != 0 { flags } else { 0x10 | (flags & 0x08) };
        for (j, b) in f[54..].iter_mut().enumerate() {
            *b = (j as u8) ^ len;
        }
        let l4_len = (20 + plen) as u32;
        let ps = sum16(&f[26..34], 0) + 6 + l4_len;
        let tc = !fold(sum16(&f[34..], ps));
        f[50..52].copy_from_slice(&tc.to_be_bytes());
        if spoil == 0xff {
            let n = f.len();
            f[n - 1] ^= 1;
        }
        // Usually contiguous; sometimes a gap or overlap.
        seq = seq.wrapping_add(match step % 8 {
            0 => 7,
            _ => plen as u32,
        });
        out.push(DpPacket::from_bytes(&f));
    }
    out
}

fn raw(mut data: &[u8]) -> Vec<DpPacket> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < 40 {
        let n = (u16::from_be_bytes([data[0], data[1]]) as usize % 2048).min(data.len() - 2);
        out.push(DpPacket::from_bytes(&data[2..2 + n]));
        data = &data[2 + n..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut pkts = if sel % 2 == 0 { raw(rest) } else { built(rest) };
    let before: usize = pkts.iter().map(|p| tcp_payload(p.data())).sum();
    let mut pool = PacketPool::new(64);
    let joined = coalesce(&mut pkts, &mut pool);
    let after: usize = pkts.iter().map(|p| tcp_payload(p.data())).sum();
    assert_eq!(before, after, "TCP payload bytes lost or made ({joined} joined)");
    let r = finish_for_plain_port(&mut pkts, &mut pool);
    assert_eq!(r.failed, 0, "a joined packet did not segment again");
});
