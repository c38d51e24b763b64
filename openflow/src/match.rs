//! `Match`: the set of (field, value, mask) a flow matches on, and its three
//! wire forms: OpenFlow 1.0 `ofp_match`, OXM (`ofp_match` of type OXM, 1.2+)
//! and NXM (Nicira flow-mod, flow stats, packet-in).
//!
//! A `Match` is a short vector of [`MatchField`]s in the order they were
//! decoded or added; each field appears at most once.  Values and masks are
//! network-order bytes of the field's width; `mask: None` means exact match.
//! Decoding borrows the input and allocates only the vector (values of 16
//! bytes or less are inline), which keeps flow-mod decoding cheap.
//!
//! Normalisation done at the wire (as OVS does): `OXM_OF_IN_PORT` (32-bit)
//! becomes [`Field::InPort`] (16-bit); OpenFlow 1.0's `dl_vlan`/`dl_vlan_pcp`
//! become `vlan_tci` value/mask; OpenFlow 1.0's `nw_src`/`nw_dst`/`nw_proto`
//! become `arp_spa`/`arp_tpa`/`arp_op` for ARP, and `tp_src`/`tp_dst` become
//! the TCP/UDP/SCTP/ICMP field the `nw_proto` selects.

use crate::error::{DecodeError, ErrorCode, Result};
use crate::field::{Field, Prereq};
use crate::oxm::{self, OxmHeader};
use crate::port;
use crate::value::Value;
use crate::version::Version;

/// `NXM_NX_COOKIE`: class NXM_1, field 30 (a pseudo-field of Nicira
/// flow-mods and flow stats requests, not a flow field).
const NXM_COOKIE_CLASS: u16 = 0x0001;
const NXM_COOKIE_FIELD: u8 = 30;

/// One matched field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchField {
    pub field: Field,
    pub value: Value,
    /// `None`: exact match.  `Some(mask)`: bitwise, same length as `value`.
    pub mask: Option<Value>,
}

/// What a flow matches: fields not listed are wildcarded.
///
/// Equality and hashing treat `fields` as a set (order does not matter):
/// an OpenFlow 1.0 match decodes in its own fixed order.
#[derive(Debug, Clone, Default)]
pub struct Match {
    pub fields: Vec<MatchField>,
}

impl PartialEq for Match {
    fn eq(&self, other: &Match) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .all(|f| other.fields.iter().any(|g| g == f))
    }
}

impl Eq for Match {}

impl core::hash::Hash for Match {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let mut v: Vec<&MatchField> = self.fields.iter().collect();
        v.sort_by_key(|f| f.field);
        v.hash(state);
    }
}

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

impl Match {
    /// The empty (match-everything) match.
    pub fn new() -> Match {
        Match { fields: Vec::new() }
    }

    /// True if nothing is matched.
    pub fn is_catchall(&self) -> bool {
        self.fields.is_empty()
    }

    /// The entry for `field`, if matched.
    pub fn get(&self, field: Field) -> Option<&MatchField> {
        self.fields.iter().find(|f| f.field == field)
    }

    /// Sets (replacing any previous entry) `field` to `value` under `mask`.
    /// A mask of all ones is stored as exact; all zeros removes the field.
    pub fn set(&mut self, field: Field, value: Value, mask: Option<Value>) {
        let mask = match mask {
            Some(m) if m.is_all_ones() => None,
            other => other,
        };
        if mask.as_ref().is_some_and(|m| m.is_zero()) {
            self.remove(field);
            return;
        }
        let value = match &mask {
            Some(m) if m.len() == value.len() => {
                let mut v = value;
                for (b, m) in v.as_mut_bytes().iter_mut().zip(m.as_bytes()) {
                    *b &= m;
                }
                v
            }
            _ => value,
        };
        let mf = MatchField { field, value, mask };
        match self.fields.iter_mut().find(|f| f.field == field) {
            Some(slot) => *slot = mf,
            None => self.fields.push(mf),
        }
    }

    /// Exact match on `field`.
    pub fn set_exact(&mut self, field: Field, value: Value) {
        self.set(field, value, None)
    }

    /// Stops matching `field`.
    pub fn remove(&mut self, field: Field) {
        self.fields.retain(|f| f.field != field);
    }

