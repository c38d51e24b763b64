//! Flow keys: layout, the compact key, and extraction from packets.

pub mod extract;
pub mod key;
pub mod layout;

pub use extract::{extract, extract_parts};
pub use key::{Flow, FlowKey, MapIter};
pub use layout::Field;
