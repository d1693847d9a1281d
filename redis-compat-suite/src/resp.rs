//! RESP2/RESP3 replies as the harness sees them: an exact decoder, a
//! one-line notation for printing and for `@expect`, and the encoder for
//! the commands we send.
//!
//! The decoder is our own rather than redis-protocol's because the harness
//! must keep every distinction the wire makes: `$-1` and `*-1` are different
//! replies in RESP2, a double keeps its text, a verbatim string keeps its
//! format. Two replies are equal exactly when their bytes on the wire are.

use std::fmt::Write as _;
use std::io::{self, BufRead};

/// One decoded reply. Payloads are bytes, never `String`: keys and values are
/// binary.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reply {
    /// `+OK`
    Simple(Vec<u8>),
    /// `-ERR ...`
    Error(Vec<u8>),
    /// `:1`
    Integer(i64),
    /// `$3\r\nabc`
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null bulk string)
    NilBulk,
    /// `*-1` (RESP2 null array)
    NilArray,
    /// `*2 ...`
    Array(Vec<Reply>),
    /// `_` (RESP3)
    Null,
    /// `,1.5` (RESP3; the text as sent)
    Double(Vec<u8>),
    /// `#t` / `#f` (RESP3)
    Boolean(bool),
    /// `(123` (RESP3)
    BigNumber(Vec<u8>),
    /// `!5\r\nERR x` (RESP3)
    BulkError(Vec<u8>),
    /// `=7\r\ntxt:abc` (RESP3): format and text
    Verbatim(Vec<u8>, Vec<u8>),
    /// `%1 ...` (RESP3)
    Map(Vec<(Reply, Reply)>),
    /// `~2 ...` (RESP3)
    Set(Vec<Reply>),
    /// `>2 ...` (RESP3)
    Push(Vec<Reply>),
    /// `|1 ...` (RESP3): the attributes and the reply they annotate
    Attribute(Vec<(Reply, Reply)>, Box<Reply>),
}

/// Why a reply could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (or reset it).
    Closed,
    /// Nothing complete arrived within the read timeout.
    Timeout,
    /// Bytes that are not RESP.
    Protocol(String),
    /// Any other I/O failure.
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("connection closed"),
            ReadError::Timeout => f.write_str("timed out waiting for a reply"),
            ReadError::Protocol(m) => write!(f, "invalid RESP: {m}"),
            ReadError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ReadError::Timeout,
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ReadError::Closed,
            _ => ReadError::Io(e),
        }
    }
}

/// Longest aggregate or bulk we accept; protects the harness from garbage.
const MAX_LEN: i64 = 1 << 30;

/// Reads one complete reply.
pub fn read_reply<R: BufRead>(r: &mut R) -> Result<Reply, ReadError> {
    let line = read_line(r)?;
    let (&tag, rest) = line
        .split_first()
        .ok_or_else(|| ReadError::Protocol("empty line".into()))?;
    Ok(match tag {
        b'+' => Reply::Simple(rest.to_vec()),
        b'-' => Reply::Error(rest.to_vec()),
        b':' => Reply::Integer(parse_int(rest)?),
        b'_' => Reply::Null,
        b',' => Reply::Double(rest.to_vec()),
        b'(' => Reply::BigNumber(rest.to_vec()),
        b'#' => match rest {
            b"t" => Reply::Boolean(true),
            b"f" => Reply::Boolean(false),
            _ => return Err(bad(&line)),
        },
        b'$' => match length(rest)? {
            None => Reply::NilBulk,
            Some(n) => Reply::Bulk(read_payload(r, n)?),
        },
        b'!' => Reply::BulkError(read_payload(r, need(length(rest)?, &line)?)?),
        b'=' => {
            let body = read_payload(r, need(length(rest)?, &line)?)?;
            if body.len() < 4 || body[3] != b':' {
                return Err(bad(&line));
            }
            Reply::Verbatim(body[..3].to_vec(), body[4..].to_vec())
        }
        b'*' => match length(rest)? {
            None => Reply::NilArray,
            Some(n) => Reply::Array(read_items(r, n)?),
        },
        b'~' => Reply::Set(read_items(r, need(length(rest)?, &line)?)?),
        b'>' => Reply::Push(read_items(r, need(length(rest)?, &line)?)?),
        b'%' => Reply::Map(read_pairs(r, need(length(rest)?, &line)?)?),
        b'|' => {
            let attrs = read_pairs(r, need(length(rest)?, &line)?)?;
            Reply::Attribute(attrs, Box::new(read_reply(r)?))
        }
        _ => return Err(bad(&line)),
    })
}

