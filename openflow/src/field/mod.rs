//! Match fields: one static row per field OVS 3.1 knows.
//!
//! [`Field`] is a small `Copy` id whose discriminant indexes [`FIELDS`], so
//! every property (ovs-ofctl names, byte width, maskability, prerequisite,
//! print format, NXM/OXM headers) is one array load away.  The table is
//! generated from OVS's `meta-flow.h` (facts only) by `tools/gen_fields.py`.
//! Values are always kept in network byte order, `width` bytes long
//! (`tun_metadata*` may be shorter: their length is variable, 1..=124).

mod table;

pub use table::{Field, FIELDS, N_FIELDS};

use crate::version::Version;

/// How `ovs-ofctl` prints a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldFormat {
    Decimal,
    Hexadecimal,
    CtState,
    Ethernet,
    Ipv4,
    Ipv6,
    /// OpenFlow 1.0 port number (16 bits), printed by name when reserved.
    OfpPort,
    /// OpenFlow 1.1+ port number (32 bits).
    OfpPortOxm,
    /// `ip_frag`: `no`, `first`, `later`, `yes`, `not_later`.
    Frag,
    TunnelFlags,
    TcpFlags,
    PacketType,
}

/// What a flow must already match before it may match a field
/// (OVS `MFP_*`), e.g. `tcp_src` needs `ip,nw_proto=6` or IPv6 TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prereq {
    None,
    Ethernet,
    Arp,
    VlanVid,
    Ipv4,
    Ipv6,
    IpAny,
    Nsh,
    CtValid,
    Mpls,
    Tcp,
    Udp,
    Sctp,
    Icmpv4,
    Icmpv6,
    Nd,
    NdSolicit,
    NdAdvert,
}

/// One NXM/OXM assignment of a field.
///
/// Classes: 0x0000 `NXM_OF_*`, 0x0001 `NXM_NX_*`, 0x8000 OpenFlow basic,
/// 0x8001 packet registers (xreg), 0x1000 Ericsson, 0xffff experimenter
/// (then `experimenter` is the id: Nicira 0x00002320, ONF 0x4f4e4600,
/// NSH 0x005ad650).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OxmHeaderDef {
    /// OVS's name, e.g. `NXM_OF_ETH_SRC`, `OXM_OF_IN_PORT`, `NXM_NX_REG0`.
    pub name: &'static str,
    pub class: u16,
    pub experimenter: u32,
    pub field: u8,
    /// OpenFlow version that standardised it (OXM rows); `None` for NXM rows
    /// and experimenter rows that any version may carry.
    pub since: Option<Version>,
}

impl OxmHeaderDef {
    /// True for NXM (Nicira classes 0 and 1), usable in every version.
    pub fn is_nxm(&self) -> bool {
        self.class <= 1
    }
}

/// Everything known about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    pub field: Field,
    /// Canonical ovs-ofctl name, e.g. `eth_src`, `reg3`, `tun_metadata7`.
    pub name: &'static str,
    /// Second accepted name, e.g. `dl_src` for `eth_src`.
    pub extra_name: Option<&'static str>,
    /// Value width in bytes (maximum, for variable-length fields).
    pub width: u8,
    /// Meaningful low-order bits (e.g. 12 for `tcp_flags`, 20 for `mpls_label`).
    pub bits: u16,
    /// `tun_metadata*`: the wire length varies with the TLV mapping.
    pub variable: bool,
    /// Arbitrary bitwise masks allowed.
    pub maskable: bool,
    pub format: FieldFormat,
    pub prereq: Prereq,
    /// Settable by set_field/load/move.
    pub writable: bool,
    /// NXM and OXM assignments, NXM first.
    pub headers: &'static [OxmHeaderDef],
}

