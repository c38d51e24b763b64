//! Parse errors of the `ovs-ofctl` text syntax.
//!
//! Every error names the offending token (field, keyword, value or action)
//! so that a person can find it in a long flow line, in the spirit of
//! `ovs-ofctl`'s own messages (`unknown keyword foo`, `foo: bad value`).

use thiserror::Error;

/// Why a flow, group or meter text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("unknown keyword {0}")]
    UnknownKeyword(String),
    #[error("unknown action {0}")]
    UnknownAction(String),
    #[error("field {0} missing value")]
    MissingValue(String),
    #[error("{field}: bad value \"{value}\"")]
    BadValue { field: String, value: String },
    #[error("{0}: value does not fit the field")]
    Overflow(String),
    #[error("{0} is not a valid OpenFlow port")]
    BadPort(String),
    #[error("{0}: unbalanced parentheses or brackets")]
    Unbalanced(String),
    #[error("must specify an action")]
    NoActions,
    #[error("{0}: syntax error")]
    Syntax(String),
    #[error("{0}: field is not maskable")]
    NotMaskable(String),
}

impl ParseError {
    pub(crate) fn bad(field: &str, value: &str) -> ParseError {
        ParseError::BadValue {
            field: field.to_string(),
            value: value.to_string(),
        }
    }
}
