//! `multipath`, `bundle` and `bundle_load`: a hash of some flow fields
//! picks a link number (multipath) or a live member port (bundle), with
//! OVS's hashes ([`flow_hash`](super::flow_hash)) and link choice
//! algorithms, so that each flow takes the same path as in OVS.
//!
//! Link choice (`multipath`): modulo_n (`hash % n`), hash_threshold
//! (`hash / (2^32 / n)`), hrw (highest `hash_2words(hash, link)`, or
//! iter_hash beyond 64 links), iter_hash (`hash_2words(hash, i) % m` for
//! i = 0, 1, ... until below n, m the argument or the next power of two).
//! Bundle: active_backup takes the first live member, hrw the live member
//! `i` with the highest `hash_2words(i, hash)`. A member is live when the
//! port exists, is not administratively down and has link (reserved ports
//! IN_PORT, TABLE, NORMAL, FLOOD, ALL, NONE always are; CONTROLLER never).
//! The fields hashed are in the megaflow (for hrw bundles only with more
//! than one member, as OVS); the member chosen is then output to, or
//! loaded into `bundle_load`'s destination.

use ferrovs_openflow::action::{Bundle, Multipath};
use ferrovs_openflow::port::*;

use super::flow_hash::{hash_2words, hash_fields, mask_hash_fields};
use super::Ctx;

/// NX_MP_ALG_*.
pub const MP_MODULO_N: u16 = 0;
pub const MP_HASH_THRESHOLD: u16 = 1;
pub const MP_HRW: u16 = 2;
pub const MP_ITER_HASH: u16 = 3;
/// NX_BD_ALG_*.
pub const BD_ACTIVE_BACKUP: u16 = 0;
pub const BD_HRW: u16 = 1;

const OFPPC_PORT_DOWN: u32 = 1;
const OFPPS_LINK_DOWN: u32 = 1;

fn round_up_pow2(x: u32) -> u32 {
    let mut x = x.wrapping_sub(1);
    x |= x >> 1;
    x |= x >> 2;
    x |= x >> 4;
    x |= x >> 8;
    x.wrapping_add(1)
}

fn iter_hash(hash: u32, n: u32, modulo: u32) -> u16 {
    let modulo = if modulo < n || modulo / 2 > n {
        round_up_pow2(n)
    } else {
        modulo
    };
    let mut i = 0u32;
    loop {
        let link = (hash_2words(hash, i) % modulo.max(1)) as u16;
        i = i.wrapping_add(1);
        if (link as u32) < n {
            return link;
        }
    }
}

/// OVS's `multipath_algorithm`: the link for `hash` among `n` links.
pub fn choose_link(hash: u32, algorithm: u16, n: u32, arg: u32) -> u16 {
    let n = n.max(1);
    match algorithm {
        MP_MODULO_N => (hash % n) as u16,
        MP_HASH_THRESHOLD => {
            if n == 1 {
                0
            } else {
                (hash / (u32::MAX / n + 1)) as u16
            }
        }
        MP_HRW if n <= 64 => {
            let mut best = (0u16, hash_2words(hash, 0));
            for link in 1..n {
                let w = hash_2words(hash, link);
                if w > best.1 {
                    best = (link as u16, w);
                }
            }
            best.0
        }
        MP_HRW => iter_hash(hash, n, 0),
        MP_ITER_HASH => iter_hash(hash, n, arg),
        // The decoder refuses other algorithms.
        _ => 0,
    }
}

impl Ctx<'_, '_> {
    /// `multipath(fields,basis,algorithm,max_link,arg,dst)`.
    pub(crate) fn multipath(&mut self, mp: &Multipath) {
        let Some(hash) = hash_fields(&self.flow, mp.fields, mp.basis) else {
            return;
        };
        let link = choose_link(hash, mp.algorithm, mp.max_link as u32 + 1, mp.arg);
        mask_hash_fields(&self.flow, &mut self.wc, mp.fields);
        self.write_subfield(&mp.dst, link as u128);
    }

    /// True if bundle member `p` may carry traffic.
    fn member_live(&self, p: u16) -> bool {
        match p {
            OFPP_IN_PORT | OFPP_TABLE | OFPP_NORMAL | OFPP_FLOOD | OFPP_ALL | OFPP_NONE => true,
            OFPP_CONTROLLER => false,
            _ => {
                let br = self.br();
                br.ports.get(p).is_some()
                    && br.ofproto.port(p).is_some_and(|d| {
                        d.config & OFPPC_PORT_DOWN == 0 && d.state & OFPPS_LINK_DOWN == 0
                    })
            }
        }
    }

