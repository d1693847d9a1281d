//! Redis's glob dialect, byte for byte: the matcher behind `KEYS`,
//! `SCAN ... MATCH`, `PSUBSCRIBE`, `CONFIG GET` and friends.
//!
//! This follows `stringmatchlen` from Redis 7 (`src/util.c`), including its
//! corner cases, so that a pattern selects exactly the keys Redis would:
//!
//! - `*` any run of bytes, `?` exactly one byte.
//! - `[abc]` a class, `[^abc]` its negation, `[a-z]` a range. A reversed range
//!   (`[z-a]`) is swapped. Range bounds and the subject byte are compared as C
//!   `char`s, which are signed on the platforms Redis ships for: bytes `0x80..`
//!   sort *below* ASCII inside a range (`[a-\xff]` is `0xff..=a`).
//! - `\x` matches `x` literally, inside or outside a class. A backslash that
//!   is the last byte of the pattern (or of an unterminated class) is a
//!   literal backslash.
//! - An unterminated class (`[abc` at the end of the pattern) is treated as if
//!   it were closed there; `[` alone matches nothing, `[^` matches any byte.
//! - `[a-]` is a range from `a` to `]` (the `]` is consumed as a bound), so the
//!   class continues, usually to the end of the pattern.
//! - Case-insensitive mode (`nocase`) folds ASCII `A-Z` only, as C's `tolower`
//!   does in the "C" locale; escaped bytes inside a class are compared exactly.
//!   Under `nocase` a range's bounds go through glibc's `tolower`, which turns
//!   negative `char`s other than -1 back into `128..=254`, so high-byte ranges
//!   differ between the two modes exactly as they do in Redis.
//! - The empty subject only matches the empty pattern: even `*` does not match
//!   it. Redis's `KEYS *` and `SCAN` return the empty key anyway because they
//!   skip the matcher for the exact pattern `*`; callers must do the same.
//!
//! Pathological patterns (`*a*a*a*...b` against a long run of `a`) are cut
//! short as Redis 7 does: once the rest of a pattern after a `*` failed to
//! match at every remaining position, no earlier `*` can help by consuming
//! more, so the whole search stops (`skip_longer`). Recursion depth is capped
//! at 1000 nested `*`s; past that Redis reports "no match", and so do we. The
//! cost is O(pattern * subject) at worst and the stack depth is bounded.

/// Deepest nesting of `*` recursion before the match is given up as failed,
/// as in Redis (`nesting > 1000` returns no match).
const MAX_NESTING: u32 = 1000;

/// Reports whether `string` matches the glob `pattern`, with exactly Redis's
/// `stringmatchlen` semantics (see the module docs for the corner cases).
///
/// `nocase` folds ASCII letters, as `CONFIG GET` and `COMMAND LIST FILTERBY
/// PATTERN` do; key matching (`KEYS`, `SCAN`, `PSUBSCRIBE`) is case-sensitive.
///
/// Note that `glob_match(b"*", b"", false)` is `false`, as in Redis: callers
/// that list keys must treat the exact pattern `*` as "everything" themselves.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, string, nocase, &mut skip_longer, 0)
}

/// glibc's `tolower` in the "C" locale applied to a (signed) `char` value:
/// ASCII `A-Z` fold, and negative values other than `EOF` (-1) come back as
/// their unsigned byte value. The latter matters for ranges under `nocase`:
/// `[\x80-e]` becomes the empty range 128..=101 there.
fn lower(c: i32) -> i32 {
    match c {
        65..=90 => c + 32,
        -128..=-2 => c + 256,
        _ => c,
    }
}

/// A byte as C's (signed) `char`, widened to `int`.
fn signed(b: u8) -> i32 {
    i32::from(b as i8)
}

