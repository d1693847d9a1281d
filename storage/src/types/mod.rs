//! Collection types, one module each. Every type keeps Redis's compact
//! encoding for small sizes (listpack / intset) and its large encoding
//! beyond Redis's thresholds, so `OBJECT ENCODING` reports Redis's names.

pub mod hash;
pub mod list;
pub mod set;
pub mod zset;

/// Redis's encoding thresholds (the `*-max-*` directives), passed in by
/// the server so storage knows no configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// hash-max-listpack-entries.
    pub hash_max_listpack_entries: usize,
    /// hash-max-listpack-value.
    pub hash_max_listpack_value: usize,
    /// list-max-listpack-size (negative: a size class in KiB, as Redis).
    pub list_max_listpack_size: i64,
    /// set-max-intset-entries.
    pub set_max_intset_entries: usize,
    /// set-max-listpack-entries.
    pub set_max_listpack_entries: usize,
    /// set-max-listpack-value.
    pub set_max_listpack_value: usize,
    /// zset-max-listpack-entries.
    pub zset_max_listpack_entries: usize,
    /// zset-max-listpack-value.
    pub zset_max_listpack_value: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}
