//! Redis's small string routines, byte for byte: the ones config parsing
//! depends on (`sdssplitargs`, `sdssplitlen`, `sdscatrepr`, `string2ll`,
//! `memtoull`, `strtoll`, `string2d`, `trimDoubleString`).
//!
//! Their quirks are part of the observable behaviour (which lines are
//! accepted, which error a value gets), so they are reproduced rather than
//! replaced by Rust's parsers.

pub(crate) use crate::protocol::splitargs::is_c_space;

/// `sdssplitargs`: split a line into arguments with Redis's quoting rules
/// (the splitter inline requests use). `None` for unbalanced quotes.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    crate::protocol::splitargs::split_args(&bytes::Bytes::copy_from_slice(line))
        .map(|args| args.into_iter().map(|a| a.to_vec()).collect())
}

/// `sdssplitlen` with a one-byte separator: an empty input gives no pieces,
/// otherwise every separator yields a piece (so `"a "` is `["a", ""]`).
pub(crate) fn split_on(s: &[u8], sep: u8) -> Vec<&[u8]> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(|&b| b == sep).collect()
}

/// `sdstrim` with a set of bytes, from both ends.
pub(crate) fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|b| !set.contains(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |p| p + 1);
    &s[start..end.max(start)]
}

/// `sdscatrepr`: a double-quoted, escaped rendering that `split_args` reads
/// back to the same bytes.
pub(crate) fn repr(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}

/// `string2ll`: a strict decimal `i64`: no sign but `-`, no leading zeros,
/// no spaces, at most 20 bytes.
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// C's `strtoll(s, &end, base)` for bases 8 and 10: the value (saturated on
/// overflow, as C does), whether `*end == '\0'` (the check Redis makes), and
/// whether it overflowed (`errno == ERANGE`).
pub(crate) fn strtoll(s: &[u8], base: u32) -> (i64, bool, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let digits_start = i;
    let mut v: u64 = 0;
    let mut overflow = false;
    while i < s.len() {
        let d = match (s[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        match v
            .checked_mul(u64::from(base))
            .and_then(|x| x.checked_add(u64::from(d)))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        i += 1;
    }
    if i == digits_start {
        // No digits: C sets end to the start of the string.
        return (0, s.is_empty(), false);
    }
    let (value, overflow) = if negative {
        if overflow || v > (i64::MAX as u64) + 1 {
            (i64::MIN, true)
        } else {
            ((v as i64).wrapping_neg(), false)
        }
    } else if overflow || v > i64::MAX as u64 {
        (i64::MAX, true)
    } else {
        (v as i64, false)
    };
    (value, i == s.len(), overflow)
}

/// `memtoull`: a byte count with an optional unit (`b`, `k`=1000, `kb`=1024,
/// `m`, `mb`, `g`, `gb`, any case). Digits that overflow saturate, as
/// `strtoull` does; a unit that overflows is an error.
pub(crate) fn memtoull(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let ndigits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let (digits, unit) = s.split_at(ndigits);
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &c in digits {
        val = val
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(c - b'0')))
            .unwrap_or(u64::MAX);
        if val == u64::MAX {
            break;
        }
    }
    val.checked_mul(mul)
}

