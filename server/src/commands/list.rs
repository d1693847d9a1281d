//! List commands (Redis's `t_list.c`), blocking ones included.
//!
//! Each handler follows Redis's order of checks (argument syntax, then the
//! key's type), so a client sees the same error Redis gives. The blocking
//! commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) are coordinator
//! handlers: they parse, try the non-blocking form once, and otherwise park
//! on the keys' shards through [`crate::blocking`]. Their immediate forms
//! are exported in [`NONBLOCKING`] for MULTI/EXEC and scripts, where Redis
//! answers at once instead of blocking.

use crate::blocking::{self, BlockRequest, Served};
use crate::command::args::{is, Args};
use crate::command::flags::*;
use crate::command::{
    row, BeginSearch, CmdFuture, CommandSpec, Exec, FindKeys, KeySpec, Keys, ShardCtx, ShardFn,
    KEY1, KEY1_2,
};
use crate::config::notify::{GENERIC, LIST};
use crate::conn::ConnCtx;
use bytes::Bytes;
use storage::numfmt;
use storage::types::list::{resolve_index, resolve_range, List};
use storage::{CmdError, CmdResult, Reply, Value};

const fn spec(flags: &'static [&'static str], index: i32, lastkey: i32) -> KeySpec {
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
const INSERT: &[KeySpec] = &[spec(&["RW", "insert"], 1, 0)];
const POP: &[KeySpec] = &[spec(&["RW", "access", "delete"], 1, 0)];
const RO: &[KeySpec] = &[spec(&["RO"], 1, 0)];
const RO_ACCESS: &[KeySpec] = &[spec(&["RO", "access"], 1, 0)];
const UPDATE: &[KeySpec] = &[spec(&["RW", "update"], 1, 0)];
const DELETE: &[KeySpec] = &[spec(&["RW", "delete"], 1, 0)];
const MOVE: &[KeySpec] = &[
    spec(&["RW", "access", "delete"], 1, 0),
    spec(&["RW", "insert"], 2, 0),
];
const BPOP: &[KeySpec] = &[spec(&["RW", "access", "delete"], 1, -2)];
const fn mpop_spec(index: i32) -> [KeySpec; 1] {
    [KeySpec {
        notes: "",
        flags: &["RW", "access", "delete"],
        begin: BeginSearch::Index(index),
        find: FindKeys::KeyNum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 1,
        },
    }]
}
const LMPOP_SPEC: &[KeySpec] = &mpop_spec(1);
const BLMPOP_SPEC: &[KeySpec] = &mpop_spec(2);

/// BLPOP/BRPOP: every argument but the first and the last is a key.
const BPOP_KEYS: Keys = Keys::Range {
    first: 1,
    last: -2,
    step: 1,
};

const W_FAST: &[&str] = &["write", "list", "fast"];
const W_SLOW: &[&str] = &["write", "list", "slow"];
const R_FAST: &[&str] = &["read", "list", "fast"];
const R_SLOW: &[&str] = &["read", "list", "slow"];
const W_BLOCK: &[&str] = &["write", "list", "slow", "blocking"];

