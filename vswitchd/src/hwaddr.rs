//! Ethernet addresses of bridges and ports, and the datapath id derived from
//! them, with OVS's rules (vswitchd/bridge.c, vswitch.xml):
//!
//! - a bridge's address is `other_config:hwaddr` when it is a valid unicast,
//!   non-zero address; otherwise the lowest "real" address among its ports
//!   (not multicast, not locally administered, not reserved, not zero; the
//!   LOCAL port does not count); otherwise a default taken from the first
//!   six bytes of the bridge row's uuid, marked locally administered, which
//!   keeps it stable across restarts;
//! - the datapath id is `other_config:datapath-id` when it is exactly 16
//!   hex digits and not zero, otherwise the bridge address as a number.
//!
//! Addresses are plain `[u8; 6]`; nothing here allocates but the printing.

use uuid::Uuid;

pub type EthAddr = [u8; 6];

/// Parses `xx:xx:xx:xx:xx:xx` (hex digits, either case).
pub fn parse(s: &str) -> Option<EthAddr> {
    let mut ea = [0u8; 6];
    let mut parts = s.split(':');
    for b in ea.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(ea)
}

/// `xx:xx:xx:xx:xx:xx`, lower case, as OVS prints it.
pub fn format(ea: &EthAddr) -> String {
    ea.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn is_multicast(ea: &EthAddr) -> bool {
    ea[0] & 1 != 0
}

pub fn is_local(ea: &EthAddr) -> bool {
    ea[0] & 2 != 0
}

pub fn is_zero(ea: &EthAddr) -> bool {
    ea.iter().all(|&b| b == 0)
}

/// IEEE 802.1D reserved group addresses 01:80:c2:00:00:0x (and the rest of
/// the ranges OVS treats as reserved, all multicast anyway).
pub fn is_reserved(ea: &EthAddr) -> bool {
    ea[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00]
}

/// Clears the multicast bit and sets the locally administered bit.
pub fn mark_random(mut ea: EthAddr) -> EthAddr {
    ea[0] &= !1;
    ea[0] |= 2;
    ea
}

/// A random locally administered unicast address.
pub fn random() -> EthAddr {
    let u = Uuid::new_v4();
    let mut ea = [0u8; 6];
    ea.copy_from_slice(&u.as_bytes()[..6]);
    mark_random(ea)
}

/// The default address of the bridge whose row is `uuid`.
pub fn bridge_default(uuid: &Uuid) -> EthAddr {
    let mut ea = [0u8; 6];
    ea.copy_from_slice(&uuid.as_bytes()[..6]);
    mark_random(ea)
}

/// The bridge's address: `hwaddr` if usable, else the lowest usable port
/// address, else `default`.
pub fn pick_bridge_addr(
    hwaddr: Option<&str>,
    ports: impl Iterator<Item = EthAddr>,
    default: EthAddr,
) -> EthAddr {
    if let Some(ea) = hwaddr.and_then(parse) {
        if !is_multicast(&ea) && !is_zero(&ea) {
            return ea;
        }
        tracing::error!("ignoring unusable other_config:hwaddr {}", format(&ea));
    }
    ports
        .filter(|ea| !is_multicast(ea) && !is_local(ea) && !is_reserved(ea) && !is_zero(ea))
        .min()
        .unwrap_or(default)
}

/// `other_config:datapath-id` if it is 16 hex digits and not zero.
pub fn parse_dpid(s: &str) -> Option<u64> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok().filter(|&d| d != 0)
}

/// The datapath id of a bridge with address `ea`.
pub fn pick_dpid(datapath_id: Option<&str>, ea: &EthAddr) -> u64 {
    datapath_id
        .and_then(parse_dpid)
        .unwrap_or_else(|| ea.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        assert_eq!(
            parse("AA:55:aa:55:00:01"),
            Some([0xaa, 0x55, 0xaa, 0x55, 0, 1])
        );
        assert_eq!(format(&[0xaa, 0x55, 0xaa, 0x55, 0, 1]), "aa:55:aa:55:00:01");
        assert_eq!(parse("aa:55:aa:55:00"), None);
        assert_eq!(parse("aa:55:aa:55:00:01:02"), None);
        assert_eq!(parse("aa:55:aa:55:00:xx"), None);
    }

    #[test]
    fn default_address_comes_from_the_uuid() {
        // Seen on OVS 3.1: bridge uuid 42a3e776-5f46-... gave datapath_id
        // 000042a3e7765f46 and LOCAL mac_in_use 42:a3:e7:76:5f:46.
        let u = Uuid::parse_str("42a3e776-5f46-4aa0-8000-000000000000").unwrap();
        let ea = bridge_default(&u);
        assert_eq!(format(&ea), "42:a3:e7:76:5f:46");
        assert_eq!(pick_dpid(None, &ea), 0x0000_42a3_e776_5f46);
        // The multicast bit is cleared, the local bit set.
        let u = Uuid::parse_str("01000000-0000-4000-8000-000000000000").unwrap();
        assert_eq!(bridge_default(&u)[0], 0x02);
    }

    #[test]
    fn bridge_address_choice() {
        let d = [0x02, 0, 0, 0, 0, 9];
        let ports = [
            [0xaa, 0x55, 0, 0, 0, 1],
            [0x00, 0x11, 0, 0, 0, 2],
            [0x00, 0x10, 0, 0, 0, 3],
        ];
        // Dummy ports' aa:55:... addresses are locally administered: skipped.
        assert_eq!(
            pick_bridge_addr(None, ports.into_iter(), d),
            [0x00, 0x10, 0, 0, 0, 3]
        );
        assert_eq!(pick_bridge_addr(None, ports[..1].iter().copied(), d), d);
        assert_eq!(
            pick_bridge_addr(Some("00:00:00:00:00:42"), ports.into_iter(), d),
            [0, 0, 0, 0, 0, 0x42]
        );
        // Multicast and zero hwaddr are refused.
        assert_eq!(
            pick_bridge_addr(Some("01:00:00:00:00:42"), [].into_iter(), d),
            d
        );
        assert_eq!(
            pick_bridge_addr(Some("00:00:00:00:00:00"), [].into_iter(), d),
            d
        );
    }

    #[test]
    fn datapath_id_override() {
        let ea = [0, 0, 0, 0, 0, 1];
        assert_eq!(pick_dpid(Some("0000000000000abc"), &ea), 0xabc);
        assert_eq!(pick_dpid(Some("abc"), &ea), 1);
        assert_eq!(pick_dpid(Some("0000000000000000"), &ea), 1);
        assert_eq!(pick_dpid(Some("000000000000000g"), &ea), 1);
    }
}
