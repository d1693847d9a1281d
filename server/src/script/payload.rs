//! FUNCTION DUMP / FUNCTION RESTORE payloads, in Redis's format: for each
//! library `RDB_OPCODE_FUNCTION2` (245) and its code as an RDB string (LZF
//! when `rdbcompression` and it pays), then the RDB version (2 bytes LE)
//! and the CRC64 of everything before (8 bytes LE), as DUMP payloads.
//!
//! Invariant: [`codes`] reads only inside the payload and allocates no
//! more than it justifies (the bounds-checked RDB cursor).

use persistence::cursor::Cursor;
use persistence::write::put_function;
use persistence::{Encoder, RDB_VERSION_WRITTEN};
use scripting::functions::{RDB_OPCODE_FUNCTION2, RDB_OPCODE_FUNCTION_PRE_GA};

/// The payload of `codes` (the libraries' code, in order).
pub fn dump(enc: &mut Encoder, codes: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        put_function(enc, &mut out, code);
    }
    out.extend_from_slice(&RDB_VERSION_WRITTEN.to_le_bytes());
    let crc = persistence::crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code in a payload, as Redis's `functionRestoreCommand`
/// reads it; errors are Redis's reply texts.
pub fn codes(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if persistence::dump::verify(payload).is_err() {
        return Err("ERR DUMP payload version or checksum are wrong".into());
    }
    // Like Redis, records are read while more than the 10-byte trailer is
    // left; a record may run into the trailer (it is part of the buffer).
    let mut cur = Cursor::new(payload);
    let mut out = Vec::new();
    while cur.remaining() > 10 {
        let t = cur
            .u8()
            .map_err(|_| "ERR can not read data type".to_string())?;
        if t == RDB_OPCODE_FUNCTION_PRE_GA {
            return Err("ERR Pre-GA function format not supported".into());
        }
        if t != RDB_OPCODE_FUNCTION2 {
            return Err("ERR given type is not a function".into());
        }
        let code = cur
            .bytes()
            .map_err(|_| "ERR Failed loading library payload".to_string())?;
        out.push(code.into_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_redis_bytes() {
        // FUNCTION DUMP of redis-server 7.0 with one library (rdbcompression
        // on; this code is too short to compress).
        let code: &[u8] =
            b"#!lua name=lib2\nredis.register_function('f2', function(keys, args) return 2 end)";
        let mut enc = Encoder::new(true);
        let p = dump(&mut enc, &[code]);
        assert_eq!(&p[..3], b"\xf5@P");
        assert_eq!(codes(&p), Ok(vec![code.to_vec()]));
        let long = "#!lua name=l\n".to_string() + &"-- comment\n".repeat(50);
        let p = dump(&mut enc, &[long.as_bytes(), code]);
        assert_eq!(p[1], 0xc3, "long code is LZF-compressed");
        assert_eq!(codes(&p), Ok(vec![long.into_bytes(), code.to_vec()]));
        assert_eq!(codes(&dump(&mut enc, &[])), Ok(vec![]));
    }

    #[test]
    fn errors_are_redis_texts() {
        let bad = "ERR DUMP payload version or checksum are wrong";
        assert_eq!(codes(b""), Err(bad.into()));
        assert_eq!(codes(b"xx"), Err(bad.into()));
        let mut p = dump(&mut Encoder::new(false), &[b"#!lua name=a\n"]);
        let n = p.len();
        p[n - 1] ^= 1;
        assert_eq!(codes(&p), Err(bad.into()));
        let with = |body: &[u8]| {
            let mut v = body.to_vec();
            v.extend_from_slice(&RDB_VERSION_WRITTEN.to_le_bytes());
            let crc = persistence::crc64::crc64(&v);
            v.extend_from_slice(&crc.to_le_bytes());
            v
        };
        assert_eq!(
            codes(&with(b"\x00\x01a")),
            Err("ERR given type is not a function".into())
        );
        assert_eq!(
            codes(&with(b"\xf6\x01a")),
            Err("ERR Pre-GA function format not supported".into())
        );
        // A string longer than the payload.
        assert_eq!(
            codes(&with(b"\xf5\x7f")),
            Err("ERR Failed loading library payload".into())
        );
    }
}
