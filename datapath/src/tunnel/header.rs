//! The outer header template of `tnl_push`: Ethernet, IPv4 or IPv6, then
//! UDP + VXLAN, UDP + Geneve, or GRE, as OVS's `tnl_push` action carries it
//! ([`TnlHeaderRepr`] builds and parses it; [`super::TnlPush`] holds the
//! bytes).
//!
//! The template is what OVS's header builders leave before any packet is
//! seen: IPv4 total length 0 with the header checksum computed over that
//! (each packet then adds its length with an incremental update), ID 0,
//! DF from `df_default`; IPv6 payload length 0; UDP source port and length
//! 0, UDP checksum 0xffff when the outer checksum is wanted (OVS's marker,
//! printed as `csum=0xffff`), else 0. Parsing reads those same bytes back
//! and refuses anything else.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::checksum::checksum;
use crate::wire::ethernet::{ETH_HLEN, ETH_TYPE_IPV4, ETH_TYPE_IPV6};
use crate::wire::geneve::{GeneveHeader, GeneveRepr, GENEVE_MAX_OPTS};
use crate::wire::gre::{GreHeader, GreRepr};
use crate::wire::ipv4::{IPV4_MIN_HLEN, PROTO_UDP};
use crate::wire::l4::UDP_HLEN;
use crate::wire::vxlan::{VxlanHeader, VxlanRepr, VXLAN_HLEN};
use crate::wire::{be16, be32, put_be16, put_be32, WireError};

pub const PROTO_GRE: u8 = 47;
pub use crate::wire::ipv6::IPV6_HLEN;
/// IPv4 "don't fragment" bit in the flags/offset word.
pub const IP_DF: u16 = 0x4000;
/// UDP checksum marker in a template: compute the checksum per packet.
pub const UDP_CSUM_MARK: u16 = 0xffff;

/// OVS's `OVS_VPORT_TYPE_*` numbers printed as `type=` in `tnl_push`.
pub const VPORT_TYPE_GRE: u32 = 3;
pub const VPORT_TYPE_VXLAN: u32 = 4;
pub const VPORT_TYPE_GENEVE: u32 = 5;
pub const VPORT_TYPE_IP6GRE: u32 = 109;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OuterIp {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        tos: u8,
        ttl: u8,
        df: bool,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        tclass: u8,
        /// 20 bits.
        label: u32,
        hlimit: u8,
    },
}

impl OuterIp {
    pub fn header_len(&self) -> usize {
        match self {
            OuterIp::V4 { .. } => IPV4_MIN_HLEN,
            OuterIp::V6 { .. } => IPV6_HLEN,
        }
    }
}

/// What follows the IP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encap {
    Vxlan {
        dst_port: u16,
        csum: bool,
        vxlan: VxlanRepr,
    },
    Geneve {
        dst_port: u16,
        csum: bool,
        oam: bool,
        critical: bool,
        vni: u32,
        /// Option TLVs (multiple of 4 bytes, at most 252).
        options: Vec<u8>,
    },
    Gre(GreRepr),
}

