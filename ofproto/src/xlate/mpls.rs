//! MPLS actions: `push_mpls`, `pop_mpls`, `set_mpls_label/tc/ttl`,
//! `dec_mpls_ttl`, and committing the label stack to the datapath.
//!
//! As OVS: the flow holds up to three label stack entries (top first;
//! `mpls_lse` in the `dl_type` word, the next two in `W_MPLS`). The actions
//! edit that stack in the flow only; [`Ctx::commit_mpls`] then emits the
//! datapath `pop_mpls`, `set(mpls(...))` and `push_mpls` that take the
//! stack the datapath has (`base`) to the flow's, keeping the entries both
//! share at the bottom. Counting the stack reads the bottom-of-stack bits,
//! so those are what the megaflow keeps; a push onto an IP packet reads
//! its DSCP and TTL (the new entry's TC and TTL) and forgets L3 and L4,
//! which an MPLS packet does not expose.

use ferrovs_datapath::actions::{DpAction, Masked, SetField};
use ferrovs_datapath::flow::layout::{self as dp, FLOW_WORDS};

use ferrovs_openflow::action::Action;

use super::{dl_type, is_ip_any, Ctx, XlateError, REASON_INVALID_TTL};
use crate::flow::OfFlow;

/// Label stack entries a flow holds (OVS's FLOW_MAX_MPLS_LABELS).
pub const MAX_LABELS: usize = 3;
const BOS: u32 = 0x100;
const LABEL_MASK: u32 = 0xfffff << 12;
const TC_MASK: u32 = 7 << 9;
const TTL_MASK: u32 = 0xff;

fn is_mpls(t: u16) -> bool {
    matches!(t, 0x8847 | 0x8848)
}

/// (word, shift) of entry `i`.
fn at(i: usize) -> (usize, u32) {
    match i {
        0 => (dp::W_DL_TYPE, 32),
        1 => (dp::W_MPLS, 0),
        _ => (dp::W_MPLS, 32),
    }
}

fn lse(f: &OfFlow, i: usize) -> u32 {
    let (w, s) = at(i);
    f.bits(w, s, 32) as u32
}

fn set_lse(f: &mut OfFlow, i: usize, v: u32) {
    let (w, s) = at(i);
    f.set_bits(w, s, 32, v as u64);
}

fn or_lse(wc: &mut OfFlow, i: usize, m: u32) {
    let (w, s) = at(i);
    wc.0[w] |= (m as u64) << s;
}

fn set_dl_type(f: &mut OfFlow, t: u16) {
    f.set_bits(dp::W_DL_TYPE, dp::DL_TYPE.shift as u32, 16, t as u64);
}

/// Entries in the stack (OVS `flow_count_mpls_labels`), reading the
/// bottom-of-stack bits into `wc`.
fn count(f: &OfFlow, mut wc: Option<&mut OfFlow>) -> usize {
    if !is_mpls(dl_type(f)) {
        return 0;
    }
    let mut n = 0;
    for i in 0..MAX_LABELS {
        if let Some(wc) = wc.as_deref_mut() {
            or_lse(wc, i, BOS);
        }
        if lse(f, i) & BOS != 0 {
            return i + 1;
        }
        if lse(f, i) != 0 {
            n += 1;
        }
    }
    n
}

/// Entries equal at the bottom of both stacks.
fn common(a: &OfFlow, an: usize, b: &OfFlow, bn: usize) -> usize {
    (0..an.min(bn))
        .take_while(|i| lse(a, an - 1 - i) == lse(b, bn - 1 - i))
        .count()
}

