//! TCP tracking: per-peer state, and sequence and window checks.
//!
//! The semantics are those of OVS's userspace tracker (itself from pf, after
//! Guido van Rooij's "Real Stateful TCP Packet Filtering"): each peer keeps
//! the highest sequence number it sent (`seqlo`), the highest the other end
//! allowed it to send (`seqhi`), its largest unscaled window and its window
//! scale. A segment is valid when its last byte is inside the receiver's
//! window, it is not more than a window behind, and its ACK is not too far
//! behind or ahead; a RST must sit at (or one off) the expected sequence.
//! A packet failing the checks is `inv`; with sequence checking off (the
//! `liberal` option, OVS's `ct-disable-tcp-seq-chk`) only the flags are
//! checked. The timeout class follows the pair of peer states.
//!
//! All arithmetic on sequence numbers is modulo 2^32 (`wrapping_*`).

use super::key::{
    TcpSeg, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, WSCALE_FLAG, WSCALE_MASK,
    WSCALE_UNKNOWN,
};
use super::timeouts::Tm;

/// TCP states in OVS's (`ct_dpif_tcp_state`) order: comparisons between
/// states are meaningful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum TcpState {
    #[default]
    Closed,
    Listen,
    SynSent,
    SynRecv,
    Established,
    CloseWait,
    FinWait1,
    Closing,
    LastAck,
    FinWait2,
    TimeWait,
}

impl TcpState {
    /// The name `dpctl/dump-conntrack` prints.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }
}

/// One end of a TCP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpPeer {
    pub seqlo: u32,
    pub seqhi: u32,
    pub max_win: u16,
    pub wscale: u8,
    pub state: TcpState,
}

/// Both ends: `peer[0]` opened the connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpConn {
    pub peer: [TcpPeer; 2],
}

/// What a packet does to an existing connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// Valid; the connection is (or stays) established.
    Valid,
    /// Valid but the connection is not established yet (`new`).
    ValidNew,
    /// Fails the checks: `inv`.
    Invalid,
    /// A SYN reopening a closed connection: replace it with a new one.
    New,
}

#[inline]
fn seq_geq(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) as i32 >= 0
}

#[inline]
fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Flag combinations no TCP sends.
pub fn invalid_flags(f: u16) -> bool {
    if f & TCP_SYN != 0 {
        if f & (TCP_RST | TCP_FIN) != 0 {
            return true;
        }
    } else if f & (TCP_ACK | TCP_RST) == 0 {
        return true;
    }
    f & TCP_ACK == 0 && f & (TCP_FIN | TCP_PSH | TCP_URG) != 0
}

/// Whether `seg` may open a connection: valid flags, and not a SYN|ACK
/// (a half-open connection is not picked up).
pub fn valid_new(seg: &TcpSeg) -> bool {
    !invalid_flags(seg.flags) && (seg.flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK)
}

/// One more than the maximum ACK skew (a window plus a fudge).
const MAX_ACK_WINDOW: i64 = 0xffff + 1500;

impl TcpConn {
    /// The state of a connection opened by `seg`, and its timeout class.
    pub fn new(seg: &TcpSeg) -> (TcpConn, Tm) {
        let mut c = TcpConn::default();
        let [src, dst] = &mut c.peer;
        src.seqlo = seg.seq;
        src.seqhi = seg.seq.wrapping_add(seg.payload_len).wrapping_add(1);
        if seg.flags & TCP_SYN != 0 {
            src.seqhi = src.seqhi.wrapping_add(1);
            src.wscale = seg.wscale;
        } else {
            src.wscale = WSCALE_UNKNOWN;
            dst.wscale = WSCALE_UNKNOWN;
        }
        src.max_win = seg.win.max(1);
        if src.wscale & WSCALE_MASK != 0 {
            let sws = (src.wscale & WSCALE_MASK) as u32;
            src.max_win = (src.max_win as u32).div_ceil(1 << sws) as u16;
        }
        if seg.flags & TCP_FIN != 0 {
            src.seqhi = src.seqhi.wrapping_add(1);
        }
        dst.seqhi = 1;
        dst.max_win = 1;
        src.state = TcpState::SynSent;
        dst.state = TcpState::Closed;
        (c, Tm::TcpFirstPacket)
    }

