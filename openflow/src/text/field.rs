//! The text-side field table: every field name `ovs-ofctl` accepts, with its
//! NXM/OXM spelling, width, value format and where it lives in a
//! [`FlowMatch`](super::flow_match::FlowMatch).
//!
//! A match is stored like OVS's `struct flow` + wildcards: a fixed array of
//! value/mask slots, one per packet header field (`Slot`). Several names can
//! view the same slot differently (`dl_vlan`, `vlan_vid`, `vlan_pcp` and
//! `vlan_tci` all live in the TCI slot; `nw_src` and `arp_spa` share one;
//! `xreg0` spans `reg0` and `reg1`). Looking a name up is a linear scan of a
//! static table of ~150 entries, which is cheap next to the parsing itself
//! and keeps the table in one readable place.

/// One value/mask slot of a match, in the order of OVS's `struct flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Slot {
    PktMark,
    RecircId,
    DpHash,
    ConjId,
    SkbPriority,
    ActsetOutput,
    CtState,
    CtZone,
    CtMark,
    CtLabel,
    CtNwSrc,
    CtNwDst,
    CtIpv6Src,
    CtIpv6Dst,
    CtNwProto,
    CtTpSrc,
    CtTpDst,
    PacketType,
    DlType,
    NwProto,
    Reg0,
    TunId = Slot::Reg0 as u8 + 16,
    TunSrc,
    TunDst,
    TunIpv6Src,
    TunIpv6Dst,
    TunGbpId,
    TunGbpFlags,
    TunTos,
    TunTtl,
    TunFlags,
    Metadata,
    InPort,
    VlanTci,
    DlSrc,
    DlDst,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    NwSrc,
    NwDst,
    ArpSha,
    ArpTha,
    NwTos,
    NwTtl,
    MplsLse,
    NwFrag,
    TpSrc,
    TpDst,
    NdTarget,
    TcpFlags,
    IgmpGroup,
    NshFlags,
    NshTtl,
    NshMdtype,
    NshNp,
    NshSpi,
    NshSi,
    NshC1,
    NshC2,
    NshC3,
    NshC4,
}

/// Number of slots.
pub const N_SLOTS: usize = Slot::NshC4 as usize + 1;

/// Index of register `reg<i>`'s slot in a match's arrays.
pub const fn reg_index(i: usize) -> usize {
    Slot::Reg0 as usize + i
}

/// How a field's value is written and read in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    Dec,
    Hex,
    Eth,
    Ipv4,
    Ipv6,
    /// An OpenFlow port number or name (`LOCAL`, `CONTROLLER`...).
    Port,
    /// `no`, `yes`, `first`, `later`, `not_later`.
    Frag,
    TunFlags,
    TcpFlags,
    CtState,
    PacketType,
}

/// What a field requires of the rest of the match to be meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prereq {
    None,
    Eth,
    Vid,
    Mpls,
    Ip,
    Ipv6,
    IpAny,
    Arp,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
    Nd,
    NdSll,
    NdTll,
    Ct,
    /// `dl_type=0x894f`.
    Nsh,
}

/// Where the field's bits are in the match. `Bits` covers plain fields
/// (value shifted into one slot); the others need their own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Bits(Slot, u8),
    /// `reg<N>`.
    Reg(u8),
    /// `dl_vlan`/`vlan_vid`: VID bits of the TCI (with the CFI/"present" bit
    /// for `vlan_vid`, whose 13-bit value includes it).
    DlVlan,
    VlanVid,
    /// `dl_vlan_pcp`/`vlan_pcp`: PCP bits of the TCI, setting the CFI bit.
    VlanPcp,
    /// `xreg<N>`: `reg<2N>` (high) and `reg<2N+1>` (low).
    Xreg(u8),
    /// `xxreg<N>`: `reg<4N>`..`reg<4N+3>`, most significant first.
    Xxreg(u8),
}

/// One entry of the field table.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    /// Preferred wire name for subfield syntax (`NXM_NX_REG0`, else the OXM
    /// name, e.g. `OXM_OF_METADATA`).
    pub nxm: Option<&'static str>,
    pub oxm: Option<&'static str>,
    pub bits: u16,
    pub fmt: Fmt,
    pub maskable: bool,
    pub prereq: Prereq,
    pub loc: Loc,
    pub writable: bool,
}

