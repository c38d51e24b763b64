//! The frames a neighbour cache miss sends: an ARP request (IPv4) or a
//! neighbour solicitation to the target's solicited-node group (IPv6),
//! from the underlay port's MAC and address, as OVS's `compose_arp` and
//! `compose_nd_ns` build them.

use std::net::IpAddr;

/// An ARP request (IPv4) or neighbour solicitation (IPv6) for `target`
/// from `smac`/`sip`.
pub(crate) fn neigh_request(smac: [u8; 6], sip: IpAddr, target: IpAddr) -> Option<Vec<u8>> {
    match (sip, target) {
        (IpAddr::V4(s), IpAddr::V4(t)) => {
            let mut b = Vec::with_capacity(42);
            b.extend_from_slice(&[0xff; 6]);
            b.extend_from_slice(&smac);
            b.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
            b.extend_from_slice(&smac);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&[0; 6]);
            b.extend_from_slice(&t.octets());
            Some(b)
        }
        (IpAddr::V6(s), IpAddr::V6(t)) => {
            let t8 = t.octets();
            // Solicited-node multicast address and its MAC.
            let mut mc = [0u8; 16];
            mc[0] = 0xff;
            mc[1] = 0x02;
            mc[11] = 1;
            mc[12] = 0xff;
            mc[13..].copy_from_slice(&t8[13..]);
            let mut b = Vec::with_capacity(86);
            b.extend_from_slice(&[0x33, 0x33, 0xff, t8[13], t8[14], t8[15]]);
            b.extend_from_slice(&smac);
            b.extend_from_slice(&[0x86, 0xdd]);
            let plen: u16 = 32;
            b.extend_from_slice(&[0x60, 0, 0, 0]);
            b.extend_from_slice(&plen.to_be_bytes());
            b.extend_from_slice(&[58, 255]);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&mc);
            let l4 = b.len();
            b.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
            b.extend_from_slice(&t8);
            b.extend_from_slice(&[1, 1]);
            b.extend_from_slice(&smac);
            // ICMPv6 checksum over the pseudo-header.
            let mut sum: u32 = 0;
            let mut add = |d: &[u8]| {
                for c in d.chunks(2) {
                    sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
                }
            };
            add(&s.octets());
            add(&mc);
            add(&(plen as u32).to_be_bytes());
            add(&[0, 0, 0, 58]);
            add(&b[l4..]);
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            let c = !(sum as u16);
            b[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
            Some(b)
        }
        _ => None,
    }
}
