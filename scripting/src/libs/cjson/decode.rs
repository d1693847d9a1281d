//! cjson decoding: the C module's tokenizer and parser, iterative.

use super::super::{arg_err, msg, one, Args, Fail, LuaStack, Res, Ret, LUA_MAX_CSTACK};
use super::number::strtod;
use super::{null, Config};
use mlua::{Lua, Value};

/// Token kinds, named as the C module names them in errors.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number => "T_NUMBER",
            Kind::Boolean => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(what) => what,
        }
    }
}

struct Token {
    kind: Kind,
    /// 0-based offset reported in errors.
    index: usize,
    number: f64,
    boolean: bool,
    string: Vec<u8>,
}

impl Token {
    fn new(kind: Kind, index: usize) -> Self {
        Token {
            kind,
            index,
            number: 0.0,
            boolean: false,
            string: Vec::new(),
        }
    }
}

/// The tokenizer over the JSON text; reading past the end yields NUL, as
/// the C code reads the Lua string's terminator.
struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    decode_invalid_numbers: bool,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let ch = self.at(start);
        let single = match ch {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            0 => return Token::new(Kind::End, start),
            _ => None,
        };
        if let Some(kind) = single {
            self.pos += 1;
            return Token::new(kind, start);
        }
        if !matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        ) {
            return Token::new(Kind::Error("invalid token"), start);
        }
        if ch == b'"' {
            return self.string_token();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.decode_invalid_numbers && self.is_invalid_number() {
                return Token::new(Kind::Error("invalid number"), start);
            }
            return self.number_token();
        }
        for (word, kind, value) in [
            (&b"true"[..], Kind::Boolean, true),
            (b"false", Kind::Boolean, false),
            (b"null", Kind::Null, false),
        ] {
            if self.data.get(start..start + word.len()) == Some(word) {
                self.pos += word.len();
                let mut t = Token::new(kind, start);
                t.boolean = value;
                return t;
            }
        }
        if self.decode_invalid_numbers && self.is_invalid_number() {
            return self.number_token();
        }
        Token::new(Kind::Error("invalid token"), start)
    }

    /// `json_is_invalid_number`: forms strtod takes but JSON does not.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word: Vec<u8> = (0..3)
            .map(|i| self.at(p + i).to_ascii_lowercase())
            .collect();
        word == b"inf" || word == b"nan"
    }

    fn number_token(&mut self) -> Token {
        let start = self.pos;
        match strtod(self.data, start) {
            Some((value, end)) => {
                self.pos = end;
                let mut t = Token::new(Kind::Number, start);
                t.number = value;
                t
            }
            None => Token::new(Kind::Error("invalid number"), start),
        }
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let ch = self.at(self.pos);
            match ch {
                b'"' => break,
                0 => return Token::new(Kind::Error("unexpected end of string"), self.pos),
                b'\\' => {
                    let esc = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 12,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape(&mut s) {
                                continue;
                            }
                            return Token::new(
                                Kind::Error("invalid unicode escape code"),
                                self.pos,
                            );
                        }
                        _ => return Token::new(Kind::Error("invalid escape code"), self.pos),
                    };
                    s.push(esc);
                    self.pos += 2;
                }
                _ => {
                    s.push(ch);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        let mut t = Token::new(Kind::Str, start);
        t.string = s;
        t
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = (self.at(at + i) as char).to_digit(16)?;
            Some((acc << 4) | d)
        })
    }

    /// `\uXXXX` (and a following low surrogate) at `pos`, as UTF-8.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        push_utf8(out, cp);
        self.pos += len;
        true
    }
}

