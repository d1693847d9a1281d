//! magpie's storage: the data a shard owns.
//!
//! No tokio, no sockets, no Lua, no threads: a [`shard::Shard`] is plain data
//! that the server mutates through `&mut`. Values are binary-safe bytes.

pub mod cut;
pub mod db;
pub mod error;
pub mod evict;
pub mod glob;
pub mod growth;
pub mod numfmt;
pub mod reply;
pub mod shard;
pub mod small;
pub mod types;
pub mod value;

pub use db::{Db, Entry, KeyEvent, RandomPick};
pub use error::{CmdError, CmdResult};
pub use reply::Reply;
pub use shard::Shard;
pub use value::{Str, Value};