    /// `bundle(...)` (output) and `bundle_load(...)` (load into `dst`).
    pub(crate) fn bundle(&mut self, b: &Bundle) {
        let port = match b.algorithm {
            BD_HRW => {
                if b.members.len() > 1 {
                    mask_hash_fields(&self.flow, &mut self.wc, b.fields);
                }
                let hash = hash_fields(&self.flow, b.fields, b.basis).unwrap_or(0);
                let mut best: Option<(usize, u32)> = None;
                for (i, m) in b.members.iter().enumerate() {
                    if self.member_live(*m) {
                        let h = hash_2words(i as u32, hash);
                        if best.is_none_or(|(_, bh)| h > bh) {
                            best = Some((i, h));
                        }
                    }
                }
                best.map_or(OFPP_NONE, |(i, _)| b.members[i])
            }
            BD_ACTIVE_BACKUP => b
                .members
                .iter()
                .copied()
                .find(|m| self.member_live(*m))
                .unwrap_or(OFPP_NONE),
            // The decoder refuses other algorithms.
            _ => OFPP_NONE,
        };
        match &b.dst {
            Some(dst) => self.write_subfield(dst, port as u128),
            None => self.output(port, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrovs_datapath::flow::layout as dp;

    use super::super::tests::{bridge, run, run_on};
    use super::*;

    #[test]
    fn link_choice_algorithms() {
        // modulo_n and hash_threshold are arithmetic.
        assert_eq!(choose_link(10, MP_MODULO_N, 3, 0), 1);
        assert_eq!(choose_link(u32::MAX, MP_HASH_THRESHOLD, 4, 0), 3);
        assert_eq!(choose_link(0x4000_0000, MP_HASH_THRESHOLD, 4, 0), 1);
        assert_eq!(choose_link(12345, MP_HASH_THRESHOLD, 1, 0), 0);
        // hrw and iter_hash stay below n and use every link over many hashes.
        for alg in [MP_HRW, MP_ITER_HASH] {
            let mut seen = [0u32; 5];
            for h in 0..2000u32 {
                let l = choose_link(h.wrapping_mul(0x9e37_79b9), alg, 5, 0) as usize;
                seen[l] += 1;
            }
            assert!(seen.iter().all(|&c| c > 250), "{alg}: {seen:?}");
        }
        assert_eq!(round_up_pow2(5), 8);
        assert_eq!(round_up_pow2(8), 8);
    }

    #[test]
    fn multipath_loads_link_and_masks_hashed_fields() {
        let b = bridge(
            "br0",
            &[1, 2, 3, 4],
            &[
                "in_port=1 actions=multipath(symmetric_l4,50,modulo_n,3,0,NXM_NX_REG0[0..1]),resubmit(,1)",
                "table=1,reg0=0 actions=output:2",
                "table=1,reg0=1 actions=output:3",
                "table=1,reg0=2 actions=output:4",
            ],
        );
        let mut out = std::collections::BTreeSet::new();
        for sport in 1000..1040 {
            let (a, o) = run_on(
                &[&b],
                0,
                &format!(
                    "in_port=1,tcp,nw_src=198.18.0.1,nw_dst=198.18.0.2,tp_src={sport},tp_dst=80"
                ),
            );
            out.insert(a);
            assert_eq!(o.wc.bits(dp::W_TP, dp::TP_SRC.shift as u32, 16), 0xffff);
            assert_eq!(o.wc.bits(dp::W_DL_SRC, 0, 48), 0xffff_ffff_ffff);
            assert_eq!(o.wc.bits(dp::W_NW_MISC, dp::NW_TTL.shift as u32, 8), 0);
        }
        assert_eq!(out.len(), 3, "every link used: {out:?}");
    }

    #[test]
    fn bundle_skips_dead_members() {
        let mut b = bridge(
            "br0",
            &[1, 2, 3, 4],
            &[
                "in_port=1 actions=bundle(eth_src,0,active_backup,ofport,members:2,3)",
                "in_port=2 actions=bundle(eth_src,0,hrw,ofport,members:3,4)",
                "in_port=3 actions=bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[0..15],members:4),resubmit(,1)",
                "table=1,reg0=4 actions=output:1",
            ],
        );
        assert_eq!(run(&b, "in_port=1"), "102");
        let (_, o) = run_on(&[&b], 0, "in_port=3,dl_src=00:00:00:00:00:01");
        // One member: hrw does not read the hash fields.
        assert_eq!(o.wc.bits(dp::W_DL_SRC, 0, 48), 0);
        assert_eq!(run(&b, "in_port=3,dl_src=00:00:00:00:00:01"), "101");
        let (a, o) = run_on(&[&b], 0, "in_port=2,dl_src=00:00:00:00:00:01");
        assert!(a == "103" || a == "104", "{a}");
        assert_eq!(o.wc.bits(dp::W_DL_SRC, 0, 48), 0xffff_ffff_ffff);
        // Port 2 goes down: the backup takes over; port 4 down: hrw picks 3.
        for p in [2u16, 4] {
            let mut d = b.of.port(p).unwrap().clone();
            d.state |= OFPPS_LINK_DOWN;
            b.of.set_port(d);
        }
        assert_eq!(run(&b, "in_port=1"), "103");
        assert_eq!(run(&b, "in_port=2,dl_src=00:00:00:00:00:01"), "103");
        assert_eq!(run(&b, "in_port=3,dl_src=00:00:00:00:00:01"), "drop");
    }
}
