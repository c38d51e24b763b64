//! A flow match as the text syntax sees it, and its canonical printing.
//!
//! `FlowMatch` mirrors OVS's `struct match`: one value and one mask per
//! header slot (see [`Slot`]), all carried as `u128`. Setting a field writes
//! only that field's bits, so `dl_vlan` and `dl_vlan_pcp` combine in the TCI
//! slot exactly as in OVS. Printing walks the slots in the fixed order of
//! `match_format` and picks the names OVS picks (`tcp` for
//! `dl_type=0x0800,nw_proto=6`, `arp_spa` for `nw_src` under ARP,
//! `icmp_type` for `tp_src` under ICMP), so the output compares line by line
//! with `ovs-ofctl dump-flows`. The struct is plain data (two arrays), cheap
//! to copy and compare.

use std::fmt::Write;

use super::field::{ones, reg_index, Field, Loc, Slot, N_SLOTS};
use super::value::*;

pub const ETH_TYPE_IP: u128 = 0x0800;
pub const ETH_TYPE_IPV6: u128 = 0x86dd;
pub const ETH_TYPE_ARP: u128 = 0x0806;
pub const ETH_TYPE_NSH: u128 = 0x894f;
const NSH_SLOTS: [Slot; 10] = [
    Slot::NshFlags,
    Slot::NshTtl,
    Slot::NshMdtype,
    Slot::NshNp,
    Slot::NshSpi,
    Slot::NshSi,
    Slot::NshC1,
    Slot::NshC2,
    Slot::NshC3,
    Slot::NshC4,
];
pub const ETH_TYPE_RARP: u128 = 0x8035;
pub const ETH_TYPE_MPLS: u128 = 0x8847;
pub const ETH_TYPE_MPLS_MCAST: u128 = 0x8848;

/// Value/mask of every slot.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FlowMatch {
    pub v: [u128; N_SLOTS],
    pub m: [u128; N_SLOTS],
}

impl Default for FlowMatch {
    fn default() -> Self {
        FlowMatch {
            v: [0; N_SLOTS],
            m: [0; N_SLOTS],
        }
    }
}

impl std::fmt::Debug for FlowMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlowMatch({})", self.format(None))
    }
}

impl FlowMatch {
    /// Value and mask of a slot.
    pub fn get(&self, s: Slot) -> (u128, u128) {
        (self.v[s as usize], self.m[s as usize])
    }

    fn set_bits(&mut self, idx: usize, shift: u32, width: u32, v: u128, m: u128) {
        let field = ones(width) << shift;
        let m = (m & ones(width)) << shift;
        let v = (v << shift) & m;
        self.m[idx] = (self.m[idx] & !field) | m;
        self.v[idx] = ((self.v[idx] & !field) | v) & self.m[idx];
    }

    /// Sets field `f` to `v` under mask `m` (both in the field's own bits),
    /// replacing whatever the match had for those bits.
    pub fn set_field(&mut self, f: &Field, v: u128, m: u128) {
        let bits = f.bits as u32;
        match f.loc {
            // 8-bit ICMP type/code live in the 16-bit L4 port slots, fully masked.
            Loc::Bits(slot @ (Slot::TpSrc | Slot::TpDst), 0) if bits == 8 => {
                self.set_bits(slot as usize, 0, 16, v, if m != 0 { 0xffff } else { 0 })
            }
            // `nw_tos` is the DSCP bits of the TOS byte, written unshifted.
            Loc::Bits(Slot::NwTos, 0) if bits == 8 => {
                // Only the DSCP bits: an earlier `nw_ecn` stays.
                self.set_bits(Slot::NwTos as usize, 2, 6, v >> 2, m >> 2)
            }
            Loc::Bits(slot, shift) => self.set_bits(slot as usize, shift as u32, bits, v, m),
            Loc::Reg(i) => self.set_bits(reg_index(i as usize), 0, 32, v, m),
            Loc::Xreg(i) => {
                let i = i as usize * 2;
                self.set_bits(reg_index(i), 0, 32, v >> 32, m >> 32);
                self.set_bits(reg_index(i + 1), 0, 32, v, m);
            }
            Loc::Xxreg(i) => {
                let i = i as usize * 4;
                for k in 0..4 {
                    let sh = 96 - 32 * k as u32;
                    self.set_bits(reg_index(i + k), 0, 32, v >> sh, m >> sh);
                }
            }
            Loc::DlVlan => {
                let t = Slot::VlanTci as usize;
                if v == 0xffff {
                    self.v[t] = 0;
                    self.m[t] = 0xffff;
                } else {
                    self.set_bits(t, 0, 13, (v & 0xfff) | 0x1000, 0x1fff);
                }
            }
            Loc::VlanVid => self.set_bits(Slot::VlanTci as usize, 0, 13, v, m),
            Loc::VlanPcp => {
                let t = Slot::VlanTci as usize;
                self.set_bits(t, 13, 3, v, 0x7);
                self.set_bits(t, 12, 1, 1, 1);
            }
        }
    }

