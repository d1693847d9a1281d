//! The set type, with Redis 7.4's three encodings and its conversion rules.
//!
//! - `intset`: all members are integers (Redis's `string2ll`), at most
//!   `set-max-intset-entries`; a sorted array of little-endian integers of
//!   one width (2, 4 or 8 bytes) that widens when a larger value arrives,
//!   like Redis's intset.
//! - `listpack`: small sets (at most `set-max-listpack-entries` members of
//!   at most `set-max-listpack-value` bytes); members in insertion order,
//!   each as a varint length and its bytes, behind a varint count.
//! - `hashtable`: anything larger; an insertion-ordered hash set so that a
//!   random member is O(1) and SSCAN can walk positions.
//!
//! Both compact encodings live in one boxed byte buffer whose first byte
//! says which (and the intset's width), so a small set is two allocations:
//! the 16-byte `Set` (boxed in `Value`) and its buffer, against Redis's
//! 16-byte object plus its intset/listpack with their 8/6-byte headers.
//!
//! Conversions follow `t_set.c` (7.4): a new set is an intset when its
//! first member is an integer and the number of members being added fits,
//! a listpack when that number fits the listpack limit, a hash table
//! otherwise; a non-integer added to an intset makes a listpack if the
//! intset's members and the new one fit the listpack limits, else a hash
//! table; an intset or listpack that outgrows its limit becomes a hash
//! table. Sets never convert back on removal; only SPOP with a count
//! (which rebuilds the set from what remains) and SINTERSTORE (which makes
//! an intset of an all-integer result) choose a smaller encoding.
//!
//! SSCAN over a hash table walks positions from the end towards the start
//! (the cursor is the number of positions still to visit): removal moves
//! only the last member into the freed slot, so a member present for the
//! whole walk is never moved from the unvisited part into the visited part.

use crate::numfmt::{format_i64, parse_i64};
use crate::types::Thresholds;
use bytes::Bytes;
use indexmap::IndexSet;
use rand::Rng;

type Hasher = foldhash::fast::RandomState;

/// First byte of a compact buffer: intset of 16-bit values.
const K_I16: u8 = 0;
/// Intset of 32-bit values.
const K_I32: u8 = 1;
/// Intset of 64-bit values.
const K_I64: u8 = 2;
/// Listpack.
const K_PACK: u8 = 3;

/// Redis caps intsets at 2^30 entries whatever the configuration says.
const INTSET_HARD_MAX: usize = 1 << 30;
/// Redis's `lpSafeToAdd` limit on a listpack's size.
const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

/// A member as stored: an integer of an intset, or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    /// An intset member.
    Int(i64),
    /// A listpack or hash-table member.
    Str(&'a [u8]),
}

impl Member<'_> {
    /// Appends the member's bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Member::Int(v) => format_i64(*v, out),
            Member::Str(s) => out.extend_from_slice(s),
        }
    }

    /// The member's bytes.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Member::Int(v) => {
                let mut out = Vec::with_capacity(20);
                format_i64(*v, &mut out);
                Bytes::from(out)
            }
            Member::Str(s) => Bytes::copy_from_slice(s),
        }
    }

    /// The member's bytes as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// The member as an integer, if it is one by Redis's `string2ll`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Member::Int(v) => Some(*v),
            Member::Str(s) => parse_i64(s),
        }
    }
}

/// The hash-table encoding, with the members' total size kept for
/// `heap_size`.
#[derive(Debug, Clone, Default)]
struct Table {
    set: IndexSet<Box<[u8]>, Hasher>,
    bytes: usize,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            set: IndexSet::with_capacity_and_hasher(n, Hasher::default()),
            bytes: 0,
        }
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        if self.set.contains(m) {
            return false;
        }
        self.bytes += m.len();
        // Grow by a quarter (see `Db::grow_if_full`): indexmap would size
        // its entries to the hash table's capacity, up to 1.75x the members.
        let len = self.set.len();
        if len == self.set.capacity() {
            self.set.reserve_exact(crate::growth::additional(len));
        }
        self.set.insert(m.into())
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        if self.set.swap_remove(m) {
            self.bytes -= m.len();
            // Give memory back when a large set has mostly emptied
            // (Redis's dictResize); order, hence SSCAN, is unaffected.
            if self.set.capacity() > 64 && self.set.len() * 8 < self.set.capacity() {
                self.set.shrink_to_fit();
            }
            true
        } else {
            false
        }
    }

    fn swap_remove_index(&mut self, i: usize) -> Option<Box<[u8]>> {
        let m = self.set.swap_remove_index(i)?;
        self.bytes -= m.len();
        Some(m)
    }
}

