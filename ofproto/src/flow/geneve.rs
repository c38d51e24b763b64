//! Geneve options between the datapath's raw form and `tun_metadata<n>`.
//!
//! The datapath keeps a decapsulated packet's options as they came on the
//! wire (the `W_TUN_GNV*` words, OVS's "UDPIF" form): it needs no TLV map
//! and a megaflow matches the bytes where they sit. Translation gives them
//! meaning with the ingress bridge's [`TlvMap`] ([`map_options`]: each
//! mapped option's data goes to its slice of the option space and its
//! present bit is set), and turns back what the tables looked at into a
//! mask over the raw bytes ([`options_mask`]: every option header and the
//! length exact, so a megaflow never mistakes one option list for another,
//! the data bytes as far as the rules read them). [`build_options`] writes
//! the present options of a flow as a Geneve option list, for `tnl_push`.
//!
//! Options are short (a few words) and this runs per upcall only, so a
//! plain walk is fine.

use ferrovs_datapath::flow::layout::{self as dp, TUN_GNV_OPT_BYTES};

use super::place::{md_byte, set_md_byte};
use super::{OfFlow, TlvMap, TlvSlot, W_TUN_MD_PRESENT};

/// The type bit of a critical option (a receiver that does not know it
/// must drop the packet).
const GENEVE_CRIT_OPT_TYPE: u8 = 0x80;

/// Why a packet's options cannot be read with the map (OVS drops such a
/// packet: "Invalid Geneve tunnel metadata").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GeneveMdError {
    #[error("Geneve option list cut short")]
    Truncated,
    #[error("Geneve option {class:#x}/{type_:#x} is {len} bytes, its mapping says otherwise")]
    LengthMismatch { class: u16, type_: u8, len: usize },
    #[error("unknown critical Geneve option {class:#x}/{type_:#x}")]
    UnknownCritical { class: u16, type_: u8 },
}

/// One option of the raw list: where it starts, class, type, data length.
struct RawOpt {
    at: usize,
    class: u16,
    type_: u8,
    len: usize,
}

fn raw_byte(f: &OfFlow, i: usize) -> u8 {
    (f.0[dp::W_TUN_GNV_OPTS + i / 8] >> (56 - 8 * (i % 8))) as u8
}

fn set_raw_byte(f: &mut OfFlow, i: usize, b: u8) {
    let sh = 56 - 8 * (i % 8);
    let w = &mut f.0[dp::W_TUN_GNV_OPTS + i / 8];
    *w = (*w & !(0xff << sh)) | (b as u64) << sh;
}

fn raw_len(f: &OfFlow) -> usize {
    (f.bits(dp::W_TUN_GNV, dp::TUN_GNV_LEN.shift as u32, 8) as usize).min(TUN_GNV_OPT_BYTES)
}

/// Walks the raw options of `f`.
fn raw_opts(f: &OfFlow) -> Result<Vec<RawOpt>, GeneveMdError> {
    let n = raw_len(f);
    let mut v = Vec::new();
    let mut at = 0;
    while at < n {
        if n - at < 4 {
            return Err(GeneveMdError::Truncated);
        }
        let len = (raw_byte(f, at + 3) & 0x1f) as usize * 4;
        if at + 4 + len > n {
            return Err(GeneveMdError::Truncated);
        }
        v.push(RawOpt {
            at,
            class: u16::from_be_bytes([raw_byte(f, at), raw_byte(f, at + 1)]),
            type_: raw_byte(f, at + 2),
            len,
        });
        at += 4 + len;
    }
    Ok(v)
}

