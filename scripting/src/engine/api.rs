//! The `redis` table's Rust side, handed to the sandbox prelude.
//!
//! Functions that raise Redis's error tables return `(ok, value)`; the
//! prelude wraps them so a failure raises `value` (Lua cannot raise a
//! table from Rust).

use super::{Abort, Registered, RunState};
use crate::convert::{error_table, number_arg, reply_to_lua};
use crate::engine::CallResult;
use crate::functions::{valid_name, FunctionMeta};
use crate::shebang::ScriptFlags;
use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};
use std::cell::RefCell;
use std::rc::Rc;
use storage::Reply;

/// Redis's `luaPushError`: a message without a `-CODE` gets `ERR`.
pub(crate) fn push_error(lua: &Lua, msg: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "err",
        lua.create_string(crate::convert::error_text(msg.as_bytes()))?,
    )?;
    Ok(t)
}

fn fail(lua: &Lua, state: &Rc<RefCell<RunState>>, msg: &str) -> mlua::Result<Value> {
    Err(raise(state, push_error(lua, msg)?))
}

fn ok(v: Value) -> mlua::Result<Value> {
    Ok(v)
}

/// Raises `t` as the script's error: Rust cannot raise a Lua table, so the
/// table waits in the run state for the error handler or `pcall`, and a
/// marker error unwinds the stack.
fn raise(state: &Rc<RefCell<RunState>>, t: Table) -> mlua::Error {
    if let Ok(mut st) = state.try_borrow_mut() {
        st.pending = Some(t);
    }
    mlua::Error::runtime("redis error")
}

/// Redis's `luaArgsToRedisArgv`.
fn argv_of(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for v in args.iter() {
        match v {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(n) => argv.push(Bytes::from(number_arg(*n))),
            Value::Integer(i) => argv.push(Bytes::from(i.to_string())),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}

fn tonumber(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => Some(*n),
        Value::Integer(i) => Some(*i as f64),
        Value::String(s) => std::str::from_utf8(&s.as_bytes())
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok()),
        _ => None,
    }
}

/// One redis.call / redis.pcall: `Ok(reply)` or `Err(error table)`.
fn call(
    lua: &Lua,
    state: &Rc<RefCell<RunState>>,
    args: MultiValue,
) -> mlua::Result<Result<Value, Table>> {
    let (host, resp3, dying) = {
        let st = state.borrow();
        (st.host.clone(), st.resp3, st.abort.is_some())
    };
    if dying {
        return Err(mlua::Error::runtime("script is dying"));
    }
    let Some(host) = host else {
        return Ok(Err(push_error(
            lua,
            "redis.call/pcall can only be called inside a script invocation",
        )?));
    };
    let argv = match argv_of(&args) {
        Ok(a) => a,
        Err(m) => return Ok(Err(push_error(lua, m)?)),
    };
    drop(args);
    let result = match host.try_borrow_mut() {
        Ok(mut h) => h.call(argv),
        Err(_) => return Ok(Err(push_error(lua, "redis.call is not reentrant")?)),
    };
    match result {
        CallResult::Abort => {
            state.borrow_mut().abort = Some(Abort::Host);
            Err(mlua::Error::runtime("script needs every shard"))
        }
        CallResult::Reply(Reply::Error(e)) => Ok(Err(error_table(lua, e.as_bytes())?)),
        CallResult::Reply(r) => Ok(Ok(reply_to_lua(lua, &r, resp3)?)),
    }
}