    /// The value as an integer, if `field` is matched exactly.
    pub fn exact_u128(&self, field: Field) -> Option<u128> {
        self.get(field)
            .filter(|f| f.mask.is_none())
            .map(|f| f.value.to_u128())
    }

    /// Checks every field's prerequisite (OVS's `MFP_*` rules) against the
    /// rest of the match: e.g. `tcp_dst` needs `eth_type` IPv4/IPv6 and
    /// `ip_proto=6`.  Returns OFPBMC_BAD_PREREQ naming nothing more.
    pub fn check_prereqs(&self) -> Result<()> {
        let eth = self.exact_u128(Field::EthType).map(|v| v as u16);
        let proto = self.exact_u128(Field::NwProto).map(|v| v as u8);
        let ip4 = eth == Some(0x0800);
        let ip6 = eth == Some(0x86dd);
        let ip = ip4 || ip6;
        let icmp6_type = self.exact_u128(Field::Icmpv6Type).map(|v| v as u8);
        let ok = |p: Prereq| -> bool {
            match p {
                Prereq::None => true,
                Prereq::Ethernet => true,
                Prereq::Arp => matches!(eth, Some(0x0806) | Some(0x8035)),
                Prereq::VlanVid => self.get(Field::VlanVid).is_some_and(|f| {
                    f.value.to_u64() & 0x1000 != 0
                        && f.mask.as_ref().is_none_or(|m| m.to_u64() & 0x1000 != 0)
                }),
                Prereq::Ipv4 => ip4,
                Prereq::Ipv6 => ip6,
                Prereq::IpAny => ip,
                Prereq::Nsh => eth == Some(0x894f),
                Prereq::CtValid => self
                    .get(Field::CtState)
                    .is_some_and(|f| f.value.to_u64() & 0x20 != 0),
                Prereq::Mpls => matches!(eth, Some(0x8847) | Some(0x8848)),
                Prereq::Tcp => ip && proto == Some(6),
                Prereq::Udp => ip && proto == Some(17),
                Prereq::Sctp => ip && proto == Some(132),
                Prereq::Icmpv4 => ip4 && proto == Some(1),
                Prereq::Icmpv6 => ip6 && proto == Some(58),
                Prereq::Nd => {
                    ip6 && proto == Some(58) && matches!(icmp6_type, Some(135) | Some(136))
                }
                Prereq::NdSolicit => ip6 && proto == Some(58) && icmp6_type == Some(135),
                Prereq::NdAdvert => ip6 && proto == Some(58) && icmp6_type == Some(136),
            }
        };
        for f in &self.fields {
            if !ok(f.field.info().prereq) {
                return Err(bad(ErrorCode::OfpbmcBadPrereq, f.field.info().name));
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- NXM/OXM

    /// Decodes a run of NXM/OXM TLVs (exactly `buf`, no padding).
    /// `oxm`: true inside an OpenFlow 1.2+ `ofp_match`.
    pub fn decode_tlvs(buf: &[u8]) -> Result<Match> {
        Ok(Match::decode_tlvs_cookie(buf, false, true)?.0)
    }

    /// Like [`Match::decode_tlvs`] but keeps `OXM_OF_IN_PORT` as
    /// [`Field::InPortOxm`] (32-bit) instead of normalizing it, so that a
    /// `set_field` re-encodes with the header it came with: OVS keeps the
    /// two forms apart there (`NXM_OF_IN_PORT` stays NXM in OpenFlow 1.3+).
    pub(crate) fn decode_tlvs_as_sent(buf: &[u8]) -> Result<Match> {
        Ok(Match::decode_tlvs_cookie(buf, false, false)?.0)
    }

    /// Decodes the NXM match of a Nicira flow-mod or flow/aggregate stats
    /// request, where the `NXM_NX_COOKIE(_W)` pseudo-field may select flows
    /// by cookie: returns the match and (cookie, mask), mask all-ones for
    /// the exact form and zero when absent. As OVS: at most one cookie
    /// entry, no value bit outside its mask, and anywhere else it is an
    /// unknown field.
    pub fn decode_nxm_with_cookie(buf: &[u8]) -> Result<(Match, (u64, u64))> {
        Match::decode_tlvs_cookie(buf, true, true)
    }

    fn decode_tlvs_cookie(
        buf: &[u8],
        allow_cookie: bool,
        normalize_in_port: bool,
    ) -> Result<(Match, (u64, u64))> {
        let mut m = Match {
            fields: Vec::with_capacity(buf.len() / 8 + 1),
        };
        let mut cookie = (0u64, 0u64);
        let mut rest = buf;
        while !rest.is_empty() {
            let (e, n) = oxm::parse_entry(rest)?;
            rest = &rest[n..];
            // Told apart from NXM_NX_MPLS_TTL (same class and field, 1 byte)
            // by its 8-byte value, as OVS does by the whole header.
            if e.header.class == NXM_COOKIE_CLASS
                && e.header.field == NXM_COOKIE_FIELD
                && e.value.len() == 8
            {
                if !allow_cookie {
                    return Err(bad(ErrorCode::OfpbmcBadField, "cookie in this match"));
                }
                if cookie.1 != 0 {
                    return Err(bad(ErrorCode::OfpbmcDupField, "duplicate cookie"));
                }
                let v = u64::from_be_bytes(e.value.try_into().expect("8 bytes"));
                let mk = match e.mask {
                    Some(mk) => u64::from_be_bytes(mk.try_into().expect("8 bytes")),
                    None => u64::MAX,
                };
                if v & !mk != 0 {
                    return Err(bad(ErrorCode::OfpbmcBadWildcards, "value outside mask"));
                }
                cookie = (v, mk);
                continue;
            }
            let field = oxm::field_for_header(e.header)
                .ok_or(bad(ErrorCode::OfpbmcBadField, "unknown match field"))?;
            let info = field.info();
            if info.variable {
                if e.value.len() > info.width as usize {
                    return Err(bad(ErrorCode::OfpbmcBadLen, "match field length"));
                }
            } else if e.value.len() != info.width as usize {
                return Err(bad(ErrorCode::OfpbmcBadLen, "match field length"));
            }
            if e.mask.is_some() && !info.maskable {
                return Err(bad(ErrorCode::OfpbmcBadMask, "field not maskable"));
            }
            let (field, value, mask) = if field == Field::InPortOxm && normalize_in_port {
                let p = u32::from_be_bytes([e.value[0], e.value[1], e.value[2], e.value[3]]);
                let p =
                    port::from_ofp11(p).map_err(|_| bad(ErrorCode::OfpbmcBadValue, "in_port"))?;
                (Field::InPort, Value::from_u16(p), None)
            } else {
                (
                    field,
                    Value::from_slice(e.value),
                    e.mask.map(Value::from_slice),
                )
            };
            if m.fields.iter().any(|f| f.field == field) {
                return Err(bad(ErrorCode::OfpbmcDupField, "duplicate match field"));
            }
            if let Some(mk) = &mask {
                // A value bit outside the mask is an error (OFPBMC_BAD_WILDCARDS).
                if value
                    .as_bytes()
                    .iter()
                    .zip(mk.as_bytes())
                    .any(|(v, m)| v & !m != 0)
                {
                    return Err(bad(ErrorCode::OfpbmcBadWildcards, "value outside mask"));
                }
            }
            m.fields.push(MatchField { field, value, mask });
        }
        Ok((m, cookie))
    }

    /// Appends NXM TLVs, then (when `cookie.1`, the mask, is not zero) the
    /// `NXM_NX_COOKIE(_W)` entry as OVS places it, last; zero padding to a
    /// multiple of 8 bytes. Returns the unpadded length (`match_len`).
    pub fn encode_nxm_with_cookie(&self, cookie: (u64, u64), out: &mut Vec<u8>) -> usize {
        let start = out.len();
        let mut n = self.encode_tlvs(None, out);
        let (v, mk) = cookie;
        if mk != 0 {
            let masked = mk != u64::MAX;
            OxmHeader::new(NXM_COOKIE_CLASS, NXM_COOKIE_FIELD).emit(
                masked,
                if masked { 16 } else { 8 },
                out,
            );
            out.extend_from_slice(&(v & mk).to_be_bytes());
            if masked {
                out.extend_from_slice(&mk.to_be_bytes());
            }
            n = out.len() - start;
        }
        pad8(out, start);
        n
    }

    /// Appends the fields as NXM (`oxm_version = None`) or OXM TLVs.
    /// Returns the number of bytes written (no padding).
    pub fn encode_tlvs(&self, oxm_version: Option<Version>, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        let mut tci: Option<(u16, u16)> = None;
        for f in &self.fields {
            match f.field {
                Field::InPort | Field::InPortOxm if oxm_version.is_some() => {
                    let p = if f.field == Field::InPort {
                        port::to_ofp11(f.value.to_u64() as u16)
                    } else {
                        f.value.to_u64() as u32
                    };
                    OxmHeader::new(0x8000, 0).emit(false, 4, out);
                    out.extend_from_slice(&p.to_be_bytes());
                }
                Field::InPortOxm => {
                    let p = port::from_ofp11(f.value.to_u64() as u32).unwrap_or(port::OFPP_NONE);
                    OxmHeader::new(0, 0).emit(false, 2, out);
                    out.extend_from_slice(&p.to_be_bytes());
                }
                Field::DlVlan => {
                    let t = tci.get_or_insert((0, 0));
                    t.0 |= 0x1000 | (f.value.to_u64() as u16 & 0xfff);
                    t.1 |= 0x1fff;
                }
                Field::DlVlanPcp => {
                    let t = tci.get_or_insert((0, 0));
                    t.0 |= 0x1000 | ((f.value.to_u64() as u16 & 7) << 13);
                    t.1 |= 0xf000;
                }
                field => {
                    let Some(h) = oxm::header_of(field, oxm_version) else {
                        continue; // no wire form (e.g. skb_priority): not encodable
                    };
                    let n = f.value.len();
                    h.emit(
                        f.mask.is_some(),
                        n * if f.mask.is_some() { 2 } else { 1 },
                        out,
                    );
                    out.extend_from_slice(f.value.as_bytes());
                    if let Some(m) = &f.mask {
                        out.extend_from_slice(m.as_bytes());
                    }
                }
            }
        }
        if let Some((v, m)) = tci {
            let h = oxm::header_of(Field::VlanTci, oxm_version).expect("vlan_tci has NXM");
            let exact = m == 0xffff;
            h.emit(!exact, if exact { 2 } else { 4 }, out);
            out.extend_from_slice(&v.to_be_bytes());
            if !exact {
                out.extend_from_slice(&m.to_be_bytes());
            }
        }
        out.len() - start
    }

    /// Decodes an OpenFlow 1.2+ `ofp_match` (type OXM) at the start of `buf`;
    /// returns the match and the padded length consumed.
    pub fn decode_ofp12(buf: &[u8]) -> Result<(Match, usize)> {
        if buf.len() < 4 {
            return Err(bad(ErrorCode::OfpbmcBadLen, "ofp_match"));
        }
        let ty = u16::from_be_bytes([buf[0], buf[1]]);
        let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        if ty != 1 {
            return Err(bad(ErrorCode::OfpbmcBadType, "ofp_match type"));
        }
        let padded = len.div_ceil(8) * 8;
        if len < 4 || buf.len() < padded {
            return Err(bad(ErrorCode::OfpbmcBadLen, "ofp_match length"));
        }
        Ok((Match::decode_tlvs(&buf[4..len])?, padded))
    }

    /// Appends an OpenFlow 1.2+ `ofp_match` (type OXM), padded to 8 bytes.
    pub fn encode_ofp12(&self, version: Version, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 1, 0, 0]);
        let n = self.encode_tlvs(Some(version), out);
        let len = (4 + n) as u16;
        out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        pad8(out, start);
    }

    /// Appends NXM TLVs followed by zero padding to a multiple of 8 bytes;
    /// returns the unpadded length (`match_len`).
    pub fn encode_nxm_padded(&self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        let n = self.encode_tlvs(None, out);
        pad8(out, start);
        n
    }

    // ------------------------------------------------------------ OpenFlow 1.0

    /// Decodes a 40-byte OpenFlow 1.0 `ofp_match`.
    pub fn decode_ofp10(b: &[u8]) -> Result<Match> {
        if b.len() < OFP10_MATCH_LEN {
            return Err(bad(ErrorCode::OfpbrcBadLen, "ofp10_match"));
        }
        let be16 = |o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
        let be32 = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let wc = be32(0);
        let mut m = Match::new();
        if wc & W_IN_PORT == 0 {
            m.set_exact(Field::InPort, Value::from_u16(be16(4)));
        }
        if wc & W_DL_SRC == 0 {
            m.set_exact(Field::EthSrc, Value::from_slice(&b[6..12]));
        }
        if wc & W_DL_DST == 0 {
            m.set_exact(Field::EthDst, Value::from_slice(&b[12..18]));
        }
        let (mut tci, mut tmask) = (0u16, 0u16);
        if wc & W_DL_VLAN_PCP == 0 {
            tci |= 0x1000 | (u16::from(b[20] & 7) << 13);
            tmask |= 0xf000;
        }
        if wc & W_DL_VLAN == 0 {
            let vid = be16(18);
            if vid == 0xffff {
                tci = 0;
                tmask = 0xffff;
            } else {
                tci |= 0x1000 | (vid & 0xfff);
                tmask |= 0x1fff;
            }
        }
        if tmask != 0 {
            let mask = (tmask != 0xffff).then(|| Value::from_u16(tmask));
            m.fields.push(MatchField {
                field: Field::VlanTci,
                value: Value::from_u16(tci),
                mask,
            });
        }
        let dl_type = be16(22);
        if wc & W_DL_TYPE == 0 {
            m.set_exact(Field::EthType, Value::from_u16(dl_type));
        }
        let is_arp = wc & W_DL_TYPE == 0 && dl_type == 0x0806;
        if wc & W_NW_TOS == 0 {
            m.set_exact(Field::NwTos, Value::from_u8(b[24] & 0xfc));
        }
        let nw_proto = b[25];
        if wc & W_NW_PROTO == 0 {
            let f = if is_arp { Field::ArpOp } else { Field::NwProto };
            let v = if is_arp {
                Value::from_u16(u16::from(nw_proto))
            } else {
                Value::from_u8(nw_proto)
            };
            m.set_exact(f, v);
        }
        for (shift, off, ip, arp) in [
            (8u32, 28usize, Field::IpSrc, Field::ArpSpa),
            (14, 32, Field::IpDst, Field::ArpTpa),
        ] {
            let n = (wc >> shift) & 0x3f;
            if n < 32 {
                let mask = if n == 0 { u32::MAX } else { u32::MAX << n };
                let f = if is_arp { arp } else { ip };
                m.set(f, Value::from_u32(be32(off)), Some(Value::from_u32(mask)));
            }
        }
        let proto_known = wc & W_NW_PROTO == 0 && wc & W_DL_TYPE == 0;
        let (src, dst) = match (proto_known, nw_proto) {
            (true, 17) => (Field::UdpSrc, Field::UdpDst),
            (true, 132) => (Field::SctpSrc, Field::SctpDst),
            (true, 1) if dl_type == 0x0800 => (Field::IcmpType, Field::IcmpCode),
            _ => (Field::TcpSrc, Field::TcpDst),
        };
        for (bit, off, f) in [(W_TP_SRC, 36usize, src), (W_TP_DST, 38, dst)] {
            if wc & bit == 0 {
                let v = be16(off);
                let v = if f.info().width == 1 {
                    Value::from_u8(v as u8)
                } else {
                    Value::from_u16(v)
                };
                m.set_exact(f, v);
            }
        }
        Ok(m)
    }

    /// Appends a 40-byte OpenFlow 1.0 `ofp_match`.  Fields OpenFlow 1.0
    /// cannot express are left out; [`Match::fits_ofp10`] tells if any are.
    pub fn encode_ofp10(&self, out: &mut Vec<u8>) {
        let mut b = [0u8; OFP10_MATCH_LEN];
        let mut wc = W_ALL_BITS | (32 << 8) | (32 << 14);
        for f in &self.fields {
            let v = f.value.to_u128();
            match f.field {
                Field::InPort => {
                    wc &= !W_IN_PORT;
                    b[4..6].copy_from_slice(&(v as u16).to_be_bytes());
                }
                Field::EthSrc => {
                    wc &= !W_DL_SRC;
                    b[6..12].copy_from_slice(f.value.as_bytes());
                }
                Field::EthDst => {
                    wc &= !W_DL_DST;
                    b[12..18].copy_from_slice(f.value.as_bytes());
                }
                Field::VlanTci => {
                    let m = f.mask.as_ref().map_or(0xffff, |m| m.to_u64() as u16);
                    let v = v as u16;
                    if m == 0xffff && v == 0 {
                        wc &= !W_DL_VLAN;
                        b[18..20].copy_from_slice(&0xffffu16.to_be_bytes());
                    } else {
                        if m & 0x1fff == 0x1fff {
                            wc &= !W_DL_VLAN;
                            b[18..20].copy_from_slice(&(v & 0xfff).to_be_bytes());
                        }
                        if m & 0xf000 == 0xf000 {
                            wc &= !W_DL_VLAN_PCP;
                            b[20] = (v >> 13) as u8;
                        }
                    }
                }
                Field::DlVlan => {
                    wc &= !W_DL_VLAN;
                    b[18..20].copy_from_slice(&(v as u16).to_be_bytes());
                }
                Field::DlVlanPcp => {
                    wc &= !W_DL_VLAN_PCP;
                    b[20] = v as u8;
                }
                Field::EthType => {
                    wc &= !W_DL_TYPE;
                    b[22..24].copy_from_slice(&(v as u16).to_be_bytes());
                }
                Field::NwTos => {
                    wc &= !W_NW_TOS;
                    b[24] = v as u8;
                }
                Field::NwProto | Field::ArpOp => {
                    wc &= !W_NW_PROTO;
                    b[25] = v as u8;
                }
                Field::IpSrc | Field::ArpSpa | Field::IpDst | Field::ArpTpa => {
                    let m = f.mask.as_ref().map_or(u32::MAX, |m| m.to_u64() as u32);
                    let n = 32 - m.count_ones().min(32);
                    let (shift, off) = if matches!(f.field, Field::IpSrc | Field::ArpSpa) {
                        (8, 28)
                    } else {
                        (14, 32)
                    };
                    wc = (wc & !(0x3f << shift)) | (n << shift);
                    b[off..off + 4].copy_from_slice(&(v as u32).to_be_bytes());
                }
                Field::TcpSrc | Field::UdpSrc | Field::SctpSrc | Field::IcmpType => {
                    wc &= !W_TP_SRC;
                    b[36..38].copy_from_slice(&(v as u16).to_be_bytes());
                }
                Field::TcpDst | Field::UdpDst | Field::SctpDst | Field::IcmpCode => {
                    wc &= !W_TP_DST;
                    b[38..40].copy_from_slice(&(v as u16).to_be_bytes());
                }
                _ => {}
            }
        }
        b[0..4].copy_from_slice(&wc.to_be_bytes());
        out.extend_from_slice(&b);
    }

    /// True if every field can be expressed in an OpenFlow 1.0 `ofp_match`
    /// (otherwise an NX flow-mod is needed).
    pub fn fits_ofp10(&self) -> bool {
        self.fields.iter().all(|f| match f.field {
            Field::InPort
            | Field::EthSrc
            | Field::EthDst
            | Field::EthType
            | Field::DlVlan
            | Field::DlVlanPcp
            | Field::NwProto
            | Field::ArpOp
            | Field::TcpSrc
            | Field::UdpSrc
            | Field::SctpSrc
            | Field::IcmpType
            | Field::TcpDst
            | Field::UdpDst
            | Field::SctpDst
            | Field::IcmpCode => f.mask.is_none(),
            Field::NwTos => f.mask.is_none() && f.value.to_u64() & 3 == 0,
            Field::IpSrc | Field::IpDst | Field::ArpSpa | Field::ArpTpa => {
                f.mask.as_ref().is_none_or(|m| {
                    (m.to_u64() as u32).leading_ones() == (m.to_u64() as u32).count_ones()
                })
            }
            Field::VlanTci => {
                let m = f.mask.as_ref().map_or(0xffff, |m| m.to_u64() as u16);
                let v = f.value.to_u64() as u16;
                (m == 0xffff && v == 0)
                    || (v & 0x1000 != 0 && matches!(m, 0x1fff | 0xf000 | 0xffff))
            }
            _ => false,
        })
    }
}

/// Bytes in an OpenFlow 1.0 `ofp_match`.
pub const OFP10_MATCH_LEN: usize = 40;
const W_IN_PORT: u32 = 1 << 0;
const W_DL_VLAN: u32 = 1 << 1;
const W_DL_SRC: u32 = 1 << 2;
const W_DL_DST: u32 = 1 << 3;
const W_DL_TYPE: u32 = 1 << 4;
const W_NW_PROTO: u32 = 1 << 5;
const W_TP_SRC: u32 = 1 << 6;
const W_TP_DST: u32 = 1 << 7;
const W_DL_VLAN_PCP: u32 = 1 << 20;
const W_NW_TOS: u32 = 1 << 21;
const W_ALL_BITS: u32 = 0xff | W_DL_VLAN_PCP | W_NW_TOS;

/// Pads `out` with zeros so that the bytes after `start` are a multiple of 8.
pub(crate) fn pad8(out: &mut Vec<u8>, start: usize) {
    let n = out.len() - start;
    out.resize(start + n.div_ceil(8) * 8, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Match {
        let mut m = Match::new();
        m.set_exact(Field::InPort, Value::from_u16(3));
        m.set_exact(Field::EthType, Value::from_u16(0x0800));
        m.set(
            Field::IpDst,
            Value::from_u32(0xc612_0900),
            Some(Value::from_u32(0xffff_ff00)),
        );
        m.set_exact(Field::NwProto, Value::from_u8(6));
        m.set_exact(Field::TcpDst, Value::from_u16(80));
        m
    }

    #[test]
    fn of10_round_trip() {
        let m = sample();
        assert!(m.fits_ofp10());
        let mut b = Vec::new();
        m.encode_ofp10(&mut b);
        assert_eq!(b.len(), 40);
        let d = Match::decode_ofp10(&b).unwrap();
        let mut b2 = Vec::new();
        d.encode_ofp10(&mut b2);
        assert_eq!(b, b2);
        assert_eq!(d.get(Field::IpDst), m.get(Field::IpDst));
        assert_eq!(d.get(Field::TcpDst), m.get(Field::TcpDst));
    }

    #[test]
    fn oxm_round_trip_and_in_port() {
        let mut m = sample();
        m.set(
            Field::Reg3,
            Value::from_u32(0x10),
            Some(Value::from_u32(0xf0)),
        );
        m.set_exact(Field::CtState, Value::from_u32(0x21));
        m.set_exact(Field::TunMetadata3, Value::from_slice(&[1, 2, 3]));
        let mut b = Vec::new();
        m.encode_ofp12(Version::Of13, &mut b);
        assert_eq!(b.len() % 8, 0);
        // in_port goes out as 32-bit OXM_OF_IN_PORT
        assert_eq!(&b[4..12], &[0x80, 0, 0, 4, 0, 0, 0, 3]);
        let (d, n) = Match::decode_ofp12(&b).unwrap();
        assert_eq!(n, b.len());
        assert_eq!(d, m);
        let mut nx = Vec::new();
        m.encode_nxm_padded(&mut nx);
        assert_eq!(&nx[0..6], &[0, 0, 0, 2, 0, 3]);
    }

    #[test]
    fn prerequisites() {
        assert!(sample().check_prereqs().is_ok());
        let mut m = Match::new();
        m.set_exact(Field::TcpDst, Value::from_u16(80));
        assert_eq!(
            m.check_prereqs().unwrap_err().code,
            ErrorCode::OfpbmcBadPrereq
        );
        m.set_exact(Field::EthType, Value::from_u16(0x86dd));
        m.set_exact(Field::NwProto, Value::from_u8(6));
        assert!(m.check_prereqs().is_ok());
        let mut a = Match::new();
        a.set_exact(Field::ArpSpa, Value::from_u32(1));
        assert!(a.check_prereqs().is_err());
        a.set_exact(Field::EthType, Value::from_u16(0x0806));
        assert!(a.check_prereqs().is_ok());
    }

    #[test]
    fn rejects_bad_tlvs() {
        // duplicate field
        let b = [0x80, 0, 0x0a, 2, 8, 0, 0x80, 0, 0x0a, 2, 8, 0];
        assert_eq!(
            Match::decode_tlvs(&b).unwrap_err().code,
            ErrorCode::OfpbmcDupField
        );
        // wrong length for eth_type
        let b = [0x80, 0, 0x0a, 3, 8, 0, 0];
        assert_eq!(
            Match::decode_tlvs(&b).unwrap_err().code,
            ErrorCode::OfpbmcBadLen
        );
        // unknown field
        let b = [0x80, 0, 0x7e, 1, 0];
        assert_eq!(
            Match::decode_tlvs(&b).unwrap_err().code,
            ErrorCode::OfpbmcBadField
        );
    }
}
