//! Checksum and segmentation offload state carried by a packet
//! ([`Offload`]), and the virtio-net header that carries it in and out of
//! the kernel ([`VnetHdr`]).
//!
//! A TCP or UDP packet made by a local stack on a veth or tap usually has
//! no checksum yet (the field holds only the pseudo-header sum; the rest is
//! "partial", to be finished by whoever puts it on a wire) and may be one
//! large segment of up to 64 KiB that the stack expects to be cut into
//! MSS-sized pieces later (GSO). Ports that speak vnet headers (AF_PACKET,
//! tap) receive such packets whole with a 10-byte header describing that
//! work, and accept them whole the same way: nothing is computed on the way
//! through, which is why TCP is fast with the kernel's default offloads.
//! Ports that cannot take the header get the work done in software on send:
//! [`csum::complete`] and [`gso::segment`], through [`finish_for_plain_port`].
//!
//! Invariant: when `flags` has [`VNET_F_NEEDS_CSUM`], `csum_start` and
//! `csum_start + csum_offset + 2` lie inside the frame (checked when the
//! header is parsed, kept by [`Offload::shift`] when bytes are pushed or
//! pulled in front of them; an offset that would leave the frame clears the
//! state instead).

pub mod csum;
pub mod gro;
pub mod gso;

use crate::packet::{DpPacket, PacketPool};

/// The checksum at `csum_start + csum_offset` is partial: finish it over
/// `csum_start..` (virtio `VIRTIO_NET_HDR_F_NEEDS_CSUM`).
pub const VNET_F_NEEDS_CSUM: u8 = 1;
/// The checksum was already verified (virtio `VIRTIO_NET_HDR_F_DATA_VALID`).
pub const VNET_F_DATA_VALID: u8 = 2;
pub const VNET_GSO_NONE: u8 = 0;
pub const VNET_GSO_TCPV4: u8 = 1;
/// UDP fragmentation offload (UFO): IP fragments; not produced by current
/// kernels' sockets and not segmented here.
pub const VNET_GSO_UDP: u8 = 3;
pub const VNET_GSO_TCPV6: u8 = 4;
/// UDP segmentation (USO): each segment a full UDP datagram.
pub const VNET_GSO_UDP_L4: u8 = 5;
/// Flag on the GSO type: the TCP segments carry ECN (CWR on the first).
pub const VNET_GSO_ECN: u8 = 0x80;
/// Size of the virtio-net header used by packet sockets and tap.
pub const VNET_HDR_LEN: usize = 10;

/// Offload state of one packet (the fields of a virtio-net header, with
/// offsets relative to the frame start). `Offload::NONE` means a plain
/// packet whose checksums are complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    pub flags: u8,
    pub gso_type: u8,
    /// Length of the headers (Ethernet to L4), a hint for GSO packets.
    pub hdr_len: u16,
    /// Payload bytes per segment (MSS) of a GSO packet.
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

/// Why a vnet header was refused (the packet is dropped and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OffloadError {
    #[error("vnet header truncated")]
    Truncated,
    #[error("checksum offsets outside the frame")]
    CsumOutOfFrame,
    #[error("unknown GSO type {0:#x}")]
    GsoType(u8),
    #[error("GSO packet without a partial checksum or segment size")]
    GsoIncomplete,
    #[error("GSO headers not understood")]
    GsoHeaders,
    #[error("segmentation of this GSO type is not supported")]
    GsoUnsupported,
}

impl Offload {
    pub const NONE: Offload = Offload {
        flags: 0,
        gso_type: 0,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    #[inline]
    pub fn needs_csum(&self) -> bool {
        self.flags & VNET_F_NEEDS_CSUM != 0
    }
    #[inline]
    pub fn is_gso(&self) -> bool {
        self.gso_type & !VNET_GSO_ECN != VNET_GSO_NONE
    }
    /// Whether anything is left to do before the frame is a plain one.
    #[inline]
    pub fn pending(&self) -> bool {
        self.needs_csum() || self.is_gso()
    }

    /// Reads a vnet header for a frame of `frame_len` bytes. The result
    /// satisfies the module invariant; unknown flag bits are ignored.
    pub fn from_vnet(hdr: &[u8], frame_len: usize) -> Result<Offload, OffloadError> {
        let h = VnetHdr::new_checked(hdr)?;
        let o = Offload {
            flags: h.flags() & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID),
            gso_type: h.gso_type(),
            hdr_len: h.hdr_len(),
            gso_size: h.gso_size(),
            csum_start: h.csum_start(),
            csum_offset: h.csum_offset(),
        };
        o.validate(frame_len)?;
        Ok(o)
    }

    /// Checks the module invariant for a frame of `frame_len` bytes.
    pub fn validate(&self, frame_len: usize) -> Result<(), OffloadError> {
        if self.needs_csum() {
            let at = self.csum_start as usize + self.csum_offset as usize;
            if at + 2 > frame_len {
                return Err(OffloadError::CsumOutOfFrame);
            }
        }
        match self.gso_type & !VNET_GSO_ECN {
            VNET_GSO_NONE => Ok(()),
            VNET_GSO_TCPV4 | VNET_GSO_TCPV6 | VNET_GSO_UDP_L4 => {
                if !self.needs_csum() || self.gso_size == 0 {
                    Err(OffloadError::GsoIncomplete)
                } else {
                    Ok(())
                }
            }
            VNET_GSO_UDP => Ok(()),
            t => Err(OffloadError::GsoType(t)),
        }
    }

