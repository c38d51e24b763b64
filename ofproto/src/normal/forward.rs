//! The NORMAL action: VLAN of the input port, MAC learning, then output to
//! the learned port or flooding within the VLAN (never back out of the
//! input port, never to a no-flood port), each output tagged or untagged
//! as the output port's VLAN mode wants.
//!
//! The megaflow reads the input port, both MAC addresses and the outer
//! VLAN ID, as OVS's `xlate_normal` does, and for a broadcast ARP the
//! opcode (and a request's addresses), which OVS's gratuitous-ARP test
//! reads.

use ferrovs_datapath::flow::layout as dp;

use super::mac_table::is_multicast;
use crate::xlate::{in_port, Ctx, XPort};

const PC_NO_FLOOD: u32 = 1 << 4;

impl Ctx<'_, '_> {
    pub(crate) fn normal(&mut self) {
        for f in [dp::DL_SRC, dp::DL_DST] {
            self.wc.0[f.word as usize] |= f.word_mask();
        }
        // The VLAN ID and the present bit, not the PCP.
        let tagged = self.flow.bits(dp::W_VLAN, 0, 16) as u16 & dp::VLAN_PRESENT != 0;
        self.wc.0[dp::W_VLAN] |= if tagged {
            0x1fff
        } else {
            dp::VLAN_PRESENT as u64
        };
        let br = self.br();
        let inp = in_port(&self.flow);
        let Some(xin) = br.ports.get(inp) else {
            self.note(|| "no input bundle, dropping".to_string());
            return;
        };
        let tci = self.flow.bits(dp::W_VLAN, 0, 16) as u16;
        let vid = (tci & dp::VLAN_PRESENT != 0)
            .then_some(tci & 0xfff)
            .filter(|v| *v != 0);
        let Some(vlan) = xin.vlan.input_vlan(vid) else {
            self.note(|| {
                format!(
                    "dropping VLAN {} packet received on port {} not configured for it",
                    vid.unwrap_or(0),
                    xin.name
                )
            });
            return;
        };
        let src = self.flow.0[dp::W_DL_SRC] & dp::DL_SRC.word_mask();
        let dst = self.flow.0[dp::W_DL_DST] & dp::DL_DST.word_mask();
        self.gratuitous_arp_mask(dst);
        if !is_multicast(src) {
            let l = crate::xlate::MacLearned {
                bridge: self.bridge,
                vlan,
                mac: src,
                port: inp,
            };
            match self.out.mac_learned {
                None => self.out.mac_learned = Some(l),
                Some(m) if m == l => {}
                Some(_) => self.out.uncacheable = true,
            }
        }
        if self.may_learn && br.mac.learn(vlan, src, inp, self.now) {
            self.out.mac_changed = true;
            if !is_multicast(src) {
                self.note(|| {
                    format!(
                        "learned that {} is on port {} in VLAN {vlan}",
                        mac_text(src),
                        xin.name
                    )
                });
            }
        }
        if is_multicast(dst) {
            self.note(|| "multicast/broadcast, flooding".to_string());
            return self.normal_flood(vlan, inp);
        }
        match br.mac.lookup(vlan, dst, self.now) {
            Some(p) if p == inp => {
                self.note(|| "learned port is input port, dropping".to_string());
            }
            Some(p) => {
                self.note(|| "forwarding to learned port".to_string());
                self.normal_output(p, vlan);
            }
            None => {
                self.note(|| "no learned MAC for destination, flooding".to_string());
                self.normal_flood(vlan, inp);
            }
        }
    }

    /// The fields OVS's gratuitous-ARP test reads before learning (it
    /// decides whether a learned entry may move): for a broadcast ARP the
    /// opcode, and for a request both addresses.
    fn gratuitous_arp_mask(&mut self, dst: u64) {
        let dl_type = self.flow.bits(dp::W_DL_TYPE, dp::DL_TYPE.shift as u32, 16) as u16;
        if dl_type != ferrovs_datapath::wire::ethernet::ETH_TYPE_ARP
            || dst != dp::DL_DST.word_mask()
        {
            return;
        }
        self.wc.0[dp::W_NW_MISC] |= dp::NW_PROTO.word_mask();
        let op = self.flow.bits(dp::W_NW_MISC, dp::NW_PROTO.shift as u32, 8);
        if op == 1 {
            self.wc.0[dp::W_NW] |= dp::NW_SRC.word_mask() | dp::NW_DST.word_mask();
        }
    }

    fn normal_flood(&mut self, vlan: u16, inp: u16) {
        use ferrovs_openflow::port::OFPP_LOCAL;
        let br = self.br();
        let floods = |p: u16, xp: &XPort| {
            p != inp
                && xp.vlan.includes(vlan)
                && br
                    .ofproto
                    .port(p)
                    .is_none_or(|d| d.config & PC_NO_FLOOD == 0)
        };
        // The bridge's own port first, then by number (OVS's bundle order
        // for ports added in number order; the port map is ordered). Each
        // output waits for the next one found, so that the last is known
        // without collecting the list.
        let local = br
            .ports
            .get(OFPP_LOCAL)
            .is_some_and(|xp| floods(OFPP_LOCAL, xp))
            .then_some(OFPP_LOCAL);
        let rest = br
            .ports
            .iter()
            .filter(|(p, xp)| *p != OFPP_LOCAL && floods(*p, xp))
            .map(|(p, _)| p);
        let last = self.last;
        let mut pending: Option<u16> = None;
        for p in local.into_iter().chain(rest) {
            if let Some(q) = pending.replace(p) {
                self.last = false;
                self.normal_output(q, vlan);
            }
        }
        if let Some(q) = pending {
            self.last = last;
            self.normal_output(q, vlan);
        }
        self.last = last;
    }

    /// Output to `p` with the tag its VLAN mode wants for `vlan`.
    fn normal_output(&mut self, p: u16, vlan: u16) {
        let br = self.br();
        let Some(xp) = br.ports.get(p) else {
            return;
        };
        let old = self.flow.0[dp::W_VLAN];
        let tci = self.flow.bits(dp::W_VLAN, 0, 16) as u16;

        let new = match xp.vlan.output_tag(vlan) {
            Some(v) => (tci & 0xe000) | dp::VLAN_PRESENT | v,
            None => 0,
        };
        self.flow.set_bits(dp::W_VLAN, 0, 16, new as u64);
        if new != 0 && tci & dp::VLAN_PRESENT == 0 {
            self.flow
                .set_bits(dp::W_VLAN, dp::VLAN0_TPID.shift as u32, 16, 0x8100);
        }
        self.output_to(p);
        self.flow.0[dp::W_VLAN] = old;
    }
}

fn mac_text(m: u64) -> String {
    let b = m.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}
