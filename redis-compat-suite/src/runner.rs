//! Running the steps of one case file against both servers and judging each
//! pair of replies.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::case::{scan_cursor_index, Action, Modifiers, Step};
use crate::compare::{in_range, normalize, shape};
use crate::resp::{self, encode_command, ReadError, Reply};

/// How long a command may take to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// A run stops after the server under test has timed out this often, to keep
/// a hanging server from eating the CI budget.
const MAX_TIMEOUTS: usize = 3;
/// `@raw`: how long to wait for the first byte of an answer.
const RAW_FIRST_BYTE: Duration = Duration::from_millis(1000);
/// `@raw`: the reference's answer is complete once its connection is quiet
/// this long (Redis writes all replies to one read in one go).
const RAW_QUIET: Duration = Duration::from_millis(25);
/// `@raw`: how long the server under test may send more than the reference.
const RAW_EXTRA: Duration = Duration::from_millis(5);
/// `@raw`: pause between the parts of a split frame.
const RAW_PART_PAUSE: Duration = Duration::from_millis(20);
/// `@scan-all` gives up after this many calls.
const MAX_SCAN_CALLS: usize = 100_000;

/// What one run is: a case file, in one RESP version, against one shard
/// count.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Case file name, for reports.
    pub file: String,
    pub shards: usize,
    /// 2 or 3.
    pub resp: u8,
    /// The server under test is a Redis 7.0 itself (harness self-test):
    /// an `@expect` line then checks that the reference's reply differs from
    /// the stated 7.4 reply, i.e. that the known difference is real.
    pub expect_from_reference: bool,
    /// Print every step with the reference's reply (`COMPAT_TRACE=1`), to
    /// review what a case file really exercises.
    pub trace: bool,
}

/// The tally of a run.
#[derive(Debug, Default)]
pub struct Outcome {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    /// One readable report per mismatch.
    pub reports: Vec<String>,
}

impl Outcome {
    pub fn absorb(&mut self, other: Outcome) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.reports.extend(other.reports);
    }
}

/// How a read ended.
#[derive(Clone, Debug, PartialEq)]
enum End {
    /// All expected replies arrived; the connection is usable.
    Open,
    Closed,
    Timeout,
    Broken(String),
}

/// Everything one server answered to one step.
#[derive(Clone, Debug, PartialEq)]
struct Got {
    replies: Vec<Reply>,
    /// Bytes after the last complete reply (`@raw` only).
    tail: Vec<u8>,
    end: End,
}

impl Got {
    fn one(r: Reply) -> Got {
        Got {
            replies: vec![r],
            tail: Vec::new(),
            end: End::Open,
        }
    }

    fn failed(end: End) -> Got {
        Got {
            replies: Vec::new(),
            tail: Vec::new(),
            end,
        }
    }

    fn describe(&self, indent: usize) -> String {
        let mut parts: Vec<String> = self.replies.iter().map(|r| r.pretty(indent, 100)).collect();
        if !self.tail.is_empty() {
            parts.push(format!("<incomplete: {}>", resp::quote(&self.tail)));
        }
        match &self.end {
            End::Open if parts.is_empty() => parts.push("<no reply>".into()),
            End::Open => {}
            End::Closed => parts.push("<connection closed>".into()),
            End::Timeout => parts.push(format!(
                "<no reply within {} ms>",
                REPLY_TIMEOUT.as_millis()
            )),
            End::Broken(e) => parts.push(format!("<{e}>")),
        }
        parts.join(&format!("\n{}", " ".repeat(indent)))
    }
}

fn end_of(e: ReadError) -> End {
    match e {
        ReadError::Closed => End::Closed,
        ReadError::Timeout => End::Timeout,
        other => End::Broken(other.to_string()),
    }
}

