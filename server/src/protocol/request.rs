//! Incremental parser for client requests: RESP multibulk
//! (`*<n>\r\n$<len>\r\n<data>\r\n...`) and the inline protocol (`SET k v\r\n`),
//! with Redis 7.x's limits and error texts.
//!
//! It follows `processMultibulkBuffer` and `processInlineBuffer` in Redis's
//! `networking.c` and `sdssplitargs` in `sds.c`, quirks included, so that a
//! client sees the same replies (and the same disconnects) as with Redis.
//!
//! # Contract with the connection
//! - Between calls the caller only *appends* to `buf`. The parser consumes a
//!   request's bytes from the front only when the whole request has arrived,
//!   except for a multibulk request, whose header and finished arguments are
//!   consumed as they complete and kept in the parser.
//! - Pass fresh [`ParserLimits`] on every call and execute each request before
//!   parsing the next: after `AUTH` in a pipeline, Redis parses the following
//!   request as authenticated.
//! - After [`Parsed::Error`] the connection is finished: write the error if
//!   [`ProtocolError::reply_before_close`] says so, then close. The parser's
//!   state after an error is unspecified (but calling it again never panics).
//!
//! # Invariants
//! - Work is linear in the bytes received: a line arriving in pieces is
//!   searched once (`scanned`), a bulk waiting for its data costs O(1) a call.
//! - Nothing is allocated in proportion to a *declared* size: a `$500000000`
//!   header reserves at most 64 KiB, a `*2000000000` header at most 1024
//!   argument slots. Memory grows only with bytes that actually arrive.
//! - Arguments are `Bytes` split off the read buffer, without copying. Each one
//!   keeps its read chunk alive, so code that *retains* an argument for long
//!   (a value stored in a shard) should copy small ones.
//!
//! # Redis quirks kept on purpose
//! - Lines are found the way Redis's `strchr` finds them: a NUL byte before
//!   the terminator hides it, so such a line never completes and ends in a
//!   "too big ... string" / "too big inline request" error once 64 KiB are
//!   buffered.
//! - The two bytes after a header's `\r` and after bulk data are skipped
//!   without checking that they are `\r\n`.
//! - The multibulk count limit is `INT_MAX` (Redis 7.x; 6.x used 1024*1024).
//! - `POST` and `Host:` as the first argument of any request close the
//!   connection without a reply (Redis does it in `processCommand`, for inline
//!   and multibulk requests alike); see [`is_security_attack`].

use super::splitargs::split_args;
use bytes::{Buf, Bytes, BytesMut};

/// Longest header or inline line Redis buffers without finding its end
/// (`PROTO_INLINE_MAX_SIZE`).
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Largest multibulk count accepted (`INT_MAX`, Redis 7.x).
pub const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;

/// Largest multibulk count accepted from a client that has not authenticated.
pub const UNAUTHENTICATED_MAX_MULTIBULK_LEN: i64 = 10;

/// Largest bulk length accepted from a client that has not authenticated.
pub const UNAUTHENTICATED_MAX_BULK_LEN: i64 = 16 * 1024;

/// Default of the `proto-max-bulk-len` config (512 MiB).
pub const DEFAULT_PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

/// Cap on argument slots reserved up front from a declared count (Redis's
/// `min(multibulklen, 1024)`): a huge `*N` must not allocate N slots.
const ARGV_PREALLOC_MAX: usize = 1024;

/// Cap on what a declared bulk length may reserve ahead of its data.
const BULK_RESERVE_MAX: usize = 64 * 1024;

/// The limits that depend on configuration and on the client's state; pass
/// the current values on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// `proto-max-bulk-len`: a longer bulk is "invalid bulk length".
    pub proto_max_bulk_len: u64,
    /// False while `requirepass` is set and the client has not authenticated;
    /// such a client may send at most 10 arguments of at most 16 KiB each.
    pub authenticated: bool,
}

impl Default for ParserLimits {
    /// Redis's defaults with no `requirepass`: 512 MiB bulks, authenticated.
    fn default() -> Self {
        ParserLimits {
            proto_max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN,
            authenticated: true,
        }
    }
}

/// A request Redis refuses; the connection is closed after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// No `\r` within 64 KiB after `*`.
    TooBigMbulkCount,
    /// The count after `*` is not a number, or exceeds [`MAX_MULTIBULK_LEN`].
    InvalidMultibulkLength,
    /// More than 10 arguments before authentication.
    UnauthenticatedMultibulkLength,
    /// An argument header starts with this byte instead of `$`.
    ExpectedDollar(u8),
    /// No `\r` within 64 KiB after an argument's `$`.
    TooBigBulkCount,
    /// The length after `$` is not a number, is negative, or exceeds
    /// `proto_max_bulk_len`.
    InvalidBulkLength,
    /// An argument over 16 KiB before authentication.
    UnauthenticatedBulkLength,
    /// An inline request with no `\n` within 64 KiB.
    TooBigInlineRequest,
    /// An inline request with an unterminated quote, or a closing quote
    /// followed by something other than a space.
    UnbalancedQuotes,
    /// The first argument is `POST` or `Host:` (any case): an HTTP request
    /// smuggled at Redis. Closed silently, without a reply.
    SecurityAttack,
}

