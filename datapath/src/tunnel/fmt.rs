//! `tnl_push(...)` and `tnl_pop(N)` printed exactly as OVS prints them in
//! `dpctl/dump-flows` and `ofproto/trace`, from the template bytes (as OVS
//! does, so a malformed template prints its truncation instead of failing).

use std::fmt::{self, Display, Formatter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::header::{
    IPV6_HLEN, VPORT_TYPE_GENEVE, VPORT_TYPE_GRE, VPORT_TYPE_IP6GRE, VPORT_TYPE_VXLAN,
};
use super::{TnlPop, TnlPush};
use crate::wire::ethernet::{ETH_HLEN, ETH_TYPE_IPV4};
use crate::wire::gre::{GRE_F_CSUM, GRE_F_KEY, GRE_F_SEQ};
use crate::wire::{be16, be32};

impl Display for TnlPop {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "tnl_pop({})", self.port)
    }
}

impl Display for TnlPush {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "tnl_push(tnl_port({}),", self.tnl_port)?;
        format_header(f, &self.header, self.tnl_type)?;
        write!(f, ",out_port({}))", self.out_port)
    }
}

/// Prints any bytes as a `header(...)` of vport type `ty` (what OVS
/// prints for a template, truncations included).
pub struct HeaderDisplay<'a>(pub &'a [u8], pub u32);

impl Display for HeaderDisplay<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        format_header(f, self.0, self.1)
    }
}

/// C's `%#x`: "0" for zero, else "0x..".
struct AltHex(u32);
impl Display for AltHex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("0")
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

fn mac(b: &[u8]) -> String {
    let mut s = String::with_capacity(17);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Formats the `header(...)` part.
pub fn format_header(f: &mut Formatter<'_>, h: &[u8], ty: u32) -> fmt::Result {
    let size = h.len();
    if size < ETH_HLEN {
        return write!(f, "header(size={size},type={ty}, eth(truncated header))");
    }
    write!(
        f,
        "header(size={size},type={ty},eth(dst={},src={},dl_type={:#06x}),",
        mac(&h[0..6]),
        mac(&h[6..12]),
        be16(h, 12)
    )?;
    let mut left = &h[ETH_HLEN..];
    if be16(h, 12) == ETH_TYPE_IPV4 {
        if left.len() < 20 {
            return f.write_str("ipv4(truncated header))");
        }
        let ip = left;
        write!(
            f,
            "ipv4(src={},dst={},proto={},tos={},ttl={},frag={:#x}),",
            Ipv4Addr::from(be32(ip, 12)),
            Ipv4Addr::from(be32(ip, 16)),
            ip[9],
            AltHex(ip[1] as u32),
            ip[8],
            be16(ip, 6)
        )?;
        left = &left[20..];
    } else {
        if left.len() < IPV6_HLEN {
            return f.write_str("ipv6(truncated header))");
        }
        let ip = left;
        let w = be32(ip, 0);
        write!(
            f,
            "ipv6(src={},dst={},label={},proto={},tclass={:#x},hlimit={}),",
            Ipv6Addr::from(crate::wire::be128(ip, 8)),
            Ipv6Addr::from(crate::wire::be128(ip, 24)),
            w & 0xfffff,
            ip[6],
            (w >> 20) & 0xff,
            ip[7]
        )?;
        left = &left[IPV6_HLEN..];
    }
    match ty {
        VPORT_TYPE_VXLAN | VPORT_TYPE_GENEVE => {
            if left.len() < 8 {
                return f.write_str("udp(truncated header))");
            }
            write!(
                f,
                "udp(src={},dst={},csum={:#x}),",
                be16(left, 0),
                be16(left, 2),
                be16(left, 6)
            )?;
            left = &left[8..];
            if ty == VPORT_TYPE_VXLAN {
                if left.len() < 8 {
                    return f.write_str("vxlan(truncated header))");
                }
                write!(
                    f,
                    "vxlan(flags={:#x},vni={:#x})",
                    be32(left, 0),
                    be32(left, 4) >> 8
                )?;
            } else {
                if left.len() < 8 {
                    return f.write_str("geneve(truncated header))");
                }
                let g = left;
                write!(
                    f,
                    "geneve({}{}vni={:#x}",
                    if g[1] & 0x80 != 0 { "oam," } else { "" },
                    if g[1] & 0x40 != 0 { "crit," } else { "" },
                    be32(g, 4) >> 8
                )?;
                let ol = (g[0] & 0x3f) as usize * 4;
                if ol > 0 {
                    if left.len() - 8 < ol {
                        return f.write_str(",options(invalid length)))");
                    }
                    f.write_str(",options(")?;
                    format_geneve_opts(f, &g[8..8 + ol])?;
                    f.write_str(")")?;
                }
                f.write_str(")")?;
            }
        }
        VPORT_TYPE_GRE | VPORT_TYPE_IP6GRE => {
            if left.len() < 4 {
                return f.write_str("gre(truncated header))");
            }
            let fl = be16(left, 0);
            write!(f, "gre((flags={:#x},proto={:#x})", fl, be16(left, 2))?;
            let mut o = &left[4..];
            if fl & GRE_F_CSUM != 0 {
                if o.len() < 2 {
                    return f.write_str(",csum=<truncated>))");
                }
                write!(f, ",csum={:#x}", be16(o, 0))?;
                o = o.get(4..).unwrap_or(&[]);
            }
            if fl & GRE_F_KEY != 0 {
                if o.len() < 4 {
                    return f.write_str(",key=<truncated>))");
                }
                write!(f, ",key={:#x}", be32(o, 0))?;
                o = &o[4..];
            }
            if fl & GRE_F_SEQ != 0 {
                if o.len() < 4 {
                    return f.write_str(",seq=<truncated>))");
                }
                write!(f, ",seq={:#x}", be32(o, 0))?;
            }
            f.write_str(")")?;
        }
        _ => {}
    }
    f.write_str(")")
}

/// `{class=..,type=..,len=..,0x..}` per option, as OVS's non-verbose form.
fn format_geneve_opts(f: &mut Formatter<'_>, mut b: &[u8]) -> fmt::Result {
    while !b.is_empty() {
        if b.len() < 4 {
            return write!(f, "opt len {} less than minimum 4", b.len());
        }
        let dl = (b[3] & 0x1f) as usize * 4;
        if 4 + dl > b.len() {
            return write!(f, "opt len {} greater than remaining {}", 4 + dl, b.len());
        }
        write!(
            f,
            "{{class={},type={},len={}",
            AltHex(be16(b, 0) as u32),
            AltHex(b[2] as u32),
            dl
        )?;
        if dl > 0 {
            f.write_str(",")?;
            let d = &b[4..4 + dl];
            match d.iter().position(|x| *x != 0) {
                None => f.write_str("0")?,
                Some(i) => {
                    write!(f, "{:#x}", d[i])?;
                    for x in &d[i + 1..] {
                        write!(f, "{x:02x}")?;
                    }
                }
            }
        }
        f.write_str("}")?;
        b = &b[4 + dl..];
    }
    Ok(())
}
