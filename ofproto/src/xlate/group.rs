//! Group actions as OVS 3.1 translates them: all (every bucket on a copy
//! of the flow), indirect (the one bucket), fast failover (the first live
//! bucket) and select.
//!
//! A select group picks its bucket by its selection method (the OF1.5
//! `ntr_selection_method` property, see [`Selection`]):
//! - none given: dp_hash, when the weights fit in at most 256 hash values
//!   (else the slow-path default hash);
//! - `dp_hash`: the first pass emits `hash(ALG(basis)),recirc(N)` and
//!   freezes with the group action first; the second pass (dp_hash set)
//!   reads `dp_hash & mask` and takes that slot of a table that spreads
//!   the hash values over the buckets by weight (Webster's method);
//! - `hash` with fields: hashes the fields' masked values in translation
//!   and takes the bucket with the best score `hash_int(bucket_id,
//!   hash) & 0xffff * weight` (OVS's hash functions, [`super::ovs_hash`]),
//!   un-wildcarding those fields;
//! - the default (no fields, or too many hash values): the same score on
//!   a symmetric hash of the L2-L4 addresses.

use ferrovs_datapath::actions::HashAlg;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::message::Bucket;
use ferrovs_openflow::oxm;
use ferrovs_openflow::Field;

use super::freeze::dp_hash;
use super::ovs_hash::{hash_bytes, hash_int, hash_uint64};
use super::{Ctx, XlateError, MAX_DEPTH};
use crate::group::{Group, GT_ALL, GT_FF, GT_INDIRECT, GT_SELECT};

/// NTR_VENDOR_ID and NTRT_SELECTION_METHOD.
const NTR_VENDOR_ID: u32 = 0x0000_154d;
const NTRT_SELECTION_METHOD: u32 = 1;
/// OVS's MAX_SELECT_GROUP_HASH_VALUES.
pub const MAX_HASH_VALUES: u64 = 256;

/// A select group's selection method, from its properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// "", "hash" or "dp_hash".
    pub method: String,
    pub param: u64,
    /// Fields to hash, in OVS field order, each with its mask bytes.
    pub fields: Vec<(Field, Vec<u8>)>,
}

impl Selection {
    /// Reads the `ntr_selection_method` property out of OF1.5 group
    /// properties (others are skipped; malformed ones ignored, the
    /// group-mod decoder having checked them).
    pub fn from_props(mut props: &[u8]) -> Selection {
        let mut s = Selection::default();
        while props.len() >= 4 {
            let ty = u16::from_be_bytes([props[0], props[1]]);
            let len = u16::from_be_bytes([props[2], props[3]]) as usize;
            if len < 4 || len > props.len() {
                break;
            }
            let p = &props[..len];
            if ty == 0xffff && len >= 40 {
                let exp = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                let exp_type = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
                if exp == NTR_VENDOR_ID && exp_type == NTRT_SELECTION_METHOD {
                    let name = &p[16..32];
                    let end = name.iter().position(|b| *b == 0).unwrap_or(16);
                    s.method = String::from_utf8_lossy(&name[..end]).into_owned();
                    s.param = u64::from_be_bytes(p[32..40].try_into().unwrap_or([0; 8]));
                    let mut f = &p[40..];
                    while !f.is_empty() {
                        let Ok((e, n)) = oxm::parse_entry(f) else {
                            break;
                        };
                        if let Some(field) = oxm::field_for_header(e.header) {
                            s.fields.push((field, e.value.to_vec()));
                        }
                        f = &f[n..];
                    }
                    s.fields.sort_by_key(|(f, _)| *f);
                }
            }
            // Properties are padded to 8 bytes.
            let padded = len.div_ceil(8) * 8;
            props = &props[padded.min(props.len())..];
        }
        s
    }
}

/// How a select group picks, as OVS's `group_set_selection_method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Default,
    Hash,
    DpHash {
        alg: HashAlg,
        basis: u32,
        /// Hash value -> bucket index (length a power of two).
        map: Vec<usize>,
    },
}

/// The selection method in effect for select group `g`.
pub fn method(g: &Group) -> Method {
    let sel = Selection::from_props(&g.props);
    match sel.method.as_str() {
        "" => match dp_hash_map(&g.buckets, MAX_HASH_VALUES) {
            Some(map) => Method::DpHash {
                alg: HashAlg::SymL4,
                basis: 0,
                map,
            },
            None => Method::Default,
        },
        "dp_hash" => match dp_hash_map(&g.buckets, 0) {
            // OVS_HASH_ALG_L4 = 0, OVS_HASH_ALG_SYM_L4 = 1; others are
            // treated as L4.
            Some(map) => Method::DpHash {
                alg: if sel.param >> 32 == 1 {
                    HashAlg::SymL4
                } else {
                    HashAlg::L4
                },
                basis: sel.param as u32,
                map,
            },
            None => Method::Default,
        },
        "hash" if !sel.fields.is_empty() => Method::Hash,
        _ => Method::Default,
    }
}

