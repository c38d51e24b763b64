//! A miss handler that drops every packet and counts it: what unit tests
//! and fuzz targets give a datapath when no table is needed. The daemon
//! runs ofproto's `OfprotoUpcall` (see `xlate_glue`), which translates
//! misses through the bridges' OpenFlow tables.

use std::sync::atomic::{AtomicU64, Ordering};

use ferrovs_datapath::flow::FlowKey;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};

#[derive(Debug, Default)]
pub struct DropUpcalls {
    misses: AtomicU64,
}

impl DropUpcalls {
    /// Packets dropped on a miss since start.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

impl UpcallHandler for DropUpcalls {
    fn miss(
        &self,
        _pkt: &DpPacket,
        _key: &FlowKey,
        reply: &mut UpcallReply,
    ) -> Result<(), UpcallError> {
        self.misses.fetch_add(1, Ordering::Relaxed);
        reply.clear();
        reply.install = false;
        Ok(())
    }
}
