//! Values stored under keys, and the string representation.
//!
//! A string keeps Redis's three encodings because `OBJECT ENCODING` reports
//! them and because integers stored as `i64` are both smaller and faster for
//! INCR: `int` (fits an i64 and round-trips), `embstr` (at most 44 bytes,
//! written whole by SET) and `raw` (longer, or modified in place by
//! APPEND/SETRANGE). A `raw` string written whole is one exact-size
//! allocation, like Redis's `sdsnewlen`; the first in-place change turns it
//! into a growable buffer with spare capacity, like `sdsMakeRoomFor`.

use crate::small::SmallBytes;
use crate::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use bytes::Bytes;

/// Redis's limit for the `embstr` encoding.
pub const EMBSTR_MAX: usize = 44;

/// A string value in one of Redis's encodings.
#[derive(Debug, Clone, PartialEq)]
pub enum Str {
    /// An integer that round-trips through its decimal text.
    Int(i64),
    /// A short string written whole (inline up to 22 bytes, so most
    /// values cost no allocation of their own).
    Emb(SmallBytes),
    /// A longer string written whole: exact size, no spare capacity (a
    /// boxed `Vec` would cost a second allocation per value).
    Flat(Box<[u8]>),
    /// A string that grows in place (boxed: rare, and it keeps `Str` at
    /// 24 bytes).
    Raw(Box<Vec<u8>>),
}

impl Str {
    /// The encoding Redis would choose for a value written by SET.
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20 {
            if let Some(n) = crate::numfmt::parse_i64(b) {
                return Str::Int(n);
            }
        }
        if b.len() <= EMBSTR_MAX {
            Str::Emb(SmallBytes::new(b))
        } else {
            Str::Flat(b.into())
        }
    }

    /// Appends the value's bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Str::Int(n) => crate::numfmt::format_i64(*n, out),
            Str::Emb(b) => out.extend_from_slice(b),
            Str::Flat(v) => out.extend_from_slice(v),
            Str::Raw(v) => out.extend_from_slice(v),
        }
    }

    /// The value's bytes as a new `Bytes`.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Str::Int(n) => {
                let mut v = Vec::with_capacity(20);
                crate::numfmt::format_i64(*n, &mut v);
                Bytes::from(v)
            }
            Str::Emb(b) => Bytes::copy_from_slice(b),
            Str::Flat(v) => Bytes::copy_from_slice(v),
            Str::Raw(v) => Bytes::copy_from_slice(v),
        }
    }

    /// The value as bytes, formatting integers into `scratch`.
    pub fn as_slice<'a>(&'a self, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            Str::Int(n) => {
                scratch.clear();
                crate::numfmt::format_i64(*n, scratch);
                scratch
            }
            Str::Emb(b) => b,
            Str::Flat(v) => v,
            Str::Raw(v) => v,
        }
    }

    /// Length in bytes (STRLEN).
    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => {
                let mut v = Vec::with_capacity(20);
                crate::numfmt::format_i64(*n, &mut v);
                v.len()
            }
            Str::Emb(b) => b.len(),
            Str::Flat(v) => v.len(),
            Str::Raw(v) => v.len(),
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value converted to a growable buffer, for APPEND and SETRANGE.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            let mut v = Vec::new();
            self.write_to(&mut v);
            *self = Str::Raw(Box::new(v));
        }
        match self {
            Str::Raw(v) => v,
            // Unreachable: converted just above.
            _ => unreachable!("make_raw converts to Raw"),
        }
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Emb(_) => "embstr",
            Str::Flat(_) | Str::Raw(_) => "raw",
        }
    }

    /// Approximate heap bytes used, for MEMORY USAGE and eviction accounting.
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Int(_) => 0,
            Str::Emb(b) => b.heap_size(),
            Str::Flat(v) => v.len(),
            // The buffer and its `Vec` header's box.
            Str::Raw(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }
}

/// A value of any type. Collections are boxed so a `Value` stays small
/// (most keys hold strings).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(Str),
    /// A list.
    List(Box<List>),
    /// A hash.
    Hash(Hash),
    /// A set. Not boxed: `Set` is 16 bytes (one pointer-sized buffer or
    /// table handle), so it fits in a `Value` without growing it, and a
    /// small set costs one allocation instead of two.
    Set(Set),
    /// A sorted set.
    ZSet(Box<ZSet>),
}

impl Value {
    /// Redis's `TYPE` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(v) => v.encoding(),
            Value::Hash(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
        }
    }

    /// Approximate heap bytes used by the value.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(v) => v.heap_size(),
            Value::Hash(v) => v.heap_size(),
            Value::Set(v) => v.heap_size(),
            Value::ZSet(v) => v.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Str::from_bytes(b"123").encoding(), "int");
        assert_eq!(Str::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Str::from_bytes(b"-9223372036854775808"), Str::Int(i64::MIN));
        assert_eq!(Str::from_bytes(b"9223372036854775808").encoding(), "embstr");
    }

    #[test]
    fn make_raw_keeps_bytes() {
        let mut s = Str::Int(-42);
        s.make_raw().extend_from_slice(b"x");
        assert_eq!(s.to_bytes().as_ref(), b"-42x");
        assert_eq!(s.encoding(), "raw");
    }
}

#[cfg(test)]
mod size_tests {
    /// Per-key memory is a feature: keep the hot types this small.
    #[test]
    fn values_stay_small() {
        assert_eq!(std::mem::size_of::<super::Str>(), 24);
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
        assert!(std::mem::size_of::<crate::db::Entry>() <= 40);
    }
}
