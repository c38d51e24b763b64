//! A tunnel port's configuration, from the database's `Interface:options`
//! as OVS reads them (`remote_ip`, `local_ip`, `key`/`in_key`/`out_key`,
//! `dst_port`, `tos`, `ttl`, `df_default`, `csum`, `packet_type`).
//!
//! Parsed once when the port is configured; translation only reads it.
//! Values that may come from the flow (`remote_ip=flow`, `key=flow`,
//! `local_ip=flow`) are [`FromFlow`] so that a send or a receive knows
//! which flow fields it must look at (and unwildcard).

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use ferrovs_datapath::tunnel::TnlKind;

/// A value fixed by the configuration or taken from the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromFlow<T> {
    Fixed(T),
    Flow,
}

/// `tos`/`ttl`: a number or `inherit` (from the inner packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inherit {
    Fixed(u8),
    Inherit,
}

/// One tunnel port's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnlConfig {
    pub kind: TnlKind,
    /// The shared datapath port (`vxlan_sys_4789`, `gre_sys`, ...).
    pub dp_port: u32,
    pub remote: FromFlow<IpAddr>,
    /// None: the route's source address.
    pub local: Option<FromFlow<IpAddr>>,
    /// None: no key (GRE: no key field; VXLAN/Geneve: VNI 0).
    pub in_key: Option<FromFlow<u64>>,
    pub out_key: Option<FromFlow<u64>>,
    pub dst_port: u16,
    pub tos: Inherit,
    pub ttl: Inherit,
    pub df: bool,
    pub csum: bool,
    /// GRE `packet_type=legacy_l3`: carries IP without Ethernet.
    pub l3: bool,
}

/// Names and defaults of each tunnel kind.
pub trait TnlKindNames: Sized {
    /// The interface type name.
    fn type_name(self) -> &'static str;
    fn from_type(s: &str) -> Option<Self>;
    /// The default UDP destination port (0 for GRE).
    fn default_port(self) -> u16;
    /// The shared datapath port's name, as OVS's netdev datapath names it.
    fn dp_port_name(self, dst_port: u16) -> String;
}

impl TnlKindNames for TnlKind {
    fn type_name(self) -> &'static str {
        match self {
            TnlKind::Vxlan => "vxlan",
            TnlKind::Gre => "gre",
            TnlKind::Geneve => "geneve",
        }
    }
    fn from_type(s: &str) -> Option<TnlKind> {
        match s {
            "vxlan" => Some(TnlKind::Vxlan),
            "gre" => Some(TnlKind::Gre),
            "geneve" => Some(TnlKind::Geneve),
            _ => None,
        }
    }
    fn default_port(self) -> u16 {
        match self {
            TnlKind::Vxlan => 4789,
            TnlKind::Geneve => 6081,
            TnlKind::Gre => 0,
        }
    }
    fn dp_port_name(self, dst_port: u16) -> String {
        match self {
            TnlKind::Vxlan => format!("vxlan_sys_{dst_port}"),
            TnlKind::Geneve => format!("genev_sys_{dst_port}"),
            TnlKind::Gre => "gre_sys".to_string(),
        }
    }
}

fn key(s: &str) -> Result<FromFlow<u64>, String> {
    if s == "flow" {
        return Ok(FromFlow::Flow);
    }
    let v = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    v.map(FromFlow::Fixed)
        .map_err(|_| format!("invalid key {s:?}"))
}

fn inherit(name: &str, s: &str) -> Result<Inherit, String> {
    if s == "inherit" {
        return Ok(Inherit::Inherit);
    }
    s.parse::<u8>()
        .map(Inherit::Fixed)
        .map_err(|_| format!("{name}: invalid value {s:?}"))
}

fn bool_opt(name: &str, s: &str) -> Result<bool, String> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{name}: must be true or false, not {s:?}")),
    }
}