    /// The 10-byte vnet header describing this state.
    pub fn to_vnet(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// Moves the offsets at or after frame offset `at` by `delta` bytes
    /// (bytes were inserted, or removed, at `at`). State whose checksum
    /// offsets would fall into removed bytes or before the frame is
    /// cleared: the packet then goes out as it is.
    pub fn shift(&mut self, at: usize, delta: isize) {
        if !self.pending() {
            return;
        }
        let mv = |v: u16| -> Option<u16> {
            let v = v as usize;
            if v < at {
                return Some(v as u16);
            }
            if delta < 0 && v < at + delta.unsigned_abs() {
                return None;
            }
            u16::try_from(v as isize + delta).ok()
        };
        match (mv(self.csum_start), mv(self.hdr_len)) {
            (Some(s), Some(h)) => {
                self.csum_start = s;
                self.hdr_len = h;
            }
            _ => *self = Offload::NONE,
        }
    }
}

/// A checked view over a 10-byte virtio-net header (little endian, as
/// packet sockets and tap use on little-endian hosts).
#[derive(Debug, Clone, Copy)]
pub struct VnetHdr<'a> {
    buf: &'a [u8],
}

impl<'a> VnetHdr<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, OffloadError> {
        if buf.len() < VNET_HDR_LEN {
            return Err(OffloadError::Truncated);
        }
        Ok(VnetHdr { buf })
    }
    fn le16(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.buf[at], self.buf[at + 1]])
    }
    pub fn flags(&self) -> u8 {
        self.buf[0]
    }
    pub fn gso_type(&self) -> u8 {
        self.buf[1]
    }
    pub fn hdr_len(&self) -> u16 {
        self.le16(2)
    }
    pub fn gso_size(&self) -> u16 {
        self.le16(4)
    }
    pub fn csum_start(&self) -> u16 {
        self.le16(6)
    }
    pub fn csum_offset(&self) -> u16 {
        self.le16(8)
    }
}

/// What [`finish_for_plain_port`] did to a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftwareOffload {
    /// Partial checksums completed (GSO segments not counted).
    pub csums: usize,
    /// GSO packets cut into segments.
    pub gso_packets: usize,
    /// Segments they became.
    pub segments: usize,
    /// Packets that could not be finished (dropped, or sent as they were
    /// when only a checksum could not be completed).
    pub failed: usize,
}

/// Turns every packet of `pkts` into plain frames for a port that takes
/// no vnet header: partial checksums are completed in place and GSO
/// packets are replaced by their segments (in order). GSO packets that
/// cannot be segmented are dropped (recycled into `pool`).
pub fn finish_for_plain_port(pkts: &mut Vec<DpPacket>, pool: &mut PacketPool) -> SoftwareOffload {
    let mut r = SoftwareOffload::default();
    if !pkts.iter().any(|p| p.offload().pending()) {
        return r;
    }
    if !pkts.iter().any(|p| p.offload().is_gso()) {
        for p in pkts.iter_mut() {
            if p.offload().needs_csum() {
                match csum::complete_packet(p) {
                    // Sent as is on failure: the receiver drops it on the
                    // bad checksum, as it would behind a NIC.
                    Ok(()) => r.csums += 1,
                    Err(_) => r.failed += 1,
                }
            }
        }
        return r;
    }
    let mut out = Vec::with_capacity(pkts.len() + 64);
    for mut p in pkts.drain(..) {
        let o = p.offload();
        if o.is_gso() {
            match gso::segment(&p, pool, &mut out) {
                Ok(n) => {
                    r.gso_packets += 1;
                    r.segments += n;
                }
                Err(_) => r.failed += 1,
            }
            pool.put(p);
        } else {
            if o.needs_csum() {
                match csum::complete_packet(&mut p) {
                    Ok(()) => r.csums += 1,
                    Err(_) => r.failed += 1,
                }
            }
            out.push(p);
        }
    }
    *pkts = out;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnet_round_trip_and_bounds() {
        let o = Offload {
            flags: VNET_F_NEEDS_CSUM,
            gso_type: VNET_GSO_TCPV4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        assert_eq!(Offload::from_vnet(&o.to_vnet(), 3000), Ok(o));
        assert_eq!(
            Offload::from_vnet(&o.to_vnet(), 51),
            Err(OffloadError::CsumOutOfFrame)
        );
        assert_eq!(
            Offload::from_vnet(&o.to_vnet()[..9], 3000),
            Err(OffloadError::Truncated)
        );
        let mut bad = o.to_vnet();
        bad[1] = 9;
        assert_eq!(
            Offload::from_vnet(&bad, 3000),
            Err(OffloadError::GsoType(9))
        );
    }

    #[test]
    fn shift_follows_pushes_and_clears_on_removed_offsets() {
        let mut p = DpPacket::from_bytes(&[0u8; 100]);
        let o = Offload {
            flags: VNET_F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 16,
            ..Offload::NONE
        };
        p.set_offload(o);
        assert!(p.insert_gap(12, 4)); // a VLAN tag
        assert_eq!(p.offload().csum_start, 38);
        assert!(p.remove_gap(12, 4));
        assert_eq!(p.offload().csum_start, 34);
        assert!(p.push_front(50)); // an encapsulation
        assert_eq!(p.offload().csum_start, 84);
        assert!(p.pull_front(50));
        assert_eq!(p.offload(), o);
        assert!(p.remove_gap(30, 8));
        assert_eq!(p.offload(), Offload::NONE);
    }
}
