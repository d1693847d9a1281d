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

impl Library {
    /// Builds a library from its code as FUNCTION LOAD does: the name from
    /// the `#!lua name=...` line (checked), then `load` runs the code in an
    /// engine and returns the functions it registered. Errors are Redis's
    /// texts.
    pub fn build(
        code: Bytes,
        load: impl FnOnce(&[u8]) -> Result<Vec<FunctionMeta>, String>,
    ) -> Result<Library, String> {
        let name = crate::shebang::library_name(&code).map_err(|m| format!("ERR {m}"))?;
        if !valid_name(&name) {
            return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
        }
        let metas = load(&code)?;
        Ok(Library {
            name,
            code,
            functions: metas.into_iter().map(|m| (m.name.clone(), m)).collect(),
        })
    }
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

    /// Redis's `libraryJoin` (FUNCTION RESTORE APPEND / REPLACE): adds all
    /// of `src`; a library of the same name is an error unless `replace`,
    /// then it is replaced; a function name clash with a remaining library
    /// is an error. On error `self` may be half changed: callers work on a
    /// copy (`FunctionRegistry::update` publishes only on success).
    pub fn join(&mut self, src: Libraries, replace: bool) -> Result<(), String> {
        for name in src.libs.keys() {
            if self.libs.contains_key(name) {
                if !replace {
                    return Err(format!("ERR Library {name} already exists"));
                }
                self.libs.remove(name);
            }
        }
        for lib in src.libs.values() {
            for f in lib.functions.keys() {
                if let Some((_, existing)) = self.find(f) {
                    return Err(format!("ERR Function {} already exists", existing.name));
                }
            }
        }
        self.libs.extend(src.libs);
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

/// RDB opcode of the pre-GA function format (refused, as Redis does).
pub const RDB_OPCODE_FUNCTION_PRE_GA: u8 = 246;

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(name: &str, funcs: &[&str]) -> Library {
        Library {
            name: name.into(),
            code: Bytes::from(format!("#!lua name={name}\n")),
            functions: funcs
                .iter()
                .map(|f| {
                    (
                        f.to_string(),
                        FunctionMeta {
                            name: f.to_string(),
                            flags: ScriptFlags::default(),
                            description: None,
                        },
                    )
                })
                .collect(),
        }
    }

    fn set(libs: &[Library]) -> Libraries {
        let mut l = Libraries::default();
        for x in libs {
            assert_eq!(l.add(x.clone(), false), Ok(()));
        }
        l
    }

    #[test]
    fn join_appends_replaces_and_refuses_clashes() {
        let mut dst = set(&[lib("a", &["f1"]), lib("b", &["f2"])]);
        assert_eq!(
            dst.clone().join(set(&[lib("a", &["g"])]), false),
            Err("ERR Library a already exists".into())
        );
        assert_eq!(
            dst.clone().join(set(&[lib("c", &["F2"])]), true),
            Err("ERR Function f2 already exists".into())
        );
        // Replacing a library frees its function names.
        assert_eq!(
            dst.join(set(&[lib("a", &["g"]), lib("c", &["f1"])]), true),
            Ok(())
        );
        assert_eq!(dst.libs.len(), 3);
        assert!(dst.find("f1").is_some_and(|(l, _)| l.name == "c"));
        assert!(dst.find("g").is_some());
    }

    #[test]
    fn build_checks_the_name_before_loading() {
        let bad = Library::build(Bytes::from_static(b"#!lua name=a-b\n"), |_| Ok(vec![]));
        assert!(bad.is_err_and(|e| e.starts_with("ERR Library names can only")));
        let missing = Library::build(Bytes::from_static(b"return 1"), |_| Ok(vec![]));
        assert_eq!(missing, Err("ERR Missing library metadata".into()));
        let ok = Library::build(Bytes::from_static(b"#!lua name=x\n"), |_| Ok(vec![]));
        assert!(ok.is_ok_and(|l| l.name == "x"));
    }
}
