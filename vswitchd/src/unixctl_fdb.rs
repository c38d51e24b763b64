//! The MAC learning table's unixctl commands, with OVS 3.1's replies and
//! errors: `fdb/show`, `fdb/flush`, `fdb/add`, `fdb/del`,
//! `fdb/stats-show`, `fdb/stats-clear`.
//!
//! Arguments are read as OVS reads them, since operators' scripts pass
//! what OVS accepts: the VLAN with C's `atoi` (no error: `abc` is 0,
//! `70000` wraps to 4464), the MAC with OVS's `ovs_scan` of six `%hhx`
//! (each field may have leading blanks, a sign, a `0x` and any number of
//! hex digits, of which the low byte counts; nothing may follow). Each
//! command finds its bridge in the switch's wiring under the switch lock
//! and only touches that bridge's MAC table (its own small lock).

use std::sync::Arc;

use ferrovs_ofproto::normal::{format_fdb, format_fdb_stats};
use ferrovs_ofproto::upcall::Bridge as XBridge;

use crate::unixctl::Ctx;
use crate::xlate_glue::Wiring;

/// Runs `f` on the switch's wiring.
fn with_wiring<T>(ctx: &Ctx, f: impl FnOnce(&Wiring) -> Result<T, String>) -> Result<T, String> {
    crate::unixctl::with_wiring(ctx, |_, w| f(w))
}

fn bridge<'w>(w: &'w Wiring, name: &str) -> Result<&'w Arc<XBridge>, String> {
    w.xbridge(name).ok_or_else(|| "no such bridge".to_string())
}

/// `fdb/show BRIDGE`.
pub fn cmd_fdb_show(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    with_wiring(ctx, |w| {
        let b = bridge(w, &args[0])?;
        Ok(format_fdb(&b.mac.entries(b.now())))
    })
}

/// `fdb/flush [BRIDGE]`: forgets the learned entries (static ones stay).
pub fn cmd_fdb_flush(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    with_wiring(ctx, |w| {
        match args.first() {
            Some(n) => bridge(w, n)?.mac.flush(None),
            None => w.xbridges().for_each(|(_, b)| b.mac.flush(None)),
        }
        Ok("table successfully flushed".to_string())
    })
}

/// `fdb/add BRIDGE PORT VLAN MAC`: a static entry. Replies nothing, or
/// which entry it replaced when that was learned or on another port.
pub fn cmd_fdb_add(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let [br, port, vlan, mac] = args else {
        return Err("usage: fdb/add bridge port vlan mac".to_string());
    };
    with_wiring(ctx, |w| {
        let b = bridge(w, br)?;
        let mac = parse_mac(mac).ok_or_else(|| "bad MAC address".to_string())?;
        let (ofport, old) = b
            .fdb_add(port, atoi_u16(vlan), mac)
            .map_err(|_| "software error, odp port is present but no ofp port".to_string())?;
        Ok(match old {
            Some(e) if !e.is_static() || e.port != ofport => format!(
                "Overriding already existing {} entry on {}\n",
                if e.is_static() { "static" } else { "dynamic" },
                port_text(e.port)
            ),
            _ => String::new(),
        })
    })
}

/// `fdb/del BRIDGE VLAN MAC`: removes a static entry.
pub fn cmd_fdb_del(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let [br, vlan, mac] = args else {
        return Err("usage: fdb/del bridge vlan mac".to_string());
    };
    with_wiring(ctx, |w| {
        let b = bridge(w, br)?;
        let mac = parse_mac(mac).ok_or_else(|| "bad MAC address".to_string())?;
        if b.mac.del_static(atoi_u16(vlan), mac) {
            Ok(String::new())
        } else {
            Err("could not find static mac entry\n".to_string())
        }
    })
}

/// `fdb/stats-show BRIDGE`.
pub fn cmd_fdb_stats_show(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    with_wiring(ctx, |w| {
        let b = bridge(w, &args[0])?;
        b.mac.expire(b.now());
        Ok(format_fdb_stats(&args[0], &b.mac))
    })
}

