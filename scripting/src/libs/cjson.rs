//! `cjson`: Lua CJSON 2.1.0 as Redis bundles it (`deps/lua/src/lua_cjson.c`
//! with `fpconv` and `strbuf`).
//!
//! Encoding: a table whose keys are all positive integral numbers is an array
//! of length max-key (holes are `null`), unless it is excessively sparse
//! (max > items * ratio and max > safe: an error, or an object when
//! `encode_sparse_array(true)`); every other table, including `{}`, is an
//! object, numeric keys quoted. Numbers print as `%.14g` (precision
//! settable 1..14); NaN and Inf are an error unless `encode_invalid_numbers`
//! allows them. `cjson.null` (a NULL light userdata) and nil encode as null.
//! `/` is escaped as `\/`, control bytes and DEL as `\u00XX`.
//! Depth past `encode_max_depth` (1000) is "Cannot serialise, excessive
//! nesting (N)", which is also where cyclic tables stop.
//!
//! Decoding: the C tokenizer's rules (a NUL byte ends the input; numbers are
//! whatever `strtod` accepts, hex, Inf and NaN included while
//! `decode_invalid_numbers` is on, the default), depth past
//! `decode_max_depth` (1000) is an error, and error texts name the token and
//! the 1-based character. Empty arrays decode to empty tables.
//!
//! Both directions walk nesting with explicit stacks, and count the Lua C
//! stack slots the C module would hold, so a depth limit raised past what
//! Lua's 8000-slot C stack allows fails at the same depth as in Redis.
//! `cjson.new()` makes an instance with its own configuration.
//! `decode_array_with_array_mt`/`array_mt` are not here: Redis added them
//! after 7.4 (redis/redis#14296), and 7.4 scripts calling them get an error.
//! `encode_keep_buffer` is accepted and reported; it only changes how the C
//! module reuses memory.

mod decode;
mod encode;
mod number;

use super::{arg_err, one, Args, Fail, Registrar, Res, Ret, Shared};
use mlua::{LightUserData, Lua, Table, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Selects one setting of a `Config`.
type Field = fn(&mut Config) -> &mut i32;

/// One instance's settings (`json_config_t`).
#[derive(Clone, Debug)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse, 1 allow (`nan`, `inf`), 2 encode as `null`.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: i32,
    decode_invalid_numbers: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
        }
    }
}

/// `cjson.null`: a light userdata holding NULL.
pub(crate) fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn is_null(v: &Value) -> bool {
    matches!(v, Value::LightUserData(p) if p.0.is_null())
}

