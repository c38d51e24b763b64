//! Text forms: the `ct(...)` and `ct_clear` datapath actions as OVS's
//! odp-util prints them (so that `Datapath actions:` lines compare equal),
//! and connection entries as `dpctl/dump-conntrack` prints them.
//!
//! OVS quirks kept on purpose: `%#x` prints 0 as `0` (not `0x0`); labels
//! print as hexadecimal with leading zero bytes dropped; IPv6 NAT
//! addresses take brackets only when a port range follows.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::conn::{Conn, ProtoState};
use super::key::ConnKey;
use super::nat::{NatKind, NatSpec};
use super::CtAction;
use crate::wire::ipv4::{PROTO_ICMP, PROTO_IGMP, PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use crate::wire::ipv6::PROTO_ICMPV6;

/// C's `%#x`: `0x` prefix except for zero.
pub fn c_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// OVS's `ds_put_hex` of a big-endian 128-bit value.
pub fn hex128(v: u128) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn addr(v6: bool, a: u128) -> String {
    if v6 {
        Ipv6Addr::from(a).to_string()
    } else {
        Ipv4Addr::from(a as u32).to_string()
    }
}

impl fmt::Display for NatSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nat")?;
        let Some(kind) = self.kind else {
            return Ok(());
        };
        f.write_str(match kind {
            NatKind::Src => "(src",
            NatKind::Dst => "(dst",
        })?;
        if self.min_addr != 0 {
            let br = self.v6 && self.min_port != 0;
            let a = |x: u128| {
                if br {
                    format!("[{}]", addr(true, x))
                } else {
                    addr(self.v6, x)
                }
            };
            write!(f, "={}", a(self.min_addr))?;
            if self.max_addr != 0 && self.max_addr != self.min_addr {
                write!(f, "-{}", a(self.max_addr))?;
            }
            if self.min_port != 0 {
                write!(f, ":{}", self.min_port)?;
                if self.max_port != 0 && self.max_port != self.min_port {
                    write!(f, "-{}", self.max_port)?;
                }
            }
        }
        let mut flags = String::new();
        for (on, name) in [
            (self.persistent, ",persistent"),
            (self.hash, ",hash"),
            (self.random, ",random"),
        ] {
            if on {
                flags.push_str(name);
            }
        }
        write!(f, "{flags})")
    }
}

impl fmt::Display for CtAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.commit {
            parts.push("commit".into());
        }
        if self.force {
            parts.push("force_commit".into());
        }
        if self.zone != 0 {
            parts.push(format!("zone={}", self.zone));
        }
        if let Some(m) = &self.mark {
            parts.push(format!(
                "mark={}/{}",
                c_hex(m.value as u64),
                c_hex(m.mask as u64)
            ));
        }
        if let Some(l) = &self.label {
            let mut s = format!("label={}", hex128(l.value));
            if l.mask != u128::MAX {
                let _ = write!(s, "/{}", hex128(l.mask));
            }
            parts.push(s);
        }
        if let Some(h) = self.helper {
            parts.push(format!("helper={}", h.name()));
        }
        if let Some(t) = &self.timeout {
            parts.push(format!("timeout={t}"));
        }
        if let Some(n) = &self.nat {
            parts.push(n.to_string());
        }
        if parts.is_empty() {
            f.write_str("ct")
        } else {
            write!(f, "ct({})", parts.join(","))
        }
    }
}

fn proto_name(p: u8) -> String {
    match p {
        PROTO_ICMP => "icmp".into(),
        PROTO_ICMPV6 => "icmpv6".into(),
        PROTO_TCP => "tcp".into(),
        PROTO_UDP => "udp".into(),
        PROTO_SCTP => "sctp".into(),
        136 => "udplite".into(),
        33 => "dccp".into(),
        PROTO_IGMP => "igmp".into(),
        p => p.to_string(),
    }
}

