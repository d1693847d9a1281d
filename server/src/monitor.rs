//! MONITOR: clients that receive every command the server runs, one
//! status line each, in Redis's format
//! (`+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`).
//!
//! Dispatch feeds a command after it ran (Redis's `call()` order) unless its
//! row is `admin` or `skip_monitor`; the check costs one atomic load while
//! nobody monitors. Lines go through each monitor's outbox, so a slow
//! monitor is bounded by `client-output-buffer-limit` like any client.

use crate::clients::ClientInfo;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The clients in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    list: Mutex<Vec<Arc<ClientInfo>>>,
    count: AtomicUsize,
}

impl Monitors {
    /// True when at least one client monitors.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Adds a monitor (idempotent).
    pub fn add(&self, c: &Arc<ClientInfo>) {
        if let Ok(mut l) = self.list.lock() {
            if !l.iter().any(|m| m.id == c.id) {
                l.push(c.clone());
                self.count.store(l.len(), Ordering::Relaxed);
            }
        }
    }

    /// Removes client `id` (it disconnected or ran RESET).
    pub fn remove(&self, id: u64) {
        if let Ok(mut l) = self.list.lock() {
            l.retain(|m| m.id != id);
            self.count.store(l.len(), Ordering::Relaxed);
        }
    }

    /// Sends one command to every monitor: `db` and `source` (the client's
    /// address, or `lua`) as Redis prints them.
    pub fn feed(&self, hub: &crate::pubsub::Hub, db: usize, source: &str, argv: &[Bytes]) {
        let line = format_line(unix_micros(), db, source, argv);
        let frame = Bytes::from(line);
        let list = match self.list.lock() {
            Ok(l) => l.clone(),
            Err(_) => return,
        };
        for m in &list {
            hub.deliver(m, &frame, &frame, false);
        }
    }
}

/// The arguments MONITOR shows: passwords replaced by `(redacted)`, as
/// Redis's `redactClientCommandArgument` does for AUTH and HELLO AUTH.
pub fn redacted(name: &str, argv: &[Bytes]) -> Vec<Bytes> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    let mut out = argv.to_vec();
    match name {
        "auth" => {
            for a in out.iter_mut().skip(1) {
                *a = HIDDEN;
            }
        }
        "hello" => {
            let mut i = 2;
            while i < out.len() {
                if out[i].eq_ignore_ascii_case(b"auth") && i + 2 < out.len() {
                    out[i + 1] = HIDDEN;
                    out[i + 2] = HIDDEN;
                    i += 3;
                } else {
                    i += 1;
                }
            }
        }
        _ => {}
    }
    out
}

fn unix_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// One MONITOR status line, CRLF included.
pub fn format_line(micros: u128, db: usize, source: &str, argv: &[Bytes]) -> Vec<u8> {
    let mut out = format!(
        "+{}.{:06} [{} {}]",
        micros / 1_000_000,
        micros % 1_000_000,
        db,
        source
    )
    .into_bytes();
    for a in argv {
        out.push(b' ');
        repr(a, &mut out);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Redis's `sdscatrepr`: a quoted, escaped argument.
pub fn repr(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        let b = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            redacted("auth", &b(&["AUTH", "u", "p"])),
            b(&["AUTH", "(redacted)", "(redacted)"])
        );
        assert_eq!(
            redacted(
                "hello",
                &b(&["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"])
            ),
            b(&[
                "HELLO",
                "3",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "SETNAME",
                "n"
            ])
        );
        assert_eq!(redacted("get", &b(&["GET", "k"])), b(&["GET", "k"]));
    }

    #[test]
    fn line_matches_redis_format() {
        let argv = vec![
            Bytes::from_static(b"set"),
            Bytes::from_static(b"k"),
            Bytes::from_static(b"a \"b\"\n\x01"),
        ];
        let l = format_line(1_339_518_083_107_412, 0, "127.0.0.1:60866", &argv);
        assert_eq!(
            String::from_utf8(l).unwrap(),
            "+1339518083.107412 [0 127.0.0.1:60866] \"set\" \"k\" \"a \\\"b\\\"\\n\\x01\"\r\n"
        );
    }
}
