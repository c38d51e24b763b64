//! OpenFlow protocol versions, as the `version` byte of every message header.
//!
//! ferrovs speaks 1.0, 1.3, 1.4 and 1.5; 1.1 and 1.2 are named so that a
//! hello bitmap or a field table row can mention them.

/// An OpenFlow wire version (`ofp_header.version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Version {
    Of10 = 0x01,
    Of11 = 0x02,
    Of12 = 0x03,
    Of13 = 0x04,
    Of14 = 0x05,
    Of15 = 0x06,
}

impl Version {
    /// Every version ferrovs implements, oldest first.
    pub const SUPPORTED: [Version; 4] =
        [Version::Of10, Version::Of13, Version::Of14, Version::Of15];

    /// The version for a wire byte, if it is one we know.
    pub fn from_wire(v: u8) -> Option<Version> {
        Some(match v {
            0x01 => Version::Of10,
            0x02 => Version::Of11,
            0x03 => Version::Of12,
            0x04 => Version::Of13,
            0x05 => Version::Of14,
            0x06 => Version::Of15,
            _ => return None,
        })
    }

    /// The wire byte.
    pub fn wire(self) -> u8 {
        self as u8
    }

    /// The name OVS uses, e.g. `OpenFlow13` (`ovs-ofctl -O`).
    pub fn name(self) -> &'static str {
        match self {
            Version::Of10 => "OpenFlow10",
            Version::Of11 => "OpenFlow11",
            Version::Of12 => "OpenFlow12",
            Version::Of13 => "OpenFlow13",
            Version::Of14 => "OpenFlow14",
            Version::Of15 => "OpenFlow15",
        }
    }

    /// "1.3" style, as `ovs-ofctl ofp-print` shows it in `(OF1.3)`.
    pub fn dotted(self) -> &'static str {
        match self {
            Version::Of10 => "1.0",
            Version::Of11 => "1.1",
            Version::Of12 => "1.2",
            Version::Of13 => "1.3",
            Version::Of14 => "1.4",
            Version::Of15 => "1.5",
        }
    }
}
