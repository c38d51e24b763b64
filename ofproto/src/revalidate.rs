//! Revalidation: after the tables, ports or MAC entries changed, every
//! installed megaflow is translated again from its own (masked) key, and
//! removed when the actions differ or the new translation needs bits the
//! megaflow's mask ignores; the next packet then installs the right one.
//! A megaflow whose actions name frozen state (recirculation, controller)
//! is translated from the key of the packet that made it instead
//! ([`OfprotoUpcall::origins`]), since the frozen state holds that
//! packet's metadata whole and must be found again under the same id.
//! Megaflows idle for longer than `max_idle_ms` are removed too.
//!
//! A round starts by reading the generation
//! ([`OfprotoUpcall::generation`]: change counters of everything
//! translation reads). When it is the one the previous round started
//! from, nothing a megaflow was translated from changed, and the round
//! translates only megaflows it has not seen before (installed since the
//! last round: their upcall may have raced a change) and used ones whose
//! side effects it has no cache of. A used megaflow's counters otherwise
//! go to its rules and tables from the [`crate::xcache`] of its last
//! translation (built when it was translated with traffic), which also
//! refreshes the MAC entry NORMAL learned for it. An idle switch's round
//! is then a dump and an idle check per megaflow, no translation (OVS's
//! `need_revalidate` false).
//!
//! One round is a dump, one translation per megaflow and a delete per
//! stale flow. Side effects (`learn`, MAC learning) are replayed only for
//! megaflows that carried packets since the last round, as OVS's xlate
//! cache does when it pushes stats. The packets and bytes each
//! megaflow counted since the previous round are pushed to the rules its
//! translation goes through (deleted megaflows' last counts too), so rule
//! statistics and idle timeouts follow the traffic the datapath forwards.
//! (A stale megaflow's last packets go to the rules of its new
//! translation: the old rules are not kept per megaflow.) The dump also counts the
//! megaflows that recirculate to each recirculation id, and ids none
//! uses are freed ([`crate::xlate::RecircTable::sweep`]).

use ferrovs_datapath::dpif::Datapath;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::flow::layout::FLOW_WORDS;
use ferrovs_datapath::flow::{Flow, FlowKey};

use std::collections::HashMap;

use ferrovs_datapath::flow::PackedKey;
use ferrovs_datapath::megaflow::{Ufid, UfidMap};

use crate::upcall::{OfprotoUpcall, Translation};
use crate::xcache::XCache;
use crate::xlate::freeze::recirc_ids;

/// What the revalidator keeps per megaflow between rounds.
pub(crate) struct Pushed {
    /// Counters already pushed to the rules.
    packets: u64,
    bytes: u64,
    /// Its side effects, when replayable (see [`crate::xcache`]).
    xcache: Option<XCache>,
}

/// Megaflows' origin keys (see [`OfprotoUpcall::origins`]), by masked
/// key, with the round that last saw each (entries of megaflows gone are
/// dropped a round later).
pub(crate) type Origins = HashMap<[u64; FLOW_WORDS], (Flow, u64)>;