    /// Reads field `f` back (value, mask) in the field's own bits.
    pub fn field(&self, f: &Field) -> (u128, u128) {
        let bits = f.bits as u32;
        let read = |idx: usize, shift: u32, width: u32| {
            (
                (self.v[idx] >> shift) & ones(width),
                (self.m[idx] >> shift) & ones(width),
            )
        };
        match f.loc {
            Loc::Bits(slot, shift) => read(slot as usize, shift as u32, bits),
            Loc::Reg(i) => read(reg_index(i as usize), 0, 32),
            Loc::Xreg(i) => {
                let (a, am) = read(reg_index(i as usize * 2), 0, 32);
                let (b, bm) = read(reg_index(i as usize * 2 + 1), 0, 32);
                ((a << 32) | b, (am << 32) | bm)
            }
            Loc::Xxreg(i) => {
                let (mut v, mut m) = (0, 0);
                for k in 0..4 {
                    let (a, am) = read(reg_index(i as usize * 4 + k), 0, 32);
                    v = (v << 32) | a;
                    m = (m << 32) | am;
                }
                (v, m)
            }
            Loc::DlVlan => read(Slot::VlanTci as usize, 0, 12),
            Loc::VlanVid => read(Slot::VlanTci as usize, 0, 13),
            Loc::VlanPcp => read(Slot::VlanTci as usize, 13, 3),
        }
    }

    pub fn dl_type(&self) -> Option<u128> {
        let (v, m) = self.get(Slot::DlType);
        (m != 0).then_some(v)
    }

    pub fn nw_proto(&self) -> Option<u128> {
        let (v, m) = self.get(Slot::NwProto);
        (m != 0).then_some(v)
    }

    pub fn is_ip_any(&self) -> bool {
        matches!(self.dl_type(), Some(ETH_TYPE_IP) | Some(ETH_TYPE_IPV6))
    }

    pub fn is_arp(&self) -> bool {
        matches!(self.dl_type(), Some(ETH_TYPE_ARP) | Some(ETH_TYPE_RARP))
    }

    /// Drops every slot whose prerequisites are not met, as OVS does when it
    /// encodes a match (`nw_src` without `ip` never reaches the switch).
    pub fn drop_unmet_prereqs(&mut self) {
        let dl = self.dl_type();
        let ip4 = dl == Some(ETH_TYPE_IP);
        let ip6 = dl == Some(ETH_TYPE_IPV6);
        let arp = self.is_arp();
        let ip = ip4 || ip6;
        let proto = self.nw_proto();
        let tp_src = self.get(Slot::TpSrc);
        let mut drop: Vec<Slot> = Vec::new();
        let mut clear = |s: Slot| drop.push(s);
        if !ip4 && !arp {
            clear(Slot::NwSrc);
            clear(Slot::NwDst);
        }
        if !ip && !arp {
            clear(Slot::NwProto);
        }
        if !ip {
            clear(Slot::NwTos);
            clear(Slot::NwTtl);
            clear(Slot::NwFrag);
        }
        if !ip6 {
            clear(Slot::Ipv6Src);
            clear(Slot::Ipv6Dst);
            clear(Slot::Ipv6Label);
        }
        let l4 =
            ip && matches!(
                (ip4, proto),
                (_, Some(6)) | (_, Some(17)) | (_, Some(132)) | (true, Some(1))
            ) || (ip6 && proto == Some(58));
        if !l4 {
            clear(Slot::TpSrc);
            clear(Slot::TpDst);
        }
        let icmp6 = ip6 && proto == Some(58);
        let nd = icmp6 && tp_src.1 == 0xffff && (tp_src.0 == 135 || tp_src.0 == 136);
        if !(nd || (ip && proto == Some(6))) {
            clear(Slot::TcpFlags);
        }
        if !nd {
            clear(Slot::NdTarget);
            clear(Slot::IgmpGroup);
        }
        if !arp && !nd {
            clear(Slot::ArpSha);
            clear(Slot::ArpTha);
        }
        if nd && tp_src.0 == 135 {
            clear(Slot::ArpTha);
        }
        if nd && tp_src.0 == 136 {
            clear(Slot::ArpSha);
        }
        if !matches!(dl, Some(ETH_TYPE_MPLS) | Some(ETH_TYPE_MPLS_MCAST)) {
            clear(Slot::MplsLse);
        }
        if dl != Some(ETH_TYPE_NSH) {
            for sl in NSH_SLOTS {
                clear(sl);
            }
        }
        for s in drop {
            self.v[s as usize] = 0;
            self.m[s as usize] = 0;
        }
    }

