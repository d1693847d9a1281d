//! LZF, the compression Redis uses for long strings in RDB files.
//!
//! Our own implementation so that the decoder is bounded (it never writes
//! past the declared length and never reads past the input) and so that the
//! encoder reuses one hash table across strings: a snapshot compresses
//! millions of short values, and a table zeroed per call would dominate.
//! Stale table entries from earlier inputs are harmless: a candidate is
//! used only if it lies before the current position and its bytes match.

/// log2 of the hash table size (liblzf's default).
const HLOG: u32 = 16;
/// Longest back reference distance.
const MAX_OFF: usize = 1 << 13;
/// Longest match a back reference copies.
const MAX_MATCH: usize = 264;
/// Longest literal run.
const MAX_LIT: usize = 32;

/// The most an LZF stream can expand: a 3-byte back reference copies 264
/// bytes. A declared uncompressed length beyond this ratio is corrupt.
pub const MAX_RATIO: usize = 88;

/// A reusable LZF compressor.
pub struct Compressor {
    table: Box<[u32]>,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor {
            table: vec![0u32; 1 << HLOG].into_boxed_slice(),
        }
    }
}

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2654435761) >> (32 - HLOG)) as usize
}

impl Compressor {
    /// Appends the compressed form of `input` to `out` if it takes at most
    /// `max_out` bytes; returns false (and leaves `out` as it was) if not.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
        let start = out.len();
        let limit = start + max_out;
        let n = input.len();
        if n == 0 {
            return false;
        }
        let mut lit_at = out.len();
        out.push(0);
        let mut lit = 0usize;
        let mut ip = 0usize;
        while ip + 2 < n {
            let h = hash3(&input[ip..]);
            let cand = self.table[h] as usize;
            self.table[h] = ip as u32;
            if cand < ip && ip - cand <= MAX_OFF && input[cand..cand + 3] == input[ip..ip + 3] {
                let max = (n - ip).min(MAX_MATCH);
                let mut m = 3;
                while m < max && input[cand + m] == input[ip + m] {
                    m += 1;
                }
                // Close the literal run (drop its header if empty).
                if lit == 0 {
                    out.pop();
                } else {
                    out[lit_at] = (lit - 1) as u8;
                }
                let off = ip - cand - 1;
                let l = m - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                // Index the positions the match covers, for later matches.
                for p in ip + 1..(ip + m).min(n.saturating_sub(2)) {
                    self.table[hash3(&input[p..])] = p as u32;
                }
                ip += m;
                lit_at = out.len();
                out.push(0);
                lit = 0;
            } else {
                out.push(input[ip]);
                lit += 1;
                ip += 1;
                if lit == MAX_LIT {
                    out[lit_at] = (MAX_LIT - 1) as u8;
                    lit_at = out.len();
                    out.push(0);
                    lit = 0;
                }
            }
            if out.len() > limit {
                out.truncate(start);
                return false;
            }
        }
        while ip < n {
            out.push(input[ip]);
            lit += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[lit_at] = (MAX_LIT - 1) as u8;
                lit_at = out.len();
                out.push(0);
                lit = 0;
            }
        }
        if lit == 0 {
            out.pop();
        } else {
            out[lit_at] = (lit - 1) as u8;
        }
        if out.len() > limit {
            out.truncate(start);
            return false;
        }
        true
    }
}

/// Decompresses `input`, which must expand to exactly `len` bytes. `None`
/// if the data is corrupt or of another length. The caller bounds `len`
/// (see [`MAX_RATIO`]) before calling.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lits = input.get(ip..ip + run)?;
            if out.len() + run > len {
                return None;
            }
            out.extend_from_slice(lits);
            ip += run;
        } else {
            let mut l = ctrl >> 5;
            if l == 7 {
                l += *input.get(ip)? as usize;
                ip += 1;
            }
            let off = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            let copy = l + 2;
            if off > out.len() || out.len() + copy > len {
                return None;
            }
            let from = out.len() - off;
            // Byte by byte: the source may overlap what is being written.
            for i in 0..copy {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compresses_repetition() {
        let data = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(20);
        let mut c = Compressor::default();
        let mut out = Vec::new();
        assert!(c.compress(&data, &mut out, data.len() - 4));
        assert!(out.len() < data.len() / 4);
        assert_eq!(decompress(&out, data.len()).as_deref(), Some(&data[..]));
    }

    #[test]
    fn refuses_corrupt() {
        assert_eq!(decompress(&[0x20, 0x05], 3), None); // reference before start
        assert_eq!(decompress(&[0x05, b'a'], 6), None); // truncated literal
        assert_eq!(decompress(&[0x00, b'a'], 2), None); // wrong length
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..3000)) {
            let mut c = Compressor::default();
            let mut out = Vec::new();
            if c.compress(&data, &mut out, data.len() + 64) {
                prop_assert_eq!(decompress(&out, data.len()), Some(data.clone()));
            }
        }
    }
}
