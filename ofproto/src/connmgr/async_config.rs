//! Which asynchronous messages a connection receives (set-async / get-async,
//! NXT_SET_ASYNC_CONFIG): three masks (packet-in, port-status,
//! flow-removed reasons) for each of primary/equal and secondary roles,
//! with OVS's defaults per version until the controller sets them.
//! Service connections get nothing while their miss_send_len is 0, as in
//! OVS (`ovs-ofctl monitor` raises it).

use ferrovs_openflow::message::AsyncConfig;
use ferrovs_openflow::{ErrorCode, Version};

use super::dispatch::Handled;
use super::{role, ConnKind, Connection};

/// Asynchronous message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncKind {
    PacketIn = 0,
    PortStatus = 1,
    FlowRemoved = 2,
    /// OpenFlow 1.4 OFPT_TABLE_STATUS (reasons OFPTR_VACANCY_DOWN 3,
    /// OFPTR_VACANCY_UP 4); off unless set-async turns it on.
    TableStatus = 3,
}

/// `[kind][0 = primary/equal, 1 = secondary]` reason bitmaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncMasks(pub [[u32; 2]; 4]);

impl AsyncMasks {
    /// OVS's `ofputil_async_cfg_default`.
    pub fn default_for(v: Version) -> AsyncMasks {
        // OFPR14 reasons except INVALID_TTL, plus explicit miss; 1.0-1.2
        // also implicit miss (OVS's private bits 6 and 7).
        let mut pin: u32 = 0x3f & !(1 << 2);
        pin |= 1 << 6;
        if v <= Version::Of12 {
            pin |= 1 << 7;
        }
        let fr = if v >= Version::Of14 {
            0x3f
        } else if v == Version::Of13 {
            0xf
        } else {
            0x7
        };
        AsyncMasks([[pin, 0], [0x7, 0x7], [fr, 0], [0, 0]])
    }

    /// The masks as the version's get-async reply carries them.
    pub fn to_wire(&self, v: Version) -> AsyncConfig {
        let m = self.0;
        let _ = v;
        AsyncConfig::Masks {
            packet_in: m[0],
            port_status: m[1],
            flow_removed: m[2],
        }
    }
}

impl Connection {
    pub fn async_masks(&self) -> AsyncMasks {
        self.async_masks
            .unwrap_or_else(|| AsyncMasks::default_for(self.ver()))
    }

    pub fn set_async_masks(&mut self, pin: [u32; 2], ps: [u32; 2], fr: [u32; 2]) {
        let ts = self.async_masks().0[AsyncKind::TableStatus as usize];
        self.async_masks = Some(AsyncMasks([pin, ps, fr, ts]));
    }

    /// OFPT_SET_ASYNC (1.3 masks or 1.4 properties; unknown property types
    /// are refused as OVS does with OFPACFC_UNSUPPORTED, here BAD_TYPE).
    pub fn set_async(&mut self, cfg: &AsyncConfig) -> Handled {
        let mut m = self.async_masks();
        match cfg {
            AsyncConfig::Masks {
                packet_in,
                port_status,
                flow_removed,
            } => {
                // OpenFlow 1.3 masks have no table status: it stays.
                m = AsyncMasks([*packet_in, *port_status, *flow_removed, m.0[3]])
            }
            AsyncConfig::Props(props) => {
                for (ty, mask) in props {
                    let (kind, slot) = match ty {
                        0 => (0, 1),
                        1 => (0, 0),
                        2 => (1, 1),
                        3 => (1, 0),
                        4 => (2, 1),
                        5 => (2, 0),
                        // OFPACPT_TABLE_STATUS_SLAVE / _MASTER.
                        8 => (3, 1),
                        9 => (3, 0),
                        _ => return Err(ErrorCode::OfpbpcBadType),
                    };
                    m.0[kind][slot] = *mask;
                }
            }
        }
        self.async_masks = Some(m);
        Ok(())
    }

    /// OVS `ofconn_receives_async_msg`.
    pub fn receives_async(&self, kind: AsyncKind, reason: u8) -> bool {
        if self.version.is_none() || reason >= 32 {
            return false;
        }
        if self.kind == ConnKind::Service && self.config.miss_send_len == 0 {
            return false;
        }
        let slot = usize::from(self.role == role::ROLE_SLAVE);
        self.async_masks().0[kind as usize][slot] & (1 << reason) != 0
    }
}
