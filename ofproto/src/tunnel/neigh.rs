//! The tunnel neighbour cache (OVS's `tnl-neigh-cache`): next-hop IP ->
//! Ethernet address per underlay bridge, learned by snooping ARP replies
//! and neighbour advertisements in translation, or set by `tnl/arp/set`
//! and `tnl/neigh/set`. Entries expire 15 minutes after they were last
//! confirmed, as OVS's.
//!
//! A hash map keyed by (bridge, IP); lookups happen on translation misses
//! only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// OVS's `NEIGH_ENTRY_DEFAULT_IDLE_TIME`.
pub const NEIGH_IDLE: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Default)]
pub struct NeighCache {
    map: HashMap<(String, IpAddr), ([u8; 6], Instant)>,
    /// Changes translation could see (an address learned or changed,
    /// entries expired or flushed): part of the revalidation generation.
    changes: u64,
}

impl NeighCache {
    pub fn set(&mut self, bridge: &str, ip: IpAddr, mac: [u8; 6], now: Instant) {
        let old = self
            .map
            .insert((bridge.to_string(), ip), (mac, now + NEIGH_IDLE));
        if old.is_none_or(|(m, exp)| m != mac || exp <= now) {
            self.changes += 1;
        }
    }

    /// Removes expired entries (their lookups already miss); counts a
    /// change if there were any.
    pub fn expire(&mut self, now: Instant) {
        let before = self.map.len();
        self.map.retain(|_, (_, exp)| *exp > now);
        self.changes += (self.map.len() != before) as u64;
    }

    /// See the `changes` field.
    pub fn change_seq(&self) -> u64 {
        self.changes
    }

    pub fn lookup(&self, bridge: &str, ip: IpAddr, now: Instant) -> Option<[u8; 6]> {
        self.map
            .get(&(bridge.to_string(), ip))
            .filter(|(_, exp)| *exp > now)
            .map(|(m, _)| *m)
    }

    pub fn flush(&mut self) {
        self.changes += !self.map.is_empty() as u64;
        self.map.clear();
    }

    /// `tnl/neigh/show` (and `tnl/arp/show`): entries in address order.
    pub fn show(&self, now: Instant) -> String {
        let mut v: Vec<_> = self.map.iter().filter(|(_, (_, exp))| *exp > now).collect();
        v.sort_by(|a, b| (a.0 .1, &a.0 .0).cmp(&(b.0 .1, &b.0 .0)));
        let mut s = format!("{:<45} {:<19} Bridge\n", "IP", "MAC");
        s.push_str(&"=".repeat(74));
        s.push('\n');
        for ((br, ip), (mac, _)) in v {
            s.push_str(&format!(
                "{:<45} {:<19} {br}\n",
                ip.to_string(),
                fmt_mac(mac)
            ));
        }
        s
    }
}

pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut it = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(it.next()?, 16).ok()?;
    }
    it.next().is_none().then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_lookup_show_expire() {
        let now = Instant::now();
        let mut c = NeighCache::default();
        let ip: IpAddr = "198.18.2.92".parse().unwrap();
        c.set("br0", ip, parse_mac("f8:bc:12:44:34:b6").unwrap(), now);
        assert_eq!(c.lookup("br0", ip, now), parse_mac("f8:bc:12:44:34:b6"));
        assert_eq!(c.lookup("br1", ip, now), None);
        assert_eq!(c.lookup("br0", ip, now + NEIGH_IDLE), None);
        assert_eq!(
            c.show(now),
            "IP                                            MAC                 Bridge\n\
             ==========================================================================\n\
             198.18.2.92                                   f8:bc:12:44:34:b6   br0\n"
        );
        assert_eq!(parse_mac("f8:bc:12:44:34"), None);
    }
}
