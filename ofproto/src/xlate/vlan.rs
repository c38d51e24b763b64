//! VLAN actions: `push_vlan`, `pop_vlan`/`strip_vlan`, `mod_vlan_vid`,
//! `mod_vlan_pcp`. They change the flow's TCI words only; [`commit`]
//! (super::commit) turns the difference into datapath pops and pushes.

use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::action::Action;

use super::Ctx;

impl Ctx<'_, '_> {
    fn tci(&self, f: dp::Field) -> u16 {
        self.flow.bits(f.word as usize, f.shift as u32, 16) as u16
    }

    fn put(&mut self, f: dp::Field, v: u16) {
        self.flow
            .set_bits(f.word as usize, f.shift as u32, 16, v as u64);
    }

    /// Reads the outer tag: the whole TCI of a tagged packet, only the
    /// present bit of an untagged one (as OVS's megaflows show).
    pub(crate) fn wc_vlan(&mut self) {
        let tci = self.tci(dp::VLAN0_TCI);
        self.wc.0[dp::W_VLAN] |= if tci & dp::VLAN_PRESENT != 0 {
            dp::VLAN0_TCI.word_mask()
        } else {
            dp::VLAN_PRESENT as u64
        };
    }

    /// Each action reads what OVS's does (`do_xlate_actions`): a push
    /// the whole tag it covers, a pop the inner tag it brings out (and,
    /// here, whether there is a tag), `mod_vlan_vid` the VID and
    /// `mod_vlan_pcp` the priority (with the present bit). The datapath
    /// commit reads the rest of a tag it rewrites.
    pub(crate) fn vlan(&mut self, a: &Action) {
        let tci = self.tci(dp::VLAN0_TCI);
        let tagged = tci & dp::VLAN_PRESENT != 0;
        let w = dp::W_VLAN;
        match a {
            Action::PushVlan(_) => self.wc_vlan(),
            Action::PopVlan => {
                self.wc.0[w] |= dp::VLAN_PRESENT as u64;
                if self.tci(dp::VLAN1_TCI) & dp::VLAN_PRESENT != 0 {
                    self.wc.0[w] |= dp::VLAN1_TCI.word_mask() | dp::VLAN1_TPID.word_mask();
                }
            }
            Action::SetVlanVid(_) => {
                self.wc.0[w] |= (0xfff | dp::VLAN_PRESENT) as u64;
            }
            Action::SetVlanPcp(_) => {
                self.wc.0[w] |= (0xe000 | dp::VLAN_PRESENT) as u64;
            }
            _ => {}
        }
        match a {
            Action::PushVlan(tpid) => {
                if tagged {
                    let tpid0 = self.tci(dp::VLAN0_TPID);
                    self.put(dp::VLAN1_TCI, tci);
                    self.put(dp::VLAN1_TPID, tpid0);
                }
                // The new tag is the present (CFI) bit alone: VID 0,
                // PCP 0, as OVS 3.1's xlate (`OFPACT_PUSH_VLAN`) makes it.
                self.put(dp::VLAN0_TCI, dp::VLAN_PRESENT);
                self.put(dp::VLAN0_TPID, *tpid);
            }
            Action::PopVlan => {
                let (t1, p1) = (self.tci(dp::VLAN1_TCI), self.tci(dp::VLAN1_TPID));
                self.put(dp::VLAN0_TCI, t1);
                self.put(dp::VLAN0_TPID, p1);
                self.put(dp::VLAN1_TCI, 0);
                self.put(dp::VLAN1_TPID, 0);
            }
            Action::SetVlanVid(vid) => {
                let base = if tagged { tci } else { dp::VLAN_PRESENT };
                if !tagged {
                    self.put(dp::VLAN0_TPID, 0x8100);
                }
                self.put(
                    dp::VLAN0_TCI,
                    (base & !0xfff) | (vid & 0xfff) | dp::VLAN_PRESENT,
                );
            }
            Action::SetVlanPcp(pcp) => {
                let base = if tagged { tci } else { dp::VLAN_PRESENT };
                if !tagged {
                    self.put(dp::VLAN0_TPID, 0x8100);
                }
                self.put(
                    dp::VLAN0_TCI,
                    (base & !0xe000) | ((*pcp as u16 & 7) << 13) | dp::VLAN_PRESENT,
                );
            }
            _ => {}
        }
    }
}