#[derive(Debug, Clone)]
enum Repr {
    /// An intset or a listpack; the first byte says which.
    Small(Box<[u8]>),
    /// A hash table.
    Table(Box<Table>),
}

/// A set value.
#[derive(Debug, Clone)]
pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set::new_intset()
    }
}

impl PartialEq for Set {
    /// Set equality: same members, whatever the encoding or order.
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

// ---------------------------------------------------------------------------
// Varints (LEB128) for listpack counts and lengths
// ---------------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `pos`; returns (value, position after it).
fn get_varint(b: &[u8], mut pos: usize) -> (usize, usize) {
    let mut v = 0usize;
    let mut shift = 0;
    while let Some(&byte) = b.get(pos) {
        pos += 1;
        if shift < usize::BITS {
            v |= ((byte & 0x7f) as usize) << shift;
        }
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (v, pos)
}

// ---------------------------------------------------------------------------
// Intset buffers: [kind][values...]
// ---------------------------------------------------------------------------

fn width_of(kind: u8) -> usize {
    match kind {
        K_I16 => 2,
        K_I32 => 4,
        _ => 8,
    }
}

fn kind_for(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        K_I16
    } else if i32::try_from(v).is_ok() {
        K_I32
    } else {
        K_I64
    }
}

fn read_int(b: &[u8], w: usize, i: usize) -> i64 {
    let s = &b[1 + i * w..1 + (i + 1) * w];
    match w {
        2 => i16::from_le_bytes([s[0], s[1]]) as i64,
        4 => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64,
        _ => i64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
    }
}

fn write_int(out: &mut Vec<u8>, w: usize, v: i64) {
    match w {
        2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
        4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
        _ => out.extend_from_slice(&v.to_le_bytes()),
    }
}

fn ints_len(b: &[u8]) -> usize {
    (b.len() - 1) / width_of(b[0])
}

fn ints_search(b: &[u8], v: i64) -> Result<usize, usize> {
    let w = width_of(b[0]);
    let (mut lo, mut hi) = (0, ints_len(b));
    while lo < hi {
        let mid = (lo + hi) / 2;
        match read_int(b, w, mid).cmp(&v) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// The intset with `v` inserted at `at`, widened if `v` needs it.
fn ints_inserted(b: &[u8], at: usize, v: i64) -> Box<[u8]> {
    let kind = b[0].max(kind_for(v));
    let (w_old, w) = (width_of(b[0]), width_of(kind));
    let n = ints_len(b);
    let mut out = Vec::with_capacity(1 + (n + 1) * w);
    out.push(kind);
    for i in 0..n {
        if i == at {
            write_int(&mut out, w, v);
        }
        write_int(&mut out, w, read_int(b, w_old, i));
    }
    if at == n {
        write_int(&mut out, w, v);
    }
    out.into_boxed_slice()
}

fn ints_removed(b: &[u8], at: usize) -> Box<[u8]> {
    let w = width_of(b[0]);
    let mut out = Vec::with_capacity(b.len() - w);
    out.extend_from_slice(&b[..1 + at * w]);
    out.extend_from_slice(&b[1 + (at + 1) * w..]);
    out.into_boxed_slice()
}

/// Characters of `v` in decimal, sign included (Redis's sdigits10).
fn digits10(v: i64) -> usize {
    let mut n = if v < 0 { 2 } else { 1 };
    let mut u = v.unsigned_abs() / 10;
    while u > 0 {
        n += 1;
        u /= 10;
    }
    n
}

/// Bytes Redis's listpack needs for an integer entry (lpEstimateBytesRepeatedInteger
/// for one entry): encoding plus backlen.
fn lp_int_entry_bytes(v: i64) -> usize {
    if (0..=127).contains(&v) {
        2
    } else if (-4096..=4095).contains(&v) {
        3
    } else if i16::try_from(v).is_ok() {
        4
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        5
    } else if i32::try_from(v).is_ok() {
        6
    } else {
        10
    }
}

// ---------------------------------------------------------------------------
// Listpack buffers: [K_PACK][varint count][(varint len, bytes)...]
// ---------------------------------------------------------------------------

fn pack_header(b: &[u8]) -> (usize, usize) {
    get_varint(b, 1)
}

/// Iterates a listpack's entries as (start of entry, bytes).
struct PackIter<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (usize, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.b.len() {
            return None;
        }
        let start = self.pos;
        let (len, data) = get_varint(self.b, self.pos);
        let end = (data + len).min(self.b.len());
        self.pos = end;
        Some((start, &self.b[data..end]))
    }
}

fn pack_iter(b: &[u8]) -> PackIter<'_> {
    let (_, pos) = pack_header(b);
    PackIter { b, pos }
}

fn pack_find(b: &[u8], m: &[u8]) -> Option<usize> {
    pack_iter(b).find(|(_, e)| *e == m).map(|(start, _)| start)
}

/// A listpack buffer with `count` entries from an iterator of members.
fn pack_build<'a>(count: usize, members: impl Iterator<Item = Member<'a>>) -> Box<[u8]> {
    let mut out = Vec::with_capacity(2 + count * 4);
    out.push(K_PACK);
    put_varint(&mut out, count);
    let mut scratch = Vec::new();
    for m in members {
        let bytes: &[u8] = match m {
            Member::Str(s) => s,
            Member::Int(v) => {
                scratch.clear();
                format_i64(v, &mut scratch);
                &scratch
            }
        };
        put_varint(&mut out, bytes.len());
        out.extend_from_slice(bytes);
    }
    out.into_boxed_slice()
}

