//! cjson encoding: Lua values to JSON text, as `json_append_data` does.

use super::super::{
    arg_err, msg, number_of, one, too_large, type_name, Args, LuaStack, Res, Ret, LUA_MAX_CSTACK,
    MAX_OUTPUT,
};
use super::number::format_g;
use super::{is_null, Config};
use mlua::{Lua, Table, Value};

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

/// `cjson.encode(value)`.
pub(super) fn encode(lua: &Lua, cfg: &Config, args: Args) -> Res<Ret> {
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
                            let end = keys
                                .get(*done)
                                .map_or(frame.len, |&k| (k as usize - 1).min(frame.len));
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
                    self.max = super::super::c_f64_to_i32(k);
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