/// The list family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("lpush", -3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(lpush))
        .acl(W_FAST)
        .key_specs(INSERT)
        .doc("list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    row("rpush", -3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(rpush))
        .acl(W_FAST)
        .key_specs(INSERT)
        .doc("list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    row("lpushx", -3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(lpushx))
        .acl(W_FAST)
        .key_specs(INSERT)
        .doc("list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    row("rpushx", -3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(rpushx))
        .acl(W_FAST)
        .key_specs(INSERT)
        .doc("list", "2.2.0", "Appends an element to a list only when the list exists.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    row("lpop", -2, WRITE | FAST, KEY1, Exec::Shard(lpop))
        .acl(W_FAST)
        .key_specs(POP)
        .doc("list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "O(N) where N is the number of elements returned"),
    row("rpop", -2, WRITE | FAST, KEY1, Exec::Shard(rpop))
        .acl(W_FAST)
        .key_specs(POP)
        .doc("list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "O(N) where N is the number of elements returned"),
    row("llen", 2, READONLY | FAST, KEY1, Exec::Shard(llen))
        .acl(R_FAST)
        .key_specs(RO)
        .doc("list", "1.0.0", "Returns the length of a list.", "O(1)"),
    row("lrange", 4, READONLY, KEY1, Exec::Shard(lrange))
        .acl(R_SLOW)
        .key_specs(RO_ACCESS)
        .doc("list", "1.0.0", "Returns a range of elements from a list.", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    row("lindex", 3, READONLY, KEY1, Exec::Shard(lindex))
        .acl(R_SLOW)
        .key_specs(RO_ACCESS)
        .doc("list", "1.0.0", "Returns an element from a list by its index.", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    row("lset", 4, WRITE | DENYOOM, KEY1, Exec::Shard(lset))
        .acl(W_SLOW)
        .key_specs(UPDATE)
        .doc("list", "1.0.0", "Sets the value of an element in a list by its index.", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    row("linsert", 5, WRITE | DENYOOM, KEY1, Exec::Shard(linsert))
        .acl(W_SLOW)
        .key_specs(INSERT)
        .doc("list", "2.2.0", "Inserts an element before or after another element in a list.", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    row("lrem", 4, WRITE, KEY1, Exec::Shard(lrem))
        .acl(W_SLOW)
        .key_specs(DELETE)
        .doc("list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", "O(N+M) where N is the length of the list and M is the number of elements removed."),
    row("ltrim", 4, WRITE, KEY1, Exec::Shard(ltrim))
        .acl(W_SLOW)
        .key_specs(DELETE)
        .doc("list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "O(N) where N is the number of elements to be removed by the operation."),
    row("lpos", -3, READONLY, KEY1, Exec::Shard(lpos))
        .acl(R_SLOW)
        .key_specs(RO_ACCESS)
        .doc("list", "6.0.6", "Returns the index of matching elements in a list.", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    row("lmove", 5, WRITE | DENYOOM, KEY1_2, Exec::Shard(lmove))
        .acl(W_SLOW)
        .key_specs(MOVE)
        .doc("list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "O(1)"),
    row("rpoplpush", 3, WRITE | DENYOOM, KEY1_2, Exec::Shard(rpoplpush))
        .acl(W_SLOW)
        .key_specs(MOVE)
        .doc("list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "O(1)"),
    row("lmpop", -4, WRITE, Keys::Custom(lmpop_keys), Exec::Shard(lmpop))
        .acl(W_SLOW)
        .key_specs(LMPOP_SPEC)
        .doc("list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
    row("blpop", -3, WRITE | BLOCKING, BPOP_KEYS, Exec::Coord(blpop))
        .acl(W_BLOCK)
        .key_specs(BPOP)
        .doc("list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N) where N is the number of provided keys."),
    row("brpop", -3, WRITE | BLOCKING, BPOP_KEYS, Exec::Coord(brpop))
        .acl(W_BLOCK)
        .key_specs(BPOP)
        .doc("list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N) where N is the number of provided keys."),
    row("blmove", 6, WRITE | DENYOOM | BLOCKING, KEY1_2, Exec::Coord(blmove))
        .acl(W_BLOCK)
        .key_specs(MOVE)
        .doc("list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "O(1)"),
    row("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, KEY1_2, Exec::Coord(brpoplpush))
        .acl(W_BLOCK)
        .key_specs(MOVE)
        .doc("list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "O(1)"),
    row("blmpop", -5, WRITE | BLOCKING, Keys::Custom(blmpop_keys), Exec::Coord(blmpop))
        .acl(W_BLOCK)
        .key_specs(BLMPOP_SPEC)
        .doc("list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

/// The immediate forms of the blocking commands, for contexts where Redis
/// never blocks (MULTI/EXEC, scripts): they behave as if the timeout had
/// expired at once when nothing can be served.
pub static NONBLOCKING: &[(&str, ShardFn)] = &[
    ("blpop", blpop_now),
    ("brpop", brpop_now),
    ("blmove", blmove_now),
    ("brpoplpush", brpoplpush_now),
    ("blmpop", blmpop_now),
];

fn fill(ctx: &ShardCtx<'_>) -> i64 {
    ctx.limits.thresholds.list_max_listpack_size
}

/// The list at `key` for reading: `None` when missing, WRONGTYPE otherwise.
fn read_list<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a List>> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    match ctx.shard.dbs[ctx.db].lookup_read(key, now, touch) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The list at `key` for writing.
fn write_list<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a mut List>> {
    let now = ctx.shard.now_ms();
    match ctx.shard.dbs[ctx.db].lookup_write(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// Deletes `key` if its list became empty (an empty list is never
/// stored), with Redis's `del` event.
fn drop_if_empty(ctx: &mut ShardCtx<'_>, key: &[u8]) {
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let empty =
        matches!(db.peek(key, now), Some(e) if matches!(&e.value, Value::List(l) if l.is_empty()));
    if empty {
        db.remove(key);
        ctx.notify(GENERIC, "del", key);
    }
}

fn push_event(left: bool) -> &'static str {
    if left {
        "lpush"
    } else {
        "rpush"
    }
}

fn pop_event(left: bool) -> &'static str {
    if left {
        "lpop"
    } else {
        "rpop"
    }
}

fn push_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    left: bool,
    only_existing: bool,
) -> CmdResult<Reply> {
    let key = &argv[1];
    let elems: Vec<&[u8]> = argv[2..].iter().map(|b| &b[..]).collect();
    let fill = fill(ctx);
    if let Some(l) = write_list(ctx, key)? {
        l.push_many(&elems, left, fill);
        let n = l.len() as i64;
        ctx.notify(LIST, push_event(left), key);
        return Ok(Reply::Int(n));
    }
    if only_existing {
        return Ok(Reply::Int(0));
    }
    let mut l = List::new();
    l.push_many(&elems, left, fill);
    let n = l.len();
    let now = ctx.shard.now_ms();
    ctx.shard.dbs[ctx.db].insert(key, Value::List(Box::new(l)), now);
    ctx.notify(LIST, push_event(left), key);
    Ok(Reply::Int(n as i64))
}

fn lpush(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    push_generic(ctx, argv, true, false)
}
fn rpush(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    push_generic(ctx, argv, false, false)
}
fn lpushx(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    push_generic(ctx, argv, true, true)
}
fn rpushx(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    push_generic(ctx, argv, false, true)
}

/// Pops up to `count` elements from `key`, deleting it when emptied.
/// `None` when the key is missing (or not a list, which callers check).
fn pop_n(
    ctx: &mut ShardCtx<'_>,
    key: &[u8],
    left: bool,
    count: usize,
) -> CmdResult<Option<Vec<Reply>>> {
    let fill = fill(ctx);
    let Some(l) = write_list(ctx, key)? else {
        return Ok(None);
    };
    let n = count.min(l.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(v) = l.pop(left) {
            out.push(Reply::Bulk(Bytes::from(v)));
        }
    }
    l.shrink_check(fill);
    if n > 0 {
        ctx.notify(LIST, pop_event(left), key);
    }
    drop_if_empty(ctx, key);
    Ok(Some(out))
}

fn pop_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], left: bool) -> CmdResult<Reply> {
    if argv.len() > 3 {
        return Err(CmdError::WrongArity(
            String::from_utf8_lossy(&argv[0]).to_lowercase(),
        ));
    }
    let count = match argv.get(2) {
        None => None,
        Some(c) => match numfmt::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::msg("ERR value is out of range, must be positive")),
        },
    };
    let key = &argv[1];
    match count {
        None => {
            let got = pop_n(ctx, key, left, 1)?;
            Ok(match got.and_then(|mut v| v.pop()) {
                Some(r) => r,
                None => Reply::Nil,
            })
        }
        Some(count) => {
            if write_list(ctx, key)?.is_none() {
                return Ok(Reply::NilArray);
            }
            if count == 0 {
                return Ok(Reply::Array(Vec::new()));
            }
            Ok(Reply::Array(
                pop_n(ctx, key, left, count)?.unwrap_or_default(),
            ))
        }
    }
}

fn lpop(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    pop_generic(ctx, argv, true)
}
fn rpop(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    pop_generic(ctx, argv, false)
}

fn llen(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(
        read_list(ctx, &argv[1])?.map_or(0, |l| l.len() as i64),
    ))
}

fn lrange(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let mut a = Args::at(argv, 2);
    let start = a.i64()?;
    let end = a.i64()?;
    let Some(l) = read_list(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Array(match resolve_range(start, end, l.len()) {
        None => Vec::new(),
        Some((s, e)) => l.range(s, e).into_iter().map(Reply::bulk).collect(),
    }))
}

fn lindex(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let Some(l) = read_list(ctx, &argv[1])? else {
        return Ok(Reply::Nil);
    };
    let index = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    Ok(match resolve_index(index, l.len()).and_then(|i| l.get(i)) {
        Some(v) => Reply::bulk(v),
        None => Reply::Nil,
    })
}

fn lset(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let fill = fill(ctx);
    let Some(l) = write_list(ctx, &argv[1])? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    match resolve_index(index, l.len()) {
        Some(i) if l.set(i, &argv[3], fill) => {
            ctx.notify(LIST, "lset", &argv[1]);
            Ok(Reply::Ok)
        }
        _ => Err(CmdError::msg("ERR index out of range")),
    }
}

fn linsert(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let after = if is(&argv[2], "after") {
        true
    } else if is(&argv[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let fill = fill(ctx);
    let Some(l) = write_list(ctx, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    if l.insert(&argv[3], &argv[4], after, fill) {
        let n = l.len() as i64;
        ctx.notify(LIST, "linsert", &argv[1]);
        Ok(Reply::Int(n))
    } else {
        Ok(Reply::Int(-1))
    }
}

fn lrem(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let count = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    let fill = fill(ctx);
    let Some(l) = write_list(ctx, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    let n = l.remove(&argv[3], count, fill);
    if n > 0 {
        ctx.notify(LIST, "lrem", &argv[1]);
    }
    drop_if_empty(ctx, &argv[1]);
    Ok(Reply::Int(n as i64))
}

fn ltrim(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let mut a = Args::at(argv, 2);
    let start = a.i64()?;
    let end = a.i64()?;
    let fill = fill(ctx);
    let Some(l) = write_list(ctx, &argv[1])? else {
        return Ok(Reply::Ok);
    };
    let keep = resolve_range(start, end, l.len());
    l.trim(keep, fill);
    ctx.notify(LIST, "ltrim", &argv[1]);
    drop_if_empty(ctx, &argv[1]);
    Ok(Reply::Ok)
}

/// Redis's getPositiveLongFromObjectOrReply with a custom message.
fn positive(arg: &[u8], msg: &'static str) -> CmdResult<i64> {
    match numfmt::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::msg(msg)),
    }
}

fn lpos(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let elem = &argv[2];
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if is(&argv[j], "rank") && more {
            j += 1;
            rank = numfmt::parse_i64(&argv[j]).ok_or(CmdError::NotInteger)?;
            if rank == i64::MIN {
                return Err(CmdError::msg("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"));
            }
            if rank == 0 {
                return Err(CmdError::msg("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
        } else if is(&argv[j], "count") && more {
            j += 1;
            count = Some(positive(&argv[j], "ERR COUNT can't be negative")?);
        } else if is(&argv[j], "maxlen") && more {
            j += 1;
            maxlen = positive(&argv[j], "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs();
    let Some(l) = read_list(ctx, &argv[1])? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let len = l.len();
    let limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let mut matches: u64 = 0;
    let mut out = Vec::new();
    let it: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    for (i, x) in it.enumerate().take(limit) {
        if x != &elem[..] {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let pos = if from_tail { len - 1 - i } else { i };
        match count {
            None => return Ok(Reply::Int(pos as i64)),
            Some(c) => {
                out.push(Reply::Int(pos as i64));
                if c != 0 && matches - rank + 1 >= c as u64 {
                    break;
                }
            }
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(out),
        None => Reply::Nil,
    })
}

/// LEFT or RIGHT; true for LEFT.
fn side(arg: &[u8]) -> CmdResult<bool> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// LMOVE's core: pops from `src` and pushes to `dst` (both on this shard).
/// `Ok(None)` when the source is missing.
fn move_one(
    ctx: &mut ShardCtx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> CmdResult<Option<Bytes>> {
    if write_list(ctx, src)?.is_none() {
        return Ok(None);
    }
    write_list(ctx, dst)?;
    let fill = fill(ctx);
    let Some(v) = write_list(ctx, src)?.and_then(|l| l.pop(from_left)) else {
        return Ok(None);
    };
    match write_list(ctx, dst)? {
        Some(l) => l.push(&v, to_left, fill),
        None => {
            let mut l = List::new();
            l.push(&v, to_left, fill);
            let now = ctx.shard.now_ms();
            ctx.shard.dbs[ctx.db].insert(dst, Value::List(Box::new(l)), now);
        }
    }
    ctx.notify(LIST, push_event(to_left), dst);
    if let Some(l) = write_list(ctx, src)? {
        l.shrink_check(fill);
    }
    ctx.notify(LIST, pop_event(from_left), src);
    drop_if_empty(ctx, src);
    Ok(Some(Bytes::from(v)))
}

/// The source half of a cross-shard BLMOVE: pops one element with its
/// events (the destination's shard pushes it with [`push_one`]).
fn pop_for_move(ctx: &mut ShardCtx<'_>, src: &[u8], from_left: bool) -> Option<Bytes> {
    let fill = fill(ctx);
    let l = write_list(ctx, src).ok()??;
    let v = l.pop(from_left)?;
    l.shrink_check(fill);
    ctx.notify(LIST, pop_event(from_left), src);
    drop_if_empty(ctx, src);
    Some(Bytes::from(v))
}

/// The destination half: pushes `v` on `key` (creating the list), or
/// WRONGTYPE with nothing changed.
fn push_one(ctx: &mut ShardCtx<'_>, key: &[u8], v: &[u8], left: bool) -> CmdResult<()> {
    let fill = fill(ctx);
    match write_list(ctx, key)? {
        Some(l) => l.push(v, left, fill),
        None => {
            let mut l = List::new();
            l.push(v, left, fill);
            let now = ctx.shard.now_ms();
            ctx.shard.dbs[ctx.db].insert(key, Value::List(Box::new(l)), now);
        }
    }
    ctx.notify(LIST, push_event(left), key);
    Ok(())
}

fn lmove(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let from = side(&argv[3])?;
    let to = side(&argv[4])?;
    Ok(move_one(ctx, &argv[1], &argv[2], from, to)?.map_or(Reply::Nil, Reply::Bulk))
}

fn rpoplpush(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(move_one(ctx, &argv[1], &argv[2], false, true)?.map_or(Reply::Nil, Reply::Bulk))
}

/// The parsed arguments of LMPOP / BLMPOP.
struct Mpop {
    keys: Vec<Bytes>,
    left: bool,
    count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]` from `at` (Redis's
/// lmpopGenericCommand order of checks).
fn parse_mpop(argv: &[Bytes], at: usize) -> CmdResult<Mpop> {
    let numkeys = match argv.get(at).and_then(|b| numfmt::parse_i64(b)) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(CmdError::msg("ERR numkeys should be greater than 0")),
    };
    let where_idx = at.checked_add(numkeys).and_then(|w| w.checked_add(1));
    let Some(where_idx) = where_idx.filter(|&w| w < argv.len()) else {
        return Err(CmdError::Syntax);
    };
    let left = side(&argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && is(&argv[j], "count") && j + 1 < argv.len() {
            j += 1;
            match numfmt::parse_i64(&argv[j]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(CmdError::msg("ERR count should be greater than 0")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(Mpop {
        keys: argv[at + 1..where_idx].to_vec(),
        left,
        count: count.unwrap_or(1),
    })
}

/// Key positions of `numkeys key...` at `at`; none when numkeys is invalid,
/// so the handler runs and gives Redis's error.
fn numkeys_positions(argv: &[Bytes], at: usize) -> Vec<usize> {
    match argv.get(at).and_then(|b| numfmt::parse_i64(b)) {
        Some(n) if n >= 1 && (n as u64) < argv.len().saturating_sub(at) as u64 => {
            (at + 1..=at + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

fn lmpop_keys(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    Ok(numkeys_positions(argv, 1))
}

fn blmpop_keys(argv: &[Bytes]) -> Result<Vec<usize>, &'static str> {
    Ok(numkeys_positions(argv, 2))
}

/// Pops from the first non-empty list of `keys`: `[key, [elements]]`.
fn mpop_first(
    ctx: &mut ShardCtx<'_>,
    keys: &[Bytes],
    left: bool,
    count: usize,
) -> CmdResult<Option<Reply>> {
    for k in keys {
        if let Some(items) = pop_n(ctx, k, left, count)? {
            return Ok(Some(Reply::Array(vec![
                Reply::Bulk(k.clone()),
                Reply::Array(items),
            ])));
        }
    }
    Ok(None)
}

fn lmpop(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let m = parse_mpop(argv, 1)?;
    Ok(mpop_first(ctx, &m.keys, m.left, m.count)?.unwrap_or(Reply::NilArray))
}

// ---------------------------------------------------------------------------
// Blocking commands
// ---------------------------------------------------------------------------

/// Parses a blocking command's timeout (seconds, sub-second precision) as
/// Redis 7.4's getTimeoutFromObjectOrReply: milliseconds, rounded up; 0
/// means forever.
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> CmdResult<u64> {
    let f = match numfmt::parse_long_double(arg) {
        Some(f) if !f.is_nan() => f,
        _ => return Err(CmdError::msg("ERR timeout is not a float or out of range")),
    };
    let ms = f * 1000.0;
    if ms > i64::MAX as f64 {
        return Err(CmdError::msg("ERR timeout is out of range"));
    }
    let ms = ms.ceil() as i64;
    if ms < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if ms > 0 && ms > i64::MAX - now_ms as i64 {
        return Err(CmdError::msg("ERR timeout is out of range"));
    }
    Ok(ms as u64)
}

/// What a blocked client does once one of its keys holds a list.
#[derive(Clone)]
enum Op {
    /// BLPOP / BRPOP: `[key, element]`.
    Pop { left: bool },
    /// BLMPOP: `[key, [elements]]`.
    MPop { left: bool, count: usize },
    /// BLMOVE / BRPOPLPUSH: the element, pushed to `dst`.
    Move {
        from_left: bool,
        to_left: bool,
        dst: Bytes,
    },
}

impl Op {
    /// Serves from `key`, which the caller knows holds a non-empty list.
    fn apply(&self, ctx: &mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Reply> {
        match self {
            Op::Pop { left } => {
                let v = pop_n(ctx, key, *left, 1)?.and_then(|mut v| v.pop());
                Ok(Reply::Array(vec![
                    Reply::bulk(key),
                    v.unwrap_or(Reply::Nil),
                ]))
            }
            Op::MPop { left, count } => Ok(Reply::Array(vec![
                Reply::bulk(key),
                Reply::Array(pop_n(ctx, key, *left, *count)?.unwrap_or_default()),
            ])),
            Op::Move {
                from_left,
                to_left,
                dst,
            } => Ok(move_one(ctx, key, dst, *from_left, *to_left)?.map_or(Reply::Nil, Reply::Bulk)),
        }
    }

    /// The reply when the timeout expires: a null array for every list
    /// command (Redis's replyToBlockedClientTimedOut), BLMOVE included.
    fn timeout_reply(&self) -> Reply {
        Reply::NilArray
    }

    /// The reply when the command can't block (MULTI, scripts): BLMOVE
    /// answers a null bulk there, as LMOVE would.
    fn nonblocking_reply(&self) -> Reply {
        match self {
            Op::Move { .. } => Reply::Nil,
            _ => Reply::NilArray,
        }
    }

    /// The first non-empty list among `keys`, or WRONGTYPE for a key of
    /// another type met first (Redis's blockingPopGenericCommand loop).
    fn try_now(&self, ctx: &mut ShardCtx<'_>, keys: &[Bytes]) -> CmdResult<Option<Reply>> {
        for k in keys {
            if write_list(ctx, k)?.is_some() {
                return self.apply(ctx, k).map(Some);
            }
        }
        Ok(None)
    }
}

/// A parsed blocking command.
struct Blocking {
    keys: Vec<Bytes>,
    timeout_ms: u64,
    op: Op,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn parse_bpop(argv: &[Bytes], left: bool) -> CmdResult<Blocking> {
    let timeout_ms = parse_timeout(&argv[argv.len() - 1], now_ms())?;
    Ok(Blocking {
        keys: argv[1..argv.len() - 1].to_vec(),
        timeout_ms,
        op: Op::Pop { left },
    })
}

fn parse_blmove(argv: &[Bytes]) -> CmdResult<Blocking> {
    let from_left = side(&argv[3])?;
    let to_left = side(&argv[4])?;
    let timeout_ms = parse_timeout(&argv[5], now_ms())?;
    Ok(Blocking {
        keys: vec![argv[1].clone()],
        timeout_ms,
        op: Op::Move {
            from_left,
            to_left,
            dst: argv[2].clone(),
        },
    })
}

fn parse_brpoplpush(argv: &[Bytes]) -> CmdResult<Blocking> {
    let timeout_ms = parse_timeout(&argv[3], now_ms())?;
    Ok(Blocking {
        keys: vec![argv[1].clone()],
        timeout_ms,
        op: Op::Move {
            from_left: false,
            to_left: true,
            dst: argv[2].clone(),
        },
    })
}

fn parse_blmpop(argv: &[Bytes]) -> CmdResult<Blocking> {
    let m = parse_mpop(argv, 2)?;
    let timeout_ms = parse_timeout(&argv[1], now_ms())?;
    Ok(Blocking {
        keys: m.keys,
        timeout_ms,
        op: Op::MPop {
            left: m.left,
            count: m.count,
        },
    })
}

/// Runs a parsed blocking command without blocking.
fn run_now(ctx: &mut ShardCtx<'_>, b: CmdResult<Blocking>) -> CmdResult<Reply> {
    let b = b?;
    Ok(b.op
        .try_now(ctx, &b.keys)?
        .unwrap_or_else(|| b.op.nonblocking_reply()))
}

fn blpop_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_bpop(argv, true))
}
fn brpop_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_bpop(argv, false))
}
fn blmove_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_blmove(argv))
}
fn brpoplpush_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_brpoplpush(argv))
}
fn blmpop_now(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    run_now(ctx, parse_blmpop(argv))
}

/// Hands a parsed blocking command to the blocking machinery.
fn block(ctx: &mut ConnCtx, b: CmdResult<Blocking>) -> CmdFuture<'_> {
    Box::pin(async move {
        let b = b?;
        let op = b.op.clone();
        let op2 = b.op.clone();
        let timeout_reply = b.op.timeout_reply();
        // Keys the attempt may fill (BLMOVE's destination) get their waiters served.
        let extra = match &b.op {
            Op::Move { dst, .. } => vec![dst.clone()],
            _ => Vec::new(),
        };
        let nshards = ctx.worker.shared.nshards;
        // A cross-shard BLMOVE pops here and sends the element on to the
        // destination's shard (see `blocking`).
        let remote = match &b.op {
            Op::Move {
                from_left,
                to_left,
                dst,
            } => Some((
                crate::slot::shard_of(dst, nshards),
                *from_left,
                *to_left,
                dst.clone(),
            )),
            _ => None,
        };
        let req = BlockRequest {
            keys: b.keys,
            extra_keys: extra,
            timeout_ms: b.timeout_ms,
            timeout_reply,
            attempt: std::sync::Arc::new(move |sctx: &mut ShardCtx<'_>, keys: &[Bytes]| {
                op.try_now(sctx, keys)
            }),
            serve: std::sync::Arc::new(
                move |sctx: &mut ShardCtx<'_>, key: &[u8], claim: &dyn Fn() -> bool| {
                    match write_list(sctx, key) {
                        Ok(Some(l)) if !l.is_empty() => {}
                        _ => return Served::NotReady,
                    }
                    if !claim() {
                        return Served::Gone;
                    }
                    match &remote {
                        Some((s, from_left, to_left, dst)) if *s != sctx.shard.id => {
                            match pop_for_move(sctx, key, *from_left) {
                                Some(value) => Served::Move(blocking::Transfer {
                                    src: Bytes::copy_from_slice(key),
                                    from_left: *from_left,
                                    dst: dst.clone(),
                                    to_left: *to_left,
                                    value,
                                    push: push_one,
                                }),
                                None => Served::Reply(Reply::Nil, None),
                            }
                        }
                        _ => {
                            let dst = remote.as_ref().map(|r| r.3.clone());
                            match op2.apply(sctx, key) {
                                Ok(r) => Served::Reply(r, dst),
                                Err(e) => Served::Reply(e.into(), None),
                            }
                        }
                    }
                },
            ),
        };
        blocking::block(ctx, req).await
    })
}

fn blpop(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_bpop(&argv, true);
    block(ctx, b)
}
fn brpop(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_bpop(&argv, false);
    block(ctx, b)
}
fn blmove(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_blmove(&argv);
    block(ctx, b)
}
fn brpoplpush(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_brpoplpush(&argv);
    block(ctx, b)
}
fn blmpop(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    let b = parse_blmpop(&argv);
    block(ctx, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis_74() {
        assert_eq!(parse_timeout(b"0", 1000), Ok(0));
        assert_eq!(parse_timeout(b"0.0001", 1000), Ok(1));
        assert_eq!(parse_timeout(b"1.5", 1000), Ok(1500));
        assert!(parse_timeout(b"-1", 1000).is_err());
        assert_eq!(
            parse_timeout(b"inf", 1000).unwrap_err().message(),
            "ERR timeout is out of range"
        );
        assert_eq!(
            parse_timeout(b"-inf", 1000).unwrap_err().message(),
            "ERR timeout is negative"
        );
        assert_eq!(
            parse_timeout(b"x", 1000).unwrap_err().message(),
            "ERR timeout is not a float or out of range"
        );
    }

    #[test]
    fn mpop_parsing() {
        let v = |s: &[&str]| {
            s.iter()
                .map(|x| Bytes::copy_from_slice(x.as_bytes()))
                .collect::<Vec<_>>()
        };
        assert!(parse_mpop(&v(&["lmpop", "0", "l", "left"]), 1).is_err());
        assert!(parse_mpop(&v(&["lmpop", "9223372036854775807", "l", "left"]), 1).is_err());
        let m = parse_mpop(&v(&["lmpop", "2", "a", "b", "right", "count", "3"]), 1).unwrap();
        assert_eq!(m.keys.len(), 2);
        assert!(!m.left);
        assert_eq!(m.count, 3);
        assert_eq!(
            numkeys_positions(&v(&["lmpop", "2", "a", "b", "left"]), 1),
            vec![2, 3]
        );
        assert!(numkeys_positions(&v(&["lmpop", "5", "a", "left"]), 1).is_empty());
    }
}
