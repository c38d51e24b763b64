//! `Ofproto`: one OpenFlow switch (one bridge) as its controllers see it.
//!
//! It owns the bridge's OpenFlow state (ports, tables, groups, meters) and
//! its OpenFlow connections, but no socket: the caller (vswitchd) moves
//! bytes. For each connection it calls [`Ofproto::receive`] with what it
//! read and writes out what [`Ofproto::take_output`] returns; a
//! connection's waker is called whenever output is queued from elsewhere
//! (a port status, a flow-removed), so the I/O side knows to write.
//! [`Ofproto::run`] does time-driven work (timeouts, echo probes) and says
//! when it next needs to run.
//!
//! The caller holds an `Ofproto` behind a mutex; every method is short.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ferrovs_openflow::message::Port as OfpPortDesc;
use ferrovs_openflow::Version;

use crate::connmgr::{ConnId, ConnKind, Connection, Waker};
use crate::group::Group;
use crate::meter::Meter;
use crate::port::PortCounters;
use crate::table::Tables;

/// The switch's clock (tests replace it to move time).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Settings that come from the database (`Bridge` row) or the command line.
#[derive(Debug, Clone)]
pub struct OfprotoConfig {
    /// Bridge name (also the LOCAL port's name).
    pub name: String,
    pub datapath_id: u64,
    /// Versions allowed on connections (`Bridge:protocols`); empty means
    /// OVS's default (OpenFlow 1.0 to 1.5 on service connections).
    pub versions: Vec<Version>,
    /// `fail_mode=secure` (false: standalone).
    pub fail_secure: bool,
    /// Number of tables visible (`other_config:flow_tables`, default 254:
    /// table 254 is hidden as in OVS; table ids 0..=253).
    pub n_tables: u8,
}

impl OfprotoConfig {
    pub fn new(name: &str, datapath_id: u64) -> OfprotoConfig {
        OfprotoConfig {
            name: name.to_string(),
            datapath_id,
            versions: Vec::new(),
            fail_secure: false,
            n_tables: 254,
        }
    }
    /// The versions a connection may negotiate.
    pub fn allowed_versions(&self) -> Vec<Version> {
        if self.versions.is_empty() {
            vec![
                Version::Of10,
                Version::Of11,
                Version::Of12,
                Version::Of13,
                Version::Of14,
                Version::Of15,
            ]
        } else {
            self.versions.clone()
        }
    }
}

/// One OpenFlow port of the bridge, as port-desc and port-status carry it
/// (OFPPF_* feature bits in their OpenFlow 1.1+ positions; OpenFlow 1.0
/// connections get them converted).
pub type OfPort = OfpPortDesc;

/// The OpenFlow switch of one bridge.
pub struct Ofproto {
    pub(crate) config: OfprotoConfig,
    /// By OpenFlow port number (16-bit numbering; LOCAL is 0xfffe).
    pub(crate) ports: BTreeMap<u16, OfPort>,
    /// Ports whose device has the default queue 0 (see `queue`).
    pub(crate) queue_ports: std::collections::BTreeSet<u16>,
    /// When `run` next has rules to expire: None while no rule has a
    /// timeout; set to now by every flow-mod that gives a rule one.
    pub(crate) expiry_due: Option<Instant>,
    /// A rule with a `learn(..., delete_learned)` action was ever added:
    /// until then removing rules need not look for one (set, never
    /// cleared).
    pub(crate) learn_deletes: bool,
    pub(crate) conns: BTreeMap<ConnId, Connection>,
    next_conn: u64,
    pub(crate) tables: Tables,
    pub(crate) groups: BTreeMap<u32, Group>,
    pub(crate) meters: BTreeMap<u32, Meter>,
    /// Per-port counters and the time each port appeared.
    pub(crate) port_counters: BTreeMap<u16, PortCounters>,
    pub(crate) port_sources: BTreeMap<u16, crate::port::PortStatsSource>,
    /// Highest generation id a primary role request carried.
    pub(crate) generation_id: Option<u64>,
    pub(crate) clock: Clock,
    /// Packet-outs received, for translation to execute.
    pub(crate) packet_outs: Vec<ferrovs_openflow::message::PacketOut>,
    /// Port-mod config changes not yet taken by vswitchd.
    pub(crate) port_mods: Vec<(u16, u32)>,
    /// `NXT_RESUME`s received, for translation to execute.
    pub(crate) resumes: Vec<crate::continuation::Resume>,
    /// This bridge instance's id in continuations (random: a restart or a
    /// new bridge of the same name makes old continuations stale).
    pub(crate) instance_id: [u8; 16],
    /// The Geneve TLV table (`tun_metadata<n>` mappings, see `tlv_table`).
    pub(crate) tlv: crate::flow::TlvMap,
    /// Changes to what translation reads outside the tables (groups,
    /// meters, ports, config, TLV map); see [`Ofproto::change_seq`].
    pub(crate) change_seq: u64,
    /// The table-features replies, encoded, one per version.
    pub(crate) tf_cache: crate::table_features_cache::TableFeaturesCache,
}