/// Remembers the datapath key `words` as the key that made the megaflow of that key under `mask`
/// (the first packet's, as OVS's ukey; the datapath makes `recirc_id`
/// exact, as here).
pub(crate) fn remember_origin(up: &OfprotoUpcall, words: &[u64], mask: &FlowKey) {
    let mut f = Flow::default();
    f.0.copy_from_slice(&words[..FLOW_WORDS]);
    let mut m = Flow::default();
    mask.expand(&mut m);
    m.set_all(dp::IN_PORT);
    m.set_all(dp::RECIRC_ID);
    let mut masked = [0u64; FLOW_WORDS];
    for (i, w) in masked.iter_mut().enumerate() {
        *w = f.0[i] & m.0[i];
    }
    let mut o = up.origins.lock().unwrap_or_else(|e| e.into_inner());
    let round = up.reval_rounds.load(std::sync::atomic::Ordering::Relaxed);
    o.entry(masked).or_insert((f, round));
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RevalidateStats {
    pub checked: usize,
    /// Megaflows translated again (the others were only checked for
    /// idleness: nothing they depend on changed, and they carried no
    /// packets).
    pub translated: usize,
    pub deleted_stale: usize,
    pub deleted_idle: usize,
    /// Recirculation ids freed because no megaflow uses them any more.
    pub recirc_freed: usize,
}

/// OVS's `other_config:max-idle` default.
pub const DEFAULT_MAX_IDLE_MS: u64 = 10_000;

/// Megaflows revalidated under one lock of the bridges (the lock is let
/// go between batches so that upcalls and OpenFlow messages go on).
const BATCH: usize = 1024;

/// A datapath key (packed words) in dense form.
fn expand_packed(k: &PackedKey, out: &mut Flow) {
    *out = Flow::default();
    let mut map = k.map();
    for w in k.words() {
        let i = map.trailing_zeros() as usize;
        map &= map - 1;
        out.0[i] = *w;
    }
}

impl OfprotoUpcall {
    /// One revalidation round over `dp`'s megaflows.
    pub fn revalidate(&self, dpif: &Datapath, max_idle_ms: u64) -> RevalidateStats {
        let mut st = RevalidateStats::default();
        let now = dpif.now_ms();
        let since = self
            .last_reval_ms
            .swap(now, std::sync::atomic::Ordering::Relaxed);
        let generation = self.generation();
        let changed = {
            let mut last = self.reval_gen.lock().unwrap_or_else(|e| e.into_inner());
            let changed = *last != generation;
            *last = generation;
            changed
        };
        let mut keys = self.rule_keys.lock().unwrap_or_else(|e| e.into_inner());
        if changed {
            keys.clear();
        }
        let gen = self.recirc.begin_dump();
        let round = 1 + self
            .reval_rounds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut origins =
            std::mem::take(&mut *self.origins.lock().unwrap_or_else(|e| e.into_inner()));
        let mut origin_key = Flow::default();
        // Megaflows that recirculate to each id, among those kept.
        let mut uses: HashMap<u32, u32> = HashMap::new();
        let mut ids = Vec::new();
        let mut pushed =
            std::mem::take(&mut *self.pushed.lock().unwrap_or_else(|e| e.into_inner()));
        let mut kept = UfidMap::with_capacity_and_hasher(pushed.len(), Default::default());
        let flows = dpif.flow_dump_shared();
        let mut key = Flow::default();
        let mut old_mask = Flow::default();
        for batch in flows.chunks(BATCH) {
            let mut learned = Vec::new();
            let mut learned_at = None;
            self.with_bridges(|refs| {
                for f in batch {
                    st.checked += 1;
                    expand_packed(&f.key, &mut key);
                    // A megaflow naming frozen state: translated from the
                    // packet that made it (its entry kept for the next round).
                    let key = match origins.get_mut(&key.0) {
                        Some((o, seen)) => {
                            *seen = round;
                            origin_key = *o;
                            &origin_key
                        }
                        None => &key,
                    };
                    let stats = f.stats.snapshot();
                    // Each PMD's copy of a megaflow counts on its own.
                    let slot = Ufid(f.ufid.0.wrapping_add(f.pmd as u128));
                    let seen = pushed.remove(&slot);
                    let was_seen = seen.is_some();
                    let (p0, b0) = seen.as_ref().map_or((0, 0), |p| (p.packets, p.bytes));
                    // Its cached side effects, valid while nothing changed.
                    let cache = seen.and_then(|p| p.xcache).filter(|_| !changed);
                    let release = |t: Translation| {
                        for id in &t.recircs {
                            self.recirc.unref(*id);
                        }
                    };
                    if now.saturating_sub(stats.used_ms) > max_idle_ms {
                        if let Ok(last) = dpif.flow_del(f.ufid) {
                            st.deleted_idle += 1;
                            // Counters since the last push go to the rules.
                            let d = (
                                last.packets.saturating_sub(p0),
                                last.bytes.saturating_sub(b0),
                            );
                            if d.0 == 0 {
                            } else if let Some(xc) = &cache {
                                self.credit_cached(refs, xc, d.0, d.1, false);
                            } else if let Some(t) =
                                self.translate_locked(refs, key, false, Some(d), None)
                            {
                                release(t);
                            }
                        }
                        continue;
                    }
                    f.mask.expand(&mut old_mask);
                    // Packets the megaflow counted since the last round are
                    // owed to the rules its translation goes through.
                    let delta = (
                        stats.packets.saturating_sub(p0),
                        stats.bytes.saturating_sub(b0),
                    );
                    let credit = (delta.0 > 0).then_some(delta);
                    // A megaflow that carried packets since the last round
                    // replays its side effects (learned flows refreshed, MAC
                    // entries kept).
                    // (New packets say so even within the millisecond of
                    // the last round.)
                    let used = stats.used_ms > since || delta.0 > 0;
                    // Nothing it was translated from changed: no
                    // translation, unless it has counters or side effects
                    // to push and no cache of them.
                    let unchanged = !changed && was_seen;
                    let mut xcache = None;
                    let stale = if unchanged && !used && credit.is_none() {
                        xcache = cache;
                        false
                    } else if let Some(xc) = cache.filter(|_| unchanged) {
                        let (p, b) = credit.unwrap_or((0, 0));
                        self.credit_cached(refs, &xc, p, b, used);
                        xcache = Some(xc);
                        false
                    } else {
                        st.translated += 1;
                        // The cache only for megaflows with traffic (a
                        // flow-mod's round over idle ones builds none).
                        let keys = used.then_some(&mut *keys);
                        match self.translate_locked(refs, key, used, credit, keys) {
                            None => true,
                            Some(mut t) => {
                                xcache = t.xcache.take();
                                if !t.learned.is_empty() {
                                    learned.append(&mut t.learned);
                                    learned_at = Some(t.now);
                                }
                                let mut m = t.wc.to_dp();
                                m.set_all(dp::IN_PORT);
                                let wider =
                                    m.0.iter().zip(old_mask.0.iter()).any(|(n, o)| n & !o != 0);
                                let stale = wider || t.actions[..] != f.actions[..];
                                release(t);
                                stale
                            }
                        }
                    };
                    if stale {
                        if let Ok(last) = dpif.flow_del(f.ufid) {
                            st.deleted_stale += 1;
                            // Packets between the dump and the delete: to
                            // the rules of the new translation too.
                            let d = (
                                last.packets.saturating_sub(stats.packets),
                                last.bytes.saturating_sub(stats.bytes),
                            );
                            if d.0 > 0 {
                                if let Some(t) =
                                    self.translate_locked(refs, key, false, Some(d), None)
                                {
                                    release(t);
                                }
                            }
                            continue;
                        }
                    }
                    kept.insert(
                        slot,
                        Pushed {
                            packets: stats.packets,
                            bytes: stats.bytes,
                            xcache,
                        },
                    );
                    ids.clear();
                    recirc_ids(&f.actions, &mut ids);
                    for id in &ids {
                        *uses.entry(*id).or_default() += 1;
                    }
                }
            });
            if let Some(at) = learned_at {
                self.apply_learned(&learned, at);
            }
        }
        st.recirc_freed = self.recirc.sweep(gen, &uses);
        if st.recirc_freed > 0 {
            // Megaflows matching a freed id are stale.
            self.changes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        *self.pushed.lock().unwrap_or_else(|e| e.into_inner()) = kept;
        // Origins of megaflows gone (unseen this round and the last) go;
        // those made during the round join the kept ones.
        origins.retain(|_, (_, seen)| *seen + 1 >= round);
        let mut o = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        for (k, v) in o.drain() {
            origins.entry(k).or_insert(v);
        }
        *o = origins;
        drop(keys);
        st
    }
}
