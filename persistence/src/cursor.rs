//! A bounds-checked reader over an in-memory RDB image: lengths, strings
//! (raw, integer-encoded, LZF) and the fixed-size fields.
//!
//! Invariant: nothing read here allocates more than the bytes that remain
//! justify. A declared string length is checked against the remaining
//! input before anything is taken, and an LZF string's expanded length is
//! bounded by [`crate::lzf::MAX_RATIO`] times its compressed length.

use crate::error::{RdbError, RdbResult};
use std::borrow::Cow;

/// Special string encodings (the 0b11 length prefix).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// A length field: a number, or a special string encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// A plain length.
    Num(u64),
    /// A special encoding (integer or LZF string).
    Enc(u8),
}

/// A string as stored: the bytes, or an integer whose decimal text is the
/// value (so strings stay `int`-encoded without formatting and parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdbStr<'a> {
    /// Raw or decompressed bytes.
    Bytes(Cow<'a, [u8]>),
    /// An integer-encoded string.
    Int(i64),
}

impl RdbStr<'_> {
    /// The value's bytes.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            RdbStr::Bytes(b) => b.into_owned(),
            RdbStr::Int(n) => n.to_string().into_bytes(),
        }
    }

    /// The value's bytes, formatting an integer into `scratch`.
    pub fn as_slice<'s>(&'s self, scratch: &'s mut Vec<u8>) -> &'s [u8] {
        match self {
            RdbStr::Bytes(b) => b,
            RdbStr::Int(n) => {
                scratch.clear();
                storage::numfmt::format_i64(*n, scratch);
                scratch
            }
        }
    }
}

/// The reading position in an RDB image.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Everything before the current position.
    pub fn consumed(&self) -> &'a [u8] {
        &self.buf[..self.pos]
    }

    /// A corrupt-data error at the current position.
    pub fn corrupt(&self, what: impl Into<String>) -> RdbError {
        RdbError::corrupt(self.pos, what)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> RdbResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(RdbError::Truncated(self.buf.len()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// One byte.
    pub fn u8(&mut self) -> RdbResult<u8> {
        Ok(self.take(1)?[0])
    }

    /// A little-endian u32 (EXPIRETIME in seconds).
    pub fn u32_le(&mut self) -> RdbResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian u64 (millisecond times, checksums).
    pub fn u64_le(&mut self) -> RdbResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A binary double (little-endian IEEE 754).
    pub fn f64_le(&mut self) -> RdbResult<f64> {
        Ok(f64::from_bits(self.u64_le()?))
    }

    /// A length field.
    pub fn len_field(&mut self) -> RdbResult<Len> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Num((b & 0x3f) as u64),
            1 => Len::Num((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => {
                    let x = self.take(4)?;
                    Len::Num(u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as u64)
                }
                0x81 => {
                    let x = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(x);
                    Len::Num(u64::from_be_bytes(a))
                }
                _ => return Err(self.corrupt(format!("unknown length encoding 0x{b:02x}"))),
            },
            _ => Len::Enc(b & 0x3f),
        })
    }

    /// A plain length (a special encoding here is corrupt).
    pub fn length(&mut self) -> RdbResult<u64> {
        match self.len_field()? {
            Len::Num(n) => Ok(n),
            Len::Enc(_) => Err(self.corrupt("string encoding where a length was expected")),
        }
    }

    /// A count of items that each take at least `min_bytes` bytes: refused
    /// when the remaining input cannot hold that many.
    pub fn count(&mut self, min_bytes: usize) -> RdbResult<usize> {
        let n = self.length()?;
        let room = (self.remaining() / min_bytes.max(1)) as u64;
        if n > room {
            return Err(self.corrupt(format!(
                "declared {n} items, more than the remaining {} bytes can hold",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings.
    pub fn string(&mut self) -> RdbResult<RdbStr<'a>> {
        match self.len_field()? {
            Len::Num(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::Truncated(self.buf.len()))?;
                Ok(RdbStr::Bytes(Cow::Borrowed(self.take(n)?)))
            }
            Len::Enc(ENC_INT8) => Ok(RdbStr::Int(self.u8()? as i8 as i64)),
            Len::Enc(ENC_INT16) => {
                let b = self.take(2)?;
                Ok(RdbStr::Int(i16::from_le_bytes([b[0], b[1]]) as i64))
            }
            Len::Enc(ENC_INT32) => {
                let b = self.take(4)?;
                Ok(RdbStr::Int(
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64
                ))
            }
            Len::Enc(ENC_LZF) => {
                let clen = self.length()?;
                let ulen = self.length()?;
                let clen =
                    usize::try_from(clen).map_err(|_| RdbError::Truncated(self.buf.len()))?;
                if clen > self.remaining() {
                    return Err(RdbError::Truncated(self.buf.len()));
                }
                if ulen as u128 > (clen as u128) * crate::lzf::MAX_RATIO as u128 {
                    return Err(self.corrupt(format!(
                        "LZF string declares {ulen} bytes from {clen} compressed bytes"
                    )));
                }
                let at = self.pos;
                let data = self.take(clen)?;
                crate::lzf::decompress(data, ulen as usize)
                    .map(|v| RdbStr::Bytes(Cow::Owned(v)))
                    .ok_or_else(|| RdbError::corrupt(at, "invalid LZF compressed string"))
            }
            Len::Enc(e) => Err(self.corrupt(format!("unknown string encoding {e}"))),
        }
    }

    /// A string as bytes (integers formatted).
    pub fn bytes(&mut self) -> RdbResult<Cow<'a, [u8]>> {
        Ok(match self.string()? {
            RdbStr::Bytes(b) => b,
            RdbStr::Int(n) => Cow::Owned(n.to_string().into_bytes()),
        })
    }

    /// An old-style (RDB_TYPE_ZSET) text double: a length byte (253 NaN,
    /// 254 +inf, 255 -inf) and that many bytes of text.
    pub fn text_double(&mut self) -> RdbResult<f64> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let t = self.take(n as usize)?;
                parse_double(t).ok_or_else(|| self.corrupt("invalid double"))
            }
        }
    }
}

/// Parses a score as `strtod` would for the texts Redis writes.
pub fn parse_double(t: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(t).ok()?;
    match s {
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}