/// One client connection to one server.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr, resp: u8) -> Result<Conn, String> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut conn = Conn {
            reader: BufReader::new(stream),
        };
        if resp == 3 {
            conn.send(&[b"HELLO".to_vec(), b"3".to_vec()]);
            match resp::read_reply(&mut conn.reader) {
                Ok(Reply::Map(_)) => {}
                Ok(other) => return Err(format!("HELLO 3 answered {}", other.notation())),
                Err(e) => return Err(format!("HELLO 3: {e}")),
            }
        }
        Ok(conn)
    }

    /// Write errors show up as a closed connection on the following read.
    fn send(&mut self, args: &[Vec<u8>]) {
        let _ = self.reader.get_mut().write_all(&encode_command(args));
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.reader.get_mut().write_all(bytes);
    }

    fn read(&mut self, n: usize) -> Got {
        let mut got = Got::failed(End::Open);
        for _ in 0..n {
            match resp::read_reply(&mut self.reader) {
                Ok(r) => got.replies.push(r),
                Err(e) => {
                    got.end = end_of(e);
                    break;
                }
            }
        }
        got
    }

    /// Reads what comes back after raw bytes, until `stop` says the answer
    /// is complete or the server closes the connection.
    fn read_raw(&mut self, stop: RawStop) -> Got {
        let mut buf = self.reader.buffer().to_vec();
        let buffered = buf.len();
        self.reader.consume(buffered);
        let stream = self.reader.get_mut();
        let mut end = End::Open;
        let mut chunk = [0u8; 16 * 1024];
        let deadline = Instant::now()
            + match stop {
                RawStop::Quiet => REPLY_TIMEOUT,
                // The reference has answered already: a reply missing after
                // a second is missing.
                RawStop::Like { .. } => RAW_FIRST_BYTE,
            };
        loop {
            let (replies, tail) = resp::parse_all(&buf);
            let complete = replies.len();
            let left = deadline.saturating_duration_since(Instant::now());
            let wait = match stop {
                RawStop::Quiet if buf.is_empty() => RAW_FIRST_BYTE,
                // Half a reply: the rest is surely coming.
                RawStop::Quiet if !tail.is_empty() => left,
                RawStop::Quiet => RAW_QUIET,
                // Enough replies: only a close (or stray extra bytes) may follow.
                RawStop::Like { replies, closed } if complete >= replies => {
                    if closed {
                        left
                    } else {
                        RAW_EXTRA
                    }
                }
                RawStop::Like { .. } => left,
            };
            if wait.is_zero() {
                break;
            }
            let _ = stream.set_read_timeout(Some(wait));
            match stream.read(&mut chunk) {
                Ok(0) => {
                    end = End::Closed;
                    break;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => match end_of(ReadError::from(e)) {
                    End::Timeout => break,
                    other => {
                        end = other;
                        break;
                    }
                },
            }
        }
        let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
        let (replies, tail) = resp::parse_all(&buf);
        Got { replies, tail, end }
    }
}

/// When the answer to `@raw` bytes is complete.
#[derive(Clone, Copy)]
enum RawStop {
    /// When the connection has been quiet for a moment (the reference).
    Quiet,
    /// When as many replies as the reference sent have arrived, and the
    /// connection is closed if the reference's was (the server under test).
    Like { replies: usize, closed: bool },
}

/// The same client connection on both servers, plus the commands sent with
/// `@async` whose replies are still to be read.
struct Pair {
    magpie: Conn,
    reference: Conn,
    pending: VecDeque<(usize, String, Modifiers)>,
    /// CLIENT ID of this connection on (magpie, reference), asked the
    /// first time a `$CLIENTID:N` argument names it.
    ids: Option<(Vec<u8>, Vec<u8>)>,
}

/// The argument prefix replaced by a connection's CLIENT ID on each server
/// (`CLIENT TRACKING ON REDIRECT $CLIENTID:2`): ids differ between the two.
const CLIENT_ID_ARG: &[u8] = b"$CLIENTID:";

/// A command's arguments.
type Args = Vec<Vec<u8>>;

