//! Keyspace notifications and the one "key modified" signal.
//!
//! Write handlers call [`ShardCtx::notify`] with Redis's class and event
//! name (`ctx.notify(GENERIC, "del", key)`), exactly where Redis calls
//! `notifyKeyspaceEvent` + `signalModifiedKey`. `notify` is both:
//! - [`ShardCtx::key_modified`], the single modified-key signal: client
//!   tracking invalidates there, and WATCH hooks in there (one place);
//! - [`ShardCtx::event`], the keyspace event, published on
//!   `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` when
//!   `notify-keyspace-events` selects its class. Off, it costs one load
//!   and one branch.
//!
//! Storage knows nothing of this: it logs `new` keys, expired keys and
//! expired hash fields in `Db::events` while [`wanted`] says someone
//! listens, and [`with_ctx`] drains the log after every command (and
//! `notify` drains it before its own event, so `new` and `expired`
//! come first, as in Redis).

use crate::command::ShardCtx;
use crate::config::notify::*;
use crate::pubsub::Hub;
use crate::worker::ShardEnv;
use std::sync::atomic::Ordering;
use storage::{KeyEvent, Shard};

impl ShardCtx<'_> {
    /// A write to `key`: the modified-key signal, then the keyspace event
    /// `event` of class `class` (Redis's `signalModifiedKey` +
    /// `notifyKeyspaceEvent`).
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        self.flush_logged();
        self.key_modified(key);
        self.event(class, event, key);
    }

    /// Emits what storage logged so far (`new`, `expired`...), so those
    /// come before the command's own event, as in Redis.
    #[inline]
    fn flush_logged(&mut self) {
        if self.shard.dbs.first().is_some_and(|d| d.log_events) {
            drain_logged(self.shard, self.hub, self.client);
        }
    }

    /// The modified-key signal alone (a change Redis reports with no
    /// event). This is the one place every key modification passes:
    /// tracking invalidation, and the shard's modified-key log that marks
    /// WATCHers dirty (Redis's `signalModifiedKey` -> `touchWatchedKey`).
    #[inline]
    pub fn key_modified(&mut self, key: &[u8]) {
        self.key_modified_in(self.db, key);
    }

    /// The modified-key signal for a key of database `db` (COPY and MOVE
    /// to another database).
    #[inline]
    pub fn key_modified_in(&mut self, db: usize, key: &[u8]) {
        if self.shard.log_modified {
            // WATCH: drained by `watch::touch_logged` after the step.
            self.shard
                .modified
                .push((db, bytes::Bytes::copy_from_slice(key)));
        }
        key_modified(self.hub, key, self.client);
    }

    /// The keyspace event alone (`new`, or an event without a change).
    #[inline]
    pub fn event(&mut self, class: u32, event: &str, key: &[u8]) {
        self.flush_logged();
        publish_event(self.hub, class, event, key, self.db);
    }

    /// A keyspace event in database `db` (MOVE's `move_to`, COPY's
    /// `copy_to` with DB).
    pub fn event_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        self.flush_logged();
        publish_event(self.hub, class, event, key, db);
    }

    /// True when events of `class` are published (skip building costly
    /// event arguments otherwise).
    pub fn wants(&self, class: u32) -> bool {
        self.hub.notify_flags.load(Ordering::Relaxed) & class != 0
    }
}

/// The modified-key signal (see the module doc). `client` is the client
/// running the command (0: none).
#[inline]
pub fn key_modified(hub: &Hub, key: &[u8], client: u64) {
    if hub.tracking.active() {
        hub.tracking.invalidate(hub, key, client, client);
    }
}

/// Redis's `notifyKeyspaceEvent`.
#[inline]
pub fn publish_event(hub: &Hub, class: u32, event: &str, key: &[u8], db: usize) {
    let flags = hub.notify_flags.load(Ordering::Relaxed);
    if flags & class == 0 || hub.is_quiet() {
        return;
    }
    publish_event_now(hub, flags, event, key, db);
}

