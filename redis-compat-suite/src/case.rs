//! Case files: parsing the text format into steps.
//!
//! One step per line. A line is blank, a `#` comment, a standalone
//! directive (`@sleep`, `@conn`, `@raw`, `@await`), or a command in
//! redis-cli quoting, optionally preceded by modifiers (`@sort`, `@expect`
//! ...). README.md documents the format.

use crate::resp::{self, Reply};

/// How the replies of one command are compared.
#[derive(Clone, Debug, Default)]
pub struct Modifiers {
    /// Deep-sort aggregates before comparing (unordered multisets).
    pub sort: bool,
    /// Sort a flat `[k, v, k, v]` array (or a map) by pairs.
    pub sort_pairs: bool,
    /// Send, read, do not compare.
    pub ignore: bool,
    /// Compare only the type and shape.
    pub type_only: bool,
    /// Run only in this RESP version (2 or 3).
    pub only_resp: Option<u8>,
    /// Both replies must be integers in `lo..=hi`.
    pub range: Option<(i64, i64)>,
    /// Iterate the SCAN-family command to cursor 0 and compare the set of
    /// elements collected.
    pub scan_all: bool,
    /// Send without reading any reply (CLIENT REPLY OFF/SKIP).
    pub noreply: bool,
    /// Send now; the reply is read and compared by a later `@await`.
    pub send_async: bool,
    /// Number of replies this command produces (SUBSCRIBE a b: 2).
    pub replies: usize,
    /// Fields whose values are replaced by a placeholder on both sides.
    pub mask: Vec<Vec<u8>>,
    /// The only fields kept (for `k=v` texts such as CLIENT INFO, and maps).
    pub keep: Vec<Vec<u8>>,
    /// What magpie must reply where Redis 7.4 differs from the reference:
    /// the KNOWN_DIFFERENCES.md row and the reply.
    pub expect: Option<(String, Reply)>,
}

/// What a line asks for.
#[derive(Clone, Debug)]
pub enum Action {
    /// Send a command to both servers.
    Command { args: Vec<Vec<u8>>, mods: Modifiers },
    /// Send raw bytes; compare everything that comes back and whether the
    /// connection gets closed. Several parts are written separately, with a
    /// pause between them, so the server sees a frame arrive in pieces.
    Raw(Vec<Vec<u8>>),
    /// Pause.
    Sleep(u64),
    /// Switch to connection N (created on first use).
    Conn(usize),
    /// Read one reply on the current connection (pending `@async` command or
    /// a push message) and compare it.
    Await,
}

/// One line of a case file that does something.
#[derive(Clone, Debug)]
pub struct Step {
    /// 1-based line number.
    pub line: usize,
    /// The line as written, for reports.
    pub text: String,
    pub action: Action,
}

/// Parses a whole case file. Errors name the line.
pub fn parse_case(src: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let action = parse_line(text).map_err(|e| format!("line {}: {e}", i + 1))?;
        steps.push(Step {
            line: i + 1,
            text: text.to_string(),
            action,
        });
    }
    Ok(steps)
}

fn next_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn parse_line(line: &str) -> Result<Action, String> {
    let mut mods = Modifiers {
        replies: 1,
        ..Modifiers::default()
    };
    let mut rest = line;
    let mut first = true;
    loop {
        let trimmed = rest.trim_start();
        if !trimmed.starts_with('@') {
            break;
        }
        let (word, after) = next_word(trimmed);
        rest = after;
        let alone = std::mem::replace(&mut first, false);
        match word {
            "@sleep" | "@conn" | "@raw" | "@await" if !alone => {
                return Err(format!("{word} must stand alone on its line"));
            }
            "@sleep" => return Ok(Action::Sleep(number(rest.trim())?)),
            "@conn" => {
                let n: usize = number(rest.trim())?;
                if n == 0 {
                    return Err("connections are numbered from 1".into());
                }
                return Ok(Action::Conn(n));
            }
            "@await" if rest.trim().is_empty() => return Ok(Action::Await),
            "@await" => return Err("@await takes no arguments".into()),
            "@raw" => {
                let parts = split_args(rest.trim())?;
                if parts.is_empty() {
                    return Err("@raw needs a quoted byte string".into());
                }
                return Ok(Action::Raw(parts));
            }
            "@sort" => mods.sort = true,
            "@sort-pairs" => mods.sort_pairs = true,
            "@ignore" => mods.ignore = true,
            "@type-only" => mods.type_only = true,
            "@resp2-only" => mods.only_resp = Some(2),
            "@resp3-only" => mods.only_resp = Some(3),
            "@scan-all" => mods.scan_all = true,
            "@noreply" => mods.noreply = true,
            "@async" => mods.send_async = true,
            "@range" => {
                let (lo, r) = next_word(rest);
                let (hi, r) = next_word(r);
                mods.range = Some((number(lo)?, number(hi)?));
                rest = r;
            }
            "@replies" => {
                let (n, r) = next_word(rest);
                mods.replies = number(n)?;
                rest = r;
            }
            "@mask" | "@keep" => {
                let (list, r) = next_word(rest);
                if list.is_empty() {
                    return Err(format!("{word} needs a comma-separated list of fields"));
                }
                let fields = list.split(',').map(|f| f.as_bytes().to_vec()).collect();
                if word == "@mask" {
                    mods.mask = fields;
                } else {
                    mods.keep = fields;
                }
                rest = r;
            }
            "@expect" => {
                let (row, r) = next_word(rest);
                if !row.starts_with("KD-") {
                    return Err(format!(
                        "@expect must cite a KNOWN_DIFFERENCES.md row (KD-n), got {row:?}"
                    ));
                }
                let (reply, r) = resp::parse_notation(r)?;
                mods.expect = Some((row.to_string(), reply));
                rest = r;
            }
            _ => return Err(format!("unknown directive {word}")),
        }
    }
    let args = split_args(rest.trim())?;
    if args.is_empty() {
        return Err("modifiers without a command".into());
    }
    if mods.scan_all && scan_cursor_index(&args).is_none() {
        return Err("@scan-all needs SCAN, SSCAN, HSCAN or ZSCAN".into());
    }
    if mods.noreply && (mods.send_async || mods.replies != 1) {
        return Err("@noreply excludes @async and @replies".into());
    }
    Ok(Action::Command { args, mods })
}

