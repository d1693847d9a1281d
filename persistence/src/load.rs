//! Decoding: whole RDB files ([`load`]) and single values ([`read_value`],
//! shared with RESTORE).
//!
//! Every encoding a Redis 2.4 .. 7.4 or Valkey 8 file holds is understood:
//! strings (raw, integer, LZF), lists (linked, ziplist, quicklist,
//! quicklist 2 with packed and plain nodes), sets (plain, intset,
//! listpack), hashes (plain, zipmap, ziplist, listpack, and 7.4's field
//! TTL forms: metadata and listpack-ex, pre-GA and GA), sorted sets (text
//! and binary scores, ziplist, listpack). Streams and module values are
//! refused with an error naming the type (magpie has neither).
//!
//! Invariants: the loader hands a key to the sink only once its whole value
//! decoded; a caller that must not half-load (start-up, DEBUG RELOAD) loads
//! into fresh shards and keeps them only when [`load`] returns `Ok`, which
//! it does only after the CRC64 trailer matched. Keys whose deadline has
//! passed, and hash fields whose deadline has passed, are dropped as Redis
//! does on a master.

use crate::compact::{self, Elem};
use crate::cursor::{Cursor, RdbStr};
use crate::error::{RdbError, RdbResult};
use crate::types::*;
use storage::types::hash::{ExpireCond, Hash};
use storage::types::list::List;
use storage::types::set::{Member, Set};
use storage::types::zset::{AddFlags, AddOutcome, ZSet};
use storage::types::Thresholds;
use storage::{Entry, Str, Value};

/// What the loader needs from the server.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Encoding thresholds for the values built.
    pub thresholds: Thresholds,
    /// The time keys and fields are checked against (Unix ms).
    pub now_ms: u64,
    /// `databases`: a SELECTDB beyond it is refused.
    pub databases: usize,
}

/// What a loaded file said besides its keys.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The RDB version of the file.
    pub version: u32,
    /// Aux fields in file order (redis-ver, ctime, ...).
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// FUNCTION2 payloads: each a library's code, kept for the scripting
    /// side to install.
    pub functions: Vec<Vec<u8>>,
    /// Keys handed to the sink.
    pub keys: u64,
    /// Keys dropped because their deadline had passed.
    pub expired: u64,
}

impl Loaded {
    /// An aux field's value.
    pub fn aux(&self, name: &str) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| &v[..])
    }
}

fn blob_err(cur: &Cursor<'_>, what: &str, e: compact::BlobError) -> RdbError {
    cur.corrupt(format!("{what}: {e}"))
}

