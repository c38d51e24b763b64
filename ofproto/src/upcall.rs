//! The datapath's upcall handler: a megaflow miss is translated through
//! the OpenFlow tables of the bridge that owns the input port.
//!
//! [`OfprotoUpcall`] holds the datapath's bridges ([`Bridge`]: the
//! `Ofproto` behind its mutex, the port map, the MAC table). On a miss it
//! maps the datapath input port to (bridge, OpenFlow port), locks every
//! bridge (patch ports may cross into any of them; always in list order,
//! so two misses never deadlock), runs [`xlate`], credits the matched rules
//! with the packet, queues the packet-ins for vswitchd to send, and
//! replies with the actions and the megaflow mask (`wc.to_dp()`).
//!
//! vswitchd creates one per datapath: `let up = OfprotoUpcall::new();
//! let dp = Datapath::new(cfg, up.clone());` then per bridge
//! `up.add_bridge(Bridge::new(ofproto_arc))` and, per port,
//! `bridge.set_port(ofport, XPort { dp_port: Some(n), .. })`.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::flow::{Flow, FlowKey};
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};

use std::collections::HashMap;
use std::time::Instant;

use ferrovs_datapath::actions::DpAction;

use crate::dp_meter::{DpMeters, MeterSpec};
use crate::flow::{OfFlow, OfMatch};
use crate::normal::{MacEntry, MacTable};
use crate::ofproto::Ofproto;
use crate::rule::Rule;
use crate::xlate::{
    self, BridgePorts, BridgeRef, PacketIn, RecircTable, XPort, XlateError, XlateIn,
};

/// One bridge of the datapath, as the upcall handler sees it.
pub struct Bridge {
    pub ofproto: Arc<Mutex<Ofproto>>,
    pub ports: RwLock<BridgePorts>,
    pub mac: MacTable,
    /// Port changes (see [`OfprotoUpcall::generation`]).
    port_changes: AtomicU64,
}

impl Bridge {
    pub fn new(ofproto: Arc<Mutex<Ofproto>>) -> Arc<Bridge> {
        Arc::new(Bridge {
            ofproto,
            ports: RwLock::new(BridgePorts::new()),
            mac: MacTable::default(),
            port_changes: AtomicU64::new(0),
        })
    }

    /// Adds or changes OpenFlow port `ofport` (its datapath port, VLAN
    /// settings, patch peer).
    pub fn set_port(&self, ofport: u16, port: XPort) {
        self.ports
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .set(ofport, port);
        self.port_changes.fetch_add(1, Relaxed);
    }

    pub fn del_port(&self, ofport: u16) {
        self.ports
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ofport);
        self.port_changes.fetch_add(1, Relaxed);
        self.mac.flush(Some(ofport));
    }

    /// The bridge clock's current time (the MAC table's time).
    pub fn now(&self) -> Instant {
        self.ofproto.lock().unwrap_or_else(|e| e.into_inner()).now()
    }

    /// `fdb/add`: makes `mac` on `vlan` a static MAC entry on the port
    /// named `port`. Returns that port's number and the entry it
    /// replaced, as NORMAL would have found it.
    pub fn fdb_add(
        &self,
        port: &str,
        vlan: u16,
        mac: u64,
    ) -> Result<(u16, Option<MacEntry>), NoSuchPort> {
        let ofport = self
            .ports
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_name(port)
            .ok_or_else(|| NoSuchPort(port.to_string()))?;
        let now = self.now();
        let old = self.mac.entry(vlan, mac, now);
        self.mac.add_static(vlan, mac, ofport, now);
        Ok((ofport, old))
    }
}

/// `fdb/add` named a port the bridge does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no port named {0}")]
pub struct NoSuchPort(pub String);

