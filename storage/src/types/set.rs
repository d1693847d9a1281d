//! The set type. (Skeleton: the set family fills this in.)

/// A set value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Set {}

impl Set {
    /// Number of elements.
    pub fn len(&self) -> usize {
        0
    }

    /// True when empty (an empty collection is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Approximate heap bytes used.
    pub fn heap_size(&self) -> usize {
        0
    }
}