/// The listpack with a new count and its entries changed by `edit`.
fn pack_rewrite(b: &[u8], count: usize, edit: impl FnOnce(&[u8], &mut Vec<u8>)) -> Box<[u8]> {
    let (_, body) = pack_header(b);
    let mut out = Vec::with_capacity(b.len() + 16);
    out.push(K_PACK);
    put_varint(&mut out, count);
    edit(&b[body..], &mut out);
    out.into_boxed_slice()
}

fn pack_appended(b: &[u8], m: &[u8]) -> Box<[u8]> {
    let (n, _) = pack_header(b);
    pack_rewrite(b, n + 1, |body, out| {
        out.extend_from_slice(body);
        put_varint(out, m.len());
        out.extend_from_slice(m);
    })
}

/// The listpack without the entries starting at the given offsets (sorted).
fn pack_without(b: &[u8], starts: &[usize]) -> Box<[u8]> {
    let (n, body) = pack_header(b);
    let mut out = Vec::with_capacity(b.len());
    out.push(K_PACK);
    put_varint(&mut out, n - starts.len());
    let mut pos = body;
    for &s in starts {
        out.extend_from_slice(&b[pos..s]);
        let (len, data) = get_varint(b, s);
        pos = data + len;
    }
    out.extend_from_slice(&b[pos..]);
    out.into_boxed_slice()
}

// ---------------------------------------------------------------------------
// Iteration
// ---------------------------------------------------------------------------

/// Iterates a set's members in encoding order: ascending for an intset,
/// insertion order for a listpack, position order for a hash table.
pub struct Iter<'a> {
    inner: IterInner<'a>,
}

enum IterInner<'a> {
    Ints {
        b: &'a [u8],
        w: usize,
        i: usize,
        n: usize,
    },
    Pack(PackIter<'a>),
    Table(indexmap::set::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;
    fn next(&mut self) -> Option<Member<'a>> {
        match &mut self.inner {
            IterInner::Ints { b, w, i, n } => {
                if *i >= *n {
                    return None;
                }
                let v = read_int(b, *w, *i);
                *i += 1;
                Some(Member::Int(v))
            }
            IterInner::Pack(p) => p.next().map(|(_, e)| Member::Str(e)),
            IterInner::Table(t) => t.next().map(|m| Member::Str(m)),
        }
    }
}

// ---------------------------------------------------------------------------
// The set
// ---------------------------------------------------------------------------

/// Redis's intsetMaxEntries: the configured limit, capped at 2^30.
fn intset_max(th: &Thresholds) -> usize {
    th.set_max_intset_entries.min(INTSET_HARD_MAX)
}

impl Set {
    /// An empty intset (the start of SUNION/SDIFF results).
    pub fn new_intset() -> Set {
        Set {
            repr: Repr::Small(Box::new([K_I16])),
        }
    }

