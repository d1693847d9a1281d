//! magpie: a Redis-compatible data-structure server, thread-per-core.
//!
//! Modules: `protocol` (bytes in and out, no command knowledge), `command`
//! (the table as data), `commands` (one module per family), `dispatch` (the
//! gates and routing), `worker` and `tx` (threads and multi-shard
//! transactions), `conn` (one connection), `server` (start-up).

pub mod blocking;
pub mod clients;
pub mod command;
pub mod commands;
pub mod config;
pub mod conn;
pub mod dispatch;
pub mod evict;
pub mod hold;
pub mod knobs;
pub mod monitor;
pub mod notify;
pub mod outbox;
pub mod pause;
pub mod persist;
pub mod protocol;
pub mod pubsub;
pub mod script;
pub mod server;
pub mod slot;
pub mod slowlog;
pub mod stats;
pub mod tracking;
pub mod tx;
pub mod watch;
pub mod worker;

/// The Redis version magpie presents to clients.
pub const REDIS_VERSION: &str = "7.4.0";
/// magpie's own version.
pub const MAGPIE_VERSION: &str = env!("CARGO_PKG_VERSION");
