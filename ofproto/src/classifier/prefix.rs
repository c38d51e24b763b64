//! Prefix tracking configuration: which address fields get a trie, and
//! how to read, measure and un-wildcard their bits in a flow.
//!
//! As OVS (`Flow_Table:prefixes`): at most three fields among `tun_src`,
//! `tun_dst`, `tun_ipv6_src`, `tun_ipv6_dst`, `nw_src`, `nw_dst`,
//! `ipv6_src`, `ipv6_dst`; by default `nw_dst` and `nw_src`. A trie is only
//! consulted for packets that meet its field's prerequisite (IPv4 or IPv6
//! ethertype): other packets reuse the same bits for other fields (ARP).

use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::Field;

use super::stage::{L3, METADATA};
use super::trie::{Plens, PrefixTrie};
use crate::flow::{place, OfFlow, Place};

/// Most prefix fields per classifier (OVS's `CLS_MAX_TRIES`).
pub const MAX_TRIES: usize = 3;

/// OVS's default prefix fields.
pub const DEFAULT_PREFIX_FIELDS: [Field; 2] = [Field::IpDst, Field::IpSrc];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("at most {MAX_TRIES} prefix fields")]
    TooMany,
    #[error("field {0} cannot be used for prefix lookup")]
    NotPrefixField(&'static str),
    #[error("field {0} given twice")]
    Duplicate(&'static str),
    #[error("unknown field {0}")]
    UnknownField(String),
}

/// The fields named by a `Flow_Table:prefixes` value: `["none"]` for no
/// prefix tracking, an empty list for the default, else field names
/// (`nw_dst` and `ip_dst` alike).
pub fn prefix_fields_from_names(names: &[&str]) -> Result<Vec<Field>, PrefixError> {
    match names {
        [] => Ok(DEFAULT_PREFIX_FIELDS.to_vec()),
        ["none"] => Ok(Vec::new()),
        _ => names
            .iter()
            .map(|n| Field::from_name(n).ok_or_else(|| PrefixError::UnknownField(n.to_string())))
            .collect(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Loc {
    /// 32 bits at `shift` of `word`.
    V4 { word: usize, shift: u32 },
    /// 128 bits in `word` (high) and `word + 1`.
    V6 { word: usize },
}

pub(crate) struct TrieField {
    pub(crate) field: Field,
    loc: Loc,
    /// The stage whose words hold the field.
    pub(crate) stage: usize,
    /// Required ethertype, if any.
    dl_type: Option<u16>,
    pub(crate) trie: PrefixTrie,
}

impl TrieField {
    pub(crate) fn new(field: Field) -> Result<TrieField, PrefixError> {
        let (stage, dl_type) = match field {
            Field::TunSrc | Field::TunDst | Field::TunIpv6Src | Field::TunIpv6Dst => {
                (METADATA, None)
            }
            Field::IpSrc | Field::IpDst => (L3, Some(0x0800)),
            Field::Ipv6Src | Field::Ipv6Dst => (L3, Some(0x86dd)),
            f => return Err(PrefixError::NotPrefixField(f.name())),
        };
        let loc = match place(field) {
            Ok(Place::Bits {
                word,
                shift,
                bits: 32,
            }) => Loc::V4 {
                word: word as usize,
                shift: shift as u32,
            },
            Ok(Place::Wide { word }) => Loc::V6 {
                word: word as usize,
            },
            _ => return Err(PrefixError::NotPrefixField(field.name())),
        };
        Ok(TrieField {
            field,
            loc,
            stage,
            dl_type,
            trie: PrefixTrie::default(),
        })
    }

    fn n_bits(&self) -> u32 {
        match self.loc {
            Loc::V4 { .. } => 32,
            Loc::V6 { .. } => 128,
        }
    }

    /// The field of `f`, left-aligned.
    pub(crate) fn value(&self, f: &OfFlow) -> u128 {
        self.value_with(|w| f.0[w])
    }

    /// The field, left-aligned, from a reader of words (a rule's row).
    #[inline]
    pub(crate) fn value_with(&self, word: impl Fn(usize) -> u64) -> u128 {
        match self.loc {
            Loc::V4 { word: w, shift } => ((word(w) >> shift) as u32 as u128) << 96,
            Loc::V6 { word: w } => (word(w) as u128) << 64 | word(w + 1) as u128,
        }
    }

    /// The CIDR length of `mask` on the field: 0 if wildcarded or not a
    /// prefix mask (such subtables are never skipped by the trie).
    pub(crate) fn plen(&self, mask: &OfFlow) -> u32 {
        let m = self.value(mask);
        let ones = m.leading_ones();
        if m.count_ones() == ones {
            ones
        } else {
            0
        }
    }

    /// The first `n` bits of the field as (word, mask) pairs (the second
    /// pair's mask is 0 for an IPv4 field): two words at most, so callers
    /// touch only those instead of a whole flow.
    #[inline]
    fn prefix_words(&self, n: u32) -> [(usize, u64); 2] {
        let m: u128 = if n == 0 { 0 } else { !0u128 << (128 - n) };
        match self.loc {
            Loc::V4 { word, shift } => [(word, ((m >> 96) as u64) << shift), (word, 0)],
            Loc::V6 { word } => [(word, (m >> 64) as u64), (word + 1, m as u64)],
        }
    }

    /// Sets the first `n` bits of the field in `wc`.
    #[inline]
    pub(crate) fn set_prefix_bits(&self, wc: &mut OfFlow, n: u32) {
        for (w, m) in self.prefix_words(n) {
            wc.0[w] |= m;
        }
    }

    /// True if the first `n` bits of the field are already set in `wc`.
    #[inline]
    pub(crate) fn prefix_bits_set(&self, wc: &OfFlow, n: u32) -> bool {
        self.prefix_words(n).iter().all(|&(w, m)| wc.0[w] & m == m)
    }

    /// The trie's answer for packet `f`: every length if the packet does
    /// not meet the field's prerequisite (nothing is skipped then).
    pub(crate) fn lookup(&self, f: &OfFlow) -> (Plens, u32) {
        if let Some(t) = self.dl_type {
            if f.bits(dp::W_DL_TYPE, dp::DL_TYPE.shift as u32, 16) != t as u64 {
                return (Plens::all(), 0);
            }
        }
        self.trie.lookup(self.value(f), self.n_bits())
    }
}
