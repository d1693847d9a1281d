//! One Lua VM and the runs of scripts and functions on it.
//!
//! A run: the script's compiled function is called through the sandbox's
//! runner (an `xpcall` whose handler builds Redis's error table with the
//! source and line of the failing script frame); `redis.call` reaches the
//! [`Host`]; the result is converted to a reply. An instruction-count hook
//! fires every [`HOOK_EVERY`] instructions: it reports the run as busy once
//! `busy-reply-threshold` has passed and stops it when killed.
//!
//! Invariants: a run state is active only between the start and the end of
//! one run (`redis.call` outside a run errors as in Redis); the host is
//! handed back to the caller after every run, also when the script fails.

pub(crate) mod api;

use crate::convert::lua_to_reply;
use crate::functions::{FunctionMeta, Libraries};
use crate::sandbox::{self, Sandbox, INTERNAL_SOURCES};
use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, Table, Value, VmState};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::Reply;

/// Instructions between two runs of the hook (Redis uses the same count).
pub const HOOK_EVERY: u32 = 100_000;
/// How long a library's top-level code may run in FUNCTION LOAD.
pub const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
/// The default cap on one VM's memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 1 << 30;

/// What `redis.call` produced.
pub enum CallResult {
    /// The command's reply (an error reply included).
    Reply(Reply),
    /// Stop the whole run: the script touched a key the run cannot reach
    /// before writing anything; the caller re-runs it holding every shard.
    Abort,
}

/// The server side of `redis.call`: runs commands over the data the
/// script holds, with every scripting gate (unknown command, arity,
/// noscript, read-only scripts, OOM) applied.
pub trait Host {
    /// Runs one command.
    fn call(&mut self, argv: Vec<Bytes>) -> CallResult;
    /// `redis.acl_check_cmd`: `None` for an unknown command.
    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool>;
    /// `redis.log`, at Redis's level 0 (debug) to 3 (warning).
    fn log(&mut self, level: u8, msg: &[u8]);
}

/// How a run is watched from outside.
pub struct Watch {
    /// Set by SCRIPT KILL / FUNCTION KILL.
    pub kill: Arc<AtomicBool>,
    /// busy-reply-threshold; `None` or zero for never.
    pub busy_after: Option<Duration>,
    /// Called once when the run passes `busy_after`.
    pub on_busy: Option<Box<dyn FnOnce()>>,
}

impl Watch {
    /// A watch that never fires (tests, SCRIPT LOAD).
    pub fn none() -> Watch {
        Watch {
            kill: Arc::new(AtomicBool::new(false)),
            busy_after: None,
            on_busy: None,
        }
    }
}

/// The end of a run.
#[derive(Debug)]
pub struct RunOutput {
    /// The reply for the client.
    pub reply: Reply,
    /// The run stopped because the host asked for it ([`CallResult::Abort`]).
    pub aborted: bool,
    /// The run was stopped by a kill.
    pub killed: bool,
}

/// Why a run is dying.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Abort {
    Killed,
    Host,
    LoadTimeout,
}

/// A function a library registered while it loaded.
pub(crate) struct Registered {
    pub meta: FunctionMeta,
    pub callback: Function,
}

/// The state the API functions and the hook share with the engine.
pub(crate) struct RunState {
    pub host: Option<Rc<RefCell<dyn Host>>>,
    pub resp3: bool,
    pub abort: Option<Abort>,
    pub kill: Option<Arc<AtomicBool>>,
    pub started: Instant,
    pub busy_after: Option<Duration>,
    pub on_busy: Option<Box<dyn FnOnce()>>,
    /// Set while FUNCTION LOAD runs a library.
    pub loading: Option<Vec<Registered>>,
    /// Redis's rand48 state for math.random.
    pub rand48: u64,
    /// The error table a Rust API function raised (see `api::raise`).
    pub pending: Option<Table>,
}

impl RunState {
    fn new() -> RunState {
        RunState {
            host: None,
            resp3: false,
            abort: None,
            kill: None,
            started: Instant::now(),
            busy_after: None,
            on_busy: None,
            loading: None,
            rand48: 0x1234_ABCD_330E,
            pending: None,
        }
    }
}