impl Ofproto {
    pub fn new(config: OfprotoConfig) -> Ofproto {
        Ofproto {
            config,
            ports: BTreeMap::new(),
            queue_ports: Default::default(),
            expiry_due: None,
            learn_deletes: false,
            conns: BTreeMap::new(),
            next_conn: 1,
            tables: Tables::default(),
            groups: BTreeMap::new(),
            meters: BTreeMap::new(),
            port_counters: BTreeMap::new(),
            port_sources: BTreeMap::new(),
            generation_id: None,
            clock: Arc::new(Instant::now),
            packet_outs: Vec::new(),
            port_mods: Vec::new(),
            resumes: Vec::new(),
            instance_id: crate::continuation::new_bridge_id(),
            tlv: crate::flow::TlvMap::EMPTY,
            change_seq: 0,
            tf_cache: Default::default(),
        }
    }

    /// Replaces the clock (tests move time with it).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The clock's current time.
    pub fn now(&self) -> Instant {
        (self.clock)()
    }

    /// Takes the packet-outs received since the last call (translation
    /// executes them).
    pub fn take_packet_outs(&mut self) -> Vec<ferrovs_openflow::message::PacketOut> {
        std::mem::take(&mut self.packet_outs)
    }

    /// Takes the `NXT_RESUME`s received since the last call.
    pub fn take_resumes(&mut self) -> Vec<crate::continuation::Resume> {
        std::mem::take(&mut self.resumes)
    }

    /// The bridge's translation generation: changes whenever something
    /// translation reads changes (rules, groups, meters, ports, config,
    /// TLV map), never for counters. Revalidators re-translate megaflows
    /// only when it moved (OVS's `need_revalidate`).
    pub fn change_seq(&self) -> u64 {
        self.change_seq.wrapping_add(self.tables.version())
    }

    /// Counts a change translation may see (see [`Ofproto::change_seq`]).
    pub(crate) fn changed(&mut self) {
        self.change_seq += 1;
    }

    /// This bridge instance's id in the continuations it sends.
    pub fn instance_id(&self) -> [u8; 16] {
        self.instance_id
    }

    /// Adds datapath counters to a rule (what revalidators push back):
    /// `packets`/`bytes` more, last used at `used`. False if no such rule.
    pub fn credit_rule(
        &mut self,
        table_id: u8,
        m: &crate::flow::OfMatch,
        priority: u16,
        packets: u64,
        bytes: u64,
        used: Instant,
    ) -> bool {
        let Some(r) = self
            .tables
            .get_mut_counters(table_id)
            .and_then(|t| t.cls.get_mut(m, priority as u32))
        else {
            return false;
        };
        if r.flags & ferrovs_openflow::message::FlowMod::F_NO_PKT_COUNTS == 0 {
            r.packet_count += packets;
        }
        if r.flags & ferrovs_openflow::message::FlowMod::F_NO_BYT_COUNTS == 0 {
            r.byte_count += bytes;
        }
        if packets > 0 {
            r.used = r.used.max(used);
        }
        true
    }

    /// The rule at (table, match, priority).
    pub fn rule(
        &self,
        table_id: u8,
        m: &crate::flow::OfMatch,
        priority: u16,
    ) -> Option<&crate::rule::Rule> {
        self.tables
            .get(table_id)?
            .cls
            .get(m, priority as u32)
            .map(|r| &**r)
    }

    /// Number of rules in every table.
    pub fn n_rules(&self) -> usize {
        self.tables.n_rules()
    }

    pub fn config(&self) -> &OfprotoConfig {
        &self.config
    }

    /// Applies new settings (datapath id, protocols, fail mode...).
    pub fn set_config(&mut self, config: OfprotoConfig) {
        self.changed();
        self.config = config;
    }

    /// Adds or changes a port; connections are told by port-status.
    pub fn set_port(&mut self, port: OfPort) {
        self.port_changed(port);
    }

    /// Removes a port; connections are told by port-status.
    pub fn del_port(&mut self, port_no: u16) -> Option<OfPort> {
        self.port_removed(port_no)
    }

    pub fn port(&self, port_no: u16) -> Option<&OfPort> {
        self.ports.get(&port_no)
    }

    pub fn ports(&self) -> impl Iterator<Item = &OfPort> {
        self.ports.values()
    }