/// [`publish_event`] once a subscriber may want it (kept out of line: the
/// check above runs for every write).
#[inline(never)]
fn publish_event_now(hub: &Hub, flags: u32, event: &str, key: &[u8], db: usize) {
    if flags & KEYSPACE != 0 {
        let mut chan = format!("__keyspace@{db}__:").into_bytes();
        chan.extend_from_slice(key);
        hub.publish(false, &chan, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let chan = format!("__keyevent@{db}__:{event}");
        hub.publish(false, chan.as_bytes(), key);
    }
}

/// True when storage must log key events: a keyspace class is on or some
/// client tracks keys.
pub fn wanted(hub: &Hub) -> bool {
    hub.notify_flags.load(Ordering::Relaxed) != 0 || hub.tracking.active()
}

/// Turns storage's event log on or off to match [`wanted`].
pub fn sync_logging(shard: &mut Shard, hub: &Hub) -> bool {
    let want = wanted(hub);
    if shard.dbs.first().is_some_and(|d| d.log_events != want) {
        for d in &mut shard.dbs {
            d.log_events = want;
            if !want {
                d.events.clear();
            }
        }
    }
    want
}

/// Emits what storage logged: `new`, `expired`, `hexpired` (and `del`
/// for a hash emptied by field expiry).
pub fn drain_logged(shard: &mut Shard, hub: &Hub, client: u64) {
    for (dbi, d) in shard.dbs.iter_mut().enumerate() {
        if d.events.is_empty() {
            continue;
        }
        for (kind, key) in std::mem::take(&mut d.events) {
            match kind {
                KeyEvent::New => publish_event(hub, NEW, "new", &key, dbi),
                KeyEvent::Expired => {
                    key_modified(hub, &key, client);
                    publish_event(hub, EXPIRED, "expired", &key, dbi);
                }
                KeyEvent::HExpired => {
                    key_modified(hub, &key, client);
                    publish_event(hub, HASH, "hexpired", &key, dbi);
                }
                KeyEvent::Deleted => {
                    key_modified(hub, &key, client);
                    publish_event(hub, GENERIC, "del", &key, dbi);
                }
            }
        }
    }
}

/// Runs `f` with a [`ShardCtx`] over `env` for client `client` in `db`,
/// then emits the key events storage logged and the pending BCAST
/// invalidations, and marks the WATCHers of the keys it modified. Every
/// shard handler on a worker runs through here.
pub fn with_ctx<R>(
    env: &mut ShardEnv,
    db: usize,
    touch: bool,
    client: u64,
    f: impl FnOnce(&mut ShardCtx<'_>) -> R,
) -> R {
    let r = with_shard(&mut env.shard, &env.limits, &env.hub, db, touch, client, f);
    crate::watch::touch_logged(env);
    r
}

/// [`with_ctx`] over a bare shard (a script's, taken out of its worker).
pub fn with_shard<R>(
    shard: &mut Shard,
    limits: &crate::server::Limits,
    hub: &Hub,
    db: usize,
    touch: bool,
    client: u64,
    f: impl FnOnce(&mut ShardCtx<'_>) -> R,
) -> R {
    let logging = sync_logging(shard, hub);
    shard.set_no_touch(!touch);
    let r = {
        let mut sctx = ShardCtx {
            shard: &mut *shard,
            db,
            touch,
            limits,
            hub,
            client,
        };
        f(&mut sctx)
    };
    if logging {
        after_step(shard, hub, client);
    }
    r
}

/// The end of a step that may have logged key events.
pub fn after_step(shard: &mut Shard, hub: &Hub, client: u64) {
    drain_logged(shard, hub, client);
    if hub.tracking.active() {
        hub.tracking.flush_broadcasts(hub, client);
    }
}

/// Keys evicted on a shard, as Redis's `deleteEvictedKeyAndPropagate`:
/// the modified-key signal (WATCH, client tracking) and the `evicted`
/// keyspace event for each (db, key).
pub fn evicted(env: &mut ShardEnv, keys: &[(usize, storage::small::SmallBytes)]) {
    for (db, key) in keys {
        crate::watch::touch(env, *db, std::iter::once(&key[..]));
        key_modified(&env.hub, key, 0);
        publish_event(&env.hub, EVICTED, "evicted", key, *db);
    }
}