/// Packets and bytes owed to one rule, until [`OfprotoUpcall::flush_stats`].
struct Credit {
    /// The rule's creation time: tells a rule from a later one that got
    /// the same address.
    created: Instant,
    table_id: u8,
    priority: u16,
    om: OfMatch,
    packets: u64,
    bytes: u64,
    /// Time of the last packet.
    used: Instant,
}

/// Adds `packets` and `bytes` to the credit of the rule at `key`
/// (`id`: its creation time, table and priority; `om` its match, taken
/// only for a new credit).
fn owe(
    credits: &mut HashMap<(usize, usize), Credit>,
    key: (usize, usize),
    id: (Instant, u8, u16),
    om: impl Fn() -> OfMatch,
    now: Instant,
    packets: u64,
    bytes: u64,
) {
    let (created, table_id, priority) = id;
    let fresh = || Credit {
        created,
        table_id,
        priority,
        om: om(),
        packets: 0,
        bytes: 0,
        used: now,
    };
    let c = credits.entry(key).or_insert_with(fresh);
    if c.created != created || c.priority != priority {
        // Same address, another rule: the old one is gone.
        *c = fresh();
    }
    c.packets += packets;
    c.bytes += bytes;
    c.used = now;
}

/// What a translation of a datapath flow produced, owned.
#[derive(Debug, Clone)]
pub struct Translation {
    pub actions: Vec<DpAction>,
    /// Every bit examined (`wc.to_dp()` is the megaflow mask).
    pub wc: OfFlow,
    pub packet_ins: Vec<PacketIn>,
    pub mac_changed: bool,
    pub error: Option<XlateError>,
    /// Number of rules the packet went through.
    pub n_rules: usize,
    /// Recirculation ids allocated for it, one reference each (see
    /// [`OfprotoUpcall::translate`]).
    pub recircs: Vec<u32>,
    /// Flows to learn and timeouts to shorten, applied once the tables
    /// are no longer borrowed ([`OfprotoUpcall::apply_learned`]).
    pub learned: Vec<xlate::TableEffect>,
    /// The translation's clock, for applying `learned`.
    pub now: Instant,
    /// Its side effects, for the revalidator to replay without
    /// translating (when asked for and replayable).
    pub(crate) xcache: Option<crate::xcache::XCache>,
}

/// The upcall handler of one datapath.
#[derive(Default)]
pub struct OfprotoUpcall {
    bridges: RwLock<Vec<Arc<Bridge>>>,
    packet_ins: Mutex<Vec<(String, PacketIn, Vec<u8>)>>,
    /// Rule credits by (bridge, rule address), batched so that a miss
    /// does not search the tables for each rule it went through.
    credits: Mutex<HashMap<(usize, usize), Credit>>,
    /// The datapath's recirculation ids and frozen states.
    pub recirc: RecircTable,
    /// Megaflow counters (packets, bytes) already pushed to rules, by
    /// megaflow.
    pub(crate) pushed: Mutex<ferrovs_datapath::megaflow::UfidMap<crate::revalidate::Pushed>>,
    /// The key of the packet that made each megaflow whose actions name
    /// frozen state (recirculation, controller), by the megaflow's masked
    /// key: the revalidator translates those from it, as OVS's from its
    /// ukey, so the frozen state (which holds the packet's metadata
    /// whole, tunnel options included) is found again under the same id.
    pub(crate) origins: Mutex<crate::revalidate::Origins>,
    /// Revalidation rounds begun (ages [`OfprotoUpcall::origins`]).
    pub(crate) reval_rounds: AtomicU64,
    /// The meters the datapath enforces (give it to `Datapath::with_meter`);
    /// configured from the bridges' meters as translations use them.
    pub meters: Arc<DpMeters>,
    /// Datapath time of the last revalidation round (ms): megaflows used
    /// since then replay their side effects (learn), as OVS's xlate cache.
    pub(crate) last_reval_ms: std::sync::atomic::AtomicU64,
    /// Native tunnelling's routes, neighbours and local addresses.
    pub tnl: Arc<crate::tunnel::TnlState>,
    /// Bridges added or removed, recirculation ids freed (see
    /// [`OfprotoUpcall::generation`]).
    pub(crate) changes: AtomicU64,
    /// The generation the last revalidation round started from.
    pub(crate) reval_gen: Mutex<Vec<u64>>,
    /// Rule identities of the revalidator's caches (cleared when the
    /// generation changes).
    pub(crate) rule_keys: Mutex<crate::xcache::RuleKeys>,
    /// Translations of datapath flows run (upcalls and revalidation),
    /// for the `xlate_actions` coverage counter.
    pub translations: AtomicU64,
    /// Megaflows disabled (`upcall/disable-megaflows`): misses install
    /// exact-match flows, whatever translation looked at, as OVS's
    /// `enable_megaflows` off.
    pub exact_flows: std::sync::atomic::AtomicBool,
}

