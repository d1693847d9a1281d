//! The protocol-neutral shape of a command's answer.
//!
//! Handlers build a `Reply`; the server encodes it as RESP2 or RESP3 for the
//! connection that asked. Keeping the encoding out of here lets shards (and,
//! later, Lua) produce replies without knowing the wire format.

use bytes::Bytes;
use std::borrow::Cow;

/// One reply, before encoding. RESP3-only shapes degrade to their RESP2
/// equivalents when encoded for a RESP2 client, exactly as Redis does.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A status line (`+...`), such as `PONG` or `QUEUED`.
    Status(Cow<'static, str>),
    /// An error line, the full text without the leading `-` (`ERR ...`, `WRONGTYPE ...`).
    Error(Cow<'static, str>),
    /// `:n`.
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    /// An array.
    Array(Vec<Reply>),
    /// A map in RESP3; a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Pairs (member and score): an array of two-element arrays in RESP3,
    /// one flat array in RESP2 (ZRANGE WITHSCORES, ZPOPMIN with a count,
    /// HRANDFIELD WITHVALUES).
    Pairs(Vec<(Reply, Reply)>),
    /// A set in RESP3; an array in RESP2.
    Set(Vec<Reply>),
    /// A double in RESP3; a bulk string in RESP2. Formatted like Redis 7.4.
    Double(f64),
    /// A boolean in RESP3; the integer 1 or 0 in RESP2.
    Bool(bool),
    /// A verbatim string in RESP3 (format tag such as `txt`); a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// A push frame in RESP3; an array in RESP2.
    Push(Vec<Reply>),
    /// A big number in RESP3 (`(...`); a bulk string in RESP2. Only Lua
    /// scripts produce it (`{big_number=...}`).
    BigNumber(Bytes),
    /// Several replies in a row for one command (SUBSCRIBE a b confirms
    /// each channel with a reply of its own).
    Multi(Vec<Reply>),
}

impl Reply {
    /// A bulk string copied from a byte slice.
    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b))
    }

    /// A bulk string from a static text.
    pub fn bulk_static(s: &'static str) -> Reply {
        Reply::Bulk(Bytes::from_static(s.as_bytes()))
    }

    /// A status reply from a static text.
    pub fn status(s: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(s))
    }

    /// An error reply from any text (`ERR ...`).
    pub fn error(s: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(s.into())
    }

    /// True for error replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<crate::error::CmdError> for Reply {
    fn from(e: crate::error::CmdError) -> Reply {
        Reply::Error(e.message())
    }
}
