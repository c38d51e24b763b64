//! Where each OpenFlow match field lives in an [`OfFlow`](super::OfFlow).
//!
//! One `match` from [`Field`] to a [`Place`]: a bit range of one word, a
//! 128-bit pair of words, or one of the few fields whose setting also sets
//! another bit (the VLAN "present" bit for `dl_vlan` and `vlan_pcp`, as
//! OVS does). Aliases land on the same bits: `dl_vlan`, `vlan_vid` and
//! `vlan_tci`; `arp_spa` and `nw_src`; `nd_sll` and `arp_sha`; `xreg0` and
//! `reg0`/`reg1`.
//!
//! `tun_metadata<n>` has no fixed place: its bytes are wherever the
//! switch's [`TlvMap`] put option `n`, so its [`Place`] names the index and
//! placing it needs the map.

use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::{ErrorCode, Field, Value};

use super::tlv::TlvMap;
use super::{
    low_mask, OfFlow, W_METADATA, W_ND_RESERVED, W_OF_MISC, W_PACKET_TYPE, W_REGS,
    W_TUN_ERSPAN_IDX, W_TUN_GBP, W_TUN_MD, W_TUN_MD_PRESENT,
};

/// A field's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `bits` bits at bit `shift` of word `word`.
    Bits { word: u8, shift: u8, bits: u8 },
    /// 128 bits: word `word` holds the high half, `word + 1` the low half.
    Wide { word: u8 },
    /// `dl_vlan`: a 12-bit VID that also requires a tag (VID|CFI bits of
    /// the outer TCI); the value 0xffff means "no tag" (whole TCI zero).
    DlVlan,
    /// `dl_vlan_pcp`/`vlan_pcp`: PCP bits of the TCI plus the present bit.
    VlanPcp,
    /// `nw_tos`: the whole TOS byte whose low two (ECN) bits must be zero;
    /// it sets the DSCP bits, as `ip_dscp` does shifted.
    NwTos,
    /// `tun_metadata<n>`: the bytes the TLV map gives option `n`, plus
    /// bit `n` of the present map.
    TunMetadata(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("field {0} cannot be matched by this switch yet")]
    Unsupported(&'static str),
    #[error("value out of range for field {0}")]
    BadValue(&'static str),
    #[error("{0} is not mapped to a tunnel option (NXT_TLV_TABLE_MOD)")]
    Unmapped(&'static str),
}

impl PlaceError {
    /// The OpenFlow error to send for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            PlaceError::Unsupported(_) => ErrorCode::OfpbmcBadField,
            PlaceError::BadValue(_) => ErrorCode::OfpbmcBadValue,
            // OVS: a flow naming a `tun_metadata` field the TLV table lacks.
            PlaceError::Unmapped(_) => ErrorCode::NxfmfcInvalidTlvField,
        }
    }
}

const fn dpf(f: dp::Field) -> Place {
    Place::Bits {
        word: f.word,
        shift: f.shift,
        bits: f.bits,
    }
}

const fn bits(word: usize, shift: u8, bits: u8) -> Place {
    Place::Bits {
        word: word as u8,
        shift,
        bits,
    }
}

const fn wide(word: usize) -> Place {
    Place::Wide { word: word as u8 }
}