impl TnlConfig {
    /// Reads interface `name`'s options (the error is the text OVS puts
    /// in the `error` column, close to its wording). `dp_port` is filled
    /// by the caller afterwards.
    pub fn parse(
        name: &str,
        kind: TnlKind,
        opts: &BTreeMap<String, String>,
    ) -> Result<TnlConfig, String> {
        let mut c = TnlConfig {
            kind,
            dp_port: 0,
            remote: FromFlow::Flow,
            local: None,
            in_key: None,
            out_key: None,
            dst_port: kind.default_port(),
            tos: Inherit::Fixed(0),
            ttl: Inherit::Fixed(64),
            df: true,
            csum: false,
            l3: false,
        };
        let mut remote = None;
        for (k, v) in opts {
            match k.as_str() {
                "remote_ip" if v == "flow" => remote = Some(FromFlow::Flow),
                "remote_ip" => {
                    let ip: IpAddr = v.parse().map_err(|_| format!("{name}: bad {k} '{v}'"))?;
                    remote = Some(FromFlow::Fixed(ip));
                }
                "local_ip" if v == "flow" => c.local = Some(FromFlow::Flow),
                "local_ip" => {
                    let ip: IpAddr = v.parse().map_err(|_| format!("{name}: bad {k} '{v}'"))?;
                    c.local = Some(FromFlow::Fixed(ip));
                }
                "key" => {
                    let k = key(v).map_err(|e| format!("{name}: {e}"))?;
                    c.in_key = Some(k);
                    c.out_key = Some(k);
                }
                "in_key" => c.in_key = Some(key(v).map_err(|e| format!("{name}: {e}"))?),
                "out_key" => c.out_key = Some(key(v).map_err(|e| format!("{name}: {e}"))?),
                "dst_port" => {
                    c.dst_port = v
                        .parse()
                        .map_err(|_| format!("{name}: bad dst_port '{v}'"))?
                }
                "tos" => c.tos = inherit("tos", v)?,
                "ttl" => c.ttl = inherit("ttl", v)?,
                "df_default" => c.df = bool_opt("df_default", v)?,
                "csum" => c.csum = bool_opt("csum", v)?,
                "packet_type" if kind == TnlKind::Gre => match v.as_str() {
                    "legacy_l2" | "ptap" => c.l3 = false,
                    // IP without Ethernet: `pop_eth` before the push, the
                    // decapsulated packet L3 (see xlate/tunnel.rs).
                    "legacy_l3" => c.l3 = true,
                    _ => return Err(format!("{name}: unknown packet_type '{v}'")),
                },
                "remote_cert" | "peer_cert" | "psk" | "egress_pkt_mark" | "key_sets" => {}
                _ => {
                    return Err(format!(
                        "{name}: unknown {} argument '{k}'",
                        kind.type_name()
                    ))
                }
            }
        }
        c.remote = remote.ok_or_else(|| {
            format!(
                "{name}: {} type requires valid 'remote_ip' argument",
                kind.type_name()
            )
        })?;
        if let (FromFlow::Fixed(r), Some(FromFlow::Fixed(l))) = (c.remote, c.local) {
            if r.is_ipv4() != l.is_ipv4() {
                return Err(format!(
                    "{name}: remote_ip and local_ip must be the same address family"
                ));
            }
        }
        Ok(c)
    }

    /// Where `ofproto/list-tunnels` lists the port among others: OVS's
    /// match map index (key from the flow, remote from the flow, then the
    /// source: configured, any, from the flow).
    pub fn list_rank(&self) -> u8 {
        let src = match self.local {
            Some(FromFlow::Flow) => 2,
            Some(FromFlow::Fixed(ip)) if !ip.is_unspecified() => 0,
            _ => 1,
        };
        6 * u8::from(self.in_key == Some(FromFlow::Flow))
            + 3 * u8::from(self.remote == FromFlow::Flow)
            + src
    }

    /// The port's line in `ofproto/list-tunnels`, as OVS prints its tunnel
    /// match and settings: `port DP: NAME (TYPE: SRC->DST, key=K, MODE,
    /// dp port=DP[, out_key=..], ttl=T[, tos=..][, df=false][, csum=true])`.
    pub fn list_line(&self, name: &str) -> String {
        let ip = |v: Option<FromFlow<IpAddr>>| match v {
            Some(FromFlow::Fixed(ip)) => ip.to_string(),
            _ => "::".to_string(),
        };
        let ends = match (self.local, self.remote) {
            (Some(FromFlow::Flow), FromFlow::Flow) => "flow->flow".to_string(),
            (l, FromFlow::Flow) => format!("{}->flow", ip(l)),
            (l, r) => format!("{}->{}", ip(l), ip(Some(r))),
        };
        let hex = |v: u64| {
            if v == 0 {
                "0".to_string()
            } else {
                format!("{v:#x}")
            }
        };
        let key = match self.in_key {
            Some(FromFlow::Flow) => "flow".to_string(),
            Some(FromFlow::Fixed(k)) => hex(k),
            None => "0".to_string(),
        };
        let mode = if self.l3 { "legacy_l3" } else { "legacy_l2" };
        let mut s = format!(
            "port {dp}: {name} ({kind}: {ends}, key={key}, {mode}, dp port={dp}",
            dp = self.dp_port,
            kind = self.kind.type_name(),
        );
        if self.in_key != self.out_key {
            s.push_str(", out_key=");
            match self.out_key {
                None => s.push_str("none"),
                Some(FromFlow::Flow) => s.push_str("flow"),
                Some(FromFlow::Fixed(k)) => s.push_str(&hex(k)),
            }
        }
        match self.ttl {
            Inherit::Inherit => s.push_str(", ttl=inherit"),
            Inherit::Fixed(t) => s.push_str(&format!(", ttl={t}")),
        }
        match self.tos {
            Inherit::Inherit => s.push_str(", tos=inherit"),
            Inherit::Fixed(0) => {}
            Inherit::Fixed(t) => s.push_str(&format!(", tos={t:#x}")),
        }
        if !self.df {
            s.push_str(", df=false");
        }
        if self.csum {
            s.push_str(", csum=true");
        }
        s.push_str(")\n");
        s
    }

