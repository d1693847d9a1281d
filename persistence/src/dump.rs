//! DUMP and RESTORE payloads: a value's type byte and body as in an RDB
//! file, the RDB version (2 bytes LE) and the CRC64 of all that (8 bytes
//! LE). magpie writes version 10 so Redis 7.0 accepts its payloads, and
//! reads versions up to 12 (Redis 7.4), as 7.4 does.

use crate::cursor::Cursor;
use crate::load::{read_value, LoadOptions};
use crate::types::is_object_type;
use crate::write::{Encoder, RDB_VERSION_WRITTEN};
use storage::Value;

/// Why RESTORE refused a payload (Redis's two errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// Footer version too new, or checksum mismatch.
    VersionOrChecksum,
    /// The body does not decode.
    BadFormat,
}

/// A value's DUMP payload; `None` for a hash whose fields have all expired.
pub fn dump(enc: &mut Encoder, v: &Value, now: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if !enc.put_value(&mut out, v, now) {
        return None;
    }
    out.extend_from_slice(&RDB_VERSION_WRITTEN.to_le_bytes());
    let crc = crate::crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Some(out)
}

/// Redis's `verifyDumpPayload`: the footer's version and checksum.
pub fn verify(payload: &[u8]) -> Result<(), RestoreError> {
    let n = payload.len();
    if n < 10 {
        return Err(RestoreError::VersionOrChecksum);
    }
    let version = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
    if version > crate::RDB_VERSION_MAX {
        return Err(RestoreError::VersionOrChecksum);
    }
    let mut c = [0u8; 8];
    c.copy_from_slice(&payload[n - 8..]);
    if crate::crc64::crc64(&payload[..n - 8]) != u64::from_le_bytes(c) {
        return Err(RestoreError::VersionOrChecksum);
    }
    Ok(())
}

/// Decodes a payload into a value, after [`verify`]ing it.
pub fn restore(payload: &[u8], opts: &LoadOptions) -> Result<Value, RestoreError> {
    verify(payload)?;
    let body = &payload[..payload.len() - 10];
    let mut cur = Cursor::new(body);
    let t = cur.u8().map_err(|_| RestoreError::BadFormat)?;
    if !is_object_type(t) {
        return Err(RestoreError::BadFormat);
    }
    match read_value(&mut cur, t, opts) {
        Ok(Some(v)) => Ok(v),
        _ => Err(RestoreError::BadFormat),
    }
}