    /// Reduces the VLAN TCI to what OXM (OpenFlow 1.2+) can carry: VID with
    /// its "present" bit, plus the PCP only when a VID is present.
    pub fn oxm_vlan(&mut self) {
        let t = Slot::VlanTci as usize;
        let (tci, tm) = (self.v[t], self.m[t]);
        let mut nm = tm & 0x1fff;
        if tci & nm != 0 && tm & 0xe000 != 0 {
            nm |= 0xe000;
        }
        self.m[t] = nm;
        self.v[t] = tci & nm;
    }

    /// Whether the match says a VLAN header is present (CFI bit matched 1).
    pub fn has_vlan(&self) -> bool {
        let t = Slot::VlanTci as usize;
        self.m[t] & self.v[t] & 0x1000 != 0
    }

    /// OVS's `format_nsh_masked`: flags, TTL, MD type, next protocol, SPI,
    /// SI, and the MD type 1 context words only when the match says MD
    /// type 1 exactly.
    fn format_nsh(&self, s: &mut String) {
        let g = |sl: Slot| self.get(sl);
        let u8m = |s: &mut String, name: &str, (v, m): (u128, u128)| {
            if m == 0xff {
                let _ = write!(s, "{name}={v},");
            } else if m != 0 {
                let _ = write!(s, "{name}=0x{v:02x}/0x{m:02x},");
            }
        };
        let hex = |x: u128| format!("0x{x:x}");
        let be32m = |s: &mut String, name: &str, (v, m): (u128, u128), full: u128| {
            if m == full {
                let _ = write!(s, "{name}={},", hex(v));
            } else if m != 0 {
                let _ = write!(s, "{name}={}/{},", hex(v), hex(m));
            }
        };
        u8m(s, "nsh_flags", g(Slot::NshFlags));
        u8m(s, "nsh_ttl", g(Slot::NshTtl));
        u8m(s, "nsh_mdtype", g(Slot::NshMdtype));
        u8m(s, "nsh_np", g(Slot::NshNp));
        be32m(s, "nsh_spi", g(Slot::NshSpi), 0xff_ffff);
        u8m(s, "nsh_si", g(Slot::NshSi));
        if g(Slot::NshMdtype) == (1, 0xff) {
            be32m(s, "nsh_c1", g(Slot::NshC1), 0xffff_ffff);
            be32m(s, "nsh_c2", g(Slot::NshC2), 0xffff_ffff);
            be32m(s, "nsh_c3", g(Slot::NshC3), 0xffff_ffff);
            be32m(s, "nsh_c4", g(Slot::NshC4), 0xffff_ffff);
        }
    }

