//! Numbers as Lua CJSON reads and writes them: C's `%.14g` (`fpconv_g_fmt`)
//! and glibc's `strtod` (`fpconv_strtod`), both checked against C's output
//! in the tests.

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

#[cfg(test)]
mod tests {
    use super::{format_g, strtod};

    #[test]
    fn format_g_matches_c_printf() {
        let table = include_str!("../../../testdata/format_g.txt");
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
        let table = include_str!("../../../testdata/strtod.txt");
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
}
