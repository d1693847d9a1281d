//! The slow log, the latency monitor and per-error counters: what dispatch
//! records about commands after they run, for SLOWLOG, LATENCY and INFO
//! errorstats. All of it is process-wide and touched only when a command
//! is slow or fails, so a mutex is enough.

use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Arguments kept per entry (the last one says how many were left out).
pub const MAX_ARGC: usize = 32;
/// Bytes kept per argument.
pub const MAX_ARG_LEN: usize = 128;

/// One slow-log entry.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix time in seconds when the command ran.
    pub time: i64,
    /// Duration in microseconds.
    pub duration_us: u64,
    /// The (truncated) arguments.
    pub args: Vec<Bytes>,
    /// The client's address (`ip:port`).
    pub peer: String,
    /// The client's name.
    pub name: String,
}

/// The slow log.
pub struct SlowLog {
    /// slowlog-log-slower-than, in microseconds; negative disables.
    slower_than_us: AtomicI64,
    /// slowlog-max-len.
    max_len: AtomicUsize,
    next_id: AtomicU64,
    /// Newest first.
    entries: Mutex<VecDeque<SlowEntry>>,
}

impl SlowLog {
    /// A slow log with the given thresholds.
    pub fn new(slower_than_us: i64, max_len: usize) -> SlowLog {
        SlowLog {
            slower_than_us: AtomicI64::new(slower_than_us),
            max_len: AtomicUsize::new(max_len),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Applies new settings (CONFIG SET slowlog-*).
    pub fn configure(&self, slower_than_us: i64, max_len: usize) {
        self.slower_than_us.store(slower_than_us, Ordering::Relaxed);
        self.max_len.store(max_len, Ordering::Relaxed);
        let mut e = self.lock();
        e.truncate(max_len);
    }

    /// True when commands may be logged (so dispatch keeps their arguments).
    pub fn enabled(&self) -> bool {
        self.slower_than_us.load(Ordering::Relaxed) >= 0
    }

    /// True when a command that took `us` microseconds is logged.
    pub fn is_slow(&self, us: u64) -> bool {
        let t = self.slower_than_us.load(Ordering::Relaxed);
        t >= 0 && us >= t as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<SlowEntry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a command. `args` holds at most [`MAX_ARGC`] + 1 of the
    /// command's `argc` arguments.
    pub fn record(
        &self,
        args: &[Bytes],
        argc: usize,
        duration_us: u64,
        peer: String,
        name: String,
    ) {
        let max = self.max_len.load(Ordering::Relaxed);
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time: unix_secs(),
            duration_us,
            args: truncate_args(args, argc),
            peer,
            name,
        };
        let mut e = self.lock();
        e.push_front(entry);
        e.truncate(max);
    }

    /// Up to `n` newest entries (`None`: all).
    pub fn get(&self, n: Option<usize>) -> Vec<SlowEntry> {
        let e = self.lock();
        let n = n.unwrap_or(e.len()).min(e.len());
        e.iter().take(n).cloned().collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn reset(&self) {
        self.lock().clear();
    }
}

/// Redis's truncation: at most 32 arguments (the last replaced by a count
/// of the ones left out), each at most 128 bytes plus a note.
pub fn truncate_args(args: &[Bytes], argc: usize) -> Vec<Bytes> {
    let keep = argc.min(MAX_ARGC);
    let mut out = Vec::with_capacity(keep);
    for j in 0..keep {
        if keep != argc && j == keep - 1 {
            out.push(Bytes::from(format!(
                "... ({} more arguments)",
                argc - keep + 1
            )));
        } else if let Some(a) = args.get(j) {
            if a.len() > MAX_ARG_LEN {
                let mut v = a[..MAX_ARG_LEN].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes(),
                );
                out.push(Bytes::from(v));
            } else {
                out.push(a.clone());
            }
        }
    }
    out
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Samples kept per latency event.
pub const LATENCY_SAMPLES: usize = 160;

/// The history of one latency event.
#[derive(Debug, Default, Clone)]
pub struct LatencyEvent {
    /// (unix seconds, milliseconds), oldest first.
    pub samples: VecDeque<(i64, u64)>,
    /// The largest latency seen.
    pub max: u64,
}

/// The latency monitor (LATENCY ...): records events whose latency reaches
/// latency-monitor-threshold; with the threshold at 0 it records nothing.
#[derive(Default)]
pub struct LatencyMonitor {
    threshold_ms: AtomicU64,
    events: Mutex<BTreeMap<String, LatencyEvent>>,
}

impl LatencyMonitor {
    /// A monitor with a threshold in milliseconds (0 = off).
    pub fn new(threshold_ms: u64) -> LatencyMonitor {
        LatencyMonitor {
            threshold_ms: AtomicU64::new(threshold_ms),
            events: Mutex::new(BTreeMap::new()),
        }
    }

    /// Applies a new threshold (CONFIG SET latency-monitor-threshold).
    pub fn configure(&self, threshold_ms: u64) {
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LatencyEvent>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `ms` for `event` if monitoring is on and it reaches the
    /// threshold. Samples in the same second keep the largest.
    pub fn record(&self, event: &str, ms: u64) {
        let t = self.threshold_ms.load(Ordering::Relaxed);
        if t == 0 || ms < t {
            return;
        }
        let now = unix_secs();
        let mut events = self.lock();
        let ev = events.entry(event.to_string()).or_default();
        ev.max = ev.max.max(ms);
        if let Some(last) = ev.samples.back_mut() {
            if last.0 == now {
                last.1 = last.1.max(ms);
                return;
            }
        }
        ev.samples.push_back((now, ms));
        if ev.samples.len() > LATENCY_SAMPLES {
            ev.samples.pop_front();
        }
    }

    /// Every event, by name.
    pub fn events(&self) -> BTreeMap<String, LatencyEvent> {
        self.lock().clone()
    }

    /// Resets the named events (all when empty); returns how many existed.
    pub fn reset(&self, names: &[Bytes]) -> usize {
        let mut events = self.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            if events.remove(&*String::from_utf8_lossy(name)).is_some() {
                n += 1;
            }
        }
        n
    }
}

/// Most distinct error codes INFO errorstats tracks (Redis's limit).
pub const MAX_ERROR_CODES: usize = 128;

/// Error replies counted by their code (the first word: `ERR`, `WRONGTYPE`).
#[derive(Default)]
pub struct ErrorStats {
    by_code: Mutex<HashMap<String, u64>>,
}

impl ErrorStats {
    /// Counts one error reply.
    pub fn count(&self, text: &str) {
        let code = text.split(' ').next().unwrap_or("");
        let mut m = self.by_code.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(code) {
            *n += 1;
        } else if m.len() < MAX_ERROR_CODES {
            m.insert(code.to_string(), 1);
        }
    }

    /// The counts, sorted by code.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        let m = self.by_code.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Forgets every count (CONFIG RESETSTAT).
    pub fn reset(&self) {
        self.by_code
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_like_redis() {
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        let t = truncate_args(&args, 40);
        assert_eq!(t.len(), 32);
        assert_eq!(&t[31][..], b"... (9 more arguments)");
        assert_eq!(&t[30][..], b"a30");
        let long = vec![Bytes::from(vec![b'x'; 130])];
        let t = truncate_args(&long, 1);
        assert_eq!(t[0].len(), 128 + "... (2 more bytes)".len());
    }

    #[test]
    fn slowlog_keeps_newest_first_and_caps() {
        let s = SlowLog::new(0, 2);
        for i in 0..3 {
            s.record(&[Bytes::from(format!("c{i}"))], 1, 5, "p".into(), "".into());
        }
        let e = s.get(None);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].id, 2);
        assert_eq!(&e[0].args[0][..], b"c2");
        assert!(s.is_slow(0));
        s.configure(-1, 2);
        assert!(!s.is_slow(1_000_000));
    }

    #[test]
    fn latency_off_at_zero() {
        let l = LatencyMonitor::new(0);
        l.record("command", 1000);
        assert!(l.events().is_empty());
        l.configure(10);
        l.record("command", 5);
        l.record("command", 20);
        l.record("command", 30);
        let ev = l.events();
        assert_eq!(ev["command"].max, 30);
        assert_eq!(ev["command"].samples.len(), 1);
        assert_eq!(l.reset(&[]), 1);
    }
}
