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
                    dropped: 0,
                };
                ctx.execute(p, &acts);
                dropped += ctx.dropped;
            }
        }
        let ports = sh.ports.load();
        let qbase = sh.pmds.len();
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
