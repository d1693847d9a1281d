//! magpie's persistence format: RDB files and DUMP payloads.
//!
//! - [`load`]: decode a whole RDB image (any Redis 2.4 .. 7.4 / Valkey 8
//!   encoding; streams and modules refused with a clear error), checked
//!   against its CRC64 trailer;
//! - [`write`]: encode keys and files (version 10, plain types, so Redis
//!   7.0 loads them);
//! - [`dump`]: DUMP/RESTORE payloads;
//! - [`snapshot`]: a whole file from per-database key chunks, written to a
//!   temp file, fsynced and renamed into place.
//!
//! No tokio, no threads of its own: the server decides where this runs.
//! Everything read is bounds-checked ([`cursor`]): nothing in a file makes
//! the loader allocate more than the file's size justifies.

pub mod compact;
pub mod crc64;
pub mod cursor;
pub mod dump;
pub mod error;
pub mod load;
pub mod lzf;
pub mod snapshot;
pub mod types;
pub mod write;

pub use error::{RdbError, RdbResult};
pub use load::{load, load_with_hints, LoadOptions, Loaded};
pub use write::{Encoder, RDB_VERSION_WRITTEN};

/// The newest RDB version the loader reads (Redis 7.4's).
pub const RDB_VERSION_MAX: u16 = 12;
