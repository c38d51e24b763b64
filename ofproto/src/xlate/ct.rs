//! The `ct` and `ct_clear` actions: OpenFlow's connection tracking into
//! the datapath's `ct(...)` action, as OVS's `compose_conntrack_action`.
//!
//! A `ct` first commits pending header changes (the tracker sees the
//! packet as it is now), then runs its nested actions against the flow:
//! `set_field`/`load` of `ct_mark`/`ct_label` leave their value and the
//! bits written in the flow and the wildcards, and `nat` is remembered.
//! The datapath action carries the zone (fixed, or read from a register,
//! which un-wildcards those bits), the mark and label under the bits the
//! nested actions wrote, the helper and the NAT range. With `table=T`
//! the packet recirculates after the tracker and resumes at table T with
//! `conntracked` set, so that its `ct_*` fields mean something there.
//! Whatever follows a `ct` in this pass sees an untracked packet: the
//! `ct_*` fields are cleared, as OVS does.
//!
//! No allocation beyond the one boxed action per `ct`.

use std::net::Ipv6Addr;

use ferrovs_datapath::actions::set::Masked;
use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::conntrack::{Alg, CtAction, NatKind, NatSpec};
use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::action::{Action, Ct, CtZone, Nat};

use super::Ctx;

/// The `alg=` values OVS knows (the L4 port of the protocol).
const ALG_FTP: u16 = 21;
const ALG_TFTP: u16 = 69;

impl Ctx<'_, '_> {
    /// `ct(...)`.
    pub(crate) fn conntrack(&mut self, ct: &Ct) {
        let zone = match &ct.zone {
            CtZone::Imm(z) => *z,
            CtZone::Field(sf) => self.read_subfield(sf).unwrap_or(0) as u16,
        };
        // The tracker must see the packet as the actions so far made it.
        self.commit();

        // The nested actions' writes of ct_mark/ct_label are what the
        // action sets; their masks start empty and are put back after.
        let old_mark = self.wc.0[dp::W_CT_MARK] & dp::CT_MARK.word_mask();
        let old_label = [self.wc.0[dp::W_CT_LABEL], self.wc.0[dp::W_CT_LABEL + 1]];
        self.wc.0[dp::W_CT_MARK] &= !dp::CT_MARK.word_mask();
        self.wc.0[dp::W_CT_LABEL] = 0;
        self.wc.0[dp::W_CT_LABEL + 1] = 0;
        let mut nat = None;
        for a in &ct.actions {
            match a {
                Action::Nat(n) => nat = Some(nat_spec(n)),
                other => {
                    if !self.set_action(other) {
                        self.note(|| "(action not allowed inside ct)".to_string());
                    }
                }
            }
        }
        let mark_mask = self.wc.0[dp::W_CT_MARK] & dp::CT_MARK.word_mask();
        let mark = (mark_mask != 0).then(|| {
            let m = (mark_mask >> dp::CT_MARK.shift) as u32;
            Masked {
                value: self.ct_field(dp::CT_MARK) as u32 & m,
                mask: m,
            }
        });
        let label_mask = label(&self.wc);
        let label = (label_mask != 0).then(|| Masked {
            value: label(&self.flow) & label_mask,
            mask: label_mask,
        });
        self.wc.0[dp::W_CT_MARK] = (self.wc.0[dp::W_CT_MARK] & !dp::CT_MARK.word_mask()) | old_mark;
        self.wc.0[dp::W_CT_LABEL] = old_label[0];
        self.wc.0[dp::W_CT_LABEL + 1] = old_label[1];

        let committing = ct.flags & Ct::F_COMMIT != 0;
        let act = DpAction::Ct(Box::new(CtAction {
            zone,
            commit: committing && ct.flags & Ct::F_FORCE == 0,
            force: committing && ct.flags & Ct::F_FORCE != 0,
            mark,
            label,
            nat,
            helper: match ct.alg {
                ALG_FTP => Some(Alg::Ftp),
                ALG_TFTP => Some(Alg::Tftp),
                _ => None,
            },
            timeout: None,
        }));
        if ct.recirc_table == Ct::RECIRC_NONE {
            self.out.actions.push(act);
        } else {
            self.conntracked = true;
            if let Some(id) = self.recirculate_after(ct.recirc_table, act) {
                self.out.ct_recircs.push((id, zone, self.flow, nat));
            }
        }
        self.clear_conntrack();
        self.note(|| {
            "Sets the packet to an untracked state, and clears all the conntrack fields."
                .to_string()
        });
    }

