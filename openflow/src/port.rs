//! OpenFlow port numbers.
//!
//! ferrovs keeps every port number in the OpenFlow 1.0 16-bit space (as OVS
//! does: `ofp_port_t`); OpenFlow 1.1+ 32-bit numbers are converted at the
//! wire: ports below 0xff00 are the same, the reserved ports
//! 0xffffff00..=0xffffffff map to 0xff00..=0xffff, the rest are invalid.

use crate::error::{DecodeError, ErrorCode, Result};

/// A port number in OpenFlow 1.0 numbering.
pub type PortNo = u16;

/// Highest physical port number + 1 (`OFPP_MAX`).
pub const OFPP_MAX: PortNo = 0xff00;
pub const OFPP_UNSET: PortNo = 0xfff7;
pub const OFPP_IN_PORT: PortNo = 0xfff8;
pub const OFPP_TABLE: PortNo = 0xfff9;
pub const OFPP_NORMAL: PortNo = 0xfffa;
pub const OFPP_FLOOD: PortNo = 0xfffb;
pub const OFPP_ALL: PortNo = 0xfffc;
pub const OFPP_CONTROLLER: PortNo = 0xfffd;
pub const OFPP_LOCAL: PortNo = 0xfffe;
/// `OFPP_NONE` in 1.0, `OFPP_ANY` in 1.1+.
pub const OFPP_NONE: PortNo = 0xffff;

/// OpenFlow 1.1+ `OFPP_ANY`.
pub const OFPP11_ANY: u32 = 0xffff_ffff;
const OFPP11_MAX: u32 = 0xffff_ff00;
const OFPP11_OFFSET: u32 = OFPP11_MAX - OFPP_MAX as u32;

/// Converts a 32-bit OpenFlow 1.1+ port number.
pub fn from_ofp11(p: u32) -> Result<PortNo> {
    if p < u32::from(OFPP_MAX) {
        Ok(p as PortNo)
    } else if p >= OFPP11_MAX {
        Ok((p - OFPP11_OFFSET) as PortNo)
    } else {
        Err(DecodeError::new(ErrorCode::OfpbacBadOutPort, "port number"))
    }
}

/// Converts to a 32-bit OpenFlow 1.1+ port number.
pub fn to_ofp11(p: PortNo) -> u32 {
    if p < OFPP_MAX {
        u32::from(p)
    } else {
        u32::from(p) + OFPP11_OFFSET
    }
}

/// The name ovs-ofctl prints for a reserved port, if `p` is one.
pub fn reserved_name(p: PortNo) -> Option<&'static str> {
    Some(match p {
        OFPP_UNSET => "UNSET",
        OFPP_IN_PORT => "IN_PORT",
        OFPP_TABLE => "TABLE",
        OFPP_NORMAL => "NORMAL",
        OFPP_FLOOD => "FLOOD",
        OFPP_ALL => "ALL",
        OFPP_CONTROLLER => "CONTROLLER",
        OFPP_LOCAL => "LOCAL",
        OFPP_NONE => "ANY",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn conversions() {
        assert_eq!(from_ofp11(5).unwrap(), 5);
        assert_eq!(from_ofp11(0xffff_fffd).unwrap(), OFPP_CONTROLLER);
        assert_eq!(to_ofp11(OFPP_CONTROLLER), 0xffff_fffd);
        assert_eq!(to_ofp11(OFPP_NONE), OFPP11_ANY);
        assert!(from_ofp11(0x10000).is_err());
    }
}
