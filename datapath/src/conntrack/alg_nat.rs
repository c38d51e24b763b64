//! FTP control segments under NAT: the announced address replaced by
//! the translated one, and the sequence numbers that follow shifted.
//!
//! Replacing `198,18,10,12` by `198,19,0,10` changes the segment's length,
//! so the stream of that direction is that many bytes longer (or
//! shorter) from then on: the connection keeps the sum per direction
//! ([`super::ConnState::seq_skew`]); every later segment of the direction
//! has its sequence number shifted by it, and every segment of the other
//! direction its acknowledgement shifted back. Only segments with an edit
//! are resized (in place, through the packet's headroom) and get their
//! IP length fields (IPv4 total length, IPv6 payload length) and IPv4 and
//! TCP checksums recomputed; IPv6's `EPRT |2|addr|port|` is rewritten as
//! OVS does (NAT66 of active FTP; passive EPSV names no address); a shift alone patches the TCP
//! checksum incrementally (a partial, offloaded checksum does not cover
//! sequence numbers and is left alone). This runs only for connections
//! committed with `alg=ftp` that have NAT, on the packets being
//! translated.

use super::alg::{self, Edit};
use super::conn::Conn;
use super::key::{PktInfo, TCP_ACK};
use crate::offload::Offload;
use crate::packet::DpPacket;
use crate::wire::checksum::{checksum, fold, sum16, update32};
use crate::wire::ipv4::PROTO_TCP;
use crate::wire::{be16, be32, put_be16, put_be32};

/// Edits and shifts `pkt`, a translated packet of FTP control connection
/// `conn` in direction `reply` (extracted as `info`).
pub fn ftp_nat(pkt: &mut DpPacket, info: &PktInfo, conn: &Conn, reply: bool) {
    let Some(seg) = &info.tcp else { return };
    let l3 = pkt.offsets().l3 as usize;
    let (l4, ip_end) = (info.l4, info.ip_end);
    let d = pkt.data();
    if ip_end > d.len() || l4 + 20 > ip_end || l3 + 20 > l4 {
        return;
    }
    let hlen = (d[l4 + 12] >> 4) as usize * 4;
    if l4 + hlen > ip_end {
        return;
    }
    let edit = if seg.payload_len > 0 && !pkt.offload().is_gso() {
        alg::ftp_announce(&d[l4 + hlen..ip_end], &conn.fwd, &conn.rev, reply).and_then(|a| a.edit)
    } else {
        None
    };
    let dir = usize::from(reply);
    let (skew_own, skew_peer) = {
        let mut s = conn.lock();
        let own = s.seq_skew[dir];
        if let Some(e) = &edit {
            s.seq_skew[dir] += e.text.len() as i32 - (e.end - e.start) as i32;
        }
        (own, s.seq_skew[1 - dir])
    };
    let ack = seg.flags & TCP_ACK != 0;
    if edit.is_none() && skew_own == 0 && (skew_peer == 0 || !ack) {
        return;
    }
    let partial = pkt.offload().needs_csum();
    let d = pkt.data_mut();
    let mut csum = be16(d, l4 + 16);
    let seq = be32(d, l4 + 4);
    let new_seq = seq.wrapping_add(skew_own as u32);
    put_be32(d, l4 + 4, new_seq);
    csum = update32(csum, seq, new_seq);
    if ack {
        let a = be32(d, l4 + 8);
        let new_a = a.wrapping_sub(skew_peer as u32);
        put_be32(d, l4 + 8, new_a);
        csum = update32(csum, a, new_a);
    }
    match edit {
        None => {
            if !partial {
                put_be16(d, l4 + 16, csum);
            }
        }
        Some(e) => {
            if apply_edit(pkt, l3, l4, hlen, ip_end, &e) {
                // The frame is whole and its checksums are final now.
                let mut o = pkt.offload();
                if o.needs_csum() {
                    o = Offload::NONE;
                    pkt.set_offload(o);
                }
            }
        }
    }
}

/// Replaces the payload bytes `e.start..e.end` (TCP header of `hlen`
/// bytes at `l4` in the frame, IP header at `l3`, IP packet ending at
/// `ip_end`), fixes the IPv4 total length or the IPv6 payload length, and
/// the checksums. False if the frame could not be resized.
fn apply_edit(
    pkt: &mut DpPacket,
    l3: usize,
    l4: usize,
    hlen: usize,
    ip_end: usize,
    e: &Edit,
) -> bool {
    let pl = l4 + hlen;
    let (old, new) = (e.end - e.start, e.text.len());
    let ok = if new > old {
        pkt.insert_gap(pl + e.end, new - old)
    } else if new < old {
        pkt.remove_gap(pl + e.start + new, old - new)
    } else {
        true
    };
    if !ok {
        return false;
    }
    let ip_end = ip_end + new - old;
    let d = pkt.data_mut();
    d[pl + e.start..pl + e.start + new].copy_from_slice(e.text.as_bytes());
    let addrs = if d[l3] >> 4 == 6 {
        let len = be16(d, l3 + 4) as usize + new - old;
        put_be16(d, l3 + 4, len as u16);
        l3 + 8..l3 + 40
    } else {
        let ihl = (d[l3] & 0x0f) as usize * 4;
        let tot = be16(d, l3 + 2) as usize + new - old;
        put_be16(d, l3 + 2, tot as u16);
        put_be16(d, l3 + 10, 0);
        let c = checksum(&d[l3..l3 + ihl]);
        put_be16(d, l3 + 10, c);
        l3 + 12..l3 + 20
    };
    let tcp_len = ip_end - l4;
    put_be16(d, l4 + 16, 0);
    let mut acc = sum16(&d[addrs], 0);
    acc += u32::from(PROTO_TCP) + tcp_len as u32;
    acc = sum16(&d[l4..ip_end], acc);
    put_be16(d, l4 + 16, !fold(acc));
    true
}
