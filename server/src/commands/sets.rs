//! Set commands (Redis's `t_set.c`): SADD, SREM, SMEMBERS, SISMEMBER,
//! SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE, SINTER, SUNION, SDIFF, their
//! STORE forms, SINTERCARD and SSCAN.
//!
//! The data structure and its encoding rules live in
//! `storage::types::set`; handlers here parse arguments in Redis's order
//! (numbers, then the key's type), run the operation Redis runs (the same
//! sequence of adds and removes, so the result gets the same encoding), and
//! build the reply. Multi-key commands are plain shard handlers: dispatch
//! gathers keys from several shards into one.

use crate::command::args::{is, Args};
use crate::command::flags::*;
use crate::command::{
    row, BeginSearch, CommandSpec, Exec, FindKeys, KeySpec, Keys, ShardCtx, ALL_KEYS, KEY1, KEY1_2,
};
use crate::commands::keys::parse_scan_cursor;
use crate::config::notify::{GENERIC, SET};
use bytes::Bytes;
use storage::glob::glob_match;
use storage::types::set::{distinct_positions, Member, Set};
use storage::{CmdError, CmdResult, Reply, Value};

const fn ks(flags: &'static [&'static str], index: i32, lastkey: i32) -> KeySpec {
    KeySpec {
        notes: "",
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::Range {
            lastkey,
            keystep: 1,
            limit: 0,
        },
    }
}

const RW_INSERT: &[KeySpec] = &[ks(&["RW", "insert"], 1, 0)];
const RW_DELETE: &[KeySpec] = &[ks(&["RW", "delete"], 1, 0)];
const RW_ACCESS_DELETE: &[KeySpec] = &[ks(&["RW", "access", "delete"], 1, 0)];
const RO_ACCESS: &[KeySpec] = &[ks(&["RO", "access"], 1, 0)];
const RO: &[KeySpec] = &[ks(&["RO"], 1, 0)];
const RO_ACCESS_ALL: &[KeySpec] = &[ks(&["RO", "access"], 1, -1)];
const STORE_SPECS: &[KeySpec] = &[ks(&["OW", "update"], 1, 0), ks(&["RO", "access"], 2, -1)];
const SMOVE_SPECS: &[KeySpec] = &[
    ks(&["RW", "access", "delete"], 1, 0),
    ks(&["RW", "insert"], 2, 0),
];
const SINTERCARD_SPECS: &[KeySpec] = &[KeySpec {
    notes: "",
    flags: &["RO", "access"],
    begin: BeginSearch::Index(1),
    find: FindKeys::KeyNum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
}];

const ORDER_TIP: &[&str] = &["nondeterministic_output_order"];
const OUTPUT_TIP: &[&str] = &["nondeterministic_output"];
const MULTI_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";
const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";

