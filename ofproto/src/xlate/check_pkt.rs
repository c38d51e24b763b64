//! `check_pkt_larger(LEN)->DST` and `sample(...)`.
//!
//! `check_pkt_larger` depends on the packet's length, which a megaflow
//! does not match, so (as OVS with a datapath that has `check_pkt_len`)
//! the rest of the action list is translated twice: once with DST set to
//! 1 into the datapath action's "greater" branch, once with DST 0 into its
//! "less or equal" branch. Each branch starts from the flow, datapath
//! headers, empty stack and empty action set as they are at the action,
//! ends by running its own action set (after the rule's write-actions
//! and goto_table, when the action is in the rule's apply-actions list),
//! and leaves nothing behind: after
//! the action, translation of this list is over (the caller's lists go
//! on). The branches' wildcards add up (the megaflow covers both). As
//! OVS 3.1, the action is emitted even when nothing follows it.
//!
//! `sample` only feeds IPFIX collectors (a bridge's `Flow_Sample_Collector_
//! Set`), which ferrovs does not export to: as OVS on a bridge without an
//! IPFIX configuration, it translates to nothing.

use ferrovs_datapath::actions::DpAction;
use ferrovs_openflow::action::{Action, Subfield};
use ferrovs_openflow::{Instruction, Value};

use super::Ctx;
use crate::flow::TlvMap;

impl<'a> Ctx<'a, '_> {
    /// `check_pkt_larger(pkt_len)->dst` followed by `rest`.
    pub(crate) fn check_pkt_larger(&mut self, pkt_len: u16, dst: &Subfield, rest: &[Action]) {
        // When `rest` ends the running rule's apply-actions, its other
        // instructions (write/clear actions, metadata, goto_table) are
        // part of what follows, as in OVS's single action list.
        let tail = self.rule.map(|r| &r.instructions[..]).filter(|insts| {
            insts.iter().any(|i| {
                matches!(i, Instruction::ApplyActions(l)
                    if l.as_ptr_range().end == rest.as_ptr_range().end)
            })
        });
        self.commit();
        let flow = self.flow;
        let base = self.base;
        let was_mpls = self.was_mpls;
        let stack = std::mem::take(&mut self.stack);
        let set = std::mem::take(&mut self.action_set);
        let exit = self.exit;
        let before = std::mem::take(&mut self.out.actions);
        let mut branches = [Vec::new(), Vec::new()];
        for (larger, out) in [(1u128, 0usize), (0, 1)] {
            self.flow = flow;
            self.base = base;
            self.was_mpls = was_mpls;
            self.exit = false;
            self.write_subfield_flow(dst, larger);
            self.do_actions(rest);
            if let Some(insts) = tail {
                if !self.exit && self.out.error.is_none() {
                    self.run_tail(insts);
                }
            }
            if !self.action_set.is_empty() && self.out.error.is_none() {
                let s = std::mem::take(&mut self.action_set);
                self.exit = false;
                self.do_actions(&s.into_ordered());
            }
            self.stack.clear();
            branches[out] = std::mem::take(&mut self.out.actions);
        }
        let [gt, le] = branches;
        self.out.actions = before;
        self.out.actions.push(DpAction::CheckPktLen {
            max_len: pkt_len,
            gt: gt.into_boxed_slice(),
            le: le.into_boxed_slice(),
        });
        self.flow = flow;
        self.base = base;
        self.stack = stack;
        self.action_set = set;
        self.exit = exit;
        self.tail_done = tail.is_some();
    }

    /// Writes `v` into subfield `sf` of the flow without reading it (OVS
    /// `mf_write_subfield_flow`: not in the megaflow).
    fn write_subfield_flow(&mut self, sf: &Subfield, v: u128) {
        let width = sf.field.info().width as usize;
        if width > 16 {
            return;
        }
        let m = if sf.n_bits >= 128 {
            !0
        } else {
            ((1u128 << sf.n_bits) - 1) << sf.ofs
        };
        let _ = self.flow.set_field_masked(
            sf.field,
            &Value::from_u128_width(v << sf.ofs, width),
            &Value::from_u128_width(m, width),
            &TlvMap::EMPTY,
        );
    }

    /// `sample(...)`: no IPFIX exporter, nothing to do (as OVS without
    /// IPFIX configured).
    pub(crate) fn sample(&mut self) {}
}

#[cfg(test)]
mod tests {
    use ferrovs_datapath::flow::layout as dp;

    use super::super::tests::{bridge, run, run_on};

    #[test]
    fn both_branches_translate_the_rest_of_the_list() {
        let b = bridge(
            "br0",
            &[1, 2, 3],
            &[
                "in_port=1 actions=mod_dl_src:00:00:00:00:00:01,check_pkt_larger(1500)->NXM_NX_REG0[0],resubmit(,1),output:3",
                "table=1,reg0=0x1 actions=mod_dl_dst:00:00:00:00:00:09,output:2",
                "table=1,reg0=0 actions=output:2",
                "in_port=2 actions=check_pkt_larger(64)->NXM_NX_REG1[3]",
            ],
        );
        let (a, o) = run_on(&[&b], 0, "in_port=1,dl_dst=00:00:00:00:00:05");
        assert_eq!(
            a,
            "set(eth(src=00:00:00:00:00:01)),check_pkt_len(size=1500,gt(set(eth(dst=00:00:00:00:00:09)),102,103),le(102,103))"
        );
        // The rewrite in the gt branch does not leak into le: dl_dst was
        // written, so it is in the megaflow, but the final flow is the
        // one before the action.
        assert_eq!(o.wc.bits(dp::W_DL_DST, 0, 48), 0xffff_ffff_ffff);
        assert_eq!(o.final_flow.bits(dp::W_DL_DST, 0, 48), 5);
        // Last in its list: OVS 3.1 still emits the action.
        assert_eq!(
            run(&b, "in_port=2"),
            "check_pkt_len(size=64,gt(drop),le(drop))"
        );
    }

    #[test]
    fn goto_and_write_actions_of_the_rule_run_in_each_branch() {
        let b = bridge(
            "br0",
            &[1, 2, 3],
            &[
                "in_port=1 actions=check_pkt_larger(100)->NXM_NX_REG0[0],write_actions(output:3),goto_table:1",
                "table=1,reg0=1 actions=output:2",
                "table=1,reg0=0 actions=drop",
            ],
        );
        assert_eq!(
            run(&b, "in_port=1"),
            "check_pkt_len(size=100,gt(102,103),le(103))"
        );
    }

    #[test]
    fn sample_without_ipfix_is_nothing() {
        let b = bridge(
            "br0",
            &[1, 2],
            &["in_port=1 actions=sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3),output:2"],
        );
        assert_eq!(run(&b, "in_port=1"), "102");
    }
}
