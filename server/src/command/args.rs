//! A typed cursor over a command's arguments, so handlers read like the
//! command's documentation.

use bytes::Bytes;
use storage::numfmt;
use storage::{CmdError, CmdResult};

/// Reads arguments in order.
pub struct Args<'a> {
    argv: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor positioned after the command name.
    pub fn new(argv: &'a [Bytes]) -> Args<'a> {
        Args { argv, pos: 1 }
    }

    /// A cursor positioned at `pos`.
    pub fn at(argv: &'a [Bytes], pos: usize) -> Args<'a> {
        Args { argv, pos }
    }

    /// Arguments not read yet.
    pub fn remaining(&self) -> usize {
        self.argv.len().saturating_sub(self.pos)
    }

    /// True when every argument was read.
    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument as bytes; a syntax error if there is none.
    pub fn bytes(&mut self) -> CmdResult<&'a Bytes> {
        let b = self.argv.get(self.pos).ok_or(CmdError::Syntax)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next argument without consuming it.
    pub fn peek(&self) -> Option<&'a Bytes> {
        self.argv.get(self.pos)
    }

    /// The next argument as an i64, or Redis's not-an-integer error.
    pub fn i64(&mut self) -> CmdResult<i64> {
        numfmt::parse_i64(self.bytes()?).ok_or(CmdError::NotInteger)
    }

    /// The next argument as a finite-or-infinite double, or Redis's not-a-float error.
    pub fn f64(&mut self) -> CmdResult<f64> {
        numfmt::parse_f64(self.bytes()?).ok_or(CmdError::NotFloat)
    }

    /// Consumes the next argument if it equals `word` (case-insensitive).
    pub fn eat(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(b) if b.eq_ignore_ascii_case(word.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// The remaining arguments.
    pub fn rest(&self) -> &'a [Bytes] {
        self.argv.get(self.pos..).unwrap_or(&[])
    }
}

/// True if `arg` equals `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}