/// The place of `field`.
pub fn place(field: Field) -> Result<Place, PlaceError> {
    use Field as F;
    let lse = dp::MPLS_LSE.shift;
    let tos = dp::NW_TOS.shift;
    Ok(match field {
        F::DpHash => dpf(dp::DP_HASH),
        F::RecircId => dpf(dp::RECIRC_ID),
        F::PacketType => bits(W_PACKET_TYPE, 0, 32),
        F::ConjId => bits(W_OF_MISC, 0, 32),
        F::TunId => dpf(dp::TUN_ID),
        F::TunSrc => dpf(dp::TUN_SRC),
        F::TunDst => dpf(dp::TUN_DST),
        F::TunIpv6Src => wide(dp::W_TUN_V6_SRC),
        F::TunIpv6Dst => wide(dp::W_TUN_V6_DST),
        F::TunFlags => dpf(dp::TUN_FLAGS),
        F::TunTtl => dpf(dp::TUN_TTL),
        F::TunTos => dpf(dp::TUN_TOS),
        F::Metadata => bits(W_METADATA, 0, 64),
        // OpenFlow 1.0 numbering (16 bits) in the datapath's in_port bits.
        F::InPort | F::InPortOxm => dpf(dp::IN_PORT),
        F::ActsetOutput => bits(W_OF_MISC, 32, 32),
        F::SkbPriority => dpf(dp::SKB_PRIORITY),
        F::PktMark => dpf(dp::PKT_MARK),
        F::CtState => dpf(dp::CT_STATE),
        F::CtZone => dpf(dp::CT_ZONE),
        F::CtMark => dpf(dp::CT_MARK),
        F::CtLabel => wide(dp::W_CT_LABEL),
        F::CtNwProto => dpf(dp::CT_NW_PROTO),
        F::CtNwSrc => dpf(dp::CT_NW_SRC),
        F::CtNwDst => dpf(dp::CT_NW_DST),
        F::CtIpv6Src => wide(dp::W_CT_IPV6_SRC),
        F::CtIpv6Dst => wide(dp::W_CT_IPV6_DST),
        F::CtTpSrc => dpf(dp::CT_TP_SRC),
        F::CtTpDst => dpf(dp::CT_TP_DST),
        F::EthSrc => dpf(dp::DL_SRC),
        F::EthDst => dpf(dp::DL_DST),
        F::EthType => dpf(dp::DL_TYPE),
        F::VlanTci => dpf(dp::VLAN0_TCI),
        F::VlanVid => bits(dp::W_VLAN, dp::VLAN0_TCI.shift, 13),
        F::DlVlan => Place::DlVlan,
        F::DlVlanPcp | F::VlanPcp => Place::VlanPcp,
        F::MplsLabel => bits(dp::W_DL_TYPE, lse + 12, 20),
        F::MplsTc => bits(dp::W_DL_TYPE, lse + 9, 3),
        F::MplsBos => bits(dp::W_DL_TYPE, lse + 8, 1),
        F::MplsTtl => bits(dp::W_DL_TYPE, lse, 8),
        F::IpSrc | F::ArpSpa => dpf(dp::NW_SRC),
        F::IpDst | F::ArpTpa => dpf(dp::NW_DST),
        F::Ipv6Src => wide(dp::W_IPV6_SRC),
        F::Ipv6Dst => wide(dp::W_IPV6_DST),
        F::Ipv6Label => dpf(dp::IPV6_LABEL),
        F::NwProto | F::ArpOp => dpf(dp::NW_PROTO),
        // `nw_tos` is the DSCP bits in place (low two bits must be zero).
        F::NwTos => Place::NwTos,
        F::IpDscp => bits(dp::W_NW_MISC, tos + 2, 6),
        F::NwEcn => bits(dp::W_NW_MISC, tos, 2),
        F::NwTtl => dpf(dp::NW_TTL),
        F::IpFrag => bits(dp::W_NW_MISC, dp::NW_FRAG.shift, 2),
        F::ArpSha | F::NdSll => dpf(dp::ARP_SHA),
        F::ArpTha | F::NdTll => dpf(dp::ARP_THA),
        F::TcpSrc | F::UdpSrc | F::SctpSrc => dpf(dp::TP_SRC),
        F::TcpDst | F::UdpDst | F::SctpDst => dpf(dp::TP_DST),
        F::TcpFlags => bits(dp::W_TP, dp::TCP_FLAGS.shift, 12),
        F::IcmpType | F::Icmpv6Type => bits(dp::W_TP, dp::TP_SRC.shift, 8),
        F::IcmpCode | F::Icmpv6Code => bits(dp::W_TP, dp::TP_DST.shift, 8),
        F::NdTarget => wide(dp::W_ND_TARGET),
        // OVS keeps nd_reserved in igmp_group_ip4 and nd_options_type in
        // the low byte of tcp_flags.
        F::NdReserved => bits(W_ND_RESERVED, 0, 32),
        F::NdOptionsType => bits(dp::W_TP, dp::TCP_FLAGS.shift, 8),
        F::TunGbpId => bits(W_TUN_GBP, 0, 16),
        F::TunGbpFlags => bits(W_TUN_GBP, 16, 8),
        F::TunErspanVer => bits(W_TUN_GBP, 24, 8),
        F::TunErspanDir => bits(W_TUN_GBP, 32, 8),
        F::TunErspanHwid => bits(W_TUN_GBP, 40, 8),
        F::TunGtpuFlags => bits(W_TUN_GBP, 48, 8),
        F::TunGtpuMsgtype => bits(W_TUN_GBP, 56, 8),
        F::TunErspanIdx => bits(W_TUN_ERSPAN_IDX, 0, 32),
        // NSH lives in the datapath's words (extraction fills them), so
        // megaflows carry it.
        F::NshFlags => dpf(dp::NSH_FLAGS),
        F::NshTtl => dpf(dp::NSH_TTL),
        F::NshMdtype => dpf(dp::NSH_MDTYPE),
        F::NshNp => dpf(dp::NSH_NP),
        F::NshSi => dpf(dp::NSH_SI),
        F::NshSpi => dpf(dp::NSH_SPI),
        F::NshC1 => dpf(dp::NSH_C1),
        F::NshC2 => dpf(dp::NSH_C2),
        F::NshC3 => dpf(dp::NSH_C3),
        F::NshC4 => dpf(dp::NSH_C4),
        f => {
            if let Some(n) = reg_index(f) {
                let shift = if n.is_multiple_of(2) { 32 } else { 0 };
                bits(W_REGS + n / 2, shift, 32)
            } else if let Some(n) = (0..8u8).find(|&i| Field::xreg(i) == Some(f)) {
                bits(W_REGS + n as usize, 0, 64)
            } else if let Some(n) = (0..4u8).find(|&i| Field::xxreg(i) == Some(f)) {
                wide(W_REGS + 2 * n as usize)
            } else if let Some(n) = f.tun_metadata_index() {
                Place::TunMetadata(n)
            } else {
                return Err(PlaceError::Unsupported(f.name()));
            }
        }
    })
}

