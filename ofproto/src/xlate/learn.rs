//! `learn` and `fin_timeout`: actions whose effect is on the flow tables,
//! not on the packet.
//!
//! Translation stays pure: `learn` builds the flow it would add (a
//! [`LearnedFlow`]: match from the `=` and bare specs, actions from the
//! `load:` and `output:` specs, fin timeouts first) and reports it in
//! [`XlateOut::learned`](super::XlateOut); the caller that owns the
//! tables (the upcall handler) applies it with [`Ofproto::apply_learned`]
//! after translation. As OVS's `xlate_learn_action`: the bits the specs
//! read are un-wildcarded whether or not the flow is learned (so every
//! packet that would learn a different flow gets its own megaflow), and
//! the flow is only built when side effects are allowed (`may_learn`: a
//! real packet, not a flow-only trace, which notes that it ignored it).
//!
//! Applying follows OVS's `OFPFC_MODIFY_STRICT` for learned flows: the
//! same match and priority in the target table is refreshed (actions,
//! cookie and timeouts replaced, idle and hard timers restarted), anything
//! else is added. `delete_learned`: when the last rule holding a learn with
//! that flag for (cookie, table) goes, the flows of that cookie in that
//! table go too ([`Ofproto::delete_learned`], called on every committed
//! removal).

use std::time::Instant;

use ferrovs_openflow::action::{Action, Learn, LearnDst, LearnSrc, Subfield};
use ferrovs_openflow::message::{FlowMod, FlowModCommand};
use ferrovs_openflow::{Instruction, Value, Version};

use super::Ctx;
use crate::flow::{OfMatch, TlvMap};
use crate::flow_mod::{Change, FlowModReq};
use crate::ofproto::Ofproto;

/// NX_LEARN_F_SEND_FLOW_REM.
pub const LEARN_F_SEND_FLOW_REM: u16 = 1;
/// NX_LEARN_F_DELETE_LEARNED.
pub const LEARN_F_DELETE_LEARNED: u16 = 2;

/// True if `instructions` have a `learn` with `delete_learned`.
pub(crate) fn deletes_learned(instructions: &[ferrovs_openflow::Instruction]) -> bool {
    crate::rule::each_action(
        instructions,
        &mut |a| matches!(a, Action::Learn(l) if l.flags & LEARN_F_DELETE_LEARNED != 0),
    )
}
/// NX_LEARN_F_WRITE_RESULT.
pub const LEARN_F_WRITE_RESULT: u16 = 4;

const TCP_FIN: u64 = 0x01;
const TCP_RST: u64 = 0x04;

/// A flow a `learn` action adds or refreshes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedFlow {
    /// Index of the bridge (in the translation's bridge list).
    pub bridge: usize,
    pub table_id: u8,
    pub priority: u16,
    pub om: OfMatch,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// OFPFF_SEND_FLOW_REM or 0.
    pub flags: u16,
    pub actions: Vec<Action>,
}

/// A side effect on the tables found by translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableEffect {
    /// `learn`: add or refresh a flow.
    Learn(LearnedFlow),
    /// `fin_timeout` on a FIN or RST: shorten the timeouts of the rule
    /// at (table, match, priority) of `bridge`.
    FinTimeout {
        bridge: usize,
        table_id: u8,
        om: OfMatch,
        priority: u16,
        idle: u16,
        hard: u16,
    },
}

fn ones(n: u32) -> u128 {
    if n >= 128 {
        !0
    } else {
        (1u128 << n) - 1
    }
}

/// The value of an immediate spec source (network order, right-aligned).
fn immediate(bytes: &[u8]) -> u128 {
    let b = &bytes[bytes.len().saturating_sub(16)..];
    b.iter().fold(0u128, |a, x| a << 8 | *x as u128)
}

/// Writes `v` (right-aligned, `sf.n_bits`) into subfield `sf` of a match:
/// value bits set, mask bits one.
fn match_subfield(om: &mut OfMatch, sf: &Subfield, v: u128) -> bool {
    let width = sf.field.info().width as usize;
    if width > 16 {
        return false;
    }
    let m = ones(sf.n_bits as u32) << sf.ofs;
    let val = Value::from_u128_width((v << sf.ofs) & m, width);
    let mask = Value::from_u128_width(m, width);
    om.value
        .set_field_masked(sf.field, &val, &mask, &TlvMap::EMPTY)
        .is_ok()
        && om
            .mask
            .set_field_masked(sf.field, &mask, &mask, &TlvMap::EMPTY)
            .is_ok()
}

