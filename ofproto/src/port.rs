//! Ports as OpenFlow sees them: descriptions, port-mod (config bits) and
//! the port-status messages every change sends to every connection that
//! wants them; per-port counters, read when asked from the source the
//! switch registered for the port (its device's counters, as OVS's
//! `netdev_get_stats`), so a port-stats reply is never stale.

use std::sync::Arc;
use std::time::Instant;

use ferrovs_openflow::message::multipart::PortStats;
use ferrovs_openflow::message::{Message, PortMod, PortStatus};
use ferrovs_openflow::ErrorCode;

use crate::connmgr::async_config::AsyncKind;
use crate::connmgr::dispatch::Handled;
use crate::connmgr::Connection;
use crate::ofproto::{OfPort, Ofproto};

/// OFPPR_* reasons.
pub const PR_ADD: u8 = 0;
pub const PR_DELETE: u8 = 1;
pub const PR_MODIFY: u8 = 2;

/// OFPPC_* bits a port-mod may change: PORT_DOWN, NO_STP (1.0), NO_RECV,
/// NO_RECV_STP (1.0), NO_FLOOD (1.0), NO_FWD, NO_PACKET_IN.
pub const PORT_MOD_BITS: u32 = 0x7f;
/// OpenFlow 1.1+: PORT_DOWN, NO_RECV, NO_FWD, NO_PACKET_IN.
pub const PORT_MOD_BITS_11: u32 = 0x65;

/// A counter the port's device does not keep: OpenFlow's all-ones, which
/// `ovs-ofctl` prints as `?` and the `statistics` column leaves out.
pub const UNKNOWN: u64 = u64::MAX;

/// Counters of one port, as its device reports them ([`UNKNOWN`] for
/// what it does not count).
#[derive(Debug, Clone)]
pub struct PortCounters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    /// Two more the kernel keeps, which only `dpctl/show -s` prints.
    pub tx_aborted_err: u64,
    pub tx_carrier_err: u64,
    /// When the port appeared.
    pub since: Option<Instant>,
}

impl Default for PortCounters {
    /// Nothing known: every counter [`UNKNOWN`].
    fn default() -> PortCounters {
        PortCounters {
            rx_packets: UNKNOWN,
            tx_packets: UNKNOWN,
            rx_bytes: UNKNOWN,
            tx_bytes: UNKNOWN,
            rx_dropped: UNKNOWN,
            tx_dropped: UNKNOWN,
            rx_errors: UNKNOWN,
            tx_errors: UNKNOWN,
            rx_frame_err: UNKNOWN,
            rx_over_err: UNKNOWN,
            rx_crc_err: UNKNOWN,
            collisions: UNKNOWN,
            tx_aborted_err: UNKNOWN,
            tx_carrier_err: UNKNOWN,
            since: None,
        }
    }
}

/// Where a port's counters come from: called on each port-stats request.
pub type PortStatsSource = Arc<dyn Fn() -> PortCounters + Send + Sync>;

impl PortCounters {
    /// Packet and byte counts only (what OVS's dummy and vport devices
    /// keep), the rest [`UNKNOWN`].
    pub fn packets_bytes(rx_packets: u64, rx_bytes: u64, tx_packets: u64, tx_bytes: u64) -> Self {
        PortCounters {
            rx_packets,
            rx_bytes,
            tx_packets,
            tx_bytes,
            ..PortCounters::default()
        }
    }

    /// The counters the device keeps, by their `Interface.statistics`
    /// names, sorted by name.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = [
            ("collisions", self.collisions),
            ("rx_bytes", self.rx_bytes),
            ("rx_crc_err", self.rx_crc_err),
            ("rx_dropped", self.rx_dropped),
            ("rx_errors", self.rx_errors),
            ("rx_frame_err", self.rx_frame_err),
            ("rx_over_err", self.rx_over_err),
            ("rx_packets", self.rx_packets),
            ("tx_bytes", self.tx_bytes),
            ("tx_dropped", self.tx_dropped),
            ("tx_errors", self.tx_errors),
            ("tx_packets", self.tx_packets),
        ]
        .into_iter()
        .filter(|(_, v)| *v != UNKNOWN)
        .collect();
        v.sort();
        v
    }

    pub fn stats(&self, port_no: u16) -> PortStats {
        PortStats {
            port_no,
            rx_packets: self.rx_packets,
            tx_packets: self.tx_packets,
            rx_bytes: self.rx_bytes,
            tx_bytes: self.tx_bytes,
            rx_dropped: self.rx_dropped,
            tx_dropped: self.tx_dropped,
            rx_errors: self.rx_errors,
            tx_errors: self.tx_errors,
            rx_frame_err: self.rx_frame_err,
            rx_over_err: self.rx_over_err,
            rx_crc_err: self.rx_crc_err,
            collisions: self.collisions,
            duration_sec: 0,
            duration_nsec: 0,
        }
    }
}

/// OFPPF_* bits from their OpenFlow 1.1+ positions (how the switch keeps
/// them) to OpenFlow 1.0's: speeds stay, COPPER..PAUSE_ASYM move from
/// bits 11..15 to 7..11, and 40G/100G/1T/OTHER have no 1.0 form.
pub fn features_to_of10(f: u32) -> u32 {
    (f & 0x7f) | ((f >> 4) & 0xf80)
}

/// OFPPS_* bits OpenFlow 1.0 has: LINK_DOWN and the STP state field
/// (bits 8-9). BLOCKED and LIVE (bits 1, 2) exist from 1.1 on.
pub const PORT_STATE_BITS_10: u32 = 0x301;

