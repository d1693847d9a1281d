//! The list type.
//!
//! Two representations, reported as Redis 7.4's encodings:
//! - `listpack`: one packed byte buffer, every entry written as
//!   `[len varint][bytes][len varint, reversed]` so it can be walked from
//!   both ends (the same two bytes of overhead per short entry as Redis's
//!   listpack, in a single allocation);
//! - `quicklist`: a `VecDeque` of boxed entries, O(1) at both ends and by
//!   index.
//!
//! Conversions follow Redis's rules (`listTypeTryConvertListpack` /
//! `listTypeTryConvertQuicklist`): a listpack becomes a quicklist when a
//! write would take it past `list-max-listpack-size` (negative: a size
//! class of 4..64 KiB of *Redis's* listpack bytes, which we compute exactly
//! with [`lp_entry_size`]; positive: an entry count, with Redis's 8 KiB
//! safety limit), and a quicklist goes back to listpack after a shrinking
//! write when it fits in half the limit. Redis also requires the quicklist
//! to have a single node; we don't model node boundaries, so a list trimmed
//! across two nodes may convert here where Redis keeps a quicklist.

use std::collections::VecDeque;

/// Redis's `SIZE_SAFETY_LIMIT` for count-limited listpacks.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Bytes of an empty Redis listpack (header and end marker).
const LP_EMPTY: usize = 7;

/// The bytes one element takes in a Redis listpack (encoding, data and
/// back-length), so size-based conversions happen where Redis's do.
pub fn lp_entry_size(e: &[u8]) -> usize {
    let enc = match crate::numfmt::parse_i64(e) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if i16::try_from(v).is_ok() => 3,
        Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if e.len() < 64 => 1 + e.len(),
        None if e.len() < 4096 => 2 + e.len(),
        None => 5 + e.len(),
    };
    let back = match enc {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    };
    enc + back
}

/// Redis's `quicklistNodeLimit`: (size limit, count limit) of a node.
fn node_limit(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, if fill == 0 { 1 } else { fill as usize })
    } else {
        const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
        let i = ((-fill - 1) as usize).min(LEVELS.len() - 1);
        (LEVELS[i], usize::MAX)
    }
}

/// Redis's `quicklistNodeExceedsLimit`.
fn exceeds_limit(fill: i64, bytes: usize, count: usize) -> bool {
    let (sz, cnt) = node_limit(fill);
    if sz != usize::MAX {
        bytes > sz
    } else {
        bytes > SIZE_SAFETY_LIMIT || count > cnt
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Writes one packed entry.
fn put_entry(out: &mut Vec<u8>, e: &[u8]) {
    put_varint(out, e.len());
    out.extend_from_slice(e);
    let start = out.len();
    put_varint(out, e.len());
    out[start..].reverse();
}

fn entry_len(e: &[u8]) -> usize {
    2 * varint_len(e.len()) + e.len()
}

/// Reads the entry starting at `pos`; returns (data range start, end, next pos).
fn read_fwd(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = pos;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = p + n;
    (p, end, end + varint_len(n))
}

/// Reads the entry ending at `end`; returns (entry start, data start, data end).
fn read_back(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p -= 1;
        let b = buf[p];
        n |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let dend = p;
    let dstart = dend - n;
    (dstart - varint_len(n), dstart, dend)
}

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    /// Packed entries; `lp` is the size the same list has as a Redis listpack.
    Pack { buf: Vec<u8>, len: u32, lp: u32 },
    /// One box per entry; `lp` as above (for converting back).
    Deque {
        // Boxed on purpose: keeps the common packed variant (and every
        // list value) at 32 bytes.
        #[allow(clippy::box_collection)]
        items: Box<VecDeque<Box<[u8]>>>,
        lp: usize,
    },
}

/// A list value.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    repr: Repr,
}

impl Default for List {
    fn default() -> Self {
        List {
            repr: Repr::Pack {
                buf: Vec::new(),
                len: 0,
                lp: LP_EMPTY as u32,
            },
        }
    }
}

