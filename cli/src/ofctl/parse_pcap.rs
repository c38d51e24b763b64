//! `ofctl parse-pcap FILE`: each frame of a pcap file through the
//! datapath's flow extractor, printed as `ovs-ofctl parse-pcap` prints it:
//! OVS's `flow_format`, i.e. the packet as an exact match on the fields a
//! packet of its kind has (OVS's `flow_wildcards_init_for_packet`: L2 and
//! the first VLAN always, inner VLANs while present, then by EtherType the
//! L3 fields, and L4 ports and TCP flags for first fragments of ICMP, TCP,
//! UDP, SCTP and IGMP), with zero metadata left out and `in_port=ANY`,
//! printed by ofproto's match printer (OVS's `match_format`).

use anyhow::{bail, Context};
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{extract, Flow, FlowKey};
use ferrovs_datapath::packet::DpPacket;
use ferrovs_ofproto::flow::{OfFlow, OfMatch};
use ferrovs_ofproto::xlate::format_match;

/// The frames of a classic pcap file (either byte order, micro- or
/// nanosecond timestamps), each cut to its captured length.
pub fn read_pcap(b: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    if b.len() < 24 {
        bail!("not a pcap file (shorter than its header)");
    }
    let magic = u32::from_le_bytes(b[0..4].try_into().expect("4 bytes"));
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        m => bail!("bad pcap magic {m:#010x}"),
    };
    let u32_at = |o: usize| -> u32 {
        let w: [u8; 4] = b[o..o + 4].try_into().expect("4 bytes");
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let mut out = Vec::new();
    let mut o = 24;
    while o < b.len() {
        if o + 16 > b.len() {
            bail!("truncated pcap record header at byte {o}");
        }
        let caplen = u32_at(o + 8) as usize;
        o += 16;
        if o + caplen > b.len() {
            bail!("truncated pcap record at byte {o}");
        }
        out.push(b[o..o + caplen].to_vec());
        o += caplen;
    }
    Ok(out)
}

const IPPROTO_ICMP: u64 = 1;
const IPPROTO_IGMP: u64 = 2;
const IPPROTO_TCP: u64 = 6;
const IPPROTO_UDP: u64 = 17;
const IPPROTO_ICMPV6: u64 = 58;
const IPPROTO_SCTP: u64 = 132;
/// `nw_frag` bit of a later fragment.
const FRAG_LATER: u64 = 2;

/// The fields OVS shows for a packet with flow `f` (its wildcards).
fn packet_mask(f: &Flow) -> Flow {
    let mut m = Flow::default();
    // The VLAN headers are printed by `vlan_text`.
    for x in [IN_PORT, DL_DST, DL_SRC, DL_TYPE] {
        m.set_all(x);
    }
    match f.get(DL_TYPE) {
        0x0800 => {
            m.set_all(NW_SRC);
            m.set_all(NW_DST);
        }
        0x86dd => {
            for x in [
                IPV6_SRC_HI,
                IPV6_SRC_LO,
                IPV6_DST_HI,
                IPV6_DST_LO,
                IPV6_LABEL,
            ] {
                m.set_all(x);
            }
            let nd = f.get(NW_PROTO) == IPPROTO_ICMPV6
                && f.get(TP_DST) == 0
                && matches!(f.get(TP_SRC), 135 | 136);
            if nd {
                // nd_sll/nd_tll: printed by `extra_text`, both always.
                m.set_all(ND_TARGET_HI);
                m.set_all(ND_TARGET_LO);
            }
        }
        0x0806 | 0x8035 => {
            for x in [NW_SRC, NW_DST, NW_PROTO, ARP_SHA, ARP_THA] {
                m.set_all(x);
            }
            return m;
        }
        0x8847 | 0x8848 => {
            for x in [MPLS_LSE, MPLS_LSE1, MPLS_LSE2] {
                m.set_all(x);
                if f.get(x) & 0x100 != 0 {
                    break;
                }
            }
            return m;
        }
        0x894f => {
            for x in [NSH_FLAGS, NSH_TTL, NSH_MDTYPE, NSH_NP, NSH_SI, NSH_SPI] {
                m.set_all(x);
            }
            if f.get(NSH_MDTYPE) == 1 {
                for x in [NSH_C1, NSH_C2, NSH_C3, NSH_C4] {
                    m.set_all(x);
                }
            }
            return m;
        }
        _ => return m,
    }
    for x in [NW_FRAG, NW_TOS, NW_TTL, NW_PROTO] {
        m.set_all(x);
    }
    let proto = f.get(NW_PROTO);
    if f.get(NW_FRAG) & FRAG_LATER == 0
        && matches!(
            proto,
            IPPROTO_ICMP | IPPROTO_ICMPV6 | IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP | IPPROTO_IGMP
        )
    {
        m.set_all(TP_SRC);
        m.set_all(TP_DST);
        if proto == IPPROTO_TCP {
            m.set_all(TCP_FLAGS);
        }
    }
    m
}

