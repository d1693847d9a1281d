//! `SmallBytes`: a byte string stored inline when short.
//!
//! Keys and short string values are the bulk of a cache's memory and the
//! target of every lookup. Kept inline (up to 22 bytes) they cost no
//! separate allocation, and comparing a key during a hash probe reads the
//! entry's own cache line instead of chasing a pointer: one cache miss less
//! per lookup, and fewer bytes per key than Redis's sds + robj.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Longest content kept inline.
pub const INLINE_MAX: usize = 22;

/// A byte string, inline up to [`INLINE_MAX`] bytes, boxed beyond.
#[derive(Clone)]
pub enum SmallBytes {
    /// Short content in place.
    Inline {
        /// Content length.
        len: u8,
        /// Content, then padding.
        data: [u8; INLINE_MAX],
    },
    /// Longer content on the heap.
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// A copy of `b`.
    pub fn new(b: &[u8]) -> SmallBytes {
        if b.len() <= INLINE_MAX {
            let mut data = [0u8; INLINE_MAX];
            data[..b.len()].copy_from_slice(b);
            SmallBytes::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            SmallBytes::Heap(b.into())
        }
    }

    /// The content.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, data } => &data[..*len as usize],
            SmallBytes::Heap(b) => b,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes used beyond the value itself.
    pub fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline { .. } => 0,
            SmallBytes::Heap(b) => b.len(),
        }
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

// Hash and Eq must agree with `[u8]`'s so maps keyed by SmallBytes can be
// probed with a `&[u8]`.
impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &SmallBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> SmallBytes {
        SmallBytes::new(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn small_and_large_round_trip() {
        for n in [0, 1, 22, 23, 100] {
            let v: Vec<u8> = (0..n as u8).collect();
            let s = SmallBytes::new(&v);
            assert_eq!(s.as_slice(), &v[..]);
            assert_eq!(s.len(), n);
            assert_eq!(matches!(s, SmallBytes::Inline { .. }), n <= INLINE_MAX);
        }
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
    }

    #[test]
    fn probes_with_a_slice() {
        let mut m: HashMap<SmallBytes, u32> = HashMap::new();
        m.insert(SmallBytes::new(b"short"), 1);
        m.insert(SmallBytes::new(&[b'x'; 40]), 2);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(&[b'x'; 40][..]), Some(&2));
        assert_eq!(m.get(&b"other"[..]), None);
    }
}
