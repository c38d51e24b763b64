//! Queue statistics (OFPST_QUEUE / OFPMP_QUEUE_STATS) as OVS answers them.
//!
//! The switch has no QoS: the only queues are the default queue 0 of the
//! ports whose device offers one (OVS's dummy devices do; internal and
//! patch ports have none). vswitchd says which ports those are; their
//! counters are unknown, so each is reported with all-ones counters and
//! an unknown duration, which `ovs-ofctl` prints as `?`. Selection and
//! errors follow OVS `handle_queue_stats_request`: an unknown port is
//! OFPQOFC_BAD_PORT; a queue id no selected port has is OFPQOFC_BAD_QUEUE;
//! "all queues" of a port without queues is an empty reply.

use ferrovs_openflow::message::multipart::QueueStats;
use ferrovs_openflow::port::OFPP_NONE;
use ferrovs_openflow::ErrorCode;

use crate::ofproto::Ofproto;

/// OFPQ_ALL.
const QUEUE_ALL: u32 = u32::MAX;
/// OpenFlow 1.0's OFPP_ALL, which 1.0 queue requests use for "any port".
const OFPP_ALL: u16 = 0xfffc;

impl Ofproto {
    /// Whether port `port_no`'s device has the default queue 0 (vswitchd:
    /// dummy devices do).
    pub fn set_port_queues(&mut self, port_no: u16, default_queue: bool) {
        if default_queue {
            self.queue_ports.insert(port_no);
        } else {
            self.queue_ports.remove(&port_no);
        }
    }

    /// The queues of `port_no` (queue ids).
    fn port_queues(&self, port_no: u16) -> &'static [u32] {
        if self.queue_ports.contains(&port_no) && self.ports.contains_key(&port_no) {
            &[0]
        } else {
            &[]
        }
    }

    /// The entries of a queue stats request for `port` (OFPP_NONE or
    /// OFPP_ALL: every port) and `queue` (OFPQ_ALL: every queue).
    pub(crate) fn queue_stats(&self, port: u16, queue: u32) -> Result<Vec<QueueStats>, ErrorCode> {
        let ports: Vec<u16> = if port == OFPP_NONE || port == OFPP_ALL {
            self.ports.keys().copied().collect()
        } else if self.ports.contains_key(&port) {
            vec![port]
        } else {
            return Err(ErrorCode::OfpqofcBadPort);
        };
        let mut out = Vec::new();
        let mut found = false;
        for p in ports {
            let qs = self.port_queues(p);
            let picked: Vec<u32> = qs
                .iter()
                .copied()
                .filter(|q| queue == QUEUE_ALL || *q == queue)
                .collect();
            found |= queue == QUEUE_ALL || !picked.is_empty();
            out.extend(picked.into_iter().map(|q| QueueStats {
                port_no: p,
                queue_id: q,
                tx_bytes: u64::MAX,
                tx_packets: u64::MAX,
                tx_errors: u64::MAX,
                duration_sec: u32::MAX,
                duration_nsec: u32::MAX,
            }));
        }
        if !found {
            return Err(ErrorCode::OfpqofcBadQueue);
        }
        Ok(out)
    }
}
