//! VXLAN header (RFC 7348) with the Group Based Policy extension
//! (draft-smith-vxlan-group-policy): a view and a [`VxlanRepr`].
//!
//! Eight bytes: a flags word (I = VNI valid; with GBP also G, D, A and a
//! 16-bit group policy ID in the low half) and the 24-bit VNI followed by a
//! reserved byte. `parse` is strict as OVS's receive side is: the I flag
//! must be set, reserved bits and the reserved byte must be zero, and GBP
//! bits are accepted only with G set.

use super::{be32, put_be32, WireError};

pub const VXLAN_HLEN: usize = 8;
pub const VXLAN_PORT: u16 = 4789;
/// "VNI valid" flag in the first word.
pub const VXLAN_F_I: u32 = 0x0800_0000;
/// GBP: group policy present.
pub const VXLAN_F_G: u32 = 0x8000_0000;
/// GBP: don't learn.
pub const VXLAN_F_D: u32 = 0x0040_0000;
/// GBP: policy applied.
pub const VXLAN_F_A: u32 = 0x0008_0000;

#[derive(Debug, Clone, Copy)]
pub struct VxlanHeader<'a> {
    buf: &'a [u8],
}

impl<'a> VxlanHeader<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < VXLAN_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(VxlanHeader { buf })
    }
    /// The whole first word (printed as `flags=` by OVS).
    pub fn flags(&self) -> u32 {
        be32(self.buf, 0)
    }
    pub fn vni(&self) -> u32 {
        be32(self.buf, 4) >> 8
    }
    pub fn reserved2(&self) -> u8 {
        self.buf[7]
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[VXLAN_HLEN..]
    }
}

/// Group Based Policy fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VxlanGbp {
    /// "Don't learn" (D) bit.
    pub dont_learn: bool,
    /// "Policy applied" (A) bit.
    pub applied: bool,
    pub policy_id: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanRepr {
    /// 24 bits.
    pub vni: u32,
    pub gbp: Option<VxlanGbp>,
}

impl VxlanRepr {
    pub fn parse(h: &VxlanHeader<'_>) -> Result<VxlanRepr, WireError> {
        let f = h.flags();
        if f & VXLAN_F_I == 0 || h.reserved2() != 0 {
            return Err(WireError::Malformed);
        }
        let gbp = if f & VXLAN_F_G != 0 {
            if f & !(VXLAN_F_I | VXLAN_F_G | VXLAN_F_D | VXLAN_F_A | 0xffff) != 0 {
                return Err(WireError::Malformed);
            }
            Some(VxlanGbp {
                dont_learn: f & VXLAN_F_D != 0,
                applied: f & VXLAN_F_A != 0,
                policy_id: f as u16,
            })
        } else {
            if f != VXLAN_F_I {
                return Err(WireError::Malformed);
            }
            None
        };
        Ok(VxlanRepr { vni: h.vni(), gbp })
    }
    /// The first word as it goes on the wire.
    pub fn flags_word(&self) -> u32 {
        match self.gbp {
            None => VXLAN_F_I,
            Some(g) => {
                VXLAN_F_I
                    | VXLAN_F_G
                    | if g.dont_learn { VXLAN_F_D } else { 0 }
                    | if g.applied { VXLAN_F_A } else { 0 }
                    | g.policy_id as u32
            }
        }
    }
    /// Writes the 8 bytes into `buf[..8]`; `Truncated` if it is shorter.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        if buf.len() < VXLAN_HLEN {
            return Err(WireError::Truncated);
        }
        put_be32(buf, 0, self.flags_word());
        put_be32(buf, 4, (self.vni & 0x00ff_ffff) << 8);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_plain_and_gbp() {
        for r in [
            VxlanRepr {
                vni: 0x7b,
                gbp: None,
            },
            VxlanRepr {
                vni: 0xff_ffff,
                gbp: None,
            },
            VxlanRepr {
                vni: 0x159,
                gbp: Some(VxlanGbp {
                    dont_learn: true,
                    applied: false,
                    policy_id: 3,
                }),
            },
        ] {
            let mut b = [0u8; 8];
            r.emit(&mut b).unwrap();
            let h = VxlanHeader::new_checked(&b).unwrap();
            assert_eq!(VxlanRepr::parse(&h).unwrap(), r);
        }
        // G and I in the first byte, the policy ID in the low 16 bits.
        let mut b = [0u8; 8];
        VxlanRepr {
            vni: 1,
            gbp: Some(VxlanGbp {
                dont_learn: false,
                applied: false,
                policy_id: 3,
            }),
        }
        .emit(&mut b)
        .unwrap();
        assert_eq!(&b[..4], &[0x88, 0x00, 0x00, 0x03]);
    }

    #[test]
    fn strict_flags() {
        let h = |b: &[u8]| VxlanRepr::parse(&VxlanHeader::new_checked(b).unwrap());
        assert_eq!(h(&[0, 0, 0, 0, 0, 0, 1, 0]), Err(WireError::Malformed));
        assert_eq!(h(&[8, 0, 0, 0, 0, 0, 1, 1]), Err(WireError::Malformed));
        assert_eq!(h(&[8, 1, 0, 0, 0, 0, 1, 0]), Err(WireError::Malformed));
        assert_eq!(h(&[8, 0, 0, 0, 0, 0, 1, 0]).unwrap().vni, 1);
        assert!(VxlanHeader::new_checked(&[8, 0, 0]).is_err());
    }
}
