//! OpenFlow errors: the typed decode error and the OFPT_ERROR (type, code).
//!
//! Every error OVS 3.1 knows is one [`ErrorCode`] (generated from OVS's
//! `ofp-errors.h`, see `table.rs`); each carries, per OpenFlow version, the
//! wire (type, code) or experimenter code.  A decoder that rejects input
//! returns a [`DecodeError`] whose `code` says exactly which OFPT_ERROR the
//! connection must answer with, via [`ErrorCode::to_wire`].  Lookups are a
//! direct index into a static table, no allocation.

mod table;

pub use table::{ErrorCode, ERRORS};

use crate::version::Version;

/// One version range of an error's wire encoding (a row of `table.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorSpec {
    /// First wire version (inclusive).
    pub min: u8,
    /// Last wire version (inclusive).
    pub max: u8,
    /// 0 for a standard (type, code); else the vendor/experimenter id: with
    /// `type_` 0xffff (OF1.2+) `code` is the experimenter's code; otherwise
    /// (OF1.0/1.1) the (type, code) travels inside an NXET_VENDOR error.
    pub vendor: u32,
    pub type_: u16,
    pub code: u16,
}

/// The (type, code) of an OFPT_ERROR message as it goes on the wire.
///
/// `experimenter` is 0 for standard errors; for experimenter errors
/// (`type_ == 0xffff`, OF1.2+) it holds the experimenter id and `code` is
/// the experimenter's code; in OF1.0/1.1 a non-zero `experimenter` means a
/// Nicira NXET_VENDOR error carrying `(type_, code)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfpError {
    pub type_: u16,
    pub code: u16,
    pub experimenter: u32,
}

impl ErrorCode {
    fn row(self) -> &'static (ErrorCode, &'static str, &'static [ErrorSpec]) {
        &ERRORS[self as usize]
    }

    /// OVS's name, e.g. `OFPBRC_BAD_LEN`.
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// Looks an error up by OVS's name.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ERRORS.iter().find(|r| r.1 == name).map(|r| r.0)
    }

    /// The wire form of this error in `version`, if that version has it.
    pub fn to_wire(self, version: Version) -> Option<OfpError> {
        let v = version.wire();
        self.row()
            .2
            .iter()
            .find(|s| s.min <= v && v <= s.max)
            .map(|s| OfpError {
                type_: s.type_,
                code: s.code,
                experimenter: s.vendor,
            })
    }

    /// The wire form in `version`, falling back to `NXBRC_UNENCODABLE_ERROR`
    /// when the version lacks this error, as OVS does.
    pub fn to_wire_or_fallback(self, version: Version) -> OfpError {
        self.to_wire(version)
            .or_else(|| ErrorCode::NxbrcUnencodableError.to_wire(version))
            .unwrap_or(OfpError {
                type_: 1,
                code: 6,
                experimenter: 0,
            })
    }

    /// The error a wire (type, code) means in `version`.  The first row that
    /// matches wins (OVS's rule for the few duplicated codes).
    pub fn from_wire(version: Version, e: OfpError) -> Option<ErrorCode> {
        let v = version.wire();
        ERRORS
            .iter()
            .find(|r| {
                r.2.iter().any(|s| {
                    s.min <= v
                        && v <= s.max
                        && s.code == e.code
                        && s.type_ == e.type_
                        && s.vendor == e.experimenter
                })
            })
            .map(|r| r.0)
    }
}

/// Why a decoder rejected its input: the OpenFlow error to answer with, plus
/// a short static note on what was being decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {}", code.name())]
pub struct DecodeError {
    pub code: ErrorCode,
    pub what: &'static str,
}

impl DecodeError {
    pub const fn new(code: ErrorCode, what: &'static str) -> DecodeError {
        DecodeError { code, what }
    }

    /// The OFPT_ERROR (type, code) the peer should receive in `version`.
    pub fn ofp_error(&self, version: Version) -> OfpError {
        self.code.to_wire_or_fallback(version)
    }
}

/// Shorthand used by all decoders: "message too short / bad length".
pub(crate) const fn bad_len(what: &'static str) -> DecodeError {
    DecodeError::new(ErrorCode::OfpbrcBadLen, what)
}

/// Result of every decoder in this crate.
pub type Result<T> = core::result::Result<T, DecodeError>;

/// Why an encoder could not put a `Repr` on the wire in some version
/// (e.g. an OpenFlow 1.5-only action asked for in OpenFlow 1.0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {what} in {version:?}")]
pub struct EncodeError {
    pub what: &'static str,
    pub version: Version,
}
