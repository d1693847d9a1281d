//! Redis's compact blobs inside RDB values: listpack, ziplist, intset and
//! zipmap. Each parser validates the whole blob (header sizes, every entry
//! within bounds, the end marker) and returns its elements; a blob that
//! does not parse exactly is refused, never partly used.

use std::fmt;

/// One element of a listpack or ziplist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    /// A string entry.
    Str(&'a [u8]),
    /// An integer entry.
    Int(i64),
}

impl Elem<'_> {
    /// The element's bytes, formatting an integer into `scratch`.
    pub fn as_slice<'s>(&'s self, scratch: &'s mut Vec<u8>) -> &'s [u8] {
        match self {
            Elem::Str(s) => s,
            Elem::Int(n) => {
                scratch.clear();
                storage::numfmt::format_i64(*n, scratch);
                scratch
            }
        }
    }

    /// The element as a score.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Elem::Int(n) => Some(*n as f64),
            Elem::Str(s) => crate::cursor::parse_double(s),
        }
    }
}

/// Why a blob was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError(pub &'static str);

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

type R<T> = Result<T, BlobError>;

fn get(b: &[u8], at: usize, n: usize) -> R<&[u8]> {
    b.get(at..at.checked_add(n).ok_or(BlobError("length overflow"))?)
        .ok_or(BlobError("entry runs past the end of the blob"))
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

/// Sign-extends the low `bits` bits of `v`.
fn sext(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Size of a listpack back-length field for an entry of `l` bytes.
fn lp_backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// The elements of a listpack.
pub fn listpack(b: &[u8]) -> R<Vec<Elem<'_>>> {
    if b.len() < 7 {
        return Err(BlobError("listpack shorter than its header"));
    }
    if le(&b[0..4]) as usize != b.len() {
        return Err(BlobError("listpack total size does not match its blob"));
    }
    let declared = le(&b[4..6]) as usize;
    // Each entry takes at least two bytes.
    let mut out = Vec::with_capacity(declared.min(b.len() / 2));
    let mut p = 6;
    loop {
        let e = *b.get(p).ok_or(BlobError("listpack without end marker"))?;
        if e == 0xff {
            if p + 1 != b.len() {
                return Err(BlobError("bytes after the listpack end marker"));
            }
            break;
        }
        let (elem, size) = if e & 0x80 == 0 {
            (Elem::Int((e & 0x7f) as i64), 1)
        } else if e & 0xc0 == 0x80 {
            let n = (e & 0x3f) as usize;
            (Elem::Str(get(b, p + 1, n)?), 1 + n)
        } else if e & 0xe0 == 0xc0 {
            let x = get(b, p + 1, 1)?[0];
            (
                Elem::Int(sext((((e & 0x1f) as u64) << 8) | x as u64, 13)),
                2,
            )
        } else if e & 0xf0 == 0xe0 {
            let x = get(b, p + 1, 1)?[0];
            let n = (((e & 0x0f) as usize) << 8) | x as usize;
            (Elem::Str(get(b, p + 2, n)?), 2 + n)
        } else {
            match e {
                0xf0 => {
                    let n = le(get(b, p + 1, 4)?) as usize;
                    (Elem::Str(get(b, p + 5, n)?), 5 + n)
                }
                0xf1 => (Elem::Int(sext(le(get(b, p + 1, 2)?), 16)), 3),
                0xf2 => (Elem::Int(sext(le(get(b, p + 1, 3)?), 24)), 4),
                0xf3 => (Elem::Int(sext(le(get(b, p + 1, 4)?), 32)), 5),
                0xf4 => (Elem::Int(le(get(b, p + 1, 8)?) as i64), 9),
                _ => return Err(BlobError("invalid listpack entry encoding")),
            }
        };
        let back = lp_backlen_size(size);
        get(b, p + size, back)?;
        p += size + back;
        out.push(elem);
    }
    // 65535 means "count unknown, walk it" in Redis.
    if declared != 65535 && declared != out.len() {
        return Err(BlobError(
            "listpack element count does not match its entries",
        ));
    }
    Ok(out)
}

/// The elements of a ziplist (Redis before 7.0).
pub fn ziplist(b: &[u8]) -> R<Vec<Elem<'_>>> {
    if b.len() < 11 {
        return Err(BlobError("ziplist shorter than its header"));
    }
    if le(&b[0..4]) as usize != b.len() {
        return Err(BlobError("ziplist total size does not match its blob"));
    }
    let declared = le(&b[8..10]) as usize;
    let mut out = Vec::with_capacity(declared.min(b.len() / 2));
    let mut p = 10;
    loop {
        let first = *b.get(p).ok_or(BlobError("ziplist without end marker"))?;
        if first == 0xff {
            if p + 1 != b.len() {
                return Err(BlobError("bytes after the ziplist end marker"));
            }
            break;
        }
        // prevlen: 1 byte, or 0xfe and 4 bytes.
        p += if first == 0xfe { 5 } else { 1 };
        let e = *b
            .get(p)
            .ok_or(BlobError("ziplist entry runs past the end"))?;
        let (elem, size) = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                (Elem::Str(get(b, p + 1, n)?), 1 + n)
            }
            1 => {
                let x = get(b, p + 1, 1)?[0];
                let n = (((e & 0x3f) as usize) << 8) | x as usize;
                (Elem::Str(get(b, p + 2, n)?), 2 + n)
            }
            2 => {
                if e != 0x80 {
                    return Err(BlobError("invalid ziplist string encoding"));
                }
                let x = get(b, p + 1, 4)?;
                let n = u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize;
                (Elem::Str(get(b, p + 5, n)?), 5 + n)
            }
            _ => match e {
                0xc0 => (Elem::Int(sext(le(get(b, p + 1, 2)?), 16)), 3),
                0xd0 => (Elem::Int(sext(le(get(b, p + 1, 4)?), 32)), 5),
                0xe0 => (Elem::Int(le(get(b, p + 1, 8)?) as i64), 9),
                0xf0 => (Elem::Int(sext(le(get(b, p + 1, 3)?), 24)), 4),
                0xfe => (Elem::Int(get(b, p + 1, 1)?[0] as i8 as i64), 2),
                0xf1..=0xfd => (Elem::Int((e & 0x0f) as i64 - 1), 1),
                _ => return Err(BlobError("invalid ziplist entry encoding")),
            },
        };
        p += size;
        out.push(elem);
    }
    if declared != 65535 && declared != out.len() {
        return Err(BlobError(
            "ziplist element count does not match its entries",
        ));
    }
    Ok(out)
}