/// `string2d`: a finite-or-infinite double, no leading space, no NaN, the
/// whole input consumed.
pub(crate) fn string2d(s: &[u8]) -> Option<f64> {
    let first = *s.first()?;
    if is_c_space(first) {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// `"%f"` followed by `trimDoubleString`: `99.900000` becomes `99.9`,
/// `50.000000` becomes `50`.
pub(crate) fn format_double(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// `rewriteConfigFormatMemory`: the largest of gb/mb/kb that divides the
/// value exactly, else plain bytes.
pub(crate) fn format_memory(bytes: i64) -> String {
    const GB: i64 = 1024 * 1024 * 1024;
    const MB: i64 = 1024 * 1024;
    const KB: i64 = 1024;
    if bytes != 0 && bytes % GB == 0 {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes % MB == 0 {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes % KB == 0 {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// The text of an OS error as C's `strerror` gives it (Rust appends
/// " (os error N)", which Redis's messages do not have).
pub(crate) fn strerror(err: &std::io::Error) -> String {
    let s = err.to_string();
    match s.rfind(" (os error ") {
        Some(pos) => s[..pos].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn split_args_follows_sdssplitargs() {
        assert_eq!(
            args("  port   6379  "),
            Some(vec!["port".into(), "6379".into()])
        );
        assert_eq!(
            args(r#"requirepass "a b""#),
            Some(vec!["requirepass".into(), "a b".into()])
        );
        assert_eq!(
            args(r#"x "\x41\n\"\\""#),
            Some(vec!["x".into(), "A\n\"\\".into()])
        );
        assert_eq!(args(r"x 'it\'s'"), Some(vec!["x".into(), "it's".into()]));
        assert_eq!(args(r#"x ab"cd""#), Some(vec!["x".into(), "abcd".into()]));
        assert_eq!(args(r#"x """#), Some(vec!["x".into(), String::new()]));
        assert_eq!(args(r#"x "a"b"#), None);
        assert_eq!(args(r#"x "abc"#), None);
        assert_eq!(args("x 'abc"), None);
        assert_eq!(args(""), Some(vec![]));
        assert_eq!(args("   "), Some(vec![]));
    }

    #[test]
    fn repr_round_trips() {
        let raw = b"a\"b\\c\n\r\t\x07\x08\x01\xff z";
        assert_eq!(
            repr(raw),
            b"\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x01\\xff z\"".to_vec()
        );
        let back = split_args(&repr(raw)).unwrap_or_default();
        assert_eq!(back, vec![raw.to_vec()]);
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-5"), Some(-5));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"007",
            b"+7",
            b" 7",
            b"7 ",
            b"-",
            b"-0",
            b"9223372036854775808",
            b"1x",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn memtoull_units() {
        assert_eq!(memtoull(b"1k"), Some(1000));
        assert_eq!(memtoull(b"1KB"), Some(1024));
        assert_eq!(memtoull(b"2mb"), Some(2 * 1024 * 1024));
        assert_eq!(memtoull(b"3G"), Some(3_000_000_000));
        assert_eq!(memtoull(b"5b"), Some(5));
        assert_eq!(memtoull(b""), Some(0));
        assert_eq!(memtoull(b"99999999999999999999999"), Some(u64::MAX));
        assert_eq!(memtoull(b"99999999999999999999999k"), None);
        assert_eq!(memtoull(b"-1"), None);
        assert_eq!(memtoull(b"1x"), None);
        assert_eq!(memtoull(b"+1"), None);
    }

    #[test]
    fn strtoll_end_check() {
        assert_eq!(strtoll(b"12", 10), (12, true, false));
        assert_eq!(strtoll(b" +12", 10), (12, true, false));
        assert_eq!(strtoll(b"12x", 10), (12, false, false));
        assert_eq!(strtoll(b"", 10), (0, true, false));
        assert_eq!(strtoll(b"x", 10), (0, false, false));
        assert_eq!(strtoll(b"777", 8), (511, true, false));
        assert_eq!(strtoll(b"8", 8), (0, false, false));
        assert_eq!(strtoll(b"99999999999999999999", 10), (i64::MAX, true, true));
    }

    #[test]
    fn doubles_and_memory_format() {
        assert_eq!(format_double(99.9), "99.9");
        assert_eq!(format_double(50.0), "50");
        assert_eq!(format_double(50.5), "50.5");
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1024), "1kb");
        assert_eq!(format_memory(3 * 1024 * 1024), "3mb");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(1025), "1025");
        assert_eq!(string2d(b" 1"), None);
        assert_eq!(string2d(b"nan"), None);
        assert_eq!(string2d(b"99.9"), Some(99.9));
    }

    #[test]
    fn split_and_trim() {
        assert!(split_on(b"", b' ').is_empty());
        assert_eq!(split_on(b"a ", b' '), vec![&b"a"[..], b""]);
        assert_eq!(trim(b" \t x y \r\n", b" \t\r\n"), b"x y");
        assert_eq!(trim(b"   ", b" "), b"");
    }
}
