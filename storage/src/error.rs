//! Command errors, each mapped to Redis's exact error text in one place.

use std::borrow::Cow;

/// An error a command answers with. `message()` is the text Redis sends,
/// without the leading `-`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CmdError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("ERR value is out of range, must be positive")]
    NotPositive,
    /// A denyoom command while used memory is over maxmemory.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    /// Any other text, already in Redis's words.
    #[error("{0}")]
    Other(Cow<'static, str>),
}

impl CmdError {
    /// The error text as sent to the client (without `-` and CRLF).
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            CmdError::Other(s) => s.clone(),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// An error with a static text.
    pub fn msg(s: &'static str) -> CmdError {
        CmdError::Other(Cow::Borrowed(s))
    }
}

/// The result type of storage operations and command handlers.
pub type CmdResult<T> = Result<T, CmdError>;
