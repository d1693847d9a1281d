//! Sorted-set commands (Redis's `t_zset.c`).
//!
//! Every range command reduces to a rank interval of the zset
//! ([`ZSet::count_before`] finds range ends in O(log n) on a skiplist),
//! then walks elements from there. Checks run in Redis's order: option
//! syntax and numbers first, then the key's type.
//!
//! Replies with scores use `Reply::Double` (7.4's shortest round-trip text,
//! a bulk string in RESP2) and `Reply::Pairs` for member/score lists, which
//! are flat in RESP2 and nested pairs in RESP3, as Redis does.

use crate::blocking::{self, BlockRequest, Served};
use crate::command::args::is;
use crate::command::flags::*;
use crate::command::{
    row, BeginSearch, CmdFuture, CommandSpec, Exec, FindKeys, KeySpec, Keys, ShardCtx, ShardFn,
    KEY1, KEY1_2,
};
use crate::commands::keys::parse_scan_cursor;
use crate::commands::list::parse_timeout;
use crate::config::notify::{GENERIC, ZSET};
use crate::conn::ConnCtx;
use bytes::Bytes;
use rand::Rng;
use std::borrow::Cow;
use std::sync::Arc;
use storage::numfmt;
use storage::types::set::Set;
use storage::types::zset::{AddFlags, AddOutcome, LexBound, LexRange, ScoreRange, ZSet};
use storage::types::Thresholds;
use storage::{CmdError, CmdResult, Reply, Value};

// ---------------------------------------------------------------------------
// key positions
// ---------------------------------------------------------------------------

/// Keys after a count at `at`; a bad count yields none so the handler
/// answers with Redis's own error.
fn numkeys_at(argv: &[Bytes], at: usize) -> Vec<usize> {
    match argv.get(at).and_then(|b| numfmt::parse_i64(b)) {
        Some(n) if n > 0 && (n as usize) <= argv.len().saturating_sub(at + 1) => {
            ((at + 1)..(at + 1 + n as usize)).collect()
        }
        _ => Vec::new(),
    }
}

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD, ZMPOP: `numkeys key ...` at 1.
fn keys_numkeys1(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    Ok(numkeys_at(argv, 1))
}

/// BZMPOP: `numkeys key ...` at 2.
fn keys_numkeys2(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    Ok(numkeys_at(argv, 2))
}

/// BZPOPMIN / BZPOPMAX: every argument but the first and the last is a key.
const BZPOP_KEYS: Keys = Keys::Range {
    first: 1,
    last: -2,
    step: 1,
};

/// The *STORE forms: destination at 1, `numkeys key ...` at 2.
fn keys_store(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    let mut v = vec![1];
    v.extend(numkeys_at(argv, 2));
    Ok(v)
}

const RO: &[&str] = &["RO", "access"];
const RW_UPD: &[&str] = &["RW", "update"];
const RW_ACC_UPD: &[&str] = &["RW", "access", "update"];
const RW_DEL: &[&str] = &["RW", "delete"];
const RW_ACC_DEL: &[&str] = &["RW", "access", "delete"];
const OW_UPD: &[&str] = &["OW", "update"];

const fn spec1(flags: &'static [&'static str], index: i32) -> KeySpec {
    KeySpec {
        notes: "",
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::Range {
            lastkey: 0,
            keystep: 1,
            limit: 0,
        },
    }
}

const fn spec_numkeys(flags: &'static [&'static str], index: i32) -> KeySpec {
    KeySpec {
        notes: "",
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::KeyNum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 1,
        },
    }
}

const SPEC_RO: &[KeySpec] = &[spec1(RO, 1)];
const SPEC_RO_ONLY: &[KeySpec] = &[spec1(&["RO"], 1)];
const SPEC_RW_UPD: &[KeySpec] = &[spec1(RW_UPD, 1)];
const SPEC_RW_ACC_UPD: &[KeySpec] = &[spec1(RW_ACC_UPD, 1)];
const SPEC_RW_DEL: &[KeySpec] = &[spec1(RW_DEL, 1)];
const SPEC_RW_ACC_DEL: &[KeySpec] = &[spec1(RW_ACC_DEL, 1)];
const SPEC_STORE: &[KeySpec] = &[spec1(OW_UPD, 1), spec_numkeys(RO, 2)];
const SPEC_NUMKEYS_RO: &[KeySpec] = &[spec_numkeys(RO, 1)];
const SPEC_ZMPOP: &[KeySpec] = &[spec_numkeys(RW_ACC_DEL, 1)];
const SPEC_BZMPOP: &[KeySpec] = &[spec_numkeys(RW_ACC_DEL, 2)];
const SPEC_BZPOP: &[KeySpec] = &[KeySpec {
    notes: "",
    flags: RW_ACC_DEL,
    begin: BeginSearch::Index(1),
    find: FindKeys::Range {
        lastkey: -2,
        keystep: 1,
        limit: 0,
    },
}];
const SPEC_RANGESTORE: &[KeySpec] = &[spec1(OW_UPD, 1), spec1(RO, 2)];

const READ_FAST: &[&str] = &["read", "sortedset", "fast"];
const READ_SLOW: &[&str] = &["read", "sortedset", "slow"];
const WRITE_FAST: &[&str] = &["write", "sortedset", "fast"];
const WRITE_SLOW: &[&str] = &["write", "sortedset", "slow"];
const BLOCK_FAST: &[&str] = &["write", "sortedset", "fast", "blocking"];
const BLOCK_SLOW: &[&str] = &["write", "sortedset", "slow", "blocking"];
const TIMEOUT_DOUBLE: &[(&str, &str)] = &[(
    "6.0.0",
    "`timeout` is interpreted as a double instead of an integer.",
)];

const G: &str = "sorted-set";
const LOGN: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMRANGE: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";

