//! Checked views over a TPACKET_V3 receive block and its frames, and the
//! copy of one frame into a [`DpPacket`] with its vnet header.
//!
//! The kernel fills a block with frames, each a `tpacket3_hdr` (48 bytes)
//! followed, at `tp_mac`, by the Ethernet frame; with `PACKET_VNET_HDR` the
//! 10-byte virtio-net header sits just before `tp_mac`. Frames are chained
//! by `tp_next_offset`. Everything read here comes from memory the kernel
//! wrote, but it is treated as untrusted input anyway: every offset is
//! checked against the block, so a corrupt block costs dropped frames
//! (counted by the caller), never a panic or a read outside the block.
//! A VLAN tag the kernel took out of the frame (`TP_STATUS_VLAN_VALID`) is
//! put back, and the offload offsets move with it.

use crate::offload::{Offload, OffloadError, VNET_HDR_LEN};
use crate::packet::DpPacket;

pub const TP_STATUS_KERNEL: u32 = 0;
pub const TP_STATUS_USER: u32 = 1;
pub const TP_STATUS_VLAN_VALID: u32 = 0x10;
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 0x40;
/// Size of `struct tpacket_block_desc` with its `tpacket_hdr_v1`.
pub const BLOCK_DESC_LEN: usize = 48;
/// Offset of `block_status` in the block descriptor.
pub const BLOCK_STATUS_AT: usize = 8;
/// Size of `struct tpacket3_hdr`.
pub const FRAME_HDR_LEN: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("block descriptor truncated")]
    BlockTruncated,
    #[error("frame header outside the block")]
    FrameOutOfBlock,
    #[error("frame data outside the block")]
    DataOutOfBlock,
    #[error("frame truncated by the ring (snaplen < len)")]
    Truncated,
    #[error("frame chain broken")]
    BadChain,
    #[error("vnet header: {0}")]
    Vnet(#[from] OffloadError),
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// A receive block handed to user space.
#[derive(Debug, Clone, Copy)]
pub struct BlockView<'a> {
    buf: &'a [u8],
}

impl<'a> BlockView<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RingError> {
        if buf.len() < BLOCK_DESC_LEN {
            return Err(RingError::BlockTruncated);
        }
        Ok(BlockView { buf })
    }
    pub fn status(&self) -> u32 {
        le32(self.buf, BLOCK_STATUS_AT)
    }
    pub fn num_pkts(&self) -> u32 {
        le32(self.buf, 12)
    }
    pub fn first_offset(&self) -> usize {
        le32(self.buf, 16) as usize
    }
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
}

/// One frame header of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Offset of this frame's header in the block.
    pub at: usize,
    /// Offset of the next frame from this one (0: last).
    pub next: u32,
    pub snaplen: u32,
    pub len: u32,
    pub status: u32,
    /// Offset of the Ethernet frame from `at`.
    pub mac: u16,
    pub vlan_tci: u16,
    pub vlan_tpid: u16,
}

impl Frame {
    /// Reads the frame header at offset `at` of `block`.
    pub fn parse(block: &[u8], at: usize) -> Result<Frame, RingError> {
        let h = at
            .checked_add(FRAME_HDR_LEN)
            .and_then(|e| block.get(at..e))
            .ok_or(RingError::FrameOutOfBlock)?;
        Ok(Frame {
            at,
            next: le32(h, 0),
            snaplen: le32(h, 12),
            len: le32(h, 16),
            status: le32(h, 20),
            mac: le16(h, 24),
            vlan_tci: le32(h, 32) as u16,
            vlan_tpid: le16(h, 36),
        })
    }

    /// Copies the frame (tag restored) into `p`, with its offload state
    /// when `vnet` says a vnet header precedes it.
    pub fn to_packet(&self, block: &[u8], vnet: bool, p: &mut DpPacket) -> Result<(), RingError> {
        if self.snaplen != self.len {
            return Err(RingError::Truncated);
        }
        let mac = self.at + self.mac as usize;
        let len = self.snaplen as usize;
        let data = block
            .get(mac..mac.saturating_add(len))
            .ok_or(RingError::DataOutOfBlock)?;
        let off = if vnet {
            if mac < self.at + FRAME_HDR_LEN + VNET_HDR_LEN {
                return Err(RingError::DataOutOfBlock);
            }
            Offload::from_vnet(&block[mac - VNET_HDR_LEN..mac], len)?
        } else {
            Offload::NONE
        };
        let tagged = self.status & TP_STATUS_VLAN_VALID != 0 && len >= 12;
        if tagged {
            let tpid = if self.status & TP_STATUS_VLAN_TPID_VALID != 0 && self.vlan_tpid != 0 {
                self.vlan_tpid
            } else {
                0x8100
            };
            let f = p.frame_for_fill(len + 4);
            f[..12].copy_from_slice(&data[..12]);
            f[12..14].copy_from_slice(&tpid.to_be_bytes());
            f[14..16].copy_from_slice(&self.vlan_tci.to_be_bytes());
            f[16..].copy_from_slice(&data[12..]);
            let mut off = off;
            off.shift(12, 4);
            p.set_offload(off);
        } else {
            p.frame_for_fill(len).copy_from_slice(data);
            p.set_offload(off);
        }
        Ok(())
    }
}

