//! CLIENT PAUSE: a process-wide pause that makes clients' commands wait
//! (all of them, or only those that may write) until a deadline or CLIENT
//! UNPAUSE. Dispatch checks it before running a command; the check is one
//! relaxed atomic load when nothing is paused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::Notify;

/// What a pause holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseMode {
    /// Commands that may write or replicate.
    Write,
    /// Every command.
    All,
}

/// The pause state shared by all workers.
#[derive(Default)]
pub struct PauseState {
    /// Fast check: true while a pause may be in force.
    active: AtomicBool,
    /// The mode and deadline of the pause in force.
    inner: Mutex<Option<(PauseMode, Instant)>>,
    /// Wakes waiters on UNPAUSE or when a pause changes.
    changed: Notify,
}

impl PauseState {
    /// Starts or extends a pause: the later deadline and the stricter mode
    /// win, as Redis does when pauses overlap.
    pub fn pause(&self, mode: PauseMode, until: Instant) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let next = match *g {
            Some((m, end)) if end > Instant::now() => (m.max(mode), end.max(until)),
            _ => (mode, until),
        };
        *g = Some(next);
        self.active.store(true, Ordering::Release);
        drop(g);
        self.changed.notify_waiters();
    }

    /// Ends any pause now.
    pub fn unpause(&self) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g = None;
        self.active.store(false, Ordering::Release);
        drop(g);
        self.changed.notify_waiters();
    }

    /// The pause in force for a command (`writes`: whether it may write),
    /// as its deadline; `None` when it may run.
    fn holds(&self, writes: bool) -> Option<Instant> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match *g {
            Some((_, end)) if end <= Instant::now() => {
                *g = None;
                self.active.store(false, Ordering::Release);
                None
            }
            Some((PauseMode::All, end)) => Some(end),
            Some((PauseMode::Write, end)) if writes => Some(end),
            _ => None,
        }
    }

    /// False when no pause was set since the last one ended: the per-request
    /// check that skips [`Pause::wait`].
    pub fn maybe_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// True if any pause is in force (for INFO and tests).
    pub fn is_paused(&self) -> bool {
        self.holds(true).is_some()
    }

    /// Waits while a pause holds back a command.
    pub async fn wait(&self, writes: bool) {
        while let Some(end) = self.holds(writes) {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // Re-check after registering, so an UNPAUSE in between is seen.
            if self.holds(writes).is_none() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(end.into()) => {}
                _ = changed => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn write_pause_holds_only_writes() {
        let p = PauseState::default();
        p.pause(PauseMode::Write, Instant::now() + Duration::from_secs(10));
        assert!(p.holds(true).is_some());
        assert!(p.holds(false).is_none());
        p.pause(PauseMode::All, Instant::now() + Duration::from_secs(1));
        assert!(p.holds(false).is_some());
        p.unpause();
        assert!(p.holds(true).is_none());
    }

    #[test]
    fn pause_expires() {
        let p = PauseState::default();
        p.pause(PauseMode::All, Instant::now());
        assert!(p.holds(false).is_none());
        assert!(!p.is_paused());
    }
}
