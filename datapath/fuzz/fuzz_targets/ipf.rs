//! Fuzz target: IPv4 and IPv6 fragment reassembly with hostile fragments.
//!
//! Each 8-byte record makes one fragment of a few datagrams (zone, id and
//! addresses from a small space) with arbitrary offset, length, MF bit and
//! payload byte; one in sixteen records is raw bytes instead, some
//! advance the clock and sweep, and one in eight makes an IPv6 fragment.
//! Checked: no panic; the fragments held never exceed the bound; a
//! completed IPv4 datagram has a valid header checksum, no MF bit or
//! offset, a total length equal to its header plus the fragments'
//! payloads; a completed IPv6 one names the fragments' next header and
//! has a payload length equal to theirs; each comes with the fragments
//! it was built from.
#![no_main]
use ferrovs_datapath::conntrack::ipf::{FragResult, Ipf, MAX_FRAGS};
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::wire::checksum::checksum;
use libfuzzer_sys::fuzz_target;

fn fragment(r: &[u8]) -> Vec<u8> {
    let len = ((r[2] as usize) << 3) + (r[3] & 7) as usize;
    let off = (u16::from_be_bytes([r[4], r[5]]) & 0x1fff) >> (r[6] & 7);
    let more = r[1] & 0x80 != 0;
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&((r[1] & 3) as u16).to_be_bytes());
    h[6..8].copy_from_slice(&(off | if more { 0x2000 } else { 0 }).to_be_bytes());
    h[8] = 64;
    h[9] = 17;
    h[12..16].copy_from_slice(&[198, 18, 0, 1 + (r[1] >> 2 & 1)]);
    h[16..20].copy_from_slice(&[198, 19, 0, 1]);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&h);
    f.resize(14 + 20 + len, r[7]);
    f
}

/// An IPv6 fragment: fixed header, fragment header (next header UDP),
/// payload.
fn fragment6(r: &[u8]) -> Vec<u8> {
    let len = ((r[2] as usize) << 3) + (r[3] & 7) as usize;
    let off = (u16::from_be_bytes([r[4], r[5]]) & 0xfff8) >> (r[6] & 7) & 0xfff8;
    let more = (r[1] & 0x80 != 0) as u16;
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
    let mut h = [0u8; 48];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    h[6] = 44;
    h[7] = 64;
    h[8..10].copy_from_slice(&[0x20, 0x01]);
    h[10..12].copy_from_slice(&[0x0d, 0xb8]);
    h[23] = 1 + (r[1] >> 2 & 1);
    h[24..28].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    h[39] = 2;
    h[40] = 17;
    h[42..44].copy_from_slice(&(off | more).to_be_bytes());
    h[44..48].copy_from_slice(&((r[1] & 3) as u32).to_be_bytes());
    f.extend_from_slice(&h);
    f.resize(14 + 48 + len, r[7]);
    f
}

fuzz_target!(|data: &[u8]| {
    let ipf = Ipf::default();
    if data.first().is_some_and(|b| b & 1 != 0) {
        ipf.set_min_frag_size(0);
    }
    let mut now = 0;
    for r in data.chunks_exact(8) {
        let frame = match r[0] >> 4 {
            0 => r.to_vec(),
            1 => {
                now += r[2] as u64 * 100;
                ipf.sweep(now);
                continue;
            }
            2 => fragment6(r),
            _ => fragment(r),
        };
        let zone = (r[0] & 1) as u16;
        match ipf.add(DpPacket::from_bytes(&frame), 14, zone, now) {
            FragResult::Held | FragResult::Invalid(_) => {}
            FragResult::Complete(whole, frags) if whole.data()[12] == 0x86 => {
                let d = whole.data();
                let ip = &d[14..];
                assert_eq!(ip[6], 17, "the fragments' next header");
                let payload: usize = frags
                    .iter()
                    .map(|f| u16::from_be_bytes([f.data()[18], f.data()[19]]) as usize - 8)
                    .sum();
                assert_eq!(u16::from_be_bytes([ip[4], ip[5]]) as usize, payload);
                assert_eq!(d.len(), 14 + 40 + payload);
            }
            FragResult::Complete(whole, frags) => {
                let d = whole.data();
                let ip = &d[14..];
                assert_eq!(checksum(&ip[..20]), 0);
                assert_eq!(u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff, 0);
                let payload: usize = frags
                    .iter()
                    .map(|f| u16::from_be_bytes([f.data()[16], f.data()[17]]) as usize - 20)
                    .sum();
                assert_eq!(u16::from_be_bytes([ip[2], ip[3]]) as usize, 20 + payload);
                assert_eq!(d.len(), 14 + 20 + payload);
            }
        }
        assert!(ipf.n_frags() <= MAX_FRAGS);
    }
});