/// Iterator over a list's elements, from either end.
pub enum Iter<'a> {
    #[doc(hidden)]
    Pack {
        buf: &'a [u8],
        front: usize,
        back: usize,
    },
    #[doc(hidden)]
    Deque(std::collections::vec_deque::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Pack { buf, front, back } => {
                if *front >= *back {
                    return None;
                }
                let (s, e, next) = read_fwd(buf, *front);
                *front = next;
                Some(&buf[s..e])
            }
            Iter::Deque(it) => it.next().map(|b| &b[..]),
        }
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Pack { buf, front, back } => {
                if *front >= *back {
                    return None;
                }
                let (start, s, e) = read_back(buf, *back);
                *back = start;
                Some(&buf[s..e])
            }
            Iter::Deque(it) => it.next_back().map(|b| &b[..]),
        }
    }
}

/// Resolves Redis's (start, end) range indexes against `len`; `None` for
/// an empty range.
pub fn resolve_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    if end < 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// Resolves a single index (negative from the end).
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

impl List {
    /// An empty list (listpack).
    pub fn new() -> List {
        List::default()
    }

    /// A list of these elements, in order, encoded by the thresholds.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>, fill: i64) -> List {
        let mut l = List::new();
        for it in items {
            l.push(it, false, fill);
        }
        l
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack { len, .. } => *len as usize,
            Repr::Deque { items, .. } => items.len(),
        }
    }

    /// True when empty (an empty collection is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack { .. } => "listpack",
            Repr::Deque { .. } => "quicklist",
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack { buf, .. } => buf.capacity(),
            Repr::Deque { items, .. } => {
                32 + items.capacity() * 16 + items.iter().map(|b| b.len()).sum::<usize>()
            }
        }
    }

    /// The elements from the head.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Pack { buf, .. } => Iter::Pack {
                buf,
                front: 0,
                back: buf.len(),
            },
            Repr::Deque { items, .. } => Iter::Deque(items.iter()),
        }
    }

    fn lp_bytes(&self) -> usize {
        match &self.repr {
            Repr::Pack { lp, .. } => *lp as usize,
            Repr::Deque { lp, .. } => *lp,
        }
    }

    /// Before adding `n` elements of `add_bytes` raw bytes in total: turns
    /// a listpack into a quicklist if Redis would (`listTypeTryConvertListpack`).
    pub fn grow_check(&mut self, add_bytes: usize, n: usize, fill: i64) {
        if let Repr::Pack { lp, len, .. } = &self.repr {
            if exceeds_limit(fill, *lp as usize + add_bytes, *len as usize + n) {
                let lp = *lp as usize;
                let items: VecDeque<Box<[u8]>> = self.iter().map(Box::from).collect();
                self.repr = Repr::Deque {
                    items: Box::new(items),
                    lp,
                };
            }
        }
    }

    /// After a shrinking write: a small enough quicklist goes back to
    /// listpack (`listTypeTryConvertQuicklist` with `shrinking`).
    pub fn shrink_check(&mut self, fill: i64) {
        if let Repr::Deque { items, lp } = &self.repr {
            let (sz, cnt) = node_limit(fill);
            let sz = if sz == usize::MAX { sz } else { sz / 2 };
            let cnt = if cnt == usize::MAX { cnt } else { cnt / 2 };
            // A count-limited node is also capped by the safety limit.
            let sz = sz.min(if fill >= 0 {
                SIZE_SAFETY_LIMIT
            } else {
                usize::MAX
            });
            if *lp > sz || items.len() > cnt {
                return;
            }
            let mut buf = Vec::with_capacity(items.iter().map(|e| entry_len(e)).sum());
            for e in items.iter() {
                put_entry(&mut buf, e);
            }
            self.repr = Repr::Pack {
                len: items.len() as u32,
                lp: *lp as u32,
                buf,
            };
        }
    }

    fn push_raw(&mut self, e: &[u8], left: bool) {
        match &mut self.repr {
            Repr::Pack { buf, len, lp } => {
                let n = entry_len(e);
                buf.reserve_exact(n);
                if left {
                    let mut tmp = Vec::with_capacity(n);
                    put_entry(&mut tmp, e);
                    buf.splice(0..0, tmp);
                } else {
                    put_entry(buf, e);
                }
                *len += 1;
                *lp += lp_entry_size(e) as u32;
            }
            Repr::Deque { items, lp } => {
                if left {
                    items.push_front(e.into());
                } else {
                    items.push_back(e.into());
                }
                *lp += lp_entry_size(e);
            }
        }
    }

    /// Pushes one element at the head (`left`) or tail.
    pub fn push(&mut self, e: &[u8], left: bool, fill: i64) {
        self.grow_check(e.len(), 1, fill);
        self.push_raw(e, left);
    }

    /// Pushes several elements one after another (LPUSH a b c leaves c
    /// first), converting once beforehand as Redis does.
    pub fn push_many(&mut self, elems: &[&[u8]], left: bool, fill: i64) {
        let bytes = elems.iter().map(|e| e.len()).sum();
        self.grow_check(bytes, elems.len(), fill);
        if let Repr::Pack { buf, .. } = &mut self.repr {
            buf.reserve_exact(elems.iter().map(|e| entry_len(e)).sum());
        }
        for e in elems {
            self.push_raw(e, left);
        }
    }

    /// Removes and returns the head (`left`) or tail element. Does not
    /// convert: call [`List::shrink_check`] after the command's pops.
    pub fn pop(&mut self, left: bool) -> Option<Vec<u8>> {
        match &mut self.repr {
            Repr::Pack { buf, len, lp } => {
                if *len == 0 {
                    return None;
                }
                let v = if left {
                    let (s, e, next) = read_fwd(buf, 0);
                    let v = buf[s..e].to_vec();
                    buf.drain(0..next);
                    v
                } else {
                    let (start, s, e) = read_back(buf, buf.len());
                    let v = buf[s..e].to_vec();
                    buf.truncate(start);
                    v
                };
                *len -= 1;
                *lp -= lp_entry_size(&v) as u32;
                if *len == 0 {
                    *buf = Vec::new();
                }
                Some(v)
            }
            Repr::Deque { items, lp } => {
                let v = if left {
                    items.pop_front()
                } else {
                    items.pop_back()
                }?;
                *lp -= lp_entry_size(&v);
                Some(v.into_vec())
            }
        }
    }

    /// The element at a resolved index.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Deque { items, .. } => items.get(i).map(|b| &b[..]),
            Repr::Pack { len, .. } => {
                let len = *len as usize;
                if i >= len {
                    return None;
                }
                if i < len / 2 {
                    self.iter().nth(i)
                } else {
                    self.iter().nth_back(len - 1 - i)
                }
            }
        }
    }

    /// Replaces every element (used by writes that rebuild a packed list).
    fn rebuild(&mut self, items: Vec<Vec<u8>>) {
        match &mut self.repr {
            Repr::Pack { buf, len, lp } => {
                let mut nb = Vec::with_capacity(items.iter().map(|e| entry_len(e)).sum());
                let mut l = LP_EMPTY;
                for e in &items {
                    put_entry(&mut nb, e);
                    l += lp_entry_size(e);
                }
                *buf = nb;
                *len = items.len() as u32;
                *lp = l as u32;
            }
            Repr::Deque { items: d, lp } => {
                *lp = LP_EMPTY + items.iter().map(|e| lp_entry_size(e)).sum::<usize>();
                **d = items.into_iter().map(Vec::into_boxed_slice).collect();
            }
        }
    }

    /// Replaces the element at a resolved index (LSET). False if out of range.
    pub fn set(&mut self, i: usize, e: &[u8], fill: i64) -> bool {
        if i >= self.len() {
            return false;
        }
        self.grow_check(e.len(), 1, fill);
        match &mut self.repr {
            Repr::Deque { items, lp } => {
                *lp = *lp - lp_entry_size(&items[i]) + lp_entry_size(e);
                items[i] = e.into();
            }
            Repr::Pack { .. } => {
                let mut v: Vec<Vec<u8>> = self.iter().map(<[u8]>::to_vec).collect();
                v[i] = e.to_vec();
                self.rebuild(v);
            }
        }
        self.shrink_check(fill);
        true
    }

    /// Elements in a resolved inclusive range.
    pub fn range(&self, start: usize, end: usize) -> Vec<&[u8]> {
        match &self.repr {
            Repr::Deque { items, .. } => items.range(start..=end).map(|b| &b[..]).collect(),
            Repr::Pack { .. } => self.iter().skip(start).take(end + 1 - start).collect(),
        }
    }

    /// Inserts `e` before or after the first `pivot` (LINSERT). Returns
    /// false when the pivot is not found.
    pub fn insert(&mut self, pivot: &[u8], e: &[u8], after: bool, fill: i64) -> bool {
        let Some(pos) = self.iter().position(|x| x == pivot) else {
            return false;
        };
        self.grow_check(e.len(), 1, fill);
        let at = if after { pos + 1 } else { pos };
        match &mut self.repr {
            Repr::Deque { items, lp } => {
                items.insert(at, e.into());
                *lp += lp_entry_size(e);
            }
            Repr::Pack { .. } => {
                let mut v: Vec<Vec<u8>> = self.iter().map(<[u8]>::to_vec).collect();
                v.insert(at, e.to_vec());
                self.rebuild(v);
            }
        }
        true
    }

    /// Removes up to `count` occurrences of `e` (LREM): from the head when
    /// `count > 0`, from the tail when negative, all when 0.
    pub fn remove(&mut self, e: &[u8], count: i64, fill: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let n = self.len();
        let mut keep = vec![true; n];
        let mut removed = 0;
        if count >= 0 {
            for (i, x) in self.iter().enumerate() {
                if removed < limit && x == e {
                    keep[i] = false;
                    removed += 1;
                }
            }
        } else {
            for (i, x) in self.iter().rev().enumerate() {
                if removed < limit && x == e {
                    keep[n - 1 - i] = false;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            let v: Vec<Vec<u8>> = self
                .iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(x, _)| x.to_vec())
                .collect();
            self.rebuild(v);
            self.shrink_check(fill);
        }
        removed
    }

    /// Keeps only the resolved inclusive range, or nothing (LTRIM).
    pub fn trim(&mut self, keep: Option<(usize, usize)>, fill: i64) {
        match keep {
            None => self.rebuild(Vec::new()),
            Some((s, e)) => match &mut self.repr {
                Repr::Deque { items, lp } => {
                    for _ in e + 1..items.len() {
                        if let Some(x) = items.pop_back() {
                            *lp -= lp_entry_size(&x);
                        }
                    }
                    for _ in 0..s {
                        if let Some(x) = items.pop_front() {
                            *lp -= lp_entry_size(&x);
                        }
                    }
                }
                Repr::Pack { .. } => {
                    let v = self.range(s, e).into_iter().map(<[u8]>::to_vec).collect();
                    self.rebuild(v);
                }
            },
        }
        self.shrink_check(fill);
    }

    /// A packed list's buffer fits exactly (after bulk writes).
    pub fn shrink_to_fit(&mut self) {
        if let Repr::Pack { buf, .. } = &mut self.repr {
            buf.shrink_to_fit();
        }
    }

    /// The size the list has as a Redis listpack (for tests and MEMORY).
    pub fn listpack_bytes(&self) -> usize {
        self.lp_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn a_list_is_small() {
        assert!(std::mem::size_of::<List>() <= 32);
    }

    #[test]
    fn lp_sizes_match_redis() {
        assert_eq!(lp_entry_size(b"a"), 3);
        assert_eq!(lp_entry_size(b"5"), 2);
        assert_eq!(lp_entry_size(b"1000"), 3);
        assert_eq!(lp_entry_size(&[b'x'; 100]), 103);
    }

    #[test]
    fn push_pop_both_ends() {
        let mut l = List::new();
        l.push_many(&[b"a", b"b", b"c"], true, -2);
        assert_eq!(items(&l), vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
        l.push(&[b'z'; 300], false, -2);
        assert_eq!(l.pop(false), Some(vec![b'z'; 300]));
        assert_eq!(l.pop(true), Some(b"c".to_vec()));
        assert_eq!(l.get(1), Some(&b"a"[..]));
        assert_eq!(l.len(), 2);
        assert_eq!(l.encoding(), "listpack");
    }

    #[test]
    fn converts_at_redis_thresholds() {
        let big = vec![b'x'; 100];
        let mut l = List::new();
        // each entry is 103 listpack bytes; Redis adds the raw 100 to check
        for i in 0..80 {
            l.push(&big, false, -2);
            let expect = if 7 + i * 103 + 100 > 8192 || i >= 80 {
                "quicklist"
            } else {
                "listpack"
            };
            assert_eq!(l.encoding(), expect, "at {i}");
        }
        l.trim(resolve_range(0, 1, l.len()), -2);
        assert_eq!(l.encoding(), "listpack");
        let mut c = List::new();
        c.push_many(&[b"a", b"b", b"c"], false, 2);
        assert_eq!(c.encoding(), "quicklist");
        c.pop(true);
        c.pop(true);
        c.shrink_check(2);
        assert_eq!(c.encoding(), "listpack");
    }

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(0, -1, 3), Some((0, 2)));
        assert_eq!(resolve_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(resolve_range(2, 1, 3), None);
        assert_eq!(resolve_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(resolve_range(5, 10, 3), None);
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(i64::MIN, 3), None);
        assert_eq!(resolve_index(3, 3), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(Vec<u8>, bool),
        Pop(bool),
        Set(usize, Vec<u8>),
        Insert(Vec<u8>, Vec<u8>, bool),
        Remove(Vec<u8>, i64),
        Trim(i64, i64),
    }

    fn elem() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(b'a'..b'd', 0..3),
            prop::collection::vec(any::<u8>(), 100..300),
            (0i64..5000).prop_map(|n| n.to_string().into_bytes()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (elem(), any::<bool>()).prop_map(|(e, l)| Op::Push(e, l)),
            2 => any::<bool>().prop_map(Op::Pop),
            1 => (0usize..20, elem()).prop_map(|(i, e)| Op::Set(i, e)),
            1 => (elem(), elem(), any::<bool>()).prop_map(|(p, e, a)| Op::Insert(p, e, a)),
            1 => (elem(), -3i64..3).prop_map(|(e, c)| Op::Remove(e, c)),
            1 => (-10i64..10, -10i64..10).prop_map(|(s, e)| Op::Trim(s, e)),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_vecdeque(ops in prop::collection::vec(op(), 0..80), fill in prop_oneof![Just(-1i64), Just(-2), Just(3), Just(128)]) {
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for o in ops {
                match o {
                    Op::Push(e, left) => {
                        l.push(&e, left, fill);
                        if left { m.push_front(e) } else { m.push_back(e) }
                    }
                    Op::Pop(left) => {
                        let got = l.pop(left);
                        l.shrink_check(fill);
                        let want = if left { m.pop_front() } else { m.pop_back() };
                        prop_assert_eq!(got, want);
                    }
                    Op::Set(i, e) => {
                        let ok = l.set(i, &e, fill);
                        prop_assert_eq!(ok, i < m.len());
                        if ok { m[i] = e; }
                    }
                    Op::Insert(p, e, after) => {
                        let ok = l.insert(&p, &e, after, fill);
                        let pos = m.iter().position(|x| *x == p);
                        prop_assert_eq!(ok, pos.is_some());
                        if let Some(pos) = pos { m.insert(if after { pos + 1 } else { pos }, e); }
                    }
                    Op::Remove(e, c) => {
                        let n = l.remove(&e, c, fill);
                        let mut v: Vec<Vec<u8>> = m.iter().cloned().collect();
                        let mut removed = 0;
                        let lim = if c == 0 { usize::MAX } else { c.unsigned_abs() as usize };
                        if c >= 0 {
                            let mut out = Vec::new();
                            for x in v { if removed < lim && x == e { removed += 1 } else { out.push(x) } }
                            v = out;
                        } else {
                            let mut out = Vec::new();
                            for x in v.into_iter().rev() { if removed < lim && x == e { removed += 1 } else { out.push(x) } }
                            out.reverse();
                            v = out;
                        }
                        prop_assert_eq!(n, removed);
                        m = v.into();
                    }
                    Op::Trim(s, e) => {
                        let r = resolve_range(s, e, m.len());
                        l.trim(r, fill);
                        m = match r { None => VecDeque::new(), Some((s, e)) => m.range(s..=e).cloned().collect() };
                    }
                }
                let model: Vec<Vec<u8>> = m.iter().cloned().collect();
                prop_assert_eq!(items(&l), model.clone());
                let rev: Vec<Vec<u8>> = l.iter().rev().map(<[u8]>::to_vec).collect();
                let mut mr = model.clone(); mr.reverse();
                prop_assert_eq!(rev, mr);
                prop_assert_eq!(l.len(), m.len());
                let lp = LP_EMPTY + m.iter().map(|e| lp_entry_size(e)).sum::<usize>();
                prop_assert_eq!(l.listpack_bytes(), lp);
                for (i, x) in m.iter().enumerate() { prop_assert_eq!(l.get(i), Some(&x[..])); }
            }
        }
    }
}
