//! What vswitchd reads from and sets on a host network device behind a
//! port (system, afxdp, tap and internal interfaces): its address, MTU,
//! carrier, index and kernel counters for the status columns, and the
//! address of an internal port (the host must see the bridge's address).
//!
//! Reads come from `/sys/class/net/NAME/` (the namespace vswitchd runs
//! in), once per status pass and never on the packet path; the one write
//! are `SIOCSIFHWADDR` and `SIOCSIFMTU` ioctls when an internal port's
//! address or a port's MTU must change.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ferrovs_ofproto::port::{PortCounters, UNKNOWN};

use crate::hwaddr::{self, EthAddr};

fn attr(name: &str, what: &str) -> Option<String> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/{what}"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn int(name: &str, what: &str) -> Option<i64> {
    attr(name, what)?.parse().ok()
}

/// The device's Ethernet address.
pub fn mac(name: &str) -> Option<EthAddr> {
    hwaddr::parse(&attr(name, "address")?)
}

/// The device's MTU.
pub fn mtu(name: &str) -> Option<i64> {
    int(name, "mtu")
}

/// The device's interface index.
pub fn ifindex(name: &str) -> Option<i64> {
    int(name, "ifindex")
}

/// `up` when the device is up with carrier, else `down` (OVS's
/// `link_state`).
pub fn link_state(name: &str) -> &'static str {
    // `carrier` cannot be read (EINVAL) while the device is down.
    if int(name, "carrier") == Some(1) {
        "up"
    } else {
        "down"
    }
}

/// `up` when the device is administratively up (OVS's `admin_state`).
pub fn admin_state(name: &str) -> &'static str {
    // `flags` is written in hex ("0x1003").
    let flags =
        attr(name, "flags").and_then(|f| i64::from_str_radix(f.trim_start_matches("0x"), 16).ok());
    match flags {
        Some(f) if f & libc::IFF_UP as i64 != 0 => "up",
        _ => "down",
    }
}

/// The kernel's counters of the device, as OVS's netdev-linux reads them.
/// For tap devices (tap and internal ports) the kernel counts from the
/// host's side, so `swap` exchanges receive and transmit and zeroes the
/// receive error details, as OVS does for its tap-backed ports. A counter
/// the kernel does not show is [`UNKNOWN`].
pub fn counters(name: &str, swap: bool) -> PortCounters {
    let s = |what: &str| int(name, &format!("statistics/{what}")).map_or(UNKNOWN, |v| v as u64);
    let (rx, tx) = if swap { ("tx", "rx") } else { ("rx", "tx") };
    let detail = |what: &str| if swap { 0 } else { s(what) };
    PortCounters {
        rx_packets: s(&format!("{rx}_packets")),
        rx_bytes: s(&format!("{rx}_bytes")),
        rx_dropped: s(&format!("{rx}_dropped")),
        rx_errors: s(&format!("{rx}_errors")),
        tx_packets: s(&format!("{tx}_packets")),
        tx_bytes: s(&format!("{tx}_bytes")),
        tx_dropped: s(&format!("{tx}_dropped")),
        tx_errors: s(&format!("{tx}_errors")),
        rx_frame_err: detail("rx_frame_errors"),
        rx_over_err: detail("rx_over_errors"),
        rx_crc_err: detail("rx_crc_errors"),
        collisions: s("collisions"),
        tx_aborted_err: detail("tx_aborted_errors"),
        tx_carrier_err: detail("tx_carrier_errors"),
        since: None,
    }
}

/// A control socket and an `ifreq` naming `name`.
fn ifreq(name: &str) -> std::io::Result<(OwnedFd, libc::ifreq)> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::from_raw_os_error(libc::ENODEV));
    }
    // SAFETY: a plain socket call; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nobody else.
    let s = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, c) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = c as libc::c_char;
    }
    Ok((s, r))
}

/// Sets the device's Ethernet address.
pub fn set_mac(name: &str, ea: &EthAddr) -> std::io::Result<()> {
    let (s, mut r) = ifreq(name)?;
    // SAFETY: writing the sockaddr member of the union we own.
    unsafe {
        r.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (d, b) in r.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(ea) {
            *d = *b as libc::c_char;
        }
    }
    // SAFETY: SIOCSIFHWADDR reads the ifreq we pass.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFHWADDR, &r) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the device's MTU.
pub fn set_mtu(name: &str, mtu: i64) -> std::io::Result<()> {
    let (s, mut r) = ifreq(name)?;
    r.ifr_ifru.ifru_mtu =
        i32::try_from(mtu).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: SIOCSIFMTU reads the ifreq we pass.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFMTU, &r) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loopback device is in every namespace.
    #[test]
    fn reads_loopback() {
        assert_eq!(mac("lo"), Some([0; 6]));
        assert!(mtu("lo").unwrap() > 0);
        assert_eq!(ifindex("lo"), Some(1));
        assert_eq!(admin_state("lo"), "up");
        assert_eq!(mac("no-such-dev0"), None);
        assert_eq!(mac("../lo"), None);
    }
}
