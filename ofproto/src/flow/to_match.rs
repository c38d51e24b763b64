//! `OfMatch` -> `openflow::Match`: the fields OVS would put on the wire for
//! the same match (its `nx_put_raw` choice and order), for one version.
//!
//! The same bits can often be spelled several ways; OVS picks one by the
//! match's own ethertype and protocol: `arp_spa` rather than `nw_src` for
//! ARP, `tcp_dst`/`udp_dst`/`sctp_dst`/`icmp_code` for the port bits,
//! `vlan_tci` in NXM but `vlan_vid` + `vlan_pcp` in OXM, `nw_tos` in NXM but
//! `ip_dscp` in OXM, 32-bit `reg<n>` before OpenFlow 1.5 and 64-bit
//! `xreg<n>` from 1.5. L4 fields are only written when `nw_proto` is, the
//! conntrack ports only when `ct_nw_proto` is nonzero. `tun_ttl` and
//! `tun_tos` are never written (OVS has no wire form for them in a match).

use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::{Field, Match, Prereq, Value, Version};

use super::place::{md_byte, tun_metadata_span};
use super::{place, OfMatch, Place, TlvMap, TUN_METADATA_FIELDS, W_PACKET_TYPE, W_TUN_MD_PRESENT};

const IP: u64 = 0x0800;
const IPV6: u64 = 0x86dd;

impl OfMatch {
    /// The match as OVS would encode it for `version` (NXM spelling for
    /// OpenFlow 1.0 and 1.1, OXM from 1.2). Tunnel options are omitted.
    pub fn to_match(&self, version: Version) -> Match {
        self.to_match_tlv(version, &TlvMap::EMPTY)
    }

    /// As [`OfMatch::to_match`], with `tun_metadata<n>` read where `tlv`
    /// maps it.
    pub fn to_match_tlv(&self, version: Version, tlv: &TlvMap) -> Match {
        let oxm = version >= Version::Of12;
        let mut w = Writer {
            om: self,
            m: Match::new(),
        };
        use Field as F;
        // A packet_type other than the default (exact Ethernet) goes first.
        let (pt, pt_m) = (
            self.value.bits(W_PACKET_TYPE, 0, 32),
            self.mask.bits(W_PACKET_TYPE, 0, 32),
        );
        let default_pt = pt == 0 && pt_m == 0xffff_ffff;
        if pt_m != 0 && !default_pt {
            w.put(F::PacketType);
        }
        w.put(F::DpHash);
        w.put(F::RecircId);
        w.put(F::ConjId);
        w.put(F::InPort);
        w.put(F::ActsetOutput);
        w.put(F::EthSrc);
        w.put(F::EthDst);
        w.put(F::EthType);
        // 802.1Q.
        let (tw, ts) = (dp::W_VLAN, dp::VLAN0_TCI.shift as u32);
        let (tci, tci_m) = (self.value.bits(tw, ts, 16), self.mask.bits(tw, ts, 16));
        if oxm {
            let (vid, vid_m) = (tci & 0x1fff, tci_m & 0x1fff);
            if vid_m != 0 {
                w.push(F::VlanVid, vid as u128, vid_m as u128, 0x1fff);
            }
            if vid != 0 && tci_m & 0xe000 != 0 {
                w.push(F::VlanPcp, (tci >> 13 & 7) as u128, 7, 7);
            }
        } else if tci_m != 0 {
            w.push(F::VlanTci, tci as u128, tci_m as u128, 0xffff);
        }
        let dl_type = self.value.bits(dp::W_DL_TYPE, dp::DL_TYPE.shift as u32, 16);
        // MPLS.
        if dl_type == 0x8847 || dl_type == 0x8848 {
            w.put(F::MplsTc);
            w.put(F::MplsBos);
            w.put(F::MplsTtl);
            w.put(F::MplsLabel);
        }
        let misc = |f: dp::Field| {
            self.value
                .bits(dp::W_NW_MISC, f.shift as u32, f.bits as u32)
        };
        let misc_m = |f: dp::Field| self.mask.bits(dp::W_NW_MISC, f.shift as u32, f.bits as u32);
        if dl_type == IP || dl_type == IPV6 {
            if dl_type == IP {
                w.put(F::IpSrc);
                w.put(F::IpDst);
            } else {
                w.put(F::Ipv6Src);
                w.put(F::Ipv6Dst);
            }
            w.put(F::IpFrag);
            let (tos, tos_m) = (misc(dp::NW_TOS), misc_m(dp::NW_TOS));
            if tos_m & 0xfc != 0 {
                if oxm {
                    w.push(F::IpDscp, (tos >> 2) as u128, 0x3f, 0x3f);
                } else {
                    w.push(F::NwTos, (tos & 0xfc) as u128, 0xfc, 0xfc);
                }
            }
            w.put(F::NwEcn);
            w.put(F::NwTtl);
            w.put(F::Ipv6Label);
            if misc_m(dp::NW_PROTO) != 0 {
                w.put(F::NwProto);
                let tp_src = self.value.bits(dp::W_TP, dp::TP_SRC.shift as u32, 16);
                let tp_dst = self.value.bits(dp::W_TP, dp::TP_DST.shift as u32, 16);
                match (dl_type, misc(dp::NW_PROTO)) {
                    (_, 6) => {
                        w.put(F::TcpSrc);
                        w.put(F::TcpDst);
                        w.put(F::TcpFlags);
                    }
                    (_, 17) => {
                        w.put(F::UdpSrc);
                        w.put(F::UdpDst);
                    }
                    (_, 132) => {
                        w.put(F::SctpSrc);
                        w.put(F::SctpDst);
                    }
                    (IP, 1) => {
                        w.put(F::IcmpType);
                        w.put(F::IcmpCode);
                    }
                    (IPV6, 58) => {
                        w.put(F::Icmpv6Type);
                        w.put(F::Icmpv6Code);
                        // Neighbour discovery: solicitation or advertisement, code 0.
                        if (tp_src == 135 || tp_src == 136) && tp_dst == 0 {
                            w.put(F::NdReserved);
                            w.put(F::NdTarget);
                            w.put(F::NdOptionsType);
                            w.put(if tp_src == 135 { F::NdSll } else { F::NdTll });
                        }
                    }
                    _ => {}
                }
            }
        } else if dl_type == 0x0806 || dl_type == 0x8035 {
            if misc_m(dp::NW_PROTO) != 0 {
                w.put(F::ArpOp);
            }
            w.put(F::ArpSpa);
            w.put(F::ArpTpa);
            w.put(F::ArpSha);
            w.put(F::ArpTha);
        }
        // Tunnel.
        w.put(F::TunId);
        w.put(F::TunFlags);
        w.put(F::TunSrc);
        w.put(F::TunDst);
        w.put(F::TunIpv6Src);
        w.put(F::TunIpv6Dst);
        w.put(F::TunGbpId);
        w.put(F::TunGbpFlags);
        for n in 0..TUN_METADATA_FIELDS as u8 {
            w.put_tun_metadata(n, tlv);
        }
        w.put(F::TunErspanIdx);
        w.put(F::TunErspanVer);
        w.put(F::TunErspanDir);
        w.put(F::TunErspanHwid);
        w.put(F::TunGtpuFlags);
        w.put(F::TunGtpuMsgtype);
        // NSH.
        for f in [
            F::NshFlags,
            F::NshTtl,
            F::NshMdtype,
            F::NshNp,
            F::NshSpi,
            F::NshSi,
            F::NshC1,
            F::NshC2,
            F::NshC3,
            F::NshC4,
        ] {
            w.put(f);
        }
        // Registers.
        if version >= Version::Of15 {
            for i in 0..8 {
                w.put(Field::xreg(i).expect("xreg0..7"));
            }
        } else {
            for i in 0..16 {
                w.put(Field::reg(i).expect("reg0..15"));
            }
        }
        w.put(F::PktMark);
        // Connection tracking.
        w.put(F::CtState);
        w.put(F::CtZone);
        w.put(F::CtMark);
        w.put(F::CtLabel);
        w.put(F::CtNwSrc);
        w.put(F::CtIpv6Src);
        w.put(F::CtNwDst);
        w.put(F::CtIpv6Dst);
        if self
            .value
            .bits(dp::W_CT_MARK, dp::CT_NW_PROTO.shift as u32, 8)
            != 0
        {
            w.put(F::CtNwProto);
            w.put(F::CtTpSrc);
            w.put(F::CtTpDst);
        }
        w.put(F::Metadata);
        // The default packet_type is written (first) only when no field
        // already implies Ethernet.
        if default_pt
            && w.m
                .fields
                .iter()
                .all(|f| f.field.info().prereq == Prereq::None)
        {
            w.put(F::PacketType);
            let pt = w.m.fields.pop().expect("just pushed");
            w.m.fields.insert(0, pt);
        }
        w.m
    }
}

