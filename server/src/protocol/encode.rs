//! Encodes a [`Reply`] as RESP2 or RESP3 bytes.
//!
//! RESP3-only shapes degrade the way Redis degrades them for RESP2 clients:
//! maps become flat arrays, sets and pushes arrays, doubles bulk strings,
//! booleans integers, nulls `$-1` or `*-1`.

use storage::numfmt::{format_double, format_i64};
use storage::Reply;

/// The protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp {
    /// RESP2, the default.
    V2,
    /// RESP3, after `HELLO 3`.
    V3,
}

/// Appends the encoding of `reply` to `out`.
pub fn encode(reply: &Reply, resp: Resp, out: &mut Vec<u8>) {
    match reply {
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Status(s) => line(out, b'+', s.as_bytes()),
        Reply::Error(s) => error_line(out, s.as_bytes()),
        Reply::Int(n) => {
            out.push(b':');
            format_i64(*n, out);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Bulk(b) => bulk(out, b),
        Reply::Nil => match resp {
            Resp::V2 => out.extend_from_slice(b"$-1\r\n"),
            Resp::V3 => out.extend_from_slice(b"_\r\n"),
        },
        Reply::NilArray => match resp {
            Resp::V2 => out.extend_from_slice(b"*-1\r\n"),
            Resp::V3 => out.extend_from_slice(b"_\r\n"),
        },
        Reply::Array(items) => {
            header(out, b'*', items.len());
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Set(items) => {
            header(out, if resp == Resp::V3 { b'~' } else { b'*' }, items.len());
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Push(items) => {
            header(out, if resp == Resp::V3 { b'>' } else { b'*' }, items.len());
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Multi(items) => {
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Map(pairs) => {
            match resp {
                Resp::V3 => header(out, b'%', pairs.len()),
                Resp::V2 => header(out, b'*', pairs.len() * 2),
            }
            for (k, v) in pairs {
                encode(k, resp, out);
                encode(v, resp, out);
            }
        }
        Reply::Pairs(pairs) => {
            match resp {
                Resp::V3 => header(out, b'*', pairs.len()),
                Resp::V2 => header(out, b'*', pairs.len() * 2),
            }
            for (k, v) in pairs {
                if resp == Resp::V3 {
                    out.extend_from_slice(b"*2\r\n");
                }
                encode(k, resp, out);
                encode(v, resp, out);
            }
        }
        Reply::Double(d) => {
            let text = format_double(*d);
            match resp {
                Resp::V3 => line(out, b',', text.as_bytes()),
                Resp::V2 => bulk(out, text.as_bytes()),
            }
        }
        Reply::Bool(b) => match resp {
            Resp::V3 => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Resp::V2 => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
        },
        Reply::Verbatim(fmt, body) => match resp {
            Resp::V3 => {
                header(out, b'=', body.len() + 4);
                out.extend_from_slice(fmt.as_bytes());
                out.push(b':');
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            }
            Resp::V2 => bulk(out, body),
        },
        Reply::BigNumber(digits) => match resp {
            Resp::V3 => line(out, b'(', digits),
            Resp::V2 => bulk(out, digits),
        },
    }
}

fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    format_i64(n as i64, out);
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    header(out, b'$', b.len());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, tag: u8, s: &[u8]) {
    out.push(tag);
    // A status line cannot carry CR or LF; Redis replaces them with spaces.
    out.extend(
        s.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

fn error_line(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'-');
    // Redis prefixes "ERR" when the text has no error code of its own.
    if s.is_empty() || s[0] == b' ' {
        out.extend_from_slice(b"ERR");
    }
    out.extend(
        s.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn enc(r: &Reply, v: Resp) -> String {
        let mut out = Vec::new();
        encode(r, v, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn degrades_resp3_shapes_for_resp2() {
        let m = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Int(1))]);
        assert_eq!(enc(&m, Resp::V2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, Resp::V3), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Nil, Resp::V2), "$-1\r\n");
        assert_eq!(enc(&Reply::NilArray, Resp::V2), "*-1\r\n");
        assert_eq!(enc(&Reply::Nil, Resp::V3), "_\r\n");
        assert_eq!(enc(&Reply::Bool(true), Resp::V2), ":1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Resp::V3), ",1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Resp::V2), "$3\r\n1.5\r\n");
        let v = Reply::Verbatim("txt", Bytes::from_static(b"hi"));
        assert_eq!(enc(&v, Resp::V3), "=6\r\ntxt:hi\r\n");
    }

    #[test]
    fn status_and_error_lines_are_single_lines() {
        assert_eq!(enc(&Reply::error("ERR a\r\nb"), Resp::V2), "-ERR a  b\r\n");
        assert_eq!(enc(&Reply::Ok, Resp::V2), "+OK\r\n");
    }
}