/// One exact VLAN header as OVS's `match_format`: `dl_vlan=V,dl_vlan_pcp=P`
/// for a present header, else `vlan_tci=0xTTTT` (suffix `1` for the second).
fn vlan_one(tci: u64, i: usize) -> String {
    let sfx = if i == 0 { String::new() } else { i.to_string() };
    if tci & 0x1000 != 0 {
        format!(
            "dl_vlan{sfx}={},dl_vlan_pcp{sfx}={}",
            tci & 0xfff,
            tci >> 13
        )
    } else {
        format!("vlan_tci{sfx}={tci:#06x}")
    }
}

/// The VLAN headers OVS shows: the first always, the second while the
/// first is present.
fn vlan_text(f: &Flow) -> String {
    let mut s = vlan_one(f.get(VLAN0_TCI), 0);
    if f.get(VLAN0_TCI) != 0 {
        s.push(',');
        s.push_str(&vlan_one(f.get(VLAN1_TCI), 1));
    }
    s
}

fn mac(v: u64) -> String {
    let b = v.to_be_bytes();
    b[2..]
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn is_nd(f: &Flow) -> bool {
    f.get(DL_TYPE) == 0x86dd
        && f.get(NW_PROTO) == IPPROTO_ICMPV6
        && f.get(TP_DST) == 0
        && matches!(f.get(TP_SRC), 135 | 136)
}

/// What OVS prints that has no OpenFlow field (so ofproto's match
/// printer cannot show it), in OVS's places at the end of the line.
fn extra_text(f: &Flow, mask: &Flow) -> String {
    let mut s = String::new();
    let proto = f.get(NW_PROTO);
    let dl = f.get(DL_TYPE);
    // L4 ports of protocols without OpenFlow fields in that IP version.
    let no_oxm = (dl == 0x0800 && matches!(proto, IPPROTO_IGMP | IPPROTO_ICMPV6))
        || (dl == 0x86dd && matches!(proto, IPPROTO_ICMP | IPPROTO_IGMP));
    if no_oxm && mask.get(TP_SRC) != 0 {
        s.push_str(&format!(
            ",tp_src={},tp_dst={}",
            f.get(TP_SRC),
            f.get(TP_DST)
        ));
    }
    if is_nd(f) {
        s.push_str(&format!(
            ",nd_sll={},nd_tll={}",
            mac(f.get(ARP_SHA)),
            mac(f.get(ARP_THA))
        ));
    }
    if matches!(dl, 0x8847 | 0x8848) {
        for (i, x) in [MPLS_LSE1, MPLS_LSE2].into_iter().enumerate() {
            if mask.get(x) != 0 {
                s.push_str(&format!(",mpls_lse{}={}", i + 1, f.get(x)));
            }
        }
    }
    if dl == 0x894f {
        // OVS shows the IP words of an NSH packet too (all zero).
        let tos = f.get(NW_TOS);
        let frag = match f.get(NW_FRAG) & 3 {
            0 => "no",
            1 => "first",
            _ => "later",
        };
        s.push_str(&format!(
            ",nw_proto={proto},nw_tos={},nw_ecn={},nw_ttl={},nw_frag={frag}",
            tos & 0xfc,
            tos & 3,
            f.get(NW_TTL)
        ));
    }
    s
}

/// One frame's line.
pub fn flow_line(frame: &[u8]) -> String {
    let mut p = DpPacket::from_bytes(frame);
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    let mut f = Flow::default();
    k.expand(&mut f);
    // OVS reads the file with in_port ODPP_NONE, which prints as ANY.
    f.set(IN_PORT, 0xffff);
    let mask = packet_mask(&f);
    let om = OfMatch {
        value: OfFlow::from_dp(&f).masked(&OfFlow::from_dp(&mask)),
        mask: OfFlow::from_dp(&mask),
    };
    let mut text = format_match(&om);
    text.push_str(&extra_text(&f, &mask));
    // The VLAN fields go right after in_port, as in OVS's match_format.
    match text.find("in_port=ANY") {
        Some(i) => {
            let at = i + "in_port=ANY".len();
            format!("{},{}{}", &text[..at], vlan_text(&f), &text[at..])
        }
        None => text,
    }
}

pub fn run(file: &str) -> anyhow::Result<i32> {
    let b = std::fs::read(file).with_context(|| format!("{file}: open failed"))?;
    let frames = read_pcap(&b).with_context(|| file.to_string())?;
    let mut out = String::new();
    for f in frames {
        out.push_str(&flow_line(&f));
        out.push('\n');
    }
    crate::stdout::emit(&out);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any file contents: frames or an error, never a panic; and any
        /// frame prints.
        #[test]
        fn any_bytes(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = read_pcap(&b);
            let _ = flow_line(&b);
            let mut p = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
            p.extend_from_slice(&[0; 16]);
            p.extend_from_slice(&b);
            let _ = read_pcap(&p);
        }
    }

    #[test]
    fn truncated_records_are_errors() {
        let mut p = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 1, 2]);
        assert!(read_pcap(&p).unwrap_err().to_string().contains("truncated"));
    }
}
