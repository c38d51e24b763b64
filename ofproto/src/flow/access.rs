//! Reading and writing one OpenFlow field of an [`OfFlow`]: what
//! translation's `set_field`, `load`, `move` and register reads use, and
//! the megaflow bits a field occupies.
//!
//! Values are [`Value`]s of the field's width in network order, as in the
//! codec. The few fields with side effects behave as OVS's `mf_set_value`
//! on a flow: `dl_vlan` and `vlan_pcp` also set the tag-present bit (and
//! `dl_vlan=0xffff` removes the tag), `nw_tos` keeps the ECN bits,
//! `in_port_oxm` converts OpenFlow 1.1 port numbers.

use ferrovs_datapath::flow::layout as dp;
use ferrovs_openflow::{port, Field, Value};

use super::place::{md_byte, put_md_bytes, tun_metadata_span};
use super::{place, OfFlow, Place, PlaceError, TlvMap, W_TUN_MD_PRESENT};

/// Converts a field's wire value to the value its place holds
/// (`in_port_oxm`: a 32-bit port number to the 16-bit one stored).
pub(crate) fn normalize_in(field: Field, v: &Value, m: Option<&Value>) -> (Value, Option<Value>) {
    if field == Field::InPortOxm {
        let p = port::from_ofp11(v.to_u64() as u32).unwrap_or(port::OFPP_NONE);
        return (Value::from_u32(p as u32), None);
    }
    (v.clone(), m.cloned())
}

fn width(field: Field) -> usize {
    field.info().width as usize
}

impl OfFlow {
    /// The value of `field` (no tunnel option mapped).
    pub fn get_field(&self, field: Field) -> Result<Value, PlaceError> {
        self.get_field_tlv(field, &TlvMap::EMPTY)
    }

    /// The value of `field`; `tun_metadata<n>` is read where `tlv` maps it
    /// (all zeros if the packet did not carry the option, as OVS).
    pub fn get_field_tlv(&self, field: Field, tlv: &TlvMap) -> Result<Value, PlaceError> {
        let (w, s) = (dp::W_VLAN, dp::VLAN0_TCI.shift as u32);
        let v: u128 = match place(field)? {
            Place::Bits { word, shift, bits } => {
                let v = self.bits(word as usize, shift as u32, bits as u32);
                if field == Field::InPortOxm {
                    port::to_ofp11(v as u16) as u128
                } else {
                    v as u128
                }
            }
            Place::Wide { word } => {
                (self.0[word as usize] as u128) << 64 | self.0[word as usize + 1] as u128
            }
            Place::DlVlan => (self.bits(w, s, 16) & 0xfff) as u128,
            Place::VlanPcp => (self.bits(w, s, 16) >> 13 & 7) as u128,
            Place::NwTos => (self.bits(dp::W_NW_MISC, dp::NW_TOS.shift as u32, 8) & 0xfc) as u128,
            Place::TunMetadata(n) => {
                let (off, len) = tun_metadata_span(n, tlv)?;
                if self.0[W_TUN_MD_PRESENT] >> n & 1 == 0 {
                    return Ok(Value::zeroed(len));
                }
                let b: Vec<u8> = (off..off + len).map(|i| md_byte(self, i)).collect();
                return Ok(Value::from_slice(&b));
            }
        };
        Ok(Value::from_u128_width(v, width(field)))
    }

    /// Sets `field` to `v` (no tunnel option mapped).
    pub fn set_field(&mut self, field: Field, v: &Value) -> Result<(), PlaceError> {
        self.set_field_tlv(field, v, &TlvMap::EMPTY)
    }

    /// Sets `field` to `v`; `tun_metadata<n>` is written where `tlv` maps
    /// it and marked present.
    pub fn set_field_tlv(
        &mut self,
        field: Field,
        v: &Value,
        tlv: &TlvMap,
    ) -> Result<(), PlaceError> {
        let (w, s) = (dp::W_VLAN, dp::VLAN0_TCI.shift as u32);
        let bad = PlaceError::BadValue(field.name());
        match place(field)? {
            Place::Bits { word, shift, bits } => {
                let mut x = v.to_u128();
                if field == Field::InPortOxm {
                    x = port::from_ofp11(x as u32).map_err(|_| bad)? as u128;
                }
                if x > super::low_mask(bits as u32) as u128 {
                    return Err(bad);
                }
                self.set_bits(word as usize, shift as u32, bits as u32, x as u64);
            }
            Place::Wide { word } => {
                let x = v.to_u128();
                self.0[word as usize] = (x >> 64) as u64;
                self.0[word as usize + 1] = x as u64;
            }
            Place::DlVlan => {
                let x = v.to_u64();
                let tci = self.bits(w, s, 16);
                let tci = match x {
                    0xffff => 0,
                    0..=0xfff => (tci & !0x1fff) | 0x1000 | x,
                    _ => return Err(bad),
                };
                self.set_bits(w, s, 16, tci);
            }
            Place::VlanPcp => {
                let x = v.to_u64();
                if x > 7 {
                    return Err(bad);
                }
                let tci = self.bits(w, s, 16);
                self.set_bits(w, s, 16, (tci & !0xe000) | 0x1000 | x << 13);
            }
            Place::NwTos => {
                let x = v.to_u64();
                if x > 0xff {
                    return Err(bad);
                }
                let sh = dp::NW_TOS.shift as u32;
                let tos = self.bits(dp::W_NW_MISC, sh, 8);
                self.set_bits(dp::W_NW_MISC, sh, 8, (tos & 3) | (x & 0xfc));
            }
            Place::TunMetadata(n) => {
                let (off, len) = tun_metadata_span(n, tlv)?;
                put_md_bytes(self, off, len, v.as_bytes(), 0).map_err(|_| bad)?;
                self.0[W_TUN_MD_PRESENT] |= 1 << n;
            }
        }
        Ok(())
    }

    /// Sets the bits of `field` selected by `mask` to those of `v` (a
    /// `load` or `move` into a subfield), leaving the others.
    pub fn set_field_masked(
        &mut self,
        field: Field,
        v: &Value,
        mask: &Value,
        tlv: &TlvMap,
    ) -> Result<(), PlaceError> {
        let old = self.get_field_tlv(field, tlv)?;
        let n = old.len();
        let at = |x: &Value, i: usize| -> u8 {
            // Right-aligned byte i of an n-byte value.
            let b = x.as_bytes();
            let pad = n as isize - b.len() as isize;
            let j = i as isize - pad;
            if j < 0 {
                0
            } else {
                b[j as usize]
            }
        };
        let new: Vec<u8> = (0..n)
            .map(|i| (old.as_bytes()[i] & !at(mask, i)) | (at(v, i) & at(mask, i)))
            .collect();
        self.set_field_tlv(field, &Value::from_slice(&new), tlv)
    }

    /// The bits `field` occupies (what a translation that reads or writes
    /// it must un-wildcard in the megaflow).
    pub fn field_mask(field: Field, tlv: &TlvMap) -> Result<OfFlow, PlaceError> {
        let mut v = OfFlow::default();
        let mut m = OfFlow::default();
        let zero = Value::zeroed(width(field));
        place(field)?.apply(&mut v, &mut m, &zero, None, tlv)?;
        Ok(m)
    }
}
