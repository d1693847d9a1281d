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

use super::{
    arg_err, msg, number_of, one, too_large, type_name, Args, Fail, LuaStack, Registrar, Res, Ret,
    Shared, LUA_MAX_CSTACK, MAX_OUTPUT,
};
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
            encode(lua, &c.borrow(), args)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        reg.func(lua, "decode", move |lua, args| {
            decode(lua, &c.borrow(), args)
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

// ---------------------------------------------------------------- encoding

/// References to Lua values the encoder may hold in Rust at once (mlua
/// keeps at most about 8000 alive under Lua 5.1).
const PAIR_REF_BUDGET: usize = 4096;

/// A container being written.
///
/// Small objects keep their (key, value) pairs here, within
/// `PAIR_REF_BUDGET`; other containers keep their table (and an object's
/// key list) in a Lua-side stack, and only the innermost one is cached.
struct EncFrame {
    len: usize,
    next: usize,
    shape: Shape,
}

enum Shape {
    /// Table on the Lua-side stack, elements 1..=len; for an array with
    /// holes, its sorted keys and how many have been written, so runs of
    /// nulls need no lookups.
    Array(Option<(Vec<f64>, usize)>),
    /// Table and a key list on the Lua-side stack.
    Keys,
    /// The pairs themselves.
    Pairs(Vec<(Value, Value)>),
}

impl EncFrame {
    /// Lua stack slots the C encoder holds here: the element, or key+value.
    fn slots(&self) -> usize {
        match self.shape {
            Shape::Array(_) => 1,
            _ => 2,
        }
    }

    /// Entries this frame keeps in the Lua-side stack.
    fn stacked(&self) -> usize {
        match self.shape {
            Shape::Array(_) => 1,
            Shape::Keys => 2,
            Shape::Pairs(_) => 0,
        }
    }
}

/// The innermost stacked container's table and key list, reloaded from the
/// Lua-side stack when the frame above it closes.
fn load_top(frames: &[EncFrame], stack: &LuaStack) -> Res<(Option<Table>, Option<Table>)> {
    let Some(f) = frames.iter().rev().find(|f| f.stacked() > 0) else {
        return Ok((None, None));
    };
    // Frames above `f` stack nothing, so `f`'s entries are on top.
    let n = stack.len();
    let get = |i: usize| -> Res<Option<Table>> {
        Ok(match stack.get(i)? {
            Value::Table(t) => Some(t),
            _ => None,
        })
    };
    Ok(match f.shape {
        Shape::Array(_) => (get(n)?, None),
        _ => (get(n - 1)?, get(n)?),
    })
}

fn encode(lua: &Lua, cfg: &Config, args: Args) -> Res<Ret> {
    if args.len() != 1 {
        return Err(arg_err(1, "expected 1 argument"));
    }
    let mut out = Vec::new();
    let mut frames: Vec<EncFrame> = Vec::new();
    let mut stack = LuaStack::new(lua)?;
    let (mut top_table, mut top_keys): (Option<Table>, Option<Table>) = (None, None);
    let mut slots = 0;
    let mut pair_refs = 0;
    let mut pending = args.get(1).cloned();
    loop {
        if let Some(v) = pending.take() {
            match v {
                Value::Table(t) => {
                    let depth = frames.len() + 1;
                    // The encode argument plus what the enclosing levels hold.
                    let top = 1 + slots;
                    if depth > cfg.encode_max_depth.max(0) as usize || top + 3 > LUA_MAX_CSTACK {
                        return Err(msg(format!(
                            "Cannot serialise, excessive nesting ({depth})"
                        )));
                    }
                    // One walk classifies the table and, within the budget,
                    // keeps its pairs in `next` order as the C walk visits them.
                    let mut shape = ArrayShape::default();
                    let mut pairs = Vec::new();
                    let mut collecting = true;
                    t.for_each(|k: Value, v: Value| {
                        shape.add(&k);
                        if collecting && pair_refs + 2 * (pairs.len() + 1) <= PAIR_REF_BUDGET {
                            pairs.push((k, v));
                        } else {
                            collecting = false;
                            pairs.clear();
                        }
                        Ok(())
                    })?;
                    let len = shape.length(cfg)?;
                    let frame = if len > 0 {
                        out.push(b'[');
                        stack.push(Value::Table(t.clone()))?;
                        top_table = Some(t);
                        top_keys = None;
                        let holes = (shape.items != len).then(|| {
                            let mut keys = std::mem::take(&mut shape.keys);
                            keys.sort_by(f64::total_cmp);
                            (keys, 0)
                        });
                        EncFrame {
                            len: len as usize,
                            next: 1,
                            shape: Shape::Array(holes),
                        }
                    } else {
                        out.push(b'{');
                        if collecting {
                            pair_refs += 2 * pairs.len();
                            EncFrame {
                                len: pairs.len(),
                                next: 1,
                                shape: Shape::Pairs(pairs),
                            }
                        } else {
                            let keys = lua.create_table()?;
                            let mut n = 0usize;
                            t.for_each(|k: Value, _: Value| {
                                n += 1;
                                keys.raw_set(n, k)
                            })?;
                            stack.push(Value::Table(t.clone()))?;
                            stack.push(Value::Table(keys.clone()))?;
                            top_table = Some(t);
                            top_keys = Some(keys);
                            EncFrame {
                                len: n,
                                next: 1,
                                shape: Shape::Keys,
                            }
                        }
                    };
                    slots += frame.slots();
                    frames.push(frame);
                }
                other => append_scalar(cfg, &mut out, &other)?,
            }
        }
        if out.len() > MAX_OUTPUT {
            return Err(too_large());
        }
        let Some(frame) = frames.last_mut() else {
            break;
        };
        if frame.next <= frame.len {
            let i = frame.next;
            frame.next += 1;
            let bug = || msg("BUG: encode stack");
            let (k, v) = match &mut frame.shape {
                Shape::Array(holes) => {
                    if i > 1 {
                        out.push(b',');
                    }
                    if let Some((keys, done)) = holes {
                        if keys.get(*done).is_some_and(|&k| k == i as f64) {
                            *done += 1;
                        } else {
                            // A run of holes up to the next key (or the end).
                            let end = keys.get(*done).map_or(frame.len, |&k| k as usize - 1);
                            out.extend_from_slice(b"null");
                            for _ in i..end {
                                if out.len() > MAX_OUTPUT {
                                    return Err(too_large());
                                }
                                out.extend_from_slice(b",null");
                            }
                            frame.next = end + 1;
                            continue;
                        }
                    }
                    pending = Some(top_table.as_ref().ok_or_else(bug)?.raw_get(i)?);
                    continue;
                }
                Shape::Keys => {
                    let k: Value = top_keys.as_ref().ok_or_else(bug)?.raw_get(i)?;
                    let v: Value = top_table.as_ref().ok_or_else(bug)?.raw_get(k.clone())?;
                    (k, v)
                }
                Shape::Pairs(pairs) => {
                    let slot = pairs.get_mut(i - 1).ok_or_else(bug)?;
                    std::mem::replace(slot, (Value::Nil, Value::Nil))
                }
            };
            if i > 1 {
                out.push(b',');
            }
            match &k {
                Value::String(s) => {
                    append_string(&mut out, &s.as_bytes());
                    out.push(b':');
                }
                Value::Integer(_) | Value::Number(_) => {
                    out.push(b'"');
                    append_number(cfg, &mut out, number_of(&k).unwrap_or(0.0))?;
                    out.extend_from_slice(b"\":");
                }
                other => {
                    return Err(msg(format!(
                        "Cannot serialise {}: table key must be a number or string",
                        type_name(other)
                    )))
                }
            }
            pending = Some(v);
            continue;
        }
        out.push(if matches!(frame.shape, Shape::Array(_)) {
            b']'
        } else {
            b'}'
        });
        if let Some(done) = frames.pop() {
            slots -= done.slots();
            for _ in 0..done.stacked() {
                stack.pop()?;
            }
            if let Shape::Pairs(p) = &done.shape {
                pair_refs -= 2 * p.len();
            }
            if done.stacked() > 0 {
                (top_table, top_keys) = load_top(&frames, &stack)?;
            }
        }
    }
    one(Value::String(lua.create_string(out)?))
}

/// `lua_array_length`, fed one key at a time: the array length (max key)
/// when every key is a positive integral number, else -1; C `int`
/// arithmetic throughout.
#[derive(Default)]
struct ArrayShape {
    max: i32,
    items: i32,
    not_array: bool,
    /// The keys seen while the table still looks like an array.
    keys: Vec<f64>,
}

impl ArrayShape {
    fn add(&mut self, k: &Value) {
        if self.not_array {
            return;
        }
        match number_of(k) {
            Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                if k > f64::from(self.max) {
                    self.max = super::c_f64_to_i32(k);
                }
                self.items = self.items.wrapping_add(1);
                self.keys.push(k);
            }
            _ => {
                self.not_array = true;
                self.keys = Vec::new();
            }
        }
    }

    fn length(&self, cfg: &Config) -> Res<i32> {
        if self.not_array {
            return Ok(-1);
        }
        let (max, items) = (self.max, self.items);
        if cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if cfg.sparse_convert == 0 {
                return Err(msg("Cannot serialise table: excessively sparse array"));
            }
            return Ok(-1);
        }
        Ok(max)
    }
}