/// `codepoint_to_utf8` (code points here never exceed 0x10FFFF).
fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp <= 0x7F {
        out.push(cp as u8);
    } else if cp <= 0x7FF {
        out.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
    } else if cp <= 0xFFFF {
        out.extend_from_slice(&[
            (cp >> 12) as u8 | 0xE0,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    } else {
        out.extend_from_slice(&[
            (cp >> 18) as u8 | 0xF0,
            ((cp >> 12) & 0x3F) as u8 | 0x80,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    }
}

/// A container being filled while decoding; its table is in a `LuaStack`.
enum DecFrame {
    Array { next: usize },
    Object { key: Vec<u8> },
}

impl DecFrame {
    /// Slots the C decoder holds: the table, and an object's pending key.
    fn slots(&self) -> usize {
        match self {
            DecFrame::Array { .. } => 1,
            DecFrame::Object { .. } => 2,
        }
    }
}

fn parse_error(expected: &str, t: &Token) -> Fail {
    msg(format!(
        "Expected {expected} but found {} at character {}",
        t.kind.name(),
        t.index + 1
    ))
}

/// `cjson.decode(text)`.
pub(super) fn decode(lua: &Lua, cfg: &Config, args: Args) -> Res<Ret> {
    if args.len() != 1 {
        return Err(arg_err(1, "expected 1 argument"));
    }
    let text = args.check_string(lua, 1)?;
    let data = text.as_bytes();
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut lx = Lexer {
        data: &data,
        pos: 0,
        decode_invalid_numbers: cfg.decode_invalid_numbers != 0,
    };
    let max_depth = cfg.decode_max_depth.max(0) as usize;
    let mut frames: Vec<DecFrame> = Vec::new();
    let mut tables = LuaStack::new(lua)?;
    let mut slots = 0;
    let mut tok = lx.next_token();
    let value = 'outer: loop {
        // `tok` starts a value.
        let mut value = match tok.kind {
            Kind::Str => Value::String(lua.create_string(&tok.string)?),
            Kind::Number => Value::Number(tok.number),
            Kind::Boolean => Value::Boolean(tok.boolean),
            Kind::Null => null(),
            Kind::ObjBegin | Kind::ArrBegin => {
                let is_obj = tok.kind == Kind::ObjBegin;
                let depth = frames.len() + 1;
                let top = 1 + slots;
                let need = if is_obj { 3 } else { 2 };
                if depth > max_depth || top + need > LUA_MAX_CSTACK {
                    return Err(msg(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        lx.pos
                    )));
                }
                let table = lua.create_table()?;
                tok = lx.next_token();
                let close = if is_obj { Kind::ObjEnd } else { Kind::ArrEnd };
                if tok.kind == close {
                    Value::Table(table)
                } else {
                    tables.push(Value::Table(table))?;
                    let frame = if is_obj {
                        let key = object_key(&mut lx, tok)?;
                        tok = lx.next_token();
                        DecFrame::Object { key }
                    } else {
                        DecFrame::Array { next: 1 }
                    };
                    slots += frame.slots();
                    frames.push(frame);
                    continue;
                }
            }
            _ => return Err(parse_error("value", &tok)),
        };
        // Store `value` in its container and read what follows it.
        loop {
            let Some(frame) = frames.last_mut() else {
                break 'outer value;
            };
            let Value::Table(table) = tables.get(tables.len())? else {
                return Err(msg("BUG: decode stack"));
            };
            let close = match frame {
                DecFrame::Array { next } => {
                    table.raw_set(*next, value)?;
                    *next += 1;
                    Kind::ArrEnd
                }
                DecFrame::Object { key } => {
                    table.raw_set(lua.create_string(std::mem::take(key))?, value)?;
                    Kind::ObjEnd
                }
            };
            tok = lx.next_token();
            if tok.kind != close {
                if tok.kind != Kind::Comma {
                    let what = if close == Kind::ArrEnd {
                        "comma or array end"
                    } else {
                        "comma or object end"
                    };
                    return Err(parse_error(what, &tok));
                }
                tok = lx.next_token();
                if let DecFrame::Object { key } = frame {
                    *key = object_key(&mut lx, tok)?;
                    tok = lx.next_token();
                }
                continue 'outer;
            }
            // The container closed: it is now the value for its parent.
            if let Some(done) = frames.pop() {
                slots -= done.slots();
            }
            value = tables.pop()?;
        }
    };
    let end = lx.next_token();
    if end.kind != Kind::End {
        return Err(parse_error("the end", &end));
    }
    one(value)
}

/// An object key token followed by its colon.
fn object_key(lx: &mut Lexer<'_>, tok: Token) -> Res<Vec<u8>> {
    if tok.kind != Kind::Str {
        return Err(parse_error("object key string", &tok));
    }
    let colon = lx.next_token();
    if colon.kind != Kind::Colon {
        return Err(parse_error("colon", &colon));
    }
    Ok(tok.string)
}
