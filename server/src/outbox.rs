//! A client's queue of frames pushed to it by others: pub/sub messages,
//! keyspace notifications, tracking invalidations, MONITOR lines.
//!
//! Publishers never wait on a subscriber: they append an encoded frame
//! under a short mutex and wake the connection, which writes the frames
//! between its own replies. The queue is bounded by
//! `client-output-buffer-limit` (Redis's `checkClientOutputBufferLimits`):
//! over the hard limit, or over the soft limit for longer than its
//! seconds, the queue is dropped and the client is killed, so a subscriber
//! that stops reading costs at most its limit and never stalls anyone.
//!
//! Delivery acknowledgement: each pushed frame gets a sequence number;
//! the connection acknowledges a frame once it has offered it to the
//! socket (a non-blocking write attempt, as Redis writes its buffers once
//! per event-loop turn). A writer whose command invalidated another
//! client's cache waits for that (briefly, bounded) before its own reply,
//! so a client that sees the writer's reply never reads a stale cached
//! value (see `Hub::await_deliveries`).
//!
//! Invariants:
//! - `bytes` is the sum of the queued frames' lengths plus the bytes the
//!   connection took but has not written yet (`in_flight`);
//! - once `dead`, nothing is queued again.

use crate::config::OutputBufferLimit;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::Notify;

/// Frames waiting for one client.
#[derive(Default)]
pub struct Outbox {
    q: Mutex<Queue>,
    /// Wakes the connection when a frame arrives.
    pub wake: Notify,
    /// Set once the limit was exceeded; the client is being closed.
    dead: AtomicBool,
    /// Highest sequence number offered to the socket.
    acked: AtomicU64,
    /// Wakes writers waiting for `acked`.
    pub acked_notify: Notify,
    /// Frames queued (`frames` plus `deferred`), mirrored out of the lock
    /// so the connection's per-command drain skips the mutex when nothing
    /// was pushed (the common case). Written under the lock.
    queued: AtomicUsize,
    /// `Queue::taken` mirrored out of the lock, for `ack_taken`.
    taken: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// Frames to write before the reply of the command running now, with
    /// their sequence numbers.
    frames: VecDeque<(Bytes, u64)>,
    /// Frames to write after it (invalidations of the client's own writes,
    /// as Redis's `tracking_pending_keys`).
    deferred: VecDeque<(Bytes, u64)>,
    /// Sequence number of the last frame pushed.
    pushed: u64,
    /// Sequence number of the last frame taken by the connection.
    taken: u64,
    bytes: usize,
    in_flight: usize,
    soft_since: Option<Instant>,
}

/// Why a push was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Overflow {
    /// The client just went over its limit and must be closed.
    JustExceeded,
    /// The client was already closing.
    Dead,
}

impl Outbox {
    /// Queues `frame`, checking `limit` (0 fields mean no limit). Returns
    /// the frame's sequence number, or `Err` when the client is (now) over
    /// its limit: the caller kills it.
    pub fn push(
        &self,
        frame: Bytes,
        deferred: bool,
        limit: OutputBufferLimit,
    ) -> Result<u64, Overflow> {
        if self.dead.load(Ordering::Relaxed) {
            return Err(Overflow::Dead);
        }
        let Ok(mut q) = self.q.lock() else {
            return Err(Overflow::Dead);
        };
        q.bytes += frame.len();
        q.pushed += 1;
        let seq = q.pushed;
        if deferred {
            q.deferred.push_back((frame, seq));
        } else {
            q.frames.push_back((frame, seq));
        }
        self.queued.fetch_add(1, Ordering::Release);
        let used = (q.bytes + q.in_flight) as u64;
        if over_limit(&mut q.soft_since, used, limit) {
            self.dead.store(true, Ordering::Relaxed);
            // Free the memory now; the connection closes at its next step.
            let pushed = q.pushed;
            *q = Queue {
                pushed,
                ..Queue::default()
            };
            self.queued.store(0, Ordering::Release);
            drop(q);
            self.acked_notify.notify_waiters();
            return Err(Overflow::JustExceeded);
        }
        drop(q);
        self.wake.notify_one();
        Ok(seq)
    }

    /// The connection offered every frame it took to the socket.
    pub fn ack_taken(&self) {
        let taken = self.taken.load(Ordering::Acquire);
        if taken > self.acked.load(Ordering::Relaxed) {
            self.acked.store(taken, Ordering::Relaxed);
            self.acked_notify.notify_waiters();
        }
    }

    /// Waits until frame `seq` was offered to the socket (or the client is
    /// closing).
    pub async fn wait_acked(&self, seq: u64) {
        loop {
            let n = self.acked_notify.notified();
            if self.acked.load(Ordering::Relaxed) >= seq || self.is_dead() {
                return;
            }
            n.await;
        }
    }