fn append_scalar(cfg: &Config, out: &mut Vec<u8>, v: &Value) -> Res<()> {
    match v {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(_) | Value::Number(_) => {
            append_number(cfg, out, number_of(v).unwrap_or(0.0))?
        }
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        v if is_null(v) => out.extend_from_slice(b"null"),
        other => {
            return Err(msg(format!(
                "Cannot serialise {}: type not supported",
                type_name(other)
            )));
        }
    }
    Ok(())
}

/// The escape for byte `b`, if it needs one (`char2escape`).
fn escape(b: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match b {
        0..=31 => Some(CONTROL[b as usize]),
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        127 => Some(b"\\u007f"),
        _ => None,
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut rest = s;
    // Copy runs that need no escape in one go.
    while let Some(at) = rest.iter().position(|&b| escape(b).is_some()) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(escape(rest[at]).unwrap_or_default());
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

fn append_number(cfg: &Config, out: &mut Vec<u8>, num: f64) -> Res<()> {
    match cfg.encode_invalid_numbers {
        0 if !num.is_finite() => {
            return Err(msg("Cannot serialise number: must not be NaN or Inf"))
        }
        1 if num.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !num.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    out.extend_from_slice(
        format_g(num, cfg.encode_number_precision.clamp(1, 14) as usize).as_bytes(),
    );
    Ok(())
}

/// C's `%.<precision>g` (glibc output: `inf`, `-0`, two-digit exponents).
pub(crate) fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = precision.max(1);
    // Style e first: its (rounded) exponent decides the style.
    let e_style = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = e_style.split_once('e').unwrap_or((e_style.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mantissa = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

/// Drops trailing fraction zeros and a bare decimal point (no `#` flag).
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

// ---------------------------------------------------------------- decoding

/// Token kinds, named as the C module names them in errors.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number => "T_NUMBER",
            Kind::Boolean => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(what) => what,
        }
    }
}

struct Token {
    kind: Kind,
    /// 0-based offset reported in errors.
    index: usize,
    number: f64,
    boolean: bool,
    string: Vec<u8>,
}

impl Token {
    fn new(kind: Kind, index: usize) -> Self {
        Token {
            kind,
            index,
            number: 0.0,
            boolean: false,
            string: Vec::new(),
        }
    }
}

/// The tokenizer over the JSON text; reading past the end yields NUL, as
/// the C code reads the Lua string's terminator.
struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    decode_invalid_numbers: bool,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let ch = self.at(start);
        let single = match ch {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            0 => return Token::new(Kind::End, start),
            _ => None,
        };
        if let Some(kind) = single {
            self.pos += 1;
            return Token::new(kind, start);
        }
        if !matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        ) {
            return Token::new(Kind::Error("invalid token"), start);
        }
        if ch == b'"' {
            return self.string_token();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.decode_invalid_numbers && self.is_invalid_number() {
                return Token::new(Kind::Error("invalid number"), start);
            }
            return self.number_token();
        }
        for (word, kind, value) in [
            (&b"true"[..], Kind::Boolean, true),
            (b"false", Kind::Boolean, false),
            (b"null", Kind::Null, false),
        ] {
            if self.data.get(start..start + word.len()) == Some(word) {
                self.pos += word.len();
                let mut t = Token::new(kind, start);
                t.boolean = value;
                return t;
            }
        }
        if self.decode_invalid_numbers && self.is_invalid_number() {
            return self.number_token();
        }
        Token::new(Kind::Error("invalid token"), start)
    }

    /// `json_is_invalid_number`: forms strtod takes but JSON does not.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word: Vec<u8> = (0..3)
            .map(|i| self.at(p + i).to_ascii_lowercase())
            .collect();
        word == b"inf" || word == b"nan"
    }

    fn number_token(&mut self) -> Token {
        let start = self.pos;
        match strtod(self.data, start) {
            Some((value, end)) => {
                self.pos = end;
                let mut t = Token::new(Kind::Number, start);
                t.number = value;
                t
            }
            None => Token::new(Kind::Error("invalid number"), start),
        }
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let ch = self.at(self.pos);
            match ch {
                b'"' => break,
                0 => return Token::new(Kind::Error("unexpected end of string"), self.pos),
                b'\\' => {
                    let esc = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 12,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape(&mut s) {
                                continue;
                            }
                            return Token::new(
                                Kind::Error("invalid unicode escape code"),
                                self.pos,
                            );
                        }
                        _ => return Token::new(Kind::Error("invalid escape code"), self.pos),
                    };
                    s.push(esc);
                    self.pos += 2;
                }
                _ => {
                    s.push(ch);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        let mut t = Token::new(Kind::Str, start);
        t.string = s;
        t
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = (self.at(at + i) as char).to_digit(16)?;
            Some((acc << 4) | d)
        })
    }

    /// `\uXXXX` (and a following low surrogate) at `pos`, as UTF-8.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        push_utf8(out, cp);
        self.pos += len;
        true
    }
}

