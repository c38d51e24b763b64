//! Committing header changes: the datapath actions that turn the packet
//! as the datapath has it (`base`) into the packet as OpenFlow actions
//! left it (`flow`), emitted just before an output.
//!
//! Order as OVS's `commit_odp_actions`: Ethernet, IPv4/IPv6, L4 ports,
//! MPLS (before L3 when it pops the last entry, see `mpls.rs`), VLAN, then skb_priority and pkt_mark. A changed header becomes one
//! masked `set` whose mask is the megaflow bits of that header (what was
//! read or written), as OVS does; the written bits are already in the
//! wildcards, so the megaflow pins the values the `set` assumes.

use ferrovs_datapath::actions::{DpAction, Masked, SetField, SetIpv6};
use ferrovs_datapath::flow::layout::{self as dp, Field as DpField};

use super::Ctx;
use crate::flow::OfFlow;

fn get(f: &OfFlow, fld: DpField) -> u64 {
    f.bits(fld.word as usize, fld.shift as u32, fld.bits as u32)
}

fn get128(f: &OfFlow, hi: DpField) -> u128 {
    (f.0[hi.word as usize] as u128) << 64 | f.0[hi.word as usize + 1] as u128
}

fn changed(a: &OfFlow, b: &OfFlow, fields: &[DpField]) -> bool {
    fields.iter().any(|f| get(a, *f) != get(b, *f))
}

fn copy(dst: &mut OfFlow, src: &OfFlow, fields: &[DpField]) {
    for f in fields {
        dst.set_bits(f.word as usize, f.shift as u32, f.bits as u32, get(src, *f));
    }
}

/// The set mask of a field, as OVS: its megaflow bits (those read or
/// written) if the actions changed its value, none otherwise.
fn diff(flow: &OfFlow, base: &OfFlow, wc: &OfFlow, f: DpField) -> u64 {
    if get(flow, f) != get(base, f) {
        get(wc, f)
    } else {
        0
    }
}

fn diff128(flow: &OfFlow, base: &OfFlow, wc: &OfFlow, hi: DpField) -> u128 {
    if get128(flow, hi) != get128(base, hi) {
        get128(wc, hi)
    } else {
        0
    }
}

fn m64(flow: &OfFlow, base: &OfFlow, wc: &OfFlow, f: DpField) -> Masked<u64> {
    Masked {
        value: get(flow, f),
        mask: diff(flow, base, wc, f),
    }
}

/// Zeroes the value bits outside each mask, so that two translations of
/// the same megaflow (one from a packet, one from the masked key) give
/// equal actions.
fn canon(mut s: SetField) -> SetField {
    fn c<T>(m: &mut Masked<T>)
    where
        Masked<T>: Copy,
        T: Copy + std::ops::BitAnd<Output = T>,
    {
        m.value = m.value & m.mask;
    }
    match &mut s {
        SetField::Ethernet { src, dst } => {
            c(src);
            c(dst);
        }
        SetField::Ipv4 { src, dst, tos, ttl } => {
            c(src);
            c(dst);
            c(tos);
            c(ttl);
        }
        SetField::Ipv6(v) => {
            c(&mut v.src);
            c(&mut v.dst);
            c(&mut v.label);
            c(&mut v.tclass);
            c(&mut v.hlimit);
        }
        SetField::Tcp { src, dst } | SetField::Udp { src, dst } | SetField::Sctp { src, dst } => {
            c(src);
            c(dst);
        }
        _ => {}
    }
    s
}

impl Ctx<'_, '_> {
    fn push_set(&mut self, s: SetField) {
        self.out.actions.push(DpAction::Set(canon(s)));
    }

    /// Emits the actions that bring `base` up to `flow`.
    pub(crate) fn commit(&mut self) {
        // Every commit below acts only on a difference between the two
        // (datapath words): none, nothing to emit or mark. The common
        // case (outputs of an unmodified packet), at one compare.
        if self.flow.0[..dp::FLOW_WORDS] == self.base.0[..dp::FLOW_WORDS] {
            return;
        }
        self.commit_packet_type();
        self.commit_eth();
        let mpls_first = self.mpls_pop_first();
        if mpls_first {
            self.commit_mpls();
        }
        self.commit_l3();
        self.commit_l4();
        self.commit_arp();
        self.commit_icmp();
        if !mpls_first {
            self.commit_mpls();
        }
        self.commit_vlan();
        self.commit_meta();
    }

