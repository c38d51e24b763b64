//! Committing ARP header changes (`set_field` on arp_op, arp_spa,
//! arp_tpa, arp_sha, arp_tha): one masked `set(arp(...))` whose mask is
//! the megaflow bits of each changed field, as OVS's
//! `commit_set_arp_action`, after the L4 ports and before MPLS and VLAN.

use ferrovs_datapath::actions::{DpAction, Masked, SetArp, SetField};
use ferrovs_datapath::flow::layout::{self as dp, Field as DpField};

use super::Ctx;
use crate::flow::OfFlow;

fn get(f: &OfFlow, fld: DpField) -> u64 {
    f.bits(fld.word as usize, fld.shift as u32, fld.bits as u32)
}

const FIELDS: [DpField; 5] = [
    dp::NW_PROTO,
    dp::NW_SRC,
    dp::NW_DST,
    dp::ARP_SHA,
    dp::ARP_THA,
];

impl Ctx<'_, '_> {
    pub(crate) fn commit_arp(&mut self) {
        if !matches!(super::dl_type(&self.flow), 0x0806 | 0x8035) {
            return;
        }
        let (f, b, w) = (&self.flow, &self.base, &self.wc);
        if FIELDS.iter().all(|x| get(f, *x) == get(b, *x)) {
            return;
        }
        let m = |x: DpField| {
            let mask = if get(f, x) != get(b, x) { get(w, x) } else { 0 };
            (get(f, x) & mask, mask)
        };
        let (op, opm) = m(dp::NW_PROTO);
        let (spa, spam) = m(dp::NW_SRC);
        let (tpa, tpam) = m(dp::NW_DST);
        let (sha, sham) = m(dp::ARP_SHA);
        let (tha, tham) = m(dp::ARP_THA);
        let s = SetArp {
            op: Masked {
                value: op as u16,
                mask: opm as u16,
            },
            sha: Masked {
                value: sha,
                mask: sham,
            },
            spa: Masked {
                value: spa as u32,
                mask: spam as u32,
            },
            tha: Masked {
                value: tha,
                mask: tham,
            },
            tpa: Masked {
                value: tpa as u32,
                mask: tpam as u32,
            },
        };
        self.out
            .actions
            .push(DpAction::Set(SetField::Arp(Box::new(s))));
        for x in FIELDS {
            let v = get(&self.flow, x);
            self.base
                .set_bits(x.word as usize, x.shift as u32, x.bits as u32, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bridge, run};

    #[test]
    fn arp_fields_are_one_masked_set() {
        let b = bridge(
            "br0",
            &[1, 2],
            &["in_port=1,arp actions=set_field:198.18.0.5->arp_spa,set_field:2->arp_op,output:2"],
        );
        assert_eq!(
            run(&b, "in_port=1,arp,arp_spa=198.18.0.1,arp_op=1"),
            "set(arp(sip=198.18.0.5,op=2)),102"
        );
        // Nothing changed: no set.
        assert_eq!(run(&b, "in_port=1,arp,arp_spa=198.18.0.5,arp_op=2"), "102");
    }
}
