//! The kernel's routes over rtnetlink: one `RTM_GETROUTE` dump of every
//! family and table, read back into [`KernelRoute`]s the way OVS's
//! route-table keeps them: unicast and local routes of the default, main
//! and local tables, in the kernel's dump order.
//!
//! [`parse_dump`] is a pure decoder over the received bytes (bounds
//! checked, a malformed message ends the walk with an error), so it is
//! fuzzed apart from the socket; [`dump_routes`] owns the socket.
//! [`Watch`] listens to the kernel's route, address and link groups so
//! that the table is dumped again only when something changed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const NLMSG_HDRLEN: usize = 16;
const RTMSG_LEN: usize = 12;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RTA_MARK: u16 = 16;
const RTN_UNICAST: u8 = 1;
const RTN_LOCAL: u8 = 2;
const RT_SCOPE_NOWHERE: u8 = 255;
const RT_TABLE_DEFAULT: u32 = 253;
const RT_TABLE_MAIN: u32 = 254;
const RT_TABLE_LOCAL: u32 = 255;

/// One kernel route OVS would keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub ifindex: u32,
    pub prefix: IpAddr,
    pub plen: u8,
    pub gw: Option<IpAddr>,
    pub mark: u32,
    pub local: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtnlError {
    #[error("truncated or malformed netlink message")]
    Malformed,
    #[error("kernel error {0}")]
    Kernel(i32),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn addr(family: u8, d: &[u8]) -> Option<IpAddr> {
    match (family as i32, d.len()) {
        (libc::AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(d[0], d[1], d[2], d[3]))),
        (libc::AF_INET6, 16) => {
            let a: [u8; 16] = d.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// Reads the route messages in `buf` (one `recv`'s worth) into `out`;
/// returns true once the dump's end (`NLMSG_DONE`) is seen.
pub fn parse_dump(buf: &[u8], out: &mut Vec<KernelRoute>) -> Result<bool, RtnlError> {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32_at(buf, at).ok_or(RtnlError::Malformed)? as usize;
        let ty = u16_at(buf, at + 4).ok_or(RtnlError::Malformed)?;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return Err(RtnlError::Malformed);
        }
        let msg = &buf[at..at + len];
        at += (len + 3) & !3;
        match ty {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let e = u32_at(msg, NLMSG_HDRLEN).ok_or(RtnlError::Malformed)? as i32;
                if e != 0 {
                    return Err(RtnlError::Kernel(-e));
                }
            }
            RTM_NEWROUTE => {
                if let Some(r) = parse_route(msg)? {
                    out.push(r);
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

/// One `RTM_NEWROUTE` message; None when OVS would not keep it.
fn parse_route(msg: &[u8]) -> Result<Option<KernelRoute>, RtnlError> {
    let rt = msg
        .get(NLMSG_HDRLEN..NLMSG_HDRLEN + RTMSG_LEN)
        .ok_or(RtnlError::Malformed)?;
    let (family, dst_len, table, scope, rtype) = (rt[0], rt[1], rt[4] as u32, rt[6], rt[7]);
    let v4 = match family as i32 {
        libc::AF_INET => true,
        libc::AF_INET6 => false,
        _ => return Ok(None),
    };
    let mut table = table;
    let mut dst = None;
    let mut gw = None;
    let mut oif = None;
    let mut mark = 0;
    let mut a = NLMSG_HDRLEN + RTMSG_LEN;
    while a + 4 <= msg.len() {
        let alen = u16_at(msg, a).ok_or(RtnlError::Malformed)? as usize;
        let aty = u16_at(msg, a + 2).ok_or(RtnlError::Malformed)? & 0x3fff;
        if alen < 4 || a + alen > msg.len() {
            return Err(RtnlError::Malformed);
        }
        let d = &msg[a + 4..a + alen];
        match aty {
            RTA_DST => dst = Some(addr(family, d).ok_or(RtnlError::Malformed)?),
            RTA_GATEWAY => gw = Some(addr(family, d).ok_or(RtnlError::Malformed)?),
            RTA_OIF => oif = Some(u32_at(d, 0).ok_or(RtnlError::Malformed)?),
            RTA_TABLE => table = u32_at(d, 0).ok_or(RtnlError::Malformed)?,
            RTA_MARK => mark = u32_at(d, 0).ok_or(RtnlError::Malformed)?,
            _ => {}
        }
        a += (alen + 3) & !3;
    }
    let max = if v4 { 32 } else { 128 };
    if scope == RT_SCOPE_NOWHERE
        || (rtype != RTN_UNICAST && rtype != RTN_LOCAL)
        || !matches!(table, 0 | RT_TABLE_DEFAULT | RT_TABLE_MAIN | RT_TABLE_LOCAL)
        || dst_len > max
    {
        return Ok(None);
    }
    let Some(ifindex) = oif else {
        return Ok(None);
    };
    let prefix = dst.unwrap_or(if v4 {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    });
    Ok(Some(KernelRoute {
        ifindex,
        prefix,
        plen: dst_len,
        gw: gw.filter(|g| !g.is_unspecified()),
        mark,
        local: rtype == RTN_LOCAL,
    }))
}

/// Dumps the kernel's routes (the namespace vswitchd runs in).
pub fn dump_routes() -> Result<Vec<KernelRoute>, std::io::Error> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket call; the descriptor is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = [0u8; NLMSG_HDRLEN + RTMSG_LEN];
    req[0..4].copy_from_slice(&((NLMSG_HDRLEN + RTMSG_LEN) as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETROUTE.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: req is a valid buffer of its length.
    let n = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: buf is a valid writable buffer of its length.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(out);
        }
        match parse_dump(&buf[..n as usize], &mut out) {
            Ok(true) => return Ok(out),
            Ok(false) => {}
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
}

/// RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE |
/// RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE.
const WATCH_GROUPS: u32 = 0x1 | 0x10 | 0x40 | 0x100 | 0x400;

/// A non-blocking netlink socket subscribed to route, address and link
/// changes.
pub struct Watch {
    sock: std::os::fd::OwnedFd,
}

impl Watch {
    pub fn open() -> Result<Watch, std::io::Error> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        // SAFETY: plain socket call; the descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; zero is a valid start.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = WATCH_GROUPS;
        // SAFETY: sa is a valid sockaddr_nl of the size given.
        let r = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Watch { sock })
    }

    /// Whether anything changed since the last call (reads and discards
    /// the notifications; an overrun counts as a change).
    pub fn changed(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut buf = [0u8; 8192];
        let mut any = false;
        loop {
            // SAFETY: buf is a valid writable buffer of its length.
            let n =
                unsafe { libc::recv(self.sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                any = true;
                continue;
            }
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock {
                // ENOBUFS: notifications were lost.
                any = true;
            }
            return any;
        }
    }
}

/// The name of interface `ifindex`.
pub fn ifname(ifindex: u32) -> Option<String> {
    let mut b = [0u8; libc::IF_NAMESIZE];
    // SAFETY: b has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(ifindex, b.as_mut_ptr().cast()) };
    if p.is_null() {
        return None;
    }
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    Some(String::from_utf8_lossy(&b[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(family: u8, dst_len: u8, table: u8, rtype: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = vec![0u8; NLMSG_HDRLEN + RTMSG_LEN];
        m[4..6].copy_from_slice(&RTM_NEWROUTE.to_ne_bytes());
        let rt = &mut m[NLMSG_HDRLEN..];
        rt[0] = family;
        rt[1] = dst_len;
        rt[4] = table;
        rt[7] = rtype;
        for (t, d) in attrs {
            m.extend_from_slice(&((4 + d.len()) as u16).to_ne_bytes());
            m.extend_from_slice(&t.to_ne_bytes());
            m.extend_from_slice(d);
            while !m.len().is_multiple_of(4) {
                m.push(0);
            }
        }
        let l = m.len() as u32;
        m[0..4].copy_from_slice(&l.to_ne_bytes());
        m
    }

    #[test]
    fn dump_messages() {
        let oif = 7u32.to_ne_bytes();
        let mut b = msg(
            2,
            24,
            254,
            RTN_UNICAST,
            &[(RTA_DST, &[198, 18, 2, 0]), (RTA_OIF, &oif)],
        );
        b.extend(msg(
            2,
            32,
            255,
            RTN_LOCAL,
            &[(RTA_DST, &[198, 18, 2, 88]), (RTA_OIF, &oif)],
        ));
        // Broadcast and other tables are not kept.
        b.extend(msg(
            2,
            32,
            255,
            3,
            &[(RTA_DST, &[198, 18, 2, 255]), (RTA_OIF, &oif)],
        ));
        b.extend(msg(2, 0, 10, RTN_UNICAST, &[(RTA_OIF, &oif)]));
        let gw6: [u8; 16] = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets();
        b.extend(msg(
            10,
            0,
            254,
            RTN_UNICAST,
            &[(RTA_GATEWAY, &gw6), (RTA_OIF, &oif)],
        ));
        let mut done = vec![0u8; 20];
        done[0..4].copy_from_slice(&20u32.to_ne_bytes());
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        b.extend(done);
        let mut out = Vec::new();
        assert_eq!(parse_dump(&b, &mut out), Ok(true));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            out,
            vec![
                KernelRoute {
                    ifindex: 7,
                    prefix: ip("198.18.2.0"),
                    plen: 24,
                    gw: None,
                    mark: 0,
                    local: false
                },
                KernelRoute {
                    ifindex: 7,
                    prefix: ip("198.18.2.88"),
                    plen: 32,
                    gw: None,
                    mark: 0,
                    local: true
                },
                KernelRoute {
                    ifindex: 7,
                    prefix: ip("::"),
                    plen: 0,
                    gw: Some(ip("2001:db8::1")),
                    mark: 0,
                    local: false
                },
            ]
        );
        // Truncations are errors, never panics.
        for cut in 1..b.len() {
            let _ = parse_dump(&b[..cut], &mut Vec::new());
        }
        let mut bad = msg(2, 24, 254, RTN_UNICAST, &[(RTA_DST, &[198, 18, 2])]);
        bad.truncate(bad.len());
        assert_eq!(parse_dump(&bad, &mut Vec::new()), Err(RtnlError::Malformed));
    }

    #[test]
    fn live_dump_reads_this_namespace() {
        // Every namespace has at least its loopback's local routes when
        // lo is up; without them the dump is empty but must not fail.
        let r = dump_routes().unwrap();
        if std::env::var("FVS_DEBUG_ROUTES").is_ok() {
            eprintln!("{r:#?}");
        }
    }
}
