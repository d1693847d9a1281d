//! String commands (Redis's `t_string.c`).
//!
//! Encodings follow Redis so `OBJECT ENCODING` agrees: values written whole
//! (SET, SETNX, SETEX, PSETEX, GETSET, MSET, MSETNX, APPEND on a new key)
//! take `int`/`embstr`/`raw` by [`Str::from_bytes`]; INCR and friends store
//! `int` and update it in place; INCRBYFLOAT stores its text as
//! `embstr`/`raw` (never `int`, as Redis); APPEND and SETRANGE on an existing
//! value, and SETRANGE on a new key, make `raw`.
//!
//! Order of checks matters for which error a client sees; each handler
//! follows Redis's order (option syntax, then numbers, then the key's type).

use crate::command::flags::*;
use crate::command::{row, CommandSpec, Exec, KeySpec, Keys, ShardCtx, KEY1, KEY1_2};
use crate::config::notify::{GENERIC, STRING};
use bytes::Bytes;
use storage::numfmt;
use storage::numfmt::LongDouble;
use storage::value::EMBSTR_MAX;
use storage::{CmdError, CmdResult, Reply, Str, Value};

/// MSET and MSETNX: every other argument from 1 is a key.
const KEYS_STEP2: Keys = Keys::Range {
    first: 1,
    last: -1,
    step: 2,
};