/// The set family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("sadd", -3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(sadd))
        .acl(&["write", "set", "fast"])
        .key_specs(RW_INSERT)
        .doc(
            "set",
            "1.0.0",
            "Adds one or more members to a set. Creates the key if it doesn't exist.",
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        ),
    row("srem", -3, WRITE | FAST, KEY1, Exec::Shard(srem))
        .acl(&["write", "set", "fast"])
        .key_specs(RW_DELETE)
        .doc(
            "set",
            "1.0.0",
            "Removes one or more members from a set. Deletes the set if the last member was removed.",
            "O(N) where N is the number of members to be removed.",
        ),
    row("smembers", 2, READONLY, KEY1, Exec::Shard(smembers))
        .acl(&["read", "set", "slow"])
        .tips(ORDER_TIP)
        .key_specs(RO_ACCESS)
        .doc(
            "set",
            "1.0.0",
            "Returns all members of a set.",
            "O(N) where N is the set cardinality.",
        ),
    row("sismember", 3, READONLY | FAST, KEY1, Exec::Shard(sismember))
        .acl(&["read", "set", "fast"])
        .key_specs(RO)
        .doc(
            "set",
            "1.0.0",
            "Determines whether a member belongs to a set.",
            "O(1)",
        ),
    row("smismember", -3, READONLY | FAST, KEY1, Exec::Shard(smismember))
        .acl(&["read", "set", "fast"])
        .key_specs(RO_ACCESS)
        .doc(
            "set",
            "6.2.0",
            "Determines whether multiple members belong to a set.",
            "O(N) where N is the number of elements being checked for membership",
        ),
    row("scard", 2, READONLY | FAST, KEY1, Exec::Shard(scard))
        .acl(&["read", "set", "fast"])
        .key_specs(RO)
        .doc(
            "set",
            "1.0.0",
            "Returns the number of members in a set.",
            "O(1)",
        ),
    row("spop", -2, WRITE | FAST, KEY1, Exec::Shard(spop))
        .acl(&["write", "set", "fast"])
        .tips(OUTPUT_TIP)
        .key_specs(RW_ACCESS_DELETE)
        .doc(
            "set",
            "1.0.0",
            "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        ),
    row("srandmember", -2, READONLY, KEY1, Exec::Shard(srandmember))
        .acl(&["read", "set", "slow"])
        .tips(OUTPUT_TIP)
        .key_specs(RO_ACCESS)
        .doc(
            "set",
            "1.0.0",
            "Get one or multiple random members from a set",
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        ),
    row("smove", 4, WRITE | FAST, KEY1_2, Exec::Shard(smove))
        .acl(&["write", "set", "fast"])
        .key_specs(SMOVE_SPECS)
        .doc(
            "set",
            "1.0.0",
            "Moves a member from one set to another.",
            "O(1)",
        ),
    row("sinter", -2, READONLY, ALL_KEYS, Exec::Shard(sinter))
        .acl(&["read", "set", "slow"])
        .tips(ORDER_TIP)
        .key_specs(RO_ACCESS_ALL)
        .doc(
            "set",
            "1.0.0",
            "Returns the intersect of multiple sets.",
            INTER_COMPLEXITY,
        ),
    row("sunion", -2, READONLY, ALL_KEYS, Exec::Shard(sunion))
        .acl(&["read", "set", "slow"])
        .tips(ORDER_TIP)
        .key_specs(RO_ACCESS_ALL)
        .doc(
            "set",
            "1.0.0",
            "Returns the union of multiple sets.",
            MULTI_COMPLEXITY,
        ),
    row("sdiff", -2, READONLY, ALL_KEYS, Exec::Shard(sdiff))
        .acl(&["read", "set", "slow"])
        .tips(ORDER_TIP)
        .key_specs(RO_ACCESS_ALL)
        .doc(
            "set",
            "1.0.0",
            "Returns the difference of multiple sets.",
            MULTI_COMPLEXITY,
        ),
    row("sinterstore", -3, WRITE | DENYOOM, ALL_KEYS, Exec::Shard(sinterstore))
        .acl(&["write", "set", "slow"])
        .key_specs(STORE_SPECS)
        .doc(
            "set",
            "1.0.0",
            "Stores the intersect of multiple sets in a key.",
            INTER_COMPLEXITY,
        ),
    row("sunionstore", -3, WRITE | DENYOOM, ALL_KEYS, Exec::Shard(sunionstore))
        .acl(&["write", "set", "slow"])
        .key_specs(STORE_SPECS)
        .doc(
            "set",
            "1.0.0",
            "Stores the union of multiple sets in a key.",
            MULTI_COMPLEXITY,
        ),
    row("sdiffstore", -3, WRITE | DENYOOM, ALL_KEYS, Exec::Shard(sdiffstore))
        .acl(&["write", "set", "slow"])
        .key_specs(STORE_SPECS)
        .doc(
            "set",
            "1.0.0",
            "Stores the difference of multiple sets in a key.",
            MULTI_COMPLEXITY,
        ),
    row(
        "sintercard",
        -3,
        READONLY,
        Keys::Custom(sintercard_keys),
        Exec::Shard(sintercard),
    )
    .acl(&["read", "set", "slow"])
    .key_specs(SINTERCARD_SPECS)
    .doc(
        "set",
        "7.0.0",
        "Returns the number of members of the intersect of multiple sets.",
        INTER_COMPLEXITY,
    ),
    row("sscan", -3, READONLY, KEY1, Exec::Shard(sscan))
        .acl(&["read", "set", "slow"])
        .tips(OUTPUT_TIP)
        .key_specs(RO_ACCESS)
        .doc(
            "set",
            "2.8.0",
            "Iterates over members of a set.",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        ),
];

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

