//! magpie's Lua scripting, as Redis 7 does it.
//!
//! - [`engine::Engine`]: one Lua 5.1 VM (mlua, vendored) with Redis's
//!   sandbox ([`sandbox`]), the `redis.*` API, the instruction-count hook
//!   behind `busy-reply-threshold` and `SCRIPT KILL`, and a memory cap.
//! - [`convert`]: replies to Lua values and back, exactly as Redis's
//!   `script_lua.c` converts them (RESP2 and RESP3).
//! - [`cache::ScriptCache`]: the process-wide script bodies by SHA1, so
//!   EVALSHA works on any worker.
//! - [`shebang`]: `#!lua flags=...` and `#!lua name=...` lines.
//! - [`functions`]: the function libraries (`FUNCTION LOAD`, `FCALL`).
//! - [`libs`]: cjson, cmsgpack, bit and struct, the libraries Redis scripts use.
//!
//! The crate never touches data itself: `redis.call` goes through the
//! [`engine::Host`] trait, which the server implements over the shards a
//! script holds. No tokio, no sockets.

pub mod cache;
pub mod convert;
pub mod engine;
pub mod errors;
pub mod functions;
pub mod libs;
pub mod sandbox;
pub mod shebang;

pub use cache::ScriptCache;
pub use engine::{CallResult, Engine, Host, RunOutput, Watch};
pub use shebang::ScriptFlags;

/// The version scripts see as `redis.REDIS_VERSION`.
pub const REDIS_VERSION: &str = "7.4.0";
/// `redis.REDIS_VERSION_NUM`: `(major << 16) | (minor << 8) | patch`.
pub const REDIS_VERSION_NUM: u32 = (7 << 16) | (4 << 8);

/// The lower-case hex SHA1 of `body`, as EVALSHA and `redis.sha1hex` use.
pub fn sha1hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}