/// Builds the API table the prelude receives.
pub(crate) fn build(lua: &Lua, state: Rc<RefCell<RunState>>) -> mlua::Result<Table> {
    let api = lua.create_table()?;
    let redis = lua.create_table()?;
    let raising = lua.create_table()?;

    let st = state.clone();
    api.set(
        "dying",
        lua.create_function(move |_, ()| {
            Ok(st.try_borrow().map(|s| s.abort.is_some()).unwrap_or(true))
        })?,
    )?;
    let st = state.clone();
    redis.set(
        "call",
        lua.create_function(move |lua, args: MultiValue| match call(lua, &st, args)? {
            Ok(v) => Ok(v),
            Err(t) => Err(raise(&st, t)),
        })?,
    )?;
    let st = state.clone();
    redis.set(
        "pcall",
        lua.create_function(move |lua, args: MultiValue| match call(lua, &st, args)? {
            Ok(v) => Ok(v),
            Err(t) => Ok(Value::Table(t)),
        })?,
    )?;
    let st = state.clone();
    api.set(
        "take_pending",
        lua.create_function(move |_, ()| {
            Ok(st.try_borrow_mut().ok().and_then(|mut s| s.pending.take()))
        })?,
    )?;

    redis.set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let t = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let b = s.as_bytes();
                    let mut raw = Vec::with_capacity(b.len() + 1);
                    if b.first() != Some(&b'-') {
                        raw.push(b'-');
                    }
                    raw.extend_from_slice(&b);
                    let t = lua.create_table()?;
                    t.raw_set("err", lua.create_string(crate::convert::error_text(&raw))?)?;
                    t
                }
                _ => push_error(lua, "wrong number or type of arguments")?,
            };
            Ok(t)
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let t = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let t = lua.create_table()?;
                    t.raw_set("ok", s.clone())?;
                    t
                }
                _ => push_error(lua, "wrong number or type of arguments")?,
            };
            Ok(t)
        })?,
    )?;
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    // Outside a debugging session (magpie has no LDB) these do nothing,
    // as in Redis.
    redis.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.set(name, v)?;
    }
    redis.set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.set("REDIS_VERSION_NUM", crate::REDIS_VERSION_NUM)?;

    let st = state.clone();
    redis.set(
        "sha1hex",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return fail(lua, &st, "wrong number of arguments");
            }
            let bytes = match args.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Number(n)) => lua_number_text(*n).into_bytes(),
                Some(Value::Integer(i)) => i.to_string().into_bytes(),
                _ => Vec::new(),
            };
            ok(Value::String(lua.create_string(crate::sha1hex(&bytes))?))
        })?,
    )?;
    let st = state.clone();
    redis.set(
        "log",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() < 2 {
                return fail(lua, &st, "redis.log() requires two arguments or more.");
            }
            let Some(level) = tonumber(args.front()) else {
                return fail(lua, &st, "First argument must be a number (log level).");
            };
            let level = level as i64;
            if !(0..=3).contains(&level) {
                return fail(lua, &st, "Invalid debug level.");
            }
            let mut msg = Vec::new();
            for (i, v) in args.iter().skip(1).enumerate() {
                let part = match v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Number(n) => lua_number_text(*n).into_bytes(),
                    Value::Integer(n) => n.to_string().into_bytes(),
                    _ => continue,
                };
                if i > 0 {
                    msg.push(b' ');
                }
                msg.extend_from_slice(&part);
            }
            let host = st.borrow().host.clone();
            if let Some(h) = host {
                if let Ok(mut h) = h.try_borrow_mut() {
                    h.log(level as u8, &msg);
                }
            }
            ok(Value::Nil)
        })?,
    )?;
    let st = state.clone();
    redis.set(
        "setresp",
        lua.create_function(move |lua, args: MultiValue| {
            if st.borrow().host.is_none() {
                return fail(
                    lua,
                    &st,
                    "redis.setresp can only be called inside a script invocation",
                );
            }
            if args.len() != 1 {
                return fail(lua, &st, "redis.setresp() requires one argument.");
            }
            match tonumber(args.front()).map(|n| n as i64) {
                Some(2) => st.borrow_mut().resp3 = false,
                Some(3) => st.borrow_mut().resp3 = true,
                _ => return fail(lua, &st, "RESP version must be 2 or 3."),
            }
            ok(Value::Nil)
        })?,
    )?;
    let st = state.clone();
    redis.set(
        "set_repl",
        lua.create_function(move |lua, args: MultiValue| {
            if st.borrow().host.is_none() {
                return fail(
                    lua,
                    &st,
                    "redis.set_repl can only be called inside a script invocation",
                );
            }
            if args.len() != 1 {
                return fail(lua, &st, "redis.set_repl() requires two arguments.");
            }
            let flags = tonumber(args.front()).unwrap_or(0.0) as i64;
            if flags & !3 != 0 {
                return fail(
                    lua,
                    &st,
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            // No replicas or AOF: accepted, nothing to change.
            ok(Value::Nil)
        })?,
    )?;
    let st = state.clone();
    redis.set(
        "acl_check_cmd",
        lua.create_function(move |lua, args: MultiValue| {
            let Some(host) = st.borrow().host.clone() else {
                return fail(
                    lua,
                    &st,
                    "redis.acl_check_cmd can only be called inside a script invocation",
                );
            };
            let argv = match argv_of(&args) {
                Ok(a) => a,
                Err(m) => return fail(lua, &st, m),
            };
            let r = host
                .try_borrow_mut()
                .ok()
                .and_then(|mut h| h.acl_check(&argv));
            match r {
                Some(b) => ok(Value::Boolean(b)),
                None => fail(lua, &st, "Invalid command passed to redis.acl_check_cmd()"),
            }
        })?,
    )?;

    let st = state.clone();
    api.set(
        "register_function",
        lua.create_function(move |lua, args: MultiValue| register_function(lua, &st, args))?,
    )?;
    let st = state.clone();
    api.set(
        "lrand",
        lua.create_function(move |_, ()| {
            let mut s = st.borrow_mut();
            s.rand48 = (s.rand48.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
            let r = (s.rand48 >> 17) as i64;
            const MAX: i64 = i32::MAX as i64;
            Ok((r % MAX) as f64 / MAX as f64)
        })?,
    )?;
    let st = state;
    api.set(
        "srand",
        lua.create_function(move |_, seed: f64| {
            let seed = seed as i32 as u32 as u64;
            st.borrow_mut().rand48 = (seed << 16) | 0x330E;
            Ok(())
        })?,
    )?;

    api.set("redis", redis)?;
    api.set("raising", raising)?;
    Ok(api)
}

/// Lua's own `%.14g` for numbers turned into strings.
fn lua_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `redis.register_function(name, callback)` or the table form.
fn register_function(
    lua: &Lua,
    state: &Rc<RefCell<RunState>>,
    args: MultiValue,
) -> mlua::Result<Value> {
    if state.borrow().loading.is_none() {
        return fail(
            lua,
            state,
            "redis.register_function can only be called on FUNCTION LOAD command",
        );
    }
    let (name, callback, flags, description) = match args.len() {
        1 => {
            let Some(Value::Table(t)) = args.front() else {
                return fail(lua, state, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let mut name = None;
            let mut callback = None;
            let mut flags = ScriptFlags::default();
            let mut description = None;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key =
                    match &k {
                        Value::String(s) => s.to_string_lossy(),
                        _ => return fail(
                            lua,
                            state,
                            "named argument key given to redis.register_function is not a string",
                        ),
                    };
                match key.as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy()),
                        Value::Number(n) => name = Some(lua_number_text(n)),
                        Value::Integer(n) => name = Some(n.to_string()),
                        _ => return fail(lua, state, "function_name argument given to redis.register_function must be a string"),
                    },
                    "description" => match v {
                        Value::String(s) => description = Some(Bytes::copy_from_slice(&s.as_bytes())),
                        Value::Number(n) => description = Some(Bytes::from(lua_number_text(n))),
                        Value::Integer(n) => description = Some(Bytes::from(n.to_string())),
                        _ => return fail(lua, state, "description argument given to redis.register_function must be a string"),
                    },
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => return fail(lua, state, "callback argument given to redis.register_function must be a function"),
                    },
                    "flags" => match v {
                        Value::Table(ft) => {
                            let mut j = 1;
                            loop {
                                match ft.raw_get::<Value>(j)? {
                                    Value::Nil => break,
                                    Value::String(s) => match ScriptFlags::by_name(&s.as_bytes()) {
                                        Some(bit) => flags.0 |= bit,
                                        None => return fail(lua, state, "unknown flag given"),
                                    },
                                    _ => return fail(lua, state, "unknown flag given"),
                                }
                                j += 1;
                            }
                        }
                        _ => return fail(lua, state, "flags argument to redis.register_function must be a table representing function flags"),
                    },
                    _ => return fail(lua, state, "unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return fail(
                    lua,
                    state,
                    "redis.register_function must get a function name argument",
                );
            };
            let Some(callback) = callback else {
                return fail(
                    lua,
                    state,
                    "redis.register_function must get a callback argument",
                );
            };
            (name, callback, flags, description)
        }
        2 => {
            let name = match args.front() {
                Some(Value::String(s)) => s.to_string_lossy(),
                Some(Value::Number(n)) => lua_number_text(*n),
                Some(Value::Integer(n)) => n.to_string(),
                _ => {
                    return fail(
                        lua,
                        state,
                        "first argument to redis.register_function must be a string",
                    )
                }
            };
            let callback: Function = match args.get(1) {
                Some(Value::Function(f)) => f.clone(),
                _ => {
                    return fail(
                        lua,
                        state,
                        "second argument to redis.register_function must be a function",
                    )
                }
            };
            (name, callback, ScriptFlags::default(), None)
        }
        _ => {
            return fail(
                lua,
                state,
                "wrong number of arguments to redis.register_function",
            )
        }
    };
    if !valid_name(&name) {
        // Redis's text says "Library" here too.
        return fail(lua, state, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    }
    let duplicate = state
        .borrow()
        .loading
        .as_ref()
        .is_some_and(|l| l.iter().any(|r| r.meta.name.eq_ignore_ascii_case(&name)));
    if duplicate {
        return fail(lua, state, "Function already exists in the library");
    }
    let mut st = state.borrow_mut();
    let Some(list) = st.loading.as_mut() else {
        drop(st);
        return fail(
            lua,
            state,
            "redis.register_function can only be called on FUNCTION LOAD command",
        );
    };
    list.push(Registered {
        meta: FunctionMeta {
            name,
            flags,
            description,
        },
        callback,
    });
    ok(Value::Nil)
}
