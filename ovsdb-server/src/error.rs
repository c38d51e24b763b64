//! The RFC 7047 error object: a short tag (`"constraint violation"`,
//! `"syntax error"`, ...) plus free-form details.
//!
//! Every failure inside the engine is one `OvsdbError`; the JSON-RPC layer
//! turns it into `{"error": tag, "details": text}` exactly as ovsdb-server
//! does, so clients that match on the tag keep working.

use serde_json::{json, Value};

/// An RFC 7047 error: `tag` is the machine-readable `"error"` member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tag}: {details}")]
pub struct OvsdbError {
    pub tag: &'static str,
    pub details: String,
}

impl OvsdbError {
    pub fn new(tag: &'static str, details: impl Into<String>) -> Self {
        OvsdbError {
            tag,
            details: details.into(),
        }
    }
    pub fn syntax(details: impl Into<String>) -> Self {
        Self::new("syntax error", details)
    }
    pub fn constraint(details: impl Into<String>) -> Self {
        Self::new("constraint violation", details)
    }
    pub fn refint(details: impl Into<String>) -> Self {
        Self::new("referential integrity violation", details)
    }
    pub fn to_json(&self) -> Value {
        json!({"error": self.tag, "details": self.details})
    }
}

pub type Result<T> = std::result::Result<T, OvsdbError>;
