//! Conversions between replies and Lua values, as Redis's `script_lua.c`
//! does them.
//!
//! Reply to Lua (`redis.call` results, `redisProtocolToLuaType`): integers
//! become numbers, bulk strings strings, a null bulk or null array `false`
//! (RESP2) or `nil` (RESP3), status `{ok=...}`, errors `{err=...}`, arrays
//! tables; with `redis.setresp(3)` maps become `{map=...}`, sets
//! `{set=...}`, doubles `{double=...}`, booleans booleans.
//!
//! Lua to reply (`luaReplyToRedisReply`): numbers are truncated to
//! integers (C's cast: NaN and out-of-range values give `i64::MIN`),
//! tables are arrays up to the first nil unless they carry `err`, `ok`,
//! `double`, `big_number`, `verbatim_string`, `map` or `set`; other types
//! are null. Nesting and the total size are bounded so a self-referencing
//! table cannot hang or exhaust the server.

use bytes::Bytes;
use mlua::{Lua, Table, Value};
use storage::Reply;

/// Deepest table nesting converted; deeper levels become Redis's
/// "reached lua stack limit" error element.
pub const MAX_DEPTH: usize = 1000;
/// Most reply elements one script result may produce.
pub const MAX_ELEMENTS: usize = 50_000_000;

/// Converts a command's reply for a script speaking RESP `resp` (2 or 3).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Ok => status_table(lua, b"OK")?,
        Reply::Status(s) => status_table(lua, s.as_bytes())?,
        Reply::Error(e) => Value::Table(error_table(lua, e.as_bytes())?),
        Reply::Int(i) => Value::Number(*i as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        // `Multi` comes only from (un)subscribe commands, which scripts may
        // not call; were one to arrive, its replies read as an array.
        Reply::Array(items) | Reply::Push(items) | Reply::Multi(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, r) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, r, resp3)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            if resp3 {
                let m = lua.create_table_with_capacity(0, pairs.len())?;
                for (k, v) in pairs {
                    let k = reply_to_lua(lua, k, resp3)?;
                    if !k.is_nil() {
                        m.raw_set(k, reply_to_lua(lua, v, resp3)?)?;
                    }
                }
                wrap(lua, "map", Value::Table(m))?
            } else {
                flat_pairs(lua, pairs, resp3)?
            }
        }
        Reply::Pairs(pairs) => {
            if resp3 {
                let t = lua.create_table_with_capacity(pairs.len(), 0)?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    let p = lua.create_table_with_capacity(2, 0)?;
                    p.raw_set(1, reply_to_lua(lua, k, resp3)?)?;
                    p.raw_set(2, reply_to_lua(lua, v, resp3)?)?;
                    t.raw_set(i + 1, p)?;
                }
                Value::Table(t)
            } else {
                flat_pairs(lua, pairs, resp3)?
            }
        }
        Reply::Set(items) => {
            if resp3 {
                let s = lua.create_table_with_capacity(0, items.len())?;
                for r in items {
                    let k = reply_to_lua(lua, r, resp3)?;
                    if !k.is_nil() {
                        s.raw_set(k, true)?;
                    }
                }
                wrap(lua, "set", Value::Table(s))?
            } else {
                let t = lua.create_table_with_capacity(items.len(), 0)?;
                for (i, r) in items.iter().enumerate() {
                    t.raw_set(i + 1, reply_to_lua(lua, r, resp3)?)?;
                }
                Value::Table(t)
            }
        }
        Reply::Double(d) => {
            if resp3 {
                wrap(lua, "double", Value::Number(*d))?
            } else {
                Value::String(lua.create_string(storage::numfmt::format_double(*d))?)
            }
        }
        Reply::Bool(b) => {
            if resp3 {
                Value::Boolean(*b)
            } else {
                Value::Number(if *b { 1.0 } else { 0.0 })
            }
        }
        Reply::BigNumber(s) => {
            if resp3 {
                wrap(lua, "big_number", Value::String(lua.create_string(s)?))?
            } else {
                Value::String(lua.create_string(s)?)
            }
        }
        Reply::Verbatim(format, s) => {
            if resp3 {
                let v = lua.create_table()?;
                v.raw_set("string", lua.create_string(s)?)?;
                v.raw_set("format", *format)?;
                wrap(lua, "verbatim_string", Value::Table(v))?
            } else {
                Value::String(lua.create_string(s)?)
            }
        }
    })
}