    /// An empty listpack.
    pub fn new_listpack() -> Set {
        Set {
            repr: Repr::Small(Box::new([K_PACK, 0])),
        }
    }

    fn new_table(cap: usize) -> Set {
        Set {
            repr: Repr::Table(Box::new(Table::with_capacity(cap))),
        }
    }

    /// Redis's setTypeCreate: an empty set able to take `first`, sized for
    /// `size_hint` members about to be added.
    pub fn create(first: &[u8], size_hint: usize, th: &Thresholds) -> Set {
        if parse_i64(first).is_some() && size_hint <= th.set_max_intset_entries {
            Set::new_intset()
        } else if size_hint <= th.set_max_listpack_entries {
            Set::new_listpack()
        } else {
            // Presize, but never trust a hint far beyond what is being added.
            Set::new_table(size_hint.min(1 << 20))
        }
    }

    /// Redis's setTypeMaybeConvert: a compact set about to receive
    /// `size_hint` members beyond its limit becomes a hash table first.
    pub fn maybe_convert(&mut self, size_hint: usize, th: &Thresholds) {
        let convert = match &self.repr {
            Repr::Small(b) if b[0] == K_PACK => size_hint > th.set_max_listpack_entries,
            Repr::Small(_) => size_hint > th.set_max_intset_entries,
            Repr::Table(_) => false,
        };
        if convert {
            self.convert_to_table(size_hint.min(1 << 20));
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(b) if b[0] == K_PACK => pack_header(b).0,
            Repr::Small(b) => ints_len(b),
            Repr::Table(t) => t.set.len(),
        }
    }