/// The set at `key` for reading: `None` if absent, WRONGTYPE if not a set.
pub fn read_set<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a Set>> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    match ctx.shard.dbs[ctx.db].lookup_read(key, now, touch) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The set at `key` for writing: `None` if absent, WRONGTYPE if not a set.
fn write_set<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a mut Set>> {
    let now = ctx.shard.now_ms();
    match ctx.shard.dbs[ctx.db].lookup_write(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// Deletes `key` (after its set was emptied), with Redis's `del` event.
fn delete(ctx: &mut ShardCtx<'_>, key: &[u8]) {
    ctx.shard.dbs[ctx.db].remove(key);
    ctx.notify(GENERIC, "del", key);
}

fn bulks<'a>(it: impl Iterator<Item = Member<'a>>) -> Vec<Reply> {
    it.map(|m| Reply::Bulk(m.to_bytes())).collect()
}

// ---------------------------------------------------------------------------
// Single-key commands
// ---------------------------------------------------------------------------

/// SADD key member [member ...]
fn sadd(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let th = ctx.limits.thresholds;
    let key = &argv[1];
    let members = &argv[2..];
    if let Some(set) = write_set(ctx, key)? {
        set.maybe_convert(members.len(), &th);
        let added = members.iter().filter(|m| set.add(m, &th)).count();
        if added > 0 {
            ctx.notify(SET, "sadd", key);
        }
        return Ok(Reply::Int(added as i64));
    }
    let mut set = Set::create(&members[0], members.len(), &th);
    let added = members.iter().filter(|m| set.add(m, &th)).count();
    let now = ctx.shard.now_ms();
    ctx.shard.dbs[ctx.db].insert(key, Value::Set(set), now);
    ctx.notify(SET, "sadd", key);
    Ok(Reply::Int(added as i64))
}

/// SREM key member [member ...]
fn srem(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let Some(set) = write_set(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut removed = 0;
    for m in &argv[2..] {
        if set.remove(m) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let empty = set.is_empty();
    if removed > 0 {
        ctx.notify(SET, "srem", key);
    }
    if empty {
        delete(ctx, key);
    }
    Ok(Reply::Int(removed))
}

/// SMEMBERS key
fn smembers(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Set(match read_set(ctx, &argv[1])? {
        Some(set) => bulks(set.iter()),
        None => Vec::new(),
    }))
}

/// SISMEMBER key member
fn sismember(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let found = read_set(ctx, &argv[1])?.is_some_and(|s| s.contains(&argv[2]));
    Ok(Reply::Int(found as i64))
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let set = read_set(ctx, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| Reply::Int(set.is_some_and(|s| s.contains(m)) as i64))
            .collect(),
    ))
}

/// SCARD key
fn scard(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(
        read_set(ctx, &argv[1])?.map_or(0, |s| s.len()) as i64
    ))
}

/// Redis's getPositiveLongFromObjectOrReply with its default message
/// (used for a bad number too).
fn positive_count(arg: &[u8]) -> CmdResult<usize> {
    match storage::numfmt::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(CmdError::NotPositive),
    }
}

/// SPOP key [count]
fn spop(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let key = &argv[1];
    let th = ctx.limits.thresholds;
    if argv.len() == 3 {
        let count = positive_count(&argv[2])?;
        let shard = &mut *ctx.shard;
        let now = shard.now_ms();
        let Some(e) = shard.dbs[ctx.db].lookup_write(key, now) else {
            return Ok(Reply::Set(Vec::new()));
        };
        let Value::Set(set) = &mut e.value else {
            return Err(CmdError::WrongType);
        };
        let popped = set.pop_many(count, &mut shard.rng, &th);
        let empty = set.is_empty();
        if !popped.is_empty() {
            ctx.notify(SET, "spop", key);
        }
        if empty {
            delete(ctx, key);
        }
        return Ok(Reply::Set(popped.into_iter().map(Reply::Bulk).collect()));
    }
    let shard = &mut *ctx.shard;
    let now = shard.now_ms();
    let Some(e) = shard.dbs[ctx.db].lookup_write(key, now) else {
        return Ok(Reply::Nil);
    };
    let Value::Set(set) = &mut e.value else {
        return Err(CmdError::WrongType);
    };
    let popped = set.pop_random(&mut shard.rng);
    let empty = set.is_empty();
    if popped.is_some() {
        ctx.notify(SET, "spop", key);
    }
    if empty {
        delete(ctx, key);
    }
    Ok(popped.map_or(Reply::Nil, Reply::Bulk))
}

