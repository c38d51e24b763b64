//! Revalidation: after the tables, ports or MAC entries changed, every
//! installed megaflow is translated again from its own (masked) key, and
//! removed when the actions differ or the new translation needs bits the
//! megaflow's mask ignores; the next packet then installs the right one.
//! Megaflows idle for longer than `max_idle_ms` are removed too.
//!
//! One round is a dump, one translation per megaflow (no MAC learning, no
//! rule credit) and a delete per stale flow. The dump also counts the
//! megaflows that recirculate to each recirculation id, and ids none
//! uses are freed ([`crate::xlate::RecircTable::sweep`]). Pushing the megaflows'
//! packet counts to their rules is not done here yet.

use ferrovs_datapath::dpif::Datapath;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::flow::Flow;

use std::collections::HashMap;

use crate::upcall::OfprotoUpcall;
use crate::xlate::freeze::recirc_ids;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RevalidateStats {
    pub checked: usize,
    pub deleted_stale: usize,
    pub deleted_idle: usize,
    /// Recirculation ids freed because no megaflow uses them any more.
    pub recirc_freed: usize,
}

/// OVS's `other_config:max-idle` default.
pub const DEFAULT_MAX_IDLE_MS: u64 = 10_000;

impl OfprotoUpcall {
    /// One revalidation round over `dp`'s megaflows.
    pub fn revalidate(&self, dpif: &Datapath, max_idle_ms: u64) -> RevalidateStats {
        let mut st = RevalidateStats::default();
        let now = dpif.now_ms();
        let gen = self.recirc.begin_dump();
        // Megaflows that recirculate to each id, among those kept.
        let mut uses: HashMap<u32, u32> = HashMap::new();
        let mut ids = Vec::new();
        for f in dpif.flow_dump() {
            st.checked += 1;
            if now.saturating_sub(f.stats.used_ms) > max_idle_ms {
                if dpif.flow_del(f.ufid).is_ok() {
                    st.deleted_idle += 1;
                }
                continue;
            }
            let mut key = Flow::default();
            f.key.expand(&mut key);
            let mut old_mask = Flow::default();
            f.mask.expand(&mut old_mask);
            let stale = match self.translate(&key, false, 0) {
                None => true,
                Some(t) => {
                    for id in &t.recircs {
                        self.recirc.unref(*id);
                    }
                    let mut m = t.wc.to_dp();
                    m.set_all(dp::IN_PORT);
                    let wider = m.0.iter().zip(old_mask.0.iter()).any(|(n, o)| n & !o != 0);
                    wider || t.actions[..] != f.actions[..]
                }
            };
            if stale && dpif.flow_del(f.ufid).is_ok() {
                st.deleted_stale += 1;
                continue;
            }
            ids.clear();
            recirc_ids(&f.actions, &mut ids);
            for id in &ids {
                *uses.entry(*id).or_default() += 1;
            }
        }
        st.recirc_freed = self.recirc.sweep(gen, &uses);
        st
    }
}