fn slot_of(tlv: &TlvMap, class: u16, type_: u8) -> Option<(u8, TlvSlot)> {
    tlv.iter()
        .find(|(_, s)| s.class == class && s.r#type == type_)
}

/// Fills `tun_metadata<n>` of `f` from its raw Geneve options, as OVS's
/// `tun_metadata_from_geneve_udpif`: a mapped option whose length differs
/// from its mapping, or an unknown critical option, is an error.
pub fn map_options(f: &mut OfFlow, tlv: &TlvMap) -> Result<(), GeneveMdError> {
    for o in raw_opts(f)? {
        match slot_of(tlv, o.class, o.type_) {
            Some((idx, s)) if s.len as usize == o.len => {
                for i in 0..o.len {
                    let b = raw_byte(f, o.at + 4 + i);
                    set_md_byte(f, s.offset as usize + i, b);
                }
                f.0[W_TUN_MD_PRESENT] |= 1 << idx;
            }
            Some(_) => {
                return Err(GeneveMdError::LengthMismatch {
                    class: o.class,
                    type_: o.type_,
                    len: o.len,
                })
            }
            None if o.type_ & GENEVE_CRIT_OPT_TYPE != 0 => {
                return Err(GeneveMdError::UnknownCritical {
                    class: o.class,
                    type_: o.type_,
                })
            }
            None => {}
        }
    }
    Ok(())
}

/// Sets in `wc` the mask of the raw options of packet `base`, as OVS's
/// xlate does: the length always exact (so a megaflow never takes a
/// packet with more or fewer options, nor one with options for one
/// without); if the tables looked at any `tun_metadata`, also every option
/// header exact (the reserved bits left out) and each mapped option's data
/// as the `tun_metadata` bits `wc` examined, other data wildcarded
/// (`tun_metadata_to_geneve_mask__`).
pub fn options_mask(base: &OfFlow, wc: &mut OfFlow, tlv: &TlvMap) {
    let tunnelled = base.0[dp::W_TUN_V4..=dp::W_TUN_MISC]
        .iter()
        .any(|w| *w != 0);
    if !tunnelled {
        return;
    }
    wc.0[dp::W_TUN_GNV] |= dp::TUN_GNV_LEN.word_mask();
    if wc.0[W_TUN_MD_PRESENT] == 0 {
        return;
    }
    // A list that does not walk cannot come from tnl_pop; mask it whole.
    let Ok(opts) = raw_opts(base) else {
        for i in 0..raw_len(base) {
            set_raw_byte(wc, i, 0xff);
        }
        return;
    };
    for o in opts {
        for (i, b) in [0xff, 0xff, 0xff, 0x1f].into_iter().enumerate() {
            set_raw_byte(wc, o.at + i, b);
        }
        let slot = slot_of(tlv, o.class, o.type_).filter(|(_, s)| s.len as usize == o.len);
        for i in 0..o.len {
            let m = slot.map_or(0, |(_, s)| md_byte(wc, s.offset as usize + i));
            set_raw_byte(wc, o.at + 4 + i, m);
        }
    }
}

/// The Geneve option list of the options present in `f` (in index order,
/// as OVS's `tun_metadata_to_geneve__`), and whether one is critical.
pub fn build_options(f: &OfFlow, tlv: &TlvMap) -> (Vec<u8>, bool) {
    let mut v = Vec::new();
    let mut crit = false;
    for (idx, s) in tlv.iter() {
        if f.0[W_TUN_MD_PRESENT] >> idx & 1 == 0 {
            continue;
        }
        v.extend_from_slice(&s.class.to_be_bytes());
        v.push(s.r#type);
        v.push(s.len / 4);
        for i in 0..s.len as usize {
            v.push(md_byte(f, s.offset as usize + i));
        }
        crit |= s.r#type & GENEVE_CRIT_OPT_TYPE != 0;
    }
    (v, crit)
}

/// Unwildcards in `wc` what [`build_options`] reads of `f`.
pub fn unwild_present(f: &OfFlow, wc: &mut OfFlow, tlv: &TlvMap) {
    wc.0[W_TUN_MD_PRESENT] = !0;
    for (idx, s) in tlv.iter() {
        if f.0[W_TUN_MD_PRESENT] >> idx & 1 != 0 {
            for i in 0..s.len as usize {
                set_md_byte(wc, s.offset as usize + i, 0xff);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tunnelled(opts: &[u8]) -> OfFlow {
        let mut f = OfFlow::default();
        f.0[dp::W_TUN_V4] = 0x0101_025c_0101_0258;
        f.0[dp::W_TUN_GNV] = opts.len() as u64;
        for (i, b) in opts.iter().enumerate() {
            set_raw_byte(&mut f, i, *b);
        }
        f
    }

    const OPTS: [u8; 16] = [
        0xff, 0xff, 0x80, 0x01, 0, 0, 0, 0x0a, 0xff, 0xff, 0x00, 0x01, 0, 0, 0, 0x0b,
    ];

    #[test]
    fn mapped_option_reaches_tun_metadata_and_mask_follows_reads() {
        let mut tlv = TlvMap::new();
        tlv.add(0, 0xffff, 0x80, 4).unwrap();
        let mut f = tunnelled(&OPTS);
        map_options(&mut f, &tlv).unwrap();
        assert_eq!(f.0[W_TUN_MD_PRESENT], 1);
        assert_eq!(
            (0..4).map(|i| md_byte(&f, i)).collect::<Vec<_>>(),
            [0, 0, 0, 0xa]
        );
        // Nothing read: only the length is matched.
        let mut wc = OfFlow::default();
        options_mask(&f, &mut wc, &tlv);
        assert_eq!(wc.0[dp::W_TUN_GNV], 0xff);
        assert_eq!(wc.0[dp::W_TUN_GNV_OPTS], 0);
        // The tables read tun_metadata0 under 0xf.
        let mut wc = OfFlow::default();
        wc.0[W_TUN_MD_PRESENT] = 1;
        set_md_byte(&mut wc, 3, 0x0f);
        options_mask(&f, &mut wc, &tlv);
        assert_eq!(wc.0[dp::W_TUN_GNV], 0xff);
        let m: Vec<u8> = (0..16).map(|i| raw_byte(&wc, i)).collect();
        assert_eq!(
            m,
            [0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0x0f, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0]
        );
        // Back to a list: only the mapped, present option.
        let (b, crit) = build_options(&f, &tlv);
        assert_eq!(b, OPTS[..8]);
        assert!(crit);
    }

    #[test]
    fn bad_lists_are_errors_as_in_ovs() {
        let mut tlv = TlvMap::new();
        tlv.add(0, 0xffff, 0x80, 8).unwrap();
        let mut f = tunnelled(&OPTS);
        assert!(matches!(
            map_options(&mut f, &tlv),
            Err(GeneveMdError::LengthMismatch { .. })
        ));
        let mut f = tunnelled(&OPTS);
        assert!(matches!(
            map_options(&mut f, &TlvMap::new()),
            Err(GeneveMdError::UnknownCritical { .. })
        ));
        // A non-critical unknown option is ignored.
        let mut f = tunnelled(&OPTS[8..]);
        assert_eq!(map_options(&mut f, &TlvMap::new()), Ok(()));
        assert_eq!(f.0[W_TUN_MD_PRESENT], 0);
        let mut f = tunnelled(&OPTS[..6]);
        assert_eq!(map_options(&mut f, &tlv), Err(GeneveMdError::Truncated));
    }

    #[test]
    fn no_tunnel_no_mask_and_no_options_exact_length() {
        let mut wc = OfFlow::default();
        options_mask(&OfFlow::default(), &mut wc, &TlvMap::new());
        assert!(wc.is_zero());
        options_mask(&tunnelled(&[]), &mut wc, &TlvMap::new());
        assert_eq!(wc.0[dp::W_TUN_GNV], 0xff);
    }
}