/// `codepoint_to_utf8` (code points here never exceed 0x10FFFF).
fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp <= 0x7F {
        out.push(cp as u8);
    } else if cp <= 0x7FF {
        out.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
    } else if cp <= 0xFFFF {
        out.extend_from_slice(&[
            (cp >> 12) as u8 | 0xE0,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    } else {
        out.extend_from_slice(&[
            (cp >> 18) as u8 | 0xF0,
            ((cp >> 12) & 0x3F) as u8 | 0x80,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    }
}

/// glibc `strtod` at `start`: the value and where it stopped, or `None`
/// when no number starts there. Decimal, hex (`0x1.8p3`), `inf`,
/// `infinity`, `nan` and `nan(chars)`, each with an optional sign.
pub(crate) fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = start;
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = |v: f64| if negative { -v } else { v };
    let lower = |from: usize, n: usize| -> Vec<u8> {
        (0..n).map(|k| at(from + k).to_ascii_lowercase()).collect()
    };
    if lower(i, 3) == b"inf" {
        let end = if lower(i, 8) == b"infinity" {
            i + 8
        } else {
            i + 3
        };
        return Some((sign(f64::INFINITY), end));
    }
    if lower(i, 3) == b"nan" {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((sign(f64::NAN), end));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        if let Some((v, end)) = hex_float(s, i + 2) {
            return Some((sign(v), end));
        }
        // "0x" with no hex digits: the "0" alone is the number.
        return Some((sign(0.0), i + 1));
    }
    let digits_from = i;
    let mut mantissa_digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return None;
    }
    let mantissa_end = i;
    let mut end = mantissa_end;
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            end = j;
        }
    }
    let mut text = String::with_capacity(end - digits_from + 1);
    text.extend(s[digits_from..end].iter().map(|&b| b as char));
    if text.starts_with('.') {
        text.insert(0, '0');
    }
    let v: f64 = text.parse().ok()?;
    Some((sign(v), end))
}

