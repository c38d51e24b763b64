//! Building Ethernet frames of one connection's packets, with correct
//! checksums, for the tracker's tests, fuzz target and benches.
//!
//! [`Pkt`] is the representation (addresses, protocol, ports, TCP fields,
//! payload length); [`Pkt::emit`] writes the frame. IPv4 addresses are the
//! low 32 bits of the address fields, as in [`super::ConnKey`].

use crate::wire::checksum::{checksum, fold, sum16};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::wire::ipv6::PROTO_ICMPV6;

/// One packet of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pkt {
    pub v6: bool,
    pub src: u128,
    pub dst: u128,
    pub proto: u8,
    /// Ports; for ICMP echo: `sport` is the id, `dport` the type.
    pub sport: u16,
    pub dport: u16,
    pub flags: u16,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub payload: u16,
}

impl Pkt {
    pub fn tcp4(src: u32, sport: u16, dst: u32, dport: u16, flags: u16) -> Pkt {
        Pkt {
            v6: false,
            src: src as u128,
            dst: dst as u128,
            proto: PROTO_TCP,
            sport,
            dport,
            flags,
            seq: 0,
            ack: 0,
            win: 65535,
            payload: 0,
        }
    }
    pub fn udp4(src: u32, sport: u16, dst: u32, dport: u16) -> Pkt {
        Pkt {
            proto: PROTO_UDP,
            flags: 0,
            ..Pkt::tcp4(src, sport, dst, dport, 0)
        }
    }
    /// ICMP (v4) or ICMPv6 echo: `ty` 8/0 or 128/129.
    pub fn echo(v6: bool, src: u128, dst: u128, id: u16, ty: u8) -> Pkt {
        Pkt {
            v6,
            src,
            dst,
            proto: if v6 { PROTO_ICMPV6 } else { PROTO_ICMP },
            sport: id,
            dport: ty as u16,
            ..Pkt::tcp4(0, 0, 0, 0, 0)
        }
    }
    pub fn seq(self, seq: u32, ack: u32) -> Pkt {
        Pkt { seq, ack, ..self }
    }
    pub fn with_payload(self, n: u16) -> Pkt {
        Pkt { payload: n, ..self }
    }
    pub fn v6(self) -> Pkt {
        Pkt { v6: true, ..self }
    }

    /// The L4 bytes (header and zero payload) with checksum 0.
    fn l4(&self) -> Vec<u8> {
        let mut l4 = Vec::new();
        match self.proto {
            PROTO_TCP => {
                l4.extend_from_slice(&self.sport.to_be_bytes());
                l4.extend_from_slice(&self.dport.to_be_bytes());
                l4.extend_from_slice(&self.seq.to_be_bytes());
                l4.extend_from_slice(&self.ack.to_be_bytes());
                l4.extend_from_slice(&((5u16 << 12) | self.flags).to_be_bytes());
                l4.extend_from_slice(&self.win.to_be_bytes());
                l4.extend_from_slice(&[0, 0, 0, 0]);
            }
            PROTO_UDP => {
                l4.extend_from_slice(&self.sport.to_be_bytes());
                l4.extend_from_slice(&self.dport.to_be_bytes());
                l4.extend_from_slice(&(8 + self.payload).to_be_bytes());
                l4.extend_from_slice(&[0, 0]);
            }
            PROTO_ICMP | PROTO_ICMPV6 => {
                l4.extend_from_slice(&[self.dport as u8, 0, 0, 0]);
                l4.extend_from_slice(&self.sport.to_be_bytes());
                l4.extend_from_slice(&[0, 1]);
            }
            _ => {}
        }
        l4.resize(l4.len() + self.payload as usize, 0x5a);
        l4
    }

    /// The IP packet (no Ethernet header).
    pub fn ip(&self) -> Vec<u8> {
        let mut l4 = self.l4();
        let csum_at = match self.proto {
            PROTO_TCP => Some(16),
            PROTO_UDP => Some(6),
            PROTO_ICMP | PROTO_ICMPV6 => Some(2),
            _ => None,
        };
        let pseudo = self.proto != PROTO_ICMP;
        if let Some(at) = csum_at {
            let mut acc = 0;
            if pseudo {
                acc = pseudo_sum(self.v6, self.src, self.dst, self.proto, l4.len());
            }
            let mut c = !fold(sum16(&l4, acc));
            if self.proto == PROTO_UDP && c == 0 {
                c = 0xffff;
            }
            l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        ip_header(self.v6, self.src, self.dst, self.proto, &l4)
    }

    /// The whole Ethernet frame.
    pub fn emit(&self) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        f.extend_from_slice(if self.v6 {
            &[0x86, 0xdd]
        } else {
            &[0x08, 0x00]
        });
        f.extend_from_slice(&self.ip());
        f
    }
}

/// The pseudo-header sum (not folded).
pub fn pseudo_sum(v6: bool, src: u128, dst: u128, proto: u8, len: usize) -> u32 {
    let mut acc;
    if v6 {
        acc = sum16(&src.to_be_bytes(), 0);
        acc = sum16(&dst.to_be_bytes(), acc);
    } else {
        acc = sum16(&(src as u32).to_be_bytes(), 0);
        acc = sum16(&(dst as u32).to_be_bytes(), acc);
    }
    acc + proto as u32 + (len as u32 >> 16) + (len as u32 & 0xffff)
}