/// A Lua VM with the sandbox, compiled scripts and loaded functions.
pub struct Engine {
    lua: Lua,
    sandbox: Sandbox,
    handler: Function,
    state: Rc<RefCell<RunState>>,
    scripts: HashMap<String, Function>,
    scripts_generation: u64,
    functions: HashMap<String, Function>,
    functions_generation: u64,
    runs: u64,
}

impl Engine {
    /// A new VM whose memory is capped at `memory_limit` bytes.
    pub fn new(memory_limit: usize) -> mlua::Result<Engine> {
        let state = Rc::new(RefCell::new(RunState::new()));
        let (lua, sandbox) = sandbox::build(state.clone())?;
        let handler = error_handler(&lua, state.clone())?;
        lua.set_memory_limit(memory_limit)?;
        let hook_state = state.clone();
        // Global: coroutines created by Lua get the hook too (a per-thread
        // hook left an endless loop in a coroutine unkillable).
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_lua, _debug| hook(&hook_state),
        )?;
        Ok(Engine {
            lua,
            sandbox,
            handler,
            state,
            scripts: HashMap::new(),
            scripts_generation: 0,
            functions: HashMap::new(),
            functions_generation: u64::MAX,
            runs: 0,
        })
    }

    /// Bytes the VM uses (INFO's `used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Forgets compiled scripts when the cache was flushed since.
    pub fn sync_scripts(&mut self, generation: u64) {
        if generation != self.scripts_generation {
            self.scripts.clear();
            self.scripts_generation = generation;
        }
    }

    /// Compiles `body` (SCRIPT LOAD, and EVAL's first run) and keeps it
    /// under `sha`. The error is Redis's reply text.
    pub fn compile(&mut self, sha: &str, body: &[u8]) -> Result<(), String> {
        if self.scripts.contains_key(sha) {
            return Ok(());
        }
        let f = compile_chunk(&self.lua, body, "@user_script")
            .map_err(|m| format!("ERR Error compiling script (new function): {m}"))?;
        self.scripts.insert(sha.to_string(), f);
        Ok(())
    }

    /// Runs an EVAL script. `sha` names it in error texts.
    pub fn run_eval(
        &mut self,
        sha: &str,
        body: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
        host: Rc<RefCell<dyn Host>>,
        watch: Watch,
    ) -> RunOutput {
        if let Err(e) = self.compile(sha, body) {
            return done(Reply::error(e));
        }
        let Some(f) = self.scripts.get(sha).cloned() else {
            return done(Reply::error("ERR Error running script"));
        };
        let set = (|| -> mlua::Result<()> {
            self.sandbox
                .backing
                .raw_set("KEYS", string_array(&self.lua, keys)?)?;
            self.sandbox
                .backing
                .raw_set("ARGV", string_array(&self.lua, args)?)?;
            Ok(())
        })();
        if let Err(e) = set {
            return done(Reply::error(format!(
                "ERR Error running script {sha}, {}",
                one_line(&e.to_string())
            )));
        }
        self.run(sha, f, Value::Nil, Value::Nil, host, watch)
    }

    /// Runs function `name` of the loaded libraries (FCALL), loading
    /// them first when the registry changed. The caller has checked that
    /// the function exists.
    pub fn run_function(
        &mut self,
        libraries: &Libraries,
        name: &str,
        keys: &[Bytes],
        args: &[Bytes],
        host: Rc<RefCell<dyn Host>>,
        watch: Watch,
    ) -> RunOutput {
        self.sync_functions(libraries);
        let Some(f) = self.functions.get(&name.to_ascii_lowercase()).cloned() else {
            return done(Reply::error("ERR Function not found"));
        };
        let tables = (|| -> mlua::Result<(Table, Table)> {
            Ok((
                string_array(&self.lua, keys)?,
                string_array(&self.lua, args)?,
            ))
        })();
        match tables {
            Ok((k, a)) => self.run(name, f, Value::Table(k), Value::Table(a), host, watch),
            Err(e) => done(Reply::error(format!(
                "ERR Error running script {name}, {}",
                one_line(&e.to_string())
            ))),
        }
    }

    fn sync_functions(&mut self, libraries: &Libraries) {
        if self.functions_generation == libraries.generation {
            return;
        }
        self.functions.clear();
        for lib in libraries.libs.values() {
            if let Ok(registered) = self.load_code(&lib.code) {
                for r in registered {
                    self.functions
                        .insert(r.meta.name.to_ascii_lowercase(), r.callback);
                }
            }
        }
        self.functions_generation = libraries.generation;
    }

    /// Runs a library's code as FUNCTION LOAD does and returns the
    /// functions it registered. The error is Redis's reply text.
    pub fn load_library(&mut self, code: &[u8]) -> Result<Vec<FunctionMeta>, String> {
        self.load_code(code)
            .map(|v| v.into_iter().map(|r| r.meta).collect())
    }

    fn load_code(&mut self, code: &[u8]) -> Result<Vec<Registered>, String> {
        let f = compile_chunk(&self.lua, code, "@user_function")
            .map_err(|m| format!("ERR Error compiling function: {m}"))?;
        {
            let mut st = self.state.borrow_mut();
            st.loading = Some(Vec::new());
            st.abort = None;
            st.started = Instant::now();
            st.busy_after = None;
            st.kill = None;
        }
        let g = &self.sandbox.globals_meta;
        let _ = g.raw_set("__index", self.sandbox.load_globals.clone());
        let r = self.sandbox.runner.call::<(bool, Value)>((
            f,
            self.handler.clone(),
            Value::Nil,
            Value::Nil,
        ));
        let _ = g.raw_set("__index", self.sandbox.backing.clone());
        let (registered, abort) = {
            let mut st = self.state.borrow_mut();
            (st.loading.take().unwrap_or_default(), st.abort.take())
        };
        let fail = |msg: String| Err(format!("ERR Error registering functions: {msg}"));
        if abort == Some(Abort::LoadTimeout) {
            return fail("FUNCTION LOAD timeout".into());
        }
        match r {
            Ok((true, _)) => {}
            Ok((false, Value::Table(t))) => {
                let msg: String = t.raw_get("err").unwrap_or_default();
                return fail(msg);
            }
            Ok((false, v)) => return fail(format!("ERR {}", value_text(&v))),
            Err(e) => return fail(one_line(&e.to_string())),
        }
        if registered.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(registered)
    }

    fn run(
        &mut self,
        name: &str,
        f: Function,
        a: Value,
        b: Value,
        host: Rc<RefCell<dyn Host>>,
        watch: Watch,
    ) -> RunOutput {
        {
            let mut st = self.state.borrow_mut();
            st.host = Some(host);
            st.resp3 = false;
            st.abort = None;
            st.kill = Some(watch.kill);
            st.started = Instant::now();
            st.busy_after = watch.busy_after.filter(|d| !d.is_zero());
            st.on_busy = watch.on_busy;
        }
        let r = self
            .sandbox
            .runner
            .call::<(bool, Value)>((f, self.handler.clone(), a, b));
        let (resp3, abort) = {
            let mut st = self.state.borrow_mut();
            st.host = None;
            st.kill = None;
            st.on_busy = None;
            st.busy_after = None;
            (st.resp3, st.abort.take())
        };
        let reply = match r {
            Ok((true, v)) => lua_to_reply(&v, resp3),
            Ok((false, Value::Table(t))) => error_reply(name, &t),
            Ok((false, v)) => Reply::error(format!(
                "ERR Error running script {name}, {:.100} ",
                value_text(&v)
            )),
            Err(e) => Reply::error(format!(
                "ERR Error running script {name}, {:.100} ",
                one_line(&e.to_string())
            )),
        };
        self.runs += 1;
        if self.runs.is_multiple_of(50) {
            let _ = self.lua.gc_step();
        }
        if matches!(&reply, Reply::Error(e) if e.contains("not enough memory")) {
            let _ = self.lua.gc_collect();
        }
        RunOutput {
            reply,
            aborted: abort == Some(Abort::Host),
            killed: abort == Some(Abort::Killed),
        }
    }
}