/// Pushes an entry onto `f` (OVS `flow_push_mpls`); `clear_l3` forgets
/// the L3/L4 words (not for `base`, whose headers come back after a
/// patch port or a group bucket).
fn push(f: &mut OfFlow, n: usize, ethertype: u16, wc: Option<&mut OfFlow>, clear_l3: bool) {
    if n > 0 {
        if let Some(wc) = wc {
            for i in 0..n {
                or_lse(wc, i, !0);
            }
        }
        for i in (1..=n.min(MAX_LABELS - 1)).rev() {
            let v = lse(f, i - 1);
            set_lse(f, i, v);
        }
        let top = lse(f, 1) & !BOS;
        set_lse(f, 0, top);
    } else {
        let label = if dl_type(f) == 0x86dd { 2 } else { 0 };
        let (mut tc, mut ttl) = (0u32, 64u32);
        if is_ip_any(f) {
            let tos = f.bits(dp::W_NW_MISC, dp::NW_TOS.shift as u32, 8) as u32;
            tc = (tos & 0xfc) >> 2;
            if let Some(wc) = wc {
                wc.0[dp::W_NW_MISC] |= 0xfc << dp::NW_TOS.shift;
                wc.0[dp::W_NW_MISC] |= dp::NW_TTL.word_mask();
            }
            let t = f.bits(dp::W_NW_MISC, dp::NW_TTL.shift as u32, 8) as u32;
            if t != 0 {
                ttl = t;
            }
        }
        set_lse(f, 0, label << 12 | (tc & 7) << 9 | BOS | ttl);
        if clear_l3 {
            for w in &mut f.0[dp::W_NW..FLOW_WORDS] {
                *w = 0;
            }
            f.set_bits(dp::W_MD1, dp::DP_HASH.shift as u32, 32, 0);
        }
    }
    set_dl_type(f, ethertype);
}

/// True if `a`, run after pop_mpls to a non-MPLS type, must wait for the
/// datapath to parse the packet again (OVS's `recirc_for_mpls`): all but
/// outputs, groups (a select group checks for itself) and rewrites of
/// L2 fields.
pub(crate) fn needs_reparse(a: &Action) -> bool {
    use Action as A;
    match a {
        A::Output { .. }
        | A::OutputTrunc { .. }
        | A::Enqueue { .. }
        | A::OutputReg { .. }
        | A::SetVlanVid(_)
        | A::SetVlanPcp(_)
        | A::SetQueue(_)
        | A::SetDlSrc(_)
        | A::SetDlDst(_)
        | A::SetTunnel(_)
        | A::SetTunnel64(_)
        | A::Group(_) => false,
        A::SetField { field, .. } => l3_or_higher(*field),
        A::RegLoad { dst, .. } => l3_or_higher(dst.field),
        _ => true,
    }
}

/// OVS's `mf_is_l3_or_higher`: a field of IP, ARP, L4, ND or NSH.
fn l3_or_higher(f: ferrovs_openflow::field::Field) -> bool {
    use ferrovs_openflow::field::Prereq as P;
    !matches!(
        f.info().prereq,
        P::None | P::Ethernet | P::VlanVid | P::CtValid | P::Mpls
    )
}

/// Pops the top entry of `f` (OVS `flow_pop_mpls`); false if it cannot.
fn pop(f: &mut OfFlow, n: usize, ethertype: u16, mut wc: Option<&mut OfFlow>) -> bool {
    if n == 0 {
        return false;
    }
    if n == MAX_LABELS {
        if let Some(wc) = wc.as_deref_mut() {
            or_lse(wc, n - 1, BOS);
        }
        if lse(f, n - 1) & BOS == 0 {
            return false;
        }
    }
    if let Some(wc) = wc {
        for i in 1..n {
            or_lse(wc, i, !0);
        }
    }
    for i in 1..n {
        let v = lse(f, i);
        set_lse(f, i - 1, v);
    }
    set_lse(f, n - 1, 0);
    set_dl_type(f, ethertype);
    true
}

impl Ctx<'_, '_> {
    /// `push_mpls:ETHERTYPE`.
    pub(crate) fn push_mpls(&mut self, ethertype: u16) {
        if !is_mpls(ethertype) {
            return;
        }
        let n = count(&self.flow, Some(&mut self.wc));
        if n == 0 {
            self.commit();
        } else if n >= MAX_LABELS {
            self.out.error = Some(XlateError::TooManyMplsLabels);
            return;
        }
        push(&mut self.flow, n, ethertype, Some(&mut self.wc), true);
    }

    /// `pop_mpls:ETHERTYPE`.
    pub(crate) fn pop_mpls(&mut self, ethertype: u16) {
        let n = count(&self.flow, Some(&mut self.wc));
        if pop(&mut self.flow, n, ethertype, Some(&mut self.wc)) {
            if !is_mpls(ethertype) && self.recirc.is_some() {
                self.was_mpls = true;
            }
        } else if n >= MAX_LABELS {
            self.out.error = Some(XlateError::TooManyMplsLabels);
        }
    }