/// An IP header of `proto` carrying `l4`.
pub fn ip_header(v6: bool, src: u128, dst: u128, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut ip = Vec::new();
    if v6 {
        ip.extend_from_slice(&[0x60, 0, 0, 0]);
        ip.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        ip.extend_from_slice(&[proto, 64]);
        ip.extend_from_slice(&src.to_be_bytes());
        ip.extend_from_slice(&dst.to_be_bytes());
    } else {
        ip.extend_from_slice(&[0x45, 0]);
        ip.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
        ip.extend_from_slice(&(src as u32).to_be_bytes());
        ip.extend_from_slice(&(dst as u32).to_be_bytes());
        let c = checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
    }
    ip.extend_from_slice(l4);
    ip
}

/// An ICMP (v4: destination unreachable; v6: the same, type 1) error from
/// `from` to `to`, quoting `quoted` (an IP packet, cut to its first 28 or
/// 48 bytes).
pub fn icmp_error(v6: bool, from: u128, to: u128, quoted: &[u8]) -> Vec<u8> {
    let keep = quoted.len().min(if v6 { 48 } else { 28 });
    let mut l4 = if v6 {
        vec![1, 4, 0, 0, 0, 0, 0, 0]
    } else {
        vec![3, 3, 0, 0, 0, 0, 0, 0]
    };
    l4.extend_from_slice(&quoted[..keep]);
    let acc = if v6 {
        pseudo_sum(true, from, to, PROTO_ICMPV6, l4.len())
    } else {
        0
    };
    let c = !fold(sum16(&l4, acc));
    l4[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    f.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    f.extend_from_slice(&ip_header(
        v6,
        from,
        to,
        if v6 { PROTO_ICMPV6 } else { PROTO_ICMP },
        &l4,
    ));
    f
}

/// True if every checksum of the frame (IPv4 header, TCP/UDP/ICMP) is
/// correct.
pub fn checksums_ok(frame: &[u8]) -> bool {
    if frame.len() < 14 {
        return false;
    }
    let v6 = frame[12..14] == [0x86, 0xdd];
    let ip = &frame[14..];
    let (src, dst, proto, l4) = if v6 {
        if ip.len() < 40 {
            return false;
        }
        let len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
        (
            u128::from_be_bytes(ip[8..24].try_into().unwrap()),
            u128::from_be_bytes(ip[24..40].try_into().unwrap()),
            ip[6],
            &ip[40..40 + len],
        )
    } else {
        if ip.len() < 20 || checksum(&ip[..20]) != 0 {
            return false;
        }
        let tot = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        (
            u32::from_be_bytes(ip[12..16].try_into().unwrap()) as u128,
            u32::from_be_bytes(ip[16..20].try_into().unwrap()) as u128,
            ip[9],
            &ip[20..tot],
        )
    };
    let acc = if proto == PROTO_ICMP {
        0
    } else {
        pseudo_sum(v6, src, dst, proto, l4.len())
    };
    fold(sum16(l4, acc)) == 0xffff
}

/// Cuts the IPv4 packet of `p` into fragments of `size` payload bytes
/// (a multiple of 8) with IP id `id`.
pub fn fragments(p: &Pkt, size: usize, id: u16) -> Vec<Vec<u8>> {
    fragment_frame(&p.emit(), size, id)
}

/// Cuts the IPv4 frame `f` (20-byte header) into fragments of `size`
/// payload bytes (a multiple of 8) with IP id `id`.
pub fn fragment_frame(f: &[u8], size: usize, id: u16) -> Vec<Vec<u8>> {
    let (eth, ip) = f.split_at(14);
    let (hdr, payload) = ip.split_at(20);
    let mut out = Vec::new();
    for (i, chunk) in payload.chunks(size).enumerate() {
        let mut h = hdr.to_vec();
        let off = (i * size / 8) as u16;
        let more = (i + 1) * size < payload.len();
        h[2..4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
        h[4..6].copy_from_slice(&id.to_be_bytes());
        h[6..8].copy_from_slice(&(off | if more { 0x2000 } else { 0 }).to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        let mut fr = eth.to_vec();
        fr.extend_from_slice(&h);
        fr.extend_from_slice(chunk);
        out.push(fr);
    }
    out
}

/// Splits IPv6 packet `p` into fragments of `size` payload bytes (a
/// multiple of 8) with fragment id `id`: each is the fixed header (next
/// header 44, its own payload length), a fragment header, and its part.
pub fn fragments6(p: &Pkt, size: usize, id: u32) -> Vec<Vec<u8>> {
    fragment_frame6(&p.emit(), size, id)
}

/// Splits the IPv6 frame `f` (no extension headers) as [`fragments6`].
pub fn fragment_frame6(f: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    let (eth, ip) = f.split_at(14);
    let (hdr, payload) = ip.split_at(40);
    let mut out = Vec::new();
    for (i, chunk) in payload.chunks(size).enumerate() {
        let more = (i + 1) * size < payload.len();
        let mut fr = eth.to_vec();
        fr.extend_from_slice(hdr);
        fr[14 + 4..14 + 6].copy_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
        fr[14 + 6] = 44;
        fr.extend_from_slice(&[hdr[6], 0]);
        fr.extend_from_slice(&((i * size) as u16 | more as u16).to_be_bytes());
        fr.extend_from_slice(&id.to_be_bytes());
        fr.extend_from_slice(chunk);
        out.push(fr);
    }
    out
}
