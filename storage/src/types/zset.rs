//! The sorted-set type (Redis's `t_zset.c` data structures).
//!
//! Two encodings, as Redis:
//! - `listpack`: one packed byte buffer, entries sorted by (score, member).
//!   Layout: a little-endian `u16` entry count, then per entry a varint
//!   member length, the member bytes, and the score: a varint whose low bit
//!   is 0 for an integral score (zigzag value in the other bits) or 1 for an
//!   8-byte IEEE double that follows. Small members with small integer
//!   scores cost 2 bytes plus the member, less than Redis's listpack.
//! - `skiplist`: Redis's skiplist with spans (rank in O(log n)), kept in a
//!   slab of `u32` words, each node's score, links and level array inline
//!   like Redis's node (a node is addressed by its offset; node 0 is the
//!   header, and 0 doubles as "none" in links; freed nodes are chained per
//!   size for reuse and marked by a NaN score), plus a `hashbrown`
//!   `HashTable` of (node, 32-bit member hash) for O(1) scores. The member
//!   lives only in its node (up to 64 bytes inline, longer ones boxed in a
//!   side vector whose slot the node holds), so a member costs one copy,
//!   the node and 8 bytes of index, and a rehash reads no node.
//!   ZSCAN walks the slab by node offset (nodes never move; the cursor is
//!   checked to name a well-formed node before it is read).
//!
//! Conversion follows Redis: a zset is created by [`ZSet::with_hint`]
//! (`zsetTypeCreate`), a listpack becomes a skiplist when an insert would
//! pass `zset-max-listpack-entries` or adds a member longer than
//! `zset-max-listpack-value`, and results built whole ([`ZSet::from_sorted`],
//! ZUNIONSTORE/ZRANGESTORE) are listpacks when small. Nothing converts back
//! on deletion.
//!
//! Order is (score, member): scores compare with `<`/`==` (so `-0 == 0`,
//! never NaN inside), members with `memcmp` then length, like `sdscmp`.

use super::Thresholds;
use bytes::Bytes;
use hashbrown::HashTable;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use zerocopy::IntoBytes;

type Hasher = foldhash::fast::RandomState;

/// The most entries a listpack holds whatever the configuration (its count
/// is a `u16`); a larger `zset-max-listpack-entries` is capped here.
pub const PACK_MAX: usize = u16::MAX as usize;

/// A sorted set value.
#[derive(Debug, Clone, PartialEq)]
pub struct ZSet(Repr);

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    Pack(Box<[u8]>),
    Skip(Box<Skip>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet(Repr::Pack(empty_pack()))
    }
}

/// ZADD's options (Redis's `ZADD_IN_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddFlags {
    /// Add the score to the current one.
    pub incr: bool,
    /// Only add new elements.
    pub nx: bool,
    /// Only update existing elements.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
}

/// What one [`ZSet::add`] did (Redis's `ZADD_OUT_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// A new element with this score.
    Added(f64),
    /// An existing element now has this score.
    Updated(f64),
    /// An existing element kept its score, which the command would report
    /// (INCR by 0, or the same score given again).
    Same(f64),
    /// Nothing done (NX/XX/GT/LT said no).
    Nop,
    /// INCR would make the score NaN.
    NaN,
}

/// A score interval (`zrangespec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// The lower bound is exclusive.
    pub minex: bool,
    /// The upper bound is exclusive.
    pub maxex: bool,
}

impl ScoreRange {
    /// True if `v` is not below the range.
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    /// True if `v` is not above the range.
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
    /// True if no score can be in the range.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lex interval (`zlexrangespec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`
    NegInf,
    /// `+`
    PosInf,
    /// `[member`
    Incl(Bytes),
    /// `(member`
    Excl(Bytes),
}

/// A lex interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower bound.
    pub min: LexBound,
    /// Upper bound.
    pub max: LexBound,
}

/// Compares a member with a bound's value (`sdscmplex`): `-` is below
/// everything, `+` above.
fn cmp_bound(m: &[u8], b: &LexBound) -> Ordering {
    match b {
        LexBound::NegInf => Ordering::Greater,
        LexBound::PosInf => Ordering::Less,
        LexBound::Incl(x) | LexBound::Excl(x) => m.cmp(x),
    }
}

impl LexRange {
    /// True if `m` is not below the range.
    pub fn gte_min(&self, m: &[u8]) -> bool {
        let c = cmp_bound(m, &self.min);
        match self.min {
            LexBound::Excl(_) | LexBound::NegInf | LexBound::PosInf => c == Ordering::Greater,
            LexBound::Incl(_) => c != Ordering::Less,
        }
    }
    /// True if `m` is not above the range.
    pub fn lte_max(&self, m: &[u8]) -> bool {
        let c = cmp_bound(m, &self.max);
        match self.max {
            LexBound::Excl(_) | LexBound::NegInf | LexBound::PosInf => c == Ordering::Less,
            LexBound::Incl(_) => c != Ordering::Greater,
        }
    }
    /// True if no member can be in the range.
    pub fn is_empty(&self) -> bool {
        fn rank(b: &LexBound) -> (u8, &[u8]) {
            match b {
                LexBound::NegInf => (0, &[]),
                LexBound::Incl(x) | LexBound::Excl(x) => (1, x),
                LexBound::PosInf => (2, &[]),
            }
        }
        let c = rank(&self.min).cmp(&rank(&self.max));
        let ex = !matches!(self.min, LexBound::Incl(_)) || !matches!(self.max, LexBound::Incl(_));
        c == Ordering::Greater || (c == Ordering::Equal && ex)
    }
}

/// (score, member) order.
fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

// ---------------------------------------------------------------------------
// listpack
// ---------------------------------------------------------------------------

fn empty_pack() -> Box<[u8]> {
    vec![0u8, 0].into_boxed_slice()
}