struct Run<'a> {
    cfg: &'a RunConfig,
    magpie_addr: SocketAddr,
    reference_addr: SocketAddr,
    conns: HashMap<usize, Pair>,
    current: usize,
    out: Outcome,
    /// Replies the server under test failed to give in time (each costs
    /// [`REPLY_TIMEOUT`]; after [`MAX_TIMEOUTS`] the run stops).
    magpie_timeouts: usize,
}

/// Runs `steps` against both servers on fresh connections, after FLUSHALL on
/// both.
pub fn run_steps(
    steps: &[Step],
    magpie: SocketAddr,
    reference: SocketAddr,
    cfg: &RunConfig,
) -> Outcome {
    let mut run = Run {
        cfg,
        magpie_addr: magpie,
        reference_addr: reference,
        conns: HashMap::new(),
        current: 1,
        out: Outcome::default(),
        magpie_timeouts: 0,
    };
    if let Err(e) = run.flushall() {
        // Go on: on fresh servers the first run starts empty anyway, and
        // the rest of the file still says what works.
        run.fail_setup(&format!("{e} (continuing without it)"));
    }
    for step in steps {
        if run.magpie_timeouts >= MAX_TIMEOUTS {
            run.fail_setup(&format!(
                "the server under test timed out {MAX_TIMEOUTS} times; the rest of this run (from line {}) is skipped",
                step.line
            ));
            break;
        }
        if let Err(e) = run.step(step) {
            run.fail_setup(&format!(
                "line {}: {e}; the rest of this run is skipped",
                step.line
            ));
            break;
        }
    }
    run.out
}

