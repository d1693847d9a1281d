//! Engine tests: the sandbox, the API, errors, conversions, the hook.

use super::*;
use std::collections::HashMap;

#[derive(Default)]
struct MockHost {
    data: HashMap<Bytes, Bytes>,
    logs: Vec<(u8, Vec<u8>)>,
    abort_on: Option<&'static [u8]>,
}

impl Host for MockHost {
    fn call(&mut self, argv: Vec<Bytes>) -> CallResult {
        let name = argv[0].to_ascii_lowercase();
        if Some(&name[..]) == self.abort_on {
            return CallResult::Abort;
        }
        CallResult::Reply(match (&name[..], argv.len()) {
            (b"ping", 1) => Reply::status("PONG"),
            (b"get", 2) => match self.data.get(&argv[1]) {
                Some(v) => Reply::Bulk(v.clone()),
                None => Reply::Nil,
            },
            (b"set", 3) => {
                self.data.insert(argv[1].clone(), argv[2].clone());
                Reply::Ok
            }
            (b"hgetall", 2) => Reply::Map(vec![(Reply::bulk(b"f"), Reply::bulk(b"v"))]),
            (b"lpush", _) => {
                Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            (b"get" | b"set", _) => Reply::error(format!("ERR {}", crate::errors::WRONG_ARGS)),
            _ => Reply::error(format!("ERR {}", crate::errors::UNKNOWN_CMD)),
        })
    }
    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool> {
        (&argv[0][..] != b"nosuch").then_some(true)
    }
    fn log(&mut self, level: u8, msg: &[u8]) {
        self.logs.push((level, msg.to_vec()));
    }
}

fn eval_with(engine: &mut Engine, body: &str, keys: &[&str], args: &[&str]) -> RunOutput {
    let host: Rc<RefCell<dyn Host>> = Rc::new(RefCell::new(MockHost::default()));
    let sha = crate::sha1hex(body.as_bytes());
    let k: Vec<Bytes> = keys.iter().map(|s| Bytes::from(s.to_string())).collect();
    let a: Vec<Bytes> = args.iter().map(|s| Bytes::from(s.to_string())).collect();
    engine.run_eval(&sha, body.as_bytes(), &k, &a, host, Watch::none())
}

fn eval(body: &str) -> Reply {
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    eval_with(&mut e, body, &[], &[]).reply
}

fn err(body: &str) -> String {
    match eval(body) {
        Reply::Error(e) => {
            // Drop the " script: <sha>, on" part for comparison.
            let sha = crate::sha1hex(body.as_bytes());
            e.replace(&sha, "<sha>")
        }
        other => panic!("expected an error from {body:?}, got {other:?}"),
    }
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::from(s.to_string()))
}

