//! Encoding: values, keys and whole files in the RDB format.
//!
//! Values are written in the plain types every Redis since 2.x reads:
//! string (integer-encoded when it fits 32 bits, LZF above 20 bytes when
//! `rdbcompression` is on and it saves space, else raw), list (type 1),
//! set (2), hash (4), sorted set with binary scores (5). A hash with field
//! TTLs is written as 7.4's `HASH_METADATA` (24), which Redis 7.0 cannot
//! read (nor could it hold such a hash). Files carry version 10, so Redis
//! 7.0 loads them. Expired keys and fields are left out.

use crate::types::*;
use storage::types::hash::FieldValue;
use storage::types::set::Member;
use storage::{Entry, Str, Value};

/// The RDB version magpie writes (Redis 7.0's).
pub const RDB_VERSION_WRITTEN: u16 = 10;

/// Appends a length field.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends an integer-encoded string if `n` fits 32 bits.
fn put_int_string(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(v) = i8::try_from(n) {
        out.push(0xc0);
        out.push(v as u8);
    } else if let Ok(v) = i16::try_from(n) {
        out.push(0xc1);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(n) {
        out.push(0xc2);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Writes values; holds the LZF table reused across strings.
pub struct Encoder {
    compress: bool,
    lzf: crate::lzf::Compressor,
    scratch: Vec<u8>,
}

impl Encoder {
    /// An encoder; `compress` is `rdbcompression`.
    pub fn new(compress: bool) -> Encoder {
        Encoder {
            compress,
            lzf: crate::lzf::Compressor::default(),
            scratch: Vec::new(),
        }
    }

    /// Turns LZF compression of long strings on or off.
    pub fn set_compress(&mut self, on: bool) {
        self.compress = on;
    }

    /// Appends a string as Redis's `rdbSaveRawString` would.
    pub fn put_string(&mut self, out: &mut Vec<u8>, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(n) = storage::numfmt::parse_i64(s) {
                if put_int_string(out, n) {
                    return;
                }
            }
        }
        if self.compress && s.len() > 20 {
            // Header first, then the data; the lengths go in between.
            let mut c = std::mem::take(&mut self.scratch);
            c.clear();
            if self.lzf.compress(s, &mut c, s.len() - 4) {
                out.push(0xc3);
                put_len(out, c.len() as u64);
                put_len(out, s.len() as u64);
                out.extend_from_slice(&c);
                self.scratch = c;
                return;
            }
            self.scratch = c;
        }
        put_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }

    fn put_int(&mut self, out: &mut Vec<u8>, n: i64) {
        if !put_int_string(out, n) {
            let mut b = Vec::with_capacity(20);
            storage::numfmt::format_i64(n, &mut b);
            put_len(out, b.len() as u64);
            out.extend_from_slice(&b);
        }
    }

    fn put_field(&mut self, out: &mut Vec<u8>, f: FieldValue<'_>) {
        match f {
            FieldValue::Bytes(b) => self.put_string(out, b),
            FieldValue::Int(n) => self.put_int(out, n),
        }
    }

    /// Appends a value's type byte and body; `now` filters expired fields.
    /// Returns false (writing nothing) for a value left empty by them.
    pub fn put_value(&mut self, out: &mut Vec<u8>, v: &Value, now: u64) -> bool {
        let Some(t) = value_type(v, now) else {
            return false;
        };
        out.push(t);
        self.put_body(out, v, now);
        true
    }

    /// Appends a value's body (after its type byte and key).
    fn put_body(&mut self, out: &mut Vec<u8>, v: &Value, now: u64) {
        match v {
            Value::Str(s) => match s {
                Str::Int(n) => self.put_int(out, *n),
                Str::Emb(b) => self.put_string(out, b),
                Str::Flat(b) => self.put_string(out, b),
                Str::Raw(b) => self.put_string(out, b),
            },
            Value::List(l) => {
                put_len(out, l.len() as u64);
                for e in l.iter() {
                    self.put_string(out, e);
                }
            }
            Value::Set(s) => {
                put_len(out, s.len() as u64);
                for m in s.iter() {
                    match m {
                        Member::Int(n) => self.put_int(out, n),
                        Member::Str(b) => self.put_string(out, b),
                    }
                }
            }
            Value::ZSet(z) => {
                put_len(out, z.len() as u64);
                for (m, score) in z.iter() {
                    self.put_string(out, m);
                    out.extend_from_slice(&score.to_le_bytes());
                }
            }
            Value::Hash(h) if h.has_field_ttls() => {
                let live: Vec<_> = h
                    .entries_with_ttl()
                    .into_iter()
                    .filter(|(_, _, at)| *at == 0 || *at >= now)
                    .collect();
                let min = live
                    .iter()
                    .map(|e| e.2)
                    .filter(|&at| at != 0)
                    .min()
                    .unwrap_or(0);
                out.extend_from_slice(&min.to_le_bytes());
                put_len(out, live.len() as u64);
                for (f, v, at) in &live {
                    put_len(out, if *at == 0 { 0 } else { at - min + 1 });
                    self.put_string(out, f);
                    self.put_string(out, v);
                }
            }
            Value::Hash(h) => {
                let n = h.live_len(now);
                put_len(out, n as u64);
                h.for_each_live(now, |f, v| {
                    self.put_field(out, f);
                    self.put_field(out, v);
                });
            }
        }
    }

    /// Appends one key: its deadline, type, name and value. Nothing for
    /// an expired key.
    pub fn put_entry(&mut self, out: &mut Vec<u8>, key: &[u8], e: &Entry, now: u64) -> bool {
        if e.is_expired_at(now) {
            return false;
        }
        let Some(t) = value_type(&e.value, now) else {
            return false;
        };
        if let Some(at) = e.expire_at() {
            out.push(OP_EXPIRETIME_MS);
            out.extend_from_slice(&at.to_le_bytes());
        }
        out.push(t);
        self.put_string(out, key);
        self.put_body(out, &e.value, now);
        true
    }
}

/// The type byte a value is written with; `None` for a hash whose fields
/// have all expired (nothing to write).
pub fn value_type(v: &Value, now: u64) -> Option<u8> {
    Some(match v {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST,
        Value::Set(_) => TYPE_SET,
        Value::ZSet(_) => TYPE_ZSET_2,
        Value::Hash(h) if h.live_len(now) == 0 => return None,
        Value::Hash(h) if h.has_field_ttls() => TYPE_HASH_METADATA,
        Value::Hash(_) => TYPE_HASH,
    })
}

/// Appends the file header (`REDIS0010`).
pub fn put_header(out: &mut Vec<u8>) {
    out.extend_from_slice(format!("REDIS{:04}", RDB_VERSION_WRITTEN).as_bytes());
}

/// Appends an aux field.
pub fn put_aux(enc: &mut Encoder, out: &mut Vec<u8>, k: &[u8], v: &[u8]) {
    out.push(OP_AUX);
    enc.put_string(out, k);
    enc.put_string(out, v);
}

/// Appends a function library (`RDB_OPCODE_FUNCTION2` and its code), as
/// Redis's `rdbSaveFunctions` writes each one, in files and FUNCTION DUMP.
pub fn put_function(enc: &mut Encoder, out: &mut Vec<u8>, code: &[u8]) {
    out.push(crate::types::OP_FUNCTION2);
    enc.put_string(out, code);
}

/// Appends SELECTDB and RESIZEDB for a database.
pub fn put_db_header(out: &mut Vec<u8>, db: usize, keys: u64, expires: u64) {
    out.push(OP_SELECTDB);
    put_len(out, db as u64);
    out.push(OP_RESIZEDB);
    put_len(out, keys);
    put_len(out, expires);
}

/// The EOF opcode and the checksum trailer (0 when `rdbchecksum no`).
/// `crc` is the CRC64 of everything before, including the EOF opcode.
pub fn trailer(crc: u64) -> [u8; 8] {
    crc.to_le_bytes()
}
