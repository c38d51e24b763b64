//! `push_eth` and `pop_eth`: an Ethernet header put in front of an L3
//! packet, or taken off an Ethernet frame, with the packet type changed to
//! match (OVS's `push_eth`/`pop_eth`, used for `legacy_l3` GRE ports and
//! the OpenFlow `encap(ethernet)`/`decap()` actions).
//!
//! A push takes 14 bytes of headroom (no payload copy); a pop moves the
//! frame start past the header and any VLAN tags (to `l2_5`), keeping the
//! EtherType just before it as the new packet type. Header offsets move
//! with the payload start.

use crate::packet::{pt_l3, DpPacket, Offsets, NO_OFFSET, PT_ETH, PT_NS_ETHERTYPE};
use crate::wire::be16;
use crate::wire::ethernet::ETH_HLEN;

fn shift_all(p: &mut DpPacket, by: isize) {
    let mv = |o: u16| {
        if o == NO_OFFSET {
            o
        } else {
            (o as isize + by) as u16
        }
    };
    let o = p.offsets();
    p.set_offsets(Offsets {
        l2_5: mv(o.l2_5),
        l3: mv(o.l3),
        l4: mv(o.l4),
    });
}

/// Puts an Ethernet header (`dst`, `src`, the packet type's EtherType) in
/// front of an L3 packet; the packet becomes Ethernet. Returns false
/// (packet unchanged) if it is already Ethernet, its type is not an
/// EtherType, or the headroom is used up.
pub fn push_eth(p: &mut DpPacket, src: [u8; 6], dst: [u8; 6]) -> bool {
    let pt = p.md().packet_type;
    if pt >> 16 != PT_NS_ETHERTYPE || !p.push_front(ETH_HLEN) {
        return false;
    }
    let d = p.data_mut();
    d[..6].copy_from_slice(&dst);
    d[6..12].copy_from_slice(&src);
    d[12..14].copy_from_slice(&(pt as u16).to_be_bytes());
    p.md_mut().packet_type = PT_ETH;
    shift_all(p, ETH_HLEN as isize);
    // The new header ends where the L3 packet began.
    let mut o = p.offsets();
    o.l2_5 = ETH_HLEN as u16;
    p.set_offsets(o);
    true
}

/// Takes the Ethernet header and VLAN tags off an Ethernet frame: the
/// packet becomes L3 with the EtherType found before `l2_5` (as OVS, the
/// offsets of a key extraction must be in place). Returns false (packet
/// unchanged) if it is not an Ethernet frame with a parsed header.
pub fn pop_eth(p: &mut DpPacket) -> bool {
    let at = p.offsets().l2_5;
    if p.md().packet_type != PT_ETH
        || at == NO_OFFSET
        || (at as usize) < ETH_HLEN
        || at as usize > p.len()
    {
        return false;
    }
    let ty = be16(p.data(), at as usize - 2);
    if !p.pull_front(at as usize) {
        return false;
    }
    p.md_mut().packet_type = pt_l3(ty);
    shift_all(p, -(at as isize));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{extract, layout, FlowKey};

    const SRC: [u8; 6] = [0x50, 0x54, 0, 0, 0, 1];
    const DST: [u8; 6] = [0x50, 0x54, 0, 0, 0, 2];

    /// An IPv4/UDP packet of 28 bytes (no Ethernet).
    fn ipv4_udp() -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 5, 1, 198, 18, 5, 2,
        ];
        ip.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0]);
        ip
    }

    fn eth_frame(tagged: bool) -> Vec<u8> {
        let mut f = DST.to_vec();
        f.extend_from_slice(&SRC);
        if tagged {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ipv4_udp());
        f
    }

    fn key(p: &mut DpPacket) -> FlowKey {
        let mut k = FlowKey::default();
        extract(p, &mut k);
        k
    }

    #[test]
    fn l3_packet_key_has_no_l2_words_and_the_namespace() {
        let mut p = DpPacket::from_bytes(&ipv4_udp());
        p.md_mut().packet_type = pt_l3(0x0800);
        let k = key(&mut p);
        assert_eq!(k.get(layout::PACKET_TYPE_NS), 1);
        assert_eq!(k.get(layout::DL_TYPE), 0x0800);
        assert_eq!(k.get(layout::DL_DST), 0);
        assert_eq!(k.get(layout::DL_SRC), 0);
        assert_eq!(k.get(layout::NW_SRC), 0xc612_0501);
        assert_eq!(k.get(layout::TP_DST), 53);
        assert_eq!(p.offsets().l2_5, 0);
        assert_eq!((p.offsets().l3, p.offsets().l4), (0, 20));
        // The same packet in Ethernet: same L3 words, namespace 0.
        let mut e = DpPacket::from_bytes(&eth_frame(false));
        let ke = key(&mut e);
        assert_eq!(ke.get(layout::PACKET_TYPE_NS), 0);
        assert_eq!(ke.get(layout::NW_SRC), k.get(layout::NW_SRC));
        assert_eq!(ke.get(layout::TP_DST), k.get(layout::TP_DST));
        assert_ne!(ke, k);
    }

    #[test]
    fn pop_eth_then_push_eth_round_trips() {
        let mut p = DpPacket::from_bytes(&eth_frame(false));
        let k0 = key(&mut p);
        assert!(pop_eth(&mut p));
        assert_eq!(p.data(), &ipv4_udp()[..]);
        assert_eq!(p.md().packet_type, pt_l3(0x0800));
        assert_eq!(p.offsets().l3, 0);
        // Pop again: not Ethernet any more.
        assert!(!pop_eth(&mut p));
        assert!(push_eth(&mut p, SRC, DST));
        assert_eq!(p.data(), &eth_frame(false)[..]);
        assert_eq!(p.md().packet_type, PT_ETH);
        assert_eq!(p.offsets().l3, 14);
        assert!(!push_eth(&mut p, SRC, DST), "already Ethernet");
        assert_eq!(key(&mut p), k0);
    }

    #[test]
    fn pop_eth_takes_the_vlan_tags_too() {
        let mut p = DpPacket::from_bytes(&eth_frame(true));
        let _ = key(&mut p);
        assert!(pop_eth(&mut p));
        assert_eq!(p.data(), &ipv4_udp()[..]);
        assert_eq!(p.md().packet_type, pt_l3(0x0800));
        let k = key(&mut p);
        assert_eq!(k.get(layout::VLAN0_TCI), 0);
        assert_eq!(k.get(layout::PACKET_TYPE_NS), 1);
    }

    #[test]
    fn push_eth_of_a_zero_address_pair_is_what_ovs_sends() {
        // OVS's implicit push_eth for a legacy_l3 port uses zero MACs.
        let mut p = DpPacket::from_bytes(&ipv4_udp());
        p.md_mut().packet_type = pt_l3(0x86dd);
        assert!(push_eth(&mut p, [0; 6], [0; 6]));
        assert_eq!(
            &p.data()[..14],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd]
        );
        // A type of another namespace is refused.
        let mut q = DpPacket::from_bytes(&ipv4_udp());
        q.md_mut().packet_type = (2 << 16) | 5;
        assert!(!push_eth(&mut q, [0; 6], [0; 6]));
        assert_eq!(q.data(), &ipv4_udp()[..]);
    }
}
