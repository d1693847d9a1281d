//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis bundles it.
//!
//! Packing: a table whose keys are exactly 1..n is an array (so `{}` packs
//! as an empty array), anything else a map; tables nested 16 deep pack as
//! nil, which is how cyclic tables terminate. A number that an `int64_t`
//! holds exactly packs as the smallest integer form, otherwise as a float32
//! when that is exact, else a float64. Nil, functions, userdata and threads
//! pack as nil. Strings use fixstr/str8/str16/str32.
//!
//! Unpacking: bin and ext types are "Bad data format in input."; truncated
//! input is "Missing bytes in input."; uint64 values above `i64::MAX` wrap
//! negative as the C `lua_pushinteger` does. Nesting is walked with an
//! explicit stack, and the C module's Lua stack use is counted so inputs that
//! overflow Lua's 8000-slot C stack in Redis fail here with the same message.
//! Nothing is allocated from a length in the input: strings are checked
//! against the bytes present, and arrays and maps grow as elements arrive.

use super::{
    arg_err, msg, number_of, one, too_large, Args, Fail, LuaStack, Registrar, Res, Ret,
    LUA_MAX_CSTACK, MAX_OUTPUT,
};
use mlua::{Lua, Table, Value};

/// Tables nested this deep pack as nil.
const MAX_NESTING: usize = 16;