fn pk_len(buf: &[u8]) -> usize {
    u16::from_le_bytes([buf[0], buf[1]]) as usize
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

/// Largest magnitude stored as an integer (exact in an f64).
const INT_SCORE_MAX: f64 = 9_007_199_254_740_992.0;

fn put_entry(out: &mut Vec<u8>, member: &[u8], score: f64) {
    put_varint(out, member.len() as u64);
    out.extend_from_slice(member);
    // -0 is stored as the integer 0, as Redis's listpack does.
    if score.trunc() == score && score.abs() < INT_SCORE_MAX {
        let i = score as i64;
        let zz = ((i << 1) ^ (i >> 63)) as u64;
        put_varint(out, zz << 1);
    } else {
        out.push(1);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

fn entry_size(member: &[u8], score: f64) -> usize {
    let mut v = Vec::with_capacity(member.len() + 20);
    put_entry(&mut v, member, score);
    v.len()
}

/// Decodes the entry at `pos`: (member, score, end).
fn pk_entry(buf: &[u8], pos: usize) -> (&[u8], f64, usize) {
    let mut p = pos;
    let len = get_varint(buf, &mut p) as usize;
    let end = (p + len).min(buf.len());
    let member = &buf[p..end];
    p = end;
    let v = get_varint(buf, &mut p);
    let score = if v & 1 == 0 {
        let zz = v >> 1;
        ((zz >> 1) as i64 ^ -((zz & 1) as i64)) as f64
    } else {
        let mut b = [0u8; 8];
        if let Some(s) = buf.get(p..p + 8) {
            b.copy_from_slice(s);
        }
        p += 8;
        f64::from_le_bytes(b)
    };
    (member, score, p)
}

/// Iterates a listpack forward: (member, score, start, end).
struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], f64, usize, usize);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (m, s, end) = pk_entry(self.buf, start);
        self.pos = end;
        Some((m, s, start, end))
    }
}

fn pk_iter(buf: &[u8]) -> PackIter<'_> {
    PackIter { buf, pos: 2 }
}

/// A new buffer: `buf` with `[start, end)` replaced by `insert`, count + `delta`.
fn pk_splice(buf: &[u8], start: usize, end: usize, insert: &[u8], delta: isize) -> Box<[u8]> {
    let mut v = Vec::with_capacity(buf.len() - (end - start) + insert.len());
    let n = (pk_len(buf) as isize + delta) as u16;
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(&buf[2..start]);
    v.extend_from_slice(insert);
    v.extend_from_slice(&buf[end..]);
    v.into_boxed_slice()
}

/// Byte offset of the entry at `rank` (or the end).
fn pk_offset(buf: &[u8], rank: usize) -> usize {
    pk_iter(buf).nth(rank).map(|e| e.2).unwrap_or(buf.len())
}

// ---------------------------------------------------------------------------
// skiplist
// ---------------------------------------------------------------------------

const MAX_LEVEL: usize = 32;
/// Link value meaning "none" (node 0 is the header, never linked to).
const NIL: u32 = 0;

// A node's words in `Skip::slab`: the score (an f64's bits, low word
// first), the backward link (for a free node: the next free node of its
// size), the shape (level count and member length), a (forward, span) pair
// per level — Redis's inline level array, so a search step reads one
// contiguous node — then the member: its bytes, zero-padded to a word, or
// for a member longer than `INLINE_MAX` its slot in `Skip::big`.
const SCORE: usize = 0;
const BACK: usize = 2;
/// The node's shape: its level count in the low 8 bits, and above them the
/// inline member's length, or `BIG`.
const SHAPE: usize = 3;
const BIG: u32 = 0xFF_FFFF;
const LEVELS: usize = 4;
/// Words of the header node (all levels, an empty member).
const HEADER: usize = LEVELS + 2 * MAX_LEVEL;
/// Members up to this long live in their node.
const INLINE_MAX: usize = 64;
/// The largest node, in words.
const NODE_MAX: usize = HEADER + INLINE_MAX / 4;
/// Score bits of a free node (a NaN: a sorted set never holds one), so a
/// walk over the slab (ZSCAN) tells free nodes from live ones.
const FREE: u64 = 0x7FF4_F4EE_0000_0000;

/// A node's `SHAPE` word.
fn shape(level: usize, len: usize) -> u32 {
    let l = if len <= INLINE_MAX { len as u32 } else { BIG };
    level as u32 | l << 8
}

/// Words a member takes in its node.
fn member_words(len: usize) -> usize {
    if len <= INLINE_MAX {
        len.div_ceil(4)
    } else {
        1
    }
}

/// Node `n`'s member, given the slab and the long members (a free function
/// so the hash table's rehash closure can borrow them beside the table).
fn member_of<'a>(slab: &'a [u32], big: &'a [(Box<[u8]>, u32)], n: u32) -> &'a [u8] {
    let n = n as usize;
    let w = slab[n + SHAPE];
    let off = n + LEVELS + 2 * (w & 0xFF) as usize;
    let len = (w >> 8) as usize;
    if w >> 8 == BIG {
        big.get(slab[off] as usize).map_or(&[], |b| &b.0[..])
    } else {
        &slab[off..off + len.div_ceil(4)].as_bytes()[..len]
    }
}

/// The index's hash of a member: 32 bits kept beside the node id, spread
/// over 64 so hashbrown's bucket and tag bits both vary. A rehash then
/// reads no node.
fn spread(h32: u32) -> u64 {
    u64::from(h32).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[derive(Clone)]
struct Skip {
    /// Nodes laid out one after another; a node's id is its offset.
    slab: Vec<u32>,
    /// Heads of the free-node chains by node size in words (chained via BACK).
    free: [u32; NODE_MAX + 1],
    level: usize,
    tail: u32,
    /// Member -> node: (node id, 32-bit member hash). The member itself is
    /// only in its node, so a member costs one copy plus 8 bytes here.
    index: HashTable<(u32, u32)>,
    hasher: Hasher,
    /// Members longer than `INLINE_MAX`, with their node (which holds the
    /// slot); removal swaps the last one in and fixes its node.
    big: Vec<(Box<[u8]>, u32)>,
    rng: u64,
}

/// The members in order with their scores: the layout (node offsets,
/// random levels, the index's seed) differs between equal sets.
impl std::fmt::Debug for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter_from(0, false)).finish()
    }
}

