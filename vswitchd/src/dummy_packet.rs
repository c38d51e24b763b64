//! Packets for `netdev-dummy/receive`: an Ethernet frame in hex, or a
//! datapath flow in OVS's ODP syntax (`in_port(1),eth(src=...,dst=...),
//! eth_type(0x0800),ipv4(src=...,dst=...,proto=6,...),tcp(src=..,dst=..)`)
//! from which a packet is composed the way OVS's `flow_compose` does: the
//! headers the flow names, fields it does not name zero, checksums and
//! lengths filled in, and a 64-byte payload (bytes 0, 1, 2, ...) after
//! TCP (without SYN, FIN or RST), UDP and ICMP/ICMPv6 echo headers. With
//! `--len N` the packet is instead padded with zeros to N bytes.
//!
//! `Spec` is the flow as plain fields; `compose` writes the frame once
//! (headers in order, then lengths and checksums patched in place).

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrovs_datapath::wire::checksum::{checksum, fold, sum16};

use crate::hwaddr;

/// Flow keys that only carry metadata (no packet bytes).
const METADATA: &[&str] = &[
    "in_port",
    "skb_priority",
    "skb_mark",
    "recirc_id",
    "dp_hash",
    "ct_state",
    "ct_zone",
    "ct_mark",
    "ct_label",
    "packet_type",
];

const ETH_TYPE_IP: u16 = 0x0800;
const ETH_TYPE_IPV6: u16 = 0x86dd;
const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_RARP: u16 = 0x8035;
const VLAN_CFI: u16 = 0x1000;
/// Largest `--len` (a frame's length must fit the IP length fields).
const MAX_LEN: usize = 65535;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Spec {
    pub dl_src: [u8; 6],
    pub dl_dst: [u8; 6],
    /// None: no eth_type (an 802.2 frame whose type field is its length).
    pub dl_type: Option<u16>,
    /// (TPID, TCI), outermost first.
    pub vlans: Vec<(u16, u16)>,
    pub nw_src: [u8; 4],
    pub nw_dst: [u8; 4],
    pub ipv6_src: [u8; 16],
    pub ipv6_dst: [u8; 16],
    pub ipv6_label: u32,
    pub nw_proto: u8,
    pub nw_tos: u8,
    pub nw_ttl: u8,
    /// "first" or "later" fragment.
    pub frag_any: bool,
    pub frag_later: bool,
    pub tp_src: u16,
    pub tp_dst: u16,
    pub tcp_flags: u16,
    pub arp_sha: [u8; 6],
    pub arp_tha: [u8; 6],
    pub nd_target: [u8; 16],
}

/// A frame from hex digits (whitespace between bytes allowed), or None if
/// `s` is not hex (then it may be a flow). Too short a frame is an error.
pub fn from_hex(s: &str) -> Option<Result<Vec<u8>, String>> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(match hex::decode(&digits) {
        Err(_) => Err("bad packet syntax: odd number of hex digits".into()),
        Ok(b) if b.len() < 14 => Err("packet data too short for Ethernet".into()),
        Ok(b) => Ok(b),
    })
}

/// Splits `s` at commas outside parentheses.
fn split_top(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("syntax error at {}", &s[i..]));
                }
            }
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("syntax error at {s} (unbalanced parentheses)"));
    }
    let last = s[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    Ok(out)
}

/// `name(body)` -> (name, body).
fn key(item: &str) -> Result<(&str, &str), String> {
    let open = item
        .find('(')
        .ok_or_else(|| format!("syntax error at {item}"))?;
    if !item.ends_with(')') {
        return Err(format!("syntax error at {item}"));
    }
    Ok((&item[..open], &item[open + 1..item.len() - 1]))
}

/// A value without its `/mask`.
fn unmasked(v: &str) -> &str {
    v.split('/').next().unwrap_or(v)
}

fn int(v: &str) -> Result<u64, String> {
    let v = unmasked(v);
    let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.map_err(|_| format!("bad number {v}"))
}

fn mac(v: &str) -> Result<[u8; 6], String> {
    hwaddr::parse(unmasked(v)).ok_or_else(|| format!("bad Ethernet address {v}"))
}

fn ip4(v: &str) -> Result<[u8; 4], String> {
    unmasked(v)
        .parse::<Ipv4Addr>()
        .map(|a| a.octets())
        .map_err(|_| format!("bad IPv4 address {v}"))
}

fn ip6(v: &str) -> Result<[u8; 16], String> {
    unmasked(v)
        .parse::<Ipv6Addr>()
        .map(|a| a.octets())
        .map_err(|_| format!("bad IPv6 address {v}"))
}

