//! Opening a port by its Interface `type` and `options`, as vswitchd asks.
//!
//! Types: `""` and `system` (AF_PACKET; option `afpacket-rx` = `mmsg` or
//! `tpacket-v3`), `tap`, `internal`, `afxdp`.
//! Options are the Interface's `options` column; unknown ones are ignored
//! here (vswitchd warns), bad values are a [`NetdevError::BadOption`].

use std::collections::BTreeMap;
use std::sync::Arc;

use super::afpacket::{AfPacketNetdev, RxMode};
use super::afxdp::{AfXdpNetdev, AfXdpOptions};
use super::tap::{TapKind, TapNetdev};
use super::{Netdev, NetdevError};

/// Opens port `name` of type `kind`.
pub fn open(
    kind: &str,
    name: &str,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn Netdev>, NetdevError> {
    match kind {
        "afxdp" => {
            let o = AfXdpOptions::parse(name, options)?;
            Ok(Arc::new(AfXdpNetdev::open(name, &o)?))
        }
        "" | "system" => {
            let mode = RxMode::parse(name, options.get("afpacket-rx"))?;
            let n_rxq = match options.get("n_rxq") {
                None => 1,
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| NetdevError::BadOption {
                        dev: name.to_string(),
                        option: "n_rxq".to_string(),
                        why: "expected 1 to 64".to_string(),
                    })?,
            };
            Ok(Arc::new(AfPacketNetdev::open_queues(name, mode, n_rxq)?))
        }
        "tap" => Ok(Arc::new(TapNetdev::open(name, TapKind::Tap)?)),
        "internal" => Ok(Arc::new(TapNetdev::open(name, TapKind::Internal)?)),
        other => Err(NetdevError::Unsupported {
            dev: name.to_string(),
            why: format!("unknown interface type {other:?}"),
        }),
    }
}
