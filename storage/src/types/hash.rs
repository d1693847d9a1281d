//! The hash type: a map from field to value, with Redis 7.4's per-field
//! time to live.
//!
//! Encodings, as `OBJECT ENCODING` names them:
//! - `listpack`: a small hash is one packed byte buffer of field/value pairs
//!   in Redis's listpack order (a new field goes at the end, an update stays
//!   in place). Strings that are canonical integers are stored as integers,
//!   as a listpack does. The buffer is one allocation with no spare capacity,
//!   so a small hash costs less than Redis's object plus listpack.
//! - `listpackex`: the same buffer with a deadline after each pair, once a
//!   field-TTL command (HEXPIRE and friends) touched the hash. As in Redis,
//!   fields with a deadline come first, ordered by deadline, then the fields
//!   without one; HGETALL shows this order.
//! - `hashtable`: beyond `hash-max-listpack-entries` fields or a string
//!   longer than `hash-max-listpack-value`; an `IndexMap` (O(1) random pick,
//!   position-based HSCAN) plus a deadline index once a field had a TTL.
//!
//! A hash never goes back to a smaller encoding: Redis doesn't either.
//!
//! Field expiry follows Redis 7.4 (`t_hash.c`): a field whose deadline is in
//! the past (`deadline < now`) is logically gone, and a read that meets it
//! deletes it ([`Hash::get_live`]); the active cycle and HRANDFIELD delete
//! the fields whose deadline has come (`deadline <= now`). HLEN counts the
//! stored fields, expired or not, until they are deleted.

use crate::numfmt;
use crate::types::Thresholds;
use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;
use std::collections::{BTreeSet, HashMap};

type Hasher = foldhash::fast::RandomState;

/// Redis refuses to grow a listpack past 1 GiB (`lpSafeToAdd`).
const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

/// A field's value, borrowed from the hash. Packed hashes keep canonical
/// integers as integers, so a value is either bytes or an integer whose
/// decimal text is the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// The value's bytes.
    Bytes(&'a [u8]),
    /// A value whose text is this integer's decimal spelling.
    Int(i64),
}

impl FieldValue<'_> {
    /// The value as a new `Bytes`.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            FieldValue::Bytes(b) => Bytes::copy_from_slice(b),
            FieldValue::Int(n) => {
                let mut v = Vec::with_capacity(20);
                numfmt::format_i64(*n, &mut v);
                Bytes::from(v)
            }
        }
    }

    /// Appends the value's bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            FieldValue::Bytes(b) => out.extend_from_slice(b),
            FieldValue::Int(n) => numfmt::format_i64(*n, out),
        }
    }

    /// Length in bytes of the value's text (HSTRLEN).
    pub fn len(&self) -> usize {
        match self {
            FieldValue::Bytes(b) => b.len(),
            FieldValue::Int(n) => {
                let digits = n
                    .unsigned_abs()
                    .checked_ilog10()
                    .map_or(1, |d| d as usize + 1);
                digits + usize::from(*n < 0)
            }
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if its text is one (Redis's `string2ll`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            FieldValue::Bytes(b) => numfmt::parse_i64(b),
            FieldValue::Int(n) => Some(*n),
        }
    }

    /// True if the value's text is `b`.
    fn eq_bytes(&self, b: &[u8]) -> bool {
        match self {
            FieldValue::Bytes(s) => *s == b,
            FieldValue::Int(n) => numfmt::parse_i64(b) == Some(*n),
        }
    }
}

/// What a lookup that applies lazy expiry found.
#[derive(Debug, PartialEq)]
pub enum Got<'a> {
    /// A live field's value.
    Value(FieldValue<'a>),
    /// No such field.
    Missing,
    /// The field had expired: it was deleted just now. The hash may now be
    /// empty, in which case the caller deletes the key.
    Expired,
}

/// A field's deadline, as HTTL and friends see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldTtl {
    /// No such field (or it has expired).
    NoField,
    /// The field has no deadline.
    NoTtl,
    /// The field's deadline, Unix milliseconds.
    At(u64),
}

/// HEXPIRE's NX / XX / GT / LT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCond {
    /// Always set.
    Always,
    /// Only fields without a deadline.
    Nx,
    /// Only fields with a deadline.
    Xx,
    /// Only a later deadline (a field without one counts as infinite).
    Gt,
    /// Only an earlier deadline (a field without one counts as infinite).
    Lt,
}

/// HEXPIRE's per-field result, Redis's reply codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetTtl {
    /// -2: no such field.
    NoField = -2,
    /// 0: the NX / XX / GT / LT condition was not met.
    CondNotMet = 0,
    /// 1: the deadline was set.
    Set = 1,
    /// 2: the deadline was not in the future: the field was deleted.
    Deleted = 2,
}

/// HPERSIST's per-field result, Redis's reply codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// -2: no such field (or it has expired).
    NoField = -2,
    /// -1: the field has no deadline.
    NoTtl = -1,
    /// 1: the deadline was removed.
    Done = 1,
}

/// A hash value.
#[derive(Debug, Clone, PartialEq)]
pub enum Hash {
    /// `listpack` / `listpackex`: a header (the field count and a flag for
    /// deadlines) and the packed entries. See [`pack`].
    Pack(Box<[u8]>),
    /// `hashtable`.
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

/// The `hashtable` encoding.
#[derive(Debug, Clone, Default)]
pub struct Table {
    map: IndexMap<Box<[u8]>, Box<[u8]>, Hasher>,
    /// Deadlines, once any field had one (Redis's HFE metadata).
    ttls: Option<Box<Ttls>>,
}

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map && self.ttl_pairs() == other.ttl_pairs()
    }
}

/// The deadlines of a `hashtable` hash: by field, and ordered by time for
/// the active cycle.
#[derive(Debug, Clone, Default)]
struct Ttls {
    at: HashMap<Box<[u8]>, u64, Hasher>,
    order: BTreeSet<(u64, Box<[u8]>)>,
}

impl Table {
    fn ttl_pairs(&self) -> Vec<(u64, &[u8])> {
        match &self.ttls {
            Some(t) => t.order.iter().map(|(at, f)| (*at, &f[..])).collect(),
            None => Vec::new(),
        }
    }

    fn ttl(&self, field: &[u8]) -> u64 {
        self.ttls
            .as_ref()
            .and_then(|t| t.at.get(field).copied())
            .unwrap_or(0)
    }

    fn set_ttl(&mut self, field: &[u8], at: u64) {
        let t = self.ttls.get_or_insert_with(Box::default);
        if let Some(old) = t.at.insert(field.into(), at) {
            t.order.remove(&(old, field.into()));
        }
        t.order.insert((at, field.into()));
    }