/// The largest reply SRANDMEMBER with a negative count builds, in members:
/// Redis streams such a reply into an unbounded output buffer; magpie
/// builds it whole, so a count beyond this answers with an error instead
/// of exhausting memory.
const MAX_RANDOM_REPLY: u64 = 8 * 1024 * 1024;

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let key = &argv[1];
    if argv.len() == 2 {
        let shard = &mut *ctx.shard;
        let now = shard.now_ms();
        let Some(e) = shard.dbs[ctx.db].lookup_read(key, now, ctx.touch) else {
            return Ok(Reply::Nil);
        };
        let Value::Set(set) = &e.value else {
            return Err(CmdError::WrongType);
        };
        return Ok(set
            .random(&mut shard.rng)
            .map_or(Reply::Nil, |m| Reply::Bulk(m.to_bytes())));
    }
    let l = storage::numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    if l == i64::MIN {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    let shard = &mut *ctx.shard;
    let now = shard.now_ms();
    let Some(e) = shard.dbs[ctx.db].lookup_read(key, now, ctx.touch) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Value::Set(set) = &e.value else {
        return Err(CmdError::WrongType);
    };
    let size = set.len();
    if count == 0 || size == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let rng = &mut shard.rng;
    if !uniq || count == 1 {
        // Independent picks, repeats allowed.
        if count > MAX_RANDOM_REPLY {
            return Err(CmdError::msg(
                "ERR count is too large for one reply (at most 8388608 random members)",
            ));
        }
        let picks: Vec<usize> = (0..count)
            .map(|_| rand::Rng::random_range(&mut *rng, 0..size))
            .collect();
        return Ok(Reply::Array(
            set.members_at(&picks)
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        ));
    }
    if count >= size as u64 {
        return Ok(Reply::Array(bulks(set.iter())));
    }
    let picks = distinct_positions(size, count as usize, rng);
    Ok(Reply::Array(
        set.members_at(&picks)
            .into_iter()
            .map(Reply::Bulk)
            .collect(),
    ))
}

/// SMOVE source destination member
fn smove(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let th = ctx.limits.thresholds;
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let src_found = match db.lookup_write(src, now) {
        None => return Ok(Reply::Int(0)),
        Some(e) => matches!(e.value, Value::Set(_)),
    };
    let dst_type_ok = db
        .lookup_write(dst, now)
        .is_none_or(|e| matches!(e.value, Value::Set(_)));
    if !src_found || !dst_type_ok {
        return Err(CmdError::WrongType);
    }
    if src == dst {
        let found = write_set(ctx, src)?.is_some_and(|s| s.contains(member));
        return Ok(Reply::Int(found as i64));
    }
    let Some(set) = write_set(ctx, src)? else {
        return Ok(Reply::Int(0));
    };
    if !set.remove(member) {
        return Ok(Reply::Int(0));
    }
    let empty = set.is_empty();
    ctx.notify(SET, "srem", src);
    if empty {
        delete(ctx, src);
    }
    let added = match write_set(ctx, dst)? {
        Some(set) => set.add(member, &th),
        None => {
            let mut set = Set::create(member, 1, &th);
            set.add(member, &th);
            ctx.shard.dbs[ctx.db].insert(dst, Value::Set(set), now);
            true
        }
    };
    if added {
        ctx.notify(SET, "sadd", dst);
    }
    Ok(Reply::Int(1))
}

// ---------------------------------------------------------------------------
// Intersection, union, difference
// ---------------------------------------------------------------------------

/// Reads `keys` as sets (missing keys as `None`), failing on the first of
/// the wrong type, as Redis's loops do: each key gets its read lookup
/// (expiry, statistics, access time), then all are borrowed together.
fn load_sets<'a>(ctx: &'a mut ShardCtx<'_>, keys: &[Bytes]) -> CmdResult<Vec<Option<&'a Set>>> {
    for k in keys {
        read_set(ctx, k)?;
    }
    let now = ctx.shard.now_ms();
    let db = &ctx.shard.dbs[ctx.db];
    Ok(keys
        .iter()
        .map(|k| match db.get_live(k, now).map(|e| &e.value) {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        })
        .collect())
}