impl OfprotoUpcall {
    pub fn new() -> Arc<OfprotoUpcall> {
        Arc::new(OfprotoUpcall::default())
    }

    pub fn add_bridge(&self, b: Arc<Bridge>) {
        self.bridges
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(b);
        self.changes.fetch_add(1, Relaxed);
    }

    /// Everything translation reads, as change counters (OVS's
    /// `need_revalidate` reasons): bridges added or removed and
    /// recirculation ids freed (megaflows that recirculate to them go), each
    /// bridge's rules, groups, meters, ports and config
    /// ([`Ofproto::change_seq`]), its datapath port map and its MAC table
    /// (aged-out entries removed at the bridge's `now` first), and the
    /// tunnel routes, neighbours and devices. Megaflows translated at one
    /// generation are right for as long as it stays the same.
    pub fn generation(&self) -> Vec<u64> {
        let bridges = self.bridges.read().unwrap_or_else(|e| e.into_inner());
        let mut g = Vec::with_capacity(2 + 3 * bridges.len());
        g.push(self.changes.load(Relaxed));
        let mut now = None;
        for b in bridges.iter() {
            let (seq, t) = {
                let of = b.ofproto.lock().unwrap_or_else(|e| e.into_inner());
                (of.change_seq(), of.now())
            };
            now.get_or_insert(t);
            b.mac.expire(t);
            g.extend([seq, b.port_changes.load(Relaxed), b.mac.change_seq()]);
        }
        g.push(self.tnl.change_seq(now.unwrap_or_else(Instant::now)));
        g
    }

