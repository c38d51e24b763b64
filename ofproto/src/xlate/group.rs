//! Group actions: all (every bucket on a copy of the flow), indirect (the
//! one bucket), fast failover (the first live bucket) and select (one
//! bucket chosen by a hash of the flow's addresses and ports, weighted;
//! OVS 3.1 uses dp_hash with recirculation instead, so select groups are
//! not yet comparable with it).

use ferrovs_datapath::flow::layout as dp;

use super::{Ctx, XlateError, MAX_DEPTH};
use crate::group::{GT_ALL, GT_FF, GT_INDIRECT, GT_SELECT};

impl Ctx<'_, '_> {
    pub(crate) fn group(&mut self, id: u32) {
        let br = self.br();
        let Some(g) = br.ofproto.groups.get(&id) else {
            self.note(|| format!("group {id} does not exist"));
            return;
        };
        if self.depth >= MAX_DEPTH {
            self.out.error = Some(XlateError::TooDeep);
            return;
        }
        let chosen: Vec<usize> = match g.type_ {
            GT_ALL => (0..g.buckets.len()).collect(),
            GT_INDIRECT => (0..g.buckets.len().min(1)).collect(),
            GT_FF => g
                .buckets
                .iter()
                .position(|b| br.ofproto.bucket_is_live(b, 0))
                .into_iter()
                .collect(),
            GT_SELECT => self.select_bucket(g).into_iter().collect(),
            _ => Vec::new(),
        };
        self.depth += 1;
        for i in chosen {
            let b = &g.buckets[i];
            self.note(|| format!("bucket {}", b.bucket_id));
            let saved = self.flow;
            self.do_actions(&b.actions);
            self.flow = saved;
        }
        self.depth -= 1;
    }

    fn select_bucket(&mut self, g: &crate::group::Group) -> Option<usize> {
        let live: Vec<usize> = (0..g.buckets.len())
            .filter(|i| g.buckets[*i].weight > 0)
            .collect();
        if live.is_empty() {
            return None;
        }
        for f in [dp::DL_SRC, dp::DL_DST] {
            self.wc.0[f.word as usize] |= f.word_mask();
        }
        let h = self.flow.0[dp::W_DL_SRC]
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(17)
            ^ self.flow.0[dp::W_DL_DST].wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        let total: u64 = live.iter().map(|i| g.buckets[*i].weight as u64).sum();
        let mut pick = (h >> 11) % total;
        for i in live {
            let w = g.buckets[i].weight as u64;
            if pick < w {
                return Some(i);
            }
            pick -= w;
        }
        None
    }
}