impl PartialEq for Skip {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter_from(0, false).eq(other.iter_from(0, false))
    }
}

impl Skip {
    fn new() -> Skip {
        let mut slab = vec![0u32; HEADER];
        slab[SHAPE] = shape(MAX_LEVEL, 0);
        Skip {
            slab,
            free: [NIL; NODE_MAX + 1],
            level: 1,
            tail: NIL,
            index: HashTable::new(),
            hasher: Hasher::default(),
            big: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    #[inline]
    fn word(&self, n: u32, k: usize) -> u32 {
        self.slab[n as usize + k]
    }

    #[inline]
    fn set_word(&mut self, n: u32, k: usize, v: u32) {
        self.slab[n as usize + k] = v;
    }

    #[inline]
    fn score_bits(&self, n: u32) -> u64 {
        let i = n as usize + SCORE;
        u64::from(self.slab[i]) | (u64::from(self.slab[i + 1]) << 32)
    }

    #[inline]
    fn node_score(&self, n: u32) -> f64 {
        f64::from_bits(self.score_bits(n))
    }

    #[inline]
    fn level_of(&self, n: u32) -> usize {
        (self.word(n, SHAPE) & 0xFF) as usize
    }

    fn set_score(&mut self, n: u32, s: f64) {
        self.set_score_bits(n, s.to_bits());
    }

    fn set_score_bits(&mut self, n: u32, b: u64) {
        let i = n as usize + SCORE;
        self.slab[i] = b as u32;
        self.slab[i + 1] = (b >> 32) as u32;
    }

    #[inline]
    fn member(&self, n: u32) -> &[u8] {
        member_of(&self.slab, &self.big, n)
    }

    fn hash32(&self, m: &[u8]) -> u32 {
        self.hasher.hash_one(m) as u32
    }

    /// The node holding `member`.
    #[inline]
    fn find(&self, member: &[u8]) -> Option<u32> {
        let h = self.hash32(member);
        self.index
            .find(spread(h), |&(n, nh)| nh == h && self.member(n) == member)
            .map(|&(n, _)| n)
    }

    #[inline]
    fn fwd(&self, n: u32, i: usize) -> u32 {
        self.word(n, LEVELS + 2 * i)
    }

    #[inline]
    fn span(&self, n: u32, i: usize) -> u32 {
        self.word(n, LEVELS + 2 * i + 1)
    }

    fn backward(&self, n: u32) -> u32 {
        self.word(n, BACK)
    }

    fn set_link(&mut self, n: u32, i: usize, fwd: u32, span: u32) {
        let k = n as usize + LEVELS + 2 * i;
        self.slab[k] = fwd;
        self.slab[k + 1] = span;
    }

    fn set_span(&mut self, n: u32, i: usize, span: u32) {
        self.set_word(n, LEVELS + 2 * i + 1, span);
    }

    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            // xorshift64*
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
            if (r >> 32) & 0xFFFF < 0x4000 && level < MAX_LEVEL {
                level += 1;
            } else {
                return level;
            }
        }
    }

    /// True if node `n` sorts before (score, member).
    #[inline]
    fn before(&self, n: u32, score: f64, member: &[u8]) -> bool {
        let s = self.node_score(n);
        s < score || (s == score && self.member(n) < member)
    }

    /// Words of node `n`.
    fn node_size(&self, n: u32) -> usize {
        let w = self.word(n, SHAPE);
        let mw = if w >> 8 == BIG {
            1
        } else {
            ((w >> 8) as usize).div_ceil(4)
        };
        LEVELS + 2 * (w & 0xFF) as usize + mw
    }

    /// Offset of node `n`'s member words.
    fn member_at(&self, n: u32) -> usize {
        n as usize + LEVELS + 2 * self.level_of(n)
    }

    /// A node of `level` levels holding `member`, reused from the free
    /// chain or appended.
    fn alloc_node(&mut self, level: usize, member: &[u8]) -> u32 {
        let mw = member_words(member.len());
        let size = LEVELS + 2 * level + mw;
        let head = self.free[size];
        let id = if head != NIL {
            self.free[size] = self.word(head, BACK);
            head as usize
        } else {
            let id = self.slab.len();
            // Grow by a quarter, not double: the slab is most of a big
            // sorted set's memory, and doubling leaves up to half unused.
            if id + size > self.slab.capacity() {
                self.slab.reserve_exact((id / 4).max(size).max(64));
            }
            self.slab.resize(id + size, 0);
            id
        };
        self.slab[id + SHAPE] = shape(level, member.len());
        let off = id + LEVELS + 2 * level;
        if member.len() <= INLINE_MAX {
            let words = &mut self.slab[off..off + mw];
            words.fill(0);
            words.as_mut_bytes()[..member.len()].copy_from_slice(member);
        } else {
            self.slab[off] = self.big.len() as u32;
            self.big.push((member.into(), id as u32));
        }
        id as u32
    }

    /// Inserts a member known to be absent (`zslInsert` + the index).
    fn insert(&mut self, member: &[u8], score: f64) {
        let level = self.random_level();
        let id = self.alloc_node(level, member);
        let h = self.hash32(member);
        self.index
            .insert_unique(spread(h), (id, h), |&(_, nh)| spread(nh));
        self.link(id, score, member);
    }

