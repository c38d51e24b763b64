//! A megaflow's key and mask in OVS's datapath (ODP) flow syntax, as
//! `ovs-appctl dpctl/dump-flows` prints them: `recirc_id(0),in_port(1),
//! packet_type(ns=0,id=0),eth(src=..,dst=..),eth_type(0x0800),
//! ipv4(src=..,dst=..,proto=..,frag=no),tcp(dst=80)`.
//!
//! Attributes come in OVS's order (metadata, tunnel, conntrack, recirc_id,
//! dp_hash, in_port, packet_type, Ethernet, VLAN with its `encap(...)`,
//! L3, L4). Which attributes exist follows the key (an `ipv4(...)` only
//! for an IPv4 `eth_type`); in the short form an attribute or field whose
//! mask is all zeros is left out, an exact one prints its value alone and
//! a partial one `value/mask`. The verbose form (`-m`) prints every
//! attribute and field, with `/mask` wherever the mask is not exact.
//!
//! The key given is the megaflow's stored (masked) key, so a wildcarded
//! field prints as 0 in the verbose form where OVS prints the value of the
//! packet that made the flow.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::key::Flow;
use super::layout::{self as l, Field};
use crate::tunnel::pop::{TNL_F_CSUM, TNL_F_DONT_FRAGMENT, TNL_F_KEY, TNL_F_OAM};

/// Options of [`format_odp_flow`].
pub struct OdpFormat<'a> {
    /// `-m`: every field, with masks.
    pub verbose: bool,
    /// Datapath port number to name (`in_port(p1)` in the verbose form);
    /// None prints the number.
    pub port_name: Option<&'a dyn Fn(u32) -> Option<String>>,
}

struct Out<'a> {
    key: &'a Flow,
    mask: &'a Flow,
    verbose: bool,
    s: String,
}

fn ones(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl Out<'_> {
    fn kv(&self, f: Field) -> (u64, u64) {
        (self.key.get(f), self.mask.get(f))
    }

    /// Whether field `f` is printed at all.
    fn shown(&self, f: Field) -> bool {
        self.verbose || self.mask.get(f) != 0
    }

    /// `name=V` (decimal) or `name=V/0xM`, inside an attribute.
    fn dec(&self, parts: &mut Vec<String>, name: &str, f: Field) {
        if !self.shown(f) {
            return;
        }
        let (v, m) = self.kv(f);
        let mut p = format!("{name}={v}");
        if m != ones(f.bits as u32) {
            p.push_str(&hex_mask(m));
        }
        parts.push(p);
    }

    /// Hex value and mask: `name=0x5/0xff`.
    fn hex(&self, parts: &mut Vec<String>, name: &str, f: Field) {
        if !self.shown(f) {
            return;
        }
        let (v, m) = self.kv(f);
        let mut p = format!("{name}={}", hex(v));
        if m != ones(f.bits as u32) {
            p.push_str(&hex_mask(m));
        }
        parts.push(p);
    }

    fn mac(&self, parts: &mut Vec<String>, name: &str, f: Field) {
        if !self.shown(f) {
            return;
        }
        let (v, m) = self.kv(f);
        let mut p = format!("{name}={}", mac(v));
        if m != ones(48) {
            let _ = write!(p, "/{}", mac(m));
        }
        parts.push(p);
    }

    fn ip4(&self, parts: &mut Vec<String>, name: &str, f: Field) {
        if !self.shown(f) {
            return;
        }
        let (v, m) = self.kv(f);
        let mut p = format!("{name}={}", Ipv4Addr::from(v as u32));
        if m != ones(32) {
            let _ = write!(p, "/{}", Ipv4Addr::from(m as u32));
        }
        parts.push(p);
    }

    fn ip6(&self, parts: &mut Vec<String>, name: &str, hi: Field, lo: Field) {
        let (vh, mh) = self.kv(hi);
        let (vl, ml) = self.kv(lo);
        if !self.verbose && mh == 0 && ml == 0 {
            return;
        }
        let v = Ipv6Addr::from(((vh as u128) << 64) | vl as u128);
        let mut p = format!("{name}={v}");
        if mh != u64::MAX || ml != u64::MAX {
            let m = Ipv6Addr::from(((mh as u128) << 64) | ml as u128);
            let _ = write!(p, "/{m}");
        }
        parts.push(p);
    }

    /// `frag=no|first|later`, from the flow's fragment bits (any: 1,
    /// later: 2).
    fn frag(&self, parts: &mut Vec<String>) {
        if !self.shown(l::NW_FRAG) {
            return;
        }
        let (v, m) = self.kv(l::NW_FRAG);
        let name = match v & 3 {
            0 => "no",
            1 => "first",
            _ => "later",
        };
        let mut p = format!("frag={name}");
        if m & 3 != 3 {
            // ODP's fragment type mask: the bits the flow mask keeps.
            let odp = (if m & 1 != 0 { 1 } else { 0 }) | (if m & 2 != 0 { 2 } else { 0 });
            p.push_str(&hex_mask(odp));
        }
        parts.push(p);
    }

    fn attr(&mut self, name: &str, parts: Vec<String>) {
        if parts.is_empty() && !self.verbose {
            return;
        }
        self.sep();
        let _ = write!(self.s, "{name}({})", parts.join(","));
    }

    fn sep(&mut self) {
        if !self.s.is_empty() && !self.s.ends_with('(') {
            self.s.push(',');
        }
    }

    /// A single-value attribute: `name(V)` or `name(V/M)`.
    fn single(&mut self, name: &str, f: Field, hexv: bool) {
        if !self.shown(f) {
            return;
        }
        let (v, m) = self.kv(f);
        let mut p = if hexv { hex(v) } else { v.to_string() };
        if m != ones(f.bits as u32) {
            p.push_str(&hex_mask(m));
        }
        self.sep();
        let _ = write!(self.s, "{name}({p})");
    }
}