/// The `load:` action that sets subfield `dst` to `v` (a `set_field`
/// with a mask when wider than 64 bits).
fn load_action(dst: &Subfield, v: u128) -> Action {
    if dst.field.info().width <= 8 || dst.ofs as u32 + dst.n_bits as u32 <= 64 {
        Action::RegLoad {
            dst: *dst,
            value: v as u64,
        }
    } else {
        let width = dst.field.info().width as usize;
        let m = ones(dst.n_bits as u32) << dst.ofs;
        Action::SetField {
            field: dst.field,
            value: Value::from_u128_width((v << dst.ofs) & m, width),
            mask: Some(Value::from_u128_width(m, width)),
        }
    }
}

/// True if `port` may be a learned output (OVS: a physical port number
/// or IN_PORT, FLOOD, LOCAL, ALL).
fn learnable_port(port: u128) -> Option<u16> {
    use ferrovs_openflow::port::*;
    let p = u16::try_from(port).ok()?;
    (p < OFPP_MAX || matches!(p, OFPP_IN_PORT | OFPP_FLOOD | OFPP_LOCAL | OFPP_ALL)).then_some(p)
}

impl<'a> Ctx<'a, '_> {
    /// `learn(...)`.
    pub(crate) fn learn(&mut self, l: &Learn) {
        // What the specs read is in the megaflow in every case.
        let mut values = Vec::with_capacity(l.specs.len());
        for spec in &l.specs {
            let v = match &spec.src {
                LearnSrc::Field(sf) => {
                    let v = self.read_subfield(sf).unwrap_or(0);
                    // OVS masks the source bits in the wildcards without
                    // its prerequisites.
                    v & ones(spec.n_bits as u32)
                }
                LearnSrc::Immediate(b) => immediate(b) & ones(spec.n_bits as u32),
            };
            values.push(v);
        }
        self.out.uncacheable = true;
        if !self.may_learn {
            self.note(|| ">> suppressing side effects, so learn action ignored".to_string());
            return;
        }
        let mut om = OfMatch::catchall();
        let mut actions = Vec::new();
        if l.fin_idle_timeout != 0 || l.fin_hard_timeout != 0 {
            actions.push(Action::FinTimeout {
                idle: l.fin_idle_timeout,
                hard: l.fin_hard_timeout,
            });
        }
        for (spec, v) in l.specs.iter().zip(values) {
            match spec.dst {
                LearnDst::Match(sf) => {
                    match_subfield(&mut om, &sf, v);
                }
                LearnDst::Load(sf) => actions.push(load_action(&sf, v)),
                LearnDst::Output => {
                    if let Some(p) = learnable_port(v) {
                        actions.push(Action::Output {
                            port: p,
                            max_len: 0,
                        });
                    }
                }
            }
        }
        let lf = LearnedFlow {
            bridge: self.bridge,
            table_id: l.table_id,
            priority: l.priority,
            om,
            cookie: l.cookie,
            idle_timeout: l.idle_timeout,
            hard_timeout: l.hard_timeout,
            flags: if l.flags & LEARN_F_SEND_FLOW_REM != 0 {
                FlowMod::F_SEND_FLOW_REM
            } else {
                0
            },
            actions,
        };
        if self.tracing() {
            let s = learned_text(&lf);
            self.note(|| s);
        }
        if l.flags & LEARN_F_WRITE_RESULT != 0 {
            if let Some(dst) = l.learn2.and_then(|x| x.result_dst) {
                self.write_subfield(&dst, 1);
            }
        }
        self.out.learned.push(TableEffect::Learn(lf));
    }

    /// `fin_timeout(idle_timeout=I,hard_timeout=H)`: on a TCP FIN or RST,
    /// the running rule's timeouts shrink to these (side effect only,
    /// and only for real packets, as OVS).
    pub(crate) fn fin_timeout(&mut self, idle: u16, hard: u16) {
        let Some(rule) = self.rule else {
            return;
        };
        self.out.uncacheable = true;
        if !self.may_learn {
            return;
        }
        let flags = self.flow.bits(
            ferrovs_datapath::flow::layout::W_TP,
            ferrovs_datapath::flow::layout::TCP_FLAGS.shift as u32,
            16,
        );
        if flags & (TCP_FIN | TCP_RST) == 0 {
            return;
        }
        self.out.learned.push(TableEffect::FinTimeout {
            bridge: self.bridge,
            table_id: rule.table_id,
            om: rule.om(),
            priority: rule.priority,
            idle,
            hard,
        });
    }
}