impl Run<'_> {
    fn header(&self, line: usize, text: &str) -> String {
        format!(
            "{}:{} [shards={} RESP{}] {}",
            self.cfg.file, line, self.cfg.shards, self.cfg.resp, text
        )
    }

    fn fail_setup(&mut self, msg: &str) {
        self.out.failed += 1;
        self.out.reports.push(format!(
            "{} [shards={} RESP{}] {msg}",
            self.cfg.file, self.cfg.shards, self.cfg.resp
        ));
    }

    fn flushall(&mut self) -> Result<(), String> {
        for (name, addr) in [
            ("magpie", self.magpie_addr),
            ("reference", self.reference_addr),
        ] {
            let mut c = Conn::open(addr, 2).map_err(|e| format!("{name}: {e}"))?;
            c.send(&[b"FLUSHALL".to_vec()]);
            let got = c.read(1);
            if got.replies != [Reply::Simple(b"OK".to_vec())] {
                return Err(format!("{name}: FLUSHALL answered {}", got.describe(0)));
            }
        }
        Ok(())
    }

    fn pair(&mut self) -> Result<&mut Pair, String> {
        if !self.conns.contains_key(&self.current) {
            let pair = Pair {
                magpie: Conn::open(self.magpie_addr, self.cfg.resp)
                    .map_err(|e| format!("magpie: {e}"))?,
                reference: Conn::open(self.reference_addr, self.cfg.resp)
                    .map_err(|e| format!("reference: {e}"))?,
                pending: VecDeque::new(),
                ids: None,
            };
            self.conns.insert(self.current, pair);
        }
        self.conns
            .get_mut(&self.current)
            .ok_or_else(|| "connection vanished".to_string())
    }

    /// After a connection was closed or lost sync on either side, both sides
    /// start over with a fresh one.
    fn drop_if_broken(&mut self, m: &Got, r: &Got) {
        if m.end != End::Open || r.end != End::Open {
            self.conns.remove(&self.current);
        }
        if m.end == End::Timeout && r.end != End::Timeout {
            self.magpie_timeouts += 1;
        }
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        match &step.action {
            Action::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Action::Conn(n) => self.current = *n,
            Action::Raw(parts) => {
                let pair = self.pair()?;
                for (i, bytes) in parts.iter().enumerate() {
                    if i > 0 {
                        std::thread::sleep(RAW_PART_PAUSE);
                    }
                    pair.magpie.send_raw(bytes);
                    pair.reference.send_raw(bytes);
                }
                // The reference says how many replies to wait for.
                let r = pair.reference.read_raw(RawStop::Quiet);
                let m = pair.magpie.read_raw(RawStop::Like {
                    replies: r.replies.len(),
                    closed: r.end == End::Closed,
                });
                self.drop_if_broken(&m, &r);
                if m != r {
                    // A reply may still be on its way: start over in sync.
                    self.conns.remove(&self.current);
                }
                self.judge(step.line, &step.text, &Modifiers::default(), m, r);
            }
            Action::Await => {
                let pair = self.pair()?;
                let (line, text, mods) = pair.pending.pop_front().unwrap_or_else(|| {
                    (
                        step.line,
                        "(a pushed reply)".to_string(),
                        Modifiers {
                            replies: 1,
                            ..Modifiers::default()
                        },
                    )
                });
                let m = pair.magpie.read(mods.replies);
                let r = pair.reference.read(mods.replies);
                self.drop_if_broken(&m, &r);
                let text = format!("@await: reply to line {line}: {text}");
                self.judge(step.line, &text, &mods, m, r);
            }
            Action::Command { args, mods } => {
                if mods.only_resp.is_some_and(|v| v != self.cfg.resp) {
                    return Ok(());
                }
                let pair = self.pair()?;
                if mods.scan_all {
                    let m = scan_all(&mut pair.magpie, args);
                    let r = scan_all(&mut pair.reference, args);
                    self.drop_if_broken(&m, &r);
                    self.judge(step.line, &step.text, mods, m, r);
                    return Ok(());
                }
                let (m_args, r_args) = self.substitute_ids(args)?;
                let pair = self.pair()?;
                pair.magpie.send(&m_args);
                pair.reference.send(&r_args);
                if mods.noreply {
                    return Ok(());
                }
                if mods.send_async {
                    pair.pending
                        .push_back((step.line, step.text.clone(), mods.clone()));
                    return Ok(());
                }
                let m = pair.magpie.read(mods.replies);
                let r = pair.reference.read(mods.replies);
                self.drop_if_broken(&m, &r);
                self.judge(step.line, &step.text, mods, m, r);
            }
        }
        Ok(())
    }

    /// The command's arguments for (magpie, reference), with each
    /// `$CLIENTID:N` replaced by connection N's id on that server. The id is
    /// asked with CLIENT ID the first time, so connection N must not be a
    /// RESP2 subscriber then.
    fn substitute_ids(&mut self, args: &[Vec<u8>]) -> Result<(Args, Args), String> {
        let mut m = args.to_vec();
        let mut r = args.to_vec();
        for (i, a) in args.iter().enumerate() {
            let Some(n) = a.strip_prefix(CLIENT_ID_ARG) else {
                continue;
            };
            let n: usize = std::str::from_utf8(n)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| "bad $CLIENTID:N argument".to_string())?;
            let saved = self.current;
            self.current = n;
            let ids = self.client_ids();
            self.current = saved;
            let (mid, rid) = ids?;
            m[i] = mid;
            r[i] = rid;
        }
        Ok((m, r))
    }

    fn client_ids(&mut self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let pair = self.pair()?;
        if let Some(ids) = &pair.ids {
            return Ok(ids.clone());
        }
        let ask = |c: &mut Conn| -> Result<Vec<u8>, String> {
            c.send(&[b"CLIENT".to_vec(), b"ID".to_vec()]);
            match c.read(1).replies.first() {
                Some(Reply::Integer(n)) => Ok(n.to_string().into_bytes()),
                other => Err(format!("CLIENT ID answered {other:?}")),
            }
        };
        let ids = (ask(&mut pair.magpie)?, ask(&mut pair.reference)?);
        pair.ids = Some(ids.clone());
        Ok(ids)
    }

    fn judge(&mut self, line: usize, text: &str, mods: &Modifiers, m: Got, r: Got) {
        if self.cfg.trace {
            let _ = writeln!(
                std::io::stderr(),
                "{}\n    => {}",
                self.header(line, text),
                r.describe(7)
            );
        }
        if mods.ignore {
            self.out.ignored += 1;
            return;
        }
        let norm = |g: Got| Got {
            replies: g.replies.into_iter().map(|x| normalize(x, mods)).collect(),
            ..g
        };
        let (m, r) = (norm(m), norm(r));
        let mut note = String::new();
        let ok = match &mods.expect {
            Some((row, expected)) => {
                let expected = Got::one(normalize(expected.clone(), mods));
                note = format!(
                    "\n    expected ({row}, Redis 7.4): {}",
                    expected.describe(33 + row.len())
                );
                if self.cfg.expect_from_reference {
                    // Self-test: the server under test is a 7.0 too, so the
                    // check is that the documented difference is real.
                    note.push_str(
                        "\n    (self-test: the reference must differ from the expected reply)",
                    );
                    r != expected
                } else {
                    m == expected
                }
            }
            _ if mods.type_only => {
                let shaped = |g: &Got| Got {
                    replies: g.replies.iter().map(shape).collect(),
                    ..g.clone()
                };
                note = "\n    (compared by type and shape only)".into();
                shaped(&m) == shaped(&r)
            }
            _ => match mods.range {
                Some((lo, hi)) => {
                    note = format!("\n    (both must be integers in {lo}..={hi})");
                    let fits = |g: &Got| {
                        g.end == End::Open
                            && !g.replies.is_empty()
                            && g.replies.iter().all(|x| in_range(x, lo, hi))
                    };
                    // Non-integer replies (errors) must match exactly.
                    (fits(&m) && fits(&r))
                        || (m == r
                            && !fits(&m)
                            && !m.replies.iter().any(|x| matches!(x, Reply::Integer(_))))
                }
                None => m == r,
            },
        };
        if ok {
            self.out.passed += 1;
        } else {
            self.out.failed += 1;
            self.out.reports.push(format!(
                "{}\n    magpie:    {}\n    reference: {}{note}",
                self.header(line, text),
                m.describe(15),
                r.describe(15)
            ));
        }
    }
}

