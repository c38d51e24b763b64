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
use std::time::Instant;

use ferrovs_openflow::message::Port as OfpPortDesc;
use ferrovs_openflow::Version;

use crate::connmgr::{ConnId, ConnKind, Connection, Waker};

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

/// One OpenFlow port of the bridge, as port-desc and port-status carry it.
pub type OfPort = OfpPortDesc;

/// The OpenFlow switch of one bridge.
pub struct Ofproto {
    pub(crate) config: OfprotoConfig,
    /// By OpenFlow port number (16-bit numbering; LOCAL is 0xfffe).
    pub(crate) ports: BTreeMap<u16, OfPort>,
    pub(crate) conns: BTreeMap<ConnId, Connection>,
    next_conn: u64,
}

impl Ofproto {
    pub fn new(config: OfprotoConfig) -> Ofproto {
        Ofproto {
            config,
            ports: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
        }
    }

    pub fn config(&self) -> &OfprotoConfig {
        &self.config
    }

    /// Applies new settings (datapath id, protocols, fail mode...).
    pub fn set_config(&mut self, config: OfprotoConfig) {
        self.config = config;
    }

    /// Adds or changes a port; connections are told by port-status.
    pub fn set_port(&mut self, port: OfPort) {
        let no = port.port_no;
        self.ports.insert(no, port);
    }

    /// Removes a port (and, once tables exist, what refers to it).
    pub fn del_port(&mut self, port_no: u16) -> Option<OfPort> {
        self.ports.remove(&port_no)
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

    /// Forgets a connection (socket closed).
    pub fn disconnect(&mut self, id: ConnId) {
        self.conns.remove(&id);
    }

    /// Handles bytes read from connection `id`: whole messages are
    /// processed, a partial one is kept for the next call.
    pub fn receive(&mut self, id: ConnId, bytes: &[u8]) {
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        conn.input.extend_from_slice(bytes);
        while let Some(msg) = conn.next_message() {
            crate::connmgr::handle(self, &mut conn, &msg);
            if conn.closing {
                break;
            }
        }
        self.conns.insert(id, conn);
    }

    /// Takes what is queued for connection `id` (empty if nothing).
    pub fn take_output(&mut self, id: ConnId) -> Vec<u8> {
        self.conns
            .get_mut(&id)
            .map(|c| std::mem::take(&mut c.output))
            .unwrap_or_default()
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

    /// Time-driven work; returns when it next wants to run.
    pub fn run(&mut self, _now: Instant) -> Option<Instant> {
        None
    }
}