fn reg_index(f: Field) -> Option<usize> {
    (0..16u8)
        .find(|&i| Field::reg(i) == Some(f))
        .map(usize::from)
}

impl Place {
    /// Adds `field = value/mask` to a match under construction.
    pub(crate) fn apply(
        self,
        value: &mut OfFlow,
        mask: &mut OfFlow,
        v: &Value,
        m: Option<&Value>,
        tlv: &TlvMap,
    ) -> Result<(), PlaceError> {
        if let Place::TunMetadata(n) = self {
            return apply_tun_metadata(n, value, mask, v, m, tlv);
        }
        // An exact match is every bit of the field.
        let v = v.to_u128();
        let m = m.map_or(u128::MAX, |m| m.to_u128());
        match self {
            Place::Bits { word, shift, bits } => {
                let (w, s, b) = (word as usize, shift as u32, bits as u32);
                let lim = low_mask(b) as u128;
                let m = m & lim;
                if v & !lim != 0 {
                    return Err(PlaceError::BadValue("field"));
                }
                value.set_bits(w, s, b, v as u64);
                mask.set_bits(w, s, b, m as u64);
            }
            Place::Wide { word } => {
                let w = word as usize;
                value.0[w] = (v >> 64) as u64;
                value.0[w + 1] = v as u64;
                mask.0[w] = (m >> 64) as u64;
                mask.0[w + 1] = m as u64;
            }
            Place::DlVlan => {
                let (w, s) = (dp::W_VLAN, dp::VLAN0_TCI.shift as u32);
                if v == 0xffff {
                    value.set_bits(w, s, 16, 0);
                    mask.set_bits(w, s, 16, 0xffff);
                } else if v > 0xfff {
                    return Err(PlaceError::BadValue("dl_vlan"));
                } else {
                    let cur_v = value.bits(w, s, 16);
                    let cur_m = mask.bits(w, s, 16);
                    value.set_bits(w, s, 16, (cur_v & !0x1fff) | 0x1000 | v as u64);
                    mask.set_bits(w, s, 16, cur_m | 0x1fff);
                }
            }
            Place::NwTos => {
                if v > 0xff || v & 3 != 0 {
                    return Err(PlaceError::BadValue("nw_tos"));
                }
                let s = dp::NW_TOS.shift as u32 + 2;
                value.set_bits(dp::W_NW_MISC, s, 6, (v >> 2) as u64);
                mask.set_bits(dp::W_NW_MISC, s, 6, ((m & 0xff) >> 2) as u64);
            }
            Place::VlanPcp => {
                if v > 7 {
                    return Err(PlaceError::BadValue("vlan_pcp"));
                }
                let (w, s) = (dp::W_VLAN, dp::VLAN0_TCI.shift as u32);
                let cur_v = value.bits(w, s, 16);
                let cur_m = mask.bits(w, s, 16);
                value.set_bits(w, s, 16, (cur_v & !0xe000) | 0x1000 | ((v as u64) << 13));
                mask.set_bits(w, s, 16, cur_m | 0xf000);
            }
            Place::TunMetadata(_) => unreachable!("handled above"),
        }
        Ok(())
    }
}