    fn clear_ttl(&mut self, field: &[u8]) -> bool {
        let Some(t) = self.ttls.as_mut() else {
            return false;
        };
        match t.at.remove(field) {
            Some(old) => {
                t.order.remove(&(old, field.into()));
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        if self.map.swap_remove(field).is_some() {
            self.clear_ttl(field);
            true
        } else {
            false
        }
    }

    fn min_ttl(&self) -> Option<u64> {
        self.ttls
            .as_ref()
            .and_then(|t| t.order.first().map(|(at, _)| *at))
    }
}

/// The packed encoding: a header varint `count << 1 | ex`, then per field
/// the field, the value and (when `ex`) the deadline as a varint, 0 for none.
///
/// A string is stored canonically, so that comparing two stored strings is
/// comparing their bytes: a canonical integer (Redis's `string2ll`) as an
/// integer, anything else as bytes with its length.
pub mod pack {
    use crate::numfmt;

    /// Tags 0..=0xBF: bytes of that length follow.
    const SHORT_MAX: usize = 0xBF;
    /// Tags 0xC0..=0xC7: a little-endian signed integer of 1..=8 bytes follows.
    const INT_TAG: u8 = 0xC0;
    /// A varint length, then the bytes.
    const LONG_TAG: u8 = 0xC8;
    /// Tags 0xD0..=0xFF: the integers 0..=47 themselves.
    const IMM_TAG: u8 = 0xD0;
    const IMM_MAX: i64 = 47;

    /// A stored string, decoded.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Elem<'a> {
        /// Bytes that are not a canonical integer.
        Str(&'a [u8]),
        /// A canonical integer.
        Int(i64),
    }

    /// Appends `v` as a LEB128 varint.
    pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// The varint at `pos` and the position after it.
    pub fn get_varint(buf: &[u8], mut pos: usize) -> (u64, usize) {
        let mut v = 0u64;
        let mut shift = 0u32;
        while let Some(&b) = buf.get(pos) {
            pos += 1;
            if shift < 64 {
                v |= u64::from(b & 0x7f) << shift;
            }
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (v, pos)
    }

    /// Bytes a varint of `v` takes.
    pub fn varint_len(v: u64) -> usize {
        (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
    }

    /// The integer a string is the canonical spelling of, if any.
    pub fn canonical_int(s: &[u8]) -> Option<i64> {
        if s.len() > 20 {
            None
        } else {
            numfmt::parse_i64(s)
        }
    }

    /// Appends the canonical encoding of `s`.
    pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
        if let Some(n) = canonical_int(s) {
            put_int(out, n);
        } else if s.len() <= SHORT_MAX {
            out.push(s.len() as u8);
            out.extend_from_slice(s);
        } else {
            out.push(LONG_TAG);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s);
        }
    }

    /// Appends the encoding of an integer.
    pub fn put_int(out: &mut Vec<u8>, n: i64) {
        if (0..=IMM_MAX).contains(&n) {
            out.push(IMM_TAG + n as u8);
            return;
        }
        let k = (1..8)
            .find(|&k| {
                let bits = 8 * k as u32;
                let lo = -(1i64 << (bits - 1));
                let hi = (1i64 << (bits - 1)) - 1;
                (lo..=hi).contains(&n)
            })
            .unwrap_or(8);
        out.push(INT_TAG + (k - 1) as u8);
        out.extend_from_slice(&n.to_le_bytes()[..k]);
    }

    /// Bytes the encoding of `s` takes.
    pub fn str_len(s: &[u8]) -> usize {
        if let Some(n) = canonical_int(s) {
            if (0..=IMM_MAX).contains(&n) {
                return 1;
            }
            let k = (1..8)
                .find(|&k| {
                    let bits = 8 * k as u32;
                    (-(1i64 << (bits - 1))..=(1i64 << (bits - 1)) - 1).contains(&n)
                })
                .unwrap_or(8);
            return 1 + k;
        }
        if s.len() <= SHORT_MAX {
            1 + s.len()
        } else {
            1 + varint_len(s.len() as u64) + s.len()
        }
    }

    /// The string at `pos` and the position after it.
    pub fn get(buf: &[u8], pos: usize) -> (Elem<'_>, usize) {
        let Some(&tag) = buf.get(pos) else {
            return (Elem::Str(&[]), buf.len());
        };
        match tag {
            0..=0xBF => {
                let end = (pos + 1 + tag as usize).min(buf.len());
                (Elem::Str(&buf[pos + 1..end]), end)
            }
            0xC0..=0xC7 => {
                let k = (tag - INT_TAG) as usize + 1;
                let end = (pos + 1 + k).min(buf.len());
                let mut b = [0u8; 8];
                let src = &buf[pos + 1..end];
                b[..src.len()].copy_from_slice(src);
                let shift = 64 - 8 * k as u32;
                let v = (i64::from_le_bytes(b) << shift) >> shift;
                (Elem::Int(v), end)
            }
            LONG_TAG => {
                let (len, p) = get_varint(buf, pos + 1);
                let end = p.saturating_add(len as usize).min(buf.len());
                (Elem::Str(&buf[p.min(end)..end]), end)
            }
            0xD0..=0xFF => (Elem::Int(i64::from(tag - IMM_TAG)), pos + 1),
            // Never written.
            _ => (Elem::Str(&[]), pos + 1),
        }
    }

    /// The position after the string at `pos`.
    pub fn skip(buf: &[u8], pos: usize) -> usize {
        let Some(&tag) = buf.get(pos) else {
            return buf.len();
        };
        match tag {
            0..=0xBF => pos + 1 + tag as usize,
            0xC0..=0xC7 => pos + 2 + (tag - INT_TAG) as usize,
            LONG_TAG => {
                let (len, p) = get_varint(buf, pos + 1);
                p.saturating_add(len as usize)
            }
            _ => pos + 1,
        }
    }

    /// The header: (field count, has deadlines, start of the entries).
    pub fn header(buf: &[u8]) -> (usize, bool, usize) {
        let (h, body) = get_varint(buf, 0);
        ((h >> 1) as usize, h & 1 == 1, body)
    }

    /// A header's bytes.
    pub fn header_bytes(count: usize, ex: bool) -> Vec<u8> {
        let mut v = Vec::with_capacity(4);
        put_varint(&mut v, ((count as u64) << 1) | u64::from(ex));
        v
    }

    /// One entry's positions.
    #[derive(Debug, Clone, Copy)]
    pub struct Entry {
        /// Start of the field.
        pub field: usize,
        /// Start of the value.
        pub value: usize,
        /// End of the value (start of the deadline, if any).
        pub value_end: usize,
        /// The deadline, 0 for none.
        pub ttl: u64,
        /// End of the entry.
        pub end: usize,
    }

    /// The entries in order.
    pub struct Iter<'a> {
        buf: &'a [u8],
        pos: usize,
        ex: bool,
    }

    impl<'a> Iter<'a> {
        /// Iterates over `buf`'s entries.
        pub fn new(buf: &'a [u8]) -> Iter<'a> {
            let (_, ex, body) = header(buf);
            Iter { buf, pos: body, ex }
        }
    }

    impl Iterator for Iter<'_> {
        type Item = Entry;
        fn next(&mut self) -> Option<Entry> {
            if self.pos >= self.buf.len() {
                return None;
            }
            let field = self.pos;
            let value = skip(self.buf, field);
            let value_end = skip(self.buf, value);
            let (ttl, end) = if self.ex {
                get_varint(self.buf, value_end)
            } else {
                (0, value_end)
            };
            self.pos = end;
            Some(Entry {
                field,
                value,
                value_end,
                ttl,
                end,
            })
        }
    }
}

use pack::Elem;

impl<'a> From<Elem<'a>> for FieldValue<'a> {
    fn from(e: Elem<'a>) -> Self {
        match e {
            Elem::Str(b) => FieldValue::Bytes(b),
            Elem::Int(n) => FieldValue::Int(n),
        }
    }
}