fn done(reply: Reply) -> RunOutput {
    RunOutput {
        reply,
        aborted: false,
        killed: false,
    }
}

/// The hook: busy reporting, kills, FUNCTION LOAD's timeout.
fn hook(state: &Rc<RefCell<RunState>>) -> mlua::Result<VmState> {
    let Ok(mut st) = state.try_borrow_mut() else {
        return Ok(VmState::Continue);
    };
    if st.abort.is_some() {
        return Err(mlua::Error::runtime("script is dying"));
    }
    if st.loading.is_some() {
        if st.started.elapsed() > LOAD_TIMEOUT {
            st.abort = Some(Abort::LoadTimeout);
            return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
        }
        return Ok(VmState::Continue);
    }
    if st.kill.as_ref().is_some_and(|k| k.load(Ordering::Acquire)) {
        st.abort = Some(Abort::Killed);
        return Err(mlua::Error::runtime("killed"));
    }
    if let Some(after) = st.busy_after {
        if st.started.elapsed() >= after {
            st.busy_after = None;
            if let Some(f) = st.on_busy.take() {
                drop(st);
                f();
            }
        }
    }
    Ok(VmState::Continue)
}

/// The xpcall handler: Redis's `__redis__err__handler`. Builds
/// `{err=..., source=..., line=...}` from the error and the first script
/// frame (skipping C functions and the sandbox's own Lua).
fn error_handler(lua: &Lua, state: Rc<RefCell<RunState>>) -> mlua::Result<Function> {
    lua.create_function(move |lua, err: Value| {
        let (abort, pending) = match state.try_borrow_mut() {
            Ok(mut s) => (s.abort, s.pending.take()),
            Err(_) => (None, None),
        };
        let err = match (err, pending) {
            (Value::UserData(_) | Value::Error(_), Some(p)) => Value::Table(p),
            (e, _) => e,
        };
        let t = match (abort, err) {
            (Some(a), _) => {
                let t = lua.create_table()?;
                let msg = match a {
                    Abort::Killed => crate::errors::KILLED,
                    Abort::Host => "ERR script needs every shard",
                    Abort::LoadTimeout => "ERR FUNCTION LOAD timeout",
                };
                t.raw_set("err", msg)?;
                t
            }
            (None, Value::Table(t)) => t,
            (None, other) => {
                let t = lua.create_table()?;
                let mut msg = b"ERR ".to_vec();
                match &other {
                    Value::String(s) => msg.extend_from_slice(&s.as_bytes()),
                    v => msg.extend_from_slice(value_text(v).as_bytes()),
                }
                t.raw_set("err", lua.create_string(&msg)?)?;
                t
            }
        };
        let mut level = 1;
        while let Some((what, source, line)) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (
                s.what,
                s.source.map(|c| c.into_owned()).unwrap_or_default(),
                d.current_line(),
            )
        }) {
            if what != "C" && !INTERNAL_SOURCES.contains(&source.as_str()) {
                t.raw_set("source", source)?;
                if let Some(line) = line {
                    t.raw_set("line", line)?;
                }
                break;
            }
            level += 1;
        }
        Ok(t)
    })
}