const SECURITY_WARNING: &str = "Possible SECURITY ATTACK detected. It looks like somebody is \
sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use \
Cross Protocol Scripting to compromise your Redis instance. Connection aborted.";

impl ProtocolError {
    /// The error reply's text, without the leading `-` and the CRLF, e.g.
    /// `ERR Protocol error: invalid multibulk length`. For
    /// [`ProtocolError::SecurityAttack`], which gets no reply, it is the
    /// warning Redis logs (at most once a minute). A non-UTF-8 byte in
    /// "expected '$'" is replaced here; [`Self::message_bytes`] is exact.
    pub fn message(&self) -> String {
        String::from_utf8_lossy(&self.message_bytes()).into_owned()
    }

    /// [`Self::message`] as the exact bytes Redis sends (the byte quoted in
    /// "expected '$', got 'X'" is raw, as Redis's `%c` writes it).
    pub fn message_bytes(&self) -> Vec<u8> {
        let text = match self {
            ProtocolError::TooBigMbulkCount => "ERR Protocol error: too big mbulk count string",
            ProtocolError::InvalidMultibulkLength => "ERR Protocol error: invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => {
                "ERR Protocol error: unauthenticated multibulk length"
            }
            ProtocolError::ExpectedDollar(byte) => {
                let mut text = b"ERR Protocol error: expected '$', got '".to_vec();
                match byte {
                    // addReplyErrorFormat turns CR and LF into spaces.
                    b'\r' | b'\n' => text.extend_from_slice(b" '"),
                    // sdscatvprintf measures with strlen: the text ends at a NUL.
                    // (Unreachable: a NUL hides the line, see the module docs.)
                    0 => {}
                    other => {
                        text.push(*other);
                        text.push(b'\'');
                    }
                }
                return text;
            }
            ProtocolError::TooBigBulkCount => "ERR Protocol error: too big bulk count string",
            ProtocolError::InvalidBulkLength => "ERR Protocol error: invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => {
                "ERR Protocol error: unauthenticated bulk length"
            }
            ProtocolError::TooBigInlineRequest => "ERR Protocol error: too big inline request",
            ProtocolError::UnbalancedQuotes => "ERR Protocol error: unbalanced quotes in request",
            ProtocolError::SecurityAttack => SECURITY_WARNING,
        };
        text.as_bytes().to_vec()
    }

    /// Whether Redis writes [`Self::message`] as an error reply before
    /// closing. False only for the silent close of
    /// [`ProtocolError::SecurityAttack`]; Redis then also drops replies to
    /// earlier pipelined requests that it has not yet written.
    pub fn reply_before_close(&self) -> bool {
        !matches!(self, ProtocolError::SecurityAttack)
    }

    /// The short reason Redis logs at verbose level: "Protocol error (REASON)
    /// from client: ...".
    pub fn log_reason(&self) -> &'static str {
        match self {
            ProtocolError::TooBigMbulkCount => "too big mbulk count string",
            ProtocolError::InvalidMultibulkLength => "invalid mbulk count",
            ProtocolError::UnauthenticatedMultibulkLength => "unauth mbulk count",
            ProtocolError::ExpectedDollar(_) => "expected $ but got something else",
            ProtocolError::TooBigBulkCount => "too big bulk count string",
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => "unauth bulk length",
            ProtocolError::TooBigInlineRequest => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in inline request",
            ProtocolError::SecurityAttack => "possible security attack",
        }
    }
}

/// What one call to [`RequestParser::parse`] produced.
#[must_use]
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A complete request: its arguments, never empty.
    Request(Vec<Bytes>),
    /// More bytes are needed; partial progress is kept in the parser.
    Incomplete,
    /// The connection must be closed (after replying, if
    /// [`ProtocolError::reply_before_close`]).
    Error(ProtocolError),
}

/// Parses requests out of one connection's read buffer, keeping partial
/// progress between calls. One per connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments the multibulk request in progress still expects; 0 between
    /// requests.
    remaining: usize,
    /// Length of the argument whose `$` header was consumed but whose data
    /// has not fully arrived.
    bulk_len: Option<usize>,
    /// Finished arguments of the multibulk request in progress.
    args: Vec<Bytes>,
    /// Total length of `args`: bytes held outside the read buffer, which a
    /// query-buffer limit must count too.
    args_len: usize,
    /// Bytes at the front of `buf` already searched for the current line's
    /// terminator, so a line that arrives in pieces is searched only once.
    scanned: usize,
    /// A NUL came before the current line's terminator. Redis's `strchr`
    /// stops there, so the line never completes.
    line_blocked: bool,
}

/// Progress of the request being read.
enum Step {
    /// Nothing to run (`*0`, `*-1`, an empty inline line); go on.
    Skip,
    /// A multibulk header was read; its arguments follow.
    Started,
    /// A whole inline request.
    Done(Vec<Bytes>),
    /// The multibulk request in progress is complete, in `args`.
    Finished,
    /// More bytes are needed.
    Incomplete,
}

