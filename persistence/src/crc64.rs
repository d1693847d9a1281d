//! CRC-64/Jones in Redis's variant (reflected, init 0, no final xor): the
//! checksum of RDB files and DUMP payloads.

use crc::{Crc, Table, CRC_64_REDIS};

/// The table-driven (16 slices) implementation.
pub const CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// The checksum of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_redis_check_value() {
        // Redis's crc64 self test: "123456789" -> e9c6d914c4b8d9ca.
        assert_eq!(super::crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }
}