/// The reply for a failed run: `-<err> script: <name>, on <source>:<line>.`
fn error_reply(name: &str, t: &Table) -> Reply {
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        Ok(Value::Number(n)) => crate::convert::format_g17(n),
        Ok(Value::Integer(i)) => i.to_string(),
        _ => "(null)".to_string(),
    };
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = match t.raw_get::<Value>("line") {
        Ok(Value::Integer(i)) => Some(i.to_string()),
        Ok(Value::Number(n)) => Some(crate::convert::format_g17(n)),
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        _ => None,
    };
    let mut text = one_line(&msg);
    if let (Some(source), Some(line)) = (source, line) {
        text.push_str(&format!(" script: {name}, on {source}:{line}."));
    }
    Reply::Error(text.into())
}

/// Compiles a chunk in text mode; the error is Lua's message.
fn compile_chunk(lua: &Lua, body: &[u8], name: &str) -> Result<Function, String> {
    // Redis compiles from just after the shebang line, keeping its newline
    // so line numbers stay the same.
    let body = if body.starts_with(b"#!") {
        &body[body.iter().position(|&c| c == b'\n').unwrap_or(body.len())..]
    } else {
        body
    };
    if body.first() == Some(&27) {
        let short = name.trim_start_matches('@');
        return Err(format!("{short}:1: unexpected symbol near 'char(27)'"));
    }
    lua.load(body)
        .set_name(name)
        .set_mode(mlua::chunk::ChunkMode::Text)
        .into_function()
        .map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => message,
            other => other.to_string(),
        })
}

fn string_array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, b) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(b)?)?;
    }
    Ok(t)
}

/// `tostring` of a value, for error texts.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Number(n) => crate::convert::format_g17(*n),
        Value::Integer(i) => i.to_string(),
        Value::Error(e) => e.to_string(),
        other => other.to_string().unwrap_or_else(|_| "?".into()),
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests;
