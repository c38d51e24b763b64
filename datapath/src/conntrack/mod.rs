//! Connection tracking and NAT for the userspace datapath.
//!
//! One [`Conntrack`] is shared (`Arc`) by every PMD thread of a datapath.
//! The `ct` datapath action ([`CtAction`]) runs a packet through it:
//! the packet's (zone, 5-tuple) key is looked up in a sharded table
//! ([`table`]) holding both directions of every connection; the
//! protocol's state machine ([`tcp`], [`other`]) judges the packet; a
//! `commit` creates the connection (within the limits of [`zones`]), with
//! a NAT tuple chosen by [`nat`]; and the packet's conntrack metadata
//! (`ct_state`, `ct_zone`, `ct_mark`, `ct_label`, original tuple) is
//! written so that the flow extracted after the following recirculation
//! matches on it. Nothing on this path takes a global lock: one shard lock
//! for the probe, one per-connection lock for the update, atomics for the
//! limits. Expiry ([`Conntrack::sweep`]) runs on a control thread with a
//! clock passed in (tests pass their own; [`expiry`] runs it on a thread
//! while the PMDs run). IPv4 and IPv6 fragments are reassembled first ([`ipf`]);
//! FTP and TFTP data connections are announced by [`alg`]; [`fmt`] prints
//! actions and entries as OVS does; [`frame`] builds test packets.
//!
//! What a packet's ct_state gets follows OVS's userspace tracker
//! (lib/conntrack.c): `trk` always; `new` for a packet that may open a
//! connection (committed or not); `est` once the connection saw both
//! directions; `rpl` in the reply direction; `rel` for ICMP errors of a
//! connection (and connections an ALG expects); `inv` for anything that
//! cannot be tracked or fails the protocol checks; `snat`/`dnat` when NAT
//! was applied.

pub mod alg;
pub mod alg_nat;
pub mod conn;
pub mod expiry;
pub mod fmt;
pub mod frame;
pub mod ipf;
pub mod key;
pub mod nat;
pub mod other;
pub mod table;
pub mod tcp;
pub mod timeouts;
pub mod zones;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::actions::set::Masked;
use crate::packet::{CtTuple, DpPacket, NO_OFFSET};
use crate::random::Rng;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};

pub use conn::{Alg, Conn, ConnState, ProtoState};
pub use key::{ConnKey, Endpoint, KeyError, PktInfo};
pub use nat::{NatAction, NatKind, NatSpec};
pub use table::Table;
pub use timeouts::{Timeouts, Tm};
pub use zones::Limits;

pub const CS_NEW: u16 = 0x01;
pub const CS_ESTABLISHED: u16 = 0x02;
pub const CS_RELATED: u16 = 0x04;
pub const CS_REPLY_DIR: u16 = 0x08;
pub const CS_INVALID: u16 = 0x10;
pub const CS_TRACKED: u16 = 0x20;
pub const CS_SRC_NAT: u16 = 0x40;
pub const CS_DST_NAT: u16 = 0x80;

/// The `ct` datapath action.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CtAction {
    pub zone: u16,
    /// Create the connection if new.
    pub commit: bool,
    /// Commit, and replace a connection seen in the reply direction by
    /// one in this direction (`force_commit`).
    pub force: bool,
    /// Masked set of the connection's mark (commit only).
    pub mark: Option<Masked<u32>>,
    /// Masked set of the connection's label (commit only).
    pub label: Option<Masked<u128>>,
    pub nat: Option<NatSpec>,
    pub helper: Option<Alg>,
    /// Timeout policy name (printed only; policies are set per zone).
    pub timeout: Option<Box<str>>,
}

/// Counters (summed on read).
#[derive(Default, Debug)]
pub struct CtCounters {
    pub invalid: AtomicU64,
    pub nat_exhausted: AtomicU64,
    pub full: AtomicU64,
}

/// The connection tracker.
pub struct Conntrack {
    table: Table,
    limits: Limits,
    basis: u64,
    tcp_seq_chk: AtomicBool,
    timeouts: ArcSwap<ZoneTimeouts>,
    /// True while `timeouts` holds OVS's defaults and no zone policy: the
    /// packet path then reads [`STOCK_TIMEOUTS`] and skips the pointer
    /// load (a third of a table probe).
    stock_timeouts: AtomicBool,
    expectations: alg::Expectations,
    ipf: ipf::Ipf,
    pub counters: CtCounters,
}

