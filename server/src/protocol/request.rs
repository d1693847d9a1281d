//! Placeholder parser; the full one lands separately.
use bytes::{Buf, Bytes, BytesMut};
pub struct ParserLimits {
    pub proto_max_bulk_len: u64,
    pub authenticated: bool,
}
#[derive(Debug, PartialEq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
}
impl ProtocolError {
    pub fn message(&self) -> String {
        match self {
            Self::InvalidMultibulkLength => "ERR Protocol error: invalid multibulk length".into(),
            Self::InvalidBulkLength => "ERR Protocol error: invalid bulk length".into(),
            Self::ExpectedDollar(c) => {
                format!("ERR Protocol error: expected '$', got '{}'", *c as char)
            }
        }
    }
    pub fn reply_before_close(&self) -> bool {
        true
    }
}
#[derive(Default)]
pub struct RequestParser;
pub enum Parsed {
    Request(Vec<Bytes>),
    Incomplete,
    Error(ProtocolError),
}
fn line(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| p + from)
}
impl RequestParser {
    pub fn parse(&mut self, buf: &mut BytesMut, _limits: &ParserLimits) -> Parsed {
        loop {
            if buf.is_empty() {
                return Parsed::Incomplete;
            }
            if buf[0] != b'*' {
                let Some(nl) = buf.iter().position(|&c| c == b'\n') else {
                    return Parsed::Incomplete;
                };
                let l = buf.split_to(nl + 1);
                let args: Vec<Bytes> = l[..]
                    .split(|&c| c == b' ' || c == b'\r' || c == b'\n')
                    .filter(|s| !s.is_empty())
                    .map(Bytes::copy_from_slice)
                    .collect();
                if args.is_empty() {
                    continue;
                }
                return Parsed::Request(args);
            }
            let Some(e) = line(buf, 0) else {
                return Parsed::Incomplete;
            };
            let Some(n) = std::str::from_utf8(&buf[1..e])
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
            else {
                return Parsed::Error(ProtocolError::InvalidMultibulkLength);
            };
            let mut pos = e + 2;
            let mut spans = vec![];
            for _ in 0..n.max(0) {
                if pos >= buf.len() {
                    return Parsed::Incomplete;
                }
                if buf[pos] != b'$' {
                    return Parsed::Error(ProtocolError::ExpectedDollar(buf[pos]));
                }
                let Some(e) = line(buf, pos) else {
                    return Parsed::Incomplete;
                };
                let Some(l) = std::str::from_utf8(&buf[pos + 1..e])
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                else {
                    return Parsed::Error(ProtocolError::InvalidBulkLength);
                };
                if buf.len() < e + 2 + l + 2 {
                    return Parsed::Incomplete;
                }
                spans.push((e + 2, l));
                pos = e + 2 + l + 2;
            }
            let frame = buf.split_to(pos).freeze();
            if n <= 0 {
                continue;
            }
            let _ = frame.chunk();
            return Parsed::Request(
                spans
                    .into_iter()
                    .map(|(s, l)| frame.slice(s..s + l))
                    .collect(),
            );
        }
    }
}
