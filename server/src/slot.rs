//! Which shard owns a key: Redis Cluster's slot function, so `{tag}` keys
//! land together and a later cluster mode can reuse the mapping.

/// Number of Redis Cluster hash slots.
pub const SLOTS: u16 = 16384;

/// CRC16-CCITT (XMODEM), as Redis Cluster uses it.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The part of a key that is hashed: the content of the first non-empty
/// `{...}`, or the whole key.
pub fn hashtag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&c| c == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&c| c == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The cluster slot of a key.
pub fn slot(key: &[u8]) -> u16 {
    crc16(hashtag(key)) % SLOTS
}

/// The shard owning a key, out of `nshards`.
pub fn shard_of(key: &[u8], nshards: usize) -> usize {
    if nshards <= 1 {
        0
    } else {
        slot(key) as usize % nshards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster_keyslot() {
        // Values from CLUSTER KEYSLOT on a real Redis.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"bar"), 5061);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_eq!(hashtag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hashtag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hashtag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }
}