/// Decodes one value of RDB type `t` at the cursor. `Ok(None)` for an
/// empty collection (Redis skips such keys).
pub fn read_value(cur: &mut Cursor<'_>, t: u8, opts: &LoadOptions) -> RdbResult<Option<Value>> {
    let th = &opts.thresholds;
    let mut scratch = Vec::new();
    Ok(match t {
        TYPE_STRING => Some(Value::Str(match cur.string()? {
            RdbStr::Int(n) => Str::Int(n),
            RdbStr::Bytes(b) => Str::from_bytes(&b),
        })),
        TYPE_LIST => {
            let n = cur.count(1)?;
            let mut l = List::new();
            for _ in 0..n {
                let s = cur.string()?;
                l.push(s.as_slice(&mut scratch), false, th.list_max_listpack_size);
            }
            nonempty_list(l)
        }
        TYPE_LIST_ZIPLIST => {
            let at = cur.pos();
            let blob = cur.bytes()?;
            let items = compact::ziplist(&blob)
                .map_err(|e| RdbError::corrupt(at, format!("list ziplist: {e}")))?;
            let mut l = List::new();
            push_elems(&mut l, &items, th, &mut scratch);
            nonempty_list(l)
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = cur.count(2)?;
            let mut l = List::new();
            for _ in 0..nodes {
                let container = if t == TYPE_LIST_QUICKLIST_2 {
                    cur.length()?
                } else {
                    QUICKLIST_PACKED
                };
                let at = cur.pos();
                let blob = cur.bytes()?;
                if blob.is_empty() {
                    return Err(RdbError::corrupt(at, "empty quicklist node"));
                }
                match container {
                    QUICKLIST_PLAIN => l.push(&blob, false, th.list_max_listpack_size),
                    QUICKLIST_PACKED => {
                        let items = if t == TYPE_LIST_QUICKLIST_2 {
                            compact::listpack(&blob)
                        } else {
                            compact::ziplist(&blob)
                        }
                        .map_err(|e| RdbError::corrupt(at, format!("quicklist node: {e}")))?;
                        push_elems(&mut l, &items, th, &mut scratch);
                    }
                    _ => return Err(cur.corrupt("quicklist integrity check failed")),
                }
            }
            nonempty_list(l)
        }
        TYPE_SET => {
            let n = cur.count(1)?;
            let mut set: Option<Set> = None;
            for _ in 0..n {
                let s = cur.string()?;
                let m = s.as_slice(&mut scratch);
                let st = set.get_or_insert_with(|| Set::create(m, n, th));
                if !st.add(m, th) {
                    return Err(cur.corrupt("duplicate set members detected"));
                }
            }
            set.map(Value::Set)
        }
        TYPE_SET_INTSET => {
            let blob = cur.bytes()?;
            let ints = compact::intset(&blob).map_err(|e| blob_err(cur, "intset", e))?;
            let mut st = Set::create(b"0", ints.len(), th);
            for v in &ints {
                st.add_member(Member::Int(*v), th);
            }
            (!ints.is_empty()).then_some(Value::Set(st))
        }
        TYPE_SET_LISTPACK => {
            let blob = cur.bytes()?;
            let items = compact::listpack(&blob).map_err(|e| blob_err(cur, "set listpack", e))?;
            let mut set: Option<Set> = None;
            for e in &items {
                let m = e.as_slice(&mut scratch);
                let st = set.get_or_insert_with(|| Set::create(m, items.len(), th));
                if !st.add(m, th) {
                    return Err(cur.corrupt("set listpack with duplicates"));
                }
            }
            set.map(Value::Set)
        }
        TYPE_HASH => {
            let n = cur.count(2)?;
            let mut h = HashBuilder::new(n, th, false);
            for _ in 0..n {
                let f = cur.string()?;
                let v = cur.string()?;
                h.add(cur, f.as_slice(&mut scratch), &v.into_vec(), 0, opts)?;
            }
            h.finish()
        }
        TYPE_HASH_ZIPMAP => {
            let blob = cur.bytes()?;
            let pairs = compact::zipmap(&blob).map_err(|e| blob_err(cur, "zipmap", e))?;
            let mut h = HashBuilder::new(pairs.len(), th, false);
            for (f, v) in pairs {
                h.add(cur, f, v, 0, opts)?;
            }
            h.finish()
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let blob = cur.bytes()?;
            let items = if t == TYPE_HASH_ZIPLIST {
                compact::ziplist(&blob)
            } else {
                compact::listpack(&blob)
            }
            .map_err(|e| blob_err(cur, "hash blob", e))?;
            if items.len() % 2 != 0 {
                return Err(cur.corrupt("hash blob with an odd number of entries"));
            }
            let mut h = HashBuilder::new(items.len() / 2, th, false);
            let mut vs = Vec::new();
            for p in items.chunks_exact(2) {
                let v = p[1].as_slice(&mut vs).to_vec();
                h.add(cur, p[0].as_slice(&mut scratch), &v, 0, opts)?;
            }
            h.finish()
        }
        TYPE_HASH_METADATA_PRE_GA | TYPE_HASH_METADATA => {
            let min = if t == TYPE_HASH_METADATA {
                cur.u64_le()?
            } else {
                0
            };
            let n = cur.count(3)?;
            let mut h = HashBuilder::new(n, th, true);
            for _ in 0..n {
                let ttl = cur.length()?;
                let at = if t == TYPE_HASH_METADATA && ttl != 0 {
                    ttl.checked_add(min)
                        .and_then(|x| x.checked_sub(1))
                        .ok_or_else(|| cur.corrupt("invalid hash field expiry"))?
                } else {
                    ttl
                };
                let f = cur.string()?;
                let v = cur.string()?;
                h.add(cur, f.as_slice(&mut scratch), &v.into_vec(), at, opts)?;
            }
            h.finish()
        }
        TYPE_HASH_LISTPACK_EX_PRE_GA | TYPE_HASH_LISTPACK_EX => {
            if t == TYPE_HASH_LISTPACK_EX {
                cur.u64_le()?; // the minimum field expiry: derived, not needed
            }
            let blob = cur.bytes()?;
            let items =
                compact::listpack(&blob).map_err(|e| blob_err(cur, "hash listpack-ex", e))?;
            if items.len() % 3 != 0 {
                return Err(cur.corrupt("hash listpack-ex entries not in triplets"));
            }
            let mut h = HashBuilder::new(items.len() / 3, th, true);
            let mut vs = Vec::new();
            for p in items.chunks_exact(3) {
                let at = match p[2] {
                    Elem::Int(n) if n >= 0 => n as u64,
                    _ => return Err(cur.corrupt("invalid hash field expiry")),
                };
                let v = p[1].as_slice(&mut vs).to_vec();
                h.add(cur, p[0].as_slice(&mut scratch), &v, at, opts)?;
            }
            h.finish()
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = cur.count(2)?;
            let mut z = ZSet::with_hint(n, 0, th);
            for _ in 0..n {
                let m = cur.string()?;
                let score = if t == TYPE_ZSET_2 {
                    cur.f64_le()?
                } else {
                    cur.text_double()?
                };
                zadd(cur, &mut z, m.as_slice(&mut scratch), score, th)?;
            }
            (!z.is_empty()).then(|| Value::ZSet(Box::new(z)))
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let blob = cur.bytes()?;
            let items = if t == TYPE_ZSET_ZIPLIST {
                compact::ziplist(&blob)
            } else {
                compact::listpack(&blob)
            }
            .map_err(|e| blob_err(cur, "zset blob", e))?;
            if items.len() % 2 != 0 {
                return Err(cur.corrupt("zset blob with an odd number of entries"));
            }
            let mut z = ZSet::with_hint(items.len() / 2, 0, th);
            for p in items.chunks_exact(2) {
                let score = p[1]
                    .as_f64()
                    .ok_or_else(|| cur.corrupt("invalid zset score"))?;
                zadd(cur, &mut z, p[0].as_slice(&mut scratch), score, th)?;
            }
            (!z.is_empty()).then(|| Value::ZSet(Box::new(z)))
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            return Err(RdbError::Unsupported(format!(
                "stream values (RDB type {t}) are not supported: magpie has no stream type"
            )))
        }
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            return Err(RdbError::Unsupported(format!(
                "module values (RDB type {t}) are not supported: magpie loads no modules"
            )))
        }
        _ => return Err(cur.corrupt(format!("unknown RDB value type {t}"))),
    })
}