/// Hex digits (with optional point and `p` exponent) after "0x".
fn hex_float(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let hex = |b: u8| (b as char).to_digit(16);
    let mut i = start;
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut any = false;
    let mut push = |d: u32, frac: bool, exp: &mut i64| {
        if mantissa >> 56 == 0 {
            mantissa = (mantissa << 4) | u64::from(d);
            if frac {
                *exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !frac {
                *exp += 4;
            }
        }
    };
    while let Some(d) = hex(at(i)) {
        push(d, false, &mut exp);
        any = true;
        i += 1;
    }
    if at(i) == b'.' {
        let mut j = i + 1;
        let mut frac_any = false;
        while let Some(d) = hex(at(j)) {
            push(d, true, &mut exp);
            frac_any = true;
            j += 1;
        }
        if any || frac_any {
            i = j;
            any = true;
        }
    }
    if !any {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let neg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(j).is_ascii_digit() {
                e = (e * 10 + i64::from(at(j) - b'0')).min(1 << 40);
                j += 1;
            }
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    // The mantissa holds up to 60 bits; fold the sticky bit in below the
    // 53 that survive, then scale exactly by powers of two.
    let m = if sticky { mantissa | 1 } else { mantissa };
    let mut v = m as f64;
    let mut e = exp;
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    Some((v, i))
}

/// A container being filled while decoding; its table is in a `LuaStack`.
enum DecFrame {
    Array { next: usize },
    Object { key: Vec<u8> },
}

impl DecFrame {
    /// Slots the C decoder holds: the table, and an object's pending key.
    fn slots(&self) -> usize {
        match self {
            DecFrame::Array { .. } => 1,
            DecFrame::Object { .. } => 2,
        }
    }
}

fn parse_error(expected: &str, t: &Token) -> Fail {
    msg(format!(
        "Expected {expected} but found {} at character {}",
        t.kind.name(),
        t.index + 1
    ))
}

fn decode(lua: &Lua, cfg: &Config, args: Args) -> Res<Ret> {
    if args.len() != 1 {
        return Err(arg_err(1, "expected 1 argument"));
    }
    let text = args.check_string(lua, 1)?;
    let data = text.as_bytes();
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut lx = Lexer {
        data: &data,
        pos: 0,
        decode_invalid_numbers: cfg.decode_invalid_numbers != 0,
    };
    let max_depth = cfg.decode_max_depth.max(0) as usize;
    let mut frames: Vec<DecFrame> = Vec::new();
    let mut tables = LuaStack::new(lua)?;
    let mut slots = 0;
    let mut tok = lx.next_token();
    let value = 'outer: loop {
        // `tok` starts a value.
        let mut value = match tok.kind {
            Kind::Str => Value::String(lua.create_string(&tok.string)?),
            Kind::Number => Value::Number(tok.number),
            Kind::Boolean => Value::Boolean(tok.boolean),
            Kind::Null => null(),
            Kind::ObjBegin | Kind::ArrBegin => {
                let is_obj = tok.kind == Kind::ObjBegin;
                let depth = frames.len() + 1;
                let top = 1 + slots;
                let need = if is_obj { 3 } else { 2 };
                if depth > max_depth || top + need > LUA_MAX_CSTACK {
                    return Err(msg(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        lx.pos
                    )));
                }
                let table = lua.create_table()?;
                tok = lx.next_token();
                let close = if is_obj { Kind::ObjEnd } else { Kind::ArrEnd };
                if tok.kind == close {
                    Value::Table(table)
                } else {
                    tables.push(Value::Table(table))?;
                    let frame = if is_obj {
                        let key = object_key(&mut lx, tok)?;
                        tok = lx.next_token();
                        DecFrame::Object { key }
                    } else {
                        DecFrame::Array { next: 1 }
                    };
                    slots += frame.slots();
                    frames.push(frame);
                    continue;
                }
            }
            _ => return Err(parse_error("value", &tok)),
        };
        // Store `value` in its container and read what follows it.
        loop {
            let Some(frame) = frames.last_mut() else {
                break 'outer value;
            };
            let Value::Table(table) = tables.get(tables.len())? else {
                return Err(msg("BUG: decode stack"));
            };
            let close = match frame {
                DecFrame::Array { next } => {
                    table.raw_set(*next, value)?;
                    *next += 1;
                    Kind::ArrEnd
                }
                DecFrame::Object { key } => {
                    table.raw_set(lua.create_string(std::mem::take(key))?, value)?;
                    Kind::ObjEnd
                }
            };
            tok = lx.next_token();
            if tok.kind != close {
                if tok.kind != Kind::Comma {
                    let what = if close == Kind::ArrEnd {
                        "comma or array end"
                    } else {
                        "comma or object end"
                    };
                    return Err(parse_error(what, &tok));
                }
                tok = lx.next_token();
                if let DecFrame::Object { key } = frame {
                    *key = object_key(&mut lx, tok)?;
                    tok = lx.next_token();
                }
                continue 'outer;
            }
            // The container closed: it is now the value for its parent.
            if let Some(done) = frames.pop() {
                slots -= done.slots();
            }
            value = tables.pop()?;
        }
    };
    let end = lx.next_token();
    if end.kind != Kind::End {
        return Err(parse_error("the end", &end));
    }
    one(value)
}

