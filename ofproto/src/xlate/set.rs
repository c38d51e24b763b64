//! Actions that write fields: `set_field`, Nicira `load` and `move`,
//! registers and subfields, the OpenFlow 1.0 `mod_*` actions and
//! `dec_ttl`.
//!
//! As OVS: a field is only written when the packet has the header it
//! belongs to (the prerequisite check reads, so un-wildcards, `dl_type`
//! and `nw_proto`); a write un-wildcards the bits written, so that the
//! megaflow pins the values the datapath `set` will assume.

use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::action::{Action, Subfield};
use ferrovs_openflow::{Field, Prereq, Value};

use super::{dl_type, nw_proto, Ctx, REASON_INVALID_TTL};
use crate::flow::{OfFlow, Place, TlvMap};

fn ones(n: u32) -> u128 {
    if n >= 128 {
        !0
    } else {
        (1u128 << n) - 1
    }
}

impl Ctx<'_, '_> {
    fn wc_dp(&mut self, f: dp::Field) {
        self.wc.0[f.word as usize] |= f.word_mask();
    }

    /// True if the packet has `field`'s header (un-wildcarding what it
    /// reads to know).
    pub(crate) fn prereqs_ok(&mut self, field: Field) -> bool {
        let p = field.info().prereq;
        let t = dl_type(&self.flow);
        let ip = matches!(t, 0x0800 | 0x86dd);
        let proto = || nw_proto(&self.flow);
        let ok = match p {
            Prereq::None => true,
            Prereq::Ipv4 => t == 0x0800,
            Prereq::Ipv6 => t == 0x86dd,
            Prereq::IpAny => ip,
            Prereq::Arp => matches!(t, 0x0806 | 0x8035),
            Prereq::Tcp => ip && proto() == 6,
            Prereq::Udp => ip && proto() == 17,
            Prereq::Sctp => ip && proto() == 132,
            Prereq::Icmpv4 => t == 0x0800 && proto() == 1,
            Prereq::Icmpv6 => t == 0x86dd && proto() == 58,
            Prereq::Nd | Prereq::NdSolicit | Prereq::NdAdvert => {
                // As OVS: ICMPv6 with type 135 (solicit) or 136 (advert)
                // and code 0, both read.
                let ty = self.flow.bits(dp::W_TP, dp::TP_SRC.shift as u32, 8);
                let code = self.flow.bits(dp::W_TP, dp::TP_DST.shift as u32, 8);
                let is_v6 = t == 0x86dd && proto() == 58;
                if is_v6 {
                    self.wc.0[dp::W_TP] |= 0xff << dp::TP_SRC.shift | 0xff << dp::TP_DST.shift;
                }
                let ty_ok = match p {
                    Prereq::NdSolicit => ty == 135,
                    Prereq::NdAdvert => ty == 136,
                    _ => ty == 135 || ty == 136,
                };
                is_v6 && ty_ok && code == 0
            }
            Prereq::Mpls => matches!(t, 0x8847 | 0x8848),
            Prereq::VlanVid => self.flow.bits(dp::W_VLAN, 0, 16) as u16 & dp::VLAN_PRESENT != 0,
            _ => true,
        };
        if !matches!(p, Prereq::None) {
            self.wc_dp(dp::DL_TYPE);
        }
        // The protocol is read only when the packet is IP (of the right
        // version for ICMP), as OVS's is_tcp() and is_icmpv4() read it.
        let reads_proto = match p {
            Prereq::Tcp | Prereq::Udp | Prereq::Sctp => ip,
            Prereq::Icmpv4 => t == 0x0800,
            Prereq::Icmpv6 | Prereq::Nd | Prereq::NdSolicit | Prereq::NdAdvert => t == 0x86dd,
            _ => false,
        };
        if reads_proto {
            self.wc_dp(dp::NW_PROTO);
        }
        if matches!(p, Prereq::VlanVid) {
            self.wc.0[dp::W_VLAN] |= dp::VLAN_PRESENT as u64;
        }
        ok
    }

    /// Un-wildcards bits `mask` (right-aligned, field width) of `field`.
    pub(crate) fn wc_field_bits(&mut self, field: Field, mask: u128) {
        let width = field.info().width as usize;
        // Plain bit ranges directly (the same bits as the general way
        // below, without building three flows).
        match crate::flow::place(field) {
            Ok(Place::Bits { word, shift, bits }) if field != Field::InPortOxm => {
                let lim = crate::flow::low_mask(bits as u32) as u128;
                let mv = if width >= 16 {
                    mask
                } else {
                    mask & ((1u128 << (8 * width)) - 1)
                };
                // A value over the range sets the whole field.
                self.wc.0[word as usize] |= (mv.min(lim) as u64) << shift;
                return;
            }
            Ok(Place::Wide { word }) if width == 16 => {
                self.wc.0[word as usize] |= (mask >> 64) as u64;
                self.wc.0[word as usize + 1] |= mask as u64;
                return;
            }
            _ => {}
        }
        let Ok(full) = OfFlow::field_mask(field, &TlvMap::EMPTY) else {
            return;
        };
        let mut part = OfFlow::default();
        let mv = Value::from_u128_width(mask, width.min(16));
        if part.set_field(field, &mv).is_err() {
            part = full;
        }
        for (w, (p, f)) in self.wc.0.iter_mut().zip(part.0.iter().zip(full.0.iter())) {
            *w |= p & f;
        }
    }

