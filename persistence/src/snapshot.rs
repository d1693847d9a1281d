//! Whole snapshots: serialized key chunks assembled into one RDB file.
//!
//! A save serializes each shard's databases into [`DbChunk`]s (on the
//! shard, at the cut), then [`write_file`] assembles header, aux fields,
//! function libraries (FUNCTION2 records, before the databases as Redis
//! writes them), per-database SELECTDB/RESIZEDB, the chunks, EOF and the CRC64 trailer
//! into a temp file in the target directory, fsyncs it, renames it over
//! the target and fsyncs the directory: a crash at any point leaves either
//! the previous file or the new one, never a partial file under the name.

use crate::write::{put_aux, put_db_header, put_function, put_header, Encoder};
use std::io::Write;
use std::path::{Path, PathBuf};
use storage::Db;

/// One database's keys from one shard, already encoded.
#[derive(Debug, Clone, Default)]
pub struct DbChunk {
    /// Database number.
    pub db: usize,
    /// Keys in `bytes`.
    pub keys: u64,
    /// Keys with a deadline in `bytes`.
    pub expires: u64,
    /// The encoded keys.
    pub bytes: Vec<u8>,
}

/// Encodes every live key of `db` (number `dbi`) at `now`; `None` when
/// it holds none.
pub fn serialize_db(enc: &mut Encoder, db: &Db, dbi: usize, now: u64) -> Option<DbChunk> {
    if db.is_empty() {
        return None;
    }
    let mut c = DbChunk {
        db: dbi,
        ..DbChunk::default()
    };
    for (k, e) in db.iter_live(now) {
        if enc.put_entry(&mut c.bytes, k, e, now) {
            c.keys += 1;
            if e.expire_at().is_some() {
                c.expires += 1;
            }
        }
    }
    (c.keys > 0).then_some(c)
}

/// A writer that feeds the CRC64 of everything written.
struct Crc<'w, W: Write> {
    inner: &'w mut W,
    digest: crc::Digest<'static, u64, crc::Table<16>>,
    written: u64,
}

impl<W: Write> Write for Crc<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a whole RDB image to `w`: header, `aux`, the `functions`
/// (library codes), the chunks grouped by
/// database (ascending), EOF and the trailer (zero when `checksum` is
/// off, as Redis with `rdbchecksum no`). Returns the bytes written.
pub fn write_image<W: Write>(
    w: &mut W,
    compress: bool,
    aux: &[(&str, Vec<u8>)],
    functions: &[&[u8]],
    chunks: &[DbChunk],
    checksum: bool,
) -> std::io::Result<u64> {
    let mut enc = Encoder::new(compress);
    let mut cw = Crc {
        inner: w,
        digest: crate::crc64::CRC64.digest(),
        written: 0,
    };
    let mut head = Vec::new();
    put_header(&mut head);
    for (k, v) in aux {
        put_aux(&mut enc, &mut head, k.as_bytes(), v);
    }
    for code in functions {
        put_function(&mut enc, &mut head, code);
    }
    cw.write_all(&head)?;
    let mut dbs: Vec<usize> = chunks.iter().map(|c| c.db).collect();
    dbs.sort_unstable();
    dbs.dedup();
    for db in dbs {
        let (keys, expires) = chunks
            .iter()
            .filter(|c| c.db == db)
            .fold((0, 0), |(k, e), c| (k + c.keys, e + c.expires));
        let mut h = Vec::new();
        put_db_header(&mut h, db, keys, expires);
        cw.write_all(&h)?;
        for c in chunks.iter().filter(|c| c.db == db) {
            cw.write_all(&c.bytes)?;
        }
    }
    cw.write_all(&[crate::types::OP_EOF])?;
    let crc = if checksum { cw.digest.finalize() } else { 0 };
    let written = cw.written;
    w.write_all(&crc.to_le_bytes())?;
    Ok(written + 8)
}

/// An in-memory image (DEBUG RELOAD, tests).
pub fn image(
    compress: bool,
    aux: &[(&str, Vec<u8>)],
    functions: &[&[u8]],
    chunks: &[DbChunk],
    checksum: bool,
) -> Vec<u8> {
    let mut v = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_image(&mut v, compress, aux, functions, chunks, checksum);
    v
}

/// Writes the image to `path` safely: `temp-<pid>.rdb` beside it, fsync,
/// rename, fsync of the directory. On error the temp file is removed and
/// `path` is untouched.
pub fn write_file(
    path: &Path,
    compress: bool,
    aux: &[(&str, Vec<u8>)],
    functions: &[&[u8]],
    chunks: &[DbChunk],
    checksum: bool,
) -> std::io::Result<u64> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let result = (|| {
        let f = std::fs::File::create(&tmp)?;
        let mut bw = std::io::BufWriter::with_capacity(1 << 20, f);
        let n = write_image(&mut bw, compress, aux, functions, chunks, checksum)?;
        let f = bw.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