/// Builds a `cjson` table with a fresh configuration.
pub(crate) fn module(lua: &Lua, reg: &Registrar) -> mlua::Result<Table> {
    let cfg: Shared<Config> = Rc::new(RefCell::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        reg.func(lua, "encode", move |lua, args| {
            encode::encode(lua, &c.borrow(), args)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        reg.func(lua, "decode", move |lua, args| {
            decode::decode(lua, &c.borrow(), args)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        reg.func(lua, "encode_sparse_array", move |lua, args| {
            arg_init(&args, 3)?;
            let mut cfg = c.borrow_mut();
            let a = enum_option(lua, &args, 1, &mut cfg.sparse_convert, BOOL_OPTIONS)?;
            let b = integer_option(lua, &args, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
            let d = integer_option(lua, &args, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
            Ok(Ret::Values(vec![a, b, d]))
        })?,
    )?;
    let int_options: [(&'static str, Field, i32, i32); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, 1, i32::MAX),
        ("decode_max_depth", |c| &mut c.decode_max_depth, 1, i32::MAX),
        (
            "encode_number_precision",
            |c| &mut c.encode_number_precision,
            1,
            14,
        ),
    ];
    for (name, field, min, max) in int_options {
        let c = cfg.clone();
        let f = reg.func(lua, name, move |lua, args| {
            arg_init(&args, 1)?;
            let mut cfg = c.borrow_mut();
            let v = integer_option(lua, &args, 1, field(&mut cfg), min, max)?;
            one(v)
        })?;
        t.raw_set(name, f)?;
    }
    let enum_options: [(&'static str, Field, &'static [&'static str]); 3] = [
        (
            "encode_keep_buffer",
            |c| &mut c.encode_keep_buffer,
            BOOL_OPTIONS,
        ),
        (
            "encode_invalid_numbers",
            |c| &mut c.encode_invalid_numbers,
            &["off", "on", "null"],
        ),
        (
            "decode_invalid_numbers",
            |c| &mut c.decode_invalid_numbers,
            BOOL_OPTIONS,
        ),
    ];
    for (name, field, options) in enum_options {
        let c = cfg.clone();
        let f = reg.func(lua, name, move |lua, args| {
            arg_init(&args, 1)?;
            let mut cfg = c.borrow_mut();
            let v = enum_option(lua, &args, 1, field(&mut cfg), options)?;
            one(v)
        })?;
        t.raw_set(name, f)?;
    }
    let r = reg.clone();
    t.raw_set(
        "new",
        reg.func(lua, "new", move |lua, _args| {
            one(Value::Table(module(lua, &r)?))
        })?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

// ----------------------------------------------------------- configuration

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// `json_arg_init`: at most `max` arguments.
fn arg_init(args: &Args, max: usize) -> Res<()> {
    if args.len() > max {
        return Err(arg_err(max + 1, "found too many arguments"));
    }
    Ok(())
}

/// `json_integer_option`: set from argument `n` when given (range errors
/// always name argument 1, as the C code does); returns the setting.
fn integer_option(
    lua: &Lua,
    args: &Args,
    n: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> Res<Value> {
    if !args.is_none_or_nil(n) {
        // luaL_checkinteger's 64-bit result is stored in a C int.
        let value = args.check_integer(lua, n)? as i32;
        if !(min <= value && value <= max) {
            return Err(arg_err(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

/// `json_enum_option` with `bool_true` 1: a boolean, or one of `options`;
/// returns a boolean for off/on and the option's name otherwise.
fn enum_option(
    lua: &Lua,
    args: &Args,
    n: usize,
    setting: &mut i32,
    options: &[&str],
) -> Res<Value> {
    match args.get(n) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = i32::from(*b),
        Some(_) => {
            let name = args.check_string(lua, n)?;
            let name = name.as_bytes();
            // luaL_checkoption compares C strings.
            let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(i) => *setting = i as i32,
                None => {
                    let mut m = b"invalid option '".to_vec();
                    m.extend_from_slice(name);
                    m.push(b'\'');
                    return Err(Fail::Arg(n, m));
                }
            }
        }
    }
    Ok(if *setting == 0 || *setting == 1 {
        Value::Boolean(*setting == 1)
    } else {
        let name = options.get(*setting as usize).copied().unwrap_or("");
        Value::String(lua.create_string(name)?)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{err, lua, run};

    #[test]
    fn hostile_nesting_fails_cleanly() {
        let l = lua();
        let e = err(
            &l,
            "local c = cjson.new() c.decode_max_depth(2^31 - 1) c.decode(string.rep('[', 1000000))",
        );
        assert!(
            e.ends_with("Found too many nested data structures (7999) at character 7999"),
            "{e}"
        );
        let e = err(
            &l,
            "local c = cjson.new() c.decode_max_depth(2^31 - 1) c.decode(string.rep('{\"a\":', 1000000))",
        );
        assert!(
            e.contains("Found too many nested data structures (4000)"),
            "{e}"
        );
        let e = err(
            &l,
            "local c = cjson.new() c.encode_max_depth(2^31 - 1) local t = {} t.a = t c.encode(t)",
        );
        assert!(
            e.ends_with("Cannot serialise, excessive nesting (4000)"),
            "{e}"
        );
    }

    #[test]
    fn big_documents_round_trip() {
        let l = lua();
        let got = run(
            &l,
            r#"
            local t = {}
            for i = 1, 20000 do t[i] = {id = i, name = 'item' .. i, tags = {'a', 'b'}, score = i / 7} end
            local s = cjson.encode(t)
            local back = cjson.decode(s)
            -- Key order after decoding differs (as in Redis), so compare fields.
            for i = 1, 20000, 997 do
              local a, b = t[i], back[i]
              if a.id ~= b.id or a.name ~= b.name or cjson.encode(b.tags) ~= '["a","b"]'
                 or string.format('%.14g', a.score) ~= string.format('%.14g', b.score) then
                return 'mismatch at ' .. i
              end
            end
            return #back .. ' ' .. back[20000].name
            "#,
        );
        assert_eq!(String::from_utf8_lossy(&got), "20000 item20000");
    }

    #[test]
    fn instances_have_their_own_settings() {
        let l = lua();
        let got = run(
            &l,
            "local a = cjson.new() a.encode_number_precision(3) \
             return a.encode(1/3) .. ' ' .. cjson.encode(1/3) .. ' ' .. cjson.encode_number_precision()",
        );
        assert_eq!(String::from_utf8_lossy(&got), "0.333 0.33333333333333 14");
    }
}