    /// Removes the bridge whose `Ofproto` is `of`.
    pub fn del_bridge(&self, of: &Arc<Mutex<Ofproto>>) {
        self.bridges
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|b| !Arc::ptr_eq(&b.ofproto, of));
        self.changes.fetch_add(1, Relaxed);
    }

    /// Packet-ins produced since the last call: (bridge name, packet-in,
    /// packet bytes) for vswitchd to hand to the bridge's connections
    /// (`Ofproto::send_packet_in`).
    pub fn take_packet_ins(&self) -> Vec<(String, PacketIn, Vec<u8>)> {
        std::mem::take(&mut *self.packet_ins.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Translates a datapath flow (its `in_port` a datapath port number):
    /// what a miss does, and what revalidators will call. None if no
    /// bridge owns the port. The recirculation ids in `recircs` hold a
    /// reference each: give them back with [`RecircTable::unref`] (after
    /// [`RecircTable::hand_to_megaflow`] if the actions are installed).
    pub fn translate(&self, f: &Flow, may_learn: bool, pkt_len: u64) -> Option<Translation> {
        self.translate_credit(f, may_learn, (pkt_len > 0).then_some((1, pkt_len)))
    }

    /// As [`Self::translate`], owing `credit` (packets, bytes) to each
    /// rule the translation went through.
    pub fn translate_credit(
        &self,
        f: &Flow,
        may_learn: bool,
        credit: Option<(u64, u64)>,
    ) -> Option<Translation> {
        let t =
            self.with_bridges(|refs| self.translate_locked(refs, f, may_learn, credit, None))?;
        self.apply_learned(&t.learned, t.now);
        Some(t)
    }

    /// Applies learned flows and fin timeouts (translation only reports
    /// them, since it borrows the tables).
    pub(crate) fn apply_learned(&self, learned: &[xlate::TableEffect], now: Instant) {
        if learned.is_empty() {
            return;
        }
        let bridges = self.bridges.read().unwrap_or_else(|e| e.into_inner());
        for e in learned {
            let b = match e {
                xlate::TableEffect::Learn(l) => l.bridge,
                xlate::TableEffect::FinTimeout { bridge, .. } => *bridge,
            };
            if let Some(br) = bridges.get(b) {
                br.ofproto
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .apply_table_effect(e, now);
            }
        }
    }

    /// Runs `run` with every bridge of the datapath locked (always in list
    /// order, so two callers never deadlock), as translation borrows them.
    pub(crate) fn with_bridges<R>(&self, run: impl FnOnce(&[BridgeRef<'_>]) -> R) -> R {
        let bridges = self.bridges.read().unwrap_or_else(|e| e.into_inner());
        if let [b] = &bridges[..] {
            // One bridge (the common case): no lists to allocate.
            let ports = b.ports.read().unwrap_or_else(|e| e.into_inner());
            let of = b.ofproto.lock().unwrap_or_else(|e| e.into_inner());
            return run(&[BridgeRef {
                ofproto: &of,
                ports: &ports,
                mac: &b.mac,
            }]);
        }
        let ports: Vec<_> = bridges
            .iter()
            .map(|b| b.ports.read().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let guards: Vec<MutexGuard<'_, Ofproto>> = bridges
            .iter()
            .map(|b| b.ofproto.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let refs: Vec<BridgeRef<'_>> = guards
            .iter()
            .zip(ports.iter())
            .zip(bridges.iter())
            .map(|((g, p), b)| BridgeRef {
                ofproto: g,
                ports: p,
                mac: &b.mac,
            })
            .collect();
        run(&refs)
    }

    /// [`Self::translate_credit`] with the bridges already locked; with
    /// `keys`, the translation's [`crate::xcache::XCache`] too.
    pub(crate) fn translate_locked(
        &self,
        refs: &[BridgeRef<'_>],
        f: &Flow,
        may_learn: bool,
        credit: Option<(u64, u64)>,
        keys: Option<&mut crate::xcache::RuleKeys>,
    ) -> Option<Translation> {
        let flow = OfFlow::from_dp(f);
        self.translate_with(refs, &flow, may_learn, credit, keys, |out, now, xcache| {
            Translation {
                learned: std::mem::take(&mut out.learned),
                now,
                recircs: std::mem::take(&mut out.recircs),
                n_rules: out.rules.len(),
                actions: std::mem::take(&mut out.actions),
                wc: out.wc,
                packet_ins: std::mem::take(&mut out.packet_ins),
                mac_changed: out.mac_changed,
                error: out.error,
                xcache,
            }
        })
    }

    /// Translates the datapath flow `f` (its datapath words; bridges
    /// locked) and hands the result, in place, to `finish` with the
    /// translation's clock and, with `keys`, its
    /// [`crate::xcache::XCache`]. None if no bridge owns the port.
    pub(crate) fn translate_with<R>(
        &self,
        refs: &[BridgeRef<'_>],
        f: &OfFlow,
        may_learn: bool,
        credit: Option<(u64, u64)>,
        keys: Option<&mut crate::xcache::RuleKeys>,
        finish: impl FnOnce(&mut xlate::XlateOut<'_>, Instant, Option<crate::xcache::XCache>) -> R,
    ) -> Option<R> {
        let dp_in = f.bits(
            dp::IN_PORT.word as usize,
            dp::IN_PORT.shift as u32,
            dp::IN_PORT.bits as u32,
        ) as u32;
        // Bits a decapsulated packet's tunnel port was chosen by (only
        // looked for when no port has the datapath port).
        let mut tnl_wc: Option<OfFlow> = None;
        let found = refs
            .iter()
            .enumerate()
            .find_map(|(i, b)| b.ports.ofport_of_dp(dp_in).map(|o| (i, o)))
            .or_else(|| {
                let wc = tnl_wc.get_or_insert_with(OfFlow::default);
                // The most specific tunnel port of any bridge.
                refs.iter()
                    .enumerate()
                    .filter_map(|(i, b)| {
                        xlate::tunnel_receive_scored(b.ports, dp_in, f, wc).map(|(s, o)| (s, i, o))
                    })
                    .max_by_key(|(s, i, _)| (*s, std::cmp::Reverse(*i)))
                    .map(|(_, i, o)| (i, o))
            });
        let Some((idx, ofport)) = found else {
            // A decapsulated packet no tunnel port takes (unknown key or
            // remote): dropped by a flow on exactly those tunnel fields,
            // so that other tunnels' packets still reach translation.
            let shared = refs.iter().any(|b| {
                b.ports
                    .iter()
                    .any(|(_, x)| x.tunnel.as_ref().is_some_and(|c| c.dp_port == dp_in))
            });
            if !shared {
                return None;
            }
            let mut wc = tnl_wc.unwrap_or_default();
            wc.0[dp::W_MD0] |= dp::IN_PORT.word_mask() | dp::RECIRC_ID.word_mask();
            let mut out = xlate::XlateOut {
                wc,
                ..Default::default()
            };
            return Some(finish(&mut out, Instant::now(), None));
        };
        let now = refs[idx].ofproto.now();
        self.translations.fetch_add(1, Relaxed);
        // The flow copied once, into the input, then given its OpenFlow
        // input port there.
        let mut input = XlateIn {
            bridges: refs,
            bridge: idx,
            flow: *f,
            now,
            may_learn,
            recirc: Some(&self.recirc),
            tnl: Some(&self.tnl),
        };
        xlate::set_in_port(&mut input.flow, ofport);
        let mut out = xlate::xlate(&input);
        if let Some(t) = &tnl_wc {
            for (w, m) in out.wc.0.iter_mut().zip(t.0.iter()) {
                *w |= m;
            }
        }
        if let Some((packets, bytes)) = credit {
            self.credit(&out.rules, &out.lookups, now, packets, bytes);
        }
        let xcache = keys.and_then(|k| crate::xcache::XCache::of(&out, refs, idx, k));
        self.meters.sync(&out.actions, |id| {
            refs.iter().find_map(|b| {
                b.ofproto
                    .meters
                    .values()
                    .find(|m| m.dp_id == id)
                    .map(|m| MeterSpec::new(m.flags, &m.bands))
            })
        });
        Some(finish(&mut out, now, xcache))
    }

    /// Owes `packets` and `bytes` to each rule of `rules` (added to the
    /// rules by [`Self::flush_stats`]), and adds `packets` lookups (and
    /// matches) to each table of `lookups` at once, as OVS counts them
    /// when it translates: table stats read right after are exact.
    pub(crate) fn credit(
        &self,
        rules: &[xlate::RuleHit<'_>],
        lookups: &[xlate::TableLookup<'_>],
        now: Instant,
        packets: u64,
        bytes: u64,
    ) {
        if packets == 0 {
            return;
        }
        for l in lookups {
            l.table.lookup_count.fetch_add(packets, Relaxed);
            if l.matched {
                l.table.matched_count.fetch_add(packets, Relaxed);
            }
        }
        if rules.is_empty() {
            return;
        }
        let mut credits = self.credits.lock().unwrap_or_else(|e| e.into_inner());
        for h in rules {
            let r = h.rule;
            let key = (h.bridge, r as *const Rule as usize);
            owe(
                &mut credits,
                key,
                (r.created, r.table_id, r.priority),
                || r.om(),
                now,
                packets,
                bytes,
            );
        }
    }

    /// As [`Self::credit`] from a megaflow's cached translation (its
    /// tables are looked up in `refs`); `learn`: also refreshes the MAC
    /// entry it learned (as a translation with `may_learn` would).
    pub(crate) fn credit_cached(
        &self,
        refs: &[BridgeRef<'_>],
        xc: &crate::xcache::XCache,
        packets: u64,
        bytes: u64,
        learn: bool,
    ) {
        let Some(entry) = refs.get(xc.bridge) else {
            return;
        };
        let now = entry.ofproto.now();
        if let Some(m) = xc.mac.filter(|_| learn) {
            if let Some(b) = refs.get(m.bridge) {
                b.mac.learn(m.vlan, m.mac, m.port, now);
            }
        }
        if packets == 0 {
            return;
        }
        for &(b, t, matched) in &xc.lookups {
            if let Some(table) = refs.get(b).and_then(|r| r.ofproto.tables.get(t)) {
                table.lookup_count.fetch_add(packets, Relaxed);
                if matched {
                    table.matched_count.fetch_add(packets, Relaxed);
                }
            }
        }
        if xc.rules.is_empty() {
            return;
        }
        let mut credits = self.credits.lock().unwrap_or_else(|e| e.into_inner());
        for k in &xc.rules {
            owe(
                &mut credits,
                (k.bridge, k.addr),
                (k.created, k.table_id, k.priority),
                || k.om,
                now,
                packets,
                bytes,
            );
        }
    }

    /// Adds the packets and bytes that misses sent through each rule to
    /// the rules' counters (vswitchd calls it from its main loop, and
    /// before answering flow stats). Rules deleted meanwhile are skipped.
    pub fn flush_stats(&self) {
        let credits = std::mem::take(&mut *self.credits.lock().unwrap_or_else(|e| e.into_inner()));
        let metered = self.meters.take_stats();
        if credits.is_empty() && metered.is_empty() {
            return;
        }
        let bridges = self.bridges.read().unwrap_or_else(|e| e.into_inner());
        if !metered.is_empty() {
            for br in bridges.iter() {
                let mut of = br.ofproto.lock().unwrap_or_else(|e| e.into_inner());
                let ids: Vec<(u32, u32)> =
                    of.meters.values().map(|m| (m.meter_id, m.dp_id)).collect();
                for (id, dp_id) in ids {
                    if let Some((_, s)) = metered.iter().find(|(d, _)| *d == dp_id) {
                        of.credit_meter(
                            id,
                            s.packets,
                            s.bytes,
                            Some((0, s.dropped, s.dropped_bytes)),
                        );
                    }
                }
            }
        }
        for ((b, _), c) in credits {
            if let Some(br) = bridges.get(b) {
                let mut of = br.ofproto.lock().unwrap_or_else(|e| e.into_inner());
                of.credit_rule(c.table_id, &c.om, c.priority, c.packets, c.bytes, c.used);
            }
        }
    }
}

impl OfprotoUpcall {
    /// `ofproto/trace BRIDGE FLOW` over this datapath's bridges (what
    /// vswitchd's unixctl command calls): the text OVS prints.
    pub fn trace(&self, bridge: &str, flow: &str) -> Result<String, crate::trace::TraceError> {
        self.trace_ct_next(bridge, flow, &[], false)
    }

    /// As [`Self::trace`], resuming conntrack recirculations with the
    /// `ct_state`s of `--ct-next`; `generate` (`-generate`) lets the
    /// trace act as a real packet: the flows it learns and the
    /// fin_timeouts it hits are applied, NORMAL learns MAC addresses, and
    /// its packet-ins are not `dont_send` (the datapath actions are not
    /// executed, as in OVS).
    pub fn trace_ct_next(
        &self,
        bridge: &str,
        flow: &str,
        ct_next: &[u16],
        generate: bool,
    ) -> Result<String, crate::trace::TraceError> {
        let (text, learned, now) = self.with_bridges(|refs| {
            let idx = crate::trace::bridge_index(refs, bridge)?;
            let now = refs[idx].ofproto.now();
            let mut r = crate::trace_ct::trace_with_ct_next(
                refs,
                idx,
                flow,
                now,
                &|p| p.to_string(),
                Some(&self.tnl),
                Some(&self.recirc),
                ct_next,
                generate,
            )?;
            let learned = std::mem::take(&mut r.out.learned);
            Ok::<_, crate::trace::TraceError>((r.text, learned, now))
        })?;
        self.apply_learned(&learned, now);
        Ok(text)
    }

    /// The datapath actions for a frame entering bridge `bridge` on
    /// OpenFlow port `ofport` (how a tunnel's ARP request or neighbour
    /// solicitation goes out of the underlay, as OVS's
    /// `compose_table_xlate`). None if the bridge is not there.
    pub fn translate_frame(
        &self,
        bridge: &str,
        ofport: u16,
        frame: &[u8],
    ) -> Option<Vec<DpAction>> {
        self.with_bridges(|refs| {
            let idx = refs
                .iter()
                .position(|b| b.ofproto.config().name == bridge)?;
            let mut pkt = DpPacket::from_bytes(frame);
            let mut key = FlowKey::default();
            ferrovs_datapath::flow::extract(&mut pkt, &mut key);
            let mut f = Flow::default();
            key.expand(&mut f);
            let mut flow = OfFlow::from_dp(&f);
            xlate::set_in_port(&mut flow, ofport);
            let out = xlate::xlate(&XlateIn {
                bridges: refs,
                bridge: idx,
                flow,
                now: refs[idx].ofproto.now(),
                may_learn: false,
                recirc: None,
                tnl: Some(&self.tnl),
            });
            Some(out.actions)
        })
    }
}

impl UpcallHandler for OfprotoUpcall {
    fn miss(
        &self,
        _pkt: &DpPacket,
        key: &FlowKey,
        reply: &mut UpcallReply,
    ) -> Result<(), UpcallError> {
        // The key's words straight into the OpenFlow flow (no dense
        // datapath flow in between).
        let mut f = OfFlow::default();
        for (i, w) in key.iter() {
            f.0[i] = w;
        }
        // Rules are credited when the revalidator pushes the megaflow's
        // counters (which count this packet too), not here. The
        // translation is read in place (no owned copy of it).
        let done = self.with_bridges(|refs| {
            self.translate_with(refs, &f, true, None, None, |out, now, _| {
                reply.actions.append(&mut out.actions);
                // The datapath needs in_port exact (OpenFlow in_port bits
                // are the same bits, already exact).
                out.wc.0[dp::IN_PORT.word as usize] |= dp::IN_PORT.word_mask();
                // The mask key from the datapath words of the wildcards,
                // in place.
                let mut mask = FlowKey::default();
                let mut b = mask.builder();
                for (i, &w) in out.wc.0[..dp::FLOW_WORDS].iter().enumerate() {
                    b.push(i, w);
                }
                b.finish();
                reply.mask = Some(mask);
                reply.install = true;
                (
                    std::mem::take(&mut out.learned),
                    now,
                    std::mem::take(&mut out.recircs),
                )
            })
        });
        let exact = self.exact_flows.load(Relaxed);
        let Some((learned, now, recircs)) = done else {
            // No bridge owns the port: drop, and keep dropping in the
            // datapath (exact in_port).
            reply.actions.clear();
            let mut m = Flow::default();
            m.set_all(dp::IN_PORT);
            reply.mask = (!exact).then(|| m.to_key());
            reply.install = true;
            return Ok(());
        };
        if exact {
            // `None`: the datapath matches every field of the key.
            reply.mask = None;
        }
        self.apply_learned(&learned, now);
        if !recircs.is_empty() {
            let mask = reply
                .mask
                .take()
                .unwrap_or_else(ferrovs_datapath::upcall::exact_mask);
            crate::revalidate::remember_origin(self, &f.0, &mask);
            reply.mask = (!exact).then_some(mask);
        }
        // Packet-ins (table misses and controller actions alike) come
        // back through `userspace`, for this packet and every later one
        // of the megaflow.
        for id in &recircs {
            self.recirc.hand_to_megaflow(*id);
            self.recirc.unref(*id);
        }
        Ok(())
    }

    fn userspace(&self, pkt: &DpPacket, userdata: &[u8]) {
        // As OVS's CONTROLLER_UPCALL: the cookie and the frozen state it
        // names make the packet-in (nothing if the state is gone).
        let Some(c) = xlate::controller::ControllerCookie::parse(userdata) else {
            return;
        };
        if c.dont_send || c.recirc_id == 0 {
            return;
        }
        let Some(state) = self.recirc.get(c.recirc_id) else {
            return;
        };
        let bridges = self.bridges.read().unwrap_or_else(|e| e.into_inner());
        let Some((idx, b)) = bridges.iter().enumerate().find(|(_, b)| {
            b.ofproto
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .config()
                .name
                == state.bridge
        }) else {
            return;
        };
        let mut pi = xlate::controller::packet_in_from(&c, &state, idx);
        // The pipeline match of the packet-in: its OpenFlow input port,
        // metadata and registers when the controller action ran (from
        // the frozen state: the datapath does not carry them) and the tunnel
        // metadata the packet still holds, its Geneve options read with
        // the bridge's TLV map.
        let of = b.ofproto.lock().unwrap_or_else(|e| e.into_inner());
        if pi.continuation.is_none() && pkt.md().tunnel.is_set() {
            put_tunnel(&pkt.md().tunnel, &mut pi.flow);
            // Options the map cannot read were refused by translation
            // before this packet-in was made: none here.
            let _ = crate::flow::geneve::map_options(&mut pi.flow, &of.tlv);
        }
        let name = of.config().name.clone();
        drop(of);
        self.packet_ins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, pi, pkt.data().to_vec()));
    }
}

/// The tunnel words of `f` from a packet's tunnel metadata (the words
/// extraction would give it).
fn put_tunnel(t: &ferrovs_datapath::packet::TunnelMd, f: &mut OfFlow) {
    let mut d = f.to_dp();
    d.set(dp::TUN_ID, t.id);
    d.set(dp::TUN_SRC, t.ipv4_src as u64);
    d.set(dp::TUN_DST, t.ipv4_dst as u64);
    d.set(dp::TUN_IPV6_SRC_HI, (t.ipv6_src >> 64) as u64);
    d.set(dp::TUN_IPV6_SRC_LO, t.ipv6_src as u64);
    d.set(dp::TUN_IPV6_DST_HI, (t.ipv6_dst >> 64) as u64);
    d.set(dp::TUN_IPV6_DST_LO, t.ipv6_dst as u64);
    d.set(dp::TUN_TOS, t.tos as u64);
    d.set(dp::TUN_TTL, t.ttl as u64);
    d.set(dp::TUN_FLAGS, t.flags as u64);
    d.set(dp::TUN_TP_SRC, t.tp_src as u64);
    d.set(dp::TUN_TP_DST, t.tp_dst as u64);
    let opts = t.geneve();
    let n = opts.len().min(dp::TUN_GNV_OPT_BYTES);
    d.set(dp::TUN_GNV_LEN, n as u64);
    for (i, b) in opts[..n].iter().enumerate() {
        d.set_geneve_byte(i, *b);
    }
    f.0[..dp::FLOW_WORDS].copy_from_slice(&d.0);
}
