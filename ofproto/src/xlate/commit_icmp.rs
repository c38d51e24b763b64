//! Committing ICMP and ICMPv6 type/code changes: one whole (unmasked)
//! `set(icmp(type=T,code=C))` / `set(icmpv6(...))`, as OVS's
//! `commit_set_icmp_action`, after the L4 ports; both fields then belong
//! to the megaflow. Type and code live in the low bytes of the flow's
//! `tp_src` and `tp_dst`, as in OVS.

use ferrovs_datapath::actions::{DpAction, Masked, SetField};
use ferrovs_datapath::flow::layout as dp;

use super::{dl_type, nw_proto, Ctx};

impl Ctx<'_, '_> {
    pub(crate) fn commit_icmp(&mut self) {
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
}
