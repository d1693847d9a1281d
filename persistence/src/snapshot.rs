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

/// What every file starts with: the header, the `aux` fields, then the
/// `functions` (library codes) as FUNCTION2 records, as Redis writes them.
fn preamble(enc: &mut Encoder, aux: &[(&str, Vec<u8>)], functions: &[&[u8]]) -> Vec<u8> {
    let mut head = Vec::new();
    put_header(&mut head);
    for (k, v) in aux {
        put_aux(enc, &mut head, k.as_bytes(), v);
    }
    for code in functions {
        put_function(enc, &mut head, code);
    }
    head
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
    let head = preamble(&mut enc, aux, functions);
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

/// An RDB file written as chunks arrive (a background save: each shard
/// hands over its serialized keys in pieces while it walks its cut).
/// Chunks of different databases may interleave: a SELECTDB precedes each
/// switch (Redis's loader accepts any number), with the RESIZEDB hint from
/// the cut's totals the first time a database appears. The file is
/// `temp-<pid>.rdb` until [`StreamWriter::finish`] and
/// [`Finished::install`]; dropped unfinished, the temp file is removed.
pub struct StreamWriter {
    tmp: PathBuf,
    dir: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    digest: crc::Digest<'static, u64, crc::Table<16>>,
    written: u64,
    checksum: bool,
    current: Option<usize>,
    /// Per database: (keys, expires) at the cut, and whether it was headed.
    totals: std::collections::BTreeMap<usize, (u64, u64, bool)>,
    scratch: Vec<u8>,
}

/// A complete temp file, fsynced, waiting to be renamed into place.
pub struct Finished {
    tmp: PathBuf,
    dir: PathBuf,
    /// Bytes in the file.
    pub bytes: u64,
}

impl StreamWriter {
    /// Creates the temp file beside `path` and writes the header, `aux`
    /// and the `functions` (library codes, FUNCTION2 records).
    /// `totals` are (db, keys, expires) at the cut, for RESIZEDB.
    pub fn create(
        path: &Path,
        compress: bool,
        aux: &[(&str, Vec<u8>)],
        functions: &[&[u8]],
        totals: &[(usize, u64, u64)],
        checksum: bool,
    ) -> std::io::Result<StreamWriter> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
        let f = std::fs::File::create(&tmp)?;
        let mut totals_map = std::collections::BTreeMap::new();
        for &(db, k, e) in totals {
            let t = totals_map.entry(db).or_insert((0, 0, false));
            t.0 += k;
            t.1 += e;
        }
        let mut w = StreamWriter {
            tmp,
            dir,
            out: Some(std::io::BufWriter::with_capacity(1 << 20, f)),
            digest: crate::crc64::CRC64.digest(),
            written: 0,
            checksum,
            current: None,
            totals: totals_map,
            scratch: Vec::new(),
        };
        let head = preamble(&mut Encoder::new(compress), aux, functions);
        w.put(&head)?;
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| std::io::Error::other("writer closed"))?;
        out.write_all(b)?;
        self.digest.update(b);
        self.written += b.len() as u64;
        Ok(())
    }

    /// Appends encoded keys of database `db`.
    pub fn chunk(&mut self, db: usize, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.current != Some(db) {
            self.current = Some(db);
            let mut h = std::mem::take(&mut self.scratch);
            h.clear();
            let t = self.totals.entry(db).or_insert((0, 0, false));
            if t.2 {
                h.push(crate::types::OP_SELECTDB);
                crate::write::put_len(&mut h, db as u64);
            } else {
                t.2 = true;
                put_db_header(&mut h, db, t.0, t.1);
            }
            let r = self.put(&h);
            self.scratch = h;
            r?;
        }
        self.put(bytes)
    }

    /// Writes EOF and the trailer and fsyncs the temp file.
    pub fn finish(mut self) -> std::io::Result<Finished> {
        self.put(&[crate::types::OP_EOF])?;
        let crc = if self.checksum {
            self.digest.clone().finalize()
        } else {
            0
        };
        let mut out = self
            .out
            .take()
            .ok_or_else(|| std::io::Error::other("writer closed"))?;
        let r = (|| {
            out.write_all(&crc.to_le_bytes())?;
            let f = out.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()
        })();
        if let Err(e) = r {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        Ok(Finished {
            tmp: std::mem::take(&mut self.tmp),
            dir: self.dir.clone(),
            bytes: self.written + 8,
        })
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl Finished {
    /// Renames the file over `path` and fsyncs the directory.
    pub fn install(self, path: &Path) -> std::io::Result<u64> {
        if let Err(e) = std::fs::rename(&self.tmp, path) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(self.bytes)
    }

    /// Drops the file (a newer cut was written already).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::{Entry, Str, Value};

    #[test]
    fn stream_writer_interleaves_databases_and_installs_atomically() {
        let dir = std::env::temp_dir().join(format!("magpie-stream-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dump.rdb");
        let mut enc = Encoder::new(true);
        let chunk = |enc: &mut Encoder, keys: &[&str]| {
            let mut b = Vec::new();
            for k in keys {
                let e = Entry::new(Value::Str(Str::from_bytes(b"v")), 0);
                assert!(enc.put_entry(&mut b, k.as_bytes(), &e, 0));
            }
            b
        };
        let totals = [(0, 2, 0), (3, 1, 0), (0, 1, 0)];
        let mut w = StreamWriter::create(
            &path,
            true,
            &[("redis-bits", b"64".to_vec())],
            &[],
            &totals,
            true,
        )
        .unwrap();
        w.chunk(0, &chunk(&mut enc, &["a", "b"])).unwrap();
        w.chunk(3, &chunk(&mut enc, &["c"])).unwrap();
        w.chunk(3, &[]).unwrap();
        w.chunk(0, &chunk(&mut enc, &["d"])).unwrap();
        let f = w.finish().unwrap();
        // Nothing under the name until installed.
        assert!(!path.exists());
        let n = f.install(&path).unwrap();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(n, data.len() as u64);
        let opts = crate::LoadOptions {
            thresholds: Default::default(),
            now_ms: 0,
            databases: 16,
        };
        let mut got = Vec::new();
        let mut hints = Vec::new();
        crate::load_with_hints(
            &data,
            &opts,
            |db, n| hints.push((db, n)),
            |db, k, _| got.push((db, k.to_vec())),
        )
        .unwrap();
        got.sort();
        let want: Vec<(usize, Vec<u8>)> = vec![
            (0, b"a".to_vec()),
            (0, b"b".to_vec()),
            (0, b"d".to_vec()),
            (3, b"c".to_vec()),
        ];
        assert_eq!(got, want);
        // RESIZEDB once per database, with the cut's totals.
        assert_eq!(hints, vec![(0, 3), (3, 1)]);
        // An unfinished writer leaves no temp file behind.
        let w = StreamWriter::create(&path, true, &[], &[], &[], true).unwrap();
        drop(w);
        let temps = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
            .count();
        assert_eq!(temps, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