/// OVS's default timeouts (what a tracker without policies uses).
pub const STOCK_TIMEOUTS: Timeouts = Timeouts::STOCK;

/// Timeout policies: the default and per-zone overrides.
#[derive(Clone, Debug, Default)]
pub struct ZoneTimeouts {
    pub default: Timeouts,
    pub zones: HashMap<u16, Timeouts>,
}

impl ZoneTimeouts {
    #[inline]
    fn get(&self, zone: u16) -> &Timeouts {
        if self.zones.is_empty() {
            return &self.default;
        }
        self.zones.get(&zone).unwrap_or(&self.default)
    }
}

impl Default for Conntrack {
    fn default() -> Self {
        Conntrack::new()
    }
}

impl Conntrack {
    pub fn new() -> Conntrack {
        use std::hash::{BuildHasher, Hasher};
        // A random basis per tracker (std's per-process random keys).
        let basis = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Conntrack::with_basis(basis)
    }

    /// A tracker with a fixed hash basis (reproducible tests).
    pub fn with_basis(basis: u64) -> Conntrack {
        Conntrack {
            table: Table::new(basis),
            limits: Limits::default(),
            basis,
            tcp_seq_chk: AtomicBool::new(true),
            timeouts: ArcSwap::from_pointee(ZoneTimeouts::default()),
            stock_timeouts: AtomicBool::new(true),
            expectations: alg::Expectations::default(),
            ipf: ipf::Ipf::default(),
            counters: CtCounters::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    pub fn table(&self) -> &Table {
        &self.table
    }
    /// TCP sequence checking; off is the liberal mode.
    pub fn set_tcp_seq_chk(&self, on: bool) {
        self.tcp_seq_chk.store(on, Ordering::Relaxed);
    }
    pub fn tcp_seq_chk(&self) -> bool {
        self.tcp_seq_chk.load(Ordering::Relaxed)
    }
    pub fn timeouts(&self) -> Arc<ZoneTimeouts> {
        self.timeouts.load_full()
    }
    pub fn set_timeouts(&self, t: ZoneTimeouts) {
        let stock = t.zones.is_empty() && t.default == STOCK_TIMEOUTS;
        // The table first: a packet that still sees `stock` true uses the
        // defaults a moment longer, as one that loaded the old table would.
        self.timeouts.store(Arc::new(t));
        self.stock_timeouts.store(stock, Ordering::Release);
    }
    pub fn n_conns(&self) -> usize {
        self.limits.n_conns()
    }
    /// IPv4 and IPv6 fragment reassembly.
    pub fn ipf(&self) -> &ipf::Ipf {
        &self.ipf
    }
    /// Data connections announced by ALGs and not yet seen.
    pub fn n_expectations(&self) -> usize {
        self.expectations.len()
    }

    /// Removes connections expired at `now_ms`; returns how many.
    pub fn sweep(&self, now_ms: u64) -> usize {
        self.ipf.sweep(now_ms);
        let gone = self.table.sweep(now_ms);
        self.retire(&gone);
        self.expectations.sweep(now_ms);
        gone.len()
    }

    /// Removes every connection, or those of `zone`, or the one whose
    /// original (or reply) key is `key` (`dpctl/flush-conntrack`).
    pub fn flush(&self, zone: Option<u16>, key: Option<&ConnKey>) -> usize {
        let gone = self.table.sweep_if(|c| {
            zone.is_none_or(|z| c.fwd.zone == z) && key.is_none_or(|k| *k == c.fwd || *k == c.rev)
        });
        for c in &gone {
            c.lock().dead = true;
        }
        self.retire(&gone);
        gone.len()
    }

    fn remove(&self, c: &Arc<Conn>) {
        c.lock().dead = true;
        if self.table.remove(c) {
            self.retire(std::slice::from_ref(c));
        }
    }

    /// Connections that left the table (each seen here once): their
    /// zones' counts are released and the expectations they announced
    /// die with them.
    fn retire(&self, gone: &[Arc<Conn>]) {
        for c in gone {
            self.limits.release(c.fwd.zone);
        }
        if self.expectations.is_empty() || gone.iter().all(|c| c.alg.is_none()) {
            return;
        }
        let parents: HashSet<ConnKey> = gone
            .iter()
            .filter(|c| c.alg.is_some())
            .map(|c| c.fwd)
            .collect();
        self.expectations.clean(|k| parents.contains(k));
    }

    /// The expectation `x` if the connection that announced it is still
    /// live (an announcement racing with its parent's removal may outlive
    /// the cleaning; expiry is lazy).
    fn live_parent(&self, x: alg::Expectation, now: u64) -> Option<alg::Expectation> {
        self.table
            .lookup(&x.parent, now)
            .is_some_and(|e| !e.reply)
            .then_some(x)
    }

    /// Runs `pkt` through the tracker as action `a`. The packet's offsets
    /// must come from flow extraction (its `l3` is where the IP header
    /// starts); `v6` tells the family from the EtherType (`ip` false for
    /// non-IP packets, which become `inv`). `now_ms` is the tracker clock.
    pub fn execute(
        &self,
        pkt: &mut DpPacket,
        ip: bool,
        v6: bool,
        a: &CtAction,
        now_ms: u64,
        rng: &mut Rng,
    ) {
        let zone = a.zone;
        {
            let md = &mut pkt.md_mut().ct;
            if md.state != 0 && md.zone != zone {
                md.state = 0;
            }
        }
        let l3 = pkt.offsets().l3;
        let info = if !ip || l3 == NO_OFFSET {
            Err(KeyError::NotIp)
        } else {
            key::extract(pkt.data(), l3 as usize, v6, zone)
        };
        let info = match info {
            Ok(i) => i,
            Err(_) => {
                self.counters.invalid.fetch_add(1, Ordering::Relaxed);
                let md = &mut pkt.md_mut().ct;
                md.state = CS_INVALID | CS_TRACKED;
                md.zone = zone;
                md.mark = 0;
                md.label = 0;
                md.orig = CtTuple::default();
                return;
            }
        };
        let mut state = pkt.md().ct.state;
        let natted = state & (CS_SRC_NAT | CS_DST_NAT) != 0;
        let mut key = info.key;
        let mut found = None;
        if natted {
            // Translated by an earlier `ct(nat)` in this zone: the headers
            // now hold the other direction's view.
            if let Some(e) = self.table.lookup(&key.reverse(), now_ms) {
                let reply = !e.reply;
                key = *e.conn.key(reply);
                found = Some(table::Entry {
                    conn: e.conn,
                    reply,
                });
            }
        }
        if found.is_none() {
            found = self.table.lookup(&key, now_ms);
        }
        if a.force {
            if let Some(e) = &found {
                if e.reply {
                    self.remove(&e.conn);
                    found = None;
                }
            }
        }
        let loaded;
        let tmo: &Timeouts = if self.stock_timeouts.load(Ordering::Acquire) {
            &STOCK_TIMEOUTS
        } else {
            loaded = self.timeouts.load();
            loaded.get(zone)
        };
        let mut conn: Option<Arc<Conn>> = None;
        // The connection's (mark, label) as the state update left them.
        let mut seen: Option<(u32, u128)> = None;
        let mut expected: Option<alg::Expectation> = None;
        let mut create = false;
        match found {
            Some(e) => {
                if info.related {
                    state |= CS_RELATED;
                    if e.reply {
                        state |= CS_REPLY_DIR;
                    }
                } else {
                    if e.conn.parent.is_some() {
                        state |= CS_RELATED;
                    }
                    let (u, ml) = self.update(&e.conn, &info, e.reply, now_ms, tmo);
                    seen = Some(ml);
                    if e.conn.alg == Some(Alg::Ftp) && u != tcp::Update::Invalid {
                        self.ftp_ctl(pkt.data(), &info, &e.conn, e.reply, now_ms);
                    }
                    match u {
                        tcp::Update::Valid => {
                            state |= CS_ESTABLISHED;
                            state &= !CS_NEW;
                            if e.reply {
                                state |= CS_REPLY_DIR;
                            }
                        }
                        tcp::Update::Invalid => state = CS_INVALID,
                        tcp::Update::ValidNew => state |= CS_NEW,
                        tcp::Update::New => {
                            self.remove(&e.conn);
                            create = true;
                        }
                    }
                }
                if !create {
                    if a.nat.is_some() && e.conn.nat.any() && state & (CS_SRC_NAT | CS_DST_NAT) == 0
                    {
                        nat::rewrite(pkt, &info, &e.conn, e.reply);
                        state |= nat::state_bits(&e.conn, e.reply);
                        if e.conn.alg == Some(Alg::Ftp) {
                            alg_nat::ftp_nat(pkt, &info, &e.conn, e.reply);
                        }
                    }
                    conn = Some(e.conn);
                }
            }
            None => {
                if info.related {
                    state = CS_INVALID;
                } else {
                    create = true;
                }
            }
        }
        if create {
            conn = self.create(
                pkt,
                &info,
                &key,
                a,
                &mut state,
                &mut expected,
                now_ms,
                tmo,
                rng,
            );
        }
        if state & CS_INVALID != 0 {
            self.counters.invalid.fetch_add(1, Ordering::Relaxed);
        }
        // Metadata for the next recirculation.
        let md = &mut pkt.md_mut().ct;
        md.state = state | CS_TRACKED;
        md.zone = zone;
        match &conn {
            Some(c) => {
                match seen.filter(|_| a.mark.is_none() && a.label.is_none() && !create) {
                    // Read under the update's lock: no second lock.
                    Some((mark, label)) => {
                        md.mark = mark;
                        md.label = label;
                    }
                    None => {
                        let mut s = c.lock();
                        if let Some(m) = &a.mark {
                            s.mark = m.apply(s.mark);
                        }
                        if let Some(l) = &a.label {
                            s.label = l.apply(s.label);
                        }
                        md.mark = s.mark;
                        md.label = s.label;
                    }
                }
                md.orig = c.orig_tuple();
                // A TFTP request: the server may answer from any port. The
                // expectation carries the mark and label just set.
                if create && c.alg == Some(Alg::Tftp) && c.fwd.proto == PROTO_UDP {
                    self.expect(alg::tftp_expectation(&c.fwd), None, c, now_ms);
                }
            }
            // A new connection an ALG expects, not (or not yet) committed:
            // its parent's mark, label and tuple, as OVS reports them.
            None => match &expected {
                Some(x) => {
                    md.mark = x.mark;
                    md.label = x.label;
                    md.orig = x.parent.ct_tuple();
                }
                None => {
                    md.mark = 0;
                    md.label = 0;
                    md.orig = key.ct_tuple();
                }
            },
        }
    }

    /// Records that `c` announced the data connection `k` (translated
    /// by `nat` when committed with a bare `nat`).
    fn expect(&self, k: alg::ExpKey, nat: Option<alg::DataNat>, c: &Conn, now: u64) {
        let s = c.lock();
        let e = alg::Expectation {
            parent: c.fwd,
            mark: s.mark,
            label: s.label,
            expires: now + alg::EXPECTATION_MS,
            nat,
        };
        drop(s);
        self.expectations.add(k, e);
    }

    /// An FTP control segment: look for a data connection announcement.
    fn ftp_ctl(&self, frame: &[u8], info: &PktInfo, c: &Conn, reply: bool, now: u64) {
        let Some(seg) = &info.tcp else { return };
        let n = seg.payload_len as usize;
        if n == 0 || info.ip_end > frame.len() || n > info.ip_end {
            return;
        }
        let payload = &frame[info.ip_end - n..info.ip_end];
        if let Some(a) = alg::ftp_announce(payload, &c.fwd, &c.rev, reply) {
            self.expect(a.exp, a.nat, c, now);
        }
    }

    /// Runs the protocol state machine of `c` on the packet.
    /// Also returns the connection's mark and label, read under the same
    /// lock.
    fn update(
        &self,
        c: &Conn,
        info: &PktInfo,
        reply: bool,
        now: u64,
        t: &Timeouts,
    ) -> (tcp::Update, (u32, u128)) {
        let seq_chk = self.tcp_seq_chk();
        let mut s = c.lock();
        let (u, tm) = match &mut s.proto {
            ProtoState::Tcp(tc) => match &info.tcp {
                Some(seg) => tc.update(seg, reply, seq_chk),
                None => (tcp::Update::Invalid, None),
            },
            ProtoState::Other(o) => {
                let (u, tm) = o.update(reply);
                (u, Some(tm))
            }
            ProtoState::Icmp(i) => {
                let (u, tm) = i.update(reply);
                (u, Some(tm))
            }
        };
        if let Some(tm) = tm {
            s.expiration = now + t.ms(tm);
        }
        (u, (s.mark, s.label))
    }

    /// A packet of no known connection: `new` if it may open one, and the
    /// connection made when committing; `expected` gets the expectation
    /// it matched (`rel`), if any.
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        pkt: &mut DpPacket,
        info: &PktInfo,
        key: &ConnKey,
        a: &CtAction,
        state: &mut u16,
        expected: &mut Option<alg::Expectation>,
        now: u64,
        t: &Timeouts,
        rng: &mut Rng,
    ) -> Option<Arc<Conn>> {
        let proto = if key.proto == PROTO_TCP {
            let seg = info.tcp.as_ref()?;
            if !tcp::valid_new(seg) {
                *state = CS_INVALID;
                return None;
            }
            let (c, tm) = tcp::TcpConn::new(seg);
            (ProtoState::Tcp(c), tm)
        } else if key.is_icmp() && key.has_ports() {
            let ok = if key.v6 {
                key.src.icmp_type == key::ICMP6_ECHO_REQUEST
            } else {
                key::icmp4_valid_new(key.src.icmp_type)
            };
            if !ok {
                *state = CS_INVALID;
                return None;
            }
            (ProtoState::Icmp(other::IcmpState::First), Tm::IcmpFirst)
        } else {
            (ProtoState::Other(other::OtherState::First), Tm::OtherFirst)
        };
        *state = CS_NEW;
        if !(a.commit || a.force) {
            *expected = self
                .expectations
                .peek(key, now)
                .and_then(|x| self.live_parent(x, now));
            if expected.is_some() {
                *state |= CS_RELATED;
            }
            return None;
        }
        let exp = self
            .expectations
            .take(key, now)
            .and_then(|x| self.live_parent(x, now));
        if exp.is_some() {
            *state |= CS_RELATED;
        }
        *expected = exp;
        if !self.limits.admit(key.zone) {
            self.counters.full.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // A bare `nat` on an expected connection: its parent's NAT.
        let inherited = match (&exp, &a.nat) {
            (Some(alg::Expectation { nat: Some(n), .. }), Some(spec)) if spec.kind.is_none() => {
                Some(NatSpec {
                    kind: Some(n.kind),
                    v6: key.v6,
                    min_addr: n.addr,
                    max_addr: n.addr,
                    ..NatSpec::default()
                })
            }
            _ => None,
        };
        let nat_spec = a
            .nat
            .as_ref()
            .filter(|n| n.kind.is_some())
            .or(inherited.as_ref());
        // A few tries: a NAT tuple (or the key itself) may be taken by a
        // racing thread between the check and the insertion.
        for _ in 0..4 {
            let (rev, nat_act) = match nat_spec {
                Some(spec) => {
                    let mut free = |k: &ConnKey| self.table.is_free(k, now);
                    match nat::select(key, spec, self.basis, rng, &mut free) {
                        Some(r) => (r, spec.action()),
                        None => {
                            self.counters.nat_exhausted.fetch_add(1, Ordering::Relaxed);
                            self.limits.release(key.zone);
                            return None;
                        }
                    }
                }
                None => (key.reverse(), NatAction::NONE),
            };
            let mut c = Conn::new(*key, rev, nat_act, proto.0, proto.1, now, t);
            c.alg = a.helper;
            if let Some(x) = &exp {
                c.parent = Some(Box::new(x.parent));
                let mut s = c.lock();
                s.mark = x.mark;
                s.label = x.label;
            }
            let c = Arc::new(c);
            let (ok, gone) = self.table.insert(&c, now);
            self.retire(&gone);
            if ok {
                if nat_act.any() {
                    nat::rewrite(pkt, info, &c, false);
                    *state |= nat::state_bits(&c, false);
                }
                return Some(c);
            }
            if self.table.lookup(key, now).is_some() {
                // Another thread created it first.
                break;
            }
        }
        self.limits.release(key.zone);
        None
    }
}

/// `ct_clear`: forget every conntrack field of the packet.
pub fn clear(pkt: &mut DpPacket) {
    pkt.md_mut().ct = Default::default();
}

#[cfg(test)]
mod tests;
