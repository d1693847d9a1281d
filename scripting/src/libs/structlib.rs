//! `struct`: Roberto Ierusalimschy's struct library (2012) as Redis bundles
//! it, with Redis's bounds fixes (CVE-2020-14147: size overflow, offsets,
//! `c0` sizes). Sizes are those of x86-64 Linux, which the reference server
//! has: short 2, int 4, long and size_t 8, float 4, double 8, max alignment 8.
//!
//! Format options: `>` `<` endianness, `![n]` alignment, `x` pad byte,
//! `b/B h/H l/L T i/I[n]` integers (n <= 32 bytes), `c[n]` fixed chars
//! (pack: n == 0 means the whole string; unpack: the previous result is the
//! length), `s` zero-terminated string, `f` float, `d` double, ` ` ignored.
//! The format ends at its first NUL byte, as a C string would.
//!
//! Invariant: unpack checks every read against the data length before
//! touching the data, in arithmetic that cannot wrap into a false pass.

use super::{
    arg_err, msg, one, too_large, Args, Fail, LuaStack, Registrar, Res, Ret, LUA_MAX_CSTACK,
    MAX_OUTPUT,
};
use mlua::{Lua, Table, Value};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

/// Builds the `struct` table.
pub(crate) fn module(lua: &Lua, reg: &Registrar) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", reg.func(lua, "pack", pack)?)?;
    t.raw_set("unpack", reg.func(lua, "unpack", unpack)?)?;
    t.raw_set("size", reg.func(lua, "size", size)?)?;
    Ok(t)
}

/// Endianness and alignment in force while walking a format.
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// A cursor over the format string (up to its first NUL).
struct Fmt<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fmt<'a> {
    fn new(all: &'a [u8]) -> Self {
        let end = all.iter().position(|&b| b == 0).unwrap_or(all.len());
        Fmt {
            bytes: &all[..end],
            at: 0,
        }
    }

    fn next_opt(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.at).copied();
        if b.is_some() {
            self.at += 1;
        }
        b
    }

    /// `getnum`: digits after an option, or `default`; overflow past
    /// `INT_MAX` is an error, checked before it can wrap.
    fn num(&mut self, default: usize) -> Res<usize> {
        let mut a: i32 = 0;
        let mut any = false;
        while let Some(&d) = self.bytes.get(self.at).filter(|d| d.is_ascii_digit()) {
            let digit = i32::from(d - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - digit {
                return Err(msg("integral size overflow"));
            }
            a = a * 10 + digit;
            self.at += 1;
            any = true;
        }
        Ok(if any { a as usize } else { default })
    }
}

/// `optsize`: bytes taken by option `opt` (0 for control options).
fn optsize(opt: u8, fmt: &mut Fmt<'_>) -> Res<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.num(1)?,
        b'i' | b'I' => {
            let sz = fmt.num(4)?;
            if sz > MAXINTSIZE {
                return Err(msg(format!(
                    "integral size {sz} is larger than limit of {MAXINTSIZE}"
                )));
            }
            sz
        }
        _ => 0,
    })
}

/// `gettoalign`: padding before an item of `size` at offset `len`.
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    // Sizes need not be powers of two (`i3`); this is C's arithmetic.
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

/// `controloptions`: endianness, alignment, spaces; anything else is an
/// invalid option.
fn controloptions(opt: u8, fmt: &mut Fmt<'_>, h: &mut Header) -> Res<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = fmt.num(MAXALIGN)?;
            if !(a > 0 && a & (a - 1) == 0) {
                return Err(msg(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
        }
        _ => {
            let mut m = b"invalid format option '".to_vec();
            m.push(opt);
            m.push(b'\'');
            return Err(Fail::Arg(1, m));
        }
    }
    Ok(())
}

/// `(size_t)d` as gcc compiles it on x86-64.
fn c_f64_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO63 {
        (super::c_f64_to_i64(d - TWO63) as u64) ^ (1 << 63)
    } else {
        super::c_f64_to_i64(d) as u64
    }
}

