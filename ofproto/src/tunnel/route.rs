//! The tunnel route table (OVS's `ovs-router`): kernel routes ("Cached",
//! replaced as a whole on each refresh) plus the operator's own ("User",
//! `ovs/route/add`), looked up by longest prefix with OVS's priorities:
//! a cached route ranks by its prefix length, a user route 32 above that,
//! a local (own address) route 64 above, all in IPv6-mapped lengths.
//!
//! A table holds tens of routes and is read on translation misses only,
//! so a sorted vector scanned linearly is the whole structure: entries are
//! kept in priority order, the first match wins.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpAddr,
    /// Prefix length in the address's own family (0..=32 or 0..=128).
    pub plen: u8,
    pub mark: u32,
    pub dev: String,
    pub gw: Option<IpAddr>,
    pub src: IpAddr,
    pub user: bool,
    pub local: bool,
}

impl Route {
    fn mapped_plen(&self) -> u32 {
        self.plen as u32 + if self.prefix.is_ipv4() { 96 } else { 0 }
    }
    /// OVS's classifier priority.
    pub fn priority(&self) -> u32 {
        let p = self.mapped_plen();
        if self.local {
            p + 64
        } else if self.user {
            p + 32
        } else {
            p
        }
    }
    fn matches(&self, ip: IpAddr, mark: u32) -> bool {
        self.mark == mark && in_prefix(ip, self.prefix, self.plen)
    }
    /// The `ovs/route/show` line.
    pub fn show(&self) -> String {
        let mut s = format!(
            "{}: {}/{}",
            if self.user && !self.local {
                "User"
            } else {
                "Cached"
            },
            self.prefix,
            self.plen
        );
        if self.mark != 0 {
            s.push_str(&format!(" MARK {}", self.mark));
        }
        s.push_str(&format!(" dev {}", self.dev));
        if let Some(g) = self.gw {
            s.push_str(&format!(" GW {g}"));
        }
        s.push_str(&format!(" SRC {}", self.src));
        if self.local {
            s.push_str(" local");
        }
        s
    }
}

/// Whether `ip` is in `prefix/plen` (families must agree).
pub fn in_prefix(ip: IpAddr, prefix: IpAddr, plen: u8) -> bool {
    match (ip, prefix) {
        (IpAddr::V4(a), IpAddr::V4(p)) => {
            let m = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - plen.min(32) as u32)
            };
            u32::from(a) & m == u32::from(p) & m
        }
        (IpAddr::V6(a), IpAddr::V6(p)) => {
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen.min(128) as u32)
            };
            u128::from(a) & m == u128::from(p) & m
        }
        _ => false,
    }
}

/// `ip` with the bits beyond `plen` cleared.
pub fn network(ip: IpAddr, plen: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - plen.min(32) as u32)
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen.min(128) as u32)
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// An address of a device with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevAddr {
    pub ip: IpAddr,
    pub plen: u8,
}

/// OVS's `ovs_router_get_netdev_source_address`: the device address of
/// the same family whose subnet holds `dst`, the longest such prefix.
pub fn source_address(addrs: &[DevAddr], dst: IpAddr) -> Option<IpAddr> {
    addrs
        .iter()
        .filter(|a| a.ip.is_ipv4() == dst.is_ipv4() && in_prefix(dst, a.ip, a.plen))
        .max_by_key(|a| a.plen)
        .map(|a| a.ip)
}

/// The answer of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHit {
    pub dev: String,
    pub gw: Option<IpAddr>,
    pub src: IpAddr,
}

/// The table (see the module comment).
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Changes (routes added or removed): part of the revalidation
    /// generation.
    changes: u64,
}

impl RouteTable {
    /// See the `changes` field.
    pub fn change_seq(&self) -> u64 {
        self.changes
    }

    fn insert(&mut self, r: Route) {
        self.changes += 1;
        self.routes.retain(|o| {
            !(o.prefix == r.prefix
                && o.plen == r.plen
                && o.mark == r.mark
                && o.priority() == r.priority())
        });
        let at = self
            .routes
            .iter()
            .position(|o| o.priority() < r.priority())
            .unwrap_or(self.routes.len());
        self.routes.insert(at, r);
    }

    /// `ovs/route/add`: the source address is `dev`'s (`addrs`) in the
    /// destination's (or else the gateway's) subnet; None if it has none.
    pub fn add_user(
        &mut self,
        prefix: IpAddr,
        plen: u8,
        dev: &str,
        gw: Option<IpAddr>,
        mark: u32,
        addrs: &[DevAddr],
    ) -> Option<()> {
        let prefix = network(prefix, plen);
        let src =
            source_address(addrs, prefix).or_else(|| gw.and_then(|g| source_address(addrs, g)))?;
        self.insert(Route {
            prefix,
            plen,
            mark,
            dev: dev.to_string(),
            gw,
            src,
            user: true,
            local: false,
        });
        Some(())
    }

