//! Datapath actions in OVS's text form (`format_odp_actions`), as the
//! `Datapath actions:` line of `ofproto/trace` and `dpctl/dump-flows`
//! print them: `drop` for none, ports by number, `set(eth(...))` with only
//! the fields whose mask is not zero (`/mask` when partly masked),
//! `push_vlan(vid=V,pcp=P)`, `pop_vlan`.

use std::fmt::Write;

use ferrovs_datapath::actions::{DpAction, Masked, SetField};

/// Formats `acts`; `port` names a datapath port (OVS prints numbers).
pub fn format_dp_actions(acts: &[DpAction], port: &dyn Fn(u32) -> String) -> String {
    if acts.is_empty() {
        return "drop".to_string();
    }
    let v: Vec<String> = acts.iter().map(|a| format_one(a, port)).collect();
    v.join(",")
}

fn mac(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

fn ip4(v: u32) -> String {
    std::net::Ipv4Addr::from(v).to_string()
}

fn ip6(v: u128) -> String {
    std::net::Ipv6Addr::from(v).to_string()
}

/// `name=value[/mask]`, nothing when the mask is zero.
fn put<T: Copy + PartialEq + Default>(
    out: &mut Vec<String>,
    name: &str,
    m: Masked<T>,
    full: T,
    f: impl Fn(T) -> String,
) {
    if m.mask == T::default() {
        return;
    }
    if m.mask == full {
        out.push(format!("{name}={}", f(m.value)));
    } else {
        out.push(format!("{name}={}/{}", f(m.value), f(m.mask)));
    }
}

fn format_one(a: &DpAction, port: &dyn Fn(u32) -> String) -> String {
    match a {
        DpAction::Output(p) => port(*p),
        DpAction::PopVlan => "pop_vlan".to_string(),
        DpAction::PopEth => "pop_eth".to_string(),
        DpAction::PushEth { src, dst } => {
            let m = |a: &[u8; 6]| {
                a.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            format!("push_eth(src={},dst={})", m(src), m(dst))
        }
        DpAction::PushVlan { tpid, tci } => {
            let mut s = String::from("push_vlan(");
            if *tpid != 0x8100 {
                let _ = write!(s, "tpid={tpid:#x},");
            }
            let _ = write!(s, "vid={},pcp={}", tci & 0xfff, tci >> 13);
            if tci & 0x1000 != 0 {
                s.push_str(",cfi=1");
            }
            s.push(')');
            s
        }
        DpAction::PushMpls { ethertype, lse } => {
            format!(
                "push_mpls({},eth_type={ethertype:#x})",
                super::mpls::lse_text(*lse)
            )
        }
        DpAction::PopMpls(t) => format!("pop_mpls(eth_type={t:#x})"),
        DpAction::Set(sf) => format!("set({})", format_set(sf)),
        DpAction::Recirc(id) => format!("recirc({id:#x})"),
        DpAction::Userspace { userdata } => super::controller::userspace_text(userdata),
        DpAction::Clone(inner) => format!("clone({})", format_dp_actions(inner, port)),
        DpAction::Hash { alg, basis } => match alg {
            ferrovs_datapath::actions::HashAlg::L4 => format!("hash(l4({basis}))"),
            ferrovs_datapath::actions::HashAlg::SymL4 => format!("hash(sym_l4({basis}))"),
        },
        DpAction::Meter(m) => format!("meter({m})"),
        DpAction::Ct(a) => a.to_string(),
        DpAction::CtClear => "ct_clear".into(),
        DpAction::CheckPktLen { max_len, gt, le } => format!(
            "check_pkt_len(size={max_len},gt({}),le({}))",
            format_dp_actions(gt, port),
            format_dp_actions(le, port)
        ),
        DpAction::TunnelPush(t) => format!(
            "tnl_push(tnl_port({}),{},out_port({}))",
            port(t.tnl_port),
            ferrovs_datapath::tunnel::fmt::HeaderDisplay(t.header(), t.tnl_type),
            port(t.out_port)
        ),
        DpAction::TunnelPop(p) => format!("tnl_pop({})", port(p.port)),
        other => format!("{other:?}"),
    }
}

/// C's `%#x`: `0` for zero, `0x..` otherwise.
fn c_hex<T: std::fmt::LowerHex + Default + PartialEq>(v: T) -> String {
    if v == T::default() {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn format_set(sf: &SetField) -> String {
    let mut f = Vec::new();
    let name = match sf {
        SetField::Ethernet { src, dst } => {
            put(&mut f, "src", *src, 0xffff_ffff_ffff, mac);
            put(&mut f, "dst", *dst, 0xffff_ffff_ffff, mac);
            "eth"
        }
        SetField::Ipv4 { src, dst, tos, ttl } => {
            put(&mut f, "src", *src, !0, ip4);
            put(&mut f, "dst", *dst, !0, ip4);
            put(&mut f, "tos", *tos, !0, c_hex);
            put(&mut f, "ttl", *ttl, !0, |v| v.to_string());
            "ipv4"
        }
        SetField::Ipv6(v) => {
            put(&mut f, "src", v.src, !0, ip6);
            put(&mut f, "dst", v.dst, !0, ip6);
            put(&mut f, "label", v.label, 0xfffff, c_hex);
            put(&mut f, "tclass", v.tclass, !0, c_hex);
            put(&mut f, "hlimit", v.hlimit, !0, |x| x.to_string());
            "ipv6"
        }
        SetField::Tcp { src, dst } | SetField::Udp { src, dst } | SetField::Sctp { src, dst } => {
            put(&mut f, "src", *src, !0, |v| v.to_string());
            put(&mut f, "dst", *dst, !0, |v| v.to_string());
            match sf {
                SetField::Tcp { .. } => "tcp",
                SetField::Udp { .. } => "udp",
                _ => "sctp",
            }
        }
        SetField::Mpls { lse } => return format!("mpls({})", super::mpls::lse_text(lse.value)),
        SetField::Arp(a) => {
            put(&mut f, "sip", a.spa, !0, ip4);
            put(&mut f, "tip", a.tpa, !0, ip4);
            put(&mut f, "op", a.op, 0xff, |v| v.to_string());
            put(&mut f, "sha", a.sha, 0xffff_ffff_ffff, mac);
            put(&mut f, "tha", a.tha, 0xffff_ffff_ffff, mac);
            "arp"
        }
        SetField::Nd(n) => {
            put(&mut f, "target", n.target, !0, ip6);
            put(&mut f, "sll", n.sll, 0xffff_ffff_ffff, mac);
            put(&mut f, "tll", n.tll, 0xffff_ffff_ffff, mac);
            "nd"
        }
        SetField::Icmp { v6, r#type, code } => {
            let name = if *v6 { "icmpv6" } else { "icmp" };
            return format!("{name}(type={},code={})", r#type.value, code.value);
        }
        SetField::SkbPriority(m) => return format!("skb_priority({})", c_hex(m.value)),
        SetField::PktMark(m) => return format!("skb_mark({})", c_hex(m.value)),
        other => return format!("{other:?}"),
    };
    format!("{name}({})", f.join(","))
}
