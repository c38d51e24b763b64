//! The `ovs-ofctl` flow syntax: parsing and canonical printing.
//!
//! `parse_flow` reads a flow line as `ovs-ofctl add-flow` does into a
//! [`FlowText`] (flow-mod header fields, a [`FlowMatch`] and a list of
//! [`Action`]s); `FlowText::format` prints it as `ovs-ofctl dump-flows
//! --no-stats` does. [`normalize`] rewrites a flow into the form it takes
//! after a round trip through a switch in a given OpenFlow version, which
//! is what `dump-flows -O <version>` shows. Parse errors are typed
//! ([`ParseError`]) and name the offending token.
//!
//! The layers, bottom up: `lexer` (items of `key=value` lists, zero-copy),
//! `value` (numbers, addresses, ports, flags), `field` (the field table),
//! `subfield`, `flow_match`, `action` + `action_parse` (+ `encap`), `flow`,
//! `normalize`; `group` and `meter` for `add-group`/`add-meter` text.

pub mod action;
pub mod action_parse;
pub mod encap;
pub mod error;
pub mod field;
pub mod flow;
pub mod flow_match;
pub mod group;
pub mod lexer;
pub mod meter;
pub mod normalize;
pub mod ofp_print;
pub mod subfield;
pub mod value;
pub mod wire;

pub use action::Action;
pub use action_parse::parse_actions;
pub use error::ParseError;
pub use flow::FlowText;
pub use flow_match::FlowMatch;
pub use group::GroupText;
pub use meter::MeterText;
pub use normalize::{normalize, normalize_between, usable_in, Inexpressible, WireVersion};

/// Parses one `ovs-ofctl add-flow` line.
pub fn parse_flow(s: &str) -> Result<FlowText, ParseError> {
    FlowText::parse(s, true)
}