/// The port as version `v` describes it.
pub fn port_for(v: ferrovs_openflow::Version, port: &OfPort) -> OfPort {
    let mut p = port.clone();
    if v == ferrovs_openflow::Version::Of10 {
        p.state &= PORT_STATE_BITS_10;
        p.curr = features_to_of10(p.curr);
        p.advertised = features_to_of10(p.advertised);
        p.supported = features_to_of10(p.supported);
        p.peer = features_to_of10(p.peer);
    }
    p
}

fn port_status(c: &mut Connection, reason: u8, port: &OfPort) {
    if c.receives_async(AsyncKind::PortStatus, reason) {
        c.send_async(&Message::PortStatus(PortStatus {
            reason,
            port: port_for(c.ver(), port),
        }));
    }
}

impl Ofproto {
    /// Replaces the counters of a port (vswitchd/datapath side).
    pub fn set_port_counters(&mut self, port_no: u16, mut c: PortCounters) {
        let since = self.port_counters.get(&port_no).and_then(|p| p.since);
        c.since = since.or(c.since);
        self.port_counters.insert(port_no, c);
    }

    /// Where port `port_no`'s counters come from from now on (its
    /// device); read at each port-stats request.
    pub fn set_port_stats_source(&mut self, port_no: u16, source: PortStatsSource) {
        self.port_sources.insert(port_no, source);
    }

    /// The counters of port `port_no` now: its source's, else the last set.
    pub fn port_counters(&self, port_no: u16) -> PortCounters {
        let since = self.port_counters.get(&port_no).and_then(|p| p.since);
        let mut c = match self.port_sources.get(&port_no) {
            Some(src) => src(),
            None => self
                .port_counters
                .get(&port_no)
                .cloned()
                .unwrap_or_default(),
        };
        c.since = since.or(c.since);
        c
    }

    pub(crate) fn port_changed(&mut self, port: OfPort) {
        let no = port.port_no;
        let reason = match self.ports.get(&no) {
            Some(old) if *old == port => return,
            Some(_) => PR_MODIFY,
            None => PR_ADD,
        };
        self.changed();
        if reason == PR_ADD {
            let now = self.now();
            self.port_counters.entry(no).or_default().since = Some(now);
        }
        self.ports.insert(no, port.clone());
        self.each_conn(None, |c| port_status(c, reason, &port));
    }

    pub(crate) fn port_removed(&mut self, port_no: u16) -> Option<OfPort> {
        let port = self.ports.remove(&port_no)?;
        self.changed();
        self.port_counters.remove(&port_no);
        self.port_sources.remove(&port_no);
        self.each_conn(None, |c| port_status(c, PR_DELETE, &port));
        Some(port)
    }

    /// OFPT_PORT_MOD.
    pub(crate) fn handle_port_mod(&mut self, conn: &mut Connection, pm: &PortMod) -> Handled {
        let Some(port) = self.ports.get(&pm.port_no) else {
            return Err(ErrorCode::OfppmfcBadPort);
        };
        if port.hw_addr != pm.hw_addr {
            return Err(ErrorCode::OfppmfcBadHwAddr);
        }
        // OpenFlow 1.1+ has no NO_STP, NO_RECV_STP, NO_FLOOD: those bits
        // are ignored there (OVS).
        let bits = if conn.ver() == ferrovs_openflow::Version::Of10 {
            PORT_MOD_BITS
        } else {
            PORT_MOD_BITS_11
        };
        let mask = pm.mask & bits;
        let config = (port.config & !mask) | (pm.config & mask);
        if config == port.config {
            return Ok(());
        }
        let mut port = port.clone();
        port.config = config;
        self.changed();
        self.ports.insert(pm.port_no, port.clone());
        self.port_mods.push((pm.port_no, config));
        self.each_conn(Some(conn), |c| port_status(c, PR_MODIFY, &port));
        Ok(())
    }

    /// Port config changes made by port-mods since the last call, as
    /// (port, new config): vswitchd brings the netdev up or down
    /// (OFPPC_PORT_DOWN) and reports the resulting state with `set_port`.
    pub fn take_port_mods(&mut self) -> Vec<(u16, u32)> {
        std::mem::take(&mut self.port_mods)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrovs_openflow::Version;

    /// LIVE (4) and BLOCKED (2) have no OpenFlow 1.0 form; LINK_DOWN and
    /// the STP field keep theirs.
    #[test]
    fn state_bits_per_version() {
        let p = OfPort {
            state: 0x4 | 0x2 | 0x1 | 0x200,
            ..Default::default()
        };
        assert_eq!(port_for(Version::Of10, &p).state, 0x201);
        assert_eq!(port_for(Version::Of13, &p).state, 0x207);
    }

    /// A dummy device's counters: packets and bytes, the rest unknown
    /// (all-ones on the wire, left out of `statistics`).
    #[test]
    fn packets_bytes_counters_name_only_what_is_known() {
        let c = PortCounters::packets_bytes(3, 162, 2, 108);
        assert_eq!(
            c.named(),
            vec![
                ("rx_bytes", 162),
                ("rx_packets", 3),
                ("tx_bytes", 108),
                ("tx_packets", 2)
            ]
        );
        let s = c.stats(1);
        assert_eq!((s.rx_packets, s.tx_bytes), (3, 108));
        assert_eq!(
            (s.rx_dropped, s.rx_crc_err, s.collisions),
            (UNKNOWN, UNKNOWN, UNKNOWN)
        );
        assert!(PortCounters::default().named().is_empty());
    }
}