    /// Links the unlinked node `id` (already in the index) at
    /// (score, member).
    fn link(&mut self, id: u32, score: f64, member: &[u8]) {
        let level = self.level_of(id);
        let mut update = [NIL; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = NIL;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let f = self.fwd(x, i);
                if f != NIL && self.before(f, score, member) {
                    rank[i] += self.span(x, i);
                    x = f;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        if level > self.level {
            // Elements linked so far: all but this one.
            let linked = (self.len() - 1) as u32;
            for i in self.level..level {
                rank[i] = 0;
                update[i] = NIL;
                self.set_span(NIL, i, linked);
            }
            self.level = level;
        }
        self.set_score(id, score);
        for i in 0..level {
            let u = update[i];
            let ufwd = self.fwd(u, i);
            let uspan = self.span(u, i);
            self.set_link(id, i, ufwd, uspan - (rank[0] - rank[i]));
            self.set_link(u, i, id, (rank[0] - rank[i]) + 1);
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            let s = self.span(u, i);
            self.set_span(u, i, s + 1);
        }
        self.set_word(id, BACK, update[0]);
        let f = self.fwd(id, 0);
        if f != NIL {
            self.set_word(f, BACK, id);
        } else {
            self.tail = id;
        }
    }

    /// Unlinks node `x` given its predecessors (`zslDeleteNode`).
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.fwd(u, i) == x {
                let xs = self.span(x, i);
                let xf = self.fwd(x, i);
                let us = self.span(u, i);
                self.set_link(u, i, xf, us + xs - 1);
            } else {
                let us = self.span(u, i);
                self.set_span(u, i, us.saturating_sub(1));
            }
        }
        let f = self.fwd(x, 0);
        let b = self.backward(x);
        if f != NIL {
            self.set_word(f, BACK, b);
        } else {
            self.tail = b;
        }
        while self.level > 1 && self.fwd(NIL, self.level - 1) == NIL {
            self.level -= 1;
        }
    }

    /// Frees node `x` (already unlinked) and drops it from the index.
    fn free_node(&mut self, x: u32) {
        let h = self.hash32(self.member(x));
        if let Ok(e) = self.index.find_entry(spread(h), |&(n, _)| n == x) {
            e.remove();
        }
        if self.word(x, SHAPE) >> 8 == BIG {
            let slot = self.slab[self.member_at(x)] as usize;
            if slot < self.big.len() {
                self.big.swap_remove(slot);
                if let Some(&(_, moved)) = self.big.get(slot) {
                    let at = self.member_at(moved);
                    self.slab[at] = slot as u32;
                }
            }
        }
        if self.index.is_empty() {
            // Give the arena back once empty.
            self.slab.truncate(HEADER);
            self.free = [NIL; NODE_MAX + 1];
            self.index = HashTable::new();
            self.big = Vec::new();
            return;
        }
        let size = self.node_size(x);
        self.set_score_bits(x, FREE);
        self.set_word(x, BACK, self.free[size]);
        self.free[size] = x;
    }

    /// Predecessors of (score, member) at every level.
    fn find_update(&self, score: f64, member: &[u8]) -> [u32; MAX_LEVEL] {
        let mut update = [NIL; MAX_LEVEL];
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && self.before(f, score, member) {
                    x = f;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        update
    }

    /// Removes a member; returns its score.
    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let score = self.node_score(id);
        let update = self.find_update(score, member);
        let x = self.fwd(update[0], 0);
        if x != id {
            return None;
        }
        self.unlink(x, &update);
        self.free_node(x);
        Some(score)
    }

    /// Changes the score of member's node `id` (`zslUpdateScore`); the node
    /// and its index entry are kept, only relinked when its place changes.
    fn update_score(&mut self, id: u32, member: &[u8], new: f64) {
        let old = self.node_score(id);
        let update = self.find_update(old, member);
        let x = self.fwd(update[0], 0);
        if x != id {
            return;
        }
        let b = self.backward(x);
        let f = self.fwd(x, 0);
        if (b == NIL || self.node_score(b) < new) && (f == NIL || self.node_score(f) > new) {
            self.set_score(x, new);
            return;
        }
        self.unlink(x, &update);
        self.link(x, new, member);
    }

    /// 0-based rank of a member, with its score.
    fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.find(member)?;
        let score = self.node_score(id);
        let mut rank = 0usize;
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL
                    && (self.node_score(f) < score
                        || (self.node_score(f) == score && self.member(f) <= member))
                {
                    rank += self.span(x, i) as usize;
                    x = f;
                } else {
                    break;
                }
            }
            if x == id {
                return Some((rank - 1, score));
            }
        }
        None
    }

    /// The node at 0-based `rank`.
    fn node_at(&self, rank: usize) -> u32 {
        let target = rank + 1;
        let mut traversed = 0usize;
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && traversed + self.span(x, i) as usize <= target {
                    traversed += self.span(x, i) as usize;
                    x = f;
                } else {
                    break;
                }
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    /// Number of leading elements for which `pred` holds (a prefix).
    fn count_before(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        let mut rank = 0usize;
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && pred(self.member(f), self.node_score(f)) {
                    rank += self.span(x, i) as usize;
                    x = f;
                } else {
                    break;
                }
            }
        }
        rank
    }

    /// Removes ranks `[lo, hi)` (`zslDeleteRangeByRank`).
    fn remove_ranks(&mut self, lo: usize, hi: usize) {
        let mut update = [NIL; MAX_LEVEL];
        let mut traversed = 0usize;
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && traversed + (self.span(x, i) as usize) <= lo {
                    traversed += self.span(x, i) as usize;
                    x = f;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let mut x = self.fwd(update[0], 0);
        let mut n = lo;
        while x != NIL && n < hi {
            let next = self.fwd(x, 0);
            self.unlink(x, &update);
            self.free_node(x);
            x = next;
            n += 1;
        }
    }

    fn iter_from(&self, rank: usize, rev: bool) -> SkipIter<'_> {
        let node = if rank < self.len() {
            if rev {
                self.node_at(self.len() - 1 - rank)
            } else {
                self.node_at(rank)
            }
        } else {
            NIL
        };
        SkipIter {
            sk: self,
            node,
            rev,
        }
    }

    /// The size in words of a node starting at slab offset `at`, if the
    /// words there are a well-formed node (ZSCAN's cursor comes from the
    /// client: anything it names is checked before being read as a node).
    /// A live node must be its predecessor's level-0 successor; a long
    /// member's slot must point back at it.
    fn checked_node(&self, at: usize) -> Option<usize> {
        if at < HEADER || at >= self.slab.len() {
            return None;
        }
        let w = *self.slab.get(at + SHAPE)?;
        let level = (w & 0xFF) as usize;
        let len = w >> 8;
        if level == 0 || level > MAX_LEVEL || (len != BIG && len as usize > INLINE_MAX) {
            return None;
        }
        let mw = if len == BIG {
            1
        } else {
            (len as usize).div_ceil(4)
        };
        let size = LEVELS + 2 * level + mw;
        if at + size > self.slab.len() {
            return None;
        }
        if len == BIG {
            let slot = self.slab[at + LEVELS + 2 * level] as usize;
            if self.big.get(slot).map(|b| b.1 as usize) != Some(at) {
                return None;
            }
        }
        if self.score_bits(at as u32) == FREE {
            return Some(size);
        }
        let back = self.slab[at + BACK] as usize;
        (self.slab.get(back + LEVELS).map(|&f| f as usize) == Some(at)).then_some(size)
    }

    /// One ZSCAN step: walks the slab from node offset `cursor` (`None`:
    /// the first node), visiting up to `count` live nodes (and at most ten
    /// times as many words' worth of free ones); returns where to go on, or
    /// 0 when done. Nodes never move, so a member present for the whole
    /// scan is visited exactly once.
    fn scan(
        &self,
        cursor: Option<usize>,
        count: usize,
        mut visit: impl FnMut(&[u8], f64),
    ) -> usize {
        let mut at = cursor.unwrap_or(HEADER);
        let mut visited = 0;
        let mut steps = 0;
        while visited < count.max(1) && steps < count.max(1).saturating_mul(10) {
            let Some(size) = self.checked_node(at) else {
                return 0;
            };
            let n = at as u32;
            if self.score_bits(n) != FREE {
                visit(self.member(n), self.node_score(n));
                visited += 1;
            }
            steps += 1;
            at += size;
        }
        if at >= self.slab.len() {
            0
        } else {
            at
        }
    }

    fn heap_size(&self) -> usize {
        let big: usize = self.big.iter().map(|b| b.0.len()).sum();
        self.slab.capacity() * 4
            + self.index.allocation_size()
            + self.big.capacity() * std::mem::size_of::<(Box<[u8]>, u32)>()
            + big
    }
}