/// Spreads `max(16, next power of two of total/min weight)` hash values
/// over the buckets in proportion to their weights (Webster's method);
/// None if there are no weighted buckets or more than `max` values
/// (`0`: up to [`MAX_HASH_VALUES`]) would be needed.
pub fn dp_hash_map(buckets: &[Bucket], max: u64) -> Option<Vec<usize>> {
    let total: u64 = buckets.iter().map(|b| b.weight as u64).sum();
    let min = buckets.iter().map(|b| b.weight).filter(|w| *w > 0).min()?;
    if total == 0 {
        return None;
    }
    let n_hash = total.div_ceil(min as u64).next_power_of_two().max(16);
    if n_hash > MAX_HASH_VALUES || (max != 0 && n_hash > max) {
        return None;
    }
    let mut divisor: Vec<u32> = vec![1; buckets.len()];
    let mut value: Vec<f64> = buckets.iter().map(|b| b.weight as f64).collect();
    let mut map = Vec::with_capacity(n_hash as usize);
    for _ in 0..n_hash {
        let mut win = 0;
        for i in 1..buckets.len() {
            if value[i] > value[win] {
                win = i;
            }
        }
        divisor[win] += 2;
        value[win] = buckets[win].weight as f64 / divisor[win] as f64;
        map.push(win);
    }
    Some(map)
}

impl Ctx<'_, '_> {
    pub(crate) fn group(&mut self, id: u32) {
        let br = self.br();
        let Some(g) = br.ofproto.groups.get(&id) else {
            self.note(|| format!("output to nonexistent group {id}"));
            return;
        };
        if self.depth >= MAX_DEPTH {
            self.out.error = Some(XlateError::TooDeep);
            return;
        }
        let chosen: Vec<usize> = match g.type_ {
            GT_ALL => (0..g.buckets.len()).collect(),
            GT_INDIRECT => (0..g.buckets.len().min(1)).collect(),
            GT_FF => g
                .buckets
                .iter()
                .position(|b| br.ofproto.bucket_is_live(b, 0))
                .into_iter()
                .collect(),
            GT_SELECT if self.was_mpls => {
                // Selection may read L3 and L4: after pop_mpls, only once
                // the datapath has parsed the packet again.
                self.trigger_freeze();
                Vec::new()
            }
            GT_SELECT => {
                let b = self.select_bucket(g);
                match b {
                    Some(i) => {
                        let bid = g.buckets[i].bucket_id;
                        self.note(|| format!(" -> using bucket {bid}"));
                    }
                    None => self.note(|| " -> no live bucket".to_string()),
                }
                b.into_iter().collect()
            }
            _ => Vec::new(),
        };
        self.depth += 1;
        for i in chosen {
            let b = &g.buckets[i];
            self.note(|| format!("bucket {}", b.bucket_id));
            let saved = self.flow;
            let saved_mpls = self.was_mpls;
            self.do_actions(&b.actions);
            if self.freezing.active {
                self.finish_freezing();
            }
            self.flow = saved;
            self.was_mpls = saved_mpls;
            // A bucket that exits does not end the actions after the
            // group (as OVS: each bucket is a copy of the packet).
            self.exit = false;
        }
        self.depth -= 1;
    }

    fn select_bucket(&mut self, g: &Group) -> Option<usize> {
        match method(g) {
            Method::DpHash { alg, basis, map } if self.recirc.is_some() => {
                let h = dp_hash(&self.flow);
                if h == 0 && !self.dp_hash_valid {
                    self.trigger_recirculate_with_hash(alg, basis);
                    return None;
                }
                let mask = map.len() as u32 - 1;
                self.wc.0[dp::W_MD1] |= (mask as u64) << dp::DP_HASH.shift;
                let br = self.br();
                (0..=mask)
                    .map(|i| map[(h.wrapping_add(i) & mask) as usize])
                    .find(|b| br.ofproto.bucket_is_live(&g.buckets[*b], 0))
            }
            Method::Hash => {
                let sel = Selection::from_props(&g.props);
                let basis = self.hash_fields(&sel);
                self.best_bucket(g, basis)
            }
            _ => {
                let basis = self.hash_symmetric_l4();
                self.best_bucket(g, basis)
            }
        }
    }