/// What an intersection produces.
enum InterOut {
    /// The members, for SINTER.
    Reply,
    /// The number of members, stopping at `limit` (0: none), for SINTERCARD.
    Card(usize),
    /// A set to store, for SINTERSTORE.
    Store,
}

/// Redis's sinterGenericCommand. Returns the reply and, for `Store`, the
/// result set (`None` when empty).
fn sinter_generic(
    ctx: &mut ShardCtx<'_>,
    keys: &[Bytes],
    out: InterOut,
) -> CmdResult<(Reply, Option<Set>)> {
    let th = ctx.limits.thresholds;
    let loaded = load_sets(ctx, keys)?;
    if loaded.iter().any(|s| s.is_none()) {
        return Ok(match out {
            InterOut::Reply => (Reply::Set(Vec::new()), None),
            InterOut::Card(_) | InterOut::Store => (Reply::Int(0), None),
        });
    }
    let mut sets: Vec<&Set> = loaded.into_iter().flatten().collect();
    // Smallest first (a stable sort, like the order Redis's qsort gives
    // equal sizes on these inputs doesn't matter for the result).
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().ok_or(CmdError::Syntax)?;
    let first: &Set = first;
    let common = first
        .iter()
        .filter(|m| rest.iter().all(|s| s.contains_member(*m)));
    match out {
        InterOut::Reply => Ok((Reply::Set(bulks(common)), None)),
        InterOut::Card(limit) => {
            let mut n = 0usize;
            for _ in common {
                n += 1;
                if limit != 0 && n >= limit {
                    break;
                }
            }
            Ok((Reply::Int(n as i64), None))
        }
        InterOut::Store => {
            let mut dst = if first.encoding() == "intset" {
                Set::new_intset()
            } else {
                Set::new_listpack()
            };
            let mut only_integers = true;
            for m in common {
                if only_integers && m.as_int().is_none() {
                    only_integers = false;
                }
                dst.add_member(m, &th);
            }
            if dst.is_empty() {
                return Ok((Reply::Int(0), None));
            }
            if only_integers {
                dst.convert_to_intset_if_fits(&th);
            }
            Ok((Reply::Int(dst.len() as i64), Some(dst)))
        }
    }
}

/// Stores a STORE command's result: the set (event `event`), or a
/// deletion when empty (`del`, if there was something to delete).
fn store_result(ctx: &mut ShardCtx<'_>, dst: &[u8], set: Option<Set>, event: &str) {
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    match set {
        Some(s) if !s.is_empty() => {
            db.insert(dst, Value::Set(s), now);
            ctx.notify(SET, event, dst);
        }
        _ => {
            if db.remove(dst).is_some() {
                ctx.notify(GENERIC, "del", dst);
            }
        }
    }
}

/// SINTER key [key ...]
fn sinter(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(sinter_generic(ctx, &argv[1..], InterOut::Reply)?.0)
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (reply, set) = sinter_generic(ctx, &argv[2..], InterOut::Store)?;
    store_result(ctx, &argv[1], set, "sinterstore");
    Ok(reply)
}

/// The key positions of SINTERCARD, with Redis's errors for numkeys.
fn sintercard_keys(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    let n = sintercard_numkeys(argv).map_err(|e| match e {
        CmdError::Other(std::borrow::Cow::Borrowed(s)) => s,
        _ => "ERR syntax error",
    })?;
    Ok((2..2 + n).collect())
}