struct SkipIter<'a> {
    sk: &'a Skip,
    node: u32,
    rev: bool,
}

impl<'a> Iterator for SkipIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        if self.node == NIL {
            return None;
        }
        let n = self.node;
        let item = (self.sk.member(n), self.sk.node_score(n));
        self.node = if self.rev {
            self.sk.backward(n)
        } else {
            self.sk.fwd(n, 0)
        };
        Some(item)
    }
}

/// Iterates a zset from a rank, forward or in reverse: (member, score).
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Pack(std::vec::IntoIter<(&'a [u8], f64)>),
    Skip(SkipIter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Pack(it) => it.next(),
            IterRepr::Skip(it) => it.next(),
        }
    }
}

// ---------------------------------------------------------------------------
// the value
// ---------------------------------------------------------------------------

impl ZSet {
    /// An empty listpack zset.
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// Redis's `zsetTypeCreate`: a listpack when `size_hint` elements with
    /// members up to `len_hint` bytes fit the thresholds, else a skiplist.
    pub fn with_hint(size_hint: usize, len_hint: usize, th: &Thresholds) -> ZSet {
        if size_hint <= th.zset_max_listpack_entries.min(PACK_MAX)
            && len_hint <= th.zset_max_listpack_value
        {
            ZSet::new()
        } else {
            ZSet(Repr::Skip(Box::new(Skip::new())))
        }
    }

    /// Redis's `zsetTypeMaybeConvert`: a listpack about to receive
    /// `size_hint` elements (ZADD's pair count) more than it may hold
    /// becomes a skiplist first.
    pub fn maybe_convert(&mut self, size_hint: usize, th: &Thresholds) {
        if matches!(self.0, Repr::Pack(_)) && size_hint > th.zset_max_listpack_entries.min(PACK_MAX)
        {
            self.convert_to_skiplist();
        }
    }

    /// A zset from entries sorted by (score, member) without duplicates,
    /// a listpack when it fits the thresholds (Redis's
    /// `zsetConvertToListpackIfNeeded` on stored results).
    pub fn from_sorted(entries: &[(Bytes, f64)], th: &Thresholds) -> ZSet {
        let maxlen = entries.iter().map(|e| e.0.len()).max().unwrap_or(0);
        if entries.len() <= th.zset_max_listpack_entries.min(PACK_MAX)
            && maxlen <= th.zset_max_listpack_value
        {
            let mut v = Vec::new();
            v.extend_from_slice(&(entries.len() as u16).to_le_bytes());
            for (m, s) in entries {
                put_entry(&mut v, m, *s);
            }
            ZSet(Repr::Pack(v.into_boxed_slice()))
        } else {
            let mut sk = Skip::new();
            for (m, s) in entries {
                sk.insert(m, *s);
            }
            ZSet(Repr::Skip(Box::new(sk)))
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Pack(b) => pk_len(b),
            Repr::Skip(s) => s.len(),
        }
    }