/// The trace line OVS prints for a learned flow: `table=T MATCH
/// priority=P [cookie=C] [idle=I] [hard=H] [send_flow_rem] actions=...`.
pub fn learned_text(lf: &LearnedFlow) -> String {
    let m = super::format_match(&lf.om);
    let mut s = format!("table={} ", lf.table_id);
    s.push_str(&m);
    let mut s = s.trim_end().to_string();
    s.push_str(&format!(" priority={}", lf.priority));
    if lf.cookie != 0 {
        s.push_str(&format!(" cookie={:#x}", lf.cookie));
    }
    if lf.idle_timeout != 0 {
        s.push_str(&format!(" idle={}", lf.idle_timeout));
    }
    if lf.hard_timeout != 0 {
        s.push_str(&format!(" hard={}", lf.hard_timeout));
    }
    if lf.flags != 0 {
        s.push_str(" send_flow_rem");
    }
    s.push_str(" actions=");
    s.push_str(&super::actions_text(&lf.actions));
    s
}

impl Ofproto {
    /// Applies a table effect of a translation of this bridge.
    pub fn apply_table_effect(&mut self, e: &TableEffect, now: Instant) {
        match e {
            TableEffect::Learn(lf) => self.apply_learned(lf, now),
            TableEffect::FinTimeout {
                table_id,
                om,
                priority,
                idle,
                hard,
                ..
            } => {
                let Some(r) = self
                    .tables
                    .get_mut_counters(*table_id)
                    .and_then(|t| t.cls.get_mut(om, *priority as u32))
                else {
                    return;
                };
                let shrink = |cur: &mut u16, new: u16| {
                    if new != 0 && (*cur == 0 || *cur > new) {
                        *cur = new;
                    }
                };
                shrink(&mut r.idle_timeout, *idle);
                shrink(&mut r.hard_timeout, *hard);
            }
        }
    }

