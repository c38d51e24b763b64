//! ferrovs-openflow: the OpenFlow wire protocol and the `ovs-ofctl` text syntax.
//!
//! A pure protocol crate, no switch logic: zero-copy views and `Repr`s for
//! OpenFlow 1.0, 1.3, 1.4 and 1.5 messages with Nicira extensions, OXM/NXM
//! matches, actions and instructions, and the parser and printer for the flow
//! syntax people type. Decoders never panic; every error maps to an
//! OFPT_ERROR type and code.
pub mod text;