/// Where the cursor argument of a SCAN-family command is.
pub fn scan_cursor_index(args: &[Vec<u8>]) -> Option<usize> {
    let name = args.first()?.to_ascii_lowercase();
    let idx = match name.as_slice() {
        b"scan" => 1,
        b"sscan" | b"hscan" | b"zscan" => 2,
        _ => return None,
    };
    (args.len() > idx).then_some(idx)
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("expected a number, got {s:?}"))
}

/// Splits a line into arguments with redis-cli's rules (`sdssplitargs`):
/// double quotes with `\n \r \t \b \a \\ \" \xHH` escapes, single quotes
/// with only `\'`, and a closing quote must be followed by a space.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut s = line.as_bytes();
    let mut args = Vec::new();
    loop {
        while let Some((c, r)) = s.split_first() {
            if !c.is_ascii_whitespace() {
                break;
            }
            s = r;
        }
        if s.is_empty() {
            return Ok(args);
        }
        let (arg, used) = split_one(s)?;
        args.push(arg);
        s = &s[used..];
    }
}

/// Reads one argument at the start of `s` (no leading whitespace); returns
/// it and the number of bytes consumed.
pub fn split_one(s: &[u8]) -> Result<(Vec<u8>, usize), String> {
    split_token(s, true)
}

/// Like [`split_one`]; with `strict` false a closing quote may be followed
/// by anything (the reply notation puts `,` and `]` right after strings).
pub fn split_token(s: &[u8], strict: bool) -> Result<(Vec<u8>, usize), String> {
    let mut arg = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    loop {
        let Some(&c) = s.get(i) else {
            return match quote {
                Some(_) => Err("unbalanced quotes".into()),
                None => Ok((arg, i)),
            };
        };
        match quote {
            Some(b'"') => {
                if c == b'\\' && s.get(i + 1) == Some(&b'x') {
                    let hex = s
                        .get(i + 2..i + 4)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    if let Some(b) = hex {
                        arg.push(b);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < s.len() {
                    arg.push(match s[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    if strict && s.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                        return Err("closing quote must be followed by a space".into());
                    }
                    return Ok((arg, i + 1));
                }
                arg.push(c);
                i += 1;
            }
            Some(_) => {
                if c == b'\\' && s.get(i + 1) == Some(&b'\'') {
                    arg.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if strict && s.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                        return Err("closing quote must be followed by a space".into());
                    }
                    return Ok((arg, i + 1));
                }
                arg.push(c);
                i += 1;
            }
            None => {
                if c.is_ascii_whitespace() {
                    return Ok((arg, i));
                }
                if c == b'"' || c == b'\'' {
                    quote = Some(c);
                } else {
                    arg.push(c);
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        split_args(line)
            .expect("valid")
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect()
    }

    #[test]
    fn splits_like_redis_cli() {
        assert_eq!(args(r#"SET k "a b""#), ["SET", "k", "a b"]);
        assert_eq!(args(r#"SET k "\x41\n""#), ["SET", "k", "A\n"]);
        assert_eq!(args(r"SET k 'it\'s'"), ["SET", "k", "it's"]);
        assert_eq!(args(r#"SET k """#), ["SET", "k", ""]);
        assert_eq!(args("  GET   k  "), ["GET", "k"]);
        assert!(split_args(r#"GET "k"x"#).is_err());
        assert!(split_args(r#"GET "k"#).is_err());
    }

    #[test]
    fn parses_directives() {
        let steps = parse_case(
            "# c\n\n@sort KEYS *\n@range 0 100 TTL k\n@expect KD-4 -\"ERR invalid cursor\" SCAN -1\n@raw \"PING\\r\\n\"\n@conn 2\n@mask id,version HELLO 3\n",
        )
        .expect("valid case");
        assert_eq!(steps.len(), 6);
        assert_eq!(steps[0].line, 3);
        let Action::Command { mods, args } = &steps[2].action else {
            panic!("command expected");
        };
        assert_eq!(args, &[b"SCAN".to_vec(), b"-1".to_vec()]);
        assert_eq!(
            mods.expect,
            Some(("KD-4".into(), Reply::Error(b"ERR invalid cursor".to_vec())))
        );
        assert!(matches!(&steps[3].action, Action::Raw(b) if b == &[b"PING\r\n".to_vec()]));
        assert!(parse_case("@sort").is_err());
        assert!(parse_case("@bogus GET k").is_err());
        assert!(parse_case("@sort @sleep 10").is_err());
        assert!(parse_case("@expect +OK GET k").is_err());
    }
}