    /// True when empty (an empty set is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Small(b) if b[0] == K_PACK => "listpack",
            Repr::Small(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Small(b) => b.len(),
            Repr::Table(t) => {
                std::mem::size_of::<Table>()
                    + t.set.capacity() * (std::mem::size_of::<Box<[u8]>>() + 8 + 9)
                    + t.bytes
                    + t.set.len() * 8
            }
        }
    }

    /// The members in encoding order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: match &self.repr {
                Repr::Small(b) if b[0] == K_PACK => IterInner::Pack(pack_iter(b)),
                Repr::Small(b) => IterInner::Ints {
                    b,
                    w: width_of(b[0]),
                    i: 0,
                    n: ints_len(b),
                },
                Repr::Table(t) => IterInner::Table(t.set.iter()),
            },
        }
    }

    /// True if `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Small(b) if b[0] == K_PACK => pack_find(b, m).is_some(),
            Repr::Small(b) => parse_i64(m).is_some_and(|v| ints_search(b, v).is_ok()),
            Repr::Table(t) => t.set.contains(m),
        }
    }

    /// True if `m` is a member (an integer member from another set tested
    /// without formatting it when this set is an intset).
    pub fn contains_member(&self, m: Member<'_>) -> bool {
        match (m, &self.repr) {
            (Member::Int(v), Repr::Small(b)) if b[0] != K_PACK => ints_search(b, v).is_ok(),
            (Member::Str(s), _) => self.contains(s),
            (Member::Int(_), _) => self.contains(&m.to_vec()),
        }
    }

    /// Adds `m`; returns false if it was already a member. Converts the
    /// encoding by Redis's rules (setTypeAddAux).
    pub fn add(&mut self, m: &[u8], th: &Thresholds) -> bool {
        match &mut self.repr {
            Repr::Table(t) => t.insert(m),
            Repr::Small(b) if b[0] == K_PACK => {
                if pack_find(b, m).is_some() {
                    return false;
                }
                let n = pack_header(b).0;
                if n < th.set_max_listpack_entries
                    && m.len() <= th.set_max_listpack_value
                    && b.len() + m.len() < LISTPACK_MAX_SAFETY_SIZE
                {
                    *b = pack_appended(b, m);
                } else {
                    self.convert_to_table(n + 1);
                    self.table_insert(m);
                }
                true
            }
            Repr::Small(b) => match parse_i64(m) {
                Some(v) => self.add_int(v, th),
                None => {
                    let n = ints_len(b);
                    let (mut maxelelen, mut totsize) = (0, 0);
                    if n > 0 {
                        let w = width_of(b[0]);
                        let (lo, hi) = (read_int(b, w, 0), read_int(b, w, n - 1));
                        maxelelen = digits10(lo).max(digits10(hi));
                        totsize = n * lp_int_entry_bytes(lo).max(lp_int_entry_bytes(hi));
                    }
                    if n < th.set_max_listpack_entries
                        && m.len() <= th.set_max_listpack_value
                        && maxelelen <= th.set_max_listpack_value
                        && totsize + m.len() < LISTPACK_MAX_SAFETY_SIZE
                    {
                        self.convert_to_listpack();
                        if let Repr::Small(b) = &mut self.repr {
                            *b = pack_appended(b, m);
                        }
                    } else {
                        self.convert_to_table(n + 1);
                        self.table_insert(m);
                    }
                    true
                }
            },
        }
    }

    /// Adds a member taken from another set (setTypeAddAux with an integer:
    /// straight into an intset).
    pub fn add_member(&mut self, m: Member<'_>, th: &Thresholds) -> bool {
        match (m, &self.repr) {
            (Member::Int(v), Repr::Small(b)) if b[0] != K_PACK => self.add_int(v, th),
            (Member::Str(s), _) => self.add(s, th),
            (Member::Int(_), _) => self.add(&m.to_vec(), th),
        }
    }

    /// Adds an integer to an intset, converting when it outgrows its limit.
    fn add_int(&mut self, v: i64, th: &Thresholds) -> bool {
        let Repr::Small(b) = &mut self.repr else {
            return false;
        };
        match ints_search(b, v) {
            Ok(_) => false,
            Err(at) => {
                *b = ints_inserted(b, at, v);
                if ints_len(b) > intset_max(th) {
                    self.convert_to_table(0);
                }
                true
            }
        }
    }

    fn table_insert(&mut self, m: &[u8]) {
        if let Repr::Table(t) = &mut self.repr {
            t.insert(m);
        }
    }

    /// Removes `m`; returns false if it was not a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Table(t) => t.remove(m),
            Repr::Small(b) if b[0] == K_PACK => match pack_find(b, m) {
                Some(start) => {
                    *b = pack_without(b, &[start]);
                    true
                }
                None => false,
            },
            Repr::Small(b) => match parse_i64(m).map(|v| ints_search(b, v)) {
                Some(Ok(at)) => {
                    *b = ints_removed(b, at);
                    true
                }
                _ => false,
            },
        }
    }

    /// Removes a member taken from another set.
    pub fn remove_member(&mut self, m: Member<'_>) -> bool {
        match (m, &mut self.repr) {
            (Member::Int(v), Repr::Small(b)) if b[0] != K_PACK => match ints_search(b, v) {
                Ok(at) => {
                    *b = ints_removed(b, at);
                    true
                }
                Err(_) => false,
            },
            (Member::Str(s), _) => self.remove(s),
            (Member::Int(_), _) => self.remove(&m.to_vec()),
        }
    }

    /// The member at position `i` of the encoding order (O(n) for a listpack).
    pub fn get(&self, i: usize) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Small(b) if b[0] == K_PACK => pack_iter(b).nth(i).map(|(_, e)| Member::Str(e)),
            Repr::Small(b) => {
                (i < ints_len(b)).then(|| Member::Int(read_int(b, width_of(b[0]), i)))
            }
            Repr::Table(t) => t.set.get_index(i).map(|m| Member::Str(m)),
        }
    }

    /// A uniformly random member.
    pub fn random(&self, rng: &mut impl Rng) -> Option<Member<'_>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.get(rng.random_range(0..n))
    }

    /// Removes and returns a uniformly random member.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Option<Bytes> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let i = rng.random_range(0..n);
        self.remove_at(&mut [i]).pop()
    }

    /// Removes the members at the given positions (distinct) and returns
    /// them in position order.
    fn remove_at(&mut self, positions: &mut [usize]) -> Vec<Bytes> {
        positions.sort_unstable();
        let mut out = Vec::with_capacity(positions.len());
        match &mut self.repr {
            Repr::Small(b) if b[0] == K_PACK => {
                let mut starts = Vec::with_capacity(positions.len());
                let mut want = positions.iter().peekable();
                for (i, (start, e)) in pack_iter(b).enumerate() {
                    if want.peek() == Some(&&i) {
                        want.next();
                        starts.push(start);
                        out.push(Bytes::copy_from_slice(e));
                    }
                }
                *b = pack_without(b, &starts);
            }
            Repr::Small(b) => {
                let w = width_of(b[0]);
                let n = ints_len(b);
                let mut kept = Vec::with_capacity(b.len());
                kept.push(b[0]);
                let mut want = positions.iter().peekable();
                for i in 0..n {
                    let v = read_int(b, w, i);
                    if want.peek() == Some(&&i) {
                        want.next();
                        out.push(Member::Int(v).to_bytes());
                    } else {
                        write_int(&mut kept, w, v);
                    }
                }
                *b = kept.into_boxed_slice();
            }
            Repr::Table(t) => {
                // Highest position first, so swap_remove never moves a
                // member still to be removed.
                for &i in positions.iter().rev() {
                    if let Some(m) = t.swap_remove_index(i) {
                        out.push(Bytes::from(Vec::from(m)));
                    }
                }
                out.reverse();
            }
        }
        out
    }

    /// The members at the given positions (any order, repeats allowed), in
    /// the order given. One pass for a listpack.
    pub fn members_at(&self, positions: &[usize]) -> Vec<Bytes> {
        match &self.repr {
            Repr::Small(b) if b[0] == K_PACK => {
                let entries: Vec<&[u8]> = pack_iter(b).map(|(_, e)| e).collect();
                positions
                    .iter()
                    .filter_map(|&i| entries.get(i).map(|e| Bytes::copy_from_slice(e)))
                    .collect()
            }
            _ => positions
                .iter()
                .filter_map(|&i| self.get(i).map(|m| m.to_bytes()))
                .collect(),
        }
    }

    /// Redis's SPOP with a count below the set's size: removes `count`
    /// uniformly chosen members and returns them. When few members would
    /// remain, the set is rebuilt from them instead, taking the encoding
    /// Redis gives the rebuilt set (an intset stays an intset; a listpack
    /// or hash table restarts as a listpack and grows by the usual rules).
    pub fn pop_many(&mut self, count: usize, rng: &mut impl Rng, th: &Thresholds) -> Vec<Bytes> {
        let size = self.len();
        if count == 0 {
            return Vec::new();
        }
        if count >= size {
            let all = self.iter().map(|m| m.to_bytes()).collect();
            *self = Set::new_intset();
            return all;
        }
        let remaining = size - count;
        if remaining.saturating_mul(5) > count {
            // Few to pop compared to what stays: pop them.
            let mut picks = distinct_positions(size, count, rng);
            return self.remove_at(&mut picks);
        }
        // Few stay: pick the survivors, rebuild the set from them, and
        // return everything else.
        let mut keep = distinct_positions(size, remaining, rng);
        keep.sort_unstable();
        let mut rebuilt = match &self.repr {
            Repr::Small(b) if b[0] != K_PACK => Set::new_intset(),
            _ => Set::new_listpack(),
        };
        let mut popped = Vec::with_capacity(count);
        let mut want = keep.iter().peekable();
        for (i, m) in self.iter().enumerate() {
            if want.peek() == Some(&&i) {
                want.next();
                rebuilt.add_member(m, th);
            } else {
                popped.push(m.to_bytes());
            }
        }
        *self = rebuilt;
        popped
    }

    /// Redis's maybeConvertToIntset: an all-integer set that fits an
    /// intset becomes one.
    pub fn convert_to_intset_if_fits(&mut self, th: &Thresholds) {
        if matches!(&self.repr, Repr::Small(b) if b[0] != K_PACK) || self.len() > intset_max(th) {
            return;
        }
        let mut ints = Vec::with_capacity(self.len());
        for m in self.iter() {
            match m.as_int() {
                Some(v) => ints.push(v),
                None => return,
            }
        }
        ints.sort_unstable();
        ints.dedup();
        let kind = ints.iter().map(|&v| kind_for(v)).max().unwrap_or(K_I16);
        let w = width_of(kind);
        let mut out = Vec::with_capacity(1 + ints.len() * w);
        out.push(kind);
        for v in ints {
            write_int(&mut out, w, v);
        }
        self.repr = Repr::Small(out.into_boxed_slice());
    }

    fn convert_to_table(&mut self, cap: usize) {
        if matches!(self.repr, Repr::Table(_)) {
            return;
        }
        let mut t = Table::with_capacity(cap.max(self.len()));
        let mut scratch = Vec::new();
        for m in self.iter() {
            scratch.clear();
            m.write_to(&mut scratch);
            t.insert(&scratch);
        }
        self.repr = Repr::Table(Box::new(t));
    }

    fn convert_to_listpack(&mut self) {
        let b = pack_build(self.len(), self.iter());
        self.repr = Repr::Small(b);
    }

    /// One SSCAN step from `cursor` (0 starts): visits up to `count`
    /// positions of a hash table, or the whole of a compact set, and
    /// returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::Table(t) => {
                let len = t.set.len();
                let mut pos = if cursor == 0 {
                    len
                } else {
                    usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
                };
                let mut visited = 0;
                while pos > 0 && visited < count.max(1) {
                    pos -= 1;
                    visited += 1;
                    if let Some(m) = t.set.get_index(pos) {
                        visit(Member::Str(m));
                    }
                }
                pos as u64
            }
            Repr::Small(_) => {
                self.iter().for_each(visit);
                0
            }
        }
    }
}