    /// `set_mpls_label`, `set_mpls_tc`, `set_mpls_ttl`: bits `mask` of
    /// the top entry become those of `v` (MPLS packets only).
    pub(crate) fn set_mpls_bits(&mut self, v: u32, mask: u32) {
        if !is_mpls(dl_type(&self.flow)) {
            return;
        }
        or_lse(&mut self.wc, 0, mask);
        let old = lse(&self.flow, 0);
        set_lse(&mut self.flow, 0, (old & !mask) | (v & mask));
    }

    /// `set_mpls_label:L`.
    pub(crate) fn set_mpls_label(&mut self, label: u32) {
        self.set_mpls_bits(label << 12, LABEL_MASK)
    }

    /// `set_mpls_tc:T`.
    pub(crate) fn set_mpls_tc(&mut self, tc: u8) {
        self.set_mpls_bits((tc as u32) << 9, TC_MASK)
    }

    /// `set_mpls_ttl:T`.
    pub(crate) fn set_mpls_ttl(&mut self, ttl: u8) {
        self.set_mpls_bits(ttl as u32, TTL_MASK)
    }

    /// `dec_mpls_ttl`: true to go on with the action list. As OVS, a TTL
    /// of 0 or 1 sends a packet-in (invalid_ttl), and a packet that is not
    /// MPLS stops the list too.
    pub(crate) fn dec_mpls_ttl(&mut self) -> bool {
        if is_mpls(dl_type(&self.flow)) {
            or_lse(&mut self.wc, 0, TTL_MASK);
            let l = lse(&self.flow, 0);
            let ttl = l & TTL_MASK;
            if ttl > 1 {
                set_lse(&mut self.flow, 0, (l & !TTL_MASK) | (ttl - 1));
                return true;
            }
            self.packet_in(REASON_INVALID_TTL, u16::MAX, 0, Vec::new());
        }
        self.note(|| ">> MPLS decrement TTL exception".to_string());
        false
    }

    /// True if the datapath has MPLS and the flow does not: the stack is
    /// committed before L3 (OVS makes the packet IP first).
    pub(crate) fn mpls_pop_first(&self) -> bool {
        is_mpls(dl_type(&self.base)) && !is_mpls(dl_type(&self.flow))
    }

    /// Emits the `pop_mpls`/`set(mpls)`/`push_mpls` actions that take the
    /// datapath's stack to the flow's (OVS `commit_mpls_action`).
    pub(crate) fn commit_mpls(&mut self) {
        let flow_t = dl_type(&self.flow);
        let mut base_n = count(&self.base, None);
        let flow_n = count(&self.flow, None);
        let mut common_n = common(&self.flow, flow_n, &self.base, base_n);
        while base_n > common_n {
            if base_n - 1 == common_n && flow_n > common_n {
                let v = lse(&self.flow, flow_n - base_n);
                self.out.actions.push(DpAction::Set(SetField::Mpls {
                    lse: Masked { value: v, mask: !0 },
                }));
                set_lse(&mut self.base, 0, v);
                common_n += 1;
            } else {
                let t = if !is_mpls(flow_t) && base_n > 1 {
                    0x8847
                } else {
                    flow_t
                };
                self.out.actions.push(DpAction::PopMpls(t));
                pop(&mut self.base, base_n, flow_t, None);
                base_n -= 1;
            }
        }
        while base_n < flow_n {
            let v = lse(&self.flow, flow_n - base_n - 1);
            self.out.actions.push(DpAction::PushMpls {
                ethertype: flow_t,
                lse: v,
            });
            push(&mut self.base, base_n, flow_t, None, false);
            set_lse(&mut self.base, 0, v);
            base_n += 1;
        }
    }
}

/// An entry as OVS prints it: `label=L,tc=T,ttl=X,bos=B`.
pub fn lse_text(v: u32) -> String {
    format!(
        "label={},tc={},ttl={},bos={}",
        v >> 12,
        (v >> 9) & 7,
        v & 0xff,
        (v >> 8) & 1
    )
}

#[cfg(test)]
mod tests {
    use ferrovs_datapath::flow::layout as dp;

