//! The function libraries (Redis 7 functions), process-wide.
//!
//! A library is its code plus the functions it registered when it was
//! validated (`FUNCTION LOAD` runs the code in the caller's engine first).
//! Every engine loads the libraries into its own VM lazily, when the
//! registry's generation differs from the one it loaded.
//!
//! Invariant: a function name belongs to at most one library.

use crate::shebang::ScriptFlags;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A registered function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionMeta {
    /// Its name (FCALL's first argument).
    pub name: String,
    /// Its flags.
    pub flags: ScriptFlags,
    /// Its description, if given.
    pub description: Option<Bytes>,
}

/// A loaded library.
#[derive(Debug, Clone, PartialEq)]
pub struct Library {
    /// `#!lua name=<name>`.
    pub name: String,
    /// The whole code, shebang included.
    pub code: Bytes,
    /// Its functions, by name.
    pub functions: BTreeMap<String, FunctionMeta>,
}

/// One snapshot of all libraries.
#[derive(Debug, Clone, Default)]
pub struct Libraries {
    /// Libraries by name.
    pub libs: BTreeMap<String, Arc<Library>>,
    /// Bumped by every change; engines reload when it moves.
    pub generation: u64,
}

impl Libraries {
    /// The library holding function `name`.
    pub fn find(&self, name: &str) -> Option<(&Arc<Library>, &FunctionMeta)> {
        // Function names are case-insensitive, as in Redis.
        self.libs.values().find_map(|l| {
            l.functions
                .values()
                .find(|f| f.name.eq_ignore_ascii_case(name))
                .map(|f| (l, f))
        })
    }

    /// Number of functions in all libraries.
    pub fn function_count(&self) -> usize {
        self.libs.values().map(|l| l.functions.len()).sum()
    }

    /// Adds `lib`; `replace` allows replacing a library of the same name.
    /// Errors are Redis's texts.
    pub fn add(&mut self, lib: Library, replace: bool) -> Result<(), String> {
        if !replace && self.libs.contains_key(&lib.name) {
            return Err(format!("ERR Library '{}' already exists", lib.name));
        }
        for f in lib.functions.keys() {
            if let Some((other, existing)) = self.find(f) {
                if other.name != lib.name {
                    return Err(format!("ERR Function {} already exists", existing.name));
                }
            }
        }
        self.libs.insert(lib.name.clone(), Arc::new(lib));
        self.generation += 1;
        Ok(())
    }
}

/// The process-wide registry.
#[derive(Default)]
pub struct FunctionRegistry {
    inner: RwLock<Arc<Libraries>>,
}

impl FunctionRegistry {
    /// The current libraries.
    pub fn snapshot(&self) -> Arc<Libraries> {
        self.inner.read().map(|g| g.clone()).unwrap_or_default()
    }

    /// Applies `f` to a copy of the libraries and publishes the result if
    /// `f` succeeds.
    pub fn update<R>(
        &self,
        f: impl FnOnce(&mut Libraries) -> Result<R, String>,
    ) -> Result<R, String> {
        let mut guard = self
            .inner
            .write()
            .map_err(|_| "ERR function registry unavailable".to_string())?;
        let mut copy = (**guard).clone();
        let r = f(&mut copy)?;
        *guard = Arc::new(copy);
        Ok(r)
    }
}

/// Redis's rule for library and function names: letters, digits and
/// underscores, at least one.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// RDB opcode of a function library in DUMP payloads (`RDB_OPCODE_FUNCTION2`).
pub const RDB_OPCODE_FUNCTION2: u8 = 245;