fn tcp_flags(v: &str) -> Result<u16, String> {
    if let Ok(n) = int(v) {
        return Ok(n as u16);
    }
    let mut f = 0u16;
    for name in unmasked(v).split('|').filter(|n| !n.is_empty()) {
        f |= match name {
            "fin" => 0x001,
            "syn" => 0x002,
            "rst" => 0x004,
            "psh" => 0x008,
            "ack" => 0x010,
            "urg" => 0x020,
            "ece" => 0x040,
            "cwr" => 0x080,
            "ns" => 0x100,
            _ => return Err(format!("bad tcp flag {name}")),
        };
    }
    Ok(f)
}

fn frag(spec: &mut Spec, v: &str) -> Result<(), String> {
    match unmasked(v) {
        "no" => {}
        "first" => spec.frag_any = true,
        "later" => {
            spec.frag_any = true;
            spec.frag_later = true;
        }
        _ => return Err(format!("bad frag {v}")),
    }
    Ok(())
}

/// The `field=value` pairs of a key body.
fn fields(body: &str) -> Result<Vec<(&str, &str)>, String> {
    split_top(body)?
        .into_iter()
        .map(|f| {
            f.split_once('=')
                .ok_or_else(|| format!("syntax error at {f}"))
        })
        .collect()
}

/// Parses an ODP flow.
pub fn parse_flow(s: &str) -> Result<Spec, String> {
    let mut spec = Spec::default();
    parse_keys(s, &mut spec)?;
    Ok(spec)
}

fn parse_keys(s: &str, spec: &mut Spec) -> Result<(), String> {
    for item in split_top(s)? {
        let (name, body) = key(item)?;
        if METADATA.contains(&name) {
            continue;
        }
        match name {
            "eth" => {
                for (k, v) in fields(body)? {
                    match k {
                        "src" => spec.dl_src = mac(v)?,
                        "dst" => spec.dl_dst = mac(v)?,
                        _ => return Err(format!("eth: unknown field {k}")),
                    }
                }
            }
            "eth_type" => spec.dl_type = Some(int(body)? as u16),
            "vlan" => {
                let tpid = spec.dl_type.take().unwrap_or(0x8100);
                let (mut vid, mut pcp) = (0u16, 0u16);
                for (k, v) in fields(body)? {
                    match k {
                        "vid" => vid = int(v)? as u16 & 0xfff,
                        "pcp" => pcp = int(v)? as u16 & 7,
                        "cfi" | "tpid" => {}
                        _ => return Err(format!("vlan: unknown field {k}")),
                    }
                }
                spec.vlans.push((tpid, vid | (pcp << 13) | VLAN_CFI));
            }
            "encap" => parse_keys(body, spec)?,
            "ipv4" => {
                for (k, v) in fields(body)? {
                    match k {
                        "src" => spec.nw_src = ip4(v)?,
                        "dst" => spec.nw_dst = ip4(v)?,
                        "proto" => spec.nw_proto = int(v)? as u8,
                        "tos" => spec.nw_tos = int(v)? as u8,
                        "ttl" => spec.nw_ttl = int(v)? as u8,
                        "frag" => frag(spec, v)?,
                        _ => return Err(format!("ipv4: unknown field {k}")),
                    }
                }
            }
            "ipv6" => {
                for (k, v) in fields(body)? {
                    match k {
                        "src" => spec.ipv6_src = ip6(v)?,
                        "dst" => spec.ipv6_dst = ip6(v)?,
                        "label" => spec.ipv6_label = int(v)? as u32 & 0xfffff,
                        "proto" => spec.nw_proto = int(v)? as u8,
                        "tclass" => spec.nw_tos = int(v)? as u8,
                        "hlimit" => spec.nw_ttl = int(v)? as u8,
                        "frag" => frag(spec, v)?,
                        _ => return Err(format!("ipv6: unknown field {k}")),
                    }
                }
            }
            "tcp" | "udp" | "sctp" => {
                for (k, v) in fields(body)? {
                    match k {
                        "src" => spec.tp_src = int(v)? as u16,
                        "dst" => spec.tp_dst = int(v)? as u16,
                        _ => return Err(format!("{name}: unknown field {k}")),
                    }
                }
            }
            "tcp_flags" => spec.tcp_flags = tcp_flags(body)?,
            "icmp" | "icmpv6" => {
                for (k, v) in fields(body)? {
                    match k {
                        "type" => spec.tp_src = int(v)? as u16,
                        "code" => spec.tp_dst = int(v)? as u16,
                        _ => return Err(format!("{name}: unknown field {k}")),
                    }
                }
            }
            "arp" => {
                for (k, v) in fields(body)? {
                    match k {
                        "sip" => spec.nw_src = ip4(v)?,
                        "tip" => spec.nw_dst = ip4(v)?,
                        "op" => spec.nw_proto = int(v)? as u8,
                        "sha" => spec.arp_sha = mac(v)?,
                        "tha" => spec.arp_tha = mac(v)?,
                        _ => return Err(format!("arp: unknown field {k}")),
                    }
                }
            }
            "nd" => {
                for (k, v) in fields(body)? {
                    match k {
                        "target" => spec.nd_target = ip6(v)?,
                        "sll" => spec.arp_sha = mac(v)?,
                        "tll" => spec.arp_tha = mac(v)?,
                        _ => return Err(format!("nd: unknown field {k}")),
                    }
                }
            }
            other => {
                return Err(format!(
                    "{other}: flow key not supported by ferrovs's packet composer yet"
                ))
            }
        }
    }
    Ok(())
}

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IGMP: u8 = 2;
const IPPROTO_ICMPV6: u8 = 58;