struct Writer<'a> {
    om: &'a OfMatch,
    m: Match,
}

impl Writer<'_> {
    /// Appends `field` with its value and mask from the match, if any bit
    /// of it is matched (a plain bit range or 128-bit place).
    fn put(&mut self, field: Field) {
        let (v, m, full) = match place(field) {
            Ok(Place::Bits { word, shift, bits }) => {
                let (w, s, b) = (word as usize, shift as u32, bits as u32);
                (
                    self.om.value.bits(w, s, b) as u128,
                    self.om.mask.bits(w, s, b) as u128,
                    super::low_mask(b) as u128,
                )
            }
            Ok(Place::Wide { word }) => {
                let w = word as usize;
                let get = |f: &super::OfFlow| (f.0[w] as u128) << 64 | f.0[w + 1] as u128;
                (get(&self.om.value), get(&self.om.mask), u128::MAX)
            }
            _ => return,
        };
        self.push(field, v, m, full);
    }

    /// Appends `field = v/m`, exact when `m` is `full` (every bit of its
    /// place).
    fn push(&mut self, field: Field, v: u128, m: u128, full: u128) {
        if m == 0 {
            return;
        }
        let width = field.info().width as usize;
        let mask = (m != full).then(|| Value::from_u128_width(m, width));
        self.m.set(field, Value::from_u128_width(v, width), mask);
    }

    fn put_tun_metadata(&mut self, n: u8, tlv: &TlvMap) {
        let Ok((off, len)) = tun_metadata_span(n, tlv) else {
            return;
        };
        if self.om.mask.0[W_TUN_MD_PRESENT] >> n & 1 == 0 {
            return;
        }
        let v: Vec<u8> = (off..off + len)
            .map(|i| md_byte(&self.om.value, i))
            .collect();
        let m: Vec<u8> = (off..off + len)
            .map(|i| md_byte(&self.om.mask, i))
            .collect();
        let field = Field::tun_metadata(n).expect("index below 64");
        let mask = m.iter().any(|b| *b != 0xff).then(|| Value::from_slice(&m));
        self.m.set(field, Value::from_slice(&v), mask);
    }
}