    /// Marks the whole of `fields` as examined.
    fn wc_fields(&mut self, fields: &[DpField]) {
        for f in fields {
            self.wc.0[f.word as usize] |= f.word_mask();
        }
    }

    /// An L3 packet the tables saw as Ethernet (from a `legacy_l3`
    /// port) gets its Ethernet header now, with the addresses the actions
    /// left (OVS's pending encap: `push_eth`); an Ethernet packet that
    /// became L3 (output to a `legacy_l3` port) loses it (`pop_eth`).
    fn commit_packet_type(&mut self) {
        let (f, b) = (
            get(&self.flow, dp::PACKET_TYPE_NS),
            get(&self.base, dp::PACKET_TYPE_NS),
        );
        if f == b {
            return;
        }
        if f == 0 {
            self.out.actions.push(DpAction::PushEth {
                src: super::tunnel::u64_mac(get(&self.flow, dp::DL_SRC)),
                dst: super::tunnel::u64_mac(get(&self.flow, dp::DL_DST)),
            });
            copy(
                &mut self.base,
                &self.flow.clone(),
                &[dp::DL_SRC, dp::DL_DST],
            );
        } else {
            self.out.actions.push(DpAction::PopEth);
            for x in [dp::DL_SRC, dp::DL_DST] {
                super::tunnel::put(&mut self.base, x, 0);
            }
            // The tags go with the header.
            self.base.0[dp::W_VLAN] = 0;
        }
        super::tunnel::put(&mut self.base, dp::PACKET_TYPE_NS, f);
        self.base.0[crate::flow::W_PACKET_TYPE] = self.flow.0[crate::flow::W_PACKET_TYPE];
    }

    fn commit_eth(&mut self) {
        if get(&self.flow, dp::PACKET_TYPE_NS) != 0 {
            // No Ethernet header to set.
            return;
        }
        let fs = [dp::DL_SRC, dp::DL_DST];
        if !changed(&self.flow, &self.base, &fs) {
            return;
        }
        self.push_set(SetField::Ethernet {
            src: m64(&self.flow, &self.base, &self.wc, dp::DL_SRC),
            dst: m64(&self.flow, &self.base, &self.wc, dp::DL_DST),
        });
        copy(&mut self.base, &self.flow, &fs);
    }

    fn commit_l3(&mut self) {
        let (f, w) = (&self.flow, &self.base);
        match super::dl_type(f) {
            0x0800 => {
                let fs = [dp::NW_SRC, dp::NW_DST, dp::NW_TOS, dp::NW_TTL];
                if !changed(f, w, &fs) || !self.has_l3() {
                    return;
                }
                let (f, w) = (&self.flow, &self.base);
                let m8 = |fld| Masked {
                    value: get(f, fld) as u8,
                    mask: diff(f, w, &self.wc, fld) as u8,
                };
                let m32 = |fld| Masked {
                    value: get(f, fld) as u32,
                    mask: diff(f, w, &self.wc, fld) as u32,
                };
                let s = SetField::Ipv4 {
                    src: m32(dp::NW_SRC),
                    dst: m32(dp::NW_DST),
                    tos: m8(dp::NW_TOS),
                    ttl: m8(dp::NW_TTL),
                };
                self.push_set(s);
                copy(&mut self.base, &self.flow.clone(), &fs);
            }
            0x86dd => {
                let fs = [
                    dp::IPV6_SRC_HI,
                    dp::IPV6_SRC_LO,
                    dp::IPV6_DST_HI,
                    dp::IPV6_DST_LO,
                    dp::IPV6_LABEL,
                    dp::NW_TOS,
                    dp::NW_TTL,
                ];
                if !changed(f, w, &fs) || !self.has_l3() {
                    return;
                }
                let (f, w) = (&self.flow, &self.base);
                let m128 = |hi| Masked {
                    value: get128(f, hi),
                    mask: diff128(f, w, &self.wc, hi),
                };
                let s = SetIpv6 {
                    src: m128(dp::IPV6_SRC_HI),
                    dst: m128(dp::IPV6_DST_HI),
                    label: Masked {
                        value: get(f, dp::IPV6_LABEL) as u32,
                        mask: diff(f, w, &self.wc, dp::IPV6_LABEL) as u32,
                    },
                    tclass: Masked {
                        value: get(f, dp::NW_TOS) as u8,
                        mask: diff(f, w, &self.wc, dp::NW_TOS) as u8,
                    },
                    hlimit: Masked {
                        value: get(f, dp::NW_TTL) as u8,
                        mask: diff(f, w, &self.wc, dp::NW_TTL) as u8,
                    },
                };
                self.push_set(SetField::Ipv6(Box::new(s)));
                copy(&mut self.base, &self.flow.clone(), &fs);
            }
            _ => {}
        }
    }

