//! Ethernet II header view and the EtherType constants the datapath knows.
//!
//! The view covers the 14-byte header only; VLAN tags (802.1Q 0x8100 and
//! 802.1ad 0x88a8) are 4-byte units that follow the source address and are
//! walked by flow extraction, which reads them with the same checked helpers.

use super::{be16, mac48, WireError};

pub const ETH_HLEN: usize = 14;
pub const VLAN_HLEN: usize = 4;
pub const ETH_TYPE_IPV4: u16 = 0x0800;
pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const ETH_TYPE_VLAN: u16 = 0x8100;
pub const ETH_TYPE_VLAN_8021AD: u16 = 0x88a8;
pub const ETH_TYPE_IPV6: u16 = 0x86dd;
pub const ETH_TYPE_MPLS: u16 = 0x8847;
pub const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
pub const ETH_TYPE_NSH: u16 = 0x894f;
/// EtherType values below this are 802.3 lengths, not types (OVS records
/// such frames with dl_type 0x05ff, "no type").
pub const ETH_TYPE_MIN: u16 = 0x0600;
pub const ETH_TYPE_NONE: u16 = 0x05ff;

/// A checked view over an Ethernet header.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<'a> {
    buf: &'a [u8],
}

impl<'a> EthernetFrame<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < ETH_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buf })
    }
    #[inline]
    pub fn dst(&self) -> u64 {
        mac48(self.buf, 0)
    }
    #[inline]
    pub fn src(&self) -> u64 {
        mac48(self.buf, 6)
    }
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buf, 12)
    }
}

/// True for the two TPIDs the datapath parses as VLAN tags.
#[inline]
pub fn is_vlan_tpid(t: u16) -> bool {
    t == ETH_TYPE_VLAN || t == ETH_TYPE_VLAN_8021AD
}

#[inline]
pub fn is_mpls(t: u16) -> bool {
    t == ETH_TYPE_MPLS || t == ETH_TYPE_MPLS_MCAST
}