fn nonempty_list(l: List) -> Option<Value> {
    (!l.is_empty()).then(|| Value::List(Box::new(l)))
}

fn push_elems(l: &mut List, items: &[Elem<'_>], th: &Thresholds, scratch: &mut Vec<u8>) {
    for e in items {
        l.push(e.as_slice(scratch), false, th.list_max_listpack_size);
    }
}

fn zadd(cur: &Cursor<'_>, z: &mut ZSet, m: &[u8], score: f64, th: &Thresholds) -> RdbResult<()> {
    if score.is_nan() {
        return Err(cur.corrupt("zset score is NaN"));
    }
    match z.add(m, score, AddFlags::default(), th) {
        AddOutcome::Added(_) => Ok(()),
        _ => Err(cur.corrupt("duplicate zset members detected")),
    }
}

/// Builds a hash field by field, dropping fields whose deadline passed.
struct HashBuilder<'t> {
    h: Hash,
    th: &'t Thresholds,
}

impl<'t> HashBuilder<'t> {
    fn new(n: usize, th: &'t Thresholds, ttls: bool) -> HashBuilder<'t> {
        let mut h = Hash::new();
        if n > th.hash_max_listpack_entries {
            h.convert_to_table(n);
        } else if ttls {
            // Redis keeps a hash of this type `listpackex` even when no
            // field has a deadline.
            h.prepare_field_ttls();
        }
        HashBuilder { h, th }
    }

    fn add(
        &mut self,
        cur: &Cursor<'_>,
        f: &[u8],
        v: &[u8],
        at: u64,
        opts: &LoadOptions,
    ) -> RdbResult<()> {
        if at != 0 && at < opts.now_ms {
            // Already expired: dropped, but still a duplicate check.
            if self.h.get(f).is_some() {
                return Err(cur.corrupt("duplicate hash fields detected"));
            }
            return Ok(());
        }
        if !self.h.set(f, v, self.th) {
            return Err(cur.corrupt("duplicate hash fields detected"));
        }
        if at != 0 {
            self.h.set_field_ttl(f, at, ExpireCond::Always, opts.now_ms);
        }
        Ok(())
    }

    fn finish(self) -> Option<Value> {
        (!self.h.is_empty()).then_some(Value::Hash(self.h))
    }
}

/// Loads an RDB image, handing each live key to `sink(db, key, entry)`.
/// Refuses (with the first problem met) a file that is not RDB, of an
/// unknown version, corrupt, truncated, with a bad checksum, or holding
/// streams or module data.
pub fn load(
    data: &[u8],
    opts: &LoadOptions,
    sink: impl FnMut(usize, &[u8], Entry),
) -> RdbResult<Loaded> {
    load_with_hints(data, opts, |_, _| {}, sink)
}

/// [`load`], also passing each RESIZEDB hint to `hint(db, keys)` so the
/// caller can size its tables once. The hint is capped by what the rest
/// of the file can hold (a key takes at least 3 bytes), so a hostile hint
/// cannot make the caller allocate beyond the file's size.
pub fn load_with_hints(
    data: &[u8],
    opts: &LoadOptions,
    mut hint: impl FnMut(usize, u64),
    mut sink: impl FnMut(usize, &[u8], Entry),
) -> RdbResult<Loaded> {
    let mut cur = Cursor::new(data);
    let magic = cur.take(9).map_err(|_| RdbError::BadSignature)?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError::BadSignature);
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or(RdbError::BadSignature)?;
    if !(1..=crate::RDB_VERSION_MAX as u32).contains(&version) {
        return Err(RdbError::Version(version));
    }
    let mut out = Loaded {
        version,
        ..Loaded::default()
    };
    let mut db = 0usize;
    let mut expire: Option<u64> = None;
    let mut idle: Option<u64> = None;
    let lru_now = storage::db::lru_clock(opts.now_ms);
    loop {
        let t = cur.u8()?;
        match t {
            OP_EXPIRETIME => {
                expire = Some(cur.u32_le()? as u64 * 1000);
            }
            OP_EXPIRETIME_MS => {
                expire = Some(cur.u64_le()?);
            }
            OP_FREQ => {
                // LFU counter: magpie keeps an LRU clock only.
                cur.u8()?;
            }
            OP_IDLE => {
                idle = Some(cur.length()?);
            }
            OP_EOF => break,
            OP_SELECTDB => {
                let n = cur.length()?;
                if n >= opts.databases as u64 {
                    return Err(RdbError::DbIndex {
                        db: n,
                        databases: opts.databases,
                    });
                }
                db = n as usize;
            }
            OP_RESIZEDB => {
                let keys = cur.length()?;
                cur.length()?;
                hint(db, keys.min(cur.remaining() as u64 / 3));
            }
            OP_AUX => {
                let k = cur.bytes()?.into_owned();
                let v = cur.bytes()?.into_owned();
                out.aux.push((k, v));
            }
            OP_SLOT_INFO => {
                cur.length()?;
                cur.length()?;
                cur.length()?;
            }
            OP_FUNCTION2 => {
                out.functions.push(cur.bytes()?.into_owned());
            }
            OP_FUNCTION_PRE_GA => {
                return Err(RdbError::Unsupported(
                    "pre-release function data (RDB opcode 246) is not supported".into(),
                ))
            }
            OP_MODULE_AUX => return Err(RdbError::Unsupported(
                "module auxiliary data (RDB opcode 247) is not supported: magpie loads no modules"
                    .into(),
            )),
            t if is_object_type(t) => {
                let key = cur.bytes()?;
                let value = read_value(&mut cur, t, opts)?;
                let (exp, idl) = (expire.take(), idle.take());
                let Some(value) = value else {
                    continue;
                };
                if exp.is_some_and(|e| e < opts.now_ms) {
                    out.expired += 1;
                    continue;
                }
                let lru = match idl {
                    Some(secs) => lru_now.wrapping_sub(secs.min(u32::MAX as u64) as u32),
                    None => lru_now,
                };
                out.keys += 1;
                sink(db, &key, Entry::with_expire(value, exp, lru));
            }
            _ => {
                return Err(RdbError::corrupt(
                    cur.pos() - 1,
                    format!("unknown RDB type {t}"),
                ))
            }
        }
    }
    if version >= 5 {
        let body = cur.consumed().len();
        let stored = cur.u64_le()?;
        if stored != 0 {
            let got = crate::crc64::crc64(&data[..body]);
            if got != stored {
                return Err(RdbError::Checksum {
                    expected: stored,
                    got,
                });
            }
        }
    }
    Ok(out)
}