/// The string family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("get", 2, READONLY | FAST, KEY1, Exec::Shard(get))
        .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
        .acl(&["read", "string", "fast"])
        .doc("string", "1.0.0", "Returns the string value of a key.", "O(1)"),
    row("set", -3, WRITE | DENYOOM, KEY1, Exec::Shard(set))
        .history(&[
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
        ])
        .key_specs(&[
            KeySpec::at(&["RW", "access", "update", "variable_flags"], 1)
                .notes("RW and ACCESS due to the optional `GET` argument"),
        ])
        .acl(&["write", "string", "slow"])
        .doc(
            "string",
            "1.0.0",
            "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
            "O(1)",
        ),
    row("setnx", 3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(setnx))
        .key_specs(&[KeySpec::at(&["OW", "insert"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "1.0.0",
            "Set the string value of a key only when the key doesn't exist.",
            "O(1)",
        ),
    row("setex", 4, WRITE | DENYOOM, KEY1, Exec::Shard(setex))
        .key_specs(&[KeySpec::at(&["OW", "update"], 1)])
        .acl(&["write", "string", "slow"])
        .doc(
            "string",
            "2.0.0",
            "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
            "O(1)",
        ),
    row("psetex", 4, WRITE | DENYOOM, KEY1, Exec::Shard(psetex))
        .key_specs(&[KeySpec::at(&["OW", "update"], 1)])
        .acl(&["write", "string", "slow"])
        .doc(
            "string",
            "2.6.0",
            "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
            "O(1)",
        ),
    row("getset", 3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(getset))
        .deprecated("6.2.0", "`SET` with the `!GET` argument")
        .key_specs(&[KeySpec::at(&["RW", "access", "update"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "1.0.0",
            "Returns the previous string value of a key after setting it to a new value.",
            "O(1)",
        ),
    row("getdel", 2, WRITE | FAST, KEY1, Exec::Shard(getdel))
        .key_specs(&[KeySpec::at(&["RW", "access", "delete"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "6.2.0",
            "Returns the string value of a key after deleting the key.",
            "O(1)",
        ),
    row("getex", -2, WRITE | FAST, KEY1, Exec::Shard(getex))
        .key_specs(&[
            KeySpec::at(&["RW", "access", "update"], 1)
                .notes("RW and UPDATE because it changes the TTL"),
        ])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "6.2.0",
            "Returns the string value of a key after setting its expiration time.",
            "O(1)",
        ),
    row("mget", -2, READONLY | FAST, crate::command::ALL_KEYS, Exec::Shard(mget))
        .key_specs(&[KeySpec::range(&["RO", "access"], 1, -1, 1)])
        .acl(&["read", "string", "fast"])
        .tips(&["request_policy:multi_shard"])
        .doc(
            "string",
            "1.0.0",
            "Atomically returns the string values of one or more keys.",
            "O(N) where N is the number of keys to retrieve.",
        ),
    row("mset", -3, WRITE | DENYOOM, KEYS_STEP2, Exec::Shard(mset))
        .key_specs(&[KeySpec::range(&["OW", "update"], 1, -1, 2)])
        .acl(&["write", "string", "slow"])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .doc(
            "string",
            "1.0.1",
            "Atomically creates or modifies the string values of one or more keys.",
            "O(N) where N is the number of keys to set.",
        ),
    row("msetnx", -3, WRITE | DENYOOM, KEYS_STEP2, Exec::Shard(msetnx))
        .key_specs(&[KeySpec::range(&["OW", "insert"], 1, -1, 2)])
        .acl(&["write", "string", "slow"])
        .doc(
            "string",
            "1.0.1",
            "Atomically modifies the string values of one or more keys only when all keys don't exist.",
            "O(N) where N is the number of keys to set.",
        ),
    row("incr", 2, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(incr))
        .key_specs(&[KeySpec::at(&["RW", "access", "update"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "1.0.0",
            "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
            "O(1)",
        ),
    row("decr", 2, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(decr))
        .key_specs(&[KeySpec::at(&["RW", "access", "update"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "1.0.0",
            "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
            "O(1)",
        ),
    row("incrby", 3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(incrby))
        .key_specs(&[KeySpec::at(&["RW", "access", "update"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "1.0.0",
            "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
            "O(1)",
        ),
    row("decrby", 3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(decrby))
        .key_specs(&[KeySpec::at(&["RW", "access", "update"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "1.0.0",
            "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
            "O(1)",
        ),
    row("incrbyfloat", 3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(incrbyfloat))
        .key_specs(&[KeySpec::at(&["RW", "access", "update"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "2.6.0",
            "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
            "O(1)",
        ),
    row("append", 3, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(append))
        .key_specs(&[KeySpec::at(&["RW", "insert"], 1)])
        .acl(&["write", "string", "fast"])
        .doc(
            "string",
            "2.0.0",
            "Appends a string to the value of a key. Creates the key if it doesn't exist.",
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        ),
    row("strlen", 2, READONLY | FAST, KEY1, Exec::Shard(strlen))
        .key_specs(&[KeySpec::at(&["RO"], 1)])
        .acl(&["read", "string", "fast"])
        .doc(
            "string",
            "2.2.0",
            "Returns the length of a string value.",
            "O(1)",
        ),
    row("getrange", 4, READONLY, KEY1, Exec::Shard(getrange))
        .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
        .acl(&["read", "string", "slow"])
        .doc(
            "string",
            "2.4.0",
            "Returns a substring of the string stored at a key.",
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        ),
    row("substr", 4, READONLY, KEY1, Exec::Shard(getrange))
        .deprecated("2.0.0", "`GETRANGE`")
        .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
        .acl(&["read", "string", "slow"])
        .doc(
            "string",
            "1.0.0",
            "Returns a substring from a string value.",
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        ),
    row("setrange", 4, WRITE | DENYOOM, KEY1, Exec::Shard(setrange))
        .key_specs(&[KeySpec::at(&["RW", "update"], 1)])
        .acl(&["write", "string", "slow"])
        .doc(
            "string",
            "2.2.0",
            "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
            "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        ),
    row("lcs", -3, READONLY, KEY1_2, Exec::Shard(lcs))
        .key_specs(&[KeySpec::range(&["RO", "access"], 1, 1, 1)])
        .acl(&["read", "string", "slow"])
        .doc(
            "string",
            "7.0.0",
            "Finds the longest common substring.",
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        ),
];

/// The string at `key` for reading: `None` if absent, WRONGTYPE if not a string.
pub fn read_str<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a Str>> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    match ctx.shard.dbs[ctx.db].lookup_read(key, now, touch) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s)),
            #[allow(unreachable_patterns)]
            _ => Err(CmdError::WrongType),
        },
    }
}

/// Redis's getGenericCommand: the value as a bulk reply, nil if absent.
fn get_reply(ctx: &mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Reply> {
    Ok(match read_str(ctx, key)? {
        Some(s) => Reply::Bulk(s.to_bytes()),
        None => Reply::Nil,
    })
}

/// The string inside a value that must be one (WRONGTYPE otherwise).
fn as_str_mut(v: &mut Value) -> CmdResult<&mut Str> {
    match v {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(CmdError::WrongType),
    }
}

/// A value built by a command (INCRBYFLOAT) rather than taken from an
/// argument: Redis creates it with `createStringObject`, so `embstr` up to
/// 44 bytes and `raw` beyond, never `int`.
fn built_str(b: &[u8]) -> Str {
    if b.len() <= EMBSTR_MAX {
        Str::Emb(storage::small::SmallBytes::new(b))
    } else {
        Str::Flat(b.into())
    }
}

/// The part of an option argument Redis compares: its C string, up to the
/// first NUL byte (Redis matches options with `strcasecmp` and byte tests
/// on the NUL-terminated buffer).
fn c_word(a: &[u8]) -> &[u8] {
    match a.iter().position(|&b| b == 0) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// Option bits of SET and GETEX (Redis's `OBJ_*` flags).
mod opt {
    pub const NX: u32 = 1 << 0;
    pub const XX: u32 = 1 << 1;
    pub const EX: u32 = 1 << 2;
    pub const PX: u32 = 1 << 3;
    pub const KEEPTTL: u32 = 1 << 4;
    pub const GET: u32 = 1 << 5;
    pub const EXAT: u32 = 1 << 6;
    pub const PXAT: u32 = 1 << 7;
    pub const PERSIST: u32 = 1 << 8;
    /// The four ways to give an expiry.
    pub const EXPIRES: u32 = EX | PX | EXAT | PXAT;
}

/// Which command's options are parsed: SET takes NX/XX/GET/KEEPTTL,
/// GETEX takes PERSIST; both take the four expiries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum OptsFor {
    Set,
    Getex,
}

/// Parsed SET/GETEX options. The expiry amount stays unparsed: Redis
/// reports a syntax error anywhere in the options before it looks at the
/// number.
#[derive(Debug, PartialEq, Eq)]
struct ExtOptions<'a> {
    flags: u32,
    /// The expiry argument, with the option (one of `opt::EXPIRES`) that gave it.
    expire: Option<(u32, &'a [u8])>,
}

impl ExtOptions<'_> {
    fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// Redis's parseExtendedStringArgumentsOrReply. An option may repeat (the
/// last expiry amount wins), but NX excludes XX, and the expiries, KEEPTTL
/// and PERSIST exclude each other.
fn parse_ext_options(argv: &[Bytes], which: OptsFor) -> CmdResult<ExtOptions<'_>> {
    use opt::*;
    let set = which == OptsFor::Set;
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = if set { 3 } else { 2 };
    while j < argv.len() {
        let o = c_word(&argv[j]);
        let has_next = j + 1 < argv.len();
        let is = |w: &str| o.eq_ignore_ascii_case(w.as_bytes());
        let expire_kind = if is("EX") {
            EX
        } else if is("PX") {
            PX
        } else if is("EXAT") {
            EXAT
        } else if is("PXAT") {
            PXAT
        } else {
            0
        };
        if set && is("NX") && flags & XX == 0 {
            flags |= NX;
        } else if set && is("XX") && flags & NX == 0 {
            flags |= XX;
        } else if set && is("GET") {
            flags |= GET;
        } else if set && is("KEEPTTL") && flags & (PERSIST | EXPIRES) == 0 {
            flags |= KEEPTTL;
        } else if !set && is("PERSIST") && flags & (KEEPTTL | EXPIRES) == 0 {
            flags |= PERSIST;
        } else if expire_kind != 0
            && flags & (KEEPTTL | PERSIST | (EXPIRES & !expire_kind)) == 0
            && has_next
        {
            flags |= expire_kind;
            expire = Some((expire_kind, &argv[j + 1][..]));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(ExtOptions { flags, expire })
}

/// Redis's getExpireMillisecondsOrReply: the absolute deadline in ms for
/// an expiry option `kind` (one of `opt::EXPIRES`) and its argument.
fn ext_deadline(kind: u32, arg: &[u8], now_ms: u64, cmd: &str) -> CmdResult<u64> {
    let v = numfmt::parse_i64(arg).ok_or(CmdError::NotInteger)?;
    let unit: &[u8] = match kind {
        opt::EX => b"EX",
        opt::PX => b"PX",
        opt::EXAT => b"EXAT",
        _ => b"PXAT",
    };
    expire_deadline(unit, v, now_ms, cmd)
}

/// Converts an EX/PX/EXAT/PXAT amount into an absolute deadline in ms,
/// with Redis's checks: the amount must be positive, seconds must not
/// overflow when turned into ms, and the sum with the current time (for
/// the relative forms) must stay positive and not overflow.
pub fn expire_deadline(unit: &[u8], v: i64, now_ms: u64, cmd: &str) -> CmdResult<u64> {
    let err = || CmdError::InvalidExpire(cmd.to_string());
    if v <= 0 {
        return Err(err());
    }
    let seconds = unit.eq_ignore_ascii_case(b"EX") || unit.eq_ignore_ascii_case(b"EXAT");
    let relative = unit.eq_ignore_ascii_case(b"EX") || unit.eq_ignore_ascii_case(b"PX");
    let mut ms = if seconds {
        v.checked_mul(1000).ok_or_else(err)?
    } else {
        v
    };
    if relative {
        let now = i64::try_from(now_ms).map_err(|_| err())?;
        ms = ms.checked_add(now).ok_or_else(err)?;
    }
    if ms <= 0 {
        return Err(err());
    }
    Ok(ms as u64)
}

fn get(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    get_reply(ctx, &argv[1])
}

/// Redis's setGenericCommand: SET and its relatives. `ok` is the reply
/// when the value was written, `abort` when NX/XX stopped it; with GET
/// the reply is the old value either way.
fn set_generic(
    ctx: &mut ShardCtx<'_>,
    key: &[u8],
    value: &[u8],
    flags: u32,
    deadline: Option<u64>,
    ok: Reply,
    abort: Reply,
) -> CmdResult<Reply> {
    let old = if flags & opt::GET != 0 {
        Some(get_reply(ctx, key)?)
    } else {
        None
    };
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let existing = db.lookup_write(key, now);
    let found = existing.is_some();
    if (flags & opt::NX != 0 && found) || (flags & opt::XX != 0 && !found) {
        return Ok(old.unwrap_or(abort));
    }
    let expire_at = match deadline {
        Some(d) => Some(d),
        None if flags & opt::KEEPTTL != 0 => existing.and_then(|e| e.expire_at()),
        None => None,
    };
    db.insert_with_expire(key, Value::Str(Str::from_bytes(value)), expire_at, now);
    ctx.notify(STRING, "set", key);
    if deadline.is_some() {
        ctx.event(GENERIC, "expire", key);
    }
    Ok(old.unwrap_or(ok))
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let o = parse_ext_options(argv, OptsFor::Set)?;
    let now = ctx.shard.now_ms();
    let deadline = match o.expire {
        Some((kind, arg)) => Some(ext_deadline(kind, arg, now, "set")?),
        None => None,
    };
    set_generic(
        ctx,
        &argv[1],
        &argv[2],
        o.flags,
        deadline,
        Reply::Ok,
        Reply::Nil,
    )
}

/// SETNX key value
fn setnx(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    set_generic(
        ctx,
        &argv[1],
        &argv[2],
        opt::NX,
        None,
        Reply::Int(1),
        Reply::Int(0),
    )
}

/// SETEX key seconds value
fn setex(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let deadline = ext_deadline(opt::EX, &argv[2], now, "setex")?;
    set_generic(
        ctx,
        &argv[1],
        &argv[3],
        opt::EX,
        Some(deadline),
        Reply::Ok,
        Reply::Nil,
    )
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let deadline = ext_deadline(opt::PX, &argv[2], now, "psetex")?;
    set_generic(
        ctx,
        &argv[1],
        &argv[3],
        opt::PX,
        Some(deadline),
        Reply::Ok,
        Reply::Nil,
    )
}

/// GETSET key value: the old value; the new one replaces it and its TTL.
fn getset(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let old = get_reply(ctx, &argv[1])?;
    let now = ctx.shard.now_ms();
    ctx.shard.dbs[ctx.db].insert(&argv[1], Value::Str(Str::from_bytes(&argv[2])), now);
    ctx.notify(STRING, "set", &argv[1]);
    Ok(old)
}

/// GETDEL key
fn getdel(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let reply = get_reply(ctx, &argv[1])?;
    if !matches!(reply, Reply::Nil) {
        ctx.shard.dbs[ctx.db].remove(&argv[1]);
        ctx.notify(GENERIC, "del", &argv[1]);
    }
    Ok(reply)
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
fn getex(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let o = parse_ext_options(argv, OptsFor::Getex)?;
    let key = &argv[1];
    // A missing key answers nil before the expiry amount is looked at.
    let reply = get_reply(ctx, key)?;
    if matches!(reply, Reply::Nil) {
        return Ok(reply);
    }
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    match o.expire {
        Some((kind, arg)) => {
            let deadline = ext_deadline(kind, arg, now, "getex")?;
            // An absolute time already past deletes the key at once.
            if kind & (opt::EXAT | opt::PXAT) != 0 && deadline <= now {
                db.remove(key);
                ctx.notify(GENERIC, "del", key);
            } else {
                db.set_expire(key, Some(deadline));
                ctx.notify(GENERIC, "expire", key);
            }
        }
        None if o.has(opt::PERSIST) => {
            let had = db.peek(key, now).and_then(|e| e.expire_at()).is_some();
            if had {
                db.set_expire(key, None);
                ctx.notify(GENERIC, "persist", key);
            }
        }
        None => {}
    }
    Ok(reply)
}

/// MGET key [key ...]: nil for missing keys and for non-strings.
fn mget(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let db = &mut ctx.shard.dbs[ctx.db];
    let out = argv[1..]
        .iter()
        .map(|k| match db.lookup_read(k, now, touch) {
            Some(e) => match &e.value {
                Value::Str(s) => Reply::Bulk(s.to_bytes()),
                #[allow(unreachable_patterns)]
                _ => Reply::Nil,
            },
            None => Reply::Nil,
        })
        .collect();
    Ok(Reply::Array(out))
}

/// MSET and MSETNX (`nx`): pairs of key and value.
fn mset_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], nx: bool) -> CmdResult<Reply> {
    // The name and the pairs make an odd count.
    if argv.len() % 2 != 1 {
        let name = if nx { "msetnx" } else { "mset" };
        return Err(CmdError::WrongArity(name.to_string()));
    }
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    if nx {
        for pair in argv[1..].chunks_exact(2) {
            if db.lookup_write(&pair[0], now).is_some() {
                return Ok(Reply::Int(0));
            }
        }
    }
    for pair in argv[1..].chunks_exact(2) {
        ctx.shard.dbs[ctx.db].insert(&pair[0], Value::Str(Str::from_bytes(&pair[1])), now);
        ctx.notify(STRING, "set", &pair[0]);
    }
    Ok(if nx { Reply::Int(1) } else { Reply::Ok })
}

/// MSET key value [key value ...]
fn mset(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    mset_generic(ctx, argv, false)
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    mset_generic(ctx, argv, true)
}

/// Redis's incrDecrCommand. An `int` value is updated in place; the TTL stays.
fn incr_decr(ctx: &mut ShardCtx<'_>, key: &[u8], by: i64) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    if let Some(e) = db.lookup_write(key, now) {
        let s = as_str_mut(&mut e.value)?;
        let old = match s {
            Str::Int(n) => *n,
            Str::Emb(b) => numfmt::parse_i64(b).ok_or(CmdError::NotInteger)?,
            Str::Flat(v) => numfmt::parse_i64(v).ok_or(CmdError::NotInteger)?,
            Str::Raw(v) => numfmt::parse_i64(v).ok_or(CmdError::NotInteger)?,
        };
        let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
        *s = Str::Int(new);
        ctx.notify(STRING, "incrby", key);
        return Ok(Reply::Int(new));
    }
    db.insert(key, Value::Str(Str::Int(by)), now);
    ctx.notify(STRING, "incrby", key);
    Ok(Reply::Int(by))
}

/// INCR key
fn incr(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    incr_decr(ctx, &argv[1], 1)
}

/// DECR key
fn decr(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    incr_decr(ctx, &argv[1], -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let by = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    incr_decr(ctx, &argv[1], by)
}

/// DECRBY key decrement
fn decrby(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let by = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    // Negating LLONG_MIN overflows; Redis refuses it before the lookup.
    let neg = by
        .checked_neg()
        .ok_or(CmdError::msg("ERR decrement would overflow"))?;
    incr_decr(ctx, &argv[1], neg)
}

/// INCRBYFLOAT key increment. The result is stored as its text (Redis
/// replicates it as a SET of that text), keeping the TTL.
fn incrbyfloat(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    // Redis computes in 80-bit long double; LongDouble reproduces it exactly.
    let compute = |cur: LongDouble| -> CmdResult<(Str, Bytes)> {
        let by = LongDouble::parse(&argv[2]).ok_or(CmdError::NotFloat)?;
        let v = cur + by;
        if !v.is_finite() {
            return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
        }
        let text = v.to_human_string();
        Ok((built_str(text.as_bytes()), Bytes::from(text)))
    };
    if let Some(e) = db.lookup_write(key, now) {
        let s = as_str_mut(&mut e.value)?;
        let cur = match s {
            Str::Int(n) => LongDouble::from_i64(*n),
            Str::Emb(b) => LongDouble::parse(b).ok_or(CmdError::NotFloat)?,
            Str::Flat(v) => LongDouble::parse(v).ok_or(CmdError::NotFloat)?,
            Str::Raw(v) => LongDouble::parse(v).ok_or(CmdError::NotFloat)?,
        };
        let (new, reply) = compute(cur)?;
        *s = new;
        ctx.notify(STRING, "incrbyfloat", key);
        return Ok(Reply::Bulk(reply));
    }
    let (new, reply) = compute(LongDouble::from_i64(0))?;
    db.insert(key, Value::Str(new), now);
    ctx.notify(STRING, "incrbyfloat", key);
    Ok(Reply::Bulk(reply))
}

/// Redis's checkStringLength: a string of `len + more` bytes must fit
/// proto-max-bulk-len. Checked before anything is allocated.
fn fits_limit(len: u64, more: u64, limit: u64) -> bool {
    len.checked_add(more).is_some_and(|t| t <= limit)
}

/// APPEND key value
fn append(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (key, val) = (&argv[1], &argv[2]);
    let now = ctx.shard.now_ms();
    let limit = ctx.limits.proto_max_bulk_len;
    let db = &mut ctx.shard.dbs[ctx.db];
    if let Some(e) = db.lookup_write(key, now) {
        let s = as_str_mut(&mut e.value)?;
        if !fits_limit(s.len() as u64, val.len() as u64, limit) {
            return Err(CmdError::StringTooLong);
        }
        let buf = s.make_raw();
        buf.extend_from_slice(val);
        let n = buf.len() as i64;
        ctx.notify(STRING, "append", key);
        return Ok(Reply::Int(n));
    }
    db.insert(key, Value::Str(Str::from_bytes(val)), now);
    ctx.notify(STRING, "append", key);
    Ok(Reply::Int(val.len() as i64))
}

/// STRLEN key
fn strlen(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(match read_str(ctx, &argv[1])? {
        Some(s) => s.len() as i64,
        None => 0,
    }))
}

/// Redis's GETRANGE index arithmetic: the byte range of a `len`-byte
/// string that `start`/`end` select, `None` when it is empty.
fn getrange_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    // Both negative and inverted: empty, before any clamping (so that
    // e.g. -1 -100 is empty while 0 -100 gives the first byte, as Redis).
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut start = if start < 0 { start + len } else { start };
    let mut end = if end < 0 { end + len } else { end };
    if start < 0 {
        start = 0;
    }
    if end < 0 {
        end = 0;
    }
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// GETRANGE key start end (and SUBSTR, the same command).
fn getrange(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let start = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    let end = numfmt::parse_i64(&argv[3]).ok_or(CmdError::NotInteger)?;
    let Some(s) = read_str(ctx, &argv[1])? else {
        return Ok(Reply::Bulk(Bytes::new()));
    };
    let mut scratch = Vec::new();
    let bytes = s.as_slice(&mut scratch);
    Ok(match getrange_bounds(start, end, bytes.len()) {
        Some((a, b)) => Reply::bulk(&bytes[a..=b]),
        None => Reply::Bulk(Bytes::new()),
    })
}

/// SETRANGE key offset value
fn setrange(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let offset = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    let val = &argv[3];
    if offset < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let now = ctx.shard.now_ms();
    let limit = ctx.limits.proto_max_bulk_len;
    let fits = |len: u64| fits_limit(offset as u64, len, limit);
    let db = &mut ctx.shard.dbs[ctx.db];
    if let Some(e) = db.lookup_write(key, now) {
        let s = as_str_mut(&mut e.value)?;
        if val.is_empty() {
            return Ok(Reply::Int(s.len() as i64));
        }
        if !fits(val.len() as u64) {
            return Err(CmdError::StringTooLong);
        }
        let (off, end) = (offset as usize, offset as usize + val.len());
        let buf = s.make_raw();
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[off..end].copy_from_slice(val);
        let n = buf.len() as i64;
        ctx.notify(STRING, "setrange", key);
        return Ok(Reply::Int(n));
    }
    if val.is_empty() {
        return Ok(Reply::Int(0));
    }
    if !fits(val.len() as u64) {
        return Err(CmdError::StringTooLong);
    }
    let (off, end) = (offset as usize, offset as usize + val.len());
    let mut buf = vec![0u8; end];
    buf[off..].copy_from_slice(val);
    db.insert(key, Value::Str(Str::Raw(Box::new(buf))), now);
    ctx.notify(STRING, "setrange", key);
    Ok(Reply::Int(end as i64))
}

/// LCS options.
#[derive(Debug, Default, PartialEq, Eq)]
struct LcsOptions {
    len: bool,
    idx: bool,
    withmatchlen: bool,
    minmatchlen: u64,
}

/// Parses LCS's options (from argv[3]).
fn parse_lcs_options(argv: &[Bytes]) -> CmdResult<LcsOptions> {
    let mut o = LcsOptions::default();
    let mut j = 3;
    while j < argv.len() {
        let w = c_word(&argv[j]);
        let more = j + 1 < argv.len();
        if w.eq_ignore_ascii_case(b"IDX") {
            o.idx = true;
        } else if w.eq_ignore_ascii_case(b"LEN") {
            o.len = true;
        } else if w.eq_ignore_ascii_case(b"WITHMATCHLEN") {
            o.withmatchlen = true;
        } else if w.eq_ignore_ascii_case(b"MINMATCHLEN") && more {
            let n = numfmt::parse_i64(&argv[j + 1]).ok_or(CmdError::NotInteger)?;
            o.minmatchlen = n.max(0) as u64;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if o.len && o.idx {
        return Err(CmdError::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// One matching range of LCS IDX: inclusive byte ranges in each string.
#[derive(Debug, PartialEq, Eq)]
struct LcsMatch {
    a: (u32, u32),
    b: (u32, u32),
}

/// The result of [`lcs_compute`].
#[derive(Debug, PartialEq, Eq)]
struct LcsResult {
    len: u32,
    /// The common subsequence (empty unless asked for).
    text: Vec<u8>,
    /// Ranges, from the end of the strings backwards, as Redis emits them.
    matches: Vec<LcsMatch>,
}

/// Bytes of the table Redis builds for LCS of lengths `alen` and `blen`.
fn lcs_table_bytes(alen: usize, blen: usize) -> u128 {
    (alen as u128 + 1) * (blen as u128 + 1) * 4
}

/// The LCS of `a` and `b` by Redis's dynamic programme, walking the table
/// back the way Redis does so ties resolve to the same subsequence and
/// ranges. With `want_text` false and no ranges wanted, only the length is
/// computed, in two rows instead of the full table. Fails only when the
/// table cannot be allocated.
fn lcs_compute(
    a: &[u8],
    b: &[u8],
    want_text: bool,
    want_ranges: bool,
    minmatchlen: u64,
) -> Result<LcsResult, ()> {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    if !want_text && !want_ranges {
        let mut prev: Vec<u32> = Vec::new();
        let mut cur: Vec<u32> = Vec::new();
        prev.try_reserve_exact(w).map_err(|_| ())?;
        cur.try_reserve_exact(w).map_err(|_| ())?;
        prev.resize(w, 0);
        cur.resize(w, 0);
        for i in 1..=alen {
            for j in 1..=blen {
                cur[j] = if a[i - 1] == b[j - 1] {
                    prev[j - 1] + 1
                } else {
                    prev[j].max(cur[j - 1])
                };
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        return Ok(LcsResult {
            len: prev[blen],
            text: Vec::new(),
            matches: Vec::new(),
        });
    }
    let cells = (alen + 1).checked_mul(w).ok_or(())?;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells).map_err(|_| ())?;
    t.resize(cells, 0);
    for i in 1..=alen {
        let (done, row) = t.split_at_mut(i * w);
        let prev = &done[(i - 1) * w..];
        let row = &mut row[..w];
        for j in 1..=blen {
            row[j] = if a[i - 1] == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(row[j - 1])
            };
        }
    }
    let at = |i: usize, j: usize| t[i * w + j];
    let total = at(alen, blen);
    let mut text = vec![0u8; total as usize];
    let mut matches = Vec::new();
    let mut idx = total as usize;
    // Current range; `None` until a match starts one.
    let mut range: Option<LcsMatch> = None;
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
            match &mut range {
                None => {
                    range = Some(LcsMatch {
                        a: (ai, ai),
                        b: (bj, bj),
                    })
                }
                Some(r) => {
                    if r.a.0 == ai + 1 && r.b.0 == bj + 1 {
                        r.a.0 = ai;
                        r.b.0 = bj;
                    } else {
                        emit = true;
                    }
                }
            }
            if let Some(r) = &range {
                if r.a.0 == 0 || r.b.0 == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(r) = range.take() {
                let mlen = (r.a.1 - r.a.0 + 1) as u64;
                if minmatchlen == 0 || mlen >= minmatchlen {
                    matches.push(r);
                }
            }
        }
    }
    Ok(LcsResult {
        len: total,
        text,
        matches,
    })
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let db = &mut ctx.shard.dbs[ctx.db];
    // Look both keys up (as Redis does) before judging their types.
    let mut lens = [0usize; 2];
    let mut wrong = false;
    for (n, key) in [&argv[1], &argv[2]].into_iter().enumerate() {
        if let Some(e) = db.lookup_read(key, now, touch) {
            match &e.value {
                Value::Str(s) => lens[n] = s.len(),
                #[allow(unreachable_patterns)]
                _ => wrong = true,
            }
        }
    }
    if wrong {
        return Err(CmdError::msg(
            "ERR The specified keys must contain string values",
        ));
    }
    let o = parse_lcs_options(argv)?;
    if lens.iter().any(|&l| l as u64 >= u32::MAX as u64 - 1) {
        return Err(CmdError::msg("ERR String too long for LCS"));
    }
    if lcs_table_bytes(lens[0], lens[1]) > ctx.limits.proto_max_bulk_len as u128 {
        return Err(CmdError::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let mut fetch = |key: &[u8]| -> Bytes {
        match db.peek(key, now).map(|e| &e.value) {
            Some(Value::Str(s)) => s.to_bytes(),
            _ => Bytes::new(),
        }
    };
    let a = fetch(&argv[1]);
    let b = fetch(&argv[2]);
    let r = lcs_compute(&a, &b, !o.len && !o.idx, o.idx, o.minmatchlen).map_err(|_| {
        CmdError::msg("ERR Insufficient memory, failed allocating transient memory for LCS")
    })?;
    if o.idx {
        let ranges = r
            .matches
            .iter()
            .map(|m| {
                let mut v = vec![
                    Reply::Array(vec![Reply::Int(m.a.0 as i64), Reply::Int(m.a.1 as i64)]),
                    Reply::Array(vec![Reply::Int(m.b.0 as i64), Reply::Int(m.b.1 as i64)]),
                ];
                if o.withmatchlen {
                    v.push(Reply::Int((m.a.1 - m.a.0 + 1) as i64));
                }
                Reply::Array(v)
            })
            .collect();
        return Ok(Reply::Map(vec![
            (Reply::bulk_static("matches"), Reply::Array(ranges)),
            (Reply::bulk_static("len"), Reply::Int(r.len as i64)),
        ]));
    }
    if o.len {
        return Ok(Reply::Int(r.len as i64));
    }
    Ok(Reply::Bulk(Bytes::from(r.text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Limits;
    use storage::Shard;

    fn b(items: &[&str]) -> Vec<Bytes> {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    fn limits() -> Limits {
        Limits::default()
    }

    /// Runs one command against `shard`.
    fn run(shard: &mut Shard, limits: &Limits, args: &[&str]) -> Reply {
        let argv = b(args);
        let cmd = COMMANDS
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(args[0]))
            .expect("known command");
        let Exec::Shard(f) = cmd.exec else {
            panic!("not a shard command")
        };
        let mut ctx = ShardCtx {
            shard,
            db: 0,
            touch: true,
            limits,
            hub: crate::pubsub::Hub::detached(),
            client: 0,
        };
        match f(&mut ctx, &argv) {
            Ok(r) => r,
            Err(e) => e.into(),
        }
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn err(s: &'static str) -> Reply {
        Reply::error(s)
    }

    fn encoding(shard: &mut Shard, key: &str) -> &'static str {
        let now = shard.now_ms();
        shard.dbs[0]
            .peek(key.as_bytes(), now)
            .map(|e| e.value.encoding())
            .unwrap_or("none")
    }

    fn ttl_ms(shard: &mut Shard, key: &str) -> Option<u64> {
        let now = shard.now_ms();
        shard.dbs[0]
            .peek(key.as_bytes(), now)
            .and_then(|e| e.expire_at())
    }

    fn opts(args: &[&str], which: OptsFor) -> CmdResult<u32> {
        let argv = b(args);
        parse_ext_options(&argv, which).map(|o| o.flags)
    }

    #[test]
    fn set_options_follow_redis() {
        use opt::*;
        let s = OptsFor::Set;
        assert_eq!(opts(&["set", "k", "v", "nx", "NX"], s), Ok(NX));
        assert_eq!(
            opts(&["set", "k", "v", "NX", "XX"], s),
            Err(CmdError::Syntax)
        );
        assert_eq!(
            opts(&["set", "k", "v", "GET", "get", "NX"], s),
            Ok(GET | NX)
        );
        assert_eq!(opts(&["set", "k", "v", "EX", "1", "EX", "2"], s), Ok(EX));
        assert_eq!(
            opts(&["set", "k", "v", "EX", "1", "PX", "2"], s),
            Err(CmdError::Syntax)
        );
        assert_eq!(
            opts(&["set", "k", "v", "EX", "1", "KEEPTTL"], s),
            Err(CmdError::Syntax)
        );
        assert_eq!(
            opts(&["set", "k", "v", "KEEPTTL", "EX", "1"], s),
            Err(CmdError::Syntax)
        );
        assert_eq!(
            opts(&["set", "k", "v", "KEEPTTL", "KEEPTTL"], s),
            Ok(KEEPTTL)
        );
        assert_eq!(opts(&["set", "k", "v", "EX"], s), Err(CmdError::Syntax));
        assert_eq!(
            opts(&["set", "k", "v", "PERSIST"], s),
            Err(CmdError::Syntax)
        );
        // The number is not looked at while parsing: a later syntax error wins.
        assert_eq!(
            opts(&["set", "k", "v", "EX", "abc", "NX", "XX"], s),
            Err(CmdError::Syntax)
        );
        // Options compare as C strings: text after a NUL byte is ignored.
        assert_eq!(opts(&["set", "k", "v", "nx\0junk"], s), Ok(NX));

        let g = OptsFor::Getex;
        assert_eq!(opts(&["getex", "k", "PERSIST", "persist"], g), Ok(PERSIST));
        assert_eq!(
            opts(&["getex", "k", "PERSIST", "EX", "1"], g),
            Err(CmdError::Syntax)
        );
        assert_eq!(
            opts(&["getex", "k", "EX", "1", "PERSIST"], g),
            Err(CmdError::Syntax)
        );
        assert_eq!(opts(&["getex", "k", "NX"], g), Err(CmdError::Syntax));
        assert_eq!(opts(&["getex", "k", "KEEPTTL"], g), Err(CmdError::Syntax));
        assert_eq!(opts(&["getex", "k", "GET"], g), Err(CmdError::Syntax));
        assert_eq!(opts(&["getex", "k", "PXAT", "5"], g), Ok(PXAT));
    }

    #[test]
    fn last_expiry_amount_wins() {
        let argv = b(&["set", "k", "v", "PX", "1", "PX", "2"]);
        let o = parse_ext_options(&argv, OptsFor::Set).expect("parses");
        assert_eq!(o.expire, Some((opt::PX, &b"2"[..])));
    }

    #[test]
    fn deadlines_check_sign_and_overflow() {
        let now = 1_700_000_000_000u64;
        let inv = Err(CmdError::InvalidExpire("set".into()));
        assert_eq!(ext_deadline(opt::EX, b"10", now, "set"), Ok(now + 10_000));
        assert_eq!(ext_deadline(opt::PX, b"10", now, "set"), Ok(now + 10));
        assert_eq!(ext_deadline(opt::EXAT, b"1", now, "set"), Ok(1000));
        assert_eq!(ext_deadline(opt::PXAT, b"1", now, "set"), Ok(1));
        assert_eq!(ext_deadline(opt::EX, b"0", now, "set"), inv);
        assert_eq!(ext_deadline(opt::EX, b"-1", now, "set"), inv);
        assert_eq!(
            ext_deadline(opt::EX, b"abc", now, "set"),
            Err(CmdError::NotInteger)
        );
        // Seconds beyond LLONG_MAX/1000 overflow when turned into ms.
        assert_eq!(
            ext_deadline(opt::EXAT, b"9223372036854776", now, "set"),
            inv
        );
        assert_eq!(
            ext_deadline(opt::EXAT, b"9223372036854775", now, "set"),
            Ok(9_223_372_036_854_775_000)
        );
        // Relative amounts overflow when the current time is added.
        assert_eq!(ext_deadline(opt::EX, b"9223372036854775", now, "set"), inv);
        assert_eq!(
            ext_deadline(opt::PX, b"9223372036854775807", now, "set"),
            inv
        );
        assert_eq!(
            ext_deadline(opt::PXAT, b"9223372036854775807", now, "set"),
            Ok(i64::MAX as u64)
        );
        assert_eq!(
            ext_deadline(opt::EX, b"0", now, "setex"),
            Err(CmdError::InvalidExpire("setex".into()))
        );
    }

    #[test]
    fn getrange_matches_redis_arithmetic() {
        // "0123456789"
        let r = |s, e| getrange_bounds(s, e, 10);
        assert_eq!(r(0, -1), Some((0, 9)));
        assert_eq!(r(0, -100), Some((0, 0)));
        assert_eq!(r(-100, -99), Some((0, 0)));
        assert_eq!(r(-1, -100), None);
        assert_eq!(r(1, -100), None);
        assert_eq!(r(5, 3), None);
        assert_eq!(r(3, 1000), Some((3, 9)));
        assert_eq!(r(100, 200), None);
        assert_eq!(r(i64::MIN, i64::MAX), Some((0, 9)));
        assert_eq!(getrange_bounds(0, 0, 0), None);
        assert_eq!(getrange_bounds(-1, -1, 0), None);
    }

    #[test]
    fn lcs_matches_redis_examples() {
        let r = lcs_compute(b"ohmytext", b"mynewtext", true, true, 0).expect("fits");
        assert_eq!(r.len, 6);
        assert_eq!(r.text, b"mytext");
        assert_eq!(
            r.matches,
            vec![
                LcsMatch {
                    a: (4, 7),
                    b: (5, 8)
                },
                LcsMatch {
                    a: (2, 3),
                    b: (0, 1)
                },
            ]
        );
        let r = lcs_compute(b"ohmytext", b"mynewtext", true, true, 4).expect("fits");
        assert_eq!(r.matches.len(), 1);
        let r = lcs_compute(b"ohmytext", b"mynewtext", false, false, 0).expect("fits");
        assert_eq!(r.len, 6);
        let r = lcs_compute(b"", b"abc", true, true, 0).expect("fits");
        assert_eq!((r.len, r.text.len(), r.matches.len()), (0, 0, 0));
    }

    #[test]
    fn lcs_length_only_agrees_with_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"abcbdab", b"bdcaba"),
            (b"aaaa", b"aa"),
            (b"xyz", b"abc"),
            (b"redis", b"rdeiss"),
        ];
        for (a, b) in cases {
            let full = lcs_compute(a, b, true, false, 0).expect("fits");
            let short = lcs_compute(a, b, false, false, 0).expect("fits");
            assert_eq!(full.len, short.len);
            assert_eq!(full.text.len(), full.len as usize);
        }
    }

    #[test]
    fn lcs_options() {
        let p = |a: &[&str]| parse_lcs_options(&b(a));
        assert_eq!(
            p(&["lcs", "a", "b", "IDX", "MINMATCHLEN", "-5", "WITHMATCHLEN"]),
            Ok(LcsOptions {
                idx: true,
                withmatchlen: true,
                ..Default::default()
            })
        );
        assert_eq!(p(&["lcs", "a", "b", "MINMATCHLEN"]), Err(CmdError::Syntax));
        assert_eq!(
            p(&["lcs", "a", "b", "MINMATCHLEN", "x"]),
            Err(CmdError::NotInteger)
        );
        assert!(matches!(
            p(&["lcs", "a", "b", "LEN", "IDX"]),
            Err(CmdError::Other(_))
        ));
        assert_eq!(lcs_table_bytes(0, 0), 4);
    }

    #[test]
    fn set_get_and_conditions() {
        let mut sh = Shard::new(0, 16);
        let l = limits();
        assert_eq!(run(&mut sh, &l, &["set", "k", "v", "XX"]), Reply::Nil);
        assert_eq!(
            run(&mut sh, &l, &["set", "k", "v", "XX", "GET"]),
            Reply::Nil
        );
        assert_eq!(run(&mut sh, &l, &["set", "k", "v", "NX"]), Reply::Ok);
        assert_eq!(run(&mut sh, &l, &["set", "k", "w", "NX", "GET"]), bulk("v"));
        assert_eq!(run(&mut sh, &l, &["get", "k"]), bulk("v"));
        assert_eq!(
            run(&mut sh, &l, &["set", "k", "w", "GET", "EX", "100"]),
            bulk("v")
        );
        assert!(ttl_ms(&mut sh, "k").is_some());
        assert_eq!(run(&mut sh, &l, &["set", "k", "x", "KEEPTTL"]), Reply::Ok);
        assert!(ttl_ms(&mut sh, "k").is_some());
        assert_eq!(run(&mut sh, &l, &["set", "k", "y"]), Reply::Ok);
        assert_eq!(ttl_ms(&mut sh, "k"), None);
        assert_eq!(
            run(&mut sh, &l, &["set", "k", "y", "EX", "0", "GET"]),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(run(&mut sh, &l, &["set", "k", "z", "EXAT", "1"]), Reply::Ok);
        assert_eq!(run(&mut sh, &l, &["get", "k"]), Reply::Nil);
        assert_eq!(run(&mut sh, &l, &["setnx", "k", "1"]), Reply::Int(1));
        assert_eq!(run(&mut sh, &l, &["setnx", "k", "2"]), Reply::Int(0));
        assert_eq!(
            run(&mut sh, &l, &["setex", "k", "0", "v"]),
            err("ERR invalid expire time in 'setex' command")
        );
        assert_eq!(
            run(&mut sh, &l, &["psetex", "k", "-5", "v"]),
            err("ERR invalid expire time in 'psetex' command")
        );
        assert_eq!(run(&mut sh, &l, &["psetex", "k", "50000", "v"]), Reply::Ok);
        assert!(ttl_ms(&mut sh, "k").is_some());
        assert_eq!(run(&mut sh, &l, &["getset", "k", "n"]), bulk("v"));
        assert_eq!(ttl_ms(&mut sh, "k"), None);
        assert_eq!(run(&mut sh, &l, &["getdel", "k"]), bulk("n"));
        assert_eq!(run(&mut sh, &l, &["getdel", "k"]), Reply::Nil);
    }

    #[test]
    fn getex_options() {
        let mut sh = Shard::new(0, 16);
        let l = limits();
        assert_eq!(run(&mut sh, &l, &["getex", "k", "EX", "abc"]), Reply::Nil);
        run(&mut sh, &l, &["set", "k", "v"]);
        assert_eq!(
            run(&mut sh, &l, &["getex", "k", "EX", "abc"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&mut sh, &l, &["getex", "k", "EX", "-1"]),
            err("ERR invalid expire time in 'getex' command")
        );
        assert_eq!(run(&mut sh, &l, &["getex", "k", "EX", "100"]), bulk("v"));
        assert!(ttl_ms(&mut sh, "k").is_some());
        assert_eq!(run(&mut sh, &l, &["getex", "k", "PERSIST"]), bulk("v"));
        assert_eq!(ttl_ms(&mut sh, "k"), None);
        assert_eq!(run(&mut sh, &l, &["getex", "k", "PXAT", "1"]), bulk("v"));
        assert_eq!(encoding(&mut sh, "k"), "none");
    }

    #[test]
    fn mset_family() {
        let mut sh = Shard::new(0, 16);
        let l = limits();
        assert_eq!(
            run(&mut sh, &l, &["mset", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'mset' command")
        );
        assert_eq!(
            run(&mut sh, &l, &["msetnx", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'msetnx' command")
        );
        assert_eq!(run(&mut sh, &l, &["mset", "a", "1", "b", "2"]), Reply::Ok);
        assert_eq!(
            run(&mut sh, &l, &["msetnx", "c", "1", "b", "2"]),
            Reply::Int(0)
        );
        assert_eq!(
            run(&mut sh, &l, &["msetnx", "c", "1", "c", "2"]),
            Reply::Int(1)
        );
        assert_eq!(
            run(&mut sh, &l, &["mget", "a", "c", "nope"]),
            Reply::Array(vec![bulk("1"), bulk("2"), Reply::Nil])
        );
    }

    #[test]
    fn counters_and_encodings() {
        let mut sh = Shard::new(0, 16);
        let l = limits();
        assert_eq!(run(&mut sh, &l, &["incr", "n"]), Reply::Int(1));
        assert_eq!(encoding(&mut sh, "n"), "int");
        assert_eq!(run(&mut sh, &l, &["decrby", "n", "5"]), Reply::Int(-4));
        assert_eq!(
            run(&mut sh, &l, &["decrby", "n", "-9223372036854775808"]),
            err("ERR decrement would overflow")
        );
        run(&mut sh, &l, &["set", "n", "9223372036854775807"]);
        assert_eq!(
            run(&mut sh, &l, &["incr", "n"]),
            err("ERR increment or decrement would overflow")
        );
        run(&mut sh, &l, &["set", "n", "-9223372036854775808"]);
        assert_eq!(
            run(&mut sh, &l, &["decr", "n"]),
            err("ERR increment or decrement would overflow")
        );
        run(&mut sh, &l, &["set", "s", "12"]);
        run(&mut sh, &l, &["append", "s", "3"]);
        assert_eq!(encoding(&mut sh, "s"), "raw");
        assert_eq!(run(&mut sh, &l, &["incr", "s"]), Reply::Int(124));
        assert_eq!(encoding(&mut sh, "s"), "int");
        run(&mut sh, &l, &["set", "s", " 1"]);
        assert_eq!(
            run(&mut sh, &l, &["incr", "s"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&mut sh, &l, &["incrby", "s", "x"]),
            err("ERR value is not an integer or out of range")
        );
        // INCR keeps the TTL.
        run(&mut sh, &l, &["set", "t", "1", "EX", "100"]);
        run(&mut sh, &l, &["incr", "t"]);
        assert!(ttl_ms(&mut sh, "t").is_some());
    }

    #[test]
    fn incrbyfloat_errors_and_encoding() {
        let mut sh = Shard::new(0, 16);
        let l = limits();
        assert_eq!(run(&mut sh, &l, &["incrbyfloat", "f", "1.5"]), bulk("1.5"));
        assert_eq!(encoding(&mut sh, "f"), "embstr");
        assert_eq!(run(&mut sh, &l, &["incrbyfloat", "f", "1.5"]), bulk("3"));
        assert_eq!(encoding(&mut sh, "f"), "embstr");
        assert_eq!(
            run(&mut sh, &l, &["incrbyfloat", "f", "abc"]),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            run(&mut sh, &l, &["incrbyfloat", "f", "inf"]),
            err("ERR increment would produce NaN or Infinity")
        );
        run(&mut sh, &l, &["set", "s", "x"]);
        assert_eq!(
            run(&mut sh, &l, &["incrbyfloat", "s", "1"]),
            err("ERR value is not a valid float")
        );
    }

    #[test]
    fn append_setrange_limits() {
        let mut sh = Shard::new(0, 16);
        let mut l = limits();
        l.proto_max_bulk_len = 10;
        assert_eq!(run(&mut sh, &l, &["append", "a", "12345"]), Reply::Int(5));
        assert_eq!(encoding(&mut sh, "a"), "int");
        assert_eq!(run(&mut sh, &l, &["append", "a", "67890"]), Reply::Int(10));
        assert_eq!(
            run(&mut sh, &l, &["append", "a", "x"]),
            err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        );
        assert_eq!(run(&mut sh, &l, &["strlen", "a"]), Reply::Int(10));
        assert_eq!(
            run(&mut sh, &l, &["setrange", "b", "-1", "x"]),
            err("ERR offset is out of range")
        );
        assert_eq!(
            run(&mut sh, &l, &["setrange", "b", "100", ""]),
            Reply::Int(0)
        );
        assert_eq!(
            run(&mut sh, &l, &["setrange", "b", "10", "x"]),
            err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        );
        assert_eq!(
            run(&mut sh, &l, &["setrange", "b", "9223372036854775807", "x"]),
            err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        );
        assert_eq!(
            run(&mut sh, &l, &["setrange", "b", "2", "xy"]),
            Reply::Int(4)
        );
        assert_eq!(run(&mut sh, &l, &["get", "b"]), Reply::bulk(b"\0\0xy"));
        assert_eq!(encoding(&mut sh, "b"), "raw");
        assert_eq!(
            run(&mut sh, &l, &["setrange", "b", "99", ""]),
            Reply::Int(4)
        );
        assert_eq!(
            run(&mut sh, &l, &["setrange", "b", "1", "Z"]),
            Reply::Int(4)
        );
        assert_eq!(
            run(&mut sh, &l, &["getrange", "b", "0", "-1"]),
            Reply::bulk(b"\0Zxy")
        );
        assert_eq!(run(&mut sh, &l, &["substr", "b", "-2", "-1"]), bulk("xy"));
        assert_eq!(run(&mut sh, &l, &["getrange", "none", "0", "-1"]), bulk(""));
    }
}
