//! Lua 5.1 scripting for magpie (mlua, vendored Lua 5.1 as Redis bundles).
pub mod libs;