    /// As OVS: a packet whose nw_proto is zero is taken to have no L3
    /// header to rewrite (reading nw_proto).
    fn has_l3(&mut self) -> bool {
        self.wc.0[dp::W_NW_MISC] |= dp::NW_PROTO.word_mask();
        super::nw_proto(&self.flow) != 0
    }

    fn commit_l4(&mut self) {
        let fs = [dp::TP_SRC, dp::TP_DST];
        if !super::is_ip_any(&self.flow) || !changed(&self.flow, &self.base, &fs) {
            return;
        }
        let (f, w) = (&self.flow, &self.base);
        let m16 = |fld| Masked {
            value: get(f, fld) as u16,
            mask: diff(f, w, &self.wc, fld) as u16,
        };
        let (src, dst) = (m16(dp::TP_SRC), m16(dp::TP_DST));
        let s = match super::nw_proto(f) {
            6 => SetField::Tcp { src, dst },
            17 => SetField::Udp { src, dst },
            132 => SetField::Sctp { src, dst },
            _ => return,
        };
        self.push_set(s);
        copy(&mut self.base, &self.flow.clone(), &fs);
    }

    fn commit_vlan(&mut self) {
        let fs = [dp::VLAN0_TCI, dp::VLAN0_TPID, dp::VLAN1_TCI, dp::VLAN1_TPID];
        if !changed(&self.flow, &self.base, &fs) {
            return;
        }
        // Tag stacks, bottom (inner) first; pop the base's tags above the
        // part both share, push the flow's.
        let stack = |f: &OfFlow| -> Vec<(u16, u16)> {
            let mut v = Vec::new();
            for (tci, tpid) in [
                (dp::VLAN1_TCI, dp::VLAN1_TPID),
                (dp::VLAN0_TCI, dp::VLAN0_TPID),
            ] {
                let t = get(f, tci) as u16;
                if t & dp::VLAN_PRESENT != 0 {
                    let p = match get(f, tpid) as u16 {
                        0 => 0x8100,
                        x => x,
                    };
                    v.push((t, p));
                }
            }
            v
        };
        let (b, f) = (stack(&self.base), stack(&self.flow));
        // Rewriting tags reads the whole outer TCI (its priority too).
        if !b.is_empty() {
            self.wc.0[dp::W_VLAN] |= dp::VLAN0_TCI.word_mask();
        }
        let common = b.iter().zip(f.iter()).take_while(|(x, y)| x == y).count();
        for _ in common..b.len() {
            self.out.actions.push(DpAction::PopVlan);
        }
        for (tci, tpid) in &f[common..] {
            self.out.actions.push(DpAction::PushVlan {
                tpid: *tpid,
                tci: tci & !dp::VLAN_PRESENT,
            });
        }
        copy(&mut self.base, &self.flow.clone(), &fs);
    }

    fn commit_meta(&mut self) {
        for (fld, is_prio) in [(dp::SKB_PRIORITY, true), (dp::PKT_MARK, false)] {
            if get(&self.flow, fld) == get(&self.base, fld) {
                continue;
            }
            self.wc_fields(&[fld]);
            let m = Masked {
                value: get(&self.flow, fld) as u32,
                mask: !0,
            };
            self.push_set(if is_prio {
                SetField::SkbPriority(m)
            } else {
                SetField::PktMark(m)
            });
            copy(&mut self.base, &self.flow.clone(), &[fld]);
        }
    }
}
