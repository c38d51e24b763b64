// Shared by the tunnel fuzz targets: builds an outer Ethernet + IPv4/IPv6
// (+ UDP) frame around fuzzer bytes, so decapsulation gets past the outer
// checks and reaches the tunnel header parser.

use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::tunnel::fmt::HeaderDisplay;
use ferrovs_datapath::tunnel::pop::pop;
use ferrovs_datapath::tunnel::{TnlHeaderRepr, TnlKind};
use ferrovs_datapath::wire::checksum::checksum;

pub fn wrap(data: &[u8], v6: bool, proto: u8, udp_port: Option<u16>) -> Vec<u8> {
    let l4 = udp_port.map_or(0, |_| 8);
    let mut f = vec![0u8; 14];
    f[0] = 2;
    f[6] = 2;
    let ip_payload = l4 + data.len();
    if v6 {
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        let mut ip = [0u8; 40];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&(ip_payload.min(65535) as u16).to_be_bytes());
        ip[6] = proto;
        ip[7] = 64;
        ip[8] = 0x20;
        ip[24] = 0x20;
        f.extend_from_slice(&ip);
    } else {
        f[12..14].copy_from_slice(&[8, 0]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + ip_payload).min(65535) as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
        ip[16..20].copy_from_slice(&[198, 18, 0, 2]);
        let c = checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
    }
    if let Some(p) = udp_port {
        let mut u = [0u8; 8];
        u[0..2].copy_from_slice(&40000u16.to_be_bytes());
        u[2..4].copy_from_slice(&p.to_be_bytes());
        u[4..6].copy_from_slice(&((8 + data.len()).min(65535) as u16).to_be_bytes());
        f.extend_from_slice(&u);
    }
    f.extend_from_slice(data);
    f
}

/// Decapsulates `frame` as `kind`: either refused with the frame
/// unchanged, or the result is a suffix of the frame.
pub fn pop_checked(frame: &[u8], kind: TnlKind) {
    let mut p = DpPacket::from_bytes(frame);
    match pop(&mut p, kind) {
        Ok(()) => {
            let inner = p.data();
            // An Ethernet frame, or (L3 GRE) a non-empty L3 packet.
            if p.md().packet_type == ferrovs_datapath::packet::PT_ETH {
                assert!(inner.len() >= 14);
            } else {
                assert!(!inner.is_empty());
                let mut k = ferrovs_datapath::flow::FlowKey::default();
                ferrovs_datapath::flow::extract(&mut p, &mut k);
            }
            let inner = p.data();
            assert!(frame.windows(inner.len()).any(|w| w == inner));
            assert!(p.md().tunnel.geneve_len as usize <= 252);
        }
        Err(_) => assert_eq!(p.data(), frame),
    }
}

/// Raw bytes as a template: parse, print, and re-emit when it parses.
pub fn template(data: &[u8], ty: u32) {
    let _ = HeaderDisplay(data, ty).to_string();
    if let Ok(r) = TnlHeaderRepr::parse(data) {
        let b = r.emit().expect("a parsed template emits");
        assert_eq!(TnlHeaderRepr::parse(&b).unwrap(), r);
    }
}
