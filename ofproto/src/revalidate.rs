//! Revalidation: after the tables, ports or MAC entries changed, every
//! installed megaflow is translated again from its own (masked) key, and
//! removed when the actions differ or the new translation needs bits the
//! megaflow's mask ignores; the next packet then installs the right one.
//! Megaflows idle for longer than `max_idle_ms` are removed too.
//!
//! One round is a dump, one translation per megaflow (no rule credit; the
//! side effects, `learn` and MAC learning, only for megaflows that carried
//! packets since the last round) and a delete per stale flow. Pushing the megaflows'
//! packet counts to their rules is not done here yet.

use ferrovs_datapath::dpif::Datapath;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::flow::Flow;

use crate::upcall::OfprotoUpcall;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RevalidateStats {
    pub checked: usize,
    pub deleted_stale: usize,
    pub deleted_idle: usize,
}

/// OVS's `other_config:max-idle` default.
pub const DEFAULT_MAX_IDLE_MS: u64 = 10_000;

impl OfprotoUpcall {
    /// One revalidation round over `dp`'s megaflows.
    pub fn revalidate(&self, dpif: &Datapath, max_idle_ms: u64) -> RevalidateStats {
        let mut st = RevalidateStats::default();
        let now = dpif.now_ms();
        let since = self
            .last_reval_ms
            .swap(now, std::sync::atomic::Ordering::Relaxed);
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
            // A megaflow that carried packets since the last round
            // replays its side effects (learned flows refreshed, MAC
            // entries kept), as OVS's xlate cache does on stats push.
            let used = f.stats.used_ms > since;
            let stale = match self.translate(&key, used, 0) {
                None => true,
                Some(t) => {
                    let mut m = t.wc.to_dp();
                    m.set_all(dp::IN_PORT);
                    let wider = m.0.iter().zip(old_mask.0.iter()).any(|(n, o)| n & !o != 0);
                    wider || t.actions[..] != f.actions[..]
                }
            };
            if stale && dpif.flow_del(f.ufid).is_ok() {
                st.deleted_stale += 1;
            }
        }
        st
    }
}
