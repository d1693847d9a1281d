//! Why a file or payload was refused.

/// A refusal of an RDB file or DUMP payload, naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    /// The data ends before what it declares.
    #[error("unexpected end of file at offset {0} (truncated)")]
    Truncated(usize),
    /// Not an RDB file.
    #[error("wrong signature trying to load DB from file")]
    BadSignature,
    /// A version this loader does not know.
    #[error("can't handle RDB format version {0}")]
    Version(u32),
    /// The CRC64 trailer does not match the content.
    #[error("wrong RDB checksum: expected {expected:016x}, got {got:016x}")]
    Checksum { expected: u64, got: u64 },
    /// Corrupt content (a bad length, a bad encoding, an invalid blob...).
    #[error("corrupt data at offset {at}: {what}")]
    Corrupt { at: usize, what: String },
    /// A type magpie does not have (streams, modules).
    #[error("{0}")]
    Unsupported(String),
    /// A database number beyond the configured `databases`.
    #[error("the file uses database {db}, beyond the configured {databases} databases")]
    DbIndex { db: u64, databases: usize },
}

impl RdbError {
    /// A corrupt-data error at `at`.
    pub fn corrupt(at: usize, what: impl Into<String>) -> RdbError {
        RdbError::Corrupt {
            at,
            what: what.into(),
        }
    }
}

/// Result of decoding.
pub type RdbResult<T> = Result<T, RdbError>;