/// A needle for packed lookups: compares with stored strings without
/// encoding it.
struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    fn new(bytes: &'a [u8]) -> Needle<'a> {
        Needle {
            bytes,
            int: pack::canonical_int(bytes),
        }
    }

    fn matches(&self, e: Elem<'_>) -> bool {
        match e {
            Elem::Str(s) => self.int.is_none() && s == self.bytes,
            Elem::Int(n) => self.int == Some(n),
        }
    }
}

/// Rebuilds a packed buffer: `f` edits the entries (the bytes after the
/// header) in a Vec; the header is then written for the new count.
fn edit_pack(buf: &mut Box<[u8]>, f: impl FnOnce(&mut Vec<u8>, &mut usize, &mut bool)) {
    let (mut count, mut ex, body) = pack::header(buf);
    let mut v = std::mem::take(buf).into_vec();
    let mut entries = v.split_off(body);
    f(&mut entries, &mut count, &mut ex);
    let mut out = pack::header_bytes(count, ex);
    out.reserve_exact(entries.len());
    out.extend_from_slice(&entries);
    *buf = out.into_boxed_slice();
}

/// A field's bytes from a packed entry.
fn elem_bytes(buf: &[u8], pos: usize) -> Bytes {
    FieldValue::from(pack::get(buf, pos).0).to_bytes()
}

impl Hash {
    /// An empty hash (`listpack`). Never stored empty: add a field first.
    pub fn new() -> Hash {
        Hash::Pack(pack::header_bytes(0, false).into_boxed_slice())
    }