fn hex(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn hex_mask(m: u64) -> String {
    format!("/{}", hex(m))
}

fn mac(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

const CT_FLAGS: [&str; 8] = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"];

/// `+trk-inv...` for each flag the mask examines (in bit order), or
/// `V/M` in hex when nothing is examined (verbose form).
fn ct_state(v: u64, m: u64) -> String {
    if m == 0 {
        return "0/0".to_string();
    }
    let mut s = String::new();
    for (i, n) in CT_FLAGS.iter().enumerate() {
        if m & (1 << i) != 0 {
            s.push(if v & (1 << i) != 0 { '+' } else { '-' });
            s.push_str(n);
        }
    }
    s
}

const ETH_IPV4: u64 = 0x0800;
const ETH_IPV6: u64 = 0x86dd;
const ETH_ARP: u64 = 0x0806;
const ETH_RARP: u64 = 0x8035;

/// The megaflow (`key`, `mask`) in ODP syntax.
pub fn format_odp_flow(key: &Flow, mask: &Flow, opt: &OdpFormat<'_>) -> String {
    let mut o = Out {
        key,
        mask,
        verbose: opt.verbose,
        s: String::new(),
    };
    o.single("skb_priority", l::SKB_PRIORITY, true);
    tunnel(&mut o);
    o.single("skb_mark", l::PKT_MARK, true);
    if o.shown(l::CT_STATE) {
        let (v, m) = o.kv(l::CT_STATE);
        let t = ct_state(v, m);
        o.sep();
        let _ = write!(o.s, "ct_state({t})");
    }
    o.single("ct_zone", l::CT_ZONE, true);
    o.single("ct_mark", l::CT_MARK, true);
    let (lh, mlh) = o.kv(l::CT_LABEL_HI);
    let (ll, mll) = o.kv(l::CT_LABEL_LO);
    if o.verbose || mlh != 0 || mll != 0 {
        let v = ((lh as u128) << 64) | ll as u128;
        let m = ((mlh as u128) << 64) | mll as u128;
        let hx = |x: u128| {
            if x == 0 {
                "0".to_string()
            } else {
                format!("{x:#x}")
            }
        };
        let mut p = hx(v);
        if m != u128::MAX {
            let _ = write!(p, "/{}", hx(m));
        }
        o.sep();
        let _ = write!(o.s, "ct_label({p})");
    }
    // recirc_id is always exact in a megaflow.
    let (rid, _) = o.kv(l::RECIRC_ID);
    o.sep();
    let _ = write!(o.s, "recirc_id({})", hex(rid));
    o.single("dp_hash", l::DP_HASH, true);
    let (port, _) = o.kv(l::IN_PORT);
    let name = opt.port_name.and_then(|f| f(port as u32));
    o.sep();
    match name {
        Some(n) => {
            let _ = write!(o.s, "in_port({n})");
        }
        None => {
            let _ = write!(o.s, "in_port({port})");
        }
    }
    o.sep();
    let (ns, _) = o.kv(l::PACKET_TYPE_NS);
    if ns != 0 {
        // An L3 packet: its type, then straight to L3 (no eth, no VLAN).
        let (t, _) = o.kv(l::DL_TYPE);
        let _ = write!(o.s, "packet_type(ns={ns},id={t:#x})");
        l3(&mut o);
        return o.s;
    }
    o.s.push_str("packet_type(ns=0,id=0)");
    let mut p = Vec::new();
    o.mac(&mut p, "src", l::DL_SRC);
    o.mac(&mut p, "dst", l::DL_DST);
    o.attr("eth", p);
    let (tci, tci_m) = o.kv(l::VLAN0_TCI);
    if tci & l::VLAN_PRESENT as u64 != 0 {
        let (tpid, _) = o.kv(l::VLAN0_TPID);
        o.sep();
        let _ = write!(
            o.s,
            "eth_type({:#06x})",
            if tpid == 0 { 0x8100 } else { tpid }
        );
        let mut p = Vec::new();
        let vid_m = tci_m & 0xfff;
        if o.verbose || tci & 0xfff != 0 || vid_m != 0 {
            let mut s = format!("vid={}", tci & 0xfff);
            if vid_m != 0xfff {
                s.push_str(&hex_mask(vid_m));
            }
            p.push(s);
        }
        let pcp_m = (tci_m >> 13) & 7;
        if o.verbose || (tci >> 13) & 7 != 0 || pcp_m != 0 {
            let mut s = format!("pcp={}", (tci >> 13) & 7);
            if pcp_m != 7 {
                s.push_str(&hex_mask(pcp_m));
            }
            p.push(s);
        }
        o.attr("vlan", p);
        o.sep();
        o.s.push_str("encap(");
        l3(&mut o);
        o.s.push(')');
    } else {
        l3(&mut o);
    }
    o.s
}

fn tunnel(o: &mut Out<'_>) {
    let fields = [
        l::TUN_ID,
        l::TUN_SRC,
        l::TUN_DST,
        l::TUN_IPV6_SRC_HI,
        l::TUN_IPV6_SRC_LO,
        l::TUN_IPV6_DST_HI,
        l::TUN_IPV6_DST_LO,
        l::TUN_TOS,
        l::TUN_TTL,
        l::TUN_TP_SRC,
        l::TUN_TP_DST,
        l::TUN_FLAGS,
    ];
    // OVS prints no tunnel attribute for a flow that came from no tunnel.
    if !fields
        .iter()
        .any(|f| o.mask.get(*f) != 0 && o.key.get(*f) != 0)
    {
        return;
    }
    let mut p = Vec::new();
    let v = o.verbose;
    o.verbose = false;
    // As OVS's datapath key, an attribute exists only where the key has a
    // value (the TTL always): an IPv4 tunnel has no ipv6_src=::.
    let has = |f: Field| o.key.get(f) != 0;
    let key = has(l::TUN_ID) || o.key.get(l::TUN_FLAGS) as u16 & TNL_F_KEY != 0;
    if key {
        o.hex(&mut p, "tun_id", l::TUN_ID);
    }
    if has(l::TUN_SRC) {
        o.ip4(&mut p, "src", l::TUN_SRC);
    }
    if has(l::TUN_DST) {
        o.ip4(&mut p, "dst", l::TUN_DST);
    }
    if has(l::TUN_IPV6_SRC_HI) || has(l::TUN_IPV6_SRC_LO) {
        o.ip6(&mut p, "ipv6_src", l::TUN_IPV6_SRC_HI, l::TUN_IPV6_SRC_LO);
    }
    if has(l::TUN_IPV6_DST_HI) || has(l::TUN_IPV6_DST_LO) {
        o.ip6(&mut p, "ipv6_dst", l::TUN_IPV6_DST_HI, l::TUN_IPV6_DST_LO);
    }
    if has(l::TUN_TOS) {
        o.hex(&mut p, "tos", l::TUN_TOS);
    }
    o.dec(&mut p, "ttl", l::TUN_TTL);
    if has(l::TUN_TP_SRC) {
        o.dec(&mut p, "tp_src", l::TUN_TP_SRC);
    }
    if has(l::TUN_TP_DST) {
        o.dec(&mut p, "tp_dst", l::TUN_TP_DST);
    }
    if o.key.get(l::TUN_GNV_LEN) != 0 {
        p.push(format!("geneve({})", geneve(o.key, o.mask, v)));
    }
    // Flags: the key flag goes with the tun_id attribute (its mask
    // always present), the others with their own.
    let others = TNL_F_OAM | TNL_F_DONT_FRAGMENT | TNL_F_CSUM;
    let mut kf = o.key.get(l::TUN_FLAGS) as u16 & others;
    let mut mf = o.mask.get(l::TUN_FLAGS) as u16 & others;
    if key {
        kf |= TNL_F_KEY;
        mf |= TNL_F_KEY;
    }
    if mf != 0 || v {
        p.push(format!("flags({})", tun_flags(kf, mf)));
    }
    o.verbose = v;
    o.attr("tunnel", p);
}

/// The tunnel flags' names, in the order OVS prints them.
const TNL_FLAG_NAMES: [(u16, &str); 4] = [
    (TNL_F_OAM, "oam"),
    (TNL_F_DONT_FRAGMENT, "df"),
    (TNL_F_CSUM, "csum"),
    (TNL_F_KEY, "key"),
];

/// Tunnel flags under their mask: `df|key` when all are examined,
/// `-df+key` for some, as OVS's `format_flags_masked`.
fn tun_flags(k: u16, m: u16) -> String {
    if m == 0xf {
        let v: Vec<&str> = TNL_FLAG_NAMES
            .iter()
            .filter(|(b, _)| k & b != 0)
            .map(|(_, n)| *n)
            .collect();
        return if v.is_empty() {
            "0".into()
        } else {
            v.join("|")
        };
    }
    if m == 0 {
        return "0/0".into();
    }
    TNL_FLAG_NAMES
        .iter()
        .filter(|(b, _)| m & b != 0)
        .map(|(b, n)| format!("{}{n}", if k & b != 0 { '+' } else { '-' }))
        .collect()
}

/// The raw Geneve options under their mask, as OVS prints them: per
/// option `{class=..,type=..,len=..,DATA/MASK}`, a part whose mask is
/// zero left out (but in the verbose form), `/MASK` only where the mask is
/// not exact, the length's mask exact when its five bits are.
fn geneve(key: &Flow, mask: &Flow, verbose: bool) -> String {
    let mut k = [0u8; l::TUN_GNV_OPT_BYTES];
    let mut m = [0u8; l::TUN_GNV_OPT_BYTES];
    let n = key.geneve_opts(&mut k);
    for (i, b) in m[..n].iter_mut().enumerate() {
        *b = mask.geneve_byte(i);
    }
    let mut s = String::new();
    let mut at = 0;
    while at < n {
        if n - at < 4 {
            let _ = write!(s, "opt len {} less than minimum 4", n - at);
            break;
        }
        let dl = (k[at + 3] & 0x1f) as usize * 4;
        if at + 4 + dl > n {
            let _ = write!(s, "opt len {} greater than remaining {}", 4 + dl, n - at);
            break;
        }
        let mut parts = Vec::new();
        let class = u16::from_be_bytes([k[at], k[at + 1]]) as u64;
        let class_m = u16::from_be_bytes([m[at], m[at + 1]]) as u64;
        field(&mut parts, "class", hex(class), class_m, 0xffff, verbose);
        field(
            &mut parts,
            "type",
            hex(k[at + 2] as u64),
            m[at + 2] as u64,
            0xff,
            verbose,
        );
        let len_m = match m[at + 3] & 0x1f {
            0x1f => 0xff,
            x => x as u64,
        };
        field(&mut parts, "len", dl.to_string(), len_m, 0xff, verbose);
        let (d, dm) = (&k[at + 4..at + 4 + dl], &m[at + 4..at + 4 + dl]);
        if dl > 0 && (verbose || dm.iter().any(|b| *b != 0)) {
            let mut p = odp_hex(d);
            if dm.iter().any(|b| *b != 0xff) {
                let _ = write!(p, "/{}", odp_hex(dm));
            }
            parts.push(p);
        }
        let _ = write!(s, "{{{}}}", parts.join(","));
        at += 4 + dl;
    }
    s
}

/// `name=V` or `name=V/0xM`, left out when the mask is zero unless
/// verbose.
fn field(parts: &mut Vec<String>, name: &str, v: String, m: u64, all: u64, verbose: bool) {
    if m == 0 && !verbose {
        return;
    }
    let mut p = format!("{name}={v}");
    if m != all {
        p.push_str(&hex_mask(m));
    }
    parts.push(p);
}

/// Bytes as one hex number without leading zeros (OVS's `ds_put_hex`).
fn odp_hex(b: &[u8]) -> String {
    match b.iter().position(|x| *x != 0) {
        None => "0".to_string(),
        Some(i) => {
            let mut s = format!("{:#x}", b[i]);
            for x in &b[i + 1..] {
                let _ = write!(s, "{x:02x}");
            }
            s
        }
    }
}

fn l3(o: &mut Out<'_>) {
    if o.shown(l::DL_TYPE) {
        let (t, m) = o.kv(l::DL_TYPE);
        o.sep();
        if m == 0xffff {
            let _ = write!(o.s, "eth_type({t:#06x})");
        } else {
            let _ = write!(o.s, "eth_type({t:#06x}/{m:#x})");
        }
    }
    let (t, _) = o.kv(l::DL_TYPE);
    let (proto, _) = o.kv(l::NW_PROTO);
    match t {
        ETH_IPV4 => {
            let mut p = Vec::new();
            o.ip4(&mut p, "src", l::NW_SRC);
            o.ip4(&mut p, "dst", l::NW_DST);
            o.dec(&mut p, "proto", l::NW_PROTO);
            o.hex(&mut p, "tos", l::NW_TOS);
            o.dec(&mut p, "ttl", l::NW_TTL);
            o.frag(&mut p);
            o.attr("ipv4", p);
            l4(o, proto, false);
        }
        ETH_IPV6 => {
            let mut p = Vec::new();
            o.ip6(&mut p, "src", l::IPV6_SRC_HI, l::IPV6_SRC_LO);
            o.ip6(&mut p, "dst", l::IPV6_DST_HI, l::IPV6_DST_LO);
            o.hex(&mut p, "label", l::IPV6_LABEL);
            o.dec(&mut p, "proto", l::NW_PROTO);
            o.hex(&mut p, "tclass", l::NW_TOS);
            o.dec(&mut p, "hlimit", l::NW_TTL);
            o.frag(&mut p);
            o.attr("ipv6", p);
            l4(o, proto, true);
        }
        ETH_ARP | ETH_RARP => {
            let mut p = Vec::new();
            o.ip4(&mut p, "sip", l::NW_SRC);
            o.ip4(&mut p, "tip", l::NW_DST);
            o.dec(&mut p, "op", l::NW_PROTO);
            o.mac(&mut p, "sha", l::ARP_SHA);
            o.mac(&mut p, "tha", l::ARP_THA);
            o.attr("arp", p);
        }
        0x8847 | 0x8848 if o.shown(l::MPLS_LSE) => {
            let (v, m) = o.kv(l::MPLS_LSE);
            let mut p = vec![
                format!("label={}", (v >> 12) & 0xfffff),
                format!("tc={}", (v >> 9) & 7),
                format!("ttl={}", v & 0xff),
                format!("bos={}", (v >> 8) & 1),
            ];
            if m != 0xffff_ffff {
                p = vec![format!("lse={}{}", hex(v), hex_mask(m))];
            }
            o.attr("mpls", p);
        }
        _ => {}
    }
}

fn l4(o: &mut Out<'_>, proto: u64, v6: bool) {
    let (frag, _) = o.kv(l::NW_FRAG);
    if frag & 2 != 0 {
        return;
    }
    let name = match (proto, v6) {
        (6, _) => "tcp",
        (17, _) => "udp",
        (132, _) => "sctp",
        (1, false) => "icmp",
        (58, true) => "icmpv6",
        _ => return,
    };
    let mut p = Vec::new();
    if name.starts_with("icmp") {
        o.dec(&mut p, "type", l::TP_SRC);
        o.dec(&mut p, "code", l::TP_DST);
    } else {
        o.dec(&mut p, "src", l::TP_SRC);
        o.dec(&mut p, "dst", l::TP_DST);
    }
    o.attr(name, p);
    if proto == 6 && o.mask.get(l::TCP_FLAGS) != 0 {
        let (v, m) = o.kv(l::TCP_FLAGS);
        o.sep();
        let _ = write!(o.s, "tcp_flags({}{})", hex(v), hex_mask(m));
    }
    if name == "icmpv6" {
        let (ty, _) = o.kv(l::TP_SRC);
        if ty == 135 || ty == 136 {
            let mut p = Vec::new();
            o.ip6(&mut p, "target", l::ND_TARGET_HI, l::ND_TARGET_LO);
            o.mac(&mut p, "sll", l::ARP_SHA);
            o.mac(&mut p, "tll", l::ARP_THA);
            o.attr("nd", p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dpctl/dump-flows` without `-m`: port numbers, unmasked fields left out.
    fn short_form(k: &Flow, m: &Flow) -> String {
        format_odp_flow(
            k,
            m,
            &OdpFormat {
                verbose: false,
                port_name: None,
            },
        )
    }

    fn ipv4_tcp() -> (Flow, Flow) {
        let mut k = Flow::default();
        let mut m = Flow::default();
        k.set(l::IN_PORT, 2);
        m.set_all(l::IN_PORT);
        m.set_all(l::RECIRC_ID);
        k.set(l::DL_SRC, 0x5054_0000_0001);
        k.set(l::DL_DST, 0x5054_0000_0002);
        m.set_all(l::DL_SRC);
        m.set_all(l::DL_DST);
        k.set(l::DL_TYPE, 0x0800);
        m.set_all(l::DL_TYPE);
        k.set(l::NW_DST, 0x8000_0000);
        m.set(l::NW_DST, 0x8000_0000);
        k.set(l::NW_PROTO, 6);
        m.set_all(l::NW_PROTO);
        m.set(l::NW_FRAG, 3);
        k.set(l::TP_DST, 80);
        m.set_all(l::TP_DST);
        (k, m)
    }

    /// An L3 packet's key as OVS prints it (tests/packet-type-aware.at):
    /// its packet type, no `eth(...)`.
    #[test]
    fn l3_packet_as_ovs() {
        let mut k = Flow::default();
        let mut m = Flow::default();
        k.set(l::IN_PORT, 3);
        m.set_all(l::IN_PORT);
        m.set_all(l::RECIRC_ID);
        k.set(l::PACKET_TYPE_NS, 1);
        m.set_all(l::PACKET_TYPE_NS);
        k.set(l::DL_TYPE, 0x0800);
        m.set_all(l::DL_TYPE);
        k.set(l::NW_DST, 0xc0a8_0a0a);
        m.set_all(l::NW_DST);
        m.set(l::NW_FRAG, 3);
        assert_eq!(
            short_form(&k, &m),
            "recirc_id(0),in_port(3),packet_type(ns=1,id=0x800),eth_type(0x0800),\
             ipv4(dst=192.168.10.10,frag=no)"
        );
    }

    #[test]
    fn short_form_as_ovs() {
        let (k, m) = ipv4_tcp();
        let s = short_form(&k, &m);
        assert_eq!(
            s,
            "recirc_id(0),in_port(2),packet_type(ns=0,id=0),\
             eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
             ipv4(dst=128.0.0.0/128.0.0.0,proto=6,frag=no),tcp(dst=80)"
        );
    }

    #[test]
    fn verbose_form_as_ovs() {
        let (k, m) = ipv4_tcp();
        let name = |p: u32| Some(format!("p{p}"));
        let s = format_odp_flow(
            &k,
            &m,
            &OdpFormat {
                verbose: true,
                port_name: Some(&name),
            },
        );
        assert_eq!(
            s,
            "skb_priority(0/0),skb_mark(0/0),ct_state(0/0),ct_zone(0/0),ct_mark(0/0),\
             ct_label(0/0),recirc_id(0),dp_hash(0/0),in_port(p2),packet_type(ns=0,id=0),\
             eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
             ipv4(src=0.0.0.0/0.0.0.0,dst=128.0.0.0/128.0.0.0,proto=6,tos=0/0,ttl=0/0,frag=no),\
             tcp(src=0/0,dst=80)"
        );
    }

    #[test]
    fn vlan_encap_and_ct_state() {
        let mut k = Flow::default();
        let mut m = Flow::default();
        m.set_all(l::IN_PORT);
        k.set(l::CT_STATE, 0x22);
        m.set(l::CT_STATE, 0x23);
        k.set(l::VLAN0_TCI, 0x1000 | 10);
        m.set(l::VLAN0_TCI, 0x1fff);
        k.set(l::DL_TYPE, 0x86dd);
        m.set_all(l::DL_TYPE);
        m.set(l::NW_FRAG, 3);
        let s = short_form(&k, &m);
        assert_eq!(
            s,
            "ct_state(-new+est+trk),recirc_id(0),in_port(0),packet_type(ns=0,id=0),\
             eth_type(0x8100),vlan(vid=10),encap(eth_type(0x86dd),ipv6(frag=no))"
        );
    }

    #[test]
    fn geneve_options_as_ovs() {
        // tunnel-push-pop.at's Geneve flow: tun_metadata0 (class 0xffff,
        // type 0x80) matched on 0xa/0xf, a second option unmapped.
        let mut k = Flow::default();
        let mut m = Flow::default();
        k.set(l::IN_PORT, 6081);
        m.set_all(l::IN_PORT);
        m.set_all(l::RECIRC_ID);
        k.set(l::TUN_ID, 0x7b);
        m.set_all(l::TUN_ID);
        k.set(l::TUN_SRC, 0x0101_025c);
        k.set(l::TUN_DST, 0x0101_0258);
        m.set_all(l::TUN_SRC);
        m.set_all(l::TUN_DST);
        let opts = [
            0xff, 0xff, 0x80, 0x01, 0, 0, 0, 0x0a, 0xff, 0xff, 0x00, 0x01, 0, 0, 0, 0x0b,
        ];
        let mo = [
            0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0x0f, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0,
        ];
        k.set(l::TUN_GNV_LEN, 16);
        m.set_all(l::TUN_GNV_LEN);
        for i in 0..16 {
            k.set_geneve_byte(i, opts[i]);
            m.set_geneve_byte(i, mo[i]);
        }
        k.set(l::DL_TYPE, 0x0800);
        m.set_all(l::DL_TYPE);
        m.set(l::NW_FRAG, 3);
        let s = short_form(&k, &m);
        assert_eq!(
            s,
            "tunnel(tun_id=0x7b,src=1.1.2.92,dst=1.1.2.88,\
             geneve({class=0xffff,type=0x80,len=4,0xa/0xf}{class=0xffff,type=0,len=4}),flags(+key)),\
             recirc_id(0),in_port(6081),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no)"
        );
    }
}