/// `@scan-all`: calls the SCAN-family command from cursor 0 until the
/// cursor is 0 again; the result is the set of elements seen (pairs for
/// HSCAN and ZSCAN), or the first reply that is not a scan page.
fn scan_all(conn: &mut Conn, args: &[Vec<u8>]) -> Got {
    let Some(idx) = scan_cursor_index(args) else {
        return Got::failed(End::Broken("not a SCAN command".into()));
    };
    let name = args[0].to_ascii_lowercase();
    let chunk = if name == b"hscan" || name == b"zscan" {
        2
    } else {
        1
    };
    let mut args = args.to_vec();
    args[idx] = b"0".to_vec();
    let mut seen: BTreeSet<Vec<Reply>> = BTreeSet::new();
    for _ in 0..MAX_SCAN_CALLS {
        conn.send(&args);
        let got = conn.read(1);
        if got.end != End::Open {
            return got;
        }
        let page = match got.replies.first() {
            Some(Reply::Array(page)) => page,
            _ => return got,
        };
        let (cursor, items) = match page.as_slice() {
            [Reply::Bulk(c), Reply::Array(items)] => (c.clone(), items),
            _ => return got,
        };
        for group in items.chunks(chunk) {
            seen.insert(group.to_vec());
        }
        if cursor == b"0" {
            return Got::one(Reply::Array(seen.into_iter().flatten().collect()));
        }
        args[idx] = cursor;
    }
    Got::failed(End::Broken(format!(
        "cursor not back to 0 after {MAX_SCAN_CALLS} calls"
    )))
}