/// The frame for `spec`: with `len` None, OVS's 64-byte payload where the
/// protocol carries one; with `len`, zero padding up to `len` bytes
/// (lengths and checksums covering it). Error if `len` is too short.
pub fn compose(spec: &Spec, len: Option<usize>) -> Result<Vec<u8>, String> {
    let base = compose_with(spec, None, 0);
    match len {
        None => Ok(compose_with(spec, None, 64)),
        Some(n) if n < base.len() => Err(format!(
            "packet of {} bytes does not fit in --len {n}",
            base.len()
        )),
        Some(n) => Ok(compose_with(spec, Some(n - base.len()), 0)),
    }
}

/// `pad`: zeros added after everything (counted in L3/L4 lengths);
/// `l7_len`: the payload OVS puts where the protocol takes one.
fn compose_with(spec: &Spec, pad: Option<usize>, l7_len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(128);
    p.extend_from_slice(&spec.dl_dst);
    p.extend_from_slice(&spec.dl_src);
    for (tpid, tci) in &spec.vlans {
        p.extend_from_slice(&tpid.to_be_bytes());
        // The CFI bit marks a present tag in a flow; it is not sent.
        p.extend_from_slice(&(tci & !VLAN_CFI).to_be_bytes());
    }
    let Some(dl_type) = spec.dl_type else {
        // 802.2: the type field holds the frame's length.
        let len = (p.len() + 2 + pad.unwrap_or(0)) as u16;
        p.extend_from_slice(&len.to_be_bytes());
        p.resize(p.len() + pad.unwrap_or(0), 0);
        return p;
    };
    p.extend_from_slice(&dl_type.to_be_bytes());
    let l3 = p.len();
    match dl_type {
        ETH_TYPE_IP => {
            p.extend_from_slice(&[0x45, spec.nw_tos, 0, 0, 0, 0]);
            let mut frag_off = 0u16;
            if spec.frag_any {
                frag_off |= 0x2000;
                if spec.frag_later {
                    frag_off |= 100;
                }
            }
            p.extend_from_slice(&frag_off.to_be_bytes());
            p.extend_from_slice(&[spec.nw_ttl, spec.nw_proto, 0, 0]);
            p.extend_from_slice(&spec.nw_src);
            p.extend_from_slice(&spec.nw_dst);
            let l4 = p.len();
            compose_l4(&mut p, spec, l7_len);
            p.resize(p.len() + pad.unwrap_or(0), 0);
            let tot = (p.len() - l3) as u16;
            p[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            let c = checksum(&p[l3..l4]);
            p[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
            let l4_len = p.len() - l4;
            let mut pseudo = sum16(&spec.nw_src, 0);
            pseudo = sum16(&spec.nw_dst, pseudo);
            pseudo += spec.nw_proto as u32 + l4_len as u32;
            l4_csum(&mut p, l4, spec, pseudo, pad.unwrap_or(0));
        }
        ETH_TYPE_IPV6 => {
            let flow = (6u32 << 28) | ((spec.nw_tos as u32) << 20) | spec.ipv6_label;
            p.extend_from_slice(&flow.to_be_bytes());
            p.extend_from_slice(&[0, 0, spec.nw_proto, spec.nw_ttl]);
            p.extend_from_slice(&spec.ipv6_src);
            p.extend_from_slice(&spec.ipv6_dst);
            let l4 = p.len();
            compose_l4(&mut p, spec, l7_len);
            p.resize(p.len() + pad.unwrap_or(0), 0);
            let l4_len = p.len() - l4;
            p[l3 + 4..l3 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            let mut pseudo = sum16(&spec.ipv6_src, 0);
            pseudo = sum16(&spec.ipv6_dst, pseudo);
            pseudo += spec.nw_proto as u32 + l4_len as u32;
            l4_csum(&mut p, l4, spec, pseudo, pad.unwrap_or(0));
        }
        ETH_TYPE_ARP | ETH_TYPE_RARP => {
            p.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, spec.nw_proto]);
            if spec.nw_proto == 1 || spec.nw_proto == 2 {
                p.extend_from_slice(&spec.arp_sha);
                p.extend_from_slice(&spec.nw_src);
                p.extend_from_slice(&spec.arp_tha);
                p.extend_from_slice(&spec.nw_dst);
            } else {
                p.resize(p.len() + 20, 0);
            }
            p.resize(p.len() + pad.unwrap_or(0), 0);
        }
        _ => p.resize(p.len() + pad.unwrap_or(0), 0),
    }
    p
}

fn payload(p: &mut Vec<u8>, n: usize) {
    p.extend((0..n).map(|i| i as u8));
}

fn compose_l4(p: &mut Vec<u8>, spec: &Spec, l7_len: usize) {
    if spec.frag_any && spec.frag_later {
        return;
    }
    match spec.nw_proto {
        IPPROTO_TCP => {
            p.extend_from_slice(&spec.tp_src.to_be_bytes());
            p.extend_from_slice(&spec.tp_dst.to_be_bytes());
            p.extend_from_slice(&[0; 8]);
            let ctl = (5u16 << 12) | (spec.tcp_flags & 0x0fff);
            p.extend_from_slice(&ctl.to_be_bytes());
            p.extend_from_slice(&[0; 6]);
            if spec.tcp_flags & 0x007 == 0 {
                payload(p, l7_len);
            }
        }
        IPPROTO_UDP => {
            p.extend_from_slice(&spec.tp_src.to_be_bytes());
            p.extend_from_slice(&spec.tp_dst.to_be_bytes());
            p.extend_from_slice(&((8 + l7_len) as u16).to_be_bytes());
            p.extend_from_slice(&[0, 0]);
            payload(p, l7_len);
        }
        IPPROTO_SCTP => {
            p.extend_from_slice(&spec.tp_src.to_be_bytes());
            p.extend_from_slice(&spec.tp_dst.to_be_bytes());
            p.extend_from_slice(&[0; 8]);
        }
        IPPROTO_ICMP => {
            let (t, c) = (spec.tp_src as u8, spec.tp_dst as u8);
            p.extend_from_slice(&[t, c, 0, 0, 0, 0, 0, 0]);
            if (t == 8 || t == 0) && c == 0 {
                payload(p, l7_len);
            }
        }
        IPPROTO_IGMP => {
            p.extend_from_slice(&[spec.tp_src as u8, spec.tp_dst as u8, 0, 0, 0, 0, 0, 0]);
        }
        IPPROTO_ICMPV6 => {
            let (t, c) = (spec.tp_src as u8, spec.tp_dst as u8);
            p.extend_from_slice(&[t, c, 0, 0, 0, 0, 0, 0]);
            if c == 0 && (t == 135 || t == 136) {
                p.extend_from_slice(&spec.nd_target);
                if spec.arp_sha != [0; 6] {
                    p.extend_from_slice(&[1, 1]);
                    p.extend_from_slice(&spec.arp_sha);
                }
                if spec.arp_tha != [0; 6] {
                    p.extend_from_slice(&[2, 1]);
                    p.extend_from_slice(&spec.arp_tha);
                }
            } else if c == 0 && (t == 128 || t == 129) {
                payload(p, l7_len);
            }
        }
        _ => {}
    }
}

/// Fills the L4 checksum (and, padded, the UDP length) as OVS does.
fn l4_csum(p: &mut [u8], l4: usize, spec: &Spec, pseudo: u32, pad: usize) {
    if spec.frag_any && spec.frag_later {
        return;
    }
    let put = |p: &mut [u8], at: usize, v: u16| p[at..at + 2].copy_from_slice(&v.to_be_bytes());
    match spec.nw_proto {
        IPPROTO_TCP => {
            put(p, l4 + 16, 0);
            put(p, l4 + 16, !fold(sum16(&p[l4..], pseudo)));
        }
        IPPROTO_UDP => {
            if pad > 0 {
                // OVS's packet_expand counts the padding twice in the UDP
                // length (the L4 length already includes it); kept, so that
                // the same command gives the same bytes on both switches.
                let len = (p.len() - l4 + pad) as u16;
                put(p, l4 + 4, len);
            }
            put(p, l4 + 6, 0);
            let c = !fold(sum16(&p[l4..], pseudo));
            put(p, l4 + 6, if c == 0 { 0xffff } else { c });
        }
        IPPROTO_ICMP | IPPROTO_IGMP => {
            put(p, l4 + 2, 0);
            put(p, l4 + 2, checksum(&p[l4..]));
        }
        IPPROTO_ICMPV6 => {
            put(p, l4 + 2, 0);
            put(p, l4 + 2, !fold(sum16(&p[l4..], pseudo)));
        }
        _ => {}
    }
}

/// The packets of `netdev-dummy/receive`'s arguments after the device
/// name: `[--qid N] PACKET|FLOW [--len N]...`. Returns the receive queue
/// and the frames.
pub fn parse_receive(args: &[String], n_rxq: usize) -> Result<(usize, Vec<Vec<u8>>), String> {
    let mut i = 0;
    let mut qid = 0;
    if args.len() > 1 && args[0] == "--qid" {
        qid = args[1]
            .parse::<usize>()
            .map_err(|_| "bad rx queue id.".to_string())?;
        if qid >= n_rxq {
            return Err("bad rx queue id.".into());
        }
        i = 2;
    }
    let mut out = Vec::new();
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if let Some(r) = from_hex(a) {
            out.push(r?);
            continue;
        }
        let mut len = None;
        if args.get(i).map(String::as_str) == Some("--len") {
            let n: usize = args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| "too small packet len".to_string())?;
            if n < 60 {
                return Err("too small packet len".into());
            }
            if n > MAX_LEN {
                return Err(format!("packet len over {MAX_LEN}"));
            }
            len = Some(n);
            i += 2;
        }
        out.push(compose(&parse_flow(a)?, len)?);
    }
    if out.is_empty() {
        return Err("no packet given".into());
    }
    Ok((qid, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_packets() {
        let p = from_hex("50540000000a 50540000 0009 0800")
            .unwrap()
            .unwrap();
        assert_eq!(p.len(), 14);
        assert!(from_hex("0102").unwrap().is_err());
        assert!(from_hex("505400000000a").unwrap().is_err());
        assert!(from_hex("in_port(1)").is_none());
    }

    #[test]
    fn icmp_echo() {
        let f = parse_flow(
            "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
             ipv4(src=198.18.0.1,dst=198.18.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)",
        )
        .unwrap();
        let p = compose(&f, None).unwrap();
        // 14 + 20 + 8 + 64.
        assert_eq!(p.len(), 106);
        assert_eq!(&p[12..14], &[8, 0]);
        assert_eq!(u16::from_be_bytes([p[16], p[17]]), 92);
        assert_eq!(checksum(&p[14..34]), 0, "IPv4 header checksum");
        assert_eq!(checksum(&p[34..]), 0, "ICMP checksum");
        assert_eq!(p[42..], (0..64u8).collect::<Vec<_>>()[..]);
        let padded = compose(&f, Some(200)).unwrap();
        assert_eq!(padded.len(), 200);
        assert_eq!(checksum(&padded[34..]), 0);
    }

    #[test]
    fn vlan_tcp_udp_ipv6() {
        let f = parse_flow(
            "eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x8100),vlan(vid=10,pcp=3),\
             encap(eth_type(0x0800),ipv4(src=198.18.0.1,dst=198.18.0.2,proto=6,ttl=64),tcp(src=80,dst=1234),tcp_flags(syn))",
        )
        .unwrap();
        let p = compose(&f, None).unwrap();
        assert_eq!(&p[12..18], &[0x81, 0x00, 0x60, 0x0a, 0x08, 0x00]);
        // SYN: no payload.
        assert_eq!(p.len(), 18 + 20 + 20);
        assert_eq!(p[18 + 20 + 13], 0x02);
        let f = parse_flow(
            "eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,proto=17,hlimit=64),udp(src=1,dst=2)",
        )
        .unwrap();
        let p = compose(&f, None).unwrap();
        assert_eq!(p.len(), 14 + 40 + 8 + 64);
        assert_eq!(u16::from_be_bytes([p[18], p[19]]), 72);
        assert!(parse_flow("eth_type(0x0800),ipv4(src=1.2.3)").is_err());
        assert!(parse_flow("tunnel(tun_id=1)")
            .unwrap_err()
            .contains("not supported"));
        assert!(parse_receive(&["in_port(1)".into(), "--len".into(), "10".into()], 1).is_err());
        assert_eq!(
            parse_receive(&["--qid".into(), "1".into(), "00".into()], 1),
            Err("bad rx queue id.".into())
        );
    }
}