    /// True when empty (an empty collection is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Pack(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Pack(b) => b.len(),
            Repr::Skip(s) => std::mem::size_of::<Skip>() + s.heap_size(),
        }
    }

    /// The score of a member.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.0 {
            Repr::Pack(b) => pk_iter(b).find(|e| e.0 == member).map(|e| e.1),
            Repr::Skip(s) => s.find(member).map(|id| s.node_score(id)),
        }
    }

    /// Converts a listpack to a skiplist (SORT does this, as Redis's
    /// `zsetConvert` in sortCommand).
    pub fn convert_to_skiplist(&mut self) {
        if let Repr::Pack(b) = &self.0 {
            let mut sk = Skip::new();
            for (m, s, _, _) in pk_iter(b) {
                sk.insert(m, s);
            }
            self.0 = Repr::Skip(Box::new(sk));
        }
    }

    /// Inserts a member known to be absent, converting to a skiplist first
    /// when the listpack would pass the thresholds.
    fn insert_new(&mut self, member: &[u8], score: f64, th: &Thresholds) {
        if let Repr::Pack(b) = &self.0 {
            if pk_len(b) + 1 > th.zset_max_listpack_entries.min(PACK_MAX)
                || member.len() > th.zset_max_listpack_value
            {
                self.convert_to_skiplist();
            }
        }
        match &mut self.0 {
            Repr::Pack(b) => {
                let at = pk_iter(b)
                    .find(|e| cmp_entry(e.1, e.0, score, member) == Ordering::Greater)
                    .map(|e| e.2)
                    .unwrap_or(b.len());
                let mut enc = Vec::with_capacity(entry_size(member, score));
                put_entry(&mut enc, member, score);
                *b = pk_splice(b, at, at, &enc, 1);
            }
            Repr::Skip(s) => s.insert(member, score),
        }
    }

    /// Redis's `zsetAdd`.
    pub fn add(&mut self, member: &[u8], score: f64, f: AddFlags, th: &Thresholds) -> AddOutcome {
        // The skiplist's node, so an update needs no second lookup.
        let (found, node) = match &self.0 {
            Repr::Skip(s) => match s.find(member) {
                Some(id) => (Some(s.node_score(id)), id),
                None => (None, NIL),
            },
            Repr::Pack(_) => (self.score(member), NIL),
        };
        match found {
            Some(cur) => {
                if f.nx {
                    return AddOutcome::Nop;
                }
                let mut score = score;
                if f.incr {
                    score += cur;
                    if score.is_nan() {
                        return AddOutcome::NaN;
                    }
                }
                if (f.lt && score >= cur) || (f.gt && score <= cur) {
                    return AddOutcome::Nop;
                }
                if score == cur {
                    return AddOutcome::Same(score);
                }
                if let Repr::Skip(s) = &mut self.0 {
                    s.update_score(node, member, score);
                } else {
                    self.remove(member);
                    self.insert_new(member, score, th);
                }
                AddOutcome::Updated(score)
            }
            None if !f.xx => {
                self.insert_new(member, score, th);
                AddOutcome::Added(score)
            }
            None => AddOutcome::Nop,
        }
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Pack(b) => match pk_iter(b).find(|e| e.0 == member) {
                Some((_, _, start, end)) => {
                    *b = pk_splice(b, start, end, &[], -1);
                    true
                }
                None => false,
            },
            Repr::Skip(s) => s.remove(member).is_some(),
        }
    }

    /// 0-based rank of a member (from the top with `rev`) and its score.
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<(usize, f64)> {
        let (r, s) = match &self.0 {
            Repr::Pack(b) => pk_iter(b)
                .enumerate()
                .find(|(_, e)| e.0 == member)
                .map(|(i, e)| (i, e.1))?,
            Repr::Skip(s) => s.rank(member)?,
        };
        Some(if rev { (self.len() - 1 - r, s) } else { (r, s) })
    }

    /// The element at a 0-based rank.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_from(rank, false).next()
    }

    /// Elements from a 0-based rank (counted from the top with `rev`),
    /// going down in reverse order with `rev`.
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        match &self.0 {
            Repr::Pack(b) => {
                let n = pk_len(b);
                let mut v: Vec<(&[u8], f64)> = Vec::new();
                if rank < n {
                    if rev {
                        v.reserve(n - rank);
                        v.extend(pk_iter(b).take(n - rank).map(|e| (e.0, e.1)));
                        v.reverse();
                    } else {
                        v.reserve(n - rank);
                        v.extend(pk_iter(b).skip(rank).map(|e| (e.0, e.1)));
                    }
                }
                Iter(IterRepr::Pack(v.into_iter()))
            }
            Repr::Skip(s) => Iter(IterRepr::Skip(s.iter_from(rank, rev))),
        }
    }

    /// All elements in order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// How many leading elements satisfy `pred` (which must hold for a
    /// prefix of the order, e.g. "score below min").
    pub fn count_before(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match &self.0 {
            Repr::Pack(b) => pk_iter(b).take_while(|e| pred(e.0, e.1)).count(),
            Repr::Skip(s) => s.count_before(pred),
        }
    }

    /// Rank range `[lo, hi)` of the scores in `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        if r.is_empty() {
            return (0, 0);
        }
        let lo = self.count_before(|_, s| !r.gte_min(s));
        let hi = self.count_before(|_, s| r.lte_max(s));
        (lo, hi.max(lo))
    }

    /// Rank of the first element not below the lex range's minimum.
    pub fn lex_start(&self, r: &LexRange) -> usize {
        self.count_before(|m, _| !r.gte_min(m))
    }

    /// Rank one past the last element not above the lex range's maximum.
    pub fn lex_end(&self, r: &LexRange) -> usize {
        self.count_before(|m, _| r.lte_max(m))
    }

    /// Removes ranks `[lo, hi)`; returns how many went.
    pub fn remove_ranks(&mut self, lo: usize, hi: usize) -> usize {
        let hi = hi.min(self.len());
        if lo >= hi {
            return 0;
        }
        match &mut self.0 {
            Repr::Pack(b) => {
                let start = pk_offset(b, lo);
                let end = pk_offset(b, hi);
                *b = pk_splice(b, start, end, &[], -((hi - lo) as isize));
            }
            Repr::Skip(s) => s.remove_ranks(lo, hi),
        }
        hi - lo
    }

    /// Removes and returns up to `count` lowest (or highest with `max`)
    /// elements, in pop order.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Bytes, f64)> {
        let n = count.min(self.len());
        let out: Vec<(Bytes, f64)> = self
            .iter_from(0, max)
            .take(n)
            .map(|(m, s)| (Bytes::copy_from_slice(m), s))
            .collect();
        if max {
            let len = self.len();
            self.remove_ranks(len - n, len);
        } else {
            self.remove_ranks(0, n);
        }
        out
    }

    /// One ZSCAN step. `cursor` is `None` at the start; visits up to
    /// about `count` elements and returns the next cursor (0 = done). A
    /// listpack is returned whole, as Redis does.
    pub fn scan(
        &self,
        cursor: Option<usize>,
        count: usize,
        mut visit: impl FnMut(&[u8], f64),
    ) -> usize {
        match &self.0 {
            Repr::Pack(b) => {
                for (m, s, _, _) in pk_iter(b) {
                    visit(m, s);
                }
                0
            }
            Repr::Skip(s) => s.scan(cursor, count, visit),
        }
    }

    /// True if the member is present.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.score(member).is_some()
    }

    /// Forces the skiplist encoding (tests).
    #[cfg(test)]
    fn force_skiplist(&mut self) {
        self.convert_to_skiplist();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn th(entries: usize) -> Thresholds {
        Thresholds {
            zset_max_listpack_entries: entries,
            ..Thresholds::default()
        }
    }

    #[test]
    fn enum_is_two_words() {
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
    }

    #[test]
    fn pack_roundtrips_scores() {
        for s in [
            0.0,
            1.0,
            -1.0,
            0.5,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9007199254740991.0,
            -9007199254740992.0,
            123456789.0,
        ] {
            let mut v = Vec::new();
            put_entry(&mut v, b"m", s);
            let (m, got, end) = pk_entry(&v, 0);
            assert_eq!(m, b"m");
            assert_eq!(end, v.len());
            assert_eq!(got.to_bits(), s.to_bits(), "{s}");
        }
    }

    #[test]
    fn converts_at_thresholds() {
        let t = th(3);
        let mut z = ZSet::new();
        for (i, m) in [b"a", b"b", b"c"].iter().enumerate() {
            z.add(*m, i as f64, AddFlags::default(), &t);
        }
        assert_eq!(z.encoding(), "listpack");
        z.add(b"d", 0.0, AddFlags::default(), &t);
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSet::new();
        z.add(&[b'x'; 65], 1.0, AddFlags::default(), &t);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(ZSet::with_hint(4, 1, &t).encoding(), "skiplist");
        assert_eq!(ZSet::with_hint(3, 64, &t).encoding(), "listpack");
    }

    #[test]
    fn add_flags_follow_redis() {
        let t = Thresholds::default();
        let mut z = ZSet::new();
        assert_eq!(
            z.add(b"a", 1.0, AddFlags::default(), &t),
            AddOutcome::Added(1.0)
        );
        let gt = AddFlags {
            gt: true,
            ..Default::default()
        };
        assert_eq!(z.add(b"a", 0.5, gt, &t), AddOutcome::Nop);
        assert_eq!(z.add(b"a", 2.0, gt, &t), AddOutcome::Updated(2.0));
        let incr = AddFlags {
            incr: true,
            ..Default::default()
        };
        assert_eq!(z.add(b"a", 0.0, incr, &t), AddOutcome::Same(2.0));
        z.add(b"b", f64::INFINITY, AddFlags::default(), &t);
        assert_eq!(z.add(b"b", f64::NEG_INFINITY, incr, &t), AddOutcome::NaN);
        let xx = AddFlags {
            xx: true,
            ..Default::default()
        };
        assert_eq!(z.add(b"c", 1.0, xx, &t), AddOutcome::Nop);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i8),
        Rem(u8),
        RemRanks(u8, u8),
        Pop(u8, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..40, -5i8..5).prop_map(|(m, s)| Op::Add(m, s)),
            2 => (0u8..40).prop_map(Op::Rem),
            1 => (0u8..30, 0u8..10).prop_map(|(a, b)| Op::RemRanks(a, b)),
            1 => (0u8..4, any::<bool>()).prop_map(|(a, b)| Op::Pop(a, b)),
        ]
    }

    fn member(m: u8) -> Vec<u8> {
        format!("m{m}").into_bytes()
    }

    /// The model: a BTreeSet of (score bits made orderable, member).
    fn check(z: &ZSet, model: &BTreeSet<(i64, Vec<u8>)>) {
        assert_eq!(z.len(), model.len());
        let got: Vec<(i64, Vec<u8>)> = z.iter().map(|(m, s)| (s as i64, m.to_vec())).collect();
        let want: Vec<(i64, Vec<u8>)> = model.iter().cloned().collect();
        assert_eq!(got, want);
        let rev: Vec<(i64, Vec<u8>)> = z
            .iter_from(0, true)
            .map(|(m, s)| (s as i64, m.to_vec()))
            .collect();
        let mut wrev = want.clone();
        wrev.reverse();
        assert_eq!(rev, wrev);
        for (i, (s, m)) in want.iter().enumerate() {
            assert_eq!(z.rank(m, false), Some((i, *s as f64)));
            assert_eq!(z.rank(m, true), Some((want.len() - 1 - i, *s as f64)));
            assert_eq!(z.score(m), Some(*s as f64));
            assert_eq!(
                z.at(i).map(|(m, s)| (s as i64, m.to_vec())),
                Some((*s, m.clone()))
            );
        }
        for b in -6i64..6 {
            let r = ScoreRange {
                min: b as f64,
                max: (b + 2) as f64,
                minex: b % 2 == 0,
                maxex: false,
            };
            let (lo, hi) = z.score_span(&r);
            let n = want
                .iter()
                .filter(|(s, _)| r.gte_min(*s as f64) && r.lte_max(*s as f64))
                .count();
            assert_eq!(hi - lo, n);
        }
        let mut seen = BTreeSet::new();
        let mut rem = None;
        loop {
            let r = z.scan(rem, 3, |m, _| {
                seen.insert(m.to_vec());
            });
            if r == 0 {
                break;
            }
            rem = Some(r);
        }
        assert_eq!(seen.len(), model.len());
    }

    fn run(ops: Vec<Op>, entries: usize, skip: bool) {
        let t = th(entries);
        let mut z = ZSet::new();
        if skip {
            z.force_skiplist();
        }
        let mut model: BTreeSet<(i64, Vec<u8>)> = BTreeSet::new();
        for o in ops {
            match o {
                Op::Add(m, s) => {
                    let m = member(m);
                    if let Some(old) = model.iter().find(|e| e.1 == m).cloned() {
                        model.remove(&old);
                    }
                    model.insert((s as i64, m.clone()));
                    z.add(&m, s as f64, AddFlags::default(), &t);
                }
                Op::Rem(m) => {
                    let m = member(m);
                    let old = model.iter().find(|e| e.1 == m).cloned();
                    assert_eq!(z.remove(&m), old.is_some());
                    if let Some(old) = old {
                        model.remove(&old);
                    }
                }
                Op::RemRanks(lo, n) => {
                    let lo = lo as usize;
                    let hi = lo + n as usize;
                    let v: Vec<_> = model.iter().cloned().collect();
                    let want = v.len().min(hi).saturating_sub(lo);
                    for e in v.iter().skip(lo).take(n as usize) {
                        model.remove(e);
                    }
                    assert_eq!(z.remove_ranks(lo, hi), want);
                }
                Op::Pop(n, max) => {
                    let got = z.pop(n as usize, max);
                    for _ in 0..got.len() {
                        let e = if max {
                            model.iter().next_back().cloned()
                        } else {
                            model.iter().next().cloned()
                        };
                        if let Some(e) = e {
                            model.remove(&e);
                        }
                    }
                }
            }
            check(&z, &model);
        }
    }

    proptest! {
        #[test]
        fn matches_model_listpack(ops in proptest::collection::vec(op(), 0..80)) {
            run(ops, 1000, false);
        }

        #[test]
        fn matches_model_skiplist(ops in proptest::collection::vec(op(), 0..120)) {
            run(ops, 0, true);
        }

        #[test]
        fn matches_model_converting(ops in proptest::collection::vec(op(), 0..80)) {
            run(ops, 8, false);
        }
    }

    #[test]
    fn skiplist_mixed_member_lengths() {
        // Inline (short) and boxed (long) members, equal scores, shared
        // prefixes and zero bytes, moved by updates.
        let t = th(0);
        let mut z = ZSet::with_hint(1, 0, &t);
        let mut model = BTreeSet::new();
        let mut members = vec![Vec::new()];
        for len in 1..80usize {
            for fill in [0u8, 1, b'a', 255] {
                let mut m = vec![b'x'; len];
                if len > 0 {
                    m[len - 1] = fill;
                }
                members.push(m);
            }
        }
        for (k, m) in members.iter().enumerate() {
            let s = (k % 3) as i64;
            z.add(m, s as f64, AddFlags::default(), &t);
            model.insert((s, m.clone()));
        }
        for (k, m) in members.iter().enumerate().step_by(2) {
            let old = (k % 3) as i64;
            let new = ((k / 2) % 4) as i64;
            z.add(m, new as f64, AddFlags::default(), &t);
            model.remove(&(old, m.clone()));
            model.insert((new, m.clone()));
        }
        let want: Vec<(Vec<u8>, f64)> = model.iter().map(|(s, m)| (m.clone(), *s as f64)).collect();
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(got, want);
        for (i, (m, s)) in want.iter().enumerate() {
            assert_eq!(z.rank(m, false), Some((i, *s)));
        }
        for m in members.iter().step_by(3) {
            assert!(z.remove(m));
        }
        assert_eq!(z.len(), members.len() - members.len().div_ceil(3));
    }

    #[test]
    fn big_skiplist_ranks() {
        let t = th(0);
        let mut z = ZSet::with_hint(1, 0, &t);
        for i in 0..5000u32 {
            z.add(
                format!("{i}").as_bytes(),
                (i % 97) as f64,
                AddFlags::default(),
                &t,
            );
        }
        let all: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        for (i, (m, s)) in all.iter().enumerate().step_by(37) {
            assert_eq!(z.rank(m, false), Some((i, *s)));
            assert_eq!(z.at(i).map(|e| e.0.to_vec()), Some(m.clone()));
        }
        assert_eq!(z.remove_ranks(100, 4000), 3900);
        assert_eq!(z.len(), 1100);
        let p = z.pop(2000, true);
        assert_eq!(p.len(), 1100);
        assert!(z.is_empty());
    }

    /// ZSCAN over the slab: every member present throughout is returned
    /// once while others come and go; garbage cursors end the scan.
    #[test]
    fn scan_walks_the_slab() {
        let t = th(0);
        let mut z = ZSet::with_hint(1, 0, &t);
        let name = |i: usize| {
            let mut m = format!("m{i}").into_bytes();
            if i.is_multiple_of(5) {
                m.resize(70 + i % 9, b'z');
            }
            m
        };
        for i in 0..2000 {
            z.add(&name(i), (i % 7) as f64, AddFlags::default(), &t);
        }
        let mut seen = std::collections::HashMap::new();
        let mut cursor = None;
        let mut round = 0usize;
        loop {
            let next = z.scan(cursor, 25, |m, _| {
                *seen.entry(m.to_vec()).or_insert(0) += 1;
            });
            // Churn: drop some of the upper half, add new members.
            for k in 0..3 {
                z.remove(&name(1000 + (round * 3 + k) % 1000));
                z.add(&name(5000 + round * 3 + k), 1.0, AddFlags::default(), &t);
            }
            round += 1;
            if next == 0 {
                break;
            }
            cursor = Some(next);
        }
        for i in 0..1000 {
            assert_eq!(seen.get(&name(i)), Some(&1), "{i}");
        }
        for c in [1usize, 2, 3, 67, 69, 70, 71, 1 << 40, usize::MAX] {
            z.scan(Some(c), 10, |_, _| {});
        }
        let mut z2 = z.clone();
        let all: Vec<Vec<u8>> = z.iter().map(|(m, _)| m.to_vec()).collect();
        for m in &all {
            assert!(z2.remove(m));
        }
        assert!(z2.is_empty());
        assert_eq!(z2.scan(None, 10, |_, _| panic!("empty")), 0);
    }

    #[test]
    fn lex_ranges() {
        let r = LexRange {
            min: LexBound::NegInf,
            max: LexBound::NegInf,
        };
        assert!(r.is_empty());
        let r = LexRange {
            min: LexBound::Incl(Bytes::from_static(b"b")),
            max: LexBound::Excl(Bytes::from_static(b"d")),
        };
        assert!(!r.is_empty());
        assert!(r.gte_min(b"b") && !r.gte_min(b"a"));
        assert!(r.lte_max(b"c") && !r.lte_max(b"d"));
        let r = LexRange {
            min: LexBound::PosInf,
            max: LexBound::PosInf,
        };
        assert!(r.is_empty());
    }
}
