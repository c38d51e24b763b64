//! Flow keys: layout, the compact key (and its packed form for
//! megaflows), and extraction from packets.

pub mod extract;
pub mod key;
pub mod layout;
pub mod odp_text;
pub mod packed;

pub use extract::{extract, extract_parts, extract_parts_general};
pub use key::{Flow, FlowKey, KeyWords, MapIter};
pub use layout::Field;
pub use packed::PackedKey;
