//! TCP, UDP and SCTP header views: ports, and TCP flags.
//!
//! Extraction needs only the first bytes of each: ports for all three, and
//! the data offset and 12 flag bits for TCP. A TCP header whose data offset
//! is below 5 words is malformed (OVS then records no L4 fields).

use super::{be16, WireError};

pub const TCP_MIN_HLEN: usize = 20;
pub const UDP_HLEN: usize = 8;
pub const SCTP_HLEN: usize = 12;

#[derive(Debug, Clone, Copy)]
pub struct TcpHeader<'a> {
    buf: &'a [u8],
}

impl<'a> TcpHeader<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < TCP_MIN_HLEN {
            return Err(WireError::Truncated);
        }
        let off = (buf[12] >> 4) as usize * 4;
        if off < TCP_MIN_HLEN {
            return Err(WireError::Malformed);
        }
        if buf.len() < off {
            return Err(WireError::Truncated);
        }
        Ok(TcpHeader { buf })
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buf, 0)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buf, 2)
    }
    /// The 12 flag bits (NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN and the
    /// reserved bits), as OVS's `tcp_flags` field.
    pub fn flags(&self) -> u16 {
        be16(self.buf, 12) & 0x0fff
    }
}

/// UDP and SCTP share the port layout; the view checks the fixed length.
#[derive(Debug, Clone, Copy)]
pub struct PortsHeader<'a> {
    buf: &'a [u8],
}

impl<'a> PortsHeader<'a> {
    pub fn new_checked(buf: &'a [u8], min_len: usize) -> Result<Self, WireError> {
        if buf.len() < min_len {
            return Err(WireError::Truncated);
        }
        Ok(PortsHeader { buf })
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buf, 0)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buf, 2)
    }
}
