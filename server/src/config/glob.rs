//! A small glob matcher for CONFIG GET patterns, case-insensitive, following
//! Redis's `stringmatchlen` (`*`, `?`, `[...]` with `^` and ranges, `\`
//! escapes). It only ever sees configuration names, which are short, so
//! plain backtracking is fine here; the server's general matcher for KEYS
//! and SCAN can replace this function once it exists.

/// Whether `name` matches `pattern`, ignoring ASCII case.
pub(crate) fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match_from(pattern, name, true)
}

/// The same, case-sensitive (file names for `include` patterns).
pub(crate) fn matches_case_sensitive(pattern: &[u8], name: &[u8]) -> bool {
    match_from(pattern, name, false)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn match_from(mut p: &[u8], mut s: &[u8], nocase: bool) -> bool {
    while let Some(&c) = p.first() {
        match c {
            b'*' => {
                while p.first() == Some(&b'*') {
                    p = &p[1..];
                }
                if p.is_empty() {
                    return true;
                }
                return (0..=s.len()).any(|i| match_from(p, &s[i..], nocase));
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
                p = &p[1..];
            }
            b'[' => {
                let Some(&ch) = s.first() else { return false };
                let (matched, rest) = match_class(&p[1..], ch, nocase);
                if !matched {
                    return false;
                }
                p = rest;
                s = &s[1..];
            }
            _ => {
                let (lit, rest) = if c == b'\\' && p.len() >= 2 {
                    (p[1], &p[2..])
                } else {
                    (c, &p[1..])
                };
                match s.first() {
                    Some(&ch) if fold(ch, nocase) == fold(lit, nocase) => {}
                    _ => return false,
                }
                s = &s[1..];
                p = rest;
            }
        }
    }
    s.is_empty()
}

/// Matches one byte against a `[...]` class whose body starts at `p`;
/// returns whether it matched and the pattern after the class.
fn match_class(mut p: &[u8], ch: u8, nocase: bool) -> (bool, &[u8]) {
    let ch = fold(ch, nocase);
    let negate = p.first() == Some(&b'^');
    if negate {
        p = &p[1..];
    }
    let mut hit = false;
    loop {
        match p {
            [] => break,
            [b']', rest @ ..] => {
                p = rest;
                break;
            }
            [b'\\', c, rest @ ..] => {
                hit |= fold(*c, nocase) == ch;
                p = rest;
            }
            [a, b'-', b, rest @ ..] => {
                let (mut lo, mut hi) = (fold(*a, nocase), fold(*b, nocase));
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                hit |= (lo..=hi).contains(&ch);
                p = rest;
            }
            [c, rest @ ..] => {
                hit |= fold(*c, nocase) == ch;
                p = rest;
            }
        }
    }
    (hit != negate, p)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        let m = |p: &str, s: &str| matches(p.as_bytes(), s.as_bytes());
        assert!(m("*", "maxmemory"));
        assert!(m("MAXMEM*", "maxmemory-policy"));
        assert!(m("max?emory", "maxmemory"));
        assert!(!m("max?emory", "maxmemor"));
        assert!(m("*-max-*-entries", "hash-max-listpack-entries"));
        assert!(m("[mp]ort", "port"));
        assert!(m("[^m]ort", "port"));
        assert!(!m("[^p]ort", "port"));
        assert!(m("[a-z]ort", "Port"));
        assert!(m("[z-a]ort", "port"));
        assert!(m("po\\rt", "port"));
        assert!(m("port\\*", "port*"));
        assert!(!m("port", "ports"));
        assert!(!m("", "port"));
        assert!(m("**p**", "port"));
        assert!(!super::matches_case_sensitive(b"*.CONF", b"a.conf"));
        assert!(super::matches_case_sensitive(b"*.conf", b"a.conf"));
    }
}