    /// Runs `seg`, sent by the replier if `reply`, through the checks.
    /// Returns the verdict and, when the timer is to be refreshed, its
    /// class. `seq_chk` false is the liberal mode.
    pub fn update(&mut self, seg: &TcpSeg, reply: bool, seq_chk: bool) -> (Update, Option<Tm>) {
        let flags = seg.flags;
        if invalid_flags(flags) {
            return (Update::Invalid, None);
        }
        if !reply
            && flags & (TCP_SYN | TCP_ACK) == TCP_SYN
            && self.peer[0].state <= TcpState::SynSent
            && self.peer[1].state < TcpState::SynSent
        {
            // Another SYN before the responder said anything: a
            // retransmission, or a client that gave up on an unanswered
            // attempt and reuses the port with a new initial sequence
            // number. Track from this SYN (as Linux's conntrack does), so
            // that the handshake, data and RST that follow are checked
            // against the sequence numbers really in use. OVS 3.1 keeps
            // the first SYN's numbers here, and the new attempt's RST
            // then fails the check, leaving an ESTABLISHED entry that
            // turns every later SYN of the 5-tuple `inv` until it expires.
            *self = TcpConn::new(seg).0;
            return (Update::ValidNew, Some(Tm::TcpFirstPacket));
        }
        let (a, b) = self.peer.split_at_mut(1);
        let (src, dst) = if reply {
            (&mut b[0], &mut a[0])
        } else {
            (&mut a[0], &mut b[0])
        };
        if flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
            if dst.state >= TcpState::FinWait2 && src.state >= TcpState::FinWait2 {
                src.state = TcpState::Closed;
                dst.state = TcpState::Closed;
                return (Update::New, None);
            } else if src.state <= TcpState::SynSent {
                src.state = TcpState::SynSent;
                return (Update::ValidNew, Some(Tm::TcpFirstPacket));
            }
        }
        let (mut sws, mut dws) = (0u8, 0u8);
        if src.wscale & WSCALE_FLAG != 0 && dst.wscale & WSCALE_FLAG != 0 && flags & TCP_SYN == 0 {
            sws = src.wscale & WSCALE_MASK;
            dws = dst.wscale & WSCALE_MASK;
        } else if src.wscale & WSCALE_UNKNOWN != 0
            && dst.wscale & WSCALE_UNKNOWN != 0
            && flags & TCP_SYN == 0
        {
            sws = 14;
            dws = 14;
        }
        let mut win = seg.win as u32;
        let orig_seq = seg.seq;
        let mut seq = seg.seq;
        let ack_raw = seg.ack;
        let mut end;
        let mut check_ackskew = true;
        if src.state < TcpState::SynSent {
            // First packet from this end.
            end = seq.wrapping_add(seg.payload_len);
            if flags & TCP_SYN != 0 {
                end = end.wrapping_add(1);
                if dst.wscale & WSCALE_FLAG != 0 {
                    src.wscale = seg.wscale;
                    if src.wscale & WSCALE_FLAG != 0 {
                        sws = src.wscale & WSCALE_MASK;
                        win = win.div_ceil(1 << sws);
                        dws = dst.wscale & WSCALE_MASK;
                    } else {
                        dst.max_win = ((dst.max_win as u32) << (dst.wscale & WSCALE_MASK)) as u16;
                        dst.wscale = 0;
                    }
                }
            }
            if flags & TCP_FIN != 0 {
                end = end.wrapping_add(1);
            }
            src.seqlo = seq;
            src.state = TcpState::SynSent;
            let room = ((dst.max_win as u32) << dws).max(1);
            if src.seqhi == 1 || seq_geq(end.wrapping_add(room), src.seqhi) {
                src.seqhi = end.wrapping_add(room);
                check_ackskew = false;
            }
            if win > src.max_win as u32 {
                src.max_win = win.min(0xffff) as u16;
            }
        } else {
            end = seq.wrapping_add(seg.payload_len);
            if flags & TCP_SYN != 0 {
                end = end.wrapping_add(1);
            }
            if flags & TCP_FIN != 0 {
                end = end.wrapping_add(1);
            }
        }
        let ack = if flags & TCP_ACK == 0
            || (ack_raw == 0 && flags & (TCP_ACK | TCP_RST) == (TCP_ACK | TCP_RST))
        {
            dst.seqlo
        } else {
            ack_raw
        };
        if seq == end {
            seq = src.seqlo;
            end = seq;
        }
        let ackskew: i64 = if check_ackskew {
            dst.seqlo.wrapping_sub(ack) as i32 as i64
        } else {
            0
        };
        let back = (dst.max_win as u32) << dws;
        let in_window = seq_geq(src.seqhi, end)
            && seq_geq(seq, src.seqlo.wrapping_sub(back))
            && ackskew >= -MAX_ACK_WINDOW
            && ackskew <= (MAX_ACK_WINDOW << sws)
            && (flags & TCP_RST == 0
                || orig_seq == src.seqlo
                || orig_seq == src.seqlo.wrapping_add(1)
                || orig_seq.wrapping_add(1) == src.seqlo);
        let win_sc = win.wrapping_shl(sws as u32);
        if in_window || !seq_chk {
            if (src.max_win as u32) < win {
                src.max_win = win.min(0xffff) as u16;
            }
            if seq_gt(end, src.seqlo) {
                src.seqlo = end;
            }
            if seq_geq(ack.wrapping_add(win_sc), dst.seqhi) {
                dst.seqhi = ack.wrapping_add(win_sc.max(1));
            }
            if flags & TCP_SYN != 0 && src.state < TcpState::SynSent {
                src.state = TcpState::SynSent;
            }
            if flags & TCP_FIN != 0 && src.state < TcpState::Closing {
                src.state = TcpState::Closing;
            }
            if flags & TCP_ACK != 0 {
                if dst.state == TcpState::SynSent {
                    dst.state = TcpState::Established;
                } else if dst.state == TcpState::Closing {
                    dst.state = TcpState::FinWait2;
                }
            }
            if flags & TCP_RST != 0 {
                src.state = TcpState::TimeWait;
                dst.state = TcpState::TimeWait;
            }
            let tm = if src.state >= TcpState::FinWait2 && dst.state >= TcpState::FinWait2 {
                Tm::TcpClosed
            } else if src.state >= TcpState::Closing && dst.state >= TcpState::Closing {
                Tm::TcpFinWait
            } else if src.state < TcpState::Established || dst.state < TcpState::Established {
                Tm::TcpOpening
            } else if src.state >= TcpState::Closing || dst.state >= TcpState::Closing {
                Tm::TcpClosing
            } else {
                Tm::TcpEstablished
            };
            (Update::Valid, Some(tm))
        } else if (dst.state < TcpState::SynSent
            || dst.state >= TcpState::FinWait2
            || src.state >= TcpState::FinWait2)
            && seq_geq(src.seqhi.wrapping_add(MAX_ACK_WINDOW as u32), end)
            && seq_geq(seq, src.seqlo.wrapping_sub(MAX_ACK_WINDOW as u32))
        {
            // Shotgunned SYNs, a stream picked up after establishment, or
            // stray packets right after a close: accepted without
            // refreshing the timer (so that floods do not keep it alive).
            if (src.max_win as u32) < win {
                src.max_win = win.min(0xffff) as u16;
            }
            if seq_gt(end, src.seqlo) {
                src.seqlo = end;
            }
            if seq_geq(ack.wrapping_add(win_sc), dst.seqhi) {
                dst.seqhi = ack.wrapping_add(win_sc.max(1));
            }
            if flags & TCP_FIN != 0 && src.state < TcpState::Closing {
                src.state = TcpState::Closing;
            }
            if flags & TCP_RST != 0 {
                src.state = TcpState::TimeWait;
                dst.state = TcpState::TimeWait;
            }
            (Update::Valid, None)
        } else {
            (Update::Invalid, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: u16, seq: u32, ack: u32, len: u32) -> TcpSeg {
        TcpSeg {
            flags,
            seq,
            ack,
            win: 65535,
            wscale: 0,
            payload_len: len,
        }
    }

    /// SYN, SYN|ACK, ACK: both peers established; data both ways valid.
    fn handshake() -> TcpConn {
        let (mut c, tm) = TcpConn::new(&seg(TCP_SYN, 1000, 0, 0));
        assert_eq!(tm, Tm::TcpFirstPacket);
        assert_eq!(c.peer[0].state, TcpState::SynSent);
        let (u, tm) = c.update(&seg(TCP_SYN | TCP_ACK, 5000, 1001, 0), true, true);
        assert_eq!(u, Update::Valid);
        assert_eq!(tm, Some(Tm::TcpOpening));
        assert_eq!(c.peer[0].state, TcpState::Established);
        assert_eq!(c.peer[1].state, TcpState::SynSent);
        let (u, tm) = c.update(&seg(TCP_ACK, 1001, 5001, 0), false, true);
        assert_eq!(u, Update::Valid);
        assert_eq!(tm, Some(Tm::TcpEstablished));
        assert_eq!(c.peer[1].state, TcpState::Established);
        c
    }

    #[test]
    fn three_way_handshake_and_close() {
        let mut c = handshake();
        let (u, _) = c.update(&seg(TCP_ACK | TCP_PSH, 1001, 5001, 100), false, true);
        assert_eq!(u, Update::Valid);
        let (u, _) = c.update(&seg(TCP_ACK, 5001, 1101, 0), true, true);
        assert_eq!(u, Update::Valid);
        // FIN from the client, ACK, FIN from the server, ACK.
        let (u, tm) = c.update(&seg(TCP_FIN | TCP_ACK, 1101, 5001, 0), false, true);
        assert_eq!((u, tm), (Update::Valid, Some(Tm::TcpClosing)));
        assert_eq!(c.peer[0].state, TcpState::Closing);
        let (u, _) = c.update(&seg(TCP_FIN | TCP_ACK, 5001, 1102, 0), true, true);
        assert_eq!(u, Update::Valid);
        assert_eq!(c.peer[0].state, TcpState::FinWait2);
        let (u, tm) = c.update(&seg(TCP_ACK, 1102, 5002, 0), false, true);
        assert_eq!(u, Update::Valid);
        assert_eq!(c.peer[1].state, TcpState::FinWait2);
        assert_eq!(tm, Some(Tm::TcpClosed));
        // A new SYN on the closed pair reopens it.
        let (u, _) = c.update(&seg(TCP_SYN, 9000, 0, 0), false, true);
        assert_eq!(u, Update::New);
    }

    /// A client gives up on an unanswered SYN and reuses the port with a
    /// new initial sequence number: the new attempt is tracked from its own
    /// SYN, so its handshake and its RST are valid and the closed pair
    /// reopens on the next SYN.
    #[test]
    fn syn_with_a_new_isn_before_any_answer_restarts_tracking() {
        let (mut c, _) = TcpConn::new(&seg(TCP_SYN, 1000, 0, 0));
        // The same SYN again (a retransmission): still new.
        let (u, tm) = c.update(&seg(TCP_SYN, 1000, 0, 0), false, true);
        assert_eq!((u, tm), (Update::ValidNew, Some(Tm::TcpFirstPacket)));
        let (u, tm) = c.update(&seg(TCP_SYN, 7_000_000, 0, 0), false, true);
        assert_eq!((u, tm), (Update::ValidNew, Some(Tm::TcpFirstPacket)));
        assert_eq!(c.peer[0].seqlo, 7_000_000);
        let (u, _) = c.update(&seg(TCP_SYN | TCP_ACK, 5000, 7_000_001, 0), true, true);
        assert_eq!(u, Update::Valid);
        let (u, _) = c.update(&seg(TCP_ACK, 7_000_001, 5001, 0), false, true);
        assert_eq!(u, Update::Valid);
        // The client's close with a zero linger: RST|ACK at its next seq.
        let (u, tm) = c.update(&seg(TCP_RST | TCP_ACK, 7_000_001, 5001, 0), false, true);
        assert_eq!((u, tm), (Update::Valid, Some(Tm::TcpClosed)));
        let (u, _) = c.update(&seg(TCP_SYN, 9_000_000, 0, 0), false, true);
        assert_eq!(u, Update::New);
    }

    /// Once the responder has answered, a SYN with another sequence number
    /// does not restart tracking (it is checked against the window).
    #[test]
    fn syn_after_the_answer_does_not_restart_tracking() {
        let (mut c, _) = TcpConn::new(&seg(TCP_SYN, 1000, 0, 0));
        let (u, _) = c.update(&seg(TCP_SYN | TCP_ACK, 5000, 1001, 0), true, true);
        assert_eq!(u, Update::Valid);
        let (u, _) = c.update(&seg(TCP_SYN, 7_000_000, 0, 0), false, true);
        assert_eq!(u, Update::Invalid);
        assert_eq!(c.peer[0].seqlo, 1000);
    }

    #[test]
    fn bad_flags_are_invalid() {
        assert!(invalid_flags(TCP_SYN | TCP_RST));
        assert!(invalid_flags(TCP_SYN | TCP_FIN));
        assert!(invalid_flags(0));
        assert!(invalid_flags(TCP_FIN));
        assert!(invalid_flags(TCP_PSH | TCP_RST));
        assert!(!invalid_flags(TCP_RST));
        assert!(!invalid_flags(TCP_SYN));
        assert!(!invalid_flags(TCP_ACK | TCP_FIN));
        assert!(!valid_new(&seg(TCP_SYN | TCP_ACK, 1, 1, 0)));
        assert!(valid_new(&seg(TCP_ACK, 1, 1, 0)));
        let mut c = handshake();
        let (u, _) = c.update(&seg(TCP_SYN | TCP_FIN, 1001, 0, 0), false, true);
        assert_eq!(u, Update::Invalid);
    }

    #[test]
    fn out_of_window_data_is_invalid_unless_liberal() {
        let mut c = handshake();
        // Far beyond what the server allowed (window 65535 from 1001).
        let far = seg(TCP_ACK, 1001 + 200_000, 5001, 100);
        assert_eq!(c.update(&far, false, true).0, Update::Invalid);
        // More than a window behind.
        let old = seg(TCP_ACK, 1001u32.wrapping_sub(200_000), 5001, 100);
        assert_eq!(c.update(&old, false, true).0, Update::Invalid);
        // An ACK of data never sent (far ahead).
        let ahead = seg(TCP_ACK, 1001, 5001 + 500_000, 0);
        assert_eq!(c.update(&ahead, false, true).0, Update::Invalid);
        // Liberal: accepted.
        assert_eq!(c.update(&far, false, false).0, Update::Valid);
    }

    #[test]
    fn rst_needs_exact_sequence() {
        let mut c = handshake();
        let (u, _) = c.update(&seg(TCP_RST, 1001 + 3000, 0, 0), false, true);
        assert_eq!(u, Update::Invalid);
        let (u, tm) = c.update(&seg(TCP_RST | TCP_ACK, 1001, 5001, 0), false, true);
        assert_eq!(u, Update::Valid);
        assert_eq!(tm, Some(Tm::TcpClosed));
        assert_eq!(c.peer[0].state, TcpState::TimeWait);
        assert_eq!(c.peer[1].state, TcpState::TimeWait);
    }

    #[test]
    fn window_scaling_widens_the_window() {
        let mut syn = seg(TCP_SYN, 100, 0, 0);
        syn.wscale = WSCALE_FLAG | 7;
        let (mut c, _) = TcpConn::new(&syn);
        let mut synack = seg(TCP_SYN | TCP_ACK, 7000, 101, 0);
        synack.wscale = WSCALE_FLAG | 7;
        assert_eq!(c.update(&synack, true, true).0, Update::Valid);
        let mut ack = seg(TCP_ACK, 101, 7001, 0);
        ack.win = 1000; // 128000 bytes scaled
        assert_eq!(c.update(&ack, false, true).0, Update::Valid);
        // The server sends 100 KB ahead: inside 1000 << 7.
        let mut data = seg(TCP_ACK, 7001 + 100_000, 101, 1000);
        data.win = 1000;
        assert_eq!(c.update(&data, true, true).0, Update::Valid);
        // Without scaling the same jump would be out of the window.
        let mut c2 = handshake();
        let jump = seg(TCP_ACK, 5001 + 100_000, 1001, 1000);
        assert_eq!(c2.update(&jump, true, true).0, Update::Invalid);
    }

    #[test]
    fn sequence_wraps_around() {
        let (mut c, _) = TcpConn::new(&seg(TCP_SYN, u32::MAX - 10, 0, 0));
        let (u, _) = c.update(&seg(TCP_SYN | TCP_ACK, 77, u32::MAX - 9, 0), true, true);
        assert_eq!(u, Update::Valid);
        let (u, _) = c.update(&seg(TCP_ACK, u32::MAX - 9, 78, 0), false, true);
        assert_eq!(u, Update::Valid);
        // 100 bytes crossing 2^32.
        let (u, _) = c.update(&seg(TCP_ACK, u32::MAX - 9, 78, 100), false, true);
        assert_eq!(u, Update::Valid);
        assert_eq!(c.peer[0].seqlo, 90);
    }

    #[test]
    fn midstream_pickup_is_liberal_on_scale() {
        let (mut c, _) = TcpConn::new(&seg(TCP_ACK, 1_000_000, 2_000_000, 10));
        assert_eq!(c.peer[0].wscale, WSCALE_UNKNOWN);
        let (u, _) = c.update(&seg(TCP_ACK, 2_000_000, 1_000_010, 10), true, true);
        assert_eq!(u, Update::Valid);
    }
}