    /// Formats the match as OVS's `match_format`, with `priority=N,` first
    /// when `priority` is given (OVS omits the default 32768).
    pub fn format(&self, priority: Option<u16>) -> String {
        let mut s = String::new();
        let put = |s: &mut String, txt: String| {
            s.push_str(&txt);
            s.push(',');
        };
        if let Some(p) = priority {
            if p != 32768 {
                put(&mut s, format!("priority={p}"));
            }
        }
        let g = |sl: Slot| self.get(sl);
        let u32_hex = |s: &mut String, name: &str, (v, m): (u128, u128)| {
            if m != 0 {
                if m == 0xffff_ffff {
                    let _ = write!(s, "{name}={v:#x},");
                } else {
                    let _ = write!(s, "{name}={v:#x}/{m:#x},");
                }
            }
        };
        // format_uint32_masked prints %#x, which prints plain "0" for zero.
        let u32_hex = |s: &mut String, name: &str, vm: (u128, u128)| {
            let mut t = String::new();
            u32_hex(&mut t, name, vm);
            s.push_str(&t.replace("=0x0,", "=0,").replace("=0x0/", "=0/"));
        };
        u32_hex(&mut s, "pkt_mark", g(Slot::PktMark));
        u32_hex(&mut s, "recirc_id", g(Slot::RecircId));
        u32_hex(&mut s, "dp_hash", g(Slot::DpHash));
        let (v, m) = g(Slot::ConjId);
        if m != 0 {
            put(&mut s, format!("conj_id={v}"));
        }
        let (v, m) = g(Slot::SkbPriority);
        if m != 0 {
            put(&mut s, format!("skb_priority={}", hex0(v)));
        }
        let (v, m) = g(Slot::ActsetOutput);
        if m != 0 {
            put(&mut s, format!("actset_output={}", format_port(v as u32)));
        }
        let (v, m) = g(Slot::CtState);
        if m != 0 {
            put(
                &mut s,
                format!(
                    "ct_state={}",
                    format_flags(v as u32, m as u32 & 0xff, CT_STATE_FLAGS, 0xff)
                ),
            );
        }
        let (v, m) = g(Slot::CtZone);
        if m != 0 {
            put(&mut s, u16_masked("ct_zone", v, m));
        }
        u32_hex(&mut s, "ct_mark", g(Slot::CtMark));
        let (v, m) = g(Slot::CtLabel);
        if m != 0 {
            if m == u128::MAX {
                put(&mut s, format!("ct_label={}", hex0(v)));
            } else {
                put(&mut s, format!("ct_label={}/{}", hex0(v), hex0(m)));
            }
        }
        ip4_masked(&mut s, "ct_nw_src", g(Slot::CtNwSrc));
        ip6_masked(&mut s, "ct_ipv6_src", g(Slot::CtIpv6Src));
        ip4_masked(&mut s, "ct_nw_dst", g(Slot::CtNwDst));
        ip6_masked(&mut s, "ct_ipv6_dst", g(Slot::CtIpv6Dst));
        let (v, m) = g(Slot::CtNwProto);
        if m != 0 {
            put(&mut s, format!("ct_nw_proto={v}"));
            let (v, m) = g(Slot::CtTpSrc);
            if m != 0 {
                put(&mut s, u16_masked("ct_tp_src", v, m));
            }
            let (v, m) = g(Slot::CtTpDst);
            if m != 0 {
                put(&mut s, u16_masked("ct_tp_dst", v, m));
            }
        }
        let (ptv, ptm) = g(Slot::PacketType);
        if ptm != 0 && ptv != 0 {
            put(
                &mut s,
                format!("packet_type=({},{:#x})", ptv >> 16, ptv & 0xffff),
            );
        }
        let dl = self.dl_type();
        let proto = self.nw_proto();
        let mut skip_type = false;
        let mut skip_proto = false;
        if let Some(t) = dl {
            skip_type = true;
            let name = match t {
                ETH_TYPE_IP => match proto {
                    Some(1) => Some("icmp"),
                    Some(6) => Some("tcp"),
                    Some(17) => Some("udp"),
                    Some(132) => Some("sctp"),
                    _ => None,
                }
                .inspect(|_| skip_proto = true)
                .or(Some("ip")),
                ETH_TYPE_IPV6 => match proto {
                    Some(58) => Some("icmp6"),
                    Some(6) => Some("tcp6"),
                    Some(17) => Some("udp6"),
                    Some(132) => Some("sctp6"),
                    _ => None,
                }
                .inspect(|_| skip_proto = true)
                .or(Some("ipv6")),
                ETH_TYPE_ARP => Some("arp"),
                ETH_TYPE_RARP => Some("rarp"),
                ETH_TYPE_MPLS => Some("mpls"),
                ETH_TYPE_MPLS_MCAST => Some("mplsm"),
                _ => {
                    skip_type = false;
                    None
                }
            };
            if let Some(n) = name {
                put(&mut s, n.to_string());
            }
        }
        for i in 0..16 {
            let vm = (self.v[reg_index(i)], self.m[reg_index(i)]);
            u32_hex(&mut s, &format!("reg{i}"), vm);
        }
        // Tunnel.
        let (v, m) = g(Slot::TunId);
        if m != 0 {
            if m == ones(64) {
                put(&mut s, format!("tun_id={}", hex0(v)));
            } else {
                put(&mut s, format!("tun_id={}/{}", hex0(v), hex0(m)));
            }
        }
        ip4_masked(&mut s, "tun_src", g(Slot::TunSrc));
        ip4_masked(&mut s, "tun_dst", g(Slot::TunDst));
        ip6_masked(&mut s, "tun_ipv6_src", g(Slot::TunIpv6Src));
        ip6_masked(&mut s, "tun_ipv6_dst", g(Slot::TunIpv6Dst));
        let (v, m) = g(Slot::TunGbpId);
        if m != 0 {
            put(&mut s, u16_masked("tun_gbp_id", v, m));
        }
        let (v, m) = g(Slot::TunGbpFlags);
        if m != 0 {
            put(&mut s, format!("tun_gbp_flags={}", hex0(v)));
        }
        let (v, m) = g(Slot::TunTos);
        if m != 0 {
            put(&mut s, format!("tun_tos={v:x}"));
        }
        let (v, m) = g(Slot::TunTtl);
        if m != 0 {
            put(&mut s, format!("tun_ttl={v}"));
        }
        let (v, m) = g(Slot::TunFlags);
        if m & 1 != 0 {
            put(
                &mut s,
                format!(
                    "tun_flags={}",
                    format_flags(v as u32, m as u32 & 1, TUN_FLAGS, 0xf)
                ),
            );
        }
        let (v, m) = g(Slot::Metadata);
        if m != 0 {
            if m == ones(64) {
                put(&mut s, format!("metadata={}", hex0(v)));
            } else {
                put(&mut s, format!("metadata={}/{}", hex0(v), hex0(m)));
            }
        }
        let (v, m) = g(Slot::InPort);
        if m != 0 {
            put(&mut s, format!("in_port={}", format_port(v as u32)));
        }
        let (tci, tm) = g(Slot::VlanTci);
        if tm != 0 {
            let vid_m = tm & 0x0fff;
            let pcp_m = tm & 0xe000;
            let cfi = tm & 0x1000;
            if cfi != 0
                && tci & 0x1000 != 0
                && (vid_m == 0 || vid_m == 0x0fff)
                && (pcp_m == 0 || pcp_m == 0xe000)
                && (vid_m != 0 || pcp_m != 0)
            {
                if vid_m != 0 {
                    put(&mut s, format!("dl_vlan={}", tci & 0xfff));
                }
                if pcp_m != 0 {
                    put(&mut s, format!("dl_vlan_pcp={}", tci >> 13));
                }
            } else if tm == 0xffff {
                put(&mut s, format!("vlan_tci=0x{tci:04x}"));
            } else {
                put(&mut s, format!("vlan_tci=0x{tci:04x}/0x{tm:04x}"));
            }
        }
        eth_masked(&mut s, "dl_src", g(Slot::DlSrc));
        eth_masked(&mut s, "dl_dst", g(Slot::DlDst));
        if !skip_type {
            if let Some(t) = dl {
                put(&mut s, format!("dl_type=0x{t:04x}"));
            }
        }
        let dlv = dl.unwrap_or(0);
        let arp = dlv == ETH_TYPE_ARP || dlv == ETH_TYPE_RARP;
        if dlv == ETH_TYPE_IPV6 {
            ip6_masked(&mut s, "ipv6_src", g(Slot::Ipv6Src));
            ip6_masked(&mut s, "ipv6_dst", g(Slot::Ipv6Dst));
            let (v, m) = g(Slot::Ipv6Label);
            if m != 0 {
                if m == ones(20) || m == ones(32) {
                    put(&mut s, format!("ipv6_label=0x{v:05x}"));
                } else {
                    put(&mut s, format!("ipv6_label=0x{v:05x}/0x{m:05x}"));
                }
            }
        } else if arp {
            ip4_masked(&mut s, "arp_spa", g(Slot::NwSrc));
            ip4_masked(&mut s, "arp_tpa", g(Slot::NwDst));
        } else if dlv == ETH_TYPE_NSH {
            self.format_nsh(&mut s);
        } else {
            ip4_masked(&mut s, "nw_src", g(Slot::NwSrc));
            ip4_masked(&mut s, "nw_dst", g(Slot::NwDst));
        }
        if !skip_proto {
            if let Some(p) = proto {
                if arp {
                    put(&mut s, format!("arp_op={p}"));
                } else {
                    put(&mut s, format!("nw_proto={p}"));
                }
            }
        }
        if arp {
            eth_masked(&mut s, "arp_sha", g(Slot::ArpSha));
            eth_masked(&mut s, "arp_tha", g(Slot::ArpTha));
        }
        let (tos, tosm) = g(Slot::NwTos);
        if tosm & 0xfc != 0 {
            put(&mut s, format!("nw_tos={}", tos & 0xfc));
        }
        if tosm & 0x03 != 0 {
            put(&mut s, format!("nw_ecn={}", tos & 0x03));
        }
        let (v, m) = g(Slot::NwTtl);
        if m != 0 {
            put(&mut s, format!("nw_ttl={v}"));
        }
        let (lse, lm) = g(Slot::MplsLse);
        if lm & 0xffff_f000 != 0 {
            put(&mut s, format!("mpls_label={}", lse >> 12));
        }
        if lm & 0xe00 != 0 {
            put(&mut s, format!("mpls_tc={}", (lse >> 9) & 7));
        }
        if lm & 0xff != 0 {
            put(&mut s, format!("mpls_ttl={}", lse & 0xff));
        }
        if lm & 0x100 != 0 {
            put(&mut s, format!("mpls_bos={}", (lse >> 8) & 1));
        }
        let (fv, fm) = g(Slot::NwFrag);
        match fm & 3 {
            3 => put(
                &mut s,
                format!(
                    "nw_frag={}",
                    match fv & 3 {
                        0 => "no",
                        1 => "first",
                        3 => "later",
                        _ => "<error>",
                    }
                ),
            ),
            1 => put(
                &mut s,
                format!("nw_frag={}", if fv & 1 != 0 { "yes" } else { "no" }),
            ),
            2 => put(
                &mut s,
                format!(
                    "nw_frag={}",
                    if fv & 2 != 0 { "later" } else { "not_later" }
                ),
            ),
            _ => {}
        }
        let (tsv, tsm) = g(Slot::TpSrc);
        let (tdv, tdm) = g(Slot::TpDst);
        let pv = self.v[Slot::NwProto as usize];
        if dlv == ETH_TYPE_IP && pv == 1 {
            if tsm != 0 {
                put(&mut s, u16_masked("icmp_type", tsv, tsm));
            }
            if tdm != 0 {
                put(&mut s, u16_masked("icmp_code", tdv, tdm));
            }
        } else if dlv == ETH_TYPE_IPV6 && pv == 58 {
            if tsm != 0 {
                put(&mut s, u16_masked("icmp_type", tsv, tsm));
            }
            if tdm != 0 {
                put(&mut s, u16_masked("icmp_code", tdv, tdm));
            }
            ip6_masked(&mut s, "nd_target", g(Slot::NdTarget));
            eth_masked(&mut s, "nd_sll", g(Slot::ArpSha));
            eth_masked(&mut s, "nd_tll", g(Slot::ArpTha));
            let (v, m) = g(Slot::IgmpGroup);
            if m != 0 {
                put(&mut s, u32_dec("nd_reserved", v, m));
            }
            let (v, m) = g(Slot::TcpFlags);
            if m != 0 {
                put(&mut s, u16_masked("nd_options_type", v, m));
            }
        } else {
            if tsm != 0 {
                put(&mut s, u16_masked("tp_src", tsv, tsm));
            }
            if tdm != 0 {
                put(&mut s, u16_masked("tp_dst", tdv, tdm));
            }
        }
        let (v, m) = g(Slot::TcpFlags);
        if self.is_ip_any() && pv == 6 && m != 0 {
            put(
                &mut s,
                format!(
                    "tcp_flags={}",
                    format_flags(v as u32, m as u32 & 0xfff, TCP_FLAGS, 0xfff)
                ),
            );
        }
        if s.ends_with(',') {
            s.pop();
        }
        s
    }
}

/// `%#x` of C: `0` for zero, `0x..` otherwise.
pub fn hex0(v: u128) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn u16_masked(name: &str, v: u128, m: u128) -> String {
    if m == 0xffff {
        format!("{name}={v}")
    } else {
        format!("{name}={v:#x}/{m:#x}")
    }
}

fn u32_dec(name: &str, v: u128, m: u128) -> String {
    if m == 0xffff_ffff {
        format!("{name}={v}")
    } else {
        format!("{name}=0x{v:08x}/0x{m:08x}")
    }
}

fn ip4_masked(s: &mut String, name: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{name}={},", format_ipv4_masked(v, m));
    }
}

fn ip6_masked(s: &mut String, name: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{name}={},", format_ipv6_masked(v, m));
    }
}

fn eth_masked(s: &mut String, name: &str, (v, m): (u128, u128)) {
    if m != 0 {
        let _ = write!(s, "{name}={},", format_eth_masked(v, m));
    }
}