/// Walks the frames of a block in order: yields each frame's header, or
/// one error after which the walk stops (the rest of the block is lost).
pub struct Frames<'a> {
    block: &'a [u8],
    at: usize,
    left: u32,
}

impl<'a> Frames<'a> {
    pub fn new(b: &BlockView<'a>) -> Frames<'a> {
        Frames {
            block: b.bytes(),
            at: b.first_offset(),
            left: b.num_pkts(),
        }
    }
    /// Frames not yet yielded.
    pub fn left(&self) -> u32 {
        self.left
    }
}

impl Iterator for Frames<'_> {
    type Item = Result<Frame, RingError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let f = match Frame::parse(self.block, self.at) {
            Ok(f) => f,
            Err(e) => {
                self.left = 0;
                return Some(Err(e));
            }
        };
        if self.left > 0 {
            if f.next == 0 {
                self.left = 0;
                return Some(Err(RingError::BadChain));
            }
            self.at += f.next as usize;
        }
        Some(Ok(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::{VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4};

    /// Builds a block the way the kernel lays it out.
    fn block(frames: &[(&[u8], Offload, Option<u16>)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[8..12].copy_from_slice(&TP_STATUS_USER.to_le_bytes());
        b[12..16].copy_from_slice(&(frames.len() as u32).to_le_bytes());
        b[16..20].copy_from_slice(&48u32.to_le_bytes());
        let mut at = 48;
        for (i, (data, off, vlan)) in frames.iter().enumerate() {
            let mac = 48 + 20 + 10 + 2; // header, sockaddr_ll, vnet, align
            let size = (mac + data.len() + 15) & !15;
            let h = &mut b[at..];
            let next = if i + 1 < frames.len() { size as u32 } else { 0 };
            h[0..4].copy_from_slice(&next.to_le_bytes());
            h[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
            h[16..20].copy_from_slice(&(data.len() as u32).to_le_bytes());
            let mut st = TP_STATUS_USER;
            if let Some(tci) = vlan {
                st |= TP_STATUS_VLAN_VALID;
                h[32..34].copy_from_slice(&tci.to_le_bytes());
            }
            h[20..24].copy_from_slice(&st.to_le_bytes());
            h[24..26].copy_from_slice(&(mac as u16).to_le_bytes());
            h[mac - 10..mac].copy_from_slice(&off.to_vnet());
            h[mac..mac + data.len()].copy_from_slice(data);
            at += size;
        }
        b
    }

    #[test]
    fn frames_copied_with_offload_and_restored_vlan_tag() {
        let f1: Vec<u8> = (0..60u8).collect();
        let f2: Vec<u8> = (0..100u8).rev().collect();
        let off = Offload {
            flags: VNET_F_NEEDS_CSUM,
            gso_type: VNET_GSO_TCPV4,
            hdr_len: 66,
            gso_size: 10,
            csum_start: 34,
            csum_offset: 16,
        };
        let b = block(&[(&f1, Offload::NONE, None), (&f2, off, Some(0x0123))]);
        let bv = BlockView::new_checked(&b).unwrap();
        let frames: Vec<_> = Frames::new(&bv).collect::<Result<_, _>>().unwrap();
        assert_eq!(frames.len(), 2);
        let mut p = DpPacket::new();
        frames[0].to_packet(&b, true, &mut p).unwrap();
        assert_eq!(p.data(), &f1[..]);
        assert_eq!(p.offload(), Offload::NONE);
        frames[1].to_packet(&b, true, &mut p).unwrap();
        assert_eq!(&p.data()[..12], &f2[..12]);
        assert_eq!(&p.data()[12..16], &[0x81, 0x00, 0x01, 0x23]);
        assert_eq!(&p.data()[16..], &f2[12..]);
        assert_eq!(p.offload().csum_start, 38);
        assert_eq!(p.offload().hdr_len, 70);
    }

    #[test]
    fn corrupt_offsets_are_errors() {
        let f1 = [1u8; 60];
        let mut b = block(&[(&f1, Offload::NONE, None), (&f1, Offload::NONE, None)]);
        // Second frame's header pushed out of the block.
        b[48..52].copy_from_slice(&5000u32.to_le_bytes());
        let bv = BlockView::new_checked(&b).unwrap();
        let r: Vec<_> = Frames::new(&bv).collect();
        assert!(r[0].is_ok());
        assert_eq!(r[1], Err(RingError::FrameOutOfBlock));
        // Data running past the block.
        let mut b = block(&[(&f1, Offload::NONE, None)]);
        b[48 + 12..48 + 16].copy_from_slice(&9999u32.to_le_bytes());
        b[48 + 16..48 + 20].copy_from_slice(&9999u32.to_le_bytes());
        let f = Frame::parse(&b, 48).unwrap();
        let mut p = DpPacket::new();
        assert_eq!(
            f.to_packet(&b, true, &mut p),
            Err(RingError::DataOutOfBlock)
        );
        // Truncated by the ring.
        let mut b = block(&[(&f1, Offload::NONE, None)]);
        b[48 + 16..48 + 20].copy_from_slice(&61u32.to_le_bytes());
        let f = Frame::parse(&b, 48).unwrap();
        assert_eq!(f.to_packet(&b, true, &mut p), Err(RingError::Truncated));
    }
}
