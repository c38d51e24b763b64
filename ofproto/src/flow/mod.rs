//! The OpenFlow view of a packet: `OfFlow`, and `OfMatch`, a rule's match as
//! a value and a mask over it.
//!
//! An `OfFlow` is the datapath's dense [`Flow`] words (same layout, so a
//! megaflow mask is simply the first `FLOW_WORDS` words of the wildcards a
//! translation collected) followed by the words that exist only while a
//! packet is translated: `metadata`, the sixteen 32-bit registers, `conj_id`,
//! `actset_output` and `packet_type`. Only [`place`] knows where an OpenFlow
//! field sits; everything else goes through it.
//!
//! Differences from the datapath's meaning of the same words: `in_port`
//! holds the OpenFlow port number (translation maps datapath port numbers
//! to OpenFlow ones on entry), and OpenFlow-only words start at zero for
//! every packet.
//!
//! `OfMatch` is canonical: value bits outside the mask are zero, so two
//! matches that select the same packets compare equal whatever spelling
//! (`dl_vlan`, `vlan_vid`, `vlan_tci`) built them.

mod access;
pub mod geneve;
mod match_buf;
mod place;
mod tlv;
mod to_match;

pub use match_buf::MatchBuf;
pub use place::{place, Place, PlaceError};
pub use tlv::{TlvError, TlvMap, TlvSlot, TUN_METADATA_FIELDS};

use ferrovs_datapath::flow::layout::FLOW_WORDS;
use ferrovs_datapath::flow::Flow;
use ferrovs_openflow::Match;

/// Words after the datapath's, in OVS `struct flow` terms:
///
/// | word | contents |
/// |---|---|
/// | +0 | `metadata` |
/// | +1..+8 | `xreg0`..`xreg7` (registers) |
/// | +9 | `conj_id` (low 32) \| `actset_output` (high 32) |
/// | +10 | `packet_type` (low 32) |
/// | +11 | `tun_gbp_id` 16 @0, `tun_gbp_flags` 8 @16, `tun_erspan_ver` 8 @24, `tun_erspan_dir` 8 @32, `tun_erspan_hwid` 8 @40, `tun_gtpu_flags` 8 @48, `tun_gtpu_msgtype` 8 @56 |
/// | +12 | `tun_erspan_idx` (low 32) |
/// | +13 | tunnel metadata present map: bit n set when `tun_metadata<n>` is present |
/// | +14..+45 | tunnel metadata option bytes (256), byte 0 the most significant of word +14 |
/// | +46 | `nd_reserved` (low 32; OVS keeps it in `igmp_group_ip4`) |
///
/// NSH and the MPLS label stack below the top entry are datapath words.
pub const OF_EXTRA_WORDS: usize = 47;
/// Every word of an [`OfFlow`].
pub const OF_WORDS: usize = FLOW_WORDS + OF_EXTRA_WORDS;

/// `metadata` (64 bits).
pub const W_METADATA: usize = FLOW_WORDS;
/// `xreg0`..`xreg7`: register `2i` in the high half, `2i+1` in the low half
/// (so `xxreg0` is the two words `xreg0`, `xreg1`, high first).
pub const W_REGS: usize = FLOW_WORDS + 1;
/// `conj_id` (low 32) | `actset_output` (high 32).
pub const W_OF_MISC: usize = FLOW_WORDS + 9;
/// `packet_type` (low 32).
pub const W_PACKET_TYPE: usize = FLOW_WORDS + 10;
/// GBP, ERSPAN (but the index) and GTP-U tunnel fields.
pub const W_TUN_GBP: usize = FLOW_WORDS + 11;
/// `tun_erspan_idx` (low 32).
pub const W_TUN_ERSPAN_IDX: usize = FLOW_WORDS + 12;
/// Tunnel metadata present map.
pub const W_TUN_MD_PRESENT: usize = FLOW_WORDS + 13;
/// Tunnel metadata option bytes.
pub const W_TUN_MD: usize = FLOW_WORDS + 14;
/// Bytes of tunnel metadata options (as OVS's `TUN_METADATA_TOT_OPT_SIZE`).
pub const TUN_MD_BYTES: usize = 256;
/// `nd_reserved` (low 32). (NSH lives in the datapath's words.)
pub const W_ND_RESERVED: usize = FLOW_WORDS + 46;

/// A packet (or a rule's value, or a mask) in OpenFlow terms.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OfFlow(pub [u64; OF_WORDS]);

impl Default for OfFlow {
    fn default() -> Self {
        OfFlow([0; OF_WORDS])
    }
}

