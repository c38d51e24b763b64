//! Executing actions on one packet outside the PMD threads: what the slow
//! path does for an OpenFlow packet-out or an `NXT_RESUME` (OVS's
//! `dpif_execute`).
//!
//! The packet runs through the same action interpreter as a PMD's
//! ([`ExecCtx`]), with a context of its own (pool, outputs, random
//! source). A `recirc` brings it back through translation (the upcall
//! handler's `miss`, execute-only: no megaflow is installed for a packet
//! that did not come from a port), up to the datapath's recirculation
//! depth. Outputs are sent at the end, each port's packets as one batch,
//! on the transmit queue after the PMDs' own (queue `n_pmds % n_txq`, as
//! OVS's non-PMD thread has a static queue of its own); a device with
//! fewer queues shares one with a PMD, so its `send` must be safe for two
//! callers on one queue (the in-memory and kernel-backed ports are).

use crate::actions::execute::PortOutputs;
use crate::actions::{DpAction, ExecCtx};
use crate::dpif::Datapath;
use crate::flow::{extract, FlowKey};
use crate::packet::{DpPacket, PacketPool};
use crate::pmd_stats::cycles;
use crate::random::Rng;
use crate::upcall::UpcallReply;

/// What one [`Datapath::execute`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExecuteStats {
    /// Packets handed to ports.
    pub sent: u64,
    /// Packets dropped (meters, failed actions, missing ports, too deep
    /// recirculation).
    pub dropped: u64,
    /// Passes through translation after `recirc`.
    pub recirculations: u64,
}

impl Datapath {
    /// Runs `actions` on a copy of `frame` received on datapath port
    /// `in_port` (metadata otherwise clear), then sends what it output.
    pub fn execute(&self, frame: &[u8], in_port: u32, actions: &[DpAction]) -> ExecuteStats {
        let sh = &self.shared;
        let mut st = ExecuteStats::default();
        let mut pool = PacketPool::new(8);
        let mut out = PortOutputs::default();
        let mut recirc: Vec<DpPacket> = Vec::new();
        let mut rng = Rng::new(cycles() ^ 0x5bd1_e995);
        let mut scratch = FlowKey::default();
        let mut pkt = DpPacket::from_bytes(frame);
        pkt.md_mut().reset(in_port);
        // Header offsets for the actions that rewrite fields.
        extract(&mut pkt, &mut scratch);
        let mut dropped = 0;
        {
            let mut ctx = ExecCtx {
                pool: &mut pool,
                out: &mut out,
                recirc: &mut recirc,
                handler: &*sh.handler,
                meter: sh.meter.as_deref(),
                rng: &mut rng,
                scratch: &mut scratch,
                now_ms: sh.now_ms(),
                conntrack: Some(&sh.conntrack),
                dropped: 0,
            };
            ctx.execute(pkt, actions);
            dropped += ctx.dropped;
        }
        let mut reply = UpcallReply::default();
        let mut key = FlowKey::default();
        let mut depth = 0;
        while !recirc.is_empty() {
            depth += 1;
            let round = std::mem::take(&mut recirc);
            if depth > sh.cfg.max_recirc_depth {
                dropped += round.len() as u64;
                continue;
            }
            for mut p in round {
                st.recirculations += 1;
                extract(&mut p, &mut key);
                reply.clear();
                if sh.handler.miss(&p, &key, &mut reply).is_err() {
                    dropped += 1;
                    continue;
                }
                let acts = std::mem::take(&mut reply.actions);
                let mut ctx = ExecCtx {
                    pool: &mut pool,
                    out: &mut out,
                    recirc: &mut recirc,
                    handler: &*sh.handler,
                    meter: sh.meter.as_deref(),
                    rng: &mut rng,
                    scratch: &mut scratch,
                    now_ms: sh.now_ms(),
                    conntrack: Some(&sh.conntrack),
                    dropped: 0,
                };
                ctx.execute(p, &acts);
                dropped += ctx.dropped;
            }
        }
        let ports = sh.ports.load();
        let qbase = sh.pmds.load().len();
        out.drain_pending(|port_no, pkts| {
            let n = pkts.len() as u64;
            let sent = match ports.get(port_no) {
                Some(port) => {
                    let q = qbase % port.netdev.n_txq().max(1);
                    port.netdev.send(q, pkts, &mut pool).unwrap_or(0) as u64
                }
                None => {
                    pkts.clear();
                    0
                }
            };
            st.sent += sent;
            dropped += n - sent;
        });
        st.dropped = dropped;
        st
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::actions::HashAlg;
    use crate::dpif::DpConfig;
    use crate::flow::layout::{DP_HASH, RECIRC_ID};
    use crate::netdev::MemNetdev;
    use crate::upcall::{UpcallError, UpcallHandler};

    /// Recirculated packets (recirc_id 7) go to port 3 when dp_hash is
    /// set; anything else is dropped.
    struct Thaw;
    impl UpcallHandler for Thaw {
        fn miss(
            &self,
            _pkt: &DpPacket,
            key: &FlowKey,
            reply: &mut UpcallReply,
        ) -> Result<(), UpcallError> {
            if key.get(RECIRC_ID) == 7 && key.get(DP_HASH) != 0 {
                reply.actions.push(DpAction::Output(3));
            }
            Ok(())
        }
    }

    #[test]
    fn executes_outputs_and_recirculation() {
        let dpif = Datapath::new(DpConfig::default(), Arc::new(Thaw));
        let ports: Vec<Arc<MemNetdev>> = (1..=3)
            .map(|i| MemNetdev::new(&format!("p{i}"), 1, 2))
            .collect();
        for (i, p) in ports.iter().enumerate() {
            dpif.add_port(i as u32 + 1, p.clone()).unwrap();
        }
        let frame = [0x50u8; 60];
        let st = dpif.execute(
            &frame,
            1,
            &[
                DpAction::Output(2),
                DpAction::Hash {
                    alg: HashAlg::SymL4,
                    basis: 0,
                },
                DpAction::Recirc(7),
            ],
        );
        assert_eq!(st.sent, 2);
        assert_eq!(st.recirculations, 1);
        // The non-PMD queue: n_pmds (1) % 2 queues.
        let got2 = ports[1].take_tx(1);
        assert_eq!(got2.len(), 1);
        assert_eq!(got2[0].data(), &frame[..]);
        assert_eq!(ports[2].take_tx(1).len(), 1);
        assert!(ports[0].take_tx(1).is_empty());
        // A port that is not there: dropped and counted.
        let st = dpif.execute(&frame, 1, &[DpAction::Output(9)]);
        assert_eq!((st.sent, st.dropped), (0, 1));
    }
}
