//! How the big hash tables grow (the keyspace, and hashtable-encoded
//! hashes, sets and sorted sets, all `indexmap`s).
//!
//! Left alone, an `IndexMap` sizes its entry vector to its hash table's
//! capacity, up to 1.75x the entries. Growing the entries by a quarter
//! instead keeps their slack under 25%, but a naive `reserve_exact(len / 4)`
//! also makes the table (a power of two of 9-byte slots, at most 7/8 full)
//! double as soon as `1.25 * len` no longer fits, long before it is full:
//! at 100k small keys that cost 12 bytes per key. So the quarter is capped
//! to what the current table still holds, and the table doubles only when
//! it is really full, as Redis's dict does.

/// How many entries to reserve when a map of `len` entries is full
/// (`len == capacity()`).
pub fn additional(len: usize) -> usize {
    let quarter = (len / 4).max(8);
    if len < 64 {
        return quarter;
    }
    // hashbrown's table for `len` items: the next power of two of
    // `len * 8 / 7` buckets, holding 7/8 of them.
    let buckets = (len * 8 / 7).next_power_of_two();
    let table_capacity = buckets / 8 * 7;
    if table_capacity > len {
        quarter.min(table_capacity - len)
    } else {
        quarter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    /// Growing by `additional` never doubles the table before it is full,
    /// and the entries never have more than a quarter spare.
    #[test]
    fn table_doubles_only_when_full() {
        let mut m: IndexMap<u32, ()> = IndexMap::new();
        let mut doublings = 0;
        let mut last_cap = 0;
        for i in 0..300_000u32 {
            let len = m.len();
            if len == m.capacity() {
                m.reserve_exact(additional(len));
            }
            m.insert(i, ());
            let cap = m.capacity();
            assert!(
                cap <= (m.len() * 5 / 4).max(m.len() + 8),
                "{} {}",
                m.len(),
                cap
            );
            if cap > last_cap && last_cap > 0 && cap >= 2 * last_cap {
                doublings += 1;
            }
            last_cap = cap;
        }
        // 300k entries: the capacity never jumps 2x at once past small sizes.
        assert!(doublings <= 3, "{doublings}");
    }

    #[test]
    fn capped_by_the_table() {
        // 100k entries sit in a 131072-bucket table holding 114688.
        assert_eq!(additional(100_000), 14_688);
        assert_eq!(additional(114_688), 28_672);
        assert_eq!(additional(10), 8);
    }
}
