//! The upcall interface between the datapath and its slow path (ofproto).
//!
//! On a megaflow miss the PMD calls [`UpcallHandler::miss`] with the packet
//! and its key; the handler fills an [`UpcallReply`] (one per PMD, reused:
//! its action vector keeps its capacity) with the actions to run and the
//! mask of every field it looked at, its own copy or a shared one. The datapath installs the
//! megaflow `(key & mask, mask) -> actions` unless the flow limit is
//! reached, then executes the actions. The handler is called once per
//! missed packet, never on the hit path, so it may be a trait object.
//! `userspace` actions reach [`UpcallHandler::userspace`] the same way.

use std::sync::Arc;

use crate::actions::DpAction;
use crate::flow::FlowKey;
use crate::packet::DpPacket;

/// What the slow path returns for a missed packet.
#[derive(Debug, Default, Clone)]
pub struct UpcallReply {
    /// Actions for this packet and for the megaflow.
    pub actions: Vec<DpAction>,
    /// Fields the translation looked at (a mask; `None` means exact match
    /// on every field of the key).
    pub mask: Option<FlowKey>,
    /// The same as `mask`, for a handler that keeps its masks (as a slow
    /// path caches them): handed over without a copy, and recognized by
    /// pointer, so the datapath normalizes and interns a mask it has seen
    /// just before only once. Takes precedence over `mask`.
    pub shared_mask: Option<Arc<FlowKey>>,
    /// Whether to install a megaflow (false: execute only, e.g. when the
    /// slow path wants to see every packet).
    pub install: bool,
}

impl UpcallReply {
    pub fn clear(&mut self) {
        self.actions.clear();
        self.mask = None;
        self.shared_mask = None;
        self.install = true;
    }
}

/// Why a miss could not be handled; the packet is dropped and counted.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UpcallError {
    #[error("upcall handler failed: {0}")]
    Failed(String),
}

/// The slow path, as seen by the datapath.
pub trait UpcallHandler: Send + Sync {
    /// Translates a missed packet into actions and a mask.
    fn miss(
        &self,
        pkt: &DpPacket,
        key: &FlowKey,
        reply: &mut UpcallReply,
    ) -> Result<(), UpcallError>;
    /// Receives a packet sent by a `userspace` action.
    fn userspace(&self, _pkt: &DpPacket, _userdata: &[u8]) {}
}

/// The exact-match mask: every bit of every word (absent words of a key
/// are zero, and an exact match must see them as zero too).
pub fn exact_mask() -> FlowKey {
    crate::flow::Flow([!0; crate::flow::layout::FLOW_WORDS]).to_key()
}
