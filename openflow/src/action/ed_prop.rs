//! Encap/decap properties (`ofp_ed_prop`), the TLVs after an
//! `NXAST_ENCAP` action: for NSH, the MD type and MD type 2 context TLVs.
//!
//! [`Action::Encap`](super::Action::Encap) keeps them as raw bytes so that
//! re-encoding is exact; [`EdProp::decode_list`] is the one reader, used to
//! check them at decode time (with OVS's errors) and by the text printer.
//! Wire form of each: class (2), type (1), len (1, unpadded), then the body,
//! the whole padded to 8 bytes.

use crate::error::{DecodeError, ErrorCode, Result};

/// `OFPPPC_NSH`.
pub const ED_PROP_CLASS_NSH: u16 = 4;
const NSH_MD_TYPE: u8 = 1;
const NSH_TLV: u8 = 2;

/// Packet types an encap may push (OVS's `PT_*`: namespace << 16 | type).
pub const PT_ETH: u32 = 0;
pub const PT_NSH: u32 = 0x1_894f;
pub const PT_MPLS: u32 = 0x1_8847;
pub const PT_MPLS_MC: u32 = 0x1_8848;
/// `decap()` without a packet type: use the header's next protocol.
pub const PT_USE_NEXT_PROTO: u32 = 0x1_fffe;

/// One encap property.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EdProp {
    /// `md_type=N`.
    NshMdType(u8),
    /// `tlv(CLASS,TYPE,VALUE)`: an MD type 2 context TLV.
    NshTlv { class: u16, ty: u8, value: Vec<u8> },
}

fn bad(code: ErrorCode, what: &'static str) -> DecodeError {
    DecodeError::new(code, what)
}

impl EdProp {
    /// Reads a property list as OVS's `decode_ed_prop` does, with its
    /// errors: a length below the header or past the end is
    /// `OFPBAC_BAD_LEN`, an inconsistent NSH property `NXBAC_BAD_ED_PROP`,
    /// any other class or type `NXBAC_UNKNOWN_ED_PROP`.
    pub fn decode_list(mut b: &[u8]) -> Result<Vec<EdProp>> {
        let mut out = Vec::new();
        while !b.is_empty() {
            if b.len() < 4 {
                return Err(bad(ErrorCode::OfpbacBadLen, "ed_prop header"));
            }
            let class = u16::from_be_bytes([b[0], b[1]]);
            let ty = b[2];
            let len = b[3] as usize;
            let padded = len.div_ceil(8) * 8;
            if len < 4 || padded > b.len() {
                return Err(bad(ErrorCode::OfpbacBadLen, "ed_prop length"));
            }
            let p = match (class, ty) {
                (ED_PROP_CLASS_NSH, NSH_MD_TYPE) => {
                    // type, code, len + md_type, then padding.
                    if len > 8 {
                        return Err(bad(ErrorCode::NxbacBadEdProp, "nsh md_type"));
                    }
                    // (OVS reads the byte after the header even when the
                    // length stops before it: it is the padding then.)
                    EdProp::NshMdType(b[4])
                }
                (ED_PROP_CLASS_NSH, NSH_TLV) => {
                    if len < 8 {
                        return Err(bad(ErrorCode::NxbacBadEdProp, "nsh tlv"));
                    }
                    let tlv_len = b[7] as usize;
                    if len != 8 + tlv_len.div_ceil(8) * 8 {
                        return Err(bad(ErrorCode::NxbacBadEdProp, "nsh tlv length"));
                    }
                    EdProp::NshTlv {
                        class: u16::from_be_bytes([b[4], b[5]]),
                        ty: b[6],
                        value: b[8..8 + tlv_len].to_vec(),
                    }
                }
                _ => return Err(bad(ErrorCode::NxbacUnknownEdProp, "ed_prop")),
            };
            out.push(p);
            b = &b[padded..];
        }
        Ok(out)
    }

    /// Appends the wire form (padded to 8 bytes), as OVS encodes it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&ED_PROP_CLASS_NSH.to_be_bytes());
        match self {
            EdProp::NshMdType(t) => {
                out.extend_from_slice(&[NSH_MD_TYPE, 5, *t]);
            }
            EdProp::NshTlv { class, ty, value } => {
                let padded = value.len().div_ceil(8) * 8;
                out.extend_from_slice(&[NSH_TLV, (8 + padded) as u8]);
                out.extend_from_slice(&class.to_be_bytes());
                out.extend_from_slice(&[*ty, value.len() as u8]);
                out.extend_from_slice(value);
            }
        }
        let n = out.len() - start;
        out.resize(start + n.div_ceil(8) * 8, 0);
    }
}

/// Whether OVS can push a header of this packet type
/// (`NXBAC_BAD_HEADER_TYPE` otherwise).
pub fn encap_type_supported(pt: u32) -> bool {
    matches!(pt, PT_ETH | PT_NSH | PT_MPLS | PT_MPLS_MC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsh_props_as_ovs_encodes_them() {
        // Bytes recorded from ovs-ofctl: md_type=2 and tlv(0x1000,10,0x12345678).
        let wire = hex_bytes("00040105020000000004021010000a041234567800000000");
        let props = EdProp::decode_list(&wire).unwrap();
        assert_eq!(
            props,
            vec![
                EdProp::NshMdType(2),
                EdProp::NshTlv {
                    class: 0x1000,
                    ty: 10,
                    value: vec![0x12, 0x34, 0x56, 0x78]
                }
            ]
        );
        let mut again = Vec::new();
        for p in &props {
            p.encode(&mut again);
        }
        assert_eq!(again, wire);
        // Unknown class, bad lengths.
        assert_eq!(
            EdProp::decode_list(&hex_bytes("0001010500000000"))
                .unwrap_err()
                .code,
            ErrorCode::NxbacUnknownEdProp
        );
        assert_eq!(
            EdProp::decode_list(&hex_bytes("0004010900000000"))
                .unwrap_err()
                .code,
            ErrorCode::OfpbacBadLen
        );
        assert_eq!(
            EdProp::decode_list(&hex_bytes("0004021010000a0812345678"))
                .unwrap_err()
                .code,
            ErrorCode::OfpbacBadLen
        );
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