    /// `ovs/route/del`: removes a user route; false if there is none.
    pub fn del_user(&mut self, prefix: IpAddr, plen: u8, mark: u32) -> bool {
        let prefix = network(prefix, plen);
        let n = self.routes.len();
        self.routes
            .retain(|r| !(r.user && r.prefix == prefix && r.plen == plen && r.mark == mark));
        self.changes += (self.routes.len() != n) as u64;
        self.routes.len() != n
    }

    /// Replaces the cached (kernel) routes; returns whether they changed.
    pub fn set_cached(&mut self, cached: Vec<Route>) -> bool {
        let old: Vec<&Route> = self.routes.iter().filter(|r| !r.user).collect();
        let mut want = cached.clone();
        want.sort_by_key(|r| std::cmp::Reverse(r.priority()));
        if old.len() == want.len() && old.iter().zip(&want).all(|(a, b)| *a == b) {
            return false;
        }
        self.changes += 1;
        self.routes.retain(|r| r.user);
        for r in cached {
            self.insert(r);
        }
        true
    }

    /// OVS's `ovs_router_lookup`: the best route to `dst`; with `src`
    /// given, `src` must itself be a local address.
    pub fn lookup(&self, mark: u32, dst: IpAddr, src: Option<IpAddr>) -> Option<RouteHit> {
        if let Some(s) = src {
            let r = self.routes.iter().find(|r| r.matches(s, mark))?;
            if !r.local {
                return None;
            }
        }
        let r = self.routes.iter().find(|r| r.matches(dst, mark))?;
        Some(RouteHit {
            dev: r.dev.clone(),
            gw: r.gw,
            src: src.unwrap_or(r.src),
        })
    }

    /// `ovs/route/show`.
    pub fn show(&self) -> String {
        let mut s = String::from("Route Table:\n");
        for r in &self.routes {
            s.push_str(&r.show());
            s.push('\n');
        }
        s
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// Parses `IP/PLEN` (a bare IP is a host route), as `ovs/route/*` take it.
pub fn parse_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, plen) = match s.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let plen = plen.unwrap_or(max);
    (plen <= max).then_some((ip, plen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_user_over_cached_local_first() {
        let addrs = [DevAddr {
            ip: ip("198.18.2.88"),
            plen: 24,
        }];
        let mut t = RouteTable::default();
        let cached = vec![
            Route {
                prefix: ip("198.18.2.88"),
                plen: 32,
                mark: 0,
                dev: "br0".into(),
                gw: None,
                src: ip("198.18.2.88"),
                user: false,
                local: true,
            },
            Route {
                prefix: ip("198.18.0.0"),
                plen: 16,
                mark: 0,
                dev: "eth0".into(),
                gw: None,
                src: ip("198.18.9.9"),
                user: false,
                local: false,
            },
        ];
        assert!(t.set_cached(cached.clone()));
        assert!(!t.set_cached(cached));
        assert_eq!(t.lookup(0, ip("198.18.2.92"), None).unwrap().dev, "eth0");
        t.add_user(ip("198.18.2.92"), 24, "br0", None, 0, &addrs)
            .unwrap();
        let h = t.lookup(0, ip("198.18.2.92"), None).unwrap();
        assert_eq!((h.dev.as_str(), h.src), ("br0", ip("198.18.2.88")));
        // A source must be local.
        assert!(t
            .lookup(0, ip("198.18.2.92"), Some(ip("198.18.2.88")))
            .is_some());
        assert!(t
            .lookup(0, ip("198.18.2.92"), Some(ip("198.18.2.89")))
            .is_none());
        // No address in the subnet: refused.
        assert!(t
            .add_user(ip("198.19.0.0"), 16, "br0", None, 0, &addrs)
            .is_none());
        assert_eq!(
            t.show(),
            "Route Table:\nCached: 198.18.2.88/32 dev br0 SRC 198.18.2.88 local\n\
             User: 198.18.2.0/24 dev br0 SRC 198.18.2.88\n\
             Cached: 198.18.0.0/16 dev eth0 SRC 198.18.9.9\n"
        );
        assert!(t.del_user(ip("198.18.2.0"), 24, 0));
        assert!(!t.del_user(ip("198.18.2.0"), 24, 0));
        assert_eq!(t.lookup(0, ip("2001:db8::1"), None), None);
    }
}