    /// OVS's `group_best_live_bucket`: the live bucket with the highest
    /// score (the last of equals).
    fn best_bucket(&mut self, g: &Group, basis: u32) -> Option<usize> {
        let br = self.br();
        let mut best = None;
        let mut best_score = 0u32;
        for (i, b) in g.buckets.iter().enumerate() {
            if !br.ofproto.bucket_is_live(b, 0) {
                self.note(|| format!(" -> bucket {}: not live", b.bucket_id));
                continue;
            }
            let score = (hash_int(b.bucket_id, basis) & 0xffff).wrapping_mul(b.weight as u32);
            if score >= best_score {
                best = Some(i);
                best_score = score;
            }
            self.note(|| format!(" -> bucket {}: score {score}", b.bucket_id));
        }
        best
    }

    /// The hash of the selection's fields (masked), un-wildcarding them;
    /// fields whose header the packet lacks are skipped.
    fn hash_fields(&mut self, sel: &Selection) -> u32 {
        let mut basis = hash_uint64(sel.param);
        for (field, mask) in &sel.fields {
            if !self.prereqs_ok(*field) {
                continue;
            }
            let Ok(v) = self.flow.get_field(*field) else {
                continue;
            };
            let bytes: Vec<u8> = v
                .as_bytes()
                .iter()
                .zip(mask.iter().chain(std::iter::repeat(&0xff)))
                .map(|(b, m)| b & m)
                .collect();
            basis = hash_bytes(&bytes, basis);
            let m = mask.iter().fold(0u128, |acc, b| (acc << 8) | *b as u128);
            self.wc_field_bits(*field, m);
        }
        basis
    }

    /// The default selection's hash: OVS's symmetric L4 fields (the
    /// xor of the Ethernet addresses, VLAN ids, type, the xor of the IP
    /// addresses, protocol and, for TCP and SCTP, the xor of the ports),
    /// un-wildcarding exactly what OVS's `flow_mask_hash_fields` does.
    /// OVS hashes them with jhash, this with [`hash_bytes`]: the megaflow
    /// is OVS's, the bucket chosen may differ. OVS 3.1 takes this path
    /// only when a group's weights need more than 256 hash values.
    fn hash_symmetric_l4(&mut self) -> u32 {
        let f = self.flow;
        let get = |fld: dp::Field| f.bits(fld.word as usize, fld.shift as u32, fld.bits as u32);
        for fld in [dp::DL_SRC, dp::DL_DST] {
            self.wc.0[fld.word as usize] |= fld.word_mask();
        }
        self.wc.0[dp::W_VLAN] |= 0x1fff | 0x1fff << 32;
        let mut bytes = Vec::with_capacity(32);
        let t = get(dp::DL_TYPE) as u16;
        let proto = super::nw_proto(&f);
        let ip = super::is_ip_any(&f);
        if t == 0x0800 {
            for fld in [dp::NW_SRC, dp::NW_DST] {
                self.wc.0[fld.word as usize] |= fld.word_mask();
            }
            bytes.extend_from_slice(&((get(dp::NW_SRC) ^ get(dp::NW_DST)) as u32).to_be_bytes());
        } else if t == 0x86dd {
            for wd in [dp::W_IPV6_SRC, dp::W_IPV6_DST] {
                self.wc.0[wd] = !0;
                self.wc.0[wd + 1] = !0;
            }
            for k in 0..2 {
                let x = f.0[dp::W_IPV6_SRC + k] ^ f.0[dp::W_IPV6_DST + k];
                bytes.extend_from_slice(&x.to_be_bytes());
            }
        }
        if ip {
            self.wc.0[dp::W_NW_MISC] |= dp::NW_PROTO.word_mask();
            if proto != 17 {
                let m = if proto == 1 { 0xff } else { !0 };
                for fld in [dp::TP_SRC, dp::TP_DST] {
                    self.wc.0[fld.word as usize] |= (m & fld.word_mask() >> fld.shift) << fld.shift;
                }
            }
        }
        bytes.extend_from_slice(&t.to_be_bytes());
        let vid = (f.0[dp::W_VLAN] ^ (f.0[dp::W_VLAN] >> 32)) as u16 & 0x0fff;
        bytes.extend_from_slice(&vid.to_be_bytes());
        let ports = if ip && matches!(proto, 6 | 132) {
            (get(dp::TP_SRC) ^ get(dp::TP_DST)) as u16
        } else {
            0
        };
        bytes.extend_from_slice(&ports.to_be_bytes());
        bytes.extend_from_slice(&(get(dp::DL_SRC) ^ get(dp::DL_DST)).to_be_bytes()[2..]);
        bytes.push(if ip { proto } else { 0 });
        hash_bytes(&bytes, 0)
    }
}