/// `src=...,dst=...,sport=...,dport=...` (ICMP: `id=,type=,code=`).
pub fn tuple(k: &ConnKey) -> String {
    let mut s = format!(
        "src={},dst={}",
        addr(k.v6, k.src.addr),
        addr(k.v6, k.dst.addr)
    );
    if k.is_icmp() {
        let _ = write!(
            s,
            ",id={},type={},code={}",
            k.src.port, k.src.icmp_type, k.src.icmp_code
        );
    } else {
        let _ = write!(s, ",sport={},dport={}", k.src.port, k.dst.port);
    }
    s
}

/// One line of `dpctl/dump-conntrack` (`-s` adds the seconds left).
pub fn entry(c: &Conn, now_ms: u64, stats: bool) -> String {
    let st = *c.lock();
    let mut s = format!(
        "{},orig=({}),reply=({})",
        proto_name(c.fwd.proto),
        tuple(&c.fwd),
        tuple(&c.rev)
    );
    if c.fwd.zone != 0 {
        let _ = write!(s, ",zone={}", c.fwd.zone);
    }
    if stats {
        let _ = write!(
            s,
            ",timeout={}",
            st.expiration.saturating_sub(now_ms) / 1000
        );
    }
    if st.mark != 0 {
        let _ = write!(s, ",mark={}", st.mark);
    }
    if st.label != 0 {
        let _ = write!(s, ",labels={}", hex128(st.label));
    }
    if let ProtoState::Tcp(t) = st.proto {
        let mut state = t.peer[0].state.max(t.peer[1].state);
        // As OVS's non-verbose dump (like the kernel's single state).
        state = match state {
            super::tcp::TcpState::FinWait2 => super::tcp::TcpState::TimeWait,
            super::tcp::TcpState::SynRecv => super::tcp::TcpState::Established,
            s => s,
        };
        let _ = write!(s, ",protoinfo=(state={})", state.name());
    }
    if let Some(a) = c.alg {
        let _ = write!(s, ",helper={}", a.name());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::set::Masked;
    use crate::conntrack::Alg;

    #[test]
    fn ct_action_odp_form() {
        assert_eq!(CtAction::default().to_string(), "ct");
        let a = CtAction {
            zone: 5,
            commit: true,
            mark: Some(Masked {
                value: 1,
                mask: 0xffff_ffff,
            }),
            label: Some(Masked {
                value: 0x1_0000_0000_0000_0000,
                mask: u128::MAX,
            }),
            nat: Some(NatSpec {
                kind: Some(NatKind::Src),
                min_addr: 0x0a00_0001,
                max_addr: 0x0a00_0002,
                min_port: 100,
                max_port: 200,
                persistent: true,
                random: true,
                ..NatSpec::default()
            }),
            ..CtAction::default()
        };
        assert_eq!(
            a.to_string(),
            "ct(commit,zone=5,mark=0x1/0xffffffff,label=0x10000000000000000,\
             nat(src=10.0.0.1-10.0.0.2:100-200,persistent,random))"
        );
        let b = CtAction {
            force: true,
            mark: Some(Masked { value: 0, mask: 1 }),
            label: Some(Masked {
                value: 0,
                mask: 0xff,
            }),
            helper: Some(Alg::Ftp),
            nat: Some(NatSpec::default()),
            ..CtAction::default()
        };
        assert_eq!(
            b.to_string(),
            "ct(force_commit,mark=0/0x1,label=0/0xff,helper=ftp,nat)"
        );
        let v6 = NatSpec {
            kind: Some(NatKind::Dst),
            v6: true,
            min_addr: 0x2001_0db8 << 96 | 1,
            min_port: 80,
            ..NatSpec::default()
        };
        assert_eq!(v6.to_string(), "nat(dst=[2001:db8::1]:80)");
        let v6 = NatSpec { min_port: 0, ..v6 };
        assert_eq!(v6.to_string(), "nat(dst=2001:db8::1)");
        let s = NatSpec {
            kind: Some(NatKind::Src),
            ..NatSpec::default()
        };
        assert_eq!(s.to_string(), "nat(src)");
    }
}