    /// How `ovs-appctl dpif/show` describes the port (`vxlan: key=123,
    /// remote_ip=198.18.0.2`): the settings rendered back as OVS's
    /// `get_tunnel_config` does, in name order.
    pub fn describe(&self) -> String {
        let mut a: Vec<(&str, String)> = Vec::new();
        let ff = |v: FromFlow<IpAddr>| match v {
            FromFlow::Fixed(ip) => ip.to_string(),
            FromFlow::Flow => "flow".to_string(),
        };
        a.push(("remote_ip", ff(self.remote)));
        if let Some(l) = self.local {
            a.push(("local_ip", ff(l)));
        }
        let kf = |k: FromFlow<u64>| match k {
            FromFlow::Fixed(v) => v.to_string(),
            FromFlow::Flow => "flow".to_string(),
        };
        match (self.in_key, self.out_key) {
            (Some(i), Some(o)) if i == o => a.push(("key", kf(i))),
            (i, o) => {
                if let Some(i) = i {
                    a.push(("in_key", kf(i)));
                }
                if let Some(o) = o {
                    a.push(("out_key", kf(o)));
                }
            }
        }
        match self.ttl {
            Inherit::Inherit => a.push(("ttl", "inherit".into())),
            Inherit::Fixed(64) => {}
            Inherit::Fixed(t) => a.push(("ttl", t.to_string())),
        }
        match self.tos {
            Inherit::Inherit => a.push(("tos", "inherit".into())),
            Inherit::Fixed(0) => {}
            Inherit::Fixed(t) => a.push(("tos", format!("{t:#x}"))),
        }
        if self.dst_port != self.kind.default_port() && self.kind != TnlKind::Gre {
            a.push(("dst_port", self.dst_port.to_string()));
        }
        if self.csum {
            a.push(("csum", "true".into()));
        }
        if self.l3 {
            a.push(("packet_type", "legacy_l3".into()));
        }
        if !self.df {
            a.push(("df_default", "false".into()));
        }
        a.sort();
        let shown: Vec<String> = a.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}: {}", self.kind.type_name(), shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The lines Debian's OVS 3.1 printed for the same options.
    #[test]
    fn list_lines_as_ovs() {
        let cfg = |kind, kv: &[(&str, &str)], dp| {
            let mut c = TnlConfig::parse("t", kind, &opts(kv)).unwrap();
            c.dp_port = dp;
            c
        };
        let c = cfg(
            TnlKind::Vxlan,
            &[("remote_ip", "198.18.0.2"), ("key", "5")],
            4,
        );
        assert_eq!(
            c.list_line("vx1"),
            "port 4: vx1 (vxlan: ::->198.18.0.2, key=0x5, legacy_l2, dp port=4, ttl=64)\n"
        );
        let c = cfg(TnlKind::Gre, &[("remote_ip", "198.18.0.3")], 5);
        assert_eq!(
            c.list_line("gre1"),
            "port 5: gre1 (gre: ::->198.18.0.3, key=0, legacy_l2, dp port=5, ttl=64)\n"
        );
        let f = cfg(TnlKind::Gre, &[("remote_ip", "flow")], 5);
        assert_eq!((c.list_rank(), f.list_rank()), (1, 4));
    }

    #[test]
    fn options() {
        let c = TnlConfig::parse(
            "t",
            TnlKind::Vxlan,
            &opts(&[
                ("remote_ip", "198.18.0.2"),
                ("key", "123"),
                ("tos", "inherit"),
            ]),
        )
        .unwrap();
        assert_eq!(c.remote, FromFlow::Fixed("198.18.0.2".parse().unwrap()));
        assert_eq!(c.in_key, Some(FromFlow::Fixed(123)));
        assert_eq!(c.dst_port, 4789);
        assert_eq!(c.tos, Inherit::Inherit);
        assert_eq!(
            c.describe(),
            "vxlan: key=123, remote_ip=198.18.0.2, tos=inherit"
        );
        let c = TnlConfig::parse(
            "t",
            TnlKind::Gre,
            &opts(&[
                ("remote_ip", "flow"),
                ("in_key", "flow"),
                ("out_key", "0x10"),
            ]),
        )
        .unwrap();
        assert_eq!(c.remote, FromFlow::Flow);
        assert_eq!(
            (c.in_key, c.out_key),
            (Some(FromFlow::Flow), Some(FromFlow::Fixed(16)))
        );
        assert!(TnlConfig::parse("t", TnlKind::Geneve, &opts(&[])).is_err());
        assert!(TnlConfig::parse("t", TnlKind::Geneve, &opts(&[("remote_ip", "x")])).is_err());
        assert!(TnlConfig::parse(
            "t",
            TnlKind::Vxlan,
            &opts(&[("remote_ip", "198.18.0.2"), ("local_ip", "2001:db8::1")])
        )
        .is_err());
    }
}
