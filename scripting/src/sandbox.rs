//! The sandbox: a Lua 5.1 state set up exactly as strict as Redis 7's.
//!
//! Invariants (checked by the unit tests in `engine`):
//! - Globals are Redis's list only (plus 7.4's `os` holding `os.clock`):
//!   no io, package, require, loadfile, dofile, debug, print, setfenv,
//!   getfenv, newproxy, module.
//! - The globals table and every table reachable from it (`redis`,
//!   `string`, `math`, ...) are read-only: writes raise "Attempt to modify
//!   a readonly table", also through `rawset` and `setmetatable`. Reading a
//!   missing global raises "Script attempted to access nonexistent global
//!   variable". Each protected table is an empty proxy over a private copy,
//!   so no writable reference to the copy is ever handed out (`getmetatable`
//!   of a proxy is nil; the string metatable shows a read-only view).
//! - Bytecode never loads: `loadstring`/`load` parse it as text (Redis's
//!   error), and scripts are compiled in text mode.
//! - A killed or aborted script cannot be caught by `pcall`, `xpcall` or
//!   `coroutine.resume`: each re-raises while the run is dying.

use crate::engine::{api, RunState};
use mlua::{Function, Lua, LuaOptions, StdLib, Table};
use std::cell::RefCell;
use std::rc::Rc;

/// The Lua sandbox's source (chunk name `=[magpie]`).
const PRELUDE: &str = include_str!("prelude.lua");
/// The chunk name of the prelude: error locations skip its frames.
pub(crate) const INTERNAL_SOURCE: &str = "=[magpie]";
/// Chunks whose frames error locations skip: the prelude, and the
/// `lualibs` branch's shim (`libs::SHIM_CHUNK_NAME`) once merged.
pub(crate) const INTERNAL_SOURCES: &[&str] = &[INTERNAL_SOURCE, "=magpie-libs"];

/// What the prelude hands back.
pub(crate) struct Sandbox {
    /// The private table behind the globals (KEYS and ARGV go here).
    pub backing: Table,
    /// The globals' metatable; its `__index` is `backing`, or the
    /// load-time globals while FUNCTION LOAD runs a library.
    pub globals_meta: Table,
    /// The globals a library sees while it loads.
    pub load_globals: Table,
    /// `run(f, handler, a, b)`: `xpcall` of `f(a, b)`, first result only.
    pub runner: Function,
}

/// Creates a VM with Redis's libraries and sandbox.
pub(crate) fn build(state: Rc<RefCell<RunState>>) -> mlua::Result<(Lua, Sandbox)> {
    let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS;
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    // cjson, cmsgpack, bit and struct register their globals before the
    // prelude makes every global read-only.
    crate::libs::register(&lua)?;
    let api = api::build(&lua, state)?;
    let (backing, globals_meta, load_globals, runner): (Table, Table, Table, Function) =
        lua.load(PRELUDE).set_name(INTERNAL_SOURCE).call(api)?;
    Ok((
        lua,
        Sandbox {
            backing,
            globals_meta,
            load_globals,
            runner,
        },
    ))
}