impl Field {
    /// All properties of this field.
    #[inline]
    pub fn info(self) -> &'static FieldInfo {
        &FIELDS[self as usize]
    }

    /// Canonical ovs-ofctl name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Field by its discriminant (the index in [`FIELDS`]).
    pub fn from_index(i: usize) -> Option<Field> {
        FIELDS.get(i).map(|f| f.field)
    }

    /// Field by ovs-ofctl name or extra name (`dl_src`, `nw_src`, `tp_src`, ...).
    /// Exact, case-sensitive, as OVS.
    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS
            .iter()
            .find(|f| f.name == name || f.extra_name == Some(name))
            .map(|f| f.field)
    }

    /// Field by its NXM/OXM name as ovs-ofctl writes it in `move`/`load`
    /// (`NXM_OF_ETH_SRC`, `NXM_NX_REG0`, `OXM_OF_IN_PORT`...).
    pub fn from_nxm_name(name: &str) -> Option<Field> {
        let h = crate::oxm::header_by_name(name)?;
        Field::from_header(h)
    }

    /// Field for a class/field/experimenter triple (the 32-bit header without
    /// length and hasmask).  `OXM_OF_IN_PORT` maps to [`Field::InPortOxm`].
    pub fn from_header(h: crate::oxm::OxmHeader) -> Option<Field> {
        crate::oxm::field_for_header(h)
    }

    /// The NXM header (class 0 or 1), if the field has one.
    pub fn nxm_header(self) -> Option<&'static OxmHeaderDef> {
        self.info().headers.iter().find(|h| h.is_nxm())
    }

    /// The header OVS 3.1 uses for this field: `oxm_version` is `None` in an
    /// NXM match (NX flow-mod, OF1.0 extensions) and `Some(v)` in an OXM match
    /// of version `v`.  OVS's rule: the last listed assignment whose
    /// standardising version is not newer than the one asked for (NXM and
    /// experimenter rows count as version 0), else the first.
    pub fn header_for(self, oxm_version: Option<Version>) -> Option<&'static OxmHeaderDef> {
        let v = oxm_version.map_or(0, |v| v.wire());
        let hs = self.info().headers;
        let mut best = hs.first()?;
        for h in &hs[1..] {
            if v >= h.since.map_or(0, |s| s.wire()) {
                best = h;
            }
        }
        Some(best)
    }

    /// `reg0`..`reg15` for `n` in 0..16.
    pub fn reg(n: u8) -> Option<Field> {
        (n < 16)
            .then(|| Field::from_index(Field::Reg0 as usize + n as usize))
            .flatten()
    }
    /// `xreg0`..`xreg7`.
    pub fn xreg(n: u8) -> Option<Field> {
        (n < 8)
            .then(|| Field::from_index(Field::Xreg0 as usize + n as usize))
            .flatten()
    }
    /// `xxreg0`..`xxreg3`.
    pub fn xxreg(n: u8) -> Option<Field> {
        (n < 4)
            .then(|| Field::from_index(Field::Xxreg0 as usize + n as usize))
            .flatten()
    }
    /// `tun_metadata0`..`tun_metadata63`.
    pub fn tun_metadata(n: u8) -> Option<Field> {
        (n < 64)
            .then(|| Field::from_index(Field::TunMetadata0 as usize + n as usize))
            .flatten()
    }
    /// The index of a `tun_metadata<N>` field.
    pub fn tun_metadata_index(self) -> Option<u8> {
        let i = self as usize;
        let b = Field::TunMetadata0 as usize;
        (b..b + 64).contains(&i).then(|| (i - b) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_discriminant() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.field as usize, i, "{}", f.name);
        }
        assert_eq!(N_FIELDS, 183);
    }

    #[test]
    fn names_and_shorthands() {
        assert_eq!(Field::from_name("dl_src"), Some(Field::EthSrc));
        assert_eq!(Field::from_name("nw_dst"), Some(Field::IpDst));
        assert_eq!(Field::from_name("tp_src"), Some(Field::TcpSrc));
        assert_eq!(Field::from_name("tunnel_id"), Some(Field::TunId));
        assert_eq!(Field::from_name("reg15"), Some(Field::Reg15));
        assert_eq!(Field::reg(15), Some(Field::Reg15));
        assert_eq!(Field::tun_metadata(63), Some(Field::TunMetadata63));
        assert_eq!(Field::TunMetadata7.tun_metadata_index(), Some(7));
        assert_eq!(Field::from_name("nosuch"), None);
    }

    #[test]
    fn widths_and_properties() {
        let t = Field::TcpFlags.info();
        assert_eq!(
            (t.width, t.bits, t.maskable, t.prereq),
            (2, 12, true, Prereq::Tcp)
        );
        assert_eq!(Field::CtLabel.info().width, 16);
        assert!(Field::TunMetadata0.info().variable);
        assert_eq!(Field::TunMetadata0.info().width, 124);
        assert!(!Field::InPort.info().maskable);
        assert_eq!(Field::InPort.info().width, 2);
        assert_eq!(Field::InPortOxm.info().width, 4);
    }

    #[test]
    fn header_choice_per_version() {
        let h = Field::EthSrc.header_for(Some(Version::Of13)).unwrap();
        assert_eq!((h.class, h.field), (0x8000, 4));
        let h = Field::EthSrc.header_for(None).unwrap();
        assert_eq!((h.class, h.field), (0x0000, 2));
        let h = Field::TcpFlags.header_for(Some(Version::Of13)).unwrap();
        assert_eq!((h.class, h.experimenter, h.field), (0xffff, 0x4f4e4600, 42));
        let h = Field::TcpFlags.header_for(None).unwrap();
        assert_eq!((h.class, h.field), (0x0001, 34));
        let h = Field::TcpFlags.header_for(Some(Version::Of15)).unwrap();
        assert_eq!((h.class, h.field), (0x8000, 42));
        let h = Field::Xreg3.header_for(Some(Version::Of13)).unwrap();
        assert_eq!((h.class, h.field), (0x8001, 3));
    }
}