/// The sorted-set family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("zadd", -4, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(zadd))
        .acl(WRITE_FAST)
        .key_specs(SPEC_RW_UPD)
        .doc(G, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    row("zincrby", 4, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(zincrby))
        .acl(WRITE_FAST)
        .key_specs(SPEC_RW_ACC_UPD)
        .doc(G, "1.2.0", "Increment the score of a member in a sorted set", "O(log(N)) where N is the number of elements in the sorted set."),
    row("zscore", 3, READONLY | FAST, KEY1, Exec::Shard(zscore))
        .acl(READ_FAST)
        .key_specs(SPEC_RO)
        .doc(G, "1.2.0", "Get the score associated with the given member in a sorted set", "O(1)"),
    row("zmscore", -3, READONLY | FAST, KEY1, Exec::Shard(zmscore))
        .acl(READ_FAST)
        .key_specs(SPEC_RO)
        .doc(G, "6.2.0", "Get the score associated with the given members in a sorted set", "O(N) where N is the number of members being requested."),
    row("zcard", 2, READONLY | FAST, KEY1, Exec::Shard(zcard))
        .acl(READ_FAST)
        .key_specs(SPEC_RO_ONLY)
        .doc(G, "1.2.0", "Get the number of members in a sorted set", "O(1)"),
    row("zcount", 4, READONLY | FAST, KEY1, Exec::Shard(zcount))
        .acl(READ_FAST)
        .key_specs(SPEC_RO)
        .doc(G, "2.0.0", "Count the members in a sorted set with scores within the given values", "O(log(N)) with N being the number of elements in the sorted set."),
    row("zlexcount", 4, READONLY | FAST, KEY1, Exec::Shard(zlexcount))
        .acl(READ_FAST)
        .key_specs(SPEC_RO)
        .doc(G, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", "O(log(N)) with N being the number of elements in the sorted set."),
    row("zrange", -4, READONLY, KEY1, Exec::Shard(zrange))
        .acl(READ_SLOW)
        .key_specs(SPEC_RO)
        .doc(G, "1.2.0", "Return a range of members in a sorted set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    row("zrangebyscore", -4, READONLY, KEY1, Exec::Shard(zrangebyscore))
        .acl(READ_SLOW)
        .key_specs(SPEC_RO)
        .doc(G, "1.0.5", "Return a range of members in a sorted set, by score", LOGN),
    row("zrevrangebyscore", -4, READONLY, KEY1, Exec::Shard(zrevrangebyscore))
        .acl(READ_SLOW)
        .key_specs(SPEC_RO)
        .doc(G, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", LOGN),
    row("zrangebylex", -4, READONLY, KEY1, Exec::Shard(zrangebylex))
        .acl(READ_SLOW)
        .key_specs(SPEC_RO)
        .doc(G, "2.8.9", "Return a range of members in a sorted set, by lexicographical range", LOGN),
    row("zrevrangebylex", -4, READONLY, KEY1, Exec::Shard(zrevrangebylex))
        .acl(READ_SLOW)
        .key_specs(SPEC_RO)
        .doc(G, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", LOGN),
    row("zrevrange", -4, READONLY, KEY1, Exec::Shard(zrevrange))
        .acl(READ_SLOW)
        .key_specs(SPEC_RO)
        .doc(G, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    row("zrangestore", -5, WRITE | DENYOOM, KEY1_2, Exec::Shard(zrangestore))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_RANGESTORE)
        .doc(G, "6.2.0", "Store a range of members from sorted set into another key", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    row("zrank", -3, READONLY | FAST, KEY1, Exec::Shard(zrank))
        .acl(READ_FAST)
        .key_specs(SPEC_RO)
        .doc(G, "2.0.0", "Determine the index of a member in a sorted set", "O(log(N))"),
    row("zrevrank", -3, READONLY | FAST, KEY1, Exec::Shard(zrevrank))
        .acl(READ_FAST)
        .key_specs(SPEC_RO)
        .doc(G, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "O(log(N))"),
    row("zrem", -3, WRITE | FAST, KEY1, Exec::Shard(zrem))
        .acl(WRITE_FAST)
        .key_specs(SPEC_RW_DEL)
        .doc(G, "1.2.0", "Remove one or more members from a sorted set", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    row("zremrangebyrank", 4, WRITE, KEY1, Exec::Shard(zremrangebyrank))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_RW_DEL)
        .doc(G, "2.0.0", "Remove all members in a sorted set within the given indexes", REMRANGE),
    row("zremrangebyscore", 4, WRITE, KEY1, Exec::Shard(zremrangebyscore))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_RW_DEL)
        .doc(G, "1.2.0", "Remove all members in a sorted set within the given scores", REMRANGE),
    row("zremrangebylex", 4, WRITE, KEY1, Exec::Shard(zremrangebylex))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_RW_DEL)
        .doc(G, "2.8.9", "Remove all members in a sorted set between the given lexicographical range", REMRANGE),
    row("zpopmin", -2, WRITE | FAST, KEY1, Exec::Shard(zpopmin))
        .acl(WRITE_FAST)
        .key_specs(SPEC_RW_ACC_DEL)
        .doc(G, "5.0.0", "Remove and return members with the lowest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    row("zpopmax", -2, WRITE | FAST, KEY1, Exec::Shard(zpopmax))
        .acl(WRITE_FAST)
        .key_specs(SPEC_RW_ACC_DEL)
        .doc(G, "5.0.0", "Remove and return members with the highest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    row("zmpop", -4, WRITE, Keys::Custom(keys_numkeys1), Exec::Shard(zmpop))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_ZMPOP)
        .doc(G, "7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    row("bzpopmin", -3, WRITE | BLOCKING | FAST, BZPOP_KEYS, Exec::Coord(bzpopmin))
        .acl(BLOCK_FAST)
        .key_specs(SPEC_BZPOP)
        .history(TIMEOUT_DOUBLE)
        .doc(G, "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set."),
    row("bzpopmax", -3, WRITE | BLOCKING | FAST, BZPOP_KEYS, Exec::Coord(bzpopmax))
        .acl(BLOCK_FAST)
        .key_specs(SPEC_BZPOP)
        .history(TIMEOUT_DOUBLE)
        .doc(G, "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set."),
    row("bzmpop", -5, WRITE | BLOCKING, Keys::Custom(keys_numkeys2), Exec::Coord(bzmpop))
        .acl(BLOCK_SLOW)
        .key_specs(SPEC_BZMPOP)
        .doc(G, "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    row("zunion", -3, READONLY, Keys::Custom(keys_numkeys1), Exec::Shard(zunion))
        .acl(READ_SLOW)
        .key_specs(SPEC_NUMKEYS_RO)
        .doc(G, "6.2.0", "Add multiple sorted sets", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    row("zinter", -3, READONLY, Keys::Custom(keys_numkeys1), Exec::Shard(zinter))
        .acl(READ_SLOW)
        .key_specs(SPEC_NUMKEYS_RO)
        .doc(G, "6.2.0", "Intersect multiple sorted sets", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    row("zdiff", -3, READONLY, Keys::Custom(keys_numkeys1), Exec::Shard(zdiff))
        .acl(READ_SLOW)
        .key_specs(SPEC_NUMKEYS_RO)
        .doc(G, "6.2.0", "Subtract multiple sorted sets", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    row("zunionstore", -4, WRITE | DENYOOM, Keys::Custom(keys_store), Exec::Shard(zunionstore))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_STORE)
        .doc(G, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    row("zinterstore", -4, WRITE | DENYOOM, Keys::Custom(keys_store), Exec::Shard(zinterstore))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_STORE)
        .doc(G, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    row("zdiffstore", -4, WRITE | DENYOOM, Keys::Custom(keys_store), Exec::Shard(zdiffstore))
        .acl(WRITE_SLOW)
        .key_specs(SPEC_STORE)
        .doc(G, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    row("zintercard", -3, READONLY, Keys::Custom(keys_numkeys1), Exec::Shard(zintercard))
        .acl(READ_SLOW)
        .key_specs(SPEC_NUMKEYS_RO)
        .doc(G, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    row("zrandmember", -2, READONLY, KEY1, Exec::Shard(zrandmember))
        .acl(READ_SLOW)
        .tips(&["nondeterministic_output"])
        .key_specs(SPEC_RO)
        .doc(G, "6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned"),
    row("zscan", -3, READONLY, KEY1, Exec::Shard(zscan))
        .acl(READ_SLOW)
        .tips(&["nondeterministic_output"])
        .key_specs(SPEC_RO)
        .doc(G, "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];

// ---------------------------------------------------------------------------
// access helpers
// ---------------------------------------------------------------------------

fn th(ctx: &ShardCtx<'_>) -> Thresholds {
    ctx.limits.thresholds
}

/// The zset at `key` for reading: `None` if absent, WRONGTYPE otherwise.
fn read_zset<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a ZSet>> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    match ctx.shard.dbs[ctx.db].lookup_read(key, now, touch) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The zset at `key` for writing.
fn write_zset<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a mut ZSet>> {
    let now = ctx.shard.now_ms();
    match ctx.shard.dbs[ctx.db].lookup_write(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// Deletes `key` when its zset became empty.
fn drop_if_empty(ctx: &mut ShardCtx<'_>, key: &[u8], empty: bool) {
    if empty {
        ctx.shard.dbs[ctx.db].remove(key);
        ctx.notify(GENERIC, "del", key);
    }
}

/// Stores a result zset (replacing any value and TTL), or deletes the key
/// when the result is empty. Returns the result's size.
/// `event` is the command's keyspace event (`del` when it deletes).
fn store(ctx: &mut ShardCtx<'_>, key: &[u8], entries: &[(Bytes, f64)], event: &str) -> i64 {
    let now = ctx.shard.now_ms();
    let t = th(ctx);
    let db = &mut ctx.shard.dbs[ctx.db];
    if entries.is_empty() {
        if db.remove(key).is_some() {
            ctx.notify(GENERIC, "del", key);
        }
    } else {
        db.insert(
            key,
            Value::ZSet(Box::new(ZSet::from_sorted(entries, &t))),
            now,
        );
        ctx.notify(ZSET, event, key);
    }
    entries.len() as i64
}

fn err(s: &'static str) -> CmdError {
    CmdError::msg(s)
}

fn bulk(m: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(m))
}

/// Members, with their scores when asked (pairs in RESP3).
fn entries_reply(entries: Vec<(Bytes, f64)>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            entries
                .into_iter()
                .map(|(m, s)| (Reply::Bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        Reply::Array(entries.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    }
}

/// The part of an argument C code sees (up to the first NUL).
fn c_str(a: &[u8]) -> &[u8] {
    match a.iter().position(|&b| b == 0) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// `strtod` over the whole C string, as zslParseRange uses it: leading
/// whitespace allowed, overflow gives ±inf, the empty string is 0.
fn strtod_full(a: &[u8]) -> Option<f64> {
    let s = c_str(a);
    if s.is_empty() {
        return Some(0.0);
    }
    let t = match s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        Some(i) => &s[i..],
        None => return None,
    };
    if let Some(v) = numfmt::parse_f64(t) {
        return Some(v);
    }
    numfmt::parse_long_double(t).filter(|v| !v.is_nan())
}

/// Redis's zslParseRange.
fn parse_score_range(min: &[u8], max: &[u8]) -> CmdResult<ScoreRange> {
    fn item(a: &[u8]) -> Option<(f64, bool)> {
        match a.first() {
            Some(b'(') => strtod_full(&a[1..]).map(|v| (v, true)),
            _ => strtod_full(a).map(|v| (v, false)),
        }
    }
    match (item(min), item(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        }),
        _ => Err(err("ERR min or max is not a float")),
    }
}

/// Redis's zslParseLexRange.
fn parse_lex_range(min: &Bytes, max: &Bytes) -> CmdResult<LexRange> {
    fn item(a: &Bytes) -> Option<LexBound> {
        let single = a.len() == 1 || a.get(1) == Some(&0);
        match a.first() {
            Some(b'+') if single => Some(LexBound::PosInf),
            Some(b'-') if single => Some(LexBound::NegInf),
            Some(b'(') => Some(LexBound::Excl(a.slice(1..))),
            Some(b'[') => Some(LexBound::Incl(a.slice(1..))),
            _ => None,
        }
    }
    match (item(min), item(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(err("ERR min or max not valid string range item")),
    }
}

fn int(a: &[u8]) -> CmdResult<i64> {
    numfmt::parse_i64(a).ok_or(CmdError::NotInteger)
}

/// Redis's getPositiveLongFromObjectOrReply without a custom message.
fn positive(a: &[u8]) -> CmdResult<i64> {
    numfmt::parse_i64(a)
        .filter(|&v| v >= 0)
        .ok_or(CmdError::NotPositive)
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zadd_generic(ctx, argv, false)
}

/// ZINCRBY key increment member
fn zincrby(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zadd_generic(ctx, argv, true)
}

/// Redis's zaddGenericCommand (ZINCRBY runs it with INCR preset, options
/// and all).
fn zadd_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], incr: bool) -> CmdResult<Reply> {
    let mut f = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let o = c_str(&argv[i]);
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = argv.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let n = elements / 2;
    if f.nx && f.xx {
        return Err(err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && n > 1 {
        return Err(err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(n);
    for p in argv[i..].chunks_exact(2) {
        let s = numfmt::parse_f64(&p[0]).ok_or(CmdError::NotFloat)?;
        pairs.push((s, &p[1]));
    }
    let t = th(ctx);
    let key = &argv[1];
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut created = None;
    let z = match write_zset(ctx, key)? {
        Some(z) => {
            z.maybe_convert(n, &t);
            z
        }
        None => {
            if f.xx {
                return Ok(if f.incr { Reply::Nil } else { Reply::Int(0) });
            }
            // Redis 7.4 sizes a new zset by the pair count and the first
            // member's length (zsetTypeCreate).
            created.insert(ZSet::with_hint(n, pairs[0].1.len(), &t))
        }
    };
    for (s, m) in pairs {
        match z.add(m, s, f, &t) {
            AddOutcome::Added(v) => {
                added += 1;
                processed += 1;
                score = v;
            }
            AddOutcome::Updated(v) => {
                updated += 1;
                processed += 1;
                score = v;
            }
            AddOutcome::Same(v) => {
                processed += 1;
                score = v;
            }
            AddOutcome::Nop => {}
            AddOutcome::NaN => {
                return Err(err("ERR resulting score is not a number (NaN)"));
            }
        }
    }
    if let Some(z) = created {
        if !z.is_empty() {
            let now = ctx.shard.now_ms();
            ctx.shard.dbs[ctx.db].insert(key, Value::ZSet(Box::new(z)), now);
        }
    }
    if added + updated > 0 {
        ctx.notify(ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    Ok(if f.incr {
        if processed > 0 {
            Reply::Double(score)
        } else {
            Reply::Nil
        }
    } else if ch {
        Reply::Int(added + updated)
    } else {
        Reply::Int(added)
    })
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let Some(z) = write_zset(ctx, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    let mut n = 0;
    for m in &argv[2..] {
        if z.remove(m) {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let empty = z.is_empty();
    if n > 0 {
        ctx.notify(ZSET, "zrem", &argv[1]);
    }
    drop_if_empty(ctx, &argv[1], empty);
    Ok(Reply::Int(n))
}

// ---------------------------------------------------------------------------
// reads
// ---------------------------------------------------------------------------

/// ZSCORE key member
fn zscore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(
        match read_zset(ctx, &argv[1])?.and_then(|z| z.score(&argv[2])) {
            Some(s) => Reply::Double(s),
            None => Reply::Nil,
        },
    )
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let z = read_zset(ctx, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => Reply::Double(s),
                None => Reply::Nil,
            })
            .collect(),
    ))
}

/// ZCARD key
fn zcard(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(
        read_zset(ctx, &argv[1])?.map_or(0, |z| z.len() as i64),
    ))
}

/// ZCOUNT key min max
fn zcount(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let r = parse_score_range(&argv[2], &argv[3])?;
    let Some(z) = read_zset(ctx, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    let (lo, hi) = z.score_span(&r);
    Ok(Reply::Int((hi - lo) as i64))
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let r = parse_lex_range(&argv[2], &argv[3])?;
    let Some(z) = read_zset(ctx, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    if r.is_empty() {
        return Ok(Reply::Int(0));
    }
    let lo = z.lex_start(&r);
    let hi = z.lex_end(&r);
    Ok(Reply::Int(hi.saturating_sub(lo) as i64))
}

/// ZRANK / ZREVRANK key member [WITHSCORE]
fn zrank_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], rev: bool) -> CmdResult<Reply> {
    if argv.len() > 4 {
        let name = if rev { "zrevrank" } else { "zrank" };
        return Err(CmdError::WrongArity(name.to_string()));
    }
    let withscore = match argv.get(3) {
        Some(a) if is(c_str(a), "withscore") => true,
        Some(_) => return Err(CmdError::Syntax),
        None => false,
    };
    let none = if withscore {
        Reply::NilArray
    } else {
        Reply::Nil
    };
    let Some(z) = read_zset(ctx, &argv[1])? else {
        return Ok(none);
    };
    Ok(match z.rank(&argv[2], rev) {
        Some((r, s)) if withscore => Reply::Array(vec![Reply::Int(r as i64), Reply::Double(s)]),
        Some((r, _)) => Reply::Int(r as i64),
        None => none,
    })
}

fn zrank(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrank_generic(ctx, argv, true)
}

// ---------------------------------------------------------------------------
// ZRANGE and friends
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Which elements a rank range selects: normalized start and count.
fn rank_window(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = start;
    let mut end = end;
    if start < 0 {
        start += llen;
    }
    if end < 0 {
        end += llen;
    }
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, (end - start + 1) as usize))
}

/// Elements of a score range from `offset`, up to `limit`, in order (or
/// from the top with `rev`).
fn score_range_entries(
    z: &ZSet,
    r: &ScoreRange,
    offset: i64,
    limit: i64,
    rev: bool,
) -> Vec<(Bytes, f64)> {
    if r.is_empty() {
        return Vec::new();
    }
    // Only the end the walk starts from is searched.
    let first = if rev {
        z.len() - z.count_before(|_, s| r.lte_max(s))
    } else {
        z.count_before(|_, s| !r.gte_min(s))
    };
    range_walk(
        z,
        first,
        offset,
        limit,
        rev,
        |_, s| r.gte_min(s),
        |_, s| r.lte_max(s),
    )
}

/// Elements of a lex range, as [`score_range_entries`].
fn lex_range_entries(
    z: &ZSet,
    r: &LexRange,
    offset: i64,
    limit: i64,
    rev: bool,
) -> Vec<(Bytes, f64)> {
    if r.is_empty() {
        return Vec::new();
    }
    let first = if rev {
        z.len() - z.lex_end(r)
    } else {
        z.lex_start(r)
    };
    range_walk(
        z,
        first,
        offset,
        limit,
        rev,
        |m, _| r.gte_min(m),
        |m, _| r.lte_max(m),
    )
}

/// The walk both range kinds share: from rank `first` (counted from the
/// top with `rev`) plus `offset`, take up to `limit` (negative: all)
/// elements while they stay inside the range.
fn range_walk(
    z: &ZSet,
    first: usize,
    offset: i64,
    limit: i64,
    rev: bool,
    above_min: impl Fn(&[u8], f64) -> bool,
    below_max: impl Fn(&[u8], f64) -> bool,
) -> Vec<(Bytes, f64)> {
    if offset < 0 || limit == 0 {
        return Vec::new();
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let copy = |(m, s): (&[u8], f64)| (Bytes::copy_from_slice(m), s);
    let from = first.saturating_add(offset);
    if rev {
        z.iter_from(from, true)
            .take(limit)
            .take_while(|e| above_min(e.0, e.1))
            .map(copy)
            .collect()
    } else {
        z.iter_from(from, false)
            .take(limit)
            .take_while(|e| below_max(e.0, e.1))
            .map(copy)
            .collect()
    }
}

/// Redis's zrangeGenericCommand. `start` is the index of the source key;
/// `store` makes it ZRANGESTORE (destination at 1).
fn zrange_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    start: usize,
    store: bool,
    mut rtype: RangeType,
    mut rev: Option<bool>,
) -> CmdResult<Reply> {
    let key = &argv[start];
    let mut minidx = start + 1;
    let mut maxidx = start + 2;
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut j = start + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let o = c_str(&argv[j]);
        if !store && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && left >= 2 {
            offset = int(&argv[j + 1])?;
            limit = int(&argv[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(o, "rev") {
            rev = Some(true);
        } else if rtype == RangeType::Auto && is(o, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && is(o, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let parsed = match rtype {
        RangeType::Score => Parsed::Score(parse_score_range(&argv[minidx], &argv[maxidx])?),
        RangeType::Lex => Parsed::Lex(parse_lex_range(&argv[minidx], &argv[maxidx])?),
        _ => Parsed::Rank(int(&argv[minidx])?, int(&argv[maxidx])?),
    };
    let entries = match read_zset(ctx, key)? {
        None => Vec::new(),
        Some(z) => match parsed {
            Parsed::Rank(a, b) => match rank_window(z.len(), a, b) {
                Some((from, n)) => z
                    .iter_from(from, rev)
                    .take(n)
                    .map(|(m, s)| (Bytes::copy_from_slice(m), s))
                    .collect(),
                None => Vec::new(),
            },
            Parsed::Score(r) => score_range_entries(z, &r, offset, limit, rev),
            Parsed::Lex(r) => lex_range_entries(z, &r, offset, limit, rev),
        },
    };
    if store {
        let mut entries = entries;
        if rev {
            entries.reverse();
        }
        return Ok(Reply::Int(self::store(
            ctx,
            &argv[1],
            &entries,
            "zrangestore",
        )));
    }
    Ok(entries_reply(entries, withscores))
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrange_generic(ctx, argv, 1, false, RangeType::Auto, None)
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrange_generic(ctx, argv, 2, true, RangeType::Auto, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrange_generic(ctx, argv, 1, false, RangeType::Rank, Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrange_generic(ctx, argv, 1, false, RangeType::Score, Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrange_generic(ctx, argv, 1, false, RangeType::Score, Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrange_generic(ctx, argv, 1, false, RangeType::Lex, Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zrange_generic(ctx, argv, 1, false, RangeType::Lex, Some(true))
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------

fn zremrange_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], rtype: RangeType) -> CmdResult<Reply> {
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let parsed = match rtype {
        RangeType::Score => Parsed::Score(parse_score_range(&argv[2], &argv[3])?),
        RangeType::Lex => Parsed::Lex(parse_lex_range(&argv[2], &argv[3])?),
        _ => Parsed::Rank(int(&argv[2])?, int(&argv[3])?),
    };
    let Some(z) = write_zset(ctx, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    let (lo, hi) = match parsed {
        Parsed::Rank(a, b) => match rank_window(z.len(), a, b) {
            Some((from, n)) => (from, from + n),
            None => (0, 0),
        },
        Parsed::Score(r) => z.score_span(&r),
        Parsed::Lex(r) => {
            if r.is_empty() {
                (0, 0)
            } else {
                let lo = z.lex_start(&r);
                let n = z
                    .iter_from(lo, false)
                    .take_while(|e| r.lte_max(e.0))
                    .count();
                (lo, lo + n)
            }
        }
    };
    let removed = z.remove_ranks(lo, hi);
    let empty = z.is_empty();
    if removed > 0 {
        let event = match rtype {
            RangeType::Score => "zremrangebyscore",
            RangeType::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify(ZSET, event, &argv[1]);
    }
    drop_if_empty(ctx, &argv[1], empty);
    Ok(Reply::Int(removed as i64))
}

fn zremrangebyrank(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zremrange_generic(ctx, argv, RangeType::Rank)
}

fn zremrangebyscore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zremrange_generic(ctx, argv, RangeType::Score)
}

fn zremrangebylex(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zremrange_generic(ctx, argv, RangeType::Lex)
}

// ---------------------------------------------------------------------------
// pops
// ---------------------------------------------------------------------------

/// A key and the elements popped from it.
type Popped = (Bytes, Vec<(Bytes, f64)>);

/// Pops from the first existing key among `keys` (WRONGTYPE if that key is
/// not a zset): its name and the popped elements.
fn pop_first(
    ctx: &mut ShardCtx<'_>,
    keys: &[Bytes],
    count: usize,
    max: bool,
) -> CmdResult<Option<Popped>> {
    for k in keys {
        let Some(z) = write_zset(ctx, k)? else {
            continue;
        };
        let out = z.pop(count, max);
        let empty = z.is_empty();
        if !out.is_empty() {
            ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, k);
        }
        drop_if_empty(ctx, k, empty);
        return Ok(Some((k.clone(), out)));
    }
    Ok(None)
}

/// ZPOPMIN / ZPOPMAX key [count]
fn zpop(ctx: &mut ShardCtx<'_>, argv: &[Bytes], max: bool) -> CmdResult<Reply> {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match argv.get(2) {
        Some(a) => Some(positive(a)?),
        None => None,
    };
    if count == Some(0) {
        // Still a type check, as Redis looks the key up first.
        write_zset(ctx, &argv[1])?;
        return Ok(Reply::Array(Vec::new()));
    }
    let n = count.unwrap_or(1) as usize;
    let popped = pop_first(ctx, &argv[1..2], n, max)?
        .map(|p| p.1)
        .unwrap_or_default();
    if count.is_some() {
        return Ok(entries_reply(popped, true));
    }
    // Without a count: one flat pair in both protocols.
    Ok(Reply::Array(
        popped
            .into_iter()
            .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
            .collect(),
    ))
}

fn zpopmin(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zpop(ctx, argv, false)
}

fn zpopmax(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    zpop(ctx, argv, true)
}

/// A parsed ZMPOP / BZMPOP: where the keys are, which end, how many.
struct MPop {
    keys: std::ops::Range<usize>,
    max: bool,
    count: usize,
}

/// Parses `numkeys key [key ...] MIN | MAX [COUNT count]` with numkeys at
/// `numkeys_idx`, in Redis's order of checks (zmpopGenericCommand).
fn parse_mpop(argv: &[Bytes], numkeys_idx: usize) -> CmdResult<MPop> {
    let numkeys = numfmt::parse_i64(&argv[numkeys_idx])
        .filter(|&n| n >= 1)
        .ok_or_else(|| err("ERR numkeys should be greater than 0"))?;
    let where_idx = (numkeys as u64).saturating_add(numkeys_idx as u64 + 1);
    if where_idx >= argv.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_idx = where_idx as usize;
    let max = if is(c_str(&argv[where_idx]), "min") {
        false
    } else if is(c_str(&argv[where_idx]), "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count == -1 && is(c_str(&argv[j]), "count") && more > 0 {
            j += 1;
            count = numfmt::parse_i64(&argv[j])
                .filter(|&n| n >= 1)
                .ok_or_else(|| err("ERR count should be greater than 0"))?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(MPop {
        keys: numkeys_idx + 1..where_idx,
        max,
        count: if count == -1 { 1 } else { count as usize },
    })
}

/// ZMPOP's reply: `[key, [[member, score] ...]]`.
fn mpop_reply((k, popped): Popped) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(k),
        Reply::Array(
            popped
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        ),
    ])
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
fn zmpop(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let m = parse_mpop(argv, 1)?;
    Ok(match pop_first(ctx, &argv[m.keys], m.count, m.max)? {
        Some(p) => mpop_reply(p),
        None => Reply::NilArray,
    })
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    if argv.len() == 2 {
        let now = ctx.shard.now_ms();
        let touch = ctx.touch;
        let shard = &mut *ctx.shard;
        return Ok(match shard.dbs[ctx.db].lookup_read(&argv[1], now, touch) {
            None => Reply::Nil,
            Some(e) => match &e.value {
                Value::ZSet(z) if !z.is_empty() => {
                    let i = shard.rng.random_range(0..z.len());
                    z.at(i).map_or(Reply::Nil, |(m, _)| bulk(m))
                }
                Value::ZSet(_) => Reply::Nil,
                _ => return Err(CmdError::WrongType),
            },
        });
    }
    let l = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    if l == i64::MIN {
        return Err(err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match argv.len() {
        3 => false,
        4 if is(c_str(&argv[3]), "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(err("ERR value is out of range"));
    }
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let shard = &mut *ctx.shard;
    let z = match shard.dbs[ctx.db].lookup_read(&argv[1], now, touch) {
        None => return Ok(Reply::Array(Vec::new())),
        Some(e) => match &e.value {
            Value::ZSet(z) => z,
            _ => return Err(CmdError::WrongType),
        },
    };
    let rng = &mut shard.rng;
    let size = z.len();
    let pick = |i: usize| -> (Bytes, f64) {
        z.at(i)
            .map(|(m, s)| (Bytes::copy_from_slice(m), s))
            .unwrap_or_default()
    };
    let out: Vec<(Bytes, f64)> = if l == 0 {
        Vec::new()
    } else if l < 0 || l == 1 {
        // With repetitions: each pick uniform and independent.
        // Grows as it goes: nothing is reserved for the asked count.
        let mut v = Vec::new();
        for _ in 0..l.unsigned_abs() {
            v.push(pick(rng.random_range(0..size)));
        }
        v
    } else if l as u64 >= size as u64 {
        z.iter()
            .map(|(m, s)| (Bytes::copy_from_slice(m), s))
            .collect()
    } else {
        // Distinct ranks, uniformly (Floyd's algorithm), in random order.
        let n = l as usize;
        let mut chosen: Vec<usize> = Vec::with_capacity(n);
        let mut seen = std::collections::HashSet::with_capacity(n);
        for j in (size - n)..size {
            let t = rng.random_range(0..=j);
            let v = if seen.insert(t) { t } else { j };
            if v == j {
                seen.insert(j);
            }
            chosen.push(v);
        }
        for i in (1..chosen.len()).rev() {
            let k = rng.random_range(0..=i);
            chosen.swap(i, k);
        }
        chosen.into_iter().map(pick).collect()
    };
    Ok(entries_reply(out, withscores))
}

// ---------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, ZINTERCARD and the STORE forms
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// One input of a set operation: a zset, or a plain set whose members
/// count with score 1.
enum Src {
    Missing,
    Z(ZSet),
    Set(std::collections::HashSet<Bytes>),
}

impl Src {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::Set(s) => s.len(),
        }
    }
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::Set(s) => s.contains(m).then_some(1.0),
        }
    }
    fn entries(&self) -> Vec<(Bytes, f64)> {
        match self {
            Src::Missing => Vec::new(),
            Src::Z(z) => z
                .iter()
                .map(|(m, s)| (Bytes::copy_from_slice(m), s))
                .collect(),
            Src::Set(s) => s.iter().map(|m| (m.clone(), 1.0)).collect(),
        }
    }
}

/// Members of a plain set used as a ZUNION/ZINTER/ZDIFF input.
///
/// STUB until the set family lands: `storage::types::set::Set` exposes no
/// iteration yet (and is always empty). Replace the body with the set
/// type's member iterator; nothing else here needs to change.
fn set_members(s: &Set) -> Vec<Bytes> {
    s.iter().map(|m| m.to_bytes()).collect()
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis keeps 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

fn sort_entries(v: &mut [(Bytes, f64)]) {
    v.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
}

/// Redis's zunionInterDiffGenericCommand. `numkeys_idx` is where the key
/// count is; `dst` the destination for the STORE forms.
fn setop_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    numkeys_idx: usize,
    dst: Option<&Bytes>,
    op: SetOp,
    card_only: bool,
) -> CmdResult<Reply> {
    let name = argv[0].to_ascii_lowercase();
    let setnum = int(&argv[numkeys_idx])?;
    if setnum < 1 {
        return Err(CmdError::Other(Cow::Owned(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&name)
        ))));
    }
    if setnum as u64 > (argv.len() - numkeys_idx - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &argv[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    // Type checks come before option parsing.
    let mut srcs: Vec<(Src, f64)> = Vec::with_capacity(setnum);
    for k in keys {
        let now = ctx.shard.now_ms();
        let touch = ctx.touch;
        let src = match ctx.shard.dbs[ctx.db].lookup_read(k, now, touch) {
            None => Src::Missing,
            Some(e) => match &e.value {
                Value::ZSet(z) => Src::Z((**z).clone()),
                Value::Set(s) => Src::Set(set_members(s).into_iter().collect()),
                _ => return Err(CmdError::WrongType),
            },
        };
        srcs.push((src, 1.0));
    }
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let o = c_str(&argv[j]);
        if op != SetOp::Diff && !card_only && remaining > setnum && is(o, "weights") {
            j += 1;
            for s in srcs.iter_mut() {
                s.1 = numfmt::parse_f64(&argv[j])
                    .ok_or_else(|| err("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(o, "aggregate") {
            let a = c_str(&argv[j + 1]);
            agg = if is(a, "sum") {
                Aggregate::Sum
            } else if is(a, "min") {
                Aggregate::Min
            } else if is(a, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(o, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(o, "limit") {
            limit = numfmt::parse_i64(&argv[j + 1])
                .filter(|&v| v >= 0)
                .ok_or_else(|| err("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if op != SetOp::Diff {
        // Smallest first, as Redis (stable, like its qsort on equal sizes
        // does not matter for the result).
        srcs.sort_by_key(|s| s.0.len());
    }
    let mut result: Vec<(Bytes, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            let (first, w0) = &srcs[0];
            if first.len() > 0 {
                let mut count = 0i64;
                'outer: for (m, s) in first.entries() {
                    let mut score = w0 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (other, w) in &srcs[1..] {
                        match other.score(&m) {
                            Some(v) => aggregate(&mut score, w * v, agg),
                            None => continue 'outer,
                        }
                    }
                    if card_only {
                        count += 1;
                        if limit > 0 && count >= limit {
                            break;
                        }
                    } else {
                        result.push((m, score));
                    }
                }
                if card_only {
                    return Ok(Reply::Int(count));
                }
            } else if card_only {
                return Ok(Reply::Int(0));
            }
        }
        SetOp::Union => {
            let mut acc: std::collections::HashMap<Bytes, f64> = std::collections::HashMap::new();
            for (src, w) in &srcs {
                for (m, s) in src.entries() {
                    let mut v = w * s;
                    if v.is_nan() {
                        v = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, agg),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let (first, _) = &srcs[0];
            for (m, s) in first.entries() {
                if srcs[1..].iter().all(|(o, _)| o.score(&m).is_none()) {
                    result.push((m, s));
                }
            }
        }
    }
    sort_entries(&mut result);
    match dst {
        Some(d) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            Ok(Reply::Int(store(ctx, d, &result, event)))
        }
        None => Ok(entries_reply(result, withscores)),
    }
}

fn zunion(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    setop_generic(ctx, argv, 1, None, SetOp::Union, false)
}

fn zinter(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    setop_generic(ctx, argv, 1, None, SetOp::Inter, false)
}

fn zdiff(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    setop_generic(ctx, argv, 1, None, SetOp::Diff, false)
}

fn zintercard(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    setop_generic(ctx, argv, 1, None, SetOp::Inter, true)
}

fn zunionstore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    setop_generic(ctx, argv, 2, Some(&argv[1]), SetOp::Union, false)
}

fn zinterstore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    setop_generic(ctx, argv, 2, Some(&argv[1]), SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    setop_generic(ctx, argv, 2, Some(&argv[1]), SetOp::Diff, false)
}

// ---------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let cursor = parse_scan_cursor(&argv[2]).ok_or_else(|| err("ERR invalid cursor"))?;
    let empty = || {
        Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"0")),
            Reply::Array(Vec::new()),
        ])
    };
    let Some(z) = read_zset(ctx, &argv[1])? else {
        return Ok(empty());
    };
    let mut count = 10i64;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        let left = argv.len() - i;
        let o = c_str(&argv[i]);
        if is(o, "count") && left >= 2 {
            count = int(&argv[i + 1])?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
            i += 2;
        } else if is(o, "match") && left >= 2 {
            let p = &argv[i + 1][..];
            pattern = (p != b"*").then_some(p);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let remaining = if cursor == 0 {
        None
    } else {
        Some(usize::try_from(cursor).unwrap_or(usize::MAX))
    };
    let mut out = Vec::new();
    let next = z.scan(remaining, count as usize, |m, s| {
        if pattern.is_none_or(|p| storage::glob::glob_match(p, m, false)) {
            out.push(bulk(m));
            out.push(Reply::Bulk(Bytes::from(numfmt::format_double(s))));
        }
    });
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ]))
}

// ---------------------------------------------------------------------------
// Blocking pops: BZPOPMIN, BZPOPMAX, BZMPOP
// ---------------------------------------------------------------------------

/// What a blocked client takes once one of its keys holds a zset.
#[derive(Clone, Copy)]
enum BOp {
    /// BZPOPMIN / BZPOPMAX: `[key, member, score]`.
    Pop { max: bool },
    /// BZMPOP: ZMPOP's `[key, [[member, score] ...]]`.
    MPop { max: bool, count: usize },
}

impl BOp {
    /// Pops from `key`, which the caller knows holds a non-empty zset.
    fn apply(self, ctx: &mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<Reply>> {
        let (max, count) = match self {
            BOp::Pop { max } => (max, 1),
            BOp::MPop { max, count } => (max, count),
        };
        let Some(z) = write_zset(ctx, key)? else {
            return Ok(None);
        };
        let out = z.pop(count, max);
        let empty = z.is_empty();
        drop_if_empty(ctx, key, empty);
        let key = Bytes::copy_from_slice(key);
        Ok(Some(match self {
            BOp::Pop { .. } => {
                let mut v = vec![Reply::Bulk(key)];
                for (m, s) in out {
                    v.push(Reply::Bulk(m));
                    v.push(Reply::Double(s));
                }
                Reply::Array(v)
            }
            BOp::MPop { .. } => mpop_reply((key, out)),
        }))
    }

    /// The first existing key among `keys` (WRONGTYPE if it isn't a zset),
    /// popped; `None` when every key is missing (Redis's
    /// blockingGenericZpopCommand loop).
    fn try_now(self, ctx: &mut ShardCtx<'_>, keys: &[Bytes]) -> CmdResult<Option<Reply>> {
        for k in keys {
            if let Some(r) = self.apply(ctx, k)? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }
}

/// A parsed blocking pop.
struct ZBlocking {
    keys: Vec<Bytes>,
    timeout_ms: u64,
    op: BOp,
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout
fn parse_bzpop(argv: &[Bytes], max: bool) -> CmdResult<ZBlocking> {
    let timeout_ms = parse_timeout(&argv[argv.len() - 1], wall_ms())?;
    Ok(ZBlocking {
        keys: argv[1..argv.len() - 1].to_vec(),
        timeout_ms,
        op: BOp::Pop { max },
    })
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]: the
/// options are checked before the timeout, as Redis does.
fn parse_bzmpop(argv: &[Bytes]) -> CmdResult<ZBlocking> {
    let m = parse_mpop(argv, 2)?;
    let timeout_ms = parse_timeout(&argv[1], wall_ms())?;
    Ok(ZBlocking {
        keys: argv[m.keys].to_vec(),
        timeout_ms,
        op: BOp::MPop {
            max: m.max,
            count: m.count,
        },
    })
}

/// Runs a parsed blocking pop without blocking (MULTI, scripts): an empty
/// answer is the timeout's null array, as in Redis.
fn run_now(ctx: &mut ShardCtx<'_>, b: CmdResult<ZBlocking>) -> CmdResult<Reply> {
    let b = b?;
    Ok(b.op.try_now(ctx, &b.keys)?.unwrap_or(Reply::NilArray))
}

fn bzpopmin_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_bzpop(argv, false))
}
fn bzpopmax_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_bzpop(argv, true))
}
fn bzmpop_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_bzmpop(argv))
}

/// The immediate forms of the blocking pops, for contexts where Redis never
/// blocks (MULTI/EXEC, scripts), like [`crate::commands::list::NONBLOCKING`].
pub static NONBLOCKING: &[(&str, ShardFn)] = &[
    ("bzpopmin", bzpopmin_now),
    ("bzpopmax", bzpopmax_now),
    ("bzmpop", bzmpop_now),
];

/// Hands a parsed blocking pop to the blocking machinery. A waiter is
/// served by the first write that leaves a non-empty zset at one of its
/// keys; a key holding another type keeps it waiting, as in Redis.
fn block(ctx: &mut ConnCtx, b: CmdResult<ZBlocking>) -> CmdFuture<'_> {
    Box::pin(async move {
        let b = b?;
        let op = b.op;
        let req = BlockRequest {
            keys: b.keys,
            extra_keys: Vec::new(),
            timeout_ms: b.timeout_ms,
            timeout_reply: Reply::NilArray,
            attempt: Arc::new(move |sctx: &mut ShardCtx<'_>, keys: &[Bytes]| {
                op.try_now(sctx, keys)
            }),
            serve: Arc::new(
                move |sctx: &mut ShardCtx<'_>, key: &[u8], claim: &dyn Fn() -> bool| {
                    match write_zset(sctx, key) {
                        Ok(Some(z)) if !z.is_empty() => {}
                        _ => return Served::NotReady,
                    }
                    if !claim() {
                        return Served::Gone;
                    }
                    match op.apply(sctx, key) {
                        Ok(r) => Served::Reply(r.unwrap_or(Reply::NilArray), None),
                        Err(e) => Served::Reply(e.into(), None),
                    }
                },
            ),
        };
        blocking::block(ctx, req).await
    })
}

fn bzpopmin(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_bzpop(&argv, false);
    block(ctx, b)
}
fn bzpopmax(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_bzpop(&argv, true);
    block(ctx, b)
}
fn bzmpop(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_bzmpop(&argv);
    block(ctx, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<Bytes> {
        s.iter()
            .map(|x| Bytes::copy_from_slice(x.as_bytes()))
            .collect()
    }

    #[test]
    fn mpop_parsing() {
        assert!(parse_mpop(&v(&["zmpop", "0", "z", "min"]), 1).is_err());
        assert!(parse_mpop(&v(&["zmpop", "9223372036854775807", "z", "min"]), 1).is_err());
        let m = parse_mpop(&v(&["zmpop", "2", "a", "b", "max", "count", "3"]), 1).unwrap();
        assert_eq!(m.keys, 2..4);
        assert!(m.max);
        assert_eq!(m.count, 3);
        let m = parse_mpop(&v(&["bzmpop", "0", "1", "a", "MIN"]), 2).unwrap();
        assert_eq!(m.keys, 3..4);
        assert!(!m.max);
        assert_eq!(m.count, 1);
        assert!(parse_mpop(&v(&["bzmpop", "0", "1", "a", "min", "count"]), 2).is_err());
    }

    #[test]
    fn bzmpop_checks_options_before_timeout() {
        let e = parse_bzmpop(&v(&["bzmpop", "x", "1", "a", "mid"])).err();
        assert_eq!(
            e.map(|e| e.message().to_string()).as_deref(),
            Some("ERR syntax error")
        );
        let e = parse_bzmpop(&v(&["bzmpop", "-1", "1", "a", "min"])).err();
        assert_eq!(
            e.map(|e| e.message().to_string()).as_deref(),
            Some("ERR timeout is negative")
        );
    }
}