impl Encap {
    fn len(&self) -> usize {
        match self {
            Encap::Vxlan { .. } => UDP_HLEN + VXLAN_HLEN,
            Encap::Geneve { options, .. } => UDP_HLEN + 8 + options.len(),
            Encap::Gre(g) => g.header_len(),
        }
    }
    fn proto(&self) -> u8 {
        match self {
            Encap::Gre(_) => PROTO_GRE,
            _ => PROTO_UDP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnlHeaderRepr {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub ip: OuterIp,
    pub encap: Encap,
}

impl TnlHeaderRepr {
    pub fn header_len(&self) -> usize {
        ETH_HLEN + self.ip.header_len() + self.encap.len()
    }
    /// OVS's vport type number for this header.
    pub fn vport_type(&self) -> u32 {
        match (&self.encap, &self.ip) {
            (Encap::Vxlan { .. }, _) => VPORT_TYPE_VXLAN,
            (Encap::Geneve { .. }, _) => VPORT_TYPE_GENEVE,
            (Encap::Gre(_), OuterIp::V4 { .. }) => VPORT_TYPE_GRE,
            (Encap::Gre(_), OuterIp::V6 { .. }) => VPORT_TYPE_IP6GRE,
        }
    }

    /// The template bytes.
    pub fn emit(&self) -> Result<Vec<u8>, WireError> {
        let mut b = vec![0u8; self.header_len()];
        b[0..6].copy_from_slice(&self.eth_dst);
        b[6..12].copy_from_slice(&self.eth_src);
        let l4 = ETH_HLEN + self.ip.header_len();
        match self.ip {
            OuterIp::V4 {
                src,
                dst,
                tos,
                ttl,
                df,
            } => {
                put_be16(&mut b, 12, ETH_TYPE_IPV4);
                let ip = &mut b[ETH_HLEN..l4];
                ip[0] = 0x45;
                ip[1] = tos;
                put_be16(ip, 6, if df { IP_DF } else { 0 });
                ip[8] = ttl;
                ip[9] = self.encap.proto();
                ip[12..16].copy_from_slice(&src.octets());
                ip[16..20].copy_from_slice(&dst.octets());
                let c = checksum(ip);
                put_be16(ip, 10, c);
            }
            OuterIp::V6 {
                src,
                dst,
                tclass,
                label,
                hlimit,
            } => {
                if label > 0xfffff {
                    return Err(WireError::Malformed);
                }
                put_be16(&mut b, 12, ETH_TYPE_IPV6);
                let ip = &mut b[ETH_HLEN..l4];
                put_be32(ip, 0, 6 << 28 | (tclass as u32) << 20 | label);
                ip[6] = self.encap.proto();
                ip[7] = hlimit;
                ip[8..24].copy_from_slice(&src.octets());
                ip[24..40].copy_from_slice(&dst.octets());
            }
        }
        let e = &mut b[l4..];
        match &self.encap {
            Encap::Vxlan {
                dst_port,
                csum,
                vxlan,
            } => {
                put_udp(e, *dst_port, *csum);
                vxlan.emit(&mut e[UDP_HLEN..])?;
            }
            Encap::Geneve {
                dst_port,
                csum,
                oam,
                critical,
                vni,
                options,
            } => {
                if options.len() > GENEVE_MAX_OPTS {
                    return Err(WireError::Malformed);
                }
                put_udp(e, *dst_port, *csum);
                GeneveRepr {
                    oam: *oam,
                    critical: *critical,
                    protocol: crate::wire::gre::GRE_PROTO_TEB,
                    vni: *vni,
                    options,
                }
                .emit(&mut e[UDP_HLEN..])?;
                // The options must be well-formed TLVs.
                GeneveHeader::new_checked(&e[UDP_HLEN..])?;
            }
            Encap::Gre(g) => g.emit(e)?,
        }
        Ok(b)
    }

    /// Reads a template back (see the module comment for what is refused).
    pub fn parse(b: &[u8]) -> Result<TnlHeaderRepr, WireError> {
        if b.len() < ETH_HLEN {
            return Err(WireError::Truncated);
        }
        let mut eth_dst = [0u8; 6];
        let mut eth_src = [0u8; 6];
        eth_dst.copy_from_slice(&b[0..6]);
        eth_src.copy_from_slice(&b[6..12]);
        let (ip, proto, l4) = match be16(b, 12) {
            ETH_TYPE_IPV4 => {
                let ip = b
                    .get(ETH_HLEN..ETH_HLEN + IPV4_MIN_HLEN)
                    .ok_or(WireError::Truncated)?;
                let fo = be16(ip, 6);
                if ip[0] != 0x45 || be16(ip, 2) != 0 || be16(ip, 4) != 0 || fo & !IP_DF != 0 {
                    return Err(WireError::Malformed);
                }
                if checksum(ip) != 0 {
                    return Err(WireError::Malformed);
                }
                let o = OuterIp::V4 {
                    src: Ipv4Addr::from(be32(ip, 12)),
                    dst: Ipv4Addr::from(be32(ip, 16)),
                    tos: ip[1],
                    ttl: ip[8],
                    df: fo & IP_DF != 0,
                };
                (o, ip[9], ETH_HLEN + IPV4_MIN_HLEN)
            }
            ETH_TYPE_IPV6 => {
                let ip = b
                    .get(ETH_HLEN..ETH_HLEN + IPV6_HLEN)
                    .ok_or(WireError::Truncated)?;
                let w = be32(ip, 0);
                if w >> 28 != 6 || be16(ip, 4) != 0 {
                    return Err(WireError::Malformed);
                }
                let o = OuterIp::V6 {
                    src: Ipv6Addr::from(crate::wire::be128(ip, 8)),
                    dst: Ipv6Addr::from(crate::wire::be128(ip, 24)),
                    tclass: (w >> 20) as u8,
                    label: w & 0xfffff,
                    hlimit: ip[7],
                };
                (o, ip[6], ETH_HLEN + IPV6_HLEN)
            }
            _ => return Err(WireError::Malformed),
        };
        let e = &b[l4..];
        let encap = match proto {
            PROTO_GRE => {
                let g = GreHeader::new_checked(e)?;
                if g.header_len() != e.len() {
                    return Err(WireError::Malformed);
                }
                Encap::Gre(GreRepr::parse(&g)?)
            }
            PROTO_UDP => {
                if e.len() < UDP_HLEN {
                    return Err(WireError::Truncated);
                }
                let (sp, dst_port, len, c) = (be16(e, 0), be16(e, 2), be16(e, 4), be16(e, 6));
                if sp != 0 || len != 0 || (c != 0 && c != UDP_CSUM_MARK) {
                    return Err(WireError::Malformed);
                }
                let csum = c == UDP_CSUM_MARK;
                let t = &e[UDP_HLEN..];
                if t.len() == VXLAN_HLEN {
                    if let Ok(v) = VxlanRepr::parse(&VxlanHeader::new_checked(t)?) {
                        return Ok(TnlHeaderRepr {
                            eth_dst,
                            eth_src,
                            ip,
                            encap: Encap::Vxlan {
                                dst_port,
                                csum,
                                vxlan: v,
                            },
                        });
                    }
                }
                let h = GeneveHeader::new_checked(t)?;
                if h.header_len() != t.len() {
                    return Err(WireError::Malformed);
                }
                let g = GeneveRepr::parse(&h)?;
                if g.protocol != crate::wire::gre::GRE_PROTO_TEB {
                    return Err(WireError::Malformed);
                }
                Encap::Geneve {
                    dst_port,
                    csum,
                    oam: g.oam,
                    critical: g.critical,
                    vni: g.vni,
                    options: g.options.to_vec(),
                }
            }
            _ => return Err(WireError::Malformed),
        };
        Ok(TnlHeaderRepr {
            eth_dst,
            eth_src,
            ip,
            encap,
        })
    }
}

fn put_udp(e: &mut [u8], dst_port: u16, csum: bool) {
    put_be16(e, 0, 0);
    put_be16(e, 2, dst_port);
    put_be16(e, 4, 0);
    put_be16(e, 6, if csum { UDP_CSUM_MARK } else { 0 });
}