/// The option bytes of `tun_metadata<n>` under `tlv`: (first byte, length).
pub(crate) fn tun_metadata_span(n: u8, tlv: &TlvMap) -> Result<(usize, usize), PlaceError> {
    let name = Field::tun_metadata(n).map_or("tun_metadata", |f| f.name());
    let slot = tlv.get(n).ok_or(PlaceError::Unmapped(name))?;
    Ok((slot.offset as usize, slot.len as usize))
}

/// Byte `i` of the option space of `f`.
pub(crate) fn md_byte(f: &OfFlow, i: usize) -> u8 {
    (f.0[W_TUN_MD + i / 8] >> (56 - 8 * (i % 8))) as u8
}

pub(crate) fn set_md_byte(f: &mut OfFlow, i: usize, b: u8) {
    let sh = 56 - 8 * (i % 8);
    let w = &mut f.0[W_TUN_MD + i / 8];
    *w = (*w & !(0xff << sh)) | (b as u64) << sh;
}

/// Writes `bytes` right-aligned into `len` bytes at `off` (zero-filled on
/// the left, as OVS accepts values shorter than the option).
pub(crate) fn put_md_bytes(
    f: &mut OfFlow,
    off: usize,
    len: usize,
    bytes: &[u8],
    fill: u8,
) -> Result<(), ()> {
    let (lead, rest) = match bytes.len().checked_sub(len) {
        // Longer than the option: only leading zero bytes may be dropped.
        Some(extra) => (&bytes[..extra], &bytes[extra..]),
        None => (&[][..], bytes),
    };
    if lead.iter().any(|b| *b != 0) {
        return Err(());
    }
    let pad = len - rest.len();
    for i in 0..len {
        let b = if i < pad { fill } else { rest[i - pad] };
        set_md_byte(f, off + i, b);
    }
    Ok(())
}

fn apply_tun_metadata(
    n: u8,
    value: &mut OfFlow,
    mask: &mut OfFlow,
    v: &Value,
    m: Option<&Value>,
    tlv: &TlvMap,
) -> Result<(), PlaceError> {
    let (off, len) = tun_metadata_span(n, tlv)?;
    let bad = PlaceError::BadValue("tun_metadata");
    put_md_bytes(value, off, len, v.as_bytes(), 0).map_err(|_| bad)?;
    match m {
        Some(m) => put_md_bytes(mask, off, len, m.as_bytes(), 0).map_err(|_| bad)?,
        None => put_md_bytes(mask, off, len, &[], 0xff).map_err(|_| bad)?,
    }
    // Matching an option also requires it to be present.
    value.0[W_TUN_MD_PRESENT] |= 1 << n;
    mask.0[W_TUN_MD_PRESENT] |= 1 << n;
    Ok(())
}
