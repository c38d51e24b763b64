//! The four lookup stages (metadata, L2, L3, L4) as bit masks over an
//! [`OfFlow`], following the order of OVS's `struct flow` segments: a
//! subtable probes its metadata bits first and looks at L2 only if some
//! rule has those metadata bits, and so on, so that a miss leaves the later
//! layers out of the megaflow.
//!
//! Membership is per bit, not per word, because a few words mix layers
//! (`tcp_flags`, which this classifier keeps with L3, shares a word with
//! the ports). As in OVS 3.1's `struct flow`, the L4 stage starts at
//! `nd_target`: ARP's and ND's hardware addresses and the ND target are
//! L4.

use std::sync::OnceLock;

use ferrovs_datapath::flow::layout as dp;

use crate::flow::{OfFlow, OF_WORDS, W_ND_RESERVED};

pub(crate) const N_STAGES: usize = 4;
pub(crate) const L3: usize = 2;
pub(crate) const METADATA: usize = 0;

fn build() -> [OfFlow; N_STAGES] {
    let mut s = [OfFlow::default(); N_STAGES];
    for w in 0..OF_WORDS {
        let stage = match w {
            dp::W_CT_NW => L3,
            _ if (dp::W_CT_IPV6_SRC..dp::W_CT_IPV6_DST + 2).contains(&w) => L3,
            dp::W_CT_TP | W_ND_RESERVED => 3,
            // OVS's L4 segment starts at nd_target: arp_sha, arp_tha
            // and nd_target are looked at with the ports.
            dp::W_ARP_SHA | dp::W_ARP_THA => 3,
            _ if (dp::W_ND_TARGET..dp::W_ND_TARGET + 2).contains(&w) => 3,
            _ if (dp::W_DL_DST..=dp::W_DL_TYPE).contains(&w) || w == dp::W_MPLS => 1,
            _ if (dp::W_NW..dp::W_TP).contains(&w) => L3,
            _ if (dp::W_NSH..dp::W_NSH_C + 2).contains(&w) => L3,
            _ => METADATA,
        };
        s[stage].0[w] = !0;
    }
    // tcp_flags goes with L3, the ports with L4.
    s[3].0[dp::W_TP] = dp::TP_SRC.word_mask() | dp::TP_DST.word_mask();
    s[L3].0[dp::W_TP] = !s[3].0[dp::W_TP];
    s[METADATA].0[dp::W_TP] = 0;
    s
}

/// The stage masks; every bit of a flow is in exactly one.
pub(crate) fn stage_masks() -> &'static [OfFlow; N_STAGES] {
    static MASKS: OnceLock<[OfFlow; N_STAGES]> = OnceLock::new();
    MASKS.get_or_init(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_and_nd_addresses_are_l4_as_in_ovs() {
        let s = stage_masks();
        for w in [
            dp::W_ARP_SHA,
            dp::W_ARP_THA,
            dp::W_ND_TARGET,
            dp::W_ND_TARGET + 1,
        ] {
            assert_eq!(s[3].0[w], !0, "word {w}");
        }
        assert_eq!(s[L3].0[dp::W_NW], !0);
    }

    #[test]
    fn stages_partition_every_bit() {
        let s = stage_masks();
        for w in 0..OF_WORDS {
            let mut all = 0u64;
            for st in s {
                assert_eq!(all & st.0[w], 0, "word {w} in two stages");
                all |= st.0[w];
            }
            assert_eq!(all, !0, "word {w} not covered");
        }
    }
}