/// `count` distinct positions out of `0..size`, chosen uniformly
/// (count <= size). Partial Fisher-Yates when most are wanted, rejection
/// sampling otherwise, so the work is O(count) either way.
pub fn distinct_positions(size: usize, count: usize, rng: &mut impl Rng) -> Vec<usize> {
    let count = count.min(size);
    if count.saturating_mul(3) > size {
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = rng.random_range(i..size);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = rng.random_range(0..size);
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    fn th() -> Thresholds {
        Thresholds::default()
    }

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        s.iter().map(|m| m.to_vec()).collect()
    }

    fn build(items: &[&[u8]]) -> Set {
        let t = th();
        let mut s = Set::create(items[0], items.len(), &t);
        s.maybe_convert(items.len(), &t);
        for i in items {
            s.add(i, &t);
        }
        s
    }

    #[test]
    fn small_set_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Set>(), 16);
        // Stored unboxed, a set does not make `Value` any larger.
        assert!(std::mem::size_of::<crate::Value>() <= 32);
    }

    #[test]
    fn integers_make_an_intset_sorted_and_widening() {
        let mut s = build(&[b"3", b"1", b"2"]);
        assert_eq!(s.encoding(), "intset");
        let v: Vec<_> = s.iter().collect();
        assert_eq!(v, vec![Member::Int(1), Member::Int(2), Member::Int(3)]);
        assert!(s.add(b"100000", &th()));
        assert!(s.add(b"-9223372036854775808", &th()));
        assert!(!s.add(b"2", &th()));
        assert_eq!(s.len(), 5);
        assert!(s.contains(b"100000"));
        assert!(!s.contains(b"0100000"));
        assert_eq!(s.get(0), Some(Member::Int(i64::MIN)));
        assert!(s.remove(b"1"));
        assert!(!s.remove(b"1"));
        assert!(!s.remove(b"x"));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn non_integer_turns_intset_into_listpack() {
        let mut s = build(&[b"1", b"2"]);
        assert!(s.add(b"a", &th()));
        assert_eq!(s.encoding(), "listpack");
        let v: Vec<_> = s.iter().map(|m| m.to_vec()).collect();
        assert_eq!(v, vec![b"1".to_vec(), b"2".to_vec(), b"a".to_vec()]);
    }

    #[test]
    fn conversion_thresholds_follow_redis() {
        let t = th();
        // Too many integers for an intset.
        let mut s = Set::create(b"0", 1, &t);
        for i in 0..=512 {
            s.add(i.to_string().as_bytes(), &t);
        }
        assert_eq!(s.encoding(), "hashtable");
        // A 129th member of a listpack.
        let mut s = Set::create(b"a", 1, &t);
        for i in 0..128 {
            s.add(format!("m{i}").as_bytes(), &t);
        }
        assert_eq!(s.encoding(), "listpack");
        s.add(b"one more", &t);
        assert_eq!(s.encoding(), "hashtable");
        // A long member.
        let mut s = Set::create(b"a", 1, &t);
        s.add(b"a", &t);
        s.add(&[b'x'; 65], &t);
        assert_eq!(s.encoding(), "hashtable");
        // An intset of 128 or more gets a string: straight to a hash table.
        let mut s = Set::create(b"0", 1, &t);
        for i in 0..128 {
            s.add(i.to_string().as_bytes(), &t);
        }
        s.add(b"a", &t);
        assert_eq!(s.encoding(), "hashtable");
        // Size hints.
        assert_eq!(Set::create(b"1", 513, &t).encoding(), "hashtable");
        assert_eq!(Set::create(b"1", 512, &t).encoding(), "intset");
        assert_eq!(Set::create(b"a", 128, &t).encoding(), "listpack");
        assert_eq!(Set::create(b"a", 129, &t).encoding(), "hashtable");
        let mut s = build(&[b"a"]);
        s.maybe_convert(129, &t);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn sinterstore_result_becomes_intset() {
        let t = th();
        let mut s = Set::new_listpack();
        s.add(b"5", &t);
        s.add(b"-3", &t);
        s.convert_to_intset_if_fits(&t);
        assert_eq!(s.encoding(), "intset");
        let v: Vec<_> = s.iter().collect();
        assert_eq!(v, vec![Member::Int(-3), Member::Int(5)]);
    }

    #[test]
    fn pop_many_rebuilds_small_remainder_as_listpack() {
        let t = th();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let mut s = Set::create(b"x", 1, &t);
        for i in 0..300 {
            s.add(format!("m{i}").as_bytes(), &t);
        }
        assert_eq!(s.encoding(), "hashtable");
        let before = members(&s);
        let popped = s.pop_many(290, &mut rng, &t);
        assert_eq!(popped.len(), 290);
        assert_eq!(s.len(), 10);
        assert_eq!(s.encoding(), "listpack");
        let mut all = members(&s);
        for p in popped {
            assert!(all.insert(p.to_vec()));
        }
        assert_eq!(all, before);
    }

    #[test]
    fn scan_returns_members_present_throughout() {
        let t = th();
        let mut s = Set::create(b"x", 1000, &t);
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), &t);
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = s.scan(cursor, 10, |m| {
                seen.insert(m.to_vec());
            });
            s.remove(format!("m{}", round * 7 % 1000).as_bytes());
            s.add(format!("new{round}").as_bytes(), &t);
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for m in members(&s) {
            if !m.starts_with(b"new") {
                assert!(seen.contains(&m));
            }
        }
    }

    #[test]
    fn random_picks_are_uniform() {
        let t = th();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        for items in [
            &[b"1" as &[u8], b"2", b"3", b"4"][..],
            &[b"a", b"b", b"c", b"d"],
        ] {
            let s = build(items);
            let mut counts = std::collections::HashMap::new();
            for _ in 0..40_000 {
                *counts
                    .entry(s.random(&mut rng).map(|m| m.to_vec()))
                    .or_insert(0) += 1;
            }
            for c in counts.values() {
                assert!((9_000..11_000).contains(c), "{counts:?}");
            }
        }
        let mut big = Set::create(b"a", 1000, &t);
        for i in 0..4 {
            big.add(format!("m{i}").as_bytes(), &t);
        }
        assert_eq!(big.encoding(), "hashtable");
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            let pick = distinct_positions(4, 1, &mut rng)[0];
            counts[pick] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Pop(usize),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-40i64..40).prop_map(|v| v.to_string().into_bytes()),
            any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..6),
            proptest::collection::vec(b'a'..b'c', 60..70),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => member().prop_map(Op::Add),
            3 => member().prop_map(Op::Remove),
            1 => (0usize..20).prop_map(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec(op(), 1..300), small in any::<bool>()) {
            let t = if small {
                Thresholds { set_max_intset_entries: 8, set_max_listpack_entries: 6, set_max_listpack_value: 64, ..th() }
            } else {
                th()
            };
            let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
            let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
            let mut s = Set::new_intset();
            for op in ops {
                match op {
                    Op::Add(m) => prop_assert_eq!(s.add(&m, &t), model.insert(m)),
                    Op::Remove(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Pop(n) => {
                        let popped = s.pop_many(n, &mut rng, &t);
                        prop_assert_eq!(popped.len(), n.min(model.len()));
                        for p in popped {
                            prop_assert!(model.remove(p.as_ref()));
                        }
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                prop_assert_eq!(members(&s), model.clone());
                let all_int = model.iter().all(|m| parse_i64(m).is_some());
                match s.encoding() {
                    "intset" => prop_assert!(all_int && model.len() <= t.set_max_intset_entries),
                    "listpack" => prop_assert!(model.len() <= t.set_max_listpack_entries
                        && model.iter().all(|m| m.len() <= t.set_max_listpack_value)),
                    _ => {}
                }
                for m in &model {
                    prop_assert!(s.contains(m));
                }
            }
        }
    }
}