    /// Opens a connection; the switch's HELLO is queued at once.
    pub fn connect(&mut self, kind: ConnKind, waker: Waker) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let versions = self.config.allowed_versions();
        self.conns
            .insert(id, Connection::new(id, kind, &versions, waker));
        id
    }

    /// True while connection `id` may be read: its queued output is under
    /// [`crate::connmgr::OUTPUT_LIMIT`] and its unprocessed input under
    /// [`crate::connmgr::INPUT_LIMIT`]. The I/O side stops reading the
    /// socket while this is false and asks again after each write.
    pub fn wants_input(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_some_and(|c| c.wants_input())
    }

    /// Forgets a connection (socket closed).
    pub fn disconnect(&mut self, id: ConnId) {
        self.conns.remove(&id);
    }

    /// Asks every connection to close once its queued output is written
    /// (`bridge/reconnect`, as OVS's `connmgr_reconnect`): active
    /// controllers then connect again after their backoff, connections
    /// accepted on a listener are gone. Returns how many were asked.
    pub fn reconnect_all(&mut self) -> usize {
        for c in self.conns.values_mut() {
            c.closing = true;
            (c.waker)();
        }
        self.conns.len()
    }

    /// Handles bytes read from connection `id`: whole messages are
    /// processed, a partial one is kept for the next call.
    pub fn receive(&mut self, id: ConnId, bytes: &[u8]) {
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        conn.input.extend_from_slice(bytes);
        self.process_input(&mut conn);
        self.conns.insert(id, conn);
    }

    /// Processes whole messages of `conn`'s input while its output is
    /// under the limit (back-pressure: the rest waits in `input`).
    /// Messages are handled in place, from the input buffer (taken out of
    /// the connection meanwhile), without a copy each.
    fn process_input(&mut self, conn: &mut Connection) {
        let input = std::mem::take(&mut conn.input);
        let mut pos = conn.input_pos;
        while !conn.output_full() {
            let rest = &input[pos..];
            if rest.len() < 8 {
                break;
            }
            let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
            if len < 8 {
                // A header with a length below 8 closes the connection.
                conn.closing = true;
                pos = input.len();
                break;
            }
            if rest.len() < len {
                break;
            }
            crate::connmgr::handle(self, conn, &rest[..len]);
            pos += len;
            if conn.closing {
                break;
            }
        }
        conn.input = input;
        if pos == conn.input.len() {
            conn.input.clear();
            pos = 0;
        } else if conn.input.len() - pos < 8
            || u16::from_be_bytes([conn.input[pos + 2], conn.input[pos + 3]]) as usize
                > conn.input.len() - pos
        {
            // Keep only the partial message (one move per read).
            conn.input.drain(..pos);
            pos = 0;
        }
        conn.input_pos = pos;
    }

    /// Takes what is queued for connection `id` (empty if nothing). Input
    /// held back by back-pressure is processed now; what it produces is
    /// queued for the next call (and the waker told).
    pub fn take_output(&mut self, id: ConnId) -> Vec<u8> {
        let Some(mut conn) = self.conns.remove(&id) else {
            return Vec::new();
        };
        let out = std::mem::take(&mut conn.output);
        if conn.pending_input() > 0 && !conn.closing {
            self.process_input(&mut conn);
            if !conn.output.is_empty() {
                (conn.waker)();
            }
        }
        self.conns.insert(id, conn);
        out
    }

    /// True once the connection should be closed after its output is
    /// written (a failed version negotiation, a fatal error).
    pub fn is_closing(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_none_or(|c| c.closing)
    }

    /// The version negotiated on `id`, once hellos were exchanged.
    pub fn conn_version(&self, id: ConnId) -> Option<Version> {
        self.conns.get(&id).and_then(|c| c.version)
    }

    /// Every rule of every table, hidden table 254 included (read-only, for
    /// `bridge/dump-flows`): table by table in id order, each table's
    /// rules in no particular order.
    pub fn rules(&self) -> impl Iterator<Item = &crate::rule::Rule> {
        (0..=crate::table::TABLE_HIDDEN)
            .filter_map(|t| self.tables.get(t))
            .flat_map(|t| t.cls.iter().map(|(_, r)| &**r))
    }

    /// The role of connection `id` (`connmgr::role::ROLE_EQUAL`,
    /// `ROLE_MASTER` or `ROLE_SLAVE`), for the Controller `role` column.
    pub fn conn_role(&self, id: ConnId) -> Option<u32> {
        self.conns.get(&id).map(|c| c.role)
    }

    /// Time-driven work (idle and hard timeouts); returns when it next
    /// wants to run.
    /// The tables are only walked once something may be due, so a caller
    /// may call this often (vswitchd: every slow-path tick).
    pub fn run(&mut self, now: Instant) -> Option<Instant> {
        if self.expiry_due.is_none_or(|t| t > now) {
            return self.expiry_due;
        }
        self.expiry_due = self.expire_rules(now);
        self.expiry_due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// `reconnect_all` marks every connection closing and wakes each.
    #[test]
    fn reconnect_all_closes_every_connection() {
        let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
        let woken = Arc::new(AtomicUsize::new(0));
        let ids: Vec<ConnId> = [ConnKind::Controller, ConnKind::Service]
            .into_iter()
            .map(|k| {
                let w = woken.clone();
                of.connect(
                    k,
                    Box::new(move || {
                        w.fetch_add(1, Ordering::Relaxed);
                    }),
                )
            })
            .collect();
        assert!(ids.iter().all(|id| !of.is_closing(*id)));
        assert_eq!(of.reconnect_all(), 2);
        assert!(ids.iter().all(|id| of.is_closing(*id)));
        assert_eq!(woken.load(Ordering::Relaxed), 2);
    }
}
