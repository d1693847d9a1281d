//! SORT and SORT_RO (Redis's `sort.c`).
//!
//! SORT reads keys no argument declares: `BY weight_*` and `GET obj_*->f`
//! name keys after the elements being sorted, and those can live on any
//! shard. So SORT coordinates: it parses the options, then either runs
//! inline (one shard, or no pattern and every declared key on the
//! connection's shard) or freezes the shards it needs under one
//! transaction (all of them when a pattern is used, else the sorted key's
//! and the STORE key's) so the whole command is atomic: read the source on
//! its shard, look the pattern keys up on theirs, sort, and write the
//! STORE destination before the transaction releases.
//!
//! The phases are plain functions shared by both paths: [`load_source`],
//! [`Plan::new`], [`Plan::sort`] and [`Plan::output`]; only the way
//! pattern keys are resolved differs.
//!
//! Lists, sorted sets and hashes come from other modules; the few
//! accessors SORT needs are in the `glue` section at the end.

use crate::command::args::is;
use crate::command::flags::*;
use crate::command::{row, BeginSearch, CmdFuture, CommandSpec, Exec, FindKeys, KeySpec, Keys};
use crate::config::notify::{GENERIC, LIST};
use crate::conn::ConnCtx;
use crate::dispatch::run_inline;
use crate::slot::shard_of;
use crate::worker::ShardEnv;
use bytes::Bytes;
use std::cmp::Ordering;
use storage::types::Thresholds;
use storage::{CmdError, CmdResult, Db, Reply, Value};

const SORTED_KEY: KeySpec = KeySpec {
    notes: "",
    flags: &["RO", "access"],
    begin: BeginSearch::Index(1),
    find: FindKeys::Range {
        lastkey: 0,
        keystep: 1,
        limit: 0,
    },
};
/// BY/GET keys: unknown, they derive from the sorted key's content.
const PATTERN_KEYS: KeySpec = KeySpec {
    notes: "",
    flags: &["RO", "access"],
    begin: BeginSearch::Unknown,
    find: FindKeys::Unknown,
};
/// The STORE key: unknown, the keyword can appear anywhere.
const STORE_KEY: KeySpec = KeySpec {
    notes: "",
    flags: &["OW", "update"],
    begin: BeginSearch::Unknown,
    find: FindKeys::Unknown,
};
const SORT_SPECS: &[KeySpec] = &[SORTED_KEY, PATTERN_KEYS, STORE_KEY];
const SORT_RO_SPECS: &[KeySpec] = &[SORTED_KEY, PATTERN_KEYS];

const SORT_COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

/// SORT and SORT_RO's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row(
        "sort",
        -2,
        WRITE | DENYOOM | MOVABLEKEYS,
        Keys::Custom(sort_keys),
        Exec::Coord(sort),
    )
    .acl(&["write", "set", "sortedset", "list", "slow", "dangerous"])
    .key_specs(SORT_SPECS)
    .doc(
        "generic",
        "1.0.0",
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        SORT_COMPLEXITY,
    ),
    row(
        "sort_ro",
        -2,
        READONLY | MOVABLEKEYS,
        Keys::Custom(sort_ro_keys),
        Exec::Coord(sort_ro),
    )
    .acl(&["read", "set", "sortedset", "list", "slow", "dangerous"])
    .key_specs(SORT_RO_SPECS)
    .doc(
        "generic",
        "7.0.0",
        "Returns the sorted elements of a list, a set, or a sorted set.",
        SORT_COMPLEXITY,
    ),
];

/// Redis's sortGetKeys: the sorted key and the last STORE key.
fn sort_keys(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    let mut keys = vec![1];
    keys.extend(store);
    Ok(keys)
}