    /// Reads a subfield (fields up to 128 bits).
    pub(crate) fn read_subfield(&mut self, sf: &Subfield) -> Option<u128> {
        let v = self.flow.get_field(sf.field).ok()?.to_u128();
        self.wc_field_bits(sf.field, ones(sf.n_bits as u32) << sf.ofs);
        Some((v >> sf.ofs) & ones(sf.n_bits as u32))
    }

    /// Writes `v` into a subfield (`move`, `stack_pop`, `multipath`...).
    pub(crate) fn write_subfield(&mut self, sf: &Subfield, v: u128) {
        let m = ones(sf.n_bits as u32) << sf.ofs;
        self.write_field_masked(sf.field, (v << sf.ofs) & m, m, false);
    }

    /// Writes bits `m` of `field`. `set_field` (and `load`, which is a
    /// masked `set_field`) also un-wildcard `nw_proto` when they write an
    /// IP or ARP header field, as OVS's mf_set_mask_l3_prereqs: the
    /// datapath `set` is committed only for a packet with a non-zero
    /// protocol, so the megaflow must tell such packets apart.
    fn write_field_masked(&mut self, field: Field, v: u128, m: u128, set_field: bool) -> bool {
        if !self.prereqs_ok(field) {
            return false;
        }
        if set_field {
            self.mask_l3_prereqs(field);
        }
        let Ok(old) = self.flow.get_field(field) else {
            return false;
        };
        let width = field.info().width as usize;
        if width > 16 {
            return false;
        }
        let new = (old.to_u128() & !m) | (v & m);
        self.wc_field_bits(field, m);
        self.flow
            .set_field(field, &Value::from_u128_width(new, width))
            .is_ok()
    }

    /// Field-writing actions; false if `a` is not one of them.
    pub(crate) fn set_action(&mut self, a: &Action) -> bool {
        use Action as A;
        match a {
            // Options are placed by the bridge's TLV table (and are
            // pipeline state: the datapath key has no Geneve options yet).
            A::SetField { field, value, mask } if field.tun_metadata_index().is_some() => {
                let tlv = self.br().ofproto.tlv_table();
                let _ = match mask {
                    None => self.flow.set_field_tlv(*field, value, tlv),
                    Some(m) => self.flow.set_field_masked(*field, value, m, tlv),
                };
            }
            A::SetField { field, value, mask } => {
                let f = *field;
                if matches!(f, Field::VlanVid | Field::VlanPcp | Field::DlVlanPcp)
                    && !self.has_vlan()
                {
                    return true;
                }
                let v = value.to_u128();
                let m = mask
                    .as_ref()
                    .map(|m| m.to_u128())
                    .unwrap_or(ones(f.info().width as u32 * 8));
                self.write_field_masked(f, v, m, true);
            }
            A::RegLoad { dst, value } => {
                let m = ones(dst.n_bits as u32) << dst.ofs;
                self.write_field_masked(dst.field, ((*value as u128) << dst.ofs) & m, m, true);
            }
            A::Move { src, dst } => {
                if let Some(v) = self.read_subfield(src) {
                    self.write_subfield(dst, v);
                }
            }
            A::SetDlSrc(mac) => self.set_dp(dp::DL_SRC, mac48(mac), true),
            A::SetDlDst(mac) => self.set_dp(dp::DL_DST, mac48(mac), true),
            // The OpenFlow 1.0 IP actions read nw_proto as set_field does.
            A::SetNwSrc(ip) if dl_type(&self.flow) == 0x0800 => {
                self.wc_dp(dp::NW_PROTO);
                self.set_dp(dp::NW_SRC, *ip as u64, true)
            }
            A::SetNwDst(ip) if dl_type(&self.flow) == 0x0800 => {
                self.wc_dp(dp::NW_PROTO);
                self.set_dp(dp::NW_DST, *ip as u64, true)
            }
            A::SetNwTos(tos) if self.is_ip() => {
                self.wc_dp(dp::NW_PROTO);
                let old = self.dp_get(dp::NW_TOS);
                self.wc.0[dp::W_NW_MISC] |= 0xfc << dp::NW_TOS.shift;
                self.set_dp(dp::NW_TOS, (old & 3) | (*tos as u64 & 0xfc), false)
            }
            A::SetNwEcn(ecn) if self.is_ip() => {
                self.wc_dp(dp::NW_PROTO);
                let old = self.dp_get(dp::NW_TOS);
                self.wc.0[dp::W_NW_MISC] |= 3 << dp::NW_TOS.shift;
                self.set_dp(dp::NW_TOS, (old & 0xfc) | (*ecn as u64 & 3), false)
            }
            A::SetNwTtl(ttl) if self.is_ip() => {
                self.wc_dp(dp::NW_PROTO);
                self.set_dp(dp::NW_TTL, *ttl as u64, true)
            }
            A::SetTpSrc(p) if self.is_l4() => self.set_dp(dp::TP_SRC, *p as u64, true),
            A::SetTpDst(p) if self.is_l4() => self.set_dp(dp::TP_DST, *p as u64, true),
            A::SetNwSrc(_)
            | A::SetNwDst(_)
            | A::SetNwTos(_)
            | A::SetNwEcn(_)
            | A::SetNwTtl(_)
            | A::SetTpSrc(_)
            | A::SetTpDst(_) => {}
            A::SetTunnel(id) => self.flow.0[dp::W_TUN_ID] = *id as u64,
            A::SetTunnel64(id) => self.flow.0[dp::W_TUN_ID] = *id,
            _ => return false,
        }
        true
    }

