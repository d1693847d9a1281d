//! The first line of a script: `#!lua flags=...` for EVAL scripts and
//! `#!lua name=<library>` for function libraries, with Redis's errors.

/// Script flags (`#!lua flags=...`, and `register_function`'s `flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptFlags(pub u32);

impl ScriptFlags {
    /// `no-writes`: the script may not call write commands.
    pub const NO_WRITES: u32 = 1 << 0;
    /// `allow-oom`: denyoom commands run even over maxmemory.
    pub const ALLOW_OOM: u32 = 1 << 1;
    /// `allow-stale`: runs on a stale replica.
    pub const ALLOW_STALE: u32 = 1 << 2;
    /// `no-cluster`: refused in cluster mode.
    pub const NO_CLUSTER: u32 = 1 << 3;
    /// `allow-cross-slot-keys`.
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// Set for EVAL scripts without a shebang (Redis's compat mode).
    pub const EVAL_COMPAT: u32 = 1 << 5;

    /// Names in the order FUNCTION LIST prints them.
    pub const NAMES: &'static [(u32, &'static str)] = &[
        (Self::NO_WRITES, "no-writes"),
        (Self::ALLOW_OOM, "allow-oom"),
        (Self::ALLOW_STALE, "allow-stale"),
        (Self::NO_CLUSTER, "no-cluster"),
        (Self::ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    /// True if flag `f` is set.
    pub fn has(self, f: u32) -> bool {
        self.0 & f != 0
    }

    /// The flag bit of a name, if known.
    pub fn by_name(name: &[u8]) -> Option<u32> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(f, _)| *f)
    }

    /// The names of the set flags, in Redis's order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// The flags of an EVAL script body: from its shebang, or compat mode
/// when it has none. Errors are Redis's texts (without the `ERR ` code).
pub fn eval_flags(body: &[u8]) -> Result<ScriptFlags, String> {
    if !body.starts_with(b"#!") {
        return Ok(ScriptFlags(ScriptFlags::EVAL_COMPAT));
    }
    let line_end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = &body[..line_end];
    let mut parts = line.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = 0;
    for p in parts {
        let Some(list) = p.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(p)
            ));
        };
        for f in list.split(|&c| c == b',').filter(|f| !f.is_empty()) {
            match ScriptFlags::by_name(f) {
                Some(bit) => flags |= bit,
                None => {
                    return Err(format!(
                        "Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(f)
                    ))
                }
            }
        }
    }
    Ok(ScriptFlags(flags))
}

/// The library name of a `FUNCTION LOAD` body (`#!lua name=<lib>`).
pub fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let line_end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    let line = &code[..line_end];
    let mut parts = line.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine.len() < 2 {
        return Err("Invalid metadata value, engine name is empty".into());
    }
    let engine_name = &engine[2..];
    let mut name = None;
    for p in parts {
        match p.strip_prefix(b"name=") {
            Some(n) => name = Some(String::from_utf8_lossy(n).into_owned()),
            None => {
                return Err(format!(
                    "Invalid metadata value given: {}",
                    String::from_utf8_lossy(p)
                ))
            }
        }
    }
    if !engine_name.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(engine_name)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_shebangs() {
        assert_eq!(
            eval_flags(b"return 1"),
            Ok(ScriptFlags(ScriptFlags::EVAL_COMPAT))
        );
        assert_eq!(eval_flags(b"#!lua\nreturn 1"), Ok(ScriptFlags(0)));
        let f = eval_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap_or_default();
        assert!(f.has(ScriptFlags::NO_WRITES) && f.has(ScriptFlags::ALLOW_OOM));
        assert_eq!(
            eval_flags(b"#!lua flags=bad\n"),
            Err("Unexpected flag in script shebang: bad".into())
        );
        assert_eq!(
            eval_flags(b"#!lua name=x\n"),
            Err("Unknown lua shebang option: name=x".into())
        );
        assert_eq!(
            eval_flags(b"#!notlua\n"),
            Err("Unexpected engine in script shebang: #!notlua".into())
        );
    }

    #[test]
    fn library_shebangs() {
        assert_eq!(library_name(b"#!lua name=lib\n"), Ok("lib".into()));
        assert!(library_name(b"return 1").is_err());
        assert!(library_name(b"#!lua\n").is_err());
    }
}
