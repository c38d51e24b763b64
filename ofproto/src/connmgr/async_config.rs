//! Which asynchronous messages a connection receives (set-async / get-async,
//! NXT_SET_ASYNC_CONFIG(2)): one reason bitmap per message kind (packet-in,
//! port-status, flow-removed, role-status, table-status, requestforward)
//! for each of primary/equal and secondary roles, with OVS's defaults per
//! version until the controller sets them.
//!
//! Each kind has the reasons a version may name (`allowed`): a get-async
//! reply carries the masks cut to them, an OpenFlow 1.4 set-async naming
//! another bit is refused (OFPACFC_INVALID) and the legacy forms (1.3
//! masks, NXT_SET_ASYNC_CONFIG) drop such bits, as OVS's
//! `ofputil_decode_set_async_config` does. Service connections get nothing
//! while their miss_send_len is 0, as in OVS (`ovs-ofctl monitor` raises
//! it).

use ferrovs_openflow::message::AsyncConfig;
use ferrovs_openflow::{ErrorCode, Version};

use super::dispatch::Handled;
use super::{role, ConnKind, Connection};

/// Asynchronous message kinds, in OVS's OAM_* order (the index of a
/// kind in [`AsyncMasks`]; property type `2 * kind` is its secondary
/// mask, `2 * kind + 1` its primary one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncKind {
    PacketIn = 0,
    PortStatus = 1,
    FlowRemoved = 2,
    /// OpenFlow 1.4 OFPT_ROLE_STATUS.
    RoleStatus = 3,
    /// OpenFlow 1.4 OFPT_TABLE_STATUS (reasons OFPTR_VACANCY_DOWN 3,
    /// OFPTR_VACANCY_UP 4); off unless set-async turns it on.
    TableStatus = 4,
    /// OpenFlow 1.4 OFPT_REQUESTFORWARD.
    RequestForward = 5,
}

/// Number of kinds.
const N_KINDS: usize = 6;

/// OVS's private packet-in reasons: a table-miss flow's controller action
/// (explicit) and the pre-1.3 table miss (implicit).
const EXPLICIT_MISS: u32 = 1 << 6;
const IMPLICIT_MISS: u32 = 1 << 7;

/// The reasons a version may name, per kind (OVS's `allowed10` and
/// `allowed14`).
fn allowed(kind: usize, v: Version) -> u32 {
    match kind {
        0 if v >= Version::Of14 => 0x3f,
        0 => 0x7,
        1 => 0x7,
        2 => 0x3f,
        3 => 0x7,
        4 => 0x18,
        _ => 0x3,
    }
}

/// `[kind][0 = primary/equal, 1 = secondary]` reason bitmaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncMasks(pub [[u32; 2]; N_KINDS]);

impl AsyncMasks {
    /// OVS's `ofputil_async_cfg_default`.
    pub fn default_for(v: Version) -> AsyncMasks {
        // OFPR14 reasons except INVALID_TTL, plus explicit miss; 1.0-1.2
        // also implicit miss.
        let mut pin: u32 = 0x3f & !(1 << 2);
        pin |= EXPLICIT_MISS;
        if v <= Version::Of12 {
            pin |= IMPLICIT_MISS;
        }
        let fr = if v >= Version::Of14 {
            0x3f
        } else if v == Version::Of13 {
            0xf
        } else {
            0x7
        };
        let mut m = [[0; 2]; N_KINDS];
        m[0] = [pin, 0];
        m[1] = [0x7, 0x7];
        m[2] = [fr, 0];
        AsyncMasks(m)
    }

    /// The masks as the version's get-async reply carries them: three
    /// pairs of masks before 1.4, every kind's two properties from 1.4
    /// (in property-type order, as OVS sends them).
    pub fn to_wire(&self, v: Version) -> AsyncConfig {
        let m = self.0;
        let cut = |k: usize| [m[k][0] & allowed(k, v), m[k][1] & allowed(k, v)];
        if v < Version::Of14 {
            return AsyncConfig::Masks {
                packet_in: cut(0),
                port_status: cut(1),
                flow_removed: cut(2),
            };
        }
        let mut props = Vec::with_capacity(2 * N_KINDS);
        for k in 0..N_KINDS {
            let [primary, secondary] = cut(k);
            props.push((2 * k as u16, secondary));
            props.push((2 * k as u16 + 1, primary));
        }
        AsyncConfig::Props(props)
    }

    /// Sets one mask from a controller, with OVS's implied miss bits.
    fn set(&mut self, kind: usize, slot: usize, mut mask: u32, v: Version) {
        if kind == 0 && mask & 1 != 0 {
            mask |= EXPLICIT_MISS;
            if v < Version::Of13 {
                mask |= IMPLICIT_MISS;
            }
        }
        self.0[kind][slot] = mask;
    }
}

impl Connection {
    pub fn async_masks(&self) -> AsyncMasks {
        self.async_masks
            .unwrap_or_else(|| AsyncMasks::default_for(self.ver()))
    }

    /// The legacy forms (OpenFlow 1.3 OFPT_SET_ASYNC,
    /// NXT_SET_ASYNC_CONFIG): the three pairs of masks replace the whole
    /// configuration (the kinds they cannot name are turned off), bits a
    /// version does not name are dropped.
    pub fn set_async_masks(&mut self, pin: [u32; 2], ps: [u32; 2], fr: [u32; 2]) {
        let v = self.ver();
        let mut m = AsyncMasks([[0; 2]; N_KINDS]);
        for (k, pair) in [pin, ps, fr].into_iter().enumerate() {
            for (slot, mask) in pair.into_iter().enumerate() {
                m.set(k, slot, mask & allowed(k, v), v);
            }
        }
        self.async_masks = Some(m);
    }

    /// OFPT_SET_ASYNC (1.3 masks or 1.4 properties) and
    /// NXT_SET_ASYNC_CONFIG2: properties change only the masks they name;
    /// an unknown property type is OFPACFC_UNSUPPORTED and a reason the
    /// version does not name OFPACFC_INVALID, as from OVS (and nothing
    /// changes).
    pub fn set_async(&mut self, cfg: &AsyncConfig) -> Handled {
        match cfg {
            AsyncConfig::Masks {
                packet_in,
                port_status,
                flow_removed,
            } => {
                self.set_async_masks(*packet_in, *port_status, *flow_removed);
                Ok(())
            }
            AsyncConfig::Props(props) => {
                let v = self.ver();
                let mut m = self.async_masks();
                for (ty, mask) in props {
                    let kind = usize::from(*ty / 2);
                    if kind >= N_KINDS {
                        return Err(ErrorCode::OfpacfcUnsupported);
                    }
                    if mask & !allowed(kind, v) != 0 {
                        return Err(ErrorCode::OfpacfcInvalid);
                    }
                    // Odd types are the primary masks (slot 0).
                    m.set(kind, usize::from(ty % 2 == 0), *mask, v);
                }
                self.async_masks = Some(m);
                Ok(())
            }
        }
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