#[test]
fn basic_values() {
    assert_eq!(eval("return 1"), Reply::Int(1));
    assert_eq!(eval("return 3.99"), Reply::Int(3));
    assert_eq!(eval("return 1/0"), Reply::Int(i64::MIN));
    assert_eq!(eval("return 'x'"), bulk("x"));
    assert_eq!(eval("return true"), Reply::Int(1));
    assert_eq!(eval("return false"), Reply::Nil);
    assert_eq!(eval("return nil"), Reply::Nil);
    assert_eq!(
        eval("return {1, 2, nil, 3}"),
        Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
    );
    assert_eq!(eval("return {ok='fine'}"), Reply::status("fine"));
    assert_eq!(eval("return {err='bad thing'}"), Reply::error("bad thing"));
    assert_eq!(eval("return redis.error_reply('x')"), Reply::error("ERR x"));
    assert_eq!(
        eval("return redis.error_reply('MY x')"),
        Reply::error("MY x")
    );
    assert_eq!(eval("return redis.status_reply('x')"), Reply::status("x"));
    assert_eq!(
        eval("return redis.status_reply(1)"),
        Reply::error("ERR wrong number or type of arguments")
    );
    assert_eq!(
        eval("return redis.sha1hex('')"),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(eval("return redis.REDIS_VERSION"), bulk("7.4.0"));
    assert_eq!(eval("return redis.REDIS_VERSION_NUM"), Reply::Int(0x070400));
    assert_eq!(eval("return #KEYS"), Reply::Int(0));
    assert_eq!(eval("return redis.replicate_commands()"), Reply::Int(1));
    assert_eq!(
        eval("redis.setresp(3) return {double=3.5}"),
        Reply::Double(3.5)
    );
    assert_eq!(eval("redis.setresp(3) return true"), Reply::Bool(true));
    assert_eq!(
        eval("return {map={a=1}}"),
        Reply::Map(vec![(bulk("a"), Reply::Int(1))])
    );
    assert_eq!(
        eval("return {big_number='123'}"),
        Reply::BigNumber(Bytes::from("123"))
    );
}

#[test]
fn keys_and_args() {
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    let r = eval_with(
        &mut e,
        "return {KEYS[1], ARGV[1], #ARGV}",
        &["k"],
        &["a", "b"],
    );
    assert_eq!(
        r.reply,
        Reply::Array(vec![bulk("k"), bulk("a"), Reply::Int(2)])
    );
}

#[test]
fn calls() {
    assert_eq!(eval("return redis.call('ping')"), Reply::status("PONG"));
    assert_eq!(
        eval("redis.call('set','k','v') return redis.call('get','k')"),
        bulk("v")
    );
    assert_eq!(eval("return redis.call('get','nokey')"), Reply::Nil);
    assert_eq!(
        eval("return type(redis.call('get','nokey'))"),
        bulk("boolean")
    );
    assert_eq!(
        eval("redis.setresp(3) return type(redis.call('get','nokey'))"),
        bulk("nil")
    );
    assert_eq!(
        eval("return redis.call('hgetall','h')"),
        Reply::Array(vec![bulk("f"), bulk("v")])
    );
    assert_eq!(
        eval("redis.setresp(3) return redis.call('hgetall','h')"),
        Reply::Map(vec![(bulk("f"), bulk("v"))])
    );
    assert_eq!(
        eval("redis.call('set','k', 1.5) return redis.call('get','k')"),
        bulk("1.5")
    );
    assert_eq!(
        eval("redis.call('set','k', 12345678901234567890) return redis.call('get','k')"),
        bulk("1.2345678901234567e+19")
    );
    assert_eq!(
        eval("return redis.pcall('nosuch')"),
        Reply::error("ERR Unknown Redis command called from script")
    );
    assert_eq!(
        eval("local ok, e = pcall(redis.call, 'nosuch') return e"),
        bulk("ERR Unknown Redis command called from script")
    );
    assert_eq!(eval("local ok, e = pcall(error, 'x') return e"), bulk("x"));
}

#[test]
fn error_texts() {
    assert_eq!(
        err("return redis.call('nosuch')"),
        "ERR Unknown Redis command called from script script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("redis.call('lpush','a',1)"),
        "WRONGTYPE Operation against a key holding the wrong kind of value script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("error('boom')"),
        "ERR user_script:1: boom script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("local x = 1\nreturn 'a' .. nil"),
        "ERR user_script:2: attempt to concatenate a nil value script: <sha>, on @user_script:2."
    );
    assert_eq!(
        err("return redis.call()"),
        "ERR Please specify at least one argument for this redis lib call script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("return redis.call('get', {})"),
        "ERR Lua redis lib command arguments must be strings or integers script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("return redis.sha1hex()"),
        "ERR wrong number of arguments script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("return redis.setresp(4)"),
        "ERR RESP version must be 2 or 3. script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("return redis.log(9, 'x')"),
        "ERR Invalid debug level. script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("return redis.set_repl(99)"),
        "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE. script: <sha>, on @user_script:1."
    );
    assert_eq!(
        err("return ("),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
}

#[test]
fn sandbox_escapes() {
    let ro = "Attempt to modify a readonly table";
    assert_eq!(
        err("x = 1"),
        format!("ERR user_script:1: {ro} script: <sha>, on @user_script:1.")
    );
    for body in [
        "redis.foo = 1",
        "string.foo = 1",
        "getmetatable('').__index = 1",
        "redis.call = nil",
        "_G.x = 1",
        "math.random = nil",
    ] {
        assert_eq!(
            err(body),
            format!("ERR user_script:1: {ro} script: <sha>, on @user_script:1."),
            "{body}"
        );
    }
    for body in [
        "rawset(_G, 'a', 1)",
        "setmetatable(_G, nil)",
        "rawset(redis, 'call', 1)",
        "rawset(string, 'x', 1)",
    ] {
        assert_eq!(
            err(body),
            format!("ERR {ro} script: <sha>, on @user_script:1."),
            "{body}"
        );
    }
    for g in [
        "io", "debug", "package", "require", "loadfile", "dofile", "print", "setfenv", "getfenv",
        "newproxy", "module", "x",
    ] {
        assert_eq!(
            err(&format!("return type({g})")),
            format!("ERR user_script:1: Script attempted to access nonexistent global variable '{g}' script: <sha>, on @user_script:1.")
        );
    }
    assert_eq!(eval("return type(os)"), bulk("table"));
    assert_eq!(eval("return os.clock() >= 0"), Reply::Int(1));
    assert_eq!(eval("return type(os.execute)"), bulk("nil"));
    assert_eq!(eval("return getmetatable(_G)"), Reply::Nil);
    assert_eq!(eval("return getmetatable(redis)"), Reply::Nil);
    assert_eq!(eval("return loadstring('return 1')()"), Reply::Int(1));
    assert_eq!(
        eval("return loadstring(string.dump(function() return 1 end))"),
        Reply::Nil
    );
    assert_eq!(
        eval("return type(select(2, loadstring(string.dump(function() return 1 end))))"),
        bulk("string")
    );
    assert_eq!(
        eval("local s = string.dump(function() return 1 end) local i = 0 return load(function() i = i + 1 if i == 1 then return s end end)"),
        Reply::Nil
    );
    // A script's function from loadstring sees the protected globals too.
    assert!(matches!(eval("loadstring('x = 1')()"), Reply::Error(_)));
    // Bytecode as the script itself is refused.
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    let host: Rc<RefCell<dyn Host>> = Rc::new(RefCell::new(MockHost::default()));
    let r = e.run_eval("s", b"\x1bLuaQ\x00", &[], &[], host, Watch::none());
    assert!(matches!(r.reply, Reply::Error(ref m) if m.contains("char(27)")));
    // The metatable of strings cannot be replaced or reached writable.
    assert_eq!(
        eval("return getmetatable('').__index == string"),
        Reply::Int(1)
    );
    assert_eq!(eval("return ('x'):rep(3)"), bulk("xxx"));
}

#[test]
fn random_is_redis_sequence() {
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    // Redis 7.0 right after start-up: 396465, then 840486.
    assert_eq!(
        eval_with(&mut e, "return math.random(1000000)", &[], &[]).reply,
        Reply::Int(396465)
    );
    assert_eq!(
        eval_with(&mut e, "return math.random(1000000)", &[], &[]).reply,
        Reply::Int(840486)
    );
}

#[test]
fn hostile_scripts_end() {
    let mut e = Engine::new(64 << 20).expect("engine");
    // Memory: capped, and the VM is usable afterwards.
    let r = eval_with(&mut e, "return string.rep('x', 1e9)", &[], &[]);
    assert!(
        matches!(r.reply, Reply::Error(ref m) if m.contains("memory")),
        "{r:?}"
    );
    let r = eval_with(
        &mut e,
        "local t = {} for i = 1, 1e8 do t[i] = i end return #t",
        &[],
        &[],
    );
    assert!(
        matches!(r.reply, Reply::Error(ref m) if m.contains("memory")),
        "{r:?}"
    );
    assert_eq!(eval_with(&mut e, "return 1", &[], &[]).reply, Reply::Int(1));
    // Deep recursion: Lua's own stack limit.
    let r = eval_with(
        &mut e,
        "local function f(n) return 1 + f(n) end return f(1)",
        &[],
        &[],
    );
    assert!(
        matches!(r.reply, Reply::Error(ref m) if m.contains("stack overflow")),
        "{r:?}"
    );
    // An infinite loop ends when killed, even under pcall.
    let kill = Arc::new(AtomicBool::new(true));
    let host: Rc<RefCell<dyn Host>> = Rc::new(RefCell::new(MockHost::default()));
    let body = "while true do pcall(function() while true do end end) end";
    let r = e.run_eval(
        "k",
        body.as_bytes(),
        &[],
        &[],
        host,
        Watch {
            kill,
            busy_after: None,
            on_busy: None,
        },
    );
    assert!(r.killed);
    assert!(
        matches!(r.reply, Reply::Error(ref m) if m.starts_with("ERR Script killed by user with SCRIPT KILL...")),
        "{r:?}"
    );
    assert_eq!(eval_with(&mut e, "return 2", &[], &[]).reply, Reply::Int(2));
}

#[test]
fn busy_callback_fires() {
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    let fired = Rc::new(RefCell::new(false));
    let f2 = fired.clone();
    let host: Rc<RefCell<dyn Host>> = Rc::new(RefCell::new(MockHost::default()));
    let body = "local t = os.clock() while os.clock() - t < 0.05 do end return 1";
    let r = e.run_eval(
        "b",
        body.as_bytes(),
        &[],
        &[],
        host,
        Watch {
            kill: Arc::new(AtomicBool::new(false)),
            busy_after: Some(Duration::from_millis(1)),
            on_busy: Some(Box::new(move || *f2.borrow_mut() = true)),
        },
    );
    assert_eq!(r.reply, Reply::Int(1));
    assert!(*fired.borrow());
}

#[test]
fn host_abort_cannot_be_caught() {
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    let host: Rc<RefCell<dyn Host>> = Rc::new(RefCell::new(MockHost {
        abort_on: Some(b"get"),
        ..Default::default()
    }));
    let body = "local ok = pcall(redis.call, 'get', 'x') return redis.pcall('get', 'y')";
    let r = e.run_eval("a", body.as_bytes(), &[], &[], host, Watch::none());
    assert!(r.aborted, "{r:?}");
}

#[test]
fn logs_reach_the_host() {
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    let mock = Rc::new(RefCell::new(MockHost::default()));
    let host: Rc<RefCell<dyn Host>> = mock.clone();
    let body = "redis.log(redis.LOG_WARNING, 'hi', 2) return 1";
    e.run_eval("l", body.as_bytes(), &[], &[], host, Watch::none());
    assert_eq!(mock.borrow().logs, vec![(3, b"hi 2".to_vec())]);
}

#[test]
fn libraries() {
    let mut e = Engine::new(DEFAULT_MEMORY_LIMIT).expect("engine");
    let code = "#!lua name=lib\nredis.register_function('f', function(keys, args) return {keys[1], args[1]} end)\nredis.register_function{function_name='g', callback=function() return redis.call('ping') end, flags={'no-writes'}, description='d'}";
    let metas = e.load_library(code.as_bytes()).expect("loads");
    assert_eq!(metas.len(), 2);
    assert!(metas[1].flags.has(ScriptFlagsAlias::NO_WRITES));
    let mut libs = crate::functions::Libraries::default();
    libs.add(
        crate::functions::Library {
            name: "lib".into(),
            code: Bytes::from(code),
            functions: metas.into_iter().map(|m| (m.name.clone(), m)).collect(),
        },
        false,
    )
    .expect("adds");
    let host: Rc<RefCell<dyn Host>> = Rc::new(RefCell::new(MockHost::default()));
    let r = e.run_function(
        &libs,
        "f",
        &[Bytes::from("k")],
        &[Bytes::from("a")],
        host.clone(),
        Watch::none(),
    );
    assert_eq!(r.reply, Reply::Array(vec![bulk("k"), bulk("a")]));
    let r = e.run_function(&libs, "g", &[], &[], host, Watch::none());
    assert_eq!(r.reply, Reply::status("PONG"));
    for (code, msg) in [
        ("#!lua name=l\nreturn 1", "ERR No functions registered"),
        ("#!lua name=l\nredis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("#!lua name=l\nredis.register_function{function_name='g', callback=function() end, flags={'bad'}}", "ERR Error registering functions: ERR unknown flag given"),
        ("#!lua name=l\nredis.register_function('g')", "ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        ("#!lua name=l\nredis.register_function('g', 1)", "ERR Error registering functions: ERR second argument to redis.register_function must be a function"),
        ("#!lua name=l\nx(", "ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'"),
        ("#!lua name=l\nreturn type(1)", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'type'"),
        ("#!lua name=l\nwhile true do end", "ERR Error registering functions: FUNCTION LOAD timeout"),
    ] {
        assert_eq!(e.load_library(code.as_bytes()), Err(msg.to_string()), "{code}");
    }
    // After a failed load the globals are the runtime ones again.
    assert_eq!(
        eval_with(&mut e, "return type(1)", &[], &[]).reply,
        bulk("number")
    );
}

use crate::shebang::ScriptFlags as ScriptFlagsAlias;