    use super::super::tests::{bridge, run, run_on};
    use super::super::REASON_INVALID_TTL;

    #[test]
    fn push_onto_ip_then_set_fields() {
        let b = bridge(
            "br0",
            &[1, 2],
            &["in_port=1,ip actions=push_mpls:0x8847,set_mpls_label:10,set_mpls_ttl:5,output:2"],
        );
        let (a, o) = run_on(
            &[&b],
            0,
            "in_port=1,ip,nw_tos=0x20,nw_ttl=9,nw_src=198.18.0.1",
        );
        assert_eq!(
            a,
            "push_mpls(label=10,tc=0,ttl=5,bos=1,eth_type=0x8847),102"
        );
        // DSCP and TTL read for the new entry; addresses not.
        assert_eq!(o.wc.bits(dp::W_NW_MISC, dp::NW_TOS.shift as u32, 8), 0xfc);
        assert_eq!(o.wc.bits(dp::W_NW_MISC, dp::NW_TTL.shift as u32, 8), 0xff);
        assert_eq!(o.wc.0[dp::W_NW], 0);
        // IPv6 gets label 2 and its tclass's DSCP as TC.
        let b = bridge(
            "br0",
            &[1, 2],
            &["in_port=1 actions=push_mpls:0x8848,output:2"],
        );
        assert_eq!(
            run(&b, "in_port=1,ipv6,nw_tos=0x60,nw_ttl=3"),
            "push_mpls(label=2,tc=0,ttl=3,bos=1,eth_type=0x8848),102"
        );
        // Not IP: TTL 64.
        assert_eq!(
            run(&b, "in_port=1,arp"),
            "push_mpls(label=0,tc=0,ttl=64,bos=1,eth_type=0x8848),102"
        );
    }

    #[test]
    fn pop_and_swap_on_mpls_packets() {
        let b = bridge(
            "br0",
            &[1, 2, 3],
            &[
                "in_port=1,mpls actions=pop_mpls:0x0800,output:2",
                "in_port=2,mpls actions=set_mpls_label:20,dec_mpls_ttl,output:3",
                "in_port=3,mpls actions=push_mpls:0x8847,set_mpls_label:30,output:1",
            ],
        );
        let (a, o) = run_on(
            &[&b],
            0,
            "in_port=1,mpls,mpls_label=10,mpls_ttl=9,mpls_bos=1",
        );
        assert_eq!(a, "pop_mpls(eth_type=0x800),102");
        // Counting the stack read the bottom-of-stack bit only.
        assert_eq!(o.wc.bits(dp::W_DL_TYPE, 32, 32), 0x100);
        let (a, o) = run_on(
            &[&b],
            0,
            "in_port=2,mpls,mpls_label=10,mpls_ttl=9,mpls_bos=1",
        );
        assert_eq!(a, "set(mpls(label=20,tc=0,ttl=8,bos=1)),103");
        assert_eq!(o.wc.bits(dp::W_DL_TYPE, 32, 32), 0xfffff0ff);
        // TTL 1: invalid_ttl packet-in, nothing after it.
        let (a, o) = run_on(
            &[&b],
            0,
            "in_port=2,mpls,mpls_label=10,mpls_ttl=1,mpls_bos=1",
        );
        assert_eq!(
            a,
            "set(mpls(label=20,tc=0,ttl=1,bos=1)),userspace(pid=0,controller(reason=2,\
             dont_send=1,continuation=0,recirc_id=1,rule_cookie=0,controller_id=0,\
             max_len=65535))"
        );
        assert_eq!(o.packet_ins[0].reason, REASON_INVALID_TTL);
        // A second entry on top of the first.
        assert_eq!(
            run(&b, "in_port=3,mpls,mpls_label=10,mpls_ttl=9,mpls_bos=1"),
            "push_mpls(label=30,tc=0,ttl=9,bos=0,eth_type=0x8847),101"
        );
    }

    #[test]
    fn dec_mpls_ttl_on_ip_stops_the_list() {
        let b = bridge("br0", &[1, 2], &["in_port=1 actions=dec_mpls_ttl,output:2"]);
        assert_eq!(run(&b, "in_port=1,ip"), "drop");
    }
}