/// The members of an intset, ascending.
pub fn intset(b: &[u8]) -> R<Vec<i64>> {
    if b.len() < 8 {
        return Err(BlobError("intset shorter than its header"));
    }
    let w = le(&b[0..4]) as usize;
    if !matches!(w, 2 | 4 | 8) {
        return Err(BlobError("invalid intset encoding"));
    }
    let n = le(&b[4..8]) as usize;
    if n.checked_mul(w).and_then(|x| x.checked_add(8)) != Some(b.len()) {
        return Err(BlobError("intset size does not match its length"));
    }
    let mut out = Vec::with_capacity(n);
    for c in b[8..].chunks_exact(w) {
        let v = sext(le(c), (w * 8) as u32);
        if out.last().is_some_and(|&l| l >= v) {
            return Err(BlobError("intset not sorted or with duplicates"));
        }
        out.push(v);
    }
    Ok(out)
}

/// The field/value pairs of a zipmap (Redis 2.4 hashes).
pub fn zipmap(b: &[u8]) -> R<Vec<(&[u8], &[u8])>> {
    fn zlen(b: &[u8], p: &mut usize) -> R<Option<usize>> {
        let x = *b.get(*p).ok_or(BlobError("zipmap without end marker"))?;
        *p += 1;
        match x {
            255 => Ok(None),
            254 => {
                let v = le(get(b, *p, 4)?) as usize;
                *p += 4;
                Ok(Some(v))
            }
            _ => Ok(Some(x as usize)),
        }
    }
    if b.is_empty() {
        return Err(BlobError("empty zipmap"));
    }
    let mut out = Vec::new();
    let mut p = 1;
    while let Some(kl) = zlen(b, &mut p)? {
        let k = get(b, p, kl)?;
        p += kl;
        let vl = zlen(b, &mut p)?.ok_or(BlobError("zipmap field without value"))?;
        let free = get(b, p, 1)?[0] as usize;
        p += 1;
        let v = get(b, p, vl)?;
        p += vl + free;
        out.push((k, v));
    }
    if p != b.len() {
        return Err(BlobError("bytes after the zipmap end marker"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_entries() {
        // total 4, count 2, "a" (6-bit str), 5 (7-bit uint), end.
        let mut b = vec![0, 0, 0, 0, 2, 0, 0x81, b'a', 2, 5, 1, 0xff];
        let n = b.len() as u32;
        b[..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(listpack(&b).unwrap(), vec![Elem::Str(b"a"), Elem::Int(5)]);
        b[4] = 3;
        assert!(listpack(&b).is_err());
        assert!(listpack(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn intset_members() {
        let mut b = vec![2, 0, 0, 0, 2, 0, 0, 0];
        b.extend_from_slice(&(-5i16).to_le_bytes());
        b.extend_from_slice(&7i16.to_le_bytes());
        assert_eq!(intset(&b).unwrap(), vec![-5, 7]);
        assert!(intset(&b[..b.len() - 1]).is_err());
    }
}
