//! `bit`: LuaBitOp 1.0.2 as Redis bundles it. Every operation works on 32-bit
//! integers and returns a signed 32-bit result as a Lua number.
//!
//! Arguments are normalised as LuaBitOp does: the double is added to 2^52+2^51
//! and the low 32 bits of its bit pattern are taken, which wraps any integer
//! modulo 2^32 and rounds fractions to nearest-even. A non-number argument
//! (one Lua cannot convert) is "number expected".

use super::{one, Args, Registrar, Res, Ret};
use mlua::{Lua, Table, Value};

type Unary = fn(u32) -> u32;
type Binary = fn(u32, u32) -> u32;

/// Builds the `bit` table.
pub(crate) fn module(lua: &Lua, reg: &Registrar) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: [(&'static str, Unary); 3] = [
        ("tobit", |b| b),
        ("bnot", |b| !b),
        ("bswap", u32::swap_bytes),
    ];
    for (name, op) in unary {
        let f = reg.func(lua, name, move |lua, args| ret(op(barg(lua, &args, 1)?)))?;
        t.raw_set(name, f)?;
    }
    let folds: [(&'static str, Binary); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        let f = reg.func(lua, name, move |lua, args| {
            let mut b = barg(lua, &args, 1)?;
            // LuaBitOp folds from the last argument down to the second.
            for i in (2..=args.len()).rev() {
                b = op(b, barg(lua, &args, i)?);
            }
            ret(b)
        })?;
        t.raw_set(name, f)?;
    }
    let shifts: [(&'static str, Binary); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", u32::rotate_left),
        ("ror", u32::rotate_right),
    ];
    for (name, op) in shifts {
        let f = reg.func(lua, name, move |lua, args| {
            let b = barg(lua, &args, 1)?;
            let n = barg(lua, &args, 2)? & 31;
            ret(op(b, n))
        })?;
        t.raw_set(name, f)?;
    }
    t.raw_set("tohex", reg.func(lua, "tohex", tohex)?)?;
    Ok(t)
}

/// LuaBitOp's `barg`: argument `n` as 32 bits.
fn barg(lua: &Lua, args: &Args, n: usize) -> Res<u32> {
    let (x, is_number) = match args.to_number(lua, n)? {
        Some(x) => (x, true),
        None => (0.0, false),
    };
    let b = tobit(x);
    if b == 0 && !is_number {
        return Err(args.type_error(n, "number"));
    }
    Ok(b)
}

/// The 2^52+2^51 trick: low 32 bits of the biased double.
pub(crate) fn tobit(x: f64) -> u32 {
    (x + 6_755_399_441_055_744.0).to_bits() as u32
}

fn ret(b: u32) -> Res<Ret> {
    one(Value::Number(f64::from(b as i32)))
}

/// `bit.tohex(x [, n])`: `n` hex digits (default 8, at most 8), upper case
/// when `n` is negative.
fn tohex(lua: &Lua, args: Args) -> Res<Ret> {
    let mut b = barg(lua, &args, 1)?;
    let mut n = if args.get(2).is_none() {
        8
    } else {
        barg(lua, &args, 2)? as i32
    };
    let mut digits: &[u8; 16] = b"0123456789abcdef";
    if n < 0 {
        // Redis's fix for CVE-2024-31449: -INT_MIN would overflow.
        n = n.saturating_neg();
        digits = b"0123456789ABCDEF";
    }
    let n = n.min(8) as usize;
    let mut buf = vec![0u8; n];
    for slot in buf.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    one(Value::String(lua.create_string(buf)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tobit_wraps_and_rounds() {
        assert_eq!(super::tobit(4294967295.0) as i32, -1);
        assert_eq!(super::tobit(2147483648.0) as i32, i32::MIN);
        assert_eq!(super::tobit(1.5), 2);
        assert_eq!(super::tobit(2.5), 2);
        assert_eq!(super::tobit(-1.0) as i32, -1);
    }
}
