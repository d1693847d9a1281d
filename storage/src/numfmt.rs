//! Placeholder until the full module lands (being written separately).
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s.len() > 1 && (s[0] == b'0' || (s[0] == b'-' && s.get(1) == Some(&b'0'))) {
        return None;
    }
    if s[0] == b'+' {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    if t.is_empty() || t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}
pub fn parse_long_double(s: &[u8]) -> Option<f64> {
    parse_f64(s)
}
pub fn format_double(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{v}")
    }
}
pub fn format_incrbyfloat(v: f64) -> String {
    format!("{v}")
}
pub fn format_i64(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(v.to_string().as_bytes());
}