fn flat_pairs(lua: &Lua, pairs: &[(Reply, Reply)], resp3: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
    for (i, (k, v)) in pairs.iter().enumerate() {
        t.raw_set(2 * i + 1, reply_to_lua(lua, k, resp3)?)?;
        t.raw_set(2 * i + 2, reply_to_lua(lua, v, resp3)?)?;
    }
    Ok(Value::Table(t))
}

fn wrap(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

fn status_table(lua: &Lua, s: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("ok", lua.create_string(s)?)?;
    Ok(Value::Table(t))
}

/// Redis's `luaPushErrorBuff`: `-CODE msg` keeps its code, a bare message
/// gets `ERR`; trailing CR/LF are trimmed.
pub fn error_text(raw: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match raw.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&c| c == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", raw),
    };
    let trim = |s: &[u8]| -> usize {
        let mut end = s.len();
        while end > 0 && (s[end - 1] == b'\r' || s[end - 1] == b'\n') {
            end -= 1;
        }
        end
    };
    let mut start = 0;
    while start < msg.len() && (msg[start] == b'\r' || msg[start] == b'\n') {
        start += 1;
    }
    let msg = &msg[start..trim(msg).max(start)];
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

/// The `{err=...}` table for a command's error reply (text without `-`).
pub fn error_table(lua: &Lua, reply_text: &[u8]) -> mlua::Result<Table> {
    let mut raw = Vec::with_capacity(reply_text.len() + 1);
    raw.push(b'-');
    raw.extend_from_slice(reply_text);
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(error_text(&raw))?)?;
    Ok(t)
}

/// `(long long)` of a Lua number as x86-64 computes it.
pub fn c_truncate(n: f64) -> i64 {
    if n.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Maps CR and LF to spaces (status and error lines cannot hold them).
fn one_line(s: &[u8]) -> String {
    let v: Vec<u8> = s
        .iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect();
    String::from_utf8_lossy(&v).into_owned()
}

/// Converts a script's return value. `script_resp3` is the script's
/// `redis.setresp` (booleans depend on it, as in Redis).
pub fn lua_to_reply(v: &Value, script_resp3: bool) -> Reply {
    let mut budget = MAX_ELEMENTS;
    convert(v, script_resp3, 0, &mut budget)
}

fn convert(v: &Value, resp3: bool, depth: usize, budget: &mut usize) -> Reply {
    if *budget == 0 {
        return Reply::error("ERR reached lua stack limit");
    }
    *budget -= 1;
    match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => {
            if resp3 {
                Reply::Bool(*b)
            } else if *b {
                Reply::Int(1)
            } else {
                Reply::Nil
            }
        }
        Value::Number(n) => Reply::Int(c_truncate(*n)),
        Value::Integer(i) => Reply::Int(*i),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Reply::error("ERR reached lua stack limit");
            }
            table_to_reply(t, resp3, depth, budget)
        }
        _ => Reply::Nil,
    }
}

fn raw_field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

fn table_to_reply(t: &Table, resp3: bool, depth: usize, budget: &mut usize) -> Reply {
    if let Value::String(e) = raw_field(t, "err") {
        return Reply::Error(one_line(&e.as_bytes()).into());
    }
    if let Value::String(s) = raw_field(t, "ok") {
        return Reply::Status(one_line(&s.as_bytes()).into());
    }
    match raw_field(t, "double") {
        Value::Number(d) => return Reply::Double(d),
        Value::Integer(i) => return Reply::Double(i as f64),
        _ => {}
    }
    if let Value::String(s) = raw_field(t, "big_number") {
        return Reply::BigNumber(Bytes::from(one_line(&s.as_bytes()).into_bytes()));
    }
    if let Value::Table(v) = raw_field(t, "verbatim_string") {
        if let (Value::String(f), Value::String(s)) =
            (raw_field(&v, "format"), raw_field(&v, "string"))
        {
            let format = match &f.as_bytes()[..] {
                b"mkd" => "mkd",
                _ => "txt",
            };
            return Reply::Verbatim(format, Bytes::copy_from_slice(&s.as_bytes()));
        }
    }
    if let Value::Table(m) = raw_field(t, "map") {
        let mut out = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            if *budget == 0 {
                break;
            }
            let k = convert(&k, resp3, depth + 1, budget);
            let v = convert(&v, resp3, depth + 1, budget);
            out.push((k, v));
        }
        return Reply::Map(out);
    }
    if let Value::Table(s) = raw_field(t, "set") {
        let mut out = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            if *budget == 0 {
                break;
            }
            out.push(convert(&k, resp3, depth + 1, budget));
        }
        return Reply::Set(out);
    }
    let mut out = Vec::new();
    let mut j = 1;
    loop {
        let v = t.raw_get::<Value>(j).unwrap_or(Value::Nil);
        if v.is_nil() || *budget == 0 {
            break;
        }
        out.push(convert(&v, resp3, depth + 1, budget));
        j += 1;
    }
    Reply::Array(out)
}