fn bad(line: &[u8]) -> ReadError {
    ReadError::Protocol(format!("unexpected line {}", quote(line)))
}

fn need(n: Option<usize>, line: &[u8]) -> Result<usize, ReadError> {
    n.ok_or_else(|| bad(line))
}

fn read_line<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(ReadError::Closed);
    }
    if !line.ends_with(b"\r\n") {
        // A line cut short by the peer closing, or a bare `\n`.
        return Err(if line.ends_with(b"\n") {
            bad(&line)
        } else {
            ReadError::Closed
        });
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(s: &[u8]) -> Result<i64, ReadError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ReadError::Protocol(format!("bad integer {}", quote(s))))
}

/// A length field: `None` for -1.
fn length(s: &[u8]) -> Result<Option<usize>, ReadError> {
    match parse_int(s)? {
        -1 => Ok(None),
        n if (0..=MAX_LEN).contains(&n) => Ok(Some(n as usize)),
        n => Err(ReadError::Protocol(format!("bad length {n}"))),
    }
}

fn read_payload<R: BufRead>(r: &mut R, n: usize) -> Result<Vec<u8>, ReadError> {
    let mut buf = vec![0; n + 2];
    r.read_exact(&mut buf)?;
    if !buf.ends_with(b"\r\n") {
        return Err(ReadError::Protocol(
            "bulk payload not followed by CRLF".into(),
        ));
    }
    buf.truncate(n);
    Ok(buf)
}

fn read_items<R: BufRead>(r: &mut R, n: usize) -> Result<Vec<Reply>, ReadError> {
    (0..n).map(|_| read_reply(r)).collect()
}

fn read_pairs<R: BufRead>(r: &mut R, n: usize) -> Result<Vec<(Reply, Reply)>, ReadError> {
    (0..n)
        .map(|_| Ok((read_reply(r)?, read_reply(r)?)))
        .collect()
}

/// Splits a byte buffer into the complete replies it holds; returns them and
/// the bytes left over (an incomplete or invalid tail).
pub fn parse_all(mut buf: &[u8]) -> (Vec<Reply>, Vec<u8>) {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let mut cursor = io::Cursor::new(buf);
        match read_reply(&mut cursor) {
            Ok(reply) => {
                out.push(reply);
                buf = &buf[cursor.position() as usize..];
            }
            Err(_) => break,
        }
    }
    (out, buf.to_vec())
}

/// Encodes a command as a RESP multibulk array.
pub fn encode_command(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Quotes bytes the way redis-cli does: printable ASCII as is, `\n \r \t`
/// and `\" \\` escaped, anything else as `\xHH`.
pub fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// Whether bytes can be printed after a sigil without quotes.
fn bare_ok(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_graphic() && !b"\"'\\,[]{}=>".contains(&b))
}

fn sigil_text(out: &mut String, sigil: char, s: &[u8]) {
    out.push(sigil);
    if bare_ok(s) {
        out.push_str(&String::from_utf8_lossy(s));
    } else {
        out.push_str(&quote(s));
    }
}

impl Reply {
    /// The reply in the harness notation, on one line. The same text is
    /// accepted by [`parse_notation`], so a printed reply can be pasted into
    /// an `@expect`.
    pub fn notation(&self) -> String {
        let mut out = String::new();
        self.write_notation(&mut out);
        out
    }

    fn write_notation(&self, out: &mut String) {
        match self {
            Reply::Simple(s) => sigil_text(out, '+', s),
            Reply::Error(s) => sigil_text(out, '-', s),
            Reply::Integer(n) => {
                let _ = write!(out, ":{n}");
            }
            Reply::Bulk(s) => out.push_str(&quote(s)),
            Reply::NilBulk => out.push_str("$-1"),
            Reply::NilArray => out.push_str("*-1"),
            Reply::Null => out.push('_'),
            Reply::Double(s) => sigil_text(out, ',', s),
            Reply::Boolean(b) => out.push_str(if *b { "#t" } else { "#f" }),
            Reply::BigNumber(s) => sigil_text(out, '(', s),
            Reply::BulkError(s) => sigil_text(out, '!', s),
            Reply::Verbatim(f, s) => {
                out.push('=');
                out.push_str(&String::from_utf8_lossy(f));
                out.push(':');
                out.push_str(&quote(s));
            }
            Reply::Array(items) => write_items(out, "[", items),
            Reply::Set(items) => write_items(out, "~[", items),
            Reply::Push(items) => write_items(out, ">[", items),
            Reply::Map(pairs) => write_pairs(out, "%{", pairs),
            Reply::Attribute(attrs, inner) => {
                write_pairs(out, "|{", attrs);
                out.push(' ');
                inner.write_notation(out);
            }
        }
    }