    /// Adds or refreshes a learned flow (OVS's modify-strict for learn).
    pub fn apply_learned(&mut self, lf: &LearnedFlow, now: Instant) {
        let insts = if lf.actions.is_empty() {
            Vec::new()
        } else {
            vec![Instruction::ApplyActions(lf.actions.clone())]
        };
        if let Some(r) = self
            .tables
            .get_mut_counters(lf.table_id)
            .and_then(|t| t.cls.get_mut(&lf.om, lf.priority as u32))
        {
            let changed = r.instructions != insts || r.cookie != lf.cookie;
            r.instructions = insts;
            r.cookie = lf.cookie;
            r.idle_timeout = lf.idle_timeout;
            r.hard_timeout = lf.hard_timeout;
            r.flags = lf.flags;
            r.modified = now;
            r.used = now;
            let wire = changed.then(|| r.r#match.clone());
            if lf.idle_timeout != 0 || lf.hard_timeout != 0 {
                self.expiry_due = Some(self.expiry_due.map_or(now, |t| t.min(now)));
            }
            if let Some(r#match) = wire {
                self.changed();
                let changes = vec![Change::Insert {
                    table_id: lf.table_id,
                    r#match,
                    priority: lf.priority,
                    old: None,
                    event: crate::flow_mod::RuleEvent::Modified,
                    actions_changed: true,
                }];
                self.commit_changes(changes, None, 0);
            }
            return;
        }
        let m = lf.om.to_match(Version::Of15);
        let mut req = FlowModReq::add(lf.table_id, lf.priority, &m, insts);
        *req.om = lf.om;
        req.new_cookie = Some(lf.cookie);
        req.idle_timeout = lf.idle_timeout;
        req.hard_timeout = lf.hard_timeout;
        req.flags = lf.flags;
        let mut changes = Vec::new();
        match self.apply_flow_mod(req, now, &mut changes) {
            Ok(()) => self.commit_changes(changes, None, 0),
            Err(e) => tracing::warn!("learn into table {}: {e:?}", lf.table_id),
        }
    }

    /// After rules were removed or replaced: for each old rule's `learn` with
    /// `delete_learned`, if no remaining rule has such a learn for the
    /// same (cookie, table), deletes that table's flows of that cookie.
    pub(crate) fn delete_learned(&mut self, changes: &[Change]) {
        if !self.learn_deletes {
            return;
        }
        let mut targets: Vec<(u64, u8)> = Vec::new();
        for c in changes {
            for rule in c.gone() {
                rule.each_action(&mut |a| {
                    if let Action::Learn(l) = a {
                        if l.flags & LEARN_F_DELETE_LEARNED != 0
                            && !targets.contains(&(l.cookie, l.table_id))
                        {
                            targets.push((l.cookie, l.table_id));
                        }
                    }
                    false
                });
            }
        }
        if targets.is_empty() {
            return;
        }
        targets.retain(|t| {
            !self.rules().any(|r| {
                r.each_action(&mut |a| {
                    matches!(a, Action::Learn(l)
                        if l.flags & LEARN_F_DELETE_LEARNED != 0 && (l.cookie, l.table_id) == *t)
                })
            })
        });
        for (cookie, table_id) in targets {
            let mut req =
                FlowModReq::add(table_id, 0, &ferrovs_openflow::Match::default(), Vec::new());
            req.command = FlowModCommand::Delete;
            req.cookie = cookie;
            req.cookie_mask = u64::MAX;
            req.new_cookie = None;
            let now = self.now();
            let mut changes = Vec::new();
            if self.apply_flow_mod(req, now, &mut changes).is_ok() {
                self.commit_changes(changes, None, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ferrovs_datapath::flow::layout as dp;

    use super::super::tests::{bridge, run, Br};
    use super::super::{odp_text, xlate, BridgeRef, XlateIn};
    use super::*;

    /// Translates as an upcall does (side effects allowed): the datapath
    /// actions, the wildcards and the table effects.
    fn upcall(b: &Br, flow: &str) -> (String, crate::flow::OfFlow, Vec<TableEffect>) {
        let refs = [BridgeRef {
            ofproto: &b.of,
            ports: &b.ports,
            mac: &b.mac,
        }];
        let o = xlate(&XlateIn {
            bridges: &refs,
            bridge: 0,
            flow: crate::trace::parse_trace_flow(flow, &b.ports).unwrap(),
            now: Instant::now(),
            may_learn: true,
            tnl: None,
            recirc: None,
        });
        (
            odp_text::format_dp_actions(&o.actions, &|p| p.to_string()),
            o.wc,
            o.learned,
        )
    }

    /// Neutron's OVS agent br-tun: packets from the tunnel (port 2) get
    /// their network's local VLAN, and table 10 learns, in table 20, that
    /// their source MAC is behind that tunnel with that tun_id.
    const BR_TUN: &[&str] = &[
        "in_port=1 actions=resubmit(,20)",
        "in_port=2 actions=resubmit(,4)",
        "table=4,priority=1,tun_id=0x3e9 actions=mod_vlan_vid:1,resubmit(,10)",
        "table=10,priority=1 actions=learn(cookie=0xbeef,table=20,priority=1,hard_timeout=300,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:1",
        "table=20,priority=0 actions=resubmit(,22)",
        "table=22,priority=0 actions=drop",
    ];

    #[test]
    fn neutron_br_tun_learns_mac_behind_tunnel() {
        let mut b = bridge("br-tun", &[1, 2], BR_TUN);
        let pkt = "in_port=2,tun_id=0x3e9,tun_dst=198.18.0.10,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,ip";
        let (a, wc, eff) = upcall(&b, pkt);
        assert_eq!(a, "push_vlan(vid=1,pcp=0),101");
        // The learn read the VID, eth_src, tun_id and in_port.
        assert_eq!(wc.bits(dp::W_DL_SRC, 0, 48), 0xffff_ffff_ffff);
        assert_eq!(wc.0[dp::W_TUN_ID], u64::MAX);
        assert_eq!(wc.bits(dp::W_DL_DST, 0, 48), 0, "eth_dst not read");
        assert_eq!(eff.len(), 1);
        let TableEffect::Learn(lf) = &eff[0] else {
            panic!("{eff:?}")
        };
        assert_eq!(
            learned_text(lf),
            "table=20 vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:00:00:01 priority=1 cookie=0xbeef hard=300 actions=load:0->NXM_OF_VLAN_TCI[],load:0x3e9->NXM_NX_TUN_ID[],output:2"
        );
        // A trace (no packet) learns nothing but has the same megaflow.
        assert_eq!(run(&b, pkt), "push_vlan(vid=1,pcp=0),101");
        // Before learning, the reply to that MAC drops in table 22.
        let back = "in_port=1,dl_vlan=1,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,ip";
        assert_eq!(upcall(&b, back).0, "drop");
        let now = b.of.now();
        b.of.apply_table_effect(&eff[0], now);
        assert_eq!(b.of.n_rules(), BR_TUN.len() + 1);
        let (a, _, eff2) = upcall(&b, back);
        assert_eq!(a, "pop_vlan,102");
        assert!(eff2.is_empty());
        // Learning again refreshes the same flow (no duplicate).
        b.of.apply_table_effect(&eff[0], now);
        assert_eq!(b.of.n_rules(), BR_TUN.len() + 1);
        // Another VLAN's packets do not match the learned flow.
        let other = "in_port=1,dl_vlan=2,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,ip";
        assert_eq!(upcall(&b, other).0, "drop");
    }

    #[test]
    fn learn_specs_immediates_timeouts_and_flags() {
        let b = bridge(
            "br0",
            &[1, 2],
            &["in_port=1,tcp actions=learn(table=5,idle_timeout=10,fin_idle_timeout=2,fin_hard_timeout=4,priority=77,send_flow_rem,eth_type=0x800,ip_proto=6,NXM_OF_IP_SRC[]=NXM_OF_IP_DST[],NXM_OF_TCP_SRC[]=NXM_OF_TCP_DST[],NXM_NX_REG3[16..31]=0x1234,load:0x5->NXM_NX_REG0[0..7],load:NXM_OF_TCP_SRC[]->NXM_NX_REG1[0..15]),output:2"],
        );
        let (a, wc, eff) = upcall(
            &b,
            "in_port=1,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src=1000,tp_dst=80",
        );
        assert_eq!(a, "102");
        assert_eq!(wc.bits(dp::W_NW, 0, 32), 0xffff_ffff, "nw_dst read");
        assert_eq!(wc.bits(dp::W_NW, 32, 32), 0, "nw_src not read");
        assert_eq!(wc.bits(dp::W_TP, dp::TP_SRC.shift as u32, 16), 0xffff);
        assert_eq!(wc.bits(dp::W_TP, dp::TP_DST.shift as u32, 16), 0xffff);
        let TableEffect::Learn(lf) = &eff[0] else {
            panic!()
        };
        assert_eq!(
            learned_text(lf),
            "table=5 tcp,reg3=0x12340000/0xffff0000,nw_src=198.18.0.2,tp_src=80 priority=77 idle=10 send_flow_rem actions=fin_timeout(idle_timeout=2,hard_timeout=4),load:0x5->NXM_NX_REG0[0..7],load:0x3e8->NXM_NX_REG1[0..15]"
        );
        assert_eq!(lf.flags, FlowMod::F_SEND_FLOW_REM);
    }

    #[test]
    fn delete_learned_goes_with_the_last_learning_rule() {
        let mut b = bridge(
            "br0",
            &[1, 2],
            &[
                "in_port=1 actions=learn(table=1,cookie=0x7,delete_learned,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])",
                "in_port=2 actions=learn(table=1,cookie=0x7,delete_learned,NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])",
                "table=1,cookie=0x8,priority=5 actions=drop",
            ],
        );
        for f in [
            "in_port=1,dl_src=00:00:00:00:00:01",
            "in_port=2,dl_src=00:00:00:00:00:02",
        ] {
            let (_, _, eff) = upcall(&b, f);
            let now = b.of.now();
            b.of.apply_table_effect(&eff[0], now);
        }
        assert_eq!(b.of.n_rules(), 5);
        // One learning rule left: the learned flows stay.
        b.of.add_flow_text("in_port=1 actions=drop").unwrap();
        assert_eq!(b.of.n_rules(), 5);
        // A rule replaced by an add counts as removed, as in OVS.
        b.of.add_flow_text("in_port=2 actions=drop").unwrap();
        assert_eq!(b.of.n_rules(), 3, "learned cookie 0x7 flows deleted");
        assert!(b.of.rules().all(|r| r.cookie != 0x7));
    }

    #[test]
    fn fin_timeout_shortens_on_fin_only() {
        let b = bridge(
            "br0",
            &[1, 2],
            &["tcp,idle_timeout=60 actions=fin_timeout(idle_timeout=5,hard_timeout=9),output:2"],
        );
        let (_, _, eff) = upcall(&b, "in_port=1,tcp,tcp_flags=+ack");
        assert!(eff.is_empty());
        let (_, _, eff) = upcall(&b, "in_port=1,tcp,tcp_flags=+fin");
        let mut b = b;
        let now = b.of.now();
        b.of.apply_table_effect(&eff[0], now);
        let r = b.of.rules().next().unwrap();
        assert_eq!((r.idle_timeout, r.hard_timeout), (5, 9));
    }
}