fn pack(lua: &Lua, mut args: Args) -> Res<Ret> {
    let fmt_s = args.check_string(lua, 1)?;
    // b_pack pushes a nil mark before reading its value arguments.
    args.push_nil();
    let fmt_b = fmt_s.as_bytes();
    let mut fmt = Fmt::new(&fmt_b);
    let mut h = Header::default();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        if out.len() > MAX_OUTPUT {
            return Err(too_large());
        }
        let mut size = optsize(opt, &mut fmt)?;
        let toalign = gettoalign(out.len(), &h, opt, size);
        out.resize(out.len() + toalign, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = args.check_number(lua, arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    super::c_f64_to_i64(n) as u64
                } else {
                    c_f64_to_u64(n)
                };
                let mut bytes = vec![0u8; size];
                for i in 0..size {
                    let slot = if h.little { i } else { size - 1 - i };
                    bytes[slot] = (value & 0xff) as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = args.check_number(lua, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = args.check_number(lua, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = args.check_string(lua, arg)?;
                arg += 1;
                let s = s.as_bytes();
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_err(arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
    }
    one(Value::String(lua.create_string(out)?))
}

/// `getinteger`: `size` bytes as an integer, C's `unsigned long` arithmetic
/// (bytes beyond eight shift out; sign extension from bit `size*8-1`).
fn getinteger(buf: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let b = if little { buf[size - 1 - i] } else { buf[i] };
        l = (l << 8) | u64::from(b);
    }
    if !signed {
        return l as f64;
    }
    // x86 masks shift counts to 6 bits, which is what C's UB shift does here.
    let shift = ((size * 8).wrapping_sub(1) & 63) as u32;
    let mask = u64::MAX << shift;
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: Args) -> Res<Ret> {
    let fmt_s = args.check_string(lua, 1)?;
    let data_s = args.check_string(lua, 2)?;
    let fmt_b = fmt_s.as_bytes();
    let data = data_s.as_bytes();
    let ld = data.len();
    let mut pos = args.opt_integer(lua, 3, 1)? as u64 as usize;
    if pos == 0 {
        return Err(arg_err(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut fmt = Fmt::new(&fmt_b);
    let mut h = Header::default();
    let mut out = LuaStack::new(lua)?;
    let fits = |pos: usize, size: usize| size <= ld && pos <= ld - size;
    while let Some(opt) = fmt.next_opt() {
        let mut size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !fits(pos, size) {
            return Err(arg_err(2, "data string too short"));
        }
        // The C function's stack holds fmt, data and the results so far.
        if 2 + out.len() + 2 > LUA_MAX_CSTACK {
            return Err(msg("stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = getinteger(
                    &data[pos..pos + size],
                    h.little,
                    opt.is_ascii_lowercase(),
                    size,
                );
                out.push(Value::Number(v))?;
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(f64::from(f)))?;
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(d))?;
            }
            b'c' => {
                if size == 0 {
                    let last = if out.len() > 0 {
                        out.get(out.len())?
                    } else {
                        Value::Nil
                    };
                    let prev = match last {
                        Value::Number(n) => Some(n),
                        Value::Integer(i) => Some(i as f64),
                        v @ Value::String(_) => lua.coerce_number(v)?,
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(msg("format 'c0' needs a previous size"));
                    };
                    size = c_f64_to_u64(n) as usize;
                    out.pop()?;
                    if !fits(pos, size) {
                        return Err(arg_err(2, "data string too short"));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?))?;
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(msg("unfinished string in data"));
                };
                size = len + 1;
                out.push(Value::String(lua.create_string(&data[pos..pos + len])?))?;
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as i64 as f64))?;
    let (t, n) = out.into_table();
    Ok(Ret::Table(t, n))
}

fn size(lua: &Lua, args: Args) -> Res<Ret> {
    let fmt_s = args.check_string(lua, 1)?;
    let fmt_b = fmt_s.as_bytes();
    let mut fmt = Fmt::new(&fmt_b);
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_err(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_err(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    one(Value::Number(pos as i64 as f64))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{err, lua, run};

    #[test]
    fn huge_sizes_are_checked_before_use() {
        let l = lua();
        let e = err(&l, "struct.unpack('c2147483647', 'abc')");
        assert!(e.ends_with("(data string too short)"), "{e}");
        let e = err(&l, "struct.unpack('bc0', '\\255abc')");
        assert!(e.ends_with("(data string too short)"), "{e}");
        let e = err(&l, "struct.unpack('b', 'abc', 2^53)");
        assert!(e.ends_with("(data string too short)"), "{e}");
        let e = err(&l, "struct.pack('c2147483647', 'abc')");
        assert!(e.ends_with("(string too short)"), "{e}");
        let e = err(&l, "struct.size('c99999999999')");
        assert!(e.ends_with("integral size overflow"), "{e}");
    }

    #[test]
    fn many_results_hit_the_c_stack_limit_as_in_redis() {
        let l = lua();
        // Values measured on redis-server 7.0: 7997 items plus the position.
        let got = run(
            &l,
            "return select('#', struct.unpack(string.rep('b', 7997), string.rep('a', 7997)))",
        );
        assert_eq!(got, b"7998");
        let e = err(
            &l,
            "struct.unpack(string.rep('b', 7998), string.rep('a', 7998))",
        );
        assert!(e.ends_with("stack overflow (too many results)"), "{e}");
    }

    #[test]
    fn round_trips() {
        // Expected line measured on redis-server 7.0.
        let l = lua();
        let got = run(
            &l,
            "local s = struct.pack('>!4bhilfdc3sI3', -1, -2, -3, -4, 1.5, 2.25, 'abc', 'zt', 70000) \
             local a, b, c, d, e, f, g, h, i, nxt = struct.unpack('>!4bhilfdc3sI3', s) \
             return table.concat({a, b, c, d, e, f, g, h, i, nxt, #s, struct.size('>!4bhilfd')}, ',')",
        );
        assert_eq!(
            String::from_utf8_lossy(&got),
            "-1,-2,-3,-4,1.5,2.25,abc,zt,70000,38,37,28"
        );
    }
}
