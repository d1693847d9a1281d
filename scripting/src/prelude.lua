-- magpie's Lua sandbox, run once per VM (chunk "=[magpie]").
-- Receives the raw Rust API; returns the backing globals table, the
-- globals' metatable (its __index is swapped while a library loads), the
-- load-time globals, and the runner.
local api = ...
local G = _G
local rawpcall, rawxpcall, rawset_, rawget_ = pcall, xpcall, rawset, rawget
local setmetatable_, getmetatable_, type_, error_, next_, tostring_, select_, tonumber_ =
    setmetatable, getmetatable, type, error, next, tostring, select, tonumber
local loadstring_, concat, floor, string_ = loadstring, table.concat, math.floor, string
local dying, take_pending = api.dying, api.take_pending

-- The redis table.
local redis = {}
for k, v in next_, api.redis do redis[k] = v end
G.redis = redis

-- pcall returns the message of a Redis error table (Redis 7's luaRedisPcall);
-- a killed or aborted script cannot be caught.
local function after_pcall(ok, ...)
    if ok then return true, ... end
    if dying() then error_((...), 0) end
    local e = ...
    local p = take_pending()
    if p ~= nil and type_(e) == 'userdata' then e = p end
    if type_(e) == 'table' then
        local m = rawget_(e, 'err')
        if type_(m) == 'string' or type_(m) == 'number' then e = m end
    end
    return false, e
end
G.pcall = function(...) return after_pcall(rawpcall(...)) end
local function after_xpcall(ok, ...)
    if not ok then
        if dying() then error_((...), 0) end
        take_pending()
    end
    return ok, ...
end
G.xpcall = function(...) return after_xpcall(rawxpcall(...)) end
local resume = coroutine.resume
coroutine.resume = function(...) return after_xpcall(resume(...)) end

-- Bytecode is refused: it is parsed as text, as Redis's Lua does.
local function binary_error(s, name)
    local id = (name or s):match('^[^%z\n]*')
    return '[string "' .. id .. '"]:1: unexpected symbol near \'char(27)\''
end
G.loadstring = function(s, name)
    if type_(s) == 'string' and s:byte(1) == 27 then
        return nil, binary_error(s, name)
    end
    return loadstring_(s, name)
end
G.load = function(f, name)
    if type_(f) ~= 'function' then
        error_("bad argument #1 to 'load' (function expected, got " .. type_(f) .. ")", 2)
    end
    local parts, n = {}, 0
    while true do
        local p = f()
        if p == nil or p == '' then break end
        if type_(p) ~= 'string' then return nil, 'reader function must return a string' end
        n = n + 1
        parts[n] = p
    end
    local s = concat(parts)
    if s:byte(1) == 27 then return nil, binary_error(s, name or '=(load)') end
    return loadstring_(s, name or '=(load)')
end

-- math.random with Redis's rand48, the same sequence on every platform.
local lrand = api.lrand
local function checkint(i, v)
    local n = tonumber_(v)
    if n == nil then
        error_("bad argument #" .. i .. " to 'random' (number expected, got " ..
            (v == nil and 'no value' or type_(v)) .. ")", 3)
    end
    return n - n % 1
end
math.random = function(...)
    local r = lrand()
    local n = select_('#', ...)
    if n == 0 then return r end
    local a, b = ...
    if n == 1 then
        local u = checkint(1, a)
        if u < 1 then error_("bad argument #1 to 'random' (interval is empty)", 2) end
        return floor(r * u) + 1
    elseif n == 2 then
        local l, u = checkint(1, a), checkint(2, b)
        if l > u then error_("bad argument #2 to 'random' (interval is empty)", 2) end
        return floor(r * (u - l + 1)) + l
    end
    error_('wrong number of arguments', 2)
end
math.randomseed = function(s) api.srand(checkint(1, s)) end

-- Redis 7.4's os table holds only os.clock.
G.os = { clock = os.clock }

-- Only Redis's globals stay.
local allowed = {}
for _, k in next_, { 'string', 'cjson', 'bit', 'cmsgpack', 'math', 'table', 'struct', 'redis',
    'xpcall', 'tostring', 'setmetatable', 'next', 'assert', 'tonumber', 'rawequal',
    'collectgarbage', 'getmetatable', 'rawset', 'pcall', 'coroutine', 'type', '_G', 'select',
    'unpack', 'gcinfo', 'pairs', 'rawget', 'loadstring', 'ipairs', '_VERSION', 'load', 'error',
    'os' } do
    allowed[k] = true
end
local drop = {}
for k in next_, G do
    if not allowed[k] then drop[#drop + 1] = k end
end
for i = 1, #drop do rawset_(G, drop[i], nil) end

-- Read-only tables: every table reachable from the globals is replaced by
-- an empty proxy whose __index is a protected copy.
local protected = setmetatable_({}, { __mode = 'k' })
local function readonly() error_('Attempt to modify a readonly table', 2) end
local function missing(_, k)
    error_("Script attempted to access nonexistent global variable '" .. tostring_(k) .. "'", 2)
end
local seen = {}
local function protect(t)
    local p = seen[t]
    if p then return p end
    local copy = {}
    p = setmetatable_({}, { __index = copy, __newindex = readonly })
    seen[t] = p
    protected[p] = true
    for k, v in next_, t do
        if type_(v) == 'table' then v = protect(v) end
        rawset_(copy, k, v)
    end
    return p
end

G.rawset = function(t, k, v)
    if protected[t] then error_('Attempt to modify a readonly table', 0) end
    return rawset_(t, k, v)
end
G.setmetatable = function(t, m)
    if protected[t] then error_('Attempt to modify a readonly table', 0) end
    return setmetatable_(t, m)
end
G.getmetatable = function(t)
    if protected[t] then return nil end
    return getmetatable_(t)
end

local C = {}
seen[G] = G
for k, v in next_, G do
    if type_(v) == 'table' then v = protect(v) end
    C[k] = v
end
local keys = {}
for k in next_, G do keys[#keys + 1] = k end
for i = 1, #keys do rawset_(G, keys[i], nil) end
setmetatable_(C, { __index = missing })
local gmt = { __index = C, __newindex = readonly }
setmetatable_(G, gmt)
protected[G] = true

-- The string metatable: getmetatable('') gives a read-only view.
local smt = getmetatable_('')
smt.__metatable = protect({ __index = string_ })

-- What a library sees while FUNCTION LOAD runs it.
local lredis = {}
for _, k in next_, { 'log', 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING',
    'REDIS_VERSION', 'REDIS_VERSION_NUM', 'setresp' } do
    lredis[k] = redis[k]
end
lredis.register_function = api.register_function
local lcopy = {}
for k, v in next_, lredis do lcopy[k] = v end
setmetatable_(lcopy, { __index = missing })
local lproxy = setmetatable_({}, { __index = lcopy, __newindex = readonly })
protected[lproxy] = true
local L = setmetatable_({ redis = lproxy }, { __index = missing })

local function first(ok, v) return ok, v end
local function run(f, handler, a, b)
    return first(rawxpcall(function() return f(a, b) end, handler))
end
return C, gmt, L, run
