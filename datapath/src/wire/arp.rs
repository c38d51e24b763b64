//! ARP (Ethernet/IPv4 only) packet view.
//!
//! Only the 28-byte Ethernet+IPv4 form is meaningful to a switch; other
//! hardware or protocol types are reported as malformed so that extraction
//! records the EtherType but no ARP fields, as OVS does.

use super::{be16, be32, mac48, WireError};

pub const ARP_LEN: usize = 28;

#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<'a> {
    buf: &'a [u8],
}

impl<'a> ArpPacket<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < ARP_LEN {
            return Err(WireError::Truncated);
        }
        // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
        if be16(buf, 0) != 1 || be16(buf, 2) != 0x0800 || buf[4] != 6 || buf[5] != 4 {
            return Err(WireError::Malformed);
        }
        Ok(ArpPacket { buf })
    }
    pub fn op(&self) -> u16 {
        be16(self.buf, 6)
    }
    pub fn sha(&self) -> u64 {
        mac48(self.buf, 8)
    }
    pub fn spa(&self) -> u32 {
        be32(self.buf, 14)
    }
    pub fn tha(&self) -> u64 {
        mac48(self.buf, 18)
    }
    pub fn tpa(&self) -> u32 {
        be32(self.buf, 24)
    }
}
