//! Committing ICMP and ICMPv6 changes. Type and code: one whole
//! (unmasked) `set(icmp(type=T,code=C))` / `set(icmpv6(...))`, as OVS's
//! `commit_set_icmp_action`, after the L4 ports; both fields then belong
//! to the megaflow. Type and code live in the low bytes of the flow's
//! `tp_src` and `tp_dst`, as in OVS. Neighbor discovery (target, source
//! and target link-layer addresses, for an ICMPv6 packet): one masked
//! `set(nd(...))` with the megaflow bits of the changed fields, as OVS's
//! `commit_set_nd_action`, before type and code.

use ferrovs_datapath::actions::{DpAction, Masked, SetField, SetNd};
use ferrovs_datapath::flow::layout as dp;

use super::{dl_type, nw_proto, Ctx};

fn nd_target(f: &crate::flow::OfFlow) -> u128 {
    (f.0[dp::W_ND_TARGET] as u128) << 64 | f.0[dp::W_ND_TARGET + 1] as u128
}

impl Ctx<'_, '_> {
    fn commit_nd(&mut self) {
        let (f, b, w) = (&self.flow, &self.base, &self.wc);
        let mac = |x: &crate::flow::OfFlow, word: usize| x.0[word] & 0xffff_ffff_ffff;
        let (t, bt) = (nd_target(f), nd_target(b));
        let (s, bs) = (mac(f, dp::W_ARP_SHA), mac(b, dp::W_ARP_SHA));
        let (l, bl) = (mac(f, dp::W_ARP_THA), mac(b, dp::W_ARP_THA));
        if (t, s, l) == (bt, bs, bl) {
            return;
        }
        let tm = if t != bt { nd_target(w) } else { 0 };
        let sm = if s != bs { mac(w, dp::W_ARP_SHA) } else { 0 };
        let lm = if l != bl { mac(w, dp::W_ARP_THA) } else { 0 };
        let nd = SetNd {
            target: Masked {
                value: t & tm,
                mask: tm,
            },
            sll: Masked {
                value: s & sm,
                mask: sm,
            },
            tll: Masked {
                value: l & lm,
                mask: lm,
            },
        };
        self.out
            .actions
            .push(DpAction::Set(SetField::Nd(Box::new(nd))));
        for word in [
            dp::W_ND_TARGET,
            dp::W_ND_TARGET + 1,
            dp::W_ARP_SHA,
            dp::W_ARP_THA,
        ] {
            self.base.0[word] = self.flow.0[word];
        }
    }

    pub(crate) fn commit_icmp(&mut self) {
        if dl_type(&self.base) == 0x86dd && nw_proto(&self.base) == 58 {
            self.commit_nd();
        }
        let v6 = match (dl_type(&self.flow), nw_proto(&self.flow)) {
            (0x0800, 1) => false,
            (0x86dd, 58) => true,
            _ => return,
        };
        let get = |f: &crate::flow::OfFlow, x: dp::Field| f.bits(dp::W_TP, x.shift as u32, 8) as u8;
        let (t, c) = (get(&self.flow, dp::TP_SRC), get(&self.flow, dp::TP_DST));
        if (t, c) == (get(&self.base, dp::TP_SRC), get(&self.base, dp::TP_DST)) {
            return;
        }
        self.out.actions.push(DpAction::Set(SetField::Icmp {
            v6,
            r#type: Masked { value: t, mask: !0 },
            code: Masked { value: c, mask: !0 },
        }));
        self.wc.0[dp::W_TP] |= 0xff << dp::TP_SRC.shift | 0xff << dp::TP_DST.shift;
        self.base
            .set_bits(dp::W_TP, dp::TP_SRC.shift as u32, 8, t as u64);
        self.base
            .set_bits(dp::W_TP, dp::TP_DST.shift as u32, 8, c as u64);
    }
}

#[cfg(test)]
mod tests {
    use ferrovs_datapath::flow::layout as dp;

    use super::super::tests::{bridge, run, run_on};

    #[test]
    fn icmp_type_code_set_whole() {
        let b = bridge(
            "br0",
            &[1, 2],
            &[
                "in_port=1,icmp actions=set_field:3->icmp_type,set_field:1->icmp_code,output:2",
                "in_port=1,icmp6 actions=set_field:1->icmpv6_code,output:2",
            ],
        );
        let (a, o) = run_on(&[&b], 0, "in_port=1,icmp,icmp_type=8");
        assert_eq!(a, "set(icmp(type=3,code=1)),102");
        assert_eq!(o.wc.bits(dp::W_TP, dp::TP_SRC.shift as u32, 16), 0xff);
        assert_eq!(
            run(&b, "in_port=1,icmp6,icmp_type=128"),
            "set(icmpv6(type=128,code=1)),102"
        );
        assert_eq!(run(&b, "in_port=1,icmp,icmp_type=3,icmp_code=1"), "102");
    }

    #[test]
    fn nd_fields_are_one_masked_set() {
        let b = bridge(
            "br0",
            &[1, 2],
            &["in_port=1,icmp6,icmp_type=135 actions=set_field:2001:db8::7->nd_target,set_field:00:00:00:00:00:07->nd_sll,output:2"],
        );
        assert_eq!(
            run(
                &b,
                "in_port=1,icmp6,icmp_type=135,icmp_code=0,nd_target=2001:db8::1"
            ),
            "set(nd(target=2001:db8::7,sll=00:00:00:00:00:07)),102"
        );
    }
}