/// `fdb/stats-clear [BRIDGE]`.
pub fn cmd_fdb_stats_clear(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    with_wiring(ctx, |w| {
        match args.first() {
            Some(n) => bridge(w, n)?.mac.clear_stats(),
            None => w.xbridges().for_each(|(_, b)| b.mac.clear_stats()),
        }
        Ok("statistics successfully cleared".to_string())
    })
}

/// A port number as OVS names it without a port map.
fn port_text(p: u16) -> String {
    match p {
        0xfffe => "LOCAL".to_string(),
        p => p.to_string(),
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `(uint16_t) atoi(s)` with glibc: blanks, a sign, decimal digits up to
/// the first other character (none: 0); `strtol` saturates at the `long`
/// range, the `int` keeps the low 32 bits, the `uint16_t` the low 16.
fn atoi_u16(s: &str) -> u16 {
    crate::unixctl::c_atoi(s) as u16
}

/// `eth_addr_from_string`: six `%hhx` fields joined by `:` and nothing
/// after them, read as OVS's `ovs_scan` reads `%x`.
fn parse_mac(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut mac = 0u64;
    for field in 0..6 {
        if field > 0 {
            if b.get(i) != Some(&b':') {
                return None;
            }
            i += 1;
        }
        i += b[i..].iter().take_while(|c| is_c_space(**c)).count();
        let negative = b.get(i) == Some(&b'-');
        i += matches!(b.get(i), Some(b'-' | b'+')) as usize;
        if b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            i += 2;
        }
        let digits = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if digits == 0 {
            return None;
        }
        let mut v = 0u64;
        for &c in &b[i..i + digits] {
            v = v
                .wrapping_mul(16)
                .wrapping_add((c as char).to_digit(16)? as u64);
        }
        i += digits;
        if negative {
            v = v.wrapping_neg();
        }
        mac = mac << 8 | (v & 0xff);
    }
    (i == b.len()).then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_as_atoi() {
        // What Debian's OVS 3.1 made of each (`fdb/add` then `fdb/show`).
        for (s, v) in [
            ("0", 0),
            ("12abc", 12),
            ("abc", 0),
            ("5000", 5000),
            ("-1", 65535),
            ("70000", 4464),
            ("65536", 0),
            ("-65535", 1),
            ("99999999999999999999", 65535),
            ("-99999999999999999999", 0),
            ("4294967297", 1),
            (" 12", 12),
            ("\t3", 3),
            ("+7", 7),
            ("- 5", 0),
            ("0x10", 0),
            ("-0", 0),
            ("", 0),
        ] {
            assert_eq!(atoi_u16(s), v, "{s:?}");
        }
    }

    #[test]
    fn mac_as_ovs_scan() {
        for (s, m) in [
            ("50:54:00:00:00:0a", Some(0x5054_0000_000a)),
            ("5:4:0:0:0:1", Some(0x0504_0000_0001)),
            ("123:4:0:0:0:1", Some(0x2304_0000_0001)),
            (" 5:4:0:0:0:1", Some(0x0504_0000_0001)),
            ("0x5:4:0:0:0:1", Some(0x0504_0000_0001)),
            ("-1:0:0:0:0:2", Some(0xff00_0000_0002)),
            ("+1:0:0:0:0:3", Some(0x0100_0000_0003)),
            ("1: 2:3:4:5:7", Some(0x0102_0304_0507)),
            ("0001:2:3:4:5:8", Some(0x0102_0304_0508)),
            ("0X50:+54:-0:00:01:003", Some(0x5054_0000_0103)),
            ("\t50:54:00:00:01:02", Some(0x5054_0000_0102)),
            ("50:54:00:00:00:0aXYZ", None),
            ("50:54:00:00:01:02\n", None),
            ("1:2:3:4:5", None),
            ("1:2:3:4:5:", None),
            ("1-2-3-4-5-6", None),
            ("1:2:3:4:5:6:7", None),
            ("0x:1:2:3:4:5", None),
            ("1 :2:3:4:5:6", None),
            ("zz", None),
            ("", None),
        ] {
            assert_eq!(parse_mac(s), m, "{s:?}");
        }
    }
}