    /// Number of stored fields, including expired ones not deleted yet
    /// (HLEN, Redis's `hashTypeLength(o, 0)`).
    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(b) => pack::header(b).0,
            Hash::Table(t) => t.map.len(),
        }
    }

    /// True when empty (an empty hash is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(b) if pack::header(b).1 => "listpackex",
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Pack(b) => b.len(),
            Hash::Table(t) => {
                let data: usize = t.map.iter().map(|(k, v)| k.len() + v.len()).sum();
                let ttls = t.ttls.as_ref().map_or(0, |x| {
                    x.at.len() * 2 * (std::mem::size_of::<(u64, Box<[u8]>)>() + 16)
                        + x.at.keys().map(|k| 2 * k.len()).sum::<usize>()
                });
                std::mem::size_of::<Table>()
                    + t.map.capacity() * (8 + 2 * std::mem::size_of::<Box<[u8]>>() + 8)
                    + data
                    + ttls
            }
        }
    }

    fn is_ex(&self) -> bool {
        matches!(self, Hash::Pack(b) if pack::header(b).1)
    }

    /// True when some field has a deadline (the hash counts in INFO's
    /// `subexpiry` and the active cycle visits it).
    pub fn has_field_ttls(&self) -> bool {
        self.min_field_ttl().is_some()
    }

    /// The earliest field deadline, if any field has one.
    pub fn min_field_ttl(&self) -> Option<u64> {
        match self {
            Hash::Pack(b) => {
                if !pack::header(b).1 {
                    return None;
                }
                // Fields with a deadline come first, earliest first.
                pack::Iter::new(b).next().map(|e| e.ttl).filter(|&t| t != 0)
            }
            Hash::Table(t) => t.min_ttl(),
        }
    }

    // ----- lookups -----

    fn find_pack(buf: &[u8], field: &[u8]) -> Option<pack::Entry> {
        let needle = Needle::new(field);
        pack::Iter::new(buf).find(|e| needle.matches(pack::get(buf, e.field).0))
    }

    /// A field's value and deadline (0 for none), expired or not.
    pub fn get(&self, field: &[u8]) -> Option<(FieldValue<'_>, u64)> {
        match self {
            Hash::Pack(b) => {
                let e = Self::find_pack(b, field)?;
                Some((pack::get(b, e.value).0.into(), e.ttl))
            }
            Hash::Table(t) => {
                let v = t.map.get(field)?;
                Some((FieldValue::Bytes(v), t.ttl(field)))
            }
        }
    }

    /// A live field's value, deleting the field first if its deadline has
    /// passed (Redis's `hashTypeGetValue` with lazy expiry).
    pub fn get_live(&mut self, field: &[u8], now: u64) -> Got<'_> {
        let expired = match self.get(field) {
            None => return Got::Missing,
            Some((_, ttl)) => ttl != 0 && ttl < now,
        };
        if expired {
            self.remove(field);
            return Got::Expired;
        }
        match self.get(field) {
            Some((v, _)) => Got::Value(v),
            None => Got::Missing,
        }
    }

    /// The number of fields not logically expired (HGETALL's count).
    pub fn live_len(&self, now: u64) -> usize {
        match self {
            Hash::Pack(b) => pack::Iter::new(b)
                .filter(|e| e.ttl == 0 || e.ttl >= now)
                .count(),
            Hash::Table(t) => {
                let expired = t.ttls.as_ref().map_or(0, |x| {
                    x.order.iter().take_while(|(at, _)| *at < now).count()
                });
                t.map.len() - expired
            }
        }
    }

    /// Visits the live fields in the hash's order.
    pub fn for_each_live(&self, now: u64, mut f: impl FnMut(FieldValue<'_>, FieldValue<'_>)) {
        match self {
            Hash::Pack(b) => {
                for e in pack::Iter::new(b) {
                    if e.ttl == 0 || e.ttl >= now {
                        f(
                            pack::get(b, e.field).0.into(),
                            pack::get(b, e.value).0.into(),
                        );
                    }
                }
            }
            Hash::Table(t) => {
                let has_ttls = t.ttls.as_ref().is_some_and(|x| !x.at.is_empty());
                for (k, v) in &t.map {
                    if has_ttls {
                        let ttl = t.ttl(k);
                        if ttl != 0 && ttl < now {
                            continue;
                        }
                    }
                    f(FieldValue::Bytes(k), FieldValue::Bytes(v));
                }
            }
        }
    }

    /// Every stored field and value, expired or not, in the hash's order.
    pub fn pairs(&self) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::with_capacity(self.len());
        match self {
            Hash::Pack(b) => {
                for e in pack::Iter::new(b) {
                    out.push((elem_bytes(b, e.field), elem_bytes(b, e.value)));
                }
            }
            Hash::Table(t) => {
                for (k, v) in &t.map {
                    out.push((Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)));
                }
            }
        }
        out
    }

    /// A field's deadline as HTTL and friends report it. Redis treats a
    /// deadline equal to `now` as expired in `listpackex` and as live in
    /// `hashtable`; so does this.
    pub fn field_ttl(&self, field: &[u8], now: u64) -> FieldTtl {
        match self.get(field) {
            None => FieldTtl::NoField,
            Some((_, 0)) => FieldTtl::NoTtl,
            Some((_, at)) => {
                let gone = if self.is_ex() { at <= now } else { at < now };
                if gone {
                    FieldTtl::NoField
                } else {
                    FieldTtl::At(at)
                }
            }
        }
    }

    // ----- conversions -----

    /// Redis's `hashTypeTryConversion` before a write of `pairs` field/value
    /// pairs whose strings are `args`: converts a packed hash to a table
    /// when the pairs alone exceed the entry limit, a string exceeds the
    /// value limit, or the buffer would grow past 1 GiB.
    pub fn convert_for_args<'a>(
        &mut self,
        pairs: usize,
        args: impl Iterator<Item = &'a [u8]>,
        th: &Thresholds,
    ) {
        let Hash::Pack(b) = self else {
            return;
        };
        if pairs > th.hash_max_listpack_entries {
            self.convert_to_table(pairs);
            return;
        }
        let mut sum = 0usize;
        for a in args {
            if a.len() > th.hash_max_listpack_value {
                self.convert_to_table(0);
                return;
            }
            sum = sum.saturating_add(a.len());
        }
        if b.len().saturating_add(sum) > LISTPACK_MAX_SAFETY_SIZE {
            self.convert_to_table(0);
        }
    }

    /// Converts to `hashtable` (keeping deadlines).
    pub fn convert_to_table(&mut self, extra: usize) {
        let Hash::Pack(b) = self else {
            return;
        };
        let mut t = Table {
            map: IndexMap::with_capacity_and_hasher(
                pack::header(b).0.max(extra),
                Hasher::default(),
            ),
            ttls: None,
        };
        for e in pack::Iter::new(b) {
            let f: Box<[u8]> = elem_bytes(b, e.field).as_ref().into();
            let v: Box<[u8]> = elem_bytes(b, e.value).as_ref().into();
            if e.ttl != 0 {
                t.set_ttl(&f, e.ttl);
            }
            t.map.insert(f, v);
        }
        *self = Hash::Table(Box::new(t));
    }

    /// Makes a packed hash `listpackex` (Redis does so whenever a field-TTL
    /// command runs on an existing `listpack` hash, even if it sets nothing).
    pub fn prepare_field_ttls(&mut self) {
        let Hash::Pack(b) = self else {
            return;
        };
        if pack::header(b).1 {
            return;
        }
        let entries: Vec<pack::Entry> = pack::Iter::new(b).collect();
        edit_pack(b, |body, _, ex| {
            let old = std::mem::take(body);
            let base = entries.first().map_or(0, |e| e.field);
            for e in &entries {
                body.extend_from_slice(&old[e.field - base..e.value_end - base]);
                body.push(0);
            }
            *ex = true;
        });
    }

    // ----- writes -----

    /// Packed: inserts an encoded entry, ordered by deadline when the hash
    /// has deadlines (before the first entry without one or with a later or
    /// equal one), else at the end. `entry` is field and value encoded.
    fn pack_insert(b: &mut Box<[u8]>, entry: &[u8], ttl: u64) {
        let (_, ex, body) = pack::header(b);
        let at = if ex && ttl != 0 {
            pack::Iter::new(b)
                .find(|e| e.ttl == 0 || e.ttl >= ttl)
                .map(|e| e.field - body)
        } else {
            None
        };
        edit_pack(b, |entries, count, ex| {
            let mut bytes = entry.to_vec();
            if *ex {
                pack::put_varint(&mut bytes, ttl);
            }
            match at {
                Some(p) => {
                    entries.splice(p..p, bytes);
                }
                None => entries.extend_from_slice(&bytes),
            }
            *count += 1;
        });
    }

    /// Packed: removes the entry at `e`.
    fn pack_remove(b: &mut Box<[u8]>, e: pack::Entry) {
        let (_, _, body) = pack::header(b);
        edit_pack(b, |entries, count, _| {
            entries.drain(e.field - body..e.end - body);
            *count -= 1;
        });
    }

    /// Packed: replaces the value of the entry at `e`, keeping its place.
    fn pack_replace_value(b: &mut Box<[u8]>, e: pack::Entry, value: &[u8]) {
        let (_, _, body) = pack::header(b);
        let mut enc = Vec::with_capacity(pack::str_len(value));
        pack::put_str(&mut enc, value);
        edit_pack(b, |entries, _, _| {
            entries.splice(e.value - body..e.value_end - body, enc);
        });
    }

    /// Sets a field (HSET): creates it or replaces its value, clearing its
    /// deadline. Returns true if the field was created. Converts to
    /// `hashtable` first if a string is longer than the value limit, and
    /// after if the count exceeds the entry limit.
    pub fn set(&mut self, field: &[u8], value: &[u8], th: &Thresholds) -> bool {
        self.set_generic(field, value, th, false)
    }

    /// Sets a field keeping its deadline (HINCRBY, HINCRBYFLOAT).
    pub fn set_keep_ttl(&mut self, field: &[u8], value: &[u8], th: &Thresholds) -> bool {
        self.set_generic(field, value, th, true)
    }

    fn set_generic(&mut self, field: &[u8], value: &[u8], th: &Thresholds, keep: bool) -> bool {
        if matches!(self, Hash::Pack(_))
            && (field.len() > th.hash_max_listpack_value
                || value.len() > th.hash_max_listpack_value)
        {
            self.convert_to_table(0);
        }
        let created = match self {
            Hash::Pack(b) => match Self::find_pack(b, field) {
                Some(e) if e.ttl != 0 && !keep => {
                    // Redis moves the field to the end without a deadline.
                    Self::pack_remove(b, e);
                    let mut entry = Vec::new();
                    pack::put_str(&mut entry, field);
                    pack::put_str(&mut entry, value);
                    Self::pack_insert(b, &entry, 0);
                    false
                }
                Some(e) => {
                    Self::pack_replace_value(b, e, value);
                    false
                }
                None => {
                    let mut entry = Vec::with_capacity(pack::str_len(field) + pack::str_len(value));
                    pack::put_str(&mut entry, field);
                    pack::put_str(&mut entry, value);
                    Self::pack_insert(b, &entry, 0);
                    true
                }
            },
            Hash::Table(t) => match t.map.get_mut(field) {
                Some(v) => {
                    *v = value.into();
                    if !keep {
                        t.clear_ttl(field);
                    }
                    false
                }
                None => {
                    // Grow by a quarter (see `Db::grow_if_full`).
                    let len = t.map.len();
                    if len == t.map.capacity() {
                        t.map.reserve_exact(crate::growth::additional(len));
                    }
                    t.map.insert(field.into(), value.into());
                    true
                }
            },
        };
        if matches!(self, Hash::Pack(_)) && self.len() > th.hash_max_listpack_entries {
            self.convert_to_table(0);
        }
        created
    }

    /// Deletes a field (expired or not). Returns true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(b) => match Self::find_pack(b, field) {
                Some(e) => {
                    Self::pack_remove(b, e);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(field),
        }
    }

    /// HEXPIRE on one field: sets its deadline `at` under `cond`; a
    /// deadline not after `now` deletes the field. The caller has called
    /// [`Hash::prepare_field_ttls`]. An expired field that is still stored
    /// counts as existing, as in Redis.
    pub fn set_field_ttl(&mut self, field: &[u8], at: u64, cond: ExpireCond, now: u64) -> SetTtl {
        self.prepare_field_ttls();
        let prev = match self.get(field) {
            None => return SetTtl::NoField,
            Some((_, ttl)) => ttl,
        };
        let met = match (prev, cond) {
            (0, ExpireCond::Xx | ExpireCond::Gt) => false,
            (0, _) => true,
            (_, ExpireCond::Nx) => false,
            (p, ExpireCond::Gt) => p < at,
            (p, ExpireCond::Lt) => p > at,
            _ => true,
        };
        if !met {
            return SetTtl::CondNotMet;
        }
        if at <= now {
            self.remove(field);
            return SetTtl::Deleted;
        }
        match self {
            Hash::Pack(b) => {
                if let Some(e) = Self::find_pack(b, field) {
                    let entry = b[e.field..e.value_end].to_vec();
                    Self::pack_remove(b, e);
                    Self::pack_insert(b, &entry, at);
                }
            }
            Hash::Table(t) => t.set_ttl(field, at),
        }
        SetTtl::Set
    }

    /// HPERSIST on one field.
    pub fn persist_field(&mut self, field: &[u8], now: u64) -> Persist {
        match self.get(field) {
            None => return Persist::NoField,
            Some((_, 0)) => return Persist::NoTtl,
            Some((_, at)) if at < now => return Persist::NoField,
            Some(_) => {}
        }
        match self {
            Hash::Pack(b) => {
                if let Some(e) = Self::find_pack(b, field) {
                    let entry = b[e.field..e.value_end].to_vec();
                    Self::pack_remove(b, e);
                    Self::pack_insert(b, &entry, 0);
                }
            }
            Hash::Table(t) => {
                t.clear_ttl(field);
            }
        }
        Persist::Done
    }

    /// Deletes up to `max` fields whose deadline has come (`<= now`),
    /// earliest first. Returns how many it deleted.
    pub fn expire_due(&mut self, now: u64, max: usize) -> usize {
        match self {
            Hash::Pack(b) => {
                if !pack::header(b).1 {
                    return 0;
                }
                let (_, _, body) = pack::header(b);
                let mut n = 0;
                let mut cut = body;
                for e in pack::Iter::new(b) {
                    if n >= max || e.ttl == 0 || e.ttl > now {
                        break;
                    }
                    n += 1;
                    cut = e.end;
                }
                if n > 0 {
                    edit_pack(b, |entries, count, _| {
                        entries.drain(..cut - body);
                        *count -= n;
                    });
                }
                n
            }
            Hash::Table(t) => {
                let mut n = 0;
                while n < max {
                    let Some(field) = t.ttls.as_ref().and_then(|x| {
                        x.order
                            .first()
                            .filter(|(at, _)| *at <= now)
                            .map(|(_, f)| f.clone())
                    }) else {
                        break;
                    };
                    t.remove(&field);
                    n += 1;
                }
                if t.ttls.as_ref().is_some_and(|x| x.at.is_empty()) {
                    t.ttls = None;
                }
                n
            }
        }
    }

    /// Redis's `hashTypeExpireIfNeeded` (HRANDFIELD): when the earliest
    /// deadline is in the past, deletes every field whose deadline has come.
    pub fn expire_if_needed(&mut self, now: u64) -> usize {
        match self.min_field_ttl() {
            Some(min) if min < now => self.expire_due(now, usize::MAX),
            _ => 0,
        }
    }

    // ----- random picks and scans -----

    /// The entry at a position in the hash's order (packed: `offsets`
    /// from [`Hash::pack_offsets`]).
    fn pair_at(
        &self,
        i: usize,
        offsets: &[pack::Entry],
        with_value: bool,
    ) -> (Bytes, Option<Bytes>) {
        match self {
            Hash::Pack(b) => {
                let e = offsets[i];
                (
                    elem_bytes(b, e.field),
                    with_value.then(|| elem_bytes(b, e.value)),
                )
            }
            Hash::Table(t) => match t.map.get_index(i) {
                Some((k, v)) => (
                    Bytes::copy_from_slice(k),
                    with_value.then(|| Bytes::copy_from_slice(v)),
                ),
                None => (Bytes::new(), None),
            },
        }
    }

    fn pack_offsets(&self) -> Vec<pack::Entry> {
        match self {
            Hash::Pack(b) => pack::Iter::new(b).collect(),
            Hash::Table(_) => Vec::new(),
        }
    }

    /// `count` fields picked uniformly and independently (HRANDFIELD with a
    /// negative count). The caller bounds `count`.
    pub fn random_with_repeats(
        &self,
        count: usize,
        with_values: bool,
        rng: &mut impl Rng,
    ) -> Vec<(Bytes, Option<Bytes>)> {
        let n = self.len();
        if n == 0 {
            return Vec::new();
        }
        let offsets = self.pack_offsets();
        (0..count)
            .map(|_| self.pair_at(rng.random_range(0..n), &offsets, with_values))
            .collect()
    }

    /// `count` distinct fields picked uniformly (HRANDFIELD with a positive
    /// count). With `count >= len`, every field in the hash's order; a
    /// packed hash answers in its order (as Redis does), a table in random
    /// order.
    pub fn random_distinct(
        &self,
        count: usize,
        with_values: bool,
        rng: &mut impl Rng,
    ) -> Vec<(Bytes, Option<Bytes>)> {
        let n = self.len();
        let offsets = self.pack_offsets();
        if count >= n {
            return (0..n)
                .map(|i| self.pair_at(i, &offsets, with_values))
                .collect();
        }
        let picks: Vec<usize> = if count * 3 > n {
            // Partial Fisher-Yates over all positions (n is the hash's size).
            let mut idx: Vec<usize> = (0..n).collect();
            for i in 0..count {
                let j = rng.random_range(i..n);
                idx.swap(i, j);
            }
            idx.truncate(count);
            idx
        } else {
            // Few picks from many: draw until `count` distinct ones.
            let mut seen = std::collections::HashSet::with_capacity(count);
            let mut v = Vec::with_capacity(count);
            while v.len() < count {
                let i = rng.random_range(0..n);
                if seen.insert(i) {
                    v.push(i);
                }
            }
            v
        };
        let mut picks = picks;
        if matches!(self, Hash::Pack(_)) {
            picks.sort_unstable();
        }
        picks
            .into_iter()
            .map(|i| self.pair_at(i, &offsets, with_values))
            .collect()
    }

    /// One uniformly random field (HRANDFIELD without a count).
    pub fn random_field(&self, rng: &mut impl Rng) -> Option<Bytes> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let i = rng.random_range(0..n);
        match self {
            Hash::Pack(b) => pack::Iter::new(b).nth(i).map(|e| elem_bytes(b, e.field)),
            Hash::Table(t) => t.map.get_index(i).map(|(k, _)| Bytes::copy_from_slice(k)),
        }
    }

    /// One HSCAN step. A packed hash is returned whole with cursor 0, as
    /// Redis does. A table is walked by position from the end, `cursor`
    /// being the number of positions left (0 to start): removals only move
    /// the last entry into the freed slot, so every field present for the
    /// whole scan is returned. Visits up to `count` positions; expired fields
    /// are skipped. Returns the next cursor, 0 when done.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        now: u64,
        mut visit: impl FnMut(FieldValue<'_>, FieldValue<'_>),
    ) -> u64 {
        match self {
            Hash::Pack(_) => {
                self.for_each_live(now, visit);
                0
            }
            Hash::Table(t) => {
                let len = t.map.len();
                let mut pos = if cursor == 0 {
                    len
                } else {
                    usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
                };
                let has_ttls = t.ttls.as_ref().is_some_and(|x| !x.at.is_empty());
                let mut visited = 0;
                while pos > 0 && visited < count.max(1) {
                    pos -= 1;
                    visited += 1;
                    if let Some((k, v)) = t.map.get_index(pos) {
                        if has_ttls {
                            let ttl = t.ttl(k);
                            if ttl != 0 && ttl < now {
                                continue;
                            }
                        }
                        visit(FieldValue::Bytes(k), FieldValue::Bytes(v));
                    }
                }
                pos as u64
            }
        }
    }

    /// Every field and value with its deadline (0 for none), in the hash's
    /// order (for tests, DUMP and persistence).
    pub fn entries_with_ttl(&self) -> Vec<(Bytes, Bytes, u64)> {
        match self {
            Hash::Pack(b) => pack::Iter::new(b)
                .map(|e| (elem_bytes(b, e.field), elem_bytes(b, e.value), e.ttl))
                .collect(),
            Hash::Table(t) => t
                .map
                .iter()
                .map(|(k, v)| {
                    (
                        Bytes::copy_from_slice(k),
                        Bytes::copy_from_slice(v),
                        t.ttl(k),
                    )
                })
                .collect(),
        }
    }

    /// True if `field` holds `value` (for tests).
    pub fn has_pair(&self, field: &[u8], value: &[u8]) -> bool {
        self.get(field).is_some_and(|(v, _)| v.eq_bytes(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn th(entries: usize, value: usize) -> Thresholds {
        Thresholds {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            ..Thresholds::default()
        }
    }

    fn fields(h: &Hash) -> Vec<Vec<u8>> {
        h.entries_with_ttl()
            .into_iter()
            .map(|(f, _, _)| f.to_vec())
            .collect()
    }

    #[test]
    fn packed_strings_round_trip_canonically() {
        let cases: &[&[u8]] = &[
            b"",
            b"0",
            b"47",
            b"48",
            b"-1",
            b"127",
            b"128",
            b"-128",
            b"-129",
            b"32767",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"9223372036854775808",
            b"007",
            b"+1",
            b"-0",
            b"1.0",
            b"abc",
            &[0xC8; 3],
        ];
        for &c in cases {
            let mut v = Vec::new();
            pack::put_str(&mut v, c);
            assert_eq!(v.len(), pack::str_len(c), "{c:?}");
            let (e, end) = pack::get(&v, 0);
            assert_eq!(end, v.len());
            assert_eq!(pack::skip(&v, 0), v.len());
            assert_eq!(FieldValue::from(e).to_bytes().as_ref(), c);
            assert_eq!(FieldValue::from(e).len(), c.len());
        }
        let long = vec![b'x'; 1000];
        let mut v = Vec::new();
        pack::put_str(&mut v, &long);
        assert_eq!(pack::get(&v, 0).0, Elem::Str(&long));
        assert_eq!(v.len(), pack::str_len(&long));
    }

    #[test]
    fn listpack_order_and_conversions() {
        let t = th(3, 8);
        let mut h = Hash::new();
        assert!(h.set(b"a", b"1", &t));
        assert!(h.set(b"b", b"2", &t));
        assert!(!h.set(b"a", b"3", &t));
        assert_eq!(fields(&h), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(h.encoding(), "listpack");
        assert!(h.has_pair(b"a", b"3"));
        assert!(h.set(b"c", b"x", &t));
        assert_eq!(h.encoding(), "listpack");
        assert!(h.set(b"d", b"x", &t));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 4);
        let mut h2 = Hash::new();
        h2.set(b"f", b"123456789", &t);
        assert_eq!(h2.encoding(), "hashtable");
        // Never back: deleting fields keeps the table.
        h.remove(b"a");
        h.remove(b"b");
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn listpackex_orders_by_deadline() {
        let t = th(128, 64);
        let mut h = Hash::new();
        for f in [b"a", b"b", b"c", b"d"] {
            h.set(f, b"v", &t);
        }
        h.prepare_field_ttls();
        assert_eq!(h.encoding(), "listpackex");
        assert_eq!(
            h.set_field_ttl(b"c", 5000, ExpireCond::Always, 100),
            SetTtl::Set
        );
        assert_eq!(
            h.set_field_ttl(b"b", 3000, ExpireCond::Always, 100),
            SetTtl::Set
        );
        assert_eq!(
            h.set_field_ttl(b"d", 3000, ExpireCond::Always, 100),
            SetTtl::Set
        );
        // Equal deadlines: the newer goes first (before the first >=).
        assert_eq!(
            fields(&h),
            vec![b"d".to_vec(), b"b".to_vec(), b"c".to_vec(), b"a".to_vec()]
        );
        assert_eq!(h.min_field_ttl(), Some(3000));
        // HSET clears the deadline and moves the field to the end.
        h.set(b"b", b"w", &t);
        assert_eq!(
            fields(&h),
            vec![b"d".to_vec(), b"c".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
        // HINCRBY keeps it in place.
        h.set_keep_ttl(b"c", b"7", &t);
        assert_eq!(h.get(b"c"), Some((FieldValue::Int(7), 5000)));
        assert_eq!(h.persist_field(b"d", 100), Persist::Done);
        assert_eq!(
            fields(&h),
            vec![b"c".to_vec(), b"a".to_vec(), b"b".to_vec(), b"d".to_vec()]
        );
        assert_eq!(h.persist_field(b"d", 100), Persist::NoTtl);
        assert_eq!(h.persist_field(b"zz", 100), Persist::NoField);
        assert_eq!(
            h.set_field_ttl(b"zz", 5000, ExpireCond::Always, 100),
            SetTtl::NoField
        );
        assert_eq!(
            h.set_field_ttl(b"a", 100, ExpireCond::Always, 100),
            SetTtl::Deleted
        );
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn conditions_follow_redis_7_4() {
        let t = th(128, 64);
        for table in [false, true] {
            let mut h = Hash::new();
            h.set(b"f", b"v", &t);
            if table {
                h.convert_to_table(0);
            }
            // A field without a deadline: XX and GT fail, LT and NX succeed.
            assert_eq!(
                h.set_field_ttl(b"f", 500, ExpireCond::Xx, 0),
                SetTtl::CondNotMet
            );
            assert_eq!(
                h.set_field_ttl(b"f", 500, ExpireCond::Gt, 0),
                SetTtl::CondNotMet
            );
            assert_eq!(h.set_field_ttl(b"f", 500, ExpireCond::Lt, 0), SetTtl::Set);
            assert_eq!(
                h.set_field_ttl(b"f", 400, ExpireCond::Nx, 0),
                SetTtl::CondNotMet
            );
            assert_eq!(
                h.set_field_ttl(b"f", 400, ExpireCond::Gt, 0),
                SetTtl::CondNotMet
            );
            assert_eq!(h.set_field_ttl(b"f", 600, ExpireCond::Gt, 0), SetTtl::Set);
            assert_eq!(
                h.set_field_ttl(b"f", 600, ExpireCond::Lt, 0),
                SetTtl::CondNotMet
            );
            assert_eq!(h.set_field_ttl(b"f", 300, ExpireCond::Lt, 0), SetTtl::Set);
            assert_eq!(h.set_field_ttl(b"f", 700, ExpireCond::Xx, 0), SetTtl::Set);
            assert_eq!(h.field_ttl(b"f", 0), FieldTtl::At(700));
            // Exactly at the deadline: listpackex says gone, hashtable not yet.
            let at = h.field_ttl(b"f", 700);
            assert_eq!(
                at,
                if table {
                    FieldTtl::At(700)
                } else {
                    FieldTtl::NoField
                }
            );
            assert!(matches!(h.get_live(b"f", 700), Got::Value(_)));
            assert_eq!(h.get_live(b"f", 701), Got::Expired);
            assert!(h.is_empty());
        }
    }

    #[test]
    fn expiry_helpers() {
        let t = th(128, 64);
        for table in [false, true] {
            let mut h = Hash::new();
            for (i, f) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
                h.set(*f, b"v", &t);
                if i < 3 {
                    h.set_field_ttl(*f, 100 + i as u64, ExpireCond::Always, 0);
                }
            }
            if table {
                h.convert_to_table(0);
            }
            assert_eq!(h.live_len(101), 3);
            let mut seen = 0;
            h.for_each_live(101, |_, _| seen += 1);
            assert_eq!(seen, 3);
            assert_eq!(h.len(), 4);
            assert_eq!(h.expire_due(101, 1), 1);
            assert_eq!(h.expire_due(101, 10), 1);
            assert_eq!(h.len(), 2);
            assert_eq!(h.expire_if_needed(102), 0);
            assert_eq!(h.expire_if_needed(103), 1);
            assert!(!h.has_field_ttls());
        }
    }

    #[test]
    fn random_picks_are_uniform() {
        let t = th(128, 64);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        for table in [false, true] {
            let mut h = Hash::new();
            for i in 0..4u8 {
                h.set(&[b'a' + i], b"v", &t);
            }
            if table {
                h.convert_to_table(0);
            }
            let mut counts = [0u32; 4];
            for (f, _) in h.random_with_repeats(40_000, false, &mut rng) {
                counts[(f[0] - b'a') as usize] += 1;
            }
            for c in counts {
                assert!((9_000..11_000).contains(&c), "{counts:?}");
            }
            let mut counts = [0u32; 4];
            for _ in 0..20_000 {
                for (f, v) in h.random_distinct(2, true, &mut rng) {
                    assert_eq!(v.as_deref(), Some(&b"v"[..]));
                    counts[(f[0] - b'a') as usize] += 1;
                }
            }
            for c in counts {
                assert!((9_000..11_000).contains(&c), "{counts:?}");
            }
            let all = h.random_distinct(10, false, &mut rng);
            assert_eq!(all.len(), 4);
        }
    }

    #[test]
    fn scan_returns_every_field_present_throughout() {
        let t = th(0, 64);
        let mut h = Hash::new();
        for i in 0..500u32 {
            h.set(format!("f{i}").as_bytes(), b"v", &t);
        }
        assert_eq!(h.encoding(), "hashtable");
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            cursor = h.scan(cursor, 7, 0, |f, _| {
                seen.insert(f.to_bytes());
            });
            h.remove(format!("f{}", round * 13 % 500).as_bytes());
            h.set(format!("new{round}").as_bytes(), b"v", &t);
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500u32 {
            let f = format!("f{i}");
            if h.get(f.as_bytes()).is_some() {
                assert!(seen.contains(f.as_bytes()), "missed {f}");
            }
        }
    }

    /// A model of Redis's listpack / listpackex order and contents.
    #[derive(Debug, Default)]
    struct Model {
        items: Vec<(Vec<u8>, Vec<u8>, u64)>,
        ex: bool,
        table: bool,
    }

    impl Model {
        fn pos(&self, f: &[u8]) -> Option<usize> {
            self.items.iter().position(|(k, _, _)| k == f)
        }
        fn insert_ordered(&mut self, item: (Vec<u8>, Vec<u8>, u64)) {
            let at = if self.ex && item.2 != 0 {
                self.items
                    .iter()
                    .position(|(_, _, t)| *t == 0 || *t >= item.2)
            } else {
                None
            };
            match at {
                Some(i) => self.items.insert(i, item),
                None => self.items.push(item),
            }
        }
        fn set(&mut self, f: &[u8], v: &[u8], keep: bool, t: &Thresholds) -> bool {
            if f.len() > t.hash_max_listpack_value || v.len() > t.hash_max_listpack_value {
                self.table = true;
            }
            let created = match self.pos(f) {
                Some(i) if self.items[i].2 != 0 && !keep && !self.table => {
                    self.items.remove(i);
                    self.insert_ordered((f.to_vec(), v.to_vec(), 0));
                    false
                }
                Some(i) => {
                    self.items[i].1 = v.to_vec();
                    if !keep {
                        self.items[i].2 = 0;
                    }
                    false
                }
                None => {
                    self.items.push((f.to_vec(), v.to_vec(), 0));
                    true
                }
            };
            if self.items.len() > t.hash_max_listpack_entries {
                self.table = true;
            }
            created
        }
        fn set_ttl(&mut self, f: &[u8], at: u64, cond: ExpireCond, now: u64) -> SetTtl {
            if !self.table {
                self.ex = true;
            }
            let Some(i) = self.pos(f) else {
                return SetTtl::NoField;
            };
            let prev = self.items[i].2;
            let ok = match cond {
                ExpireCond::Always => true,
                ExpireCond::Nx => prev == 0,
                ExpireCond::Xx => prev != 0,
                ExpireCond::Gt => prev != 0 && prev < at,
                ExpireCond::Lt => prev == 0 || prev > at,
            };
            if !ok {
                return SetTtl::CondNotMet;
            }
            let mut item = self.items.remove(i);
            if at <= now {
                return SetTtl::Deleted;
            }
            item.2 = at;
            if self.table {
                self.items.insert(i, item);
            } else {
                self.insert_ordered(item);
            }
            SetTtl::Set
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, usize),
        SetKeep(usize, usize),
        Remove(usize),
        Ttl(usize, u64, u8),
        Persist(usize),
        Expire(u64),
        Get(usize, u64),
    }

    fn strs() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            &b"a"[..],
            b"b",
            b"c",
            b"1",
            b"-7",
            b"300",
            b"007",
            b"",
            b"x y",
            b"99999999999",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        v.push(vec![b'L'; 200]);
        v.push(vec![b'm'; 20]);
        v
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..12usize, 0..12usize).prop_map(|(f, v)| Op::Set(f, v)),
            1 => (0..12usize, 0..12usize).prop_map(|(f, v)| Op::SetKeep(f, v)),
            1 => (0..12usize).prop_map(Op::Remove),
            2 => (0..12usize, 0..40u64, 0..5u8).prop_map(|(f, t, c)| Op::Ttl(f, t, c)),
            1 => (0..12usize).prop_map(Op::Persist),
            1 => (0..40u64).prop_map(Op::Expire),
            1 => (0..12usize, 0..40u64).prop_map(|(f, t)| Op::Get(f, t)),
        ]
    }

    proptest! {
        #[test]
        fn matches_model(ops in proptest::collection::vec(op(), 1..60), entries in 2..10usize) {
            let t = th(entries, 24);
            let s = strs();
            let mut h = Hash::new();
            let mut m = Model::default();
            for o in ops {
                match o {
                    Op::Set(f, v) => prop_assert_eq!(h.set(&s[f], &s[v], &t), m.set(&s[f], &s[v], false, &t)),
                    Op::SetKeep(f, v) => prop_assert_eq!(h.set_keep_ttl(&s[f], &s[v], &t), m.set(&s[f], &s[v], true, &t)),
                    Op::Remove(f) => {
                        let had = m.pos(&s[f]).map(|i| m.items.remove(i)).is_some();
                        prop_assert_eq!(h.remove(&s[f]), had);
                    }
                    Op::Ttl(f, at, c) => {
                        let cond = [ExpireCond::Always, ExpireCond::Nx, ExpireCond::Xx, ExpireCond::Gt, ExpireCond::Lt][c as usize];
                        prop_assert_eq!(h.set_field_ttl(&s[f], at, cond, 10), m.set_ttl(&s[f], at, cond, 10));
                    }
                    Op::Persist(f) => {
                        let want = match m.pos(&s[f]) {
                            None => Persist::NoField,
                            Some(i) if m.items[i].2 == 0 => Persist::NoTtl,
                            Some(i) if m.items[i].2 < 10 => Persist::NoField,
                            Some(i) => {
                                let mut item = m.items.remove(i);
                                item.2 = 0;
                                if m.table { m.items.insert(i, item) } else { m.items.push(item) }
                                Persist::Done
                            }
                        };
                        prop_assert_eq!(h.persist_field(&s[f], 10), want);
                    }
                    Op::Expire(now) => {
                        let before = m.items.len();
                        m.items.retain(|(_, _, t)| *t == 0 || *t > now);
                        prop_assert_eq!(h.expire_due(now, usize::MAX), before - m.items.len());
                    }
                    Op::Get(f, now) => {
                        let want = match m.pos(&s[f]) {
                            None => 0,
                            Some(i) if m.items[i].2 != 0 && m.items[i].2 < now => { m.items.remove(i); 1 }
                            Some(_) => 2,
                        };
                        let got = match h.get_live(&s[f], now) {
                            Got::Missing => 0,
                            Got::Expired => 1,
                            Got::Value(v) => { prop_assert!(v.eq_bytes(&m.items[m.pos(&s[f]).unwrap_or(0)].1)); 2 }
                        };
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(h.len(), m.items.len());
                let enc = if m.table { "hashtable" } else if m.ex { "listpackex" } else { "listpack" };
                prop_assert_eq!(h.encoding(), enc);
                let mut got = h.entries_with_ttl().into_iter().map(|(f, v, t)| (f.to_vec(), v.to_vec(), t)).collect::<Vec<_>>();
                let mut want = m.items.clone();
                if m.table {
                    got.sort();
                    want.sort();
                }
                prop_assert_eq!(got, want);
                prop_assert_eq!(h.min_field_ttl(), m.items.iter().map(|x| x.2).filter(|&t| t != 0).min());
            }
        }
    }
}

#[cfg(test)]
mod layout {
    /// A hash is stored inline in `Value` (no extra allocation per key):
    /// that only pays off while it does not make `Value` bigger.
    #[test]
    fn hash_is_two_words_and_value_stays_small() {
        assert_eq!(std::mem::size_of::<super::Hash>(), 16);
        assert!(std::mem::size_of::<crate::Value>() <= 24);
    }
}