fn same_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// One level of Redis's `stringmatchlen_impl`. `skip_longer` is shared by the
/// whole search: once set, every pending `*` gives up.
fn match_from(
    mut pat: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while let (Some(&p0), Some(&c)) = (pat.first(), s.first()) {
        match p0 {
            b'*' => {
                while pat.get(1) == Some(&b'*') {
                    pat = &pat[1..];
                }
                let rest = &pat[1..];
                if rest.is_empty() {
                    return true;
                }
                while !s.is_empty() {
                    if match_from(rest, s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest failed from every position: no longer match of an
                // earlier `*` can succeed either.
                *skip_longer = true;
                return false;
            }
            b'?' => {
                pat = &pat[1..];
                s = &s[1..];
            }
            b'[' => {
                pat = &pat[1..];
                let negate = pat.first() == Some(&b'^');
                if negate {
                    pat = &pat[1..];
                }
                let mut hit = false;
                loop {
                    match pat {
                        [b'\\', escaped, ..] => {
                            hit |= *escaped == c;
                            pat = &pat[2..];
                        }
                        [b']', ..] => {
                            pat = &pat[1..];
                            break;
                        }
                        // Unterminated class: it ends with the pattern.
                        [] => break,
                        [lo, b'-', hi, ..] => {
                            let (mut start, mut end, mut ch) =
                                (signed(*lo), signed(*hi), signed(c));
                            if start > end {
                                std::mem::swap(&mut start, &mut end);
                            }
                            if nocase {
                                start = lower(start);
                                end = lower(end);
                                ch = lower(ch);
                            }
                            hit |= ch >= start && ch <= end;
                            pat = &pat[3..];
                        }
                        [lit, ..] => {
                            hit |= same_byte(*lit, c, nocase);
                            pat = &pat[1..];
                        }
                    }
                }
                if hit == negate {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                // A backslash escapes the next byte; a trailing one is literal.
                let lit = match pat {
                    [b'\\', escaped, ..] => {
                        pat = &pat[2..];
                        *escaped
                    }
                    _ => {
                        pat = &pat[1..];
                        p0
                    }
                };
                if !same_byte(lit, c, nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        if s.is_empty() {
            while pat.first() == Some(&b'*') {
                pat = &pat[1..];
            }
            break;
        }
    }
    pat.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;
    use proptest::prelude::*;

    /// (pattern, subject, Redis's answer), each checked against redis-server
    /// 7.0.15 by storing the subject as the only key and running `KEYS pattern`.
    const CASE_SENSITIVE: &[(&[u8], &[u8], bool)] = &[
        (b"", b"", true),
        (b"", b"a", false),
        (b"a", b"", false),
        (b"**", b"", false),
        (b"*a", b"", false),
        (b"?", b"", false),
        (b"hello", b"hello", true),
        (b"hello", b"hell", false),
        (b"hello", b"helloo", false),
        (b"h?llo", b"hello", true),
        (b"h?llo", b"hllo", false),
        (b"h*llo", b"hllo", true),
        (b"h*llo", b"heeeello", true),
        (b"h*", b"h", true),
        (b"*llo", b"hello", true),
        (b"***", b"abc", true),
        (b"a*b*c", b"aXbYc", true),
        (b"a*b*c", b"aXbY", false),
        (b"*a*", b"bab", true),
        (b"*?", b"x", true),
        (b"?*?", b"x", false),
        (b"a**", b"a", true),
        (b"h[ae]llo", b"hallo", true),
        (b"h[ae]llo", b"hillo", false),
        (b"h[^e]llo", b"hallo", true),
        (b"h[^e]llo", b"hello", false),
        (b"h[a-b]llo", b"hbllo", true),
        (b"h[a-b]llo", b"hcllo", false),
        (b"h[b-a]llo", b"hallo", true),
        (b"[z-a]", b"m", true),
        (b"[z-a]", b"A", false),
        (b"[^a-c]", b"d", true),
        (b"[^a-c]", b"b", false),
        (b"[a-c-e]", b"-", true),
        (b"[a-c-e]", b"e", true),
        (b"[a-c-e]", b"d", false),
        (b"[-a]", b"-", true),
        (b"[a-]", b"-", false),
        (b"[a-]", b"]", true),
        (b"[a-]", b"^", true),
        (b"[a-]x", b"ax", false),
        (b"[a-]x", b"a", true),
        (b"[]", b"]", false),
        (b"[]]", b"]", false),
        (b"[]a]", b"a", false),
        (b"[]a]", b"]", false),
        (b"[^]", b"x", true),
        (b"[^]]", b"x", false),
        (b"[^]]", b"]", false),
        (b"[", b"[", false),
        (b"[", b"a", false),
        (b"[^", b"a", true),
        (b"[^", b"", false),
        (b"[^", b"ab", false),
        (b"[abc", b"c", true),
        (b"[abc", b"d", false),
        (b"a[bc", b"ab", true),
        (b"[a-", b"a", true),
        (b"[a-", b"-", true),
        (b"[a-", b"b", false),
        (b"\\*", b"*", true),
        (b"\\*", b"a", false),
        (b"\\?", b"?", true),
        (b"\\[a]", b"[a]", true),
        (b"\\a", b"a", true),
        (b"\\\\", b"\\", true),
        (b"a\\", b"a\\", true),
        (b"a\\", b"a", false),
        (b"\\", b"\\", true),
        (b"[\\]]", b"]", true),
        (b"[\\]]", b"\\", false),
        (b"[\\", b"\\", true),
        (b"[\\-]", b"-", true),
        (b"[a\\-z]", b"m", false),
        (b"[a\\-z]", b"z", true),
        (b"[\\^a]", b"^", true),
        (b"[^\\^]", b"^", false),
        (b"[\\a-z]", b"m", false),
        (b"[*]", b"*", true),
        (b"[?]", b"a", false),
        (b"*[", b"a", false),
        (b"*[^", b"a", true),
        (b"*\\", b"a\\", true),
        (b"user:*", b"user:1000", true),
        (b"user:*", b"User:1000", false),
        (b"*:1000", b"user:1000", true),
        (b"user:[0-9]*", b"user:1000", true),
        (b"user:[0-9]*", b"user:x", false),
        (b"foo*bar", b"foobar", true),
        (b"foo*bar", b"foo/baz/bar", true),
        (b"\xff", b"\xff", true),
        (b"?", b"\xff", true),
        (b"[\x80-\xff]", b"\x90", true),
        (b"[a-\xff]", b"\x90", false),
        (b"[a-\xff]", b"0", true),
        (b"[a-\xff]", b"b", false),
        (b"[\x00-a]", b"\xff", false),
        (b"[\x00-a]", b"\x00", true),
        (b"a\x00b", b"a\x00b", true),
        (b"a?b", b"a\x00b", true),
        (b"H*", b"hello", false),
        (b"[A-Z]", b"a", false),
    ];

    /// (pattern, subject, Redis's answer) for `nocase`, checked against
    /// redis-server 7.0.15 with `COMMAND LIST FILTERBY PATTERN pattern`, which
    /// matches command names case-insensitively.
    const CASE_INSENSITIVE: &[(&[u8], &[u8], bool)] = &[
        (b"GET", b"get", true),
        (b"G?T", b"get", true),
        (b"G[A-Z]T", b"get", true),
        (b"g[^E]t", b"get", false),
        (b"g[^e]t", b"get", false),
        (b"[_-z]et", b"get", true),
        (b"[Z-a]et", b"get", false),
        (b"g[\\E]t", b"get", false),
        (b"g[\\e]t", b"get", true),
        (b"[\x80-h]et", b"get", false),
        (b"[A-\xff]et", b"get", false),
        (b"CONFIG|G*", b"config|get", true),
        (b"\\G\\E\\T", b"get", true),
        (b"g[e-E]t", b"get", true),
        (b"S[E-T]T", b"set", true),
    ];

    #[test]
    fn matches_redis_keys() {
        for &(pattern, subject, expected) in CASE_SENSITIVE {
            assert_eq!(
                glob_match(pattern, subject, false),
                expected,
                "pattern {:?} subject {:?}",
                pattern.escape_ascii().to_string(),
                subject.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn matches_redis_nocase() {
        for &(pattern, subject, expected) in CASE_INSENSITIVE {
            assert_eq!(
                glob_match(pattern, subject, true),
                expected,
                "pattern {:?} subject {:?}",
                pattern.escape_ascii().to_string(),
                subject.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn nocase_only_folds_ascii_letters() {
        assert!(glob_match(b"KEY", b"key", true));
        assert!(!glob_match(b"KEY", b"key", false));
        assert!(!glob_match(b"\xc3\x89", b"\xc3\xa9", true));
    }

    #[test]
    fn bare_star_does_not_match_empty_subject() {
        // KEYS/SCAN short-circuit the exact pattern "*"; the matcher does not.
        assert!(glob_match(b"*", b"a", false));
        assert!(!glob_match(b"*", b"", false));
    }

    #[test]
    fn pathological_pattern_returns() {
        // Exponential without Redis's skip-longer-matches cut; must return.
        let subject = b"a".repeat(10_000);
        assert!(!glob_match(b"*a*a*a*a*a*a*a*a*a*a*a*a*b", &subject, false));
        assert!(glob_match(b"*a*a*a*a*a*a*a*a*a*a*a*a*", &subject, false));
        let many = b"*a".repeat(200);
        assert!(!glob_match(
            &[many.as_slice(), b"b"].concat(),
            &subject,
            true
        ));
    }

    #[test]
    fn nesting_limit_matches_redis() {
        // Verified with KEYS on redis-server 7.0.15: 1001 nested stars still
        // match, 1002 give up.
        let subject = b"a".repeat(1100);
        assert!(glob_match(&b"a*".repeat(1001), &subject, false));
        assert!(!glob_match(&b"a*".repeat(1002), &subject, false));
        assert!(glob_match(&b"*a".repeat(1000), &subject, false));
        assert!(!glob_match(&b"*a".repeat(1001), &subject, false));
    }

    proptest! {
        #[test]
        fn never_panics(pattern in proptest::collection::vec(any::<u8>(), 0..24),
                        subject in proptest::collection::vec(any::<u8>(), 0..24),
                        nocase in any::<bool>()) {
            let _ = glob_match(&pattern, &subject, nocase);
        }

        #[test]
        fn special_free_pattern_is_equality(subject in "[a-zA-Z0-9:_]{1,16}") {
            let bytes = subject.as_bytes();
            prop_assert!(glob_match(bytes, bytes, false));
            let mut other = bytes.to_vec();
            other.push(b'x');
            prop_assert!(!glob_match(bytes, &other, false));
        }

        #[test]
        fn glob_specials_in_dense_alphabet(pattern in "[ab*?\\[\\]^-]{0,10}", subject in "[ab\\[\\]^-]{0,8}") {
            let _ = glob_match(pattern.as_bytes(), subject.as_bytes(), false);
        }
    }
}