fn sintercard_numkeys(argv: &[Bytes]) -> CmdResult<usize> {
    let n = argv
        .get(1)
        .and_then(|a| storage::numfmt::parse_i64(a))
        .filter(|&n| n >= 1)
        .ok_or(CmdError::msg("ERR numkeys should be greater than 0"))?;
    if n > argv.len() as i64 - 2 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let n = sintercard_numkeys(argv)?;
    let mut limit = 0usize;
    let mut args = Args::at(argv, 2 + n);
    while let Some(opt) = args.peek() {
        let more = args.remaining() >= 2;
        args.bytes()?;
        if is(opt, "limit") && more {
            limit = match storage::numfmt::parse_i64(args.bytes()?) {
                Some(l) if l >= 0 => usize::try_from(l).unwrap_or(usize::MAX),
                _ => return Err(CmdError::msg("ERR LIMIT can't be negative")),
            };
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(sinter_generic(ctx, &argv[2..2 + n], InterOut::Card(limit))?.0)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// Redis's sunionDiffGenericCommand: the result set, built by the same
/// sequence of adds and removes as Redis (so it ends in the same encoding).
fn sunion_diff(ctx: &mut ShardCtx<'_>, keys: &[Bytes], op: SetOp) -> CmdResult<Set> {
    let th = ctx.limits.thresholds;
    let mut sets = load_sets(ctx, keys)?;
    // Same key as the first one among the others: an empty difference.
    let sameset = sets[0].is_some() && keys[1..].iter().any(|k| *k == keys[0]);
    let mut dst = Set::new_intset();
    match op {
        SetOp::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    dst.add_member(m, &th);
                }
            }
        }
        SetOp::Diff if sameset || sets[0].is_none() => {}
        SetOp::Diff => {
            // Redis picks the algorithm by estimated work.
            let first_len = sets[0].as_ref().map_or(0, |s| s.len());
            let mut one = 0u64;
            let mut two = 0u64;
            for s in sets.iter().flatten() {
                one += first_len as u64;
                two += s.len() as u64;
            }
            one /= 2;
            if one <= two {
                // Algorithm 1: each member of the first set missing from all
                // the others (largest others first, to fail fast).
                if sets.len() > 1 {
                    sets[1..].sort_by_key(|s| std::cmp::Reverse(s.as_ref().map_or(0, |s| s.len())));
                }
                let (first, rest) = sets.split_first().ok_or(CmdError::Syntax)?;
                if let Some(first) = first {
                    for m in first.iter() {
                        if !rest.iter().flatten().any(|s| s.contains_member(m)) {
                            dst.add_member(m, &th);
                        }
                    }
                }
            } else {
                // Algorithm 2: add the first set, remove the others.
                for (j, s) in sets.iter().enumerate() {
                    let Some(s) = s else { continue };
                    for m in s.iter() {
                        if j == 0 {
                            dst.add_member(m, &th);
                        } else {
                            dst.remove_member(m);
                        }
                    }
                    if dst.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    Ok(dst)
}

/// SUNION key [key ...]
fn sunion(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let s = sunion_diff(ctx, &argv[1..], SetOp::Union)?;
    Ok(Reply::Set(bulks(s.iter())))
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let s = sunion_diff(ctx, &argv[1..], SetOp::Diff)?;
    Ok(Reply::Set(bulks(s.iter())))
}

fn store_op(ctx: &mut ShardCtx<'_>, argv: &[Bytes], op: SetOp) -> CmdResult<Reply> {
    let s = sunion_diff(ctx, &argv[2..], op)?;
    let n = s.len();
    let event = match op {
        SetOp::Union => "sunionstore",
        SetOp::Diff => "sdiffstore",
    };
    store_result(ctx, &argv[1], Some(s), event);
    Ok(Reply::Int(n as i64))
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    store_op(ctx, argv, SetOp::Union)
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    store_op(ctx, argv, SetOp::Diff)
}

// ---------------------------------------------------------------------------
// SSCAN
// ---------------------------------------------------------------------------

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let cursor = parse_scan_cursor(&argv[2]).ok_or(CmdError::msg("ERR invalid cursor"))?;
    let Some(set) = read_set(ctx, &argv[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let mut count = 10usize;
    let mut pattern: Option<&Bytes> = None;
    let mut args = Args::at(argv, 3);
    while let Some(opt) = args.peek() {
        let has_value = args.remaining() >= 2;
        args.bytes()?;
        if is(opt, "count") && has_value {
            let n = args.i64()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(opt, "match") && has_value {
            let p = args.bytes()?;
            pattern = (p.as_ref() != b"*").then_some(p);
        } else if is(opt, "novalues") {
            return Err(CmdError::msg(
                "ERR NOVALUES option can only be used in HSCAN",
            ));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    let next = set.scan(cursor, count, |m| {
        scratch.clear();
        m.write_to(&mut scratch);
        if pattern.is_none_or(|p| glob_match(p, &scratch, false)) {
            out.push(Reply::Bulk(Bytes::copy_from_slice(&scratch)));
        }
    });
    Ok(scan_reply(next, out))
}

fn scan_reply(cursor: u64, members: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(members),
    ])
}