    /// `ct_clear`: as OVS, a datapath action only for a packet that
    /// went through the tracker (otherwise there is nothing to clear).
    pub(crate) fn ct_clear(&mut self) {
        if self.conntracked {
            self.clear_conntrack();
            self.out.actions.push(DpAction::CtClear);
        }
    }

    /// The packet is untracked from here on (the datapath's copy too).
    pub(crate) fn clear_conntrack(&mut self) {
        self.conntracked = false;
        clear_ct_fields(&mut self.flow);
        clear_ct_fields(&mut self.base);
    }

    fn ct_field(&self, f: dp::Field) -> u64 {
        self.flow
            .bits(f.word as usize, f.shift as u32, f.bits as u32)
    }
}

/// Zeroes the conntrack fields of a flow (state, zone, mark, label and
/// the original tuple).
pub(crate) fn clear_ct_fields(f: &mut crate::flow::OfFlow) {
    for fld in [dp::CT_STATE, dp::CT_ZONE, dp::CT_MARK, dp::CT_NW_PROTO] {
        f.set_bits(fld.word as usize, fld.shift as u32, fld.bits as u32, 0);
    }
    f.0[dp::W_CT_LABEL] = 0;
    f.0[dp::W_CT_LABEL + 1] = 0;
    f.0[dp::W_CT_NW] = 0;
    f.0[dp::W_CT_IPV6_SRC..dp::W_CT_IPV6_DST + 2].fill(0);
    f.0[dp::W_CT_TP] = 0;
}

fn label(f: &crate::flow::OfFlow) -> u128 {
    (f.0[dp::W_CT_LABEL] as u128) << 64 | f.0[dp::W_CT_LABEL + 1] as u128
}

/// The datapath's form of a `nat(...)`: as OVS's `put_ct_nat`, a max
/// address or port only when above the min, hash wins over random.
fn nat_spec(n: &Nat) -> NatSpec {
    let kind = if n.flags & Nat::F_SRC != 0 {
        Some(NatKind::Src)
    } else if n.flags & Nat::F_DST != 0 {
        Some(NatKind::Dst)
    } else {
        None
    };
    let mut s = NatSpec {
        kind,
        ..NatSpec::default()
    };
    if kind.is_none() {
        return s;
    }
    s.persistent = n.flags & Nat::F_PERSISTENT != 0;
    s.hash = n.flags & Nat::F_PROTO_HASH != 0;
    s.random = !s.hash && n.flags & Nat::F_PROTO_RANDOM != 0;
    let r = &n.range;
    let has_addr = if let Some(min) = r.ipv4_min {
        s.min_addr = u32::from_be_bytes(min) as u128;
        if let Some(max) = r.ipv4_max {
            let max = u32::from_be_bytes(max) as u128;
            if max > s.min_addr {
                s.max_addr = max;
            }
        }
        true
    } else if let Some(min) = r.ipv6_min {
        s.v6 = true;
        s.min_addr = u128::from(Ipv6Addr::from(min));
        if let Some(max) = r.ipv6_max {
            let max = u128::from(Ipv6Addr::from(max));
            if max > s.min_addr {
                s.max_addr = max;
            }
        }
        true
    } else {
        false
    };
    if has_addr {
        if let Some(min) = r.proto_min.filter(|p| *p != 0) {
            s.min_port = min;
            if let Some(max) = r.proto_max.filter(|p| *p > min) {
                s.max_port = max;
            }
        }
    }
    s
}
