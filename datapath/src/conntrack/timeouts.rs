//! Per-protocol-state timeouts, with OVS's userspace defaults.
//!
//! A connection's expiry is `last packet + timeout of its current state`.
//! [`Timeouts`] is a plain table indexed by [`Tm`]; the tracker holds one
//! per zone policy behind an atomically swapped pointer, so the packet path
//! reads it without a lock.

/// The timeout classes of OVS's userspace tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tm {
    TcpFirstPacket,
    TcpOpening,
    TcpEstablished,
    TcpClosing,
    TcpFinWait,
    TcpClosed,
    OtherFirst,
    OtherMultiple,
    OtherBidir,
    IcmpFirst,
    IcmpReply,
}

pub const N_TM: usize = 11;

/// Seconds per timeout class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts(pub [u32; N_TM]);

impl Default for Timeouts {
    /// OVS's defaults (conntrack-tp.c): TCP SYN_SENT 30 s, SYN_RECV 30 s,
    /// ESTABLISHED 1 day, FIN_WAIT 15 min, TIME_WAIT 45 s, CLOSE 30 s; UDP
    /// first 60 s, single 60 s, multiple 30 s; ICMP first 60 s, reply 30 s.
    fn default() -> Self {
        Timeouts::STOCK
    }
}

impl Timeouts {
    /// The defaults, as a constant.
    pub const STOCK: Timeouts =
        Timeouts([30, 30, 24 * 60 * 60, 15 * 60, 45, 30, 60, 60, 30, 60, 30]);

    /// Milliseconds of class `tm`.
    #[inline]
    pub fn ms(&self, tm: Tm) -> u64 {
        self.0[tm as usize] as u64 * 1000
    }
    /// Sets a policy attribute by its OVSDB `CT_Timeout_Policy` name
    /// (`tcp_established`, `udp_first`, `icmp_reply`...). False if unknown.
    pub fn set_by_name(&mut self, name: &str, secs: u32) -> bool {
        let tm = match name {
            "tcp_syn_sent" => Tm::TcpFirstPacket,
            "tcp_syn_recv" => Tm::TcpOpening,
            "tcp_established" => Tm::TcpEstablished,
            "tcp_fin_wait" => Tm::TcpClosing,
            "tcp_time_wait" => Tm::TcpFinWait,
            "tcp_close" => Tm::TcpClosed,
            "udp_first" => Tm::OtherFirst,
            "udp_single" => Tm::OtherMultiple,
            "udp_multiple" => Tm::OtherBidir,
            "icmp_first" => Tm::IcmpFirst,
            "icmp_reply" => Tm::IcmpReply,
            _ => return false,
        };
        self.0[tm as usize] = secs;
        true
    }
}