    /// The reply in the notation, indented over several lines when it does
    /// not fit in `width` columns. For mismatch reports.
    pub fn pretty(&self, indent: usize, width: usize) -> String {
        let one = self.notation();
        if one.len() + indent <= width {
            return one;
        }
        let pad = " ".repeat(indent + 2);
        let close_pad = " ".repeat(indent);
        let (open, items): (&str, Vec<String>) = match self {
            Reply::Array(v) => ("[", v.iter().map(|r| r.pretty(indent + 2, width)).collect()),
            Reply::Set(v) => (
                "~[",
                v.iter().map(|r| r.pretty(indent + 2, width)).collect(),
            ),
            Reply::Push(v) => (
                ">[",
                v.iter().map(|r| r.pretty(indent + 2, width)).collect(),
            ),
            Reply::Map(p) => (
                "%{",
                p.iter()
                    .map(|(k, v)| {
                        let key = k.notation();
                        format!("{key} => {}", v.pretty(indent + 6 + key.len(), width))
                    })
                    .collect(),
            ),
            _ => return one,
        };
        let close = if open.ends_with('{') { '}' } else { ']' };
        let mut out = String::from(open);
        out.push('\n');
        for item in items {
            let _ = writeln!(out, "{pad}{item},");
        }
        out.push_str(&close_pad);
        out.push(close);
        out
    }

    /// True for the error types.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::BulkError(_))
    }
}

fn write_items(out: &mut String, open: &str, items: &[Reply]) {
    out.push_str(open);
    for (i, r) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        r.write_notation(out);
    }
    out.push(']');
}

fn write_pairs(out: &mut String, open: &str, pairs: &[(Reply, Reply)]) {
    out.push_str(open);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        k.write_notation(out);
        out.push_str(" => ");
        v.write_notation(out);
    }
    out.push('}');
}

/// Parses one reply written in the notation at the start of `s`; returns it
/// and the rest of `s`.
///
/// ```text
/// +OK  +"two words"  -"ERR syntax error"  :42  "bulk\x00"  $-1  *-1  _
/// ,1.5  #t  (12345  !"ERR x"  =txt:"text"  [:1, "a"]  ~["a"]  >["msg"]
/// %{"proto" => :3}
/// ```
pub fn parse_notation(s: &str) -> Result<(Reply, &str), String> {
    let mut p = NotationParser {
        s: s.as_bytes(),
        pos: 0,
    };
    let reply = p.value()?;
    Ok((reply, &s[p.pos..]))
}