/// SORT_RO's only key is the sorted one.
fn sort_ro_keys(_argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    Ok(vec![1])
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// SORT's options, parsed before any key is looked at.
#[derive(Clone, Debug)]
struct SortOpts {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// BY without `*`: keep the source's order.
    dontsort: bool,
    gets: Vec<Bytes>,
}

/// The part of an argument C string functions see: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

fn parse_opts(argv: &[Bytes], readonly: bool) -> CmdResult<SortOpts> {
    let mut o = SortOpts {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < argv.len() {
        let a = &argv[j];
        let left = argv.len() - j - 1;
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            let n = |b: &[u8]| storage::numfmt::parse_i64(b).ok_or(CmdError::NotInteger);
            o.limit_start = n(&argv[j + 1])?;
            o.limit_count = n(&argv[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(argv[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let p = argv[j + 1].clone();
            // Once a BY without '*' was seen, Redis keeps `dontsort`.
            if !c_str(&p).contains(&b'*') {
                o.dontsort = true;
            }
            o.by = Some(p);
            j += 1;
        } else if is(a, "get") && left >= 1 {
            o.gets.push(argv[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

impl SortOpts {
    /// True if some pattern names other keys (which may live anywhere).
    fn uses_patterns(&self) -> bool {
        let names_keys = |p: &Bytes| !is_hash_sign(p) && c_str(p).contains(&b'*');
        (!self.dontsort && self.by.as_ref().is_some_and(names_keys))
            || self.gets.iter().any(names_keys)
    }
}

fn is_hash_sign(p: &[u8]) -> bool {
    p.first() == Some(&b'#') && p.get(1).is_none_or(|&c| c == 0)
}

// ---------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------

/// What a BY/GET pattern refers to for one element (lookupKeyByPattern).
#[derive(Clone, Debug, PartialEq)]
enum Target {
    /// `#`: the element itself.
    Itself,
    /// No `*` in the pattern: nothing.
    Nothing,
    /// A string key, or a hash field with `->field`.
    Key {
        key: Vec<u8>,
        field: Option<Vec<u8>>,
    },
}

fn pattern_target(pattern: &[u8], subst: &[u8]) -> Target {
    if is_hash_sign(pattern) {
        return Target::Itself;
    }
    let c = c_str(pattern);
    let Some(star) = c.iter().position(|&b| b == b'*') else {
        return Target::Nothing;
    };
    // A "->" after the '*' with something after it names a hash field.
    let arrow = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| c.get(f + 2).is_some());
    let (key_end, field) = match arrow {
        Some(f) => (f, Some(pattern[f + 2..].to_vec())),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(key_end + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    Target::Key { key, field }
}

/// A pattern key to look up: (key, hash field).
type Lookup = (Vec<u8>, Option<Vec<u8>>);

/// Looks a pattern key up as Redis does: a read lookup, a string value, or
/// a hash's field with `->`; anything else is nothing.
fn resolve_one(
    db: &mut Db,
    now: u64,
    touch: bool,
    key: &[u8],
    field: Option<&[u8]>,
) -> Option<Bytes> {
    let e = db.lookup_read(key, now, touch)?;
    match (&e.value, field) {
        (Value::Str(s), None) => Some(s.to_bytes()),
        (Value::Hash(h), Some(f)) => glue::hash_get(h, f),
        _ => None,
    }
}

/// Maps targets to values, with `resolved` holding the values of the
/// `Target::Key` entries in order.
fn fill(targets: &[Target], elems: &[&Bytes], resolved: Vec<Option<Bytes>>) -> Vec<Option<Bytes>> {
    let mut r = resolved.into_iter();
    targets
        .iter()
        .zip(elems)
        .map(|(t, e)| match t {
            Target::Itself => Some((*e).clone()),
            Target::Nothing => None,
            Target::Key { .. } => r.next().flatten(),
        })
        .collect()
}

fn lookups_of(targets: &[Target]) -> Vec<Lookup> {
    targets
        .iter()
        .filter_map(|t| match t {
            Target::Key { key, field } => Some((key.clone(), field.clone())),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The source and the plan
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// The elements to sort, in the source's own order (a set's members, a
/// list head to tail, a sorted set by rank).
#[derive(Debug)]
struct Source {
    kind: Kind,
    elems: Vec<Bytes>,
}

/// Reads the key to sort: WRONGTYPE for strings and hashes; a missing key
/// is an empty list.
fn load_source(db: &mut Db, key: &[u8], now: u64, touch: bool) -> CmdResult<Source> {
    let Some(e) = db.lookup_read(key, now, touch) else {
        return Ok(Source {
            kind: Kind::List,
            elems: Vec::new(),
        });
    };
    match &mut e.value {
        Value::Set(s) => Ok(Source {
            kind: Kind::Set,
            elems: s.iter().map(|m| m.to_bytes()).collect(),
        }),
        Value::List(l) => Ok(Source {
            kind: Kind::List,
            elems: glue::list_items(l),
        }),
        Value::ZSet(z) => Ok(Source {
            kind: Kind::ZSet,
            elems: glue::zset_items_for_sort(z),
        }),
        _ => Err(CmdError::WrongType),
    }
}

/// What to do with a loaded source.
struct Plan {
    opts: SortOpts,
    elems: Vec<Bytes>,
    /// Output range, inclusive; empty when `end < start`.
    start: i64,
    end: i64,
}

impl Plan {
    fn new(mut opts: SortOpts, src: Source) -> Plan {
        let Source { kind, mut elems } = src;
        // An unsorted set is sorted anyway when stored, so the result
        // does not depend on hash order.
        if opts.dontsort && kind == Kind::Set && opts.store.is_some() {
            opts.dontsort = false;
            opts.alpha = true;
            opts.by = None;
        }
        // Lists and sorted sets keep their order, reversed by DESC.
        if opts.dontsort && kind != Kind::Set && opts.desc {
            elems.reverse();
        }
        let n = elems.len() as i64;
        let mut start = opts.limit_start.max(0).min(n);
        let count = opts.limit_count.max(-1).min(n);
        let mut end = if count < 0 { n - 1 } else { start + count - 1 };
        if start >= n {
            start = n - 1;
            end = n - 2;
        }
        if end >= n {
            end = n - 1;
        }
        Plan {
            opts,
            elems,
            start,
            end,
        }
    }

    /// The BY targets, when BY is used for sorting.
    fn by_targets(&self) -> Vec<Target> {
        match (&self.opts.by, self.opts.dontsort) {
            (Some(by), false) => self.elems.iter().map(|e| pattern_target(by, e)).collect(),
            _ => Vec::new(),
        }
    }

    /// Sorts the elements by their weights (`by` holds each element's BY
    /// value when BY is used). Fails when a weight is not a number.
    fn sort(&mut self, by: Option<Vec<Option<Bytes>>>) -> CmdResult<()> {
        if self.opts.dontsort {
            return Ok(());
        }
        let store = self.opts.store.is_some();
        let bypattern = by.is_some();
        let mut items: Vec<(Bytes, Option<Bytes>, f64)> = Vec::with_capacity(self.elems.len());
        let mut bad = false;
        let mut weights = by.map(|v| v.into_iter());
        for e in std::mem::take(&mut self.elems) {
            let byval = match &mut weights {
                Some(w) => w.next().flatten(),
                None => Some(e.clone()),
            };
            let mut score = 0.0;
            let mut cmpobj = None;
            if let Some(v) = byval {
                if self.opts.alpha {
                    if bypattern {
                        cmpobj = Some(v);
                    }
                } else {
                    match sort_score(&v) {
                        Some(s) => score = s,
                        None => bad = true,
                    }
                }
            }
            items.push((e, cmpobj, score));
        }
        if bad {
            return Err(CmdError::msg(
                "ERR One or more scores can't be converted into double",
            ));
        }
        let (alpha, desc) = (self.opts.alpha, self.opts.desc);
        let text_cmp = |a: &[u8], b: &[u8]| {
            if store {
                a.cmp(b)
            } else {
                c_str(a).cmp(c_str(b))
            }
        };
        items.sort_by(|a, b| {
            let cmp = if !alpha {
                a.2.partial_cmp(&b.2)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.0.cmp(&b.0))
            } else if bypattern {
                match (&a.1, &b.1) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => text_cmp(x, y),
                }
            } else {
                text_cmp(&a.0, &b.0)
            };
            if desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
        self.elems = items.into_iter().map(|(e, _, _)| e).collect();
        Ok(())
    }

    /// The elements of the output range.
    fn range(&self) -> &[Bytes] {
        if self.end < self.start || self.start < 0 {
            return &[];
        }
        &self.elems[self.start as usize..=self.end as usize]
    }

    /// The GET targets for the output range, element by element, pattern
    /// by pattern.
    fn get_targets(&self) -> (Vec<Target>, Vec<&Bytes>) {
        let mut targets = Vec::new();
        let mut elems = Vec::new();
        for e in self.range() {
            for g in &self.opts.gets {
                targets.push(pattern_target(g, e));
                elems.push(e);
            }
        }
        (targets, elems)
    }

    /// The output items: the elements, or their GET values.
    fn output(&self, gets: Vec<Option<Bytes>>) -> Vec<Option<Bytes>> {
        if self.opts.gets.is_empty() {
            self.range().iter().map(|e| Some(e.clone())).collect()
        } else {
            gets
        }
    }
}

/// Redis's numeric weight: `strtod` over the C string, which must be
/// consumed whole; an empty string is 0; NaN, overflow and underflow
/// (ERANGE, subnormals included) fail.
fn sort_score(b: &[u8]) -> Option<f64> {
    let s = c_str(b);
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let v = storage::numfmt::parse_f64(&s[start..])?;
    if v != 0.0 && v.is_finite() && v.abs() < f64::MIN_POSITIVE {
        return None;
    }
    Some(v)
}

/// Turns output items into the reply or the list to store.
fn finish(
    plan: &Plan,
    items: Vec<Option<Bytes>>,
    th: &Thresholds,
) -> CmdResult<(Reply, Option<Option<Value>>)> {
    match &plan.opts.store {
        None => Ok((
            Reply::Array(
                items
                    .into_iter()
                    .map(|i| i.map_or(Reply::Nil, Reply::Bulk))
                    .collect(),
            ),
            None,
        )),
        Some(_) => {
            let n = items.len();
            let value = if n == 0 {
                None
            } else {
                let items = items.into_iter().map(|i| i.unwrap_or_default()).collect();
                Some(glue::make_list(items, th)?)
            };
            Ok((Reply::Int(n as i64), Some(value)))
        }
    }
}

/// A keyspace event to emit: class and name.
type Event = Option<(u32, &'static str)>;

/// Writes the STORE destination: the list, or a deletion when empty.
/// Returns Redis's event for it (`sortstore`, or `del` if a key went).
fn store(db: &mut Db, key: &[u8], value: Option<Value>, now: u64) -> Event {
    match value {
        Some(v) => {
            db.insert(key, v, now);
            Some((LIST, "sortstore"))
        }
        None => db.remove(key).map(|_| (GENERIC, "del")),
    }
}

// ---------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------

fn sort(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(sort_generic(ctx, argv, false))
}

fn sort_ro(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(sort_generic(ctx, argv, true))
}

async fn sort_generic(ctx: &mut ConnCtx, argv: Vec<Bytes>, readonly: bool) -> CmdResult<Reply> {
    let opts = parse_opts(&argv, readonly)?;
    let key = argv[1].clone();
    let n = ctx.worker.shared.nshards;
    let own = ctx.worker.id;
    let src_shard = shard_of(&key, n);
    let store_shard = opts.store.as_ref().map(|k| shard_of(k, n));
    let patterns = opts.uses_patterns();
    if n == 1 || (!patterns && src_shard == own && store_shard.is_none_or(|s| s == own)) {
        let dst = opts.store.clone();
        return run_inline(ctx, |sctx| {
            let th = sctx.limits.thresholds;
            let now = sctx.shard.now_ms();
            let db = &mut sctx.shard.dbs[sctx.db];
            let (reply, event) = sort_local(db, &key, opts, now, sctx.touch, &th)?;
            if let (Some((class, name)), Some(dst)) = (event, dst) {
                sctx.notify(class, name, &dst);
            }
            Ok(reply)
        })
        .await;
    }
    let mut shards: Vec<usize> = if patterns {
        (0..n).collect()
    } else {
        vec![src_shard]
    };
    shards.extend(store_shard);
    let tx = crate::dispatch::freeze(ctx, shards).await;
    let db = ctx.client.db;
    let touch = !ctx.client.no_touch;
    let th = ctx.worker.env.borrow().limits.thresholds;
    let gone = || CmdError::msg("ERR server is shutting down");

    let k = key.clone();
    let src = tx
        .run(src_shard, move |env: &mut ShardEnv| {
            let now = env.shard.now_ms();
            load_source(&mut env.shard.dbs[db], &k, now, touch)
        })
        .await
        .ok_or_else(gone)??;
    let mut plan = Plan::new(opts, src);
    let by_targets = plan.by_targets();
    let by = if plan.opts.by.is_some() && !plan.opts.dontsort {
        let resolved = resolve_tx(&tx, n, db, touch, lookups_of(&by_targets)).await?;
        let elems: Vec<&Bytes> = plan.elems.iter().collect();
        Some(fill(&by_targets, &elems, resolved))
    } else {
        None
    };
    plan.sort(by)?;
    let (targets, elems) = plan.get_targets();
    let resolved = resolve_tx(&tx, n, db, touch, lookups_of(&targets)).await?;
    let gets = fill(&targets, &elems, resolved);
    let items = plan.output(gets);
    let (reply, stored) = finish(&plan, items, &th)?;
    let client = ctx.client.id;
    if let (Some(value), Some(dst), Some(s)) = (stored, plan.opts.store.clone(), store_shard) {
        tx.run(s, move |env: &mut ShardEnv| {
            let now = env.shard.now_ms();
            if let Some((class, name)) = store(&mut env.shard.dbs[db], &dst, value, now) {
                crate::watch::touch(env, db, std::iter::once(&dst[..]));
                crate::notify::key_modified(&env.hub, &dst, client);
                crate::notify::publish_event(&env.hub, class, name, &dst, db);
            }
        })
        .await
        .ok_or_else(gone)?;
    }
    drop(tx);
    Ok(reply)
}

/// SORT on one shard that holds everything it reads and writes.
fn sort_local(
    db: &mut Db,
    key: &[u8],
    opts: SortOpts,
    now: u64,
    touch: bool,
    th: &Thresholds,
) -> CmdResult<(Reply, Event)> {
    let src = load_source(db, key, now, touch)?;
    let mut plan = Plan::new(opts, src);
    let mut resolve = |lookups: Vec<Lookup>| -> Vec<Option<Bytes>> {
        lookups
            .iter()
            .map(|(k, f)| resolve_one(db, now, touch, k, f.as_deref()))
            .collect()
    };
    let by = if plan.opts.by.is_some() && !plan.opts.dontsort {
        let targets = plan.by_targets();
        let resolved = resolve(lookups_of(&targets));
        let elems: Vec<&Bytes> = plan.elems.iter().collect();
        Some(fill(&targets, &elems, resolved))
    } else {
        None
    };
    plan.sort(by)?;
    let (targets, elems) = plan.get_targets();
    let resolved = resolve(lookups_of(&targets));
    let gets = fill(&targets, &elems, resolved);
    let items = plan.output(gets);
    let (reply, stored) = finish(&plan, items, th)?;
    let mut event = None;
    if let (Some(value), Some(dst)) = (stored, &plan.opts.store) {
        event = store(db, dst, value, now);
    }
    Ok((reply, event))
}

/// Resolves pattern lookups on the shards owning them, one message per
/// shard, keeping the order of `lookups`.
async fn resolve_tx(
    tx: &crate::dispatch::Frozen,
    nshards: usize,
    db: usize,
    touch: bool,
    lookups: Vec<Lookup>,
) -> CmdResult<Vec<Option<Bytes>>> {
    let mut out: Vec<Option<Bytes>> = vec![None; lookups.len()];
    let mut by_shard: Vec<Vec<(usize, Lookup)>> = vec![Vec::new(); nshards];
    for (i, l) in lookups.into_iter().enumerate() {
        by_shard[shard_of(&l.0, nshards)].push((i, l));
    }
    for (s, batch) in by_shard.into_iter().enumerate() {
        if batch.is_empty() {
            continue;
        }
        let found = tx
            .run(s, move |env: &mut ShardEnv| {
                let now = env.shard.now_ms();
                let d = &mut env.shard.dbs[db];
                batch
                    .into_iter()
                    .map(|(i, (k, f))| (i, resolve_one(d, now, touch, &k, f.as_deref())))
                    .collect::<Vec<_>>()
            })
            .await
            .ok_or_else(|| CmdError::msg("ERR server is shutting down"))?;
        for (i, v) in found {
            out[i] = v;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Glue to the list, sorted-set and hash types
// ---------------------------------------------------------------------------

/// The accessors SORT needs from other families' types.
///
/// WIRING NEEDED after the list/zset/hash merges: these bodies are written
/// for the skeleton types, which hold nothing. Replace each with the real
/// operation (see the doc comments).
mod glue {
    use bytes::Bytes;
    use storage::types::hash::Hash;
    use storage::types::list::List;
    use storage::types::zset::ZSet;
    use storage::types::Thresholds;
    use storage::{CmdResult, Value};

    /// The list's elements, head to tail.
    pub fn list_items(l: &List) -> Vec<Bytes> {
        l.iter().map(Bytes::copy_from_slice).collect()
    }

    /// The sorted set's members by rank (ascending score). Redis's SORT
    /// also converts a listpack sorted set to a skiplist here
    /// (`zsetConvert(sortval, OBJ_ENCODING_SKIPLIST)`), visible in OBJECT
    /// ENCODING, so this takes `&mut`.
    pub fn zset_items_for_sort(z: &mut ZSet) -> Vec<Bytes> {
        z.convert_to_skiplist();
        z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect()
    }

    /// The value of `field` in the hash; a field whose deadline has passed
    /// counts as missing, as in Redis's hashTypeGetValue.
    pub fn hash_get(h: &Hash, field: &[u8]) -> Option<Bytes> {
        let (v, deadline) = h.get(field)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        if deadline != 0 && deadline <= now {
            return None;
        }
        Some(v.to_bytes())
    }

    /// A list value holding `items` (head to tail), encoded as Redis's
    /// listTypeTryConversion would (listpack or quicklist by
    /// list-max-listpack-size).
    pub fn make_list(items: Vec<Bytes>, th: &Thresholds) -> CmdResult<Value> {
        let list = List::from_items(items.iter().map(|b| &b[..]), th.list_max_listpack_size);
        Ok(Value::List(Box::new(list)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn patterns_substitute_like_redis() {
        assert_eq!(pattern_target(b"#", b"x"), Target::Itself);
        assert_eq!(pattern_target(b"nostar", b"x"), Target::Nothing);
        assert_eq!(
            pattern_target(b"w_*", b"x"),
            Target::Key {
                key: b"w_x".to_vec(),
                field: None
            }
        );
        assert_eq!(
            pattern_target(b"h_*_t->f", b"x"),
            Target::Key {
                key: b"h_x_t".to_vec(),
                field: Some(b"f".to_vec())
            }
        );
        // "->" with nothing after it is part of the key name.
        assert_eq!(
            pattern_target(b"h_*->", b"x"),
            Target::Key {
                key: b"h_x->".to_vec(),
                field: None
            }
        );
        // "->" before the '*' does not count.
        assert_eq!(
            pattern_target(b"a->b*", b"x"),
            Target::Key {
                key: b"a->bx".to_vec(),
                field: None
            }
        );
    }

    #[test]
    fn scores_follow_strtod() {
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b" 5"), Some(5.0));
        assert_eq!(sort_score(b"0x10"), Some(16.0));
        assert_eq!(sort_score(b"1\x00junk"), Some(1.0));
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(sort_score(b"5 "), None);
        assert_eq!(sort_score(b" "), None);
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"1e400"), None);
        assert_eq!(sort_score(b"1e-310"), None);
        assert_eq!(sort_score(b"abc"), None);
    }

    #[test]
    fn limits_are_clamped() {
        let opts = |s: i64, c: i64| SortOpts {
            desc: false,
            alpha: false,
            limit_start: s,
            limit_count: c,
            store: None,
            by: None,
            dontsort: false,
            gets: Vec::new(),
        };
        let src = || Source {
            kind: Kind::Set,
            elems: vec![b("3"), b("1"), b("2")],
        };
        let mut p = Plan::new(opts(1, i64::MAX), src());
        p.sort(None).unwrap();
        assert_eq!(p.range(), &[b("2"), b("3")]);
        let p = Plan::new(opts(i64::MAX, 5), src());
        assert!(p.range().is_empty());
        let p = Plan::new(opts(-5, 0), src());
        assert!(p.range().is_empty());
        let mut p = Plan::new(opts(i64::MIN, -7), src());
        p.sort(None).unwrap();
        assert_eq!(p.range().len(), 3);
    }

    #[test]
    fn sort_keys_finds_the_last_store() {
        let argv: Vec<Bytes> = [
            "sort", "k", "limit", "0", "1", "store", "a", "by", "x", "store", "b",
        ]
        .iter()
        .map(|s| b(s))
        .collect();
        assert_eq!(sort_keys(&argv), Ok(vec![1, 10]));
    }
}
