//! Subfields: `NXM_NX_REG0[0..15]`, `NXM_OF_ETH_DST[]`, `reg0[5]`, `reg0`.
//!
//! A subfield is a field plus a bit range (offset, width); it is how
//! `move`, `load`, `learn`, `output:` and `ct(zone=...)` name the bits they
//! read or write. Printing uses the field's NXM name when it has one, else
//! its OXM name, as OVS's `mf_format_subfield` does.

use super::error::ParseError;
use super::field::{by_wire_name, Field};

#[derive(Debug, Clone, Copy)]
pub struct Subfield {
    pub field: &'static Field,
    pub ofs: u16,
    pub n_bits: u16,
}

impl PartialEq for Subfield {
    fn eq(&self, o: &Self) -> bool {
        std::ptr::eq(self.field, o.field) && self.ofs == o.ofs && self.n_bits == o.n_bits
    }
}
impl Eq for Subfield {}

impl Subfield {
    pub fn whole(field: &'static Field) -> Subfield {
        Subfield {
            field,
            ofs: 0,
            n_bits: field.bits,
        }
    }

    pub fn is_whole(&self) -> bool {
        self.ofs == 0 && self.n_bits == self.field.bits
    }

    /// Parses `NAME[]`, `NAME[a..b]`, `NAME[a]` or a bare `NAME`.
    pub fn parse(s: &str) -> Result<Subfield, ParseError> {
        let s = s.trim();
        let (name, range) = match s.find('[') {
            Some(i) => {
                let r = s[i + 1..]
                    .strip_suffix(']')
                    .ok_or_else(|| ParseError::bad("subfield", s))?;
                (&s[..i], Some(r))
            }
            None => (s, None),
        };
        let field = by_wire_name(name).ok_or_else(|| ParseError::bad("subfield", s))?;
        let (ofs, n_bits) = match range {
            None | Some("") => (0, field.bits),
            Some(r) => {
                let num = |x: &str| -> Result<u16, ParseError> {
                    x.trim()
                        .parse::<u16>()
                        .map_err(|_| ParseError::bad("subfield", s))
                };
                let (a, b) = match r.split_once("..") {
                    Some((a, b)) => (num(a)?, num(b)?),
                    None => {
                        let a = num(r)?;
                        (a, a)
                    }
                };
                if b < a || b >= field.bits {
                    return Err(ParseError::bad("subfield", s));
                }
                (a, b - a + 1)
            }
        };
        Ok(Subfield { field, ofs, n_bits })
    }

    /// OVS's `mf_format_subfield`.
    pub fn format(&self) -> String {
        let name = self.field.subfield_name();
        if self.is_whole() {
            format!("{name}[]")
        } else if self.n_bits == 1 {
            format!("{name}[{}]", self.ofs)
        } else {
            format!("{name}[{}..{}]", self.ofs, self.ofs + self.n_bits - 1)
        }
    }
}