impl RequestParser {
    /// A parser between requests.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of the request in progress that were already taken out of the
    /// read buffer (its finished arguments). A query-buffer limit should
    /// count `buf.len() + pending_bytes()`, or a client could grow memory
    /// without bound through one endless multibulk request.
    pub fn pending_bytes(&self) -> usize {
        self.args_len
    }

    /// Consumes the bytes of one complete request from the front of `buf`
    /// and returns its arguments; or keeps partial progress and returns
    /// [`Parsed::Incomplete`] (next time, what was already parsed is not
    /// parsed again). Requests without arguments (`*0`, `*-1`, an empty or
    /// blank inline line) are skipped. See the module docs for the contract.
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &ParserLimits) -> Parsed {
        loop {
            let step = if self.remaining > 0 {
                self.multibulk_args(buf, limits)
            } else {
                match buf.first() {
                    None => return Parsed::Incomplete,
                    Some(b'*') => self.multibulk_header(buf, limits),
                    Some(_) => self.inline(buf),
                }
            };
            match step {
                Ok(Step::Skip | Step::Started) => {}
                Ok(Step::Done(args)) => return request(args),
                Ok(Step::Finished) => {
                    self.args_len = 0;
                    return request(std::mem::take(&mut self.args));
                }
                Ok(Step::Incomplete) => return Parsed::Incomplete,
                Err(error) => return Parsed::Error(error),
            }
        }
    }

    /// Reads `*<count>\r\n`.
    fn multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParserLimits,
    ) -> Result<Step, ProtocolError> {
        let (count, cr) = match header_fast(buf) {
            Some(found) => found,
            None => {
                let Some(cr) = self.find_line_end(buf, b'\r') else {
                    if buf.len() > PROTO_INLINE_MAX_SIZE {
                        return Err(ProtocolError::TooBigMbulkCount);
                    }
                    return Ok(Step::Incomplete);
                };
                // Redis wants one more byte (the `\n`, unchecked) after `\r`.
                if cr + 2 > buf.len() {
                    return Ok(Step::Incomplete);
                }
                let digits = buf.get(1..cr).unwrap_or_default();
                let count = string2ll(digits).ok_or(ProtocolError::InvalidMultibulkLength)?;
                (count, cr)
            }
        };
        if count > MAX_MULTIBULK_LEN {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if count > UNAUTHENTICATED_MAX_MULTIBULK_LEN && !limits.authenticated {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        self.consume_line(buf, cr);
        let Ok(count) = usize::try_from(count) else {
            // Zero or negative: nothing to run.
            return Ok(Step::Skip);
        };
        if count == 0 {
            return Ok(Step::Skip);
        }
        self.remaining = count;
        self.bulk_len = None;
        self.args = Vec::with_capacity(count.min(ARGV_PREALLOC_MAX));
        self.args_len = 0;
        Ok(Step::Started)
    }

    /// Reads the `$<len>\r\n<data>\r\n` arguments of the request in progress.
    fn multibulk_args(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParserLimits,
    ) -> Result<Step, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => match self.bulk_header(buf, limits)? {
                    Some(len) => {
                        self.bulk_len = Some(len);
                        len
                    }
                    None => return Ok(Step::Incomplete),
                },
            };
            // Data plus two trailing bytes, skipped unchecked as Redis does.
            let needed = len.saturating_add(2);
            if buf.len() < needed {
                // Room for what may come soon, never for the whole declared
                // length: the client may never send it.
                buf.reserve((needed - buf.len()).min(BULK_RESERVE_MAX));
                return Ok(Step::Incomplete);
            }
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            self.args.push(arg);
            self.args_len += len;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        Ok(Step::Finished)
    }

    /// Reads `$<len>\r\n`; `None` if it has not fully arrived.
    fn bulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParserLimits,
    ) -> Result<Option<usize>, ProtocolError> {
        let fast = if buf.first() == Some(&b'$') {
            header_fast(buf)
        } else {
            None
        };
        let (len, cr) = match fast {
            Some(found) => found,
            None => {
                let Some(cr) = self.find_line_end(buf, b'\r') else {
                    if buf.len() > PROTO_INLINE_MAX_SIZE {
                        return Err(ProtocolError::TooBigBulkCount);
                    }
                    return Ok(None);
                };
                if cr + 2 > buf.len() {
                    return Ok(None);
                }
                match buf.first() {
                    Some(b'$') => {}
                    Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
                    None => return Ok(None),
                }
                let digits = buf.get(1..cr).unwrap_or_default();
                let len = string2ll(digits).ok_or(ProtocolError::InvalidBulkLength)?;
                (len, cr)
            }
        };
        let Ok(unsigned) = u64::try_from(len) else {
            return Err(ProtocolError::InvalidBulkLength);
        };
        if unsigned > limits.proto_max_bulk_len {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if len > UNAUTHENTICATED_MAX_BULK_LEN && !limits.authenticated {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        // Only a length beyond this platform's address space can fail here.
        let len = usize::try_from(unsigned).map_err(|_| ProtocolError::InvalidBulkLength)?;
        self.consume_line(buf, cr);
        Ok(Some(len))
    }

    /// Reads one inline line and splits it into arguments.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Step, ProtocolError> {
        let Some(newline) = self.find_line_end(buf, b'\n') else {
            if buf.len() > PROTO_INLINE_MAX_SIZE {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(Step::Incomplete);
        };
        let end = match newline.checked_sub(1) {
            Some(before) if buf.get(before) == Some(&b'\r') => before,
            _ => newline,
        };
        let line = buf.split_to(newline + 1).freeze().slice(..end);
        self.scanned = 0;
        self.line_blocked = false;
        let args = split_args(&line).ok_or(ProtocolError::UnbalancedQuotes)?;
        Ok(if args.is_empty() {
            Step::Skip
        } else {
            Step::Done(args)
        })
    }

    /// Position of the current line's terminator (`term`) in `buf`, searching
    /// only bytes not searched before. `None` if it has not arrived, or if a
    /// NUL comes first (Redis's `strchr` would stop at the NUL).
    fn find_line_end(&mut self, buf: &[u8], term: u8) -> Option<usize> {
        if self.line_blocked {
            return None;
        }
        let from = self.scanned.min(buf.len());
        let rest = buf.get(from..).unwrap_or_default();
        match find_byte_or_nul(rest, term) {
            Some(offset) => {
                let at = from + offset;
                // Remember the terminator's position: a `\r` may still wait
                // for the byte after it.
                self.scanned = at;
                if buf.get(at) == Some(&term) {
                    Some(at)
                } else {
                    self.line_blocked = true;
                    None
                }
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }

    /// Drops a header line ending at `cr` and the byte after it.
    fn consume_line(&mut self, buf: &mut BytesMut, cr: usize) {
        buf.advance((cr + 2).min(buf.len()));
        self.scanned = 0;
        self.line_blocked = false;
    }
}

/// A complete request, unless Redis would drop the connection for it.
#[inline]
fn request(args: Vec<Bytes>) -> Parsed {
    if is_security_attack(&args) {
        Parsed::Error(ProtocolError::SecurityAttack)
    } else {
        Parsed::Request(args)
    }
}

/// Whether Redis would drop the connection for this request: its first
/// argument is `POST` or `Host:`, compared as `strcasecmp` does (ASCII case,
/// ending at a NUL byte). Redis checks this in `processCommand` for inline and
/// multibulk requests; [`RequestParser::parse`] already applies it and
/// returns [`ProtocolError::SecurityAttack`].
#[inline]
pub fn is_security_attack(args: &[Bytes]) -> bool {
    match args.first() {
        Some(name) => c_str_eq_ignore_case(name, b"post") || c_str_eq_ignore_case(name, b"host:"),
        None => false,
    }
}

/// `strcasecmp(s, lit) == 0` for a `lit` without NUL: `s` up to its first NUL
/// equals `lit`, ignoring ASCII case.
#[inline]
fn c_str_eq_ignore_case(s: &[u8], lit: &[u8]) -> bool {
    match s.get(..lit.len()) {
        Some(head) => {
            head.eq_ignore_ascii_case(lit) && s.get(lit.len()).is_none_or(|&byte| byte == 0)
        }
        None => false,
    }
}

/// The common header `*N\r?` or `$N\r?` (`N` plain digits, at most 18, so no
/// overflow), parsed in the same pass that finds its `\r`. Returns the number
/// and the position of `\r` when the byte after `\r` has arrived too; `None`
/// sends every other case (incomplete, signs, odd input) to the exact path.
#[inline]
fn header_fast(buf: &[u8]) -> Option<(i64, usize)> {
    let digits = buf.get(1..)?;
    let mut value: i64 = 0;
    for (i, &byte) in digits.iter().enumerate().take(19) {
        match byte {
            b'0'..=b'9' => {
                // string2ll accepts no leading zero; leave "0..." to it.
                if i == 18 || (i == 0 && byte == b'0' && digits.get(1) != Some(&b'\r')) {
                    return None;
                }
                value = value * 10 + i64::from(byte - b'0');
            }
            b'\r' if i > 0 => return (buf.len() > i + 2).then_some((value, i + 1)),
            _ => return None,
        }
    }
    None
}

/// Redis's `string2ll`: an optional `-`, then `0` alone or digits without a
/// leading zero, nothing else (no `+`, no spaces), within `i64`.
fn string2ll(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some(_) => (false, s),
        None => return None,
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut magnitude: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(byte - b'0'))?;
    }
    if negative {
        // i64::MIN's magnitude is one more than i64::MAX.
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Position of the first byte equal to `needle` or to NUL. Reads eight bytes
/// at a time: header and inline lines are searched on every request.
#[inline]
fn find_byte_or_nul(haystack: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Nonzero iff a byte of `word` is zero; the lowest set bit marks the first
    // zero byte (borrows only produce false marks above a true one).
    fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGHS
    }
    let pattern = ONES * u64::from(needle);
    let mut chunks = haystack.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        let hits = zero_bytes(word) | zero_bytes(word ^ pattern);
        if hits != 0 {
            return Some(base + (hits.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&byte| byte == needle || byte == 0)
        .map(|offset| base + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> ParserLimits {
        ParserLimits::default()
    }

    fn unauthenticated() -> ParserLimits {
        ParserLimits {
            authenticated: false,
            ..ParserLimits::default()
        }
    }

    fn args(list: &[&[u8]]) -> Vec<Bytes> {
        list.iter().map(|a| Bytes::copy_from_slice(a)).collect()
    }

    fn encode(list: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", list.len()).into_bytes();
        for arg in list {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Everything one parser yields from `input` given at once, up to the
    /// first `Incomplete` or `Error` (included), and the bytes left over.
    fn parse_all(input: &[u8], limits: &ParserLimits) -> (Vec<Parsed>, usize) {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            let parsed = parser.parse(&mut buf, limits);
            let stop = !matches!(parsed, Parsed::Request(_));
            out.push(parsed);
            if stop {
                return (out, buf.len());
            }
        }
    }

    /// The same, with `input` fed in pieces split at `cuts`; `Incomplete`
    /// between pieces is not recorded.
    fn parse_split(input: &[u8], cuts: &[usize], limits: &ParserLimits) -> Vec<Parsed> {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut bounds = cuts.to_vec();
        bounds.push(input.len());
        let mut from = 0;
        for &to in &bounds {
            buf.extend_from_slice(&input[from..to]);
            from = to;
            loop {
                match parser.parse(&mut buf, limits) {
                    Parsed::Incomplete => break,
                    Parsed::Error(e) => {
                        out.push(Parsed::Error(e));
                        return out;
                    }
                    request => out.push(request),
                }
            }
        }
        out.push(Parsed::Incomplete);
        out
    }

    fn first(input: &[u8], limits: &ParserLimits) -> Parsed {
        let mut parser = RequestParser::new();
        parser.parse(&mut BytesMut::from(input), limits)
    }

    fn error(input: &[u8], limits: &ParserLimits) -> String {
        match first(input, limits) {
            Parsed::Error(e) => e.message(),
            other => panic!("expected an error from {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn one_multibulk_request() {
        let input = encode(&[b"SET", b"key", b"value"]);
        let (out, left) = parse_all(&input, &open());
        assert_eq!(
            out,
            vec![
                Parsed::Request(args(&[b"SET", b"key", b"value"])),
                Parsed::Incomplete
            ]
        );
        assert_eq!(left, 0);
    }

    #[test]
    fn binary_safe_arguments() {
        let value: &[u8] = b"a\r\nb\0c\xff";
        let input = encode(&[b"SET", b"", value]);
        assert_eq!(
            first(&input, &open()),
            Parsed::Request(args(&[b"SET", b"", value]))
        );
    }

    #[test]
    fn pipelined_requests() {
        let mut input = Vec::new();
        for i in 0..100 {
            input.extend_from_slice(&encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
            input.extend_from_slice(b"PING\r\n");
        }
        let (out, left) = parse_all(&input, &open());
        assert_eq!(out.len(), 201);
        assert_eq!(left, 0);
        for i in 0..100 {
            assert_eq!(
                out[2 * i],
                Parsed::Request(args(&[b"SET", format!("k{i}").as_bytes(), b"v"]))
            );
            assert_eq!(out[2 * i + 1], Parsed::Request(args(&[b"PING"])));
        }
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let cases: Vec<Vec<u8>> = vec![
            [
                encode(&[b"SET", b"a", b"hello world"]),
                b"GET a\r\n".to_vec(),
                encode(&[b"PING"]),
            ]
            .concat(),
            b"*0\r\n*-1\r\n\r\n\n  \r\nset \"a b\" 'c\\'d' \"\\x41\\n\"\n*1\r\n$4\r\nPING\r\n"
                .to_vec(),
            [encode(&[b"ECHO", &[b'x'; 100]]), b"*1\r\n$3\r\nab".to_vec()].concat(),
            b"*2\r\n$3\r\nGET\r\n+3\r\nabc\r\n".to_vec(),
            b"PING\r\nset \"a\"b\r\n".to_vec(),
            b"*1\r\n$4\r\nPINGxy*1\rz$4\r\nPING\r\n".to_vec(),
            b"*1\r\n$4\r\npost\r\n".to_vec(),
        ];
        for input in &cases {
            let whole = parse_split(input, &[], &open());
            for cut in 0..=input.len() {
                assert_eq!(
                    parse_split(input, &[cut], &open()),
                    whole,
                    "cut at {cut} of {input:?}"
                );
            }
            let bytewise: Vec<usize> = (1..input.len()).collect();
            assert_eq!(
                parse_split(input, &bytewise, &open()),
                whole,
                "byte by byte: {input:?}"
            );
        }
    }

    #[test]
    fn partial_progress_is_kept() {
        let input = encode(&[b"SET", b"key", b"value"]);
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&input[..18]); // "*3\r\n$3\r\nSET\r\n$3\r\nk"
        assert_eq!(parser.parse(&mut buf, &open()), Parsed::Incomplete);
        // Finished arguments and headers were consumed; only the partial
        // argument's bytes wait in the buffer.
        assert_eq!(&buf[..], b"k");
        assert_eq!(parser.pending_bytes(), 3);
        buf.extend_from_slice(&input[18..]);
        assert_eq!(
            parser.parse(&mut buf, &open()),
            Parsed::Request(args(&[b"SET", b"key", b"value"]))
        );
    }

    #[test]
    fn empty_and_null_multibulk_are_skipped() {
        let (out, left) = parse_all(b"*0\r\n*-1\r\n*-100\r\nPING\r\n", &open());
        assert_eq!(
            out,
            vec![Parsed::Request(args(&[b"PING"])), Parsed::Incomplete]
        );
        assert_eq!(left, 0);
    }

    #[test]
    fn multibulk_count_errors() {
        let invalid = "ERR Protocol error: invalid multibulk length";
        for input in [
            &b"*x\r\n"[..],
            b"*\r\n",
            b"*+1\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*01\r\n",
            b"*-0\r\n",
            b"*-\r\n",
            b"*2147483648\r\n",
            b"*99999999999999999999\r\n",
            b"*1\n$4\r\n",
        ] {
            assert_eq!(error(input, &open()), invalid, "{input:?}");
        }
        // INT_MAX itself is accepted (and allocates nothing big).
        assert_eq!(first(b"*2147483647\r\n", &open()), Parsed::Incomplete);
        let mut long = b"*1".to_vec();
        long.resize(PROTO_INLINE_MAX_SIZE + 1, b'1');
        assert_eq!(
            error(&long, &open()),
            "ERR Protocol error: too big mbulk count string"
        );
        long.truncate(PROTO_INLINE_MAX_SIZE);
        assert_eq!(first(&long, &open()), Parsed::Incomplete);
    }

    #[test]
    fn bulk_errors() {
        assert_eq!(
            error(b"*1\r\n+4\r\nPING\r\n", &open()),
            "ERR Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            error(b"*1\r\n\r\n", &open()),
            "ERR Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            error(b"*1\r\n\n$4\r\n", &open()),
            "ERR Protocol error: expected '$', got ' '"
        );
        let err = match first(b"*1\r\n\xff\r\n", &open()) {
            Parsed::Error(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err.message_bytes(),
            b"ERR Protocol error: expected '$', got '\xff'".to_vec()
        );
        let invalid = "ERR Protocol error: invalid bulk length";
        for input in [
            &b"*1\r\n$-1\r\n"[..],
            b"*1\r\n$x\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$+3\r\n",
            b"*1\r\n$03\r\n",
            b"*1\r\n$536870913\r\n",
        ] {
            assert_eq!(error(input, &open()), invalid, "{input:?}");
        }
        assert_eq!(first(b"*1\r\n$536870912\r\n", &open()), Parsed::Incomplete);
        let small = ParserLimits {
            proto_max_bulk_len: 10,
            authenticated: true,
        };
        assert_eq!(error(b"*1\r\n$11\r\n", &small), invalid);
        assert_eq!(first(b"*1\r\n$10\r\n", &small), Parsed::Incomplete);
        let mut long = b"*1\r\n$1".to_vec();
        long.resize(4 + PROTO_INLINE_MAX_SIZE + 1, b'1');
        assert_eq!(
            error(&long, &open()),
            "ERR Protocol error: too big bulk count string"
        );
    }

    #[test]
    fn trailing_bytes_are_not_checked() {
        // Redis skips the two bytes after `\r` and after data without looking.
        let (out, _) = parse_all(b"*2\rX$4\r\nPINGxy$2\r?hi!!", &open());
        assert_eq!(out[0], Parsed::Request(args(&[b"PING", b"hi"])));
    }

    #[test]
    fn unauthenticated_limits() {
        let eleven = vec![&b"x"[..]; 11];
        assert_eq!(
            error(&encode(&eleven), &unauthenticated()),
            "ERR Protocol error: unauthenticated multibulk length"
        );
        assert!(matches!(
            first(&encode(&eleven), &open()),
            Parsed::Request(_)
        ));
        let ten = vec![&b"x"[..]; 10];
        assert!(matches!(
            first(&encode(&ten), &unauthenticated()),
            Parsed::Request(_)
        ));

        let big = vec![b'v'; 16385];
        assert_eq!(
            error(&encode(&[b"AUTH", &big]), &unauthenticated()),
            "ERR Protocol error: unauthenticated bulk length"
        );
        assert!(matches!(
            first(&encode(&[b"AUTH", &big]), &open()),
            Parsed::Request(_)
        ));
        assert!(matches!(
            first(&encode(&[b"AUTH", &big[1..]]), &unauthenticated()),
            Parsed::Request(_)
        ));
        // Invalid beats unauthenticated, as in Redis.
        assert_eq!(
            error(b"*x\r\n", &unauthenticated()),
            "ERR Protocol error: invalid multibulk length"
        );
    }

    #[test]
    fn huge_declared_lengths_do_not_allocate() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"*2\r\n$3\r\nSET\r\n$500000000\r\nabc");
        assert_eq!(parser.parse(&mut buf, &open()), Parsed::Incomplete);
        assert!(buf.capacity() <= 256 * 1024, "capacity {}", buf.capacity());

        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2000000000\r\n$3\r\nGET\r\n"[..]);
        assert_eq!(parser.parse(&mut buf, &open()), Parsed::Incomplete);
        assert!(parser.args.capacity() <= ARGV_PREALLOC_MAX);
    }

    #[test]
    fn big_argument_arriving_in_chunks() {
        let value = vec![b'z'; 1_000_000];
        let input = encode(&[b"SET", b"k", &value]);
        let chunks: Vec<usize> = (1..input.len()).step_by(16 * 1024).collect();
        let out = parse_split(&input, &chunks, &open());
        assert_eq!(
            out,
            vec![
                Parsed::Request(args(&[b"SET", b"k", &value])),
                Parsed::Incomplete
            ]
        );
    }

    #[test]
    fn arguments_share_the_read_buffer() {
        let mut buf = BytesMut::from(&encode(&[b"GET", b"key"])[..]);
        let base = buf.as_ptr() as usize;
        let end = base + buf.len();
        let Parsed::Request(parsed) = RequestParser::new().parse(&mut buf, &open()) else {
            panic!("no request");
        };
        for arg in &parsed {
            let at = arg.as_ptr() as usize;
            assert!(at >= base && at < end, "argument was copied");
        }
    }

    #[test]
    fn inline_requests() {
        let (out, left) = parse_all(b"SET a b\r\nGET a\nPING\r\n  \r\n\r\n\nECHO x", &open());
        assert_eq!(
            out,
            vec![
                Parsed::Request(args(&[b"SET", b"a", b"b"])),
                Parsed::Request(args(&[b"GET", b"a"])),
                Parsed::Request(args(&[b"PING"])),
                Parsed::Incomplete,
            ]
        );
        assert_eq!(left, 6);
    }

    #[test]
    fn inline_quoting() {
        // (line, arguments or None for "unbalanced quotes")
        type Case<'a> = (&'a [u8], Option<&'a [&'a [u8]]>);
        let cases: &[Case] = &[
            (b"set \"a b\" 'c\\'d'\r\n", Some(&[b"set", b"a b", b"c'd"])),
            (b"\"\\x41\"\r\n", Some(&[b"A"])),
            (b"\"\\x4\" \"\\xzz\"\n", Some(&[b"x4", b"xzz"])),
            (
                b"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n",
                Some(&[b"\n\r\t\x08\x07\\\"q"]),
            ),
            (b"'a\\nb'\n", Some(&[b"a\\nb"])),
            (b"'it''\n", None),
            (b"set a \"\" ''\n", Some(&[b"set", b"a", b"", b""])),
            (b"a\"b c\"d\n", None),
            (b"a\"b c\" d\n", Some(&[b"ab c", b"d"])),
            (b"\t a \x0b b\x0cc \r\n", Some(&[b"a", b"b\x0cc"])),
            (b"a\x0bb\n", Some(&[b"a\x0bb"])),
            (b"\"\\xff\\x00\"\n", Some(&[b"\xff\x00"])),
            (b"a\r\r\n", Some(&[b"a"])),
            (b"'x'\t\"y\"\x0bz\n", Some(&[b"x", b"y", b"z"])),
        ];
        for &(input, expected) in cases {
            let want = match expected {
                Some(list) => Parsed::Request(args(list)),
                None => Parsed::Error(ProtocolError::UnbalancedQuotes),
            };
            assert_eq!(first(input, &open()), want, "{input:?}");
        }
    }

    #[test]
    fn inline_errors() {
        let unbalanced = "ERR Protocol error: unbalanced quotes in request";
        for input in [
            &b"set \"a\r\n"[..],
            b"set 'a\r\n",
            b"\"a\"b\n",
            b"'a'b\n",
            b"\"a\\\"\n",
            b"\"a\\\n",
        ] {
            assert_eq!(error(input, &open()), unbalanced, "{input:?}");
        }
        let mut long = vec![b'a'; PROTO_INLINE_MAX_SIZE];
        assert_eq!(first(&long, &open()), Parsed::Incomplete);
        long.push(b'a');
        assert_eq!(
            error(&long, &open()),
            "ERR Protocol error: too big inline request"
        );
        // A long line is fine once its newline is there.
        long.extend_from_slice(b" b\n");
        assert!(matches!(first(&long, &open()), Parsed::Request(_)));
    }

    #[test]
    fn nul_hides_the_line_end_like_strchr() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"PI\0NG\r\n"[..]);
        assert_eq!(parser.parse(&mut buf, &open()), Parsed::Incomplete);
        buf.extend_from_slice(&vec![b'x'; PROTO_INLINE_MAX_SIZE]);
        assert_eq!(
            parser.parse(&mut buf, &open()),
            Parsed::Error(ProtocolError::TooBigInlineRequest)
        );

        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$\x004\r\nPING\r\n"[..]);
        assert_eq!(parser.parse(&mut buf, &open()), Parsed::Incomplete);
        buf.extend_from_slice(&vec![b'\r'; PROTO_INLINE_MAX_SIZE]);
        assert_eq!(
            parser.parse(&mut buf, &open()),
            Parsed::Error(ProtocolError::TooBigBulkCount)
        );
    }

    #[test]
    fn post_and_host_close_silently() {
        for input in [
            &b"POST / HTTP/1.1\r\n"[..],
            b"Host: example.com\r\n",
            b"host:\r\n",
            b"pOsT\n",
            b"\"post\\x00x\"\n",
        ] {
            let got = first(input, &open());
            assert_eq!(
                got,
                Parsed::Error(ProtocolError::SecurityAttack),
                "{input:?}"
            );
        }
        assert_eq!(
            first(&encode(&[b"Post", b"x"]), &open()),
            Parsed::Error(ProtocolError::SecurityAttack)
        );
        assert_eq!(
            first(&encode(&[b"HOST:\0junk"]), &open()),
            Parsed::Error(ProtocolError::SecurityAttack)
        );
        assert!(!ProtocolError::SecurityAttack.reply_before_close());
        assert!(ProtocolError::InvalidBulkLength.reply_before_close());
        for input in [&b"POSTS\n"[..], b"host\n", b"GET post\n", b"po\n"] {
            assert!(
                matches!(first(input, &open()), Parsed::Request(_)),
                "{input:?}"
            );
        }
        // Requests before it are still returned.
        let (out, _) = parse_all(b"PING\r\nPOST / HTTP/1.1\r\n", &open());
        assert_eq!(
            out,
            vec![
                Parsed::Request(args(&[b"PING"])),
                Parsed::Error(ProtocolError::SecurityAttack)
            ]
        );
    }

    #[test]
    fn every_error_text() {
        let texts = [
            (
                ProtocolError::TooBigMbulkCount,
                "ERR Protocol error: too big mbulk count string",
            ),
            (
                ProtocolError::InvalidMultibulkLength,
                "ERR Protocol error: invalid multibulk length",
            ),
            (
                ProtocolError::UnauthenticatedMultibulkLength,
                "ERR Protocol error: unauthenticated multibulk length",
            ),
            (
                ProtocolError::ExpectedDollar(b'x'),
                "ERR Protocol error: expected '$', got 'x'",
            ),
            (
                ProtocolError::TooBigBulkCount,
                "ERR Protocol error: too big bulk count string",
            ),
            (
                ProtocolError::InvalidBulkLength,
                "ERR Protocol error: invalid bulk length",
            ),
            (
                ProtocolError::UnauthenticatedBulkLength,
                "ERR Protocol error: unauthenticated bulk length",
            ),
            (
                ProtocolError::TooBigInlineRequest,
                "ERR Protocol error: too big inline request",
            ),
            (
                ProtocolError::UnbalancedQuotes,
                "ERR Protocol error: unbalanced quotes in request",
            ),
        ];
        for (error, text) in texts {
            assert_eq!(error.message(), text);
            assert!(!error.log_reason().is_empty());
        }
        assert!(ProtocolError::SecurityAttack
            .message()
            .starts_with("Possible SECURITY ATTACK detected."));
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"0x1",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn header_fast_agrees_with_string2ll() {
        for text in [
            "0",
            "1",
            "12",
            "00",
            "01",
            "123456789012345678",
            "1234567890123456789",
            "-1",
            "1x",
        ] {
            let line = format!("${text}\r\n");
            if let Some((value, cr)) = header_fast(line.as_bytes()) {
                assert_eq!(Some(value), string2ll(text.as_bytes()), "{text}");
                assert_eq!(cr, text.len() + 1);
            }
        }
        assert_eq!(header_fast(b"$3\r"), None);
        assert_eq!(header_fast(b"$3\r\n"), Some((3, 2)));
    }

    #[test]
    fn find_byte_or_nul_finds_the_first() {
        let mut hay = vec![b'a'; 40];
        for at in 0..40 {
            for needle_first in [true, false] {
                let mut h = hay.clone();
                h[at] = if needle_first { b'\r' } else { 0 };
                if at + 3 < 40 {
                    h[at + 3] = b'\r';
                }
                assert_eq!(find_byte_or_nul(&h, b'\r'), Some(at));
            }
        }
        hay[39] = 0x8d; // \r | 0x80 is not \r
        assert_eq!(find_byte_or_nul(&hay, b'\r'), None);
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic fuzz: random bytes biased towards protocol
        // characters, fed in random pieces.
        let alphabet = b"*$\r\n0123456789-+ \"'\\xab\0PO";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 64) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let whole = parse_split(&input, &[], &unauthenticated());
            let cut = (next() % (len as u64 + 1)) as usize;
            assert_eq!(
                parse_split(&input, &[cut], &unauthenticated()),
                whole,
                "{input:?} cut {cut}"
            );
        }
    }
}
