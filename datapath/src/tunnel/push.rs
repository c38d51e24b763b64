//! Per-packet encapsulation with a [`TnlPush`] template.
//!
//! The template goes into the headroom in front of the frame; then the
//! lengths are written, the IPv4 header checksum is updated for the new
//! total length (RFC 1624), the UDP source port is taken from the flow hash
//! in OVS's range 32768..61000 (so that the underlay spreads flows), and
//! the optional outer checksums are computed.
//!
//! Offload state rides along: the headroom push moves `csum_start` by the
//! header length, so an inner partial checksum is still finished by the
//! port that sends the packet (kernel or software). An outer checksum
//! covers the inner bytes, so that one case finishes the inner checksum
//! first. GSO packets are segmented by the executor before the push
//! (`ExecCtx::push_segments`); called directly on one, `push` leaves the
//! outer UDP checksum zero and refuses a GRE checksum.

use super::{Outer, TnlError, TnlPush};
use crate::offload::csum::complete_packet;
use crate::packet::{DpPacket, Offsets, PT_ETH};
use crate::wire::checksum::{fold, sum16, update16};
use crate::wire::gre::fill_gre_checksum;
use crate::wire::ipv4::PROTO_UDP;
use crate::wire::{be16, put_be16, put_be32};

/// OVS's default tunnel UDP source port range.
pub const TNL_UDP_PORT_MIN: u16 = 32768;
pub const TNL_UDP_PORT_MAX: u16 = 61000;

/// UDP source port for a flow hash (a multiply, not a modulo).
#[inline]
pub fn udp_src_port(hash: u32) -> u16 {
    let span = (TNL_UDP_PORT_MAX - TNL_UDP_PORT_MIN) as u64;
    ((hash as u64 * span) >> 32) as u16 + TNL_UDP_PORT_MIN
}

/// Encapsulates `pkt` in place. On error the packet is unchanged unless
/// the error is `Offload` (then it is to be dropped anyway).
pub fn push(pkt: &mut DpPacket, t: &TnlPush, hash: u32) -> Result<(), TnlError> {
    let outer_csum = match t.outer {
        Outer::Udp { csum } => csum,
        Outer::Gre { csum, .. } => csum,
    };
    let gso = pkt.offload().is_gso();
    if outer_csum && !gso && pkt.offload().needs_csum() {
        complete_packet(pkt).map_err(|_| TnlError::Offload)?;
    }
    if outer_csum && gso && matches!(t.outer, Outer::Gre { .. }) {
        return Err(TnlError::Offload);
    }
    let hlen = t.header.len();
    let inner = pkt.len();
    let l3len = t.l4 - crate::wire::ethernet::ETH_HLEN;
    let ip_total = l3len + (hlen - t.l4) + inner;
    if ip_total > u16::MAX as usize + if t.v6 { 40 } else { 0 } {
        return Err(TnlError::TooLong);
    }
    if !pkt.push_front(hlen) {
        return Err(TnlError::NoHeadroom);
    }
    let l4 = t.l4;
    let d = pkt.data_mut();
    d[..hlen].copy_from_slice(&t.header);
    let ip = 14;
    let l4_len = ip_total - l3len;
    if t.v6 {
        put_be16(d, ip + 4, l4_len as u16);
    } else {
        put_be16(d, ip + 2, ip_total as u16);
        let c = update16(be16(d, ip + 10), 0, ip_total as u16);
        put_be16(d, ip + 10, c);
    }
    match t.outer {
        Outer::Udp { csum } => {
            put_be16(d, l4, udp_src_port(hash));
            put_be16(d, l4 + 4, l4_len as u16);
            put_be16(d, l4 + 6, 0);
            if csum && !gso {
                let mut acc = if t.v6 {
                    sum16(&d[ip + 8..ip + 40], 0)
                } else {
                    sum16(&d[ip + 12..ip + 20], 0)
                };
                acc += PROTO_UDP as u32 + l4_len as u32;
                let c = !fold(sum16(&d[l4..], acc));
                put_be16(d, l4 + 6, if c == 0 { 0xffff } else { c });
            }
        }
        Outer::Gre { seq, .. } => {
            if let Some(at) = seq {
                let s = t.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                put_be32(d, at, s);
            }
            fill_gre_checksum(&mut d[l4..]);
        }
    }
    pkt.set_offsets(Offsets::default());
    // An L3 packet (a legacy_l3 GRE port's) is now inside an Ethernet
    // frame.
    if pkt.md().packet_type != PT_ETH {
        pkt.md_mut().packet_type = PT_ETH;
    }
    Ok(())
}
