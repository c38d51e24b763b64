//! The `dpctl/ipf-*` commands of the unixctl server: the fragment
//! reassembly settings and counters of the conntrack's [`Ipf`], printed
//! as OVS 3.1's dpctl prints them (`ipf-set-enabled`, `ipf-set-disabled`,
//! `ipf-set-min-frag`, `ipf-set-max-nfrags`, `ipf-get-status [-m]`).
//!
//! Errors read as OVS's dpctl errors: the program name, the message and
//! the errno text in parentheses (`EINVAL` for a bad argument, `EPERM`
//! for a value out of bounds, which is what OVS's ipf returns).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::Ordering;

use ferrovs_datapath::conntrack::ipf::{Ipf, ListInfo};

use crate::unixctl::Ctx;
use crate::unixctl_ct::{args_after_dp, ct, dpctl_error, EINVAL};

const EPERM: &str = "Operation not permitted";

/// `v4` or `v6` as OVS reads them (the first two characters): IPv6?
fn family(a: Option<&String>) -> Option<bool> {
    match a.map(|s| s.get(..2)) {
        Some(Some("v4")) => Some(false),
        Some(Some("v6")) => Some(true),
        _ => None,
    }
}

/// A decimal number as `%u` scans it: the leading digits.
fn number(a: Option<&String>) -> Option<u32> {
    let a = a?;
    let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
    a[..end].parse().ok()
}

fn set_enabled(ctx: &Ctx, args: &[String], on: bool) -> Result<String, String> {
    let Some(v6) = family(args_after_dp(args).last()) else {
        return Err(dpctl_error(
            "parameter missing: 'v4' for IPv4 or 'v6' for IPv6",
            EINVAL,
        ));
    };
    ct(ctx).ipf().set_enabled_for(v6, on);
    let verb = if on { "enabling" } else { "disabling" };
    Ok(format!("{verb} fragmentation reassembly successful"))
}

/// `dpctl/ipf-set-enabled [dp] v4|v6`.
pub fn cmd_ipf_set_enabled(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    set_enabled(ctx, args, true)
}

/// `dpctl/ipf-set-disabled [dp] v4|v6`.
pub fn cmd_ipf_set_disabled(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    set_enabled(ctx, args, false)
}

/// `dpctl/ipf-set-min-frag [dp] v4|v6 minfragment`.
pub fn cmd_ipf_set_min_frag(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let args = args_after_dp(args);
    let n = args.len();
    let Some(v6) = family(n.checked_sub(2).and_then(|i| args.get(i))) else {
        return Err(dpctl_error(
            "parameter missing: v4 for IPv4 or v6 for IPv6",
            EINVAL,
        ));
    };
    let Some(size) = number(args.last()) else {
        return Err(dpctl_error(
            "parameter missing for minimum fragment size",
            EINVAL,
        ));
    };
    match ct(ctx).ipf().set_min_frag(v6, size) {
        Ok(()) => Ok("setting minimum fragment size successful".into()),
        Err(_) => Err(dpctl_error(
            "requested minimum fragment size too small; see documentation",
            EPERM,
        )),
    }
}

/// `dpctl/ipf-set-max-nfrags [dp] maxfrags`.
pub fn cmd_ipf_set_max_nfrags(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let Some(n) = number(args_after_dp(args).last()) else {
        return Err(dpctl_error(
            "parameter missing for maximum fragments",
            EINVAL,
        ));
    };
    match ct(ctx).ipf().set_max_nfrags(n) {
        Ok(()) => Ok("setting maximum fragments successful".into()),
        Err(_) => Err(dpctl_error("setting maximum fragments failed", EPERM)),
    }
}

/// `dpctl/ipf-get-status [dp] [-m|--more]`: the settings and both
/// families' counters; with `-m`, the datagrams being reassembled.
pub fn cmd_ipf_get_status(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let mut more = false;
    for a in args_after_dp(args) {
        match a.as_str() {
            "-m" | "--more" => more = true,
            _ => return Err(dpctl_error("datapath not found", EINVAL)),
        }
    }
    let ct = ct(ctx);
    Ok(status(ct.ipf(), more))
}

/// The text of `dpctl/ipf-get-status`.
pub fn status(ipf: &Ipf, more: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "        Fragmentation Module Status");
    let _ = writeln!(s, "        ---------------------------");
    let _ = writeln!(s, "        v4 enabled: {}", ipf.enabled_for(false) as u8);
    let _ = writeln!(s, "        v6 enabled: {}", ipf.enabled_for(true) as u8);
    let _ = writeln!(s, "        max num frags (v4/v6): {}", ipf.max_nfrags());
    let _ = writeln!(s, "        num frag: {}", ipf.n_frags());
    for v6 in [false, true] {
        let (fam, min) = if v6 {
            ("v6", ipf.min_v6_frag_size())
        } else {
            ("v4", ipf.min_frag_size())
        };
        let c = ipf.counters(v6);
        let _ = writeln!(s, "        min {fam} frag size: {min}");
        for (name, n) in [
            ("accepted", &c.accepted),
            ("completed", &c.completed),
            ("expired", &c.expired),
            ("too small", &c.too_small),
            ("overlapped", &c.overlapped),
            ("purged", &c.purged),
        ] {
            let _ = writeln!(
                s,
                "        {fam} frags {name}: {}",
                n.load(Ordering::Relaxed)
            );
        }
    }
    if more {
        s.push_str("\n        Fragment Lists:\n\n");
        let mut lines: Vec<String> = ipf.lists().iter().map(list_line).collect();
        lines.sort();
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
    }
    s
}

/// One datagram being reassembled, as OVS's ipf dump prints it.
fn list_line(l: &ListInfo) -> String {
    let (src, dst, dl_type) = if l.v6 {
        (
            Ipv6Addr::from(l.src).to_string(),
            Ipv6Addr::from(l.dst).to_string(),
            0x86dd,
        )
    } else {
        (
            Ipv4Addr::from(l.src as u32).to_string(),
            Ipv4Addr::from(l.dst as u32).to_string(),
            0x800,
        )
    };
    let state = match (l.first_seen, l.last_seen) {
        (false, false) => "other frag",
        (true, false) => "first frag",
        (false, true) => "last frag",
        (true, true) => "first/last frag",
    };
    format!(
        "(src={src},dst={dst},recirc_id={},ip_id={},dl_type={dl_type:#x},zone={},nw_proto={},num_fragments={},state={state})",
        l.recirc_id, l.ip_id, l.zone, l.proto, l.num_fragments
    )
}