    /// True once the client went over its limit.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// Moves queued frames into `out`, up to about `max` bytes (at least
    /// one frame), front queue first; `deferred` too when asked. The bytes
    /// taken count as in flight until [`Outbox::written`].
    #[inline]
    pub fn drain_into(&self, out: &mut Vec<u8>, max: usize, deferred: bool) -> usize {
        // A frame pushed just after this check is drained on the next call:
        // its push also wakes the connection.
        if self.queued.load(Ordering::Acquire) == 0 {
            return 0;
        }
        self.drain_locked(out, max, deferred)
    }

    /// [`Outbox::drain_into`] when frames are queued.
    #[inline(never)]
    fn drain_locked(&self, out: &mut Vec<u8>, max: usize, deferred: bool) -> usize {
        let Ok(mut q) = self.q.lock() else {
            return 0;
        };
        let mut taken = 0;
        while taken < max {
            let (f, seq) = match q.frames.pop_front() {
                Some(f) => f,
                None if deferred => match q.deferred.pop_front() {
                    Some(f) => f,
                    None => break,
                },
                None => break,
            };
            taken += f.len();
            q.taken = q.taken.max(seq);
            out.extend_from_slice(&f);
        }
        q.bytes -= taken;
        q.in_flight += taken;
        self.queued
            .store(q.frames.len() + q.deferred.len(), Ordering::Release);
        self.taken.store(q.taken, Ordering::Release);
        taken
    }

    /// Moves only the frames queued before the current reply.
    #[inline]
    pub fn drain_front(&self, out: &mut Vec<u8>) -> usize {
        self.drain_into(out, usize::MAX, false)
    }

    /// The connection wrote `n` bytes it had taken.
    pub fn written(&self, n: usize) {
        if n == 0 {
            return;
        }
        if let Ok(mut q) = self.q.lock() {
            q.in_flight = q.in_flight.saturating_sub(n);
        }
    }

    /// True when frames wait.
    pub fn has_frames(&self) -> bool {
        self.q
            .lock()
            .map(|q| !q.frames.is_empty() || !q.deferred.is_empty())
            .unwrap_or(false)
    }

    /// (frames queued, bytes used) for CLIENT LIST's `oll` and `omem`.
    pub fn usage(&self) -> (usize, usize) {
        self.q
            .lock()
            .map(|q| (q.frames.len() + q.deferred.len(), q.bytes + q.in_flight))
            .unwrap_or((0, 0))
    }
}

/// Redis's rule: over the hard limit at once; over the soft limit for
/// more than its seconds (measured from when it was first exceeded).
fn over_limit(soft_since: &mut Option<Instant>, used: u64, limit: OutputBufferLimit) -> bool {
    if limit.hard_bytes > 0 && used >= limit.hard_bytes {
        return true;
    }
    if limit.soft_bytes > 0 && used >= limit.soft_bytes {
        let since = *soft_since.get_or_insert_with(Instant::now);
        return since.elapsed().as_secs() > limit.soft_seconds.max(0) as u64;
    }
    *soft_since = None;
    false
}

/// Process-wide count of clients closed for their output buffer (INFO's
/// `client_output_buffer_limit_disconnections`).
pub static OBUF_DISCONNECTIONS: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(hard: u64, soft: u64, secs: i32) -> OutputBufferLimit {
        OutputBufferLimit {
            hard_bytes: hard,
            soft_bytes: soft,
            soft_seconds: secs,
        }
    }

    #[test]
    fn hard_limit_kills_and_frees() {
        let o = Outbox::default();
        let f = Bytes::from(vec![0u8; 100]);
        for i in 0..9 {
            assert_eq!(o.push(f.clone(), false, lim(1000, 0, 0)), Ok(i + 1));
        }
        assert_eq!(
            o.push(f.clone(), false, lim(1000, 0, 0)),
            Err(Overflow::JustExceeded)
        );
        assert_eq!(o.usage(), (0, 0));
        assert_eq!(o.push(f, false, lim(0, 0, 0)), Err(Overflow::Dead));
    }

    #[test]
    fn soft_limit_needs_time() {
        let o = Outbox::default();
        let f = Bytes::from(vec![0u8; 100]);
        // Over the soft limit, but not for longer than 10 s: kept.
        for _ in 0..20 {
            o.push(f.clone(), false, lim(0, 500, 10)).unwrap();
        }
        let mut since = Some(Instant::now() - std::time::Duration::from_secs(11));
        assert!(over_limit(&mut since, 600, lim(0, 500, 10)));
        assert!(!over_limit(&mut since, 100, lim(0, 500, 10)));
        assert!(since.is_none());
    }

    #[test]
    fn drain_keeps_order_and_deferred_last() {
        let o = Outbox::default();
        let l = lim(0, 0, 0);
        o.push(Bytes::from_static(b"b"), true, l).unwrap();
        o.push(Bytes::from_static(b"a"), false, l).unwrap();
        let mut out = Vec::new();
        o.drain_front(&mut out);
        assert_eq!(out, b"a");
        o.drain_into(&mut out, usize::MAX, true);
        assert_eq!(out, b"ab");
        assert_eq!(o.usage(), (0, 2));
        o.written(2);
        assert_eq!(o.usage(), (0, 0));
    }
}