/// An object key token followed by its colon.
fn object_key(lx: &mut Lexer<'_>, tok: Token) -> Res<Vec<u8>> {
    if tok.kind != Kind::Str {
        return Err(parse_error("object key string", &tok));
    }
    let colon = lx.next_token();
    if colon.kind != Kind::Colon {
        return Err(parse_error("colon", &colon));
    }
    Ok(tok.string)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{err, lua, run};
    use super::{format_g, strtod};

    #[test]
    fn format_g_matches_c_printf() {
        let table = include_str!("../../testdata/format_g.txt");
        let mut bad = Vec::new();
        let mut n = 0;
        for line in table.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.split('\t');
            let (Some(bits), Some(p), Some(want)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let x = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex bits"));
            let p: usize = p.parse().expect("precision");
            let got = format_g(x, p);
            n += 1;
            if got != want {
                bad.push(format!("{x:e} %.{p}g: want {want} got {got}"));
            }
        }
        assert!(n > 9000);
        assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
    }

    #[test]
    fn strtod_is_correctly_rounded() {
        let table = include_str!("../../testdata/strtod.txt");
        let mut n = 0;
        for line in table.lines().filter(|l| !l.starts_with('#')) {
            let Some((text, bits)) = line.split_once('\t') else {
                continue;
            };
            let want = u64::from_str_radix(bits, 16).expect("hex bits");
            let (got, end) = strtod(text.as_bytes(), 0).expect(text);
            assert_eq!(end, text.len(), "{text}");
            assert_eq!(got.to_bits(), want, "{text}");
            n += 1;
        }
        assert!(n > 1000);
    }

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