impl OfFlow {
    /// The datapath words of a packet, OpenFlow-only words zero.
    pub fn from_dp(f: &Flow) -> OfFlow {
        let mut o = OfFlow::default();
        o.0[..FLOW_WORDS].copy_from_slice(&f.0);
        o.sync_packet_type();
        o
    }
    /// Sets the OpenFlow `packet_type` from the datapath words: `(0,0)`
    /// for Ethernet, `(ns, dl_type)` for an L3 packet.
    #[inline]
    pub fn sync_packet_type(&mut self) {
        use ferrovs_datapath::flow::layout::{DL_TYPE, PACKET_TYPE_NS};
        let w = self.0[DL_TYPE.word as usize];
        let ns = (w & PACKET_TYPE_NS.word_mask()) >> PACKET_TYPE_NS.shift;
        self.0[W_PACKET_TYPE] = if ns == 0 {
            0
        } else {
            ns << 16 | (w & DL_TYPE.word_mask()) >> DL_TYPE.shift
        };
    }
    /// The datapath part (for a megaflow key or mask).
    pub fn to_dp(&self) -> Flow {
        let mut f = Flow::default();
        f.0.copy_from_slice(&self.0[..FLOW_WORDS]);
        f
    }
    /// `self & mask`, word by word.
    pub fn masked(&self, mask: &OfFlow) -> OfFlow {
        let mut o = *self;
        for (w, m) in o.0.iter_mut().zip(mask.0.iter()) {
            *w &= m;
        }
        o
    }
    /// True if every word is zero.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    /// Reads bits `[shift, shift+bits)` of word `word`.
    #[inline]
    pub fn bits(&self, word: usize, shift: u32, bits: u32) -> u64 {
        (self.0[word] >> shift) & low_mask(bits)
    }
    /// Writes bits `[shift, shift+bits)` of word `word`.
    #[inline]
    pub fn set_bits(&mut self, word: usize, shift: u32, bits: u32, v: u64) {
        let m = low_mask(bits) << shift;
        self.0[word] = (self.0[word] & !m) | ((v << shift) & m);
    }
    /// Register `n` (0..16).
    pub fn reg(&self, n: usize) -> u32 {
        let shift = if n.is_multiple_of(2) { 32 } else { 0 };
        self.bits(W_REGS + n / 2, shift, 32) as u32
    }
    pub fn set_reg(&mut self, n: usize, v: u32) {
        let shift = if n.is_multiple_of(2) { 32 } else { 0 };
        self.set_bits(W_REGS + n / 2, shift, 32, v as u64)
    }
}

#[inline]
pub(crate) fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        !0
    } else {
        (1u64 << bits) - 1
    }
}

/// A rule's match: packets `p` with `p & mask == value`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct OfMatch {
    pub value: OfFlow,
    pub mask: OfFlow,
}

impl OfMatch {
    /// The match-everything match.
    pub fn catchall() -> OfMatch {
        OfMatch::default()
    }

    /// Builds the canonical form of an OpenFlow match, with no tunnel
    /// option mapped: `tun_metadata<n>` fails with [`PlaceError::Unmapped`]
    /// (use [`OfMatch::from_match_tlv`] with the switch's map).
    pub fn from_match(m: &Match) -> Result<OfMatch, PlaceError> {
        OfMatch::from_match_tlv(m, &TlvMap::EMPTY)
    }

    /// Builds the canonical form of an OpenFlow match, placing
    /// `tun_metadata<n>` fields where `tlv` maps them.
    pub fn from_match_tlv(m: &Match, tlv: &TlvMap) -> Result<OfMatch, PlaceError> {
        let mut om = OfMatch::default();
        om.place_fields(m, tlv)?;
        Ok(om)
    }

    /// Places `m`'s fields into this (catch-all) match, in place.
    fn place_fields(&mut self, m: &Match, tlv: &TlvMap) -> Result<(), PlaceError> {
        for mf in &m.fields {
            let p = place(mf.field)?;
            let (v, mk) = access::normalize_in(mf.field, &mf.value, mf.mask.as_ref());
            p.apply(&mut self.value, &mut self.mask, &v, mk.as_ref(), tlv)?;
        }
        for (v, mk) in self.value.0.iter_mut().zip(self.mask.0.iter()) {
            *v &= mk;
        }
        Ok(())
    }

    /// True if packet `flow` is selected.
    #[inline]
    pub fn matches(&self, flow: &OfFlow) -> bool {
        self.value
            .0
            .iter()
            .zip(self.mask.0.iter())
            .zip(flow.0.iter())
            .all(|((v, m), f)| f & m == *v)
    }

    /// True if every packet `self` selects is also selected by `other`
    /// (`other` is looser or equal): the "loose" test of modify and delete
    /// (a rule is affected when the request's match covers it).
    pub fn is_covered_by(&self, other: &OfMatch) -> bool {
        self.mask
            .0
            .iter()
            .zip(other.mask.0.iter())
            .zip(self.value.0.iter().zip(other.value.0.iter()))
            .all(|((sm, om), (sv, ov))| om & !sm == 0 && sv & om == *ov)
    }

    /// True if some packet could be selected by both (the test of
    /// OFPFF_CHECK_OVERLAP, for rules of the same priority).
    pub fn overlaps(&self, other: &OfMatch) -> bool {
        self.mask
            .0
            .iter()
            .zip(other.mask.0.iter())
            .zip(self.value.0.iter().zip(other.value.0.iter()))
            .all(|((sm, om), (sv, ov))| (sv ^ ov) & sm & om == 0)
    }
}

#[cfg(test)]
mod tests;