/// Builds the `cmsgpack` table.
pub(crate) fn module(lua: &Lua, reg: &Registrar) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", reg.func(lua, "pack", pack)?)?;
    t.raw_set(
        "unpack",
        reg.func(lua, "unpack", |lua, args| {
            let base = args.len();
            unpack_full(lua, &args, 0, 0, base)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        reg.func(lua, "unpack_one", |lua, args| {
            let offset = args.opt_integer(lua, 2, 0)?;
            unpack_full(lua, &args, 1, offset, 1)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        reg.func(lua, "unpack_limit", |lua, args| {
            let limit = args.check_integer(lua, 2)?;
            let offset = args.opt_integer(lua, 3, 0)?;
            unpack_full(lua, &args, limit, offset, 1)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ----------------------------------------------------------------- packing

fn pack(_lua: &Lua, args: Args) -> Res<Ret> {
    let nargs = args.len();
    if nargs == 0 {
        return Err(arg_err(0, "MessagePack pack needs input."));
    }
    // lua_checkstack(L, nargs) with nargs already on the stack.
    if nargs * 2 > LUA_MAX_CSTACK {
        return Err(arg_err(0, "Too many arguments for MessagePack pack."));
    }
    let mut buf = Vec::new();
    for i in 1..=nargs {
        if let Some(v) = args.get(i) {
            // Stack: the arguments, the strings packed so far, this copy.
            encode(&mut buf, v, 0, nargs + i)?;
        }
    }
    one(Value::String(_lua.create_string(buf)?))
}

/// `luaL_checkstack(L, extra, what)` for a C stack of `top` slots.
fn check_stack(top: usize, extra: usize, what: &str) -> Res<()> {
    if top + extra > LUA_MAX_CSTACK {
        return Err(msg(format!("stack overflow ({what})")));
    }
    Ok(())
}

/// Packs `v` (at stack height `top`) at nesting `level`.
fn encode(buf: &mut Vec<u8>, v: &Value, level: usize, top: usize) -> Res<()> {
    if buf.len() > MAX_OUTPUT {
        return Err(too_large());
    }
    match v {
        Value::String(s) => encode_bytes(buf, &s.as_bytes()),
        Value::Boolean(b) => buf.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => encode_number(buf, number_of(v).unwrap_or(0.0)),
        Value::Table(t) if level < MAX_NESTING => encode_table(buf, t, level, top)?,
        _ => buf.push(0xc0),
    }
    Ok(())
}

fn encode_table(buf: &mut Vec<u8>, t: &Table, level: usize, top: usize) -> Res<()> {
    check_stack(top, 2, "in function table_is_an_array")?;
    if table_is_an_array(t)? {
        let len = t.raw_len();
        encode_len(buf, len as u64, 0x90, 0xdc);
        check_stack(top, 1, "in function mp_encode_lua_table_as_array")?;
        for j in 1..=len {
            let item: Value = t.raw_get(j)?;
            encode(buf, &item, level + 1, top + 1)?;
        }
    } else {
        check_stack(top, 3, "in function mp_encode_lua_table_as_map")?;
        let mut count = 0u64;
        t.for_each(|_: Value, _: Value| {
            count += 1;
            Ok(())
        })?;
        encode_len(buf, count, 0x80, 0xde);
        // Nesting is at most 16 deep, so recursing inside the walk is bounded.
        let mut failed = None;
        t.for_each(|k: Value, v: Value| {
            if failed.is_none() {
                if let Err(e) = encode(buf, &k, level + 1, top + 3)
                    .and_then(|()| encode(buf, &v, level + 1, top + 2))
                {
                    failed = Some(e);
                }
            }
            Ok(())
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// Keys exactly 1..n (numbers that an `int` holds), so n == count.
fn table_is_an_array(t: &Table) -> mlua::Result<bool> {
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    let mut array = true;
    t.for_each(|k: Value, _: Value| {
        if !array {
            return Ok(());
        }
        match number_of(&k) {
            Some(n) if n > 0.0 && !n.is_infinite() && f64::from(super::c_f64_to_i32(n)) == n => {
                max = max.max(n as i64);
                count += 1;
            }
            _ => array = false,
        }
        Ok(())
    })?;
    Ok(array && max == count)
}

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

/// Array or map header: fix form up to 15, then 16-bit, then 32-bit.
fn encode_len(buf: &mut Vec<u8>, n: u64, fix: u8, wide16: u8) {
    if n <= 15 {
        buf.push(fix | n as u8);
    } else if n <= 0xffff {
        buf.push(wide16);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(wide16 + 1);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_number(buf: &mut Vec<u8>, n: f64) {
    let i = super::c_f64_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(buf, i);
    } else {
        let f = n as f32;
        if f64::from(f) == n {
            buf.push(0xca);
            buf.extend_from_slice(&f.to_be_bytes());
        } else {
            buf.push(0xcb);
            buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

// --------------------------------------------------------------- unpacking

/// Why decoding stopped early (the C cursor's error codes).
enum Stop {
    Eof,
    BadFormat,
    Raise(Fail),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Raise(Fail::Lua(e))
    }
}

/// A container being filled; its table is kept in a `LuaStack`.
enum Frame {
    Array { left: usize, next: usize },
    Map { left: usize, has_key: bool },
}

impl Frame {
    /// Lua stack slots the C decoder holds for this container while it
    /// decodes the next element: table + index, table (+ key).
    fn slots(&self) -> usize {
        match self {
            Frame::Array { .. } => 2,
            Frame::Map { has_key: false, .. } => 1,
            Frame::Map { has_key: true, .. } => 2,
        }
    }
}

/// Input cursor.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.at
    }

    fn need(&self, n: usize) -> Result<(), Stop> {
        if self.left() < n {
            Err(Stop::Eof)
        } else {
            Ok(())
        }
    }

    /// `n` bytes after the current type byte.
    fn bytes(&self, n: usize) -> &[u8] {
        &self.data[self.at + 1..self.at + 1 + n]
    }

    fn be(&self, n: usize) -> u64 {
        self.bytes(n)
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }
}

/// What one type byte (and its header) decodes to.
enum Item {
    Scalar(Value),
    Str(usize, usize),
    Array(usize),
    Map(usize),
}

/// Reads one item's header at the cursor, consuming it (and a string's
/// bytes, which are returned as a range into the input).
fn read_item(c: &mut Cursor<'_>) -> Result<Item, Stop> {
    let t = c.data[c.at];
    let num = |x: f64| Item::Scalar(Value::Number(x));
    let (item, used) = match t {
        0xcc => {
            c.need(2)?;
            (num(c.be(1) as f64), 2)
        }
        0xd0 => {
            c.need(2)?;
            (num(f64::from(c.be(1) as u8 as i8)), 2)
        }
        0xcd => {
            c.need(3)?;
            (num(c.be(2) as f64), 3)
        }
        0xd1 => {
            c.need(3)?;
            (num(f64::from(c.be(2) as u16 as i16)), 3)
        }
        0xce => {
            c.need(5)?;
            (num(c.be(4) as f64), 5)
        }
        0xd2 => {
            c.need(5)?;
            (num(f64::from(c.be(4) as u32 as i32)), 5)
        }
        // lua_pushinteger takes a signed 64-bit value.
        0xcf | 0xd3 => {
            c.need(9)?;
            (num(c.be(8) as i64 as f64), 9)
        }
        0xc0 => (Item::Scalar(Value::Nil), 1),
        0xc3 => (Item::Scalar(Value::Boolean(true)), 1),
        0xc2 => (Item::Scalar(Value::Boolean(false)), 1),
        0xca => {
            c.need(5)?;
            (num(f64::from(f32::from_bits(c.be(4) as u32))), 5)
        }
        0xcb => {
            c.need(9)?;
            (num(f64::from_bits(c.be(8))), 9)
        }
        0xd9..=0xdb => {
            let hdr = match t {
                0xd9 => 1,
                0xda => 2,
                _ => 4,
            };
            c.need(1 + hdr)?;
            let len = c.be(hdr) as usize;
            c.at += 1 + hdr;
            c.need(len)?;
            let start = c.at;
            c.at += len;
            return Ok(Item::Str(start, len));
        }
        0xdc..=0xdf => {
            let hdr = if t == 0xdc || t == 0xde { 2 } else { 4 };
            c.need(1 + hdr)?;
            let len = c.be(hdr) as usize;
            c.at += 1 + hdr;
            return Ok(if t <= 0xdd {
                Item::Array(len)
            } else {
                Item::Map(len)
            });
        }
        _ if t & 0x80 == 0 => (num(f64::from(t)), 1),
        _ if t & 0xe0 == 0xe0 => (num(f64::from(t as i8)), 1),
        _ if t & 0xe0 == 0xa0 => {
            let len = usize::from(t & 0x1f);
            c.need(1 + len)?;
            let start = c.at + 1;
            c.at += 1 + len;
            return Ok(Item::Str(start, len));
        }
        _ if t & 0xf0 == 0x90 => {
            c.at += 1;
            return Ok(Item::Array(usize::from(t & 0xf)));
        }
        _ if t & 0xf0 == 0x80 => {
            c.at += 1;
            return Ok(Item::Map(usize::from(t & 0xf)));
        }
        _ => return Err(Stop::BadFormat),
    };
    c.at += used;
    Ok(item)
}

/// Decodes one top-level value with the C stack at height `top`. Open
/// containers (and a map's pending key) live in `tables`, a Lua-side stack.
fn decode_one(lua: &Lua, c: &mut Cursor<'_>, top: usize) -> Result<Value, Stop> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut tables = LuaStack::new(lua)?;
    let mut slots = 0;
    loop {
        let height = top + slots;
        c.need(1)?;
        if height + 1 > LUA_MAX_CSTACK {
            return Err(Stop::Raise(msg(
                "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
            )));
        }
        let mut value = match read_item(c)? {
            Item::Scalar(v) => v,
            Item::Str(start, len) => Value::String(lua.create_string(&c.data[start..start + len])?),
            Item::Array(len) => {
                if height + 2 > LUA_MAX_CSTACK {
                    return Err(Stop::Raise(msg(
                        "stack overflow (in function mp_decode_to_lua_array)",
                    )));
                }
                let table = lua.create_table()?;
                if len > 0 {
                    tables.push(Value::Table(table))?;
                    let f = Frame::Array { left: len, next: 1 };
                    slots += f.slots();
                    frames.push(f);
                    continue;
                }
                Value::Table(table)
            }
            Item::Map(len) => {
                let table = lua.create_table()?;
                if len > 0 {
                    tables.push(Value::Table(table))?;
                    let f = Frame::Map {
                        left: len,
                        has_key: false,
                    };
                    slots += f.slots();
                    frames.push(f);
                    continue;
                }
                Value::Table(table)
            }
        };
        // Store the finished value in its container; close full containers.
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(value);
            };
            match frame {
                Frame::Array { left, next } => {
                    let Value::Table(table) = tables.get(tables.len())? else {
                        return Err(Stop::Raise(msg("BUG: unpack stack")));
                    };
                    table.raw_set(*next, value)?;
                    *next += 1;
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
                Frame::Map { left, has_key } => {
                    if !*has_key {
                        tables.push(value)?;
                        *has_key = true;
                        slots += 1;
                        break;
                    }
                    let k = tables.pop()?;
                    *has_key = false;
                    slots -= 1;
                    match &k {
                        Value::Nil => {
                            return Err(Stop::Raise(Fail::Plain(b"table index is nil".to_vec())))
                        }
                        Value::Number(n) if n.is_nan() => {
                            return Err(Stop::Raise(Fail::Plain(b"table index is NaN".to_vec())))
                        }
                        _ => {}
                    }
                    let Value::Table(table) = tables.get(tables.len())? else {
                        return Err(Stop::Raise(msg("BUG: unpack stack")));
                    };
                    table.raw_set(k, value)?;
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
            }
            if let Some(f) = frames.pop() {
                slots -= f.slots();
            }
            value = tables.pop()?;
        }
    }
}

/// `mp_unpack_full`: `limit` values (0 with offset 0: all) from `offset`;
/// `base` is the C stack height before decoding (the arguments left).
fn unpack_full(lua: &Lua, args: &Args, limit: i64, offset: i64, base: usize) -> Res<Ret> {
    let s = args.check_string(lua, 1)?;
    let data = s.as_bytes();
    let len = data.len();
    if offset < 0 || limit < 0 {
        // The C code prints the input length where it means the limit.
        return Err(msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cursor {
        data: &data,
        at: offset as usize,
    };
    // Results go straight into a table (slot 1 is kept for the offset).
    let mut out = LuaStack::new(lua)?;
    if !decode_all {
        out.push(Value::Nil)?;
    }
    let mut count = 0usize;
    while c.left() > 0 && (count as i64) < limit {
        match decode_one(lua, &mut c, base + count) {
            Ok(v) => out.push(v)?,
            Err(Stop::Eof) => return Err(msg("Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(msg("Bad data format in input.")),
            Err(Stop::Raise(f)) => return Err(f),
        }
        count += 1;
    }
    if !decode_all {
        check_stack(base + count, 1, "in function mp_unpack_full")?;
        let next = if c.left() == 0 { -1.0 } else { c.at as f64 };
        out.set(1, Value::Number(next))?;
    }
    let (t, n) = out.into_table();
    Ok(Ret::Table(t, n))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{err, lua, run};

    #[test]
    fn claimed_lengths_beyond_the_input_fail_without_allocating() {
        let l = lua();
        for hostile in [
            r"'\219\255\255\255\255'",     // str32 of 4 GiB
            r"'\221\255\255\255\255\1'",   // array32 of 4G elements
            r"'\223\255\255\255\255\1\1'", // map32 of 4G pairs
            r"'\220\255\255'",             // array16 with nothing after
        ] {
            let e = err(&l, &format!("cmsgpack.unpack({hostile})"));
            assert!(e.ends_with("Missing bytes in input."), "{hostile}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let l = lua();
        let e = err(
            &l,
            r"local s = string.rep('\145', 200000) .. '\1' cmsgpack.unpack(s)",
        );
        assert!(
            e.contains("stack overflow (in function mp_decode_to_lua_array)"),
            "{e}"
        );
        let e = err(
            &l,
            r"local s = string.rep('\129\1', 200000) cmsgpack.unpack(s)",
        );
        assert!(e.contains("stack overflow (too many return values"), "{e}");
    }

    #[test]
    fn cyclic_tables_pack_as_nil_at_depth_16() {
        let l = lua();
        let got = run(
            &l,
            "local t = {} t[1] = t local s = cmsgpack.pack(t) return #s",
        );
        assert_eq!(got, b"17");
    }

    #[test]
    fn round_trips() {
        let l = lua();
        let got = run(
            &l,
            r#"
            local vals = {0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2^32, -2^31 - 1,
                          2^53, -2^53, 0.5, 1.25, 1e300, -1e-300, '', 'x', string.rep('y', 300),
                          string.rep('z', 70000), true, false, {1, 2, {3, {a = 'b'}}}}
            for i, v in ipairs(vals) do
              local back = cmsgpack.unpack(cmsgpack.pack(v))
              if type(v) == 'table' then
                if cjson.encode(back) ~= cjson.encode(v) then return 'table ' .. i end
              elseif back ~= v then return 'value ' .. i end
            end
            local many = {cmsgpack.unpack(cmsgpack.pack(unpack(vals)))}
            if #many ~= #vals then return 'count ' .. #many end
            return 'ok'
            "#,
        );
        assert_eq!(String::from_utf8_lossy(&got), "ok");
    }

    #[test]
    fn long_results_come_back_in_full() {
        let l = lua();
        let got = run(
            &l,
            r"return select('#', cmsgpack.unpack(string.rep('\1', 7999)))",
        );
        assert_eq!(got, b"7999");
        let got = run(
            &l,
            r"local t = {cmsgpack.unpack(string.rep('\161a', 7999))} return #t .. t[7999]",
        );
        assert_eq!(got, b"7999a");
    }
}