    /// OVS's mf_set_mask_l3_prereqs: writing an IP address, label, TOS,
    /// ECN or TTL field of an IP packet, or an ARP field of an ARP packet,
    /// un-wildcards `nw_proto` (ARP's opcode shares its place).
    fn mask_l3_prereqs(&mut self, field: Field) {
        use Field as F;
        let ip_field = matches!(
            field,
            F::IpSrc
                | F::IpDst
                | F::Ipv6Src
                | F::Ipv6Dst
                | F::Ipv6Label
                | F::NwTos
                | F::NwEcn
                | F::NwTtl
        );
        let arp_field = matches!(
            field,
            F::ArpOp | F::ArpSha | F::ArpTha | F::ArpSpa | F::ArpTpa
        );
        let t = dl_type(&self.flow);
        if (ip_field && super::is_ip_any(&self.flow)) || (arp_field && t == 0x0806) {
            self.wc_dp(dp::NW_PROTO);
        }
    }

    fn dp_get(&self, f: dp::Field) -> u64 {
        self.flow
            .bits(f.word as usize, f.shift as u32, f.bits as u32)
    }

    fn set_dp(&mut self, f: dp::Field, v: u64, wc: bool) {
        if wc {
            self.wc_dp(f);
        }
        self.flow
            .set_bits(f.word as usize, f.shift as u32, f.bits as u32, v);
    }

    fn is_ip(&mut self) -> bool {
        self.wc_dp(dp::DL_TYPE);
        super::is_ip_any(&self.flow)
    }

    fn is_l4(&mut self) -> bool {
        if !self.is_ip() {
            return false;
        }
        self.wc_dp(dp::NW_PROTO);
        matches!(nw_proto(&self.flow), 6 | 17 | 132)
    }

    pub(crate) fn has_vlan(&mut self) -> bool {
        self.wc.0[dp::W_VLAN] |= dp::VLAN_PRESENT as u64;
        self.flow.bits(dp::W_VLAN, 0, 16) as u16 & dp::VLAN_PRESENT != 0
    }

    /// `dec_ttl` / `dec_ttl(ids)`: false stops the action list. As OVS,
    /// the TTL and nw_proto are in the megaflow whatever the packet; a
    /// non-IP packet goes on untouched; a TTL of 0 or 1 sends one
    /// packet-in (reason invalid_ttl) per controller id (plain `dec_ttl`:
    /// id 0) and stops.
    pub(crate) fn dec_ttl(&mut self, ids: &[u16]) -> bool {
        self.wc_dp(dp::NW_TTL);
        self.wc_dp(dp::NW_PROTO);
        if !super::is_ip_any(&self.flow) {
            return true;
        }
        let ttl = self.dp_get(dp::NW_TTL);
        if ttl > 1 {
            self.set_dp(dp::NW_TTL, ttl - 1, true);
            true
        } else {
            for id in ids {
                self.packet_in(REASON_INVALID_TTL, u16::MAX, *id, Vec::new());
            }
            let v = if dl_type(&self.flow) == 0x0800 { 4 } else { 6 };
            self.note(|| format!(">> IPv{v} decrement TTL exception"));
            false
        }
    }
}

fn mac48(m: &[u8; 6]) -> u64 {
    m.iter().fold(0u64, |a, b| a << 8 | *b as u64)
}