struct NotationParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl NotationParser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!(
            "{what} at column {} of reply notation {:?}",
            self.pos + 1,
            String::from_utf8_lossy(self.s)
        ))
    }

    fn value(&mut self) -> Result<Reply, String> {
        self.skip_ws();
        let Some(c) = self.peek() else {
            return self.err("expected a reply");
        };
        if self.eat("$-1") {
            return Ok(Reply::NilBulk);
        }
        if self.eat("*-1") {
            return Ok(Reply::NilArray);
        }
        if self.eat("#t") {
            return Ok(Reply::Boolean(true));
        }
        if self.eat("#f") {
            return Ok(Reply::Boolean(false));
        }
        if self.eat("~[") {
            return Ok(Reply::Set(self.items()?));
        }
        if self.eat(">[") {
            return Ok(Reply::Push(self.items()?));
        }
        if self.eat("%{") {
            return Ok(Reply::Map(self.pairs()?));
        }
        if self.eat("|{") {
            let attrs = self.pairs()?;
            return Ok(Reply::Attribute(attrs, Box::new(self.value()?)));
        }
        self.pos += 1;
        match c {
            b'"' | b'\'' => {
                self.pos -= 1;
                Ok(Reply::Bulk(self.text()?))
            }
            b'[' => Ok(Reply::Array(self.items()?)),
            b'_' => Ok(Reply::Null),
            b'+' => Ok(Reply::Simple(self.text()?)),
            b'-' => Ok(Reply::Error(self.text()?)),
            b',' => Ok(Reply::Double(self.text()?)),
            b'(' => Ok(Reply::BigNumber(self.text()?)),
            b'!' => Ok(Reply::BulkError(self.text()?)),
            b':' => {
                let t = self.text()?;
                match std::str::from_utf8(&t).ok().and_then(|t| t.parse().ok()) {
                    Some(n) => Ok(Reply::Integer(n)),
                    None => self.err("bad integer"),
                }
            }
            b'=' => {
                let start = self.pos;
                while self.peek().is_some_and(|b| b != b':') {
                    self.pos += 1;
                }
                let format = self.s[start..self.pos].to_vec();
                if !self.eat(":") || format.len() != 3 {
                    return self.err("verbatim string needs a 3-letter format and ':'");
                }
                Ok(Reply::Verbatim(format, self.text()?))
            }
            _ => {
                self.pos -= 1;
                self.err("unknown reply sigil")
            }
        }
    }

    /// A quoted string (redis-cli quoting) or a bare token.
    fn text(&mut self) -> Result<Vec<u8>, String> {
        match self.peek() {
            Some(b'"') | Some(b'\'') => {
                let (arg, used) = crate::case::split_token(&self.s[self.pos..], false)
                    .map_err(|e| format!("{e} in reply notation"))?;
                self.pos += used;
                Ok(arg)
            }
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_graphic() && !b",[]{}".contains(&b))
                {
                    self.pos += 1;
                }
                Ok(self.s[start..self.pos].to_vec())
            }
        }
    }

    fn items(&mut self) -> Result<Vec<Reply>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.eat("]") {
                return Ok(items);
            }
            if !items.is_empty() && !self.eat(",") {
                return self.err("expected ',' or ']'");
            }
            self.skip_ws();
            if self.eat("]") {
                return Ok(items);
            }
            items.push(self.value()?);
        }
    }

    fn pairs(&mut self) -> Result<Vec<(Reply, Reply)>, String> {
        let mut pairs = Vec::new();
        loop {
            self.skip_ws();
            if self.eat("}") {
                return Ok(pairs);
            }
            if !pairs.is_empty() && !self.eat(",") {
                return self.err("expected ',' or '}'");
            }
            self.skip_ws();
            if self.eat("}") {
                return Ok(pairs);
            }
            let k = self.value()?;
            self.skip_ws();
            if !self.eat("=>") {
                return self.err("expected '=>'");
            }
            pairs.push((k, self.value()?));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &[u8]) -> Reply {
        read_reply(&mut io::Cursor::new(s)).expect("valid RESP")
    }

    #[test]
    fn decodes_every_type() {
        let wire: &[u8] = b"*14\r\n+OK\r\n-ERR x y\r\n:-5\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n_\r\n,1.5\r\n#t\r\n(99\r\n!3\r\nE x\r\n=7\r\ntxt:abc\r\n%1\r\n+k\r\n~1\r\n:1\r\n>1\r\n+m\r\n";
        let r = decode(wire);
        let text = r.notation();
        assert_eq!(
            text,
            r#"[+OK, -"ERR x y", :-5, "a\r\n", $-1, *-1, _, ,1.5, #t, (99, !"E x", =txt:"abc", %{+k => ~[:1]}, >[+m]]"#
        );
        let (back, rest) = parse_notation(&text).expect("notation parses");
        assert_eq!(back, r);
        assert_eq!(rest, "");
    }

    #[test]
    fn notation_leaves_the_rest() {
        let (r, rest) = parse_notation(r#"-"ERR syntax error" GET k"#).expect("parses");
        assert_eq!(r, Reply::Error(b"ERR syntax error".to_vec()));
        assert_eq!(rest, " GET k");
        let (r, rest) = parse_notation("+OK SET a b").expect("parses");
        assert_eq!(r, Reply::Simple(b"OK".to_vec()));
        assert_eq!(rest, " SET a b");
    }

    #[test]
    fn parse_all_keeps_the_tail() {
        let (replies, tail) = parse_all(b"+PONG\r\n$5\r\nab");
        assert_eq!(replies, vec![Reply::Simple(b"PONG".to_vec())]);
        assert_eq!(tail, b"$5\r\nab");
    }
}