/// Redis's `%.17g` of a Lua number used as a command argument.
pub fn number_arg(n: f64) -> Vec<u8> {
    format_g17(n).into_bytes()
}

/// C's `printf("%.17g", v)`.
pub fn format_g17(v: f64) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // 17 significant digits in scientific form, then %g's choice of style.
    let sci = format!("{:.16e}", v);
    let (mant, exp) = match sci.split_once('e') {
        Some(p) => p,
        None => return sci,
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, v);
        strip_zeros(&s)
    } else {
        let m = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", m, sign, exp.abs())
    }
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') {
        let t = s.trim_end_matches('0');
        t.trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17() {
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(3.0), "3");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(12345678901234567890.0), "1.2345678901234567e+19");
        assert_eq!(format_g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_g17(-2.0), "-2");
        assert_eq!(format_g17(100.0), "100");
    }

    #[test]
    fn truncation() {
        assert_eq!(c_truncate(3.99), 3);
        assert_eq!(c_truncate(-3.99), -3);
        assert_eq!(c_truncate(f64::INFINITY), i64::MIN);
        assert_eq!(c_truncate(f64::NAN), i64::MIN);
        assert_eq!(c_truncate(1e300), i64::MIN);
    }

    #[test]
    fn error_codes() {
        assert_eq!(error_text(b"-x"), b"ERR x");
        assert_eq!(error_text(b"-MY bad"), b"MY bad");
        assert_eq!(error_text(b"plain words"), b"ERR plain words");
        assert_eq!(
            error_text(b"-WRONGTYPE Operation\r\n"),
            b"WRONGTYPE Operation"
        );
    }

    #[test]
    fn lua_values() -> mlua::Result<()> {
        let lua = Lua::new();
        let v: Value = lua
            .load("return {1, 2.9, 'x', {ok='fine'}, nil, 5}")
            .eval()?;
        assert_eq!(
            lua_to_reply(&v, false),
            Reply::Array(vec![
                Reply::Int(1),
                Reply::Int(2),
                Reply::Bulk(Bytes::from_static(b"x")),
                Reply::status("fine"),
            ])
        );
        let v: Value = lua.load("return {err='bad\\r\\nthing'}").eval()?;
        assert_eq!(lua_to_reply(&v, false), Reply::error("bad  thing"));
        let v: Value = lua.load("return false").eval()?;
        assert_eq!(lua_to_reply(&v, false), Reply::Nil);
        assert_eq!(lua_to_reply(&v, true), Reply::Bool(false));
        let v: Value = lua.load("local t = {} t[1] = t return t").eval()?;
        // Bounded: a self-referencing table ends in the stack-limit error.
        let mut r = &lua_to_reply(&v, false);
        let mut depth = 0;
        while let Reply::Array(items) = r {
            r = &items[0];
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert_eq!(r, &Reply::error("ERR reached lua stack limit"));
        Ok(())
    }

    #[test]
    fn replies_to_lua() -> mlua::Result<()> {
        let lua = Lua::new();
        let r = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Int(1))]);
        let v = reply_to_lua(&lua, &r, false)?;
        let t = v
            .as_table()
            .cloned()
            .ok_or(mlua::Error::runtime("not a table"))?;
        assert_eq!(t.raw_len(), 2);
        let v = reply_to_lua(&lua, &r, true)?;
        let t = v
            .as_table()
            .cloned()
            .ok_or(mlua::Error::runtime("not a table"))?;
        let m: Table = t.raw_get("map")?;
        assert_eq!(m.raw_get::<i64>("a")?, 1);
        let e = reply_to_lua(&lua, &Reply::error("WRONGTYPE Operation"), false)?;
        let t = e
            .as_table()
            .cloned()
            .ok_or(mlua::Error::runtime("not a table"))?;
        assert_eq!(t.raw_get::<String>("err")?, "WRONGTYPE Operation");
        Ok(())
    }
}
