//! Placeholder until the full module lands (being written separately).
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    fn m(p: &[u8], s: &[u8], nc: bool) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| m(&p[1..], &s[i..], nc)),
            Some(b'?') => !s.is_empty() && m(&p[1..], &s[1..], nc),
            Some(&c) => {
                !s.is_empty()
                    && (if nc {
                        c.eq_ignore_ascii_case(&s[0])
                    } else {
                        c == s[0]
                    })
                    && m(&p[1..], &s[1..], nc)
            }
        }
    }
    m(pattern, string, nocase)
}
