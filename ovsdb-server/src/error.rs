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
    /// The offending JSON text, which OVS reports as `"syntax"` for some
    /// syntax errors.
    pub syntax: Option<String>,
}

impl OvsdbError {
    pub fn new(tag: &'static str, details: impl Into<String>) -> Self {
        OvsdbError {
            tag,
            details: details.into(),
            syntax: None,
        }
    }
    /// A syntax error about `json`, quoted in the error's `"syntax"` member.
    pub fn syntax_in(json: &Value, details: impl Into<String>) -> Self {
        OvsdbError {
            syntax: Some(json.to_string()),
            ..Self::syntax(details)
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
        match &self.syntax {
            None => json!({"error": self.tag, "details": self.details}),
            Some(s) => json!({"error": self.tag, "details": self.details, "syntax": s}),
        }
    }
}

pub type Result<T> = std::result::Result<T, OvsdbError>;