impl Field {
    /// The name used by `mf_format_subfield`: NXM name, else OXM name,
    /// else the field name.
    pub fn subfield_name(&self) -> &'static str {
        self.nxm.or(self.oxm).unwrap_or(self.name)
    }

    /// A mask with the field's low `bits` bits set.
    pub fn all_ones(&self) -> u128 {
        ones(self.bits as u32)
    }
}

/// A mask of `n` low bits (n <= 128).
pub fn ones(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

macro_rules! f {
    ($name:expr, $alias:expr, $nxm:expr, $oxm:expr, $bits:expr, $fmt:ident, $mask:expr, $pre:ident, $loc:expr, $w:expr) => {
        Field {
            name: $name,
            alias: $alias,
            nxm: $nxm,
            oxm: $oxm,
            bits: $bits,
            fmt: Fmt::$fmt,
            maskable: $mask,
            prereq: Prereq::$pre,
            loc: $loc,
            writable: $w,
        }
    };
}

use Loc::Bits;
use Slot as S;

/// The field table, in meta-flow order (one row per field).
#[rustfmt::skip]
pub static FIELDS: &[Field] = &[
    f!("dp_hash", None, Some("NXM_NX_DP_HASH"), None, 32, Hex, true, None, Bits(S::DpHash, 0), false),
    f!("recirc_id", None, Some("NXM_NX_RECIRC_ID"), None, 32, Dec, false, None, Bits(S::RecircId, 0), false),
    f!("packet_type", None, None, Some("OXM_OF_PACKET_TYPE"), 32, PacketType, false, None, Bits(S::PacketType, 0), false),
    f!("conj_id", None, Some("NXM_NX_CONJ_ID"), None, 32, Dec, false, None, Bits(S::ConjId, 0), false),
    f!("tun_id", Some("tunnel_id"), Some("NXM_NX_TUN_ID"), Some("OXM_OF_TUNNEL_ID"), 64, Hex, true, None, Bits(S::TunId, 0), true),
    f!("tun_src", None, Some("NXM_NX_TUN_IPV4_SRC"), None, 32, Ipv4, true, None, Bits(S::TunSrc, 0), true),
    f!("tun_dst", None, Some("NXM_NX_TUN_IPV4_DST"), None, 32, Ipv4, true, None, Bits(S::TunDst, 0), true),
    f!("tun_ipv6_src", None, Some("NXM_NX_TUN_IPV6_SRC"), None, 128, Ipv6, true, None, Bits(S::TunIpv6Src, 0), true),
    f!("tun_ipv6_dst", None, Some("NXM_NX_TUN_IPV6_DST"), None, 128, Ipv6, true, None, Bits(S::TunIpv6Dst, 0), true),
    f!("tun_flags", None, Some("NXM_NX_TUN_FLAGS"), None, 16, TunFlags, true, None, Bits(S::TunFlags, 0), true),
    f!("tun_ttl", None, None, None, 8, Dec, false, None, Bits(S::TunTtl, 0), false),
    f!("tun_tos", None, None, None, 8, Dec, false, None, Bits(S::TunTos, 0), false),
    f!("tun_gbp_id", None, Some("NXM_NX_TUN_GBP_ID"), None, 16, Dec, true, None, Bits(S::TunGbpId, 0), true),
    f!("tun_gbp_flags", None, Some("NXM_NX_TUN_GBP_FLAGS"), None, 8, Hex, true, None, Bits(S::TunGbpFlags, 0), true),
    f!("metadata", None, None, Some("OXM_OF_METADATA"), 64, Hex, true, None, Bits(S::Metadata, 0), true),
    f!("in_port", None, Some("NXM_OF_IN_PORT"), None, 16, Port, false, None, Bits(S::InPort, 0), true),
    f!("in_port_oxm", None, None, Some("OXM_OF_IN_PORT"), 32, Port, false, None, Bits(S::InPort, 0), true),
    f!("actset_output", None, None, Some("ONFOXM_ET_ACTSET_OUTPUT"), 32, Port, false, None, Bits(S::ActsetOutput, 0), false),
    f!("skb_priority", None, None, None, 32, Hex, false, None, Bits(S::SkbPriority, 0), false),
    f!("pkt_mark", None, Some("NXM_NX_PKT_MARK"), None, 32, Hex, true, None, Bits(S::PktMark, 0), true),
    f!("ct_state", None, Some("NXM_NX_CT_STATE"), None, 32, CtState, true, None, Bits(S::CtState, 0), false),
    f!("ct_zone", None, Some("NXM_NX_CT_ZONE"), None, 16, Hex, false, None, Bits(S::CtZone, 0), false),
    f!("ct_mark", None, Some("NXM_NX_CT_MARK"), None, 32, Hex, true, None, Bits(S::CtMark, 0), true),
    f!("ct_label", None, Some("NXM_NX_CT_LABEL"), None, 128, Hex, true, None, Bits(S::CtLabel, 0), true),
    f!("ct_nw_proto", None, Some("NXM_NX_CT_NW_PROTO"), None, 8, Dec, false, Ct, Bits(S::CtNwProto, 0), false),
    f!("ct_nw_src", None, Some("NXM_NX_CT_NW_SRC"), None, 32, Ipv4, true, Ct, Bits(S::CtNwSrc, 0), false),
    f!("ct_nw_dst", None, Some("NXM_NX_CT_NW_DST"), None, 32, Ipv4, true, Ct, Bits(S::CtNwDst, 0), false),
    f!("ct_ipv6_src", None, Some("NXM_NX_CT_IPV6_SRC"), None, 128, Ipv6, true, Ct, Bits(S::CtIpv6Src, 0), false),
    f!("ct_ipv6_dst", None, Some("NXM_NX_CT_IPV6_DST"), None, 128, Ipv6, true, Ct, Bits(S::CtIpv6Dst, 0), false),
    f!("ct_tp_src", None, Some("NXM_NX_CT_TP_SRC"), None, 16, Dec, true, Ct, Bits(S::CtTpSrc, 0), false),
    f!("ct_tp_dst", None, Some("NXM_NX_CT_TP_DST"), None, 16, Dec, true, Ct, Bits(S::CtTpDst, 0), false),
    f!("reg0", None, Some("NXM_NX_REG0"), None, 32, Hex, true, None, Loc::Reg(0), true),
    f!("reg1", None, Some("NXM_NX_REG1"), None, 32, Hex, true, None, Loc::Reg(1), true),
    f!("reg2", None, Some("NXM_NX_REG2"), None, 32, Hex, true, None, Loc::Reg(2), true),
    f!("reg3", None, Some("NXM_NX_REG3"), None, 32, Hex, true, None, Loc::Reg(3), true),
    f!("reg4", None, Some("NXM_NX_REG4"), None, 32, Hex, true, None, Loc::Reg(4), true),
    f!("reg5", None, Some("NXM_NX_REG5"), None, 32, Hex, true, None, Loc::Reg(5), true),
    f!("reg6", None, Some("NXM_NX_REG6"), None, 32, Hex, true, None, Loc::Reg(6), true),
    f!("reg7", None, Some("NXM_NX_REG7"), None, 32, Hex, true, None, Loc::Reg(7), true),
    f!("reg8", None, Some("NXM_NX_REG8"), None, 32, Hex, true, None, Loc::Reg(8), true),
    f!("reg9", None, Some("NXM_NX_REG9"), None, 32, Hex, true, None, Loc::Reg(9), true),
    f!("reg10", None, Some("NXM_NX_REG10"), None, 32, Hex, true, None, Loc::Reg(10), true),
    f!("reg11", None, Some("NXM_NX_REG11"), None, 32, Hex, true, None, Loc::Reg(11), true),
    f!("reg12", None, Some("NXM_NX_REG12"), None, 32, Hex, true, None, Loc::Reg(12), true),
    f!("reg13", None, Some("NXM_NX_REG13"), None, 32, Hex, true, None, Loc::Reg(13), true),
    f!("reg14", None, Some("NXM_NX_REG14"), None, 32, Hex, true, None, Loc::Reg(14), true),
    f!("reg15", None, Some("NXM_NX_REG15"), None, 32, Hex, true, None, Loc::Reg(15), true),
    f!("xreg0", None, None, Some("OXM_OF_PKT_REG0"), 64, Hex, true, None, Loc::Xreg(0), true),
    f!("xreg1", None, None, Some("OXM_OF_PKT_REG1"), 64, Hex, true, None, Loc::Xreg(1), true),
    f!("xreg2", None, None, Some("OXM_OF_PKT_REG2"), 64, Hex, true, None, Loc::Xreg(2), true),
    f!("xreg3", None, None, Some("OXM_OF_PKT_REG3"), 64, Hex, true, None, Loc::Xreg(3), true),
    f!("xreg4", None, None, Some("OXM_OF_PKT_REG4"), 64, Hex, true, None, Loc::Xreg(4), true),
    f!("xreg5", None, None, Some("OXM_OF_PKT_REG5"), 64, Hex, true, None, Loc::Xreg(5), true),
    f!("xreg6", None, None, Some("OXM_OF_PKT_REG6"), 64, Hex, true, None, Loc::Xreg(6), true),
    f!("xreg7", None, None, Some("OXM_OF_PKT_REG7"), 64, Hex, true, None, Loc::Xreg(7), true),
    f!("xxreg0", None, Some("NXM_NX_XXREG0"), None, 128, Hex, true, None, Loc::Xxreg(0), true),
    f!("xxreg1", None, Some("NXM_NX_XXREG1"), None, 128, Hex, true, None, Loc::Xxreg(1), true),
    f!("xxreg2", None, Some("NXM_NX_XXREG2"), None, 128, Hex, true, None, Loc::Xxreg(2), true),
    f!("xxreg3", None, Some("NXM_NX_XXREG3"), None, 128, Hex, true, None, Loc::Xxreg(3), true),
    f!("eth_src", Some("dl_src"), Some("NXM_OF_ETH_SRC"), Some("OXM_OF_ETH_SRC"), 48, Eth, true, Eth, Bits(S::DlSrc, 0), true),
    f!("eth_dst", Some("dl_dst"), Some("NXM_OF_ETH_DST"), Some("OXM_OF_ETH_DST"), 48, Eth, true, Eth, Bits(S::DlDst, 0), true),
    f!("eth_type", Some("dl_type"), Some("NXM_OF_ETH_TYPE"), Some("OXM_OF_ETH_TYPE"), 16, Hex, false, Eth, Bits(S::DlType, 0), false),
    f!("vlan_tci", None, Some("NXM_OF_VLAN_TCI"), None, 16, Hex, true, Eth, Bits(S::VlanTci, 0), true),
    f!("dl_vlan", None, None, None, 12, Dec, false, Eth, Loc::DlVlan, true),
    f!("vlan_vid", None, None, Some("OXM_OF_VLAN_VID"), 13, Dec, true, Eth, Loc::VlanVid, true),
    f!("dl_vlan_pcp", None, None, None, 3, Dec, false, Eth, Loc::VlanPcp, true),
    f!("vlan_pcp", None, None, Some("OXM_OF_VLAN_PCP"), 3, Dec, false, Vid, Loc::VlanPcp, true),
    f!("mpls_label", None, None, Some("OXM_OF_MPLS_LABEL"), 20, Dec, false, Mpls, Bits(S::MplsLse, 12), true),
    f!("mpls_tc", None, None, Some("OXM_OF_MPLS_TC"), 3, Dec, false, Mpls, Bits(S::MplsLse, 9), true),
    f!("mpls_bos", None, None, Some("OXM_OF_MPLS_BOS"), 1, Dec, false, Mpls, Bits(S::MplsLse, 8), false),
    f!("mpls_ttl", None, Some("NXM_NX_MPLS_TTL"), None, 8, Dec, false, Mpls, Bits(S::MplsLse, 0), true),
    f!("ip_src", Some("nw_src"), Some("NXM_OF_IP_SRC"), Some("OXM_OF_IPV4_SRC"), 32, Ipv4, true, Ip, Bits(S::NwSrc, 0), true),
    f!("ip_dst", Some("nw_dst"), Some("NXM_OF_IP_DST"), Some("OXM_OF_IPV4_DST"), 32, Ipv4, true, Ip, Bits(S::NwDst, 0), true),
    f!("ipv6_src", None, Some("NXM_NX_IPV6_SRC"), Some("OXM_OF_IPV6_SRC"), 128, Ipv6, true, Ipv6, Bits(S::Ipv6Src, 0), true),
    f!("ipv6_dst", None, Some("NXM_NX_IPV6_DST"), Some("OXM_OF_IPV6_DST"), 128, Ipv6, true, Ipv6, Bits(S::Ipv6Dst, 0), true),
    f!("ipv6_label", None, Some("NXM_NX_IPV6_LABEL"), Some("OXM_OF_IPV6_FLABEL"), 20, Hex, true, Ipv6, Bits(S::Ipv6Label, 0), true),
    f!("nw_proto", Some("ip_proto"), Some("NXM_OF_IP_PROTO"), Some("OXM_OF_IP_PROTO"), 8, Dec, false, IpAny, Bits(S::NwProto, 0), false),
    f!("nw_tos", None, Some("NXM_OF_IP_TOS"), None, 8, Dec, false, IpAny, Bits(S::NwTos, 0), true),
    f!("ip_dscp", None, None, Some("OXM_OF_IP_DSCP"), 6, Dec, false, IpAny, Bits(S::NwTos, 2), true),
    f!("nw_ecn", Some("ip_ecn"), Some("NXM_NX_IP_ECN"), Some("OXM_OF_IP_ECN"), 2, Dec, false, IpAny, Bits(S::NwTos, 0), true),
    f!("nw_ttl", None, Some("NXM_NX_IP_TTL"), None, 8, Dec, false, IpAny, Bits(S::NwTtl, 0), true),
    f!("ip_frag", Some("nw_frag"), Some("NXM_NX_IP_FRAG"), None, 2, Frag, true, IpAny, Bits(S::NwFrag, 0), false),
    f!("arp_op", None, Some("NXM_OF_ARP_OP"), Some("OXM_OF_ARP_OP"), 16, Dec, false, Arp, Bits(S::NwProto, 0), true),
    f!("arp_spa", None, Some("NXM_OF_ARP_SPA"), Some("OXM_OF_ARP_SPA"), 32, Ipv4, true, Arp, Bits(S::NwSrc, 0), true),
    f!("arp_tpa", None, Some("NXM_OF_ARP_TPA"), Some("OXM_OF_ARP_TPA"), 32, Ipv4, true, Arp, Bits(S::NwDst, 0), true),
    f!("arp_sha", None, Some("NXM_NX_ARP_SHA"), Some("OXM_OF_ARP_SHA"), 48, Eth, true, Arp, Bits(S::ArpSha, 0), true),
    f!("arp_tha", None, Some("NXM_NX_ARP_THA"), Some("OXM_OF_ARP_THA"), 48, Eth, true, Arp, Bits(S::ArpTha, 0), true),
    f!("tcp_src", Some("tp_src"), Some("NXM_OF_TCP_SRC"), Some("OXM_OF_TCP_SRC"), 16, Dec, true, Tcp, Bits(S::TpSrc, 0), true),
    f!("tcp_dst", Some("tp_dst"), Some("NXM_OF_TCP_DST"), Some("OXM_OF_TCP_DST"), 16, Dec, true, Tcp, Bits(S::TpDst, 0), true),
    f!("tcp_flags", None, Some("NXM_NX_TCP_FLAGS"), Some("ONFOXM_ET_TCP_FLAGS"), 12, TcpFlags, true, Tcp, Bits(S::TcpFlags, 0), false),
    f!("udp_src", None, Some("NXM_OF_UDP_SRC"), Some("OXM_OF_UDP_SRC"), 16, Dec, true, Udp, Bits(S::TpSrc, 0), true),
    f!("udp_dst", None, Some("NXM_OF_UDP_DST"), Some("OXM_OF_UDP_DST"), 16, Dec, true, Udp, Bits(S::TpDst, 0), true),
    f!("sctp_src", None, None, Some("OXM_OF_SCTP_SRC"), 16, Dec, true, Sctp, Bits(S::TpSrc, 0), true),
    f!("sctp_dst", None, None, Some("OXM_OF_SCTP_DST"), 16, Dec, true, Sctp, Bits(S::TpDst, 0), true),
    f!("icmp_type", None, Some("NXM_OF_ICMP_TYPE"), Some("OXM_OF_ICMPV4_TYPE"), 8, Dec, false, Icmp, Bits(S::TpSrc, 0), true),
    f!("icmp_code", None, Some("NXM_OF_ICMP_CODE"), Some("OXM_OF_ICMPV4_CODE"), 8, Dec, false, Icmp, Bits(S::TpDst, 0), true),
    f!("icmpv6_type", None, Some("NXM_NX_ICMPV6_TYPE"), Some("OXM_OF_ICMPV6_TYPE"), 8, Dec, false, Icmp6, Bits(S::TpSrc, 0), true),
    f!("icmpv6_code", None, Some("NXM_NX_ICMPV6_CODE"), Some("OXM_OF_ICMPV6_CODE"), 8, Dec, false, Icmp6, Bits(S::TpDst, 0), true),
    f!("nd_target", None, Some("NXM_NX_ND_TARGET"), Some("OXM_OF_IPV6_ND_TARGET"), 128, Ipv6, true, Nd, Bits(S::NdTarget, 0), true),
    f!("nd_sll", None, Some("NXM_NX_ND_SLL"), Some("OXM_OF_IPV6_ND_SLL"), 48, Eth, true, NdSll, Bits(S::ArpSha, 0), true),
    f!("nd_tll", None, Some("NXM_NX_ND_TLL"), Some("OXM_OF_IPV6_ND_TLL"), 48, Eth, true, NdTll, Bits(S::ArpTha, 0), true),
    f!("nd_reserved", None, None, Some("ERICOXM_OF_ICMPV6_ND_RESERVED"), 32, Dec, true, Nd, Bits(S::IgmpGroup, 0), true),
    f!("nd_options_type", None, None, Some("ERICOXM_OF_ICMPV6_ND_OPTIONS_TYPE"), 8, Dec, true, Nd, Bits(S::TcpFlags, 0), true),
    f!("nsh_flags", None, None, Some("NXOXM_NSH_FLAGS"), 8, Dec, true, Nsh, Bits(S::NshFlags, 0), true),
    f!("nsh_ttl", None, None, Some("NXOXM_NSH_TTL"), 8, Dec, false, Nsh, Bits(S::NshTtl, 0), true),
    f!("nsh_mdtype", None, None, Some("NXOXM_NSH_MDTYPE"), 8, Dec, false, Nsh, Bits(S::NshMdtype, 0), false),
    f!("nsh_np", None, None, Some("NXOXM_NSH_NP"), 8, Dec, false, Nsh, Bits(S::NshNp, 0), false),
    f!("nsh_spi", Some("nsp"), None, Some("NXOXM_NSH_SPI"), 24, Hex, false, Nsh, Bits(S::NshSpi, 0), true),
    f!("nsh_si", Some("nsi"), None, Some("NXOXM_NSH_SI"), 8, Dec, false, Nsh, Bits(S::NshSi, 0), true),
    f!("nsh_c1", Some("nshc1"), None, Some("NXOXM_NSH_C1"), 32, Hex, true, Nsh, Bits(S::NshC1, 0), true),
    f!("nsh_c2", Some("nshc2"), None, Some("NXOXM_NSH_C2"), 32, Hex, true, Nsh, Bits(S::NshC2, 0), true),
    f!("nsh_c3", Some("nshc3"), None, Some("NXOXM_NSH_C3"), 32, Hex, true, Nsh, Bits(S::NshC3, 0), true),
    f!("nsh_c4", Some("nshc4"), None, Some("NXOXM_NSH_C4"), 32, Hex, true, Nsh, Bits(S::NshC4, 0), true),
];

/// Looks a field up by name or alias (as `mf_from_name` does).
pub fn by_name(name: &str) -> Option<&'static Field> {
    FIELDS
        .iter()
        .find(|f| f.name == name || f.alias == Some(name))
}

/// Looks a field up by its NXM or OXM name (`NXM_NX_REG0`,
/// `OXM_OF_METADATA`), or, as OVS also allows in subfields, its plain name.
pub fn by_wire_name(name: &str) -> Option<&'static Field> {
    FIELDS
        .iter()
        .find(|f| f.nxm == Some(name) || f.oxm == Some(name))
        .or_else(|| by_name(name))
}

impl PartialEq for Field {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}
impl Eq for Field {}
