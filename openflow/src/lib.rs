//! ferrovs-openflow: the OpenFlow wire protocol and the `ovs-ofctl` text syntax.
//!
//! A pure protocol crate, no switch logic: zero-copy views and `Repr`s for
//! OpenFlow 1.0, 1.3, 1.4 and 1.5 messages with Nicira extensions, OXM/NXM
//! matches, actions and instructions, and the parser and printer for the flow
//! syntax people type. Decoders never panic; every error maps to an
//! OFPT_ERROR type and code.
//!
//! # API shape (for the text side and for ofproto)
//!
//! - [`Field`] (module [`field`]): a `Copy` id for every match field OVS 3.1
//!   knows; `field.info()` gives its [`FieldInfo`]: ovs-ofctl `name` and
//!   `extra_name` (shorthand such as `dl_src`), `width` in bytes, `bits`,
//!   `maskable`, [`Prereq`], print [`FieldFormat`], `writable`, and its
//!   NXM/OXM `headers` (with OVS names like `NXM_NX_REG0` for `move`/`load`).
//!   Look-ups: [`Field::from_name`], [`Field::from_nxm_name`], [`Field::reg`]...
//! - [`Value`]: a field value or mask, network-order bytes of the field's
//!   width (`Value::from_u16`, `to_u128`, `as_bytes`).
//! - [`Match`]: `fields: Vec<MatchField { field, value, mask: Option<Value> }>`
//!   with `set`/`get`/`remove`.  Wire forms: `decode_ofp10`/`encode_ofp10`,
//!   `decode_ofp12`/`encode_ofp12` (OXM), `decode_tlvs`/`encode_tlvs` (NXM).
//!   `in_port` is always [`Field::InPort`] with a 16-bit value.
//! - [`Action`] (module [`action`]): one enum for every action, version
//!   independent; ports are 16-bit [`PortNo`]s (module [`port`] converts).
//!   Sub-structs: [`action::Subfield`], `Learn`, `Ct`, `Nat`, `Controller`...
//!   [`action::decode_actions`]/[`action::encode_actions`] take a [`Version`].
//! - [`Instruction`]: goto_table, write_metadata, write/apply/clear actions,
//!   meter.  OpenFlow 1.0 and NX flow-mods hold `[ApplyActions(list)]`.
//! - [`message::FlowMod`]: version-independent flow-mod (`decode_of10`,
//!   `decode_of11`, `decode_nx` and the matching `encode_*`), and
//!   [`message::Message`] for every message with `decode`/`encode`.
//! - [`view`]: zero-copy checked views (`MessageView`, `MessageSplitter`,
//!   `FlowModView`, `OxmIter`, `ActionIter`) for code that needs a few fields.
//! - Errors: [`DecodeError`] `{ code: ErrorCode, what }`;
//!   `ErrorCode::to_wire(version)` gives the [`OfpError`] `{type_, code}`.

pub mod action;
pub mod error;
pub mod field;
pub mod instruction;
#[path = "match.rs"]
pub mod r#match;
pub mod message;
pub mod oxm;
pub mod port;
pub mod text;
pub mod value;
pub mod version;
pub mod view;
pub(crate) mod wire;

pub use action::Action;
pub use error::{DecodeError, EncodeError, ErrorCode, OfpError};
pub use field::{Field, FieldFormat, FieldInfo, Prereq};
pub use instruction::Instruction;
pub use port::PortNo;
pub use r#match::{Match, MatchField};
pub use value::Value;
pub use version::Version;
