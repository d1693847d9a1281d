//! Redis's `sdssplitargs` (`sds.c`): the one splitter behind inline
//! requests and `redis.conf` lines, so both read quotes exactly as Redis.

use bytes::Bytes;

/// C's `isspace` in the C locale.
pub fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Redis's `sdssplitargs`: blanks separate arguments; `"..."` understands
/// `\n \r \t \b \a \xHH` and `\<any>`; `'...'` understands only `\'`; a
/// closing quote must be followed by a blank or the end; quotes may start in
/// the middle of an argument (`a"b c"` is `ab c`). The line is read as a C
/// string (a NUL ends it). Arguments without quotes are slices of `line`.
/// `None` means unbalanced quotes.
pub fn split_args(line: &Bytes) -> Option<Vec<Bytes>> {
    let s: &[u8] = line;
    // The byte at `i`, or the C string's terminating NUL past the end.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(args);
        }
        let start = p;
        // While no quote was seen the argument is the run `start..end` of the
        // line; from the first quote on it is built in `owned`.
        let mut end = start;
        let mut owned: Option<Vec<u8>> = None;
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            let mut done = false;
            if in_double {
                let hex = if c == b'\\' && at(p + 1) == b'x' {
                    hex_value(at(p + 2)).zip(hex_value(at(p + 3)))
                } else {
                    None
                };
                if let Some((high, low)) = hex {
                    owned.get_or_insert_with(Vec::new).push(high * 16 + low);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    let escaped = match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    owned.get_or_insert_with(Vec::new).push(escaped);
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    owned.get_or_insert_with(Vec::new).push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    owned.get_or_insert_with(Vec::new).push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    owned.get_or_insert_with(Vec::new).push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' | b'\'' => {
                        in_double = c == b'"';
                        in_single = c == b'\'';
                        if owned.is_none() {
                            owned = Some(s.get(start..end).unwrap_or_default().to_vec());
                        }
                    }
                    _ => match owned.as_mut() {
                        Some(bytes) => bytes.push(c),
                        None => end = p + 1,
                    },
                }
            }
            if at(p) != 0 {
                p += 1;
            }
            if done {
                break;
            }
        }
        args.push(match owned {
            Some(bytes) => Bytes::from(bytes),
            None => line.slice(start..end),
        });
    }
}
